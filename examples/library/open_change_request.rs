//! Open a pull request (GitHub) or merge request (GitLab) — or update the open one for
//! the same branch, so running it twice never opens two.
//!
//! ```text
//! GITHUB_TOKEN=… cargo run -p upkeep-examples --example open_change_request -- \
//!     https://github.com/example/signals feature/bump main "Bump Django to 5.1"
//! GITLAB_TOKEN=… cargo run -p upkeep-examples --example open_change_request -- \
//!     https://gitlab.com/example/dataportaal feature/bump master "Bump Angular"
//! ```
//!
//! The branch must already be pushed. A local bare repository works too (no token): the
//! local forge records the change request as a JSON file next to it.

#![allow(clippy::print_stdout, clippy::print_stderr)] // an example's output is the point

mod connect;

use std::process::ExitCode;

use upkeep_forge::{ChangeRequestSpec, UpsertAction};

#[tokio::main]
async fn main() -> ExitCode {
    // slack-morphism and the gitlab client are both built in; rustls needs one provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [repo, head, base, title] = args.as_slice() else {
        eprintln!("usage: open_change_request <repo-url> <head-branch> <base-branch> <title>");
        return ExitCode::from(2);
    };
    match run(repo, head, base, title).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(
    repo: &str,
    head: &str,
    base: &str,
    title: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let (forge, id) = connect::forge_for(repo).await?;
    let spec = ChangeRequestSpec {
        head: head.to_owned(),
        base: base.to_owned(),
        title: title.to_owned(),
        body: format!("Opened with the upkeep-forge library example.\n\n`{head}` → `{base}`"),
        labels: vec!["maintenance".to_owned()],
        ..ChangeRequestSpec::default()
    };
    let upserted = forge.upsert_change_request(&id, &spec).await?;
    let done = match upserted.action {
        UpsertAction::Created => "opened",
        UpsertAction::Updated => "updated",
        UpsertAction::Unchanged => "already up to date:",
    };
    let cr = &upserted.change_request;
    println!(
        "{done} {} #{} on {} ({})",
        forge.kind(),
        cr.number,
        id,
        cr.state
    );
    println!("{}", cr.url);
    Ok(())
}

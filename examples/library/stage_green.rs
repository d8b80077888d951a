//! Is stage green? The two checks `move-branches` makes before it moves anything: the CI
//! verdict of a validation repository's branch, and no new unresolved Sentry issues in
//! the `stage` environment.
//!
//! ```text
//! GITHUB_TOKEN=… SENTRY_AUTH_TOKEN=… SENTRY_ORG=example SENTRY_PROJECTS=api,worker \
//!     cargo run -p upkeep-examples --example stage_green -- https://github.com/example/hello-world main
//! ```
//!
//! Without `SENTRY_AUTH_TOKEN` only CI is asked. `SENTRY_URL` (default `https://sentry.io`),
//! `SENTRY_ENVIRONMENT` (default `stage`) and `SINCE_HOURS` (default 24) tune the
//! Sentry question. Exits 0 when green, 1 when not.
#![expect(
    clippy::disallowed_methods,
    reason = "an example program: like a binary, it reads its tokens from the environment"
)]
#![allow(clippy::print_stdout, clippy::print_stderr)] // an example's output is the point

mod connect;

use std::error::Error;
use std::process::ExitCode;
use std::time::Duration;

use secrecy::SecretString;
use upkeep_sentry::{IssueQuery, SentryClient, Window};

#[tokio::main]
async fn main() -> ExitCode {
    // The GitLab client needs a process-wide rustls crypto provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [repo, branch] = args.as_slice() else {
        eprintln!("usage: stage_green <validation-repo-url> <branch>");
        return ExitCode::from(2);
    };
    match run(repo, branch).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(3)
        }
    }
}

async fn run(repo: &str, branch: &str) -> Result<bool, Box<dyn Error>> {
    // CI: every signal the forge has for the branch's tip (statuses, check runs,
    // pipelines), merged. No signal at all is `missing`, never green.
    let (forge, id) = connect::forge_for(repo).await?;
    let tip = forge
        .branch_tip(&id, branch)
        .await?
        .ok_or_else(|| format!("{id} has no branch `{branch}`"))?;
    let ci = forge.ci_verdict(&id, &tip).await?;
    println!("CI of {id} {branch} ({:.12}): {}", ci.sha, ci.verdict);
    for check in &ci.checks {
        println!(
            "  {:?} {} {}",
            check.state,
            check.name,
            check.url.as_deref().unwrap_or("")
        );
    }
    let mut green = ci.verdict.is_success();

    // Sentry: unresolved issues first seen on stage within the window.
    if let Ok(token) = std::env::var("SENTRY_AUTH_TOKEN") {
        let var =
            |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
        let sentry = SentryClient::new(
            &var("SENTRY_URL", "https://sentry.io"),
            &var("SENTRY_ORG", ""),
            SecretString::from(token),
        )?;
        let hours: u64 = var("SINCE_HOURS", "24").parse()?;
        let query = IssueQuery {
            projects: var("SENTRY_PROJECTS", "")
                .split(',')
                .map(str::to_owned)
                .collect(),
            environment: var("SENTRY_ENVIRONMENT", "stage"),
            // Absolute on purpose: the same question gives the same answer when repeated.
            window: Window::ending_at(chrono::Utc::now(), Duration::from_secs(hours * 3600)),
        };
        let verdict = sentry.gate(query, 0).await?;
        println!("{}", verdict.summary());
        for issue in &verdict.issues {
            println!("  {} {} {}", issue.short_id, issue.title, issue.permalink);
        }
        green &= verdict.passed;
    }
    println!("stage is {}", if green { "green" } else { "NOT green" });
    Ok(green)
}

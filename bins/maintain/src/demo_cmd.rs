//! `maintain demo`: the README's "try it".

use std::path::PathBuf;
use std::sync::Arc;

use upkeep_cli::{Exit, GlobalArgs, Output, Report};
use upkeep_maintain::CancellationToken;
use upkeep_maintain::demo::{DemoOutcome, run_demo};

use crate::progress::Display;
use crate::run_cmd::cancel_on_signals;

/// `maintain demo` options.
#[derive(Debug, clap::Args)]
pub(crate) struct DemoArgs {
    /// Build the sample projects here and keep them (default: a temporary directory,
    /// removed afterwards). The directory must be empty or not exist.
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
    /// The round's date (YYYY-MM-DD) [default: today].
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: Option<chrono::NaiveDate>,
}

/// Runs `maintain demo`.
pub(crate) async fn run(global: &GlobalArgs, args: DemoArgs) -> Result<Exit, Report> {
    let (root, _guard) = if let Some(dir) = &args.keep {
        if dir.exists() && fs_err::read_dir(dir).map_or(true, |mut d| d.next().is_some()) {
            return Err(Report::user(NotEmpty(dir.clone()))
                .hint("pass a new directory to --keep, or leave --keep out"));
        }
        fs_err::create_dir_all(dir).map_err(Report::failure)?;
        (std::path::absolute(dir).map_err(Report::failure)?, None)
    } else {
        let tmp = tempfile::Builder::new()
            .prefix("upkeep-demo-")
            .tempdir()
            .map_err(Report::failure)?;
        (tmp.path().to_owned(), Some(tmp))
    };
    let date = args
        .date
        .unwrap_or_else(|| chrono::Local::now().date_naive());
    let display = Arc::new(Display::new(global.quiet || global.output == Output::Json));
    let cancel = CancellationToken::new();
    cancel_on_signals(&cancel);
    let outcome = run_demo(&root, date, display.clone(), cancel)
        .await
        .map_err(|e| Report::failure(e).hint("the demo needs `git` and `make` on PATH"))?;
    display.finish();
    if global.output == Output::Json {
        upkeep_cli::print_json(&outcome.report.to_json()).map_err(Report::failure)?;
    } else {
        print_outcome(&outcome, args.keep.is_some());
    }
    Ok(if outcome.report.interrupted {
        Exit::Interrupted
    } else {
        // The failing sample is part of the show, not a failure of the demo.
        Exit::Success
    })
}

/// A change request's body, indented, with each `<details>` block folded as the forge
/// shows it: its summary line, not its contents.
#[allow(clippy::print_stdout)]
fn print_body(body: &str) {
    let mut folded = 0usize;
    for line in body.trim_end().lines() {
        if folded > 0 {
            if line.trim() == "</details>" {
                println!("    ({} lines folded, as on the forge)", folded - 1);
                println!("    {line}");
                folded = 0;
            } else {
                folded += 1;
            }
            continue;
        }
        println!("    {line}");
        if line.trim_start().starts_with("<summary>") {
            folded = 1;
        }
    }
}

/// `--keep` was given a directory with files in it.
#[derive(Debug, thiserror::Error)]
#[error("{} is not empty", .0.display())]
struct NotEmpty(PathBuf);

#[allow(clippy::print_stdout)] // The demo's output is what it is for.
fn print_outcome(outcome: &DemoOutcome, kept: bool) {
    let rule = |title: &str| {
        println!(
            "\n━━ {title} {}",
            "━".repeat(72usize.saturating_sub(title.chars().count() + 4))
        );
    };
    println!("upkeep demo: a real maintenance round on four sample projects.");
    println!();
    println!("  signals     make upgrade bumps Django 4.2 → 5.1 (a major upgrade); tests pass");
    println!("  webapp      npm: four direct majors and some 140 transitive changes; tests pass");
    println!("  dashboard   already up to date");
    println!("  billing     make upgrade bumps SQLAlchemy 1.4 → 2.0, and make test fails");
    println!();
    println!("Each is a real git repository with a Makefile and a lockfile.");
    println!("upkeep refreshed a clone of each, ran make upgrade, make build and make test,");
    println!("and pushed and opened a change request only where everything passed and");
    println!("something changed. The local forge records change requests as JSON files;");
    println!("the console stands in for Slack.");

    rule("Change requests opened");
    if outcome.change_requests.is_empty() {
        println!("(none)");
    }
    for (project, cr) in &outcome.change_requests {
        println!(
            "\n{project}: #{} {}  ({} → {})",
            cr.number, cr.title, cr.head, cr.base
        );
        println!("{}", cr.url);
        println!();
        print_body(&cr.body);
    }

    rule("What the team sees in the channel");
    println!("{}", outcome.chat.trim_end());

    rule("End-of-run report");
    print!("{}", outcome.report.render_text());

    println!();
    if kept {
        println!("Everything is kept in {}:", outcome.root.display());
        println!("  remotes/      the sample repositories (bare)");
        println!("  upkeep.toml   the configuration the demo used");
        println!("  .upkeep/      clone cache, step logs, the round's state");
        println!(
            "Run it again: maintain --config {} run --round {}",
            outcome.root.join("upkeep.toml").display(),
            outcome.report.round
        );
    } else {
        println!("To look around afterwards: maintain demo --keep ./upkeep-demo");
    }
    println!("To run it on your projects: write an upkeep.toml (docs/configuration.md), then");
    println!("  maintain run --dry-run");
}

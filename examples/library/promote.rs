//! Promote `stable` to `main` in plain git repositories, the way `move-branches run
//! --yes` does — crash safety included: a note of what is about to move is written
//! before the first move, so if this program is killed half-way, the next run records
//! the moves it made in the history before it does its own.
//!
//! ```text
//! cargo run -p upkeep-examples --example promote -- /srv/git/history.git api=/srv/git/api.git web=/srv/git/web.git
//! ```
//!
//! The first argument is the repository holding the history (`move-branches/history.jsonl`
//! on `main`), the others name the repositories to promote; `./promote-state` keeps the
//! clones and the note.

#![allow(clippy::print_stdout, clippy::print_stderr)] // an example's output is the point

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use upkeep_branches::history::HistoryStore;
use upkeep_branches::{ApproveAll, Job, LocalNotes, Outcome, Promotion, RepoSpec, note_key};
use upkeep_forge::RepoId;
use upkeep_forge::local::LocalForge;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let repos: Option<Vec<(&str, &str)>> = args.iter().skip(1).map(|a| a.split_once('=')).collect();
    let (Some(history), Some(repos)) = (args.first(), repos.filter(|r| !r.is_empty())) else {
        eprintln!("usage: promote <history-repo> <name>=<repo>...");
        return ExitCode::from(2);
    };
    match promote(history, &repos, Path::new("promote-state")).await {
        Ok(outcome) => {
            println!("{}", outcome.message);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Promotes `repos` (name and path of a bare repository each), records the run in
/// `history`, and keeps clones and the in-progress note under `state`.
pub(crate) async fn promote(
    history: &str,
    repos: &[(&str, &str)],
    state: &Path,
) -> upkeep_branches::Result<Outcome> {
    let forge = Arc::new(LocalForge::new(state.join("forge")));
    let specs = repos
        .iter()
        .map(|(name, path)| RepoSpec::new(*name, forge.clone(), RepoId::new(*path), *path))
        .collect();
    // What makes it crash safe: the note of a run in progress, keyed by the set of repos.
    let notes = Arc::new(LocalNotes::new(state.join("notes")));
    let key = note_key(repos.iter().map(|(name, _)| *name));
    let mut job = Job::new("example", Arc::new(ApproveAll), notes, key);
    job.history = Some(HistoryStore::new(history, state.join("history")));
    upkeep_branches::promote(&Promotion::new(specs, state.join("cache"), job)).await
}

//! The maintenance round: upgrade, build and test every project, open a change request
//! for what changed, and tell the team.
//!
//! A round is one library call, [`run_round`], on one request, [`Round`]: the selected
//! projects (each with its forge adapter and credentials), the chat adapter, how many
//! run at once, and whether it is a dry-run. Per project the pipeline is:
//!
//! 1. bring the cached clone to the remote base (`upkeep-git`);
//! 2. run `upgrade`, `build` and `test` ([`step`]): `sh -c` in the clone, in their own
//!    process group, with a timeout that kills the group, output in a log file per
//!    project and step;
//! 3. if all passed and the tree changed: diff the lockfiles of base and new tree
//!    (`upkeep-deps`), commit, push the branch of the day with the remote tip we
//!    fetched as the expected old value, and create or update the change request with
//!    the dependency table in its body (`upkeep-forge`);
//! 4. once every project has ended: post the round summary and one thread per project
//!    (`upkeep-chat`).
//!
//! Why it is shaped so:
//! - **Resumable by construction.** A [`journal`] file per round is rewritten
//!   atomically after every project state change; a re-run of the same round skips
//!   finished projects. The journal is not what prevents duplicates, though: the
//!   forge's upsert and the chat's find-or-update do, so losing the journal costs time,
//!   never a second PR or thread.
//! - **Failures stay local.** Each project runs in its own task; a failing step, push
//!   or API call ends that project with a [`journal::Failure`] naming the stage, and the
//!   others go on.
//! - **No printing, no environment.** Progress goes to a [`Progress`] callback (the
//!   binary draws bars from it), results come back as a [`RoundReport`]; the binary
//!   builds the forges, chat and credentials from configuration and environment.

pub mod board;
pub mod demo;
pub mod discover;
pub mod doctor;
pub mod gitdiff;
pub mod journal;
pub mod render;
pub mod report;
mod round;
pub mod step;

pub use journal::{FailedStage, Failure, Journal, ProjectRecord, Stage, Status};
pub use report::{ProjectReport, RoundReport};
pub use round::{
    Event, MissingRepository, NoProgress, Progress, ProjectSetup, Round, branch_name, log_path,
    missing_repository, run_round, select,
};
pub use tokio_util::sync::CancellationToken;

/// What can stop a round as a whole (project failures do not: they are in the report).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `--only` or `--skip` named a project that is not configured.
    #[error("no project named `{name}` in the configuration{}", suggestion.as_ref().map(|s| format!("; did you mean `{s}`?")).unwrap_or_default())]
    UnknownProject {
        /// The name given.
        name: String,
        /// The closest known name.
        suggestion: Option<String>,
        /// Every configured project.
        known: Vec<String>,
    },
    /// The journal could not be read or written.
    #[error(transparent)]
    Journal(#[from] journal::JournalError),
    /// A background task died (a bug).
    #[error("a background task of the round failed: {0}")]
    Task(String),
    /// Another process is running the same round right now.
    #[error("round `{round}` is already running in another process (lock {})", lock.display())]
    RoundBusy {
        /// The round id.
        round: String,
        /// The lock file held by the other process.
        lock: std::path::PathBuf,
    },
    /// The round id cannot name files (it is used in journal and log paths).
    #[error("`{round}` is not a valid round id: use letters, digits, `-`, `_` and `.`")]
    InvalidRoundId {
        /// The id given.
        round: String,
    },
    /// The lock files of the round or of a clone could not be created.
    #[error("cannot lock {}", path.display())]
    Lock {
        /// The lock file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

//! The maintenance round: upgrade, build and test every project, open a change request
//! for what changed, and tell the team.
//!
//! A round is one library call, [`run_round`], on one request, [`Round`]: the selected
//! projects (each with its forge adapter and credentials), this runner's share of them
//! ([`Shard`]), where the round's state lives ([`StateSetup`]), the chat adapter, how many
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
//! 4. as soon as the project ended: post its message (`upkeep-chat`); once every
//!    project of an unsharded run ended, the round summary. A sharded round's summary is
//!    posted by [`report_round`] (`maintain report`) after the shards.
//!
//! Why it is shaped so:
//! - **Resumable by construction, on any runner.** The round's [`journal`] is a record
//!   per project in a [`StateStore`](upkeep_state::StateStore) — files by default, or a
//!   git repository every CI runner reaches — written behind the work and through at
//!   the points a re-run depends on; a re-run of the same round (on any runner) skips
//!   finished projects. The journal is not what prevents duplicates, though: the forge's
//!   upsert and the chat's find-or-update do, so losing it costs time, never a second PR
//!   or message.
//! - **Runners may come and go.** A project is claimed with a lease before it is worked
//!   and the claim is checked before every push, change request and post; a dead
//!   runner's projects are taken over once its lease runs out; a shard whose projects
//!   are all started helps other running shards with projects nobody started.
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
pub use report::{ProjectReport, RoundReport, Unfinished};
pub use round::{
    Event, MissingRepository, NoProgress, Progress, ProjectSetup, ReportRequest, Round, Shard,
    ShardError, StateSetup, branch_name, log_path, missing_repository, report_round, run_round,
    select,
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
    /// The state store has no record of the round (`maintain report` before any run).
    #[error("the state store ({location}) has no round `{round}`")]
    NoRound {
        /// The round id.
        round: String,
        /// The store.
        location: String,
    },
    /// The round id cannot name files (it is used in log paths and state keys).
    #[error("`{round}` is not a valid round id: use letters, digits, `-`, `_` and `.`")]
    InvalidRoundId {
        /// The id given.
        round: String,
    },
    /// The lock file of a clone could not be created.
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

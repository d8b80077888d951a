//! The round journal: what happened to each project, as records in the state store.
//!
//! A round's state lives in a [`StateStore`] (files in a directory by default, or a git
//! repository every CI runner can reach), one record per key so that runners working
//! different projects never write the same record:
//!
//! | key | record |
//! |---|---|
//! | `rounds/<round>/meta` | [`RoundMeta`]: the round's date and its set of projects |
//! | `rounds/<round>/projects/<project>` | [`ProjectRecord`]: what the round did for it |
//! | `rounds/<round>/claims/<project>` | the lease of the runner working it |
//! | `rounds/<round>/summary` | [`SummaryRecord`]: the summary message, once posted |
//! | `rounds/<round>/summary-lease` | the lease of whoever is posting the summary |
//!
//! Every record is written compare-and-swap on the version its writer last saw: a
//! runner whose write conflicts has lost the project to another runner and stops. A
//! crash at any moment leaves every record as it was before or after a write. The whole
//! round is read back with one listing ([`Journal::load`]).
//!
//! The journal is the record of the round and what a re-run resumes from; it is not what
//! prevents duplicates: the forge's upsert and the chat's find-or-update make a re-run
//! safe even when the state was lost.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use upkeep_chat::{Delivery, ThreadRef, UpgradeCounts};
use upkeep_deps::DiffReport;
use upkeep_state::{LeaseState, StateStore};

use crate::step::StepEnd;

/// The format version of a round's records.
pub const FORMAT: u32 = 2;

/// How far a project's pipeline got, in order.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Not started.
    #[default]
    Queued,
    /// Refreshing the cached clone at the remote base.
    Clone,
    /// Running the upgrade step.
    Upgrade,
    /// Running the build step.
    Build,
    /// Running the test step.
    Test,
    /// Diffing the lockfiles.
    Diff,
    /// Committing and pushing the branch.
    Push,
    /// Opening or updating the change request.
    Forge,
    /// Posting the project's thread.
    Chat,
    /// Finished.
    Done,
}

impl Stage {
    /// Lowercase name, as in JSON.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Clone => "clone",
            Self::Upgrade => "upgrade",
            Self::Build => "build",
            Self::Test => "test",
            Self::Diff => "diff",
            Self::Push => "push",
            Self::Forge => "forge",
            Self::Chat => "chat",
            Self::Done => "done",
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a project ended in the round (the `status` of the JSON report).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Upgraded, built and tested; a change request carries the change.
    Changed,
    /// Nothing to upgrade: no branch, no change request.
    Unchanged,
    /// A stage failed; nothing was pushed after it.
    Failed,
    /// Not run this round (`--skip`, or the `:x:` reaction on its thread).
    Skipped,
}

impl Status {
    /// Lowercase name, as in JSON.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Changed => "changed",
            Self::Unchanged => "unchanged",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
        }
    }
}

/// The stage a failure is reported under (the `failed_stage` of the JSON report).
///
/// Preparing the clone counts as `upgrade` (the project could not be brought to the
/// point of upgrading), committing as `push`; the failure's message says exactly what.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailedStage {
    /// The repository's own `.upkeep.toml` is invalid.
    Config,
    /// The clone or the upgrade step.
    Upgrade,
    /// The build step.
    Build,
    /// The test step.
    Test,
    /// Committing or pushing the branch.
    Push,
    /// Opening or updating the change request.
    Forge,
    /// Posting the project's thread.
    Chat,
}

impl FailedStage {
    /// Lowercase name, as in JSON.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Config => "config",
            Self::Upgrade => "upgrade",
            Self::Build => "build",
            Self::Test => "test",
            Self::Push => "push",
            Self::Forge => "forge",
            Self::Chat => "chat",
        }
    }
}

impl std::fmt::Display for FailedStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a project failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The stage it is reported under.
    pub stage: FailedStage,
    /// What failed, for people: `make test exited with 2`, `push rejected: …`.
    pub message: String,
    /// A short cause to group failures by in the report (`exit code 2`, `timed out`,
    /// `push rejected`, `forge unreachable`).
    pub cause: String,
    /// The step's exit code, when a step exited.
    pub exit_code: Option<i32>,
    /// The step's log file, when a step ran.
    pub log: Option<PathBuf>,
    /// The last lines of the step's log (or the error chain).
    pub log_tail: String,
}

/// One step's result as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    /// How it ended.
    pub end: StepEnd,
    /// Its exit code.
    pub exit_code: Option<i32>,
    /// How long it ran.
    pub duration_ms: u64,
    /// Its log file.
    pub log: PathBuf,
}

/// A change request as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeRequestRef {
    /// Web URL.
    pub url: String,
    /// Number (GitHub) or iid (GitLab).
    pub number: u64,
}

/// Everything the journal knows about one project.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectRecord {
    /// The furthest stage reached.
    pub stage: Stage,
    /// How it ended; `None` while running or interrupted.
    pub status: Option<Status>,
    /// Why it failed.
    pub failure: Option<Failure>,
    /// Why it was skipped.
    pub skip_reason: Option<String>,
    /// The base commit the round started from.
    pub base: Option<String>,
    /// The maintenance branch.
    pub branch: Option<String>,
    /// The commit pushed to the branch.
    pub commit: Option<String>,
    /// Whether the branch is on the remote at `commit`.
    pub pushed: bool,
    /// The change request opened or updated.
    pub change_request: Option<ChangeRequestRef>,
    /// The project's thread, once posted.
    pub thread: Option<ThreadRef>,
    /// The project's result changed since its thread was last posted.
    #[serde(default)]
    pub chat_pending: bool,
    /// Upgrade counts per kind.
    pub upgrades: UpgradeCounts,
    /// The dependency diff (kept so the round summary can be rebuilt on a re-run).
    pub diff: Option<DiffReport>,
    /// Each step that ran, by name.
    pub steps: BTreeMap<String, StepRecord>,
    /// Wall time of the project's pipeline.
    pub duration_ms: u64,
    /// The runner that worked it last (`shard-2/4@host~…#pid-…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner: Option<String>,
    /// When this project's last attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
}

impl ProjectRecord {
    /// Whether the pipeline reached an end (changed, unchanged, failed or skipped).
    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.status.is_some()
    }

    /// Whether the project's thread still has to be posted or brought up to date.
    #[must_use]
    pub fn needs_chat(&self) -> bool {
        self.status.is_some() && (self.chat_pending || self.thread.is_none())
    }
}

/// `rounds/<round>/meta`: the round as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundMeta {
    /// Format version of the round's records.
    pub version: u32,
    /// The round id.
    pub round: String,
    /// The round's date (fills the branch pattern and templates), fixed by its first run.
    pub date: NaiveDate,
    /// Every project of the round, in configuration order: the set resolved when the
    /// round first ran, grown by later runs whose configuration has more.
    pub projects: Vec<String>,
    /// How many shards the round is split into, when it is (`--shard I/N`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shards: Option<u32>,
    /// When the first run started the round.
    pub created_at: DateTime<Utc>,
}

/// `rounds/<round>/summary`: the round's summary message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryRecord {
    /// Where it was posted.
    pub delivery: Delivery,
    /// A digest of the summary's content as posted: the same content is not sent again.
    pub digest: String,
    /// When it was posted or last updated.
    pub posted_at: DateTime<Utc>,
    /// Who posted it (a runner, or `report`).
    pub by: String,
}

/// The journal of one round: every record of the round, read at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Journal {
    /// The round id.
    pub round: String,
    /// The round's meta record (every run writes it before anything else).
    pub meta: Option<RoundMeta>,
    /// The round summary message, once posted.
    pub summary: Option<SummaryRecord>,
    /// Per project, by name.
    pub projects: BTreeMap<String, ProjectRecord>,
    /// The claims (leases) on projects, by name: who works or worked each.
    pub claims: BTreeMap<String, LeaseState>,
}

impl Journal {
    /// An empty journal for a round.
    #[must_use]
    pub fn new(round: impl Into<String>) -> Self {
        Self {
            round: round.into(),
            meta: None,
            summary: None,
            projects: BTreeMap::new(),
            claims: BTreeMap::new(),
        }
    }

    /// The round's date, as its meta record says.
    #[must_use]
    pub fn date(&self) -> Option<NaiveDate> {
        self.meta.as_ref().map(|m| m.date)
    }

    /// Reads every record of `round` from `store` with one listing; `Ok(None)` when the
    /// round has none yet.
    pub fn load(store: &dyn StateStore, round: &str) -> Result<Option<Self>, JournalError> {
        let prefix = keys::round(round)?;
        let records = store
            .list(&prefix)
            .map_err(|e| JournalError::store(store, format!("read round {round}"), e))?;
        if records.is_empty() {
            return Ok(None);
        }
        let mut journal = Self::new(round);
        for record in records {
            let segments = record.key.segments();
            let parse = |source| JournalError::Parse {
                key: record.key.to_string(),
                location: store.location(),
                source,
            };
            match segments.get(2..).unwrap_or_default() {
                [meta] if meta == "meta" => {
                    journal.meta = Some(serde_json::from_slice(&record.value).map_err(parse)?);
                }
                [summary] if summary == "summary" => {
                    journal.summary = Some(serde_json::from_slice(&record.value).map_err(parse)?);
                }
                [kind, name] if kind == "projects" => {
                    let value = serde_json::from_slice(&record.value).map_err(parse)?;
                    journal.projects.insert(name.clone(), value);
                }
                [kind, name] if kind == "claims" => {
                    let value = serde_json::from_slice(&record.value).map_err(parse)?;
                    journal.claims.insert(name.clone(), value);
                }
                // The summary's lease is read where it is used.
                _ => {}
            }
        }
        Ok(Some(journal))
    }
}

/// The keys of a round's records (see the [module docs](self)).
pub mod keys {
    use upkeep_state::Key;

    use super::JournalError;

    fn key<const N: usize>(segments: [&str; N]) -> Result<Key, JournalError> {
        Key::from_segments(segments).map_err(|e| JournalError::Key {
            detail: e.to_string(),
        })
    }

    /// `rounds/<round>`: the prefix of every record of the round.
    pub fn round(round: &str) -> Result<Key, JournalError> {
        key(["rounds", round])
    }

    /// `rounds/<round>/meta`.
    pub fn meta(round: &str) -> Result<Key, JournalError> {
        key(["rounds", round, "meta"])
    }

    /// `rounds/<round>/projects/<project>`.
    pub fn project(round: &str, project: &str) -> Result<Key, JournalError> {
        key(["rounds", round, "projects", project])
    }

    /// `rounds/<round>/claims/<project>`.
    pub fn claim(round: &str, project: &str) -> Result<Key, JournalError> {
        key(["rounds", round, "claims", project])
    }

    /// `rounds/<round>/summary`.
    pub fn summary(round: &str) -> Result<Key, JournalError> {
        key(["rounds", round, "summary"])
    }

    /// `rounds/<round>/summary-lease`.
    pub fn summary_lease(round: &str) -> Result<Key, JournalError> {
        key(["rounds", round, "summary-lease"])
    }
}

/// Reading or writing the round's records failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// The state store failed (after its own retries of transient failures).
    #[error("cannot {doing} in the state store ({location})")]
    Store {
        /// What was being done (`write rounds/r1/projects/api`).
        doing: String,
        /// The store ([`StateStore::location`]), without credentials.
        location: String,
        /// Why.
        #[source]
        source: Box<upkeep_state::Error>,
    },
    /// A record is not what this version of upkeep writes.
    #[error(
        "the record {key} in {location} is damaged; delete it to start that part of the round afresh"
    )]
    Parse {
        /// The record's key.
        key: String,
        /// The store.
        location: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// A name cannot be made into a key.
    #[error("cannot name a state record: {detail}")]
    Key {
        /// Why.
        detail: String,
    },
    /// A background task writing the state died (a bug).
    #[error("a task writing the round's state failed: {detail}")]
    Task {
        /// The task's failure.
        detail: String,
    },
}

impl JournalError {
    /// A [`JournalError::Store`] for `doing` on `store`.
    pub(crate) fn store(
        store: &dyn StateStore,
        doing: impl Into<String>,
        source: upkeep_state::Error,
    ) -> Self {
        Self::Store {
            doing: doing.into(),
            location: store.location(),
            source: Box::new(source),
        }
    }

    /// Whether trying again later might work (the store was unreachable or contended).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Store { source, .. } if source.is_transient())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use upkeep_state::{Expected, LocalStore, StateStoreExt as _};

    #[test]
    fn a_round_is_read_back_with_one_listing() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStore::open(tmp.path()).unwrap();
        assert!(Journal::load(&store, "2026-11-22").unwrap().is_none());
        let meta = RoundMeta {
            version: FORMAT,
            round: "2026-11-22".into(),
            date: NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(),
            projects: vec!["api".into(), "group/web".into()],
            shards: Some(4),
            created_at: Utc::now(),
        };
        let created = |cas: upkeep_state::Cas<upkeep_state::Record>| assert!(cas.is_done());
        created(
            store
                .write_json(&keys::meta("2026-11-22").unwrap(), &Expected::Absent, &meta)
                .unwrap(),
        );
        let record = ProjectRecord {
            stage: Stage::Test,
            runner: Some("shard-1/4@host#1-a".into()),
            ..ProjectRecord::default()
        };
        for key in [
            keys::project("2026-11-22", "group/web").unwrap(),
            // Another round's records are not this round's.
            keys::project("2026-11-2", "api").unwrap(),
        ] {
            created(store.write_json(&key, &Expected::Absent, &record).unwrap());
        }
        let j = Journal::load(&store, "2026-11-22").unwrap().unwrap();
        assert_eq!(j.meta.as_ref(), Some(&meta));
        assert_eq!(j.projects.len(), 1);
        assert_eq!(j.projects["group/web"], record);
        assert!(j.summary.is_none());
        assert!(j.claims.is_empty());
        assert_eq!(
            keys::project("r", "group/web").unwrap().as_str(),
            "rounds/r/projects/group%2Fweb"
        );
    }

    #[test]
    fn a_damaged_record_names_its_key() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStore::open(tmp.path()).unwrap();
        store
            .write(
                &keys::project("r1", "api").unwrap(),
                &Expected::Absent,
                b"{not json",
            )
            .unwrap()
            .done()
            .unwrap();
        let err = Journal::load(&store, "r1").unwrap_err();
        assert!(err.to_string().contains("rounds/r1/projects/api"), "{err}");
        assert!(err.to_string().contains("damaged"), "{err}");
    }
}

//! The round journal: what happened to each project, on disk after every change.
//!
//! One JSON file per round (`<journal dir>/<round id>.json`), rewritten atomically
//! (temporary file, fsync, rename) after every project state change, so that a crash or
//! Ctrl-C at any moment leaves either the previous or the next complete journal, never
//! half of one. A re-run of the same round reads it to skip finished projects.
//!
//! The journal is an optimisation and a record, not the source of truth for
//! idempotence: the forge's upsert and the chat's find-or-update make a re-run safe
//! even when the journal was lost.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use upkeep_chat::{Delivery, ThreadRef, UpgradeCounts};
use upkeep_deps::DiffReport;

use crate::step::StepEnd;

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

/// The journal of one round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    /// Format version of this file.
    pub version: u32,
    /// The round id.
    pub round: String,
    /// The round's date (fills the branch pattern and templates).
    pub date: NaiveDate,
    /// The round summary message, once posted.
    pub summary: Option<Delivery>,
    /// Per project, by name.
    pub projects: BTreeMap<String, ProjectRecord>,
    /// When the journal was last written.
    pub updated_at: DateTime<Utc>,
}

impl Journal {
    /// An empty journal for a round.
    #[must_use]
    pub fn new(round: impl Into<String>, date: NaiveDate) -> Self {
        Self {
            version: 1,
            round: round.into(),
            date,
            summary: None,
            projects: BTreeMap::new(),
            updated_at: Utc::now(),
        }
    }
}

/// Reading or writing a journal failed.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The file could not be read.
    #[error("cannot read the round journal {path}")]
    Read {
        /// The journal file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a journal.
    #[error("the round journal {path} is damaged; move it away to start the round afresh")]
    Parse {
        /// The journal file.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The file could not be written.
    #[error("cannot write the round journal {path}")]
    Write {
        /// The journal file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The journal file of `round` in `dir`.
#[must_use]
pub fn journal_path(dir: &Path, round: &str) -> PathBuf {
    dir.join(format!("{round}.json"))
}

/// Reads a journal; `Ok(None)` when there is none yet.
pub fn load(path: &Path) -> Result<Option<Journal>, JournalError> {
    let text = match std::fs::read(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(JournalError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    serde_json::from_slice(&text)
        .map(Some)
        .map_err(|source| JournalError::Parse {
            path: path.to_owned(),
            source,
        })
}

/// Writes a journal atomically: a temporary file beside it, fsync, rename.
pub fn save(path: &Path, journal: &Journal) -> Result<(), JournalError> {
    use std::io::Write as _;
    let err = |source| JournalError::Write {
        path: path.to_owned(),
        source,
    };
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir).map_err(err)?;
    let json = serde_json::to_vec_pretty(journal).map_err(|e| err(std::io::Error::other(e)))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
    tmp.write_all(&json).map_err(err)?;
    tmp.write_all(b"\n").map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

/// A journal shared by the concurrent pipelines of a round: every update is applied in
/// memory and written to disk before the next one starts.
#[derive(Debug)]
pub struct JournalStore {
    path: Option<PathBuf>,
    journal: tokio::sync::Mutex<Journal>,
}

impl JournalStore {
    /// A store writing to `path`; `None` keeps it in memory only (dry-runs).
    #[must_use]
    pub fn new(path: Option<PathBuf>, journal: Journal) -> Self {
        Self {
            path,
            journal: tokio::sync::Mutex::new(journal),
        }
    }

    /// The journal file, if any.
    #[must_use]
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// A copy of the journal as it is now.
    pub async fn snapshot(&self) -> Journal {
        self.journal.lock().await.clone()
    }

    /// A copy of one project's record.
    pub async fn project(&self, name: &str) -> ProjectRecord {
        self.journal
            .lock()
            .await
            .projects
            .get(name)
            .cloned()
            .unwrap_or_default()
    }

    /// Applies `change` to the project's record and writes the journal.
    pub async fn update_project(
        &self,
        name: &str,
        change: impl FnOnce(&mut ProjectRecord),
    ) -> Result<(), JournalError> {
        self.update(|j| change(j.projects.entry(name.to_owned()).or_default()))
            .await
    }

    /// Applies `change` to the journal and writes it.
    pub async fn update(&self, change: impl FnOnce(&mut Journal)) -> Result<(), JournalError> {
        let mut journal = self.journal.lock().await;
        change(&mut journal);
        journal.updated_at = Utc::now();
        if let Some(path) = &self.path {
            let (path, copy) = (path.clone(), journal.clone());
            // Written while the lock is held so that writes land in update order.
            tokio::task::spawn_blocking(move || save(&path, &copy))
                .await
                .map_err(|e| JournalError::Write {
                    path: self.path.clone().unwrap_or_default(),
                    source: std::io::Error::other(e),
                })??;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn store_writes_every_update_and_reloads() {
        let tmp = tempfile::tempdir().unwrap();
        let path = journal_path(tmp.path(), "2026-11-22");
        let date = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        let store = JournalStore::new(Some(path.clone()), Journal::new("2026-11-22", date));
        store
            .update_project("signals", |p| {
                p.stage = Stage::Test;
            })
            .await
            .unwrap();
        let on_disk = load(&path).unwrap().unwrap();
        assert_eq!(on_disk.projects["signals"].stage, Stage::Test);
        assert!(!on_disk.projects["signals"].is_finished());
        store
            .update_project("signals", |p| {
                p.stage = Stage::Done;
                p.status = Some(Status::Unchanged);
                p.chat_pending = true;
            })
            .await
            .unwrap();
        let on_disk = load(&path).unwrap().unwrap();
        assert!(on_disk.projects["signals"].is_finished());
        assert!(on_disk.projects["signals"].needs_chat());
        // No temporary files are left beside it.
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
    }

    #[test]
    fn missing_journal_is_none_and_garbage_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("r.json");
        assert!(load(&path).unwrap().is_none());
        std::fs::write(&path, "{not json").unwrap();
        let err = load(&path).unwrap_err();
        assert!(err.to_string().contains("damaged"), "{err}");
    }
}

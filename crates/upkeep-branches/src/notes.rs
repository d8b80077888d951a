//! The note of a run in progress: what a run is about to apply, written before its first
//! move and removed once its result is in the history. A run killed in between leaves
//! it behind; the next run reads the targets as they are, records the moves the killed
//! run made ([`reconcile`]), and only then does its own work. So every move is in the
//! history, and no entry claims a move that did not happen.
//!
//! Where notes live is a [`NoteStore`]: [`LocalNotes`] keeps them in a directory (the
//! embedded default); [`StateNotes`] keeps them in an [`upkeep_state::StateStore`] — a
//! git repository every throwaway CI runner can reach, so a run killed with its runner
//! is recovered by the next run on a fresh one. Notes are keyed by the set of repos promoted together ([`note_key`]), so runs
//! of one configuration find each other's notes whatever they `--skip`.

use std::fmt::Write as _;

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use sha2::{Digest as _, Sha256};
use upkeep_state::{Cas, Key, StateStore, StateStoreExt as _};

use crate::apply::{RepoOutcome, RepoResult, RunResult};
use crate::history::{History, HistoryEntry};
use crate::plan::Plan;
use crate::{Error, Result};

/// Where the notes of runs in progress are kept, by key. Implementations must make a
/// saved note whole or absent (never half-written) and durable once `save` returns.
#[async_trait]
pub trait NoteStore: Send + Sync {
    /// The note saved under `key`, if there is one. A note that exists but cannot be
    /// parsed is [`Error::NoteUnreadable`] (the job warns, and removes it).
    async fn load(&self, key: &str) -> Result<Option<HistoryEntry>>;

    /// Saves `note` under `key`, replacing any note there.
    async fn save(&self, key: &str, note: &HistoryEntry) -> Result<()>;

    /// Removes the note under `key`; removing a note that is not there is fine.
    async fn clear(&self, key: &str) -> Result<()>;
}

/// The key for the notes of a set of repos: `promotion-` and 12 hex digits of a hash of
/// their sorted names. Give it every repo of the configuration, not only the ones a run
/// selects, so that every run of one configuration uses the same note.
#[must_use]
pub fn note_key<'a>(repos: impl IntoIterator<Item = &'a str>) -> String {
    let mut names: Vec<&str> = repos.into_iter().collect();
    names.sort_unstable();
    names.dedup();
    let hash = Sha256::digest(names.join("\n").as_bytes());
    hash.iter()
        .take(6)
        .fold(String::from("promotion-"), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Notes as files in a directory, one per key, written to a temporary file,
/// flushed to disk and renamed over the note, so a note is whole or absent even when
/// the machine loses power.
#[derive(Debug, Clone)]
pub struct LocalNotes {
    dir: PathBuf,
}

impl LocalNotes {
    /// Notes in `dir` (created when the first note is saved).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The file of the note under `key`: a safe file name for any key (see
    /// [`upkeep_git::cache_dir_name`]), `<dir>/promotion-0a1b2c3d4e5f-89abcdef.json`.
    #[must_use]
    pub fn path(&self, key: &str) -> PathBuf {
        self.dir
            .join(format!("{}.json", upkeep_git::cache_dir_name(key)))
    }

    fn error(
        key: &str,
        doing: String,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Error {
        Error::Note {
            key: key.to_owned(),
            doing,
            source: source.into(),
        }
    }
}

#[async_trait]
impl NoteStore for LocalNotes {
    async fn load(&self, key: &str) -> Result<Option<HistoryEntry>> {
        let path = self.path(key);
        let bytes = match fs_err::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Self::error(key, format!("read {}", path.display()), e)),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::NoteUnreadable {
                key: key.to_owned(),
                place: path.display().to_string(),
                message: e.to_string(),
            })
    }

    async fn save(&self, key: &str, note: &HistoryEntry) -> Result<()> {
        let path = self.path(key);
        let json = serde_json::to_vec_pretty(note)
            .map_err(|e| Self::error(key, "serialise".to_owned(), e))?;
        upkeep_fs::write_atomic(&path, &json)
            .map_err(|e| Self::error(key, format!("write {}", path.display()), e))
    }

    async fn clear(&self, key: &str) -> Result<()> {
        let path = self.path(key);
        match fs_err::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Self::error(key, format!("remove {}", path.display()), e)),
        }
    }
}

/// Notes in a shared [`StateStore`], under `branches/<key>/in-progress` (see the key
/// layout in [`upkeep_state`]): with a [`GitStore`](upkeep_state::GitStore), one ref
/// per note in a repository every runner can push to. Saving replaces the note
/// compare-and-swap on what is there, and a lost push answer is settled by the store
/// reading the ref again, so a note is whole or absent on every runner.
#[derive(Debug, Clone)]
pub struct StateNotes {
    store: Arc<dyn StateStore>,
}

/// How often [`StateNotes::clear`] retries when the note changed under it (another run
/// of the same configuration saved one in between).
const CLEAR_ATTEMPTS: u32 = 5;

impl StateNotes {
    /// Notes in `store`.
    pub fn new(store: Arc<dyn StateStore>) -> Self {
        Self { store }
    }

    /// The store key of the note under `key`.
    pub fn store_key(key: &str) -> Result<Key> {
        Key::from_segments(["branches", key, "in-progress"])
            .map_err(|e| Self::error(key, "name its record".to_owned(), e))
    }

    fn error(key: &str, doing: String, source: upkeep_state::Error) -> Error {
        Error::Note {
            key: key.to_owned(),
            doing,
            source: Box::new(source),
        }
    }

    /// Runs `call` on the blocking pool: the git store talks to a remote.
    async fn blocking<T: Send + 'static>(
        &self,
        key: &str,
        call: impl FnOnce(&dyn StateStore) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || call(store.as_ref()))
            .await
            .map_err(|e| Error::Note {
                key: key.to_owned(),
                doing: "finish its store call".to_owned(),
                source: Box::new(e),
            })?
    }
}

#[async_trait]
impl NoteStore for StateNotes {
    async fn load(&self, key: &str) -> Result<Option<HistoryEntry>> {
        let store_key = Self::store_key(key)?;
        let owned = key.to_owned();
        self.blocking(key, move |store| {
            let place = format!("{store_key} in {}", store.location());
            let Some(record) = store
                .read(&store_key)
                .map_err(|e| Self::error(&owned, format!("read {place}"), e))?
            else {
                return Ok(None);
            };
            serde_json::from_slice(&record.value)
                .map(Some)
                .map_err(|e| Error::NoteUnreadable {
                    key: owned,
                    place,
                    message: e.to_string(),
                })
        })
        .await
    }

    async fn save(&self, key: &str, note: &HistoryEntry) -> Result<()> {
        let store_key = Self::store_key(key)?;
        let json = serde_json::to_vec_pretty(note).map_err(|e| Error::Note {
            key: key.to_owned(),
            doing: "serialise".to_owned(),
            source: Box::new(e),
        })?;
        let owned = key.to_owned();
        self.blocking(key, move |store| {
            store
                .update(&store_key, |_| Ok(Some(json.clone())))
                .map(drop)
                .map_err(|e| {
                    let place = format!("{store_key} in {}", store.location());
                    Self::error(&owned, format!("write {place}"), e)
                })
        })
        .await
    }

    async fn clear(&self, key: &str) -> Result<()> {
        let store_key = Self::store_key(key)?;
        let owned = key.to_owned();
        self.blocking(key, move |store| {
            let place = format!("{store_key} in {}", store.location());
            let fail = |e| Self::error(&owned, format!("remove {place}"), e);
            let mut current = store.read(&store_key).map_err(fail)?;
            for _ in 0..CLEAR_ATTEMPTS {
                let Some(record) = current else {
                    return Ok(());
                };
                match store.delete(&store_key, &record.version).map_err(fail)? {
                    Cas::Done(()) => return Ok(()),
                    Cas::Conflict { current: newer } => current = newer,
                }
            }
            Err(fail(upkeep_state::Error::Contended {
                key: store_key.to_string(),
                attempts: CLEAR_ATTEMPTS,
            }))
        })
        .await
    }
}

/// What [`reconcile`] found in a note left by a killed run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconciled {
    /// The history entry to record for the killed run: its moves as the targets show
    /// them. `None` when there is nothing to add (its result is recorded already, or
    /// every move it noted is claimed by an entry).
    pub entry: Option<HistoryEntry>,
    /// What is left of the note: repos this run does not plan (left out with `--skip`),
    /// which a later run that plans them will judge. `None` when nothing is left.
    pub rest: Option<HistoryEntry>,
}

/// Judges the `note` a killed run left against the targets as `plan` found them, and
/// the `history`: a target at a noted repo's planned commit was moved by that run
/// (recorded as `moved`), any other target was not (recorded as failed, "the run was
/// interrupted"). A move some entry of the history already claims is not claimed again,
/// and a note whose run recorded its result is dropped. `by` is who records it.
#[must_use]
pub fn reconcile(note: &HistoryEntry, plan: &Plan, history: &History, by: &str) -> Reconciled {
    let recorded = history
        .entries
        .iter()
        .any(|e| e.digest == note.digest && e.when >= note.when && e.result != RunResult::Started);
    if recorded {
        return Reconciled {
            entry: None,
            rest: None,
        };
    }
    let claimed = |r: &RepoResult| {
        history.entries.iter().flat_map(|e| &e.repos).any(|h| {
            h.outcome == RepoOutcome::Moved && h.name == r.name && h.from == r.from && h.to == r.to
        })
    };
    let mut judged = Vec::new();
    let mut rest = Vec::new();
    for r in note.repos.iter().filter(|r| !claimed(r)) {
        let Some(now) = plan.repo(&r.name) else {
            rest.push(r.clone());
            continue;
        };
        let outcome = if now.from == r.to {
            RepoOutcome::Moved
        } else {
            RepoOutcome::Failed {
                error: "not moved: the run was interrupted".to_owned(),
            }
        };
        judged.push(RepoResult {
            outcome,
            ..r.clone()
        });
    }
    let moved = judged
        .iter()
        .filter(|r| r.outcome == RepoOutcome::Moved)
        .count();
    let result = match moved {
        0 => RunResult::Failed,
        n if n == judged.len() => RunResult::Success,
        _ => RunResult::Partial,
    };
    let entry = (!judged.is_empty()).then(|| HistoryEntry {
        when: Utc::now(),
        result,
        repos: judged,
        message: Some(format!(
            "recorded by {by} after this run was interrupted before recording its result"
        )),
        ..note.clone()
    });
    let rest = (!rest.is_empty()).then(|| HistoryEntry {
        repos: rest,
        ..note.clone()
    });
    Reconciled { entry, rest }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Command, SCHEMA};
    use crate::plan::RepoPlan;

    fn result(name: &str, from: &str, to: &str, outcome: RepoOutcome) -> RepoResult {
        RepoResult {
            name: name.into(),
            target: "stable".into(),
            from: from.into(),
            to: to.into(),
            outcome,
            wait: None,
            tag: None,
        }
    }

    fn note(repos: Vec<RepoResult>) -> HistoryEntry {
        HistoryEntry {
            schema: SCHEMA,
            command: Command::Run,
            who: "ann".into(),
            when: Utc::now() - chrono::Duration::minutes(5),
            digest: "0123456789ab".into(),
            result: RunResult::Started,
            repos,
            gates: vec![],
            fencing: Some(3),
            message: None,
            approval: None,
        }
    }

    fn plan_at(tips: &[(&str, &str)]) -> Plan {
        let repos = tips
            .iter()
            .map(|(name, from)| RepoPlan {
                name: (*name).into(),
                repo: format!("/srv/{name}"),
                source: "main".into(),
                target: "stable".into(),
                source_tip: "f".repeat(40),
                from: (*from).into(),
                to: "f".repeat(40),
                requested: None,
                commits: vec![],
                tag: None,
                depends_on: vec![],
                blocked: None,
            })
            .collect();
        Plan {
            digest: "x".into(),
            levels: vec![],
            repos,
            skipped: vec![],
        }
    }

    #[test]
    fn moves_are_read_off_the_targets_and_skipped_repos_stay_in_the_note() {
        let n = note(vec![
            result("a", "a1", "a2", RepoOutcome::Planned),
            result("b", "b1", "b2", RepoOutcome::Planned),
            result("c", "c1", "c2", RepoOutcome::Planned),
        ]);
        // a moved, b did not, c is not planned by this run.
        let r = reconcile(
            &n,
            &plan_at(&[("a", "a2"), ("b", "b1")]),
            &History::default(),
            "bob",
        );
        let entry = r.entry.unwrap();
        assert_eq!(entry.result, RunResult::Partial);
        assert_eq!(entry.fencing, Some(3));
        assert_eq!(entry.who, "ann");
        assert_eq!(entry.repos[0].outcome, RepoOutcome::Moved);
        assert!(matches!(entry.repos[1].outcome, RepoOutcome::Failed { .. }));
        assert!(entry.message.unwrap().contains("recorded by bob"));
        let rest = r.rest.unwrap();
        assert_eq!(rest.repos.len(), 1);
        assert_eq!(rest.repos[0].name, "c");
        assert_eq!(rest.result, RunResult::Started);
    }

    #[test]
    fn claimed_moves_and_recorded_runs_are_not_recorded_again() {
        let n = note(vec![result("a", "a1", "a2", RepoOutcome::Planned)]);
        let plan = plan_at(&[("a", "a2")]);
        let mut claimed = note(vec![result("a", "a1", "a2", RepoOutcome::Moved)]);
        claimed.digest = "other".into();
        claimed.result = RunResult::Success;
        let r = reconcile(
            &n,
            &plan,
            &History {
                entries: vec![claimed],
            },
            "bob",
        );
        assert_eq!(
            r,
            Reconciled {
                entry: None,
                rest: None
            }
        );

        let mut done = note(vec![]);
        done.result = RunResult::Success;
        done.when = Utc::now();
        let r = reconcile(
            &n,
            &plan,
            &History {
                entries: vec![done],
            },
            "bob",
        );
        assert_eq!(
            r,
            Reconciled {
                entry: None,
                rest: None
            }
        );
    }

    #[tokio::test]
    async fn local_notes_round_trip_and_clearing_twice_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalNotes::new(dir.path().join("notes"));
        let key = note_key(["b", "a", "a"]);
        assert_eq!(key, note_key(["a", "b"]));
        assert!(key.starts_with("promotion-") && key.len() == "promotion-".len() + 12);
        assert_eq!(store.load(&key).await.unwrap(), None);
        let n = note(vec![result("a", "a1", "a2", RepoOutcome::Planned)]);
        store.save(&key, &n).await.unwrap();
        assert_eq!(store.load(&key).await.unwrap(), Some(n));
        let leftovers: Vec<_> = fs_err::read_dir(dir.path().join("notes"))
            .unwrap()
            .collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
        store.clear(&key).await.unwrap();
        store.clear(&key).await.unwrap();
        assert_eq!(store.load(&key).await.unwrap(), None);
        fs_err::write(store.path(&key), "{ half").unwrap();
        assert!(matches!(
            store.load(&key).await,
            Err(Error::NoteUnreadable { .. })
        ));
    }
}

//! The files the local forge keeps next to a remote, and how they are written.
//!
//! Every write goes to a temporary file in the same directory, is flushed to disk, and
//! is then renamed over the target (updates) or hard-linked to a new name (creation,
//! which must not overwrite a concurrent creation of the same number). A reader never
//! sees a half-written file, and a crash leaves at most a stray `.tmp-*` file behind.
//!
//! Atomic files are not enough for read-modify-write: two processes upserting the same
//! head would both find no change request and both create one. So every
//! read-decide-write holds an exclusive advisory lock on [`LOCK_FILE`] ([`RecordsLock`]).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{ChangeRequestState, Check, CheckSource, CheckState, ForgeError, Result};

/// Subdirectory holding one `<number>.json` per change request.
pub const CHANGE_REQUESTS_DIR: &str = "change-requests";
/// Subdirectory holding one `<sha>.json` per commit with recorded CI signals.
pub const CHECKS_DIR: &str = "checks";
/// The lock file in a records directory. While upkeep reads, decides and writes records
/// (creating or updating a change request, recording a check) it holds an exclusive
/// advisory lock (`flock`) on this file, so runs in several processes see each other's
/// change requests instead of each opening one. Another tool editing records may take
/// the same lock.
pub const LOCK_FILE: &str = ".lock";

/// An exclusive lock on one records directory, across processes; released on drop
/// (closing the file releases the lock, also when the process dies).
#[derive(Debug)]
pub(crate) struct RecordsLock {
    _file: std::fs::File,
}

impl RecordsLock {
    /// Blocks until the lock on `dir` is held, creating the directory if needed.
    pub(crate) fn acquire(dir: &Path) -> Result<Self> {
        fs_err::create_dir_all(dir).map_err(io_error(format!("create {}", dir.display())))?;
        let path = dir.join(LOCK_FILE);
        let doing = || format!("lock {}", path.display());
        let file = fs_err::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_error(doing()))?
            .into_file();
        file.lock().map_err(io_error(doing()))?;
        Ok(Self { _file: file })
    }

    /// Like [`RecordsLock::acquire`], but `None` (and nothing created) when `dir` does
    /// not exist: then there are no records to change.
    pub(crate) fn acquire_existing(dir: &Path) -> Result<Option<Self>> {
        if dir.is_dir() {
            Self::acquire(dir).map(Some)
        } else {
            Ok(None)
        }
    }
}

/// A change request as recorded in `change-requests/<number>.json`.
///
/// People and tests may edit these files by hand: every field but `number`, `title`,
/// `head` and `base` may be left out. `state` accepts `open`, `approved`,
/// `changes_requested`, `merged` and `closed`. The file name is the number: a file
/// whose `number` says otherwise (a copy of another record, say) is refused with an
/// error naming it, so that writing it back can never overwrite another record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeRequestRecord {
    /// The change request's number; must match the file name.
    pub number: u64,
    /// Title, without any draft prefix.
    pub title: String,
    /// Body, Markdown.
    #[serde(default)]
    pub body: String,
    /// Source branch.
    pub head: String,
    /// Target branch.
    pub base: String,
    /// Labels.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Users asked to review.
    #[serde(default)]
    pub reviewers: Vec<String>,
    /// Users assigned.
    #[serde(default)]
    pub assignees: Vec<String>,
    /// Whether it is a draft.
    #[serde(default)]
    pub draft: bool,
    /// Recorded state. `approved` / `changes_requested` here, or a non-empty
    /// `approvers` / `changes_requested_by`, make an open change request read as such.
    #[serde(default = "open")]
    pub state: ChangeRequestState,
    /// Users who approved.
    #[serde(default)]
    pub approvers: Vec<String>,
    /// Users who asked for changes (they win over approvals, as on the forges).
    #[serde(default)]
    pub changes_requested_by: Vec<String>,
    /// Tip of the head branch when last opened or updated: what "merged" is checked
    /// against once the branch is gone.
    #[serde(default)]
    pub head_sha: Option<String>,
    /// Tip of the base branch when the change request was opened: commits already there
    /// do not make it count as merged.
    #[serde(default)]
    pub base_sha_at_open: Option<String>,
    /// The merge commit, when recorded.
    #[serde(default)]
    pub merge_sha: Option<String>,
    /// When it was opened.
    #[serde(default = "Utc::now")]
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    #[serde(default = "Utc::now")]
    pub updated_at: DateTime<Utc>,
}

fn open() -> ChangeRequestState {
    ChangeRequestState::Open
}

impl ChangeRequestRecord {
    /// Whether the record says it is still open (approved and changes-requested are open).
    #[must_use]
    pub fn is_open(&self) -> bool {
        !matches!(
            self.state,
            ChangeRequestState::Merged | ChangeRequestState::Closed
        )
    }

    /// The state as recorded, with reviews applied (no git check for merges).
    #[must_use]
    pub fn recorded_state(&self) -> ChangeRequestState {
        match self.state {
            ChangeRequestState::Merged | ChangeRequestState::Closed => self.state,
            _ if !self.changes_requested_by.is_empty() => ChangeRequestState::ChangesRequested,
            ChangeRequestState::ChangesRequested => ChangeRequestState::ChangesRequested,
            _ if !self.approvers.is_empty() => ChangeRequestState::Approved,
            other => other,
        }
    }
}

/// One recorded CI signal, as written in `checks/<sha>.json` (a JSON array of these).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRecord {
    /// Check name.
    pub name: String,
    /// `success`, `failure`, `pending` or `skipped`.
    pub state: CheckState,
    /// Where to look.
    #[serde(default)]
    pub url: Option<String>,
}

impl From<CheckRecord> for Check {
    fn from(r: CheckRecord) -> Self {
        Check {
            name: r.name,
            state: r.state,
            url: r.url,
            source: CheckSource::Recorded,
        }
    }
}

fn io_error(doing: String) -> impl FnOnce(std::io::Error) -> ForgeError {
    move |source| ForgeError::Io { doing, source }
}

fn parse_error(path: &Path, e: &serde_json::Error) -> ForgeError {
    ForgeError::Io {
        doing: format!("read {}", path.display()),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()),
    }
}

/// The change-request files in `dir/change-requests`, sorted by number. Files that are
/// not `<number>.json` (temporaries, notes) are ignored.
pub(crate) fn read_all(dir: &Path) -> Result<Vec<ChangeRequestRecord>> {
    let crs = dir.join(CHANGE_REQUESTS_DIR);
    let entries = match fs_err::read_dir(&crs) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error(format!("list {}", crs.display()))(e)),
    };
    let mut records = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_error(format!("list {}", crs.display())))?;
        let name = entry.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
            continue;
        };
        let Ok(number) = stem.parse::<u64>() else {
            continue;
        };
        records.push(read_path(&entry.path(), number)?);
    }
    records.sort_by_key(|r| r.number);
    Ok(records)
}

/// Change request `number`, or `None` when there is no such file.
pub(crate) fn read_one(dir: &Path, number: u64) -> Result<Option<ChangeRequestRecord>> {
    let path = record_path(dir, number);
    if !path.exists() {
        return Ok(None);
    }
    read_path(&path, number).map(Some)
}

/// Reads the record at `path`, which the file name says is change request `number`.
fn read_path(path: &Path, number: u64) -> Result<ChangeRequestRecord> {
    let text =
        fs_err::read_to_string(path).map_err(io_error(format!("read {}", path.display())))?;
    let record: ChangeRequestRecord =
        serde_json::from_str(&text).map_err(|e| parse_error(path, &e))?;
    // Records are written back to `<record.number>.json`: a copied file still naming
    // its original would overwrite that one.
    if record.number != number {
        return Err(ForgeError::Io {
            doing: format!("read {}", path.display()),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "the file says it is change request #{}, but its name makes it #{number}: \
                     set `number` to {number} or rename the file",
                    record.number
                ),
            ),
        });
    }
    Ok(record)
}

/// Where change request `number` lives.
pub(crate) fn record_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(CHANGE_REQUESTS_DIR).join(format!("{number}.json"))
}

/// Overwrites an existing record atomically. `record` must have been read from (or
/// created as) `<record.number>.json`, which [`read_one`] and [`read_all`] guarantee.
pub(crate) fn write_record(dir: &Path, record: &ChangeRequestRecord) -> Result<()> {
    let path = record_path(dir, record.number);
    let bytes = to_json(record);
    write_atomic(&path, &bytes)
}

/// Records a new change request under the next free number (set in `record.number`).
/// Never overwrites: a number taken concurrently is skipped.
pub(crate) fn create_record(dir: &Path, record: &mut ChangeRequestRecord) -> Result<()> {
    let crs = dir.join(CHANGE_REQUESTS_DIR);
    fs_err::create_dir_all(&crs).map_err(io_error(format!("create {}", crs.display())))?;
    let mut number = read_all(dir)?.iter().map(|r| r.number).max().unwrap_or(0) + 1;
    loop {
        record.number = number;
        let path = record_path(dir, number);
        let tmp = write_temp(&path, &to_json(record))?;
        let linked = fs_err::hard_link(&tmp, &path);
        let _ = fs_err::remove_file(&tmp);
        match linked {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => number += 1,
            Err(e) => return Err(io_error(format!("create {}", path.display()))(e)),
        }
    }
}

/// The recorded CI signals for `sha` (empty when there is no file).
pub(crate) fn read_checks(dir: &Path, sha: &str) -> Result<Vec<CheckRecord>> {
    let path = dir.join(CHECKS_DIR).join(format!("{sha}.json"));
    let text = match fs_err::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error(format!("read {}", path.display()))(e)),
    };
    serde_json::from_str(&text).map_err(|e| parse_error(&path, &e))
}

/// Adds or replaces (by name) one CI signal for `sha`.
pub(crate) fn record_check(dir: &Path, sha: &str, check: CheckRecord) -> Result<()> {
    let mut checks = read_checks(dir, sha)?;
    checks.retain(|c| c.name != check.name);
    checks.push(check);
    let path = dir.join(CHECKS_DIR).join(format!("{sha}.json"));
    write_atomic(&path, &to_json(&checks))
}

fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).expect("records always serialise");
    bytes.push(b'\n');
    bytes
}

/// Writes `bytes` to `path` so that a crash leaves the old record or the new one.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    upkeep_fs::write_atomic(path, bytes).map_err(io_error(format!("write {}", path.display())))
}

/// A synced temporary file beside `path` holding `bytes`, for [`create_record`] to
/// hard-link into place (a link, unlike a rename, fails when the number is taken).
fn write_temp(path: &Path, bytes: &[u8]) -> Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().expect("record paths have a parent");
    fs_err::create_dir_all(dir).map_err(io_error(format!("create {}", dir.display())))?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("record");
    let tmp = dir.join(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let doing = || format!("write {}", tmp.display());
    let mut file = fs_err::File::create(&tmp).map_err(io_error(doing()))?;
    file.write_all(bytes).map_err(io_error(doing()))?;
    file.sync_all().map_err(io_error(doing()))?;
    Ok(tmp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(head: &str) -> ChangeRequestRecord {
        ChangeRequestRecord {
            number: 0,
            title: "t".into(),
            body: String::new(),
            head: head.into(),
            base: "main".into(),
            labels: vec![],
            reviewers: vec![],
            assignees: vec![],
            draft: false,
            state: ChangeRequestState::Open,
            approvers: vec![],
            changes_requested_by: vec![],
            head_sha: None,
            base_sha_at_open: None,
            merge_sha: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn creation_numbers_up_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = record("a");
        let mut b = record("b");
        create_record(dir.path(), &mut a).unwrap();
        create_record(dir.path(), &mut b).unwrap();
        assert_eq!((a.number, b.number), (1, 2));
        // A stray temporary and a note next to the records are ignored.
        fs_err::write(dir.path().join("change-requests/.3.json.tmp-1-1"), "{").unwrap();
        fs_err::write(dir.path().join("change-requests/README"), "notes").unwrap();
        let all = read_all(dir.path()).unwrap();
        assert_eq!(
            all.iter().map(|r| r.head.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
    }

    #[test]
    fn hand_written_records_need_only_the_essentials() {
        let dir = tempfile::tempdir().unwrap();
        let path = record_path(dir.path(), 7);
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(
            &path,
            r#"{"number":7,"title":"x","head":"f","base":"main","state":"approved"}"#,
        )
        .unwrap();
        let r = read_one(dir.path(), 7).unwrap().unwrap();
        assert_eq!(r.recorded_state(), ChangeRequestState::Approved);
        assert!(r.is_open());
        assert!(read_one(dir.path(), 8).unwrap().is_none());
    }

    #[test]
    fn changes_requested_wins_over_approvals() {
        let mut r = record("a");
        r.approvers = vec!["ann".into()];
        assert_eq!(r.recorded_state(), ChangeRequestState::Approved);
        r.changes_requested_by = vec!["bob".into()];
        assert_eq!(r.recorded_state(), ChangeRequestState::ChangesRequested);
        r.state = ChangeRequestState::Merged;
        assert_eq!(r.recorded_state(), ChangeRequestState::Merged);
    }

    #[test]
    fn checks_are_replaced_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let check = |state| CheckRecord {
            name: "build".into(),
            state,
            url: None,
        };
        record_check(dir.path(), "abc", check(CheckState::Pending)).unwrap();
        record_check(dir.path(), "abc", check(CheckState::Success)).unwrap();
        assert_eq!(
            read_checks(dir.path(), "abc").unwrap(),
            [check(CheckState::Success)]
        );
        assert!(read_checks(dir.path(), "def").unwrap().is_empty());
    }

    #[test]
    fn a_record_whose_number_is_not_its_file_name_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = record("a");
        create_record(dir.path(), &mut a).unwrap();
        fs_err::copy(record_path(dir.path(), 1), record_path(dir.path(), 3)).unwrap();
        let err = read_one(dir.path(), 3).unwrap_err();
        let text = format!("{err}: {}", std::error::Error::source(&err).unwrap());
        assert!(text.contains("3.json"), "{text}");
        assert!(text.contains("#1") && text.contains("#3"), "{text}");
        assert!(read_all(dir.path()).is_err());
        assert_eq!(read_one(dir.path(), 1).unwrap().unwrap().number, 1);
    }

    #[test]
    fn a_broken_file_names_itself() {
        let dir = tempfile::tempdir().unwrap();
        let path = record_path(dir.path(), 1);
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(&path, "{not json").unwrap();
        let err = read_all(dir.path()).unwrap_err();
        assert!(err.to_string().contains("1.json"), "{err}");
    }
}

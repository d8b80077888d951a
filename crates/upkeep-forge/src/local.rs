//! The local forge: plain git remotes, change requests recorded as files.
//!
//! This is the embedded default: it needs no service and no token, so a team can try
//! upkeep against bare repositories on disk (or any git remote), and a dry-run shows
//! exactly what would be opened. Branch operations go through `upkeep-git` against the
//! real remote; what a forge would keep in its database is kept in files next to it.
//!
//! # Repository ids
//!
//! A [`RepoId`] is the remote's path (`/srv/git/api.git`), its `file://` URL, or any URL
//! git can reach (then a records directory must be configured with
//! [`LocalForge::with_records_dir`]). Relative paths are taken from the current
//! directory. Which ids are local paths is decided by `upkeep-git`
//! ([`upkeep_git::local_repo_path`]: scp-like `host:path` is not), so the records sit
//! next to the repository it fetches from and pushes to.
//!
//! # Files
//!
//! By default the records of remote `/srv/git/api.git` live in `/srv/git/api.git.upkeep/`;
//! with [`LocalForge::with_records_dir`]`(root)` they live in `root/<slug of the id>/`
//! ([`LocalForge::records_dir`] says where):
//!
//! ```text
//! api.git.upkeep/
//!   .lock           held (flock) while records are read, decided on and written
//!   change-requests/
//!     1.json        one change request per file, numbered from 1 (ChangeRequestRecord)
//!     2.json
//!   checks/
//!     <sha>.json    CI signals recorded for a commit: [{"name","state","url"}] (CheckRecord)
//! ```
//!
//! A change request file looks like this; a person or a test may edit it, or write a new
//! one (or call [`LocalForge::approve`], [`LocalForge::request_changes`],
//! [`LocalForge::merge`], [`LocalForge::close`]). The file name is the number: a file
//! whose `number` disagrees with its name (a copy of `1.json` saved as `3.json`) is an
//! error naming the file, never a reason to write to another record.
//!
//! ```json
//! {
//!   "number": 1,
//!   "title": "Maintenance 2025-06-02",
//!   "body": "…",
//!   "head": "feature/maintenance-25-06-02",
//!   "base": "main",
//!   "labels": ["maintenance"],
//!   "reviewers": ["ann"],
//!   "assignees": [],
//!   "draft": false,
//!   "state": "open",
//!   "approvers": ["ann"],
//!   "changes_requested_by": [],
//!   "head_sha": "…",
//!   "base_sha_at_open": "…",
//!   "merge_sha": null,
//!   "created_at": "2025-06-02T06:00:00Z",
//!   "updated_at": "2025-06-02T06:00:00Z"
//! }
//! ```
//!
//! Every file is written to a temporary file in the same directory, flushed, and renamed
//! into place (or hard-linked, for a new number, so two writers never take the same one):
//! a reader never sees a half-written record. Creating or updating a change request,
//! editing one and recording a check hold an exclusive advisory lock on `.lock`
//! ([`LOCK_FILE`]) from reading to writing, so two processes upserting the same head
//! (two scheduled runs overlapping) record one change request.
//!
//! # State
//!
//! `merged` and `closed` are read from the file. An open change request reads as
//! `changes_requested` when someone asked for changes, else `approved` when someone
//! approved. It also reads as **merged** when its head's tip (or, once the branch is
//! deleted, the tip last recorded) is contained in the base branch although it was not
//! when the change request was opened: merging by hand with `git merge` and `git push`
//! is noticed without editing the file.
//!
//! # Branch moves
//!
//! [`Forge::move_branch`] pushes with an expected old tip (`git push
//! --force-with-lease=<ref>:<old>`, fast-forward-only unless a rollback is asked for);
//! `receive-pack` on the remote checks the old tip under the ref lock, so a concurrent
//! move loses with [`ForgeError::BranchMoved`]. Objects are fetched into a scratch bare
//! repository per remote under the work directory given to [`LocalForge::new`].

mod discover;
mod records;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use upkeep_git::{Author, Credentials, Oid};

pub use records::{CHANGE_REQUESTS_DIR, CHECKS_DIR, ChangeRequestRecord, CheckRecord, LOCK_FILE};

use crate::git_remote::{LockGuard, Remote, RepoLocks, parse_oid, slug};
use crate::{
    Access, BranchMove, ChangeRequest, ChangeRequestSpec, ChangeRequestState, CiVerdict,
    Comparison, Forge, ForgeError, ForgeKind, RepoId, Result, Tag, UpsertAction, Upserted,
};
use records::RecordsLock;

/// The local forge. Cheap to clone; clones share the per-repository locks.
#[derive(Debug, Clone)]
pub struct LocalForge {
    work_dir: PathBuf,
    records_root: Option<PathBuf>,
    creds: Credentials,
    tagger: Author,
    locks: Arc<RepoLocks>,
}

impl LocalForge {
    /// A local forge keeping its scratch clones (one bare repository per remote, used to
    /// compare and to push) under `work_dir`. Records live next to each remote.
    #[must_use]
    pub fn new(work_dir: impl Into<PathBuf>) -> Self {
        Self {
            work_dir: work_dir.into(),
            records_root: None,
            creds: Credentials::none(),
            tagger: Author::new("upkeep", "upkeep@localhost"),
            locks: Arc::default(),
        }
    }

    /// Keeps every repository's records under `root/<slug of the repository id>/` instead
    /// of next to the remote (needed for remotes that are not local paths).
    #[must_use]
    pub fn with_records_dir(mut self, root: impl Into<PathBuf>) -> Self {
        self.records_root = Some(root.into());
        self
    }

    /// Credentials for remotes that need them (HTTPS token, SSH).
    #[must_use]
    pub fn with_credentials(mut self, creds: Credentials) -> Self {
        self.creds = creds;
        self
    }

    /// Who annotated tags are made by (default `upkeep <upkeep@localhost>`).
    #[must_use]
    pub fn with_tagger(mut self, tagger: Author) -> Self {
        self.tagger = tagger;
        self
    }

    /// The directory holding `repo`'s change requests and recorded checks.
    pub fn records_dir(&self, repo: &RepoId) -> Result<PathBuf> {
        if let Some(root) = &self.records_root {
            return Ok(root.join(slug(repo.as_str())));
        }
        // What is local is upkeep-git's call, so records sit next to the very repository
        // it fetches from and pushes to.
        match upkeep_git::local_repo_path(repo.as_str()) {
            Some(path) => {
                let mut name = path
                    .file_name()
                    .map(std::ffi::OsStr::to_os_string)
                    .unwrap_or_default();
                name.push(".upkeep");
                Ok(path.with_file_name(name))
            }
            None => Err(ForgeError::Setup {
                forge: ForgeKind::Local,
                message: format!(
                    "{repo} is not a local path, so its change requests cannot be kept next \
                     to it: configure a records directory"
                ),
            }),
        }
    }

    /// Records an approval of change request `number` by `user` (withdrawing any request
    /// for changes by the same user).
    pub async fn approve(&self, repo: &RepoId, number: u64, user: &str) -> Result<ChangeRequest> {
        let user = user.to_owned();
        self.edit(repo, number, move |r| {
            r.changes_requested_by.retain(|u| *u != user);
            if !r.approvers.contains(&user) {
                r.approvers.push(user);
            }
            r.state = ChangeRequestState::Open;
        })
        .await
    }

    /// Records that `user` asked for changes on change request `number` (withdrawing any
    /// approval by the same user).
    pub async fn request_changes(
        &self,
        repo: &RepoId,
        number: u64,
        user: &str,
    ) -> Result<ChangeRequest> {
        let user = user.to_owned();
        self.edit(repo, number, move |r| {
            r.approvers.retain(|u| *u != user);
            if !r.changes_requested_by.contains(&user) {
                r.changes_requested_by.push(user);
            }
            r.state = ChangeRequestState::Open;
        })
        .await
    }

    /// Records change request `number` as merged (with the merge commit, when known).
    /// Only the record changes: merging the branches is the caller's (or a person's) job.
    pub async fn merge(
        &self,
        repo: &RepoId,
        number: u64,
        merge_sha: Option<&str>,
    ) -> Result<ChangeRequest> {
        let merge_sha = merge_sha.map(str::to_owned);
        self.edit(repo, number, move |r| {
            r.state = ChangeRequestState::Merged;
            r.merge_sha = merge_sha;
        })
        .await
    }

    /// Records change request `number` as closed without merging.
    pub async fn close(&self, repo: &RepoId, number: u64) -> Result<ChangeRequest> {
        self.edit(repo, number, |r| r.state = ChangeRequestState::Closed)
            .await
    }

    /// Records a CI signal for commit `sha`, replacing any earlier one of the same name.
    pub async fn record_check(&self, repo: &RepoId, sha: &str, check: CheckRecord) -> Result<()> {
        let (repo, sha) = (repo.clone(), sha.to_owned());
        self.blocking(move |forge| {
            let dir = forge.records_dir(&repo)?;
            let _guard = forge.lock(&repo);
            let _records = RecordsLock::acquire(&dir)?;
            records::record_check(&dir, &sha, check)
        })
        .await
    }

    async fn edit(
        &self,
        repo: &RepoId,
        number: u64,
        change: impl FnOnce(&mut ChangeRequestRecord) + Send + 'static,
    ) -> Result<ChangeRequest> {
        let repo = repo.clone();
        self.blocking(move |forge| {
            let dir = forge.records_dir(&repo)?;
            let _guard = forge.lock(&repo);
            let _records = RecordsLock::acquire_existing(&dir)?;
            let mut record = records::read_one(&dir, number)?
                .ok_or_else(|| not_found(format!("change request #{number} of {repo}")))?;
            change(&mut record);
            record.updated_at = Utc::now();
            records::write_record(&dir, &record)?;
            Session::new(forge, &repo).view(&dir, &record)
        })
        .await
    }

    /// Runs blocking git and file work off the async runtime.
    async fn blocking<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&LocalForge) -> Result<T> + Send + 'static,
    {
        let forge = self.clone();
        tokio::task::spawn_blocking(move || work(&forge))
            .await
            .map_err(|e| ForgeError::Io {
                doing: "run a git task".to_owned(),
                source: std::io::Error::other(e.to_string()),
            })?
    }

    /// Serialises work on one repository's scratch clone and records within this process
    /// (across processes, [`RecordsLock`] guards the records).
    fn lock(&self, repo: &RepoId) -> LockGuard {
        LockGuard::acquire(self.locks.clone(), self.scratch_path(repo))
    }

    fn scratch_path(&self, repo: &RepoId) -> PathBuf {
        self.work_dir.join(format!("{}.git", slug(repo.as_str())))
    }
}

/// One blocking unit of work on a repository: its records and its remote.
struct Session<'a> {
    git: Remote<'a>,
}

impl<'a> Session<'a> {
    fn new(forge: &'a LocalForge, repo: &'a RepoId) -> Self {
        Self {
            git: Remote::new(
                ForgeKind::Local,
                repo,
                // upkeep-git makes a relative path absolute (pushes run in the scratch
                // clone's directory, where it would mean something else).
                repo.as_str().to_owned(),
                &forge.creds,
                forge.scratch_path(repo),
            ),
        }
    }

    fn branch_tip(&mut self, branch: &str) -> Result<Option<Oid>> {
        self.git.branch_tip(branch)
    }

    /// The neutral view of a record, with merges done outside upkeep detected.
    fn view(&mut self, dir: &Path, record: &ChangeRequestRecord) -> Result<ChangeRequest> {
        let mut state = record.recorded_state();
        let live_head = self.branch_tip(&record.head)?;
        let head_sha = live_head.or_else(|| record.head_sha.as_deref().and_then(parse_oid));
        if record.is_open()
            && let Some(head) = head_sha
            && self.merged_outside(record, head)?
        {
            state = ChangeRequestState::Merged;
        }
        Ok(ChangeRequest {
            number: record.number,
            url: file_url(&records::record_path(dir, record.number)),
            title: record.title.clone(),
            body: record.body.clone(),
            head: record.head.clone(),
            base: record.base.clone(),
            head_sha: head_sha.map(|o| o.to_string()),
            state,
            draft: record.draft,
            labels: record.labels.clone(),
            approvers: record.approvers.clone(),
            merge_sha: record.merge_sha.clone(),
        })
    }

    /// Whether `head` reached the base branch after the change request was opened.
    fn merged_outside(&mut self, record: &ChangeRequestRecord, head: Oid) -> Result<bool> {
        let Some(base) = self.branch_tip(&record.base)? else {
            return Ok(false);
        };
        let at_open = record.base_sha_at_open.as_deref().and_then(parse_oid);
        if at_open == Some(head) || !self.git.is_ancestor(head, base)? {
            return Ok(false);
        }
        match at_open {
            // The base tip at opening may be gone (force-pushed): then it proves nothing.
            Some(old) if self.git.ensure_commits(&[old]).is_ok() => {
                Ok(!self.git.is_ancestor(head, old)?)
            }
            _ => Ok(true),
        }
    }

    /// The open change requests with head `head`, newest first, as they read now.
    fn find_open(
        &mut self,
        dir: &Path,
        head: &str,
    ) -> Result<Option<(ChangeRequestRecord, ChangeRequest)>> {
        let mut candidates: Vec<_> = records::read_all(dir)?
            .into_iter()
            .filter(|r| r.head == head && r.is_open())
            .collect();
        candidates.reverse();
        for record in candidates {
            let cr = self.view(dir, &record)?;
            if !matches!(
                cr.state,
                ChangeRequestState::Merged | ChangeRequestState::Closed
            ) {
                return Ok(Some((record, cr)));
            }
        }
        Ok(None)
    }
}

#[async_trait]
impl Forge for LocalForge {
    fn kind(&self) -> ForgeKind {
        ForgeKind::Local
    }

    async fn find_open_change_request(
        &self,
        repo: &RepoId,
        head: &str,
    ) -> Result<Option<ChangeRequest>> {
        let (repo, head) = (repo.clone(), head.to_owned());
        self.blocking(move |forge| {
            let dir = forge.records_dir(&repo)?;
            let _guard = forge.lock(&repo);
            Ok(Session::new(forge, &repo)
                .find_open(&dir, &head)?
                .map(|(_, cr)| cr))
        })
        .await
    }

    async fn upsert_change_request(
        &self,
        repo: &RepoId,
        spec: &ChangeRequestSpec,
    ) -> Result<Upserted> {
        let (repo, spec) = (repo.clone(), spec.clone());
        self.blocking(move |forge| {
            let dir = forge.records_dir(&repo)?;
            let _guard = forge.lock(&repo);
            let mut session = Session::new(forge, &repo);
            let validation = |message: String| ForgeError::Validation {
                forge: ForgeKind::Local,
                doing: format!("recording a change request for {} in {repo}", spec.head),
                message,
                errors: Vec::new(),
            };
            if spec.head == spec.base {
                return Err(validation(format!("head and base are both `{}`", spec.head)));
            }
            let head_tip = session
                .branch_tip(&spec.head)?
                .ok_or_else(|| validation(format!("head branch `{}` does not exist", spec.head)))?;
            let base_tip = session
                .branch_tip(&spec.base)?
                .ok_or_else(|| validation(format!("base branch `{}` does not exist", spec.base)))?;
            // From looking for an open change request to recording one: no other process
            // may do the same in between.
            let _records = RecordsLock::acquire(&dir)?;
            let now = Utc::now();
            if let Some((old, _)) = session.find_open(&dir, &spec.head)? {
                let mut new = old.clone();
                new.title.clone_from(&spec.title);
                new.body.clone_from(&spec.body);
                new.base.clone_from(&spec.base);
                new.labels.clone_from(&spec.labels);
                new.reviewers.clone_from(&spec.reviewers);
                new.assignees.clone_from(&spec.assignees);
                new.draft = spec.draft;
                let action = if new == old {
                    UpsertAction::Unchanged
                } else {
                    new.updated_at = now;
                    UpsertAction::Updated
                };
                // The tip moves with every push; keeping it current is bookkeeping, not an
                // update of the change request.
                new.head_sha = Some(head_tip.to_string());
                if new != old {
                    records::write_record(&dir, &new)?;
                }
                let change_request = session.view(&dir, &new)?;
                return Ok(Upserted {
                    change_request,
                    action,
                    not_applied: Vec::new(),
                });
            }
            let mut record = ChangeRequestRecord {
                number: 0,
                title: spec.title.clone(),
                body: spec.body.clone(),
                head: spec.head.clone(),
                base: spec.base.clone(),
                labels: spec.labels.clone(),
                reviewers: spec.reviewers.clone(),
                assignees: spec.assignees.clone(),
                draft: spec.draft,
                state: ChangeRequestState::Open,
                approvers: Vec::new(),
                changes_requested_by: Vec::new(),
                head_sha: Some(head_tip.to_string()),
                base_sha_at_open: Some(base_tip.to_string()),
                merge_sha: None,
                created_at: now,
                updated_at: now,
            };
            records::create_record(&dir, &mut record)?;
            tracing::info!(repo = %repo, number = record.number, head = %spec.head, "recorded a change request");
            let change_request = session.view(&dir, &record)?;
            Ok(Upserted {
                change_request,
                action: UpsertAction::Created,
                not_applied: Vec::new(),
            })
        })
        .await
    }

    async fn change_request(&self, repo: &RepoId, number: u64) -> Result<ChangeRequest> {
        let repo = repo.clone();
        self.blocking(move |forge| {
            let dir = forge.records_dir(&repo)?;
            let _guard = forge.lock(&repo);
            let record = records::read_one(&dir, number)?
                .ok_or_else(|| not_found(format!("change request #{number} of {repo}")))?;
            Session::new(forge, &repo).view(&dir, &record)
        })
        .await
    }

    async fn branch_tip(&self, repo: &RepoId, branch: &str) -> Result<Option<String>> {
        let (repo, branch) = (repo.clone(), branch.to_owned());
        self.blocking(move |forge| {
            Ok(Session::new(forge, &repo)
                .branch_tip(&branch)?
                .map(|o| o.to_string()))
        })
        .await
    }

    async fn compare(&self, repo: &RepoId, base: &str, head: &str) -> Result<Comparison> {
        let (repo, base, head) = (repo.clone(), base.to_owned(), head.to_owned());
        self.blocking(move |forge| {
            let _guard = forge.lock(&repo);
            Session::new(forge, &repo).git.compare(&base, &head)
        })
        .await
    }

    async fn move_branch(&self, repo: &RepoId, request: &BranchMove) -> Result<()> {
        let (repo, request) = (repo.clone(), request.clone());
        self.blocking(move |forge| {
            let _guard = forge.lock(&repo);
            Session::new(forge, &repo).git.move_branch(&request)
        })
        .await
    }

    async fn tags(&self, repo: &RepoId) -> Result<Vec<Tag>> {
        let repo = repo.clone();
        self.blocking(move |forge| Session::new(forge, &repo).git.tags())
            .await
    }

    async fn create_tag(
        &self,
        repo: &RepoId,
        name: &str,
        sha: &str,
        message: Option<&str>,
    ) -> Result<()> {
        let (repo, name, sha) = (repo.clone(), name.to_owned(), sha.to_owned());
        let message = message.map(str::to_owned);
        self.blocking(move |forge| {
            let _guard = forge.lock(&repo);
            Session::new(forge, &repo).git.create_tag(
                &name,
                &sha,
                message.as_deref(),
                &forge.tagger,
            )
        })
        .await
    }

    async fn ci_verdict(&self, repo: &RepoId, sha: &str) -> Result<CiVerdict> {
        let (repo, sha) = (repo.clone(), sha.to_owned());
        self.blocking(move |forge| {
            let dir = forge.records_dir(&repo)?;
            let checks = records::read_checks(&dir, &sha)?
                .into_iter()
                .map(Into::into)
                .collect();
            Ok(CiVerdict::from_checks(sha, checks))
        })
        .await
    }

    /// Pushing: the remote, when it is a local path, is a directory whose permissions
    /// allow writing (a URL's server tells only when pushed to: unknown). Opening change
    /// requests: the records directory, or the nearest directory above it that exists
    /// (it is created on first use), allows writing.
    async fn access(&self, repo: &RepoId) -> Result<Access> {
        let repo = repo.clone();
        self.blocking(move |forge| {
            let mut detail = Vec::new();
            let mut fix = None;
            let can_push = if let Some(path) = upkeep_git::local_repo_path(repo.as_str()) {
                let meta = fs_err::metadata(&path)
                    .ok()
                    .filter(std::fs::Metadata::is_dir)
                    .ok_or_else(|| not_found(format!("repository {repo}")))?;
                let writable = !meta.permissions().readonly();
                if writable {
                    detail.push(format!("{} is writable", path.display()));
                } else {
                    detail.push(format!("{} is read-only", path.display()));
                    fix = Some(format!("let upkeep's user write to {}", path.display()));
                }
                Some(writable)
            } else {
                detail.push(format!(
                    "{repo} is not a local path: whether it takes pushes shows only when pushing"
                ));
                None
            };
            let can_open = match forge.records_dir(&repo) {
                Ok(dir) => {
                    let existing = dir.ancestors().find(|d| d.is_dir());
                    let writable = existing.is_some_and(|d| {
                        fs_err::metadata(d).is_ok_and(|m| !m.permissions().readonly())
                    });
                    if writable {
                        detail.push(format!(
                            "change requests can be recorded in {}",
                            dir.display()
                        ));
                    } else {
                        detail.push(format!(
                            "change requests cannot be recorded in {}",
                            dir.display()
                        ));
                        fix.get_or_insert_with(|| {
                            format!(
                                "let upkeep's user write to {}",
                                existing.unwrap_or(&dir).display()
                            )
                        });
                    }
                    writable
                }
                Err(e) => {
                    detail.push(e.to_string());
                    fix.get_or_insert_with(|| {
                        "configure a records directory for the local forge".to_owned()
                    });
                    false
                }
            };
            Ok(Access {
                can_push,
                can_open_change_requests: Some(can_open),
                detail: detail.join("; "),
                fix,
            })
        })
        .await
    }
}

fn not_found(what: String) -> ForgeError {
    ForgeError::NotFound {
        forge: ForgeKind::Local,
        what,
    }
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_live_next_to_a_path_remote() {
        let forge = LocalForge::new("/tmp/work");
        let dir = forge
            .records_dir(&RepoId::new("/srv/git/api.git/"))
            .unwrap();
        assert_eq!(dir, Path::new("/srv/git/api.git.upkeep"));
        let dir = forge
            .records_dir(&RepoId::new("file:///srv/git/api.git"))
            .unwrap();
        assert_eq!(dir, Path::new("/srv/git/api.git.upkeep"));
        let err = forge
            .records_dir(&RepoId::new("https://example.com/acme/api.git"))
            .unwrap_err();
        assert!(matches!(err, ForgeError::Setup { .. }), "{err}");
        let err = forge
            .records_dir(&RepoId::new("git@example.com:acme/api.git"))
            .unwrap_err();
        assert!(matches!(err, ForgeError::Setup { .. }), "{err}");
        let dir = forge.records_dir(&RepoId::new("git/api.git")).unwrap();
        assert_eq!(dir, std::path::absolute("git/api.git.upkeep").unwrap());
    }

    #[test]
    fn a_records_root_takes_any_remote() {
        let forge = LocalForge::new("/tmp/work").with_records_dir("/var/upkeep");
        let a = forge
            .records_dir(&RepoId::new("https://example.com/acme/api.git"))
            .unwrap();
        let b = forge
            .records_dir(&RepoId::new("https://example.com/acme/api_git"))
            .unwrap();
        assert!(a.starts_with("/var/upkeep"));
        assert_ne!(a, b, "similar ids must not share records");
    }
}

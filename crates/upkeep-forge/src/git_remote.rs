//! Branch and tag operations on a git remote, through a scratch bare clone.
//!
//! Shared by the local adapter (whose remotes are plain git) and the GitLab adapter
//! (GitLab has no API that moves a branch with an expected old tip, so a push does it).
//! Tips are read with `ls-remote`; objects are fetched into a bare scratch repository
//! per remote only when a comparison or push needs them; moves are pushes with
//! `--force-with-lease=<ref>:<expected>` (see `upkeep_git::Repo::push`), so the server
//! checks the old tip under its ref lock.

// The GitLab adapter uses only part of it (the API answers the rest).
#![cfg_attr(not(feature = "local"), allow(dead_code))]

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use upkeep_git::{Author, Credentials, Expect, Oid, PushRequest, Repo};

use crate::{BranchMove, CommitSummary, Comparison, ForgeError, ForgeKind, RepoId, Result, Tag};

const FETCH_ALL: [&str; 2] = [
    "+refs/heads/*:refs/remotes/origin/*",
    "+refs/tags/*:refs/tags/*",
];

/// One unit of (blocking) work on a remote: its advertised refs and the scratch clone,
/// each loaded on first use. Hold the repository's [`LockGuard`] while using it.
pub(crate) struct Remote<'a> {
    kind: ForgeKind,
    repo: &'a RepoId,
    url: String,
    creds: &'a Credentials,
    scratch_path: PathBuf,
    refs: Option<HashMap<String, Oid>>,
    scratch: Option<Repo>,
    /// Whether the scratch clone was brought up to date in this unit of work.
    fetched: bool,
}

impl<'a> Remote<'a> {
    /// `url` is what git is given (credential-free); `repo` names it in errors.
    pub(crate) fn new(
        kind: ForgeKind,
        repo: &'a RepoId,
        url: String,
        creds: &'a Credentials,
        scratch_path: PathBuf,
    ) -> Self {
        Self {
            kind,
            repo,
            url,
            creds,
            scratch_path,
            refs: None,
            scratch: None,
            fetched: false,
        }
    }

    fn not_found(&self, what: String) -> ForgeError {
        ForgeError::NotFound {
            forge: self.kind,
            what,
        }
    }

    /// The refs the remote advertises now.
    pub(crate) fn refs(&mut self) -> Result<&HashMap<String, Oid>> {
        if self.refs.is_none() {
            if upkeep_git::local_repo_path(&self.url).is_some_and(|path| !path.exists()) {
                return Err(self.not_found(format!("repository {}", self.repo)));
            }
            let refs = upkeep_git::ls_remote(&self.url, self.creds)
                .map_err(git_error(format!("list the refs of {}", self.repo)))?;
            self.refs = Some(refs.into_iter().collect());
        }
        Ok(self.refs.as_ref().expect("just loaded"))
    }

    /// The tip of `branch`, `None` if the remote has no such branch.
    pub(crate) fn branch_tip(&mut self, branch: &str) -> Result<Option<Oid>> {
        Ok(self.refs()?.get(&format!("refs/heads/{branch}")).copied())
    }

    /// The scratch bare repository for this remote, created (or re-created, if damaged)
    /// on first use.
    fn scratch(&mut self) -> Result<&Repo> {
        if self.scratch.is_none() {
            let path = &self.scratch_path;
            let repo = if let Ok(repo) = Repo::open(path) {
                repo
            } else {
                if path.exists() {
                    tracing::warn!(path = %path.display(), "scratch clone unusable; re-creating");
                    fs_err::remove_dir_all(path).map_err(|source| ForgeError::Io {
                        doing: format!("remove {}", path.display()),
                        source,
                    })?;
                }
                git2::Repository::init_bare(path)
                    .map(Repo::from_git2)
                    .map_err(git_error(format!("create {}", path.display())))?
            };
            self.scratch = Some(repo);
        }
        Ok(self.scratch.as_ref().expect("just opened"))
    }

    fn scratch_ref(&self) -> &Repo {
        self.scratch.as_ref().expect("scratch opened before use")
    }

    /// Makes sure the scratch clone has every commit in `oids`, fetching all branches and
    /// tags when one is missing (at most once per unit of work).
    pub(crate) fn ensure_commits(&mut self, oids: &[Oid]) -> Result<()> {
        self.scratch()?;
        let has = |repo: &Repo, oid: &Oid| repo.git2().find_commit(*oid).is_ok();
        if oids.iter().all(|o| has(self.scratch_ref(), o)) {
            return Ok(());
        }
        if !self.fetched {
            self.fetch_all()?;
        }
        match oids.iter().find(|o| !has(self.scratch_ref(), o)) {
            Some(missing) => Err(self.not_found(format!("commit {missing} in {}", self.repo))),
            None => Ok(()),
        }
    }

    /// The bytes of `path` at the tip of `branch`; `None` when the branch has no such
    /// file, [`ForgeError::NotFound`] when there is no such branch.
    pub(crate) fn read_file(&mut self, branch: &str, path: &str) -> Result<Option<Vec<u8>>> {
        let Some(tip) = self.branch_tip(branch)? else {
            return Err(self.not_found(format!("branch {branch} of {}", self.repo)));
        };
        self.ensure_commits(&[tip])?;
        match self.scratch_ref().read_file_at(tip, path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(upkeep_git::Error::FileMissing { .. }) => Ok(None),
            Err(e) => Err(git_error(format!(
                "read {path} on {branch} of {}",
                self.repo
            ))(e)),
        }
    }

    fn fetch_all(&mut self) -> Result<()> {
        let (url, creds, repo_id) = (self.url.clone(), self.creds, self.repo);
        self.scratch()?
            .fetch(&url, &FETCH_ALL, creds)
            .map_err(git_error(format!("fetch {repo_id}")))?;
        self.fetched = true;
        Ok(())
    }

    /// A branch, tag, full ref or (abbreviated) commit id, as the remote has it now; the
    /// commit is in the scratch clone afterwards.
    ///
    /// An abbreviated id is resolved only after fetching (once per unit of work): a
    /// prefix unique in a stale scratch clone may match several commits on the remote,
    /// and must then be refused as ambiguous rather than taken to mean the old one.
    pub(crate) fn resolve(&mut self, name: &str) -> Result<Oid> {
        let refs = self.refs()?;
        let found = [
            format!("refs/heads/{name}"),
            format!("refs/tags/{name}^{{}}"),
            format!("refs/tags/{name}"),
            format!("{name}^{{}}"),
            name.to_owned(),
        ]
        .iter()
        .find_map(|r| refs.get(r).copied());
        let unknown = |this: &Self| {
            this.not_found(format!("branch, tag or commit `{name}` in {}", this.repo))
        };
        let oid = match found {
            Some(oid) => oid,
            None if name.len() == 40 && is_hex(name) => {
                Oid::from_str(name).map_err(|_| unknown(self))?
            }
            None if is_hex(name) => {
                if !self.fetched {
                    self.fetch_all()?;
                }
                match self.scratch_ref().resolve_commit_prefix(name) {
                    Ok(oid) => oid,
                    Err(upkeep_git::Error::AmbiguousRev { candidates, .. }) => {
                        return Err(ForgeError::Validation {
                            forge: self.kind,
                            doing: format!("resolving `{name}` in {}", self.repo),
                            message: format!(
                                "the short id `{name}` matches {} commits; give more digits",
                                candidates.len()
                            ),
                            errors: candidates.iter().map(ToString::to_string).collect(),
                        });
                    }
                    Err(_) => return Err(unknown(self)),
                }
            }
            None => return Err(unknown(self)),
        };
        self.ensure_commits(&[oid])?;
        Ok(oid)
    }

    /// Whether `ancestor` is (or is reachable from) `descendant`.
    pub(crate) fn is_ancestor(&mut self, ancestor: Oid, descendant: Oid) -> Result<bool> {
        self.ensure_commits(&[ancestor, descendant])?;
        self.scratch_ref()
            .is_ancestor(ancestor, descendant)
            .map_err(git_error(format!("compare commits of {}", self.repo)))
    }

    /// How `head` relates to `base` (branches, tags or commit ids).
    pub(crate) fn compare(&mut self, base: &str, head: &str) -> Result<Comparison> {
        let b = self.resolve(base)?;
        let h = self.resolve(head)?;
        let scratch = self.scratch_ref();
        let doing = || format!("compare {base}...{head} of {}", self.repo);
        let (ahead_by, behind_by) = scratch.ahead_behind(h, b).map_err(git_error(doing()))?;
        let commits = scratch
            .commits_between(b, h)
            .map_err(git_error(doing()))?
            .into_iter()
            .map(|c| CommitSummary {
                sha: c.id.to_string(),
                subject: c.subject,
                author: c.author_name,
                time: Some(c.time.to_rfc3339()),
            })
            .collect();
        let merge_base = scratch
            .merge_base(b, h)
            .map_err(git_error(doing()))?
            .map(|o| o.to_string());
        Ok(Comparison {
            ahead_by,
            behind_by,
            commits,
            merge_base,
        })
    }

    /// Moves a branch by pushing with the expected old tip; the server refuses if the
    /// branch moved in between, and (unless `allow_backwards`) if it is no fast-forward.
    pub(crate) fn move_branch(&mut self, request: &BranchMove) -> Result<()> {
        let moved = |actual: Option<Oid>| ForgeError::BranchMoved {
            repo: self.repo.to_string(),
            branch: request.branch.clone(),
            expected: request.expected_old.clone(),
            actual: actual.map(|o| o.to_string()),
        };
        let expected = parse_oid(&request.expected_old).ok_or_else(|| ForgeError::Validation {
            forge: self.kind,
            doing: format!("moving {} of {}", request.branch, self.repo),
            message: format!(
                "the expected old tip `{}` is not a full commit id",
                request.expected_old
            ),
            errors: Vec::new(),
        })?;
        let actual = self.branch_tip(&request.branch)?;
        if actual != Some(expected) {
            return Err(moved(actual));
        }
        let new = self.resolve(&request.new)?;
        self.ensure_commits(&[expected])?;
        let mut push = PushRequest::single(
            new,
            format!("refs/heads/{}", request.branch),
            Expect::Tip(expected),
        );
        if request.allow_backwards {
            push = push.forced();
        }
        match self.scratch_ref().push(&self.url, self.creds, &push) {
            Ok(outcome) => {
                tracing::info!(repo = %self.repo, branch = %request.branch, from = %expected, to = %new, ?outcome, "moved branch");
                Ok(())
            }
            Err(upkeep_git::Error::RemoteMoved { actual, .. }) => Err(moved(actual)),
            Err(upkeep_git::Error::NotFastForward { from, to, .. }) => {
                Err(ForgeError::NotFastForward {
                    repo: self.repo.to_string(),
                    branch: request.branch.clone(),
                    from: from.to_string(),
                    to: to.to_string(),
                })
            }
            Err(e) => {
                // The push may have landed although its answer was lost (the connection
                // dropped after the server updated the ref): the remote's tip says.
                self.refs = None;
                if matches!(self.branch_tip(&request.branch), Ok(Some(now)) if now == new) {
                    tracing::info!(repo = %self.repo, branch = %request.branch, from = %expected, to = %new, "moved branch (the push's answer was lost)");
                    return Ok(());
                }
                Err(git_error(format!(
                    "move {} of {} to {new}",
                    request.branch, self.repo
                ))(e))
            }
        }
    }

    /// Tags the remote advertises, peeled to commits, sorted by name.
    pub(crate) fn tags(&mut self) -> Result<Vec<Tag>> {
        Ok(tags_from_refs(self.refs()?))
    }

    /// Creates a tag by pushing it, refusing ([`ForgeError::Conflict`]) if it exists.
    pub(crate) fn create_tag(
        &mut self,
        name: &str,
        target: &str,
        message: Option<&str>,
        tagger: &Author,
    ) -> Result<()> {
        let remote_ref = format!("refs/tags/{name}");
        let (kind, repo) = (self.kind, self.repo);
        let exists = || ForgeError::Conflict {
            forge: kind,
            doing: format!("creating tag {name} in {repo}"),
            message: format!("tag {name} already exists"),
        };
        if self.refs()?.contains_key(&remote_ref) {
            return Err(exists());
        }
        let target = self.resolve(target)?;
        let scratch = self.scratch_ref();
        let doing = || format!("create tag {name} at {target} in {}", self.repo);
        // A tag of that name left in the scratch clone (deleted on the remote since) must
        // not block or shape the new one.
        let _ = scratch.git2().tag_delete(name);
        let object = scratch
            .create_tag(name, target, message, tagger)
            .map_err(git_error(doing()))?;
        let push = PushRequest::single(object, remote_ref, Expect::Absent);
        match scratch.push(&self.url, self.creds, &push) {
            Ok(_) => Ok(()),
            Err(upkeep_git::Error::RemoteMoved { .. }) => Err(exists()),
            Err(e) => Err(git_error(doing())(e)),
        }
    }
}

/// Tags advertised by a remote, peeled entries (`refs/tags/x^{}`) winning, sorted by name.
pub(crate) fn tags_from_refs(refs: &HashMap<String, Oid>) -> Vec<Tag> {
    let mut tags: Vec<Tag> = refs
        .iter()
        .filter_map(|(name, oid)| {
            let short = name.strip_prefix("refs/tags/")?;
            if short.ends_with("^{}") {
                return None;
            }
            let peeled = refs.get(&format!("{name}^{{}}")).unwrap_or(oid);
            Some(Tag {
                name: short.to_owned(),
                sha: peeled.to_string(),
            })
        })
        .collect();
    tags.sort_by(|a, b| a.name.cmp(&b.name));
    tags
}

/// Wraps a git failure with what was being done.
pub(crate) fn git_error<E>(doing: String) -> impl FnOnce(E) -> ForgeError
where
    E: std::error::Error + Send + Sync + 'static,
{
    move |source| ForgeError::Git {
        doing,
        source: Box::new(source),
    }
}

fn is_hex(s: &str) -> bool {
    (4..=40).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A full 40-hex commit id.
pub(crate) fn parse_oid(s: &str) -> Option<Oid> {
    (s.len() == 40 && is_hex(s))
        .then(|| Oid::from_str(s).ok())
        .flatten()
}

/// A file name for a repository id: readable, and unique thanks to a stable hash (the
/// same naming as upkeep-git's clone caches).
pub(crate) fn slug(id: &str) -> String {
    upkeep_git::cache_dir_name(id)
}

/// Which repositories are being worked on in this process (keyed by scratch path).
#[derive(Debug, Default)]
pub(crate) struct RepoLocks {
    busy: Mutex<HashSet<PathBuf>>,
    freed: Condvar,
}

/// Owns one repository's lock until dropped (owned, so it can live in a blocking task).
pub(crate) struct LockGuard {
    locks: Arc<RepoLocks>,
    key: PathBuf,
}

impl LockGuard {
    /// Blocks until no other holder in this process works on `key`.
    pub(crate) fn acquire(locks: Arc<RepoLocks>, key: PathBuf) -> Self {
        let mut busy = locks.busy.lock().unwrap_or_else(PoisonError::into_inner);
        while busy.contains(&key) {
            busy = locks
                .freed
                .wait(busy)
                .unwrap_or_else(PoisonError::into_inner);
        }
        busy.insert(key.clone());
        drop(busy);
        Self { locks, key }
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        self.locks
            .busy
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.key);
        self.locks.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peeled_tags_win() {
        let a = Oid::from_str("1111111111111111111111111111111111111111").unwrap();
        let b = Oid::from_str("2222222222222222222222222222222222222222").unwrap();
        let refs = HashMap::from([
            ("refs/tags/v1".to_owned(), a),
            ("refs/tags/v1^{}".to_owned(), b),
            ("refs/tags/v0".to_owned(), b),
            ("refs/heads/main".to_owned(), a),
        ]);
        let tags: Vec<_> = tags_from_refs(&refs)
            .into_iter()
            .map(|t| (t.name, t.sha))
            .collect();
        assert_eq!(
            tags,
            [
                ("v0".to_owned(), b.to_string()),
                ("v1".to_owned(), b.to_string())
            ]
        );
    }

    #[test]
    fn slugs_are_readable_and_distinct() {
        let a = slug("https://example.com/acme/api.git");
        let b = slug("https://example.com/acme/api_git");
        assert!(a.starts_with("https___example.com_acme_api.git-"), "{a}");
        assert_ne!(a, b);
    }
}

//! The clone cache: one working clone per project, refreshed in place.

use std::path::{Path, PathBuf};

use git2::{Oid, Repository};

use crate::credentials::check_url;
use crate::{Credentials, Error, FetchStats, Repo, Result};

/// What [`ensure_clone`] had to do.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum SyncAction {
    /// There was no clone: a fresh one was made.
    Cloned,
    /// The existing clone was fetched, reset and cleaned.
    Refreshed,
    /// The directory held a broken clone or a clone of another URL; it was deleted and
    /// cloned again.
    Recloned {
        /// Why the old clone was not reused.
        reason: String,
    },
}

/// The result of [`ensure_clone`].
#[derive(Debug)]
pub struct SyncReport {
    /// The clone, on local branch `branch` at `origin/<branch>`, with a clean work tree.
    pub repo: Repo,
    /// Whether it was cloned, refreshed or re-cloned.
    pub action: SyncAction,
    /// The commit the work tree is at.
    pub head: Oid,
    /// What the network transfer cost.
    pub stats: FetchStats,
}

/// Makes `dir` a clean clone of `url` on `branch`, reusing what is there.
///
/// - No directory (or an empty one): clones (all branches and tags, full history, since
///   comparisons and merge-bases need it).
/// - A healthy clone of `url`: fetches `origin`, points local `branch` at
///   `origin/<branch>`, checks it out, hard-resets, and removes untracked and ignored
///   files (`git clean -fdx`): leftovers of the previous run must not leak into this one.
/// - A clone that cannot be opened, whose HEAD or objects are unreadable, whose `origin`
///   is another URL, or whose reset fails: deleted and cloned again
///   ([`SyncAction::Recloned`] says why). A directory that is not empty and has no
///   `.git` is never deleted ([`Error::CacheDirNotAClone`]).
///
/// A network or authentication failure while refreshing is returned as
/// [`Error::Fetch`] and leaves the cache as it was. A missing branch is
/// [`Error::BranchMissing`].
pub fn ensure_clone(
    url: &str,
    dir: impl AsRef<Path>,
    branch: &str,
    creds: &Credentials,
) -> Result<SyncReport> {
    let dir = dir.as_ref();
    let url = check_url(url)?;
    let url: &str = url.as_ref();
    // Two processes refreshing one cache at once would reset each other's work tree.
    let _lock = CacheLock::acquire(dir)?;
    if is_missing_or_empty(dir) {
        return clone_fresh(url, dir, branch, creds, SyncAction::Cloned);
    }
    if dir.join(".git").exists() && !dir.join(".git").join(MARKER).exists() {
        // A checkout somebody made by hand under a cache path: never reset or delete it.
        return Err(Error::CacheDirNotAClone {
            path: dir.to_owned(),
        });
    }
    let reason = match healthy_clone(dir, url) {
        Ok(repo) => match refresh(repo, url, branch, creds) {
            Ok(report) => return Ok(report),
            Err(Refresh::Fatal(e)) => return Err(e),
            Err(Refresh::Corrupt(reason)) => reason,
        },
        Err(reason) => reason,
    };
    if !dir.join(".git").exists() {
        return Err(Error::CacheDirNotAClone {
            path: dir.to_owned(),
        });
    }
    tracing::warn!(dir = %dir.display(), %reason, "clone cache unusable; re-cloning");
    remove_dir(dir)?;
    clone_fresh(url, dir, branch, creds, SyncAction::Recloned { reason })
}

/// Written into `.git/` of every clone this module makes. Only such clones are ever reset,
/// cleaned or deleted: a person's own checkout at a cache path is left alone.
const MARKER: &str = "upkeep-clone-cache";

/// An exclusive advisory lock on `<dir>.lock`, held while a cache dir is refreshed.
struct CacheLock(std::fs::File);

impl CacheLock {
    fn acquire(dir: &Path) -> Result<Self> {
        let err = |source| Error::CacheDir {
            path: dir.to_owned(),
            source,
        };
        if let Some(parent) = dir.parent() {
            fs_err::create_dir_all(parent).map_err(err)?;
        }
        let mut name = dir.as_os_str().to_owned();
        name.push(".lock");
        let file = fs_err::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(std::path::PathBuf::from(name))
            .map_err(err)?
            .into_file();
        file.lock().map_err(err)?;
        Ok(Self(file))
    }
}

impl Drop for CacheLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

fn is_missing_or_empty(dir: &Path) -> bool {
    match fs_err::read_dir(dir) {
        Ok(mut entries) => entries.next().is_none(),
        Err(_) => !dir.exists(),
    }
}

fn remove_dir(dir: &Path) -> Result<()> {
    fs_err::remove_dir_all(dir).map_err(|source| Error::CacheDir {
        path: dir.to_owned(),
        source,
    })
}

/// Opens `dir` and checks what a refresh relies on; `Err` carries why it is unusable.
fn healthy_clone(dir: &Path, url: &str) -> std::result::Result<Repo, String> {
    let repo = Repository::open(dir).map_err(|e| format!("cannot open: {}", e.message()))?;
    if repo.is_bare() {
        return Err("it is a bare repository".to_owned());
    }
    let origin = repo
        .find_remote("origin")
        .map_err(|e| format!("no usable `origin` remote: {}", e.message()))?;
    let origin_url = origin.url().unwrap_or_default().to_owned();
    if origin_url != url {
        return Err(format!("`origin` is {origin_url}, not {url}"));
    }
    drop(origin);
    let head = repo
        .head()
        .and_then(|h| h.peel_to_commit())
        .map_err(|e| format!("HEAD is unreadable: {}", e.message()))?;
    head.tree()
        .map_err(|e| format!("HEAD's tree is unreadable: {}", e.message()))?;
    drop(head);
    Ok(Repo::from_git2(repo))
}

enum Refresh {
    /// Give up and report (network, auth, missing branch).
    Fatal(Error),
    /// The clone is damaged: re-clone.
    Corrupt(String),
}

fn refresh(
    repo: Repo,
    url: &str,
    branch: &str,
    creds: &Credentials,
) -> std::result::Result<SyncReport, Refresh> {
    let stats = match repo.fetch_named("origin", creds) {
        Ok(stats) => stats,
        // If the remote answers an ls-remote, the fetch failed on our side (a damaged
        // object met during negotiation): re-clone. Otherwise it is the network, the
        // server or the credentials, and the cache is kept for the next try.
        Err(Error::Fetch { source, .. })
            if is_local_damage(&source) && crate::ls_remote(url, creds).is_ok() =>
        {
            return Err(Refresh::Corrupt(format!(
                "fetch failed: {}",
                source.message()
            )));
        }
        Err(e) => return Err(Refresh::Fatal(e)),
    };
    match reset_to_origin(&repo, url, branch) {
        Ok(head) => Ok(SyncReport {
            repo,
            action: SyncAction::Refreshed,
            head,
            stats,
        }),
        Err(e @ Error::BranchMissing { .. }) => Err(Refresh::Fatal(e)),
        Err(e) => Err(Refresh::Corrupt(format!(
            "reset failed: {}",
            upkeep_text::error_chain(&e)
        ))),
    }
}

/// Whether a fetch failed on our side (a damaged object database or index), as opposed
/// to the network, the server or the credentials, which must not cost us the cache.
fn is_local_damage(e: &git2::Error) -> bool {
    use git2::ErrorClass;
    matches!(
        e.class(),
        ErrorClass::Odb
            | ErrorClass::Zlib
            | ErrorClass::Object
            | ErrorClass::Index
            | ErrorClass::Repository
            | ErrorClass::Reference
    )
}

fn clone_fresh(
    url: &str,
    dir: &Path,
    branch: &str,
    creds: &Credentials,
    action: SyncAction,
) -> Result<SyncReport> {
    let result = clone_into(url, dir, branch, creds);
    if result.is_err() && dir.exists() {
        // A half-made clone would only be detected as corrupt next time.
        let _ = fs_err::remove_dir_all(dir);
    }
    let (repo, head, stats) = result?;
    tracing::info!(url, dir = %dir.display(), ?action, ?stats, "cloned");
    Ok(SyncReport {
        repo,
        action,
        head,
        stats,
    })
}

fn clone_into(
    url: &str,
    dir: &Path,
    branch: &str,
    creds: &Credentials,
) -> Result<(Repo, Oid, FetchStats)> {
    let err = |source| Error::Clone {
        url: url.to_owned(),
        path: dir.to_owned(),
        source,
    };
    fs_err::create_dir_all(dir).map_err(|source| Error::CacheDir {
        path: dir.to_owned(),
        source,
    })?;
    // init + remote + fetch rather than RepoBuilder: the same fetch path as a refresh,
    // and `Remote::stats` gives the transfer numbers directly.
    let repo = Repository::init(dir).map_err(err)?;
    fs_err::write(
        repo.path().join(MARKER),
        "made by upkeep's clone cache; safe to delete\n",
    )
    .map_err(|source| Error::CacheDir {
        path: dir.to_owned(),
        source,
    })?;
    repo.remote("origin", url).map_err(err)?;
    let repo = Repo::from_git2(repo);
    let stats = match repo.fetch_named("origin", creds) {
        Ok(stats) => stats,
        Err(Error::Fetch { source, .. }) => return Err(err(source)),
        Err(e) => return Err(e),
    };
    let head = reset_to_origin(&repo, url, branch)?;
    Ok((repo, head, stats))
}

/// Points local `branch` at `origin/<branch>`, checks it out, hard-resets and cleans.
fn reset_to_origin(repo: &Repo, url: &str, branch: &str) -> Result<Oid> {
    let tracking = format!("refs/remotes/origin/{branch}");
    let target = match repo.repo.refname_to_id(&tracking) {
        Ok(oid) => oid,
        Err(e) if e.code() == git2::ErrorCode::NotFound => {
            return Err(Error::BranchMissing {
                url: url.to_owned(),
                branch: branch.to_owned(),
            });
        }
        Err(source) => {
            return Err(Error::Reset {
                repo: repo.path().to_owned(),
                rev: tracking,
                source,
            });
        }
    };
    repo.checkout_new_branch(branch, target)?;
    let reset_err = |source| Error::Reset {
        repo: repo.path().to_owned(),
        rev: format!("origin/{branch}"),
        source,
    };
    let object = repo.repo.find_object(target, None).map_err(reset_err)?;
    let mut checkout = git2::build::CheckoutBuilder::new();
    checkout.force();
    repo.repo
        .reset(&object, git2::ResetType::Hard, Some(&mut checkout))
        .map_err(reset_err)?;
    clean_work_tree(repo, &reset_err)?;
    Ok(target)
}

/// `git clean -fdx`: removes untracked and ignored files and directories.
fn clean_work_tree(repo: &Repo, reset_err: &dyn Fn(git2::Error) -> Error) -> Result<()> {
    let mut opts = git2::StatusOptions::new();
    opts.include_untracked(true)
        .include_ignored(true)
        .recurse_untracked_dirs(false)
        .recurse_ignored_dirs(false)
        .exclude_submodules(true);
    let statuses = repo.repo.statuses(Some(&mut opts)).map_err(reset_err)?;
    let leftovers: Vec<PathBuf> = statuses
        .iter()
        .filter(|s| {
            s.status()
                .intersects(git2::Status::WT_NEW | git2::Status::IGNORED)
        })
        .filter_map(|s| s.path().ok().map(|p| repo.path().join(p)))
        .collect();
    drop(statuses);
    for path in leftovers {
        let removed = if path.is_dir() && !path.is_symlink() {
            fs_err::remove_dir_all(&path)
        } else {
            fs_err::remove_file(&path)
        };
        removed.map_err(|source| Error::Clean {
            path: path.clone(),
            source,
        })?;
    }
    Ok(())
}

/// A directory name for a cache of `url`: readable (the URL's tail, with anything but
/// `[A-Za-z0-9._-]` turned into `_`) and distinct (a short hash of the whole URL).
/// Stable across runs and Rust versions (FNV-1a, not `DefaultHasher`).
#[must_use]
pub fn cache_dir_name(url: &str) -> String {
    let readable: String = url
        .trim_end_matches('/')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let readable = readable.trim_start_matches(['_', '.']);
    let tail: String = {
        let chars: Vec<char> = readable.chars().collect();
        chars[chars.len().saturating_sub(60)..].iter().collect()
    };
    let hash = url.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{tail}-{:08x}", hash >> 32)
}

#[cfg(test)]
mod tests {
    use super::cache_dir_name;

    #[test]
    fn cache_dir_names_are_readable_and_distinct() {
        let a = cache_dir_name("https://example.com/acme/api.git");
        let b = cache_dir_name("https://example.com/acme/api_git");
        assert!(a.starts_with("https___example.com_acme_api.git-"), "{a}");
        assert_ne!(a, b);
        assert_eq!(a, cache_dir_name("https://example.com/acme/api.git"));
    }
}

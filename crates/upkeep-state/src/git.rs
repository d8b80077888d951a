//! Records as refs in a git repository: one ref per key, one commit per write.

use std::path::PathBuf;

use upkeep_git::{Author, Credentials, Expect, Oid, PushRequest, Repo};

use crate::retry::RetryPolicy;
use crate::{Cas, Error, Expected, Key, Record, Result, StateStore, Version};

/// The file in each record commit's tree.
const RECORD_FILE: &str = "record";

/// Where a [`GitStore`] keeps its records and how it reaches them.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GitStoreConfig {
    /// The repository: anything the git layer takes (a bare path, `file://`,
    /// `https://…` with the token in `credentials`, ssh). A URL with a secret in it is
    /// refused.
    pub url: String,
    /// Credentials for it (the token travels only through git's credential machinery).
    pub credentials: Credentials,
    /// A local directory for the store's scratch bare repository (created if missing):
    /// the records' commits are built and fetched there. May be shared by several
    /// stores and processes of one machine; may be deleted at any time.
    pub scratch_dir: PathBuf,
    /// Where keys live: `refs/upkeep/` (the default) puts `rounds/r1/summary` at
    /// `refs/upkeep/rounds/r1/summary`. Use `refs/heads/upkeep/` on a server that refuses
    /// refs outside branches and tags.
    pub ref_prefix: String,
    /// How transient failures are retried.
    pub retry: RetryPolicy,
}

impl GitStoreConfig {
    /// A store in `url` with the default ref prefix and retry policy.
    #[must_use]
    pub fn new(url: impl Into<String>, credentials: Credentials, scratch_dir: PathBuf) -> Self {
        Self {
            url: url.into(),
            credentials,
            scratch_dir,
            ref_prefix: "refs/upkeep/".to_owned(),
            retry: RetryPolicy::default(),
        }
    }
}

/// Records in a git repository the team already has, one ref per key.
///
/// Key `rounds/r1/projects/api` is the ref `refs/upkeep/rounds/r1/projects/api`; each
/// write is a commit whose tree holds the record (a file named `record`) and whose
/// parent is the previous version, so the ref's history is the record's history, and a
/// version is a commit id.
///
/// - **Compare-and-swap** is the server's: a write pushes the new commit with the
///   expected old value (`git push --force-with-lease=<ref>:<old>`, or expect-absent),
///   and `receive-pack` updates the ref only if it still has that value. A delete pushes
///   the deletion the same way.
/// - **Writers never contend across keys**: each key is its own ref, so runners writing
///   different projects never touch the same ref.
/// - **One round trip to read a prefix**: [`StateStore::list`] lists the remote's refs
///   and downloads the missing commits of the matching ones on the same connection.
/// - **Transient failures are retried** with backoff and jitter ([`RetryPolicy`]).
/// - **A lost answer is resolved by re-reading.** When a push fails without a verdict
///   (the connection dropped, the server died after updating the ref), the store reads
///   the ref again: if it points at our commit, or past it, the write happened; if it is
///   still at the expected version, the push is retried; otherwise it is a conflict.
///   Every commit carries a random write id, so "our commit" cannot be anybody else's.
///   A delete reads the record first; if it is gone after a failed push, the delete
///   happened. (HTTP clients may replay a request whose connection died, so the server
///   can see a push twice; compare-and-swap makes the second one a no-op.)
/// - **No secrets written**: the token reaches git through a credential helper reading
///   a child-only variable, never a URL, `.git/config`, a commit or an error.
///
/// Every operation starts with the server's list of *all* its refs (git's protocol
/// before v2, which libgit2 and `receive-pack` speak, cannot ask for a prefix), so the
/// cost of each call grows with the refs in the repository: use a repository of its
/// own for the state rather than a busy code repository, and delete old rounds' keys
/// once they are no longer read.
#[derive(Debug)]
pub struct GitStore {
    config: GitStoreConfig,
    /// The checked, credential-free URL used everywhere.
    url: String,
}

impl GitStore {
    /// Opens the store described by `config`: checks the URL and the ref prefix and
    /// prepares the scratch repository. Does not contact the server.
    pub fn open(mut config: GitStoreConfig) -> Result<Self> {
        let url = upkeep_git::checked_remote_url(&config.url).map_err(|source| Error::Git {
            doing: "open the state store".into(),
            url: "(refused URL)".into(),
            transient: false,
            source: Box::new(source),
        })?;
        config.url.clone_from(&url);
        let prefix = &config.ref_prefix;
        if !prefix.starts_with("refs/")
            || !prefix.ends_with('/')
            || !upkeep_git::is_valid_ref_name(&format!("{prefix}key"))
        {
            return Err(Error::InvalidKey {
                key: prefix.clone(),
                reason: "the ref prefix must be a valid ref name below `refs/` ending in `/` \
                         (e.g. `refs/upkeep/`)"
                    .into(),
            });
        }
        let store = Self { config, url };
        store.scratch()?;
        Ok(store)
    }

    /// The ref holding `key`'s record.
    #[must_use]
    pub fn ref_name(&self, key: &Key) -> String {
        format!("{}{key}", self.config.ref_prefix)
    }

    /// The state repository's URL (credential-free).
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    fn scratch(&self) -> Result<Repo> {
        Repo::open_or_init_bare(&self.config.scratch_dir).map_err(|source| Error::Git {
            doing: format!(
                "prepare the scratch repository {}",
                self.config.scratch_dir.display()
            ),
            url: self.url.clone(),
            transient: false,
            source: Box::new(source),
        })
    }

    fn git_err(&self, doing: impl Into<String>, source: upkeep_git::Error) -> Error {
        let transient = source.is_transient();
        self.git_err_as(doing, source, transient)
    }

    fn git_err_as(
        &self,
        doing: impl Into<String>,
        source: upkeep_git::Error,
        transient: bool,
    ) -> Error {
        Error::Git {
            doing: doing.into(),
            url: self.url.clone(),
            transient,
            source: Box::new(source),
        }
    }

    /// Runs `op` until it succeeds, fails for good, or the retries are spent.
    fn retrying<T>(
        &self,
        doing: &dyn Fn() -> String,
        mut op: impl FnMut() -> upkeep_git::Result<T>,
    ) -> Result<T> {
        let attempts = self.config.retry.attempts.max(1);
        let mut attempt = 1;
        loop {
            match op() {
                Ok(t) => return Ok(t),
                Err(e) if e.is_transient() && attempt < attempts => {
                    attempt += 1;
                    tracing::debug!(url = %self.url, doing = %doing(), attempt, error = %e, "transient failure; retrying");
                    self.config.retry.wait(attempt);
                }
                Err(e) => return Err(self.git_err(doing(), e)),
            }
        }
    }

    /// The listed `(ref, tip)` pairs matching `wanted`, with their commits fetched.
    fn fetch(
        &self,
        scratch: &Repo,
        doing: &dyn Fn() -> String,
        wanted: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<(String, Oid)>> {
        self.retrying(doing, || {
            scratch.fetch_matching(&self.url, &self.config.credentials, wanted)
        })
    }

    /// The current tip of `key`'s ref, fetched.
    fn tip(&self, scratch: &Repo, key: &Key) -> Result<Option<Oid>> {
        let name = self.ref_name(key);
        let listed = self.fetch(scratch, &|| format!("read {key}"), &|n| n == name)?;
        Ok(listed.into_iter().next().map(|(_, id)| id))
    }

    fn record_at(&self, scratch: &Repo, key: &Key, commit: Oid) -> Result<Record> {
        let value = scratch
            .read_file_at(commit, RECORD_FILE)
            .map_err(|e| Error::Corrupt {
                key: key.to_string(),
                location: self.location(),
                detail: format!("commit {commit} of {}: {e}", self.ref_name(key)),
            })?;
        Ok(Record {
            key: key.clone(),
            version: Version::new(commit.to_string()),
            value,
        })
    }

    fn current(&self, scratch: &Repo, key: &Key) -> Result<Option<Record>> {
        self.tip(scratch, key)?
            .map(|tip| self.record_at(scratch, key, tip))
            .transpose()
    }

    /// Whether the ref's tip `tip` is our `commit` or was written on top of it.
    fn landed(scratch: &Repo, commit: Oid, tip: Option<Oid>) -> bool {
        tip.is_some_and(|tip| tip == commit || scratch.is_ancestor(commit, tip).unwrap_or(false))
    }

    /// The commit a version names, if it is one this repository can have.
    fn version_oid(version: &Version) -> Option<Oid> {
        Oid::from_str(version.as_str())
            .ok()
            .filter(|id| version.as_str().len() == 40 && !id.is_zero())
    }
}

impl StateStore for GitStore {
    fn location(&self) -> String {
        format!("git repository {}", self.url)
    }

    fn read(&self, key: &Key) -> Result<Option<Record>> {
        let scratch = self.scratch()?;
        self.current(&scratch, key)
    }

    fn list(&self, prefix: &Key) -> Result<Vec<Record>> {
        let scratch = self.scratch()?;
        let base = self.ref_name(prefix);
        let below = format!("{base}/");
        let listed = self.fetch(&scratch, &|| format!("list {prefix}"), &|n| {
            n == base || n.starts_with(&below)
        })?;
        let mut records = Vec::with_capacity(listed.len());
        for (name, tip) in listed {
            let text = name
                .strip_prefix(&self.config.ref_prefix)
                .unwrap_or_default();
            // A ref pushed there by hand that is not a key is not a record of ours.
            let Ok(key) = Key::new(text) else {
                tracing::debug!(name, "not a state key; skipped");
                continue;
            };
            records.push(self.record_at(&scratch, &key, tip)?);
        }
        records.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(records)
    }

    fn write(&self, key: &Key, expected: &Expected, value: &[u8]) -> Result<Cas<Record>> {
        let scratch = self.scratch()?;
        let doing = || format!("write {key}");
        let parent = match expected {
            Expected::Absent => None,
            Expected::Version(v) => match Self::version_oid(v) {
                Some(id) if scratch.has_object(id) => Some(id),
                // A version this runner never saw (or not a commit id at all): read the
                // ref, which brings its history here, and compare.
                _ => {
                    let current = self.current(&scratch, key)?;
                    if current.as_ref().map(|r| &r.version) != Some(v) {
                        return Ok(Cas::Conflict { current });
                    }
                    Self::version_oid(v)
                }
            },
        };
        let write_id = format!("{:032x}", rand::random::<u128>());
        let message = format!("upkeep-state: write {key}\n\nwrite-id: {write_id}\n");
        let author = Author::new("upkeep", "state@upkeep.invalid");
        let commit = scratch
            .commit_files(parent, &[(RECORD_FILE, value)], &message, &author)
            .map_err(|e| self.git_err(doing(), e))?;
        let ours = Record {
            key: key.clone(),
            version: Version::new(commit.to_string()),
            value: value.to_vec(),
        };
        // Our commit's parent is the expected tip: it fast-forwards by construction, so
        // the server's compare-and-swap is the only check needed (one round trip less).
        let request = PushRequest::single(
            commit,
            self.ref_name(key),
            parent.map_or(Expect::Absent, Expect::Tip),
        )
        .server_checked();
        let attempts = self.config.retry.attempts.max(1);
        let mut attempt = 1;
        loop {
            let Err(error) = scratch.push(&self.url, &self.config.credentials, &request) else {
                return Ok(Cas::Done(ours));
            };
            // Whatever went wrong, the ref now says what happened.
            let tip = self.tip(&scratch, key)?;
            if Self::landed(&scratch, commit, tip) {
                tracing::debug!(%key, %commit, error = %error, "the push's answer was lost, but it landed");
                return Ok(Cas::Done(ours));
            }
            if tip != parent {
                let current = tip
                    .map(|tip| self.record_at(&scratch, key, tip))
                    .transpose()?;
                return Ok(Cas::Conflict { current });
            }
            if matches!(error, upkeep_git::Error::PushRejected { .. })
                && let Some(other) = self.colliding_key(key)
            {
                return Err(Error::KeyCollides {
                    key: key.to_string(),
                    other,
                });
            }
            let transient = error.is_transient() || is_ref_lock_failure(&error);
            if transient && attempt < attempts {
                attempt += 1;
                tracing::debug!(%key, attempt, error = %error, "push failed; retrying");
                self.config.retry.wait(attempt);
                continue;
            }
            return Err(self.git_err_as(doing(), error, transient));
        }
    }

    fn delete(&self, key: &Key, expected: &Version) -> Result<Cas<()>> {
        let scratch = self.scratch()?;
        // Read first: a record that is not at the expected version is a conflict, and one
        // that was there just before our push and is gone after it was deleted by it
        // (even when the answer was lost, or the transport replayed the request).
        let current = self.current(&scratch, key)?;
        let old = match (&current, Self::version_oid(expected)) {
            (Some(r), Some(old)) if &r.version == expected => old,
            _ => return Ok(Cas::Conflict { current }),
        };
        let request = PushRequest::delete(self.ref_name(key), Expect::Tip(old)).server_checked();
        let attempts = self.config.retry.attempts.max(1);
        let mut attempt = 1;
        loop {
            let Err(error) = scratch.push(&self.url, &self.config.credentials, &request) else {
                return Ok(Cas::Done(()));
            };
            match self.tip(&scratch, key)? {
                None => {
                    tracing::debug!(%key, error = %error, "the delete's answer was lost, but it landed");
                    return Ok(Cas::Done(()));
                }
                Some(tip) if tip == old => {}
                Some(tip) => {
                    return Ok(Cas::Conflict {
                        current: Some(self.record_at(&scratch, key, tip)?),
                    });
                }
            }
            let transient = error.is_transient() || is_ref_lock_failure(&error);
            if transient && attempt < attempts {
                attempt += 1;
                tracing::debug!(%key, attempt, error = %error, "delete failed; retrying");
                self.config.retry.wait(attempt);
                continue;
            }
            return Err(self.git_err_as(format!("delete {key}"), error, transient));
        }
    }
}

impl GitStore {
    /// After a push git refused although the ref was where we expected it: the key of a
    /// ref in the way (`refs/upkeep/a` exists, so `refs/upkeep/a/b` cannot be created, or
    /// the reverse), if that is why.
    fn colliding_key(&self, key: &Key) -> Option<String> {
        let listed = upkeep_git::ls_remote(&self.url, &self.config.credentials).ok()?;
        let own = self.ref_name(key);
        listed.into_iter().find_map(|(name, _)| {
            let blocks =
                own.starts_with(&format!("{name}/")) || name.starts_with(&format!("{own}/"));
            blocks.then(|| {
                name.strip_prefix(&self.config.ref_prefix)
                    .unwrap_or(&name)
                    .to_owned()
            })
        })
    }
}

/// The server could not take the ref's lock (another update of it, or of the packed
/// refs, was in progress; a stale lock file): the ref did not move, and trying again
/// later is right.
fn is_ref_lock_failure(error: &upkeep_git::Error) -> bool {
    match error {
        upkeep_git::Error::PushRejected { reason, .. } => {
            let r = reason.to_ascii_lowercase();
            [
                "failed to lock",
                "cannot lock ref",
                "unable to create",
                "file exists",
            ]
            .iter()
            .any(|needle| r.contains(needle))
                && !r.contains("exists; cannot create")
        }
        _ => false,
    }
}

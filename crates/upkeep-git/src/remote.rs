//! Talking to remotes with libgit2: fetch and ls-remote.

use git2::{AutotagOption, Direction, FetchOptions, Oid};

use crate::credentials::check_url;
use crate::{Credentials, Error, Repo, Result};

/// What a fetch transferred (from libgit2's transfer progress), for reporting and
/// benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct FetchStats {
    /// Objects received from the remote (0 when already up to date).
    pub received_objects: usize,
    /// Bytes received from the remote.
    pub received_bytes: usize,
    /// Objects in the received pack(s) that were indexed.
    pub indexed_objects: usize,
}

impl FetchStats {
    fn from_progress(p: &git2::Progress<'_>) -> Self {
        Self {
            received_objects: p.received_objects(),
            received_bytes: p.received_bytes(),
            indexed_objects: p.indexed_objects(),
        }
    }
}

pub(crate) fn fetch_options(creds: &Credentials) -> FetchOptions<'_> {
    let mut opts = FetchOptions::new();
    opts.remote_callbacks(creds.callbacks());
    opts.download_tags(AutotagOption::All);
    // A branch or tag deleted upstream must disappear here too, or a refresh would keep
    // resolving it (and a stale tag would skew the "next version").
    opts.prune(git2::FetchPrune::On);
    opts
}

impl Repo {
    /// Fetches `refspecs` (e.g. `+refs/heads/main:refs/remotes/origin/main`) from
    /// `remote_url` with an anonymous remote, so nothing about the remote (and no
    /// credential) is written to `.git/config`. Tags pointing into the fetched history
    /// come along.
    pub fn fetch(
        &self,
        remote_url: &str,
        refspecs: &[&str],
        creds: &Credentials,
    ) -> Result<FetchStats> {
        let url = check_url(remote_url)?;
        let url: &str = &url;
        let err = |source| Error::Fetch {
            url: url.to_owned(),
            refspecs: refspecs.join(" "),
            repo: self.path().to_owned(),
            source,
        };
        let mut remote = self.repo.remote_anonymous(url).map_err(err)?;
        let mut opts = fetch_options(creds);
        remote.fetch(refspecs, Some(&mut opts), None).map_err(err)?;
        let stats = FetchStats::from_progress(&remote.stats());
        tracing::debug!(url, refspecs = %refspecs.join(" "), ?stats, "fetched");
        Ok(stats)
    }

    /// Fetches with the refspecs configured for remote `name` (e.g. `origin`).
    pub(crate) fn fetch_named(&self, name: &str, creds: &Credentials) -> Result<FetchStats> {
        let mut remote = self.repo.find_remote(name).map_err(|source| Error::Fetch {
            url: name.to_owned(),
            refspecs: String::new(),
            repo: self.path().to_owned(),
            source,
        })?;
        let url = remote.url().unwrap_or(name).to_owned();
        let mut opts = fetch_options(creds);
        let no_refspecs: &[&str] = &[];
        remote
            .fetch(no_refspecs, Some(&mut opts), None)
            .map_err(|source| Error::Fetch {
                url: url.clone(),
                refspecs: "(configured)".to_owned(),
                repo: self.path().to_owned(),
                source,
            })?;
        let stats = FetchStats::from_progress(&remote.stats());
        tracing::debug!(url, ?stats, "fetched");
        Ok(stats)
    }
}

impl Repo {
    /// Lists the refs of `remote_url` for which `wanted(name)` holds and makes sure this
    /// repository has their commits, over **one** connection: the listing, then (only if
    /// something is missing) one download of exactly those refs' objects. Returns the
    /// listed `(ref, tip)` pairs in the server's order.
    ///
    /// For state kept as many small refs (one per record): a prefix is listed and read
    /// in one round trip, however many refs it holds. Each listed ref is also set locally
    /// under the same name (best effort; another thread updating the same ref at the same
    /// moment wins), so the next download sends them as "haves" and only new commits
    /// travel. No other ref, no `FETCH_HEAD` and no configuration is written, so several
    /// threads may call this on one repository at once; their downloads take the
    /// repository's lock files in turn (libgit2 rewrites `shallow` after each), and one
    /// that finds a lock taken fails with a transient error ([`Error::is_transient`]),
    /// to be tried again.
    pub fn fetch_matching(
        &self,
        remote_url: &str,
        creds: &Credentials,
        wanted: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<(String, Oid)>> {
        let url = check_url(remote_url)?;
        let url: &str = &url;
        let list_err = |source| Error::LsRemote {
            url: url.to_owned(),
            source,
        };
        let mut remote = self.repo.remote_anonymous(url).map_err(list_err)?;
        let mut connection = remote
            .connect_auth(Direction::Fetch, Some(creds.callbacks()), None)
            .map_err(list_err)?;
        let listed: Vec<(String, Oid)> = connection
            .list()
            .map_err(list_err)?
            .iter()
            .filter(|head| wanted(head.name()))
            .map(|head| (head.name().to_owned(), head.oid()))
            .collect();
        let missing: Vec<String> = listed
            .iter()
            .filter(|(_, id)| self.repo.find_object(*id, None).is_err())
            .map(|(name, _)| format!("+{name}:{name}"))
            .collect();
        if !missing.is_empty() {
            let mut opts = FetchOptions::new();
            opts.remote_callbacks(creds.callbacks());
            opts.download_tags(AutotagOption::None);
            connection
                .remote()
                .download(&missing, Some(&mut opts))
                .map_err(|source| Error::Fetch {
                    url: url.to_owned(),
                    refspecs: missing.join(" "),
                    repo: self.path().to_owned(),
                    source,
                })?;
            tracing::debug!(url, refs = missing.len(), "downloaded");
        }
        for (name, id) in &listed {
            if let Err(e) = self.repo.reference(name, *id, true, "upkeep: fetched") {
                tracing::debug!(name, error = %e, "local ref not updated");
            }
        }
        Ok(listed)
    }
}

/// Lists the refs `remote_url` advertises (branches, tags, `HEAD`, peeled tag entries
/// `refs/tags/x^{}` as the server sends them), without a local repository.
pub fn ls_remote(remote_url: &str, creds: &Credentials) -> Result<Vec<(String, Oid)>> {
    let url = check_url(remote_url)?;
    let url: &str = &url;
    let err = |source| Error::LsRemote {
        url: url.to_owned(),
        source,
    };
    let mut remote = git2::Remote::create_detached(url).map_err(err)?;
    let connection = remote
        .connect_auth(Direction::Fetch, Some(creds.callbacks()), None)
        .map_err(err)?;
    let refs = connection
        .list()
        .map_err(err)?
        .iter()
        .map(|head| (head.name().to_owned(), head.oid()))
        .collect();
    Ok(refs)
}

/// The tip of `remote_ref` on `remote_url`, or `None` if the remote has no such ref.
pub(crate) fn remote_tip(
    remote_url: &str,
    remote_ref: &str,
    creds: &Credentials,
) -> Result<Option<Oid>> {
    Ok(ls_remote(remote_url, creds)?
        .into_iter()
        .find(|(name, _)| name == remote_ref)
        .map(|(_, oid)| oid))
}

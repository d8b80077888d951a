//! The crate's error type: one variant per operation, with the inputs as fields.

use std::path::PathBuf;

use git2::Oid;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, and while doing what.
///
/// Remote URLs in these variants are always credential-free (URLs with a password are
/// refused up front), and command output is scrubbed of the token before it lands here.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `path` is not a readable git repository.
    #[error("cannot open git repository at {}", path.display())]
    Open {
        /// The directory that was opened.
        path: PathBuf,
        /// libgit2's reason.
        source: git2::Error,
    },
    /// A remote URL carried a password or token in its user-info part.
    #[error("remote URL {url} has credentials in it; pass a token through `Credentials` instead")]
    CredentialsInUrl {
        /// The URL with the secret part replaced by `***`.
        url: String,
    },
    /// The clone cache directory exists, is not empty and is not a git clone, so it is
    /// not ours to delete.
    #[error("cache directory {} is not empty and is not a git clone; refusing to delete it", path.display())]
    CacheDirNotAClone {
        /// The cache directory.
        path: PathBuf,
    },
    /// Creating or removing the clone cache directory failed.
    #[error("cannot prepare cache directory {}", path.display())]
    CacheDir {
        /// The cache directory.
        path: PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// Cloning `url` into `path` failed.
    #[error("cannot clone {url} into {}", path.display())]
    Clone {
        /// The remote (credential-free).
        url: String,
        /// Where the clone was going.
        path: PathBuf,
        /// libgit2's reason.
        source: git2::Error,
    },
    /// Fetching from `url` failed.
    #[error("cannot fetch {refspecs} from {url} into {}", repo.display())]
    Fetch {
        /// The remote (credential-free).
        url: String,
        /// The refspecs asked for, space-separated.
        refspecs: String,
        /// The local repository.
        repo: PathBuf,
        /// libgit2's reason.
        source: git2::Error,
    },
    /// Listing the refs of `url` failed.
    #[error("cannot list the refs of {url}")]
    LsRemote {
        /// The remote (credential-free).
        url: String,
        /// libgit2's reason.
        source: git2::Error,
    },
    /// The remote has no branch of that name.
    #[error("{url} has no branch `{branch}`")]
    BranchMissing {
        /// The remote (credential-free).
        url: String,
        /// The branch that was asked for.
        branch: String,
    },
    /// Resetting or cleaning the work tree of a clone failed.
    #[error("cannot reset {} to {rev}", repo.display())]
    Reset {
        /// The repository.
        repo: PathBuf,
        /// What it was being reset to.
        rev: String,
        /// libgit2's reason.
        source: git2::Error,
    },
    /// Removing an untracked or ignored file while cleaning a work tree failed.
    #[error("cannot remove {} while cleaning the work tree", path.display())]
    Clean {
        /// The file or directory that could not be removed.
        path: PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// The push could not be carried out at all (no per-ref verdict): the remote was
    /// unreachable, authentication failed, or `git` could not be run.
    #[error("cannot push {refspecs} to {remote}: {detail}")]
    Push {
        /// The remote (credential-free).
        remote: String,
        /// The refspecs of the request, space-separated.
        refspecs: String,
        /// What `git push` said (token scrubbed), or why it could not run.
        detail: String,
    },
    /// The server refused the update of `remote_ref`, e.g. a `pre-receive` hook declined
    /// it or a protected branch.
    #[error("push of {remote_ref} rejected by the remote: {reason}")]
    PushRejected {
        /// The ref whose update was refused.
        remote_ref: String,
        /// The server's verdict and any `remote:` lines (hook output).
        reason: String,
    },
    /// Compare-and-swap failed: the remote ref is not where the request expected it.
    /// Nothing was changed.
    #[error(
        "{remote_ref} moved on the remote: expected {}, found {}",
        show_tip(*expected),
        show_tip(*actual)
    )]
    RemoteMoved {
        /// The ref being updated.
        remote_ref: String,
        /// Where it was expected to be (`None`: absent).
        expected: Option<Oid>,
        /// Where it is (`None`: absent, or unknown if the push raced and re-reading failed).
        actual: Option<Oid>,
    },
    /// The update is not a fast-forward and the request did not ask for force.
    #[error("{remote_ref}: {to} is not a fast-forward of {from}")]
    NotFastForward {
        /// The ref being updated.
        remote_ref: String,
        /// The remote ref's current tip.
        from: Oid,
        /// The commit that was to be pushed.
        to: Oid,
    },
    /// A short id matches more than one commit.
    #[error("`{rev}` is ambiguous in {}: it matches {}", repo.display(), list_oids(candidates))]
    AmbiguousRev {
        /// The repository.
        repo: PathBuf,
        /// What was asked for.
        rev: String,
        /// Every commit it matches.
        candidates: Vec<Oid>,
    },
    /// No branch, tag or commit has that name or id prefix.
    #[error("unknown revision `{rev}` in {}", repo.display())]
    UnknownRev {
        /// The repository.
        repo: PathBuf,
        /// What was asked for.
        rev: String,
    },
    /// The revision exists but could not be used (e.g. it names a blob, not a commit).
    #[error("cannot use revision `{rev}` in {}", repo.display())]
    BadRev {
        /// The repository.
        repo: PathBuf,
        /// What was asked for.
        rev: String,
        /// libgit2's reason.
        source: git2::Error,
    },
    /// There is no file at `path` in revision `rev`.
    #[error("{} does not exist at {rev}", path.display())]
    FileMissing {
        /// The revision as asked for.
        rev: String,
        /// The path inside the tree.
        path: PathBuf,
    },
    /// A history walk or comparison failed (corrupt object, missing parent, ...).
    #[error("cannot {op} in {}", repo.display())]
    History {
        /// The repository.
        repo: PathBuf,
        /// What was being computed, with its arguments.
        op: String,
        /// libgit2's reason.
        source: git2::Error,
    },
    /// Creating, resetting or switching to a local branch failed.
    #[error("cannot switch {} to branch `{branch}`", repo.display())]
    Branch {
        /// The repository.
        repo: PathBuf,
        /// The branch.
        branch: String,
        /// libgit2's reason.
        source: git2::Error,
    },
    /// Reading the work tree status, staging or committing failed.
    #[error("cannot {op} in {}", repo.display())]
    WorkTree {
        /// The repository.
        repo: PathBuf,
        /// What was being done (`stage changes`, `commit`, `read status`).
        op: &'static str,
        /// libgit2's reason.
        source: git2::Error,
    },
    /// Listing or creating a tag failed.
    #[error("cannot {op} tag {name} in {}", repo.display())]
    Tag {
        /// The repository.
        repo: PathBuf,
        /// `list` or `create`.
        op: &'static str,
        /// The tag name (empty when listing).
        name: String,
        /// libgit2's reason.
        source: git2::Error,
    },
}

impl Error {
    /// Whether the failure looks transient, so that trying again later may work: the
    /// network or the server had a bad moment (connection refused, reset or dropped, a
    /// timeout, HTTP 5xx, 408 or 429). Authentication failures, missing repositories,
    /// refusals by the server (hooks, protection, compare-and-swap) and bad requests are
    /// not. Judged from libgit2's error class and code and from what `git push` said.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            Self::LsRemote { source, .. }
            | Self::Fetch { source, .. }
            | Self::Clone { source, .. } => {
                // Another download into the same repository holds one of its lock files
                // (libgit2 rewrites `shallow` after each): it is over in moments.
                if source.code() == git2::ErrorCode::Locked {
                    return true;
                }
                if matches!(
                    source.code(),
                    git2::ErrorCode::Auth | git2::ErrorCode::Certificate
                ) || message_is_permanent(source.message())
                {
                    return false;
                }
                source.class() == git2::ErrorClass::Net || message_is_transient(source.message())
            }
            Self::Push { detail, .. } => {
                message_is_transient(detail) && !message_is_permanent(detail)
            }
            _ => false,
        }
    }
}

fn message_is_transient(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "status code: 5",
        "status code: 429",
        "status code: 408",
        "returned error: 5",
        "returned error: 429",
        "returned error: 408",
        "http 5",
        "rpc failed",
        "hung up",
        "unexpected disconnect",
        "early eof",
        "unexpected eof",
        "connection",
        "broken pipe",
        "timed out",
        "did not finish within",
        "empty reply",
        "failed to connect",
        "could not resolve host",
        "failed to send request",
        "failed to receive",
        "short read",
        "transfer closed",
        "sideband",
        "invalid packet",
        "bad packet",
    ]
    .iter()
    .any(|needle| m.contains(needle))
}

fn message_is_permanent(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "authentication",
        "status code: 401",
        "status code: 403",
        "status code: 404",
        "returned error: 401",
        "returned error: 403",
        "returned error: 404",
        "not found",
        "not appear to be a git repository",
        "could not find repository",
        "permission denied",
    ]
    .iter()
    .any(|needle| m.contains(needle))
}

fn show_tip(oid: Option<Oid>) -> String {
    oid.map_or_else(|| "no ref".to_owned(), |o| o.to_string())
}

fn list_oids(oids: &[Oid]) -> String {
    oids.iter()
        .map(Oid::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push_error(detail: &str) -> Error {
        Error::Push {
            remote: "https://example.com/state.git".into(),
            refspecs: "x:refs/upkeep/a".into(),
            detail: detail.into(),
        }
    }

    #[test]
    fn a_lock_held_by_another_download_is_transient() {
        let locked = Error::Fetch {
            url: "/srv/state.git".into(),
            refspecs: "+refs/upkeep/a:refs/upkeep/a".into(),
            repo: "/tmp/scratch".into(),
            source: git2::Error::new(
                git2::ErrorCode::Locked,
                git2::ErrorClass::Os,
                "failed to lock file '/tmp/scratch/shallow.lock' for writing",
            ),
        };
        assert!(locked.is_transient());
    }

    #[test]
    fn push_failures_are_classified_by_what_git_said() {
        for transient in [
            "error: RPC failed; HTTP 502 curl 22 The requested URL returned error: 502",
            "fatal: the remote end hung up unexpectedly",
            "send-pack: unexpected disconnect while reading sideband packet",
            "fatal: unable to access 'https://x/': Failed to connect to x port 443: Connection refused",
            "`git push` did not finish within 600s and was killed",
            "error: RPC failed; curl 18 transfer closed with outstanding read data remaining",
        ] {
            assert!(push_error(transient).is_transient(), "{transient}");
        }
        for permanent in [
            "remote: Invalid username or password.\nfatal: Authentication failed for 'https://x/'",
            "fatal: unable to access 'https://x/': The requested URL returned error: 403",
            "remote: Repository not found.\nfatal: repository 'https://x/' not found",
            "fatal: '/tmp/nope.git' does not appear to be a git repository",
            "cannot run `git push`: No such file or directory",
        ] {
            assert!(!push_error(permanent).is_transient(), "{permanent}");
        }
        assert!(
            !Error::PushRejected {
                remote_ref: "refs/upkeep/a".into(),
                reason: "[remote rejected] (pre-receive hook declined)".into(),
            }
            .is_transient()
        );
    }

    #[test]
    fn libgit2_failures_are_classified_by_class_code_and_message() {
        use git2::{ErrorClass as C, ErrorCode as E};
        let ls = |code, class, message: &str| Error::LsRemote {
            url: "https://example.com/state.git".into(),
            source: git2::Error::new(code, class, message),
        };
        assert!(ls(E::GenericError, C::Net, "unexpected EOF").is_transient());
        assert!(ls(E::GenericError, C::Http, "unexpected http status code: 503").is_transient());
        assert!(
            ls(
                E::GenericError,
                C::Os,
                "failed to connect to 127.0.0.1: Connection refused"
            )
            .is_transient()
        );
        assert!(
            !ls(
                E::Auth,
                C::Http,
                "authentication required but no callback set"
            )
            .is_transient()
        );
        assert!(!ls(E::GenericError, C::Http, "unexpected http status code: 404").is_transient());
        assert!(
            !ls(
                E::NotFound,
                C::Os,
                "failed to resolve path '/nope': No such file or directory"
            )
            .is_transient()
        );
        assert!(
            !ls(
                E::GenericError,
                C::Repository,
                "could not find repository at '/x'"
            )
            .is_transient()
        );
    }
}

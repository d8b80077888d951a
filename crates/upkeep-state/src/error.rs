//! The crate's error type.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, and while doing what.
///
/// A compare-and-swap that finds another version is not an error (see
/// [`Cas::Conflict`](crate::Cas::Conflict)). Locations are credential-free: the git
/// store's URL is refused if it carries a secret, and git's output is scrubbed of the
/// token before it gets here.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A key is not in the form keys must have.
    #[error("invalid state key `{key}`: {reason}")]
    InvalidKey {
        /// The key as given.
        key: String,
        /// Why it was refused.
        reason: String,
    },
    /// The key cannot hold a record because another key is in the way: a record cannot
    /// sit at a prefix of another record's key (`a` and `a/b`), in git as in a directory.
    #[error("state key `{key}` collides with `{other}`: one key cannot be a prefix of another")]
    KeyCollides {
        /// The key being written.
        key: String,
        /// The existing key in the way.
        other: String,
    },
    /// A stored record cannot be read (a file or commit that is not a record).
    #[error("the record at `{key}` in {location} is unreadable: {detail}")]
    Corrupt {
        /// The key.
        key: String,
        /// The store ([`StateStore::location`](crate::StateStore::location)).
        location: String,
        /// What is wrong with it.
        detail: String,
    },
    /// A file system operation of the local store failed.
    #[error("cannot {doing} {}", path.display())]
    Io {
        /// What was being done (`write`, `lock`, `read`, ...).
        doing: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// A git operation of the git store failed (after the retries of transient failures).
    #[error("cannot {doing} in {url}")]
    Git {
        /// What was being done, with the key (`write rounds/r1/summary`).
        doing: String,
        /// The state repository (credential-free).
        url: String,
        /// Whether the last failure looked transient (a dropped connection, a 5xx): trying
        /// again later may work. Authentication, a missing repository or a refusal by the
        /// server are not.
        transient: bool,
        /// The git layer's error.
        source: Box<upkeep_git::Error>,
    },
    /// A value could not be encoded or decoded as JSON.
    #[error("the value at `{key}` is not the expected JSON")]
    Json {
        /// The key.
        key: String,
        /// serde's reason.
        source: serde_json::Error,
    },
    /// A read-modify-write kept losing races: every attempt found a newer version.
    #[error("`{key}` changed under every one of {attempts} attempts to update it")]
    Contended {
        /// The key.
        key: String,
        /// How many attempts were made.
        attempts: u32,
    },
    /// The caller's lease is gone: released, or taken over by another owner after it
    /// expired. The caller must stop acting on what the lease protected.
    #[error("the lease on `{key}` held by {owner} (fencing {fencing}) is lost: {now}")]
    LeaseLost {
        /// The leased key.
        key: String,
        /// The caller (the owner the lease was for).
        owner: String,
        /// The caller's fencing number.
        fencing: u64,
        /// What happened to it.
        now: String,
    },
    /// A lease duration too large to add to the current time.
    #[error("a lease of {lease:?} from {from} is out of range")]
    LeaseTooLong {
        /// The requested duration.
        lease: std::time::Duration,
        /// The time it was counted from.
        from: DateTime<Utc>,
    },
}

impl Error {
    /// Whether trying again later might succeed (see [`Error::Git::transient`]): the
    /// state repository was unreachable or failing, or the key was contended.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Git { transient, .. } => *transient,
            Self::Contended { .. } => true,
            _ => false,
        }
    }
}

//! Errors of the deploy token.

use chrono::{DateTime, Utc};

use crate::text::{name as n, reason as r};

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a lock operation did not happen. In every case the lock ref is unchanged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Somebody else holds a live lease.
    #[error(
        "the `{name}` token is held by {} since {since} ({}); it expires at {expires_at}",
        n(holder),
        r(reason)
    )]
    Held {
        /// Lock name.
        name: String,
        /// Who holds it.
        holder: String,
        /// Their reason.
        reason: String,
        /// When they acquired it.
        since: DateTime<Utc>,
        /// When their lease ends.
        expires_at: DateTime<Utc>,
    },
    /// The caller tried to release, renew or verify a lock somebody else holds.
    #[error("the `{name}` token is held by {}, not by {}", n(holder), n(you))]
    NotHolder {
        /// Lock name.
        name: String,
        /// Who holds it.
        holder: String,
        /// Who asked.
        you: String,
    },
    /// The caller tried to renew or verify a lock nobody holds.
    #[error("the `{name}` token is not held by anyone")]
    NotHeld {
        /// Lock name.
        name: String,
    },
    /// A fencing check failed: the caller held the token with that fencing number, and
    /// it is no longer current (taken over, stolen, released, expired, or re-acquired).
    #[error("the `{name}` token you held (fencing number {yours}) is no longer current: {current}")]
    Stale {
        /// Lock name.
        name: String,
        /// The fencing number the caller recorded.
        yours: u64,
        /// What the lock says now (names already made safe to show).
        current: String,
    },
    /// A renewal would end the lease earlier than it ends now.
    #[error(
        "renewing would shorten your lease of the `{name}` token: it runs until {expires_at}, \
         and the lease asked for ends at {asked}"
    )]
    WouldShorten {
        /// Lock name.
        name: String,
        /// When the lease ends now.
        expires_at: DateTime<Utc>,
        /// When the renewal would end it.
        asked: DateTime<Utc>,
    },
    /// A reason longer than [`MAX_REASON`](crate::MAX_REASON) characters.
    #[error("the reason is {length} characters long; at most {max} are allowed")]
    ReasonTooLong {
        /// Its length in characters.
        length: usize,
        /// The limit.
        max: usize,
    },
    /// Nothing says who is operating: no name given, no git `user.name`, no login name.
    #[error("cannot tell who you are")]
    UnknownActor,
    /// An operator name that cannot be shown safely to others.
    #[error("`{name}` cannot be used as your name: {problem}")]
    InvalidActor {
        /// The name (made safe to show, shortened).
        name: String,
        /// What is wrong with it.
        problem: String,
    },
    /// `steal` was called without a reason.
    #[error("stealing the `{name}` token needs a reason")]
    ReasonRequired {
        /// Lock name.
        name: String,
    },
    /// Others kept changing the lock while we tried; gave up after `attempts`.
    #[error("the `{name}` token kept changing under us; gave up after {attempts} attempts")]
    Contended {
        /// Lock name.
        name: String,
        /// Attempts made.
        attempts: u32,
    },
    /// The lock ref points at a commit whose `lock.json` cannot be read. `steal --force`
    /// replaces such a state.
    #[error("the `{name}` token's state at {commit} is unreadable: {message}")]
    Corrupt {
        /// Lock name.
        name: String,
        /// The commit.
        commit: String,
        /// What is wrong with it.
        message: String,
    },
    /// A lease so long that its end cannot be represented.
    #[error("a lease of {lease} is too long")]
    LeaseTooLong {
        /// The lease asked for, as written.
        lease: String,
    },
    /// The lock name cannot be used in a ref.
    #[error("`{name}` is not a valid lock name (letters, digits, `-`, `_`, `.`; a valid ref name)")]
    InvalidName {
        /// The name given.
        name: String,
    },
    /// A git operation failed (the remote unreachable, a push refused by a hook, ...).
    #[error("cannot {doing} for the `{name}` token")]
    Git {
        /// Lock name.
        name: String,
        /// What was being done.
        doing: &'static str,
        /// The git error (boxed: git errors carry paths and URLs).
        #[source]
        source: Box<upkeep_git::Error>,
    },
    /// A preflight check failed; the token was not acquired.
    #[error("preflight check `{name}` failed ({status}); not acquiring")]
    PreflightFailed {
        /// The check's name.
        name: String,
        /// The command.
        command: String,
        /// How it ended.
        status: String,
        /// Its combined output (tail).
        output: String,
    },
    /// A preflight check could not be started.
    #[error("cannot run preflight check `{command}`")]
    PreflightSpawn {
        /// The command.
        command: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

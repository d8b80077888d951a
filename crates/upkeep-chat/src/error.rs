//! The crate's error type.
//!
//! Slack answers most failures with HTTP 200 and `{"ok":false,"error":"…"}`; the adapter
//! normalises the codes a user can act on into their own variants so that binaries can
//! attach a hint (invite the app, add a scope, check the token) without string matching.
//! No variant ever holds the token: only the method called and the channel.

use std::time::Duration;

/// Errors from posting to, or reading from, the team channel.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChatError {
    /// `channel_not_found`: the channel id is wrong, or private and the app is not in it.
    #[error("Slack channel {channel} not found (calling {method})")]
    ChannelNotFound {
        /// Web API method called.
        method: String,
        /// Channel id as configured.
        channel: String,
    },
    /// `not_in_channel`: the app must be invited to the channel.
    #[error("the Slack app is not a member of channel {channel} (calling {method})")]
    NotInChannel {
        /// Web API method called.
        method: String,
        /// Channel id as configured.
        channel: String,
    },
    /// `invalid_auth`, `not_authed`, `token_revoked`, `account_inactive`.
    #[error("Slack rejected the token: {code} (calling {method})")]
    InvalidAuth {
        /// Web API method called.
        method: String,
        /// Slack's error code.
        code: String,
    },
    /// `missing_scope`: the token lacks a scope; `needed` names it.
    #[error("the Slack token lacks the scope {needed} (calling {method})")]
    MissingScope {
        /// Web API method called.
        method: String,
        /// The scope(s) Slack says are needed.
        needed: String,
    },
    /// Any other `ok:false` answer.
    #[error("Slack answered {code} (calling {method})")]
    Api {
        /// Web API method called.
        method: String,
        /// Slack's error code.
        code: String,
    },
    /// Still rate limited after all retries.
    #[error("Slack kept rate limiting {method} after {attempts} attempts")]
    RateLimited {
        /// Web API method called.
        method: String,
        /// Attempts made.
        attempts: u32,
        /// The last `Retry-After`, if Slack sent one.
        retry_after: Option<Duration>,
    },
    /// The request did not get an answer (connection refused or dropped, 5xx), after retries.
    #[error("could not reach Slack calling {method} after {attempts} attempts: {detail}")]
    Transport {
        /// Web API method called.
        method: String,
        /// Attempts made.
        attempts: u32,
        /// What went wrong, without URLs or headers.
        detail: String,
    },
    /// Slack answered something the client could not decode.
    #[error("unexpected answer from Slack calling {method}: {detail}")]
    Protocol {
        /// Web API method called.
        method: String,
        /// What could not be decoded.
        detail: String,
    },
    /// `users.info` answered `user_not_found` or `user_not_visible`: the user id is wrong,
    /// or belongs to another workspace the token cannot see.
    #[error("Slack user {user} cannot be seen with this token: {code} (calling users.info)")]
    UnknownUser {
        /// The user id as configured.
        user: String,
        /// Slack's error code.
        code: String,
    },
    /// The user exists but cannot act as a person: deactivated, or a bot.
    #[error("Slack user {user} {why}")]
    UnusableUser {
        /// The user id as configured.
        user: String,
        /// Why, e.g. "is deactivated".
        why: String,
    },
    /// `usergroups.users.list` answered `no_such_subteam`.
    #[error("Slack user group {group} not found (calling usergroups.users.list)")]
    UnknownUserGroup {
        /// The group id as configured.
        group: String,
    },
    /// A message referred to does not exist (deleted, or another channel).
    #[error("message {ts} not found in channel {channel}")]
    MessageNotFound {
        /// Channel id.
        channel: String,
        /// Message timestamp.
        ts: String,
    },
    /// The Slack adapter could not be set up (bad API URL, TLS roots).
    #[error("setting up the Slack client for {api_url}: {detail}")]
    Setup {
        /// The configured API base URL.
        api_url: String,
        /// What failed.
        detail: String,
    },
    /// Writing the console transcript failed.
    #[error("writing the chat transcript")]
    Console {
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Result with [`ChatError`] as the default error.
pub type Result<T, E = ChatError> = std::result::Result<T, E>;

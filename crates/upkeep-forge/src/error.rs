//! Errors normalised across forges.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::ForgeKind;

/// Result with [`ForgeError`].
pub type Result<T, E = ForgeError> = std::result::Result<T, E>;

/// What went wrong talking to a forge. Messages never contain a token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ForgeError {
    /// The token was missing, wrong or expired (HTTP 401).
    #[error("{forge} rejected the token while {doing}: {message}")]
    Unauthorized {
        /// Which forge.
        forge: ForgeKind,
        /// What was being done.
        doing: String,
        /// The server's message.
        message: String,
    },
    /// The token is valid but lacks a permission (HTTP 403).
    #[error("{forge} refused {doing}: {message}{}", missing_scope.as_ref().map(|s| format!(" (the token needs the `{s}` scope)")).unwrap_or_default())]
    Forbidden {
        /// Which forge.
        forge: ForgeKind,
        /// What was being done.
        doing: String,
        /// The scope the server said is needed, when it said so.
        missing_scope: Option<String>,
        /// The server's message.
        message: String,
    },
    /// A repository, branch, ref or change request does not exist (or is not visible).
    #[error("{forge}: {what} not found")]
    NotFound {
        /// Which forge.
        forge: ForgeKind,
        /// What was looked for: "repository acme/api", "branch stable of acme/api".
        what: String,
    },
    /// Rate limited, and retries ran out.
    #[error("{forge} rate limit hit while {doing}{}", reset.map(|r| format!("; it resets at {r}")).unwrap_or_default())]
    RateLimited {
        /// Which forge.
        forge: ForgeKind,
        /// What was being done.
        doing: String,
        /// When the limit resets, when the server said.
        reset: Option<DateTime<Utc>>,
    },
    /// The branch was not at the expected tip: someone else moved it.
    #[error("branch `{branch}` of {repo} moved: expected {expected}, found {}", actual.as_deref().unwrap_or("no branch"))]
    BranchMoved {
        /// Repository.
        repo: String,
        /// Branch.
        branch: String,
        /// The tip the caller expected.
        expected: String,
        /// The tip found, if the branch exists.
        actual: Option<String>,
    },
    /// The move is not a fast-forward and backwards moves were not allowed.
    #[error("moving `{branch}` of {repo} from {from} to {to} is not a fast-forward")]
    NotFastForward {
        /// Repository.
        repo: String,
        /// Branch.
        branch: String,
        /// Current tip.
        from: String,
        /// Requested tip.
        to: String,
    },
    /// The forge refused to move a protected branch: its protection rule applies to the
    /// token's user (no bypass), or forbids what was asked for everyone (a force push, a
    /// deletion).
    #[error("{forge} refused to move protected branch `{branch}` of {repo}: {message}{}", fix.as_ref().map(|f| format!(" ({f})")).unwrap_or_default())]
    BranchProtected {
        /// Which forge.
        forge: ForgeKind,
        /// Repository.
        repo: String,
        /// Branch.
        branch: String,
        /// The forge's words ("Changes must be made through a pull request.").
        message: String,
        /// What the token's user needs, when the forge's rules tell
        /// ([`BranchAccess::fix`](crate::BranchAccess::fix)).
        fix: Option<String>,
    },
    /// The server reports a conflict (HTTP 409), e.g. a change request that already exists.
    #[error("{forge} reported a conflict while {doing}: {message}")]
    Conflict {
        /// Which forge.
        forge: ForgeKind,
        /// What was being done.
        doing: String,
        /// The server's message.
        message: String,
    },
    /// The server rejected the request's content (HTTP 422 / 400).
    #[error("{forge} rejected {doing}: {message}{}", if errors.is_empty() { String::new() } else { format!(" ({})", errors.join("; ")) })]
    Validation {
        /// Which forge.
        forge: ForgeKind,
        /// What was being done.
        doing: String,
        /// The server's message.
        message: String,
        /// Per-field errors (GitHub's `errors` list).
        errors: Vec<String>,
    },
    /// The server failed (5xx), and retries ran out.
    #[error("{forge} failed while {doing}: HTTP {status}: {message}")]
    Server {
        /// Which forge.
        forge: ForgeKind,
        /// What was being done.
        doing: String,
        /// HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// The request did not get an answer (connection refused, dropped, timed out).
    #[error("cannot reach {forge} while {doing}: {message}")]
    Transport {
        /// Which forge.
        forge: ForgeKind,
        /// What was being done.
        doing: String,
        /// What the client said.
        message: String,
    },
    /// An answer that could not be understood.
    #[error("unexpected answer from {forge} while {doing}: {message}")]
    Protocol {
        /// Which forge.
        forge: ForgeKind,
        /// What was being done.
        doing: String,
        /// What was wrong with it.
        message: String,
    },
    /// A git operation of the local or GitLab adapter failed.
    #[error("git failed while {doing}")]
    Git {
        /// What was being done.
        doing: String,
        /// The git error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Reading or writing the local forge's files failed.
    #[error("cannot {doing}")]
    Io {
        /// What was being done, naming the file.
        doing: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The adapter was configured wrongly (bad base URL, unsupported repository id).
    #[error("invalid {forge} setup: {message}")]
    Setup {
        /// Which forge.
        forge: ForgeKind,
        /// What is wrong.
        message: String,
    },
}

impl ForgeError {
    /// The error with `scrub` applied to every text the server provided (the messages
    /// of its answers), so that a token a server echoes never reaches a log or a report.
    #[must_use]
    #[cfg(any(feature = "github", feature = "gitlab"))]
    pub(crate) fn scrubbed(self, scrub: impl Fn(&str) -> String) -> Self {
        match self {
            Self::Unauthorized {
                forge,
                doing,
                message,
            } => Self::Unauthorized {
                forge,
                doing,
                message: scrub(&message),
            },
            Self::Forbidden {
                forge,
                doing,
                missing_scope,
                message,
            } => Self::Forbidden {
                forge,
                doing,
                missing_scope,
                message: scrub(&message),
            },
            Self::Conflict {
                forge,
                doing,
                message,
            } => Self::Conflict {
                forge,
                doing,
                message: scrub(&message),
            },
            Self::Validation {
                forge,
                doing,
                message,
                errors,
            } => Self::Validation {
                forge,
                doing,
                message: scrub(&message),
                errors: errors.iter().map(|e| scrub(e)).collect(),
            },
            Self::Server {
                forge,
                doing,
                status,
                message,
            } => Self::Server {
                forge,
                doing,
                status,
                message: scrub(&message),
            },
            Self::Protocol {
                forge,
                doing,
                message,
            } => Self::Protocol {
                forge,
                doing,
                message: scrub(&message),
            },
            other => other,
        }
    }

    /// Whether retrying the same request may succeed: server errors, rate limits and
    /// transport failures.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Server { .. } | Self::RateLimited { .. } | Self::Transport { .. }
        )
    }

    /// How long the server asked to wait before retrying, when it said so.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited {
                reset: Some(reset), ..
            } => (*reset - Utc::now()).to_std().ok().or(Some(Duration::ZERO)),
            _ => None,
        }
    }
}

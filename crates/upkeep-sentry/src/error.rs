//! Errors of talking to Sentry. None of them ever holds the auth token or the DSN's
//! key: messages name the organisation, project and host instead.

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong talking to Sentry.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Sentry base URL given to [`crate::SentryClient::new`] is not usable.
    #[error("invalid Sentry URL `{url}`: {reason}")]
    InvalidBaseUrl {
        /// The URL as given.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// The DSN is malformed. The DSN itself is not repeated: it holds a key.
    #[error("invalid SENTRY_DSN: {reason}")]
    InvalidDsn {
        /// Why it was refused.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot set up the HTTP client for Sentry")]
    Client {
        /// The underlying error.
        #[source]
        source: reqwest::Error,
    },
    /// Listing a project's issues failed.
    #[error("listing unresolved issues of Sentry project `{org}/{project}` failed")]
    ListIssues {
        /// The organisation slug.
        org: String,
        /// The project slug.
        project: String,
        /// What failed.
        #[source]
        source: RequestError,
    },
    /// Sentry kept answering with more pages than any real query has.
    #[error(
        "Sentry project `{org}/{project}` returned more than {pages} pages of issues; giving up"
    )]
    TooManyPages {
        /// The organisation slug.
        org: String,
        /// The project slug.
        project: String,
        /// The page limit that was hit.
        pages: usize,
    },
    /// Sending an event failed.
    #[error("sending an event to Sentry at {host} (project {project_id}) failed")]
    SendEvent {
        /// The DSN's host.
        host: String,
        /// The DSN's project id.
        project_id: String,
        /// What failed.
        #[source]
        source: RequestError,
    },
}

impl Error {
    /// A one-line remedy for the person running the tool, when there is one.
    #[must_use]
    pub fn hint(&self) -> Option<&'static str> {
        let source = match self {
            Self::ListIssues { source, .. } | Self::SendEvent { source, .. } => source,
            Self::InvalidDsn { .. } => {
                return Some(
                    "SENTRY_DSN looks like https://KEY@HOST/PROJECT_ID (Project settings → Client Keys)",
                );
            }
            _ => return None,
        };
        match source {
            RequestError::Status {
                status: 401 | 403, ..
            } if matches!(self, Self::ListIssues { .. }) => Some(
                "check SENTRY_AUTH_TOKEN: it needs the `event:read` and `project:read` scopes for this organisation",
            ),
            RequestError::Status {
                status: 401 | 403, ..
            } => Some("check SENTRY_DSN: the client key may be revoked"),
            RequestError::Status { status: 404, .. } => {
                Some("check the organisation and project slugs in [branches.sentry]")
            }
            RequestError::Status { status: 400, .. } => {
                Some("Sentry refused the search; check `environment` in [branches.sentry]")
            }
            _ => None,
        }
    }
}

/// Why one HTTP exchange with Sentry failed (after retries, where retrying made sense).
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// No answer: connection refused, reset, timed out.
    #[error("no answer from Sentry after {attempts} attempt(s)")]
    Transport {
        /// How many times it was tried.
        attempts: u32,
        /// The last transport error (without the URL).
        #[source]
        source: reqwest::Error,
    },
    /// Sentry answered with an error status.
    #[error("Sentry answered {status} after {attempts} attempt(s): {detail}")]
    Status {
        /// The HTTP status code.
        status: u16,
        /// How many times it was tried.
        attempts: u32,
        /// Sentry's `detail` message, or the start of the body.
        detail: String,
    },
    /// The answer was not the JSON we expected.
    #[error("unexpected answer from Sentry: {reason}")]
    Decode {
        /// What did not parse.
        reason: String,
    },
}

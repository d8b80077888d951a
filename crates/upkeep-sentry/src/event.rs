//! Failure notifications: one event posted to the DSN's project as an envelope.
//!
//! The `sentry` crate would do this too, but it is built around a process-global hub with a
//! background transport and panics/log integrations: much more than posting one message
//! from a library, slower to build, and hard to point at a loopback fake deterministically.
//! The envelope endpoint is a stable, documented protocol, so we speak it directly.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{SecondsFormat, Utc};
use secrecy::{ExposeSecret as _, SecretString};
use upkeep_text::Scrubber;

use crate::error::{Error, Result};
use crate::issues::http_client;
use crate::retry::{self, RetryPolicy};

/// A parsed DSN (`https://PUBLIC_KEY@HOST/PROJECT_ID`). `Debug` hides the key.
#[derive(Clone)]
pub struct Dsn {
    key: SecretString,
    /// `scheme://host[:port][/path-prefix]`, without the key.
    origin: String,
    host: String,
    project_id: String,
}

impl fmt::Debug for Dsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dsn")
            .field("origin", &self.origin)
            .field("project_id", &self.project_id)
            .field("key", &"[redacted]")
            .finish_non_exhaustive()
    }
}

impl Dsn {
    /// Parses a DSN. Errors never repeat it.
    pub fn parse(dsn: &SecretString) -> Result<Self> {
        let invalid = |reason: &str| Error::InvalidDsn {
            reason: reason.to_owned(),
        };
        let u = url::Url::parse(dsn.expose_secret().trim())
            .map_err(|e| invalid(&format!("not a URL ({e})")))?;
        if !matches!(u.scheme(), "http" | "https") {
            return Err(invalid("the scheme must be http or https"));
        }
        let host = u.host_str().ok_or_else(|| invalid("no host"))?.to_owned();
        if u.username().is_empty() {
            return Err(invalid("no public key before the `@`"));
        }
        let path = u.path().trim_end_matches('/');
        let (prefix, project_id) = path
            .rsplit_once('/')
            .ok_or_else(|| invalid("no project id at the end"))?;
        if project_id.is_empty() || !project_id.chars().all(|c| c.is_ascii_digit()) {
            return Err(invalid("the path must end in the numeric project id"));
        }
        let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
        Ok(Self {
            key: SecretString::from(u.username().to_owned()),
            origin: format!("{}://{host}{port}{prefix}", u.scheme()),
            host,
            project_id: project_id.to_owned(),
        })
    }

    /// The DSN's host (safe to show).
    #[must_use]
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The DSN's project id (safe to show).
    #[must_use]
    pub fn project_id(&self) -> &str {
        &self.project_id
    }

    fn envelope_url(&self) -> String {
        format!("{}/api/{}/envelope/", self.origin, self.project_id)
    }

    fn auth_header(&self) -> String {
        format!(
            "Sentry sentry_version=7, sentry_client=upkeep/{}, sentry_key={}",
            env!("CARGO_PKG_VERSION"),
            self.key.expose_secret()
        )
    }
}

/// How bad an event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Level {
    /// Something failed (the default).
    #[default]
    Error,
    /// Worth a look, nothing failed.
    Warning,
    /// For the record.
    Info,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warning => "warning",
            Self::Info => "info",
        }
    }
}

/// An event to send: a message with tags (e.g. `tool=move-branches`, `repo=packit`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Event {
    /// The message, shown as the issue title.
    pub message: String,
    /// Severity.
    pub level: Level,
    /// Searchable tags.
    pub tags: BTreeMap<String, String>,
    /// The environment the event is about (e.g. `production`), if any.
    pub environment: Option<String>,
    /// Free-form detail (the failure's cause chain, the plan digest, …).
    pub extra: BTreeMap<String, String>,
}

impl Event {
    /// An error event with a message and tags.
    #[must_use]
    pub fn error<K: Into<String>, V: Into<String>>(
        message: impl Into<String>,
        tags: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            message: message.into(),
            tags: tags
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            ..Self::default()
        }
    }
}

/// Sends events to the project of a DSN.
#[derive(Debug, Clone)]
pub struct EventSender {
    http: reqwest::Client,
    dsn: Dsn,
    retry: RetryPolicy,
}

impl EventSender {
    /// A sender for `dsn` (from `SENTRY_DSN`).
    pub fn new(dsn: &SecretString) -> Result<Self> {
        Ok(Self {
            http: http_client()?,
            dsn: Dsn::parse(dsn)?,
            retry: RetryPolicy::default(),
        })
    }

    /// Replaces the retry policy.
    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sends one event and returns its id. Retried on 429/5xx/dropped connections with
    /// the same event id, which Sentry deduplicates, so it is never recorded twice.
    pub async fn send(&self, event: &Event) -> Result<String> {
        let event_id = format!("{:032x}", rand::random::<u128>());
        let body = envelope(&event_id, event);
        let url = self.dsn.envelope_url();
        let auth = self.dsn.auth_header();
        retry::send(
            &self.retry,
            &Scrubber::new([self.dsn.key.expose_secret()]),
            "send event",
            || {
                self.http
                    .post(&url)
                    .header("X-Sentry-Auth", &auth)
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        "application/x-sentry-envelope",
                    )
                    .body(body.clone())
            },
        )
        .await
        .map_err(|source| Error::SendEvent {
            host: self.dsn.host.clone(),
            project_id: self.dsn.project_id.clone(),
            source,
        })?;
        tracing::info!(
            event_id,
            host = self.dsn.host,
            "sent failure event to Sentry"
        );
        Ok(event_id)
    }
}

/// `send_event(dsn, message, tags)`: the one-call form for failure notifications.
pub async fn send_event<K: Into<String>, V: Into<String>>(
    dsn: &SecretString,
    message: &str,
    tags: impl IntoIterator<Item = (K, V)>,
) -> Result<String> {
    EventSender::new(dsn)?
        .send(&Event::error(message, tags))
        .await
}

/// An envelope with one event item: header line, item header line, payload.
fn envelope(event_id: &str, event: &Event) -> String {
    let now = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    let mut payload = serde_json::json!({
        "event_id": event_id,
        "timestamp": now,
        "platform": "other",
        "level": event.level.as_str(),
        "logger": "upkeep",
        "message": { "formatted": event.message },
        "tags": event.tags,
        "extra": event.extra,
        "sdk": { "name": "upkeep", "version": env!("CARGO_PKG_VERSION") },
    });
    if let Some(env) = &event.environment {
        payload["environment"] = serde_json::Value::String(env.clone());
    }
    let payload = payload.to_string();
    let header = serde_json::json!({ "event_id": event_id, "sent_at": now });
    let item = serde_json::json!({ "type": "event", "length": payload.len(), "content_type": "application/json" });
    format!("{header}\n{item}\n{payload}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[test]
    fn parses_dsns_and_hides_the_key() {
        let d = Dsn::parse(&secret("https://abc123@o42.ingest.sentry.io/4501")).unwrap();
        assert_eq!(
            d.envelope_url(),
            "https://o42.ingest.sentry.io/api/4501/envelope/"
        );
        assert_eq!(d.project_id(), "4501");
        assert!(!format!("{d:?}").contains("abc123"));
        let d = Dsn::parse(&secret("http://k@127.0.0.1:9000/sentry/7")).unwrap();
        assert_eq!(
            d.envelope_url(),
            "http://127.0.0.1:9000/sentry/api/7/envelope/"
        );
    }

    #[test]
    fn bad_dsns_are_refused_without_echo() {
        for bad in [
            "nope",
            "https://sentry.io/42",
            "https://k@sentry.io/",
            "ftp://k@h/1",
            "https://k@h/abc",
        ] {
            let e = Dsn::parse(&secret(bad)).unwrap_err().to_string();
            assert!(e.starts_with("invalid SENTRY_DSN"), "{e}");
            assert!(!e.contains(bad), "{e}");
        }
    }

    #[test]
    fn envelope_has_three_lines_with_matching_length() {
        let ev = Event::error("move-branches failed", [("repo", "packit")]);
        let body = envelope("0123", &ev);
        let lines: Vec<&str> = body.lines().collect();
        assert_eq!(lines.len(), 3);
        let item: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(item["length"].as_u64(), u64::try_from(lines[2].len()).ok());
        let payload: serde_json::Value = serde_json::from_str(lines[2]).unwrap();
        assert_eq!(payload["message"]["formatted"], "move-branches failed");
        assert_eq!(payload["tags"]["repo"], "packit");
        assert_eq!(payload["event_id"], "0123");
    }
}

//! New unresolved issues in a window, and the promotion gate built on them.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::header;
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Deserializer, Serialize};
use upkeep_text::Scrubber;

use crate::error::{Error, RequestError, Result};
use crate::retry::{self, RetryPolicy};

/// More pages than this means something is wrong (a server that always says "more").
const MAX_PAGES: usize = 200;

/// An absolute time window, both ends included. Absolute on purpose: a relative
/// `firstSeen:-24h` would move while a run waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// The start (issues first seen at or after it count).
    pub from: DateTime<Utc>,
    /// The end (issues first seen at or before it count).
    pub to: DateTime<Utc>,
}

impl Window {
    /// The window ending at `to` and lasting `length`.
    #[must_use]
    pub fn ending_at(to: DateTime<Utc>, length: Duration) -> Self {
        let length = chrono::Duration::from_std(length).unwrap_or(chrono::Duration::MAX);
        Self {
            from: to
                .checked_sub_signed(length)
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
            to,
        }
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} – {}", stamp(self.from), stamp(self.to))
    }
}

/// Sentry's search syntax for a timestamp (UTC, second precision).
fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// An issue (a group of events) as Sentry lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Issue {
    /// Sentry's numeric id, as a string.
    pub id: String,
    /// The readable id, e.g. `PACKIT-SERVICE-1A2`.
    pub short_id: String,
    /// The issue's title (usually the exception and message).
    pub title: String,
    /// The issue's page in Sentry.
    pub permalink: String,
    /// When its first event was seen.
    pub first_seen: DateTime<Utc>,
    /// How many events it has (Sentry sends a string; both forms are read).
    #[serde(deserialize_with = "count_from_string_or_number")]
    pub count: u64,
    /// The project slug. Sentry sends a `{"slug": …}` object; we keep the slug.
    #[serde(default, deserialize_with = "slug_from_object_or_string")]
    pub project: String,
}

fn slug_from_object_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Project {
        Slug(String),
        Object { slug: String },
    }
    Ok(match Project::deserialize(d)? {
        Project::Slug(s) | Project::Object { slug: s } => s,
    })
}

fn count_from_string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Count {
        N(u64),
        S(String),
    }
    match Count::deserialize(d)? {
        Count::N(n) => Ok(n),
        Count::S(s) => s.trim().parse().map_err(serde::de::Error::custom),
    }
}

/// The question the Sentry gate asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueQuery {
    /// The project slugs.
    pub projects: Vec<String>,
    /// The environment (e.g. `stage`).
    pub environment: String,
    /// Issues first seen within this window count.
    pub window: Window,
}

/// The gate's answer with its evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateVerdict {
    /// Whether the gate passes: no more new issues than the threshold.
    pub passed: bool,
    /// How many new unresolved issues were found.
    pub found: usize,
    /// How many are tolerated.
    pub threshold: u32,
    /// The organisation asked.
    pub org: String,
    /// What was asked.
    pub query: IssueQuery,
    /// The issues, newest first, with links.
    pub issues: Vec<Issue>,
}

impl GateVerdict {
    /// Judges a list of issues against a threshold (pure; the client calls this).
    #[must_use]
    pub fn evaluate(org: &str, query: IssueQuery, issues: Vec<Issue>, threshold: u32) -> Self {
        let found = issues.len();
        Self {
            passed: found <= threshold as usize,
            found,
            threshold,
            org: org.to_owned(),
            query,
            issues,
        }
    }

    /// One line for reports: `Sentry: 3 new unresolved issues in stage (threshold 0) …`.
    #[must_use]
    pub fn summary(&self) -> String {
        let plural = if self.found == 1 { "" } else { "s" };
        format!(
            "Sentry {}: {} new unresolved issue{plural} in `{}` of {}/{} first seen {} (threshold {})",
            if self.passed { "passed" } else { "failed" },
            self.found,
            self.query.environment,
            self.org,
            self.query.projects.join(","),
            self.query.window,
            self.threshold,
        )
    }
}

/// A client for Sentry's REST API (`/api/0/…`), authenticated with an auth token.
#[derive(Clone)]
pub struct SentryClient {
    http: reqwest::Client,
    base: url::Url,
    org: String,
    token: SecretString,
    retry: RetryPolicy,
}

impl fmt::Debug for SentryClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SentryClient")
            .field("base", &self.base.as_str())
            .field("org", &self.org)
            .field("token", &"[redacted]")
            .finish_non_exhaustive()
    }
}

impl SentryClient {
    /// A client for `base_url` (`https://sentry.io`, a self-hosted Sentry, or a fake)
    /// and the organisation `org`.
    pub fn new(base_url: &str, org: &str, auth_token: SecretString) -> Result<Self> {
        let invalid = |reason: &str| Error::InvalidBaseUrl {
            url: base_url.to_owned(),
            reason: reason.to_owned(),
        };
        let mut base = url::Url::parse(base_url).map_err(|e| invalid(&e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(invalid("expected an http(s) URL with a host"));
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(Error::InvalidBaseUrl {
                url: "(hidden: it carries credentials)".to_owned(),
                reason: "remove the credentials; the token comes from SENTRY_AUTH_TOKEN".to_owned(),
            });
        }
        if !base.path().ends_with('/') {
            let p = format!("{}/", base.path());
            base.set_path(&p);
        }
        if org.trim().is_empty() {
            return Err(invalid("the organisation slug is empty"));
        }
        let http = http_client()?;
        Ok(Self {
            http,
            base,
            org: org.to_owned(),
            token: auth_token,
            retry: RetryPolicy::default(),
        })
    }

    /// Replaces the retry policy (tests use short waits).
    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The organisation this client asks about.
    #[must_use]
    pub fn org(&self) -> &str {
        &self.org
    }

    /// Unresolved issues of `projects` in `environment` first seen within `window`,
    /// newest first, across all pages.
    pub async fn unresolved_issues(&self, query: &IssueQuery) -> Result<Vec<Issue>> {
        let mut all = Vec::new();
        for project in &query.projects {
            all.extend(
                self.project_issues(project, &query.environment, query.window)
                    .await?,
            );
        }
        all.sort_by(|a, b| {
            b.first_seen
                .cmp(&a.first_seen)
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(all)
    }

    /// Asks the question and judges the answer against `threshold`.
    pub async fn gate(&self, query: IssueQuery, threshold: u32) -> Result<GateVerdict> {
        let issues = self.unresolved_issues(&query).await?;
        let verdict = GateVerdict::evaluate(&self.org, query, issues, threshold);
        tracing::info!(
            passed = verdict.passed,
            found = verdict.found,
            "{}",
            verdict.summary()
        );
        Ok(verdict)
    }

    async fn project_issues(
        &self,
        project: &str,
        environment: &str,
        window: Window,
    ) -> Result<Vec<Issue>> {
        let fail = |source| Error::ListIssues {
            org: self.org.clone(),
            project: project.to_owned(),
            source,
        };
        let url = self
            .base
            .join(&format!(
                "api/0/projects/{}/{}/issues/",
                segment(&self.org),
                segment(project)
            ))
            .map_err(|e| {
                fail(RequestError::Decode {
                    reason: format!("cannot build the issues URL: {e}"),
                })
            })?;
        let search = format!(
            "is:unresolved firstSeen:>={} firstSeen:<={}",
            stamp(window.from),
            stamp(window.to)
        );
        let mut issues = Vec::new();
        let mut cursor: Option<String> = None;
        for page in 0..MAX_PAGES {
            let what = format!("issues of {}/{project} page {}", self.org, page + 1);
            let resp = retry::send(
                &self.retry,
                &Scrubber::new([self.token.expose_secret()]),
                &what,
                || {
                    let mut q: Vec<(&str, &str)> =
                        vec![("query", &search), ("environment", environment)];
                    if let Some(c) = &cursor {
                        q.push(("cursor", c));
                    }
                    self.http
                        .get(url.clone())
                        .bearer_auth(self.token.expose_secret())
                        .query(&q)
                },
            )
            .await
            .map_err(fail)?;
            let next = next_cursor(resp.headers());
            let body = resp.bytes().await.map_err(|e| {
                fail(RequestError::Transport {
                    attempts: 1,
                    source: e.without_url(),
                })
            })?;
            let mut batch: Vec<Issue> = serde_json::from_slice(&body).map_err(|e| {
                fail(RequestError::Decode {
                    reason: format!("issues list: {e}"),
                })
            })?;
            for issue in &mut batch {
                project.clone_into(&mut issue.project);
            }
            tracing::debug!(
                project,
                page = page + 1,
                n = batch.len(),
                "Sentry issues page"
            );
            issues.extend(batch);
            match next {
                Some(c) => cursor = Some(c),
                None => return Ok(issues),
            }
        }
        Err(Error::TooManyPages {
            org: self.org.clone(),
            project: project.to_owned(),
            pages: MAX_PAGES,
        })
    }
}

pub(crate) fn http_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!("upkeep-sentry/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|source| Error::Client { source })
}

/// A slug as one URL path segment.
fn segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The cursor of the `rel="next"` link when Sentry says it has results.
///
/// Sentry's `Link` header: `<URL>; rel="previous"; results="false"; cursor="…",
/// <URL>; rel="next"; results="true"; cursor="…"`.
pub(crate) fn next_cursor(headers: &header::HeaderMap) -> Option<String> {
    let link = headers.get(header::LINK)?.to_str().ok()?;
    for part in split_links(link) {
        let mut rel = None;
        let mut results = None;
        let mut cursor = None;
        for attr in part.split(';').skip(1) {
            let Some((k, v)) = attr.split_once('=') else {
                continue;
            };
            let v = v.trim().trim_matches('"');
            match k.trim() {
                "rel" => rel = Some(v),
                "results" => results = Some(v),
                "cursor" => cursor = Some(v),
                _ => {}
            }
        }
        if rel == Some("next") {
            return if results == Some("true") {
                cursor.map(str::to_owned)
            } else {
                None
            };
        }
    }
    None
}

/// Splits a `Link` header at the commas between links (not those inside `<…>`).
fn split_links(header: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in header.char_indices() {
        match c {
            '<' => depth += 1,
            '>' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(header[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(header[start..].trim());
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(v: &str) -> header::HeaderMap {
        let mut h = header::HeaderMap::new();
        h.insert(header::LINK, v.parse().unwrap());
        h
    }

    #[test]
    fn next_cursor_follows_sentry_links() {
        let h = link(
            "<https://sentry.io/api/0/projects/o/p/issues/?query=a,b&cursor=0:0:1>; rel=\"previous\"; results=\"false\"; cursor=\"0:0:1\", \
             <https://sentry.io/api/0/projects/o/p/issues/?query=a,b&cursor=0:100:0>; rel=\"next\"; results=\"true\"; cursor=\"0:100:0\"",
        );
        assert_eq!(next_cursor(&h).as_deref(), Some("0:100:0"));
        let h = link(
            "<https://x/?cursor=0:0:1>; rel=\"previous\"; results=\"true\"; cursor=\"0:0:1\", \
             <https://x/?cursor=0:200:0>; rel=\"next\"; results=\"false\"; cursor=\"0:200:0\"",
        );
        assert_eq!(next_cursor(&h), None);
        assert_eq!(next_cursor(&header::HeaderMap::new()), None);
    }

    #[test]
    fn counts_parse_from_strings_and_numbers() {
        let j = r#"[{"id":"1","shortId":"P-1","title":"t","permalink":"https://x/1","firstSeen":"2025-03-01T10:00:00.123Z","count":"42"},
                   {"id":"2","shortId":"P-2","title":"t","permalink":"https://x/2","firstSeen":"2025-03-01T10:00:00Z","count":7,"extra":true}]"#;
        let issues: Vec<Issue> = serde_json::from_str(j).unwrap();
        assert_eq!(issues[0].count, 42);
        assert_eq!(issues[1].count, 7);
    }

    #[test]
    fn gate_passes_at_threshold_and_fails_above() {
        let q = IssueQuery {
            projects: vec!["p".into()],
            environment: "stage".into(),
            window: Window::ending_at(Utc::now(), Duration::from_hours(1)),
        };
        let issue = Issue {
            id: "1".into(),
            short_id: "P-1".into(),
            title: "boom".into(),
            permalink: "https://x/1".into(),
            first_seen: Utc::now(),
            count: 1,
            project: "p".into(),
        };
        assert!(GateVerdict::evaluate("o", q.clone(), vec![], 0).passed);
        assert!(!GateVerdict::evaluate("o", q.clone(), vec![issue.clone()], 0).passed);
        let v = GateVerdict::evaluate("o", q, vec![issue], 1);
        assert!(v.passed);
        assert!(
            v.summary()
                .starts_with("Sentry passed: 1 new unresolved issue in `stage`"),
            "{}",
            v.summary()
        );
    }

    #[test]
    fn debug_hides_the_token() {
        let c = SentryClient::new(
            "https://sentry.io",
            "o",
            SecretString::from("sntrys_topsecret".to_owned()),
        )
        .unwrap();
        assert!(!format!("{c:?}").contains("topsecret"));
    }

    #[test]
    fn rejects_bad_base_urls_without_echoing_credentials() {
        let t = || SecretString::from("t".to_owned());
        assert!(SentryClient::new("not a url", "o", t()).is_err());
        assert!(SentryClient::new("ftp://x", "o", t()).is_err());
        let e = SentryClient::new("https://u:hunter2@sentry.io", "o", t())
            .unwrap_err()
            .to_string();
        assert!(!e.contains("hunter2"), "{e}");
    }
}

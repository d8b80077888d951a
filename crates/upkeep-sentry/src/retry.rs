//! Retries for 429, 5xx and dropped connections, honouring `Retry-After`.

use std::time::Duration;

use reqwest::{RequestBuilder, Response, StatusCode, header};

use upkeep_text::Scrubber;

use crate::error::RequestError;

/// How often and how patiently a request is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included (1 = no retries).
    pub max_attempts: u32,
    /// Wait before the first retry when the server gives no `Retry-After`; doubled on
    /// each further retry, with jitter.
    pub base_delay: Duration,
    /// The longest wait we choose ourselves. A server's `Retry-After` is honoured even
    /// when longer, up to [`RetryPolicy::max_retry_after`].
    pub max_delay: Duration,
    /// A `Retry-After` longer than this is not waited for: the request fails instead of
    /// hanging a run.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(10),
            max_retry_after: Duration::from_mins(2),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    #[must_use]
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    fn backoff(&self, retry: u32) -> Duration {
        let exp = self.base_delay.saturating_mul(1 << retry.min(16));
        let capped = exp.min(self.max_delay);
        // Full jitter in the upper half: spreads retries of parallel runs without ever
        // retrying instantly.
        let half = capped / 2;
        half + half.mul_f64(rand::random::<f64>())
    }
}

/// The wait a `Retry-After` header asks for: delta-seconds or an HTTP date.
pub(crate) fn retry_after(headers: &header::HeaderMap) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

fn retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

/// Sends the request built by `make` until it succeeds, fails for good, or the policy
/// runs out. Only for requests that are safe to repeat (GETs, and event posts, which
/// Sentry deduplicates by event id).
///
/// Sentry's answer is shown in the error with `secrets` scrubbed: a proxy or a
/// misconfigured server may echo the request, credentials included.
pub(crate) async fn send(
    policy: &RetryPolicy,
    secrets: &Scrubber,
    what: &str,
    make: impl Fn() -> RequestBuilder,
) -> Result<Response, RequestError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let last = attempt >= policy.max_attempts.max(1);
        match make().send().await {
            Ok(resp) if resp.status().is_success() => return Ok(resp),
            Ok(resp) => {
                let status = resp.status();
                let asked = retry_after(resp.headers());
                if last || !retryable(status) || asked.is_some_and(|d| d > policy.max_retry_after) {
                    let detail = secrets.scrub(&detail(resp).await).into_owned();
                    return Err(RequestError::Status {
                        status: status.as_u16(),
                        attempts: attempt,
                        detail,
                    });
                }
                let wait = asked.unwrap_or_else(|| policy.backoff(attempt - 1));
                tracing::warn!(%status, ?wait, attempt, "{what}: Sentry answered {status}; retrying");
                tokio::time::sleep(wait).await;
            }
            Err(e) => {
                let e = e.without_url();
                if last || e.is_builder() {
                    return Err(RequestError::Transport {
                        attempts: attempt,
                        source: e,
                    });
                }
                let wait = policy.backoff(attempt - 1);
                tracing::warn!(error = %e, ?wait, attempt, "{what}: no answer from Sentry; retrying");
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// Sentry's `{"detail": "…"}`, or the start of the body.
async fn detail(resp: Response) -> String {
    let body = resp.text().await.unwrap_or_default();
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&body)
        && let Some(d) = v.get("detail").and_then(|d| d.as_str())
    {
        return d.to_owned();
    }
    let body = body.trim();
    if body.is_empty() {
        return "(empty body)".to_owned();
    }
    let mut cut: String = body.chars().take(200).collect();
    if cut.len() < body.len() {
        cut.push('…');
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = header::HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(
            header::RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(
            retry_after(&h),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
        h.insert(header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy::default();
        for retry in 0..10 {
            let d = p.backoff(retry);
            assert!(d <= p.max_delay, "{d:?}");
            assert!(
                d >= p.base_delay.saturating_mul(1 << retry).min(p.max_delay) / 2,
                "{d:?}"
            );
        }
    }
}

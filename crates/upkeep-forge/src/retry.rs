//! Retries with exponential backoff and full jitter, honouring the server's wait hints,
//! and a per-host concurrency cap.
//!
//! Adapters wrap each API call in [`Retrier::run`]. Only transient failures
//! ([`ForgeError::is_transient`]) are retried; a rate-limit reset or `Retry-After` the
//! server sent replaces the computed backoff (capped by [`RetryPolicy::max_wait`], so a
//! reset an hour away fails fast with [`ForgeError::RateLimited`] instead of hanging).
//! A rate limit that comes without a hint (GitHub's secondary limits may send neither
//! `Retry-After` nor a reset) waits [`RetryPolicy::unhinted_limit_wait`], at least a
//! minute by default as GitHub's documentation asks, doubling on each further failure.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng as _;
use tokio::sync::Semaphore;

use crate::{ForgeError, Result};

/// How often and how patiently to retry.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Backoff before the second attempt; doubles each time, with full jitter.
    pub base_delay: Duration,
    /// Ceiling for one computed backoff.
    pub max_delay: Duration,
    /// The longest server-requested wait that is honoured; longer ones give up at once.
    pub max_wait: Duration,
    /// Requests in flight per host.
    pub max_concurrency: usize,
    /// The first wait after a rate limit that said neither when it lifts nor how long to
    /// wait; doubled for each further failure, and given up on past
    /// [`Self::max_wait`]. GitHub: "wait for at least one minute before retrying".
    pub unhinted_limit_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(10),
            max_wait: Duration::from_mins(2),
            max_concurrency: 8,
            unhinted_limit_wait: Duration::from_mins(1),
        }
    }
}

impl RetryPolicy {
    /// A policy for tests: quick backoff, same attempts.
    #[must_use]
    pub fn fast() -> Self {
        Self {
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(50),
            unhinted_limit_wait: Duration::from_millis(20),
            ..Self::default()
        }
    }

    /// The backoff before attempt `attempt` (1-based count of failures so far), with full
    /// jitter: a uniform pick in `[0, min(max_delay, base * 2^(attempt-1))]`.
    #[must_use]
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let cap = exp.min(self.max_delay);
        let millis = u64::try_from(cap.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::rng().random_range(0..=millis))
    }

    /// How long to wait before retrying after `error`, the `attempt`-th failure in a row
    /// (1-based); `None` when it is not worth retrying: a permanent error, attempts used
    /// up, or a wait longer than [`Self::max_wait`].
    #[must_use]
    pub fn wait_before_retry(&self, error: &ForgeError, attempt: u32) -> Option<Duration> {
        if !error.is_transient() || attempt >= self.max_attempts {
            return None;
        }
        let wait = match error.retry_after() {
            Some(hint) if hint > self.max_wait => return None,
            Some(hint) => hint + self.backoff(1) / 4,
            None if matches!(error, ForgeError::RateLimited { .. }) => {
                let wait = self
                    .unhinted_limit_wait
                    .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
                if wait > self.max_wait {
                    return None;
                }
                wait + self.backoff(1) / 4
            }
            None => self.backoff(attempt),
        };
        Some(wait)
    }
}

/// Runs requests under a [`RetryPolicy`] and a per-host concurrency cap. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Retrier {
    policy: RetryPolicy,
    permits: Arc<Semaphore>,
}

impl Retrier {
    /// A retrier for one host.
    #[must_use]
    pub fn new(policy: RetryPolicy) -> Self {
        let permits = Arc::new(Semaphore::new(policy.max_concurrency.max(1)));
        Self { policy, permits }
    }

    /// The policy in force.
    #[must_use]
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// Runs `op` until it succeeds, fails permanently, or attempts run out.
    pub async fn run<T, F, Fut>(&self, doing: &str, mut op: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = {
                let _permit = self
                    .permits
                    .acquire()
                    .await
                    .expect("semaphore never closed");
                op().await
            };
            let error = match result {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            let Some(wait) = self.policy.wait_before_retry(&error, attempt) else {
                return Err(error);
            };
            tracing::debug!(%error, attempt, ?wait, "{doing}: retrying");
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::ForgeKind;

    fn server_error() -> ForgeError {
        ForgeError::Server {
            forge: ForgeKind::GitHub,
            doing: "x".into(),
            status: 502,
            message: "bad gateway".into(),
        }
    }

    #[tokio::test]
    async fn transient_errors_are_retried_until_success() {
        let calls = AtomicU32::new(0);
        let retrier = Retrier::new(RetryPolicy::fast());
        let out = retrier
            .run("test", || async {
                if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                    Err(server_error())
                } else {
                    Ok(7)
                }
            })
            .await
            .unwrap();
        assert_eq!(out, 7);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn permanent_errors_are_not_retried() {
        let calls = AtomicU32::new(0);
        let retrier = Retrier::new(RetryPolicy::fast());
        let err = retrier
            .run("test", || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(ForgeError::NotFound {
                    forge: ForgeKind::GitLab,
                    what: "repo".into(),
                })
            })
            .await
            .unwrap_err();
        assert!(matches!(err, ForgeError::NotFound { .. }));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn attempts_are_bounded() {
        let calls = AtomicU32::new(0);
        let retrier = Retrier::new(RetryPolicy::fast());
        let err = retrier
            .run("test", || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(server_error())
            })
            .await
            .unwrap_err();
        assert!(err.is_transient());
        assert_eq!(
            calls.load(Ordering::SeqCst),
            RetryPolicy::fast().max_attempts
        );
    }

    #[tokio::test]
    async fn a_reset_far_away_fails_fast() {
        let retrier = Retrier::new(RetryPolicy::fast());
        let reset = chrono::Utc::now() + chrono::Duration::hours(1);
        let err = retrier
            .run("test", || async {
                Err::<(), _>(ForgeError::RateLimited {
                    forge: ForgeKind::GitHub,
                    doing: "x".into(),
                    reset: Some(reset),
                })
            })
            .await
            .unwrap_err();
        assert!(matches!(err, ForgeError::RateLimited { .. }));
    }

    fn limited(reset: Option<chrono::DateTime<chrono::Utc>>) -> ForgeError {
        ForgeError::RateLimited {
            forge: ForgeKind::GitHub,
            doing: "x".into(),
            reset,
        }
    }

    /// GitHub's secondary limits may come with no `Retry-After` and no reset: wait at
    /// least a minute, longer each time, and give up past `max_wait` rather than retrying
    /// within seconds.
    #[test]
    fn a_rate_limit_without_a_hint_waits_at_least_a_minute() {
        let policy = RetryPolicy::default();
        let first = policy.wait_before_retry(&limited(None), 1).unwrap();
        assert!(first >= Duration::from_mins(1), "{first:?}");
        let second = policy.wait_before_retry(&limited(None), 2).unwrap();
        assert!(second >= Duration::from_mins(2), "{second:?}");
        assert!(second <= policy.max_wait + policy.base_delay, "{second:?}");
        assert_eq!(policy.wait_before_retry(&limited(None), 3), None);
        // A hint is honoured as sent; a server error backs off as usual.
        let soon = chrono::Utc::now() + chrono::Duration::seconds(5);
        let hinted = policy.wait_before_retry(&limited(Some(soon)), 1).unwrap();
        assert!(hinted <= Duration::from_secs(6), "{hinted:?}");
        let backoff = policy.wait_before_retry(&server_error(), 1).unwrap();
        assert!(backoff <= policy.base_delay, "{backoff:?}");
        // The wait is the policy's: tests use a short one.
        let fast = RetryPolicy::fast()
            .wait_before_retry(&limited(None), 1)
            .unwrap();
        assert!(fast < Duration::from_secs(1), "{fast:?}");
    }

    #[test]
    fn backoff_stays_under_the_cap() {
        let policy = RetryPolicy::fast();
        for attempt in 1..20 {
            assert!(policy.backoff(attempt) <= policy.max_delay);
        }
    }
}

//! Retries with exponential backoff and full jitter, honouring the server's wait hints,
//! and a per-host concurrency cap.
//!
//! Adapters wrap each API call in [`Retrier::run`]. Only transient failures
//! ([`ForgeError::is_transient`]) are retried; a rate-limit reset or `Retry-After` the
//! server sent replaces the computed backoff (capped by [`RetryPolicy::max_wait`], so a
//! reset an hour away fails fast with [`ForgeError::RateLimited`] instead of hanging).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng as _;
use tokio::sync::Semaphore;

#[cfg(doc)]
use crate::ForgeError;
use crate::Result;

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
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(10),
            max_wait: Duration::from_mins(2),
            max_concurrency: 8,
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
                Err(error) if !error.is_transient() || attempt >= self.policy.max_attempts => {
                    return Err(error);
                }
                Err(error) => error,
            };
            let wait = match error.retry_after() {
                Some(hint) if hint > self.policy.max_wait => return Err(error),
                Some(hint) => hint + self.policy.backoff(1) / 4,
                None => self.policy.backoff(attempt),
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
    use crate::{ForgeError, ForgeKind};

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

    #[test]
    fn backoff_stays_under_the_cap() {
        let policy = RetryPolicy::fast();
        for attempt in 1..20 {
            assert!(policy.backoff(attempt) <= policy.max_delay);
        }
    }
}

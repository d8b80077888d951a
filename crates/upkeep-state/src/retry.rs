//! Retrying transient failures of the state repository, with backoff and jitter.

use std::time::Duration;

/// How the git store retries a transient failure (a dropped connection, a 5xx, a
/// timeout): up to `attempts` tries in all, waiting `first_delay`, then twice that, and
/// so on up to `max_delay`, each wait scaled by a random factor between ½ and 1½ so that
/// runners failing together do not retry together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in all (at least 1).
    pub attempts: u32,
    /// The first wait.
    pub first_delay: Duration,
    /// The longest wait.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// Five tries over about eight seconds.
    fn default() -> Self {
        Self {
            attempts: 5,
            first_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(4),
        }
    }
}

impl RetryPolicy {
    /// One try, no retries.
    #[must_use]
    pub const fn none() -> Self {
        Self {
            attempts: 1,
            first_delay: Duration::ZERO,
            max_delay: Duration::ZERO,
        }
    }

    /// The wait before try number `next` (2 for the first retry).
    pub(crate) fn delay(&self, next: u32) -> Duration {
        let doublings = next.saturating_sub(2).min(16);
        let base = self
            .first_delay
            .saturating_mul(1 << doublings)
            .min(self.max_delay);
        base.mul_f64(rand::random_range(0.5..1.5))
    }

    pub(crate) fn wait(&self, next: u32) {
        let delay = self.delay(next);
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_with_jitter() {
        let p = RetryPolicy {
            attempts: 10,
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(700),
        };
        for _ in 0..50 {
            let d2 = p.delay(2);
            assert!(d2 >= Duration::from_millis(50) && d2 <= Duration::from_millis(150));
            let d3 = p.delay(3);
            assert!(d3 >= Duration::from_millis(100) && d3 <= Duration::from_millis(300));
            let d9 = p.delay(9);
            assert!(d9 >= Duration::from_millis(350) && d9 <= Duration::from_millis(1050));
        }
        assert_eq!(RetryPolicy::none().delay(2), Duration::ZERO);
    }
}

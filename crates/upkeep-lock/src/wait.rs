//! Waiting for the token: notice a release within about a second, without hammering the
//! server.
//!
//! A waiter does not retry the whole acquisition (a fetch, a parse, a push) on a timer.
//! It reads where the lock ref points — one `ls-remote`, the cheapest question a git
//! server answers — at short, jittered intervals (a quarter second at first, then at most
//! [`WaitPolicy::poll`]), and tries again only when the ref moved or the holder's lease
//! ran out. Reads that fail (a server restarting) back off up to
//! [`WaitPolicy::max_backoff`] instead of giving up: the deadline is the only reason to
//! stop waiting.

use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, Utc};
use upkeep_git::Oid;

use crate::store::{Acquired, LockStore};
use crate::{Error, Result};

/// How long and how eagerly to wait for a held token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitPolicy {
    /// Give up after this long.
    pub timeout: StdDuration,
    /// The longest pause between two reads of the lock ref: about how late a waiter
    /// notices a release. Default one second.
    pub poll: StdDuration,
    /// The longest pause after a read that failed; failures back off, doubling, up to
    /// this. Default 30 seconds.
    pub max_backoff: StdDuration,
}

impl WaitPolicy {
    /// Waits up to `timeout`, reading the lock ref about once a second.
    #[must_use]
    pub fn new(timeout: StdDuration) -> Self {
        Self {
            timeout,
            poll: StdDuration::from_secs(1),
            max_backoff: StdDuration::from_secs(30),
        }
    }
}

/// The first pause: a release right after we started waiting is noticed quickly.
const FIRST_PAUSE: StdDuration = StdDuration::from_millis(250);
/// The first pause after a failed read.
const FIRST_BACKOFF: StdDuration = StdDuration::from_secs(1);

impl LockStore {
    /// [`acquire`](Self::acquire), waiting up to `policy.timeout` while somebody else
    /// holds a live lease; `now` is the clock leases are measured with. Returns as soon
    /// as the token is taken — after a release, or a takeover when the holder's lease
    /// runs out — or [`Error::Held`] when the time is up.
    pub fn acquire_waiting(
        &self,
        who: &str,
        reason: &str,
        lease: Duration,
        policy: &WaitPolicy,
        now: &dyn Fn() -> DateTime<Utc>,
    ) -> Result<Acquired> {
        // `None`: so far ahead that it cannot be represented, i.e. never.
        let deadline = Instant::now().checked_add(policy.timeout);
        let mut told = false;
        loop {
            let (tip, state) = self.read()?;
            let held = state
                .as_ref()
                .and_then(|s| s.live_holder(now()))
                .filter(|h| h.who != who)
                .cloned();
            if let Some(holder) = held
                && before(deadline)
            {
                if !told {
                    tracing::warn!(
                        "waiting for the `{}` token: held by {} ({}) until {}",
                        self.name(),
                        crate::text::name(&holder.who),
                        crate::text::reason(&holder.reason),
                        holder.expires_at
                    );
                    told = true;
                }
                self.watch(tip, holder.expires_at, deadline, policy, now);
                continue;
            }
            match self.acquire(who, reason, lease, now()) {
                // Taken by somebody else between our read and our push: keep waiting.
                Err(Error::Held { .. }) if before(deadline) => {}
                other => return other,
            }
        }
    }

    /// Returns when the lock ref moves away from `seen`, the lease ending at
    /// `expires_at` is over, or `deadline` has passed.
    fn watch(
        &self,
        seen: Option<Oid>,
        expires_at: DateTime<Utc>,
        deadline: Option<Instant>,
        policy: &WaitPolicy,
        now: &dyn Fn() -> DateTime<Utc>,
    ) {
        let mut pause = FIRST_PAUSE.min(policy.poll);
        let mut backoff = FIRST_BACKOFF.min(policy.max_backoff);
        let mut failing = false;
        loop {
            let until_expiry = (expires_at - now()).to_std().unwrap_or_default();
            let left = deadline.map_or(StdDuration::MAX, |d| {
                d.saturating_duration_since(Instant::now())
            });
            let wanted = if failing { backoff } else { pause };
            std::thread::sleep(jitter(wanted).min(until_expiry).min(left));
            if !before(deadline) || now() >= expires_at {
                return;
            }
            match self.ls_tip() {
                Ok(tip) if tip != seen => return,
                Ok(_) => {
                    failing = false;
                    pause = (pause * 2).min(policy.poll);
                }
                Err(e) => {
                    if failing {
                        backoff = (backoff * 2).min(policy.max_backoff);
                    }
                    failing = true;
                    tracing::debug!(error = %e, "reading the lock ref failed; backing off");
                }
            }
        }
    }
}

fn before(deadline: Option<Instant>) -> bool {
    deadline.is_none_or(|d| Instant::now() < d)
}

/// `d` ± 20 %, so that several waiters do not read in lockstep.
fn jitter(d: StdDuration) -> StdDuration {
    d.mul_f64(0.8 + 0.4 * rand::random::<f64>())
}

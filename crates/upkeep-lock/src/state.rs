//! The lock state stored in each commit's `lock.json`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What changed the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Taken while free.
    Acquire,
    /// Taken after the previous holder's lease expired.
    Takeover,
    /// Taken from a live holder, with a reason.
    Steal,
    /// The holder extended the lease.
    Renew,
    /// The holder gave it back.
    Release,
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad` so that width and alignment (`{:<8}`) work in tables.
        f.pad(match self {
            Self::Acquire => "acquire",
            Self::Takeover => "takeover",
            Self::Steal => "steal",
            Self::Renew => "renew",
            Self::Release => "release",
        })
    }
}

/// One entry of the history: who did what, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// What happened.
    pub action: Action,
    /// Who did it.
    pub by: String,
    /// When.
    pub at: DateTime<Utc>,
    /// The reason given (acquire, steal) or what was replaced (takeover, steal).
    pub note: Option<String>,
}

/// Who holds the lock and for how long.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// The holder's name.
    pub who: String,
    /// Why they hold it.
    pub reason: String,
    /// When they acquired it.
    pub acquired_at: DateTime<Utc>,
    /// When the lease ends unless renewed.
    pub expires_at: DateTime<Utc>,
}

/// The lock after one event. Serialized as `lock.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockState {
    /// Lock name.
    pub name: String,
    /// The holder, or `None` when released.
    pub holder: Option<Holder>,
    /// Incremented on every acquisition (acquire, takeover, steal).
    pub fencing: u64,
    /// The event that produced this state.
    pub event: Event,
}

impl LockState {
    /// The holder whose lease is still running at `now`.
    #[must_use]
    pub fn live_holder(&self, now: DateTime<Utc>) -> Option<&Holder> {
        self.holder.as_ref().filter(|h| h.expires_at > now)
    }

    /// Whether `who` holds a live lease at `now`.
    #[must_use]
    pub fn is_held_by(&self, who: &str, now: DateTime<Utc>) -> bool {
        self.live_holder(now).is_some_and(|h| h.who == who)
    }
}

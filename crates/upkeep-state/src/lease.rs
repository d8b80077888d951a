//! Leases: a key claimed by one owner for a while, on top of compare-and-swap.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Cas, Error, Expected, Key, Record, Result, StateStore, StateStoreExt as _};

/// How often a lease operation re-reads and tries again after losing a race.
const MAX_ATTEMPTS: u32 = 32;

/// Where the time comes from. Leases read it right before each compare-and-swap, so a
/// test can move it (see [`ManualClock`]) instead of sleeping.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to: for tests, and for replaying.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    /// A clock showing `now`.
    #[must_use]
    pub fn new(now: DateTime<Utc>) -> Self {
        Self(Mutex::new(now))
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *now += chrono::Duration::from_std(by).expect("a test advances by a sane duration");
    }

    /// Sets the clock to `now`.
    pub fn set(&self, now: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = now;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Who holds a lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// The owner id given to [`Leases::claim`].
    pub owner: String,
    /// When this owner acquired it (a renewal keeps this).
    pub acquired_at: DateTime<Utc>,
    /// When the lease runs out unless renewed.
    pub expires_at: DateTime<Utc>,
}

/// A lease as stored (JSON) under its key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseState {
    /// The holder; `None` once released.
    pub holder: Option<Holder>,
    /// Raised by one on every acquisition by a new owner (first claim, claim after a
    /// release, takeover); kept by renewals, re-claims and releases. Never reused for a
    /// key, so an action stamped with it can be refused once somebody else holds the key.
    pub fencing: u64,
    /// The holder whose expired lease the current holder took over, if that is how it
    /// was acquired: a report can say which runner died.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub took_over_from: Option<Holder>,
    /// When it last changed.
    pub changed_at: DateTime<Utc>,
}

impl LeaseState {
    /// Parses a lease record.
    pub fn from_record(record: &Record) -> Result<Self> {
        record.json()
    }

    /// The holder whose lease is still running at `now`.
    #[must_use]
    pub fn live_holder(&self, now: DateTime<Utc>) -> Option<&Holder> {
        self.holder.as_ref().filter(|h| h.expires_at > now)
    }
}

/// A lease held by the caller: the proof to renew, verify and release with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The leased key.
    pub key: Key,
    /// The owner.
    pub owner: String,
    /// The fencing number of this hold; stamp actions with it.
    pub fencing: u64,
    /// When the owner acquired it.
    pub acquired_at: DateTime<Utc>,
    /// When it runs out unless renewed.
    pub expires_at: DateTime<Utc>,
}

/// How a claim went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The caller holds the lease now.
    Acquired {
        /// The lease.
        lease: Lease,
        /// How it was acquired.
        how: Acquisition,
    },
    /// Another owner holds a live lease.
    Held {
        /// The other owner.
        holder: Holder,
        /// Their fencing number.
        fencing: u64,
    },
}

/// How a successful claim got the lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquisition {
    /// It was never claimed, or it was released.
    Free,
    /// Another owner's lease had expired; the caller took over.
    TakenOver {
        /// The owner whose lease expired.
        from: Holder,
    },
    /// The caller already held it (the same owner id): the lease was extended, the
    /// fencing number kept.
    AlreadyHeld,
}

/// Leases on keys of a [`StateStore`]: claim a key for an owner for a while, renew,
/// release, and take over after expiry.
///
/// The rules:
/// - **One live holder.** A claim succeeds when the key is free, released, expired, or
///   already held by the same owner id; it reports the holder otherwise. Every change is
///   a compare-and-swap on the version that was read, so of two runners claiming at
///   once exactly one wins, and the other sees the winner.
/// - **Fencing.** Every acquisition by a new owner raises the fencing number by one.
///   Before acting (push, open, post), call [`Leases::verify`]; record the fencing number
///   with what was done.
/// - **Expiry, not sleep.** A lease runs out at `expires_at` by the injected
///   [`Clock`]; the owner renews it while working. Renewing after expiry still works if
///   nobody took over (the fencing number proves it); after a takeover it fails with
///   [`Error::LeaseLost`].
/// - **Owner ids are unique per process** ([`Leases::unique_owner`]): two runners using
///   one id would both be "already holding" the key.
/// - **A holder known to be dead** (its process is gone from this machine) can have its
///   lease ended early with [`Leases::expire`]; the next claim is a takeover as after an
///   expiry.
///
/// A released lease stays stored (holder `None`) so that its fencing number keeps
/// rising; delete the key to forget it (its next fencing number is then 1 again).
#[derive(Debug, Clone)]
pub struct Leases {
    store: Arc<dyn StateStore>,
    clock: Arc<dyn Clock>,
}

impl Leases {
    /// Leases in `store`, timed by `clock`.
    #[must_use]
    pub fn new(store: Arc<dyn StateStore>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// An owner id unique to this process and call: `label` (e.g. `shard-2/4`) followed
    /// by the process id and a random part.
    #[must_use]
    pub fn unique_owner(label: &str) -> String {
        format!(
            "{label}#{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        )
    }

    /// The store the leases live in.
    #[must_use]
    pub fn store(&self) -> &Arc<dyn StateStore> {
        &self.store
    }

    /// The lease stored under `key`, if any.
    pub fn state(&self, key: &Key) -> Result<Option<LeaseState>> {
        self.store
            .read(key)?
            .map(|r| LeaseState::from_record(&r))
            .transpose()
    }

    /// Claims `key` for `owner` until `ttl` from now (see the type's rules).
    pub fn claim(&self, key: &Key, owner: &str, ttl: Duration) -> Result<Claim> {
        let mut current = self.store.read(key)?;
        for _ in 0..MAX_ATTEMPTS {
            let now = self.clock.now();
            let state = current.as_ref().map(LeaseState::from_record).transpose()?;
            let expires_at = lease_end(now, ttl)?;
            let (next, how) = match &state {
                Some(s) => match &s.holder {
                    Some(h) if h.owner == owner => (
                        LeaseState {
                            holder: Some(Holder {
                                expires_at,
                                ..h.clone()
                            }),
                            changed_at: now,
                            ..s.clone()
                        },
                        Acquisition::AlreadyHeld,
                    ),
                    Some(h) if h.expires_at > now => {
                        return Ok(Claim::Held {
                            holder: h.clone(),
                            fencing: s.fencing,
                        });
                    }
                    other => (
                        new_holder(owner, now, expires_at, s.fencing + 1, other.clone()),
                        other
                            .clone()
                            .map_or(Acquisition::Free, |from| Acquisition::TakenOver { from }),
                    ),
                },
                None => (
                    new_holder(owner, now, expires_at, 1, None),
                    Acquisition::Free,
                ),
            };
            match self
                .store
                .write_json(key, &Expected::from_current(current.as_ref()), &next)?
            {
                Cas::Done(_) => {
                    let holder = next.holder.expect("a claim sets the holder");
                    return Ok(Claim::Acquired {
                        lease: Lease {
                            key: key.clone(),
                            owner: holder.owner,
                            fencing: next.fencing,
                            acquired_at: holder.acquired_at,
                            expires_at: holder.expires_at,
                        },
                        how,
                    });
                }
                Cas::Conflict { current: newer } => current = newer,
            }
        }
        Err(Error::Contended {
            key: key.to_string(),
            attempts: MAX_ATTEMPTS,
        })
    }

    /// Extends `lease` to `ttl` from now. Fails with [`Error::LeaseLost`] if somebody else
    /// acquired the key since, or it was released.
    pub fn renew(&self, lease: &Lease, ttl: Duration) -> Result<Lease> {
        let expires_at = self.change_own(lease, Op::Renew(ttl))?;
        Ok(Lease {
            expires_at: expires_at.unwrap_or(lease.expires_at),
            ..lease.clone()
        })
    }

    /// Gives `lease` back: the key is free for the next claim. Releasing a lease that was
    /// already released by its owner is a no-op; one that somebody else acquired since is
    /// [`Error::LeaseLost`].
    pub fn release(&self, lease: &Lease) -> Result<()> {
        self.change_own(lease, Op::Release).map(drop)
    }

    /// Ends the lease of `holder` now, for a caller that knows the holder is gone (its
    /// process no longer exists on this machine): the next claim takes the key over,
    /// with a higher fencing number, without waiting for the expiry. Changes nothing and
    /// returns `false` when `holder` no longer holds the key (it was renewed, released or
    /// taken over since it was read).
    pub fn expire(&self, key: &Key, holder: &Holder) -> Result<bool> {
        let mut current = self.store.read(key)?;
        for _ in 0..MAX_ATTEMPTS {
            let Some(state) = current.as_ref().map(LeaseState::from_record).transpose()? else {
                return Ok(false);
            };
            if state.holder.as_ref() != Some(holder) {
                return Ok(false);
            }
            let now = self.clock.now();
            let next = LeaseState {
                holder: Some(Holder {
                    expires_at: now.min(holder.expires_at),
                    ..holder.clone()
                }),
                changed_at: now,
                ..state
            };
            match self
                .store
                .write_json(key, &Expected::from_current(current.as_ref()), &next)?
            {
                Cas::Done(_) => return Ok(true),
                Cas::Conflict { current: newer } => current = newer,
            }
        }
        Err(Error::Contended {
            key: key.to_string(),
            attempts: MAX_ATTEMPTS,
        })
    }

    /// Checks that `lease` is still held, by its owner, with its fencing number, and has
    /// not expired: call it right before acting under the lease.
    pub fn verify(&self, lease: &Lease) -> Result<()> {
        let now = self.clock.now();
        let state = self.state(&lease.key)?;
        match state.as_ref().map(|s| (s, s.live_holder(now))) {
            Some((s, Some(h))) if h.owner == lease.owner && s.fencing == lease.fencing => Ok(()),
            other => Err(lost(
                lease,
                match other {
                    None => "the lease record is gone".into(),
                    Some((s, Some(h))) => describe_other(s, h),
                    Some((s, None)) if s.fencing == lease.fencing && s.holder.is_some() => {
                        "it expired".into()
                    }
                    Some((s, None)) if s.fencing == lease.fencing => "it was released".into(),
                    Some((s, None)) => format!("it was acquired since (fencing {})", s.fencing),
                },
            )),
        }
    }

    /// Renews or releases while the stored state still belongs to `lease` (same owner
    /// and fencing number, expired or not), compare-and-swap. Returns the new expiry of a
    /// renewal.
    fn change_own(&self, lease: &Lease, op: Op) -> Result<Option<DateTime<Utc>>> {
        let mut current = self.store.read(&lease.key)?;
        for _ in 0..MAX_ATTEMPTS {
            let now = self.clock.now();
            let Some(state) = current.as_ref().map(LeaseState::from_record).transpose()? else {
                return Err(lost(lease, "the lease record is gone".into()));
            };
            if state.fencing != lease.fencing {
                let why = match &state.holder {
                    Some(h) => describe_other(&state, h),
                    None => format!("it was acquired since (fencing {})", state.fencing),
                };
                return Err(lost(lease, why));
            }
            let (next, expires_at) = match (&state.holder, op) {
                (Some(h), _) if h.owner != lease.owner => {
                    return Err(lost(lease, describe_other(&state, h)));
                }
                // Released at this fencing number, which only its owner can do: a second
                // release has nothing to do, a renewal comes too late.
                (None, Op::Release) => return Ok(None),
                (None, Op::Renew(_)) => return Err(lost(lease, "it was released".into())),
                (Some(h), Op::Renew(ttl)) => {
                    let expires_at = lease_end(now, ttl)?;
                    let next = LeaseState {
                        holder: Some(Holder {
                            expires_at,
                            ..h.clone()
                        }),
                        changed_at: now,
                        ..state.clone()
                    };
                    (next, Some(expires_at))
                }
                (Some(_), Op::Release) => {
                    let next = LeaseState {
                        holder: None,
                        took_over_from: None,
                        changed_at: now,
                        ..state.clone()
                    };
                    (next, None)
                }
            };
            match self.store.write_json(
                &lease.key,
                &Expected::from_current(current.as_ref()),
                &next,
            )? {
                Cas::Done(_) => return Ok(expires_at),
                Cas::Conflict { current: newer } => current = newer,
            }
        }
        Err(Error::Contended {
            key: lease.key.to_string(),
            attempts: MAX_ATTEMPTS,
        })
    }
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Renew(Duration),
    Release,
}

fn new_holder(
    owner: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    fencing: u64,
    took_over_from: Option<Holder>,
) -> LeaseState {
    LeaseState {
        holder: Some(Holder {
            owner: owner.to_owned(),
            acquired_at: now,
            expires_at,
        }),
        fencing,
        took_over_from,
        changed_at: now,
    }
}

fn lease_end(now: DateTime<Utc>, ttl: Duration) -> Result<DateTime<Utc>> {
    chrono::Duration::from_std(ttl)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .ok_or(Error::LeaseTooLong {
            lease: ttl,
            from: now,
        })
}

fn describe_other(state: &LeaseState, holder: &Holder) -> String {
    format!(
        "{} holds it since {} (fencing {})",
        holder.owner, holder.acquired_at, state.fencing
    )
}

fn lost(lease: &Lease, now: String) -> Error {
    Error::LeaseLost {
        key: lease.key.to_string(),
        owner: lease.owner.clone(),
        fencing: lease.fencing,
        now,
    }
}

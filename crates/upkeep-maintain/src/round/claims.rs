//! Who works which project: leases in the state store.
//!
//! A runner claims a project (compare-and-swap, with a lease) before it works it, keeps
//! the lease renewed while it works, makes sure it still holds it right before every
//! step others can see (push, change request, message), and gives it back when the
//! project ends. Another runner finds the project held and waits; once a lease ran out
//! (its runner died) anyone takes the project over, with a higher fencing number.
//!
//! One shortcut keeps a re-run on the same machine from waiting out a lease: an owner id
//! names its host, its process (pid and start time) and the kernel it ran under, so a
//! later process on that machine can tell that the holder is gone and take over at once.
//! Anywhere else, only expiry frees a lease.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest as _, Sha256};
use tokio_util::sync::CancellationToken;
use upkeep_state::{
    Acquisition, Cas, Claim, Clock, Holder, Key, Lease, LeaseState, Leases, StateStore,
    StateStoreExt as _,
};

use crate::journal::JournalError;

/// This process as a lease owner.
#[derive(Debug, Clone)]
pub(crate) struct Runner {
    label: String,
    host: String,
    /// This process's identity on its machine: pid, start time, and a tag of the kernel
    /// boot and pid namespace. `None` where `/proc` does not say (then no lease is ever
    /// taken over before it expires).
    local: Option<Local>,
    nonce: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Local {
    pid: u32,
    start: u64,
    machine: String,
}

impl Runner {
    /// This process, labelled `label` (`shard-2/4`, `run`, `report`).
    pub(crate) fn this_process(label: &str) -> Self {
        let host = fs_err::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "unknown-host".to_owned());
        let pid = std::process::id();
        let local = start_time(pid)
            .zip(machine_tag())
            .map(|(start, machine)| Local {
                pid,
                start,
                machine,
            });
        Self {
            label: label.to_owned(),
            host: clean(&host),
            local,
            nonce: rand::random(),
        }
    }

    /// The owner id: `shard-2/4@host#pid.start.machine.nonce`, unique to this process and
    /// run, readable in reports.
    pub(crate) fn owner(&self) -> String {
        let local = self.local.as_ref().map_or_else(
            || "0.0.-".to_owned(),
            |l| format!("{}.{}.{}", l.pid, l.start, l.machine),
        );
        format!(
            "{}@{}#{local}.{:08x}",
            clean(&self.label),
            self.host,
            self.nonce
        )
    }

    /// Whether `owner` was a process of this machine that is no longer running: its
    /// lease can be taken over without waiting for it to expire.
    pub(crate) fn is_dead_local(&self, owner: &str) -> bool {
        let Some(mine) = &self.local else {
            return false;
        };
        let Some((host, theirs)) = parse_owner(owner) else {
            return false;
        };
        if host != self.host || theirs.machine != mine.machine {
            return false;
        }
        if theirs.pid == mine.pid && theirs.start == mine.start {
            // This very process (an earlier round in it): alive.
            return false;
        }
        start_time(theirs.pid) != Some(theirs.start)
    }
}

/// Owner ids keep to one line of plain characters.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_graphic() && !matches!(c, '#' | '@') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn parse_owner(owner: &str) -> Option<(&str, Local)> {
    let (who, local) = owner.rsplit_once('#')?;
    let (_, host) = who.rsplit_once('@')?;
    let mut parts = local.split('.');
    let pid = parts.next()?.parse().ok()?;
    let start = parts.next()?.parse().ok()?;
    let machine = parts.next()?.to_owned();
    (pid != 0 && machine != "-").then_some((
        host,
        Local {
            pid,
            start,
            machine,
        },
    ))
}

/// The start time of process `pid` in clock ticks since boot (`/proc/<pid>/stat`, field
/// 22): with the pid it names one process, even after the pid is reused.
fn start_time(pid: u32) -> Option<u64> {
    let stat = fs_err::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count after the last `)`.
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// The kernel boot and the pid namespace: processes with one tag see the same pids.
fn machine_tag() -> Option<String> {
    let boot = fs_err::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let ns = fs_err::read_link("/proc/self/ns/pid").ok()?;
    let digest = Sha256::digest(format!("{}\n{}", boot.trim(), ns.display()).as_bytes());
    Some(hex(&digest[..4]))
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// How a claim went.
#[derive(Debug, Clone)]
pub(crate) enum Claimed {
    /// This runner holds it now.
    Acquired {
        /// The runner whose expired (or dead) lease was taken over.
        took_over_from: Option<String>,
    },
    /// Another runner holds a live lease.
    Held {
        /// Who.
        holder: Holder,
    },
}

struct Held {
    lease: Lease,
    /// Cancelled when the lease is lost: the work it protects stops.
    lost: CancellationToken,
}

/// The leases this runner holds, in one store.
pub(crate) struct Claims {
    store: Arc<dyn StateStore>,
    leases: Leases,
    clock: Arc<dyn Clock>,
    runner: Runner,
    owner: String,
    ttl: Duration,
    held: Mutex<BTreeMap<Key, Held>>,
}

/// The lease of `key` is no longer this runner's.
#[derive(Debug, Clone)]
pub(crate) struct Lost(pub String);

impl Claims {
    pub(crate) fn new(
        store: Arc<dyn StateStore>,
        clock: Arc<dyn Clock>,
        runner: Runner,
        ttl: Duration,
    ) -> Self {
        Self {
            leases: Leases::new(store.clone(), clock.clone()),
            store,
            clock,
            owner: runner.owner(),
            runner,
            ttl,
            held: Mutex::new(BTreeMap::new()),
        }
    }

    /// The owner id of this runner.
    pub(crate) fn owner(&self) -> &str {
        &self.owner
    }

    /// The lease duration.
    pub(crate) fn ttl(&self) -> Duration {
        self.ttl
    }

    fn held(&self) -> std::sync::MutexGuard<'_, BTreeMap<Key, Held>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Claims `key` (blocking). `lost` is cancelled if the lease is lost later.
    pub(crate) fn claim(
        &self,
        key: &Key,
        lost: CancellationToken,
    ) -> Result<Claimed, JournalError> {
        let err = |e| JournalError::store(self.store.as_ref(), format!("claim {key}"), e);
        // A second pass after expiring the lease of a dead local holder.
        for _ in 0..2 {
            match self.leases.claim(key, &self.owner, self.ttl).map_err(err)? {
                Claim::Acquired { lease, how } => {
                    let took_over_from = match how {
                        Acquisition::TakenOver { from } => Some(from.owner),
                        Acquisition::Free | Acquisition::AlreadyHeld => None,
                    };
                    if let Some(from) = &took_over_from {
                        tracing::info!(%key, from, fencing = lease.fencing, "took over an expired claim");
                    }
                    self.held().insert(key.clone(), Held { lease, lost });
                    return Ok(Claimed::Acquired { took_over_from });
                }
                Claim::Held { holder, .. } if self.runner.is_dead_local(&holder.owner) => {
                    tracing::info!(%key, holder = holder.owner, "the holder's process is gone");
                    self.expire_dead(key, &holder).map_err(err)?;
                }
                Claim::Held { holder, .. } => return Ok(Claimed::Held { holder }),
            }
        }
        // The dead holder's lease was renewed under us: somebody is alive after all.
        let holder = self
            .leases
            .state(key)
            .map_err(err)?
            .and_then(|s| s.holder)
            .unwrap_or_else(|| Holder {
                owner: "unknown".to_owned(),
                acquired_at: self.clock.now(),
                expires_at: self.clock.now(),
            });
        Ok(Claimed::Held { holder })
    }

    /// Ends the lease of a holder known to be dead (compare-and-swap on the record read),
    /// so that the next claim takes it over with a higher fencing number.
    fn expire_dead(&self, key: &Key, dead: &Holder) -> upkeep_state::Result<()> {
        let Some(record) = self.store.read(key)? else {
            return Ok(());
        };
        let state = LeaseState::from_record(&record)?;
        if state.holder.as_ref() != Some(dead) {
            return Ok(());
        }
        let now = self.clock.now();
        let expired = LeaseState {
            holder: Some(Holder {
                expires_at: now,
                ..dead.clone()
            }),
            changed_at: now,
            ..state
        };
        // A conflict means the record moved on: the next claim reads it again.
        let _: Cas<_> = self.store.write_json(key, &record.expected(), &expired)?;
        Ok(())
    }

    /// Makes sure this runner still holds `key` with time to spare (blocking): renews
    /// the lease when less than half of it is left. Call it right before acting.
    pub(crate) fn ensure(&self, key: &Key) -> Result<(), Lost> {
        let (lease, lost) = {
            let held = self.held();
            let Some(h) = held.get(key) else {
                return Err(Lost(format!("{key} is not claimed by this runner")));
            };
            (h.lease.clone(), h.lost.clone())
        };
        if lost.is_cancelled() {
            return Err(Lost(format!("{key} was lost to another runner")));
        }
        if remaining(&lease, self.clock.now()) > self.ttl / 2 {
            return Ok(());
        }
        self.renew(key, &lease, &lost)
    }

    fn renew(&self, key: &Key, lease: &Lease, lost: &CancellationToken) -> Result<(), Lost> {
        match self.leases.renew(lease, self.ttl) {
            Ok(renewed) => {
                if let Some(h) = self.held().get_mut(key) {
                    h.lease = renewed;
                }
                Ok(())
            }
            Err(upkeep_state::Error::LeaseLost { now, .. }) => {
                tracing::warn!(%key, why = now, "lost the claim");
                lost.cancel();
                Err(Lost(format!("{key}: {now}")))
            }
            Err(e) if remaining(lease, self.clock.now()).is_zero() => {
                // The store cannot be reached and the lease ran out: somebody else may
                // hold it by now.
                lost.cancel();
                Err(Lost(format!(
                    "{key}: the lease ran out while the state store failed: {e}"
                )))
            }
            // Still time left: the next renewal tries again.
            Err(e) => {
                tracing::warn!(%key, error = %e, "cannot renew the claim yet");
                Ok(())
            }
        }
    }

    /// Renews every lease that has used a third of its time (blocking): the background
    /// renewal.
    pub(crate) fn renew_due(&self) {
        let due: Vec<(Key, Lease, CancellationToken)> = self
            .held()
            .iter()
            .filter(|(_, h)| remaining(&h.lease, self.clock.now()) < self.ttl * 2 / 3)
            .map(|(k, h)| (k.clone(), h.lease.clone(), h.lost.clone()))
            .collect();
        for (key, lease, lost) in due {
            let _ = self.renew(&key, &lease, &lost);
        }
    }

    /// Gives `key` back (blocking), if held. A failure only delays the next claimer until
    /// the lease runs out.
    pub(crate) fn release(&self, key: &Key) {
        let Some(held) = self.held().remove(key) else {
            return;
        };
        if held.lost.is_cancelled() {
            return;
        }
        if let Err(e) = self.leases.release(&held.lease) {
            tracing::warn!(%key, error = %e, "cannot release the claim; it runs out by itself");
        }
    }

    /// Keys this runner holds.
    pub(crate) fn held_keys(&self) -> Vec<Key> {
        self.held().keys().cloned().collect()
    }

    /// The lease of `key` as stored (blocking).
    pub(crate) fn state(&self, key: &Key) -> Result<Option<LeaseState>, JournalError> {
        self.leases
            .state(key)
            .map_err(|e| JournalError::store(self.store.as_ref(), format!("read {key}"), e))
    }

    /// The clock's time.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}

fn remaining(lease: &Lease, now: DateTime<Utc>) -> Duration {
    (lease.expires_at - now).to_std().unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;
    use upkeep_state::{LocalStore, ManualClock};

    fn claims(dir: &std::path::Path, clock: &Arc<ManualClock>, label: &str) -> Claims {
        let store: Arc<dyn StateStore> = Arc::new(LocalStore::open(dir).unwrap());
        Claims::new(
            store,
            clock.clone(),
            Runner::this_process(label),
            Duration::from_mins(1),
        )
    }

    #[test]
    fn owner_ids_name_the_process_and_parse_back() {
        let runner = Runner::this_process("shard-2/4");
        let owner = runner.owner();
        assert!(owner.starts_with("shard-2/4@"), "{owner}");
        let (host, local) = parse_owner(&owner).expect("parses");
        assert_eq!(host, runner.host);
        assert_eq!(Some(local), runner.local);
        // This process is alive, and so is any other running process of this machine.
        assert!(!runner.is_dead_local(&owner));
        assert!(!Runner::this_process("run").is_dead_local(&owner));
        // A process of this machine that has ended.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let start = start_time(pid);
        child.wait().unwrap();
        let machine = runner.local.as_ref().unwrap().machine.clone();
        let dead = format!(
            "run@{}#{pid}.{}.{machine}.00000001",
            runner.host,
            start.unwrap_or(1)
        );
        assert!(runner.is_dead_local(&dead), "{dead}");
        // Another machine's process is never known dead; nor an owner we cannot read.
        let elsewhere = format!("run@other-host#{pid}.1.{machine}.00000001");
        assert!(!runner.is_dead_local(&elsewhere));
        let other_kernel = format!("run@{}#{pid}.1.ffffffff.00000001", runner.host);
        assert!(!runner.is_dead_local(&other_kernel));
        assert!(!runner.is_dead_local("someone"));
    }

    #[test]
    fn a_held_claim_waits_and_an_expired_one_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let a = claims(dir.path(), &clock, "shard-1/2");
        let b = claims(dir.path(), &clock, "shard-2/2");
        let key = Key::new("rounds/r1/claims/api").unwrap();
        let lost_a = CancellationToken::new();
        assert!(matches!(
            a.claim(&key, lost_a.clone()).unwrap(),
            Claimed::Acquired {
                took_over_from: None
            }
        ));
        let held = b.claim(&key, CancellationToken::new()).unwrap();
        assert!(
            matches!(&held, Claimed::Held { holder } if holder.owner == a.owner()),
            "{held:?}"
        );
        // A renews as it goes; B still waits.
        clock.advance(Duration::from_secs(45));
        a.renew_due();
        clock.advance(Duration::from_secs(45));
        assert!(a.ensure(&key).is_ok());
        assert!(matches!(
            b.claim(&key, CancellationToken::new()).unwrap(),
            Claimed::Held { .. }
        ));
        // A stops renewing (it died); after the lease B takes over, and A learns it lost.
        clock.advance(Duration::from_secs(61));
        let took = b.claim(&key, CancellationToken::new()).unwrap();
        assert!(
            matches!(&took, Claimed::Acquired { took_over_from: Some(o) } if o == a.owner()),
            "{took:?}"
        );
        assert!(a.ensure(&key).is_err());
        assert!(lost_a.is_cancelled());
        // B releases; the next claim is free.
        b.release(&key);
        assert!(matches!(
            a.claim(&key, CancellationToken::new()).unwrap(),
            Claimed::Acquired {
                took_over_from: None
            }
        ));
    }

    #[test]
    fn a_dead_local_holder_is_taken_over_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let live = claims(dir.path(), &clock, "run");
        let key = Key::new("rounds/r1/claims/api").unwrap();
        // The lease of a process of this machine that has ended, valid for an hour.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let start = start_time(pid).unwrap_or(1);
        child.wait().unwrap();
        let machine = live.runner.local.as_ref().unwrap().machine.clone();
        let dead_owner = format!("run@{}#{pid}.{start}.{machine}.0000abcd", live.runner.host);
        let dead = Leases::new(live.store.clone(), clock.clone());
        dead.claim(&key, &dead_owner, Duration::from_hours(1))
            .unwrap();
        let took = live.claim(&key, CancellationToken::new()).unwrap();
        assert!(
            matches!(&took, Claimed::Acquired { took_over_from: Some(o) } if *o == dead_owner),
            "{took:?}"
        );
        let state = live.state(&key).unwrap().unwrap();
        assert_eq!(state.fencing, 2, "a takeover raises the fencing number");
    }
}

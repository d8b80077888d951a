//! Shared state for upkeep's jobs: small versioned records, changed compare-and-swap,
//! stored where every runner can read them.
//!
//! Teams run `maintain` and `move-branches` on throwaway CI runners, several at once
//! (shards) and re-run at will. What a round did per project, which runner works which
//! project, and move-branches' in-progress note must outlive the runner and be safe to
//! write from several runners at once. This crate is that store, with two backends
//! behind one trait, [`StateStore`]:
//!
//! - [`LocalStore`]: files in a directory, the embedded default (the demo and a laptop
//!   run need nothing). Atomic writes, compare-and-swap under a per-key advisory lock,
//!   safe across processes of one machine.
//! - [`GitStore`]: a git repository the team already has (any URL the git layer takes: a
//!   bare path, `file://`, `https://` with a token passed as
//!   [`Credentials`](upkeep_git::Credentials), ssh), one ref per key.
//!
//! # Keys
//!
//! A [`Key`] is a `/`-separated path whose segments are valid in a git ref name and a
//! file name; names from elsewhere are escaped into segments ([`Key::from_segments`]).
//! The layout upkeep uses:
//!
//! | key | record |
//! |---|---|
//! | `rounds/<round>/projects/<project>` | what the round did for one project |
//! | `rounds/<round>/claims/<project>` | the lease of the runner working that project |
//! | `rounds/<round>/summary` | the round's summary message |
//! | `rounds/<round>/set` | the round's project set, when discover rules find projects |
//! | `branches/<config>/in-progress` | move-branches' in-progress note |
//!
//! A key holding a record cannot also be a prefix of another key (git cannot have both
//! `refs/upkeep/a` and `refs/upkeep/a/b`): such a write fails with
//! [`Error::KeyCollides`], in both stores.
//!
//! # Compare-and-swap
//!
//! Every record has a [`Version`], new on each write. [`StateStore::write`] and
//! [`StateStore::delete`] take the version the caller expects ([`Expected::Absent`] to
//! create) and change nothing when the record is elsewhere: they return
//! [`Cas::Conflict`] with the current record, so the caller can decide (merge and
//! write again, or give way). [`StateStoreExt::update`] is that loop for
//! read-modify-write.
//!
//! # Why refs, and what a lost answer means
//!
//! The git store keeps each key in its own ref, `refs/upkeep/<key>`, whose tip is a
//! commit holding the record and whose parent is the previous version. Git servers
//! already do compare-and-swap on one ref (`git push --force-with-lease`, checked by
//! `receive-pack` under the ref's lock), on every forge, with the credentials the team
//! has; one ref per key means runners working different projects never push to the
//! same ref, so they never contend, and a prefix (one round) is read by one listing of
//! the refs and one download. The deploy token (`upkeep-lock`) and the promotion
//! history already keep their state this way.
//!
//! A push can fail after the server updated the ref (the connection dropped, the
//! server died before answering). The store never guesses: it reads the ref again, and
//! if the ref is at or past the commit it pushed (each write's commit carries a random
//! write id, so it cannot be anybody else's), the write happened; if the ref is still
//! at the expected version, the push is retried (transient failures, with backoff and
//! jitter); otherwise another writer won and the caller gets the conflict. Nothing is
//! lost, nothing is applied twice.
//!
//! # Leases
//!
//! [`Leases`] claims a key for an owner for a while (the runner working a project), on
//! top of compare-and-swap: one live holder at a time, renewal by the holder, takeover
//! by anyone once the lease expired (a dead runner's project is taken over), and a
//! fencing number that rises on every acquisition by a new owner, so work stamped with
//! an old number can be refused. Time comes from an injected [`Clock`]; nothing sleeps.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use upkeep_state::{Cas, Claim, Expected, Key, Leases, LocalStore, StateStore, SystemClock};
//!
//! # fn main() -> upkeep_state::Result<()> {
//! # let dir = tempfile::tempdir().unwrap();
//! let store: Arc<dyn StateStore> = Arc::new(LocalStore::open(dir.path())?);
//! let leases = Leases::new(store.clone(), Arc::new(SystemClock));
//! let me = Leases::unique_owner("shard-1/4");
//!
//! let claim = Key::from_segments(["rounds", "2026-03-02", "claims", "group/api"])?;
//! if let Claim::Acquired { lease, .. } = leases.claim(&claim, &me, Duration::from_mins(15))? {
//!     // ... work on the project, renewing now and then; right before pushing:
//!     leases.verify(&lease)?;
//!     let record = Key::from_segments(["rounds", "2026-03-02", "projects", "group/api"])?;
//!     match store.write(&record, &Expected::Absent, br#"{"stage":"done"}"#)? {
//!         Cas::Done(written) => assert_eq!(written.key.name(), "group/api"),
//!         Cas::Conflict { current } => { /* somebody else recorded it: merge or give way */ }
//!     }
//!     leases.release(&lease)?;
//! }
//! let round = store.list(&Key::new("rounds/2026-03-02/projects")?)?;
//! assert_eq!(round.len(), 1);
//! # Ok(())
//! # }
//! ```
//!
//! # Blocking calls
//!
//! The methods are synchronous: the local store is file I/O, and the git store is
//! libgit2 plus a `git push` child process, both blocking. An async trait would only
//! wrap them in `spawn_blocking` inside every implementation; async callers do that
//! once around their own call (`tokio::task::spawn_blocking`) and keep the trait object
//! safe and usable from plain threads.
//!
//! Nothing here prints or reads the environment; progress goes to `tracing`.

mod error;
mod git;
mod key;
mod lease;
mod local;
mod record;
mod retry;
mod store;

pub use error::{Error, Result};
pub use git::{GitStore, GitStoreConfig};
pub use key::Key;
pub use lease::{
    Acquisition, Claim, Clock, Holder, Lease, LeaseState, Leases, ManualClock, SystemClock,
};
pub use local::LocalStore;
pub use record::{Cas, Expected, Record, Version};
pub use retry::RetryPolicy;
pub use store::{MAX_UPDATE_ATTEMPTS, StateStore, StateStoreExt};

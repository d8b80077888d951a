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
//! # Leases
//!
//! [`Leases`] claims a key for an owner for a while (the runner working a project), on
//! top of compare-and-swap: one live holder at a time, renewal by the holder, takeover
//! by anyone once the lease expired (a dead runner's project is taken over), and a
//! fencing number that rises on every acquisition by a new owner, so work stamped with
//! an old number can be refused. Time comes from an injected [`Clock`]; nothing sleeps.
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

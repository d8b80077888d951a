//! The deploy token: only one person changes servers at a time.
//!
//! Teams used to keep "Held by: &lt;name&gt;" in a shared document and a deploy history in a
//! spreadsheet, both edited by hand. This crate replaces both with a named lock stored
//! as a ref (`refs/upkeep/locks/<name>` by default) in any git repository the team can
//! push to:
//!
//! - every state change is a commit whose tree holds `lock.json` (holder, reason,
//!   acquired at, expires at, fencing number, and the event that made it) and whose
//!   parent is the previous state, so the ref's first-parent chain **is** the history;
//! - every change is pushed compare-and-swap on the ref's old tip (`git push
//!   --force-with-lease`, see `upkeep_git::Repo::push`): when two people acquire at once,
//!   the server accepts exactly one push, and the loser re-reads and is told who holds it;
//! - a lock is a **lease**: it expires (renewable), an expired lock can be taken over, and
//!   [`LockStore::steal`] takes a live one and records that loudly;
//! - every acquisition increments a **fencing number**; tools acting under the token
//!   record it and call [`LockStore::verify`] before acting, which refuses once somebody
//!   else has acquired since.
//!
//! Time is passed in (`now`) rather than read, so leases are testable and the binaries
//! decide the clock. Nothing here prints or reads the environment.

mod error;
mod preflight;
mod state;
mod store;

pub use error::{Error, Result};
pub use preflight::{PreflightCheck, PreflightSpec, run_preflight};
pub use state::{Action, Event, Holder, LockState};
pub use store::{Acquired, LockStore, LockTarget};

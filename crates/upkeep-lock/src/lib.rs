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
//! Time is passed in (`now`, or a clock) rather than read, so leases are testable.
//! Nothing here prints or reads the environment.
//!
//! Two levels:
//! - [`LockStore`]: the transitions (`acquire`, `acquire_waiting`, `steal`, `release`,
//!   `renew`, `verify`, `status`, `history`), for tools that act under the token;
//! - [`Session`]: what a deploy-token tool does per command — preflight checks, the wait
//!   loop, the announcement hook ([`Announce`]; [`ChatAnnouncer`] posts through
//!   `upkeep_chat`) and the rendering ([`Outcome::text`], [`Outcome::json`]) — one
//!   [`Request`], one call.
//!
//! Who is operating is decided once for every tool by [`Actor::resolve`]. A reason or a
//! name is shown to others, so it is capped when written ([`MAX_REASON`],
//! [`MAX_ACTOR`]) and always shown inert ([`shown`]).
//!
//! ```no_run
//! use std::time::Duration;
//! use upkeep_lock::{Actor, LockStore, LockTarget, Request, Session};
//!
//! # fn main() -> upkeep_lock::Result<()> {
//! let here = std::path::Path::new(".");
//! let actor = Actor::resolve(None, here, Some("ann"))?;
//! let store = LockStore::open(LockTarget {
//!     remote_url: "https://git.example.com/ops/locks.git".into(),
//!     credentials: upkeep_git::Credentials::none(),
//!     name: "deploy".into(),
//!     ref_prefix: "refs/upkeep/locks/".into(),
//!     scratch_dir: ".upkeep/lock".into(),
//! })?;
//! let session = Session::new(store, actor.name);
//! let outcome = session.run(Request::Acquire {
//!     reason: "deploy kingfisher".into(),
//!     lease: None,
//!     wait: Some(Duration::from_mins(30)),
//!     skip_preflight: false,
//! })?;
//! print!("{}", outcome.text());
//! # Ok(()) }
//! ```

mod actor;
mod announce;
mod error;
mod preflight;
pub mod render;
mod session;
mod state;
mod store;
mod text;
mod wait;

pub use actor::{Actor, ActorSource};
#[cfg(feature = "chat")]
pub use announce::ChatAnnouncer;
pub use announce::{Announce, AnnounceError};
pub use error::{Error, Result};
pub use preflight::{PreflightCheck, PreflightSpec, run_preflight};
pub use session::{
    DEFAULT_LEASE, DEFAULT_NAME, DEFAULT_REF_PREFIX, Done, Outcome, Request, Session, SessionSetup,
    Since,
};
pub use state::{Action, Event, Holder, LockState};
pub use store::{Acquired, LockStore, LockTarget, Released};
pub use text::{MAX_ACTOR, MAX_REASON, shown};
pub use wait::WaitPolicy;

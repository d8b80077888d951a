//! Sentry for upkeep, over plain HTTP.
//!
//! Two jobs, both small:
//! - **The promotion gate**: [`SentryClient::gate`] lists the *unresolved* issues of some
//!   projects in one environment (e.g. `stage`) that were *first seen* within an absolute
//!   [`Window`] (since the previous promotion, say), and judges them against a threshold.
//!   The [`GateVerdict`] carries the issues with links as evidence.
//! - **Failure notifications**: [`send_event`] / [`EventSender`] post one event to the
//!   project of a DSN.
//!
//! Why it is shaped so: listing issues has no maintained client crate, and the `sentry`
//! SDK is built for in-process error capture (global hub, background transport), not for
//! posting one message from a library; both protocols are small and stable, so this crate
//! speaks them with `reqwest`. The base URL is injectable (self-hosted Sentry, the fake in
//! `upkeep-testkit`), windows are absolute so a query means the same thing when repeated,
//! 429/5xx/dropped connections are retried honouring `Retry-After` ([`RetryPolicy`]),
//! pagination follows Sentry's `Link` cursors, and neither the auth token nor the DSN key
//! ever appears in an error, a log line or `Debug` output.

mod error;
mod event;
mod issues;
mod retry;

pub use error::{Error, RequestError, Result};
pub use event::{Dsn, Event, EventSender, Level, send_event};
pub use issues::{GateVerdict, Issue, IssueQuery, SentryClient, Window};
pub use retry::RetryPolicy;

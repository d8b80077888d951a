//! Deploy-token tests against real bare repositories.

mod faults;
mod lock;
mod session;

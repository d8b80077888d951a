//! Deploy-token tests against real bare repositories.

mod lock;

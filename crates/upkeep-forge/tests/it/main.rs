//! Integration tests of upkeep-forge: one binary, one module per adapter.
//!
//! `behaviour` is the suite every adapter runs (see its docs); each adapter module builds
//! its harness and expands `behaviour::behaviour_suite!`, then adds its own quirk tests.

// Keep `behaviour` first: the adapter modules use its macro.
#[cfg_attr(
    not(any(feature = "github", feature = "gitlab", feature = "local")),
    allow(dead_code, unused_macros, unused_imports)
)]
mod behaviour;

#[cfg(feature = "github")]
mod github;
#[cfg(feature = "github")]
mod github_contract;
#[cfg(feature = "github")]
mod promotion;
#[cfg(feature = "github")]
mod recorded;

#[cfg(feature = "github")]
mod discover_github;
#[cfg(feature = "gitlab")]
mod discover_gitlab;
#[cfg(feature = "local")]
mod discover_local;
#[cfg(feature = "gitlab")]
mod gitlab;
#[cfg(feature = "local")]
mod local;

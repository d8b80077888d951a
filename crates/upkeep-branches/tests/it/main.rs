//! Integration tests of upkeep-branches against real bare repos and the local forge.

// Fixtures name repos `a`, `b`, `c` as the scenarios in the docs do.
#![allow(clippy::many_single_char_names)]

mod chat_approval;
mod faults;
mod fixture;
mod gates;
mod history;
mod job;
mod notes;
mod plan_apply;
mod status_rollback;

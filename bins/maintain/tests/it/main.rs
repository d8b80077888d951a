//! The `maintain` binary end to end: real processes, real git and make, the local forge
//! and the console chat.

mod cli;
mod faults;
mod projects;
mod reports;
mod resume;
mod shards;
mod support;

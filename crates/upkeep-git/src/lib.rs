//! Git operations for upkeep, built on git2.
//!
//! (Being built: see issue 2.)

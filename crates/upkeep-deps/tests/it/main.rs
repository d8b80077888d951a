//! Integration tests for upkeep-deps: the committed fixture cases, trees and
//! revisions, and robustness against hostile input.

mod fixtures;
mod oracle;
mod properties;
mod robustness;
mod tree;

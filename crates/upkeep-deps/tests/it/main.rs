//! Integration tests for upkeep-deps.

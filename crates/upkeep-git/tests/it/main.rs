//! Integration tests of upkeep-git against real repositories (upkeep-testkit fixtures).

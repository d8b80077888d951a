//! One `Forge` trait over GitHub, GitLab and plain git remotes.

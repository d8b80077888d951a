//! End-to-end tests of the `move-branches` binary against real bare repos (local forge),
//! `FakeGitHub`, `FakeGitLab`, `FakeSentry` and `FakeSlack`.

mod errors;
mod github;
mod gitlab;
mod lock;
mod packit;
mod scenario;
mod status_rollback;

//! End-to-end tests of the `move-branches` binary against real bare repos (local forge),
//! `FakeGitHub`, `FakeSentry` and `FakeSlack`.

mod errors;
mod github;
mod lock;
mod packit;
mod scenario;
mod status_rollback;

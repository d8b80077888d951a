//! End-to-end tests of the `move-branches` binary against real bare repos (local forge),
//! `FakeGitHub`, `FakeGitLab`, `FakeSentry` and `FakeSlack`.

mod approval;
mod errors;
mod faults;
mod found;
mod github;
mod gitlab;
mod hostile;
mod lock;
mod meta;
mod notify;
mod packit;
mod scenario;
mod status_rollback;

//! Integration tests of upkeep-git against real repositories (upkeep-testkit fixtures).

mod cache;
mod commit;
mod push;
mod reads;
mod secrets;

use upkeep_git::{Author, Repo};
use upkeep_testkit::git::Fixture;

/// A fixed author for commits made through the crate under test.
fn author() -> Author {
    let time = chrono::DateTime::parse_from_rfc3339("2024-06-01T12:00:00+02:00").unwrap();
    Author::new("upkeep bot", "bot@upkeep.invalid").at(time)
}

/// A fixture with `n` commits on `main`, pushed to the bare repo.
fn pushed_history(n: usize) -> (Fixture, Vec<upkeep_git::Oid>) {
    upkeep_testkit::init_tracing();
    let fx = Fixture::new();
    let commits = fx.linear_history(n);
    fx.push_branch("main");
    (fx, commits)
}

/// The fixture's working clone opened through the crate under test.
fn open_work(fx: &Fixture) -> Repo {
    Repo::open(fx.work().path()).unwrap()
}

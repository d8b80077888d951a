//! `[branches.deploy_token]`: the run holds the deploy token and records its fencing number.

use upkeep_testkit::bare::BareRepo;

use crate::scenario::Scenario;

fn with_lock(mode: &str) -> (Scenario, BareRepo) {
    let mut s = Scenario::new();
    s.repo("api", &[]).commit_on("main", "fix: one");
    let lock = BareRepo::init(s.path().join("lock.git"), s.clock.clone());
    s.extra = format!(
        "[branches.ci]\ntarget_commits = false\n[branches.deploy_token]\nmode = \"{mode}\"\n\n[lock]\nrepo = {:?}\n",
        lock.path().to_string_lossy()
    );
    (s, lock)
}

#[tokio::test(flavor = "multi_thread")]
async fn acquire_mode_records_the_fencing_number_and_releases() {
    let (s, lock) = with_lock("acquire");
    let r = s.run(&["run", "--yes"]).await;
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(s.tip("api", "stable"), s.tip("api", "main"));
    let h = s.history_lines();
    assert_eq!(h[0]["fencing"], 1);
    let state =
        upkeep_testkit::git::git(lock.path(), &["show", "refs/upkeep/locks/deploy:lock.json"]);
    let state: serde_json::Value = serde_json::from_str(&state).unwrap();
    assert!(state["holder"].is_null(), "released after the run: {state}");
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_mode_refuses_without_the_token() {
    let (s, _lock) = with_lock("verify");
    let before = s.tip("api", "stable");
    let r = s.run(&["run", "--yes"]).await;
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("does not hold the deploy token"), "{r:?}");
    assert_eq!(s.tip("api", "stable"), before);
}

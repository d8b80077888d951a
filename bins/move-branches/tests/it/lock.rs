//! `[branches.deploy_token]`: the run holds the deploy token and records its fencing number.

use std::fmt::Write as _;

use chrono::{Duration, Utc};
use upkeep_git::Credentials;
use upkeep_lock::{LockStore, LockTarget};
use upkeep_testkit::bare::BareRepo;

use crate::scenario::Scenario;

/// A deploy-token client of `who` on the lock repository, as their machine has it.
fn lock_client(lock: &BareRepo, dir: &std::path::Path, who: &str) -> LockStore {
    LockStore::open(LockTarget {
        remote_url: lock.path().to_string_lossy().into_owned(),
        credentials: Credentials::none(),
        name: "deploy".into(),
        ref_prefix: "refs/upkeep/locks/".into(),
        scratch_dir: dir.join(format!("{who}-lock")),
    })
    .unwrap()
}

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

/// The token is checked before each dependency level: stolen while the run waits for CI
/// on `ogr` (level 1), it stops `packit` (level 2); the run is partial and the history
/// says which moved.
#[tokio::test(flavor = "multi_thread")]
async fn a_token_stolen_between_levels_stops_the_remaining_levels() {
    use crate::gitlab::{OGR, PACKIT, lab};

    let mut lab = lab(
        "[branches.wait]\nci = true\ndeadline = \"10m\"\npoll_interval = \"50ms\"\n\n\
         [branches.deploy_token]\nmode = \"acquire\"\n\n",
    )
    .await;
    let lock = BareRepo::init(lab.s.path().join("lock.git"), lab.s.clock.clone());
    let _ = write!(
        lab.s.extra,
        "[lock]\nrepo = {:?}\n\n",
        lock.path().to_string_lossy()
    );
    lab.validation_only();
    let ogr_new = lab.tip(OGR, "main");
    let packit_old = lab.tip(PACKIT, "stable");
    lab.gl.add_pipeline(OGR, &ogr_new, "running");
    let bob = lock_client(&lock, lab.s.path(), "bob");
    let r = lab
        .run_interleaved(&["run", "--yes"], OGR, &ogr_new, || {
            let held = bob.status().unwrap().unwrap();
            assert_eq!(held.holder.unwrap().who, "ann", "the run holds the token");
            bob.steal("bob", "prod is down", Duration::hours(1), Utc::now())
                .unwrap();
        })
        .await;
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("stopping before level 2"), "{r:?}");
    assert!(
        r.stderr.contains("held by bob with fencing number 2"),
        "{r:?}"
    );
    assert!(r.stdout.contains("result: partial"), "{r:?}");
    assert_eq!(lab.tip(OGR, "stable"), ogr_new, "level 1 moved");
    assert_eq!(lab.tip(PACKIT, "stable"), packit_old, "level 2 did not");

    let h = &lab.s.history_lines()[0];
    assert_eq!(h["result"], "partial");
    assert_eq!(h["fencing"], 1);
    assert_eq!(h["repos"][0]["name"], "ogr");
    assert_eq!(h["repos"][0]["outcome"], "moved");
    assert_eq!(h["repos"][1]["name"], "packit");
    assert_eq!(h["repos"][1]["outcome"], "stopped");
    assert!(
        h["repos"][1]["reason"]
            .as_str()
            .unwrap()
            .contains("no longer current"),
        "{h}"
    );
    // Bob keeps it: the run does not release a token it lost.
    let state = bob.status().unwrap().unwrap();
    assert_eq!(state.holder.unwrap().who, "bob");
    assert_eq!(state.fencing, 2);
    assert!(!r.stderr.contains("could not release"), "{r:?}");
}

/// Holding the token already (`mode = "verify"`): the run moves under it, records its
/// fencing number, and leaves it held.
#[tokio::test(flavor = "multi_thread")]
async fn verify_mode_moves_under_a_held_token_and_keeps_it() {
    let (s, lock) = with_lock("verify");
    let ann = lock_client(&lock, s.path(), "ann");
    let held = ann
        .acquire("ann", "promote", Duration::hours(1), Utc::now())
        .unwrap();
    let r = s.run(&["run", "--yes"]).await;
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(s.tip("api", "stable"), s.tip("api", "main"));
    assert_eq!(s.history_lines()[0]["fencing"], held.state.fencing);
    let state = ann.status().unwrap().unwrap();
    assert_eq!(state.holder.unwrap().who, "ann", "still held");
    assert_eq!(state.fencing, held.state.fencing);
}

/// Without `--actor` on either side, both tools take the operator from git's
/// `user.name`: the holder who acquired as `deploy-token acquire` does (the library call
/// it makes, with the same rule: `upkeep_lock::Actor`) is recognised by `move-branches
/// run` in `mode = "verify"`. (`deploy-token`'s own tests show the binary records
/// `user.name`.)
#[tokio::test(flavor = "multi_thread")]
async fn verify_mode_accepts_the_holder_who_acquired_with_deploy_token() {
    let (mut s, lock) = with_lock("verify");
    // Both tools run here; git's configuration here says who the operator is.
    upkeep_testkit::git::git(s.path(), &["init", "--quiet"]);
    upkeep_testkit::git::git(s.path(), &["config", "user.name", "Ann Example"]);
    let actor = upkeep_lock::Actor::resolve(None, s.path(), Some("ann")).unwrap();
    let store = lock_client(&lock, s.path(), "ann");
    upkeep_lock::Session::new(store, actor.name)
        .run(upkeep_lock::Request::Acquire {
            reason: "promote stable".into(),
            lease: None,
            wait: None,
            skip_preflight: true,
        })
        .unwrap();
    s.env = vec![
        ("USER".into(), "ann".into()),
        // The scenario names everyone `ann` through UPKEEP_ACTOR; empty is unset.
        ("UPKEEP_ACTOR".into(), String::new()),
    ];
    let r = s.run(&["run", "--yes"]).await;
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(s.tip("api", "stable"), s.tip("api", "main"));
    assert_eq!(s.history_lines()[0]["fencing"], 1);
    let state =
        upkeep_testkit::git::git(lock.path(), &["show", "refs/upkeep/locks/deploy:lock.json"]);
    assert!(
        state.contains("\"who\": \"Ann Example\""),
        "still held: {state}"
    );
}

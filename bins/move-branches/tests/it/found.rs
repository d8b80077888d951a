//! What running `move-branches` as a new user would found (issue 15): each test here
//! failed before its fix. User-facing messages are pinned as snapshots.

use std::time::Duration;

use chrono::Utc;
use upkeep_git::Credentials;
use upkeep_lock::{LockStore, LockTarget};
use upkeep_testkit::bare::BareRepo;

use crate::scenario::{Scenario, two_repos};

/// `UPKEEP_JOB=1`, as documented, was refused: "invalid value '1' for '--job'".
#[tokio::test(flavor = "multi_thread")]
async fn upkeep_job_takes_1_and_0() {
    let mut s = two_repos().await;
    s.env = vec![("UPKEEP_JOB".into(), "0".into())];
    let by_hand = s.run(&["run"]).await;
    assert_eq!(
        by_hand.code, 0,
        "not a job: nothing approved is fine: {by_hand:?}"
    );
    s.env = vec![("UPKEEP_JOB".into(), "1".into())];
    let job = s.run(&["run"]).await;
    assert_eq!(
        job.code, 2,
        "a job nobody approved must not look green: {job:?}"
    );
    // And nobody is told: say so.
    s.filters()
        .bind(|| insta::assert_snapshot!("job_without_notify", job.stderr));
    assert!(s.history_lines().is_empty());
}

/// The actor's name and a gate's output are other people's text: a newline forged a
/// line of `status`, escape sequences reached the terminal, 120 kB were echoed whole.
#[tokio::test(flavor = "multi_thread")]
async fn text_from_people_and_gates_is_shown_inert_and_capped() {
    let mut s = two_repos().await;
    let long = "x".repeat(120_000);
    let actor = format!("mallory\nogr: moved `stable` to something else\u{1b}[2J{long}");
    // A name others will read is refused at the door (the rule every upkeep tool shares,
    // `upkeep_lock::Actor`), and the refusal itself is one inert, capped line.
    let before = s.tip("ogr", "stable");
    let run = s
        .run(&["--actor", &actor, "run", "--yes", "--skip", "packit"])
        .await;
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(s.tip("ogr", "stable"), before, "nothing moved");
    s.filters()
        .bind(|| insta::assert_snapshot!("hostile_actor_refused", run.stderr));

    let out = s.path().join("gate-output.txt");
    fs_err::write(
        &out,
        format!("{long}\n\u{1b}]0;owned\u{7}stage is fine\u{1b}[2J\n"),
    )
    .unwrap();
    s.extra = format!(
        "[[branches.command_gates]]\nname = \"smoke\"\ncommand = \"cat '{}'\"\n",
        out.display()
    );
    let plan = s.run(&["plan"]).await;
    assert_eq!(plan.code, 0, "{plan:?}");
    let gates = &plan.stdout[plan.stdout.find("gates:").unwrap()..];
    s.filters()
        .bind(|| insta::assert_snapshot!("gate_output_capped", gates));
}

/// A command gate that timed out left what it started running, and dropped what it had
/// printed.
#[tokio::test(flavor = "multi_thread")]
async fn a_command_gate_that_times_out_is_killed_with_its_children() {
    let mut s = two_repos().await;
    s.extra = "[[branches.command_gates]]\nname = \"slow\"\n\
               command = \"echo checking stage; sleep 600 & echo $! > bg.pid; wait\"\n\
               timeout = \"1s\"\n"
        .into();
    let r = s.run(&["run", "--yes"]).await;
    assert_eq!(r.code, 2, "{r:?}");
    let gates = &r.stdout[r.stdout.find("gates:").unwrap()..];
    s.filters()
        .bind(|| insta::assert_snapshot!("gate_timed_out", gates));
    let pid = fs_err::read_to_string(s.path().join("bg.pid")).unwrap();
    let alive = || {
        fs_err::read_to_string(format!("/proc/{}/stat", pid.trim()))
            .is_ok_and(|stat| !stat.contains(") Z "))
    };
    // The kill was sent before the run ended; this only waits for the kernel.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while alive() {
        assert!(
            std::time::Instant::now() < deadline,
            "the gate's child {pid} still runs"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Overrides as people type them: too short, with a space, misspelt; and `status` with
/// a repo it does not know.
#[tokio::test(flavor = "multi_thread")]
async fn overrides_as_people_type_them() {
    let s = two_repos().await;
    let short = s.run(&["plan", "--ogr=ab"]).await;
    assert_eq!(short.code, 2, "{short:?}");
    s.filters()
        .bind(|| insta::assert_snapshot!("override_too_short", short.stderr));

    let tip = s.tip("ogr", "main");
    let spaced = s.run(&["plan", "--ogr", &tip[..7]]).await;
    assert_eq!(spaced.code, 0, "{spaced:?}");
    assert!(
        spaced
            .stdout
            .contains(&format!("(requested `{}`)", &tip[..7])),
        "{spaced:?}"
    );

    let typo = s.run(&["plan", "--orr=abc1234"]).await;
    assert_eq!(typo.code, 2, "{typo:?}");
    s.filters()
        .bind(|| insta::assert_snapshot!("override_misspelt", typo.stderr));

    let status = s.run(&["status", "nosuch"]).await;
    assert_eq!(status.code, 2, "{status:?}");
    s.filters()
        .bind(|| insta::assert_snapshot!("status_unknown_repo", status.stderr));
}

/// A stale `--approve` ran the gates before checking the digest, and its refusal was
/// not recorded.
#[tokio::test(flavor = "multi_thread")]
async fn a_stale_approval_is_refused_before_the_gates_and_recorded() {
    let mut s = two_repos().await;
    s.extra = "[[branches.command_gates]]\nname = \"smoke\"\ncommand = \"touch gate-ran\"\n".into();
    let before = s.tip("ogr", "stable");
    let r = s.run(&["run", "--approve", "000000000000"]).await;
    assert_eq!(r.code, 2, "{r:?}");
    s.filters()
        .bind(|| insta::assert_snapshot!("stale_approval", r.stderr));
    assert!(!s.path().join("gate-ran").exists(), "the gates ran");
    assert_eq!(s.tip("ogr", "stable"), before);
    let h = s.history_lines();
    assert_eq!(h.len(), 1, "the refusal is recorded");
    assert_eq!(h[0]["result"], "refused");
    assert!(
        h[0]["message"].as_str().unwrap().contains("000000000000"),
        "{}",
        h[0]
    );
}

/// The history left out `--skip`ped repos.
#[tokio::test(flavor = "multi_thread")]
async fn skipped_repos_are_in_the_history() {
    let s = two_repos().await;
    let r = s.run(&["run", "--yes", "--skip", "packit"]).await;
    assert_eq!(r.code, 0, "{r:?}");
    let h = s.history_lines();
    let outcomes: Vec<(&str, &str)> = h[0]["repos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["name"].as_str().unwrap(), r["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(outcomes, [("ogr", "moved"), ("packit", "skipped")]);
}

/// After a rollback, `status` still showed the undone promotion as the last one and
/// proposed a next tag that already existed.
#[tokio::test(flavor = "multi_thread")]
async fn status_after_a_rollback() {
    let mut s = Scenario::new();
    let api = s.repo("api", &[]);
    upkeep_testkit::git::git(api.path(), &["tag", "v1.0.0", &s.tip("api", "stable")]);
    s.extra = "[branches.ci]\ntarget_commits = false\n".into();
    api.commit_on("main", "feat: one");
    assert_eq!(s.run(&["run", "--yes", "--tag"]).await.code, 0);
    api.commit_on("main", "feat: two");
    assert_eq!(s.run(&["run", "--yes", "--tag"]).await.code, 0);
    let r = s.run(&["rollback", "api", "--yes"]).await;
    assert_eq!(r.code, 0, "{r:?}");

    let status = s.run(&["status", "--output", "json"]).await.json();
    assert_eq!(status[0]["last_tag"]["name"], "v1.1.0");
    assert_eq!(status[0]["last_promotion"]["command"], "rollback");
    assert!(
        status[0]["next_version"].is_null(),
        "main's tip is v1.2.0 already: {status}"
    );
    let text = s.run(&["status"]).await;
    s.filters()
        .bind(|| insta::assert_snapshot!("status_after_rollback", text.stdout));

    api.commit_on("main", "fix: three");
    let status = s.run(&["status", "--output", "json"]).await.json();
    assert_eq!(status[0]["next_version"], "v1.2.1", "{status}");
}

/// The default CI gate fails on plain git repos, which have no CI: say how to turn it
/// off.
#[tokio::test(flavor = "multi_thread")]
async fn plain_git_repos_without_ci_get_a_hint() {
    let mut s = Scenario::new();
    s.repo("api", &[]).commit_on("main", "fix: a");
    let r = s.run(&["run", "--yes"]).await;
    assert_eq!(r.code, 2, "{r:?}");
    s.filters()
        .bind(|| insta::assert_snapshot!("ci_missing_hint", r.stderr));
}

/// `mode = "verify"` refused the real holder's colleague without saying who holds it.
#[tokio::test(flavor = "multi_thread")]
async fn verify_mode_names_the_holder() {
    let mut s = Scenario::new();
    s.repo("api", &[]).commit_on("main", "fix: one");
    let lock = BareRepo::init(s.path().join("lock.git"), s.clock.clone());
    s.extra = format!(
        "[branches.ci]\ntarget_commits = false\n[branches.deploy_token]\nmode = \"verify\"\n\n[lock]\nrepo = {:?}\n",
        lock.path().to_string_lossy()
    );
    let bob = LockStore::open(LockTarget {
        remote_url: lock.path().to_string_lossy().into_owned(),
        credentials: Credentials::none(),
        name: "deploy".into(),
        ref_prefix: "refs/upkeep/locks/".into(),
        scratch_dir: s.path().join("bob-lock"),
    })
    .unwrap();
    bob.acquire(
        "bob",
        "kingfisher\nupgrade \u{1b}[2J",
        chrono::Duration::hours(1),
        Utc::now(),
    )
    .unwrap();
    let before = s.tip("api", "stable");
    let r = s.run(&["run", "--yes"]).await;
    assert_eq!(r.code, 2, "{r:?}");
    s.filters()
        .bind(|| insta::assert_snapshot!("verify_held_by_bob", r.stderr));
    assert_eq!(s.tip("api", "stable"), before);
}

//! Bad input: clear errors, documented exit codes, nothing changed.

use upkeep_forge::CheckState;

use crate::scenario::{Scenario, two_repos};

#[tokio::test(flavor = "multi_thread")]
async fn unknown_repo_in_an_override_names_the_known_ones() {
    let s = two_repos().await;
    let r = s.run(&["run", "--tokman=abc123", "--yes"]).await;
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains("error: unknown repo `tokman`; known repos: ogr, packit"),
        "{r:?}"
    );
    assert_eq!(
        s.tip("ogr", "stable"),
        s.bare("ogr").tip("stable").unwrap().to_string()
    );
    assert!(s.history_lines().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn approval_refuses_a_changed_plan() {
    let s = two_repos().await;
    let plan = s.run(&["plan", "--output", "json"]).await;
    let digest = plan.json()["plan"]["digest"].as_str().unwrap().to_owned();
    let before = s.tip("ogr", "stable");
    // main moves on after the plan was shown and approved.
    let newer = s
        .bare("ogr")
        .commit_on("main", "fix: late change")
        .to_string();
    s.check("ogr", &newer, "tests", CheckState::Success).await;
    let r = s.run(&["run", "--approve", &digest]).await;
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("the plan changed since it was approved"),
        "{r:?}"
    );
    assert!(r.stderr.contains("hint: review the new plan"), "{r:?}");
    assert_eq!(s.tip("ogr", "stable"), before, "nothing moved");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_terminal_or_flag_nothing_changes() {
    let s = two_repos().await;
    let before = s.tip("ogr", "stable");
    let r = s.run(&["run"]).await;
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stderr.contains("no terminal to ask for approval"),
        "{r:?}"
    );
    assert!(r.stderr.contains("move-branches run --approve"), "{r:?}");
    assert_eq!(s.tip("ogr", "stable"), before);
    assert!(s.history_lines().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_that_nobody_approved_fails_loudly() {
    let s = two_repos().await;
    let before = s.tip("ogr", "stable");
    let r = s.run(&["run", "--job"]).await;
    assert_eq!(
        r.code, 2,
        "a scheduled run without --yes/--approve must not look green: {r:?}"
    );
    assert!(
        r.stderr.contains("no terminal to ask for approval"),
        "{r:?}"
    );
    assert_eq!(s.tip("ogr", "stable"), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_moves_and_records_nothing() {
    let s = two_repos().await;
    let before = s.tip("ogr", "stable");
    let r = s.run(&["run", "--yes", "--dry-run"]).await;
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("dry run"), "{r:?}");
    assert_eq!(s.tip("ogr", "stable"), before);
    assert!(s.history_lines().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cycle_in_depends_on_is_a_config_error() {
    let mut s = Scenario::new();
    s.repo("a", &["b"]);
    s.repo("b", &["a"]);
    let r = s.run(&["plan"]).await;
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("cycle"), "{r:?}");
    assert!(r.stderr.contains("upkeep.toml"), "{r:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ambiguous_short_sha_is_refused() {
    let mut s = Scenario::new();
    let a = s.repo("a", &[]);
    let mut seen = std::collections::HashSet::new();
    let prefix = loop {
        let c = a.commit_on("main", &format!("chore: {}", seen.len()));
        if !seen.insert(c.to_string()[..4].to_owned()) {
            break c.to_string()[..4].to_owned();
        }
    };
    let r = s.run(&["plan", &format!("--a={prefix}")]).await;
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains(&format!("`{prefix}` is ambiguous")),
        "{r:?}"
    );
    assert!(r.stderr.contains("hint: give more hex digits"), "{r:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_command_gate_failing_stops_the_run() {
    let mut s = two_repos().await;
    s.extra = "[[branches.command_gates]]\nname = \"smoke\"\ncommand = \"echo 'stage returned 502'; exit 1\"\n".into();
    let before = s.tip("ogr", "stable");
    let r = s.run(&["run", "--yes"]).await;
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stdout.contains("[FAIL] command: smoke"), "{r:?}");
    assert!(r.stdout.contains("stage returned 502"), "{r:?}");
    assert_eq!(s.tip("ogr", "stable"), before);
    assert_eq!(s.history_lines()[0]["result"], "refused");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failure_half_way_is_partial_with_exit_1() {
    let mut s = two_repos().await;
    s.repo("web", &[]).commit_on("main", "fix: web");
    s.all_green().await;
    upkeep_testkit::git::install_pre_receive_hook(
        s.bare("ogr").path(),
        "#!/bin/sh\necho 'stable is protected' >&2\nexit 1\n",
    );
    let r = s.run(&["run", "--yes"]).await;
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("ogr: FAILED"), "{r:?}");
    assert!(
        r.stdout.contains("packit: not moved: it depends on `ogr`"),
        "{r:?}"
    );
    assert!(r.stdout.contains("web: moved"), "{r:?}");
    assert!(r.stdout.contains("result: partial"), "{r:?}");
    let h = s.history_lines();
    assert_eq!(h[0]["result"], "partial");
    let outcomes: Vec<(String, String)> = h[0]["repos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_owned(),
                r["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("ogr".into(), "failed".into()),
            ("web".into(), "moved".into()),
            ("packit".into(), "blocked".into())
        ]
    );
}

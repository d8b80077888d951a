//! The same flow through the real GitHub adapter against `FakeGitHub`, with the Sentry gate
//! against `FakeSentry`.

use std::fmt::Write as _;

use chrono::{Duration, Utc};
use upkeep_testkit::github::FakeGitHub;
use upkeep_testkit::sentry::FakeSentry;

use crate::scenario::Scenario;

struct Hub {
    s: Scenario,
    gh: FakeGitHub,
    sentry: FakeSentry,
}

async fn hub() -> Hub {
    let gh = FakeGitHub::start().await;
    let sentry = FakeSentry::start().await;
    let mut s = Scenario::new();
    for (name, deps) in [("ogr", "[]"), ("packit", "[\"ogr\"]")] {
        let full = format!("packit/{name}");
        gh.create_repo(&full);
        let first = gh.commit(&full, "main", &format!("Initial commit of {name}"));
        gh.set_branch(&full, "stable", &first);
        gh.commit(&full, "main", &format!("feat: {name} improvements (#10)"));
        let _ = write!(
            s.extra,
            "[[branches.repos]]\nname = \"{name}\"\nrepo = \"https://github.com/{full}\"\napi_url = \"{}\"\ndepends_on = {deps}\n\n",
            gh.url()
        );
    }
    let _ = write!(
        s.extra,
        "[branches.sentry]\nurl = \"{}\"\norg = \"packit\"\nprojects = [\"packit-service\"]\nwindow = \"24h\"\n",
        sentry.url()
    );
    s.env = vec![
        ("GITHUB_TOKEN".into(), "ghp_faketoken".into()),
        ("SENTRY_AUTH_TOKEN".into(), sentry.token().into()),
    ];
    Hub { s, gh, sentry }
}

fn green(h: &Hub, repo: &str) {
    let full = format!("packit/{repo}");
    let tip = h.gh.branch_tip(&full, "main").unwrap();
    h.gh.add_status(&full, &tip, "ci/tests", "success");
}

#[tokio::test(flavor = "multi_thread")]
async fn github_repos_move_through_the_api_when_gates_are_green() {
    let h = hub().await;
    green(&h, "ogr");
    green(&h, "packit");
    // An old issue, before the window, does not count.
    h.sentry.add_issue(
        "packit",
        "packit-service",
        "stage",
        "old",
        Utc::now() - Duration::days(3),
    );
    let r = h.s.run(&["run", "--yes"]).await;
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("[pass] sentry: stage"), "{r:?}");
    for repo in ["ogr", "packit"] {
        let full = format!("packit/{repo}");
        assert_eq!(
            h.gh.branch_tip(&full, "stable"),
            h.gh.branch_tip(&full, "main")
        );
    }
    assert!(!r.stderr.contains("ghp_faketoken") && !r.stdout.contains("ghp_faketoken"));
    assert!(!h.s.history_lines()[0].to_string().contains("ghp_faketoken"));
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_ci_on_github_is_not_green() {
    let h = hub().await;
    green(&h, "ogr");
    let r = h.s.run(&["run", "--yes"]).await;
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stdout.contains("not green: packit missing"), "{r:?}");
    let full = "packit/ogr";
    assert_ne!(
        h.gh.branch_tip(full, "stable"),
        h.gh.branch_tip(full, "main"),
        "nothing moved"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn new_sentry_issues_over_the_threshold_stop_the_run() {
    let h = hub().await;
    green(&h, "ogr");
    green(&h, "packit");
    h.sentry.add_issue(
        "packit",
        "packit-service",
        "stage",
        "KeyError: 'ref' in process_message",
        Utc::now() - Duration::hours(2),
    );
    let r = h.s.run(&["run", "--yes"]).await;
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stdout.contains("[FAIL] sentry: stage"), "{r:?}");
    assert!(
        r.stdout.contains("KeyError: 'ref' in process_message"),
        "{r:?}"
    );
    let full = "packit/ogr";
    assert_ne!(
        h.gh.branch_tip(full, "stable"),
        h.gh.branch_tip(full, "main")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn approving_an_old_plan_after_a_push_to_stable_is_refused() {
    let h = hub().await;
    green(&h, "ogr");
    green(&h, "packit");
    let plan = h.s.run(&["plan", "--output", "json"]).await;
    let digest = plan.json()["plan"]["digest"].as_str().unwrap().to_owned();
    let hotfix =
        h.gh.commit("packit/packit", "stable", "fix: hotfix on stable");
    let r = h.s.run(&["run", "--approve", &digest]).await;
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(h.gh.branch_tip("packit/packit", "stable").unwrap(), hotfix);
    assert_ne!(
        h.gh.branch_tip("packit/ogr", "stable"),
        h.gh.branch_tip("packit/ogr", "main")
    );
}

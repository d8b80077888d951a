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

/// A protection rule on `stable` of `packit/ogr` (a classic rule, as `PUT
/// …/branches/stable/protection` takes it).
fn protect_stable(h: &Hub, rule: &serde_json::Value) {
    h.gh.protect_branch("packit/ogr", "stable", rule);
}

/// A protected `stable` whose rule binds the token's user: the plan says so and what the
/// user needs, the run moves nothing there; once the rule lets the user through, it moves.
#[tokio::test(flavor = "multi_thread")]
async fn a_protected_stable_is_named_in_the_plan_and_not_moved() {
    let h = hub().await;
    green(&h, "ogr");
    green(&h, "packit");
    let rule = serde_json::json!({
        "required_status_checks": null,
        "enforce_admins": true,
        "required_pull_request_reviews": {"required_approving_review_count": 1},
        "restrictions": null,
    });
    protect_stable(&h, &rule);
    let before = h.gh.branch_tip("packit/ogr", "stable");

    let plan = h.s.run(&["plan"]).await;
    assert!(
        plan.stdout.contains(
            "`stable` is protected; the token's user needs to be allowed to bypass required pull requests"
        ),
        "{plan:?}"
    );
    let r = h.s.run(&["run", "--yes"]).await;
    assert_ne!(r.code, 0, "{r:?}");
    assert_eq!(h.gh.branch_tip("packit/ogr", "stable"), before);
    assert_ne!(
        h.gh.branch_tip("packit/packit", "stable"),
        h.gh.branch_tip("packit/packit", "main"),
        "packit depends on ogr: it waits"
    );

    // The rule lets the token's user bypass required pull requests: the move goes through.
    let login = h.gh.login();
    protect_stable(
        &h,
        &serde_json::json!({
            "required_status_checks": null,
            "enforce_admins": true,
            "required_pull_request_reviews": {
                "required_approving_review_count": 1,
                "bypass_pull_request_allowances": {"users": [login], "teams": []},
            },
            "restrictions": null,
        }),
    );
    let plan = h.s.run(&["plan"]).await;
    assert!(!plan.stdout.contains("is protected"), "{plan:?}");
    let r = h.s.run(&["run", "--yes"]).await;
    assert_eq!(r.code, 0, "{r:?}");
    for repo in ["packit/ogr", "packit/packit"] {
        assert_eq!(
            h.gh.branch_tip(repo, "stable"),
            h.gh.branch_tip(repo, "main")
        );
    }
}

/// An administrator promotes a protected `stable` (the rule does not include
/// administrators), but a rollback is a force push, which GitHub blocks for everyone until
/// the rule allows force pushes.
#[tokio::test(flavor = "multi_thread")]
async fn rollback_of_a_protected_stable_needs_force_pushes_allowed() {
    let h = hub().await;
    green(&h, "ogr");
    green(&h, "packit");
    let rule = |force: bool| {
        serde_json::json!({
            "required_status_checks": {"strict": false, "contexts": ["ci/tests"]},
            "enforce_admins": false,
            "required_pull_request_reviews": {"required_approving_review_count": 1},
            "restrictions": null,
            "allow_force_pushes": force,
        })
    };
    protect_stable(&h, &rule(false));
    // A rollback reads the clone: git fetches `https://github.com/packit/ogr` from the
    // fake's bare repository (`url.<path>.insteadOf` in the run's global git config).
    let home = tempfile::tempdir().unwrap();
    fs_err::write(
        home.path().join(".gitconfig"),
        format!(
            "[url \"{}\"]\n\tinsteadOf = https://github.com/packit/ogr\n",
            h.gh.repo_path("packit/ogr").display()
        ),
    )
    .unwrap();
    let mut h = h;
    h.s.env
        .push(("HOME".into(), home.path().display().to_string()));
    let first = h.gh.branch_tip("packit/ogr", "stable").unwrap();
    let r = h.s.run(&["run", "--yes"]).await;
    assert_eq!(r.code, 0, "an administrator bypasses the rule: {r:?}");
    let promoted = h.gh.branch_tip("packit/ogr", "stable").unwrap();
    assert_ne!(promoted, first);

    let r = h.s.run(&["rollback", "ogr", "--yes"]).await;
    assert_ne!(r.code, 0, "{r:?}");
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(all.contains("Cannot force-push to this branch"), "{r:?}");
    assert_eq!(
        h.gh.branch_tip("packit/ogr", "stable").unwrap(),
        promoted,
        "refused: nothing moved"
    );

    protect_stable(&h, &rule(true));
    let r = h.s.run(&["rollback", "ogr", "--yes"]).await;
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(h.gh.branch_tip("packit/ogr", "stable").unwrap(), first);
}

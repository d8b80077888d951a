//! The harnesses on tiny inputs, so that CI notices when they break, and the request
//! budgets the benchmarks report (`docs/performance.md`) as plain counts. No timing is
//! asserted: the fakes run without latency and the steps without sleeping.

use std::time::Duration;

use chrono::NaiveDate;
use upkeep_benches::profile::profile;
use upkeep_benches::promote::{Service, run_set};
use upkeep_benches::requests::{by_endpoint, total};
use upkeep_benches::round::Hosted;

#[tokio::test(flavor = "multi_thread")]
async fn a_round_stays_within_its_request_budget() {
    let hosted = Hosted::start(3, 0.0, Duration::ZERO).await;
    let state = tempfile::tempdir().unwrap();
    let spec = hosted.spec(
        state.path().join("state"),
        2,
        0,
        NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(),
    );
    hosted.reset_logs();
    let run = upkeep_benches::round::run(&spec).await;

    assert_eq!(hosted.check_round(), Vec::<String>::new());
    let prof = profile(&run, 0.0);
    assert_eq!(prof.statuses.get("changed"), Some(&3), "{:?}", run.projects);
    for p in &run.projects {
        assert_eq!(p.steps_ms.len(), 3, "{p:?}");
    }
    // Every project went through every stage, in order.
    for p in &hosted.projects {
        let stages: Vec<&str> = run
            .stamps
            .iter()
            .filter(|s| s.project.as_deref() == Some(p.name.as_str()))
            .map(|s| s.what.as_str())
            .collect();
        assert_eq!(
            stages,
            [
                "clone", "upgrade", "build", "test", "diff", "push", "forge", "finished", "chat"
            ],
            "{}",
            p.name
        );
    }
    let forge = by_endpoint(&hosted.github.faults().log(), false);
    let slack = by_endpoint(&hosted.slack.faults().log(), true);
    assert!(total(&forge) <= 4 * 3, "forge requests: {forge:?}");
    assert!(total(&slack) <= 2 * 3, "Slack requests: {slack:?}");
    // One message per changed project (its checklist inside) and the summary.
    assert_eq!(
        slack.get("POST /api/chat.postMessage"),
        Some(&(3 + 1)),
        "{slack:?}"
    );
    assert!(run.peak_rss_kib > 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_packit_set_is_promoted_level_by_level() {
    let o = run_set("packit", Service::GitHub, 8, 8, 0).await;
    assert_eq!(o.checks, Vec::<String>::new());
    assert_eq!((o.repos, o.moved, o.depth), (8, 7, 3));
    assert_eq!(o.result, "success");
    let phases: Vec<&str> = o.phases.iter().map(|p| p.name).collect();
    assert_eq!(phases, ["plan", "gates", "apply"]);
    // GitHub: the plan reads each repo in one query (8): tips, comparison and whether the
    // token's user may move the target; the gate reads each moved repo's CI in one query
    // (7) and the move is one mutation (7) (docs/performance.md); it must not grow.
    let count = |phase: usize| o.phases[phase].requests.values().sum::<usize>();
    assert_eq!(
        o.phases[0].requests.get("POST /graphql"),
        Some(&8),
        "{:?}",
        o.phases
    );
    assert_eq!(count(0), 8, "{:?}", o.phases);
    assert_eq!(count(1), 7, "{:?}", o.phases);
    assert_eq!(count(2), 7, "{:?}", o.phases);
    assert_eq!(o.requests, 8 + 7 + 7, "{:?}", o.phases);
    assert!(o.requests <= 4 * o.repos, "at most four requests per repo");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_packit_set_is_promoted_on_gitlab_too() {
    let o = run_set("packit", Service::GitLab, 8, 8, 0).await;
    assert_eq!(o.checks, Vec::<String>::new());
    assert_eq!((o.repos, o.moved, o.depth), (8, 7, 3));
    assert_eq!(o.result, "success");
    // GitLab: the plan reads each repo's target branch (its tip and the token's
    // `can_push`) and one compare from it to the source (the source tip, and the commits
    // with their parents: a fast-forward or not); the gate reads each moved repo's commit
    // statuses once (the pipelines' jobs are among them); the move is a git push to the
    // URL learnt from the branch's page, no API request (docs/performance.md). It must
    // not grow.
    let [plan, gates, apply] = [0, 1, 2].map(|i| total(&o.phases[i].requests));
    assert_eq!(plan, 8 * 2, "{:?}", o.phases);
    assert_eq!(
        o.phases[0]
            .requests
            .get("GET /api/v4/projects/{id}/repository/compare"),
        Some(&8),
        "{:?}",
        o.phases
    );
    assert_eq!(gates, 7, "{:?}", o.phases);
    assert_eq!(apply, 0, "{:?}", o.phases);
    assert!(
        o.requests <= 4 * 8,
        "{} requests: {:?}",
        o.requests,
        o.phases
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_set_that_is_not_a_multiple_of_eight_is_cut_whole() {
    let o = run_set("ten", Service::GitHub, 10, 8, 0).await;
    assert_eq!(o.checks, Vec::<String>::new());
    assert_eq!(o.repos, 10);
    assert_eq!(o.result, "success");
}

//! Telling the team: a job's failures go to Sentry as events (its results to Slack are
//! in `packit` and `hostile`).

use crate::scenario::two_repos;

/// As a job with `[branches.notify] sentry = true`: a refusal is a Sentry event with the
/// result and digest as tags; a success sends none.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_job_is_a_sentry_event_and_a_success_is_not() {
    let mut s = two_repos().await;
    let sentry = upkeep_testkit::sentry::FakeSentry::start().await;
    s.env = vec![("SENTRY_DSN".into(), sentry.dsn(42))];
    s.extra = "[branches.notify]\nsentry = true\n\
               [[branches.command_gates]]\nname = \"smoke\"\ncommand = \"echo 'stage: 502'; exit 1\"\n"
        .into();
    let refused = s.run(&["run", "--yes", "--job"]).await;
    assert_eq!(refused.code, 2, "{refused:?}");
    let events = sentry.events();
    assert_eq!(events.len(), 1, "{events:#?}");
    let event = &events[0].payload;
    assert_eq!(event["tags"]["result"], "refused", "{event}");
    assert_eq!(event["tags"]["tool"], "move-branches", "{event}");
    let digest = s.history_lines()[0]["digest"].clone();
    assert_eq!(event["tags"]["digest"], digest, "{event}");
    assert!(
        event["message"].to_string().contains("command: smoke"),
        "{event}"
    );

    s.extra = "[branches.notify]\nsentry = true\n".into();
    let done = s.run(&["run", "--yes", "--job"]).await;
    assert_eq!(done.code, 0, "{done:?}");
    assert_eq!(sentry.events().len(), 1, "no event for a success");
}

//! Listing new unresolved issues and the gate, against the fake.

use std::time::Duration;

use chrono::{DateTime, TimeZone as _, Utc};
use secrecy::SecretString;
use upkeep_sentry::{Error, IssueQuery, RequestError, SentryClient, Window};
use upkeep_testkit::faults::{Endpoint, Fault};
use upkeep_testkit::sentry::{FakeSentry, ISSUES_ROUTE};

use crate::{client, quick_retry};

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 14, h, m, 0).unwrap()
}

fn query(projects: &[&str]) -> IssueQuery {
    IssueQuery {
        projects: projects.iter().map(|p| (*p).to_owned()).collect(),
        environment: "stage".to_owned(),
        window: Window {
            from: at(10, 0),
            to: at(12, 0),
        },
    }
}

#[tokio::test]
async fn only_unresolved_issues_first_seen_in_the_window_and_environment_count() {
    let fake = FakeSentry::start().await;
    let before = fake.add_issue("packit", "service", "stage", "before the window", at(9, 59));
    let start = fake.add_issue("packit", "service", "stage", "at the start", at(10, 0));
    let inside = fake.add_issue("packit", "service", "stage", "inside", at(11, 0));
    let end = fake.add_issue("packit", "service", "stage", "at the end", at(12, 0));
    fake.add_issue("packit", "service", "stage", "after", at(12, 1));
    fake.add_issue(
        "packit",
        "service",
        "production",
        "other environment",
        at(11, 0),
    );
    fake.add_issue("packit", "dashboard", "stage", "other project", at(11, 0));
    fake.add_issue("other-org", "service", "stage", "other org", at(11, 0));
    let resolved = fake.add_issue("packit", "service", "stage", "resolved", at(11, 30));
    fake.resolve(&resolved.id);

    let issues = client(&fake, "packit")
        .unresolved_issues(&query(&["service"]))
        .await
        .unwrap();
    let titles: Vec<&str> = issues.iter().map(|i| i.title.as_str()).collect();
    assert_eq!(titles, ["at the end", "inside", "at the start"]);
    assert_eq!(issues[1].id, inside.id);
    assert_eq!(issues[1].short_id, inside.short_id);
    assert_eq!(issues[1].first_seen, at(11, 0));
    assert_eq!(issues[1].count, 1);
    assert_eq!(issues[1].project, "service");
    assert!(
        issues[1]
            .permalink
            .ends_with(&format!("/organizations/packit/issues/{}/", inside.id))
    );
    assert!(!titles.contains(&before.title.as_str()));
    let _ = (start, end);

    let requests = fake.issue_requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!((r.org.as_str(), r.project.as_str()), ("packit", "service"));
    assert_eq!(r.environment.as_deref(), Some("stage"));
    assert_eq!(
        r.query, "is:unresolved firstSeen:>=2025-03-14T10:00:00Z firstSeen:<=2025-03-14T12:00:00Z",
        "the window is absolute"
    );
    assert_eq!(
        r.authorization.as_deref(),
        Some(format!("Bearer {}", fake.token()).as_str())
    );
}

#[tokio::test]
async fn follows_link_cursors_across_pages_and_projects() {
    let fake = FakeSentry::start().await;
    fake.set_page_size(2);
    for i in 0..5 {
        fake.add_issue(
            "packit",
            "service",
            "stage",
            &format!("service {i}"),
            at(10, i * 10),
        );
    }
    fake.add_issue("packit", "dashboard", "stage", "dashboard 0", at(10, 45));
    let issues = client(&fake, "packit")
        .unresolved_issues(&query(&["service", "dashboard"]))
        .await
        .unwrap();
    assert_eq!(issues.len(), 6);
    assert_eq!(issues[0].title, "dashboard 0", "merged newest first");
    assert!(
        issues
            .windows(2)
            .all(|w| w[0].first_seen >= w[1].first_seen)
    );
    let cursors: Vec<Option<String>> = fake
        .issue_requests()
        .into_iter()
        .filter(|r| r.project == "service")
        .map(|r| r.cursor)
        .collect();
    assert_eq!(
        cursors,
        [None, Some("0:2:0".to_owned()), Some("0:4:0".to_owned())]
    );
    assert_eq!(fake.faults().log().count(&Endpoint::get(ISSUES_ROUTE)), 4);
}

#[tokio::test]
async fn gate_fails_above_the_threshold_with_the_issues_as_evidence() {
    let fake = FakeSentry::start().await;
    let a = fake.add_issue("packit", "service", "stage", "KeyError: 'sha'", at(10, 30));
    fake.add_issue("packit", "service", "stage", "TimeoutError", at(11, 30));
    let c = client(&fake, "packit");

    let red = c.gate(query(&["service"]), 1).await.unwrap();
    assert!(!red.passed);
    assert_eq!(red.found, 2);
    assert_eq!(red.issues[1].short_id, a.short_id);
    assert!(
        red.summary()
            .starts_with("Sentry failed: 2 new unresolved issues in `stage`"),
        "{}",
        red.summary()
    );

    let green = c.gate(query(&["service"]), 2).await.unwrap();
    assert!(green.passed);

    let empty = c.gate(query(&["dashboard"]), 0).await.unwrap();
    assert!(empty.passed && empty.issues.is_empty());
    let json = serde_json::to_value(&red).unwrap();
    assert_eq!(
        json["issues"][0]["permalink"],
        red.issues[0].permalink.as_str()
    );
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried() {
    let fake = FakeSentry::start().await;
    fake.add_issue("packit", "service", "stage", "x", at(11, 0));
    let ep = Endpoint::get(ISSUES_ROUTE);
    fake.faults().script(ep.clone(), 1, Fault::rate_limited(0));
    fake.faults().script(ep.clone(), 1, Fault::status(503));
    fake.faults()
        .script(ep.clone(), 1, Fault::DropBeforeHandling);
    let issues = client(&fake, "packit")
        .unresolved_issues(&query(&["service"]))
        .await
        .unwrap();
    assert_eq!(issues.len(), 1);
    let log = fake.faults().log();
    assert_eq!(log.count(&ep), 4);
    assert_eq!(log.count_handled(&ep), 1);
}

#[tokio::test]
async fn persistent_failures_give_up_after_the_policy_with_the_status() {
    let fake = FakeSentry::start().await;
    let ep = Endpoint::get(ISSUES_ROUTE);
    fake.faults().script(
        ep.clone(),
        10,
        Fault::Status {
            status: 502,
            body: r#"{"detail":"bad gateway"}"#.into(),
        },
    );
    let err = client(&fake, "packit")
        .unresolved_issues(&query(&["service"]))
        .await
        .unwrap_err();
    match &err {
        Error::ListIssues {
            org,
            project,
            source:
                RequestError::Status {
                    status,
                    attempts,
                    detail,
                },
        } => {
            assert_eq!((org.as_str(), project.as_str()), ("packit", "service"));
            assert_eq!((*status, *attempts), (502, quick_retry().max_attempts));
            assert_eq!(detail, "bad gateway");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(fake.faults().log().count(&ep), 4);
}

#[tokio::test]
async fn a_retry_after_beyond_the_limit_is_not_waited_for() {
    let fake = FakeSentry::start().await;
    let ep = Endpoint::get(ISSUES_ROUTE);
    fake.faults()
        .script(ep.clone(), 1, Fault::rate_limited(3600));
    let err = client(&fake, "packit")
        .unresolved_issues(&query(&["service"]))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::ListIssues {
                source: RequestError::Status {
                    status: 429,
                    attempts: 1,
                    ..
                },
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_bad_token_is_an_auth_error_that_never_shows_the_token() {
    crate::setup();
    let fake = FakeSentry::start().await;
    let secret = "sntrys_wrong_but_secret_value";
    let c = SentryClient::new(&fake.url(), "packit", SecretString::from(secret.to_owned()))
        .unwrap()
        .with_retry(quick_retry());
    let err = c.unresolved_issues(&query(&["service"])).await.unwrap_err();
    let shown = format!(
        "{err} | {err:?} | {:?} | {c:?}",
        std::error::Error::source(&err)
    );
    assert!(!shown.contains(secret), "{shown}");
    assert!(shown.contains("401"), "{shown}");
    assert!(err.hint().unwrap().contains("SENTRY_AUTH_TOKEN"));
    assert_eq!(
        fake.faults().log().count(&Endpoint::get(ISSUES_ROUTE)),
        1,
        "401 is not retried"
    );
    assert!(!crate::logs().contains(secret));
}

#[tokio::test]
async fn the_token_never_reaches_the_logs() {
    let fake = FakeSentry::start().await;
    fake.add_issue("packit", "service", "stage", "x", at(11, 0));
    fake.faults()
        .script(Endpoint::get(ISSUES_ROUTE), 1, Fault::rate_limited(0));
    let c = client(&fake, "packit");
    c.gate(query(&["service"]), 0).await.unwrap();
    let bad = SentryClient::new(
        &fake.url(),
        "packit",
        SecretString::from("sntrys_other_secret".to_owned()),
    )
    .unwrap()
    .with_retry(quick_retry());
    let _ = bad.gate(query(&["service"]), 0).await;
    let logs = crate::logs();
    assert!(logs.contains("retrying"), "the retry was logged: {logs}");
    assert!(
        logs.contains("Sentry failed"),
        "the verdict was logged: {logs}"
    );
    assert!(!logs.contains(upkeep_testkit::sentry::TOKEN), "{logs}");
    assert!(!logs.contains("sntrys_other_secret"), "{logs}");
}

#[test]
fn windows_end_at_a_moment() {
    let w = Window::ending_at(at(12, 0), Duration::from_hours(2));
    assert_eq!(w.from, at(10, 0));
    assert_eq!(w.to_string(), "2025-03-14T10:00:00Z – 2025-03-14T12:00:00Z");
}

#[tokio::test]
async fn an_answer_that_echoes_the_token_is_shown_without_it() {
    let fake = FakeSentry::start().await;
    let echo = format!(
        r#"{{"detail": "bad request: Authorization: Bearer {}"}}"#,
        fake.token()
    );
    fake.faults().script(
        Endpoint::get(ISSUES_ROUTE),
        1,
        Fault::Status {
            status: 400,
            body: echo,
        },
    );
    let error = client(&fake, "packit")
        .unresolved_issues(&query(&["service"]))
        .await
        .unwrap_err();
    let shown = upkeep_text::error_chain(&error);
    assert!(!shown.contains(fake.token()), "{shown}");
    assert!(shown.contains("Authorization: Bearer ***"), "{shown}");
}

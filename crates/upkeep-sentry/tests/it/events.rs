//! Failure events sent to the fake's envelope endpoint.

use secrecy::SecretString;
use upkeep_sentry::{Error, Event, EventSender, Level, RequestError, send_event};
use upkeep_testkit::faults::{Endpoint, Fault};
use upkeep_testkit::sentry::{ENVELOPE_ROUTE, FakeSentry, PUBLIC_KEY};

use crate::quick_retry;

fn dsn(s: String) -> SecretString {
    crate::setup();
    SecretString::from(s)
}

#[tokio::test]
async fn send_event_posts_the_message_and_tags() {
    let fake = FakeSentry::start().await;
    let id = send_event(
        &dsn(fake.dsn(42)),
        "move-branches failed: gate `ci` red",
        [("tool", "move-branches"), ("repo", "packit")],
    )
    .await
    .unwrap();
    let events = fake.events();
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e.event_id, id);
    assert_eq!(e.project_id, "42");
    assert_eq!(
        e.payload["message"]["formatted"],
        "move-branches failed: gate `ci` red"
    );
    assert_eq!(e.payload["level"], "error");
    assert_eq!(e.payload["tags"]["repo"], "packit");
    assert!(
        e.auth.contains(&format!("sentry_key={PUBLIC_KEY}")) && e.auth.contains("sentry_version=7")
    );
}

#[tokio::test]
async fn a_retried_send_is_recorded_once() {
    let fake = FakeSentry::start().await;
    let sender = EventSender::new(&dsn(fake.dsn(7)))
        .unwrap()
        .with_retry(quick_retry());
    let ep = Endpoint::post(ENVELOPE_ROUTE);
    fake.faults().script(ep.clone(), 1, Fault::rate_limited(0));
    fake.faults()
        .script(ep.clone(), 1, Fault::DropAfterHandling);
    let event = Event {
        message: "partial run".into(),
        level: Level::Warning,
        environment: Some("production".into()),
        ..Event::default()
    };
    let id = sender.send(&event).await.unwrap();
    assert_eq!(fake.faults().log().count(&ep), 3);
    let events = fake.events();
    assert_eq!(
        events.len(),
        1,
        "the dropped-after-handling send and its retry carry one event id"
    );
    assert_eq!(events[0].event_id, id);
    assert_eq!(events[0].payload["level"], "warning");
    assert_eq!(events[0].payload["environment"], "production");
}

#[tokio::test]
async fn a_revoked_key_fails_without_showing_it() {
    let fake = FakeSentry::start().await;
    let wrong = fake.dsn(7).replace(PUBLIC_KEY, "revokedkeyabc");
    let err = EventSender::new(&dsn(wrong))
        .unwrap()
        .with_retry(quick_retry())
        .send(&Event::error("x", [("a", "b")]))
        .await
        .unwrap_err();
    let shown = format!("{err} {err:?} {:?}", std::error::Error::source(&err));
    assert!(!shown.contains("revokedkeyabc"), "{shown}");
    assert!(
        matches!(
            err,
            Error::SendEvent {
                source: RequestError::Status { status: 401, .. },
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.hint().unwrap().contains("SENTRY_DSN"));
    assert!(fake.events().is_empty());
    assert!(!crate::logs().contains("revokedkeyabc"));
}

#[tokio::test]
async fn an_unreachable_sentry_is_a_transport_error() {
    let fake = FakeSentry::start().await;
    let url = fake.dsn(1);
    drop(fake);
    let err = EventSender::new(&dsn(url))
        .unwrap()
        .with_retry(quick_retry())
        .send(&Event::error("x", [("a", "b")]))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::SendEvent {
                source: RequestError::Transport { attempts: 4, .. },
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!format!("{err:?}").contains(PUBLIC_KEY));
}

#[tokio::test]
async fn an_answer_that_echoes_the_dsn_key_is_shown_without_it() {
    let fake = FakeSentry::start().await;
    let sender = EventSender::new(&dsn(fake.dsn(7)))
        .unwrap()
        .with_retry(quick_retry());
    fake.faults().script(
        Endpoint::post(ENVELOPE_ROUTE),
        1,
        Fault::Status {
            status: 403,
            body: format!(r#"{{"detail": "unknown key sentry_key={PUBLIC_KEY}"}}"#),
        },
    );
    let error = sender.send(&Event::default()).await.unwrap_err();
    let shown = upkeep_text::error_chain(&error);
    assert!(!shown.contains(PUBLIC_KEY), "{shown}");
    assert!(shown.contains("sentry_key=***"), "{shown}");
}

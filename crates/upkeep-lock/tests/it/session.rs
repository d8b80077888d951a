//! `Session`: one request, one call — the wait loop, the announcement hook, and what
//! people are told.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, TimeZone as _, Utc};
use upkeep_lock::{Action, Announce, AnnounceError, Done, Error, LockState, Request, Session};
use upkeep_testkit::git::{Fixture, read_ref};

use crate::lock::{store, store_at};

const REF: &str = "refs/upkeep/locks/deploy";

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap()
}

/// A session of `who` whose clock stands at `at`.
fn session(fx: &Fixture, who: &str, at: DateTime<Utc>) -> Session {
    Session::new(store(fx, who), who).with_clock(move || at)
}

fn acquire(reason: &str, wait: Option<StdDuration>) -> Request {
    Request::Acquire {
        reason: reason.into(),
        lease: None,
        wait,
        skip_preflight: true,
    }
}

fn acquired(done: &Done) -> &upkeep_lock::Acquired {
    match done {
        Done::Acquired(a) => a,
        other => panic!("expected Acquired, got {other:?}"),
    }
}

const FAR: StdDuration = StdDuration::from_mins(10);

#[test]
fn a_waiter_takes_the_token_after_a_release_while_its_deadline_is_far() {
    let fx = Fixture::new();
    session(&fx, "alice", t0())
        .run(acquire("deploy api", None))
        .unwrap();
    let (url, root) = (fx.url(), fx.root().to_owned());
    let bob = std::thread::scope(|scope| {
        let waiter = scope.spawn(|| {
            Session::new(store_at(&url, &root, "bob"), "bob")
                .with_clock(|| t0() + Duration::minutes(1))
                .run(acquire("hotfix", Some(FAR)))
        });
        // Whether Bob is already watching or not, he must end up with the token, and
        // only after Alice let go of it.
        std::thread::sleep(StdDuration::from_millis(300));
        session(&fx, "alice", t0() + Duration::minutes(1))
            .run(Request::Release)
            .unwrap();
        waiter.join().unwrap()
    })
    .unwrap();
    let got = acquired(&bob.done);
    assert_eq!(got.state.holder.as_ref().unwrap().who, "bob");
    assert_eq!(got.state.fencing, 2);
    let history = store(&fx, "carol").history(None).unwrap();
    let events: Vec<(Action, &str)> = history
        .iter()
        .map(|s| (s.event.action, s.event.by.as_str()))
        .collect();
    assert_eq!(
        events,
        [
            (Action::Acquire, "alice"),
            (Action::Release, "alice"),
            (Action::Acquire, "bob")
        ]
    );
}

#[test]
fn a_waiter_takes_over_when_the_holders_lease_runs_out() {
    let fx = Fixture::new();
    session(&fx, "alice", t0())
        .run(Request::Acquire {
            reason: "deploy".into(),
            lease: Some(StdDuration::from_hours(1)),
            wait: None,
            skip_preflight: true,
        })
        .unwrap();
    // Bob's clock: the test moves it past Alice's lease while he waits.
    let clock = Arc::new(AtomicI64::new(t0().timestamp()));
    let (url, root) = (fx.url(), fx.root().to_owned());
    let bob = std::thread::scope(|scope| {
        let reading = Arc::clone(&clock);
        let waiter = scope.spawn(|| {
            Session::new(store_at(&url, &root, "bob"), "bob")
                .with_clock(move || {
                    Utc.timestamp_opt(reading.load(Ordering::SeqCst), 0)
                        .unwrap()
                })
                .run(acquire("nightly", Some(FAR)))
        });
        std::thread::sleep(StdDuration::from_millis(300));
        clock.store((t0() + Duration::hours(2)).timestamp(), Ordering::SeqCst);
        waiter.join().unwrap()
    })
    .unwrap();
    let got = acquired(&bob.done);
    assert_eq!(got.state.event.action, Action::Takeover);
    assert_eq!(got.replaced.as_ref().unwrap().who, "alice");
}

#[test]
fn a_waiter_gives_up_at_its_deadline_and_changes_nothing() {
    let fx = Fixture::new();
    session(&fx, "alice", t0())
        .run(acquire("deploy", None))
        .unwrap();
    let before = read_ref(fx.bare(), REF);
    let e = session(&fx, "bob", t0())
        .run(acquire("hotfix", Some(StdDuration::from_millis(200))))
        .unwrap_err();
    assert!(
        matches!(e, Error::Held { ref holder, .. } if holder == "alice"),
        "{e}"
    );
    assert_eq!(read_ref(fx.bare(), REF), before);
}

/// Records what it is asked to announce; fails when told to.
#[derive(Default, Clone)]
struct Recorder {
    seen: Arc<Mutex<Vec<(Action, String)>>>,
    fail: bool,
}

impl Announce for Recorder {
    fn announce(&self, change: &LockState) -> Result<(), AnnounceError> {
        if self.fail {
            return Err("chat is down".into());
        }
        self.seen.lock().unwrap().push((
            change.event.action,
            upkeep_lock::render::announcement(change),
        ));
        Ok(())
    }
}

#[test]
fn changes_are_announced_once_and_a_failed_announcement_is_only_a_warning() {
    let fx = Fixture::new();
    let recorder = Recorder::default();
    let alice = session(&fx, "alice", t0()).with_announcer(Box::new(recorder.clone()));
    alice.run(acquire("deploy <api>", None)).unwrap();
    alice.run(acquire("deploy <api>", None)).unwrap(); // already held: nothing new
    alice
        .run(Request::Renew {
            lease: Some(StdDuration::from_hours(5)),
        })
        .unwrap();
    alice.run(Request::Release).unwrap();
    alice.run(Request::Release).unwrap(); // free: nothing to tell
    let seen = recorder.seen.lock().unwrap().clone();
    insta::assert_debug_snapshot!(seen, @r#"
    [
        (
            Acquire,
            "alice took the `deploy` deploy token until 13:00 UTC (fencing 1): deploy <api>",
        ),
        (
            Release,
            "alice released the `deploy` deploy token (fencing 1)",
        ),
    ]
    "#);

    let failing = Recorder {
        fail: true,
        ..Recorder::default()
    };
    let bob = session(&fx, "bob", t0()).with_announcer(Box::new(failing));
    let outcome = bob.run(acquire("hotfix", None)).unwrap();
    assert_eq!(
        outcome.warnings,
        ["could not announce the change to the team: chat is down"]
    );
    assert_eq!(
        acquired(&outcome.done).state.fencing,
        2,
        "the token changed hands"
    );
}

/// Each way `verify` can refuse, in the words people read.
#[test]
fn verify_says_who_holds_the_token_and_whether_it_was_ever_yours() {
    let fx = Fixture::new();
    let at = |m| t0() + Duration::minutes(m);
    session(&fx, "alice", at(0))
        .run(acquire("deploy", None))
        .unwrap();
    let verify = |who: &str, fencing, m| {
        session(&fx, who, at(m))
            .run(Request::Verify { fencing })
            .map_or_else(|e| format!("error: {e}"), |o| o.text())
    };
    insta::assert_snapshot!(verify("alice", 1, 1), @r"
    alice holds the `deploy` token with fencing number 1
      expires at 2026-11-20 13:00:00 UTC
    ");
    insta::assert_snapshot!(verify("bob", 1, 1), @"error: the `deploy` token is held by alice, not by bob");
    Session::new(store(&fx, "bob"), "bob")
        .with_clock(move || at(2))
        .run(Request::Steal {
            reason: "prod is down".into(),
            lease: None,
            force: false,
        })
        .unwrap();
    insta::assert_snapshot!(verify("alice", 1, 3), @"error: the `deploy` token you held (fencing number 1) is no longer current: held by bob with fencing number 2");
    session(&fx, "bob", at(4)).run(Request::Release).unwrap();
    insta::assert_snapshot!(verify("bob", 2, 5), @"error: the `deploy` token you held (fencing number 2) is no longer current: it was released by bob at 2026-11-20 09:04:00 UTC");
    insta::assert_snapshot!(verify("carol", 2, 5), @"error: the `deploy` token is not held by anyone");
}

#[test]
fn renewing_never_shortens_a_lease_and_shows_the_expiry_once() {
    let fx = Fixture::new();
    let alice = session(&fx, "alice", t0());
    alice
        .run(Request::Acquire {
            reason: "long migration".into(),
            lease: Some(StdDuration::from_hours(8)),
            wait: None,
            skip_preflight: true,
        })
        .unwrap();
    let before = read_ref(fx.bare(), REF);
    let e = alice
        .run(Request::Renew {
            lease: Some(StdDuration::from_hours(1)),
        })
        .unwrap_err();
    insta::assert_snapshot!(e, @"renewing would shorten your lease of the `deploy` token: it runs until 2026-11-20 17:00:00 UTC, and the lease asked for ends at 2026-11-20 10:00:00 UTC");
    assert_eq!(read_ref(fx.bare(), REF), before, "refused: nothing written");
    let renewed = session(&fx, "alice", t0() + Duration::hours(6))
        .run(Request::Renew { lease: None })
        .unwrap();
    insta::assert_snapshot!(renewed.text(), @r"
    renewed the `deploy` token, fencing number 1
      expires at 2026-11-20 19:00:00 UTC
    ");
}

#[test]
fn a_reason_is_capped_when_written_and_shown_inert_everywhere() {
    let fx = Fixture::new();
    let before = read_ref(fx.bare(), REF);
    let e = session(&fx, "mallory", t0())
        .run(acquire(&"x".repeat(120_000), None))
        .unwrap_err();
    insta::assert_snapshot!(e, @"the reason is 120000 characters long; at most 500 are allowed");
    assert_eq!(read_ref(fx.bare(), REF), before, "nothing written");

    let forged = "deploy\n2026-11-20 09:30:00 UTC  release  mallory          fencing 1\u{1b}[2J";
    session(&fx, "mallory", t0())
        .run(acquire(forged, None))
        .unwrap();
    let status = session(&fx, "bob", t0()).run(Request::Status).unwrap();
    insta::assert_snapshot!(status.text(), @r"
    held by mallory since 2026-11-20 09:00:00 UTC — deploy�2026-11-20 09:30:00 UTC  release  mallory          fencing 1�[2J
      expires at 2026-11-20 13:00:00 UTC · fencing number 1
    ");
    let history = session(&fx, "bob", t0())
        .run(Request::History { since: None })
        .unwrap()
        .text();
    assert_eq!(history.lines().count(), 1, "one event, one line: {history}");
    assert!(!history.contains('\u{1b}'));
    let held = session(&fx, "bob", t0())
        .run(acquire("x", None))
        .unwrap_err();
    let held = held.to_string();
    assert!(!held.contains('\n') && !held.contains('\u{1b}'), "{held}");
    // JSON keeps the text as stored; its escaping makes it inert.
    let json = status.json().to_string();
    assert!(
        json.contains(r"deploy\n2026") && json.contains(r"\u001b[2J"),
        "{json}"
    );
}

#[test]
fn releasing_a_token_nobody_holds_is_nothing_to_do_for_anyone() {
    let fx = Fixture::new();
    let never = session(&fx, "bob", t0()).run(Request::Release).unwrap();
    insta::assert_snapshot!(never.text(), @"nothing to release: the token was never taken");
    session(&fx, "alice", t0())
        .run(acquire("deploy", None))
        .unwrap();
    session(&fx, "alice", t0()).run(Request::Release).unwrap();
    let tip = read_ref(fx.bare(), REF);
    for who in ["alice", "bob"] {
        let again = session(&fx, who, t0() + Duration::minutes(1))
            .run(Request::Release)
            .unwrap();
        insta::allow_duplicates! {
            insta::assert_snapshot!(again.text(), @"nothing to release: the `deploy` token is not held (released by alice at 2026-11-20 09:00:00 UTC · fencing number 1)");
        }
    }
    assert_eq!(read_ref(fx.bare(), REF), tip, "nothing written");
}

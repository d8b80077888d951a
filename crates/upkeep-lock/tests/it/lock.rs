use std::sync::{Arc, Barrier};

use chrono::{DateTime, Duration, TimeZone as _, Utc};
use upkeep_git::Credentials;
use upkeep_lock::{Action, Error, LockStore, LockTarget, PreflightSpec};
use upkeep_testkit::git::{Fixture, install_pre_receive_hook, read_ref};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap()
}

fn hours(h: i64) -> Duration {
    Duration::hours(h)
}

/// A lock client as one person's machine has it: its own scratch repo, the shared remote.
pub(crate) fn store(fx: &Fixture, person: &str) -> LockStore {
    store_at(&fx.url(), fx.root(), person)
}

pub(crate) fn store_at(url: &str, root: &std::path::Path, person: &str) -> LockStore {
    LockStore::open(LockTarget {
        remote_url: url.to_owned(),
        credentials: Credentials::none(),
        name: "deploy".into(),
        ref_prefix: "refs/upkeep/locks/".into(),
        scratch_dir: root.join(format!("scratch-{person}")),
    })
    .unwrap()
}

#[test]
fn acquire_release_and_history_in_order() {
    let fx = Fixture::new();
    let alice = store(&fx, "alice");
    let bob = store(&fx, "bob");
    assert!(alice.status().unwrap().is_none());

    let got = alice
        .acquire("alice", "deploy api", hours(2), t0())
        .unwrap();
    assert_eq!(got.state.fencing, 1);
    assert!(!got.already_held);
    assert!(read_ref(fx.bare(), "refs/upkeep/locks/deploy").is_some());

    // Bob sees Alice, with her reason.
    match bob.acquire("bob", "hotfix", hours(2), t0() + Duration::minutes(5)) {
        Err(Error::Held { holder, reason, .. }) => {
            assert_eq!(holder, "alice");
            assert_eq!(reason, "deploy api");
        }
        other => panic!("expected Held, got {other:?}"),
    }
    // Acquiring again is a no-op for the holder.
    let again = alice
        .acquire("alice", "deploy api", hours(2), t0() + Duration::minutes(6))
        .unwrap();
    assert!(again.already_held);
    assert_eq!(again.state.fencing, 1);

    alice.release("alice", t0() + hours(1)).unwrap();
    let bob_got = bob
        .acquire(
            "bob",
            "hotfix",
            hours(2),
            t0() + hours(1) + Duration::minutes(1),
        )
        .unwrap();
    assert_eq!(bob_got.state.fencing, 2);
    bob.release("bob", t0() + hours(2)).unwrap();

    let history = bob.history(None).unwrap();
    let events: Vec<(Action, &str)> = history
        .iter()
        .map(|s| (s.event.action, s.event.by.as_str()))
        .collect();
    assert_eq!(
        events,
        [
            (Action::Acquire, "alice"),
            (Action::Release, "alice"),
            (Action::Acquire, "bob"),
            (Action::Release, "bob")
        ]
    );
    let since = bob
        .history(Some(t0() + hours(1) + Duration::seconds(30)))
        .unwrap();
    assert_eq!(
        since.len(),
        2,
        "only Bob's acquire and release are after the cut"
    );
}

#[test]
fn only_the_holder_may_release_or_renew() {
    let fx = Fixture::new();
    let alice = store(&fx, "alice");
    let mallory = store(&fx, "mallory");
    alice.acquire("alice", "deploy", hours(2), t0()).unwrap();
    let before = read_ref(fx.bare(), "refs/upkeep/locks/deploy");

    assert!(matches!(
        mallory.release("mallory", t0()),
        Err(Error::NotHolder { ref holder, .. }) if holder == "alice"
    ));
    assert!(matches!(
        mallory.renew("mallory", hours(1), t0()),
        Err(Error::NotHolder { .. })
    ));
    assert_eq!(
        read_ref(fx.bare(), "refs/upkeep/locks/deploy"),
        before,
        "refusals change nothing"
    );

    assert!(alice.release("alice", t0()).unwrap().released);
    // A free token: nothing to release, for its last holder and for anyone else alike.
    let released = read_ref(fx.bare(), "refs/upkeep/locks/deploy");
    for who in ["alice", "mallory"] {
        let r = store(&fx, who).release(who, t0()).unwrap();
        assert!(!r.released, "{who}");
        assert_eq!(r.state.unwrap().event.by, "alice");
    }
    assert_eq!(read_ref(fx.bare(), "refs/upkeep/locks/deploy"), released);
}

#[test]
fn renew_extends_and_expiry_allows_takeover() {
    let fx = Fixture::new();
    let alice = store(&fx, "alice");
    let bob = store(&fx, "bob");
    alice
        .acquire("alice", "long migration", hours(1), t0())
        .unwrap();
    let renewed = alice
        .renew("alice", hours(3), t0() + Duration::minutes(50))
        .unwrap();
    assert_eq!(
        renewed.holder.as_ref().unwrap().expires_at,
        t0() + Duration::minutes(50) + hours(3)
    );
    assert_eq!(
        renewed.fencing, 1,
        "renewing does not change the fencing number"
    );

    // Still live at t0+3h: refused.
    assert!(matches!(
        bob.acquire("bob", "x", hours(1), t0() + hours(3)),
        Err(Error::Held { .. })
    ));
    // Expired at t0+4h: taken over, recorded as such.
    let took = bob
        .acquire("bob", "nightly", hours(1), t0() + hours(4))
        .unwrap();
    assert_eq!(took.state.event.action, Action::Takeover);
    assert_eq!(took.replaced.unwrap().who, "alice");
    assert_eq!(took.state.fencing, 2);
    assert!(
        took.state
            .event
            .note
            .unwrap()
            .contains("lease of alice expired")
    );
}

#[test]
fn steal_takes_a_live_lock_loudly_and_fences_the_old_holder() {
    let fx = Fixture::new();
    let alice = store(&fx, "alice");
    let bob = store(&fx, "bob");
    let token = alice
        .acquire("alice", "deploy", hours(2), t0())
        .unwrap()
        .state;
    alice
        .verify("alice", token.fencing, t0() + Duration::minutes(1))
        .unwrap();

    assert!(matches!(
        bob.steal("bob", "  ", hours(1), t0()),
        Err(Error::ReasonRequired { .. })
    ));
    let stolen = bob
        .steal(
            "bob",
            "alice is on holiday",
            hours(1),
            t0() + Duration::minutes(10),
        )
        .unwrap();
    assert_eq!(stolen.state.event.action, Action::Steal);
    assert!(
        stolen
            .state
            .event
            .note
            .as_deref()
            .unwrap()
            .contains("stolen from alice")
    );
    assert_eq!(stolen.state.fencing, 2);

    // Alice's tools refuse to act with her old token.
    match alice.verify("alice", token.fencing, t0() + Duration::minutes(11)) {
        Err(Error::Stale {
            yours: 1, current, ..
        }) => assert!(current.contains("bob"), "{current}"),
        other => panic!("expected Stale, got {other:?}"),
    }
    // And once it is released, nobody's old token is current.
    bob.release("bob", t0() + Duration::minutes(20)).unwrap();
    assert!(matches!(
        bob.verify("bob", 2, t0() + Duration::minutes(21)),
        Err(Error::Stale { .. })
    ));
}

#[test]
fn twenty_concurrent_acquirers_one_winner() {
    let fx = Fixture::new();
    let people: Vec<String> = (0..20).map(|i| format!("person-{i:02}")).collect();
    let barrier = Arc::new(Barrier::new(people.len()));
    let (url, root) = (fx.url(), fx.root().to_owned());
    let (url, root) = (&url, &root);
    let results: Vec<(String, Result<u64, Error>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = people
            .iter()
            .map(|who| {
                let barrier = Arc::clone(&barrier);
                scope.spawn(move || {
                    // Each person has their own scratch repo (git2 handles are not Sync).
                    let s = store_at(url, root, who);
                    barrier.wait();
                    (
                        who.clone(),
                        s.acquire(who, "race", hours(1), t0())
                            .map(|a| a.state.fencing),
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    let winners: Vec<&String> = results
        .iter()
        .filter(|(_, r)| r.is_ok())
        .map(|(w, _)| w)
        .collect();
    assert_eq!(winners.len(), 1, "exactly one holder: {results:?}");
    let winner = winners[0];
    for (who, result) in &results {
        match result {
            Ok(fencing) => assert_eq!(*fencing, 1),
            Err(Error::Held { holder, .. }) => {
                assert_eq!(holder, winner, "{who} was told the wrong holder");
            }
            Err(other) => panic!("{who}: unexpected error {other}"),
        }
    }
    let history = store(&fx, "auditor").history(None).unwrap();
    assert_eq!(history.len(), 1, "losers left no trace");
    assert_eq!(&history[0].event.by, winner);
}

#[test]
fn unreachable_or_refusing_remote_leaves_no_half_state() {
    let fx = Fixture::new();
    let alice = store(&fx, "alice");
    alice.acquire("alice", "deploy", hours(1), t0()).unwrap();
    let before = read_ref(fx.bare(), "refs/upkeep/locks/deploy");

    // The server refuses every push from now on (as a remote going away mid-push does).
    install_pre_receive_hook(fx.bare(), "echo 'maintenance window' >&2; exit 1");
    let err = alice
        .release("alice", t0() + Duration::minutes(5))
        .unwrap_err();
    assert!(matches!(err, Error::Git { .. }), "{err}");
    assert_eq!(read_ref(fx.bare(), "refs/upkeep/locks/deploy"), before);
    assert!(
        alice
            .status()
            .unwrap()
            .unwrap()
            .is_held_by("alice", t0() + Duration::minutes(6))
    );

    // A remote that is gone entirely.
    let gone = LockStore::open(LockTarget {
        remote_url: fx.root().join("nowhere.git").display().to_string(),
        credentials: Credentials::none(),
        name: "deploy".into(),
        ref_prefix: "refs/upkeep/locks/".into(),
        scratch_dir: fx.root().join("scratch-gone"),
    })
    .unwrap();
    let err = gone.acquire("bob", "x", hours(1), t0()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Git {
                doing: "read the lock ref",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn invalid_names_and_corrupt_state_are_clear_errors() {
    let fx = Fixture::new();
    let bad = LockStore::open(LockTarget {
        remote_url: fx.url(),
        credentials: Credentials::none(),
        name: "../heads/main".into(),
        ref_prefix: "refs/upkeep/locks/".into(),
        scratch_dir: fx.root().join("s"),
    });
    assert!(matches!(bad, Err(Error::InvalidName { .. })));

    // Somebody pushed a commit without lock.json to the lock ref.
    let commit = fx.commit_file("README", "hi", "not a lock");
    fx.push(&[&format!("{commit}:refs/upkeep/locks/deploy")]);
    let err = store(&fx, "alice")
        .acquire("alice", "x", hours(1), t0())
        .unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    assert_eq!(
        read_ref(fx.bare(), "refs/upkeep/locks/deploy"),
        Some(commit)
    );
}

#[test]
fn preflight_failure_shows_output_and_timeouts_kill() {
    let dir = tempfile::tempdir().unwrap();
    let check = |name: &str, command: &str| PreflightSpec {
        name: name.into(),
        command: command.into(),
        timeout: std::time::Duration::from_secs(20),
    };
    let ok = upkeep_lock::run_preflight(&[check("ready", "echo ready")], dir.path()).unwrap();
    assert_eq!(ok[0].output.trim(), "ready");
    let err = upkeep_lock::run_preflight(
        &[
            check("noop", "true"),
            check(
                "kingfisher idle",
                "echo 'spider running: kingfisher' ; exit 3",
            ),
            check("never", "touch never"),
        ],
        dir.path(),
    )
    .unwrap_err();
    match err {
        Error::PreflightFailed {
            name,
            output,
            status,
            ..
        } => {
            assert_eq!(name, "kingfisher idle");
            assert!(output.contains("spider running: kingfisher"));
            assert!(status.contains('3'));
        }
        other => panic!("{other}"),
    }
    assert!(
        !dir.path().join("never").exists(),
        "checks stop at the first failure"
    );

    let slow = PreflightSpec {
        timeout: std::time::Duration::from_millis(200),
        ..check("slow", "sleep 30")
    };
    match upkeep_lock::run_preflight(&[slow], dir.path()) {
        Err(Error::PreflightFailed { status, .. }) => {
            assert!(status.contains("timed out"), "{status}");
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[test]
fn a_broken_lock_ref_is_recovered_only_by_a_forced_steal() {
    let fx = Fixture::new();
    let alice = store(&fx, "alice");
    alice.acquire("alice", "deploy", hours(1), t0()).unwrap();
    alice.release("alice", t0() + Duration::minutes(1)).unwrap();
    let bob = store(&fx, "bob");
    bob.acquire("bob", "deploy", hours(1), t0() + Duration::minutes(2))
        .unwrap();
    // Somebody pushes a commit without lock.json on top of the lock ref by hand.
    upkeep_testkit::git::git(
        fx.work().path(),
        &["fetch", "-q", "origin", "refs/upkeep/locks/deploy"],
    );
    upkeep_testkit::git::git(fx.work().path(), &["checkout", "-q", "FETCH_HEAD"]);
    let broken = fx.commit_file("lock.json", "{ not json", "oops");
    fx.push(&[&format!("{broken}:refs/upkeep/locks/deploy")]);

    let carol = store(&fx, "carol");
    assert!(matches!(
        carol.steal("carol", "broken", hours(1), t0()),
        Err(Error::Corrupt { .. })
    ));
    let forced = carol
        .steal_forced("carol", "lock ref was broken", hours(1), t0() + hours(2))
        .unwrap();
    assert_eq!(
        forced.state.fencing, 3,
        "continues above every readable fencing number"
    );
    assert!(
        forced
            .state
            .event
            .note
            .as_deref()
            .unwrap()
            .contains("forced")
    );
    assert!(
        carol
            .status()
            .unwrap()
            .unwrap()
            .is_held_by("carol", t0() + hours(2))
    );
}

#[test]
fn absurd_leases_are_refused_without_changing_anything() {
    let fx = Fixture::new();
    let alice = store(&fx, "alice");
    let err = alice
        .acquire("alice", "x", Duration::MAX, t0())
        .unwrap_err();
    assert!(matches!(err, Error::LeaseTooLong { .. }), "{err}");
    assert!(read_ref(fx.bare(), "refs/upkeep/locks/deploy").is_none());
}

#[test]
fn stealing_an_expired_lease_is_a_takeover_and_release_is_idempotent() {
    let fx = Fixture::new();
    let alice = store(&fx, "alice");
    let bob = store(&fx, "bob");
    alice.acquire("alice", "deploy", hours(1), t0()).unwrap();
    let took = bob
        .steal("bob", "alice is gone", hours(1), t0() + hours(2))
        .unwrap();
    assert_eq!(took.state.event.action, Action::Takeover);
    bob.release("bob", t0() + hours(3)).unwrap();
    let tip = read_ref(fx.bare(), "refs/upkeep/locks/deploy");
    // A retried release (its first push landed, the answer was lost) is not an error.
    bob.release("bob", t0() + hours(3)).unwrap();
    assert_eq!(
        read_ref(fx.bare(), "refs/upkeep/locks/deploy"),
        tip,
        "and changes nothing"
    );
}

#[test]
fn names_that_make_invalid_refs_are_refused() {
    let fx = Fixture::new();
    for name in ["foo.lock", "a..b", "", ".hidden", "sp ace"] {
        let got = LockStore::open(LockTarget {
            remote_url: fx.url(),
            credentials: Credentials::none(),
            name: name.into(),
            ref_prefix: "refs/upkeep/locks/".into(),
            scratch_dir: fx.root().join("s"),
        });
        assert!(
            matches!(got, Err(Error::InvalidName { .. })),
            "{name:?} accepted"
        );
    }
}

#[test]
fn a_preflight_timeout_kills_what_the_check_started() {
    let dir = tempfile::tempdir().unwrap();
    let slow = PreflightSpec {
        name: "spawns".into(),
        command: "sleep 30 & echo $! > child.pid; wait".into(),
        timeout: std::time::Duration::from_millis(300),
    };
    assert!(upkeep_lock::run_preflight(&[slow], dir.path()).is_err());
    let pid = fs_err::read_to_string(dir.path().join("child.pid")).unwrap();
    // Give the kill a moment to be delivered, then the grandchild must be gone.
    let mut alive = true;
    for _ in 0..50 {
        // Gone, or a zombie waiting for a reaper (killed all the same).
        alive = fs_err::read_to_string(format!("/proc/{}/stat", pid.trim())).is_ok_and(|stat| {
            stat.rsplit_once(')')
                .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
        });
        if !alive {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let state = fs_err::read_to_string(format!("/proc/{}/stat", pid.trim())).unwrap_or_default();
    assert!(
        !alive,
        "the check's child process survived the timeout: {state}"
    );
}

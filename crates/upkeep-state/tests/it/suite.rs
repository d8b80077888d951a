//! The behaviour every store has: reads, prefix lists, compare-and-swap writes and
//! deletes, key collisions, and leases on top.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeZone as _;
use upkeep_state::{
    Acquisition, Cas, Claim, Error, Expected, Key, Leases, ManualClock, Record, StateStore,
    StateStoreExt as _, Version,
};

use crate::Backend;

fn key(k: &str) -> Key {
    Key::new(k).unwrap()
}

/// Writes expecting `expected` and insists that it worked.
pub(crate) fn put(store: &dyn StateStore, k: &str, expected: &Expected, value: &str) -> Record {
    match store.write(&key(k), expected, value.as_bytes()).unwrap() {
        Cas::Done(record) => record,
        Cas::Conflict { current } => panic!("{k}: unexpected conflict with {current:?}"),
    }
}

fn conflict<T: std::fmt::Debug>(cas: Cas<T>) -> Option<Record> {
    match cas {
        Cas::Conflict { current } => current,
        Cas::Done(t) => panic!("expected a conflict, the change was made: {t:?}"),
    }
}

pub(crate) fn missing_keys_read_as_nothing(b: &dyn Backend) {
    let s = b.open("a");
    assert_eq!(s.read(&key("rounds/r1/summary")).unwrap(), None);
    assert!(s.list(&key("rounds")).unwrap().is_empty());
    assert!(!s.location().is_empty());
}

pub(crate) fn create_read_and_replace(b: &dyn Backend) {
    let s = b.open("a");
    let first = put(&*s, "rounds/r1/summary", &Expected::Absent, "one");
    assert_eq!(first.key, key("rounds/r1/summary"));
    assert_eq!(first.value, b"one");
    assert_eq!(s.read(&first.key).unwrap().as_ref(), Some(&first));

    let second = put(&*s, "rounds/r1/summary", &first.expected(), "two");
    assert_ne!(second.version, first.version);
    assert_eq!(s.read(&first.key).unwrap(), Some(second.clone()));

    // The same bytes again still make a new version.
    let third = put(&*s, "rounds/r1/summary", &second.expected(), "two");
    assert_ne!(third.version, second.version);
    assert_eq!(s.read(&first.key).unwrap(), Some(third));
}

pub(crate) fn creating_twice_conflicts_with_the_first_record(b: &dyn Backend) {
    let s = b.open("a");
    let first = put(&*s, "rounds/r1/projects/api", &Expected::Absent, "mine");
    let current = conflict(s.write(&first.key, &Expected::Absent, b"theirs").unwrap());
    assert_eq!(current, Some(first.clone()));
    assert_eq!(s.read(&first.key).unwrap(), Some(first));
}

pub(crate) fn stale_versions_conflict_and_show_the_current_record(b: &dyn Backend) {
    let s = b.open("a");
    let k = key("branches/prod/in-progress");
    let v1 = put(&*s, k.as_str(), &Expected::Absent, "v1");
    let v2 = put(&*s, k.as_str(), &v1.expected(), "v2");
    let current = conflict(s.write(&k, &v1.expected(), b"late").unwrap());
    assert_eq!(current, Some(v2.clone()));
    // Expecting a version of a key that does not exist.
    let other = key("branches/prod/other");
    assert_eq!(
        conflict(s.write(&other, &v2.expected(), b"x").unwrap()),
        None
    );
    assert_eq!(s.read(&other).unwrap(), None);
    // A version that never existed.
    let made_up = Expected::Version(Version::new("0123456789abcdef0123456789abcdef01234567"));
    assert_eq!(
        conflict(s.write(&k, &made_up, b"x").unwrap()),
        Some(v2.clone())
    );
    assert_eq!(s.read(&k).unwrap(), Some(v2));
}

pub(crate) fn delete_is_compare_and_swap_and_versions_never_come_back(b: &dyn Backend) {
    let s = b.open("a");
    let k = key("rounds/r1/projects/web");
    let v1 = put(&*s, k.as_str(), &Expected::Absent, "same");
    let v2 = put(&*s, k.as_str(), &v1.expected(), "same");
    assert_eq!(
        conflict(s.delete(&k, &v1.version).unwrap()),
        Some(v2.clone())
    );
    assert!(s.delete(&k, &v2.version).unwrap().is_done());
    assert_eq!(s.read(&k).unwrap(), None);
    assert!(s.list(&key("rounds")).unwrap().is_empty());
    assert_eq!(conflict(s.delete(&k, &v2.version).unwrap()), None);

    // Written again with the same bytes: a new version, and the old ones are stale.
    let again = put(&*s, k.as_str(), &Expected::Absent, "same");
    assert_ne!(again.version, v1.version);
    assert_ne!(again.version, v2.version);
    assert_eq!(
        conflict(s.write(&k, &v2.expected(), b"late").unwrap()),
        Some(again.clone())
    );
    assert_eq!(conflict(s.delete(&k, &v2.version).unwrap()), Some(again));
}

pub(crate) fn lists_a_prefix_by_whole_segments(b: &dyn Backend) {
    let s = b.open("a");
    let round = key("rounds/r1");
    let names = ["web", "api", "group/sub/app", "ünï code"];
    for name in names {
        let k = round.child("projects").unwrap().child(name).unwrap();
        s.write(&k, &Expected::Absent, name.as_bytes())
            .unwrap()
            .done()
            .unwrap();
    }
    put(&*s, "rounds/r1/summary", &Expected::Absent, "summary");
    put(
        &*s,
        "rounds/r10/summary",
        &Expected::Absent,
        "another round",
    );
    put(&*s, "branches/prod/in-progress", &Expected::Absent, "note");

    let projects = s.list(&key("rounds/r1/projects")).unwrap();
    let mut expected: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    expected.sort_by_key(|n| round.child("projects").unwrap().child(n).unwrap());
    let listed: Vec<String> = projects.iter().map(|r| r.key.name()).collect();
    assert_eq!(listed, expected);
    for r in &projects {
        assert_eq!(r.value, r.key.name().as_bytes());
        assert_eq!(s.read(&r.key).unwrap().as_ref(), Some(r));
    }

    let whole_round = s.list(&round).unwrap();
    assert_eq!(whole_round.len(), names.len() + 1);
    assert!(whole_round.windows(2).all(|w| w[0].key < w[1].key));
    assert!(whole_round.iter().all(|r| r.key.starts_with(&round)));
    assert_eq!(s.list(&key("rounds")).unwrap().len(), names.len() + 2);
    // A key lists as itself; a partial segment lists nothing.
    let summary = s.list(&key("rounds/r1/summary")).unwrap();
    assert_eq!(summary.len(), 1);
    assert_eq!(summary[0].value, b"summary");
    assert!(s.list(&key("rounds/r")).unwrap().is_empty());
    assert!(s.list(&key("nothing/here")).unwrap().is_empty());
}

pub(crate) fn a_key_cannot_be_a_prefix_of_another(b: &dyn Backend) {
    let s = b.open("a");
    let leaf = put(&*s, "rounds/r1/projects/api", &Expected::Absent, "x");
    for k in ["rounds/r1/projects", "rounds/r1/projects/api/more"] {
        match s.write(&key(k), &Expected::Absent, b"y") {
            Err(Error::KeyCollides { key: got, other }) => {
                assert_eq!(got, k);
                assert!(
                    other == "rounds/r1/projects/api" || other == "rounds/r1/projects",
                    "{other}"
                );
            }
            other => panic!("{k}: expected a collision, got {other:?}"),
        }
        assert_eq!(s.read(&key(k)).unwrap(), None);
    }
    assert_eq!(s.read(&leaf.key).unwrap(), Some(leaf.clone()));
    // Once the record is gone, its key may become a prefix.
    assert!(s.delete(&leaf.key, &leaf.version).unwrap().is_done());
    put(&*s, "rounds/r1/projects/api/more", &Expected::Absent, "z");
    let listed = s.list(&key("rounds")).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].key, key("rounds/r1/projects/api/more"));
}

#[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
struct Note {
    repo: String,
    tip: String,
}

pub(crate) fn values_are_bytes(b: &dyn Backend) {
    let s = b.open("a");
    let binary: Vec<u8> = (0..=255u8).chain([0, 10, 13, 10, 0]).collect();
    let k = key("blobs/binary");
    let r = s
        .write(&k, &Expected::Absent, &binary)
        .unwrap()
        .done()
        .unwrap();
    assert_eq!(s.read(&k).unwrap().unwrap().value, binary);
    let empty = s.write(&k, &r.expected(), b"").unwrap().done().unwrap();
    assert_eq!(s.read(&k).unwrap(), Some(empty));
    let note = Note {
        repo: "api".into(),
        tip: "abc".into(),
    };
    let k = key("branches/prod/in-progress");
    let r = s
        .write_json(&k, &Expected::Absent, &note)
        .unwrap()
        .done()
        .unwrap();
    assert_eq!(r.json::<Note>().unwrap(), note);
    assert_eq!(s.read(&k).unwrap().unwrap().json::<Note>().unwrap(), note);
    assert!(matches!(r.json::<u32>(), Err(Error::Json { .. })));
}

pub(crate) fn other_runners_see_writes_and_share_the_swap(b: &dyn Backend) {
    let (one, two) = (b.open("one"), b.open("two"));
    let k = key("rounds/r1/projects/api");
    let first = put(&*one, k.as_str(), &Expected::Absent, "from one");
    assert_eq!(two.read(&k).unwrap(), Some(first.clone()));
    let second = put(&*two, k.as_str(), &first.expected(), "from two");
    // One's view is stale now: its swap fails and shows two's record.
    assert_eq!(
        conflict(one.write(&k, &first.expected(), b"late").unwrap()),
        Some(second.clone())
    );
    assert_eq!(one.list(&key("rounds")).unwrap(), vec![second.clone()]);
    // A third runner that never read anything can swap with a version it was told.
    let three = b.open("three");
    put(&*three, k.as_str(), &second.expected(), "from three");
    assert_eq!(one.read(&k).unwrap().unwrap().value, b"from three");
}

pub(crate) fn update_reads_modifies_and_retries(b: &dyn Backend) {
    let (one, two) = (b.open("one"), b.open("two"));
    let k = key("rounds/r1/counter");
    let bump = |r: Option<&Record>| {
        let n: u64 = r.map_or(Ok(0), Record::json)?;
        Ok(Some(serde_json::to_vec(&(n + 1)).unwrap()))
    };
    one.update(&k, bump).unwrap();
    // Two's first attempt races with a write by one, made from inside the closure.
    let mut calls = 0;
    let r = two
        .update(&k, |r| {
            calls += 1;
            if calls == 1 {
                one.update(&k, bump).unwrap();
            }
            bump(r)
        })
        .unwrap()
        .unwrap();
    assert_eq!(calls, 2, "the lost race is retried on the newer record");
    assert_eq!(r.json::<u64>().unwrap(), 3);
    // Returning None changes nothing.
    let same = one.update(&k, |_| Ok(None)).unwrap();
    assert_eq!(same, Some(r));
}

fn at(h: u32) -> chrono::DateTime<chrono::Utc> {
    chrono::Utc.with_ymd_and_hms(2026, 3, 2, h, 0, 0).unwrap()
}

fn leases(b: &dyn Backend, who: &str, clock: &Arc<ManualClock>) -> Leases {
    Leases::new(b.open(who), clock.clone())
}

const TTL: Duration = Duration::from_mins(10);

fn acquired(claim: Claim) -> (upkeep_state::Lease, Acquisition) {
    match claim {
        Claim::Acquired { lease, how } => (lease, how),
        Claim::Held { holder, fencing } => panic!("held by {holder:?} ({fencing})"),
    }
}

pub(crate) fn lease_claim_hold_and_reclaim(b: &dyn Backend) {
    let clock = Arc::new(ManualClock::new(at(9)));
    let (one, two) = (leases(b, "one", &clock), leases(b, "two", &clock));
    let k = key("rounds/r1/claims/api");
    let (lease, how) = acquired(one.claim(&k, "runner-1", TTL).unwrap());
    assert_eq!(how, Acquisition::Free);
    assert_eq!(lease.fencing, 1);
    assert_eq!(lease.owner, "runner-1");
    assert_eq!(lease.acquired_at, at(9));
    assert_eq!(lease.expires_at, at(9) + chrono::Duration::minutes(10));

    clock.advance(Duration::from_secs(599));
    match two.claim(&k, "runner-2", TTL).unwrap() {
        Claim::Held { holder, fencing } => {
            assert_eq!(holder.owner, "runner-1");
            assert_eq!(fencing, 1);
        }
        other @ Claim::Acquired { .. } => panic!("{other:?}"),
    }
    // The same owner claiming again keeps its fencing number and gets a longer lease.
    let (again, how) = acquired(one.claim(&k, "runner-1", TTL).unwrap());
    assert_eq!(how, Acquisition::AlreadyHeld);
    assert_eq!(again.fencing, 1);
    assert_eq!(again.acquired_at, at(9));
    assert!(again.expires_at > lease.expires_at);
    two.verify(&again).unwrap();
    let state = two.state(&k).unwrap().unwrap();
    assert_eq!(
        state
            .live_holder(upkeep_state::Clock::now(&*clock))
            .unwrap()
            .owner,
        "runner-1"
    );
}

pub(crate) fn lease_takeover_after_expiry_raises_fencing(b: &dyn Backend) {
    let clock = Arc::new(ManualClock::new(at(9)));
    let (one, two) = (leases(b, "one", &clock), leases(b, "two", &clock));
    let k = key("rounds/r1/claims/api");
    let (dead, _) = acquired(one.claim(&k, "runner-1", TTL).unwrap());
    // Exactly at expiry the lease is over.
    clock.advance(TTL);
    let (lease, how) = acquired(two.claim(&k, "runner-2", TTL).unwrap());
    match how {
        Acquisition::TakenOver { from } => {
            assert_eq!(from.owner, "runner-1");
            assert_eq!(from.expires_at, dead.expires_at);
        }
        other @ (Acquisition::Free | Acquisition::AlreadyHeld) => panic!("{other:?}"),
    }
    assert_eq!(lease.fencing, 2);
    let state = one.state(&k).unwrap().unwrap();
    assert_eq!(state.took_over_from.unwrap().owner, "runner-1");

    // The dead runner comes back: it lost everything, and says so.
    for result in [
        one.renew(&dead, TTL).map(drop),
        one.verify(&dead),
        one.release(&dead),
    ] {
        match result {
            Err(Error::LeaseLost {
                owner,
                fencing,
                now,
                ..
            }) => {
                assert_eq!((owner.as_str(), fencing), ("runner-1", 1));
                assert!(now.contains("runner-2"), "{now}");
            }
            other => panic!("{other:?}"),
        }
    }
    two.verify(&lease).unwrap();
    // A third takeover raises it again.
    clock.advance(TTL * 2);
    let (third, _) = acquired(one.claim(&k, "runner-3", TTL).unwrap());
    assert_eq!(third.fencing, 3);
}

pub(crate) fn lease_renew_release_and_verify(b: &dyn Backend) {
    let clock = Arc::new(ManualClock::new(at(9)));
    let (one, two) = (leases(b, "one", &clock), leases(b, "two", &clock));
    let k = key("rounds/r1/claims/web");
    let (lease, _) = acquired(one.claim(&k, "runner-1", TTL).unwrap());
    clock.advance(Duration::from_secs(500));
    let renewed = one.renew(&lease, TTL).unwrap();
    assert_eq!(renewed.fencing, 1);
    assert_eq!(
        renewed.expires_at,
        at(9) + chrono::Duration::seconds(500 + 600)
    );
    // Past the first expiry, the renewal keeps others out.
    clock.advance(Duration::from_secs(200));
    assert!(matches!(
        two.claim(&k, "runner-2", TTL).unwrap(),
        Claim::Held { .. }
    ));
    one.verify(&renewed).unwrap();

    one.release(&renewed).unwrap();
    one.release(&renewed).unwrap();
    assert!(matches!(
        one.verify(&renewed),
        Err(Error::LeaseLost { now, .. }) if now.contains("released")
    ));
    assert!(matches!(
        one.renew(&renewed, TTL),
        Err(Error::LeaseLost { .. })
    ));
    let state = two.state(&k).unwrap().unwrap();
    assert_eq!(state.holder, None);
    assert_eq!(state.fencing, 1);

    let (next, how) = acquired(two.claim(&k, "runner-2", TTL).unwrap());
    assert_eq!(how, Acquisition::Free);
    assert_eq!(next.fencing, 2);
    // The first owner's release after that is refused: the key is somebody else's.
    assert!(matches!(
        one.release(&renewed),
        Err(Error::LeaseLost { .. })
    ));
    two.verify(&next).unwrap();
}

pub(crate) fn lease_renewal_after_expiry_survives_if_nobody_took_over(b: &dyn Backend) {
    let clock = Arc::new(ManualClock::new(at(9)));
    let one = leases(b, "one", &clock);
    let k = key("rounds/r1/claims/slow");
    let (lease, _) = acquired(one.claim(&k, "runner-1", TTL).unwrap());
    clock.advance(TTL * 3);
    assert!(matches!(
        one.verify(&lease),
        Err(Error::LeaseLost { now, .. }) if now.contains("expired")
    ));
    let renewed = one.renew(&lease, TTL).unwrap();
    assert_eq!(renewed.fencing, 1);
    one.verify(&renewed).unwrap();
    assert!(matches!(
        one.claim(&k, "runner-1", Duration::MAX),
        Err(Error::LeaseTooLong { .. })
    ));
}

pub(crate) fn lease_of_a_dead_holder_can_be_ended_early(b: &dyn Backend) {
    let clock = Arc::new(ManualClock::new(at(9)));
    let (one, two) = (leases(b, "one", &clock), leases(b, "two", &clock));
    let k = key("rounds/r1/claims/api");
    let (dead, _) = acquired(one.claim(&k, "runner-1@host#41", TTL).unwrap());
    let holder = two.state(&k).unwrap().unwrap().holder.unwrap();
    clock.advance(Duration::from_mins(1));
    // Somebody who knows runner-1's process is gone ends its lease; the claim that
    // follows is a takeover with a higher fencing number, long before the expiry.
    assert!(two.expire(&k, &holder).unwrap());
    let (lease, how) = acquired(two.claim(&k, "runner-2@host#42", TTL).unwrap());
    assert!(matches!(how, Acquisition::TakenOver { from } if from.owner == "runner-1@host#41"));
    assert_eq!(lease.fencing, dead.fencing + 1);
    assert!(matches!(one.verify(&dead), Err(Error::LeaseLost { .. })));
    // The holder read earlier no longer holds it: nothing changes.
    assert!(!one.expire(&k, &holder).unwrap());
    two.verify(&lease).unwrap();
    // A renewal changes the holder's expiry: an expire with the stale view does nothing.
    let stale = two.state(&k).unwrap().unwrap().holder.unwrap();
    clock.advance(Duration::from_mins(1));
    let renewed = two.renew(&lease, TTL).unwrap();
    assert!(!one.expire(&k, &stale).unwrap());
    two.verify(&renewed).unwrap();
    assert!(!one.expire(&key("rounds/r1/claims/none"), &stale).unwrap());
}

//! Races: many runners swapping one key (exactly one wins each round), many keys written
//! in parallel (never a conflict), leases claimed at once (exactly one holder).

use std::sync::{Arc, Barrier};
use std::time::Duration;

use chrono::TimeZone as _;
use upkeep_state::{Cas, Claim, Expected, Key, Leases, ManualClock, StateStoreExt as _};

use crate::{Backend, LocalBackend};

/// Every round, `runners` runners read the key, wait for each other, and all swap from
/// the version they read: exactly one must win, and the others must see the winner's
/// record.
pub(crate) fn one_winner_per_round(b: &dyn Backend, runners: usize, rounds: usize) {
    let key = Key::new("rounds/r1/projects/contended").unwrap();
    let stores: Vec<_> = (0..runners)
        .map(|i| b.open(&format!("runner-{i}")))
        .collect();
    stores[0]
        .write(&key, &Expected::Absent, b"start")
        .unwrap()
        .done()
        .unwrap();
    let barrier = Barrier::new(runners);
    for round in 0..rounds {
        let outcomes: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = stores
                .iter()
                .enumerate()
                .map(|(i, store)| {
                    let (key, barrier) = (&key, &barrier);
                    scope.spawn(move || {
                        let read = store.read(key).unwrap().unwrap();
                        barrier.wait();
                        let value = format!("round {round} by {i}");
                        let cas = store
                            .write(key, &read.expected(), value.as_bytes())
                            .unwrap();
                        (read, value, cas)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let first_read = &outcomes[0].0;
        assert!(
            outcomes.iter().all(|(read, ..)| read == first_read),
            "everyone read the same version before the race"
        );
        let winners: Vec<_> = outcomes
            .iter()
            .filter_map(|(_, value, cas)| match cas {
                Cas::Done(record) => Some((value, record)),
                Cas::Conflict { .. } => None,
            })
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {outcomes:#?}");
        let (value, record) = winners[0];
        assert_eq!(record.value, value.as_bytes());
        for (_, _, cas) in &outcomes {
            if let Cas::Conflict { current } = cas {
                assert_eq!(current.as_ref(), Some(record), "losers see the winner");
            }
        }
        assert_eq!(stores[0].read(&key).unwrap().as_ref(), Some(record));
    }
}

/// `runners` runners each write their own key `writes` times from the version they
/// wrote last: no write may ever meet a conflict.
pub(crate) fn many_keys_never_contend(b: &dyn Backend, runners: usize, writes: usize) {
    let prefix = Key::new("rounds/r1/projects").unwrap();
    std::thread::scope(|scope| {
        for i in 0..runners {
            let (store, prefix) = (b.open(&format!("runner-{i}")), &prefix);
            scope.spawn(move || {
                let key = prefix.child(&format!("project-{i}")).unwrap();
                let mut expected = Expected::Absent;
                for n in 0..writes {
                    let value = format!("{i}:{n}");
                    match store.write(&key, &expected, value.as_bytes()).unwrap() {
                        Cas::Done(record) => expected = record.expected(),
                        Cas::Conflict { current } => {
                            panic!("{key}: a key nobody else writes conflicted: {current:?}")
                        }
                    }
                }
            });
        }
    });
    let listed = b.open("reader").list(&prefix).unwrap();
    assert_eq!(listed.len(), runners);
    for record in listed {
        let i: usize = record.key.name()["project-".len()..].parse().unwrap();
        assert_eq!(record.value, format!("{i}:{}", writes - 1).as_bytes());
    }
}

/// `runners` runners add one to a shared counter `each` times with `update`: no
/// increment is lost or doubled.
pub(crate) fn updates_lose_nothing(b: &dyn Backend, runners: usize, each: u64) {
    let key = Key::new("rounds/r1/counter").unwrap();
    std::thread::scope(|scope| {
        for i in 0..runners {
            let (store, key) = (b.open(&format!("runner-{i}")), &key);
            scope.spawn(move || {
                for _ in 0..each {
                    store
                        .update(key, |r| {
                            let n: u64 = r.map_or(Ok(0), upkeep_state::Record::json)?;
                            Ok(Some(serde_json::to_vec(&(n + 1)).unwrap()))
                        })
                        .unwrap();
                }
            });
        }
    });
    let total: u64 = b
        .open("reader")
        .read(&key)
        .unwrap()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(total, runners as u64 * each);
}

/// `runners` runners claim one key at the same moment: exactly one holds it.
pub(crate) fn one_lease_holder(b: &dyn Backend, runners: usize) {
    let clock = Arc::new(ManualClock::new(
        chrono::Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap(),
    ));
    let key = Key::new("rounds/r1/claims/api").unwrap();
    let barrier = Barrier::new(runners);
    let claims: Vec<(String, Claim)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..runners)
            .map(|i| {
                let leases = Leases::new(b.open(&format!("runner-{i}")), clock.clone());
                let (key, barrier) = (&key, &barrier);
                scope.spawn(move || {
                    let owner = Leases::unique_owner(&format!("runner-{i}"));
                    barrier.wait();
                    let claim = leases.claim(key, &owner, Duration::from_mins(10)).unwrap();
                    (owner, claim)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let winners: Vec<_> = claims
        .iter()
        .filter(|(_, c)| matches!(c, Claim::Acquired { .. }))
        .collect();
    assert_eq!(winners.len(), 1, "{claims:#?}");
    let winner = &winners[0].0;
    for (_, claim) in &claims {
        if let Claim::Held { holder, fencing } = claim {
            assert_eq!(&holder.owner, winner);
            assert_eq!(*fencing, 1);
        }
    }
}

#[test]
fn local_one_winner_per_round() {
    one_winner_per_round(&LocalBackend::default(), 8, 20);
}

#[test]
fn local_many_keys_never_contend() {
    many_keys_never_contend(&LocalBackend::default(), 8, 20);
}

#[test]
fn local_updates_lose_nothing() {
    updates_lose_nothing(&LocalBackend::default(), 8, 25);
}

#[test]
fn local_one_lease_holder() {
    one_lease_holder(&LocalBackend::default(), 8);
}

#[test]
fn git_one_winner_per_round() {
    one_winner_per_round(&crate::GitBackend::default(), 6, 8);
}

#[test]
fn git_many_keys_never_contend() {
    many_keys_never_contend(&crate::GitBackend::default(), 6, 6);
}

#[test]
fn git_updates_lose_nothing() {
    updates_lose_nothing(&crate::GitBackend::default(), 4, 6);
}

#[test]
fn git_one_lease_holder() {
    one_lease_holder(&crate::GitBackend::default(), 6);
}

/// Where the child processes of [`local_processes_lose_no_update`] find the store.
const CHILD_DIR: &str = "UPKEEP_STATE_TEST_CHILD_DIR";
const CHILD_INCREMENTS: u64 = 25;

/// Four processes add to one counter in one directory: the per-key lock keeps every
/// read-modify-write whole across processes (threads in one process share nothing more
/// than processes do here, but this is the case the lock is for).
#[test]
fn local_processes_lose_no_update() {
    const PROCESSES: u64 = 4;
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..PROCESSES)
        .map(|_| {
            std::process::Command::new(&exe)
                .args(["--exact", "concurrency::local_process_child", "--ignored"])
                .env(CHILD_DIR, dir.path())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("1 passed"),
            "the child ran: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let store = upkeep_state::LocalStore::open(dir.path()).unwrap();
    let total: u64 = upkeep_state::StateStore::read(&store, &Key::new("counter").unwrap())
        .unwrap()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(total, PROCESSES * CHILD_INCREMENTS);
}

/// The child of [`local_processes_lose_no_update`]; does nothing when run on its own.
#[test]
#[ignore = "run by local_processes_lose_no_update in child processes"]
#[expect(
    clippy::disallowed_methods,
    reason = "the parent test hands its child the directory through the environment"
)]
fn local_process_child() {
    let Some(dir) = std::env::var_os(CHILD_DIR) else {
        return;
    };
    let store = upkeep_state::LocalStore::open(std::path::PathBuf::from(dir)).unwrap();
    let key = Key::new("counter").unwrap();
    for _ in 0..CHILD_INCREMENTS {
        store
            .update(&key, |r| {
                let n: u64 = r.map_or(Ok(0), upkeep_state::Record::json)?;
                Ok(Some(serde_json::to_vec(&(n + 1)).unwrap()))
            })
            .unwrap();
    }
}

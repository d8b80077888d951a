use chrono::{TimeZone, Utc};
use upkeep_branches::apply::{RepoOutcome, RepoResult, RunResult};
use upkeep_branches::history::{Command, HistoryEntry, HistoryStore, SCHEMA};
use upkeep_git::{Author, Credentials};
use upkeep_testkit::bare::BareRepo;

use crate::fixture::World;

pub(crate) fn entry(n: u32, repo: &str, from: &str, to: &str, command: Command) -> HistoryEntry {
    HistoryEntry {
        schema: SCHEMA,
        command,
        who: format!("user{n}"),
        when: Utc.with_ymd_and_hms(2025, 6, 6, 10, n, 0).unwrap(),
        digest: format!("{n:012}"),
        result: RunResult::Success,
        repos: vec![RepoResult {
            name: repo.into(),
            target: "stable".into(),
            from: from.into(),
            to: to.into(),
            outcome: RepoOutcome::Moved,
            wait: None,
            tag: None,
        }],
        gates: vec![],
        fencing: Some(7),
        message: None,
        approval: None,
    }
}

pub(crate) fn store(w: &World, bare: &BareRepo, clone: &str) -> HistoryStore {
    HistoryStore {
        url: bare.path().to_string_lossy().into_owned(),
        branch: "main".into(),
        file: "move-branches/history.jsonl".into(),
        clone_dir: w.tmp.path().join(clone),
        credentials: Credentials::none(),
    }
}

#[test]
fn appends_commits_and_pushes_json_lines() {
    let w = World::new();
    let bare = BareRepo::init(w.tmp.path().join("history.git"), w.clock.clone());
    let s = store(&w, &bare, "h1");
    assert!(
        s.read().unwrap().entries.is_empty(),
        "no branch yet: empty history"
    );
    let author = Author::new("ann", "ann@example.com");
    let first = s
        .append(&entry(1, "ogr", "a", "b", Command::Run), &author)
        .unwrap();
    s.append(&entry(2, "ogr", "b", "c", Command::Run), &author)
        .unwrap();
    assert_ne!(bare.tip("main").unwrap().to_string(), first.commit);
    // Another reader with its own clone sees both lines, in order.
    let h = store(&w, &bare, "h2").read().unwrap();
    assert_eq!(h.entries.len(), 2);
    assert_eq!(h.entries[1].fencing, Some(7));
    assert_eq!(h.last_promotion("ogr").unwrap().to, "c");
    assert_eq!(h.rollback_points("ogr"), ["c", "b", "a"]);
}

#[test]
fn concurrent_writers_lose_no_line() {
    let w = World::new();
    let bare = BareRepo::init(w.tmp.path().join("history.git"), w.clock.clone());
    store(&w, &bare, "seed")
        .append(
            &entry(0, "x", "0", "1", Command::Run),
            &Author::new("a", "a@x"),
        )
        .unwrap();
    let handles: Vec<_> = (0..3)
        .map(|t| {
            let s = store(&w, &bare, &format!("w{t}"));
            std::thread::spawn(move || {
                for i in 0..3 {
                    s.append(
                        &entry(t * 10 + i + 1, "x", "a", "b", Command::Run),
                        &Author::new("a", "a@x"),
                    )
                    .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let h = store(&w, &bare, "reader").read().unwrap();
    assert_eq!(h.entries.len(), 10);
}

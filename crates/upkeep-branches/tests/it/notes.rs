//! The in-progress note in the shared state store ([`StateNotes`]) over a real bare git
//! repository, as CI runners share it.

use std::sync::Arc;

use upkeep_branches::history::{Command, HistoryEntry, SCHEMA};
use upkeep_branches::{Error, NoteStore as _, RunResult, StateNotes};
use upkeep_git::Credentials;
use upkeep_state::{Expected, GitStore, GitStoreConfig, StateStore};

fn note(digest: &str) -> HistoryEntry {
    HistoryEntry {
        schema: SCHEMA,
        command: Command::Run,
        who: "ann".into(),
        when: chrono::Utc::now(),
        digest: digest.into(),
        result: RunResult::Started,
        repos: vec![],
        gates: vec![],
        fencing: None,
        message: None,
        approval: None,
    }
}

/// A store over `bare`, with its local copy in `scratch` (each runner has its own).
fn runner(bare: &std::path::Path, scratch: std::path::PathBuf) -> Arc<dyn StateStore> {
    Arc::new(
        GitStore::open(GitStoreConfig::new(
            bare.to_string_lossy().into_owned(),
            Credentials::none(),
            scratch,
        ))
        .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_note_saved_by_one_runner_is_loaded_and_cleared_by_another() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = tmp.path().join("state.git");
    upkeep_testkit::git::git(tmp.path(), &["init", "--bare", "-q", "state.git"]);
    let first = StateNotes::new(runner(&bare, tmp.path().join("runner-1")));
    let second = StateNotes::new(runner(&bare, tmp.path().join("runner-2")));

    assert_eq!(second.load("promotion-abc").await.unwrap(), None);
    first.save("promotion-abc", &note("d1")).await.unwrap();
    first.save("promotion-abc", &note("d2")).await.unwrap();
    let refs = upkeep_testkit::git::git(&bare, &["for-each-ref", "--format=%(refname)"]);
    assert_eq!(
        refs.trim(),
        "refs/upkeep/branches/promotion-abc/in-progress"
    );

    let loaded = second.load("promotion-abc").await.unwrap().unwrap();
    assert_eq!(loaded.digest, "d2", "the later save replaces the note");
    assert_eq!(
        second.load("promotion-other").await.unwrap(),
        None,
        "notes are kept apart by key"
    );

    second.clear("promotion-abc").await.unwrap();
    assert_eq!(first.load("promotion-abc").await.unwrap(), None);
    second.clear("promotion-abc").await.unwrap();
    let refs = upkeep_testkit::git::git(&bare, &["for-each-ref", "--format=%(refname)"]);
    assert_eq!(refs.trim(), "", "clearing removes the ref");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_record_that_is_not_a_note_is_reported_unreadable_with_its_place() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = tmp.path().join("state.git");
    upkeep_testkit::git::git(tmp.path(), &["init", "--bare", "-q", "state.git"]);
    let store = runner(&bare, tmp.path().join("runner"));
    let key = StateNotes::store_key("promotion-abc").unwrap();
    assert!(
        store
            .write(&key, &Expected::Absent, b"{\"not\": \"a note\"}")
            .unwrap()
            .is_done()
    );
    let notes = StateNotes::new(store);
    match notes.load("promotion-abc").await {
        Err(Error::NoteUnreadable { key, place, .. }) => {
            assert_eq!(key, "promotion-abc");
            assert!(
                place.contains("branches/promotion-abc/in-progress"),
                "{place}"
            );
            assert!(place.contains("state.git"), "{place}");
        }
        other => panic!("expected NoteUnreadable, got {other:?}"),
    }
    notes.clear("promotion-abc").await.unwrap();
    assert_eq!(notes.load("promotion-abc").await.unwrap(), None);
}

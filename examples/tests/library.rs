//! The library examples run: `promote` moves `stable` of plain git repositories and
//! records what a killed earlier run moved.

#[allow(dead_code)] // its `main`: the test calls `promote`
#[path = "../library/promote.rs"]
mod promote;

use upkeep_branches::history::{Command, HistoryEntry, HistoryStore, SCHEMA};
use upkeep_branches::{LocalNotes, NoteStore as _, RepoOutcome, RepoResult, RunResult};
use upkeep_testkit::bare::BareRepo;
use upkeep_testkit::git::Clock;

#[tokio::test]
async fn promote_example_moves_stable_and_records_a_killed_runs_moves() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = Clock::default();
    let history = BareRepo::init(tmp.path().join("history.git"), clock.clone());
    let mut paths = Vec::new();
    for name in ["api", "web"] {
        let bare = BareRepo::init(tmp.path().join(format!("{name}.git")), clock.clone());
        let first = bare.commit_on("main", "Initial commit");
        bare.set_branch("stable", first);
        bare.commit_on("main", &format!("fix: {name}"));
        paths.push(bare);
    }
    let state = tmp.path().join("state");
    let path = |b: &BareRepo| b.path().to_string_lossy().into_owned();
    let (api_path, web_path) = (path(&paths[0]), path(&paths[1]));
    let repos = [("api", api_path.as_str()), ("web", web_path.as_str())];

    // An earlier run was killed after moving `api`: its note is there, its result is not.
    let (api, web) = (&paths[0], &paths[1]);
    let planned = |name: &str, b: &BareRepo| RepoResult {
        name: name.into(),
        target: "stable".into(),
        from: b.tip("stable").unwrap().to_string(),
        to: b.tip("main").unwrap().to_string(),
        outcome: RepoOutcome::Planned,
        wait: None,
        tag: None,
    };
    let note = HistoryEntry {
        schema: SCHEMA,
        command: Command::Run,
        who: "killed".into(),
        when: chrono::Utc::now(),
        digest: "0123456789ab".into(),
        result: RunResult::Started,
        repos: vec![planned("api", api), planned("web", web)],
        gates: vec![],
        fencing: None,
        message: None,
        approval: None,
    };
    LocalNotes::new(state.join("notes"))
        .save(&upkeep_branches::note_key(["api", "web"]), &note)
        .await
        .unwrap();
    api.set_branch("stable", api.tip("main").unwrap());

    let outcome = promote::promote(&path(&history), &repos, &state)
        .await
        .unwrap();
    assert_eq!(
        outcome.message,
        format!("done: plan {} applied", outcome.plan.digest)
    );
    for b in &paths {
        assert_eq!(b.tip("stable"), b.tip("main"));
    }
    let entries = HistoryStore::new(path(&history), tmp.path().join("read"))
        .read()
        .unwrap()
        .entries;
    let moved: Vec<(&str, &str)> = entries
        .iter()
        .flat_map(|e| e.repos.iter().map(move |r| (e.who.as_str(), r)))
        .filter(|(_, r)| r.outcome == RepoOutcome::Moved)
        .map(|(who, r)| (who, r.name.as_str()))
        .collect();
    assert_eq!(moved, [("killed", "api"), ("example", "web")]);
}

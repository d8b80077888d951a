use std::sync::Arc;

use upkeep_branches::apply::ApplyEvent;
use upkeep_branches::history::{Command, History};
use upkeep_branches::{
    ApplyOptions, Error, RepoOutcome, RunResult, StatusOptions, apply, plan_rollback, status,
};
use upkeep_git::Author;
use upkeep_testkit::bare::BareRepo;

use crate::fixture::World;
use crate::history::{entry, store};

#[tokio::test]
async fn status_shows_waiting_drift_tags_and_next_version() {
    let mut w = World::new();
    let a = w.repo("a", &[]);
    let b = w.repo("b", &[]);
    let base = w.tip("a", "stable");
    upkeep_testkit::git::git(a.path(), &["tag", "v0.4.1", &base.to_string()]);
    let hotfix = a.commit_on("stable", "fix: hotfix made only on stable");
    a.commit_on("main", "fix: one");
    a.commit_on("main", "feat!: drop the old API");
    let history = History {
        entries: vec![entry(1, "a", "0000", &base.to_string(), Command::Run)],
    };
    let st = status(
        &w.specs(),
        &StatusOptions {
            cache_dir: w.cache(),
            tag_prefix: "v".into(),
            history: Some(history),
        },
    )
    .await;
    let sa = &st[0];
    assert_eq!(sa.error, None);
    assert_eq!(sa.waiting.len(), 2);
    assert_eq!(sa.drift.len(), 1);
    assert_eq!(sa.drift[0].sha, hotfix.to_string());
    assert_eq!(sa.last_tag.as_ref().unwrap().name, "v0.4.1");
    // 0.x: breaking → minor.
    assert_eq!(sa.next_version.as_deref(), Some("v0.5.0"));
    assert_eq!(sa.last_promotion.as_ref().unwrap().who, "user1");
    let sb = &st[1];
    assert!(sb.is_even());
    assert!(sb.waiting.is_empty() && sb.drift.is_empty());
    assert_eq!(sb.last_tag, None);
    let _ = b;
}

#[tokio::test]
async fn rollback_goes_to_the_previous_promotion_and_lists_withdrawn_commits() {
    let mut w = World::new();
    let a = w.repo("a", &[]);
    let p0 = w.tip("a", "stable");
    let p1 = a.commit_on("main", "fix: one");
    let c2 = a.commit_on("main", "fix: two");
    let p2 = a.commit_on("main", "fix: three");
    a.set_branch("stable", p2);
    let hbare = BareRepo::init(w.tmp.path().join("history.git"), w.clock.clone());
    let hs = store(&w, &hbare, "hist");
    let author = Author::new("ann", "ann@x");
    hs.append(
        &entry(1, "a", &p0.to_string(), &p1.to_string(), Command::Run),
        &author,
    )
    .unwrap();
    hs.append(
        &entry(2, "a", &p1.to_string(), &p2.to_string(), Command::Run),
        &author,
    )
    .unwrap();
    let history = hs.read().unwrap();

    let specs = w.specs();
    let plan = plan_rollback(&specs[0], &history, None, &w.cache())
        .await
        .unwrap();
    let rp = &plan.repos[0];
    assert_eq!(rp.from, p2.to_string());
    assert_eq!(rp.to, p1.to_string());
    let withdrawn: Vec<_> = rp.commits.iter().map(|c| c.sha.clone()).collect();
    assert_eq!(withdrawn, [p2.to_string(), c2.to_string()]);

    let opts = ApplyOptions {
        rollback: true,
        ..ApplyOptions::default()
    };
    let quiet: upkeep_branches::apply::Progress = Arc::new(|_: &ApplyEvent| {});
    let report = apply(&plan, &specs, &opts, &quiet).await;
    assert_eq!(report.result, RunResult::Success);
    assert_eq!(report.repos[0].outcome, RepoOutcome::Moved);
    assert_eq!(w.tip("a", "stable"), p1);

    // Recorded; the next default rollback goes one further back.
    let mut e = entry(3, "a", &p2.to_string(), &p1.to_string(), Command::Rollback);
    e.repos = report.repos.clone();
    hs.append(&e, &author).unwrap();
    let history = hs.read().unwrap();
    assert_eq!(
        history.last_promotion("a").unwrap().to,
        p2.to_string(),
        "rollbacks are not promotions"
    );
    let again = plan_rollback(&specs[0], &history, None, &w.cache())
        .await
        .unwrap();
    assert_eq!(again.repos[0].to, p0.to_string());
}

#[tokio::test]
async fn rollback_to_a_commit_ahead_is_refused_and_no_history_means_no_default() {
    let mut w = World::new();
    let a = w.repo("a", &[]);
    let ahead = a.commit_on("main", "fix: ahead");
    let specs = w.specs();
    let err = plan_rollback(
        &specs[0],
        &History::default(),
        Some(&ahead.to_string()[..9]),
        &w.cache(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::NotARollback { .. }), "{err}");
    let err = plan_rollback(&specs[0], &History::default(), None, &w.cache())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NoEarlierPromotion { .. }), "{err}");
}

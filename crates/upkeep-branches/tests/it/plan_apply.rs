use std::sync::{Arc, Mutex};
use std::time::Duration;

use upkeep_branches::apply::{ApplyEvent, LevelGuard, LevelStart, Progress};
use upkeep_branches::{
    ApplyOptions, Error, Override, PlanOptions, RepoOutcome, RunResult, apply, plan,
};
use upkeep_forge::CheckState;

use crate::fixture::World;

fn options(w: &World, overrides: &[(&str, &str)]) -> PlanOptions {
    PlanOptions {
        overrides: overrides
            .iter()
            .map(|(r, v)| Override {
                repo: (*r).into(),
                rev: (*v).into(),
            })
            .collect(),
        cache_dir: w.cache(),
        tag_prefix: None,
    }
}

fn quiet() -> Progress {
    Arc::new(|_: &ApplyEvent| {})
}

#[tokio::test]
async fn even_repos_have_nothing_to_do_and_commits_are_listed() {
    let mut w = World::new();
    let a = w.repo("a", &[]);
    w.repo("b", &[]);
    a.commit_on("main", "feat: add the thing (#12)");
    a.commit_on("main", "Merge pull request #34 from x/y\n\nfix it");
    let p = plan(&w.specs(), &options(&w, &[])).await.unwrap();
    let pa = p.repo("a").unwrap();
    assert!(!pa.is_even());
    assert_eq!(pa.to, w.tip("a", "main").to_string());
    assert_eq!(pa.from, w.tip("a", "stable").to_string());
    let subjects: Vec<_> = pa
        .commits
        .iter()
        .map(|c| (c.subject.as_str(), c.change_request))
        .collect();
    assert_eq!(
        subjects,
        [
            ("Merge pull request #34 from x/y", Some(34)),
            ("feat: add the thing (#12)", Some(12))
        ]
    );
    assert!(p.repo("b").unwrap().is_even());
    assert_eq!(p.digest.len(), 12);

    let report = apply(&p, &w.specs(), &ApplyOptions::default(), &quiet()).await;
    assert_eq!(report.result, RunResult::Success);
    assert_eq!(report.repos[0].outcome, RepoOutcome::Moved);
    assert_eq!(report.repos[1].outcome, RepoOutcome::Even);
    assert_eq!(w.tip("a", "stable"), w.tip("a", "main"));
}

#[tokio::test]
async fn override_by_short_sha() {
    let mut w = World::new();
    let a = w.repo("a", &[]);
    let c1 = a.commit_on("main", "fix: one");
    let c2 = a.commit_on("main", "fix: two");
    a.commit_on("main", "fix: three");
    let short = &c2.to_string()[..8];
    let p = plan(&w.specs(), &options(&w, &[("a", short)]))
        .await
        .unwrap();
    let pa = p.repo("a").unwrap();
    assert_eq!(pa.to, c2.to_string());
    assert_eq!(pa.requested.as_deref(), Some(short));
    let shas: Vec<_> = pa.commits.iter().map(|c| c.sha.clone()).collect();
    assert_eq!(shas, [c2.to_string(), c1.to_string()]);
    // The digest binds the override.
    let q = plan(&w.specs(), &options(&w, &[])).await.unwrap();
    assert_ne!(p.digest, q.digest);
    apply(&p, &w.specs(), &ApplyOptions::default(), &quiet()).await;
    assert_eq!(w.tip("a", "stable"), c2);
}

#[tokio::test]
async fn ambiguous_short_sha_is_refused_with_candidates() {
    let mut w = World::new();
    let a = w.repo("a", &[]);
    let mut seen = std::collections::HashMap::new();
    let prefix = loop {
        let c = a.commit_on("main", &format!("chore: commit {}", seen.len()));
        let p = c.to_string()[..4].to_owned();
        if seen.insert(p.clone(), c).is_some() {
            break p;
        }
    };
    let err = plan(&w.specs(), &options(&w, &[("a", &prefix)]))
        .await
        .unwrap_err();
    match err {
        Error::AmbiguousRev {
            candidates, rev, ..
        } => {
            assert_eq!(rev, prefix);
            assert_eq!(candidates.len(), 2);
            assert!(candidates.iter().all(|c| c.starts_with(&prefix)));
        }
        other => panic!("expected ambiguous, got {other}"),
    }
}

#[tokio::test]
async fn unknown_sha_and_unknown_repo_are_refused() {
    let mut w = World::new();
    w.repo("ogr", &[]);
    w.repo("packit", &["ogr"]);
    let err = plan(&w.specs(), &options(&w, &[("ogr", "deadbeef00")]))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UnknownRev { .. }), "{err}");
    assert!(err.is_user_error());
    let err = plan(&w.specs(), &options(&w, &[("tokman", "abcd")]))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown repo `tokman`; known repos: ogr, packit"
    );
}

#[tokio::test]
async fn sha_not_on_source_is_refused() {
    let mut w = World::new();
    let a = w.repo("a", &[]);
    a.commit_on("main", "fix: on main");
    let stray = a.commit_on("feature", "feat: only on a feature branch");
    let err = plan(&w.specs(), &options(&w, &[("a", &stray.to_string()[..10])]))
        .await
        .unwrap_err();
    match err {
        Error::NotOnSource {
            sha, source_branch, ..
        } => {
            assert_eq!(sha, stray.to_string());
            assert_eq!(source_branch, "main");
        }
        other => panic!("expected not-on-source, got {other}"),
    }
}

#[tokio::test]
async fn override_behind_the_target_is_only_for_rollback() {
    let mut w = World::new();
    let a = w.repo("a", &[]);
    let c1 = a.commit_on("main", "fix: one");
    let c2 = a.commit_on("main", "fix: two");
    a.set_branch("stable", c2);
    let err = plan(&w.specs(), &options(&w, &[("a", &c1.to_string())]))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Backwards { .. }), "{err}");
    assert!(err.to_string().contains("rollback"));
}

#[tokio::test]
async fn drift_on_the_target_refuses_the_default_plan() {
    let mut w = World::new();
    let a = w.repo("a", &[]);
    a.commit_on("main", "fix: on main");
    a.commit_on("stable", "hotfix: only on stable");
    let err = plan(&w.specs(), &options(&w, &[])).await.unwrap_err();
    assert!(matches!(err, Error::Diverged { drift: 1, .. }), "{err}");
}

#[tokio::test]
async fn cycle_in_depends_on_is_refused() {
    let mut w = World::new();
    w.repo("a", &["c"]);
    w.repo("b", &["a"]);
    w.repo("c", &["b"]);
    let err = plan(&w.specs(), &options(&w, &[])).await.unwrap_err();
    match err {
        Error::Cycle { repos } => assert_eq!(repos, ["a", "b", "c"]),
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn moves_follow_dependency_order() {
    let mut w = World::new();
    for (name, deps) in [
        ("svc", &["lib", "core"][..]),
        ("lib", &["core"][..]),
        ("core", &[][..]),
    ] {
        let r = w.repo(name, deps);
        r.commit_on("main", &format!("fix: {name}"));
    }
    let p = plan(&w.specs(), &options(&w, &[])).await.unwrap();
    assert_eq!(p.levels, [vec!["core"], vec!["lib"], vec!["svc"]]);
    let order = Arc::new(Mutex::new(Vec::new()));
    let o2 = order.clone();
    let progress: Progress = Arc::new(move |e: &ApplyEvent| {
        if let ApplyEvent::Moving { repo } = e {
            o2.lock().unwrap().push(repo.clone());
        }
    });
    let report = apply(&p, &w.specs(), &ApplyOptions::default(), &progress).await;
    assert_eq!(report.result, RunResult::Success);
    assert_eq!(*order.lock().unwrap(), ["core", "lib", "svc"]);
}

#[tokio::test]
async fn target_moved_between_plan_and_apply_is_left_alone() {
    let mut w = World::new();
    let a = w.repo("a", &[]);
    let b = w.repo("b", &["a"]);
    let c = w.repo("c", &[]);
    let a1 = a.commit_on("main", "fix: a1");
    a.commit_on("main", "fix: a2");
    b.commit_on("main", "fix: b");
    c.commit_on("main", "fix: c");
    let p = plan(&w.specs(), &options(&w, &[])).await.unwrap();
    // Someone pushes to a's stable after the plan was shown.
    a.set_branch("stable", a1);
    let report = apply(&p, &w.specs(), &ApplyOptions::default(), &quiet()).await;
    assert_eq!(report.result, RunResult::Partial);
    let outcome = |n: &str| {
        report
            .repos
            .iter()
            .find(|r| r.name == n)
            .unwrap()
            .outcome
            .clone()
    };
    assert_eq!(
        outcome("a"),
        RepoOutcome::TargetMoved {
            actual: Some(a1.to_string())
        }
    );
    assert_eq!(outcome("b"), RepoOutcome::Blocked { by: "a".into() });
    assert_eq!(outcome("c"), RepoOutcome::Moved);
    assert_eq!(w.tip("a", "stable"), a1, "not touched");
    assert_ne!(
        w.tip("b", "stable"),
        w.tip("b", "main"),
        "dependent not moved"
    );
    assert_eq!(w.tip("c", "stable"), w.tip("c", "main"));
}

#[tokio::test]
async fn a_failure_half_way_is_partial() {
    let mut w = World::new();
    for (name, deps) in [
        ("core", &[][..]),
        ("lib", &["core"][..]),
        ("svc", &["lib"][..]),
        ("web", &[][..]),
    ] {
        w.repo(name, deps)
            .commit_on("main", &format!("fix: {name}"));
    }
    // lib's server refuses every push.
    upkeep_testkit::git::install_pre_receive_hook(
        w.bare("lib").path(),
        "#!/bin/sh\necho 'stable is protected' >&2\nexit 1\n",
    );
    let p = plan(&w.specs(), &options(&w, &[])).await.unwrap();
    let report = apply(&p, &w.specs(), &ApplyOptions::default(), &quiet()).await;
    assert_eq!(report.result, RunResult::Partial);
    let outcome = |n: &str| {
        report
            .repos
            .iter()
            .find(|r| r.name == n)
            .unwrap()
            .outcome
            .clone()
    };
    assert_eq!(outcome("core"), RepoOutcome::Moved);
    assert!(
        matches!(outcome("lib"), RepoOutcome::Failed { ref error } if error.contains("stable is protected")),
        "{:?}",
        outcome("lib")
    );
    assert_eq!(outcome("svc"), RepoOutcome::Blocked { by: "lib".into() });
    assert_eq!(outcome("web"), RepoOutcome::Moved);
    let moved: Vec<_> = report.moved().map(|r| r.name.as_str()).collect();
    assert_eq!(moved, ["core", "web"]);
}

/// A guard that records what it is asked and refuses from level `refuse_from` on.
fn guard(refuse_from: usize) -> (LevelGuard, Arc<Mutex<Vec<LevelStart>>>) {
    let asked = Arc::new(Mutex::new(Vec::new()));
    let a2 = asked.clone();
    let guard = LevelGuard::new(move |start: LevelStart| {
        let index = start.index;
        a2.lock().unwrap().push(start);
        async move {
            if index >= refuse_from {
                Err("the deploy token is held by bob now".to_owned())
            } else {
                Ok(())
            }
        }
    });
    (guard, asked)
}

#[tokio::test]
async fn a_guard_refusing_between_levels_stops_the_remaining_levels() {
    let mut w = World::new();
    for (name, deps) in [
        ("core", &[][..]),
        ("lib", &["core"][..]),
        ("svc", &["lib"][..]),
        ("web", &[][..]),
    ] {
        w.repo(name, deps)
            .commit_on("main", &format!("fix: {name}"));
    }
    // Even, at the level where the guard refuses: it stays even, not stopped.
    w.repo("docs", &["core"]);
    let p = plan(&w.specs(), &options(&w, &[])).await.unwrap();
    assert_eq!(
        p.levels,
        [vec!["core", "web"], vec!["lib", "docs"], vec!["svc"]]
    );
    let (g, asked) = guard(1);
    let events = Arc::new(Mutex::new(Vec::new()));
    let e2 = events.clone();
    let progress: Progress = Arc::new(move |e: &ApplyEvent| e2.lock().unwrap().push(e.clone()));
    let opts = ApplyOptions {
        guard: Some(g),
        ..ApplyOptions::default()
    };
    let report = apply(&p, &w.specs(), &opts, &progress).await;
    assert_eq!(report.result, RunResult::Partial);
    let outcome = |n: &str| {
        report
            .repos
            .iter()
            .find(|r| r.name == n)
            .unwrap()
            .outcome
            .clone()
    };
    let stopped = RepoOutcome::Stopped {
        reason: "the deploy token is held by bob now".into(),
    };
    assert_eq!(outcome("core"), RepoOutcome::Moved);
    assert_eq!(outcome("web"), RepoOutcome::Moved);
    assert_eq!(outcome("lib"), stopped);
    assert_eq!(outcome("svc"), stopped);
    assert_eq!(outcome("docs"), RepoOutcome::Even);
    // Asked before level 0 and level 1 (only about the repos to move); never again.
    assert_eq!(
        *asked.lock().unwrap(),
        [
            LevelStart {
                index: 0,
                repos: vec!["core".into(), "web".into()]
            },
            LevelStart {
                index: 1,
                repos: vec!["lib".into()]
            },
        ]
    );
    let events = events.lock().unwrap();
    assert!(events.contains(&ApplyEvent::Stopped {
        level: 1,
        reason: "the deploy token is held by bob now".into()
    }));
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, ApplyEvent::Moving { repo } if repo == "lib" || repo == "svc"))
    );
    assert_eq!(w.tip("core", "stable"), w.tip("core", "main"));
    assert_ne!(w.tip("lib", "stable"), w.tip("lib", "main"), "not moved");
    assert_ne!(w.tip("svc", "stable"), w.tip("svc", "main"), "not moved");
    let text = upkeep_branches::render::report(&report);
    assert!(
        text.contains(
            "lib: not moved: the run stopped before its level: the deploy token is held by bob now"
        ),
        "{text}"
    );
    assert!(text.contains("result: partial (2 of 4 moved"), "{text}");
}

#[tokio::test]
async fn a_guard_refusing_before_the_first_level_moves_nothing_and_is_a_refusal() {
    let mut w = World::new();
    w.repo("a", &[]).commit_on("main", "fix: a");
    w.repo("b", &["a"]).commit_on("main", "fix: b");
    let before = w.tip("a", "stable");
    let p = plan(&w.specs(), &options(&w, &[])).await.unwrap();
    let (g, asked) = guard(0);
    let opts = ApplyOptions {
        guard: Some(g),
        ..ApplyOptions::default()
    };
    let report = apply(&p, &w.specs(), &opts, &quiet()).await;
    assert_eq!(report.result, RunResult::Refused);
    assert!(
        report
            .repos
            .iter()
            .all(|r| matches!(r.outcome, RepoOutcome::Stopped { .. }))
    );
    assert_eq!(asked.lock().unwrap().len(), 1);
    assert_eq!(w.tip("a", "stable"), before);
}

#[tokio::test]
async fn a_guard_that_always_agrees_changes_nothing() {
    let mut w = World::new();
    w.repo("a", &[]).commit_on("main", "fix: a");
    w.repo("b", &["a"]).commit_on("main", "fix: b");
    let p = plan(&w.specs(), &options(&w, &[])).await.unwrap();
    let (g, asked) = guard(usize::MAX);
    let opts = ApplyOptions {
        guard: Some(g),
        ..ApplyOptions::default()
    };
    let report = apply(&p, &w.specs(), &opts, &quiet()).await;
    assert_eq!(report.result, RunResult::Success);
    assert_eq!(asked.lock().unwrap().len(), 2, "once per level");
}

#[tokio::test]
async fn waits_for_green_ci_before_moving_dependents() {
    let mut w = World::new();
    let a = w.repo("a", &[]);
    let b = w.repo("b", &["a"]);
    let a_new = a.commit_on("main", "fix: a");
    b.commit_on("main", "fix: b");
    w.check("a", &a_new.to_string(), "build", CheckState::Success)
        .await;
    let mut specs = w.specs();
    specs[0].wait_after = true;
    let p = plan(&specs, &options(&w, &[])).await.unwrap();
    let opts = ApplyOptions {
        wait_deadline: Duration::from_secs(20),
        poll_interval: Duration::from_millis(20),
        ..ApplyOptions::default()
    };
    let report = apply(&p, &specs, &opts, &quiet()).await;
    assert_eq!(report.result, RunResult::Success);
    assert!(report.repos[0].wait.as_ref().unwrap().passed);
    assert_eq!(report.repos[1].outcome, RepoOutcome::Moved);
}

#[tokio::test]
async fn a_wait_that_never_turns_green_stops_dependents_at_the_deadline() {
    let mut w = World::new();
    let a = w.repo("a", &[]);
    let b = w.repo("b", &["a"]);
    let a_new = a.commit_on("main", "fix: a");
    b.commit_on("main", "fix: b");
    w.check("a", &a_new.to_string(), "build", CheckState::Pending)
        .await;
    let mut specs = w.specs();
    specs[0].wait_after = true;
    let p = plan(&specs, &options(&w, &[])).await.unwrap();
    let waits = Arc::new(Mutex::new(0));
    let w2 = waits.clone();
    let progress: Progress = Arc::new(move |e: &ApplyEvent| {
        if matches!(e, ApplyEvent::Waiting { .. }) {
            *w2.lock().unwrap() += 1;
        }
    });
    let opts = ApplyOptions {
        wait_deadline: Duration::from_millis(150),
        poll_interval: Duration::from_millis(30),
        ..ApplyOptions::default()
    };
    let report = apply(&p, &specs, &opts, &progress).await;
    assert_eq!(report.result, RunResult::Partial);
    let wait = report.repos[0].wait.as_ref().unwrap();
    assert!(!wait.passed);
    assert!(wait.message.contains("still pending"), "{}", wait.message);
    assert_eq!(
        report.repos[1].outcome,
        RepoOutcome::Blocked { by: "a".into() }
    );
    assert!(*waits.lock().unwrap() >= 1, "progress was reported");
}

#[tokio::test]
async fn tags_the_next_version_on_promoted_commits() {
    let mut w = World::new();
    let a = w.repo("a", &[]);
    let base = w.tip("a", "stable");
    upkeep_testkit::git::git(a.path(), &["tag", "v1.2.3", &base.to_string()]);
    a.commit_on("main", "fix: a bug");
    let top = a.commit_on("main", "feat(api): a feature\n\nwith a body");
    let mut o = options(&w, &[]);
    o.tag_prefix = Some("v".into());
    let p = plan(&w.specs(), &o).await.unwrap();
    assert_eq!(p.repo("a").unwrap().tag.as_deref(), Some("v1.3.0"));
    let opts = ApplyOptions {
        tag: true,
        ..ApplyOptions::default()
    };
    let report = apply(&p, &w.specs(), &opts, &quiet()).await;
    assert_eq!(report.result, RunResult::Success, "{report:?}");
    assert_eq!(a.resolve("v1.3.0"), Some(top));
}

/// The same compare-and-swap through the real GitHub adapter (GraphQL `updateRefs`
/// with the planned old tip) against `FakeGitHub`.
#[tokio::test(flavor = "multi_thread")]
async fn github_target_moved_between_plan_and_apply_is_left_alone() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let gh = upkeep_testkit::github::FakeGitHub::start().await;
    let forge: Arc<dyn upkeep_forge::Forge> = Arc::new(
        upkeep_forge::github::GitHub::new(
            &gh.url(),
            secrecy::SecretString::from("ghp_test".to_owned()),
            upkeep_forge::retry::RetryPolicy::fast(),
        )
        .unwrap(),
    );
    let mut specs = Vec::new();
    for name in ["ogr", "dashboard"] {
        let full = format!("packit/{name}");
        gh.create_repo(&full);
        let first = gh.commit(&full, "main", "Initial commit");
        gh.set_branch(&full, "stable", &first);
        gh.commit(&full, "main", "feat: more (#3)");
        specs.push(upkeep_branches::RepoSpec {
            name: name.into(),
            forge: forge.clone(),
            id: upkeep_forge::RepoId::new(full.clone()),
            git_url: gh.repo_path(&full).to_string_lossy().into_owned(),
            credentials: upkeep_git::Credentials::none(),
            source: "main".into(),
            target: "stable".into(),
            depends_on: vec![],
            wait_after: false,
        });
    }
    let tmp = tempfile::tempdir().unwrap();
    let p = plan(
        &specs,
        &PlanOptions {
            cache_dir: tmp.path().to_owned(),
            ..PlanOptions::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(p.repo("ogr").unwrap().commits[0].change_request, Some(3));
    let hotfix = gh.commit("packit/ogr", "stable", "fix: hotfix pushed meanwhile");
    let report = apply(&p, &specs, &ApplyOptions::default(), &quiet()).await;
    assert_eq!(report.result, RunResult::Partial);
    assert_eq!(
        report.repos[0].outcome,
        RepoOutcome::TargetMoved {
            actual: Some(hotfix.clone())
        }
    );
    assert_eq!(report.repos[1].outcome, RepoOutcome::Moved);
    assert_eq!(gh.branch_tip("packit/ogr", "stable"), Some(hotfix));
    assert_eq!(
        gh.branch_tip("packit/dashboard", "stable"),
        gh.branch_tip("packit/dashboard", "main")
    );
}

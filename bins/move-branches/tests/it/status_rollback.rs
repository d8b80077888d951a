use crate::scenario::Scenario;

#[tokio::test(flavor = "multi_thread")]
async fn status_shows_drift_waiting_and_versions() {
    let mut s = Scenario::new();
    let a = s.repo("api", &[]);
    upkeep_testkit::git::git(a.path(), &["tag", "v1.4.0", &s.tip("api", "stable")]);
    a.commit_on("stable", "fix: hotfix only on stable");
    a.commit_on("main", "feat: new endpoint (#9)");
    s.repo("web", &[]);
    let r = s.run(&["status", "--output", "json"]).await;
    assert_eq!(r.code, 0, "{r:?}");
    let j = r.json();
    assert_eq!(j[0]["name"], "api");
    assert_eq!(j[0]["waiting"].as_array().unwrap().len(), 1);
    assert_eq!(j[0]["drift"][0]["subject"], "fix: hotfix only on stable");
    assert_eq!(j[0]["last_tag"]["name"], "v1.4.0");
    assert_eq!(j[0]["next_version"], "v1.5.0");
    assert_eq!(j[1]["waiting"].as_array().unwrap().len(), 0);
    let text = s.run(&["status"]).await;
    assert!(text.stdout.contains("api: `stable`"), "{text:?}");
    assert!(text.stdout.contains("1 waiting, 1 drift"), "{text:?}");
    assert!(text.stdout.contains("drift   "), "{text:?}");
    assert!(
        text.stdout.contains("web: `stable`") && text.stdout.contains(": even"),
        "{text:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rollback_undoes_the_last_promotion_and_is_recorded() {
    let mut s = Scenario::new();
    let a = s.repo("api", &[]);
    s.extra = "[branches.ci]\ntarget_commits = false\n".into();
    let first = s.tip("api", "stable");
    a.commit_on("main", "fix: one");
    let r = s.run(&["run", "--yes"]).await;
    assert_eq!(r.code, 0, "{r:?}");
    let second = s.tip("api", "stable");
    a.commit_on("main", "feat: two");
    a.commit_on("main", "feat: three");
    assert_eq!(s.run(&["run", "--yes"]).await.code, 0);
    let third = s.tip("api", "stable");
    assert_ne!(second, third);

    let dry = s.run(&["rollback", "api", "--dry-run"]).await;
    assert_eq!(dry.code, 0, "{dry:?}");
    assert!(dry.stdout.contains("withdrawing 2 commit(s)"), "{dry:?}");
    assert!(dry.stdout.contains("feat: three"), "{dry:?}");
    assert_eq!(s.tip("api", "stable"), third);

    let r = s.run(&["rollback", "api", "--yes"]).await;
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(s.tip("api", "stable"), second);
    let h = s.history_lines();
    assert_eq!(h.len(), 3);
    assert_eq!(h[2]["command"], "rollback");
    assert_eq!(h[2]["repos"][0]["outcome"], "moved");
    assert_eq!(h[2]["repos"][0]["to"], second.as_str());

    // Again: one promotion further back.
    let r = s.run(&["rollback", "api", "--yes"]).await;
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(s.tip("api", "stable"), first);
}

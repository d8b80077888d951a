use std::path::Path;

use upkeep_git::{Credentials, Error, SyncAction, ensure_clone};
use upkeep_testkit::git::Fixture;

use crate::pushed_history;

fn cache_dir(fx: &Fixture) -> std::path::PathBuf {
    fx.root().join("cache").join("project")
}

fn sync(fx: &Fixture, dir: &Path) -> upkeep_git::SyncReport {
    ensure_clone(&fx.url(), dir, "main", &Credentials::none()).unwrap()
}

#[test]
fn clones_once_then_refreshes() {
    let (fx, c) = pushed_history(3);
    let dir = cache_dir(&fx);
    let first = sync(&fx, &dir);
    assert_eq!(first.action, SyncAction::Cloned);
    assert_eq!(first.head, c[2]);
    assert!(first.stats.received_objects > 0, "{:?}", first.stats);
    assert!(first.stats.received_bytes > 0, "{:?}", first.stats);
    assert_eq!(
        first.repo.current_branch().unwrap().as_deref(),
        Some("main")
    );
    assert_eq!(first.repo.path(), dir);
    drop(first);

    let again = sync(&fx, &dir);
    assert_eq!(again.action, SyncAction::Refreshed);
    assert_eq!(again.stats.received_objects, 0, "nothing new to fetch");
    assert_eq!(again.head, c[2]);

    let colleague = fx.clone_work("colleague");
    let new = colleague.commit_file("new.txt", "new", "new upstream commit");
    colleague.push_branch("main");
    let refreshed = sync(&fx, &dir);
    assert_eq!(refreshed.action, SyncAction::Refreshed);
    assert_eq!(refreshed.head, new);
    assert!(refreshed.stats.received_objects > 0);
    assert_eq!(fs_err::read_to_string(dir.join("new.txt")).unwrap(), "new");
    assert_eq!(refreshed.repo.resolve("main").unwrap(), new);
}

#[test]
fn refresh_resets_and_cleans_leftovers_of_the_previous_run() {
    let (fx, _) = pushed_history(2);
    fx.commit_file(".gitignore", "build/\n", "ignore build");
    fx.push_branch("main");
    let dir = cache_dir(&fx);
    let first = sync(&fx, &dir);
    // A previous round: switched to a branch, committed, left junk behind.
    first
        .repo
        .checkout_new_branch("feature/maintenance", "main")
        .unwrap();
    fs_err::write(dir.join("history.txt"), "modified").unwrap();
    first
        .repo
        .commit_all("local work", &crate::author())
        .unwrap()
        .unwrap();
    fs_err::write(dir.join("history.txt"), "modified again").unwrap();
    fs_err::write(dir.join("untracked.txt"), "junk").unwrap();
    fs_err::create_dir_all(dir.join("build/out")).unwrap();
    fs_err::write(dir.join("build/out/artifact"), "ignored junk").unwrap();
    fs_err::create_dir_all(dir.join("newdir")).unwrap();
    fs_err::write(dir.join("newdir/x"), "junk").unwrap();
    drop(first);

    let report = sync(&fx, &dir);
    assert_eq!(report.action, SyncAction::Refreshed);
    assert_eq!(report.head, fx.bare_ref("refs/heads/main").unwrap());
    assert_eq!(
        report.repo.current_branch().unwrap().as_deref(),
        Some("main")
    );
    assert!(report.repo.status_is_clean().unwrap());
    assert!(!dir.join("untracked.txt").exists());
    assert!(!dir.join("build").exists(), "ignored files are removed too");
    assert!(!dir.join("newdir").exists());
    assert_eq!(
        fs_err::read_to_string(dir.join("history.txt")).unwrap(),
        "line 1\nline 2\n"
    );
}

fn assert_recloned(fx: &Fixture, dir: &Path, what: &str) -> String {
    let report = sync(fx, dir);
    match report.action {
        SyncAction::Recloned { reason } => {
            assert_eq!(
                report.head,
                fx.bare_ref("refs/heads/main").unwrap(),
                "{what}"
            );
            assert!(report.repo.status_is_clean().unwrap(), "{what}");
            reason
        }
        other => panic!("{what}: expected Recloned, got {other:?}"),
    }
}

#[test]
fn a_corrupt_cache_is_detected_and_recloned() {
    let (fx, _) = pushed_history(3);
    let dir = cache_dir(&fx);
    sync(&fx, &dir);

    fs_err::remove_file(dir.join(".git/HEAD")).unwrap();
    assert_recloned(&fx, &dir, "missing HEAD");

    fs_err::write(dir.join(".git/HEAD"), "garbage\n").unwrap();
    assert_recloned(&fx, &dir, "garbled HEAD");

    fs_err::remove_dir_all(dir.join(".git/objects")).unwrap();
    assert_recloned(&fx, &dir, "missing objects");

    // Garble every object file (loose objects and packs).
    let mut garbled = 0;
    let mut stack = vec![dir.join(".git/objects")];
    while let Some(d) = stack.pop() {
        for entry in fs_err::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let mut perms = fs_err::metadata(&p).unwrap().permissions();
                #[allow(clippy::permissions_set_readonly_false)]
                perms.set_readonly(false);
                fs_err::set_permissions(&p, perms).unwrap();
                fs_err::write(&p, b"not an object").unwrap();
                garbled += 1;
            }
        }
    }
    assert!(garbled > 0);
    assert_recloned(&fx, &dir, "garbled objects");
    assert_eq!(
        sync(&fx, &dir).action,
        SyncAction::Refreshed,
        "healthy again"
    );
}

#[test]
fn a_cache_of_another_url_is_recloned() {
    let (fx, _) = pushed_history(2);
    let other = Fixture::new();
    other.commit_file("other.txt", "other", "other project");
    other.push_branch("main");
    let dir = cache_dir(&fx);
    ensure_clone(&other.url(), &dir, "main", &Credentials::none()).unwrap();
    assert!(dir.join("other.txt").exists());

    let reason = assert_recloned(&fx, &dir, "other origin");
    assert!(reason.contains("origin"), "{reason}");
    assert!(!dir.join("other.txt").exists());
    assert!(dir.join("history.txt").exists());
}

#[test]
fn a_missing_branch_is_a_distinct_error() {
    let (fx, _) = pushed_history(1);
    let dir = cache_dir(&fx);
    match ensure_clone(&fx.url(), &dir, "no-such-branch", &Credentials::none()) {
        Err(Error::BranchMissing { url, branch }) => {
            assert_eq!(url, fx.url());
            assert_eq!(branch, "no-such-branch");
        }
        other => panic!("expected BranchMissing, got {other:?}"),
    }
    assert!(!dir.exists(), "a failed first clone leaves nothing behind");

    sync(&fx, &dir);
    assert!(matches!(
        ensure_clone(&fx.url(), &dir, "no-such-branch", &Credentials::none()),
        Err(Error::BranchMissing { .. })
    ));
    assert_eq!(
        sync(&fx, &dir).action,
        SyncAction::Refreshed,
        "the cache survived"
    );
}

#[test]
fn a_directory_that_is_not_a_clone_is_never_deleted() {
    let (fx, _) = pushed_history(1);
    let dir = cache_dir(&fx);
    fs_err::create_dir_all(&dir).unwrap();
    fs_err::write(dir.join("precious.txt"), "keep me").unwrap();
    match ensure_clone(&fx.url(), &dir, "main", &Credentials::none()) {
        Err(Error::CacheDirNotAClone { path }) => assert_eq!(path, dir),
        other => panic!("expected CacheDirNotAClone, got {other:?}"),
    }
    assert_eq!(
        fs_err::read_to_string(dir.join("precious.txt")).unwrap(),
        "keep me"
    );

    // An empty directory is fine.
    let empty = fx.root().join("empty");
    fs_err::create_dir_all(&empty).unwrap();
    assert_eq!(sync(&fx, &empty).action, SyncAction::Cloned);
}

#[test]
fn an_unreachable_remote_keeps_the_cache() {
    let (fx, c) = pushed_history(1);
    let dir = cache_dir(&fx);
    sync(&fx, &dir);
    // Same URL, but the remote is gone (server down).
    let moved = fx.root().join("moved.git");
    fs_err::rename(fx.bare(), &moved).unwrap();
    match ensure_clone(&fx.url(), &dir, "main", &Credentials::none()) {
        Err(Error::Fetch { url, .. }) => assert_eq!(url, fx.url()),
        other => panic!("expected Fetch error, got {other:?}"),
    }
    assert!(dir.join(".git").exists(), "cache kept for the next try");
    fs_err::rename(&moved, fx.bare()).unwrap();
    let report = sync(&fx, &dir);
    assert_eq!(report.action, SyncAction::Refreshed);
    assert_eq!(report.head, c[0]);

    let fresh = fx.root().join("fresh");
    assert!(matches!(
        ensure_clone(
            &fx.root().join("nowhere.git").display().to_string(),
            &fresh,
            "main",
            &Credentials::none()
        ),
        Err(Error::Clone { .. })
    ));
    assert!(!fresh.exists());
}

#[test]
fn file_urls_work() {
    let (fx, c) = pushed_history(2);
    let dir = cache_dir(&fx);
    let report = ensure_clone(&fx.file_url(), &dir, "main", &Credentials::none()).unwrap();
    assert_eq!(report.head, c[1]);
    assert_eq!(
        ensure_clone(&fx.file_url(), &dir, "main", &Credentials::none())
            .unwrap()
            .action,
        SyncAction::Refreshed
    );
}

#[test]
fn a_checkout_made_by_hand_at_the_cache_path_is_never_reset_or_deleted() {
    let (fx, _) = pushed_history(2);
    let dir = cache_dir(&fx);
    fs_err::create_dir_all(dir.parent().unwrap()).unwrap();
    upkeep_testkit::git::git(
        fx.root(),
        &["clone", "-q", &fx.url(), dir.to_str().unwrap()],
    );
    fs_err::write(dir.join("work-in-progress.txt"), "unsaved thoughts").unwrap();

    let err = ensure_clone(&fx.url(), &dir, "main", &Credentials::none()).unwrap_err();
    assert!(matches!(err, Error::CacheDirNotAClone { .. }), "{err}");
    assert_eq!(
        fs_err::read_to_string(dir.join("work-in-progress.txt")).unwrap(),
        "unsaved thoughts",
        "the person's file survives"
    );
}

#[test]
fn a_branch_deleted_upstream_is_gone_after_a_refresh() {
    let (fx, commits) = pushed_history(2);
    fx.branch("old-feature", commits[0]);
    fx.push(&["old-feature:refs/heads/old-feature"]);
    let dir = cache_dir(&fx);
    let first = sync(&fx, &dir);
    assert!(first.repo.resolve("origin/old-feature").is_ok());

    fx.push(&[":refs/heads/old-feature"]);
    let again = sync(&fx, &dir);
    assert!(matches!(
        again.repo.resolve("origin/old-feature"),
        Err(Error::UnknownRev { .. })
    ));
}

#[test]
fn a_relative_remote_path_means_the_same_repository_everywhere() {
    let (fx, commits) = pushed_history(1);
    let tip = *commits.last().unwrap();
    let dir = cache_dir(&fx);
    let cwd = std::env::current_dir().unwrap();
    let relative = pathdiff(fx.bare(), &cwd);
    let report = ensure_clone(&relative, &dir, "main", &Credentials::none()).unwrap();
    assert_eq!(report.head, tip);
    let origin = report
        .repo
        .git2()
        .find_remote("origin")
        .unwrap()
        .url()
        .unwrap()
        .to_owned();
    assert!(
        Path::new(&origin).is_absolute(),
        "origin is stored absolute: {origin}"
    );
}

/// `target` relative to `base` (both absolute), with `..` steps.
fn pathdiff(target: &Path, base: &Path) -> String {
    let t: Vec<_> = target.components().collect();
    let b: Vec<_> = base.components().collect();
    let common = t.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<String> = std::iter::repeat_n("..".to_owned(), b.len() - common).collect();
    parts.extend(
        t[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

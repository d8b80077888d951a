use std::path::PathBuf;

use upkeep_git::Error;

use crate::{author, open_work, pushed_history};

#[test]
fn checkout_new_branch_creates_switches_and_resets() {
    let (fx, c) = pushed_history(3);
    fx.commit_file("later.txt", "later", "later file");
    let repo = open_work(&fx);
    let at = repo
        .checkout_new_branch("feature/maintenance-24-06-01", c[0])
        .unwrap();
    assert_eq!(at, c[0]);
    assert_eq!(
        repo.current_branch().unwrap().as_deref(),
        Some("feature/maintenance-24-06-01")
    );
    assert_eq!(repo.resolve("HEAD").unwrap(), c[0]);
    assert!(
        !fx.work().path().join("later.txt").exists(),
        "work tree follows the base"
    );
    assert_eq!(
        fs_err::read_to_string(fx.work().path().join("history.txt")).unwrap(),
        "line 1\n"
    );
    assert!(repo.status_is_clean().unwrap());

    // Existing branch (the current one): reset to another base, dirty changes dropped.
    fs_err::write(fx.work().path().join("history.txt"), "dirty").unwrap();
    repo.checkout_new_branch("feature/maintenance-24-06-01", "origin/main")
        .unwrap();
    assert_eq!(repo.resolve("feature/maintenance-24-06-01").unwrap(), c[2]);
    assert!(
        repo.status_is_clean().unwrap(),
        "{:?}",
        repo.changed_paths().unwrap()
    );

    match repo.checkout_new_branch("x", "no-such-base") {
        Err(Error::UnknownRev { rev, .. }) => assert_eq!(rev, "no-such-base"),
        other => panic!("expected UnknownRev, got {other:?}"),
    }
    assert_eq!(
        repo.current_branch().unwrap().as_deref(),
        Some("feature/maintenance-24-06-01")
    );
}

#[test]
fn commit_all_stages_additions_changes_and_deletions() {
    let (fx, c) = pushed_history(1);
    fx.commit_file("old.txt", "old", "add old");
    fx.commit_file(".gitignore", "target/\n", "ignore target");
    let repo = open_work(&fx);
    let w = fx.work().path();
    fs_err::write(w.join("history.txt"), "changed\n").unwrap();
    fs_err::remove_file(w.join("old.txt")).unwrap();
    fs_err::create_dir_all(w.join("new/dir")).unwrap();
    fs_err::write(w.join("new/dir/file.txt"), "new").unwrap();
    fs_err::create_dir_all(w.join("target")).unwrap();
    fs_err::write(w.join("target/build.o"), "ignored").unwrap();

    assert!(!repo.status_is_clean().unwrap());
    assert_eq!(
        repo.changed_paths().unwrap(),
        vec![
            PathBuf::from("history.txt"),
            PathBuf::from("new/dir/file.txt"),
            PathBuf::from("old.txt")
        ]
    );
    let id = repo
        .commit_all("Upgrade dependencies", &author())
        .unwrap()
        .expect("a commit");
    assert!(repo.status_is_clean().unwrap());
    assert_eq!(repo.resolve("main").unwrap(), id);
    assert_eq!(
        repo.list_files_at(id).unwrap(),
        vec![
            PathBuf::from(".gitignore"),
            PathBuf::from("history.txt"),
            PathBuf::from("new/dir/file.txt")
        ]
    );
    assert!(repo.read_file_at(c[0], "history.txt").is_ok());
    let info = &repo.commits_between("main~1", "main").unwrap()[0];
    assert_eq!(info.subject, "Upgrade dependencies");
    assert_eq!(info.author_name, "upkeep bot");
    assert_eq!(info.author_email, "bot@upkeep.invalid");
    assert_eq!(info.time, author().time.unwrap());
    let commit = repo.git2().find_commit(id).unwrap();
    assert_eq!(commit.committer().name().unwrap(), "upkeep bot");
}

#[test]
fn commit_all_reports_nothing_to_commit() {
    let (fx, _) = pushed_history(2);
    let repo = open_work(&fx);
    let before = repo.resolve("HEAD").unwrap();
    assert_eq!(repo.commit_all("nothing", &author()).unwrap(), None);
    // Touching a file without changing it is still nothing.
    let f = fx.work().path().join("history.txt");
    let same = fs_err::read(&f).unwrap();
    fs_err::write(&f, same).unwrap();
    assert_eq!(repo.commit_all("nothing", &author()).unwrap(), None);
    assert_eq!(
        repo.resolve("HEAD").unwrap(),
        before,
        "no empty commit was made"
    );
}

#[test]
fn commit_all_makes_a_root_commit_on_an_unborn_branch() {
    let fx = upkeep_testkit::git::Fixture::new();
    let repo = open_work(&fx);
    assert_eq!(repo.current_branch().unwrap(), None);
    fs_err::write(fx.work().path().join("README"), "hi").unwrap();
    let id = repo.commit_all("Initial", &author()).unwrap().unwrap();
    assert_eq!(repo.git2().find_commit(id).unwrap().parent_count(), 0);
    assert_eq!(repo.current_branch().unwrap().as_deref(), Some("main"));
}

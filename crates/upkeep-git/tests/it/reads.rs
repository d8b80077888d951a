use std::collections::HashMap;
use std::path::PathBuf;

use upkeep_git::{Error, Oid, Repo};
use upkeep_testkit::git::{EMAIL, EPOCH, Fixture, NAME, STEP};

use crate::{author, open_work, pushed_history};

#[test]
fn resolve_names_ids_and_expressions() {
    let (fx, c) = pushed_history(3);
    fx.tag("v1.0.0", c[0], Some("release 1.0.0"));
    fx.tag("light", c[1], None);
    fx.fetch();
    let repo = open_work(&fx);
    assert_eq!(repo.resolve("main").unwrap(), c[2]);
    assert_eq!(repo.resolve("origin/main").unwrap(), c[2]);
    assert_eq!(
        repo.resolve("v1.0.0").unwrap(),
        c[0],
        "annotated tag peeled"
    );
    assert_eq!(repo.resolve("light").unwrap(), c[1]);
    assert_eq!(repo.resolve("main~2").unwrap(), c[0]);
    assert_eq!(repo.resolve(c[1].to_string()).unwrap(), c[1]);
    assert_eq!(repo.resolve(&c[1].to_string()[..7]).unwrap(), c[1]);
    assert_eq!(repo.resolve(c[1]).unwrap(), c[1]);
    assert_eq!(
        repo.resolve_commit_prefix(&c[0].to_string()[..10]).unwrap(),
        c[0]
    );
}

#[test]
fn unknown_revisions_are_distinct_errors() {
    let (fx, _) = pushed_history(2);
    let repo = open_work(&fx);
    for rev in [
        "no-such-branch",
        "origin/nope",
        "feature/x",
        "deadbeef",
        "0000000000000000000000000000000000000001",
    ] {
        match repo.resolve(rev) {
            Err(Error::UnknownRev { rev: r, repo: p }) => {
                assert_eq!(r, rev);
                assert_eq!(p, fx.work().path());
            }
            other => panic!("{rev}: expected UnknownRev, got {other:?}"),
        }
    }
    assert!(matches!(
        repo.resolve_commit_prefix("zzzz"),
        Err(Error::UnknownRev { .. })
    ));
    assert!(matches!(
        repo.resolve_commit_prefix("abc"),
        Err(Error::UnknownRev { .. })
    ));
    let err = repo.resolve("no-such-branch").unwrap_err();
    assert!(err.to_string().contains("no-such-branch"), "{err}");
}

#[test]
fn a_short_sha_shared_by_two_commits_is_ambiguous() {
    let fx = Fixture::new();
    fx.commit_file("a", "a", "root");
    // Make commits until two share a 4-hex-digit prefix (about 300 expected; the ids are
    // deterministic, so this always ends at the same commit).
    let mut seen: HashMap<String, Oid> = HashMap::new();
    let (prefix, first, second) = (0..5000)
        .find_map(|i| {
            let oid = fx.commit_empty(&format!("empty {i}"));
            let p = oid.to_string()[..4].to_owned();
            seen.insert(p.clone(), oid).map(|prev| (p, prev, oid))
        })
        .expect("a shared prefix within 5000 commits");
    let repo = open_work(&fx);
    for result in [
        repo.resolve_commit_prefix(&prefix),
        repo.resolve(prefix.as_str()),
    ] {
        match result {
            Err(Error::AmbiguousRev {
                rev, candidates, ..
            }) => {
                assert_eq!(rev, prefix);
                assert!(
                    candidates.contains(&first) && candidates.contains(&second),
                    "{candidates:?}"
                );
            }
            other => panic!("expected AmbiguousRev, got {other:?}"),
        }
    }
    let err = repo.resolve_commit_prefix(&prefix).unwrap_err().to_string();
    assert!(
        err.contains(&first.to_string()) && err.contains(&second.to_string()),
        "{err}"
    );
    // A longer prefix picks one.
    let long = &second.to_string()[..12];
    assert_eq!(repo.resolve_commit_prefix(long).unwrap(), second);
}

#[test]
fn ahead_behind_merge_base_and_ancestry() {
    let (fx, c) = pushed_history(2);
    let (on_main, on_side) = fx.diverge("main", "side", 3);
    let repo = open_work(&fx);
    assert_eq!(repo.ahead_behind("main", "side").unwrap(), (3, 3));
    assert_eq!(repo.ahead_behind("main", c[1]).unwrap(), (3, 0));
    assert_eq!(repo.ahead_behind(c[0], "main").unwrap(), (0, 4));
    assert_eq!(repo.merge_base("main", "side").unwrap(), Some(c[1]));
    assert!(repo.is_ancestor(c[0], "main").unwrap());
    assert!(repo.is_ancestor("main", "main").unwrap());
    assert!(!repo.is_ancestor("main", c[0]).unwrap());
    assert!(!repo.is_ancestor(on_side[0], on_main[2]).unwrap());
    assert!(matches!(
        repo.ahead_behind("main", "nope"),
        Err(Error::UnknownRev { .. })
    ));
}

#[test]
fn merge_base_of_unrelated_histories_is_none() {
    let fx = Fixture::new();
    fx.commit_file("a", "a", "root a");
    let orphan_tree = fx.repo().treebuilder(None).unwrap().write().unwrap();
    let tree = fx.repo().find_tree(orphan_tree).unwrap();
    let sig = fx.clock().signature();
    let orphan = fx
        .repo()
        .commit(None, &sig, &sig, "root b", &tree, &[])
        .unwrap();
    let repo = open_work(&fx);
    assert_eq!(repo.merge_base("main", orphan).unwrap(), None);
}

#[test]
fn commits_between_lists_newest_first_with_metadata() {
    let (fx, c) = pushed_history(1);
    let second = fx.commit_file("x.txt", "x", "Add x\n\nBecause x matters.\nReally.");
    let third = fx.commit_file("y.txt", "y", "Add y");
    let repo = open_work(&fx);
    let list = repo.commits_between(c[0], "main").unwrap();
    let ids: Vec<Oid> = list.iter().map(|ci| ci.id).collect();
    assert_eq!(ids, vec![third, second]);
    assert_eq!(list[1].subject, "Add x");
    assert_eq!(list[1].body, "Because x matters.\nReally.");
    assert_eq!(list[0].body, "");
    assert_eq!(list[0].author_name, NAME);
    assert_eq!(list[0].author_email, EMAIL);
    // Fixture commits are EPOCH, EPOCH+STEP, ...: the third is two steps in.
    assert_eq!(list[0].time.timestamp(), EPOCH + 2 * STEP);
    assert!(repo.commits_between("main", "main").unwrap().is_empty());
    assert!(
        repo.commits_between("main", c[0]).unwrap().is_empty(),
        "base ahead of head"
    );
}

#[test]
fn commits_between_includes_merges_and_merged_commits() {
    let (fx, c) = pushed_history(1);
    let (on_main, on_side) = fx.diverge("main", "side", 2);
    let merge = fx.merge("side", "Merge side");
    let repo = open_work(&fx);
    let ids: Vec<Oid> = repo
        .commits_between(c[0], "main")
        .unwrap()
        .iter()
        .map(|ci| ci.id)
        .collect();
    assert_eq!(ids.len(), 5);
    assert_eq!(ids[0], merge, "newest first");
    for id in on_main.iter().chain(&on_side) {
        assert!(ids.contains(id));
    }
    assert_eq!(repo.git2().find_commit(merge).unwrap().parent_count(), 2);
}

#[test]
fn read_and_list_files_at_revisions() {
    let fx = Fixture::new();
    let v1 = fx.commit_file("deps/requirements.txt", "a==1\n", "pin a");
    let v2 = fx.commit_file("deps/requirements.txt", "a==2\n", "bump a");
    fx.commit_file("Cargo.lock", "lock", "add lock");
    let gone = fx.remove_file("deps/requirements.txt", "drop reqs");
    let repo = open_work(&fx);
    assert_eq!(
        repo.read_file_at(v1, "deps/requirements.txt").unwrap(),
        b"a==1\n"
    );
    assert_eq!(
        repo.read_file_at(v2.to_string(), "deps/requirements.txt")
            .unwrap(),
        b"a==2\n"
    );
    match repo.read_file_at(gone, "deps/requirements.txt") {
        Err(Error::FileMissing { rev, path }) => {
            assert_eq!(rev, gone.to_string());
            assert_eq!(path, PathBuf::from("deps/requirements.txt"));
        }
        other => panic!("expected FileMissing, got {other:?}"),
    }
    assert!(
        matches!(
            repo.read_file_at(v1, "deps"),
            Err(Error::FileMissing { .. })
        ),
        "a directory is not a file"
    );
    assert!(matches!(
        repo.read_file_at(v1, "nope.txt"),
        Err(Error::FileMissing { .. })
    ));
    assert!(matches!(
        repo.read_file_at("nope", "x"),
        Err(Error::UnknownRev { .. })
    ));

    assert_eq!(
        repo.list_files_at(v1).unwrap(),
        vec![PathBuf::from("deps/requirements.txt")]
    );
    assert_eq!(
        repo.list_files_at("main~1").unwrap(),
        vec![
            PathBuf::from("Cargo.lock"),
            PathBuf::from("deps/requirements.txt")
        ]
    );
    assert_eq!(
        repo.list_files_at("main").unwrap(),
        vec![PathBuf::from("Cargo.lock")]
    );
}

#[test]
fn tags_are_listed_peeled_and_created() {
    let (fx, c) = pushed_history(3);
    fx.tag("v0.1.0", c[0], None);
    fx.tag("v0.2.0", c[1], Some("annotated"));
    let repo = open_work(&fx);
    let id = repo
        .create_tag("v0.3.0", "main", Some("release v0.3.0"), &author())
        .unwrap();
    assert_ne!(id, c[2], "an annotated tag is its own object");
    repo.create_tag("light", c[0], None, &author()).unwrap();
    let tags = repo.tags().unwrap();
    let pairs: Vec<(&str, Oid)> = tags.iter().map(|t| (t.name.as_str(), t.target)).collect();
    assert_eq!(
        pairs,
        vec![
            ("light", c[0]),
            ("v0.1.0", c[0]),
            ("v0.2.0", c[1]),
            ("v0.3.0", c[2])
        ]
    );
    let tag_obj = repo.git2().find_tag(id).unwrap();
    assert_eq!(tag_obj.message().unwrap(), Some("release v0.3.0"));
    assert_eq!(tag_obj.tagger().unwrap().name().unwrap(), "upkeep bot");

    match repo.create_tag("v0.1.0", "main", None, &author()) {
        Err(Error::Tag { name, op, .. }) => {
            assert_eq!(name, "v0.1.0");
            assert_eq!(op, "create");
        }
        other => panic!("expected Tag error for an existing tag, got {other:?}"),
    }
    assert_eq!(
        Repo::open(fx.work().path()).unwrap().tags().unwrap().len(),
        4
    );
}

#[test]
fn open_reports_the_path() {
    let fx = Fixture::new();
    let missing = fx.root().join("nothing-here");
    match Repo::open(&missing) {
        Err(e @ Error::Open { .. }) => assert!(e.to_string().contains("nothing-here"), "{e}"),
        other => panic!("expected Open error, got {other:?}"),
    }
    let bare = Repo::open(fx.bare()).unwrap();
    assert_eq!(bare.path(), bare.git_dir());
}

/// Over smart HTTP (wants are honoured there; libgit2's local transport copies more
/// than it was asked for) and over a plain path.
#[test]
fn fetch_matching_lists_a_prefix_and_downloads_only_what_is_missing() {
    let (fx, c) = crate::pushed_history(3);
    let colleague = fx.clone_work("colleague");
    colleague.push(&[
        &format!("{}:refs/upkeep/rounds/r1/projects/a", c[0]),
        &format!("{}:refs/upkeep/rounds/r1/projects/b", c[1]),
        &format!("{}:refs/upkeep/rounds/r10/projects/c", c[2]),
    ]);
    let server =
        upkeep_testkit::git::HttpGitServer::start(fx.root(), upkeep_testkit::git::HttpAuth::None);
    let none = upkeep_git::Credentials::none();
    let wanted = |name: &str| name.starts_with("refs/upkeep/rounds/r1/");
    for (name, url) in [("http", server.url("remote.git")), ("path", fx.url())] {
        let dir = fx.root().join(format!("scratch-{name}.git"));
        let scratch = upkeep_git::Repo::open_or_init_bare(&dir).unwrap();
        let mut listed = scratch.fetch_matching(&url, &none, &wanted).unwrap();
        listed.sort();
        assert_eq!(
            listed,
            vec![
                ("refs/upkeep/rounds/r1/projects/a".to_owned(), c[0]),
                ("refs/upkeep/rounds/r1/projects/b".to_owned(), c[1]),
            ]
        );
        // Their commits (and history) arrived.
        assert!(scratch.has_object(c[0]) && scratch.has_object(c[1]));
        assert!(scratch.read_file_at(c[1], "history.txt").is_ok());
        if name == "http" {
            assert!(!scratch.has_object(c[2]), "only the wanted refs travel");
        }
        // The listed refs are set locally, and only those.
        let local: Vec<String> = scratch
            .git2()
            .references()
            .unwrap()
            .filter_map(|r| r.ok()?.name().ok().map(str::to_owned))
            .collect();
        assert_eq!(local.len(), 2, "{local:?}");

        // Nothing new: nothing to download, the same answer.
        let packs = || fs_err::read_dir(dir.join("objects/pack")).unwrap().count();
        let before = packs();
        let again = scratch.fetch_matching(&url, &none, &wanted).unwrap();
        assert_eq!(again.len(), 2);
        assert_eq!(packs(), before, "no download when everything is here");
    }

    let scratch = upkeep_git::Repo::open_or_init_bare(fx.root().join("s.git")).unwrap();
    let missing = fx.root().join("gone.git").display().to_string();
    assert!(matches!(
        scratch.fetch_matching(&missing, &none, &wanted),
        Err(upkeep_git::Error::LsRemote { .. })
    ));
}

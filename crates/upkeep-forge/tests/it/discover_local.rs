//! [`Discover`] on the local forge: a directory of bare repositories, their topics and
//! flags from git config, and files read at a branch.

use upkeep_forge::local::LocalForge;
use upkeep_forge::{Discover, ForgeError, ListScope, RepoId};
use upkeep_testkit::bare::BareRepo;
use upkeep_testkit::git::Clock;

fn set_config(bare: &BareRepo, key: &str, value: &str) {
    let repo = git2::Repository::open_bare(bare.path()).unwrap();
    repo.config().unwrap().set_str(key, value).unwrap();
}

#[tokio::test]
async fn a_directory_lists_its_bare_repositories_with_topics_and_flags() {
    let dir = tempfile::tempdir().unwrap();
    let repos = dir.path().join("repos");
    let clock = Clock::default();
    let api = BareRepo::init(repos.join("api.git"), clock.clone());
    api.commit_files("main", &[("Makefile", "upgrade:\n")], "initial");
    set_config(&api, "upkeep.topics", "upkeep, python  web");
    let old = BareRepo::init(repos.join("old.git"), clock.clone());
    old.commit_on("main", "initial");
    set_config(&old, "upkeep.archived", "true");
    let fork = BareRepo::init(repos.join("fork"), clock.clone());
    fork.commit_on("trunk", "initial");
    set_config(&fork, "upkeep.fork", "yes");
    BareRepo::init(repos.join("empty.git"), clock.clone());
    // Not repositories: a plain directory, a file, a broken `*.git`.
    fs_err::create_dir_all(repos.join("notes")).unwrap();
    fs_err::write(repos.join("README"), "hi").unwrap();
    fs_err::create_dir_all(repos.join("broken.git")).unwrap();

    let forge = LocalForge::new(dir.path().join("work"));
    let listing = forge
        .list_repos(&ListScope::Directory {
            path: repos.clone(),
        })
        .await
        .unwrap();
    let names: Vec<_> = listing.repos.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["api", "empty", "fork", "old"]);
    let by = |n: &str| listing.repos.iter().find(|r| r.name == n).unwrap();
    assert_eq!(by("api").topics, ["upkeep", "python", "web"]);
    assert_eq!(by("api").default_branch.as_deref(), Some("main"));
    assert_eq!(
        by("api").id,
        RepoId::new(repos.join("api.git").display().to_string())
    );
    assert!(!by("api").archived && !by("api").fork && !by("api").empty);
    assert!(by("old").archived);
    assert!(by("fork").fork);
    // HEAD names `main`, which the fork lacks: no default branch to offer.
    assert_eq!(by("fork").default_branch, None);
    assert!(by("empty").empty);
    assert_eq!(listing.warnings.len(), 1, "{:?}", listing.warnings);
    assert!(listing.warnings[0].contains("broken.git"));

    let makefile = forge
        .read_file(&by("api").id, "main", "Makefile")
        .await
        .unwrap();
    assert_eq!(makefile.as_deref(), Some(&b"upgrade:\n"[..]));
    let none = forge
        .read_file(&by("api").id, "main", ".upkeep.toml")
        .await
        .unwrap();
    assert_eq!(none, None);
    let err = forge
        .read_file(&by("api").id, "nope", "Makefile")
        .await
        .unwrap_err();
    assert!(matches!(err, ForgeError::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn a_missing_directory_or_a_foreign_scope_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let forge = LocalForge::new(dir.path().join("work"));
    let err = forge
        .list_repos(&ListScope::Directory {
            path: dir.path().join("nope"),
        })
        .await
        .unwrap_err();
    assert!(matches!(err, ForgeError::NotFound { .. }), "{err:?}");
    let err = forge
        .list_repos(&ListScope::GitHubOrg { org: "acme".into() })
        .await
        .unwrap_err();
    assert!(matches!(err, ForgeError::Setup { .. }), "{err:?}");
}

//! [`Discover`] on GitLab against `FakeGitLab`: a group with subgroups holding more than a
//! hundred projects (several pages), topics, archived projects, forks and empty ones.

use secrecy::SecretString;
use upkeep_forge::gitlab::{GitLab, GitLabOptions};
use upkeep_forge::retry::RetryPolicy;
use upkeep_forge::{Discover, ForgeError, ListScope, RepoId};
use upkeep_testkit::gitlab::{FakeGitLab, TOKEN};

async fn connect(fake: &FakeGitLab, work: &tempfile::TempDir) -> GitLab {
    GitLab::connect(
        GitLabOptions::new(
            fake.base_url(),
            SecretString::from(TOKEN.to_owned()),
            work.path(),
        )
        .with_retry(RetryPolicy::fast()),
    )
    .await
    .unwrap()
}

fn group(group: &str, subgroups: bool) -> ListScope {
    ListScope::GitLabGroup {
        group: group.to_owned(),
        subgroups,
    }
}

#[tokio::test]
async fn a_group_with_subgroups_lists_every_page_with_topics_and_flags() {
    upkeep_testkit::install_crypto_provider();
    let fake = FakeGitLab::start().await;
    // 95 projects directly in `team`, 30 in `team/data`, 3 in `team/data/etl`, and one
    // elsewhere: 128 in the group with its subgroups, three pages of 100.
    for i in 0..95 {
        fake.create_project(&format!("team/svc-{i:03}"));
    }
    for i in 0..30 {
        fake.create_project(&format!("team/data/job-{i:02}"));
    }
    for name in ["load", "clean", "ship"] {
        fake.create_project(&format!("team/data/etl/{name}"));
    }
    fake.create_project("other/outside");
    fake.set_topics("team/svc-007", &["upkeep", "python"]);
    fake.set_topics("team/data/etl/load", &["upkeep"]);
    fake.set_archived("team/svc-010", true);
    fake.set_forked_from("team/svc-011", "other/outside");
    fake.create_empty_project("team/data/etl/fresh");
    fake.commit("team/svc-007", "main", "a change");
    let work = tempfile::tempdir().unwrap();
    let gitlab = connect(&fake, &work).await;

    let listing = gitlab.list_repos(&group("team", true)).await.unwrap();
    assert_eq!(listing.repos.len(), 129);
    assert_eq!(listing.pages, 2, "100 per page");
    assert!(listing.repos.iter().all(|r| r.path.starts_with("team/")));
    let by = |p: &str| listing.repos.iter().find(|r| r.path == p).unwrap();
    let svc = by("team/svc-007");
    assert_eq!(svc.name, "svc-007");
    assert_eq!(svc.id, RepoId::new("team/svc-007"));
    assert_eq!(svc.topics, ["upkeep", "python"]);
    assert_eq!(svc.default_branch.as_deref(), Some("main"));
    assert!(!svc.archived && !svc.fork && !svc.empty);
    assert_eq!(by("team/data/etl/load").topics, ["upkeep"]);
    assert!(by("team/svc-010").archived);
    assert!(by("team/svc-011").fork);
    let fresh = by("team/data/etl/fresh");
    assert!(fresh.empty);
    assert_eq!(fresh.default_branch, None);

    // Without subgroups: the group's own projects only.
    let own = gitlab.list_repos(&group("team/data", false)).await.unwrap();
    assert_eq!(own.repos.len(), 30);
    assert_eq!(own.pages, 1);

    // A file at a branch, without a clone of the caller's.
    let readme = gitlab
        .read_file(&RepoId::new("team/svc-007"), "main", "Makefile")
        .await
        .unwrap();
    assert_eq!(readme, None);
}

#[tokio::test]
async fn an_unknown_group_or_a_token_without_read_api_is_an_error_naming_it() {
    upkeep_testkit::install_crypto_provider();
    let fake = FakeGitLab::start().await;
    fake.create_project("team/api");
    let work = tempfile::tempdir().unwrap();
    let gitlab = connect(&fake, &work).await;
    let err = gitlab.list_repos(&group("nobody", true)).await.unwrap_err();
    assert!(matches!(err, ForgeError::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("group nobody"), "{err}");

    fake.set_scopes(&["read_repository"]);
    let err = gitlab.list_repos(&group("team", true)).await.unwrap_err();
    let ForgeError::Forbidden { missing_scope, .. } = &err else {
        panic!("{err:?}");
    };
    assert!(missing_scope.is_some(), "{err}");
    assert!(err.to_string().contains("scope"), "{err}");

    let err = gitlab
        .list_repos(&ListScope::GitHubOrg { org: "acme".into() })
        .await
        .unwrap_err();
    assert!(matches!(err, ForgeError::Setup { .. }), "{err:?}");
}

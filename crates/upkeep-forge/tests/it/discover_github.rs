//! [`Discover`] on GitHub against `FakeGitHub`: an organisation holding more than a
//! hundred repositories (several pages followed through `Link`), topics, archived
//! repositories, forks and empty ones; a user's; unknown accounts and missing scopes.

use secrecy::SecretString;
use upkeep_forge::github::GitHub;
use upkeep_forge::retry::RetryPolicy;
use upkeep_forge::{Discover, ForgeError, ListScope, RepoId};
use upkeep_testkit::faults::{Endpoint, Fault};
use upkeep_testkit::github::{FakeGitHub, RepoMeta};

const TOKEN: &str = "ghp_fakeTOKEN0123456789secretvalue";

fn client(fake: &FakeGitHub) -> GitHub {
    GitHub::new(
        &fake.url(),
        SecretString::from(TOKEN.to_owned()),
        RetryPolicy::fast(),
    )
    .unwrap()
}

fn org(org: &str) -> ListScope {
    ListScope::GitHubOrg {
        org: org.to_owned(),
    }
}

fn user(user: &str) -> ListScope {
    ListScope::GitHubUser {
        user: user.to_owned(),
    }
}

#[tokio::test]
async fn an_organisation_lists_every_page_with_topics_and_flags() {
    upkeep_testkit::install_crypto_provider();
    let fake = FakeGitHub::start().await;
    fake.require_token(TOKEN);
    // 230 repositories in `acme`, one elsewhere: three pages of 100.
    for i in 0..226 {
        fake.create_repo(&format!("acme/svc-{i:03}"));
    }
    fake.create_listed_repo(
        "acme/tagged",
        RepoMeta {
            topics: vec!["upkeep".into(), "python".into()],
            ..RepoMeta::default()
        },
    );
    fake.create_listed_repo(
        "acme/old",
        RepoMeta {
            archived: true,
            ..RepoMeta::default()
        },
    );
    fake.create_listed_repo(
        "acme/forked",
        RepoMeta {
            fork: true,
            private: false,
            ..RepoMeta::default()
        },
    );
    fake.create_listed_repo(
        "acme/fresh",
        RepoMeta {
            empty: true,
            ..RepoMeta::default()
        },
    );
    fake.create_repo("other/outside");
    let github = client(&fake);

    let listing = github.list_repos(&org("acme")).await.unwrap();
    assert_eq!(listing.repos.len(), 230);
    assert_eq!(listing.pages, 3, "100 per page");
    let log = fake.faults().log();
    assert_eq!(log.count(&Endpoint::get("/orgs/{org}/repos")), 1);
    assert_eq!(
        log.count(&Endpoint::get("/organizations/{id}/repos")),
        2,
        "the next pages come from the Link header, as GitHub points them"
    );
    let mut paths: Vec<&str> = listing.repos.iter().map(|r| r.path.as_str()).collect();
    paths.sort_unstable();
    paths.dedup();
    assert_eq!(paths.len(), 230, "no repository twice");
    assert!(paths.iter().all(|p| p.starts_with("acme/")));
    let by = |p: &str| listing.repos.iter().find(|r| r.path == p).unwrap();
    let tagged = by("acme/tagged");
    assert_eq!(tagged.name, "tagged");
    assert_eq!(tagged.id, RepoId::new("acme/tagged"));
    assert_eq!(tagged.topics, ["upkeep", "python"]);
    assert_eq!(tagged.default_branch.as_deref(), Some("main"));
    assert_eq!(tagged.clone_url, format!("{}/acme/tagged.git", fake.url()));
    assert!(!tagged.archived && !tagged.fork && !tagged.empty);
    assert!(by("acme/old").archived);
    assert!(by("acme/forked").fork);
    let fresh = by("acme/fresh");
    assert!(fresh.empty);
    assert_eq!(fresh.default_branch, None);
    assert!(by("acme/svc-000").topics.is_empty());
    assert!(listing.warnings.is_empty(), "{:?}", listing.warnings);
}

#[tokio::test]
async fn a_file_is_read_at_a_branch_and_a_missing_one_is_none() {
    upkeep_testkit::install_crypto_provider();
    let fake = FakeGitHub::start().await;
    fake.create_repo("acme/api");
    let makefile = "upgrade:\n\ttrue\nbuild:\n\ttrue\ntest:\n\ttrue\n";
    fake.bare("acme/api")
        .commit_file("main", "Makefile", makefile, "make targets");
    let github = client(&fake);
    let repo = RepoId::new("acme/api");

    let read = github.read_file(&repo, "main", "Makefile").await.unwrap();
    assert_eq!(read.as_deref(), Some(makefile.as_bytes()));
    assert_eq!(
        github
            .read_file(&repo, "main", ".upkeep.toml")
            .await
            .unwrap(),
        None
    );
    let err = github
        .read_file(&repo, "nope", "Makefile")
        .await
        .unwrap_err();
    assert!(matches!(err, ForgeError::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("branch nope"), "{err}");
}

#[tokio::test]
async fn a_user_lists_its_own_private_repositories_and_others_public_ones() {
    upkeep_testkit::install_crypto_provider();
    let fake = FakeGitHub::start().await;
    let me = fake.login();
    let mine = RepoMeta {
        user_owned: true,
        ..RepoMeta::default()
    };
    fake.create_listed_repo(&format!("{me}/private-tool"), mine.clone());
    fake.create_listed_repo(
        &format!("{me}/public-tool"),
        RepoMeta {
            private: false,
            ..mine.clone()
        },
    );
    fake.create_listed_repo("someone/secret", mine.clone());
    fake.create_listed_repo(
        "someone/shared",
        RepoMeta {
            private: false,
            topics: vec!["upkeep".into()],
            ..mine
        },
    );
    let github = client(&fake);

    let own = github.list_repos(&user(&me)).await.unwrap();
    let mut names: Vec<&str> = own.repos.iter().map(|r| r.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["private-tool", "public-tool"]);
    assert!(own.warnings.is_empty(), "{:?}", own.warnings);

    let other = github.list_repos(&user("someone")).await.unwrap();
    let names: Vec<&str> = other.repos.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        ["shared"],
        "private repositories of others are not listed"
    );
    assert_eq!(other.repos[0].topics, ["upkeep"]);
    assert_eq!(other.warnings.len(), 1);
    assert!(other.warnings[0].contains("public"), "{:?}", other.warnings);
}

#[tokio::test]
async fn an_unknown_account_or_a_token_without_scope_is_an_error_naming_it() {
    upkeep_testkit::install_crypto_provider();
    let fake = FakeGitHub::start().await;
    fake.create_repo("acme/api");
    let github = client(&fake);

    let err = github.list_repos(&org("nobody")).await.unwrap_err();
    assert!(matches!(err, ForgeError::NotFound { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("organisation nobody"), "{text}");
    assert!(text.contains("`repo` scope"), "{text}");
    let err = github.list_repos(&user("nobody")).await.unwrap_err();
    assert!(matches!(err, ForgeError::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("user nobody"), "{err}");

    // A fine-grained token without access to the organisation: a 403 with no scope headers.
    fake.faults().script(
        Endpoint::get("/orgs/{org}/repos"),
        1,
        Fault::Respond {
            status: 403,
            headers: Vec::new(),
            body: r#"{"message":"Resource not accessible by personal access token","documentation_url":"https://docs.github.com/rest/repos/repos#list-organization-repositories","status":"403"}"#.into(),
        },
    );
    let err = github.list_repos(&org("acme")).await.unwrap_err();
    let ForgeError::Forbidden { missing_scope, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(missing_scope.as_deref(), Some("repo"));
    let text = err.to_string();
    assert!(text.contains("Metadata"), "{text}");

    let err = github
        .list_repos(&ListScope::GitLabGroup {
            group: "team".into(),
            subgroups: true,
        })
        .await
        .unwrap_err();
    assert!(matches!(err, ForgeError::Setup { .. }), "{err:?}");
}

//! A promotion's requests: the plan's reads in one request, the move in one, on the fake
//! GitHub; a refused compare-and-swap still says who moved the branch.

use secrecy::SecretString;
use upkeep_forge::github::GitHub;
use upkeep_forge::retry::RetryPolicy;
use upkeep_forge::{Forge, ForgeError, RepoId};
use upkeep_testkit::faults::Endpoint;
use upkeep_testkit::github::{FakeGitHub, Role};

use crate::behaviour::forward;

const REPO: &str = "packit/ogr";

async fn github() -> (FakeGitHub, GitHub) {
    upkeep_testkit::install_crypto_provider();
    let fake = FakeGitHub::start().await;
    fake.create_repo(REPO);
    let forge = GitHub::new(
        &fake.url(),
        SecretString::from("ghp_fakeTOKEN0123456789secretvalue".to_owned()),
        RetryPolicy::fast(),
    )
    .unwrap();
    (fake, forge)
}

fn repo() -> RepoId {
    RepoId::new(REPO)
}

#[tokio::test]
async fn github_reads_both_tips_and_the_comparison_in_one_request_and_moves_in_one() {
    let (fake, forge) = github().await;
    let old = fake.commit(REPO, "main", "Initial commit");
    fake.set_branch(REPO, "stable", &old);
    fake.commit(REPO, "main", "fix: one (#1)");
    let new = fake.commit(REPO, "main", "feat: two (#2)");
    fake.faults().reset_log();

    let reads = forge
        .promotion_reads(&repo(), "main", "stable")
        .await
        .unwrap();
    assert_eq!(fake.faults().log().total(), 1, "one GraphQL query");
    assert_eq!(reads.source_tip.as_deref(), Some(new.as_str()));
    assert_eq!(reads.target_tip.as_deref(), Some(old.as_str()));
    let read = reads.comparison.expect("compared in the same query");
    let rest = forge.compare(&repo(), &old, &new).await.unwrap();
    assert_eq!((read.ahead_by, read.behind_by), (2, 0));
    assert_eq!(
        read.commits, rest.commits,
        "same commits, newest first, as REST"
    );

    fake.faults().reset_log();
    forge
        .move_branch(&repo(), &forward(old, new.clone()))
        .await
        .unwrap();
    assert_eq!(fake.faults().log().total(), 1, "the mutation only");
    assert_eq!(fake.branch_tip(REPO, "stable"), Some(new));
}

#[tokio::test]
async fn github_reads_say_which_branch_or_repository_is_missing() {
    let (fake, forge) = github().await;
    let tip = fake.commit(REPO, "main", "Initial commit");
    let reads = forge
        .promotion_reads(&repo(), "main", "stable")
        .await
        .unwrap();
    assert_eq!(reads.source_tip, Some(tip));
    assert_eq!(reads.target_tip, None);
    assert_eq!(reads.comparison, None);
    let err = forge
        .promotion_reads(&RepoId::new("packit/nope"), "main", "stable")
        .await
        .unwrap_err();
    assert!(matches!(err, ForgeError::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn github_move_refused_because_someone_moved_the_branch_names_where_it_is() {
    let (fake, forge) = github().await;
    let old = fake.commit(REPO, "main", "Initial commit");
    fake.set_branch(REPO, "stable", &old);
    let new = fake.commit(REPO, "main", "fix: one");
    let reads = forge
        .promotion_reads(&repo(), "main", "stable")
        .await
        .unwrap();
    // Someone moves `stable` between the plan and the move.
    let theirs = fake.commit(REPO, "hotfix", "hotfix");
    fake.set_branch(REPO, "stable", &theirs);
    fake.faults().reset_log();
    let err = forge
        .move_branch(&repo(), &forward(reads.target_tip.unwrap(), new))
        .await
        .unwrap_err();
    match err {
        ForgeError::BranchMoved { actual, .. } => assert_eq!(actual, Some(theirs.clone())),
        other => panic!("expected BranchMoved, got {other:?}"),
    }
    let log = fake.faults().log();
    assert_eq!(
        log.count(&Endpoint::post("/graphql")),
        1,
        "refused mutation"
    );
    assert_eq!(log.total(), 2, "then one read to say where the branch is");
    assert_eq!(fake.branch_tip(REPO, "stable"), Some(theirs));
}

#[tokio::test]
async fn github_move_that_is_not_a_fast_forward_is_refused_by_the_mutation() {
    let (fake, forge) = github().await;
    let base = fake.commit(REPO, "main", "Initial commit");
    fake.set_branch(REPO, "stable", &base);
    let ahead = fake.commit(REPO, "stable", "only on stable");
    let main = fake.commit(REPO, "main", "only on main");
    let err = forge
        .move_branch(&repo(), &forward(ahead.clone(), main))
        .await
        .unwrap_err();
    assert!(matches!(err, ForgeError::NotFastForward { .. }), "{err:?}");
    assert_eq!(fake.branch_tip(REPO, "stable"), Some(ahead));
}

/// The fake checks a query against GitHub's schema before running it, as GitHub does:
/// a query GitHub would refuse never works on the fake.
#[tokio::test]
async fn the_fake_refuses_queries_github_refuses_with_githubs_errors() {
    let (fake, _) = github().await;
    fake.commit(REPO, "main", "Initial commit");
    let client = octocrab::Octocrab::builder()
        .base_uri(fake.url())
        .unwrap()
        .personal_token("ghp_fakeTOKEN0123456789secretvalue".to_owned())
        .build()
        .unwrap();
    let post = |query: &str| {
        let client = client.clone();
        let body = serde_json::json!({ "query": query });
        async move {
            client
                .post::<_, serde_json::Value>("/graphql", Some(&body))
                .await
                .unwrap()
        }
    };
    let refused =
        post(r#"{ repository(owner: "packit", name: "ogr") { id nope ref { name } } }"#).await;
    assert_eq!(refused.get("data"), None, "nothing runs: {refused}");
    let messages: Vec<&str> = refused["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        messages,
        [
            "Field 'nope' doesn't exist on type 'Repository'",
            "Field 'ref' is missing required arguments: qualifiedName",
        ]
    );
    assert_eq!(refused["errors"][0]["extensions"]["code"], "undefinedField");

    let scalar = post(r#"{ repository(owner: "packit", name: "ogr") { id { x } } }"#).await;
    assert_eq!(
        scalar["errors"][0]["extensions"]["code"], "selectionMismatch",
        "{scalar}"
    );

    let unpaged = post(
        r#"{ repository(owner: "packit", name: "ogr") { ref(qualifiedName: "refs/heads/main") { compare(headRef: "main") { commits { nodes { oid } } } } } }"#,
    )
    .await;
    assert_eq!(
        unpaged["errors"][0]["message"],
        "You must provide a `first` or `last` value to properly paginate the `commits` connection."
    );

    let missing = post(r#"{ repository(owner: "packit", name: "nope") { id } }"#).await;
    assert_eq!(missing["data"]["repository"], serde_json::Value::Null);
    assert_eq!(missing["errors"][0]["type"], "NOT_FOUND");

    // A union's members are reached only through fragments of its possible types.
    let union = post(
        r#"{ repository(owner: "packit", name: "ogr") { object(expression: "main") { ... on Commit { statusCheckRollup { contexts(first: 5) { nodes { name } } } } } } }"#,
    )
    .await;
    assert_eq!(
        union["errors"][0]["message"],
        "Field 'name' doesn't exist on type 'StatusCheckRollupContext'",
        "{union}"
    );
    let impossible =
        post(r#"{ repository(owner: "packit", name: "ogr") { ... on Commit { oid } } }"#).await;
    assert_eq!(
        impossible["errors"][0]["extensions"]["code"], "fragmentSpreadImpossible",
        "{impossible}"
    );
}

/// The plan's one query also says whether the token's user may move the target, from the
/// role (`viewerPermission`) and GitHub's own verdict on the rule (`viewerCanPush`); only
/// a rule that stops an administrator is left to the REST reads, which say why.
#[tokio::test]
async fn github_reads_say_whether_the_target_may_be_moved_in_the_same_request() {
    let (fake, forge) = github().await;
    let old = fake.commit(REPO, "main", "Initial commit");
    fake.set_branch(REPO, "stable", &old);
    fake.commit(REPO, "main", "fix: one (#1)");
    let reads = async |fake: &FakeGitHub| {
        fake.faults().reset_log();
        let access = forge
            .promotion_reads(&repo(), "main", "stable")
            .await
            .unwrap()
            .target_access;
        (access, fake.faults().log().total())
    };

    fake.set_role(REPO, Role::Write);
    let (access, requests) = reads(&fake).await;
    let access = access.expect("answered by the query");
    assert_eq!(
        (access.protected, access.can_update),
        (Some(false), Some(true))
    );
    assert_eq!(requests, 1);

    fake.set_role(REPO, Role::Read);
    let access = reads(&fake).await.0.expect("answered by the query");
    assert!(access.is_refused(), "{access:?}");
    assert!(access.fix.unwrap().contains("write access"));

    // Only someone else may push: refused for a Write user, whom GitHub does not show
    // the rule's lists.
    let rule = serde_json::json!({
        "required_status_checks": {"strict": true, "contexts": ["ci"]},
        "enforce_admins": false,
        "required_pull_request_reviews": null,
        "restrictions": {"users": ["someone"], "teams": []},
    });
    fake.protect_branch(REPO, "stable", &rule);
    fake.set_role(REPO, Role::Write);
    let (access, requests) = reads(&fake).await;
    let access = access.expect("answered by the query");
    assert_eq!(
        (access.protected, access.can_update),
        (Some(true), Some(false))
    );
    assert!(access.fix.unwrap().contains("the Admin role"));
    assert_eq!(requests, 1);

    // An administrator bypasses a rule that does not include administrators.
    fake.set_role(REPO, Role::Admin);
    let access = reads(&fake).await.0.expect("answered by the query");
    assert_eq!(
        (access.protected, access.can_update),
        (Some(true), Some(true))
    );
    assert!(access.detail.contains("status checks: ci"), "{access:?}");

    // A rule that binds administrators too: the REST reads of the rule say what is missing.
    let mut binding = rule.clone();
    binding["enforce_admins"] = serde_json::json!(true);
    fake.protect_branch(REPO, "stable", &binding);
    assert_eq!(reads(&fake).await.0, None);
    let access = forge.branch_access(&repo(), "stable").await.unwrap();
    assert!(access.is_refused(), "{access:?}");
}

//! The GitHub adapter against the fake GitHub: the behaviour suite, then GitHub's quirks,
//! errors, retries, request budgets and token hygiene.

use std::sync::Arc;

use async_trait::async_trait;
use secrecy::SecretString;
use upkeep_forge::github::GitHub;
use upkeep_forge::retry::RetryPolicy;
use upkeep_forge::{
    BranchMove, ChangeRequestSpec, CheckSource, Forge, ForgeError, PersonRole, RepoId,
    UpsertAction, Verdict,
};
use upkeep_testkit::faults::{Endpoint, Fault};
use upkeep_testkit::github::{FakeGitHub, Layout, Role, UpdateRefs};

use crate::behaviour::{Harness, ProtectingHarness, Review, Signal, forward};

const REPO: &str = "acme/api";
const TOKEN: &str = "ghp_fakeTOKEN0123456789secretvalue";

struct GitHubHarness {
    fake: FakeGitHub,
    forge: Arc<GitHub>,
}

/// Every request the adapter sent in the case is one GitHub documents (see
/// `github_contract`).
impl Drop for GitHubHarness {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let problems = crate::github_contract::undocumented(&self.fake.faults().log().records);
        assert!(
            problems.is_empty(),
            "undocumented requests:\n{}",
            problems.join("\n")
        );
    }
}

fn client(fake: &FakeGitHub, token: &str) -> GitHub {
    GitHub::new(
        &fake.url(),
        SecretString::from(token.to_owned()),
        RetryPolicy::fast(),
    )
    .unwrap()
}

async fn harness() -> GitHubHarness {
    harness_with(Layout::GitHubCom).await
}

async fn harness_with(layout: Layout) -> GitHubHarness {
    upkeep_testkit::init_tracing();
    let fake = FakeGitHub::start_with(layout).await;
    fake.create_repo(REPO);
    fake.require_token(TOKEN);
    let forge = Arc::new(client(&fake, TOKEN));
    GitHubHarness { fake, forge }
}

#[async_trait]
impl Harness for GitHubHarness {
    fn forge(&self) -> Arc<dyn Forge> {
        self.forge.clone()
    }

    fn repo(&self) -> RepoId {
        RepoId::new(REPO)
    }

    async fn commit_on(&self, branch: &str, message: &str) -> String {
        self.fake.commit(REPO, branch, message)
    }

    async fn set_branch(&self, branch: &str, sha: &str) {
        self.fake.set_branch(REPO, branch, sha);
    }

    /// `build` is a commit status, every other name a check run, so the suite's CI case
    /// exercises both GitHub sources and their merge.
    async fn set_ci(&self, sha: &str, name: &str, signal: Signal) {
        if name == "build" {
            let state = match signal {
                Signal::Success => "success",
                Signal::Failure => "failure",
                Signal::Pending => "pending",
            };
            self.fake.add_status(REPO, sha, name, state);
        } else {
            let (status, conclusion) = match signal {
                Signal::Success => ("completed", Some("success")),
                Signal::Failure => ("completed", Some("failure")),
                Signal::Pending => ("in_progress", None),
            };
            self.fake.add_check_run(REPO, sha, name, status, conclusion);
        }
    }

    async fn review(&self, number: u64, user: &str, review: Review) {
        let state = match review {
            Review::Approve => "APPROVED",
            Review::RequestChanges => "CHANGES_REQUESTED",
        };
        self.fake.add_review(REPO, number, user, state);
    }

    async fn merge(&self, number: u64) {
        self.fake.merge_pull(REPO, number);
    }

    async fn close(&self, number: u64) {
        self.fake.close_pull(REPO, number);
    }
}

crate::behaviour::behaviour_suite!(harness);

/// GitHub's classic protection rules: pull requests required (administrators bypass them
/// unless the rule includes them), force pushes blocked unless allowed.
#[async_trait]
impl ProtectingHarness for GitHubHarness {
    async fn protect(&self, branch: &str, allow_rewrites: bool) {
        self.fake.protect_branch(
            REPO,
            branch,
            &serde_json::json!({
                "required_status_checks": null,
                "enforce_admins": false,
                "required_pull_request_reviews": {"required_approving_review_count": 1},
                "restrictions": null,
                "allow_force_pushes": allow_rewrites,
            }),
        );
    }

    async fn set_bypass(&self, bypass: bool) {
        self.fake
            .set_role(REPO, if bypass { Role::Admin } else { Role::Write });
    }
}

crate::behaviour::protection_suite!(harness);

/// The same suite against GitHub Enterprise Server's layout: REST under `/api/v3`,
/// GraphQL at `/api/graphql` (not `/api/v3/graphql`).
mod enterprise {
    async fn harness() -> super::GitHubHarness {
        super::harness_with(super::Layout::Enterprise).await
    }

    crate::behaviour::behaviour_suite!(harness);
    crate::behaviour::protection_suite!(harness);

    /// The plan's one query goes where GraphQL is served, not under `/api/v3`.
    #[tokio::test]
    async fn promotion_reads_are_one_query_at_the_graphql_endpoint() {
        use upkeep_forge::Forge as _;
        let h = harness().await;
        let old = h.fake.commit(super::REPO, "main", "one");
        h.fake.set_branch(super::REPO, "stable", &old);
        let new = h.fake.commit(super::REPO, "main", "two");
        h.fake.faults().reset_log();
        let reads = h
            .forge
            .promotion_reads(&super::repo(), "main", "stable")
            .await
            .unwrap();
        assert_eq!(reads.source_tip.as_deref(), Some(new.as_str()));
        assert_eq!(reads.target_tip.as_deref(), Some(old.as_str()));
        assert_eq!(reads.comparison.map(|c| c.ahead_by), Some(1));
        assert_eq!(h.fake.faults().log().total(), 1, "one GraphQL query");
    }
}

fn repo() -> RepoId {
    RepoId::new(REPO)
}

fn spec(head: &str) -> ChangeRequestSpec {
    ChangeRequestSpec {
        head: head.into(),
        base: "main".into(),
        title: "Maintenance".into(),
        body: "deps".into(),
        labels: vec!["maintenance".into()],
        reviewers: vec!["alice".into()],
        assignees: vec!["bob".into()],
        draft: false,
    }
}

#[tokio::test]
async fn combined_status_pending_without_statuses_is_missing() {
    let h = harness().await;
    let sha = h.fake.commit(REPO, "main", "no ci");
    // The fake, like GitHub, says "pending" for a commit without any status.
    let verdict = h.forge.ci_verdict(&repo(), &sha).await.unwrap();
    assert_eq!(verdict.verdict, Verdict::Missing);
    assert!(verdict.checks.is_empty());
}

#[tokio::test]
async fn statuses_and_check_runs_are_merged() {
    let h = harness().await;
    let sha = h.fake.commit(REPO, "main", "ci");
    h.fake.add_status(REPO, &sha, "ci/jenkins", "success");
    h.fake
        .add_check_run(REPO, &sha, "lint", "completed", Some("success"));
    h.fake
        .add_check_run(REPO, &sha, "docs", "completed", Some("skipped"));
    let verdict = h.forge.ci_verdict(&repo(), &sha).await.unwrap();
    assert_eq!(verdict.verdict, Verdict::Success);
    let jenkins = verdict
        .checks
        .iter()
        .find(|c| c.name == "ci/jenkins")
        .unwrap();
    assert_eq!(jenkins.source, CheckSource::CommitStatus);
    assert!(jenkins.url.is_some());
    let lint = verdict.checks.iter().find(|c| c.name == "lint").unwrap();
    assert_eq!(lint.source, CheckSource::CheckRun);
    assert_eq!(verdict.checks.len(), 3);

    // A re-run of lint that fails wins over the earlier success.
    h.fake
        .add_check_run(REPO, &sha, "lint", "completed", Some("timed_out"));
    let verdict = h.forge.ci_verdict(&repo(), &sha).await.unwrap();
    assert_eq!(verdict.verdict, Verdict::Failure);

    // Check runs alone (no statuses: combined "pending") still decide.
    let only_checks = h.fake.commit(REPO, "main", "checks only");
    h.fake
        .add_check_run(REPO, &only_checks, "test", "completed", Some("success"));
    let verdict = h.forge.ci_verdict(&repo(), &only_checks).await.unwrap();
    assert_eq!(verdict.verdict, Verdict::Success);
}

#[tokio::test]
async fn upsert_sets_labels_assignees_reviewers_and_draft() {
    let h = harness().await;
    h.fake.commit(REPO, "feature/x", "change");
    let mut wanted = spec("feature/x");
    wanted.draft = true;
    let created = h
        .forge
        .upsert_change_request(&repo(), &wanted)
        .await
        .unwrap();
    assert_eq!(created.action, UpsertAction::Created);
    let pulls = h.fake.pulls(REPO);
    assert_eq!(pulls.len(), 1);
    let pull = &pulls[0];
    assert!(pull.draft);
    assert_eq!(pull.labels, vec!["maintenance".to_owned()]);
    assert_eq!(pull.assignees, vec!["bob".to_owned()]);
    assert_eq!(pull.requested_reviewers, vec!["alice".to_owned()]);
    assert_eq!(pull.head, "feature/x");
}

#[tokio::test]
async fn labels_added_by_people_are_kept() {
    let h = harness().await;
    h.fake.commit(REPO, "feature/x", "change");
    h.forge
        .upsert_change_request(&repo(), &spec("feature/x"))
        .await
        .unwrap();
    // Someone adds a label by hand; the next round changes the title.
    let number = h.fake.pulls(REPO)[0].number;
    let forge_labels = h
        .forge
        .change_request(&repo(), number)
        .await
        .unwrap()
        .labels;
    assert_eq!(forge_labels, vec!["maintenance".to_owned()]);
    h.fake.add_issue_labels(REPO, number, &["do-not-merge"]);
    let mut next = spec("feature/x");
    next.title = "Maintenance, again".into();
    let updated = h.forge.upsert_change_request(&repo(), &next).await.unwrap();
    assert_eq!(updated.action, UpsertAction::Updated);
    let pull = &h.fake.pulls(REPO)[0];
    assert_eq!(pull.title, "Maintenance, again");
    assert!(pull.labels.contains(&"do-not-merge".to_owned()));
    assert!(pull.labels.contains(&"maintenance".to_owned()));
}

#[tokio::test]
async fn upsert_of_an_existing_pull_request_stays_within_budget() {
    let h = harness().await;
    h.fake.commit(REPO, "feature/x", "change");
    h.forge
        .upsert_change_request(&repo(), &spec("feature/x"))
        .await
        .unwrap();

    h.fake.faults().reset_log();
    let same = h
        .forge
        .upsert_change_request(&repo(), &spec("feature/x"))
        .await
        .unwrap();
    assert_eq!(same.action, UpsertAction::Unchanged);
    assert!(
        h.fake.faults().log().total() <= 2,
        "{:?}",
        h.fake.faults().log()
    );

    h.fake.faults().reset_log();
    let mut changed = spec("feature/x");
    changed.body = "new body".into();
    changed.labels.push("deps".into());
    let updated = h
        .forge
        .upsert_change_request(&repo(), &changed)
        .await
        .unwrap();
    assert_eq!(updated.action, UpsertAction::Updated);
    let log = h.fake.faults().log();
    assert!(log.total() <= 3, "{log:?}");
    assert_eq!(
        log.count(&Endpoint::post("/repos/{owner}/{repo}/pulls")),
        0,
        "an update never opens a second pull request"
    );
    assert_eq!(h.fake.pulls(REPO).len(), 1);
}

#[tokio::test]
async fn ci_verdict_costs_one_request_per_hundred_signals() {
    let h = harness().await;
    let sha = h.fake.commit(REPO, "main", "x");
    h.fake.add_status(REPO, &sha, "ci/jenkins", "success");
    h.fake
        .add_check_run(REPO, &sha, "lint", "completed", Some("success"));
    h.fake.faults().reset_log();
    let verdict = h.forge.ci_verdict(&repo(), &sha).await.unwrap();
    assert_eq!(verdict.verdict, Verdict::Success);
    assert_eq!(h.fake.faults().log().total(), 1);

    // 150 statuses and 10 check runs: the rollup's contexts come in pages of 100, and a
    // failure on the second page still decides.
    let many = h.fake.commit(REPO, "main", "many");
    for i in 0..150 {
        h.fake
            .add_status(REPO, &many, &format!("ci/{i}"), "success");
    }
    for i in 0..9 {
        h.fake.add_check_run(
            REPO,
            &many,
            &format!("run-{i}"),
            "completed",
            Some("success"),
        );
    }
    h.fake
        .add_check_run(REPO, &many, "last", "completed", Some("failure"));
    h.fake.faults().reset_log();
    let verdict = h.forge.ci_verdict(&repo(), &many).await.unwrap();
    assert_eq!(h.fake.faults().log().total(), 2);
    assert_eq!(verdict.checks.len(), 160);
    assert_eq!(verdict.verdict, Verdict::Failure);
}

#[tokio::test]
async fn ci_verdict_of_an_unknown_commit_is_not_found() {
    let h = harness().await;
    let err = h
        .forge
        .ci_verdict(&repo(), &"0".repeat(40))
        .await
        .unwrap_err();
    assert!(matches!(err, ForgeError::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn validation_errors_carry_githubs_errors_list() {
    let h = harness().await;
    // No commits between main and the head: GitHub answers 422 with an errors list.
    let tip = h.fake.branch_tip(REPO, "main").unwrap();
    h.fake.set_branch(REPO, "empty", &tip);
    let err = h
        .forge
        .upsert_change_request(&repo(), &spec("empty"))
        .await
        .unwrap_err();
    match &err {
        ForgeError::Validation {
            message, errors, ..
        } => {
            assert_eq!(message, "Validation Failed");
            assert_eq!(
                errors,
                &vec!["No commits between main and empty".to_owned()]
            );
        }
        other => panic!("expected Validation, got {other:?}"),
    }
    assert!(
        err.to_string()
            .contains("No commits between main and empty")
    );
}

#[tokio::test]
async fn a_429_with_retry_after_is_retried_and_succeeds() {
    let h = harness().await;
    h.fake.faults().script(
        Endpoint::get("/repos/{owner}/{repo}/git/ref/{*ref}"),
        1,
        Fault::rate_limited(1),
    );
    let tip = h.forge.branch_tip(&repo(), "main").await.unwrap();
    assert_eq!(tip, h.fake.branch_tip(REPO, "main"));
    let log = h.fake.faults().log();
    assert_eq!(
        log.count(&Endpoint::get("/repos/{owner}/{repo}/git/ref/{*ref}")),
        2
    );
}

#[tokio::test]
async fn secondary_rate_limit_403_is_retried() {
    let h = harness().await;
    let secondary = Fault::Respond {
        status: 403,
        headers: vec![("retry-after".into(), "0".into())],
        body: r#"{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}"#.into(),
    };
    let endpoint = Endpoint::get("/repos/{owner}/{repo}/tags");
    h.fake.faults().script(endpoint.clone(), 2, secondary);
    assert!(h.forge.tags(&repo()).await.unwrap().is_empty());
    assert_eq!(h.fake.faults().log().count(&endpoint), 3);
}

/// A secondary limit with neither `Retry-After` nor a reset: GitHub asks for at least a
/// minute's wait, which the policy's `unhinted_limit_wait` gives. With a wait longer than
/// the policy accepts, the adapter gives up after one request (it used to retry five times
/// within seconds); with a short one (tests), it retries and succeeds.
#[tokio::test]
async fn secondary_rate_limit_without_a_hint_waits_the_policy_minimum() {
    let h = harness().await;
    let secondary = Fault::Respond {
        status: 403,
        headers: vec![],
        body: r#"{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}"#.into(),
    };
    let endpoint = Endpoint::get("/repos/{owner}/{repo}/tags");
    let patient = GitHub::new(
        &h.fake.url(),
        SecretString::from(TOKEN.to_owned()),
        RetryPolicy {
            unhinted_limit_wait: std::time::Duration::from_hours(1),
            ..RetryPolicy::fast()
        },
    )
    .unwrap();
    h.fake
        .faults()
        .script(endpoint.clone(), 1, secondary.clone());
    match patient.tags(&repo()).await {
        Err(ForgeError::RateLimited { reset: None, .. }) => {}
        other => panic!("expected RateLimited without reset, got {other:?}"),
    }
    assert_eq!(
        h.fake.faults().log().count(&endpoint),
        1,
        "not retried at once"
    );

    h.fake.faults().script(endpoint.clone(), 2, secondary);
    assert!(h.forge.tags(&repo()).await.unwrap().is_empty());
    assert_eq!(h.fake.faults().log().count(&endpoint), 4);
}

#[tokio::test]
async fn primary_rate_limit_far_away_fails_fast_with_reset_time() {
    let h = harness().await;
    let reset = chrono::Utc::now().timestamp() + 3600;
    let exhausted = Fault::Respond {
        status: 403,
        headers: vec![
            ("x-ratelimit-remaining".into(), "0".into()),
            ("x-ratelimit-reset".into(), reset.to_string()),
        ],
        body: r#"{"message":"API rate limit exceeded for user ID 1.","documentation_url":"https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting"}"#.into(),
    };
    let endpoint = Endpoint::get("/repos/{owner}/{repo}/tags");
    h.fake.faults().script(endpoint.clone(), 10, exhausted);
    match h.forge.tags(&repo()).await {
        Err(ForgeError::RateLimited {
            reset: Some(at), ..
        }) => assert_eq!(at.timestamp(), reset),
        other => panic!("expected RateLimited with a reset, got {other:?}"),
    }
    assert_eq!(
        h.fake.faults().log().count(&endpoint),
        1,
        "no hopeless waiting"
    );
    h.fake.faults().clear();
}

#[tokio::test]
async fn server_errors_then_success() {
    let h = harness().await;
    let endpoint = Endpoint::get("/repos/{owner}/{repo}/compare/{basehead}");
    h.fake
        .faults()
        .script(endpoint.clone(), 2, Fault::status(502));
    let cmp = h.forge.compare(&repo(), "main", "main").await.unwrap();
    assert!(cmp.is_even());
    assert_eq!(h.fake.faults().log().count(&endpoint), 3);
}

#[tokio::test]
async fn server_errors_that_persist_are_reported() {
    let h = harness().await;
    let endpoint = Endpoint::get("/repos/{owner}/{repo}/compare/{basehead}");
    h.fake.faults().script(
        endpoint.clone(),
        100,
        Fault::Status {
            status: 503,
            body: r#"{"message":"Service Unavailable"}"#.into(),
        },
    );
    match h.forge.compare(&repo(), "main", "main").await {
        Err(ForgeError::Server { status: 503, .. }) => {}
        other => panic!("expected Server 503, got {other:?}"),
    }
    assert_eq!(
        h.fake.faults().log().count(&endpoint),
        RetryPolicy::fast().max_attempts as usize
    );
}

#[tokio::test]
async fn dropped_connection_is_retried() {
    let h = harness().await;
    let endpoint = Endpoint::get("/repos/{owner}/{repo}/pulls");
    h.fake
        .faults()
        .script(endpoint.clone(), 1, Fault::DropBeforeHandling);
    h.fake.commit(REPO, "feature/y", "y");
    assert_eq!(
        h.forge
            .find_open_change_request(&repo(), "feature/y")
            .await
            .unwrap(),
        None
    );
    assert_eq!(h.fake.faults().log().count(&endpoint), 2);
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_is_not_doubled() {
    let h = harness().await;
    h.fake.commit(REPO, "feature/z", "z");
    // The pull request is created, then the connection drops: the retry gets GitHub's
    // "already exists" and adopts the one that was made.
    h.fake.faults().script(
        Endpoint::post("/repos/{owner}/{repo}/pulls"),
        1,
        Fault::DropAfterHandling,
    );
    let upserted = h
        .forge
        .upsert_change_request(&repo(), &spec("feature/z"))
        .await
        .unwrap();
    assert_eq!(h.fake.pulls(REPO).len(), 1);
    assert_eq!(upserted.change_request.number, h.fake.pulls(REPO)[0].number);
}

#[tokio::test]
async fn a_move_whose_answer_was_lost_still_succeeds() {
    let h = harness().await;
    let old = h.fake.branch_tip(REPO, "main").unwrap();
    h.fake.set_branch(REPO, "stable", &old);
    let new = h.fake.commit(REPO, "main", "ship");
    h.fake
        .faults()
        .script(Endpoint::post("/graphql"), 1, Fault::DropAfterHandling);
    h.forge
        .move_branch(&repo(), &forward(old, new.clone()))
        .await
        .unwrap();
    assert_eq!(h.fake.branch_tip(REPO, "stable"), Some(new));
}

#[tokio::test]
async fn branch_moves_are_real_git_and_use_update_refs() {
    let h = harness().await;
    let old = h.fake.branch_tip(REPO, "main").unwrap();
    h.fake.set_branch(REPO, "stable", &old);
    let new = h.fake.commit(REPO, "main", "ship");
    h.forge
        .move_branch(&repo(), &forward(old, new.clone()))
        .await
        .unwrap();
    let log = h.fake.faults().log();
    assert_eq!(log.count(&Endpoint::post("/graphql")), 1);
    assert_eq!(
        log.count(&Endpoint::any("/repos/{owner}/{repo}/git/refs/{*ref}")),
        0,
        "no REST ref PATCH"
    );
    // Read the bare repository with git itself, not through the fake's API.
    let bare = git2::Repository::open_bare(h.fake.repo_path(REPO)).unwrap();
    let tip = bare
        .find_reference("refs/heads/stable")
        .unwrap()
        .target()
        .unwrap();
    assert_eq!(tip.to_string(), new);
}

#[tokio::test]
async fn unauthorized_and_missing_things_are_named() {
    let h = harness().await;
    let wrong = client(&h.fake, "ghp_wrong");
    match wrong.branch_tip(&repo(), "main").await {
        Err(ForgeError::Unauthorized { message, .. }) => assert_eq!(message, "Bad credentials"),
        other => panic!("expected Unauthorized, got {other:?}"),
    }
    match h.forge.branch_tip(&RepoId::new("acme/nope"), "main").await {
        Err(ForgeError::NotFound { what, .. }) => assert!(what.contains("acme/nope"), "{what}"),
        other => panic!("expected NotFound, got {other:?}"),
    }
    match h.forge.change_request(&repo(), 42).await {
        Err(ForgeError::NotFound { what, .. }) => assert!(what.contains("#42"), "{what}"),
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert!(matches!(
        h.forge.tags(&RepoId::new("not-a-github-repo")).await,
        Err(ForgeError::Setup { .. })
    ));
}

#[tokio::test]
async fn forbidden_names_the_missing_scope() {
    let h = harness().await;
    h.fake.faults().script(
        Endpoint::post("/repos/{owner}/{repo}/git/refs"),
        1,
        Fault::Respond {
            status: 403,
            headers: vec![
                ("x-accepted-oauth-scopes".into(), "repo".into()),
                ("x-oauth-scopes".into(), "read:org".into()),
            ],
            body: r#"{"message":"Resource not accessible by personal access token","documentation_url":"https://docs.github.com/rest"}"#.into(),
        },
    );
    let tip = h.fake.branch_tip(REPO, "main").unwrap();
    let err = h
        .forge
        .create_tag(&repo(), "v1", &tip, None)
        .await
        .unwrap_err();
    match &err {
        ForgeError::Forbidden { missing_scope, .. } => {
            assert_eq!(missing_scope.as_deref(), Some("repo"));
        }
        other => panic!("expected Forbidden, got {other:?}"),
    }
    assert!(err.to_string().contains("the token needs the `repo` scope"));
}

/// Collects everything `tracing` emits while a closure runs.
mod capture {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    pub(super) struct Buffer(pub Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }
}

#[tokio::test]
#[allow(clippy::too_many_lines)] // Every way a token could leak, checked in one place.
async fn the_token_never_appears_in_errors_or_logs() {
    let buffer = capture::Buffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(buffer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let h = harness().await;
    let mut errors: Vec<ForgeError> = Vec::new();

    // 401 with a (different) token that must not leak either.
    let leaky = "ghp_otherSECRET987654321";
    let wrong = client(&h.fake, leaky);
    errors.push(wrong.tags(&repo()).await.unwrap_err());
    // 5xx until retries run out.
    h.fake.faults().script(
        Endpoint::get("/repos/{owner}/{repo}/tags"),
        100,
        Fault::status(500),
    );
    errors.push(h.forge.tags(&repo()).await.unwrap_err());
    h.fake.faults().clear();
    // Dropped connections until retries run out.
    h.fake.faults().script(
        Endpoint::get("/repos/{owner}/{repo}/tags"),
        100,
        Fault::DropBeforeHandling,
    );
    errors.push(h.forge.tags(&repo()).await.unwrap_err());
    h.fake.faults().clear();
    // Nothing listening at all.
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let nowhere = GitHub::new(
        &format!("http://{dead}"),
        SecretString::from(TOKEN.to_owned()),
        RetryPolicy {
            max_attempts: 2,
            ..RetryPolicy::fast()
        },
    )
    .unwrap();
    errors.push(nowhere.tags(&repo()).await.unwrap_err());
    // A server that echoes the token in its answers (a proxy's error page, a misbehaving
    // Enterprise server): a validation error and a server error until retries run out.
    let echo = |status: u16| Fault::Respond {
        status,
        headers: Vec::new(),
        body: format!(
            r#"{{"message":"bad credentials {TOKEN}","errors":[{{"message":"token {TOKEN} refused"}}]}}"#
        ),
    };
    for status in [422, 502] {
        h.fake.faults().script(
            Endpoint::get("/repos/{owner}/{repo}/tags"),
            100,
            echo(status),
        );
        errors.push(h.forge.tags(&repo()).await.unwrap_err());
        h.fake.faults().clear();
    }
    // A successful call, for good measure.
    h.forge.branch_tip(&repo(), "main").await.unwrap();

    assert!(
        matches!(errors[0], ForgeError::Unauthorized { .. }),
        "{:?}",
        errors[0]
    );
    assert!(
        matches!(errors[1], ForgeError::Server { .. }),
        "{:?}",
        errors[1]
    );
    assert!(
        matches!(errors[2], ForgeError::Transport { .. }),
        "{:?}",
        errors[2]
    );
    assert!(
        matches!(errors[3], ForgeError::Transport { .. }),
        "{:?}",
        errors[3]
    );
    match &errors[4] {
        ForgeError::Validation {
            message, errors, ..
        } => {
            assert!(message.contains("bad credentials"), "{message}");
            assert!(errors.iter().any(|e| e.contains("refused")), "{errors:?}");
        }
        other => panic!("expected Validation, got {other:?}"),
    }
    assert!(
        matches!(errors[5], ForgeError::Server { status: 502, .. }),
        "{:?}",
        errors[5]
    );
    for error in &errors {
        for text in [error.to_string(), format!("{error:?}")] {
            assert!(!text.contains(TOKEN), "token in {text}");
            assert!(!text.contains(leaky), "token in {text}");
        }
    }
    assert!(!format!("{:?}", h.forge).contains(TOKEN));
    let logs = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("retrying"), "the capture works: {logs}");
    assert!(!logs.contains(TOKEN), "token in logs");
    assert!(!logs.contains(leaky), "token in logs");
}

#[tokio::test]
async fn git_push_and_fetch_see_the_same_refs_as_the_api() {
    use upkeep_testkit::git::git;
    let h = harness().await;
    let bare = h.fake.repo_path(REPO);
    let dir = tempfile::tempdir().unwrap();
    let url = bare.to_str().unwrap();
    git(dir.path(), &["clone", "-q", url, "work"]);
    let work = dir.path().join("work");
    // A commit pushed with git is what the API reports.
    git(
        &work,
        &["commit", "-q", "--allow-empty", "-m", "pushed by git"],
    );
    git(&work, &["push", "-q", "origin", "HEAD:refs/heads/stable"]);
    let pushed = git(&work, &["rev-parse", "HEAD"]).trim().to_owned();
    assert_eq!(
        h.forge.branch_tip(&repo(), "stable").await.unwrap(),
        Some(pushed.clone())
    );
    // A move through the API is what `git fetch` sees.
    let main = h.fake.branch_tip(REPO, "main").unwrap();
    h.forge
        .move_branch(
            &repo(),
            &BranchMove {
                branch: "stable".into(),
                expected_old: pushed,
                new: main.clone(),
                allow_backwards: true,
            },
        )
        .await
        .unwrap();
    git(&work, &["fetch", "-q", "origin"]);
    assert_eq!(
        git(&work, &["rev-parse", "origin/stable"]).trim(),
        main.as_str()
    );
}

#[tokio::test]
async fn of_two_concurrent_moves_exactly_one_wins() {
    let h = harness().await;
    let old = h.fake.branch_tip(REPO, "main").unwrap();
    h.fake.set_branch(REPO, "stable", &old);
    let a = h.fake.commit(REPO, "a", "a");
    let b = h.fake.commit(REPO, "b", "b");
    // Latency makes both read the old tip before either mutates (likely, not required:
    // the outcome must be the same either way).
    h.fake
        .faults()
        .set_latency(std::time::Duration::from_millis(20));
    let other = client(&h.fake, TOKEN);
    let request = |new: &str| BranchMove {
        branch: "stable".into(),
        expected_old: old.clone(),
        new: new.to_owned(),
        allow_backwards: false,
    };
    let (request_a, request_b) = (request(&a), request(&b));
    let repo = repo();
    let (ra, rb) = tokio::join!(
        h.forge.move_branch(&repo, &request_a),
        other.move_branch(&repo, &request_b),
    );
    let tip = h.fake.branch_tip(REPO, "stable").unwrap();
    match (ra, rb) {
        (Ok(()), Err(ForgeError::BranchMoved { actual, .. })) => {
            assert_eq!(tip, a);
            assert_eq!(actual, Some(a));
        }
        (Err(ForgeError::BranchMoved { actual, .. }), Ok(())) => {
            assert_eq!(tip, b);
            assert_eq!(actual, Some(b));
        }
        other => panic!("expected one win and one BranchMoved, got {other:?}"),
    }
}

#[tokio::test]
async fn a_tag_whose_answer_was_lost_is_not_an_error() {
    let h = harness().await;
    let tip = h.fake.branch_tip(REPO, "main").unwrap();
    h.fake.faults().script(
        Endpoint::post("/repos/{owner}/{repo}/git/refs"),
        1,
        Fault::DropAfterHandling,
    );
    h.forge
        .create_tag(&repo(), "v2.0.0", &tip, Some("Release 2.0.0"))
        .await
        .unwrap();
    let tags = h.forge.tags(&repo()).await.unwrap();
    assert_eq!(tags.len(), 1);
    assert_eq!(
        (tags[0].name.as_str(), tags[0].sha.as_str()),
        ("v2.0.0", tip.as_str())
    );
}

#[tokio::test]
async fn access_reads_role_and_classic_scopes_in_one_request() {
    let h = harness().await;
    h.fake.faults().reset_log();
    let access = h.forge.access(&repo()).await.unwrap();
    assert_eq!(h.fake.faults().log().total(), 1);
    assert_eq!(access.can_push, Some(true), "{access:?}");
    assert_eq!(access.can_open_change_requests, Some(true), "{access:?}");
    assert!(access.is_sufficient());
    assert_eq!(access.fix, None);
    assert!(
        access.detail.contains("repo, workflow"),
        "{}",
        access.detail
    );
    assert!(!format!("{access:?}").contains(TOKEN));
}

#[tokio::test]
async fn access_without_push_permission_says_so() {
    let h = harness().await;
    h.fake.set_permissions(REPO, false);
    let access = h.forge.access(&repo()).await.unwrap();
    assert_eq!(access.can_push, Some(false), "{access:?}");
    assert!(access.is_insufficient());
    assert!(
        access.fix.as_deref().unwrap().contains("write access"),
        "{access:?}"
    );
}

#[tokio::test]
async fn access_with_a_token_lacking_the_repo_scope_says_which_scope() {
    let h = harness().await;
    h.fake.set_scopes("read:org, gist");
    let access = h.forge.access(&repo()).await.unwrap();
    assert_eq!(access.can_push, Some(false), "{access:?}");
    assert_eq!(access.can_open_change_requests, Some(false), "{access:?}");
    assert_eq!(
        access.fix.as_deref(),
        Some("the token needs the `repo` scope"),
        "the fake's repositories are private"
    );
}

#[tokio::test]
async fn access_to_an_unknown_repository_is_not_found() {
    let h = harness().await;
    let err = h.forge.access(&RepoId::new("acme/nope")).await.unwrap_err();
    assert!(matches!(err, ForgeError::NotFound { .. }), "{err:?}");
}

#[test]
fn graphql_lives_beside_rest_on_enterprise_servers() {
    use upkeep_forge::github::graphql_url;
    assert_eq!(
        graphql_url("https://api.github.com"),
        "https://api.github.com/graphql"
    );
    assert_eq!(
        graphql_url("https://ghe.example.com/api/v3"),
        "https://ghe.example.com/api/graphql"
    );
    assert_eq!(
        graphql_url("https://example.com/github/api/v3/"),
        "https://example.com/github/api/graphql"
    );
}

fn move_stable(h: &GitHubHarness) -> (String, String) {
    let old = h.fake.branch_tip(REPO, "main").unwrap();
    h.fake.set_branch(REPO, "stable", &old);
    let new = h.fake.commit(REPO, "main", "ship");
    (old, new)
}

/// Enterprise servers that list `updateRefs` under a schema preview only answer it to
/// requests asking for the preview's media type.
#[tokio::test]
async fn update_refs_is_asked_for_with_its_preview_media_type() {
    let h = harness_with(Layout::Enterprise).await;
    h.fake.set_update_refs(UpdateRefs::PreviewOnly);
    let (old, new) = move_stable(&h);
    h.forge
        .move_branch(&repo(), &forward(old, new.clone()))
        .await
        .unwrap();
    let log = h.fake.faults().log();
    assert_eq!(log.count(&Endpoint::post("/api/graphql")), 1);
    assert_eq!(
        log.count(&Endpoint::any(
            "/api/v3/repos/{owner}/{repo}/git/refs/{*ref}"
        )),
        0,
        "moved through updateRefs, not the REST fallback"
    );
    assert_eq!(h.fake.branch_tip(REPO, "stable"), Some(new));
}

/// A server without `updateRefs` gets the REST ref update, with the tip checked first;
/// it is asked about `updateRefs` once, not on every move.
#[tokio::test]
async fn without_update_refs_moves_fall_back_to_rest_after_checking_the_tip() {
    let h = harness_with(Layout::Enterprise).await;
    h.fake.set_update_refs(UpdateRefs::Absent);
    let (old, new) = move_stable(&h);
    let forward = BranchMove {
        branch: "stable".into(),
        expected_old: old.clone(),
        new: new.clone(),
        allow_backwards: false,
    };
    h.forge.move_branch(&repo(), &forward).await.unwrap();
    assert_eq!(h.fake.branch_tip(REPO, "stable"), Some(new.clone()));
    let rest = Endpoint::new(
        http::Method::PATCH,
        "/api/v3/repos/{owner}/{repo}/git/refs/{*ref}",
    );
    let graphql = Endpoint::post("/api/graphql");
    assert_eq!(h.fake.faults().log().count(&rest), 1);
    assert_eq!(h.fake.faults().log().count(&graphql), 1);

    // The compare-and-swap still holds as far as a read can make it: a branch that moved
    // since the plan is left alone.
    let theirs = h.fake.commit(REPO, "stable", "someone else's");
    let newer = h.fake.commit(REPO, "main", "more");
    let stale = BranchMove {
        branch: "stable".into(),
        expected_old: new.clone(),
        new: newer,
        allow_backwards: false,
    };
    match h.forge.move_branch(&repo(), &stale).await {
        Err(ForgeError::BranchMoved { actual, .. }) => assert_eq!(actual, Some(theirs.clone())),
        other => panic!("expected BranchMoved, got {other:?}"),
    }
    // A rollback goes through REST with force.
    let back = BranchMove {
        branch: "stable".into(),
        expected_old: theirs,
        new: old.clone(),
        allow_backwards: true,
    };
    h.forge.move_branch(&repo(), &back).await.unwrap();
    assert_eq!(h.fake.branch_tip(REPO, "stable"), Some(old));
    assert_eq!(
        h.fake.faults().log().count(&graphql),
        1,
        "updateRefs is not asked for again"
    );
    assert_eq!(h.fake.faults().log().count(&rest), 2);
}

fn rule(enforce_admins: bool, bypass: &[&str], push: Option<&[&str]>) -> serde_json::Value {
    serde_json::json!({
        "required_status_checks": null,
        "enforce_admins": enforce_admins,
        "required_pull_request_reviews": {
            "required_approving_review_count": 1,
            "bypass_pull_request_allowances": {"users": bypass, "teams": []},
        },
        "restrictions": push.map(|users| serde_json::json!({"users": users, "teams": []})),
    })
}

/// A rule that includes administrators binds them like anyone: the error says what the
/// token's user lacks, and naming them in the rule lets them through.
#[tokio::test]
async fn a_rule_including_administrators_binds_them_by_name() {
    let h = harness().await;
    let (old, new) = move_stable(&h);
    h.fake
        .protect_branch(REPO, "stable", &rule(true, &[], Some(&["release-manager"])));
    let access = h.forge.branch_access(&repo(), "stable").await.unwrap();
    assert_eq!(access.can_update, Some(false), "{access:?}");
    assert_eq!(
        access.fix.as_deref(),
        Some(
            "`stable` is protected; the token's user needs to be allowed to bypass required pull requests and to be listed in who may push to it"
        )
    );
    assert!(
        access.detail.contains("the rule includes administrators"),
        "{access:?}"
    );
    match h.forge.move_branch(&repo(), &forward(&old, &new)).await {
        Err(ForgeError::BranchProtected { message, fix, .. }) => {
            assert!(
                message.contains("Changes must be made through a pull request."),
                "{message}"
            );
            assert!(
                message.contains("You're not authorized to push to this branch."),
                "{message}"
            );
            assert_eq!(fix, access.fix);
        }
        other => panic!("expected BranchProtected, got {other:?}"),
    }
    let login = h.fake.login();
    h.fake.protect_branch(
        REPO,
        "stable",
        &rule(true, &[login.as_str()], Some(&[login.as_str()])),
    );
    let access = h.forge.branch_access(&repo(), "stable").await.unwrap();
    assert_eq!(access.can_update, Some(true), "{access:?}");
    h.forge
        .move_branch(&repo(), &forward(&old, &new))
        .await
        .unwrap();
    assert_eq!(h.fake.branch_tip(REPO, "stable"), Some(new));
}

/// Required status checks bind a non-administrator: the new tip must have passed them.
#[tokio::test]
async fn required_status_checks_must_have_passed_on_the_new_tip() {
    let h = harness().await;
    let (old, new) = move_stable(&h);
    h.fake.protect_branch(
        REPO,
        "stable",
        &serde_json::json!({
            "required_status_checks": {"strict": true, "contexts": ["ci"]},
            "enforce_admins": false,
            "required_pull_request_reviews": null,
            "restrictions": null,
        }),
    );
    h.fake.set_role(REPO, Role::Write);
    // GitHub lets the Write user push (`viewerCanPush`): only the new tip's checks stand
    // in the way, which access says but cannot judge before the commit is known.
    let access = h.forge.branch_access(&repo(), "stable").await.unwrap();
    assert_eq!(access.can_update, Some(true), "{access:?}");
    assert!(access.detail.contains("status checks: ci"), "{access:?}");
    match h.forge.move_branch(&repo(), &forward(&old, &new)).await {
        Err(ForgeError::BranchProtected { message, .. }) => {
            assert_eq!(
                message,
                "Protected branch update failed for refs/heads/stable.\n\nRequired status check \"ci\" is expected."
            );
        }
        other => panic!("expected BranchProtected, got {other:?}"),
    }
    h.fake.add_status(REPO, &new, "ci", "success");
    h.forge
        .move_branch(&repo(), &forward(&old, &new))
        .await
        .unwrap();
    assert_eq!(h.fake.branch_tip(REPO, "stable"), Some(new));
}

/// The REST fallback meets the same rules and reports them the same way.
#[tokio::test]
async fn the_rest_fallback_reports_protection_too() {
    let h = harness_with(Layout::Enterprise).await;
    h.fake.set_update_refs(UpdateRefs::Absent);
    let (old, new) = move_stable(&h);
    h.fake
        .protect_branch(REPO, "stable", &rule(false, &[], None));
    h.fake.set_role(REPO, Role::Write);
    match h.forge.move_branch(&repo(), &forward(&old, &new)).await {
        Err(ForgeError::BranchProtected { message, fix, .. }) => {
            assert_eq!(message, "Changes must be made through a pull request.");
            assert!(fix.unwrap().contains("the Admin role"));
        }
        other => panic!("expected BranchProtected, got {other:?}"),
    }
    assert_eq!(h.fake.branch_tip(REPO, "stable"), Some(old));
}

#[tokio::test]
async fn branch_access_is_a_few_reads() {
    let h = harness().await;
    h.fake.faults().reset_log();
    let open = h.forge.branch_access(&repo(), "main").await.unwrap();
    assert_eq!((open.protected, open.can_update), (Some(false), Some(true)));
    assert_eq!(h.fake.faults().log().total(), 1, "one GraphQL query");

    // A Write user whom the rule does not list: GitHub's `viewerCanPush` says no.
    let (_, _) = move_stable(&h);
    h.fake
        .protect_branch(REPO, "stable", &rule(true, &["someone"], None));
    h.fake.set_role(REPO, Role::Write);
    h.fake.faults().reset_log();
    let access = h.forge.branch_access(&repo(), "stable").await.unwrap();
    assert!(access.is_refused(), "{access:?}");
    assert!(access.fix.unwrap().contains("the Admin role"));
    assert_eq!(h.fake.faults().log().total(), 1, "one GraphQL query");

    // An administrator the rule binds: the rule itself says what is missing.
    h.fake.set_role(REPO, Role::Admin);
    h.fake.faults().reset_log();
    let access = h.forge.branch_access(&repo(), "stable").await.unwrap();
    assert!(access.is_refused(), "{access:?}");
    assert_eq!(
        h.fake.faults().log().total(),
        5,
        "the query, then repository, branch, rule, user"
    );

    let missing = h.forge.branch_access(&repo(), "nowhere").await.unwrap();
    assert_eq!((missing.protected, missing.can_update), (None, None));
    assert!(missing.detail.contains("does not exist"), "{missing:?}");
}

#[tokio::test]
async fn access_says_when_the_token_lacks_the_workflow_scope() {
    let h = harness().await;
    h.fake.set_scopes("repo");
    let access = h.forge.access(&repo()).await.unwrap();
    assert!(access.is_sufficient(), "{access:?}");
    assert_eq!(
        access.fix.as_deref(),
        Some(
            "the token needs the `workflow` scope to push changes to `.github/workflows` (GitHub refuses such pushes without it)"
        )
    );
}

/// A reviewer who is not a collaborator: GitHub opens the pull request, then refuses the
/// review request with a 422 naming nobody. The pull request is returned (so the round
/// records it), the refused reviewer is reported in `not_applied` — once, not per
/// attempt — and the collaborator still gets the request.
#[tokio::test]
async fn a_reviewer_who_is_not_a_collaborator_does_not_lose_the_pull_request() {
    let h = harness().await;
    h.fake.commit(REPO, "feature/x", "change");
    h.fake.set_collaborators(REPO, &["alice", "bob"]);
    let mut wanted = spec("feature/x");
    wanted.reviewers = vec!["alice".into(), "mallory".into()];
    let opened = h
        .forge
        .upsert_change_request(&repo(), &wanted)
        .await
        .unwrap();
    assert_eq!(opened.action, UpsertAction::Created);
    assert_eq!(opened.not_applied.len(), 1, "{opened:?}");
    let refused = &opened.not_applied[0];
    assert_eq!(refused.user, "mallory");
    assert_eq!(refused.role, PersonRole::Reviewer);
    assert!(
        refused
            .reason
            .contains("Reviews may only be requested from collaborators"),
        "{refused:?}"
    );
    let pulls = h.fake.pulls(REPO);
    assert_eq!(pulls.len(), 1);
    assert_eq!(pulls[0].requested_reviewers, ["alice"]);

    // A re-run finds the pull request, asks for the missing reviewer once more (one
    // refused request), and changes nothing else.
    h.fake.faults().reset_log();
    let again = h
        .forge
        .upsert_change_request(&repo(), &wanted)
        .await
        .unwrap();
    assert_eq!(again.action, UpsertAction::Unchanged);
    assert_eq!(again.change_request.number, opened.change_request.number);
    assert_eq!(again.not_applied.len(), 1);
    assert_eq!(
        h.fake.faults().log().count(&Endpoint::post(
            "/repos/{owner}/{repo}/pulls/{number}/requested_reviewers"
        )),
        1
    );
}

/// The create went through but its answer was lost; the retried create hears "already
/// exists", and GitHub's list trails the create for a few reads. The list is asked again
/// (it used to be reported as a conflict at once), and the one pull request is adopted.
#[tokio::test]
async fn a_pull_request_list_lagging_after_already_exists_is_asked_again() {
    let h = harness().await;
    h.fake.commit(REPO, "feature/x", "change");
    let create = Endpoint::post("/repos/{owner}/{repo}/pulls");
    h.fake
        .faults()
        .script(create.clone(), 1, Fault::DropAfterHandling);
    // The list before the create, and two after "already exists", miss the new one.
    h.fake.lag_pull_lists(REPO, 3);
    let upserted = h
        .forge
        .upsert_change_request(&repo(), &spec("feature/x"))
        .await
        .unwrap();
    assert_eq!(upserted.action, UpsertAction::Created);
    let pulls = h.fake.pulls(REPO);
    assert_eq!(pulls.len(), 1);
    assert_eq!(upserted.change_request.number, pulls[0].number);
    let log = h.fake.faults().log();
    assert_eq!(log.count(&create), 2);
    assert_eq!(
        log.count(&Endpoint::get("/repos/{owner}/{repo}/pulls")),
        4,
        "{log:?}"
    );
}

/// GitHub refuses a pull request or issue body over 65,536 characters with a 422; the
/// fake does too (the round cuts its bodies to fit: upkeep-maintain's
/// `change_request_body`).
#[tokio::test]
async fn a_body_over_65536_characters_is_refused() {
    let h = harness().await;
    h.fake.commit(REPO, "feature/x", "change");
    let mut long = spec("feature/x");
    long.body = "é".repeat(65_537);
    match h.forge.upsert_change_request(&repo(), &long).await {
        Err(ForgeError::Validation { errors, .. }) => assert!(
            errors
                .iter()
                .any(|e| e.contains("body is too long (maximum is 65536 characters)")),
            "{errors:?}"
        ),
        other => panic!("expected a 422, got {other:?}"),
    }
    assert!(h.fake.pulls(REPO).is_empty());
    // Exactly at the limit (in characters, not bytes) is fine.
    long.body = "é".repeat(65_536);
    let opened = h.forge.upsert_change_request(&repo(), &long).await.unwrap();
    // And an update past it is refused as well.
    long.body.push('x');
    assert!(matches!(
        h.forge.upsert_change_request(&repo(), &long).await,
        Err(ForgeError::Validation { .. })
    ));
    assert_eq!(h.fake.pulls(REPO)[0].number, opened.change_request.number);
}

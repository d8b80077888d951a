//! The GitLab adapter against the fake GitLab: the behaviour suite, then GitLab's quirks,
//! error normalisation, retries and token hygiene.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use secrecy::SecretString;
use tempfile::TempDir;
use upkeep_forge::gitlab::{GitLab, GitLabOptions};
use upkeep_forge::retry::RetryPolicy;
use upkeep_forge::{
    BranchMove, ChangeRequestSpec, ChangeRequestState, Forge, ForgeError, PersonRole, RepoId,
    UpsertAction, Verdict,
};
use upkeep_testkit::faults::{Endpoint, Fault};
use upkeep_testkit::gitlab::{FakeGitLab, TOKEN, Tier};

use crate::behaviour::{Harness, Review, Signal, behaviour_suite, forward};

const PROJECT: &str = "team/services/api";

struct GitLabHarness {
    fake: FakeGitLab,
    forge: Arc<GitLab>,
    _work: TempDir,
}

async fn connect(fake: &FakeGitLab, work: &TempDir) -> GitLab {
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

/// A promotion's reads of `main` → `stable`, and how many requests they made.
async fn promotion_reads(h: &GitLabHarness) -> (upkeep_forge::PromotionReads, usize) {
    h.fake.faults().reset_log();
    let reads = h
        .forge
        .promotion_reads(&repo(), "main", "stable")
        .await
        .unwrap();
    (reads, h.fake.faults().log().total())
}

async fn harness() -> GitLabHarness {
    upkeep_testkit::install_crypto_provider();
    upkeep_testkit::init_tracing();
    let fake = FakeGitLab::start().await;
    fake.create_project(PROJECT);
    let work = tempfile::tempdir().unwrap();
    let forge = Arc::new(connect(&fake, &work).await);
    GitLabHarness {
        fake,
        forge,
        _work: work,
    }
}

fn repo() -> RepoId {
    RepoId::new(PROJECT)
}

#[async_trait]
impl Harness for GitLabHarness {
    fn forge(&self) -> Arc<dyn Forge> {
        self.forge.clone()
    }

    fn repo(&self) -> RepoId {
        repo()
    }

    async fn commit_on(&self, branch: &str, message: &str) -> String {
        self.fake.commit(PROJECT, branch, message)
    }

    async fn set_branch(&self, branch: &str, sha: &str) {
        self.fake.set_branch(PROJECT, branch, sha);
    }

    async fn set_ci(&self, sha: &str, name: &str, signal: Signal) {
        let state = match signal {
            Signal::Success => "success",
            Signal::Failure => "failed",
            Signal::Pending => "running",
        };
        self.fake.add_status(PROJECT, sha, name, state, false);
    }

    async fn review(&self, number: u64, user: &str, review: Review) {
        match review {
            Review::Approve => self.fake.approve(PROJECT, number, user),
            Review::RequestChanges => self.fake.request_changes(PROJECT, number, user),
        }
    }

    async fn merge(&self, number: u64) {
        self.fake.merge(PROJECT, number);
    }

    async fn close(&self, number: u64) {
        self.fake.close(PROJECT, number);
    }
}

behaviour_suite!(harness);

fn spec(head: &str) -> ChangeRequestSpec {
    ChangeRequestSpec {
        head: head.into(),
        base: "main".into(),
        title: "Maintenance".into(),
        body: "- bump x".into(),
        labels: vec!["maintenance".into(), "dependencies".into()],
        reviewers: vec![],
        assignees: vec![],
        draft: false,
    }
}

#[tokio::test]
async fn numbers_are_iids_not_global_ids_and_opened_reads_as_open() {
    let h = harness().await;
    let other = "team/services/web";
    let web_id = h.fake.create_project(other);
    h.fake.commit(other, "feature", "web change");
    h.fake.commit(PROJECT, "feature", "api change");
    let web = h
        .forge
        .upsert_change_request(&RepoId::new(other), &spec("feature"))
        .await
        .unwrap();
    let api = h
        .forge
        .upsert_change_request(&repo(), &spec("feature"))
        .await
        .unwrap();
    assert_eq!(web.change_request.number, 1);
    assert_eq!(api.change_request.number, 1);
    // A project can be named by its numeric id as well as by its path.
    let by_id = h
        .forge
        .change_request(&RepoId::new(web_id.to_string()), 1)
        .await
        .unwrap();
    assert_eq!(by_id.url, web.change_request.url);
    assert_eq!(by_id.head_sha, h.fake.branch_tip(other, "feature"));

    let raw = &h.fake.merge_requests(PROJECT)[0];
    assert_eq!(raw["iid"], 1);
    assert_ne!(
        raw["id"], 1,
        "the fake's global ids differ from iids: {raw}"
    );
    assert_eq!(raw["state"], "opened");
    assert_eq!(api.change_request.state, ChangeRequestState::Open);
    assert!(
        api.change_request
            .url
            .ends_with("/team/services/api/-/merge_requests/1")
    );
    assert_eq!(
        api.change_request.head_sha,
        h.fake.branch_tip(PROJECT, "feature")
    );
}

#[tokio::test]
async fn drafts_are_a_title_prefix_on_gitlab() {
    let h = harness().await;
    h.fake.commit(PROJECT, "wip", "wip");
    let mut draft = spec("wip");
    draft.draft = true;
    let created = h
        .forge
        .upsert_change_request(&repo(), &draft)
        .await
        .unwrap();
    assert_eq!(
        h.fake.merge_requests(PROJECT)[0]["title"],
        "Draft: Maintenance"
    );
    assert_eq!(created.change_request.title, "Maintenance");
    assert!(created.change_request.draft);

    // Marking it ready removes the prefix.
    draft.draft = false;
    let ready = h
        .forge
        .upsert_change_request(&repo(), &draft)
        .await
        .unwrap();
    assert_eq!(ready.action, UpsertAction::Updated);
    assert!(!ready.change_request.draft);
    assert_eq!(h.fake.merge_requests(PROJECT)[0]["title"], "Maintenance");
}

#[tokio::test]
async fn reviewers_and_assignees_are_resolved_by_username() {
    let h = harness().await;
    let ann = h.fake.add_user("ann");
    let bob = h.fake.add_user("bob");
    h.fake.commit(PROJECT, "feature", "change");
    let mut with_people = spec("feature");
    with_people.reviewers = vec!["ann".into()];
    with_people.assignees = vec!["bob".into()];
    h.forge
        .upsert_change_request(&repo(), &with_people)
        .await
        .unwrap();
    let raw = &h.fake.merge_requests(PROJECT)[0];
    assert_eq!(raw["reviewers"][0]["id"], ann);
    assert_eq!(raw["assignees"][0]["id"], bob);

    // Same people again: nothing to update; users are looked up once.
    let again = h
        .forge
        .upsert_change_request(&repo(), &with_people)
        .await
        .unwrap();
    assert_eq!(again.action, UpsertAction::Unchanged);
    assert_eq!(
        h.fake.faults().log().count(&Endpoint::get("/api/v4/users")),
        2
    );

    let mut unknown = with_people.clone();
    unknown.reviewers = vec!["nobody-here".into()];
    let err = h
        .forge
        .upsert_change_request(&repo(), &unknown)
        .await
        .unwrap_err();
    assert!(matches!(err, ForgeError::Validation { .. }), "{err:?}");
    assert!(err.to_string().contains("nobody-here"), "{err}");
}

#[tokio::test]
async fn approvals_come_from_the_approvals_endpoint() {
    let h = harness().await;
    h.fake.commit(PROJECT, "feature", "change");
    h.forge
        .upsert_change_request(&repo(), &spec("feature"))
        .await
        .unwrap();
    h.fake.approve(PROJECT, 1, "ann");
    let cr = h.forge.change_request(&repo(), 1).await.unwrap();
    assert_eq!(cr.state, ChangeRequestState::Approved);
    assert_eq!(cr.approvers, ["ann"]);
    h.fake.unapprove(PROJECT, 1, "ann");
    let cr = h.forge.change_request(&repo(), 1).await.unwrap();
    assert_eq!(cr.state, ChangeRequestState::Open);
    assert!(cr.approvers.is_empty());
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_is_not_duplicated() {
    let h = harness().await;
    h.fake.commit(PROJECT, "feature", "change");
    let create = Endpoint::post("/api/v4/projects/{id}/merge_requests");
    h.fake
        .faults()
        .script(create.clone(), 1, Fault::DropAfterHandling);
    let upserted = h
        .forge
        .upsert_change_request(&repo(), &spec("feature"))
        .await
        .unwrap();
    assert_eq!(upserted.change_request.number, 1);
    assert_eq!(
        upserted.action,
        UpsertAction::Created,
        "it was this call that opened it"
    );
    assert_eq!(h.fake.merge_requests(PROJECT).len(), 1);
    assert_eq!(
        h.fake.faults().log().count(&create),
        2,
        "retried once, got 409"
    );
}

#[tokio::test]
async fn a_tag_whose_create_answer_was_lost_is_created_once_and_reported_so() {
    let h = harness().await;
    let main = h.fake.branch_tip(PROJECT, "main").unwrap();
    let create = Endpoint::post("/api/v4/projects/{id}/repository/tags");
    h.fake
        .faults()
        .script(create.clone(), 1, Fault::DropAfterHandling);
    h.forge
        .create_tag(&repo(), "v1.0.0", &main, Some("Release 1.0.0"))
        .await
        .unwrap();
    let tags = h.forge.tags(&repo()).await.unwrap();
    assert_eq!(tags.len(), 1, "{tags:?}");
    assert_eq!((tags[0].name.as_str(), &tags[0].sha), ("v1.0.0", &main));
    let log = h.fake.faults().log();
    assert_eq!(log.count(&create), 2, "retried once");
    assert_eq!(
        log.count_handled(&create),
        2,
        "the retry found the tag there"
    );
}

#[tokio::test]
async fn a_retried_tag_create_meeting_another_tag_is_a_conflict() {
    let h = harness().await;
    let main = h.fake.branch_tip(PROJECT, "main").unwrap();
    let other = h.fake.commit(PROJECT, "other", "other");
    h.forge
        .create_tag(&repo(), "v1.0.0", &other, None)
        .await
        .unwrap();
    let create = Endpoint::post("/api/v4/projects/{id}/repository/tags");
    // The first attempt gets no definite answer, the retry meets a tag at another commit.
    h.fake
        .faults()
        .script(create.clone(), 1, Fault::status(502));
    let err = h
        .forge
        .create_tag(&repo(), "v1.0.0", &main, None)
        .await
        .unwrap_err();
    assert!(matches!(err, ForgeError::Conflict { .. }), "{err:?}");
    assert!(err.to_string().contains(&other), "{err}");
    // Same commit but another message: not what was asked for either.
    h.fake
        .faults()
        .script(create.clone(), 1, Fault::status(502));
    let err = h
        .forge
        .create_tag(&repo(), "v1.0.0", &other, Some("Release"))
        .await
        .unwrap_err();
    assert!(matches!(err, ForgeError::Conflict { .. }), "{err:?}");
    let tags = h.forge.tags(&repo()).await.unwrap();
    assert_eq!(tags.len(), 1);
    assert_eq!(tags[0].sha, other);
}

#[tokio::test]
async fn rate_limit_with_retry_after_is_waited_out() {
    let h = harness().await;
    let branch = Endpoint::get("/api/v4/projects/{id}/repository/branches/{branch}");
    h.fake
        .faults()
        .script(branch.clone(), 1, Fault::rate_limited(1));
    let tip = h.forge.branch_tip(&repo(), "main").await.unwrap();
    assert_eq!(tip, h.fake.branch_tip(PROJECT, "main"));
    let log = h.fake.faults().log();
    assert_eq!(log.count(&branch), 2);
    assert_eq!(log.count_handled(&branch), 1);
}

#[tokio::test]
async fn server_errors_are_retried_then_reported() {
    let h = harness().await;
    let tags = Endpoint::get("/api/v4/projects/{id}/repository/tags");
    h.fake.faults().script(tags.clone(), 2, Fault::status(502));
    assert!(h.forge.tags(&repo()).await.unwrap().is_empty());
    h.fake.faults().script(tags.clone(), 10, Fault::status(503));
    let err = h.forge.tags(&repo()).await.unwrap_err();
    assert!(
        matches!(err, ForgeError::Server { status: 503, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn errors_are_normalised() {
    let h = harness().await;
    let missing = RepoId::new("team/nope");
    let err = h.forge.branch_tip(&missing, "main").await.unwrap_err();
    match &err {
        ForgeError::NotFound { what, .. } => assert_eq!(what, "project team/nope"),
        other => panic!("{other:?}"),
    }
    let err = h.forge.change_request(&repo(), 42).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("merge request !42 of team/services/api"),
        "{err}"
    );

    h.fake.set_scopes(&["read_api"]);
    h.fake.commit(PROJECT, "feature", "change");
    let err = h
        .forge
        .upsert_change_request(&repo(), &spec("feature"))
        .await
        .unwrap_err();
    match &err {
        ForgeError::Forbidden { missing_scope, .. } => {
            assert_eq!(missing_scope.as_deref(), Some("api"));
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("`api` scope"), "{err}");
    h.fake.set_scopes(&["api"]);

    let main = h.fake.branch_tip(PROJECT, "main").unwrap();
    h.forge
        .create_tag(&repo(), "v1.0.0", &main, None)
        .await
        .unwrap();
    let err = h
        .forge
        .create_tag(&repo(), "v1.0.0", &main, None)
        .await
        .unwrap_err();
    // Without an uncertain attempt before, an existing tag (even at the same commit) is
    // refused, as on every forge.
    assert!(matches!(err, ForgeError::Conflict { .. }), "{err:?}");
    assert!(err.to_string().contains("already exists"), "{err}");
}

#[tokio::test]
async fn pipelines_and_statuses_merge_into_one_verdict_read_in_one_request() {
    let h = harness().await;
    let sha = h.fake.commit(PROJECT, "ci", "change");
    h.fake.add_pipeline(PROJECT, &sha, "success");
    h.fake.faults().reset_log();
    let v = h.forge.ci_verdict(&repo(), &sha).await.unwrap();
    assert_eq!(v.verdict, Verdict::Success, "{v:?}");
    // The pipeline's jobs are commit statuses: no read of the pipelines.
    assert_eq!(h.fake.faults().log().total(), 1);

    // An allowed failure is a warning, not a failure.
    h.fake.add_status(PROJECT, &sha, "lint", "failed", true);
    assert_eq!(
        h.forge.ci_verdict(&repo(), &sha).await.unwrap().verdict,
        Verdict::Success
    );

    // The newest pipeline's job wins over the same job of older pipelines, both ways.
    h.fake.add_pipeline(PROJECT, &sha, "failed");
    let v = h.forge.ci_verdict(&repo(), &sha).await.unwrap();
    assert_eq!(v.verdict, Verdict::Failure, "{v:?}");
    assert_eq!(v.checks.iter().filter(|c| c.name == "test").count(), 1);
    h.fake.add_pipeline(PROJECT, &sha, "success");
    let v = h.forge.ci_verdict(&repo(), &sha).await.unwrap();
    assert_eq!(v.verdict, Verdict::Success, "{v:?}");

    // A pipeline waiting on a manual job that may not fail is not green.
    let manual = h.fake.commit(PROJECT, "ci", "deploy");
    h.fake.add_pipeline(PROJECT, &manual, "manual");
    assert_eq!(
        h.forge.ci_verdict(&repo(), &manual).await.unwrap().verdict,
        Verdict::Pending
    );

    // A commit GitLab does not have is named.
    let err = h
        .forge
        .ci_verdict(&repo(), "0123456789012345678901234567890123456789")
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("commit 0123456789012345678901234567890123456789"),
        "{err}"
    );
}

#[tokio::test]
async fn every_page_of_statuses_is_read() {
    let h = harness().await;
    let sha = h.fake.commit(PROJECT, "ci", "change");
    for i in 0..130 {
        h.fake
            .add_status(PROJECT, &sha, &format!("job-{i:03}"), "success", false);
    }
    h.fake
        .add_status(PROJECT, &sha, "job-last", "failed", false);
    let v = h.forge.ci_verdict(&repo(), &sha).await.unwrap();
    assert_eq!(v.checks.len(), 131);
    assert_eq!(v.verdict, Verdict::Failure);
    let statuses = Endpoint::get("/api/v4/projects/{id}/repository/commits/{sha}/statuses");
    assert_eq!(h.fake.faults().log().count(&statuses), 2);
}

#[tokio::test]
async fn a_self_hosted_instance_under_a_path_prefix_works() {
    upkeep_testkit::install_crypto_provider();
    let fake = FakeGitLab::start_with_prefix("/gitlab").await;
    fake.create_project(PROJECT);
    let work = tempfile::tempdir().unwrap();
    assert!(fake.base_url().ends_with("/gitlab"));
    let forge = connect(&fake, &work).await;
    assert_eq!(
        forge.branch_tip(&repo(), "main").await.unwrap(),
        fake.branch_tip(PROJECT, "main")
    );
}

#[tokio::test]
async fn concurrent_moves_from_two_clients_one_wins() {
    let h = harness().await;
    let old = h.fake.branch_tip(PROJECT, "main").unwrap();
    h.fake.set_branch(PROJECT, "stable", &old);
    let a = h.fake.commit(PROJECT, "a", "a");
    let b = h.fake.commit(PROJECT, "b", "b");
    let work2 = tempfile::tempdir().unwrap();
    let other = connect(&h.fake, &work2).await;
    let request = |new: &str| BranchMove {
        branch: "stable".into(),
        expected_old: old.clone(),
        new: new.to_owned(),
        allow_backwards: false,
    };
    let (move_a, move_b) = (request(&a), request(&b));
    let repo = repo();
    let (ra, rb) = tokio::join!(
        h.forge.move_branch(&repo, &move_a),
        other.move_branch(&repo, &move_b)
    );
    let tip = h.fake.branch_tip(PROJECT, "stable").unwrap();
    match (ra, rb) {
        (Ok(()), Err(ForgeError::BranchMoved { actual, .. })) => {
            assert_eq!(tip, a);
            assert_eq!(actual, Some(a));
        }
        (Err(ForgeError::BranchMoved { actual, .. }), Ok(())) => {
            assert_eq!(tip, b);
            assert_eq!(actual, Some(b));
        }
        other => panic!("exactly one move must win: {other:?}"),
    }
}

/// Collects log output of the current thread.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
#[allow(clippy::too_many_lines)] // One scenario, read top to bottom.
async fn the_token_never_appears_in_errors_logs_or_git_config() {
    upkeep_testkit::install_crypto_provider();
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let fake = FakeGitLab::start().await;
    fake.create_project(PROJECT);
    let work = tempfile::tempdir().unwrap();
    let secret = "glpat-very-secret-token-xyz";
    fake.set_token(secret);
    let mut texts = Vec::new();
    let mut describe = |err: &ForgeError| {
        let mut text = format!("{err} | {err:?}");
        let mut source = std::error::Error::source(err);
        while let Some(s) = source {
            let _ = write!(text, " | {s} | {s:?}");
            source = s.source();
        }
        texts.push(text);
    };

    // A wrong token: rejected at connect time, and the rejected token is not echoed.
    let wrong = GitLab::connect(
        GitLabOptions::new(
            fake.base_url(),
            SecretString::from("glpat-wrong-token".to_owned()),
            work.path(),
        )
        .with_retry(RetryPolicy::fast()),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(wrong, ForgeError::Unauthorized { .. }),
        "{wrong:?}"
    );
    describe(&wrong);

    let forge = GitLab::connect(
        GitLabOptions::new(
            fake.base_url(),
            SecretString::from(secret.to_owned()),
            work.path(),
        )
        .with_retry(RetryPolicy::fast()),
    )
    .await
    .unwrap();
    assert!(!format!("{forge:?}").contains(secret));

    // A server that echoes the token in an error body.
    fake.faults().script(
        Endpoint::get("/api/v4/projects/{id}/repository/tags"),
        10,
        Fault::Status {
            status: 500,
            body: format!(r#"{{"message":"boom for token {secret}"}}"#),
        },
    );
    describe(&forge.tags(&repo()).await.unwrap_err());
    fake.faults().clear();
    describe(
        &forge
            .branch_tip(&RepoId::new("team/missing"), "main")
            .await
            .unwrap_err(),
    );

    // A branch move goes through git with the token as a credential.
    let old = fake.branch_tip(PROJECT, "main").unwrap();
    fake.set_branch(PROJECT, "stable", &old);
    let new = fake.commit(PROJECT, "main", "next");
    forge
        .move_branch(
            &repo(),
            &BranchMove {
                branch: "stable".into(),
                expected_old: old.clone(),
                new: new.clone(),
                allow_backwards: false,
            },
        )
        .await
        .unwrap();
    let lost = forge
        .move_branch(
            &repo(),
            &BranchMove {
                branch: "stable".into(),
                expected_old: old,
                new,
                allow_backwards: false,
            },
        )
        .await
        .unwrap_err();
    describe(&lost);

    for text in &texts {
        assert!(!text.contains(secret), "token leaked into an error: {text}");
    }
    std::io::stdout().flush().ok();
    let logged = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        !logged.is_empty(),
        "the adapter logs something at trace level"
    );
    assert!(!logged.contains(secret), "token leaked into logs");
    for entry in walk(work.path()) {
        if entry.is_file() {
            let bytes = fs_err::read(&entry).unwrap();
            assert!(
                !String::from_utf8_lossy(&bytes).contains(secret),
                "token written to {}",
                entry.display()
            );
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in fs_err::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test]
async fn access_of_a_maintainer_allows_pushing_and_merge_requests() {
    let h = harness().await;
    let access = h.forge.access(&repo()).await.unwrap();
    assert!(access.is_sufficient(), "{access:?}");
    assert_eq!(access.fix, None);
    assert!(
        access.detail.contains("Maintainer (40)"),
        "{}",
        access.detail
    );
    assert!(!format!("{access:?}").contains(TOKEN));
}

#[tokio::test]
async fn access_below_developer_is_refused_with_the_role_to_ask_for() {
    let h = harness().await;
    h.fake.set_access_level(PROJECT, Some(30));
    assert!(h.forge.access(&repo()).await.unwrap().is_sufficient());
    h.fake.set_access_level(PROJECT, Some(20));
    let access = h.forge.access(&repo()).await.unwrap();
    assert_eq!(access.can_push, Some(false), "{access:?}");
    assert_eq!(access.can_open_change_requests, Some(false), "{access:?}");
    assert!(access.detail.contains("Reporter (20)"), "{}", access.detail);
    assert!(
        access.fix.as_deref().unwrap().contains("Developer role"),
        "{access:?}"
    );
}

#[tokio::test]
async fn access_without_a_membership_shown_is_unknown() {
    let h = harness().await;
    h.fake.set_access_level(PROJECT, None);
    let access = h.forge.access(&repo()).await.unwrap();
    assert_eq!(access.can_push, None, "{access:?}");
    assert_eq!(access.can_open_change_requests, None, "{access:?}");
    assert!(!access.is_sufficient() && !access.is_insufficient());
    assert!(access.fix.is_some());
}

// ----- protected branches ------------------------------------------------------------------

const DEVELOPER: u32 = 30;
const MAINTAINER: u32 = 40;

/// `stable` one commit behind `main`, protected for Maintainers (no force push).
fn protected_stable(h: &GitLabHarness) -> (String, String) {
    let old = h.fake.branch_tip(PROJECT, "main").unwrap();
    h.fake.set_branch(PROJECT, "stable", &old);
    let new = h.fake.commit(PROJECT, "main", "fix: next");
    h.fake
        .protect_branch(PROJECT, "stable", MAINTAINER, MAINTAINER, false);
    (old, new)
}

#[tokio::test]
async fn branch_access_tells_who_may_move_a_protected_branch() {
    let h = harness().await;
    protected_stable(&h);

    let maintainer = h.forge.branch_access(&repo(), "stable").await.unwrap();
    assert_eq!(maintainer.protected, Some(true), "{maintainer:?}");
    assert_eq!(maintainer.can_update, Some(true), "{maintainer:?}");
    assert_eq!(maintainer.fix, None);
    assert!(
        maintainer.detail.contains("allowed to push: Maintainers")
            && maintainer
                .detail
                .contains("force pushes (rollbacks) refused")
            && maintainer.detail.contains("Maintainer (40)"),
        "{}",
        maintainer.detail
    );

    h.fake.set_access_level(PROJECT, Some(DEVELOPER));
    let developer = h.forge.branch_access(&repo(), "stable").await.unwrap();
    assert_eq!(developer.protected, Some(true), "{developer:?}");
    assert_eq!(developer.can_update, Some(false), "{developer:?}");
    assert!(developer.is_refused());
    assert!(
        developer.fix.as_deref().unwrap().starts_with(
            "`stable` is protected; the token's user needs the Maintainer role or to be \
             allowed to push in the rule"
        ),
        "{developer:?}"
    );

    // A rule letting Developers push: the Developer may move it.
    h.fake
        .protect_branch(PROJECT, "stable", DEVELOPER, MAINTAINER, false);
    let allowed = h.forge.branch_access(&repo(), "stable").await.unwrap();
    assert_eq!(allowed.can_update, Some(true), "{allowed:?}");

    // A wildcard rule protects too; an unprotected branch is said to be so.
    h.fake.commit(PROJECT, "release/1.0", "release");
    h.fake
        .protect_branch(PROJECT, "release/*", MAINTAINER, MAINTAINER, false);
    let release = h.forge.branch_access(&repo(), "release/1.0").await.unwrap();
    assert_eq!(
        (release.protected, release.can_update),
        (Some(true), Some(false))
    );
    h.fake.commit(PROJECT, "feature", "work");
    let feature = h.forge.branch_access(&repo(), "feature").await.unwrap();
    assert_eq!(
        (feature.protected, feature.can_update),
        (Some(false), Some(true))
    );
}

#[tokio::test]
async fn the_default_branch_is_protected_for_maintainers_as_on_a_new_gitlab_project() {
    let h = harness().await;
    h.fake.set_access_level(PROJECT, Some(DEVELOPER));
    let main = h.forge.branch_access(&repo(), "main").await.unwrap();
    assert_eq!((main.protected, main.can_update), (Some(true), Some(false)));
    let access = h.forge.access(&repo()).await.unwrap();
    assert!(access.is_sufficient(), "{access:?}");
    assert!(
        access.detail.contains("not push to protected branches"),
        "{}",
        access.detail
    );
}

#[tokio::test]
async fn a_developer_cannot_promote_to_a_protected_branch_and_a_maintainer_can() {
    let h = harness().await;
    let (old, new) = protected_stable(&h);

    h.fake.set_access_level(PROJECT, Some(DEVELOPER));
    let err = h
        .forge
        .move_branch(&repo(), &forward(&old, &new))
        .await
        .unwrap_err();
    assert!(matches!(err, ForgeError::Forbidden { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(
            "GitLab refused moving `stable` of team/services/api: You are not allowed to push \
             code to protected branches on this project."
        ),
        "{text}"
    );
    assert!(
        text.contains("the token's user needs the Maintainer role"),
        "{text}"
    );
    assert_eq!(h.fake.branch_tip(PROJECT, "stable"), Some(old.clone()));

    h.fake.set_access_level(PROJECT, Some(MAINTAINER));
    h.forge
        .move_branch(&repo(), &forward(&old, &new))
        .await
        .unwrap();
    assert_eq!(h.fake.branch_tip(PROJECT, "stable"), Some(new));
}

#[tokio::test]
async fn a_rollback_of_a_protected_branch_needs_the_rule_to_allow_force_pushes() {
    let h = harness().await;
    let (old, new) = protected_stable(&h);
    h.forge
        .move_branch(&repo(), &forward(&old, &new))
        .await
        .unwrap();
    let rollback = BranchMove {
        branch: "stable".into(),
        expected_old: new.clone(),
        new: old.clone(),
        allow_backwards: true,
    };

    // GitLab refuses a force push to a protected branch whatever the role.
    let err = h.forge.move_branch(&repo(), &rollback).await.unwrap_err();
    assert!(matches!(err, ForgeError::Forbidden { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("You are not allowed to force push code to a protected branch"),
        "{text}"
    );
    assert!(text.contains("Allowed to force push"), "{text}");
    assert_eq!(h.fake.branch_tip(PROJECT, "stable"), Some(new.clone()));

    // A Developer is refused even where force pushes are allowed: pushing needs the role.
    h.fake
        .protect_branch(PROJECT, "stable", MAINTAINER, MAINTAINER, true);
    h.fake.set_access_level(PROJECT, Some(DEVELOPER));
    let err = h.forge.move_branch(&repo(), &rollback).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("You are not allowed to push code to protected branches"),
        "{err}"
    );

    h.fake.set_access_level(PROJECT, Some(MAINTAINER));
    h.forge.move_branch(&repo(), &rollback).await.unwrap();
    assert_eq!(h.fake.branch_tip(PROJECT, "stable"), Some(old));
}

// ----- GitLab Free -------------------------------------------------------------------------

#[tokio::test]
async fn on_free_changes_requested_come_from_the_reviewers_api() {
    let h = harness().await;
    h.fake.commit(PROJECT, "feature", "change");
    h.forge
        .upsert_change_request(&repo(), &spec("feature"))
        .await
        .unwrap();
    h.fake.request_changes(PROJECT, 1, "ann");
    // Free has no `requested_changes` merge status; the reviewer's own state says it.
    let raw = &h.fake.merge_requests(PROJECT)[0];
    assert_ne!(raw["detailed_merge_status"], "requested_changes", "{raw}");
    let cr = h.forge.change_request(&repo(), 1).await.unwrap();
    assert_eq!(cr.state, ChangeRequestState::ChangesRequested);
    h.fake.approve(PROJECT, 1, "ann");
    let cr = h.forge.change_request(&repo(), 1).await.unwrap();
    assert_eq!(cr.state, ChangeRequestState::Approved);
}

fn with_people(head: &str) -> ChangeRequestSpec {
    let mut s = spec(head);
    s.reviewers = vec!["bob".into(), "ann".into()];
    s.assignees = vec!["dan".into(), "carl".into()];
    s
}

#[tokio::test]
async fn on_free_one_reviewer_and_one_assignee_are_set_the_rest_reported_once() {
    let h = harness().await;
    for user in ["ann", "bob", "carl", "dan"] {
        h.fake.add_user(user);
    }
    h.fake.commit(PROJECT, "feature", "change");
    let first = h
        .forge
        .upsert_change_request(&repo(), &with_people("feature"))
        .await
        .unwrap();
    assert_eq!(first.action, UpsertAction::Created);
    // The first configured of each (not the lowest user id) is the one kept.
    let raw = &h.fake.merge_requests(PROJECT)[0];
    assert_eq!(raw["reviewers"].as_array().unwrap().len(), 1, "{raw}");
    assert_eq!(raw["reviewers"][0]["username"], "bob");
    assert_eq!(raw["assignees"][0]["username"], "dan");
    let left_out: Vec<_> = first
        .not_applied
        .iter()
        .map(|n| (n.user.as_str(), n.role))
        .collect();
    assert_eq!(
        left_out,
        [
            ("ann", PersonRole::Reviewer),
            ("carl", PersonRole::Assignee)
        ]
    );
    assert!(
        first.not_applied[0].reason.contains("one reviewer"),
        "{:?}",
        first.not_applied
    );

    // The next runs find the merge request as Free keeps it: nothing edited, nothing
    // reported again.
    let edits = Endpoint::new(
        http::Method::PUT,
        "/api/v4/projects/{id}/merge_requests/{iid}",
    );
    for _ in 0..2 {
        let again = h
            .forge
            .upsert_change_request(&repo(), &with_people("feature"))
            .await
            .unwrap();
        assert_eq!(again.action, UpsertAction::Unchanged);
        assert!(again.not_applied.is_empty(), "{:?}", again.not_applied);
    }
    assert_eq!(h.fake.faults().log().count(&edits), 0);

    // A changed title is an edit, but says nothing about the people again.
    let mut retitled = with_people("feature");
    retitled.title = "Maintenance (again)".into();
    let updated = h
        .forge
        .upsert_change_request(&repo(), &retitled)
        .await
        .unwrap();
    assert_eq!(updated.action, UpsertAction::Updated);
    assert!(updated.not_applied.is_empty(), "{:?}", updated.not_applied);
}

#[tokio::test]
async fn on_premium_every_reviewer_and_assignee_is_set() {
    let h = harness().await;
    h.fake.set_tier(Tier::Premium);
    for user in ["ann", "bob", "carl", "dan"] {
        h.fake.add_user(user);
    }
    h.fake.commit(PROJECT, "feature", "change");
    let first = h
        .forge
        .upsert_change_request(&repo(), &with_people("feature"))
        .await
        .unwrap();
    assert!(first.not_applied.is_empty(), "{:?}", first.not_applied);
    let raw = &h.fake.merge_requests(PROJECT)[0];
    assert_eq!(raw["reviewers"].as_array().unwrap().len(), 2, "{raw}");
    assert_eq!(raw["assignees"].as_array().unwrap().len(), 2, "{raw}");
    let again = h
        .forge
        .upsert_change_request(&repo(), &with_people("feature"))
        .await
        .unwrap();
    assert_eq!(again.action, UpsertAction::Unchanged);

    // Premium also has the merge check: the status says it too.
    h.fake.request_changes(PROJECT, 1, "ann");
    assert_eq!(
        h.fake.merge_requests(PROJECT)[0]["detailed_merge_status"],
        "requested_changes"
    );
    let cr = h.forge.change_request(&repo(), 1).await.unwrap();
    assert_eq!(cr.state, ChangeRequestState::ChangesRequested);
}

// ----- promotion reads ---------------------------------------------------------------------

/// `stable` two commits behind `main`, protected for Maintainers; the log reset.
fn stable_two_behind(h: &GitLabHarness) -> (String, String) {
    let (old, _) = protected_stable(h);
    let new = h.fake.commit(PROJECT, "main", "feat: two (!7)");
    h.fake.faults().reset_log();
    (old, new)
}

#[tokio::test]
async fn promotion_reads_answer_tips_comparison_and_access_in_two_requests() {
    let h = harness().await;
    let (old, new) = stable_two_behind(&h);

    let reads = h
        .forge
        .promotion_reads(&repo(), "main", "stable")
        .await
        .unwrap();
    let log = h.fake.faults().log();
    assert_eq!(log.total(), 2, "{log:?}");
    assert_eq!(
        log.count(&Endpoint::get(
            "/api/v4/projects/{id}/repository/branches/{branch}"
        )),
        1
    );
    assert_eq!(
        log.count(&Endpoint::get("/api/v4/projects/{id}/repository/compare")),
        1
    );
    assert_eq!(reads.source_tip.as_deref(), Some(new.as_str()));
    assert_eq!(reads.target_tip.as_deref(), Some(old.as_str()));
    let read = reads
        .comparison
        .expect("a fast-forward is compared in the reads");
    let asked = h.forge.compare(&repo(), &old, &new).await.unwrap();
    assert_eq!((read.ahead_by, read.behind_by), (2, 0));
    assert_eq!(read.commits, asked.commits, "same commits, newest first");
    assert_eq!(read.commits[0].subject, "feat: two (!7)");

    // A Maintainer may push to a Maintainers-only branch.
    let access = reads.target_access.expect("access read with the target");
    assert_eq!(
        (access.protected, access.can_update, access.fix),
        (Some(true), Some(true), None)
    );
}

#[tokio::test]
async fn promotion_reads_refuse_a_protected_target_with_what_the_user_needs() {
    let h = harness().await;
    stable_two_behind(&h);
    let access = |h: &GitLabHarness| {
        let forge = h.forge.clone();
        async move {
            forge
                .promotion_reads(&repo(), "main", "stable")
                .await
                .unwrap()
                .target_access
                .expect("access read with the target")
        }
    };

    // A Developer on a Maintainers-only branch: refused, with the role or rule to ask for.
    h.fake.set_access_level(PROJECT, Some(DEVELOPER));
    let developer = access(&h).await;
    assert!(developer.is_refused(), "{developer:?}");
    assert_eq!(
        developer.fix.as_deref(),
        Some(
            "`stable` is protected; the token's user needs the Maintainer role or to be \
             allowed to push in the rule (Settings > Repository > Protected branches)"
        )
    );
    // The same words as the fuller read that the plan used before.
    let full = h.forge.branch_access(&repo(), "stable").await.unwrap();
    assert_eq!(full.fix, developer.fix);

    // "Developers + Maintainers": the Developer may.
    h.fake
        .protect_branch(PROJECT, "stable", DEVELOPER, MAINTAINER, false);
    let allowed = access(&h).await;
    assert_eq!(allowed.can_update, Some(true), "{allowed:?}");
    assert!(
        allowed.detail.contains("Developers + Maintainers"),
        "{allowed:?}"
    );

    // "No one": not even a Maintainer.
    h.fake
        .protect_branch(PROJECT, "stable", 0, MAINTAINER, false);
    h.fake.set_access_level(PROJECT, Some(MAINTAINER));
    let no_one = access(&h).await;
    assert!(no_one.is_refused(), "{no_one:?}");
    assert!(
        no_one
            .fix
            .as_deref()
            .is_some_and(|f| f.contains("allowed to push in the rule")),
        "{no_one:?}"
    );

    // Unprotected: a Reporter may not push at all.
    h.fake.unprotect_branch(PROJECT, "stable");
    h.fake.set_access_level(PROJECT, Some(20));
    let reporter = access(&h).await;
    assert_eq!(reporter.protected, Some(false), "{reporter:?}");
    assert!(reporter.is_refused(), "{reporter:?}");
    assert!(
        reporter
            .fix
            .as_deref()
            .is_some_and(|f| f.contains("Developer role or higher")),
        "{reporter:?}"
    );
}

#[tokio::test]
async fn promotion_reads_leave_a_diverged_target_to_compare() {
    let h = harness().await;
    let (_, new) = stable_two_behind(&h);
    let hotfix = h.fake.commit(PROJECT, "stable", "fix: hotfix on stable");
    let (reads, requests) = promotion_reads(&h).await;
    assert_eq!(requests, 2);
    assert_eq!(reads.source_tip.as_deref(), Some(new.as_str()));
    assert_eq!(reads.target_tip.as_deref(), Some(hotfix.as_str()));
    assert_eq!(
        reads.comparison, None,
        "not a fast-forward: left to compare"
    );
    let asked = h.forge.compare(&repo(), &hotfix, &new).await.unwrap();
    assert_eq!((asked.ahead_by, asked.behind_by), (2, 1));
}

#[tokio::test]
async fn promotion_reads_of_an_even_target_and_of_a_target_ahead() {
    let h = harness().await;
    let tip = h.fake.branch_tip(PROJECT, "main").unwrap();
    h.fake.set_branch(PROJECT, "stable", &tip);
    let (even, requests) = promotion_reads(&h).await;
    assert_eq!(requests, 2);
    assert_eq!(even.source_tip.as_deref(), Some(tip.as_str()));
    assert_eq!(even.target_tip.as_deref(), Some(tip.as_str()));
    let cmp = even.comparison.expect("even");
    assert_eq!((cmp.ahead_by, cmp.behind_by), (0, 0));

    // `stable` ahead of `main`: the compare names no source commit; its tip is read.
    let ahead = h.fake.commit(PROJECT, "stable", "fix: only on stable");
    let (reads, requests) = promotion_reads(&h).await;
    assert_eq!(requests, 3);
    assert_eq!(reads.source_tip.as_deref(), Some(tip.as_str()));
    assert_eq!(reads.target_tip.as_deref(), Some(ahead.as_str()));
    assert_eq!(reads.comparison, None);
}

#[tokio::test]
async fn promotion_reads_say_which_branch_or_project_is_missing() {
    let h = harness().await;
    let tip = h.fake.branch_tip(PROJECT, "main").unwrap();
    let reads = h
        .forge
        .promotion_reads(&repo(), "main", "stable")
        .await
        .unwrap();
    assert_eq!(reads.source_tip.as_deref(), Some(tip.as_str()));
    assert_eq!(reads.target_tip, None);

    h.fake.set_branch(PROJECT, "stable", &tip);
    let reads = h
        .forge
        .promotion_reads(&repo(), "nope", "stable")
        .await
        .unwrap();
    assert_eq!(reads.source_tip, None);
    assert_eq!(reads.target_tip.as_deref(), Some(tip.as_str()));
    assert_eq!(reads.comparison, None);

    let err = h
        .forge
        .promotion_reads(&RepoId::new("team/services/gone"), "main", "stable")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ForgeError::NotFound { what, .. } if what.contains("project team/services/gone")),
        "{err:?}"
    );
}

#[tokio::test]
async fn after_the_reads_a_move_is_a_git_push_with_no_api_request() {
    let h = harness().await;
    let (old, new) = stable_two_behind(&h);
    h.forge
        .promotion_reads(&repo(), "main", "stable")
        .await
        .unwrap();
    h.fake.faults().reset_log();
    // The push goes to the project's web URL + `.git` (learnt from the branch's page), over
    // HTTP with the token, as to GitLab's Workhorse; the API is not asked.
    h.forge
        .move_branch(&repo(), &forward(&old, &new))
        .await
        .unwrap();
    assert_eq!(h.fake.faults().log().total(), 0);
    assert_eq!(h.fake.branch_tip(PROJECT, "stable"), Some(new.clone()));

    // GitLab's `pre-receive` refusal comes back the same way over HTTP, with the fix.
    let next = h.fake.commit(PROJECT, "main", "fix: three");
    h.fake.set_access_level(PROJECT, Some(DEVELOPER));
    let err = h
        .forge
        .move_branch(&repo(), &forward(&new, &next))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("You are not allowed to push code to protected branches")
            && text.contains("the token's user needs the Maintainer role"),
        "{text}"
    );
    assert_eq!(h.fake.branch_tip(PROJECT, "stable"), Some(new));
}

#[tokio::test]
async fn git_over_http_wants_the_token_as_gitlab_does() {
    let h = harness().await;
    let url = format!("{}/{PROJECT}.git", h.fake.base_url());
    let dir = tempfile::tempdir().unwrap();
    // Off the runtime's thread: the fake answers on it.
    let ls_remote = |url: String| {
        let cwd = dir.path().to_owned();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new("git")
                .args(["ls-remote", &url])
                .env("GIT_TERMINAL_PROMPT", "0")
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .current_dir(cwd)
                .output()
                .unwrap()
        })
    };
    let anonymous = ls_remote(url.clone()).await.unwrap();
    assert!(!anonymous.status.success(), "{anonymous:?}");
    // Credentials are asked for before anything is said about the project.
    let unknown = ls_remote(format!("{}/nobody/nothing.git", h.fake.base_url()))
        .await
        .unwrap();
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("could not read Username"),
        "{unknown:?}"
    );
    let with_token = ls_remote(url.replacen("http://", &format!("http://oauth2:{TOKEN}@"), 1))
        .await
        .unwrap();
    assert!(with_token.status.success(), "{with_token:?}");
    let main = h.fake.branch_tip(PROJECT, "main").unwrap();
    assert!(
        String::from_utf8_lossy(&with_token.stdout).contains(&format!("{main}\trefs/heads/main")),
        "{with_token:?}"
    );
}

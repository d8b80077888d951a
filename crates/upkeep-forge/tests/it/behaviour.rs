//! The behaviour every [`Forge`] adapter must have, written once and run against each.
//!
//! An adapter's test module builds a [`Harness`] (the adapter under test plus the controls
//! only its backing store has: pushing commits, setting CI signals, reviewing, merging) and
//! expands [`behaviour_suite!`] with an async constructor for it, which generates one
//! `#[tokio::test]` per case:
//!
//! ```ignore
//! async fn harness() -> MyHarness { ... }
//! crate::behaviour::behaviour_suite!(harness);
//! ```
//!
//! Each case gets a fresh harness, so cases never see each other's branches or change
//! requests. Every harness starts with a repository whose `main` branch has one commit.

use std::sync::Arc;

use async_trait::async_trait;
use upkeep_forge::{
    BranchMove, ChangeRequestSpec, ChangeRequestState, Forge, ForgeError, RepoId, UpsertAction,
    Verdict,
};

/// A forward move of `stable` from `old` to `new`.
pub(crate) fn forward(old: impl Into<String>, new: impl Into<String>) -> BranchMove {
    BranchMove {
        branch: "stable".into(),
        expected_old: old.into(),
        new: new.into(),
        allow_backwards: false,
    }
}

/// A CI signal a harness can put on a commit. Adapters decide how (a commit status, a check
/// run, a pipeline, a recorded file); the suite only cares about the merged verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    /// Passed.
    Success,
    /// Failed.
    Failure,
    /// Still running.
    Pending,
}

/// A review a harness can leave on a change request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Review {
    /// Approve (GitHub review `APPROVED`, GitLab approval).
    Approve,
    /// Ask for changes (GitHub review `CHANGES_REQUESTED`; GitLab: unapprove + a blocking
    /// state such as "requested changes").
    RequestChanges,
}

/// An adapter under test plus the controls of its backing store.
#[async_trait]
pub(crate) trait Harness: Send + Sync {
    /// The adapter under test.
    fn forge(&self) -> Arc<dyn Forge>;

    /// The repository the cases work in. Its `main` branch exists with one commit.
    fn repo(&self) -> RepoId;

    /// Adds a commit to `branch` in the backing bare repository (not through the adapter)
    /// and returns its SHA. A missing branch is first created at the tip of `main`.
    async fn commit_on(&self, branch: &str, message: &str) -> String;

    /// Points `branch` at `sha` in the backing bare repository (creating it, or moving it
    /// anywhere, not through the adapter).
    async fn set_branch(&self, branch: &str, sha: &str);

    /// Puts a CI signal named `name` on `sha`. A second call with the same name replaces
    /// the first.
    async fn set_ci(&self, sha: &str, name: &str, signal: Signal);

    /// Leaves a review on change request `number` as `user`. A user's latest review
    /// replaces their earlier ones.
    async fn review(&self, number: u64, user: &str, review: Review);

    /// Merges change request `number` the way the forge's merge button would.
    async fn merge(&self, number: u64);

    /// Closes change request `number` without merging.
    async fn close(&self, number: u64);
}

/// A harness whose backing store can protect branches, for [`protection_suite!`].
///
/// "Bypass" is whatever lets the token's user move a protected branch on that forge
/// (GitHub: the Admin role and a rule that does not include administrators; GitLab: a
/// role the rule allows to push).
#[async_trait]
pub(crate) trait ProtectingHarness: Harness {
    /// Protects `branch`: only a user who may bypass the rule moves it, and nobody
    /// rewrites it (a rollback) unless `allow_rewrites`.
    async fn protect(&self, branch: &str, allow_rewrites: bool);

    /// Whether the token's user may bypass branch protection.
    async fn set_bypass(&self, bypass: bool);
}

/// Generates one `#[tokio::test]` per protection case (promotion and rollback against a
/// protected target), each with a fresh harness from the given
/// `async fn() -> impl ProtectingHarness`.
macro_rules! protection_suite {
    ($make:path) => {
        $crate::behaviour::behaviour_suite!(@cases $make;
            protected_target_refuses_a_move_without_bypass,
            protected_target_rollback_needs_rewrites_allowed,
        );
    };
}
pub(crate) use protection_suite;

/// Generates one `#[tokio::test]` per behaviour case, each with a fresh harness from the
/// given `async fn() -> impl Harness`.
macro_rules! behaviour_suite {
    ($make:path) => {
        $crate::behaviour::behaviour_suite!(@cases $make;
            find_create_and_reupsert_yield_one,
            upsert_updates_title_body_and_labels,
            drafts_round_trip,
            review_and_merge_states,
            closed_state_and_lookup_of_closed,
            branch_tip_and_missing_branch,
            compare_counts_and_commits,
            move_branch_fast_forward,
            move_branch_loses_cas_when_branch_moved,
            move_branch_refuses_backwards_unless_allowed,
            tags_list_and_create,
            ci_verdicts,
        );
    };
    (@cases $make:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let harness = $make().await;
                $crate::behaviour::$case(&harness).await;
            }
        )*
    };
}
pub(crate) use behaviour_suite;

fn spec(head: &str, title: &str) -> ChangeRequestSpec {
    ChangeRequestSpec {
        head: head.into(),
        base: "main".into(),
        title: title.into(),
        body: format!("body of {title}"),
        labels: vec!["maintenance".into()],
        reviewers: vec![],
        assignees: vec![],
        draft: false,
    }
}

/// No change request → created → the same spec again is `Unchanged` → still one.
pub(crate) async fn find_create_and_reupsert_yield_one(h: &impl Harness) {
    let forge = h.forge();
    let repo = h.repo();
    let head = "feature/maintenance-26-01-02";
    h.commit_on(head, "bump deps").await;

    assert_eq!(
        forge.find_open_change_request(&repo, head).await.unwrap(),
        None
    );

    let spec = spec(head, "Maintenance 2026-01-02");
    let created = forge.upsert_change_request(&repo, &spec).await.unwrap();
    assert_eq!(created.action, UpsertAction::Created);
    let cr = &created.change_request;
    assert_eq!(cr.head, head);
    assert_eq!(cr.base, "main");
    assert_eq!(cr.title, spec.title);
    assert_eq!(cr.body, spec.body);
    assert_eq!(cr.state, ChangeRequestState::Open);
    assert!(!cr.draft);
    assert!(cr.labels.contains(&"maintenance".to_owned()), "{cr:?}");
    assert!(!cr.url.is_empty());

    let again = forge.upsert_change_request(&repo, &spec).await.unwrap();
    assert_eq!(again.action, UpsertAction::Unchanged);
    assert_eq!(again.change_request.number, cr.number);

    let found = forge
        .find_open_change_request(&repo, head)
        .await
        .unwrap()
        .expect("the change request is found by its head");
    assert_eq!(found.number, cr.number);
    assert_eq!(found.title, spec.title);

    // A different head is a different change request.
    h.commit_on("other", "x").await;
    assert_eq!(
        forge
            .find_open_change_request(&repo, "other")
            .await
            .unwrap(),
        None
    );
}

/// Re-upserting with a new title, body and an extra label updates the one change request.
pub(crate) async fn upsert_updates_title_body_and_labels(h: &impl Harness) {
    let forge = h.forge();
    let repo = h.repo();
    let head = "feature/update-me";
    h.commit_on(head, "first").await;
    let first = forge
        .upsert_change_request(&repo, &spec(head, "First title"))
        .await
        .unwrap();

    let mut changed = spec(head, "Second title");
    changed.body = "a new body\n\n- item".into();
    changed.labels.push("dependencies".into());
    let updated = forge.upsert_change_request(&repo, &changed).await.unwrap();
    assert_eq!(updated.action, UpsertAction::Updated);
    assert_eq!(updated.change_request.number, first.change_request.number);
    assert_eq!(updated.change_request.title, "Second title");

    let read = forge
        .change_request(&repo, first.change_request.number)
        .await
        .unwrap();
    assert_eq!(read.title, "Second title");
    assert_eq!(read.body, "a new body\n\n- item");
    for label in ["maintenance", "dependencies"] {
        assert!(read.labels.iter().any(|l| l == label), "{label}: {read:?}");
    }
    assert_eq!(read.state, ChangeRequestState::Open);
}

/// A draft is opened as a draft and reads back as one, with the title as given.
pub(crate) async fn drafts_round_trip(h: &impl Harness) {
    let forge = h.forge();
    let repo = h.repo();
    h.commit_on("draft-branch", "wip").await;
    let mut draft = spec("draft-branch", "Work in progress");
    draft.draft = true;
    let created = forge.upsert_change_request(&repo, &draft).await.unwrap();
    assert!(created.change_request.draft);
    assert_eq!(created.change_request.title, "Work in progress");
    let read = forge
        .change_request(&repo, created.change_request.number)
        .await
        .unwrap();
    assert!(read.draft);
    assert_eq!(read.title, "Work in progress");
    let again = forge.upsert_change_request(&repo, &draft).await.unwrap();
    assert_eq!(again.action, UpsertAction::Unchanged);
}

/// open → approved (with approvers) → changes requested → approved by all → merged, and a
/// merged change request is no longer found as open.
pub(crate) async fn review_and_merge_states(h: &impl Harness) {
    let forge = h.forge();
    let repo = h.repo();
    let head = "feature/reviewed";
    h.commit_on(head, "change").await;
    let number = forge
        .upsert_change_request(&repo, &spec(head, "Reviewed"))
        .await
        .unwrap()
        .change_request
        .number;
    let state = |n| {
        let forge = forge.clone();
        let repo = repo.clone();
        async move { forge.change_request(&repo, n).await.unwrap() }
    };

    let cr = state(number).await;
    assert_eq!(cr.state, ChangeRequestState::Open);
    assert!(cr.approvers.is_empty());

    h.review(number, "alice", Review::Approve).await;
    let cr = state(number).await;
    assert_eq!(cr.state, ChangeRequestState::Approved);
    assert_eq!(cr.approvers, vec!["alice".to_owned()]);

    h.review(number, "bob", Review::RequestChanges).await;
    let cr = state(number).await;
    assert_eq!(cr.state, ChangeRequestState::ChangesRequested);

    h.review(number, "bob", Review::Approve).await;
    let mut cr = state(number).await;
    assert_eq!(cr.state, ChangeRequestState::Approved);
    cr.approvers.sort();
    assert_eq!(cr.approvers, vec!["alice".to_owned(), "bob".to_owned()]);

    h.merge(number).await;
    let cr = state(number).await;
    assert_eq!(cr.state, ChangeRequestState::Merged);
    assert!(cr.merge_sha.is_some(), "{cr:?}");
    assert_eq!(
        forge.find_open_change_request(&repo, head).await.unwrap(),
        None
    );
}

/// A closed change request reads as closed, and re-upserting the same head opens a new one
/// rather than editing the closed one.
pub(crate) async fn closed_state_and_lookup_of_closed(h: &impl Harness) {
    let forge = h.forge();
    let repo = h.repo();
    let head = "feature/closed";
    h.commit_on(head, "change").await;
    let first = forge
        .upsert_change_request(&repo, &spec(head, "Will close"))
        .await
        .unwrap()
        .change_request
        .number;
    h.close(first).await;
    let cr = forge.change_request(&repo, first).await.unwrap();
    assert_eq!(cr.state, ChangeRequestState::Closed);
    assert_eq!(
        forge.find_open_change_request(&repo, head).await.unwrap(),
        None
    );
    let reopened = forge
        .upsert_change_request(&repo, &spec(head, "Will close"))
        .await
        .unwrap();
    assert_eq!(reopened.action, UpsertAction::Created);
    assert_ne!(reopened.change_request.number, first);

    match forge.change_request(&repo, 9999).await {
        Err(ForgeError::NotFound { .. }) => {}
        other => panic!("expected NotFound for an unknown number, got {other:?}"),
    }
}

/// The tip of an existing branch is its last commit; a missing branch is `None`.
pub(crate) async fn branch_tip_and_missing_branch(h: &impl Harness) {
    let forge = h.forge();
    let repo = h.repo();
    let sha = h.commit_on("tipped", "one").await;
    assert_eq!(
        forge.branch_tip(&repo, "tipped").await.unwrap().as_deref(),
        Some(sha.as_str())
    );
    let sha2 = h.commit_on("tipped", "two").await;
    assert_eq!(forge.branch_tip(&repo, "tipped").await.unwrap(), Some(sha2));
    assert_eq!(
        forge.branch_tip(&repo, "no-such-branch").await.unwrap(),
        None
    );
}

/// ahead/behind counts and the commits in head, newest first.
pub(crate) async fn compare_counts_and_commits(h: &impl Harness) {
    let forge = h.forge();
    let repo = h.repo();
    let base_tip = forge.branch_tip(&repo, "main").await.unwrap().unwrap();
    let a = h.commit_on("feature", "feature one").await;
    let b = h.commit_on("feature", "feature two").await;
    let m = h.commit_on("main", "main moves on").await;

    let cmp = forge.compare(&repo, "main", "feature").await.unwrap();
    assert_eq!((cmp.ahead_by, cmp.behind_by), (2, 1), "{cmp:?}");
    let shas: Vec<_> = cmp.commits.iter().map(|c| c.sha.as_str()).collect();
    assert_eq!(shas, vec![b.as_str(), a.as_str()]);
    assert_eq!(cmp.commits[0].subject, "feature two");
    if let Some(merge_base) = &cmp.merge_base {
        assert_eq!(merge_base, &base_tip);
    }

    let back = forge.compare(&repo, "feature", "main").await.unwrap();
    assert_eq!((back.ahead_by, back.behind_by), (1, 2));
    assert_eq!(back.commits.len(), 1);
    assert_eq!(back.commits[0].sha, m);

    let even = forge.compare(&repo, "main", "main").await.unwrap();
    assert!(even.is_even());
    assert!(even.commits.is_empty());

    // SHAs work as well as branch names.
    let by_sha = forge.compare(&repo, &base_tip, &b).await.unwrap();
    assert_eq!((by_sha.ahead_by, by_sha.behind_by), (2, 0));
}

/// A fast-forward move with the right expected tip moves the branch.
pub(crate) async fn move_branch_fast_forward(h: &impl Harness) {
    let forge = h.forge();
    let repo = h.repo();
    let old = forge.branch_tip(&repo, "main").await.unwrap().unwrap();
    h.set_branch("stable", &old).await;
    h.commit_on("main", "one").await;
    let new = h.commit_on("main", "two").await;
    forge
        .move_branch(&repo, &forward(old, new.clone()))
        .await
        .unwrap();
    assert_eq!(forge.branch_tip(&repo, "stable").await.unwrap(), Some(new));
}

/// Someone moved the branch since it was read: the move is refused and says where the
/// branch is; the branch stays where that someone put it. The compare-and-swap is judged
/// before the fast-forward rule, so the caller learns the real reason.
pub(crate) async fn move_branch_loses_cas_when_branch_moved(h: &impl Harness) {
    let forge = h.forge();
    let repo = h.repo();
    let seen = forge.branch_tip(&repo, "main").await.unwrap().unwrap();
    h.set_branch("stable", &seen).await;
    let target = h.commit_on("main", "to ship").await;
    // Somebody else advances stable after we read it.
    let theirs = h.commit_on("stable", "someone else's commit").await;
    let request = BranchMove {
        branch: "stable".into(),
        expected_old: seen.clone(),
        new: target,
        allow_backwards: false,
    };
    match forge.move_branch(&repo, &request).await {
        Err(ForgeError::BranchMoved {
            branch,
            expected,
            actual,
            ..
        }) => {
            assert_eq!(branch, "stable");
            assert_eq!(expected, seen);
            assert_eq!(actual.as_deref(), Some(theirs.as_str()));
        }
        other => panic!("expected BranchMoved, got {other:?}"),
    }
    assert_eq!(
        forge.branch_tip(&repo, "stable").await.unwrap(),
        Some(theirs)
    );

    // A missing branch cannot match any expected tip either.
    let missing = BranchMove {
        branch: "nowhere".into(),
        expected_old: seen,
        new: request.new.clone(),
        allow_backwards: false,
    };
    match forge.move_branch(&repo, &missing).await {
        Err(ForgeError::BranchMoved { actual: None, .. } | ForgeError::NotFound { .. }) => {}
        other => panic!("expected BranchMoved/NotFound for a missing branch, got {other:?}"),
    }
    assert_eq!(forge.branch_tip(&repo, "nowhere").await.unwrap(), None);
}

/// Moving a branch to a commit that is not a descendant of its tip is refused unless
/// `allow_backwards` (a rollback) is set.
pub(crate) async fn move_branch_refuses_backwards_unless_allowed(h: &impl Harness) {
    let forge = h.forge();
    let repo = h.repo();
    let base = forge.branch_tip(&repo, "main").await.unwrap().unwrap();
    let tip = h.commit_on("stable", "ahead of main").await;
    let sideways = h.commit_on("elsewhere", "diverged").await;

    for new in [&base, &sideways] {
        let request = BranchMove {
            branch: "stable".into(),
            expected_old: tip.clone(),
            new: new.clone(),
            allow_backwards: false,
        };
        match forge.move_branch(&repo, &request).await {
            Err(ForgeError::NotFastForward {
                branch, from, to, ..
            }) => {
                assert_eq!(branch, "stable");
                assert_eq!(from, tip);
                assert_eq!(&to, new);
            }
            other => panic!("expected NotFastForward to {new}, got {other:?}"),
        }
        assert_eq!(
            forge.branch_tip(&repo, "stable").await.unwrap().as_deref(),
            Some(tip.as_str())
        );
    }

    forge
        .move_branch(
            &repo,
            &BranchMove {
                branch: "stable".into(),
                expected_old: tip,
                new: base.clone(),
                allow_backwards: true,
            },
        )
        .await
        .unwrap();
    assert_eq!(forge.branch_tip(&repo, "stable").await.unwrap(), Some(base));
}

/// Tags: none at first; lightweight and annotated tags are listed, peeled to commits.
pub(crate) async fn tags_list_and_create(h: &impl Harness) {
    let forge = h.forge();
    let repo = h.repo();
    assert!(forge.tags(&repo).await.unwrap().is_empty());
    let first = forge.branch_tip(&repo, "main").await.unwrap().unwrap();
    let second = h.commit_on("main", "release 1.1").await;
    forge
        .create_tag(&repo, "v1.0.0", &first, None)
        .await
        .unwrap();
    forge
        .create_tag(&repo, "v1.1.0", &second, Some("Release 1.1.0"))
        .await
        .unwrap();
    let mut tags = forge.tags(&repo).await.unwrap();
    tags.sort_by(|a, b| a.name.cmp(&b.name));
    let got: Vec<_> = tags
        .iter()
        .map(|t| (t.name.as_str(), t.sha.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![("v1.0.0", first.as_str()), ("v1.1.0", second.as_str())]
    );

    // Creating an existing tag is an error, not a silent move.
    let err = forge
        .create_tag(&repo, "v1.0.0", &second, None)
        .await
        .expect_err("a tag that exists is not recreated");
    assert!(
        matches!(
            err,
            ForgeError::Validation { .. } | ForgeError::Conflict { .. }
        ),
        "{err:?}"
    );
}

/// No signal is `Missing` (never green); pending, failure and success come through, and a
/// failure among successes fails.
pub(crate) async fn ci_verdicts(h: &impl Harness) {
    let forge = h.forge();
    let repo = h.repo();
    let none = h.commit_on("ci", "no ci yet").await;
    let verdict = forge.ci_verdict(&repo, &none).await.unwrap();
    assert_eq!(verdict.verdict, Verdict::Missing);
    assert!(!verdict.verdict.is_success());
    assert_eq!(verdict.sha, none);

    let pending = h.commit_on("ci", "running").await;
    h.set_ci(&pending, "build", Signal::Pending).await;
    assert_eq!(
        forge.ci_verdict(&repo, &pending).await.unwrap().verdict,
        Verdict::Pending
    );

    let failing = h.commit_on("ci", "broken").await;
    h.set_ci(&failing, "build", Signal::Success).await;
    h.set_ci(&failing, "test", Signal::Failure).await;
    let verdict = forge.ci_verdict(&repo, &failing).await.unwrap();
    assert_eq!(verdict.verdict, Verdict::Failure);
    assert!(
        verdict.checks.iter().any(|c| c.name == "test"),
        "{verdict:?}"
    );

    let green = h.commit_on("ci", "fixed").await;
    h.set_ci(&green, "build", Signal::Pending).await;
    h.set_ci(&green, "build", Signal::Success).await;
    let verdict = forge.ci_verdict(&repo, &green).await.unwrap();
    assert_eq!(verdict.verdict, Verdict::Success, "{verdict:?}");
    assert_eq!(
        verdict.checks.iter().filter(|c| c.name == "build").count(),
        1,
        "the latest signal per name wins: {verdict:?}"
    );
}

/// `stable` at `main`'s first commit, `main` one ahead: returns (old, new).
async fn stable_behind_main(h: &impl Harness) -> (String, String) {
    let old = h
        .forge()
        .branch_tip(&h.repo(), "main")
        .await
        .unwrap()
        .unwrap();
    h.set_branch("stable", &old).await;
    let new = h.commit_on("main", "to promote").await;
    (old, new)
}

/// Promotion onto a protected target: a token's user who may not bypass the rule gets an
/// error naming the protection and what they need, and the branch stays; one who may
/// bypass moves it. `branch_access` says the same beforehand.
pub(crate) async fn protected_target_refuses_a_move_without_bypass(h: &impl ProtectingHarness) {
    let forge = h.forge();
    let repo = h.repo();
    let (old, new) = stable_behind_main(h).await;
    h.protect("stable", false).await;
    h.set_bypass(false).await;

    let access = forge.branch_access(&repo, "stable").await.unwrap();
    assert_eq!(access.protected, Some(true), "{access:?}");
    assert_ne!(access.can_update, Some(true), "{access:?}");
    let fix = access.fix.clone().unwrap_or_default();
    assert!(
        fix.starts_with("`stable` is protected; the token's user needs"),
        "{access:?}"
    );

    let promote = BranchMove {
        branch: "stable".into(),
        expected_old: old.clone(),
        new: new.clone(),
        allow_backwards: false,
    };
    let err = forge.move_branch(&repo, &promote).await.unwrap_err();
    match &err {
        ForgeError::BranchProtected {
            branch, message, ..
        } => {
            assert_eq!(branch, "stable");
            assert!(!message.is_empty());
        }
        other => panic!("expected BranchProtected, got {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains("protected branch `stable`"), "{text}");
    assert!(text.contains("the token's user needs"), "{text}");
    assert_eq!(
        forge.branch_tip(&repo, "stable").await.unwrap().as_deref(),
        Some(old.as_str())
    );

    h.set_bypass(true).await;
    let access = forge.branch_access(&repo, "stable").await.unwrap();
    assert_eq!(
        (access.protected, access.can_update),
        (Some(true), Some(true)),
        "{access:?}"
    );
    forge.move_branch(&repo, &promote).await.unwrap();
    assert_eq!(forge.branch_tip(&repo, "stable").await.unwrap(), Some(new));
}

/// Rollback of a protected target: a rewrite is refused (naming the protection) even for
/// a user who may bypass, until the rule allows rewrites.
pub(crate) async fn protected_target_rollback_needs_rewrites_allowed(h: &impl ProtectingHarness) {
    let forge = h.forge();
    let repo = h.repo();
    let (old, new) = stable_behind_main(h).await;
    h.set_branch("stable", &new).await;
    h.protect("stable", false).await;
    h.set_bypass(true).await;
    let rollback = BranchMove {
        branch: "stable".into(),
        expected_old: new.clone(),
        new: old.clone(),
        allow_backwards: true,
    };
    match forge.move_branch(&repo, &rollback).await {
        Err(ForgeError::BranchProtected { branch, .. }) => assert_eq!(branch, "stable"),
        other => panic!("expected BranchProtected for a rewrite, got {other:?}"),
    }
    assert_eq!(
        forge.branch_tip(&repo, "stable").await.unwrap().as_deref(),
        Some(new.as_str())
    );
    h.protect("stable", true).await;
    forge.move_branch(&repo, &rollback).await.unwrap();
    assert_eq!(forge.branch_tip(&repo, "stable").await.unwrap(), Some(old));
}

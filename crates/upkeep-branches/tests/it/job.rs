//! The one call per job: `promote` with its approval, note, history and notifications,
//! against real bare repos and the local forge.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use upkeep_branches::history::{Command, HistoryEntry, HistoryStore, SCHEMA};
use upkeep_branches::{
    Approval, ApprovalRequest, ApproveAll, ApproveDigest, Approver, Decision, End, Job, LocalNotes,
    NoteStore, Notice, Notifier, Notifiers, Promotion, Refusal, RepoOutcome, RepoResult, RepoSpec,
    RunResult, promote,
};
use upkeep_forge::local::LocalForge;
use upkeep_forge::{
    Access, BranchAccess, BranchMove, ChangeRequest, ChangeRequestSpec, CiVerdict, Comparison,
    Forge, ForgeKind, RepoId, Tag, Upserted,
};
use upkeep_testkit::bare::BareRepo;

use crate::fixture::World;
use crate::history::store;

const KEY: &str = "promotion-test";

struct Setup {
    w: World,
    history: BareRepo,
    notes: Arc<LocalNotes>,
}

fn setup() -> Setup {
    let mut w = World::new();
    w.repo("a", &[]).commit_on("main", "fix: a");
    w.repo("b", &["a"]).commit_on("main", "fix: b");
    let history = BareRepo::init(w.tmp.path().join("history.git"), w.clock.clone());
    let notes = Arc::new(LocalNotes::new(w.tmp.path().join("notes")));
    Setup { w, history, notes }
}

impl Setup {
    fn store(&self) -> HistoryStore {
        store(&self.w, &self.history, "history-clone")
    }

    fn job(&self, approver: Arc<dyn Approver>) -> Job {
        let mut job = Job::new("ann", approver, self.notes.clone(), KEY);
        job.history = Some(self.store());
        job
    }

    fn promotion(&self, specs: Vec<RepoSpec>, approver: Arc<dyn Approver>) -> Promotion {
        Promotion::new(specs, self.w.cache(), self.job(approver))
    }

    fn history(&self) -> Vec<HistoryEntry> {
        self.store().read().unwrap().entries
    }
}

#[tokio::test]
async fn a_promotion_is_recorded_with_its_approval_and_leaves_no_note() {
    let s = setup();
    let outcome = promote(&s.promotion(s.w.specs(), Arc::new(ApproveAll)))
        .await
        .unwrap();
    assert_eq!(
        outcome.end,
        End::Applied {
            result: RunResult::Success
        }
    );
    for r in ["a", "b"] {
        assert_eq!(s.w.tip(r, "stable"), s.w.tip(r, "main"));
    }
    let h = s.history();
    assert_eq!(h.len(), 1);
    let approval = h[0].approval.as_ref().unwrap();
    assert_eq!(
        (approval.by.as_str(), approval.via.as_str()),
        ("ann", "--yes")
    );
    assert_eq!(approval.digest, outcome.plan.digest);
    assert_eq!(outcome.history_commit.as_deref().map(str::len), Some(40));
    assert_eq!(s.notes.load(KEY).await.unwrap(), None);
}

/// What the crash safety is for: a run killed mid-apply left its note and one move;
/// the next call records that move before doing its own work.
#[tokio::test]
async fn the_moves_of_a_killed_run_are_recorded_by_the_next_call() {
    let s = setup();
    let (a_from, a_to) = (s.w.tip("a", "stable"), s.w.tip("a", "main"));
    let (b_from, b_to) = (s.w.tip("b", "stable"), s.w.tip("b", "main"));
    let planned = |name: &str, from: &str, to: &str| RepoResult {
        name: name.into(),
        target: "stable".into(),
        from: from.into(),
        to: to.into(),
        outcome: RepoOutcome::Planned,
        wait: None,
        tag: None,
    };
    let note = HistoryEntry {
        schema: SCHEMA,
        command: Command::Run,
        who: "bob".into(),
        when: chrono::Utc::now(),
        digest: "killedrun000".into(),
        result: RunResult::Started,
        repos: vec![
            planned("a", &a_from.to_string(), &a_to.to_string()),
            planned("b", &b_from.to_string(), &b_to.to_string()),
        ],
        gates: vec![],
        fencing: None,
        message: None,
        approval: None,
    };
    s.notes.save(KEY, &note).await.unwrap();
    // Bob's run moved `a`, then was killed.
    s.w.bare("a").set_branch("stable", a_to);

    let outcome = promote(&s.promotion(s.w.specs(), Arc::new(ApproveAll)))
        .await
        .unwrap();
    assert_eq!(
        outcome.end,
        End::Applied {
            result: RunResult::Success
        }
    );
    let h = s.history();
    assert_eq!(h.len(), 2, "{h:#?}");
    assert_eq!(
        (h[0].who.as_str(), h[0].result),
        ("bob", RunResult::Partial)
    );
    assert_eq!(h[0].repos[0].outcome, RepoOutcome::Moved);
    assert!(matches!(h[0].repos[1].outcome, RepoOutcome::Failed { .. }));
    assert_eq!(
        h[1].repos[0].outcome,
        RepoOutcome::Even,
        "a was moved by bob"
    );
    assert_eq!(h[1].repos[1].outcome, RepoOutcome::Moved);
    assert_eq!(s.notes.load(KEY).await.unwrap(), None);
}

/// Pushes to `main` of `a` while asked, `pushes` times, and approves what it was shown.
struct Moving {
    bare: BareRepo,
    pushes: u32,
    asked: AtomicU32,
}

#[async_trait]
impl Approver for Moving {
    async fn approve(&self, request: &ApprovalRequest<'_>) -> Decision {
        let n = self.asked.fetch_add(1, Ordering::SeqCst);
        assert_eq!(request.round, n + 1);
        if n < self.pushes {
            self.bare
                .commit_on("main", &format!("fix: pushed while approving {n}"));
        }
        Decision::Approved(Approval {
            by: "carol".into(),
            digest: request.plan.digest.clone(),
            at: chrono::Utc::now(),
            via: "test".into(),
        })
    }
}

/// `main` moved between approval and the first move: the old approval is void, the new
/// plan is gated and approved again, and exactly that plan moves.
#[tokio::test]
async fn the_plan_is_made_again_right_before_the_first_move() {
    let s = setup();
    let approver = Arc::new(Moving {
        bare: s.w.bare("a").clone(),
        pushes: 1,
        asked: AtomicU32::new(0),
    });
    let outcome = promote(&s.promotion(s.w.specs(), approver.clone()))
        .await
        .unwrap();
    assert_eq!(approver.asked.load(Ordering::SeqCst), 2);
    assert_eq!(
        outcome.end,
        End::Applied {
            result: RunResult::Success
        }
    );
    assert_eq!(
        s.w.tip("a", "stable"),
        s.w.tip("a", "main"),
        "the newer plan moved"
    );
    let h = s.history();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].approval.as_ref().unwrap().digest, h[0].digest);
}

/// A `main` that moves at every approval: the job gives up, moves nothing, records why.
#[tokio::test]
async fn a_plan_that_keeps_changing_moves_nothing() {
    let s = setup();
    let before = s.w.tip("a", "stable");
    let approver = Arc::new(Moving {
        bare: s.w.bare("a").clone(),
        pushes: u32::MAX,
        asked: AtomicU32::new(0),
    });
    let outcome = promote(&s.promotion(s.w.specs(), approver.clone()))
        .await
        .unwrap();
    assert_eq!(
        outcome.end,
        End::Refused(Refusal::PlanKeptChanging {
            rounds: upkeep_branches::job::MAX_ROUNDS
        })
    );
    assert_eq!(
        approver.asked.load(Ordering::SeqCst),
        upkeep_branches::job::MAX_ROUNDS
    );
    assert_eq!(s.w.tip("a", "stable"), before);
    assert_eq!(s.history()[0].result, RunResult::Refused);
}

/// An approver that waits (as a chat approval would) and sees, through `current`, that
/// the plan changed: it ends its wait with `Outdated` and is asked about the new plan.
struct Watching {
    bare: BareRepo,
    seen: Mutex<Vec<(u32, bool)>>,
}

#[async_trait]
impl Approver for Watching {
    async fn approve(&self, request: &ApprovalRequest<'_>) -> Decision {
        if request.round == 1 {
            self.bare.commit_on("main", "fix: pushed while waiting");
        }
        let current = request.current.digest().await.unwrap();
        let still = current == request.plan.digest;
        self.seen.lock().unwrap().push((request.round, still));
        if !still {
            return Decision::Outdated;
        }
        Decision::Approved(Approval {
            by: "dave".into(),
            digest: request.plan.digest.clone(),
            at: chrono::Utc::now(),
            via: "chat".into(),
        })
    }
}

#[tokio::test]
async fn a_waiting_approver_sees_the_plan_change_and_is_asked_again() {
    let s = setup();
    let approver = Arc::new(Watching {
        bare: s.w.bare("a").clone(),
        seen: Mutex::default(),
    });
    let outcome = promote(&s.promotion(s.w.specs(), approver.clone()))
        .await
        .unwrap();
    assert_eq!(*approver.seen.lock().unwrap(), [(1, false), (2, true)]);
    assert_eq!(
        outcome.end,
        End::Applied {
            result: RunResult::Success
        }
    );
    assert_eq!(outcome.approval.unwrap().by, "dave");
    assert_eq!(s.w.tip("a", "stable"), s.w.tip("a", "main"));
}

struct Says(Decision);

#[async_trait]
impl Approver for Says {
    async fn approve(&self, _: &ApprovalRequest<'_>) -> Decision {
        self.0.clone()
    }
}

#[derive(Default)]
struct Recorder(Mutex<Vec<Notice>>);

#[async_trait]
impl Notifier for Recorder {
    async fn notify(&self, notice: &Notice) -> upkeep_branches::Result<()> {
        self.0.lock().unwrap().push(notice.clone());
        Ok(())
    }
}

/// A rejection and a timeout are recorded (who said no) and told; nothing moves. A
/// stale digest given in advance is refused the same way.
#[tokio::test]
async fn rejections_timeouts_and_stale_digests_are_recorded_and_told() {
    let s = setup();
    let before = s.w.tip("a", "stable");
    let cases: Vec<Arc<dyn Approver>> = vec![
        Arc::new(Says(Decision::Rejected {
            by: "erin".into(),
            reason: Some("stage is flaky\ntoday".into()),
        })),
        Arc::new(Says(Decision::TimedOut {
            waited: std::time::Duration::from_hours(1),
        })),
        Arc::new(ApproveDigest {
            digest: "000000000000".into(),
        }),
    ];
    for approver in cases {
        let recorder = Arc::new(Recorder::default());
        let mut request = s.promotion(s.w.specs(), approver);
        request.job.notifiers = Notifiers(vec![recorder.clone()]);
        let outcome = promote(&request).await.unwrap();
        assert!(matches!(outcome.end, End::Refused(_)), "{outcome:?}");
        let notices = recorder.0.lock().unwrap();
        assert_eq!(notices.len(), 1);
        assert_eq!(
            notices[0].failure.as_deref(),
            Some(outcome.message.as_str())
        );
    }
    assert_eq!(s.w.tip("a", "stable"), before);
    let messages: Vec<String> = s
        .history()
        .iter()
        .map(|e| e.message.clone().unwrap())
        .collect();
    assert_eq!(messages.len(), 3);
    assert!(
        messages[0].starts_with("not approved: erin said no (stage is flaky\u{fffd}today)"),
        "{messages:?}"
    );
    assert!(
        messages[1].contains("nobody approved within 1h"),
        "{messages:?}"
    );
    assert!(
        messages[2].contains("approved digest 000000000000"),
        "{messages:?}"
    );
}

/// A forge whose `stable` of some repos is protected against the token's user; the rest
/// is the local forge. Counts the protection questions.
struct Protected {
    inner: Arc<LocalForge>,
    refused: Vec<RepoId>,
    asked: AtomicUsize,
}

#[async_trait]
impl Forge for Protected {
    fn kind(&self) -> ForgeKind {
        self.inner.kind()
    }
    async fn find_open_change_request(
        &self,
        r: &RepoId,
        h: &str,
    ) -> upkeep_forge::Result<Option<ChangeRequest>> {
        self.inner.find_open_change_request(r, h).await
    }
    async fn upsert_change_request(
        &self,
        r: &RepoId,
        s: &ChangeRequestSpec,
    ) -> upkeep_forge::Result<Upserted> {
        self.inner.upsert_change_request(r, s).await
    }
    async fn change_request(&self, r: &RepoId, n: u64) -> upkeep_forge::Result<ChangeRequest> {
        self.inner.change_request(r, n).await
    }
    async fn branch_tip(&self, r: &RepoId, b: &str) -> upkeep_forge::Result<Option<String>> {
        self.inner.branch_tip(r, b).await
    }
    async fn compare(
        &self,
        r: &RepoId,
        base: &str,
        head: &str,
    ) -> upkeep_forge::Result<Comparison> {
        self.inner.compare(r, base, head).await
    }
    async fn move_branch(&self, r: &RepoId, m: &BranchMove) -> upkeep_forge::Result<()> {
        self.inner.move_branch(r, m).await
    }
    async fn tags(&self, r: &RepoId) -> upkeep_forge::Result<Vec<Tag>> {
        self.inner.tags(r).await
    }
    async fn create_tag(
        &self,
        r: &RepoId,
        n: &str,
        sha: &str,
        m: Option<&str>,
    ) -> upkeep_forge::Result<()> {
        self.inner.create_tag(r, n, sha, m).await
    }
    async fn access(&self, r: &RepoId) -> upkeep_forge::Result<Access> {
        self.inner.access(r).await
    }
    async fn branch_access(&self, r: &RepoId, branch: &str) -> upkeep_forge::Result<BranchAccess> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        if self.refused.contains(r) {
            return Ok(BranchAccess {
                branch: branch.into(),
                protected: Some(true),
                can_update: Some(false),
                detail: "protected: pushes by Maintainers".into(),
                fix: Some(format!(
                    "`{branch}` is protected; the token's user needs the Maintainer role or an entry in the rule's allowed-to-push list"
                )),
            });
        }
        Ok(BranchAccess {
            branch: branch.into(),
            protected: Some(true),
            can_update: Some(true),
            detail: "protected; the token's user is an admin".into(),
            fix: None,
        })
    }
    async fn ci_verdict(&self, r: &RepoId, sha: &str) -> upkeep_forge::Result<CiVerdict> {
        self.inner.ci_verdict(r, sha).await
    }
}

/// The plan says which targets the forge will refuse to move, before anything moves; one
/// question per repo that has something to move.
#[tokio::test]
async fn a_protected_target_the_token_cannot_move_blocks_the_plan() {
    let mut s = setup();
    s.w.repo("even", &[]);
    let forge = Arc::new(Protected {
        inner: s.w.forge.clone(),
        refused: vec![s.w.id("b")],
        asked: AtomicUsize::new(0),
    });
    let specs: Vec<RepoSpec> =
        s.w.specs()
            .into_iter()
            .map(|r| RepoSpec {
                forge: forge.clone(),
                ..r
            })
            .collect();
    let before = s.w.tip("a", "stable");
    let plan = upkeep_branches::plan(
        &specs,
        &upkeep_branches::PlanOptions {
            cache_dir: s.w.cache(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        forge.asked.load(Ordering::SeqCst),
        2,
        "a and b; even has nothing to move"
    );
    let blockers: Vec<(&str, &str)> = plan.blockers().collect();
    assert_eq!(
        blockers,
        [(
            "b",
            "`stable` is protected; the token's user needs the Maintainer role or an entry in the rule's allowed-to-push list"
        )]
    );
    insta::with_settings!({filters => vec![(r"\b[0-9a-f]{12}\b", "[SHORT]")]}, {
        insta::assert_snapshot!("protected_plan", upkeep_branches::render::plan(&plan));
    });

    let outcome = promote(&s.promotion(specs, Arc::new(ApproveAll)))
        .await
        .unwrap();
    assert!(
        matches!(&outcome.end, End::Refused(Refusal::Blocked { repos }) if repos.len() == 1 && repos[0].0 == "b"),
        "{outcome:?}"
    );
    assert_eq!(s.w.tip("a", "stable"), before, "nothing moves, not even a");
    assert_eq!(s.history()[0].result, RunResult::Refused);
}

/// The history refuses the result: the note stays, and the next call records the moves
/// from it; it refuses again: the next call moves nothing before it can record them.
#[tokio::test]
async fn a_result_the_history_refused_is_recorded_by_the_next_call() {
    let s = setup();
    upkeep_testkit::git::install_pre_receive_hook(s.history.path(), "#!/bin/sh\nexit 1\n");
    let warnings = Arc::new(Mutex::new(Vec::new()));
    let mut request = s.promotion(s.w.specs(), Arc::new(ApproveAll));
    let seen = warnings.clone();
    request.job.events = Arc::new(move |e| {
        if let upkeep_branches::JobEvent::Warning(w) = e {
            seen.lock().unwrap().push((*w).to_owned());
        }
    });
    let outcome = promote(&request).await.unwrap();
    assert_eq!(
        outcome.end,
        End::Applied {
            result: RunResult::Success
        }
    );
    assert_eq!(outcome.history_commit, None);
    assert!(
        s.notes.load(KEY).await.unwrap().is_some(),
        "the note is kept"
    );
    assert_eq!(warnings.lock().unwrap().len(), 2, "{warnings:?}");

    // Still refused: the next call stops before doing anything of its own.
    s.w.bare("a").commit_on("main", "fix: more");
    let refused = promote(&s.promotion(s.w.specs(), Arc::new(ApproveAll))).await;
    assert!(
        matches!(refused, Err(upkeep_branches::Error::Git { .. })),
        "{refused:?}"
    );
    assert_ne!(
        s.w.tip("a", "stable"),
        s.w.tip("a", "main"),
        "nothing moved"
    );

    upkeep_testkit::git::install_pre_receive_hook(s.history.path(), "#!/bin/sh\nexit 0\n");
    let outcome = promote(&s.promotion(s.w.specs(), Arc::new(ApproveAll)))
        .await
        .unwrap();
    assert_eq!(
        outcome.end,
        End::Applied {
            result: RunResult::Success
        }
    );
    let h = s.history();
    assert_eq!(h.len(), 2, "{h:#?}");
    assert!(
        h[0].message.as_deref().unwrap().contains("interrupted"),
        "{h:#?}"
    );
    assert_eq!(
        h[0].repos
            .iter()
            .filter(|r| r.outcome == RepoOutcome::Moved)
            .count(),
        2
    );
    assert_eq!(s.notes.load(KEY).await.unwrap(), None);
}

/// An approver can be driven on its own, with a real current plan: what an approver that
/// waits (a chat reaction) is tested with.
#[tokio::test]
async fn an_approver_can_be_asked_outside_a_job() {
    let s = setup();
    let specs = s.w.specs();
    let options = upkeep_branches::PlanOptions {
        cache_dir: s.w.cache(),
        ..Default::default()
    };
    let planner = upkeep_branches::Planner::promotion(&specs, &options, &[]);
    let plan = planner.plan().await.unwrap();
    let gates = upkeep_branches::gates::GateReport::default();
    let watching = Watching {
        bare: s.w.bare("a").clone(),
        seen: Mutex::default(),
    };
    let request = ApprovalRequest {
        command: Command::Run,
        plan: &plan,
        gates: &gates,
        actor: "ann",
        round: 1,
        current: upkeep_branches::CurrentPlan::new(&planner),
    };
    assert_eq!(watching.approve(&request).await, Decision::Outdated);
    let approved = ApproveDigest {
        digest: plan.digest.to_uppercase(),
    }
    .approve(&request)
    .await;
    assert!(
        matches!(approved, Decision::Approved(a) if a.digest == plan.digest && a.via == "--approve")
    );
}

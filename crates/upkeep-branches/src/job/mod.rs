//! One call per job: [`promote`] does what `move-branches run` does, [`roll_back`] what
//! `move-branches rollback` does, [`preview`] what `move-branches plan` does.
//!
//! A promotion is plan → gates → approval → deploy token → in-progress note → apply →
//! history → notification, and the order matters for safety, so it is written once,
//! here, rather than in each tool that promotes:
//!
//! - an approval given in advance (`--approve <digest>`) is checked against the plan
//!   before any gate runs, and a plan whose moves the forge is known to refuse
//!   ([`crate::RepoPlan::blocked`]) stops before the gates too; both refusals are
//!   recorded;
//! - the [`Approver`] checks that it can work at all before anything is planned
//!   ([`Approver::prepare`]: a chat approver's scopes, channel and people), is asked once
//!   the gates pass, and right before the first move the job plans again and moves
//!   nothing unless the digest is the one approved (a changed plan is gated and approved
//!   again, a few times at most) and the approver still stands by it
//!   ([`Approver::confirm`]);
//! - the deploy token is taken (or checked) after approval, re-checked before each
//!   dependency level, and released at the end;
//! - a note of what is about to be applied is saved ([`NoteStore`]) before the first
//!   move and removed once the result is in the history; a run that finds a note left by
//!   a killed run first records that run's moves ([`crate::notes::reconcile`]);
//! - the approver ([`Approver::report`], in the thread of the message that asked) and the
//!   [`Notifiers`] hear how it ended.
//!
//! Nothing is printed: the caller sees the plan, the gates and the progress through
//! [`JobEvent`]s, and gets an [`Outcome`].

mod flow;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde::Serialize;

use self::flow::Flow;
use crate::apply::{ApplyEvent, ApplyOptions, ApplyReport, RunResult};
use crate::approve::{Approval, Approver};
use crate::gates::{GateContext, GateReport, Gates};
use crate::history::{Command, History, HistoryEntry, HistoryStore};
use crate::model::RepoSpec;
use crate::notes::NoteStore;
use crate::notify::Notifiers;
use crate::plan::{Plan, PlanOptions};
use crate::token::DeployToken;
use crate::{Error, Result};

/// How often a plan that changed after approval is gated and approved again before the
/// job gives up (`main` moving faster than people approve).
pub const MAX_ROUNDS: u32 = 3;

/// What a job tells its caller while it works, to show people.
#[derive(Debug)]
#[non_exhaustive]
pub enum JobEvent<'a> {
    /// The plan (again, when it changed and was made anew).
    Planned(&'a Plan),
    /// The gates' verdicts and evidence.
    Gated(&'a GateReport),
    /// A run that was killed mid-apply left a note; its moves were just recorded.
    Recovered(&'a HistoryEntry),
    /// Progress of the moves.
    Apply(&'a ApplyEvent),
    /// Something went wrong that does not change the outcome (a notification not
    /// delivered, a note not removed).
    Warning(&'a str),
}

/// Receives [`JobEvent`]s.
pub type Events = Arc<dyn Fn(&JobEvent<'_>) + Send + Sync>;

/// What every job needs besides its repos: who runs it, who approves, where it keeps
/// its note and its history, which token it holds, who is told, and where its events go.
pub struct Job {
    /// Who runs it (recorded in the history; the deploy token's holder).
    pub actor: String,
    /// Who approves the plan.
    pub approver: Arc<dyn Approver>,
    /// Where the note of a run in progress is kept.
    pub notes: Arc<dyn NoteStore>,
    /// The note's key ([`crate::notes::note_key`] of every configured repo).
    pub note_key: String,
    /// Where runs are recorded. Without a history a killed run's moves cannot be
    /// recorded, so no note is kept either.
    pub history: Option<HistoryStore>,
    /// The deploy token to hold while moving.
    pub deploy_token: Option<DeployToken>,
    /// Who hears how it ended (empty: nobody; by hand, the caller prints it).
    pub notifiers: Notifiers,
    /// Compute and show everything, move nothing, record nothing.
    pub dry_run: bool,
    /// Where events go.
    pub events: Events,
}

impl Job {
    /// A job run by `actor`, approved by `approver`, with its notes in `notes` under
    /// `note_key`; no history, no token, nobody told, events dropped.
    pub fn new(
        actor: impl Into<String>,
        approver: Arc<dyn Approver>,
        notes: Arc<dyn NoteStore>,
        note_key: impl Into<String>,
    ) -> Self {
        Self {
            actor: actor.into(),
            approver,
            notes,
            note_key: note_key.into(),
            history: None,
            deploy_token: None,
            notifiers: Notifiers::default(),
            dry_run: false,
            events: Arc::new(|_| {}),
        }
    }
}

/// A promotion: the repos, how to plan, gate and apply, and the job around it.
pub struct Promotion {
    /// The repos to promote (without the skipped ones).
    pub repos: Vec<RepoSpec>,
    /// Overrides, cache, tags.
    pub plan: PlanOptions,
    /// Repos left out of this run by the person (`--skip`): listed in the plan and
    /// recorded in the history as skipped.
    pub skipped: Vec<String>,
    /// The gates.
    pub gates: Gates,
    /// Waits, tags ([`ApplyOptions::guard`] and `rollback` are set by the job).
    pub apply: ApplyOptions,
    /// The job.
    pub job: Job,
}

impl Promotion {
    /// Promotes `repos` to their source tips, cloning into `cache_dir` when needed, with
    /// no gates and the default waits.
    pub fn new(repos: Vec<RepoSpec>, cache_dir: impl Into<PathBuf>, job: Job) -> Self {
        Self {
            repos,
            plan: PlanOptions {
                cache_dir: cache_dir.into(),
                ..PlanOptions::default()
            },
            skipped: Vec::new(),
            gates: Gates::default(),
            apply: ApplyOptions::default(),
            job,
        }
    }
}

/// A rollback of one repo's target to an earlier promotion (or `to`).
pub struct Rollback {
    /// The repo.
    pub repo: RepoSpec,
    /// The commit to go back to; default: the previous promotion in the history.
    pub to: Option<String>,
    /// Where the cached clone lives.
    pub cache_dir: PathBuf,
    /// The job.
    pub job: Job,
}

/// Why a job moved nothing although there was something to move. Every refusal is
/// recorded in the history (unless a dry run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "refusal", rename_all = "snake_case")]
pub enum Refusal {
    /// A gate failed.
    Gates {
        /// `name: summary` of each failed gate.
        failed: Vec<String>,
    },
    /// The approval was for another plan (given in advance, or the plan changed).
    StaleApproval {
        /// The digest approved.
        approved: String,
        /// The plan's digest.
        actual: String,
    },
    /// The forge will refuse to move these repos' targets (protected branches).
    Blocked {
        /// Repo and why.
        repos: Vec<(String, String)>,
    },
    /// Somebody said no.
    Rejected {
        /// Who.
        by: String,
        /// What they said.
        reason: Option<String>,
    },
    /// Nobody approved in time.
    TimedOut {
        /// How long the approver waited.
        waited: Duration,
    },
    /// The plan kept changing between approval and the first move.
    PlanKeptChanging {
        /// How many plans were made.
        rounds: u32,
    },
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "end", rename_all = "snake_case")]
pub enum End {
    /// Every target is even with the plan.
    NothingToDo,
    /// A dry run: everything computed, nothing moved or recorded.
    DryRun,
    /// Nobody could be asked for approval; nothing moved, nothing recorded.
    NotApproved {
        /// Why, for people.
        reason: String,
    },
    /// Refused before any move, and recorded.
    Refused(Refusal),
    /// The plan was applied; the report says what moved.
    Applied {
        /// Success, partial, failed, or refused (the token was gone before the first
        /// level).
        result: RunResult,
    },
}

/// What a job did.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// A promotion or a rollback.
    pub command: Command,
    /// The plan the job ended with.
    pub plan: Plan,
    /// The gates (empty when they did not run).
    pub gates: GateReport,
    /// How it ended.
    #[serde(flatten)]
    pub end: End,
    /// What happened to each repo, when the plan was applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<ApplyReport>,
    /// Who approved, when approved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<Approval>,
    /// The history commit that records the job, when it was recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history_commit: Option<String>,
    /// For people: how it ended, in a line or three.
    pub message: String,
}

/// How a job makes its plan, and makes it again (right before the first move, and for
/// an approver that waits: [`crate::CurrentPlan`]).
pub struct Planner<'a>(Source<'a>);

enum Source<'a> {
    Promotion {
        repos: &'a [RepoSpec],
        options: &'a PlanOptions,
        skipped: &'a [String],
    },
    Rollback {
        repo: &'a RepoSpec,
        to: String,
        cache_dir: &'a Path,
    },
}

impl<'a> Planner<'a> {
    /// Plans the promotion of `repos` (as [`crate::plan()`] does); `skipped` are listed in
    /// the plan.
    #[must_use]
    pub fn promotion(
        repos: &'a [RepoSpec],
        options: &'a PlanOptions,
        skipped: &'a [String],
    ) -> Self {
        Self(Source::Promotion {
            repos,
            options,
            skipped,
        })
    }

    /// Plans rolling `repo` back to `to` (a full SHA).
    #[must_use]
    pub fn rollback(repo: &'a RepoSpec, to: String, cache_dir: &'a Path) -> Self {
        Self(Source::Rollback {
            repo,
            to,
            cache_dir,
        })
    }

    /// The plan as it would be made now.
    pub async fn plan(&self) -> Result<Plan> {
        match &self.0 {
            Source::Promotion {
                repos,
                options,
                skipped,
            } => {
                let mut plan = crate::plan(repos, options).await?;
                plan.skipped = skipped.to_vec();
                Ok(plan)
            }
            Source::Rollback {
                repo,
                to,
                cache_dir,
            } => crate::plan_rollback(repo, &History::default(), Some(to), cache_dir).await,
        }
    }
}

/// Plans the promotion and, unless `gates` is false, evaluates the gates: what
/// `move-branches plan` shows. Changes nothing, records nothing.
pub async fn preview(request: &Promotion, gates: bool) -> Result<(Plan, Option<GateReport>)> {
    let planner = Planner::promotion(&request.repos, &request.plan, &request.skipped);
    let plan = planner.plan().await?;
    if !gates {
        return Ok((plan, None));
    }
    let history = read_history(request.job.history.as_ref()).await?;
    let report = evaluate(&request.gates, &plan, &request.repos, &history).await;
    Ok((plan, Some(report)))
}

/// Promotes: plan, gates, approval, deploy token, note, apply, history, notification
/// (see the module docs). `Err` only when nothing could be planned or a precondition
/// failed before any move (an unknown repo, a history that cannot be read, a deploy
/// token held by someone else); everything else is in the [`Outcome`].
pub async fn promote(request: &Promotion) -> Result<Outcome> {
    request.job.approver.prepare().await?;
    let planner = Planner::promotion(&request.repos, &request.plan, &request.skipped);
    let plan = planner.plan().await?;
    Flow {
        job: &request.job,
        command: Command::Run,
        planner,
        specs: &request.repos,
        gates: Some(&request.gates),
        apply: ApplyOptions {
            rollback: false,
            guard: None,
            ..request.apply.clone()
        },
    }
    .run(plan)
    .await
}

/// Rolls one repo's target back, with the same approval, token, note, history and
/// notification as [`promote`] (no gates: a rollback is what you do when stage is not
/// healthy).
pub async fn roll_back(request: &Rollback) -> Result<Outcome> {
    request.job.approver.prepare().await?;
    let history = read_history(request.job.history.as_ref()).await?;
    let plan = crate::plan_rollback(
        &request.repo,
        &history,
        request.to.as_deref(),
        &request.cache_dir,
    )
    .await?;
    let planner = Planner::rollback(&request.repo, plan.repos[0].to.clone(), &request.cache_dir);
    Flow {
        job: &request.job,
        command: Command::Rollback,
        planner,
        specs: std::slice::from_ref(&request.repo),
        gates: None,
        apply: ApplyOptions {
            rollback: true,
            ..ApplyOptions::default()
        },
    }
    .run(plan)
    .await
}

pub(crate) async fn read_history(store: Option<&HistoryStore>) -> Result<History> {
    let Some(store) = store.cloned() else {
        return Ok(History::default());
    };
    tokio::task::spawn_blocking(move || store.read())
        .await
        .map_err(|e| Error::Task {
            doing: "reading the history".to_owned(),
            message: e.to_string(),
        })?
}

pub(crate) async fn evaluate(
    gates: &Gates,
    plan: &Plan,
    repos: &[RepoSpec],
    history: &History,
) -> GateReport {
    let ctx = GateContext {
        now: Utc::now(),
        last_promotion: history.last_promotion_time(),
    };
    crate::gates::evaluate(gates, plan, repos, &ctx).await
}

//! Stable-branch promotion: move `stable` of a set of repos to what stage has proven.
//!
//! A promotion is a pipeline of small, separately usable steps, so that a binary (or
//! another team tool) can stop after any of them, show what it has, and ask a person:
//!
//! 1. [`plan()`]: for every repo, the target's tip now and the commit it will move to
//!    (the source tip, or an [`Override`] that must be a unique commit on the source
//!    branch descending from the target tip), the commits that will ship, and a short
//!    [`Plan::digest`] an approval binds to. Repos that are even have nothing to do.
//! 2. [`gates`]: CI verdicts, new Sentry issues on stage, custom commands — each with its
//!    evidence. A failing gate means nothing moves.
//! 3. [`apply()`]: compare-and-swap moves through the [`upkeep_forge::Forge`] in
//!    dependency order ([`levels`]), independent repos concurrently, optional CI waits
//!    between dependent repos; a repo whose target moved since the plan is left alone and
//!    its dependents are not moved. An optional [`LevelGuard`] is asked before each level
//!    (the binary checks the deploy token with it), so a run that lost the token stops
//!    between levels. The [`ApplyReport`] says exactly what moved.
//! 4. [`history`]: every run as a JSON line in a shared git repo, pushed
//!    compare-and-swap with retries, so it works on any forge.
//! 5. [`status()`] and [`plan_rollback`]: what production runs vs the source branch, the next
//!    semver version by conventional commits, and moving back to an earlier promotion.
//!
//! Why it is shaped so: the library takes fully built inputs ([`RepoSpec`] holding an
//! `Arc<dyn Forge>`), never reads configuration or the environment and never prints;
//! progress goes through callbacks and `tracing`. Reads go through the forge where it can
//! answer (tips, comparisons, CI); a cached clone (`upkeep-git`) is used only where git
//! objects are needed: resolving short SHAs, commit bodies and tags.

mod error;

pub mod apply;
pub mod approve;
pub mod chat_approval;
pub mod commits;
pub mod gates;
pub mod history;
pub mod job;
pub mod model;
pub mod notes;
pub mod notify;
pub mod plan;
pub mod render;
pub mod rollback;
pub mod status;
pub mod token;

pub use apply::{ApplyOptions, ApplyReport, LevelGuard, RepoOutcome, RepoResult, RunResult, apply};
pub use approve::{
    Approval, ApprovalRequest, ApproveAll, ApproveDigest, Approver, CurrentPlan, Decision,
};
pub use chat_approval::{ChatApprovalOptions, ChatApprover};
pub use error::{Error, Result};
pub use job::{
    End, Job, JobEvent, Outcome, Planner, Promotion, Refusal, Rollback, preview, promote, roll_back,
};
pub use model::{Override, RepoSpec, levels};
pub use notes::{LocalNotes, NoteStore, StateNotes, note_key};
pub use notify::{ChatNotifier, Notice, Notifier, Notifiers, SentryNotifier};
pub use plan::{Plan, PlanOptions, RepoPlan, plan};
pub use rollback::plan_rollback;
pub use status::{RepoStatus, StatusOptions, status};
pub use token::{DeployToken, TokenMode};

//! Approval: a person (or a flag standing in for one) agrees to exactly one plan.
//!
//! An [`Approver`] is asked once the gates have passed, and answers with a [`Decision`].
//! An approval names the plan's digest it was given for; the job plans again right
//! before the first move and moves nothing unless the digest is still the same, so an
//! approval never covers commits that arrived after it was given.
//!
//! Four approvers are here or in the binary: [`ApproveDigest`] (`--approve <digest>`,
//! checked against the plan before any gate runs), [`ApproveAll`] (`--yes`), the
//! terminal prompt of `move-branches`, and [`crate::ChatApprover`], which posts the plan
//! to a chat channel and waits for an allowed person's reaction. The trait is shaped for
//! an approver that waits a long time: it may ask [`ApprovalRequest::current`] whether
//! the plan still holds while it waits, and end the wait with [`Decision::Outdated`] when
//! it does not, after which the job plans again, runs the gates again and asks again. It
//! is asked once more right before the first move ([`Approver::confirm`]), and hears how
//! the job ended ([`Approver::report`]), so that people who were asked somewhere are
//! told there.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Result;
use crate::gates::GateReport;
use crate::history::Command;
use crate::job::Planner;
use crate::notify::Notice;
use crate::plan::Plan;

/// Who approved which plan, when and how: recorded in the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// Who approved (a person's name, or a chat user).
    pub by: String,
    /// The digest of the plan they approved.
    pub digest: String,
    /// When.
    pub at: DateTime<Utc>,
    /// How: `--yes`, `--approve`, `terminal`, `slack`, ….
    pub via: String,
}

/// An approver's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Approved: the job moves the plan with [`Approval::digest`], and only that one.
    Approved(Approval),
    /// Someone said no. Nothing moves; the refusal is recorded.
    Rejected {
        /// Who.
        by: String,
        /// What they said, if anything.
        reason: Option<String>,
    },
    /// Nobody answered in time. Nothing moves; recorded.
    TimedOut {
        /// How long the approver waited.
        waited: Duration,
    },
    /// The plan changed while waiting (see [`ApprovalRequest::current`]): the job plans
    /// again, runs the gates again and asks again.
    Outdated,
    /// Nobody could be asked (no terminal, no approval given in advance). Nothing moves;
    /// not recorded: like `plan`, nothing was decided.
    Unavailable {
        /// Why, and what to do instead, for people.
        reason: String,
    },
}

/// What an approver is asked.
pub struct ApprovalRequest<'a> {
    /// A promotion or a rollback.
    pub command: Command,
    /// The plan to approve; its gates passed.
    pub plan: &'a Plan,
    /// The gates' evidence.
    pub gates: &'a GateReport,
    /// Who runs the job.
    pub actor: &'a str,
    /// 1 for the first plan, 2 and more after the plan changed and was made again.
    pub round: u32,
    /// The plan as it is now, for an approver that waits.
    pub current: CurrentPlan<'a>,
}

/// Plans again on demand, so that an approver that waits can tell whether the plan it
/// shows still holds (`main` or a target moved meanwhile).
#[derive(Clone, Copy)]
pub struct CurrentPlan<'a> {
    pub(crate) planner: &'a Planner<'a>,
}

impl<'a> CurrentPlan<'a> {
    /// The current plan as `planner` makes it: what a job passes to its approver, and a
    /// way to test an approver on its own.
    #[must_use]
    pub fn new(planner: &'a Planner<'a>) -> Self {
        Self { planner }
    }

    /// The plan as it would be made now (the same requests as planning: a few per repo).
    pub async fn plan(&self) -> Result<Plan> {
        self.planner.plan().await
    }

    /// The digest of the plan as it would be made now.
    pub async fn digest(&self) -> Result<String> {
        Ok(self.plan().await?.digest)
    }
}

/// Decides whether a plan may be applied. Implementations: [`ApproveDigest`],
/// [`ApproveAll`], the terminal prompt of `move-branches`, and [`crate::ChatApprover`]
/// (a reaction in a chat channel).
#[async_trait]
pub trait Approver: Send + Sync {
    /// Checks, before anything is planned, that this approver can work at all (a chat
    /// approver: the token's scopes, the channel, the people named). An error ends the
    /// job before anything is gated, posted or moved.
    async fn prepare(&self) -> Result<()> {
        Ok(())
    }

    /// The digest of a plan approved before this run planned (`--approve <digest>`,
    /// from an earlier `plan`). A digest that is not the plan's refuses the run before
    /// any gate runs, and the refusal is recorded.
    fn approved_in_advance(&self) -> Option<&str> {
        None
    }

    /// Asks for approval of `request.plan`, whose gates passed.
    async fn approve(&self, request: &ApprovalRequest<'_>) -> Decision;

    /// Asked right before the first move, after the job planned again and found the same
    /// digest: does `approval` still stand? An approver whose approval can be taken back
    /// (a reaction removed, a "no" added since) answers with what it finds now; anything
    /// but [`Decision::Approved`] moves nothing. By default the approval stands.
    async fn confirm(&self, request: &ApprovalRequest<'_>, approval: Approval) -> Decision {
        let _ = request;
        Decision::Approved(approval)
    }

    /// How the job ended (after [`Approver::approve`], or without asking when a gate
    /// failed). An approver that asked people somewhere tells them there, and returns
    /// where (a chat channel, as configured), so that a notifier for the same place does
    /// not say it twice. By default: nowhere.
    async fn report(&self, notice: &Notice) -> Option<String> {
        let _ = notice;
        None
    }
}

/// `--approve <digest>`: approves exactly the plan with this digest.
#[derive(Debug, Clone)]
pub struct ApproveDigest {
    /// The digest, as `plan` printed it.
    pub digest: String,
}

#[async_trait]
impl Approver for ApproveDigest {
    fn approved_in_advance(&self) -> Option<&str> {
        Some(&self.digest)
    }

    async fn approve(&self, request: &ApprovalRequest<'_>) -> Decision {
        Decision::Approved(Approval {
            by: request.actor.to_owned(),
            digest: self.digest.trim().to_ascii_lowercase(),
            at: Utc::now(),
            via: "--approve".to_owned(),
        })
    }
}

/// `--yes`: approves whatever plan passed the gates.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApproveAll;

#[async_trait]
impl Approver for ApproveAll {
    async fn approve(&self, request: &ApprovalRequest<'_>) -> Decision {
        Decision::Approved(Approval {
            by: request.actor.to_owned(),
            digest: request.plan.digest.clone(),
            at: Utc::now(),
            via: "--yes".to_owned(),
        })
    }
}

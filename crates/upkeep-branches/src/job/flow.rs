//! The flow of a job, step by step (see the module docs of [`crate::job`]).

use std::sync::Arc;

use chrono::Utc;

use super::{End, Job, JobEvent, MAX_ROUNDS, Outcome, Planner, Refusal, evaluate, read_history};
use crate::apply::{
    ApplyEvent, ApplyOptions, ApplyReport, Progress, RepoOutcome, RepoResult, RunResult,
};
use crate::approve::{Approval, ApprovalRequest, CurrentPlan, Decision};
use crate::gates::{GateReport, Gates};
use crate::history::{Command, History, HistoryEntry, SCHEMA};
use crate::model::RepoSpec;
use crate::notes::reconcile;
use crate::notify::Notice;
use crate::plan::Plan;
use crate::render::{self, MAX_NAME, one_line};
use crate::token::Held;
use crate::{Error, Result};

pub(super) struct Flow<'a> {
    pub(super) job: &'a Job,
    pub(super) command: Command,
    pub(super) planner: Planner<'a>,
    pub(super) specs: &'a [RepoSpec],
    pub(super) gates: Option<&'a Gates>,
    pub(super) apply: ApplyOptions,
}

/// What the flow knows when it is about to move.
struct Approved {
    plan: Plan,
    gates: GateReport,
    approval: Approval,
    held: Option<Held>,
}

/// Where the flow goes after asking: move, or end with an outcome.
enum Next {
    Apply(Box<Approved>),
    End(Box<Outcome>),
}

/// What the check right before the first move found.
enum Confirmed {
    /// Still the approved plan, still approved: move.
    Go(Box<Approved>),
    /// The plan changed (or the approver says it is outdated): ask again for this plan.
    Changed(Plan),
    /// The approval was taken back, or the approver cannot tell.
    Withdrawn(Decision),
}

impl Flow<'_> {
    fn emit(&self, event: &JobEvent<'_>) {
        (self.job.events)(event);
    }

    fn warn(&self, text: &str) {
        self.emit(&JobEvent::Warning(text));
    }

    /// The actor's name as recorded and shown: one inert line.
    fn who(&self) -> String {
        one_line(&self.job.actor, MAX_NAME).into_owned()
    }

    fn what(&self) -> &'static str {
        match self.command {
            Command::Run => "run",
            Command::Rollback => "rollback",
        }
    }

    pub(super) async fn run(self, plan: Plan) -> Result<Outcome> {
        self.emit(&JobEvent::Planned(&plan));
        let history = read_history(self.job.history.as_ref()).await?;
        self.recover(&plan, &history).await?;
        match self.decide(plan, &history).await? {
            Next::End(outcome) => Ok(*outcome),
            Next::Apply(approved) => self.apply(*approved).await,
        }
    }

    /// Gates and approval, round after round while the plan changes under them, until
    /// there is an approved plan that still holds right before the first move (with the
    /// deploy token held), or an end.
    async fn decide(&self, mut plan: Plan, history: &History) -> Result<Next> {
        let mut round = 1;
        loop {
            if plan.is_noop() {
                let message = "nothing to do: every target is even with the plan".to_owned();
                return Ok(self.end(plan, GateReport::default(), End::NothingToDo, message));
            }
            if let Some(approved) = self.job.approver.approved_in_advance()
                && plan.check_approval(approved).is_err()
            {
                let refusal = Refusal::StaleApproval {
                    approved: approved.trim().to_owned(),
                    actual: plan.digest.clone(),
                };
                return Ok(self.refuse(plan, GateReport::default(), refusal).await);
            }
            let blocked: Vec<(String, String)> = plan
                .blockers()
                .map(|(r, why)| (r.to_owned(), why.to_owned()))
                .collect();
            if !blocked.is_empty() {
                let refusal = Refusal::Blocked { repos: blocked };
                return Ok(self.refuse(plan, GateReport::default(), refusal).await);
            }
            let gates = match self.gates {
                Some(g) => evaluate(g, &plan, self.specs, history).await,
                None => GateReport::default(),
            };
            if self.gates.is_some() {
                self.emit(&JobEvent::Gated(&gates));
            }
            if !gates.passed() {
                let failed = gates
                    .failures()
                    .map(|g| format!("{}: {}", g.name, one_line(&g.summary, render::MAX_LINE)))
                    .collect();
                return Ok(self.refuse(plan, gates, Refusal::Gates { failed }).await);
            }
            if self.job.dry_run {
                let message = match self.gates {
                    Some(_) => format!("dry run: gates pass, nothing moved (plan {})", plan.digest),
                    None => format!("dry run: nothing moved (plan {})", plan.digest),
                };
                return Ok(self.end(plan, gates, End::DryRun, message));
            }
            let request = ApprovalRequest {
                command: self.command,
                plan: &plan,
                gates: &gates,
                actor: &self.job.actor,
                round,
                current: CurrentPlan {
                    planner: &self.planner,
                },
            };
            let approval = match self.job.approver.approve(&request).await {
                Decision::Approved(a) if plan.check_approval(&a.digest).is_err() => {
                    let refusal = Refusal::StaleApproval {
                        approved: a.digest,
                        actual: plan.digest.clone(),
                    };
                    return Ok(self.refuse(plan, gates, refusal).await);
                }
                Decision::Approved(a) => Some(a),
                Decision::Outdated => None,
                Decision::Rejected { by, reason } => {
                    let refusal = Refusal::Rejected {
                        by: one_line(&by, MAX_NAME).into_owned(),
                        reason: reason.map(|r| one_line(&r, MAX_NAME).into_owned()),
                    };
                    return Ok(self.refuse(plan, gates, refusal).await);
                }
                Decision::TimedOut { waited } => {
                    return Ok(self.refuse(plan, gates, Refusal::TimedOut { waited }).await);
                }
                Decision::Unavailable { reason } => {
                    return Ok(self.not_approved(plan, gates, reason).await);
                }
            };
            let now = match approval {
                Some(approval) => match self.confirm(&plan, &gates, approval, round).await? {
                    Confirmed::Go(approved) => return Ok(Next::Apply(approved)),
                    Confirmed::Changed(now) => now,
                    Confirmed::Withdrawn(decision) => {
                        return Ok(self.withdrawn(plan, gates, decision).await);
                    }
                },
                None => self.planner.plan().await?,
            };
            if round >= MAX_ROUNDS {
                let refusal = Refusal::PlanKeptChanging { rounds: round };
                return Ok(self.refuse(plan, gates, refusal).await);
            }
            round += 1;
            plan = now;
            self.emit(&JobEvent::Planned(&plan));
        }
    }

    /// After approval: takes the deploy token, then plans again right before the first
    /// move, since the approval holds for the plan it saw only, and asks the approver
    /// whether the approval still stands. The token is released again unless the answer
    /// is [`Confirmed::Go`].
    async fn confirm(
        &self,
        plan: &Plan,
        gates: &GateReport,
        approval: Approval,
        round: u32,
    ) -> Result<Confirmed> {
        let held = match &self.job.deploy_token {
            Some(t) => {
                let reason = format!("move-branches {} (plan {})", self.what(), plan.digest);
                Some(crate::token::hold(t, &self.job.actor, &reason).await?)
            }
            None => None,
        };
        let now = match self.planner.plan().await {
            Ok(p) => p,
            Err(e) => {
                self.release(held).await;
                return Err(e);
            }
        };
        if now.digest != plan.digest {
            self.release(held).await;
            self.warn(&format!(
                "the plan changed after it was approved (plan {} is now {}): the approval is void",
                plan.digest, now.digest
            ));
            return Ok(Confirmed::Changed(now));
        }
        let request = ApprovalRequest {
            command: self.command,
            plan,
            gates,
            actor: &self.job.actor,
            round,
            current: CurrentPlan {
                planner: &self.planner,
            },
        };
        match self.job.approver.confirm(&request, approval).await {
            Decision::Approved(approval) if plan.check_approval(&approval.digest).is_ok() => {
                Ok(Confirmed::Go(Box::new(Approved {
                    plan: plan.clone(),
                    gates: gates.clone(),
                    approval,
                    held,
                })))
            }
            Decision::Approved(approval) => {
                self.release(held).await;
                Ok(Confirmed::Withdrawn(Decision::Rejected {
                    by: approval.by,
                    reason: Some(format!(
                        "confirmed plan {} instead of {}",
                        one_line(&approval.digest, 40),
                        plan.digest
                    )),
                }))
            }
            Decision::Outdated => {
                self.release(held).await;
                Ok(Confirmed::Changed(now))
            }
            other => {
                self.release(held).await;
                Ok(Confirmed::Withdrawn(other))
            }
        }
    }

    /// The approval did not stand right before the first move: nothing moves.
    async fn withdrawn(&self, plan: Plan, gates: GateReport, decision: Decision) -> Next {
        let refusal = match decision {
            Decision::Rejected { by, reason } => Refusal::Rejected {
                by: one_line(&by, MAX_NAME).into_owned(),
                reason: reason.map(|r| one_line(&r, MAX_NAME).into_owned()),
            },
            Decision::TimedOut { waited } => Refusal::TimedOut { waited },
            Decision::Unavailable { reason } => {
                return self.not_approved(plan, gates, reason).await;
            }
            Decision::Approved(_) | Decision::Outdated => {
                unreachable!("confirm() moves on with these")
            }
        };
        self.refuse(plan, gates, refusal).await
    }

    async fn release(&self, held: Option<Held>) {
        if let Some(h) = held
            && let Err(e) = h.finish().await
        {
            self.warn(&format!(
                "could not release the deploy token: {}",
                upkeep_text::error_chain(&e)
            ));
        }
    }

    /// A note left by a run that was killed while applying: its moves are recorded now
    /// (see [`reconcile`]), before this run does anything.
    async fn recover(&self, plan: &Plan, history: &History) -> Result<()> {
        let job = self.job;
        if job.history.is_none() {
            return Ok(());
        }
        let note = match job.notes.load(&job.note_key).await {
            Ok(Some(n)) => n,
            Ok(None) => return Ok(()),
            Err(e @ Error::NoteUnreadable { .. }) => {
                self.warn(&format!("ignoring it: {e}"));
                return job.notes.clear(&job.note_key).await;
            }
            Err(e) => return Err(e),
        };
        if job.dry_run {
            self.warn(&format!(
                "the run of {} (plan {}) was interrupted; a run that is not a dry run records what it moved",
                one_line(&note.who, MAX_NAME),
                note.digest
            ));
            return Ok(());
        }
        let found = reconcile(&note, plan, history, &self.who());
        if let Some(entry) = &found.entry {
            self.emit(&JobEvent::Recovered(entry));
            // Nothing moves before the interrupted run is recorded: this run's own note
            // would replace the one that says what it moved.
            self.append(entry).await?;
        }
        match &found.rest {
            Some(rest) => job.notes.save(&job.note_key, rest).await,
            None => job.notes.clear(&job.note_key).await,
        }
    }

    /// Appends `entry` to the history: the commit, or `None` without a history.
    async fn append(&self, entry: &HistoryEntry) -> Result<Option<String>> {
        let Some(store) = self.job.history.clone() else {
            return Ok(None);
        };
        let (entry, author) = (
            entry.clone(),
            upkeep_git::Author::new(self.who(), "move-branches@upkeep"),
        );
        tokio::task::spawn_blocking(move || store.append(&entry, &author))
            .await
            .map_err(|e| Error::Task {
                doing: "recording the history".to_owned(),
                message: e.to_string(),
            })?
            .map(|a| Some(a.commit))
    }

    /// [`Self::append`], with a failure as a warning (what happened to the branches
    /// does not change) and `None`.
    async fn record(&self, entry: &HistoryEntry) -> Option<String> {
        match self.append(entry).await {
            Ok(commit) => commit,
            Err(e) => {
                self.warn(&format!(
                    "could not record this run in the history: {}",
                    upkeep_text::error_chain(&e)
                ));
                None
            }
        }
    }

    fn entry(
        &self,
        plan: &Plan,
        gates: &GateReport,
        result: RunResult,
        repos: Vec<RepoResult>,
        extra: (Option<u64>, Option<Approval>, Option<String>),
    ) -> HistoryEntry {
        let (fencing, approval, message) = extra;
        HistoryEntry {
            schema: SCHEMA,
            command: self.command,
            who: self.who(),
            when: Utc::now(),
            digest: plan.digest.clone(),
            result,
            repos,
            gates: gates.summaries(),
            fencing,
            message,
            approval,
        }
    }

    fn end(&self, plan: Plan, gates: GateReport, end: End, message: String) -> Next {
        Next::End(Box::new(Outcome {
            command: self.command,
            plan,
            gates,
            end,
            report: None,
            approval: None,
            history_commit: None,
            message,
        }))
    }

    /// Tells the approver (which answers in its own thread, if it asked somewhere) and
    /// the notifiers how the job ended.
    async fn notify(&self, text: String, failure: Option<String>, result: &str, digest: &str) {
        let mut notice = Notice {
            text,
            failure,
            tags: vec![
                ("result".to_owned(), result.to_owned()),
                ("digest".to_owned(), digest.to_owned()),
                ("command".to_owned(), self.what().to_owned()),
            ],
            told_in: None,
        };
        notice.told_in = self.job.approver.report(&notice).await;
        if self.job.notifiers.is_empty() {
            return;
        }
        for e in self.job.notifiers.notify_all(&notice).await {
            self.warn(&upkeep_text::error_chain(&e));
        }
    }

    /// Refuses the plan: records the refusal (unless a dry run) and tells the team.
    async fn refuse(&self, plan: Plan, gates: GateReport, refusal: Refusal) -> Next {
        let message = refusal_message(&refusal, &plan);
        let commit = if self.job.dry_run {
            None
        } else {
            let report = ApplyReport::refused(&plan);
            let entry = self.entry(
                &plan,
                &gates,
                RunResult::Refused,
                report.repos,
                (None, None, Some(message.clone())),
            );
            self.record(&entry).await
        };
        if !self.job.dry_run {
            let detail = match &refusal {
                Refusal::Gates { .. } => render::gates(&gates),
                _ => message.clone(),
            };
            let text = format!(
                "move-branches {} by {}: refused, nothing moved (plan {})\n{detail}",
                self.what(),
                self.who(),
                plan.digest
            );
            self.notify(text, Some(message.clone()), "refused", &plan.digest)
                .await;
        }
        Next::End(Box::new(Outcome {
            command: self.command,
            plan,
            gates,
            end: End::Refused(refusal),
            report: None,
            approval: None,
            history_commit: commit,
            message,
        }))
    }

    /// Nobody could approve: nothing recorded; the team is told (a job must not pass
    /// silently).
    async fn not_approved(&self, plan: Plan, gates: GateReport, reason: String) -> Next {
        let text = format!(
            "move-branches {} by {}: not approved, nothing moved (plan {})\n{reason}",
            self.what(),
            self.who(),
            plan.digest
        );
        self.notify(text, Some(reason.clone()), "not_approved", &plan.digest)
            .await;
        self.end(
            plan,
            gates,
            End::NotApproved {
                reason: reason.clone(),
            },
            reason,
        )
    }

    async fn apply(&self, approved: Approved) -> Result<Outcome> {
        let Approved {
            plan,
            gates,
            approval,
            held,
        } = approved;
        let job = self.job;
        let fencing = held.as_ref().map(|h| h.fencing);
        // Before any move: if this process is killed mid-apply, the next run finds the
        // note and records what was moved (`recover`).
        let noted = job.history.is_some();
        if noted {
            let planned = plan
                .repos
                .iter()
                .filter(|r| !r.is_even())
                .map(|r| RepoResult::new(r, RepoOutcome::Planned))
                .collect();
            let intent = self.entry(
                &plan,
                &gates,
                RunResult::Started,
                planned,
                (fencing, Some(approval.clone()), None),
            );
            if let Err(e) = job.notes.save(&job.note_key, &intent).await {
                self.release(held).await;
                return Err(e);
            }
        }
        let options = ApplyOptions {
            guard: held.as_ref().map(Held::guard),
            ..self.apply.clone()
        };
        let events = job.events.clone();
        let progress: Progress = Arc::new(move |e: &ApplyEvent| events(&JobEvent::Apply(e)));
        let report = crate::apply(&plan, self.specs, &options, &progress).await;
        let entry = self.entry(
            &plan,
            &gates,
            report.result,
            report.repos.clone(),
            (fencing, Some(approval.clone()), None),
        );
        let commit = self.record(&entry).await;
        // A result that could not be recorded keeps the note: the next run records it.
        if noted && commit.is_none() {
            self.warn(
                "the branches moved as reported; the next run records them from this run's note",
            );
        } else if noted && let Err(e) = job.notes.clear(&job.note_key).await {
            self.warn(&upkeep_text::error_chain(&e));
        }
        self.release(held).await;
        let message = applied_message(self.command, &plan, &report);
        let text = format!(
            "move-branches {} by {}: {} (plan {})\n{}",
            self.what(),
            self.who(),
            report.result,
            plan.digest,
            render::report(&report)
        );
        let failure = (report.result != RunResult::Success).then(|| message.clone());
        self.notify(text, failure, &report.result.to_string(), &plan.digest)
            .await;
        Ok(Outcome {
            command: self.command,
            plan,
            gates,
            end: End::Applied {
                result: report.result,
            },
            report: Some(report),
            approval: Some(approval),
            history_commit: commit,
            message,
        })
    }
}

/// Why nothing moved, for people and the history.
fn refusal_message(refusal: &Refusal, plan: &Plan) -> String {
    match refusal {
        Refusal::Gates { failed } => {
            format!(
                "refused: gate failed, nothing moved ({})",
                failed.join("; ")
            )
        }
        Refusal::StaleApproval { approved, actual } => format!(
            "the plan changed since it was approved: approved digest {}, current plan {actual}",
            one_line(approved, 40)
        ),
        Refusal::Blocked { repos } => format!(
            "refused: the forge will refuse to move {}; nothing moved",
            repos
                .iter()
                .map(|(r, why)| format!("{r} ({})", one_line(why, render::MAX_LINE)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Refusal::Rejected { by, reason } => format!(
            "not approved: {by} said no{}; nothing moved (plan {})",
            reason
                .as_ref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default(),
            plan.digest
        ),
        Refusal::TimedOut { waited } => format!(
            "not approved: nobody approved within {}; nothing moved (plan {})",
            span(*waited),
            plan.digest
        ),
        Refusal::PlanKeptChanging { rounds } => format!(
            "refused: the plan changed {rounds} times between approval and the first move; nothing moved"
        ),
    }
}

/// A wait, as people write it: `500ms`, `45s`, `30m`, `4h`.
fn span(d: std::time::Duration) -> String {
    match d.as_secs() {
        0 => format!("{}ms", d.as_millis()),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// How an applied plan went, for people.
fn applied_message(command: Command, plan: &Plan, report: &ApplyReport) -> String {
    let stopped = report.repos.iter().find_map(|r| match &r.outcome {
        RepoOutcome::Stopped { reason } => Some(one_line(reason, render::MAX_LINE)),
        _ => None,
    });
    if command == Command::Rollback {
        return match (report.result, stopped) {
            (RunResult::Success, _) => format!("done: rolled back (plan {})", plan.digest),
            (_, Some(reason)) => format!("REFUSED: nothing moved (plan {}): {reason}", plan.digest),
            (_, None) => format!(
                "FAILED: the rollback did not complete (plan {})",
                plan.digest
            ),
        };
    }
    let message = match report.result {
        RunResult::Success => format!("done: plan {} applied", plan.digest),
        RunResult::Partial => format!(
            "PARTIAL: plan {} was applied only in part; see which repos moved above",
            plan.digest
        ),
        RunResult::Refused => format!("REFUSED: nothing moved (plan {})", plan.digest),
        RunResult::Failed | RunResult::Started => {
            format!("FAILED: nothing moved (plan {})", plan.digest)
        }
    };
    match stopped {
        Some(reason) => format!("{message}\nstopped: {reason}"),
        None => message,
    }
}

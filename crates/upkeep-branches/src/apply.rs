//! Applying a plan: compare-and-swap moves in dependency order, optional CI waits
//! between dependent repos, and tags.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;
use upkeep_forge::{BranchMove, ForgeError, Verdict};

use crate::model::RepoSpec;
use crate::plan::{Plan, RepoPlan};

/// How a run ended, as reported and recorded in the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunResult {
    /// Everything planned was done (or there was nothing to do).
    Success,
    /// Some repos moved, and at least one did not: the per-repo outcomes say which.
    Partial,
    /// Nothing moved, and something failed.
    Failed,
    /// A gate failed, the approval was refused, the digest did not match, or the
    /// [`LevelGuard`] refused before the first move: nothing was attempted.
    Refused,
    /// Recorded just before applying, so that a run killed mid-apply leaves a trace: the
    /// next run compares it with the targets and records what was moved.
    Started,
}

impl std::fmt::Display for RunResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Success => "success",
            Self::Partial => "partial",
            Self::Failed => "failed",
            Self::Refused => "refused",
            Self::Started => "started",
        })
    }
}

/// What happened to one repo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RepoOutcome {
    /// Nothing to do: the target was already at the planned commit.
    Even,
    /// The target was moved from `from` to `to`.
    Moved,
    /// Someone moved the target after the plan was made; it was left alone.
    TargetMoved {
        /// Where the target was found (`None`: deleted).
        actual: Option<String>,
    },
    /// The move failed.
    Failed {
        /// Why.
        error: String,
    },
    /// Not attempted because a repo it depends on failed (or its CI wait did).
    Blocked {
        /// The dependency that failed.
        by: String,
    },
    /// Not attempted because the run was refused (a gate failed, or no approval).
    Held,
    /// About to be attempted (in a [`RunResult::Started`] entry).
    Planned,
    /// Not attempted because the [`LevelGuard`] refused before its level (the deploy
    /// token was no longer held): the run stopped there.
    Stopped {
        /// What the guard said.
        reason: String,
    },
    /// Left out of the run by the person who started it (`--skip`): not planned, not
    /// moved (its `target`, `from` and `to` are empty).
    Skipped,
}

impl RepoOutcome {
    /// Whether this outcome makes the run less than a success.
    #[must_use]
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            Self::TargetMoved { .. }
                | Self::Failed { .. }
                | Self::Blocked { .. }
                | Self::Stopped { .. }
        )
    }
}

/// The wait for CI on a moved repo's new tip before its dependents moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitResult {
    /// The last verdict seen.
    pub verdict: Verdict,
    /// Whether it turned green before the deadline.
    pub passed: bool,
    /// How many times the forge was asked.
    pub polls: u32,
    /// What happened, for people.
    pub message: String,
}

/// A tag created on a newly promoted commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagResult {
    /// The tag name.
    pub name: String,
    /// Why it could not be created, if it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One repo's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoResult {
    /// The repo name.
    pub name: String,
    /// The branch moved.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub target: String,
    /// Its tip before (as planned).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub from: String,
    /// The commit planned.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub to: String,
    /// What happened.
    #[serde(flatten)]
    pub outcome: RepoOutcome,
    /// The CI wait after the move, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<WaitResult>,
    /// The tag created, when tagging.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<TagResult>,
}

impl RepoResult {
    /// A result for a planned repo with the given outcome.
    #[must_use]
    pub fn new(plan: &RepoPlan, outcome: RepoOutcome) -> Self {
        Self {
            name: plan.name.clone(),
            target: plan.target.clone(),
            from: plan.from.clone(),
            to: plan.to.clone(),
            outcome,
            wait: None,
            tag: None,
        }
    }

    /// A repo left out of the run (`--skip`).
    #[must_use]
    pub fn skipped(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            target: String::new(),
            from: String::new(),
            to: String::new(),
            outcome: RepoOutcome::Skipped,
            wait: None,
            tag: None,
        }
    }

    fn failed(&self) -> bool {
        self.outcome.is_failure()
            || self.wait.as_ref().is_some_and(|w| !w.passed)
            || self.tag.as_ref().is_some_and(|t| t.error.is_some())
    }
}

/// The outcome of applying a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyReport {
    /// Success, partial or failed.
    pub result: RunResult,
    /// One entry per repo of the plan, in plan order.
    pub repos: Vec<RepoResult>,
}

impl ApplyReport {
    /// Works out the overall result from per-repo results.
    #[must_use]
    pub fn from_results(repos: Vec<RepoResult>) -> Self {
        let any_failed = repos.iter().any(RepoResult::failed);
        let any_moved = repos.iter().any(|r| r.outcome == RepoOutcome::Moved);
        // Stopped before the first move by the guard is a refusal, not a failure: nothing
        // was attempted.
        let only_stopped = repos
            .iter()
            .filter(|r| r.failed())
            .all(|r| matches!(r.outcome, RepoOutcome::Stopped { .. }));
        let result = match (any_failed, any_moved) {
            (false, _) => RunResult::Success,
            (true, true) => RunResult::Partial,
            (true, false) if only_stopped => RunResult::Refused,
            (true, false) => RunResult::Failed,
        };
        Self { result, repos }
    }

    /// A report for a refused run: every repo held (and the skipped ones skipped).
    #[must_use]
    pub fn refused(plan: &Plan) -> Self {
        Self {
            result: RunResult::Refused,
            repos: plan
                .repos
                .iter()
                .map(|r| {
                    RepoResult::new(
                        r,
                        if r.is_even() {
                            RepoOutcome::Even
                        } else {
                            RepoOutcome::Held
                        },
                    )
                })
                .chain(plan.skipped.iter().map(|n| RepoResult::skipped(n)))
                .collect(),
        }
    }

    /// The repos that moved.
    pub fn moved(&self) -> impl Iterator<Item = &RepoResult> {
        self.repos
            .iter()
            .filter(|r| r.outcome == RepoOutcome::Moved)
    }
}

/// How to apply.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// How long to wait for a moved repo's CI before giving up on its dependents.
    pub wait_deadline: Duration,
    /// How often to ask the forge while waiting.
    pub poll_interval: Duration,
    /// Check names that must be present and green for a wait to pass.
    pub required_checks: Vec<String>,
    /// Create the plan's tags on the newly promoted commits.
    pub tag: bool,
    /// A rollback: moves go backwards (still compare-and-swap on the planned tip).
    pub rollback: bool,
    /// Asked before each level that has a repo to move; a refusal stops the run there.
    pub guard: Option<LevelGuard>,
}

/// What a [`LevelGuard`] is asked about: the level about to be moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelStart {
    /// The level's index in [`Plan::levels`] (0 = the first).
    pub index: usize,
    /// The repos of the level that are about to be moved.
    pub repos: Vec<String>,
}

/// The future a [`LevelGuard`] returns: `Err(reason)` refuses.
pub type GuardFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// A check made right before each dependency level that has a repo to move, such as
/// "does this run still hold the deploy token with its fencing number". An
/// `Err(reason)` stops the run: the repos of that level and of every later level are not
/// moved ([`RepoOutcome::Stopped`]), the ones already moved stay moved, and the report
/// is partial (or refused when nothing had moved yet).
///
/// Checking per level rather than once at the start bounds what a run can do after
/// losing the token to the level in flight, which matters because waits for CI between
/// levels can take many minutes.
#[derive(Clone)]
pub struct LevelGuard(Arc<dyn Fn(LevelStart) -> GuardFuture + Send + Sync>);

impl LevelGuard {
    /// A guard from an async check.
    pub fn new<F, Fut>(check: F) -> Self
    where
        F: Fn(LevelStart) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        Self(Arc::new(move |start| Box::pin(check(start))))
    }

    /// Runs the check.
    pub async fn check(&self, start: LevelStart) -> Result<(), String> {
        (self.0)(start).await
    }
}

impl std::fmt::Debug for LevelGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LevelGuard")
    }
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self {
            wait_deadline: Duration::from_mins(30),
            poll_interval: Duration::from_secs(30),
            required_checks: Vec::new(),
            tag: false,
            rollback: false,
            guard: None,
        }
    }
}

/// Progress while applying, for a display.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApplyEvent {
    /// About to move a repo.
    Moving {
        /// The repo.
        repo: String,
    },
    /// A repo is done (whatever the outcome).
    Done {
        /// The repo.
        repo: String,
        /// What happened.
        outcome: RepoOutcome,
    },
    /// The [`LevelGuard`] refused before a level: nothing more is moved.
    Stopped {
        /// The level's index.
        level: usize,
        /// What the guard said.
        reason: String,
    },
    /// Waiting for CI on a repo's new tip.
    Waiting {
        /// The repo.
        repo: String,
        /// The latest verdict.
        verdict: Verdict,
        /// Time waited so far.
        waited: Duration,
        /// The deadline.
        deadline: Duration,
    },
}

/// A progress callback.
pub type Progress = Arc<dyn Fn(&ApplyEvent) + Send + Sync>;

/// Applies `plan`: level by level, the repos of one level concurrently, each move a
/// compare-and-swap on the tip seen in the plan. A repo whose target moved since is left
/// alone ([`RepoOutcome::TargetMoved`]); the dependents of a repo that failed (or whose
/// CI wait failed) are not moved ([`RepoOutcome::Blocked`]). Before each level with a
/// repo to move, [`ApplyOptions::guard`] (when set) is asked; a refusal stops the run
/// ([`RepoOutcome::Stopped`]). Never fails as a whole: the report says what happened to
/// each repo.
pub async fn apply(
    plan: &Plan,
    repos: &[RepoSpec],
    options: &ApplyOptions,
    progress: &Progress,
) -> ApplyReport {
    let specs: BTreeMap<&str, &RepoSpec> = repos.iter().map(|r| (r.name.as_str(), r)).collect();
    let mut results: BTreeMap<String, RepoResult> = BTreeMap::new();
    let mut broken: BTreeSet<String> = BTreeSet::new();
    let mut stopped: Option<String> = None;
    for (index, level) in plan.levels.iter().enumerate() {
        let to_move = triage_level(
            plan,
            level,
            &specs,
            stopped.as_deref(),
            progress,
            &mut results,
            &mut broken,
        );
        if to_move.is_empty() {
            continue;
        }
        if let Some(reason) = ask_guard(options, index, &to_move, progress, &mut results).await {
            stopped = Some(reason);
            continue;
        }
        let mut tasks = JoinSet::new();
        for (rp, spec) in to_move {
            let (spec, rp, options, progress) =
                (spec.clone(), rp.clone(), options.clone(), progress.clone());
            tasks.spawn(async move { move_one(&spec, &rp, &options, &progress).await });
        }
        let mut moved_here = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let r = match joined {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(error = %e, "a move task failed");
                    continue;
                }
            };
            if r.failed() {
                broken.insert(r.name.clone());
            } else if r.outcome == RepoOutcome::Moved {
                moved_here.push(r.name.clone());
            }
            results.insert(r.name.clone(), r);
        }
        // A task that panicked leaves no result: treat it as failed.
        for name in level {
            if !results.contains_key(name)
                && let Some(rp) = plan.repo(name)
            {
                results.insert(
                    name.clone(),
                    RepoResult::new(
                        rp,
                        RepoOutcome::Failed {
                            error: "internal error while moving".to_owned(),
                        },
                    ),
                );
                broken.insert(name.clone());
            }
        }
        wait_for_ci(
            plan,
            &specs,
            &moved_here,
            options,
            progress,
            &mut results,
            &mut broken,
        )
        .await;
    }
    ApplyReport::from_results(
        plan.repos
            .iter()
            .filter_map(|r| results.remove(&r.name))
            .chain(plan.skipped.iter().map(|n| RepoResult::skipped(n)))
            .collect(),
    )
}

/// Sorts a level's repos: even ones, ones stopped (the run was stopped), blocked ones
/// (a dependency failed) and unconfigured ones get their result now; the rest are
/// returned, to be moved.
fn triage_level<'p>(
    plan: &'p Plan,
    level: &[String],
    specs: &BTreeMap<&str, &'p RepoSpec>,
    stopped: Option<&str>,
    progress: &Progress,
    results: &mut BTreeMap<String, RepoResult>,
    broken: &mut BTreeSet<String>,
) -> Vec<(&'p RepoPlan, &'p RepoSpec)> {
    let mut to_move = Vec::new();
    for name in level {
        let Some(rp) = plan.repo(name) else { continue };
        if rp.is_even() {
            results.insert(name.clone(), RepoResult::new(rp, RepoOutcome::Even));
            continue;
        }
        if let Some(reason) = stopped {
            let outcome = RepoOutcome::Stopped {
                reason: reason.to_owned(),
            };
            results.insert(name.clone(), RepoResult::new(rp, outcome));
            continue;
        }
        if let Some(dep) = rp.depends_on.iter().find(|d| broken.contains(*d)) {
            let r = RepoResult::new(rp, RepoOutcome::Blocked { by: dep.clone() });
            progress(&ApplyEvent::Done {
                repo: name.clone(),
                outcome: r.outcome.clone(),
            });
            results.insert(name.clone(), r);
            broken.insert(name.clone());
            continue;
        }
        let Some(spec) = specs.get(name.as_str()) else {
            let r = RepoResult::new(
                rp,
                RepoOutcome::Failed {
                    error: "the repo is no longer configured".to_owned(),
                },
            );
            results.insert(name.clone(), r);
            broken.insert(name.clone());
            continue;
        };
        to_move.push((rp, *spec));
    }
    to_move
}

/// Asks [`ApplyOptions::guard`] (when set) before moving `to_move`; on a refusal, marks
/// them stopped and returns the reason.
async fn ask_guard(
    options: &ApplyOptions,
    index: usize,
    to_move: &[(&RepoPlan, &RepoSpec)],
    progress: &Progress,
    results: &mut BTreeMap<String, RepoResult>,
) -> Option<String> {
    let guard = options.guard.as_ref()?;
    let start = LevelStart {
        index,
        repos: to_move.iter().map(|(rp, _)| rp.name.clone()).collect(),
    };
    let reason = guard.check(start).await.err()?;
    // Reported through `progress`; the log line is for -v.
    tracing::info!(level = index, %reason, "stopping before the level");
    progress(&ApplyEvent::Stopped {
        level: index,
        reason: reason.clone(),
    });
    for (rp, _) in to_move {
        let outcome = RepoOutcome::Stopped {
            reason: reason.clone(),
        };
        results.insert(rp.name.clone(), RepoResult::new(rp, outcome));
    }
    Some(reason)
}

async fn move_one(
    spec: &RepoSpec,
    rp: &RepoPlan,
    options: &ApplyOptions,
    progress: &Progress,
) -> RepoResult {
    progress(&ApplyEvent::Moving {
        repo: rp.name.clone(),
    });
    let request = BranchMove {
        branch: rp.target.clone(),
        expected_old: rp.from.clone(),
        new: rp.to.clone(),
        allow_backwards: options.rollback,
    };
    let outcome = match spec.forge.move_branch(&spec.id, &request).await {
        Ok(()) => RepoOutcome::Moved,
        Err(ForgeError::BranchMoved { actual, .. }) => RepoOutcome::TargetMoved { actual },
        Err(e) => RepoOutcome::Failed {
            error: upkeep_text::error_chain(&e),
        },
    };
    tracing::info!(repo = %rp.name, ?outcome, "move");
    let mut result = RepoResult::new(rp, outcome);
    if options.tag
        && result.outcome == RepoOutcome::Moved
        && let Some(name) = &rp.tag
    {
        let message = format!(
            "{name}: promoted to `{}` by upkeep move-branches",
            rp.target
        );
        let error = spec
            .forge
            .create_tag(&spec.id, name, &rp.to, Some(&message))
            .await
            .err()
            .map(|e| upkeep_text::error_chain(&e));
        result.tag = Some(TagResult {
            name: name.clone(),
            error,
        });
    }
    progress(&ApplyEvent::Done {
        repo: rp.name.clone(),
        outcome: result.outcome.clone(),
    });
    result
}

/// After a level: for each repo that moved, wants a wait, and has dependents left to
/// move, poll its CI until green, red, or the deadline.
async fn wait_for_ci(
    plan: &Plan,
    specs: &BTreeMap<&str, &RepoSpec>,
    moved: &[String],
    options: &ApplyOptions,
    progress: &Progress,
    results: &mut BTreeMap<String, RepoResult>,
    broken: &mut BTreeSet<String>,
) {
    let mut tasks = JoinSet::new();
    for name in moved {
        let Some(spec) = specs.get(name.as_str()) else {
            continue;
        };
        let has_dependents = plan
            .repos
            .iter()
            .any(|r| r.depends_on.contains(name) && !r.is_even());
        if !spec.wait_after || !has_dependents {
            continue;
        }
        let Some(rp) = plan.repo(name) else { continue };
        let (spec, sha, options, progress, name) = (
            (*spec).clone(),
            rp.to.clone(),
            options.clone(),
            progress.clone(),
            name.clone(),
        );
        tasks.spawn(async move {
            let w = wait_green(&spec, &sha, &options, &progress).await;
            (name, w)
        });
    }
    while let Some(joined) = tasks.join_next().await {
        let Ok((name, wait)) = joined else { continue };
        if !wait.passed {
            broken.insert(name.clone());
        }
        if let Some(r) = results.get_mut(&name) {
            r.wait = Some(wait);
        }
    }
}

/// Polls the CI verdict of `sha` until it is green (passed), red (failed at once), or
/// the deadline passes (failed). Never waits past the deadline.
pub async fn wait_green(
    spec: &RepoSpec,
    sha: &str,
    options: &ApplyOptions,
    progress: &Progress,
) -> WaitResult {
    let start = tokio::time::Instant::now();
    let deadline = start + options.wait_deadline;
    let mut polls = 0;
    let mut last = Verdict::Missing;
    loop {
        polls += 1;
        let asked = tokio::time::timeout_at(deadline, spec.forge.ci_verdict(&spec.id, sha)).await;
        match asked {
            Ok(Ok(v)) => {
                last = v.require(&options.required_checks);
                match last {
                    Verdict::Success => {
                        return WaitResult {
                            verdict: last,
                            passed: true,
                            polls,
                            message: format!("CI on {} is green", crate::plan::short(sha)),
                        };
                    }
                    Verdict::Failure => {
                        return WaitResult {
                            verdict: last,
                            passed: false,
                            polls,
                            message: format!(
                                "CI on {} failed; its dependents were not moved",
                                crate::plan::short(sha)
                            ),
                        };
                    }
                    _ => {}
                }
            }
            Ok(Err(e)) => {
                tracing::warn!(repo = %spec.name, error = %e, "cannot read CI verdict; will retry");
            }
            Err(_) => {}
        }
        let now = tokio::time::Instant::now();
        progress(&ApplyEvent::Waiting {
            repo: spec.name.clone(),
            verdict: last,
            waited: now - start,
            deadline: options.wait_deadline,
        });
        if now + options.poll_interval > deadline {
            return WaitResult {
                verdict: last,
                passed: false,
                polls,
                message: format!(
                    "CI on {} was still {last} after {}s; gave up waiting, its dependents were not moved",
                    crate::plan::short(sha),
                    options.wait_deadline.as_secs()
                ),
            };
        }
        tokio::time::sleep(options.poll_interval).await;
    }
}

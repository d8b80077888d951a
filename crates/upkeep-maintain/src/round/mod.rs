//! The round: every selected project through its pipeline, concurrently, then the team
//! is told.
//!
//! The rooms: [`select`] picks projects, [`claim`] keeps one process per round and per
//! clone, [`pipeline`] takes one project from clone to change request (with [`git`] for
//! its commit and push), and [`messages`] turns journal records into what the team reads.

mod claim;
mod git;
mod messages;
mod pipeline;
mod select;

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::Arc;

use chrono::{NaiveDate, Utc};
use tokio_util::sync::CancellationToken;
use upkeep_chat::{ChatThreads, ProjectMessage, RoundId, UpgradeCounts};
use upkeep_config::{MaintainConfig, ResolvedProject};
use upkeep_forge::{ChangeRequestSpec, Forge, RepoId};
use upkeep_git::{Author, Credentials};

use crate::journal::{
    self, FailedStage, Failure, Journal, JournalStore, ProjectRecord, Stage, Status,
};
use crate::report::{ProjectReport, RoundReport};
use crate::{Error, Result};

use self::claim::claim_round;
pub(crate) use self::messages::package_changes;
use self::messages::{project_messages, round_summary, tell_team, wants_message};
pub use self::pipeline::log_path;
use self::pipeline::run_project;
pub use self::select::{MissingRepository, branch_name, missing_repository, select};

/// One project of a round, with the forge that serves it and how to authenticate.
#[derive(Clone)]
pub struct ProjectSetup {
    /// The project with every default applied.
    pub project: ResolvedProject,
    /// The forge adapter for its repository.
    pub forge: Arc<dyn Forge>,
    /// The repository's id on that forge.
    pub repo: RepoId,
    /// Credentials for fetching and pushing.
    pub credentials: Credentials,
}

impl std::fmt::Debug for ProjectSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProjectSetup")
            .field("project", &self.project.name)
            .field("forge", &self.forge.kind())
            .field("repo", &self.repo)
            .finish_non_exhaustive()
    }
}

/// Something happened that a progress display may show.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event<'a> {
    /// The round is about to run these projects (after selection and resume).
    RoundStarted {
        /// The round id.
        round: &'a str,
        /// Projects that will run now, in order.
        running: Vec<&'a str>,
        /// Projects finished in an earlier run of the round, not run again.
        already_done: Vec<&'a str>,
    },
    /// A project entered a stage.
    Stage {
        /// The project.
        project: &'a str,
        /// The stage it entered.
        stage: Stage,
    },
    /// A project's pipeline ended.
    ProjectFinished {
        /// The project.
        project: &'a str,
        /// Its record.
        record: &'a ProjectRecord,
    },
    /// The team is being told (summary and threads).
    Posting {
        /// How many threads are posted or updated.
        threads: usize,
    },
}

/// Receives [`Event`]s while a round runs (the binary draws progress bars from them).
pub trait Progress: Send + Sync {
    /// Called for every event, from any task.
    fn event(&self, event: Event<'_>);
}

/// A [`Progress`] that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn event(&self, _event: Event<'_>) {}
}

/// Everything one round needs: the input to [`run_round`].
pub struct Round {
    /// The round id (journal file name, chat metadata); by default the date.
    pub id: String,
    /// The round's date: fills the branch pattern and the templates.
    pub date: NaiveDate,
    /// The `[maintain]` configuration (templates, branch pattern, paths, chat).
    pub config: Arc<MaintainConfig>,
    /// The selected projects, in configuration order.
    pub projects: Vec<ProjectSetup>,
    /// Projects left out by `--skip` (reported as skipped, not journaled, so that a run
    /// without `--skip` still does them).
    pub excluded: Vec<String>,
    /// How many projects run at once.
    pub jobs: NonZeroUsize,
    /// Run everything, show everything, push/open/post nothing (and write no journal).
    pub dry_run: bool,
    /// Run projects that failed in an earlier run of this round again.
    pub retry_failed: bool,
    /// Where the summary and threads go.
    pub chat: Arc<dyn ChatThreads>,
    /// Progress events.
    pub progress: Arc<dyn Progress>,
    /// Cancelled on Ctrl-C: running steps are killed, the journal is kept.
    pub cancel: CancellationToken,
    /// Author and committer of the maintenance commits.
    pub author: Author,
}

impl std::fmt::Debug for Round {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Round")
            .field("id", &self.id)
            .field("date", &self.date)
            .field("projects", &self.projects)
            .field("jobs", &self.jobs)
            .field("dry_run", &self.dry_run)
            .field("retry_failed", &self.retry_failed)
            .finish_non_exhaustive()
    }
}

struct Ctx {
    round: String,
    date: NaiveDate,
    branch: String,
    config: Arc<MaintainConfig>,
    dry_run: bool,
    journal: JournalStore,
    progress: Arc<dyn Progress>,
    cancel: CancellationToken,
    author: Author,
    planned: tokio::sync::Mutex<BTreeMap<String, ChangeRequestSpec>>,
}

/// Runs a round: each project's pipeline, concurrently, then the summary and threads.
///
/// Finished projects of an earlier run of the same round (from its journal) are not run
/// again; failed ones only with `retry_failed`. One project's failure never stops the
/// others. When `cancel` fires, running steps are killed, the journal keeps what was
/// done and the report says `interrupted`.
pub async fn run_round(round: Round) -> Result<RoundReport> {
    let journal_dir = round.config.paths.journal.clone();
    let journal_file = journal::journal_path(&journal_dir, &round.id);
    let _round_lock = claim_round(&round.id, &journal_file)?;
    let mut warnings = Vec::new();
    let mut journal_state = load_journal(&round, &journal_file, &mut warnings).await?;
    let date = journal_state.date;

    let (to_run, already_done) = plan(&round, &mut journal_state, &mut warnings).await;

    let ctx = Arc::new(Ctx {
        round: round.id.clone(),
        date,
        branch: branch_name(&round.config, date),
        config: round.config.clone(),
        dry_run: round.dry_run,
        journal: JournalStore::new(
            (!round.dry_run).then(|| journal_file.clone()),
            journal_state,
        ),
        progress: round.progress.clone(),
        cancel: round.cancel.clone(),
        author: round.author.clone(),
        planned: tokio::sync::Mutex::new(BTreeMap::new()),
    });
    // Written once up front so that even a round killed in its first second has a journal.
    ctx.journal.update(|_| {}).await?;

    round.progress.event(Event::RoundStarted {
        round: &round.id,
        running: to_run.iter().map(|s| s.project.name.as_str()).collect(),
        already_done: already_done.iter().map(String::as_str).collect(),
    });

    let semaphore = Arc::new(tokio::sync::Semaphore::new(round.jobs.get()));
    let mut tasks = tokio::task::JoinSet::new();
    for setup in to_run {
        let ctx = ctx.clone();
        let semaphore = semaphore.clone();
        tasks.spawn(async move {
            let Ok(permit) = semaphore.acquire_owned().await else {
                return Ok(());
            };
            if ctx.cancel.is_cancelled() {
                return Ok(());
            }
            run_project(&ctx, &setup, permit).await
        });
    }
    let mut journal_error = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(())) => {}
            Ok(Err(e)) => journal_error = Some(e),
            Err(e) => warnings.push(format!("a project task panicked: {e}")),
        }
    }
    if let Some(e) = journal_error {
        return Err(e);
    }
    let interrupted = round.cancel.is_cancelled();

    // Tell the team, unless interrupted (a re-run posts then) or dry-running (the
    // report carries the messages instead).
    let snapshot = ctx.journal.snapshot().await;
    let order: Vec<String> = round
        .projects
        .iter()
        .map(|s| s.project.name.clone())
        .collect();
    // The summary covers the whole round, including projects finished by earlier runs
    // with another `--only`; threads are posted for this run's projects.
    let all: Vec<String> = round
        .config
        .projects
        .iter()
        .map(|p| p.name.clone())
        .collect();
    let summary = round_summary(&round.id, &project_messages(&ctx, &round, &snapshot, &all));
    // Projects that get a message of their own; the others are lines of the summary.
    let messages: Vec<ProjectMessage> = project_messages(&ctx, &round, &snapshot, &order)
        .into_iter()
        .filter(|m| wants_message(&ctx, snapshot.projects.get(&m.project), m))
        .collect();
    if !interrupted && !round.dry_run {
        tell_team(&ctx, &round, &snapshot, &summary, &messages, &mut warnings).await?;
    }

    let projects = report_rows(&ctx, &round, &order, &already_done).await;
    Ok(RoundReport {
        round: round.id.clone(),
        dry_run: round.dry_run,
        interrupted,
        projects,
        journal: (!round.dry_run).then_some(journal_file),
        summary: Some(summary),
        messages,
        warnings,
    })
}

/// The round's journal from an earlier run, or a fresh one (always fresh in a dry-run).
async fn load_journal(
    round: &Round,
    journal_file: &Path,
    warnings: &mut Vec<String>,
) -> Result<Journal> {
    let earlier = if round.dry_run {
        None
    } else {
        tokio::task::spawn_blocking({
            let f = journal_file.to_owned();
            move || journal::load(&f)
        })
        .await
        .map_err(|e| Error::Task(e.to_string()))??
    };
    let journal_state = earlier.unwrap_or_else(|| Journal::new(&round.id, round.date));
    if journal_state.date != round.date {
        warnings.push(format!(
            "the journal of round {} was started on {}; using that date for branch names",
            round.id, journal_state.date
        ));
    }
    Ok(journal_state)
}

/// Which projects run now, and which finished in an earlier run of the round. Projects
/// whose thread carries the skip reaction are recorded as skipped.
async fn plan(
    round: &Round,
    journal_state: &mut Journal,
    warnings: &mut Vec<String>,
) -> (Vec<ProjectSetup>, Vec<String>) {
    // Projects whose thread of the running round carries the skip reaction.
    let skip_reaction = round.config.chat.reactions.skip.clone();
    let mut skipped_by_reaction: Vec<String> = Vec::new();
    match round.chat.read_round_status(&RoundId::new(&round.id)).await {
        Ok(statuses) => {
            for s in statuses {
                if s.skipped {
                    skipped_by_reaction.push(s.project);
                }
            }
        }
        Err(e) => warnings.push(format!(
            "could not read the round's thread reactions (`:{skip_reaction}:` skips): {e}"
        )),
    }

    let mut to_run = Vec::new();
    let mut already_done = Vec::new();
    for setup in &round.projects {
        let name = &setup.project.name;
        let record = journal_state.projects.get(name);
        // Skipped is re-decided every run: the reaction may have been taken away.
        let finished = record.is_some_and(|r| r.is_finished() && r.status != Some(Status::Skipped));
        let failed = record.is_some_and(|r| r.status == Some(Status::Failed));
        // Only telling the team failed: the next posting pass retries that, the
        // pipeline need not run again.
        let failed_at_chat = record.is_some_and(|r| {
            r.failure
                .as_ref()
                .is_some_and(|f| f.stage == FailedStage::Chat)
        });
        if finished && !(failed && round.retry_failed) || failed_at_chat {
            already_done.push(name.clone());
            continue;
        }
        if skipped_by_reaction.contains(name) {
            let entry = journal_state.projects.entry(name.clone()).or_default();
            *entry = ProjectRecord {
                status: Some(Status::Skipped),
                skip_reason: Some(format!("`:{skip_reaction}:` reaction on its thread")),
                thread: entry.thread.clone(),
                chat_pending: true,
                finished_at: Some(Utc::now()),
                ..ProjectRecord::default()
            };
            already_done.push(name.clone());
            continue;
        }
        to_run.push(setup.clone());
    }

    (to_run, already_done)
}

/// One report row per project: finished ones from the journal, interrupted ones as
/// failed where they stopped, `--skip`ped ones as skipped; in configuration order.
async fn report_rows(
    ctx: &Ctx,
    round: &Round,
    order: &[String],
    already_done: &[String],
) -> Vec<ProjectReport> {
    let final_journal = ctx.journal.snapshot().await;
    let planned = ctx.planned.lock().await.clone();
    let mut projects = Vec::new();
    for name in order {
        let Some(record) = final_journal.projects.get(name) else {
            continue;
        };
        if !record.is_finished() {
            // Interrupted before it ended: shown as failed where it stopped.
            let mut row = ProjectReport::from_record(name, record, false);
            row.failure = Some(Failure {
                stage: failed_stage_of(record.stage),
                message: "interrupted".to_owned(),
                cause: "interrupted".to_owned(),
                exit_code: None,
                log: None,
                log_tail: String::new(),
            });
            projects.push(row);
            continue;
        }
        let mut row = ProjectReport::from_record(name, record, already_done.contains(name));
        row.planned_change_request = planned.get(name).cloned();
        projects.push(row);
    }
    for name in &round.excluded {
        projects.push(ProjectReport {
            name: name.clone(),
            status: Status::Skipped,
            stage: Stage::Queued,
            failure: None,
            skip_reason: Some("left out with --skip".to_owned()),
            branch: None,
            commit: None,
            change_request: None,
            planned_change_request: None,
            upgrades: UpgradeCounts::default(),
            diff: None,
            duration_ms: 0,
            from_earlier_run: false,
        });
    }
    // Configuration order for everything, excluded ones included.
    projects.sort_by_key(|p| {
        round
            .config
            .projects
            .iter()
            .position(|c| c.name == p.name)
            .unwrap_or(usize::MAX)
    });
    projects
}

fn failed_stage_of(stage: Stage) -> FailedStage {
    match stage {
        Stage::Queued | Stage::Clone | Stage::Upgrade => FailedStage::Upgrade,
        Stage::Build => FailedStage::Build,
        Stage::Test | Stage::Diff => FailedStage::Test,
        Stage::Push => FailedStage::Push,
        Stage::Forge => FailedStage::Forge,
        Stage::Chat | Stage::Done => FailedStage::Chat,
    }
}

async fn enter(ctx: &Ctx, project: &str, stage: Stage) -> Result<()> {
    ctx.progress.event(Event::Stage { project, stage });
    ctx.journal
        .update_project(project, |p| p.stage = stage)
        .await?;
    Ok(())
}

/// How a pipeline ended short of success.
enum Stop {
    Failed(Failure),
    Interrupted,
}

fn fail(stage: FailedStage, message: impl Into<String>, cause: impl Into<String>) -> Stop {
    Stop::Failed(Failure {
        stage,
        message: message.into(),
        cause: cause.into(),
        exit_code: None,
        log: None,
        log_tail: String::new(),
    })
}

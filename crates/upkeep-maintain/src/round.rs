//! The round: every selected project through its pipeline, concurrently, then the team
//! is told.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use chrono::{NaiveDate, Utc};
use tokio_util::sync::CancellationToken;
use upkeep_chat::{
    ChangeRequestLink, ChatThreads, ProjectMessage, ProjectResult, ProjectUpgrade, RoundId,
    RoundSummary, StatusCounts, UpgradeCounts, group_upgrades,
};
use upkeep_config::{MaintainConfig, Placeholder, ResolvedProject};
use upkeep_deps::{ChangeKind, DiffReport};
use upkeep_forge::{ChangeRequestSpec, Forge, ForgeKind, RepoId};
use upkeep_git::{Author, Credentials, Expect, Oid, PushRequest, Repo};

use crate::journal::{
    self, ChangeRequestRef, FailedStage, Failure, Journal, JournalStore, ProjectRecord, Stage,
    Status, StepRecord,
};
use crate::report::{ProjectReport, RoundReport};
use crate::step::{StepEnd, StepSpec, run_step};
use crate::{Error, Result};

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

/// Picks the projects of a round: all, or those named in `only`, minus those in `skip`.
/// Returns the selected projects and the names left out by `skip`. An unknown name is an
/// error naming the known ones.
pub fn select<'a>(
    config: &'a MaintainConfig,
    only: &[String],
    skip: &[String],
) -> Result<(Vec<&'a upkeep_config::Project>, Vec<String>)> {
    let known: Vec<&str> = config.projects.iter().map(|p| p.name.as_str()).collect();
    for name in only.iter().chain(skip) {
        if !known.contains(&name.as_str()) {
            return Err(Error::UnknownProject {
                name: name.clone(),
                suggestion: upkeep_config::did_you_mean(name, &known).map(str::to_owned),
                known: known.iter().map(|k| (*k).to_owned()).collect(),
            });
        }
    }
    let mut selected = Vec::new();
    let mut excluded = Vec::new();
    for p in &config.projects {
        if !only.is_empty() && !only.contains(&p.name) {
            continue;
        }
        if skip.contains(&p.name) {
            excluded.push(p.name.clone());
        } else {
            selected.push(p);
        }
    }
    Ok((selected, excluded))
}

/// The branch a round of `date` pushes.
#[must_use]
pub fn branch_name(config: &MaintainConfig, date: NaiveDate) -> String {
    config.branch.render(date)
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
    let summary = round_summary(
        &round.id,
        &snapshot,
        &project_messages(&ctx, &round, &snapshot, &all),
    );
    let messages: Vec<ProjectMessage> = project_messages(&ctx, &round, &snapshot, &order);
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

/// The message of every finished project (and of those left out with `--skip`).
fn project_messages(
    ctx: &Ctx,
    round: &Round,
    snapshot: &Journal,
    order: &[String],
) -> Vec<ProjectMessage> {
    let nouns: BTreeMap<String, &'static str> = round
        .projects
        .iter()
        .map(|s| (s.project.name.clone(), change_request_noun(s.forge.kind())))
        .collect();
    order
        .iter()
        .filter_map(|name| match snapshot.projects.get(name) {
            Some(record) if record.is_finished() => Some(project_message(
                ctx,
                name,
                record,
                nouns.get(name).copied().unwrap_or("PR"),
            )),
            _ if round.excluded.contains(name) => Some(ProjectMessage {
                round: RoundId::new(&round.id),
                project: name.clone(),
                branch: None,
                change_request: None,
                result: ProjectResult::Skipped {
                    reason: "left out with --skip".to_owned(),
                },
                upgrades: UpgradeCounts::default(),
            }),
            _ => None,
        })
        .collect()
}

/// Posts the summary and the threads whose project changed since they were posted.
async fn tell_team(
    ctx: &Ctx,
    round: &Round,
    snapshot: &Journal,
    summary: &RoundSummary,
    messages: &[ProjectMessage],
    warnings: &mut Vec<String>,
) -> Result<()> {
    let pending: Vec<&ProjectMessage> = messages
        .iter()
        .filter(|m| {
            snapshot
                .projects
                .get(&m.project)
                .is_some_and(ProjectRecord::needs_chat)
        })
        .collect();
    if pending.is_empty() && snapshot.summary.is_some() {
        return Ok(());
    }
    round.progress.event(Event::Posting {
        threads: pending.len(),
    });
    match round.chat.post_summary(summary).await {
        Ok(delivery) => ctx.journal.update(|j| j.summary = Some(delivery)).await?,
        Err(e) => warnings.push(format!("the round summary was not posted: {}", chain(&e))),
    }
    for message in pending {
        post_thread(ctx, round.chat.as_ref(), message).await?;
    }
    Ok(())
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

/// Checks the round id (it names files) and takes the round's lock. Two processes
/// running one round would rewrite each other's journal and reap each other's steps: the
/// second one stops here. (A dry run writes no journal, but it uses the same clones and
/// logs, so it takes the lock too.)
fn claim_round(id: &str, journal_file: &std::path::Path) -> Result<std::fs::File> {
    let valid_id = !id.is_empty()
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid_id {
        return Err(Error::InvalidRoundId {
            round: id.to_owned(),
        });
    }
    lock_file(&journal_file.with_extension("lock"), false).map_err(|e| match e {
        LockError::Busy(lock) => Error::RoundBusy {
            round: id.to_owned(),
            lock,
        },
        LockError::Io(path, source) => Error::Lock { path, source },
    })
}

/// Why a lock was not taken.
enum LockError {
    /// Another process holds it.
    Busy(std::path::PathBuf),
    /// The lock file could not be created.
    Io(std::path::PathBuf, std::io::Error),
}

/// An exclusive advisory lock on `path` (created if missing), held until dropped; `wait`
/// blocks until it is free, otherwise a held lock is [`LockError::Busy`].
fn lock_file(path: &std::path::Path, wait: bool) -> std::result::Result<std::fs::File, LockError> {
    let io = |e| LockError::Io(path.to_owned(), e);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io)?;
    if wait {
        file.lock().map_err(io)?;
    } else {
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(LockError::Busy(path.to_owned())),
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
    }
    Ok(file)
}

/// Runs one project's pipeline. `slot` is its `--jobs` slot: held while the clone and the
/// make steps use the machine, handed back before the network-bound tail (push, change
/// request) so the next project's steps start meanwhile.
async fn run_project(
    ctx: &Ctx,
    setup: &ProjectSetup,
    slot: tokio::sync::OwnedSemaphorePermit,
) -> Result<()> {
    let name = setup.project.name.as_str();
    // The clone is this project's for the whole pipeline: another round using the same
    // cache (a different round id) waits rather than resetting the tree under our make.
    let clone_lock_path = ctx.config.paths.cache.join(format!("{name}.run.lock"));
    let _clone_lock = tokio::task::spawn_blocking(move || lock_file(&clone_lock_path, true))
        .await
        .map_err(|e| Error::Task(e.to_string()))?
        .map_err(|e| match e {
            LockError::Busy(path) => Error::Lock {
                path,
                source: std::io::Error::other("busy"),
            },
            LockError::Io(path, source) => Error::Lock { path, source },
        })?;
    // A step of a killed earlier run may still be running in the clone.
    for step in [Stage::Upgrade, Stage::Build, Stage::Test] {
        let pid_file =
            log_path(&ctx.config.paths.logs, &ctx.round, name, step.as_str()).with_extension("pid");
        crate::step::reap_orphan(&pid_file, &ctx.config.paths.cache.join(name));
    }
    let started = Instant::now();
    ctx.journal
        .update_project(name, |p| {
            let thread = p.thread.take();
            *p = ProjectRecord {
                started_at: Some(Utc::now()),
                // A thread posted by an earlier attempt is continued, not duplicated.
                thread,
                ..ProjectRecord::default()
            };
        })
        .await?;
    let outcome = pipeline(ctx, setup, Some(slot)).await;
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match outcome {
        Ok(Ok(status)) => {
            ctx.journal
                .update_project(name, |p| {
                    p.status = Some(status);
                    p.chat_pending = true;
                    p.stage = Stage::Done;
                    p.duration_ms = duration_ms;
                    p.finished_at = Some(Utc::now());
                })
                .await?;
        }
        Ok(Err(Stop::Failed(failure))) => {
            tracing::info!(project = name, stage = %failure.stage, message = %failure.message, "project failed");
            ctx.journal
                .update_project(name, |p| {
                    p.status = Some(Status::Failed);
                    p.chat_pending = true;
                    p.failure = Some(failure);
                    p.duration_ms = duration_ms;
                    p.finished_at = Some(Utc::now());
                })
                .await?;
        }
        Ok(Err(Stop::Interrupted)) => {
            ctx.journal
                .update_project(name, |p| p.duration_ms = duration_ms)
                .await?;
        }
        Err(e) => return Err(e),
    }
    let record = ctx.journal.project(name).await;
    ctx.progress.event(Event::ProjectFinished {
        project: name,
        record: &record,
    });
    Ok(())
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

/// The error and its causes on one line.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

/// The pipeline of one project. The outer `Result` is for journal failures (which stop
/// the round); the inner one says how the project ended.
#[allow(clippy::too_many_lines)] // One linear story: clone, steps, diff, push, forge.
async fn pipeline(
    ctx: &Ctx,
    setup: &ProjectSetup,
    mut slot: Option<tokio::sync::OwnedSemaphorePermit>,
) -> Result<std::result::Result<Status, Stop>> {
    let project = &setup.project;
    let name = project.name.as_str();

    // 1. The cached clone, at the remote base.
    enter(ctx, name, Stage::Clone).await?;
    let cache_dir = ctx.config.paths.cache.join(name);
    let synced = {
        let (url, dir, base, creds) = (
            project.remote.url.clone(),
            cache_dir.clone(),
            project.base_branch.clone(),
            setup.credentials.clone(),
        );
        tokio::task::spawn_blocking(move || upkeep_git::ensure_clone(&url, &dir, &base, &creds))
            .await
            .map_err(|e| Error::Task(e.to_string()))?
    };
    let synced = match synced {
        Ok(s) => s,
        Err(e) => {
            return Ok(Err(fail(
                FailedStage::Upgrade,
                format!("cannot bring the clone up to date: {}", chain(&e)),
                "clone failed",
            )));
        }
    };
    let base = synced.head;
    drop(synced);
    ctx.journal
        .update_project(name, |p| p.base = Some(base.to_string()))
        .await?;

    // 2. upgrade → build → test.
    for (stage, failed_stage, step) in [
        (Stage::Upgrade, FailedStage::Upgrade, &project.upgrade),
        (Stage::Build, FailedStage::Build, &project.build),
        (Stage::Test, FailedStage::Test, &project.test),
    ] {
        enter(ctx, name, stage).await?;
        let spec = StepSpec {
            name: stage.as_str().to_owned(),
            command: step.command.clone(),
            dir: cache_dir.clone(),
            env: project.env.clone(),
            timeout: step.timeout.get(),
            log: log_path(&ctx.config.paths.logs, &ctx.round, name, stage.as_str()),
            pid_file: Some(
                log_path(&ctx.config.paths.logs, &ctx.round, name, stage.as_str())
                    .with_extension("pid"),
            ),
        };
        let outcome = match run_step(&spec, &ctx.cancel).await {
            Ok(o) => o,
            Err(e) => {
                return Ok(Err(fail(failed_stage, chain(&e), "could not start")));
            }
        };
        ctx.journal
            .update_project(name, |p| {
                p.steps.insert(
                    stage.as_str().to_owned(),
                    StepRecord {
                        end: outcome.end,
                        exit_code: outcome.exit_code,
                        duration_ms: outcome.duration_ms,
                        log: outcome.log.clone(),
                    },
                );
            })
            .await?;
        let (message, cause) = match outcome.end {
            StepEnd::Passed => continue,
            StepEnd::Cancelled => return Ok(Err(Stop::Interrupted)),
            StepEnd::Failed => match outcome.exit_code {
                Some(code) => (
                    format!("`{}` exited with {code}", step.command),
                    format!("exit code {code}"),
                ),
                None => (
                    format!("`{}` was killed by a signal", step.command),
                    "killed".to_owned(),
                ),
            },
            StepEnd::TimedOut => (
                format!(
                    "`{}` ran longer than {} and was killed",
                    step.command, step.timeout
                ),
                "timed out".to_owned(),
            ),
        };
        return Ok(Err(Stop::Failed(Failure {
            stage: failed_stage,
            message,
            cause,
            exit_code: outcome.exit_code,
            log: Some(outcome.log),
            log_tail: outcome.tail,
        })));
    }
    if ctx.cancel.is_cancelled() {
        return Ok(Err(Stop::Interrupted));
    }

    // 3. Did anything change? Commit on a detached HEAD and diff the lockfiles.
    enter(ctx, name, Stage::Diff).await?;
    let committed = {
        let (dir, author, ctx_round) = (cache_dir.clone(), ctx.author.clone(), ctx.round.clone());
        tokio::task::spawn_blocking(move || commit_and_diff(&dir, base, &author, &ctx_round))
            .await
            .map_err(|e| Error::Task(e.to_string()))?
    };
    let (commit, diff) = match committed {
        Ok(Some(c)) => c,
        Ok(None) => return Ok(Ok(Status::Unchanged)),
        Err(e) => {
            return Ok(Err(fail(
                FailedStage::Push,
                format!("cannot commit the upgrade: {e}"),
                "commit failed",
            )));
        }
    };
    let counts = upgrade_counts(&diff);
    let values = |p: Placeholder, diff: &DiffReport| -> String {
        match p {
            Placeholder::Project => name.to_owned(),
            Placeholder::Round => ctx.round.clone(),
            Placeholder::Date => ctx.date.format("%Y-%m-%d").to_string(),
            Placeholder::Branch => ctx.branch.clone(),
            Placeholder::Base => project.base_branch.clone(),
            Placeholder::Summary => summary_line(&counts),
            Placeholder::Changes => upkeep_deps::render_markdown(diff),
            _ => String::new(),
        }
    };
    let message = ctx.config.commit_message.render(|p| values(p, &diff));
    let commit = {
        let (dir, message) = (cache_dir.clone(), message.clone());
        let branch = ctx.branch.clone();
        tokio::task::spawn_blocking(move || finish_commit(&dir, commit, &message, &branch))
            .await
            .map_err(|e| Error::Task(e.to_string()))?
    };
    let commit = match commit {
        Ok(c) => c,
        Err(e) => {
            return Ok(Err(fail(
                FailedStage::Push,
                format!("cannot commit the upgrade: {e}"),
                "commit failed",
            )));
        }
    };
    ctx.journal
        .update_project(name, |p| {
            p.branch = Some(ctx.branch.clone());
            p.commit = Some(commit.to_string());
            p.upgrades = counts;
            p.diff = Some(diff.clone());
        })
        .await?;

    // 4. Push the branch, compare-and-swap on the tip it had when we fetched. From here
    // on the project waits on the network, not the machine: free its slot.
    drop(slot.take());
    enter(ctx, name, Stage::Push).await?;
    let spec = ChangeRequestSpec {
        head: ctx.branch.clone(),
        base: project.base_branch.clone(),
        title: ctx.config.pr_title.render(|p| values(p, &diff)),
        body: ctx.config.pr_body.render(|p| values(p, &diff)),
        labels: project.labels.clone(),
        reviewers: project.reviewers.clone(),
        assignees: project.assignees.clone(),
        draft: project.draft,
    };
    if ctx.dry_run {
        ctx.planned.lock().await.insert(name.to_owned(), spec);
        return Ok(Ok(Status::Changed));
    }
    {
        let pushed = {
            let (dir, url, creds, branch, email) = (
                cache_dir.clone(),
                project.remote.url.clone(),
                setup.credentials.clone(),
                ctx.branch.clone(),
                ctx.author.email.clone(),
            );
            tokio::task::spawn_blocking(move || {
                push_branch(&dir, &url, &creds, &branch, commit, &email)
            })
            .await
            .map_err(|e| Error::Task(e.to_string()))?
        };
        if let Err((cause, detail)) = pushed {
            return Ok(Err(fail(
                FailedStage::Push,
                format!("cannot push {}: {detail}", ctx.branch),
                cause,
            )));
        }
    }
    ctx.journal
        .update_project(name, |p| p.pushed = true)
        .await?;

    // 5. Open or update the change request.
    enter(ctx, name, Stage::Forge).await?;
    match setup.forge.upsert_change_request(&setup.repo, &spec).await {
        Ok(upserted) => {
            let cr = upserted.change_request;
            ctx.journal
                .update_project(name, |p| {
                    p.change_request = Some(ChangeRequestRef {
                        url: cr.url.clone(),
                        number: cr.number,
                    });
                })
                .await?;
        }
        Err(e) => {
            return Ok(Err(fail(
                FailedStage::Forge,
                format!(
                    "cannot open the change request on {}: {}",
                    setup.forge.kind(),
                    chain(&e)
                ),
                "forge request failed",
            )));
        }
    }
    Ok(Ok(Status::Changed))
}

/// `<logs>/<round>/<project>/<step>.log`
#[must_use]
pub fn log_path(logs: &Path, round: &str, project: &str, step: &str) -> PathBuf {
    logs.join(round).join(project).join(format!("{step}.log"))
}

type Committed = (Oid, DiffReport);

/// Commits the work tree (if it changed) on a detached HEAD over `base`, diffs the
/// lockfiles, and reads the branch's remote tip. `None` when nothing changed.
fn commit_and_diff(
    dir: &Path,
    base: Oid,
    author: &Author,
    round: &str,
) -> std::result::Result<Option<Committed>, String> {
    let repo = Repo::open(dir).map_err(|e| chain(&e))?;
    if repo.status_is_clean().map_err(|e| chain(&e))? {
        return Ok(None);
    }
    // Detached so the local base branch keeps mirroring the remote.
    repo.git2()
        .set_head_detached(base)
        .map_err(|e| e.message().to_owned())?;
    let provisional = format!("Maintenance {round}");
    let Some(commit) = repo
        .commit_all(&provisional, author)
        .map_err(|e| chain(&e))?
    else {
        return Ok(None);
    };
    let diff = crate::gitdiff::diff_commits(&repo, base, commit).map_err(|e| chain(&e))?;
    Ok(Some((commit, diff)))
}

/// Gives the commit its final message and points the local branch at it. When the
/// branch already exists on the remote with the same tree on the same base (a re-run
/// the same day), the remote commit is reused so that nothing is pushed again.
fn finish_commit(
    dir: &Path,
    commit: Oid,
    message: &str,
    branch: &str,
) -> std::result::Result<Oid, String> {
    let repo = Repo::open(dir).map_err(|e| chain(&e))?;
    let git = repo.git2();
    let c = git
        .find_commit(commit)
        .map_err(|e| e.message().to_owned())?;
    let final_commit = c
        .amend(Some("HEAD"), None, None, None, Some(message), None)
        .map_err(|e| e.message().to_owned())?;
    let tree = c.tree_id();
    let parent = c.parent_id(0).ok();
    drop(c);
    let remote_ref = format!("refs/remotes/origin/{branch}");
    let reuse = git.refname_to_id(&remote_ref).ok().filter(|tip| {
        git.find_commit(*tip).is_ok_and(|t| {
            t.tree_id() == tree && t.parent_count() == 1 && t.parent_id(0).ok() == parent
        })
    });
    let target = reuse.unwrap_or(final_commit);
    git.reference(
        &format!("refs/heads/{branch}"),
        target,
        true,
        "upkeep: maintenance round",
    )
    .map_err(|e| e.message().to_owned())?;
    Ok(target)
}

/// Pushes `commit` to `branch` on the remote, expecting the remote's tip as fetched.
fn push_branch(
    dir: &Path,
    url: &str,
    creds: &Credentials,
    branch: &str,
    commit: Oid,
    author_email: &str,
) -> std::result::Result<(), (&'static str, String)> {
    let git_err = |e: upkeep_git::Error| {
        let cause = match &e {
            upkeep_git::Error::PushRejected { .. } => "push rejected",
            upkeep_git::Error::RemoteMoved { .. } => "branch moved on the remote",
            _ => "push failed",
        };
        (cause, chain(&e))
    };
    let repo = Repo::open(dir).map_err(git_err)?;
    let remote_ref = format!("refs/heads/{branch}");
    let fetched = repo
        .git2()
        .refname_to_id(&format!("refs/remotes/origin/{branch}"))
        .ok();
    if fetched == Some(commit) {
        return Ok(());
    }
    let request = match fetched {
        Some(old) => {
            // The branch of an earlier run today is replaced (only if nobody moved it
            // since we fetched) — but never when its tip is somebody else's work. Both
            // author and committer: an amend or rebase keeps upkeep as the author but
            // makes the person the committer.
            let tip = repo.git2().find_commit(old).ok();
            let tip_author = tip
                .as_ref()
                .and_then(|c| c.author().email().ok().map(str::to_owned));
            let tip_committer = tip
                .as_ref()
                .and_then(|c| c.committer().email().ok().map(str::to_owned));
            if tip_author.as_deref() != Some(author_email)
                || tip_committer.as_deref() != Some(author_email)
            {
                return Err((
                    "branch has commits by others",
                    format!(
                        "{branch} already exists on the remote and its tip {old} was not made \
                         by upkeep ({}); merge or delete it, then re-run",
                        tip_committer.unwrap_or_else(|| "unknown committer".to_owned())
                    ),
                ));
            }
            PushRequest::single(commit, remote_ref, Expect::Tip(old)).forced()
        }
        None => PushRequest::single(commit, remote_ref, Expect::Absent),
    };
    repo.push(url, creds, &request).map_err(git_err)?;
    Ok(())
}

fn upgrade_counts(diff: &DiffReport) -> UpgradeCounts {
    let mut counts = UpgradeCounts::default();
    for (_, change) in diff.changes() {
        match change.kind {
            ChangeKind::Major => counts.major += 1,
            ChangeKind::Minor => counts.minor += 1,
            ChangeKind::Patch => counts.patch += 1,
            _ => counts.other += 1,
        }
    }
    counts
}

/// `1 major, 4 minor, 2 patch upgrades`
fn summary_line(c: &UpgradeCounts) -> String {
    let parts: Vec<String> = [
        (c.major, "major"),
        (c.minor, "minor"),
        (c.patch, "patch"),
        (c.other, "other"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, k)| format!("{n} {k}"))
    .collect();
    if parts.is_empty() {
        "No lockfile changes detected.".to_owned()
    } else {
        format!("Dependency changes: {}.", parts.join(", "))
    }
}

fn project_message(ctx: &Ctx, name: &str, record: &ProjectRecord, noun: &str) -> ProjectMessage {
    let kind = noun.to_owned();
    let result = match (record.status, &record.failure) {
        (Some(Status::Changed), _) => ProjectResult::Changed,
        (Some(Status::Unchanged), _) => ProjectResult::Unchanged,
        (Some(Status::Skipped), _) => ProjectResult::Skipped {
            reason: record.skip_reason.clone().unwrap_or_default(),
        },
        (_, Some(f)) if f.stage == FailedStage::Chat => {
            // The pipeline itself succeeded; only telling the team failed.
            if record.change_request.is_some() {
                ProjectResult::Changed
            } else {
                ProjectResult::Unchanged
            }
        }
        (_, Some(f)) => ProjectResult::Failed {
            stage: stage_label(ctx, f),
            exit_code: f.exit_code,
            log_tail: if f.log_tail.is_empty() {
                f.message.clone()
            } else {
                f.log_tail.clone()
            },
        },
        (_, None) => ProjectResult::Failed {
            stage: "unknown".to_owned(),
            exit_code: None,
            log_tail: String::new(),
        },
    };
    ProjectMessage {
        round: RoundId::new(&ctx.round),
        project: name.to_owned(),
        branch: record
            .pushed
            .then(|| ctx.branch.clone())
            .or(record.branch.clone()),
        change_request: record.change_request.as_ref().map(|cr| ChangeRequestLink {
            url: cr.url.clone(),
            number: Some(cr.number),
            kind: kind.clone(),
        }),
        result,
        upgrades: record.upgrades,
    }
}

/// `make test` for step failures (the command is what people recognise), else the stage.
fn stage_label(ctx: &Ctx, f: &Failure) -> String {
    let _ = ctx;
    match f.stage {
        FailedStage::Upgrade | FailedStage::Build | FailedStage::Test if f.log.is_some() => f
            .message
            .split('`')
            .nth(1)
            .map_or_else(|| f.stage.to_string(), str::to_owned),
        other => other.to_string(),
    }
}

fn round_summary(round: &str, journal: &Journal, messages: &[ProjectMessage]) -> RoundSummary {
    let upgrades = messages.iter().flat_map(|m| {
        journal
            .projects
            .get(&m.project)
            .and_then(|r| r.diff.as_ref())
            .into_iter()
            .flat_map(DiffReport::likely_breaking)
            .map(|(_, c)| ProjectUpgrade {
                project: m.project.clone(),
                package: c.name.clone(),
                from: c.from.clone().unwrap_or_default(),
                to: c.to.clone().unwrap_or_default(),
                major: c.kind == ChangeKind::Major,
            })
            .collect::<Vec<_>>()
    });
    RoundSummary {
        round: RoundId::new(round),
        major_upgrades: group_upgrades(upgrades),
        counts: StatusCounts::from_messages(messages),
    }
}

async fn post_thread(ctx: &Ctx, chat: &dyn ChatThreads, message: &ProjectMessage) -> Result<()> {
    let name = message.project.as_str();
    ctx.progress.event(Event::Stage {
        project: name,
        stage: Stage::Chat,
    });
    match chat.open_or_continue_thread(message).await {
        Ok(thread) => {
            ctx.journal
                .update_project(name, |p| {
                    p.thread = Some(thread);
                    p.chat_pending = false;
                    if p.failure
                        .as_ref()
                        .is_some_and(|f| f.stage == FailedStage::Chat)
                    {
                        p.failure = None;
                        p.status = Some(if p.change_request.is_some() {
                            Status::Changed
                        } else {
                            Status::Unchanged
                        });
                    }
                })
                .await?;
        }
        Err(e) => {
            let text = chain(&e);
            ctx.journal
                .update_project(name, |p| {
                    // A project that already failed keeps its own failure; the thread
                    // is retried on the next run.
                    if p.failure.is_none() {
                        p.status = Some(Status::Failed);
                        p.failure = Some(Failure {
                            stage: FailedStage::Chat,
                            message: format!("cannot post the project's thread: {text}"),
                            cause: "chat request failed".to_owned(),
                            exit_code: None,
                            log: None,
                            log_tail: String::new(),
                        });
                    }
                })
                .await?;
        }
    }
    Ok(())
}

/// The forge kind's name for a change request.
#[must_use]
pub fn change_request_noun(kind: ForgeKind) -> &'static str {
    match kind {
        ForgeKind::GitLab => "MR",
        ForgeKind::GitHub | ForgeKind::Local => "PR",
    }
}

#[cfg(test)]
mod claim_tests {
    use super::{Error, claim_round};

    #[test]
    fn a_round_runs_in_one_process_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("2026-11-22.json");
        let held = claim_round("2026-11-22", &journal).unwrap();
        assert!(matches!(
            claim_round("2026-11-22", &journal),
            Err(Error::RoundBusy { .. })
        ));
        drop(held);
        assert!(
            claim_round("2026-11-22", &journal).is_ok(),
            "free again once released"
        );
    }

    #[test]
    fn round_ids_cannot_escape_their_directories() {
        let dir = tempfile::tempdir().unwrap();
        for id in ["../../x", "a/b", "", ".hidden", "a\\b"] {
            let journal = dir.path().join("j.json");
            assert!(
                matches!(claim_round(id, &journal), Err(Error::InvalidRoundId { .. })),
                "{id:?}"
            );
        }
    }
}

//! The round: the selected projects (or this runner's share of them) through their
//! pipelines, concurrently, each message posted as its project ends.
//!
//! The rooms: [`select`] picks projects and [`shard`] splits them over runners, [`claims`]
//! makes sure one runner works a project at a time, [`schedule`] runs the share (and
//! helps other shards), [`pipeline`] takes one project from clone to change request (with
//! [`git`] for its commit and push), [`records`] writes what happened behind the work,
//! [`messages`] turns records into what the team reads, [`summary`] posts the round's
//! summary once, and [`reporting`] is `maintain report`.

mod claims;
mod git;
mod locks;
mod messages;
mod pipeline;
mod records;
pub(crate) mod reporting;
mod schedule;
mod select;
mod shard;
mod summary;

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use tokio_util::sync::CancellationToken;
use upkeep_chat::{ChatThreads, ProjectMessage, RoundId};
use upkeep_config::{MaintainConfig, ResolvedProject};
use upkeep_forge::{ChangeRequestSpec, Forge, RepoId};
use upkeep_git::{Author, Credentials};
use upkeep_state::{Clock, LocalStore, StateStore, StateStoreExt as _, SystemClock};
use upkeep_text::error_chain;

use crate::journal::{
    self, FailedStage, Failure, Journal, JournalError, ProjectRecord, RoundMeta, Stage,
};
use crate::report::{ProjectReport, RoundReport};
use crate::{Error, Result};

use self::claims::{Claims, Runner};
pub(crate) use self::messages::package_changes;
use self::messages::{Naming, project_messages, round_summary, wants_message};
pub use self::pipeline::log_path;
use self::records::Records;
pub use self::reporting::{ReportRequest, report_round};
pub use self::select::{MissingRepository, branch_name, missing_repository, select};
pub use self::shard::{Shard, ShardError};

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
    /// A project's pipeline ended (its message is posted next).
    ProjectFinished {
        /// The project.
        project: &'a str,
        /// Its record.
        record: &'a ProjectRecord,
    },
    /// Another runner works a project of this run; this run waits for it to end (or for
    /// its lease to run out).
    Waiting {
        /// The project.
        project: &'a str,
        /// The runner holding it.
        holder: &'a str,
    },
    /// This runner took a project of another shard that nobody had started yet.
    Helping {
        /// The project.
        project: &'a str,
        /// Its shard.
        shard: Shard,
    },
    /// The round summary is being posted.
    Posting {
        /// How many project messages are still to be posted with it (those whose
        /// posting failed when their project ended).
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

/// Where a round's records live and how runners share them.
#[derive(Clone)]
pub struct StateSetup {
    /// The store: a [`LocalStore`] by default, a git repository for runners that share
    /// a round.
    pub store: Arc<dyn StateStore>,
    /// How long a runner's claim on a project lasts unless renewed: a dead runner's
    /// projects are taken over after it.
    pub lease: Duration,
    /// A project's record is written this long after the first of a burst of changes
    /// (it is written through before a push, a change request, a message, and at the
    /// end).
    pub write_delay: Duration,
    /// The time, for leases.
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for StateSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateSetup")
            .field("store", &self.store.location())
            .field("lease", &self.lease)
            .field("write_delay", &self.write_delay)
            .finish_non_exhaustive()
    }
}

impl StateSetup {
    /// The lease of a claim unless configured: long enough for any pipeline step between
    /// two renewals, short enough that a dead runner's projects are taken over the same
    /// morning.
    pub const DEFAULT_LEASE: Duration = Duration::from_mins(10);
    /// The write-behind delay unless configured.
    pub const DEFAULT_WRITE_DELAY: Duration = Duration::from_millis(250);

    /// `store` with the default lease, delay and the system clock.
    #[must_use]
    pub fn new(store: Arc<dyn StateStore>) -> Self {
        Self {
            store,
            lease: Self::DEFAULT_LEASE,
            write_delay: Self::DEFAULT_WRITE_DELAY,
            clock: Arc::new(SystemClock),
        }
    }

    /// Records as files under `dir` (the embedded default: `<state_dir>/state`).
    pub fn local(dir: impl Into<PathBuf>) -> Result<Self> {
        let store = LocalStore::open(dir).map_err(|source| {
            Error::Journal(JournalError::Store {
                doing: "open the state directory".to_owned(),
                location: "local state directory".to_owned(),
                source: Box::new(source),
            })
        })?;
        Ok(Self::new(Arc::new(store)))
    }
}

/// Everything one round needs: the input to [`run_round`].
pub struct Round {
    /// The round id (state keys, chat metadata); by default the date.
    pub id: String,
    /// The round's date: fills the branch pattern and the templates.
    pub date: NaiveDate,
    /// The `[maintain]` configuration (templates, branch pattern, paths, chat).
    pub config: Arc<MaintainConfig>,
    /// The selected projects, in configuration order.
    pub projects: Vec<ProjectSetup>,
    /// Projects left out by `--skip` (reported as skipped, not recorded, so that a run
    /// without `--skip` still does them).
    pub excluded: Vec<String>,
    /// This runner's share of the selected projects (`--shard I/N`); `None` runs them
    /// all and posts the summary at the end (a sharded round's summary is posted by
    /// [`report_round`]).
    pub shard: Option<Shard>,
    /// With a shard: once its own projects are all started, take projects of other
    /// running shards that nobody has started yet, so that an uneven split does not
    /// leave runners idle.
    pub help_other_shards: bool,
    /// How many projects run at once.
    pub jobs: NonZeroUsize,
    /// Run everything, show everything, push/open/post nothing (and write no state).
    pub dry_run: bool,
    /// Run projects that failed in an earlier run of this round again.
    pub retry_failed: bool,
    /// Where the round's records live.
    pub state: StateSetup,
    /// Where the summary and project messages go.
    pub chat: Arc<dyn ChatThreads>,
    /// Progress events.
    pub progress: Arc<dyn Progress>,
    /// Cancelled on Ctrl-C: running steps are killed, the state is kept.
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
            .field("shard", &self.shard)
            .field("jobs", &self.jobs)
            .field("dry_run", &self.dry_run)
            .field("retry_failed", &self.retry_failed)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

struct Ctx {
    round: String,
    date: NaiveDate,
    branch: String,
    config: Arc<MaintainConfig>,
    dry_run: bool,
    retry_failed: bool,
    /// `None` in a dry run: nothing is read or written.
    store: Option<Arc<dyn StateStore>>,
    journal: Arc<Records>,
    /// `None` in a dry run: nothing is claimed.
    claims: Option<Arc<Claims>>,
    naming: Naming,
    chat: Arc<dyn ChatThreads>,
    progress: Arc<dyn Progress>,
    cancel: CancellationToken,
    author: Author,
    /// Projects whose message carries the skip reaction.
    skipped_by_reaction: Vec<String>,
    planned: tokio::sync::Mutex<BTreeMap<String, ChangeRequestSpec>>,
    warnings: Mutex<Vec<String>>,
}

impl Ctx {
    /// Notes a problem of the round as a whole (shown once in the report).
    fn warn(&self, text: String) {
        let mut w = self.warnings.lock().unwrap_or_else(PoisonError::into_inner);
        if !w.contains(&text) {
            w.push(text);
        }
    }
}

/// Runs a round: this runner's projects through their pipelines, concurrently, each
/// project's message posted when it ends; then (unsharded) the summary.
///
/// Projects finished by an earlier run of the round (as the state store says) are not
/// run again; failed ones only with `retry_failed`. A project is claimed before it is
/// worked: one that another runner works is waited for, and taken over if that runner's
/// lease runs out. One project's failure never stops the others. When `cancel` fires,
/// running steps are killed, the state keeps what was done and the report says
/// `interrupted`.
#[allow(clippy::too_many_lines)] // One story: state, share, work, save, summary, report.
pub async fn run_round(round: Round) -> Result<RoundReport> {
    check_round_id(&round.id)?;
    let store = (!round.dry_run).then(|| round.state.store.clone());
    let earlier = match &store {
        Some(store) => {
            let (store, id) = (store.clone(), round.id.clone());
            tokio::task::spawn_blocking(move || Journal::load(store.as_ref(), &id))
                .await
                .map_err(|e| Error::Task(e.to_string()))??
        }
        None => None,
    }
    .unwrap_or_else(|| Journal::new(&round.id));
    let meta = match &store {
        Some(store) => record_round(store.clone(), &round, earlier.meta.clone()).await?,
        None => new_meta(&round),
    };
    let ctx = Arc::new(context(&round, store, meta.date).await);
    if meta.date != round.date {
        ctx.warn(format!(
            "round {} was started on {}; using that date for branch names",
            round.id, meta.date
        ));
    }

    let (queue, already_done, others) = schedule::share(&round, &earlier);
    round.progress.event(Event::RoundStarted {
        round: &round.id,
        running: queue.iter().map(|s| s.project.name.as_str()).collect(),
        already_done: already_done.iter().map(String::as_str).collect(),
    });

    let background = CancellationToken::new();
    let writer = tokio::spawn(ctx.journal.clone().write_behind(background.clone()));
    let renewer = ctx
        .claims
        .clone()
        .map(|c| tokio::spawn(renew_claims(c, background.clone())));
    let worked = schedule::run(&ctx, &round, queue, others, &earlier).await;
    background.cancel();
    let _ = writer.await;
    if let Some(r) = renewer {
        let _ = r.await;
    }
    let mut state_saved = true;
    if let Err(e) = ctx.journal.flush().await {
        state_saved = false;
        ctx.warn(format!(
            "the round's state could not be saved: {}; re-run the round to finish it",
            error_chain(&e)
        ));
    }
    let worked = worked?;
    if let Some(claims) = ctx.claims.clone() {
        // Claims of projects stopped short (interrupted): given back so that a re-run
        // starts at once.
        let _ = tokio::task::spawn_blocking(move || {
            for key in claims.held_keys() {
                claims.release(&key);
            }
        })
        .await;
    }
    let interrupted = round.cancel.is_cancelled();

    // The round as the store has it now: other runners' projects too.
    let mut all_records = match &ctx.claims {
        Some(_) => {
            let store = round.state.store.clone();
            let id = round.id.clone();
            tokio::task::spawn_blocking(move || Journal::load(store.as_ref(), &id))
                .await
                .map_err(|e| Error::Task(e.to_string()))?
                .ok()
                .flatten()
                .map(|j| j.projects)
                .unwrap_or_default()
        }
        None => BTreeMap::new(),
    };
    // This runner's own records as it has them (in a dry run, the only ones).
    all_records.extend(ctx.journal.snapshot());

    let order: Vec<String> = worked.order.clone();
    let summary = round_summary(
        &round.id,
        &project_messages(&ctx.naming, &all_records, &meta.projects),
    );
    // Projects that get a message of their own; the others are lines of the summary.
    let messages: Vec<ProjectMessage> = project_messages(&ctx.naming, &all_records, &order)
        .into_iter()
        .filter(|m| {
            wants_message(
                round.config.chat.post_unchanged,
                all_records.get(&m.project),
                m,
            )
        })
        .collect();
    let summary_delivery =
        if round.shard.is_none_or(|s| s.total() == 1) && !interrupted && !round.dry_run {
            post_summary(&ctx, &round, &summary, &all_records).await
        } else {
            None
        };

    let projects = report_rows(&ctx, &round, &order, &all_records, &worked).await;
    let warnings = ctx
        .warnings
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    Ok(RoundReport {
        round: round.id.clone(),
        dry_run: round.dry_run,
        interrupted,
        projects,
        state: (!round.dry_run).then(|| round.state.store.location()),
        state_saved,
        summary: Some(summary),
        summary_delivery,
        messages,
        warnings,
    })
}

/// The context every project's task shares.
async fn context(round: &Round, store: Option<Arc<dyn StateStore>>, date: NaiveDate) -> Ctx {
    let label = round
        .shard
        .map_or_else(|| "run".to_owned(), |s| format!("shard-{s}"));
    let claims = store.clone().map(|store| {
        Arc::new(Claims::new(
            store,
            round.state.clock.clone(),
            Runner::this_process(&label),
            round.state.lease,
        ))
    });
    let naming = Naming {
        round: round.id.clone(),
        branch: branch_name(&round.config, date),
        nouns: nouns(round),
        excluded: round.excluded.clone(),
    };
    let ctx = Ctx {
        round: round.id.clone(),
        date,
        branch: naming.branch.clone(),
        config: round.config.clone(),
        dry_run: round.dry_run,
        retry_failed: round.retry_failed,
        journal: Arc::new(Records::new(
            store.clone(),
            &round.id,
            round.state.write_delay,
        )),
        store,
        claims,
        naming,
        chat: round.chat.clone(),
        progress: round.progress.clone(),
        cancel: round.cancel.clone(),
        author: round.author.clone(),
        skipped_by_reaction: Vec::new(),
        planned: tokio::sync::Mutex::new(BTreeMap::new()),
        warnings: Mutex::new(Vec::new()),
    };
    let skipped_by_reaction = skip_reactions(&ctx, round).await;
    Ctx {
        skipped_by_reaction,
        ..ctx
    }
}

/// What each project's forge calls a change request: as configured, or as its adapter
/// says for the selected ones.
fn nouns(round: &Round) -> BTreeMap<String, &'static str> {
    let mut nouns: BTreeMap<String, &'static str> = round
        .config
        .projects
        .iter()
        .map(|p| (p.name.clone(), messages::configured_noun(p.remote.kind)))
        .collect();
    for s in &round.projects {
        nouns.insert(s.project.name.clone(), s.forge.kind().change_request_noun());
    }
    nouns
}

/// Projects whose message of the running round carries the skip reaction.
async fn skip_reactions(ctx: &Ctx, round: &Round) -> Vec<String> {
    let skip_reaction = &round.config.chat.reactions.skip;
    match round.chat.read_round_status(&RoundId::new(&round.id)).await {
        Ok(statuses) => statuses
            .into_iter()
            .filter(|s| s.skipped)
            .map(|s| s.project)
            .collect(),
        Err(e) => {
            ctx.warn(format!(
                "could not read the round's thread reactions (`:{skip_reaction}:` skips): {e}"
            ));
            Vec::new()
        }
    }
}

/// The meta record of a round not written anywhere (a dry run).
fn new_meta(round: &Round) -> RoundMeta {
    RoundMeta {
        version: journal::FORMAT,
        round: round.id.clone(),
        date: round.date,
        projects: round
            .config
            .projects
            .iter()
            .map(|p| p.name.clone())
            .collect(),
        shards: round.shard.map(Shard::total),
        created_at: Utc::now(),
    }
}

/// Writes the round's meta record, or brings it up to date: the first run fixes the
/// date; projects configured since are added to its set.
async fn record_round(
    store: Arc<dyn StateStore>,
    round: &Round,
    earlier: Option<RoundMeta>,
) -> Result<RoundMeta> {
    let fresh = new_meta(round);
    if let Some(meta) = &earlier
        && fresh.projects.iter().all(|p| meta.projects.contains(p))
        && (fresh.shards.is_none() || fresh.shards == meta.shards)
    {
        return Ok(meta.clone());
    }
    let key = journal::keys::meta(&round.id)?;
    tokio::task::spawn_blocking(move || {
        let mut result = None;
        store
            .update(&key, |current| {
                let mut meta = match current {
                    Some(r) => r.json::<RoundMeta>()?,
                    None => fresh.clone(),
                };
                let before = meta.clone();
                for p in &fresh.projects {
                    if !meta.projects.contains(p) {
                        meta.projects.push(p.clone());
                    }
                }
                if fresh.shards.is_some() {
                    meta.shards = fresh.shards;
                }
                let changed = current.is_none() || meta != before;
                result = Some(meta.clone());
                if !changed {
                    return Ok(None);
                }
                serde_json::to_vec_pretty(&meta)
                    .map(Some)
                    .map_err(|source| upkeep_state::Error::Json {
                        key: key.to_string(),
                        source,
                    })
            })
            .map_err(|e| {
                Error::Journal(JournalError::store(
                    store.as_ref(),
                    format!("write {key}"),
                    e,
                ))
            })?;
        Ok(result.unwrap_or(fresh))
    })
    .await
    .map_err(|e| Error::Task(e.to_string()))?
}

/// Renews this runner's claims while the round runs.
async fn renew_claims(claims: Arc<Claims>, stop: CancellationToken) {
    let every = (claims.ttl() / 6).max(Duration::from_millis(100));
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = stop.cancelled() => return,
        }
        let c = claims.clone();
        let _ = tokio::task::spawn_blocking(move || c.renew_due()).await;
    }
}

/// Posts the summary at the end of an unsharded run (and the messages whose posting
/// failed when their project ended).
async fn post_summary(
    ctx: &Ctx,
    round: &Round,
    summary: &upkeep_chat::RoundSummary,
    records: &BTreeMap<String, ProjectRecord>,
) -> Option<upkeep_chat::Delivery> {
    let pending = records
        .iter()
        .filter(|(name, r)| r.needs_chat() && ctx.journal.snapshot().contains_key(*name))
        .count();
    round.progress.event(Event::Posting { threads: pending });
    let claims = ctx.claims.clone()?;
    match summary::post_summary_once(
        round.state.store.clone(),
        claims,
        round.chat.as_ref(),
        summary,
        &round.cancel,
    )
    .await
    {
        Ok(delivery) => Some(delivery),
        Err(warning) => {
            ctx.warn(warning);
            None
        }
    }
}

/// One report row per project this run handled: finished ones from the records,
/// interrupted ones as failed where they stopped, `--skip`ped ones as skipped; in
/// configuration order.
async fn report_rows(
    ctx: &Ctx,
    round: &Round,
    order: &[String],
    records: &BTreeMap<String, ProjectRecord>,
    worked: &schedule::Worked,
) -> Vec<ProjectReport> {
    let planned = ctx.planned.lock().await.clone();
    let mut projects = Vec::new();
    for name in order {
        if let Some(holder) = worked.lost.get(name) {
            let mut row = ProjectReport::skipped(name, format!("taken over by {holder}"));
            row.from_earlier_run = true;
            projects.push(row);
            continue;
        }
        let Some(record) = records.get(name) else {
            if round.cancel.is_cancelled() {
                projects.push(ProjectReport::interrupted(name, &ProjectRecord::default()));
            }
            continue;
        };
        if !record.is_finished() {
            projects.push(ProjectReport::interrupted(name, record));
            continue;
        }
        let mut row =
            ProjectReport::from_record(name, record, worked.not_by_this_run.contains(name));
        row.planned_change_request = planned.get(name).cloned();
        projects.push(row);
    }
    for name in &round.excluded {
        projects.push(ProjectReport::skipped(
            name,
            "left out with --skip".to_owned(),
        ));
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

/// The stage a project stopped at, as a failure is reported.
pub(crate) fn failed_stage_of(stage: Stage) -> FailedStage {
    match stage {
        Stage::Queued | Stage::Clone | Stage::Upgrade => FailedStage::Upgrade,
        Stage::Build => FailedStage::Build,
        Stage::Test | Stage::Diff => FailedStage::Test,
        Stage::Push => FailedStage::Push,
        Stage::Forge => FailedStage::Forge,
        Stage::Chat | Stage::Done => FailedStage::Chat,
    }
}

/// The round id names directories of logs and keys of the state store.
fn check_round_id(id: &str) -> Result<()> {
    let valid_id = !id.is_empty()
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid_id {
        Ok(())
    } else {
        Err(Error::InvalidRoundId {
            round: id.to_owned(),
        })
    }
}

async fn enter(ctx: &Ctx, project: &str, stage: Stage) -> Result<()> {
    ctx.progress.event(Event::Stage { project, stage });
    ctx.journal.update_project(project, |p| p.stage = stage)?;
    Ok(())
}

/// How a pipeline ended short of success.
enum Stop {
    Failed(Failure),
    Interrupted,
    /// Another runner took the project over: this one stops and writes nothing more.
    Lost,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_ids_cannot_escape_their_directories() {
        for id in ["../../x", "a/b", "", ".hidden", "a\\b"] {
            assert!(
                matches!(check_round_id(id), Err(Error::InvalidRoundId { .. })),
                "{id:?}"
            );
        }
        assert!(check_round_id("2026-11-22").is_ok());
    }
}

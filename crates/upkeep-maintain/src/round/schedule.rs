//! Running a share of the round: claim each project, work it, wait for those another
//! runner works, and help other shards once this one's projects are all started.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::claims::Claimed;
use super::messages::post_project;
use super::pipeline::run_project;
use upkeep_text::error_chain;

use super::{Ctx, Event, ProjectSetup, Round, Shard};
use crate::journal::{FailedStage, Journal, ProjectRecord, Status, keys};
use crate::{Error, Result};

/// A claim that keeps failing (the state store is down) is given up after this many
/// attempts, and the project reported as not done.
const CLAIM_ATTEMPTS: u32 = 5;

/// What to do with a project, given its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    /// It ended in an earlier run and its message is posted: nothing.
    Done,
    /// It ended, but its message still has to be posted (or brought up to date).
    PostOnly,
    /// Run its pipeline.
    Run,
}

fn next_for(record: Option<&ProjectRecord>, retry_failed: bool) -> Next {
    let Some(r) = record else {
        return Next::Run;
    };
    // Only telling the team failed: the pipeline need not run again.
    if r.failure
        .as_ref()
        .is_some_and(|f| f.stage == FailedStage::Chat)
    {
        return Next::PostOnly;
    }
    // Skipped is re-decided every run: the reaction may have been taken away.
    let finished = r.is_finished() && r.status != Some(Status::Skipped);
    let failed = r.status == Some(Status::Failed);
    if finished && !(failed && retry_failed) {
        return if r.needs_chat() {
            Next::PostOnly
        } else {
            Next::Done
        };
    }
    Next::Run
}

/// What a runner knows of a project's record before claiming it.
#[derive(Debug, Clone)]
enum Known {
    /// As read at the start of the run (`None`: no record).
    Read(Option<Box<ProjectRecord>>),
    /// Nothing that is still true: read it again.
    Unread,
}

/// A project waiting its turn.
struct Item {
    setup: ProjectSetup,
    /// Its record as last read.
    known: Known,
    /// Failed attempts to claim it (the store failing).
    errors: u32,
    /// How often it was found held by another runner in a row.
    held: u32,
}

/// How long to wait before looking again at a project another runner holds, after
/// finding it held `times` times in a row: soon at first (a helper from another shard
/// usually finishes it within seconds, and this shard cannot end before it knows), then
/// less often, up to `poll` (a holder that died is taken over once its lease ran out).
fn look_again_after(times: u32, poll: Duration) -> Duration {
    let first = Duration::from_millis(250);
    first
        .saturating_mul(1 << times.min(10))
        .min(poll.max(first))
}

/// What this run did with its share.
#[derive(Debug, Default)]
pub(super) struct Worked {
    /// The projects of this run's share, and those it helped with, in configuration
    /// order (helped ones last).
    pub order: Vec<String>,
    /// Projects that ended without this run: in earlier runs, or by another runner.
    pub not_by_this_run: BTreeSet<String>,
    /// Projects another runner took over while this one worked them, and by whom.
    pub lost: BTreeMap<String, String>,
    /// Projects that could not be claimed (the state store kept failing), and why.
    pub unclaimed: BTreeMap<String, String>,
}

/// Splits the selected projects into this run's queue (its share, minus what ended in an
/// earlier run), those already done, and the other shards' projects (which it may help
/// with).
pub(super) fn share(
    round: &Round,
    earlier: &Journal,
) -> (VecDeque<ProjectSetup>, Vec<String>, Vec<ProjectSetup>) {
    let mut queue = VecDeque::new();
    let mut done = Vec::new();
    let mut others = Vec::new();
    for setup in &round.projects {
        let name = &setup.project.name;
        if round.shard.is_some_and(|s| !s.contains(name)) {
            if round.help_other_shards {
                others.push(setup.clone());
            }
            continue;
        }
        match next_for(earlier.projects.get(name), round.retry_failed) {
            Next::Done => done.push(name.clone()),
            Next::PostOnly | Next::Run => queue.push_back(setup.clone()),
        }
    }
    (queue, done, others)
}

/// Works the queue with `--jobs` slots until every project of it ended (here or by
/// another runner), or the round is cancelled.
#[allow(clippy::too_many_lines)] // One loop: start what slots allow, wait, settle what ended.
pub(super) async fn run(
    ctx: &Arc<Ctx>,
    round: &Round,
    queue: VecDeque<ProjectSetup>,
    mut others: Vec<ProjectSetup>,
    earlier: &Journal,
) -> Result<Worked> {
    let mut worked = Worked {
        order: round
            .projects
            .iter()
            .map(|s| s.project.name.clone())
            .filter(|n| round.shard.is_none_or(|s| s.contains(n)))
            .collect(),
        ..Worked::default()
    };
    for name in &worked.order {
        if !queue.iter().any(|s| &s.project.name == name) {
            worked.not_by_this_run.insert(name.clone());
        }
    }
    let mut queue: VecDeque<Item> = queue
        .into_iter()
        .map(|setup| Item {
            known: Known::Read(
                earlier
                    .projects
                    .get(&setup.project.name)
                    .cloned()
                    .map(Box::new),
            ),
            setup,
            errors: 0,
            held: 0,
        })
        .collect();
    let poll = ctx.claims.as_ref().map_or(Duration::from_secs(1), |c| {
        (c.ttl() / 10).clamp(Duration::from_millis(200), Duration::from_secs(15))
    });
    let semaphore = Arc::new(tokio::sync::Semaphore::new(round.jobs.get()));
    let mut tasks = tokio::task::JoinSet::new();
    let mut waiting: Vec<(Item, Instant)> = Vec::new();
    let mut announced: BTreeSet<String> = BTreeSet::new();
    let mut next_help = Instant::now();
    let mut failure = None;
    loop {
        let cancelled = ctx.cancel.is_cancelled();
        // Whether the last look for other shards' projects found none.
        let mut nothing_to_help = others.is_empty();
        if !cancelled {
            loop {
                // Other shards' projects are looked at every `poll`, and once more as soon
                // as this run's own work is over: a shard with nothing left exits then,
                // rather than idling until the next look.
                let own_work_over = queue.is_empty() && waiting.is_empty() && tasks.is_empty();
                let may_help = !others.is_empty() && (Instant::now() >= next_help || own_work_over);
                if queue.is_empty() && !may_help {
                    break;
                }
                let Ok(slot) = semaphore.clone().try_acquire_owned() else {
                    break;
                };
                let item = if let Some(item) = queue.pop_front() {
                    item
                } else if let Some((setup, shard)) = help(ctx, round, &mut others).await {
                    round.progress.event(Event::Helping {
                        project: &setup.project.name,
                        shard,
                    });
                    worked.order.push(setup.project.name.clone());
                    Item {
                        setup,
                        known: Known::Unread,
                        errors: 0,
                        held: 0,
                    }
                } else {
                    next_help = Instant::now() + poll;
                    nothing_to_help = true;
                    break;
                };
                let ctx = ctx.clone();
                tasks.spawn(async move {
                    let outcome = work(&ctx, &item.setup, slot, item.known.clone()).await;
                    (item, outcome)
                });
            }
        }
        let own_work_left = !queue.is_empty() || !waiting.is_empty();
        if tasks.is_empty() && (cancelled || (!own_work_left && nothing_to_help)) {
            break;
        }
        let mut wake = waiting
            .iter()
            .map(|(_, due)| *due)
            .min()
            .unwrap_or_else(|| Instant::now() + Duration::from_hours(1));
        // The next look at other shards' projects, when a slot is free to help with one
        // (with every slot busy, the slot arm below wakes the loop when one frees).
        if !others.is_empty() && semaphore.available_permits() > 0 {
            wake = wake.min(next_help.max(Instant::now() + Duration::from_millis(50)));
        }
        // Work that waits only for a slot: a project hands its slot back before its push
        // and change request, long before its task ends, and the next one starts then.
        let wants_slot = !cancelled
            && semaphore.available_permits() == 0
            && (!queue.is_empty() || (!others.is_empty() && Instant::now() >= next_help));
        tokio::select! {
            Ok(_freed) = semaphore.acquire(), if wants_slot => {}
            Some(joined) = tasks.join_next() => {
                let (mut item, outcome) = match joined {
                    Ok(x) => x,
                    Err(e) => {
                        ctx.warn(format!("a project task panicked: {e}"));
                        continue;
                    }
                };
                let name = item.setup.project.name.clone();
                match outcome {
                    Ok(Outcome::Worked) => {}
                    Ok(Outcome::NotByUs) => {
                        worked.not_by_this_run.insert(name);
                    }
                    Ok(Outcome::Held { holder }) => {
                        if announced.insert(name.clone()) {
                            round.progress.event(Event::Waiting {
                                project: &name,
                                holder: &holder,
                            });
                        }
                        item.known = Known::Unread;
                        let due = Instant::now() + look_again_after(item.held, poll);
                        item.held += 1;
                        waiting.push((item, due));
                    }
                    Ok(Outcome::StoreFailed { error }) => {
                        item.errors += 1;
                        item.known = Known::Unread;
                        if item.errors >= CLAIM_ATTEMPTS {
                            worked.unclaimed.insert(name, error);
                        } else {
                            let wait = poll * item.errors;
                            tracing::warn!(project = %name, %error, attempt = item.errors, ?wait, "the state store failed; trying the project again later");
                            waiting.push((item, Instant::now() + wait));
                        }
                    }
                    Ok(Outcome::Lost { by }) => {
                        worked.lost.insert(name, by);
                    }
                    Err(e) => {
                        failure.get_or_insert(e);
                    }
                }
            }
            () = tokio::time::sleep_until(wake) => {
                let now = Instant::now();
                let (due, later): (Vec<_>, Vec<_>) =
                    waiting.drain(..).partition(|(_, d)| *d <= now);
                waiting = later;
                for (item, _) in due.into_iter().rev() {
                    queue.push_front(item);
                }
            }
            () = ctx.cancel.cancelled(), if !cancelled => {}
        }
    }
    failure.map_or(Ok(worked), Err)
}

/// How working a project went.
enum Outcome {
    /// This run worked it (to its end, or until interrupted).
    Worked,
    /// It had ended already; nothing to do.
    NotByUs,
    /// Another runner holds it.
    Held { holder: String },
    /// The state store failed; try again later.
    StoreFailed { error: String },
    /// Another runner took it over while this one worked it.
    Lost { by: String },
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Task(e.to_string()))
}

/// Claims the project, and works it if it still needs work.
#[allow(clippy::too_many_lines)] // Claim, read under the claim, work, give back: one story.
async fn work(
    ctx: &Arc<Ctx>,
    setup: &ProjectSetup,
    slot: OwnedSemaphorePermit,
    known: Known,
) -> Result<Outcome> {
    let name = setup.project.name.clone();
    let key = keys::project(&ctx.round, &name)?;
    let read = |ctx: &Arc<Ctx>| {
        let store = ctx.store.clone();
        let key = key.clone();
        blocking(move || store.map(|s| s.read(&key)).transpose())
    };
    let record = match known {
        Known::Read(r) => r.map(|r| *r),
        Known::Unread => match read(ctx).await? {
            Ok(r) => r.flatten().and_then(|r| r.json::<ProjectRecord>().ok()),
            Err(e) => {
                return Ok(Outcome::StoreFailed {
                    error: error_chain(&e),
                });
            }
        },
    };
    if next_for(record.as_ref(), ctx.retry_failed) == Next::Done {
        return Ok(Outcome::NotByUs);
    }
    // `lost` fires only when another runner takes the project over (the records and the
    // claim are then left alone); `stop` also fires when the round is interrupted (the
    // records and the claim are then saved and given back).
    let lost = CancellationToken::new();
    let stop = lost.child_token();
    let link = {
        let (cancel, stop) = (ctx.cancel.clone(), stop.clone());
        tokio::spawn(async move {
            cancel.cancelled().await;
            stop.cancel();
        })
    };
    let _unlink = AbortOnDrop(link);
    let Some(claims) = ctx.claims.clone() else {
        // A dry run: nothing is claimed or written.
        ctx.journal.adopt(&name, None, lost.clone())?;
        return finish(ctx, setup, slot, stop, Next::Run).await;
    };
    let claim_key = keys::claim(&ctx.round, &name)?;
    let claimed = {
        let (claims, claim_key, lost) = (claims.clone(), claim_key.clone(), lost.clone());
        blocking(move || claims.claim(&claim_key, lost)).await?
    };
    match claimed {
        Err(e) => {
            return Ok(Outcome::StoreFailed {
                error: error_chain(&e),
            });
        }
        Ok(Claimed::Held { holder }) => {
            return Ok(Outcome::Held {
                holder: holder.owner,
            });
        }
        Ok(Claimed::Acquired { took_over_from }) => {
            if let Some(from) = took_over_from {
                tracing::info!(
                    project = name,
                    from,
                    "took the project over from a runner whose lease ran out"
                );
            }
        }
    }
    // Read again under the claim: the previous holder may have finished it.
    let current = match read(ctx).await? {
        Ok(r) => r.flatten(),
        Err(e) => {
            release(&claims, claim_key).await;
            return Ok(Outcome::StoreFailed {
                error: error_chain(&e),
            });
        }
    };
    let record = match ctx.journal.adopt(&name, current.as_ref(), lost.clone()) {
        Ok(r) => r,
        Err(e) => {
            release(&claims, claim_key).await;
            return Err(e.into());
        }
    };
    let next = next_for(
        Some(&record).filter(|_| current.is_some()),
        ctx.retry_failed,
    );
    if next == Next::Done {
        release(&claims, claim_key).await;
        return Ok(Outcome::NotByUs);
    }
    let outcome = finish(ctx, setup, slot, stop, next).await;
    if lost.is_cancelled() && !ctx.cancel.is_cancelled() {
        let state = {
            let (claims, key) = (claims.clone(), claim_key.clone());
            blocking(move || claims.state(&key)).await?
        };
        let by = match state {
            Ok(Some(s)) => s
                .holder
                .map_or_else(|| "another runner".to_owned(), |h| h.owner),
            _ => "another runner".to_owned(),
        };
        return Ok(Outcome::Lost { by });
    }
    release(&claims, claim_key).await;
    outcome
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn release(claims: &Arc<super::claims::Claims>, key: upkeep_state::Key) {
    let claims = claims.clone();
    let _ = tokio::task::spawn_blocking(move || claims.release(&key)).await;
}

/// Works a claimed project: its pipeline (or only its message), then its message. `stop`
/// fires when the round is interrupted or the project lost.
async fn finish(
    ctx: &Arc<Ctx>,
    setup: &ProjectSetup,
    slot: OwnedSemaphorePermit,
    stop: CancellationToken,
    next: Next,
) -> Result<Outcome> {
    let name = setup.project.name.as_str();
    let owner = ctx.claims.as_ref().map(|c| c.owner().to_owned());
    if next == Next::PostOnly {
        drop(slot);
        post_project(ctx, name).await?;
        return Ok(Outcome::Worked);
    }
    if ctx.skipped_by_reaction.iter().any(|s| s == name) {
        drop(slot);
        let skip = &ctx.config.chat.reactions.skip;
        ctx.journal.update_project(name, |p| {
            *p = ProjectRecord {
                status: Some(Status::Skipped),
                skip_reason: Some(format!("`:{skip}:` reaction on its thread")),
                thread: p.thread.take(),
                chat_pending: true,
                finished_at: Some(Utc::now()),
                runner: owner,
                ..ProjectRecord::default()
            };
        })?;
        persist(ctx, name).await;
        post_project(ctx, name).await?;
        return Ok(Outcome::Worked);
    }
    run_project(ctx, setup, slot, &stop).await?;
    persist(ctx, name).await;
    if !stop.is_cancelled() && ctx.journal.project(name).is_finished() {
        post_project(ctx, name).await?;
    }
    Ok(Outcome::Worked)
}

/// Writes the project's record through; a failure is a warning (the record stays to be
/// written, and a re-run redoes what it would have saved).
pub(super) async fn persist(ctx: &Ctx, name: &str) {
    if let Err(e) = ctx.journal.persist(name).await {
        ctx.warn(format!(
            "{name}: the state store did not take the project's record yet: {}",
            error_chain(&e)
        ));
    }
}

/// A project of another running shard that nobody has started, to help with: from the
/// shard with the most such projects, its last one (its own runner starts from the
/// first).
async fn help(
    ctx: &Arc<Ctx>,
    round: &Round,
    others: &mut Vec<ProjectSetup>,
) -> Option<(ProjectSetup, Shard)> {
    let total = round.shard?.total();
    let claims = ctx.claims.clone()?;
    let (store, id) = (ctx.store.clone()?, ctx.round.clone());
    let journal = blocking(move || Journal::load(store.as_ref(), &id))
        .await
        .ok()?
        .ok()
        .flatten()?;
    let now = claims.now();
    let running: BTreeSet<u32> = journal
        .claims
        .iter()
        .filter(|(_, lease)| lease.live_holder(now).is_some())
        .map(|(name, _)| Shard::of(name, total))
        .collect();
    others.retain(|s| {
        let n = &s.project.name;
        !journal.claims.contains_key(n) && !journal.projects.contains_key(n)
    });
    let mut by_shard: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (i, s) in others.iter().enumerate() {
        let shard = Shard::of(&s.project.name, total);
        if running.contains(&shard) {
            by_shard.entry(shard).or_default().push(i);
        }
    }
    let (&shard, candidates) = by_shard
        .iter()
        .max_by_key(|(s, c)| (c.len(), std::cmp::Reverse(**s)))?;
    let pick = *candidates.last()?;
    let setup = others.remove(pick);
    Some((setup, Shard::new(shard, total).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::Failure;

    #[test]
    fn a_held_project_is_looked_at_again_soon_then_less_often() {
        let poll = Duration::from_secs(15);
        let waits: Vec<_> = (0..8)
            .map(|n| look_again_after(n, poll).as_millis())
            .collect();
        assert_eq!(waits, [250, 500, 1000, 2000, 4000, 8000, 15000, 15000]);
        assert_eq!(
            look_again_after(3, Duration::from_millis(200)),
            Duration::from_millis(250),
            "never below the first wait"
        );
    }

    #[test]
    fn what_a_record_asks_for() {
        let ended = |status, chat_pending, thread: bool| ProjectRecord {
            status: Some(status),
            chat_pending,
            thread: thread.then(|| {
                serde_json::from_value(serde_json::json!({
                    "parent": {"message": {"channel": "C", "ts": "1"}, "posted": "created"},
                    "checklist": {"message": {"channel": "C", "ts": "2"}, "posted": "created"},
                    "failure": null
                }))
                .unwrap()
            }),
            ..ProjectRecord::default()
        };
        assert_eq!(next_for(None, false), Next::Run);
        assert_eq!(next_for(Some(&ProjectRecord::default()), false), Next::Run);
        assert_eq!(
            next_for(Some(&ended(Status::Changed, false, true)), false),
            Next::Done
        );
        assert_eq!(
            next_for(Some(&ended(Status::Changed, true, true)), false),
            Next::PostOnly
        );
        assert_eq!(
            next_for(Some(&ended(Status::Unchanged, false, false)), false),
            Next::PostOnly
        );
        assert_eq!(
            next_for(Some(&ended(Status::Failed, false, true)), false),
            Next::Done
        );
        assert_eq!(
            next_for(Some(&ended(Status::Failed, false, true)), true),
            Next::Run
        );
        assert_eq!(
            next_for(Some(&ended(Status::Skipped, false, true)), false),
            Next::Run
        );
        let mut chat_failed = ended(Status::Failed, true, false);
        chat_failed.failure = Some(Failure {
            stage: FailedStage::Chat,
            message: "cannot post".into(),
            cause: "chat request failed".into(),
            exit_code: None,
            log: None,
            log_tail: String::new(),
        });
        assert_eq!(next_for(Some(&chat_failed), true), Next::PostOnly);
    }
}

//! One project from its cached clone to its change request.

use std::path::{Path, PathBuf};
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use chrono::Utc;
use upkeep_config::Placeholder;
use upkeep_deps::DiffReport;
use upkeep_forge::ChangeRequestSpec;
use upkeep_git::Oid;

use super::git::{commit_and_diff, finish_commit, push_branch};
use super::locks::{LockError, lock_file};
use super::messages::{body_limit, change_request_body, summary_line, upgrade_counts};
use upkeep_text::error_chain;

use super::{Ctx, Event, ProjectSetup, Stop, enter, fail};
use crate::journal::{
    ChangeRequestRef, FailedStage, Failure, ProjectRecord, Stage, Status, StepRecord,
};
use crate::step::{StepEnd, StepSpec, run_step};
use crate::{Error, Result};

/// Runs one project's pipeline. `slot` is its `--jobs` slot: held while the clone and the
/// make steps use the machine, handed back before the network-bound tail (push, change
/// request) so the next project's steps start meanwhile. `cancel` stops it: the round was
/// interrupted, or another runner took the project over.
pub(super) async fn run_project(
    ctx: &Ctx,
    setup: &ProjectSetup,
    slot: tokio::sync::OwnedSemaphorePermit,
    cancel: &CancellationToken,
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
    let runner = ctx.claims.as_ref().map(|c| c.owner().to_owned());
    ctx.journal.update_project(name, |p| {
        let thread = p.thread.take();
        *p = ProjectRecord {
            started_at: Some(Utc::now()),
            // A thread posted by an earlier attempt is continued, not duplicated.
            thread,
            runner,
            ..ProjectRecord::default()
        };
    })?;
    let outcome = pipeline(ctx, setup, Some(slot), cancel).await;
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match outcome {
        Ok(Ok(status)) => {
            ctx.journal.update_project(name, |p| {
                p.status = Some(status);
                p.chat_pending = true;
                p.stage = Stage::Done;
                p.duration_ms = duration_ms;
                p.finished_at = Some(Utc::now());
            })?;
        }
        Ok(Err(Stop::Failed(failure))) => {
            tracing::info!(project = name, stage = %failure.stage, message = %failure.message, "project failed");
            ctx.journal.update_project(name, |p| {
                p.status = Some(Status::Failed);
                p.chat_pending = true;
                p.failure = Some(failure);
                p.duration_ms = duration_ms;
                p.finished_at = Some(Utc::now());
            })?;
        }
        Ok(Err(Stop::Interrupted)) => {
            ctx.journal
                .update_project(name, |p| p.duration_ms = duration_ms)?;
        }
        // Not ours any more: nothing is recorded or reported as ended.
        Ok(Err(Stop::Lost)) => return Ok(()),
        Err(e) => return Err(e),
    }
    let record = ctx.journal.project(name);
    ctx.progress.event(Event::ProjectFinished {
        project: name,
        record: &record,
    });
    Ok(())
}

/// The pipeline of one project. The outer `Result` is for journal failures (which stop
/// the round); the inner one says how the project ended.
#[allow(clippy::too_many_lines)] // One linear story: clone, steps, diff, push, forge.
async fn pipeline(
    ctx: &Ctx,
    setup: &ProjectSetup,
    mut slot: Option<tokio::sync::OwnedSemaphorePermit>,
    cancel: &CancellationToken,
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
                format!("cannot bring the clone up to date: {}", error_chain(&e)),
                "clone failed",
            )));
        }
    };
    let base = synced.head;
    drop(synced);
    ctx.journal
        .update_project(name, |p| p.base = Some(base.to_string()))?;

    // 1b. The repository's own `.upkeep.toml` at the base, merged over the central
    // settings. A file that does not parse fails this project (stage `config`), never
    // the round; `skip = true` ends it here.
    let settings_file = cache_dir.join(upkeep_config::REPO_SETTINGS_FILE);
    let effective;
    let project = match fs_err::read(&settings_file) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => project,
        Err(e) => {
            return Ok(Err(fail(
                FailedStage::Config,
                format!("cannot read {}: {e}", upkeep_config::REPO_SETTINGS_FILE),
                "unreadable .upkeep.toml",
            )));
        }
        Ok(bytes) => match crate::discover::parse_repo_settings(name, &project.base_branch, &bytes)
        {
            crate::discover::RepoSettingsRead::Valid(settings) => {
                if settings.skip {
                    let reason = settings.reason.clone().unwrap_or_default();
                    ctx.journal.update_project(name, |p| {
                        p.skip_reason =
                            Some(format!("{}: {reason}", upkeep_config::REPO_SETTINGS_FILE));
                    })?;
                    return Ok(Ok(Status::Skipped));
                }
                effective = project.clone().with_repo_settings(&settings);
                &effective
            }
            crate::discover::RepoSettingsRead::Invalid(message)
            | crate::discover::RepoSettingsRead::Unreadable(message) => {
                return Ok(Err(fail(
                    FailedStage::Config,
                    message,
                    "invalid .upkeep.toml",
                )));
            }
            crate::discover::RepoSettingsRead::Absent => project,
        },
    };

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
        let outcome = match run_step(&spec, cancel).await {
            Ok(o) => o,
            Err(e) => {
                return Ok(Err(fail(failed_stage, error_chain(&e), "could not start")));
            }
        };
        ctx.journal.update_project(name, |p| {
            p.steps.insert(
                stage.as_str().to_owned(),
                StepRecord {
                    end: outcome.end,
                    exit_code: outcome.exit_code,
                    duration_ms: outcome.duration_ms,
                    log: outcome.log.clone(),
                },
            );
        })?;
        let (message, cause) = match outcome.end {
            StepEnd::Passed => continue,
            StepEnd::Cancelled => return Ok(Err(stopped(ctx))),
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
        record_failed_tree_diff(ctx, name, &cache_dir, base).await?;
        return Ok(Err(Stop::Failed(Failure {
            stage: failed_stage,
            message,
            cause,
            exit_code: outcome.exit_code,
            log: Some(outcome.log),
            log_tail: outcome.tail,
        })));
    }
    if cancel.is_cancelled() {
        return Ok(Err(stopped(ctx)));
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
    ctx.journal.update_project(name, |p| {
        p.branch = Some(ctx.branch.clone());
        p.commit = Some(commit.to_string());
        p.upgrades = counts;
        p.diff = Some(diff.clone());
    })?;

    // 4. Push the branch, compare-and-swap on the tip it had when we fetched. From here
    // on the project waits on the network, not the machine: free its slot.
    drop(slot.take());
    enter(ctx, name, Stage::Push).await?;
    let spec = ChangeRequestSpec {
        head: ctx.branch.clone(),
        base: project.base_branch.clone(),
        title: ctx.config.pr_title.render(|p| values(p, &diff)),
        body: change_request_body(
            &ctx.config.pr_body,
            |p| values(p, &diff),
            &diff,
            body_limit(setup.forge.kind()),
        ),
        labels: project.labels.clone(),
        reviewers: project.reviewers.clone(),
        assignees: project.assignees.clone(),
        draft: project.draft,
    };
    if ctx.dry_run {
        ctx.planned.lock().await.insert(name.to_owned(), spec);
        return Ok(Ok(Status::Changed));
    }
    // Others see what follows: make sure the project is still this runner's, with the
    // record of how far it got written through.
    if let Err(stop) = guard(ctx, name, cancel).await {
        return Ok(Err(stop));
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
    ctx.journal.update_project(name, |p| p.pushed = true)?;

    // 5. Open or update the change request.
    enter(ctx, name, Stage::Forge).await?;
    if let Err(stop) = guard(ctx, name, cancel).await {
        return Ok(Err(stop));
    }
    match setup.forge.upsert_change_request(&setup.repo, &spec).await {
        Ok(upserted) => {
            // People the forge did not take (GitLab Free keeps one reviewer): a warning
            // of the round, not a failure; the forge reports them once, on the upsert
            // that tried to set them.
            for person in &upserted.not_applied {
                let role = match person.role {
                    upkeep_forge::PersonRole::Reviewer => "reviewer",
                    upkeep_forge::PersonRole::Assignee => "assignee",
                };
                ctx.warn(format!(
                    "{name}: {} was not added as {role} of {}: {}",
                    person.user, upserted.change_request.url, person.reason
                ));
            }
            let cr = upserted.change_request;
            ctx.journal.update_project(name, |p| {
                p.change_request = Some(ChangeRequestRef {
                    url: cr.url.clone(),
                    number: cr.number,
                });
            })?;
        }
        Err(e) => {
            return Ok(Err(fail(
                FailedStage::Forge,
                format!(
                    "cannot open the change request on {}: {}",
                    setup.forge.kind(),
                    error_chain(&e)
                ),
                "forge request failed",
            )));
        }
    }
    Ok(Ok(Status::Changed))
}

/// Why a cancelled project stopped: the round was interrupted, or the project is lost.
fn stopped(ctx: &Ctx) -> Stop {
    if ctx.cancel.is_cancelled() {
        Stop::Interrupted
    } else {
        Stop::Lost
    }
}

/// Before a step others see (push, change request): the record written through, and the
/// claim still this runner's with time to spare.
pub(super) async fn guard(
    ctx: &Ctx,
    name: &str,
    cancel: &CancellationToken,
) -> std::result::Result<(), Stop> {
    super::schedule::persist(ctx, name).await;
    if cancel.is_cancelled() {
        return Err(stopped(ctx));
    }
    if still_ours(ctx, name).await {
        Ok(())
    } else {
        Err(Stop::Lost)
    }
}

/// Whether this runner still holds the project's claim with time to spare (renewing it
/// if half of it is used), and no other runner wrote its record.
pub(super) async fn still_ours(ctx: &Ctx, name: &str) -> bool {
    if ctx.journal.is_lost(name) {
        return false;
    }
    let Some(claims) = ctx.claims.clone() else {
        return true;
    };
    let Ok(key) = crate::journal::keys::claim(&ctx.round, name) else {
        return false;
    };
    match tokio::task::spawn_blocking(move || claims.ensure(&key)).await {
        Ok(Ok(())) => true,
        Ok(Err(lost)) => {
            tracing::warn!(
                project = name,
                why = lost.0,
                "stopping: the project is no longer this runner's"
            );
            false
        }
        Err(_) => false,
    }
}

/// Records the lockfile changes of a failed step's work tree against `base` — what
/// `make upgrade` changed before the failure, the first suspects — so that the failure's
/// message and the report name them. A tree that cannot be diffed records nothing: the
/// failure itself is what matters.
async fn record_failed_tree_diff(ctx: &Ctx, name: &str, dir: &Path, base: Oid) -> Result<()> {
    let dir = dir.to_owned();
    let diff = tokio::task::spawn_blocking(move || {
        let repo = upkeep_git::Repo::open(&dir).map_err(|e| error_chain(&e))?;
        crate::gitdiff::diff_worktree(&repo, base, &dir).map_err(|e| error_chain(&e))
    })
    .await
    .map_err(|e| Error::Task(e.to_string()))?;
    match diff {
        Ok(diff) if !diff.is_empty() => {
            let counts = upgrade_counts(&diff);
            ctx.journal.update_project(name, |p| {
                p.upgrades = counts;
                p.diff = Some(diff);
            })?;
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(project = name, error = %e, "cannot diff the failed tree"),
    }
    Ok(())
}

/// `<logs>/<round>/<project>/<step>.log`
#[must_use]
pub fn log_path(logs: &Path, round: &str, project: &str, step: &str) -> PathBuf {
    logs.join(round).join(project).join(format!("{step}.log"))
}

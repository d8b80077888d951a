//! What the team reads: journal records turned into the chat's messages, and posting them
//! (each project's as soon as it ends).

use std::collections::BTreeMap;

use upkeep_chat::{
    ChangeRequestLink, ChatThreads, ProjectMessage, ProjectResult, ProjectUpgrade, RoundId,
    RoundSummary, StatusCounts, UpgradeCounts, group_upgrades,
};
use upkeep_deps::{ChangeKind, DiffReport};
use upkeep_forge::ForgeKind;

use super::{Ctx, Event, chain};
use crate::Result;
use crate::journal::{FailedStage, Failure, ProjectRecord, Stage, Status};

/// What a round's messages are made of besides the records: the round, its branch,
/// what each forge calls a change request, and the projects left out with `--skip`.
pub(crate) struct Naming {
    /// The round id.
    pub round: String,
    /// The round's branch.
    pub branch: String,
    /// `PR` or `MR`, per project.
    pub nouns: BTreeMap<String, &'static str>,
    /// Left out with `--skip`.
    pub excluded: Vec<String>,
}

/// The message of every finished project in `order` (and of those left out with
/// `--skip`).
pub(crate) fn project_messages(
    naming: &Naming,
    records: &BTreeMap<String, ProjectRecord>,
    order: &[String],
) -> Vec<ProjectMessage> {
    order
        .iter()
        .filter_map(|name| match records.get(name) {
            Some(record) if record.is_finished() => Some(project_message(
                naming,
                name,
                record,
                naming.nouns.get(name).copied().unwrap_or("PR"),
            )),
            _ if naming.excluded.contains(name) => Some(ProjectMessage {
                round: RoundId::new(&naming.round),
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

/// Posts the project's message as soon as its pipeline ended (when it still needs
/// posting), and writes the outcome through.
pub(super) async fn post_project(ctx: &Ctx, name: &str) -> Result<()> {
    let record = ctx.journal.project(name);
    // A dry run posts nothing: the report carries the messages.
    if ctx.dry_run || !record.needs_chat() {
        return Ok(());
    }
    let records = BTreeMap::from([(name.to_owned(), record)]);
    let Some(message) = project_messages(&ctx.naming, &records, &[name.to_owned()]).pop() else {
        return Ok(());
    };
    if !super::pipeline::still_ours(ctx, name).await {
        return Ok(());
    }
    post_thread(ctx, ctx.chat.as_ref(), &message).await?;
    if let Err(e) = ctx.journal.persist(name).await {
        ctx.warn(format!(
            "{name}: the state store did not take the posted message yet: {}",
            chain(&e)
        ));
    }
    Ok(())
}

pub(super) fn upgrade_counts(diff: &DiffReport) -> UpgradeCounts {
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
pub(super) fn summary_line(c: &UpgradeCounts) -> String {
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

fn project_message(
    naming: &Naming,
    name: &str,
    record: &ProjectRecord,
    noun: &str,
) -> ProjectMessage {
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
            stage: stage_label(f),
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
        round: RoundId::new(&naming.round),
        project: name.to_owned(),
        branch: record
            .pushed
            .then(|| naming.branch.clone())
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
fn stage_label(f: &Failure) -> String {
    match f.stage {
        FailedStage::Upgrade | FailedStage::Build | FailedStage::Test if f.log.is_some() => f
            .message
            .split('`')
            .nth(1)
            .map_or_else(|| f.stage.to_string(), str::to_owned),
        other => other.to_string(),
    }
}

pub(crate) fn round_summary(
    round: &str,
    records: &BTreeMap<String, ProjectRecord>,
    messages: &[ProjectMessage],
) -> RoundSummary {
    let upgrades = messages.iter().flat_map(|m| {
        records
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

pub(super) async fn post_thread(
    ctx: &Ctx,
    chat: &dyn ChatThreads,
    message: &ProjectMessage,
) -> Result<()> {
    let name = message.project.as_str();
    ctx.progress.event(Event::Stage {
        project: name,
        stage: Stage::Chat,
    });
    match chat.open_or_continue_thread(message).await {
        Ok(thread) => {
            ctx.journal.update_project(name, |p| {
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
            })?;
        }
        Err(e) => {
            let text = chain(&e);
            ctx.journal.update_project(name, |p| {
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
            })?;
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

/// [`change_request_noun`] for a forge kind as configured.
pub(crate) fn configured_noun(kind: upkeep_config::ForgeKind) -> &'static str {
    change_request_noun(match kind {
        upkeep_config::ForgeKind::Github => ForgeKind::GitHub,
        upkeep_config::ForgeKind::Gitlab => ForgeKind::GitLab,
        upkeep_config::ForgeKind::Local => ForgeKind::Local,
    })
}

//! What the team reads: journal records turned into the chat's messages, posting them,
//! and the change request's description.

use std::collections::BTreeMap;

use upkeep_chat::{
    ChangeRequestLink, ChatThreads, PackageChange, ProjectMessage, ProjectResult, RoundId,
    RoundSummary, UpgradeCounts, UpgradeKind,
};
use upkeep_config::{Placeholder, Template};
use upkeep_deps::{ChangeKind, DiffReport};
use upkeep_forge::ForgeKind;

use upkeep_text::error_chain;

use super::{Ctx, Event, Round};
use crate::Result;
use crate::journal::{FailedStage, Failure, Journal, ProjectRecord, Stage, Status};

/// The message of every finished project (and of those left out with `--skip`).
pub(super) fn project_messages(
    ctx: &Ctx,
    round: &Round,
    snapshot: &Journal,
    order: &[String],
) -> Vec<ProjectMessage> {
    let nouns: BTreeMap<String, &'static str> = round
        .projects
        .iter()
        .map(|s| (s.project.name.clone(), s.forge.kind().change_request_noun()))
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
                changes: Vec::new(),
            }),
            _ => None,
        })
        .collect()
}

/// Whether `message` is posted as a message of its own: changed and failed projects, the
/// others only with `[maintain.chat] post_unchanged` — or when the project already has a
/// message in this round, which is then kept up to date rather than left stale.
pub(super) fn wants_message(
    ctx: &Ctx,
    record: Option<&ProjectRecord>,
    message: &ProjectMessage,
) -> bool {
    message.wants_own_message(ctx.config.chat.post_unchanged)
        || record.is_some_and(|r| r.thread.is_some())
}

/// Posts the summary and the messages whose project changed since they were posted.
pub(super) async fn tell_team(
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
            let record = snapshot.projects.get(&m.project);
            record.is_some_and(ProjectRecord::needs_chat) && wants_message(ctx, record, m)
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
        Err(e) => warnings.push(format!(
            "the round summary was not posted: {}",
            error_chain(&e)
        )),
    }
    for message in pending {
        post_thread(ctx, round.chat.as_ref(), message).await?;
    }
    Ok(())
}

/// The diff's changes as the chat's neutral model.
pub(crate) fn package_changes(diff: &DiffReport) -> Vec<PackageChange> {
    diff.changes()
        .map(|(_, c)| PackageChange {
            package: c.name.clone(),
            from: c.from.clone(),
            to: c.to.clone(),
            kind: match c.kind {
                ChangeKind::Major => UpgradeKind::Major,
                ChangeKind::Minor => UpgradeKind::Minor,
                ChangeKind::Patch => UpgradeKind::Patch,
                ChangeKind::Prerelease => UpgradeKind::Prerelease,
                ChangeKind::Downgrade => UpgradeKind::Downgrade,
                ChangeKind::Added => UpgradeKind::Added,
                ChangeKind::Removed => UpgradeKind::Removed,
                ChangeKind::Other => UpgradeKind::Other,
            },
            likely_breaking: c.likely_breaking,
            direct: c.direct,
        })
        .collect()
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
        // A failed project's diff is that of its failed tree: what it upgraded before the
        // failure.
        changes: record
            .diff
            .as_ref()
            .map(package_changes)
            .unwrap_or_default(),
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

/// The round summary over every project's message (each carries its lockfile changes).
pub(super) fn round_summary(round: &str, messages: &[ProjectMessage]) -> RoundSummary {
    RoundSummary::from_messages(RoundId::new(round), messages)
}

pub(super) async fn post_thread(
    ctx: &Ctx,
    chat: &dyn ChatThreads,
    message: &ProjectMessage,
) -> Result<()> {
    let name = message.project.as_str();
    let record = ctx.journal.project(name).await;
    if !wants_message(ctx, Some(&record), message) {
        // A line of the summary, not a message. Left pending: with `post_unchanged` set
        // later, a re-run of the round posts it.
        return Ok(());
    }
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
            let text = error_chain(&e);
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

/// The most a change request's description may hold on `kind`, in bytes of UTF-8 — never
/// more characters than that, however the forge counts them.
#[must_use]
pub(super) fn body_limit(kind: ForgeKind) -> usize {
    match kind {
        // GitHub refuses a longer body: "body is too long (maximum is 65536 characters)".
        // The local forge has no limit of its own; it stands in for GitHub.
        ForgeKind::GitHub | ForgeKind::Local => 65_536,
        // GitLab: "description: 1 megabyte" (docs.gitlab.com, issuable-like models).
        ForgeKind::GitLab => 1_048_576,
    }
}

/// The change request's description from `template`, at most `limit` bytes: when the
/// dependency table makes it longer, `{changes}` is cut to what fits (direct changes
/// first, with a count of the rest), so that a huge lockfile change never fails the
/// change request. `values` fills every other placeholder.
pub(super) fn change_request_body(
    template: &Template,
    values: impl Fn(Placeholder) -> String,
    diff: &DiffReport,
    limit: usize,
) -> String {
    let with_changes = |budget: usize| {
        template.render(|p| match p {
            Placeholder::Changes => upkeep_deps::render_markdown_within(diff, budget),
            other => values(other),
        })
    };
    let full = with_changes(usize::MAX);
    if full.len() <= limit {
        return full;
    }
    let rest = template
        .render(|p| match p {
            Placeholder::Changes => String::new(),
            other => values(other),
        })
        .len();
    // Each use of `{changes}` gets its share of the room left.
    let uses = template
        .render(|p| match p {
            Placeholder::Changes => "x".to_owned(),
            _ => String::new(),
        })
        .len()
        - template.render(|_| String::new()).len();
    let mut budget = limit.saturating_sub(rest) / uses.max(1);
    loop {
        let body = with_changes(budget);
        if body.len() <= limit || budget == 0 {
            return cut_at(body, limit);
        }
        // Not expected (the shares add up to the room), but never loop forever.
        budget = budget.saturating_sub(body.len() - limit);
    }
}

/// `text` cut to at most `limit` bytes at a character boundary.
fn cut_at(mut text: String, limit: usize) -> String {
    if text.len() > limit {
        let mut end = limit;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use upkeep_deps::{Change, Ecosystem, LockfileDiff};

    fn huge_diff(n: usize) -> DiffReport {
        DiffReport {
            lockfiles: vec![LockfileDiff {
                path: "package-lock.json".into(),
                ecosystem: Ecosystem::Npm,
                changes: (0..n)
                    .map(|i| Change {
                        name: format!("package-{i:05}"),
                        from: Some("1.0.0".into()),
                        to: Some("2.0.0".into()),
                        kind: ChangeKind::Major,
                        direct: Some(i == 0),
                        likely_breaking: true,
                        ecosystem: Ecosystem::Npm,
                    })
                    .collect(),
            }],
            errors: Vec::new(),
        }
    }

    #[test]
    fn a_huge_change_request_body_fits_each_forge() {
        let diff = huge_diff(20_000);
        let template =
            Template::parse("Round `{round}` of **{project}**.\n\n{summary}\n\n{changes}\n")
                .unwrap();
        let values = |p: Placeholder| match p {
            Placeholder::Round => "2026-11-22".to_owned(),
            Placeholder::Project => "webapp".to_owned(),
            Placeholder::Summary => "Dependency changes: 20000 major.".to_owned(),
            _ => String::new(),
        };
        for kind in [ForgeKind::GitHub, ForgeKind::GitLab] {
            let limit = body_limit(kind);
            let body = change_request_body(&template, values, &diff, limit);
            assert!(body.len() <= limit, "{kind:?}: {} bytes", body.len());
            assert!(
                body.len() > limit * 9 / 10,
                "{kind:?}: only {} bytes",
                body.len()
            );
            assert!(body.starts_with("Round `2026-11-22` of **webapp**."));
            assert!(
                body.contains("| package-00000 |"),
                "the direct change is kept"
            );
            assert!(body.contains("more changes not listed"), "{kind:?}");
        }
        // Twice in one template: both uses share the room.
        let twice = Template::parse("{changes}\n---\n{changes}").unwrap();
        let body = change_request_body(&twice, values, &diff, 65_536);
        assert!(
            body.len() <= 65_536 && body.len() > 50_000,
            "{} bytes",
            body.len()
        );
        assert_eq!(body.matches("more changes not listed").count(), 2);
        // A small change is left as it is.
        let small = huge_diff(3);
        assert_eq!(
            change_request_body(&template, values, &small, 65_536),
            template.render(|p| match p {
                Placeholder::Changes => upkeep_deps::render_markdown(&small),
                other => values(other),
            })
        );
    }
}

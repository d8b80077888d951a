//! What the team reads: journal records turned into the chat's messages, posting them
//! (each project's as soon as it ends), and the change request's description.

use std::collections::BTreeMap;

use upkeep_chat::{
    ChangeRequestLink, ChatThreads, PackageChange, ProjectMessage, ProjectResult, RoundId,
    RoundSummary, UpgradeCounts, UpgradeKind,
};
use upkeep_config::{Placeholder, Template};
use upkeep_deps::{ChangeKind, DiffReport};
use upkeep_forge::ForgeKind;

use upkeep_text::error_chain;

use super::{Ctx, Event};
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
                changes: Vec::new(),
            }),
            _ => None,
        })
        .collect()
}

/// Whether `message` is posted as a message of its own: changed and failed projects, the
/// others only with `[maintain.chat] post_unchanged` — or when the project already has a
/// message in this round, which is then kept up to date rather than left stale.
pub(crate) fn wants_message(
    post_unchanged: bool,
    record: Option<&ProjectRecord>,
    message: &ProjectMessage,
) -> bool {
    message.wants_own_message(post_unchanged) || record.is_some_and(|r| r.thread.is_some())
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
            error_chain(&e)
        ));
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

/// The round summary over every project's message (each carries its lockfile changes).
pub(crate) fn round_summary(round: &str, messages: &[ProjectMessage]) -> RoundSummary {
    RoundSummary::from_messages(RoundId::new(round), messages)
}

pub(super) async fn post_thread(
    ctx: &Ctx,
    chat: &dyn ChatThreads,
    message: &ProjectMessage,
) -> Result<()> {
    let name = message.project.as_str();
    let record = ctx.journal.project(name);
    if !wants_message(ctx.config.chat.post_unchanged, Some(&record), message) {
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
            let text = error_chain(&e);
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

/// What a forge kind as configured calls a change request.
pub(crate) fn configured_noun(kind: upkeep_config::ForgeKind) -> &'static str {
    (match kind {
        upkeep_config::ForgeKind::Github => ForgeKind::GitHub,
        upkeep_config::ForgeKind::Gitlab => ForgeKind::GitLab,
        upkeep_config::ForgeKind::Local => ForgeKind::Local,
    })
    .change_request_noun()
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

//! The neutral message model: what a round tells the team, independent of where it is posted.
//!
//! These types take plain strings on purpose: the round crate converts its dependency diff
//! and pipeline results into them, so this crate never depends on `upkeep-deps` or
//! `upkeep-maintain`.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Identifies one maintenance round, e.g. `2025-06-02`. Recorded in message metadata so a
/// later run finds the round's messages in the channel itself.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RoundId(pub String);

impl RoundId {
    /// Wraps a round identifier.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The identifier as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RoundId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a package's version changed: the neutral mirror of `upkeep-deps`' change kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UpgradeKind {
    /// The first release number went up.
    Major,
    /// The second release number went up.
    Minor,
    /// A later release number went up.
    Patch,
    /// Only pre-release parts differ.
    Prerelease,
    /// The version went down.
    Downgrade,
    /// Newly in the lockfile.
    Added,
    /// No longer in the lockfile.
    Removed,
    /// A change the version scheme cannot order (a tag, a git ref, a digest).
    Other,
}

impl UpgradeKind {
    /// The lowercase name people read.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Major => "major",
            Self::Minor => "minor",
            Self::Patch => "patch",
            Self::Prerelease => "prerelease",
            Self::Downgrade => "downgrade",
            Self::Added => "added",
            Self::Removed => "removed",
            Self::Other => "other",
        }
    }
}

impl fmt::Display for UpgradeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One package's change in one project's lockfiles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageChange {
    /// Package name, e.g. `django`.
    pub package: String,
    /// Version before; `None` when added (or not versioned).
    pub from: Option<String>,
    /// Version after; `None` when removed (or not versioned).
    pub to: Option<String>,
    /// How it changed.
    pub kind: UpgradeKind,
    /// A major bump, or a `0.x` minor / `0.0.x` patch bump.
    pub likely_breaking: bool,
    /// `Some(true)` when the project's manifest asks for it, `Some(false)` when only other
    /// packages pull it in, `None` when no manifest says. Unknown counts as direct: nobody
    /// can say that the team did not choose it.
    pub direct: Option<bool>,
}

impl PackageChange {
    /// Only pulled in by other packages (as far as the manifest says).
    #[must_use]
    pub fn is_transitive(&self) -> bool {
        self.direct == Some(false)
    }

    /// How many major versions the change jumps (`0.1.7 → 8.2.0` is 8), read from the
    /// leading number of each version; 0 when either has none. Orders the "most notable"
    /// of many transitive majors.
    #[must_use]
    pub fn major_jump(&self) -> u64 {
        let lead = |v: &Option<String>| -> Option<u64> {
            let v = v.as_deref()?;
            let v = v.strip_prefix(['v', 'V']).unwrap_or(v);
            let digits: String = v.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        };
        match (lead(&self.from), lead(&self.to)) {
            (Some(a), Some(b)) => b.saturating_sub(a),
            _ => 0,
        }
    }

    /// The order people read changes in: likely-breaking direct ones first (majors before
    /// the rest), then likely-breaking transitive ones (biggest jump first), then the other
    /// direct ones, then the other transitive ones; by name within each group.
    #[must_use]
    pub fn notability(&self) -> impl Ord + use<'_> {
        (
            !self.likely_breaking,
            self.is_transitive(),
            self.kind != UpgradeKind::Major,
            std::cmp::Reverse(if self.is_transitive() {
                self.major_jump()
            } else {
                0
            }),
            self.kind,
            self.package.as_str(),
            self.to.as_deref(),
        )
    }
}

/// Sorts changes most notable first (see [`PackageChange::notability`]).
pub fn sort_notable_first(changes: &mut [PackageChange]) {
    changes.sort_by(|a, b| a.notability().cmp(&b.notability()));
}

/// One package's direct major (or likely-breaking) upgrade, and the projects it happened in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MajorUpgrade {
    /// Package name, e.g. `django`.
    pub package: String,
    /// Version before, e.g. `4.2`.
    pub from: String,
    /// Version after, e.g. `5.1`.
    pub to: String,
    /// Projects that got this upgrade, in display order.
    pub projects: Vec<String>,
    /// `false` for a change that is not a major bump but still likely breaking (a 0.x minor).
    pub major: bool,
}

/// Groups direct likely-breaking upgrades by `(package, from, to)` across projects, so that
/// the summary can say "django 4.2 → 5.1: signals, dashboard". Upgrades in more projects
/// come first, then majors before other likely-breaking changes, then by name; projects
/// keep their first-seen order and appear once. Transitive changes are left out.
#[must_use]
pub fn group_upgrades<'a>(
    upgrades: impl IntoIterator<Item = (&'a str, &'a PackageChange)>,
) -> Vec<MajorUpgrade> {
    let mut groups: BTreeMap<(String, String, String), MajorUpgrade> = BTreeMap::new();
    for (project, change) in upgrades {
        if !change.likely_breaking || change.is_transitive() {
            continue;
        }
        let from = change.from.clone().unwrap_or_default();
        let to = change.to.clone().unwrap_or_default();
        let entry = groups
            .entry((change.package.clone(), from.clone(), to.clone()))
            .or_insert_with(|| MajorUpgrade {
                package: change.package.clone(),
                from,
                to,
                projects: Vec::new(),
                major: false,
            });
        entry.major |= change.kind == UpgradeKind::Major;
        if !entry.projects.iter().any(|p| p == project) {
            entry.projects.push(project.to_owned());
        }
    }
    let mut grouped: Vec<MajorUpgrade> = groups.into_values().collect();
    // Stable: equal keys keep the name order of the map.
    grouped.sort_by_key(|u| (std::cmp::Reverse(u.projects.len()), !u.major));
    grouped
}

/// One changed project's transitive changes, for the summary: a count and the most
/// notable names instead of a line per package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransitiveChanges {
    /// The project.
    pub project: String,
    /// How many transitive packages changed (added and removed ones included).
    pub total: usize,
    /// The likely-breaking ones among them, most notable first.
    pub likely_breaking: Vec<PackageChange>,
}

/// A failed project as the summary names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedProject {
    /// The project.
    pub project: String,
    /// The failing stage, e.g. `make test`.
    pub stage: String,
    /// The lockfile changes in the failed tree (applied before it failed), most notable
    /// first: the likely culprits.
    pub changes: Vec<PackageChange>,
}

/// How many projects of the round ended in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusCounts {
    /// Upgraded, built, tested; a change request is open.
    pub changed: usize,
    /// Nothing to upgrade.
    pub unchanged: usize,
    /// A stage failed.
    pub failed: usize,
    /// Not run (excluded, or skipped by configuration).
    pub skipped: usize,
}

impl StatusCounts {
    /// Counts the results of these project messages.
    #[must_use]
    pub fn from_messages<'a>(messages: impl IntoIterator<Item = &'a ProjectMessage>) -> Self {
        let mut counts = Self::default();
        for m in messages {
            match m.result {
                ProjectResult::Changed => counts.changed += 1,
                ProjectResult::Unchanged => counts.unchanged += 1,
                ProjectResult::Failed { .. } => counts.failed += 1,
                ProjectResult::Skipped { .. } => counts.skipped += 1,
            }
        }
        counts
    }

    /// All projects.
    #[must_use]
    pub fn total(&self) -> usize {
        self.changed + self.unchanged + self.failed + self.skipped
    }
}

/// The round's summary message: what the team should look at first.
///
/// Built from every project's message with [`RoundSummary::from_messages`]: the direct
/// major upgrades of the changed projects grouped by package, their transitive changes as
/// counts, the failed projects with what they upgraded, and the quiet projects by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundSummary {
    /// The round.
    pub round: RoundId,
    /// Direct major and likely-breaking upgrades of the changed projects, grouped by
    /// package (see [`group_upgrades`]).
    pub major_upgrades: Vec<MajorUpgrade>,
    /// Per changed project with transitive changes: how many, and the likely-breaking ones.
    #[serde(default)]
    pub transitive: Vec<TransitiveChanges>,
    /// The failed projects, in round order.
    #[serde(default)]
    pub failed: Vec<FailedProject>,
    /// Projects with nothing to upgrade, in round order.
    #[serde(default)]
    pub unchanged: Vec<String>,
    /// Skipped projects with the reason, in round order.
    #[serde(default)]
    pub skipped: Vec<(String, String)>,
    /// Projects per status.
    pub counts: StatusCounts,
}

impl RoundSummary {
    /// The summary of a round whose projects ended as `messages` say.
    #[must_use]
    pub fn from_messages(round: RoundId, messages: &[ProjectMessage]) -> Self {
        let with_pr = || {
            messages
                .iter()
                .filter(|m| matches!(m.result, ProjectResult::Changed))
        };
        let major_upgrades = group_upgrades(
            with_pr().flat_map(|m| m.changes.iter().map(move |c| (m.project.as_str(), c))),
        );
        let mut transitive: Vec<TransitiveChanges> = with_pr()
            .filter_map(|m| {
                let total = m.changes.iter().filter(|c| c.is_transitive()).count();
                let mut likely_breaking: Vec<PackageChange> = m
                    .changes
                    .iter()
                    .filter(|c| c.is_transitive() && c.likely_breaking)
                    .cloned()
                    .collect();
                sort_notable_first(&mut likely_breaking);
                (total > 0).then(|| TransitiveChanges {
                    project: m.project.clone(),
                    total,
                    likely_breaking,
                })
            })
            .collect();
        // The projects with the most to look at first.
        transitive.sort_by_key(|t| std::cmp::Reverse((t.likely_breaking.len(), t.total)));
        let failed = messages
            .iter()
            .filter_map(|m| match &m.result {
                ProjectResult::Failed { stage, .. } => {
                    let mut changes = m.changes.clone();
                    sort_notable_first(&mut changes);
                    Some(FailedProject {
                        project: m.project.clone(),
                        stage: stage.clone(),
                        changes,
                    })
                }
                _ => None,
            })
            .collect();
        let unchanged = messages
            .iter()
            .filter(|m| matches!(m.result, ProjectResult::Unchanged))
            .map(|m| m.project.clone())
            .collect();
        let skipped = messages
            .iter()
            .filter_map(|m| match &m.result {
                ProjectResult::Skipped { reason } => Some((m.project.clone(), reason.clone())),
                _ => None,
            })
            .collect();
        Self {
            round,
            major_upgrades,
            transitive,
            failed,
            unchanged,
            skipped,
            counts: StatusCounts::from_messages(messages),
        }
    }
}

/// A link to the pull/merge request of a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeRequestLink {
    /// Web URL.
    pub url: String,
    /// Number (GitHub) or iid (GitLab), when known.
    pub number: Option<u64>,
    /// `PR` or `MR`, as the forge calls it.
    pub kind: String,
}

/// How a project's part of the round ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProjectResult {
    /// Upgraded and tested; a change request carries the change.
    Changed,
    /// Nothing to upgrade.
    Unchanged,
    /// A stage failed.
    Failed {
        /// The failing stage, e.g. `make test`.
        stage: String,
        /// Its exit code, if it exited (a timeout or signal has none).
        exit_code: Option<i32>,
        /// The last lines of its output.
        log_tail: String,
    },
    /// Not run this round.
    Skipped {
        /// Why.
        reason: String,
    },
}

/// Upgrade counts per kind for one project.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpgradeCounts {
    /// Major bumps.
    pub major: usize,
    /// Minor bumps.
    pub minor: usize,
    /// Patch bumps.
    pub patch: usize,
    /// Anything else (added, removed, prerelease, downgrade, other).
    pub other: usize,
}

impl UpgradeCounts {
    /// Sum of all kinds.
    #[must_use]
    pub fn total(&self) -> usize {
        self.major + self.minor + self.patch + self.other
    }
}

/// One project's message of a round; the parent of its thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectMessage {
    /// The round.
    pub round: RoundId,
    /// Project name as configured.
    pub project: String,
    /// The maintenance branch, if one was pushed.
    pub branch: Option<String>,
    /// The change request, if one is open.
    pub change_request: Option<ChangeRequestLink>,
    /// How the project's run ended.
    pub result: ProjectResult,
    /// Upgrade counts per kind.
    pub upgrades: UpgradeCounts,
    /// The lockfile changes: those of the change request, or for a failed project those
    /// of its failed tree (what was upgraded before it failed).
    #[serde(default)]
    pub changes: Vec<PackageChange>,
}

impl ProjectMessage {
    /// Whether the project gets a message of its own. Changed and failed projects always
    /// do (there is a change request to follow up, or a failure to look at); unchanged and
    /// skipped ones only with `every_project`, otherwise they are a line of the summary.
    #[must_use]
    pub fn wants_own_message(&self, every_project: bool) -> bool {
        match self.result {
            ProjectResult::Changed | ProjectResult::Failed { .. } => true,
            ProjectResult::Unchanged | ProjectResult::Skipped { .. } => every_project,
        }
    }
}

/// The ordered stages a project goes through after the round, marked with reactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Approved, or checked by someone who cannot approve (the author).
    Reviewed,
    /// Merged to the main branch (deploying to acceptance).
    Merged,
    /// Deployed to acceptance.
    DeployedAcceptance,
    /// Checked on acceptance.
    CheckedAcceptance,
    /// Tagged (deploying to production).
    Tagged,
    /// Deployed to production.
    DeployedProduction,
    /// Checked on production: done.
    CheckedProduction,
}

impl Stage {
    /// All stages, in order.
    pub const ALL: [Stage; 7] = [
        Stage::Reviewed,
        Stage::Merged,
        Stage::DeployedAcceptance,
        Stage::CheckedAcceptance,
        Stage::Tagged,
        Stage::DeployedProduction,
        Stage::CheckedProduction,
    ];

    /// Short human label.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Stage::Reviewed => "reviewed",
            Stage::Merged => "merged",
            Stage::DeployedAcceptance => "deployed to acceptance",
            Stage::CheckedAcceptance => "checked on acceptance",
            Stage::Tagged => "tagged",
            Stage::DeployedProduction => "deployed to production",
            Stage::CheckedProduction => "checked on production",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// What a reaction means on a project message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "stage")]
pub enum Meaning {
    /// "I am working on this": the reacting users are who is on it.
    Working,
    /// The project reached this stage.
    Stage(Stage),
    /// Tests are failing.
    Failing,
    /// Skip this project this round.
    Skip,
}

/// One row of the reaction legend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegendEntry {
    /// Reaction name without colons, e.g. `white_check_mark` or a custom `jenkins-acc`.
    pub reaction: String,
    /// What it means.
    pub meaning: Meaning,
    /// Explanation shown to people.
    pub description: String,
}

/// The reaction legend: which emoji mark which stage. Configurable because custom emoji
/// (`jenkins-acc`) exist only in the workspace that uploaded them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Legend {
    /// Rows in display order.
    pub entries: Vec<LegendEntry>,
}

impl Default for Legend {
    /// The team's table (seed `000_…`).
    fn default() -> Self {
        let rows: [(&str, Meaning, &str); 11] = [
            ("eyes", Meaning::Working, "I am working on this"),
            (
                "white_check_mark",
                Meaning::Stage(Stage::Reviewed),
                "PR has been approved",
            ),
            (
                "thumbsup",
                Meaning::Stage(Stage::Reviewed),
                "Checked, but cannot approve since I am the author of the PR",
            ),
            (
                "twisted_rightwards_arrows",
                Meaning::Stage(Stage::Merged),
                "Merged to master (deploying to acceptance)",
            ),
            (
                "jenkins-acc",
                Meaning::Stage(Stage::DeployedAcceptance),
                "Deployed to acceptance",
            ),
            (
                "release-acc",
                Meaning::Stage(Stage::CheckedAcceptance),
                "Checked the deployment in acceptance",
            ),
            (
                "label",
                Meaning::Stage(Stage::Tagged),
                "Tag created (deploying to production)",
            ),
            (
                "jenkins_ci",
                Meaning::Stage(Stage::DeployedProduction),
                "Deployed to production",
            ),
            (
                "rocket",
                Meaning::Stage(Stage::CheckedProduction),
                "Checked the deployment in production",
            ),
            ("boom", Meaning::Failing, "Tests are failing"),
            ("x", Meaning::Skip, "Skip this project"),
        ];
        Self {
            entries: rows
                .into_iter()
                .map(|(reaction, meaning, description)| LegendEntry {
                    reaction: reaction.to_owned(),
                    meaning,
                    description: description.to_owned(),
                })
                .collect(),
        }
    }
}

impl Legend {
    /// What `reaction` means, if it is in the legend. Slack reports skin-tone variants as
    /// `thumbsup::skin-tone-2`; those count as the base reaction.
    #[must_use]
    pub fn meaning(&self, reaction: &str) -> Option<Meaning> {
        let base = reaction.split("::").next().unwrap_or(reaction);
        let base = match base {
            // Slack's own aliases for the default emoji.
            "+1" => "thumbsup",
            "heavy_check_mark" => "white_check_mark",
            other => other,
        };
        self.entries
            .iter()
            .find(|e| e.reaction == base)
            .map(|e| e.meaning)
    }

    /// The first reaction with this meaning (what upkeep itself reacts with).
    #[must_use]
    pub fn reaction_for(&self, meaning: Meaning) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| e.meaning == meaning)
            .map(|e| e.reaction.as_str())
    }

    /// All reactions with this meaning, in legend order.
    #[must_use]
    pub fn reactions_for(&self, meaning: Meaning) -> Vec<&str> {
        self.entries
            .iter()
            .filter(|e| e.meaning == meaning)
            .map(|e| e.reaction.as_str())
            .collect()
    }
}

/// One action of the checklist in each changed project's message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChecklistItem {
    /// What to do, e.g. "Review".
    pub text: String,
    /// The stage it completes; its legend reactions are shown next to it.
    pub stage: Option<Stage>,
}

/// The follow-up actions listed in each changed project's message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checklist {
    /// Items in order.
    pub items: Vec<ChecklistItem>,
}

impl Default for Checklist {
    /// Review, merge, deploy to acceptance, check acceptance, tag, deploy to production,
    /// check production (seed `000_…`).
    fn default() -> Self {
        let items = [
            ("Review", Stage::Reviewed),
            ("Merge", Stage::Merged),
            ("Deploy to acceptance", Stage::DeployedAcceptance),
            ("Check acceptance", Stage::CheckedAcceptance),
            ("Tag", Stage::Tagged),
            ("Deploy to production", Stage::DeployedProduction),
            ("Check production", Stage::CheckedProduction),
        ];
        Self {
            items: items
                .into_iter()
                .map(|(text, stage)| ChecklistItem {
                    text: text.to_owned(),
                    stage: Some(stage),
                })
                .collect(),
        }
    }
}

/// The team's conventions that shape every message: checklist and reaction legend.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Playbook {
    /// The follow-up actions of a changed project.
    pub checklist: Checklist,
    /// Reactions and their meaning.
    pub legend: Legend,
}

/// Where a message lives: channel and timestamp (Slack's message id).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MessageRef {
    /// Channel id (`C…`), or the console adapter's channel name.
    pub channel: String,
    /// Message timestamp, unique within the channel.
    pub ts: String,
}

/// What a post-or-update call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Posted {
    /// A new message was posted.
    Created,
    /// An existing message was found and its content changed.
    Updated,
    /// An existing message was found with the same content; nothing was sent.
    Unchanged,
}

/// A posted (or found) message and what was done to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// The message.
    pub message: MessageRef,
    /// Whether it was created, updated or left alone.
    pub posted: Posted,
}

/// A project's message (with its checklist) and, for a failed project, the failure report
/// in its thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadRef {
    /// The project message (the thread's parent).
    pub parent: Delivery,
    /// The failure report, the one reply upkeep posts, when the project failed.
    pub failure: Option<Delivery>,
}

/// A reaction on a message, with who reacted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    /// Reaction name without colons.
    pub name: String,
    /// User ids (Slack) or names (console) who reacted.
    pub users: Vec<String>,
}

/// A project's follow-up state, read back from the reactions on its message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectStatus {
    /// Project name (from the message metadata).
    pub project: String,
    /// The change request URL recorded with the message.
    pub change_request_url: Option<String>,
    /// The furthest stage any reaction marks.
    pub furthest_stage: Option<Stage>,
    /// Users who reacted "working on this".
    pub who: Vec<String>,
    /// Someone reacted "skip".
    pub skipped: bool,
    /// Someone (or upkeep) reacted "failing".
    pub failing: bool,
    /// All reactions on the message, legend or not.
    pub reactions: Vec<Reaction>,
    /// The project message.
    pub message: MessageRef,
}

impl ProjectStatus {
    /// Derives the status from a message's reactions using `legend`.
    #[must_use]
    pub fn from_reactions(
        project: String,
        change_request_url: Option<String>,
        message: MessageRef,
        reactions: Vec<Reaction>,
        legend: &Legend,
    ) -> Self {
        let mut status = Self {
            project,
            change_request_url,
            furthest_stage: None,
            who: Vec::new(),
            skipped: false,
            failing: false,
            reactions: Vec::new(),
            message,
        };
        for reaction in &reactions {
            if reaction.users.is_empty() {
                continue;
            }
            match legend.meaning(&reaction.name) {
                Some(Meaning::Working) => {
                    for user in &reaction.users {
                        if !status.who.contains(user) {
                            status.who.push(user.clone());
                        }
                    }
                }
                Some(Meaning::Stage(stage)) => {
                    status.furthest_stage = status.furthest_stage.max(Some(stage));
                }
                Some(Meaning::Failing) => status.failing = true,
                Some(Meaning::Skip) => status.skipped = true,
                None => {}
            }
        }
        status.reactions = reactions;
        status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(
        package: &str,
        from: &str,
        to: &str,
        kind: UpgradeKind,
        direct: bool,
    ) -> PackageChange {
        PackageChange {
            package: package.into(),
            from: Some(from.into()),
            to: Some(to.into()),
            kind,
            likely_breaking: kind == UpgradeKind::Major || from.starts_with("0."),
            direct: Some(direct),
        }
    }

    fn major(package: &str, from: &str, to: &str) -> PackageChange {
        change(package, from, to, UpgradeKind::Major, true)
    }

    #[test]
    fn direct_upgrades_group_by_package_and_versions_widest_first() {
        let django = major("django", "4.2", "5.1");
        let old_django = major("django", "3.2", "5.1");
        let celery = major("celery", "4.4", "5.3");
        let pydantic = change("pydantic", "0.2", "0.3", UpgradeKind::Minor, true);
        let transitive = change("asgiref", "2.0", "3.0", UpgradeKind::Major, false);
        let patch = change("requests", "2.31.0", "2.31.1", UpgradeKind::Patch, true);
        let grouped = group_upgrades([
            ("api", &pydantic),
            ("signals", &django),
            ("dashboard", &django),
            ("signals", &django),
            ("signals", &transitive),
            ("signals", &patch),
            ("api", &old_django),
            ("api", &celery),
        ]);
        let lines: Vec<String> = grouped
            .iter()
            .map(|g| {
                format!(
                    "{} {} -> {}: {}{}",
                    g.package,
                    g.from,
                    g.to,
                    g.projects.join(", "),
                    if g.major { "" } else { " (not major)" }
                )
            })
            .collect();
        assert_eq!(
            lines,
            [
                "django 4.2 -> 5.1: signals, dashboard",
                "celery 4.4 -> 5.3: api",
                "django 3.2 -> 5.1: api",
                "pydantic 0.2 -> 0.3: api (not major)",
            ]
        );
    }

    #[test]
    fn notable_changes_come_first() {
        let mut changes = vec![
            change("lodash", "4.17.20", "4.17.21", UpgradeKind::Patch, true),
            change("qs", "6.7.0", "6.14.0", UpgradeKind::Minor, false),
            change("accepts", "1.3.8", "2.0.0", UpgradeKind::Major, false),
            change("cookie", "0.4.0", "0.7.2", UpgradeKind::Minor, true),
            change(
                "path-to-regexp",
                "0.1.7",
                "8.2.0",
                UpgradeKind::Major,
                false,
            ),
            major("express", "4.17.1", "5.1.0"),
            change("body-parser", "1.19.0", "1.20.0", UpgradeKind::Minor, true),
        ];
        sort_notable_first(&mut changes);
        let names: Vec<&str> = changes.iter().map(|c| c.package.as_str()).collect();
        assert_eq!(
            names,
            [
                "express",
                "cookie",
                "path-to-regexp",
                "accepts",
                "body-parser",
                "lodash",
                "qs"
            ]
        );
        assert_eq!(changes[2].major_jump(), 8);
        let mut odd = major("image", "latest", "v2");
        assert_eq!(odd.major_jump(), 0);
        odd.from = Some("v1.2".into());
        assert_eq!(odd.major_jump(), 1);
    }

    #[test]
    fn summary_sorts_projects_into_what_the_team_reads() {
        let round = RoundId::new("r");
        let msg =
            |project: &str, result: ProjectResult, changes: Vec<PackageChange>| ProjectMessage {
                round: round.clone(),
                project: project.into(),
                branch: None,
                change_request: None,
                result,
                upgrades: UpgradeCounts::default(),
                changes,
            };
        let failed = ProjectResult::Failed {
            stage: "make test".into(),
            exit_code: Some(2),
            log_tail: String::new(),
        };
        let messages = [
            msg(
                "small",
                ProjectResult::Changed,
                vec![change("ms", "2.1.1", "2.1.3", UpgradeKind::Patch, false)],
            ),
            msg(
                "web",
                ProjectResult::Changed,
                vec![
                    major("express", "4.17.1", "5.1.0"),
                    change("send", "0.17.1", "1.2.0", UpgradeKind::Major, false),
                    change("qs", "6.7.0", "6.14.0", UpgradeKind::Minor, false),
                ],
            ),
            msg(
                "billing",
                failed,
                vec![
                    change("celery", "5.3.6", "5.4.0", UpgradeKind::Minor, true),
                    major("sqlalchemy", "1.4.52", "2.0.36"),
                ],
            ),
            msg("docs", ProjectResult::Unchanged, Vec::new()),
            msg(
                "archive",
                ProjectResult::Skipped {
                    reason: "archived".into(),
                },
                Vec::new(),
            ),
        ];
        let summary = RoundSummary::from_messages(round.clone(), &messages);
        // The failed project's upgrades were not applied: not in the list of majors.
        assert_eq!(summary.major_upgrades.len(), 1);
        assert_eq!(summary.major_upgrades[0].package, "express");
        let transitive: Vec<(&str, usize, usize)> = summary
            .transitive
            .iter()
            .map(|t| (t.project.as_str(), t.total, t.likely_breaking.len()))
            .collect();
        assert_eq!(transitive, [("web", 2, 1), ("small", 1, 0)]);
        assert_eq!(summary.failed[0].changes[0].package, "sqlalchemy");
        assert_eq!(summary.unchanged, ["docs"]);
        assert_eq!(
            summary.skipped,
            [("archive".to_owned(), "archived".to_owned())]
        );
        assert_eq!(summary.counts.total(), 5);
        assert!(messages[2].wants_own_message(false));
        assert!(!messages[3].wants_own_message(false));
        assert!(messages[3].wants_own_message(true));
        assert!(!messages[4].wants_own_message(false));
    }

    #[test]
    fn reactions_give_furthest_stage_who_skip_and_failing() {
        let legend = Legend::default();
        let r = |name: &str, users: &[&str]| Reaction {
            name: name.into(),
            users: users.iter().map(|u| (*u).to_owned()).collect(),
        };
        let status = ProjectStatus::from_reactions(
            "signals".into(),
            None,
            MessageRef {
                channel: "C1".into(),
                ts: "1.0".into(),
            },
            vec![
                r("eyes", &["U1", "U2"]),
                r("+1::skin-tone-3", &["U3"]),
                r("jenkins-acc", &["U1"]),
                r("twisted_rightwards_arrows", &["U1"]),
                r("party_parrot", &["U9"]),
                r("x", &[]),
            ],
            &legend,
        );
        assert_eq!(status.furthest_stage, Some(Stage::DeployedAcceptance));
        assert_eq!(status.who, ["U1", "U2"]);
        assert!(!status.skipped, "a reaction without users does not count");
        assert!(!status.failing);
        assert_eq!(status.reactions.len(), 6);
    }
}

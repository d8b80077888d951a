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

/// One package's major (or likely-breaking) upgrade, and the projects it happened in.
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

/// One project's upgrade of one package, before grouping (input to [`group_upgrades`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectUpgrade {
    /// Project name.
    pub project: String,
    /// Package name.
    pub package: String,
    /// Version before.
    pub from: String,
    /// Version after.
    pub to: String,
    /// Major bump (`true`) or likely breaking otherwise (`false`).
    pub major: bool,
}

/// Groups per-project upgrades by `(package, from, to)`, so that the summary can say
/// "django 4.2 → 5.1: signals, dashboard". Packages sort by name, then version; projects
/// keep their first-seen order and appear once.
#[must_use]
pub fn group_upgrades(upgrades: impl IntoIterator<Item = ProjectUpgrade>) -> Vec<MajorUpgrade> {
    let mut groups: BTreeMap<(String, String, String), MajorUpgrade> = BTreeMap::new();
    for u in upgrades {
        let entry = groups
            .entry((u.package.clone(), u.from.clone(), u.to.clone()))
            .or_insert_with(|| MajorUpgrade {
                package: u.package,
                from: u.from,
                to: u.to,
                projects: Vec::new(),
                major: u.major,
            });
        entry.major |= u.major;
        if !entry.projects.contains(&u.project) {
            entry.projects.push(u.project);
        }
    }
    groups.into_values().collect()
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

/// The round's summary message: major upgrades across projects and counts per status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundSummary {
    /// The round.
    pub round: RoundId,
    /// Major and likely-breaking upgrades, grouped by package (see [`group_upgrades`]).
    pub major_upgrades: Vec<MajorUpgrade>,
    /// Projects per status.
    pub counts: StatusCounts,
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

/// One action of the checklist that opens each project's thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChecklistItem {
    /// What to do, e.g. "Review".
    pub text: String,
    /// The stage it completes; its legend reactions are shown next to it.
    pub stage: Option<Stage>,
}

/// The follow-up actions posted as the first reply of every project thread.
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
    /// The thread's first reply.
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

/// A project's thread: its parent message and the checklist reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadRef {
    /// The project message (the thread's parent).
    pub parent: Delivery,
    /// The checklist, the thread's first reply.
    pub checklist: Delivery,
    /// The failure report, when the project failed.
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

    fn up(project: &str, package: &str, from: &str, to: &str) -> ProjectUpgrade {
        ProjectUpgrade {
            project: project.into(),
            package: package.into(),
            from: from.into(),
            to: to.into(),
            major: true,
        }
    }

    #[test]
    fn upgrades_group_by_package_and_versions() {
        let grouped = group_upgrades([
            up("signals", "django", "4.2", "5.1"),
            up("dashboard", "django", "4.2", "5.1"),
            up("signals", "django", "4.2", "5.1"),
            up("api", "django", "3.2", "5.1"),
            up("api", "celery", "4.4", "5.3"),
        ]);
        let lines: Vec<String> = grouped
            .iter()
            .map(|g| {
                format!(
                    "{} {} -> {}: {}",
                    g.package,
                    g.from,
                    g.to,
                    g.projects.join(", ")
                )
            })
            .collect();
        assert_eq!(
            lines,
            [
                "celery 4.4 -> 5.3: api",
                "django 3.2 -> 5.1: api",
                "django 4.2 -> 5.1: signals, dashboard"
            ]
        );
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

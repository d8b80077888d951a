//! After the round: the board (`maintain status`) and bringing the reactions on the
//! project messages in line with what the forge knows (`maintain sync`).
//!
//! The board joins three views of each project: what the round did (the journal:
//! result, failure and log tail, upgrades), where its change request is (the forge), and
//! how far the team got (the reactions on its message). [`crate::render`] turns it into
//! Markdown and a self-contained HTML page.
//!
//! The reactions are the team's shared state ("who is on it, how far is it"), and
//! some of it the forge knows better than people do: a pull request that is approved,
//! merged, tagged, or whose CI fails. `sync` adds those reactions so that people only
//! mark what only people know (deployed, checked).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use serde::Serialize;
use upkeep_chat::{
    ChatThreads, PackageChange, ProjectStatus, Reaction, RoundId, Stage as TeamStage,
    UpgradeCounts, sort_notable_first,
};
use upkeep_config::ReactionLegend;
use upkeep_deps::DiffReport;
use upkeep_forge::{ChangeRequest, ChangeRequestState, Verdict};

use crate::journal::{FailedStage, Failure, Journal, Stage, Status};
use crate::round::ProjectSetup;

/// Input to [`board`] and [`sync`].
pub struct BoardRequest {
    /// The round.
    pub round: String,
    /// The round's maintenance branch (to find change requests without a journal).
    pub branch: String,
    /// The projects, with their forges.
    pub projects: Vec<ProjectSetup>,
    /// The round's journal, if there is one (it knows change request numbers even after
    /// they are merged).
    pub journal: Option<Journal>,
    /// Where the threads are.
    pub chat: Arc<dyn ChatThreads>,
    /// Which reaction means what.
    pub legend: ReactionLegend,
}

/// One project on the board: what the round did (from the journal), where its change
/// request is (from the forge), and how far the team got (from the reactions on its
/// message).
#[derive(Debug, Clone)]
pub struct BoardRow {
    /// The project.
    pub name: String,
    /// The round's result for it (from the journal); `None` when the journal does not
    /// know the project (no journal here, or the project did not run).
    pub status: Option<Status>,
    /// The furthest pipeline stage the journal records.
    pub stage: Option<Stage>,
    /// Why it failed: stage, message, exit code and the tail of the step's log.
    pub failure: Option<Failure>,
    /// Why it was skipped.
    pub skip_reason: Option<String>,
    /// Upgrade counts per kind (of the change request, or of the failed tree).
    pub upgrades: UpgradeCounts,
    /// The lockfile diff (of the change request, or of the failed tree).
    pub diff: Option<DiffReport>,
    /// Its change request, as the forge sees it now.
    pub change_request: Option<BoardChangeRequest>,
    /// The reactions on the project's message, when it has one.
    pub chat: Option<ChatState>,
    /// Why something could not be read (the forge or chat answered with an error).
    pub problems: Vec<String>,
}

impl BoardRow {
    /// The changes of its diff, most notable first: direct likely-breaking ones, then
    /// transitive likely-breaking ones by the size of their jump, then the rest.
    #[must_use]
    pub fn notable_changes(&self) -> Vec<PackageChange> {
        let mut changes = self
            .diff
            .as_ref()
            .map(crate::round::package_changes)
            .unwrap_or_default();
        sort_notable_first(&mut changes);
        changes
    }

    /// Whether a team stage is done, and who says so: the reactions on the message (up
    /// to the furthest stage they mark) or the forge (an approved change request is
    /// reviewed, a merged one merged).
    #[must_use]
    pub fn team_stage(&self, stage: TeamStage) -> Option<&'static str> {
        if self
            .chat
            .as_ref()
            .and_then(|c| c.furthest_stage)
            .is_some_and(|f| f >= stage)
        {
            return Some("reactions");
        }
        let cr = self.change_request.as_ref()?;
        let forge_knows = match stage {
            TeamStage::Reviewed => {
                cr.state == ChangeRequestState::Approved
                    || (cr.state == ChangeRequestState::Merged && !cr.approvers.is_empty())
            }
            TeamStage::Merged => cr.state == ChangeRequestState::Merged,
            _ => false,
        };
        forge_knows.then_some("forge")
    }
}

/// The team's progress on a project, read from the reactions on its message.
#[derive(Debug, Clone)]
pub struct ChatState {
    /// The furthest stage the reactions mark.
    pub furthest_stage: Option<TeamStage>,
    /// Who reacted "working on it".
    pub who: Vec<String>,
    /// Someone reacted "skip this round".
    pub skip: bool,
    /// Someone (or `sync`) reacted "failing".
    pub failing: bool,
    /// Every reaction on the message, legend or not, with who reacted.
    pub reactions: Vec<Reaction>,
}

/// A change request on the board.
#[derive(Debug, Clone, Serialize)]
pub struct BoardChangeRequest {
    /// Number.
    pub number: u64,
    /// Web URL.
    pub url: String,
    /// `open`, `approved`, `changes_requested`, `merged`, `closed`.
    pub state: ChangeRequestState,
    /// Who approved.
    pub approvers: Vec<String>,
}

/// The whole board.
#[derive(Debug, Clone)]
pub struct Board {
    /// The round.
    pub round: String,
    /// The round's maintenance branch.
    pub branch: String,
    /// One row per project, in configuration order.
    pub projects: Vec<BoardRow>,
}

/// Why there is no board to show.
#[derive(Debug, thiserror::Error)]
pub enum BoardError {
    /// Nothing anywhere knows the round: no journal, no change request on its branch, no
    /// project message in the channel (and every one of them could be read).
    #[error(
        "round `{round}` never ran: no journal of it, no change request on `{branch}` and no project message in the channel"
    )]
    NeverRan {
        /// The round id.
        round: String,
        /// The round's maintenance branch.
        branch: String,
    },
}

impl Board {
    /// Projects per round result (`changed`, `failed`, …; `unknown` for projects the
    /// journal does not know).
    #[must_use]
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::new();
        for r in &self.projects {
            *counts
                .entry(r.status.map_or("unknown", Status::as_str))
                .or_insert(0) += 1;
        }
        counts
    }

    /// The document printed by `maintain status --output json`: `{"round", "branch",
    /// "projects": [{"name", "status", "failed_stage", "failure", "skip_reason",
    /// "change_request", "upgrades", "diff", "chat", "problems"}]}` — the field names of
    /// `maintain run --output json`, plus the forge's and the team's view.
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        #[derive(Serialize)]
        struct Chat<'a> {
            furthest_stage: Option<&'static str>,
            who: &'a [String],
            skip: bool,
            failing: bool,
            reactions: &'a [Reaction],
        }
        #[derive(Serialize)]
        struct Row<'a> {
            name: &'a str,
            status: Option<Status>,
            failed_stage: Option<FailedStage>,
            failure: Option<&'a Failure>,
            skip_reason: Option<&'a str>,
            change_request: Option<&'a BoardChangeRequest>,
            upgrades: UpgradeCounts,
            diff: Option<&'a DiffReport>,
            chat: Option<Chat<'a>>,
            problems: &'a [String],
        }
        #[derive(Serialize)]
        struct Doc<'a> {
            round: &'a str,
            branch: &'a str,
            projects: Vec<Row<'a>>,
        }
        let doc = Doc {
            round: &self.round,
            branch: &self.branch,
            projects: self
                .projects
                .iter()
                .map(|r| Row {
                    name: &r.name,
                    status: r.status,
                    failed_stage: r.failure.as_ref().map(|f| f.stage),
                    failure: r.failure.as_ref(),
                    skip_reason: r.skip_reason.as_deref(),
                    change_request: r.change_request.as_ref(),
                    upgrades: r.upgrades,
                    diff: r.diff.as_ref(),
                    chat: r.chat.as_ref().map(|c| Chat {
                        furthest_stage: c.furthest_stage.map(TeamStage::label),
                        who: &c.who,
                        skip: c.skip,
                        failing: c.failing,
                        reactions: &c.reactions,
                    }),
                    problems: &r.problems,
                })
                .collect(),
        };
        serde_json::to_value(doc).unwrap_or_default()
    }

    /// The board as a table for people, then the problems.
    #[must_use]
    pub fn render_text(&self) -> String {
        let headers = [
            "project",
            "round",
            "change request",
            "state",
            "furthest stage",
            "who",
        ];
        let rows: Vec<[String; 6]> = self
            .projects
            .iter()
            .map(|r| {
                let chat = r.chat.as_ref();
                let mut stage = chat
                    .and_then(|c| c.furthest_stage)
                    .map_or_else(|| "-".to_owned(), |s| s.label().to_owned());
                if chat.is_some_and(|c| c.skip) {
                    stage.push_str(" (skip)");
                }
                if chat.is_some_and(|c| c.failing) {
                    stage.push_str(" (failing)");
                }
                [
                    r.name.clone(),
                    r.status.map_or("-", Status::as_str).to_owned(),
                    r.change_request
                        .as_ref()
                        .map_or_else(|| "-".to_owned(), |c| format!("#{} {}", c.number, c.url)),
                    r.change_request
                        .as_ref()
                        .map_or_else(|| "-".to_owned(), |c| c.state.to_string()),
                    stage,
                    match chat {
                        Some(c) if !c.who.is_empty() => c.who.join(", "),
                        _ => "-".to_owned(),
                    },
                ]
            })
            .collect();
        let mut out = crate::report::table(&headers, &rows, &[]);
        for r in &self.projects {
            for p in &r.problems {
                let _ = writeln!(out, "warning: {}: {p}", r.name);
            }
        }
        out
    }
}

/// Facts gathered for one project.
struct Facts {
    row: BoardRow,
    cr: Option<ChangeRequest>,
    thread: Option<ProjectStatus>,
    tagged: bool,
    ci_failing: bool,
}

async fn gather(
    req: &BoardRequest,
    statuses: &BTreeMap<String, ProjectStatus>,
    deep: bool,
) -> Vec<Facts> {
    let mut out = Vec::new();
    for setup in &req.projects {
        let name = &setup.project.name;
        let mut problems = Vec::new();
        let record = req.journal.as_ref().and_then(|j| j.projects.get(name));
        let number = record
            .and_then(|r| r.change_request.as_ref())
            .map(|c| c.number);
        let cr = match number {
            Some(n) => setup.forge.change_request(&setup.repo, n).await.map(Some),
            None => {
                setup
                    .forge
                    .find_open_change_request(&setup.repo, &req.branch)
                    .await
            }
        };
        let cr = cr.unwrap_or_else(|e| {
            problems.push(format!("cannot read the change request: {e}"));
            None
        });
        let mut tagged = false;
        let mut ci_failing = false;
        if deep && let Some(cr) = &cr {
            if let Some(merge) = &cr.merge_sha {
                match setup.forge.tags(&setup.repo).await {
                    Ok(tags) => tagged = tags.iter().any(|t| &t.sha == merge),
                    Err(e) => problems.push(format!("cannot read tags: {e}")),
                }
            }
            if cr.state != ChangeRequestState::Merged
                && let Some(head) = &cr.head_sha
            {
                match setup.forge.ci_verdict(&setup.repo, head).await {
                    Ok(v) => ci_failing = v.verdict == Verdict::Failure,
                    Err(e) => problems.push(format!("cannot read CI: {e}")),
                }
            }
        }
        let thread = statuses.get(name).cloned();
        let row = BoardRow {
            name: name.clone(),
            status: record.and_then(|r| r.status),
            stage: record.map(|r| r.stage),
            failure: record.and_then(|r| r.failure.clone()),
            skip_reason: record.and_then(|r| r.skip_reason.clone()),
            upgrades: record.map(|r| r.upgrades).unwrap_or_default(),
            diff: record.and_then(|r| r.diff.clone()),
            change_request: cr.as_ref().map(|c| BoardChangeRequest {
                number: c.number,
                url: c.url.clone(),
                state: c.state,
                approvers: c.approvers.clone(),
            }),
            chat: thread.as_ref().map(|t| ChatState {
                furthest_stage: t.furthest_stage,
                who: t.who.clone(),
                skip: t.skipped,
                failing: t.failing,
                reactions: t.reactions.clone(),
            }),
            problems,
        };
        out.push(Facts {
            row,
            cr,
            thread,
            tagged,
            ci_failing,
        });
    }
    out
}

async fn thread_statuses(req: &BoardRequest) -> (BTreeMap<String, ProjectStatus>, Option<String>) {
    match req.chat.read_round_status(&RoundId::new(&req.round)).await {
        Ok(list) => (
            list.into_iter().map(|s| (s.project.clone(), s)).collect(),
            None,
        ),
        Err(e) => (
            BTreeMap::new(),
            Some(format!("cannot read the round's threads: {e}")),
        ),
    }
}

/// The round's board: per project what the round did (journal), the change request's
/// state (forge), and the furthest stage and who is on it (the reactions on its message).
///
/// A round that nothing knows — no journal, no change request on its branch, no
/// message in the channel, and nothing that could not be read — is
/// [`BoardError::NeverRan`]: an empty board would look like a round with nothing to do.
pub async fn board(req: &BoardRequest) -> Result<Board, BoardError> {
    let (statuses, problem) = thread_statuses(req).await;
    let mut rows: Vec<BoardRow> = gather(req, &statuses, false)
        .await
        .into_iter()
        .map(|f| f.row)
        .collect();
    if let Some(p) = problem {
        for r in &mut rows {
            r.problems.push(p.clone());
        }
    }
    let board = Board {
        round: req.round.clone(),
        branch: req.branch.clone(),
        projects: rows,
    };
    if never_ran(req, &board.projects) {
        return Err(BoardError::NeverRan {
            round: req.round.clone(),
            branch: req.branch.clone(),
        });
    }
    Ok(board)
}

/// Nothing knows the round, and nothing failed to answer (an unreachable forge or chat
/// may be hiding a round that ran).
fn never_ran(req: &BoardRequest, rows: &[BoardRow]) -> bool {
    req.journal.is_none()
        && rows
            .iter()
            .all(|r| r.change_request.is_none() && r.chat.is_none() && r.problems.is_empty())
}

/// A reaction `sync` added (or, in a dry-run, would add).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Added {
    /// The project.
    pub project: String,
    /// The reaction, without colons.
    pub reaction: String,
    /// Why: `approved`, `merged`, `tagged`, `ci failing`.
    pub because: String,
}

/// What `sync` did.
#[derive(Debug, Clone, Serialize)]
pub struct SyncReport {
    /// The round.
    pub round: String,
    /// Reactions added (or that would be added).
    pub added: Vec<Added>,
    /// Projects without a message in the round (nothing to react to).
    pub without_message: Vec<String>,
    /// Problems reading the forge or adding reactions.
    pub problems: Vec<String>,
}

/// Adds the reactions the forge already knows to each project's thread: approved,
/// merged, tagged (a tag on the merge commit), CI failing on the change request. A
/// reaction already on the message is not added again, so running it twice changes
/// nothing. With `dry_run`, says what it would add. A round that never ran is
/// [`BoardError::NeverRan`], as for [`board`].
pub async fn sync(req: &BoardRequest, dry_run: bool) -> Result<SyncReport, BoardError> {
    let (statuses, problem) = thread_statuses(req).await;
    let facts = gather(req, &statuses, true).await;
    let rows: Vec<BoardRow> = facts.iter().map(|f| f.row.clone()).collect();
    if problem.is_none() && never_ran(req, &rows) {
        return Err(BoardError::NeverRan {
            round: req.round.clone(),
            branch: req.branch.clone(),
        });
    }
    let mut report = SyncReport {
        round: req.round.clone(),
        added: Vec::new(),
        without_message: Vec::new(),
        problems: problem.into_iter().collect(),
    };
    let legend = &req.legend;
    for f in facts {
        let name = f.row.name.clone();
        report
            .problems
            .extend(f.row.problems.iter().map(|p| format!("{name}: {p}")));
        let Some(thread) = f.thread else {
            report.without_message.push(name);
            continue;
        };
        let mut wanted: Vec<(&str, &str)> = Vec::new();
        if let Some(cr) = &f.cr {
            if cr.state == ChangeRequestState::Approved
                || (cr.state == ChangeRequestState::Merged && !cr.approvers.is_empty())
            {
                wanted.push((&legend.approved, "approved"));
            }
            if cr.state == ChangeRequestState::Merged {
                wanted.push((&legend.merged, "merged"));
            }
        }
        if f.tagged {
            wanted.push((&legend.tagged, "tagged"));
        }
        if f.ci_failing {
            wanted.push((&legend.failing, "ci failing"));
        }
        for (reaction, because) in wanted {
            let present = thread
                .reactions
                .iter()
                .any(|r| r.name.split("::").next() == Some(reaction) && !r.users.is_empty());
            if present {
                continue;
            }
            if !dry_run && let Err(e) = req.chat.add_reaction(&thread.message, reaction).await {
                report
                    .problems
                    .push(format!("{name}: cannot add :{reaction}:: {e}"));
                continue;
            }
            report.added.push(Added {
                project: name.clone(),
                reaction: reaction.to_owned(),
                because: because.to_owned(),
            });
        }
    }
    Ok(report)
}

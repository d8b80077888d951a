//! After the round: the board (`maintain status`) and bringing the thread reactions in
//! line with what the forge knows (`maintain sync`).
//!
//! The thread reactions are the team's shared state ("who is on it, how far is it"), and
//! some of it the forge knows better than people do: a pull request that is approved,
//! merged, tagged, or whose CI fails. `sync` adds those reactions so that people only
//! mark what only people know (deployed, checked).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use serde::Serialize;
use upkeep_chat::{ChatThreads, ProjectStatus, RoundId};
use upkeep_config::ReactionLegend;
use upkeep_forge::{ChangeRequest, ChangeRequestState, Verdict};

use crate::journal::Journal;
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

/// One project on the board.
#[derive(Debug, Clone, Serialize)]
pub struct BoardRow {
    /// The project.
    pub project: String,
    /// Its change request, as the forge sees it now.
    pub change_request: Option<BoardChangeRequest>,
    /// The round's result for it (from the journal): changed, unchanged, failed, skipped.
    pub round_result: Option<String>,
    /// The furthest stage the thread's reactions mark.
    pub furthest_stage: Option<String>,
    /// Who reacted "working on it".
    pub who: Vec<String>,
    /// Marked to skip.
    pub skipped: bool,
    /// Marked failing.
    pub failing: bool,
    /// Why something could not be read (the forge or chat answered with an error).
    pub problems: Vec<String>,
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
#[derive(Debug, Clone, Serialize)]
pub struct Board {
    /// The round.
    pub round: String,
    /// One row per project, in configuration order.
    pub projects: Vec<BoardRow>,
}

impl Board {
    /// The board as a table for people.
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
                let mut stage = r.furthest_stage.clone().unwrap_or_else(|| "-".to_owned());
                if r.skipped {
                    stage.push_str(" (skip)");
                }
                if r.failing {
                    stage.push_str(" (failing)");
                }
                [
                    r.project.clone(),
                    r.round_result.clone().unwrap_or_else(|| "-".to_owned()),
                    r.change_request
                        .as_ref()
                        .map_or_else(|| "-".to_owned(), |c| format!("#{} {}", c.number, c.url)),
                    r.change_request
                        .as_ref()
                        .map_or_else(|| "-".to_owned(), |c| c.state.to_string()),
                    stage,
                    if r.who.is_empty() {
                        "-".to_owned()
                    } else {
                        r.who.join(", ")
                    },
                ]
            })
            .collect();
        let mut out = crate::report::table(&headers, &rows, &[]);
        for r in &self.projects {
            for p in &r.problems {
                let _ = writeln!(out, "warning: {}: {p}", r.project);
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
            project: name.clone(),
            change_request: cr.as_ref().map(|c| BoardChangeRequest {
                number: c.number,
                url: c.url.clone(),
                state: c.state,
                approvers: c.approvers.clone(),
            }),
            round_result: record.and_then(|r| r.status).map(|s| s.as_str().to_owned()),
            furthest_stage: thread
                .as_ref()
                .and_then(|t| t.furthest_stage)
                .map(|s| s.label().to_owned()),
            who: thread.as_ref().map(|t| t.who.clone()).unwrap_or_default(),
            skipped: thread.as_ref().is_some_and(|t| t.skipped),
            failing: thread.as_ref().is_some_and(|t| t.failing),
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

/// The round's board: per project the change request's state from the forge and the
/// furthest stage and who is on it from the thread's reactions.
pub async fn board(req: &BoardRequest) -> Board {
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
    Board {
        round: req.round.clone(),
        projects: rows,
    }
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
    /// Projects without a thread in the round (nothing to react to).
    pub without_thread: Vec<String>,
    /// Problems reading the forge or adding reactions.
    pub problems: Vec<String>,
}

/// Adds the reactions the forge already knows to each project's thread: approved,
/// merged, tagged (a tag on the merge commit), CI failing on the change request. A
/// reaction already on the message is not added again, so running it twice changes
/// nothing. With `dry_run`, says what it would add.
pub async fn sync(req: &BoardRequest, dry_run: bool) -> SyncReport {
    let (statuses, problem) = thread_statuses(req).await;
    let facts = gather(req, &statuses, true).await;
    let mut report = SyncReport {
        round: req.round.clone(),
        added: Vec::new(),
        without_thread: Vec::new(),
        problems: problem.into_iter().collect(),
    };
    let legend = &req.legend;
    for f in facts {
        let name = f.row.project.clone();
        report
            .problems
            .extend(f.row.problems.iter().map(|p| format!("{name}: {p}")));
        let Some(thread) = f.thread else {
            report.without_thread.push(name);
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
    report
}

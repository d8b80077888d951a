//! `maintain report`: after the shards, the round as the shared state has it.
//!
//! Reads every record of the round (one listing), posts or updates the summary once, and
//! accounts for every project of the round: ended (and how), or not ended and why — never
//! claimed (its shard did not run or did not get to it), running, or left behind by a
//! runner whose lease ran out.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use upkeep_chat::ChatThreads;
use upkeep_config::MaintainConfig;

use super::claims::{Claims, Runner};
use super::messages::{Naming, configured_noun, project_messages, round_summary, wants_message};
use super::summary::post_summary_once;
use super::{Shard, StateSetup, branch_name, check_round_id};
use crate::journal::{Journal, ProjectRecord};
use crate::report::{ProjectReport, RoundReport, Unfinished};
use crate::{Error, Result};

/// Everything [`report_round`] needs.
pub struct ReportRequest {
    /// The round id.
    pub round: String,
    /// The `[maintain]` configuration (projects' forges, checklist, branch pattern).
    pub config: Arc<MaintainConfig>,
    /// Where the round's records are.
    pub state: StateSetup,
    /// Where the summary goes.
    pub chat: Arc<dyn ChatThreads>,
    /// Post or update the summary; `false` only reports.
    pub post_summary: bool,
    /// Cancelled on Ctrl-C (stops waiting for another poster of the summary).
    pub cancel: CancellationToken,
}

impl std::fmt::Debug for ReportRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportRequest")
            .field("round", &self.round)
            .field("state", &self.state)
            .field("post_summary", &self.post_summary)
            .finish_non_exhaustive()
    }
}

/// Reports a round from the shared state and posts or updates its summary (once, however
/// many reports run): every project of the round, ended or not and why.
pub async fn report_round(req: ReportRequest) -> Result<RoundReport> {
    check_round_id(&req.round)?;
    let journal = {
        let (store, id) = (req.state.store.clone(), req.round.clone());
        tokio::task::spawn_blocking(move || Journal::load(store.as_ref(), &id))
            .await
            .map_err(|e| Error::Task(e.to_string()))??
    }
    .ok_or_else(|| Error::NoRound {
        round: req.round.clone(),
        location: req.state.store.location(),
    })?;
    let mut order: Vec<String> = journal
        .meta
        .as_ref()
        .map(|m| m.projects.clone())
        .unwrap_or_default();
    for name in journal.projects.keys().chain(journal.claims.keys()) {
        if !order.contains(name) {
            order.push(name.clone());
        }
    }
    let date = journal
        .date()
        .or_else(|| chrono::NaiveDate::parse_from_str(req.round.get(..10)?, "%Y-%m-%d").ok())
        .unwrap_or_else(|| chrono::Local::now().date_naive());
    let naming = Naming {
        round: req.round.clone(),
        branch: branch_name(&req.config, date),
        nouns: req
            .config
            .projects
            .iter()
            .map(|p| (p.name.clone(), configured_noun(p.remote.kind)))
            .collect(),
        excluded: Vec::new(),
    };
    let all_messages = project_messages(&naming, &journal.projects, &order);
    let summary = round_summary(&req.round, &all_messages);
    // Projects that get a message of their own; the others are lines of the summary.
    let messages = all_messages
        .into_iter()
        .filter(|m| {
            wants_message(
                req.config.chat.post_unchanged,
                journal.projects.get(&m.project),
                m,
            )
        })
        .collect();
    let mut warnings = Vec::new();
    let mut summary_delivery = None;
    if req.post_summary {
        let claims = Arc::new(Claims::new(
            req.state.store.clone(),
            req.state.clock.clone(),
            Runner::this_process("report"),
            req.state.lease,
        ));
        match post_summary_once(
            req.state.store.clone(),
            claims,
            req.chat.as_ref(),
            &summary,
            &req.cancel,
        )
        .await
        {
            Ok(d) => summary_delivery = Some(d),
            Err(w) => warnings.push(w),
        }
    }
    let shards = journal.meta.as_ref().and_then(|m| m.shards);
    let now = req.state.clock.now();
    let projects = order
        .iter()
        .map(|name| row(&journal, name, shards, now))
        .collect();
    Ok(RoundReport {
        round: req.round.clone(),
        dry_run: false,
        interrupted: false,
        projects,
        state: Some(req.state.store.location()),
        state_saved: true,
        summary: Some(summary),
        summary_delivery,
        messages,
        warnings,
    })
}

/// One project as the state shows it.
fn row(
    journal: &Journal,
    name: &str,
    shards: Option<u32>,
    now: chrono::DateTime<chrono::Utc>,
) -> ProjectReport {
    let record = journal.projects.get(name);
    if let Some(r) = record.filter(|r| r.is_finished()) {
        return ProjectReport::from_record(name, r, false);
    }
    let default = ProjectRecord::default();
    let record = record.unwrap_or(&default);
    let why = match journal.claims.get(name).map(|c| (c, &c.holder)) {
        Some((lease, Some(h))) if lease.live_holder(now).is_some() => Unfinished::Running {
            runner: h.owner.clone(),
            until: h.expires_at,
        },
        Some((_, Some(h))) => Unfinished::Abandoned {
            runner: h.owner.clone(),
            since: h.expires_at,
        },
        Some((_, None)) => Unfinished::Interrupted {
            runner: record.runner.clone(),
        },
        None if record.started_at.is_some() => Unfinished::Interrupted {
            runner: record.runner.clone(),
        },
        None => Unfinished::NeverClaimed {
            shard: shards.map(|n| Shard::of(name, n)),
        },
    };
    ProjectReport::unfinished(name, record, why, "not finished")
}

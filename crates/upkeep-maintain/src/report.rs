//! The end-of-run report: one row per project, failures grouped by cause, and the
//! exact JSON document of `maintain run --output json`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::Serialize;
use upkeep_chat::{Delivery, ProjectMessage, RoundSummary, UpgradeCounts};
use upkeep_deps::DiffReport;
use upkeep_forge::ChangeRequestSpec;

use crate::journal::{ChangeRequestRef, FailedStage, Failure, ProjectRecord, Stage, Status};

/// What happened to one project in the round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectReport {
    /// The project's name.
    pub name: String,
    /// How it ended.
    pub status: Status,
    /// The furthest stage reached.
    pub stage: Stage,
    /// Why it failed.
    pub failure: Option<Failure>,
    /// Why it was skipped.
    pub skip_reason: Option<String>,
    /// The maintenance branch, when the tree changed.
    pub branch: Option<String>,
    /// The commit on the branch.
    pub commit: Option<String>,
    /// The change request opened or updated.
    pub change_request: Option<ChangeRequestRef>,
    /// In a dry-run: the change request that would have been opened.
    pub planned_change_request: Option<ChangeRequestSpec>,
    /// Upgrade counts per kind.
    pub upgrades: UpgradeCounts,
    /// The dependency diff.
    pub diff: Option<DiffReport>,
    /// Wall time of its pipeline.
    pub duration_ms: u64,
    /// It had finished in an earlier run of the same round (or by another runner) and
    /// was not run again.
    pub from_earlier_run: bool,
    /// Why it has not ended, when it has not (as `maintain report` finds it).
    pub unfinished: Option<Unfinished>,
}

/// Why a project of the round has not ended, as the shared state shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "why", rename_all = "snake_case")]
pub enum Unfinished {
    /// No runner claimed it: its shard did not run, or did not get to it.
    NeverClaimed {
        /// Its shard, when the round is sharded.
        shard: Option<u32>,
    },
    /// A runner is working it now.
    Running {
        /// The runner.
        runner: String,
        /// When its lease runs out unless renewed.
        until: DateTime<Utc>,
    },
    /// Its runner's lease ran out while it worked it: that runner died or was cancelled.
    /// The next run of its shard takes it over.
    Abandoned {
        /// The runner.
        runner: String,
        /// When its lease ran out.
        since: DateTime<Utc>,
    },
    /// Its runner gave it back before it ended (the run was interrupted).
    Interrupted {
        /// The runner, if known.
        runner: Option<String>,
    },
}

impl Unfinished {
    /// One line for people.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Self::NeverClaimed { shard: Some(s) } => format!("never started (shard {s})"),
            Self::NeverClaimed { shard: None } => "never started".to_owned(),
            Self::Running { runner, until } => {
                format!(
                    "running on {runner} (lease until {})",
                    until.format("%H:%M:%S UTC")
                )
            }
            Self::Abandoned { runner, since } => format!(
                "left by {runner}: its lease ran out at {}",
                since.format("%H:%M:%S UTC")
            ),
            Self::Interrupted { runner: Some(r) } => format!("interrupted on {r}"),
            Self::Interrupted { runner: None } => "interrupted".to_owned(),
        }
    }
}

impl ProjectReport {
    /// A report row from a journal record.
    #[must_use]
    pub fn from_record(name: &str, record: &ProjectRecord, from_earlier_run: bool) -> Self {
        Self {
            name: name.to_owned(),
            status: record.status.unwrap_or(Status::Failed),
            stage: record.stage,
            failure: record.failure.clone(),
            skip_reason: record.skip_reason.clone(),
            branch: record.branch.clone(),
            commit: record.commit.clone(),
            change_request: record.change_request.clone(),
            planned_change_request: None,
            upgrades: record.upgrades,
            diff: record.diff.clone(),
            duration_ms: record.duration_ms,
            from_earlier_run,
            unfinished: None,
        }
    }

    /// A row for a project that was not run: left out, or taken over by another runner.
    #[must_use]
    pub fn skipped(name: &str, reason: String) -> Self {
        Self {
            status: Status::Skipped,
            stage: Stage::Queued,
            skip_reason: Some(reason),
            ..Self::from_record(name, &ProjectRecord::default(), false)
        }
    }

    /// A row for a project this run stopped before it ended (interrupted): failed where
    /// it stopped.
    #[must_use]
    pub fn interrupted(name: &str, record: &ProjectRecord) -> Self {
        let mut row = Self::unfinished(
            name,
            record,
            Unfinished::Interrupted { runner: None },
            "interrupted",
        );
        row.unfinished = None;
        row
    }

    /// A row for a project that has not ended, with why: failed where it stopped, the
    /// failure's message saying why.
    #[must_use]
    pub fn unfinished(name: &str, record: &ProjectRecord, why: Unfinished, cause: &str) -> Self {
        let mut row = Self::from_record(name, record, false);
        row.status = Status::Failed;
        row.failure = Some(Failure {
            stage: crate::round::failed_stage_of(record.stage),
            message: why.describe(),
            cause: cause.to_owned(),
            exit_code: None,
            log: None,
            log_tail: String::new(),
        });
        row.unfinished = Some(why);
        row
    }

    /// The stage a failure is reported under.
    #[must_use]
    pub fn failed_stage(&self) -> Option<FailedStage> {
        self.failure.as_ref().map(|f| f.stage)
    }
}

/// Everything a round did, returned by [`crate::run_round`].
#[derive(Debug, Clone)]
pub struct RoundReport {
    /// The round id.
    pub round: String,
    /// Nothing was pushed, opened or posted.
    pub dry_run: bool,
    /// The run was interrupted before every project finished.
    pub interrupted: bool,
    /// One row per project, in configuration order.
    pub projects: Vec<ProjectReport>,
    /// Where the round's state lives ([`StateStore::location`]; none in a dry-run).
    ///
    /// [`StateStore::location`]: upkeep_state::StateStore::location
    pub state: Option<String>,
    /// Whether everything this run did reached the state store (when not, a re-run
    /// redoes what is missing).
    pub state_saved: bool,
    /// The round summary as posted (or, in a dry-run, as it would be posted).
    pub summary: Option<RoundSummary>,
    /// Where the summary is and whether this run created, updated or left it alone;
    /// `None` when this run did not post it (a shard, a dry run, or it failed: see the
    /// warnings).
    pub summary_delivery: Option<Delivery>,
    /// The messages of the projects that get one (changed and failed projects; the others
    /// with `[maintain.chat] post_unchanged`), as posted or as they would be posted.
    pub messages: Vec<ProjectMessage>,
    /// Problems with the round as a whole (the summary could not be posted, the
    /// thread reactions could not be read); the projects still ran.
    pub warnings: Vec<String>,
}

impl RoundReport {
    /// Whether any project failed (or has not ended).
    #[must_use]
    pub fn has_failures(&self) -> bool {
        self.projects.iter().any(|p| p.status == Status::Failed)
    }

    /// Projects that have not ended.
    pub fn unfinished(&self) -> impl Iterator<Item = &ProjectReport> {
        self.projects.iter().filter(|p| p.unfinished.is_some())
    }

    /// Projects per status.
    #[must_use]
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::new();
        for p in &self.projects {
            *counts.entry(p.status.as_str()).or_insert(0) += 1;
        }
        counts
    }

    /// The document printed by `--output json`:
    /// `{"round", "projects": [{"name", "status", "failed_stage", "failure", "skip_reason",
    /// "change_request", "upgrades", "diff", "duration_ms"}], "problems"}`. `diff` is the
    /// lockfile diff (the document of `maintain deps diff --output json`) of the change
    /// request — or, for a failed project, of its failed tree: what it upgraded before it
    /// failed. The field names are those of `maintain status --output json`.
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        #[derive(Serialize)]
        struct Cr<'a> {
            number: u64,
            url: &'a str,
        }
        #[derive(Serialize)]
        struct Row<'a> {
            name: &'a str,
            status: Status,
            failed_stage: Option<FailedStage>,
            failure: Option<&'a Failure>,
            skip_reason: Option<&'a str>,
            change_request: Option<Cr<'a>>,
            upgrades: UpgradeCounts,
            diff: Option<&'a DiffReport>,
            duration_ms: u64,
            #[serde(skip_serializing_if = "Option::is_none")]
            unfinished: Option<&'a Unfinished>,
        }
        #[derive(Serialize)]
        struct Doc<'a> {
            round: &'a str,
            projects: Vec<Row<'a>>,
            problems: &'a [String],
        }
        let doc = Doc {
            round: &self.round,
            projects: self
                .projects
                .iter()
                .map(|p| Row {
                    name: &p.name,
                    status: p.status,
                    failed_stage: p.failed_stage(),
                    failure: p.failure.as_ref(),
                    skip_reason: p.skip_reason.as_deref(),
                    change_request: p.change_request.as_ref().map(|c| Cr {
                        number: c.number,
                        url: &c.url,
                    }),
                    upgrades: p.upgrades,
                    diff: p.diff.as_ref(),
                    duration_ms: p.duration_ms,
                    unfinished: p.unfinished.as_ref(),
                })
                .collect(),
            problems: &self.warnings,
        };
        serde_json::to_value(doc).unwrap_or_default()
    }

    /// Failed projects grouped by cause (`exit code 2`, `timed out`, `push rejected`),
    /// causes in name order.
    #[must_use]
    pub fn failures_by_cause(&self) -> BTreeMap<String, Vec<&ProjectReport>> {
        let mut groups: BTreeMap<String, Vec<&ProjectReport>> = BTreeMap::new();
        for p in self.projects.iter().filter(|p| p.unfinished.is_none()) {
            if let Some(f) = &p.failure {
                groups
                    .entry(format!("{}: {}", f.stage, f.cause))
                    .or_default()
                    .push(p);
            }
        }
        groups
    }

    /// The report as a table for people, then failures grouped by cause.
    #[must_use]
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let headers = [
            "project",
            "result",
            "stage",
            "time",
            "change request",
            "major",
            "minor",
            "patch",
        ];
        let rows: Vec<[String; 8]> = self
            .projects
            .iter()
            .map(|p| {
                let result = match (p.status, p.from_earlier_run) {
                    _ if p.unfinished.is_some() => "not finished".to_owned(),
                    (Status::Unchanged, false) => "up to date".to_owned(),
                    (Status::Unchanged, true) => "up to date (earlier)".to_owned(),
                    (s, true) => format!("{} (earlier)", s.as_str()),
                    (s, false) => s.as_str().to_owned(),
                };
                let stage = match (&p.failure, p.status) {
                    // Where it stopped, if it started (the footer says why).
                    (Some(_), _) if p.unfinished.is_some() => p.stage.as_str().to_owned(),
                    (Some(f), _) => format!("{} ✗", f.stage),
                    (None, Status::Skipped) => "-".to_owned(),
                    (None, _) => p.stage.as_str().to_owned(),
                };
                let link = match (&p.change_request, &p.planned_change_request) {
                    (Some(cr), _) => cr.url.clone(),
                    (None, Some(_)) => "(would open)".to_owned(),
                    (None, None) => "-".to_owned(),
                };
                let n = |n: usize| {
                    if n == 0 {
                        "-".to_owned()
                    } else {
                        n.to_string()
                    }
                };
                [
                    p.name.clone(),
                    result,
                    stage,
                    format_duration(p.duration_ms),
                    link,
                    n(p.upgrades.major),
                    n(p.upgrades.minor),
                    n(p.upgrades.patch),
                ]
            })
            .collect();
        out.push_str(&table(&headers, &rows, &[5, 6, 7]));
        let mut counts = self.counts();
        // Projects that have not ended are counted as such, not as failures.
        let unfinished = self.unfinished().count();
        if let Some(failed) = counts.get_mut("failed") {
            *failed -= unfinished.min(*failed);
        }
        counts.insert("not finished", unfinished);
        let summary: Vec<String> = ["changed", "unchanged", "failed", "skipped", "not finished"]
            .iter()
            .filter_map(|k| {
                counts
                    .get(k)
                    .filter(|n| **n > 0)
                    .map(|n| format!("{n} {k}"))
            })
            .collect();
        let _ = writeln!(
            out,
            "\nround {}{}: {}",
            self.round,
            if self.dry_run { " (dry run)" } else { "" },
            summary.join(", ")
        );
        self.render_footer(&mut out);
        out
    }

    /// Failures grouped by cause, warnings, and how to resume.
    fn render_footer(&self, out: &mut String) {
        let groups = self.failures_by_cause();
        if !groups.is_empty() {
            let _ = writeln!(out, "\nfailures by cause:");
            for (cause, projects) in groups {
                let _ = writeln!(out, "  {cause}");
                for p in projects {
                    if let Some(f) = &p.failure {
                        let log = f
                            .log
                            .as_ref()
                            .map(|l| format!(" (log: {})", l.display()))
                            .unwrap_or_default();
                        let _ = writeln!(out, "    {}: {}{log}", p.name, f.message);
                        if let Some(after) = p.diff.as_ref().and_then(upgraded_before) {
                            let _ = writeln!(out, "      after {after}");
                        }
                    }
                }
            }
        }
        let unfinished: Vec<&ProjectReport> = self.unfinished().collect();
        if !unfinished.is_empty() {
            let _ = writeln!(
                out,
                "\nnot finished ({}; run their shard again to finish them):",
                unfinished.len()
            );
            for p in unfinished {
                if let Some(u) = &p.unfinished {
                    let _ = writeln!(out, "  {}: {}", p.name, u.describe());
                }
            }
        }
        if let Some(d) = &self.summary_delivery {
            let what = match d.posted {
                upkeep_chat::Posted::Created => "posted",
                upkeep_chat::Posted::Updated => "updated",
                upkeep_chat::Posted::Unchanged => "already up to date",
            };
            let _ = writeln!(out, "\nround summary {what}");
        }
        for w in &self.warnings {
            let _ = writeln!(out, "\nwarning: {w}");
        }
        if !self.state_saved && !self.dry_run {
            let _ = writeln!(
                out,
                "\nthe state store did not take everything: run the same command again"
            );
        }
        if self.interrupted {
            let _ = writeln!(
                out,
                "\ninterrupted: run the same command again to finish the round"
            );
        }
    }
}

/// `django 3.2.4 → 5.2.19 (major, direct), celery 5.3.6 → 5.4.0 (minor, direct) and 4
/// more`: the most notable changes of a failed tree, for the failure's line.
fn upgraded_before(diff: &DiffReport) -> Option<String> {
    const SHOWN: usize = 3;
    let mut changes = crate::round::package_changes(diff);
    if changes.is_empty() {
        return None;
    }
    upkeep_chat::sort_notable_first(&mut changes);
    let parts: Vec<String> = changes
        .iter()
        .take(SHOWN)
        .map(|c| {
            let direct = match c.direct {
                Some(true) => ", direct",
                Some(false) => ", transitive",
                None => "",
            };
            format!(
                "{} {} → {} ({}{direct})",
                c.package,
                c.from.as_deref().unwrap_or("—"),
                c.to.as_deref().unwrap_or("—"),
                c.kind
            )
        })
        .collect();
    let mut text = parts.join(", ");
    if changes.len() > SHOWN {
        let _ = write!(text, " and {} more", changes.len() - SHOWN);
    }
    Some(text)
}

/// A plain-text table: a header line, then the rows; columns padded to their widest
/// cell, those in `right` right-aligned.
#[must_use]
pub fn table<const N: usize>(headers: &[&str; N], rows: &[[String; N]], right: &[usize]) -> String {
    let mut widths = headers.map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut l = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            let pad = " ".repeat(w.saturating_sub(cell.chars().count()));
            if right.contains(&i) {
                l.push_str(&pad);
                l.push_str(cell);
            } else {
                l.push_str(cell);
                l.push_str(&pad);
            }
            l.push_str("  ");
        }
        l.trim_end().to_owned()
    };
    let mut out = String::new();
    let _ = writeln!(out, "{}", line(&headers.map(str::to_owned)));
    for row in rows {
        let _ = writeln!(out, "{}", line(row));
    }
    out
}

/// `850ms`, `12.3s`, `4m05s`.
#[must_use]
pub fn format_duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else {
        format!("{}m{:02}s", ms / 60_000, (ms / 1000) % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, status: Status) -> ProjectReport {
        ProjectReport {
            name: name.into(),
            status,
            stage: Stage::Done,
            failure: None,
            skip_reason: None,
            branch: None,
            commit: None,
            change_request: None,
            planned_change_request: None,
            upgrades: UpgradeCounts::default(),
            diff: None,
            duration_ms: 1500,
            from_earlier_run: false,
            unfinished: None,
        }
    }

    #[test]
    fn json_has_exactly_the_documented_shape() {
        let mut changed = row("api", Status::Changed);
        changed.change_request = Some(ChangeRequestRef {
            url: "https://example.com/pr/1".into(),
            number: 1,
        });
        changed.upgrades.major = 1;
        let mut failed = row("web", Status::Failed);
        failed.failure = Some(Failure {
            stage: FailedStage::Test,
            message: "`make test` exited with 2".into(),
            cause: "exit code 2".into(),
            exit_code: Some(2),
            log: None,
            log_tail: String::new(),
        });
        // What the failed tree upgraded before the tests failed.
        failed.upgrades.major = 1;
        failed.diff = Some(DiffReport {
            lockfiles: vec![upkeep_deps::LockfileDiff {
                path: "requirements.txt".into(),
                ecosystem: upkeep_deps::Ecosystem::Pypi,
                changes: vec![upkeep_deps::Change {
                    name: "django".into(),
                    from: Some("3.2.4".into()),
                    to: Some("5.2.19".into()),
                    kind: upkeep_deps::ChangeKind::Major,
                    direct: Some(true),
                    likely_breaking: true,
                    ecosystem: upkeep_deps::Ecosystem::Pypi,
                }],
            }],
            errors: Vec::new(),
        });
        let report = RoundReport {
            round: "2026-11-22".into(),
            dry_run: false,
            interrupted: false,
            projects: vec![changed, failed],
            state: None,
            state_saved: true,
            summary_delivery: None,
            summary: None,
            messages: Vec::new(),
            warnings: Vec::new(),
        };
        assert_eq!(
            report.to_json(),
            serde_json::json!({
                "round": "2026-11-22",
                "projects": [
                    {"name": "api", "status": "changed", "failed_stage": null,
                     "failure": null, "skip_reason": null,
                     "change_request": {"number": 1, "url": "https://example.com/pr/1"},
                     "upgrades": {"major": 1, "minor": 0, "patch": 0, "other": 0},
                     "diff": null,
                     "duration_ms": 1500},
                    {"name": "web", "status": "failed", "failed_stage": "test",
                     "failure": {"stage": "test", "message": "`make test` exited with 2",
                       "cause": "exit code 2", "exit_code": 2, "log": null, "log_tail": ""},
                     "skip_reason": null,
                     "change_request": null,
                     "upgrades": {"major": 1, "minor": 0, "patch": 0, "other": 0},
                     "diff": {"lockfiles": [{"path": "requirements.txt", "ecosystem": "pypi",
                       "changes": [{"name": "django", "from": "3.2.4", "to": "5.2.19",
                         "kind": "major", "direct": true, "likely_breaking": true}]}],
                       "errors": []},
                     "duration_ms": 1500},
                ],
                "problems": []
            })
        );
        let text = report.render_text();
        assert!(
            text.contains(
                "test: exit code 2\n    web: `make test` exited with 2\n      after django 3.2.4 → 5.2.19 (major, direct)\n"
            ),
            "{text}"
        );
        assert!(report.has_failures());
    }

    #[test]
    fn a_project_that_has_not_ended_is_not_finished_rather_than_failed() {
        let record = ProjectRecord {
            stage: Stage::Build,
            ..ProjectRecord::default()
        };
        let left = ProjectReport::unfinished(
            "web",
            &record,
            Unfinished::NeverClaimed { shard: Some(2) },
            "not finished",
        );
        let report = RoundReport {
            round: "2026-11-22".into(),
            dry_run: false,
            interrupted: false,
            projects: vec![row("api", Status::Changed), left],
            state: None,
            state_saved: true,
            summary_delivery: None,
            summary: None,
            messages: Vec::new(),
            warnings: Vec::new(),
        };
        let text = report.render_text();
        assert!(text.contains("web      not finished  build"), "{text}");
        assert!(
            text.contains("round 2026-11-22: 1 changed, 1 not finished\n"),
            "{text}"
        );
        assert!(text.contains("web: never started (shard 2)"), "{text}");
        // Still not a success: the round's exit code says so.
        assert!(report.has_failures());
        assert_eq!(
            report.to_json()["projects"][1]["unfinished"]["why"],
            "never_claimed"
        );
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(format_duration(850), "850ms");
        assert_eq!(format_duration(12_345), "12.3s");
        assert_eq!(format_duration(245_000), "4m05s");
    }
}

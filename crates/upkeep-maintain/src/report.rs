//! The end-of-run report: one row per project, failures grouped by cause, and the
//! exact JSON document of `maintain run --output json`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Serialize;
use upkeep_chat::{ProjectMessage, RoundSummary, UpgradeCounts};
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
    /// It had finished in an earlier run of the same round and was not run again.
    pub from_earlier_run: bool,
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
        }
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
    /// The journal file (none in a dry-run).
    pub journal: Option<PathBuf>,
    /// The round summary as posted (or, in a dry-run, as it would be posted).
    pub summary: Option<RoundSummary>,
    /// The messages of the projects that get one (changed and failed projects; the others
    /// with `[maintain.chat] post_unchanged`), as posted or as they would be posted.
    pub messages: Vec<ProjectMessage>,
    /// Problems with the round as a whole (the summary could not be posted, the
    /// thread reactions could not be read); the projects still ran.
    pub warnings: Vec<String>,
}

impl RoundReport {
    /// Whether any project failed.
    #[must_use]
    pub fn has_failures(&self) -> bool {
        self.projects.iter().any(|p| p.status == Status::Failed)
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
        for p in &self.projects {
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
                    (Status::Unchanged, false) => "up to date".to_owned(),
                    (Status::Unchanged, true) => "up to date (earlier)".to_owned(),
                    (s, true) => format!("{} (earlier)", s.as_str()),
                    (s, false) => s.as_str().to_owned(),
                };
                let stage = match (&p.failure, p.status) {
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
        let counts = self.counts();
        let summary: Vec<String> = ["changed", "unchanged", "failed", "skipped"]
            .iter()
            .filter_map(|k| counts.get(k).map(|n| format!("{n} {k}")))
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
        for w in &self.warnings {
            let _ = writeln!(out, "\nwarning: {w}");
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
            journal: None,
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
    fn durations_read_well() {
        assert_eq!(format_duration(850), "850ms");
        assert_eq!(format_duration(12_345), "12.3s");
        assert_eq!(format_duration(245_000), "4m05s");
    }
}

//! Human-readable text for plans, gate evidence, run reports and status: what the
//! binary prints and what goes into chat messages. Plain text, no colour: callers that
//! want colour add it.

use std::fmt::Write as _;

use crate::apply::{ApplyReport, RepoOutcome, RunResult};
use crate::gates::GateReport;
use crate::plan::{Plan, short};
use crate::status::RepoStatus;

/// Text from repositories and services (commit subjects, authors, issue titles, gate
/// output) can carry control characters: printed raw, an escape sequence rewrites the
/// terminal — it could hide a commit from the plan a person is approving. Everything but
/// line breaks and tabs is shown as `�`.
fn inert(text: String) -> String {
    let control = |c: char| c.is_control() && c != '\n' && c != '\t';
    if text.chars().any(control) {
        text.chars()
            .map(|c| if control(c) { '\u{fffd}' } else { c })
            .collect()
    } else {
        text
    }
}

/// How many commits per repo are listed before "… and N more".
const MAX_COMMITS: usize = 20;

/// The plan: one block per repo in dependency order, then the digest.
#[must_use]
pub fn plan(plan: &Plan) -> String {
    let mut out = String::new();
    for (i, level) in plan.levels.iter().enumerate() {
        let _ = writeln!(out, "level {}: {}", i + 1, level.join(", "));
    }
    out.push('\n');
    for r in &plan.repos {
        if r.is_even() {
            let _ = writeln!(
                out,
                "{}: `{}` is even with the plan at {} — nothing to do",
                r.name,
                r.target,
                short(&r.to)
            );
            continue;
        }
        let what = match &r.requested {
            Some(rev) => format!("{} (requested `{rev}`)", short(&r.to)),
            None => format!("{} (tip of `{}`)", short(&r.to), r.source),
        };
        let _ = writeln!(
            out,
            "{}: move `{}` {} → {what}, {} commit(s){}",
            r.name,
            r.target,
            short(&r.from),
            r.commits.len(),
            r.tag
                .as_ref()
                .map(|t| format!(", tag {t}"))
                .unwrap_or_default()
        );
        for c in r.commits.iter().take(MAX_COMMITS) {
            let cr = c
                .change_request
                .map(|n| format!(" #{n}"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "    {} {} ({}){cr}",
                short(&c.sha),
                c.subject,
                c.author
            );
        }
        if r.commits.len() > MAX_COMMITS {
            let _ = writeln!(out, "    … and {} more", r.commits.len() - MAX_COMMITS);
        }
    }
    let _ = writeln!(out, "\nplan digest: {}", plan.digest);
    inert(out)
}

/// A rollback plan: the move back and the commits withdrawn.
#[must_use]
pub fn rollback(plan: &Plan) -> String {
    let mut out = String::new();
    for r in &plan.repos {
        let _ = writeln!(
            out,
            "{}: roll `{}` back {} → {}, withdrawing {} commit(s):",
            r.name,
            r.target,
            short(&r.from),
            short(&r.to),
            r.commits.len()
        );
        for c in r.commits.iter().take(MAX_COMMITS) {
            let _ = writeln!(out, "    {} {} ({})", short(&c.sha), c.subject, c.author);
        }
        if r.commits.len() > MAX_COMMITS {
            let _ = writeln!(out, "    … and {} more", r.commits.len() - MAX_COMMITS);
        }
    }
    let _ = writeln!(out, "\nplan digest: {}", plan.digest);
    inert(out)
}

/// The gates with their evidence.
#[must_use]
pub fn gates(report: &GateReport) -> String {
    if report.gates.is_empty() {
        return "gates: none configured\n".to_owned();
    }
    let mut out = String::from("gates:\n");
    for g in &report.gates {
        let _ = writeln!(
            out,
            "  [{}] {}: {}",
            if g.passed { "pass" } else { "FAIL" },
            g.name,
            g.summary
        );
        for e in &g.evidence {
            match &e.url {
                Some(url) => {
                    let _ = writeln!(out, "      {} <{url}>", e.text);
                }
                None => {
                    let _ = writeln!(out, "      {}", e.text);
                }
            }
        }
    }
    inert(out)
}

/// The outcome of a run, one line per repo.
#[must_use]
pub fn report(report: &ApplyReport) -> String {
    let mut out = String::new();
    for r in &report.repos {
        let line = match &r.outcome {
            RepoOutcome::Even => "even, nothing to do".to_owned(),
            RepoOutcome::Moved => {
                format!("moved `{}` {} → {}", r.target, short(&r.from), short(&r.to))
            }
            RepoOutcome::TargetMoved { actual } => format!(
                "NOT moved: `{}` moved since the plan (expected {}, found {})",
                r.target,
                short(&r.from),
                actual.as_deref().map_or("no branch", short)
            ),
            RepoOutcome::Failed { error } => format!("FAILED: {error}"),
            RepoOutcome::Blocked { by } => {
                format!("not moved: it depends on `{by}`, which did not complete")
            }
            RepoOutcome::Held => "not moved: the run was refused".to_owned(),
            RepoOutcome::Planned => "planned".to_owned(),
            RepoOutcome::Stopped { reason } => {
                format!("not moved: the run stopped before its level: {reason}")
            }
        };
        let _ = writeln!(out, "{}: {line}", r.name);
        if let Some(w) = &r.wait {
            let _ = writeln!(out, "    wait: {}", w.message);
        }
        if let Some(t) = &r.tag {
            match &t.error {
                None => {
                    let _ = writeln!(out, "    tagged {}", t.name);
                }
                Some(e) => {
                    let _ = writeln!(out, "    tag {} FAILED: {e}", t.name);
                }
            }
        }
    }
    let moved = report.moved().count();
    let _ = writeln!(
        out,
        "result: {}{}",
        report.result,
        match report.result {
            RunResult::Partial => format!(
                " ({moved} of {} moved; see above)",
                report
                    .repos
                    .iter()
                    .filter(|r| r.outcome != RepoOutcome::Even)
                    .count()
            ),
            RunResult::Success if moved == 0 => " (nothing to do)".to_owned(),
            _ => String::new(),
        }
    );
    inert(out)
}

/// The status table and details.
#[must_use]
pub fn status(repos: &[RepoStatus]) -> String {
    let mut out = String::new();
    for s in repos {
        let tips = format!(
            "`{}` {} / `{}` {}",
            s.target,
            s.target_tip.as_deref().map_or("-", short),
            s.source,
            s.source_tip.as_deref().map_or("-", short)
        );
        let state = if s.is_even() {
            "even".to_owned()
        } else {
            format!("{} waiting, {} drift", s.waiting.len(), s.drift.len())
        };
        let _ = writeln!(out, "{}: {tips}: {state}", s.name);
        if let Some(e) = &s.error {
            let _ = writeln!(out, "    error: {e}");
        }
        let _ = writeln!(
            out,
            "    last tag: {}, next: {}",
            s.last_tag.as_ref().map_or("none", |t| t.name.as_str()),
            s.next_version.as_deref().unwrap_or("-")
        );
        if let Some(p) = &s.last_promotion {
            let _ = writeln!(
                out,
                "    last promotion: {} by {} ({} → {}, plan {})",
                p.when.format("%Y-%m-%d %H:%M UTC"),
                p.who,
                short(&p.from),
                short(&p.to),
                p.digest
            );
        }
        for c in s.waiting.iter().take(MAX_COMMITS) {
            let _ = writeln!(
                out,
                "    waiting {} {} ({})",
                short(&c.sha),
                c.subject,
                c.author
            );
        }
        for c in &s.drift {
            let _ = writeln!(
                out,
                "    drift   {} {} ({})",
                short(&c.sha),
                c.subject,
                c.author
            );
        }
    }
    inert(out)
}

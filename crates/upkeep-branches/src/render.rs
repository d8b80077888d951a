//! Human-readable text for plans, gate evidence, run reports and status: what the
//! binary prints and what goes into chat messages. Plain text, no colour: callers that
//! want colour add it.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::apply::{ApplyReport, RepoOutcome, RunResult};
use crate::gates::GateReport;
use crate::plan::{Plan, short};
use crate::status::RepoStatus;

/// Text from repositories and services (commit subjects, authors, issue titles, gate
/// output) shown inert: see [`upkeep_text::inert`].
pub(crate) fn inert(text: String) -> String {
    match upkeep_text::inert(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(shown) => shown,
    }
}

/// How many characters of a name or a reason that a person gave (`--actor`, a deploy
/// token's reason) are shown.
pub const MAX_NAME: usize = 200;
/// How many characters of one line from a repository or service (a commit subject, a
/// line of a gate's output, an issue title, a server's error) are shown.
pub const MAX_LINE: usize = 500;

pub use upkeep_text::one_line;

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
        if let Some(why) = &r.blocked {
            let _ = writeln!(out, "    BLOCKED: {}", one_line(why, MAX_LINE));
        }
        commits(&mut out, &r.commits, true);
    }
    if !plan.skipped.is_empty() {
        let _ = writeln!(out, "left out (--skip): {}", plan.skipped.join(", "));
    }
    let _ = writeln!(out, "\nplan digest: {}", plan.digest);
    inert(out)
}

/// The commits of a plan's repo, at most [`MAX_COMMITS`], each on one line.
fn commits(out: &mut String, commits: &[crate::commits::ShipCommit], numbers: bool) {
    for c in commits.iter().take(MAX_COMMITS) {
        let cr = c
            .change_request
            .filter(|_| numbers)
            .map(|n| format!(" #{n}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "    {} {} ({}){cr}",
            short(&c.sha),
            one_line(&c.subject, MAX_LINE),
            one_line(&c.author, MAX_NAME)
        );
    }
    if commits.len() > MAX_COMMITS {
        let _ = writeln!(out, "    … and {} more", commits.len() - MAX_COMMITS);
    }
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
        if let Some(why) = &r.blocked {
            let _ = writeln!(out, "    BLOCKED: {}", one_line(why, MAX_LINE));
        }
        commits(&mut out, &r.commits, false);
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
            one_line(&g.summary, MAX_LINE)
        );
        for e in &g.evidence {
            let text = one_line(&e.text, MAX_LINE);
            match &e.url {
                Some(url) => {
                    let _ = writeln!(out, "      {text} <{}>", one_line(url, MAX_LINE));
                }
                None => {
                    let _ = writeln!(out, "      {text}");
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
            RepoOutcome::Failed { error } => format!("FAILED: {}", one_line(error, MAX_LINE)),
            RepoOutcome::Blocked { by } => {
                format!("not moved: it depends on `{by}`, which did not complete")
            }
            RepoOutcome::Held => "not moved: the run was refused".to_owned(),
            RepoOutcome::Planned => "planned".to_owned(),
            RepoOutcome::Stopped { reason } => format!(
                "not moved: the run stopped before its level: {}",
                one_line(reason, MAX_LINE)
            ),
            RepoOutcome::Skipped => "left out of this run (--skip)".to_owned(),
        };
        let _ = writeln!(out, "{}: {line}", r.name);
        if let Some(w) = &r.wait {
            let _ = writeln!(out, "    wait: {}", one_line(&w.message, MAX_LINE));
        }
        if let Some(t) = &r.tag {
            match &t.error {
                None => {
                    let _ = writeln!(out, "    tagged {}", t.name);
                }
                Some(e) => {
                    let _ = writeln!(out, "    tag {} FAILED: {}", t.name, one_line(e, MAX_LINE));
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
                    .filter(|r| !matches!(r.outcome, RepoOutcome::Even | RepoOutcome::Skipped))
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
            let _ = writeln!(out, "    error: {}", one_line(e, MAX_LINE));
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
                "    last {}: {} by {} ({} → {}, plan {})",
                match p.command {
                    crate::history::Command::Run => "promotion",
                    crate::history::Command::Rollback => "rollback",
                },
                p.when.format("%Y-%m-%d %H:%M UTC"),
                one_line(&p.who, MAX_NAME),
                short(&p.from),
                short(&p.to),
                p.digest
            );
        }
        for (what, list) in [("waiting", &s.waiting), ("drift  ", &s.drift)] {
            for c in list.iter().take(MAX_COMMITS) {
                let _ = writeln!(
                    out,
                    "    {what} {} {} ({})",
                    short(&c.sha),
                    one_line(&c.subject, MAX_LINE),
                    one_line(&c.author, MAX_NAME)
                );
            }
        }
    }
    inert(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_is_inert_capped_and_says_what_was_cut() {
        assert!(matches!(one_line("plain text", 20), Cow::Borrowed(_)));
        assert_eq!(
            one_line("a\nb\u{1b}[2J\tc", 20),
            "a\u{fffd}b\u{fffd}[2J\u{fffd}c"
        );
        let long = "x".repeat(1000);
        let cut = one_line(&long, 10);
        assert_eq!(cut, "xxxxxxxxxx… [990 more characters]");
        // Cutting again keeps the first count, at the same or a larger size.
        assert_eq!(one_line(&cut, 10), cut);
        assert_eq!(one_line(&cut, 500), cut);
        assert_eq!(one_line(&cut, 5), "xxxxx… [28 more characters]");
    }
}

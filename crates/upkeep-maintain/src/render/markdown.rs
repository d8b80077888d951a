//! GitHub-flavoured Markdown (which GitLab renders too): the end-of-run report
//! ([`round_report`], `maintain run --output markdown`) and the board ([`board`],
//! `maintain status --output markdown`), for `$GITHUB_STEP_SUMMARY` and job summaries.
//!
//! Text is backslash-escaped (`CommonMark` lets any ASCII punctuation be escaped), so a
//! package called `*evil*|x` or `<img src=x>` is shown as written and cannot open a
//! table cell, emphasis, a link or an HTML tag. Log tails go in a code fence longer
//! than any run of backticks inside them, so no log line can end it.

use std::fmt::Write as _;

use upkeep_chat::{PackageChange, group_upgrades, sort_notable_first};

use super::{
    PIPELINE, change_kind, change_versions, clean_log, counts_line, link_target, pipeline_cells,
    team_cells,
};
use crate::board::{Board, BoardRow};
use crate::journal::{Failure, Status};
use crate::report::{ProjectReport, RoundReport, format_duration};

/// How many notable upgrades a table cell or a failure line names.
const NAMED: usize = 3;
/// How many projects a grouped upgrade names.
const PROJECTS_NAMED: usize = 12;
/// How many grouped upgrades the report lists.
const UPGRADES_LISTED: usize = 15;

/// Escapes text for Markdown: every ASCII punctuation character that Markdown or inline
/// HTML could read is backslash-escaped, and line breaks become spaces (a table row is
/// one line).
#[must_use]
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '#' | '+' | '!' | '|'
            | '<' | '>' | '&' | '~' | ':' | '$' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Inline code: a backtick string longer than any inside, with padding when the text
/// starts or ends with a backtick. Pipes are escaped (GFM tables split on them even in
/// code spans).
#[must_use]
pub fn code(text: &str) -> String {
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let ticks = "`".repeat(longest_run(&text, '`') + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') || text.trim().is_empty() {
        " "
    } else {
        ""
    };
    format!("{ticks}{pad}{}{pad}{ticks}", text.replace('|', "\\|"))
}

/// A link when the URL may be one (see [`super::link_target`]), else the escaped text.
#[must_use]
pub fn link(label: &str, url: &str) -> String {
    match link_target(url) {
        Some(u) => format!(
            "[{}]({})",
            escape(label),
            u.replace('(', "%28")
                .replace(')', "%29")
                .replace('<', "%3C")
                .replace('>', "%3E")
                .replace('|', "%7C")
                .replace('"', "%22")
        ),
        None => format!("{} ({})", escape(label), escape(url)),
    }
}

/// A log tail as a fenced code block (a fence longer than any backtick run in it).
#[must_use]
pub fn fenced(log: &str) -> String {
    let log = clean_log(log);
    let fence = "`".repeat((longest_run(&log, '`') + 1).max(3));
    format!("{fence}text\n{log}\n{fence}\n")
}

fn longest_run(text: &str, c: char) -> usize {
    let (mut best, mut run) = (0, 0);
    for ch in text.chars() {
        if ch == c {
            run += 1;
            best = best.max(run);
        } else {
            run = 0;
        }
    }
    best
}

/// `` `django` 3.2.4 → 5.2.19 (major, direct) ``, the first few, then "and N more".
fn changes_line(changes: &[PackageChange]) -> String {
    let mut parts: Vec<String> = changes
        .iter()
        .take(NAMED)
        .map(|c| {
            format!(
                "{} {} ({})",
                code(&c.package),
                escape(&change_versions(c)),
                escape(&change_kind(c))
            )
        })
        .collect();
    if changes.len() > NAMED {
        parts.push(format!("and {} more", changes.len() - NAMED));
    }
    parts.join(", ")
}

fn notable(diff: Option<&upkeep_deps::DiffReport>) -> Vec<PackageChange> {
    let mut changes = diff.map(crate::round::package_changes).unwrap_or_default();
    sort_notable_first(&mut changes);
    changes
}

/// The failure's heading line: `` **billing**: `make test` exited with 2 ``.
fn failure_block(out: &mut String, name: &str, failure: &Failure, changes: &[PackageChange]) {
    let _ = write!(out, "- **{}**: {}", escape(name), escape(&failure.message));
    if !changes.is_empty() {
        let _ = write!(out, " — after {}", changes_line(changes));
    }
    out.push('\n');
    let tail = clean_log(&failure.log_tail);
    if !tail.is_empty() {
        let _ = write!(
            out,
            "\n  <details><summary>{}: the last lines of the log</summary>\n\n",
            html_text(name)
        );
        for line in fenced(&tail).lines() {
            let _ = writeln!(out, "  {line}");
        }
        out.push_str("\n  </details>\n\n");
    }
}

/// Text inside the raw HTML of a `<summary>`: Markdown is not read there, HTML is.
fn html_text(text: &str) -> String {
    super::html::escape(text)
}

/// The end-of-run report: a heading with the counts, a table of the projects, the
/// direct likely-breaking upgrades grouped by package, the failures grouped by cause
/// (each with what it upgraded before it failed and its log tail, folded), warnings.
#[must_use]
pub fn round_report(report: &RoundReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## Maintenance round {}{}\n",
        escape(&report.round),
        if report.dry_run { " (dry run)" } else { "" }
    );
    let _ = writeln!(out, "{}\n", counts_line(&report.counts()));
    out.push_str("| Project | Result | Stage | Change request | Major | Minor | Patch | Time |\n");
    out.push_str("|---|---|---|---|--:|--:|--:|--:|\n");
    for p in &report.projects {
        let _ = writeln!(out, "{}", report_row(p));
    }

    let changed: Vec<(&str, Vec<PackageChange>)> = report
        .projects
        .iter()
        .filter(|p| p.status == Status::Changed)
        .map(|p| (p.name.as_str(), notable(p.diff.as_ref())))
        .collect();
    let grouped = group_upgrades(
        changed
            .iter()
            .flat_map(|(name, changes)| changes.iter().map(move |c| (*name, c))),
    );
    if !grouped.is_empty() {
        out.push_str("\n### Direct major and likely-breaking upgrades\n\n");
        for u in grouped.iter().take(UPGRADES_LISTED) {
            let mut projects: Vec<String> = u
                .projects
                .iter()
                .take(PROJECTS_NAMED)
                .map(|p| escape(p))
                .collect();
            if u.projects.len() > PROJECTS_NAMED {
                projects.push(format!("and {} more", u.projects.len() - PROJECTS_NAMED));
            }
            let _ = writeln!(
                out,
                "- {} {}{}: {}",
                code(&u.package),
                escape(&format!("{} → {}", u.from, u.to)),
                if u.major {
                    ""
                } else {
                    " (0.x, likely breaking)"
                },
                projects.join(", ")
            );
        }
        if grouped.len() > UPGRADES_LISTED {
            let _ = writeln!(
                out,
                "- and {} more — see the change requests",
                grouped.len() - UPGRADES_LISTED
            );
        }
    }

    let groups = report.failures_by_cause();
    if !groups.is_empty() {
        out.push_str("\n### Failures\n");
        for (cause, projects) in groups {
            let _ = writeln!(out, "\n**{}**\n", escape(&cause));
            for p in projects {
                if let Some(f) = &p.failure {
                    failure_block(&mut out, &p.name, f, &notable(p.diff.as_ref()));
                }
            }
        }
    }
    for w in &report.warnings {
        let _ = writeln!(out, "\n> **Warning:** {}", escape(w));
    }
    if report.interrupted {
        out.push_str("\n> **Interrupted:** run the same command again to finish the round.\n");
    }
    out
}

fn report_row(p: &ProjectReport) -> String {
    let result = match (p.status, p.from_earlier_run) {
        (Status::Failed, earlier) => {
            format!("**failed**{}", if earlier { " (earlier)" } else { "" })
        }
        (Status::Unchanged, earlier) => {
            format!("up to date{}", if earlier { " (earlier)" } else { "" })
        }
        (s, true) => format!("{} (earlier)", s.as_str()),
        (s, false) => s.as_str().to_owned(),
    };
    let result = match &p.skip_reason {
        Some(reason) if p.status == Status::Skipped => format!("skipped: {}", escape(reason)),
        _ => result,
    };
    let stage = match (&p.failure, p.status) {
        (Some(f), _) => format!("{} ✗", f.stage),
        (None, Status::Skipped) => "–".to_owned(),
        (None, _) => p.stage.as_str().to_owned(),
    };
    let cr = match (&p.change_request, &p.planned_change_request) {
        (Some(cr), _) => link(&format!("#{}", cr.number), &cr.url),
        (None, Some(_)) => "(would open)".to_owned(),
        (None, None) => "–".to_owned(),
    };
    let n = |n: usize| {
        if n == 0 {
            "–".to_owned()
        } else {
            n.to_string()
        }
    };
    format!(
        "| {} | {result} | {stage} | {cr} | {} | {} | {} | {} |",
        escape(&p.name),
        n(p.upgrades.major),
        n(p.upgrades.minor),
        n(p.upgrades.patch),
        format_duration(p.duration_ms)
    )
}

/// The board: a table of the projects with the pipeline, the change request and its
/// state, the team's furthest stage, who is on it and the likely-breaking upgrades;
/// then the failures with their log tails (folded) and what could not be read.
#[must_use]
pub fn board(board: &Board) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## Maintenance round {}: board\n",
        escape(&board.round)
    );
    let _ = writeln!(
        out,
        "{} · branch {}\n",
        counts_line(&board.counts()),
        code(&board.branch)
    );
    out.push_str(
        "| Project | Result | Pipeline | Change request | Team | Working on it | Likely breaking |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|\n");
    for r in &board.projects {
        let _ = writeln!(out, "{}", board_row(r));
    }
    let failed: Vec<&BoardRow> = board
        .projects
        .iter()
        .filter(|r| r.failure.is_some())
        .collect();
    if !failed.is_empty() {
        out.push_str("\n### Failures\n\n");
        for r in failed {
            if let Some(f) = &r.failure {
                failure_block(&mut out, &r.name, f, &r.notable_changes());
            }
        }
    }
    let problems: Vec<(&str, &String)> = board
        .projects
        .iter()
        .flat_map(|r| r.problems.iter().map(move |p| (r.name.as_str(), p)))
        .collect();
    if !problems.is_empty() {
        out.push_str("\n### Could not be read\n\n");
        for (name, p) in problems {
            let _ = writeln!(out, "- **{}**: {}", escape(name), escape(p));
        }
    }
    out
}

fn board_row(r: &BoardRow) -> String {
    let result = match r.status {
        Some(Status::Failed) => "**failed**".to_owned(),
        Some(Status::Unchanged) => "up to date".to_owned(),
        Some(s) => s.as_str().to_owned(),
        None => "–".to_owned(),
    };
    let cells = pipeline_cells(r);
    let pipeline: Vec<String> = match cells[0] {
        super::Cell::Skipped => vec!["skipped".to_owned()],
        super::Cell::Unknown => vec!["not recorded here".to_owned()],
        _ => PIPELINE
            .iter()
            .zip(cells)
            .take(3)
            .map(|(name, cell)| format!("{name} {}", cell.mark()))
            .collect(),
    };
    let cr = r.change_request.as_ref().map_or_else(
        || "–".to_owned(),
        |c| {
            format!(
                "{} {}",
                link(&format!("#{}", c.number), &c.url),
                escape(&c.state.to_string())
            )
        },
    );
    let team = team_cells(r)
        .iter()
        .rev()
        .find(|(_, cell, _)| *cell == super::Cell::Done)
        .map_or_else(|| "–".to_owned(), |(stage, _, _)| stage.label().to_owned());
    let mut flags = Vec::new();
    if let Some(chat) = &r.chat {
        if chat.skip {
            flags.push(" (skip)");
        }
        if chat.failing {
            flags.push(" (failing)");
        }
    }
    let who = r.chat.as_ref().filter(|c| !c.who.is_empty()).map_or_else(
        || "–".to_owned(),
        |c| {
            c.who
                .iter()
                .map(|w| escape(w))
                .collect::<Vec<_>>()
                .join(", ")
        },
    );
    let breaking: Vec<PackageChange> = r
        .notable_changes()
        .into_iter()
        .filter(|c| c.likely_breaking)
        .collect();
    let breaking = if breaking.is_empty() {
        "–".to_owned()
    } else {
        changes_line(&breaking)
    };
    format!(
        "| {} | {result} | {} | {cr} | {team}{} | {who} | {breaking} |",
        escape(&r.name),
        pipeline.join(" "),
        flags.concat()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_cannot_open_markup() {
        assert_eq!(escape("a|b"), "a\\|b");
        assert_eq!(escape("<img src=x>"), "\\<img src=x\\>");
        assert_eq!(escape("[x](javascript:y)"), "\\[x\\]\\(javascript\\:y\\)");
        assert_eq!(escape("two\nlines"), "two lines");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`x"), "`` `x ``");
        assert_eq!(code("a|b"), "`a\\|b`");
        assert_eq!(
            link("#1", "javascript:alert(1)"),
            "\\#1 (javascript\\:alert\\(1\\))"
        );
        assert_eq!(link("#1", "https://x/a(b)"), "[\\#1](https://x/a%28b%29)");
    }

    #[test]
    fn a_log_with_fences_cannot_end_its_block() {
        let block = fenced("```\n</details>\n````");
        assert!(block.starts_with("`````text\n"), "{block}");
        assert!(block.ends_with("\n`````\n"), "{block}");
    }
}

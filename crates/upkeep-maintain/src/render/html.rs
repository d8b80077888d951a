//! The round's board as one self-contained HTML page (`maintain status --output html`),
//! to publish as a CI artifact or open from disk.
//!
//! One file, no external assets: the styles are inline and there is no script. Its
//! Content-Security-Policy (`default-src 'none'`) forbids loading or running anything,
//! so the page works offline and a hostile string that slipped through escaping still
//! could not fetch or execute. Every text and attribute value is escaped; only
//! `http(s)` and `file` URLs become links. Elements carry stable ids and `data-`
//! attributes (`#project-<name>`, `data-stage`, `#failure-<name>`) so that tests — and
//! anyone scraping the page — can find a cell.

use std::fmt::Write as _;

use upkeep_chat::PackageChange;

use super::{
    Cell, PIPELINE, change_kind, change_versions, clean_log, counts_line, link_target,
    pipeline_cells, team_cells,
};
use crate::board::{Board, BoardRow};
use crate::journal::Status;

/// How many likely-breaking upgrades a row names before "and N more".
const NAMED: usize = 5;

/// Escapes text for HTML text and double- or single-quoted attribute values.
#[must_use]
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// A link when the URL may be one, else the label and the URL as text.
fn link(label: &str, url: &str) -> String {
    match link_target(url) {
        Some(u) => format!(
            "<a href=\"{}\" rel=\"noopener noreferrer\">{}</a>",
            escape(u),
            escape(label)
        ),
        None => format!(
            "{} <span class=\"unlinked\">({})</span>",
            escape(label),
            escape(url)
        ),
    }
}

const STYLE: &str = r#"
:root { color-scheme: light dark; --ok: #1a7f37; --bad: #cf222e; --dim: #6e7781; --line: #d0d7de; --head: #f6f8fa; }
@media (prefers-color-scheme: dark) { :root { --ok: #3fb950; --bad: #f85149; --dim: #8b949e; --line: #30363d; --head: #161b22; } }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5rem; }
h1 { font-size: 1.4rem; margin: 0 0 .25rem; }
h2 { font-size: 1.15rem; margin-top: 2rem; }
.meta { color: var(--dim); margin: 0 0 1rem; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; }
th, td { border: 1px solid var(--line); padding: .3rem .5rem; vertical-align: top; text-align: left; }
thead th { background: var(--head); position: sticky; top: 0; font-weight: 600; }
thead th.group { text-align: center; }
td.cell { text-align: center; white-space: nowrap; }
td[data-stage="change request"] { text-align: left; }
.done { color: var(--ok); }
.failed { color: var(--bad); font-weight: 700; }
.pending, .not-needed, .unknown, .skipped, .stopped { color: var(--dim); }
.result-failed { color: var(--bad); font-weight: 600; }
.state { display: inline-block; border-radius: 1em; padding: 0 .5em; border: 1px solid var(--line); font-size: .85em; }
.state-merged { border-color: #8250df; }
.state-approved { border-color: var(--ok); }
.state-changes_requested, .state-closed { border-color: var(--bad); }
ul { margin: 0; padding-left: 1.1rem; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .9em; }
.kind, .by, .unlinked { color: var(--dim); font-size: .85em; }
.reaction { white-space: nowrap; margin-right: .5em; }
article.failure { border-left: 3px solid var(--bad); padding-left: .75rem; margin-bottom: 1.5rem; }
pre.log { background: var(--head); border: 1px solid var(--line); padding: .5rem; overflow-x: auto; max-height: 30rem; white-space: pre; }
footer { color: var(--dim); margin-top: 2rem; font-size: .85em; }
"#;

/// The board as a complete HTML document.
#[must_use]
pub fn board_page(board: &Board) -> String {
    let mut out = String::new();
    let title = format!("Maintenance round {}", board.round);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'\">\n",
    );
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str("<meta name=\"referrer\" content=\"no-referrer\">\n");
    let _ = writeln!(out, "<title>{}</title>", escape(&title));
    let _ = writeln!(out, "<style>{STYLE}</style>\n</head>\n<body>");
    let _ = writeln!(
        out,
        "<header>\n<h1>Maintenance round <span id=\"round\">{}</span></h1>",
        escape(&board.round)
    );
    let _ = writeln!(
        out,
        "<p class=\"meta\"><span id=\"counts\">{}</span> · branch <code id=\"branch\">{}</code></p>\n</header>",
        escape(&counts_line(&board.counts())),
        escape(&board.branch)
    );
    grid(&mut out, board);
    failures(&mut out, board);
    problems(&mut out, board);
    out.push_str(
        "<footer>Made by upkeep (<code>maintain status --output html</code>). ✓ done · ✗ failed · · not yet · – not needed · ? not recorded here</footer>\n</body>\n</html>\n",
    );
    out
}

fn grid(out: &mut String, board: &Board) {
    out.push_str("<div class=\"scroll\">\n<table id=\"board\">\n<thead>\n<tr>");
    out.push_str("<th rowspan=\"2\">Project</th><th rowspan=\"2\">Result</th>");
    out.push_str("<th class=\"group\" colspan=\"4\">Round</th>");
    out.push_str("<th class=\"group\" colspan=\"7\">Team</th>");
    out.push_str("<th rowspan=\"2\">Working on it</th><th rowspan=\"2\">Reactions</th><th rowspan=\"2\">Likely breaking</th></tr>\n<tr>");
    for name in PIPELINE {
        let _ = write!(out, "<th>{}</th>", escape(name));
    }
    for stage in upkeep_chat::Stage::ALL {
        let _ = write!(out, "<th>{}</th>", escape(stage.label()));
    }
    out.push_str("</tr>\n</thead>\n<tbody>\n");
    for row in &board.projects {
        board_row(out, row);
    }
    out.push_str("</tbody>\n</table>\n</div>\n");
}

fn cell(out: &mut String, stage: &str, cell: Cell, by: Option<&str>, inner: Option<&str>) {
    let title = match by {
        Some(by) => format!("{stage}: {} ({by})", cell.word()),
        None => format!("{stage}: {}", cell.word()),
    };
    let _ = write!(
        out,
        "<td class=\"cell {}\" data-stage=\"{}\" title=\"{}\">{}</td>",
        cell.word(),
        escape(stage),
        escape(&title),
        inner.map_or_else(|| escape(cell.mark()), str::to_owned)
    );
}

fn board_row(out: &mut String, r: &BoardRow) {
    let name = escape(&r.name);
    let status = r.status.map_or("unknown", Status::as_str);
    let _ = write!(
        out,
        "<tr id=\"project-{name}\" data-project=\"{name}\" data-status=\"{status}\"><th scope=\"row\">{name}</th>"
    );
    let result = match (r.status, &r.failure) {
        (Some(Status::Failed), Some(f)) => format!("failed at {}", f.stage),
        (Some(Status::Unchanged), _) => "up to date".to_owned(),
        (Some(Status::Skipped), _) => match &r.skip_reason {
            Some(reason) => format!("skipped: {reason}"),
            None => "skipped".to_owned(),
        },
        (Some(s), _) => s.as_str().to_owned(),
        (None, _) => "not recorded".to_owned(),
    };
    let _ = write!(
        out,
        "<td class=\"result result-{status}\">{}</td>",
        escape(&result)
    );
    let cells = pipeline_cells(r);
    for (name, c) in PIPELINE.iter().zip(cells).take(3) {
        cell(out, name, c, None, None);
    }
    let cr_inner = r.change_request.as_ref().map(|c| {
        let mut inner = link(&format!("#{}", c.number), &c.url);
        let state = c.state.to_string();
        let _ = write!(
            inner,
            " <span class=\"state state-{}\">{}</span>",
            escape(&state.replace(' ', "_")),
            escape(&state)
        );
        if !c.approvers.is_empty() {
            let _ = write!(
                inner,
                " <span class=\"by\">approved by {}</span>",
                escape(&c.approvers.join(", "))
            );
        }
        inner
    });
    let cr_cell = if r.change_request.is_some() {
        Cell::Done
    } else {
        cells[3]
    };
    cell(out, PIPELINE[3], cr_cell, None, cr_inner.as_deref());
    for (stage, c, by) in team_cells(r) {
        cell(out, stage.label(), c, by, None);
    }
    let chat = r.chat.as_ref();
    let mut who = chat.map(|c| escape(&c.who.join(", "))).unwrap_or_default();
    if chat.is_some_and(|c| c.skip) {
        who.push_str(" <span class=\"by\">(skip this round)</span>");
    }
    if chat.is_some_and(|c| c.failing) {
        who.push_str(" <span class=\"failed\">(failing)</span>");
    }
    let _ = write!(out, "<td class=\"who\">{who}</td><td class=\"reactions\">");
    for reaction in chat.map(|c| c.reactions.as_slice()).unwrap_or_default() {
        if reaction.users.is_empty() {
            continue;
        }
        let _ = write!(
            out,
            "<span class=\"reaction\" title=\"{}\">:{}: {}</span>",
            escape(&reaction.users.join(", ")),
            escape(&reaction.name),
            reaction.users.len()
        );
    }
    out.push_str("</td><td class=\"breaking\">");
    let breaking: Vec<PackageChange> = r
        .notable_changes()
        .into_iter()
        .filter(|c| c.likely_breaking)
        .collect();
    changes_list(out, &breaking);
    out.push_str("</td></tr>\n");
}

fn changes_list(out: &mut String, changes: &[PackageChange]) {
    if changes.is_empty() {
        return;
    }
    out.push_str("<ul>");
    for c in changes.iter().take(NAMED) {
        let _ = write!(
            out,
            "<li><code class=\"package\">{}</code> {} <span class=\"kind\">{}</span></li>",
            escape(&c.package),
            escape(&change_versions(c)),
            escape(&change_kind(c))
        );
    }
    if changes.len() > NAMED {
        let _ = write!(out, "<li>and {} more</li>", changes.len() - NAMED);
    }
    out.push_str("</ul>");
}

fn failures(out: &mut String, board: &Board) {
    let failed: Vec<&BoardRow> = board
        .projects
        .iter()
        .filter(|r| r.failure.is_some())
        .collect();
    if failed.is_empty() {
        return;
    }
    out.push_str("<section id=\"failures\">\n<h2>Failures</h2>\n");
    for r in failed {
        let Some(f) = &r.failure else { continue };
        let name = escape(&r.name);
        let code = f
            .exit_code
            .map_or_else(|| f.cause.clone(), |c| format!("exit code {c}"));
        let _ = writeln!(
            out,
            "<article class=\"failure\" id=\"failure-{name}\" data-project=\"{name}\">\n<h3>{name}: <code>{}</code> failed ({})</h3>",
            escape(f.stage.as_str()),
            escape(&code)
        );
        let _ = writeln!(out, "<p class=\"message\">{}</p>", escape(&f.message));
        let changes = r.notable_changes();
        if !changes.is_empty() {
            out.push_str("<div class=\"after\"><p>Upgraded before it failed:</p>");
            changes_list(out, &changes);
            out.push_str("</div>\n");
        }
        let tail = clean_log(&f.log_tail);
        if !tail.is_empty() {
            let _ = writeln!(out, "<pre class=\"log\">{}</pre>", escape(&tail));
        }
        if let Some(log) = &f.log {
            let _ = writeln!(
                out,
                "<p class=\"by\">full log: <code>{}</code></p>",
                escape(&log.display().to_string())
            );
        }
        out.push_str("</article>\n");
    }
    out.push_str("</section>\n");
}

fn problems(out: &mut String, board: &Board) {
    let problems: Vec<(&str, &String)> = board
        .projects
        .iter()
        .flat_map(|r| r.problems.iter().map(move |p| (r.name.as_str(), p)))
        .collect();
    if problems.is_empty() {
        return;
    }
    out.push_str("<section id=\"problems\">\n<h2>Could not be read</h2>\n<ul>\n");
    for (name, p) in problems {
        let _ = writeln!(
            out,
            "<li data-project=\"{}\"><strong>{}</strong>: {}</li>",
            escape(name),
            escape(name),
            escape(p)
        );
    }
    out.push_str("</ul>\n</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_attributes_are_escaped() {
        assert_eq!(
            escape("<a href='x' title=\"y\">&</a>"),
            "&lt;a href=&#39;x&#39; title=&quot;y&quot;&gt;&amp;&lt;/a&gt;"
        );
        assert_eq!(
            link("#1", "javascript:alert(1)"),
            "#1 <span class=\"unlinked\">(javascript:alert(1))</span>"
        );
        assert_eq!(
            link("#1", "https://x/?a=\"b\"&c"),
            "<a href=\"https://x/?a=&quot;b&quot;&amp;c\" rel=\"noopener noreferrer\">#1</a>"
        );
    }
}

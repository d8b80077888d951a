//! Messages as neutral documents, shared by every adapter.
//!
//! The renderers turn the model into a [`Document`] of blocks and inline spans. The
//! document is then fitted to Slack's limits *once*, here, with Slack's escaping as the
//! measure, so that the console adapter shows exactly the text (and the truncation notes)
//! that Slack would get. Adapters only translate blocks: Block Kit for Slack, plain text or
//! Markdown for the console.

use serde::{Deserialize, Serialize};

use crate::model::{
    Legend, Meaning, PackageChange, Playbook, ProjectMessage, ProjectResult, RoundSummary,
    UpgradeCounts, UpgradeKind, sort_notable_first,
};

/// Slack's limit on the text of a section block.
pub const SECTION_LIMIT: usize = 3000;
/// Slack's limit on a header block's plain text.
pub const HEADER_LIMIT: usize = 150;
/// Slack truncates a message's `text` beyond this many characters.
pub const TEXT_LIMIT: usize = 40_000;
/// Slack's limit on blocks per message.
pub const MAX_BLOCKS: usize = 50;

/// Escapes text for Slack mrkdwn: `&`, `<` and `>` are control characters there (links,
/// mentions), so a project called `a<b>` or a log line with `&&` must be escaped.
#[must_use]
pub fn escape_mrkdwn(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes text for `CommonMark` so names like `my_project` do not turn into emphasis.
#[must_use]
pub fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '*' | '_' | '[' | ']' | '<' | '>' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Inline content of a block. Text is raw; each output format escapes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Span {
    /// Plain text.
    Text(String),
    /// Bold text.
    Bold(String),
    /// Italic text.
    Italic(String),
    /// Inline code (package, branch, stage names).
    Code(String),
    /// A link with a label.
    Link {
        /// Target URL.
        url: String,
        /// Shown text.
        label: String,
    },
    /// An emoji by name, without colons.
    Emoji(String),
}

/// One block of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Block {
    /// A title line (plain text, no formatting).
    Header(String),
    /// A paragraph.
    Section(Vec<Span>),
    /// A bulleted list; each item is one line.
    List(Vec<Vec<Span>>),
    /// Small print.
    Context(Vec<Span>),
    /// Preformatted text (a log tail), already cut to fit.
    Preformatted(String),
}

/// A message: blocks, fitted to Slack's limits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    /// The blocks, in order.
    pub blocks: Vec<Block>,
}

fn text(s: impl Into<String>) -> Span {
    Span::Text(s.into())
}

/// Spans as Slack mrkdwn.
#[must_use]
pub fn spans_to_mrkdwn(spans: &[Span]) -> String {
    let mut out = String::new();
    for span in spans {
        match span {
            Span::Text(t) => out.push_str(&escape_mrkdwn(t)),
            Span::Bold(t) => {
                out.push('*');
                out.push_str(&escape_mrkdwn(t));
                out.push('*');
            }
            Span::Italic(t) => {
                out.push('_');
                out.push_str(&escape_mrkdwn(t));
                out.push('_');
            }
            Span::Code(t) => {
                out.push('`');
                out.push_str(&escape_mrkdwn(&t.replace('`', "'")));
                out.push('`');
            }
            Span::Link { url, label } => {
                out.push('<');
                out.push_str(&escape_mrkdwn(url).replace('|', "%7C"));
                out.push('|');
                out.push_str(&escape_mrkdwn(label).replace('|', "/"));
                out.push('>');
            }
            Span::Emoji(name) => {
                out.push(':');
                out.push_str(name);
                out.push(':');
            }
        }
    }
    out
}

/// Spans as readable plain text (console).
#[must_use]
pub fn spans_to_plain(spans: &[Span]) -> String {
    let mut out = String::new();
    for span in spans {
        match span {
            Span::Text(t) | Span::Bold(t) | Span::Italic(t) => out.push_str(t),
            Span::Code(t) => {
                out.push('`');
                out.push_str(t);
                out.push('`');
            }
            Span::Link { url, label } => {
                out.push_str(label);
                out.push_str(" <");
                out.push_str(url);
                out.push('>');
            }
            Span::Emoji(name) => {
                out.push(':');
                out.push_str(name);
                out.push(':');
            }
        }
    }
    out
}

/// Spans as `CommonMark`.
#[must_use]
pub fn spans_to_markdown(spans: &[Span]) -> String {
    let mut out = String::new();
    for span in spans {
        match span {
            Span::Text(t) => out.push_str(&escape_markdown(t)),
            Span::Bold(t) => {
                out.push_str("**");
                out.push_str(&escape_markdown(t));
                out.push_str("**");
            }
            Span::Italic(t) => {
                out.push('*');
                out.push_str(&escape_markdown(t));
                out.push('*');
            }
            Span::Code(t) => {
                out.push('`');
                out.push_str(&t.replace('`', "'"));
                out.push('`');
            }
            Span::Link { url, label } => {
                out.push('[');
                out.push_str(&escape_markdown(label));
                out.push_str("](");
                out.push_str(&url.replace(')', "%29").replace(' ', "%20"));
                out.push(')');
            }
            Span::Emoji(name) => {
                out.push(':');
                out.push_str(name);
                out.push(':');
            }
        }
    }
    out
}

/// A list's items as mrkdwn lines (the form a Slack section holds).
fn list_line_mrkdwn(item: &[Span]) -> String {
    format!("• {}", spans_to_mrkdwn(item))
}

/// A log block as mrkdwn: a code fence. Triple backticks inside would end the fence early.
#[must_use]
pub fn preformatted_to_mrkdwn(log: &str) -> String {
    format!("```\n{}\n```", escape_mrkdwn(&defuse_fences(log)))
}

fn defuse_fences(log: &str) -> String {
    log.replace("```", "'''")
}

impl Block {
    /// The block as Slack mrkdwn (header: its plain text).
    #[must_use]
    pub fn to_mrkdwn(&self) -> String {
        match self {
            Block::Header(t) => t.clone(),
            Block::Section(spans) | Block::Context(spans) => spans_to_mrkdwn(spans),
            Block::List(items) => items
                .iter()
                .map(|i| list_line_mrkdwn(i))
                .collect::<Vec<_>>()
                .join("\n"),
            Block::Preformatted(log) => preformatted_to_mrkdwn(log),
        }
    }

    /// The block as plain text lines.
    #[must_use]
    pub fn to_plain(&self) -> String {
        match self {
            Block::Header(t) => t.clone(),
            Block::Section(spans) | Block::Context(spans) => spans_to_plain(spans),
            Block::List(items) => items
                .iter()
                .map(|i| format!("• {}", spans_to_plain(i)))
                .collect::<Vec<_>>()
                .join("\n"),
            Block::Preformatted(log) => log
                .lines()
                .map(|l| format!("  | {l}"))
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    /// The block as `CommonMark`.
    #[must_use]
    pub fn to_markdown(&self) -> String {
        match self {
            Block::Header(t) => format!("**{}**", escape_markdown(t)),
            Block::Section(spans) => spans_to_markdown(spans),
            Block::Context(spans) => format!("<sub>{}</sub>", spans_to_markdown(spans)),
            Block::List(items) => items
                .iter()
                .map(|i| format!("- {}", spans_to_markdown(i)))
                .collect::<Vec<_>>()
                .join("\n"),
            Block::Preformatted(log) => {
                format!("```text\n{}\n```", defuse_fences(log))
            }
        }
    }
}

impl Document {
    /// The notification / fallback text Slack shows where blocks cannot be: the blocks as
    /// mrkdwn, capped at Slack's text limit.
    #[must_use]
    pub fn fallback_text(&self) -> String {
        let full = self
            .blocks
            .iter()
            .map(Block::to_mrkdwn)
            .collect::<Vec<_>>()
            .join("\n");
        cap_chars(&full, TEXT_LIMIT, "\n… (truncated)")
    }

    /// The document as plain text.
    #[must_use]
    pub fn to_plain(&self) -> String {
        self.blocks
            .iter()
            .map(Block::to_plain)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The document as `CommonMark`, one paragraph per block.
    #[must_use]
    pub fn to_markdown(&self) -> String {
        self.blocks
            .iter()
            .map(Block::to_markdown)
            .collect::<Vec<_>>()
            .join("\n\n")
    }

    /// A stable fingerprint of the content, stored with the message so that a re-run can
    /// tell "same content" without comparing Slack's re-serialised blocks.
    #[must_use]
    pub fn digest(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_default();
        // FNV-1a: stable across Rust versions, unlike `DefaultHasher`.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in json.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{hash:016x}")
    }

    /// Fits the document to Slack's limits: long lists are split over several sections,
    /// over-long sections and headers are cut, and blocks beyond the 50th are replaced by a
    /// note. Lengths are measured on the escaped mrkdwn, which is what Slack counts.
    #[must_use]
    pub fn fitted(self) -> Self {
        let mut blocks = Vec::new();
        for block in self.blocks {
            match block {
                Block::Header(t) => blocks.push(Block::Header(cap_chars(&t, HEADER_LIMIT, "…"))),
                Block::List(items) => blocks.extend(split_list(items)),
                Block::Section(spans) => blocks.push(Block::Section(fit_spans(spans))),
                Block::Context(spans) => blocks.push(Block::Context(fit_spans(spans))),
                Block::Preformatted(log) => {
                    let (cut, omitted) = fit_log(&log, SECTION_LIMIT);
                    blocks.push(Block::Preformatted(cut));
                    if let Some(omitted) = omitted {
                        blocks.push(Block::Context(vec![Span::Italic(omitted.note())]));
                    }
                }
            }
        }
        if blocks.len() > MAX_BLOCKS {
            let dropped = blocks.len() - (MAX_BLOCKS - 1);
            blocks.truncate(MAX_BLOCKS - 1);
            blocks.push(Block::Context(vec![Span::Italic(format!(
                "… {dropped} more blocks not shown (Slack allows {MAX_BLOCKS} per message)"
            ))]));
        }
        Self { blocks }
    }
}

/// Cuts `s` to at most `limit` characters, ending with `marker` when cut.
fn cap_chars(s: &str, limit: usize, marker: &str) -> String {
    if s.chars().count() <= limit {
        return s.to_owned();
    }
    let keep = limit.saturating_sub(marker.chars().count());
    let mut out: String = s.chars().take(keep).collect();
    out.push_str(marker);
    out
}

/// Cuts spans whose mrkdwn would exceed a section: rare (a huge project list), so the
/// whole paragraph is flattened to text and cut with a marker.
fn fit_spans(spans: Vec<Span>) -> Vec<Span> {
    if spans_to_mrkdwn(&spans).chars().count() <= SECTION_LIMIT {
        return spans;
    }
    let marker = "… (cut: Slack allows 3000 characters per section)";
    let mut kept = Vec::new();
    let mut used = 0;
    let budget = SECTION_LIMIT - marker.chars().count();
    for span in spans {
        let cost = spans_to_mrkdwn(std::slice::from_ref(&span)).chars().count();
        if used + cost > budget {
            // Fill the rest with as much plain text of this span as fits.
            let plain = spans_to_plain(std::slice::from_ref(&span));
            let mut piece = String::new();
            for c in plain.chars() {
                let next = escape_mrkdwn(&c.to_string()).chars().count();
                if used + next > budget {
                    break;
                }
                used += next;
                piece.push(c);
            }
            kept.push(Span::Text(piece));
            break;
        }
        used += cost;
        kept.push(span);
    }
    kept.push(Span::Italic(marker.to_owned()));
    kept
}

/// Splits a list into lists whose mrkdwn fits a section each.
fn split_list(items: Vec<Vec<Span>>) -> Vec<Block> {
    let mut out = Vec::new();
    let mut current: Vec<Vec<Span>> = Vec::new();
    let mut used = 0;
    for item in items {
        let mut item = item;
        let mut cost = list_line_mrkdwn(&item).chars().count();
        if cost > SECTION_LIMIT {
            item = fit_spans(item);
            cost = list_line_mrkdwn(&item).chars().count();
        }
        let separator = usize::from(!current.is_empty());
        if used + separator + cost > SECTION_LIMIT {
            out.push(Block::List(std::mem::take(&mut current)));
            used = 0;
        }
        used += usize::from(!current.is_empty()) + cost;
        current.push(item);
    }
    if !current.is_empty() || out.is_empty() {
        out.push(Block::List(current));
    }
    out
}

/// What [`fit_log`] left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Omitted {
    /// Whole lines left out from the start.
    pub lines: usize,
    /// Characters cut from the start of the first kept line (a single over-long line).
    pub chars: usize,
}

impl Omitted {
    fn note(self) -> String {
        let mut parts = Vec::new();
        if self.lines > 0 {
            let s = if self.lines == 1 { "" } else { "s" };
            parts.push(format!("{} earlier line{s}", self.lines));
        }
        if self.chars > 0 {
            parts.push(format!("{} characters of a long line", self.chars));
        }
        format!(
            "Log truncated to fit Slack's 3000-character limit: {} not shown. The full log is in the round's journal.",
            parts.join(" and ")
        )
    }
}

/// Keeps the *end* of a log (where the error is) such that its code-fenced mrkdwn fits
/// `limit` characters. Returns the kept text and what was left out, if anything.
#[must_use]
pub fn fit_log(log: &str, limit: usize) -> (String, Option<Omitted>) {
    let log = defuse_fences(log.trim_end());
    // Fences: "```\n" + "\n```".
    let budget = limit.saturating_sub(8);
    let cost = |s: &str| escape_mrkdwn(s).chars().count();
    if cost(&log) <= budget {
        return (log, None);
    }
    let lines: Vec<&str> = log.lines().collect();
    let mut used = 0;
    let mut first_kept = lines.len();
    for (i, line) in lines.iter().enumerate().rev() {
        let line_cost = cost(line) + usize::from(first_kept != lines.len());
        if used + line_cost > budget {
            break;
        }
        used += line_cost;
        first_kept = i;
    }
    if first_kept == lines.len() {
        // Even the last line alone is too long: keep its end.
        let last = lines.last().copied().unwrap_or_default();
        let mut kept: Vec<char> = Vec::new();
        let mut used = 0;
        for c in last.chars().rev() {
            let c_cost = cost(&c.to_string());
            if used + c_cost > budget {
                break;
            }
            used += c_cost;
            kept.push(c);
        }
        kept.reverse();
        let chars = last.chars().count() - kept.len();
        return (
            kept.into_iter().collect(),
            Some(Omitted {
                lines: lines.len() - 1,
                chars,
            }),
        );
    }
    (
        lines[first_kept..].join("\n"),
        Some(Omitted {
            lines: first_kept,
            chars: 0,
        }),
    )
}

/// How many direct major upgrades the summary lists before "and N more — see the PRs".
pub const SUMMARY_MAJORS: usize = 10;
/// How many projects' transitive changes the summary lists.
pub const SUMMARY_TRANSITIVE_PROJECTS: usize = 5;
/// How many transitive likely-breaking packages the summary names per project.
pub const SUMMARY_TRANSITIVE_NAMED: usize = 3;
/// How many failed projects the summary lists one per line (the rest by name).
pub const SUMMARY_FAILED: usize = 5;
/// How many project names a one-line list (up to date, skipped) shows.
pub const SUMMARY_NAMES: usize = 12;
/// How many upgrades a project's own message names.
pub const MESSAGE_UPGRADES: usize = 3;
/// How many upgrades a failure report lists.
pub const FAILURE_UPGRADES: usize = 10;

fn counts_text(counts: UpgradeCounts) -> String {
    let mut parts = Vec::new();
    for (n, what) in [
        (counts.major, "major"),
        (counts.minor, "minor"),
        (counts.patch, "patch"),
        (counts.other, "other"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    parts.join(", ")
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `(major, direct)`, `(minor, likely breaking, transitive)`, `(added)`.
fn change_label(c: &PackageChange) -> String {
    let mut parts = vec![c.kind.as_str()];
    if c.likely_breaking && c.kind != UpgradeKind::Major {
        parts.push("likely breaking");
    }
    match c.direct {
        Some(true) => parts.push("direct"),
        Some(false) => parts.push("transitive"),
        None => {}
    }
    format!("({})", parts.join(", "))
}

/// `django` 4.2.16 → 5.1.4, with ` (major, direct)` when `label`.
fn change_spans(c: &PackageChange, label: bool) -> Vec<Span> {
    let versions = match (c.kind, c.from.as_deref(), c.to.as_deref()) {
        (UpgradeKind::Added, _, Some(to)) => to.to_owned(),
        (UpgradeKind::Removed, Some(from), _) => from.to_owned(),
        (_, from, to) => format!("{} → {}", from.unwrap_or("—"), to.unwrap_or("—")),
    };
    let mut spans = vec![Span::Code(c.package.clone()), text(format!(" {versions}"))];
    if label {
        spans.push(text(format!(" {}", change_label(c))));
    }
    spans
}

/// Up to `limit` changes joined with commas, then "and N more" (`more` says where).
fn changes_spans(changes: &[PackageChange], limit: usize, label: bool, more: &str) -> Vec<Span> {
    let mut spans = Vec::new();
    for (i, c) in changes.iter().take(limit).enumerate() {
        if i > 0 {
            spans.push(text(", "));
        }
        spans.extend(change_spans(c, label));
    }
    if changes.len() > limit {
        spans.push(text(format!(" and {} more{more}", changes.len() - limit)));
    }
    spans
}

/// `a, b, c and 4 more`
fn names_text(names: &[&str], limit: usize) -> String {
    let shown = names
        .iter()
        .take(limit)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > limit {
        format!("{shown} and {} more", names.len() - limit)
    } else {
        shown
    }
}

/// The reactions that mark a stage: `:white_check_mark:/:thumbsup:`.
fn stage_reactions(legend: &Legend, stage: crate::model::Stage) -> Vec<Span> {
    let mut spans = Vec::new();
    for (i, r) in legend
        .reactions_for(Meaning::Stage(stage))
        .into_iter()
        .enumerate()
    {
        if i > 0 {
            spans.push(text("/"));
        }
        spans.push(Span::Emoji(r.to_owned()));
    }
    spans
}

/// The checklist on one line, each step with the reactions that mark it:
/// `Review :white_check_mark:/:thumbsup: → Merge :twisted_rightwards_arrows: → …`.
fn checklist_spans(playbook: &Playbook) -> Vec<Span> {
    let mut spans = vec![Span::Bold("Checklist".into()), text(": ")];
    for (i, item) in playbook.checklist.items.iter().enumerate() {
        if i > 0 {
            spans.push(text(" → "));
        }
        spans.push(text(item.text.clone()));
        if let Some(stage) = item.stage {
            let reactions = stage_reactions(&playbook.legend, stage);
            if !reactions.is_empty() {
                spans.push(text(" "));
                spans.extend(reactions);
            }
        }
    }
    spans
}

/// `:eyes: working on it · :x: skip`: the reactions that are not a checklist step.
fn people_reactions(legend: &Legend) -> Vec<Span> {
    let mut spans = Vec::new();
    for (meaning, what) in [
        (Meaning::Working, "working on it"),
        (Meaning::Skip, "skip this round"),
    ] {
        if let Some(r) = legend.reaction_for(meaning) {
            if !spans.is_empty() {
                spans.push(text(" · "));
            }
            spans.push(Span::Emoji(r.to_owned()));
            spans.push(text(format!(" {what}")));
        }
    }
    spans
}

/// The round summary: direct major upgrades first, grouped by package across projects;
/// transitive changes as counts per project; failed projects with what they upgraded;
/// quiet projects as one line each. Every list is capped, so a round of 40 projects reads
/// like one of four.
#[must_use]
pub fn summary_document(summary: &RoundSummary, playbook: &Playbook) -> Document {
    let c = summary.counts;
    let mut counts = Vec::new();
    for (n, what) in [
        (c.changed, "changed"),
        (c.unchanged, "up to date"),
        (c.failed, "failed"),
        (c.skipped, "skipped"),
    ] {
        if n > 0 {
            counts.push(format!("{n} {what}"));
        }
    }
    let mut blocks = vec![
        Block::Header(format!("Maintenance round {}", summary.round)),
        Block::Section(vec![
            Span::Bold(plural(c.total(), "project", "projects")),
            text(if counts.is_empty() {
                String::new()
            } else {
                format!(": {}", counts.join(" · "))
            }),
        ]),
    ];
    blocks.extend(summary_majors(summary));
    blocks.extend(summary_transitive(summary));
    blocks.extend(summary_failed(summary));
    blocks.extend(summary_quiet(summary));
    if c.changed + c.failed > 0 {
        let mut legend = vec![text("React on each project's message: ")];
        legend.extend(people_reactions(&playbook.legend));
        legend.push(text(" · its checklist names the rest"));
        blocks.push(Block::Context(legend));
    }
    Document { blocks }.fitted()
}

/// "and 3 more — see the PRs" as the last item of a capped list.
fn more_item(n: usize, what: &str) -> Vec<Span> {
    vec![Span::Italic(format!("and {n} more{what} — see the PRs"))]
}

/// The direct major and likely-breaking upgrades, grouped by package.
fn summary_majors(summary: &RoundSummary) -> Vec<Block> {
    if summary.major_upgrades.is_empty() {
        return if summary.counts.changed > 0 {
            vec![Block::Section(vec![text(
                "No direct major or likely-breaking upgrades.",
            )])]
        } else {
            Vec::new()
        };
    }
    let mut items: Vec<Vec<Span>> = summary
        .major_upgrades
        .iter()
        .take(SUMMARY_MAJORS)
        .map(|u| {
            let mut line = vec![
                Span::Code(u.package.clone()),
                text(format!(
                    " {} → {}: {}",
                    u.from,
                    u.to,
                    names_text(
                        &u.projects.iter().map(String::as_str).collect::<Vec<_>>(),
                        SUMMARY_NAMES
                    )
                )),
            ];
            if !u.major {
                line.push(text(" "));
                line.push(Span::Italic("(0.x minor, likely breaking)".into()));
            }
            line
        })
        .collect();
    if summary.major_upgrades.len() > SUMMARY_MAJORS {
        items.push(more_item(summary.major_upgrades.len() - SUMMARY_MAJORS, ""));
    }
    vec![
        Block::Section(vec![Span::Bold(
            "Direct major and likely-breaking upgrades".into(),
        )]),
        Block::List(items),
    ]
}

/// Per project, how many transitive packages changed and the most notable breaking ones.
fn summary_transitive(summary: &RoundSummary) -> Vec<Block> {
    if summary.transitive.is_empty() {
        return Vec::new();
    }
    let mut items: Vec<Vec<Span>> = summary
        .transitive
        .iter()
        .take(SUMMARY_TRANSITIVE_PROJECTS)
        .map(|t| {
            let mut line = vec![text(format!(
                "{}: {}",
                t.project,
                plural(t.total, "change", "changes")
            ))];
            if t.likely_breaking.is_empty() {
                line.push(text(", none likely breaking"));
            } else {
                line.push(text(format!(
                    ", {} likely breaking: ",
                    t.likely_breaking.len()
                )));
                line.extend(changes_spans(
                    &t.likely_breaking,
                    SUMMARY_TRANSITIVE_NAMED,
                    false,
                    "",
                ));
            }
            line
        })
        .collect();
    if summary.transitive.len() > SUMMARY_TRANSITIVE_PROJECTS {
        let n = summary.transitive.len() - SUMMARY_TRANSITIVE_PROJECTS;
        items.push(more_item(n, if n == 1 { " project" } else { " projects" }));
    }
    vec![
        Block::Section(vec![
            Span::Bold("Transitive changes".into()),
            text(" (listed in each PR)"),
        ]),
        Block::List(items),
    ]
}

/// The failed projects, each with its stage and the most notable upgrade before it.
fn summary_failed(summary: &RoundSummary) -> Vec<Block> {
    if summary.failed.is_empty() {
        return Vec::new();
    }
    let mut items: Vec<Vec<Span>> = summary
        .failed
        .iter()
        .take(SUMMARY_FAILED)
        .map(|f| {
            let mut line = vec![
                Span::Emoji("boom".into()),
                text(format!(" {}: ", f.project)),
                Span::Code(f.stage.clone()),
                text(" failed"),
            ];
            if let Some(first) = f.changes.first() {
                line.push(text(" after "));
                line.extend(change_spans(first, true));
                if f.changes.len() > 1 {
                    line.push(text(format!(
                        " and {}",
                        plural(f.changes.len() - 1, "other change", "other changes")
                    )));
                }
            }
            line
        })
        .collect();
    if summary.failed.len() > SUMMARY_FAILED {
        let rest: Vec<&str> = summary.failed[SUMMARY_FAILED..]
            .iter()
            .map(|f| f.project.as_str())
            .collect();
        items.push(vec![text(format!(
            "and {}",
            names_text(&rest, SUMMARY_NAMES)
        ))]);
    }
    vec![
        Block::Section(vec![Span::Bold("Failed".into())]),
        Block::List(items),
    ]
}

/// The projects without a message of their own: one line each for up to date and skipped.
fn summary_quiet(summary: &RoundSummary) -> Vec<Block> {
    let mut blocks = Vec::new();
    if !summary.unchanged.is_empty() {
        let names: Vec<&str> = summary.unchanged.iter().map(String::as_str).collect();
        blocks.push(Block::Section(vec![
            Span::Bold("Up to date".into()),
            text(format!(": {}", names_text(&names, SUMMARY_NAMES))),
        ]));
    }
    if !summary.skipped.is_empty() {
        let names: Vec<String> = summary
            .skipped
            .iter()
            .map(|(p, reason)| format!("{p} ({reason})"))
            .collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        blocks.push(Block::Section(vec![
            Span::Bold("Skipped".into()),
            text(format!(": {}", names_text(&names, SUMMARY_NAMES))),
        ]));
    }
    blocks
}

/// A project's message: the result, the change request, the notable upgrades, and for a
/// changed project the checklist — everything in one message, so that a project costs one
/// post. Reactions on it mark progress.
#[must_use]
pub fn project_document(message: &ProjectMessage, playbook: &Playbook) -> Document {
    let mut changes = message.changes.clone();
    sort_notable_first(&mut changes);
    let mut line = Vec::new();
    if matches!(message.result, ProjectResult::Failed { .. }) {
        let boom = playbook
            .legend
            .reaction_for(Meaning::Failing)
            .unwrap_or("boom");
        line.push(Span::Emoji(boom.to_owned()));
        line.push(text(" "));
    }
    line.push(Span::Bold(message.project.clone()));
    line.push(text(" — "));
    match &message.result {
        ProjectResult::Changed => line.push(text("upgraded")),
        ProjectResult::Unchanged => line.push(text("up to date: nothing to upgrade")),
        ProjectResult::Failed {
            stage, exit_code, ..
        } => {
            line.push(Span::Code(stage.clone()));
            line.push(text(" failed"));
            match exit_code {
                Some(code) => line.push(text(format!(" (exit code {code})"))),
                None => line.push(text(" (no exit code: timed out or killed)")),
            }
            if !changes.is_empty() {
                line.push(text(" after "));
                line.extend(changes_spans(&changes, MESSAGE_UPGRADES, true, ""));
            }
        }
        ProjectResult::Skipped { reason } => line.push(text(format!("skipped: {reason}"))),
    }
    if let Some(cr) = &message.change_request {
        let label = match cr.number {
            Some(n) => format!("{} #{n}", cr.kind),
            None => cr.kind.clone(),
        };
        line.push(text(" · "));
        line.push(Span::Link {
            url: cr.url.clone(),
            label,
        });
    }
    let failed = matches!(message.result, ProjectResult::Failed { .. });
    if let Some(branch) = message.branch.as_ref().filter(|_| !failed) {
        line.push(text(" on "));
        line.push(Span::Code(branch.clone()));
    }
    let counts = counts_text(message.upgrades);
    if !counts.is_empty() && matches!(message.result, ProjectResult::Changed) {
        line.push(text(format!(" · {counts}")));
    }
    let mut blocks = vec![Block::Section(line)];
    if matches!(message.result, ProjectResult::Changed) {
        let breaking: Vec<PackageChange> =
            changes.into_iter().filter(|c| c.likely_breaking).collect();
        if !breaking.is_empty() {
            let mut spans = vec![Span::Bold("Likely breaking".into()), text(": ")];
            spans.extend(changes_spans(
                &breaking,
                MESSAGE_UPGRADES,
                true,
                " in the PR",
            ));
            blocks.push(Block::Section(spans));
        }
        blocks.push(Block::Context(checklist_spans(playbook)));
    }
    let mut footer = vec![text(format!("Round {}", message.round))];
    match message.result {
        ProjectResult::Changed => {
            let people = people_reactions(&playbook.legend);
            if !people.is_empty() {
                footer.push(text(" · react here: "));
                footer.extend(people);
            }
        }
        ProjectResult::Failed { .. } => {
            match &message.branch {
                Some(branch) => {
                    footer.push(text(" · pushed to "));
                    footer.push(Span::Code(branch.clone()));
                }
                None => footer.push(text(" · nothing was pushed")),
            }
            footer.push(text(" · the log is in the thread"));
        }
        ProjectResult::Unchanged | ProjectResult::Skipped { .. } => {}
    }
    blocks.push(Block::Context(footer));
    Document { blocks }.fitted()
}

/// The failure report of a failed project, the one reply in its thread: the failing stage
/// and exit code, the upgrades applied before it failed (most notable first), the log tail.
#[must_use]
pub fn failure_document(message: &ProjectMessage) -> Option<Document> {
    let ProjectResult::Failed {
        stage,
        exit_code,
        log_tail,
    } = &message.result
    else {
        return None;
    };
    let mut line = vec![
        Span::Emoji("boom".into()),
        text(" "),
        Span::Bold(message.project.clone()),
        text(" failed at "),
        Span::Code(stage.clone()),
    ];
    match exit_code {
        Some(code) => line.push(text(format!(" with exit code {code}"))),
        None => line.push(text(" without an exit code (timed out or killed)")),
    }
    let mut blocks = vec![Block::Section(line)];
    if !message.changes.is_empty() {
        let mut changes = message.changes.clone();
        sort_notable_first(&mut changes);
        blocks.push(Block::Section(vec![text(format!(
            "Upgraded before it failed ({}):",
            changes.len()
        ))]));
        let mut items: Vec<Vec<Span>> = changes
            .iter()
            .take(FAILURE_UPGRADES)
            .map(|c| change_spans(c, true))
            .collect();
        if changes.len() > FAILURE_UPGRADES {
            items.push(vec![Span::Italic(format!(
                "and {} more",
                changes.len() - FAILURE_UPGRADES
            ))]);
        }
        blocks.push(Block::List(items));
    }
    if log_tail.trim().is_empty() {
        blocks.push(Block::Context(vec![text("(no output)")]));
    } else {
        blocks.push(Block::Preformatted(log_tail.clone()));
    }
    Some(Document { blocks }.fitted())
}

/// Free text (a reply or an update) as a document.
#[must_use]
pub fn text_document(body: &str) -> Document {
    Document {
        blocks: vec![Block::Section(vec![text(body)])],
    }
    .fitted()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mrkdwn_escapes_control_characters_everywhere() {
        let spans = vec![
            Span::Bold("a<b>&c".into()),
            Span::Code("feature/x&y".into()),
            Span::Link {
                url: "https://x/?a=1&b=2".into(),
                label: "PR <1>".into(),
            },
        ];
        assert_eq!(
            spans_to_mrkdwn(&spans),
            "*a&lt;b&gt;&amp;c*`feature/x&amp;y`<https://x/?a=1&amp;b=2|PR &lt;1&gt;>"
        );
    }

    use std::fmt::Write as _;

    #[test]
    fn log_keeps_the_tail_within_the_section_limit() {
        let log: String = (0..1000).fold(String::new(), |mut log, i| {
            let _ = writeln!(log, "line {i} <&>");
            log
        });
        let (kept, omitted) = fit_log(&log, SECTION_LIMIT);
        let omitted = omitted.expect("must be cut");
        assert!(kept.ends_with("line 999 <&>"));
        assert!(preformatted_to_mrkdwn(&kept).chars().count() <= SECTION_LIMIT);
        assert_eq!(omitted.lines + kept.lines().count(), 1000);
        assert!(omitted.note().contains("earlier lines"));
    }

    #[test]
    fn one_huge_line_keeps_its_end() {
        let log = format!("{}END", "&".repeat(10_000));
        let (kept, omitted) = fit_log(&log, SECTION_LIMIT);
        assert!(kept.ends_with("END"));
        assert!(preformatted_to_mrkdwn(&kept).chars().count() <= SECTION_LIMIT);
        assert_eq!(omitted.map(|o| o.lines), Some(0));
    }

    #[test]
    fn long_lists_split_into_sections_that_fit() {
        let items: Vec<Vec<Span>> = (0..400)
            .map(|i| {
                vec![
                    Span::Code(format!("package-{i}")),
                    text(" 1.0 → 2.0: a, b, c"),
                ]
            })
            .collect();
        let doc = Document {
            blocks: vec![Block::List(items)],
        }
        .fitted();
        assert!(doc.blocks.len() > 1);
        for block in &doc.blocks {
            assert!(block.to_mrkdwn().chars().count() <= SECTION_LIMIT);
        }
        let total: usize = doc
            .blocks
            .iter()
            .map(|b| match b {
                Block::List(items) => items.len(),
                _ => 0,
            })
            .sum();
        assert_eq!(total, 400);
    }
}

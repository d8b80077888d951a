//! Messages as neutral documents, shared by every adapter.
//!
//! The renderers turn the model into a [`Document`] of blocks and inline spans. The
//! document is then fitted to Slack's limits *once*, here, with Slack's escaping as the
//! measure, so that the console adapter shows exactly the text (and the truncation notes)
//! that Slack would get. Adapters only translate blocks: Block Kit for Slack, plain text or
//! Markdown for the console.

use serde::{Deserialize, Serialize};

use crate::model::{
    Legend, Meaning, Playbook, ProjectMessage, ProjectResult, RoundSummary, UpgradeCounts,
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

fn legend_line(legend: &Legend) -> Vec<Span> {
    let mut spans = vec![text("Reactions: ")];
    for (i, entry) in legend.entries.iter().enumerate() {
        if i > 0 {
            spans.push(text(" · "));
        }
        spans.push(Span::Emoji(entry.reaction.clone()));
        spans.push(text(format!(" {}", entry.description)));
    }
    spans
}

/// The round summary.
#[must_use]
pub fn summary_document(summary: &RoundSummary, playbook: &Playbook) -> Document {
    let c = summary.counts;
    let s = if c.total() == 1 { "" } else { "s" };
    let mut blocks = vec![
        Block::Header(format!("Maintenance round {}", summary.round)),
        Block::Section(vec![
            Span::Bold(format!("{} project{s}", c.total())),
            text(format!(
                ": {} changed · {} unchanged · {} failed · {} skipped",
                c.changed, c.unchanged, c.failed, c.skipped
            )),
        ]),
    ];
    if summary.major_upgrades.is_empty() {
        blocks.push(Block::Section(vec![text("No major upgrades this round.")]));
    } else {
        blocks.push(Block::Section(vec![Span::Bold(
            "Major and likely-breaking upgrades".into(),
        )]));
        let items = summary
            .major_upgrades
            .iter()
            .map(|u| {
                let mut line = vec![
                    Span::Code(u.package.clone()),
                    text(format!(" {} → {}: {}", u.from, u.to, u.projects.join(", "))),
                ];
                if !u.major {
                    line.push(text(" "));
                    line.push(Span::Italic("(0.x minor, likely breaking)".into()));
                }
                line
            })
            .collect();
        blocks.push(Block::List(items));
    }
    blocks.push(Block::Context(legend_line(&playbook.legend)));
    Document { blocks }.fitted()
}

/// A project's message, the parent of its thread.
#[must_use]
pub fn project_document(message: &ProjectMessage) -> Document {
    let mut line = Vec::new();
    if matches!(message.result, ProjectResult::Failed { .. }) {
        line.push(Span::Emoji("boom".into()));
        line.push(text(" "));
    }
    line.push(Span::Bold(message.project.clone()));
    line.push(text(" — "));
    match &message.result {
        ProjectResult::Changed => line.push(text("upgraded")),
        ProjectResult::Unchanged => line.push(text("no upgrades")),
        ProjectResult::Failed {
            stage, exit_code, ..
        } => {
            line.push(text("failed at "));
            line.push(Span::Code(stage.clone()));
            match exit_code {
                Some(code) => line.push(text(format!(" (exit code {code})"))),
                None => line.push(text(" (no exit code: timed out or killed)")),
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
    if let Some(branch) = &message.branch {
        line.push(text(" on "));
        line.push(Span::Code(branch.clone()));
    }
    let counts = counts_text(message.upgrades);
    if !counts.is_empty() {
        line.push(text(format!(" · {counts}")));
    }
    let blocks = vec![
        Block::Section(line),
        Block::Context(vec![text(format!(
            "Round {} · checklist in the thread",
            message.round
        ))]),
    ];
    Document { blocks }.fitted()
}

/// The checklist, the first reply of every project thread.
#[must_use]
pub fn checklist_document(playbook: &Playbook) -> Document {
    let items = playbook
        .checklist
        .items
        .iter()
        .map(|item| {
            let mut line = vec![text(item.text.clone())];
            if let Some(stage) = item.stage {
                let reactions = playbook.legend.reactions_for(Meaning::Stage(stage));
                for (i, r) in reactions.iter().enumerate() {
                    line.push(text(if i == 0 { " — " } else { " or " }));
                    line.push(Span::Emoji((*r).to_owned()));
                }
            }
            line
        })
        .collect();
    Document {
        blocks: vec![
            Block::Section(vec![
                Span::Bold("Checklist".into()),
                text(" — mark progress with reactions on the project message above"),
            ]),
            Block::List(items),
        ],
    }
    .fitted()
}

/// The failure report of a failed project, posted in its thread.
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

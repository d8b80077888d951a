//! The end-of-run report and the round's board for the places people look besides a
//! terminal: Markdown for CI job summaries (`$GITHUB_STEP_SUMMARY`, GitLab's job
//! summaries, a comment) and a self-contained HTML page to publish as a CI artifact.
//!
//! Everything shown here comes from outside: log tails are whatever `make` printed,
//! package names whatever a lockfile says, user names and reactions whatever the chat
//! returns, URLs whatever the forge answers. So every string is escaped for the format
//! it lands in, log tails lose their terminal escape sequences, and only `http`,
//! `https` and `file` URLs become links. The HTML page loads nothing and runs nothing
//! (its Content-Security-Policy forbids both), so even a mistake here could not make it
//! fetch or execute anything.

pub mod html;
pub mod markdown;

use upkeep_chat::{PackageChange, Stage as TeamStage};

use crate::board::BoardRow;
use crate::journal::{FailedStage, Stage, Status};

/// A cell of the projects × stages grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    /// The stage passed (or the team marked it).
    Done,
    /// The stage failed.
    Failed,
    /// Not reached (yet).
    Pending,
    /// The stage does not apply (an up-to-date project needs no change request).
    NotNeeded,
    /// The project was skipped this round.
    Skipped,
    /// Running, or stopped there by an interruption.
    Stopped,
    /// Nothing records it (no journal here).
    Unknown,
}

impl Cell {
    /// The mark shown in the grid.
    #[must_use]
    pub const fn mark(self) -> &'static str {
        match self {
            Self::Done => "✓",
            Self::Failed => "✗",
            Self::Pending => "·",
            Self::NotNeeded => "–",
            Self::Skipped => "skipped",
            Self::Stopped => "…",
            Self::Unknown => "?",
        }
    }

    /// A word for the cell (HTML class, title, tests).
    #[must_use]
    pub const fn word(self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Pending => "pending",
            Self::NotNeeded => "not-needed",
            Self::Skipped => "skipped",
            Self::Stopped => "stopped",
            Self::Unknown => "unknown",
        }
    }
}

/// The pipeline's columns of the grid.
pub const PIPELINE: [&str; 4] = ["upgrade", "build", "test", "change request"];

/// The pipeline cells of a project: upgrade, build, test, change request (push and the
/// forge), from the journal's result, furthest stage and failure.
#[must_use]
pub fn pipeline_cells(row: &BoardRow) -> [Cell; 4] {
    let column = |stage: Stage| match stage {
        Stage::Queued | Stage::Clone | Stage::Upgrade => 0,
        Stage::Build => 1,
        Stage::Test => 2,
        Stage::Diff | Stage::Push | Stage::Forge => 3,
        Stage::Chat | Stage::Done => 4,
    };
    let upto = |n: usize, at: Cell| {
        let mut cells = [Cell::Pending; 4];
        for (i, c) in cells.iter_mut().enumerate() {
            if i < n {
                *c = Cell::Done;
            } else if i == n {
                *c = at;
            }
        }
        cells
    };
    match (row.status, &row.failure) {
        (Some(Status::Skipped), _) => [Cell::Skipped; 4],
        (Some(Status::Changed), _) => [Cell::Done; 4],
        (Some(Status::Unchanged), _) => [Cell::Done, Cell::Done, Cell::Done, Cell::NotNeeded],
        (Some(Status::Failed), Some(f)) => match f.stage {
            // A repo's own `.upkeep.toml` that does not load stops it before the upgrade.
            FailedStage::Config | FailedStage::Upgrade => upto(0, Cell::Failed),
            FailedStage::Build => upto(1, Cell::Failed),
            FailedStage::Test => upto(2, Cell::Failed),
            FailedStage::Push | FailedStage::Forge => upto(3, Cell::Failed),
            // The change request is there; posting its message failed.
            FailedStage::Chat if row.change_request.is_some() => [Cell::Done; 4],
            FailedStage::Chat => [Cell::Done, Cell::Done, Cell::Done, Cell::NotNeeded],
        },
        (Some(Status::Failed), None) => match row.stage {
            Some(stage) => upto(column(stage), Cell::Failed),
            None => [Cell::Unknown; 4],
        },
        (None, _) => match row.stage {
            Some(stage) if column(stage) < 4 => upto(column(stage), Cell::Stopped),
            _ => [Cell::Unknown; 4],
        },
    }
}

/// The team's cells of a project, one per checklist stage: done when the reactions on
/// its message reach it or the forge knows (approved, merged); not applicable without a
/// change request.
#[must_use]
pub fn team_cells(row: &BoardRow) -> [(TeamStage, Cell, Option<&'static str>); 7] {
    TeamStage::ALL.map(|stage| match row.team_stage(stage) {
        Some(by) => (stage, Cell::Done, Some(by)),
        None if row.change_request.is_none() && row.status != Some(Status::Changed) => {
            (stage, Cell::NotNeeded, None)
        }
        None => (stage, Cell::Pending, None),
    })
}

/// `django 3.2.4 → 5.2.19`, with `—` for a missing side.
#[must_use]
pub fn change_versions(c: &PackageChange) -> String {
    format!(
        "{} → {}",
        c.from.as_deref().unwrap_or("—"),
        c.to.as_deref().unwrap_or("—")
    )
}

/// `major, direct`: how a change is classified.
#[must_use]
pub fn change_kind(c: &PackageChange) -> String {
    match c.direct {
        Some(true) => format!("{}, direct", c.kind),
        Some(false) => format!("{}, transitive", c.kind),
        None => c.kind.to_string(),
    }
}

/// A log tail as text: terminal escape sequences (colours, cursor moves) removed, a
/// line redrawn with `\r` kept as it last looked, other control characters shown as
/// `�`, trailing blank lines dropped.
#[must_use]
pub fn clean_log(log: &str) -> String {
    let mut out = String::with_capacity(log.len());
    let mut chars = log.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => skip_escape(&mut chars),
            '\n' | '\t' => out.push(c),
            '\r' if chars.peek() == Some(&'\n') => {}
            // A progress line redrawn in place: keep what it said last.
            '\r' => out.truncate(out.rfind('\n').map_or(0, |i| i + 1)),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    let trimmed = out.trim_end();
    let start = trimmed.len() - trimmed.trim_start_matches('\n').len();
    trimmed[start..].to_owned()
}

/// Skips an escape sequence after its ESC: CSI (`ESC [ … final`), OSC (`ESC ] … BEL`
/// or `ESC \`), or a two-character sequence.
fn skip_escape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    match chars.next() {
        Some('[') => {
            for c in chars.by_ref() {
                if ('\u{40}'..='\u{7e}').contains(&c) {
                    break;
                }
            }
        }
        Some(']') => {
            while let Some(c) = chars.next() {
                if c == '\u{7}' || (c == '\u{1b}' && chars.next_if_eq(&'\\').is_some()) {
                    break;
                }
            }
        }
        _ => {}
    }
}

/// The URL when it may be a link: `http`, `https` or `file` (the local forge's change
/// requests), without whitespace or control characters. Anything else (`javascript:`,
/// `data:`) is shown as text only.
#[must_use]
pub fn link_target(url: &str) -> Option<&str> {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let scheme_ok = lower.starts_with("https://")
        || lower.starts_with("http://")
        || lower.starts_with("file://");
    let clean = !url.chars().any(|c| c.is_whitespace() || c.is_control());
    (scheme_ok && clean).then_some(url)
}

/// `2 changed, 1 unchanged, 1 failed`: counts in a fixed order.
pub(crate) fn counts_line(counts: &std::collections::BTreeMap<&'static str, usize>) -> String {
    ["changed", "unchanged", "failed", "skipped", "unknown"]
        .iter()
        .filter_map(|k| counts.get(k).map(|n| format!("{n} {k}")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The label of a team stage, for headers.
#[must_use]
pub fn team_label(stage: TeamStage) -> &'static str {
    stage.label()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_tails_lose_terminal_escapes_and_control_characters() {
        let log = "\u{1b}[31mFAILED\u{1b}[0m test_x\r\nprogress 10%\rprogress 100%\n\u{1b}]0;title\u{7}bell\u{7} done\n\n";
        assert_eq!(
            clean_log(log),
            "FAILED test_x\nprogress 100%\nbell\u{fffd} done"
        );
    }

    #[test]
    fn only_web_and_file_urls_become_links() {
        assert!(link_target("https://github.com/team/api/pull/1").is_some());
        assert!(link_target("file:///tmp/x.upkeep/change-requests/1.json").is_some());
        assert!(link_target("javascript:alert(1)").is_none());
        assert!(link_target("JaVaScRiPt:alert(1)").is_none());
        assert!(link_target("data:text/html,<b>").is_none());
        assert!(link_target("https://x/\u{a0}a b").is_none());
    }
}

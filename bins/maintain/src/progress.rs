//! Progress on stderr: one indicatif line per running project on a terminal, plain log
//! lines otherwise (CI logs, pipes).
//!
//! On a terminal the console chat's messages and the bars share the screen: the bars are
//! redrawn in place by moving the cursor up over them, so a message printed under them
//! would be overwritten by the next redraw, or split by it. [`Display::console`] routes
//! the chat's output through the bars: whole lines, printed while the bars are lifted
//! off the screen, then the bars are drawn again under them.

use std::collections::HashMap;
use std::io::{IsTerminal as _, Write};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use upkeep_maintain::{Event, Progress, Stage, Status};

/// Draws the round's progress.
pub(crate) struct Display {
    mode: Mode,
}

enum Mode {
    Bars {
        multi: MultiProgress,
        bars: Mutex<HashMap<String, ProgressBar>>,
        color: bool,
    },
    Lines,
    Quiet,
}

impl Display {
    /// Bars when stderr is a terminal, lines otherwise; nothing when `quiet`.
    pub(crate) fn new(quiet: bool) -> Self {
        if quiet {
            Self { mode: Mode::Quiet }
        } else if std::io::stderr().is_terminal() {
            Self::bars(ProgressDrawTarget::stderr(), upkeep_cli::use_color())
        } else {
            Self { mode: Mode::Lines }
        }
    }

    /// Bars drawn to `target`.
    pub(crate) fn bars(target: ProgressDrawTarget, color: bool) -> Self {
        Self {
            mode: Mode::Bars {
                multi: MultiProgress::with_draw_target(target),
                bars: Mutex::new(HashMap::new()),
                color,
            },
        }
    }

    /// Where the console chat writes: `out` itself, or, while bars are drawn, `out`
    /// through them, a whole line at a time with the bars lifted off the screen.
    pub(crate) fn console(&self, out: Box<dyn Write + Send>) -> Box<dyn Write + Send> {
        match &self.mode {
            Mode::Bars { multi, .. } => Box::new(AroundBars {
                multi: multi.clone(),
                out,
                pending: Vec::new(),
            }),
            Mode::Lines | Mode::Quiet => out,
        }
    }

    /// Removes every bar (before the report is printed).
    pub(crate) fn finish(&self) {
        if let Mode::Bars { multi, bars, .. } = &self.mode {
            for (_, bar) in lock(bars).drain() {
                bar.finish_and_clear();
            }
            let _ = multi.clear();
        }
    }
}

/// A writer that prints complete lines while the bars are suspended.
struct AroundBars {
    multi: MultiProgress,
    out: Box<dyn Write + Send>,
    pending: Vec<u8>,
}

impl AroundBars {
    fn emit(&mut self, upto: usize) -> std::io::Result<()> {
        let chunk: Vec<u8> = self.pending.drain(..upto).collect();
        let out = &mut self.out;
        self.multi.suspend(|| {
            out.write_all(&chunk)?;
            out.flush()
        })
    }
}

impl Write for AroundBars {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        if let Some(last) = self.pending.iter().rposition(|b| *b == b'\n') {
            self.emit(last + 1)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.pending.is_empty() {
            self.emit(self.pending.len())?;
        }
        self.out.flush()
    }
}

impl Drop for AroundBars {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn stage_text(stage: Stage) -> &'static str {
    match stage {
        Stage::Queued => "queued",
        Stage::Clone => "refreshing the clone",
        Stage::Upgrade => "make upgrade",
        Stage::Build => "make build",
        Stage::Test => "make test",
        Stage::Diff => "diffing lockfiles",
        Stage::Push => "pushing the branch",
        Stage::Forge => "opening the change request",
        Stage::Chat => "posting its message",
        Stage::Done => "done",
    }
}

fn result_text(record: &upkeep_maintain::ProjectRecord) -> String {
    match (record.status, &record.failure) {
        (Some(Status::Changed), _) => match &record.change_request {
            Some(cr) => format!("changed → {}", cr.url),
            None => "changed".to_owned(),
        },
        (Some(Status::Unchanged), _) => "up to date".to_owned(),
        (Some(Status::Skipped), _) => "skipped".to_owned(),
        (_, Some(f)) => format!("failed at {}: {}", f.stage, f.message),
        (None, None) => "interrupted".to_owned(),
        (Some(Status::Failed), None) => "failed".to_owned(),
    }
}

impl Progress for Display {
    #[allow(clippy::print_stderr)] // The binary's progress lines go to stderr.
    fn event(&self, event: Event<'_>) {
        match (&self.mode, event) {
            (
                Mode::Lines,
                Event::RoundStarted {
                    round,
                    running,
                    already_done,
                },
            ) => {
                eprintln!(
                    "round {round}: running {} project(s){}",
                    running.len(),
                    if already_done.is_empty() {
                        String::new()
                    } else {
                        format!(", {} already done earlier", already_done.len())
                    }
                );
            }
            (Mode::Lines, Event::Stage { project, stage }) => {
                eprintln!("{project}: {}", stage_text(stage));
            }
            (Mode::Lines, Event::ProjectFinished { project, record }) => {
                eprintln!("{project}: {}", result_text(record));
            }
            (Mode::Lines, Event::Posting { threads }) => {
                eprintln!("posting the round summary and {threads} project message(s)");
            }
            (Mode::Bars { multi, bars, color }, Event::Stage { project, stage }) => {
                let mut bars = lock(bars);
                let bar = bars.entry(project.to_owned()).or_insert_with(|| {
                    let template = if *color {
                        "{spinner:.cyan} {prefix:.bold} {msg} {elapsed:.dim}"
                    } else {
                        "{spinner} {prefix} {msg} ({elapsed})"
                    };
                    let bar = multi.add(ProgressBar::new_spinner());
                    bar.set_style(
                        ProgressStyle::with_template(template)
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    );
                    bar.set_prefix(project.to_owned());
                    bar.enable_steady_tick(Duration::from_millis(120));
                    bar
                });
                bar.set_message(stage_text(stage));
            }
            (Mode::Bars { multi, bars, .. }, Event::ProjectFinished { project, record }) => {
                if let Some(bar) = lock(bars).remove(project) {
                    bar.finish_and_clear();
                    multi.remove(&bar);
                }
                let mark = match record.status {
                    Some(Status::Failed) | None => "✗",
                    Some(Status::Skipped) => "-",
                    _ => "✓",
                };
                let _ = multi.println(format!("{mark} {project}: {}", result_text(record)));
            }
            (Mode::Bars { multi, .. }, Event::Posting { threads }) => {
                let _ = multi.println(format!(
                    "posting the round summary and {threads} project message(s)…"
                ));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use indicatif::TermLike;

    use super::*;

    /// A terminal screen: rows of characters, a cursor, and a pending wrap after the last
    /// column, as a VT100 keeps them.
    #[derive(Debug, Default)]
    struct Screen {
        rows: Vec<Vec<char>>,
        row: usize,
        col: usize,
    }

    const WIDTH: usize = 60;

    impl Screen {
        fn put(&mut self, text: &str) {
            for c in text.chars() {
                match c {
                    '\r' => self.col = 0,
                    '\n' => {
                        self.row += 1;
                        self.col = 0;
                    }
                    c => {
                        if self.col == WIDTH {
                            self.row += 1;
                            self.col = 0;
                        }
                        while self.rows.len() <= self.row {
                            self.rows.push(Vec::new());
                        }
                        let line = &mut self.rows[self.row];
                        while line.len() <= self.col {
                            line.push(' ');
                        }
                        line[self.col] = c;
                        self.col += 1;
                    }
                }
            }
        }

        fn lines(&self) -> Vec<String> {
            self.rows
                .iter()
                .map(|r| r.iter().collect::<String>().trim_end().to_owned())
                .collect()
        }
    }

    #[derive(Debug, Clone, Default)]
    struct Term(Arc<Mutex<Screen>>);

    impl TermLike for Term {
        fn width(&self) -> u16 {
            u16::try_from(WIDTH).unwrap()
        }
        fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
            let mut s = self.0.lock().unwrap();
            s.row = s.row.saturating_sub(n);
            Ok(())
        }
        fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
            self.0.lock().unwrap().row += n;
            Ok(())
        }
        fn move_cursor_right(&self, n: usize) -> std::io::Result<()> {
            let mut s = self.0.lock().unwrap();
            s.col = (s.col + n).min(WIDTH);
            Ok(())
        }
        fn move_cursor_left(&self, n: usize) -> std::io::Result<()> {
            let mut s = self.0.lock().unwrap();
            s.col = s.col.saturating_sub(n);
            Ok(())
        }
        fn write_line(&self, line: &str) -> std::io::Result<()> {
            self.0.lock().unwrap().put(&format!("{line}\n"));
            Ok(())
        }
        fn write_str(&self, text: &str) -> std::io::Result<()> {
            self.0.lock().unwrap().put(text);
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            let mut s = self.0.lock().unwrap();
            let row = s.row;
            if let Some(r) = s.rows.get_mut(row) {
                r.clear();
            }
            s.col = 0;
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The chat's stdout on the same screen.
    struct Out(Term);

    impl Write for Out {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.0.lock().unwrap().put(&String::from_utf8_lossy(buf));
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    const MESSAGE: [&str; 3] = [
        "== #maintenance · message 1 (summary, round 2026-11-22)",
        "   Maintenance round 2026-11-22",
        "   2 projects: 1 changed, 1 failed",
    ];

    /// The chat prints a message (in two writes, the second without its newline yet)
    /// while two projects' bars are on the screen and redrawn after it.
    fn message_under_bars(
        console: impl FnOnce(&Display, Term) -> Box<dyn Write + Send>,
    ) -> Vec<String> {
        let term = Term::default();
        let display = Display::bars(ProgressDrawTarget::term_like(Box::new(term.clone())), false);
        display.event(Event::Stage {
            project: "api",
            stage: Stage::Test,
        });
        display.event(Event::Stage {
            project: "web",
            stage: Stage::Build,
        });
        let mut chat = console(&display, term.clone());
        write!(chat, "{}\n{}\n{}", MESSAGE[0], MESSAGE[1], MESSAGE[2]).unwrap();
        display.event(Event::Stage {
            project: "web",
            stage: Stage::Test,
        });
        writeln!(chat).unwrap();
        display.event(Event::Stage {
            project: "api",
            stage: Stage::Push,
        });
        drop(chat);
        display.finish();
        term.0.lock().unwrap().lines()
    }

    #[test]
    fn console_lines_are_printed_between_redraws_not_under_the_bars() {
        let lines = message_under_bars(|d, term| d.console(Box::new(Out(term))));
        let found: Vec<&str> = lines
            .iter()
            .map(String::as_str)
            .filter(|l| MESSAGE.contains(l))
            .collect();
        assert_eq!(found, MESSAGE, "{lines:#?}");
        // Nothing of a bar is left in or between the message's lines.
        let first = lines.iter().position(|l| l == MESSAGE[0]).unwrap();
        assert_eq!(&lines[first..first + 3], MESSAGE, "{lines:#?}");
    }

    #[test]
    fn written_straight_to_the_screen_the_bars_overwrite_the_message() {
        // What this module prevents: the same writes, not routed through the bars.
        let lines = message_under_bars(|_, term| Box::new(Out(term)));
        let intact = MESSAGE
            .iter()
            .filter(|m| lines.iter().any(|l| l == *m))
            .count();
        assert!(intact < MESSAGE.len(), "{lines:#?}");
    }
}

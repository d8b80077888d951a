//! Progress on stderr: one indicatif line per running project on a terminal, plain log
//! lines otherwise (CI logs, pipes).

use std::collections::HashMap;
use std::io::IsTerminal as _;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use upkeep_maintain::{Event, Progress, Stage, Status};

/// Draws the round's progress.
pub struct Display {
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
    pub fn new(quiet: bool) -> Self {
        let mode = if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Bars {
                multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
                bars: Mutex::new(HashMap::new()),
                color: upkeep_cli::use_color(),
            }
        } else {
            Mode::Lines
        };
        Self { mode }
    }

    /// Removes every bar (before the report is printed).
    pub fn finish(&self) {
        if let Mode::Bars { multi, bars, .. } = &self.mode {
            for (_, bar) in lock(bars).drain() {
                bar.finish_and_clear();
            }
            let _ = multi.clear();
        }
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
        Stage::Chat => "posting the thread",
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
                eprintln!("posting the round summary and {threads} thread(s)");
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
                    "posting the round summary and {threads} thread(s)…"
                ));
            }
            _ => {}
        }
    }
}

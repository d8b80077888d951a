//! `maintain doctor`.

use std::path::Path;

use upkeep_cli::{Exit, GlobalArgs, Output, Report};
use upkeep_maintain::doctor::{self, DoctorProject, DoctorRequest, Verdict};

use crate::wiring::{self, Tokens};

/// Options of `maintain doctor`.
#[derive(Debug, clap::Args)]
pub(crate) struct DoctorArgs {
    /// Only these projects (repeatable, or comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "PROJECT")]
    pub only: Vec<String>,
}

/// Runs `maintain doctor`.
#[allow(clippy::print_stdout)] // The checks are the command's data.
pub(crate) async fn run(
    config_path: &Path,
    tokens: &Tokens,
    global: &GlobalArgs,
    args: DoctorArgs,
) -> Result<Exit, Report> {
    let config = wiring::load_config(config_path)?;
    let maintain = wiring::maintain_section(&config)?;
    let today = chrono::Local::now().date_naive();
    // Today's round's set (as recorded, else found now without recording it).
    let round = today.format("%Y-%m-%d").to_string();
    let state = crate::state_cmd::state_setup(&config, tokens)?;
    let found = wiring::project_set(&config, &maintain, tokens, state.store, &round, false).await?;
    let (maintain, set, readers) = (found.maintain, found.set, found.readers);
    let (selected, _) =
        upkeep_maintain::select(&maintain, &args.only, &[]).map_err(Report::user)?;
    let resolved: Vec<_> = selected.iter().map(|p| maintain.resolve(p)).collect();
    let mut projects = Vec::new();
    for project in &resolved {
        // One project at a time, so that a forge that cannot be reached (or a missing
        // token) fails that project's check and the others are still checked.
        match wiring::project_setups(&config, std::slice::from_ref(project), tokens).await {
            Ok(mut setups) if setups.len() == 1 => {
                projects.push(DoctorProject::Ready(setups.remove(0)));
            }
            Ok(_) => {}
            Err(report) => {
                let (problem, fix) = split_report(&report);
                projects.push(DoctorProject::Unavailable {
                    project: project.clone(),
                    problem,
                    fix,
                });
            }
        }
    }
    let mut checks = doctor::check_projects(&DoctorRequest {
        projects,
        cache: maintain.paths.cache.clone(),
        branch: upkeep_maintain::branch_name(&maintain, today),
        set: Some(set),
        readers,
    })
    .await;
    checks.extend(
        doctor::chat_checks(
            &maintain.chat,
            tokens.secrets().slack_api_token,
            tokens.slack_api_url.as_deref(),
        )
        .await,
    );
    if global.output == Output::Json {
        upkeep_cli::print_json(&doctor::to_json(&checks)).map_err(Report::failure)?;
    } else {
        print!("{}", doctor::render_text(&checks));
    }
    Ok(if checks.iter().any(|c| c.verdict == Verdict::Fail) {
        Exit::Partial
    } else {
        Exit::Success
    })
}

/// A report as a check's detail (the error and its causes) and fix (the hints).
fn split_report(report: &Report) -> (String, Option<String>) {
    let mut problem = Vec::new();
    let mut hints = Vec::new();
    for line in report.render().lines() {
        if let Some(e) = line.strip_prefix("error: ") {
            problem.push(e.to_owned());
        } else if let Some(c) = line.strip_prefix("  caused by: ") {
            problem.push(c.to_owned());
        } else if let Some(h) = line.strip_prefix("hint: ") {
            hints.push(h.to_owned());
        }
    }
    let fix = (!hints.is_empty()).then(|| hints.join("; "));
    (problem.join(": "), fix)
}

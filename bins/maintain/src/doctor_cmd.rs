//! `maintain doctor`.

use std::path::Path;

use upkeep_chat::{SlackChat, SlackConfig};
use upkeep_cli::{Exit, GlobalArgs, Output, Report};
use upkeep_config::ChatKind;
use upkeep_maintain::doctor::{self, Check, DoctorProject, DoctorRequest, Verdict};

use crate::wiring::{self, Tokens};

/// Options of `maintain doctor`.
#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    /// Only these projects (repeatable, or comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "PROJECT")]
    pub only: Vec<String>,
}

/// Runs `maintain doctor`.
#[allow(clippy::print_stdout)] // The checks are the command's data.
pub async fn run(
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
    })
    .await;
    // The convention, read at the base branch without running anything; not for a project
    // whose repository could not be reached (its failed check already says why).
    for p in &resolved {
        let unreachable = checks.iter().any(|c| {
            c.project.as_deref() == Some(p.name.as_str())
                && c.verdict == Verdict::Fail
                && matches!(c.check.as_str(), "repository reachable" | "forge API")
        });
        if unreachable {
            continue;
        }
        if let Some(reader) = upkeep_maintain::discover::reader_for(&readers, p) {
            let topics = set
                .project(&p.name)
                .map(|e| e.topics.clone())
                .unwrap_or_default();
            checks.extend(
                upkeep_maintain::discover::convention_checks(p, &topics, reader.as_ref()).await,
            );
        }
    }
    // Each project's checks together, in project order (a stable sort).
    checks.sort_by_key(|c| {
        c.project
            .as_ref()
            .and_then(|n| resolved.iter().position(|p| &p.name == n))
            .unwrap_or(usize::MAX)
    });
    checks.extend(
        set.warnings
            .iter()
            .map(|w| Check::global("discovery", Verdict::Warn, w.clone(), None)),
    );
    checks.extend(chat_checks(&maintain, tokens).await);
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

async fn chat_checks(maintain: &upkeep_config::MaintainConfig, tokens: &Tokens) -> Vec<Check> {
    if maintain.chat.kind == ChatKind::Console {
        return vec![Check::global(
            "chat",
            Verdict::Ok,
            "console (messages are printed; set [maintain.chat] kind = \"slack\" to post)"
                .to_owned(),
            None,
        )];
    }
    let Some(token) = tokens.secrets().slack_api_token else {
        return vec![Check::global(
            "slack token",
            Verdict::Fail,
            "SLACK_API_TOKEN is not set".to_owned(),
            Some("export SLACK_API_TOKEN=xoxb-… (a bot token)".to_owned()),
        )];
    };
    let Some(channel) = maintain.chat.channel.clone() else {
        return vec![Check::global(
            "slack channel",
            Verdict::Fail,
            "no channel configured".to_owned(),
            Some("set [maintain.chat] channel".to_owned()),
        )];
    };
    let mut config = SlackConfig::new(token, channel.clone());
    if let Some(url) = &tokens.slack_api_url {
        url.clone_into(&mut config.api_url);
    }
    let slack = match SlackChat::new(config) {
        Ok(s) => s,
        Err(e) => return vec![Check::global("slack", Verdict::Fail, e.to_string(), None)],
    };
    let mut out = Vec::new();
    match slack.auth_test().await {
        Ok(info) => {
            let missing = info.missing_scopes();
            out.push(if missing.is_empty() {
                Check::global(
                    "slack token",
                    Verdict::Ok,
                    format!("workspace {}", info.team),
                    None,
                )
            } else {
                Check::global(
                    "slack token scopes",
                    Verdict::Fail,
                    format!("missing {}", missing.join(", ")),
                    Some("add the scopes to the Slack app and reinstall it".to_owned()),
                )
            });
        }
        Err(e) => out.push(Check::global(
            "slack token",
            Verdict::Fail,
            e.to_string(),
            Some("check SLACK_API_TOKEN".to_owned()),
        )),
    }
    let probe = upkeep_chat::RoundId::new("doctor-probe");
    match upkeep_chat::ChatThreads::read_round_status(&slack, &probe).await {
        Ok(_) => out.push(Check::global(
            "slack channel",
            Verdict::Ok,
            format!("{channel} is readable"),
            None,
        )),
        Err(e) => out.push(Check::global(
            "slack channel",
            Verdict::Fail,
            e.to_string(),
            Some(format!("invite the bot to {channel} (/invite @yourbot)")),
        )),
    }
    out
}

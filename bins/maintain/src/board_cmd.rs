//! `maintain status` and `maintain sync`.

use std::path::Path;

use upkeep_cli::{Exit, GlobalArgs, Output, Report};
use upkeep_maintain::board::{self, BoardRequest};

use crate::run_cmd::round_id_and_date;
use crate::wiring::{self, Tokens};

/// Options of `maintain status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The round [default: today's date].
    #[arg(long)]
    pub round: Option<String>,
    /// Only these projects (repeatable, or comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "PROJECT")]
    pub only: Vec<String>,
}

/// Options of `maintain sync`.
#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    /// The round [default: today's date].
    #[arg(long)]
    pub round: Option<String>,
    /// Only these projects (repeatable, or comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "PROJECT")]
    pub only: Vec<String>,
    /// Say which reactions would be added; add none.
    #[arg(long)]
    pub dry_run: bool,
}

async fn request(
    config_path: &Path,
    tokens: &Tokens,
    round: Option<&str>,
    only: &[String],
) -> Result<BoardRequest, Report> {
    let config = wiring::load_config(config_path)?;
    let maintain = wiring::maintain_section(&config)?;
    let (selected, _) = upkeep_maintain::select(&maintain, only, &[]).map_err(Report::user)?;
    let resolved: Vec<_> = selected.iter().map(|p| maintain.resolve(p)).collect();
    let projects = wiring::project_setups(&config, &resolved, tokens).await?;
    let (id, date) = round_id_and_date(round, None);
    let state = crate::state_cmd::state_setup(&config, tokens)?;
    let journal = {
        let (store, id) = (state.store.clone(), id.clone());
        tokio::task::spawn_blocking(move || upkeep_maintain::Journal::load(store.as_ref(), &id))
            .await
            .map_err(Report::failure)?
            .map_err(|e| Report::failure(e).hint("check [state] and its token"))?
    };
    let date = journal
        .as_ref()
        .and_then(upkeep_maintain::Journal::date)
        .unwrap_or(date);
    Ok(BoardRequest {
        round: id,
        branch: upkeep_maintain::branch_name(&maintain, date),
        projects,
        journal,
        chat: wiring::chat(&maintain, tokens, Output::Json)?,
        legend: maintain.chat.reactions.clone(),
    })
}

/// Runs `maintain status`.
#[allow(clippy::print_stdout)] // The board is the command's data.
pub async fn status(
    config_path: &Path,
    tokens: &Tokens,
    global: &GlobalArgs,
    args: StatusArgs,
) -> Result<Exit, Report> {
    let req = request(config_path, tokens, args.round.as_deref(), &args.only).await?;
    let board = board::board(&req).await;
    if global.output == Output::Json {
        upkeep_cli::print_json(&board).map_err(Report::failure)?;
    } else {
        println!("round {}", board.round);
        print!("{}", board.render_text());
    }
    Ok(Exit::Success)
}

/// Runs `maintain sync`.
#[allow(clippy::print_stdout)] // The list of reactions is the command's data.
pub async fn sync(
    config_path: &Path,
    tokens: &Tokens,
    global: &GlobalArgs,
    args: SyncArgs,
) -> Result<Exit, Report> {
    let req = request(config_path, tokens, args.round.as_deref(), &args.only).await?;
    let report = board::sync(&req, args.dry_run).await;
    if global.output == Output::Json {
        upkeep_cli::print_json(&report).map_err(Report::failure)?;
    } else {
        let verb = if args.dry_run { "would add" } else { "added" };
        if report.added.is_empty() && report.without_thread.is_empty() {
            println!(
                "round {}: the threads already show what the forge knows",
                report.round
            );
        }
        for a in &report.added {
            println!("{}: {verb} :{}: ({})", a.project, a.reaction, a.because);
        }
        for p in &report.without_thread {
            println!("{p}: no thread in round {}", report.round);
        }
        for p in &report.problems {
            println!("warning: {p}");
        }
    }
    Ok(if report.problems.is_empty() {
        Exit::Success
    } else {
        Exit::Partial
    })
}

//! `maintain status` and `maintain sync`.

use std::path::Path;

use upkeep_cli::{Exit, GlobalArgs, Output, Report};
use upkeep_maintain::board::{self, BoardError, BoardRequest};
use upkeep_maintain::render;

use crate::deps_cmd::print_stdout;
use crate::run_cmd::round_id_and_date;
use crate::wiring::{self, Tokens};

/// Options of `maintain status`.
#[derive(Debug, clap::Args)]
pub(crate) struct StatusArgs {
    /// The round [default: today's date].
    #[arg(long)]
    pub round: Option<String>,
    /// Only these projects (repeatable, or comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "PROJECT")]
    pub only: Vec<String>,
}

/// Options of `maintain sync`.
#[derive(Debug, clap::Args)]
pub(crate) struct SyncArgs {
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
        chat: wiring::chat(&maintain, tokens, wiring::console_out(Output::Json))?,
        legend: maintain.chat.reactions.clone(),
    })
}

/// How `maintain status` prints the board.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BoardOutput {
    /// A table for people.
    Text,
    /// The JSON document.
    Json,
    /// Markdown for a CI job summary.
    Markdown,
    /// A self-contained HTML page.
    Html,
}

/// A round nothing knows is a user error (exit 2): probably a wrong `--round`.
fn never_ran(e: BoardError) -> Report {
    Report::user(e)
        .hint("pass --round with the id of a round that ran (its date, YYYY-MM-DD, by default)")
        .hint("or start this one: `maintain run`")
}

/// Runs `maintain status`.
#[allow(clippy::print_stdout)] // The board is the command's data.
pub(crate) async fn status(
    config_path: &Path,
    tokens: &Tokens,
    _global: &GlobalArgs,
    args: StatusArgs,
    output: BoardOutput,
) -> Result<Exit, Report> {
    let req = request(config_path, tokens, args.round.as_deref(), &args.only).await?;
    let board = board::board(&req).await.map_err(never_ran)?;
    match output {
        BoardOutput::Json => upkeep_cli::print_json(&board.to_json()).map_err(Report::failure)?,
        BoardOutput::Markdown => print_stdout(&render::markdown::board(&board)),
        BoardOutput::Html => print_stdout(&render::html::board_page(&board)),
        BoardOutput::Text => {
            println!("round {}", board.round);
            print!("{}", board.render_text());
        }
    }
    Ok(Exit::Success)
}

/// Runs `maintain sync`.
#[allow(clippy::print_stdout)] // The list of reactions is the command's data.
pub(crate) async fn sync(
    config_path: &Path,
    tokens: &Tokens,
    global: &GlobalArgs,
    args: SyncArgs,
) -> Result<Exit, Report> {
    let req = request(config_path, tokens, args.round.as_deref(), &args.only).await?;
    let report = board::sync(&req, args.dry_run).await.map_err(never_ran)?;
    if global.output == Output::Json {
        upkeep_cli::print_json(&report).map_err(Report::failure)?;
    } else {
        let verb = if args.dry_run { "would add" } else { "added" };
        if report.added.is_empty() && report.without_message.is_empty() {
            println!(
                "round {}: the messages already show what the forge knows",
                report.round
            );
        }
        for a in &report.added {
            println!("{}: {verb} :{}: ({})", a.project, a.reaction, a.because);
        }
        for p in &report.without_message {
            println!("{p}: no message in round {}", report.round);
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

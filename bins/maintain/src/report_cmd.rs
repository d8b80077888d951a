//! `maintain report`.

use std::path::Path;
use std::sync::Arc;

use upkeep_cli::{Exit, GlobalArgs, Output, Report};
use upkeep_maintain::{CancellationToken, ReportRequest};

use crate::run_cmd::{cancel_on_signals, exit_for, print_report, round_id_and_date};
use crate::state_cmd;
use crate::wiring::{self, Tokens};

/// `maintain report` options.
#[derive(Debug, clap::Args)]
pub(crate) struct ReportArgs {
    /// The round [default: today's date, YYYY-MM-DD].
    #[arg(long)]
    pub round: Option<String>,
    /// Print the report only; do not post or update the round summary.
    #[arg(long)]
    pub no_post: bool,
}

/// Runs `maintain report`: the round as the state store has it, the summary posted or
/// updated once, the exit code of the round.
pub(crate) async fn run(
    config_path: &Path,
    tokens: &Tokens,
    global: &GlobalArgs,
    args: ReportArgs,
) -> Result<Exit, Report> {
    let config = wiring::load_config(config_path)?;
    let maintain = wiring::maintain_section(&config)?;
    let state = state_cmd::state_setup(&config, tokens)?;
    let chat = if args.no_post {
        wiring::console_chat(&maintain, wiring::console_out(Output::Json))
    } else {
        wiring::chat(&maintain, tokens, wiring::console_out(global.output))?
    };
    let (round, _) = round_id_and_date(args.round.as_deref(), None);
    let cancel = CancellationToken::new();
    cancel_on_signals(&cancel);
    let report = upkeep_maintain::report_round(ReportRequest {
        round,
        config: Arc::new(maintain.clone()),
        state,
        chat,
        post_summary: !args.no_post,
        cancel,
    })
    .await
    .map_err(|e| match e {
        upkeep_maintain::Error::NoRound { .. } => Report::user(e)
            .hint("run `maintain run` (or its shards) first, with the same [state] and --round"),
        other => Report::failure(other)
            .hint("check [state] and its token; the report is safe to run again"),
    })?;
    print_report(&report, &maintain, global.output).await?;
    Ok(exit_for(&report))
}

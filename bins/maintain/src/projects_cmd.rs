//! `maintain projects`.

use std::path::Path;

use chrono::NaiveDate;
use upkeep_cli::{Exit, GlobalArgs, Output, Report};

use crate::run_cmd::round_id_and_date;
use crate::wiring::{self, Tokens};

/// Options of `maintain projects`.
#[derive(Debug, clap::Args)]
pub(crate) struct ProjectsArgs {
    /// The round whose set to show: its recorded set when it has run, else the set the
    /// discover rules find now [default: today's date, YYYY-MM-DD].
    #[arg(long)]
    pub round: Option<String>,
    /// The round's date [default: today, or the date in the round id].
    #[arg(long, value_name = "YYYY-MM-DD", hide = true)]
    pub date: Option<NaiveDate>,
}

/// Runs `maintain projects`: lists nothing on a forge when the round has recorded its
/// set, records nothing when it has not.
#[allow(clippy::print_stdout)] // The set is the command's data.
pub(crate) async fn run(
    config_path: &Path,
    tokens: &Tokens,
    global: &GlobalArgs,
    args: ProjectsArgs,
) -> Result<Exit, Report> {
    let config = wiring::load_config(config_path)?;
    let maintain = wiring::maintain_section(&config)?;
    let (round, _) = round_id_and_date(args.round.as_deref(), args.date);
    let state = crate::state_cmd::state_setup(&config, tokens)?;
    let found = wiring::project_set(&config, &maintain, tokens, state.store, &round, false).await?;
    let view = upkeep_maintain::discover::view(
        &round,
        &found.set,
        found.source,
        &found.maintain,
        &found.readers,
    )
    .await;
    if global.output == Output::Json {
        upkeep_cli::print_json(&view).map_err(Report::failure)?;
    } else {
        print!("{}", view.render_text());
    }
    Ok(Exit::Success)
}

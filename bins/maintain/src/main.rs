//! `maintain`: The maintenance round: upgrade, build and test every project, open change requests, tell the team.

use std::process::ExitCode;

use clap::Parser;
use upkeep_cli::{EXIT_CODES_HELP, Exit, GlobalArgs};

/// The maintenance round: upgrade, build and test every project, open change requests, tell the team.
#[derive(Debug, Parser)]
#[command(version, about, after_help = EXIT_CODES_HELP)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
}

fn main() -> ExitCode {
    upkeep_cli::install_crypto_provider();
    let cli = Cli::parse();
    cli.global.init_logging();
    Exit::Success.into()
}

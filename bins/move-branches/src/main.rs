//! `move-branches`: Promote stable branches to what stage has proven: plan, gates, approval, compare-and-swap moves.

use std::process::ExitCode;

use clap::Parser;
use upkeep_cli::{EXIT_CODES_HELP, Exit, GlobalArgs};

/// Promote stable branches to what stage has proven: plan, gates, approval, compare-and-swap moves.
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

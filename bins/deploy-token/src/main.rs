//! `deploy-token`: one person changes servers at a time.
//!
//! A thin edge over `upkeep-lock`: parse arguments, load the `[lock]` section (or take
//! `--repo`), make one library call, print the result as text or JSON.

#![allow(clippy::print_stdout)] // The binary's job is to print results.

mod cli;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    upkeep_cli::install_crypto_provider();
    let cli = cli::Cli::parse();
    cli.global.init_logging();
    match cli::run(cli) {
        Ok(exit) => exit.into(),
        Err(report) => report.print(),
    }
}

//! `move-branches`: promote stable branches to what stage has proven: plan, gates,
//! approval, compare-and-swap moves, history, status and rollback.

mod approval;
mod args;
mod cmd;
mod notify;
mod prompt;
mod setup;

use std::process::ExitCode;

use clap::Parser as _;

use crate::args::{Cli, Command, rewrite_overrides};

fn main() -> ExitCode {
    upkeep_cli::install_crypto_provider();
    let cli = Cli::parse_from(rewrite_overrides(std::env::args().collect()));
    // Before anything reads the configuration: completions and the man page need none.
    if let Command::Meta(meta) = &cli.command {
        return meta.run::<Cli>().into();
    }
    cli.global.init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return upkeep_cli::Report::failure(e).print(),
    };
    let result = runtime.block_on(async {
        match &cli.command {
            Command::Plan(a) => cmd::plan(&cli, a).await,
            Command::Run(a) => cmd::run(&cli, a).await,
            Command::Status(a) => cmd::status(&cli, a).await,
            Command::Rollback(a) => cmd::rollback(&cli, a).await,
            Command::Meta(meta) => Ok(meta.run::<Cli>()),
        }
    });
    match result {
        Ok(exit) => exit.into(),
        Err(report) => report.print(),
    }
}

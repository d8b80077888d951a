//! `maintain`: the maintenance round: upgrade, build and test every project, open change
//! requests, tell the team.

mod board_cmd;
mod demo_cmd;
mod deps_cmd;
mod doctor_cmd;
mod progress;
mod projects_cmd;
mod run_cmd;
mod wiring;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use upkeep_cli::{EXIT_CODES_HELP, Exit, GlobalArgs, Report};

/// The maintenance round: upgrade, build and test every project, open change requests,
/// tell the team.
///
/// Try it without any setup: `maintain demo`.
#[derive(Debug, Parser)]
#[command(version, about, long_about, after_help = EXIT_CODES_HELP)]
struct Cli {
    /// The configuration file.
    #[arg(long, global = true, env = "UPKEEP_CONFIG", hide_env_values = true, default_value = upkeep_config::DEFAULT_FILE)]
    config: PathBuf,
    #[command(flatten)]
    tokens: wiring::Tokens,
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the round: upgrade, build, test; push, open change requests; tell the team.
    Run(run_cmd::RunArgs),
    /// Show the round's board: change request states and how far each project got.
    Status(board_cmd::StatusArgs),
    /// Add the thread reactions the forge already knows (approved, merged, tagged, CI).
    Sync(board_cmd::SyncArgs),
    /// Check that every project follows the convention, and say what to fix.
    Doctor(doctor_cmd::DoctorArgs),
    /// The round's projects: listed and discovered, their steps, and what was left out.
    Projects(projects_cmd::ProjectsArgs),
    /// Run a real round on four throwaway sample projects (no tokens, no network).
    Demo(demo_cmd::DemoArgs),
    /// Dependency changes between two lockfiles or two directories.
    Deps(deps_cmd::DepsArgs),
    /// Shell completions and the man page.
    #[command(flatten)]
    Meta(upkeep_cli::MetaCommand),
}

fn main() -> ExitCode {
    upkeep_cli::install_crypto_provider();
    let cli = Cli::parse();
    cli.global.init_logging();
    match dispatch(cli) {
        Ok(exit) => exit.into(),
        Err(report) => report.print(),
    }
}

fn dispatch(mut cli: Cli) -> Result<Exit, Report> {
    match &cli.command {
        Command::Meta(meta) => return Ok(meta.run::<Cli>()),
        Command::Deps(_) => {}
        _ => cli.global.output = cli.global.output.text_or_json("maintain")?,
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Report::failure(e).hint("cannot start the async runtime"))?;
    match cli.command {
        Command::Run(args) => {
            runtime.block_on(run_cmd::run(&cli.config, &cli.tokens, &cli.global, args))
        }
        Command::Status(args) => runtime.block_on(board_cmd::status(
            &cli.config,
            &cli.tokens,
            &cli.global,
            args,
        )),
        Command::Sync(args) => {
            runtime.block_on(board_cmd::sync(&cli.config, &cli.tokens, &cli.global, args))
        }
        Command::Doctor(args) => {
            runtime.block_on(doctor_cmd::run(&cli.config, &cli.tokens, &cli.global, args))
        }
        Command::Projects(args) => runtime.block_on(projects_cmd::run(
            &cli.config,
            &cli.tokens,
            &cli.global,
            args,
        )),
        Command::Demo(args) => runtime.block_on(demo_cmd::run(&cli.global, args)),
        Command::Deps(args) => deps_cmd::run(args, cli.global.output),
        Command::Meta(meta) => Ok(meta.run::<Cli>()),
    }
}

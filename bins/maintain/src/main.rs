//! `maintain`: the maintenance round: upgrade, build and test every project, open change
//! requests, tell the team.

mod board_cmd;
mod demo_cmd;
mod deps_cmd;
mod doctor_cmd;
mod progress;
mod projects_cmd;
mod report_cmd;
mod run_cmd;
mod state_cmd;
mod wiring;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use upkeep_cli::{EXIT_CODES_HELP, Exit, GlobalArgs, Output, Report};

/// The help heading of the options every subcommand takes.
const GLOBAL: &str = "Global options";

/// The maintenance round: upgrade, build and test every project, open change requests,
/// tell the team.
///
/// Try it without any setup: `maintain demo`.
#[derive(Debug, Parser)]
#[command(version, after_help = EXIT_CODES_HELP)]
struct Cli {
    /// The configuration file.
    #[arg(short = 'c', long, global = true, env = "UPKEEP_CONFIG", hide_env_values = true, default_value = upkeep_config::DEFAULT_FILE, help_heading = GLOBAL)]
    config: PathBuf,
    /// More log output on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, help_heading = GLOBAL)]
    verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose", help_heading = GLOBAL)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

/// `--output` of `run` (and `deps diff`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
enum ReportFormat {
    /// A table for people.
    #[default]
    Text,
    /// One JSON document.
    Json,
    /// GitHub-flavoured Markdown, for `$GITHUB_STEP_SUMMARY` or a GitLab job summary.
    Markdown,
}

/// `--output` of `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
enum BoardFormat {
    /// A table for people.
    #[default]
    Text,
    /// One JSON document.
    Json,
    /// GitHub-flavoured Markdown, for `$GITHUB_STEP_SUMMARY` or a GitLab job summary.
    Markdown,
    /// One self-contained HTML page (no external assets, no script), to publish as a
    /// CI artifact.
    Html,
}

/// `--output` of the commands that print text or JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
enum DataFormat {
    /// Text for people.
    #[default]
    Text,
    /// One JSON document.
    Json,
}

impl From<ReportFormat> for Output {
    fn from(f: ReportFormat) -> Self {
        match f {
            ReportFormat::Text => Self::Text,
            ReportFormat::Json => Self::Json,
            ReportFormat::Markdown => Self::Markdown,
        }
    }
}

impl From<DataFormat> for Output {
    fn from(f: DataFormat) -> Self {
        match f {
            DataFormat::Text => Self::Text,
            DataFormat::Json => Self::Json,
        }
    }
}

/// Hides a shared token option `maintain` has no use for (Sentry's).
fn hidden(arg: clap::Arg) -> clap::Arg {
    arg.hide(true)
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the round: upgrade, build, test; push, open change requests; tell the team.
    #[command(mut_arg("sentry_auth_token", hidden), mut_arg("sentry_dsn", hidden))]
    Run {
        #[command(flatten)]
        args: run_cmd::RunArgs,
        /// How to print the end-of-run report on stdout (progress and the console chat go
        /// to stderr with json and markdown): json is the document of
        /// docs/commands/maintain-run.md, markdown the report for a CI job summary.
        #[arg(long, value_enum, default_value_t)]
        output: ReportFormat,
        #[command(flatten)]
        tokens: wiring::Tokens,
    },
    /// After a sharded round: report every project from the shared state, post the
    /// summary once, exit with the round's code.
    #[command(mut_arg("sentry_auth_token", hidden), mut_arg("sentry_dsn", hidden))]
    Report {
        #[command(flatten)]
        args: report_cmd::ReportArgs,
        /// How to print the round's report on stdout: json is the document of
        /// docs/commands/maintain-run.md, markdown the report for a CI job summary.
        #[arg(long, value_enum, default_value_t)]
        output: ReportFormat,
        #[command(flatten)]
        tokens: wiring::Tokens,
    },
    /// Show the round's board: what the round did, change request states, and how far
    /// each project got by the reactions on its message.
    #[command(mut_arg("sentry_auth_token", hidden), mut_arg("sentry_dsn", hidden))]
    Status {
        #[command(flatten)]
        args: board_cmd::StatusArgs,
        /// How to print the board on stdout: json is the document of
        /// docs/commands/maintain-status.md, markdown for a CI job summary, html a
        /// self-contained page (`maintain status --output html > board.html`).
        #[arg(long, value_enum, default_value_t)]
        output: BoardFormat,
        #[command(flatten)]
        tokens: wiring::Tokens,
    },
    /// Add the reactions the forge already knows (approved, merged, tagged, CI) to the
    /// project messages.
    #[command(mut_arg("sentry_auth_token", hidden), mut_arg("sentry_dsn", hidden))]
    Sync {
        #[command(flatten)]
        args: board_cmd::SyncArgs,
        /// How to print the reactions added (and those that could not be): text or one
        /// JSON document.
        #[arg(long, value_enum, default_value_t)]
        output: DataFormat,
        #[command(flatten)]
        tokens: wiring::Tokens,
    },
    /// Check that every project follows the convention, and say what to fix.
    #[command(mut_arg("sentry_auth_token", hidden), mut_arg("sentry_dsn", hidden))]
    Doctor {
        #[command(flatten)]
        args: doctor_cmd::DoctorArgs,
        /// How to print the checks: text, or one JSON document
        /// (docs/commands/maintain-doctor.md).
        #[arg(long, value_enum, default_value_t)]
        output: DataFormat,
        #[command(flatten)]
        tokens: wiring::Tokens,
    },
    /// The round's projects: listed and discovered, their steps, and what was left out.
    Projects {
        #[command(flatten)]
        args: projects_cmd::ProjectsArgs,
        /// How to print the set: text, or one JSON document
        /// (docs/commands/maintain-projects.md).
        #[arg(long, value_enum, default_value_t)]
        output: DataFormat,
        #[command(flatten)]
        tokens: wiring::Tokens,
    },
    /// Run a real round on four throwaway sample projects (no tokens, no network).
    Demo {
        #[command(flatten)]
        args: demo_cmd::DemoArgs,
        /// How to print the demo: the guided text, or the round's JSON report only.
        #[arg(long, value_enum, default_value_t)]
        output: DataFormat,
    },
    /// Dependency changes between two lockfiles or two directories.
    Deps {
        #[command(flatten)]
        args: deps_cmd::DepsArgs,
        /// How to print the changes: aligned text, the JSON document, or the Markdown
        /// table of pull-request bodies.
        #[arg(long, global = true, value_enum, default_value_t)]
        output: ReportFormat,
    },
    /// Shell completions and the man pages.
    #[command(flatten)]
    Meta(upkeep_cli::MetaCommand),
}

fn main() -> ExitCode {
    upkeep_cli::install_crypto_provider();
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(exit) => exit.into(),
        Err(report) => report.print(),
    }
}

fn dispatch(cli: Cli) -> Result<Exit, Report> {
    let global = |output: Output| {
        let g = GlobalArgs {
            output,
            verbose: cli.verbose,
            quiet: cli.quiet,
        };
        g.init_logging();
        g
    };
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| Report::failure(e).hint("cannot start the async runtime"))
    };
    let config = &cli.config;
    match cli.command {
        Command::Meta(meta) => Ok(meta.run::<Cli>()),
        Command::Deps { args, output } => {
            global(output.into());
            deps_cmd::run(args, output.into())
        }
        Command::Report {
            args,
            output,
            tokens,
        } => runtime()?.block_on(report_cmd::run(
            config,
            &tokens,
            &global(output.into()),
            args,
        )),
        Command::Run {
            args,
            output,
            tokens,
        } => runtime()?.block_on(run_cmd::run(config, &tokens, &global(output.into()), args)),
        Command::Status {
            args,
            output,
            tokens,
        } => {
            let g = global(match output {
                BoardFormat::Json => Output::Json,
                _ => Output::Text,
            });
            let format = match output {
                BoardFormat::Text => board_cmd::BoardOutput::Text,
                BoardFormat::Json => board_cmd::BoardOutput::Json,
                BoardFormat::Markdown => board_cmd::BoardOutput::Markdown,
                BoardFormat::Html => board_cmd::BoardOutput::Html,
            };
            runtime()?.block_on(board_cmd::status(config, &tokens, &g, args, format))
        }
        Command::Sync {
            args,
            output,
            tokens,
        } => runtime()?.block_on(board_cmd::sync(
            config,
            &tokens,
            &global(output.into()),
            args,
        )),
        Command::Doctor {
            args,
            output,
            tokens,
        } => runtime()?.block_on(doctor_cmd::run(
            config,
            &tokens,
            &global(output.into()),
            args,
        )),
        Command::Demo { args, output } => {
            runtime()?.block_on(demo_cmd::run(&global(output.into()), args))
        }
        Command::Projects {
            args,
            output,
            tokens,
        } => runtime()?.block_on(projects_cmd::run(
            config,
            &tokens,
            &global(output.into()),
            args,
        )),
    }
}

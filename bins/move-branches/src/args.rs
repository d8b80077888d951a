//! Command-line arguments, and the rewriting of `--<repo>=<rev>` overrides.

use std::path::PathBuf;

use clap::{Args, CommandFactory as _, Parser, Subcommand};
use upkeep_cli::{ActorArgs, EXIT_CODES_HELP, LogArgs, TextOrJson, TokenArgs};

/// Promote stable branches to what stage has proven: plan, gates, approval, compare-and-swap moves.
///
/// Moves the target branch (`stable`) of each configured repo to the tip of its source
/// (`main`), or to a commit given per repo (`--packit-service=1787687aba71`), in
/// dependency order; only after the gates show stage healthy (CI on a validation repo, no
/// new Sentry issues, commands) and a person approved the exact plan. Fast-forward only,
/// compare-and-swap on the old tip; repos already even are skipped. Start with
/// `move-branches plan`.
#[derive(Debug, Parser)]
#[command(version, after_help = EXIT_CODES_HELP)]
pub(crate) struct Cli {
    /// Logging (`--output` belongs to each subcommand).
    #[command(flatten)]
    pub global: LogArgs,
    /// The configuration file (its `[branches]` section).
    #[arg(long, short = 'c', global = true, env = "UPKEEP_CONFIG", default_value = upkeep_config::DEFAULT_FILE)]
    pub config: PathBuf,
    /// Secrets, taken from the environment.
    #[command(flatten)]
    pub secrets: TokenArgs,
    /// Who runs this, as recorded in the history and checked against the deploy token.
    #[command(flatten)]
    pub actor: ActorArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Show what a run would move, the commits that would ship, gate evidence and the
    /// plan digest. Changes nothing.
    Plan(PlanArgs),
    /// Plan, check the gates, ask for approval, move the branches, record the history.
    Run(RunArgs),
    /// What each target (production) runs compared with its source: commits waiting,
    /// drift, last tag and next version, last promotion.
    Status(StatusArgs),
    /// Move one repo's target back to an earlier promotion from the history.
    Rollback(RollbackArgs),
    /// Shell completions and the man page (no configuration needed).
    #[command(flatten)]
    Meta(upkeep_cli::MetaCommand),
}

/// Which repos and commits to plan.
#[derive(Debug, Clone, Args)]
pub(crate) struct Selection {
    /// Promote a repo to this commit instead of its source tip: `--to packit-service=1787687aba71`.
    /// Also accepted as `--packit-service=1787687aba71`.
    #[arg(long = "to", value_name = "REPO=REV")]
    pub to: Vec<String>,
    /// Leave a repo out of this run (its dependents are still planned).
    #[arg(long, value_name = "REPO")]
    pub skip: Vec<String>,
    /// Create the next semver tag (by conventional commits) on each newly promoted commit.
    #[arg(long)]
    pub tag: bool,
}

/// `plan`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "Overrides: --<repo>=<rev> is the same as --to <repo>=<rev>.")]
pub(crate) struct PlanArgs {
    /// Repos and commits.
    #[command(flatten)]
    pub selection: Selection,
    /// Only plan; skip the gates.
    #[arg(long)]
    pub no_gates: bool,
    /// How to print the plan: text, or one JSON document with the plan and the gates'
    /// evidence (docs/commands/move-branches-plan.md).
    #[arg(long, value_enum, default_value_t)]
    pub output: TextOrJson,
}

/// How a change is approved, and whether it runs as a job.
#[derive(Debug, Clone, Args)]
pub(crate) struct ApprovalArgs {
    /// Approve without asking.
    #[arg(long, conflicts_with = "approve")]
    pub yes: bool,
    /// Approve exactly the plan with this digest (as printed by `plan`); refuse if the
    /// plan has changed since.
    #[arg(long, value_name = "DIGEST")]
    pub approve: Option<String>,
    /// Compute and show everything, move nothing, record nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Running as a job: without --yes or --approve, ask for approval in Slack as
    /// configured in `[branches.approval.slack]`; send the result and failures to Slack
    /// and Sentry as configured in `[branches.notify]` (by hand, they are only printed).
    /// `UPKEEP_JOB` takes 1/0, true/false, yes/no, on/off.
    #[arg(
        long,
        env = "UPKEEP_JOB",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub job: bool,
}

/// `run`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "Overrides: --<repo>=<rev> is the same as --to <repo>=<rev>.")]
pub(crate) struct RunArgs {
    /// Repos and commits.
    #[command(flatten)]
    pub selection: Selection,
    /// Approval and job mode.
    #[command(flatten)]
    pub approval: ApprovalArgs,
    /// Don't wait for CI between dependent repos, whatever the configuration says.
    #[arg(long)]
    pub no_wait: bool,
    /// How to print the run: text, or one JSON document with the plan, the gates, the
    /// moves and how the run ended (docs/commands/move-branches-run.md).
    #[arg(long, value_enum, default_value_t)]
    pub output: TextOrJson,
}

/// `status`.
#[derive(Debug, Clone, Args)]
pub(crate) struct StatusArgs {
    /// Only these repos (default: all).
    pub repos: Vec<String>,
    /// How to print each repo's status: text, or one JSON document
    /// (docs/commands/move-branches-status.md).
    #[arg(long, value_enum, default_value_t)]
    pub output: TextOrJson,
}

/// `rollback`.
#[derive(Debug, Clone, Args)]
pub(crate) struct RollbackArgs {
    /// The repo to roll back.
    pub repo: String,
    /// The commit to move back to (default: the previous promotion in the history).
    #[arg(long, value_name = "REV")]
    pub to: Option<String>,
    /// Approval and job mode.
    #[command(flatten)]
    pub approval: ApprovalArgs,
    /// How to print the rollback: text, or one JSON document like `run`'s
    /// (docs/commands/move-branches-run.md).
    #[arg(long, value_enum, default_value_t)]
    pub output: TextOrJson,
}

impl Command {
    /// The subcommand's `--output` (text for `completions` and `man`).
    #[must_use]
    pub(crate) fn output(&self) -> TextOrJson {
        match self {
            Self::Plan(a) => a.output,
            Self::Run(a) => a.output,
            Self::Status(a) => a.output,
            Self::Rollback(a) => a.output,
            Self::Meta(_) => TextOrJson::Text,
        }
    }
}

/// Rewrites `--<name>=<rev>` (and `--<name> <rev>`) into `--to <name>=<rev>` when
/// `<name>` is not an option of the `plan`/`run` subcommand, so the seed's
/// `--packit-service=1787687aba71` works while clap only knows fixed flags. An unknown
/// `--<name>` followed by nothing or by another option is left for clap to refuse. Whether `<name>` is a configured repo is checked later,
/// against the configuration, with the known repos in the error: this rewriting reads
/// nothing, so `completions` and `man` work without a configuration.
///
/// Only the arguments after the subcommand are touched, and the subcommand is the first
/// argument that is neither an option nor an option's value: in
/// `move-branches --config run status --x=1` the subcommand is `status`, not `run`.
#[must_use]
pub(crate) fn rewrite_overrides(argv: Vec<String>) -> Vec<String> {
    let cmd = Cli::command();
    let Some(sub_pos) = subcommand_position(&cmd, &argv) else {
        return argv;
    };
    let Some(sub) = cmd
        .find_subcommand(&argv[sub_pos])
        .filter(|s| matches!(s.get_name(), "plan" | "run"))
    else {
        return argv;
    };
    let known: Vec<String> = cmd
        .get_arguments()
        .chain(sub.get_arguments())
        .filter_map(|a| a.get_long().map(str::to_owned))
        .chain(["help".to_owned(), "version".to_owned()])
        .collect();
    let mut out = Vec::with_capacity(argv.len() + 4);
    let mut rest = false;
    let mut words = argv.into_iter().enumerate().peekable();
    while let Some((i, arg)) = words.next() {
        if rest || i <= sub_pos {
            out.push(arg);
            continue;
        }
        if arg == "--" {
            rest = true;
            out.push(arg);
            continue;
        }
        let Some(body) = arg.strip_prefix("--").filter(|b| !b.is_empty()) else {
            out.push(arg);
            continue;
        };
        let (name, rev) = match body.split_once('=') {
            Some((name, rev)) => (name, Some(rev.to_owned())),
            None => (body, None),
        };
        if name.is_empty() || known.iter().any(|k| k == name) {
            out.push(arg);
            continue;
        }
        // `--packit-service 034ae51`: plan and run take no positional arguments, so a
        // word after an unknown option can only be its revision.
        let rev = rev.or_else(|| {
            words
                .next_if(|(_, next)| !next.starts_with('-'))
                .map(|(_, next)| next)
        });
        match rev {
            Some(rev) => {
                out.push("--to".to_owned());
                out.push(format!("{name}={rev}"));
            }
            None => out.push(arg),
        }
    }
    out
}

/// Where the subcommand is in `argv`: the first argument after the binary's name that
/// is not an option, skipping the values of the top-level options that take one
/// (`--config FILE`, `-c FILE`, `--actor NAME`, ...).
fn subcommand_position(cmd: &clap::Command, argv: &[String]) -> Option<usize> {
    let takes_value = |arg: &clap::Arg| arg.get_action().takes_values();
    let mut i = 1;
    while i < argv.len() {
        let a = argv[i].as_str();
        if a == "--" {
            return None;
        }
        if let Some(long) = a.strip_prefix("--") {
            let valued = !long.contains('=')
                && cmd
                    .get_arguments()
                    .any(|arg| arg.get_long() == Some(long) && takes_value(arg));
            if valued {
                i += 1;
            }
        } else if let Some(shorts) = a.strip_prefix('-').filter(|s| !s.is_empty()) {
            // `-vv`, `-c FILE`, `-cFILE`: a short option that takes a value ends the
            // cluster, and takes the next argument only when nothing follows it.
            for (at, c) in shorts.char_indices() {
                if cmd
                    .get_arguments()
                    .any(|arg| arg.get_short() == Some(c) && takes_value(arg))
                {
                    if at + c.len_utf8() == shorts.len() {
                        i += 1;
                    }
                    break;
                }
            }
        } else {
            return Some(i);
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rw(args: &[&str]) -> Vec<String> {
        rewrite_overrides(args.iter().map(|s| (*s).to_owned()).collect())
    }

    #[test]
    fn seed_override_becomes_to() {
        assert_eq!(
            rw(&[
                "move-branches",
                "run",
                "--packit-service=1787687aba71",
                "--yes"
            ]),
            [
                "move-branches",
                "run",
                "--to",
                "packit-service=1787687aba71",
                "--yes"
            ]
        );
    }

    #[test]
    fn real_options_are_left_alone() {
        let args = [
            "move-branches",
            "run",
            "--approve=abc",
            "--output=json",
            "--to=x=y",
        ];
        assert_eq!(rw(&args), args);
        let status = ["move-branches", "status", "--ogr=1"];
        assert_eq!(rw(&status), status);
    }

    #[test]
    fn the_subcommand_is_found_past_option_values() {
        // `run` and `plan` here are option values, not the subcommand.
        for args in [
            &["move-branches", "--config", "run", "status", "--ogr=1"][..],
            &["move-branches", "-c", "plan", "completions", "bash"],
            &["move-branches", "--actor", "run", "man"],
            &["move-branches", "-vc", "run", "status", "--ogr=1"],
        ] {
            assert_eq!(rw(args), args);
        }
        assert_eq!(
            rw(&[
                "move-branches",
                "-c",
                "x.toml",
                "-v",
                "--actor=ann",
                "plan",
                "--ogr=1"
            ]),
            [
                "move-branches",
                "-c",
                "x.toml",
                "-v",
                "--actor=ann",
                "plan",
                "--to",
                "ogr=1"
            ]
        );
        assert_eq!(
            rw(&["move-branches", "-cx.toml", "run", "--ogr=1"]),
            ["move-branches", "-cx.toml", "run", "--to", "ogr=1"]
        );
    }

    #[test]
    fn completions_and_man_are_left_alone() {
        for args in [
            &["move-branches", "completions", "bash"][..],
            &["move-branches", "man"],
            &["move-branches", "completions", "--zsh=1"],
        ] {
            assert_eq!(rw(args), args);
        }
        let cli = Cli::try_parse_from(rw(&["move-branches", "completions", "fish"])).unwrap();
        assert!(matches!(
            cli.command,
            Command::Meta(upkeep_cli::MetaCommand::Completions { .. })
        ));
        let cli = Cli::try_parse_from(rw(&["move-branches", "man"])).unwrap();
        assert!(matches!(
            cli.command,
            Command::Meta(upkeep_cli::MetaCommand::Man { .. })
        ));
    }

    #[test]
    fn an_override_with_a_space_becomes_to() {
        assert_eq!(
            rw(&[
                "move-branches",
                "plan",
                "--packit-service",
                "034ae51",
                "--tag"
            ]),
            [
                "move-branches",
                "plan",
                "--to",
                "packit-service=034ae51",
                "--tag"
            ]
        );
        // Nothing after it, or another option: clap refuses it, with its own tips.
        for args in [
            &["move-branches", "run", "--yse"][..],
            &["move-branches", "run", "--packit-service", "--yes"],
        ] {
            assert_eq!(rw(args), args);
        }
        // Known options keep their values.
        let known = ["move-branches", "run", "--approve", "abc", "--skip", "ogr"];
        assert_eq!(rw(&known), known);
    }

    #[test]
    fn after_double_dash_nothing_is_rewritten() {
        let args = ["move-branches", "plan", "--", "--ogr=1"];
        assert_eq!(rw(&args), args);
    }

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }
}

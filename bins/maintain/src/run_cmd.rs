//! `maintain run`.

use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::Arc;

use chrono::NaiveDate;
use upkeep_chat::{ChatThreads, ConsoleChat, ConsoleFormat};
use upkeep_cli::{Exit, GlobalArgs, Output, Report};
use upkeep_git::Author;
use upkeep_maintain::{CancellationToken, Round, RoundReport};

use crate::progress::Display;
use crate::state_cmd;
use crate::wiring::{self, Tokens};

/// `maintain run` options.
#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    /// Run the steps and show the diff, the change requests and the messages that would be
    /// sent; push, open and post nothing (and write no state).
    #[arg(long)]
    pub dry_run: bool,
    /// Only these projects (repeatable, or comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "PROJECT")]
    pub only: Vec<String>,
    /// Leave these projects out (repeatable, or comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "PROJECT")]
    pub skip: Vec<String>,
    /// How many projects run at once [default: `[maintain] jobs`, else the number of cores].
    #[arg(long, short)]
    pub jobs: Option<NonZeroUsize>,
    /// The round id (state records, chat metadata) [default: today's date, YYYY-MM-DD].
    #[arg(long)]
    pub round: Option<String>,
    /// The round's date, for the branch name and templates [default: today, or the date in
    /// the round id].
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: Option<NaiveDate>,
    /// Run projects that failed in an earlier run of this round again.
    #[arg(long)]
    pub retry_failed: bool,
    /// Work only this share of the projects: shard I of N (1-based; a project's shard
    /// follows from its name). The round's summary is then posted by `maintain report`.
    /// [default: GitLab's `CI_NODE_INDEX`/`CI_NODE_TOTAL`, or a Kubernetes Indexed Job's
    /// `JOB_COMPLETION_INDEX` with --shards]
    #[arg(long, value_name = "I/N", env = "UPKEEP_SHARD")]
    pub shard: Option<String>,
    /// How many shards the round has, with a Kubernetes Indexed Job's
    /// `JOB_COMPLETION_INDEX` (the Job's completions).
    #[arg(long, value_name = "N", env = "UPKEEP_SHARDS")]
    pub shards: Option<u32>,
    /// With a shard: work only its own projects; do not help other running shards with
    /// projects nobody started.
    #[arg(long)]
    pub own_share_only: bool,
}

/// The round's id and date from the flags: today by default, the date inside a
/// `YYYY-MM-DD` round id otherwise.
pub(crate) fn round_id_and_date(
    round: Option<&str>,
    date: Option<NaiveDate>,
) -> (String, NaiveDate) {
    let today = chrono::Local::now().date_naive();
    match (round, date) {
        (Some(r), Some(d)) => (r.to_owned(), d),
        (Some(r), None) => (
            r.to_owned(),
            NaiveDate::parse_from_str(r.get(..10).unwrap_or(r), "%Y-%m-%d").unwrap_or(today),
        ),
        (None, Some(d)) => (d.format("%Y-%m-%d").to_string(), d),
        (None, None) => (today.format("%Y-%m-%d").to_string(), today),
    }
}

/// Cancels `token` on the first Ctrl-C (SIGINT) or SIGTERM.
pub(crate) fn cancel_on_signals(token: &CancellationToken) {
    let token = token.clone();
    tokio::spawn(async move {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let terminated = async {
            match term.as_mut() {
                Some(t) => {
                    t.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = terminated => {}
        }
        tracing::warn!("interrupted: stopping running steps and saving the state");
        token.cancel();
    });
}

/// Runs `maintain run`.
pub(crate) async fn run(
    config_path: &Path,
    tokens: &Tokens,
    global: &GlobalArgs,
    args: RunArgs,
) -> Result<Exit, Report> {
    let config = wiring::load_config(config_path)?;
    let maintain = wiring::maintain_section(&config)?;
    let (id, date) = round_id_and_date(args.round.as_deref(), args.date);
    let state = state_cmd::state_setup(&config, tokens)?;
    // The round's set: resolved once (recorded in the round's state), reused by re-runs
    // and by every shard.
    let round_set = wiring::project_set(
        &config,
        &maintain,
        tokens,
        state.store.clone(),
        &id,
        !args.dry_run,
    )
    .await?;
    let maintain = round_set.maintain;
    for w in &round_set.set.warnings {
        tracing::warn!("{w}");
    }
    let (selected, excluded) =
        upkeep_maintain::select(&maintain, &args.only, &args.skip).map_err(|e| match &e {
            upkeep_maintain::Error::UnknownProject { known, .. } => {
                let hint = format!("configured projects: {}", known.join(", "));
                Report::user(e).hint(hint)
            }
            _ => Report::user(e),
        })?;
    let resolved: Vec<_> = selected.iter().map(|p| maintain.resolve(p)).collect();
    check_repositories(&config, &maintain, &resolved)?;
    let setups = wiring::project_setups(&config, &resolved, tokens).await?;
    // The library never posts in a dry-run (the report carries the messages); the chat is
    // only read, for the skip reactions, and a missing Slack token does not stop it.
    let display = Arc::new(Display::new(global.quiet || global.output == Output::Json));
    let console = display.console(wiring::console_out(global.output));
    let chat: Arc<dyn ChatThreads> = match wiring::chat(&maintain, tokens, console) {
        Ok(chat) if !args.dry_run || maintain.chat.kind != upkeep_config::ChatKind::Console => chat,
        Err(report) if !args.dry_run => return Err(report),
        _ => Arc::new(ConsoleChat::new(std::io::sink(), ConsoleFormat::Text)),
    };
    let shard = state_cmd::shard(
        args.shard.as_deref(),
        args.shards,
        &state_cmd::CiShardVars::from_env(),
    )?;
    let jobs = args.jobs.unwrap_or_else(|| maintain.jobs());
    let cancel = CancellationToken::new();
    cancel_on_signals(&cancel);
    let round = Round {
        id,
        date,
        config: Arc::new(maintain.clone()),
        projects: setups,
        excluded,
        shard,
        help_other_shards: !args.own_share_only,
        jobs,
        dry_run: args.dry_run,
        retry_failed: args.retry_failed,
        state,
        chat,
        progress: display.clone(),
        cancel: cancel.clone(),
        author: Author::new("upkeep", "upkeep@localhost"),
    };
    let report = upkeep_maintain::run_round(round).await.map_err(|e| {
        Report::failure(e).hint("the state store keeps what was done; re-run to resume")
    })?;
    display.finish();
    print_report(&report, &maintain, global.output).await?;
    Ok(exit_for(&report))
}

/// Projects whose `repo` is a local path without a repository, with where the file says so.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.join("\n"))]
struct MissingRepositories(Vec<String>);

/// A local `repo` path without a repository is a mistake in the configuration: refused
/// before anything runs (exit 2), naming the file and key of each.
fn check_repositories(
    config: &upkeep_config::Config,
    maintain: &upkeep_config::MaintainConfig,
    projects: &[upkeep_config::ResolvedProject],
) -> Result<(), Report> {
    let missing: Vec<upkeep_maintain::MissingRepository> = projects
        .iter()
        .filter_map(upkeep_maintain::missing_repository)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let lines = missing
        .iter()
        .map(|m| {
            let index = maintain
                .projects
                .iter()
                .position(|p| p.name == m.project)
                .unwrap_or_default();
            format!(
                "{}: `maintain.projects[{index}].repo`: {m}",
                config.path.display()
            )
        })
        .collect();
    let names: Vec<&str> = missing.iter().map(|m| m.project.as_str()).collect();
    Err(Report::user(MissingRepositories(lines))
        .hint("set `repo` to the repository's path or URL (a relative path is read from the configuration file's directory)")
        .hint(format!("or leave it out: --skip {}", names.join(","))))
}

/// The exit code a round maps to: interrupted, then a project failed (or has not
/// ended), then the state store did not take everything; else success.
pub(crate) fn exit_for(report: &RoundReport) -> Exit {
    if report.interrupted {
        Exit::Interrupted
    } else if report.has_failures() {
        Exit::Partial
    } else if !report.state_saved {
        Exit::Failure
    } else {
        Exit::Success
    }
}

/// Prints the report on stdout (and, in a dry-run, the change requests and messages that
/// would have been sent).
#[allow(clippy::print_stdout)] // The report is the command's data.
pub(crate) async fn print_report(
    report: &RoundReport,
    maintain: &upkeep_config::MaintainConfig,
    output: Output,
) -> Result<(), Report> {
    match output {
        Output::Json => return upkeep_cli::print_json(&report.to_json()).map_err(Report::failure),
        Output::Markdown => {
            crate::deps_cmd::print_stdout(&upkeep_maintain::render::markdown::round_report(report));
            return Ok(());
        }
        Output::Text => {}
    }
    if report.dry_run {
        println!("Dry run: nothing was pushed, opened or posted.\n");
        for p in &report.projects {
            if let Some(spec) = &p.planned_change_request {
                println!("── change request that would be opened for {} ──", p.name);
                println!("{} → {}", spec.head, spec.base);
                println!("Title: {}\n", spec.title);
                println!("{}\n", spec.body.trim_end());
            }
        }
        println!("── messages that would be posted ──");
        let channel = maintain.chat.channel.clone();
        let preview = ConsoleChat::new(std::io::stdout(), ConsoleFormat::Text)
            .with_channel(channel.unwrap_or_else(|| "#maintenance".to_owned()))
            .with_playbook(wiring::playbook(maintain));
        if let Some(summary) = &report.summary {
            let _ = preview.post_summary(summary).await;
        }
        for m in &report.messages {
            let _ = preview.open_or_continue_thread(m).await;
        }
        println!();
    }
    print!("{}", report.render_text());
    Ok(())
}

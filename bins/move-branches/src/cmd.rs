//! The subcommands: each builds the library inputs, calls the library, prints.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::sync::Arc;

use chrono::Utc;
use serde::Serialize;
use upkeep_branches::apply::RepoResult;
use upkeep_branches::apply::{ApplyEvent, Progress};
use upkeep_branches::gates::{GateContext, GateReport};
use upkeep_branches::history::{
    Command as HistoryCommand, History, HistoryEntry, HistoryStore, SCHEMA,
};
use upkeep_branches::{
    ApplyOptions, ApplyReport, Override, Plan, PlanOptions, RepoOutcome, RepoSpec, RunResult,
    StatusOptions, render,
};
use upkeep_cli::{Exit, Output, Report};
use upkeep_config::{BranchesConfig, Config};
use upkeep_git::Author;

use crate::args::{ApprovalArgs, Cli, PlanArgs, RollbackArgs, RunArgs, Selection, StatusArgs};
use crate::notify::Notifier;
use crate::setup::{self, Forges};
use crate::token;

/// Everything a subcommand needs.
struct Ctx {
    config: Config,
    forges: Forges,
    output: Output,
    actor: String,
    notifier: Notifier,
    /// The deploy token's fencing number while held.
    fencing: Option<u64>,
}

impl Ctx {
    fn new(cli: &Cli) -> Result<Self, Report> {
        let config = setup::load(&cli.config)?;
        let forges = Forges::new(&config.state_dir, cli.secrets.clone());
        let actor = cli
            .actor
            .clone()
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "unknown".to_owned());
        let notifier = Notifier {
            config: config
                .branches
                .as_ref()
                .map(|b| b.notify.clone())
                .unwrap_or_default(),
            slack_token: cli.secrets.slack_api_token.clone(),
            slack_api_url: cli.secrets.slack_api_url.clone(),
            sentry_dsn: cli.secrets.sentry_dsn.clone(),
        };
        Ok(Self {
            config,
            forges,
            output: cli.global.output,
            actor,
            notifier,
            fencing: None,
        })
    }

    fn branches(&self) -> &BranchesConfig {
        self.config.branches.as_ref().expect("checked when loading")
    }

    fn text(&self) -> bool {
        self.output == Output::Text
    }
}

/// Prints text on stdout (data), only in text mode.
#[allow(clippy::print_stdout)]
fn out(ctx: &Ctx, text: &str) {
    if ctx.text() {
        print!("{text}");
        if !text.ends_with('\n') {
            println!();
        }
    }
}

/// A message for people on stderr.
#[allow(clippy::print_stderr)]
fn say(text: &str) {
    eprintln!("{text}");
}

fn lib_error(e: upkeep_branches::Error) -> Report {
    let hint = match &e {
        upkeep_branches::Error::AmbiguousRev { .. } => Some("give more hex digits of the SHA"),
        upkeep_branches::Error::Backwards { .. } => {
            Some("to move a branch back, use `move-branches rollback <repo> --to <rev>`")
        }
        upkeep_branches::Error::DigestMismatch { .. } => {
            Some("review the new plan (`move-branches plan`) and approve its digest")
        }
        upkeep_branches::Error::UnknownRepo { .. } => {
            Some("overrides are --<repo>=<rev> or --to <repo>=<rev> with a configured repo name")
        }
        upkeep_branches::Error::Diverged { .. } => {
            Some("`move-branches status` lists the drift commits")
        }
        upkeep_branches::Error::NoEarlierPromotion { .. } => {
            Some("pass --to <rev> to choose the commit")
        }
        _ => None,
    };
    let user = e.is_user_error();
    let mut r = if user {
        Report::user(e)
    } else {
        Report::failure(e)
    };
    if let Some(h) = hint {
        r = r.hint(h);
    }
    r
}

fn overrides(sel: &Selection) -> Result<Vec<Override>, Report> {
    sel.to
        .iter()
        .map(|s| s.parse::<Override>().map_err(lib_error))
        .collect()
}

async fn make_plan(ctx: &mut Ctx, sel: &Selection) -> Result<(Vec<RepoSpec>, Plan), Report> {
    let branches = ctx.branches().clone();
    let specs = setup::repo_specs(&branches, &mut ctx.forges, &sel.skip).await?;
    let tag = sel.tag || branches.tagging.enabled;
    let options = PlanOptions {
        overrides: overrides(sel)?,
        cache_dir: branches.cache.clone(),
        tag_prefix: tag.then(|| branches.tagging.prefix.clone()),
    };
    let plan = upkeep_branches::plan(&specs, &options)
        .await
        .map_err(lib_error)?;
    Ok((specs, plan))
}

async fn evaluate_gates(
    ctx: &mut Ctx,
    plan: &Plan,
    specs: &[RepoSpec],
    history: &History,
) -> Result<GateReport, Report> {
    let branches = ctx.branches().clone();
    let gates = setup::gates(&branches, &ctx.config.base_dir, &mut ctx.forges).await?;
    let gctx = GateContext {
        now: Utc::now(),
        last_promotion: history.last_promotion_time(),
    };
    Ok(upkeep_branches::gates::evaluate(&gates, plan, specs, &gctx).await)
}

#[derive(Serialize)]
struct PlanDoc<'a> {
    plan: &'a Plan,
    #[serde(skip_serializing_if = "Option::is_none")]
    gates: Option<&'a GateReport>,
}

/// `plan`.
pub async fn plan(cli: &Cli, args: &PlanArgs) -> Result<Exit, Report> {
    let mut ctx = Ctx::new(cli)?;
    let (specs, plan) = make_plan(&mut ctx, &args.selection).await?;
    out(&ctx, &render::plan(&plan));
    let gates = if args.no_gates {
        None
    } else {
        let store = setup::history(ctx.branches(), &ctx.forges);
        let history = read_history(store.as_ref())?;
        let g = evaluate_gates(&mut ctx, &plan, &specs, &history).await?;
        out(&ctx, &render::gates(&g));
        Some(g)
    };
    if ctx.text() {
        if plan.is_noop() {
            say("nothing to do: every target is even with the plan");
        } else {
            say(&format!(
                "to apply exactly this plan: move-branches run --approve {}",
                plan.digest
            ));
        }
    } else {
        upkeep_cli::print_json(&PlanDoc {
            plan: &plan,
            gates: gates.as_ref(),
        })
        .map_err(Report::failure)?;
    }
    Ok(Exit::Success)
}

#[derive(Serialize)]
struct RunDoc<'a> {
    plan: &'a Plan,
    gates: &'a GateReport,
    #[serde(skip_serializing_if = "Option::is_none")]
    report: Option<&'a ApplyReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    history_commit: Option<String>,
    message: String,
}

/// How an approval went.
enum Approval {
    Approved,
    Declined,
    NoTerminal,
}

fn approve(
    args: &ApprovalArgs,
    plan: &Plan,
    question: &str,
) -> Result<Approval, upkeep_branches::Error> {
    if let Some(d) = &args.approve {
        plan.check_approval(d)?;
        return Ok(Approval::Approved);
    }
    if args.yes {
        return Ok(Approval::Approved);
    }
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Ok(Approval::NoTerminal);
    }
    let mut stderr = std::io::stderr();
    let _ = write!(stderr, "{question} (plan {}) [y/N] ", plan.digest);
    let _ = stderr.flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    Ok(
        if matches!(line.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
            Approval::Approved
        } else {
            Approval::Declined
        },
    )
}

fn progress(text: bool) -> Progress {
    Arc::new(move |e: &ApplyEvent| {
        if !text {
            return;
        }
        match e {
            ApplyEvent::Moving { repo } => say(&format!("moving {repo} …")),
            ApplyEvent::Waiting {
                repo,
                verdict,
                waited,
                deadline,
            } => say(&format!(
                "waiting for CI on {repo}'s new tip: {verdict} ({}s of {}s)",
                waited.as_secs(),
                deadline.as_secs()
            )),
            ApplyEvent::Stopped { level, reason } => {
                say(&format!("stopping before level {}: {reason}", level + 1));
            }
            _ => {}
        }
    })
}

fn read_history(store: Option<&HistoryStore>) -> Result<History, Report> {
    match store {
        Some(s) => s
            .read()
            .map_err(|e| lib_error(e).hint("check `[branches.history]`")),
        None => Ok(History::default()),
    }
}

/// Records `entry` (unless there is no history configured); a failure to record is
/// reported on stderr but does not change what happened to the branches.
fn record(store: Option<&HistoryStore>, entry: &HistoryEntry) -> Option<String> {
    let store = store?;
    let author = Author::new(entry.who.clone(), "move-branches@upkeep");
    match store.append(entry, &author) {
        Ok(a) => Some(a.commit),
        Err(e) => {
            say(&lib_error(e)
                .hint("the branches moved as reported above; add the entry by hand")
                .render());
            None
        }
    }
}

/// The `started` entry written just before applying `plan`.
fn intent(ctx: &Ctx, command: HistoryCommand, plan: &Plan, gates: &GateReport) -> HistoryEntry {
    let repos = plan
        .repos
        .iter()
        .filter(|r| r.from != r.to)
        .map(|r| RepoResult {
            name: r.name.clone(),
            target: r.target.clone(),
            from: r.from.clone(),
            to: r.to.clone(),
            outcome: RepoOutcome::Planned,
            wait: None,
            tag: None,
        })
        .collect();
    HistoryEntry {
        schema: SCHEMA,
        command,
        who: ctx.actor.clone(),
        when: Utc::now(),
        digest: plan.digest.clone(),
        result: RunResult::Started,
        repos,
        gates: gates.summaries(),
        fencing: ctx.fencing,
        message: None,
    }
}

/// Where a run notes what it is about to apply (in the state directory): present only
/// while a run applies, or after one was killed doing so.
fn in_progress_path(ctx: &Ctx) -> std::path::PathBuf {
    ctx.config.state_dir.join("move-branches-in-progress.json")
}

/// Writes `entry` as JSON to `path` via a temporary file and a rename, so the note is
/// either whole or absent.
fn write_atomically(path: &std::path::Path, entry: &HistoryEntry) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(
        &tmp,
        serde_json::to_vec_pretty(entry).map_err(std::io::Error::other)?,
    )?;
    std::fs::rename(&tmp, path)
}

/// A note left by a run that was killed while applying: its moves are read off the
/// targets as planned now (a target at the note's `to` was moved by it) and recorded in
/// the history, so no promotion goes unrecorded and no entry claims a move that did not
/// happen.
fn reconcile_interrupted(ctx: &Ctx, store: Option<&HistoryStore>, plan: &Plan) {
    let note = in_progress_path(ctx);
    let Ok(bytes) = std::fs::read(&note) else {
        return;
    };
    let Ok(last) = serde_json::from_slice::<HistoryEntry>(&bytes) else {
        say(&format!("warning: ignoring unreadable {}", note.display()));
        let _ = std::fs::remove_file(&note);
        return;
    };
    // Killed after recording its result but before removing the note: nothing to add.
    // Otherwise, a move some entry already claims is not claimed twice.
    let history = read_history(store).unwrap_or_default();
    let recorded = history
        .entries
        .iter()
        .any(|e| e.digest == last.digest && e.when >= last.when && e.result != RunResult::Started);
    let claimed = |r: &RepoResult| {
        history.entries.iter().flat_map(|e| &e.repos).any(|h| {
            h.outcome == RepoOutcome::Moved && h.name == r.name && h.from == r.from && h.to == r.to
        })
    };
    if recorded {
        let _ = std::fs::remove_file(&note);
        return;
    }
    let repos: Vec<RepoResult> = last
        .repos
        .iter()
        .filter(|r| !claimed(r))
        .filter_map(|r| {
            let now = plan.repos.iter().find(|p| p.name == r.name)?;
            let outcome = if now.from == r.to {
                RepoOutcome::Moved
            } else {
                RepoOutcome::Failed {
                    error: "not moved: the run was interrupted".to_owned(),
                }
            };
            Some(RepoResult {
                outcome,
                ..r.clone()
            })
        })
        .collect();
    if repos.is_empty() {
        let _ = std::fs::remove_file(&note);
        return;
    }
    let moved = repos
        .iter()
        .filter(|r| r.outcome == RepoOutcome::Moved)
        .count();
    let result = match moved {
        0 => RunResult::Failed,
        n if n == repos.len() => RunResult::Success,
        _ => RunResult::Partial,
    };
    say(&format!(
        "the run of {} (plan {}) was interrupted: recording the {moved} move(s) it made",
        last.who, last.digest
    ));
    let entry = HistoryEntry {
        when: Utc::now(),
        result,
        repos,
        message: Some(format!(
            "recorded by {} after this run was interrupted before recording its result",
            ctx.actor
        )),
        ..last
    };
    if store.is_none() || record(store, &entry).is_some() {
        let _ = std::fs::remove_file(&note);
    }
}

#[allow(clippy::too_many_arguments)]
fn entry(
    ctx: &Ctx,
    command: HistoryCommand,
    plan: &Plan,
    gates: &GateReport,
    report: &ApplyReport,
    message: Option<String>,
) -> HistoryEntry {
    HistoryEntry {
        schema: SCHEMA,
        command,
        who: ctx.actor.clone(),
        when: Utc::now(),
        digest: plan.digest.clone(),
        result: report.result,
        repos: report.repos.clone(),
        gates: gates.summaries(),
        fencing: ctx.fencing,
        message,
    }
}

/// Asks for approval: `Err(message)` when not approved (nothing is to change).
fn ask(
    args: &ApprovalArgs,
    plan: &Plan,
    question: &str,
    how: &str,
) -> Result<Result<(), String>, Report> {
    Ok(match approve(args, plan, question).map_err(lib_error)? {
        Approval::Approved => Ok(()),
        Approval::Declined => Err("not approved: nothing moved".to_owned()),
        Approval::NoTerminal => Err(format!(
            "no terminal to ask for approval, and neither --yes nor --approve: nothing moved.\n\
             to apply exactly this plan: {how}"
        )),
    })
}

/// A gate failed: record the refusal, tell the team when a job; returns the history
/// commit and the message.
async fn refuse(
    ctx: &Ctx,
    approval: &ApprovalArgs,
    store: Option<&HistoryStore>,
    plan: &Plan,
    gates: &GateReport,
) -> (Option<String>, String) {
    let failed: Vec<String> = gates
        .failures()
        .map(|g| format!("{}: {}", g.name, g.summary))
        .collect();
    let message = format!(
        "refused: gate failed, nothing moved ({})",
        failed.join("; ")
    );
    if approval.dry_run {
        return (None, message);
    }
    let report = ApplyReport::refused(plan);
    let commit = record(
        store,
        &entry(
            ctx,
            HistoryCommand::Run,
            plan,
            gates,
            &report,
            Some(message.clone()),
        ),
    );
    if approval.job {
        let text = format!(
            "move-branches run by {}: refused, nothing moved (plan {})\n{}",
            ctx.actor,
            plan.digest,
            render::gates(gates)
        );
        let tags = [
            ("result", "refused".to_owned()),
            ("digest", plan.digest.clone()),
        ];
        ctx.notifier.send(&text, Some(&message), &tags).await;
    }
    (commit, message)
}

/// Applies under the deploy token (when configured) and records the history.
async fn apply_recorded(
    ctx: &mut Ctx,
    command: HistoryCommand,
    plan: &Plan,
    specs: &[RepoSpec],
    options: &ApplyOptions,
    store: Option<&HistoryStore>,
    gates: &GateReport,
) -> Result<(ApplyReport, Option<String>), Report> {
    let what = match command {
        HistoryCommand::Run => "run",
        HistoryCommand::Rollback => "rollback",
    };
    let reason = format!("move-branches {what} (plan {})", plan.digest);
    let token = token::hold(&ctx.config, &ctx.forges, &ctx.actor, &reason)?;
    ctx.fencing = token.as_ref().map(|t| t.fencing);
    let options = ApplyOptions {
        guard: token.as_ref().map(token::Token::guard),
        ..options.clone()
    };
    // Before any move: if this process is killed mid-apply, the next run finds this note
    // and records what was moved (see `reconcile_interrupted`).
    let note = in_progress_path(ctx);
    if let Err(e) = write_atomically(&note, &intent(ctx, command, plan, gates)) {
        say(&format!("warning: cannot write {}: {e}", note.display()));
    }
    let report = upkeep_branches::apply(plan, specs, &options, &progress(ctx.text())).await;
    let commit = record(store, &entry(ctx, command, plan, gates, &report, None));
    let _ = std::fs::remove_file(&note);
    if let Some(t) = token {
        t.finish();
    }
    Ok((report, commit))
}

/// `run`.
pub async fn run(cli: &Cli, args: &RunArgs) -> Result<Exit, Report> {
    let mut ctx = Ctx::new(cli)?;
    let branches = ctx.branches().clone();
    let store = setup::history(&branches, &ctx.forges);
    let (specs, plan) = make_plan(&mut ctx, &args.selection).await?;
    reconcile_interrupted(&ctx, store.as_ref(), &plan);
    out(&ctx, &render::plan(&plan));
    let finish = |ctx: &Ctx,
                  gates: &GateReport,
                  report: Option<&ApplyReport>,
                  commit: Option<String>,
                  message: &str| {
        if ctx.text() {
            if let Some(r) = report {
                out(ctx, &render::report(r));
            }
            say(message);
            Ok(())
        } else {
            upkeep_cli::print_json(&RunDoc {
                plan: &plan,
                gates,
                report,
                history_commit: commit,
                message: message.to_owned(),
            })
            .map_err(Report::failure)
        }
    };
    if plan.is_noop() {
        finish(
            &ctx,
            &GateReport::default(),
            None,
            None,
            "nothing to do: every target is even with the plan",
        )?;
        return Ok(Exit::Success);
    }
    let history = read_history(store.as_ref())?;
    let gates = evaluate_gates(&mut ctx, &plan, &specs, &history).await?;
    out(&ctx, &render::gates(&gates));
    if !gates.passed() {
        let (commit, message) = refuse(&ctx, &args.approval, store.as_ref(), &plan, &gates).await;
        finish(&ctx, &gates, None, commit, &message)?;
        return Ok(Exit::UserError);
    }
    if args.approval.dry_run {
        finish(
            &ctx,
            &gates,
            None,
            None,
            &format!("dry run: gates pass, nothing moved (plan {})", plan.digest),
        )?;
        return Ok(Exit::Success);
    }
    let how = format!("move-branches run --approve {}", plan.digest);
    if let Err(message) = ask(&args.approval, &plan, "Move these branches?", &how)? {
        finish(&ctx, &gates, None, None, &message)?;
        return Ok(not_approved(&ctx, &plan, args.approval.job, &message).await);
    }
    let options = ApplyOptions {
        wait_deadline: branches.wait.deadline.get(),
        poll_interval: branches.wait.poll_interval.get(),
        required_checks: branches.ci.required_checks.clone(),
        tag: args.selection.tag || branches.tagging.enabled,
        rollback: false,
        guard: None,
    };
    let specs: Vec<RepoSpec> = if args.no_wait {
        specs
            .into_iter()
            .map(|s| RepoSpec {
                wait_after: false,
                ..s
            })
            .collect()
    } else {
        specs
    };
    let (report, commit) = apply_recorded(
        &mut ctx,
        HistoryCommand::Run,
        &plan,
        &specs,
        &options,
        store.as_ref(),
        &gates,
    )
    .await?;
    let message = run_message(&plan, &report);
    if args.approval.job {
        notify_result(&ctx, "run", &plan, &report, &message).await;
    }
    finish(&ctx, &gates, Some(&report), commit, &message)?;
    Ok(exit_for(report.result))
}

/// Nothing was approved: by hand that is a fine outcome; as a job it must not pass
/// silently, so the team is told and the exit code says so.
async fn not_approved(ctx: &Ctx, plan: &Plan, job: bool, message: &str) -> Exit {
    if !job {
        return Exit::Success;
    }
    notify_unapproved(ctx, plan, message).await;
    Exit::UserError
}

/// Tells the team that a scheduled promotion was not approved.
async fn notify_unapproved(ctx: &Ctx, plan: &Plan, message: &str) {
    let text = format!(
        "move-branches run by {}: not approved, nothing moved (plan {})\n{message}",
        ctx.actor, plan.digest
    );
    let tags = [
        ("result", "not_approved".to_owned()),
        ("digest", plan.digest.clone()),
    ];
    ctx.notifier.send(&text, Some(message), &tags).await;
}

/// As a job: the result to Slack; failures also to Sentry.
async fn notify_result(ctx: &Ctx, what: &str, plan: &Plan, report: &ApplyReport, message: &str) {
    let text = format!(
        "move-branches {what} by {}: {} (plan {})\n{}",
        ctx.actor,
        report.result,
        plan.digest,
        render::report(report)
    );
    let failure = (report.result != RunResult::Success).then_some(message);
    let tags = [
        ("result", report.result.to_string()),
        ("digest", plan.digest.clone()),
    ];
    ctx.notifier.send(&text, failure, &tags).await;
}

fn run_message(plan: &Plan, report: &ApplyReport) -> String {
    let message = match report.result {
        RunResult::Success => format!("done: plan {} applied", plan.digest),
        RunResult::Partial => format!(
            "PARTIAL: plan {} was applied only in part; see which repos moved above",
            plan.digest
        ),
        RunResult::Refused => format!("REFUSED: nothing moved (plan {})", plan.digest),
        RunResult::Failed | RunResult::Started => {
            format!("FAILED: nothing moved (plan {})", plan.digest)
        }
    };
    match stop_reason(report) {
        Some(reason) => format!(
            "{message}\nstopped: {reason}\n\
             hint: `deploy-token status` shows who holds the deploy token now"
        ),
        None => message,
    }
}

/// Why the run stopped between levels, when it did.
fn stop_reason(report: &ApplyReport) -> Option<&str> {
    report.repos.iter().find_map(|r| match &r.outcome {
        RepoOutcome::Stopped { reason } => Some(reason.as_str()),
        _ => None,
    })
}

fn exit_for(result: RunResult) -> Exit {
    match result {
        RunResult::Success => Exit::Success,
        RunResult::Partial => Exit::Partial,
        RunResult::Failed | RunResult::Started => Exit::Failure,
        RunResult::Refused => Exit::UserError,
    }
}

/// `status`.
pub async fn status(cli: &Cli, args: &StatusArgs) -> Result<Exit, Report> {
    let mut ctx = Ctx::new(cli)?;
    let branches = ctx.branches().clone();
    let known: Vec<String> = branches
        .repo_names()
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    for r in &args.repos {
        if !known.contains(r) {
            return Err(lib_error(upkeep_branches::Error::UnknownRepo {
                name: r.clone(),
                known: known.clone(),
            }));
        }
    }
    let skip: Vec<String> = if args.repos.is_empty() {
        Vec::new()
    } else {
        known
            .iter()
            .filter(|k| !args.repos.contains(k))
            .cloned()
            .collect()
    };
    let specs = setup::repo_specs(&branches, &mut ctx.forges, &skip).await?;
    let store = setup::history(&branches, &ctx.forges);
    let history = match &store {
        Some(s) => Some(read_history(Some(s))?),
        None => None,
    };
    let options = StatusOptions {
        cache_dir: branches.cache.clone(),
        tag_prefix: branches.tagging.prefix.clone(),
        history,
    };
    let statuses = upkeep_branches::status(&specs, &options).await;
    if ctx.text() {
        out(&ctx, &render::status(&statuses));
    } else {
        upkeep_cli::print_json(&statuses).map_err(Report::failure)?;
    }
    Ok(if statuses.iter().any(|s| s.error.is_some()) {
        Exit::Partial
    } else {
        Exit::Success
    })
}

/// `rollback`.
pub async fn rollback(cli: &Cli, args: &RollbackArgs) -> Result<Exit, Report> {
    let mut ctx = Ctx::new(cli)?;
    let branches = ctx.branches().clone();
    let known: Vec<String> = branches
        .repo_names()
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    if !known.contains(&args.repo) {
        return Err(lib_error(upkeep_branches::Error::UnknownRepo {
            name: args.repo.clone(),
            known,
        }));
    }
    let skip: Vec<String> = known.into_iter().filter(|k| *k != args.repo).collect();
    let specs = setup::repo_specs(&branches, &mut ctx.forges, &skip).await?;
    let store = setup::history(&branches, &ctx.forges);
    let history = read_history(store.as_ref())?;
    let plan =
        upkeep_branches::plan_rollback(&specs[0], &history, args.to.as_deref(), &branches.cache)
            .await
            .map_err(lib_error)?;
    out(&ctx, &render::rollback(&plan));
    let gates = GateReport::default();
    let finish =
        |ctx: &Ctx, report: Option<&ApplyReport>, commit: Option<String>, message: &str| {
            if ctx.text() {
                if let Some(r) = report {
                    out(ctx, &render::report(r));
                }
                say(message);
                Ok(())
            } else {
                upkeep_cli::print_json(&RunDoc {
                    plan: &plan,
                    gates: &gates,
                    report,
                    history_commit: commit,
                    message: message.to_owned(),
                })
                .map_err(Report::failure)
            }
        };
    if args.approval.dry_run {
        finish(&ctx, None, None, "dry run: nothing moved")?;
        return Ok(Exit::Success);
    }
    let how = format!(
        "move-branches rollback {} --approve {}",
        args.repo, plan.digest
    );
    if let Err(message) = ask(&args.approval, &plan, "Roll back?", &how)? {
        finish(&ctx, None, None, &message)?;
        return Ok(Exit::Success);
    }
    let options = ApplyOptions {
        rollback: true,
        ..ApplyOptions::default()
    };
    let (report, commit) = apply_recorded(
        &mut ctx,
        HistoryCommand::Rollback,
        &plan,
        &specs,
        &options,
        store.as_ref(),
        &gates,
    )
    .await?;
    let message = match (report.result, stop_reason(&report)) {
        (RunResult::Success, _) => format!("done: rolled back (plan {})", plan.digest),
        (_, Some(reason)) => format!(
            "REFUSED: nothing moved (plan {}): {reason}\n\
             hint: `deploy-token status` shows who holds the deploy token now",
            plan.digest
        ),
        (_, None) => format!(
            "FAILED: the rollback did not complete (plan {})",
            plan.digest
        ),
    };
    if args.approval.job {
        notify_result(&ctx, "rollback", &plan, &report, &message).await;
    }
    finish(&ctx, Some(&report), commit, &message)?;
    Ok(exit_for(report.result))
}

//! The subcommands: each builds one library request, makes one call, prints.

use std::fmt::Write as _;
use std::sync::Arc;

use upkeep_branches::apply::ApplyEvent;
use upkeep_branches::{
    ApplyOptions, ApproveAll, ApproveDigest, Approver, End, Job, JobEvent, LocalNotes, NoteStore,
    Outcome, Override, PlanOptions, Promotion, Refusal, RepoOutcome, Rollback, RunResult,
    StateNotes, StatusOptions, render,
};
use upkeep_cli::{Exit, Report, TextOrJson};
use upkeep_config::{BranchesConfig, Config};

use crate::args::{ApprovalArgs, Cli, PlanArgs, RollbackArgs, RunArgs, Selection, StatusArgs};
use crate::prompt::Prompt;
use crate::setup::{self, Forges};

/// Everything a subcommand needs.
struct Ctx<'a> {
    cli: &'a Cli,
    config: Config,
    forges: Forges,
}

impl<'a> Ctx<'a> {
    fn new(cli: &'a Cli) -> Result<Self, Report> {
        let config = setup::load(&cli.config)?;
        let forges = Forges::new(&config, cli.secrets.secrets())?;
        Ok(Self {
            cli,
            config,
            forges,
        })
    }

    fn branches(&self) -> BranchesConfig {
        self.config.branches.clone().expect("checked when loading")
    }

    /// The configured repo names; `Err` names them when `given` has one that is not.
    fn known_repos<'n>(
        &self,
        given: impl IntoIterator<Item = &'n String>,
    ) -> Result<Vec<String>, Report> {
        let known: Vec<String> = self
            .branches()
            .repo_names()
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        match given.into_iter().find(|r| !known.contains(r)) {
            Some(r) => Err(unknown_repo(r, known, "repo")),
            None => Ok(known),
        }
    }

    fn text(&self) -> bool {
        self.cli.command.output() == TextOrJson::Text
    }

    /// Who runs this: `--actor`, else git's `user.name`, else `$USER` — as
    /// `deploy-token` decides it.
    fn actor(&self) -> Result<String, Report> {
        self.cli.actor.resolve()
    }
}

/// Prints data on stdout, in text mode only.
#[allow(clippy::print_stdout)]
fn out(text: bool, data: &str) {
    if text {
        print!("{data}");
        if !data.ends_with('\n') {
            println!();
        }
    }
}

/// A message for people on stderr.
#[allow(clippy::print_stderr)]
pub(crate) fn say(text: &str) {
    eprintln!("{text}");
}

/// An unknown repo name given as `what` (an override, `--skip`, a `status` argument),
/// with the closest configured name when it looks like a typo.
pub(crate) fn unknown_repo(name: &str, known: Vec<String>, what: &str) -> Report {
    let names: Vec<&str> = known.iter().map(String::as_str).collect();
    let guess = upkeep_config::did_you_mean(name, &names).map(str::to_owned);
    let mut r = Report::user(upkeep_branches::Error::UnknownRepo {
        name: name.to_owned(),
        known,
    });
    if let Some(g) = guess {
        r = r.hint(if what == "override" {
            format!("did you mean `--{g}`?")
        } else {
            format!("did you mean `{g}`?")
        });
    }
    if what == "override" {
        r = r.hint("overrides are --<repo>=<rev> or --to <repo>=<rev> with a configured repo name");
    }
    r
}

fn lib_error(e: upkeep_branches::Error) -> Report {
    use upkeep_branches::Error as E;
    if let E::UnknownRepo { name, known } = e {
        return unknown_repo(&name, known, "override");
    }
    if let E::ApprovalSetup { source, .. } = &e {
        let hint = crate::approval::hint(source);
        let r = if e.is_user_error() {
            Report::user(e)
        } else {
            Report::failure(e)
        };
        return match hint {
            Some(h) => r.hint(h),
            None => r,
        };
    }
    let hint = match &e {
        E::AmbiguousRev { .. } => Some("give more hex digits of the SHA"),
        E::Backwards { .. } => {
            Some("to move a branch back, use `move-branches rollback <repo> --to <rev>`")
        }
        E::Diverged { .. } => Some("`move-branches status` lists the drift commits"),
        E::NoEarlierPromotion { .. } => Some("pass --to <rev> to choose the commit"),
        E::TokenHeld { .. } => {
            Some("wait until it is released, or ask its holder (`deploy-token status`)")
        }
        E::TokenNotHeld { .. } => {
            Some("take it first: deploy-token acquire --reason \"promote stable\"")
        }
        E::HistoryParse { .. } | E::HistoryContended { .. } => Some("check `[branches.history]`"),
        E::Git { repo, .. } if repo == "history" => Some("check `[branches.history]`"),
        E::Note { .. } => Some(
            "check that the state directory (`state_dir`) is writable, or with [state] repo that the token may push to it",
        ),
        E::NoApprovers { .. } => {
            Some("name a person in [branches.approval.slack] approvers, or a group with members")
        }
        _ => None,
    };
    let r = if e.is_user_error() {
        Report::user(e)
    } else {
        Report::failure(e)
    };
    match hint {
        Some(h) => r.hint(h),
        None => r,
    }
}

fn overrides(sel: &Selection) -> Result<Vec<Override>, Report> {
    sel.to
        .iter()
        .map(|s| s.parse::<Override>().map_err(lib_error))
        .collect()
}

/// Prints what the job reports while it works: the plan and the gates on stdout (text
/// mode), progress and warnings on stderr.
fn events(text: bool, rollback: bool) -> upkeep_branches::job::Events {
    Arc::new(move |event: &JobEvent<'_>| match event {
        JobEvent::Planned(plan) if rollback => out(text, &render::rollback(plan)),
        JobEvent::Planned(plan) => out(text, &render::plan(plan)),
        JobEvent::Gated(gates) => out(text, &render::gates(gates)),
        JobEvent::Recovered(entry) => say(&format!(
            "the run of {} (plan {}) was interrupted: recording the {} move(s) it made",
            render::one_line(&entry.who, render::MAX_NAME),
            entry.digest,
            entry
                .repos
                .iter()
                .filter(|r| r.outcome == RepoOutcome::Moved)
                .count()
        )),
        JobEvent::Apply(e) if text => progress(e),
        JobEvent::Warning(w) => say(&format!("warning: {w}")),
        _ => {}
    })
}

fn progress(event: &ApplyEvent) {
    match event {
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
        ApplyEvent::Stopped { level, reason } => say(&format!(
            "stopping before level {}: {}",
            level + 1,
            render::one_line(reason, render::MAX_LINE)
        )),
        _ => {}
    }
}

/// Where the note of a run in progress lives: the shared state repository when `[state]
/// repo` is set (a run killed with its CI runner is recovered on a fresh one), else
/// files under `<state_dir>/in-progress`.
fn notes(ctx: &Ctx<'_>) -> Result<Arc<dyn NoteStore>, Report> {
    Ok(
        match upkeep_cli::shared_state_store(&ctx.config.state, &ctx.cli.secrets.secrets())? {
            Some(store) => Arc::new(StateNotes::new(store)),
            None => Arc::new(LocalNotes::new(ctx.config.state_dir.join("in-progress"))),
        },
    )
}

/// The job around a run or rollback; `again` is the command that applies the same plan
/// (for the message when nobody can be asked).
fn job(
    ctx: &Ctx<'_>,
    approval: Option<&ApprovalArgs>,
    again: String,
    rollback: bool,
) -> Result<Job, Report> {
    let branches = ctx.branches();
    let key = upkeep_branches::note_key(branches.repo_names());
    let approver: Arc<dyn Approver> = match approval {
        Some(a) if a.yes => Arc::new(ApproveAll),
        Some(ApprovalArgs {
            approve: Some(d), ..
        }) => Arc::new(ApproveDigest { digest: d.clone() }),
        Some(a) if a.job && branches.approval.slack.is_some() => {
            let config = branches.approval.slack.as_ref().expect("checked above");
            let (approver, warning) = crate::approval::slack(config, &ctx.cli.secrets, &key)?;
            if let Some(w) = warning {
                say(&format!("warning: {w}"));
            }
            Arc::new(approver)
        }
        _ => Arc::new(Prompt {
            question: if rollback {
                "Roll back?"
            } else {
                "Move these branches?"
            },
            again,
        }),
    };
    let mut job = Job::new(ctx.actor()?, approver, notes(ctx)?, key);
    job.history = setup::history(&branches, &ctx.forges);
    job.deploy_token = setup::deploy_token(&ctx.config, &ctx.forges)?;
    job.dry_run = approval.is_some_and(|a| a.dry_run);
    job.events = events(ctx.text(), rollback);
    if approval.is_some_and(|a| a.job) {
        let (notifiers, warnings) = crate::notify::notifiers(&branches.notify, &ctx.cli.secrets);
        for w in warnings {
            say(&format!("warning: {w}"));
        }
        job.notifiers = notifiers;
    }
    Ok(job)
}

/// The promotion request `plan` and `run` make.
async fn promotion(
    ctx: &mut Ctx<'_>,
    sel: &Selection,
    approval: Option<&ApprovalArgs>,
    gates: bool,
) -> Result<Promotion, Report> {
    let branches = ctx.branches();
    let repos = setup::repo_specs(&branches, &mut ctx.forges, &sel.skip).await?;
    let gates = if gates {
        setup::gates(&branches, &ctx.config.base_dir, &mut ctx.forges).await?
    } else {
        upkeep_branches::gates::Gates::default()
    };
    let tag = sel.tag || branches.tagging.enabled;
    let mut again = String::from("move-branches run");
    for o in &sel.to {
        let _ = write!(again, " --to {o}");
    }
    for s in &sel.skip {
        let _ = write!(again, " --skip {s}");
    }
    if sel.tag {
        again.push_str(" --tag");
    }
    Ok(Promotion {
        repos,
        plan: PlanOptions {
            overrides: overrides(sel)?,
            cache_dir: branches.cache.clone(),
            tag_prefix: tag.then(|| branches.tagging.prefix.clone()),
        },
        skipped: sel.skip.clone(),
        gates,
        apply: ApplyOptions {
            wait_deadline: branches.wait.deadline.get(),
            poll_interval: branches.wait.poll_interval.get(),
            required_checks: branches.ci.required_checks.clone(),
            tag,
            ..ApplyOptions::default()
        },
        job: job(ctx, approval, again, false)?,
    })
}

/// `plan`.
pub(crate) async fn plan(cli: &Cli, args: &PlanArgs) -> Result<Exit, Report> {
    let mut ctx = Ctx::new(cli)?;
    let request = promotion(&mut ctx, &args.selection, None, !args.no_gates).await?;
    let (plan, gates) = upkeep_branches::preview(&request, !args.no_gates)
        .await
        .map_err(lib_error)?;
    if !ctx.text() {
        #[derive(serde::Serialize)]
        struct PlanDoc<'a> {
            plan: &'a upkeep_branches::Plan,
            #[serde(skip_serializing_if = "Option::is_none")]
            gates: Option<&'a upkeep_branches::gates::GateReport>,
        }
        let doc = PlanDoc {
            plan: &plan,
            gates: gates.as_ref(),
        };
        upkeep_cli::print_json(&doc).map_err(Report::failure)?;
        return Ok(Exit::Success);
    }
    out(true, &render::plan(&plan));
    if let Some(g) = &gates {
        out(true, &render::gates(g));
        gate_hints(g);
    }
    if plan.is_noop() {
        say("nothing to do: every target is even with the plan");
    } else {
        say(&format!(
            "to apply exactly this plan: move-branches run --approve {}",
            plan.digest
        ));
    }
    Ok(Exit::Success)
}

fn gate_hints(gates: &upkeep_branches::gates::GateReport) {
    for h in gates.failures().filter_map(|g| g.hint.as_deref()) {
        say(&format!("hint: {h}"));
    }
}

/// `run`.
pub(crate) async fn run(cli: &Cli, args: &RunArgs) -> Result<Exit, Report> {
    let mut ctx = Ctx::new(cli)?;
    let mut request = promotion(&mut ctx, &args.selection, Some(&args.approval), true).await?;
    if args.no_wait {
        for r in &mut request.repos {
            r.wait_after = false;
        }
    }
    let outcome = upkeep_branches::promote(&request)
        .await
        .map_err(lib_error)?;
    finish(&ctx, &outcome, args.approval.job)
}

/// `rollback`.
pub(crate) async fn rollback(cli: &Cli, args: &RollbackArgs) -> Result<Exit, Report> {
    let mut ctx = Ctx::new(cli)?;
    let branches = ctx.branches();
    let known = ctx.known_repos([&args.repo])?;
    let skip: Vec<String> = known.into_iter().filter(|k| *k != args.repo).collect();
    let mut specs = setup::repo_specs(&branches, &mut ctx.forges, &skip).await?;
    let again = format!("move-branches rollback {}", args.repo);
    let request = Rollback {
        repo: specs.remove(0),
        to: args.to.clone(),
        cache_dir: branches.cache.clone(),
        job: job(&ctx, Some(&args.approval), again, true)?,
    };
    let outcome = upkeep_branches::roll_back(&request)
        .await
        .map_err(lib_error)?;
    finish(&ctx, &outcome, args.approval.job)
}

/// Prints the outcome (the report and the message, or one JSON document) and maps it to
/// the exit code.
fn finish(ctx: &Ctx<'_>, outcome: &Outcome, job: bool) -> Result<Exit, Report> {
    let exit = match &outcome.end {
        End::NothingToDo | End::DryRun => Exit::Success,
        // By hand, not approving is a fine answer; a job nobody approved must not pass.
        End::NotApproved { .. } | End::Refused(Refusal::Rejected { .. }) if !job => Exit::Success,
        End::NotApproved { .. } | End::Refused(_) => Exit::UserError,
        End::Applied { result } => match result {
            RunResult::Success => Exit::Success,
            RunResult::Partial => Exit::Partial,
            RunResult::Failed | RunResult::Started => Exit::Failure,
            RunResult::Refused => Exit::UserError,
        },
    };
    if let Some(r) = &outcome.report {
        out(ctx.text(), &render::report(r));
    }
    match &outcome.end {
        // An error whatever the output format: the approval given does not hold.
        End::Refused(Refusal::StaleApproval { .. }) => say(&Report::user(outcome.message.clone())
            .hint("review the new plan (`move-branches plan`) and approve its digest")
            .render()),
        _ if !ctx.text() => {}
        End::Refused(Refusal::Gates { .. }) => {
            say(&outcome.message);
            gate_hints(&outcome.gates);
        }
        End::Applied { .. } if outcome.message.contains("\nstopped: ") => {
            say(&outcome.message);
            say("hint: `deploy-token status` shows who holds the deploy token now");
        }
        _ => say(&outcome.message),
    }
    if !ctx.text() {
        upkeep_cli::print_json(outcome).map_err(Report::failure)?;
    }
    Ok(exit)
}

/// `status`.
pub(crate) async fn status(cli: &Cli, args: &StatusArgs) -> Result<Exit, Report> {
    let mut ctx = Ctx::new(cli)?;
    let branches = ctx.branches();
    let known = ctx.known_repos(&args.repos)?;
    let skip: Vec<String> = known
        .into_iter()
        .filter(|k| !args.repos.is_empty() && !args.repos.contains(k))
        .collect();
    let specs = setup::repo_specs(&branches, &mut ctx.forges, &skip).await?;
    let history = match setup::history(&branches, &ctx.forges) {
        Some(store) => Some(
            tokio::task::spawn_blocking(move || store.read())
                .await
                .map_err(Report::failure)?
                .map_err(lib_error)?,
        ),
        None => None,
    };
    let options = StatusOptions {
        cache_dir: branches.cache.clone(),
        tag_prefix: branches.tagging.prefix.clone(),
        history,
    };
    let statuses = upkeep_branches::status(&specs, &options).await;
    if ctx.text() {
        out(true, &render::status(&statuses));
    } else {
        upkeep_cli::print_json(&statuses).map_err(Report::failure)?;
    }
    Ok(if statuses.iter().any(|s| s.error.is_some()) {
        Exit::Partial
    } else {
        Exit::Success
    })
}

//! Arguments, the one library call per command, and the exit codes.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use upkeep_cli::{ActorArgs, Exit, LogArgs, Report, TextOrJson, TokenArgs};
use upkeep_config::{Config, HumanDuration, Remote};
use upkeep_lock::{ChatAnnouncer, Error as LockError, Request, Session, SessionSetup, Since};

const AFTER_HELP: &str = "\
The token is a ref (refs/upkeep/locks/<name>) in a git repository the team can push to;
every change is a commit pushed compare-and-swap, so the ref's history is the deploy log.

Examples:
  deploy-token acquire --reason \"deploy kingfisher\"
  deploy-token acquire --reason \"db migration\" --wait 30m
  deploy-token status
  deploy-token release
  deploy-token history --since 7d --output json

Exit codes:
  0    success, or nothing to do (releasing a token nobody holds)
  1    not yours: someone else holds the token (acquire, renew, release refused), or
       verify: you do not hold it with that fencing number
  2    user error: bad arguments or configuration; nothing was changed
  3    unexpected failure (git server unreachable, ...); safe to retry
  4    a preflight check failed; the token was not acquired
  130  interrupted";

/// One person changes servers at a time: acquire, release and inspect the deploy token.
///
/// Whoever holds the deploy token is the only person who may change any server until they
/// release it. The token lives in a git repository the team can push to, as a lease with a
/// holder, a reason, an expiry and a fencing number that later steps can verify; every
/// change is recorded, and can be announced in Slack. Start with `deploy-token status`.
#[derive(Debug, Parser)]
#[command(
    version,
    after_help = AFTER_HELP,
    mut_arg("sentry_auth_token", hidden),
    mut_arg("sentry_dsn", hidden)
)]
pub(crate) struct Cli {
    /// Logging (`--output` belongs to each subcommand).
    #[command(flatten)]
    pub global: LogArgs,
    /// Configuration file with a `[lock]` section.
    #[arg(short = 'c', long, global = true, default_value = upkeep_config::DEFAULT_FILE, env = "UPKEEP_CONFIG")]
    config: PathBuf,
    /// The repository holding the token (overrides `[lock] repo`; with it, no configuration
    /// file is needed).
    #[arg(long, global = true)]
    repo: Option<String>,
    /// The token's name (overrides `[lock] name`).
    #[arg(long, global = true)]
    name: Option<String>,
    #[command(flatten)]
    actor: ActorArgs,
    #[command(flatten)]
    tokens: TokenArgs,
    #[command(subcommand)]
    command: Command,
}

/// Hides a shared token option `deploy-token` has no use for (Sentry's).
fn hidden(arg: clap::Arg) -> clap::Arg {
    arg.hide(true)
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Take the token (runs the configured preflight checks first).
    Acquire {
        /// Why you need it; shown to everyone who asks (at most 500 characters).
        #[arg(long, short, default_value = "deploy")]
        reason: String,
        /// Keep trying this long while someone else holds it (e.g. `30m`); a release is
        /// noticed within about a second.
        #[arg(long, value_name = "DURATION")]
        wait: Option<HumanDuration>,
        /// Lease length (default from `[lock] lease`, else 4h).
        #[arg(long, value_name = "DURATION")]
        lease: Option<HumanDuration>,
        /// Skip the preflight checks.
        #[arg(long)]
        no_preflight: bool,
        /// How to print the token you took (holder, reason, expiry, fencing number):
        /// text, or one JSON document (docs/commands/deploy-token.md).
        #[arg(long, value_enum, default_value_t)]
        output: TextOrJson,
    },
    /// Give the token back (nothing to do, exit 0, when nobody holds it).
    Release {
        /// How to print the token's state after the release: text, or one JSON document
        /// (docs/commands/deploy-token.md).
        #[arg(long, value_enum, default_value_t)]
        output: TextOrJson,
    },
    /// Extend your lease; a lease that would end sooner than it does now is refused.
    Renew {
        /// New lease length from now (default from configuration).
        #[arg(long, value_name = "DURATION")]
        lease: Option<HumanDuration>,
        /// How to print the renewed lease: text, or one JSON document
        /// (docs/commands/deploy-token.md).
        #[arg(long, value_enum, default_value_t)]
        output: TextOrJson,
    },
    /// Who holds the token, why, and until when.
    Status {
        /// How to print who holds the token: text, or one JSON document
        /// (docs/commands/deploy-token.md).
        #[arg(long, value_enum, default_value_t)]
        output: TextOrJson,
    },
    /// Every change of the token, oldest first.
    History {
        /// Only changes since this long ago (e.g. `7d`) or since an RFC 3339 time.
        #[arg(long, value_name = "WHEN")]
        since: Option<Since>,
        /// How to print the history: text (one line per change), or one JSON document
        /// with the list of states (docs/commands/deploy-token.md).
        #[arg(long, value_enum, default_value_t)]
        output: TextOrJson,
    },
    /// Take the token from its live holder; recorded loudly with your reason.
    Steal {
        /// Why it cannot wait.
        #[arg(long, short)]
        reason: String,
        /// Also replace a lock state that cannot be read (someone pushed to the lock ref
        /// by hand).
        #[arg(long)]
        force: bool,
        /// Lease length (default from configuration).
        #[arg(long, value_name = "DURATION")]
        lease: Option<HumanDuration>,
        /// How to print the token you took: text, or one JSON document
        /// (docs/commands/deploy-token.md).
        #[arg(long, value_enum, default_value_t)]
        output: TextOrJson,
    },
    /// Shell completions and the man page.
    #[command(flatten)]
    Meta(upkeep_cli::MetaCommand),
    /// Check that you still hold the token with this fencing number (for scripts acting
    /// under the token): exit 0 if so, 1 if not.
    Verify {
        /// The fencing number printed when you acquired.
        #[arg(long)]
        fencing: u64,
        /// How to print the token's current state: text, or one JSON document
        /// (docs/commands/deploy-token.md).
        #[arg(long, value_enum, default_value_t)]
        output: TextOrJson,
    },
}

impl Command {
    /// Commands that only read: they need no operator name.
    fn reads_only(&self) -> bool {
        matches!(self, Self::Status { .. } | Self::History { .. })
    }

    /// The subcommand's `--output`.
    fn output(&self) -> TextOrJson {
        match self {
            Self::Acquire { output, .. }
            | Self::Release { output }
            | Self::Renew { output, .. }
            | Self::Status { output }
            | Self::History { output, .. }
            | Self::Steal { output, .. }
            | Self::Verify { output, .. } => *output,
            Self::Meta(_) => TextOrJson::Text,
        }
    }

    fn request(self) -> Request {
        let get = |d: Option<HumanDuration>| d.map(HumanDuration::get);
        match self {
            Self::Acquire {
                reason,
                wait,
                lease,
                no_preflight,
                output: _,
            } => Request::Acquire {
                reason,
                lease: get(lease),
                wait: get(wait),
                skip_preflight: no_preflight,
            },
            Self::Release { .. } => Request::Release,
            Self::Renew { lease, .. } => Request::Renew { lease: get(lease) },
            Self::Status { .. } => Request::Status,
            Self::History { since, .. } => Request::History { since },
            Self::Steal {
                reason,
                force,
                lease,
                output: _,
            } => Request::Steal {
                reason,
                lease: get(lease),
                force,
            },
            Self::Verify { fencing, .. } => Request::Verify { fencing },
            Self::Meta(_) => unreachable!("answered before any setup"),
        }
    }
}

pub(crate) fn run(cli: Cli) -> Result<Exit, Report> {
    if let Command::Meta(meta) = &cli.command {
        return Ok(meta.run::<Cli>());
    }
    let output = cli.command.output();
    let session = session(&cli)?;
    let outcome = session.run(cli.command.request()).map_err(lock_report)?;
    for warning in &outcome.warnings {
        tracing::warn!("{warning}");
    }
    match output {
        TextOrJson::Json => upkeep_cli::print_json(&outcome.json()).map_err(Report::failure)?,
        TextOrJson::Text => print!("{}", outcome.text()),
    }
    Ok(Exit::Success)
}

/// The configuration (optional with `--repo`), the lock repository's credentials from
/// the tokens, the operator, and the Slack announcer of `[lock] slack_channel`.
#[expect(
    clippy::disallowed_methods,
    reason = "the binary's edge: UPKEEP_* overrides come from the environment"
)]
fn session(cli: &Cli) -> Result<Session, Report> {
    let config = match Config::load(&cli.config, std::env::vars()) {
        Ok(config) => Some(config),
        Err(upkeep_config::Error::Read { .. }) if cli.repo.is_some() => None,
        Err(e) if cli.repo.is_some() => return Err(Report::user(e)),
        Err(e) => {
            return Err(Report::user(e).hint(
                "pass --repo <git url or path> to use a token without a configuration file",
            ));
        }
    };
    let section = match &config {
        Some(c) if cli.repo.is_none() => Some(c.lock().map_err(|e| {
            Report::user(e).hint("add a [lock] section with `repo = \"...\"`, or pass --repo")
        })?),
        Some(c) => c.lock.as_ref(),
        None => None,
    };
    let cwd = std::env::current_dir().map_err(Report::failure)?;
    // One parser for "is this a URL or a path, and which forge": the configuration's.
    let remote = match (&cli.repo, section) {
        (Some(repo), _) => Remote::resolve(repo, None, None, &cwd)
            .map_err(|e| Report::user(format!("--repo {e}")))?,
        (None, Some(lock)) => lock.remote.clone(),
        (None, None) => unreachable!("no --repo means a loaded [lock] section"),
    };
    let secrets = cli.tokens.secrets();
    let credentials =
        upkeep_forge::connect::git_credentials(&remote, &secrets, "the deploy token's repository")
            .map_err(upkeep_cli::connect_report)?;
    let state_dir = config
        .as_ref()
        .map_or_else(|| cwd.join(".upkeep"), |c| c.state_dir.clone());
    let base_dir = config
        .as_ref()
        .map_or_else(|| cwd.clone(), |c| c.base_dir.clone());
    let session = Session::open(SessionSetup {
        section,
        repo: cli.repo.is_some().then_some(remote.url.as_str()),
        name: cli.name.as_deref(),
        state_dir: &state_dir,
        base_dir: &base_dir,
        credentials,
        actor: match cli.actor.resolve() {
            Err(_) if cli.command.reads_only() => String::new(),
            actor => actor?,
        },
    })
    .map_err(lock_report)?;
    let Some(channel) = section.and_then(|l| l.slack_channel.as_deref()) else {
        return Ok(session);
    };
    let Some(token) = secrets.slack_api_token else {
        tracing::warn!("[lock] slack_channel is set but SLACK_API_TOKEN is not: no announcements");
        return Ok(session);
    };
    let slack = ChatAnnouncer::slack(token, channel, cli.tokens.slack_api_url.as_deref());
    Ok(session.with_announcer(Box::new(slack)))
}

/// The exit code and remedy of each refusal; see the table in `--help`.
fn lock_report(e: LockError) -> Report {
    match e {
        LockError::Held { .. } => Report::user(e).exit(Exit::Partial).hint(
            "wait with `deploy-token acquire --wait 30m`, or ask the holder; \
             `deploy-token steal --reason ...` if it cannot wait",
        ),
        LockError::NotHolder { .. } | LockError::NotHeld { .. } | LockError::Stale { .. } => {
            Report::user(e).exit(Exit::Partial)
        }
        LockError::PreflightFailed { ref output, .. } => {
            // The check's own output, line by line, without escape sequences.
            let shown: Vec<String> = output
                .trim()
                .lines()
                .map(|l| upkeep_lock::shown(l, 500))
                .collect();
            let shown = shown.join("\n");
            let mut report = Report::user(e).exit(Exit::CheckFailed);
            if !shown.is_empty() {
                report = report.hint(format!("its output:\n{shown}"));
            }
            report.hint("fix what it reports, or pass --no-preflight if you are sure")
        }
        LockError::WouldShorten { .. } => Report::user(e)
            .hint("pass a longer --lease, or `deploy-token release` when you are done"),
        LockError::ReasonTooLong { .. } => {
            Report::user(e).hint("say it in a sentence; link to details elsewhere")
        }
        LockError::UnknownActor | LockError::InvalidActor { .. } => {
            Report::user(e).hint("pass --actor <name>, or set git's user.name")
        }
        LockError::ReasonRequired { .. }
        | LockError::InvalidName { .. }
        | LockError::LeaseTooLong { .. } => Report::user(e),
        LockError::Corrupt { .. } => Report::failure(e).hint(
            "someone pushed to the lock ref by hand; \
             `deploy-token steal --force --reason ...` replaces the broken state",
        ),
        LockError::Git { .. } => Report::failure(e)
            .hint("check that the lock repository is reachable and that you may push to it"),
        _ => Report::failure(e),
    }
}

//! Arguments, the one library call per command, and rendering.

use std::path::PathBuf;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, SubsecRound as _, Utc};
use clap::{Parser, Subcommand};
use serde::Serialize;
use upkeep_cli::{Exit, GlobalArgs, Output, Report};
use upkeep_config::{Config, ForgeKind, HumanDuration, Secrets};
use upkeep_git::Credentials;
use upkeep_lock::{Acquired, Error as LockError, LockState, LockStore, LockTarget, PreflightSpec};

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
  0    success (or nothing to do)
  1    the token is held by someone else (acquire, renew, release refused)
  2    user error: bad arguments or configuration; nothing was changed
  3    unexpected failure (git server unreachable, ...); safe to retry
  130  interrupted";

/// One person changes servers at a time: acquire, release and inspect the deploy token.
#[derive(Debug, Parser)]
#[command(version, about, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    /// Configuration file with a `[lock]` section.
    #[arg(long, global = true, default_value = upkeep_config::DEFAULT_FILE, env = "UPKEEP_CONFIG")]
    config: PathBuf,
    /// The repository holding the token (overrides `[lock] repo`; with it, no configuration
    /// file is needed).
    #[arg(long, global = true)]
    repo: Option<String>,
    /// The token's name (overrides `[lock] name`).
    #[arg(long, global = true)]
    name: Option<String>,
    /// Who you are (default: git's user.name, then $USER).
    #[arg(long = "as", global = true, value_name = "NAME")]
    who: Option<String>,
    /// Slack bot token, for announcements in `[lock] slack_channel` (needs `chat:write`).
    #[arg(long, global = true, env = "SLACK_API_TOKEN", hide_env_values = true)]
    slack_api_token: Option<String>,
    /// Slack Web API base URL (for a proxy or a test server).
    #[arg(long, global = true, env = "UPKEEP_SLACK_API_URL", hide = true)]
    slack_api_url: Option<String>,
    /// Token for HTTPS remotes on GitHub.
    #[arg(
        long,
        env = "GITHUB_TOKEN",
        hide_env_values = true,
        global = true,
        hide = true
    )]
    github_token: Option<String>,
    /// Token for HTTPS remotes on GitLab.
    #[arg(
        long,
        env = "GITLAB_TOKEN",
        hide_env_values = true,
        global = true,
        hide = true
    )]
    gitlab_token: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Take the token (runs the configured preflight checks first).
    Acquire {
        /// Why you need it; shown to everyone who asks.
        #[arg(long, short, default_value = "deploy")]
        reason: String,
        /// Keep trying this long while someone else holds it (e.g. `30m`).
        #[arg(long, value_name = "DURATION")]
        wait: Option<HumanDuration>,
        /// Lease length (default from `[lock] lease`, else 4h).
        #[arg(long, value_name = "DURATION")]
        lease: Option<HumanDuration>,
        /// Skip the preflight checks.
        #[arg(long)]
        no_preflight: bool,
    },
    /// Give the token back.
    Release,
    /// Extend your lease.
    Renew {
        /// New lease length from now (default from configuration).
        #[arg(long, value_name = "DURATION")]
        lease: Option<HumanDuration>,
    },
    /// Who holds the token, why, and until when.
    Status,
    /// Every change of the token, oldest first.
    History {
        /// Only changes since this long ago (e.g. `7d`) or since an RFC 3339 time.
        #[arg(long, value_name = "WHEN")]
        since: Option<String>,
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
    },
    /// Shell completions and the man page.
    #[command(flatten)]
    Meta(upkeep_cli::MetaCommand),
    /// Check that you still hold the token with this fencing number (for scripts acting
    /// under the token): exit 0 if current, 1 if not.
    Verify {
        /// The fencing number printed when you acquired.
        #[arg(long)]
        fencing: u64,
    },
}

/// What `--output json` prints for commands that return a state.
#[derive(Serialize)]
struct StateView<'a> {
    name: &'a str,
    held: bool,
    holder: Option<&'a str>,
    reason: Option<&'a str>,
    acquired_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
    expired: bool,
    fencing: u64,
    last_event: &'a upkeep_lock::Event,
}

impl<'a> StateView<'a> {
    fn new(state: &'a LockState, now: DateTime<Utc>) -> Self {
        let h = state.holder.as_ref();
        Self {
            name: &state.name,
            held: state.live_holder(now).is_some(),
            holder: h.map(|h| h.who.as_str()),
            reason: h.map(|h| h.reason.as_str()),
            acquired_at: h.map(|h| h.acquired_at),
            expires_at: h.map(|h| h.expires_at),
            expired: h.is_some_and(|h| h.expires_at <= now),
            fencing: state.fencing,
            last_event: &state.event,
        }
    }
}

struct Setup {
    store: LockStore,
    announce: Option<Announcer>,
    lease: Duration,
    preflight: Vec<PreflightSpec>,
    preflight_dir: PathBuf,
}

pub fn run(cli: Cli) -> Result<Exit, Report> {
    if let Command::Meta(meta) = &cli.command {
        return Ok(meta.run::<Cli>());
    }
    let env: Vec<(String, String)> = std::env::vars().collect();
    let setup = setup(&cli, &env)?;
    let who = identity(cli.who.as_deref())?;
    let output = cli.global.output.text_or_json("deploy-token")?;
    // Whole seconds: the history is read by people, and sub-second stamps only add noise.
    let now = Utc::now().trunc_subsecs(0);
    let lock_err = |e: LockError| lock_report(e);
    match cli.command {
        Command::Acquire {
            reason,
            wait,
            lease,
            no_preflight,
        } => {
            if !no_preflight && !setup.preflight.is_empty() {
                let passed = upkeep_lock::run_preflight(&setup.preflight, &setup.preflight_dir)
                    .map_err(lock_err)?;
                for check in passed {
                    tracing::info!(check = %check.name, "preflight passed");
                }
            }
            let lease = lease.map_or(setup.lease, to_chrono);
            let acquired = acquire_waiting(&setup.store, &who, &reason, lease, wait)?;
            if !acquired.already_held {
                announce(setup.announce.as_ref(), &acquired.state);
            }
            print_acquired(&acquired, output, Utc::now());
            Ok(Exit::Success)
        }
        Command::Steal {
            reason,
            lease,
            force,
        } => {
            let lease = lease.map_or(setup.lease, to_chrono);
            let acquired = if force {
                setup.store.steal_forced(&who, &reason, lease, now)
            } else {
                setup.store.steal(&who, &reason, lease, now)
            }
            .map_err(lock_err)?;
            announce(setup.announce.as_ref(), &acquired.state);
            print_acquired(&acquired, output, now);
            Ok(Exit::Success)
        }
        Command::Release => {
            let state = setup.store.release(&who, now).map_err(lock_err)?;
            announce(setup.announce.as_ref(), &state);
            print_state(
                &state,
                output,
                now,
                &format!("released the `{}` token", state.name),
            );
            Ok(Exit::Success)
        }
        Command::Renew { lease } => {
            let lease = lease.map_or(setup.lease, to_chrono);
            let state = setup.store.renew(&who, lease, now).map_err(lock_err)?;
            let until = state
                .holder
                .as_ref()
                .map(|h| h.expires_at.to_rfc3339())
                .unwrap_or_default();
            print_state(
                &state,
                output,
                now,
                &format!("renewed the `{}` token until {until}", state.name),
            );
            Ok(Exit::Success)
        }
        Command::Status => {
            let state = setup.store.status().map_err(lock_err)?;
            print_status(state.as_ref(), output, now)?;
            Ok(Exit::Success)
        }
        Command::History { since } => {
            let since = since.map(|s| parse_since(&s, now)).transpose()?;
            let states = setup.store.history(since).map_err(lock_err)?;
            print_history(&states, output, now)?;
            Ok(Exit::Success)
        }
        Command::Verify { fencing } => match setup.store.verify(&who, fencing, now) {
            Ok(state) => {
                print_state(
                    &state,
                    output,
                    now,
                    &format!("{who} holds the token with fencing number {fencing}"),
                );
                Ok(Exit::Success)
            }
            Err(e @ LockError::Stale { .. }) => Err(Report::user(e).exit(Exit::Partial)),
            Err(e) => Err(lock_err(e)),
        },
        Command::Meta(meta) => Ok(meta.run::<Cli>()),
    }
}

/// Where announcements go: `[lock] slack_channel` with `SLACK_API_TOKEN`.
struct Announcer {
    channel: String,
    token: String,
    api_url: Option<String>,
}

/// The line posted to the team for a change of the token.
fn announcement(state: &LockState) -> String {
    let e = &state.event;
    let until = state
        .holder
        .as_ref()
        .map(|h| format!(" until {}", h.expires_at.format("%H:%M UTC")))
        .unwrap_or_default();
    let note = e
        .note
        .as_deref()
        .map(|n| format!(": {n}"))
        .unwrap_or_default();
    let verb = match e.action {
        upkeep_lock::Action::Acquire => "took",
        upkeep_lock::Action::Takeover => "took over",
        upkeep_lock::Action::Steal => "STOLE",
        upkeep_lock::Action::Renew => "renewed",
        upkeep_lock::Action::Release => "released",
    };
    format!(
        "{} {verb} the `{}` deploy token{until} (fencing {}){note}",
        e.by, state.name, state.fencing
    )
}

/// Posts the announcement; the token change already happened, so a Slack failure is a
/// warning, never an error.
fn announce(announcer: Option<&Announcer>, state: &LockState) {
    let Some(a) = announcer else { return };
    let text = announcement(state);
    let mut config = upkeep_chat::SlackConfig::new(
        secrecy::SecretString::from(a.token.clone()),
        a.channel.clone(),
    );
    if let Some(url) = &a.api_url {
        config.api_url.clone_from(url);
    }
    // One message from an interactive command: don't keep a person waiting on a Slack
    // outage (the default policy is patient, for rounds running as jobs).
    config.max_attempts = 3;
    config.backoff = StdDuration::from_millis(300);
    let posted = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|rt| {
            rt.block_on(async {
                use upkeep_chat::ChatThreads as _;
                let chat = upkeep_chat::SlackChat::new(config).map_err(|e| e.to_string())?;
                chat.post_note(&text).await.map_err(|e| e.to_string())
            })
        });
    if let Err(e) = posted {
        tracing::warn!("could not announce in Slack: {e}");
    }
}

fn acquire_waiting(
    store: &LockStore,
    who: &str,
    reason: &str,
    lease: Duration,
    wait: Option<HumanDuration>,
) -> Result<Acquired, Report> {
    let deadline = wait.map(|w| std::time::Instant::now() + w.get());
    let mut announced = false;
    loop {
        match store.acquire(who, reason, lease, Utc::now().trunc_subsecs(0)) {
            Ok(acquired) => return Ok(acquired),
            Err(LockError::Held {
                holder,
                reason: theirs,
                expires_at,
                ..
            }) if deadline.is_some_and(|d| std::time::Instant::now() < d) => {
                if !announced {
                    tracing::warn!("waiting: held by {holder} ({theirs}) until {expires_at}");
                    announced = true;
                }
                let left = deadline
                    .expect("checked")
                    .saturating_duration_since(std::time::Instant::now());
                std::thread::sleep(left.min(StdDuration::from_secs(10)));
            }
            Err(e) => return Err(lock_report(e)),
        }
    }
}

fn print_status(
    state: Option<&LockState>,
    output: Output,
    now: DateTime<Utc>,
) -> Result<(), Report> {
    match (state, output) {
        (Some(state), Output::Json) => json(&StateView::new(state, now))?,
        (None, Output::Json) => json(&serde_json::json!({ "held": false, "fencing": 0 }))?,
        (Some(state), _) => println!("{}", describe(state, now)),
        (None, _) => println!("nobody holds the token (it was never taken)"),
    }
    Ok(())
}

fn print_history(states: &[LockState], output: Output, now: DateTime<Utc>) -> Result<(), Report> {
    match output {
        Output::Json => {
            let views: Vec<StateView<'_>> = states.iter().map(|s| StateView::new(s, now)).collect();
            json(&views)?;
        }
        _ if states.is_empty() => println!("no changes"),
        _ => {
            for s in states {
                let e = &s.event;
                let note = e
                    .note
                    .as_deref()
                    .map(|n| format!(" — {n}"))
                    .unwrap_or_default();
                println!(
                    "{}  {:<8} {:<16} fencing {}{note}",
                    e.at.format("%Y-%m-%d %H:%M:%S UTC"),
                    e.action,
                    e.by,
                    s.fencing
                );
            }
        }
    }
    Ok(())
}

fn print_acquired(acquired: &Acquired, output: Output, now: DateTime<Utc>) {
    let s = &acquired.state;
    let msg = if acquired.already_held {
        format!(
            "you already hold the `{}` token (fencing number {})",
            s.name, s.fencing
        )
    } else {
        let replaced = acquired
            .replaced
            .as_ref()
            .map(|r| format!(" (replacing {}, who held it for: {})", r.who, r.reason))
            .unwrap_or_default();
        format!(
            "acquired the `{}` token, fencing number {}{replaced}",
            s.name, s.fencing
        )
    };
    print_state(s, output, now, &msg);
}

fn print_state(state: &LockState, output: Output, now: DateTime<Utc>, message: &str) {
    match output {
        Output::Json => {
            let _ = json(&StateView::new(state, now));
        }
        Output::Text | Output::Markdown => {
            println!("{message}");
            if let Some(h) = state.live_holder(now) {
                println!(
                    "  expires at {}",
                    h.expires_at.format("%Y-%m-%d %H:%M:%S UTC")
                );
            }
        }
    }
}

fn describe(state: &LockState, now: DateTime<Utc>) -> String {
    match (&state.holder, state.live_holder(now)) {
        (Some(h), Some(_)) => format!(
            "held by {} since {} — {}\n  expires at {} · fencing number {}",
            h.who,
            h.acquired_at.format("%Y-%m-%d %H:%M:%S UTC"),
            h.reason,
            h.expires_at.format("%Y-%m-%d %H:%M:%S UTC"),
            state.fencing
        ),
        (Some(h), None) => format!(
            "free: the lease of {} ({}) expired at {} · fencing number {}",
            h.who,
            h.reason,
            h.expires_at.format("%Y-%m-%d %H:%M:%S UTC"),
            state.fencing
        ),
        (None, _) => format!(
            "free: released by {} at {} · fencing number {}",
            state.event.by,
            state.event.at.format("%Y-%m-%d %H:%M:%S UTC"),
            state.fencing
        ),
    }
}

fn json<T: Serialize>(value: &T) -> Result<(), Report> {
    upkeep_cli::print_json(value).map_err(Report::failure)
}

fn to_chrono(d: HumanDuration) -> Duration {
    Duration::from_std(d.get()).unwrap_or(Duration::MAX)
}

fn parse_since(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, Report> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    text.parse::<HumanDuration>()
        .map(|d| {
            now.checked_sub_signed(to_chrono(d))
                .unwrap_or(DateTime::<Utc>::MIN_UTC)
        })
        .map_err(|e| {
            Report::user(format!("--since {text}: {e}"))
                .hint("give a duration such as `7d` or a time such as `2026-11-01T00:00:00Z`")
        })
}

fn setup(cli: &Cli, env: &[(String, String)]) -> Result<Setup, Report> {
    let config = match Config::load(&cli.config, env.iter().cloned()) {
        Ok(config) => Some(config),
        Err(upkeep_config::Error::Read { .. }) if cli.repo.is_some() => None,
        Err(e) => {
            let mut report = Report::user(e);
            if cli.repo.is_none() {
                report = report.hint(
                    "pass --repo <git url or path> to use a token without a configuration file",
                );
            }
            return Err(report);
        }
    };
    let lock = match &config {
        Some(c) if cli.repo.is_none() => Some(c.lock().map_err(|e| {
            Report::user(e).hint("add a [lock] section with `repo = \"...\"`, or pass --repo")
        })?),
        Some(c) => c.lock.as_ref(),
        None => None,
    };
    // One parser for "is this a URL or a path, and which forge": the configuration's.
    let remote = match (&cli.repo, lock) {
        (Some(repo), _) => {
            let cwd = std::env::current_dir().map_err(Report::failure)?;
            upkeep_config::Remote::resolve(repo, None, None, &cwd)
                .map_err(|e| Report::user(format!("--repo {e}")))?
        }
        (None, Some(lock)) => lock.remote.clone(),
        (None, None) => unreachable!("no --repo means a loaded [lock] section"),
    };
    let remote_url = remote.url.clone();
    let name = cli
        .name
        .clone()
        .or_else(|| lock.map(|l| l.name.clone()))
        .unwrap_or_else(|| "deploy".into());
    let ref_prefix = lock.map_or_else(|| "refs/upkeep/locks/".to_owned(), |l| l.ref_prefix.clone());
    let lease = lock.map_or(Duration::hours(4), |l| to_chrono(l.lease));
    let state_dir = config
        .as_ref()
        .map_or_else(|| PathBuf::from(".upkeep"), |c| c.state_dir.clone());
    let scratch_dir = match lock {
        Some(l) if cli.repo.is_none() => l.cache.clone(),
        _ => state_dir
            .join("lock")
            .join(upkeep_git::cache_dir_name(&remote_url)),
    };
    let secrets = Secrets::from_env(env.iter().cloned());
    let credentials = credentials_for(&remote, &secrets);
    let preflight = lock
        .map(|l| {
            l.preflight
                .iter()
                .map(|p| PreflightSpec {
                    name: p.name.clone(),
                    command: p.command.clone(),
                    timeout: p.timeout.get(),
                })
                .collect()
        })
        .unwrap_or_default();
    let preflight_dir = config
        .as_ref()
        .map_or_else(|| PathBuf::from("."), |c| c.base_dir.clone());
    let store = LockStore::open(LockTarget {
        remote_url,
        credentials,
        name,
        ref_prefix,
        scratch_dir,
    })
    .map_err(lock_report)?;
    let announce = lock
        .and_then(|l| l.slack_channel.clone())
        .and_then(|channel| {
            let token = cli.slack_api_token.clone().filter(|t| !t.is_empty());
            if token.is_none() {
                tracing::warn!(
                    "[lock] slack_channel is set but SLACK_API_TOKEN is not: no announcements"
                );
            }
            token.map(|token| Announcer {
                channel,
                token,
                api_url: cli.slack_api_url.clone(),
            })
        });
    Ok(Setup {
        store,
        announce,
        lease,
        preflight,
        preflight_dir,
    })
}

/// The token for the forge serving `remote`, if one is set. upkeep-git offers it only
/// over HTTPS (or to a loopback test server), never to paths or SSH remotes.
fn credentials_for(remote: &upkeep_config::Remote, secrets: &Secrets) -> Credentials {
    match remote.kind {
        ForgeKind::Github => secrets.github_token.clone().map(Credentials::https_token),
        ForgeKind::Gitlab => secrets
            .gitlab_token
            .clone()
            .map(|t| Credentials::https_token(t).with_username("oauth2")),
        ForgeKind::Local => None,
    }
    .unwrap_or_else(Credentials::none)
}

fn identity(given: Option<&str>) -> Result<String, Report> {
    if let Some(who) = given.map(str::trim).filter(|w| !w.is_empty()) {
        return Ok(who.to_owned());
    }
    let from_git = std::process::Command::new("git")
        .args(["config", "user.name"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|n| !n.is_empty());
    from_git
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
        .ok_or_else(|| {
            Report::user("cannot tell who you are").hint("pass --as <name>, or set git's user.name")
        })
}

fn lock_report(e: LockError) -> Report {
    match e {
        LockError::Held { .. } => Report::user(e)
            .exit(Exit::Partial)
            .hint("wait with `deploy-token acquire --wait 30m`, or ask the holder; `deploy-token steal --reason ...` if it cannot wait"),
        LockError::NotHolder { .. } | LockError::NotHeld { .. } | LockError::Stale { .. } => {
            Report::user(e).exit(Exit::Partial)
        }
        LockError::PreflightFailed { ref output, .. } => {
            let shown = output.trim().to_owned();
            let mut report = Report::user(e).exit(Exit::Partial);
            if !shown.is_empty() {
                report = report.hint(format!("its output:\n{shown}"));
            }
            report.hint("fix what it reports, or pass --no-preflight if you are sure")
        }
        LockError::ReasonRequired { .. }
        | LockError::InvalidName { .. }
        | LockError::LeaseTooLong { .. } => Report::user(e),
        LockError::Corrupt { .. } => Report::failure(e).hint(
            "someone pushed to the lock ref by hand; `deploy-token steal --force --reason ...` replaces the broken state",
        ),
        LockError::Git { .. } => Report::failure(e).hint("check that the lock repository is reachable and that you may push to it"),
        _ => Report::failure(e),
    }
}

//! The deploy token (`[branches.deploy_token]`): acquire it for the run, or require that
//! the person already holds it; its fencing number goes into the history, and it is
//! checked again right before anything moves.

use chrono::Utc;
use upkeep_cli::Report;
use upkeep_config::{Config, DeployTokenMode};
use upkeep_lock::{LockStore, LockTarget};

use crate::setup::Forges;

/// The token as held for this run.
pub struct Token {
    store: LockStore,
    who: String,
    /// The fencing number recorded in the history.
    pub fencing: u64,
    /// Release it at the end (it was acquired for this run).
    release: bool,
}

fn report(e: upkeep_lock::Error) -> Report {
    let hint = match &e {
        upkeep_lock::Error::Held { .. } => {
            Some("wait until it is released, or ask its holder (`deploy-token status`)")
        }
        upkeep_lock::Error::Stale { .. } => {
            Some("someone else took the deploy token; nothing was moved")
        }
        _ => None,
    };
    let r = Report::user(e);
    match hint {
        Some(h) => r.hint(h),
        None => r,
    }
}

/// Takes or checks the token as configured; `None` when the run does not involve it.
pub fn hold(
    config: &Config,
    forges: &Forges,
    who: &str,
    reason: &str,
) -> Result<Option<Token>, Report> {
    let mode = config
        .branches
        .as_ref()
        .map_or(DeployTokenMode::None, |b| b.deploy_token.mode);
    if mode == DeployTokenMode::None {
        return Ok(None);
    }
    let lock = config.lock().map_err(Report::user)?;
    let store = LockStore::open(LockTarget {
        remote_url: lock.remote.url.clone(),
        credentials: forges.credentials(&lock.remote),
        name: lock.name.clone(),
        ref_prefix: lock.ref_prefix.clone(),
        scratch_dir: lock.cache.clone(),
    })
    .map_err(report)?;
    let now = Utc::now();
    let lease = chrono::Duration::from_std(lock.lease.get()).unwrap_or(chrono::Duration::MAX);
    match mode {
        DeployTokenMode::Acquire => {
            let acquired = store.acquire(who, reason, lease, now).map_err(report)?;
            Ok(Some(Token {
                fencing: acquired.state.fencing,
                release: !acquired.already_held,
                store,
                who: who.to_owned(),
            }))
        }
        DeployTokenMode::Verify | DeployTokenMode::None => {
            let state = store.status().map_err(report)?;
            let Some(state) = state.filter(|s| s.is_held_by(who, now)) else {
                return Err(Report::user(format!(
                    "`[branches.deploy_token] mode = \"verify\"`: {who} does not hold the deploy token"
                ))
                .hint("take it first: deploy-token acquire --reason \"promote stable\""));
            };
            Ok(Some(Token {
                fencing: state.fencing,
                release: false,
                store,
                who: who.to_owned(),
            }))
        }
    }
}

impl Token {
    /// Refuses unless the token is still ours with the same fencing number.
    pub fn verify(&self) -> Result<(), Report> {
        self.store
            .verify(&self.who, self.fencing, Utc::now())
            .map(drop)
            .map_err(report)
    }

    /// Releases the token when it was acquired for this run.
    #[allow(clippy::print_stderr)]
    pub fn finish(self) {
        if self.release
            && let Err(e) = self.store.release(&self.who, Utc::now())
        {
            eprintln!("warning: could not release the deploy token: {e}");
        }
    }
}

//! The deploy token (`[branches.deploy_token]`): acquire it for the run, or require that
//! the person already holds it; its fencing number goes into the history, and it is
//! checked again before each dependency level, so a token taken mid-run stops the levels
//! that are left.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::Utc;
use upkeep_branches::apply::{LevelGuard, LevelStart};
use upkeep_cli::Report;
use upkeep_config::{Config, DeployTokenMode};
use upkeep_lock::{LockStore, LockTarget};

use crate::setup::Forges;

/// The token as held for this run.
pub struct Token {
    /// Shared with the level guard, which checks it on a blocking thread.
    store: Arc<Mutex<LockStore>>,
    who: String,
    /// The fencing number recorded in the history.
    pub fencing: u64,
    /// Release it at the end (it was acquired for this run).
    release: bool,
    /// A check found it is no longer ours: there is nothing to release.
    lost: Arc<AtomicBool>,
}

fn report(e: upkeep_lock::Error) -> Report {
    let hint = match &e {
        upkeep_lock::Error::Held { .. } => {
            Some("wait until it is released, or ask its holder (`deploy-token status`)")
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
                store: Arc::new(Mutex::new(store)),
                who: who.to_owned(),
                lost: Arc::default(),
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
                store: Arc::new(Mutex::new(store)),
                who: who.to_owned(),
                lost: Arc::default(),
            }))
        }
    }
}

impl Token {
    /// A guard for `apply`: before each dependency level, the token must still be ours
    /// with the same fencing number (`LockStore::verify`). Anything else, including a lock
    /// repository that cannot be read, stops the run: moving on without knowing would
    /// defeat the token.
    pub fn guard(&self) -> LevelGuard {
        let (store, who, fencing, lost) = (
            self.store.clone(),
            self.who.clone(),
            self.fencing,
            self.lost.clone(),
        );
        LevelGuard::new(move |start: LevelStart| {
            let (store, who, lost) = (store.clone(), who.clone(), lost.clone());
            async move {
                let checked = tokio::task::spawn_blocking(move || {
                    store
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .verify(&who, fencing, Utc::now())
                        .map(drop)
                })
                .await;
                let reason = match checked {
                    Ok(Ok(())) => {
                        tracing::debug!(level = start.index, "deploy token still held");
                        return Ok(());
                    }
                    Ok(Err(e)) => {
                        if matches!(e, upkeep_lock::Error::Stale { .. }) {
                            lost.store(true, Ordering::Relaxed);
                        }
                        chain(&e)
                    }
                    Err(e) => format!("checking the deploy token failed: {e}"),
                };
                Err(reason)
            }
        })
    }

    /// Releases the token when it was acquired for this run (and is still ours).
    #[allow(clippy::print_stderr)]
    pub fn finish(self) {
        if !self.release || self.lost.load(Ordering::Relaxed) {
            return;
        }
        let store = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(e) = store.release(&self.who, Utc::now()) {
            eprintln!("warning: could not release the deploy token: {e}");
        }
    }
}

/// An error and its causes on one line.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

//! The deploy token around a job: taken for the run (or required to be held already),
//! its fencing number recorded in the history, checked again before each dependency
//! level so that a token taken away mid-run stops the levels that are left, and
//! released at the end when the run took it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::Utc;
use upkeep_lock::{LockState, LockStore, LockTarget};

use crate::apply::{LevelGuard, LevelStart};
use crate::render::{MAX_NAME, one_line};
use crate::{Error, Result};
use upkeep_text::error_chain;

/// Whether a job takes the deploy token or requires that its actor holds it already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenMode {
    /// Take it for the run (unless the actor holds it already) and release it after.
    Acquire,
    /// Refuse unless the actor holds it already; leave it held.
    Verify,
}

/// The deploy token a job must hold while it moves branches.
#[derive(Debug, Clone)]
pub struct DeployToken {
    /// Where the lock lives.
    pub lock: LockTarget,
    /// Take it, or require it.
    pub mode: TokenMode,
    /// The lease when taking it.
    pub lease: chrono::Duration,
}

/// The token as held by a run.
pub(crate) struct Held {
    /// Shared with the level guard, which checks it on a blocking thread.
    store: Arc<Mutex<LockStore>>,
    who: String,
    pub(crate) fencing: u64,
    /// Release it at the end (it was taken for this run).
    release: bool,
    /// A check found it is no longer ours: there is nothing to release.
    lost: Arc<AtomicBool>,
}

fn lock_error(doing: &str) -> impl FnOnce(upkeep_lock::Error) -> Error + '_ {
    move |source| match source {
        upkeep_lock::Error::Held {
            name,
            holder,
            reason,
            since,
            expires_at,
        } => Error::TokenHeld {
            name,
            holder: one_line(&holder, MAX_NAME).into_owned(),
            since: since.format("%Y-%m-%d %H:%M UTC").to_string(),
            reason: one_line(&reason, MAX_NAME).into_owned(),
            until: expires_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        },
        source => Error::DeployToken {
            doing: doing.to_owned(),
            source: Box::new(source),
        },
    }
}

async fn blocking<T: Send + 'static>(
    doing: &'static str,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Task {
            doing: doing.to_owned(),
            message: e.to_string(),
        })?
}

/// Takes or checks `token` for `who`.
pub(crate) async fn hold(token: &DeployToken, who: &str, reason: &str) -> Result<Held> {
    let (token, who, reason) = (token.clone(), who.to_owned(), reason.to_owned());
    blocking("taking the deploy token", move || {
        let store = LockStore::open(token.lock.clone()).map_err(lock_error("open"))?;
        let now = Utc::now();
        let (fencing, release) = match token.mode {
            TokenMode::Acquire => {
                let acquired = store
                    .acquire(&who, &reason, token.lease, now)
                    .map_err(lock_error("take"))?;
                (acquired.state.fencing, !acquired.already_held)
            }
            TokenMode::Verify => {
                let state = store.status().map_err(lock_error("read"))?;
                match state {
                    Some(s) if s.is_held_by(&who, now) => (s.fencing, false),
                    other => {
                        return Err(Error::TokenNotHeld {
                            name: token.lock.name.clone(),
                            you: one_line(&who, MAX_NAME).into_owned(),
                            held: held_by(other.as_ref(), now),
                        });
                    }
                }
            }
        };
        Ok(Held {
            store: Arc::new(Mutex::new(store)),
            who,
            fencing,
            release,
            lost: Arc::default(),
        })
    })
    .await
}

/// Who holds the token instead, for a refusal.
fn held_by(state: Option<&LockState>, now: chrono::DateTime<Utc>) -> String {
    match state.and_then(|s| s.live_holder(now)) {
        Some(h) => format!(
            "it is held by {} since {} ({}), until {}",
            one_line(&h.who, MAX_NAME),
            h.acquired_at.format("%Y-%m-%d %H:%M UTC"),
            one_line(&h.reason, MAX_NAME),
            h.expires_at.format("%Y-%m-%d %H:%M UTC"),
        ),
        None => "nobody holds it".to_owned(),
    }
}

impl Held {
    /// A guard for `apply`: before each dependency level, the token must still be ours
    /// with the same fencing number. Anything else, including a lock repository that
    /// cannot be read, stops the run: moving on without knowing would defeat the token.
    pub(crate) fn guard(&self) -> LevelGuard {
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
                match checked {
                    Ok(Ok(())) => {
                        tracing::debug!(level = start.index, "deploy token still held");
                        Ok(())
                    }
                    Ok(Err(e)) => {
                        if matches!(e, upkeep_lock::Error::Stale { .. }) {
                            lost.store(true, Ordering::Relaxed);
                        }
                        Err(error_chain(&e))
                    }
                    Err(e) => Err(format!("checking the deploy token failed: {e}")),
                }
            }
        })
    }

    /// Releases the token when it was taken for this run and is still ours; `Err` is
    /// for a warning (the branches moved as reported either way).
    pub(crate) async fn finish(self) -> Result<()> {
        if !self.release || self.lost.load(Ordering::Relaxed) {
            return Ok(());
        }
        blocking("releasing the deploy token", move || {
            let store = self.store.lock().unwrap_or_else(PoisonError::into_inner);
            store
                .release(&self.who, Utc::now())
                .map(drop)
                .map_err(lock_error("release"))
        })
        .await
    }
}

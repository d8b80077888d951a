//! The lock store: state transitions pushed compare-and-swap to a lock ref.

use std::path::PathBuf;

use chrono::{DateTime, Duration, Utc};
use upkeep_git::{Author, Credentials, Expect, Oid, PushRequest, Repo};

use crate::state::{Action, Event, Holder, LockState};
use crate::{Error, Result};

/// The file in each lock commit's tree.
const STATE_FILE: &str = "lock.json";
/// How often a transition re-reads and retries after losing a race before giving up.
/// Each retry means somebody else's change landed, so this bounds contention, not luck.
const MAX_ATTEMPTS: u32 = 32;
/// History walks stop here; a lock changed more often than this keeps older entries in
/// git, reachable but not listed.
const HISTORY_LIMIT: usize = 100_000;

/// Where a lock lives.
#[derive(Debug, Clone)]
pub struct LockTarget {
    /// The repository holding the lock ref (any git URL or path the team can push to).
    pub remote_url: String,
    /// Credentials for it.
    pub credentials: Credentials,
    /// Lock name, e.g. `deploy`.
    pub name: String,
    /// Ref prefix, e.g. `refs/upkeep/locks/` (a branch prefix such as `refs/heads/locks/`
    /// where a server refuses custom refs).
    pub ref_prefix: String,
    /// A local directory for the scratch bare repository (created if missing).
    pub scratch_dir: PathBuf,
}

impl LockTarget {
    /// The lock a `[lock]` section describes, reached with `credentials` (see
    /// `upkeep_forge::connect::git_credentials`).
    #[must_use]
    pub fn from_config(lock: &upkeep_config::LockConfig, credentials: Credentials) -> Self {
        Self {
            remote_url: lock.remote.url.clone(),
            credentials,
            name: lock.name.clone(),
            ref_prefix: lock.ref_prefix.clone(),
            scratch_dir: lock.cache.clone(),
        }
    }
}

/// The result of a release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Released {
    /// The state now: released by the caller, or as it was when there was nothing to
    /// release (`None`: the token was never taken).
    pub state: Option<LockState>,
    /// Whether this call released it. `false`: nobody held it (free, released, or the
    /// last lease ran out), so there was nothing to do.
    pub released: bool,
}

/// The result of an acquisition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acquired {
    /// The new state (the caller is the holder).
    pub state: LockState,
    /// Whether the caller already held it (nothing was changed).
    pub already_held: bool,
    /// The previous holder whose lease had expired or who was stolen from.
    pub replaced: Option<Holder>,
}

/// A named deploy lock in a git repository.
pub struct LockStore {
    target: LockTarget,
    ref_name: String,
    scratch: Repo,
}

impl std::fmt::Debug for LockStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockStore")
            .field("remote", &self.target.remote_url)
            .field("ref", &self.ref_name)
            .finish_non_exhaustive()
    }
}

impl LockStore {
    /// Opens the lock described by `target`, preparing its scratch repository.
    pub fn open(target: LockTarget) -> Result<Self> {
        let valid = !target.name.is_empty()
            && !target.name.starts_with('.')
            && !target.name.contains("..")
            && target
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        let ref_name = format!("{}{}", target.ref_prefix, target.name);
        if !valid || !upkeep_git::is_valid_ref_name(&ref_name) {
            return Err(Error::InvalidName { name: target.name });
        }
        let scratch =
            Repo::open_or_init_bare(&target.scratch_dir).map_err(|source| Error::Git {
                name: target.name.clone(),
                doing: "prepare the scratch repository",
                source: Box::new(source),
            })?;
        Ok(Self {
            target,
            ref_name,
            scratch,
        })
    }

    /// The full name of the lock ref.
    #[must_use]
    pub fn ref_name(&self) -> &str {
        &self.ref_name
    }

    /// The lock's current state, or `None` if it was never taken.
    pub fn status(&self) -> Result<Option<LockState>> {
        let tip = self.remote_tip()?;
        tip.map(|tip| self.state_at(tip)).transpose()
    }

    /// Takes the lock for `who` with a lease of `lease` from `now`. Succeeds when it is
    /// free, expired (a takeover) or already held by `who` (unchanged). Otherwise
    /// [`Error::Held`] names the holder.
    pub fn acquire(
        &self,
        who: &str,
        reason: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Acquired> {
        check_input(who, reason)?;
        let mut already_held = false;
        let mut replaced = None;
        let state = self.transition(|current| {
            already_held = false;
            replaced = None;
            let (action, fencing) = match current {
                Some(state) => match state.live_holder(now) {
                    Some(h) if h.who == who => {
                        already_held = true;
                        return Ok(None);
                    }
                    Some(h) => return Err(held(&self.target.name, h)),
                    None => {
                        replaced.clone_from(&state.holder);
                        let action = if state.holder.is_some() {
                            Action::Takeover
                        } else {
                            Action::Acquire
                        };
                        (action, state.fencing + 1)
                    }
                },
                None => (Action::Acquire, 1),
            };
            let note = match &replaced {
                Some(old) => Some(format!(
                    "{reason} (lease of {} expired at {})",
                    old.who, old.expires_at
                )),
                None => Some(reason.to_owned()),
            };
            self.held_state(who, reason, lease, now, fencing, action, note)
                .map(Some)
        })?;
        Ok(Acquired {
            state,
            already_held,
            replaced,
        })
    }

    /// Takes a live lock from its holder, recording who it was taken from and why.
    /// A free or expired lock is simply acquired.
    pub fn steal(
        &self,
        who: &str,
        reason: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Acquired> {
        if reason.trim().is_empty() {
            return Err(Error::ReasonRequired {
                name: self.target.name.clone(),
            });
        }
        check_input(who, reason)?;
        let mut replaced = None;
        let state = self.transition(|current| {
            replaced = current
                .and_then(|s| s.holder.clone())
                .filter(|h| h.who != who);
            let fencing = current.map_or(0, |s| s.fencing) + 1;
            let (action, note) = match &replaced {
                Some(old) if old.expires_at > now => (
                    Action::Steal,
                    format!(
                        "{reason} (stolen from {}, who held it for: {})",
                        old.who, old.reason
                    ),
                ),
                Some(old) => (
                    Action::Takeover,
                    format!(
                        "{reason} (lease of {} expired at {})",
                        old.who, old.expires_at
                    ),
                ),
                None => (Action::Acquire, reason.to_owned()),
            };
            self.held_state(who, reason, lease, now, fencing, action, Some(note))
                .map(Some)
        })?;
        Ok(Acquired {
            state,
            already_held: false,
            replaced,
        })
    }

    /// Takes the lock even when its current state is unreadable (a commit without a valid
    /// `lock.json` was pushed to the lock ref): the broken state is replaced, the fencing
    /// number continues above every readable one, and the event says so. Otherwise the
    /// same as [`steal`](Self::steal).
    pub fn steal_forced(
        &self,
        who: &str,
        reason: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Acquired> {
        if reason.trim().is_empty() {
            return Err(Error::ReasonRequired {
                name: self.target.name.clone(),
            });
        }
        check_input(who, reason)?;
        let mut replaced = None;
        let state = self
            .transition_with(true, |current| {
                replaced = current
                    .and_then(|s| s.holder.clone())
                    .filter(|h| h.who != who);
                let fencing = current.map_or(0, |s| s.fencing) + 1;
                let unreadable = current.and_then(|s| {
                    s.event
                        .note
                        .clone()
                        .filter(|_| s.event.by == "(unreadable state)")
                });
                let note = match (&replaced, unreadable) {
                    (_, Some(problem)) => format!("{reason} (forced: {problem})"),
                    (Some(old), None) => format!(
                        "{reason} (stolen from {}, who held it for: {})",
                        old.who, old.reason
                    ),
                    (None, None) => reason.to_owned(),
                };
                self.held_state(who, reason, lease, now, fencing, Action::Steal, Some(note))
                    .map(Some)
            })?
            .expect("a steal always writes a state");
        Ok(Acquired {
            state,
            already_held: false,
            replaced,
        })
    }

    /// Gives the lock back. Only its holder may (even after the lease ran out, as long
    /// as nobody took over). Releasing a token that nobody holds — never taken, already
    /// released, or its last lease ran out — changes nothing and succeeds for anyone
    /// ([`Released::released`] is `false`); a token somebody else holds is
    /// [`Error::NotHolder`].
    pub fn release(&self, who: &str, now: DateTime<Utc>) -> Result<Released> {
        crate::actor::check_actor(who)?;
        let mut released = false;
        let state = self.transition_or_none(|current| {
            released = false;
            let Some(state) = current else {
                return Ok(None);
            };
            match &state.holder {
                Some(h) if h.who == who => {}
                Some(h) if h.expires_at > now => {
                    return Err(Error::NotHolder {
                        name: self.target.name.clone(),
                        holder: h.who.clone(),
                        you: who.to_owned(),
                    });
                }
                // Free, or the lease of somebody else ran out: nothing to give back.
                _ => return Ok(None),
            }
            released = true;
            Ok(Some(LockState {
                name: self.target.name.clone(),
                holder: None,
                fencing: state.fencing,
                event: Event {
                    action: Action::Release,
                    by: who.to_owned(),
                    at: now,
                    note: None,
                },
            }))
        })?;
        Ok(Released { state, released })
    }

    /// Extends the holder's lease to `now + lease`. A lease that would end earlier than
    /// it does now is refused ([`Error::WouldShorten`]): give the token back with
    /// [`release`](Self::release) instead.
    pub fn renew(&self, who: &str, lease: Duration, now: DateTime<Utc>) -> Result<LockState> {
        crate::actor::check_actor(who)?;
        self.transition(|current| {
            let state = self.owned_by(current, who)?;
            let mut holder = state.holder.clone().expect("owned_by checked the holder");
            let asked = Self::lease_end(now, lease)?;
            if asked < holder.expires_at {
                return Err(Error::WouldShorten {
                    name: self.target.name.clone(),
                    expires_at: holder.expires_at,
                    asked,
                });
            }
            holder.expires_at = asked;
            Ok(Some(LockState {
                name: self.target.name.clone(),
                holder: Some(holder),
                fencing: state.fencing,
                event: Event {
                    action: Action::Renew,
                    by: who.to_owned(),
                    at: now,
                    note: None,
                },
            }))
        })
    }

    /// Checks that `who` still holds a live lease with fencing number `fencing`; tools
    /// acting under the token call this right before acting.
    ///
    /// Refusals say what is true: [`Error::Stale`] when `who` held the token with that
    /// fencing number and no longer does (with who holds it now), [`Error::NotHolder`]
    /// when somebody else holds it and `who` never held it with that number,
    /// [`Error::NotHeld`] when nobody holds it and `who` never held it so.
    pub fn verify(&self, who: &str, fencing: u64, now: DateTime<Utc>) -> Result<LockState> {
        let not_held = || Error::NotHeld {
            name: self.target.name.clone(),
        };
        let state = self.status()?.ok_or_else(not_held)?;
        let live = state.live_holder(now);
        if live.is_some_and(|h| h.who == who) && state.fencing == fencing {
            return Ok(state);
        }
        // Was the number ever theirs? Only refusals pay for reading the history.
        let was_theirs =
            (state.fencing == fencing && state.holder.as_ref().is_some_and(|h| h.who == who))
                || self.history(None)?.iter().any(|s| {
                    s.fencing == fencing && s.holder.as_ref().is_some_and(|h| h.who == who)
                });
        let current = match (live, &state.holder) {
            (Some(h), _) if h.who == who => {
                format!("you hold it now with fencing number {}", state.fencing)
            }
            (Some(h), _) if was_theirs => format!(
                "held by {} with fencing number {}",
                crate::text::name(&h.who),
                state.fencing
            ),
            (Some(h), _) => {
                return Err(Error::NotHolder {
                    name: self.target.name.clone(),
                    holder: h.who.clone(),
                    you: who.to_owned(),
                });
            }
            (None, _) if !was_theirs => return Err(not_held()),
            (None, Some(h)) if h.who == who => format!("your lease expired at {}", h.expires_at),
            (None, Some(h)) => format!(
                "the lease of {} expired at {}",
                crate::text::name(&h.who),
                h.expires_at
            ),
            (None, None) => format!(
                "it was released by {} at {}",
                crate::text::name(&state.event.by),
                state.event.at
            ),
        };
        Err(Error::Stale {
            name: self.target.name.clone(),
            yours: fencing,
            current,
        })
    }

    /// The states the lock went through, oldest first, optionally only those at or after
    /// `since`.
    pub fn history(&self, since: Option<DateTime<Utc>>) -> Result<Vec<LockState>> {
        let Some(tip) = self.remote_tip()? else {
            return Ok(Vec::new());
        };
        let chain = self
            .scratch
            .first_parent_chain(tip, HISTORY_LIMIT)
            .map_err(|source| self.git_err("read the history", source))?;
        let mut states = Vec::with_capacity(chain.len());
        for id in chain.into_iter().rev() {
            let state = self.state_at(id)?;
            if since.is_none_or(|since| state.event.at >= since) {
                states.push(state);
            }
        }
        Ok(states)
    }

    fn lease_end(now: DateTime<Utc>, lease: Duration) -> Result<DateTime<Utc>> {
        now.checked_add_signed(lease)
            .ok_or_else(|| Error::LeaseTooLong {
                lease: lease.to_string(),
            })
    }

    #[allow(clippy::too_many_arguments)] // A state is these fields; a struct would only rename them.
    fn held_state(
        &self,
        who: &str,
        reason: &str,
        lease: Duration,
        now: DateTime<Utc>,
        fencing: u64,
        action: Action,
        note: Option<String>,
    ) -> Result<LockState> {
        Ok(LockState {
            name: self.target.name.clone(),
            holder: Some(Holder {
                who: who.to_owned(),
                reason: reason.to_owned(),
                acquired_at: now,
                expires_at: Self::lease_end(now, lease)?,
            }),
            fencing,
            event: Event {
                action,
                by: who.to_owned(),
                at: now,
                note,
            },
        })
    }

    fn owned_by<'s>(&self, current: Option<&'s LockState>, who: &str) -> Result<&'s LockState> {
        let not_held = || Error::NotHeld {
            name: self.target.name.clone(),
        };
        let state = current.ok_or_else(not_held)?;
        match &state.holder {
            Some(h) if h.who == who => Ok(state),
            Some(h) => Err(Error::NotHolder {
                name: self.target.name.clone(),
                holder: h.who.clone(),
                you: who.to_owned(),
            }),
            None => Err(not_held()),
        }
    }

    /// Reads the current state, lets `next` decide the new one (`None`: no change), and
    /// pushes it compare-and-swap on the tip that was read; on a lost race, re-reads and
    /// asks `next` again.
    fn transition(
        &self,
        next: impl FnMut(Option<&LockState>) -> Result<Option<LockState>>,
    ) -> Result<LockState> {
        self.transition_with(false, next)
            .map(|state| state.expect("`next` only keeps an existing state"))
    }

    /// [`transition`](Self::transition) where `next` may also keep "never taken".
    fn transition_or_none(
        &self,
        next: impl FnMut(Option<&LockState>) -> Result<Option<LockState>>,
    ) -> Result<Option<LockState>> {
        self.transition_with(false, next)
    }

    /// [`transition`](Self::transition), optionally reading an unreadable state as a
    /// released one whose fencing number is the highest readable one in the history, so
    /// that `steal --force` can recover a lock ref somebody broke by hand.
    fn transition_with(
        &self,
        replace_unreadable: bool,
        mut next: impl FnMut(Option<&LockState>) -> Result<Option<LockState>>,
    ) -> Result<Option<LockState>> {
        for attempt in 1..=MAX_ATTEMPTS {
            let tip = self.remote_tip()?;
            let current = match tip.map(|tip| (tip, self.state_at(tip))) {
                None => None,
                Some((_, Ok(state))) => Some(state),
                Some((tip, Err(Error::Corrupt { message, .. }))) if replace_unreadable => {
                    Some(self.stand_in_for_unreadable(tip, &message)?)
                }
                Some((_, Err(e))) => return Err(e),
            };
            let Some(new_state) = next(current.as_ref())? else {
                return Ok(current);
            };
            let json = serde_json::to_vec_pretty(&new_state).expect("lock state serializes");
            let message = commit_message(&new_state);
            let author = Author::new(new_state.event.by.clone(), "deploy-token@upkeep.invalid");
            let commit = self
                .scratch
                .commit_files(tip, &[(STATE_FILE, &json)], &message, &author)
                .map_err(|source| self.git_err("write the new state", source))?;
            let expect = tip.map_or(Expect::Absent, Expect::Tip);
            let request = PushRequest::single(commit, self.ref_name.clone(), expect);
            match self
                .scratch
                .push(&self.target.remote_url, &self.target.credentials, &request)
            {
                Ok(_) => return Ok(Some(new_state)),
                Err(
                    upkeep_git::Error::RemoteMoved { .. }
                    | upkeep_git::Error::NotFastForward { .. },
                ) => {
                    tracing::debug!(lock = %self.target.name, attempt, "lost the race; re-reading");
                }
                Err(e) if is_lost_lease(&e) => {
                    tracing::debug!(lock = %self.target.name, attempt, "lease refused by the server; re-reading");
                }
                Err(source) => {
                    // The server may have taken the push and lost the answer (the
                    // connection dropped after the ref was updated). Our commit is unique:
                    // if the ref points at it, the change is made.
                    if matches!(self.remote_tip(), Ok(Some(now)) if now == commit) {
                        tracing::debug!(lock = %self.target.name, "the push's answer was lost but it landed");
                        return Ok(Some(new_state));
                    }
                    return Err(self.git_err("push the new state", source));
                }
            }
        }
        Err(Error::Contended {
            name: self.target.name.clone(),
            attempts: MAX_ATTEMPTS,
        })
    }

    fn stand_in_for_unreadable(&self, tip: Oid, problem: &str) -> Result<LockState> {
        let chain = self
            .scratch
            .first_parent_chain(tip, HISTORY_LIMIT)
            .map_err(|source| self.git_err("read the history", source))?;
        let fencing = chain
            .iter()
            .filter_map(|id| self.state_at(*id).ok())
            .map(|s| s.fencing)
            .max()
            .unwrap_or(0);
        Ok(LockState {
            name: self.target.name.clone(),
            holder: None,
            fencing,
            event: Event {
                action: Action::Release,
                by: "(unreadable state)".to_owned(),
                at: DateTime::<Utc>::MIN_UTC,
                note: Some(format!("state at {tip} was unreadable: {problem}")),
            },
        })
    }

    /// Where the lock ref points on the server: one `ls-remote`, nothing fetched. The
    /// cheap read a waiter repeats.
    pub(crate) fn ls_tip(&self) -> Result<Option<Oid>> {
        let refs = upkeep_git::ls_remote(&self.target.remote_url, &self.target.credentials)
            .map_err(|source| self.git_err("read the lock ref", source))?;
        Ok(refs
            .into_iter()
            .find(|(name, _)| *name == self.ref_name)
            .map(|(_, id)| id))
    }

    /// The tip and the state it holds.
    pub(crate) fn read(&self) -> Result<(Option<Oid>, Option<LockState>)> {
        let tip = self.remote_tip()?;
        Ok((tip, tip.map(|tip| self.state_at(tip)).transpose()?))
    }

    /// The lock's name.
    pub(crate) fn name(&self) -> &str {
        &self.target.name
    }

    fn remote_tip(&self) -> Result<Option<Oid>> {
        let Some(tip) = self.ls_tip()? else {
            return Ok(None);
        };
        if !self.scratch.has_object(tip) {
            let refspec = format!("+{0}:{0}", self.ref_name);
            self.scratch
                .fetch(
                    &self.target.remote_url,
                    &[&refspec],
                    &self.target.credentials,
                )
                .map_err(|source| self.git_err("fetch the lock ref", source))?;
        }
        Ok(Some(tip))
    }

    fn state_at(&self, commit: Oid) -> Result<LockState> {
        let corrupt = |message: String| Error::Corrupt {
            name: self.target.name.clone(),
            commit: commit.to_string(),
            message,
        };
        let json = self
            .scratch
            .read_file_at(commit, STATE_FILE)
            .map_err(|e| corrupt(e.to_string()))?;
        serde_json::from_slice(&json).map_err(|e| corrupt(format!("{STATE_FILE}: {e}")))
    }

    fn git_err(&self, doing: &'static str, source: upkeep_git::Error) -> Error {
        Error::Git {
            name: self.target.name.clone(),
            doing,
            source: Box::new(source),
        }
    }
}

/// A push the server refused because the ref moved after we read it: the lease check in
/// `receive-pack` ("stale info") rather than our own pre-check.
fn is_lost_lease(error: &upkeep_git::Error) -> bool {
    match error {
        upkeep_git::Error::PushRejected { reason, .. } => {
            reason.contains("stale info")
                || reason.contains("fetch first")
                || reason.contains("non-fast-forward")
        }
        _ => false,
    }
}

/// Refuses what others could not be shown safely: a name with control characters or too
/// long, a reason over [`MAX_REASON`](crate::MAX_REASON) characters. Before any git work.
fn check_input(who: &str, reason: &str) -> Result<()> {
    crate::actor::check_actor(who)?;
    let length = reason.chars().count();
    if length > crate::text::MAX_REASON {
        return Err(Error::ReasonTooLong {
            length,
            max: crate::text::MAX_REASON,
        });
    }
    Ok(())
}

fn held(name: &str, h: &Holder) -> Error {
    Error::Held {
        name: name.to_owned(),
        holder: h.who.clone(),
        reason: h.reason.clone(),
        since: h.acquired_at,
        expires_at: h.expires_at,
    }
}

fn commit_message(state: &LockState) -> String {
    let e = &state.event;
    let mut message = format!(
        "{} {}: {} (fencing {})",
        state.name, e.action, e.by, state.fencing
    );
    if let Some(note) = &e.note {
        message.push_str("\n\n");
        message.push_str(note);
    }
    message
}

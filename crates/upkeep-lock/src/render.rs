//! What people read: the lines a deploy-token tool prints, the JSON it emits, and the
//! announcement posted to the team. Every name and reason goes through
//! [`shown`](crate::shown()): control characters replaced, length capped.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::session::{Done, Outcome};
use crate::state::{Action, Event, LockState};
use crate::text::{name, reason, shown};

/// The longest event note shown (a steal's note quotes the reason it replaced).
const MAX_NOTE: usize = 2 * crate::text::MAX_REASON + 200;

fn at(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// The line posted to the team for a change of the token.
#[must_use]
pub fn announcement(state: &LockState) -> String {
    let e = &state.event;
    let until = state
        .holder
        .as_ref()
        .map(|h| format!(" until {}", h.expires_at.format("%H:%M UTC")))
        .unwrap_or_default();
    let note = e
        .note
        .as_deref()
        .map(|n| format!(": {}", shown(n, MAX_NOTE)))
        .unwrap_or_default();
    let verb = match e.action {
        Action::Acquire => "took",
        Action::Takeover => "took over",
        Action::Steal => "STOLE",
        Action::Renew => "renewed",
        Action::Release => "released",
    };
    format!(
        "{} {verb} the `{}` deploy token{until} (fencing {}){note}",
        name(&e.by),
        state.name,
        state.fencing
    )
}

/// Who holds the token, why and until when (`status`).
#[must_use]
pub fn describe(state: &LockState, now: DateTime<Utc>) -> String {
    match (&state.holder, state.live_holder(now)) {
        (Some(h), Some(_)) => format!(
            "held by {} since {} — {}\n  expires at {} · fencing number {}",
            name(&h.who),
            at(h.acquired_at),
            reason(&h.reason),
            at(h.expires_at),
            state.fencing
        ),
        (Some(h), None) => format!(
            "free: the lease of {} ({}) expired at {} · fencing number {}",
            name(&h.who),
            reason(&h.reason),
            at(h.expires_at),
            state.fencing
        ),
        (None, _) => format!(
            "free: released by {} at {} · fencing number {}",
            name(&state.event.by),
            at(state.event.at),
            state.fencing
        ),
    }
}

/// One line of `history`: one event per line, whatever its text holds.
#[must_use]
pub fn history_line(state: &LockState) -> String {
    let e: &Event = &state.event;
    let note = e
        .note
        .as_deref()
        .map(|n| format!(" — {}", shown(n, MAX_NOTE)))
        .unwrap_or_default();
    format!(
        "{}  {:<8} {:<16} fencing {}{note}",
        at(e.at),
        e.action,
        name(&e.by),
        state.fencing
    )
}

/// What `--output json` shows of a state. Texts are as stored: JSON escapes them.
#[derive(Debug, Serialize)]
struct StateView<'a> {
    name: &'a str,
    held: bool,
    holder: Option<&'a str>,
    reason: Option<&'a str>,
    acquired_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
    expired: bool,
    fencing: u64,
    last_event: &'a Event,
}

fn view(state: &LockState, now: DateTime<Utc>) -> serde_json::Value {
    let h = state.holder.as_ref();
    serde_json::to_value(StateView {
        name: &state.name,
        held: state.live_holder(now).is_some(),
        holder: h.map(|h| h.who.as_str()),
        reason: h.map(|h| h.reason.as_str()),
        acquired_at: h.map(|h| h.acquired_at),
        expires_at: h.map(|h| h.expires_at),
        expired: h.is_some_and(|h| h.expires_at <= now),
        fencing: state.fencing,
        last_event: &state.event,
    })
    .expect("a lock state serializes")
}

fn never_taken() -> serde_json::Value {
    serde_json::json!({ "held": false, "fencing": 0 })
}

impl Outcome {
    /// The result as text for a terminal: one message, then the expiry when somebody
    /// holds the token.
    #[must_use]
    pub fn text(&self) -> String {
        let now = self.now;
        let (message, state) = match &self.done {
            Done::Status(None) => return "nobody holds the token (it was never taken)\n".into(),
            Done::Status(Some(s)) => return format!("{}\n", describe(s, now)),
            Done::History(states) if states.is_empty() => return "no changes\n".into(),
            Done::History(states) => {
                return states.iter().fold(String::new(), |mut out, s| {
                    let _ = writeln!(out, "{}", history_line(s));
                    out
                });
            }
            Done::Acquired(a) if a.already_held => (
                format!(
                    "you already hold the `{}` token (fencing number {})",
                    a.state.name, a.state.fencing
                ),
                &a.state,
            ),
            Done::Acquired(a) => {
                let replaced = a
                    .replaced
                    .as_ref()
                    .map(|r| {
                        format!(
                            " (replacing {}, who held it for: {})",
                            name(&r.who),
                            reason(&r.reason)
                        )
                    })
                    .unwrap_or_default();
                let s = &a.state;
                (
                    format!(
                        "acquired the `{}` token, fencing number {}{replaced}",
                        s.name, s.fencing
                    ),
                    s,
                )
            }
            Done::Released(r) => match (&r.state, r.released) {
                (Some(s), true) => (format!("released the `{}` token", s.name), s),
                (Some(s), false) => {
                    return format!(
                        "nothing to release: the `{}` token is not held ({})\n",
                        s.name,
                        describe(s, now).trim_start_matches("free: ")
                    );
                }
                (None, _) => {
                    return "nothing to release: the token was never taken\n".into();
                }
            },
            Done::Renewed(s) => (
                format!(
                    "renewed the `{}` token, fencing number {}",
                    s.name, s.fencing
                ),
                s,
            ),
            Done::Verified(s) => (
                format!(
                    "{} holds the `{}` token with fencing number {}",
                    s.holder
                        .as_ref()
                        .map_or_else(|| "nobody".into(), |h| name(&h.who)),
                    s.name,
                    s.fencing
                ),
                s,
            ),
        };
        let mut out = format!("{message}\n");
        if let Some(h) = state.live_holder(now) {
            let _ = writeln!(out, "  expires at {}", at(h.expires_at));
        }
        out
    }

    /// The result as one JSON document: the state (or the list of states for
    /// `history`) with the fields `name`, `held`, `holder`, `reason`, `acquired_at`,
    /// `expires_at`, `expired`, `fencing` and `last_event`.
    #[must_use]
    pub fn json(&self) -> serde_json::Value {
        let now = self.now;
        match &self.done {
            Done::Status(state) => state.as_ref().map_or_else(never_taken, |s| view(s, now)),
            Done::History(states) => states.iter().map(|s| view(s, now)).collect(),
            Done::Acquired(a) => view(&a.state, now),
            Done::Released(r) => r.state.as_ref().map_or_else(never_taken, |s| view(s, now)),
            Done::Renewed(s) | Done::Verified(s) => view(s, now),
        }
    }
}

//! The console adapter: the embedded default.
//!
//! It keeps the channel in memory and writes every post, edit and reaction to an injected
//! writer as it happens, as plain text or Markdown. Because it goes through the same
//! find-then-post-or-update flow as Slack, a dry-run or the demo shows exactly the messages
//! (and the re-run behaviour) that Slack would get. Timestamps are a counter, so output is
//! deterministic.

use std::fmt::Write as _;
use std::io::Write;
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use crate::error::{ChatError, Result};
use crate::flow::{Channel, Found, Meta};
use crate::model::{MessageRef, Playbook, Reaction};
use crate::render::{Document, escape_markdown};

/// The user the console adapter posts and reacts as.
const SELF_USER: &str = "upkeep";

/// How the console adapter writes messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConsoleFormat {
    /// Readable plain text (the terminal).
    #[default]
    Text,
    /// `CommonMark` (a file to keep or paste).
    Markdown,
}

#[derive(Debug, Clone)]
struct Stored {
    ts: u64,
    thread: Option<u64>,
    doc: Document,
    meta: Option<Meta>,
    user: String,
    reactions: Vec<Reaction>,
}

struct State {
    out: Box<dyn Write + Send>,
    messages: Vec<Stored>,
    next_ts: u64,
}

/// Posts to an in-memory channel and writes what happens to a writer.
pub struct ConsoleChat {
    channel: String,
    playbook: Playbook,
    format: ConsoleFormat,
    state: Mutex<State>,
}

impl std::fmt::Debug for ConsoleChat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleChat")
            .field("channel", &self.channel)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

impl ConsoleChat {
    /// A console channel named `#maintenance` writing to `out`, with the default playbook.
    pub fn new(out: impl Write + Send + 'static, format: ConsoleFormat) -> Self {
        Self {
            channel: "#maintenance".to_owned(),
            playbook: Playbook::default(),
            format,
            state: Mutex::new(State {
                out: Box::new(out),
                messages: Vec::new(),
                next_ts: 1,
            }),
        }
    }

    /// Uses `name` as the channel name in output and message references.
    #[must_use]
    pub fn with_channel(mut self, name: impl Into<String>) -> Self {
        self.channel = name.into();
        self
    }

    /// Uses this checklist and legend instead of the defaults.
    #[must_use]
    pub fn with_playbook(mut self, playbook: Playbook) -> Self {
        self.playbook = playbook;
        self
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn parse_ts(&self, msg: &MessageRef) -> Result<u64> {
        msg.ts
            .parse()
            .ok()
            .filter(|_| msg.channel == self.channel)
            .ok_or_else(|| ChatError::MessageNotFound {
                channel: msg.channel.clone(),
                ts: msg.ts.clone(),
            })
    }

    fn message_ref(&self, ts: u64) -> MessageRef {
        MessageRef {
            channel: self.channel.clone(),
            ts: ts.to_string(),
        }
    }

    /// Adds a reaction as `user` (a person): how the demo and tests play the team.
    pub fn react_as(&self, user: &str, message: &MessageRef, name: &str) -> Result<()> {
        let ts = self.parse_ts(message)?;
        let mut state = self.lock();
        let stored = find_mut(&mut state.messages, ts, &self.channel)?;
        add_reaction(&mut stored.reactions, user, name);
        let line = self.event_line(&format!("{user} reacted :{name}: to message {ts}"));
        write_out(&mut state, &line)
    }

    /// Number of messages in the channel, replies included.
    #[must_use]
    pub fn message_count(&self) -> usize {
        self.lock().messages.len()
    }

    /// The channel as it stands, as one Markdown document: each top-level message, its
    /// reactions and its thread. What `--chat-markdown FILE` writes.
    #[must_use]
    pub fn to_markdown(&self) -> String {
        let state = self.lock();
        let mut out = format!("# {}\n", self.channel);
        for top in state.messages.iter().filter(|m| m.thread.is_none()) {
            let _ = write!(
                out,
                "\n## Message {}{}\n\n",
                top.ts,
                escape_markdown(&describe(top.meta.as_ref()))
            );
            out.push_str(&top.doc.to_markdown());
            out.push('\n');
            if !top.reactions.is_empty() {
                out.push_str("\nReactions: ");
                out.push_str(&reactions_line(&top.reactions));
                out.push('\n');
            }
            for reply in state.messages.iter().filter(|m| m.thread == Some(top.ts)) {
                let _ = write!(
                    out,
                    "\n> **Reply {}**{}\n>\n",
                    reply.ts,
                    escape_markdown(&describe(reply.meta.as_ref()))
                );
                for line in reply.doc.to_markdown().lines() {
                    out.push_str(if line.is_empty() { ">" } else { "> " });
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        out
    }

    fn event_line(&self, what: &str) -> String {
        match self.format {
            ConsoleFormat::Text => format!("-- {} · {what}\n\n", self.channel),
            ConsoleFormat::Markdown => {
                format!("*{} · {}*\n\n", self.channel, escape_markdown(what))
            }
        }
    }

    fn event_with_doc(&self, what: &str, doc: &Document) -> String {
        match self.format {
            ConsoleFormat::Text => {
                let body: String = doc
                    .to_plain()
                    .lines()
                    .map(|l| format!("   {l}\n").replace("   \n", "\n"))
                    .collect();
                format!("== {} · {what}\n{body}\n", self.channel)
            }
            ConsoleFormat::Markdown => {
                format!(
                    "### {} · {}\n\n{}\n\n",
                    self.channel,
                    escape_markdown(what),
                    doc.to_markdown()
                )
            }
        }
    }
}

fn describe(meta: Option<&Meta>) -> String {
    match meta {
        None => String::new(),
        Some(m) => {
            let mut s = format!(" ({}", m.kind.label());
            if let Some(p) = &m.project {
                let _ = write!(s, " {p}");
            }
            if !m.round.is_empty() {
                let _ = write!(s, ", round {}", m.round);
            }
            s.push(')');
            s
        }
    }
}

fn reactions_line(reactions: &[Reaction]) -> String {
    reactions
        .iter()
        .map(|r| format!(":{}: {}", r.name, r.users.join(", ")))
        .collect::<Vec<_>>()
        .join(" · ")
}

fn add_reaction(reactions: &mut Vec<Reaction>, user: &str, name: &str) {
    match reactions.iter_mut().find(|r| r.name == name) {
        Some(r) if r.users.iter().any(|u| u == user) => {}
        Some(r) => r.users.push(user.to_owned()),
        None => reactions.push(Reaction {
            name: name.to_owned(),
            users: vec![user.to_owned()],
        }),
    }
}

fn find_mut<'a>(messages: &'a mut [Stored], ts: u64, channel: &str) -> Result<&'a mut Stored> {
    messages
        .iter_mut()
        .find(|m| m.ts == ts)
        .ok_or_else(|| ChatError::MessageNotFound {
            channel: channel.to_owned(),
            ts: ts.to_string(),
        })
}

fn write_out(state: &mut State, text: &str) -> Result<()> {
    state
        .out
        .write_all(text.as_bytes())
        .and_then(|()| state.out.flush())
        .map_err(|source| ChatError::Console { source })
}

impl ConsoleChat {
    fn found(&self, m: &Stored) -> Found {
        Found {
            msg: self.message_ref(m.ts),
            meta: m.meta.clone(),
            user: Some(m.user.clone()),
            reactions: m.reactions.clone(),
        }
    }
}

#[async_trait]
impl Channel for ConsoleChat {
    fn playbook(&self) -> &Playbook {
        &self.playbook
    }

    async fn self_user(&self) -> Result<String> {
        Ok(SELF_USER.to_owned())
    }

    async fn round_messages(&self, round: &str, _fresh: bool) -> Result<Vec<Found>> {
        let state = self.lock();
        Ok(state
            .messages
            .iter()
            .filter(|m| m.thread.is_none())
            .filter(|m| m.meta.as_ref().is_some_and(|meta| meta.round == round))
            .map(|m| self.found(m))
            .collect())
    }

    async fn replies(&self, parent: &MessageRef) -> Result<Vec<Found>> {
        let ts = self.parse_ts(parent)?;
        let state = self.lock();
        Ok(state
            .messages
            .iter()
            .filter(|m| m.thread == Some(ts))
            .map(|m| self.found(m))
            .collect())
    }

    async fn post(
        &self,
        parent: Option<&MessageRef>,
        doc: &Document,
        meta: &Meta,
    ) -> Result<MessageRef> {
        let thread = parent.map(|p| self.parse_ts(p)).transpose()?;
        let mut state = self.lock();
        if let Some(thread) = thread {
            find_mut(&mut state.messages, thread, &self.channel)?;
        }
        let ts = state.next_ts;
        state.next_ts += 1;
        state.messages.push(Stored {
            ts,
            thread,
            doc: doc.clone(),
            meta: Some(meta.clone()),
            user: SELF_USER.to_owned(),
            reactions: Vec::new(),
        });
        let what = match thread {
            None => format!("message {ts}{}", describe(Some(meta))),
            Some(parent) => format!(
                "reply {ts} in thread of message {parent}{}",
                describe(Some(meta))
            ),
        };
        let text = self.event_with_doc(&what, doc);
        write_out(&mut state, &text)?;
        Ok(self.message_ref(ts))
    }

    async fn edit(&self, msg: &MessageRef, doc: &Document, meta: Option<&Meta>) -> Result<()> {
        let ts = self.parse_ts(msg)?;
        let mut state = self.lock();
        let stored = find_mut(&mut state.messages, ts, &self.channel)?;
        stored.doc = doc.clone();
        if let Some(meta) = meta {
            stored.meta = Some(meta.clone());
        }
        let what = format!("message {ts} edited{}", describe(stored.meta.as_ref()));
        let text = self.event_with_doc(&what, doc);
        write_out(&mut state, &text)
    }

    async fn react(&self, msg: &MessageRef, name: &str) -> Result<()> {
        self.react_as(SELF_USER, msg, name)
    }

    async fn unreact(&self, msg: &MessageRef, name: &str) -> Result<()> {
        let ts = self.parse_ts(msg)?;
        let mut state = self.lock();
        let stored = find_mut(&mut state.messages, ts, &self.channel)?;
        for r in &mut stored.reactions {
            if r.name == name {
                r.users.retain(|u| u != SELF_USER);
            }
        }
        stored.reactions.retain(|r| !r.users.is_empty());
        let line = self.event_line(&format!("{SELF_USER} removed :{name}: from message {ts}"));
        write_out(&mut state, &line)
    }
}

crate::impl_chat_threads!(ConsoleChat);

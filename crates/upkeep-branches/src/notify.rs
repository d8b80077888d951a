//! Telling the team how a job ended: the job builds one [`Notice`] and hands it to a
//! [`Notifier`]. [`ChatNotifier`] posts it as a note to a chat channel (Slack through
//! `upkeep-chat`), [`SentryNotifier`] sends failures to Sentry as events, [`Notifiers`]
//! does several. A notice that cannot be delivered is a warning: it never changes what
//! happened to the branches.

use std::sync::Arc;

use async_trait::async_trait;
use upkeep_chat::ChatThreads;
use upkeep_sentry::{Event, EventSender};

use crate::{Error, Result};

/// How a job ended, for the team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The whole report: the first line says who ran what and how it ended, then the
    /// report or the gates' evidence.
    pub text: String,
    /// When the job failed, was refused or not approved: one line saying why (the title
    /// of a Sentry event). `None` for a success.
    pub failure: Option<String>,
    /// Searchable facts: `result`, `digest`, `command`.
    pub tags: Vec<(String, String)>,
    /// The chat channel (as configured) where the approver already told the team, in the
    /// thread of the message that asked for approval; a [`ChatNotifier`] for that channel
    /// does not post it again.
    pub told_in: Option<String>,
}

/// Somewhere a job's [`Notice`] goes.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// Delivers `notice` (or ignores it, when this notifier only wants failures).
    async fn notify(&self, notice: &Notice) -> Result<()>;
}

/// Posts every notice as a note in a chat channel.
pub struct ChatNotifier {
    /// The chat, e.g. `upkeep_chat::SlackChat` for one channel.
    pub chat: Arc<dyn ChatThreads>,
    /// Names the channel in errors.
    pub channel: String,
}

#[async_trait]
impl Notifier for ChatNotifier {
    async fn notify(&self, notice: &Notice) -> Result<()> {
        if notice.told_in.as_deref() == Some(self.channel.as_str()) {
            return Ok(());
        }
        self.chat
            .post_note(&notice.text)
            .await
            .map(drop)
            .map_err(|e| Error::Notify {
                to: format!("chat channel {}", self.channel),
                source: Box::new(e),
            })
    }
}

/// Sends failures (not successes) to Sentry as events.
pub struct SentryNotifier {
    /// The DSN's sender.
    pub sender: EventSender,
    /// The `tool` tag of the events (`move-branches`).
    pub tool: String,
}

#[async_trait]
impl Notifier for SentryNotifier {
    async fn notify(&self, notice: &Notice) -> Result<()> {
        let Some(failure) = &notice.failure else {
            return Ok(());
        };
        let mut event = Event::error(failure.clone(), notice.tags.iter().cloned());
        event.tags.insert("tool".into(), self.tool.clone());
        event.extra.insert("report".into(), notice.text.clone());
        self.sender
            .send(&event)
            .await
            .map(drop)
            .map_err(|e| Error::Notify {
                to: "Sentry".to_owned(),
                source: Box::new(e),
            })
    }
}

/// Every notifier in turn; one that fails does not keep the others from being told.
#[derive(Default)]
pub struct Notifiers(pub Vec<Arc<dyn Notifier>>);

impl Notifiers {
    /// Tells each of them; returns the errors of those that could not be told.
    pub async fn notify_all(&self, notice: &Notice) -> Vec<Error> {
        let mut errors = Vec::new();
        for n in &self.0 {
            if let Err(e) = n.notify(notice).await {
                errors.push(e);
            }
        }
        errors
    }

    /// Whether there is nobody to tell.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

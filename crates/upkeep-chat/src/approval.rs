//! Asking the team to approve something by reacting on a message.
//!
//! A tool that needs a person's "yes" (a stable-branch promotion) posts one message that
//! shows what is to be approved, then reads the reactions on it until someone allowed
//! reacts, or a deadline passes. This module holds the neutral part: what such a message
//! records about itself ([`ApprovalMeta`], kept in the message's metadata so that a re-run
//! after a crash finds its own message instead of posting a second one), the people who
//! may approve ([`Approvers`]), and the [`ApprovalChannel`] trait the Slack adapter
//! implements. What counts as an approval — which reactions, by whom, before when, for
//! which plan — is decided by the caller (`upkeep-branches`), not here.

use std::collections::BTreeSet;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::model::{MessageRef, Reaction};
use crate::render::Document;

/// The metadata event type of approval messages.
pub const APPROVAL_EVENT: &str = "upkeep_approval";

/// Where an approval message stands. Only [`ApprovalState::Pending`] and
/// [`ApprovalState::Approved`] messages are taken up again by a re-run; the others are
/// finished, whatever reactions arrive on them later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalState {
    /// Waiting for a reaction.
    Pending,
    /// An allowed person approved; the job is moving (or about to).
    Approved,
    /// An allowed person refused.
    Rejected,
    /// Nobody approved before the deadline.
    TimedOut,
    /// The plan changed while waiting: this message no longer shows what would happen.
    Outdated,
    /// The job ended (applied, or refused for another reason).
    Done,
}

impl ApprovalState {
    /// The name stored in the metadata.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::TimedOut => "timed_out",
            Self::Outdated => "outdated",
            Self::Done => "done",
        }
    }

    /// The state named `s` in metadata.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::Approved,
            Self::Rejected,
            Self::TimedOut,
            Self::Outdated,
            Self::Done,
        ]
        .into_iter()
        .find(|state| state.as_str() == s)
    }

    /// Whether a re-run of the same job may take the message up again.
    #[must_use]
    pub fn is_open(self) -> bool {
        matches!(self, Self::Pending | Self::Approved)
    }
}

/// What an approval message records about itself (Slack message metadata).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalMeta {
    /// Which job asks (the same for every run of one job, so a re-run finds it).
    pub key: String,
    /// The digest of what is to be approved; an approval counts for this digest only.
    pub digest: String,
    /// Where it stands.
    pub state: ApprovalState,
    /// Reactions seen after this moment never count.
    pub deadline: DateTime<Utc>,
    /// People already told (in the thread) that their reaction does not count, so that a
    /// re-run does not tell them again.
    pub noted: BTreeSet<String>,
    /// Random id of this message, to recognise it after a lost answer.
    pub nonce: String,
}

impl ApprovalMeta {
    /// The metadata payload: string keys and values, as Slack stores them.
    #[must_use]
    pub fn payload(&self) -> Vec<(String, String)> {
        vec![
            ("key".to_owned(), self.key.clone()),
            ("digest".to_owned(), self.digest.clone()),
            ("state".to_owned(), self.state.as_str().to_owned()),
            ("deadline".to_owned(), self.deadline.to_rfc3339()),
            (
                "noted".to_owned(),
                self.noted.iter().cloned().collect::<Vec<_>>().join(","),
            ),
            ("nonce".to_owned(), self.nonce.clone()),
        ]
    }

    /// Reads a payload written by [`Self::payload`]; `None` when a field is missing or
    /// malformed (someone else's message of the same event type).
    pub fn from_payload<'a>(mut get: impl FnMut(&str) -> Option<&'a str>) -> Option<Self> {
        Some(Self {
            key: get("key")?.to_owned(),
            digest: get("digest")?.to_owned(),
            state: ApprovalState::parse(get("state")?)?,
            deadline: DateTime::parse_from_rfc3339(get("deadline")?)
                .ok()?
                .with_timezone(&Utc),
            noted: get("noted")
                .unwrap_or_default()
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            nonce: get("nonce").unwrap_or_default().to_owned(),
        })
    }
}

/// An approval message found in the channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalMessage {
    /// Where it is.
    pub message: MessageRef,
    /// What it records.
    pub meta: ApprovalMeta,
}

/// A person, as the chat knows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// The chat's user id (`U…`).
    pub id: String,
    /// A name to show (display name, real name or handle).
    pub name: String,
}

impl Person {
    /// `Name (U123)`, or the id alone when the name is not known.
    #[must_use]
    pub fn label(&self) -> String {
        if self.name.is_empty() || self.name == self.id {
            self.id.clone()
        } else {
            format!("{} ({})", self.name, self.id)
        }
    }
}

/// Who may approve, as checked with the chat before anything is posted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Approvers {
    /// The people named one by one.
    pub people: Vec<Person>,
    /// The user groups named, with their members when checked.
    pub groups: Vec<(String, Vec<String>)>,
}

impl Approvers {
    /// Whether `user` may approve: named, or a member of a named group.
    #[must_use]
    pub fn allows(&self, user: &str) -> bool {
        self.people.iter().any(|p| p.id == user)
            || self
                .groups
                .iter()
                .any(|(_, members)| members.iter().any(|m| m == user))
    }

    /// Whether nobody at all could approve.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.people.is_empty() && self.groups.iter().all(|(_, m)| m.is_empty())
    }
}

/// A channel in which a message can ask for approval by reaction. Implemented by
/// `SlackChat`; every method is a few Web API calls, retried and paced like the rest of
/// the adapter.
#[async_trait]
pub trait ApprovalChannel: Send + Sync {
    /// The channel as configured (an id or `#name`), for messages.
    fn channel_name(&self) -> &str;

    /// Checks, before anything is posted, that approval can work at all: the token has
    /// the scopes it needs, the channel exists and the app is in it, and every person and
    /// group named exists and can be seen. Returns them, with the groups' members.
    async fn check_approvers(&self, people: &[String], groups: &[String]) -> Result<Approvers>;

    /// The current members of a user group.
    async fn group_members(&self, group: &str) -> Result<Vec<String>>;

    /// A person's name (for saying who reacted).
    async fn person(&self, id: &str) -> Result<Person>;

    /// The approval messages of job `key` posted within `within`, newest first.
    async fn find_approvals(&self, key: &str, within: Duration) -> Result<Vec<ApprovalMessage>>;

    /// Posts a new approval message. An answer lost on the way is not a second message:
    /// the adapter looks for the message by its nonce before posting again.
    async fn post_approval(&self, doc: &Document, meta: &ApprovalMeta) -> Result<MessageRef>;

    /// Replaces an approval message's content and metadata in place.
    async fn update_approval(
        &self,
        message: &MessageRef,
        doc: &Document,
        meta: &ApprovalMeta,
    ) -> Result<()>;

    /// Every reaction on the message, with every user who reacted (not a truncated list).
    async fn reactions(&self, message: &MessageRef) -> Result<Vec<Reaction>>;

    /// Replies `text` (plain text) in the message's thread.
    async fn reply_in_thread(&self, message: &MessageRef, text: &str) -> Result<MessageRef>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_round_trips() {
        let meta = ApprovalMeta {
            key: "run:promotion-1".into(),
            digest: "0123456789ab".into(),
            state: ApprovalState::Pending,
            deadline: DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
                .unwrap()
                .with_timezone(&Utc),
            noted: ["U2".to_owned(), "U1".to_owned()].into_iter().collect(),
            nonce: "abc".into(),
        };
        let payload = meta.payload();
        let back = ApprovalMeta::from_payload(|k| {
            payload
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        });
        assert_eq!(back, Some(meta));
        assert_eq!(
            ApprovalMeta::from_payload(|k| (k == "key").then_some("x")),
            None,
            "a payload without a digest is not ours"
        );
    }

    #[test]
    fn approvers_allow_people_and_group_members() {
        let approvers = Approvers {
            people: vec![Person {
                id: "U1".into(),
                name: "ann".into(),
            }],
            groups: vec![("S1".into(), vec!["U2".into()])],
        };
        assert!(approvers.allows("U1"));
        assert!(approvers.allows("U2"));
        assert!(!approvers.allows("U3"));
        assert!(!approvers.is_empty());
        assert!(
            Approvers {
                people: vec![],
                groups: vec![("S1".into(), vec![])]
            }
            .is_empty()
        );
    }
}

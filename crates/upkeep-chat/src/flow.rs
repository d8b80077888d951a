//! The "find it, then post or update" logic, written once for every adapter.
//!
//! Adapters implement the small [`Channel`] trait (post, edit, react, list a round's
//! messages, list a thread's replies); the idempotence rules — one summary per round, one
//! message per project with its checklist inside, one failure reply, content compared by
//! digest — live here, so the console adapter behaves exactly like Slack.

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::error::Result;
use crate::model::{
    Delivery, Meaning, MessageRef, Playbook, Posted, ProjectMessage, ProjectStatus, Reaction,
    RoundId, RoundSummary, ThreadRef,
};
use crate::render::{self, Document};

/// What kind of upkeep message a message is, recorded in its metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Summary,
    Project,
    Failure,
    Note,
}

// Only the Slack adapter serialises metadata; the console keeps `Meta` values as they are.
#[cfg_attr(not(feature = "slack"), allow(dead_code))]
impl Kind {
    pub(crate) fn event_type(self) -> &'static str {
        match self {
            Kind::Summary => "upkeep_round_summary",
            Kind::Project => "upkeep_project",
            Kind::Failure => "upkeep_failure",
            Kind::Note => "upkeep_note",
        }
    }

    fn from_event_type(event_type: &str) -> Option<Self> {
        [Kind::Summary, Kind::Project, Kind::Failure, Kind::Note]
            .into_iter()
            .find(|k| k.event_type() == event_type)
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            Kind::Summary => "summary",
            Kind::Project => "project",
            Kind::Failure => "failure",
            Kind::Note => "note",
        }
    }
}

/// Message metadata: what lets a later run find the round's messages in the channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Meta {
    pub kind: Kind,
    pub round: String,
    pub project: Option<String>,
    pub pr_url: Option<String>,
    /// Fingerprint of the rendered content ([`Document::digest`]).
    pub digest: String,
    /// Random id of a free-text note, to recognise it after a lost answer.
    pub nonce: Option<String>,
}

#[cfg_attr(not(feature = "slack"), allow(dead_code))]
impl Meta {
    pub(crate) fn new(kind: Kind, round: &str, doc: &Document) -> Self {
        Self {
            kind,
            round: round.to_owned(),
            project: None,
            pr_url: None,
            digest: doc.digest(),
            nonce: None,
        }
    }

    pub(crate) fn payload(&self) -> BTreeMap<String, String> {
        let mut map = BTreeMap::new();
        map.insert("round".to_owned(), self.round.clone());
        map.insert("digest".to_owned(), self.digest.clone());
        if let Some(p) = &self.project {
            map.insert("project".to_owned(), p.clone());
        }
        if let Some(u) = &self.pr_url {
            map.insert("pr_url".to_owned(), u.clone());
        }
        if let Some(n) = &self.nonce {
            map.insert("nonce".to_owned(), n.clone());
        }
        map
    }

    pub(crate) fn from_parts<'a>(
        event_type: &str,
        mut get: impl FnMut(&str) -> Option<&'a str>,
    ) -> Option<Self> {
        let kind = Kind::from_event_type(event_type)?;
        Some(Self {
            kind,
            round: get("round").unwrap_or_default().to_owned(),
            project: get("project").map(str::to_owned),
            pr_url: get("pr_url").map(str::to_owned),
            digest: get("digest").unwrap_or_default().to_owned(),
            nonce: get("nonce").map(str::to_owned),
        })
    }

    /// Same logical message (ignoring content): what "already posted?" checks compare.
    pub(crate) fn same_slot(&self, other: &Meta) -> bool {
        self.kind == other.kind
            && self.round == other.round
            && self.project == other.project
            && self.nonce == other.nonce
    }
}

/// A message as read back from the channel.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    pub msg: MessageRef,
    pub meta: Option<Meta>,
    /// Author (user id), when known.
    pub user: Option<String>,
    pub reactions: Vec<Reaction>,
}

/// The few primitive operations an adapter provides.
#[async_trait]
pub(crate) trait Channel: Send + Sync {
    fn playbook(&self) -> &Playbook;
    /// The user the adapter posts as (for telling its own replies and reactions apart).
    async fn self_user(&self) -> Result<String>;
    /// Top-level upkeep messages of `round`, oldest first. `fresh` skips any cache.
    async fn round_messages(&self, round: &str, fresh: bool) -> Result<Vec<Found>>;
    /// Replies in the thread of `parent` (without the parent), oldest first.
    async fn replies(&self, parent: &MessageRef) -> Result<Vec<Found>>;
    /// Posts a message (as a reply when `parent` is given).
    async fn post(
        &self,
        parent: Option<&MessageRef>,
        doc: &Document,
        meta: &Meta,
    ) -> Result<MessageRef>;
    /// Replaces a message's content (and metadata, when given).
    async fn edit(&self, msg: &MessageRef, doc: &Document, meta: Option<&Meta>) -> Result<()>;
    /// Adds a reaction as [`Channel::self_user`]; already present is fine.
    async fn react(&self, msg: &MessageRef, name: &str) -> Result<()>;
    /// Removes [`Channel::self_user`]'s reaction; absent is fine.
    async fn unreact(&self, msg: &MessageRef, name: &str) -> Result<()>;
}

async fn upsert(
    ch: &dyn Channel,
    existing: Option<&Found>,
    parent: Option<&MessageRef>,
    doc: &Document,
    meta: &Meta,
) -> Result<Delivery> {
    match existing {
        Some(found) if found.meta.as_ref().is_some_and(|m| m.digest == meta.digest) => {
            Ok(Delivery {
                message: found.msg.clone(),
                posted: Posted::Unchanged,
            })
        }
        Some(found) => {
            ch.edit(&found.msg, doc, Some(meta)).await?;
            Ok(Delivery {
                message: found.msg.clone(),
                posted: Posted::Updated,
            })
        }
        None => Ok(Delivery {
            message: ch.post(parent, doc, meta).await?,
            posted: Posted::Created,
        }),
    }
}

fn find<'a>(messages: &'a [Found], kind: Kind, project: Option<&str>) -> Option<&'a Found> {
    messages.iter().find(|f| {
        f.meta
            .as_ref()
            .is_some_and(|m| m.kind == kind && m.project.as_deref() == project)
    })
}

pub(crate) async fn post_summary(ch: &dyn Channel, summary: &RoundSummary) -> Result<Delivery> {
    let doc = render::summary_document(summary, ch.playbook());
    let meta = Meta::new(Kind::Summary, summary.round.as_str(), &doc);
    let messages = ch.round_messages(summary.round.as_str(), false).await?;
    upsert(ch, find(&messages, Kind::Summary, None), None, &doc, &meta).await
}

pub(crate) async fn open_or_continue_thread(
    ch: &dyn Channel,
    message: &ProjectMessage,
) -> Result<ThreadRef> {
    let round = message.round.as_str();
    let doc = render::project_document(message, ch.playbook());
    let mut meta = Meta::new(Kind::Project, round, &doc);
    meta.project = Some(message.project.clone());
    meta.pr_url = message.change_request.as_ref().map(|c| c.url.clone());

    let messages = ch.round_messages(round, false).await?;
    let existing = find(&messages, Kind::Project, Some(&message.project));
    // The checklist is part of the message: a new project costs this one post.
    let parent = upsert(ch, existing, None, &doc, &meta).await?;

    let boom = ch
        .playbook()
        .legend
        .reaction_for(Meaning::Failing)
        .unwrap_or("boom")
        .to_owned();
    let failure_doc = render::failure_document(message);
    // Who upkeep is, only when an earlier message's reactions or replies must be told apart.
    let had_boom = existing.is_some_and(|f| f.reactions.iter().any(|r| r.name == boom));
    let me = if existing.is_some() && (had_boom || failure_doc.is_some()) {
        Some(ch.self_user().await?)
    } else {
        None
    };
    let my_boom = existing.is_some_and(|f| {
        f.reactions
            .iter()
            .any(|r| r.name == boom && me.as_ref().is_some_and(|me| r.users.contains(me)))
    });

    let failure = if let Some(failure_doc) = failure_doc {
        let mut failure_meta = Meta::new(Kind::Failure, round, &failure_doc);
        failure_meta.project = Some(message.project.clone());
        let replies = if existing.is_some() {
            ch.replies(&parent.message).await?
        } else {
            Vec::new()
        };
        // A report whose metadata Slack did not return is still the reply upkeep wrote
        // without metadata: edited, never doubled.
        let existing_failure =
            find(&replies, Kind::Failure, Some(&message.project)).or_else(|| {
                replies
                    .iter()
                    .find(|f| f.meta.is_none() && me.is_some() && f.user == me)
            });
        let delivery = upsert(
            ch,
            existing_failure,
            Some(&parent.message),
            &failure_doc,
            &failure_meta,
        )
        .await?;
        if !my_boom {
            ch.react(&parent.message, &boom).await?;
        }
        Some(delivery)
    } else {
        // Fixed since the last run: take back upkeep's own :boom: (people's stay).
        if my_boom {
            ch.unreact(&parent.message, &boom).await?;
        }
        None
    };
    Ok(ThreadRef { parent, failure })
}

pub(crate) async fn reply(ch: &dyn Channel, thread: &MessageRef, text: &str) -> Result<MessageRef> {
    let doc = render::text_document(text);
    let mut meta = Meta::new(Kind::Note, "", &doc);
    meta.nonce = Some(format!("{:016x}", rand::random::<u64>()));
    ch.post(Some(thread), &doc, &meta).await
}

pub(crate) async fn post_note(ch: &dyn Channel, text: &str) -> Result<MessageRef> {
    let doc = render::text_document(text);
    let mut meta = Meta::new(Kind::Note, "", &doc);
    meta.nonce = Some(format!("{:016x}", rand::random::<u64>()));
    ch.post(None, &doc, &meta).await
}

pub(crate) async fn update(ch: &dyn Channel, message: &MessageRef, text: &str) -> Result<()> {
    ch.edit(message, &render::text_document(text), None).await
}

pub(crate) async fn read_round_status(
    ch: &dyn Channel,
    round: &RoundId,
) -> Result<Vec<ProjectStatus>> {
    let messages = ch.round_messages(round.as_str(), true).await?;
    Ok(messages
        .into_iter()
        .filter_map(|f| {
            let meta = f.meta?;
            if meta.kind != Kind::Project {
                return None;
            }
            Some(ProjectStatus::from_reactions(
                meta.project.unwrap_or_default(),
                meta.pr_url,
                f.msg,
                f.reactions,
                &ch.playbook().legend,
            ))
        })
        .collect())
}

//! [`ApprovalChannel`] for Slack: a message that asks for approval, found again by its
//! metadata, and the reactions on it.
//!
//! Methods and scopes ([`APPROVAL_SCOPES`]): `auth.test` (granted scopes, from the
//! `x-oauth-scopes` header), `conversations.info` (the channel exists and the app is a
//! member: `channels:read`), `users.info` (`users:read`), `usergroups.users.list`
//! (`usergroups:read`, only when groups approve), `chat.postMessage` / `chat.update`
//! (`chat:write`), `conversations.history` with `include_all_metadata`
//! (`channels:history`), and `reactions.get` with `full=true` (`reactions:read`; without
//! `full` Slack may cut the list of users who reacted). `reactions.get` is a Tier 3
//! method (about 50 calls a minute): the caller chooses the polling interval, and a 429 is
//! waited out like everywhere in the adapter.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use slack_morphism::prelude::*;

use super::{Failure, SlackChat};
use crate::approval::{
    APPROVAL_EVENT, ApprovalChannel, ApprovalMessage, ApprovalMeta, Approvers, Person,
};
use crate::error::{ChatError, Result};
use crate::model::{MessageRef, Reaction};
use crate::render::Document;

/// Bot token scopes that approval by reaction needs, besides `usergroups:read` when user
/// groups may approve. A private channel takes `groups:history` and `groups:read` instead
/// of the `channels:` scopes.
pub const APPROVAL_SCOPES: &[&str] = &[
    "chat:write",
    "channels:history",
    "channels:read",
    "reactions:read",
    "users:read",
];

/// The scope that lets user groups approve.
pub const GROUP_SCOPE: &str = "usergroups:read";

impl SlackChat {
    /// The approval scopes `granted` lacks (a `groups:` scope stands in for its
    /// `channels:` twin).
    fn missing_approval_scopes(granted: &[String], groups: bool) -> Vec<&'static str> {
        let has = |s: &str| granted.iter().any(|g| g == s);
        APPROVAL_SCOPES
            .iter()
            .copied()
            .chain(groups.then_some(GROUP_SCOPE))
            .filter(|s| {
                let twin = s.replace("channels:", "groups:");
                !(has(s) || (s.starts_with("channels:") && has(&twin)))
            })
            .collect()
    }

    async fn users_info(&self, id: &str) -> Result<SlackUser> {
        let request = SlackApiUsersInfoRequest::new(SlackUserId::new(id.to_owned()));
        let answer = self
            .call("users.info", || {
                let request = request.clone();
                async move {
                    self.client
                        .open_session(&self.token)
                        .users_info(&request)
                        .await
                }
            })
            .await;
        match answer {
            Ok(a) => Ok(a.user),
            Err(ChatError::Api { code, .. })
                if code == "user_not_found" || code == "user_not_visible" =>
            {
                Err(ChatError::UnknownUser {
                    user: id.to_owned(),
                    code,
                })
            }
            Err(e) => Err(e),
        }
    }

    fn person_of(user: &SlackUser) -> Person {
        let profile = user.profile.as_ref();
        let name = [
            profile.and_then(|p| p.display_name.clone()),
            profile.and_then(|p| p.real_name.clone()),
            user.real_name.clone(),
            user.name.clone(),
        ]
        .into_iter()
        .flatten()
        .find(|n| !n.trim().is_empty())
        .unwrap_or_else(|| user.id.to_string());
        Person {
            id: user.id.to_string(),
            name,
        }
    }

    /// Checks that the bot can read and post in the channel.
    async fn check_membership(&self) -> Result<()> {
        const METHOD: &str = "conversations.info";
        let channel = self.channel_id().await?;
        let request = SlackApiConversationsInfoRequest::new(SlackChannelId::new(channel.clone()));
        let info = self
            .call(METHOD, || {
                let request = request.clone();
                async move {
                    self.client
                        .open_session(&self.token)
                        .conversations_info(&request)
                        .await
                }
            })
            .await?;
        if info.channel.flags.is_archived == Some(true) {
            return Err(ChatError::Api {
                method: METHOD.to_owned(),
                code: "is_archived".to_owned(),
            });
        }
        if info.channel.flags.is_member != Some(true) {
            return Err(ChatError::NotInChannel {
                method: METHOD.to_owned(),
                channel: self.config.channel.clone(),
            });
        }
        Ok(())
    }

    fn approval_content(doc: &Document, meta: &ApprovalMeta) -> SlackMessageContent {
        Self::content(doc, None).with_metadata(
            SlackMessageMetadata::new(APPROVAL_EVENT.to_owned())
                .with_event_payload(meta.payload().into_iter().collect::<HashMap<_, _>>()),
        )
    }

    fn approval_of(channel: &str, m: &SlackHistoryMessage) -> Option<ApprovalMessage> {
        if m.origin
            .thread_ts
            .as_ref()
            .is_some_and(|t| *t != m.origin.ts)
        {
            return None;
        }
        let md = m.content.metadata.as_ref()?;
        if md.event_type != APPROVAL_EVENT {
            return None;
        }
        let payload = md.event_payload.as_ref()?;
        let meta = ApprovalMeta::from_payload(|k| payload.get(k).map(String::as_str))?;
        Some(ApprovalMessage {
            message: MessageRef {
                channel: channel.to_owned(),
                ts: m.origin.ts.to_string(),
            },
            meta,
        })
    }

    /// Approval messages of `key` within `within`, newest first (one pass over the
    /// channel's history, page by page).
    async fn scan_approvals(&self, key: &str, within: Duration) -> Result<Vec<ApprovalMessage>> {
        let channel = self.channel_id().await?;
        let oldest = SystemTime::now()
            .checked_sub(within)
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        let mut cursor: Option<SlackCursorId> = None;
        let mut out = Vec::new();
        loop {
            let request = SlackApiConversationsHistoryRequest::new()
                .with_channel(SlackChannelId::new(channel.clone()))
                .with_include_all_metadata(true)
                .with_limit(200)
                .with_oldest(SlackTs::new(format!("{oldest}.000000")))
                .opt_cursor(cursor.clone());
            let page = self
                .call("conversations.history", || {
                    let request = request.clone();
                    async move {
                        self.client
                            .open_session(&self.token)
                            .conversations_history(&request)
                            .await
                    }
                })
                .await?;
            out.extend(
                page.messages
                    .iter()
                    .filter_map(|m| Self::approval_of(&channel, m))
                    .filter(|a| a.meta.key == key),
            );
            cursor = page
                .response_metadata
                .and_then(|r| r.next_cursor)
                .filter(|c| !c.to_string().is_empty());
            if cursor.is_none() {
                return Ok(out);
            }
        }
    }
}

#[async_trait]
impl ApprovalChannel for SlackChat {
    fn channel_name(&self) -> &str {
        &self.config.channel
    }

    async fn check_approvers(&self, people: &[String], groups: &[String]) -> Result<Approvers> {
        let info = self.auth_test().await?;
        let missing = Self::missing_approval_scopes(&info.scopes, !groups.is_empty());
        if !missing.is_empty() {
            return Err(ChatError::MissingScope {
                method: "auth.test".to_owned(),
                needed: missing.join(", "),
            });
        }
        self.check_membership().await?;
        let mut approvers = Approvers::default();
        for id in people {
            let user = self.users_info(id).await?;
            let why = if user.deleted == Some(true) {
                Some("is deactivated")
            } else if user.flags.is_bot == Some(true) {
                Some("is a bot, not a person")
            } else {
                None
            };
            if let Some(why) = why {
                return Err(ChatError::UnusableUser {
                    user: id.clone(),
                    why: why.to_owned(),
                });
            }
            approvers.people.push(Self::person_of(&user));
        }
        for group in groups {
            let members = self.group_members(group).await?;
            approvers.groups.push((group.clone(), members));
        }
        Ok(approvers)
    }

    async fn group_members(&self, group: &str) -> Result<Vec<String>> {
        let request =
            SlackApiUserGroupsUsersListRequest::new(SlackUserGroupId::new(group.to_owned()));
        let answer = self
            .call("usergroups.users.list", || {
                let request = request.clone();
                async move {
                    self.client
                        .open_session(&self.token)
                        .usergroups_users_list(&request)
                        .await
                }
            })
            .await;
        match answer {
            Ok(a) => Ok(a.users.into_iter().map(|u| u.to_string()).collect()),
            Err(ChatError::Api { code, .. }) if code == "no_such_subteam" => {
                Err(ChatError::UnknownUserGroup {
                    group: group.to_owned(),
                })
            }
            Err(e) => Err(e),
        }
    }

    async fn person(&self, id: &str) -> Result<Person> {
        Ok(Self::person_of(&self.users_info(id).await?))
    }

    async fn find_approvals(&self, key: &str, within: Duration) -> Result<Vec<ApprovalMessage>> {
        self.scan_approvals(key, within).await
    }

    async fn post_approval(&self, doc: &Document, meta: &ApprovalMeta) -> Result<MessageRef> {
        const METHOD: &str = "chat.postMessage";
        let channel = self.channel_id().await?;
        let request = SlackApiChatPostMessageRequest::new(
            SlackChannelId::new(channel.clone()),
            Self::approval_content(doc, meta),
        );
        // Paced with the adapter's other posts; held through the 429 waits.
        let mut gate = self.post_gate.lock().await;
        let mut lost = 0;
        loop {
            if let Some(last) = *gate {
                let next = last + self.config.post_interval;
                let now = Instant::now();
                if next > now {
                    tokio::time::sleep(next - now).await;
                }
            }
            let result = self
                .attempt(METHOD, || {
                    let request = request.clone();
                    async move {
                        self.client
                            .open_session(&self.token)
                            .chat_post_message(&request)
                            .await
                    }
                })
                .await;
            *gate = Some(Instant::now());
            match result {
                Ok(response) => {
                    return Ok(MessageRef {
                        channel,
                        ts: response.ts.to_string(),
                    });
                }
                Err(Failure::Fatal(err)) => return Err(err),
                Err(Failure::Lost(detail)) => {
                    lost += 1;
                    // It may have been posted: look for it by its nonce first.
                    let window = Duration::from_hours(1);
                    if let Some(found) = self
                        .scan_approvals(&meta.key, window)
                        .await?
                        .into_iter()
                        .find(|a| a.meta.nonce == meta.nonce)
                    {
                        return Ok(found.message);
                    }
                    if lost >= self.config.max_attempts {
                        return Err(ChatError::Transport {
                            method: METHOD.to_owned(),
                            attempts: lost,
                            detail,
                        });
                    }
                    tokio::time::sleep(self.backoff(lost)).await;
                }
                Err(Failure::RateLimited(_)) => unreachable!("attempt() retries rate limits"),
            }
        }
    }

    async fn update_approval(
        &self,
        message: &MessageRef,
        doc: &Document,
        meta: &ApprovalMeta,
    ) -> Result<()> {
        let request = SlackApiChatUpdateRequest::new(
            SlackChannelId::new(message.channel.clone()),
            Self::approval_content(doc, meta),
            SlackTs::new(message.ts.clone()),
        );
        self.call("chat.update", || {
            let request = request.clone();
            async move {
                self.client
                    .open_session(&self.token)
                    .chat_update(&request)
                    .await
            }
        })
        .await
        .map(drop)
        .map_err(|e| match e {
            ChatError::MessageNotFound { channel, .. } => ChatError::MessageNotFound {
                channel,
                ts: message.ts.clone(),
            },
            other => other,
        })
    }

    async fn reactions(&self, message: &MessageRef) -> Result<Vec<Reaction>> {
        const METHOD: &str = "reactions.get";
        let request = SlackApiReactionsGetRequest::new()
            .with_channel(SlackChannelId::new(message.channel.clone()))
            .with_timestamp(SlackTs::new(message.ts.clone()))
            .with_full(true);
        let answer = self
            .call(METHOD, || {
                let request = request.clone();
                async move {
                    self.client
                        .open_session(&self.token)
                        .reactions_get(&request)
                        .await
                }
            })
            .await
            .map_err(|e| match e {
                ChatError::MessageNotFound { channel, .. } => ChatError::MessageNotFound {
                    channel,
                    ts: message.ts.clone(),
                },
                other => other,
            })?;
        let SlackApiReactionsGetResponse::Message(found) = answer else {
            return Err(ChatError::Protocol {
                method: METHOD.to_owned(),
                detail: "the reactions are not a message's".to_owned(),
            });
        };
        Ok(found
            .message
            .content
            .reactions
            .unwrap_or_default()
            .into_iter()
            .map(|r| {
                if r.users.len() < r.count {
                    tracing::warn!(
                        reaction = %r.name,
                        count = r.count,
                        listed = r.users.len(),
                        "Slack listed fewer users than reacted, even with full=true"
                    );
                }
                Reaction {
                    name: r.name.to_string(),
                    users: r.users.into_iter().map(|u| u.to_string()).collect(),
                }
            })
            .collect())
    }

    async fn reply_in_thread(&self, message: &MessageRef, text: &str) -> Result<MessageRef> {
        crate::ChatThreads::reply(self, message, text).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_scopes_accept_the_private_channel_twins() {
        let granted = |s: &[&str]| s.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            SlackChat::missing_approval_scopes(
                &granted(&[
                    "chat:write",
                    "groups:history",
                    "groups:read",
                    "reactions:read",
                    "users:read"
                ]),
                false
            ),
            Vec::<&str>::new()
        );
        assert_eq!(
            SlackChat::missing_approval_scopes(&granted(&["chat:write", "channels:read"]), true),
            [
                "channels:history",
                "reactions:read",
                "users:read",
                "usergroups:read"
            ]
        );
    }
}

//! The people of the fake workspace, for approval by reaction: `users.info`,
//! `usergroups.users.list`, `conversations.info`, and the user lists of `reactions.get`.
//!
//! As Slack does (shapes from `slack_web_openapi_v2.json` and the method pages):
//!
//! - `users.info` (`users:read`) answers a user object with `id`, `name`, `deleted`,
//!   `is_bot`, `is_app_user`, `updated` and a `profile`, or `user_not_found`;
//! - `usergroups.users.list` (`usergroups:read`) answers `users`, or `no_such_subteam`;
//! - `conversations.info` (`channels:read`) answers a public channel whether or not the
//!   bot is in it, with `is_member` saying which, or `channel_not_found`;
//! - `reactions.get` lists at most [`FakeSlack::set_reaction_users_limit`] users per
//!   reaction (`count` stays the true number) unless called with `full=true`.
//!
//! The token's scopes are checked like every other method's, with `missing_scope`,
//! `needed` and `provided`.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::{BOT_USER, FakeSlack, SlackState, error, lock, str_param};

/// Users listed per reaction by `reactions.get` without `full=true` unless changed.
pub(super) const DEFAULT_REACTION_USERS_LIMIT: usize = 10;

/// A member of the fake workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FakeUser {
    name: String,
    real_name: String,
    deleted: bool,
    is_bot: bool,
}

/// The fake's people: users, user groups, and how `reactions.get` cuts its lists.
#[derive(Debug)]
pub(super) struct People {
    users: BTreeMap<String, FakeUser>,
    groups: BTreeMap<String, Vec<String>>,
    reaction_users_limit: usize,
}

impl Default for People {
    fn default() -> Self {
        let mut users = BTreeMap::new();
        users.insert(
            BOT_USER.to_owned(),
            FakeUser {
                name: "upkeep".to_owned(),
                real_name: "upkeep".to_owned(),
                deleted: false,
                is_bot: true,
            },
        );
        Self {
            users,
            groups: BTreeMap::new(),
            reaction_users_limit: DEFAULT_REACTION_USERS_LIMIT,
        }
    }
}

impl FakeSlack {
    /// Adds a person `id` (`U…`) named `name` to the workspace.
    pub fn add_user(&self, id: &str, name: &str) {
        lock(&self.state).people.users.insert(
            id.to_owned(),
            FakeUser {
                name: name.to_lowercase().replace(' ', "."),
                real_name: name.to_owned(),
                deleted: false,
                is_bot: false,
            },
        );
    }

    /// Marks a user as deactivated (`deleted: true`), as Slack keeps them.
    pub fn deactivate_user(&self, id: &str) {
        if let Some(u) = lock(&self.state).people.users.get_mut(id) {
            u.deleted = true;
        }
    }

    /// Adds (or replaces) user group `id` (`S…`) with these members.
    pub fn add_usergroup(&self, id: &str, members: &[&str]) {
        lock(&self.state).people.groups.insert(
            id.to_owned(),
            members.iter().map(|m| (*m).to_owned()).collect(),
        );
    }

    /// Takes a person's reaction back, as the person. Panics if the message does not
    /// exist; a reaction that is not there is left alone.
    pub fn unreact_as(&self, user: &str, channel: &str, ts: &str, name: &str) {
        let mut state = lock(&self.state);
        let message = state
            .channels
            .get_mut(channel)
            .and_then(|c| c.messages.iter_mut().find(|m| m.ts == ts))
            .unwrap_or_else(|| panic!("no message {ts} in {channel}"));
        for (n, users) in &mut message.reactions {
            if n == name {
                users.retain(|u| u != user);
            }
        }
        message.reactions.retain(|(_, users)| !users.is_empty());
    }

    /// How many users `reactions.get` lists per reaction without `full=true`.
    pub fn set_reaction_users_limit(&self, n: usize) {
        lock(&self.state).people.reaction_users_limit = n;
    }
}

fn scope_for(method: &str) -> Option<&'static str> {
    match method {
        "users.info" => Some("users:read"),
        "usergroups.users.list" => Some("usergroups:read"),
        "conversations.info" => Some("channels:read"),
        _ => None,
    }
}

fn flag(p: &Map<String, Value>, key: &str) -> bool {
    matches!(p.get(key), Some(Value::Bool(true))) || matches!(str_param(p, key), Some("true" | "1"))
}

/// Answers the methods of this module; `None` for the others.
pub(super) fn dispatch(
    state: &SlackState,
    method: &str,
    p: &Map<String, Value>,
    scopes: &[String],
) -> Option<Value> {
    let needed = scope_for(method)?;
    if !scopes.iter().any(|s| s == needed) {
        return Some(json!({
            "ok": false,
            "error": "missing_scope",
            "needed": needed,
            "provided": scopes.join(","),
        }));
    }
    Some(match method {
        "users.info" => {
            let Some((id, user)) =
                str_param(p, "user").and_then(|id| state.people.users.get_key_value(id))
            else {
                return Some(error("user_not_found"));
            };
            json!({"ok": true, "user": user_json(id, user)})
        }
        "usergroups.users.list" => {
            let Some(members) = str_param(p, "usergroup").and_then(|g| state.people.groups.get(g))
            else {
                return Some(error("no_such_subteam"));
            };
            json!({"ok": true, "users": members})
        }
        _ => {
            let Some((id, channel)) =
                str_param(p, "channel").and_then(|c| state.channels.get_key_value(c))
            else {
                return Some(error("channel_not_found"));
            };
            json!({"ok": true, "channel": {
                "id": id,
                "name": channel.name,
                "name_normalized": channel.name,
                "created": 1_700_000_000,
                "creator": "",
                "is_channel": true,
                "is_group": false,
                "is_im": false,
                "is_mpim": false,
                "is_private": false,
                "is_archived": false,
                "is_general": false,
                "is_shared": false,
                "is_org_shared": false,
                "is_member": channel.member,
                "topic": {"value": "", "creator": "", "last_set": 0},
                "purpose": {"value": "", "creator": "", "last_set": 0},
            }})
        }
    })
}

fn user_json(id: &str, user: &FakeUser) -> Value {
    json!({
        "id": id,
        "team_id": "T0FAKETEAM",
        "name": user.name,
        "real_name": user.real_name,
        "deleted": user.deleted,
        "is_bot": user.is_bot,
        "is_app_user": false,
        "updated": 1_700_000_000,
        "profile": {
            "real_name": user.real_name,
            "real_name_normalized": user.real_name,
            "display_name": user.name,
            "display_name_normalized": user.name,
            "avatar_hash": "",
            "title": "",
            "phone": "",
            "skype": "",
            "status_text": "",
            "status_emoji": "",
            "fields": null,
        },
    })
}

/// Cuts the user lists of a `reactions.get` answer the way Slack does without `full`.
pub(super) fn after(
    state: &SlackState,
    method: &str,
    p: &Map<String, Value>,
    mut body: Value,
) -> Value {
    if method != "reactions.get" || flag(p, "full") {
        return body;
    }
    let limit = state.people.reaction_users_limit;
    if let Some(reactions) = body
        .pointer_mut("/message/reactions")
        .and_then(Value::as_array_mut)
    {
        for r in reactions {
            if let Some(users) = r.get_mut("users").and_then(Value::as_array_mut) {
                users.truncate(limit);
            }
        }
    }
    body
}

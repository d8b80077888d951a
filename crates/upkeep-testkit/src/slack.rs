//! An in-memory fake of the Slack Web API methods upkeep uses, on `127.0.0.1:0`.
//!
//! Methods: `auth.test`, `conversations.list`, `chat.postMessage` (threads, metadata), `chat.update`,
//! `reactions.add` / `.remove` / `.get`, `conversations.history` (cursor pagination,
//! `include_all_metadata`, `oldest`) and `conversations.replies`. Like Slack it answers
//! HTTP 200 with `{"ok":false,"error":…}` for `invalid_auth`, `not_authed`,
//! `missing_scope` (with `needed` and `provided`), `channel_not_found`, `not_in_channel`,
//! `message_not_found`, `already_reacted`, …; sends the token's scopes in the
//! `x-oauth-scopes` header of every answer; and answers 429 `ratelimited` with
//! `Retry-After` when told to via [`FakeSlack::rate_limit_next`] or the [`Faults`] handle.
//!
//! Parameters are accepted as a query string (GET), JSON or form body (POST), as Slack does.
//! Message metadata is returned by `conversations.history` and `conversations.replies` only
//! when the request says `include_all_metadata=true` (or `1`), as Slack does: without it, no
//! message of the answer carries `metadata`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Map, Value, json};

use crate::faults::{Endpoint, Fault, Faults};

mod people;

/// The token [`FakeSlack::start`] accepts, with every scope upkeep needs.
pub const FAKE_TOKEN: &str = "xoxb-fake-0000-upkeep-test-token";
/// The channel [`FakeSlack::start`] creates (named `maintenance`), with the bot as a member.
pub const FAKE_CHANNEL: &str = "C0MAINT001";
/// The bot user id `auth.test` reports for tokens of this fake.
pub const BOT_USER: &str = "U0BOT";
/// The bot id on the bot's messages.
pub const BOT_ID: &str = "B0UPKEEP01";
/// Scopes given to [`FAKE_TOKEN`].
pub const DEFAULT_SCOPES: &[&str] = &[
    "chat:write",
    "channels:read",
    "channels:history",
    "groups:history",
    "reactions:read",
    "reactions:write",
    "users:read",
    "usergroups:read",
];

/// A message as the fake stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeMessage {
    /// Timestamp (message id).
    pub ts: String,
    /// Parent timestamp for replies.
    pub thread_ts: Option<String>,
    /// Author user id.
    pub user: String,
    /// Fallback text.
    pub text: String,
    /// Block Kit blocks as sent.
    pub blocks: Option<Value>,
    /// `{event_type, event_payload}` as sent.
    pub metadata: Option<Value>,
    /// Reactions: name and users, in the order added.
    pub reactions: Vec<(String, Vec<String>)>,
    /// How many times `chat.update` changed it.
    pub edits: usize,
}

#[derive(Debug)]
struct FakeChannel {
    name: String,
    member: bool,
    messages: Vec<FakeMessage>,
}

#[derive(Debug)]
struct SlackState {
    tokens: BTreeMap<String, Vec<String>>,
    channels: BTreeMap<String, FakeChannel>,
    page_size: usize,
    last_ts: (u64, u64),
    people: people::People,
}

impl SlackState {
    fn next_ts(&mut self) -> String {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let (last_secs, last_micros) = self.last_ts;
        self.last_ts = if secs > last_secs {
            (secs, 0)
        } else {
            (last_secs, last_micros + 1)
        };
        format!("{}.{:06}", self.last_ts.0, self.last_ts.1)
    }
}

/// The running fake. Dropping it stops the server.
#[derive(Debug)]
pub struct FakeSlack {
    addr: SocketAddr,
    state: Arc<Mutex<SlackState>>,
    faults: Faults,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeSlack {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(state: &Mutex<SlackState>) -> MutexGuard<'_, SlackState> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl FakeSlack {
    /// Starts the fake with [`FAKE_TOKEN`] and channel [`FAKE_CHANNEL`].
    pub async fn start() -> Self {
        let mut tokens = BTreeMap::new();
        tokens.insert(
            FAKE_TOKEN.to_owned(),
            DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
        );
        let mut channels = BTreeMap::new();
        channels.insert(
            FAKE_CHANNEL.to_owned(),
            FakeChannel {
                name: "maintenance".to_owned(),
                member: true,
                messages: Vec::new(),
            },
        );
        let state = Arc::new(Mutex::new(SlackState {
            tokens,
            channels,
            page_size: 100,
            last_ts: (0, 0),
            people: people::People::default(),
        }));
        let faults = Faults::new();
        let router = faults.wrap(
            Router::new()
                .route("/api/{method}", any(handle))
                .with_state(state.clone()),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self {
            addr,
            state,
            faults,
            task,
        }
    }

    /// The Web API base URL, `http://127.0.0.1:PORT/api`.
    #[must_use]
    pub fn api_url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    /// The fault script and request log of this fake (requests logged by literal path,
    /// e.g. `/api/chat.postMessage`).
    #[must_use]
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// How many requests for a Web API method (e.g. `chat.postMessage`) arrived, faulted
    /// ones included.
    #[must_use]
    pub fn calls(&self, method: &str) -> usize {
        self.faults
            .log()
            .count(&Endpoint::any(format!("/api/{method}")))
    }

    /// The next `times` calls of `method` answer 429 `ratelimited` with `Retry-After`.
    pub fn rate_limit_next(&self, method: &str, times: usize, retry_after_secs: u64) {
        self.faults.script(
            Endpoint::any(format!("/api/{method}")),
            times,
            Fault::RateLimited {
                retry_after_secs,
                body: r#"{"ok":false,"error":"ratelimited"}"#.to_owned(),
            },
        );
    }

    /// Accepts another token with these scopes.
    pub fn add_token(&self, token: &str, scopes: &[&str]) {
        lock(&self.state).tokens.insert(
            token.to_owned(),
            scopes.iter().map(|s| (*s).to_owned()).collect(),
        );
    }

    /// Adds a channel `id` named `name`; `member` says whether the bot is in it.
    pub fn add_channel(&self, id: &str, name: &str, member: bool) {
        lock(&self.state).channels.insert(
            id.to_owned(),
            FakeChannel {
                name: name.to_owned(),
                member,
                messages: Vec::new(),
            },
        );
    }

    /// Messages per `conversations.history` / `.replies` page when the client sets no
    /// `limit` (Slack: 100), to exercise pagination with few messages.
    pub fn set_page_size(&self, n: usize) {
        lock(&self.state).page_size = n.max(1);
    }

    /// All messages of a channel, replies included, oldest first.
    #[must_use]
    pub fn messages(&self, channel: &str) -> Vec<FakeMessage> {
        lock(&self.state)
            .channels
            .get(channel)
            .map(|c| c.messages.clone())
            .unwrap_or_default()
    }

    /// Top-level messages of a channel, oldest first.
    #[must_use]
    pub fn top_level(&self, channel: &str) -> Vec<FakeMessage> {
        self.messages(channel)
            .into_iter()
            .filter(|m| m.thread_ts.is_none())
            .collect()
    }

    /// Replies in the thread of `ts`, oldest first.
    #[must_use]
    pub fn replies(&self, channel: &str, ts: &str) -> Vec<FakeMessage> {
        self.messages(channel)
            .into_iter()
            .filter(|m| m.thread_ts.as_deref() == Some(ts))
            .collect()
    }

    /// Adds a reaction as a person. Panics if the message does not exist.
    pub fn react_as(&self, user: &str, channel: &str, ts: &str, name: &str) {
        let mut state = lock(&self.state);
        let message = state
            .channels
            .get_mut(channel)
            .and_then(|c| c.messages.iter_mut().find(|m| m.ts == ts))
            .unwrap_or_else(|| panic!("no message {ts} in {channel}"));
        add_reaction(message, user, name);
    }

    /// Posts a message as a person (noise between the bot's messages). Returns its ts.
    #[must_use]
    pub fn post_as(&self, user: &str, channel: &str, text: &str) -> String {
        let mut state = lock(&self.state);
        let ts = state.next_ts();
        let channel = state.channels.get_mut(channel).expect("channel exists");
        channel.messages.push(FakeMessage {
            ts: ts.clone(),
            thread_ts: None,
            user: user.to_owned(),
            text: text.to_owned(),
            blocks: None,
            metadata: None,
            reactions: Vec::new(),
            edits: 0,
        });
        ts
    }
}

fn add_reaction(message: &mut FakeMessage, user: &str, name: &str) -> bool {
    match message.reactions.iter_mut().find(|(n, _)| n == name) {
        Some((_, users)) if users.iter().any(|u| u == user) => false,
        Some((_, users)) => {
            users.push(user.to_owned());
            true
        }
        None => {
            message
                .reactions
                .push((name.to_owned(), vec![user.to_owned()]));
            true
        }
    }
}

/// A Slack answer: HTTP 200, JSON, `x-oauth-scopes` when the token is known.
fn answer(body: &Value, scopes: Option<&[String]>) -> Response {
    let mut response = (
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response();
    if let Some(scopes) = scopes
        && let Ok(value) = HeaderValue::from_str(&scopes.join(","))
    {
        response.headers_mut().insert("x-oauth-scopes", value);
    }
    response
}

fn error(code: &str) -> Value {
    json!({"ok": false, "error": code})
}

/// Collects parameters from the query string and the body (JSON or form).
fn params(query: Option<&str>, headers: &HeaderMap, body: &[u8]) -> Map<String, Value> {
    let mut out = Map::new();
    let mut add_form = |text: &str| {
        for (k, v) in url::form_urlencoded::parse(text.as_bytes()) {
            out.insert(k.into_owned(), Value::String(v.into_owned()));
        }
    };
    if let Some(q) = query {
        add_form(q);
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if content_type.starts_with("application/json") {
        if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) {
            out.extend(map);
        }
    } else if !body.is_empty() {
        add_form(&String::from_utf8_lossy(body));
    }
    out
}

fn str_param<'a>(p: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    p.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// A JSON-valued parameter: an object/array in a JSON body, or a JSON string in a form.
fn json_param(p: &Map<String, Value>, key: &str) -> Option<Value> {
    match p.get(key)? {
        Value::String(s) => serde_json::from_str(s).ok(),
        Value::Null => None,
        other => Some(other.clone()),
    }
}

fn required_scope(method: &str) -> Option<&'static str> {
    match method {
        "chat.postMessage" | "chat.update" => Some("chat:write"),
        "reactions.add" | "reactions.remove" => Some("reactions:write"),
        "reactions.get" => Some("reactions:read"),
        "conversations.history" | "conversations.replies" => Some("channels:history"),
        "conversations.list" => Some("channels:read"),
        _ => None,
    }
}

async fn handle(
    State(state): State<Arc<Mutex<SlackState>>>,
    Path(method): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let p = params(query.as_deref(), &headers, &body);
    let mut state = lock(&state);
    let Some(token) = token.or_else(|| str_param(&p, "token").map(str::to_owned)) else {
        return answer(&error("not_authed"), None);
    };
    let Some(scopes) = state.tokens.get(&token).cloned() else {
        return answer(&error("invalid_auth"), None);
    };
    if let Some(body) = people::dispatch(&state, &method, &p, &scopes) {
        return answer(&body, Some(&scopes));
    }
    if let Some(needed) = required_scope(&method)
        && !scopes.iter().any(|s| s == needed)
    {
        let body = json!({
            "ok": false,
            "error": "missing_scope",
            "needed": needed,
            "provided": scopes.join(","),
        });
        return answer(&body, Some(&scopes));
    }
    let body = dispatch(&mut state, &method, &p);
    let body = people::after(&state, &method, &p, body);
    answer(&body, Some(&scopes))
}

fn dispatch(state: &mut SlackState, method: &str, p: &Map<String, Value>) -> Value {
    if method == "auth.test" {
        return json!({
            "ok": true,
            "url": "https://fake-team.slack.com/",
            "team": "Fake Team",
            "user": "upkeep",
            "team_id": "T0FAKE",
            "user_id": BOT_USER,
            "bot_id": BOT_ID,
        });
    }
    if method == "conversations.list" {
        let channels: Vec<Value> = state
            .channels
            .iter()
            .map(|(id, c)| {
                json!({
                    "id": id,
                    "name": c.name,
                    "created": 1_700_000_000,
                    "is_channel": true,
                    "is_member": c.member,
                    "is_archived": false,
                })
            })
            .collect();
        let mut page = paged(&channels, p, state.page_size);
        if let Some(map) = page.as_object_mut() {
            let channels = map.remove("messages").unwrap_or_default();
            map.insert("channels".to_owned(), channels);
            map.remove("has_more");
        }
        return page;
    }
    let known = [
        "chat.postMessage",
        "chat.update",
        "reactions.add",
        "reactions.remove",
        "reactions.get",
        "conversations.history",
        "conversations.replies",
    ];
    if !known.contains(&method) {
        return error("unknown_method");
    }
    let Some(channel_id) = str_param(p, "channel").map(str::to_owned) else {
        return error("channel_not_found");
    };
    let ts_new = state.next_ts();
    let page_size = state.page_size;
    let Some(channel) = state.channels.get_mut(&channel_id) else {
        return error("channel_not_found");
    };
    if !channel.member {
        return error("not_in_channel");
    }
    match method {
        "chat.postMessage" => post_message(channel, &channel_id, &ts_new, p),
        "chat.update" => update_message(channel, &channel_id, p),
        "reactions.add" | "reactions.remove" => {
            let (Some(ts), Some(name)) = (str_param(p, "timestamp"), str_param(p, "name")) else {
                return error("invalid_arguments");
            };
            let Some(message) = channel.messages.iter_mut().find(|m| m.ts == ts) else {
                return error("message_not_found");
            };
            if method == "reactions.add" {
                if !add_reaction(message, BOT_USER, name) {
                    return error("already_reacted");
                }
            } else {
                let Some(entry) = message.reactions.iter_mut().find(|(n, _)| n == name) else {
                    return error("no_reaction");
                };
                if !entry.1.iter().any(|u| u == BOT_USER) {
                    return error("no_reaction");
                }
                entry.1.retain(|u| u != BOT_USER);
                message.reactions.retain(|(_, users)| !users.is_empty());
            }
            json!({"ok": true})
        }
        "reactions.get" => {
            let Some(message) = str_param(p, "timestamp")
                .and_then(|ts| channel.messages.iter().find(|m| m.ts == ts))
            else {
                return error("message_not_found");
            };
            json!({
                "ok": true,
                "type": "message",
                "channel": channel_id,
                "message": message_json(message, &channel.messages, true),
            })
        }
        "conversations.history" => history(channel, p, page_size),
        _ => replies(channel, p, page_size),
    }
}

fn post_message(
    channel: &mut FakeChannel,
    channel_id: &str,
    ts: &str,
    p: &Map<String, Value>,
) -> Value {
    let text = str_param(p, "text").unwrap_or_default().to_owned();
    let blocks = json_param(p, "blocks");
    if text.is_empty() && blocks.is_none() {
        return error("no_text");
    }
    let thread_ts = str_param(p, "thread_ts").map(str::to_owned);
    if let Some(parent) = &thread_ts
        && !channel
            .messages
            .iter()
            .any(|m| &m.ts == parent && m.thread_ts.is_none())
    {
        return error("thread_not_found");
    }
    let message = FakeMessage {
        ts: ts.to_owned(),
        thread_ts,
        user: BOT_USER.to_owned(),
        text,
        blocks,
        metadata: json_param(p, "metadata"),
        reactions: Vec::new(),
        edits: 0,
    };
    let json_message = message_json(&message, &channel.messages, true);
    channel.messages.push(message);
    json!({"ok": true, "channel": channel_id, "ts": ts, "message": json_message})
}

fn update_message(channel: &mut FakeChannel, channel_id: &str, p: &Map<String, Value>) -> Value {
    let Some(ts) = str_param(p, "ts") else {
        return error("message_not_found");
    };
    let Some(index) = channel.messages.iter().position(|m| m.ts == ts) else {
        return error("message_not_found");
    };
    let message = &mut channel.messages[index];
    if message.user != BOT_USER {
        return error("cant_update_message");
    }
    if let Some(text) = str_param(p, "text") {
        text.clone_into(&mut message.text);
    }
    if let Some(blocks) = json_param(p, "blocks") {
        message.blocks = Some(blocks);
    }
    if let Some(metadata) = json_param(p, "metadata") {
        message.metadata = Some(metadata);
    }
    message.edits += 1;
    let message = channel.messages[index].clone();
    let mut json_message = message_json(&message, &channel.messages, true);
    json_message["edited"] = json!({"user": BOT_USER, "ts": message.ts});
    json!({
        "ok": true,
        "channel": channel_id,
        "ts": message.ts,
        "text": message.text,
        "message": json_message,
    })
}

fn message_json(m: &FakeMessage, all: &[FakeMessage], with_metadata: bool) -> Value {
    let mut v = json!({"type": "message", "ts": m.ts, "user": m.user, "text": m.text});
    if m.user == BOT_USER {
        v["bot_id"] = json!(BOT_ID);
    }
    if let Some(blocks) = &m.blocks {
        v["blocks"] = blocks.clone();
    }
    if let (true, Some(metadata)) = (with_metadata, &m.metadata) {
        v["metadata"] = metadata.clone();
    }
    if let Some(thread_ts) = &m.thread_ts {
        v["thread_ts"] = json!(thread_ts);
    } else {
        let replies = all
            .iter()
            .filter(|r| r.thread_ts.as_ref() == Some(&m.ts))
            .count();
        if replies > 0 {
            v["thread_ts"] = json!(m.ts);
            v["reply_count"] = json!(replies);
        }
    }
    if !m.reactions.is_empty() {
        v["reactions"] = m
            .reactions
            .iter()
            .map(|(name, users)| json!({"name": name, "count": users.len(), "users": users}))
            .collect();
    }
    if m.edits > 0 {
        v["edited"] = json!({"user": m.user, "ts": m.ts});
    }
    v
}

fn page_bounds(p: &Map<String, Value>, page_size: usize, len: usize) -> (usize, usize) {
    let start = str_param(p, "cursor")
        .and_then(|c| c.strip_prefix("page:"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0usize)
        .min(len);
    let limit = str_param(p, "limit")
        .and_then(|l| l.parse().ok())
        .or_else(|| {
            p.get("limit")
                .and_then(Value::as_u64)
                .and_then(|l| usize::try_from(l).ok())
        })
        .unwrap_or(page_size)
        .clamp(1, 1000);
    (start, (start + limit).min(len))
}

fn paged(messages: &[Value], p: &Map<String, Value>, page_size: usize) -> Value {
    let (start, end) = page_bounds(p, page_size, messages.len());
    let has_more = end < messages.len();
    let next = if has_more {
        format!("page:{end}")
    } else {
        String::new()
    };
    json!({
        "ok": true,
        "messages": messages[start..end],
        "has_more": has_more,
        "response_metadata": {"next_cursor": next},
    })
}

/// Slack's reading of a boolean argument: `true` or `1` (form and query), or JSON `true`.
fn bool_param(p: &Map<String, Value>, key: &str) -> bool {
    match p.get(key) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => matches!(s.as_str(), "true" | "1"),
        Some(Value::Number(n)) => n.as_u64() == Some(1),
        _ => false,
    }
}

fn history(channel: &FakeChannel, p: &Map<String, Value>, page_size: usize) -> Value {
    let mut page = history_page(channel, p, page_size);
    // Slack's history answer carries the channel's pin and action counts.
    page["pin_count"] = json!(0);
    page["channel_actions_ts"] = Value::Null;
    page["channel_actions_count"] = json!(0);
    page
}

fn history_page(channel: &FakeChannel, p: &Map<String, Value>, page_size: usize) -> Value {
    let with_metadata = bool_param(p, "include_all_metadata");
    let oldest = str_param(p, "oldest").and_then(|s| s.parse::<f64>().ok());
    let latest = str_param(p, "latest").and_then(|s| s.parse::<f64>().ok());
    let messages: Vec<Value> = channel
        .messages
        .iter()
        .rev()
        .filter(|m| m.thread_ts.is_none())
        .filter(|m| {
            let ts: f64 = m.ts.parse().unwrap_or(0.0);
            oldest.is_none_or(|o| ts > o) && latest.is_none_or(|l| ts < l)
        })
        .map(|m| message_json(m, &channel.messages, with_metadata))
        .collect();
    paged(&messages, p, page_size)
}

fn replies(channel: &FakeChannel, p: &Map<String, Value>, page_size: usize) -> Value {
    let Some(ts) = str_param(p, "ts") else {
        return error("thread_not_found");
    };
    let Some(parent) = channel.messages.iter().find(|m| m.ts == ts) else {
        return error("thread_not_found");
    };
    let with_metadata = bool_param(p, "include_all_metadata");
    let mut messages = vec![message_json(parent, &channel.messages, with_metadata)];
    messages.extend(
        channel
            .messages
            .iter()
            .filter(|m| m.thread_ts.as_deref() == Some(ts))
            .map(|m| message_json(m, &channel.messages, with_metadata)),
    );
    paged(&messages, p, page_size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_and_query_parameters_decode() {
        let headers = HeaderMap::new();
        let p = params(Some("channel=C1&text=a%26b+c"), &headers, b"");
        assert_eq!(str_param(&p, "channel"), Some("C1"));
        assert_eq!(str_param(&p, "text"), Some("a&b c"));
        let p = params(Some("text=100%"), &headers, b"");
        assert_eq!(str_param(&p, "text"), Some("100%"));
    }
}

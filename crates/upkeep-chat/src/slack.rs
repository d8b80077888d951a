//! The Slack adapter: Web API through slack-morphism.
//!
//! Why it looks the way it does:
//!
//! - **Pacing.** `chat.postMessage` allows about one message per second per channel, so
//!   posts go through one gate that keeps [`SlackConfig::post_interval`] between them.
//! - **Never lost, never doubled.** A 429 means "not done": wait `Retry-After` and send
//!   again. A transport error after sending is ambiguous — Slack may have posted — so before
//!   re-posting, the adapter looks for the message by its metadata and takes it if found.
//!   Edits and reactions are idempotent and simply retried.
//! - **State in the channel.** Messages carry metadata; the round's messages are found with
//!   `conversations.history` + `include_all_metadata`, within [`SlackConfig::lookback`], and a
//!   thread's replies with `conversations.replies` + `include_all_metadata` (Slack returns
//!   no metadata at all without the flag).
//! - **Secrets.** The token is a `SecretString`; errors carry the method and channel only,
//!   and transport details are scrubbed of the token in case a library ever echoes it.

mod approval;

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as RawClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use secrecy::{ExposeSecret, SecretString};
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;

use crate::error::{ChatError, Result};
use crate::flow::{Channel, Found, Meta};
use crate::model::{MessageRef, Playbook, Reaction};
use crate::render::{Block, Document};

/// Bot token scopes upkeep needs: post and edit, read the channel (metadata, reactions),
/// add reactions. A private channel needs `groups:history` instead of `channels:history`;
/// a channel configured by name (`#maintenance`) also needs `channels:read` (or
/// `groups:read`) to look its id up.
pub const REQUIRED_SCOPES: &[&str] = &[
    "chat:write",
    "channels:history",
    "reactions:read",
    "reactions:write",
];

pub use approval::{APPROVAL_SCOPES, GROUP_SCOPE};

type Https = HttpsConnector<HttpConnector>;

/// Settings of the Slack adapter.
#[derive(Debug, Clone)]
pub struct SlackConfig {
    /// Web API base URL; `https://slack.com/api` unless testing.
    pub api_url: String,
    /// Bot token (`xoxb-…`).
    pub token: SecretString,
    /// Channel id (`C…`), or `#name` (looked up once with `conversations.list`).
    pub channel: String,
    /// Minimum time between two `chat.postMessage` calls (Slack: about 1 per second per
    /// channel). Tests set it to zero.
    pub post_interval: Duration,
    /// Attempts per call before giving up on rate limits or transport errors.
    pub max_attempts: u32,
    /// First wait after a transport error (doubled each time, with jitter), and the wait
    /// after a 429 without `Retry-After`.
    pub backoff: Duration,
    /// How far back to look in the channel for a round's messages.
    pub lookback: Duration,
    /// Checklist and reaction legend.
    pub playbook: Playbook,
}

impl SlackConfig {
    /// Slack's Web API.
    pub const DEFAULT_API_URL: &'static str = "https://slack.com/api";

    /// Defaults: Slack's API, one post per second, 6 attempts, 1 s backoff, 60 days back.
    pub fn new(token: SecretString, channel: impl Into<String>) -> Self {
        Self {
            api_url: Self::DEFAULT_API_URL.to_owned(),
            token,
            channel: channel.into(),
            post_interval: Duration::from_secs(1),
            max_attempts: 6,
            backoff: Duration::from_secs(1),
            lookback: Duration::from_hours(60 * 24),
            playbook: Playbook::default(),
        }
    }
}

/// Who the token belongs to and what it may do (`auth.test`), for `maintain doctor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthInfo {
    /// Workspace name.
    pub team: String,
    /// Workspace id.
    pub team_id: String,
    /// The token's user (the bot user for a bot token).
    pub user_id: String,
    /// The bot id, for a bot token.
    pub bot_id: Option<String>,
    /// Granted scopes, from the `x-oauth-scopes` response header.
    pub scopes: Vec<String>,
}

impl AuthInfo {
    /// The [`REQUIRED_SCOPES`] the token lacks (`groups:history` stands in for
    /// `channels:history`).
    #[must_use]
    pub fn missing_scopes(&self) -> Vec<&'static str> {
        let has = |s: &str| self.scopes.iter().any(|g| g == s);
        REQUIRED_SCOPES
            .iter()
            .copied()
            .filter(|s| !(has(s) || (*s == "channels:history" && has("groups:history"))))
            .collect()
    }
}

/// Posts the round to a Slack channel. See the module docs for pacing and retries.
pub struct SlackChat {
    config: SlackConfig,
    client: SlackClient<SlackClientHyperConnector<Https>>,
    raw: RawClient<Https, Empty<Bytes>>,
    token: SlackApiToken,
    post_gate: tokio::sync::Mutex<Option<Instant>>,
    me: tokio::sync::OnceCell<String>,
    resolved_channel: tokio::sync::OnceCell<String>,
    cache: std::sync::Mutex<Option<(String, Vec<Found>)>>,
}

impl std::fmt::Debug for SlackChat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackChat")
            .field("api_url", &self.config.api_url)
            .field("channel", &self.config.channel)
            .finish_non_exhaustive()
    }
}

/// How one failed attempt should be handled.
enum Failure {
    /// Not done; wait (the given time, or the backoff) and send again.
    RateLimited(Option<Duration>),
    /// No answer: the request may or may not have been applied.
    Lost(String),
    /// Give up.
    Fatal(ChatError),
}

impl SlackChat {
    /// Builds the client. Needs a process-wide rustls crypto provider installed first
    /// (`rustls::crypto::ring::default_provider().install_default()`).
    pub fn new(config: SlackConfig) -> Result<Self> {
        let api_url = config.api_url.trim_end_matches('/').to_owned();
        let setup = |detail: String| ChatError::Setup {
            api_url: api_url.clone(),
            detail,
        };
        url::Url::parse(&api_url).map_err(|e| setup(e.to_string()))?;
        let builder = if api_url.starts_with("http://") {
            // Plain HTTP (a local fake): no certificates needed, and none loaded.
            let tls = rustls::ClientConfig::builder()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth();
            hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls)
        } else {
            hyper_rustls::HttpsConnectorBuilder::new()
                .with_native_roots()
                .map_err(|e| setup(format!("loading the system's TLS roots: {e}")))?
        };
        let https = builder.https_or_http().enable_all_versions().build();
        let connector =
            SlackClientHyperConnector::with_connector(https.clone()).with_slack_api_url(&api_url);
        let token = SlackApiToken::new(SlackApiTokenValue::new(
            config.token.expose_secret().to_owned(),
        ));
        Ok(Self {
            config: SlackConfig { api_url, ..config },
            client: SlackClient::new(connector),
            raw: RawClient::builder(TokioExecutor::new()).build(https),
            token,
            post_gate: tokio::sync::Mutex::new(None),
            me: tokio::sync::OnceCell::new(),
            resolved_channel: tokio::sync::OnceCell::new(),
            cache: std::sync::Mutex::new(None),
        })
    }

    /// The channel id: as configured, or looked up once by name for `#name`.
    async fn channel_id(&self) -> Result<String> {
        let Some(name) = self.config.channel.strip_prefix('#') else {
            return Ok(self.config.channel.clone());
        };
        self.resolved_channel
            .get_or_try_init(|| self.lookup_channel(name))
            .await
            .cloned()
    }

    async fn lookup_channel(&self, name: &str) -> Result<String> {
        let mut cursor: Option<SlackCursorId> = None;
        loop {
            let request = SlackApiConversationsListRequest::new()
                .with_exclude_archived(true)
                .with_limit(200)
                .with_types(vec![
                    SlackConversationType::Public,
                    SlackConversationType::Private,
                ])
                .opt_cursor(cursor.clone());
            let page = self
                .call("conversations.list", || {
                    let request = request.clone();
                    async move {
                        self.client
                            .open_session(&self.token)
                            .conversations_list(&request)
                            .await
                    }
                })
                .await?;
            if let Some(channel) = page
                .channels
                .iter()
                .find(|c| c.name.as_deref() == Some(name))
            {
                return Ok(channel.id.to_string());
            }
            cursor = page
                .response_metadata
                .and_then(|r| r.next_cursor)
                .filter(|c| !c.to_string().is_empty());
            if cursor.is_none() {
                return Err(ChatError::ChannelNotFound {
                    method: "conversations.list".to_owned(),
                    channel: self.config.channel.clone(),
                });
            }
        }
    }

    fn scrub(&self, text: &str) -> String {
        upkeep_text::Scrubber::new([self.config.token.expose_secret()])
            .scrub(text)
            .into_owned()
    }

    fn classify(&self, method: &str, err: SlackClientError) -> Failure {
        match err {
            SlackClientError::ApiError(api) => {
                let needed = api
                    .http_response_body
                    .as_deref()
                    .and_then(|b| serde_json::from_str::<serde_json::Value>(b).ok())
                    .and_then(|v| v.get("needed").and_then(|n| n.as_str()).map(str::to_owned));
                self.api_failure(method, &api.code, needed)
            }
            SlackClientError::RateLimitError(rl) => Failure::RateLimited(rl.retry_after),
            SlackClientError::HttpError(http) if http.status_code.is_server_error() => {
                Failure::Lost(format!("HTTP {}", http.status_code))
            }
            SlackClientError::HttpError(http) => Failure::Fatal(ChatError::Protocol {
                method: method.to_owned(),
                detail: format!("HTTP {}", http.status_code),
            }),
            SlackClientError::ProtocolError(p) => Failure::Fatal(ChatError::Protocol {
                method: method.to_owned(),
                detail: self.scrub(&p.json_error.to_string()),
            }),
            other => Failure::Lost(self.scrub(&other.to_string())),
        }
    }

    fn api_failure(&self, method: &str, code: &str, needed: Option<String>) -> Failure {
        let method = method.to_owned();
        let channel = self.config.channel.clone();
        Failure::Fatal(match code {
            "ratelimited" => return Failure::RateLimited(None),
            "internal_error" | "fatal_error" | "service_unavailable" | "request_timeout" => {
                return Failure::Lost(code.to_owned());
            }
            "channel_not_found" => ChatError::ChannelNotFound { method, channel },
            "not_in_channel" => ChatError::NotInChannel { method, channel },
            "invalid_auth" | "not_authed" | "token_revoked" | "token_expired"
            | "account_inactive" => ChatError::InvalidAuth {
                method,
                code: code.to_owned(),
            },
            "missing_scope" => ChatError::MissingScope {
                method,
                needed: needed.unwrap_or_else(|| "(not given)".to_owned()),
            },
            "message_not_found" | "thread_not_found" => ChatError::MessageNotFound {
                channel,
                ts: String::new(),
            },
            other => ChatError::Api {
                method,
                code: other.to_owned(),
            },
        })
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let base = self
            .config
            .backoff
            .saturating_mul(1 << attempt.saturating_sub(1).min(6));
        // Jitter: up to +50%, so parallel runs do not retry in lockstep.
        base + base.mul_f64(rand::random::<f64>() * 0.5)
    }

    /// One logical call: retries rate limits (honouring `Retry-After`); a lost answer is
    /// returned to the caller as `Err(Failure::Lost)` to decide (re-send or check first).
    async fn attempt<T, F, Fut>(&self, method: &str, mut send: F) -> Result<T, Failure>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = std::result::Result<T, SlackClientError>>,
    {
        let mut attempts = 0;
        loop {
            attempts += 1;
            match send().await {
                Ok(value) => return Ok(value),
                Err(err) => match self.classify(method, err) {
                    Failure::RateLimited(retry_after) => {
                        if attempts >= self.config.max_attempts {
                            return Err(Failure::Fatal(ChatError::RateLimited {
                                method: method.to_owned(),
                                attempts,
                                retry_after,
                            }));
                        }
                        let wait = retry_after.unwrap_or_else(|| self.backoff(attempts));
                        tracing::debug!(method, ?wait, attempts, "Slack rate limit, waiting");
                        tokio::time::sleep(wait).await;
                    }
                    other => return Err(other),
                },
            }
        }
    }

    /// An idempotent call: lost answers are simply retried.
    async fn call<T, F, Fut>(&self, method: &str, mut send: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = std::result::Result<T, SlackClientError>>,
    {
        let mut lost = 0;
        loop {
            match self.attempt(method, &mut send).await {
                Ok(value) => return Ok(value),
                Err(Failure::Fatal(err)) => return Err(err),
                Err(Failure::Lost(detail)) => {
                    lost += 1;
                    if lost >= self.config.max_attempts {
                        return Err(ChatError::Transport {
                            method: method.to_owned(),
                            attempts: lost,
                            detail,
                        });
                    }
                    tracing::debug!(method, %detail, "Slack call lost, retrying");
                    tokio::time::sleep(self.backoff(lost)).await;
                }
                Err(Failure::RateLimited(_)) => unreachable!("attempt() retries rate limits"),
            }
        }
    }

    /// Calls `auth.test` and reads the granted scopes from the `x-oauth-scopes` header.
    pub async fn auth_test(&self) -> Result<AuthInfo> {
        const METHOD: &str = "auth.test";
        let url = format!("{}/{METHOD}", self.config.api_url);
        let mut attempts = 0;
        loop {
            attempts += 1;
            let request = hyper::Request::get(&url)
                .header(
                    hyper::header::AUTHORIZATION,
                    format!("Bearer {}", self.config.token.expose_secret()),
                )
                .body(Empty::new())
                .map_err(|e| ChatError::Setup {
                    api_url: self.config.api_url.clone(),
                    detail: self.scrub(&e.to_string()),
                })?;
            let failure = match self.raw.request(request).await {
                Ok(response) => {
                    let status = response.status();
                    let headers = response.headers().clone();
                    let body = response
                        .into_body()
                        .collect()
                        .await
                        .map(http_body_util::Collected::to_bytes);
                    match body {
                        Ok(body) if status.is_success() => {
                            return self.parse_auth_test(&headers, &body);
                        }
                        Ok(_) if status == hyper::StatusCode::TOO_MANY_REQUESTS => {
                            Failure::RateLimited(
                                headers
                                    .get(hyper::header::RETRY_AFTER)
                                    .and_then(|v| v.to_str().ok())
                                    .and_then(|v| v.parse().ok())
                                    .map(Duration::from_secs),
                            )
                        }
                        Ok(_) if status.is_server_error() => {
                            Failure::Lost(format!("HTTP {status}"))
                        }
                        Ok(_) => Failure::Fatal(ChatError::Protocol {
                            method: METHOD.to_owned(),
                            detail: format!("HTTP {status}"),
                        }),
                        Err(e) => Failure::Lost(self.scrub(&e.to_string())),
                    }
                }
                Err(e) => Failure::Lost(self.scrub(&e.to_string())),
            };
            let wait = match failure {
                Failure::Fatal(err) => return Err(err),
                _ if attempts >= self.config.max_attempts => {
                    return Err(ChatError::Transport {
                        method: METHOD.to_owned(),
                        attempts,
                        detail: "no answer".to_owned(),
                    });
                }
                Failure::RateLimited(retry_after) => {
                    retry_after.unwrap_or_else(|| self.backoff(attempts))
                }
                Failure::Lost(_) => self.backoff(attempts),
            };
            tokio::time::sleep(wait).await;
        }
    }

    fn parse_auth_test(&self, headers: &hyper::HeaderMap, body: &[u8]) -> Result<AuthInfo> {
        const METHOD: &str = "auth.test";
        let protocol = |detail: String| ChatError::Protocol {
            method: METHOD.to_owned(),
            detail,
        };
        let value: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| protocol(e.to_string()))?;
        if value.get("ok").and_then(serde_json::Value::as_bool) != Some(true) {
            let code = value
                .get("error")
                .and_then(|e| e.as_str())
                .unwrap_or("unknown_error");
            let needed = value
                .get("needed")
                .and_then(|n| n.as_str())
                .map(str::to_owned);
            return Err(match self.api_failure(METHOD, code, needed) {
                Failure::Fatal(err) => err,
                _ => ChatError::Api {
                    method: METHOD.to_owned(),
                    code: code.to_owned(),
                },
            });
        }
        let parsed: SlackApiAuthTestResponse =
            serde_json::from_value(value).map_err(|e| protocol(e.to_string()))?;
        let scopes = headers
            .get("x-oauth-scopes")
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Ok(AuthInfo {
            team: parsed.team,
            team_id: parsed.team_id.to_string(),
            user_id: parsed.user_id.to_string(),
            bot_id: parsed.bot_id.map(|b| b.to_string()),
            scopes,
        })
    }

    /// The scopes the token lacks for this configuration (empty: all good): the
    /// [`REQUIRED_SCOPES`], plus `channels:read` when the channel is given as `#name`.
    pub async fn check_scopes(&self) -> Result<Vec<&'static str>> {
        let info = self.auth_test().await?;
        let mut missing = info.missing_scopes();
        let has = |s: &str| info.scopes.iter().any(|g| g == s);
        if self.config.channel.starts_with('#') && !has("channels:read") && !has("groups:read") {
            missing.push("channels:read");
        }
        Ok(missing)
    }

    fn found(channel: &str, m: SlackHistoryMessage) -> Found {
        let meta = m.content.metadata.as_ref().and_then(|md| {
            let payload = md.event_payload.as_ref();
            Meta::from_parts(&md.event_type, |k| {
                payload.and_then(|p| p.get(k)).map(String::as_str)
            })
        });
        Found {
            msg: MessageRef {
                channel: channel.to_owned(),
                ts: m.origin.ts.to_string(),
            },
            meta,
            user: m.sender.user.map(|u| u.to_string()),
            reactions: m
                .content
                .reactions
                .unwrap_or_default()
                .into_iter()
                .map(|r| Reaction {
                    name: r.name.to_string(),
                    users: r.users.into_iter().map(|u| u.to_string()).collect(),
                })
                .collect(),
        }
    }

    /// Scans the channel history (within the lookback) for upkeep messages of `round`.
    async fn scan_round(&self, round: &str) -> Result<Vec<Found>> {
        let channel = self.channel_id().await?;
        let oldest = SystemTime::now()
            .checked_sub(self.config.lookback)
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
                    .into_iter()
                    .filter(|m| {
                        m.origin.thread_ts.is_none()
                            || m.origin.thread_ts.as_ref() == Some(&m.origin.ts)
                    })
                    .map(|m| Self::found(&channel, m))
                    .filter(|f| f.meta.as_ref().is_some_and(|m| m.round == round)),
            );
            cursor = page
                .response_metadata
                .and_then(|r| r.next_cursor)
                .filter(|c| !c.to_string().is_empty());
            if cursor.is_none() {
                break;
            }
        }
        // History is newest first; the flow wants channel order.
        out.reverse();
        Ok(out)
    }

    async fn thread_replies(&self, parent: &MessageRef) -> Result<Vec<Found>> {
        let mut cursor: Option<SlackCursorId> = None;
        let mut out = Vec::new();
        loop {
            let params = replies_params(parent, cursor.as_ref());
            let page: SlackApiConversationsRepliesResponse = self
                .call("conversations.replies", || async {
                    self.client
                        .open_session(&self.token)
                        .http_session_api
                        .http_get("conversations.replies", &params, None)
                        .await
                })
                .await?;
            out.extend(
                page.messages
                    .into_iter()
                    .filter(|m| m.origin.ts.to_string() != parent.ts)
                    .map(|m| Self::found(&parent.channel, m)),
            );
            cursor = page
                .response_metadata
                .and_then(|r| r.next_cursor)
                .filter(|c| !c.to_string().is_empty());
            if cursor.is_none() {
                break;
            }
        }
        Ok(out)
    }

    fn content(doc: &Document, meta: Option<&Meta>) -> SlackMessageContent {
        let blocks: Vec<SlackBlock> = doc.blocks.iter().map(to_slack_block).collect();
        let content = SlackMessageContent::new()
            .with_text(doc.fallback_text())
            .with_blocks(blocks);
        match meta {
            Some(meta) => content.with_metadata(
                SlackMessageMetadata::new(meta.kind.event_type().to_owned())
                    .with_event_payload(meta.payload().into_iter().collect::<HashMap<_, _>>()),
            ),
            None => content,
        }
    }

    fn with_cache(&self, f: impl FnOnce(&mut Vec<Found>)) {
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, found)) = cache.as_mut() {
            f(found);
        }
    }
}

/// The query of `conversations.replies`. slack-morphism's request type has no
/// `include_all_metadata`, and without it Slack leaves every reply's `metadata` out: the
/// replies upkeep posted (checklist, failure report) could not be recognised, and a re-run
/// or a lost answer would post them again. So the call is made with our own parameters
/// through the client's generic `http_get` (same auth, errors and rate-limit handling).
fn replies_params(
    parent: &MessageRef,
    cursor: Option<&SlackCursorId>,
) -> Vec<(&'static str, Option<String>)> {
    vec![
        ("channel", Some(parent.channel.clone())),
        ("ts", Some(parent.ts.clone())),
        ("include_all_metadata", Some("true".to_owned())),
        ("limit", Some("200".to_owned())),
        ("cursor", cursor.map(ToString::to_string)),
    ]
}

fn to_slack_block(block: &Block) -> SlackBlock {
    let mrkdwn = || SlackBlockMarkDownText::new(block.to_mrkdwn());
    match block {
        Block::Header(text) => {
            SlackHeaderBlock::new(SlackBlockPlainText::new(text.clone()).into()).into()
        }
        Block::Context(_) => {
            SlackContextBlock::new(vec![SlackContextBlockElement::MarkDown(mrkdwn())]).into()
        }
        Block::Section(_) | Block::List(_) | Block::Preformatted(_) => SlackSectionBlock::new()
            .with_text(SlackBlockText::MarkDown(mrkdwn()))
            .into(),
    }
}

#[async_trait]
impl Channel for SlackChat {
    fn playbook(&self) -> &Playbook {
        &self.config.playbook
    }

    async fn self_user(&self) -> Result<String> {
        self.me
            .get_or_try_init(|| async { Ok(self.auth_test().await?.user_id) })
            .await
            .cloned()
    }

    async fn round_messages(&self, round: &str, fresh: bool) -> Result<Vec<Found>> {
        if !fresh {
            let cache = self
                .cache
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some((cached_round, found)) = cache.as_ref()
                && cached_round == round
            {
                return Ok(found.clone());
            }
        }
        let found = self.scan_round(round).await?;
        *self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some((round.to_owned(), found.clone()));
        Ok(found)
    }

    async fn replies(&self, parent: &MessageRef) -> Result<Vec<Found>> {
        self.thread_replies(parent).await
    }

    async fn post(
        &self,
        parent: Option<&MessageRef>,
        doc: &Document,
        meta: &Meta,
    ) -> Result<MessageRef> {
        const METHOD: &str = "chat.postMessage";
        let channel = match parent {
            Some(parent) => parent.channel.clone(),
            None => self.channel_id().await?,
        };
        let request = SlackApiChatPostMessageRequest::new(
            SlackChannelId::new(channel.clone()),
            Self::content(doc, Some(meta)),
        )
        .opt_thread_ts(parent.map(|p| SlackTs::new(p.ts.clone())));
        // Holding the gate through the call (and its 429 waits) paces the channel.
        let mut gate = self.post_gate.lock().await;
        let mut lost = 0;
        let message = loop {
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
                    break MessageRef {
                        channel: channel.clone(),
                        ts: response.ts.to_string(),
                    };
                }
                Err(Failure::Fatal(ChatError::MessageNotFound { channel, .. })) => {
                    // `thread_not_found`: the parent is gone.
                    let ts = parent.map(|p| p.ts.clone()).unwrap_or_default();
                    return Err(ChatError::MessageNotFound { channel, ts });
                }
                Err(Failure::Fatal(err)) => return Err(err),
                Err(Failure::Lost(detail)) => {
                    lost += 1;
                    // The post may have gone through: look before sending it again.
                    let existing = match parent {
                        Some(parent) => self.thread_replies(parent).await?,
                        None => self.scan_round(&meta.round).await?,
                    };
                    if let Some(found) = existing
                        .into_iter()
                        .find(|f| f.meta.as_ref().is_some_and(|m| m.same_slot(meta)))
                    {
                        tracing::debug!(method = METHOD, "answer lost but message was posted");
                        break found.msg;
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
        };
        drop(gate);
        if parent.is_none() {
            let mut cache = self
                .cache
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some((round, found)) = cache.as_mut()
                && *round == meta.round
                && !found.iter().any(|f| f.msg == message)
            {
                found.push(Found {
                    msg: message.clone(),
                    meta: Some(meta.clone()),
                    user: self.me.get().cloned(),
                    reactions: Vec::new(),
                });
            }
        }
        Ok(message)
    }

    async fn edit(&self, msg: &MessageRef, doc: &Document, meta: Option<&Meta>) -> Result<()> {
        let request = SlackApiChatUpdateRequest::new(
            SlackChannelId::new(msg.channel.clone()),
            Self::content(doc, meta),
            SlackTs::new(msg.ts.clone()),
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
        .map_err(|e| match e {
            ChatError::MessageNotFound { channel, .. } => ChatError::MessageNotFound {
                channel,
                ts: msg.ts.clone(),
            },
            other => other,
        })?;
        if let Some(meta) = meta {
            self.with_cache(|found| {
                if let Some(f) = found.iter_mut().find(|f| f.msg == *msg) {
                    f.meta = Some(meta.clone());
                }
            });
        }
        Ok(())
    }

    async fn react(&self, msg: &MessageRef, name: &str) -> Result<()> {
        let request = SlackApiReactionsAddRequest::new(
            SlackChannelId::new(msg.channel.clone()),
            SlackReactionName::new(name.to_owned()),
            SlackTs::new(msg.ts.clone()),
        );
        let result = self
            .call("reactions.add", || {
                let request = request.clone();
                async move {
                    self.client
                        .open_session(&self.token)
                        .reactions_add(&request)
                        .await
                }
            })
            .await;
        match result {
            Ok(_) => {}
            Err(ChatError::Api { code, .. }) if code == "already_reacted" => {}
            Err(ChatError::MessageNotFound { channel, .. }) => {
                return Err(ChatError::MessageNotFound {
                    channel,
                    ts: msg.ts.clone(),
                });
            }
            Err(e) => return Err(e),
        }
        if let Some(me) = self.me.get().cloned() {
            self.with_cache(|found| {
                if let Some(f) = found.iter_mut().find(|f| f.msg == *msg) {
                    match f.reactions.iter_mut().find(|r| r.name == name) {
                        Some(r) if !r.users.contains(&me) => r.users.push(me.clone()),
                        Some(_) => {}
                        None => f.reactions.push(Reaction {
                            name: name.to_owned(),
                            users: vec![me],
                        }),
                    }
                }
            });
        }
        Ok(())
    }

    async fn unreact(&self, msg: &MessageRef, name: &str) -> Result<()> {
        let request = SlackApiReactionsRemoveRequest::new(SlackReactionName::new(name.to_owned()))
            .with_channel(SlackChannelId::new(msg.channel.clone()))
            .with_timestamp(SlackTs::new(msg.ts.clone()));
        let result = self
            .call("reactions.remove", || {
                let request = request.clone();
                async move {
                    self.client
                        .open_session(&self.token)
                        .reactions_remove(&request)
                        .await
                }
            })
            .await;
        match result {
            Ok(_) => {}
            Err(ChatError::Api { code, .. }) if code == "no_reaction" => {}
            Err(e) => return Err(e),
        }
        if let Some(me) = self.me.get().cloned() {
            self.with_cache(|found| {
                if let Some(f) = found.iter_mut().find(|f| f.msg == *msg) {
                    for r in &mut f.reactions {
                        if r.name == name {
                            r.users.retain(|u| *u != me);
                        }
                    }
                    f.reactions.retain(|r| !r.users.is_empty());
                }
            });
        }
        Ok(())
    }
}

crate::impl_chat_threads!(SlackChat);

//! An HTTP fake of the two Sentry APIs upkeep uses, on `127.0.0.1:0`.
//!
//! - `GET /api/0/projects/{org}/{project}/issues/`: bearer-token auth; honours the
//!   `environment` parameter and, in `query`, `is:unresolved` / `is:resolved` and
//!   `firstSeen:` bounds with `>=`, `>`, `<=`, `<` (any other search term is a 400, as
//!   Sentry answers for terms it doesn't know); newest first; paginated with Sentry's
//!   `Link` header (`rel="next"; results="true"; cursor="0:100:0"`).
//! - `POST /api/{project_id}/envelope/` and `/api/{project_id}/store/`: events, checked
//!   against the DSN key in `X-Sentry-Auth` (or `?sentry_key=`), recorded once per
//!   event id (Sentry drops duplicates, so a retried send is not recorded twice).
//!
//! Issues carry Sentry's real shape (`count` as a string, `project` as an object, …).
//! Faults and request counts: [`FakeSentry::faults`], with the route patterns
//! [`ISSUES_ROUTE`] and [`ENVELOPE_ROUTE`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::faults::Faults;

/// Route pattern of the issues list, for [`crate::faults::Endpoint`].
pub const ISSUES_ROUTE: &str = "/api/0/projects/{org}/{project}/issues/";
/// Route pattern of the envelope endpoint, for [`crate::faults::Endpoint`].
pub const ENVELOPE_ROUTE: &str = "/api/{project_id}/envelope/";
/// Route pattern of the legacy store endpoint.
pub const STORE_ROUTE: &str = "/api/{project_id}/store/";

/// The auth token the fake accepts.
pub const TOKEN: &str = "sntrys_fake_auth_token_0123456789";
/// The DSN public key the fake accepts.
pub const PUBLIC_KEY: &str = "fakepublickey0123456789abcdef";

/// An issue held by the fake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeIssue {
    /// Organisation slug.
    pub org: String,
    /// Project slug.
    pub project: String,
    /// Numeric id (as a string, like Sentry).
    pub id: String,
    /// Readable id, `PROJECT-N`.
    pub short_id: String,
    /// Title.
    pub title: String,
    /// The environment its events came from.
    pub environment: String,
    /// When it was first seen.
    pub first_seen: DateTime<Utc>,
    /// Resolved issues are not `is:unresolved`.
    pub resolved: bool,
    /// Event count.
    pub count: u64,
}

/// An issues-list request as the fake saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueRequest {
    /// Organisation slug from the path.
    pub org: String,
    /// Project slug from the path.
    pub project: String,
    /// The `query` parameter.
    pub query: String,
    /// The `environment` parameter.
    pub environment: Option<String>,
    /// The `cursor` parameter.
    pub cursor: Option<String>,
    /// The `Authorization` header.
    pub authorization: Option<String>,
}

/// An event the fake received.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedEvent {
    /// The project id from the URL.
    pub project_id: String,
    /// The event id.
    pub event_id: String,
    /// The event payload.
    pub payload: Value,
    /// The `X-Sentry-Auth` header as sent.
    pub auth: String,
}

#[derive(Debug)]
struct World {
    base: String,
    issues: Vec<FakeIssue>,
    page_size: usize,
    next_id: u64,
    requests: Vec<IssueRequest>,
    events: Vec<ReceivedEvent>,
}

type Shared = Arc<Mutex<World>>;

fn lock(w: &Shared) -> MutexGuard<'_, World> {
    w.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The fake. Dropping it stops the server.
#[derive(Debug)]
pub struct FakeSentry {
    addr: SocketAddr,
    world: Shared,
    faults: Faults,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeSentry {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeSentry {
    /// Starts a fake on `127.0.0.1:0` with no issues and pages of 100.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let world = Arc::new(Mutex::new(World {
            base: format!("http://{addr}"),
            issues: Vec::new(),
            page_size: 100,
            next_id: 4_000_000_001,
            requests: Vec::new(),
            events: Vec::new(),
        }));
        let faults = Faults::new();
        let router = faults.wrap(
            Router::new()
                .route(ISSUES_ROUTE, get(list_issues))
                .route(ENVELOPE_ROUTE, post(envelope))
                .route(STORE_ROUTE, post(store))
                .with_state(world.clone()),
        );
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self {
            addr,
            world,
            faults,
            server,
        }
    }

    /// Base URL to give the client (`http://127.0.0.1:PORT`), like `https://sentry.io`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The auth token the fake accepts (any other gets 401).
    #[must_use]
    pub fn token(&self) -> &'static str {
        TOKEN
    }

    /// A DSN for project `project_id` of this fake.
    #[must_use]
    pub fn dsn(&self, project_id: u64) -> String {
        format!("http://{PUBLIC_KEY}@{}/{project_id}", self.addr)
    }

    /// Fault injection and request counts.
    #[must_use]
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Issues per page (Sentry's default is 100).
    pub fn set_page_size(&self, n: usize) {
        lock(&self.world).page_size = n.max(1);
    }

    /// Adds an unresolved issue with one event and returns it.
    #[allow(clippy::must_use_candidate)] // tests often add issues only for their effect
    pub fn add_issue(
        &self,
        org: &str,
        project: &str,
        environment: &str,
        title: &str,
        first_seen: DateTime<Utc>,
    ) -> FakeIssue {
        let mut w = lock(&self.world);
        let id = w.next_id;
        w.next_id += 1;
        let n = w.issues.iter().filter(|i| i.project == project).count() + 1;
        let issue = FakeIssue {
            org: org.to_owned(),
            project: project.to_owned(),
            id: id.to_string(),
            short_id: format!("{}-{n:X}", project.to_uppercase()),
            title: title.to_owned(),
            environment: environment.to_owned(),
            first_seen,
            resolved: false,
            count: 1,
        };
        w.issues.push(issue.clone());
        issue
    }

    /// Marks an issue resolved.
    pub fn resolve(&self, id: &str) {
        if let Some(i) = lock(&self.world).issues.iter_mut().find(|i| i.id == id) {
            i.resolved = true;
        }
    }

    /// Issue-list requests received (faulted ones are not here; see [`Self::faults`]).
    #[must_use]
    pub fn issue_requests(&self) -> Vec<IssueRequest> {
        lock(&self.world).requests.clone()
    }

    /// Events received, once per event id, in arrival order.
    #[must_use]
    pub fn events(&self) -> Vec<ReceivedEvent> {
        lock(&self.world).events.clone()
    }
}

fn detail(status: StatusCode, text: &str) -> Response {
    (status, axum::Json(json!({ "detail": text }))).into_response()
}

/// Parses a search timestamp the way Sentry does (with or without `Z`/offset).
fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc());
        }
    }
    None
}

type Filter = Box<dyn Fn(&FakeIssue) -> bool + Send>;

fn parse_query(q: &str) -> Result<Vec<Filter>, String> {
    let mut filters: Vec<Filter> = Vec::new();
    for term in q.split_whitespace() {
        if term == "is:unresolved" {
            filters.push(Box::new(|i| !i.resolved));
        } else if term == "is:resolved" {
            filters.push(Box::new(|i| i.resolved));
        } else if let Some(rest) = term.strip_prefix("firstSeen:") {
            let (op, value) = [">=", "<=", ">", "<"]
                .iter()
                .find_map(|op| rest.strip_prefix(op).map(|v| (*op, v)))
                .ok_or_else(|| {
                    format!("Invalid search query: unsupported firstSeen term `{term}`")
                })?;
            let t = parse_time(value)
                .ok_or_else(|| format!("Invalid search query: bad date `{value}`"))?;
            filters.push(match op {
                ">=" => Box::new(move |i| i.first_seen >= t),
                "<=" => Box::new(move |i| i.first_seen <= t),
                ">" => Box::new(move |i| i.first_seen > t),
                _ => Box::new(move |i| i.first_seen < t),
            });
        } else {
            return Err(format!(
                "Invalid search query: the fake does not know `{term}`"
            ));
        }
    }
    Ok(filters)
}

fn issue_json(base: &str, i: &FakeIssue) -> Value {
    let seen = i.first_seen.to_rfc3339_opts(SecondsFormat::Micros, true);
    json!({
        "id": i.id,
        "shortId": i.short_id,
        "title": i.title,
        "culprit": "upkeep.fake in handler",
        "permalink": format!("{base}/organizations/{}/issues/{}/", i.org, i.id),
        "level": "error",
        "status": if i.resolved { "resolved" } else { "unresolved" },
        "substatus": if i.resolved { Value::Null } else { json!("new") },
        "isUnhandled": false,
        "firstSeen": seen,
        "lastSeen": seen,
        "count": i.count.to_string(),
        "userCount": 0,
        "project": { "id": "1", "name": i.project, "slug": i.project, "platform": "python" },
        "metadata": { "title": i.title },
        "type": "error",
        "numComments": 0,
        "assignedTo": null,
        "shareId": null,
    })
}

async fn list_issues(
    State(world): State<Shared>,
    UrlPath((org, project)): UrlPath<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut w = lock(&world);
    w.requests.push(IssueRequest {
        org: org.clone(),
        project: project.clone(),
        query: params.get("query").cloned().unwrap_or_default(),
        environment: params.get("environment").cloned(),
        cursor: params.get("cursor").cloned(),
        authorization: authorization.clone(),
    });
    if authorization.as_deref() != Some(&format!("Bearer {TOKEN}")) {
        return detail(StatusCode::UNAUTHORIZED, "Invalid token");
    }
    let filters = match parse_query(params.get("query").map_or("", String::as_str)) {
        Ok(f) => f,
        Err(e) => return detail(StatusCode::BAD_REQUEST, &e),
    };
    let offset = match params.get("cursor") {
        None => 0,
        Some(c) => match c.split(':').nth(1).and_then(|o| o.parse::<usize>().ok()) {
            Some(o) => o,
            None => return detail(StatusCode::BAD_REQUEST, "Invalid cursor parameter."),
        },
    };
    let env = params.get("environment");
    let mut matching: Vec<&FakeIssue> = w
        .issues
        .iter()
        .filter(|i| i.org == org && i.project == project)
        .filter(|i| env.is_none_or(|e| *e == i.environment))
        .filter(|i| filters.iter().all(|f| f(i)))
        .collect();
    matching.sort_by(|a, b| {
        b.first_seen
            .cmp(&a.first_seen)
            .then_with(|| a.id.cmp(&b.id))
    });
    let page: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(w.page_size)
        .map(|i| issue_json(&w.base, i))
        .collect();
    let next = offset + w.page_size;
    let prev = offset.saturating_sub(w.page_size);
    let url = format!("{}/api/0/projects/{org}/{project}/issues/", w.base);
    let link = format!(
        "<{url}?&cursor=0:{prev}:1>; rel=\"previous\"; results=\"{}\"; cursor=\"0:{prev}:1\", \
         <{url}?&cursor=0:{next}:0>; rel=\"next\"; results=\"{}\"; cursor=\"0:{next}:0\"",
        offset > 0,
        next < matching.len()
    );
    ([(header::LINK, link)], axum::Json(Value::Array(page))).into_response()
}

fn authorised(headers: &HeaderMap, params: &HashMap<String, String>) -> Option<String> {
    let auth = headers
        .get("x-sentry-auth")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let has_key = auth
        .split(',')
        .filter_map(|kv| kv.trim().split_once('='))
        .any(|(k, v)| {
            k.trim().trim_start_matches("Sentry ").trim() == "sentry_key" && v.trim() == PUBLIC_KEY
        });
    (has_key || params.get("sentry_key").is_some_and(|k| k == PUBLIC_KEY)).then_some(auth)
}

fn record(world: &Shared, project_id: String, payload: Value, auth: String) -> Response {
    let Some(event_id) = payload
        .get("event_id")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return detail(StatusCode::BAD_REQUEST, "event without event_id");
    };
    let mut w = lock(world);
    if !w.events.iter().any(|e| e.event_id == event_id) {
        w.events.push(ReceivedEvent {
            project_id,
            event_id: event_id.clone(),
            payload,
            auth,
        });
    }
    axum::Json(json!({ "id": event_id })).into_response()
}

async fn envelope(
    State(world): State<Shared>,
    UrlPath(project_id): UrlPath<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(auth) = authorised(&headers, &params) else {
        return detail(StatusCode::UNAUTHORIZED, "Invalid api key");
    };
    let text = String::from_utf8_lossy(&body);
    let mut lines = text.split('\n');
    let _envelope_header = lines.next();
    let item_header: Option<Value> = lines.next().and_then(|l| serde_json::from_str(l).ok());
    if item_header
        .as_ref()
        .and_then(|h| h.get("type"))
        .and_then(Value::as_str)
        != Some("event")
    {
        return detail(StatusCode::BAD_REQUEST, "expected one event item");
    }
    let Some(payload) = lines
        .next()
        .and_then(|l| serde_json::from_str::<Value>(l).ok())
    else {
        return detail(StatusCode::BAD_REQUEST, "event payload is not JSON");
    };
    record(&world, project_id, payload, auth)
}

async fn store(
    State(world): State<Shared>,
    UrlPath(project_id): UrlPath<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(auth) = authorised(&headers, &params) else {
        return detail(StatusCode::UNAUTHORIZED, "Invalid api key");
    };
    match serde_json::from_slice::<Value>(&body) {
        Ok(payload) => record(&world, project_id, payload, auth),
        Err(_) => detail(StatusCode::BAD_REQUEST, "event payload is not JSON"),
    }
}

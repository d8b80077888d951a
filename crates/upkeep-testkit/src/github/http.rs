//! HTTP plumbing shared by every route: GitHub's JSON answers and error bodies, `Link`
//! pagination, repository lookup, and the route table the router and the contract check
//! are built from.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Query, State};
use axum::handler::Handler;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, on};
use serde_json::{Value, json};

use super::model::{Repo, Shared, World};

pub(super) const DOCS: &str = "https://docs.github.com/rest";

pub(super) fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

/// `201 Created` with the new resource's URL in `Location`, as GitHub answers creates.
pub(super) fn created(body: &Value, location: &str) -> Response {
    let mut response = json_response(StatusCode::CREATED, body);
    if let Ok(location) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

pub(super) fn ok(body: &Value) -> Response {
    json_response(StatusCode::OK, body)
}

pub(super) fn error(status: StatusCode, message: &str) -> Response {
    json_response(
        status,
        &json!({"message": message, "documentation_url": DOCS, "status": status.as_str()}),
    )
}

pub(super) fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "Not Found")
}

/// GitHub's 422: `{"message": "Validation Failed", "errors": [...], "documentation_url"}`.
pub(super) fn validation(errors: &[Value]) -> Response {
    json_response(
        StatusCode::UNPROCESSABLE_ENTITY,
        &json!({"message": "Validation Failed", "errors": errors, "documentation_url": DOCS, "status": "422"}),
    )
}

pub(super) fn unprocessable(message: &str) -> Response {
    error(StatusCode::UNPROCESSABLE_ENTITY, message)
}

pub(super) fn parse_body(body: &Bytes) -> Result<Value, Response> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body)
        .map_err(|_| error(StatusCode::BAD_REQUEST, "Problems parsing JSON"))
}

pub(super) type Params = HashMap<String, String>;

/// `owner/name` from either `/repos/{owner}/{repo}/…` or `/repositories/{id}/…`.
pub(super) fn repo_key(world: &World, params: &Params) -> Result<String, Response> {
    if let (Some(owner), Some(repo)) = (params.get("owner"), params.get("repo")) {
        let key = format!("{owner}/{repo}");
        return if world.repos.contains_key(&key) {
            Ok(key)
        } else {
            Err(not_found())
        };
    }
    let id: u64 = params
        .get("id")
        .and_then(|id| id.parse().ok())
        .ok_or_else(not_found)?;
    world
        .repos
        .values()
        .find(|r| r.id == id)
        .map(Repo::full_name)
        .ok_or_else(not_found)
}

/// One page of `items` and GitHub's `Link` header for the others. Links point at
/// `/repositories/{id}/{what}`, as GitHub's do.
pub(super) fn paginate(
    base: &str,
    repo: &Repo,
    what: &str,
    query: &Params,
    items: Vec<Value>,
) -> Response {
    paginate_at(
        &format!("{base}/repositories/{}/{what}", repo.id),
        query,
        items,
    )
}

/// One page of `items` (`per_page` default 30, clamped to 1..=100 as GitHub clamps it;
/// `page` from 1) and GitHub's `Link` header (`prev`, `next`, `last`, `first`, in that
/// order) pointing at `url` with the other query parameters kept.
pub(super) fn paginate_at(url: &str, query: &Params, items: Vec<Value>) -> Response {
    let per_page = query
        .get("per_page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(30)
        .clamp(1, 100);
    let page = query
        .get("page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let last = items.len().div_ceil(per_page).max(1);
    let slice: Vec<_> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let mut extra: Vec<(String, String)> = query
        .iter()
        .filter(|(k, _)| *k != "page" && *k != "per_page")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    extra.sort();
    let link_to = |p: usize| {
        let mut q: Vec<String> = extra
            .iter()
            .map(|(k, v)| format!("{k}={}", enc(v)))
            .collect();
        q.push(format!("per_page={per_page}"));
        q.push(format!("page={p}"));
        format!("<{url}?{}>", q.join("&"))
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(format!("{}; rel=\"prev\"", link_to(page - 1)));
    }
    if page < last {
        links.push(format!("{}; rel=\"next\"", link_to(page + 1)));
        links.push(format!("{}; rel=\"last\"", link_to(last)));
    }
    if page > 1 {
        links.push(format!("{}; rel=\"first\"", link_to(1)));
    }
    let mut response = ok(&Value::Array(slice));
    if !links.is_empty() {
        response.headers_mut().insert(
            header::LINK,
            HeaderValue::from_str(&links.join(", ")).expect("ascii link header"),
        );
    }
    response
}

pub(super) type P = UrlPath<Params>;
pub(super) type Q = Query<Params>;
pub(super) type S = State<Shared>;

/// Percent-encodes what must not appear raw in a URL path segment.
pub(super) fn enc(segment: &str) -> String {
    let mut out = String::new();
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

pub(super) fn parse_number(params: &Params) -> Option<u64> {
    params.get("number")?.parse().ok()
}

/// The strings of a JSON array (others ignored); nothing for anything else.
pub(super) fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Builds the router one `(method, path)` at a time and remembers each, so that the
/// fake can say which operations it serves ([`super::FakeGitHub::routes`]).
pub(super) struct Routes {
    prefix: String,
    router: Router<Shared>,
    list: Vec<(Method, String)>,
}

impl Routes {
    /// Routes whose paths all start with `prefix` (`""`, or GitHub Enterprise's `/api/v3`).
    pub(super) fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
            router: Router::new(),
            list: Vec::new(),
        }
    }

    /// Serves `method path` (the path without the prefix) with `handler`.
    pub(super) fn add<H, T>(&mut self, method: Method, path: &str, handler: H) -> &mut Self
    where
        H: Handler<T, Shared>,
        T: 'static,
    {
        let full = format!("{}{path}", self.prefix);
        self.add_at(method, full, handler)
    }

    /// Serves `method path` with `handler`, `path` taken as it is (GitHub Enterprise's
    /// GraphQL lives outside the REST prefix).
    pub(super) fn add_at<H, T>(&mut self, method: Method, full: String, handler: H) -> &mut Self
    where
        H: Handler<T, Shared>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).expect("a routable method");
        self.router = std::mem::take(&mut self.router).route(&full, on(filter, handler));
        self.list.push((method, full));
        self
    }

    pub(super) fn get<H: Handler<T, Shared>, T: 'static>(
        &mut self,
        path: &str,
        handler: H,
    ) -> &mut Self {
        self.add(Method::GET, path, handler)
    }

    pub(super) fn post<H: Handler<T, Shared>, T: 'static>(
        &mut self,
        path: &str,
        handler: H,
    ) -> &mut Self {
        self.add(Method::POST, path, handler)
    }

    pub(super) fn patch<H: Handler<T, Shared>, T: 'static>(
        &mut self,
        path: &str,
        handler: H,
    ) -> &mut Self {
        self.add(Method::PATCH, path, handler)
    }

    pub(super) fn put<H: Handler<T, Shared>, T: 'static>(
        &mut self,
        path: &str,
        handler: H,
    ) -> &mut Self {
        self.add(Method::PUT, path, handler)
    }

    pub(super) fn delete<H: Handler<T, Shared>, T: 'static>(
        &mut self,
        path: &str,
        handler: H,
    ) -> &mut Self {
        self.add(Method::DELETE, path, handler)
    }

    /// The router and the list of what it serves.
    pub(super) fn finish(self) -> (Router<Shared>, Vec<(Method, String)>) {
        (self.router, self.list)
    }
}

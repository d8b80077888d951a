//! Fault injection and request counting shared by every HTTP fake.
//!
//! A fake builds its `axum::Router` as usual and passes it through [`Faults::wrap`]. From
//! then on a test can script what the next requests to an endpoint get instead of the real
//! answer, slow every request down, and count requests per `(method, route pattern)`:
//!
//! ```no_run
//! # use upkeep_testkit::faults::{Endpoint, Fault, Faults};
//! # fn demo(router: axum::Router) -> axum::Router {
//! let faults = Faults::new();
//! let router = faults.wrap(router);
//! // The next two postMessage calls answer 429 with `Retry-After: 1`.
//! faults.script(Endpoint::post("/api/chat.postMessage"), 2, Fault::rate_limited(1));
//! // ...later: how many postMessage calls reached the fake (faulted ones included)?
//! let n = faults.log().count(&Endpoint::post("/api/chat.postMessage"));
//! # router }
//! ```
//!
//! Faults are consumed in the order they were scripted; each scripted entry applies to
//! `times` matching requests and is then gone. Requests are matched on the route pattern
//! axum matched (`/repos/{owner}/{repo}/pulls`) or, failing that, the literal path.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};

/// Which requests a scripted fault or a count applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `None` matches any method.
    pub method: Option<Method>,
    /// Route pattern as registered in the router (`/repos/{owner}/{repo}`), or a literal path.
    pub path: String,
}

impl Endpoint {
    /// Any method on `path`.
    pub fn any(path: impl Into<String>) -> Self {
        Self {
            method: None,
            path: path.into(),
        }
    }

    /// `GET path`.
    pub fn get(path: impl Into<String>) -> Self {
        Self {
            method: Some(Method::GET),
            path: path.into(),
        }
    }

    /// `POST path`.
    pub fn post(path: impl Into<String>) -> Self {
        Self {
            method: Some(Method::POST),
            path: path.into(),
        }
    }

    /// `method path`.
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Self {
            method: Some(method),
            path: path.into(),
        }
    }

    fn matches(&self, method: &Method, pattern: &str, raw_path: &str) -> bool {
        self.method.as_ref().is_none_or(|m| m == method)
            && (self.path == pattern || self.path == raw_path)
    }
}

/// What a faulted request gets instead of (or in addition to) the real answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status and body without calling the handler (5xx, 404, …).
    /// A body that parses as JSON is sent as `application/json`.
    Status {
        /// HTTP status code.
        status: u16,
        /// Response body.
        body: String,
    },
    /// Answer 429 with `Retry-After: retry_after_secs` without calling the handler.
    RateLimited {
        /// Value of the `Retry-After` header, in seconds.
        retry_after_secs: u64,
        /// Response body; JSON bodies are sent as `application/json`.
        body: String,
    },
    /// Answer with this status, these extra headers and this body without calling the
    /// handler: rate-limit 403s with `x-ratelimit-remaining: 0`, scope errors with
    /// `x-accepted-oauth-scopes`, and the like. JSON bodies are sent as `application/json`.
    Respond {
        /// HTTP status code.
        status: u16,
        /// Extra response headers, `(name, value)`.
        headers: Vec<(String, String)>,
        /// Response body.
        body: String,
    },
    /// Wait this long, then handle the request normally.
    Delay(Duration),
    /// Send response headers and then abort the connection, without calling the handler:
    /// the client sees a transport error and nothing happened on the server.
    DropBeforeHandling,
    /// Call the handler (its effects happen), then abort the connection mid-response: the
    /// client sees a transport error although the server did the work. This is the case
    /// that tests "check before re-sending" logic.
    DropAfterHandling,
}

impl Fault {
    /// A plain `status` answer with an empty JSON object body.
    #[must_use]
    pub fn status(status: u16) -> Self {
        Self::Status {
            status,
            body: "{}".to_owned(),
        }
    }

    /// 429 with `Retry-After` and a generic JSON body.
    #[must_use]
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self::RateLimited {
            retry_after_secs,
            body: r#"{"message":"rate limited"}"#.to_owned(),
        }
    }
}

/// One request seen by a fake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// HTTP method.
    pub method: Method,
    /// Matched route pattern, or the literal path when no route matched.
    pub pattern: String,
    /// The literal request path.
    pub path: String,
    /// The query string, if any (without the `?`).
    pub query: Option<String>,
    /// The fault applied to it, if any.
    pub fault: Option<Fault>,
}

/// Every request a fake has seen, in arrival order.
#[derive(Debug, Clone, Default)]
pub struct RequestLog {
    /// The records, oldest first.
    pub records: Vec<RequestRecord>,
}

impl RequestLog {
    /// Requests matching `endpoint`, faulted ones included.
    #[must_use]
    pub fn count(&self, endpoint: &Endpoint) -> usize {
        self.records
            .iter()
            .filter(|r| endpoint.matches(&r.method, &r.pattern, &r.path))
            .count()
    }

    /// Requests matching `endpoint` that reached the handler unfaulted (or only delayed).
    #[must_use]
    pub fn count_handled(&self, endpoint: &Endpoint) -> usize {
        self.records
            .iter()
            .filter(|r| endpoint.matches(&r.method, &r.pattern, &r.path))
            .filter(|r| {
                matches!(
                    r.fault,
                    None | Some(Fault::Delay(_) | Fault::DropAfterHandling)
                )
            })
            .count()
    }

    /// All requests.
    #[must_use]
    pub fn total(&self) -> usize {
        self.records.len()
    }
}

#[derive(Debug, Default)]
struct State_ {
    script: VecDeque<(Endpoint, usize, Fault)>,
    latency: Duration,
    log: RequestLog,
}

/// Shared handle to a fake's fault script, latency and request log. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    inner: Arc<Mutex<State_>>,
}

impl Faults {
    /// No faults, no latency, empty log.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State_> {
        // A test that panicked while holding the lock must not hide its own failure
        // behind a poison error in the server task.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next `times` requests matching `endpoint` get `fault`. Entries queue up in order.
    pub fn script(&self, endpoint: Endpoint, times: usize, fault: Fault) {
        if times > 0 {
            self.lock().script.push_back((endpoint, times, fault));
        }
    }

    /// Drops every scripted fault not yet consumed.
    pub fn clear(&self) {
        self.lock().script.clear();
    }

    /// Delay applied to every request before it is handled.
    pub fn set_latency(&self, latency: Duration) {
        self.lock().latency = latency;
    }

    /// A snapshot of the request log.
    #[must_use]
    pub fn log(&self) -> RequestLog {
        self.lock().log.clone()
    }

    /// Empties the request log (scripted faults stay).
    pub fn reset_log(&self) {
        self.lock().log.records.clear();
    }

    /// Puts the fault middleware around every route of `router` (and its fallback).
    pub fn wrap<S>(&self, router: axum::Router<S>) -> axum::Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        router.layer(middleware::from_fn_with_state(
            self.clone(),
            fault_middleware,
        ))
    }

    /// Takes the fault for this request (if any), records the request, returns the latency.
    fn on_request(
        &self,
        method: &Method,
        pattern: &str,
        path: &str,
        query: Option<&str>,
    ) -> (Option<Fault>, Duration) {
        let mut state = self.lock();
        let position = state
            .script
            .iter()
            .position(|(endpoint, _, _)| endpoint.matches(method, pattern, path));
        let fault = position.map(|i| {
            let entry = &mut state.script[i];
            entry.1 -= 1;
            let fault = entry.2.clone();
            if entry.1 == 0 {
                state.script.remove(i);
            }
            fault
        });
        state.log.records.push(RequestRecord {
            method: method.clone(),
            pattern: pattern.to_owned(),
            path: path.to_owned(),
            query: query.map(str::to_owned),
            fault: fault.clone(),
        });
        (fault, state.latency)
    }
}

async fn fault_middleware(State(faults): State<Faults>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let pattern = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| path.clone(), |m| m.as_str().to_owned());
    let query = request.uri().query().map(str::to_owned);
    let (fault, latency) = faults.on_request(&method, &pattern, &path, query.as_deref());
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match fault {
        None => next.run(request).await,
        Some(Fault::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            next.run(request).await
        }
        Some(Fault::Status { status, body }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            with_body(status, body)
        }
        Some(Fault::Respond {
            status,
            headers,
            body,
        }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = with_body(status, body);
            for (name, value) in headers {
                if let (Ok(name), Ok(value)) = (
                    header::HeaderName::from_bytes(name.as_bytes()),
                    HeaderValue::from_str(&value),
                ) {
                    response.headers_mut().insert(name, value);
                }
            }
            response
        }
        Some(Fault::RateLimited {
            retry_after_secs,
            body,
        }) => {
            let mut response = with_body(StatusCode::TOO_MANY_REQUESTS, body);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            response
        }
        Some(Fault::DropBeforeHandling) => aborted(),
        Some(Fault::DropAfterHandling) => {
            // Run the handler to completion, including reading its body, so that its effects
            // are as final as they would be for a real server that crashed while replying.
            let response = next.run(request).await;
            let _ = axum::body::to_bytes(response.into_body(), usize::MAX).await;
            aborted()
        }
    }
}

fn with_body(status: StatusCode, body: String) -> Response {
    let json = serde_json::from_str::<serde_json::Value>(&body).is_ok();
    let content_type = if json {
        "application/json; charset=utf-8"
    } else {
        "text/plain; charset=utf-8"
    };
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// A 200 whose body fails on first poll: hyper then closes the connection mid-response, so
/// the client sees a broken transfer rather than an answer.
fn aborted() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Body::new(AbortBody),
    )
        .into_response()
}

struct AbortBody;

impl HttpBody for AbortBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        Poll::Ready(Some(Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "fault injection: connection dropped",
        ))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripted_faults_are_consumed_in_order_and_counted() {
        let faults = Faults::new();
        let ep = Endpoint::post("/api/x");
        faults.script(ep.clone(), 2, Fault::rate_limited(1));
        faults.script(Endpoint::any("/api/x"), 1, Fault::status(503));
        let take = |m: &Method| faults.on_request(m, "/api/x", "/api/x", None).0;
        assert_eq!(take(&Method::GET), Some(Fault::status(503)));
        assert_eq!(take(&Method::POST), Some(Fault::rate_limited(1)));
        assert_eq!(take(&Method::POST), Some(Fault::rate_limited(1)));
        assert_eq!(take(&Method::POST), None);
        let log = faults.log();
        assert_eq!(log.count(&ep), 3);
        assert_eq!(log.count_handled(&ep), 1);
        assert_eq!(log.count(&Endpoint::any("/api/x")), 4);
        assert_eq!(log.total(), 4);
    }

    /// Sends one raw HTTP/1.1 request and returns whatever came back before the close.
    async fn raw_post(addr: std::net::SocketAddr, path: &str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        let _ = stream.read_to_end(&mut out).await;
        String::from_utf8_lossy(&out).into_owned()
    }

    #[tokio::test]
    async fn middleware_answers_429_and_drops_after_handling() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let handled = Arc::new(AtomicUsize::new(0));
        let counter = handled.clone();
        let router = axum::Router::new().route(
            "/api/{method}",
            axum::routing::post(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                async { "{\"ok\":true}" }
            }),
        );
        let faults = Faults::new();
        let router = faults.wrap(router);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });

        faults.script(Endpoint::post("/api/{method}"), 1, Fault::rate_limited(7));
        faults.script(Endpoint::post("/api/a"), 1, Fault::DropAfterHandling);
        let limited = raw_post(addr, "/api/a").await;
        assert!(limited.starts_with("HTTP/1.1 429"), "{limited}");
        assert!(
            limited.to_ascii_lowercase().contains("retry-after: 7"),
            "{limited}"
        );
        assert_eq!(handled.load(Ordering::SeqCst), 0);

        let dropped = raw_post(addr, "/api/a").await;
        assert!(
            !dropped.contains("\r\n0\r\n\r\n"),
            "transfer must not complete: {dropped}"
        );
        assert_eq!(handled.load(Ordering::SeqCst), 1);

        let normal = raw_post(addr, "/api/b").await;
        assert!(normal.contains("{\"ok\":true}"), "{normal}");
        let log = faults.log();
        assert_eq!(log.count(&Endpoint::post("/api/{method}")), 3);
        assert_eq!(log.count(&Endpoint::post("/api/a")), 2);
        assert_eq!(log.count_handled(&Endpoint::any("/api/{method}")), 2);
    }
}

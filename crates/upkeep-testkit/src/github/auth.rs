//! Authentication and the headers GitHub puts on every answer: the token check (401
//! `Bad credentials`), rate-limit headers, `x-oauth-scopes` and the
//! `x-accepted-oauth-scopes` of each operation; and `GET /user`.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use chrono::{Duration as ChronoDuration, Utc};
use serde_json::json;

use super::http::{DOCS, Routes, S, json_response, ok};
use super::json::{ts, user_json};
use super::model::{Shared, epoch, lock};

pub(super) fn routes(r: &mut Routes) {
    r.get("/user", get_user);
}

pub(super) async fn github_headers(
    State(world): State<Shared>,
    request: Request,
    next: Next,
) -> Response {
    let (token, scopes) = {
        let world = lock(&world);
        (world.token.clone(), world.scopes.clone())
    };
    let authorised = token.as_ref().is_none_or(|token| {
        request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("token "))
                    .is_some_and(|t| t == token)
            })
    });
    let accepted = accepted_scopes(request.method(), request.uri().path());
    let mut response = if authorised {
        next.run(request).await
    } else {
        json_response(
            StatusCode::UNAUTHORIZED,
            &json!({"message": "Bad credentials", "documentation_url": DOCS, "status": "401"}),
        )
    };
    let reset = (Utc::now() + ChronoDuration::hours(1)).timestamp();
    let headers: &mut HeaderMap = response.headers_mut();
    for (name, value) in [
        ("x-github-media-type", "github.v3; format=json".to_owned()),
        ("x-ratelimit-limit", "5000".to_owned()),
        ("x-ratelimit-remaining", "4999".to_owned()),
        ("x-ratelimit-reset", reset.to_string()),
        ("x-ratelimit-used", "1".to_owned()),
        ("x-ratelimit-resource", "core".to_owned()),
        ("x-oauth-scopes", scopes),
        ("x-accepted-oauth-scopes", accepted.to_owned()),
        (
            "x-github-request-id",
            "0000:00000:0000000:0000000:00000000".to_owned(),
        ),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.entry(name).or_insert(value);
        }
    }
    response
}

/// `x-accepted-oauth-scopes` as GitHub sends it (checked against the recordings): reads
/// want `repo` (statuses also accept `repo:status`); writes to git data want `repo`; most
/// other writes (issues, labels, statuses, branch protection) say nothing.
pub(super) fn accepted_scopes(method: &Method, path: &str) -> &'static str {
    let reading = method == Method::GET;
    if path.contains("/protection") {
        ""
    } else if reading && (path.ends_with("/statuses") || path.ends_with("/status")) {
        "repo, repo:status"
    } else if reading || path.contains("/git/") || path.contains("/pulls") {
        "repo"
    } else {
        ""
    }
}
pub(super) async fn get_user(State(world): S) -> Response {
    let world = lock(&world);
    // The authenticated user's own profile (GitHub's `private-user`): the simple user's
    // fields and the profile's, as `GET /user` answers for a fresh account.
    let mut user = user_json(&world.base, &world.login);
    let created = ts(epoch());
    let profile = json!({
        "name": null, "company": null, "blog": "", "location": null, "email": null,
        "hireable": null, "bio": null, "twitter_username": null, "public_repos": 0,
        "public_gists": 0, "followers": 0, "following": 0, "created_at": created,
        "updated_at": created, "private_gists": 0, "total_private_repos": 0,
        "owned_private_repos": 0, "disk_usage": 0, "collaborators": 0,
        "two_factor_authentication": true,
        "plan": {"name": "free", "space": 976_562_499, "private_repos": 10000, "collaborators": 0}
    });
    for (k, v) in profile.as_object().expect("an object") {
        user[k] = v.clone();
    }
    ok(&user)
}

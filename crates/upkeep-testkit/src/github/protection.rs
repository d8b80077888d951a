//! Branch protection: `GET`, `PUT` and `DELETE /repos/{owner}/{repo}/branches/{branch}/protection`.

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::http::{P, Routes, S, error, ok, parse_body, repo_key, strings};
use super::json::{team_json, user_json};
use super::model::lock;

pub(super) fn routes(r: &mut Routes) {
    r.get(
        "/repos/{owner}/{repo}/branches/{branch}/protection",
        get_protection,
    )
    .put(
        "/repos/{owner}/{repo}/branches/{branch}/protection",
        put_protection,
    )
    .delete(
        "/repos/{owner}/{repo}/branches/{branch}/protection",
        delete_protection,
    );
}

pub(super) async fn get_protection(State(world): S, UrlPath(params): P) -> Response {
    let world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    world.repos[&key]
        .protection
        .get(&params["branch"])
        .map_or_else(|| error(StatusCode::NOT_FOUND, "Branch not protected"), ok)
}

pub(super) async fn put_protection(State(world): S, UrlPath(params): P, body: Bytes) -> Response {
    let body = match parse_body(&body) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let mut world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let branch = params["branch"].clone();
    let url = format!("{}/repos/{key}/branches/{branch}/protection", world.base);
    let flag = |value: bool| json!({"enabled": value});
    let mut out = json!({
        "url": url,
        "required_signatures": {"url": format!("{url}/required_signatures"), "enabled": false},
        "enforce_admins": {"url": format!("{url}/enforce_admins"), "enabled": body["enforce_admins"].as_bool().unwrap_or(false)},
        "required_linear_history": flag(body["required_linear_history"].as_bool().unwrap_or(false)),
        "allow_force_pushes": flag(body["allow_force_pushes"].as_bool().unwrap_or(false)),
        "allow_deletions": flag(body["allow_deletions"].as_bool().unwrap_or(false)),
        "block_creations": flag(false),
        "required_conversation_resolution": flag(false),
        "lock_branch": flag(false),
        "allow_fork_syncing": flag(false),
    });
    if let Some(checks) = body["required_status_checks"].as_object() {
        let contexts = checks.get("contexts").cloned().unwrap_or_else(|| json!([]));
        out["required_status_checks"] = json!({
            "url": format!("{url}/required_status_checks"),
            "strict": checks.get("strict").cloned().unwrap_or(json!(false)),
            "contexts": contexts,
            "contexts_url": format!("{url}/required_status_checks/contexts"),
            "checks": contexts.as_array().into_iter().flatten().map(|c| json!({"context": c, "app_id": null})).collect::<Vec<_>>(),
        });
    }
    // Logins and team slugs come back expanded into objects, with URLs.
    let base = world.base.clone();
    let people = |value: &Value, url: &str| {
        let users: Vec<Value> = strings(&value["users"])
            .iter()
            .map(|u| user_json(&base, u))
            .collect();
        let teams: Vec<Value> = strings(&value["teams"])
            .iter()
            .map(|slug| team_json(&base, &key, slug))
            .collect();
        json!({
            "url": url,
            "users_url": format!("{url}/users"),
            "teams_url": format!("{url}/teams"),
            "users": users,
            "teams": teams,
            "apps": [],
        })
    };
    if let Some(reviews) = body["required_pull_request_reviews"].as_object() {
        let mut r = Value::Object(reviews.clone());
        r["url"] = json!(format!("{url}/required_pull_request_reviews"));
        if r.get("required_approving_review_count").is_none() {
            r["required_approving_review_count"] = json!(1);
        }
        if let Some(dismissal) = reviews.get("dismissal_restrictions") {
            r["dismissal_restrictions"] =
                people(dismissal, &format!("{url}/dismissal_restrictions"));
        }
        out["required_pull_request_reviews"] = r;
    }
    if body["restrictions"].is_object() {
        let mut r = people(&body["restrictions"], &format!("{url}/restrictions"));
        r["apps_url"] = json!(format!("{url}/restrictions/apps"));
        out["restrictions"] = r;
    }
    let repo = world.repos.get_mut(&key).expect("known");
    repo.protection.insert(branch, out.clone());
    ok(&out)
}

pub(super) async fn delete_protection(State(world): S, UrlPath(params): P) -> Response {
    let mut world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let repo = world.repos.get_mut(&key).expect("known");
    if repo.protection.remove(&params["branch"]).is_some() {
        StatusCode::NO_CONTENT.into_response()
    } else {
        error(StatusCode::NOT_FOUND, "Branch not protected")
    }
}

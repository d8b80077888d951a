//! Commit statuses and check runs: create, list, the combined status.

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::FakeGitHub;
use super::http::{
    P, Q, Routes, S, created, error, json_response, not_found, ok, paginate, parse_body, repo_key,
    unprocessable, validation,
};
use super::json::{node_id, repo_json, ts, user_json, web_root};
use super::model::{CheckRun, Repo, Status, lock};
use super::push;
use super::repos::object_exists;

pub(super) fn routes(r: &mut Routes) {
    r.post("/repos/{owner}/{repo}/statuses/{sha}", create_status)
        .get(
            "/repos/{owner}/{repo}/commits/{ref}/statuses",
            list_statuses,
        )
        .get(
            "/repos/{owner}/{repo}/commits/{ref}/status",
            combined_status,
        )
        .get(
            "/repos/{owner}/{repo}/commits/{ref}/check-runs",
            list_check_runs,
        )
        .post("/repos/{owner}/{repo}/check-runs", create_check_run);
}

pub(super) fn status_json(base: &str, repo: &Repo, status: &Status, with_creator: bool) -> Value {
    let web = web_root(base);
    let mut value = json!({
        "url": format!("{base}/repos/{}/statuses/{}", repo.full_name(), status.sha),
        "avatar_url": format!("{web}/avatars/u/1?v=4"),
        "id": status.id,
        "node_id": node_id("SC_", status.id),
        "state": status.state,
        "description": status.description,
        "target_url": status.target_url,
        "context": status.context,
        "created_at": ts(status.at),
        "updated_at": ts(status.at),
    });
    if with_creator {
        value["creator"] = user_json(base, "upkeep-bot");
    }
    value
}

pub(super) fn check_run_json(base: &str, repo: &Repo, run: &CheckRun) -> Value {
    let web = web_root(base);
    let full = repo.full_name();
    json!({
        "id": run.id,
        "name": run.name,
        "node_id": node_id("CR_", run.id),
        "head_sha": run.sha,
        "external_id": "",
        "url": format!("{base}/repos/{full}/check-runs/{}", run.id),
        "html_url": format!("{web}/{full}/runs/{}", run.id),
        "details_url": run.details_url,
        "status": run.status,
        "conclusion": run.conclusion,
        "started_at": ts(run.at),
        "completed_at": if run.status == "completed" { json!(ts(run.at)) } else { Value::Null },
        "output": {"title": null, "summary": null, "text": null, "annotations_count": 0,
                   "annotations_url": format!("{base}/repos/{full}/check-runs/{}/annotations", run.id)},
        "check_suite": {"id": run.id + 1},
        "app": null,
        "pull_requests": []
    })
}
pub(super) async fn create_status(State(world): S, UrlPath(params): P, body: Bytes) -> Response {
    let body = match parse_body(&body) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let mut world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let sha = params["sha"].clone();
    let state = body["state"].as_str().unwrap_or_default().to_owned();
    if !["error", "failure", "pending", "success"].contains(&state.as_str()) {
        return validation(&[
            json!({"resource": "Status", "code": "custom", "field": "state",
            "message": "state is not included in the list"}),
        ]);
    }
    if object_exists(&world.repos[&key].git(), &sha).is_none() {
        return unprocessable(&format!("No commit found for SHA: {sha}"));
    }
    let (id, at) = (world.id(), world.now());
    let status = Status {
        id,
        sha: sha.clone(),
        state,
        context: body["context"].as_str().unwrap_or("default").to_owned(),
        description: body["description"].as_str().map(str::to_owned),
        target_url: body["target_url"].as_str().map(str::to_owned),
        at,
    };
    let repo = world.repos.get_mut(&key).expect("known");
    repo.statuses.push(status.clone());
    push::sync(&world, &key);
    let repo = &world.repos[&key];
    created(
        &status_json(&world.base, repo, &status, true),
        &format!("{}/repos/{key}/statuses/{sha}", world.base),
    )
}

/// The latest status of each context on `sha`, in the order the contexts first appeared.
pub(super) fn latest_statuses<'r>(repo: &'r Repo, sha: &str) -> Vec<&'r Status> {
    let mut latest: Vec<&Status> = Vec::new();
    for status in repo.statuses.iter().filter(|s| s.sha == sha) {
        if let Some(slot) = latest.iter_mut().find(|s| s.context == status.context) {
            *slot = status;
        } else {
            latest.push(status);
        }
    }
    latest
}

/// The most recent check run of each name on `sha` (`filter=latest`), in the order the
/// names first appeared.
pub(super) fn latest_check_runs<'r>(repo: &'r Repo, sha: &str) -> Vec<&'r CheckRun> {
    let mut runs: Vec<&CheckRun> = Vec::new();
    for run in repo.check_runs.iter().filter(|r| r.sha == sha) {
        match runs.iter_mut().find(|r| r.name == run.name) {
            Some(slot) => *slot = run,
            None => runs.push(run),
        }
    }
    runs
}

/// The commit a `{ref}` path segment names (branch, tag or SHA).
pub(super) fn commit_for(repo: &Repo, spec: &str) -> Option<String> {
    repo.bare.resolve(spec).map(|oid| oid.to_string())
}

pub(super) async fn list_statuses(
    State(world): S,
    UrlPath(params): P,
    Query(query): Q,
) -> Response {
    let world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let repo = &world.repos[&key];
    let Some(sha) = commit_for(repo, &params["ref"]) else {
        return not_found();
    };
    let items = repo
        .statuses
        .iter()
        .rev()
        .filter(|s| s.sha == sha)
        .map(|s| status_json(&world.base, repo, s, true))
        .collect();
    paginate(
        &world.base,
        repo,
        &format!("commits/{sha}/statuses"),
        &query,
        items,
    )
}

/// The combined status: the latest status per context; `pending` when there are none at
/// all (GitHub's quirk that adapters must not read as a signal).
pub(super) async fn combined_status(State(world): S, UrlPath(params): P) -> Response {
    let world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let repo = &world.repos[&key];
    let Some(sha) = commit_for(repo, &params["ref"]) else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("No commit found for SHA: {}", params["ref"]),
        );
    };
    let latest = latest_statuses(repo, &sha);
    let state = if latest
        .iter()
        .any(|s| s.state == "failure" || s.state == "error")
    {
        "failure"
    } else if latest.is_empty() || latest.iter().any(|s| s.state == "pending") {
        "pending"
    } else {
        "success"
    };
    let base = &world.base;
    ok(&json!({
        "state": state,
        "statuses": latest.iter().map(|s| status_json(base, repo, s, false)).collect::<Vec<_>>(),
        "sha": sha,
        "total_count": latest.len(),
        "repository": repo_json(base, repo),
        "commit_url": format!("{base}/repos/{key}/commits/{sha}"),
        "url": format!("{base}/repos/{key}/commits/{sha}/status"),
    }))
}

pub(super) async fn list_check_runs(
    State(world): S,
    UrlPath(params): P,
    Query(query): Q,
) -> Response {
    let world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let repo = &world.repos[&key];
    let Some(sha) = commit_for(repo, &params["ref"]) else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("No commit found for SHA: {}", params["ref"]),
        );
    };
    // `filter=latest` (the default): the most recent run per name.
    let all = query.get("filter").is_some_and(|f| f == "all");
    let runs = if all {
        repo.check_runs.iter().filter(|r| r.sha == sha).collect()
    } else {
        latest_check_runs(repo, &sha)
    };
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
    let shown: Vec<_> = runs
        .iter()
        .rev()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|r| check_run_json(&world.base, repo, r))
        .collect();
    ok(&json!({"total_count": runs.len(), "check_runs": shown}))
}

pub(super) async fn create_check_run(State(world): S, UrlPath(params): P, body: Bytes) -> Response {
    let body = match parse_body(&body) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let mut world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let (Some(name), Some(sha)) = (body["name"].as_str(), body["head_sha"].as_str()) else {
        return validation(&[
            json!({"resource": "CheckRun", "code": "missing_field", "field": "name"}),
        ]);
    };
    let (id, at) = (world.id(), world.now());
    let run = CheckRun {
        id,
        sha: sha.to_owned(),
        name: name.to_owned(),
        status: body["status"].as_str().unwrap_or("queued").to_owned(),
        conclusion: body["conclusion"].as_str().map(str::to_owned),
        details_url: body["details_url"].as_str().map(str::to_owned),
        at,
    };
    let repo = world.repos.get_mut(&key).expect("known");
    repo.check_runs.push(run.clone());
    push::sync(&world, &key);
    let repo = &world.repos[&key];
    json_response(
        StatusCode::CREATED,
        &check_run_json(&world.base, repo, &run),
    )
}

/// Test controls: CI signals.
impl FakeGitHub {
    /// Adds a commit status (`error`, `failure`, `pending`, `success`) like `POST /statuses`.
    pub fn add_status(&self, full_name: &str, sha: &str, context: &str, state: &str) {
        let mut world = lock(&self.world);
        let (id, at) = (world.id(), world.now());
        let repo = world.repos.get_mut(full_name).expect("known repository");
        repo.statuses.push(Status {
            id,
            sha: sha.to_owned(),
            state: state.to_owned(),
            context: context.to_owned(),
            description: Some(format!("{context} is {state}")),
            target_url: Some(format!("https://ci.example.com/{context}/{id}")),
            at,
        });
        push::sync(&world, full_name);
    }

    /// Adds a check run. `status` is `queued`, `in_progress` or `completed`; `conclusion`
    /// (`success`, `failure`, `neutral`, `cancelled`, `skipped`, `timed_out`,
    /// `action_required`) only when completed.
    pub fn add_check_run(
        &self,
        full_name: &str,
        sha: &str,
        name: &str,
        status: &str,
        conclusion: Option<&str>,
    ) {
        let mut world = lock(&self.world);
        let (id, at) = (world.id(), world.now());
        let repo = world.repos.get_mut(full_name).expect("known repository");
        repo.check_runs.push(CheckRun {
            id,
            sha: sha.to_owned(),
            name: name.to_owned(),
            status: status.to_owned(),
            conclusion: conclusion.map(str::to_owned),
            details_url: Some(format!("https://ci.example.com/runs/{id}")),
            at,
        });
        push::sync(&world, full_name);
    }
}

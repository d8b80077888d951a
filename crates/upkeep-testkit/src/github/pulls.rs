//! Pull requests, issues, reviews, review requests and labels.

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use git2::{Signature, Time};
use serde_json::{Value, json};

use super::FakeGitHub;
use super::http::{
    P, Q, Routes, S, created, json_response, not_found, ok, paginate, parse_body, parse_number,
    repo_key, strings, unprocessable, validation,
};
use super::json::{label_json, node_id, repo_json, ts, user_json, web_root};
use super::model::{FakePull, Issue, Label, Pull, Repo, Review, World, lock};

pub(super) fn routes(r: &mut Routes) {
    let repo = "/repos/{owner}/{repo}";
    let by_id = "/repositories/{id}";
    r.get(&format!("{repo}/pulls"), list_pulls)
        .post(&format!("{repo}/pulls"), create_pull)
        .get(&format!("{by_id}/pulls"), list_pulls)
        .get(&format!("{repo}/pulls/{{number}}"), get_pull)
        .patch(&format!("{repo}/pulls/{{number}}"), update_pull)
        .get(&format!("{repo}/pulls/{{number}}/reviews"), list_reviews)
        .get(&format!("{by_id}/pulls/{{number}}/reviews"), list_reviews)
        .post(
            &format!("{repo}/pulls/{{number}}/requested_reviewers"),
            request_reviewers,
        )
        .get(&format!("{repo}/issues"), list_issues)
        .post(&format!("{repo}/issues"), create_issue)
        .get(&format!("{by_id}/issues"), list_issues)
        .get(&format!("{repo}/issues/{{number}}"), get_issue)
        .patch(&format!("{repo}/issues/{{number}}"), update_issue)
        .post(&format!("{repo}/issues/{{number}}/labels"), add_labels)
        .post(&format!("{repo}/labels"), create_label);
}

pub(super) fn issue_json(base: &str, repo: &Repo, issue: &Issue) -> Value {
    let web = web_root(base);
    let full = repo.full_name();
    let api = format!("{base}/repos/{full}/issues/{}", issue.number);
    let mut value = json!({
        "url": api,
        "repository_url": format!("{base}/repos/{full}"),
        "labels_url": format!("{api}/labels{{/name}}"),
        "comments_url": format!("{api}/comments"),
        "events_url": format!("{api}/events"),
        "html_url": format!("{web}/{full}/{}/{}", if issue.pull.is_some() { "pull" } else { "issues" }, issue.number),
        "id": issue.id,
        "node_id": node_id("I_", issue.id),
        "number": issue.number,
        "title": issue.title,
        "user": user_json(base, &issue.user),
        "labels": issue.labels.iter().map(|l| label_json(base, repo, l)).collect::<Vec<_>>(),
        "state": issue.state,
        "locked": false,
        "assignee": issue.assignees.first().map(|a| user_json(base, a)),
        "assignees": issue.assignees.iter().map(|a| user_json(base, a)).collect::<Vec<_>>(),
        "milestone": null,
        "comments": 0,
        "created_at": ts(issue.created_at),
        "updated_at": ts(issue.updated_at),
        "closed_at": issue.closed_at.map(ts),
        "author_association": "MEMBER",
        "active_lock_reason": null,
        "body": issue.body,
        "closed_by": null,
        "reactions": {"url": format!("{api}/reactions"), "total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "hooray": 0, "confused": 0, "heart": 0, "rocket": 0, "eyes": 0},
        "timeline_url": format!("{api}/timeline"),
        "performed_via_github_app": null,
        "state_reason": if issue.state == "closed" { json!("completed") } else { Value::Null },
    });
    if let Some(pull) = &issue.pull {
        let pulls = format!("{base}/repos/{full}/pulls/{}", issue.number);
        value["pull_request"] = json!({
            "url": pulls,
            "html_url": format!("{web}/{full}/pull/{}", issue.number),
            "diff_url": format!("{web}/{full}/pull/{}.diff", issue.number),
            "patch_url": format!("{web}/{full}/pull/{}.patch", issue.number),
            "merged_at": pull.merged_at.map(ts),
        });
        value["draft"] = json!(pull.draft);
    }
    value
}

fn branch_side(base: &str, repo: &Repo, branch: &str, sha: &str) -> Value {
    json!({
        "label": format!("{}:{branch}", repo.owner),
        "ref": branch,
        "sha": sha,
        "user": user_json(base, &repo.owner),
        "repo": repo_json(base, repo),
    })
}

pub(super) fn pull_json(base: &str, repo: &Repo, issue: &Issue) -> Value {
    let web = web_root(base);
    let pull = issue.pull.as_ref().expect("a pull request");
    let store = &repo.bare;
    let full = repo.full_name();
    let n = issue.number;
    let api = format!("{base}/repos/{full}/pulls/{n}");
    let head_sha = pull
        .closed_head_sha
        .clone()
        .or_else(|| store.tip(&pull.head).map(|o| o.to_string()))
        .unwrap_or_default();
    let base_sha = store
        .tip(&pull.base)
        .map(|o| o.to_string())
        .unwrap_or_default();
    let html = format!("{web}/{full}/pull/{n}");
    let links = json!({
        "self": {"href": api},
        "html": {"href": html},
        "issue": {"href": format!("{base}/repos/{full}/issues/{n}")},
        "comments": {"href": format!("{base}/repos/{full}/issues/{n}/comments")},
        "review_comments": {"href": format!("{api}/comments")},
        "review_comment": {"href": format!("{base}/repos/{full}/pulls/comments{{/number}}")},
        "commits": {"href": format!("{api}/commits")},
        "statuses": {"href": format!("{base}/repos/{full}/statuses/{head_sha}")}
    });
    let mut value = json!({
        "url": api,
        "id": issue.id,
        "node_id": node_id("PR_", issue.id),
        "html_url": html,
        "diff_url": format!("{html}.diff"),
        "patch_url": format!("{html}.patch"),
        "issue_url": format!("{base}/repos/{full}/issues/{n}"),
        "number": n,
        "state": issue.state,
        "locked": false,
        "title": issue.title,
        "user": user_json(base, &issue.user),
        "body": issue.body,
        "created_at": ts(issue.created_at),
        "updated_at": ts(issue.updated_at),
        "closed_at": issue.closed_at.map(ts),
        "merged_at": pull.merged_at.map(ts),
        "merge_commit_sha": pull.merge_commit_sha,
        "assignee": issue.assignees.first().map(|a| user_json(base, a)),
        "assignees": issue.assignees.iter().map(|a| user_json(base, a)).collect::<Vec<_>>(),
        "requested_reviewers": pull.requested_reviewers.iter().map(|r| user_json(base, r)).collect::<Vec<_>>(),
        "requested_teams": [],
        "labels": issue.labels.iter().map(|l| label_json(base, repo, l)).collect::<Vec<_>>(),
        "milestone": null,
        "draft": pull.draft,
        "commits_url": format!("{api}/commits"),
        "review_comments_url": format!("{api}/comments"),
        "review_comment_url": format!("{base}/repos/{full}/pulls/comments{{/number}}"),
        "comments_url": format!("{base}/repos/{full}/issues/{n}/comments"),
        "statuses_url": format!("{base}/repos/{full}/statuses/{head_sha}"),
        "head": branch_side(base, repo, &pull.head, &head_sha),
        "base": branch_side(base, repo, &pull.base, &base_sha),
        "_links": links,
    });
    let state = json!({
        "author_association": "MEMBER",
        "auto_merge": null,
        "active_lock_reason": null,
        "merged": pull.merged_at.is_some(),
        "mergeable": if issue.state == "open" { json!(true) } else { Value::Null },
        "rebaseable": if issue.state == "open" { json!(true) } else { Value::Null },
        "mergeable_state": if issue.state == "open" { "clean" } else { "unknown" },
        "merged_by": null,
        "comments": 0,
        "review_comments": 0,
        "maintainer_can_modify": false,
        "commits": 1,
        "additions": 1,
        "deletions": 0,
        "changed_files": 1
    });
    if let (Some(first), Value::Object(part)) = (value.as_object_mut(), state) {
        first.extend(part);
    }
    value
}

pub(super) fn review_json(base: &str, repo: &Repo, number: u64, review: &Review) -> Value {
    let web = web_root(base);
    let full = repo.full_name();
    let html = format!("{web}/{full}/pull/{number}#pullrequestreview-{}", review.id);
    json!({
        "id": review.id,
        "node_id": node_id("PRR_", review.id),
        "user": user_json(base, &review.user),
        "body": "",
        "state": review.state,
        "html_url": html,
        "pull_request_url": format!("{base}/repos/{full}/pulls/{number}"),
        "author_association": "MEMBER",
        "_links": {
            "html": {"href": html},
            "pull_request": {"href": format!("{base}/repos/{full}/pulls/{number}")}
        },
        "submitted_at": ts(review.submitted_at),
        "commit_id": review.commit_id,
    })
}

pub(super) async fn list_pulls(State(world): S, UrlPath(params): P, Query(query): Q) -> Response {
    let mut world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let lagging = {
        let repo = world.repos.get_mut(&key).expect("known");
        match repo.list_lag {
            Some((from, lists)) if lists > 0 => {
                repo.list_lag = Some((from, lists - 1));
                Some(from)
            }
            _ => None,
        }
    };
    let repo = &world.repos[&key];
    let state = query.get("state").map_or("open", String::as_str);
    let head = query.get("head").map(|h| {
        // `owner:branch`, or a bare branch which GitHub reads as the repo owner's.
        h.split_once(':')
            .map_or((repo.owner.clone(), h.clone()), |(o, b)| {
                (o.to_owned(), b.to_owned())
            })
    });
    let items: Vec<_> = repo
        .issues
        .iter()
        .rev()
        .filter(|i| i.pull.is_some())
        .filter(|i| lagging.is_none_or(|from| i.number < from))
        .filter(|i| state == "all" || i.state == state)
        .filter(|i| {
            head.as_ref().is_none_or(|(owner, branch)| {
                *owner == repo.owner && i.pull.as_ref().is_some_and(|p| &p.head == branch)
            })
        })
        .filter(|i| {
            query
                .get("base")
                .is_none_or(|b| i.pull.as_ref().is_some_and(|p| &p.base == b))
        })
        .map(|i| pull_json(&world.base, repo, i))
        .collect();
    paginate(&world.base, repo, "pulls", &query, items)
}

/// GitHub's limit on an issue or pull request body, in characters.
const MAX_BODY_CHARS: usize = 65_536;

/// GitHub's 422 for a body over [`MAX_BODY_CHARS`].
fn body_too_long(body: &Value, resource: &str) -> Option<Response> {
    let text = body["body"].as_str()?;
    (text.chars().count() > MAX_BODY_CHARS).then(|| {
        validation(&[json!({
            "resource": resource,
            "code": "custom",
            "field": "body",
            "message": format!("body is too long (maximum is {MAX_BODY_CHARS} characters)"),
        })])
    })
}

pub(super) async fn create_pull(State(world): S, UrlPath(params): P, body: Bytes) -> Response {
    let body = match parse_body(&body) {
        Ok(body) => body,
        Err(response) => return response,
    };
    if let Some(refused) = body_too_long(&body, "PullRequest") {
        return refused;
    }
    let mut world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let repo = &world.repos[&key];
    let (Some(title), Some(head), Some(base)) = (
        body["title"].as_str(),
        body["head"].as_str(),
        body["base"].as_str(),
    ) else {
        return validation(&[
            json!({"resource": "PullRequest", "code": "missing_field", "field": "head"}),
        ]);
    };
    let head_branch = head.split_once(':').map_or(head, |(_, b)| b).to_owned();
    let store = &repo.bare;
    let field_invalid = |field: &str| {
        validation(&[json!({"resource": "PullRequest", "field": field, "code": "invalid"})])
    };
    let Some(head_oid) = store.tip(&head_branch) else {
        return field_invalid("head");
    };
    let Some(base_oid) = store.tip(base) else {
        return field_invalid("base");
    };
    let exists = repo.issues.iter().any(|i| {
        i.state == "open"
            && i.pull
                .as_ref()
                .is_some_and(|p| p.head == head_branch && p.base == base)
    });
    if exists {
        return validation(&[json!({
            "resource": "PullRequest",
            "code": "custom",
            "message": format!("A pull request already exists for {}:{head_branch}.", repo.owner),
        })]);
    }
    if store.ahead_behind(head_oid, base_oid).0 == 0 {
        return validation(&[json!({
            "resource": "PullRequest",
            "code": "custom",
            "message": format!("No commits between {base} and {head_branch}"),
        })]);
    }
    let pull = Pull {
        head: head_branch,
        base: base.to_owned(),
        draft: body["draft"].as_bool().unwrap_or(false),
        requested_reviewers: Vec::new(),
        reviews: Vec::new(),
        merged_at: None,
        merge_commit_sha: None,
        closed_head_sha: None,
    };
    let login = world.login.clone();
    let body_text = body["body"].as_str().map(str::to_owned);
    let number = new_issue(&mut world, &key, title, body_text, login, Some(pull));
    let repo = &world.repos[&key];
    created(
        &pull_json(&world.base, repo, repo.issue(number).expect("just created")),
        &format!("{}/repos/{key}/pulls/{number}", world.base),
    )
}

pub(super) async fn get_pull(State(world): S, UrlPath(params): P) -> Response {
    let world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let repo = &world.repos[&key];
    match parse_number(&params).and_then(|n| repo.issue(n)) {
        Some(issue) if issue.pull.is_some() => ok(&pull_json(&world.base, repo, issue)),
        _ => not_found(),
    }
}

/// Applies the fields both `PATCH /pulls/{n}` and `PATCH /issues/{n}` take.
pub(super) fn patch_issue(
    world: &mut World,
    key: &str,
    number: u64,
    body: &Value,
    issue_fields: bool,
) -> Result<(), Response> {
    if let Some(refused) = body_too_long(body, if issue_fields { "Issue" } else { "PullRequest" }) {
        return Err(refused);
    }
    let at = world.now();
    let repo = world.repos.get_mut(key).ok_or_else(not_found)?;
    let store = repo.bare.clone();
    let labels_known: Vec<String> = repo.labels.keys().cloned().collect();
    let issue = repo.issue_mut(number).ok_or_else(not_found)?;
    if let Some(title) = body["title"].as_str() {
        title.clone_into(&mut issue.title);
    }
    if body.get("body").is_some() {
        issue.body = body["body"].as_str().map(str::to_owned);
    }
    if let Some(state) = body["state"].as_str() {
        if state != "open" && state != "closed" {
            return Err(validation(&[
                json!({"resource": "Issue", "field": "state", "code": "invalid"}),
            ]));
        }
        if state == "closed" && issue.state == "open" {
            issue.closed_at = Some(at);
            if let Some(pull) = issue.pull.as_mut() {
                pull.closed_head_sha = store.tip(&pull.head).map(|o| o.to_string());
            }
        }
        state.clone_into(&mut issue.state);
    }
    if let (Some(base), Some(pull)) = (body["base"].as_str(), issue.pull.as_mut()) {
        base.clone_into(&mut pull.base);
    }
    if issue_fields {
        if body.get("labels").is_some() {
            issue.labels = strings(&body["labels"]);
        }
        if body.get("assignees").is_some() {
            issue.assignees = strings(&body["assignees"]);
        }
    }
    issue.updated_at = at;
    let new_labels: Vec<String> = issue
        .labels
        .iter()
        .filter(|l| !labels_known.contains(l))
        .cloned()
        .collect();
    for name in new_labels {
        let id = world.id();
        let repo = world.repos.get_mut(key).expect("known");
        repo.labels.insert(
            name.clone(),
            Label {
                id,
                color: "ededed".into(),
                description: None,
            },
        );
    }
    Ok(())
}

pub(super) async fn update_pull(State(world): S, UrlPath(params): P, body: Bytes) -> Response {
    let body = match parse_body(&body) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let mut world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let Some(number) = parse_number(&params).filter(|n| {
        world.repos[&key]
            .issue(*n)
            .is_some_and(|i| i.pull.is_some())
    }) else {
        return not_found();
    };
    if let Err(response) = patch_issue(&mut world, &key, number, &body, false) {
        return response;
    }
    let repo = &world.repos[&key];
    ok(&pull_json(
        &world.base,
        repo,
        repo.issue(number).expect("exists"),
    ))
}

pub(super) async fn list_reviews(State(world): S, UrlPath(params): P, Query(query): Q) -> Response {
    let world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let repo = &world.repos[&key];
    let Some((number, pull)) = parse_number(&params)
        .and_then(|n| repo.issue(n))
        .and_then(|i| Some((i.number, i.pull.as_ref()?)))
    else {
        return not_found();
    };
    let items = pull
        .reviews
        .iter()
        .map(|r| review_json(&world.base, repo, number, r))
        .collect();
    paginate(
        &world.base,
        repo,
        &format!("pulls/{number}/reviews"),
        &query,
        items,
    )
}

pub(super) async fn request_reviewers(
    State(world): S,
    UrlPath(params): P,
    body: Bytes,
) -> Response {
    let body = match parse_body(&body) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let mut world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let login = world.login.clone();
    let repo = world.repos.get_mut(&key).expect("known");
    let collaborators = repo.collaborators.clone();
    let Some(issue) = parse_number(&params).and_then(|n| repo.issue_mut(n)) else {
        return not_found();
    };
    let author = issue.user.clone();
    let Some(pull) = issue.pull.as_mut() else {
        return not_found();
    };
    let reviewers = strings(&body["reviewers"]);
    if reviewers.iter().any(|r| *r == author || *r == login) {
        return unprocessable("Review cannot be requested from pull request author.");
    }
    if let Some(collaborators) = &collaborators
        && reviewers.iter().any(|r| !collaborators.contains(r))
    {
        return unprocessable(&format!(
            "Reviews may only be requested from collaborators. One or more of the users or teams you specified is not a collaborator of the {key} repository."
        ));
    }
    for reviewer in reviewers {
        if !pull.requested_reviewers.contains(&reviewer) {
            pull.requested_reviewers.push(reviewer);
        }
    }
    let number = issue.number;
    let repo = &world.repos[&key];
    json_response(
        StatusCode::CREATED,
        &pull_json(&world.base, repo, repo.issue(number).expect("exists")),
    )
}

pub(super) async fn list_issues(State(world): S, UrlPath(params): P, Query(query): Q) -> Response {
    let world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let repo = &world.repos[&key];
    let state = query.get("state").map_or("open", String::as_str);
    let items = repo
        .issues
        .iter()
        .rev()
        .filter(|i| state == "all" || i.state == state)
        .map(|i| issue_json(&world.base, repo, i))
        .collect();
    paginate(&world.base, repo, "issues", &query, items)
}

pub(super) async fn create_issue(State(world): S, UrlPath(params): P, body: Bytes) -> Response {
    let body = match parse_body(&body) {
        Ok(body) => body,
        Err(response) => return response,
    };
    if let Some(refused) = body_too_long(&body, "Issue") {
        return refused;
    }
    let mut world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let Some(title) = body["title"].as_str() else {
        return validation(&[
            json!({"resource": "Issue", "code": "missing_field", "field": "title"}),
        ]);
    };
    let login = world.login.clone();
    let number = new_issue(
        &mut world,
        &key,
        title,
        body["body"].as_str().map(str::to_owned),
        login,
        None,
    );
    if body.get("labels").is_some() || body.get("assignees").is_some() {
        let _ = patch_issue(&mut world, &key, number, &body, true);
    }
    let repo = &world.repos[&key];
    created(
        &issue_json(&world.base, repo, repo.issue(number).expect("exists")),
        &format!("{}/repos/{key}/issues/{number}", world.base),
    )
}

pub(super) async fn get_issue(State(world): S, UrlPath(params): P) -> Response {
    let world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let repo = &world.repos[&key];
    parse_number(&params)
        .and_then(|n| repo.issue(n))
        .map_or_else(not_found, |i| ok(&issue_json(&world.base, repo, i)))
}

pub(super) async fn update_issue(State(world): S, UrlPath(params): P, body: Bytes) -> Response {
    let body = match parse_body(&body) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let mut world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let Some(number) = parse_number(&params) else {
        return not_found();
    };
    if let Err(response) = patch_issue(&mut world, &key, number, &body, true) {
        return response;
    }
    let repo = &world.repos[&key];
    ok(&issue_json(
        &world.base,
        repo,
        repo.issue(number).expect("exists"),
    ))
}

pub(super) async fn add_labels(State(world): S, UrlPath(params): P, body: Bytes) -> Response {
    let body = match parse_body(&body) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let mut world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let Some(number) = parse_number(&params).filter(|n| world.repos[&key].issue(*n).is_some())
    else {
        return not_found();
    };
    // `{"labels": [...]}` or a store array, as GitHub accepts both.
    let wanted = if body.is_array() {
        strings(&body)
    } else {
        strings(&body["labels"])
    };
    let mut labels = world.repos[&key]
        .issue(number)
        .expect("exists")
        .labels
        .clone();
    for label in wanted {
        if !labels.contains(&label) {
            labels.push(label);
        }
    }
    if let Err(response) = patch_issue(&mut world, &key, number, &json!({"labels": labels}), true) {
        return response;
    }
    let repo = &world.repos[&key];
    let out: Vec<_> = repo
        .issue(number)
        .expect("exists")
        .labels
        .iter()
        .map(|l| label_json(&world.base, repo, l))
        .collect();
    ok(&Value::Array(out))
}

pub(super) async fn create_label(State(world): S, UrlPath(params): P, body: Bytes) -> Response {
    let body = match parse_body(&body) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let mut world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let Some(name) = body["name"].as_str().map(str::to_owned) else {
        return validation(&[
            json!({"resource": "Label", "code": "missing_field", "field": "name"}),
        ]);
    };
    let color = body["color"]
        .as_str()
        .unwrap_or("ededed")
        .trim_start_matches('#')
        .to_owned();
    if color.len() != 6 || !color.chars().all(|c| c.is_ascii_hexdigit()) {
        return validation(&[json!({"resource": "Label", "code": "invalid", "field": "color"})]);
    }
    if world.repos[&key].labels.contains_key(&name) {
        return validation(&[
            json!({"resource": "Label", "code": "already_exists", "field": "name"}),
        ]);
    }
    let id = world.id();
    let repo = world.repos.get_mut(&key).expect("known");
    repo.labels.insert(
        name.clone(),
        Label {
            id,
            color,
            description: body["description"].as_str().map(str::to_owned),
        },
    );
    let repo = &world.repos[&key];
    json_response(StatusCode::CREATED, &label_json(&world.base, repo, &name))
}

/// Test controls: reviews, merges and edits people make in the web UI.
impl FakeGitHub {
    /// Submits a review (`APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`, `DISMISSED`) by
    /// `user` on pull request `number`.
    pub fn add_review(&self, full_name: &str, number: u64, user: &str, state: &str) {
        let head_sha = self.pull_head_sha(full_name, number);
        let mut world = lock(&self.world);
        let (id, at) = (world.id(), world.now());
        let repo = world.repos.get_mut(full_name).expect("known repository");
        let pull = repo
            .issue_mut(number)
            .and_then(|i| i.pull.as_mut())
            .expect("known pull request");
        pull.requested_reviewers.retain(|r| r != user);
        pull.reviews.push(Review {
            id,
            user: user.to_owned(),
            state: state.to_owned(),
            commit_id: head_sha,
            submitted_at: at,
        });
    }

    fn pull_head_sha(&self, full_name: &str, number: u64) -> String {
        let head = self.with_repo(full_name, |repo| {
            repo.issue(number)
                .and_then(|i| i.pull.as_ref())
                .map(|p| p.head.clone())
                .expect("known pull request")
        });
        self.branch_tip(full_name, &head).unwrap_or_default()
    }

    /// Merges pull request `number` like the merge button: a fast-forward when the base is
    /// an ancestor of the head, else a merge commit carrying the head's tree. Returns the
    /// merge commit SHA.
    pub fn merge_pull(&self, full_name: &str, number: u64) -> String {
        let mut world = lock(&self.world);
        let at = world.now();
        let repo = world.repos.get_mut(full_name).expect("known repository");
        let store = repo.bare.clone();
        let git = repo.git();
        let issue = repo.issue_mut(number).expect("known pull request");
        let pull = issue.pull.as_mut().expect("a pull request");
        let head = store.tip(&pull.head).expect("head branch exists");
        let base = store.tip(&pull.base).expect("base branch exists");
        let merged = if store.is_ancestor(base, head) {
            head
        } else {
            let sig = Signature::new(
                "Upkeep Test",
                "test@upkeep.invalid",
                &Time::new(at.timestamp(), 0),
            )
            .expect("signature");
            let head_commit = git.find_commit(head).expect("head commit");
            let base_commit = git.find_commit(base).expect("base commit");
            let tree = head_commit.tree().expect("tree");
            git.commit(
                None,
                &sig,
                &sig,
                &format!("Merge pull request #{number} from {}", pull.head),
                &tree,
                &[&base_commit, &head_commit],
            )
            .expect("merge commit")
        };
        store.set_branch(&pull.base, merged);
        pull.merged_at = Some(at);
        pull.merge_commit_sha = Some(merged.to_string());
        pull.closed_head_sha = Some(head.to_string());
        "closed".clone_into(&mut issue.state);
        issue.closed_at = Some(at);
        issue.updated_at = at;
        merged.to_string()
    }

    /// Closes pull request (or issue) `number` without merging.
    pub fn close_pull(&self, full_name: &str, number: u64) {
        let head_sha = self.pull_head_sha(full_name, number);
        let mut world = lock(&self.world);
        let at = world.now();
        let repo = world.repos.get_mut(full_name).expect("known repository");
        let issue = repo.issue_mut(number).expect("known pull request");
        "closed".clone_into(&mut issue.state);
        issue.closed_at = Some(at);
        issue.updated_at = at;
        if let Some(pull) = issue.pull.as_mut() {
            pull.closed_head_sha = Some(head_sha);
        }
    }

    /// Adds labels to issue or pull request `number`, as a person would in the web UI.
    pub fn add_issue_labels(&self, full_name: &str, number: u64, labels: &[&str]) {
        let mut world = lock(&self.world);
        let mut all = world.repos[full_name]
            .issue(number)
            .expect("known issue")
            .labels
            .clone();
        for label in labels {
            if !all.iter().any(|l| l == label) {
                all.push((*label).to_owned());
            }
        }
        patch_issue(&mut world, full_name, number, &json!({"labels": all}), true)
            .expect("labels set");
    }

    /// Opens a plain issue (not a pull request), like `POST /issues`.
    pub fn add_issue(&self, full_name: &str, title: &str) -> u64 {
        let mut world = lock(&self.world);
        let login = world.login.clone();
        new_issue(&mut world, full_name, title, None, login, None)
    }

    /// Every pull request of `owner/name`, oldest first.
    #[must_use]
    pub fn pulls(&self, full_name: &str) -> Vec<FakePull> {
        self.with_repo(full_name, |repo| {
            repo.issues
                .iter()
                .filter_map(|issue| {
                    let pull = issue.pull.as_ref()?;
                    Some(FakePull {
                        number: issue.number,
                        title: issue.title.clone(),
                        body: issue.body.clone(),
                        head: pull.head.clone(),
                        base: pull.base.clone(),
                        state: issue.state.clone(),
                        draft: pull.draft,
                        merged: pull.merged_at.is_some(),
                        labels: issue.labels.clone(),
                        assignees: issue.assignees.clone(),
                        requested_reviewers: pull.requested_reviewers.clone(),
                    })
                })
                .collect()
        })
    }
}

pub(super) fn new_issue(
    world: &mut World,
    full_name: &str,
    title: &str,
    body: Option<String>,
    user: String,
    pull: Option<Pull>,
) -> u64 {
    let (id, at) = (world.id(), world.now());
    let repo = world.repos.get_mut(full_name).expect("known repository");
    let number = repo.issues.len() as u64 + 1;
    repo.issues.push(Issue {
        number,
        id,
        title: title.to_owned(),
        body,
        state: "open".to_owned(),
        labels: Vec::new(),
        assignees: Vec::new(),
        user,
        created_at: at,
        updated_at: at,
        closed_at: None,
        pull,
    });
    number
}

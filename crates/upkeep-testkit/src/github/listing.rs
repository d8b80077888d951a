//! Listing repositories (`repos/list-for-org`, `repos/list-for-user`,
//! `repos/list-for-authenticated-user`) and reading a file without a clone
//! (`repos/get-content`), as discovery does.
//!
//! Lists answer in the minimal-repository shape, paginated like GitHub: `per_page` 30 by
//! default and clamped to 100, `Link` pointing at `/organizations/{id}/repos` or
//! `/user/{id}/repos` as GitHub's do (both served). `/users/{username}/repos` lists
//! *public* repositories only, as GitHub does for any account but the token's own: the
//! token's account sees its private ones through `/user/repos`. An account with no
//! repository here is unknown (404).

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine as _;
use serde_json::{Value, json};

use super::FakeGitHub;
use super::http::{
    P, Params, Q, Routes, S, error, not_found, ok, paginate_at, repo_key, validation,
};
use super::json::{repo_json, user_json};
use super::model::{Repo, RepoMeta, World, lock};

pub(super) fn routes(r: &mut Routes) {
    r.get("/orgs/{org}/repos", org_repos)
        .get("/organizations/{id}/repos", org_repos_by_id)
        .get("/users/{username}/repos", user_repos)
        .get("/user/{id}/repos", user_repos_by_id)
        .get("/user/repos", own_repos)
        .get("/repos/{owner}/{repo}/contents/{*path}", get_content);
}

/// Keys of the full repository that the minimal-repository schema does not have.
const NOT_MINIMAL: [&str; 7] = [
    "organization",
    "allow_squash_merge",
    "allow_merge_commit",
    "allow_rebase_merge",
    "allow_auto_merge",
    "allow_update_branch",
    "use_squash_pr_title_as_default",
];

fn minimal(base: &str, repo: &Repo) -> Value {
    let mut value = repo_json(base, repo);
    if let Some(map) = value.as_object_mut() {
        for key in NOT_MINIMAL {
            map.remove(key);
        }
    }
    value
}

fn account_id(base: &str, login: &str) -> u64 {
    user_json(base, login)["id"].as_u64().unwrap_or_default()
}

/// The login of the account with `id` that owns a repository here (organisations when
/// `orgs`, users otherwise).
fn login_of(world: &World, id: &str, orgs: bool) -> Option<String> {
    world
        .repos
        .values()
        .filter(|r| r.meta.user_owned != orgs)
        .map(|r| r.owner.clone())
        .chain((!orgs).then(|| world.login.clone()))
        .find(|login| account_id(&world.base, login).to_string() == id)
}

/// `sort` and `direction` as GitHub reads them; the fake's creation order is its ids'.
fn sorted<'a>(
    mut repos: Vec<&'a Repo>,
    query: &Params,
    default_sort: &str,
) -> Result<Vec<&'a Repo>, Response> {
    let sort = query.get("sort").map_or(default_sort, String::as_str);
    let by_name = match sort {
        "full_name" => true,
        "created" | "updated" | "pushed" => false,
        other => return Err(invalid("sort", other)),
    };
    let ascending = match query.get("direction").map(String::as_str) {
        None => by_name,
        Some("asc") => true,
        Some("desc") => false,
        Some(other) => return Err(invalid("direction", other)),
    };
    if by_name {
        repos.sort_by_key(|r| r.full_name().to_lowercase());
    } else {
        repos.sort_by_key(|r| r.id);
    }
    if !ascending {
        repos.reverse();
    }
    Ok(repos)
}

fn invalid(field: &str, value: &str) -> Response {
    validation(&[json!({
        "resource": "Repository",
        "field": field,
        "code": "invalid",
        "value": value,
    })])
}

fn page(world: &World, url: &str, query: &Params, repos: &[&Repo]) -> Response {
    let items = repos.iter().map(|r| minimal(&world.base, r)).collect();
    paginate_at(url, query, items)
}

async fn org_repos(State(world): S, UrlPath(params): P, Query(query): Q) -> Response {
    let world = lock(&world);
    let org = params.get("org").cloned().unwrap_or_default();
    list_org(&world, &org, &query)
}

async fn org_repos_by_id(State(world): S, UrlPath(params): P, Query(query): Q) -> Response {
    let world = lock(&world);
    let id = params.get("id").cloned().unwrap_or_default();
    match login_of(&world, &id, true) {
        Some(org) => list_org(&world, &org, &query),
        None => not_found(),
    }
}

fn list_org(world: &World, org: &str, query: &Params) -> Response {
    let mine: Vec<&Repo> = world
        .repos
        .values()
        .filter(|r| !r.meta.user_owned && r.owner.eq_ignore_ascii_case(org))
        .collect();
    if mine.is_empty() {
        return not_found();
    }
    let kept: Vec<&Repo> = match query.get("type").map_or("all", String::as_str) {
        // The token's account is a member with access to every repository here.
        "all" | "member" => mine,
        "public" => mine.into_iter().filter(|r| !r.meta.private).collect(),
        "private" => mine.into_iter().filter(|r| r.meta.private).collect(),
        "forks" => mine.into_iter().filter(|r| r.meta.fork).collect(),
        "sources" => mine.into_iter().filter(|r| !r.meta.fork).collect(),
        other => return invalid("type", other),
    };
    let kept = match sorted(kept, query, "created") {
        Ok(kept) => kept,
        Err(response) => return response,
    };
    let id = account_id(
        &world.base,
        &world
            .repos
            .values()
            .find(|r| r.owner.eq_ignore_ascii_case(org))
            .map_or_else(|| org.to_owned(), |r| r.owner.clone()),
    );
    page(
        world,
        &format!("{}/organizations/{id}/repos", world.base),
        query,
        &kept,
    )
}

async fn user_repos(State(world): S, UrlPath(params): P, Query(query): Q) -> Response {
    let world = lock(&world);
    let user = params.get("username").cloned().unwrap_or_default();
    list_user(&world, &user, &query)
}

async fn user_repos_by_id(State(world): S, UrlPath(params): P, Query(query): Q) -> Response {
    let world = lock(&world);
    let id = params.get("id").cloned().unwrap_or_default();
    match login_of(&world, &id, false).or_else(|| login_of(&world, &id, true)) {
        Some(user) => list_user(&world, &user, &query),
        None => not_found(),
    }
}

/// `GET /users/{username}/repos`: the public repositories of any account (an organisation
/// too); private ones are not listed here, even to their owner.
fn list_user(world: &World, user: &str, query: &Params) -> Response {
    let owned: Vec<&Repo> = world
        .repos
        .values()
        .filter(|r| r.owner.eq_ignore_ascii_case(user))
        .collect();
    let Some(login) = owned.first().map(|r| r.owner.clone()).or_else(|| {
        world
            .login
            .eq_ignore_ascii_case(user)
            .then(|| world.login.clone())
    }) else {
        return not_found();
    };
    let kept: Vec<&Repo> = match query.get("type").map_or("owner", String::as_str) {
        // The fake has no collaborators on other accounts' repositories.
        "owner" | "all" => owned.into_iter().filter(|r| !r.meta.private).collect(),
        "member" => Vec::new(),
        other => return invalid("type", other),
    };
    let kept = match sorted(kept, query, "full_name") {
        Ok(kept) => kept,
        Err(response) => return response,
    };
    let id = account_id(&world.base, &login);
    page(
        world,
        &format!("{}/user/{id}/repos", world.base),
        query,
        &kept,
    )
}

/// `GET /user/repos`: the token's account's repositories, private ones included
/// (`visibility`, `affiliation` and `type` as GitHub reads them; `type` may not be
/// combined with the other two).
async fn own_repos(State(world): S, Query(query): Q) -> Response {
    let world = lock(&world);
    if query.contains_key("type")
        && (query.contains_key("visibility") || query.contains_key("affiliation"))
    {
        return validation(&[json!({
            "resource": "Repository",
            "field": "type",
            "code": "invalid",
            "message": "If you specify visibility or affiliation, you cannot specify type.",
        })]);
    }
    let mine: Vec<&Repo> = world
        .repos
        .values()
        .filter(|r| r.owner.eq_ignore_ascii_case(&world.login))
        .collect();
    let visibility = query.get("visibility").map_or("all", String::as_str);
    let kept: Vec<&Repo> = match visibility {
        "all" => mine,
        "public" => mine.into_iter().filter(|r| !r.meta.private).collect(),
        "private" => mine.into_iter().filter(|r| r.meta.private).collect(),
        other => return invalid("visibility", other),
    };
    let kept = match sorted(kept, &query, "full_name") {
        Ok(kept) => kept,
        Err(response) => return response,
    };
    page(&world, &format!("{}/user/repos", world.base), &query, &kept)
}

/// `GET /repos/{owner}/{repo}/contents/{path}?ref=`: a file's JSON with its content in
/// base64 (lines of 60 characters, as GitHub wraps them); a directory is a list.
async fn get_content(State(world): S, UrlPath(params): P, Query(query): Q) -> Response {
    let world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let repo = &world.repos[&key];
    let path = params.get("path").cloned().unwrap_or_default();
    let git = repo.git();
    if git.is_empty().unwrap_or(true) {
        return error(StatusCode::NOT_FOUND, "This repository is empty.");
    }
    let wanted = query
        .get("ref")
        .cloned()
        .unwrap_or_else(|| "main".to_owned());
    let Ok(commit) = git
        .revparse_single(&wanted)
        .and_then(|o| o.peel_to_commit())
    else {
        return error(
            StatusCode::NOT_FOUND,
            &format!("No commit found for the ref {wanted}"),
        );
    };
    let Ok(tree) = commit.tree() else {
        return not_found();
    };
    let Ok(entry) = tree.get_path(std::path::Path::new(&path)) else {
        return not_found();
    };
    let Ok(blob) = git.find_blob(entry.id()) else {
        // A directory: GitHub lists it; discovery never asks for one.
        return ok(&json!([]));
    };
    let encoded = base64::engine::general_purpose::STANDARD.encode(blob.content());
    let wrapped: Vec<&str> = encoded
        .as_bytes()
        .chunks(60)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    let api = format!("{}/repos/{key}/contents/{path}?ref={wanted}", world.base);
    let sha = entry.id().to_string();
    ok(&json!({
        "type": "file",
        "encoding": "base64",
        "size": blob.size(),
        "name": path.rsplit('/').next().unwrap_or(&path),
        "path": path,
        "content": format!("{}\n", wrapped.join("\n")),
        "sha": sha,
        "url": api,
        "git_url": format!("{}/repos/{key}/git/blobs/{sha}", world.base),
        "html_url": format!("{}/{key}/blob/{wanted}/{path}", super::json::web_root(&world.base)),
        "download_url": null,
        "_links": {
            "self": api,
            "git": format!("{}/repos/{key}/git/blobs/{sha}", world.base),
            "html": format!("{}/{key}/blob/{wanted}/{path}", super::json::web_root(&world.base)),
        },
    }))
}

impl FakeGitHub {
    /// Creates `owner/name` as a listing shows it: topics, archived, fork, public or
    /// private, empty (no commit at all) or with a README on `main`, owned by an
    /// organisation or a user ([`RepoMeta`]). Returns the bare repository's path.
    pub fn create_listed_repo(&self, full_name: &str, meta: RepoMeta) -> std::path::PathBuf {
        if meta.empty {
            return self.create_empty_repo(full_name, meta).0;
        }
        let path = self.create_repo(full_name);
        self.with_repo(full_name, |repo| repo.meta = meta);
        path
    }

    /// The topics, flags and owner kind of `owner/name`.
    #[must_use]
    pub fn repo_meta(&self, full_name: &str) -> RepoMeta {
        self.with_repo(full_name, |repo| repo.meta.clone())
    }
}

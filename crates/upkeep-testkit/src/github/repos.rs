//! Repositories and git data: the repository object, refs (list, read, create, move,
//! delete), tag objects, tags and comparisons, all read from and written to the bare
//! repository.

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeZone as _, Utc};
use git2::{ObjectType, Oid, Repository, Signature, Time};
use serde_json::{Value, json};

use super::FakeGitHub;
use super::http::{
    P, Q, Routes, S, created, enc, error, json_response, not_found, ok, paginate, parse_body,
    repo_key, unprocessable, validation,
};
use super::json::{repo_json, ts, web_root};
use super::model::{Repo, epoch, lock};
use super::protection;
use crate::bare::BareRepo;

pub(super) fn routes(r: &mut Routes) {
    let repo = "/repos/{owner}/{repo}";
    r.get(repo, get_repo)
        .get(&format!("{repo}/git/refs"), list_refs)
        .post(&format!("{repo}/git/refs"), create_ref)
        .get(&format!("{repo}/git/refs/"), list_refs)
        .get(&format!("{repo}/git/refs/{{*ref}}"), get_refs_prefix)
        .patch(&format!("{repo}/git/refs/{{*ref}}"), update_ref)
        .delete(&format!("{repo}/git/refs/{{*ref}}"), delete_ref)
        .get(&format!("{repo}/git/ref/{{*ref}}"), get_ref)
        .get(&format!("{repo}/git/matching-refs/{{*ref}}"), matching_refs)
        .post(&format!("{repo}/git/tags"), create_tag_object)
        .get(&format!("{repo}/tags"), list_tags)
        .get("/repositories/{id}/tags", list_tags)
        .get(&format!("{repo}/compare/{{basehead}}"), compare);
}

pub(super) fn ref_json(base: &str, repo: &Repo, name: &str, oid: Oid, kind: &str) -> Value {
    let full = repo.full_name();
    let plural = if kind == "tag" { "tags" } else { "commits" };
    json!({
        "ref": name,
        "node_id": format!("REF_{}", enc(name)),
        "url": format!("{base}/repos/{full}/git/{name}"),
        "object": {
            "sha": oid.to_string(),
            "type": kind,
            "url": format!("{base}/repos/{full}/git/{plural}/{oid}"),
        }
    })
}

pub(super) fn commit_json(base: &str, repo: &Repo, commit: &git2::Commit<'_>) -> Value {
    let web = web_root(base);
    let full = repo.full_name();
    let sha = commit.id().to_string();
    let person = |sig: git2::Signature<'_>| {
        json!({
            "name": sig.name().unwrap_or_default(),
            "email": sig.email().unwrap_or_default(),
            "date": ts(Utc.timestamp_opt(sig.when().seconds(), 0).single().unwrap_or_else(epoch)),
        })
    };
    json!({
        "sha": sha,
        "node_id": format!("C_{sha}"),
        "commit": {
            "author": person(commit.author()),
            "committer": person(commit.committer()),
            "message": commit.message().unwrap_or_default(),
            "tree": {"sha": commit.tree_id().to_string(), "url": format!("{base}/repos/{full}/git/trees/{}", commit.tree_id())},
            "url": format!("{base}/repos/{full}/git/commits/{sha}"),
            "comment_count": 0,
            "verification": {"verified": false, "reason": "unsigned", "signature": null, "payload": null, "verified_at": null}
        },
        "url": format!("{base}/repos/{full}/commits/{sha}"),
        "html_url": format!("{web}/{full}/commit/{sha}"),
        "comments_url": format!("{base}/repos/{full}/commits/{sha}/comments"),
        "author": null,
        "committer": null,
        "parents": commit.parent_ids().map(|p| json!({
            "sha": p.to_string(),
            "url": format!("{base}/repos/{full}/commits/{p}"),
            "html_url": format!("{web}/{full}/commit/{p}"),
        })).collect::<Vec<_>>(),
    })
}

pub(super) async fn get_repo(State(world): S, UrlPath(params): P) -> Response {
    let world = lock(&world);
    match repo_key(&world, &params) {
        Ok(key) => ok(&repo_json(&world.base, &world.repos[&key])),
        Err(response) => response,
    }
}

pub(super) fn all_refs(git: &Repository) -> Vec<(String, Oid, &'static str)> {
    let mut out = Vec::new();
    for reference in git.references().expect("references").flatten() {
        let Ok(name) = reference.name().map(str::to_owned) else {
            continue;
        };
        if !name.starts_with("refs/") {
            continue;
        }
        let Some(oid) = reference.target() else {
            continue;
        };
        let kind = match git.find_object(oid, None).ok().and_then(|o| o.kind()) {
            Some(ObjectType::Tag) => "tag",
            _ => "commit",
        };
        out.push((name, oid, kind));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

pub(super) async fn list_refs(State(world): S, UrlPath(params): P) -> Response {
    let world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let repo = &world.repos[&key];
    let refs: Vec<_> = all_refs(&repo.git())
        .into_iter()
        .map(|(name, oid, kind)| ref_json(&world.base, repo, &name, oid, kind))
        .collect();
    ok(&Value::Array(refs))
}

/// `GET /git/refs/{ref}`: an exact match answers the object; otherwise GitHub answers
/// every ref the path is a prefix of, as an array, or 404.
pub(super) async fn get_refs_prefix(State(world): S, UrlPath(params): P) -> Response {
    let world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let repo = &world.repos[&key];
    let wanted = format!("refs/{}", params["ref"].trim_end_matches('/'));
    if wanted == "refs" {
        let refs: Vec<_> = all_refs(&repo.git())
            .into_iter()
            .map(|(name, oid, kind)| ref_json(&world.base, repo, &name, oid, kind))
            .collect();
        return ok(&Value::Array(refs));
    }
    let refs = all_refs(&repo.git());
    if let Some((name, oid, kind)) = refs.iter().find(|(n, _, _)| *n == wanted) {
        return ok(&ref_json(&world.base, repo, name, *oid, kind));
    }
    let matching: Vec<_> = refs
        .iter()
        .filter(|(n, _, _)| n.starts_with(&format!("{wanted}/")))
        .map(|(name, oid, kind)| ref_json(&world.base, repo, name, *oid, kind))
        .collect();
    if matching.is_empty() {
        not_found()
    } else {
        ok(&Value::Array(matching))
    }
}

pub(super) async fn get_ref(State(world): S, UrlPath(params): P) -> Response {
    let world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let repo = &world.repos[&key];
    let wanted = format!("refs/{}", params["ref"]);
    all_refs(&repo.git())
        .into_iter()
        .find(|(n, _, _)| *n == wanted)
        .map_or_else(not_found, |(name, oid, kind)| {
            ok(&ref_json(&world.base, repo, &name, oid, kind))
        })
}

pub(super) async fn matching_refs(State(world): S, UrlPath(params): P) -> Response {
    let world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let repo = &world.repos[&key];
    let prefix = format!("refs/{}", params["ref"]);
    let refs: Vec<_> = all_refs(&repo.git())
        .into_iter()
        .filter(|(n, _, _)| n.starts_with(&prefix))
        .map(|(name, oid, kind)| ref_json(&world.base, repo, &name, oid, kind))
        .collect();
    ok(&Value::Array(refs))
}

pub(super) fn object_exists(git: &Repository, sha: &str) -> Option<(Oid, &'static str)> {
    let oid = Oid::from_str(sha).ok()?;
    let object = git.find_object(oid, None).ok()?;
    let kind = match object.kind()? {
        ObjectType::Tag => "tag",
        ObjectType::Commit => "commit",
        _ => return None,
    };
    Some((oid, kind))
}

pub(super) async fn create_ref(State(world): S, UrlPath(params): P, body: Bytes) -> Response {
    let body = match parse_body(&body) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let repo = &world.repos[&key];
    let (Some(name), Some(sha)) = (body["ref"].as_str(), body["sha"].as_str()) else {
        return validation(&[
            json!({"resource": "Reference", "code": "missing_field", "field": "ref"}),
        ]);
    };
    if !name.starts_with("refs/") || name.matches('/').count() < 2 {
        return unprocessable(
            "Reference name must start with 'refs/' and have at least two slashes.",
        );
    }
    let git = repo.git();
    let Some((oid, kind)) = object_exists(&git, sha) else {
        return unprocessable("Object does not exist");
    };
    if git.find_reference(name).is_ok() {
        return unprocessable("Reference already exists");
    }
    let refused = protection::refusals(&world, repo, name, None, Some(oid));
    if !refused.is_empty() {
        return unprocessable(&protection::message(&refused));
    }
    if git.reference(name, oid, false, "api create").is_err() {
        // Created by a push in the meantime.
        return unprocessable("Reference already exists");
    }
    created(
        &ref_json(&world.base, repo, name, oid, kind),
        &format!("{}/repos/{}/git/{name}", world.base, repo.full_name()),
    )
}

pub(super) async fn update_ref(State(world): S, UrlPath(params): P, body: Bytes) -> Response {
    let body = match parse_body(&body) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let repo = &world.repos[&key];
    let name = format!("refs/{}", params["ref"]);
    let git = repo.git();
    let Ok(current) = git.find_reference(&name) else {
        return unprocessable("Reference does not exist");
    };
    let current = current.target().expect("direct ref");
    let Some(sha) = body["sha"].as_str() else {
        return validation(&[
            json!({"resource": "Reference", "code": "missing_field", "field": "sha"}),
        ]);
    };
    let Some((oid, kind)) = object_exists(&git, sha) else {
        return unprocessable("Object does not exist");
    };
    let force = body["force"].as_bool().unwrap_or(false);
    if !force && !repo.bare.is_ancestor(current, oid) {
        return unprocessable("Update is not a fast forward");
    }
    let refused = protection::refusals(&world, repo, &name, Some(current), Some(oid));
    if !refused.is_empty() {
        return unprocessable(&protection::message(&refused));
    }
    if git
        .reference_matching(&name, oid, true, current, "api update")
        .is_err()
    {
        // Moved by a push in the meantime: GitHub's answer when the ref update loses.
        return unprocessable("Reference update failed");
    }
    ok(&ref_json(&world.base, repo, &name, oid, kind))
}

pub(super) async fn delete_ref(State(world): S, UrlPath(params): P) -> Response {
    let world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let repo = &world.repos[&key];
    let git = repo.git();
    let name = format!("refs/{}", params["ref"]);
    match git.find_reference(&name) {
        Ok(mut reference) => {
            let refused = protection::refusals(&world, repo, &name, reference.target(), None);
            if !refused.is_empty() {
                return unprocessable(&protection::message(&refused));
            }
            reference.delete().expect("delete ref");
            StatusCode::NO_CONTENT.into_response()
        }
        Err(_) => unprocessable("Reference does not exist"),
    }
}

pub(super) async fn create_tag_object(
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
    let at = world.now();
    let repo = &world.repos[&key];
    let (Some(tag), Some(message), Some(object)) = (
        body["tag"].as_str(),
        body["message"].as_str(),
        body["object"].as_str(),
    ) else {
        return validation(&[json!({"resource": "Tag", "code": "missing_field", "field": "tag"})]);
    };
    let git = repo.git();
    let Some(target) = Oid::from_str(object)
        .ok()
        .and_then(|oid| git.find_object(oid, None).ok())
    else {
        return unprocessable("Object does not exist");
    };
    let tagger = body["tagger"]["name"].as_str().map_or_else(
        || signature(at),
        |name| {
            Signature::new(
                name,
                body["tagger"]["email"]
                    .as_str()
                    .unwrap_or("unknown@invalid"),
                &Time::new(at.timestamp(), 0),
            )
            .expect("tagger")
        },
    );
    let oid = git
        .tag_annotation_create(tag, &target, &tagger, message)
        .expect("tag object");
    let full = repo.full_name();
    let base = &world.base;
    json_response(
        StatusCode::CREATED,
        &json!({
            "node_id": format!("TAG_{oid}"),
            "tag": tag,
            "sha": oid.to_string(),
            "url": format!("{base}/repos/{full}/git/tags/{oid}"),
            "message": message,
            "tagger": {"name": tagger.name().unwrap_or_default(), "email": tagger.email().unwrap_or_default(), "date": ts(at)},
            "object": {"type": "commit", "sha": object, "url": format!("{base}/repos/{full}/git/commits/{object}")},
            "verification": {"verified": false, "reason": "unsigned", "signature": null, "payload": null, "verified_at": null}
        }),
    )
}

pub(super) async fn list_tags(State(world): S, UrlPath(params): P, Query(query): Q) -> Response {
    let world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let repo = &world.repos[&key];
    let git = repo.git();
    let base = &world.base;
    let full = repo.full_name();
    let mut tags: Vec<(String, Oid)> = all_refs(&git)
        .into_iter()
        .filter_map(|(name, _, _)| {
            let short = name.strip_prefix("refs/tags/")?.to_owned();
            let commit = git.revparse_single(&name).ok()?.peel_to_commit().ok()?;
            Some((short, commit.id()))
        })
        .collect();
    // GitHub lists tags newest name first.
    tags.sort_by(|a, b| b.0.cmp(&a.0));
    let items = tags
        .into_iter()
        .map(|(name, oid)| {
            json!({
                "name": name,
                "zipball_url": format!("{base}/repos/{full}/zipball/refs/tags/{name}"),
                "tarball_url": format!("{base}/repos/{full}/tarball/refs/tags/{name}"),
                "commit": {"sha": oid.to_string(), "url": format!("{base}/repos/{full}/commits/{oid}")},
                "node_id": format!("REF_{}", enc(&name)),
            })
        })
        .collect();
    paginate(base, repo, "tags", &query, items)
}

pub(super) async fn compare(State(world): S, UrlPath(params): P) -> Response {
    let world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let repo = &world.repos[&key];
    let Some((base_spec, head_spec)) = params["basehead"].split_once("...") else {
        return not_found();
    };
    let git = repo.git();
    let (Some(base_oid), Some(head_oid)) =
        (repo.bare.resolve(base_spec), repo.bare.resolve(head_spec))
    else {
        return error(
            StatusCode::NOT_FOUND,
            &format!(
                "No commit found for SHA: {}",
                if repo.bare.resolve(base_spec).is_none() {
                    base_spec
                } else {
                    head_spec
                }
            ),
        );
    };
    let ahead = only_in(&git, head_oid, base_oid);
    let behind = only_in(&git, base_oid, head_oid);
    let status = match (ahead.is_empty(), behind.is_empty()) {
        (true, true) => "identical",
        (false, true) => "ahead",
        (true, false) => "behind",
        (false, false) => "diverged",
    };
    let merge_base = git.merge_base(base_oid, head_oid).unwrap_or(base_oid);
    let base = &world.base;
    let web = web_root(base);
    let full = repo.full_name();
    let find = |oid: Oid| commit_json(base, repo, &git.find_commit(oid).expect("commit"));
    let commits: Vec<_> = ahead.iter().take(250).map(|oid| find(*oid)).collect();
    ok(&json!({
        "url": format!("{base}/repos/{full}/compare/{base_spec}...{head_spec}"),
        "html_url": format!("{web}/{full}/compare/{base_spec}...{head_spec}"),
        "permalink_url": format!("{web}/{full}/compare/{full}:{base_oid}...{full}:{head_oid}"),
        "diff_url": format!("{web}/{full}/compare/{base_spec}...{head_spec}.diff"),
        "patch_url": format!("{web}/{full}/compare/{base_spec}...{head_spec}.patch"),
        "base_commit": find(base_oid),
        "merge_base_commit": find(merge_base),
        "status": status,
        "ahead_by": ahead.len(),
        "behind_by": behind.len(),
        "total_commits": ahead.len(),
        "commits": commits,
        "files": []
    }))
}

/// Test controls: git data, changed behind the API's back as a `git push` would.
impl FakeGitHub {
    /// The bare repository behind `owner/name`, to change it as a push would.
    #[must_use]
    pub fn bare(&self, full_name: &str) -> BareRepo {
        self.with_repo(full_name, |repo| repo.bare.clone())
    }

    /// Adds a commit to `branch` (created at `main`'s tip when missing) directly in the bare
    /// repository and returns its SHA. Each commit writes its own file, so trees differ.
    pub fn commit(&self, full_name: &str, branch: &str, message: &str) -> String {
        let n = lock(&self.world).id();
        self.bare(full_name)
            .commit_file(branch, &format!("changes/{n}.txt"), message, message)
            .to_string()
    }

    /// Points `branch` at `sha` (created or moved anywhere), directly in the bare repository.
    pub fn set_branch(&self, full_name: &str, branch: &str, sha: &str) {
        let oid = Oid::from_str(sha).expect("a full SHA");
        self.bare(full_name).set_branch(branch, oid);
    }

    /// The tip of `branch`, read from the bare repository.
    #[must_use]
    pub fn branch_tip(&self, full_name: &str, branch: &str) -> Option<String> {
        self.bare(full_name).tip(branch).map(|oid| oid.to_string())
    }
}

/// The identity of tag objects made without a tagger.
fn signature(at: DateTime<Utc>) -> Signature<'static> {
    Signature::new(
        "Upkeep Test",
        "test@upkeep.invalid",
        &Time::new(at.timestamp(), 0),
    )
    .expect("signature")
}

/// Commits reachable from `head` and not from `base`, oldest first (GitHub's order).
pub(super) fn only_in(git: &Repository, head: Oid, base: Oid) -> Vec<Oid> {
    let mut walk = git.revwalk().expect("revwalk");
    walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::REVERSE)
        .expect("sorting");
    walk.push(head).expect("push");
    walk.hide(base).expect("hide");
    walk.filter_map(Result::ok).collect()
}

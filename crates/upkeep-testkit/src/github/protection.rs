//! Branch protection (classic rules): `GET`, `PUT` and `DELETE
//! /repos/{owner}/{repo}/branches/{branch}/protection` (admins only, as on GitHub), the
//! branch itself (`GET /repos/{owner}/{repo}/branches/{branch}` with its `protected` flag),
//! and the decision every write to a branch goes through: REST ref updates, GraphQL
//! `updateRefs` and pushes ([`super::push`]).
//!
//! The rules, as GitHub's "About protected branches" describes them:
//! - force pushes and deletions are blocked for everyone, administrators included, unless
//!   the rule allows them (`allow_force_pushes`, `allow_deletions`);
//! - everything else (a lock, push restrictions, required pull requests, required status
//!   checks) binds administrators only when the rule includes them (`enforce_admins`);
//! - a user listed in the push restrictions may push (teams and apps are not modelled:
//!   the token's account is in none); a user listed in `bypass_pull_request_allowances`
//!   may push without a pull request;
//! - a required status check is met by the commit's latest status of that context, or
//!   latest check run of that name, having succeeded.
//!
//! Refusals use GitHub's words ("Changes must be made through a pull request.").

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use git2::Oid;
use serde_json::{Value, json};

use super::http::{P, Routes, S, enc, error, not_found, ok, parse_body, repo_key, strings};
use super::json::{team_json, user_json, web_root};
use super::model::{Repo, Role, World, lock};
use super::push;
use super::repos::commit_json;

const ABOUT: &str = "https://docs.github.com/repositories/configuring-branches-and-merges-in-your-repository/managing-protected-branches/about-protected-branches";

pub(super) fn routes(r: &mut Routes) {
    let protection = "/repos/{owner}/{repo}/branches/{branch}/protection";
    r.get("/repos/{owner}/{repo}/branches/{branch}", get_branch)
        .get(protection, get_protection)
        .put(protection, put_protection)
        .delete(protection, delete_protection);
}

/// A stored rule (the body `PUT` answered with).
struct Rule<'a>(&'a Value);

impl Rule<'_> {
    fn flag(&self, key: &str) -> bool {
        self.0[key]["enabled"].as_bool().unwrap_or(false)
    }

    fn logins(list: &Value) -> Vec<&str> {
        list["users"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|u| u["login"].as_str())
            .collect()
    }

    fn contexts(&self) -> Vec<String> {
        strings(&self.0["required_status_checks"]["contexts"])
    }
}

/// The rule protecting `branch`, if any.
fn rule<'a>(repo: &'a Repo, branch: &str) -> Option<Rule<'a>> {
    repo.protection.get(branch).map(Rule)
}

/// Whether the token's account bypasses `rule` (everything but the force-push and deletion
/// blocks): an admin, unless the rule includes administrators.
fn bypasses(repo: &Repo, rule: &Rule<'_>) -> bool {
    repo.role == Role::Admin && !rule.flag("enforce_admins")
}

/// What `rule` refuses the token's account whatever the commit: a lock, push restrictions
/// it is not listed in, a required pull request it may not bypass.
pub(super) fn standing_refusals(world: &World, repo: &Repo, branch: &str) -> Vec<String> {
    let Some(rule) = rule(repo, branch) else {
        return Vec::new();
    };
    if bypasses(repo, &rule) {
        return Vec::new();
    }
    let login = world.login.as_str();
    let mut out = Vec::new();
    if rule.flag("lock_branch") {
        out.push("Cannot change this locked branch".to_owned());
    }
    let reviews = &rule.0["required_pull_request_reviews"];
    if reviews.is_object()
        && !Rule::logins(&reviews["bypass_pull_request_allowances"]).contains(&login)
    {
        out.push("Changes must be made through a pull request.".to_owned());
    }
    let restrictions = &rule.0["restrictions"];
    if restrictions.is_object() && !Rule::logins(restrictions).contains(&login) {
        out.push(format!(
            "You're not authorized to push to this branch. Visit {ABOUT} for more information."
        ));
    }
    out
}

/// The status check contexts the token's account must see succeed on a new tip of
/// `branch` (none when it bypasses the rule).
pub(super) fn required_checks(repo: &Repo, branch: &str) -> Vec<String> {
    match rule(repo, branch) {
        Some(rule) if !bypasses(repo, &rule) => rule.contexts(),
        _ => Vec::new(),
    }
}

/// Whether the latest status of `context` (or the latest check run of that name) on `sha`
/// succeeded.
pub(super) fn passed(repo: &Repo, sha: &str, context: &str) -> bool {
    let status = repo
        .statuses
        .iter()
        .rev()
        .find(|s| s.sha == sha && s.context == context)
        .map(|s| s.state == "success");
    let run = repo
        .check_runs
        .iter()
        .rev()
        .find(|r| r.sha == sha && r.name == context)
        .map(|r| {
            matches!(
                r.conclusion.as_deref(),
                Some("success" | "neutral" | "skipped")
            )
        });
    status.or(run).unwrap_or(false)
}

/// GitHub's sentence for required checks that are not met: one named, or "N of M".
pub(super) fn missing_checks(missing: &[String], required: usize) -> Option<String> {
    match missing {
        [] => None,
        [one] if required == 1 => Some(format!("Required status check \"{one}\" is expected.")),
        _ => Some(format!(
            "{} of {required} required status checks are expected.",
            missing.len()
        )),
    }
}

/// Whether `branch` may be deleted / force-moved (nobody may when the rule forbids it).
/// The rule protecting `branch` as GraphQL's `Ref.refUpdateRule` shows it to any reader,
/// `None` when the branch is not protected. `viewerCanPush` is what GitHub would let the
/// token's account do whatever the commit: its role allows pushing and nothing in the rule
/// stands in its way (required status checks depend on the commit, so they do not count).
pub(super) fn ref_update_rule(world: &World, repo: &Repo, branch: &str) -> Option<Value> {
    let rule = rule(repo, branch)?;
    let reviews = &rule.0["required_pull_request_reviews"];
    Some(json!({
        "pattern": branch,
        "viewerCanPush": repo.role >= Role::Write && standing_refusals(world, repo, branch).is_empty(),
        "requiredStatusCheckContexts": rule.contexts(),
        "allowsForcePushes": rule.flag("allow_force_pushes"),
        "allowsDeletions": rule.flag("allow_deletions"),
        "requiredApprovingReviewCount": reviews.is_object().then(|| reviews["required_approving_review_count"].as_u64().unwrap_or(0)),
        "requiresLinearHistory": rule.flag("required_linear_history"),
    }))
}

pub(super) fn allows_deletion(repo: &Repo, branch: &str) -> bool {
    rule(repo, branch).is_none_or(|r| r.flag("allow_deletions"))
}

pub(super) fn allows_force(repo: &Repo, branch: &str) -> bool {
    rule(repo, branch).is_none_or(|r| r.flag("allow_force_pushes"))
}

/// Everything GitHub would refuse the token's account for moving `refs/heads/branch` from
/// `old` to `new` (`None`: created / deleted), in its words; empty when allowed. Other refs
/// are never protected.
pub(super) fn refusals(
    world: &World,
    repo: &Repo,
    name: &str,
    old: Option<Oid>,
    new: Option<Oid>,
) -> Vec<String> {
    let Some(branch) = name.strip_prefix("refs/heads/") else {
        return Vec::new();
    };
    if rule(repo, branch).is_none() {
        return Vec::new();
    }
    let Some(new) = new else {
        return if allows_deletion(repo, branch) {
            Vec::new()
        } else {
            vec!["Cannot delete this protected branch".to_owned()]
        };
    };
    let mut out = Vec::new();
    if let Some(old) = old
        && !repo.bare.is_ancestor(old, new)
        && !allows_force(repo, branch)
    {
        out.push("Cannot force-push to this branch".to_owned());
    }
    out.extend(standing_refusals(world, repo, branch));
    let required = required_checks(repo, branch);
    let sha = new.to_string();
    let missing: Vec<String> = required
        .iter()
        .filter(|c| !passed(repo, &sha, c))
        .cloned()
        .collect();
    out.extend(missing_checks(&missing, required.len()));
    out
}

/// The refusals as one message, as the REST API puts them in `message`.
pub(super) fn message(refusals: &[String]) -> String {
    refusals.join("\n\n")
}

fn admin_only(world: &World, key: &str) -> Result<(), Response> {
    if world.repos[key].role == Role::Admin {
        Ok(())
    } else {
        Err(not_found())
    }
}

/// `GET /branches/{branch}`: the branch's commit, whether it is protected, and the part of
/// the rule every reader may see (required status checks).
async fn get_branch(State(world): S, UrlPath(params): P) -> Response {
    let world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let repo = &world.repos[&key];
    let name = &params["branch"];
    let Some(tip) = repo.bare.tip(name) else {
        return error(StatusCode::NOT_FOUND, "Branch not found");
    };
    let git = repo.git();
    let commit = git.find_commit(tip).expect("branch commit");
    let base = &world.base;
    let web = web_root(base);
    let full = repo.full_name();
    let url = format!("{base}/repos/{full}/branches/{}", enc(name));
    let protected = rule(repo, name);
    let contexts = protected.as_ref().map(Rule::contexts).unwrap_or_default();
    let enforcement = match &protected {
        None => "off",
        Some(_) if contexts.is_empty() => "off",
        Some(rule) if rule.flag("enforce_admins") => "everyone",
        Some(_) => "non_admins",
    };
    ok(&json!({
        "name": name,
        "commit": commit_json(base, repo, &commit),
        "_links": {"self": url, "html": format!("{web}/{full}/tree/{name}")},
        "protected": protected.is_some(),
        "protection": {
            "enabled": protected.is_some(),
            "required_status_checks": {
                "enforcement_level": enforcement,
                "contexts": contexts,
                "checks": contexts.iter().map(|c| json!({"context": c, "app_id": null})).collect::<Vec<_>>(),
            },
        },
        "protection_url": format!("{url}/protection"),
    }))
}

async fn get_protection(State(world): S, UrlPath(params): P) -> Response {
    let world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    if let Err(response) = admin_only(&world, &key) {
        return response;
    }
    world.repos[&key]
        .protection
        .get(&params["branch"])
        .map_or_else(|| error(StatusCode::NOT_FOUND, "Branch not protected"), ok)
}

/// The four keys GitHub requires in a `PUT` (each may be `null`).
const REQUIRED: [&str; 4] = [
    "enforce_admins",
    "required_pull_request_reviews",
    "required_status_checks",
    "restrictions",
];

async fn put_protection(State(world): S, UrlPath(params): P, body: Bytes) -> Response {
    let body = match parse_body(&body) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let mut world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    if let Err(response) = admin_only(&world, &key) {
        return response;
    }
    match protect(&mut world, &key, &params["branch"], &body) {
        Ok(rule) => ok(&rule),
        Err(response) => response,
    }
}

/// Protects `branch` of `key` with the rule `body` describes (a `PUT …/protection` body),
/// and returns the rule as GitHub shows it.
pub(super) fn protect(
    world: &mut World,
    key: &str,
    branch: &str,
    body: &Value,
) -> Result<Value, Response> {
    if world.repos[key].bare.tip(branch).is_none() {
        return Err(error(StatusCode::NOT_FOUND, "Branch not found"));
    }
    let absent: Vec<String> = REQUIRED
        .iter()
        .filter(|k| body.get(**k).is_none())
        .map(|k| format!("\"{k}\""))
        .collect();
    if !absent.is_empty() {
        let verb = if absent.len() == 1 {
            "wasn't"
        } else {
            "weren't"
        };
        return Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("Invalid request.\n\n{} {verb} supplied.", absent.join(", ")),
        ));
    }
    let url = format!("{}/repos/{key}/branches/{branch}/protection", world.base);
    let flag = |key: &str| json!({"enabled": body[key].as_bool().unwrap_or(false)});
    let mut out = json!({
        "url": url,
        "required_signatures": {"url": format!("{url}/required_signatures"), "enabled": false},
        "enforce_admins": {"url": format!("{url}/enforce_admins"), "enabled": body["enforce_admins"].as_bool().unwrap_or(false)},
        "required_linear_history": flag("required_linear_history"),
        "allow_force_pushes": flag("allow_force_pushes"),
        "allow_deletions": flag("allow_deletions"),
        "block_creations": flag("block_creations"),
        "required_conversation_resolution": flag("required_conversation_resolution"),
        "lock_branch": flag("lock_branch"),
        "allow_fork_syncing": flag("allow_fork_syncing"),
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
    let people = |value: &Value, url: Option<&str>| {
        let users: Vec<Value> = strings(&value["users"])
            .iter()
            .map(|u| user_json(&base, u))
            .collect();
        let teams: Vec<Value> = strings(&value["teams"])
            .iter()
            .map(|slug| team_json(&base, key, slug))
            .collect();
        let mut out = json!({"users": users, "teams": teams, "apps": []});
        if let Some(url) = url {
            out["url"] = json!(url);
            out["users_url"] = json!(format!("{url}/users"));
            out["teams_url"] = json!(format!("{url}/teams"));
        }
        out
    };
    if let Some(reviews) = body["required_pull_request_reviews"].as_object() {
        let mut r = Value::Object(reviews.clone());
        r["url"] = json!(format!("{url}/required_pull_request_reviews"));
        if r.get("required_approving_review_count").is_none() {
            r["required_approving_review_count"] = json!(1);
        }
        // GitHub shows both flags, `false` when the rule did not set them.
        for flag in ["dismiss_stale_reviews", "require_code_owner_reviews"] {
            if !r[flag].is_boolean() {
                r[flag] = json!(false);
            }
        }
        if let Some(dismissal) = reviews.get("dismissal_restrictions") {
            r["dismissal_restrictions"] =
                people(dismissal, Some(&format!("{url}/dismissal_restrictions")));
        }
        if let Some(bypass) = reviews.get("bypass_pull_request_allowances") {
            r["bypass_pull_request_allowances"] = people(bypass, None);
        }
        out["required_pull_request_reviews"] = r;
    }
    if body["restrictions"].is_object() {
        let mut r = people(&body["restrictions"], Some(&format!("{url}/restrictions")));
        r["apps_url"] = json!(format!("{url}/restrictions/apps"));
        out["restrictions"] = r;
    }
    let repo = world.repos.get_mut(key).expect("known");
    repo.protection.insert(branch.to_owned(), out.clone());
    push::sync(world, key);
    Ok(out)
}

async fn delete_protection(State(world): S, UrlPath(params): P) -> Response {
    let mut world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    if let Err(response) = admin_only(&world, &key) {
        return response;
    }
    let repo = world.repos.get_mut(&key).expect("known");
    if repo.protection.remove(&params["branch"]).is_some() {
        push::sync(&world, &key);
        StatusCode::NO_CONTENT.into_response()
    } else {
        error(StatusCode::NOT_FOUND, "Branch not protected")
    }
}

/// Test controls: branch protection set up as a repository admin would.
impl super::FakeGitHub {
    /// Protects `branch` of `owner/name` with `rule`, a body of GitHub's
    /// `PUT /repos/{owner}/{repo}/branches/{branch}/protection` (the four keys
    /// `required_status_checks`, `enforce_admins`, `required_pull_request_reviews` and
    /// `restrictions` are required, each may be `null`), whatever the token's role.
    /// Panics with GitHub's answer if it refuses the rule.
    pub fn protect_branch(&self, full_name: &str, branch: &str, rule: &Value) {
        let mut world = lock(&self.world);
        if let Err(response) = protect(&mut world, full_name, branch, rule) {
            panic!(
                "GitHub refuses this rule for {full_name} {branch}: {}",
                response.status()
            );
        }
    }

    /// Removes the protection of `branch`.
    pub fn unprotect_branch(&self, full_name: &str, branch: &str) {
        let mut world = lock(&self.world);
        let repo = world.repos.get_mut(full_name).expect("known repository");
        repo.protection.remove(branch);
        push::sync(&world, full_name);
    }
}

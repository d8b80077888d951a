//! JSON shapes several routes share: users, teams, repositories, labels, node ids and
//! timestamps, as GitHub writes them.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::http::enc;
use super::model::{Repo, Role, epoch};

/// Where pages live, given the API's base URL: GitHub Enterprise Server serves the REST
/// API under `/api/v3` and pages at the host's root (`https://HOST/owner/repo`); the fake
/// in github.com's layout serves both at its root.
pub(super) fn web_root(api: &str) -> &str {
    api.strip_suffix("/api/v3").unwrap_or(api)
}

pub(super) fn user_json(base: &str, login: &str) -> Value {
    let web = web_root(base);
    let id = login
        .bytes()
        .fold(5000_u64, |h, b| h * 31 % 1_000_000 + u64::from(b));
    json!({
        "login": login,
        "id": id,
        "node_id": format!("MDQ6VXNlcj{id}"),
        "avatar_url": format!("{web}/avatars/u/{id}?v=4"),
        "gravatar_id": "",
        "url": format!("{base}/users/{login}"),
        "html_url": format!("{web}/{login}"),
        "followers_url": format!("{base}/users/{login}/followers"),
        "following_url": format!("{base}/users/{login}/following{{/other_user}}"),
        "gists_url": format!("{base}/users/{login}/gists{{/gist_id}}"),
        "starred_url": format!("{base}/users/{login}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{base}/users/{login}/subscriptions"),
        "organizations_url": format!("{base}/users/{login}/orgs"),
        "repos_url": format!("{base}/users/{login}/repos"),
        "events_url": format!("{base}/users/{login}/events{{/privacy}}"),
        "received_events_url": format!("{base}/users/{login}/received_events"),
        "type": "User",
        "site_admin": false
    })
}

// One long literal of the fields GitHub sends; splitting it would only scatter them.
#[allow(clippy::too_many_lines)]
pub(super) fn repo_json(base: &str, repo: &Repo) -> Value {
    let web = web_root(base);
    let full = repo.full_name();
    let api = format!("{base}/repos/{full}");
    let mut owner = user_json(base, &repo.owner);
    if !repo.meta.user_owned {
        owner["type"] = json!("Organization");
    }
    let owner_org = owner.clone();
    let mut value = json!({
        "id": repo.id,
        "node_id": node_id("R_", repo.id),
        "name": repo.name,
        "full_name": full,
        "private": repo.meta.private,
        "owner": owner,
        "html_url": format!("{web}/{full}"),
        "description": null,
        "fork": repo.meta.fork,
        "url": api,
        "forks_url": format!("{api}/forks"),
        "keys_url": format!("{api}/keys{{/key_id}}"),
        "collaborators_url": format!("{api}/collaborators{{/collaborator}}"),
        "teams_url": format!("{api}/teams"),
        "hooks_url": format!("{api}/hooks"),
        "issue_events_url": format!("{api}/issues/events{{/number}}"),
        "events_url": format!("{api}/events"),
    });
    let urls = json!({
        "assignees_url": format!("{api}/assignees{{/user}}"),
        "branches_url": format!("{api}/branches{{/branch}}"),
        "tags_url": format!("{api}/tags"),
        "blobs_url": format!("{api}/git/blobs{{/sha}}"),
        "git_tags_url": format!("{api}/git/tags{{/sha}}"),
        "git_refs_url": format!("{api}/git/refs{{/sha}}"),
        "trees_url": format!("{api}/git/trees{{/sha}}"),
        "statuses_url": format!("{api}/statuses/{{sha}}"),
        "languages_url": format!("{api}/languages"),
        "stargazers_url": format!("{api}/stargazers"),
        "contributors_url": format!("{api}/contributors"),
        "subscribers_url": format!("{api}/subscribers"),
        "subscription_url": format!("{api}/subscription"),
        "commits_url": format!("{api}/commits{{/sha}}"),
        "git_commits_url": format!("{api}/git/commits{{/sha}}"),
        "comments_url": format!("{api}/comments{{/number}}"),
        "issue_comment_url": format!("{api}/issues/comments{{/number}}"),
        "contents_url": format!("{api}/contents/{{+path}}"),
        "compare_url": format!("{api}/compare/{{base}}...{{head}}"),
        "merges_url": format!("{api}/merges"),
        "archive_url": format!("{api}/{{archive_format}}{{/ref}}"),
        "downloads_url": format!("{api}/downloads"),
        "issues_url": format!("{api}/issues{{/number}}"),
        "pulls_url": format!("{api}/pulls{{/number}}"),
        "milestones_url": format!("{api}/milestones{{/number}}"),
        "notifications_url": format!("{api}/notifications{{?since,all,participating}}"),
        "labels_url": format!("{api}/labels{{/name}}"),
        "releases_url": format!("{api}/releases{{/id}}"),
        "deployments_url": format!("{api}/deployments"),
    });
    let more = json!({
        "created_at": ts(epoch()),
        "updated_at": ts(epoch()),
        "pushed_at": ts(epoch()),
        "git_url": format!("git://fake/{full}.git"),
        "ssh_url": format!("git@fake:{full}.git"),
        "clone_url": format!("{web}/{full}.git"),
        "svn_url": format!("{web}/{full}"),
        "homepage": null,
        "size": u32::from(!repo.meta.empty),
        "stargazers_count": 0,
        "watchers_count": 0,
        "language": null,
        "has_issues": true,
        "has_projects": true,
        "has_downloads": true,
        "has_wiki": true,
        "has_pages": false,
        "has_discussions": false,
        "forks_count": 0,
        "mirror_url": null,
        "archived": repo.meta.archived,
        "disabled": false,
        "open_issues_count": repo.issues.iter().filter(|i| i.state == "open").count(),
        "license": null,
        "allow_forking": true,
        "is_template": false,
        "web_commit_signoff_required": false,
        "topics": repo.meta.topics,
        "visibility": if repo.meta.private { "private" } else { "public" },
        "forks": 0,
        "open_issues": repo.issues.iter().filter(|i| i.state == "open").count(),
        "watchers": 0,
        "default_branch": "main",
        "permissions": {
            "admin": repo.role >= Role::Admin,
            "maintain": repo.role >= Role::Maintain,
            "push": repo.role >= Role::Write,
            "triage": repo.role >= Role::Triage,
            "pull": true,
        },
        "network_count": 0,
        "subscribers_count": 0,
    });
    let settings = json!({
        "allow_squash_merge": true,
        "allow_merge_commit": true,
        "allow_rebase_merge": true,
        "allow_auto_merge": false,
        "allow_update_branch": false,
        "delete_branch_on_merge": false,
        "use_squash_pr_title_as_default": false,
        "temp_clone_token": "",
        "organization": owner_org,
    });
    for part in [urls, more, settings] {
        if let (Some(first), Value::Object(part)) = (value.as_object_mut(), part) {
            first.extend(part);
        }
    }
    // Only an organisation's repository names its organisation.
    if let (true, Some(map)) = (repo.meta.user_owned, value.as_object_mut()) {
        map.remove("organization");
    }
    value
}

pub(super) fn node_id(prefix: &str, id: u64) -> String {
    format!("{prefix}kgDO{id:08}")
}

pub(super) fn ts(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub(super) fn team_json(base: &str, full_name: &str, slug: &str) -> Value {
    let web = web_root(base);
    let org = full_name.split('/').next().unwrap_or_default();
    let id = slug
        .bytes()
        .fold(7000_u64, |h, b| h * 31 % 1_000_000 + u64::from(b));
    json!({
        "name": slug,
        "id": id,
        "node_id": node_id("T_", id),
        "slug": slug,
        "description": null,
        "privacy": "closed",
        "notification_setting": "notifications_enabled",
        "url": format!("{base}/orgs/{org}/teams/{slug}"),
        "html_url": format!("{web}/orgs/{org}/teams/{slug}"),
        "members_url": format!("{base}/orgs/{org}/teams/{slug}/members{{/member}}"),
        "repositories_url": format!("{base}/orgs/{org}/teams/{slug}/repos"),
        "permission": "pull",
        "parent": null
    })
}

pub(super) fn label_json(base: &str, repo: &Repo, name: &str) -> Value {
    let label = repo.labels.get(name);
    json!({
        "id": label.map_or(1, |l| l.id),
        "node_id": node_id("LA_", label.map_or(1, |l| l.id)),
        "url": format!("{base}/repos/{}/labels/{}", repo.full_name(), enc(name)),
        "name": name,
        "color": label.map_or("ededed", |l| l.color.as_str()),
        "default": false,
        "description": label.and_then(|l| l.description.clone()),
    })
}

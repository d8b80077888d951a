//! Groups as the fake has them: a group is every namespace prefix of a project's path
//! (`team` and `team/services` for `team/services/api`). `GET /groups/:id/projects` lists
//! a group's projects like GitLab: `include_subgroups`, `archived` and `topic` filters,
//! `per_page` up to 100 with `x-next-page`/`Link` pagination, and each project with
//! `topics`, `archived`, `empty_repo` and (forks only) `forked_from_project`.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::{FakeGitLab, Shared, lock, message, paged};

impl FakeGitLab {
    /// Sets the topics of project `path`.
    pub fn set_topics(&self, path: &str, topics: &[&str]) {
        let mut w = lock(&self.world);
        let p = w.project_mut(path).expect("project exists");
        p.topics = topics.iter().map(|t| (*t).to_owned()).collect();
    }

    /// Archives (or unarchives) project `path`.
    pub fn set_archived(&self, path: &str, archived: bool) {
        let mut w = lock(&self.world);
        w.project_mut(path).expect("project exists").archived = archived;
    }

    /// Marks project `path` as a fork of project `parent`.
    pub fn set_forked_from(&self, path: &str, parent: &str) {
        let mut w = lock(&self.world);
        let parent = w.project(parent).expect("parent exists").id;
        w.project_mut(path).expect("project exists").forked_from = Some(parent);
    }

    /// Creates project `path` without any commit (`empty_repo: true`). Returns its id.
    pub fn create_empty_project(&self, path: &str) -> u64 {
        let id = self.create_project(path);
        let bare = self.bare(path);
        for (branch, _) in bare.branches() {
            bare.delete_branch(&branch);
        }
        id
    }
}

/// `GET /groups/:id/projects` (`:id` is the URL-encoded full path or a number the fake
/// does not hand out: groups have no ids here, so only paths are found).
pub(super) async fn projects(
    State(world): State<Shared>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let w = lock(&world);
    let prefix = format!("{id}/");
    let namespace = |path: &str| path.rsplit_once('/').map_or("", |(ns, _)| ns).to_owned();
    if !w.projects.iter().any(|p| p.path.starts_with(&prefix)) {
        return message(StatusCode::NOT_FOUND, "404 Group Not Found");
    }
    let subgroups = q.get("include_subgroups").is_some_and(|v| v == "true");
    let archived = q.get("archived").map(|v| v == "true");
    let topic = q.get("topic");
    // GitLab's default order: `created_at`, newest first (ids grow with creation here).
    let mut items: Vec<&super::Project> = w
        .projects
        .iter()
        .filter(|p| {
            if subgroups {
                p.path.starts_with(&prefix)
            } else {
                namespace(&p.path) == id
            }
        })
        .filter(|p| archived.is_none_or(|a| p.archived == a))
        .filter(|p| topic.is_none_or(|t| p.topics.iter().any(|x| x == t)))
        .collect();
    items.sort_by_key(|p| std::cmp::Reverse(p.id));
    let values = items.into_iter().map(|p| w.project_json(p)).collect();
    let path = format!("/api/v4/groups/{}/projects", id.replace('/', "%2F"));
    paged(values, &q, &w.base_url, &path)
}

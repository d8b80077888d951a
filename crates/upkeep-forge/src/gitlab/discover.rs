//! [`Discover`] for GitLab: a group's projects (with its subgroups') through
//! `GET /groups/:id/projects`, every page, and files read through the scratch clone.

use async_trait::async_trait;
use gitlab::api;
use serde::Deserialize;

use super::{GitLab, KIND, builder_error};
use crate::discover::{Discover, ListScope, ListedRepo, Listing, wrong_scope};
use crate::{ForgeKind, RepoId, Result};

/// The fields of a listed project that discovery reads.
#[derive(Debug, Deserialize)]
struct ListedProject {
    path_with_namespace: String,
    path: String,
    http_url_to_repo: String,
    web_url: Option<String>,
    default_branch: Option<String>,
    /// Since GitLab 14.0; `tag_list` before (and deprecated since).
    #[serde(default)]
    topics: Option<Vec<String>>,
    #[serde(default)]
    tag_list: Option<Vec<String>>,
    #[serde(default)]
    archived: bool,
    /// Present on forks only.
    #[serde(default)]
    forked_from_project: Option<serde_json::Value>,
    /// Absent on old GitLab versions: such a project counts as not empty.
    #[serde(default)]
    empty_repo: bool,
}

#[async_trait]
impl Discover for GitLab {
    fn discover_kind(&self) -> ForgeKind {
        KIND
    }

    async fn list_repos(&self, scope: &ListScope) -> Result<Listing> {
        let ListScope::GitLabGroup { group, subgroups } = scope else {
            return Err(wrong_scope(KIND, scope));
        };
        // Projects *shared* with the group from elsewhere are not its own.
        let ep = api::groups::projects::GroupProjects::builder()
            .group(group.as_str())
            .include_subgroups(*subgroups)
            .with_shared(false)
            .build()
            .map_err(|e| builder_error("listing a group's projects", &e))?;
        let pages = std::sync::atomic::AtomicU32::new(0);
        let projects: Vec<ListedProject> = self
            .get_all_counted(
                &RepoId::new(group.clone()),
                &format!("listing the projects of group {group}"),
                &format!("group {group}"),
                &ep,
                &pages,
            )
            .await?;
        let mut listing = Listing {
            pages: pages.into_inner(),
            ..Listing::default()
        };
        for p in projects {
            let clone_url = match &self.inner.clone_url_template {
                Some(t) => t.replace("{path}", &p.path_with_namespace),
                None => p.http_url_to_repo.clone(),
            };
            listing.repos.push(ListedRepo {
                id: RepoId::new(p.path_with_namespace.clone()),
                name: p.path,
                path: p.path_with_namespace,
                clone_url,
                web_url: p.web_url,
                // An empty project reports a default branch it does not have yet.
                default_branch: p.default_branch.filter(|_| !p.empty_repo),
                topics: p.topics.or(p.tag_list).unwrap_or_default(),
                archived: p.archived,
                fork: p.forked_from_project.is_some_and(|v| !v.is_null()),
                empty: p.empty_repo,
            });
        }
        Ok(listing)
    }

    async fn read_file(&self, repo: &RepoId, branch: &str, path: &str) -> Result<Option<Vec<u8>>> {
        let (branch, path) = (branch.to_owned(), path.to_owned());
        self.with_remote(repo, move |remote| remote.read_file(&branch, &path))
            .await
    }
}

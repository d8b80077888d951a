//! Finding repositories: list what an organisation, a user, a group or a directory holds,
//! and read a file of a repository at a branch, without cloning it.
//!
//! The maintenance round's discovery rules (`[[maintain.discover]]`) list repositories
//! here, filter them by topic, name, archived, fork and empty, and read each one's
//! `.upkeep.toml` and `Makefile` for `maintain projects` and `maintain doctor`. Each
//! adapter implements [`Discover`] with its service's own listing and pagination:
//!
//! | adapter | listing | pages |
//! |---|---|---|
//! | GitHub | `GET /orgs/{org}/repos?type=all`; a user's: `GET /user/repos?affiliation=owner` for the token's own account, else `GET /users/{user}/repos` (public only) | 100 per page, `Link: rel="next"` |
//! | GitLab | `GET /groups/:id/projects?include_subgroups=true&with_shared=false` | 100 per page, `x-next-page` |
//! | local | the bare repositories directly inside a directory | — |
//!
//! Quirks normalised here: GitHub says a repository is empty by `size: 0` (and names a
//! default branch it does not have yet, which is dropped), lists a user's private
//! repositories to that user's own token only (and through another endpoint), and answers
//! 404 for an organisation the token may not see as for one that does not exist. GitLab's forks carry `forked_from_project` (present on forks
//! only), an empty project says `empty_repo` (and still names a default branch, which is
//! dropped), a group lists projects *shared* with it unless told not to
//! (`with_shared=false`), and topics are `topics` or, before 14.0, `tag_list`. A bare
//! repository keeps its topics and flags in its git config (see the local adapter).

use std::path::PathBuf;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{ForgeKind, RepoId, Result};

/// Where to list repositories.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ListScope {
    /// Every repository of a GitHub organisation the token can see.
    GitHubOrg {
        /// The organisation's login.
        org: String,
    },
    /// The repositories a GitHub user owns.
    GitHubUser {
        /// The user's login.
        user: String,
    },
    /// The projects of a GitLab group (by full path), optionally with its subgroups'.
    GitLabGroup {
        /// The group's full path (`team/services`).
        group: String,
        /// Whether projects of subgroups are listed too.
        subgroups: bool,
    },
    /// The bare repositories directly inside a directory (local forge).
    Directory {
        /// The directory.
        path: PathBuf,
    },
}

impl std::fmt::Display for ListScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::GitHubOrg { org } => write!(f, "GitHub organisation {org}"),
            Self::GitHubUser { user } => write!(f, "GitHub user {user}"),
            Self::GitLabGroup { group, .. } => write!(f, "GitLab group {group}"),
            Self::Directory { path } => write!(f, "directory {}", path.display()),
        }
    }
}

/// One repository as a listing shows it, in the same shape on every forge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedRepo {
    /// Its id on the forge: `owner/name` (GitHub), `group/subgroup/name` (GitLab), the
    /// absolute path of the bare repository (local).
    pub id: RepoId,
    /// The path used for globs and clone URL templates: `owner/name`,
    /// `group/subgroup/name`, or for a directory the repository's name.
    pub path: String,
    /// The repository's name (last path segment, without `.git`).
    pub name: String,
    /// What git clones: the forge's https URL, or the local path.
    pub clone_url: String,
    /// Where people look at it, when the forge says.
    pub web_url: Option<String>,
    /// Its default branch, when it has one.
    pub default_branch: Option<String>,
    /// Its topics, as the forge spells them.
    pub topics: Vec<String>,
    /// Archived (read-only).
    pub archived: bool,
    /// A fork of another repository.
    pub fork: bool,
    /// Without any commit.
    pub empty: bool,
}

/// What a listing found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// The repositories, in the forge's order.
    pub repos: Vec<ListedRepo>,
    /// Things worth telling (a token that can see public repositories only, …).
    pub warnings: Vec<String>,
    /// How many pages (requests) the listing took.
    pub pages: u32,
}

/// Listing repositories and reading files of one, without a clone. Object safe.
#[async_trait]
pub trait Discover: Send + Sync {
    /// Which kind of forge this is.
    fn discover_kind(&self) -> ForgeKind;

    /// Every repository in `scope` that the credentials can see, across all pages. A
    /// scope this adapter does not serve is [`ForgeError::Setup`](crate::ForgeError::Setup);
    /// an organisation, user or group that does not exist (or is hidden from the token)
    /// is [`ForgeError::NotFound`](crate::ForgeError::NotFound); a token that may not
    /// list is [`ForgeError::Forbidden`](crate::ForgeError::Forbidden) naming the scope
    /// it needs.
    async fn list_repos(&self, scope: &ListScope) -> Result<Listing>;

    /// The bytes of `path` on `branch` of `repo`, `None` when the branch has no such file.
    /// A missing repository or branch is [`ForgeError::NotFound`](crate::ForgeError::NotFound).
    async fn read_file(&self, repo: &RepoId, branch: &str, path: &str) -> Result<Option<Vec<u8>>>;
}

/// The scope an adapter was given but does not serve.
pub(crate) fn wrong_scope(forge: ForgeKind, scope: &ListScope) -> crate::ForgeError {
    crate::ForgeError::Setup {
        forge,
        message: format!("the {forge} adapter cannot list {scope}"),
    }
}

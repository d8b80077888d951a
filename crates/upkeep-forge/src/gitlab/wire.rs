//! The parts of GitLab's v4 JSON that the adapter reads. Every field that GitLab has
//! added over the years (or that older and self-hosted versions omit) is optional.

use serde::Deserialize;

/// `GET /projects/:id`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Project {
    pub(crate) id: u64,
    pub(crate) path_with_namespace: String,
    pub(crate) http_url_to_repo: String,
}

/// `GET /projects/:id` again, for what the token's user may do there.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ProjectAccess {
    #[serde(default)]
    pub(crate) permissions: Option<Permissions>,
}

/// A project's `permissions`: the user's own membership and the one through the
/// project's group; either is `null` when there is none.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Permissions {
    #[serde(default)]
    pub(crate) project_access: Option<MemberAccess>,
    #[serde(default)]
    pub(crate) group_access: Option<MemberAccess>,
}

/// One membership's access level (10 Guest, 20 Reporter, 30 Developer, 40 Maintainer,
/// 50 Owner).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct MemberAccess {
    pub(crate) access_level: u32,
}

/// A user as embedded in other objects, and `GET /users?username=`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct User {
    pub(crate) id: u64,
    pub(crate) username: String,
}

/// A merge request.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct MergeRequest {
    /// The project-scoped number people use (`!12`); `id` is global and never shown.
    pub(crate) iid: u64,
    pub(crate) title: String,
    #[serde(default)]
    pub(crate) description: Option<String>,
    /// `opened`, `closed`, `locked` or `merged`.
    pub(crate) state: String,
    pub(crate) source_branch: String,
    pub(crate) target_branch: String,
    #[serde(default)]
    pub(crate) labels: Vec<String>,
    /// GitLab ≥ 14; `work_in_progress` before.
    #[serde(default)]
    pub(crate) draft: Option<bool>,
    #[serde(default)]
    pub(crate) work_in_progress: Option<bool>,
    #[serde(default)]
    pub(crate) sha: Option<String>,
    #[serde(default)]
    pub(crate) merge_commit_sha: Option<String>,
    #[serde(default)]
    pub(crate) squash_commit_sha: Option<String>,
    pub(crate) web_url: String,
    #[serde(default)]
    pub(crate) assignees: Vec<User>,
    #[serde(default)]
    pub(crate) reviewers: Vec<User>,
    /// GitLab ≥ 15.6; `requested_changes` in GitLab ≥ 17.
    #[serde(default)]
    pub(crate) detailed_merge_status: Option<String>,
}

/// `GET /projects/:id/merge_requests/:iid/approvals`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Approvals {
    #[serde(default)]
    pub(crate) approved_by: Vec<ApprovedBy>,
    #[serde(default)]
    pub(crate) approvals_left: Option<u64>,
}

/// One entry of `approved_by`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ApprovedBy {
    pub(crate) user: User,
}

/// A commit as branches, tags and compare embed it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Commit {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) title: String,
    #[serde(default)]
    pub(crate) author_name: String,
    #[serde(default)]
    pub(crate) authored_date: Option<String>,
    /// The parents' SHAs (first parent first).
    #[serde(default)]
    pub(crate) parent_ids: Vec<String>,
}

/// `GET /projects/:id/repository/branches/:branch`: the tip, and what GitLab says about
/// pushing to the branch.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Branch {
    pub(crate) commit: Commit,
    /// `<project web_url>/-/tree/<branch>` (`project_tree_url`).
    #[serde(default)]
    pub(crate) web_url: Option<String>,
    #[serde(flatten)]
    pub(crate) protection: BranchProtection,
}

/// `GET /projects/:id/repository/compare` (`lib/api/entities/compare.rb`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Compare {
    /// `compare.commits.last`: the `to` commit when `commits` is not empty, else `null`.
    #[serde(default)]
    pub(crate) commit: Option<Commit>,
    /// The commits of `to` that `from` lacks, oldest first (`git log --reverse from..to`);
    /// empty when `to` is contained in `from`.
    #[serde(default)]
    pub(crate) commits: Vec<Commit>,
    /// `compare_same_ref`: `from` and `to` are the same commit.
    #[serde(default, rename = "compare_same_ref")]
    pub(crate) same: Option<bool>,
}

/// `GET /projects/:id/repository/tags`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Tag {
    pub(crate) name: String,
    /// The annotation; empty or absent for a lightweight tag.
    #[serde(default)]
    pub(crate) message: Option<String>,
    /// The commit the tag names (peeled), absent for tags of non-commits.
    #[serde(default)]
    pub(crate) commit: Option<Commit>,
}

/// `GET /projects/:id/repository/commits/:sha/statuses`: every job of every pipeline of
/// the commit, and the external statuses (which GitLab keeps as jobs of a pipeline too).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct CommitStatus {
    pub(crate) id: u64,
    pub(crate) name: String,
    pub(crate) status: String,
    #[serde(default)]
    pub(crate) target_url: Option<String>,
    #[serde(default)]
    pub(crate) allow_failure: bool,
}

/// `GET /projects/:id/repository/branches/:branch`, for protection.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct BranchProtection {
    #[serde(default)]
    pub(crate) protected: bool,
    #[serde(default)]
    pub(crate) developers_can_push: bool,
    /// Whether the token's user may push to the branch (GitLab ≥ 10.x computes it with
    /// the protection rules and the user's role).
    #[serde(default)]
    pub(crate) can_push: Option<bool>,
}

/// `GET /projects/:id/protected_branches` (Maintainer and up).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ProtectedBranch {
    /// A branch name or a wildcard (`release/*`).
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) push_access_levels: Vec<PushAccess>,
    #[serde(default)]
    pub(crate) allow_force_push: bool,
}

/// One entry of a rule's `push_access_levels`: a role level, or (Premium) a user, group or
/// deploy key.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PushAccess {
    #[serde(default)]
    pub(crate) access_level: Option<u32>,
    #[serde(default)]
    pub(crate) user_id: Option<u64>,
    #[serde(default)]
    pub(crate) group_id: Option<u64>,
    #[serde(default)]
    pub(crate) deploy_key_id: Option<u64>,
}

/// `GET /projects/:id/merge_requests/:iid/reviewers` (GitLab ≥ 15.3, every tier).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Reviewer {
    pub(crate) user: User,
    /// `unreviewed`, `review_started`, `reviewed`, `requested_changes` (GitLab ≥ 16.9),
    /// `approved`, `unapproved`.
    #[serde(default)]
    pub(crate) state: Option<String>,
}

/// The GraphQL answer about a merge request's people limits.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct GraphQlPeople {
    #[serde(default)]
    pub(crate) data: Option<GraphQlData>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct GraphQlData {
    #[serde(default)]
    pub(crate) project: Option<GraphQlProject>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct GraphQlProject {
    #[serde(default, rename = "mergeRequest")]
    pub(crate) merge_request: Option<GraphQlMergeRequest>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct GraphQlMergeRequest {
    #[serde(rename = "allowsMultipleReviewers")]
    pub(crate) allows_multiple_reviewers: bool,
    #[serde(rename = "allowsMultipleAssignees")]
    pub(crate) allows_multiple_assignees: bool,
}

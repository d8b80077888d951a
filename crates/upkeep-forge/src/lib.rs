//! One `Forge` trait over GitHub, GitLab and plain git remotes.
//!
//! The maintenance round opens change requests and the stable-branch promotion reads CI
//! results and moves branches. Both talk to a [`Forge`] so that no caller ever branches on
//! which forge a repository lives on. Each adapter normalises its service's quirks (GitLab's
//! `iid` vs `id` and `opened` vs `open`, GitHub's combined status saying `pending` when a
//! commit has no statuses at all) into the neutral types of [`types`].
//!
//! Adapters, one per cargo feature:
//! - `github`: octocrab, REST plus the GraphQL `updateRefs` mutation for compare-and-swap
//!   branch moves;
//! - `gitlab`: the `gitlab` crate; branch moves go through a git push with an expected old
//!   tip because GitLab has no ref-update API;
//! - `local`: plain git remotes through `upkeep-git`, change requests recorded as JSON files,
//!   so the embedded default and dry-runs show exactly what would be opened.
//!
//! Errors are normalised into [`ForgeError`]; transient ones (5xx, 429, secondary rate
//! limits, dropped connections) are retried by [`retry`] with backoff, jitter and the
//! server's `Retry-After` / `x-ratelimit-reset`, under a per-host concurrency cap.

//! # Opening a pull request on GitHub in ten lines
//!
//! ```no_run
//! # #[cfg(feature = "github")] mod example {
//! use secrecy::SecretString;
//! use upkeep_forge::github::GitHub;
//! use upkeep_forge::retry::RetryPolicy;
//! use upkeep_forge::{ChangeRequestSpec, Forge, RepoId};
//!
//! # async fn demo(token: SecretString) -> upkeep_forge::Result<()> {
//! // GitHub Enterprise: "https://github.example.com/api/v3".
//! let github = GitHub::new("https://api.github.com", token, RetryPolicy::default())?;
//! let spec = ChangeRequestSpec { head: "feature/bump".into(), base: "main".into(), title: "Bump deps".into(), ..Default::default() };
//! let opened = github.upsert_change_request(&RepoId::new("acme/api"), &spec).await?;
//! println!("{} #{} ({:?})", opened.change_request.url, opened.change_request.number, opened.action);
//! # Ok(()) }
//! # }
//! ```
//!
//! # Opening a merge request on GitLab in ten lines
//!
//! ```no_run
//! # #[cfg(feature = "gitlab")] mod example {
//! use secrecy::SecretString;
//! use upkeep_forge::gitlab::{GitLab, GitLabOptions};
//! use upkeep_forge::{ChangeRequestSpec, Forge, RepoId};
//!
//! # async fn demo(token: SecretString) -> upkeep_forge::Result<()> {
//! let gitlab = GitLab::connect(GitLabOptions::new("https://gitlab.example.com", token, "/tmp/upkeep")).await?;
//! let spec = ChangeRequestSpec { head: "feature/bump".into(), base: "main".into(), title: "Bump deps".into(), ..Default::default() };
//! let opened = gitlab.upsert_change_request(&RepoId::new("team/services/api"), &spec).await?;
//! println!("{} !{}", opened.change_request.url, opened.change_request.number);
//! # Ok(()) }
//! # }
//! ```
//!
//! The local forge needs no service at all: `upkeep_forge::local::LocalForge::new(work_dir)`
//! takes the same calls with a bare repository's path as the [`RepoId`], and records the
//! change request as a JSON file next to it.

pub mod discover;
pub mod error;
pub mod promotion;
pub mod retry;
pub mod types;

#[cfg(feature = "github")]
pub mod github;
#[cfg(feature = "gitlab")]
pub mod gitlab;
#[cfg(feature = "local")]
pub mod local;

#[cfg(any(feature = "gitlab", feature = "local"))]
mod git_remote;

#[cfg(feature = "config")]
pub mod connect;

pub use discover::{Discover, ListScope, ListedRepo, Listing};
pub use error::{ForgeError, Result};
pub use promotion::PromotionReads;
pub use types::*;

use async_trait::async_trait;

/// What every forge can do for upkeep. Object safe: callers hold `Arc<dyn Forge>`.
///
/// SHAs are full 40-hex strings. Branch names are short names (`main`, not
/// `refs/heads/main`).
#[async_trait]
pub trait Forge: Send + Sync {
    /// Which kind of forge this is (for messages and hints only; never branch on it).
    fn kind(&self) -> ForgeKind;

    /// The open change request whose head is `head` (a branch of the same repository),
    /// if there is one.
    async fn find_open_change_request(
        &self,
        repo: &RepoId,
        head: &str,
    ) -> Result<Option<ChangeRequest>>;

    /// Opens a change request for `spec.head`, or updates the open one with the same head
    /// (title, body, labels, reviewers, assignees), so that re-running never duplicates.
    async fn upsert_change_request(
        &self,
        repo: &RepoId,
        spec: &ChangeRequestSpec,
    ) -> Result<Upserted>;

    /// A change request by its number (GitHub `number`, GitLab `iid`), with its review
    /// state and approvers.
    async fn change_request(&self, repo: &RepoId, number: u64) -> Result<ChangeRequest>;

    /// The tip of `branch`, or `None` when the branch does not exist.
    async fn branch_tip(&self, repo: &RepoId, branch: &str) -> Result<Option<String>>;

    /// How `head` relates to `base`: commits in `head` not in `base` (newest first) and
    /// the ahead/behind counts.
    async fn compare(&self, repo: &RepoId, base: &str, head: &str) -> Result<Comparison>;

    /// Moves `request.branch` from `request.expected_old` to `request.new`, atomically
    /// refusing when the branch is no longer at `expected_old` ([`ForgeError::BranchMoved`])
    /// and, unless `request.allow_backwards`, when the move is not a fast-forward
    /// ([`ForgeError::NotFastForward`]).
    async fn move_branch(&self, repo: &RepoId, request: &BranchMove) -> Result<()>;

    /// All tags, each peeled to the commit it names.
    async fn tags(&self, repo: &RepoId) -> Result<Vec<Tag>>;

    /// Creates a tag on `sha` (annotated when `message` is given).
    async fn create_tag(
        &self,
        repo: &RepoId,
        name: &str,
        sha: &str,
        message: Option<&str>,
    ) -> Result<()>;

    /// What the token may do on `repo` (push, open change requests), read from the
    /// forge's own answer about the repository: one request, nothing is written. Unknowns
    /// are `None` (see [`Access`]); a repository the token cannot see at all is
    /// [`ForgeError::NotFound`].
    async fn access(&self, repo: &RepoId) -> Result<Access>;

    /// Whether `branch` is protected on `repo` and whether the token's user may move it
    /// anyway, from the forge's own protection rules and the user's role: nothing is
    /// written. A forge that cannot tell without trying answers
    /// [`BranchAccess::unknown`] (the default).
    async fn branch_access(&self, repo: &RepoId, branch: &str) -> Result<BranchAccess> {
        Ok(BranchAccess::unknown(
            branch,
            format!(
                "{} does not say whether {repo} protects `{branch}`",
                self.kind()
            ),
        ))
    }

    /// The tips of `source` and `target` (and, where the forge answers it in the same
    /// request, how they compare), read once for a promotion plan. The default reads the
    /// two tips with [`Forge::branch_tip`], one request each, and leaves the comparison to
    /// the caller; adapters that can read everything in one request override it.
    async fn promotion_reads(
        &self,
        repo: &RepoId,
        source: &str,
        target: &str,
    ) -> Result<PromotionReads> {
        Ok(PromotionReads {
            source_tip: self.branch_tip(repo, source).await?,
            target_tip: self.branch_tip(repo, target).await?,
            comparison: None,
            target_access: None,
        })
    }

    /// The CI verdict for a commit, merging every signal the forge has (GitHub: commit
    /// statuses and check runs; GitLab: pipelines and commit statuses). No signal at all
    /// is [`Verdict::Missing`], never success.
    async fn ci_verdict(&self, repo: &RepoId, sha: &str) -> Result<CiVerdict>;
}

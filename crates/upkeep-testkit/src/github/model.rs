//! What the fake GitHub knows: repositories (git data in real bare repositories, the rest
//! in memory), their issues and pull requests, statuses, check runs, labels and branch
//! protection, and the token's account.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Duration as ChronoDuration, TimeZone as _, Utc};
use git2::Repository;
use serde_json::Value;

use crate::bare::BareRepo;
use crate::git::Clock;

/// A pull request as the fake holds it, for tests to inspect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakePull {
    /// Number (shared with issues, like GitHub).
    pub number: u64,
    /// Title.
    pub title: String,
    /// Body.
    pub body: Option<String>,
    /// Head branch.
    pub head: String,
    /// Base branch.
    pub base: String,
    /// `open` or `closed`.
    pub state: String,
    /// Draft flag.
    pub draft: bool,
    /// Whether it was merged.
    pub merged: bool,
    /// Label names.
    pub labels: Vec<String>,
    /// Assignee logins.
    pub assignees: Vec<String>,
    /// Logins whose review is requested.
    pub requested_reviewers: Vec<String>,
}

/// Whether the GraphQL `updateRefs` mutation exists. GitHub documented it as a schema
/// preview (media type `application/vnd.github.update-refs-preview+json`, GitHub Enterprise
/// Server up to 3.12) before it joined the public schema; an instance without it answers
/// GraphQL's `undefinedField` error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UpdateRefs {
    /// Part of the schema (api.github.com, recent Enterprise servers).
    #[default]
    Available,
    /// Only for requests that ask for the preview in `Accept`.
    PreviewOnly,
    /// Not there at all (an older Enterprise server).
    Absent,
}

/// A role on a repository, as GitHub's `permissions` object reports it (each role has the
/// permissions of those before it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Read (`pull`).
    Read,
    /// Triage.
    Triage,
    /// Write (`push`).
    Write,
    /// Maintain.
    Maintain,
    /// Admin: may read and change branch protection, and bypasses protection rules that do
    /// not include administrators.
    Admin,
}

#[derive(Debug, Clone)]
pub(super) struct Review {
    pub(super) id: u64,
    pub(super) user: String,
    pub(super) state: String,
    pub(super) commit_id: String,
    pub(super) submitted_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub(super) struct Pull {
    pub(super) head: String,
    pub(super) base: String,
    pub(super) draft: bool,
    pub(super) requested_reviewers: Vec<String>,
    pub(super) reviews: Vec<Review>,
    pub(super) merged_at: Option<DateTime<Utc>>,
    pub(super) merge_commit_sha: Option<String>,
    /// The head tip when the pull request was closed or merged.
    pub(super) closed_head_sha: Option<String>,
}

#[derive(Debug, Clone)]
pub(super) struct Issue {
    pub(super) number: u64,
    pub(super) id: u64,
    pub(super) title: String,
    pub(super) body: Option<String>,
    pub(super) state: String,
    pub(super) labels: Vec<String>,
    pub(super) assignees: Vec<String>,
    pub(super) user: String,
    pub(super) created_at: DateTime<Utc>,
    pub(super) updated_at: DateTime<Utc>,
    pub(super) closed_at: Option<DateTime<Utc>>,
    pub(super) pull: Option<Pull>,
}

#[derive(Debug, Clone)]
pub(super) struct Status {
    pub(super) id: u64,
    pub(super) sha: String,
    pub(super) state: String,
    pub(super) context: String,
    pub(super) description: Option<String>,
    pub(super) target_url: Option<String>,
    pub(super) at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub(super) struct CheckRun {
    pub(super) id: u64,
    pub(super) sha: String,
    pub(super) name: String,
    pub(super) status: String,
    pub(super) conclusion: Option<String>,
    pub(super) details_url: Option<String>,
    pub(super) at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub(super) struct Label {
    pub(super) id: u64,
    pub(super) color: String,
    pub(super) description: Option<String>,
}

#[derive(Debug)]
pub(super) struct Repo {
    pub(super) id: u64,
    pub(super) owner: String,
    pub(super) name: String,
    pub(super) bare: BareRepo,
    pub(super) issues: Vec<Issue>,
    pub(super) statuses: Vec<Status>,
    pub(super) check_runs: Vec<CheckRun>,
    pub(super) labels: BTreeMap<String, Label>,
    pub(super) protection: BTreeMap<String, Value>,
    /// Who reviews may be requested from besides the token's account; `None`: anyone.
    pub(super) collaborators: Option<Vec<String>>,
    /// Pull request lists lag: pulls numbered from `.0` on are left out of the next `.1`
    /// lists, as GitHub's search-backed list can trail a create.
    pub(super) list_lag: Option<(u64, u32)>,
    /// The token's account's role on the repository (`permissions`).
    pub(super) role: Role,
    /// Topics, flags and owner kind, as listings show them.
    pub(super) meta: RepoMeta,
}

/// What a repository listing shows besides the git data: see
/// [`FakeGitHub::create_listed_repo`](super::FakeGitHub::create_listed_repo).
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools)] // independent flags, as GitHub's JSON has them
pub struct RepoMeta {
    /// Topics (GitHub keeps them lower-case).
    pub topics: Vec<String>,
    /// Archived (read-only).
    pub archived: bool,
    /// A fork of another repository.
    pub fork: bool,
    /// Private (default) or public.
    pub private: bool,
    /// No commit at all: `size` 0, no branch.
    pub empty: bool,
    /// The owner is a user account, not an organisation.
    pub user_owned: bool,
}

impl Default for RepoMeta {
    fn default() -> Self {
        Self {
            topics: Vec::new(),
            archived: false,
            fork: false,
            private: true,
            empty: false,
            user_owned: false,
        }
    }
}

impl Repo {
    pub(super) fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    /// The bare repository, for what [`BareRepo`] does not offer (raw refs, tag objects).
    pub(super) fn git(&self) -> Repository {
        Repository::open_bare(self.bare.path()).expect("the fake's bare repository opens")
    }

    pub(super) fn issue(&self, number: u64) -> Option<&Issue> {
        self.issues.iter().find(|i| i.number == number)
    }

    pub(super) fn issue_mut(&mut self, number: u64) -> Option<&mut Issue> {
        self.issues.iter_mut().find(|i| i.number == number)
    }
}

#[derive(Debug)]
pub(super) struct World {
    /// Base URL of the REST API, as links in answers show it.
    pub(super) base: String,
    pub(super) token: Option<String>,
    pub(super) scopes: String,
    pub(super) login: String,
    pub(super) repos: BTreeMap<String, Repo>,
    pub(super) next_id: u64,
    pub(super) ticks: i64,
    pub(super) dir: PathBuf,
    /// Commit times of the bare repositories.
    pub(super) clock: Clock,
    pub(super) update_refs: UpdateRefs,
}

impl World {
    pub(super) fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// A fake clock: every event is one minute after the previous one, so timestamps are
    /// the same on every run.
    pub(super) fn now(&mut self) -> DateTime<Utc> {
        self.ticks += 1;
        epoch() + ChronoDuration::minutes(self.ticks)
    }
}

pub(super) fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

pub(super) type Shared = Arc<Mutex<World>>;

pub(super) fn lock(world: &Shared) -> MutexGuard<'_, World> {
    world.lock().unwrap_or_else(PoisonError::into_inner)
}

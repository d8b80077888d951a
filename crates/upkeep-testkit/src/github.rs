//! An HTTP fake of the GitHub REST API (and the GraphQL `updateRefs` mutation), on
//! `127.0.0.1:0`, for the endpoints upkeep uses.
//!
//! Git data lives in real bare repositories (one per fake repository, in a temp dir), so a
//! branch moved through the API is really moved, and a test can `git fetch` from
//! [`FakeGitHub::repo_path`] or push to it. Pull requests, reviews, commit statuses, check
//! runs and labels are kept in memory. Answers have the shapes GitHub sends (checked against
//! the recorded interactions in `fixtures/github-recorded/` by upkeep-forge's tests), with
//! GitHub's headers (`x-ratelimit-*`, `x-oauth-scopes`), error bodies
//! (`{"message", "errors", "documentation_url"}`) and `Link` pagination.
//!
//! Faults (5xx, 429 with `Retry-After`, secondary-rate-limit 403s, dropped connections,
//! latency) and per-endpoint request counts come from [`crate::faults`]: see
//! [`FakeGitHub::faults`]. Route patterns for [`Endpoint`](crate::faults::Endpoint) are
//! the ones registered below, e.g. `/repos/{owner}/{repo}/pulls`.

// Helpers return what they made (a SHA, a number) for the tests that need it; most ignore
// it. Handlers bail out with a ready `Response` as the error: its size is irrelevant here.
#![allow(clippy::must_use_candidate, clippy::result_large_err)]

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Duration as ChronoDuration, TimeZone as _, Utc};
use git2::{ObjectType, Oid, Repository, Signature, Time};
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::faults::Faults;

const DOCS: &str = "https://docs.github.com/rest";

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

#[derive(Debug, Clone)]
struct Review {
    id: u64,
    user: String,
    state: String,
    commit_id: String,
    submitted_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct Pull {
    head: String,
    base: String,
    draft: bool,
    requested_reviewers: Vec<String>,
    reviews: Vec<Review>,
    merged_at: Option<DateTime<Utc>>,
    merge_commit_sha: Option<String>,
    /// The head tip when the pull request was closed or merged.
    closed_head_sha: Option<String>,
}

#[derive(Debug, Clone)]
struct Issue {
    number: u64,
    id: u64,
    title: String,
    body: Option<String>,
    state: String,
    labels: Vec<String>,
    assignees: Vec<String>,
    user: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    closed_at: Option<DateTime<Utc>>,
    pull: Option<Pull>,
}

#[derive(Debug, Clone)]
struct Status {
    id: u64,
    sha: String,
    state: String,
    context: String,
    description: Option<String>,
    target_url: Option<String>,
    at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct CheckRun {
    id: u64,
    sha: String,
    name: String,
    status: String,
    conclusion: Option<String>,
    details_url: Option<String>,
    at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct Label {
    id: u64,
    color: String,
    description: Option<String>,
}

#[derive(Debug)]
struct Repo {
    id: u64,
    owner: String,
    name: String,
    path: PathBuf,
    issues: Vec<Issue>,
    statuses: Vec<Status>,
    check_runs: Vec<CheckRun>,
    labels: BTreeMap<String, Label>,
    protection: BTreeMap<String, Value>,
    /// The token's account may push (`permissions.push`); reading is always allowed.
    push: bool,
}

impl Repo {
    fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    fn git(&self) -> Repository {
        Repository::open_bare(&self.path).expect("the fake's bare repository opens")
    }

    fn issue(&self, number: u64) -> Option<&Issue> {
        self.issues.iter().find(|i| i.number == number)
    }

    fn issue_mut(&mut self, number: u64) -> Option<&mut Issue> {
        self.issues.iter_mut().find(|i| i.number == number)
    }
}

#[derive(Debug)]
struct World {
    base: String,
    token: Option<String>,
    scopes: String,
    login: String,
    repos: BTreeMap<String, Repo>,
    next_id: u64,
    ticks: i64,
    dir: PathBuf,
}

impl World {
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// A fake clock: every event is one minute after the previous one, so timestamps (and
    /// commit SHAs) are the same on every run.
    fn now(&mut self) -> DateTime<Utc> {
        self.ticks += 1;
        epoch() + ChronoDuration::minutes(self.ticks)
    }
}

fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

type Shared = Arc<Mutex<World>>;

fn lock(world: &Shared) -> MutexGuard<'_, World> {
    world.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The fake GitHub server. Stops when dropped.
#[derive(Debug)]
pub struct FakeGitHub {
    addr: SocketAddr,
    world: Shared,
    faults: Faults,
    _dir: TempDir,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeGitHub {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeGitHub {
    /// Starts a fake on `127.0.0.1:0` that accepts any token (see [`Self::require_token`]).
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir for the fake's repositories");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let world = Arc::new(Mutex::new(World {
            base: format!("http://{addr}"),
            token: None,
            scopes: "repo, workflow".to_owned(),
            login: "upkeep-bot".to_owned(),
            repos: BTreeMap::new(),
            next_id: 1000,
            ticks: 0,
            dir: dir.path().to_owned(),
        }));
        let faults = Faults::new();
        let router = faults.wrap(router(world.clone()));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self {
            addr,
            world,
            faults,
            _dir: dir,
            server,
        }
    }

    /// Base URL to give the client (`http://127.0.0.1:PORT`), like `https://api.github.com`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The socket address.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Fault script, latency and request log of this fake.
    #[must_use]
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// From now on, requests must carry `Authorization: Bearer <token>` (or `token <token>`);
    /// others get GitHub's 401 `Bad credentials`.
    pub fn require_token(&self, token: &str) {
        lock(&self.world).token = Some(token.to_owned());
    }

    /// The scopes reported in `x-oauth-scopes` (default `repo, workflow`).
    pub fn set_scopes(&self, scopes: &str) {
        scopes.clone_into(&mut lock(&self.world).scopes);
    }

    /// Whether the token's account may push to `owner/name`, as the repository's
    /// `permissions` tell (default `true`: admin). `false` answers as for a read-only
    /// collaborator (`pull` only). Only what the API reports changes; the fake's git and
    /// REST writes are not refused.
    pub fn set_permissions(&self, full_name: &str, push: bool) {
        self.with_repo(full_name, |repo| repo.push = push);
    }

    /// Creates `owner/name` with a bare repository whose `main` has one commit. Returns the
    /// bare repository's path.
    pub fn create_repo(&self, full_name: &str) -> PathBuf {
        let mut world = lock(&self.world);
        let (owner, name) = full_name
            .split_once('/')
            .expect("repository names are owner/name");
        let path = world.dir.join(format!("{owner}__{name}.git"));
        let git = Repository::init_bare(&path).expect("init bare repository");
        git.set_head("refs/heads/main").expect("HEAD -> main");
        let id = world.id();
        world.repos.insert(
            full_name.to_owned(),
            Repo {
                id,
                owner: owner.to_owned(),
                name: name.to_owned(),
                path: path.clone(),
                issues: Vec::new(),
                statuses: Vec::new(),
                check_runs: Vec::new(),
                labels: BTreeMap::new(),
                protection: BTreeMap::new(),
                push: true,
            },
        );
        let at = world.now();
        drop(world);
        commit_file(&git, None, "README.md", "# fake\n", "Initial commit", at);
        path
    }

    /// Path of the bare repository behind `owner/name`.
    #[must_use]
    pub fn repo_path(&self, full_name: &str) -> PathBuf {
        self.with_repo(full_name, |repo| repo.path.clone())
    }

    fn with_repo<T>(&self, full_name: &str, f: impl FnOnce(&mut Repo) -> T) -> T {
        let mut world = lock(&self.world);
        let repo = world
            .repos
            .get_mut(full_name)
            .unwrap_or_else(|| panic!("fake GitHub has no repository {full_name}"));
        f(repo)
    }

    /// Adds a commit to `branch` (created at `main`'s tip when missing) directly in the bare
    /// repository and returns its SHA.
    pub fn commit(&self, full_name: &str, branch: &str, message: &str) -> String {
        let at = lock(&self.world).now();
        let path = self.repo_path(full_name);
        let git = Repository::open_bare(path).expect("open bare");
        let parent = tip(&git, branch).or_else(|| tip(&git, "main"));
        let file = format!("changes/{}.txt", at.timestamp());
        let oid = commit_file(&git, parent, &file, message, message, at);
        git.reference(&format!("refs/heads/{branch}"), oid, true, "fake commit")
            .expect("set branch");
        oid.to_string()
    }

    /// Points `branch` at `sha` (created or moved anywhere), directly in the bare repository.
    pub fn set_branch(&self, full_name: &str, branch: &str, sha: &str) {
        let git = Repository::open_bare(self.repo_path(full_name)).expect("open bare");
        let oid = Oid::from_str(sha).expect("a full SHA");
        git.reference(&format!("refs/heads/{branch}"), oid, true, "fake set")
            .expect("set branch");
    }

    /// The tip of `branch`, read from the bare repository.
    #[must_use]
    pub fn branch_tip(&self, full_name: &str, branch: &str) -> Option<String> {
        let git = Repository::open_bare(self.repo_path(full_name)).expect("open bare");
        tip(&git, branch).map(|oid| oid.to_string())
    }

    /// Adds a commit status (`error`, `failure`, `pending`, `success`) like `POST /statuses`.
    pub fn add_status(&self, full_name: &str, sha: &str, context: &str, state: &str) {
        let mut world = lock(&self.world);
        let (id, at) = (world.id(), world.now());
        let repo = world.repos.get_mut(full_name).expect("known repository");
        repo.statuses.push(Status {
            id,
            sha: sha.to_owned(),
            state: state.to_owned(),
            context: context.to_owned(),
            description: Some(format!("{context} is {state}")),
            target_url: Some(format!("https://ci.example.com/{context}/{id}")),
            at,
        });
    }

    /// Adds a check run. `status` is `queued`, `in_progress` or `completed`; `conclusion`
    /// (`success`, `failure`, `neutral`, `cancelled`, `skipped`, `timed_out`,
    /// `action_required`) only when completed.
    pub fn add_check_run(
        &self,
        full_name: &str,
        sha: &str,
        name: &str,
        status: &str,
        conclusion: Option<&str>,
    ) {
        let mut world = lock(&self.world);
        let (id, at) = (world.id(), world.now());
        let repo = world.repos.get_mut(full_name).expect("known repository");
        repo.check_runs.push(CheckRun {
            id,
            sha: sha.to_owned(),
            name: name.to_owned(),
            status: status.to_owned(),
            conclusion: conclusion.map(str::to_owned),
            details_url: Some(format!("https://ci.example.com/runs/{id}")),
            at,
        });
    }

    /// Submits a review (`APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`, `DISMISSED`) by
    /// `user` on pull request `number`.
    pub fn add_review(&self, full_name: &str, number: u64, user: &str, state: &str) {
        let head_sha = self.pull_head_sha(full_name, number);
        let mut world = lock(&self.world);
        let (id, at) = (world.id(), world.now());
        let repo = world.repos.get_mut(full_name).expect("known repository");
        let pull = repo
            .issue_mut(number)
            .and_then(|i| i.pull.as_mut())
            .expect("known pull request");
        pull.requested_reviewers.retain(|r| r != user);
        pull.reviews.push(Review {
            id,
            user: user.to_owned(),
            state: state.to_owned(),
            commit_id: head_sha,
            submitted_at: at,
        });
    }

    fn pull_head_sha(&self, full_name: &str, number: u64) -> String {
        let head = self.with_repo(full_name, |repo| {
            repo.issue(number)
                .and_then(|i| i.pull.as_ref())
                .map(|p| p.head.clone())
                .expect("known pull request")
        });
        self.branch_tip(full_name, &head).unwrap_or_default()
    }

    /// Merges pull request `number` like the merge button: a fast-forward when the base is
    /// an ancestor of the head, else a merge commit carrying the head's tree. Returns the
    /// merge commit SHA.
    pub fn merge_pull(&self, full_name: &str, number: u64) -> String {
        let mut world = lock(&self.world);
        let at = world.now();
        let repo = world.repos.get_mut(full_name).expect("known repository");
        let git = repo.git();
        let issue = repo.issue_mut(number).expect("known pull request");
        let pull = issue.pull.as_mut().expect("a pull request");
        let head = tip(&git, &pull.head).expect("head branch exists");
        let base = tip(&git, &pull.base).expect("base branch exists");
        let merged = if git.graph_descendant_of(head, base).unwrap_or(false) {
            head
        } else {
            let sig = signature(at);
            let head_commit = git.find_commit(head).expect("head commit");
            let base_commit = git.find_commit(base).expect("base commit");
            let tree = head_commit.tree().expect("tree");
            git.commit(
                None,
                &sig,
                &sig,
                &format!("Merge pull request #{number} from {}", pull.head),
                &tree,
                &[&base_commit, &head_commit],
            )
            .expect("merge commit")
        };
        git.reference(&format!("refs/heads/{}", pull.base), merged, true, "merge")
            .expect("move base");
        pull.merged_at = Some(at);
        pull.merge_commit_sha = Some(merged.to_string());
        pull.closed_head_sha = Some(head.to_string());
        "closed".clone_into(&mut issue.state);
        issue.closed_at = Some(at);
        issue.updated_at = at;
        merged.to_string()
    }

    /// Closes pull request (or issue) `number` without merging.
    pub fn close_pull(&self, full_name: &str, number: u64) {
        let head_sha = self.pull_head_sha(full_name, number);
        let mut world = lock(&self.world);
        let at = world.now();
        let repo = world.repos.get_mut(full_name).expect("known repository");
        let issue = repo.issue_mut(number).expect("known pull request");
        "closed".clone_into(&mut issue.state);
        issue.closed_at = Some(at);
        issue.updated_at = at;
        if let Some(pull) = issue.pull.as_mut() {
            pull.closed_head_sha = Some(head_sha);
        }
    }

    /// Adds labels to issue or pull request `number`, as a person would in the web UI.
    pub fn add_issue_labels(&self, full_name: &str, number: u64, labels: &[&str]) {
        let mut world = lock(&self.world);
        let mut all = world.repos[full_name]
            .issue(number)
            .expect("known issue")
            .labels
            .clone();
        for label in labels {
            if !all.iter().any(|l| l == label) {
                all.push((*label).to_owned());
            }
        }
        patch_issue(&mut world, full_name, number, &json!({"labels": all}), true)
            .expect("labels set");
    }

    /// Opens a plain issue (not a pull request), like `POST /issues`.
    pub fn add_issue(&self, full_name: &str, title: &str) -> u64 {
        let mut world = lock(&self.world);
        let login = world.login.clone();
        new_issue(&mut world, full_name, title, None, login, None)
    }

    /// Every pull request of `owner/name`, oldest first.
    #[must_use]
    pub fn pulls(&self, full_name: &str) -> Vec<FakePull> {
        self.with_repo(full_name, |repo| {
            repo.issues
                .iter()
                .filter_map(|issue| {
                    let pull = issue.pull.as_ref()?;
                    Some(FakePull {
                        number: issue.number,
                        title: issue.title.clone(),
                        body: issue.body.clone(),
                        head: pull.head.clone(),
                        base: pull.base.clone(),
                        state: issue.state.clone(),
                        draft: pull.draft,
                        merged: pull.merged_at.is_some(),
                        labels: issue.labels.clone(),
                        assignees: issue.assignees.clone(),
                        requested_reviewers: pull.requested_reviewers.clone(),
                    })
                })
                .collect()
        })
    }
}

fn new_issue(
    world: &mut World,
    full_name: &str,
    title: &str,
    body: Option<String>,
    user: String,
    pull: Option<Pull>,
) -> u64 {
    let (id, at) = (world.id(), world.now());
    let repo = world.repos.get_mut(full_name).expect("known repository");
    let number = repo.issues.len() as u64 + 1;
    repo.issues.push(Issue {
        number,
        id,
        title: title.to_owned(),
        body,
        state: "open".to_owned(),
        labels: Vec::new(),
        assignees: Vec::new(),
        user,
        created_at: at,
        updated_at: at,
        closed_at: None,
        pull,
    });
    number
}

// ---------------------------------------------------------------------------------------
// git helpers

fn signature(at: DateTime<Utc>) -> Signature<'static> {
    Signature::new(
        "Upkeep Test",
        "test@upkeep.invalid",
        &Time::new(at.timestamp(), 0),
    )
    .expect("signature")
}

fn tip(git: &Repository, branch: &str) -> Option<Oid> {
    git.find_reference(&format!("refs/heads/{branch}"))
        .ok()?
        .target()
}

/// Writes `file` with `content` on top of `parent`'s tree and commits it (no ref moved).
fn commit_file(
    git: &Repository,
    parent: Option<Oid>,
    file: &str,
    content: &str,
    message: &str,
    at: DateTime<Utc>,
) -> Oid {
    let parent = parent.map(|oid| git.find_commit(oid).expect("parent commit"));
    let blob = git.blob(content.as_bytes()).expect("blob");
    let base_tree = parent.as_ref().map(|p| p.tree().expect("tree"));
    let tree_oid = insert_path(git, base_tree.as_ref(), file, blob);
    let tree = git.find_tree(tree_oid).expect("tree");
    let sig = signature(at);
    let parents: Vec<_> = parent.iter().collect();
    let oid = git
        .commit(None, &sig, &sig, message, &tree, &parents)
        .expect("commit");
    if parent.is_none() {
        git.reference("refs/heads/main", oid, true, "initial")
            .expect("main");
    }
    oid
}

fn insert_path(git: &Repository, tree: Option<&git2::Tree<'_>>, path: &str, blob: Oid) -> Oid {
    let mut builder = git.treebuilder(tree).expect("treebuilder");
    match path.split_once('/') {
        None => {
            builder.insert(path, blob, 0o100_644).expect("insert");
        }
        Some((dir, rest)) => {
            let sub = tree
                .and_then(|t| t.get_name(dir))
                .and_then(|e| e.to_object(git).ok())
                .and_then(|o| o.into_tree().ok());
            let sub_oid = insert_path(git, sub.as_ref(), rest, blob);
            builder.insert(dir, sub_oid, 0o040_000).expect("insert");
        }
    }
    builder.write().expect("write tree")
}

/// A branch, tag or (full or abbreviated) SHA, peeled to a commit.
fn resolve(git: &Repository, spec: &str) -> Option<Oid> {
    let candidates = [
        format!("refs/heads/{spec}"),
        format!("refs/tags/{spec}"),
        spec.to_owned(),
    ];
    candidates.iter().find_map(|c| {
        git.revparse_single(c)
            .ok()
            .and_then(|o| o.peel_to_commit().ok())
            .map(|c| c.id())
    })
}

fn is_ancestor(git: &Repository, ancestor: Oid, of: Oid) -> bool {
    ancestor == of || git.graph_descendant_of(of, ancestor).unwrap_or(false)
}

/// Commits reachable from `head` and not from `base`, oldest first (GitHub's order).
fn only_in(git: &Repository, head: Oid, base: Oid) -> Vec<Oid> {
    let mut walk = git.revwalk().expect("revwalk");
    walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::REVERSE)
        .expect("sorting");
    walk.push(head).expect("push");
    walk.hide(base).expect("hide");
    walk.filter_map(Result::ok).collect()
}

// ---------------------------------------------------------------------------------------
// JSON shapes

fn user_json(base: &str, login: &str) -> Value {
    let id = login
        .bytes()
        .fold(5000_u64, |h, b| h * 31 % 1_000_000 + u64::from(b));
    json!({
        "login": login,
        "id": id,
        "node_id": format!("MDQ6VXNlcj{id}"),
        "avatar_url": format!("{base}/avatars/u/{id}?v=4"),
        "gravatar_id": "",
        "url": format!("{base}/users/{login}"),
        "html_url": format!("{base}/{login}"),
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
fn repo_json(base: &str, repo: &Repo) -> Value {
    let full = repo.full_name();
    let api = format!("{base}/repos/{full}");
    let mut owner = user_json(base, &repo.owner);
    owner["type"] = json!("Organization");
    let owner_org = owner.clone();
    let mut value = json!({
        "id": repo.id,
        "node_id": node_id("R_", repo.id),
        "name": repo.name,
        "full_name": full,
        "private": true,
        "owner": owner,
        "html_url": format!("{base}/{full}"),
        "description": null,
        "fork": false,
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
        "clone_url": format!("{base}/{full}.git"),
        "svn_url": format!("{base}/{full}"),
        "homepage": null,
        "size": 1,
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
        "archived": false,
        "disabled": false,
        "open_issues_count": repo.issues.iter().filter(|i| i.state == "open").count(),
        "license": null,
        "allow_forking": true,
        "is_template": false,
        "web_commit_signoff_required": false,
        "topics": [],
        "visibility": "private",
        "forks": 0,
        "open_issues": repo.issues.iter().filter(|i| i.state == "open").count(),
        "watchers": 0,
        "default_branch": "main",
        "permissions": {"admin": repo.push, "maintain": repo.push, "push": repo.push, "triage": repo.push, "pull": true},
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
    value
}

fn node_id(prefix: &str, id: u64) -> String {
    format!("{prefix}kgDO{id:08}")
}

fn ts(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn team_json(base: &str, full_name: &str, slug: &str) -> Value {
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
        "html_url": format!("{base}/orgs/{org}/teams/{slug}"),
        "members_url": format!("{base}/orgs/{org}/teams/{slug}/members{{/member}}"),
        "repositories_url": format!("{base}/orgs/{org}/teams/{slug}/repos"),
        "permission": "pull",
        "parent": null
    })
}

fn label_json(base: &str, repo: &Repo, name: &str) -> Value {
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

/// Percent-encodes what must not appear raw in a URL path segment.
fn enc(segment: &str) -> String {
    let mut out = String::new();
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn issue_json(base: &str, repo: &Repo, issue: &Issue) -> Value {
    let full = repo.full_name();
    let api = format!("{base}/repos/{full}/issues/{}", issue.number);
    let mut value = json!({
        "url": api,
        "repository_url": format!("{base}/repos/{full}"),
        "labels_url": format!("{api}/labels{{/name}}"),
        "comments_url": format!("{api}/comments"),
        "events_url": format!("{api}/events"),
        "html_url": format!("{base}/{full}/{}/{}", if issue.pull.is_some() { "pull" } else { "issues" }, issue.number),
        "id": issue.id,
        "node_id": node_id("I_", issue.id),
        "number": issue.number,
        "title": issue.title,
        "user": user_json(base, &issue.user),
        "labels": issue.labels.iter().map(|l| label_json(base, repo, l)).collect::<Vec<_>>(),
        "state": issue.state,
        "locked": false,
        "assignee": issue.assignees.first().map(|a| user_json(base, a)),
        "assignees": issue.assignees.iter().map(|a| user_json(base, a)).collect::<Vec<_>>(),
        "milestone": null,
        "comments": 0,
        "created_at": ts(issue.created_at),
        "updated_at": ts(issue.updated_at),
        "closed_at": issue.closed_at.map(ts),
        "author_association": "MEMBER",
        "active_lock_reason": null,
        "body": issue.body,
        "closed_by": null,
        "reactions": {"url": format!("{api}/reactions"), "total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "hooray": 0, "confused": 0, "heart": 0, "rocket": 0, "eyes": 0},
        "timeline_url": format!("{api}/timeline"),
        "performed_via_github_app": null,
        "state_reason": if issue.state == "closed" { json!("completed") } else { Value::Null },
    });
    if let Some(pull) = &issue.pull {
        let pulls = format!("{base}/repos/{full}/pulls/{}", issue.number);
        value["pull_request"] = json!({
            "url": pulls,
            "html_url": format!("{base}/{full}/pull/{}", issue.number),
            "diff_url": format!("{base}/{full}/pull/{}.diff", issue.number),
            "patch_url": format!("{base}/{full}/pull/{}.patch", issue.number),
            "merged_at": pull.merged_at.map(ts),
        });
        value["draft"] = json!(pull.draft);
    }
    value
}

fn branch_side(base: &str, repo: &Repo, git: &Repository, branch: &str, sha: &str) -> Value {
    let _ = git;
    json!({
        "label": format!("{}:{branch}", repo.owner),
        "ref": branch,
        "sha": sha,
        "user": user_json(base, &repo.owner),
        "repo": repo_json(base, repo),
    })
}

fn pull_json(base: &str, repo: &Repo, issue: &Issue) -> Value {
    let pull = issue.pull.as_ref().expect("a pull request");
    let git = repo.git();
    let full = repo.full_name();
    let n = issue.number;
    let api = format!("{base}/repos/{full}/pulls/{n}");
    let head_sha = pull
        .closed_head_sha
        .clone()
        .or_else(|| tip(&git, &pull.head).map(|o| o.to_string()))
        .unwrap_or_default();
    let base_sha = tip(&git, &pull.base)
        .map(|o| o.to_string())
        .unwrap_or_default();
    let html = format!("{base}/{full}/pull/{n}");
    let links = json!({
        "self": {"href": api},
        "html": {"href": html},
        "issue": {"href": format!("{base}/repos/{full}/issues/{n}")},
        "comments": {"href": format!("{base}/repos/{full}/issues/{n}/comments")},
        "review_comments": {"href": format!("{api}/comments")},
        "review_comment": {"href": format!("{base}/repos/{full}/pulls/comments{{/number}}")},
        "commits": {"href": format!("{api}/commits")},
        "statuses": {"href": format!("{base}/repos/{full}/statuses/{head_sha}")}
    });
    let mut value = json!({
        "url": api,
        "id": issue.id,
        "node_id": node_id("PR_", issue.id),
        "html_url": html,
        "diff_url": format!("{html}.diff"),
        "patch_url": format!("{html}.patch"),
        "issue_url": format!("{base}/repos/{full}/issues/{n}"),
        "number": n,
        "state": issue.state,
        "locked": false,
        "title": issue.title,
        "user": user_json(base, &issue.user),
        "body": issue.body,
        "created_at": ts(issue.created_at),
        "updated_at": ts(issue.updated_at),
        "closed_at": issue.closed_at.map(ts),
        "merged_at": pull.merged_at.map(ts),
        "merge_commit_sha": pull.merge_commit_sha,
        "assignee": issue.assignees.first().map(|a| user_json(base, a)),
        "assignees": issue.assignees.iter().map(|a| user_json(base, a)).collect::<Vec<_>>(),
        "requested_reviewers": pull.requested_reviewers.iter().map(|r| user_json(base, r)).collect::<Vec<_>>(),
        "requested_teams": [],
        "labels": issue.labels.iter().map(|l| label_json(base, repo, l)).collect::<Vec<_>>(),
        "milestone": null,
        "draft": pull.draft,
        "commits_url": format!("{api}/commits"),
        "review_comments_url": format!("{api}/comments"),
        "review_comment_url": format!("{base}/repos/{full}/pulls/comments{{/number}}"),
        "comments_url": format!("{base}/repos/{full}/issues/{n}/comments"),
        "statuses_url": format!("{base}/repos/{full}/statuses/{head_sha}"),
        "head": branch_side(base, repo, &git, &pull.head, &head_sha),
        "base": branch_side(base, repo, &git, &pull.base, &base_sha),
        "_links": links,
    });
    let state = json!({
        "author_association": "MEMBER",
        "auto_merge": null,
        "active_lock_reason": null,
        "merged": pull.merged_at.is_some(),
        "mergeable": if issue.state == "open" { json!(true) } else { Value::Null },
        "rebaseable": if issue.state == "open" { json!(true) } else { Value::Null },
        "mergeable_state": if issue.state == "open" { "clean" } else { "unknown" },
        "merged_by": null,
        "comments": 0,
        "review_comments": 0,
        "maintainer_can_modify": false,
        "commits": 1,
        "additions": 1,
        "deletions": 0,
        "changed_files": 1
    });
    if let (Some(first), Value::Object(part)) = (value.as_object_mut(), state) {
        first.extend(part);
    }
    value
}

fn review_json(base: &str, repo: &Repo, number: u64, review: &Review) -> Value {
    let full = repo.full_name();
    let html = format!(
        "{base}/{full}/pull/{number}#pullrequestreview-{}",
        review.id
    );
    json!({
        "id": review.id,
        "node_id": node_id("PRR_", review.id),
        "user": user_json(base, &review.user),
        "body": "",
        "state": review.state,
        "html_url": html,
        "pull_request_url": format!("{base}/repos/{full}/pulls/{number}"),
        "author_association": "MEMBER",
        "_links": {
            "html": {"href": html},
            "pull_request": {"href": format!("{base}/repos/{full}/pulls/{number}")}
        },
        "submitted_at": ts(review.submitted_at),
        "commit_id": review.commit_id,
    })
}

fn status_json(base: &str, repo: &Repo, status: &Status, with_creator: bool) -> Value {
    let mut value = json!({
        "url": format!("{base}/repos/{}/statuses/{}", repo.full_name(), status.sha),
        "avatar_url": format!("{base}/avatars/u/1?v=4"),
        "id": status.id,
        "node_id": node_id("SC_", status.id),
        "state": status.state,
        "description": status.description,
        "target_url": status.target_url,
        "context": status.context,
        "created_at": ts(status.at),
        "updated_at": ts(status.at),
    });
    if with_creator {
        value["creator"] = user_json(base, "upkeep-bot");
    }
    value
}

fn check_run_json(base: &str, repo: &Repo, run: &CheckRun) -> Value {
    let full = repo.full_name();
    json!({
        "id": run.id,
        "name": run.name,
        "node_id": node_id("CR_", run.id),
        "head_sha": run.sha,
        "external_id": "",
        "url": format!("{base}/repos/{full}/check-runs/{}", run.id),
        "html_url": format!("{base}/{full}/runs/{}", run.id),
        "details_url": run.details_url,
        "status": run.status,
        "conclusion": run.conclusion,
        "started_at": ts(run.at),
        "completed_at": if run.status == "completed" { json!(ts(run.at)) } else { Value::Null },
        "output": {"title": null, "summary": null, "text": null, "annotations_count": 0,
                   "annotations_url": format!("{base}/repos/{full}/check-runs/{}/annotations", run.id)},
        "check_suite": {"id": run.id + 1},
        "app": null,
        "pull_requests": []
    })
}

fn ref_json(base: &str, repo: &Repo, name: &str, oid: Oid, kind: &str) -> Value {
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

fn commit_json(base: &str, repo: &Repo, commit: &git2::Commit<'_>) -> Value {
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
        "html_url": format!("{base}/{full}/commit/{sha}"),
        "comments_url": format!("{base}/repos/{full}/commits/{sha}/comments"),
        "author": null,
        "committer": null,
        "parents": commit.parent_ids().map(|p| json!({
            "sha": p.to_string(),
            "url": format!("{base}/repos/{full}/commits/{p}"),
            "html_url": format!("{base}/{full}/commit/{p}"),
        })).collect::<Vec<_>>(),
    })
}

// ---------------------------------------------------------------------------------------
// HTTP plumbing

fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

/// `201 Created` with the new resource's URL in `Location`, as GitHub answers creates.
fn created(body: &Value, location: &str) -> Response {
    let mut response = json_response(StatusCode::CREATED, body);
    if let Ok(location) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

fn ok(body: &Value) -> Response {
    json_response(StatusCode::OK, body)
}

fn error(status: StatusCode, message: &str) -> Response {
    json_response(
        status,
        &json!({"message": message, "documentation_url": DOCS, "status": status.as_str()}),
    )
}

fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "Not Found")
}

/// GitHub's 422: `{"message": "Validation Failed", "errors": [...], "documentation_url"}`.
fn validation(errors: &[Value]) -> Response {
    json_response(
        StatusCode::UNPROCESSABLE_ENTITY,
        &json!({"message": "Validation Failed", "errors": errors, "documentation_url": DOCS, "status": "422"}),
    )
}

fn unprocessable(message: &str) -> Response {
    error(StatusCode::UNPROCESSABLE_ENTITY, message)
}

fn parse_body(body: &Bytes) -> Result<Value, Response> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body)
        .map_err(|_| error(StatusCode::BAD_REQUEST, "Problems parsing JSON"))
}

type Params = HashMap<String, String>;

/// `owner/name` from either `/repos/{owner}/{repo}/…` or `/repositories/{id}/…`.
fn repo_key(world: &World, params: &Params) -> Result<String, Response> {
    if let (Some(owner), Some(repo)) = (params.get("owner"), params.get("repo")) {
        let key = format!("{owner}/{repo}");
        return if world.repos.contains_key(&key) {
            Ok(key)
        } else {
            Err(not_found())
        };
    }
    let id: u64 = params
        .get("id")
        .and_then(|id| id.parse().ok())
        .ok_or_else(not_found)?;
    world
        .repos
        .values()
        .find(|r| r.id == id)
        .map(Repo::full_name)
        .ok_or_else(not_found)
}

/// One page of `items` and GitHub's `Link` header for the others. Links point at
/// `/repositories/{id}/{what}`, as GitHub's do.
fn paginate(base: &str, repo: &Repo, what: &str, query: &Params, items: Vec<Value>) -> Response {
    let per_page = query
        .get("per_page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(30)
        .clamp(1, 100);
    let page = query
        .get("page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let last = items.len().div_ceil(per_page).max(1);
    let slice: Vec<_> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let mut extra: Vec<(String, String)> = query
        .iter()
        .filter(|(k, _)| *k != "page" && *k != "per_page")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    extra.sort();
    let link_to = |p: usize| {
        let mut q: Vec<String> = extra
            .iter()
            .map(|(k, v)| format!("{k}={}", enc(v)))
            .collect();
        q.push(format!("per_page={per_page}"));
        q.push(format!("page={p}"));
        format!("<{base}/repositories/{}/{what}?{}>", repo.id, q.join("&"))
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(format!("{}; rel=\"prev\"", link_to(page - 1)));
    }
    if page < last {
        links.push(format!("{}; rel=\"next\"", link_to(page + 1)));
        links.push(format!("{}; rel=\"last\"", link_to(last)));
    }
    if page > 1 {
        links.push(format!("{}; rel=\"first\"", link_to(1)));
    }
    let mut response = ok(&Value::Array(slice));
    if !links.is_empty() {
        response.headers_mut().insert(
            header::LINK,
            HeaderValue::from_str(&links.join(", ")).expect("ascii link header"),
        );
    }
    response
}

/// Checks the token and adds the headers GitHub puts on every answer.
async fn github_headers(State(world): State<Shared>, request: Request, next: Next) -> Response {
    let (token, scopes) = {
        let world = lock(&world);
        (world.token.clone(), world.scopes.clone())
    };
    let authorised = token.as_ref().is_none_or(|token| {
        request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("token "))
                    .is_some_and(|t| t == token)
            })
    });
    let accepted = accepted_scopes(request.method(), request.uri().path());
    let mut response = if authorised {
        next.run(request).await
    } else {
        json_response(
            StatusCode::UNAUTHORIZED,
            &json!({"message": "Bad credentials", "documentation_url": DOCS, "status": "401"}),
        )
    };
    let reset = (Utc::now() + ChronoDuration::hours(1)).timestamp();
    let headers: &mut HeaderMap = response.headers_mut();
    for (name, value) in [
        ("x-github-media-type", "github.v3; format=json".to_owned()),
        ("x-ratelimit-limit", "5000".to_owned()),
        ("x-ratelimit-remaining", "4999".to_owned()),
        ("x-ratelimit-reset", reset.to_string()),
        ("x-ratelimit-used", "1".to_owned()),
        ("x-ratelimit-resource", "core".to_owned()),
        ("x-oauth-scopes", scopes),
        ("x-accepted-oauth-scopes", accepted.to_owned()),
        (
            "x-github-request-id",
            "0000:00000:0000000:0000000:00000000".to_owned(),
        ),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.entry(name).or_insert(value);
        }
    }
    response
}

/// `x-accepted-oauth-scopes` as GitHub sends it (checked against the recordings): reads
/// want `repo` (statuses also accept `repo:status`); writes to git data want `repo`; most
/// other writes (issues, labels, statuses, branch protection) say nothing.
fn accepted_scopes(method: &Method, path: &str) -> &'static str {
    let reading = method == Method::GET;
    if path.contains("/protection") {
        ""
    } else if reading && (path.ends_with("/statuses") || path.ends_with("/status")) {
        "repo, repo:status"
    } else if reading || path.contains("/git/") || path.contains("/pulls") {
        "repo"
    } else {
        ""
    }
}

fn router(world: Shared) -> Router {
    let repo = "/repos/{owner}/{repo}";
    let by_id = "/repositories/{id}";
    Router::new()
        .route("/user", get(get_user))
        .route(repo, get(get_repo))
        .route(&format!("{repo}/git/refs"), get(list_refs).post(create_ref))
        .route(&format!("{repo}/git/refs/"), get(list_refs))
        .route(
            &format!("{repo}/git/refs/{{*ref}}"),
            get(get_refs_prefix).patch(update_ref).delete(delete_ref),
        )
        .route(&format!("{repo}/git/ref/{{*ref}}"), get(get_ref))
        .route(
            &format!("{repo}/git/matching-refs/{{*ref}}"),
            get(matching_refs),
        )
        .route(&format!("{repo}/git/tags"), post(create_tag_object))
        .route(&format!("{repo}/tags"), get(list_tags))
        .route(&format!("{by_id}/tags"), get(list_tags))
        .route(&format!("{repo}/compare/{{basehead}}"), get(compare))
        .route(&format!("{repo}/pulls"), get(list_pulls).post(create_pull))
        .route(&format!("{by_id}/pulls"), get(list_pulls))
        .route(
            &format!("{repo}/pulls/{{number}}"),
            get(get_pull).patch(update_pull),
        )
        .route(
            &format!("{repo}/pulls/{{number}}/reviews"),
            get(list_reviews),
        )
        .route(
            &format!("{by_id}/pulls/{{number}}/reviews"),
            get(list_reviews),
        )
        .route(
            &format!("{repo}/pulls/{{number}}/requested_reviewers"),
            post(request_reviewers),
        )
        .route(
            &format!("{repo}/issues"),
            get(list_issues).post(create_issue),
        )
        .route(&format!("{by_id}/issues"), get(list_issues))
        .route(
            &format!("{repo}/issues/{{number}}"),
            get(get_issue).patch(update_issue),
        )
        .route(
            &format!("{repo}/issues/{{number}}/labels"),
            post(add_labels),
        )
        .route(&format!("{repo}/labels"), post(create_label))
        .route(&format!("{repo}/statuses/{{sha}}"), post(create_status))
        .route(
            &format!("{repo}/commits/{{ref}}/statuses"),
            get(list_statuses),
        )
        .route(
            &format!("{repo}/commits/{{ref}}/status"),
            get(combined_status),
        )
        .route(
            &format!("{repo}/commits/{{ref}}/check-runs"),
            get(list_check_runs),
        )
        .route(&format!("{repo}/check-runs"), post(create_check_run))
        .route(
            &format!("{repo}/branches/{{branch}}/protection"),
            get(get_protection)
                .put(put_protection)
                .delete(delete_protection),
        )
        .route("/graphql", post(graphql))
        .fallback(|| async { not_found() })
        .layer(middleware::from_fn_with_state(
            world.clone(),
            github_headers,
        ))
        .with_state(world)
}

// ---------------------------------------------------------------------------------------
// handlers

type P = UrlPath<Params>;
type Q = Query<Params>;
type S = State<Shared>;

async fn get_user(State(world): S) -> Response {
    let world = lock(&world);
    ok(&user_json(&world.base, &world.login))
}

async fn get_repo(State(world): S, UrlPath(params): P) -> Response {
    let world = lock(&world);
    match repo_key(&world, &params) {
        Ok(key) => ok(&repo_json(&world.base, &world.repos[&key])),
        Err(response) => response,
    }
}

fn all_refs(git: &Repository) -> Vec<(String, Oid, &'static str)> {
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

async fn list_refs(State(world): S, UrlPath(params): P) -> Response {
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
async fn get_refs_prefix(State(world): S, UrlPath(params): P) -> Response {
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

async fn get_ref(State(world): S, UrlPath(params): P) -> Response {
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

async fn matching_refs(State(world): S, UrlPath(params): P) -> Response {
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

fn object_exists(git: &Repository, sha: &str) -> Option<(Oid, &'static str)> {
    let oid = Oid::from_str(sha).ok()?;
    let object = git.find_object(oid, None).ok()?;
    let kind = match object.kind()? {
        ObjectType::Tag => "tag",
        ObjectType::Commit => "commit",
        _ => return None,
    };
    Some((oid, kind))
}

async fn create_ref(State(world): S, UrlPath(params): P, body: Bytes) -> Response {
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
    git.reference(name, oid, false, "api create")
        .expect("create ref");
    created(
        &ref_json(&world.base, repo, name, oid, kind),
        &format!("{}/repos/{}/git/{name}", world.base, repo.full_name()),
    )
}

async fn update_ref(State(world): S, UrlPath(params): P, body: Bytes) -> Response {
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
    if !force && !is_ancestor(&git, current, oid) {
        return unprocessable("Update is not a fast forward");
    }
    git.reference(&name, oid, true, "api update")
        .expect("update ref");
    ok(&ref_json(&world.base, repo, &name, oid, kind))
}

async fn delete_ref(State(world): S, UrlPath(params): P) -> Response {
    let world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let git = world.repos[&key].git();
    let name = format!("refs/{}", params["ref"]);
    match git.find_reference(&name) {
        Ok(mut reference) => {
            reference.delete().expect("delete ref");
            StatusCode::NO_CONTENT.into_response()
        }
        Err(_) => unprocessable("Reference does not exist"),
    }
}

async fn create_tag_object(State(world): S, UrlPath(params): P, body: Bytes) -> Response {
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

async fn list_tags(State(world): S, UrlPath(params): P, Query(query): Q) -> Response {
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

async fn compare(State(world): S, UrlPath(params): P) -> Response {
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
    let (Some(base_oid), Some(head_oid)) = (resolve(&git, base_spec), resolve(&git, head_spec))
    else {
        return error(
            StatusCode::NOT_FOUND,
            &format!(
                "No commit found for SHA: {}",
                if resolve(&git, base_spec).is_none() {
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
    let full = repo.full_name();
    let find = |oid: Oid| commit_json(base, repo, &git.find_commit(oid).expect("commit"));
    let commits: Vec<_> = ahead.iter().take(250).map(|oid| find(*oid)).collect();
    ok(&json!({
        "url": format!("{base}/repos/{full}/compare/{base_spec}...{head_spec}"),
        "html_url": format!("{base}/{full}/compare/{base_spec}...{head_spec}"),
        "permalink_url": format!("{base}/{full}/compare/{full}:{base_oid}...{full}:{head_oid}"),
        "diff_url": format!("{base}/{full}/compare/{base_spec}...{head_spec}.diff"),
        "patch_url": format!("{base}/{full}/compare/{base_spec}...{head_spec}.patch"),
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

fn parse_number(params: &Params) -> Option<u64> {
    params.get("number")?.parse().ok()
}

async fn list_pulls(State(world): S, UrlPath(params): P, Query(query): Q) -> Response {
    let world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let repo = &world.repos[&key];
    let state = query.get("state").map_or("open", String::as_str);
    let head = query.get("head").map(|h| {
        // `owner:branch`, or a bare branch which GitHub reads as the repo owner's.
        h.split_once(':')
            .map_or((repo.owner.clone(), h.clone()), |(o, b)| {
                (o.to_owned(), b.to_owned())
            })
    });
    let items: Vec<_> = repo
        .issues
        .iter()
        .rev()
        .filter(|i| i.pull.is_some())
        .filter(|i| state == "all" || i.state == state)
        .filter(|i| {
            head.as_ref().is_none_or(|(owner, branch)| {
                *owner == repo.owner && i.pull.as_ref().is_some_and(|p| &p.head == branch)
            })
        })
        .filter(|i| {
            query
                .get("base")
                .is_none_or(|b| i.pull.as_ref().is_some_and(|p| &p.base == b))
        })
        .map(|i| pull_json(&world.base, repo, i))
        .collect();
    paginate(&world.base, repo, "pulls", &query, items)
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

async fn create_pull(State(world): S, UrlPath(params): P, body: Bytes) -> Response {
    let body = match parse_body(&body) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let mut world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let repo = &world.repos[&key];
    let (Some(title), Some(head), Some(base)) = (
        body["title"].as_str(),
        body["head"].as_str(),
        body["base"].as_str(),
    ) else {
        return validation(&[
            json!({"resource": "PullRequest", "code": "missing_field", "field": "head"}),
        ]);
    };
    let head_branch = head.split_once(':').map_or(head, |(_, b)| b).to_owned();
    let git = repo.git();
    let field_invalid = |field: &str| {
        validation(&[json!({"resource": "PullRequest", "field": field, "code": "invalid"})])
    };
    let Some(head_oid) = tip(&git, &head_branch) else {
        return field_invalid("head");
    };
    let Some(base_oid) = tip(&git, base) else {
        return field_invalid("base");
    };
    let exists = repo.issues.iter().any(|i| {
        i.state == "open"
            && i.pull
                .as_ref()
                .is_some_and(|p| p.head == head_branch && p.base == base)
    });
    if exists {
        return validation(&[json!({
            "resource": "PullRequest",
            "code": "custom",
            "message": format!("A pull request already exists for {}:{head_branch}.", repo.owner),
        })]);
    }
    if only_in(&git, head_oid, base_oid).is_empty() {
        return validation(&[json!({
            "resource": "PullRequest",
            "code": "custom",
            "message": format!("No commits between {base} and {head_branch}"),
        })]);
    }
    let pull = Pull {
        head: head_branch,
        base: base.to_owned(),
        draft: body["draft"].as_bool().unwrap_or(false),
        requested_reviewers: Vec::new(),
        reviews: Vec::new(),
        merged_at: None,
        merge_commit_sha: None,
        closed_head_sha: None,
    };
    let login = world.login.clone();
    let body_text = body["body"].as_str().map(str::to_owned);
    let number = new_issue(&mut world, &key, title, body_text, login, Some(pull));
    let repo = &world.repos[&key];
    created(
        &pull_json(&world.base, repo, repo.issue(number).expect("just created")),
        &format!("{}/repos/{key}/pulls/{number}", world.base),
    )
}

async fn get_pull(State(world): S, UrlPath(params): P) -> Response {
    let world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let repo = &world.repos[&key];
    match parse_number(&params).and_then(|n| repo.issue(n)) {
        Some(issue) if issue.pull.is_some() => ok(&pull_json(&world.base, repo, issue)),
        _ => not_found(),
    }
}

/// Applies the fields both `PATCH /pulls/{n}` and `PATCH /issues/{n}` take.
fn patch_issue(
    world: &mut World,
    key: &str,
    number: u64,
    body: &Value,
    issue_fields: bool,
) -> Result<(), Response> {
    let at = world.now();
    let repo = world.repos.get_mut(key).ok_or_else(not_found)?;
    let git = repo.git();
    let labels_known: Vec<String> = repo.labels.keys().cloned().collect();
    let issue = repo.issue_mut(number).ok_or_else(not_found)?;
    if let Some(title) = body["title"].as_str() {
        title.clone_into(&mut issue.title);
    }
    if body.get("body").is_some() {
        issue.body = body["body"].as_str().map(str::to_owned);
    }
    if let Some(state) = body["state"].as_str() {
        if state != "open" && state != "closed" {
            return Err(validation(&[
                json!({"resource": "Issue", "field": "state", "code": "invalid"}),
            ]));
        }
        if state == "closed" && issue.state == "open" {
            issue.closed_at = Some(at);
            if let Some(pull) = issue.pull.as_mut() {
                pull.closed_head_sha = tip(&git, &pull.head).map(|o| o.to_string());
            }
        }
        state.clone_into(&mut issue.state);
    }
    if let (Some(base), Some(pull)) = (body["base"].as_str(), issue.pull.as_mut()) {
        base.clone_into(&mut pull.base);
    }
    if issue_fields {
        if body.get("labels").is_some() {
            issue.labels = strings(&body["labels"]);
        }
        if body.get("assignees").is_some() {
            issue.assignees = strings(&body["assignees"]);
        }
    }
    issue.updated_at = at;
    let new_labels: Vec<String> = issue
        .labels
        .iter()
        .filter(|l| !labels_known.contains(l))
        .cloned()
        .collect();
    for name in new_labels {
        let id = world.id();
        let repo = world.repos.get_mut(key).expect("known");
        repo.labels.insert(
            name.clone(),
            Label {
                id,
                color: "ededed".into(),
                description: None,
            },
        );
    }
    Ok(())
}

async fn update_pull(State(world): S, UrlPath(params): P, body: Bytes) -> Response {
    let body = match parse_body(&body) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let mut world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let Some(number) = parse_number(&params).filter(|n| {
        world.repos[&key]
            .issue(*n)
            .is_some_and(|i| i.pull.is_some())
    }) else {
        return not_found();
    };
    if let Err(response) = patch_issue(&mut world, &key, number, &body, false) {
        return response;
    }
    let repo = &world.repos[&key];
    ok(&pull_json(
        &world.base,
        repo,
        repo.issue(number).expect("exists"),
    ))
}

async fn list_reviews(State(world): S, UrlPath(params): P, Query(query): Q) -> Response {
    let world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let repo = &world.repos[&key];
    let Some((number, pull)) = parse_number(&params)
        .and_then(|n| repo.issue(n))
        .and_then(|i| Some((i.number, i.pull.as_ref()?)))
    else {
        return not_found();
    };
    let items = pull
        .reviews
        .iter()
        .map(|r| review_json(&world.base, repo, number, r))
        .collect();
    paginate(
        &world.base,
        repo,
        &format!("pulls/{number}/reviews"),
        &query,
        items,
    )
}

async fn request_reviewers(State(world): S, UrlPath(params): P, body: Bytes) -> Response {
    let body = match parse_body(&body) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let mut world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let login = world.login.clone();
    let repo = world.repos.get_mut(&key).expect("known");
    let Some(issue) = parse_number(&params).and_then(|n| repo.issue_mut(n)) else {
        return not_found();
    };
    let author = issue.user.clone();
    let Some(pull) = issue.pull.as_mut() else {
        return not_found();
    };
    let reviewers = strings(&body["reviewers"]);
    if reviewers.iter().any(|r| *r == author || *r == login) {
        return unprocessable("Review cannot be requested from pull request author.");
    }
    for reviewer in reviewers {
        if !pull.requested_reviewers.contains(&reviewer) {
            pull.requested_reviewers.push(reviewer);
        }
    }
    let number = issue.number;
    let repo = &world.repos[&key];
    json_response(
        StatusCode::CREATED,
        &pull_json(&world.base, repo, repo.issue(number).expect("exists")),
    )
}

async fn list_issues(State(world): S, UrlPath(params): P, Query(query): Q) -> Response {
    let world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let repo = &world.repos[&key];
    let state = query.get("state").map_or("open", String::as_str);
    let items = repo
        .issues
        .iter()
        .rev()
        .filter(|i| state == "all" || i.state == state)
        .map(|i| issue_json(&world.base, repo, i))
        .collect();
    paginate(&world.base, repo, "issues", &query, items)
}

async fn create_issue(State(world): S, UrlPath(params): P, body: Bytes) -> Response {
    let body = match parse_body(&body) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let mut world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let Some(title) = body["title"].as_str() else {
        return validation(&[
            json!({"resource": "Issue", "code": "missing_field", "field": "title"}),
        ]);
    };
    let login = world.login.clone();
    let number = new_issue(
        &mut world,
        &key,
        title,
        body["body"].as_str().map(str::to_owned),
        login,
        None,
    );
    if body.get("labels").is_some() || body.get("assignees").is_some() {
        let _ = patch_issue(&mut world, &key, number, &body, true);
    }
    let repo = &world.repos[&key];
    created(
        &issue_json(&world.base, repo, repo.issue(number).expect("exists")),
        &format!("{}/repos/{key}/issues/{number}", world.base),
    )
}

async fn get_issue(State(world): S, UrlPath(params): P) -> Response {
    let world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let repo = &world.repos[&key];
    parse_number(&params)
        .and_then(|n| repo.issue(n))
        .map_or_else(not_found, |i| ok(&issue_json(&world.base, repo, i)))
}

async fn update_issue(State(world): S, UrlPath(params): P, body: Bytes) -> Response {
    let body = match parse_body(&body) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let mut world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let Some(number) = parse_number(&params) else {
        return not_found();
    };
    if let Err(response) = patch_issue(&mut world, &key, number, &body, true) {
        return response;
    }
    let repo = &world.repos[&key];
    ok(&issue_json(
        &world.base,
        repo,
        repo.issue(number).expect("exists"),
    ))
}

async fn add_labels(State(world): S, UrlPath(params): P, body: Bytes) -> Response {
    let body = match parse_body(&body) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let mut world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let Some(number) = parse_number(&params).filter(|n| world.repos[&key].issue(*n).is_some())
    else {
        return not_found();
    };
    // `{"labels": [...]}` or a bare array, as GitHub accepts both.
    let wanted = if body.is_array() {
        strings(&body)
    } else {
        strings(&body["labels"])
    };
    let mut labels = world.repos[&key]
        .issue(number)
        .expect("exists")
        .labels
        .clone();
    for label in wanted {
        if !labels.contains(&label) {
            labels.push(label);
        }
    }
    if let Err(response) = patch_issue(&mut world, &key, number, &json!({"labels": labels}), true) {
        return response;
    }
    let repo = &world.repos[&key];
    let out: Vec<_> = repo
        .issue(number)
        .expect("exists")
        .labels
        .iter()
        .map(|l| label_json(&world.base, repo, l))
        .collect();
    ok(&Value::Array(out))
}

async fn create_label(State(world): S, UrlPath(params): P, body: Bytes) -> Response {
    let body = match parse_body(&body) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let mut world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let Some(name) = body["name"].as_str().map(str::to_owned) else {
        return validation(&[
            json!({"resource": "Label", "code": "missing_field", "field": "name"}),
        ]);
    };
    let color = body["color"]
        .as_str()
        .unwrap_or("ededed")
        .trim_start_matches('#')
        .to_owned();
    if color.len() != 6 || !color.chars().all(|c| c.is_ascii_hexdigit()) {
        return validation(&[json!({"resource": "Label", "code": "invalid", "field": "color"})]);
    }
    if world.repos[&key].labels.contains_key(&name) {
        return validation(&[
            json!({"resource": "Label", "code": "already_exists", "field": "name"}),
        ]);
    }
    let id = world.id();
    let repo = world.repos.get_mut(&key).expect("known");
    repo.labels.insert(
        name.clone(),
        Label {
            id,
            color,
            description: body["description"].as_str().map(str::to_owned),
        },
    );
    let repo = &world.repos[&key];
    json_response(StatusCode::CREATED, &label_json(&world.base, repo, &name))
}

async fn create_status(State(world): S, UrlPath(params): P, body: Bytes) -> Response {
    let body = match parse_body(&body) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let mut world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let sha = params["sha"].clone();
    let state = body["state"].as_str().unwrap_or_default().to_owned();
    if !["error", "failure", "pending", "success"].contains(&state.as_str()) {
        return validation(&[
            json!({"resource": "Status", "code": "custom", "field": "state",
            "message": "state is not included in the list"}),
        ]);
    }
    if object_exists(&world.repos[&key].git(), &sha).is_none() {
        return unprocessable(&format!("No commit found for SHA: {sha}"));
    }
    let (id, at) = (world.id(), world.now());
    let status = Status {
        id,
        sha: sha.clone(),
        state,
        context: body["context"].as_str().unwrap_or("default").to_owned(),
        description: body["description"].as_str().map(str::to_owned),
        target_url: body["target_url"].as_str().map(str::to_owned),
        at,
    };
    let repo = world.repos.get_mut(&key).expect("known");
    repo.statuses.push(status.clone());
    let repo = &world.repos[&key];
    created(
        &status_json(&world.base, repo, &status, true),
        &format!("{}/repos/{key}/statuses/{sha}", world.base),
    )
}

/// The commit a `{ref}` path segment names (branch, tag or SHA).
fn commit_for(repo: &Repo, spec: &str) -> Option<String> {
    resolve(&repo.git(), spec).map(|oid| oid.to_string())
}

async fn list_statuses(State(world): S, UrlPath(params): P, Query(query): Q) -> Response {
    let world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let repo = &world.repos[&key];
    let Some(sha) = commit_for(repo, &params["ref"]) else {
        return not_found();
    };
    let items = repo
        .statuses
        .iter()
        .rev()
        .filter(|s| s.sha == sha)
        .map(|s| status_json(&world.base, repo, s, true))
        .collect();
    paginate(
        &world.base,
        repo,
        &format!("commits/{sha}/statuses"),
        &query,
        items,
    )
}

/// The combined status: the latest status per context; `pending` when there are none at
/// all (GitHub's quirk that adapters must not read as a signal).
async fn combined_status(State(world): S, UrlPath(params): P) -> Response {
    let world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let repo = &world.repos[&key];
    let Some(sha) = commit_for(repo, &params["ref"]) else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("No commit found for SHA: {}", params["ref"]),
        );
    };
    let mut latest: Vec<&Status> = Vec::new();
    for status in repo.statuses.iter().filter(|s| s.sha == sha) {
        if let Some(slot) = latest.iter_mut().find(|s| s.context == status.context) {
            *slot = status;
        } else {
            latest.push(status);
        }
    }
    let state = if latest
        .iter()
        .any(|s| s.state == "failure" || s.state == "error")
    {
        "failure"
    } else if latest.is_empty() || latest.iter().any(|s| s.state == "pending") {
        "pending"
    } else {
        "success"
    };
    let base = &world.base;
    ok(&json!({
        "state": state,
        "statuses": latest.iter().map(|s| status_json(base, repo, s, false)).collect::<Vec<_>>(),
        "sha": sha,
        "total_count": latest.len(),
        "repository": repo_json(base, repo),
        "commit_url": format!("{base}/repos/{key}/commits/{sha}"),
        "url": format!("{base}/repos/{key}/commits/{sha}/status"),
    }))
}

async fn list_check_runs(State(world): S, UrlPath(params): P, Query(query): Q) -> Response {
    let world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let repo = &world.repos[&key];
    let Some(sha) = commit_for(repo, &params["ref"]) else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("No commit found for SHA: {}", params["ref"]),
        );
    };
    // `filter=latest` (the default): the most recent run per name.
    let all = query.get("filter").is_some_and(|f| f == "all");
    let mut runs: Vec<&CheckRun> = Vec::new();
    for run in repo.check_runs.iter().filter(|r| r.sha == sha) {
        match runs.iter_mut().find(|r| r.name == run.name) {
            Some(slot) if !all => *slot = run,
            _ => runs.push(run),
        }
    }
    let per_page = query
        .get("per_page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(30)
        .clamp(1, 100);
    let page = query
        .get("page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let shown: Vec<_> = runs
        .iter()
        .rev()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|r| check_run_json(&world.base, repo, r))
        .collect();
    ok(&json!({"total_count": runs.len(), "check_runs": shown}))
}

async fn create_check_run(State(world): S, UrlPath(params): P, body: Bytes) -> Response {
    let body = match parse_body(&body) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let mut world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let (Some(name), Some(sha)) = (body["name"].as_str(), body["head_sha"].as_str()) else {
        return validation(&[
            json!({"resource": "CheckRun", "code": "missing_field", "field": "name"}),
        ]);
    };
    let (id, at) = (world.id(), world.now());
    let run = CheckRun {
        id,
        sha: sha.to_owned(),
        name: name.to_owned(),
        status: body["status"].as_str().unwrap_or("queued").to_owned(),
        conclusion: body["conclusion"].as_str().map(str::to_owned),
        details_url: body["details_url"].as_str().map(str::to_owned),
        at,
    };
    let repo = world.repos.get_mut(&key).expect("known");
    repo.check_runs.push(run.clone());
    let repo = &world.repos[&key];
    json_response(
        StatusCode::CREATED,
        &check_run_json(&world.base, repo, &run),
    )
}

async fn get_protection(State(world): S, UrlPath(params): P) -> Response {
    let world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    world.repos[&key]
        .protection
        .get(&params["branch"])
        .map_or_else(|| error(StatusCode::NOT_FOUND, "Branch not protected"), ok)
}

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
    let branch = params["branch"].clone();
    let url = format!("{}/repos/{key}/branches/{branch}/protection", world.base);
    let flag = |value: bool| json!({"enabled": value});
    let mut out = json!({
        "url": url,
        "required_signatures": {"url": format!("{url}/required_signatures"), "enabled": false},
        "enforce_admins": {"url": format!("{url}/enforce_admins"), "enabled": body["enforce_admins"].as_bool().unwrap_or(false)},
        "required_linear_history": flag(body["required_linear_history"].as_bool().unwrap_or(false)),
        "allow_force_pushes": flag(body["allow_force_pushes"].as_bool().unwrap_or(false)),
        "allow_deletions": flag(body["allow_deletions"].as_bool().unwrap_or(false)),
        "block_creations": flag(false),
        "required_conversation_resolution": flag(false),
        "lock_branch": flag(false),
        "allow_fork_syncing": flag(false),
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
    let people = |value: &Value, url: &str| {
        let users: Vec<Value> = strings(&value["users"])
            .iter()
            .map(|u| user_json(&base, u))
            .collect();
        let teams: Vec<Value> = strings(&value["teams"])
            .iter()
            .map(|slug| team_json(&base, &key, slug))
            .collect();
        json!({
            "url": url,
            "users_url": format!("{url}/users"),
            "teams_url": format!("{url}/teams"),
            "users": users,
            "teams": teams,
            "apps": [],
        })
    };
    if let Some(reviews) = body["required_pull_request_reviews"].as_object() {
        let mut r = Value::Object(reviews.clone());
        r["url"] = json!(format!("{url}/required_pull_request_reviews"));
        if r.get("required_approving_review_count").is_none() {
            r["required_approving_review_count"] = json!(1);
        }
        if let Some(dismissal) = reviews.get("dismissal_restrictions") {
            r["dismissal_restrictions"] =
                people(dismissal, &format!("{url}/dismissal_restrictions"));
        }
        out["required_pull_request_reviews"] = r;
    }
    if body["restrictions"].is_object() {
        let mut r = people(&body["restrictions"], &format!("{url}/restrictions"));
        r["apps_url"] = json!(format!("{url}/restrictions/apps"));
        out["restrictions"] = r;
    }
    let repo = world.repos.get_mut(&key).expect("known");
    repo.protection.insert(branch, out.clone());
    ok(&out)
}

async fn delete_protection(State(world): S, UrlPath(params): P) -> Response {
    let mut world = lock(&world);
    let key = match repo_key(&world, &params) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let repo = world.repos.get_mut(&key).expect("known");
    if repo.protection.remove(&params["branch"]).is_some() {
        StatusCode::NO_CONTENT.into_response()
    } else {
        error(StatusCode::NOT_FOUND, "Branch not protected")
    }
}

fn graphql_error(field: &str, kind: &str, message: &str) -> Response {
    ok(&json!({
        "data": {field: null},
        "errors": [{
            "type": kind,
            "path": [field],
            "locations": [{"line": 2, "column": 3}],
            "message": message,
        }]
    }))
}

/// `POST /graphql`, for the one mutation upkeep uses: `updateRefs`, which applies every
/// ref update of one repository atomically, each guarded by its `beforeOid`.
async fn graphql(State(world): S, body: Bytes) -> Response {
    let body = match parse_body(&body) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let query = body["query"].as_str().unwrap_or_default();
    if !query.contains("updateRefs") {
        return ok(
            &json!({"errors": [{"message": "the fake GitHub only answers the updateRefs mutation"}]}),
        );
    }
    let input = &body["variables"]["input"];
    let world = lock(&world);
    let Some(repo) = input["repositoryId"]
        .as_str()
        .and_then(|id| world.repos.values().find(|r| node_id("R_", r.id) == id))
    else {
        return graphql_error(
            "updateRefs",
            "NOT_FOUND",
            &format!(
                "Could not resolve to a node with the global id of '{}'",
                input["repositoryId"]
            ),
        );
    };
    let git = repo.git();
    let zero = Oid::ZERO_SHA1;
    let mut planned = Vec::new();
    for update in input["refUpdates"].as_array().into_iter().flatten() {
        let Some(name) = update["name"].as_str().filter(|n| n.starts_with("refs/")) else {
            return graphql_error(
                "updateRefs",
                "UNPROCESSABLE",
                "A ref name must be fully qualified",
            );
        };
        let Some(after) = update["afterOid"]
            .as_str()
            .and_then(|s| Oid::from_str(s).ok())
        else {
            return graphql_error(
                "updateRefs",
                "UNPROCESSABLE",
                "afterOid is not a valid object id",
            );
        };
        let current = git.find_reference(name).ok().and_then(|r| r.target());
        if let Some(before) = update["beforeOid"].as_str() {
            let before = Oid::from_str(before).unwrap_or(zero);
            if current.unwrap_or(zero) != before {
                return graphql_error(
                    "updateRefs",
                    "STALE_DATA",
                    &format!(
                        "Expected {name} to point to \"{before}\" but it did not. Pull and try again."
                    ),
                );
            }
        }
        if after != zero && git.find_commit(after).is_err() {
            return graphql_error(
                "updateRefs",
                "NOT_FOUND",
                &format!("Could not resolve to a Commit with the oid of '{after}'"),
            );
        }
        let force = update["force"].as_bool().unwrap_or(false);
        if let Some(current) = current
            && !force
            && after != zero
            && !is_ancestor(&git, current, after)
        {
            return graphql_error(
                "updateRefs",
                "UNPROCESSABLE",
                &format!("Update of {name} is not a fast forward"),
            );
        }
        planned.push((name.to_owned(), after));
    }
    for (name, after) in planned {
        if after == zero {
            if let Ok(mut reference) = git.find_reference(&name) {
                reference.delete().expect("delete ref");
            }
        } else {
            git.reference(&name, after, true, "updateRefs")
                .expect("update ref");
        }
    }
    ok(&json!({"data": {"updateRefs": {"clientMutationId": input["clientMutationId"]}}}))
}

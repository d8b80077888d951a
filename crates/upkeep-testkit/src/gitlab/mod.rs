//! A fake of the GitLab v4 REST API on `127.0.0.1:0`, for the `gitlab` crate.
//!
//! What it serves (paths under `/api/v4`, optionally behind a path prefix such as a
//! self-hosted `https://example.com/gitlab`): the current user (the `gitlab` crate's
//! constructor calls it), users by username, projects by URL-encoded path
//! (`group%2Fsub%2Fname`) or numeric id, merge requests (list with filters, create,
//! read, edit) with `iid` per project and a global `id`, approvals, reviewers (with each
//! reviewer's review state), branches (with `protected`, `developers_can_push` and the
//! token user's `can_push`), protected branches (list, read, protect, update, unprotect;
//! Maintainer only), compare, repository tags (list, create), pipelines and commit
//! statuses (list, create: statuses are the jobs of the commit's pipelines, a posted one
//! joins the newest pipeline or a new `external` one, and a pipeline's status is worked
//! out from its jobs, as on GitLab); and, at `/api/graphql`, a merge request's
//! `allowsMultipleReviewers` / `allowsMultipleAssignees`.
//!
//! Git data lives in real bare repositories ([`crate::bare::BareRepo`]): a branch moved
//! with `git push` is seen by the API, and the reverse. A `pre-receive` hook applies
//! GitLab's protected-branch checks to pushes, with GitLab's messages (see
//! `protection.rs`); the default branch `main` is protected for Maintainers, as on a new
//! GitLab project. The fake behaves as GitLab Free unless told otherwise ([`Tier`]). **Test seam:** each project's
//! `http_url_to_repo` is the local path of its bare repository, so an adapter that
//! pushes to `http_url_to_repo` really pushes (with `git receive-pack`, ref locks and
//! hooks) without a git HTTP server.
//!
//! Answers have GitLab's shapes: pagination headers (`x-page`, `x-per-page`,
//! `x-next-page`, `x-prev-page`, `x-total`, `x-total-pages`, `link`), error bodies such
//! as `{"message":"404 Project Not Found"}`, `{"message":"401 Unauthorized"}` and
//! `{"error":"insufficient_scope","error_description":"…","scope":"api"}`. Requests must
//! carry the token in `PRIVATE-TOKEN` (or `Authorization: Bearer`); writes need the
//! `api` scope ([`FakeGitLab::set_scopes`]). Faults, latency and per-endpoint request
//! counts come from [`crate::faults`]; endpoints are named by their route pattern, e.g.
//! `Endpoint::post("/api/v4/projects/{id}/merge_requests")`.

// Helpers that create things return ids that most tests ignore; `status` fields mirror
// GitLab's JSON names.
#![allow(
    clippy::must_use_candidate,
    clippy::assigning_clones,
    clippy::struct_field_names
)]

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use git2::Oid;
use serde_json::{Value, json};
use tempfile::TempDir;

mod graphql;
mod groups;
mod protection;

use protection::Rule;

use crate::bare::{BareRepo, CommitMeta};
use crate::faults::Faults;
use crate::git::Clock;

/// The token the fake accepts unless [`FakeGitLab::set_token`] says otherwise.
pub const TOKEN: &str = "glpat-fake-token-0123456789";
/// The username of the token's owner.
pub const BOT: &str = "upkeep-bot";

/// The licence tier the fake behaves as. Where the tiers differ for upkeep:
/// - multiple reviewers and multiple assignees on a merge request are Premium: on Free,
///   GitLab keeps the first id of `reviewer_ids` / `assignee_ids` and silently drops the
///   rest (`MergeRequests::BaseService#filter_reviewer`,
///   `IssuableBaseService#filter_assignees_using_checks`), and GraphQL's
///   `allowsMultipleReviewers` / `allowsMultipleAssignees` are `false`;
/// - "Prevent merge when you request changes" is Premium: on Free a reviewer's "Request
///   changes" shows in the reviewers API (`state: requested_changes`) but never as
///   `detailed_merge_status: requested_changes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tier {
    /// GitLab Free (the default).
    #[default]
    Free,
    /// GitLab Premium or Ultimate.
    Premium,
}
const TIME: &str = "2024-01-01T00:00:00.000Z";

#[derive(Debug, Clone)]
struct MergeRequest {
    id: u64,
    iid: u64,
    title: String,
    description: String,
    state: String,
    source_branch: String,
    target_branch: String,
    labels: Vec<String>,
    assignees: Vec<u64>,
    reviewers: Vec<u64>,
    /// Reviewer id → `requested_changes` / `approved` / `reviewed` (absent: `unreviewed`).
    review_states: HashMap<u64, String>,
    approved_by: Vec<u64>,
    merge_commit_sha: Option<String>,
    /// The head's tip when merged or closed (the branch may be gone later).
    frozen_sha: Option<String>,
}

/// A pipeline: its status is not stored but worked out from its jobs, as GitLab does
/// (`Gitlab::Ci::Status::Composite`).
#[derive(Debug, Clone)]
struct Pipeline {
    id: u64,
    sha: String,
    ref_: String,
    /// `push` for a pipeline of `.gitlab-ci.yml`, `external` for the one GitLab creates to
    /// hold the statuses posted for a commit that has no pipeline.
    source: &'static str,
}

/// A job of a pipeline, or an external status (GitLab keeps those as jobs of a pipeline
/// too, in stage `external`). `GET …/statuses` lists both.
#[derive(Debug, Clone)]
struct Status {
    id: u64,
    pipeline_id: u64,
    sha: String,
    name: String,
    stage: &'static str,
    status: String,
    target_url: Option<String>,
    allow_failure: bool,
}

impl Project {
    /// The pipeline an external status for `sha` joins: the newest pipeline of the commit,
    /// else a new `external` one (`Ci::CreateCommitStatusService#find_or_create_pipeline`).
    fn pipeline_for_status(&mut self, sha: &str, new_id: u64) -> u64 {
        if let Some(p) = self
            .pipelines
            .iter()
            .filter(|p| p.sha == sha)
            .max_by_key(|p| p.id)
        {
            return p.id;
        }
        self.pipelines.push(Pipeline {
            id: new_id,
            sha: sha.to_owned(),
            ref_: "main".to_owned(),
            source: "external",
        });
        new_id
    }

    /// The jobs of a pipeline that are not retried: the newest per name
    /// (`CommitStatus.latest`).
    fn latest_jobs(&self, pipeline: u64) -> Vec<&Status> {
        let mut seen = BTreeSet::new();
        let mut jobs: Vec<&Status> = self
            .statuses
            .iter()
            .filter(|s| s.pipeline_id == pipeline)
            .collect();
        jobs.sort_by_key(|s| std::cmp::Reverse(s.id));
        jobs.retain(|s| seen.insert(s.name.clone()));
        jobs
    }

    /// A pipeline's status from its latest jobs, in the order of GitLab's
    /// `Gitlab::Ci::Status::Composite#status`; a failed, canceled or manual job that is
    /// allowed to fail is "ignored".
    fn pipeline_status(&self, pipeline: u64) -> &'static str {
        let states: BTreeSet<&str> = self
            .latest_jobs(pipeline)
            .into_iter()
            .map(|s| {
                let ignorable = matches!(s.status.as_str(), "failed" | "canceled" | "manual");
                if s.allow_failure && ignorable {
                    "ignored"
                } else {
                    s.status.as_str()
                }
            })
            .collect();
        let only = |allowed: &[&str]| states.iter().all(|s| allowed.contains(s));
        let any = |wanted: &[&str]| states.iter().any(|s| wanted.contains(s));
        if only(&["skipped", "ignored"]) {
            "skipped"
        } else if only(&["success", "skipped", "ignored"]) {
            "success"
        } else if only(&["created", "ignored"]) {
            "created"
        } else if only(&["preparing", "ignored"]) {
            "preparing"
        } else if only(&["canceled", "success", "skipped", "ignored"]) {
            "canceled"
        } else if only(&["pending", "created", "skipped", "ignored"]) {
            "pending"
        } else if any(&["running", "pending"]) {
            "running"
        } else if any(&["waiting_for_resource"]) {
            "waiting_for_resource"
        } else if any(&["manual"]) {
            "manual"
        } else if any(&["scheduled"]) {
            "scheduled"
        } else if any(&["preparing"]) {
            "preparing"
        } else if any(&["created"]) {
            "running"
        } else {
            "failed"
        }
    }
}

struct Project {
    id: u64,
    path: String,
    bare: BareRepo,
    next_iid: u64,
    mrs: Vec<MergeRequest>,
    pipelines: Vec<Pipeline>,
    statuses: Vec<Status>,
    /// The token's user's access level (`permissions.project_access`); `None` shows no
    /// membership.
    access_level: Option<u32>,
    /// Protected-branch rules.
    rules: Vec<Rule>,
    /// Topics (`topics`, and `tag_list` as before 14.0).
    topics: Vec<String>,
    /// Archived (read-only).
    archived: bool,
    /// The project this one was forked from (`forked_from_project`).
    forked_from: Option<u64>,
}

impl Project {
    /// Rewrites what the `pre-receive` hook checks (after a rule or the role changed).
    fn sync_policy(&self) {
        protection::write_policy(self.bare.path(), &self.rules, self.access_level);
    }
}

struct World {
    token: String,
    scopes: Vec<String>,
    users: Vec<(u64, String)>,
    projects: Vec<Project>,
    next_id: u64,
    base_url: String,
    dir: std::path::PathBuf,
    clock: Clock,
    tier: Tier,
}

impl World {
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn project(&self, key: &str) -> Option<&Project> {
        match key.parse::<u64>() {
            Ok(id) => self.projects.iter().find(|p| p.id == id),
            Err(_) => self.projects.iter().find(|p| p.path == key),
        }
    }

    fn project_mut(&mut self, key: &str) -> Option<&mut Project> {
        match key.parse::<u64>() {
            Ok(id) => self.projects.iter_mut().find(|p| p.id == id),
            Err(_) => self.projects.iter_mut().find(|p| p.path == key),
        }
    }

    fn user_id(&mut self, username: &str) -> u64 {
        if let Some((id, _)) = self.users.iter().find(|(_, u)| u == username) {
            return *id;
        }
        let id = self.id();
        self.users.push((id, username.to_owned()));
        id
    }

    fn user_json(&self, id: u64) -> Value {
        let username = self
            .users
            .iter()
            .find(|(i, _)| *i == id)
            .map_or("ghost", |(_, u)| u.as_str());
        json!({
            "id": id,
            "username": username,
            "name": username,
            "state": "active",
            "locked": false,
            "avatar_url": null,
            "web_url": format!("{}/{username}", self.base_url),
        })
    }

    fn project_json(&self, p: &Project) -> Value {
        let name = p.path.rsplit('/').next().unwrap_or(&p.path);
        let namespace = p.path.rsplit_once('/').map_or("", |(ns, _)| ns);
        let mut value = json!({
            "id": p.id,
            "name": name,
            "path": name,
            "path_with_namespace": p.path,
            "name_with_namespace": p.path.replace('/', " / "),
            "default_branch": "main",
            "visibility": "private",
            // The test seam: a local path git can push to.
            "http_url_to_repo": p.bare.path().display().to_string(),
            "ssh_url_to_repo": format!("git@fake-gitlab:{}.git", p.path),
            "web_url": format!("{}/{}", self.base_url, p.path),
            "namespace": {"full_path": namespace, "path": namespace.rsplit('/').next().unwrap_or(namespace)},
            "archived": p.archived,
            "topics": p.topics,
            "tag_list": p.topics,
            "empty_repo": p.bare.branches().is_empty(),
            "forks_count": 0,
            "created_at": TIME,
            "last_activity_at": TIME,
            "permissions": {
                "project_access": p.access_level.map(|level| json!({"access_level": level, "notification_level": 3})),
                "group_access": null,
            },
        });
        // GitLab shows `forked_from_project` on forks only.
        if let Some(parent) = p
            .forked_from
            .and_then(|id| self.projects.iter().find(|q| q.id == id))
        {
            value["forked_from_project"] = json!({
                "id": parent.id,
                "path_with_namespace": parent.path,
                "name": parent.path.rsplit('/').next().unwrap_or(&parent.path),
                "web_url": format!("{}/{}", self.base_url, parent.path),
            });
        }
        value
    }

    fn mr_json(&self, p: &Project, mr: &MergeRequest) -> Value {
        let sha = mr
            .frozen_sha
            .clone()
            .or_else(|| p.bare.tip(&mr.source_branch).map(|o| o.to_string()));
        let draft = is_draft(&mr.title);
        // The merge check behind this status is Premium ("Prevent merge when you request
        // changes"); Free shows the reviewer's state only in the reviewers API.
        let changes_requested = self.tier == Tier::Premium
            && mr.review_states.values().any(|s| s == "requested_changes");
        let detailed = match mr.state.as_str() {
            "opened" if changes_requested => "requested_changes",
            "opened" if draft => "draft_status",
            "opened" => "mergeable",
            _ => "not_open",
        };
        let users = |ids: &[u64]| ids.iter().map(|id| self.user_json(*id)).collect::<Vec<_>>();
        json!({
            "id": mr.id,
            "iid": mr.iid,
            "project_id": p.id,
            "title": mr.title,
            "description": mr.description,
            "state": mr.state,
            "created_at": TIME,
            "updated_at": TIME,
            "merged_at": if mr.state == "merged" { Value::from(TIME) } else { Value::Null },
            "closed_at": if mr.state == "closed" { Value::from(TIME) } else { Value::Null },
            "target_branch": mr.target_branch,
            "source_branch": mr.source_branch,
            "source_project_id": p.id,
            "target_project_id": p.id,
            "author": self.user_json(1),
            "assignee": mr.assignees.first().map(|id| self.user_json(*id)),
            "assignees": users(&mr.assignees),
            "reviewers": users(&mr.reviewers),
            "labels": mr.labels,
            "draft": draft,
            "work_in_progress": draft,
            "merge_when_pipeline_succeeds": false,
            "merge_status": "can_be_merged",
            "detailed_merge_status": detailed,
            "sha": sha,
            "merge_commit_sha": mr.merge_commit_sha,
            "squash_commit_sha": null,
            "user_notes_count": 0,
            "should_remove_source_branch": null,
            "force_remove_source_branch": false,
            "squash": false,
            "references": {
                "short": format!("!{}", mr.iid),
                "relative": format!("!{}", mr.iid),
                "full": format!("{}!{}", p.path, mr.iid),
            },
            "web_url": format!("{}/{}/-/merge_requests/{}", self.base_url, p.path, mr.iid),
            "has_conflicts": false,
            "blocking_discussions_resolved": true,
        })
    }
}

fn is_draft(title: &str) -> bool {
    let t = title.trim_start().to_ascii_lowercase();
    ["draft:", "[draft]", "(draft)"]
        .iter()
        .any(|m| t.starts_with(m))
}

fn commit_json(base_url: &str, path: &str, c: &CommitMeta) -> Value {
    let time = chrono::DateTime::from_timestamp(c.time, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    json!({
        "id": c.id.to_string(),
        "short_id": c.id.to_string()[..8].to_owned(),
        "title": c.subject,
        "message": c.message,
        "author_name": c.author_name,
        "author_email": c.author_email,
        "authored_date": time,
        "committer_name": c.author_name,
        "committer_email": c.author_email,
        "committed_date": time,
        "created_at": time,
        "parent_ids": c.parents.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "web_url": format!("{base_url}/{path}/-/commit/{}", c.id),
    })
}

type Shared = Arc<Mutex<World>>;

fn lock(world: &Shared) -> MutexGuard<'_, World> {
    world.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running fake GitLab. Dropping it stops serving and deletes its repositories.
pub struct FakeGitLab {
    addr: SocketAddr,
    prefix: String,
    world: Shared,
    faults: Faults,
    server: tokio::task::JoinHandle<()>,
    _dir: TempDir,
}

impl Drop for FakeGitLab {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeGitLab {
    /// Starts a fake on `127.0.0.1:0`, API at `/api/v4`.
    pub async fn start() -> Self {
        Self::start_with_prefix("").await
    }

    /// Starts a fake serving behind a path prefix (`/gitlab` → `/gitlab/api/v4`), as a
    /// self-hosted GitLab under a sub-path does.
    pub async fn start_with_prefix(prefix: &str) -> Self {
        let prefix = prefix.trim_end_matches('/').to_owned();
        let dir = tempfile::Builder::new()
            .prefix("fake-gitlab-")
            .tempdir()
            .expect("temp dir");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let world = Arc::new(Mutex::new(World {
            token: TOKEN.to_owned(),
            scopes: vec!["api".to_owned()],
            users: vec![(1, BOT.to_owned())],
            projects: Vec::new(),
            next_id: 1000,
            base_url: format!("http://{addr}{prefix}"),
            dir: dir.path().to_owned(),
            clock: Clock::default(),
            tier: Tier::Free,
        }));
        let faults = Faults::new();
        let api = router(world.clone());
        let app = if prefix.is_empty() {
            api
        } else {
            Router::new().nest(&prefix, api)
        };
        // Git over smart HTTP at the project's web URL + `.git`, as GitLab's Workhorse
        // serves it; not in the request log (the API's counts), as on the real service
        // these are git's requests, not the API's.
        let git = GitHttp {
            world: world.clone(),
            prefix: prefix.clone(),
        };
        let app = faults
            .wrap(app)
            .fallback(move |request: Request| git_http(git.clone(), request));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            addr,
            prefix,
            world,
            faults,
            server,
            _dir: dir,
        }
    }

    /// The instance URL to give a client: `http://127.0.0.1:PORT[/prefix]`.
    pub fn base_url(&self) -> String {
        format!("http://{}{}", self.addr, self.prefix)
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Fault injection and the request log.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Accept only `token` from now on.
    pub fn set_token(&self, token: &str) {
        lock(&self.world).token = token.to_owned();
    }

    /// Behave as GitLab Free (the default) or Premium; see [`Tier`].
    pub fn set_tier(&self, tier: Tier) {
        lock(&self.world).tier = tier;
    }

    /// The token's scopes (default `["api"]`). Without `api`, writes answer 403
    /// `insufficient_scope`; without `api` or `read_api`, reads do too.
    pub fn set_scopes(&self, scopes: &[&str]) {
        lock(&self.world).scopes = scopes.iter().map(|s| (*s).to_owned()).collect();
    }

    /// Creates project `path` (`group/sub/name`) with a bare repository whose `main` has
    /// one commit. Returns the project id.
    pub fn create_project(&self, path: &str) -> u64 {
        let mut world = lock(&self.world);
        let id = world.id();
        let bare = BareRepo::init(
            world.dir.join(format!("{}.git", path.replace('/', "__"))),
            world.clock.clone(),
        );
        bare.commit_on("main", "Initial commit");
        protection::install_hook(bare.path());
        // The instance default: the default branch fully protected.
        let (rule, push, merge) = (world.id(), world.id(), world.id());
        let project = Project {
            id,
            path: path.to_owned(),
            bare,
            next_iid: 1,
            mrs: Vec::new(),
            pipelines: Vec::new(),
            statuses: Vec::new(),
            access_level: Some(protection::MAINTAINER),
            rules: vec![Rule {
                id: rule,
                name: "main".to_owned(),
                push: vec![(push, protection::MAINTAINER)],
                merge: vec![(merge, protection::MAINTAINER)],
                allow_force_push: false,
            }],
            topics: Vec::new(),
            archived: false,
            forked_from: None,
        };
        project.sync_policy();
        world.projects.push(project);
        id
    }

    /// Protects `name` (a branch or a wildcard such as `release/*`) as `POST
    /// /protected_branches` would: `push` and `merge` are access levels (0 no one, 30
    /// Developers + Maintainers, 40 Maintainers, 60 admins). Replaces an existing rule of
    /// that name.
    pub fn protect_branch(
        &self,
        path: &str,
        name: &str,
        push: u32,
        merge: u32,
        allow_force_push: bool,
    ) {
        let mut world = lock(&self.world);
        let ids = (world.id(), world.id(), world.id());
        let project = world
            .project_mut(path)
            .unwrap_or_else(|| panic!("no project {path}"));
        project.rules.retain(|r| r.name != name);
        project.rules.push(Rule {
            id: ids.0,
            name: name.to_owned(),
            push: vec![(ids.1, push)],
            merge: vec![(ids.2, merge)],
            allow_force_push,
        });
        project.sync_policy();
    }

    /// Removes the rule named `name`.
    pub fn unprotect_branch(&self, path: &str, name: &str) {
        let mut world = lock(&self.world);
        let project = world
            .project_mut(path)
            .unwrap_or_else(|| panic!("no project {path}"));
        project.rules.retain(|r| r.name != name);
        project.sync_policy();
    }

    /// The access level of the token's user on project `path` as `permissions.project_access`
    /// reports it (default 40, Maintainer; 30 Developer, 20 Reporter, ...); `None` reports
    /// no membership (as for an administrator). The role counts where GitLab counts it:
    /// `permissions`, the branches' `can_push`, the protected-branches API (Maintainer and
    /// up) and pushes (Developer and up push code; protected branches need what their rule
    /// says).
    pub fn set_access_level(&self, path: &str, level: Option<u32>) {
        let mut world = lock(&self.world);
        let project = world
            .project_mut(path)
            .unwrap_or_else(|| panic!("no project {path}"));
        project.access_level = level;
        project.sync_policy();
    }

    /// The project's bare repository (to commit, move branches, merge behind the API).
    pub fn bare(&self, path: &str) -> BareRepo {
        lock(&self.world)
            .project(path)
            .unwrap_or_else(|| panic!("no project {path}"))
            .bare
            .clone()
    }

    /// Adds a commit to `branch` (created from `main` if missing); returns its SHA.
    pub fn commit(&self, path: &str, branch: &str, message: &str) -> String {
        self.bare(path).commit_on(branch, message).to_string()
    }

    /// Points `branch` at `sha`.
    pub fn set_branch(&self, path: &str, branch: &str, sha: &str) {
        self.bare(path)
            .set_branch(branch, Oid::from_str(sha).expect("sha"));
    }

    /// The tip of `branch`.
    pub fn branch_tip(&self, path: &str, branch: &str) -> Option<String> {
        self.bare(path).tip(branch).map(|o| o.to_string())
    }

    /// Adds a user; returns the id.
    pub fn add_user(&self, username: &str) -> u64 {
        lock(&self.world).user_id(username)
    }

    /// Adds a pipeline for `sha` whose one job, `test`, is in `status` (`success`,
    /// `failed`, `running`, `manual`, ...), so the pipeline is too: every GitLab pipeline
    /// has jobs, and its status is theirs. Returns the pipeline id.
    pub fn add_pipeline(&self, path: &str, sha: &str, status: &str) -> u64 {
        let mut world = lock(&self.world);
        let (id, job) = (world.id(), world.id());
        let base_url = world.base_url.clone();
        let project = world.project_mut(path).expect("project");
        project.pipelines.push(Pipeline {
            id,
            sha: sha.to_owned(),
            ref_: "main".to_owned(),
            source: "push",
        });
        project.statuses.push(Status {
            id: job,
            pipeline_id: id,
            sha: sha.to_owned(),
            name: "test".to_owned(),
            stage: "test",
            status: status.to_owned(),
            target_url: Some(format!("{base_url}/{}/-/jobs/{job}", project.path)),
            allow_failure: false,
        });
        id
    }

    /// Adds a status named `name` to `sha` (`pending`, `running`, `success`, `failed`,
    /// `canceled`), as a job of the commit's newest pipeline or of a new `external` one,
    /// as GitLab keeps posted statuses; `allow_failure` as a job of `.gitlab-ci.yml` may
    /// have it. A later status of the same name in the same pipeline retries this one.
    pub fn add_status(&self, path: &str, sha: &str, name: &str, status: &str, allow_failure: bool) {
        let mut world = lock(&self.world);
        let (id, pipeline) = (world.id(), world.id());
        let project = world.project_mut(path).expect("project");
        let pipeline_id = project.pipeline_for_status(sha, pipeline);
        project.statuses.push(Status {
            id,
            pipeline_id,
            sha: sha.to_owned(),
            name: name.to_owned(),
            stage: "external",
            status: status.to_owned(),
            target_url: Some(format!("https://ci.example/{name}/{id}")),
            allow_failure,
        });
    }

    fn with_mr<T>(&self, path: &str, iid: u64, f: impl FnOnce(&mut World, usize, usize) -> T) -> T {
        let mut world = lock(&self.world);
        let p = world
            .projects
            .iter()
            .position(|p| p.path == path)
            .expect("project");
        let m = world.projects[p]
            .mrs
            .iter()
            .position(|m| m.iid == iid)
            .expect("merge request");
        f(&mut world, p, m)
    }

    /// `username` approves merge request `iid` (and is no longer asking for changes).
    pub fn approve(&self, path: &str, iid: u64, username: &str) {
        self.with_mr(path, iid, |world, p, m| {
            let uid = world.user_id(username);
            let mr = &mut world.projects[p].mrs[m];
            if !mr.approved_by.contains(&uid) {
                mr.approved_by.push(uid);
            }
            mr.review_states.insert(uid, "approved".to_owned());
        });
    }

    /// `username` withdraws an approval.
    pub fn unapprove(&self, path: &str, iid: u64, username: &str) {
        self.with_mr(path, iid, |world, p, m| {
            let uid = world.user_id(username);
            let mr = &mut world.projects[p].mrs[m];
            mr.approved_by.retain(|u| *u != uid);
            mr.review_states.remove(&uid);
        });
    }

    /// `username` asks for changes as a reviewer (GitLab 17), withdrawing an approval.
    pub fn request_changes(&self, path: &str, iid: u64, username: &str) {
        self.with_mr(path, iid, |world, p, m| {
            let uid = world.user_id(username);
            let mr = &mut world.projects[p].mrs[m];
            mr.approved_by.retain(|u| *u != uid);
            if !mr.reviewers.contains(&uid) {
                mr.reviewers.push(uid);
            }
            mr.review_states.insert(uid, "requested_changes".to_owned());
        });
    }

    /// Merges merge request `iid` with a merge commit, as the merge button does; returns
    /// the merge commit.
    pub fn merge(&self, path: &str, iid: u64) -> String {
        self.with_mr(path, iid, |world, p, m| {
            let project = &mut world.projects[p];
            let mr = &mut project.mrs[m];
            let head = project.bare.tip(&mr.source_branch).expect("source branch");
            let merge = project.bare.merge(
                &mr.target_branch,
                &mr.source_branch,
                &format!(
                    "Merge branch '{}' into '{}'",
                    mr.source_branch, mr.target_branch
                ),
            );
            mr.state = "merged".to_owned();
            mr.merge_commit_sha = Some(merge.to_string());
            mr.frozen_sha = Some(head.to_string());
            merge.to_string()
        })
    }

    /// Closes merge request `iid` without merging.
    pub fn close(&self, path: &str, iid: u64) {
        self.with_mr(path, iid, |world, p, m| {
            let project = &mut world.projects[p];
            let mr = &mut project.mrs[m];
            mr.frozen_sha = project.bare.tip(&mr.source_branch).map(|o| o.to_string());
            mr.state = "closed".to_owned();
        });
    }

    /// Every merge request of the project, as the API shows them, oldest first.
    pub fn merge_requests(&self, path: &str) -> Vec<Value> {
        let world = lock(&self.world);
        let project = world.project(path).expect("project");
        project
            .mrs
            .iter()
            .map(|mr| world.mr_json(project, mr))
            .collect()
    }
}

// ----- git over HTTP ---------------------------------------------------------------------

#[derive(Clone)]
struct GitHttp {
    world: Shared,
    prefix: String,
}

/// `<prefix>/<project path>.git/<service>` (`info/refs`, `git-upload-pack`,
/// `git-receive-pack`) with HTTP Basic credentials whose password is the token (GitLab
/// takes any username with a personal access token, `oauth2` included): the project's
/// bare repository through `git http-backend`, its `pre-receive` hook included. Wrong or
/// no credentials: `401` with `WWW-Authenticate`, as GitLab answers, before anything is
/// said about the project; an unknown project: `404`.
async fn git_http(git: GitHttp, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let Some((project, service)) = path
        .strip_prefix(git.prefix.as_str())
        .and_then(|rest| rest.strip_prefix('/'))
        .and_then(|rest| rest.split_once(".git/"))
    else {
        return message(StatusCode::NOT_FOUND, "404 Not Found");
    };
    // Credentials first, as GitLab asks for them before it says whether a project
    // exists (a request without them to an unknown project is a 401 too).
    let (token, bare) = {
        let w = lock(&git.world);
        (
            w.token.clone(),
            w.project(project).map(|p| p.bare.path().to_owned()),
        )
    };
    let password = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(basic_password);
    if password.as_deref() != Some(token.as_str()) {
        let mut denied = (
            StatusCode::UNAUTHORIZED,
            "HTTP Basic: Access denied. If a password was provided for Git authentication, the \
             password was incorrect or you're required to use a token instead of a password.",
        )
            .into_response();
        denied.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"GitLab\""),
        );
        return denied;
    }
    let Some(bare) = bare else {
        return message(StatusCode::NOT_FOUND, "404 Project Not Found");
    };
    let (Some(root), Some(name)) = (bare.parent(), bare.file_name()) else {
        return message(StatusCode::NOT_FOUND, "404 Project Not Found");
    };
    let path_info = format!("/{}/{service}", name.to_string_lossy());
    crate::git::git_http_backend(Arc::new(root.to_owned()), path_info, request).await
}

/// The password of an HTTP Basic `Authorization` header.
fn basic_password(value: &str) -> Option<String> {
    use base64::Engine as _;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    text.split_once(':').map(|(_, p)| p.to_owned())
}

// ----- HTTP -----------------------------------------------------------------------------

fn router(world: Shared) -> Router {
    let api = Router::new()
        .route("/user", get(current_user))
        .route("/users", get(users))
        .route("/projects/{id}", get(project))
        .route("/groups/{id}/projects", get(groups::projects))
        .route(
            "/projects/{id}/merge_requests",
            get(list_mrs).post(create_mr),
        )
        .route(
            "/projects/{id}/merge_requests/{iid}",
            get(get_mr).put(edit_mr),
        )
        .route(
            "/projects/{id}/merge_requests/{iid}/approvals",
            get(approvals),
        )
        .route(
            "/projects/{id}/merge_requests/{iid}/reviewers",
            get(reviewers),
        )
        .route(
            "/projects/{id}/protected_branches",
            get(protected_branches).post(protect_branch),
        )
        .route(
            "/projects/{id}/protected_branches/{name}",
            get(protected_branch)
                .patch(update_protected_branch)
                .delete(unprotect_branch),
        )
        .route("/projects/{id}/repository/branches", get(branches))
        .route("/projects/{id}/repository/branches/{branch}", get(branch))
        .route("/projects/{id}/repository/compare", get(compare))
        .route("/projects/{id}/repository/tags", get(tags).post(create_tag))
        .route("/projects/{id}/pipelines", get(pipelines))
        .route(
            "/projects/{id}/repository/commits/{sha}/statuses",
            get(statuses),
        )
        .route(
            "/projects/{id}/statuses/{sha}",
            axum::routing::post(create_status),
        )
        .fallback(|| async { error(StatusCode::NOT_FOUND, json!({"error": "404 Not Found"})) })
        .layer(middleware::from_fn_with_state(world.clone(), auth))
        .with_state(world.clone());
    let graphql = Router::new()
        .route("/api/graphql", axum::routing::post(graphql::handle))
        .layer(middleware::from_fn_with_state(world.clone(), auth))
        .with_state(world);
    Router::new().nest("/api/v4", api).merge(graphql)
}

fn error(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn message(status: StatusCode, message: impl Into<String>) -> Response {
    error(status, json!({ "message": message.into() }))
}

fn no_project() -> Response {
    message(StatusCode::NOT_FOUND, "404 Project Not Found")
}

/// `PRIVATE-TOKEN` (or a bearer token) must match; reads need `api` or `read_api`,
/// writes need `api`.
async fn auth(State(world): State<Shared>, request: Request, next: Next) -> Response {
    let (token, scopes) = {
        let w = lock(&world);
        (w.token.clone(), w.scopes.clone())
    };
    let headers = request.headers();
    let given = headers
        .get("private-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| {
            headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::to_owned)
        });
    if given.as_deref() != Some(token.as_str()) {
        return message(StatusCode::UNAUTHORIZED, "401 Unauthorized");
    }
    // A GraphQL query is a read (`read_api` suffices), though sent with POST.
    let write = request.method() != Method::GET && !request.uri().path().ends_with("/api/graphql");
    let has = |s: &str| scopes.iter().any(|x| x == s);
    let allowed = has("api") || (!write && has("read_api"));
    if !allowed {
        return error(
            StatusCode::FORBIDDEN,
            json!({
                "error": "insufficient_scope",
                "error_description": "The request requires higher privileges than provided by the access token.",
                "scope": "api",
            }),
        );
    }
    next.run(request).await
}

/// Answers one page of `items` with GitLab's pagination headers.
fn paged(
    items: Vec<Value>,
    query: &HashMap<String, String>,
    base_url: &str,
    path: &str,
) -> Response {
    let per_page = query
        .get("per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(20)
        .clamp(1, 100);
    let page = query
        .get("page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let total = items.len();
    let total_pages = total.div_ceil(per_page).max(1);
    let chunk: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let next = if page < total_pages { page + 1 } else { 0 };
    let link_to = |p: usize, rel: &str| {
        let mut q: Vec<(String, String)> = query
            .iter()
            .filter(|(k, _)| k.as_str() != "page" && k.as_str() != "per_page")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        q.sort();
        let mut pairs = url::form_urlencoded::Serializer::new(String::new());
        pairs.append_pair("page", &p.to_string());
        pairs.append_pair("per_page", &per_page.to_string());
        for (k, v) in &q {
            pairs.append_pair(k, v);
        }
        format!("<{base_url}{path}?{}>; rel=\"{rel}\"", pairs.finish())
    };
    let mut links = Vec::new();
    if next != 0 {
        links.push(link_to(next, "next"));
    }
    if page > 1 {
        links.push(link_to(page - 1, "prev"));
    }
    links.push(link_to(1, "first"));
    links.push(link_to(total_pages, "last"));
    let mut response = (StatusCode::OK, axum::Json(Value::Array(chunk))).into_response();
    let h = response.headers_mut();
    let mut set = |name: &'static str, value: String| {
        h.insert(name, HeaderValue::from_str(&value).expect("header value"));
    };
    set("x-page", page.to_string());
    set("x-per-page", per_page.to_string());
    set("x-total", total.to_string());
    set("x-total-pages", total_pages.to_string());
    set(
        "x-next-page",
        if next == 0 {
            String::new()
        } else {
            next.to_string()
        },
    );
    set(
        "x-prev-page",
        if page > 1 {
            (page - 1).to_string()
        } else {
            String::new()
        },
    );
    set("link", links.join(", "));
    response
}

/// A request body as key → values: form-encoded (what the `gitlab` crate sends) or JSON.
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(headers: &HeaderMap, body: &Bytes) -> Self {
        let json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if json {
            let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let mut out = Vec::new();
            if let Value::Object(map) = value {
                for (k, v) in map {
                    match v {
                        Value::Array(items) => {
                            for i in items {
                                out.push((format!("{k}[]"), value_text(&i)));
                            }
                        }
                        other => out.push((k, value_text(&other))),
                    }
                }
            }
            return Self(out);
        }
        Self(
            url::form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `key[]` repeated, or `key` as a comma-separated list; `Some(vec![])` for `0`.
    fn ids(&self, key: &str) -> Option<Vec<u64>> {
        let list_key = format!("{key}[]");
        let listed: Vec<u64> = self
            .0
            .iter()
            .filter(|(k, _)| *k == list_key)
            .filter_map(|(_, v)| v.parse().ok())
            .collect();
        if !listed.is_empty() {
            return Some(listed.into_iter().filter(|id| *id != 0).collect());
        }
        self.get(key).map(|v| {
            v.split(',')
                .filter_map(|x| x.trim().parse().ok())
                .filter(|id| *id != 0)
                .collect()
        })
    }

    fn labels(&self) -> Option<Vec<String>> {
        self.get("labels").map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect()
        })
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

async fn current_user(State(world): State<Shared>) -> Response {
    let w = lock(&world);
    axum::Json(w.user_json(1)).into_response()
}

async fn users(State(world): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let w = lock(&world);
    let found: Vec<Value> = w
        .users
        .iter()
        .filter(|(_, u)| {
            q.get("username")
                .is_none_or(|want| u.eq_ignore_ascii_case(want))
        })
        .map(|(id, _)| w.user_json(*id))
        .collect();
    paged(found, &q, &w.base_url, "/api/v4/users")
}

async fn project(State(world): State<Shared>, Path(id): Path<String>) -> Response {
    let w = lock(&world);
    match w.project(&id) {
        Some(p) => axum::Json(w.project_json(p)).into_response(),
        None => no_project(),
    }
}

async fn list_mrs(
    State(world): State<Shared>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let w = lock(&world);
    let Some(p) = w.project(&id) else {
        return no_project();
    };
    let mut mrs: Vec<&MergeRequest> = p
        .mrs
        .iter()
        .filter(|mr| match q.get("state").map(String::as_str) {
            None | Some("all") => true,
            Some(state) => mr.state == state,
        })
        .filter(|mr| {
            q.get("source_branch")
                .is_none_or(|b| *b == mr.source_branch)
        })
        .filter(|mr| {
            q.get("target_branch")
                .is_none_or(|b| *b == mr.target_branch)
        })
        .collect();
    mrs.sort_by_key(|mr| std::cmp::Reverse(mr.iid));
    let items = mrs.into_iter().map(|mr| w.mr_json(p, mr)).collect();
    paged(
        items,
        &q,
        &w.base_url,
        &format!("/api/v4/projects/{}/merge_requests", p.id),
    )
}

async fn create_mr(
    State(world): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = Params::parse(&headers, &body);
    let mut w = lock(&world);
    let mr_id = w.id();
    let Some(p) = w.project(&id) else {
        return no_project();
    };
    let (Some(source), Some(target)) = (params.get("source_branch"), params.get("target_branch"))
    else {
        return error(
            StatusCode::BAD_REQUEST,
            json!({"error": "source_branch is missing, target_branch is missing"}),
        );
    };
    let Some(title) = params.get("title").filter(|t| !t.is_empty()) else {
        return error(
            StatusCode::BAD_REQUEST,
            json!({"error": "title is missing"}),
        );
    };
    if p.bare.tip(source).is_none() {
        return message(
            StatusCode::BAD_REQUEST,
            json!([format!("Source branch \"{source}\" does not exist")]).to_string(),
        );
    }
    if p.bare.tip(target).is_none() {
        return message(
            StatusCode::BAD_REQUEST,
            json!([format!("Target branch \"{target}\" does not exist")]).to_string(),
        );
    }
    if let Some(existing) = p
        .mrs
        .iter()
        .find(|mr| mr.state == "opened" && mr.source_branch == source && mr.target_branch == target)
    {
        return error(
            StatusCode::CONFLICT,
            json!({"message": [format!("Another open merge request already exists for this source branch: !{}", existing.iid)]}),
        );
    }
    let mr = MergeRequest {
        id: mr_id,
        iid: p.next_iid,
        title: title.to_owned(),
        description: params.get("description").unwrap_or_default().to_owned(),
        state: "opened".to_owned(),
        source_branch: source.to_owned(),
        target_branch: target.to_owned(),
        labels: params.labels().unwrap_or_default(),
        assignees: limit(w.tier, params.ids("assignee_ids").unwrap_or_default()),
        reviewers: limit(w.tier, params.ids("reviewer_ids").unwrap_or_default()),
        review_states: HashMap::new(),
        approved_by: Vec::new(),
        merge_commit_sha: None,
        frozen_sha: None,
    };
    let p = w.project_mut(&id).expect("project");
    p.next_iid += 1;
    p.mrs.push(mr.clone());
    let p = w.project(&id).expect("project");
    (StatusCode::CREATED, axum::Json(w.mr_json(p, &mr))).into_response()
}

async fn get_mr(State(world): State<Shared>, Path((id, iid)): Path<(String, u64)>) -> Response {
    let w = lock(&world);
    let Some(p) = w.project(&id) else {
        return no_project();
    };
    match p.mrs.iter().find(|mr| mr.iid == iid) {
        Some(mr) => axum::Json(w.mr_json(p, mr)).into_response(),
        None => message(StatusCode::NOT_FOUND, "404 Not found"),
    }
}

async fn edit_mr(
    State(world): State<Shared>,
    Path((id, iid)): Path<(String, u64)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = Params::parse(&headers, &body);
    let mut w = lock(&world);
    let tier = w.tier;
    let Some(p) = w.project_mut(&id) else {
        return no_project();
    };
    let tip_of = |b: &str| p.bare.tip(b);
    if let Some(target) = params.get("target_branch")
        && tip_of(target).is_none()
    {
        return message(
            StatusCode::BAD_REQUEST,
            json!([format!("Target branch \"{target}\" does not exist")]).to_string(),
        );
    }
    let Some(mr) = p.mrs.iter_mut().find(|mr| mr.iid == iid) else {
        return message(StatusCode::NOT_FOUND, "404 Not found");
    };
    if let Some(title) = params.get("title") {
        mr.title = title.to_owned();
    }
    if let Some(description) = params.get("description") {
        mr.description = description.to_owned();
    }
    if let Some(target) = params.get("target_branch") {
        mr.target_branch = target.to_owned();
    }
    if let Some(labels) = params.labels() {
        mr.labels = labels;
    }
    if let Some(ids) = params.ids("assignee_ids") {
        mr.assignees = limit(tier, ids);
    }
    if let Some(ids) = params.ids("reviewer_ids") {
        mr.reviewers = limit(tier, ids);
    }
    match params.get("state_event") {
        Some("close") => mr.state = "closed".to_owned(),
        Some("reopen") => mr.state = "opened".to_owned(),
        _ => {}
    }
    let mr = mr.clone();
    let p = w.project(&id).expect("project");
    axum::Json(w.mr_json(p, &mr)).into_response()
}

async fn approvals(State(world): State<Shared>, Path((id, iid)): Path<(String, u64)>) -> Response {
    let w = lock(&world);
    let Some(p) = w.project(&id) else {
        return no_project();
    };
    let Some(mr) = p.mrs.iter().find(|mr| mr.iid == iid) else {
        return message(StatusCode::NOT_FOUND, "404 Not found");
    };
    axum::Json(json!({
        "id": mr.id,
        "iid": mr.iid,
        "project_id": p.id,
        "title": mr.title,
        "state": mr.state,
        "approved": true,
        "approvals_required": 0,
        "approvals_left": 0,
        "approved_by": mr.approved_by.iter().map(|u| json!({"user": w.user_json(*u)})).collect::<Vec<_>>(),
        "user_has_approved": mr.approved_by.contains(&1),
        "user_can_approve": true,
    }))
    .into_response()
}

/// Free keeps the first of several reviewers or assignees, in the order given.
fn limit(tier: Tier, mut ids: Vec<u64>) -> Vec<u64> {
    if tier == Tier::Free {
        ids.truncate(1);
    }
    ids
}

/// `GET /projects/:id/merge_requests/:iid/reviewers` (all tiers): each reviewer with the
/// state of their review.
async fn reviewers(State(world): State<Shared>, Path((id, iid)): Path<(String, u64)>) -> Response {
    let w = lock(&world);
    let Some(p) = w.project(&id) else {
        return no_project();
    };
    let Some(mr) = p.mrs.iter().find(|mr| mr.iid == iid) else {
        return message(StatusCode::NOT_FOUND, "404 Not found");
    };
    let items: Vec<Value> = mr
        .reviewers
        .iter()
        .map(|uid| {
            json!({
                "user": w.user_json(*uid),
                "state": mr.review_states.get(uid).map_or("unreviewed", String::as_str),
                "created_at": TIME,
            })
        })
        .collect();
    axum::Json(Value::Array(items)).into_response()
}

/// The protected-branches API needs the Maintainer role (`authorize_admin_project`).
fn maintainer_only(p: &Project) -> Option<Response> {
    (p.access_level.unwrap_or(protection::MAINTAINER) < protection::MAINTAINER)
        .then(|| message(StatusCode::FORBIDDEN, "403 Forbidden"))
}

async fn protected_branches(
    State(world): State<Shared>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let w = lock(&world);
    let Some(p) = w.project(&id) else {
        return no_project();
    };
    if let Some(denied) = maintainer_only(p) {
        return denied;
    }
    let items = p
        .rules
        .iter()
        .filter(|r| q.get("search").is_none_or(|s| r.name.contains(s.as_str())))
        .map(Rule::json)
        .collect();
    paged(
        items,
        &q,
        &w.base_url,
        &format!("/api/v4/projects/{}/protected_branches", p.id),
    )
}

async fn protected_branch(
    State(world): State<Shared>,
    Path((id, name)): Path<(String, String)>,
) -> Response {
    let w = lock(&world);
    let Some(p) = w.project(&id) else {
        return no_project();
    };
    if let Some(denied) = maintainer_only(p) {
        return denied;
    }
    match p.rules.iter().find(|r| r.name == name) {
        Some(rule) => axum::Json(rule.json()).into_response(),
        None => message(StatusCode::NOT_FOUND, "404 Not found"),
    }
}

/// An access level parameter (default Maintainer); `Err` names the parameter.
fn access_level_param<'a>(params: &Params, key: &'a str) -> Result<u32, &'a str> {
    match params.get(key) {
        None => Ok(protection::MAINTAINER),
        Some(v) => match v.parse::<u32>() {
            Ok(level @ (0 | 30 | 40 | 60)) => Ok(level),
            _ => Err(key),
        },
    }
}

async fn protect_branch(
    State(world): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = Params::parse(&headers, &body);
    let mut w = lock(&world);
    let ids = (w.id(), w.id(), w.id());
    let Some(p) = w.project_mut(&id) else {
        return no_project();
    };
    if let Some(denied) = maintainer_only(p) {
        return denied;
    }
    let Some(name) = params.get("name").filter(|n| !n.is_empty()) else {
        return error(StatusCode::BAD_REQUEST, json!({"error": "name is missing"}));
    };
    if p.rules.iter().any(|r| r.name == name) {
        return message(
            StatusCode::CONFLICT,
            format!("Protected branch '{name}' already exists"),
        );
    }
    let (push, merge) = match (
        access_level_param(&params, "push_access_level"),
        access_level_param(&params, "merge_access_level"),
    ) {
        (Ok(push), Ok(merge)) => (push, merge),
        (Err(key), _) | (_, Err(key)) => {
            return error(
                StatusCode::BAD_REQUEST,
                json!({"error": format!("{key} does not have a valid value")}),
            );
        }
    };
    let rule = Rule {
        id: ids.0,
        name: name.to_owned(),
        push: vec![(ids.1, push)],
        merge: vec![(ids.2, merge)],
        allow_force_push: params.get("allow_force_push") == Some("true"),
    };
    p.rules.push(rule.clone());
    p.sync_policy();
    (StatusCode::CREATED, axum::Json(rule.json())).into_response()
}

async fn update_protected_branch(
    State(world): State<Shared>,
    Path((id, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = Params::parse(&headers, &body);
    let mut w = lock(&world);
    let Some(p) = w.project_mut(&id) else {
        return no_project();
    };
    if let Some(denied) = maintainer_only(p) {
        return denied;
    }
    let Some(rule) = p.rules.iter_mut().find(|r| r.name == name) else {
        return message(StatusCode::NOT_FOUND, "404 Not found");
    };
    if let Some(v) = params.get("allow_force_push") {
        rule.allow_force_push = v == "true";
    }
    let json = rule.json();
    p.sync_policy();
    axum::Json(json).into_response()
}

async fn unprotect_branch(
    State(world): State<Shared>,
    Path((id, name)): Path<(String, String)>,
) -> Response {
    let mut w = lock(&world);
    let Some(p) = w.project_mut(&id) else {
        return no_project();
    };
    if let Some(denied) = maintainer_only(p) {
        return denied;
    }
    let before = p.rules.len();
    p.rules.retain(|r| r.name != name);
    if p.rules.len() == before {
        return message(StatusCode::NOT_FOUND, "404 Not found");
    }
    p.sync_policy();
    StatusCode::NO_CONTENT.into_response()
}

fn branch_json(w: &World, p: &Project, name: &str, tip: Oid) -> Value {
    let commit = p.bare.commit(tip).expect("branch commit");
    let v = protection::verdict(&p.rules, name, p.access_level);
    json!({
        "name": name,
        "commit": commit_json(&w.base_url, &p.path, &commit),
        "merged": false,
        "protected": v.protected,
        "default": name == "main",
        "developers_can_push": v.developers_can_push,
        "developers_can_merge": v.developers_can_merge,
        // The token's user's own right to push there (`UserAccess#can_push_to_branch?`).
        "can_push": v.can_push,
        "web_url": format!("{}/{}/-/tree/{name}", w.base_url, p.path),
    })
}

async fn branches(
    State(world): State<Shared>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let w = lock(&world);
    let Some(p) = w.project(&id) else {
        return no_project();
    };
    let items = p
        .bare
        .branches()
        .into_iter()
        .map(|(name, tip)| branch_json(&w, p, &name, tip))
        .collect();
    paged(
        items,
        &q,
        &w.base_url,
        &format!("/api/v4/projects/{}/repository/branches", p.id),
    )
}

async fn branch(State(world): State<Shared>, Path((id, name)): Path<(String, String)>) -> Response {
    let w = lock(&world);
    let Some(p) = w.project(&id) else {
        return no_project();
    };
    match p.bare.tip(&name) {
        Some(tip) => axum::Json(branch_json(&w, p, &name, tip)).into_response(),
        None => message(StatusCode::NOT_FOUND, "404 Branch Not Found"),
    }
}

async fn compare(
    State(world): State<Shared>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let w = lock(&world);
    let Some(p) = w.project(&id) else {
        return no_project();
    };
    let resolve = |key: &str| q.get(key).and_then(|rev| p.bare.resolve(rev));
    let (Some(from), Some(to)) = (resolve("from"), resolve("to")) else {
        return message(StatusCode::NOT_FOUND, "404 Ref Not Found");
    };
    let straight = q.get("straight").is_some_and(|v| v == "true");
    let base = if straight {
        from
    } else {
        p.bare.merge_base(from, to).unwrap_or(from)
    };
    let commits: Vec<Value> = p
        .bare
        .commits_between(base, to)
        .iter()
        .map(|c| commit_json(&w.base_url, &p.path, c))
        .collect();
    axum::Json(json!({
        "commit": commits.last().cloned(),
        "commits": commits,
        "diffs": [],
        "compare_timeout": false,
        "compare_same_ref": from == to,
        "web_url": format!("{}/{}/-/compare/{from}...{to}", w.base_url, p.path),
    }))
    .into_response()
}

fn tag_json(w: &World, p: &Project, name: &str, target: Oid, message: Option<&str>) -> Value {
    let commit = p.bare.commit(target).expect("tag commit");
    json!({
        "name": name,
        "message": message,
        "target": target.to_string(),
        "commit": commit_json(&w.base_url, &p.path, &commit),
        "release": null,
        "protected": false,
        "created_at": null,
    })
}

async fn tags(
    State(world): State<Shared>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let w = lock(&world);
    let Some(p) = w.project(&id) else {
        return no_project();
    };
    let items = p
        .bare
        .tags()
        .into_iter()
        .map(|(name, target, msg)| tag_json(&w, p, &name, target, msg.as_deref()))
        .collect();
    paged(
        items,
        &q,
        &w.base_url,
        &format!("/api/v4/projects/{}/repository/tags", p.id),
    )
}

async fn create_tag(
    State(world): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = Params::parse(&headers, &body);
    let w = lock(&world);
    let Some(p) = w.project(&id) else {
        return no_project();
    };
    let (Some(name), Some(ref_)) = (params.get("tag_name"), params.get("ref")) else {
        return error(
            StatusCode::BAD_REQUEST,
            json!({"error": "tag_name is missing, ref is missing"}),
        );
    };
    if p.bare.tags().iter().any(|(n, _, _)| n == name) {
        return message(
            StatusCode::BAD_REQUEST,
            format!("Tag {name} already exists"),
        );
    }
    let Some(target) = p.bare.resolve(ref_) else {
        return message(StatusCode::BAD_REQUEST, format!("Target {ref_} is invalid"));
    };
    let msg = params.get("message").filter(|m| !m.is_empty());
    if let Err(e) = p.bare.create_tag(name, target, msg) {
        return message(StatusCode::BAD_REQUEST, e);
    }
    (
        StatusCode::CREATED,
        axum::Json(tag_json(&w, p, name, target, msg)),
    )
        .into_response()
}

async fn pipelines(
    State(world): State<Shared>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let w = lock(&world);
    let Some(p) = w.project(&id) else {
        return no_project();
    };
    let mut found: Vec<&Pipeline> = p
        .pipelines
        .iter()
        .filter(|pl| q.get("sha").is_none_or(|s| *s == pl.sha))
        .filter(|pl| q.get("ref").is_none_or(|r| *r == pl.ref_))
        .collect();
    found.sort_by_key(|pl| std::cmp::Reverse(pl.id));
    let items = found
        .into_iter()
        .map(|pl| {
            json!({
                "id": pl.id,
                "iid": pl.id - 1000,
                "project_id": p.id,
                "sha": pl.sha,
                "ref": pl.ref_,
                "status": p.pipeline_status(pl.id),
                "source": pl.source,
                "name": null,
                "created_at": TIME,
                "updated_at": TIME,
                "web_url": format!("{}/{}/-/pipelines/{}", w.base_url, p.path, pl.id),
            })
        })
        .collect();
    paged(
        items,
        &q,
        &w.base_url,
        &format!("/api/v4/projects/{}/pipelines", p.id),
    )
}

/// A status as `API::Entities::CommitStatus` exposes it (`lib/api/entities/commit_status.rb`):
/// its stage and project are not shown, its author is a `UserBasic`.
fn status_json(w: &World, p: &Project, s: &Status) -> Value {
    let ref_ = p
        .pipelines
        .iter()
        .find(|pl| pl.id == s.pipeline_id)
        .map_or("main", |pl| pl.ref_.as_str());
    json!({
        "id": s.id,
        "sha": s.sha,
        "ref": ref_,
        "status": s.status,
        "name": s.name,
        "target_url": s.target_url,
        "description": null,
        "created_at": TIME,
        "started_at": null,
        "finished_at": null,
        "allow_failure": s.allow_failure,
        "coverage": null,
        "pipeline_id": s.pipeline_id,
        "author": w.user_json(1),
    })
}

/// `GET /projects/:id/repository/commits/:sha/statuses` (`lib/api/commit_statuses.rb`):
/// the jobs of every pipeline of the commit, external statuses included, without `all`
/// only those not retried (the newest per name in each pipeline), filtered by `ref`,
/// `name`, `stage` and `pipeline_id`, ordered by `id` ascending unless `sort=desc`;
/// `404 Commit Not Found` for a commit the repository lacks.
async fn statuses(
    State(world): State<Shared>,
    Path((id, sha)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let w = lock(&world);
    let Some(p) = w.project(&id) else {
        return no_project();
    };
    if p.bare.resolve(&sha).is_none() {
        return message(StatusCode::NOT_FOUND, "404 Commit Not Found");
    }
    let all = q.get("all").is_some_and(|v| v == "true");
    let mut found: Vec<&Status> = p
        .pipelines
        .iter()
        .filter(|pl| pl.sha == sha)
        .filter(|pl| {
            q.get("pipeline_id")
                .is_none_or(|want| *want == pl.id.to_string())
        })
        .filter(|pl| q.get("ref").is_none_or(|r| *r == pl.ref_))
        .flat_map(|pl| {
            if all {
                p.statuses
                    .iter()
                    .filter(|s| s.pipeline_id == pl.id)
                    .collect()
            } else {
                p.latest_jobs(pl.id)
            }
        })
        .filter(|s| q.get("name").is_none_or(|n| *n == s.name))
        .filter(|s| q.get("stage").is_none_or(|n| n == s.stage))
        .collect();
    found.sort_by_key(|s| s.id);
    if q.get("sort").is_some_and(|v| v == "desc") {
        found.reverse();
    }
    let items = found.into_iter().map(|s| status_json(&w, p, s)).collect();
    paged(
        items,
        &q,
        &w.base_url,
        &format!(
            "/api/v4/projects/{}/repository/commits/{sha}/statuses",
            p.id
        ),
    )
}

async fn create_status(
    State(world): State<Shared>,
    Path((id, sha)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = Params::parse(&headers, &body);
    let mut w = lock(&world);
    let (status_id, new_pipeline) = (w.id(), w.id());
    let Some(p) = w.project_mut(&id) else {
        return no_project();
    };
    let Some(state) = params.get("state") else {
        return error(
            StatusCode::BAD_REQUEST,
            json!({"error": "state is missing"}),
        );
    };
    if p.bare.resolve(&sha).is_none() {
        return message(StatusCode::NOT_FOUND, "404 Commit Not Found");
    }
    let status = Status {
        id: status_id,
        pipeline_id: p.pipeline_for_status(&sha, new_pipeline),
        stage: "external",
        sha: sha.clone(),
        name: params
            .get("name")
            .or(params.get("context"))
            .unwrap_or("default")
            .to_owned(),
        status: state.to_owned(),
        target_url: params.get("target_url").map(str::to_owned),
        allow_failure: false,
    };
    p.statuses.push(status.clone());
    let p = w.project(&id).expect("project");
    (StatusCode::CREATED, axum::Json(status_json(&w, p, &status))).into_response()
}

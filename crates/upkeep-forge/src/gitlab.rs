//! The GitLab adapter: GitLab.com or a self-hosted GitLab, through the `gitlab` crate.
//!
//! ```no_run
//! # async fn demo() -> upkeep_forge::Result<()> {
//! use secrecy::SecretString;
//! use upkeep_forge::gitlab::{GitLab, GitLabOptions};
//! use upkeep_forge::{Forge, RepoId};
//!
//! let token = SecretString::from("glpat-…".to_owned());
//! let gitlab = GitLab::connect(GitLabOptions::new(
//!     "https://gitlab.example.com", // or "https://example.com/gitlab" behind a path prefix
//!     token,
//!     "/var/cache/upkeep/gitlab",   // scratch clones for branch moves
//! ))
//! .await?;
//! let tip = gitlab.branch_tip(&RepoId::new("team/services/api"), "main").await?;
//! # let _ = tip; Ok(()) }
//! ```
//!
//! # How requests are made
//!
//! The `gitlab` crate provides the client (authentication with the `PRIVATE-TOKEN`
//! header, base URLs, TLS) and most endpoint definitions (`MergeRequests`,
//! `CreateMergeRequest`, `CompareCommits`, `Pipelines`, ...); the approvals endpoint it
//! lacks is an own `impl Endpoint`. Requests are sent with `AsyncClient::rest_async` and
//! the answers read into this module's own serde types, rather than with `query_async`,
//! because its error type keeps neither the response headers (`Retry-After`,
//! `RateLimit-Reset`) nor the `scope` of an `insufficient_scope` answer, and upkeep needs
//! both. Pages are followed with `page` / `x-next-page`.
//!
//! # Quirks normalised here
//!
//! - The number of a merge request is its `iid` (`!12`, per project), never the global
//!   `id`.
//! - States: `opened` (and the transient `locked`) read as open, `merged`, `closed`.
//! - Drafts: written as a `Draft: ` title prefix (accepted by every GitLab version),
//!   read from the `draft` / `work_in_progress` fields or a `Draft:`, `[Draft]`,
//!   `(Draft)` or `WIP:` prefix, which is stripped from the title.
//! - Review state of an open merge request: **changes requested** when a reviewer's state
//!   in `GET /merge_requests/:iid/reviewers` is `requested_changes` (every tier; Premium's
//!   `detailed_merge_status: requested_changes` merge check counts too); else **approved**
//!   when `approvals` lists at least one approver and no approvals are left; else open.
//! - Reviewers and assignees are given as usernames and resolved to user ids with
//!   `GET /users?username=` (cached). GitLab Free keeps one reviewer and one assignee (the
//!   lowest id of those sent, and the `gitlab` crate sends them sorted): a merge request is
//!   opened with the first configured of each, and the others are added only where GraphQL
//!   says the merge request `allowsMultipleReviewers` / `allowsMultipleAssignees`; the rest
//!   are reported in [`Upserted::not_applied`] by the upsert that set the people, so
//!   re-runs compare with what the merge request can hold and leave it alone.
//! - Protection: [`Forge::branch_access`] reads the branch's `protected` and `can_push`
//!   (GitLab's own answer for the token's user), the user's role and, where readable
//!   (Maintainer), the rules (`/protected_branches`: who may push, force pushes).
//! - `CompareCommits` lists commits but no counts: the comparison is asked both ways.
//! - A promotion's reads ([`Forge::promotion_reads`]) take two requests: the target branch
//!   (its tip, `protected`, `developers_can_push` and `can_push`, which is enough for the
//!   refusal and its fix) and `compare?from=<target tip>&to=<source>`, whose `commit` is
//!   the source tip and whose commits' `parent_ids` tell a fast-forward (the target tip is
//!   the parent of a listed commit). Anything else (diverged, or the source behind) is
//!   left to [`Forge::compare`].
//! - CI: the commit's statuses, one list, which in GitLab hold every job of every pipeline
//!   of the commit as well as the statuses posted from outside (kept as jobs of a pipeline
//!   too); the latest per name counts, a failed or manual job that is `allow_failure`
//!   counts as skipped (GitLab shows it as a warning), and [`CiVerdict::from_checks`]
//!   merges them. A commit without any is missing, never green.
//!
//! # Moving a branch
//!
//! GitLab has no API that moves a branch to a given commit with a check of the old tip.
//! Deleting and re-creating the branch is not atomic (the branch is briefly gone, and
//! protected branches cannot be deleted) and checks nothing; merging a merge request
//! with `sha` set only fast-forwards under a project's fast-forward merge method. So the
//! branch is moved with a git push to the project's git URL over HTTP (the configured
//! template; else `http_url_to_repo`, or, when a promotion's reads saw the branch's page
//! `<web_url>/-/tree/<branch>`, `<web_url>.git`, which GitLab serves as well, so the move
//! reads nothing from the API) with an expected
//! old tip (`--force-with-lease=refs/heads/<b>:<old>`, no `+` unless a rollback is asked
//! for): GitLab's `receive-pack` updates the ref only if it still is at `<old>`, and
//! refuses a non-fast-forward, so a concurrent move loses with
//! [`ForgeError::BranchMoved`]. GitLab's `pre-receive` also applies the branch's protection:
//! a refusal ("You are not allowed to push code to protected branches on this project.",
//! "… force push …") is [`ForgeError::Forbidden`] with GitLab's words and what the token's
//! user needs. The token goes to git as the password of user `oauth2`
//! through a credential helper; it never appears in the URL, `.git/config` or argv. The
//! token needs the `write_repository` scope for this (and `api` for everything else).
//!
//! # Errors
//!
//! 401 → [`ForgeError::Unauthorized`]; 403 → [`ForgeError::Forbidden`] with the scope from
//! an `insufficient_scope` answer; 404 → [`ForgeError::NotFound`] naming the project, or
//! the branch / merge request asked for; 409 → [`ForgeError::Conflict`]; 400 and 422 →
//! [`ForgeError::Validation`]; 429 → [`ForgeError::RateLimited`] with the reset from
//! `Retry-After` or `RateLimit-Reset`; 5xx → [`ForgeError::Server`]; no answer →
//! [`ForgeError::Transport`]. 5xx, 429 and transport failures are retried by the
//! [`Retrier`]. The token is never part of an error or log line.
//!
//! # Retried creations
//!
//! Retrying is safe for reads and `PUT`s, but a `POST` that creates may have been carried
//! out although its answer was lost (a dropped connection, a 5xx from a proxy). So the
//! two creating calls note whether an attempt ended without a definite answer, and a
//! later "already exists" is checked rather than reported:
//! - opening a merge request: GitLab answers 409 for a second open merge request from
//!   the same branch; the open one is looked up and brought in line with the spec, and
//!   reported as created when an earlier attempt was uncertain and it matches the spec;
//! - creating a tag: GitLab answers 400 "already exists"; the tag is looked up, and if
//!   an earlier attempt was uncertain and the tag names the requested commit with the
//!   requested message, the creation succeeded. Otherwise (a tag that was there before,
//!   or points elsewhere) it is a [`ForgeError::Conflict`].

mod discover;
mod wire;

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use gitlab::api::common::NameOrId;
use gitlab::api::{self, AsyncClient as _, BodyError, Endpoint, UrlBase};
use gitlab::{AsyncGitlab, GitlabBuilder};
use http::{HeaderMap, Method, StatusCode};
use secrecy::{ExposeSecret as _, SecretString};
use serde::de::DeserializeOwned;
use upkeep_git::Credentials;

use crate::git_remote::{LockGuard, Remote, RepoLocks, slug};
use crate::retry::{Retrier, RetryPolicy};
use crate::{
    Access, BranchAccess, BranchMove, ChangeRequest, ChangeRequestSpec, ChangeRequestState, Check,
    CheckSource, CheckState, CiVerdict, CommitSummary, Comparison, Forge, ForgeError, ForgeKind,
    NotApplied, PersonRole, PromotionReads, RepoId, Result, Tag, UpsertAction, Upserted,
};

const KIND: ForgeKind = ForgeKind::GitLab;
const DRAFT_PREFIX: &str = "Draft: ";
const PER_PAGE: &str = "100";
/// A guard against a server that keeps sending `x-next-page`.
const MAX_PAGES: u32 = 200;

/// How to reach a GitLab instance.
#[derive(Debug, Clone)]
pub struct GitLabOptions {
    /// The instance's URL: `https://gitlab.com`, `https://git.example.com/gitlab` (a
    /// path prefix), or `http://127.0.0.1:PORT` (plain http, for tests). A trailing
    /// `/api/v4` is accepted and ignored.
    pub base_url: String,
    /// A personal, project or group access token (scopes `api` and `write_repository`).
    pub token: SecretString,
    /// Where scratch clones for branch moves are kept.
    pub work_dir: PathBuf,
    /// Retries and the per-host concurrency cap.
    pub retry: RetryPolicy,
    /// The username sent with the token to git (`oauth2` works for every token kind).
    pub git_username: String,
    /// The git URL of a project, with `{path}` standing for its full path
    /// (`ssh://git@git.example.com/{path}.git`); when unset, the project's
    /// `http_url_to_repo` is used.
    pub clone_url_template: Option<String>,
}

impl GitLabOptions {
    /// Options with the default retry policy, git user `oauth2` and the clone URLs GitLab
    /// reports.
    pub fn new(
        base_url: impl Into<String>,
        token: SecretString,
        work_dir: impl Into<PathBuf>,
    ) -> Self {
        Self {
            base_url: base_url.into(),
            token,
            work_dir: work_dir.into(),
            retry: RetryPolicy::default(),
            git_username: "oauth2".to_owned(),
            clone_url_template: None,
        }
    }

    /// The same options with another retry policy.
    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The same options with git URLs built from `template` (`{path}` = project path).
    #[must_use]
    pub fn with_clone_url_template(mut self, template: impl Into<String>) -> Self {
        self.clone_url_template = Some(template.into());
        self
    }
}

/// The GitLab adapter. Cheap to clone.
#[derive(Clone)]
pub struct GitLab {
    inner: Arc<Inner>,
}

struct Inner {
    client: AsyncGitlab,
    retrier: Retrier,
    token: SecretString,
    creds: Credentials,
    work_dir: PathBuf,
    clone_url_template: Option<String>,
    locks: Arc<RepoLocks>,
    users: Mutex<HashMap<String, u64>>,
    projects: Mutex<HashMap<String, wire::Project>>,
    /// Git URLs learnt from answers read for something else (a branch's `web_url`), so a
    /// move needs no read of the project.
    git_urls: Mutex<HashMap<String, String>>,
}

impl std::fmt::Debug for GitLab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitLab")
            .field("client", &self.inner.client)
            .field("work_dir", &self.inner.work_dir)
            .finish_non_exhaustive()
    }
}

/// Splits a base URL into what `GitlabBuilder` takes: `host[:port][/prefix]` and whether
/// the scheme is plain http.
fn builder_host(base_url: &str) -> Result<(String, bool)> {
    let setup = |message: String| ForgeError::Setup {
        forge: KIND,
        message,
    };
    let url = url::Url::parse(base_url)
        .map_err(|e| setup(format!("base URL `{base_url}` is not a URL: {e}")))?;
    let insecure = match url.scheme() {
        "https" => false,
        "http" => true,
        other => {
            return Err(setup(format!(
                "base URL `{base_url}` has scheme `{other}`, not http(s)"
            )));
        }
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(setup(
            "the base URL must not carry credentials; pass the token separately".to_owned(),
        ));
    }
    let host = url
        .host_str()
        .ok_or_else(|| setup(format!("base URL `{base_url}` has no host")))?;
    let mut out = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    let path = url.path().trim_end_matches('/');
    let path = path.strip_suffix("/api/v4").unwrap_or(path);
    out.push_str(path);
    Ok((out, insecure))
}

impl GitLab {
    /// Connects to the instance. The `gitlab` crate checks the token right away with
    /// `GET /api/v4/user`, so a wrong token fails here with
    /// [`ForgeError::Unauthorized`].
    pub async fn connect(options: GitLabOptions) -> Result<Self> {
        let (host, insecure) = builder_host(&options.base_url)?;
        let retrier = Retrier::new(options.retry.clone());
        let doing = "connecting (GET /user)";
        let client = retrier
            .run(doing, || async {
                let mut builder = GitlabBuilder::new(host.clone(), options.token.expose_secret());
                if insecure {
                    builder.insecure();
                }
                builder
                    .build_async()
                    .await
                    .map_err(|e| connect_error(doing, e))
            })
            .await?;
        tracing::debug!(host, "connected to GitLab");
        let creds = Credentials::https_token(options.token.clone())
            .with_username(options.git_username.clone());
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                retrier,
                token: options.token,
                creds,
                work_dir: options.work_dir,
                clone_url_template: options.clone_url_template,
                locks: Arc::default(),
                users: Mutex::default(),
                projects: Mutex::default(),
                git_urls: Mutex::default(),
            }),
        })
    }

    // ----- transport -------------------------------------------------------------------

    /// Sends `ep` (one page of it when `page` is set), retrying transient failures.
    /// `missing` names what a 404 means unless GitLab says the project is missing.
    async fn send<E: Endpoint + Sync>(
        &self,
        repo: &RepoId,
        doing: &str,
        missing: &str,
        ep: &E,
        page: Option<u32>,
    ) -> Result<(HeaderMap, Vec<u8>)> {
        self.send_tracked(repo, doing, missing, ep, page, &AtomicBool::new(false))
            .await
    }

    /// [`GitLab::send`], setting `uncertain` when an attempt ended without a definite
    /// answer (no response, or a 5xx): the server may have carried it out.
    async fn send_tracked<E: Endpoint + Sync>(
        &self,
        repo: &RepoId,
        doing: &str,
        missing: &str,
        ep: &E,
        page: Option<u32>,
        uncertain: &AtomicBool,
    ) -> Result<(HeaderMap, Vec<u8>)> {
        let inner = &self.inner;
        inner
            .retrier
            .run(doing, || async {
                let result = self.attempt(repo, doing, missing, ep, page).await;
                if matches!(
                    result,
                    Err(ForgeError::Transport { .. } | ForgeError::Server { .. })
                ) {
                    uncertain.store(true, Ordering::Relaxed);
                }
                result
            })
            .await
    }

    /// One attempt at sending `ep`.
    async fn attempt<E: Endpoint + Sync>(
        &self,
        repo: &RepoId,
        doing: &str,
        missing: &str,
        ep: &E,
        page: Option<u32>,
    ) -> Result<(HeaderMap, Vec<u8>)> {
        let inner = &self.inner;
        let mut url = ep
            .url_base()
            .endpoint_for(&inner.client, &ep.endpoint())
            .map_err(|e| protocol(doing, e.to_string()))?;
        ep.parameters().add_to_url(&mut url);
        if let Some(page) = page {
            url.query_pairs_mut()
                .append_pair("page", &page.to_string())
                .append_pair("per_page", PER_PAGE);
        }
        let mut request = http::Request::builder()
            .method(ep.method())
            .uri(url.as_str());
        let body = match ep.body().map_err(|e| protocol(doing, e.to_string()))? {
            Some((mime, data)) => {
                request = request.header(http::header::CONTENT_TYPE, mime);
                data
            }
            None => Vec::new(),
        };
        let response =
            inner
                .client
                .rest_async(request, body)
                .await
                .map_err(|e| ForgeError::Transport {
                    forge: KIND,
                    doing: doing.to_owned(),
                    message: self.scrub(&upkeep_text::error_chain(&e)),
                })?;
        let status = response.status();
        if status.is_success() {
            let headers = response.headers().clone();
            Ok((headers, response.into_body().to_vec()))
        } else {
            Err(self.status_error(
                repo,
                doing,
                missing,
                status,
                response.headers(),
                response.body(),
            ))
        }
    }

    /// One JSON answer.
    async fn get_one<T: DeserializeOwned, E: Endpoint + Sync>(
        &self,
        repo: &RepoId,
        doing: &str,
        missing: &str,
        ep: &E,
    ) -> Result<T> {
        let (_, body) = self.send(repo, doing, missing, ep, None).await?;
        parse(doing, &body)
    }

    /// Every page of a list.
    async fn get_all<T: DeserializeOwned, E: Endpoint + Sync>(
        &self,
        repo: &RepoId,
        doing: &str,
        missing: &str,
        ep: &E,
    ) -> Result<Vec<T>> {
        self.get_all_counted(
            repo,
            doing,
            missing,
            ep,
            &std::sync::atomic::AtomicU32::new(0),
        )
        .await
    }

    /// Every page of a list, counting the pages (requests) in `pages`.
    async fn get_all_counted<T: DeserializeOwned, E: Endpoint + Sync>(
        &self,
        repo: &RepoId,
        doing: &str,
        missing: &str,
        ep: &E,
        pages: &std::sync::atomic::AtomicU32,
    ) -> Result<Vec<T>> {
        let mut out = Vec::new();
        let mut page = 1;
        loop {
            pages.fetch_add(1, Ordering::Relaxed);
            let (headers, body) = self.send(repo, doing, missing, ep, Some(page)).await?;
            out.extend(parse::<Vec<T>>(doing, &body)?);
            let next = headers
                .get("x-next-page")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u32>().ok());
            match next {
                Some(next) if next > page && page < MAX_PAGES => page = next,
                _ => return Ok(out),
            }
        }
    }

    fn scrub(&self, text: &str) -> String {
        upkeep_text::Scrubber::new([self.inner.token.expose_secret()])
            .scrub(text)
            .into_owned()
    }

    fn status_error(
        &self,
        repo: &RepoId,
        doing: &str,
        missing: &str,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> ForgeError {
        let mut error = status_error(doing, status, headers, body);
        if let ForgeError::NotFound { what, .. } = &mut error {
            *what = if what.contains("Project Not Found") || missing.is_empty() {
                format!("project {repo}")
            } else {
                missing.to_owned()
            };
        }
        error.scrubbed(|t| self.scrub(t))
    }

    // ----- projects and users ----------------------------------------------------------

    async fn project(&self, repo: &RepoId) -> Result<wire::Project> {
        if let Some(p) = lock(&self.inner.projects).get(repo.as_str()) {
            return Ok(p.clone());
        }
        let ep = api::projects::Project::builder()
            .project(repo.as_str())
            .build()
            .map_err(|e| builder_error("reading a project", &e))?;
        let project: wire::Project = self
            .get_one(repo, &format!("reading project {repo}"), "", &ep)
            .await?;
        tracing::debug!(repo = %repo, id = project.id, path = %project.path_with_namespace, "project");
        lock(&self.inner.projects).insert(repo.as_str().to_owned(), project.clone());
        Ok(project)
    }

    /// Branch `branch`: its tip and what GitLab says about pushing to it; `None` when it
    /// does not exist.
    async fn branch(&self, repo: &RepoId, branch: &str) -> Result<Option<wire::Branch>> {
        let ep = api::projects::repository::branches::Branch::builder()
            .project(repo.as_str())
            .branch(branch)
            .build()
            .map_err(|e| builder_error("reading a branch", &e))?;
        let what = format!("branch {branch} of {repo}");
        match self
            .get_one::<wire::Branch, _>(repo, &format!("reading {what}"), &what, &ep)
            .await
        {
            Ok(b) => Ok(Some(b)),
            Err(ForgeError::NotFound { what: w, .. }) if w == what => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The users' ids, in the order given (GitLab Free keeps the first of several
    /// reviewers or assignees, so the order is the configured one), without repeats.
    async fn user_ids(&self, repo: &RepoId, usernames: &[String]) -> Result<Vec<u64>> {
        let mut ids = Vec::new();
        let mut push = |id: u64| {
            if !ids.contains(&id) {
                ids.push(id);
            }
        };
        for username in usernames {
            if let Some(id) = lock(&self.inner.users).get(username).copied() {
                push(id);
                continue;
            }
            let ep = api::users::Users::builder()
                .username(username.as_str())
                .build()
                .map_err(|e| builder_error("looking up a user", &e))?;
            let doing = format!("looking up user {username}");
            let users: Vec<wire::User> = self.get_one(repo, &doing, "", &ep).await?;
            let user = users
                .into_iter()
                .find(|u| u.username.eq_ignore_ascii_case(username))
                .ok_or_else(|| ForgeError::Validation {
                    forge: KIND,
                    doing: doing.clone(),
                    message: format!("there is no GitLab user `{username}`"),
                    errors: Vec::new(),
                })?;
            lock(&self.inner.users).insert(username.clone(), user.id);
            push(user.id);
        }
        Ok(ids)
    }

    // ----- merge requests ----------------------------------------------------------------

    async fn open_merge_request(
        &self,
        repo: &RepoId,
        head: &str,
    ) -> Result<Option<wire::MergeRequest>> {
        let ep = api::projects::merge_requests::MergeRequests::builder()
            .project(repo.as_str())
            .source_branch(head)
            .state(api::projects::merge_requests::MergeRequestState::Opened)
            .build()
            .map_err(|e| builder_error("listing merge requests", &e))?;
        let doing = format!("looking for an open merge request from {head} in {repo}");
        let mut mrs: Vec<wire::MergeRequest> = self.get_all(repo, &doing, "", &ep).await?;
        // Several can exist when opened by hand; the newest is the one upkeep keeps up.
        mrs.retain(|mr| mr.source_branch == head && mr.state == "opened");
        Ok(mrs.into_iter().max_by_key(|mr| mr.iid))
    }

    async fn merge_request(&self, repo: &RepoId, iid: u64) -> Result<wire::MergeRequest> {
        let ep = api::projects::merge_requests::MergeRequest::builder()
            .project(repo.as_str())
            .merge_request(iid)
            .build()
            .map_err(|e| builder_error("reading a merge request", &e))?;
        self.get_one(
            repo,
            &format!("reading merge request !{iid} of {repo}"),
            &format!("merge request !{iid} of {repo}"),
            &ep,
        )
        .await
    }

    async fn view(&self, repo: &RepoId, mr: wire::MergeRequest) -> Result<ChangeRequest> {
        let requested_changes = if mr.state == "opened" || mr.state == "locked" {
            self.reviewers_requesting_changes(repo, mr.iid).await?
        } else {
            Vec::new()
        };
        let ep = ApprovalsEndpoint {
            project: repo.as_str(),
            iid: mr.iid,
        };
        let approvals: wire::Approvals = self
            .get_one(
                repo,
                &format!("reading the approvals of !{} of {repo}", mr.iid),
                &format!("merge request !{} of {repo}", mr.iid),
                &ep,
            )
            .await?;
        Ok(to_change_request(mr, &approvals, &requested_changes))
    }

    /// The reviewers whose review state is "requested changes", from the reviewers API,
    /// which every tier has (`detailed_merge_status: requested_changes` is the Premium
    /// merge check built on it). A GitLab too old for the endpoint (before 15.3) has no
    /// "Request changes" either: nobody.
    async fn reviewers_requesting_changes(&self, repo: &RepoId, iid: u64) -> Result<Vec<String>> {
        let ep = SimpleGet(format!(
            "projects/{}/merge_requests/{iid}/reviewers",
            NameOrId::from(repo.as_str())
        ));
        let what = format!("the reviewers of !{iid} of {repo}");
        match self
            .get_one::<Vec<wire::Reviewer>, _>(repo, &format!("reading {what}"), &what, &ep)
            .await
        {
            Ok(reviewers) => Ok(reviewers
                .into_iter()
                .filter(|r| r.state.as_deref() == Some("requested_changes"))
                .map(|r| r.user.username)
                .collect()),
            Err(ForgeError::NotFound { what: w, .. }) if w == what => {
                tracing::debug!(repo = %repo, iid, "no reviewers endpoint (GitLab < 15.3)");
                Ok(Vec::new())
            }
            Err(e) => Err(e),
        }
    }

    /// Whether merge request `iid` takes several reviewers and several assignees (GitLab
    /// Free takes one of each), from GraphQL, which says it per merge request. `None` when
    /// GitLab cannot tell (GraphQL refused or too old): the spec is then sent as is.
    async fn people_limits(&self, repo: &RepoId, iid: u64) -> Option<(bool, bool)> {
        const QUERY: &str = "query($path: ID!, $iid: String!) { project(fullPath: $path) { \
            mergeRequest(iid: $iid) { allowsMultipleReviewers allowsMultipleAssignees } } }";
        let path = match repo.as_str().parse::<u64>() {
            Ok(_) => self.project(repo).await.ok()?.path_with_namespace,
            Err(_) => repo.as_str().to_owned(),
        };
        let body = serde_json::json!({
            "query": QUERY,
            "variables": {"path": path, "iid": iid.to_string()},
        });
        let ep = GraphQl(body.to_string().into_bytes());
        let doing = format!("asking GraphQL how many reviewers !{iid} of {repo} takes");
        let answer = self
            .get_one::<wire::GraphQlPeople, _>(repo, &doing, "", &ep)
            .await;
        match answer {
            Ok(wire::GraphQlPeople {
                data:
                    Some(wire::GraphQlData {
                        project:
                            Some(wire::GraphQlProject {
                                merge_request: Some(mr),
                            }),
                    }),
            }) => Some((mr.allows_multiple_reviewers, mr.allows_multiple_assignees)),
            other => {
                tracing::debug!(repo = %repo, iid, ?other, "GitLab does not say how many reviewers a merge request takes");
                None
            }
        }
    }

    /// The spec as this merge request can hold it: on an instance that takes one reviewer
    /// (or assignee), the first configured one, and the others reported as not applied.
    async fn effective_spec(
        &self,
        repo: &RepoId,
        iid: u64,
        spec: &ChangeRequestSpec,
    ) -> (ChangeRequestSpec, Vec<NotApplied>) {
        let mut effective = spec.clone();
        effective.reviewers = unique(&spec.reviewers);
        effective.assignees = unique(&spec.assignees);
        if effective.reviewers.len() <= 1 && effective.assignees.len() <= 1 {
            return (effective, Vec::new());
        }
        let Some((many_reviewers, many_assignees)) = self.people_limits(repo, iid).await else {
            return (effective, Vec::new());
        };
        let mut dropped = Vec::new();
        if !many_reviewers {
            dropped.extend(one_only(&mut effective.reviewers, PersonRole::Reviewer));
        }
        if !many_assignees {
            dropped.extend(one_only(&mut effective.assignees, PersonRole::Assignee));
        }
        (effective, dropped)
    }

    /// Opens a merge request; `uncertain` is set when an attempt may have opened it
    /// without the answer arriving.
    async fn create(
        &self,
        repo: &RepoId,
        spec: &ChangeRequestSpec,
        uncertain: &AtomicBool,
    ) -> Result<wire::MergeRequest> {
        let reviewers = self.user_ids(repo, &spec.reviewers).await?;
        let assignees = self.user_ids(repo, &spec.assignees).await?;
        let title = wire_title(spec);
        let mut builder = api::projects::merge_requests::CreateMergeRequest::builder();
        builder
            .project(repo.as_str())
            .source_branch(spec.head.as_str())
            .target_branch(spec.base.as_str())
            .title(title.as_str())
            .description(spec.body.as_str())
            .labels(spec.labels.iter().map(String::as_str));
        // In the configured order: an instance that takes one keeps the first.
        if !reviewers.is_empty() {
            builder.reviewers(reviewers.iter().copied());
        }
        if !assignees.is_empty() {
            builder.assignees(assignees.iter().copied());
        }
        let ep = builder
            .build()
            .map_err(|e| builder_error("opening a merge request", &e))?;
        let doing = format!("opening a merge request from {} in {repo}", spec.head);
        let (_, body) = self
            .send_tracked(repo, &doing, "", &ep, None, uncertain)
            .await?;
        parse(&doing, &body)
    }

    async fn update(
        &self,
        repo: &RepoId,
        iid: u64,
        spec: &ChangeRequestSpec,
    ) -> Result<wire::MergeRequest> {
        let reviewers = self.user_ids(repo, &spec.reviewers).await?;
        let assignees = self.user_ids(repo, &spec.assignees).await?;
        let title = wire_title(spec);
        let mut builder = api::projects::merge_requests::EditMergeRequest::builder();
        builder
            .project(repo.as_str())
            .merge_request(iid)
            .target_branch(spec.base.as_str())
            .title(title.as_str())
            .description(spec.body.as_str());
        if spec.labels.is_empty() {
            builder.clear_labels();
        } else {
            builder.labels(spec.labels.iter().map(String::as_str));
        }
        if reviewers.is_empty() {
            builder.without_reviewer();
        } else {
            builder.reviewers(reviewers.iter().copied());
        }
        if assignees.is_empty() {
            builder.unassigned();
        } else {
            builder.assignees(assignees.iter().copied());
        }
        let ep = builder
            .build()
            .map_err(|e| builder_error("updating a merge request", &e))?;
        let doing = format!("updating merge request !{iid} of {repo}");
        self.get_one(
            repo,
            &doing,
            &format!("merge request !{iid} of {repo}"),
            &ep,
        )
        .await
    }

    // ----- git -----------------------------------------------------------------------

    /// The configured template; else the project's `http_url_to_repo` when the project
    /// was read already; else the URL learnt from a branch's `web_url` (a promotion's
    /// reads); else the project is read for it.
    async fn clone_url(&self, repo: &RepoId) -> Result<String> {
        if let Some(template) = &self.inner.clone_url_template {
            return Ok(template.replace("{path}", repo.as_str()));
        }
        if let Some(p) = lock(&self.inner.projects).get(repo.as_str()) {
            return Ok(p.http_url_to_repo.clone());
        }
        if let Some(url) = lock(&self.inner.git_urls).get(repo.as_str()) {
            return Ok(url.clone());
        }
        Ok(self.project(repo).await?.http_url_to_repo)
    }

    /// Runs `work` on the project's git remote in a blocking task, holding its lock.
    async fn with_remote<T, F>(&self, repo: &RepoId, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Remote<'_>) -> Result<T> + Send + 'static,
    {
        let url = self.clone_url(repo).await?;
        let inner = self.inner.clone();
        let repo = repo.clone();
        tokio::task::spawn_blocking(move || {
            let scratch = inner.work_dir.join(format!("{}.git", slug(repo.as_str())));
            let _guard = LockGuard::acquire(inner.locks.clone(), scratch.clone());
            let mut remote = Remote::new(KIND, &repo, url, &inner.creds, scratch);
            work(&mut remote)
        })
        .await
        .map_err(|e| ForgeError::Io {
            doing: "run a git task".to_owned(),
            source: std::io::Error::other(e.to_string()),
        })?
    }
}

/// A `GET` of an API v4 path that the `gitlab` crate has no endpoint for.
struct SimpleGet(String);

impl Endpoint for SimpleGet {
    fn method(&self) -> Method {
        Method::GET
    }

    fn endpoint(&self) -> Cow<'static, str> {
        self.0.clone().into()
    }
}

/// `POST /api/graphql` (outside `/api/v4`) with a JSON body.
struct GraphQl(Vec<u8>);

impl Endpoint for GraphQl {
    fn method(&self) -> Method {
        Method::POST
    }

    fn endpoint(&self) -> Cow<'static, str> {
        "api/graphql".into()
    }

    fn url_base(&self) -> UrlBase {
        UrlBase::Instance
    }

    fn body(&self) -> std::result::Result<Option<(&'static str, Vec<u8>)>, BodyError> {
        Ok(Some(("application/json", self.0.clone())))
    }
}

/// `GET /projects/:id/merge_requests/:iid/approvals`, which the `gitlab` crate lacks.
struct ApprovalsEndpoint<'a> {
    project: &'a str,
    iid: u64,
}

impl Endpoint for ApprovalsEndpoint<'_> {
    fn method(&self) -> Method {
        Method::GET
    }

    fn endpoint(&self) -> Cow<'static, str> {
        format!(
            "projects/{}/merge_requests/{}/approvals",
            NameOrId::from(self.project),
            self.iid
        )
        .into()
    }
}

#[async_trait]
impl Forge for GitLab {
    fn kind(&self) -> ForgeKind {
        KIND
    }

    async fn find_open_change_request(
        &self,
        repo: &RepoId,
        head: &str,
    ) -> Result<Option<ChangeRequest>> {
        match self.open_merge_request(repo, head).await? {
            Some(mr) => Ok(Some(self.view(repo, mr).await?)),
            None => Ok(None),
        }
    }

    async fn upsert_change_request(
        &self,
        repo: &RepoId,
        spec: &ChangeRequestSpec,
    ) -> Result<Upserted> {
        let existing = self.open_merge_request(repo, &spec.head).await?;
        let (mr, action, not_applied) = match existing {
            None => {
                let uncertain = AtomicBool::new(false);
                // Opened with the first configured reviewer and assignee only: the `gitlab`
                // crate sends ids sorted, and GitLab Free would keep the lowest id, not the
                // first configured. The others follow below where the instance takes them.
                let mut first = spec.clone();
                first.reviewers = unique(&spec.reviewers).into_iter().take(1).collect();
                first.assignees = unique(&spec.assignees).into_iter().take(1).collect();
                match self.create(repo, &first, &uncertain).await {
                    Ok(mr) => {
                        let (effective, mut not_applied) =
                            self.effective_spec(repo, mr.iid, spec).await;
                        let mr = if matches_spec(&mr, &effective) {
                            mr
                        } else {
                            self.update(repo, mr.iid, &effective).await?
                        };
                        not_applied.extend(not_taken(&mr, &effective));
                        (mr, UpsertAction::Created, not_applied)
                    }
                    // A retried create whose first attempt did go through, or a race with
                    // another run: GitLab allows one open merge request per source branch.
                    Err(ForgeError::Conflict { .. }) => {
                        let mr = self
                            .open_merge_request(repo, &spec.head)
                            .await?
                            .ok_or_else(|| ForgeError::Conflict {
                                forge: KIND,
                                doing: format!(
                                    "opening a merge request from {} in {repo}",
                                    spec.head
                                ),
                                message: "GitLab reported a conflicting merge request that \
                                          cannot be found"
                                    .to_owned(),
                            })?;
                        let (effective, _) = self.effective_spec(repo, mr.iid, spec).await;
                        if uncertain.load(Ordering::Relaxed) && matches_spec(&mr, &effective) {
                            // Our own creation, whose answer was lost.
                            let not_applied = not_taken(&mr, spec);
                            (mr, UpsertAction::Created, not_applied)
                        } else {
                            self.reconcile(repo, mr, spec).await?
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
            Some(mr) => self.reconcile(repo, mr, spec).await?,
        };
        if action != UpsertAction::Unchanged {
            tracing::info!(repo = %repo, iid = mr.iid, head = %spec.head, ?action, "merge request");
        }
        for n in &not_applied {
            tracing::warn!(repo = %repo, user = %n.user, role = ?n.role, reason = %n.reason, "not applied");
        }
        Ok(Upserted {
            change_request: self.view(repo, mr).await?,
            action,
            not_applied,
        })
    }

    async fn change_request(&self, repo: &RepoId, number: u64) -> Result<ChangeRequest> {
        let mr = self.merge_request(repo, number).await?;
        self.view(repo, mr).await
    }

    async fn branch_tip(&self, repo: &RepoId, branch: &str) -> Result<Option<String>> {
        Ok(self.branch(repo, branch).await?.map(|b| b.commit.id))
    }

    async fn compare(&self, repo: &RepoId, base: &str, head: &str) -> Result<Comparison> {
        let ask = |from: &str, to: &str| compare_endpoint(repo, from, to);
        let doing = format!("comparing {base}...{head} of {repo}");
        let missing = format!("`{base}` or `{head}` in {repo}");
        let ahead: wire::Compare = self
            .get_one(repo, &doing, &missing, &ask(base, head)?)
            .await?;
        let behind: wire::Compare = self
            .get_one(repo, &doing, &missing, &ask(head, base)?)
            .await?;
        Ok(Comparison {
            ahead_by: ahead.commits.len(),
            behind_by: behind.commits.len(),
            commits: newest_first(ahead.commits),
            merge_base: None,
        })
    }

    /// Two requests where the plan's default takes two for the tips and five more for a
    /// repository that moves (see the module docs): the target branch, whose answer
    /// carries its tip and GitLab's own `can_push` for the token's user, then
    /// `compare?from=<target tip>&to=<source>`, whose commits carry the source tip and
    /// their parents, enough to tell a fast-forward. A source that is not ahead of the
    /// target (contained in it, or diverged) is left to [`Forge::compare`], which tells
    /// how far; a missing branch costs a read of the other one.
    async fn promotion_reads(
        &self,
        repo: &RepoId,
        source: &str,
        target: &str,
    ) -> Result<PromotionReads> {
        let Some(found) = self.branch(repo, target).await? else {
            return Ok(PromotionReads {
                source_tip: self.branch_tip(repo, source).await?,
                ..PromotionReads::default()
            });
        };
        if let Some(url) = found
            .web_url
            .as_deref()
            .and_then(|w| git_url_of_branch_page(w, target))
        {
            lock(&self.inner.git_urls).insert(repo.as_str().to_owned(), url);
        }
        let target_tip = found.commit.id;
        let target_access = Some(branch_protection(
            target,
            &found.protection,
            "GitLab's `can_push` answers for the token's user",
            None,
        ));
        let doing = format!("comparing {target}...{source} of {repo}");
        let missing = format!("`{source}` in {repo}");
        let ep = compare_endpoint(repo, &target_tip, source)?;
        let (source_tip, comparison) = match self
            .get_one::<wire::Compare, _>(repo, &doing, &missing, &ep)
            .await
        {
            Ok(cmp) => fast_forward(&target_tip, cmp),
            // "404 Ref Not Found": `to` (or, after a race, the target's old tip) is gone.
            Err(ForgeError::NotFound { what, .. }) if what == missing => (None, None),
            Err(e) => return Err(e),
        };
        let source_tip = match source_tip {
            Some(tip) => Some(tip),
            None => self.branch_tip(repo, source).await?,
        };
        Ok(PromotionReads {
            source_tip,
            target_tip: Some(target_tip),
            comparison,
            target_access,
        })
    }

    /// A push with an expected old tip (see the module docs). GitLab's `pre-receive`
    /// refuses pushes to a protected branch by a user its rule does not allow, and force
    /// pushes (rollbacks) unless the rule allows them; that refusal comes back as
    /// [`ForgeError::Forbidden`] with GitLab's message and what the token's user needs.
    async fn move_branch(&self, repo: &RepoId, request: &BranchMove) -> Result<()> {
        let moving = request.clone();
        let result = self
            .with_remote(repo, move |remote| remote.move_branch(&moving))
            .await;
        let Err(ForgeError::Git { doing, source }) = result else {
            return result;
        };
        let Some(upkeep_git::Error::PushRejected { reason, .. }) =
            source.downcast_ref::<upkeep_git::Error>()
        else {
            return Err(ForgeError::Git { doing, source });
        };
        let said: Vec<&str> = reason
            .lines()
            .filter_map(|l| l.trim().strip_prefix("GitLab:"))
            .map(str::trim)
            .collect();
        let message = if said.is_empty() {
            reason.clone()
        } else {
            said.join(" ")
        };
        let branch = &request.branch;
        let fix = if message.contains("force push") {
            Some(format!(
                "`{branch}` is protected and its rule does not allow force pushes, which a \
                 rollback is; turn on \"Allowed to force push\" for it (Settings > Repository > \
                 Protected branches) or move it forward instead"
            ))
        } else {
            match self.branch_access(repo, branch).await {
                Ok(access) => access.fix,
                Err(e) => {
                    tracing::debug!(error = %e, "cannot read the protection of the refused branch");
                    None
                }
            }
        };
        Err(ForgeError::Forbidden {
            forge: KIND,
            doing: format!("moving `{branch}` of {repo}"),
            missing_scope: None,
            message: match fix {
                Some(fix) => format!("{message} ({fix})"),
                None => message,
            },
        })
    }

    async fn tags(&self, repo: &RepoId) -> Result<Vec<Tag>> {
        let ep = api::projects::repository::tags::Tags::builder()
            .project(repo.as_str())
            .build()
            .map_err(|e| builder_error("listing tags", &e))?;
        let tags: Vec<wire::Tag> = self
            .get_all(repo, &format!("listing the tags of {repo}"), "", &ep)
            .await?;
        let mut tags: Vec<Tag> = tags
            .into_iter()
            .filter_map(|t| {
                Some(Tag {
                    sha: t.commit?.id,
                    name: t.name,
                })
            })
            .collect();
        tags.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(tags)
    }

    async fn create_tag(
        &self,
        repo: &RepoId,
        name: &str,
        sha: &str,
        message: Option<&str>,
    ) -> Result<()> {
        let mut builder = api::projects::repository::tags::CreateTag::builder();
        builder.project(repo.as_str()).tag_name(name).ref_(sha);
        if let Some(message) = message {
            builder.message(message);
        }
        let ep = builder
            .build()
            .map_err(|e| builder_error("creating a tag", &e))?;
        let doing = format!("creating tag {name} at {sha} in {repo}");
        let uncertain = AtomicBool::new(false);
        let error = match self
            .send_tracked(repo, &doing, "", &ep, None, &uncertain)
            .await
        {
            Ok(_) => return Ok(()),
            Err(e) if says_already_exists(&e) => e,
            Err(e) => return Err(e),
        };
        let existing = self.find_tag(repo, name).await?;
        let conflict = |message: String| ForgeError::Conflict {
            forge: KIND,
            doing: doing.clone(),
            message,
        };
        let Some(existing) = existing else {
            // Deleted again in between: report what GitLab said.
            return Err(error);
        };
        let target = existing.commit.as_ref().map(|c| c.id.as_str());
        let same_target = target.is_some_and(|t| t.eq_ignore_ascii_case(sha));
        let same_message = existing.message.as_deref().unwrap_or_default().trim()
            == message.unwrap_or_default().trim();
        if uncertain.load(Ordering::Relaxed) && same_target && same_message {
            tracing::debug!(repo = %repo, tag = name, "a retried tag creation had succeeded");
            return Ok(());
        }
        Err(conflict(format!(
            "tag {name} already exists (at {})",
            target.unwrap_or("a non-commit object")
        )))
    }

    /// One list: the commit's statuses, which in GitLab are every job of every pipeline
    /// of the commit as well as the external statuses (each kept as a job of a pipeline),
    /// so the pipelines themselves need no read of their own.
    async fn ci_verdict(&self, repo: &RepoId, sha: &str) -> Result<CiVerdict> {
        let statuses_ep = api::projects::repository::commits::CommitStatuses::builder()
            .project(repo.as_str())
            .commit(sha)
            .build()
            .map_err(|e| builder_error("listing commit statuses", &e))?;
        let doing = format!("reading the commit statuses of {sha} in {repo}");
        let statuses: Vec<wire::CommitStatus> = self
            .get_all(
                repo,
                &doing,
                &format!("commit {sha} in {repo}"),
                &statuses_ep,
            )
            .await?;
        Ok(CiVerdict::from_checks(sha, checks(statuses)))
    }

    /// `GET /projects/:id`, read fresh (not the cached project): the highest of the
    /// user's project and group access levels; Developer (30) and above push branches and
    /// open merge requests. Neither membership shown (an administrator, a membership
    /// inherited from a parent group) is unknown.
    async fn access(&self, repo: &RepoId) -> Result<Access> {
        let ep = api::projects::Project::builder()
            .project(repo.as_str())
            .build()
            .map_err(|e| builder_error("reading a project", &e))?;
        let project: wire::ProjectAccess = self
            .get_one(repo, &format!("reading project {repo}"), "", &ep)
            .await?;
        Ok(gitlab_access(project.permissions.as_ref()))
    }

    /// From the branch (`protected`, and `can_push`, which GitLab works out for the
    /// token's user from the rules and the role), the user's role, and (when the token's
    /// user may read them: Maintainer and up) the protection rules, for who may push and
    /// whether force pushes (rollbacks) are allowed. Three reads, nothing written.
    async fn branch_access(&self, repo: &RepoId, branch: &str) -> Result<BranchAccess> {
        let Some(found) = self.branch(repo, branch).await? else {
            return Ok(BranchAccess::unknown(
                branch,
                format!("{repo} has no branch `{branch}`"),
            ));
        };
        let project_ep = api::projects::Project::builder()
            .project(repo.as_str())
            .build()
            .map_err(|e| builder_error("reading a project", &e))?;
        let project: wire::ProjectAccess = self
            .get_one(repo, &format!("reading project {repo}"), "", &project_ep)
            .await?;
        let who = match member_level(project.permissions.as_ref()) {
            Some(l) => format!("the token's user is {} ({l})", role_name_of(l)),
            None => "the project shows no membership of the token's user".to_owned(),
        };
        let rules = self.protection_rules(repo, branch).await;
        Ok(branch_protection(
            branch,
            &found.protection,
            &who,
            rules.as_deref(),
        ))
    }
}

/// `GET /projects/:id/repository/compare?from=&to=` (`straight=false`: the commits of `to`
/// that `from` lacks).
fn compare_endpoint<'a>(
    repo: &'a RepoId,
    from: &str,
    to: &str,
) -> Result<api::projects::repository::commits::CompareCommits<'a>> {
    api::projects::repository::commits::CompareCommits::builder()
        .project(repo.as_str())
        .from(from.to_owned())
        .to(to.to_owned())
        .build()
        .map_err(|e| builder_error("comparing commits", &e))
}

/// The project's git URL over HTTP from a branch's page, `<project web_url>/-/tree/<branch>`:
/// `<project web_url>.git`. GitLab serves git at every project's web URL + `.git`
/// (Workhorse), a relative URL root included, and that is what `http_url_to_repo` says
/// too unless an administrator set a custom HTTP clone root (another host, which is
/// then an alias of the same repository). A project path never has a `-` segment, so the
/// first `/-/tree/` ends it.
fn git_url_of_branch_page(web_url: &str, branch: &str) -> Option<String> {
    let (project, tree) = web_url.split_once("/-/tree/")?;
    let shown = percent_encoding::percent_decode_str(tree).decode_utf8_lossy();
    (shown == branch && project.starts_with("http")).then(|| format!("{project}.git"))
}

/// GitLab's compare commits (oldest first) as the neutral list (newest first).
fn newest_first(commits: Vec<wire::Commit>) -> Vec<CommitSummary> {
    commits
        .into_iter()
        .rev()
        .map(|c| CommitSummary {
            sha: c.id,
            subject: c.title,
            author: c.author_name,
            time: c.authored_date,
        })
        .collect()
}

/// What `compare?from=<target tip>&to=<source>` says: the source tip (`None` when the
/// source adds nothing to the target, so the answer does not name it), and the comparison
/// when the move is a fast-forward. Every listed commit is an ancestor of the source tip,
/// so the target tip is an ancestor of it exactly when it is the parent of a listed commit
/// (or the same commit); otherwise the branches diverged and the comparison is left to
/// [`Forge::compare`], which counts the target's own commits.
fn fast_forward(target_tip: &str, cmp: wire::Compare) -> (Option<String>, Option<Comparison>) {
    let even = || Comparison {
        ahead_by: 0,
        behind_by: 0,
        commits: Vec::new(),
        merge_base: Some(target_tip.to_owned()),
    };
    if cmp.same == Some(true) {
        return (Some(target_tip.to_owned()), Some(even()));
    }
    let Some(head) = cmp
        .commit
        .as_ref()
        .or(cmp.commits.last())
        .map(|c| c.id.clone())
    else {
        return (None, None);
    };
    let listed = cmp.commits.iter().any(|c| c.id == head);
    let ahead = cmp.commits.iter().any(|c| {
        c.parent_ids
            .iter()
            .any(|p| p.eq_ignore_ascii_case(target_tip))
    });
    if !(listed && ahead) {
        return (Some(head), None);
    }
    let comparison = Comparison {
        ahead_by: cmp.commits.len(),
        behind_by: 0,
        commits: newest_first(cmp.commits),
        merge_base: Some(target_tip.to_owned()),
    };
    (Some(head), Some(comparison))
}

/// The highest of the user's project and group access levels, if either is shown.
fn member_level(permissions: Option<&wire::Permissions>) -> Option<u32> {
    permissions.and_then(|p| {
        [&p.project_access, &p.group_access]
            .into_iter()
            .flatten()
            .map(|m| m.access_level)
            .max()
    })
}

/// Reads a branch's protection into [`BranchAccess`] (see [`GitLab::branch_access`]):
/// `who` says what is known of the token's user, `rules` are the protection rules when
/// they were read. The fix follows from the branch alone (`developers_can_push`), so it
/// is the same whether or not the role and rules were read.
fn branch_protection(
    branch: &str,
    found: &wire::BranchProtection,
    who: &str,
    rules: Option<&[wire::ProtectedBranch]>,
) -> BranchAccess {
    if !found.protected {
        return BranchAccess {
            branch: branch.to_owned(),
            protected: Some(false),
            can_update: found.can_push,
            detail: format!("`{branch}` is not protected; {who}"),
            fix: (found.can_push == Some(false))
                .then(|| "the token's user needs the Developer role or higher to push".to_owned()),
        };
    }
    // Who the matching rules let push, and whether any allows force pushes.
    let mut allowed = BTreeSet::new();
    let mut force = None;
    if let Some(rules) = rules {
        let matching: Vec<_> = rules
            .iter()
            .filter(|r| wildcard_match(&r.name, branch))
            .collect();
        force = Some(matching.iter().any(|r| r.allow_force_push));
        for rule in matching {
            for a in &rule.push_access_levels {
                allowed.insert(
                    match (a.access_level, a.user_id, a.group_id, a.deploy_key_id) {
                        (_, Some(_), _, _) => "listed users",
                        (_, _, Some(_), _) => "listed groups",
                        (_, _, _, Some(_)) => "a deploy key",
                        (Some(30), ..) => "Developers + Maintainers",
                        (Some(40), ..) => "Maintainers",
                        (Some(60), ..) => "instance admins",
                        (Some(0), ..) => "no one",
                        _ => "an unknown level",
                    },
                );
            }
        }
    } else if found.developers_can_push {
        allowed.insert("Developers + Maintainers");
    }
    let pushes = if allowed.is_empty() {
        String::new()
    } else {
        format!(
            " (allowed to push: {})",
            allowed.into_iter().collect::<Vec<_>>().join(", ")
        )
    };
    let force_text = match force {
        Some(true) => "; force pushes (rollbacks) allowed",
        Some(false) => "; force pushes (rollbacks) refused by the rule",
        None => "",
    };
    let needs = if found.developers_can_push {
        "the Developer role or higher"
    } else {
        "the Maintainer role or to be allowed to push in the rule"
    };
    BranchAccess {
        branch: branch.to_owned(),
        protected: Some(true),
        can_update: found.can_push,
        detail: format!("`{branch}` is protected{pushes}{force_text}; {who}"),
        fix: match found.can_push {
            Some(true) => None,
            _ => Some(format!(
                "`{branch}` is protected; the token's user needs {needs} \
                 (Settings > Repository > Protected branches)"
            )),
        },
    }
}

/// GitLab's protected-branch wildcard: `*` stands for any run of characters.
fn wildcard_match(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return pattern == name;
    };
    if name.len() < first.len() + last.len() || !name.starts_with(first) || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// The lowest access level that pushes branches and opens merge requests.
const DEVELOPER: u32 = 30;
/// The level that protected branches ask for by default.
const MAINTAINER: u32 = 40;

/// GitLab's names of its access levels.
fn role_name_of(level: u32) -> &'static str {
    match level {
        0 => "no access",
        5 => "Minimal access",
        10 => "Guest",
        15 => "Planner",
        20 => "Reporter",
        30 => "Developer",
        40 => "Maintainer",
        50 => "Owner",
        _ => "an unnamed role",
    }
}

fn gitlab_access(permissions: Option<&wire::Permissions>) -> Access {
    let level = member_level(permissions);
    let allowed = level.map(|l| l >= DEVELOPER);
    let role = role_name_of;
    let (detail, fix) = match level {
        // Pushing a new maintenance branch and opening merge requests need Developer;
        // a protected branch (the default branch is protected for Maintainers on a new
        // project) needs what its rule says, which `branch_access` reads per branch.
        Some(l) if l >= MAINTAINER => (format!("the token's user is {} ({l})", role(l)), None),
        Some(l) if l >= DEVELOPER => (
            format!(
                "the token's user is {} ({l}): it may push unprotected branches and open \
                 merge requests, but not push to protected branches (such as the default \
                 branch) unless their rule allows Developers",
                role(l)
            ),
            None,
        ),
        Some(l) => (
            format!("the token's user is {} ({l}): Developer (30) is needed", role(l)),
            Some("the token's user (or the project or group token) needs the Developer role or higher"),
        ),
        None => (
            "the project shows no membership of the token's user (an administrator, or one inherited from a parent group)".to_owned(),
            Some("make sure the token's user has the Developer role or higher, and the token the `api` and `write_repository` scopes"),
        ),
    };
    Access {
        can_push: allowed,
        can_open_change_requests: allowed,
        detail,
        fix: fix.map(str::to_owned),
    }
}

impl GitLab {
    /// The protection rules that may match `branch`, or `None` when the token's user may
    /// not read them (the API needs the Maintainer role) or GitLab cannot be asked.
    async fn protection_rules(
        &self,
        repo: &RepoId,
        branch: &str,
    ) -> Option<Vec<wire::ProtectedBranch>> {
        let ep = SimpleGet(format!(
            "projects/{}/protected_branches",
            NameOrId::from(repo.as_str())
        ));
        let doing = format!("reading the protected branches of {repo}");
        match self
            .get_all::<wire::ProtectedBranch, _>(repo, &doing, "", &ep)
            .await
        {
            Ok(rules) => Some(rules),
            Err(e) => {
                tracing::debug!(repo = %repo, branch, error = %e, "protection rules not readable");
                None
            }
        }
    }

    /// Tag `name`, if it exists.
    async fn find_tag(&self, repo: &RepoId, name: &str) -> Result<Option<wire::Tag>> {
        // `^` anchors GitLab's tag search at the start; the exact name is picked here.
        let search = format!("^{name}");
        let ep = api::projects::repository::tags::Tags::builder()
            .project(repo.as_str())
            .search(search.as_str())
            .build()
            .map_err(|e| builder_error("looking up a tag", &e))?;
        let tags: Vec<wire::Tag> = self
            .get_all(repo, &format!("looking up tag {name} in {repo}"), "", &ep)
            .await?;
        Ok(tags.into_iter().find(|t| t.name == name))
    }

    /// Brings an open merge request in line with `spec` as far as it can hold it (one
    /// reviewer and one assignee on GitLab Free), editing only when something differs.
    /// People left out are reported by the upsert that changes the people, not by every
    /// later one: a merge request that already holds what it can is left alone.
    async fn reconcile(
        &self,
        repo: &RepoId,
        mr: wire::MergeRequest,
        spec: &ChangeRequestSpec,
    ) -> Result<(wire::MergeRequest, UpsertAction, Vec<NotApplied>)> {
        let (effective, dropped) = self.effective_spec(repo, mr.iid, spec).await;
        if matches_spec(&mr, &effective) {
            return Ok((mr, UpsertAction::Unchanged, Vec::new()));
        }
        let people_change = !same_people(&mr, &effective);
        let updated = self.update(repo, mr.iid, &effective).await?;
        let mut not_applied = Vec::new();
        if people_change {
            not_applied = dropped;
            not_applied.extend(not_taken(&updated, &effective));
        }
        Ok((updated, UpsertAction::Updated, not_applied))
    }
}

/// The neutral checks: the latest job or external status per name (GitLab lists the ones
/// not retried of each pipeline; of several pipelines of the commit, the newest wins).
fn checks(statuses: Vec<wire::CommitStatus>) -> Vec<Check> {
    let mut latest: HashMap<String, wire::CommitStatus> = HashMap::new();
    for s in statuses {
        match latest.get(&s.name) {
            Some(seen) if seen.id > s.id => {}
            _ => {
                latest.insert(s.name.clone(), s);
            }
        }
    }
    let mut latest: Vec<_> = latest.into_values().collect();
    latest.sort_by(|a, b| a.name.cmp(&b.name));
    latest
        .into_iter()
        .map(|s| Check {
            state: ci_state(&s.status, s.allow_failure),
            name: s.name,
            url: s.target_url,
            source: CheckSource::CommitStatus,
        })
        .collect()
}

/// GitLab's pipeline and job states. Anything unknown is pending: never green.
fn ci_state(status: &str, allow_failure: bool) -> CheckState {
    match status {
        "success" => CheckState::Success,
        "failed" | "manual" if allow_failure => CheckState::Skipped,
        "failed" | "canceled" | "canceling" => CheckState::Failure,
        "skipped" => CheckState::Skipped,
        _ => CheckState::Pending,
    }
}

/// GitLab's answer to creating something that exists (`Tag v1 already exists`, 400).
fn says_already_exists(error: &ForgeError) -> bool {
    match error {
        ForgeError::Validation {
            message, errors, ..
        } => std::iter::once(message)
            .chain(errors)
            .any(|m| m.contains("already exists")),
        ForgeError::Conflict { .. } => true,
        _ => false,
    }
}

fn wire_title(spec: &ChangeRequestSpec) -> String {
    if spec.draft {
        format!("{DRAFT_PREFIX}{}", spec.title)
    } else {
        spec.title.clone()
    }
}

/// The title without any draft marker GitLab recognises, and whether there was one.
fn strip_draft(title: &str) -> (&str, bool) {
    let trimmed = title.trim_start();
    for marker in ["draft:", "[draft]", "(draft)", "wip:", "[wip]"] {
        if trimmed.len() >= marker.len()
            && trimmed.is_char_boundary(marker.len())
            && trimmed[..marker.len()].eq_ignore_ascii_case(marker)
        {
            return (trimmed[marker.len()..].trim_start(), true);
        }
    }
    (title, false)
}

fn usernames(users: &[wire::User]) -> BTreeSet<String> {
    users.iter().map(|u| u.username.to_lowercase()).collect()
}

fn lowercase_set(names: &[String]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_lowercase()).collect()
}

fn same_people(mr: &wire::MergeRequest, spec: &ChangeRequestSpec) -> bool {
    usernames(&mr.reviewers) == lowercase_set(&spec.reviewers)
        && usernames(&mr.assignees) == lowercase_set(&spec.assignees)
}

/// The names without repeats (case-insensitive), first occurrence kept.
fn unique(names: &[String]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    names
        .iter()
        .filter(|n| seen.insert(n.to_lowercase()))
        .cloned()
        .collect()
}

/// Keeps the first of `names`; the others are reported as not applied.
fn one_only(names: &mut Vec<String>, role: PersonRole) -> Vec<NotApplied> {
    if names.len() <= 1 {
        return Vec::new();
    }
    let kept = names[0].clone();
    names
        .drain(1..)
        .map(|user| NotApplied {
            user,
            role,
            reason: format!(
                "this GitLab takes one {} per merge request (several are a Premium \
                 feature); `{kept}` was set",
                role_name(role)
            ),
        })
        .collect()
}

fn role_name(role: PersonRole) -> &'static str {
    match role {
        PersonRole::Reviewer => "reviewer",
        PersonRole::Assignee => "assignee",
    }
}

/// People of `spec` that GitLab's answer does not show (GitLab drops, without an error,
/// what it cannot set: a second reviewer on Free, a user who cannot see the project).
fn not_taken(mr: &wire::MergeRequest, spec: &ChangeRequestSpec) -> Vec<NotApplied> {
    let mut out = Vec::new();
    for (role, wanted, set) in [
        (PersonRole::Reviewer, &spec.reviewers, &mr.reviewers),
        (PersonRole::Assignee, &spec.assignees, &mr.assignees),
    ] {
        let have = usernames(set);
        let wanted = unique(wanted);
        let limited = wanted.len() > 1 && set.len() == 1;
        for user in wanted {
            if have.contains(&user.to_lowercase()) {
                continue;
            }
            let reason = if limited {
                format!(
                    "this GitLab takes one {} per merge request (several are a Premium \
                     feature); `{}` was set",
                    role_name(role),
                    set[0].username
                )
            } else {
                format!(
                    "GitLab did not set this {}: the user may not have access to the project",
                    role_name(role)
                )
            };
            out.push(NotApplied { user, role, reason });
        }
    }
    out
}

fn matches_spec(mr: &wire::MergeRequest, spec: &ChangeRequestSpec) -> bool {
    let (title, draft) = strip_draft(&mr.title);
    let draft = draft || mr.draft.or(mr.work_in_progress).unwrap_or(false);
    title == spec.title
        && draft == spec.draft
        && mr.description.as_deref().unwrap_or_default() == spec.body
        && mr.target_branch == spec.base
        && mr.labels.iter().collect::<BTreeSet<_>>() == spec.labels.iter().collect()
        && usernames(&mr.reviewers) == lowercase_set(&spec.reviewers)
        && usernames(&mr.assignees) == lowercase_set(&spec.assignees)
}

fn to_change_request(
    mr: wire::MergeRequest,
    approvals: &wire::Approvals,
    requested_changes: &[String],
) -> ChangeRequest {
    let (title, prefixed) = strip_draft(&mr.title);
    let draft = prefixed || mr.draft.or(mr.work_in_progress).unwrap_or(false);
    let approvers: Vec<String> = approvals
        .approved_by
        .iter()
        .map(|a| a.user.username.clone())
        .collect();
    let state = match mr.state.as_str() {
        "merged" => ChangeRequestState::Merged,
        "closed" => ChangeRequestState::Closed,
        other => {
            if !matches!(other, "opened" | "locked") {
                tracing::warn!(
                    state = other,
                    iid = mr.iid,
                    "unknown merge request state; reading it as open"
                );
            }
            if !requested_changes.is_empty()
                || mr.detailed_merge_status.as_deref() == Some("requested_changes")
            {
                ChangeRequestState::ChangesRequested
            } else if !approvers.is_empty() && approvals.approvals_left.unwrap_or(0) == 0 {
                ChangeRequestState::Approved
            } else {
                ChangeRequestState::Open
            }
        }
    };
    ChangeRequest {
        number: mr.iid,
        url: mr.web_url,
        title: title.to_owned(),
        body: mr.description.unwrap_or_default(),
        head: mr.source_branch,
        base: mr.target_branch,
        head_sha: mr.sha,
        state,
        draft,
        labels: mr.labels,
        approvers,
        merge_sha: mr.merge_commit_sha.or(mr.squash_commit_sha),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn parse<T: DeserializeOwned>(doing: &str, body: &[u8]) -> Result<T> {
    serde_json::from_slice(body)
        .map_err(|e| protocol(doing, format!("cannot parse the answer: {e}")))
}

fn protocol(doing: &str, message: String) -> ForgeError {
    ForgeError::Protocol {
        forge: KIND,
        doing: doing.to_owned(),
        message,
    }
}

fn builder_error(doing: &str, e: &dyn std::error::Error) -> ForgeError {
    ForgeError::Setup {
        forge: KIND,
        message: format!("{doing}: {e}"),
    }
}

/// The wait GitLab asked for: `Retry-After` (seconds or an HTTP date), else
/// `RateLimit-Reset` (epoch seconds).
fn rate_limit_reset(headers: &HeaderMap) -> Option<DateTime<Utc>> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(value) = header("retry-after") {
        if let Ok(secs) = value.parse::<i64>() {
            return Some(Utc::now() + chrono::Duration::seconds(secs.max(0)));
        }
        if let Ok(date) = DateTime::parse_from_rfc2822(value) {
            return Some(date.with_timezone(&Utc));
        }
    }
    header("ratelimit-reset")
        .and_then(|v| v.parse::<i64>().ok())
        .and_then(|epoch| DateTime::from_timestamp(epoch, 0))
}

/// GitLab's error message: `message` as a string, a list or a field → errors map;
/// `error_description` / `error` (OAuth-style); else the raw text.
fn error_message(
    status: StatusCode,
    body: &[u8],
) -> (String, Vec<String>, Option<serde_json::Value>) {
    let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let fallback = || {
        let text = String::from_utf8_lossy(body)
            .trim()
            .chars()
            .take(300)
            .collect::<String>();
        if text.is_empty() {
            status.canonical_reason().unwrap_or("error").to_owned()
        } else {
            text
        }
    };
    let Some(value) = json.as_ref() else {
        return (fallback(), Vec::new(), None);
    };
    let mut errors = Vec::new();
    let message = match value.get("message") {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join("; "),
        Some(serde_json::Value::Object(fields)) => {
            for (field, problems) in fields {
                match problems {
                    serde_json::Value::Array(list) => errors.extend(list.iter().map(|p| {
                        format!(
                            "{field} {}",
                            p.as_str().map_or_else(|| p.to_string(), str::to_owned)
                        )
                    })),
                    other => errors.push(format!(
                        "{field} {}",
                        other
                            .as_str()
                            .map_or_else(|| other.to_string(), str::to_owned)
                    )),
                }
            }
            status.canonical_reason().unwrap_or("invalid").to_owned()
        }
        _ => value
            .get("error_description")
            .or_else(|| value.get("error"))
            .and_then(serde_json::Value::as_str)
            .map_or_else(fallback, str::to_owned),
    };
    (message, errors, json)
}

fn status_error(doing: &str, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> ForgeError {
    let (message, errors, json) = error_message(status, body);
    let doing = doing.to_owned();
    match status.as_u16() {
        401 => ForgeError::Unauthorized {
            forge: KIND,
            doing,
            message,
        },
        403 => {
            let json_str = |key: &str| {
                json.as_ref()
                    .and_then(|j| j.get(key))
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned)
            };
            let missing_scope = if json_str("error").as_deref() == Some("insufficient_scope") {
                json_str("scope").or_else(|| Some("api".to_owned()))
            } else {
                None
            };
            ForgeError::Forbidden {
                forge: KIND,
                doing,
                missing_scope,
                message,
            }
        }
        // The caller replaces `what` with what was looked for; the message tells whether
        // the project itself is missing.
        404 => ForgeError::NotFound {
            forge: KIND,
            what: message,
        },
        409 => ForgeError::Conflict {
            forge: KIND,
            doing,
            message,
        },
        400 | 422 => ForgeError::Validation {
            forge: KIND,
            doing,
            message,
            errors,
        },
        429 => ForgeError::RateLimited {
            forge: KIND,
            doing,
            reset: rate_limit_reset(headers),
        },
        500..=599 => ForgeError::Server {
            forge: KIND,
            doing,
            status: status.as_u16(),
            message,
        },
        _ => ForgeError::Protocol {
            forge: KIND,
            doing,
            message: format!("HTTP {status}: {message}"),
        },
    }
}

/// Errors of the `gitlab` crate's constructor (its `GET /user` token check).
fn connect_error(doing: &str, error: gitlab::GitlabError) -> ForgeError {
    use gitlab::api::ApiError;
    let status_message = |status: StatusCode, message: String| {
        status_error(
            doing,
            status,
            &HeaderMap::new(),
            serde_json::json!({ "message": message })
                .to_string()
                .as_bytes(),
        )
    };
    match error {
        gitlab::GitlabError::Api { source } => match source {
            ApiError::GitlabWithStatus { status, msg } => status_message(status, msg),
            ApiError::GitlabObjectWithStatus { status, obj }
            | ApiError::GitlabUnrecognizedWithStatus { status, obj } => {
                status_error(doing, status, &HeaderMap::new(), obj.to_string().as_bytes())
            }
            ApiError::GitlabService { status, data } => {
                status_error(doing, status, &HeaderMap::new(), &data)
            }
            ApiError::GitlabRateLimited { retry_after, .. } => ForgeError::RateLimited {
                forge: KIND,
                doing: doing.to_owned(),
                reset: chrono::Duration::from_std(retry_after)
                    .ok()
                    .map(|d| Utc::now() + d),
            },
            ApiError::Client { source } => ForgeError::Transport {
                forge: KIND,
                doing: doing.to_owned(),
                message: upkeep_text::error_chain(&source),
            },
            other => protocol(doing, upkeep_text::error_chain(&other)),
        },
        gitlab::GitlabError::Communication { source } => ForgeError::Transport {
            forge: KIND,
            doing: doing.to_owned(),
            message: upkeep_text::error_chain(&source),
        },
        gitlab::GitlabError::Http { status } => status_message(status, String::new()),
        other => protocol(doing, upkeep_text::error_chain(&other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_become_builder_hosts() {
        assert_eq!(
            builder_host("https://gitlab.com").unwrap(),
            ("gitlab.com".to_owned(), false)
        );
        assert_eq!(
            builder_host("https://git.example.com/gitlab/").unwrap(),
            ("git.example.com/gitlab".to_owned(), false)
        );
        assert_eq!(
            builder_host("http://127.0.0.1:8080/api/v4").unwrap(),
            ("127.0.0.1:8080".to_owned(), true)
        );
        assert!(builder_host("ftp://x").is_err());
        let err = builder_host("https://bot:glpat-secret@gitlab.com").unwrap_err();
        assert!(!err.to_string().contains("glpat-secret"), "{err}");
    }

    #[test]
    fn a_branch_page_gives_the_project_git_url() {
        assert_eq!(
            git_url_of_branch_page(
                "https://gitlab.example.com/team/api/-/tree/stable",
                "stable"
            )
            .as_deref(),
            Some("https://gitlab.example.com/team/api.git")
        );
        // A relative URL root, a branch with a slash and an escaped character.
        assert_eq!(
            git_url_of_branch_page(
                "https://example.com/gitlab/g/sub/p/-/tree/release/1.0%2Bx",
                "release/1.0+x"
            )
            .as_deref(),
            Some("https://example.com/gitlab/g/sub/p.git")
        );
        // Not the branch asked for, or no page: nothing is learnt.
        assert_eq!(
            git_url_of_branch_page("https://gitlab.example.com/team/api/-/tree/main", "stable"),
            None
        );
        assert_eq!(
            git_url_of_branch_page("https://gitlab.example.com/team/api", "stable"),
            None
        );
    }

    #[test]
    fn draft_markers_are_recognised_and_stripped() {
        assert_eq!(strip_draft("Draft: Bump deps"), ("Bump deps", true));
        assert_eq!(strip_draft("[Draft] Bump deps"), ("Bump deps", true));
        assert_eq!(strip_draft("(draft) Bump"), ("Bump", true));
        assert_eq!(strip_draft("WIP: Bump"), ("Bump", true));
        assert_eq!(strip_draft("Drafting a plan"), ("Drafting a plan", false));
        assert_eq!(strip_draft("Bump deps"), ("Bump deps", false));
    }

    #[test]
    fn ci_states_never_turn_unknown_into_green() {
        assert_eq!(ci_state("success", false), CheckState::Success);
        assert_eq!(ci_state("failed", false), CheckState::Failure);
        assert_eq!(ci_state("failed", true), CheckState::Skipped);
        assert_eq!(ci_state("canceled", false), CheckState::Failure);
        assert_eq!(ci_state("running", false), CheckState::Pending);
        assert_eq!(ci_state("manual", false), CheckState::Pending);
        assert_eq!(ci_state("something-new", false), CheckState::Pending);
    }

    #[test]
    fn error_bodies_are_normalised() {
        let no_headers = HeaderMap::new();
        let scope = br#"{"error":"insufficient_scope","error_description":"The request requires higher privileges than provided by the access token.","scope":"api"}"#;
        match status_error("x", StatusCode::FORBIDDEN, &no_headers, scope) {
            ForgeError::Forbidden {
                missing_scope,
                message,
                ..
            } => {
                assert_eq!(missing_scope.as_deref(), Some("api"));
                assert!(message.contains("higher privileges"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        let fields = br#"{"message":{"title":["can't be blank"],"source_branch":["is invalid"]}}"#;
        match status_error("x", StatusCode::BAD_REQUEST, &no_headers, fields) {
            ForgeError::Validation { errors, .. } => {
                assert!(
                    errors.contains(&"title can't be blank".to_owned()),
                    "{errors:?}"
                );
            }
            other => panic!("{other:?}"),
        }
        let list = br#"{"message":["Another open merge request already exists for this source branch: !1"]}"#;
        assert!(matches!(
            status_error("x", StatusCode::CONFLICT, &no_headers, list),
            ForgeError::Conflict { message, .. } if message.contains("!1")
        ));
        let mut headers = HeaderMap::new();
        headers.insert("ratelimit-reset", "1700000000".parse().unwrap());
        match status_error("x", StatusCode::TOO_MANY_REQUESTS, &headers, b"Retry later") {
            ForgeError::RateLimited { reset, .. } => {
                assert_eq!(reset.unwrap().timestamp(), 1_700_000_000);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            status_error(
                "x",
                StatusCode::BAD_GATEWAY,
                &no_headers,
                b"<html>bad gateway</html>"
            ),
            ForgeError::Server { status: 502, .. }
        ));
    }
}

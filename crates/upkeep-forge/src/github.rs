//! The GitHub adapter: octocrab against github.com or a GitHub Enterprise server.
//!
//! Every request goes through the crate's [`Retrier`] (octocrab's own retry layer is turned
//! off, so a 5xx is never retried by both), and every octocrab error is normalised into a
//! [`ForgeError`] from the status code and headers GitHub sent (`Retry-After`,
//! `x-ratelimit-remaining`/`-reset`, `x-accepted-oauth-scopes` vs `x-oauth-scopes`).
//!
//! Quirks handled here so callers never see them:
//! - the REST combined commit status is `pending` when a commit has **no** statuses at
//!   all, and it ignores check runs: the CI verdict reads GraphQL's `statusCheckRollup`
//!   instead (statuses and check runs in one request), and no signal is
//!   [`Verdict::Missing`](crate::Verdict::Missing);
//! - a pull request's review state is not a field: it is derived from the latest decisive
//!   review of each reviewer;
//! - the REST ref update has no expected-old-SHA: branch moves use GraphQL `updateRefs`
//!   (see [`GitHub::move_branch`](crate::Forge::move_branch) below), asked for with its
//!   schema-preview media type, at [`graphql_url`] (GitHub Enterprise Server serves GraphQL
//!   at `/api/graphql`, beside `/api/v3`); a server without it gets the REST update with
//!   the tip checked right before.

mod discover;

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use http::HeaderMap;
use octocrab::models::pulls::{PullRequest, ReviewState};
use octocrab::params::repos::Reference;
use octocrab::{Octocrab, Page};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use serde_json::json;

mod promotion;
mod rollup;

use crate::retry::{Retrier, RetryPolicy};
use crate::{
    Access, BranchAccess, BranchMove, ChangeRequest, ChangeRequestSpec, ChangeRequestState,
    CheckState, CiVerdict, CommitSummary, Comparison, Forge, ForgeError, ForgeKind, NotApplied,
    PersonRole, RepoId, Result, Tag, UpsertAction, Upserted,
};

/// The public GitHub API.
pub const GITHUB_COM_API: &str = "https://api.github.com";

const PER_PAGE: u8 = 100;

/// GraphQL `updateRefs`: every update is guarded by its `beforeOid` and the whole list is
/// applied atomically by GitHub.
const UPDATE_REFS: &str =
    "mutation($input: UpdateRefsInput!) {\n  updateRefs(input: $input) { clientMutationId }\n}";

/// The media type under which GitHub documented `updateRefs` as a schema preview (GitHub
/// Enterprise Server up to 3.12 lists it under "Update refs preview"). Sent with every
/// GraphQL request; servers where the mutation is public ignore it.
const UPDATE_REFS_PREVIEW: &str = "application/vnd.github.update-refs-preview+json";

/// Where GitHub serves GraphQL for a REST base URL.
///
/// api.github.com (and the fake, and any base without `/api/v3`) serves it at
/// `<base>/graphql`; GitHub Enterprise Server serves REST under `https://HOST/api/v3` but
/// GraphQL at `https://HOST/api/graphql`, not under `/api/v3`.
///
/// ```
/// use upkeep_forge::github::graphql_url;
/// assert_eq!(graphql_url("https://api.github.com"), "https://api.github.com/graphql");
/// assert_eq!(graphql_url("https://ghe.example.com/api/v3/"), "https://ghe.example.com/api/graphql");
/// ```
#[must_use]
pub fn graphql_url(base_url: &str) -> String {
    let base = base_url.trim_end_matches('/');
    match base.strip_suffix("/api/v3") {
        Some(host) => format!("{host}/api/graphql"),
        None => format!("{base}/graphql"),
    }
}

/// A [`Forge`] on GitHub or GitHub Enterprise.
///
/// ```no_run
/// # async fn demo() -> upkeep_forge::Result<()> {
/// use upkeep_forge::github::GitHub;
/// use upkeep_forge::retry::RetryPolicy;
/// let token = secrecy::SecretString::from("ghp_…".to_owned());
/// // github.com:
/// let gh = GitHub::new(upkeep_forge::github::GITHUB_COM_API, token.clone(), RetryPolicy::default())?;
/// // GitHub Enterprise Server:
/// let ghe = GitHub::new("https://github.example.com/api/v3", token, RetryPolicy::default())?;
/// # Ok(()) }
/// ```
pub struct GitHub {
    client: Octocrab,
    /// The same token, based where GraphQL is served (see [`graphql_url`]), asking for the
    /// `updateRefs` preview.
    graphql: Octocrab,
    retrier: Retrier,
    /// GraphQL node ids of repositories, looked up once each.
    node_ids: Mutex<HashMap<String, String>>,
    /// Set once the server said it has no `updateRefs` (an older Enterprise server): later
    /// moves go straight to the REST fallback.
    no_update_refs: AtomicBool,
    /// Removes the token from what the server says, before it becomes an error message.
    scrubber: upkeep_text::Scrubber,
}

impl std::fmt::Debug for GitHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Octocrab's own Debug is opaque; the token is never printed either way.
        f.debug_struct("GitHub")
            .field("retry", self.retrier.policy())
            .finish_non_exhaustive()
    }
}

/// `owner` and `name` of a GitHub repository id.
fn split(repo: &RepoId) -> Result<(&str, &str)> {
    repo.as_str()
        .split_once('/')
        .filter(|(o, n)| !o.is_empty() && !n.is_empty() && !n.contains('/'))
        .ok_or_else(|| ForgeError::Setup {
            forge: ForgeKind::GitHub,
            message: format!("`{repo}` is not a GitHub repository (expected owner/name)"),
        })
}

impl GitHub {
    /// An adapter talking to `base_url` (`https://api.github.com`, a GitHub Enterprise
    /// `https://host/api/v3`, or a test fake's `http://127.0.0.1:PORT`) with `token`,
    /// retrying transient failures under `policy`.
    ///
    /// GraphQL goes to [`graphql_url`]`(base_url)`.
    pub fn new(base_url: &str, token: SecretString, policy: RetryPolicy) -> Result<Self> {
        let setup = |message: String| ForgeError::Setup {
            forge: ForgeKind::GitHub,
            message,
        };
        let base = base_url.trim_end_matches('/');
        url::Url::parse(base).map_err(|e| setup(format!("base URL `{base}`: {e}")))?;
        let graphql_base = graphql_url(base)
            .strip_suffix("/graphql")
            .map(str::to_owned)
            .unwrap_or_default();
        let build = |base: &str, token: SecretString, extra: Option<(http::HeaderName, &str)>| {
            let mut builder = Octocrab::builder()
                // Our Retrier is the one retry policy: octocrab's layer would retry 5xx and
                // 429 again inside each of our attempts.
                .add_retry_config(octocrab::service::middleware::retry::RetryConfig::None)
                .set_connect_timeout(Some(std::time::Duration::from_secs(10)))
                .set_read_timeout(Some(std::time::Duration::from_mins(1)));
            if let Some((name, value)) = extra {
                builder = builder.add_header(name, value.to_owned());
            }
            builder
                .base_uri(base)
                .map_err(|e| setup(format!("base URL `{base}`: {e}")))?
                .personal_token(token)
                .build()
                .map_err(|e| setup(format!("building the client: {e}")))
        };
        let graphql = build(
            &graphql_base,
            token.clone(),
            Some((http::header::ACCEPT, UPDATE_REFS_PREVIEW)),
        )?;
        Ok(Self {
            scrubber: upkeep_text::Scrubber::new([token.expose_secret()]),
            client: build(base, token, None)?,
            graphql,
            retrier: Retrier::new(policy),
            node_ids: Mutex::new(HashMap::new()),
            no_update_refs: AtomicBool::new(false),
        })
    }

    /// The adapter for github.com.
    pub fn github_com(token: SecretString, policy: RetryPolicy) -> Result<Self> {
        Self::new(GITHUB_COM_API, token, policy)
    }

    /// Runs one request under the retry policy, normalising its error. `what` names the
    /// thing a 404 means is missing.
    async fn call<T, F, Fut>(&self, doing: &str, what: &str, op: F) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = octocrab::Result<T>>,
    {
        tracing::debug!(forge = "github", "{doing}");
        self.retrier
            .run(doing, || async {
                op().await.map_err(|e| {
                    normalise(&e, doing, what)
                        .scrubbed(|text| self.scrubber.scrub(text).into_owned())
                })
            })
            .await
    }

    /// A GraphQL read at the GraphQL endpoint (on Enterprise Server it is not under
    /// `/api/v3`), under the retry policy. The whole answer: `data` and `errors` side by
    /// side, with each error's `type` (octocrab's `graphql` keeps one or the other,
    /// without the type).
    async fn graphql_read(
        &self,
        doing: &str,
        what: &str,
        payload: &serde_json::Value,
    ) -> Result<serde_json::Value> {
        self.call(doing, what, || async {
            self.graphql
                .post::<_, serde_json::Value>("/graphql", Some(payload))
                .await
        })
        .await
    }

    /// A GraphQL read's `data`, or the error the answer carries.
    async fn graphql_data<T: serde::de::DeserializeOwned>(
        &self,
        doing: &str,
        what: &str,
        repo: &RepoId,
        payload: &serde_json::Value,
    ) -> Result<T> {
        let mut answer = self.graphql_read(doing, what, payload).await?;
        if let Some(error) = Self::graphql_error(&answer, repo, doing) {
            return Err(error);
        }
        serde_json::from_value(answer["data"].take()).map_err(|e| ForgeError::Protocol {
            forge: ForgeKind::GitHub,
            doing: doing.to_owned(),
            message: e.to_string(),
        })
    }

    /// The error a GraphQL answer carries, if any: the repository is missing (GitHub's
    /// `NOT_FOUND`), or the query was refused (the messages).
    fn graphql_error(answer: &serde_json::Value, repo: &RepoId, doing: &str) -> Option<ForgeError> {
        let errors = answer["errors"].as_array().filter(|e| !e.is_empty())?;
        if errors[0]["type"] == "NOT_FOUND" {
            return Some(ForgeError::NotFound {
                forge: ForgeKind::GitHub,
                what: format!("repository {repo}"),
            });
        }
        let messages: Vec<&str> = errors
            .iter()
            .map(|e| e["message"].as_str().unwrap_or("(no message)"))
            .collect();
        Some(ForgeError::Protocol {
            forge: ForgeKind::GitHub,
            doing: doing.to_owned(),
            message: messages.join("; "),
        })
    }

    /// Every item of a paginated list, following `Link: rel="next"`.
    async fn rest_of<T>(&self, doing: &str, what: &str, first: Page<T>) -> Result<Vec<T>>
    where
        T: serde::de::DeserializeOwned,
    {
        let mut items = first.items;
        let mut next = first.next;
        while let Some(url) = next.take() {
            let url = Some(url);
            let page: Option<Page<T>> = self
                .call(doing, what, || async { self.client.get_page(&url).await })
                .await?;
            if let Some(page) = page {
                items.extend(page.items);
                next = page.next;
            }
        }
        Ok(items)
    }

    async fn node_id(&self, owner: &str, name: &str) -> Result<String> {
        let key = format!("{owner}/{name}");
        if let Some(id) = self.lock_ids().get(&key) {
            return Ok(id.clone());
        }
        let repo = self
            .call(
                &format!("reading repository {key}"),
                &format!("repository {key}"),
                || async { self.client.repos(owner, name).get().await },
            )
            .await?;
        let id = repo.node_id.ok_or_else(|| ForgeError::Protocol {
            forge: ForgeKind::GitHub,
            doing: format!("reading repository {key}"),
            message: "the repository has no node_id".into(),
        })?;
        self.lock_ids().insert(key, id.clone());
        Ok(id)
    }

    fn lock_ids(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.node_ids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The pull request with its review state folded in.
    async fn with_reviews(&self, repo: &RepoId, pull: &PullRequest) -> Result<ChangeRequest> {
        let (owner, name) = split(repo)?;
        let number = pull.number;
        let doing = format!("reading reviews of {repo}#{number}");
        let what = format!("pull request {repo}#{number}");
        let first = self
            .call(&doing, &what, || async {
                self.client
                    .pulls(owner, name)
                    .list_reviews(number)
                    .per_page(PER_PAGE)
                    .send()
                    .await
            })
            .await?;
        let reviews = self.rest_of(&doing, &what, first).await?;
        let latest = latest_decisive_reviews(
            reviews
                .iter()
                .filter_map(|r| Some((r.user.as_ref()?.login.clone(), r.state?))),
        );
        Ok(to_change_request(pull, &latest))
    }

    async fn find_open_pull(&self, repo: &RepoId, head: &str) -> Result<Option<PullRequest>> {
        let (owner, name) = split(repo)?;
        let page = self
            .call(
                &format!("looking for an open pull request from {head} in {repo}"),
                &format!("repository {repo}"),
                || async {
                    self.client
                        .pulls(owner, name)
                        .list()
                        .state(octocrab::params::State::Open)
                        .head(format!("{owner}:{head}"))
                        .per_page(PER_PAGE)
                        .send()
                        .await
                },
            )
            .await?;
        Ok(page.items.into_iter().find(|p| p.head.ref_field == head))
    }

    /// Sets labels and assignees on a new pull request (GitHub's create endpoint takes
    /// neither) and asks for reviews. A reviewer GitHub refuses (422: not a collaborator,
    /// or the pull request's author) is returned, not an error: the pull request exists
    /// and is what the caller must record. When a request naming several reviewers is
    /// refused, each is asked alone, so the others still get theirs.
    async fn decorate(
        &self,
        repo: &RepoId,
        number: u64,
        spec: &ChangeRequestSpec,
        existing_labels: &[String],
        existing_assignees: &[String],
        already_asked: &[String],
    ) -> Result<Vec<NotApplied>> {
        let (owner, name) = split(repo)?;
        let labels = union(existing_labels, &spec.labels);
        let assignees = union(existing_assignees, &spec.assignees);
        let what = format!("pull request {repo}#{number}");
        if labels.len() != existing_labels.len() || assignees.len() != existing_assignees.len() {
            self.call(&format!("labelling {repo}#{number}"), &what, || async {
                self.client
                    .issues(owner, name)
                    .update(number)
                    .labels(&labels)
                    .assignees(&assignees)
                    .send()
                    .await
            })
            .await?;
        }
        let missing: Vec<String> = spec
            .reviewers
            .iter()
            .filter(|r| !already_asked.contains(r))
            .cloned()
            .collect();
        let mut not_applied = Vec::new();
        if missing.is_empty() {
            return Ok(not_applied);
        }
        let route = format!("/repos/{owner}/{name}/pulls/{number}/requested_reviewers");
        let ask = |reviewers: Vec<String>| {
            let body = json!({"reviewers": reviewers, "team_reviewers": []});
            let route = &route;
            let what = &what;
            async move {
                self.call(
                    &format!("requesting reviews on {repo}#{number}"),
                    what,
                    || async {
                        self.client
                            .post::<_, serde_json::Value>(route, Some(&body))
                            .await
                    },
                )
                .await
            }
        };
        let refused = |e: ForgeError, user: &str| match e {
            ForgeError::Validation { message, .. } => Ok(NotApplied {
                user: user.to_owned(),
                role: PersonRole::Reviewer,
                reason: message,
            }),
            other => Err(other),
        };
        match ask(missing.clone()).await {
            Ok(_) => {}
            Err(e @ ForgeError::Validation { .. }) if missing.len() == 1 => {
                not_applied.push(refused(e, &missing[0])?);
            }
            Err(ForgeError::Validation { .. }) => {
                for reviewer in &missing {
                    if let Err(e) = ask(vec![reviewer.clone()]).await {
                        not_applied.push(refused(e, reviewer)?);
                    }
                }
            }
            Err(e) => return Err(e),
        }
        for n in &not_applied {
            tracing::warn!(%repo, number, user = %n.user, reason = %n.reason, "reviewer not requested");
        }
        Ok(not_applied)
    }

    /// Opens a pull request for `spec`, with its labels, assignees and reviewers.
    async fn open_pull(&self, repo: &RepoId, spec: &ChangeRequestSpec) -> Result<Upserted> {
        let (owner, name) = split(repo)?;
        let doing = format!("opening a pull request from {} in {repo}", spec.head);
        let created = self
            .call(&doing, &format!("repository {repo}"), || async {
                self.client
                    .pulls(owner, name)
                    .create(&spec.title, &spec.head, &spec.base)
                    .body(&spec.body)
                    .draft(spec.draft)
                    .send()
                    .await
            })
            .await;
        let (pull, reviewed) = match created {
            Ok(pull) => (pull, Vec::new()),
            // A retried create whose first attempt went through: adopt that one.
            // GitHub's list may trail the create for a moment: ask again, with backoff,
            // before calling it a conflict.
            Err(ForgeError::Validation { ref errors, .. })
                if errors.iter().any(|e| e.contains("already exists")) =>
            {
                let policy = self.retrier.policy();
                let mut attempt = 1;
                let pull = loop {
                    if let Some(pull) = self.find_open_pull(repo, &spec.head).await? {
                        break pull;
                    }
                    if attempt >= policy.max_attempts {
                        return Err(ForgeError::Conflict {
                            forge: ForgeKind::GitHub,
                            doing: doing.clone(),
                            message: format!(
                                "GitHub says a pull request exists but lists none ({attempt} lists)"
                            ),
                        });
                    }
                    tracing::debug!(%repo, attempt, "pull request list lags the create; asking again");
                    tokio::time::sleep(policy.backoff(attempt).max(policy.base_delay)).await;
                    attempt += 1;
                };
                let approvers = self.with_reviews(repo, &pull).await?.approvers;
                (pull, approvers)
            }
            Err(e) => return Err(e),
        };
        let mut asked = logins(pull.requested_reviewers.as_ref());
        asked.extend(reviewed);
        let not_applied = self
            .decorate(
                repo,
                pull.number,
                spec,
                &label_names(&pull),
                &logins(pull.assignees.as_ref()),
                &asked,
            )
            .await?;
        // A fresh pull request has no reviews: no request needed to know its state.
        let mut cr = to_change_request(&pull, &[]);
        cr.labels = union(&label_names(&pull), &spec.labels);
        Ok(Upserted {
            change_request: cr,
            action: UpsertAction::Created,
            not_applied,
        })
    }

    /// The REST fallback for servers without `updateRefs`: the tip is read again right
    /// before `PATCH /git/refs/heads/{branch}` (`force` only for a rollback), and a
    /// mismatch is [`ForgeError::BranchMoved`].
    ///
    /// Not atomic: between that read and the update (one round trip) a concurrent move is
    /// not seen. Someone else's forward move is built upon when `new` descends from it
    /// (otherwise GitHub refuses the update as not a fast-forward, and the caller hears
    /// where the branch is); a rollback (`force`) overwrites it. docs/forges.md says so.
    async fn move_branch_rest(&self, repo: &RepoId, request: &BranchMove) -> Result<()> {
        let (owner, name) = split(repo)?;
        let branch = &request.branch;
        let actual = self.read_branch(repo, branch).await?;
        if actual.as_deref() == Some(request.new.as_str()) {
            return Ok(());
        }
        if actual.as_deref() != Some(request.expected_old.as_str()) {
            return Err(moved(repo, request, actual));
        }
        let doing = format!("moving {branch} of {repo} to {} (REST)", request.new);
        let reference = Reference::Branch(branch.clone());
        let result = self
            .call(&doing, &format!("branch {branch} of {repo}"), || async {
                self.client
                    .repos(owner, name)
                    .update_ref(&reference, &request.new)
                    .force(request.allow_backwards)
                    .send()
                    .await
            })
            .await;
        match result {
            Ok(_) => {
                tracing::info!(forge = "github", %repo, %branch, from = %request.expected_old, to = %request.new, "branch moved (REST)");
                Ok(())
            }
            Err(ForgeError::Validation {
                message, errors, ..
            }) => {
                let said = std::iter::once(message)
                    .chain(errors)
                    .collect::<Vec<_>>()
                    .join("; ");
                self.explain_refusal(repo, request, doing, said).await
            }
            Err(e) if e.is_transient() => match self.read_branch(repo, branch).await {
                Ok(Some(now)) if now == request.new => Ok(()),
                _ => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    /// Why GitHub refused a move, from the branch's tip now and GitHub's words: done after
    /// all (a retried update whose first attempt went through), moved by someone else,
    /// protected (with what the token's user needs), or not a fast-forward.
    async fn explain_refusal(
        &self,
        repo: &RepoId,
        request: &BranchMove,
        doing: String,
        message: String,
    ) -> Result<()> {
        let now = self.read_branch(repo, &request.branch).await?;
        if now.as_deref() == Some(request.new.as_str()) {
            return Ok(());
        }
        if now.as_deref() != Some(request.expected_old.as_str()) {
            return Err(moved(repo, request, now));
        }
        if is_protection_refusal(&message) {
            let fix = match self.branch_access(repo, &request.branch).await {
                Ok(access) => access.fix,
                Err(e) => {
                    tracing::debug!(forge = "github", %repo, error = %e, "reading the branch's protection failed");
                    None
                }
            };
            return Err(ForgeError::BranchProtected {
                forge: ForgeKind::GitHub,
                repo: repo.to_string(),
                branch: request.branch.clone(),
                message,
                fix,
            });
        }
        if message.to_ascii_lowercase().contains("fast forward") {
            return Err(not_fast_forward(repo, request));
        }
        Err(ForgeError::Validation {
            forge: ForgeKind::GitHub,
            doing,
            message,
            errors: Vec::new(),
        })
    }

    async fn read_branch(&self, repo: &RepoId, branch: &str) -> Result<Option<String>> {
        let (owner, name) = split(repo)?;
        let reference = Reference::Branch(branch.to_owned());
        let found = self
            .call(
                &format!("reading branch {branch} of {repo}"),
                &format!("branch {branch} of {repo}"),
                || async { self.client.repos(owner, name).get_ref(&reference).await },
            )
            .await;
        match found {
            Ok(r) => Ok(Some(object_sha(&r.object))),
            Err(ForgeError::NotFound { .. }) => {
                // GitHub answers 404 for a missing repository too: tell them apart, at the
                // cost of one request only when something is missing.
                self.node_id(owner, name).await?;
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

/// Someone else moved the branch: where it is now.
fn moved(repo: &RepoId, request: &BranchMove, actual: Option<String>) -> ForgeError {
    ForgeError::BranchMoved {
        repo: repo.to_string(),
        branch: request.branch.clone(),
        expected: request.expected_old.clone(),
        actual,
    }
}

fn not_fast_forward(repo: &RepoId, request: &BranchMove) -> ForgeError {
    ForgeError::NotFastForward {
        repo: repo.to_string(),
        branch: request.branch.clone(),
        from: request.expected_old.clone(),
        to: request.new.clone(),
    }
}

/// How GitHub answered `updateRefs` (errors come with HTTP 200).
#[derive(Debug)]
enum RefsAnswer {
    Done,
    /// The schema has no `updateRefs` (GraphQL's `undefinedField`).
    Missing,
    /// GitHub refused the update, saying this.
    Refused(String),
}

impl RefsAnswer {
    fn from_errors(errors: &[octocrab::GraphqlError]) -> Self {
        let missing = errors.iter().any(|e| {
            e.extensions
                .as_ref()
                .and_then(|x| x.get("code"))
                .and_then(serde_json::Value::as_str)
                == Some("undefinedField")
                || (e.message.contains("updateRefs") && e.message.contains("doesn't exist"))
        });
        if missing {
            Self::Missing
        } else {
            Self::Refused(
                errors
                    .iter()
                    .map(|e| e.message.clone())
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        }
    }
}

/// Whether GitHub's words for a refused ref update or push are about branch protection
/// (the REST and push refusals GitHub documents: GH006 and the rule that failed).
fn is_protection_refusal(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    [
        "protected branch",
        "changes must be made through a pull request",
        "not authorized to push to this branch",
        "required status check",
        "cannot force-push",
        "cannot delete this protected branch",
        "locked branch",
    ]
    .iter()
    .any(|p| lower.contains(p))
}

fn object_sha(object: &octocrab::models::repos::Object) -> String {
    use octocrab::models::repos::Object;
    match object {
        Object::Commit { sha, .. }
        | Object::Tag { sha, .. }
        | Object::Tree { sha, .. }
        | Object::Blob { sha, .. } => sha.clone(),
        _ => String::new(),
    }
}

fn union(existing: &[String], wanted: &[String]) -> Vec<String> {
    let mut out = existing.to_vec();
    for w in wanted {
        if !out.contains(w) {
            out.push(w.clone());
        }
    }
    out
}

/// Each reviewer's latest decisive review (approved, changes requested, or dismissed):
/// a later comment does not undo an approval, a later approval does undo a request for
/// changes. Order of first appearance is kept.
fn latest_decisive_reviews(
    reviews: impl Iterator<Item = (String, ReviewState)>,
) -> Vec<(String, ReviewState)> {
    let mut latest: Vec<(String, ReviewState)> = Vec::new();
    for (user, state) in reviews {
        if !matches!(
            state,
            ReviewState::Approved | ReviewState::ChangesRequested | ReviewState::Dismissed
        ) {
            continue;
        }
        match latest.iter_mut().find(|(u, _)| *u == user) {
            Some(slot) => slot.1 = state,
            None => latest.push((user, state)),
        }
    }
    latest
}

fn to_change_request(pull: &PullRequest, reviews: &[(String, ReviewState)]) -> ChangeRequest {
    let approvers: Vec<String> = reviews
        .iter()
        .filter(|(_, s)| *s == ReviewState::Approved)
        .map(|(u, _)| u.clone())
        .collect();
    let changes_requested = reviews
        .iter()
        .any(|(_, s)| *s == ReviewState::ChangesRequested);
    let closed = matches!(pull.state, Some(octocrab::models::IssueState::Closed));
    let state = if pull.merged_at.is_some() || pull.merged == Some(true) {
        ChangeRequestState::Merged
    } else if closed {
        ChangeRequestState::Closed
    } else if changes_requested {
        ChangeRequestState::ChangesRequested
    } else if !approvers.is_empty() {
        ChangeRequestState::Approved
    } else {
        ChangeRequestState::Open
    };
    ChangeRequest {
        number: pull.number,
        url: pull
            .html_url
            .as_ref()
            .map_or_else(|| pull.url.clone(), ToString::to_string),
        title: pull.title.clone().unwrap_or_default(),
        body: pull.body.clone().unwrap_or_default(),
        head: pull.head.ref_field.clone(),
        base: pull.base.ref_field.clone(),
        head_sha: Some(pull.head.sha.clone()).filter(|s| !s.is_empty()),
        state,
        draft: pull.draft.unwrap_or(false),
        labels: label_names(pull),
        approvers,
        merge_sha: if state == ChangeRequestState::Merged {
            pull.merge_commit_sha.clone()
        } else {
            None
        },
    }
}

fn label_names(pull: &PullRequest) -> Vec<String> {
    pull.labels
        .iter()
        .flatten()
        .map(|l| l.name.clone())
        .collect()
}

fn logins(users: Option<&Vec<octocrab::models::Author>>) -> Vec<String> {
    users
        .into_iter()
        .flatten()
        .map(|u| u.login.clone())
        .collect()
}

/// Turns an octocrab error into a [`ForgeError`]. Octocrab's messages and the server's
/// body are kept; the token is in neither (it only ever travels in a request header).
fn normalise(error: &octocrab::Error, doing: &str, what: &str) -> ForgeError {
    let forge = ForgeKind::GitHub;
    let doing = doing.to_owned();
    match error {
        octocrab::Error::GitHub { source, .. } => {
            let status = source.status_code.as_u16();
            let empty = HeaderMap::new();
            let headers = source.headers.as_ref().unwrap_or(&empty);
            let message = source.message.clone();
            match status {
                401 => ForgeError::Unauthorized {
                    forge,
                    doing,
                    message,
                },
                403 | 429 => {
                    if let RateLimit::Until(reset) = rate_limit_reset(status, headers, &message) {
                        ForgeError::RateLimited {
                            forge,
                            doing,
                            reset,
                        }
                    } else {
                        ForgeError::Forbidden {
                            forge,
                            doing,
                            missing_scope: missing_scope(headers),
                            message,
                        }
                    }
                }
                404 | 410 => ForgeError::NotFound {
                    forge,
                    what: what.to_owned(),
                },
                409 => ForgeError::Conflict {
                    forge,
                    doing,
                    message,
                },
                400 | 422 => ForgeError::Validation {
                    forge,
                    doing,
                    message,
                    errors: source
                        .errors
                        .iter()
                        .flatten()
                        .map(describe_field_error)
                        .collect(),
                },
                500..=599 => ForgeError::Server {
                    forge,
                    doing,
                    status,
                    message,
                },
                _ => ForgeError::Protocol {
                    forge,
                    doing,
                    message: format!("HTTP {status}: {message}"),
                },
            }
        }
        octocrab::Error::Hyper { .. }
        | octocrab::Error::Service { .. }
        | octocrab::Error::Http { .. } => ForgeError::Transport {
            forge,
            doing,
            message: error_chain(error),
        },
        // GitHub answers GraphQL errors with HTTP 200; their messages say what was
        // refused ("Update of refs/heads/stable is not a fast forward").
        octocrab::Error::Graphql { source, .. } => ForgeError::Protocol {
            forge,
            doing,
            message: source
                .0
                .iter()
                .map(|e| e.message.as_str())
                .collect::<Vec<_>>()
                .join("; "),
        },
        other => ForgeError::Protocol {
            forge,
            doing,
            message: error_chain(other),
        },
    }
}

/// [`upkeep_text::error_chain`] of an octocrab error, first line only: octocrab appends a
/// backtrace location to some messages.
fn error_chain(error: &dyn std::error::Error) -> String {
    let chain = upkeep_text::error_chain(error);
    chain.lines().next().unwrap_or_default().to_owned()
}

/// Whether a 403/429 is a rate limit, and until when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RateLimit {
    /// A plain permission error.
    No,
    /// Rate limited, lifting at the given time when the server said.
    Until(Option<DateTime<Utc>>),
}

/// Primary limits say `x-ratelimit-remaining: 0` (and `x-ratelimit-reset`); secondary
/// ones send `Retry-After` or only GitHub's "secondary rate limit" message; a 429 is
/// always a limit.
fn rate_limit_reset(status: u16, headers: &HeaderMap, message: &str) -> RateLimit {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let retry_after = header("retry-after")
        .and_then(|v| v.trim().parse::<i64>().ok())
        .map(|secs| Utc::now() + chrono::Duration::seconds(secs));
    let reset = header("x-ratelimit-reset")
        .and_then(|v| v.trim().parse::<i64>().ok())
        .and_then(|epoch| DateTime::from_timestamp(epoch, 0));
    let exhausted = header("x-ratelimit-remaining").is_some_and(|v| v.trim() == "0");
    let lower = message.to_ascii_lowercase();
    let secondary = lower.contains("secondary rate limit") || lower.contains("abuse detection");
    if retry_after.is_some() {
        RateLimit::Until(retry_after)
    } else if exhausted {
        RateLimit::Until(reset)
    } else if secondary || status == 429 || lower.contains("rate limit exceeded") {
        RateLimit::Until(None)
    } else {
        RateLimit::No
    }
}

/// The scope GitHub said it accepts for the call and the token does not have.
fn missing_scope(headers: &HeaderMap) -> Option<String> {
    let list = |name: &str| -> Vec<String> {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    };
    let accepted = list("x-accepted-oauth-scopes");
    let granted = list("x-oauth-scopes");
    if accepted.iter().any(|a| granted.contains(a)) {
        return None;
    }
    accepted.into_iter().next()
}

/// One entry of GitHub's 422 `errors` list as a sentence.
fn describe_field_error(error: &serde_json::Value) -> String {
    if let Some(message) = error.get("message").and_then(|m| m.as_str()) {
        return message.to_owned();
    }
    if let Some(text) = error.as_str() {
        return text.to_owned();
    }
    let part = |k: &str| error.get(k).and_then(|v| v.as_str()).unwrap_or("?");
    format!("{} {} is {}", part("resource"), part("field"), part("code"))
}

fn status_state(state: &str) -> CheckState {
    match state {
        "success" => CheckState::Success,
        "pending" => CheckState::Pending,
        // failure, error, and anything new: not green.
        _ => CheckState::Failure,
    }
}

fn check_run_state(conclusion: Option<&str>) -> CheckState {
    match conclusion {
        // No conclusion yet: queued or in progress.
        None => CheckState::Pending,
        Some("success") => CheckState::Success,
        Some("neutral" | "skipped") => CheckState::Skipped,
        // failure, cancelled, timed_out, action_required, stale, startup_failure: not green.
        Some(_) => CheckState::Failure,
    }
}

#[async_trait]
impl Forge for GitHub {
    fn kind(&self) -> ForgeKind {
        ForgeKind::GitHub
    }

    async fn find_open_change_request(
        &self,
        repo: &RepoId,
        head: &str,
    ) -> Result<Option<ChangeRequest>> {
        match self.find_open_pull(repo, head).await? {
            Some(pull) => Ok(Some(self.with_reviews(repo, &pull).await?)),
            None => Ok(None),
        }
    }

    /// Costs, in requests: for an open pull request that already matches, 2 (list +
    /// reviews); one that needs a new title/body/labels, 3 (+ one issue `PATCH`, which
    /// sets title, body, labels and assignees at once); reviewers not yet asked add one.
    /// A new pull request: list, create, labels/assignees, reviewers.
    ///
    /// Labels and assignees are only ever added: ones people put on by hand stay. The
    /// draft flag is only applied when opening (GitHub's REST API cannot change it), and
    /// the base of an open pull request is left as it is.
    async fn upsert_change_request(
        &self,
        repo: &RepoId,
        spec: &ChangeRequestSpec,
    ) -> Result<Upserted> {
        let (owner, name) = split(repo)?;
        let existing = self.find_open_pull(repo, &spec.head).await?;
        let Some(pull) = existing else {
            return self.open_pull(repo, spec).await;
        };

        let number = pull.number;
        let labels = label_names(&pull);
        let assignees = logins(pull.assignees.as_ref());
        let wanted_labels = union(&labels, &spec.labels);
        let wanted_assignees = union(&assignees, &spec.assignees);
        let text_changed = pull.title.as_deref() != Some(spec.title.as_str())
            || pull.body.as_deref().unwrap_or_default() != spec.body;
        let meta_changed =
            wanted_labels.len() != labels.len() || wanted_assignees.len() != assignees.len();
        let reviews = self.with_reviews(repo, &pull).await?;
        // A reviewer who already reviewed needs no new request.
        let mut asked = logins(pull.requested_reviewers.as_ref());
        asked.extend(reviews.approvers.iter().cloned());
        let reviewers_missing = spec.reviewers.iter().any(|r| !asked.contains(r));
        if !text_changed && !meta_changed && !reviewers_missing {
            return Ok(Upserted {
                change_request: reviews,
                action: UpsertAction::Unchanged,
                not_applied: Vec::new(),
            });
        }
        if text_changed || meta_changed {
            self.call(
                &format!("updating {repo}#{number}"),
                &format!("pull request {repo}#{number}"),
                || async {
                    self.client
                        .issues(owner, name)
                        .update(number)
                        .title(&spec.title)
                        .body(&spec.body)
                        .labels(&wanted_labels)
                        .assignees(&wanted_assignees)
                        .send()
                        .await
                },
            )
            .await?;
        }
        let mut not_applied = Vec::new();
        if reviewers_missing {
            let only_reviewers = ChangeRequestSpec {
                reviewers: spec.reviewers.clone(),
                ..ChangeRequestSpec::default()
            };
            not_applied = self
                .decorate(repo, number, &only_reviewers, &[], &[], &asked)
                .await?;
        }
        // Only refused reviewers to ask for: nothing changed.
        let asked_now = spec
            .reviewers
            .iter()
            .any(|r| !asked.contains(r) && !not_applied.iter().any(|n| &n.user == r));
        let action = if text_changed || meta_changed || asked_now {
            UpsertAction::Updated
        } else {
            UpsertAction::Unchanged
        };
        let mut cr = reviews;
        cr.title.clone_from(&spec.title);
        cr.body.clone_from(&spec.body);
        cr.labels = wanted_labels;
        Ok(Upserted {
            change_request: cr,
            action,
            not_applied,
        })
    }

    async fn change_request(&self, repo: &RepoId, number: u64) -> Result<ChangeRequest> {
        let (owner, name) = split(repo)?;
        let pull = self
            .call(
                &format!("reading {repo}#{number}"),
                &format!("pull request {repo}#{number}"),
                || async { self.client.pulls(owner, name).get(number).await },
            )
            .await?;
        self.with_reviews(repo, &pull).await
    }

    async fn branch_tip(&self, repo: &RepoId, branch: &str) -> Result<Option<String>> {
        self.read_branch(repo, branch).await
    }

    /// GitHub lists at most 250 commits in a comparison; `ahead_by`/`behind_by` are exact.
    async fn compare(&self, repo: &RepoId, base: &str, head: &str) -> Result<Comparison> {
        let (owner, name) = split(repo)?;
        let cmp = self
            .call(
                &format!("comparing {base}...{head} in {repo}"),
                &format!("{base} or {head} in {repo}"),
                || async {
                    self.client
                        .repos(owner, name)
                        .compare_commits(base, head)
                        .send()
                        .await
                },
            )
            .await?;
        let commits = cmp
            .commits
            .iter()
            .rev()
            .map(|c| CommitSummary {
                sha: c.sha.clone(),
                subject: c
                    .commit
                    .message
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
                author: c
                    .commit
                    .author
                    .as_ref()
                    .and_then(|a| a.name.clone())
                    .unwrap_or_default(),
                time: c.commit.author.as_ref().and_then(|a| a.date.clone()),
            })
            .collect();
        Ok(Comparison {
            ahead_by: usize::try_from(cmp.ahead_by).unwrap_or(0),
            behind_by: usize::try_from(cmp.behind_by).unwrap_or(0),
            commits,
            merge_base: Some(cmp.merge_base_commit.sha.clone()),
        })
    }

    /// Compare-and-swap through GraphQL `updateRefs`, not REST.
    ///
    /// REST `PATCH /git/refs/heads/{branch}` has no expected-old-SHA: reading the ref and
    /// then patching it leaves a window in which someone else's move is silently
    /// overwritten (or, with `force=false`, silently built upon). `updateRefs` takes a
    /// `beforeOid` per ref and GitHub applies the update only if the ref is still there,
    /// atomically, so a concurrent move always loses one side with an error.
    ///
    /// Steps: the mutation first, with `beforeOid` and `force = allow_backwards` — it is
    /// the compare-and-swap and the fast-forward check at once, so a move costs one
    /// request (plus the repository's node id, usually cached from the plan's read). Only
    /// when GitHub refuses is the tip read, to say why: a moved tip is
    /// [`ForgeError::BranchMoved`], a tip already at `new` (a retried mutation whose first
    /// attempt went through) is done, and otherwise a `new` that does not descend from
    /// the old tip is [`ForgeError::NotFastForward`]. The same check settles a move whose every answer was lost. A refusal
    /// by branch protection is [`ForgeError::BranchProtected`], saying what the token's
    /// user needs ([`Forge::branch_access`]).
    ///
    /// A server without `updateRefs` (an older GitHub Enterprise Server) gets the REST
    /// update instead, with the tip read right before it; that read and the update are
    /// not atomic (docs/forges.md describes the window).
    async fn move_branch(&self, repo: &RepoId, request: &BranchMove) -> Result<()> {
        let (owner, name) = split(repo)?;
        let branch = &request.branch;
        if request.new == request.expected_old {
            let actual = self.read_branch(repo, branch).await?;
            return if actual.as_deref() == Some(request.expected_old.as_str()) {
                Ok(())
            } else {
                Err(moved(repo, request, actual))
            };
        }
        if self.no_update_refs.load(Ordering::Relaxed) {
            return self.move_branch_rest(repo, request).await;
        }
        // `updateRefs` with `beforeOid` and `force: false` is the compare-and-swap and the
        // fast-forward check: the mutation goes first, and the branch is read only when
        // GitHub refuses, to say why. The node id is usually cached from the plan's read.
        let repository_id = self.node_id(owner, name).await?;
        let payload = json!({
            "query": UPDATE_REFS,
            "variables": {"input": {
                "repositoryId": repository_id,
                "refUpdates": [{
                    "name": format!("refs/heads/{branch}"),
                    "beforeOid": request.expected_old,
                    "afterOid": request.new,
                    "force": request.allow_backwards,
                }],
            }},
        });
        let doing = format!("moving {branch} of {repo} to {}", request.new);
        let result = self
            .call(&doing, &format!("repository {repo}"), || async {
                match self.graphql.graphql::<serde_json::Value>(&payload).await {
                    Ok(_) => Ok(RefsAnswer::Done),
                    Err(octocrab::Error::Graphql { source, .. }) => {
                        Ok(RefsAnswer::from_errors(&source.0))
                    }
                    Err(e) => Err(e),
                }
            })
            .await;
        match result {
            Ok(RefsAnswer::Done) => {
                tracing::info!(forge = "github", %repo, %branch, from = %request.expected_old, to = %request.new, "branch moved");
                Ok(())
            }
            Ok(RefsAnswer::Missing) => {
                tracing::warn!(forge = "github", %repo, "the server has no GraphQL updateRefs; moving branches with the REST ref update, which cannot check the old tip atomically");
                self.no_update_refs.store(true, Ordering::Relaxed);
                self.move_branch_rest(repo, request).await
            }
            Ok(RefsAnswer::Refused(message)) => {
                self.explain_refusal(repo, request, doing, message).await
            }
            // Retries ran out on lost answers: the mutation may have gone through, and a
            // caller recording "failed" for a branch that moved would be wrong. The tip
            // says which.
            Err(e) if e.is_transient() => match self.read_branch(repo, branch).await {
                Ok(Some(now)) if now == request.new => Ok(()),
                _ => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    async fn tags(&self, repo: &RepoId) -> Result<Vec<Tag>> {
        let (owner, name) = split(repo)?;
        let doing = format!("listing tags of {repo}");
        let what = format!("repository {repo}");
        let first = self
            .call(&doing, &what, || async {
                self.client
                    .repos(owner, name)
                    .list_tags()
                    .per_page(PER_PAGE)
                    .send()
                    .await
            })
            .await?;
        Ok(self
            .rest_of(&doing, &what, first)
            .await?
            .into_iter()
            .map(|t| Tag {
                name: t.name,
                sha: t.commit.sha,
            })
            .collect())
    }

    /// An annotated tag is a tag object plus its ref (two requests); a lightweight one is
    /// just the ref. An existing tag is never moved: GitHub refuses it (422 "Reference
    /// already exists"), which is an error unless the tag already names what was asked.
    async fn create_tag(
        &self,
        repo: &RepoId,
        name: &str,
        sha: &str,
        message: Option<&str>,
    ) -> Result<()> {
        let (owner, repo_name) = split(repo)?;
        let what = format!("commit {sha} in {repo}");
        let target = match message {
            None => sha.to_owned(),
            Some(message) => {
                #[derive(Deserialize)]
                struct TagObject {
                    sha: String,
                }
                let route = format!("/repos/{owner}/{repo_name}/git/tags");
                let body =
                    json!({"tag": name, "message": message, "object": sha, "type": "commit"});
                let object: TagObject = self
                    .call(
                        &format!("creating tag object {name} in {repo}"),
                        &what,
                        || async { self.client.post(&route, Some(&body)).await },
                    )
                    .await?;
                object.sha
            }
        };
        let reference = Reference::Tag(name.to_owned());
        let created = self
            .call(&format!("creating tag {name} in {repo}"), &what, || async {
                self.client
                    .repos(owner, repo_name)
                    .create_ref(&reference, &target)
                    .await
            })
            .await;
        match created {
            Ok(_) => Ok(()),
            // "Reference already exists": fine if it is ours (a retried request whose
            // first answer was lost, or the same lightweight tag again), else an error.
            Err(error @ ForgeError::Validation { .. }) => {
                let existing = self
                    .call(&format!("reading tag {name} in {repo}"), &what, || async {
                        self.client
                            .repos(owner, repo_name)
                            .get_ref(&reference)
                            .await
                    })
                    .await;
                match existing {
                    Ok(r) if object_sha(&r.object) == target => Ok(()),
                    _ => Err(error),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Two requests: the combined status (statuses, latest per context) and the check
    /// runs (latest per name). GitHub's combined `state` is ignored: it says `pending`
    /// for a commit with no statuses at all, and knows nothing of check runs.
    /// One GraphQL query: both tips, how they compare, and the node id for the move.
    async fn promotion_reads(
        &self,
        repo: &RepoId,
        source: &str,
        target: &str,
    ) -> Result<crate::PromotionReads> {
        self.read_for_promotion(repo, source, target).await
    }

    async fn ci_verdict(&self, repo: &RepoId, sha: &str) -> Result<CiVerdict> {
        self.read_ci(repo, sha).await
    }

    /// `GET /repos/{owner}/{repo}`, one request: `permissions` is the role of the token's
    /// account; `x-oauth-scopes` lists a classic token's scopes. Fine-grained and app
    /// tokens send no scopes and the API does not show their own permissions, so with
    /// them a role that allows something reads as unknown, not as yes. A classic token
    /// without the `workflow` scope can push, but not a change to `.github/workflows`:
    /// [`Access::fix`] says so.
    async fn access(&self, repo: &RepoId) -> Result<Access> {
        let (repository, headers) = self.repository_access(repo).await?;
        Ok(github_access(
            &repository,
            token_scopes(&headers).as_deref(),
        ))
    }

    /// One GraphQL query: the token's role (`viewerPermission`) and the branch's
    /// `refUpdateRule`, whose `viewerCanPush` is GitHub's own verdict on the token's user
    /// (shown to every reader). Only when it refuses an administrator is the rule read
    /// through REST, to say what is missing (`GitHub::rule_access`).
    async fn branch_access(&self, repo: &RepoId, branch: &str) -> Result<BranchAccess> {
        match self.read_branch_access(repo, branch).await? {
            Some(access) => Ok(access),
            None => self.rule_access(repo, branch).await,
        }
    }
}

impl GitHub {
    /// From the branch (`GET /repos/{owner}/{repo}/branches/{branch}`: its `protected`
    /// flag) and the account's role (`GET /repos/{owner}/{repo}`). GitHub shows a
    /// protection rule to administrators only: for them the rule is read
    /// (`GET …/branches/{branch}/protection`, and `GET /user` when the rule lists who may
    /// push) and judged as GitHub does; for others a protected branch is unknown, with
    /// what would let them through. Classic rules only: rulesets are not read.
    async fn rule_access(&self, repo: &RepoId, branch: &str) -> Result<BranchAccess> {
        let (owner, name) = split(repo)?;

        let (repository, _) = self.repository_access(repo).await?;
        let doing = format!("reading branch {branch} of {repo}");
        let what = format!("branch {branch} of {repo}");
        let route = format!("/repos/{owner}/{name}/branches/{}", url_segment(branch));
        let info = self
            .call(&doing, &what, || async {
                self.client
                    .get::<BranchInfo, _, _>(&route, None::<&()>)
                    .await
            })
            .await;
        let info = match info {
            Ok(info) => info,
            Err(ForgeError::NotFound { .. }) => {
                return Ok(BranchAccess::unknown(
                    branch,
                    format!(
                        "`{branch}` does not exist on {repo}; GitHub tells protection only for existing branches"
                    ),
                ));
            }
            Err(e) => return Err(e),
        };
        let account = repository.permissions.unwrap_or_default();
        if !info.protected {
            return Ok(unprotected_access(branch, &account));
        }
        if !account.admin {
            let contexts = info
                .protection
                .and_then(|p| p.required_status_checks)
                .map(|c| c.contexts)
                .unwrap_or_default();
            return Ok(hidden_rule_access(branch, &account, &contexts));
        }
        let rule: ProtectionRule = self
            .call(
                &format!("reading the protection of {branch} of {repo}"),
                &what,
                || async {
                    self.client
                        .get::<ProtectionRule, _, _>(format!("{route}/protection"), None::<&()>)
                        .await
                },
            )
            .await?;
        let login = if rule.lists_people() {
            let user: octocrab::models::Author = self
                .call("reading the token's user", "the token's user", || async {
                    self.client.get("/user", None::<&()>).await
                })
                .await?;
            Some(user.login)
        } else {
            None
        };
        Ok(rule_access(branch, &rule, &account, login.as_deref()))
    }

    /// `GET /repos/{owner}/{repo}` with its headers (the token's scopes).
    async fn repository_access(&self, repo: &RepoId) -> Result<(RepositoryAccess, HeaderMap)> {
        let (owner, name) = split(repo)?;
        let route = format!("/repos/{owner}/{name}");
        let doing = format!("reading repository {repo}");
        let (headers, body) = self
            .call(&doing, &format!("repository {repo}"), || async {
                let response = self.client._get(route.as_str()).await?;
                let response = octocrab::map_github_error(response).await?;
                let headers = response.headers().clone();
                let body = self.client.body_to_string(response).await?;
                Ok((headers, body))
            })
            .await?;
        let repository: RepositoryAccess =
            serde_json::from_str(&body).map_err(|e| ForgeError::Protocol {
                forge: ForgeKind::GitHub,
                doing,
                message: format!("unexpected repository JSON: {e}"),
            })?;
        Ok((repository, headers))
    }
}

/// What stays as it is in a URL path segment: RFC 3986's unreserved characters.
const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A branch name as one URL path segment (`/` and the like percent-encoded).
fn url_segment(branch: &str) -> String {
    percent_encoding::utf8_percent_encode(branch, UNRESERVED).to_string()
}

/// `GET /repos/{owner}/{repo}/branches/{branch}`, the parts upkeep reads.
#[derive(Debug, Deserialize)]
struct BranchInfo {
    protected: bool,
    #[serde(default)]
    protection: Option<BranchProtectionSummary>,
}

#[derive(Debug, Deserialize)]
struct BranchProtectionSummary {
    #[serde(default)]
    required_status_checks: Option<StatusChecks>,
}

#[derive(Debug, Default, Deserialize)]
struct StatusChecks {
    #[serde(default)]
    contexts: Vec<String>,
}

/// A classic branch protection rule (`GET …/branches/{branch}/protection`), the parts that
/// decide who may move the branch.
#[derive(Debug, Default, Deserialize)]
struct ProtectionRule {
    #[serde(default)]
    enforce_admins: Option<Enabled>,
    #[serde(default)]
    required_pull_request_reviews: Option<PullRequestRule>,
    #[serde(default)]
    restrictions: Option<People>,
    #[serde(default)]
    lock_branch: Option<Enabled>,
    #[serde(default)]
    allow_force_pushes: Option<Enabled>,
    #[serde(default)]
    required_status_checks: Option<StatusChecks>,
}

impl ProtectionRule {
    fn flag(flag: Option<&Enabled>) -> bool {
        flag.is_some_and(|f| f.enabled)
    }

    /// Whether the rule names users (then the token's login matters).
    fn lists_people(&self) -> bool {
        self.restrictions.is_some()
            || self
                .required_pull_request_reviews
                .as_ref()
                .is_some_and(|r| r.bypass_pull_request_allowances.is_some())
    }
}

#[derive(Debug, Default, Deserialize)]
struct Enabled {
    #[serde(default)]
    enabled: bool,
}

#[derive(Debug, Default, Deserialize)]
struct PullRequestRule {
    #[serde(default)]
    bypass_pull_request_allowances: Option<People>,
}

#[derive(Debug, Default, Deserialize)]
struct People {
    #[serde(default)]
    users: Vec<Login>,
    #[serde(default)]
    teams: Vec<serde_json::Value>,
    #[serde(default)]
    apps: Vec<serde_json::Value>,
}

impl People {
    /// `Some(true)` listed, `Some(false)` surely not, `None` maybe (through a team or app,
    /// which the API does not resolve for us).
    fn includes(&self, login: Option<&str>) -> Option<bool> {
        if login.is_some_and(|l| self.users.iter().any(|u| u.login == l)) {
            Some(true)
        } else if self.teams.is_empty() && self.apps.is_empty() {
            Some(false)
        } else {
            None
        }
    }
}

#[derive(Debug, Deserialize)]
struct Login {
    login: String,
}

fn unprotected_access(branch: &str, role: &RolePermissions) -> BranchAccess {
    BranchAccess {
        branch: branch.to_owned(),
        protected: Some(false),
        can_update: Some(role.push),
        detail: format!("`{branch}` is not protected"),
        fix: (!role.push).then(|| {
            "the token's account needs write access to the repository (the Write role or higher)"
                .to_owned()
        }),
    }
}

/// A protected branch whose rule only administrators may read.
fn hidden_rule_access(branch: &str, role: &RolePermissions, contexts: &[String]) -> BranchAccess {
    let checks = if contexts.is_empty() {
        String::new()
    } else {
        format!(
            "; a new tip needs passing status checks: {}",
            contexts.join(", ")
        )
    };
    if !role.push {
        return BranchAccess {
            branch: branch.to_owned(),
            protected: Some(true),
            can_update: Some(false),
            detail: format!("`{branch}` is protected{checks}; the account may only read"),
            fix: Some(format!(
                "`{branch}` is protected; the token's user needs write access to the repository, and the Admin role or an allowance in the branch's protection rule"
            )),
        };
    }
    BranchAccess {
        branch: branch.to_owned(),
        protected: Some(true),
        can_update: None,
        detail: format!("`{branch}` is protected{checks}; only administrators can read its rule"),
        fix: Some(format!(
            "`{branch}` is protected; the token's user needs the Admin role (administrators bypass a rule that does not include them), or to be allowed by the rule: listed in who may push to it and allowed to bypass required pull requests"
        )),
    }
}

/// A rule the token's account (an administrator) could read, judged as GitHub judges an
/// update by it: administrators bypass a rule that does not include them; otherwise a
/// lock, push restrictions and required pull requests must each let `login` through.
fn rule_access(
    branch: &str,
    rule: &ProtectionRule,
    account: &RolePermissions,
    login: Option<&str>,
) -> BranchAccess {
    let includes_admins = ProtectionRule::flag(rule.enforce_admins.as_ref());
    let mut notes = Vec::new();
    if let Some(checks) = rule
        .required_status_checks
        .as_ref()
        .filter(|c| !c.contexts.is_empty())
    {
        notes.push(format!(
            "a new tip needs passing status checks: {}",
            checks.contexts.join(", ")
        ));
    }
    if !ProtectionRule::flag(rule.allow_force_pushes.as_ref()) {
        notes.push("force pushes (rollbacks) are blocked for everyone".to_owned());
    }
    let with_notes = |head: String| {
        std::iter::once(head)
            .chain(notes.iter().cloned())
            .collect::<Vec<_>>()
            .join("; ")
    };
    if account.admin && !includes_admins {
        return BranchAccess {
            branch: branch.to_owned(),
            protected: Some(true),
            can_update: Some(true),
            detail: with_notes(format!(
                "`{branch}` is protected; the token's user is an administrator and the rule does not include administrators"
            )),
            fix: None,
        };
    }
    let mut refused = Vec::new();
    let mut unknown = Vec::new();
    if ProtectionRule::flag(rule.lock_branch.as_ref()) {
        refused.push("the branch unlocked (it is locked)".to_owned());
    }
    if let Some(reviews) = &rule.required_pull_request_reviews {
        let need = "to be allowed to bypass required pull requests".to_owned();
        match reviews
            .bypass_pull_request_allowances
            .as_ref()
            .map_or(Some(false), |p| p.includes(login))
        {
            Some(true) => {}
            Some(false) => refused.push(need),
            None => unknown.push(need + " (a team or app may allow it)"),
        }
    }
    if let Some(restrictions) = &rule.restrictions {
        let need = "to be listed in who may push to it".to_owned();
        match restrictions.includes(login) {
            Some(true) => {}
            Some(false) => refused.push(need),
            None => unknown.push(need + " (a team or app may allow it)"),
        }
    }
    let admins = if includes_admins {
        "; the rule includes administrators"
    } else {
        ""
    };
    let (can_update, needs) = if !refused.is_empty() {
        (Some(false), refused)
    } else if !unknown.is_empty() {
        (None, unknown)
    } else {
        (Some(true), Vec::new())
    };
    let fix = (!needs.is_empty()).then(|| {
        let mut fix = format!(
            "`{branch}` is protected; the token's user needs {}",
            needs.join(" and ")
        );
        if !account.admin && !includes_admins {
            fix.push_str(", or the Admin role (administrators bypass this rule)");
        }
        fix
    });
    BranchAccess {
        branch: branch.to_owned(),
        protected: Some(true),
        can_update,
        detail: with_notes(format!("`{branch}` is protected{admins}")),
        fix,
    }
}

/// The parts of `GET /repos/{owner}/{repo}` that say what the caller may do.
#[derive(Debug, Deserialize)]
struct RepositoryAccess {
    #[serde(default)]
    private: bool,
    /// Absent when the request is anonymous.
    #[serde(default)]
    permissions: Option<RolePermissions>,
}

#[derive(Debug, Default, Deserialize)]
struct RolePermissions {
    #[serde(default)]
    admin: bool,
    #[serde(default)]
    push: bool,
    #[serde(default)]
    pull: bool,
}

/// A classic token's scopes from `x-oauth-scopes`; `None` when the header is absent
/// (fine-grained, app and Actions tokens).
fn token_scopes(headers: &HeaderMap) -> Option<Vec<String>> {
    let value = headers.get("x-oauth-scopes")?.to_str().ok()?;
    Some(
        value
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
    )
}

/// Combines the account's role with the token's scopes: either one refusing is a no;
/// both allowing is a yes; a role that allows with the token's own permissions unknown
/// is unknown.
fn github_access(repo: &RepositoryAccess, scopes: Option<&[String]>) -> Access {
    let role_push = repo.permissions.as_ref().map(|p| p.push);
    let role_pull = repo.permissions.as_ref().map(|p| p.pull || p.push);
    let scope_ok = scopes.map(|scopes| {
        scopes.iter().any(|s| s == "repo")
            || (!repo.private && scopes.iter().any(|s| s == "public_repo"))
    });
    let combine = |role: Option<bool>| match (role, scope_ok) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    };
    let can_push = combine(role_push);
    let can_open_change_requests = combine(role_pull);
    let role = match &repo.permissions {
        Some(p) if p.push => "the account may push".to_owned(),
        Some(p) if p.pull => "the account may only read".to_owned(),
        Some(_) => "the account has no access".to_owned(),
        None => "the account's role is not shown".to_owned(),
    };
    let token = match scopes {
        Some([]) => "classic token without scopes".to_owned(),
        Some(scopes) => format!("classic token with scopes {}", scopes.join(", ")),
        None => "fine-grained or app token (its own permissions are not shown)".to_owned(),
    };
    // A classic token without `workflow` pushes, but not a change to a workflow file.
    let workflow = scopes.map(|scopes| scopes.iter().any(|s| s == "workflow"));
    let fix = if scope_ok == Some(false) {
        Some(if repo.private {
            "the token needs the `repo` scope".to_owned()
        } else {
            "the token needs the `repo` (or `public_repo`) scope".to_owned()
        })
    } else if role_push == Some(false) {
        Some(
            "the token's account needs write access to the repository (the Write role or higher)"
                .to_owned(),
        )
    } else if can_push.is_none() || can_open_change_requests.is_none() {
        Some("give the token Contents and Pull requests read and write permissions on the repository (and Workflows read and write to push changes to `.github/workflows`)".to_owned())
    } else if workflow == Some(false) {
        Some("the token needs the `workflow` scope to push changes to `.github/workflows` (GitHub refuses such pushes without it)".to_owned())
    } else {
        None
    };
    Access {
        can_push,
        can_open_change_requests,
        detail: format!("{role}; {token}"),
        fix,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        map
    }

    #[test]
    fn rate_limits_are_told_from_permission_errors() {
        let primary = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1767225600"),
        ]);
        let RateLimit::Until(Some(reset)) =
            rate_limit_reset(403, &primary, "API rate limit exceeded")
        else {
            panic!("a primary limit with its reset time")
        };
        assert_eq!(reset.timestamp(), 1_767_225_600);

        let secondary = rate_limit_reset(
            403,
            &HeaderMap::new(),
            "You have exceeded a secondary rate limit. Please wait a few minutes.",
        );
        assert_eq!(secondary, RateLimit::Until(None));

        let RateLimit::Until(Some(after)) =
            rate_limit_reset(429, &headers(&[("retry-after", "1")]), "")
        else {
            panic!("a limit with Retry-After")
        };
        assert!(after > Utc::now());

        assert_eq!(
            rate_limit_reset(403, &headers(&[("x-ratelimit-remaining", "4000")]), "nope"),
            RateLimit::No
        );
    }

    #[test]
    fn access_combines_role_and_scopes() {
        let repo = |private: bool, push: bool| RepositoryAccess {
            private,
            permissions: Some(RolePermissions {
                admin: push,
                push,
                pull: true,
            }),
        };
        let scopes = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let full = github_access(&repo(true, true), Some(&scopes(&["repo", "workflow"])));
        assert!(full.is_sufficient(), "{full:?}");
        assert_eq!(full.fix, None);

        // Without `workflow` the token pushes, but not a change to a workflow file.
        let no_workflow = github_access(&repo(true, true), Some(&scopes(&["repo"])));
        assert!(no_workflow.is_sufficient(), "{no_workflow:?}");
        assert!(
            no_workflow
                .fix
                .as_deref()
                .unwrap()
                .contains("`workflow` scope"),
            "{no_workflow:?}"
        );

        let read_only = github_access(&repo(true, false), Some(&scopes(&["repo"])));
        assert_eq!(read_only.can_push, Some(false));
        assert_eq!(read_only.can_open_change_requests, Some(true));
        assert!(read_only.fix.unwrap().contains("write access"));

        let public_scope_private_repo =
            github_access(&repo(true, true), Some(&scopes(&["public_repo"])));
        assert_eq!(public_scope_private_repo.can_push, Some(false));
        assert_eq!(
            public_scope_private_repo.can_open_change_requests,
            Some(false)
        );
        assert_eq!(
            public_scope_private_repo.fix.as_deref(),
            Some("the token needs the `repo` scope")
        );
        assert!(github_access(&repo(false, true), Some(&scopes(&["public_repo"]))).is_sufficient());

        let fine_grained = github_access(&repo(true, true), None);
        assert_eq!(fine_grained.can_push, None);
        assert!(!fine_grained.is_insufficient());
        assert!(fine_grained.detail.contains("fine-grained"));
        assert_eq!(
            github_access(&repo(true, false), None).can_push,
            Some(false)
        );
    }

    fn people(users: &[&str], teams: usize) -> People {
        People {
            users: users
                .iter()
                .map(|u| Login {
                    login: (*u).to_owned(),
                })
                .collect(),
            teams: vec![json!({"slug": "release"}); teams],
            apps: Vec::new(),
        }
    }

    #[test]
    fn protection_rules_are_judged_as_github_judges_them() {
        let admin = RolePermissions {
            admin: true,
            push: true,
            pull: true,
        };
        let writer = RolePermissions {
            admin: false,
            push: true,
            pull: true,
        };
        let pull_requests = |bypass: Option<People>| {
            Some(PullRequestRule {
                bypass_pull_request_allowances: bypass,
            })
        };
        let enabled = |enabled: bool| Some(Enabled { enabled });

        // Administrators bypass a rule that does not include them.
        let rule = ProtectionRule {
            required_pull_request_reviews: pull_requests(None),
            ..ProtectionRule::default()
        };
        let access = rule_access("stable", &rule, &admin, Some("bot"));
        assert_eq!(
            (access.protected, access.can_update),
            (Some(true), Some(true))
        );
        assert!(access.detail.contains("force pushes"), "{access:?}");

        // A rule including administrators binds them like anyone.
        let rule = ProtectionRule {
            enforce_admins: enabled(true),
            required_pull_request_reviews: pull_requests(None),
            ..ProtectionRule::default()
        };
        let access = rule_access("stable", &rule, &admin, Some("bot"));
        assert!(access.is_refused(), "{access:?}");
        assert_eq!(
            access.fix.as_deref(),
            Some(
                "`stable` is protected; the token's user needs to be allowed to bypass required pull requests"
            )
        );

        // ...unless the rule lets them through by name.
        let rule = ProtectionRule {
            enforce_admins: enabled(true),
            required_pull_request_reviews: pull_requests(Some(people(&["bot"], 0))),
            restrictions: Some(people(&["bot"], 0)),
            ..ProtectionRule::default()
        };
        assert_eq!(
            rule_access("stable", &rule, &admin, Some("bot")).can_update,
            Some(true)
        );
        // A team may list them: unknown, not no.
        let rule = ProtectionRule {
            enforce_admins: enabled(true),
            restrictions: Some(people(&[], 1)),
            ..ProtectionRule::default()
        };
        let access = rule_access("stable", &rule, &admin, Some("bot"));
        assert_eq!(access.can_update, None, "{access:?}");
        assert!(access.fix.unwrap().contains("who may push"));

        // A locked branch moves for nobody the rule binds.
        let rule = ProtectionRule {
            enforce_admins: enabled(true),
            lock_branch: enabled(true),
            ..ProtectionRule::default()
        };
        assert!(rule_access("stable", &rule, &admin, None).is_refused());

        // Others cannot read the rule.
        let hidden = hidden_rule_access("stable", &writer, &["ci".to_owned()]);
        assert_eq!(hidden.can_update, None);
        assert!(hidden.detail.contains("ci"), "{hidden:?}");
        assert!(
            hidden
                .fix
                .unwrap()
                .starts_with("`stable` is protected; the token's user needs the Admin role")
        );
        let open = unprotected_access("main", &writer);
        assert_eq!((open.protected, open.can_update), (Some(false), Some(true)));
    }

    #[test]
    fn missing_scope_comes_from_the_headers() {
        let h = headers(&[
            ("x-accepted-oauth-scopes", "repo"),
            ("x-oauth-scopes", "read:org, gist"),
        ]);
        assert_eq!(missing_scope(&h).as_deref(), Some("repo"));
        let ok = headers(&[
            ("x-accepted-oauth-scopes", "repo, repo:status"),
            ("x-oauth-scopes", "repo:status"),
        ]);
        assert_eq!(missing_scope(&ok), None);
    }

    #[test]
    fn latest_decisive_review_per_user_wins() {
        use ReviewState::*;
        let reviews = vec![
            ("alice".to_owned(), Approved),
            ("bob".to_owned(), ChangesRequested),
            ("alice".to_owned(), Commented),
            ("bob".to_owned(), Approved),
            ("carol".to_owned(), ChangesRequested),
            ("carol".to_owned(), Dismissed),
        ];
        let latest = latest_decisive_reviews(reviews.into_iter());
        assert_eq!(
            latest,
            vec![
                ("alice".to_owned(), Approved),
                ("bob".to_owned(), Approved),
                ("carol".to_owned(), Dismissed)
            ]
        );
    }

    #[test]
    fn field_errors_read_as_sentences() {
        assert_eq!(
            describe_field_error(
                &json!({"resource": "Label", "code": "invalid", "field": "color"})
            ),
            "Label color is invalid"
        );
        assert_eq!(
            describe_field_error(&json!({"resource": "PullRequest", "code": "custom",
                "message": "A pull request already exists for a:b."})),
            "A pull request already exists for a:b."
        );
    }

    #[test]
    fn repository_ids_must_be_owner_slash_name() {
        assert!(split(&RepoId::new("acme/api")).is_ok());
        for bad in ["acme", "acme/", "/api", "a/b/c"] {
            assert!(
                matches!(split(&RepoId::new(bad)), Err(ForgeError::Setup { .. })),
                "{bad}"
            );
        }
    }
}

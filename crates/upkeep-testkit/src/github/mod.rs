//! An HTTP fake of the GitHub REST API (and the GraphQL `updateRefs` mutation), on
//! `127.0.0.1:0`, for the endpoints upkeep uses.
//!
//! Git data lives in real bare repositories ([`crate::bare::BareRepo`], one per fake
//! repository, in a temp dir), so a branch moved through the API is really moved, and a
//! test can `git fetch` from [`FakeGitHub::repo_path`] or push to it. Pull requests,
//! reviews, commit statuses, check runs and labels are kept in memory. Answers have the
//! shapes GitHub sends (checked against the recorded interactions in
//! `fixtures/github-recorded/` by upkeep-forge's tests), with GitHub's headers
//! (`x-ratelimit-*`, `x-oauth-scopes`), error bodies (`{"message", "errors",
//! "documentation_url"}`) and `Link` pagination.
//!
//! One file per concern, each with its routes, handlers and test controls: `auth` (token
//! check, headers, `/user`), `repos` (repository, refs, tags, compare), `pulls` (pull
//! requests, issues, reviews, labels), `listing` (organisation and user repository lists,
//! file contents), `checks` (statuses, check runs), `protection`
//! (branch protection), `graphql` and `reads` (GraphQL mutations and queries, checked
//! against GitHub's schema in [`graphql_schema`]), `push` (what a `git push` is refused); `model` holds the
//! state, `json` the shared JSON shapes
//! and `http` the plumbing (errors, pagination, the route table). A new concern is a new
//! file with a `routes` function, added in [`FakeGitHub::start_with`]'s router.
//!
//! Two URL layouts ([`Layout`]): api.github.com's (REST at the root, GraphQL at
//! `/graphql`) and GitHub Enterprise Server's (REST under `/api/v3`, GraphQL at
//! `/api/graphql`). [`FakeGitHub::url`] is the REST base a client is given.
//!
//! Faults (5xx, 429 with `Retry-After`, secondary-rate-limit 403s, dropped connections,
//! latency) and per-endpoint request counts come from [`crate::faults`]: see
//! [`FakeGitHub::faults`]. Route patterns for [`Endpoint`](crate::faults::Endpoint) are
//! the ones registered, e.g. `/repos/{owner}/{repo}/pulls` ([`FakeGitHub::routes`] lists
//! them).

// Helpers return what they made (a SHA, a number) for the tests that need it; most ignore
// it. Handlers bail out with a ready `Response` as the error: its size is irrelevant here.
#![allow(clippy::must_use_candidate, clippy::result_large_err)]

mod auth;
mod checks;
mod graphql;
pub mod graphql_schema;
mod http;
mod json;
mod listing;
mod model;
mod protection;
mod pulls;
mod push;
mod reads;
mod repos;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::Method;
use axum::middleware;
use tempfile::TempDir;

use crate::bare::BareRepo;
use crate::faults::Faults;
use crate::git::Clock;

pub use model::{FakePull, RepoMeta, Role, UpdateRefs};
use model::{Repo, Shared, World, lock};

/// Where the fake serves the API, as the two kinds of GitHub do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// api.github.com: REST at the root (`https://api.github.com/repos/…`), GraphQL at
    /// `/graphql`.
    #[default]
    GitHubCom,
    /// GitHub Enterprise Server: REST under `/api/v3` (`https://HOST/api/v3/repos/…`),
    /// GraphQL at `/api/graphql` (not under `/api/v3`), pages at the host's root.
    Enterprise,
}

impl Layout {
    fn rest_prefix(self) -> &'static str {
        match self {
            Self::GitHubCom => "",
            Self::Enterprise => "/api/v3",
        }
    }

    fn graphql_path(self) -> &'static str {
        match self {
            Self::GitHubCom => "/graphql",
            Self::Enterprise => "/api/graphql",
        }
    }
}

/// The fake GitHub server. Stops when dropped.
#[derive(Debug)]
pub struct FakeGitHub {
    addr: SocketAddr,
    world: Shared,
    faults: Faults,
    routes: Vec<(Method, String)>,
    layout: Layout,
    _dir: TempDir,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeGitHub {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeGitHub {
    /// Starts a fake in api.github.com's layout on `127.0.0.1:0` that accepts any token
    /// (see [`Self::require_token`]).
    pub async fn start() -> Self {
        Self::start_with(Layout::GitHubCom).await
    }

    /// Starts a fake with the given URL layout (see [`Layout`]).
    pub async fn start_with(layout: Layout) -> Self {
        let dir = tempfile::tempdir().expect("temp dir for the fake's repositories");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let world = Arc::new(Mutex::new(World {
            base: format!("http://{addr}{}", layout.rest_prefix()),
            token: None,
            scopes: "repo, workflow".to_owned(),
            login: "upkeep-bot".to_owned(),
            repos: BTreeMap::new(),
            next_id: 1000,
            ticks: 0,
            dir: dir.path().to_owned(),
            clock: Clock::default(),
            update_refs: UpdateRefs::Available,
        }));
        let faults = Faults::new();
        let (app, routes) = router(world.clone(), layout);
        let app = faults.wrap(app);
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            addr,
            world,
            faults,
            routes,
            layout,
            _dir: dir,
            server,
        }
    }

    /// Base URL of the REST API to give the client: `http://127.0.0.1:PORT` like
    /// `https://api.github.com`, or `http://127.0.0.1:PORT/api/v3` like a GitHub Enterprise
    /// Server's `https://HOST/api/v3`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}{}", self.addr, self.layout.rest_prefix())
    }

    /// Where GraphQL is served: `<url>/graphql`, or `http://127.0.0.1:PORT/api/graphql` in
    /// the Enterprise layout.
    #[must_use]
    pub fn graphql_url(&self) -> String {
        format!("http://{}{}", self.addr, self.layout.graphql_path())
    }

    /// The URL layout this fake serves.
    #[must_use]
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Whether the GraphQL `updateRefs` mutation exists (default: it does). See
    /// [`UpdateRefs`].
    pub fn set_update_refs(&self, update_refs: UpdateRefs) {
        lock(&self.world).update_refs = update_refs;
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

    /// Every `(method, route pattern)` the fake serves, as registered (and as
    /// [`Endpoint`](crate::faults::Endpoint)s name them).
    #[must_use]
    pub fn routes(&self) -> &[(Method, String)] {
        &self.routes
    }

    /// From now on, requests must carry `Authorization: Bearer <token>` (or `token <token>`);
    /// others get GitHub's 401 `Bad credentials`.
    pub fn require_token(&self, token: &str) {
        lock(&self.world).token = Some(token.to_owned());
    }

    /// The scopes of the token, as a classic token's `x-oauth-scopes` reports them
    /// (default `repo, workflow`). Without `workflow`, pushes that create or change a file
    /// under `.github/workflows` are refused, as GitHub refuses them.
    pub fn set_scopes(&self, scopes: &str) {
        let mut world = lock(&self.world);
        scopes.clone_into(&mut world.scopes);
        push::sync_all(&world);
    }

    /// The login of the token's account (`GET /user`): the actor of every write.
    #[must_use]
    pub fn login(&self) -> String {
        lock(&self.world).login.clone()
    }

    /// The token's account's role on `owner/name` (default [`Role::Admin`]). It shows in
    /// the repository's `permissions`, decides who may read and change branch
    /// protection (admins) and who bypasses it, and a [`Role::Read`] or
    /// [`Role::Triage`] account's pushes are refused.
    pub fn set_role(&self, full_name: &str, role: Role) {
        let mut world = lock(&self.world);
        let repo = world
            .repos
            .get_mut(full_name)
            .unwrap_or_else(|| panic!("fake GitHub has no repository {full_name}"));
        repo.role = role;
        push::sync(&world, full_name);
    }

    /// The collaborators of `owner/name` (default: anyone is one). Requesting a review
    /// from someone else is refused with GitHub's 422 ("Reviews may only be requested
    /// from collaborators…"), after the pull request exists.
    pub fn set_collaborators(&self, full_name: &str, logins: &[&str]) {
        self.with_repo(full_name, |repo| {
            repo.collaborators = Some(logins.iter().map(|l| (*l).to_owned()).collect());
        });
    }

    /// Makes pull request lists of `owner/name` lag: pull requests opened from now on are
    /// left out of the next `lists` list answers (`GET /repos/{owner}/{repo}/pulls`),
    /// as GitHub's lists can trail a create that already answers "already exists".
    pub fn lag_pull_lists(&self, full_name: &str, lists: u32) {
        self.with_repo(full_name, |repo| {
            let next = repo.issues.iter().map(|i| i.number).max().unwrap_or(0) + 1;
            repo.list_lag = Some((next, lists));
        });
    }

    /// Shorthand for [`Self::set_role`]: `true` is [`Role::Admin`], `false` a read-only
    /// collaborator ([`Role::Read`]).
    pub fn set_permissions(&self, full_name: &str, push: bool) {
        self.set_role(full_name, if push { Role::Admin } else { Role::Read });
    }

    /// Creates `owner/name` with a bare repository whose `main` has one commit (a
    /// README). Returns the bare repository's path.
    pub fn create_repo(&self, full_name: &str) -> PathBuf {
        let (path, bare) = self.create_empty_repo(full_name, model::RepoMeta::default());
        bare.commit_file("main", "README.md", "# fake\n", "Initial commit");
        path
    }

    /// Creates `owner/name` with a bare repository without any commit.
    fn create_empty_repo(&self, full_name: &str, meta: model::RepoMeta) -> (PathBuf, BareRepo) {
        let world = lock(&self.world);
        let (owner, name) = full_name
            .split_once('/')
            .expect("repository names are owner/name");
        let path = world.dir.join(format!("{owner}__{name}.git"));
        let bare = BareRepo::init(&path, world.clock.clone());
        drop(world);
        self.insert_repo(full_name, bare.clone(), meta);
        (path, bare)
    }

    /// Registers `owner/name` backed by `bare`, with `meta`.
    fn insert_repo(&self, full_name: &str, bare: BareRepo, meta: model::RepoMeta) {
        let mut world = lock(&self.world);
        let (owner, name) = full_name
            .split_once('/')
            .expect("repository names are owner/name");
        let id = world.id();
        world.repos.insert(
            full_name.to_owned(),
            Repo {
                id,
                owner: owner.to_owned(),
                name: name.to_owned(),
                bare,
                issues: Vec::new(),
                statuses: Vec::new(),
                check_runs: Vec::new(),
                labels: BTreeMap::new(),
                protection: BTreeMap::new(),
                collaborators: None,
                list_lag: None,
                role: Role::Admin,
                meta,
            },
        );
        world.now();
        push::install(&world, full_name);
    }

    /// Path of the bare repository behind `owner/name`.
    #[must_use]
    pub fn repo_path(&self, full_name: &str) -> PathBuf {
        self.with_repo(full_name, |repo| repo.bare.path().to_owned())
    }

    fn with_repo<T>(&self, full_name: &str, f: impl FnOnce(&mut Repo) -> T) -> T {
        let mut world = lock(&self.world);
        let repo = world
            .repos
            .get_mut(full_name)
            .unwrap_or_else(|| panic!("fake GitHub has no repository {full_name}"));
        f(repo)
    }
}

/// Every route of every concern, behind the token check and GitHub's headers; anything
/// else is GitHub's 404.
fn router(world: Shared, layout: Layout) -> (Router, Vec<(Method, String)>) {
    let mut table = http::Routes::new(layout.rest_prefix());
    auth::routes(&mut table);
    repos::routes(&mut table);
    listing::routes(&mut table);
    pulls::routes(&mut table);
    checks::routes(&mut table);
    protection::routes(&mut table);
    graphql::routes(&mut table, layout.graphql_path());
    let (app, list) = table.finish();
    let app = app
        .fallback(|| async { http::not_found() })
        .layer(middleware::from_fn_with_state(
            world.clone(),
            auth::github_headers,
        ))
        .with_state(world);
    (app, list)
}

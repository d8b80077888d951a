//! Turns the `[branches]` configuration and the secrets into library inputs: one forge
//! adapter per kind of remote, a `RepoSpec` per repo, the gates, the history store.

use std::path::Path;
use std::sync::Arc;

use upkeep_branches::gates::{CiGate, CommandGate, Gates, SentryGate, SentryWindow, Validation};
use upkeep_branches::history::HistoryStore;
use upkeep_branches::{DeployToken, RepoSpec, TokenMode};
use upkeep_cli::{Report, connect_report};
use upkeep_config::{BranchesConfig, Config, DeployTokenMode, Remote, Secrets};
use upkeep_forge::{Forge, RepoId};
use upkeep_git::Credentials;
use upkeep_lock::LockTarget;

/// Forge clients and git credentials for the configured remotes, through the one
/// factory (`upkeep_forge::connect`).
pub(crate) struct Forges {
    inner: upkeep_forge::connect::Forges,
}

impl Forges {
    /// Checks every remote the configuration names right away, so that a token that
    /// would travel over plain http stops the run before anything is read or moved.
    pub(crate) fn new(config: &Config, secrets: Secrets) -> Result<Self, Report> {
        let inner = upkeep_forge::connect::Forges::new(secrets, &config.state_dir);
        let branches = config.branches.iter();
        let remotes = branches
            .clone()
            .flat_map(|b| b.repos.iter().map(|r| (&r.remote, r.name.as_str())))
            .chain(
                branches
                    .clone()
                    .filter_map(|b| b.ci.validation.as_ref())
                    .map(|v| (&v.remote, "the CI validation repo")),
            )
            .chain(
                branches
                    .filter_map(|b| b.history.as_ref())
                    .map(|h| (&h.remote, "the history repo")),
            )
            .chain(
                config
                    .lock
                    .iter()
                    .map(|l| (&l.remote, "the deploy token's repo")),
            );
        for (remote, what) in remotes {
            inner.credentials(remote, what).map_err(connect_report)?;
        }
        Ok(Self { inner })
    }

    /// The adapter for `remote` (built on first use) and the repo's id on it. `what`
    /// names the repo in errors.
    pub(crate) async fn get(
        &mut self,
        remote: &Remote,
        what: &str,
    ) -> Result<(Arc<dyn Forge>, RepoId), Report> {
        let connected = self
            .inner
            .connect(remote, what)
            .await
            .map_err(connect_report)?;
        Ok((connected.forge, connected.repo))
    }

    /// Credentials for git to `remote` (checked in [`Forges::new`]).
    pub(crate) fn credentials(&self, remote: &Remote) -> Credentials {
        self.inner
            .credentials(remote, &remote.url)
            .unwrap_or_else(|_| Credentials::none())
    }
}

/// Loads the configuration's `[branches]` section.
#[expect(
    clippy::disallowed_methods,
    reason = "the binary's edge: UPKEEP_* overrides come from the environment"
)]
pub(crate) fn load(path: &Path) -> Result<Config, Report> {
    let config = Config::load(path, std::env::vars()).map_err(|e| {
        let hint = if path.exists() {
            "fix the configuration and re-run".to_owned()
        } else {
            format!(
                "create {} (see docs/configuration.md), or pass --config",
                path.display()
            )
        };
        Report::user(e).hint(hint)
    })?;
    config.branches().map_err(Report::user)?;
    Ok(config)
}

/// The repos to promote, in file order, without the skipped ones (their names are
/// checked; dependencies on a skipped repo are dropped).
pub(crate) async fn repo_specs(
    branches: &BranchesConfig,
    forges: &mut Forges,
    skip: &[String],
) -> Result<Vec<RepoSpec>, Report> {
    let known: Vec<String> = branches
        .repo_names()
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    for s in skip {
        if !known.contains(s) {
            return Err(crate::cmd::unknown_repo(s, known, "--skip"));
        }
    }
    let mut specs = Vec::new();
    for r in branches.repos.iter().filter(|r| !skip.contains(&r.name)) {
        let (forge, id) = forges.get(&r.remote, &r.name).await?;
        specs.push(RepoSpec {
            name: r.name.clone(),
            forge,
            id,
            git_url: r.remote.url.clone(),
            credentials: forges.credentials(&r.remote),
            source: branches.source_of(r).to_owned(),
            target: branches.target_of(r).to_owned(),
            depends_on: r
                .depends_on
                .iter()
                .filter(|d| !skip.contains(d))
                .cloned()
                .collect(),
            wait_after: branches.waits_after(r),
        });
    }
    Ok(specs)
}

/// The configured gates.
pub(crate) async fn gates(
    branches: &BranchesConfig,
    base_dir: &Path,
    forges: &mut Forges,
) -> Result<Gates, Report> {
    let validation = match &branches.ci.validation {
        Some(v) => {
            let (forge, id) = forges.get(&v.remote, "the CI validation repo").await?;
            Some(Validation {
                forge,
                id,
                git_ref: v.git_ref.clone(),
            })
        }
        None => None,
    };
    let ci = CiGate {
        target_commits: branches.ci.target_commits,
        validation,
        required_checks: branches.ci.required_checks.clone(),
    };
    let commands = branches
        .command_gates
        .iter()
        .map(|g| CommandGate {
            name: g.name.clone(),
            command: g.command.clone(),
            timeout: g.timeout.get(),
            dir: base_dir.to_owned(),
        })
        .collect();
    let sentry = match &branches.sentry {
        Some(g) => {
            let token = forges.inner.secrets().sentry_auth_token.clone().ok_or_else(|| {
                Report::user("the Sentry gate is configured ([branches.sentry]) but SENTRY_AUTH_TOKEN is not set")
                    .hint("set SENTRY_AUTH_TOKEN to a token with the `event:read` scope, or remove [branches.sentry]")
            })?;
            let client = upkeep_sentry::SentryClient::new(&g.url, &g.org, token).map_err(|e| {
                let hint = e.hint();
                let r = Report::user(e);
                match hint {
                    Some(h) => r.hint(h),
                    None => r,
                }
            })?;
            Some(SentryGate {
                client,
                projects: g.projects.clone(),
                environment: g.environment.clone(),
                threshold: g.threshold,
                window: match g.window {
                    upkeep_config::SentryWindow::SinceLastPromotion => {
                        SentryWindow::SinceLastPromotion {
                            fallback: g.fallback_window.get(),
                        }
                    }
                    upkeep_config::SentryWindow::Last(d) => SentryWindow::Last(d.get()),
                },
            })
        }
        None => None,
    };
    Ok(Gates {
        ci,
        sentry,
        commands,
    })
}

/// The deploy token a run must hold (`[branches.deploy_token]` and `[lock]`).
pub(crate) fn deploy_token(
    config: &Config,
    forges: &Forges,
) -> Result<Option<DeployToken>, Report> {
    let mode = match config.branches.as_ref().map(|b| b.deploy_token.mode) {
        Some(DeployTokenMode::Acquire) => TokenMode::Acquire,
        Some(DeployTokenMode::Verify) => TokenMode::Verify,
        Some(DeployTokenMode::None) | None => return Ok(None),
    };
    let lock = config.lock().map_err(Report::user)?;
    Ok(Some(DeployToken {
        lock: LockTarget::from_config(lock, forges.credentials(&lock.remote)),
        mode,
        lease: chrono::Duration::from_std(lock.lease.get()).unwrap_or(chrono::Duration::MAX),
    }))
}

/// The history store, when configured.
pub(crate) fn history(branches: &BranchesConfig, forges: &Forges) -> Option<HistoryStore> {
    branches.history.as_ref().map(|h| HistoryStore {
        url: h.remote.url.clone(),
        branch: h.branch.clone(),
        file: h.path.clone(),
        clone_dir: branches.cache.join("_history"),
        credentials: forges.credentials(&h.remote),
    })
}

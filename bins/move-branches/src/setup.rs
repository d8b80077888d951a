//! Turns the `[branches]` configuration and the secrets into library inputs: one forge
//! adapter per kind of remote, a `RepoSpec` per repo, the gates, the history store.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use secrecy::SecretString;
use upkeep_branches::gates::{CiGate, CommandGate, Gates, SentryGate, SentryWindow, Validation};
use upkeep_branches::history::HistoryStore;
use upkeep_branches::{DeployToken, RepoSpec, TokenMode};
use upkeep_cli::Report;
use upkeep_config::{BranchesConfig, Config, DeployTokenMode, ForgeKind, Remote};
use upkeep_forge::gitlab::{GitLab, GitLabOptions};
use upkeep_forge::local::LocalForge;
use upkeep_forge::retry::RetryPolicy;
use upkeep_forge::{Forge, RepoId};
use upkeep_git::Credentials;
use upkeep_lock::LockTarget;

use crate::args::SecretArgs;

/// Forge adapters, one per (kind, API URL), shared by every repo they serve. Built on
/// first use, inside the runtime: the GitLab client checks its token with a request when
/// it is constructed.
pub struct Forges {
    state_dir: PathBuf,
    local: Arc<LocalForge>,
    remote: HashMap<(ForgeKind, String), Arc<dyn Forge>>,
    secrets: SecretArgs,
}

/// A forge client could not be set up for a repo.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the {kind} client at {api} for {what} ({url})")]
pub struct ForgeSetup {
    kind: ForgeKind,
    api: String,
    what: String,
    url: String,
    #[source]
    source: upkeep_forge::ForgeError,
}

impl Forges {
    /// Adapters keep their scratch state under `state_dir`.
    pub fn new(state_dir: &Path, secrets: SecretArgs) -> Self {
        Self {
            state_dir: state_dir.to_owned(),
            local: Arc::new(LocalForge::new(state_dir.join("forge"))),
            remote: HashMap::new(),
            secrets,
        }
    }

    /// The adapter for `remote` (built on first use) and the repo's id on it. `what`
    /// names the repo in errors.
    pub async fn get(
        &mut self,
        remote: &Remote,
        what: &str,
    ) -> Result<(Arc<dyn Forge>, RepoId), Report> {
        let default_api = match remote.kind {
            ForgeKind::Local => return Ok((self.local.clone(), RepoId::new(remote.url.clone()))),
            ForgeKind::Github => "https://api.github.com".to_owned(),
            ForgeKind::Gitlab => {
                format!("https://{}", remote.host.as_deref().unwrap_or("gitlab.com"))
            }
        };
        let api = remote.api_url.clone().unwrap_or(default_api);
        let id = RepoId::new(remote.path.clone());
        let key = (remote.kind, api.clone());
        if let Some(f) = self.remote.get(&key) {
            return Ok((f.clone(), id));
        }
        let setup_error = |source: upkeep_forge::ForgeError| {
            let user = matches!(
                source,
                upkeep_forge::ForgeError::Unauthorized { .. }
                    | upkeep_forge::ForgeError::Forbidden { .. }
                    | upkeep_forge::ForgeError::Setup { .. }
            );
            let e = ForgeSetup {
                kind: remote.kind,
                api: api.clone(),
                what: what.to_owned(),
                url: remote.url.clone(),
                source,
            };
            if user {
                Report::user(e)
            } else {
                Report::failure(e)
            }
        };
        let forge: Arc<dyn Forge> = if remote.kind == ForgeKind::Github {
            let token = self.secrets.github_token.clone().ok_or_else(|| {
                Report::user(format!(
                    "{what} is on GitHub ({}), and no GitHub token is set",
                    remote.url
                ))
                .hint("set GITHUB_TOKEN (a token with the `repo` scope)")
            })?;
            let gh = upkeep_forge::github::GitHub::new(&api, token, RetryPolicy::default())
                .map_err(|e| setup_error(e).hint("check `api_url` in the configuration"))?;
            Arc::new(gh)
        } else {
            let token = self.secrets.gitlab_token.clone().ok_or_else(|| {
                Report::user(format!(
                    "{what} is on GitLab ({}), and no GitLab token is set",
                    remote.url
                ))
                .hint("set GITLAB_TOKEN (a token with the `api` and `write_repository` scopes)")
            })?;
            let options =
                GitLabOptions::new(&api, token, self.state_dir.join("forge").join("gitlab"));
            let gl = GitLab::connect(options).await.map_err(|e| {
                setup_error(e).hint(
                    "check GITLAB_TOKEN (scopes `api` and `write_repository`) and `api_url` \
                     in the configuration (a self-hosted GitLab's base URL)",
                )
            })?;
            Arc::new(gl)
        };
        self.remote.insert(key, forge.clone());
        Ok((forge, id))
    }

    /// Credentials for git over https to `remote`.
    pub fn credentials(&self, remote: &Remote) -> Credentials {
        let token: Option<&SecretString> = match remote.kind {
            ForgeKind::Github => self.secrets.github_token.as_ref(),
            ForgeKind::Gitlab => self.secrets.gitlab_token.as_ref(),
            ForgeKind::Local => None,
        };
        match token {
            // GitLab takes any token as the password of user `oauth2`.
            Some(t) if remote.url.starts_with("https://") && remote.kind == ForgeKind::Gitlab => {
                Credentials::https_token(t.clone()).with_username("oauth2")
            }
            Some(t) if remote.url.starts_with("https://") => Credentials::https_token(t.clone()),
            _ => Credentials::none(),
        }
    }
}

/// Loads the configuration's `[branches]` section.
pub fn load(path: &Path) -> Result<Config, Report> {
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
pub async fn repo_specs(
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
pub async fn gates(
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
            let token = forges.secrets.sentry_auth_token.clone().ok_or_else(|| {
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
pub fn deploy_token(config: &Config, forges: &Forges) -> Result<Option<DeployToken>, Report> {
    let mode = match config.branches.as_ref().map(|b| b.deploy_token.mode) {
        Some(DeployTokenMode::Acquire) => TokenMode::Acquire,
        Some(DeployTokenMode::Verify) => TokenMode::Verify,
        Some(DeployTokenMode::None) | None => return Ok(None),
    };
    let lock = config.lock().map_err(Report::user)?;
    Ok(Some(DeployToken {
        lock: LockTarget {
            remote_url: lock.remote.url.clone(),
            credentials: forges.credentials(&lock.remote),
            name: lock.name.clone(),
            ref_prefix: lock.ref_prefix.clone(),
            scratch_dir: lock.cache.clone(),
        },
        mode,
        lease: chrono::Duration::from_std(lock.lease.get()).unwrap_or(chrono::Duration::MAX),
    }))
}

/// The history store, when configured.
pub fn history(branches: &BranchesConfig, forges: &Forges) -> Option<HistoryStore> {
    branches.history.as_ref().map(|h| HistoryStore {
        url: h.remote.url.clone(),
        branch: h.branch.clone(),
        file: h.path.clone(),
        clone_dir: branches.cache.join("_history"),
        credentials: forges.credentials(&h.remote),
    })
}

//! From a configured remote and the secrets to a forge client and git credentials: the
//! one place every tool does this (feature `config`).
//!
//! It lives here rather than in `upkeep-config` because it needs the adapters: the
//! configuration crate stays plain data without an HTTP stack, and the adapters a build
//! leaves out (cargo features) are refused here with a clear error. It depends on
//! `upkeep-config` only for the [`Remote`] and [`Secrets`] types.
//!
//! The rules, decided once:
//! - the API base URL is the remote's `api_url`, else its kind's default for the host
//!   ([`Remote::api_base`]);
//! - a token never travels over plain http except to a loopback address (test servers):
//!   an `http://` API URL or git URL on a network is refused with
//!   [`ConnectError::PlainHttp`] rather than sent in clear or silently dropped;
//! - git gets the token of the remote's forge for http(s) URLs only, as the password of
//!   `x-access-token` (GitHub) or `oauth2` (GitLab, which takes any token kind so);
//! - one client per (kind, API URL), shared by every repository it serves;
//! - the shared state store (`[state] repo`) is opened with the same credentials rules
//!   ([`shared_state_store`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use secrecy::SecretString;
use upkeep_config::{ForgeKind as Kind, Remote, Secrets};
use upkeep_git::Credentials;

use crate::{Forge, ForgeError, RepoId};

/// A forge client for one repository and the credentials git uses for it.
#[derive(Clone)]
pub struct Connected {
    /// The adapter (shared with other repositories on the same forge).
    pub forge: Arc<dyn Forge>,
    /// The repository's id on that forge.
    pub repo: RepoId,
    /// Credentials for git (clone, fetch, push) to the remote's URL.
    pub credentials: Credentials,
}

impl std::fmt::Debug for Connected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connected")
            .field("forge", &self.forge.kind())
            .field("repo", &self.repo)
            .field("credentials", &self.credentials)
            .finish()
    }
}

/// Why a remote could not be connected. Never contains a token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The remote's forge needs a token that is not set.
    #[error("{what} is on {kind} ({url}), and {var} is not set")]
    MissingToken {
        /// The repository or project, as the caller names it.
        what: String,
        /// Its forge.
        kind: Kind,
        /// Its URL.
        url: String,
        /// The variable that would hold the token.
        var: &'static str,
    },
    /// The token would travel over plain http to a host that is not loopback.
    #[error("refusing to send {var} over plain http to {url} (for {what})")]
    PlainHttp {
        /// The repository or project.
        what: String,
        /// The http URL (API or git).
        url: String,
        /// The token's variable.
        var: &'static str,
    },
    /// The forge client could not be built or refused the token.
    #[error("cannot set up the {kind} client at {api} for {what} ({url})")]
    Client {
        /// The repository or project.
        what: String,
        /// Its forge.
        kind: Kind,
        /// The API base URL.
        api: String,
        /// The repository's URL.
        url: String,
        /// What the adapter said (boxed: forge errors are large).
        #[source]
        source: Box<ForgeError>,
    },
    /// This build leaves out the adapter the remote needs (cargo feature).
    #[error("{what} is on {kind}, and this build has no {kind} adapter (cargo feature `{kind}`)")]
    Unsupported {
        /// The repository or project.
        what: String,
        /// Its forge.
        kind: Kind,
    },
}

impl ConnectError {
    /// The remedy to show under the error.
    #[must_use]
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::MissingToken { var, kind, .. } => Some(format!(
                "set {var} (a token with the {} scope{})",
                scopes(*kind),
                if *kind == Kind::Gitlab { "s" } else { "" }
            )),
            Self::PlainHttp { .. } => Some(
                "use an https:// URL (`repo` / `api_url` in the configuration); plain http \
                 is only allowed to 127.0.0.1, ::1 or localhost (a test server)"
                    .to_owned(),
            ),
            Self::Client { kind, .. } => Some(match kind {
                Kind::Gitlab => "check GITLAB_TOKEN (scopes `api` and `write_repository`) and \
                                 `api_url` in the configuration (a self-hosted GitLab's base URL)"
                    .to_owned(),
                _ => "check GITHUB_TOKEN and `api_url` in the configuration".to_owned(),
            }),
            Self::Unsupported { .. } => None,
        }
    }

    /// Whether the person can fix it (a token, the configuration) rather than a server
    /// or network failing.
    #[must_use]
    pub fn is_user_error(&self) -> bool {
        match self {
            Self::Client { source, .. } => matches!(
                source.as_ref(),
                ForgeError::Unauthorized { .. }
                    | ForgeError::Forbidden { .. }
                    | ForgeError::Setup { .. }
            ),
            _ => true,
        }
    }
}

fn scopes(kind: Kind) -> &'static str {
    match kind {
        Kind::Gitlab => "`api` and `write_repository`",
        _ => "`repo`",
    }
}

/// Whether `url` is plain http to a host that is not loopback: no token goes there.
fn plain_http_on_a_network(url: &str) -> bool {
    url.get(..7)
        .is_some_and(|s| s.eq_ignore_ascii_case("http://"))
        && !upkeep_git::may_send_token(url)
}

/// The token `secrets` hold for the remote's forge, with its variable's name.
fn token_for(remote: &Remote, secrets: &Secrets) -> Option<(SecretString, &'static str)> {
    let token = match remote.kind {
        Kind::Github => secrets.github_token.clone(),
        Kind::Gitlab => secrets.gitlab_token.clone(),
        Kind::Local => None,
    }?;
    Some((token, remote.kind.token_var()?))
}

/// Credentials for git to `remote`'s URL: its forge's token for http(s) URLs, nothing
/// for paths, SSH and the local forge, and an error for a token that would travel over
/// plain http on a network. `what` names the repository in errors.
pub fn git_credentials(
    remote: &Remote,
    secrets: &Secrets,
    what: &str,
) -> Result<Credentials, ConnectError> {
    let is_http = remote
        .url
        .get(..8)
        .is_some_and(|s| s.to_ascii_lowercase().starts_with("http"));
    let Some((token, var)) = token_for(remote, secrets).filter(|_| is_http) else {
        return Ok(Credentials::none());
    };
    if plain_http_on_a_network(&remote.url) {
        return Err(ConnectError::PlainHttp {
            what: what.to_owned(),
            url: remote.url.clone(),
            var,
        });
    }
    Ok(match remote.kind {
        Kind::Gitlab => Credentials::https_token(token).with_username("oauth2"),
        _ => Credentials::https_token(token),
    })
}

/// Why the state store `[state]` names could not be opened. Never contains a token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateStoreError {
    /// The state repository's credentials could not be decided (e.g. a token over plain
    /// http).
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The state repository could not be opened (its local copy could not be made).
    #[error("cannot open the state repository {url}")]
    Open {
        /// The repository's URL as configured (config validation refuses credentials in
        /// it).
        url: String,
        /// The store's error.
        #[source]
        source: upkeep_state::Error,
    },
}

/// The shared state store `[state] repo` names, with the token of its forge, or `None`
/// when `repo` is unset (the caller keeps its state in local files). Opening makes the
/// local copy under `[state] dir`; nothing is fetched or pushed until the first read or
/// write.
pub fn shared_state_store(
    state: &upkeep_config::StateConfig,
    secrets: &Secrets,
) -> Result<Option<Arc<dyn upkeep_state::StateStore>>, StateStoreError> {
    let Some(remote) = &state.remote else {
        return Ok(None);
    };
    let credentials = git_credentials(remote, secrets, "the state repository")?;
    let store = upkeep_state::GitStore::open(upkeep_state::GitStoreConfig::new(
        remote.url.clone(),
        credentials,
        state.dir.clone(),
    ))
    .map_err(|source| StateStoreError::Open {
        url: remote.url.clone(),
        source,
    })?;
    Ok(Some(Arc::new(store)))
}

/// Forge clients for configured remotes, built on first use from the secrets and shared
/// per (kind, API URL). Build it inside the async runtime: connecting to GitLab checks
/// the token with a request.
pub struct Forges {
    secrets: Secrets,
    work_dir: PathBuf,
    #[cfg(feature = "local")]
    local: Arc<dyn Forge>,
    clients: tokio::sync::Mutex<HashMap<(Kind, String), Arc<dyn Forge>>>,
}

impl std::fmt::Debug for Forges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forges")
            .field("secrets", &self.secrets)
            .field("work_dir", &self.work_dir)
            .finish_non_exhaustive()
    }
}

impl Forges {
    /// Clients keep their scratch clones under `state_dir/forge` (the local forge's and,
    /// under `gitlab/`, GitLab's).
    #[must_use]
    pub fn new(secrets: Secrets, state_dir: &Path) -> Self {
        let work_dir = state_dir.join("forge");
        Self {
            #[cfg(feature = "local")]
            local: Arc::new(crate::local::LocalForge::new(work_dir.clone())),
            work_dir,
            secrets,
            clients: tokio::sync::Mutex::default(),
        }
    }

    /// The secrets the clients are built from.
    #[must_use]
    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    /// The forge client, repository id and git credentials for `remote`. `what` names
    /// the repository or project in errors.
    pub async fn connect(&self, remote: &Remote, what: &str) -> Result<Connected, ConnectError> {
        let credentials = git_credentials(remote, &self.secrets, what)?;
        let (forge, repo) = match remote.kind {
            Kind::Local => (self.local(what)?, RepoId::new(remote.url.clone())),
            Kind::Github | Kind::Gitlab => (
                self.remote(remote, what).await?,
                RepoId::new(remote.path.clone()),
            ),
        };
        Ok(Connected {
            forge,
            repo,
            credentials,
        })
    }

    /// Git credentials for `remote` ([`git_credentials`] with these secrets).
    pub fn credentials(&self, remote: &Remote, what: &str) -> Result<Credentials, ConnectError> {
        git_credentials(remote, &self.secrets, what)
    }

    #[allow(clippy::unnecessary_wraps)] // Without the `local` feature it fails.
    fn local(&self, what: &str) -> Result<Arc<dyn Forge>, ConnectError> {
        #[cfg(feature = "local")]
        {
            let _ = what;
            Ok(self.local.clone())
        }
        #[cfg(not(feature = "local"))]
        Err(ConnectError::Unsupported {
            what: what.to_owned(),
            kind: Kind::Local,
        })
    }

    async fn remote(&self, remote: &Remote, what: &str) -> Result<Arc<dyn Forge>, ConnectError> {
        let api = remote.api_base().unwrap_or_default();
        let Some((token, var)) = token_for(remote, &self.secrets) else {
            return Err(ConnectError::MissingToken {
                what: what.to_owned(),
                kind: remote.kind,
                url: remote.url.clone(),
                var: remote.kind.token_var().unwrap_or("a token"),
            });
        };
        if plain_http_on_a_network(&api) {
            return Err(ConnectError::PlainHttp {
                what: what.to_owned(),
                url: api,
                var,
            });
        }
        let mut clients = self.clients.lock().await;
        if let Some(client) = clients.get(&(remote.kind, api.clone())) {
            return Ok(client.clone());
        }
        let client = self
            .build(remote.kind, &api, token)
            .await
            .map_err(|failed| match failed {
                Some(source) => ConnectError::Client {
                    what: what.to_owned(),
                    kind: remote.kind,
                    api: api.clone(),
                    url: remote.url.clone(),
                    source: Box::new(source),
                },
                None => ConnectError::Unsupported {
                    what: what.to_owned(),
                    kind: remote.kind,
                },
            })?;
        clients.insert((remote.kind, api), client.clone());
        Ok(client)
    }

    /// A client that lists repositories and reads their files ([`crate::Discover`]) for
    /// a discover rule: the local forge, or GitHub or GitLab at the API base `api`. `what`
    /// names the rule in errors.
    #[allow(clippy::unused_async)] // Without the `gitlab` feature nothing is awaited.
    pub async fn discoverer(
        &self,
        kind: Kind,
        api: &str,
        what: &str,
    ) -> Result<Arc<dyn crate::Discover>, ConnectError> {
        // Only built with an adapter's feature.
        #[allow(unused_variables)]
        let client_error = |source: ForgeError| ConnectError::Client {
            what: what.to_owned(),
            kind,
            api: api.to_owned(),
            url: api.to_owned(),
            source: Box::new(source),
        };
        match kind {
            #[cfg(feature = "local")]
            Kind::Local => Ok(Arc::new(crate::local::LocalForge::new(
                self.work_dir.clone(),
            ))),
            #[cfg(feature = "github")]
            Kind::Github => {
                let (token, _) = self.discover_token(kind, api, what)?;
                let client =
                    crate::github::GitHub::new(api, token, crate::retry::RetryPolicy::default())
                        .map_err(client_error)?;
                Ok(Arc::new(client))
            }
            #[cfg(feature = "gitlab")]
            Kind::Gitlab => {
                let (token, _) = self.discover_token(kind, api, what)?;
                let options =
                    crate::gitlab::GitLabOptions::new(api, token, self.work_dir.join("gitlab"));
                let client = crate::gitlab::GitLab::connect(options)
                    .await
                    .map_err(client_error)?;
                Ok(Arc::new(client))
            }
            // Reached in builds without some adapter's feature.
            #[allow(unreachable_patterns)]
            _ => {
                let _ = api;
                Err(ConnectError::Unsupported {
                    what: what.to_owned(),
                    kind,
                })
            }
        }
    }

    /// The token for listing at the API base `api`, refused over plain http to a host
    /// on the network.
    #[cfg(any(feature = "github", feature = "gitlab"))]
    fn discover_token(
        &self,
        kind: Kind,
        api: &str,
        what: &str,
    ) -> Result<(SecretString, &'static str), ConnectError> {
        let as_remote = Remote {
            url: api.to_owned(),
            kind,
            host: None,
            path: String::new(),
            api_url: Some(api.to_owned()),
        };
        let Some((token, var)) = token_for(&as_remote, &self.secrets) else {
            return Err(ConnectError::MissingToken {
                what: what.to_owned(),
                kind,
                url: api.to_owned(),
                var: kind.token_var().unwrap_or("a token"),
            });
        };
        if plain_http_on_a_network(api) {
            return Err(ConnectError::PlainHttp {
                what: what.to_owned(),
                url: api.to_owned(),
                var,
            });
        }
        Ok((token, var))
    }

    /// The adapter for `kind` at `api`; `Err(None)` when this build has none.
    #[allow(clippy::unused_async)] // Without the `gitlab` feature nothing is awaited.
    async fn build(
        &self,
        kind: Kind,
        api: &str,
        token: SecretString,
    ) -> Result<Arc<dyn Forge>, Option<ForgeError>> {
        match kind {
            #[cfg(feature = "github")]
            Kind::Github => Ok(Arc::new(
                crate::github::GitHub::new(api, token, crate::retry::RetryPolicy::default())
                    .map_err(Some)?,
            )),
            #[cfg(feature = "gitlab")]
            Kind::Gitlab => {
                let options =
                    crate::gitlab::GitLabOptions::new(api, token, self.work_dir.join("gitlab"));
                Ok(Arc::new(
                    crate::gitlab::GitLab::connect(options)
                        .await
                        .map_err(Some)?,
                ))
            }
            _ => {
                let _ = (api, token);
                Err(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(kind: Kind, url: &str, api: Option<&str>) -> Remote {
        Remote {
            url: url.to_owned(),
            kind,
            host: Some("example.com".to_owned()),
            path: "o/r".to_owned(),
            api_url: api.map(str::to_owned),
        }
    }

    fn secrets() -> Secrets {
        Secrets::from_env([("GITHUB_TOKEN", "ghp_x"), ("GITLAB_TOKEN", "glpat_x")])
    }

    #[test]
    fn git_gets_the_forges_token_over_https_with_its_username() {
        let gh = git_credentials(
            &remote(Kind::Github, "https://example.com/o/r", None),
            &secrets(),
            "r",
        )
        .unwrap();
        assert!(gh.has_token());
        assert_eq!(gh.username(), upkeep_git::DEFAULT_TOKEN_USERNAME);
        let gl = git_credentials(
            &remote(Kind::Gitlab, "https://example.com/o/r", None),
            &secrets(),
            "r",
        )
        .unwrap();
        assert_eq!(gl.username(), "oauth2");
        // Loopback test servers may be plain http.
        let local = remote(Kind::Github, "http://127.0.0.1:8080/o/r.git", None);
        assert!(
            git_credentials(&local, &secrets(), "r")
                .unwrap()
                .has_token()
        );
    }

    #[test]
    fn paths_ssh_and_the_local_forge_get_no_token() {
        for r in [
            remote(Kind::Local, "https://example.com/o/r", None),
            remote(Kind::Github, "git@example.com:o/r.git", None),
            remote(Kind::Local, "/srv/git/r.git", None),
        ] {
            assert!(
                !git_credentials(&r, &secrets(), "r").unwrap().has_token(),
                "{}",
                r.url
            );
        }
    }

    #[test]
    fn a_token_over_plain_http_on_a_network_is_refused_for_git() {
        let r = remote(Kind::Gitlab, "http://git.example.com/o/r.git", None);
        let e = git_credentials(&r, &secrets(), "api").unwrap_err();
        assert!(
            matches!(
                e,
                ConnectError::PlainHttp {
                    var: "GITLAB_TOKEN",
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.hint().unwrap().contains("https://"));
        assert!(!format!("{e} {e:?}").contains("glpat_x"));
        // Without a token there is nothing to protect.
        assert!(git_credentials(&r, &Secrets::default(), "api").is_ok());
    }

    #[tokio::test]
    async fn a_token_over_plain_http_on_a_network_is_refused_for_the_api() {
        let forges = Forges::new(secrets(), Path::new("/nonexistent"));
        let r = remote(
            Kind::Github,
            "https://example.com/o/r",
            Some("http://api.example.com"),
        );
        let e = forges.connect(&r, "api").await.unwrap_err();
        assert!(
            matches!(
                e,
                ConnectError::PlainHttp {
                    var: "GITHUB_TOKEN",
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("http://api.example.com"), "{e}");
    }

    #[tokio::test]
    async fn a_missing_token_names_the_variable() {
        let forges = Forges::new(Secrets::default(), Path::new("/nonexistent"));
        let r = remote(Kind::Gitlab, "https://example.com/o/r", None);
        let e = forges.connect(&r, "ogr").await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "ogr is on gitlab (https://example.com/o/r), and GITLAB_TOKEN is not set"
        );
        assert!(e.hint().unwrap().contains("`api` and `write_repository`"));
    }

    #[tokio::test]
    async fn one_client_per_kind_and_api_url_with_the_default_api_url() {
        let forges = Forges::new(secrets(), Path::new("/nonexistent"));
        let a = forges
            .connect(&remote(Kind::Github, "https://example.com/o/a", None), "a")
            .await
            .unwrap();
        let b = forges
            .connect(&remote(Kind::Github, "https://example.com/o/b", None), "b")
            .await
            .unwrap();
        assert!(Arc::ptr_eq(&a.forge, &b.forge));
        assert_eq!(b.repo, RepoId::new("o/r"));
        let clients = forges.clients.lock().await;
        let keys: Vec<_> = clients.keys().cloned().collect();
        assert_eq!(
            keys,
            [(Kind::Github, "https://example.com/api/v3".to_owned())]
        );
        let local = forges
            .connect(&remote(Kind::Local, "/srv/git/r.git", None), "r")
            .await
            .unwrap();
        assert_eq!(local.repo, RepoId::new("/srv/git/r.git"));
        assert_eq!(local.forge.kind(), crate::ForgeKind::Local);
    }
}

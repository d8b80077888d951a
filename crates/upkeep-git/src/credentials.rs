//! How upkeep authenticates to remotes, without ever writing a secret down.

use std::borrow::Cow;
use std::fmt;
use std::path::Path;
use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};

/// The username sent with a token when none is configured: GitHub accepts any username
/// with a token, and GitLab documents this one for project/group access tokens too
/// (`oauth2` also works there; set it with [`Credentials::with_username`]).
pub const DEFAULT_TOKEN_USERNAME: &str = "x-access-token";

/// How to authenticate over SSH.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SshAuth {
    /// Don't offer SSH credentials (the remote is HTTPS or a local path).
    #[default]
    None,
    /// Ask the running ssh-agent (`SSH_AUTH_SOCK`).
    Agent,
    /// Use this private key file (without a passphrase; put keys with one in an agent).
    Key(PathBuf),
}

/// Credentials for fetches, clones and pushes.
///
/// The HTTPS token is only ever handed to git through a credential callback (libgit2) or
/// a credential helper reading a child-only environment variable (`git push`), so it
/// never appears in a remote URL, `.git/config`, argv, an error or a log line. `Debug`
/// shows whether a token is set, not the token.
#[derive(Clone, Default)]
pub struct Credentials {
    token: Option<SecretString>,
    username: Option<String>,
    ssh: SshAuth,
}

impl Credentials {
    /// No credentials: for local paths, `file://` URLs and public remotes.
    #[must_use]
    pub fn none() -> Self {
        Self::default()
    }

    /// An HTTPS token, sent as the password of user [`DEFAULT_TOKEN_USERNAME`] unless
    /// [`with_username`](Self::with_username) says otherwise.
    #[must_use]
    pub fn https_token(token: SecretString) -> Self {
        Self {
            token: Some(token),
            ..Self::default()
        }
    }

    /// SSH authentication (agent or key file).
    #[must_use]
    pub fn ssh(ssh: SshAuth) -> Self {
        Self {
            ssh,
            ..Self::default()
        }
    }

    /// Sets the username sent with the HTTPS token.
    #[must_use]
    pub fn with_username(mut self, username: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self
    }

    /// Adds SSH authentication next to an HTTPS token (for configs mixing remotes).
    #[must_use]
    pub fn with_ssh(mut self, ssh: SshAuth) -> Self {
        self.ssh = ssh;
        self
    }

    /// Whether an HTTPS token is set.
    #[must_use]
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// The SSH setting.
    #[must_use]
    pub fn ssh_auth(&self) -> &SshAuth {
        &self.ssh
    }

    /// The username sent with the token.
    #[must_use]
    pub fn username(&self) -> &str {
        self.username.as_deref().unwrap_or(DEFAULT_TOKEN_USERNAME)
    }

    pub(crate) fn token(&self) -> Option<&str> {
        self.token.as_ref().map(ExposeSecret::expose_secret)
    }

    /// Replaces every occurrence of the token in `text` (tool output about to become an
    /// error) with `***`. Git doesn't echo passwords, but a misbehaving server or hook
    /// could, and the cost of checking is nil.
    pub(crate) fn scrub(&self, text: &str) -> String {
        upkeep_text::Scrubber::new(self.token())
            .scrub(text)
            .into_owned()
    }

    /// A libgit2 credential callback. libgit2 calls it again after each rejected attempt;
    /// we give up after a few so a wrong token fails instead of looping.
    pub(crate) fn callbacks(&self) -> git2::RemoteCallbacks<'_> {
        let mut callbacks = git2::RemoteCallbacks::new();
        let mut attempts = 0u32;
        callbacks.credentials(move |url, username_from_url, allowed| {
            attempts += 1;
            if attempts > 3 {
                return Err(git2::Error::from_str(
                    "authentication failed (credentials rejected)",
                ));
            }
            if allowed.contains(git2::CredentialType::USER_PASS_PLAINTEXT)
                && let Some(token) = self.token().filter(|_| may_send_token(url))
            {
                return git2::Cred::userpass_plaintext(self.username(), token);
            }
            let ssh_user = username_from_url.unwrap_or("git");
            if allowed.contains(git2::CredentialType::SSH_KEY) {
                match &self.ssh {
                    SshAuth::Agent => return git2::Cred::ssh_key_from_agent(ssh_user),
                    SshAuth::Key(path) => {
                        return git2::Cred::ssh_key(ssh_user, None, path, None);
                    }
                    SshAuth::None => {}
                }
            }
            if allowed.contains(git2::CredentialType::USERNAME) {
                return git2::Cred::username(ssh_user);
            }
            Err(git2::Error::from_str(
                "the remote asks for credentials and none are configured",
            ))
        });
        callbacks
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .field("username", &self.username)
            .field("ssh", &self.ssh)
            .finish()
    }
}

/// Checks a remote URL and puts it in the one form every operation uses.
///
/// - A URL whose user-info carries a secret is refused: `https://user:token@host/...`,
///   and for http(s) any user-info at all, since `https://<token>@host/...` is how tokens
///   are usually pasted. Keeping secrets out of URLs is what keeps them out of
///   `.git/config`, libgit2's error messages and our logs. (`ssh://git@host/...` and
///   `git@host:path` name a user, not a secret, and pass.)
/// - A relative local path is made absolute against the current directory, so that
///   libgit2 (which resolves it in-process) and the `git` CLI (which runs pushes from
///   the repository's directory) mean the same repository, and a clone's `origin`
///   keeps meaning it from any directory.
pub(crate) fn check_url(url: &str) -> crate::Result<Cow<'_, str>> {
    if let Some((scheme, rest)) = url.split_once("://") {
        let authority = rest.split('/').next().unwrap_or("");
        if let Some((userinfo, host)) = authority.rsplit_once('@') {
            let is_http =
                scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https");
            if is_http || userinfo.contains(':') {
                return Err(crate::Error::CredentialsInUrl {
                    url: format!("{scheme}://***@{host}{}", &rest[authority.len()..]),
                });
            }
        }
        return Ok(Cow::Borrowed(url));
    }
    if is_scp_like(url) {
        return Ok(Cow::Borrowed(url));
    }
    let path = Path::new(url);
    if path.is_absolute() {
        return Ok(Cow::Borrowed(url));
    }
    Ok(std::path::absolute(path)
        .map_or(Cow::Borrowed(url), |p| Cow::Owned(p.display().to_string())))
}

/// A remote URL in the form every operation of this crate uses: URLs carrying a
/// password or token are refused ([`Error::CredentialsInUrl`](crate::Error), with the
/// secret redacted), relative local paths are made absolute. For callers that keep the
/// URL (in their own errors, in state) and must only ever keep a safe one.
pub fn checked_remote_url(url: &str) -> crate::Result<String> {
    check_url(url).map(Cow::into_owned)
}

/// The directory a remote URL names when it is a local repository: a plain path, made
/// absolute against the current directory exactly as every operation here does, or a
/// `file://` URL. `None` for network URLs (`https://`, `ssh://`, ...) and scp-like
/// `[user@]host:path`. For callers that keep files next to a local remote (the local
/// forge's records) and must agree with this crate on what is local.
#[must_use]
pub fn local_repo_path(url: &str) -> Option<PathBuf> {
    if let Some(path) = url.strip_prefix("file://") {
        return Some(PathBuf::from(path));
    }
    if url.contains("://") || is_scp_like(url) {
        return None;
    }
    let path = Path::new(url);
    Some(std::path::absolute(path).unwrap_or_else(|_| path.to_owned()))
}

/// `[user@]host:path`, git's scp-like syntax: a colon before any slash.
fn is_scp_like(url: &str) -> bool {
    match (url.find(':'), url.find('/')) {
        (Some(colon), Some(slash)) => colon < slash && colon > 0,
        (Some(colon), None) => colon > 0,
        (None, _) => false,
    }
}

/// Whether a token may be offered to `url`: only over HTTPS, or plain HTTP to a loopback
/// host (test servers). Never to local paths, whose hooks would inherit it, nor over
/// plain HTTP on a network.
#[must_use]
pub fn may_send_token(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once("://") else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or("");
    // `[::1]:8080`: an IPv6 host keeps its colons inside the brackets.
    let host = match authority.split_once(']') {
        Some((v6, _)) if authority.starts_with('[') => &authority[..=v6.len()],
        _ => authority.split(':').next().unwrap_or(""),
    };
    scheme.eq_ignore_ascii_case("https")
        || (scheme.eq_ignore_ascii_case("http")
            && (host == "127.0.0.1" || host == "localhost" || host == "[::1]"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_with_passwords_are_refused_and_redacted() {
        let err = check_url("https://bot:s3cret@example.com/o/r.git").unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(!text.contains("s3cret"), "{text}");
        assert!(text.contains("https://***@example.com/o/r.git"), "{text}");
        // A token pasted as the user name is just as secret.
        let err = check_url("https://ghp_SECRETTOKEN@example.com/o/r.git").unwrap_err();
        assert!(!format!("{err} {err:?}").contains("SECRETTOKEN"));
        assert!(check_url("ssh://git@example.com/o/r.git").is_ok());
        assert!(check_url("ssh://git:pw@example.com/o/r.git").is_err());
        assert!(check_url("git@example.com:o/r.git").is_ok());
        assert_eq!(check_url("github.com:o/r").unwrap(), "github.com:o/r");
        assert_eq!(check_url("/srv/git/r.git").unwrap(), "/srv/git/r.git");
    }

    #[test]
    fn relative_paths_become_absolute() {
        assert_eq!(
            checked_remote_url("remote.git").unwrap(),
            check_url("remote.git").unwrap()
        );
        assert!(checked_remote_url("https://u:p@example.com/r").is_err());
        let url = check_url("remote.git").unwrap();
        assert!(Path::new(url.as_ref()).is_absolute(), "{url}");
        assert!(url.ends_with("remote.git"));
    }

    #[test]
    fn local_repo_paths_agree_with_check_url() {
        assert_eq!(
            local_repo_path("/srv/git/a.git"),
            Some(PathBuf::from("/srv/git/a.git"))
        );
        assert_eq!(
            local_repo_path("file:///srv/git/a.git"),
            Some(PathBuf::from("/srv/git/a.git"))
        );
        let relative = local_repo_path("repos/a.git").unwrap();
        assert!(relative.is_absolute());
        assert_eq!(
            relative.display().to_string(),
            check_url("repos/a.git").unwrap()
        );
        assert_eq!(local_repo_path("git@example.com:o/r.git"), None);
        assert_eq!(local_repo_path("example.com:r.git"), None);
        assert_eq!(local_repo_path("ssh://git@example.com/o/r.git"), None);
        assert_eq!(local_repo_path("https://example.com/o/r.git"), None);
    }

    #[test]
    fn tokens_only_travel_over_https_or_loopback() {
        assert!(may_send_token("https://github.com/o/r"));
        assert!(may_send_token("http://127.0.0.1:8080/o/r"));
        assert!(may_send_token("http://[::1]:8080/o/r"));
        assert!(!may_send_token("http://[fe80::1]:8080/o/r"));
        assert!(!may_send_token("http://git.example.com/o/r"));
        assert!(!may_send_token("/srv/git/r.git"));
        assert!(!may_send_token("git@github.com:o/r"));
    }

    #[test]
    fn debug_hides_the_token() {
        let c = Credentials::https_token(SecretString::from("tok-123".to_owned()));
        let text = format!("{c:?}");
        assert!(!text.contains("tok-123"), "{text}");
        assert!(text.contains("[redacted]"));
        assert_eq!(c.scrub("a tok-123 b"), "a *** b");
    }
}

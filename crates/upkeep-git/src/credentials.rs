//! How upkeep authenticates to remotes, without ever writing a secret down.

use std::fmt;
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
        match self.token() {
            Some(t) if !t.is_empty() => text.replace(t, "***"),
            _ => text.to_owned(),
        }
    }

    /// A libgit2 credential callback. libgit2 calls it again after each rejected attempt;
    /// we give up after a few so a wrong token fails instead of looping.
    pub(crate) fn callbacks(&self) -> git2::RemoteCallbacks<'_> {
        let mut callbacks = git2::RemoteCallbacks::new();
        let mut attempts = 0u32;
        callbacks.credentials(move |_url, username_from_url, allowed| {
            attempts += 1;
            if attempts > 3 {
                return Err(git2::Error::from_str(
                    "authentication failed (credentials rejected)",
                ));
            }
            if allowed.contains(git2::CredentialType::USER_PASS_PLAINTEXT)
                && let Some(token) = self.token()
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

/// Refuses URLs with a password in them (`https://user:token@host/...`), returning the
/// URL unchanged otherwise. Keeping secrets out of URLs is what keeps them out of
/// `.git/config`, libgit2's error messages and our logs.
pub(crate) fn check_url(url: &str) -> crate::Result<&str> {
    if let Some((scheme, rest)) = url.split_once("://") {
        let authority = rest.split('/').next().unwrap_or("");
        if let Some((userinfo, host)) = authority.rsplit_once('@')
            && let Some((user, _secret)) = userinfo.split_once(':')
        {
            return Err(crate::Error::CredentialsInUrl {
                url: format!("{scheme}://{user}:***@{host}{}", &rest[authority.len()..]),
            });
        }
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_with_passwords_are_refused_and_redacted() {
        let err = check_url("https://bot:s3cret@example.com/o/r.git").unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(!text.contains("s3cret"), "{text}");
        assert!(
            text.contains("https://bot:***@example.com/o/r.git"),
            "{text}"
        );
        assert!(check_url("https://bot@example.com/o/r.git").is_ok());
        assert!(check_url("git@example.com:o/r.git").is_ok());
        assert!(check_url("/srv/git/r.git").is_ok());
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

//! Secrets: only ever from the environment, held as [`SecretString`]s.

use std::fmt;

use secrecy::SecretString;

/// The environment variables that hold secrets, and what each is for.
pub const SECRET_VARS: [(&str, &str); 5] = [
    ("GITHUB_TOKEN", "GitHub API and git over https"),
    ("GITLAB_TOKEN", "GitLab API and git over https"),
    ("SLACK_API_TOKEN", "posting to Slack"),
    (
        "SENTRY_AUTH_TOKEN",
        "reading Sentry issues (the Sentry gate)",
    ),
    ("SENTRY_DSN", "sending failure events to Sentry"),
];

/// The secrets upkeep may use, read from the environment. Never from the file: a file
/// holding a token-like key is rejected by the loader. `Debug` shows only which are set.
#[derive(Clone, Default)]
pub struct Secrets {
    /// `GITHUB_TOKEN`.
    pub github_token: Option<SecretString>,
    /// `GITLAB_TOKEN`.
    pub gitlab_token: Option<SecretString>,
    /// `SLACK_API_TOKEN`.
    pub slack_api_token: Option<SecretString>,
    /// `SENTRY_AUTH_TOKEN`.
    pub sentry_auth_token: Option<SecretString>,
    /// `SENTRY_DSN`.
    pub sentry_dsn: Option<SecretString>,
}

impl Secrets {
    /// Picks the secrets out of an environment (binaries pass `std::env::vars()`, tests
    /// a literal list). Empty values count as unset.
    pub fn from_env<I, K, V>(env: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut s = Self::default();
        for (k, v) in env {
            let v = v.as_ref();
            if v.is_empty() {
                continue;
            }
            let slot = match k.as_ref() {
                "GITHUB_TOKEN" => &mut s.github_token,
                "GITLAB_TOKEN" => &mut s.gitlab_token,
                "SLACK_API_TOKEN" => &mut s.slack_api_token,
                "SENTRY_AUTH_TOKEN" => &mut s.sentry_auth_token,
                "SENTRY_DSN" => &mut s.sentry_dsn,
                _ => continue,
            };
            *slot = Some(SecretString::from(v.to_owned()));
        }
        s
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |o: &Option<SecretString>| if o.is_some() { "set" } else { "unset" };
        f.debug_struct("Secrets")
            .field("github_token", &set(&self.github_token))
            .field("gitlab_token", &set(&self.gitlab_token))
            .field("slack_api_token", &set(&self.slack_api_token))
            .field("sentry_auth_token", &set(&self.sentry_auth_token))
            .field("sentry_dsn", &set(&self.sentry_dsn))
            .finish()
    }
}

/// Words that mark a key as holding a secret wherever they appear in its name.
const SECRET_WORDS: [&str; 16] = [
    "token",
    "password",
    "passwd",
    "passphrase",
    "secret",
    "dsn",
    "apikey",
    "credential",
    "credentials",
    "creds",
    "authorization",
    "bearer",
    "webhook",
    "cookie",
    "privatekey",
    "pat",
];

/// Two-word names that hold a secret (`api_key`, `private_key`, …) although neither word
/// does alone.
const SECRET_PAIRS: [(&str, &str); 6] = [
    ("api", "key"),
    ("private", "key"),
    ("access", "key"),
    ("secret", "key"),
    ("signing", "key"),
    ("auth", "key"),
];

/// Whether a key name looks like it holds a secret: `token`, `github_token`,
/// `slackWebhookUrl`, `api-key`, `authorization`, … The name is split into words at
/// `_`, `-`, `.`, blanks and lower-to-upper case changes; any word in
/// [`SECRET_WORDS`] or adjacent pair in [`SECRET_PAIRS`] marks it. Erring towards
/// "secret" only costs a refusal of a key that no section has anyway (a test checks
/// that no real key is caught).
pub(crate) fn looks_secret(key: &str) -> bool {
    let words = words(key);
    words.iter().any(|w| SECRET_WORDS.contains(&w.as_str()))
        || words
            .windows(2)
            .any(|p| SECRET_PAIRS.contains(&(p[0].as_str(), p[1].as_str())))
}

/// `slackWebhookURL` → `slack`, `webhook`, `url`; `api-key` → `api`, `key`.
fn words(key: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in key.chars() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The variable to use instead of a secret at `path` (dotted key path, lowercase).
pub(crate) fn env_var_for(path: &str) -> String {
    let p = path.to_ascii_lowercase();
    if p.contains("dsn") {
        "SENTRY_DSN".to_owned()
    } else if p.contains("sentry") {
        "SENTRY_AUTH_TOKEN".to_owned()
    } else if p.contains("slack") || p.contains("chat") || p.contains("notify") {
        "SLACK_API_TOKEN".to_owned()
    } else if p.contains("gitlab") {
        "GITLAB_TOKEN".to_owned()
    } else if p.contains("github") {
        "GITHUB_TOKEN".to_owned()
    } else {
        SECRET_VARS
            .iter()
            .map(|(v, _)| *v)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret as _;

    use super::*;

    #[test]
    fn reads_only_known_vars_and_hides_values() {
        let s = Secrets::from_env([
            ("GITHUB_TOKEN", "ghp_supersecret"),
            ("SENTRY_DSN", ""),
            ("OTHER", "x"),
        ]);
        assert_eq!(
            s.github_token.as_ref().unwrap().expose_secret(),
            "ghp_supersecret"
        );
        assert!(s.sentry_dsn.is_none());
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("supersecret"), "{dbg}");
        assert!(dbg.contains("github_token: \"set\""), "{dbg}");
    }

    #[test]
    fn secret_key_names() {
        for k in [
            "token",
            "github_token",
            "SLACK-TOKEN",
            "GITHUB_PAT",
            "password",
            "db_passwd",
            "passphrase",
            "ssh_key_passphrase",
            "dsn",
            "sentry_dsn",
            "api_key",
            "x-api-key",
            "apiKey",
            "APIKEY",
            "private_key",
            "privateKey",
            "access_key_id",
            "client_secret",
            "authorization",
            "Authorization",
            "auth_header_bearer",
            "bearer",
            "webhook_url",
            "slackWebhookUrl",
            "credentials",
            "aws_credentials_file",
            "cookie",
        ] {
            assert!(looks_secret(k), "{k}");
        }
        for k in [
            "deploy_tokens",
            "tokenizer",
            "name",
            "sentry",
            "required_checks",
            "path",
            "key",
            "keys",
            "api_url",
            "author",
            "patch",
            "passes",
        ] {
            assert!(!looks_secret(k), "{k}");
        }
    }
}

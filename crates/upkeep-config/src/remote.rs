//! Repository URLs and which forge serves them.

use std::fmt;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Which forge adapter talks to a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ForgeKind {
    /// GitHub or GitHub Enterprise (REST API v3).
    Github,
    /// GitLab, gitlab.com or self-hosted (REST API v4).
    Gitlab,
    /// Plain git: any git URL or a local path. Branches are pushed with git; change
    /// requests are written as files next to the clone cache.
    #[default]
    Local,
}

impl ForgeKind {
    /// The API base URL of this kind of forge on `host` when the configuration gives
    /// none: `https://api.github.com` for github.com, `https://HOST/api/v3` for GitHub
    /// Enterprise, `https://HOST` for GitLab (the client adds `/api/v4`); `None` for the
    /// local forge. The one fallback every tool uses.
    #[must_use]
    pub fn default_api_url(self, host: &str) -> Option<String> {
        match self {
            Self::Github if host.eq_ignore_ascii_case("github.com") => {
                Some("https://api.github.com".to_owned())
            }
            Self::Github => Some(format!("https://{host}/api/v3")),
            Self::Gitlab => Some(format!("https://{host}")),
            Self::Local => None,
        }
    }

    /// The environment variable holding this forge's token (`None` for the local forge).
    #[must_use]
    pub fn token_var(self) -> Option<&'static str> {
        match self {
            Self::Github => Some("GITHUB_TOKEN"),
            Self::Gitlab => Some("GITLAB_TOKEN"),
            Self::Local => None,
        }
    }
}

impl fmt::Display for ForgeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Github => "github",
            Self::Gitlab => "gitlab",
            Self::Local => "local",
        })
    }
}

/// A repository as the rest of upkeep needs it: the URL git uses, the forge kind and
/// where that forge's API lives. Built by the loader from a `repo` field plus the
/// optional `forge` and `api_url` fields next to it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Remote {
    /// What git clones, fetches and pushes: the URL as written, or for a local path the
    /// absolute path (relative paths are resolved against the configuration file's
    /// directory).
    pub url: String,
    /// The forge adapter to use.
    pub kind: ForgeKind,
    /// The server's host name (`github.com`, `gitlab.example.com`); `None` for local paths.
    pub host: Option<String>,
    /// The project path on the forge without `.git`: `owner/name` on GitHub,
    /// `group/subgroup/name` on GitLab. For a local remote, the path part of the URL.
    pub path: String,
    /// The forge's API base URL: `https://api.github.com`, `https://HOST/api/v3` for
    /// GitHub Enterprise, `https://HOST` for GitLab (the client adds `/api/v4`); `None`
    /// for the local forge.
    pub api_url: Option<String>,
}

impl Remote {
    /// The last path segment: the repository name (`ogr` for `packit/ogr`).
    #[must_use]
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    /// Everything before the name: the owner on GitHub, the namespace on GitLab.
    #[must_use]
    pub fn owner(&self) -> &str {
        self.path.rsplit_once('/').map_or("", |(o, _)| o)
    }

    /// The forge's API base URL: [`api_url`](Self::api_url) when set, else the kind's
    /// default for the host ([`ForgeKind::default_api_url`]).
    #[must_use]
    pub fn api_base(&self) -> Option<String> {
        self.api_url.clone().or_else(|| {
            let host = self.host.as_deref().unwrap_or(match self.kind {
                ForgeKind::Gitlab => "gitlab.com",
                _ => "github.com",
            });
            self.kind.default_api_url(host)
        })
    }

    /// Works out the remote for `repo` (as written in the file), with an explicit forge
    /// kind and API URL when the user gave them. `base_dir` anchors relative paths.
    pub fn resolve(
        repo: &str,
        forge: Option<ForgeKind>,
        api_url: Option<&str>,
        base_dir: &Path,
    ) -> Result<Self, String> {
        let repo = repo.trim();
        if repo.is_empty() {
            return Err("repository URL is empty".to_owned());
        }
        let parsed = parse_git_url(repo, base_dir)?;
        let (url, host, path) = match parsed {
            GitUrl::Local(p) => {
                let kind = forge.unwrap_or(ForgeKind::Local);
                if kind != ForgeKind::Local {
                    return Err(format!(
                        "`{repo}` is a local path, which only the local forge can serve (forge = \"{kind}\")"
                    ));
                }
                let s = p.to_string_lossy().into_owned();
                return Ok(Self {
                    url: s.clone(),
                    kind: ForgeKind::Local,
                    host: None,
                    path: s,
                    api_url: None,
                });
            }
            GitUrl::Remote { url, host, path } => (url, host, path),
        };
        let inferred = forge.unwrap_or_else(|| infer_forge(&host));
        let api_url = match (inferred, api_url) {
            (ForgeKind::Local, Some(_)) => {
                return Err(
                    "`api_url` is set but the forge is `local`, which has no API; set `forge`"
                        .to_owned(),
                );
            }
            (_, Some(a)) => {
                let u = url::Url::parse(a).map_err(|e| format!("invalid `api_url` `{a}`: {e}"))?;
                if !matches!(u.scheme(), "http" | "https") {
                    return Err(format!("`api_url` `{a}` must be an http(s) URL"));
                }
                Some(a.trim_end_matches('/').to_owned())
            }
            (kind, None) => kind.default_api_url(&host),
        };
        let segments = path.split('/').filter(|s| !s.is_empty()).count();
        match inferred {
            ForgeKind::Github if segments != 2 => {
                return Err(format!(
                    "`{repo}` is not a GitHub repository URL: expected OWNER/NAME after the host, found `{path}`"
                ));
            }
            ForgeKind::Gitlab if segments < 2 => {
                return Err(format!(
                    "`{repo}` is not a GitLab project URL: expected GROUP/NAME (or GROUP/SUBGROUP/NAME) after the host, found `{path}`"
                ));
            }
            _ => {}
        }
        Ok(Self {
            url,
            kind: inferred,
            host: Some(host),
            path,
            api_url,
        })
    }
}

fn infer_forge(host: &str) -> ForgeKind {
    let host = host.to_ascii_lowercase();
    if host == "github.com" || host == "www.github.com" || host == "ssh.github.com" {
        ForgeKind::Github
    } else if host == "gitlab.com" || host.starts_with("gitlab.") {
        ForgeKind::Gitlab
    } else {
        ForgeKind::Local
    }
}

enum GitUrl {
    Local(PathBuf),
    Remote {
        url: String,
        host: String,
        path: String,
    },
}

fn clean_path(path: &str) -> String {
    let p = path.trim_matches('/');
    let p = p.strip_suffix(".git").unwrap_or(p);
    p.trim_end_matches('/').to_owned()
}

fn parse_git_url(repo: &str, base_dir: &Path) -> Result<GitUrl, String> {
    if repo.contains("://") {
        let u =
            url::Url::parse(repo).map_err(|e| format!("invalid repository URL `{repo}`: {e}"))?;
        match u.scheme() {
            "file" => {
                let p = u
                    .to_file_path()
                    .map_err(|()| format!("invalid file URL `{repo}`"))?;
                return Ok(GitUrl::Local(p));
            }
            "https" | "http" | "ssh" | "git" | "git+ssh" | "ssh+git" => {}
            other => {
                return Err(format!(
                    "unsupported URL scheme `{other}` in `{repo}`; use https, ssh, git, file or a path"
                ));
            }
        }
        if u.password().is_some()
            || (matches!(u.scheme(), "https" | "http") && !u.username().is_empty())
        {
            return Err(format!(
                "repository URL `{}` carries credentials; remove them and set GITHUB_TOKEN / GITLAB_TOKEN instead",
                redact_userinfo(repo)
            ));
        }
        let host = u
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| format!("repository URL `{repo}` has no host"))?
            .to_owned();
        let path = clean_path(u.path());
        if path.is_empty() {
            return Err(format!("repository URL `{repo}` has no repository path"));
        }
        return Ok(GitUrl::Remote {
            url: repo.to_owned(),
            host,
            path,
        });
    }
    // scp-like `user@host:path`: git's rule is a colon before any slash.
    if let Some((before, after)) = repo.split_once(':')
        && !before.contains('/')
        && !before.is_empty()
        && !(before.len() == 1 && before.chars().all(|c| c.is_ascii_alphabetic()))
    {
        let host = before.rsplit('@').next().unwrap_or(before).to_owned();
        let path = clean_path(after);
        if host.is_empty() || path.is_empty() {
            return Err(format!(
                "invalid scp-style repository URL `{repo}`; expected USER@HOST:PATH"
            ));
        }
        return Ok(GitUrl::Remote {
            url: repo.to_owned(),
            host,
            path,
        });
    }
    let p = Path::new(repo);
    Ok(GitUrl::Local(if p.is_absolute() {
        p.to_owned()
    } else {
        base_dir.join(p)
    }))
}

fn redact_userinfo(repo: &str) -> String {
    match url::Url::parse(repo) {
        Ok(mut u) => {
            let _ = u.set_password(None);
            let _ = u.set_username("");
            u.to_string()
        }
        Err(_) => "<redacted>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> Remote {
        Remote::resolve(s, None, None, Path::new("/cfg")).unwrap()
    }

    #[test]
    fn infers_github_from_https_and_ssh() {
        for u in [
            "https://github.com/packit/ogr",
            "https://github.com/packit/ogr.git",
            "git@github.com:packit/ogr.git",
            "ssh://git@github.com/packit/ogr.git",
        ] {
            let rem = r(u);
            assert_eq!(rem.kind, ForgeKind::Github, "{u}");
            assert_eq!(rem.path, "packit/ogr");
            assert_eq!(rem.owner(), "packit");
            assert_eq!(rem.name(), "ogr");
            assert_eq!(rem.api_url.as_deref(), Some("https://api.github.com"));
        }
    }

    #[test]
    fn infers_gitlab_including_self_hosted_subgroups() {
        let rem = r("https://gitlab.example.org/data/team/api.git");
        assert_eq!(rem.kind, ForgeKind::Gitlab);
        assert_eq!(rem.path, "data/team/api");
        assert_eq!(rem.owner(), "data/team");
        assert_eq!(rem.api_url.as_deref(), Some("https://gitlab.example.org"));
        assert_eq!(r("git@gitlab.com:g/p.git").kind, ForgeKind::Gitlab);
    }

    #[test]
    fn explicit_forge_and_api_url_for_enterprise() {
        let rem = Remote::resolve(
            "https://git.corp/o/r",
            Some(ForgeKind::Github),
            None,
            Path::new("/"),
        )
        .unwrap();
        assert_eq!(rem.api_url.as_deref(), Some("https://git.corp/api/v3"));
        let rem = Remote::resolve(
            "http://127.0.0.1:9/o/r.git",
            Some(ForgeKind::Github),
            Some("http://127.0.0.1:9/"),
            Path::new("/"),
        )
        .unwrap();
        assert_eq!(rem.api_url.as_deref(), Some("http://127.0.0.1:9"));
    }

    #[test]
    fn api_base_falls_back_to_the_kinds_default() {
        let by_hand = |kind, host: Option<&str>| Remote {
            kind,
            host: host.map(str::to_owned),
            ..Remote::default()
        };
        let cases = [
            (ForgeKind::Github, None, Some("https://api.github.com")),
            (
                ForgeKind::Github,
                Some("git.corp"),
                Some("https://git.corp/api/v3"),
            ),
            (ForgeKind::Gitlab, None, Some("https://gitlab.com")),
            (ForgeKind::Gitlab, Some("gl.corp"), Some("https://gl.corp")),
            (ForgeKind::Local, Some("x"), None),
        ];
        for (kind, host, want) in cases {
            assert_eq!(
                by_hand(kind, host).api_base().as_deref(),
                want,
                "{kind} {host:?}"
            );
        }
        let mut set = by_hand(ForgeKind::Github, None);
        set.api_url = Some("http://127.0.0.1:9".into());
        assert_eq!(set.api_base().as_deref(), Some("http://127.0.0.1:9"));
    }

    #[test]
    fn plain_urls_and_paths_are_local() {
        assert_eq!(r("https://git.example.com/x.git").kind, ForgeKind::Local);
        let rem = r("repos/a.git");
        assert_eq!(rem.kind, ForgeKind::Local);
        assert_eq!(rem.url, "/cfg/repos/a.git");
        assert_eq!(r("/srv/git/a.git").url, "/srv/git/a.git");
        assert_eq!(r("file:///srv/git/a.git").url, "/srv/git/a.git");
    }

    #[test]
    fn rejects_bad_urls() {
        let bad = |s: &str| Remote::resolve(s, None, None, Path::new("/")).unwrap_err();
        assert!(bad("https://github.com/only-owner").contains("OWNER/NAME"));
        assert!(bad("ftp://host/x").contains("scheme"));
        assert!(bad("https://github.com/").contains("no repository path"));
        let e = bad("https://user:hunter2@github.com/o/r");
        assert!(e.contains("credentials") && !e.contains("hunter2"), "{e}");
        assert!(Remote::resolve("./a", Some(ForgeKind::Github), None, Path::new("/")).is_err());
    }
}

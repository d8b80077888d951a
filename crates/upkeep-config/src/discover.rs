//! `[[maintain.discover]]`: rules that find a round's projects on a forge or on disk,
//! instead of listing each one.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::maintain::StepOverrides;
use crate::remote::ForgeKind;

/// One `[[maintain.discover]]` rule: where to list repositories, which of them become
/// projects, and the settings those projects start from.
///
/// Exactly one of `github_org`, `github_user`, `gitlab_group` and `directory` says where
/// to list. A listed repository becomes a project when it wears at least one of
/// `topics` (when given), its name matches an `include` glob (when given) and no
/// `exclude` glob; archived repositories, forks and empty repositories are left out
/// unless `archived`, `forks` or `empty` is set. `maintain projects` shows every
/// repository left out and why.
///
/// A discovered project is named after its repository (`api` for `acme/api`); a project
/// listed by hand in `[[maintain.projects]]` with the same repository wins and the rule
/// leaves that repository out. A repository may carry its own settings in a
/// `.upkeep.toml` on its base branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(clippy::struct_excessive_bools)] // TOML switches, each read on its own
pub struct DiscoverRule {
    /// A name for this rule in messages and in `maintain projects` (letters, digits,
    /// `.`, `_`, `-`; unique). Default: the source, e.g. `github-org-acme`.
    pub name: Option<String>,
    /// List the repositories of this GitHub organisation (`GET /orgs/{org}/repos`, every
    /// page). Private ones are listed to a classic token with the `repo` scope or a
    /// fine-grained token with the "Metadata" repository permission (read).
    pub github_org: Option<String>,
    /// List the repositories owned by this GitHub user: all of them when the token is
    /// that user's (`GET /user/repos`), its public ones otherwise (`GET
    /// /users/{user}/repos`, with a warning).
    pub github_user: Option<String>,
    /// List the projects of this GitLab group (its full path, e.g. `team/services`),
    /// with those of its subgroups unless `subgroups = false` (`GET
    /// /groups/:id/projects`, needs `GITLAB_TOKEN` with `read_api`).
    pub gitlab_group: Option<String>,
    /// List the bare repositories directly inside this directory (relative to this
    /// file), for the local forge. A repository's topics are its git config
    /// `upkeep.topics` (words separated by blanks or commas); `upkeep.archived = true`
    /// marks it archived, `upkeep.fork = true` a fork.
    pub directory: Option<PathBuf>,
    /// The forge's API base URL for GitHub Enterprise or a self-hosted GitLab. Default:
    /// `https://api.github.com` for GitHub, `https://gitlab.com` for GitLab.
    pub api_url: Option<String>,
    /// The git URL of a discovered repository, with `{path}` standing for its full path
    /// (`owner/name`, `group/subgroup/name`), e.g. `"git@github.com:{path}.git"` to
    /// clone over SSH. Default: the https URL the forge reports.
    pub clone_url: Option<String>,
    /// Keep only repositories wearing at least one of these topics (compared without
    /// regard to case). Default: no topic needed.
    #[serde(default)]
    pub topics: Vec<String>,
    /// Keep only repositories whose name matches one of these globs (`*`, `?`, `[a-z]`,
    /// `{a,b}`). A glob with a `/` is matched against the full path instead, where `*`
    /// stops at `/` and `**` does not. Default: every name.
    #[serde(default)]
    pub include: Vec<String>,
    /// Leave out repositories whose name (or, for a glob with a `/`, full path) matches
    /// one of these globs.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Keep archived repositories. Default `false`.
    #[serde(default)]
    pub archived: bool,
    /// Keep forks. Default `false`.
    #[serde(default)]
    pub forks: bool,
    /// Keep empty repositories (no commits). Default `false`.
    #[serde(default)]
    pub empty: bool,
    /// For `gitlab_group`: also list the projects of its subgroups. Default `true`.
    #[serde(default = "yes")]
    pub subgroups: bool,
    /// The base branch of the projects found. Default: each repository's default
    /// branch as the forge reports it, else `[maintain] base_branch`.
    pub base_branch: Option<String>,
    /// Overrides of the steps' command and/or timeout for the projects found.
    #[serde(default)]
    pub steps: StepOverrides,
    /// Extra environment variables for the steps of the projects found (they win over
    /// `[maintain] env`). Never put secrets here.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Labels for their change requests, added to `[maintain] labels`.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Reviewers for their change requests, added to `[maintain] reviewers`.
    #[serde(default)]
    pub reviewers: Vec<String>,
    /// Assignees for their change requests, added to `[maintain] assignees`.
    #[serde(default)]
    pub assignees: Vec<String>,
    /// Open their change requests as drafts (default: `[maintain] draft`).
    pub draft: Option<bool>,
    /// Where to list, worked out by the loader from the fields above.
    #[serde(skip)]
    #[schemars(skip)]
    pub source: DiscoverSource,
    /// The rule's name in messages, filled in by the loader: `name`, or one made from
    /// the source (`github-org-acme`, `gitlab-group-team-services`, `directory-repos`),
    /// with `-2`, `-3`, … for further rules on the same source.
    #[serde(skip)]
    #[schemars(skip)]
    pub label: String,
}

fn yes() -> bool {
    true
}

/// Where a rule lists repositories, as the loader worked it out: the source field that
/// was set, with the API URL filled in and a directory made absolute.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DiscoverSource {
    /// A GitHub organisation.
    GithubOrg {
        /// The organisation's login.
        org: String,
        /// The API base URL.
        api_url: String,
    },
    /// A GitHub user's own repositories.
    GithubUser {
        /// The user's login.
        user: String,
        /// The API base URL.
        api_url: String,
    },
    /// A GitLab group.
    GitlabGroup {
        /// The group's full path.
        group: String,
        /// The instance's base URL.
        api_url: String,
        /// Whether subgroups are listed too.
        subgroups: bool,
    },
    /// A directory of bare repositories.
    Directory {
        /// The absolute directory.
        path: PathBuf,
    },
    /// Not worked out (before loading, or the rule is invalid).
    #[default]
    Unset,
}

impl DiscoverSource {
    /// The forge that serves what this source lists.
    #[must_use]
    pub fn forge(&self) -> ForgeKind {
        match self {
            Self::GithubOrg { .. } | Self::GithubUser { .. } => ForgeKind::Github,
            Self::GitlabGroup { .. } => ForgeKind::Gitlab,
            Self::Directory { .. } | Self::Unset => ForgeKind::Local,
        }
    }

    /// The API base URL, for the forges that have one.
    #[must_use]
    pub fn api_url(&self) -> Option<&str> {
        match self {
            Self::GithubOrg { api_url, .. }
            | Self::GithubUser { api_url, .. }
            | Self::GitlabGroup { api_url, .. } => Some(api_url),
            Self::Directory { .. } | Self::Unset => None,
        }
    }
}

impl fmt::Display for DiscoverSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::GithubOrg { org, .. } => write!(f, "GitHub organisation {org}"),
            Self::GithubUser { user, .. } => write!(f, "GitHub user {user}"),
            Self::GitlabGroup {
                group, subgroups, ..
            } => {
                write!(f, "GitLab group {group}")?;
                if *subgroups {
                    f.write_str(" and its subgroups")?;
                }
                Ok(())
            }
            Self::Directory { path } => write!(f, "directory {}", path.display()),
            Self::Unset => f.write_str("(no source)"),
        }
    }
}

/// The public GitHub API, the default `api_url` of GitHub rules.
pub const GITHUB_API: &str = "https://api.github.com";
/// GitLab.com, the default `api_url` of GitLab rules.
pub const GITLAB_COM: &str = "https://gitlab.com";

impl DiscoverRule {
    /// `name`, or a name made from the source.
    pub(crate) fn default_label(&self) -> String {
        if let Some(n) = &self.name {
            return n.clone();
        }
        let slug = |s: &str| {
            s.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                        c
                    } else {
                        '-'
                    }
                })
                .collect::<String>()
                .trim_matches('-')
                .to_owned()
        };
        if let Some(o) = &self.github_org {
            format!("github-org-{}", slug(o))
        } else if let Some(u) = &self.github_user {
            format!("github-user-{}", slug(u))
        } else if let Some(g) = &self.gitlab_group {
            format!("gitlab-group-{}", slug(g))
        } else if let Some(d) = &self.directory {
            let last = d
                .file_name()
                .map_or_else(|| d.to_string_lossy(), |n| n.to_string_lossy());
            format!("directory-{}", slug(&last))
        } else {
            "discover".to_owned()
        }
    }

    /// Why `repo` is left out by this rule's filters, or `None` when it is kept.
    /// `name` is the repository's name, `path` its full path.
    #[must_use]
    pub fn filter(&self, repo: &Candidate<'_>) -> Option<LeftOutReason> {
        if repo.archived && !self.archived {
            return Some(LeftOutReason::Archived);
        }
        if repo.fork && !self.forks {
            return Some(LeftOutReason::Fork);
        }
        if repo.empty && !self.empty {
            return Some(LeftOutReason::Empty);
        }
        if !self.topics.is_empty()
            && !self
                .topics
                .iter()
                .any(|t| repo.topics.iter().any(|r| r.eq_ignore_ascii_case(t)))
        {
            return Some(LeftOutReason::NoTopic {
                wanted: self.topics.clone(),
            });
        }
        if !self.include.is_empty()
            && !self
                .include
                .iter()
                .any(|g| glob_matches(g, repo.name, repo.path))
        {
            return Some(LeftOutReason::NotIncluded {
                globs: self.include.clone(),
            });
        }
        if let Some(g) = self
            .exclude
            .iter()
            .find(|g| glob_matches(g, repo.name, repo.path))
        {
            return Some(LeftOutReason::Excluded { glob: g.clone() });
        }
        None
    }
}

/// What [`DiscoverRule::filter`] looks at in a listed repository.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    /// The repository's name (last path segment).
    pub name: &'a str,
    /// Its full path (`owner/name`, `group/subgroup/name`; for a directory, the name).
    pub path: &'a str,
    /// Its topics.
    pub topics: &'a [String],
    /// Archived (read-only).
    pub archived: bool,
    /// A fork of another repository.
    pub fork: bool,
    /// Without any commit.
    pub empty: bool,
}

/// Why a discovered repository is not a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum LeftOutReason {
    /// Archived, and the rule does not keep archived repositories.
    Archived,
    /// A fork, and the rule does not keep forks.
    Fork,
    /// No commits, and the rule does not keep empty repositories.
    Empty,
    /// Wears none of the rule's topics.
    NoTopic {
        /// The topics the rule asks for.
        wanted: Vec<String>,
    },
    /// Its name matches none of the rule's `include` globs.
    NotIncluded {
        /// The rule's `include` globs.
        globs: Vec<String>,
    },
    /// Its name matches one of the rule's `exclude` globs.
    Excluded {
        /// The glob that matched.
        glob: String,
    },
    /// A project listed in `[[maintain.projects]]` has the same repository: the listed
    /// one is used.
    Listed {
        /// The listed project.
        project: String,
    },
    /// An earlier rule already found it.
    FoundEarlier {
        /// The earlier rule's name.
        rule: String,
    },
}

impl LeftOutReason {
    /// A short key for grouping and JSON (`archived`, `fork`, `empty`, `no_topic`,
    /// `not_included`, `excluded`, `listed`, `found_earlier`).
    #[must_use]
    pub fn key(&self) -> &'static str {
        match self {
            Self::Archived => "archived",
            Self::Fork => "fork",
            Self::Empty => "empty",
            Self::NoTopic { .. } => "no_topic",
            Self::NotIncluded { .. } => "not_included",
            Self::Excluded { .. } => "excluded",
            Self::Listed { .. } => "listed",
            Self::FoundEarlier { .. } => "found_earlier",
        }
    }
}

impl fmt::Display for LeftOutReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Archived => f.write_str("archived (set `archived = true` to keep)"),
            Self::Fork => f.write_str("a fork (set `forks = true` to keep)"),
            Self::Empty => f.write_str("empty (set `empty = true` to keep)"),
            Self::NoTopic { wanted } => write!(f, "no topic {}", wanted.join(" or ")),
            Self::NotIncluded { globs } => {
                write!(f, "matches no include glob ({})", globs.join(", "))
            }
            Self::Excluded { glob } => write!(f, "excluded by `{glob}`"),
            Self::Listed { project } => write!(f, "listed by hand as `{project}`"),
            Self::FoundEarlier { rule } => write!(f, "already found by rule `{rule}`"),
        }
    }
}

/// Whether `glob` matches: against `path` when the glob has a `/`, else against `name`.
/// Globs are checked when the configuration is loaded; one that does not compile here
/// matches nothing.
fn glob_matches(glob: &str, name: &str, path: &str) -> bool {
    let subject = if glob.contains('/') { path } else { name };
    compile_glob(glob).is_ok_and(|m| m.is_match(subject))
}

/// A glob as the rules use it: `*` does not cross `/`, `**` does.
pub(crate) fn compile_glob(glob: &str) -> Result<globset::GlobMatcher, String> {
    globset::GlobBuilder::new(glob)
        .literal_separator(true)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|e| format!("invalid glob `{glob}`: {}", e.kind()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(text: &str) -> DiscoverRule {
        toml::from_str(text).unwrap()
    }

    fn cand<'a>(name: &'a str, path: &'a str, topics: &'a [String]) -> Candidate<'a> {
        Candidate {
            name,
            path,
            topics,
            archived: false,
            fork: false,
            empty: false,
        }
    }

    #[test]
    fn filters_in_order_and_say_why() {
        let r = rule(
            "github_org = \"acme\"\ntopics = [\"Upkeep\"]\ninclude = [\"svc-*\", \"tools/*\"]\nexclude = [\"*-legacy\"]",
        );
        let with = vec!["upkeep".to_owned()];
        let without = vec!["other".to_owned()];
        assert_eq!(r.filter(&cand("svc-api", "acme/svc-api", &with)), None);
        assert_eq!(
            r.filter(&cand("svc-api", "acme/svc-api", &without)),
            Some(LeftOutReason::NoTopic {
                wanted: vec!["Upkeep".into()]
            })
        );
        assert_eq!(
            r.filter(&cand("svc-old-legacy", "acme/svc-old-legacy", &with)),
            Some(LeftOutReason::Excluded {
                glob: "*-legacy".into()
            })
        );
        assert!(matches!(
            r.filter(&cand("web", "acme/web", &with)),
            Some(LeftOutReason::NotIncluded { .. })
        ));
        // A glob with a slash matches the path, and `*` stops at `/`.
        assert_eq!(r.filter(&cand("x", "tools/x", &with)), None);
        assert!(r.filter(&cand("x", "tools/deep/x", &with)).is_some());
        let mut archived = cand("svc-api", "acme/svc-api", &with);
        archived.archived = true;
        assert_eq!(r.filter(&archived), Some(LeftOutReason::Archived));
        let mut fork = cand("svc-api", "acme/svc-api", &with);
        fork.fork = true;
        assert_eq!(r.filter(&fork), Some(LeftOutReason::Fork));
        let mut empty = cand("svc-api", "acme/svc-api", &with);
        empty.empty = true;
        assert_eq!(r.filter(&empty), Some(LeftOutReason::Empty));
    }

    #[test]
    fn switches_keep_archived_forks_and_empty() {
        let r = rule("github_org = \"acme\"\narchived = true\nforks = true\nempty = true");
        let mut c = cand("a", "acme/a", &[]);
        c.archived = true;
        c.fork = true;
        c.empty = true;
        assert_eq!(r.filter(&c), None);
    }

    #[test]
    fn labels_come_from_the_source() {
        assert_eq!(
            rule("github_org = \"acme\"").default_label(),
            "github-org-acme"
        );
        assert_eq!(
            rule("gitlab_group = \"team/services\"").default_label(),
            "gitlab-group-team-services"
        );
        assert_eq!(
            rule("directory = \"srv/repos\"").default_label(),
            "directory-repos"
        );
        assert_eq!(
            rule("name = \"mine\"\ngithub_user = \"ann\"").default_label(),
            "mine"
        );
    }
}

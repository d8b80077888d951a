//! The repos to promote, overrides, and the dependency order between repos.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use upkeep_forge::{Forge, RepoId};
use upkeep_git::Credentials;

use crate::{Error, Result};

/// One repo whose target branch is promoted. Built by the caller (the binary builds it
/// from `[branches]` in the configuration), so the library never reads files or the
/// environment.
#[derive(Clone)]
pub struct RepoSpec {
    /// Unique name, used in overrides (`--<name>=<sha>`), output and history.
    pub name: String,
    /// The forge serving the repo.
    pub forge: Arc<dyn Forge>,
    /// The repo's id on that forge.
    pub id: RepoId,
    /// The URL git fetches from, for the cached clone used to resolve short SHAs and read
    /// commit messages and tags.
    pub git_url: String,
    /// Credentials for fetching `git_url`.
    pub credentials: Credentials,
    /// The branch promoted from (`main`).
    pub source: String,
    /// The branch moved (`stable`).
    pub target: String,
    /// Names of repos that must be moved first.
    pub depends_on: Vec<String>,
    /// After moving this repo, wait for a green CI verdict on its new tip before moving
    /// the repos that depend on it.
    pub wait_after: bool,
}

impl RepoSpec {
    /// A repo promoted from `main` to `stable` with no dependencies, fetched from
    /// `git_url` without credentials (set the fields for anything else).
    pub fn new(
        name: impl Into<String>,
        forge: Arc<dyn Forge>,
        id: RepoId,
        git_url: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            forge,
            id,
            git_url: git_url.into(),
            credentials: Credentials::none(),
            source: "main".to_owned(),
            target: "stable".to_owned(),
            depends_on: Vec::new(),
            wait_after: false,
        }
    }
}

impl fmt::Debug for RepoSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RepoSpec")
            .field("name", &self.name)
            .field("forge", &self.forge.kind())
            .field("id", &self.id)
            .field("git_url", &self.git_url)
            .field("source", &self.source)
            .field("target", &self.target)
            .field("depends_on", &self.depends_on)
            .field("wait_after", &self.wait_after)
            .finish_non_exhaustive()
    }
}

/// "Promote this repo to this revision instead of the source tip": `packit-service=1787687aba71`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    /// The repo name.
    pub repo: String,
    /// A commit: full or short SHA, or any revision of the source branch's history.
    pub rev: String,
}

impl FromStr for Override {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.split_once('=') {
            Some((repo, rev)) if !repo.trim().is_empty() && !rev.trim().is_empty() => Ok(Self {
                repo: repo.trim().to_owned(),
                rev: rev.trim().to_owned(),
            }),
            _ => Err(Error::BadOverride {
                given: s.to_owned(),
            }),
        }
    }
}

impl fmt::Display for Override {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.repo, self.rev)
    }
}

/// Checks overrides against the repos: every name known, at most one per repo.
/// Returns them by repo name.
pub fn check_overrides<'a>(
    repos: &[RepoSpec],
    overrides: &'a [Override],
) -> Result<BTreeMap<&'a str, &'a str>> {
    let mut by_repo: BTreeMap<&str, &str> = BTreeMap::new();
    for o in overrides {
        if !repos.iter().any(|r| r.name == o.repo) {
            return Err(Error::UnknownRepo {
                name: o.repo.clone(),
                known: repos.iter().map(|r| r.name.clone()).collect(),
            });
        }
        if let Some(first) = by_repo.insert(&o.repo, &o.rev)
            && first != o.rev
        {
            return Err(Error::DuplicateOverride {
                repo: o.repo.clone(),
                first: first.to_owned(),
                second: o.rev.clone(),
            });
        }
    }
    Ok(by_repo)
}

/// The dependency DAG cut into levels: every repo of level `n` depends only on repos of
/// levels `< n`, so the repos of one level are independent and can be planned, gated
/// and moved concurrently. Within a level, repos keep their input order.
///
/// Dependencies on names missing from `repos` are an [`Error::UnknownDependency`];
/// a cycle is an [`Error::Cycle`] naming the repos that could not be ordered.
pub fn levels<'a>(
    repos: impl IntoIterator<Item = (&'a str, &'a [String])>,
) -> Result<Vec<Vec<&'a str>>> {
    let repos: Vec<(&str, &[String])> = repos.into_iter().collect();
    let mut names = BTreeSet::new();
    for (name, _) in &repos {
        if !names.insert(*name) {
            return Err(Error::DuplicateRepo {
                name: (*name).to_owned(),
            });
        }
    }
    for (name, deps) in &repos {
        if let Some(d) = deps.iter().find(|d| !names.contains(d.as_str())) {
            return Err(Error::UnknownDependency {
                repo: (*name).to_owned(),
                dependency: d.clone(),
            });
        }
    }
    let mut level_of: BTreeMap<&str, usize> = BTreeMap::new();
    let mut out: Vec<Vec<&str>> = Vec::new();
    while level_of.len() < repos.len() {
        let ready: Vec<&str> = repos
            .iter()
            .filter(|(name, deps)| {
                !level_of.contains_key(name)
                    && deps
                        .iter()
                        .all(|d| level_of.get(d.as_str()).is_some_and(|l| *l < out.len()))
            })
            .map(|(name, _)| *name)
            .collect();
        if ready.is_empty() {
            return Err(Error::Cycle {
                repos: repos
                    .iter()
                    .filter(|(n, _)| !level_of.contains_key(n))
                    .map(|(n, _)| (*n).to_owned())
                    .collect(),
            });
        }
        for name in &ready {
            level_of.insert(name, out.len());
        }
        out.push(ready);
    }
    Ok(out)
}

/// [`levels`] for repo specs.
pub fn spec_levels(repos: &[RepoSpec]) -> Result<Vec<Vec<&str>>> {
    levels(
        repos
            .iter()
            .map(|r| (r.name.as_str(), r.depends_on.as_slice())),
    )
}

/// Every repo that depends on `name`, directly or through others.
#[must_use]
pub fn dependents_of<'a>(repos: &'a [RepoSpec], name: &str) -> BTreeSet<&'a str> {
    let mut found: BTreeSet<&str> = BTreeSet::new();
    let mut frontier = vec![name.to_owned()];
    while let Some(n) = frontier.pop() {
        for r in repos {
            if r.depends_on.contains(&n) && found.insert(r.name.as_str()) {
                frontier.push(r.name.clone());
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deps(list: &[(&'static str, &[&str])]) -> Vec<(&'static str, Vec<String>)> {
        list.iter()
            .map(|(n, d)| (*n, d.iter().map(|s| (*s).to_owned()).collect()))
            .collect()
    }

    fn run(list: &[(&'static str, &[&str])]) -> Result<Vec<Vec<String>>> {
        let owned = deps(list);
        levels(owned.iter().map(|(n, d)| (*n, d.as_slice()))).map(|l| {
            l.into_iter()
                .map(|v| v.into_iter().map(str::to_owned).collect())
                .collect()
        })
    }

    #[test]
    fn packit_order_in_levels() {
        let got = run(&[
            ("ogr", &[]),
            ("specfile", &[]),
            ("packit", &["ogr", "specfile"]),
            ("packit-service-fedmsg", &[]),
            ("sandcastle", &[]),
            ("dashboard", &["ogr"]),
            (
                "packit-service",
                &["packit", "sandcastle", "packit-service-fedmsg"],
            ),
        ])
        .unwrap();
        assert_eq!(
            got,
            vec![
                vec!["ogr", "specfile", "packit-service-fedmsg", "sandcastle"],
                vec!["packit", "dashboard"],
                vec!["packit-service"],
            ]
        );
    }

    #[test]
    fn cycle_is_an_error_naming_the_repos() {
        let err = run(&[("a", &["c"]), ("b", &["a"]), ("c", &["b"]), ("d", &[])]).unwrap_err();
        match err {
            Error::Cycle { repos } => assert_eq!(repos, ["a", "b", "c"]),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn unknown_dependency_is_an_error() {
        let err = run(&[("a", &["zzz"])]).unwrap_err();
        assert!(
            matches!(err, Error::UnknownDependency { ref dependency, .. } if dependency == "zzz")
        );
    }

    #[test]
    fn override_parsing() {
        let o: Override = "packit-service=1787687aba71".parse().unwrap();
        assert_eq!(o.repo, "packit-service");
        assert_eq!(o.rev, "1787687aba71");
        assert!("packit-service".parse::<Override>().is_err());
        assert!("=abc".parse::<Override>().is_err());
        assert!("x=".parse::<Override>().is_err());
    }
}

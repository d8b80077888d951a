//! [`Discover`] for the local forge: the bare repositories of a directory, and files
//! read from a remote's branch through the scratch clone.
//!
//! A bare repository has no topics or archive flag of its own, so they are read from its
//! git config: `upkeep.topics` (words separated by blanks or commas), `upkeep.archived`
//! and `upkeep.fork` (booleans), set with e.g.
//! `git --git-dir=api.git config upkeep.topics "upkeep python"`. A repository without a
//! branch is empty; its default branch is where its `HEAD` points, when that branch
//! exists.

use std::path::Path;

use async_trait::async_trait;

use super::{LocalForge, Session};
use crate::discover::{Discover, ListScope, ListedRepo, Listing, wrong_scope};
use crate::{ForgeError, ForgeKind, RepoId, Result};

#[async_trait]
impl Discover for LocalForge {
    fn discover_kind(&self) -> ForgeKind {
        ForgeKind::Local
    }

    async fn list_repos(&self, scope: &ListScope) -> Result<Listing> {
        let ListScope::Directory { path } = scope else {
            return Err(wrong_scope(ForgeKind::Local, scope));
        };
        let dir = path.clone();
        self.blocking(move |_| list_directory(&dir)).await
    }

    async fn read_file(&self, repo: &RepoId, branch: &str, path: &str) -> Result<Option<Vec<u8>>> {
        let (repo, branch, path) = (repo.clone(), branch.to_owned(), path.to_owned());
        self.blocking(move |forge| {
            let _guard = forge.lock(&repo);
            Session::new(forge, &repo).git.read_file(&branch, &path)
        })
        .await
    }
}

fn list_directory(dir: &Path) -> Result<Listing> {
    let entries = match fs_err::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ForgeError::NotFound {
                forge: ForgeKind::Local,
                what: format!("directory {}", dir.display()),
            });
        }
        Err(source) => {
            return Err(ForgeError::Io {
                doing: format!("list {}", dir.display()),
                source,
            });
        }
    };
    let mut paths: Vec<_> = entries
        .filter_map(std::result::Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    paths.sort();
    let mut listing = Listing {
        pages: 1,
        ..Listing::default()
    };
    for path in paths {
        // Work trees, plain directories and broken repositories are not listed; a
        // `*.git` directory that does not open says why.
        match git2::Repository::open_bare(&path) {
            Ok(repo) => listing.repos.push(describe(&path, &repo)),
            Err(e) if path.extension().is_some_and(|x| x == "git") => {
                listing.warnings.push(format!(
                    "{} looks like a repository but does not open: {}",
                    path.display(),
                    e.message()
                ));
            }
            Err(_) => {}
        }
    }
    Ok(listing)
}

fn describe(path: &Path, repo: &git2::Repository) -> ListedRepo {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = file_name
        .strip_suffix(".git")
        .unwrap_or(&file_name)
        .to_owned();
    let branches: Vec<String> = repo
        .references_glob("refs/heads/*")
        .map(|refs| {
            refs.filter_map(std::result::Result::ok)
                .filter_map(|r| r.name().ok().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let default_branch = repo
        .find_reference("HEAD")
        .ok()
        .and_then(|h| h.symbolic_target().ok().flatten().map(str::to_owned))
        .filter(|target| branches.contains(target))
        .and_then(|target| target.strip_prefix("refs/heads/").map(str::to_owned));
    let config = repo.config().ok();
    let flag = |key: &str| {
        config
            .as_ref()
            .and_then(|c| c.get_bool(key).ok())
            .unwrap_or(false)
    };
    let topics = config
        .as_ref()
        .and_then(|c| c.get_string("upkeep.topics").ok())
        .map(|t| {
            t.split(|c: char| c.is_whitespace() || c == ',')
                .filter(|w| !w.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let abs = path.to_string_lossy().into_owned();
    ListedRepo {
        id: RepoId::new(abs.clone()),
        path: name.clone(),
        name,
        clone_url: abs,
        web_url: None,
        default_branch,
        topics,
        archived: flag("upkeep.archived"),
        fork: flag("upkeep.fork"),
        empty: branches.is_empty(),
    }
}

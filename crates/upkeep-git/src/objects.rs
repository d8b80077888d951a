//! Commits written straight into the object database, without a work tree.
//!
//! Some state lives in git as a chain of commits on a ref of its own (the deploy token's
//! `refs/upkeep/locks/<name>`): each commit holds a few small files, its parent is the
//! previous state, and the ref is moved compare-and-swap with [`Repo::push`]. Such commits
//! are built in memory in a bare scratch repository; no checkout is involved.

use std::path::Path;

use git2::{Oid, Repository};

use crate::{Author, Error, Repo, Result};

impl Repo {
    /// Opens the bare repository at `path`, creating it (and its parents) if missing.
    pub fn open_or_init_bare(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        if let Ok(repo) = Repository::open_bare(path) {
            return Ok(Self::from_git2(repo));
        }
        let repo = Repository::init_bare(path).map_err(|source| Error::Open {
            path: path.to_owned(),
            source,
        })?;
        Ok(Self::from_git2(repo))
    }

    /// Writes a commit whose tree holds exactly `files` (flat names, no directories) and
    /// whose parent is `parent`, and returns its id. No ref is moved: push it with
    /// [`Repo::push`] to publish it.
    pub fn commit_files(
        &self,
        parent: Option<Oid>,
        files: &[(&str, &[u8])],
        message: &str,
        author: &Author,
    ) -> Result<Oid> {
        let err = |op: &'static str| {
            move |source| Error::WorkTree {
                repo: self.path().to_owned(),
                op,
                source,
            }
        };
        let mut builder = self.repo.treebuilder(None).map_err(err("build a tree"))?;
        for (name, bytes) in files {
            let blob = self.repo.blob(bytes).map_err(err("write a blob"))?;
            builder
                .insert(name, blob, 0o100_644)
                .map_err(err("build a tree"))?;
        }
        let tree_id = builder.write().map_err(err("write a tree"))?;
        let tree = self.repo.find_tree(tree_id).map_err(err("write a tree"))?;
        let parents = match parent {
            Some(id) => vec![
                self.repo
                    .find_commit(id)
                    .map_err(err("find the parent commit"))?,
            ],
            None => Vec::new(),
        };
        let parent_refs: Vec<&git2::Commit<'_>> = parents.iter().collect();
        let signature = author.signature().map_err(err("make a signature"))?;
        self.repo
            .commit(None, &signature, &signature, message, &tree, &parent_refs)
            .map_err(err("write a commit"))
    }
}

impl Repo {
    /// The first-parent chain from `tip` back to the root (or `limit` commits), newest
    /// first: the history of a ref that only ever moves by appending commits.
    pub fn first_parent_chain(&self, tip: Oid, limit: usize) -> Result<Vec<Oid>> {
        let err = |source| Error::History {
            repo: self.path().to_owned(),
            op: format!("walk the first-parent history of {tip}"),
            source,
        };
        let mut chain = Vec::new();
        let mut next = Some(self.repo.find_commit(tip).map_err(err)?);
        while let Some(commit) = next {
            if chain.len() >= limit {
                break;
            }
            chain.push(commit.id());
            next = if commit.parent_count() > 0 {
                Some(commit.parent(0).map_err(err)?)
            } else {
                None
            };
        }
        Ok(chain)
    }

    /// Whether the object database already has `id`.
    #[must_use]
    pub fn has_object(&self, id: Oid) -> bool {
        self.repo.find_object(id, None).is_ok()
    }
}

/// Whether `name` is a valid full reference name (`refs/heads/x`, `refs/upkeep/locks/y`):
/// no `..`, no `.lock` components, no control characters, spaces, `~^:?*[\`.
#[must_use]
pub fn is_valid_ref_name(name: &str) -> bool {
    git2::Reference::is_valid_name(name)
}

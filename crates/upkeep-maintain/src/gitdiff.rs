//! The dependency diff of a project: `upkeep-deps` over a repository at two revisions, or
//! at one revision and its work tree.

use std::path::Path;

use upkeep_deps::fs::DirTree;
use upkeep_deps::{DiffReport, SourceError, TreeSource};
use upkeep_git::{Oid, Repo};

/// A repository at one commit, as a tree of files for `upkeep-deps`.
pub struct RevTree<'a> {
    repo: &'a Repo,
    rev: Oid,
}

impl<'a> RevTree<'a> {
    /// The tree of `rev` in `repo`.
    #[must_use]
    pub fn new(repo: &'a Repo, rev: Oid) -> Self {
        Self { repo, rev }
    }
}

impl TreeSource for RevTree<'_> {
    fn list_files(&self) -> Result<Vec<String>, SourceError> {
        Ok(self
            .repo
            .list_files_at(self.rev)?
            .into_iter()
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .collect())
    }

    fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, SourceError> {
        match self.repo.read_file_at(self.rev, path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(upkeep_git::Error::FileMissing { .. }) => Ok(None),
            Err(e) => Err(Box::new(e)),
        }
    }
}

/// The lockfile changes between two commits of `repo`.
pub fn diff_commits(repo: &Repo, base: Oid, head: Oid) -> Result<DiffReport, upkeep_deps::Error> {
    upkeep_deps::diff_trees(&RevTree::new(repo, base), &RevTree::new(repo, head))
}

/// The lockfile changes between a commit of `repo` and the files in its work tree `dir`
/// (as git sees them: ignored files are not read). What a failed step left behind.
pub fn diff_worktree(repo: &Repo, base: Oid, dir: &Path) -> Result<DiffReport, upkeep_deps::Error> {
    upkeep_deps::diff_trees(&RevTree::new(repo, base), &DirTree::new(dir))
}

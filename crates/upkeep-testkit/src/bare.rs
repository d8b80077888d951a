//! Server-side operations on a bare repository, as a forge performs them: commit onto a
//! branch, point a branch anywhere, merge with a merge commit, tag, and read history.
//!
//! Forge fakes keep their git data in real bare repositories and use these to answer
//! their APIs; adapter test harnesses use them to change the "server" behind the
//! adapter's back. Everything runs in-process with git2 and the fixture identity and
//! clock of [`crate::git`], so commit ids are stable across runs.

// Helpers that commit return the new id for the tests that need it; most ignore it.
#![allow(clippy::must_use_candidate)]

use std::path::{Path, PathBuf};

use git2::{BranchType, Oid, Repository, Signature};

use crate::git::{Clock, EMAIL, NAME, init_bare};

/// One commit as a forge API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitMeta {
    /// Commit id.
    pub id: Oid,
    /// First line of the message.
    pub subject: String,
    /// Whole message.
    pub message: String,
    /// Author name.
    pub author_name: String,
    /// Author e-mail.
    pub author_email: String,
    /// Author time, seconds since the epoch (UTC).
    pub time: i64,
    /// Parent ids.
    pub parents: Vec<Oid>,
}

/// A bare repository on disk, operated on as a forge would. Cheap to clone; each call
/// opens the repository afresh, so it can be used from any thread.
#[derive(Debug, Clone)]
pub struct BareRepo {
    path: PathBuf,
    clock: Clock,
}

impl BareRepo {
    /// Creates an empty bare repository at `path` (HEAD → `main`).
    pub fn init(path: impl Into<PathBuf>, clock: Clock) -> Self {
        let path = path.into();
        init_bare(&path);
        Self { path, clock }
    }

    /// Uses the existing bare repository at `path`.
    pub fn open(path: impl Into<PathBuf>, clock: Clock) -> Self {
        Self {
            path: path.into(),
            clock,
        }
    }

    /// Where it is: a path git can fetch from and push to.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn repo(&self) -> Repository {
        Repository::open_bare(&self.path)
            .unwrap_or_else(|e| panic!("open bare repo {}: {e}", self.path.display()))
    }

    fn signature(&self) -> Signature<'static> {
        Signature::new(NAME, EMAIL, &git2::Time::new(self.clock.tick(), 0)).expect("signature")
    }

    /// The tip of `branch`, if it exists.
    #[must_use]
    pub fn tip(&self, branch: &str) -> Option<Oid> {
        self.repo()
            .refname_to_id(&format!("refs/heads/{branch}"))
            .ok()
    }

    /// Every branch with its tip, sorted by name.
    #[must_use]
    pub fn branches(&self) -> Vec<(String, Oid)> {
        let repo = self.repo();
        let mut out: Vec<(String, Oid)> = repo
            .branches(Some(BranchType::Local))
            .expect("list branches")
            .filter_map(|b| {
                let (branch, _) = b.ok()?;
                let name = branch.name().ok()??.to_owned();
                let oid = branch.get().target()?;
                Some((name, oid))
            })
            .collect();
        out.sort();
        out
    }

    /// Adds a commit (same tree as its parent, so it never conflicts) to `branch` and
    /// returns it. A missing branch starts at the tip of `main`, or as a root commit when
    /// there is no `main` either.
    pub fn commit_on(&self, branch: &str, message: &str) -> Oid {
        let repo = self.repo();
        let parent = self
            .tip(branch)
            .or_else(|| self.tip("main"))
            .map(|oid| repo.find_commit(oid).expect("parent commit"));
        let tree_id = match &parent {
            Some(p) => p.tree_id(),
            None => repo
                .treebuilder(None)
                .and_then(|b| b.write())
                .expect("empty tree"),
        };
        let tree = repo.find_tree(tree_id).expect("tree");
        let sig = self.signature();
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        let oid = repo
            .commit(None, &sig, &sig, message, &tree, &parents)
            .expect("commit");
        self.set_branch(branch, oid);
        oid
    }

    /// Adds a commit to `branch` whose tree is its parent's with `files` (top-level
    /// `(name, content)` pairs) written over it, and returns it. A missing branch starts
    /// at the tip of `main`, or as a root commit when there is no `main` either.
    pub fn commit_files(&self, branch: &str, files: &[(&str, &str)], message: &str) -> Oid {
        let repo = self.repo();
        let parent = self
            .tip(branch)
            .or_else(|| self.tip("main"))
            .map(|oid| repo.find_commit(oid).expect("parent commit"));
        let base_tree = parent.as_ref().map(|p| p.tree().expect("parent tree"));
        let mut builder = repo.treebuilder(base_tree.as_ref()).expect("tree builder");
        for (name, content) in files {
            let blob = repo.blob(content.as_bytes()).expect("blob");
            builder.insert(name, blob, 0o100_644).expect("tree entry");
        }
        let tree = repo
            .find_tree(builder.write().expect("write tree"))
            .expect("tree");
        let sig = self.signature();
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        let oid = repo
            .commit(None, &sig, &sig, message, &tree, &parents)
            .expect("commit");
        self.set_branch(branch, oid);
        oid
    }

    /// Adds a commit to `branch` that writes `content` to `file` (a `/`-separated path,
    /// directories created as needed) on top of the branch's tree, and returns it. A
    /// missing branch starts like in [`Self::commit_on`].
    pub fn commit_file(&self, branch: &str, file: &str, content: &str, message: &str) -> Oid {
        let repo = self.repo();
        let parent = self
            .tip(branch)
            .or_else(|| self.tip("main"))
            .map(|oid| repo.find_commit(oid).expect("parent commit"));
        let blob = repo.blob(content.as_bytes()).expect("blob");
        let base_tree = parent.as_ref().map(|p| p.tree().expect("tree"));
        let tree_id = insert_path(&repo, base_tree.as_ref(), file, blob);
        let tree = repo.find_tree(tree_id).expect("tree");
        let sig = self.signature();
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        let oid = repo
            .commit(None, &sig, &sig, message, &tree, &parents)
            .expect("commit");
        self.set_branch(branch, oid);
        oid
    }

    /// Points `branch` at `oid` (created or moved anywhere).
    pub fn set_branch(&self, branch: &str, oid: Oid) {
        self.repo()
            .reference(
                &format!("refs/heads/{branch}"),
                oid,
                true,
                "fake forge: set branch",
            )
            .expect("set branch");
    }

    /// Moves `branch` from `old` to `new` only if it is still at `old` (`None`: must not
    /// exist). Returns the actual tip on mismatch.
    pub fn compare_and_set(
        &self,
        branch: &str,
        old: Option<Oid>,
        new: Oid,
    ) -> Result<(), Option<Oid>> {
        let repo = self.repo();
        let name = format!("refs/heads/{branch}");
        let result = match old {
            Some(old) => repo
                .reference_matching(&name, new, true, old, "fake forge: move branch")
                .map(drop),
            None => repo
                .reference(&name, new, false, "fake forge: create branch")
                .map(drop),
        };
        result.map_err(|_| self.tip(branch))
    }

    /// Deletes `branch`; `false` if it did not exist.
    pub fn delete_branch(&self, branch: &str) -> bool {
        self.repo()
            .find_reference(&format!("refs/heads/{branch}"))
            .and_then(|mut r| r.delete())
            .is_ok()
    }

    /// Merges `head` into `base` with a merge commit (always two parents, as GitLab's and
    /// GitHub's merge buttons do by default) and advances `base`. Panics on conflicts.
    pub fn merge(&self, base: &str, head: &str, message: &str) -> Oid {
        let repo = self.repo();
        let ours = repo
            .find_commit(self.tip(base).expect("base branch"))
            .expect("base commit");
        let theirs = repo
            .find_commit(self.tip(head).expect("head branch"))
            .expect("head commit");
        let mut index = repo.merge_commits(&ours, &theirs, None).expect("merge");
        assert!(
            !index.has_conflicts(),
            "merge of {head} into {base} conflicts"
        );
        let tree_id = index.write_tree_to(&repo).expect("merge tree");
        let tree = repo.find_tree(tree_id).expect("tree");
        let sig = self.signature();
        let oid = repo
            .commit(None, &sig, &sig, message, &tree, &[&ours, &theirs])
            .expect("merge commit");
        self.set_branch(base, oid);
        oid
    }

    /// Resolves a branch, tag or (abbreviated) commit id to a commit.
    #[must_use]
    pub fn resolve(&self, rev: &str) -> Option<Oid> {
        let repo = self.repo();
        for name in [format!("refs/heads/{rev}"), format!("refs/tags/{rev}")] {
            if let Ok(r) = repo.find_reference(&name) {
                return r.peel_to_commit().ok().map(|c| c.id());
            }
        }
        repo.revparse_single(rev)
            .ok()?
            .peel_to_commit()
            .ok()
            .map(|c| c.id())
    }

    /// A commit's metadata, if it exists.
    #[must_use]
    pub fn commit(&self, oid: Oid) -> Option<CommitMeta> {
        let repo = self.repo();
        let commit = repo.find_commit(oid).ok()?;
        Some(meta(&commit))
    }

    /// `(ahead, behind)` of `a` relative to `b`.
    #[must_use]
    pub fn ahead_behind(&self, a: Oid, b: Oid) -> (usize, usize) {
        self.repo().graph_ahead_behind(a, b).expect("ahead/behind")
    }

    /// Whether `ancestor` is `descendant` or reachable from it.
    #[must_use]
    pub fn is_ancestor(&self, ancestor: Oid, descendant: Oid) -> bool {
        ancestor == descendant
            || self
                .repo()
                .graph_descendant_of(descendant, ancestor)
                .unwrap_or(false)
    }

    /// The merge base of `a` and `b`.
    #[must_use]
    pub fn merge_base(&self, a: Oid, b: Oid) -> Option<Oid> {
        self.repo().merge_base(a, b).ok()
    }

    /// Commits reachable from `head` but not from `base`, oldest first (as GitLab's
    /// compare API lists them).
    #[must_use]
    pub fn commits_between(&self, base: Oid, head: Oid) -> Vec<CommitMeta> {
        let repo = self.repo();
        let mut walk = repo.revwalk().expect("revwalk");
        walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::TIME | git2::Sort::REVERSE)
            .expect("sorting");
        walk.push(head).expect("push head");
        walk.hide(base).expect("hide base");
        walk.filter_map(Result::ok)
            .filter_map(|oid| repo.find_commit(oid).ok().map(|c| meta(&c)))
            .collect()
    }

    /// Every tag: name, the commit it names, and the message of an annotated tag.
    #[must_use]
    pub fn tags(&self) -> Vec<(String, Oid, Option<String>)> {
        let repo = self.repo();
        let mut out = Vec::new();
        for r in repo.references_glob("refs/tags/*").expect("tags").flatten() {
            let Some(name) = r.shorthand().ok().map(str::to_owned) else {
                continue;
            };
            let message = r
                .peel_to_tag()
                .ok()
                .and_then(|t| t.message().ok().flatten().map(str::to_owned));
            if let Ok(commit) = r.peel_to_commit() {
                out.push((name, commit.id(), message));
            }
        }
        out.sort();
        out
    }

    /// Creates a tag (annotated when `message` is given); `Err` if it exists or the target
    /// is unknown.
    pub fn create_tag(&self, name: &str, target: Oid, message: Option<&str>) -> Result<(), String> {
        let repo = self.repo();
        let object = repo.find_object(target, None).map_err(|e| e.to_string())?;
        match message {
            Some(msg) => repo
                .tag(name, &object, &self.signature(), msg, false)
                .map(drop),
            None => repo.tag_lightweight(name, &object, false).map(drop),
        }
        .map_err(|e| e.to_string())
    }
}

/// `tree` with `blob` at `path` (directories created or extended), written; returns the
/// new tree.
fn insert_path(repo: &Repository, tree: Option<&git2::Tree<'_>>, path: &str, blob: Oid) -> Oid {
    let mut builder = repo.treebuilder(tree).expect("treebuilder");
    match path.split_once('/') {
        None => {
            builder.insert(path, blob, 0o100_644).expect("insert blob");
        }
        Some((dir, rest)) => {
            let sub = tree
                .and_then(|t| t.get_name(dir))
                .and_then(|e| e.to_object(repo).ok())
                .and_then(|o| o.into_tree().ok());
            let sub_oid = insert_path(repo, sub.as_ref(), rest, blob);
            builder
                .insert(dir, sub_oid, 0o040_000)
                .expect("insert tree");
        }
    }
    builder.write().expect("write tree")
}

fn meta(commit: &git2::Commit<'_>) -> CommitMeta {
    let message = String::from_utf8_lossy(commit.message_bytes()).into_owned();
    let author = commit.author();
    CommitMeta {
        id: commit.id(),
        subject: message.lines().next().unwrap_or_default().to_owned(),
        message,
        author_name: String::from_utf8_lossy(author.name_bytes()).into_owned(),
        author_email: String::from_utf8_lossy(author.email_bytes()).into_owned(),
        time: author.when().seconds(),
        parents: commit.parent_ids().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_branch_merge_and_tag() {
        let dir = tempfile::tempdir().unwrap();
        let bare = BareRepo::init(dir.path().join("r.git"), Clock::default());
        let root = bare.commit_on("main", "root");
        let f1 = bare.commit_on("feature", "f1");
        assert_eq!(bare.commit(f1).unwrap().parents, [root]);
        let m1 = bare.commit_on("main", "m1");
        assert_eq!(bare.ahead_behind(f1, m1), (1, 1));
        assert_eq!(bare.merge_base(f1, m1), Some(root));
        let merge = bare.merge("main", "feature", "merge feature");
        assert!(bare.is_ancestor(f1, merge));
        assert_eq!(bare.commits_between(root, merge).len(), 3);
        assert_eq!(
            bare.compare_and_set("main", Some(root), f1),
            Err(Some(merge))
        );
        assert!(bare.compare_and_set("main", Some(merge), f1).is_ok());
        bare.create_tag("v1", root, Some("one")).unwrap();
        assert!(bare.create_tag("v1", root, None).is_err());
        let tags = bare.tags();
        assert_eq!((tags[0].0.as_str(), tags[0].1), ("v1", root));
        assert_eq!(tags[0].2.as_deref().map(str::trim), Some("one"));
        assert_eq!(bare.resolve("v1"), Some(root));
        assert!(bare.delete_branch("feature"));
        assert_eq!(bare.branches().len(), 1);
        let file = bare.commit_file("docs", "a/b/c.txt", "hello\n", "add c");
        let repo = git2::Repository::open_bare(bare.path()).unwrap();
        let tree = repo.find_commit(file).unwrap().tree().unwrap();
        let entry = tree.get_path(std::path::Path::new("a/b/c.txt")).unwrap();
        let blob = repo.find_blob(entry.id()).unwrap();
        assert_eq!(blob.content(), b"hello\n");
        assert_eq!(bare.commit(file).unwrap().parents, [f1]);
    }
}

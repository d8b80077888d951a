//! A local repository: reads, branches, commits and tags.

use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use git2::{ErrorCode, ObjectType, Oid, Repository};

use crate::{Error, Result};

/// Who a commit or annotated tag is by. Used as both author and committer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    /// Display name.
    pub name: String,
    /// E-mail address.
    pub email: String,
    /// A fixed timestamp (for reproducible tests); `None` means now.
    pub time: Option<DateTime<FixedOffset>>,
}

impl Author {
    /// An author whose commits are stamped with the current time.
    #[must_use]
    pub fn new(name: impl Into<String>, email: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            email: email.into(),
            time: None,
        }
    }

    /// The same author, stamping commits with `time`.
    #[must_use]
    pub fn at(mut self, time: DateTime<FixedOffset>) -> Self {
        self.time = Some(time);
        self
    }

    pub(crate) fn signature(&self) -> std::result::Result<git2::Signature<'static>, git2::Error> {
        match self.time {
            Some(t) => git2::Signature::new(
                &self.name,
                &self.email,
                &git2::Time::new(t.timestamp(), t.offset().local_minus_utc() / 60),
            ),
            None => git2::Signature::now(&self.name, &self.email),
        }
    }
}

/// One commit, as listed by [`Repo::commits_between`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CommitInfo {
    /// The commit id.
    #[serde(serialize_with = "ser_oid")]
    pub id: Oid,
    /// The first line of the message.
    pub subject: String,
    /// The rest of the message after the subject and blank line (may be empty).
    pub body: String,
    /// Author name.
    pub author_name: String,
    /// Author e-mail.
    pub author_email: String,
    /// Author time, in the author's offset.
    pub time: DateTime<FixedOffset>,
}

/// A tag, peeled to the commit it marks.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Tag {
    /// The short name (`v1.2.3`, not `refs/tags/v1.2.3`).
    pub name: String,
    /// The commit it points at (annotated tags are peeled).
    #[serde(serialize_with = "ser_oid")]
    pub target: Oid,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's serialize_with signature
fn ser_oid<S: serde::Serializer>(oid: &Oid, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.collect_str(oid)
}

/// Something that names a commit: a branch (`main`), remote branch (`origin/main`), tag,
/// full or abbreviated id, any git revision expression, or an [`Oid`].
pub trait Rev {
    /// Resolves to the commit id in `repo` (see [`Repo::resolve`]).
    fn resolve_in(&self, repo: &Repo) -> Result<Oid>;
    /// How to show it in errors.
    fn describe(&self) -> String;
}

impl Rev for str {
    fn resolve_in(&self, repo: &Repo) -> Result<Oid> {
        repo.resolve_str(self)
    }
    fn describe(&self) -> String {
        self.to_owned()
    }
}

impl Rev for String {
    fn resolve_in(&self, repo: &Repo) -> Result<Oid> {
        repo.resolve_str(self)
    }
    fn describe(&self) -> String {
        self.clone()
    }
}

impl Rev for Oid {
    fn resolve_in(&self, repo: &Repo) -> Result<Oid> {
        let commit = repo
            .repo
            .find_commit(*self)
            .map_err(|e| repo.rev_error(&self.to_string(), e))?;
        Ok(commit.id())
    }
    fn describe(&self) -> String {
        self.to_string()
    }
}

impl<T: Rev + ?Sized> Rev for &T {
    fn resolve_in(&self, repo: &Repo) -> Result<Oid> {
        (**self).resolve_in(repo)
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
}

/// A local git repository (a clone with a work tree, or a bare repository).
pub struct Repo {
    pub(crate) repo: Repository,
    path: PathBuf,
}

impl std::fmt::Debug for Repo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repo")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Repo {
    /// Opens the repository at `path` (its work tree, or a bare repository's directory).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let repo = Repository::open(path).map_err(|source| Error::Open {
            path: path.to_owned(),
            source,
        })?;
        Ok(Self::from_git2(repo))
    }

    /// Wraps an already open git2 repository.
    #[must_use]
    pub fn from_git2(repo: Repository) -> Self {
        let path = repo.workdir().unwrap_or_else(|| repo.path()).to_owned();
        Self { repo, path }
    }

    /// The work tree (or, for a bare repository, the repository directory).
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The `.git` directory (same as [`path`](Self::path) for a bare repository).
    #[must_use]
    pub fn git_dir(&self) -> &Path {
        self.repo.path()
    }

    /// The underlying git2 repository, for what this crate does not cover.
    #[must_use]
    pub fn git2(&self) -> &Repository {
        &self.repo
    }

    // ----- revisions -----------------------------------------------------------------

    /// Resolves a revision to a commit id: branch names, `origin/x`, tags (peeled),
    /// full ids, abbreviated ids (at least 4 hex digits; only commits count, see
    /// [`resolve_commit_prefix`](Self::resolve_commit_prefix)) and revision expressions
    /// such as `main~2`. Errors: [`Error::UnknownRev`], [`Error::AmbiguousRev`],
    /// [`Error::BadRev`] (e.g. it names a blob).
    pub fn resolve(&self, rev: impl Rev) -> Result<Oid> {
        rev.resolve_in(self)
    }

    fn resolve_str(&self, rev: &str) -> Result<Oid> {
        let is_hex = rev.len() >= 4 && rev.bytes().all(|b| b.is_ascii_hexdigit());
        if is_hex && rev.len() < 40 {
            // A branch or tag may look like hex; refs win, as in git.
            return match self.repo.resolve_reference_from_short_name(rev) {
                Ok(r) => r
                    .peel_to_commit()
                    .map(|c| c.id())
                    .map_err(|e| self.rev_error(rev, e)),
                Err(_) => self.resolve_commit_prefix(rev),
            };
        }
        let object = self
            .repo
            .revparse_single(rev)
            .map_err(|e| self.rev_error(rev, e))?;
        object
            .peel_to_commit()
            .map(|c| c.id())
            .map_err(|e| self.rev_error(rev, e))
    }

    fn rev_error(&self, rev: &str, source: git2::Error) -> Error {
        match source.code() {
            ErrorCode::NotFound | ErrorCode::InvalidSpec => Error::UnknownRev {
                repo: self.path.clone(),
                rev: rev.to_owned(),
            },
            ErrorCode::Ambiguous => Error::AmbiguousRev {
                repo: self.path.clone(),
                rev: rev.to_owned(),
                candidates: self.commits_with_prefix(rev).unwrap_or_default(),
            },
            _ => Error::BadRev {
                repo: self.path.clone(),
                rev: rev.to_owned(),
                source,
            },
        }
    }

    /// Resolves an abbreviated commit id to the unique commit it names.
    ///
    /// Only commit objects are considered, so a tree or blob sharing the prefix doesn't
    /// make it ambiguous (this is what a user means by a short SHA in an override).
    /// Errors: [`Error::AmbiguousRev`] listing every matching commit, or
    /// [`Error::UnknownRev`] if none (or the prefix is not 4–40 hex digits).
    pub fn resolve_commit_prefix(&self, prefix: &str) -> Result<Oid> {
        let candidates = self.commits_with_prefix(prefix)?;
        match candidates.as_slice() {
            [] => Err(Error::UnknownRev {
                repo: self.path.clone(),
                rev: prefix.to_owned(),
            }),
            [one] => Ok(*one),
            _ => Err(Error::AmbiguousRev {
                repo: self.path.clone(),
                rev: prefix.to_owned(),
                candidates,
            }),
        }
    }

    fn commits_with_prefix(&self, prefix: &str) -> Result<Vec<Oid>> {
        let prefix = prefix.to_ascii_lowercase();
        if prefix.len() < 4 || prefix.len() > 40 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(Vec::new());
        }
        let history = |source| Error::History {
            repo: self.path.clone(),
            op: format!("look up objects starting with {prefix}"),
            source,
        };
        let odb = self.repo.odb().map_err(history)?;
        let mut matches = Vec::new();
        odb.foreach(|oid| {
            if oid.to_string().starts_with(&prefix) {
                matches.push(*oid);
            }
            true
        })
        .map_err(history)?;
        let mut commits: Vec<Oid> = matches
            .into_iter()
            .filter(|oid| {
                odb.read_header(*oid)
                    .is_ok_and(|(_, kind)| kind == ObjectType::Commit)
            })
            .collect();
        // An object can sit in several packs (and loose): report each id once.
        commits.sort();
        commits.dedup();
        Ok(commits)
    }

    /// How many commits `a` has that `b` lacks, and `b` has that `a` lacks:
    /// `(ahead, behind)` of `a` relative to `b`.
    pub fn ahead_behind(&self, a: impl Rev, b: impl Rev) -> Result<(usize, usize)> {
        let (ia, ib) = (a.resolve_in(self)?, b.resolve_in(self)?);
        self.repo
            .graph_ahead_behind(ia, ib)
            .map_err(|source| Error::History {
                repo: self.path.clone(),
                op: format!(
                    "count commits between {} and {}",
                    a.describe(),
                    b.describe()
                ),
                source,
            })
    }

    /// The best common ancestor of `a` and `b`, or `None` if their histories are
    /// unrelated.
    pub fn merge_base(&self, a: impl Rev, b: impl Rev) -> Result<Option<Oid>> {
        let (ia, ib) = (a.resolve_in(self)?, b.resolve_in(self)?);
        match self.repo.merge_base(ia, ib) {
            Ok(oid) => Ok(Some(oid)),
            Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
            Err(source) => Err(Error::History {
                repo: self.path.clone(),
                op: format!(
                    "find the merge base of {} and {}",
                    a.describe(),
                    b.describe()
                ),
                source,
            }),
        }
    }

    /// Whether `ancestor` is reachable from `descendant` (a commit is its own ancestor,
    /// as in `git merge-base --is-ancestor`). "Can `descendant` be fast-forwarded to?"
    /// is `is_ancestor(current_tip, new_tip)`.
    pub fn is_ancestor(&self, ancestor: impl Rev, descendant: impl Rev) -> Result<bool> {
        let (a, d) = (ancestor.resolve_in(self)?, descendant.resolve_in(self)?);
        if a == d {
            return Ok(true);
        }
        self.repo
            .graph_descendant_of(d, a)
            .map_err(|source| Error::History {
                repo: self.path.clone(),
                op: format!(
                    "check whether {} is an ancestor of {}",
                    ancestor.describe(),
                    descendant.describe()
                ),
                source,
            })
    }

    /// The commits reachable from `head` but not from `base` (`git log base..head`),
    /// newest first.
    pub fn commits_between(&self, base: impl Rev, head: impl Rev) -> Result<Vec<CommitInfo>> {
        let (b, h) = (base.resolve_in(self)?, head.resolve_in(self)?);
        let history = |source| Error::History {
            repo: self.path.clone(),
            op: format!("list commits {}..{}", base.describe(), head.describe()),
            source,
        };
        let mut walk = self.repo.revwalk().map_err(history)?;
        walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::TIME)
            .map_err(history)?;
        walk.push(h).map_err(history)?;
        walk.hide(b).map_err(history)?;
        let mut out = Vec::new();
        for oid in walk {
            let oid = oid.map_err(history)?;
            let commit = self.repo.find_commit(oid).map_err(history)?;
            out.push(commit_info(&commit));
        }
        Ok(out)
    }

    // ----- files -----------------------------------------------------------------------

    /// The bytes of the file at `path` (relative to the repository root) in revision
    /// `rev`. [`Error::FileMissing`] if there is no file there (absent, or a directory).
    pub fn read_file_at(&self, rev: impl Rev, path: impl AsRef<Path>) -> Result<Vec<u8>> {
        let path = path.as_ref();
        let tree = self.tree_at(&rev)?;
        let missing = || Error::FileMissing {
            rev: rev.describe(),
            path: path.to_owned(),
        };
        let entry = match tree.get_path(path) {
            Ok(entry) => entry,
            Err(e) if e.code() == ErrorCode::NotFound => return Err(missing()),
            Err(source) => {
                return Err(Error::History {
                    repo: self.path.clone(),
                    op: format!("read {} at {}", path.display(), rev.describe()),
                    source,
                });
            }
        };
        if entry.kind() != Some(ObjectType::Blob) {
            return Err(missing());
        }
        let blob = self
            .repo
            .find_blob(entry.id())
            .map_err(|source| Error::History {
                repo: self.path.clone(),
                op: format!("read {} at {}", path.display(), rev.describe()),
                source,
            })?;
        Ok(blob.content().to_vec())
    }

    /// Every file (blob or symlink; not submodules) in revision `rev`, as paths relative
    /// to the repository root, sorted.
    pub fn list_files_at(&self, rev: impl Rev) -> Result<Vec<PathBuf>> {
        let tree = self.tree_at(&rev)?;
        let mut files = Vec::new();
        tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
            if entry.kind() == Some(ObjectType::Blob)
                && let Ok(name) = entry.name()
            {
                files.push(Path::new(dir).join(name));
            }
            git2::TreeWalkResult::Ok
        })
        .map_err(|source| Error::History {
            repo: self.path.clone(),
            op: format!("list files at {}", rev.describe()),
            source,
        })?;
        files.sort();
        Ok(files)
    }

    fn tree_at(&self, rev: &impl Rev) -> Result<git2::Tree<'_>> {
        let oid = rev.resolve_in(self)?;
        self.repo
            .find_commit(oid)
            .and_then(|c| c.tree())
            .map_err(|source| Error::History {
                repo: self.path.clone(),
                op: format!("read the tree of {}", rev.describe()),
                source,
            })
    }

    // ----- tags --------------------------------------------------------------------------

    /// All tags that point (directly or through an annotated tag) at a commit, sorted by
    /// name. Tags of trees or blobs are skipped.
    pub fn tags(&self) -> Result<Vec<Tag>> {
        let err = |source| Error::Tag {
            repo: self.path.clone(),
            op: "list",
            name: String::new(),
            source,
        };
        let mut tags = Vec::new();
        for reference in self.repo.references_glob("refs/tags/*").map_err(err)? {
            let reference = reference.map_err(err)?;
            let Ok(name) = reference.shorthand().map(str::to_owned) else {
                continue;
            };
            if let Ok(commit) = reference.peel_to_commit() {
                tags.push(Tag {
                    name,
                    target: commit.id(),
                });
            }
        }
        tags.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(tags)
    }

    /// Creates tag `name` at `target`: annotated (by `author`) when `message` is given,
    /// lightweight otherwise. Fails if the tag exists.
    pub fn create_tag(
        &self,
        name: &str,
        target: impl Rev,
        message: Option<&str>,
        author: &Author,
    ) -> Result<Oid> {
        let oid = target.resolve_in(self)?;
        let err = |source| Error::Tag {
            repo: self.path.clone(),
            op: "create",
            name: name.to_owned(),
            source,
        };
        let object = self.repo.find_object(oid, None).map_err(err)?;
        match message {
            Some(msg) => {
                let sig = author.signature().map_err(err)?;
                self.repo.tag(name, &object, &sig, msg, false).map_err(err)
            }
            None => self.repo.tag_lightweight(name, &object, false).map_err(err),
        }
    }

    // ----- branches and commits --------------------------------------------------------

    /// The current branch's short name, or `None` when HEAD is detached or unborn.
    pub fn current_branch(&self) -> Result<Option<String>> {
        match self.repo.head() {
            Ok(head) if head.is_branch() => Ok(head.shorthand().ok().map(str::to_owned)),
            Ok(_) => Ok(None),
            Err(e) if e.code() == ErrorCode::UnbornBranch => Ok(None),
            Err(source) => Err(Error::WorkTree {
                repo: self.path.clone(),
                op: "read HEAD",
                source,
            }),
        }
    }

    /// Creates local branch `name` at `base` (resetting it there if it exists) and
    /// switches the work tree to it, discarding uncommitted changes to tracked files.
    /// Untracked files are left alone. Returns the commit the branch now points at.
    pub fn checkout_new_branch(&self, name: &str, base: impl Rev) -> Result<Oid> {
        let oid = base.resolve_in(self)?;
        let err = |source| Error::Branch {
            repo: self.path.clone(),
            branch: name.to_owned(),
            source,
        };
        let commit = self.repo.find_commit(oid).map_err(err)?;
        // Check out while HEAD still names the old commit: libgit2 decides which files to
        // delete by comparing that baseline with the target.
        let mut checkout = git2::build::CheckoutBuilder::new();
        checkout.force();
        self.repo
            .checkout_tree(commit.as_object(), Some(&mut checkout))
            .map_err(err)?;
        // libgit2 refuses to force-move the branch HEAD is on, so detach first.
        self.repo.set_head_detached(oid).map_err(err)?;
        let branch = self.repo.branch(name, &commit, true).map_err(err)?;
        let refname = branch.get().name().map_err(err)?.to_owned();
        self.repo.set_head(&refname).map_err(err)?;
        Ok(oid)
    }

    /// Stages every change in the work tree (new, modified and deleted files; ignored
    /// files stay out) and commits it on the current branch as `author` (also the
    /// committer). Returns `None`, and commits nothing, when the tree is unchanged.
    pub fn commit_all(&self, message: &str, author: &Author) -> Result<Option<Oid>> {
        let err = |op| {
            move |source| Error::WorkTree {
                repo: self.path.clone(),
                op,
                source,
            }
        };
        let mut index = self.repo.index().map_err(err("stage changes"))?;
        index
            .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .map_err(err("stage changes"))?;
        index
            .update_all(["*"], None)
            .map_err(err("stage changes"))?;
        index.write().map_err(err("stage changes"))?;
        let tree_id = index.write_tree().map_err(err("stage changes"))?;
        let parent = match self.repo.head() {
            Ok(head) => Some(head.peel_to_commit().map_err(err("read HEAD"))?),
            Err(e) if e.code() == ErrorCode::UnbornBranch => None,
            Err(source) => return Err(err("read HEAD")(source)),
        };
        if parent.as_ref().is_some_and(|p| p.tree_id() == tree_id) {
            return Ok(None);
        }
        let tree = self.repo.find_tree(tree_id).map_err(err("commit"))?;
        let sig = author.signature().map_err(err("commit"))?;
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        let oid = self
            .repo
            .commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
            .map_err(err("commit"))?;
        tracing::debug!(repo = %self.path.display(), commit = %oid, "committed");
        Ok(Some(oid))
    }

    /// Whether the work tree and index match HEAD (untracked files count as changes,
    /// ignored files don't).
    pub fn status_is_clean(&self) -> Result<bool> {
        Ok(self.changed_paths()?.is_empty())
    }

    /// Paths that differ from HEAD in the index or work tree, including untracked files
    /// (not ignored ones), relative to the work tree root, sorted.
    pub fn changed_paths(&self) -> Result<Vec<PathBuf>> {
        let mut opts = git2::StatusOptions::new();
        opts.include_untracked(true)
            .recurse_untracked_dirs(true)
            .include_ignored(false)
            .renames_head_to_index(false);
        let statuses = self
            .repo
            .statuses(Some(&mut opts))
            .map_err(|source| Error::WorkTree {
                repo: self.path.clone(),
                op: "read status",
                source,
            })?;
        let mut paths: Vec<PathBuf> = statuses
            .iter()
            .filter(|s| s.status() != git2::Status::CURRENT)
            .filter_map(|s| s.path().ok().map(PathBuf::from))
            .collect();
        paths.sort();
        paths.dedup();
        Ok(paths)
    }
}

pub(crate) fn commit_info(commit: &git2::Commit<'_>) -> CommitInfo {
    let message = String::from_utf8_lossy(commit.message_bytes()).into_owned();
    let (subject, body) = match message.split_once('\n') {
        Some((s, rest)) => (s.trim_end().to_owned(), rest.trim().to_owned()),
        None => (message.trim_end().to_owned(), String::new()),
    };
    let author = commit.author();
    let when = author.when();
    let offset = FixedOffset::east_opt(when.offset_minutes() * 60)
        .unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero offset is valid"));
    let time = Utc
        .timestamp_opt(when.seconds(), 0)
        .single()
        .unwrap_or_default()
        .with_timezone(&offset);
    CommitInfo {
        id: commit.id(),
        subject,
        body,
        author_name: String::from_utf8_lossy(author.name_bytes()).into_owned(),
        author_email: String::from_utf8_lossy(author.email_bytes()).into_owned(),
        time,
    }
}

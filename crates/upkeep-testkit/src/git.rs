//! Real git repositories for tests: a bare "server" repo and working clones in a temp
//! dir, with a fixed identity and fixed, increasing dates so that every commit id is
//! the same on every run.
//!
//! Commits are made in-process with git2 (fast, no config involved); pushes go through
//! the `git` CLI so that the bare repo's hooks run (libgit2's local transport skips
//! them). The CLI runs with system and global config ignored.
//!
//! ```no_run
//! use upkeep_testkit::git::Fixture;
//! let fx = Fixture::new();
//! let commits = fx.linear_history(3);
//! fx.push_branch("main");
//! assert_eq!(fx.bare_ref("refs/heads/main"), Some(commits[2]));
//! ```

// Helpers that commit return the new id for the tests that need it; most ignore it.
#![allow(clippy::must_use_candidate)]

use std::ops::Deref;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use git2::{Oid, Repository, Signature};
use tempfile::TempDir;

/// Author and committer name of every fixture commit.
pub const NAME: &str = "upkeep test";
/// Author and committer e-mail of every fixture commit.
pub const EMAIL: &str = "test@upkeep.invalid";
/// The time of the first fixture commit: 2024-01-01T00:00:00Z.
pub const EPOCH: i64 = 1_704_067_200;
/// Seconds between consecutive fixture commits.
pub const STEP: i64 = 60;

/// Hands out fixed, increasing commit times, shared by all clones of one fixture so that
/// dates stay ordered across them.
#[derive(Debug, Clone)]
pub struct Clock(Arc<AtomicI64>);

impl Default for Clock {
    fn default() -> Self {
        Self(Arc::new(AtomicI64::new(EPOCH)))
    }
}

impl Clock {
    /// The next time (seconds since the epoch, UTC).
    #[must_use]
    pub fn tick(&self) -> i64 {
        self.0.fetch_add(STEP, Ordering::SeqCst)
    }

    /// A signature of the fixture identity at the next time.
    #[must_use]
    pub fn signature(&self) -> Signature<'static> {
        Signature::new(NAME, EMAIL, &git2::Time::new(self.tick(), 0)).expect("valid signature")
    }
}

/// Runs the `git` CLI in `dir` with the user's config ignored and a fixed identity;
/// panics with git's output if it fails. Returns stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    try_git(dir, args).unwrap_or_else(|e| panic!("git {args:?} in {}: {e}", dir.display()))
}

/// Like [`git`], but returns stderr (and stdout) as the error instead of panicking.
pub fn try_git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("LC_ALL", "C")
        .env("GIT_AUTHOR_NAME", NAME)
        .env("GIT_AUTHOR_EMAIL", EMAIL)
        .env("GIT_COMMITTER_NAME", NAME)
        .env("GIT_COMMITTER_EMAIL", EMAIL)
        .env("GIT_AUTHOR_DATE", format!("@{EPOCH} +0000"))
        .env("GIT_COMMITTER_DATE", format!("@{EPOCH} +0000"))
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(format!(
            "{}\n{stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn set_fixture_config(repo: &Repository) {
    let mut cfg = repo.config().expect("repo config");
    cfg.set_str("user.name", NAME).expect("config");
    cfg.set_str("user.email", EMAIL).expect("config");
    cfg.set_bool("commit.gpgsign", false).expect("config");
    cfg.set_bool("tag.gpgsign", false).expect("config");
}

/// Creates an empty bare repository at `path` whose `HEAD` names `refs/heads/main`.
pub fn init_bare(path: &Path) -> Repository {
    let mut opts = git2::RepositoryInitOptions::new();
    opts.bare(true).initial_head("main");
    let repo = Repository::init_opts(path, &opts).expect("init bare repo");
    set_fixture_config(&repo);
    repo
}

/// The id `refname` (e.g. `refs/heads/main`) points at in the repository at `repo`
/// (bare or not), or `None` if there is no such ref. Annotated tags are not peeled.
#[must_use]
pub fn read_ref(repo: &Path, refname: &str) -> Option<Oid> {
    Repository::open(repo).ok()?.refname_to_id(refname).ok()
}

/// Installs `script` (a shell script body; `#!/bin/sh` is prepended) as the
/// `pre-receive` hook of the bare repo at `bare`. It reads `<old> <new> <ref>` lines on
/// stdin; a non-zero exit rejects the push, and what it prints reaches the pusher as
/// `remote:` lines.
pub fn install_pre_receive_hook(bare: &Path, script: &str) {
    let hooks = bare.join("hooks");
    std::fs::create_dir_all(&hooks).expect("hooks dir");
    let hook = hooks.join("pre-receive");
    std::fs::write(&hook, format!("#!/bin/sh\n{script}\n")).expect("write hook");
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).expect("chmod hook");
}

/// A bare repository plus a working clone of it (`origin` = the bare repo), both in one
/// temp dir that is deleted on drop. Derefs to the working clone, so
/// `fx.commit_file(..)` commits in it.
pub struct Fixture {
    dir: TempDir,
    bare: PathBuf,
    work: WorkClone,
    clock: Clock,
}

impl Default for Fixture {
    fn default() -> Self {
        Self::new()
    }
}

impl Fixture {
    /// An empty bare repo `remote.git` (HEAD → `main`) and an empty working clone `work`
    /// on unborn `main`.
    #[must_use]
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("upkeep-git-")
            .tempdir()
            .expect("temp dir");
        let bare = dir.path().join("remote.git");
        init_bare(&bare);
        let clock = Clock::default();
        let work = WorkClone::init(&dir.path().join("work"), &bare, clock.clone());
        Self {
            dir,
            bare,
            work,
            clock,
        }
    }

    /// The temp dir holding everything (put extra repos or cache dirs here).
    #[must_use]
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The bare repository's path.
    #[must_use]
    pub fn bare(&self) -> &Path {
        &self.bare
    }

    /// The bare repository's path as a string: a valid remote URL (a plain path).
    #[must_use]
    pub fn url(&self) -> String {
        self.bare.display().to_string()
    }

    /// The bare repository as a `file://` URL.
    #[must_use]
    pub fn file_url(&self) -> String {
        format!("file://{}", self.bare.display())
    }

    /// The main working clone.
    #[must_use]
    pub fn work(&self) -> &WorkClone {
        &self.work
    }

    /// The shared clock (for making signatures in step with fixture commits).
    #[must_use]
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Another working clone of the bare repo at `<root>/<name>` (e.g. "a colleague"
    /// who pushes while the code under test isn't looking), with all remote branches
    /// fetched and `main` checked out if it exists.
    #[must_use]
    pub fn clone_work(&self, name: &str) -> WorkClone {
        let clone = WorkClone::init(&self.root().join(name), &self.bare, self.clock.clone());
        git(clone.path(), &["fetch", "--quiet", "origin"]);
        if let Some(main) = read_ref(clone.path(), "refs/remotes/origin/main") {
            clone.branch("main", main);
            clone.switch("main");
        }
        clone
    }

    /// Where `refname` points in the bare repo (`None` if absent).
    #[must_use]
    pub fn bare_ref(&self, refname: &str) -> Option<Oid> {
        read_ref(&self.bare, refname)
    }

    /// Points `refname` of the bare repo at `oid` directly (the object must already be
    /// there, e.g. pushed earlier), as a server-side change would.
    pub fn set_bare_ref(&self, refname: &str, oid: Oid) {
        let repo = Repository::open(&self.bare).expect("open bare");
        repo.reference(refname, oid, true, "fixture: set ref")
            .expect("set bare ref");
    }

    /// Installs a `pre-receive` hook in the bare repo ([`install_pre_receive_hook`]).
    pub fn install_pre_receive_hook(&self, script: &str) {
        install_pre_receive_hook(&self.bare, script);
    }
}

impl Deref for Fixture {
    type Target = WorkClone;
    fn deref(&self) -> &WorkClone {
        &self.work
    }
}

/// A working clone whose `origin` is the fixture's bare repo.
pub struct WorkClone {
    path: PathBuf,
    repo: Repository,
    clock: Clock,
}

impl WorkClone {
    fn init(path: &Path, bare: &Path, clock: Clock) -> Self {
        let mut opts = git2::RepositoryInitOptions::new();
        opts.initial_head("main");
        let repo = Repository::init_opts(path, &opts).expect("init work clone");
        set_fixture_config(&repo);
        repo.remote("origin", &bare.display().to_string())
            .expect("add origin");
        Self {
            path: path.to_owned(),
            repo,
            clock,
        }
    }

    /// The work tree.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The git2 repository (for anything not covered here).
    #[must_use]
    pub fn repo(&self) -> &Repository {
        &self.repo
    }

    /// The commit HEAD points at. Panics on an unborn branch.
    #[must_use]
    pub fn head(&self) -> Oid {
        self.repo
            .head()
            .and_then(|h| h.peel_to_commit())
            .expect("HEAD commit")
            .id()
    }

    /// Writes `contents` to `path` (creating directories) and commits it on the current
    /// branch.
    pub fn commit_file(&self, path: &str, contents: &str, message: &str) -> Oid {
        self.commit_files(&[(path, Some(contents.as_bytes()))], message)
    }

    /// Deletes `path` and commits the deletion.
    pub fn remove_file(&self, path: &str, message: &str) -> Oid {
        self.commit_files(&[(path, None)], message)
    }

    /// Applies several writes (`Some(bytes)`) and deletions (`None`) and commits them as
    /// one commit on the current branch (also on an unborn branch: the root commit).
    pub fn commit_files(&self, changes: &[(&str, Option<&[u8]>)], message: &str) -> Oid {
        let mut index = self.repo.index().expect("index");
        for (path, contents) in changes {
            let full = self.path.join(path);
            if let Some(bytes) = contents {
                if let Some(parent) = full.parent() {
                    std::fs::create_dir_all(parent).expect("mkdir");
                }
                std::fs::write(&full, bytes).expect("write file");
                index.add_path(Path::new(path)).expect("stage file");
            } else {
                std::fs::remove_file(&full).expect("remove file");
                index.remove_path(Path::new(path)).expect("unstage file");
            }
        }
        index.write().expect("write index");
        let tree_id = index.write_tree().expect("write tree");
        self.commit_tree(tree_id, message)
    }

    /// Commits the given tree on the current branch with the fixture identity.
    fn commit_tree(&self, tree_id: Oid, message: &str) -> Oid {
        let tree = self.repo.find_tree(tree_id).expect("tree");
        let parent = self.repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        let sig = self.clock.signature();
        self.repo
            .commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
            .expect("commit")
    }

    /// A commit that changes nothing (same tree as HEAD), for histories where only the
    /// ids matter.
    pub fn commit_empty(&self, message: &str) -> Oid {
        let tree_id = self.repo.head().and_then(|h| h.peel_to_tree()).map_or_else(
            |_| {
                self.repo
                    .treebuilder(None)
                    .and_then(|b| b.write())
                    .expect("empty tree")
            },
            |t| t.id(),
        );
        self.commit_tree(tree_id, message)
    }

    /// `n` commits on the current branch, each appending a line to `history.txt`, with
    /// messages `commit <k>` numbered on from the lines already there (so a second call
    /// continues the count). Returns their ids, oldest first.
    pub fn linear_history(&self, n: usize) -> Vec<Oid> {
        use std::fmt::Write as _;
        let mut lines = std::fs::read_to_string(self.path.join("history.txt")).unwrap_or_default();
        let start = lines.lines().count();
        (start + 1..=start + n)
            .map(|k| {
                writeln!(lines, "line {k}").expect("write to string");
                self.commit_file("history.txt", &lines, &format!("commit {k}"))
            })
            .collect()
    }

    /// Creates local branch `name` at `at`, or moves it there; does not switch to it.
    pub fn branch(&self, name: &str, at: Oid) {
        let commit = self.repo.find_commit(at).expect("branch target");
        if self.current_branch().as_deref() == Some(name) {
            let refname = format!("refs/heads/{name}");
            self.repo
                .reference(&refname, at, true, "fixture: move branch")
                .expect("move branch");
            self.checkout_force(at);
        } else {
            self.repo
                .branch(name, &commit, true)
                .expect("create branch");
        }
    }

    /// Switches the work tree to local branch `name`, discarding local changes.
    pub fn switch(&self, name: &str) {
        let refname = format!("refs/heads/{name}");
        let oid = self.repo.refname_to_id(&refname).expect("branch exists");
        self.checkout_force(oid);
        self.repo.set_head(&refname).expect("set HEAD");
    }

    fn checkout_force(&self, oid: Oid) {
        let commit = self.repo.find_commit(oid).expect("commit");
        let mut co = git2::build::CheckoutBuilder::new();
        co.force().remove_untracked(false);
        self.repo
            .checkout_tree(commit.as_object(), Some(&mut co))
            .expect("checkout");
    }

    /// The current branch's short name (`None` if detached).
    #[must_use]
    pub fn current_branch(&self) -> Option<String> {
        let head = self.repo.find_reference("HEAD").ok()?;
        let target = head.symbolic_target().ok()??;
        target.strip_prefix("refs/heads/").map(str::to_owned)
    }

    /// Makes two branches diverge from the current tip of `base`: creates `other` there,
    /// then adds `n` commits to each (files `base.txt` and `other.txt`). Leaves `base`
    /// checked out. Returns `(commits on base, commits on other)`, oldest first.
    pub fn diverge(&self, base: &str, other: &str, n: usize) -> (Vec<Oid>, Vec<Oid>) {
        self.switch(base);
        self.branch(other, self.head());
        let mut on_base = Vec::new();
        let mut on_other = Vec::new();
        for i in 1..=n {
            on_base.push(self.commit_file(
                &format!("{base}.txt"),
                &format!("{base} {i}\n"),
                &format!("{base} {i}"),
            ));
        }
        self.switch(other);
        for i in 1..=n {
            on_other.push(self.commit_file(
                &format!("{other}.txt").replace('/', "-"),
                &format!("{other} {i}\n"),
                &format!("{other} {i}"),
            ));
        }
        self.switch(base);
        (on_base, on_other)
    }

    /// Merges local branch `from` into the current branch with a merge commit (two
    /// parents, even when a fast-forward would do). Panics on conflicts.
    pub fn merge(&self, from: &str, message: &str) -> Oid {
        let ours = self
            .repo
            .head()
            .and_then(|h| h.peel_to_commit())
            .expect("HEAD");
        let theirs = self
            .repo
            .find_branch(from, git2::BranchType::Local)
            .and_then(|b| b.get().peel_to_commit())
            .expect("branch to merge");
        let mut index = self
            .repo
            .merge_commits(&ours, &theirs, None)
            .expect("merge");
        assert!(!index.has_conflicts(), "fixture merge of {from} conflicts");
        let tree_id = index.write_tree_to(&self.repo).expect("merge tree");
        let tree = self.repo.find_tree(tree_id).expect("tree");
        let sig = self.clock.signature();
        let oid = self
            .repo
            .commit(None, &sig, &sig, message, &tree, &[&ours, &theirs])
            .expect("merge commit");
        self.checkout_force(oid);
        self.repo
            .head()
            .expect("HEAD")
            .set_target(oid, "fixture: merge")
            .expect("advance branch");
        oid
    }

    /// Creates tag `name` at `target`: annotated with `message`, or lightweight.
    pub fn tag(&self, name: &str, target: Oid, message: Option<&str>) {
        let object = self.repo.find_object(target, None).expect("tag target");
        match message {
            Some(msg) => {
                let sig = self.clock.signature();
                self.repo.tag(name, &object, &sig, msg, false).expect("tag");
            }
            None => {
                self.repo
                    .tag_lightweight(name, &object, false)
                    .expect("tag");
            }
        }
    }

    /// `git push origin <refspecs..>` with the CLI (hooks in the bare repo run).
    /// Panics if the push fails; see [`try_push`](Self::try_push).
    pub fn push(&self, refspecs: &[&str]) {
        if let Err(e) = self.try_push(refspecs) {
            panic!("fixture push {refspecs:?} failed: {e}");
        }
    }

    /// `git push origin <refspecs..>`, returning git's output on failure.
    pub fn try_push(&self, refspecs: &[&str]) -> Result<(), String> {
        let mut args = vec!["push", "--quiet", "origin"];
        args.extend_from_slice(refspecs);
        try_git(&self.path, &args).map(drop)
    }

    /// Pushes local branch `name` to the same name on `origin` (non-forced).
    pub fn push_branch(&self, name: &str) {
        self.push(&[&format!("refs/heads/{name}:refs/heads/{name}")]);
    }

    /// Pushes every local branch and tag to `origin`, forced.
    pub fn push_all(&self) {
        self.push(&[
            "--force",
            "refs/heads/*:refs/heads/*",
            "refs/tags/*:refs/tags/*",
        ]);
    }

    /// `git fetch origin` (all branches and tags) with the CLI.
    pub fn fetch(&self) {
        git(&self.path, &["fetch", "--quiet", "--tags", "origin"]);
    }
}

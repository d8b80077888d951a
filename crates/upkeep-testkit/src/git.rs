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
    fs_err::create_dir_all(&hooks).expect("hooks dir");
    let hook = hooks.join("pre-receive");
    fs_err::write(&hook, format!("#!/bin/sh\n{script}\n")).expect("write hook");
    fs_err::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).expect("chmod hook");
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
                    fs_err::create_dir_all(parent).expect("mkdir");
                }
                fs_err::write(&full, bytes).expect("write file");
                index.add_path(Path::new(path)).expect("stage file");
            } else {
                fs_err::remove_file(&full).expect("remove file");
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
        let mut lines = fs_err::read_to_string(self.path.join("history.txt")).unwrap_or_default();
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

/// Who may talk to an [`HttpGitServer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpAuth {
    /// Anyone may fetch and push.
    None,
    /// Every request needs HTTP Basic auth with this user and password.
    Basic {
        /// Expected username.
        user: String,
        /// Expected password (the token).
        password: String,
    },
    /// Fetching is anonymous; pushing (`git-receive-pack`) needs Basic auth.
    BasicForPush {
        /// Expected username.
        user: String,
        /// Expected password (the token).
        password: String,
    },
}

/// The `Authorization` header value for HTTP Basic auth.
#[must_use]
pub fn basic_auth_header(user: &str, password: &str) -> String {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

/// A real smart-HTTP git server on `127.0.0.1:0`: every request is handed to
/// `git http-backend` (CGI) for the bare repositories under `root`, so fetches, clones
/// and pushes behave as against a hosted forge (hooks run, auth is enforced). It serves
/// one connection at a time, answers `Connection: close`, and stops when dropped.
pub struct HttpGitServer {
    addr: std::net::SocketAddr,
    stop: Arc<std::sync::atomic::AtomicBool>,
    authorizations: Arc<std::sync::Mutex<Vec<String>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HttpGitServer {
    /// Starts serving the bare repos under `root` (`<url>/<name>` is `<root>/<name>`).
    #[must_use]
    pub fn start(root: &Path, auth: HttpAuth) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let authorizations = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (root, flag, log) = (
            root.to_owned(),
            Arc::clone(&stop),
            Arc::clone(&authorizations),
        );
        let thread = std::thread::spawn(move || {
            // Bounded: a test makes a handful of requests.
            for stream in listener.incoming().take(10_000) {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    let _ = serve_one(stream, &root, &auth, &log);
                }
            }
        });
        Self {
            addr,
            stop,
            authorizations,
            thread: Some(thread),
        }
    }

    /// The URL of repository `name` (a directory under the root, e.g. `remote.git`).
    #[must_use]
    pub fn url(&self, name: &str) -> String {
        format!("http://{}/{name}", self.addr)
    }

    /// Every `Authorization` header received so far, in order (`""` when absent).
    #[must_use]
    pub fn authorizations(&self) -> Vec<String> {
        self.authorizations.lock().expect("log lock").clone()
    }
}

impl Drop for HttpGitServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = std::net::TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct HttpRequest {
    method: String,
    path: String,
    query: String,
    headers: std::collections::HashMap<String, String>,
    body: Vec<u8>,
}

fn read_request(stream: &std::net::TcpStream) -> std::io::Result<HttpRequest> {
    use std::io::{BufRead as _, BufReader, Read as _};

    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let target = parts.next().unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers = std::collections::HashMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let mut body = Vec::new();
    if headers
        .get("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk)?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else if let Some(len) = headers.get("content-length").and_then(|v| v.parse().ok()) {
        body.resize(len, 0);
        reader.read_exact(&mut body)?;
    }
    Ok(HttpRequest {
        method,
        path: path.to_owned(),
        query: query.to_owned(),
        headers,
        body,
    })
}

fn serve_one(
    mut stream: std::net::TcpStream,
    root: &Path,
    auth: &HttpAuth,
    log: &std::sync::Mutex<Vec<String>>,
) -> std::io::Result<()> {
    use std::io::Write as _;

    stream.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
    let req = read_request(&stream)?;
    let authorization = req
        .headers
        .get("authorization")
        .cloned()
        .unwrap_or_default();
    log.lock().expect("log lock").push(authorization.clone());
    let is_push = req.query.contains("git-receive-pack") || req.path.ends_with("/git-receive-pack");
    let required = match auth {
        HttpAuth::None => None,
        HttpAuth::Basic { user, password } => Some((user, password)),
        HttpAuth::BasicForPush { user, password } => is_push.then_some((user, password)),
    };
    if let Some((user, password)) = required
        && authorization != basic_auth_header(user, password)
    {
        return stream.write_all(
            b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"upkeep-test\"\r\n\
              Content-Length: 0\r\nConnection: close\r\n\r\n",
        );
    }
    let response = run_http_backend(root, req)?;
    stream.write_all(&response)
}

/// Runs `git http-backend` for one request and turns its CGI output into a response.
fn run_http_backend(root: &Path, req: HttpRequest) -> std::io::Result<Vec<u8>> {
    let (status, headers, payload) = http_backend(root, req)?;
    let mut head = format!("HTTP/1.1 {status}\r\n");
    for (name, value) in headers {
        head.push_str(&name);
        head.push_str(": ");
        head.push_str(&value);
        head.push_str("\r\n");
    }
    let mut response = format!(
        "{head}Content-Length: {}\r\nConnection: close\r\n\r\n",
        payload.len()
    )
    .into_bytes();
    response.extend_from_slice(&payload);
    Ok(response)
}

/// Runs `git http-backend` (CGI) for one request: the status line's `<code> <reason>`,
/// the headers and the body.
#[allow(clippy::type_complexity)]
fn http_backend(
    root: &Path,
    req: HttpRequest,
) -> std::io::Result<(String, Vec<(String, String)>, Vec<u8>)> {
    use std::io::Write as _;

    let mut cgi = Command::new("git");
    cgi.arg("http-backend")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GIT_CONFIG_COUNT", "1")
        .env("GIT_CONFIG_KEY_0", "http.receivepack")
        .env("GIT_CONFIG_VALUE_0", "true")
        .env("REQUEST_METHOD", &req.method)
        .env("PATH_INFO", &req.path)
        .env("QUERY_STRING", &req.query)
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("REMOTE_USER", "upkeep-test")
        .env("CONTENT_LENGTH", req.body.len().to_string())
        .env(
            "CONTENT_TYPE",
            req.headers.get("content-type").cloned().unwrap_or_default(),
        )
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    if let Some(enc) = req.headers.get("content-encoding") {
        cgi.env("HTTP_CONTENT_ENCODING", enc);
    }
    if let Some(proto) = req.headers.get("git-protocol") {
        cgi.env("GIT_PROTOCOL", proto);
    }
    let mut child = cgi.spawn()?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let body = req.body;
    let writer = std::thread::spawn(move || stdin.write_all(&body));
    let output = child.wait_with_output()?;
    let _ = writer.join();

    let raw = output.stdout;
    let (head_end, body_start) = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, i + 4))
        .or_else(|| {
            raw.windows(2)
                .position(|w| w == b"\n\n")
                .map(|i| (i, i + 2))
        })
        .unwrap_or((raw.len(), raw.len()));
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let mut status = "200 OK".to_owned();
    let mut headers = Vec::new();
    for line in head.lines() {
        if let Some(s) = line.strip_prefix("Status:") {
            s.trim().clone_into(&mut status);
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    Ok((status, headers, raw[body_start..].to_vec()))
}

/// A smart-HTTP git server like [`HttpGitServer`] (anonymous; anyone may push), whose
/// requests go through [`Faults`](crate::faults::Faults): a test scripts what the next
/// requests get — a 5xx, a connection dropped before the server did anything
/// ([`Fault::DropBeforeHandling`](crate::faults::Fault::DropBeforeHandling)), or one
/// dropped after it did ([`Fault::DropAfterHandling`](crate::faults::Fault::DropAfterHandling):
/// `receive-pack` updated the ref, the pusher never hears so). Endpoints are the literal
/// paths git requests, e.g. `Endpoint::get("/state.git/info/refs")`,
/// `Endpoint::post("/state.git/git-upload-pack")`,
/// `Endpoint::post("/state.git/git-receive-pack")`. Serves from its own runtime, so
/// plain (non-async) tests can use it; stops when dropped.
pub struct FaultyGitServer {
    addr: std::net::SocketAddr,
    faults: crate::faults::Faults,
    _runtime: tokio::runtime::Runtime,
}

impl FaultyGitServer {
    /// Starts serving the bare repos under `root` (`<url>/<name>` is `<root>/<name>`).
    #[must_use]
    pub fn start(root: &Path) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let faults = crate::faults::Faults::new();
        let root = Arc::new(root.to_owned());
        let router = faults.wrap(
            axum::Router::new()
                .route("/{*path}", axum::routing::any(serve_git))
                .with_state(root),
        );
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        runtime.spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self {
            addr,
            faults,
            _runtime: runtime,
        }
    }

    /// The URL of repository `name` (a directory under the root, e.g. `remote.git`).
    #[must_use]
    pub fn url(&self, name: &str) -> String {
        format!("http://{}/{name}", self.addr)
    }

    /// The fault script and request log.
    #[must_use]
    pub fn faults(&self) -> &crate::faults::Faults {
        &self.faults
    }
}

async fn serve_git(
    axum::extract::State(root): axum::extract::State<Arc<PathBuf>>,
    request: axum::extract::Request,
) -> axum::response::Response {
    let path = request.uri().path().to_owned();
    git_http_backend(root, path, request).await
}

/// Answers one smart-HTTP git request with `git http-backend` for the bare repositories
/// under `root`, `path_info` naming the repository and the service
/// (`/name.git/info/refs`). Authentication is the caller's.
pub(crate) async fn git_http_backend(
    root: Arc<PathBuf>,
    path_info: String,
    request: axum::extract::Request,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
        return axum::http::StatusCode::BAD_REQUEST.into_response();
    };
    let req = HttpRequest {
        method: parts.method.to_string(),
        path: path_info,
        query: parts.uri.query().unwrap_or_default().to_owned(),
        headers: parts
            .headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect(),
        body: body.to_vec(),
    };
    let answer = tokio::task::spawn_blocking(move || http_backend(&root, req)).await;
    let Ok(Ok((status, headers, payload))) = answer else {
        return axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let code = status
        .split_whitespace()
        .next()
        .and_then(|c| c.parse().ok())
        .and_then(|c| axum::http::StatusCode::from_u16(c).ok())
        .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (code, payload).into_response();
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            axum::http::HeaderName::from_bytes(name.as_bytes()),
            axum::http::HeaderValue::from_str(&value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

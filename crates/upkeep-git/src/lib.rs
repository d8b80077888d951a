//! Git operations for upkeep, built on [`git2`].
//!
//! Every upkeep job is, underneath, a handful of git operations on repositories the team
//! owns: keep a cached clone fresh ([`ensure_clone`]), make a branch and commit the
//! upgrade ([`Repo::checkout_new_branch`], [`Repo::commit_all`]), push it or move
//! `stable` without ever clobbering somebody else's push ([`Repo::push`] with
//! [`Expect`]), compare two revisions ([`Repo::ahead_behind`],
//! [`Repo::commits_between`]) and read lockfiles at a revision ([`Repo::read_file_at`]).
//! This crate does those and nothing else, so that the job crates read as policy.
//!
//! Why it is shaped so:
//! - **git2 in-process** for everything it can do (reads, commits, fetch, clone): no
//!   parsing of porcelain output, no dependence on the user's git config. **Pushes go
//!   through the `git` CLI** because libgit2 has no push-with-lease, and its local
//!   transport writes refs directly instead of running the server's `receive-pack`, so
//!   server-side hooks and the server's compare-and-swap would be skipped for
//!   path/`file://` remotes (see [`push`](Repo::push)).
//! - **Errors say what was being done** ([`Error`]): which repo, URL, ref, revision or path.
//!   Remote URLs carrying credentials are refused ([`Error::CredentialsInUrl`]); tokens
//!   travel only through credential callbacks ([`Credentials`]) and never reach a URL,
//!   `.git/config`, an error or a log line.
//! - **Revisions** are taken as anything implementing [`Rev`] (`&str`, `String`, [`Oid`]),
//!   so callers holding names or ids use the same methods.
//!
//! The crate never prints and never reads the environment; progress goes to `tracing`.

mod cache;
mod credentials;
mod error;
mod objects;
mod push;
mod remote;
mod repo;

pub use cache::{SyncAction, SyncReport, cache_dir_name, ensure_clone};
pub use credentials::{
    Credentials, DEFAULT_TOKEN_USERNAME, SshAuth, checked_remote_url, local_repo_path,
    may_send_token,
};
pub use error::{Error, Result};
pub use objects::is_valid_ref_name;
pub use push::{Expect, PushMode, PushOutcome, PushRequest, RefOutcome, RefStatus, RefUpdate};
pub use remote::{FetchStats, ls_remote};
pub use repo::{Author, CommitInfo, Repo, Rev, Tag};

/// A git object id (re-exported from git2 so callers need no git2 dependency).
pub use git2::Oid;

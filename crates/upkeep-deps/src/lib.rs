//! Dependency diffs across ecosystems: what changed between two lockfiles, classified
//! by each ecosystem's version scheme.
//!
//! The maintenance round puts a table of these changes in every pull request and
//! posts the major upgrades to the team, and the team's projects use many package
//! managers. So this crate turns lockfile *bytes* into neutral [`Package`] lists,
//! pairs old and new, and classifies each [`Change`] — with no network and no
//! printing. The core is pure; the only I/O is the small [`fs`] module (a directory
//! walker); revisions of a repository come in through the [`TreeSource`] trait, which
//! the caller implements over `upkeep-git`, so this crate does not depend on git.
//!
//! ```
//! use upkeep_deps::{ChangeKind, diff_lockfiles, parse_lockfile};
//!
//! let old = parse_lockfile("Cargo.lock", br#"
//! [[package]]
//! name = "app"
//! version = "0.1.0"
//! dependencies = ["serde"]
//!
//! [[package]]
//! name = "serde"
//! version = "0.9.15"
//! source = "registry+https://github.com/rust-lang/crates.io-index"
//! "#, &[])?;
//! let new = parse_lockfile("Cargo.lock", br#"
//! [[package]]
//! name = "app"
//! version = "0.1.0"
//! dependencies = ["serde"]
//!
//! [[package]]
//! name = "serde"
//! version = "1.0.210"
//! source = "registry+https://github.com/rust-lang/crates.io-index"
//! "#, &[])?;
//! let diff = diff_lockfiles(&old, &new);
//! assert_eq!(diff.changes[0].kind, ChangeKind::Major);
//! assert!(diff.changes[0].likely_breaking);
//! assert_eq!(diff.changes[0].direct, Some(true));
//! # Ok::<(), upkeep_deps::FileError>(())
//! ```
//!
//! Supported files, the version schemes and the pairing rule for packages present at
//! several versions are described in [`parse`](parse_lockfile), [`version`] and
//! [`diff_packages`].

mod diff;
pub mod fs;
mod model;
mod parse;
mod render;
mod tree;
pub mod version;

use std::path::PathBuf;

pub use diff::{diff_lockfiles, diff_packages};
pub use model::{
    Change, ChangeKind, DiffReport, Ecosystem, FileError, Lockfile, LockfileDiff, LockfileKind,
    Package, Side,
};
pub use parse::{Sibling, detect, parse_as, parse_lockfile, sibling_paths};
pub use render::{
    escape_markdown, registry_url, render_json, render_markdown, render_markdown_within,
    render_text,
};
pub use tree::{SourceError, TreeSource, diff_trees};

/// Why a whole diff could not be made (a single bad lockfile is not one of these: it
/// goes into [`DiffReport::errors`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Listing the files of one side failed.
    #[error("cannot list the files of the {side} tree")]
    ListFiles {
        /// Which tree.
        side: Side,
        /// What the tree source said.
        #[source]
        source: SourceError,
    },
    /// A directory to diff is not a directory.
    #[error("{} is not a directory", path.display())]
    NotADirectory {
        /// The path given.
        path: PathBuf,
    },
    /// A lockfile to diff could not be read.
    #[error("cannot read {}", path.display())]
    ReadFile {
        /// The path given.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Neither file name is a supported lockfile name.
    #[error("{} is not a supported lockfile name", path.display())]
    UnknownLockfile {
        /// The new file's path.
        path: PathBuf,
    },
}

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

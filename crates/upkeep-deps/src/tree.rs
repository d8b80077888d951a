//! Diffing two trees (directories, or a repository at two revisions) lockfile by
//! lockfile, through a small trait so this crate needs neither git nor a file system.

use std::collections::BTreeSet;

use crate::diff::diff_lockfiles;
use crate::model::{DiffReport, FileError, Lockfile, Side};
use crate::parse::{Sibling, detect, parse_lockfile, sibling_paths};
use crate::{Error, Result};

/// The error a [`TreeSource`] returns.
pub type SourceError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A tree of files: a directory, or a repository at one revision.
///
/// `upkeep-maintain` implements it over `upkeep-git` (files at a revision); the
/// [`crate::fs`] module implements it over a directory.
pub trait TreeSource {
    /// Every file of the tree, as `/`-separated paths relative to its root. Files the
    /// repository ignores should not be listed (git revisions never contain them).
    fn list_files(&self) -> std::result::Result<Vec<String>, SourceError>;

    /// A file's contents, `Ok(None)` when it does not exist.
    fn read_file(&self, path: &str) -> std::result::Result<Option<Vec<u8>>, SourceError>;
}

/// Diffs every supported lockfile of two trees, paired by path.
///
/// A lockfile only in `new` reports all its packages as added, one only in `old` as
/// removed. A lockfile that cannot be read or parsed on either side becomes an entry in
/// [`DiffReport::errors`] (with the position) and is not diffed; the others still are.
/// Only listing a tree can fail the whole diff.
pub fn diff_trees(old: &dyn TreeSource, new: &dyn TreeSource) -> Result<DiffReport> {
    let old_files = old.list_files().map_err(|source| Error::ListFiles {
        side: Side::Old,
        source,
    })?;
    let new_files = new.list_files().map_err(|source| Error::ListFiles {
        side: Side::New,
        source,
    })?;
    let old_set: BTreeSet<&str> = old_files.iter().map(String::as_str).collect();
    let new_set: BTreeSet<&str> = new_files.iter().map(String::as_str).collect();
    let lockfiles: BTreeSet<&str> = old_set
        .iter()
        .chain(&new_set)
        .copied()
        .filter(|p| detect(p).is_some())
        .collect();

    let mut report = DiffReport::default();
    for path in lockfiles {
        let old_lock = load(old, Side::Old, path, old_set.contains(path));
        let new_lock = load(new, Side::New, path, new_set.contains(path));
        match (old_lock, new_lock) {
            (Ok(o), Ok(n)) => {
                let empty = |l: &Option<Lockfile>, other: &Option<Lockfile>| {
                    l.clone().or_else(|| {
                        other.as_ref().map(|x| Lockfile {
                            packages: Vec::new(),
                            ..x.clone()
                        })
                    })
                };
                if let (Some(o2), Some(n2)) = (empty(&o, &n), empty(&n, &o)) {
                    let diff = diff_lockfiles(&o2, &n2);
                    if !diff.changes.is_empty() {
                        report.lockfiles.push(diff);
                    }
                }
            }
            (o, n) => {
                report.errors.extend(o.err());
                report.errors.extend(n.err());
            }
        }
    }
    Ok(report)
}

/// Reads and parses one lockfile of one side; `Ok(None)` when it is not there.
fn load(
    tree: &dyn TreeSource,
    side: Side,
    path: &str,
    listed: bool,
) -> std::result::Result<Option<Lockfile>, FileError> {
    let error = |message: String| FileError {
        path: path.to_owned(),
        side: Some(side),
        line: None,
        column: None,
        message,
    };
    if !listed {
        return Ok(None);
    }
    let Some(contents) = tree
        .read_file(path)
        .map_err(|e| error(format!("cannot read: {e}")))?
    else {
        return Ok(None);
    };
    let mut siblings = Vec::new();
    for sibling in sibling_paths(path) {
        // A manifest that cannot be read only costs the direct/transitive marks.
        if let Ok(Some(bytes)) = tree.read_file(&sibling) {
            let name = sibling.rsplit('/').next().unwrap_or(&sibling).to_owned();
            siblings.push((name, bytes));
        }
    }
    let siblings: Vec<Sibling<'_>> = siblings
        .iter()
        .map(|(name, bytes)| Sibling {
            name,
            contents: bytes,
        })
        .collect();
    parse_lockfile(path, &contents, &siblings)
        .map(Some)
        .map_err(|mut e| {
            e.side = Some(side);
            e
        })
}

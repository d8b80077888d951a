//! The only I/O in this crate: a [`TreeSource`] over a directory, and diffs of two
//! directories or two lockfiles on disk.

use std::path::{Path, PathBuf};

use crate::model::DiffReport;
use crate::parse::detect;
use crate::tree::{SourceError, TreeSource, diff_trees};
use crate::{Error, Result};

/// A directory as a [`TreeSource`]: lists files the way git would see them, honouring
/// `.gitignore` (also outside a git repository), `.git/info/exclude` and the global
/// excludes file, and never descending into `.git` or `node_modules`.
#[derive(Debug, Clone)]
pub struct DirTree {
    root: PathBuf,
}

impl DirTree {
    /// A tree rooted at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }
}

impl TreeSource for DirTree {
    fn list_files(&self) -> std::result::Result<Vec<String>, SourceError> {
        if !self.root.is_dir() {
            return Err(format!("{} is not a directory", self.root.display()).into());
        }
        let walker = ignore::WalkBuilder::new(&self.root)
            .hidden(false)
            .require_git(false)
            .filter_entry(|e| {
                let name = e.file_name();
                name != ".git" && name != "node_modules"
            })
            .build();
        let mut files = Vec::new();
        for entry in walker {
            let entry = entry?;
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                continue;
            }
            let Ok(relative) = entry.path().strip_prefix(&self.root) else {
                continue;
            };
            let parts: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            files.push(parts.join("/"));
        }
        files.sort();
        Ok(files)
    }

    fn read_file(&self, path: &str) -> std::result::Result<Option<Vec<u8>>, SourceError> {
        match fs_err::read(self.root.join(path)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// Diffs every supported lockfile under two directories, paired by relative path.
pub fn diff_dirs(old: &Path, new: &Path) -> Result<DiffReport> {
    for dir in [old, new] {
        if !dir.is_dir() {
            return Err(Error::NotADirectory {
                path: dir.to_path_buf(),
            });
        }
    }
    diff_trees(&DirTree::new(old), &DirTree::new(new))
}

/// One lockfile (already read) seen as a tree holding just that file, with its
/// siblings read from its directory.
struct SingleFile {
    /// The name both sides share in the report.
    logical: String,
    contents: Vec<u8>,
    actual: PathBuf,
}

impl TreeSource for SingleFile {
    fn list_files(&self) -> std::result::Result<Vec<String>, SourceError> {
        Ok(vec![self.logical.clone()])
    }

    fn read_file(&self, path: &str) -> std::result::Result<Option<Vec<u8>>, SourceError> {
        if path == self.logical {
            return Ok(Some(self.contents.clone()));
        }
        let name = path.rsplit('/').next().unwrap_or(path);
        match fs_err::read(self.actual.with_file_name(name)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// Diffs two lockfiles on disk, reading each one's manifest from its own directory.
///
/// The format comes from the new file's name, or the old one's when the new name is
/// not a lockfile name (`old/Cargo.lock` vs `/tmp/x`). Both files must be readable.
pub fn diff_files(old: &Path, new: &Path) -> Result<DiffReport> {
    let read = |path: &Path| {
        fs_err::read(path).map_err(|source| Error::ReadFile {
            path: path.to_path_buf(),
            source,
        })
    };
    let (old_contents, new_contents) = (read(old)?, read(new)?);
    let display = |p: &Path| p.to_string_lossy().replace('\\', "/");
    let logical = [new, old]
        .into_iter()
        .map(display)
        .find(|p| detect(p).is_some())
        .ok_or_else(|| Error::UnknownLockfile {
            path: new.to_path_buf(),
        })?;
    diff_trees(
        &SingleFile {
            logical: logical.clone(),
            contents: old_contents,
            actual: old.to_path_buf(),
        },
        &SingleFile {
            logical,
            contents: new_contents,
            actual: new.to_path_buf(),
        },
    )
}

//! Files the upkeep way, written once for every crate that keeps a file: a journal, a
//! note of a promotion in progress, the local forge's records.
//!
//! A process can be killed at any moment (a cancelled CI job, a SIGKILL). A file
//! written in place is then half-written, and the next run reads garbage or nothing. So
//! [`write_atomic`] writes a temporary file in the same directory, syncs it, renames it
//! over the target and syncs the directory: after a crash the file holds either the old
//! content or the new, whole, and the rename itself survives a power cut.

use std::io::Write as _;
use std::path::Path;

/// Writes `bytes` to `path` so that a crash leaves either the old file or the new one,
/// whole. Creates the parent directory if needed. A failed write leaves no temporary
/// file behind.
///
/// # Errors
/// The I/O error, with the path it concerns in its message.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    fs_err::create_dir_all(dir)?;
    // Dropped on any error before `persist`, which removes the temporary file.
    let mut tmp = tempfile::Builder::new()
        .prefix(".upkeep-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| with_path(&e, "create a temporary file in", dir))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| with_path(&e, "write", tmp.path()))?;
    tmp.persist(path)
        .map_err(|e| with_path(&e.error, "replace", path))?;
    fs_err::File::open(dir)?.sync_all()
}

fn with_path(error: &std::io::Error, doing: &str, path: &Path) -> std::io::Error {
    std::io::Error::new(
        error.kind(),
        format!("failed to {doing} {}: {error}", path.display()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_whole_files_and_leaves_no_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/state.json");
        write_atomic(&path, b"first").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(fs_err::read(&path).unwrap(), b"second");
        let names: Vec<_> = fs_err::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["state.json"]);
    }

    #[test]
    fn a_failed_replace_keeps_the_old_file_and_removes_the_temporary() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where the file should go: the rename fails.
        let target = dir.path().join("taken");
        fs_err::create_dir(&target).unwrap();
        fs_err::write(target.join("inside"), b"kept").unwrap();
        let error = write_atomic(&target, b"new").unwrap_err();
        assert!(error.to_string().contains("taken"), "{error}");
        assert_eq!(fs_err::read(target.join("inside")).unwrap(), b"kept");
        let names: Vec<_> = fs_err::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["taken"]);
    }
}

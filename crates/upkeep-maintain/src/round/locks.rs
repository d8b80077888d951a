//! One pipeline per clone: advisory file locks.

/// Why a lock was not taken.
pub(super) enum LockError {
    /// Another process holds it.
    Busy(std::path::PathBuf),
    /// The lock file could not be created.
    Io(std::path::PathBuf, std::io::Error),
}

/// An exclusive advisory lock on `path` (created if missing), held until dropped; `wait`
/// blocks until it is free, otherwise a held lock is [`LockError::Busy`].
pub(super) fn lock_file(
    path: &std::path::Path,
    wait: bool,
) -> std::result::Result<std::fs::File, LockError> {
    let io = |e| LockError::Io(path.to_owned(), e);
    if let Some(parent) = path.parent() {
        fs_err::create_dir_all(parent).map_err(io)?;
    }
    let file = fs_err::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io)?
        .into_file();
    if wait {
        file.lock().map_err(io)?;
    } else {
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(LockError::Busy(path.to_owned())),
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::{LockError, lock_file};

    #[test]
    fn a_lock_is_held_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/x.lock");
        let held = lock_file(&path, false).ok().unwrap();
        assert!(matches!(lock_file(&path, false), Err(LockError::Busy(_))));
        drop(held);
        assert!(lock_file(&path, false).is_ok(), "free again once released");
    }
}

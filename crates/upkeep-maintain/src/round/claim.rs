//! One process per round, one pipeline per clone: advisory file locks.

use crate::{Error, Result};

/// Checks the round id (it names files) and takes the round's lock. Two processes
/// running one round would rewrite each other's journal and reap each other's steps: the
/// second one stops here. (A dry run writes no journal, but it uses the same clones and
/// logs, so it takes the lock too.)
pub(super) fn claim_round(id: &str, journal_file: &std::path::Path) -> Result<std::fs::File> {
    let valid_id = !id.is_empty()
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid_id {
        return Err(Error::InvalidRoundId {
            round: id.to_owned(),
        });
    }
    lock_file(&journal_file.with_extension("lock"), false).map_err(|e| match e {
        LockError::Busy(lock) => Error::RoundBusy {
            round: id.to_owned(),
            lock,
        },
        LockError::Io(path, source) => Error::Lock { path, source },
    })
}

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
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io)?;
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
mod claim_tests {
    use super::{Error, claim_round};

    #[test]
    fn a_round_runs_in_one_process_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("2026-11-22.json");
        let held = claim_round("2026-11-22", &journal).unwrap();
        assert!(matches!(
            claim_round("2026-11-22", &journal),
            Err(Error::RoundBusy { .. })
        ));
        drop(held);
        assert!(
            claim_round("2026-11-22", &journal).is_ok(),
            "free again once released"
        );
    }

    #[test]
    fn round_ids_cannot_escape_their_directories() {
        let dir = tempfile::tempdir().unwrap();
        for id in ["../../x", "a/b", "", ".hidden", "a\\b"] {
            let journal = dir.path().join("j.json");
            assert!(
                matches!(claim_round(id, &journal), Err(Error::InvalidRoundId { .. })),
                "{id:?}"
            );
        }
    }
}

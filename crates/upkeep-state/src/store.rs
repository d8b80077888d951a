//! The store trait and the helpers every store gets.

use std::fmt;

use crate::{Cas, Error, Expected, Key, Record, Result, Version};

/// How often [`StateStoreExt::update`] re-reads and tries again after losing a race.
/// Every retry means somebody else's write landed, so this bounds contention, not luck.
pub const MAX_UPDATE_ATTEMPTS: u32 = 32;

/// Versioned records under keys, changed only by compare-and-swap.
///
/// Implementations: [`LocalStore`](crate::LocalStore) (a directory) and
/// [`GitStore`](crate::GitStore) (one ref per key in a git repository). Both pass the
/// same behaviour suite. Methods block (file system, network, `git push`); async callers
/// run them with `tokio::task::spawn_blocking`. The trait is object safe: hold an
/// `Arc<dyn StateStore>`.
pub trait StateStore: Send + Sync + fmt::Debug {
    /// Where the records live, for messages: `directory /var/lib/upkeep/state`,
    /// `git repository https://git.example.com/team/state.git`. Never holds a secret.
    fn location(&self) -> String;

    /// The record under `key`, or `None`.
    fn read(&self, key: &Key) -> Result<Option<Record>>;

    /// Every record whose key is `prefix` or starts with `prefix/` (segment-wise), sorted
    /// by key. The git store answers with one listing of the remote's refs and at most
    /// one fetch.
    fn list(&self, prefix: &Key) -> Result<Vec<Record>>;

    /// Writes `value` under `key` if the record is what `expected` says, and returns the
    /// new record; otherwise changes nothing and returns the current one.
    fn write(&self, key: &Key, expected: &Expected, value: &[u8]) -> Result<Cas<Record>>;

    /// Deletes the record under `key` if it is at `expected`; otherwise changes nothing
    /// and returns the current one (`current: None`: there is nothing to delete).
    fn delete(&self, key: &Key, expected: &Version) -> Result<Cas<()>>;
}

/// Helpers on top of the five primitives, for every store (including `dyn StateStore`).
pub trait StateStoreExt: StateStore {
    /// [`StateStore::write`] of `value` as JSON.
    fn write_json<T: serde::Serialize + ?Sized>(
        &self,
        key: &Key,
        expected: &Expected,
        value: &T,
    ) -> Result<Cas<Record>> {
        let bytes = serde_json::to_vec_pretty(value).map_err(|source| Error::Json {
            key: key.to_string(),
            source,
        })?;
        self.write(key, expected, &bytes)
    }

    /// Read-modify-write: calls `change` with the current record (or `None`) and writes
    /// what it returns compare-and-swap on what was read; on a conflict, calls `change`
    /// again with the newer record. `change` returning `None` leaves the record as it is
    /// and returns it. Gives up with [`Error::Contended`] after
    /// [`MAX_UPDATE_ATTEMPTS`] lost races.
    fn update(
        &self,
        key: &Key,
        mut change: impl FnMut(Option<&Record>) -> Result<Option<Vec<u8>>>,
    ) -> Result<Option<Record>> {
        let mut current = self.read(key)?;
        for _ in 0..MAX_UPDATE_ATTEMPTS {
            let Some(value) = change(current.as_ref())? else {
                return Ok(current);
            };
            match self.write(key, &Expected::from_current(current.as_ref()), &value)? {
                Cas::Done(record) => return Ok(Some(record)),
                Cas::Conflict { current: newer } => current = newer,
            }
        }
        Err(Error::Contended {
            key: key.to_string(),
            attempts: MAX_UPDATE_ATTEMPTS,
        })
    }
}

impl<S: StateStore + ?Sized> StateStoreExt for S {}

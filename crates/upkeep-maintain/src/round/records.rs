//! The records of the projects a runner works, written behind.
//!
//! A project's record changes a dozen times in a pipeline (each stage, each step). Writing
//! every change through (an fsync, or a `git push` to the state repository) would put the
//! store on every project's path. Instead a change is applied in memory and the record is
//! marked dirty; a background task writes dirty records after a short delay, so a burst
//! of changes costs one write. The pipeline writes a record through ([`Records::persist`])
//! only where resuming depends on it: before it pushes, opens or posts, and when it ends.
//!
//! Killed at any moment, a runner leaves each record as of its last write: at worst a
//! stage or a step result behind, which a re-run redoes (the forge's upsert and the
//! chat's find-or-update keep that from doubling anything). What a re-run skips — a
//! project that ended, a message that was posted — is always written through first.
//!
//! Every write is compare-and-swap on the version this runner last read or wrote. A
//! conflict means another runner took the project over: the record is not written, and
//! the project's `lost` token is cancelled so its pipeline stops.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use upkeep_state::{Cas, Expected, Key, Record, StateStore};

use crate::journal::{JournalError, ProjectRecord, keys};

struct Slot {
    key: Key,
    record: ProjectRecord,
    /// Raised by every change.
    generation: u64,
    /// The generation the store holds.
    durable: u64,
    /// The version the store holds, as last read or written by this runner.
    expected: Expected,
    lost: CancellationToken,
    /// One write of this record at a time, in generation order.
    writer: Arc<tokio::sync::Mutex<()>>,
}

/// The records of the projects this runner works.
pub(crate) struct Records {
    /// `None` in a dry run: records live in memory only.
    store: Option<Arc<dyn StateStore>>,
    round: String,
    delay: Duration,
    slots: Mutex<BTreeMap<String, Slot>>,
    wake: tokio::sync::Notify,
}

impl Records {
    /// Records of `round` in `store` (`None`: in memory only), written behind after
    /// `delay`.
    pub(crate) fn new(store: Option<Arc<dyn StateStore>>, round: &str, delay: Duration) -> Self {
        Self {
            store,
            round: round.to_owned(),
            delay,
            slots: Mutex::new(BTreeMap::new()),
            wake: tokio::sync::Notify::new(),
        }
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Slot>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts tracking `name` from `current`, its record as just read from the store
    /// (after claiming it). `lost` is cancelled if another runner writes it.
    pub(crate) fn adopt(
        &self,
        name: &str,
        current: Option<&Record>,
        lost: CancellationToken,
    ) -> Result<ProjectRecord, JournalError> {
        let key = keys::project(&self.round, name)?;
        let record: ProjectRecord = match current {
            Some(r) => serde_json::from_slice(&r.value).map_err(|source| JournalError::Parse {
                key: key.to_string(),
                location: self
                    .store
                    .as_ref()
                    .map_or_else(|| "memory".to_owned(), |s| s.location()),
                source,
            })?,
            None => ProjectRecord::default(),
        };
        self.slots().insert(
            name.to_owned(),
            Slot {
                key,
                record: record.clone(),
                generation: 0,
                durable: 0,
                expected: Expected::from_current(current),
                lost,
                writer: Arc::new(tokio::sync::Mutex::new(())),
            },
        );
        Ok(record)
    }

    /// A copy of one project's record (the default for one not tracked).
    pub(crate) fn project(&self, name: &str) -> ProjectRecord {
        self.slots()
            .get(name)
            .map(|s| s.record.clone())
            .unwrap_or_default()
    }

    /// Every tracked record.
    pub(crate) fn snapshot(&self) -> BTreeMap<String, ProjectRecord> {
        self.slots()
            .iter()
            .map(|(k, s)| (k.clone(), s.record.clone()))
            .collect()
    }

    /// Whether another runner took `name` over.
    pub(crate) fn is_lost(&self, name: &str) -> bool {
        self.slots()
            .get(name)
            .is_some_and(|s| s.lost.is_cancelled())
    }

    /// Applies `change` to the project's record; it is written behind. A project lost to
    /// another runner is left alone.
    pub(crate) fn update_project(
        &self,
        name: &str,
        change: impl FnOnce(&mut ProjectRecord),
    ) -> Result<(), JournalError> {
        {
            let mut slots = self.slots();
            if !slots.contains_key(name) {
                let key = keys::project(&self.round, name)?;
                slots.insert(
                    name.to_owned(),
                    Slot {
                        key,
                        record: ProjectRecord::default(),
                        generation: 0,
                        durable: 0,
                        expected: Expected::Absent,
                        lost: CancellationToken::new(),
                        writer: Arc::new(tokio::sync::Mutex::new(())),
                    },
                );
            }
            let Some(slot) = slots.get_mut(name) else {
                return Ok(());
            };
            if slot.lost.is_cancelled() {
                return Ok(());
            }
            change(&mut slot.record);
            slot.generation += 1;
        }
        if self.store.is_some() {
            self.wake.notify_one();
        }
        Ok(())
    }

    /// Writes the project's record through now, if it changed since the last write.
    pub(crate) async fn persist(&self, name: &str) -> Result<(), JournalError> {
        let Some(store) = self.store.clone() else {
            return Ok(());
        };
        let Some(writer) = self.slots().get(name).map(|s| s.writer.clone()) else {
            return Ok(());
        };
        let _writing = writer.lock().await;
        let (key, bytes, generation, expected) = {
            let slots = self.slots();
            let Some(slot) = slots.get(name) else {
                return Ok(());
            };
            if slot.lost.is_cancelled() || slot.generation == slot.durable {
                return Ok(());
            }
            let bytes =
                serde_json::to_vec_pretty(&slot.record).map_err(|source| JournalError::Parse {
                    key: slot.key.to_string(),
                    location: store.location(),
                    source,
                })?;
            (
                slot.key.clone(),
                bytes,
                slot.generation,
                slot.expected.clone(),
            )
        };
        let written = {
            let (store, key) = (store.clone(), key.clone());
            tokio::task::spawn_blocking(move || store.write(&key, &expected, &bytes))
                .await
                .map_err(|e| JournalError::Task {
                    detail: e.to_string(),
                })?
        };
        let mut slots = self.slots();
        let Some(slot) = slots.get_mut(name) else {
            return Ok(());
        };
        match written {
            Ok(Cas::Done(record)) => {
                slot.expected = Expected::Version(record.version);
                slot.durable = slot.durable.max(generation);
                Ok(())
            }
            Ok(Cas::Conflict { current }) => {
                let by = current
                    .as_ref()
                    .and_then(|r| serde_json::from_slice::<ProjectRecord>(&r.value).ok())
                    .and_then(|r| r.runner)
                    .unwrap_or_else(|| "another runner".to_owned());
                tracing::warn!(
                    project = name,
                    by,
                    "the project's record was written by another runner; stopping work on it"
                );
                slot.lost.cancel();
                Ok(())
            }
            Err(e) => Err(JournalError::store(
                store.as_ref(),
                format!("write {key}"),
                e,
            )),
        }
    }

    /// Names of the records with changes not yet written.
    fn dirty(&self) -> Vec<String> {
        self.slots()
            .iter()
            .filter(|(_, s)| s.generation != s.durable && !s.lost.is_cancelled())
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Writes every changed record; the first error, after trying them all.
    pub(crate) async fn flush(&self) -> Result<(), JournalError> {
        let mut first = None;
        for name in self.dirty() {
            if let Err(e) = self.persist(&name).await {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// The write-behind task: after a change, waits `delay` for more, then writes every
    /// changed record. Failed writes are retried after the next delay. Ends when `stop`
    /// fires (the round then calls [`Records::flush`] itself).
    pub(crate) async fn write_behind(self: Arc<Self>, stop: CancellationToken) {
        if self.store.is_none() {
            return;
        }
        loop {
            tokio::select! {
                () = self.wake.notified() => {}
                () = stop.cancelled() => return,
            }
            tokio::select! {
                () = tokio::time::sleep(self.delay) => {}
                () = stop.cancelled() => return,
            }
            if let Err(e) = self.flush().await {
                tracing::warn!(error = %upkeep_text::error_chain(&e), "cannot write the round's state yet; trying again");
                self.wake.notify_one();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{Journal, Stage};
    use upkeep_state::{LocalStore, StateStoreExt as _};

    /// Counts writes on the way to a real store.
    #[derive(Debug)]
    struct Counting(LocalStore, std::sync::atomic::AtomicUsize);

    impl StateStore for Counting {
        fn location(&self) -> String {
            self.0.location()
        }
        fn read(&self, key: &Key) -> upkeep_state::Result<Option<Record>> {
            self.0.read(key)
        }
        fn list(&self, prefix: &Key) -> upkeep_state::Result<Vec<Record>> {
            self.0.list(prefix)
        }
        fn write(&self, key: &Key, e: &Expected, v: &[u8]) -> upkeep_state::Result<Cas<Record>> {
            self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            self.0.write(key, e, v)
        }
        fn delete(&self, key: &Key, e: &upkeep_state::Version) -> upkeep_state::Result<Cas<()>> {
            self.0.delete(key, e)
        }
    }

    fn counting() -> (tempfile::TempDir, Arc<Counting>) {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Counting(
            LocalStore::open(dir.path()).unwrap(),
            std::sync::atomic::AtomicUsize::new(0),
        ));
        (dir, store)
    }

    fn writes(store: &Counting) -> usize {
        store.1.load(std::sync::atomic::Ordering::SeqCst)
    }

    #[tokio::test]
    async fn a_burst_of_changes_is_one_write_and_persist_writes_through() {
        let (_dir, store) = counting();
        let records = Arc::new(Records::new(
            Some(store.clone() as Arc<dyn StateStore>),
            "r1",
            Duration::from_millis(50),
        ));
        let stop = CancellationToken::new();
        let behind = tokio::spawn(records.clone().write_behind(stop.clone()));
        records
            .adopt("api", None, CancellationToken::new())
            .unwrap();
        for stage in [Stage::Clone, Stage::Upgrade, Stage::Build, Stage::Test] {
            records.update_project("api", |p| p.stage = stage).unwrap();
        }
        // Written behind, as one write.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while writes(&store) == 0 {
            assert!(std::time::Instant::now() < deadline, "never written");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        records.persist("api").await.unwrap();
        assert_eq!(writes(&store), 1, "nothing changed since: no second write");
        let j = Journal::load(store.as_ref(), "r1").unwrap().unwrap();
        assert_eq!(j.projects["api"].stage, Stage::Test);
        // Written through.
        records
            .update_project("api", |p| p.stage = Stage::Push)
            .unwrap();
        records.persist("api").await.unwrap();
        assert_eq!(writes(&store), 2);
        let j = Journal::load(store.as_ref(), "r1").unwrap().unwrap();
        assert_eq!(j.projects["api"].stage, Stage::Push);
        stop.cancel();
        behind.await.unwrap();
    }

    #[tokio::test]
    async fn a_record_written_by_another_runner_is_lost_not_overwritten() {
        let (_dir, store) = counting();
        let records = Records::new(
            Some(store.clone() as Arc<dyn StateStore>),
            "r1",
            Duration::from_mins(1),
        );
        let lost = CancellationToken::new();
        records.adopt("api", None, lost.clone()).unwrap();
        // Another runner took the project over and wrote its record.
        let theirs = ProjectRecord {
            runner: Some("shard-2/2@elsewhere#1.1.x.1".into()),
            stage: Stage::Build,
            ..ProjectRecord::default()
        };
        let key = keys::project("r1", "api").unwrap();
        assert!(
            store
                .write_json(&key, &Expected::Absent, &theirs)
                .unwrap()
                .is_done()
        );
        records
            .update_project("api", |p| p.stage = Stage::Push)
            .unwrap();
        records.persist("api").await.unwrap();
        assert!(lost.is_cancelled());
        assert!(records.is_lost("api"));
        let j = Journal::load(store.as_ref(), "r1").unwrap().unwrap();
        assert_eq!(j.projects["api"], theirs, "their record stands");
        // Later changes are not written either.
        records
            .update_project("api", |p| p.stage = Stage::Done)
            .unwrap();
        records.flush().await.unwrap();
        assert_eq!(
            Journal::load(store.as_ref(), "r1")
                .unwrap()
                .unwrap()
                .projects["api"],
            theirs
        );
    }
}

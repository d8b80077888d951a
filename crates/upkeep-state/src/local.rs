//! The embedded default: records as files in a directory.
#![expect(
    clippy::disallowed_methods,
    reason = "every error here names its path (Error::Io), and the file locks need std::fs::File"
)]

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write as _};
use std::path::{Path, PathBuf};

use crate::{Cas, Error, Expected, Key, Record, Result, StateStore, Version};

/// The first line of every record file.
const MAGIC: &str = "upkeep-state 1";

/// Records as files under a directory: key `rounds/r1/summary` is the file
/// `<root>/rounds/r1/summary`.
///
/// - **Atomic writes**: a record is written to a temporary file (`<root>/.tmp/`),
///   synced, renamed over the old one, and the directory is synced; a crash leaves the
///   old record or the new one, never half of either.
/// - **Compare-and-swap across processes**: each key has an advisory lock file
///   (`<root>/.locks/`, `flock`); a write or delete takes it, checks the current
///   version, and only then replaces or removes the record. Reads take no lock (a rename
///   is atomic). Different keys have different locks, so writers of different keys never
///   wait for each other.
/// - Names starting with `.` are the store's own; keys never produce such names.
///
/// The directory must be on a local file system (advisory locks over NFS are not to be
/// trusted); it is the default for one machine, where nothing needs to outlive it.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    /// A store in `root`, created if missing. Temporary files that a crashed writer
    /// left behind more than an hour ago are removed.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(|source| Error::Io {
            doing: "create the state directory",
            path: root.clone(),
            source,
        })?;
        remove_stale_temporaries(&root.join(".tmp"));
        Ok(Self { root })
    }

    /// The directory.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path_of(&self, key: &Key) -> PathBuf {
        self.root.join(key.as_str())
    }

    /// Checks that no record sits where a directory of `key` must be, nor a directory
    /// with records where the record must be, and creates the directories.
    fn prepare_dirs(&self, key: &Key) -> Result<PathBuf> {
        let path = self.path_of(key);
        let mut ancestor = key.parent();
        while let Some(k) = ancestor {
            if self.path_of(&k).is_file() {
                return Err(Error::KeyCollides {
                    key: key.to_string(),
                    other: k.to_string(),
                });
            }
            ancestor = k.parent();
        }
        if path.is_dir() {
            // A directory left empty by deletes is no collision.
            remove_empty_dirs(&path, &self.root);
            if path.is_dir() {
                return Err(Error::KeyCollides {
                    key: key.to_string(),
                    other: self
                        .first_record_under(&path)
                        .unwrap_or_else(|| format!("{key}/…")),
                });
            }
        }
        let dir = path.parent().expect("a key path has a parent: the root");
        fs::create_dir_all(dir).map_err(|source| Error::Io {
            doing: "create the directory of",
            path: dir.to_owned(),
            source,
        })?;
        Ok(path)
    }

    fn first_record_under(&self, dir: &Path) -> Option<String> {
        let mut found = Vec::new();
        walk(dir, &mut found).ok()?;
        found.sort();
        found
            .into_iter()
            .next()
            .and_then(|p| self.key_of(&p))
            .map(|k| k.to_string())
    }

    /// Takes the advisory lock of `key` (held until the file is dropped).
    fn lock(&self, key: &Key) -> Result<File> {
        let dir = self.root.join(".locks");
        let io = |doing, path: &Path| {
            let path = path.to_owned();
            move |source| Error::Io {
                doing,
                path,
                source,
            }
        };
        fs::create_dir_all(&dir).map_err(io("create", &dir))?;
        // Readable and short; two keys sharing a lock file would only wait for each other.
        let lock_path = dir.join(upkeep_git::cache_dir_name(key.as_str()));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io("open the lock file", &lock_path))?;
        file.lock().map_err(io("lock", &lock_path))?;
        Ok(file)
    }

    /// Writes `version` + `value` to a synced temporary file and renames it to `path`.
    fn replace(&self, key: &Key, path: &Path, version: &Version, value: &[u8]) -> Result<()> {
        let tmp_dir = self.root.join(".tmp");
        let tmp = tmp_dir.join(format!("{:016x}", rand::random::<u64>()));
        let io = |doing, path: &Path| {
            let path = path.to_owned();
            move |source| Error::Io {
                doing,
                path,
                source,
            }
        };
        fs::create_dir_all(&tmp_dir).map_err(io("create", &tmp_dir))?;
        write_synced(&tmp, version, value).map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io("write", &tmp)(e)
        })?;
        let mut attempts = 0;
        loop {
            match fs::rename(&tmp, path) {
                Ok(()) => break,
                // A delete of a sibling removed the (then empty) directory in between.
                Err(e) if e.kind() == ErrorKind::NotFound && attempts < 8 => {
                    attempts += 1;
                    self.prepare_dirs(key)?;
                }
                Err(e) => {
                    let _ = fs::remove_file(&tmp);
                    return Err(io("write", path)(e));
                }
            }
        }
        sync_dir(path.parent().expect("has a parent")).map_err(io("sync", path))
    }

    fn read_path(&self, key: &Key, path: &Path) -> Result<Option<Record>> {
        let bytes = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::IsADirectory) => {
                return Ok(None);
            }
            // A record in the way of a directory of this key: the key holds nothing.
            Err(e) if e.kind() == ErrorKind::NotADirectory => return Ok(None),
            Err(source) => {
                return Err(Error::Io {
                    doing: "read",
                    path: path.to_owned(),
                    source,
                });
            }
        };
        if path.is_dir() {
            return Ok(None);
        }
        let (version, value) = parse(&bytes).ok_or_else(|| Error::Corrupt {
            key: key.to_string(),
            location: self.location(),
            detail: format!("{} is not an upkeep-state record", path.display()),
        })?;
        Ok(Some(Record {
            key: key.clone(),
            version,
            value,
        }))
    }
}

impl LocalStore {
    fn key_of(&self, path: &Path) -> Option<Key> {
        let relative = path.strip_prefix(&self.root).ok()?;
        let text = relative
            .components()
            .map(|c| c.as_os_str().to_str())
            .collect::<Option<Vec<_>>>()?
            .join("/");
        Key::new(text).ok()
    }
}

impl StateStore for LocalStore {
    fn location(&self) -> String {
        format!("directory {}", self.root.display())
    }

    fn read(&self, key: &Key) -> Result<Option<Record>> {
        self.read_path(key, &self.path_of(key))
    }

    fn list(&self, prefix: &Key) -> Result<Vec<Record>> {
        let base = self.path_of(prefix);
        let mut files = Vec::new();
        if base.is_file() {
            files.push(base);
        } else {
            walk(&base, &mut files)?;
        }
        let mut records = Vec::with_capacity(files.len());
        for path in files {
            // Files that are not keys (put there by hand) are not records of ours.
            let Some(key) = self.key_of(&path) else {
                continue;
            };
            // Deleted between the listing and the read: not there any more.
            if let Some(record) = self.read_path(&key, &path)? {
                records.push(record);
            }
        }
        records.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(records)
    }

    fn write(&self, key: &Key, expected: &Expected, value: &[u8]) -> Result<Cas<Record>> {
        let path = self.prepare_dirs(key)?;
        let _lock = self.lock(key)?;
        let current = self.read_path(key, &path)?;
        if !expected.matches(current.as_ref().map(|r| &r.version)) {
            return Ok(Cas::Conflict { current });
        }
        let version = next_version(current.as_ref().map(|r| &r.version));
        self.replace(key, &path, &version, value)?;
        Ok(Cas::Done(Record {
            key: key.clone(),
            version,
            value: value.to_vec(),
        }))
    }

    fn delete(&self, key: &Key, expected: &Version) -> Result<Cas<()>> {
        let path = self.path_of(key);
        let _lock = self.lock(key)?;
        let current = self.read_path(key, &path)?;
        if current.as_ref().map(|r| &r.version) != Some(expected) {
            return Ok(Cas::Conflict { current });
        }
        let dir = path.parent().expect("has a parent");
        fs::remove_file(&path)
            .and_then(|()| sync_dir(dir))
            .map_err(|source| Error::Io {
                doing: "delete",
                path: path.clone(),
                source,
            })?;
        // Like a deleted ref, a deleted record leaves nothing behind that could collide.
        remove_empty_dirs(dir, &self.root);
        Ok(Cas::Done(()))
    }
}

/// How old a temporary file must be before [`LocalStore::open`] takes it for a crashed
/// writer's: far longer than any write takes.
const STALE_TEMPORARY: std::time::Duration = std::time::Duration::from_hours(1);

/// Best effort: a temporary file is renamed away within milliseconds of its creation,
/// so one an hour old belongs to a writer that died.
fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_TEMPORARY);
        if stale {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Removes `dir` and its parents below `root` while they are empty (best effort: a
/// concurrent writer may be filling one again, and then it stays).
fn remove_empty_dirs(dir: &Path, root: &Path) {
    let mut dir = dir.to_owned();
    while dir != root && dir.starts_with(root) && fs::remove_dir(&dir).is_ok() {
        if !dir.pop() {
            break;
        }
    }
}

/// `<writes>-<random>`: the counter makes versions readable, the random part makes them
/// unique even after a delete restarts the counter.
fn next_version(previous: Option<&Version>) -> Version {
    let count = previous
        .and_then(|v| v.as_str().split_once('-'))
        .and_then(|(n, _)| n.parse::<u64>().ok())
        .unwrap_or(0);
    Version::new(format!("{}-{:016x}", count + 1, rand::random::<u64>()))
}

fn write_synced(path: &Path, version: &Version, value: &[u8]) -> std::io::Result<()> {
    let mut file = OpenOptions::new().write(true).create_new(true).open(path)?;
    write!(file, "{MAGIC}\nversion {version}\n\n")?;
    file.write_all(value)?;
    file.sync_all()
}

/// Collects the record files under `dir`, skipping the store's own dot files.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(Error::Io {
                doing: "list",
                path: dir.to_owned(),
                source,
            });
        }
    };
    for entry in entries {
        let entry = entry.map_err(|source| Error::Io {
            doing: "list",
            path: dir.to_owned(),
            source,
        })?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        let file_type = entry.file_type().map_err(|source| Error::Io {
            doing: "list",
            path: path.clone(),
            source,
        })?;
        if file_type.is_dir() {
            walk(&path, out)?;
        } else if file_type.is_file() {
            out.push(path);
        }
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

fn parse(bytes: &[u8]) -> Option<(Version, Vec<u8>)> {
    let rest = bytes.strip_prefix(MAGIC.as_bytes())?.strip_prefix(b"\n")?;
    let rest = rest.strip_prefix(b"version ")?;
    let end = rest.iter().position(|&b| b == b'\n')?;
    let version = std::str::from_utf8(&rest[..end]).ok()?;
    let value = rest[end + 1..].strip_prefix(b"\n")?;
    if version.is_empty() {
        return None;
    }
    Some((Version::new(version), value.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_files_parse_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r");
        let v = next_version(None);
        write_synced(&path, &v, b"{\"a\":1}\n\nmore").unwrap();
        let (version, value) = parse(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(version, v);
        assert_eq!(value, b"{\"a\":1}\n\nmore");
        assert!(parse(b"something else").is_none());
        assert!(parse(b"upkeep-state 1\nversion \n\n").is_none());
    }

    #[test]
    fn temporaries_of_crashed_writers_are_removed_when_old() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join(".tmp");
        fs::create_dir_all(&tmp).unwrap();
        let old = tmp.join("0123456789abcdef");
        let fresh = tmp.join("fedcba9876543210");
        fs::write(&old, "half a record").unwrap();
        fs::write(&fresh, "a write in progress").unwrap();
        let two_hours_ago = std::time::SystemTime::now() - STALE_TEMPORARY * 2;
        File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(two_hours_ago)
            .unwrap();
        LocalStore::open(dir.path()).unwrap();
        assert!(!old.exists());
        assert!(fresh.exists());
    }

    #[test]
    fn versions_count_and_never_repeat() {
        let a = next_version(None);
        let b = next_version(Some(&a));
        assert!(a.as_str().starts_with("1-"), "{a}");
        assert!(b.as_str().starts_with("2-"), "{b}");
        assert_ne!(next_version(None), a);
    }
}

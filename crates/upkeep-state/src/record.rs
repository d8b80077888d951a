//! Records, their versions, and the outcome of a compare-and-swap.

use std::fmt;

use crate::{Error, Key, Result};

/// An opaque version of a record, changed by every write.
///
/// In the git store it is the id of the commit holding the record; in the local store a
/// write counter and a random part. Two writes never produce the same version, so a
/// version read earlier names exactly one state (no ABA: a record deleted and written
/// again has a new version).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Version(String);

impl Version {
    /// Wraps a version string produced by a store (for callers that kept one as text).
    #[must_use]
    pub fn new(version: impl Into<String>) -> Self {
        Self(version.into())
    }

    /// The version as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Version({})", self.0)
    }
}

/// What a compare-and-swap expects the record to be before it changes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// There is no record under the key (create-only).
    Absent,
    /// The record is at exactly this version.
    Version(Version),
}

impl Expected {
    /// What a write must expect to replace `current` (as read): its version, or absent.
    #[must_use]
    pub fn from_current(current: Option<&Record>) -> Self {
        current.map_or(Self::Absent, |r| Self::Version(r.version.clone()))
    }

    /// Whether `current` is what this expects.
    #[must_use]
    pub fn matches(&self, current: Option<&Version>) -> bool {
        match (self, current) {
            (Self::Absent, None) => true,
            (Self::Version(want), Some(have)) => want == have,
            _ => false,
        }
    }
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Absent => f.write_str("absent"),
            Self::Version(v) => write!(f, "version {v}"),
        }
    }
}

/// A record: the bytes stored under a key, and their version.
#[derive(Clone, PartialEq, Eq)]
pub struct Record {
    /// Where it is stored.
    pub key: Key,
    /// Which write produced it.
    pub version: Version,
    /// The bytes (usually JSON; see [`Record::json`]).
    pub value: Vec<u8>,
}

impl Record {
    /// The value parsed as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.value).map_err(|source| Error::Json {
            key: self.key.to_string(),
            source,
        })
    }

    /// What a write must expect to replace this record.
    #[must_use]
    pub fn expected(&self) -> Expected {
        Expected::Version(self.version.clone())
    }
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Record");
        d.field("key", &self.key).field("version", &self.version);
        match std::str::from_utf8(&self.value) {
            Ok(text) => d.field("value", &text),
            Err(_) => d.field("value", &format_args!("{} bytes", self.value.len())),
        };
        d.finish()
    }
}

/// The outcome of a compare-and-swap: done, or refused because the record is not what
/// the caller expected — in which case here is what it is, so the caller can decide
/// (merge and write again against this version, give up, report who holds it).
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Cas<T> {
    /// The change was made.
    Done(T),
    /// Nothing was changed: the record is `current` (`None`: absent), not what was
    /// expected.
    Conflict {
        /// The record as it is now.
        current: Option<Record>,
    },
}

impl<T> Cas<T> {
    /// Whether the change was made.
    #[must_use]
    pub fn is_done(&self) -> bool {
        matches!(self, Self::Done(_))
    }

    /// The result of the change, or `None` after a conflict.
    pub fn done(self) -> Option<T> {
        match self {
            Self::Done(t) => Some(t),
            Self::Conflict { .. } => None,
        }
    }
}

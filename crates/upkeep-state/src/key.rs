//! Keys: `/`-separated paths of segments that are valid in a git ref name and a file name.

use std::fmt::{self, Write as _};
use std::str::FromStr;

use crate::{Error, Result};

/// The longest escaped segment: leaves room for the local store's `.<segment>.lock` and
/// temporary names inside a 255-byte file name.
const MAX_SEGMENT: usize = 200;
/// The longest key (git handles longer ref names, but nobody needs them).
const MAX_KEY: usize = 1000;

/// Where a record lives: `rounds/2026-03-02/projects/billing`.
///
/// A key is one or more segments separated by `/`. Each segment is made of ASCII
/// letters, digits, `-`, `_`, `.` and `%XX` escapes, so that the same key is a valid git
/// ref name (`refs/upkeep/<key>`) and a valid relative path on every file system. Names
/// that come from elsewhere (project names such as `group/sub/app`, branch names) go in
/// through [`Key::from_segments`] or [`Key::child`], which escape them, and come back
/// out through [`Key::segments`] or [`Key::name`], which decode them.
///
/// [`Key::new`] takes a key exactly as written and refuses anything that is not already
/// in that form (`..`, spaces, `~^:?*[\`, a segment starting with `.` or ending with
/// `.lock`, non-canonical escapes), with an error that says why.
///
/// Keys are compared segment by segment for [`Key::starts_with`]: `rounds/r1` contains
/// `rounds/r1/summary` but not `rounds/r10/summary`. A key that holds a record cannot also
/// be a prefix of other records' keys (git cannot have both `refs/upkeep/a` and
/// `refs/upkeep/a/b`); a write that would need both fails with
/// [`Error::KeyCollides`].
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(String);

impl Key {
    /// Checks `key` as written (see the type's docs) and returns it.
    pub fn new(key: impl Into<String>) -> Result<Self> {
        let key = key.into();
        let invalid = |reason: String| Error::InvalidKey {
            key: key.clone(),
            reason,
        };
        if key.is_empty() {
            return Err(invalid("a key cannot be empty".into()));
        }
        if key.len() > MAX_KEY {
            return Err(invalid(format!("a key is at most {MAX_KEY} bytes long")));
        }
        for segment in key.split('/') {
            check_segment(segment).map_err(invalid)?;
        }
        debug_assert!(upkeep_git::is_valid_ref_name(&format!("refs/upkeep/{key}")));
        Ok(Self(key))
    }

    /// A key made of `segments`, each escaped so that any non-empty text is allowed:
    /// `Key::from_segments(["rounds", round, "projects", "group/app"])` is
    /// `rounds/<round>/projects/group%2Fapp`. Escaping is stable (the same text always
    /// gives the same key) and reversible ([`Key::segments`]).
    pub fn from_segments<I, S>(segments: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let escaped: Vec<String> = segments
            .into_iter()
            .map(|s| escape_segment(s.as_ref()))
            .collect();
        Self::new(escaped.join("/"))
    }

    /// This key with one more segment, escaped as in [`Key::from_segments`].
    pub fn child(&self, segment: &str) -> Result<Self> {
        Self::new(format!("{}/{}", self.0, escape_segment(segment)))
    }

    /// The key as written (escaped): what follows `refs/upkeep/` in the git store, the
    /// relative path in the local store.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The segments, decoded: the names that went into [`Key::from_segments`].
    #[must_use]
    pub fn segments(&self) -> Vec<String> {
        self.0.split('/').map(unescape_segment).collect()
    }

    /// The last segment, decoded (`billing` for `rounds/r1/projects/billing`).
    #[must_use]
    pub fn name(&self) -> String {
        unescape_segment(self.0.rsplit('/').next().unwrap_or(&self.0))
    }

    /// The key without its last segment (`None` for a one-segment key).
    #[must_use]
    pub fn parent(&self) -> Option<Self> {
        self.0
            .rsplit_once('/')
            .map(|(parent, _)| Self(parent.to_owned()))
    }

    /// Whether `prefix` is this key or one of its ancestors, segment-wise.
    #[must_use]
    pub fn starts_with(&self, prefix: &Key) -> bool {
        self.0 == prefix.0
            || (self.0.starts_with(&prefix.0) && self.0.as_bytes()[prefix.0.len()] == b'/')
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({:?})", self.0)
    }
}

impl FromStr for Key {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::new(s)
    }
}

impl AsRef<str> for Key {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl serde::Serialize for Key {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Key {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::new(s).map_err(serde::de::Error::custom)
    }
}

fn is_plain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')
}

/// Escapes one segment: bytes outside `[A-Za-z0-9_.-]` become `%XX`, and so does a dot
/// where git or a file system would object to it (first, last, after another dot, or
/// the dot of a trailing `.lock`).
fn escape_segment(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let lock_dot = raw.strip_suffix(".lock").map(str::len);
    let mut out = String::with_capacity(raw.len());
    for (i, &b) in bytes.iter().enumerate() {
        let dot_ok = b != b'.'
            || (i != 0 && i + 1 != bytes.len() && !out.ends_with('.') && Some(i) != lock_dot);
        if is_plain(b) && dot_ok {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Decodes `%XX` escapes. Only called on checked segments, whose escapes decode to UTF-8.
fn unescape_segment(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = segment
                .get(i + 1..i + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn check_segment(segment: &str) -> std::result::Result<(), String> {
    if segment.is_empty() {
        return Err("empty segment (a `//`, or a `/` at the start or end)".into());
    }
    if segment.len() > MAX_SEGMENT {
        return Err(format!(
            "segment `{segment}` is longer than {MAX_SEGMENT} bytes"
        ));
    }
    if segment.contains("..") {
        return Err(format!("segment `{segment}` contains `..`"));
    }
    if segment.starts_with('.') {
        return Err(format!("segment `{segment}` starts with `.`"));
    }
    // Git's own rule is case-sensitive.
    #[allow(clippy::case_sensitive_file_extension_comparisons)]
    if segment.ends_with('.') || segment.ends_with(".lock") {
        return Err(format!(
            "segment `{segment}` ends with `.` or `.lock`, which git refuses in a ref name"
        ));
    }
    if let Some(c) = segment
        .chars()
        .find(|&c| !(c.is_ascii() && (is_plain(c as u8) || c == '%')))
    {
        return Err(format!(
            "character {c:?} is not allowed (letters, digits, `-`, `_`, `.` and `%XX`; \
             build keys from names with Key::from_segments, which escapes them)"
        ));
    }
    // Escapes must be exactly what `escape_segment` writes, so that one name has one key.
    let decoded = segment_bytes(segment)
        .and_then(|bytes| String::from_utf8(bytes).map_err(|_| "not UTF-8".to_owned()))
        .map_err(|why| format!("segment `{segment}` has a bad `%` escape ({why})"))?;
    if escape_segment(&decoded) != segment {
        return Err(format!(
            "segment `{segment}` is not escaped canonically (write it as `{}`)",
            escape_segment(&decoded)
        ));
    }
    Ok(())
}

fn segment_bytes(segment: &str) -> std::result::Result<Vec<u8>, String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = segment
                .get(i + 1..i + 3)
                .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
                .ok_or_else(|| "`%` must be followed by two hex digits".to_owned())?;
            out.push(u8::from_str_radix(hex, 16).map_err(|e| e.to_string())?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_keys_are_taken_as_written() {
        for k in [
            "rounds/2026-03-02/projects/billing",
            "rounds/r1/summary",
            "branches/prod.toml/in-progress",
            "a",
            "v1.2.3",
        ] {
            assert_eq!(Key::new(k).unwrap().as_str(), k);
        }
    }

    #[test]
    fn bad_keys_are_refused_with_a_reason() {
        for (k, why) in [
            ("", "empty"),
            ("a//b", "empty segment"),
            ("/a", "empty segment"),
            ("a/", "empty segment"),
            ("a/../b", "`..`"),
            ("a/..", "`..`"),
            ("a/.hidden", "starts with `.`"),
            ("a/b.lock", "`.lock`"),
            ("a/b.", "ends with `.`"),
            ("a b", "' '"),
            ("a~1", "'~'"),
            ("a^", "'^'"),
            ("a:b", "':'"),
            ("a?", "'?'"),
            ("a*", "'*'"),
            ("a[", "'['"),
            ("a\\b", "'\\\\'"),
            ("a@{1}", "'@'"),
            ("é", "'é'"),
            ("a%2", "bad `%` escape"),
            ("a%zz", "bad `%` escape"),
            ("a%41", "canonically"),
            ("a%2f", "canonically"),
            ("a%FF", "not UTF-8"),
        ] {
            let err = Key::new(k).unwrap_err();
            let text = err.to_string();
            assert!(text.contains(why), "{k:?}: {text}");
            assert!(matches!(err, Error::InvalidKey { .. }));
        }
        assert!(Key::new("x".repeat(MAX_SEGMENT + 1)).is_err());
    }

    #[test]
    fn names_are_escaped_reversibly_into_valid_refs() {
        let names = [
            "group/sub/app",
            "plain",
            ".hidden",
            "..",
            "a..b",
            "trailing.",
            "x.lock",
            ".lock",
            "sp ace",
            "ünïcode ☃",
            "100%",
            "a%2Fb",
            "@{u}",
            "@",
            "~^:?*[\\",
            "a.b.c",
            "-dash",
            "\u{7f}\t\n",
        ];
        for name in names {
            let key = Key::from_segments(["rounds", "r1", "projects", name]).unwrap();
            assert_eq!(key.name(), name, "{key}");
            assert_eq!(key.segments(), ["rounds", "r1", "projects", name]);
            assert!(
                upkeep_git::is_valid_ref_name(&format!("refs/upkeep/{key}")),
                "{key}"
            );
            assert_eq!(Key::new(key.as_str()).unwrap(), key, "canonical: {key}");
            let child = Key::new("rounds/r1").unwrap().child(name).unwrap();
            assert_eq!(child.name(), name);
        }
        assert_eq!(
            Key::from_segments(["projects", "group/app"])
                .unwrap()
                .as_str(),
            "projects/group%2Fapp"
        );
        assert!(Key::from_segments(["a", ""]).is_err());
    }

    #[test]
    fn prefixes_compare_whole_segments() {
        let k = Key::new("rounds/r1/summary").unwrap();
        assert!(k.starts_with(&Key::new("rounds/r1").unwrap()));
        assert!(k.starts_with(&k));
        assert!(!k.starts_with(&Key::new("rounds/r").unwrap()));
        assert!(
            !Key::new("rounds/r10/x")
                .unwrap()
                .starts_with(&Key::new("rounds/r1").unwrap())
        );
        assert_eq!(k.parent().unwrap().as_str(), "rounds/r1");
        assert_eq!(Key::new("a").unwrap().parent(), None);
    }

    #[test]
    fn keys_round_trip_through_serde() {
        let k = Key::new("rounds/r1/summary").unwrap();
        let json = serde_json::to_string(&k).unwrap();
        assert_eq!(json, "\"rounds/r1/summary\"");
        assert_eq!(serde_json::from_str::<Key>(&json).unwrap(), k);
        assert!(serde_json::from_str::<Key>("\"a/../b\"").is_err());
    }
}

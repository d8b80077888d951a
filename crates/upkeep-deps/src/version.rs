//! Version schemes: how two versions of one ecosystem compare, and how a change is
//! classified.
//!
//! Python uses PEP 440 (through `pep440_rs`). The other ecosystems share one
//! tokenizer with per-ecosystem rules, because they all reduce to "a numeric release,
//! then pre-release identifiers, then things that do not order":
//!
//! - semver (npm, Cargo, Composer): a `v` prefix and Composer's four-part releases are
//!   tolerated; `+build` metadata does not order.
//! - Go modules: `v` prefix, `+incompatible` is metadata, pseudo-versions
//!   (`v0.0.0-20240101120000-abcdef123456`, `v1.2.4-0.2024…`) are pre-releases of the
//!   next patch and order by their timestamp, as Go orders them.
//! - `RubyGems`: any letter makes a pre-release (`1.0.0.rc1`, `2.0.0.pre`); a
//!   `-x86_64-linux` platform suffix (from `Gemfile.lock`) is a *family*: versions of
//!   different platforms are never compared.
//! - Docker tags: the numeric prefix is the version (`3.12` in `3.12-slim`), the rest is
//!   the variant (family); a variant change (`-slim` → `-alpine`) is `other`, as is any
//!   tag without a numeric prefix (`latest`) and a digest-only change.

use std::cmp::Ordering;

use crate::model::{ChangeKind, Ecosystem};

/// A classified version change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classification {
    /// What kind of change.
    pub kind: ChangeKind,
    /// A major bump, a `0.x` minor bump or a `0.0.x` patch bump.
    pub likely_breaking: bool,
}

/// Classifies a change from one version to another, both as written.
///
/// Unparsable versions, versions of different families (tag variants, gem platforms)
/// and versions that compare equal but are written differently are [`ChangeKind::Other`].
#[must_use]
pub fn classify(ecosystem: Ecosystem, from: &str, to: &str) -> Classification {
    let other = Classification {
        kind: ChangeKind::Other,
        likely_breaking: false,
    };
    let (Some(a), Some(b)) = (parse(ecosystem, from), parse(ecosystem, to)) else {
        return other;
    };
    match a.compare(&b) {
        None | Some(Ordering::Equal) => other,
        Some(Ordering::Greater) => Classification {
            kind: ChangeKind::Downgrade,
            likely_breaking: false,
        },
        Some(Ordering::Less) => {
            let kind = a.upgrade_kind(&b);
            let old = a.release();
            let first = old.first().copied().unwrap_or(0);
            let second = old.get(1).copied().unwrap_or(0);
            let likely_breaking = match kind {
                ChangeKind::Major => true,
                ChangeKind::Minor => first == 0,
                ChangeKind::Patch => first == 0 && second == 0,
                _ => false,
            };
            Classification {
                kind,
                likely_breaking,
            }
        }
    }
}

/// Orders two versions of one ecosystem; `None` when the scheme cannot order them.
#[must_use]
pub fn compare(ecosystem: Ecosystem, a: &str, b: &str) -> Option<Ordering> {
    parse(ecosystem, a)?.compare(&parse(ecosystem, b)?)
}

/// The groups a version belongs to, used to pair several versions of one package:
/// the family (tag variant, gem platform; versions of different families never pair
/// first) and the compatibility line (major, or `0.minor`, or `0.0.patch`).
#[must_use]
pub(crate) fn line_key(ecosystem: Ecosystem, version: &str) -> (String, String) {
    match parse(ecosystem, version) {
        Some(v) => {
            let release = v.release();
            let line = match release.as_slice() {
                [0, 0, p, ..] => format!("0.0.{p}"),
                [0, m, ..] => format!("0.{m}"),
                [0] | [] => "0".to_owned(),
                [major, ..] => major.to_string(),
            };
            (v.family().to_owned(), line)
        }
        None => (version.to_owned(), String::new()),
    }
}

/// A version parsed once for sorting, under a total order: versions the scheme parses
/// come first, grouped by family and ordered by the scheme; the rest follow by string.
/// Ties (`1.0` and `1.0.0`) break by string, so the order is total.
pub(crate) struct SortKey {
    parsed: Option<Parsed>,
    raw: String,
}

impl SortKey {
    pub(crate) fn new(ecosystem: Ecosystem, version: &str) -> Self {
        Self {
            parsed: parse(ecosystem, version),
            raw: version.to_owned(),
        }
    }
}

impl Ord for SortKey {
    fn cmp(&self, other: &Self) -> Ordering {
        match (&self.parsed, &other.parsed) {
            (Some(a), Some(b)) => a
                .family()
                .cmp(b.family())
                .then_with(|| a.compare(b).unwrap_or(Ordering::Equal))
                .then_with(|| self.raw.cmp(&other.raw)),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => self.raw.cmp(&other.raw),
        }
    }
}

impl PartialOrd for SortKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for SortKey {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for SortKey {}

enum Parsed {
    Pep440(pep440_rs::Version),
    Generic(Generic),
}

impl Parsed {
    fn release(&self) -> Vec<u64> {
        match self {
            Self::Pep440(v) => {
                let mut r = v.release().to_vec();
                if v.epoch() > 0 {
                    r.insert(0, v.epoch());
                }
                r
            }
            Self::Generic(g) => g.release.clone(),
        }
    }

    fn family(&self) -> &str {
        match self {
            Self::Pep440(_) => "",
            Self::Generic(g) => &g.family,
        }
    }

    fn compare(&self, other: &Self) -> Option<Ordering> {
        match (self, other) {
            (Self::Pep440(a), Self::Pep440(b)) => Some(a.cmp(b)),
            (Self::Generic(a), Self::Generic(b)) => a.compare(b),
            _ => None,
        }
    }

    /// For `self < other`: which part went up.
    fn upgrade_kind(&self, other: &Self) -> ChangeKind {
        if let (Self::Pep440(a), Self::Pep440(b)) = (self, other)
            && a.epoch() != b.epoch()
        {
            return ChangeKind::Major;
        }
        if let Some(i) = first_difference(&self.release(), &other.release()) {
            return match i {
                0 => ChangeKind::Major,
                1 => ChangeKind::Minor,
                _ => ChangeKind::Patch,
            };
        }
        match (self, other) {
            (Self::Pep440(a), Self::Pep440(b)) => {
                if a.any_prerelease() || b.any_prerelease() {
                    ChangeKind::Prerelease
                } else if a.post() != b.post() {
                    ChangeKind::Patch
                } else {
                    ChangeKind::Other
                }
            }
            (Self::Generic(a), Self::Generic(b)) => {
                if a.pre.is_empty() && b.pre.is_empty() {
                    ChangeKind::Other
                } else {
                    ChangeKind::Prerelease
                }
            }
            _ => ChangeKind::Other,
        }
    }
}

/// The first index where two releases differ, padding the shorter with zeros.
fn first_difference(a: &[u64], b: &[u64]) -> Option<usize> {
    let len = a.len().max(b.len());
    (0..len).find(|&i| a.get(i).copied().unwrap_or(0) != b.get(i).copied().unwrap_or(0))
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Ident {
    Num(u64),
    Alpha(String),
}

impl Ident {
    fn parse(s: &str) -> Self {
        if !s.is_empty()
            && s.bytes().all(|b| b.is_ascii_digit())
            && let Ok(n) = s.parse()
        {
            return Self::Num(n);
        }
        Self::Alpha(s.to_ascii_lowercase())
    }
}

impl Ord for Ident {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Self::Num(a), Self::Num(b)) => a.cmp(b),
            (Self::Num(_), Self::Alpha(_)) => Ordering::Less,
            (Self::Alpha(_), Self::Num(_)) => Ordering::Greater,
            (Self::Alpha(a), Self::Alpha(b)) => a.cmp(b),
        }
    }
}

impl PartialOrd for Ident {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A version of the non-Python schemes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Generic {
    release: Vec<u64>,
    /// Empty for a release; otherwise ordered identifier by identifier (semver rules).
    pre: Vec<Ident>,
    /// Versions of different families never compare (tag variants, gem platforms).
    family: String,
}

impl Generic {
    fn compare(&self, other: &Self) -> Option<Ordering> {
        if self.family != other.family {
            return None;
        }
        let len = self.release.len().max(other.release.len());
        for i in 0..len {
            let a = self.release.get(i).copied().unwrap_or(0);
            let b = other.release.get(i).copied().unwrap_or(0);
            match a.cmp(&b) {
                Ordering::Equal => {}
                o => return Some(o),
            }
        }
        Some(match (self.pre.is_empty(), other.pre.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => self.pre.cmp(&other.pre),
        })
    }
}

fn parse(ecosystem: Ecosystem, version: &str) -> Option<Parsed> {
    let version = version.trim();
    if version.is_empty() || version.len() > 256 {
        return None;
    }
    match ecosystem {
        Ecosystem::Pypi => version
            .strip_prefix("==")
            .unwrap_or(version)
            .parse::<pep440_rs::Version>()
            .ok()
            .map(Parsed::Pep440),
        Ecosystem::Npm | Ecosystem::Cargo | Ecosystem::Packagist | Ecosystem::Go => {
            parse_semverish(version).map(Parsed::Generic)
        }
        Ecosystem::RubyGems => parse_ruby(version).map(Parsed::Generic),
        Ecosystem::Docker => parse_docker(version).map(Parsed::Generic),
    }
}

fn parse_release(s: &str) -> Option<Vec<u64>> {
    s.split('.')
        .map(|part| {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                None
            } else {
                part.parse().ok()
            }
        })
        .collect()
}

/// semver with the usual leniencies: `v`/`=` prefix, 1–4 release parts, `+metadata`.
fn parse_semverish(version: &str) -> Option<Generic> {
    let v = version.trim_start_matches('=');
    let v = v
        .strip_prefix('v')
        .or_else(|| v.strip_prefix('V'))
        .unwrap_or(v);
    let v = v.split_once('+').map_or(v, |(v, _meta)| v);
    let (release, pre) = match v.split_once('-') {
        Some((r, p)) => (r, Some(p)),
        None => (v, None),
    };
    let release = parse_release(release)?;
    let pre = match pre {
        Some("") => return None,
        Some(p) => p.split('.').map(Ident::parse).collect(),
        None => Vec::new(),
    };
    Some(Generic {
        release,
        pre,
        family: String::new(),
    })
}

/// `RubyGems`: segments split at dots and at letter/digit boundaries; the first
/// non-numeric segment starts the pre-release part. A `-platform` suffix is the family.
fn parse_ruby(version: &str) -> Option<Generic> {
    let (v, platform) = match version.split_once('-') {
        Some((v, p)) => (v, p),
        None => (version, ""),
    };
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.') {
        return None;
    }
    let mut segments = Vec::new();
    for part in v.split('.') {
        if part.is_empty() {
            return None;
        }
        let mut start = 0;
        let bytes = part.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[i - 1].is_ascii_digit() {
                segments.push(Ident::parse(&part[start..i]));
                start = i;
            }
        }
    }
    let split = segments
        .iter()
        .position(|s| matches!(s, Ident::Alpha(_)))
        .unwrap_or(segments.len());
    let pre = segments.split_off(split);
    let release = segments
        .into_iter()
        .map(|s| match s {
            Ident::Num(n) => Some(n),
            Ident::Alpha(_) => None,
        })
        .collect::<Option<Vec<_>>>()?;
    if release.is_empty() {
        return None;
    }
    Some(Generic {
        release,
        pre,
        family: platform.to_owned(),
    })
}

/// Docker tags: `[v]N(.N)*[pre][variant][@digest]`.
fn parse_docker(tag: &str) -> Option<Generic> {
    let tag = tag.split_once('@').map_or(tag, |(t, _digest)| t);
    let t = tag.strip_prefix('v').unwrap_or(tag);
    let numeric_end = t
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_digit() || c == '.'))
        .map_or(t.len(), |(i, _)| i);
    let (numbers, rest) = t.split_at(numeric_end);
    let numbers = numbers.trim_end_matches('.');
    let release = parse_release(numbers)?;
    // A Python-style pre-release glued to the number (`3.13.0rc1-slim`).
    let mut pre = Vec::new();
    let mut variant = rest;
    for marker in ["alpha", "beta", "rc", "a", "b"] {
        if let Some(after) = rest.strip_prefix(marker) {
            let digits = after
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(after.len());
            if digits > 0 {
                pre.push(Ident::Alpha(marker.to_owned()));
                pre.push(Ident::parse(&after[..digits]));
                variant = &after[digits..];
                break;
            }
        }
    }
    Some(Generic {
        release,
        pre,
        family: variant.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(eco: Ecosystem, a: &str, b: &str) -> (ChangeKind, bool) {
        let c = classify(eco, a, b);
        (c.kind, c.likely_breaking)
    }

    #[test]
    fn semver_kinds_and_breaking() {
        use ChangeKind::*;
        let e = Ecosystem::Npm;
        assert_eq!(kind(e, "3.10.1", "4.17.21"), (Major, true));
        assert_eq!(kind(e, "4.17.20", "4.17.21"), (Patch, false));
        assert_eq!(kind(e, "4.16.0", "4.17.21"), (Minor, false));
        assert_eq!(kind(e, "0.3.1", "0.4.0"), (Minor, true));
        assert_eq!(kind(e, "0.0.3", "0.0.4"), (Patch, true));
        assert_eq!(kind(e, "0.3.1", "0.3.2"), (Patch, false));
        assert_eq!(kind(e, "2.0.0-rc.1", "2.0.0"), (Prerelease, false));
        assert_eq!(kind(e, "2.0.0-rc.2", "2.0.0-rc.10"), (Prerelease, false));
        assert_eq!(kind(e, "1.9.0", "2.0.0-beta.1"), (Major, true));
        assert_eq!(kind(e, "2.0.0", "1.9.9"), (Downgrade, false));
        assert_eq!(kind(e, "1.0.0+a", "1.0.0+b"), (Other, false));
        assert_eq!(
            kind(e, "github:user/repo#abc", "github:user/repo#def"),
            (Other, false)
        );
        assert_eq!(
            kind(Ecosystem::Packagist, "v5.4.1", "v6.0.0"),
            (Major, true)
        );
        assert_eq!(
            kind(Ecosystem::Packagist, "1.2.3.4", "1.2.3.5"),
            (Patch, false)
        );
        assert_eq!(
            kind(Ecosystem::Packagist, "dev-main", "dev-main2"),
            (Other, false)
        );
    }

    #[test]
    fn semver_precedence_matches_the_semver_crate() {
        let versions = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.1",
            "1.1.0",
            "2.0.0",
        ];
        for a in versions {
            for b in versions {
                let expected = semver::Version::parse(a)
                    .unwrap()
                    .cmp(&semver::Version::parse(b).unwrap());
                assert_eq!(compare(Ecosystem::Cargo, a, b), Some(expected), "{a} {b}");
            }
        }
    }

    #[test]
    fn pep440() {
        use ChangeKind::*;
        let e = Ecosystem::Pypi;
        assert_eq!(kind(e, "4.2.7", "5.1.3"), (Major, true));
        assert_eq!(kind(e, "2.31.0", "2.32.3"), (Minor, false));
        assert_eq!(kind(e, "1.0", "1.0.post1"), (Patch, false));
        assert_eq!(kind(e, "1.0rc1", "1.0"), (Prerelease, false));
        assert_eq!(kind(e, "1.0.dev3", "1.0a1"), (Prerelease, false));
        assert_eq!(kind(e, "2024.1", "1!1.0"), (Major, true));
        assert_eq!(kind(e, "1.0+local.1", "1.0+local.2"), (Other, false));
        assert_eq!(kind(e, "1.0", "1.0.0"), (Other, false));
        assert_eq!(kind(e, "0.24.0", "0.27.2"), (Minor, true));
        assert_eq!(kind(e, "5.0", "4.2"), (Downgrade, false));
    }

    #[test]
    fn go_modules() {
        use ChangeKind::*;
        let e = Ecosystem::Go;
        assert_eq!(kind(e, "v1.8.0", "v1.9.1"), (Minor, false));
        assert_eq!(
            kind(e, "v2.0.0+incompatible", "v2.1.0+incompatible"),
            (Minor, false)
        );
        assert_eq!(
            kind(
                e,
                "v0.0.0-20220101000000-aaaaaaaaaaaa",
                "v0.0.0-20230101000000-bbbbbbbbbbbb"
            ),
            (Prerelease, false)
        );
        assert_eq!(
            kind(e, "v1.2.3", "v1.2.4-0.20230101000000-bbbbbbbbbbbb"),
            (Patch, false)
        );
        assert_eq!(
            kind(e, "v0.0.0-20230101000000-bbbbbbbbbbbb", "v0.1.0"),
            (Minor, true)
        );
    }

    #[test]
    fn rubygems() {
        use ChangeKind::*;
        let e = Ecosystem::RubyGems;
        assert_eq!(kind(e, "7.0.4", "7.1.0"), (Minor, false));
        assert_eq!(kind(e, "7.1.0.rc1", "7.1.0"), (Prerelease, false));
        assert_eq!(kind(e, "2.0.0.beta.2", "2.0.0.rc1"), (Prerelease, false));
        // As RubyGems orders them: "beta" < "pre".
        assert_eq!(kind(e, "2.0.0.pre", "2.0.0.beta.2"), (Downgrade, false));
        assert!(compare(e, "1.0.0.a", "1.0.0").unwrap().is_lt());
        assert!(compare(e, "1.0.0.1", "1.0.0.pre").unwrap().is_gt());
        assert_eq!(
            kind(e, "1.13.10-x86_64-linux", "1.14.0-x86_64-linux"),
            (Minor, false)
        );
        assert_eq!(
            kind(e, "1.13.10-x86_64-linux", "1.14.0-arm64-darwin"),
            (Other, false)
        );
    }

    #[test]
    fn docker_tags() {
        use ChangeKind::*;
        let e = Ecosystem::Docker;
        assert_eq!(kind(e, "3.11-slim", "3.12-slim"), (Minor, false));
        assert_eq!(kind(e, "18-alpine", "20-alpine"), (Major, true));
        assert_eq!(kind(e, "3.11-slim", "3.11-alpine"), (Other, false));
        assert_eq!(kind(e, "latest", "bookworm"), (Other, false));
        assert_eq!(
            kind(e, "3.13.0rc1-slim", "3.13.0-slim"),
            (Prerelease, false)
        );
        assert_eq!(
            kind(e, "3.12@sha256:aaaa", "3.12@sha256:bbbb"),
            (Other, false)
        );
        assert_eq!(kind(e, "22.04", "24.04"), (Major, true));
    }

    #[test]
    fn line_keys() {
        assert_eq!(
            line_key(Ecosystem::Cargo, "0.3.1"),
            (String::new(), "0.3".into())
        );
        assert_eq!(
            line_key(Ecosystem::Cargo, "2.3.1"),
            (String::new(), "2".into())
        );
        assert_eq!(
            line_key(Ecosystem::Docker, "3.11-slim"),
            ("-slim".into(), "3".into())
        );
    }
}

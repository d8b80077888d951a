//! Version schemes: how two versions of one ecosystem compare, and how a change is
//! classified.
//!
//! Each scheme orders versions as its package manager does; the oracle tests
//! (`tests/it/oracle.rs`) hold this against `packaging`, npm's `semver`, the `semver`
//! crate, `Gem::Version` and `golang.org/x/mod/semver` over their own test suites.
//!
//! - PEP 440 (Python), through `pep440_rs`: epochs, pre/post/dev releases, local
//!   versions.
//! - semver (npm, Cargo, Go, Composer): a `v`/`=` prefix and Composer's four-part
//!   releases are tolerated; `+build` metadata does not order (Go's `+incompatible`
//!   is metadata); pre-release identifiers compare numerically when both are numbers,
//!   else in ASCII order, case-sensitively — except for Composer, which compares
//!   stabilities case-insensitively. Go pseudo-versions
//!   (`v0.0.0-20240101120000-abcdef123456`, `v1.2.4-0.2024…`) are pre-releases, ordered
//!   by their timestamp as Go orders them.
//! - `RubyGems`: `Gem::Version`'s segments: runs of digits and of letters, a letter
//!   segment sorts below any number, letters in ASCII order, trailing zero segments of
//!   the release and of the pre-release part do not count (`1.2.pre.1 == 1.2.0.pre.1.0`).
//!   A `-x86_64-linux` platform suffix (from `Gemfile.lock`) is a *family*: versions of
//!   different platforms are never compared.
//! - Docker tags: the numeric prefix is the version (`3.12` in `3.12-slim`), the rest
//!   the variant. Variants that differ only in their numbers are one family
//!   (`-alpine3.18`, `-alpine3.20`): the image's version moves within it. Another
//!   variant (`-slim` → `-alpine`), a tag without a numeric prefix (`latest`), a digest
//!   and a change of the variant's numbers alone are `other`.
//!
//! Numbers have no upper bound (Go, `RubyGems` and PEP 440 set none).

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

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
/// Otherwise the kind agrees with [`compare`]: a higher version is `major`, `minor`,
/// `patch` or `prerelease` (the first release number that went up, counting a PEP 440
/// epoch as major), a lower one `downgrade`.
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
            let zero = |i: usize| old.get(i).is_none_or(Num::is_zero);
            let likely_breaking = match kind {
                ChangeKind::Major => true,
                ChangeKind::Minor => zero(0),
                ChangeKind::Patch => zero(0) && zero(1),
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
/// first) and the compatibility line (major, or `0.minor`, or `0.0.patch`; inside a
/// PEP 440 epoch, prefixed with it).
#[must_use]
pub(crate) fn line_key(ecosystem: Ecosystem, version: &str) -> (String, String) {
    match parse(ecosystem, version) {
        Some(v) => {
            let release = v.release();
            let at = |i: usize| release.get(i).unwrap_or(&Num::ZERO);
            let line = if !at(0).is_zero() {
                at(0).to_string()
            } else if !at(1).is_zero() {
                format!("0.{}", at(1))
            } else {
                format!("0.0.{}", at(2))
            };
            let line = match &v {
                Parsed::Pep440(p) if p.epoch() > 0 => format!("{}!{line}", p.epoch()),
                _ => line,
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

/// A number of any length: most fit a `u64`; longer ones keep their digits (without
/// leading zeros), and a longer number is a larger one.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Num {
    Small(u64),
    Big(Box<str>),
}

impl Num {
    const ZERO: Self = Self::Small(0);

    /// `None` unless `digits` is one or more ASCII digits.
    fn parse(digits: &str) -> Option<Self> {
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(match digits.parse() {
            Ok(n) => Self::Small(n),
            Err(_) => Self::Big(digits.trim_start_matches('0').into()),
        })
    }

    fn is_zero(&self) -> bool {
        *self == Self::ZERO
    }
}

impl Ord for Num {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Self::Small(a), Self::Small(b)) => a.cmp(b),
            (Self::Small(_), Self::Big(_)) => Ordering::Less,
            (Self::Big(_), Self::Small(_)) => Ordering::Greater,
            (Self::Big(a), Self::Big(b)) => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
        }
    }
}

impl PartialOrd for Num {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Small(n) => n.fmt(f),
            Self::Big(digits) => f.write_str(digits),
        }
    }
}

enum Parsed {
    Pep440(pep440_rs::Version),
    Semver(Semver),
    Gem(Gem),
    Tag(Tag),
}

impl Parsed {
    /// The release numbers (without a PEP 440 epoch).
    fn release(&self) -> Cow<'_, [Num]> {
        match self {
            Self::Pep440(v) => Cow::Owned(v.release().iter().map(|&n| Num::Small(n)).collect()),
            Self::Semver(v) | Self::Tag(Tag { version: v, .. }) => Cow::Borrowed(&v.release),
            Self::Gem(g) => Cow::Borrowed(&g.release),
        }
    }

    fn is_prerelease(&self) -> bool {
        match self {
            Self::Pep440(v) => v.any_prerelease(),
            Self::Semver(v) | Self::Tag(Tag { version: v, .. }) => !v.pre.is_empty(),
            Self::Gem(g) => g.prerelease,
        }
    }

    fn family(&self) -> &str {
        match self {
            Self::Pep440(_) | Self::Semver(_) => "",
            Self::Gem(g) => &g.platform,
            Self::Tag(t) => &t.family,
        }
    }

    fn compare(&self, other: &Self) -> Option<Ordering> {
        if self.family() != other.family() {
            return None;
        }
        match (self, other) {
            (Self::Pep440(a), Self::Pep440(b)) => Some(a.cmp(b)),
            (Self::Semver(a), Self::Semver(b))
            | (Self::Tag(Tag { version: a, .. }), Self::Tag(Tag { version: b, .. })) => {
                Some(a.cmp(b))
            }
            (Self::Gem(a), Self::Gem(b)) => Some(a.cmp(b)),
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
        if self.is_prerelease() || other.is_prerelease() {
            return ChangeKind::Prerelease;
        }
        match (self, other) {
            (Self::Pep440(a), Self::Pep440(b)) if a.post() != b.post() => ChangeKind::Patch,
            _ => ChangeKind::Other,
        }
    }
}

/// The first index where two releases differ, padding the shorter with zeros.
fn first_difference(a: &[Num], b: &[Num]) -> Option<usize> {
    let len = a.len().max(b.len());
    (0..len).find(|&i| a.get(i).unwrap_or(&Num::ZERO) != b.get(i).unwrap_or(&Num::ZERO))
}

/// Compares two releases number by number, padding the shorter with zeros.
fn compare_releases(a: &[Num], b: &[Num]) -> Ordering {
    first_difference(a, b).map_or(Ordering::Equal, |i| {
        a.get(i)
            .unwrap_or(&Num::ZERO)
            .cmp(b.get(i).unwrap_or(&Num::ZERO))
    })
}

/// A semver pre-release identifier: numbers sort below the rest; the rest compare in
/// ASCII order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Ident {
    Num(Num),
    Alpha(Box<str>),
}

impl Ident {
    fn parse(s: &str, case: Case) -> Self {
        Num::parse(s).map_or_else(
            || {
                Self::Alpha(match case {
                    Case::Sensitive => s.into(),
                    Case::Insensitive => s.to_ascii_lowercase().into(),
                })
            },
            Self::Num,
        )
    }
}

/// Whether pre-release identifiers compare case-sensitively (semver, Go) or not
/// (Composer normalises `RC`, `Beta`, … before it compares).
#[derive(Debug, Clone, Copy)]
enum Case {
    Sensitive,
    Insensitive,
}

/// A semver-like version (npm, Cargo, Go, Composer, and a tag's numeric prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Semver {
    release: Vec<Num>,
    /// Empty for a release; otherwise ordered identifier by identifier, and a longer
    /// list of equal identifiers is the higher one.
    pre: Vec<Ident>,
}

impl Semver {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_releases(&self.release, &other.release).then_with(|| {
            match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => self.pre.cmp(&other.pre),
            }
        })
    }
}

/// A segment of a `RubyGems` version: a run of digits or a run of letters.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Num(Num),
    Str(Box<str>),
}

impl Ord for Segment {
    /// As `Gem::Version#<=>`: a letter segment sorts below any number.
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Self::Num(a), Self::Num(b)) => a.cmp(b),
            (Self::Str(_), Self::Num(_)) => Ordering::Less,
            (Self::Num(_), Self::Str(_)) => Ordering::Greater,
            (Self::Str(a), Self::Str(b)) => a.cmp(b),
        }
    }
}

impl PartialOrd for Segment {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A `RubyGems` version.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Gem {
    /// The numbers before the first letter, as written.
    release: Vec<Num>,
    /// A letter anywhere makes a pre-release.
    prerelease: bool,
    /// `Gem::Version#canonical_segments`: the release and the part from the first
    /// letter on, each without its trailing zeros.
    canonical: Vec<Segment>,
    /// The `Gemfile.lock` platform (`x86_64-linux`), empty for a plain gem.
    platform: String,
}

impl Gem {
    /// As `Gem::Version#<=>`: segment by segment, a missing segment counts as 0.
    fn cmp(&self, other: &Self) -> Ordering {
        let zero = Segment::Num(Num::ZERO);
        let len = self.canonical.len().max(other.canonical.len());
        (0..len)
            .map(|i| {
                let a = self.canonical.get(i).unwrap_or(&zero);
                a.cmp(other.canonical.get(i).unwrap_or(&zero))
            })
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }
}

/// A Docker tag: its numeric prefix (with a glued-on Python-style pre-release) and
/// the family of its variant.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Tag {
    version: Semver,
    /// The variant with each run of digits written `#` (`-alpine#.#`).
    family: String,
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
        Ecosystem::Npm | Ecosystem::Cargo | Ecosystem::Go => {
            parse_semverish(version, Case::Sensitive).map(Parsed::Semver)
        }
        Ecosystem::Packagist => parse_semverish(version, Case::Insensitive).map(Parsed::Semver),
        Ecosystem::RubyGems => parse_gem(version).map(Parsed::Gem),
        Ecosystem::Docker => parse_tag(version).map(Parsed::Tag),
    }
}

fn parse_release(s: &str) -> Option<Vec<Num>> {
    s.split('.').map(Num::parse).collect()
}

/// semver with the usual leniencies: `v`/`=` prefix, 1–4 release parts, `+metadata`.
fn parse_semverish(version: &str, case: Case) -> Option<Semver> {
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
        Some(p) => p.split('.').map(|i| Ident::parse(i, case)).collect(),
        None => Vec::new(),
    };
    Some(Semver { release, pre })
}

/// `RubyGems`: `[0-9]+(\.[0-9a-zA-Z]+)*` (what `Gem::Version.correct?` accepts, less
/// the `-` that a `Gemfile.lock` uses for the platform), split into runs of digits and
/// of letters.
fn parse_gem(version: &str) -> Option<Gem> {
    let (v, platform) = version.split_once('-').unwrap_or((version, ""));
    let mut parts = v.split('.');
    let starts_with_number = parts.next().and_then(Num::parse).is_some();
    let alphanumeric = parts.all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()));
    if !(starts_with_number && alphanumeric) {
        return None;
    }
    let mut segments = Vec::new();
    for part in v.split('.') {
        let mut rest = part;
        while let Some(first) = rest.bytes().next() {
            let end = rest
                .bytes()
                .position(|b| b.is_ascii_digit() != first.is_ascii_digit())
                .unwrap_or(rest.len());
            let (run, after) = rest.split_at(end);
            segments.push(Num::parse(run).map_or_else(|| Segment::Str(run.into()), Segment::Num));
            rest = after;
        }
    }
    let letters = segments
        .iter()
        .position(|s| matches!(s, Segment::Str(_)))
        .unwrap_or(segments.len());
    let release: Vec<Num> = segments[..letters]
        .iter()
        .filter_map(|s| match s {
            Segment::Num(n) => Some(n.clone()),
            Segment::Str(_) => None,
        })
        .collect();
    let trimmed = |part: &[Segment]| {
        let keep = part
            .iter()
            .rposition(|s| *s != Segment::Num(Num::ZERO))
            .map_or(0, |i| i + 1);
        part[..keep].to_vec()
    };
    let mut canonical = trimmed(&segments[..letters]);
    canonical.extend(trimmed(&segments[letters..]));
    Some(Gem {
        release,
        prerelease: letters < segments.len(),
        canonical,
        platform: platform.to_owned(),
    })
}

/// Docker tags: `[v]N(.N)*[pre][variant][@digest]`.
fn parse_tag(tag: &str) -> Option<Tag> {
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
            if let Some(n) = Num::parse(&after[..digits]) {
                pre.push(Ident::Alpha(marker.into()));
                pre.push(Ident::Num(n));
                variant = &after[digits..];
                break;
            }
        }
    }
    let mut family = String::with_capacity(variant.len());
    for c in variant.chars() {
        if !c.is_ascii_digit() {
            family.push(c);
        } else if !family.ends_with('#') {
            family.push('#');
        }
    }
    Some(Tag {
        version: Semver { release, pre },
        family,
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

    /// Issue 19.1: the epoch is not the first release number.
    #[test]
    fn pep440_epochs_classify_by_the_release_inside_the_epoch() {
        use ChangeKind::*;
        let e = Ecosystem::Pypi;
        assert_eq!(kind(e, "1!1.0", "1!2.0"), (Major, true));
        assert_eq!(kind(e, "1!0.1", "1!0.2"), (Minor, true));
        assert_eq!(kind(e, "1!1.0", "1!1.1"), (Minor, false));
        assert_eq!(kind(e, "1!1.0", "1!1.0.1"), (Patch, false));
        assert_eq!(kind(e, "1!2.0", "2!1.0"), (Major, true));
        assert_eq!(line_key(e, "1!1.5"), (String::new(), "1!1".into()));
        assert_eq!(line_key(e, "1!0.3"), (String::new(), "1!0.3".into()));
        assert_eq!(line_key(e, "1.5"), (String::new(), "1".into()));
    }

    /// Issue 19.2: npm's semver, the semver crate and Go compare pre-release
    /// identifiers case-sensitively, in ASCII order.
    #[test]
    fn prerelease_identifiers_compare_in_ascii_order() {
        for e in [Ecosystem::Npm, Ecosystem::Cargo] {
            assert_eq!(compare(e, "1.2.3-R2", "1.2.3-r100"), Some(Ordering::Less));
            assert_eq!(compare(e, "1.2.3-R2", "1.2.3-alpha"), Some(Ordering::Less));
            assert_eq!(
                compare(e, "1.2.3-5-Foo", "1.2.3-5-foo"),
                Some(Ordering::Less)
            );
            assert_eq!(
                kind(e, "1.2.3-R2", "1.2.3-r100"),
                (ChangeKind::Prerelease, false)
            );
        }
        assert_eq!(
            compare(
                Ecosystem::Go,
                "v0.0.0-20230101000000-BBBBBBBBBBBB",
                "v0.0.0-20230101000000-bbbbbbbbbbbb"
            ),
            Some(Ordering::Less)
        );
        // Composer compares stabilities case-insensitively (`RC1` is `rc1`).
        assert_eq!(
            compare(Ecosystem::Packagist, "1.0.0-RC1", "1.0.0-rc1"),
            Some(Ordering::Equal)
        );
    }

    /// Issue 19.3: `Gem::Version`'s own segment rules.
    #[test]
    fn rubygems_segments_order_as_gem_version_does() {
        let e = Ecosystem::RubyGems;
        // A letter segment sorts below a number.
        assert_eq!(compare(e, "1.0.0.a.b", "1.0.0.a.1"), Some(Ordering::Less));
        // Trailing zero segments do not count, in the release and in the pre-release.
        assert_eq!(
            compare(e, "1.2.pre.1", "1.2.0.pre.1.0"),
            Some(Ordering::Equal)
        );
        assert_eq!(
            compare(e, "1.0.0.pre", "1.0.0.pre.0"),
            Some(Ordering::Equal)
        );
        assert_eq!(compare(e, "1.a", "1.0.a"), Some(Ordering::Equal));
        // Letters compare in ASCII order: uppercase first. (The issue's `1.A == 1.0.a`
        // is not what `Gem::Version` says: `1.A` is lower.)
        assert_eq!(compare(e, "1.A", "1.0.a"), Some(Ordering::Less));
        assert_eq!(compare(e, "1.0.0.RC1", "1.0.0.beta"), Some(Ordering::Less));
        assert_eq!(
            kind(e, "1.0.0.RC1", "1.0.0.beta"),
            (ChangeKind::Prerelease, false)
        );
        assert_eq!(
            kind(e, "1.0.0.a.b", "1.0.0.a.1"),
            (ChangeKind::Prerelease, false)
        );
    }

    /// Issue 19.4: the numeric prefix of a tag moves within one variant family.
    #[test]
    fn docker_variants_with_numbers_are_one_family() {
        use ChangeKind::*;
        let e = Ecosystem::Docker;
        assert_eq!(
            kind(e, "1.21-alpine3.18", "1.22-alpine3.20"),
            (Minor, false)
        );
        assert_eq!(
            kind(e, "1.21-alpine3.20", "1.22-alpine3.18"),
            (Minor, false)
        );
        assert_eq!(
            kind(e, "1.22-alpine3.20", "1.21-alpine3.20"),
            (Downgrade, false)
        );
        // The variant's own numbers alone do not order the image's version.
        assert_eq!(
            kind(e, "1.21-alpine3.18", "1.21-alpine3.20"),
            (Other, false)
        );
        assert_eq!(kind(e, "1.21-alpine3.18", "1.22-bookworm"), (Other, false));
        assert_eq!(kind(e, "17-jdk-alpine", "21-jdk-alpine"), (Major, true));
        assert_eq!(
            line_key(e, "1.21-alpine3.18").0,
            line_key(e, "1.22-alpine3.20").0
        );
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

//! Pairing old and new packages and classifying each change.
//!
//! # Pairing rule
//!
//! Packages are grouped by normalised name (PEP 503 for Python, lowercase for gems and
//! Composer, exact otherwise). Within one lockfile, entries with the same version and
//! source are one package (nested npm copies, Pipfile categories, pnpm peer variants).
//! Then, per name:
//!
//! 1. versions present on both sides are unchanged;
//! 2. the remaining old and new versions are paired within the same *family* (tag
//!    variant, gem platform) and compatibility *line* (major, `0.minor`, `0.0.patch`),
//!    direct with direct and transitive with transitive first: highest old with
//!    highest new, and so on down;
//! 3. what is left is paired within the same family, direct with direct first, highest
//!    with highest;
//! 4. then across families, direct with direct first, highest with highest;
//! 5. leftovers are `removed` (old) or `added` (new).
//!
//! So `serde 1.0.100` + `0.9.15` → `1.0.200` + `0.9.15` gives one patch change, a
//! crate going from `0.8` + `1.2` to `1.3` reports `1.2 → 1.3` and `0.8` removed, and
//! a direct `rand 0.7.3` becoming a direct `0.8.8` beside a transitive `0.9.5` reports
//! `0.7.3 → 0.8.8` and `0.9.5` added.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};

use crate::model::{Change, ChangeKind, Ecosystem, Lockfile, LockfileDiff, Package};
use crate::parse::normalize_name;
use crate::version::{self, SortKey, line_key};

/// The changes between two parsed lockfiles (of the same format).
#[must_use]
pub fn diff_lockfiles(old: &Lockfile, new: &Lockfile) -> LockfileDiff {
    LockfileDiff {
        path: new.path.clone(),
        ecosystem: new.ecosystem,
        changes: diff_packages(new.ecosystem, &old.packages, &new.packages),
    }
}

/// The changes between two package lists of one ecosystem, sorted by name.
#[must_use]
pub fn diff_packages(ecosystem: Ecosystem, old: &[Package], new: &[Package]) -> Vec<Change> {
    let mut groups: BTreeMap<String, (Vec<Package>, Vec<Package>)> = BTreeMap::new();
    for p in old {
        groups
            .entry(normalize_name(ecosystem, &p.name))
            .or_default()
            .0
            .push(p.clone());
    }
    for p in new {
        groups
            .entry(normalize_name(ecosystem, &p.name))
            .or_default()
            .1
            .push(p.clone());
    }
    let mut changes = Vec::new();
    for (old, new) in groups.into_values() {
        let mut old = dedupe(old);
        let mut new = dedupe(new);
        drop_unchanged(&mut old, &mut new);
        if old.is_empty() && new.is_empty() {
            continue;
        }
        let mut pairs = Vec::new();
        let line = |p: &Package| line_key(ecosystem, p.version.as_deref().unwrap_or(""));
        pair_by(ecosystem, &mut old, &mut new, &mut pairs, |p| {
            (line(p), p.direct)
        });
        pair_by(ecosystem, &mut old, &mut new, &mut pairs, line);
        pair_by(ecosystem, &mut old, &mut new, &mut pairs, |p| {
            (line(p).0, p.direct)
        });
        pair_by(ecosystem, &mut old, &mut new, &mut pairs, |p| line(p).0);
        pair_by(ecosystem, &mut old, &mut new, &mut pairs, |p| p.direct);
        pair_by(ecosystem, &mut old, &mut new, &mut pairs, |_| ());
        for (o, n) in pairs {
            changes.push(change(ecosystem, Some(&o), Some(&n)));
        }
        changes.extend(old.iter().map(|o| change(ecosystem, Some(o), None)));
        changes.extend(new.iter().map(|n| change(ecosystem, None, Some(n))));
    }
    changes.sort_by_cached_key(|c| {
        (
            normalize_name(ecosystem, &c.name),
            SortKey::new(
                ecosystem,
                c.from.as_deref().or(c.to.as_deref()).unwrap_or(""),
            ),
        )
    });
    changes
}

/// Merges entries with the same version and source; direct wins over transitive.
fn dedupe(packages: Vec<Package>) -> Vec<Package> {
    // Keyed lookups keep this linear: a hostile lockfile may hold one name many times.
    let mut index: HashMap<(Option<String>, Option<String>), usize> = HashMap::new();
    let mut out: Vec<Package> = Vec::with_capacity(packages.len());
    for p in packages {
        match index.entry((p.version.clone(), p.source.clone())) {
            Entry::Occupied(slot) => {
                let q = &mut out[*slot.get()];
                q.direct = match (q.direct, p.direct) {
                    (Some(true), _) | (_, Some(true)) => Some(true),
                    (Some(false), _) | (_, Some(false)) => Some(false),
                    (None, None) => None,
                };
            }
            Entry::Vacant(slot) => {
                slot.insert(out.len());
                out.push(p);
            }
        }
    }
    out
}

/// Drops the versions present on both sides (after [`dedupe`], each at most once).
fn drop_unchanged(old: &mut Vec<Package>, new: &mut Vec<Package>) {
    let key = |p: &Package| (p.version.clone(), p.source.clone());
    let in_new: HashSet<_> = new.iter().map(key).collect();
    let in_old: HashSet<_> = old.iter().map(key).collect();
    old.retain(|o| !in_new.contains(&key(o)));
    new.retain(|n| !in_old.contains(&key(n)));
}

/// Pairs old and new packages sharing a key, highest version with highest, and takes
/// the pairs out of `old` and `new`.
fn pair_by<K: Ord>(
    ecosystem: Ecosystem,
    old: &mut Vec<Package>,
    new: &mut Vec<Package>,
    pairs: &mut Vec<(Package, Package)>,
    key: impl Fn(&Package) -> K,
) {
    if old.is_empty() || new.is_empty() {
        return;
    }
    let mut by_key: BTreeMap<K, (Vec<Package>, Vec<Package>)> = BTreeMap::new();
    for p in old.drain(..) {
        by_key.entry(key(&p)).or_default().0.push(p);
    }
    for p in new.drain(..) {
        by_key.entry(key(&p)).or_default().1.push(p);
    }
    for (_, (mut o, mut n)) in by_key {
        let key = |p: &Package| {
            std::cmp::Reverse(SortKey::new(ecosystem, p.version.as_deref().unwrap_or("")))
        };
        o.sort_by_cached_key(key);
        n.sort_by_cached_key(key);
        let count = o.len().min(n.len());
        let rest_o = o.split_off(count);
        let rest_n = n.split_off(count);
        pairs.extend(o.into_iter().zip(n));
        old.extend(rest_o);
        new.extend(rest_n);
    }
}

fn change(ecosystem: Ecosystem, old: Option<&Package>, new: Option<&Package>) -> Change {
    let name = new.or(old).map(|p| p.name.clone()).unwrap_or_default();
    let from = old.and_then(|p| p.version.clone());
    let to = new.and_then(|p| p.version.clone());
    let direct = new.and_then(|p| p.direct).or(old.and_then(|p| p.direct));
    let (kind, likely_breaking) = match (old, new) {
        (Some(_), None) => (ChangeKind::Removed, false),
        (None, _) => (ChangeKind::Added, false),
        (Some(_), Some(_)) => match (&from, &to) {
            (Some(f), Some(t)) if f != t => {
                let c = version::classify(ecosystem, f, t);
                (c.kind, c.likely_breaking)
            }
            // Same version from another source, or not versioned.
            _ => (ChangeKind::Other, false),
        },
    };
    Change {
        name,
        from,
        to,
        kind,
        direct,
        likely_breaking,
        ecosystem,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(name: &str, version: &str) -> Package {
        Package {
            name: name.into(),
            version: Some(version.into()),
            source: None,
            direct: None,
        }
    }

    fn summary(changes: &[Change]) -> Vec<(String, Option<String>, Option<String>, ChangeKind)> {
        changes
            .iter()
            .map(|c| (c.name.clone(), c.from.clone(), c.to.clone(), c.kind))
            .collect()
    }

    #[allow(clippy::unnecessary_wraps)] // Reads like the `Option` fields it is compared with.
    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    #[test]
    fn identical_inputs_give_no_changes() {
        let p = [pkg("a", "1.0.0"), pkg("a", "1.0.0"), pkg("b", "2.0.0")];
        assert!(diff_packages(Ecosystem::Npm, &p, &p).is_empty());
    }

    #[test]
    fn several_versions_pair_by_line() {
        let old = [
            pkg("serde", "1.0.100"),
            pkg("serde", "0.9.15"),
            pkg("rand", "0.7.3"),
            pkg("rand", "0.8.5"),
        ];
        let new = [
            pkg("serde", "1.0.200"),
            pkg("serde", "0.9.15"),
            pkg("rand", "0.8.5"),
            pkg("rand", "0.9.0"),
        ];
        assert_eq!(
            summary(&diff_packages(Ecosystem::Cargo, &old, &new)),
            [
                ("rand".into(), s("0.7.3"), s("0.9.0"), ChangeKind::Minor),
                (
                    "serde".into(),
                    s("1.0.100"),
                    s("1.0.200"),
                    ChangeKind::Patch
                ),
            ]
        );
        let old = [pkg("x", "0.8.0"), pkg("x", "1.2.0")];
        let new = [pkg("x", "1.3.0")];
        assert_eq!(
            summary(&diff_packages(Ecosystem::Cargo, &old, &new)),
            [
                ("x".into(), s("0.8.0"), None, ChangeKind::Removed),
                ("x".into(), s("1.2.0"), s("1.3.0"), ChangeKind::Minor),
            ]
        );
    }

    /// Issue 19.5: a name locked at several versions pairs direct with direct.
    #[test]
    fn direct_pairs_with_direct() {
        let with = |version: &str, direct: bool| Package {
            direct: Some(direct),
            ..pkg("rand", version)
        };
        let old = [with("0.7.3", true)];
        let new = [with("0.8.8", true), with("0.9.5", false)];
        assert_eq!(
            summary(&diff_packages(Ecosystem::Cargo, &old, &new)),
            [
                ("rand".into(), s("0.7.3"), s("0.8.8"), ChangeKind::Minor),
                ("rand".into(), None, s("0.9.5"), ChangeKind::Added),
            ]
        );
        // Within one line too: the direct copy's upgrade is the direct one.
        let old = [with("1.2.0", true), with("1.1.0", false)];
        let new = [with("1.3.0", false), with("1.2.5", true)];
        let changes = diff_packages(Ecosystem::Cargo, &old, &new);
        assert_eq!(
            summary(&changes),
            [
                ("rand".into(), s("1.1.0"), s("1.3.0"), ChangeKind::Minor),
                ("rand".into(), s("1.2.0"), s("1.2.5"), ChangeKind::Patch),
            ]
        );
        assert_eq!(changes[1].direct, Some(true));
    }

    /// Issue 19.1: versions inside one PEP 440 epoch keep their own lines.
    #[test]
    fn epochs_do_not_make_one_line() {
        let old = [pkg("x", "1!1.5")];
        let new = [pkg("x", "1!2.0"), pkg("x", "1!1.6")];
        assert_eq!(
            summary(&diff_packages(Ecosystem::Pypi, &old, &new)),
            [
                ("x".into(), s("1!1.5"), s("1!1.6"), ChangeKind::Minor),
                ("x".into(), None, s("1!2.0"), ChangeKind::Added),
            ]
        );
    }

    #[test]
    fn families_pair_first() {
        let old = [
            pkg("nokogiri", "1.15.4-x86_64-linux"),
            pkg("nokogiri", "1.15.4-arm64-darwin"),
        ];
        let new = [
            pkg("nokogiri", "1.16.0-arm64-darwin"),
            pkg("nokogiri", "1.16.0-x86_64-linux"),
        ];
        let changes = diff_packages(Ecosystem::RubyGems, &old, &new);
        assert!(
            changes.iter().all(|c| c.kind == ChangeKind::Minor),
            "{changes:?}"
        );
    }

    #[test]
    fn names_normalise_and_duplicates_merge() {
        let old = [pkg("Django", "4.2.7")];
        let mut direct = pkg("django", "5.1.3");
        direct.direct = Some(true);
        let new = [direct.clone(), pkg("django", "5.1.3")];
        let changes = diff_packages(Ecosystem::Pypi, &old, &new);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].direct, Some(true));
        assert!(changes[0].likely_breaking);
    }

    #[test]
    fn one_name_many_times_stays_fast() {
        let old: Vec<Package> = (0..20_000).map(|i| pkg("a", &format!("1.0.{i}"))).collect();
        let new: Vec<Package> = (10_000..30_000)
            .map(|i| pkg("a", &format!("1.0.{i}")))
            .collect();
        let changes = diff_packages(Ecosystem::Cargo, &old, &new);
        assert_eq!(changes.len(), 10_000);
        assert!(changes.iter().all(|c| c.kind == ChangeKind::Patch));
    }

    #[test]
    fn source_only_change_is_other() {
        let mut a = pkg("dep", "1.0.0");
        a.source = s("git+https://x/dep#aaa");
        let mut b = a.clone();
        b.source = s("git+https://x/dep#bbb");
        let changes = diff_packages(Ecosystem::Cargo, &[a], &[b]);
        assert_eq!(changes[0].kind, ChangeKind::Other);
    }
}

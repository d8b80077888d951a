//! Properties of every version scheme, over generated versions built from the pieces
//! that make orderings go wrong (case, numbers beyond `u64`, trailing zeros, letters
//! next to numbers, metadata, variants): the order is a total preorder (reflexive,
//! antisymmetric, transitive) wherever the scheme orders, [`classify`] says what
//! [`compare`] says, and major and minor steps compose.

use std::cmp::Ordering;

use proptest::prelude::*;
use proptest::sample::select;
use upkeep_deps::version::{classify, compare};
use upkeep_deps::{ChangeKind, Ecosystem};

const BIG: &str = "18446744073709551616"; // u64::MAX + 1

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (0u64..4).prop_map(|n| n.to_string()),
        1 => select(vec!["10", "11", BIG, "99999999999999999999999"]).prop_map(str::to_owned),
    ]
}

fn release(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(number(), 1..=max).prop_map(|parts| parts.join("."))
}

/// npm, Cargo, Go, Composer.
fn semver(prefix: &'static [&'static str]) -> impl Strategy<Value = String> {
    let ident = prop_oneof![
        number(),
        select(vec![
            "alpha", "Alpha", "ALPHA", "beta", "rc", "R2", "r100", "x-y", "0a", "-"
        ])
        .prop_map(str::to_owned),
    ];
    let pre = prop::option::of(prop::collection::vec(ident, 1..=3).prop_map(|ids| ids.join(".")));
    let build = prop::option::of(select(vec!["build.1", "incompatible", "Meta"]));
    (select(prefix.to_vec()), release(4), pre, build).prop_map(|(v, r, pre, build)| {
        let mut s = format!("{v}{r}");
        if let Some(pre) = pre {
            s = format!("{s}-{pre}");
        }
        if let Some(build) = build {
            s = format!("{s}+{build}");
        }
        s
    })
}

fn pep440() -> impl Strategy<Value = String> {
    let pre = prop::option::of((select(vec!["a", "b", "rc", "c", "alpha", "RC"]), 0u64..3));
    let post = prop::option::of(select(vec![".post0", ".post1", ".post2", "-1", ".rev3"]));
    let dev = prop::option::of(select(vec![".dev0", ".dev1", ".DEV2"]));
    let local = prop::option::of(select(vec![
        "+local",
        "+local.1",
        "+1",
        "+1.abc",
        "+Ubuntu.2",
    ]));
    (0u64..3, release(4), pre, post, dev, local).prop_map(|(epoch, r, pre, post, dev, local)| {
        let mut s = if epoch > 0 { format!("{epoch}!{r}") } else { r };
        if let Some((kind, n)) = pre {
            s = format!("{s}{kind}{n}");
        }
        s.push_str(post.unwrap_or(""));
        s.push_str(dev.unwrap_or(""));
        s.push_str(local.unwrap_or(""));
        s
    })
}

fn gem() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        number(),
        select(vec!["a", "b", "A", "pre", "beta", "RC", "rc1", "a1", "1a"]).prop_map(str::to_owned),
    ];
    let platform = select(vec!["", "", "", "-x86_64-linux", "-java"]);
    (number(), prop::collection::vec(segment, 0..=5), platform).prop_map(
        |(first, rest, platform)| {
            let mut s = first;
            for part in rest {
                s = format!("{s}.{part}");
            }
            format!("{s}{platform}")
        },
    )
}

fn tag() -> impl Strategy<Value = String> {
    let pre = select(vec!["", "", "rc1", "b2"]);
    let variant = select(vec![
        "",
        "-slim",
        "-alpine3.18",
        "-alpine3.20",
        "-alpine",
        "-bookworm",
    ]);
    let digest = select(vec!["", "", "@sha256:aa"]);
    (release(3), pre, variant, digest)
        .prop_map(|(r, pre, variant, digest)| format!("{r}{pre}{variant}{digest}"))
}

fn triple<S: Strategy<Value = String>>(make: impl Fn() -> S) -> (S, S, S) {
    (make(), make(), make())
}

/// Checks every property on one triple.
fn check(ecosystem: Ecosystem, a: &str, b: &str, c: &str) -> Result<(), TestCaseError> {
    for v in [a, b, c] {
        if let Some(o) = compare(ecosystem, v, v) {
            prop_assert_eq!(
                o,
                Ordering::Equal,
                "{} {} is not equal to itself",
                ecosystem,
                v
            );
        }
    }
    for (x, y) in [(a, b), (b, c), (a, c)] {
        prop_assert_eq!(
            compare(ecosystem, x, y),
            compare(ecosystem, y, x).map(Ordering::reverse),
            "{} {} {} not antisymmetric",
            ecosystem,
            x,
            y
        );
        agrees(ecosystem, x, y)?;
        agrees(ecosystem, y, x)?;
    }
    if let (Some(ab), Some(bc)) = (compare(ecosystem, a, b), compare(ecosystem, b, c))
        && ab != Ordering::Greater
        && bc != Ordering::Greater
    {
        let want = if ab == Ordering::Equal { bc } else { ab };
        prop_assert_eq!(
            compare(ecosystem, a, c),
            Some(want),
            "{} {} ≤ {} ≤ {} but not transitively",
            ecosystem,
            a,
            b,
            c
        );
    }
    if compare(ecosystem, a, b) == Some(Ordering::Less)
        && compare(ecosystem, b, c) == Some(Ordering::Less)
    {
        // The first release number that moved from a to c is the earlier of the two
        // steps' (post-releases and pre-releases do not compose this way).
        let steps = [
            classify(ecosystem, a, b).kind,
            classify(ecosystem, b, c).kind,
        ];
        let top = [ChangeKind::Major, ChangeKind::Minor]
            .into_iter()
            .find(|k| steps.contains(k));
        if let Some(top) = top {
            prop_assert_eq!(
                classify(ecosystem, a, c).kind,
                top,
                "{} {} → {} → {}: {:?}",
                ecosystem,
                a,
                b,
                c,
                steps
            );
        }
    }
    Ok(())
}

/// `classify` agrees with `compare`: a higher version is an upgrade (or, for PEP 440
/// local labels alone, `other`), a lower one a downgrade, equal or unordered ones
/// `other`; only upgrades may be likely breaking, and every major one is.
fn agrees(ecosystem: Ecosystem, x: &str, y: &str) -> Result<(), TestCaseError> {
    let c = classify(ecosystem, x, y);
    let public = |v: &str| v.split_once('+').map_or(v, |(p, _)| p).to_owned();
    match compare(ecosystem, x, y) {
        Some(Ordering::Less) => {
            let upgrade = matches!(
                c.kind,
                ChangeKind::Major | ChangeKind::Minor | ChangeKind::Patch | ChangeKind::Prerelease
            );
            let local_only = ecosystem == Ecosystem::Pypi
                && c.kind == ChangeKind::Other
                && compare(ecosystem, &public(x), &public(y)) == Some(Ordering::Equal);
            prop_assert!(
                upgrade || local_only,
                "{} {} → {}: {:?}",
                ecosystem,
                x,
                y,
                c
            );
        }
        Some(Ordering::Greater) => {
            prop_assert_eq!(c.kind, ChangeKind::Downgrade, "{} {} → {}", ecosystem, x, y);
        }
        Some(Ordering::Equal) | None => {
            prop_assert_eq!(c.kind, ChangeKind::Other, "{} {} → {}", ecosystem, x, y);
        }
    }
    if c.kind == ChangeKind::Major {
        prop_assert!(c.likely_breaking, "{} {} → {}: {:?}", ecosystem, x, y, c);
    }
    if c.likely_breaking {
        prop_assert!(matches!(
            c.kind,
            ChangeKind::Major | ChangeKind::Minor | ChangeKind::Patch
        ));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn npm((a, b, c) in triple(|| semver(&["", "", "v", "="]))) {
        check(Ecosystem::Npm, &a, &b, &c)?;
    }

    #[test]
    fn cargo((a, b, c) in triple(|| semver(&[""]))) {
        check(Ecosystem::Cargo, &a, &b, &c)?;
    }

    #[test]
    fn go((a, b, c) in triple(|| semver(&["v"]))) {
        check(Ecosystem::Go, &a, &b, &c)?;
    }

    #[test]
    fn packagist((a, b, c) in triple(|| semver(&["", "v"]))) {
        check(Ecosystem::Packagist, &a, &b, &c)?;
    }

    #[test]
    fn pypi((a, b, c) in triple(pep440)) {
        check(Ecosystem::Pypi, &a, &b, &c)?;
    }

    #[test]
    fn rubygems((a, b, c) in triple(gem)) {
        check(Ecosystem::RubyGems, &a, &b, &c)?;
    }

    #[test]
    fn docker((a, b, c) in triple(tag)) {
        check(Ecosystem::Docker, &a, &b, &c)?;
    }
}

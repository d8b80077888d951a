//! Fuzzes the version schemes: two versions (split at the first newline) classified
//! and ordered in every ecosystem, and the renderers on a change between them.

#![no_main]

use libfuzzer_sys::fuzz_target;
use upkeep_deps::version::{classify, compare};
use upkeep_deps::{Change, DiffReport, Ecosystem, LockfileDiff, render_markdown, render_text};

const ECOSYSTEMS: [Ecosystem; 7] = [
    Ecosystem::Pypi,
    Ecosystem::Npm,
    Ecosystem::Cargo,
    Ecosystem::Go,
    Ecosystem::RubyGems,
    Ecosystem::Packagist,
    Ecosystem::Docker,
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (a, b) = text.split_once('\n').unwrap_or((text, ""));
    for ecosystem in ECOSYSTEMS {
        let c = classify(ecosystem, a, b);
        // Ordering must be antisymmetric.
        let ab = compare(ecosystem, a, b);
        let ba = compare(ecosystem, b, a);
        assert_eq!(
            ab.map(std::cmp::Ordering::reverse),
            ba,
            "{ecosystem} {a:?} {b:?}"
        );
        let report = DiffReport {
            lockfiles: vec![LockfileDiff {
                path: a.to_owned(),
                ecosystem,
                changes: vec![Change {
                    name: b.to_owned(),
                    from: Some(a.to_owned()),
                    to: Some(b.to_owned()),
                    kind: c.kind,
                    direct: None,
                    likely_breaking: c.likely_breaking,
                    ecosystem,
                }],
            }],
            errors: Vec::new(),
        };
        let _ = render_markdown(&report);
        let _ = render_text(&report);
    }
});

//! Fuzzes the `yarn.lock` parser; the input's second half is also offered as `package.json`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use upkeep_deps::{Sibling, diff_packages, parse_lockfile};

fuzz_target!(|data: &[u8]| {
    let (lock, manifest) = data.split_at(data.len() / 2);
    let siblings = [Sibling {
        name: "package.json",
        contents: manifest,
    }];
    for (bytes, siblings) in [(data, &[][..]), (lock, &siblings[..])] {
        if let Ok(parsed) = parse_lockfile("yarn.lock", bytes, siblings) {
            let _ = diff_packages(parsed.ecosystem, &parsed.packages, &[]);
        }
    }
});

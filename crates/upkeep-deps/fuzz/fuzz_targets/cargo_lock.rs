//! Fuzzes the `Cargo.lock` parser.

#![no_main]

use libfuzzer_sys::fuzz_target;
use upkeep_deps::{diff_packages, parse_lockfile};

fuzz_target!(|data: &[u8]| {
    if let Ok(parsed) = parse_lockfile("Cargo.lock", data, &[]) {
        let _ = diff_packages(parsed.ecosystem, &parsed.packages, &[]);
    }
});

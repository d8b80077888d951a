//! `Cargo.lock` (v1 to v4).
//!
//! Packages without `source` are the workspace's own crates (or path dependencies,
//! which are part of the project too): left out, and their `dependencies` are the
//! direct ones, so no `Cargo.toml` is needed. Cargo writes a dependency as `name` when
//! the lockfile holds one version of it and as `name version` (or `name version
//! (source)`) when it holds several, so with several versions only the one the
//! workspace asks for is direct.

use std::collections::HashSet;

use serde::Deserialize;

use super::{Ctx, Parsed};
use crate::model::{FileError, Package};

#[derive(Deserialize)]
struct CargoLock {
    version: Option<i64>,
    #[serde(default)]
    package: Vec<CargoPackage>,
    metadata: Option<toml::Table>,
}

#[derive(Deserialize)]
struct CargoPackage {
    name: String,
    version: String,
    source: Option<String>,
    #[serde(default)]
    dependencies: Vec<String>,
}

/// Registry sources are the default; git and alternative registries are worth showing.
fn is_crates_io(source: &str) -> bool {
    source == "registry+https://github.com/rust-lang/crates.io-index"
        || source == "sparse+https://index.crates.io/"
}

pub(crate) fn parse(ctx: &Ctx<'_>, text: &str) -> Result<Parsed, FileError> {
    let lock: CargoLock = ctx.toml(text)?;
    // (name, version when the entry names one)
    let mut direct: HashSet<(String, Option<String>)> = HashSet::new();
    let mut packages = Vec::new();
    for p in lock.package {
        match p.source {
            None => {
                for dependency in &p.dependencies {
                    let mut words = dependency.split_whitespace();
                    if let Some(name) = words.next() {
                        direct.insert((name.to_owned(), words.next().map(str::to_owned)));
                    }
                }
            }
            Some(source) => packages.push(Package {
                name: p.name,
                version: Some(p.version),
                source: (!is_crates_io(&source)).then_some(source),
                direct: None,
            }),
        }
    }
    if !direct.is_empty() {
        for p in &mut packages {
            let any_version = direct.contains(&(p.name.clone(), None));
            let this_version = direct.contains(&(p.name.clone(), p.version.clone()));
            p.direct = Some(any_version || this_version);
        }
    }
    let format_version = match (lock.version, lock.metadata) {
        (Some(v), _) => Some(v.to_string()),
        (None, Some(_)) => Some("1".to_owned()),
        (None, None) => None,
    };
    Ok(Parsed {
        format_version,
        packages,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 19.5, as a lockfile says it: two versions of `rand`, one asked for.
    #[test]
    fn with_several_versions_only_the_named_one_is_direct() {
        let text = r#"
version = 4

[[package]]
name = "app"
version = "0.1.0"
dependencies = ["rand 0.8.8", "serde", "tool"]

[[package]]
name = "tool"
version = "0.1.0"
source = "registry+https://github.com/rust-lang/crates.io-index"
dependencies = ["rand 0.9.5"]

[[package]]
name = "rand"
version = "0.8.8"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "rand"
version = "0.9.5"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "serde"
version = "1.0.200"
source = "registry+https://github.com/rust-lang/crates.io-index"
"#;
        let parsed = parse(&Ctx { path: "Cargo.lock" }, text).unwrap();
        let marks: Vec<(&str, &str, Option<bool>)> = parsed
            .packages
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_deref().unwrap(), p.direct))
            .collect();
        assert_eq!(
            marks,
            [
                ("tool", "0.1.0", Some(true)),
                ("rand", "0.8.8", Some(true)),
                ("rand", "0.9.5", Some(false)),
                ("serde", "1.0.200", Some(true)),
            ]
        );
    }
}

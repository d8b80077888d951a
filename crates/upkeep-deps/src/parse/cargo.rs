//! `Cargo.lock` (v1 to v4).
//!
//! Packages without `source` are the workspace's own crates (or path dependencies,
//! which are part of the project too): left out, and their `dependencies` are the
//! direct ones, so no `Cargo.toml` is needed.

use std::collections::HashSet;

use serde::Deserialize;

use super::{Ctx, Parsed, mark_direct};
use crate::model::{Ecosystem, FileError, Package};

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
    let mut direct = HashSet::new();
    let mut packages = Vec::new();
    for p in lock.package {
        match p.source {
            None => {
                direct.extend(
                    p.dependencies
                        .iter()
                        .filter_map(|d| d.split_whitespace().next())
                        .map(str::to_owned),
                );
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
        mark_direct(Ecosystem::Cargo, &mut packages, &direct);
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

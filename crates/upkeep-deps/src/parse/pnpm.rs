//! `pnpm-lock.yaml`, lockfile versions 5.x, 6.0 and 9.0.
//!
//! Packages are the keys of `packages`: `/name/1.0.0_peer` (v5), `/name@1.0.0(peer)`
//! (v6), `name@1.0.0` (v9). The same version with different peer sets is one package.
//! Direct dependencies are those of the importers (v9 and workspaces) or the top-level
//! `dependencies` maps (v5/v6 single projects).

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;

use super::npm::npm_source;
use super::{Ctx, Keys, Parsed, mark_direct};
use crate::model::{Ecosystem, FileError, Package};

type Deps = Option<Keys>;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PnpmLock {
    lockfile_version: Option<serde_yaml_ng::Value>,
    importers: Option<BTreeMap<String, Importer>>,
    dependencies: Deps,
    dev_dependencies: Deps,
    optional_dependencies: Deps,
    packages: Option<BTreeMap<String, Option<PnpmPackage>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Importer {
    dependencies: Deps,
    dev_dependencies: Deps,
    optional_dependencies: Deps,
}

#[derive(Deserialize)]
struct PnpmPackage {
    name: Option<String>,
    version: Option<String>,
    resolution: Option<Resolution>,
}

#[derive(Deserialize)]
struct Resolution {
    tarball: Option<String>,
    repo: Option<String>,
    commit: Option<String>,
}

pub(crate) fn parse(
    ctx: &Ctx<'_>,
    text: &str,
    manifest: Option<HashSet<String>>,
) -> Result<Parsed, FileError> {
    let lock: PnpmLock = ctx.yaml(text)?;
    let format_version = lock.lockfile_version.map(|v| match v {
        serde_yaml_ng::Value::String(s) => s,
        serde_yaml_ng::Value::Number(n) => n.to_string(),
        _ => String::new(),
    });
    let v5 = format_version
        .as_deref()
        .is_some_and(|v| v.starts_with('5'));
    if lock.packages.is_none() && lock.importers.is_none() && lock.dependencies.is_none() {
        return Err(ctx.error("not a pnpm lockfile: no `packages`, `importers` or `dependencies`"));
    }

    let mut direct: Option<HashSet<String>> = manifest;
    let mut add_direct = |deps: [Deps; 3]| {
        let names = direct.get_or_insert_with(HashSet::new);
        for d in deps.into_iter().flatten() {
            names.extend(d.0);
        }
    };
    if lock.dependencies.is_some() || lock.dev_dependencies.is_some() {
        add_direct([
            lock.dependencies,
            lock.dev_dependencies,
            lock.optional_dependencies,
        ]);
    }
    for importer in lock.importers.into_iter().flat_map(BTreeMap::into_values) {
        add_direct([
            importer.dependencies,
            importer.dev_dependencies,
            importer.optional_dependencies,
        ]);
    }

    let mut packages = Vec::new();
    for (key, entry) in lock.packages.unwrap_or_default() {
        let (key_name, key_version) = split_key(&key, v5);
        let entry = entry.unwrap_or(PnpmPackage {
            name: None,
            version: None,
            resolution: None,
        });
        let source = entry.resolution.and_then(|r| match (r.repo, r.commit) {
            (Some(repo), Some(commit)) => Some(format!("{repo}#{commit}")),
            _ => npm_source(r.tarball),
        });
        packages.push(Package {
            name: entry.name.unwrap_or_else(|| key_name.to_owned()),
            version: entry
                .version
                .or_else(|| (!key_version.is_empty()).then(|| key_version.to_owned())),
            source,
            direct: None,
        });
    }
    if let Some(names) = direct {
        mark_direct(Ecosystem::Npm, &mut packages, &names);
    }
    Ok(Parsed {
        format_version,
        packages,
    })
}

/// Splits a `packages` key into name and version, without peer suffixes.
fn split_key(key: &str, v5: bool) -> (&str, &str) {
    let key = key.strip_prefix('/').unwrap_or(key);
    if v5 {
        let key = key.split('(').next().unwrap_or(key);
        return match key.rfind('/') {
            Some(i) if i > 0 => {
                let version = &key[i + 1..];
                (&key[..i], version.split('_').next().unwrap_or(version))
            }
            _ => (key, ""),
        };
    }
    let key = key.split('(').next().unwrap_or(key);
    match key.get(1..).and_then(|rest| rest.find('@')) {
        Some(i) => (&key[..=i], &key[i + 2..]),
        None => (key, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert_eq!(split_key("/lodash/4.17.21", true), ("lodash", "4.17.21"));
        assert_eq!(
            split_key("/@babel/core/7.0.0_peer@1.0.0", true),
            ("@babel/core", "7.0.0")
        );
        assert_eq!(split_key("/lodash@4.17.21", false), ("lodash", "4.17.21"));
        assert_eq!(
            split_key("/@babel/core@7.0.0(peer@1.0.0)", false),
            ("@babel/core", "7.0.0")
        );
        assert_eq!(split_key("@s/a@1.0.0", false), ("@s/a", "1.0.0"));
        assert_eq!(split_key("weird", false), ("weird", ""));
    }
}

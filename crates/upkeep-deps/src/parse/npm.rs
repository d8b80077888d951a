//! npm's `package-lock.json` / `npm-shrinkwrap.json`, v1 to v3.
//!
//! v2 and v3 list every installed copy under `packages` keyed by its
//! `node_modules/…` path, so one name can appear at several versions (nested copies).
//! The root entry (`""`) and workspace folders are the project itself: left out, and
//! their dependencies are the direct ones. v1 nests `dependencies` objects instead and
//! has no root entry; `package.json` says what is direct.

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;

use super::{Ctx, Keys, Parsed, mark_direct};
use crate::model::{Ecosystem, FileError, Package};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PackageLock {
    lockfile_version: Option<serde_json::Value>,
    packages: Option<BTreeMap<String, Entry>>,
    dependencies: Option<BTreeMap<String, V1Entry>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    version: Option<String>,
    resolved: Option<String>,
    #[serde(default)]
    link: bool,
    dependencies: Option<Keys>,
    dev_dependencies: Option<Keys>,
    optional_dependencies: Option<Keys>,
    peer_dependencies: Option<Keys>,
}

#[derive(Deserialize)]
struct V1Entry {
    version: Option<String>,
    resolved: Option<String>,
    dependencies: Option<BTreeMap<String, V1Entry>>,
}

/// Registry tarball URLs carry no information a reader needs; git and file URLs do.
pub(crate) fn npm_source(resolved: Option<String>) -> Option<String> {
    resolved.filter(|r| !r.contains("/-/"))
}

pub(crate) fn package_lock(
    ctx: &Ctx<'_>,
    text: &str,
    manifest: Option<HashSet<String>>,
) -> Result<Parsed, FileError> {
    let lock: PackageLock = ctx.json(text)?;
    let format_version = lock.lockfile_version.map(|v| v.to_string());
    let mut packages = Vec::new();
    let mut direct: Option<HashSet<String>> = manifest;
    if let Some(entries) = lock.packages {
        for (key, entry) in entries {
            let Some(name) = installed_name(&key) else {
                // The root or a workspace folder: the project's own package.
                let names = direct.get_or_insert_with(HashSet::new);
                for deps in [
                    entry.dependencies,
                    entry.dev_dependencies,
                    entry.optional_dependencies,
                    entry.peer_dependencies,
                ]
                .into_iter()
                .flatten()
                {
                    names.extend(deps.0);
                }
                continue;
            };
            if entry.link {
                continue;
            }
            packages.push(Package {
                name: name.to_owned(),
                version: entry.version,
                source: npm_source(entry.resolved),
                direct: None,
            });
        }
    } else if let Some(deps) = lock.dependencies {
        let mut stack: Vec<(String, V1Entry)> = deps.into_iter().collect();
        stack.reverse();
        while let Some((name, entry)) = stack.pop() {
            if let Some(nested) = entry.dependencies {
                stack.extend(nested.into_iter().rev());
            }
            packages.push(Package {
                name,
                version: entry.version,
                source: npm_source(entry.resolved),
                direct: None,
            });
        }
    }
    if let Some(names) = direct {
        mark_direct(Ecosystem::Npm, &mut packages, &names);
    }
    Ok(Parsed {
        format_version,
        packages,
    })
}

/// `node_modules/a/node_modules/@s/b` → `@s/b`; `None` for paths outside `node_modules`.
fn installed_name(key: &str) -> Option<&str> {
    let i = key.rfind("node_modules/")?;
    if i != 0 && !key[..i].ends_with('/') {
        return None;
    }
    let name = &key[i + "node_modules/".len()..];
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installed_names() {
        assert_eq!(installed_name("node_modules/a"), Some("a"));
        assert_eq!(
            installed_name("node_modules/a/node_modules/@s/b"),
            Some("@s/b")
        );
        assert_eq!(installed_name(""), None);
        assert_eq!(installed_name("packages/app"), None);
        assert_eq!(installed_name("packages/app/node_modules/x"), Some("x"));
    }
}

//! Python lockfiles with a structured format: `Pipfile.lock`, `poetry.lock`, `uv.lock`.

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;

use super::{Ctx, Parsed, mark_direct, normalize_name};
use crate::model::{Ecosystem, FileError, Package};

#[derive(Deserialize)]
struct PipfileEntry {
    version: Option<String>,
    git: Option<String>,
    #[serde(rename = "ref")]
    reference: Option<String>,
    path: Option<String>,
    file: Option<String>,
}

/// `Pipfile.lock`: JSON, one object per category (`default`, `develop`, custom
/// categories) mapping names to `{"version": "==1.2.3", …}` or git/path entries.
pub(crate) fn pipfile_lock(
    ctx: &Ctx<'_>,
    text: &str,
    manifest: Option<HashSet<String>>,
) -> Result<Parsed, FileError> {
    let root: BTreeMap<String, serde_json::Value> = ctx.json(text)?;
    let format_version = root
        .get("_meta")
        .and_then(|m| m.get("pipfile-spec"))
        .map(ToString::to_string);
    let mut packages = Vec::new();
    // `default` first, then `develop`, then the other categories: a stable order.
    let mut keys: Vec<&String> = root.keys().filter(|k| *k != "_meta").collect();
    keys.sort_by_key(|k| (k.as_str() != "default", k.as_str() != "develop", k.as_str()));
    for key in keys {
        let section: BTreeMap<String, PipfileEntry> = serde_json::from_value(root[key].clone())
            .map_err(|e| ctx.error(format!("invalid Pipfile.lock section `{key}`: {e}")))?;
        for (name, entry) in section {
            let version = entry
                .version
                .map(|v| v.strip_prefix("==").unwrap_or(&v).to_owned());
            let source = match (entry.git, entry.reference) {
                (Some(git), Some(r)) => Some(format!("{git}#{r}")),
                (Some(git), None) => Some(git),
                _ => entry.path.or(entry.file),
            };
            packages.push(Package {
                name,
                version,
                source,
                direct: None,
            });
        }
    }
    if let Some(names) = manifest {
        mark_direct(Ecosystem::Pypi, &mut packages, &names);
    }
    Ok(Parsed {
        format_version,
        packages,
    })
}

#[derive(Deserialize)]
struct PoetryLock {
    #[serde(default)]
    package: Vec<PoetryPackage>,
    metadata: Option<PoetryMetadata>,
}

#[derive(Deserialize)]
struct PoetryMetadata {
    #[serde(rename = "lock-version")]
    lock_version: Option<String>,
}

#[derive(Deserialize)]
struct PoetryPackage {
    name: String,
    version: String,
    source: Option<PoetrySource>,
}

#[derive(Deserialize)]
struct PoetrySource {
    #[serde(rename = "type")]
    kind: Option<String>,
    url: Option<String>,
    resolved_reference: Option<String>,
}

/// `poetry.lock`: TOML `[[package]]` tables; direct names come from `pyproject.toml`.
pub(crate) fn poetry_lock(
    ctx: &Ctx<'_>,
    text: &str,
    manifest: Option<HashSet<String>>,
) -> Result<Parsed, FileError> {
    let lock: PoetryLock = ctx.toml(text)?;
    let mut packages: Vec<Package> = lock
        .package
        .into_iter()
        .map(|p| Package {
            name: p.name,
            version: Some(p.version),
            source: p.source.and_then(|s| match (s.kind.as_deref(), s.url) {
                (Some("git"), Some(url)) => Some(match s.resolved_reference {
                    Some(r) => format!("{url}#{r}"),
                    None => url,
                }),
                (_, url) => url,
            }),
            direct: None,
        })
        .collect();
    if let Some(names) = manifest {
        mark_direct(Ecosystem::Pypi, &mut packages, &names);
    }
    Ok(Parsed {
        format_version: lock.metadata.and_then(|m| m.lock_version),
        packages,
    })
}

#[derive(Deserialize)]
struct UvLock {
    version: Option<toml::Value>,
    #[serde(default)]
    package: Vec<UvPackage>,
}

#[derive(Deserialize)]
struct UvPackage {
    name: String,
    version: Option<String>,
    source: Option<BTreeMap<String, toml::Value>>,
    #[serde(default)]
    dependencies: Vec<UvDependency>,
    #[serde(rename = "optional-dependencies", default)]
    optional_dependencies: BTreeMap<String, Vec<UvDependency>>,
    #[serde(rename = "dev-dependencies", default)]
    dev_dependencies: BTreeMap<String, Vec<UvDependency>>,
}

#[derive(Deserialize)]
struct UvDependency {
    name: String,
}

/// `uv.lock`: TOML `[[package]]` tables. The project's own packages (source
/// `editable` or `virtual`) are left out, and their dependencies are the direct ones.
pub(crate) fn uv_lock(
    ctx: &Ctx<'_>,
    text: &str,
    manifest: Option<HashSet<String>>,
) -> Result<Parsed, FileError> {
    let lock: UvLock = ctx.toml(text)?;
    let mut direct: Option<HashSet<String>> = None;
    let mut packages = Vec::new();
    for p in lock.package {
        let source = p.source.unwrap_or_default();
        if source.contains_key("editable") || source.contains_key("virtual") {
            let names = direct.get_or_insert_with(HashSet::new);
            names.extend(
                p.dependencies
                    .iter()
                    .chain(p.optional_dependencies.values().flatten())
                    .chain(p.dev_dependencies.values().flatten())
                    .map(|d| normalize_name(Ecosystem::Pypi, &d.name)),
            );
            continue;
        }
        let source = source
            .iter()
            .find(|(k, _)| k.as_str() != "registry")
            .and_then(|(_, v)| v.as_str().map(str::to_owned));
        packages.push(Package {
            name: p.name,
            version: p.version,
            source,
            direct: None,
        });
    }
    if let Some(names) = manifest {
        direct.get_or_insert_with(HashSet::new).extend(names);
    }
    if let Some(names) = direct {
        mark_direct(Ecosystem::Pypi, &mut packages, &names);
    }
    Ok(Parsed {
        format_version: lock.version.map(|v| match v {
            toml::Value::String(s) => s,
            other => other.to_string(),
        }),
        packages,
    })
}

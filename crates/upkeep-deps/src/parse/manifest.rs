//! Manifests beside lockfiles: which names the project asks for directly.
//!
//! Each function returns the normalised direct names, or `None` when the manifest does
//! not parse or declares no dependencies in a form we read (then nothing is marked).

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;

use super::normalize_name;
use crate::model::Ecosystem;

/// The distribution name at the start of a PEP 508 requirement.
pub(crate) fn pep508_name(requirement: &str) -> Option<&str> {
    let r = requirement.trim_start();
    let end = r
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(r.len());
    let name = &r[..end];
    (!name.is_empty() && name.starts_with(|c: char| c.is_ascii_alphanumeric())).then_some(name)
}

fn pypi(names: impl IntoIterator<Item = impl AsRef<str>>) -> HashSet<String> {
    names
        .into_iter()
        .map(|n| normalize_name(Ecosystem::Pypi, n.as_ref()))
        .collect()
}

/// `requirements.in`: every requirement line names a direct dependency.
pub(crate) fn requirements_in(text: &str) -> HashSet<String> {
    pypi(text.lines().filter_map(|line| {
        let line = line.split(" #").next().unwrap_or("").trim();
        if line.starts_with('#') || line.starts_with('-') {
            return None;
        }
        // `name @ url` and plain pins both start with the name.
        pep508_name(line)
    }))
}

#[derive(Deserialize)]
struct Pyproject {
    project: Option<Project>,
    #[serde(rename = "dependency-groups")]
    dependency_groups: Option<BTreeMap<String, Vec<toml::Value>>>,
    tool: Option<Tool>,
}

#[derive(Deserialize)]
struct Project {
    dependencies: Option<Vec<String>>,
    #[serde(rename = "optional-dependencies")]
    optional_dependencies: Option<BTreeMap<String, Vec<String>>>,
}

#[derive(Deserialize)]
struct Tool {
    poetry: Option<Poetry>,
    uv: Option<Uv>,
}

#[derive(Deserialize)]
struct Poetry {
    dependencies: Option<BTreeMap<String, toml::Value>>,
    #[serde(rename = "dev-dependencies")]
    dev_dependencies: Option<BTreeMap<String, toml::Value>>,
    group: Option<BTreeMap<String, PoetryGroup>>,
}

#[derive(Deserialize)]
struct PoetryGroup {
    dependencies: Option<BTreeMap<String, toml::Value>>,
}

#[derive(Deserialize)]
struct Uv {
    #[serde(rename = "dev-dependencies")]
    dev_dependencies: Option<Vec<String>>,
}

/// `pyproject.toml`: PEP 621 `[project]` dependencies and extras, PEP 735 dependency
/// groups, Poetry's dependency tables (without `python`), uv's dev-dependencies.
pub(crate) fn pyproject(text: &str) -> Option<HashSet<String>> {
    let p: Pyproject = toml::from_str(text).ok()?;
    let mut found = false;
    let mut names: Vec<String> = Vec::new();
    if let Some(project) = p.project {
        for req in project.dependencies.iter().flatten().chain(
            project
                .optional_dependencies
                .iter()
                .flat_map(|m| m.values().flatten()),
        ) {
            found = true;
            names.extend(pep508_name(req).map(str::to_owned));
        }
        found |= project.dependencies.is_some();
    }
    for req in p
        .dependency_groups
        .iter()
        .flat_map(|g| g.values().flatten())
    {
        found = true;
        if let Some(s) = req.as_str() {
            names.extend(pep508_name(s).map(str::to_owned));
        }
    }
    if let Some(tool) = p.tool {
        if let Some(poetry) = tool.poetry {
            let tables = poetry
                .dependencies
                .into_iter()
                .chain(poetry.dev_dependencies)
                .chain(
                    poetry
                        .group
                        .into_iter()
                        .flat_map(|g| g.into_values().filter_map(|group| group.dependencies)),
                );
            for table in tables {
                found = true;
                names.extend(table.into_keys().filter(|k| k != "python"));
            }
        }
        if let Some(dev) = tool.uv.and_then(|uv| uv.dev_dependencies) {
            found = true;
            names.extend(dev.iter().filter_map(|r| pep508_name(r)).map(str::to_owned));
        }
    }
    found.then(|| pypi(names))
}

/// `Pipfile`: every table of packages (`[packages]`, `[dev-packages]`, custom
/// categories), not `[source]`, `[requires]`, `[scripts]`, `[pipenv]`.
pub(crate) fn pipfile(text: &str) -> Option<HashSet<String>> {
    let table: toml::Table = toml::from_str(text).ok()?;
    let mut names = Vec::new();
    for (key, value) in &table {
        if matches!(key.as_str(), "source" | "requires" | "scripts" | "pipenv") {
            continue;
        }
        if let Some(t) = value.as_table() {
            names.extend(t.keys().cloned());
        }
    }
    Some(pypi(names))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PackageJson {
    dependencies: Option<BTreeMap<String, serde_json::Value>>,
    dev_dependencies: Option<BTreeMap<String, serde_json::Value>>,
    optional_dependencies: Option<BTreeMap<String, serde_json::Value>>,
    peer_dependencies: Option<BTreeMap<String, serde_json::Value>>,
}

/// `package.json`: dependencies, devDependencies, optionalDependencies,
/// peerDependencies.
pub(crate) fn package_json(text: &str) -> Option<HashSet<String>> {
    let p: PackageJson = serde_json::from_str(text).ok()?;
    Some(
        [
            p.dependencies,
            p.dev_dependencies,
            p.optional_dependencies,
            p.peer_dependencies,
        ]
        .into_iter()
        .flatten()
        .flat_map(BTreeMap::into_keys)
        .collect(),
    )
}

#[derive(Deserialize)]
struct ComposerJson {
    require: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(rename = "require-dev")]
    require_dev: Option<BTreeMap<String, serde_json::Value>>,
}

/// `composer.json`: require and require-dev (platform packages like `php` and `ext-*`
/// are not in the lockfile anyway).
pub(crate) fn composer_json(text: &str) -> Option<HashSet<String>> {
    let c: ComposerJson = serde_json::from_str(text).ok()?;
    Some(
        [c.require, c.require_dev]
            .into_iter()
            .flatten()
            .flat_map(BTreeMap::into_keys)
            .map(|n| n.to_ascii_lowercase())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pyproject_reads_every_dependency_table() {
        let text = r#"
[project]
name = "app"
dependencies = ["Django>=4.2", "requests[socks] ; python_version > '3'"]
[project.optional-dependencies]
yaml = ["PyYAML"]
[dependency-groups]
dev = ["pytest>=8", { include-group = "lint" }]
[tool.poetry.dependencies]
python = "^3.11"
httpx = "*"
[tool.poetry.group.test.dependencies]
coverage = "*"
"#;
        let names = pyproject(text).unwrap();
        for n in [
            "django", "requests", "pyyaml", "pytest", "httpx", "coverage",
        ] {
            assert!(names.contains(n), "{n}");
        }
        assert!(!names.contains("python"));
        assert_eq!(pyproject("[project]\nname = \"x\"\n"), None);
    }

    #[test]
    fn requirements_in_names() {
        let names =
            requirements_in("# c\nDjango>=4.2  # web\n-c constraints.txt\nrequests[socks]\n");
        assert_eq!(names, HashSet::from(["django".into(), "requests".into()]));
    }
}

//! `yarn.lock`: classic (v1, yarn's own indented format) and Berry (YAML).
//!
//! Classic has no notion of the project, so `package.json` says what is direct. Berry
//! lists the project's workspaces (`name@workspace:…`): they are left out and their
//! dependencies are the direct ones.

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;

use super::npm::npm_source;
use super::{Ctx, Keys, Parsed, mark_direct};
use crate::model::{Ecosystem, FileError, Package};

pub(crate) fn parse(
    ctx: &Ctx<'_>,
    text: &str,
    manifest: Option<HashSet<String>>,
) -> Result<Parsed, FileError> {
    if text.lines().any(|l| l.starts_with("__metadata:")) {
        berry(ctx, text, manifest)
    } else {
        classic(ctx, text, manifest)
    }
}

/// The package name of a descriptor: `@s/a@^1` → `@s/a`, `a@npm:b@^1` → `a`.
fn descriptor_name(descriptor: &str) -> &str {
    let d = descriptor.trim().trim_matches('"');
    match d.get(1..).and_then(|rest| rest.find('@')) {
        Some(i) => &d[..=i],
        None => d,
    }
}

fn unquote(s: &str) -> String {
    let s = s.trim();
    if s.len() >= 2 && s.starts_with('"') && s.ends_with('"') {
        s[1..s.len() - 1].replace("\\\"", "\"")
    } else {
        s.to_owned()
    }
}

struct Block {
    line: usize,
    name: String,
    version: Option<String>,
    resolved: Option<String>,
}

fn classic(
    ctx: &Ctx<'_>,
    text: &str,
    manifest: Option<HashSet<String>>,
) -> Result<Parsed, FileError> {
    let mut packages = Vec::new();
    let mut current: Option<Block> = None;
    let finish = |block: Option<Block>, packages: &mut Vec<Package>| -> Result<(), FileError> {
        if let Some(b) = block {
            let Some(version) = b.version else {
                return Err(ctx.error_line(b.line, format!("entry `{}` has no version", b.name)));
            };
            packages.push(Package {
                name: b.name,
                version: Some(version),
                source: npm_source(b.resolved),
                direct: None,
            });
        }
        Ok(())
    };
    let mut format_version = None;
    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        if line.starts_with('#') {
            if let Some(v) = line.strip_prefix("# yarn lockfile v") {
                format_version = Some(v.trim().to_owned());
            }
            continue;
        }
        let indent = line.len() - line.trim_start_matches(' ').len();
        if indent == 0 {
            let Some(keys) = line.trim_end().strip_suffix(':') else {
                return Err(ctx.error_line(line_no, "expected `descriptor[, descriptor…]:`"));
            };
            finish(current.take(), &mut packages)?;
            let first = keys.split(", ").next().unwrap_or(keys);
            let name = descriptor_name(first);
            if name.is_empty() {
                return Err(ctx.error_line(line_no, "empty package descriptor"));
            }
            current = Some(Block {
                line: line_no,
                name: name.to_owned(),
                version: None,
                resolved: None,
            });
        } else if indent == 2 {
            let Some(block) = current.as_mut() else {
                return Err(ctx.error_line(line_no, "field outside of an entry"));
            };
            let field = line.trim();
            let (key, value) = field.split_once(' ').unwrap_or((field, ""));
            match unquote(key).as_str() {
                "version" => block.version = Some(unquote(value)),
                "resolved" => block.resolved = Some(unquote(value)),
                _ => {}
            }
        } else if current.is_none() {
            return Err(ctx.error_line(line_no, "indented line outside of an entry"));
        }
    }
    finish(current, &mut packages)?;
    if let Some(names) = manifest {
        mark_direct(Ecosystem::Npm, &mut packages, &names);
    }
    Ok(Parsed {
        format_version,
        packages,
    })
}

#[derive(Deserialize)]
struct BerryEntry {
    version: Option<String>,
    resolution: Option<String>,
    dependencies: Option<Keys>,
    #[serde(rename = "peerDependencies")]
    peer_dependencies: Option<Keys>,
}

fn berry(
    ctx: &Ctx<'_>,
    text: &str,
    manifest: Option<HashSet<String>>,
) -> Result<Parsed, FileError> {
    // Typed straight from the text: going through `Value` would turn `1.10` into 1.1.
    let mut root: BTreeMap<String, Option<BerryEntry>> = ctx.yaml(text)?;
    let format_version = root
        .remove("__metadata")
        .flatten()
        .and_then(|m| m.version)
        .map(|v| format!("berry {v}"));
    let mut packages = Vec::new();
    let mut direct = manifest;
    for (key, entry) in root {
        let Some(entry) = entry else {
            return Err(ctx.error(format!("entry `{key}` is empty")));
        };
        let resolution = entry.resolution.unwrap_or_else(|| key.clone());
        let name = descriptor_name(&resolution).to_owned();
        let reference = resolution
            .get(name.len() + 1..)
            .unwrap_or_default()
            .to_owned();
        let protocol = reference.split(':').next().unwrap_or_default();
        match protocol {
            "workspace" => {
                let names = direct.get_or_insert_with(HashSet::new);
                for deps in [entry.dependencies, entry.peer_dependencies]
                    .into_iter()
                    .flatten()
                {
                    names.extend(deps.0);
                }
            }
            "link" | "portal" => {}
            _ => packages.push(Package {
                name,
                version: entry.version,
                source: (!matches!(protocol, "npm" | "patch")).then_some(reference),
                direct: None,
            }),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_names() {
        assert_eq!(descriptor_name("\"@babel/core@^7.0.0\""), "@babel/core");
        assert_eq!(descriptor_name("lodash@^4.17.21"), "lodash");
        assert_eq!(descriptor_name("a@npm:b@^1"), "a");
    }

    #[test]
    fn berry_keeps_versions_as_written() {
        let text = "__metadata:\n  version: 8\n\n\"a@npm:^1.10\":\n  version: 1.10\n  resolution: \"a@npm:1.10\"\n";
        let p = parse(&Ctx { path: "yarn.lock" }, text, None).unwrap();
        assert_eq!(p.packages[0].version.as_deref(), Some("1.10"));
        assert_eq!(p.format_version.as_deref(), Some("berry 8"));
    }
}

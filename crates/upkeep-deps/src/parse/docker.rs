//! Container images: `FROM` lines of Dockerfiles and `image:` keys of compose files.
//!
//! The package is the image repository (`python`, `ghcr.io/org/app`), the version its
//! tag as written, with `@digest` appended when pinned. Dockerfiles: global `ARG`
//! defaults (before the first `FROM`) are substituted, `--platform` is skipped, and
//! `FROM <earlier stage>` and `scratch` are not images. Heredocs are skipped.
//! Unresolvable variables stay as written. Every image is direct.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::{Ctx, Parsed};
use crate::model::{FileError, Package};

const INSTRUCTIONS: &[&str] = &[
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// Substitutes `$X`, `${X}`, `${X:-default}` and `${X-default}`; unknown variables
/// without a default are kept as written.
fn substitute(text: &str, vars: &HashMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            // `$$` is a literal dollar in compose files.
            out.push('$');
            rest = stripped;
        } else if let Some(inner) = after.strip_prefix('{') {
            let Some(end) = inner.find('}') else {
                out.push_str(&rest[i..]);
                return out;
            };
            let expr = &inner[..end];
            let (name, default) = match expr.find([':', '-']) {
                Some(j) => {
                    let op = &expr[j..];
                    let default = op
                        .strip_prefix(":-")
                        .or_else(|| op.strip_prefix('-'))
                        .map(str::to_owned);
                    (&expr[..j], default)
                }
                None => (expr, None),
            };
            match vars
                .get(name)
                .filter(|v| !v.is_empty())
                .cloned()
                .or(default)
            {
                Some(value) => out.push_str(&value),
                None => out.push_str(&rest[i..=i + 2 + end]),
            }
            rest = &inner[end + 1..];
        } else {
            let len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            let name = &after[..len];
            match vars.get(name) {
                Some(value) if len > 0 => out.push_str(value),
                _ => {
                    out.push('$');
                    out.push_str(name);
                }
            }
            rest = &after[len..];
        }
    }
    out.push_str(rest);
    out
}

/// `registry/repo:tag@digest` → a package; `None` for `scratch`.
fn image(reference: &str) -> Option<Package> {
    if reference.is_empty() || reference == "scratch" {
        return None;
    }
    let (rest, digest) = match reference.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (reference, None),
    };
    let slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[slash..].rfind(':') {
        Some(i) => (&rest[..slash + i], Some(&rest[slash + i + 1..])),
        None => (rest, None),
    };
    let version = match (tag, digest) {
        (Some(t), Some(d)) => Some(format!("{t}@{d}")),
        (Some(t), None) => Some(t.to_owned()),
        (None, Some(d)) => Some(format!("@{d}")),
        (None, None) => None,
    };
    Some(Package {
        name: name.to_owned(),
        version,
        source: None,
        direct: Some(true),
    })
}

/// A Dockerfile's logical lines (continuations joined, comments dropped, heredoc
/// bodies skipped), each with the line number it starts on.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut escape = '\\';
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    let mut heredoc: Option<(String, bool)> = None;
    let mut directives_allowed = true;
    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        if let Some((word, strip_tabs)) = &heredoc {
            let candidate = if *strip_tabs {
                raw.trim_start_matches('\t')
            } else {
                raw
            };
            if candidate == word {
                heredoc = None;
            }
            continue;
        }
        let trimmed = raw.trim();
        if let Some(comment) = trimmed.strip_prefix('#') {
            if directives_allowed
                && let Some(value) = comment.trim().strip_prefix("escape=")
                && value.trim() == "`"
            {
                escape = '`';
            }
            continue;
        }
        directives_allowed = false;
        if trimmed.is_empty() && current.is_none() {
            continue;
        }
        let (start, mut text) = current.take().unwrap_or((line_no, String::new()));
        if let Some(head) = trimmed.strip_suffix(escape) {
            text.push_str(head);
            text.push(' ');
            current = Some((start, text));
            continue;
        }
        text.push_str(trimmed);
        if let Some(word) = heredoc_word(&text) {
            heredoc = Some(word);
        }
        out.push((start, text));
    }
    if let Some(last) = current {
        out.push(last);
    }
    out
}

/// `RUN <<EOF` / `<<-"EOF"` → the terminator and whether tabs are stripped.
fn heredoc_word(line: &str) -> Option<(String, bool)> {
    let i = line.find("<<")?;
    let after = &line[i + 2..];
    let (after, strip) = match after.strip_prefix('-') {
        Some(a) => (a, true),
        None => (after, false),
    };
    let word: String = after
        .trim_start_matches(['"', '\''])
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!word.is_empty()).then_some((word, strip))
}

pub(crate) fn dockerfile(ctx: &Ctx<'_>, text: &str) -> Result<Parsed, FileError> {
    let mut globals: HashMap<String, String> = HashMap::new();
    let mut stages: HashSet<String> = HashSet::new();
    let mut seen_from = false;
    let mut packages = Vec::new();
    for (line_no, line) in logical_lines(text) {
        let (word, args) = line
            .split_once(char::is_whitespace)
            .unwrap_or((line.as_str(), ""));
        let instruction = word.to_ascii_uppercase();
        if !INSTRUCTIONS.contains(&instruction.as_str()) {
            return Err(ctx.error_line(line_no, format!("unknown instruction `{word}`")));
        }
        match instruction.as_str() {
            "ARG" if !seen_from => {
                for decl in args.split_whitespace() {
                    let (name, value) = decl.split_once('=').unwrap_or((decl, ""));
                    let value = value.trim_matches(['"', '\'']);
                    globals.insert(name.to_owned(), substitute(value, &globals));
                }
            }
            "FROM" => {
                seen_from = true;
                let mut tokens = args.split_whitespace().filter(|t| !t.starts_with("--"));
                let Some(reference) = tokens.next() else {
                    return Err(ctx.error_line(line_no, "`FROM` without an image"));
                };
                let reference = substitute(reference, &globals);
                let alias = match (tokens.next(), tokens.next()) {
                    (Some(kw), Some(name)) if kw.eq_ignore_ascii_case("as") => {
                        Some(name.to_ascii_lowercase())
                    }
                    (None, _) => None,
                    _ => {
                        return Err(ctx.error_line(line_no, "expected `FROM image [AS name]`"));
                    }
                };
                if !stages.contains(&reference.to_ascii_lowercase()) {
                    packages.extend(image(&reference));
                }
                stages.extend(alias);
            }
            _ => {}
        }
    }
    if !seen_from {
        return Err(ctx.error("no `FROM` instruction"));
    }
    Ok(Parsed {
        format_version: None,
        packages,
    })
}

pub(crate) fn compose(ctx: &Ctx<'_>, text: &str) -> Result<Parsed, FileError> {
    let mut value: serde_yaml_ng::Value = ctx.yaml(text)?;
    value
        .apply_merge()
        .map_err(|e| ctx.error(format!("invalid YAML merge key: {e}")))?;
    let services = match value.get("services") {
        Some(serde_yaml_ng::Value::Mapping(m)) => Some(m),
        Some(serde_yaml_ng::Value::Null) => None,
        Some(_) => return Err(ctx.error("`services` is not a mapping")),
        None if value.is_mapping() || value.is_null() => None,
        None => return Err(ctx.error("not a compose file: expected a mapping")),
    };
    let vars = HashMap::new();
    let mut images = BTreeMap::new();
    for (service, definition) in services.into_iter().flatten() {
        if let Some(reference) = definition.get("image").and_then(|v| v.as_str()) {
            images.insert(
                service.as_str().unwrap_or_default().to_owned(),
                substitute(reference, &vars),
            );
        }
    }
    Ok(Parsed {
        format_version: None,
        packages: images.values().filter_map(|r| image(r)).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn versions(p: &Parsed) -> Vec<(&str, Option<&str>)> {
        p.packages
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_deref()))
            .collect()
    }

    #[test]
    fn multi_stage_args_platform_digest() {
        let text = r"# syntax=docker/dockerfile:1
ARG PY=3.11
ARG BASE=python:${PY}-slim
FROM --platform=$BUILDPLATFORM node:20-alpine AS assets
RUN <<EOF
npm ci
FROM not-an-image
EOF
FROM ${BASE} AS build
from build as test
FROM gcr.io/distroless/python3@sha256:abc \
    AS final
FROM scratch
FROM localhost:5000/tools
FROM ${UNSET}:1
";
        let p = dockerfile(&Ctx { path: "Dockerfile" }, text).unwrap();
        assert_eq!(
            versions(&p),
            [
                ("node", Some("20-alpine")),
                ("python", Some("3.11-slim")),
                ("gcr.io/distroless/python3", Some("@sha256:abc")),
                ("localhost:5000/tools", None),
                ("${UNSET}", Some("1")),
            ]
        );
    }

    #[test]
    fn compose_images_with_defaults() {
        let text = "services:\n  web:\n    image: \"nginx:${TAG:-1.25}\"\n  db:\n    image: postgres:16\n  built:\n    build: .\n";
        let p = compose(
            &Ctx {
                path: "compose.yml",
            },
            text,
        )
        .unwrap();
        assert_eq!(
            versions(&p),
            [("postgres", Some("16")), ("nginx", Some("1.25"))]
        );
    }

    #[test]
    fn not_a_dockerfile() {
        let err = dockerfile(&Ctx { path: "Dockerfile" }, "{\"a\": 1}\n").unwrap_err();
        assert_eq!(err.line, Some(1));
    }
}

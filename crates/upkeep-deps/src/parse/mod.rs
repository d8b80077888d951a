//! Lockfile detection and parsing: one module per format, all pure functions of bytes.

mod cargo;
mod composer;
mod docker;
mod go;
mod manifest;
mod npm;
mod pnpm;
mod python;
mod requirements;
mod ruby;
mod yarn;

use std::collections::HashSet;

use crate::model::{Ecosystem, FileError, Lockfile, LockfileKind, Package};

/// A file read from beside a lockfile (its manifest, or `go.sum` beside `go.mod`).
#[derive(Debug, Clone, Copy)]
pub struct Sibling<'a> {
    /// The file name, without directory (`package.json`).
    pub name: &'a str,
    /// Its contents.
    pub contents: &'a [u8],
}

/// The format of a lockfile, from its path (only the file name and, for
/// `requirements/*.txt`, the parent directory matter). `None` when unsupported.
#[must_use]
pub fn detect(path: &str) -> Option<LockfileKind> {
    let mut parts = path.rsplit(['/', '\\']);
    let name = parts.next()?;
    let parent = parts.next().unwrap_or("");
    let lower = name.to_ascii_lowercase();
    let ext = |e: &str| {
        std::path::Path::new(name)
            .extension()
            .is_some_and(|x| x.eq_ignore_ascii_case(e))
    };
    Some(match name {
        "Pipfile.lock" => LockfileKind::PipfileLock,
        "poetry.lock" => LockfileKind::PoetryLock,
        "uv.lock" => LockfileKind::UvLock,
        "package-lock.json" | "npm-shrinkwrap.json" => LockfileKind::PackageLock,
        "yarn.lock" => LockfileKind::YarnLock,
        "pnpm-lock.yaml" => LockfileKind::PnpmLock,
        "Cargo.lock" => LockfileKind::CargoLock,
        "go.mod" => LockfileKind::GoMod,
        "Gemfile.lock" | "gems.locked" => LockfileKind::GemfileLock,
        "composer.lock" => LockfileKind::ComposerLock,
        "Dockerfile" | "Containerfile" => LockfileKind::Dockerfile,
        _ if lower.starts_with("requirements") && ext("txt") => LockfileKind::Requirements,
        _ if parent == "requirements" && ext("txt") => LockfileKind::Requirements,
        _ if name.starts_with("Dockerfile.")
            || name.starts_with("Containerfile.")
            || ext("dockerfile") =>
        {
            LockfileKind::Dockerfile
        }
        _ if (lower.starts_with("docker-compose") || lower.starts_with("compose"))
            && (ext("yml") || ext("yaml")) =>
        {
            LockfileKind::Compose
        }
        _ => return None,
    })
}

/// The files beside `path` that its parser reads when they exist, as paths in the
/// same directory: the manifest that says which packages are direct, and `go.sum`.
#[must_use]
pub fn sibling_paths(path: &str) -> Vec<String> {
    let Some(kind) = detect(path) else {
        return Vec::new();
    };
    let (dir, name) = match path.rfind(['/', '\\']) {
        Some(i) => (&path[..=i], &path[i + 1..]),
        None => ("", path),
    };
    let names: Vec<String> = match kind {
        LockfileKind::Requirements => {
            let stem = name.strip_suffix(".txt").unwrap_or(name);
            vec![format!("{stem}.in"), "pyproject.toml".into()]
        }
        LockfileKind::PipfileLock => vec!["Pipfile".into()],
        LockfileKind::PoetryLock | LockfileKind::UvLock => vec!["pyproject.toml".into()],
        LockfileKind::PackageLock | LockfileKind::YarnLock | LockfileKind::PnpmLock => {
            vec!["package.json".into()]
        }
        LockfileKind::GoMod => vec!["go.sum".into()],
        LockfileKind::ComposerLock => vec!["composer.json".into()],
        LockfileKind::CargoLock
        | LockfileKind::GemfileLock
        | LockfileKind::Dockerfile
        | LockfileKind::Compose => Vec::new(),
    };
    names.into_iter().map(|n| format!("{dir}{n}")).collect()
}

/// Parses a lockfile whose format is known from its path.
///
/// `siblings` are the files of [`sibling_paths`] that exist (by file name); they only
/// add the direct/transitive marks (and `go.sum` entries for pre-1.17 modules). A
/// sibling that does not parse is ignored: the packages are then marked `direct: None`.
pub fn parse_lockfile(
    path: &str,
    contents: &[u8],
    siblings: &[Sibling<'_>],
) -> Result<Lockfile, FileError> {
    let kind = detect(path).ok_or_else(|| FileError {
        path: path.to_owned(),
        side: None,
        line: None,
        column: None,
        message: "not a supported lockfile name".to_owned(),
    })?;
    parse_as(kind, path, contents, siblings)
}

/// Parses bytes as a lockfile of the given format (for files with unusual names).
pub fn parse_as(
    kind: LockfileKind,
    path: &str,
    contents: &[u8],
    siblings: &[Sibling<'_>],
) -> Result<Lockfile, FileError> {
    let ctx = Ctx { path };
    let text = ctx.text(contents)?;
    let sibling = |name: &str| {
        siblings
            .iter()
            .find(|s| s.name == name)
            .and_then(|s| std::str::from_utf8(s.contents).ok())
            .map(|t| t.trim_start_matches('\u{feff}'))
    };
    let parsed = match kind {
        LockfileKind::Requirements => {
            let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
            let stem = name.strip_suffix(".txt").unwrap_or(name);
            let manifest = sibling(&format!("{stem}.in"))
                .map(manifest::requirements_in)
                .or_else(|| sibling("pyproject.toml").and_then(manifest::pyproject));
            requirements::parse(&ctx, text, manifest)?
        }
        LockfileKind::PipfileLock => {
            python::pipfile_lock(&ctx, text, sibling("Pipfile").and_then(manifest::pipfile))?
        }
        LockfileKind::PoetryLock => python::poetry_lock(
            &ctx,
            text,
            sibling("pyproject.toml").and_then(manifest::pyproject),
        )?,
        LockfileKind::UvLock => python::uv_lock(
            &ctx,
            text,
            sibling("pyproject.toml").and_then(manifest::pyproject),
        )?,
        LockfileKind::PackageLock => npm::package_lock(
            &ctx,
            text,
            sibling("package.json").and_then(manifest::package_json),
        )?,
        LockfileKind::YarnLock => yarn::parse(
            &ctx,
            text,
            sibling("package.json").and_then(manifest::package_json),
        )?,
        LockfileKind::PnpmLock => pnpm::parse(
            &ctx,
            text,
            sibling("package.json").and_then(manifest::package_json),
        )?,
        LockfileKind::CargoLock => cargo::parse(&ctx, text)?,
        LockfileKind::GoMod => go::parse(&ctx, text, sibling("go.sum"))?,
        LockfileKind::GemfileLock => ruby::parse(&ctx, text)?,
        LockfileKind::ComposerLock => composer::parse(
            &ctx,
            text,
            sibling("composer.json").and_then(manifest::composer_json),
        )?,
        LockfileKind::Dockerfile => docker::dockerfile(&ctx, text)?,
        LockfileKind::Compose => docker::compose(&ctx, text)?,
    };
    Ok(Lockfile {
        path: path.to_owned(),
        ecosystem: kind.ecosystem(),
        kind,
        format_version: parsed.format_version,
        packages: parsed.packages,
    })
}

/// The keys of a JSON/YAML object whose values do not matter (dependency maps).
#[derive(Debug, Default)]
pub(crate) struct Keys(pub Vec<String>);

impl<'de> serde::Deserialize<'de> for Keys {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Keys;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map of dependencies")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Keys, A::Error> {
                let mut keys = Vec::new();
                while let Some((key, serde::de::IgnoredAny)) = map.next_entry::<String, _>()? {
                    keys.push(key);
                }
                Ok(Keys(keys))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Keys, E> {
                Ok(Keys::default())
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

/// What a format parser returns.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub format_version: Option<String>,
    pub packages: Vec<Package>,
}

/// The normalised form of a name, used to pair packages and to match manifests.
#[must_use]
pub(crate) fn normalize_name(ecosystem: Ecosystem, name: &str) -> String {
    match ecosystem {
        // PEP 503: case-insensitive, runs of `-_.` are equal.
        Ecosystem::Pypi => {
            let mut out = String::with_capacity(name.len());
            let mut sep = false;
            for c in name.chars() {
                if matches!(c, '-' | '_' | '.') {
                    sep = true;
                } else {
                    if sep && !out.is_empty() {
                        out.push('-');
                    }
                    sep = false;
                    out.push(c.to_ascii_lowercase());
                }
            }
            out
        }
        Ecosystem::Packagist | Ecosystem::RubyGems => name.to_ascii_lowercase(),
        Ecosystem::Npm | Ecosystem::Cargo | Ecosystem::Go | Ecosystem::Docker => name.to_owned(),
    }
}

/// Sets `direct` on every package from a set of direct names (already normalised).
pub(crate) fn mark_direct(
    ecosystem: Ecosystem,
    packages: &mut [Package],
    direct: &HashSet<String>,
) {
    for p in packages {
        p.direct = Some(direct.contains(&normalize_name(ecosystem, &p.name)));
    }
}

/// The file being parsed, for error positions.
pub(crate) struct Ctx<'a> {
    pub path: &'a str,
}

impl Ctx<'_> {
    /// Decodes UTF-8 (dropping a BOM); invalid bytes are an error at their position.
    fn text<'b>(&self, bytes: &'b [u8]) -> Result<&'b str, FileError> {
        match std::str::from_utf8(bytes) {
            Ok(t) => Ok(t.strip_prefix('\u{feff}').unwrap_or(t)),
            Err(e) => {
                let valid = &bytes[..e.valid_up_to()];
                // The valid prefix is UTF-8 by construction.
                let prefix = std::str::from_utf8(valid).unwrap_or_default();
                let (line, column) = line_col(prefix, prefix.len());
                Err(self.error_at(
                    Some(line),
                    Some(column),
                    format!("invalid UTF-8 at byte {}", e.valid_up_to()),
                ))
            }
        }
    }

    pub(crate) fn error_at(
        &self,
        line: Option<usize>,
        column: Option<usize>,
        message: impl Into<String>,
    ) -> FileError {
        FileError {
            path: self.path.to_owned(),
            side: None,
            line,
            column,
            message: message.into(),
        }
    }

    /// An error at a 1-based line (whole line).
    pub(crate) fn error_line(&self, line: usize, message: impl Into<String>) -> FileError {
        self.error_at(Some(line), None, message)
    }

    /// An error at a byte offset of `text`.
    pub(crate) fn error_offset(
        &self,
        text: &str,
        offset: usize,
        message: impl Into<String>,
    ) -> FileError {
        let (line, column) = line_col(text, offset);
        self.error_at(Some(line), Some(column), message)
    }

    /// An error without a position.
    pub(crate) fn error(&self, message: impl Into<String>) -> FileError {
        self.error_at(None, None, message)
    }

    pub(crate) fn json<T: serde::de::DeserializeOwned>(&self, text: &str) -> Result<T, FileError> {
        serde_json::from_str(text).map_err(|e| {
            let (line, column) = (e.line(), e.column());
            self.error_at(
                (line > 0).then_some(line),
                (column > 0).then_some(column),
                format!("invalid JSON: {}", strip_position(&e.to_string())),
            )
        })
    }

    pub(crate) fn toml<T: serde::de::DeserializeOwned>(&self, text: &str) -> Result<T, FileError> {
        toml::from_str(text).map_err(|e| {
            let message = format!("invalid TOML: {}", e.message());
            match e.span() {
                Some(span) => self.error_offset(text, span.start, message),
                None => self.error(message),
            }
        })
    }

    pub(crate) fn yaml<T: serde::de::DeserializeOwned>(&self, text: &str) -> Result<T, FileError> {
        serde_yaml_ng::from_str(text).map_err(|e| {
            let message = format!("invalid YAML: {}", strip_position(&e.to_string()));
            match e.location() {
                Some(loc) => self.error_at(Some(loc.line()), Some(loc.column()), message),
                None => self.error(message),
            }
        })
    }
}

/// Parser messages end in " at line L column C"; the position has its own fields.
fn strip_position(message: &str) -> &str {
    message.find(" at line ").map_or(message, |i| &message[..i])
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_name() {
        assert_eq!(
            detect("a/b/requirements-dev.txt"),
            Some(LockfileKind::Requirements)
        );
        assert_eq!(
            detect("requirements/base.txt"),
            Some(LockfileKind::Requirements)
        );
        assert_eq!(detect("notes.txt"), None);
        assert_eq!(
            detect("svc/Dockerfile.prod"),
            Some(LockfileKind::Dockerfile)
        );
        assert_eq!(detect("api.Dockerfile"), Some(LockfileKind::Dockerfile));
        assert_eq!(
            detect("docker-compose.override.yml"),
            Some(LockfileKind::Compose)
        );
        assert_eq!(detect("compose.yaml"), Some(LockfileKind::Compose));
        assert_eq!(detect("go.sum"), None);
        assert_eq!(detect("Cargo.toml"), None);
    }

    #[test]
    fn siblings_are_in_the_same_directory() {
        assert_eq!(
            sibling_paths("web/requirements-dev.txt"),
            ["web/requirements-dev.in", "web/pyproject.toml"]
        );
        assert_eq!(sibling_paths("package-lock.json"), ["package.json"]);
    }

    #[test]
    fn pep503_names() {
        assert_eq!(
            normalize_name(Ecosystem::Pypi, "Typing_Extensions"),
            "typing-extensions"
        );
        assert_eq!(
            normalize_name(Ecosystem::Pypi, "zope.interface"),
            "zope-interface"
        );
        assert_eq!(normalize_name(Ecosystem::Pypi, "a__b"), "a-b");
    }

    #[test]
    fn positions() {
        assert_eq!(line_col("ab\ncé\nx", 6), (2, 3));
        assert_eq!(line_col("", 10), (1, 1));
    }

    #[test]
    fn non_utf8_is_an_error_with_position() {
        let err = parse_lockfile("Cargo.lock", b"# ok\nname = \xff", &[]).unwrap_err();
        assert_eq!((err.line, err.column), (Some(2), Some(8)));
    }
}

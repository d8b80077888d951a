//! Renderers: a Markdown table for pull-request bodies, a short text for terminals,
//! and JSON. All return strings; printing is the caller's business.

use std::fmt::Write as _;

use crate::model::{Change, ChangeKind, DiffReport, Ecosystem, FileError};

/// The package's page on its registry (at the given version where the registry has
/// version pages). `None` for images outside Docker Hub and for names that cannot be
/// part of a URL.
#[must_use]
pub fn registry_url(ecosystem: Ecosystem, name: &str, version: Option<&str>) -> Option<String> {
    if name.is_empty() || name.contains(['$', ' ', '\t', '\n']) {
        return None;
    }
    let n = encode(name);
    let v = version
        .filter(|v| !v.is_empty() && !v.contains(['@', ':', '/', ' ']))
        .map(encode);
    Some(match ecosystem {
        Ecosystem::Pypi => match v {
            Some(v) => format!("https://pypi.org/project/{n}/{v}/"),
            None => format!("https://pypi.org/project/{n}/"),
        },
        Ecosystem::Npm => match v {
            Some(v) => format!("https://www.npmjs.com/package/{n}/v/{v}"),
            None => format!("https://www.npmjs.com/package/{n}"),
        },
        Ecosystem::Cargo => match v {
            Some(v) => format!("https://crates.io/crates/{n}/{v}"),
            None => format!("https://crates.io/crates/{n}"),
        },
        Ecosystem::Go => match v {
            Some(v) => format!("https://pkg.go.dev/{n}@{v}"),
            None => format!("https://pkg.go.dev/{n}"),
        },
        Ecosystem::RubyGems => match v {
            Some(v) => format!("https://rubygems.org/gems/{n}/versions/{v}"),
            None => format!("https://rubygems.org/gems/{n}"),
        },
        Ecosystem::Packagist => format!("https://packagist.org/packages/{n}"),
        Ecosystem::Docker => {
            let path = name
                .strip_prefix("docker.io/")
                .or_else(|| name.strip_prefix("index.docker.io/"))
                .unwrap_or(name);
            let first = path.split('/').next().unwrap_or(path);
            // A first component with a dot, a colon or `localhost` is another registry.
            if path.contains('/') && (first.contains(['.', ':']) || first == "localhost") {
                return None;
            }
            match path.strip_prefix("library/") {
                Some(official) => format!("https://hub.docker.com/_/{}", encode(official)),
                None if !path.contains('/') => format!("https://hub.docker.com/_/{}", encode(path)),
                None => format!("https://hub.docker.com/r/{}", encode(path)),
            }
        }
    })
}

/// Percent-encodes what is not safe in a URL path.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/@+!".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Escapes text for a Markdown table cell: pipes, backticks and the characters that
/// would start emphasis, links or HTML.
#[must_use]
pub fn escape_markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '|' | '`' | '\\' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

fn kind_label(change: &Change) -> String {
    if change.likely_breaking {
        format!("{} (likely breaking)", change.kind)
    } else {
        change.kind.to_string()
    }
}

fn direct_label(direct: Option<bool>) -> &'static str {
    match direct {
        Some(true) => "direct",
        Some(false) => "transitive",
        None => "",
    }
}

/// A version for people: missing is a dash, and a digest is cut to 12 hex digits (as
/// `docker images` shows them). JSON keeps the version as written.
fn version_or_dash(v: Option<&str>) -> String {
    let Some(v) = v else {
        return "—".to_owned();
    };
    let Some(i) = v.find("sha256:") else {
        return v.to_owned();
    };
    // Only a real hex digest is cut (and hex is ASCII, so the cut is a char boundary).
    let digest = &v[i + 7..];
    if digest.len() > 12 && digest.bytes().all(|b| b.is_ascii_hexdigit()) {
        format!("{}…", &v[..i + 7 + 12])
    } else {
        v.to_owned()
    }
}

fn error_line(e: &FileError) -> String {
    let mut where_ = String::new();
    if let Some(line) = e.line {
        let _ = write!(where_, " line {line}");
        if let Some(column) = e.column {
            let _ = write!(where_, ", column {column}");
        }
    }
    let side = e.side.map(|s| format!(" ({s})")).unwrap_or_default();
    format!("{}{side}{where_}: {}", e.path, e.message)
}

/// A Markdown section per lockfile with a table of changes, for PR/MR bodies.
#[must_use]
pub fn render_markdown(report: &DiffReport) -> String {
    let mut out = String::new();
    if report.is_empty() {
        out.push_str("No dependency changes.\n");
    }
    for lockfile in report.lockfiles.iter().filter(|l| !l.changes.is_empty()) {
        let _ = writeln!(
            out,
            "#### {} ({})\n",
            escape_markdown(&lockfile.path),
            lockfile.ecosystem
        );
        out.push_str("| Package | Change | Kind | Direct | Registry |\n");
        out.push_str("|---|---|---|---|---|\n");
        for c in &lockfile.changes {
            let kind = if c.likely_breaking {
                format!("**{}**", kind_label(c))
            } else {
                kind_label(c)
            };
            let link = registry_url(c.ecosystem, &c.name, c.to.as_deref().or(c.from.as_deref()))
                .map(|url| format!("[{}]({url})", c.ecosystem.registry_name()))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "| {} | {} → {} | {kind} | {} | {link} |",
                escape_markdown(&c.name),
                escape_markdown(&version_or_dash(c.from.as_deref())),
                escape_markdown(&version_or_dash(c.to.as_deref())),
                direct_label(c.direct),
            );
        }
        out.push('\n');
    }
    if !report.errors.is_empty() {
        out.push_str("**Could not diff:**\n\n");
        for e in &report.errors {
            let _ = writeln!(out, "- {}", escape_markdown(&error_line(e)));
        }
    }
    out
}

/// A short text for terminals: a block per lockfile, one aligned line per change.
#[must_use]
pub fn render_text(report: &DiffReport) -> String {
    let mut out = String::new();
    if report.is_empty() {
        out.push_str("no dependency changes\n");
    }
    for (i, lockfile) in report
        .lockfiles
        .iter()
        .filter(|l| !l.changes.is_empty())
        .enumerate()
    {
        if i > 0 {
            out.push('\n');
        }
        let _ = writeln!(out, "{} ({})", lockfile.path, lockfile.ecosystem);
        let rows: Vec<[String; 4]> = lockfile
            .changes
            .iter()
            .map(|c| {
                let versions = match c.kind {
                    ChangeKind::Added => format!("+ {}", version_or_dash(c.to.as_deref())),
                    ChangeKind::Removed => format!("- {}", version_or_dash(c.from.as_deref())),
                    _ => format!(
                        "{} → {}",
                        version_or_dash(c.from.as_deref()),
                        version_or_dash(c.to.as_deref())
                    ),
                };
                [
                    c.name.clone(),
                    versions,
                    kind_label(c),
                    direct_label(c.direct).to_owned(),
                ]
            })
            .collect();
        let mut widths = [0usize; 3];
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        for [name, versions, kind, direct] in rows {
            let pad = |s: &str, w: usize| {
                format!("{s}{}", " ".repeat(w.saturating_sub(s.chars().count())))
            };
            let line = format!(
                "  {}  {}  {}  {direct}",
                pad(&name, widths[0]),
                pad(&versions, widths[1]),
                pad(&kind, widths[2]),
            );
            let _ = writeln!(out, "{}", line.trim_end());
        }
    }
    if !report.errors.is_empty() {
        if !report.is_empty() {
            out.push('\n');
        }
        out.push_str("could not diff:\n");
        for e in &report.errors {
            let _ = writeln!(out, "  {}", error_line(e));
        }
    }
    out
}

/// The JSON document: `{"lockfiles":[{"path","ecosystem","changes":[{"name","from",
/// "to","kind","direct","likely_breaking"}]}],"errors":[{"path","side","line",
/// "column","message"}]}`, pretty-printed.
#[must_use]
pub fn render_json(report: &DiffReport) -> String {
    // Serialising plain structs with string keys cannot fail.
    serde_json::to_string_pretty(report).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LockfileDiff;

    fn report() -> DiffReport {
        let change = |name: &str, from: Option<&str>, to: Option<&str>, kind, breaking| Change {
            name: name.into(),
            from: from.map(Into::into),
            to: to.map(Into::into),
            kind,
            direct: Some(true),
            likely_breaking: breaking,
            ecosystem: Ecosystem::Npm,
        };
        DiffReport {
            lockfiles: vec![LockfileDiff {
                path: "package-lock.json".into(),
                ecosystem: Ecosystem::Npm,
                changes: vec![
                    change(
                        "lodash",
                        Some("3.10.1"),
                        Some("4.17.21"),
                        ChangeKind::Major,
                        true,
                    ),
                    change("a|`b`", None, Some("1.0.0"), ChangeKind::Added, false),
                ],
            }],
            errors: vec![FileError {
                path: "web/yarn.lock".into(),
                side: Some(crate::model::Side::New),
                line: Some(3),
                column: None,
                message: "expected `descriptor:`".into(),
            }],
        }
    }

    #[test]
    fn markdown_table_escapes_and_links() {
        let md = render_markdown(&report());
        assert!(md.contains(
            "| lodash | 3.10.1 → 4.17.21 | **major (likely breaking)** | direct | [npm](https://www.npmjs.com/package/lodash/v/4.17.21) |"
        ), "{md}");
        assert!(md.contains("| a\\|\\`b\\` | — → 1.0.0 | added |"), "{md}");
        assert!(
            md.contains("- web/yarn.lock (new) line 3: expected \\`descriptor:\\`"),
            "{md}"
        );
    }

    #[test]
    fn text_is_aligned() {
        let text = render_text(&report());
        assert!(text.starts_with("package-lock.json (npm)\n  lodash  3.10.1 → 4.17.21  major (likely breaking)  direct\n"), "{text}");
        assert!(
            text.contains("  a|`b`   + 1.0.0           added                    direct\n"),
            "{text}"
        );
    }

    #[test]
    fn json_shape() {
        let v: serde_json::Value = serde_json::from_str(&render_json(&report())).unwrap();
        let c = &v["lockfiles"][0]["changes"][1];
        assert_eq!(c["from"], serde_json::Value::Null);
        assert_eq!(c["kind"], "added");
        assert_eq!(
            v["lockfiles"][0]["changes"][0]
                .as_object()
                .unwrap()
                .keys()
                .collect::<Vec<_>>(),
            ["direct", "from", "kind", "likely_breaking", "name", "to"]
        );
        assert_eq!(v["errors"][0]["line"], 3);
        // And back: the lockfile's ecosystem reaches its changes.
        let mut report = report();
        report.lockfiles[0].ecosystem = Ecosystem::Cargo;
        for c in &mut report.lockfiles[0].changes {
            c.ecosystem = Ecosystem::Cargo;
        }
        let back: DiffReport = serde_json::from_str(&render_json(&report)).unwrap();
        assert_eq!(back, report);
    }

    #[test]
    fn digests_are_shortened_for_people() {
        assert_eq!(
            version_or_dash(Some(
                "3.12@sha256:6ad5b696af3ca05a048bd29bf0f623040462638cb0b29c8d702cbb2805687388"
            )),
            "3.12@sha256:6ad5b696af3c…"
        );
        assert_eq!(version_or_dash(None), "—");
        // Found by the `versions` fuzz target: a multi-byte character after the prefix.
        let odd = "1.20-r@sha256:6:30..002\u{6d2}\u{452}0000000000000000000";
        assert_eq!(version_or_dash(Some(odd)), odd);
    }

    #[test]
    fn registry_links() {
        use Ecosystem::*;
        assert_eq!(
            registry_url(Pypi, "django", Some("5.1.3")).unwrap(),
            "https://pypi.org/project/django/5.1.3/"
        );
        assert_eq!(
            registry_url(Cargo, "serde", None).unwrap(),
            "https://crates.io/crates/serde"
        );
        assert_eq!(
            registry_url(Go, "golang.org/x/text", Some("v0.14.0")).unwrap(),
            "https://pkg.go.dev/golang.org/x/text@v0.14.0"
        );
        assert_eq!(
            registry_url(RubyGems, "rails", Some("7.1.0")).unwrap(),
            "https://rubygems.org/gems/rails/versions/7.1.0"
        );
        assert_eq!(
            registry_url(Packagist, "symfony/console", Some("v6.4.0")).unwrap(),
            "https://packagist.org/packages/symfony/console"
        );
        assert_eq!(
            registry_url(Docker, "python", Some("3.12-slim")).unwrap(),
            "https://hub.docker.com/_/python"
        );
        assert_eq!(
            registry_url(Docker, "grafana/grafana", None).unwrap(),
            "https://hub.docker.com/r/grafana/grafana"
        );
        assert_eq!(
            registry_url(Docker, "docker.io/library/redis", None).unwrap(),
            "https://hub.docker.com/_/redis"
        );
        assert_eq!(registry_url(Docker, "ghcr.io/org/app", None), None);
        assert_eq!(
            registry_url(Npm, "@babel/core", Some("7.0.0")).unwrap(),
            "https://www.npmjs.com/package/@babel/core/v/7.0.0"
        );
    }
}

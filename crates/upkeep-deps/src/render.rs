//! Renderers: Markdown tables for pull-request bodies (direct changes first, transitive
//! ones collapsed, cut to a size limit on request), a short text for terminals, and JSON.
//! All return strings; printing is the caller's business.

use std::fmt::Write as _;

use crate::model::{Change, ChangeKind, DiffReport, Ecosystem, FileError, LockfileDiff};

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

/// The changes of a report in the order a PR body shows them: the direct ones (and those
/// no manifest classifies) per lockfile, then the transitive ones per lockfile.
struct Layout<'a> {
    direct: Vec<(&'a LockfileDiff, Vec<&'a Change>)>,
    transitive: Vec<(&'a LockfileDiff, Vec<&'a Change>)>,
}

impl<'a> Layout<'a> {
    fn new(report: &'a DiffReport) -> Self {
        let mut direct = Vec::new();
        let mut transitive = Vec::new();
        for lockfile in &report.lockfiles {
            let (t, d): (Vec<&Change>, Vec<&Change>) = lockfile
                .changes
                .iter()
                .partition(|c| c.direct == Some(false));
            if !d.is_empty() {
                direct.push((lockfile, d));
            }
            if !t.is_empty() {
                transitive.push((lockfile, t));
            }
        }
        Self { direct, transitive }
    }

    fn count(groups: &[(&LockfileDiff, Vec<&Change>)]) -> usize {
        groups.iter().map(|(_, c)| c.len()).sum()
    }
}

/// `140 transitive changes: 30 major, 8 minor, 4 patch, 52 added, 46 removed`
fn transitive_title(groups: &[(&LockfileDiff, Vec<&Change>)]) -> String {
    let mut kinds: Vec<(ChangeKind, usize)> = Vec::new();
    for c in groups.iter().flat_map(|(_, c)| c) {
        match kinds.iter_mut().find(|(k, _)| *k == c.kind) {
            Some((_, n)) => *n += 1,
            None => kinds.push((c.kind, 1)),
        }
    }
    kinds.sort();
    let total = Layout::count(groups);
    let parts: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
    format!(
        "{total} transitive change{}: {}",
        if total == 1 { "" } else { "s" },
        parts.join(", ")
    )
}

fn table_row(out: &mut String, c: &Change) {
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
        "| {} | {} → {} | {kind} | {link} |",
        escape_markdown(&c.name),
        escape_markdown(&version_or_dash(c.from.as_deref())),
        escape_markdown(&version_or_dash(c.to.as_deref())),
    );
}

/// Tables per lockfile holding the first `*budget` changes of `groups`; a lockfile with
/// none of them left is not shown. Decrements `budget` by the rows written.
fn tables(out: &mut String, groups: &[(&LockfileDiff, Vec<&Change>)], budget: &mut usize) {
    for (lockfile, changes) in groups {
        if *budget == 0 {
            return;
        }
        let _ = writeln!(
            out,
            "#### {} ({})\n",
            escape_markdown(&lockfile.path),
            lockfile.ecosystem
        );
        out.push_str("| Package | Change | Kind | Registry |\n");
        out.push_str("|---|---|---|---|\n");
        for c in changes.iter().take(*budget) {
            table_row(out, c);
        }
        *budget = budget.saturating_sub(changes.len());
        out.push('\n');
    }
}

/// The body with only the first `rows` changes (direct first) as table rows.
fn markdown_with_rows(report: &DiffReport, layout: &Layout<'_>, rows: usize) -> String {
    let mut out = String::new();
    if report.is_empty() {
        out.push_str("No dependency changes.\n");
    }
    let (n_direct, n_transitive) = (
        Layout::count(&layout.direct),
        Layout::count(&layout.transitive),
    );
    let mut budget = rows;
    if n_direct == 0 && n_transitive > 0 {
        out.push_str("No direct dependency changes.\n\n");
    }
    tables(&mut out, &layout.direct, &mut budget);
    if n_transitive > 0 && budget > 0 {
        // Collapsed: the transitive changes are many and rarely what a reviewer needs
        // first. GitHub and GitLab render Markdown inside <details> after a blank line.
        let _ = writeln!(
            out,
            "<details>\n<summary>{}</summary>\n",
            transitive_title(&layout.transitive)
        );
        tables(&mut out, &layout.transitive, &mut budget);
        out.push_str("</details>\n\n");
    }
    let left_out = (n_direct + n_transitive).saturating_sub(rows);
    if left_out > 0 {
        let shown_transitive = rows.saturating_sub(n_direct);
        let transitive_left = n_transitive - shown_transitive.min(n_transitive);
        let _ = writeln!(
            out,
            "*… and {left_out} more change{} not listed ({transitive_left} of them transitive): the \
             list is cut to fit the size limit of a description. The lockfiles in the commit \
             hold them all.*\n",
            if left_out == 1 { "" } else { "s" },
        );
    }
    if !report.errors.is_empty() {
        out.push_str("**Could not diff:**\n\n");
        for e in &report.errors {
            let _ = writeln!(out, "- {}", escape_markdown(&error_line(e)));
        }
    }
    out
}

/// The changes as Markdown for PR/MR bodies: the direct changes first, a table per
/// lockfile; then the transitive changes in a collapsed `<details>` block, headed by their
/// count per kind; then the files that could not be diffed.
#[must_use]
pub fn render_markdown(report: &DiffReport) -> String {
    let layout = Layout::new(report);
    let rows = Layout::count(&layout.direct) + Layout::count(&layout.transitive);
    markdown_with_rows(report, &layout, rows)
}

/// [`render_markdown`] in at most `max_bytes` bytes of UTF-8 (and so at most as many
/// characters, however a forge counts them): when the full list does not fit, the rows
/// that fit are kept — direct changes first — and a line says how many were left out. A
/// huge lockfile change still makes a description the forge accepts.
#[must_use]
pub fn render_markdown_within(report: &DiffReport, max_bytes: usize) -> String {
    let layout = Layout::new(report);
    let total = Layout::count(&layout.direct) + Layout::count(&layout.transitive);
    let full = markdown_with_rows(report, &layout, total);
    if full.len() <= max_bytes {
        return full;
    }
    // Below `total` the length grows with every row (a row is longer than the digit the
    // "N more" count may lose), so the most rows that fit are found by bisection.
    let (mut fits, mut too_many) = (0, total);
    while too_many - fits > 1 {
        let mid = fits + (too_many - fits) / 2;
        if markdown_with_rows(report, &layout, mid).len() <= max_bytes {
            fits = mid;
        } else {
            too_many = mid;
        }
    }
    let out = markdown_with_rows(report, &layout, fits);
    if out.len() <= max_bytes {
        return out;
    }
    // Not even the notes fit (a tiny limit): cut at a character boundary.
    let mut end = max_bytes;
    while !out.is_char_boundary(end) {
        end -= 1;
    }
    out[..end].to_owned()
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
            "| lodash | 3.10.1 → 4.17.21 | **major (likely breaking)** | [npm](https://www.npmjs.com/package/lodash/v/4.17.21) |"
        ), "{md}");
        assert!(md.contains("| a\\|\\`b\\` | — → 1.0.0 | added |"), "{md}");
        assert!(
            md.contains("- web/yarn.lock (new) line 3: expected \\`descriptor:\\`"),
            "{md}"
        );
    }

    fn mixed(transitive: usize) -> DiffReport {
        let change = |name: String, kind, direct: Option<bool>| Change {
            name,
            from: Some("1.0.0".into()),
            to: Some(
                if kind == ChangeKind::Major {
                    "2.0.0"
                } else {
                    "1.1.0"
                }
                .into(),
            ),
            kind,
            direct,
            likely_breaking: kind == ChangeKind::Major,
            ecosystem: Ecosystem::Npm,
        };
        let mut npm: Vec<Change> = (0..transitive)
            .map(|i| {
                let kind = if i % 3 == 0 {
                    ChangeKind::Major
                } else {
                    ChangeKind::Minor
                };
                change(format!("dep-{i:05}"), kind, Some(false))
            })
            .collect();
        npm.push(change("express".into(), ChangeKind::Major, Some(true)));
        npm.sort_by(|a, b| a.name.cmp(&b.name));
        DiffReport {
            lockfiles: vec![
                LockfileDiff {
                    path: "Dockerfile".into(),
                    ecosystem: Ecosystem::Docker,
                    changes: vec![Change {
                        ecosystem: Ecosystem::Docker,
                        ..change("node".into(), ChangeKind::Major, None)
                    }],
                },
                LockfileDiff {
                    path: "package-lock.json".into(),
                    ecosystem: Ecosystem::Npm,
                    changes: npm,
                },
            ],
            errors: Vec::new(),
        }
    }

    #[test]
    fn direct_changes_come_first_and_transitive_ones_are_collapsed() {
        let md = render_markdown(&mixed(3));
        let details = md.find("<details>").expect("a details block");
        let express = md.find("| express |").unwrap();
        let node = md.find("| node |").unwrap();
        let dep = md.find("| dep-00000 |").unwrap();
        // Unclassified (the image) counts as direct; transitive ones only in the block.
        assert!(node < details && express < details && details < dep, "{md}");
        assert!(
            md.contains("<details>\n<summary>3 transitive changes: 1 major, 2 minor</summary>\n\n#### package-lock.json (npm)\n"),
            "{md}"
        );
        assert!(md.trim_end().ends_with("</details>"), "{md}");
        assert!(!md.contains("not listed"), "{md}");

        let only_transitive = DiffReport {
            lockfiles: vec![LockfileDiff {
                changes: mixed(2).lockfiles[1]
                    .changes
                    .iter()
                    .filter(|c| c.direct == Some(false))
                    .cloned()
                    .collect(),
                ..mixed(2).lockfiles[1].clone()
            }],
            errors: Vec::new(),
        };
        let md = render_markdown(&only_transitive);
        assert!(
            md.starts_with("No direct dependency changes.\n\n<details>"),
            "{md}"
        );
    }

    #[test]
    fn a_huge_change_is_cut_to_the_limit_with_a_count() {
        let report = mixed(5000);
        let full = render_markdown(&report);
        assert!(
            full.len() > 65_536,
            "the test needs a body over GitHub's limit"
        );
        let cut = render_markdown_within(&report, 65_536);
        assert!(cut.len() <= 65_536, "{} bytes", cut.len());
        assert!(
            cut.len() > 60_000,
            "it keeps what fits: {} bytes",
            cut.len()
        );
        // Direct changes first, the block closed, and every change accounted for.
        assert!(cut.find("| express |").unwrap() < cut.find("<details>").unwrap());
        assert!(cut.contains("<summary>5000 transitive changes: 1667 major, 3333 minor</summary>"));
        assert!(cut.contains("</details>"));
        let rows = cut
            .lines()
            .filter(|l| l.starts_with("| ") && !l.starts_with("| Package"))
            .count();
        let left: usize = cut
            .split("*… and ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
            .expect("a count of what was left out");
        assert_eq!(rows + left, 5002);
        assert!(
            cut.contains(&format!("({left} of them transitive)")),
            "{cut}"
        );

        // What fits is kept as is; a limit below the notes still holds.
        assert_eq!(render_markdown_within(&report, usize::MAX), full);
        let tiny = render_markdown_within(&report, 100);
        assert!(tiny.len() <= 100);
        // Only direct rows fit: the transitive block is left out entirely, still counted.
        let direct_only = render_markdown_within(&report, 700);
        assert!(direct_only.len() <= 700, "{direct_only}");
        assert!(!direct_only.contains("<details>"), "{direct_only}");
        assert!(
            direct_only.contains("(5000 of them transitive)"),
            "{direct_only}"
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

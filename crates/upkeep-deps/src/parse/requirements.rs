//! `requirements*.txt` as pip-compile, `uv pip compile` and `pip freeze` write them.
//!
//! Backslash continuations (the `--hash` lines) are joined, options are skipped, and
//! the `# via` annotation below each pin says whether it is direct: an entry `-r file`
//! or `name (pyproject.toml)` means the input asked for it. Without annotations the
//! sibling `.in` file or `pyproject.toml` decides. `-e`, URL and path requirements are
//! reported without a version, with the URL as source.

use std::collections::HashSet;

use super::manifest::pep508_name;
use super::{Ctx, Parsed, mark_direct};
use crate::model::{Ecosystem, FileError, Package};

/// Options that take their value as the next token when not written with `=`.
const OPTIONS_WITH_VALUE: &[&str] = &[
    "--hash",
    "--global-option",
    "--install-option",
    "--config-settings",
    "-C",
];

pub(crate) fn parse(
    ctx: &Ctx<'_>,
    text: &str,
    manifest: Option<HashSet<String>>,
) -> Result<Parsed, FileError> {
    let mut packages: Vec<Package> = Vec::new();
    // Per package: whether some `# via` entry made it direct.
    let mut via_direct: Vec<bool> = Vec::new();
    let mut annotated = false;
    let mut in_via = false;

    let mut lines = text.lines().enumerate().peekable();
    while let Some((index, first)) = lines.next() {
        let line_no = index + 1;
        let trimmed = first.trim();
        if trimmed.starts_with('#') {
            let body = trimmed.trim_start_matches('#');
            if let Some(rest) = body.trim_start().strip_prefix("via")
                && (rest.is_empty() || rest.starts_with(char::is_whitespace))
            {
                in_via = true;
                annotated = true;
                note_via(rest.trim(), &mut via_direct);
                continue;
            }
            if in_via && body.starts_with("   ") {
                note_via(body.trim(), &mut via_direct);
            } else {
                in_via = false;
            }
            continue;
        }
        in_via = false;
        // Join continuation lines.
        let mut logical = String::new();
        let mut current = first;
        loop {
            let content = strip_comment(current);
            let Some(head) = content.trim_end().strip_suffix('\\') else {
                logical.push_str(content);
                break;
            };
            logical.push_str(head);
            logical.push(' ');
            match lines.next() {
                Some((_, next)) => current = next,
                None => break,
            }
        }
        let logical = logical.trim();
        if logical.is_empty() {
            continue;
        }
        if let Some(package) = parse_line(ctx, line_no, logical)? {
            packages.push(package);
            via_direct.push(false);
        }
    }

    if annotated {
        for (p, direct) in packages.iter_mut().zip(&via_direct) {
            p.direct = Some(*direct);
        }
    } else if let Some(names) = manifest {
        mark_direct(Ecosystem::Pypi, &mut packages, &names);
    }
    Ok(Parsed {
        format_version: None,
        packages,
    })
}

fn note_via(entry: &str, via_direct: &mut [bool]) {
    let direct = entry.starts_with("-r ")
        || (entry.ends_with(')')
            && [".toml)", ".py)", ".cfg)", ".in)", ".txt)"]
                .iter()
                .any(|s| entry.ends_with(s)));
    if direct && let Some(last) = via_direct.last_mut() {
        *last = true;
    }
}

/// pip's comment rule: `#` at the start or after whitespace starts a comment (so
/// `#egg=` fragments in URLs survive).
fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()) {
            return &line[..i];
        }
    }
    line
}

/// Drops `--hash=…` and similar per-requirement options.
fn without_options(line: &str) -> String {
    let mut out = Vec::new();
    let mut tokens = line.split_whitespace();
    while let Some(token) = tokens.next() {
        if token.starts_with("--") || token == "-C" {
            if OPTIONS_WITH_VALUE.contains(&token) {
                tokens.next();
            }
            continue;
        }
        out.push(token);
    }
    out.join(" ")
}

fn egg_name(url: &str) -> Option<String> {
    let fragment = url.split_once('#')?.1;
    fragment
        .split('&')
        .find_map(|kv| kv.strip_prefix("egg="))
        .map(|n| n.split('[').next().unwrap_or(n).to_owned())
        .filter(|n| !n.is_empty())
}

fn name_from_location(location: &str) -> String {
    if let Some(name) = egg_name(location) {
        return name;
    }
    let path = location.split(['#', '?']).next().unwrap_or(location);
    let last = path
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(path);
    // A wheel or sdist file name starts with the distribution name.
    let last = last.strip_suffix(".git").unwrap_or(last);
    let lower = last.to_ascii_lowercase();
    if [".whl", ".tar.gz", ".zip"]
        .iter()
        .any(|ext| lower.ends_with(ext))
    {
        last.split('-').next().unwrap_or(last).to_owned()
    } else {
        last.to_owned()
    }
}

fn parse_line(ctx: &Ctx<'_>, line_no: usize, line: &str) -> Result<Option<Package>, FileError> {
    let editable = line
        .strip_prefix("-e ")
        .or_else(|| line.strip_prefix("--editable "))
        .or_else(|| line.strip_prefix("--editable="));
    if let Some(location) = editable {
        let location = without_options(location);
        return Ok(Some(Package {
            name: name_from_location(&location),
            version: None,
            source: Some(location),
            direct: None,
        }));
    }
    if let Some(option) = line.strip_prefix('-') {
        // -r, -c, -i, --index-url, --find-links, --no-binary and friends.
        let option = option.strip_prefix('-').unwrap_or(option);
        if option.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return Ok(None);
        }
        return Err(ctx.error_line(line_no, format!("not an option: `{line}`")));
    }
    let line = without_options(line);
    if line.is_empty() {
        return Ok(None);
    }
    let is_url = line.split_once("://").is_some_and(|(scheme, _)| {
        !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '+')
    });
    if is_url || line.starts_with('.') || line.starts_with('/') {
        let location = line.split(';').next().unwrap_or(&line).trim().to_owned();
        return Ok(Some(Package {
            name: name_from_location(&location),
            version: None,
            source: Some(location),
            direct: None,
        }));
    }
    let Some(name) = pep508_name(&line) else {
        return Err(ctx.error_line(line_no, format!("not a requirement: `{line}`")));
    };
    let mut rest = line[name.len()..].trim_start();
    if let Some(after) = rest.strip_prefix('[') {
        let Some(end) = after.find(']') else {
            return Err(ctx.error_line(line_no, "extras `[` without `]`"));
        };
        rest = after[end + 1..].trim_start();
    }
    let spec = rest.split(';').next().unwrap_or("").trim();
    if let Some(url) = spec.strip_prefix('@') {
        return Ok(Some(Package {
            name: name.to_owned(),
            version: None,
            source: Some(url.trim().to_owned()),
            direct: None,
        }));
    }
    let operator = ["===", "==", "!=", "<=", ">=", "~=", "<", ">", "("]
        .iter()
        .any(|op| spec.starts_with(op));
    if !spec.is_empty() && !operator {
        return Err(ctx.error_line(
            line_no,
            format!("unexpected `{spec}` after the name `{name}`"),
        ));
    }
    let pin = spec
        .strip_prefix("===")
        .or_else(|| spec.strip_prefix("=="))
        .map(str::trim)
        .filter(|v| !v.contains([',', '*', ' ']) && !v.is_empty());
    Ok(Some(Package {
        name: name.to_owned(),
        version: pin.map(str::to_owned),
        source: match pin {
            Some(_) => None,
            None if spec.is_empty() => None,
            None => Some(spec.to_owned()),
        },
        direct: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Result<Vec<Package>, FileError> {
        parse(
            &Ctx {
                path: "requirements.txt",
            },
            text,
            None,
        )
        .map(|p| p.packages)
    }

    #[test]
    fn pip_compile_output() {
        let text = "\
#
# This file is autogenerated by pip-compile with Python 3.11
#
asgiref==3.8.1 \\
    --hash=sha256:3e1e3ecc849832fe52ccf2cb6686b7a55f82bb1d6aee72a58826471390335e47 \\
    --hash=sha256:c343bd80a0bec947a9860adb4c432ffa7db769836c64238fc34bdc3fec84d590
    # via django
django==5.1.3 ; python_version >= \"3.10\" \\
    --hash=sha256:abc
    # via -r requirements.in
requests[socks]==2.32.3
    # via
    #   -r requirements.in
    #   other
-e git+https://github.com/org/lib.git@v1#egg=orglib
pkg @ https://example.com/pkg-1.0.tar.gz
--index-url https://pypi.org/simple
";
        let p = parse_text(text).unwrap();
        let got: Vec<_> = p
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_deref(), p.direct))
            .collect();
        assert_eq!(
            got,
            [
                ("asgiref", Some("3.8.1"), Some(false)),
                ("django", Some("5.1.3"), Some(true)),
                ("requests", Some("2.32.3"), Some(true)),
                ("orglib", None, Some(false)),
                ("pkg", None, Some(false)),
            ]
        );
        assert_eq!(
            p[3].source.as_deref(),
            Some("git+https://github.com/org/lib.git@v1#egg=orglib")
        );
    }

    #[test]
    fn bad_line_has_position() {
        let err = parse_text("django==4.2\n\n%%%\n").unwrap_err();
        assert_eq!(err.line, Some(3));
    }
}

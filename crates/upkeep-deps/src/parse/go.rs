//! Go modules: `go.mod`, with `go.sum` beside it for old modules.
//!
//! Since Go 1.17, `go.mod` lists every module of the build (the indirect ones marked
//! `// indirect`), so it is the lockfile. For a module declaring an older `go`
//! version, the modules only `go.sum` knows are added as transitive, each at the
//! highest version whose content (not just its `go.mod`) is hashed there. `replace`
//! directives apply: a module replaced by another version reports that version, one
//! replaced by a local directory reports no version and the directory as source.

use std::collections::{BTreeMap, HashSet};

use super::{Ctx, Parsed};
use crate::model::{Ecosystem, FileError, Package};
use crate::version;

const VERBS: &[&str] = &[
    "module",
    "go",
    "toolchain",
    "godebug",
    "require",
    "replace",
    "exclude",
    "retract",
    "tool",
    "ignore",
];

/// Splits a line into tokens (quoted strings are one token) and whether its comment
/// says `indirect`.
fn tokenize(line: &str) -> (Vec<String>, bool) {
    let mut tokens = Vec::new();
    let mut chars = line.char_indices().peekable();
    let mut indirect = false;
    while let Some(&(i, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if line[i..].starts_with("//") {
            let comment = line[i + 2..].trim();
            indirect = comment == "indirect" || comment.starts_with("indirect;");
            break;
        } else if c == '"' || c == '`' {
            chars.next();
            let mut token = String::new();
            let mut escaped = false;
            for (_, c2) in chars.by_ref() {
                if escaped {
                    token.push(c2);
                    escaped = false;
                } else if c2 == '\\' && c == '"' {
                    escaped = true;
                } else if c2 == c {
                    break;
                } else {
                    token.push(c2);
                }
            }
            tokens.push(token);
        } else {
            let mut token = String::new();
            while let Some(&(j, c2)) = chars.peek() {
                if c2.is_whitespace() || line[j..].starts_with("//") {
                    break;
                }
                token.push(c2);
                chars.next();
            }
            tokens.push(token);
        }
    }
    (tokens, indirect)
}

struct Replace {
    old: String,
    old_version: Option<String>,
    new: String,
    new_version: Option<String>,
}

#[allow(clippy::too_many_lines)] // One pass over the directives; splitting it scatters the state.
pub(crate) fn parse(ctx: &Ctx<'_>, text: &str, go_sum: Option<&str>) -> Result<Parsed, FileError> {
    let mut requires: Vec<(String, String, bool)> = Vec::new();
    let mut replaces: Vec<Replace> = Vec::new();
    let mut go_version: Option<String> = None;
    let mut saw_module = false;
    let mut block: Option<String> = None;

    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        let (mut tokens, indirect) = tokenize(line);
        if tokens.is_empty() {
            continue;
        }
        let verb = if let Some(verb) = &block {
            if tokens.len() == 1 && tokens[0] == ")" {
                block = None;
                continue;
            }
            verb.clone()
        } else {
            let mut verb = tokens.remove(0);
            if let Some(v) = verb.strip_suffix('(') {
                verb = String::from(v);
                tokens.insert(0, "(".to_owned());
            }
            if !VERBS.contains(&verb.as_str()) {
                return Err(ctx.error_line(line_no, format!("unknown directive `{verb}`")));
            }
            if tokens.len() == 1 && tokens[0] == "(" {
                block = Some(verb);
                continue;
            }
            verb
        };
        match verb.as_str() {
            "module" => saw_module = true,
            "go" => go_version = tokens.first().cloned(),
            "require" => {
                let [path, version] = tokens.as_slice() else {
                    return Err(ctx.error_line(line_no, "expected `require module/path vX.Y.Z`"));
                };
                requires.push((path.clone(), version.clone(), indirect));
            }
            "replace" => {
                let Some(arrow) = tokens.iter().position(|t| t == "=>") else {
                    return Err(ctx.error_line(line_no, "`replace` without `=>`"));
                };
                let (old, new) = tokens.split_at(arrow);
                let new = &new[1..];
                if old.is_empty() || old.len() > 2 || new.is_empty() || new.len() > 2 {
                    return Err(ctx.error_line(line_no, "expected `replace old [v] => new [v]`"));
                }
                replaces.push(Replace {
                    old: old[0].clone(),
                    old_version: old.get(1).cloned(),
                    new: new[0].clone(),
                    new_version: new.get(1).cloned(),
                });
            }
            _ => {}
        }
    }
    if block.is_some() {
        return Err(ctx.error(format!(
            "unterminated block at end of file ({} lines)",
            text.lines().count()
        )));
    }
    if !saw_module && requires.is_empty() {
        return Err(ctx.error("not a go.mod: no `module` directive"));
    }

    let mut packages: Vec<Package> = requires
        .into_iter()
        .map(|(path, version, indirect)| {
            let replacement = replaces
                .iter()
                .rev()
                .find(|r| r.old == path && r.old_version.as_ref().is_none_or(|v| *v == version));
            let (version, source) = match replacement {
                Some(r) => match &r.new_version {
                    Some(v) => (Some(v.clone()), Some(r.new.clone())),
                    None => (None, Some(r.new.clone())),
                },
                None => (Some(version), None),
            };
            Package {
                name: path,
                version,
                source,
                direct: Some(!indirect),
            }
        })
        .collect();

    let old_go = go_version.as_deref().is_none_or(|v| {
        version::compare(Ecosystem::Go, v, "1.17").is_some_and(std::cmp::Ordering::is_lt)
    });
    if old_go && let Some(sum) = go_sum {
        let known: HashSet<&str> = packages.iter().map(|p| p.name.as_str()).collect();
        let mut best: BTreeMap<String, String> = BTreeMap::new();
        for line in sum.lines() {
            let mut parts = line.split_whitespace();
            let (Some(module), Some(version)) = (parts.next(), parts.next()) else {
                continue;
            };
            if version.ends_with("/go.mod") || known.contains(module) {
                continue;
            }
            let better = best.get(module).is_none_or(|current| {
                version::compare(Ecosystem::Go, current, version)
                    .is_some_and(std::cmp::Ordering::is_lt)
            });
            if better {
                best.insert(module.to_owned(), version.to_owned());
            }
        }
        packages.extend(best.into_iter().map(|(name, version)| Package {
            name,
            version: Some(version),
            source: None,
            direct: Some(false),
        }));
    }
    Ok(Parsed {
        format_version: go_version,
        packages,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GO_MOD: &str = r#"module example.com/app

go 1.21

require (
	github.com/gin-gonic/gin v1.9.1
	golang.org/x/text v0.14.0 // indirect
	"github.com/quoted/mod" v1.0.0
)

require github.com/single/line v0.1.0

replace github.com/single/line => ../local
replace golang.org/x/text v0.14.0 => golang.org/x/text v0.15.0
"#;

    #[test]
    fn requires_indirect_and_replace() {
        let p = parse(&Ctx { path: "go.mod" }, GO_MOD, None)
            .unwrap()
            .packages;
        let got: Vec<_> = p
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_deref(), p.direct))
            .collect();
        assert_eq!(
            got,
            [
                ("github.com/gin-gonic/gin", Some("v1.9.1"), Some(true)),
                ("golang.org/x/text", Some("v0.15.0"), Some(false)),
                ("github.com/quoted/mod", Some("v1.0.0"), Some(true)),
                ("github.com/single/line", None, Some(true)),
            ]
        );
    }

    #[test]
    fn go_sum_fills_in_for_old_modules() {
        let go_mod = "module m\n\ngo 1.16\n\nrequire a.com/x v1.0.0\n";
        let sum = "a.com/x v1.0.0 h1:x=\nb.com/y v1.1.0 h1:y=\nb.com/y v1.2.0 h1:y=\nb.com/y v1.3.0/go.mod h1:y=\n";
        let p = parse(&Ctx { path: "go.mod" }, go_mod, Some(sum))
            .unwrap()
            .packages;
        assert_eq!(p.len(), 2);
        assert_eq!(
            (p[1].name.as_str(), p[1].version.as_deref()),
            ("b.com/y", Some("v1.2.0"))
        );
        let new = go_mod.replace("1.16", "1.21");
        assert_eq!(
            parse(&Ctx { path: "go.mod" }, &new, Some(sum))
                .unwrap()
                .packages
                .len(),
            1
        );
    }

    #[test]
    fn garbage_is_an_error_with_line() {
        let err = parse(&Ctx { path: "go.mod" }, "module m\n{\"json\": 1}\n", None).unwrap_err();
        assert_eq!(err.line, Some(2));
    }
}

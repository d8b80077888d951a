//! From text to a checked [`Config`]: parse with spans, apply `UPKEEP_…` overrides,
//! refuse secrets, deserialize, validate, and turn every failure into a [`Diagnostic`]
//! that points at a line and column of the file or at an environment variable.

use std::fmt::Write as _;
use std::ops::Range;
use std::path::Path;

use serde::Deserialize as _;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::error::{Diagnostic, Error, Location, Result, Snippet};
use crate::redact::{redact_line, redact_text};
use crate::repo_settings::{REFUSED_KEYS, REPO_SETTINGS_FILE, RepoSettings};
use crate::secrets::{env_var_for, looks_secret};
use crate::suggest::{backticked, did_you_mean};
use crate::validate::{KeyPath, Seg, validate};
use crate::{Config, env};

/// The text being loaded and what its spans mean. Spans past the end of the file are
/// not in it: position `len + 1 + i` stands for the `i`-th override variable.
struct Source<'a> {
    path: &'a Path,
    text: &'a str,
    vars: &'a [(String, String)],
}

impl Source<'_> {
    fn env_span(&self, i: usize) -> Range<usize> {
        // Non-empty, so that lookups by position find the keys it created.
        let p = self.text.len() + 1 + i;
        p..p + 1
    }

    fn locate(&self, span: Option<Range<usize>>) -> (Location, Option<Snippet>) {
        let Some(span) = span else {
            return (
                Location::FileOnly {
                    path: self.path.to_owned(),
                },
                None,
            );
        };
        if span.start > self.text.len() {
            let i = span.start - self.text.len() - 1;
            let var = self
                .vars
                .get(i)
                .map_or_else(|| "UPKEEP_…".to_owned(), |(k, _)| k.clone());
            return (Location::Env { var }, None);
        }
        let start = floor_char_boundary(self.text, span.start);
        let line_start = self.text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = self.text[start..]
            .find('\n')
            .map_or(self.text.len(), |i| start + i);
        let line = self.text[..line_start].matches('\n').count() + 1;
        let column = self.text[line_start..start].chars().count() + 1;
        let line_text = self.text[line_start..line_end]
            .trim_end_matches('\r')
            .to_owned();
        let end = floor_char_boundary(self.text, span.end.min(line_end).max(start));
        let width = self.text[start..end].chars().count().max(1);
        let location = Location::File {
            path: self.path.to_owned(),
            line,
            column,
        };
        // The line may hold a secret even when the problem is elsewhere in it (a token
        // without quotes is a syntax error, `user:pass@` in a URL a validation error).
        let snippet = match redact_line(&line_text) {
            None => Snippet {
                line_text,
                line,
                column,
                width,
            },
            Some(r) => {
                let (column, width) = r.map_underline(column, width);
                Snippet {
                    line_text: r.text,
                    line,
                    column,
                    width,
                }
            }
        };
        (location, Some(snippet))
    }

    fn diagnostic(
        &self,
        span: Option<Range<usize>>,
        key: Option<String>,
        message: String,
        help: Option<String>,
    ) -> Diagnostic {
        let (location, snippet) = self.locate(span);
        Diagnostic {
            location,
            key,
            message: redact_text(message),
            help: help.map(redact_text),
            snippet,
        }
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Parses, overrides, deserializes and validates. `path` names the file in messages and
/// anchors relative paths (its directory).
pub(crate) fn load_str<I, K, V>(text: &str, path: &Path, env: I) -> Result<Config>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let vars = env::overrides(env);
    let src = Source {
        path,
        text,
        vars: &vars,
    };
    let invalid = |diagnostics: Vec<Diagnostic>| Error::Invalid {
        path: path.to_owned(),
        diagnostics,
    };

    let root = DeTable::parse(text)
        .map_err(|e| invalid(vec![src.diagnostic(e.span(), None, toml_message(&e), None)]))?;
    let root_span = root.span();
    let mut table = root.into_inner();

    let mut diags = Vec::new();
    for (i, (var, value)) in vars.iter().enumerate() {
        let span = src.env_span(i);
        let result = env::key_path(var).and_then(|path| {
            let v = env::parse_value(value, &span);
            env::set(&mut table, &path, v, &span, "")
        });
        if let Err(message) = result {
            diags.push(src.diagnostic(
                Some(span),
                None,
                message,
                Some(format!("see {}", crate::ENV_DOCS)),
            ));
        }
    }
    find_secrets(&table, &mut Vec::new(), &src, &mut diags, &|dotted| {
        format!(
            "remove it and set {} in the environment instead",
            env_var_for(dotted)
        )
    });
    if !diags.is_empty() {
        return Err(invalid(diags));
    }

    let de = toml::de::Deserializer::from(Spanned::new(root_span, table.clone()));
    let mut config =
        Config::deserialize(de).map_err(|e| invalid(vec![serde_diagnostic(&e, &table, &src)]))?;

    let base_dir = path
        .parent()
        .map_or_else(|| Path::new(".").to_owned(), Path::to_owned);
    let base_dir = if base_dir.as_os_str().is_empty() {
        Path::new(".").to_owned()
    } else {
        base_dir
    };
    let base_dir = std::path::absolute(&base_dir).unwrap_or(base_dir);
    path.clone_into(&mut config.path);
    config.state_dir = if config.state_dir.is_relative() {
        base_dir.join(&config.state_dir)
    } else {
        config.state_dir.clone()
    };
    config.base_dir = base_dir;

    let problems = validate(&mut config);
    if problems.is_empty() {
        return Ok(config);
    }
    Err(invalid(problem_diagnostics(problems, &table, &src)))
}

/// Validation problems as diagnostics, in file order, each pointing at its key.
fn problem_diagnostics(
    problems: Vec<crate::validate::Problem>,
    table: &DeTable<'_>,
    src: &Source<'_>,
) -> Vec<Diagnostic> {
    let mut diags: Vec<(usize, Diagnostic)> = problems
        .into_iter()
        .map(|p| {
            let span = span_of(table, &p.path.0);
            let mut message = p.message;
            if let Some(rel) = p.related.and_then(|r| span_of(table, &r.0)) {
                match src.locate(Some(rel)).0 {
                    Location::File { line, .. } => {
                        let _ = write!(message, " (first defined at line {line})");
                    }
                    Location::Env { var } => {
                        let _ = write!(message, " (first set by {var})");
                    }
                    Location::FileOnly { .. } => {}
                }
            }
            let order = span.as_ref().map_or(usize::MAX, |s| s.start);
            (
                order,
                src.diagnostic(span, Some(p.path.to_string()), message, p.help),
            )
        })
        .collect();
    diags.sort_by_key(|(o, _)| *o);
    diags.into_iter().map(|(_, d)| d).collect()
}

/// Parses and checks a repository's `.upkeep.toml` ([`RepoSettings`]): refused keys and
/// secrets first (all of them), then types, then values; every problem points at its
/// line and key of the file named `path`.
pub(crate) fn load_repo_settings(text: &str, path: &Path) -> Result<RepoSettings> {
    let src = Source {
        path,
        text,
        vars: &[],
    };
    let invalid = |diagnostics: Vec<Diagnostic>| Error::Invalid {
        path: path.to_owned(),
        diagnostics,
    };
    let root = DeTable::parse(text)
        .map_err(|e| invalid(vec![src.diagnostic(e.span(), None, toml_message(&e), None)]))?;
    let root_span = root.span();
    let table = root.into_inner();

    let mut diags = Vec::new();
    for (k, _) in &table {
        if let Some((key, why)) = REFUSED_KEYS.iter().find(|(r, _)| *r == k.get_ref()) {
            diags.push(src.diagnostic(
                Some(k.span()),
                Some((*key).to_owned()),
                format!("`{key}` cannot be set in a repository's {REPO_SETTINGS_FILE}"),
                Some((*why).to_owned()),
            ));
        }
    }
    find_secrets(&table, &mut Vec::new(), &src, &mut diags, &|_| {
        format!(
            "remove it: a repository's {REPO_SETTINGS_FILE} never carries secrets; \
             upkeep passes none of its own to the steps either"
        )
    });
    if !diags.is_empty() {
        diags.sort_by_key(|d| match &d.location {
            Location::File { line, column, .. } => (*line, *column),
            _ => (usize::MAX, 0),
        });
        return Err(invalid(diags));
    }
    let de = toml::de::Deserializer::from(Spanned::new(root_span, table.clone()));
    let settings = RepoSettings::deserialize(de)
        .map_err(|e| invalid(vec![serde_diagnostic(&e, &table, &src)]))?;
    let problems = crate::validate::repo_settings(&settings);
    if problems.is_empty() {
        Ok(settings)
    } else {
        Err(invalid(problem_diagnostics(problems, &table, &src)))
    }
}

/// toml's message without its "TOML parse error at …" framing (we add our own).
fn toml_message(e: &toml::de::Error) -> String {
    e.message().trim().replace('\n', "; ")
}

/// Refuses string values under token-like keys: secrets live in the environment only.
fn find_secrets(
    table: &DeTable<'_>,
    path: &mut Vec<String>,
    src: &Source<'_>,
    out: &mut Vec<Diagnostic>,
    help: &dyn Fn(&str) -> String,
) {
    for (k, v) in table {
        path.push(k.get_ref().to_string());
        match v.get_ref() {
            v if !v.is_table() && looks_secret(k.get_ref()) => {
                let dotted = path.join(".");
                let mut d = src.diagnostic(
                    Some(k.span()),
                    Some(dotted.clone()),
                    format!("`{}` looks like a secret; secrets are never read from the configuration file", k.get_ref()),
                    Some(help(&dotted)),
                );
                // The line holds the secret: show where it is, never what it is.
                d.snippet = None;
                out.push(d);
            }
            DeValue::Table(t) => find_secrets(t, path, src, out, help),
            DeValue::Array(items) => {
                for item in items {
                    if let DeValue::Table(t) = item.get_ref() {
                        find_secrets(t, path, src, out, help);
                    }
                }
            }
            _ => {}
        }
        path.pop();
    }
}

/// The span to point at for a key path: the value when it is a plain value (to
/// underline it), otherwise the key.
fn span_of(table: &DeTable<'_>, path: &[Seg]) -> Option<Range<usize>> {
    let mut current: Option<&Spanned<DeValue<'_>>> = None;
    let mut key_span = None;
    for seg in path {
        let next = match (seg, current.map(Spanned::get_ref)) {
            (Seg::Key(k), None) => table.get_key_value(k.as_str()),
            (Seg::Key(k), Some(DeValue::Table(t))) => t.get_key_value(k.as_str()),
            (Seg::Index(i), Some(DeValue::Array(a))) => {
                current = a.get(*i);
                continue;
            }
            _ => None,
        };
        let Some((k, v)) = next else {
            break;
        };
        key_span = Some(k.span());
        current = Some(v);
    }
    match (current.map(Spanned::get_ref), path.last()) {
        (Some(DeValue::Table(_) | DeValue::Array(_)) | None, _) | (_, Some(Seg::Index(_))) => {
            key_span.or_else(|| current.map(Spanned::span))
        }
        (Some(_), _) => current.map(Spanned::span),
    }
}

/// The dotted path of the deepest key or value whose span contains `pos`.
fn path_at(table: &DeTable<'_>, pos: usize) -> Option<KeyPath> {
    fn walk(table: &DeTable<'_>, pos: usize, prefix: &mut Vec<Seg>, best: &mut Option<Vec<Seg>>) {
        for (k, v) in table {
            prefix.push(Seg::Key(k.get_ref().to_string()));
            let hit = k.span().contains(&pos)
                || (!v.get_ref().is_table() && !v.get_ref().is_array() && v.span().contains(&pos));
            if hit && best.as_ref().is_none_or(|b| b.len() <= prefix.len()) {
                *best = Some(prefix.clone());
            }
            match v.get_ref() {
                DeValue::Table(t) => walk(t, pos, prefix, best),
                DeValue::Array(a) => {
                    for (i, item) in a.iter().enumerate() {
                        prefix.push(Seg::Index(i));
                        match item.get_ref() {
                            DeValue::Table(t) => walk(t, pos, prefix, best),
                            _ if item.span().contains(&pos)
                                && best.as_ref().is_none_or(|b| b.len() <= prefix.len()) =>
                            {
                                *best = Some(prefix.clone());
                            }
                            _ => {}
                        }
                        prefix.pop();
                    }
                }
                _ => {}
            }
            prefix.pop();
        }
    }
    let mut best = None;
    walk(table, pos, &mut Vec::new(), &mut best);
    best.map(KeyPath)
}

/// A deserialization error as a diagnostic, with "did you mean" for unknown keys and
/// values.
fn serde_diagnostic(e: &toml::de::Error, table: &DeTable<'_>, src: &Source<'_>) -> Diagnostic {
    let message = toml_message(e);
    let key = e
        .span()
        .and_then(|s| path_at(table, s.start))
        .map(|p| p.to_string())
        .or_else(|| {
            let shown = e.to_string();
            shown
                .lines()
                .find_map(|l| l.strip_prefix("in `").and_then(|l| l.strip_suffix('`')))
                .map(str::to_owned)
        });
    let help = if message.starts_with("unknown field") || message.starts_with("unknown variant") {
        let words = backticked(&message);
        match words.split_first() {
            Some((bad, expected)) if !expected.is_empty() => {
                Some(match did_you_mean(bad, expected) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("expected one of: {}", expected.join(", ")),
                })
            }
            _ => None,
        }
    } else if message.starts_with("missing field") {
        Some("add it; see docs/configuration.md for every key".to_owned())
    } else {
        None
    };
    src.diagnostic(e.span(), key, message, help)
}

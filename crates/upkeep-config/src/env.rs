//! `UPKEEP_…` environment overrides, applied to the parsed document before it is
//! turned into the typed model so that overrides get the same checks as the file.
//!
//! Mapping: strip `UPKEEP_`, split the rest at `__`, lowercase each part; the parts are
//! the key path. `UPKEEP_MAINTAIN__JOBS=4` sets `maintain.jobs`,
//! `UPKEEP_BRANCHES__SENTRY__THRESHOLD=0` sets `branches.sentry.threshold`. An entry of
//! an array of tables (`projects`, `repos`, …) is picked by its `name` (matched
//! case-insensitively, `_` standing for `-`) or by its 0-based index:
//! `UPKEEP_MAINTAIN__PROJECTS__MY_API__BASE_BRANCH=develop`.
//!
//! A variable without `__` is an override only when it names a top-level setting
//! ([`TOP_LEVEL_KEYS`]): `UPKEEP_STATE_DIR=/var/lib/upkeep` sets `state_dir`. Every other
//! such variable is left alone, because the tools and their tests have their own
//! (`UPKEEP_CONFIG` names the file, `UPKEEP_TEST_LOG` switches test logging on, …) and
//! these must never be taken for settings.
//!
//! Values are read as TOML values when they parse as one (`4`, `true`, `["a", "b"]`,
//! `"quoted"`), otherwise as plain strings (`30m`, `develop`). To force a string that
//! looks like a number, quote it: `UPKEEP_BRANCHES__SENTRY__ORG='"1234"'`.

use std::borrow::Cow;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// The prefix of override variables.
pub const ENV_PREFIX: &str = "UPKEEP_";

/// The top-level settings (keys outside any section) that a single-segment variable
/// sets: `UPKEEP_STATE_DIR` → `state_dir`. Sections cannot be set whole.
pub const TOP_LEVEL_KEYS: [&str; 1] = ["state_dir"];

/// Variables of the `UPKEEP_` family that are never overrides, whatever keys are added
/// at the top level: they configure the tools themselves.
pub const NOT_OVERRIDES: [&str; 2] = ["UPKEEP_CONFIG", "UPKEEP_TEST_LOG"];

/// Whether `var` is an override variable.
fn is_override(var: &str) -> bool {
    let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
        return false;
    };
    if NOT_OVERRIDES.contains(&var) {
        return false;
    }
    rest.contains("__") || TOP_LEVEL_KEYS.contains(&rest.to_ascii_lowercase().as_str())
}

/// The override variables among `env`, sorted by name so that application order is
/// deterministic.
pub(crate) fn overrides<I, K, V>(env: I) -> Vec<(String, String)>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut v: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| is_override(k.as_ref()))
        .map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned()))
        .collect();
    v.sort();
    v
}

/// The key path of an override variable (`UPKEEP_A__B_C` → `["a", "b_c"]`).
pub(crate) fn key_path(var: &str) -> Result<Vec<String>, String> {
    let rest = &var[ENV_PREFIX.len()..];
    let parts: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || p.starts_with('_') || p.ends_with('_'))
    {
        return Err(
            "empty key part (three or more underscores in a row, or a trailing `__`)".to_owned(),
        );
    }
    Ok(parts)
}

/// Parses an override value: a TOML value if it is one, else the raw string. Every span
/// in it is set to `span`, so any later error in it points at the variable.
pub(crate) fn parse_value<'i>(raw: &'i str, span: &Range<usize>) -> Spanned<DeValue<'i>> {
    let value = match DeValue::parse(raw) {
        Ok(v) => v.into_inner(),
        Err(_) => DeValue::String(Cow::Borrowed(raw)),
    };
    Spanned::new(span.clone(), respan(value, span))
}

fn respan<'i>(value: DeValue<'i>, span: &Range<usize>) -> DeValue<'i> {
    match value {
        DeValue::Array(mut a) => {
            for item in a.iter_mut() {
                let inner = std::mem::replace(item.get_mut(), DeValue::Boolean(false));
                *item = Spanned::new(span.clone(), respan(inner, span));
            }
            DeValue::Array(a)
        }
        DeValue::Table(t) => {
            let mut out = DeTable::new();
            for (k, v) in t {
                out.insert(
                    Spanned::new(span.clone(), k.into_inner()),
                    Spanned::new(span.clone(), respan(v.into_inner(), span)),
                );
            }
            DeValue::Table(out)
        }
        other => other,
    }
}

fn normalise(name: &str) -> String {
    name.to_ascii_lowercase().replace('-', "_")
}

/// Sets `path` to `value` in `table`, creating tables on the way; `shown` is the dotted
/// path so far, for messages.
pub(crate) fn set<'i>(
    table: &mut DeTable<'i>,
    path: &[String],
    value: Spanned<DeValue<'i>>,
    span: &Range<usize>,
    shown: &str,
) -> Result<(), String> {
    let Some((first, rest)) = path.split_first() else {
        return Err("empty key path".to_owned());
    };
    let here = if shown.is_empty() {
        first.clone()
    } else {
        format!("{shown}.{first}")
    };
    if rest.is_empty() {
        table.insert(Spanned::new(span.clone(), Cow::Owned(first.clone())), value);
        return Ok(());
    }
    let entry = table
        .entry(Spanned::new(span.clone(), Cow::Owned(first.clone())))
        .or_insert_with(|| Spanned::new(span.clone(), DeValue::Table(DeTable::new())));
    match entry.get_mut() {
        DeValue::Table(t) => set(t, rest, value, span, &here),
        DeValue::Array(items) => {
            let (selector, rest) = rest.split_first().expect("rest is not empty");
            if rest.is_empty() {
                return Err(format!(
                    "`{here}` is a list; name a key inside one entry, e.g. {ENV_PREFIX}…__{}__{selector}__KEY",
                    first.to_ascii_uppercase()
                ));
            }
            let names: Vec<String> = items
                .iter()
                .filter_map(|i| {
                    i.get_ref()
                        .get("name")
                        .and_then(|n| n.get_ref().as_str())
                        .map(str::to_owned)
                })
                .collect();
            let found = match selector.parse::<usize>() {
                Ok(i) if i < items.len() => Some(i),
                _ => items.iter().position(|i| {
                    i.get_ref()
                        .get("name")
                        .and_then(|n| n.get_ref().as_str())
                        .is_some_and(|n| normalise(n) == normalise(selector))
                }),
            };
            let Some(idx) = found else {
                let known = if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                };
                return Err(format!(
                    "no entry named `{selector}` in `{here}` (known: {known})"
                ));
            };
            match items.get_mut(idx).map(Spanned::get_mut) {
                Some(DeValue::Table(t)) => set(t, rest, value, span, &format!("{here}[{idx}]")),
                Some(other) => Err(format!(
                    "`{here}[{idx}]` is a {}, not a table",
                    other.type_str()
                )),
                None => Err(format!("no entry {idx} in `{here}`")),
            }
        }
        other => Err(format!("`{here}` is a {}, not a table", other.type_str())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_paths_split_on_double_underscore() {
        assert_eq!(
            key_path("UPKEEP_MAINTAIN__JOBS").unwrap(),
            ["maintain", "jobs"]
        );
        assert_eq!(
            key_path("UPKEEP_MAINTAIN__PROJECTS__MY_API__BASE_BRANCH").unwrap(),
            ["maintain", "projects", "my_api", "base_branch"]
        );
        assert!(key_path("UPKEEP_MAINTAIN___JOBS").is_err());
    }

    #[test]
    fn overrides_are_nested_paths_or_top_level_keys() {
        let o = overrides([
            ("UPKEEP_CONFIG", "x"),
            ("UPKEEP_TEST_LOG", "debug"),
            ("UPKEEP_SLACK_API_URL", "http://127.0.0.1:1"),
            ("UPKEEP_MAINTAIN", "x"),
            ("UPKEEP_B__X", "1"),
            ("UPKEEP_A__Y", "2"),
            ("UPKEEP_STATE_DIR", "/s"),
            ("PATH", "/"),
        ]);
        assert_eq!(
            o,
            [
                ("UPKEEP_A__Y".to_owned(), "2".to_owned()),
                ("UPKEEP_B__X".to_owned(), "1".to_owned()),
                ("UPKEEP_STATE_DIR".to_owned(), "/s".to_owned()),
            ]
        );
        assert_eq!(key_path("UPKEEP_STATE_DIR").unwrap(), ["state_dir"]);
    }

    #[test]
    fn tool_variables_stay_out_even_if_a_key_of_that_name_appears() {
        for v in NOT_OVERRIDES {
            let key = v[ENV_PREFIX.len()..].to_ascii_lowercase();
            assert!(!TOP_LEVEL_KEYS.contains(&key.as_str()), "{v}");
            assert!(!is_override(v), "{v}");
        }
    }

    #[test]
    fn values_are_toml_or_strings() {
        let s = 0..0;
        assert!(parse_value("4", &s).get_ref().is_integer());
        assert!(parse_value("true", &s).get_ref().is_bool());
        assert_eq!(parse_value("30m", &s).get_ref().as_str(), Some("30m"));
        assert_eq!(parse_value("\"4\"", &s).get_ref().as_str(), Some("4"));
        assert_eq!(
            parse_value("[\"a\", \"b\"]", &s)
                .get_ref()
                .as_array()
                .map(|a| a.len()),
            Some(2)
        );
    }
}

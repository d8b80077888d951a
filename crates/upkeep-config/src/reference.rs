//! Renders the configuration reference (Markdown) from the JSON Schema, so that the
//! documented keys, types, defaults and meanings are the code's own.
//!
//! Layout: one section per table (`## [maintain]`, `### [maintain.chat]`,
//! `### [[maintain.projects]]`), each a table of its keys — required keys first, then the
//! others alphabetically, sub-tables last. Sibling tables of the same type
//! (`[maintain.steps.upgrade]`, `…build]`, `…test]`) share one section. A closing
//! section describes the value types (duration, template, …) the tables refer to.

use std::fmt::Write as _;

use schemars::Schema;
use serde_json::{Map, Value};

use crate::Placeholder;
use crate::schema::reflow;

/// What a key holds, as far as the layout is concerned.
enum Kind<'a> {
    /// A plain value (string, list of strings, duration, …).
    Value,
    /// A table of its own (`[a.b]`), with the definition's schema.
    Table(&'a str, &'a Value),
    /// A list of tables (`[[a.b]]`), with the item definition's schema.
    Tables(&'a str, &'a Value),
}

struct Row<'a> {
    key: &'a str,
    schema: &'a Value,
    kind: Kind<'a>,
    required: bool,
}

/// A section to render: one table (or several sibling tables of one type).
struct Section<'a> {
    /// The TOML headers, e.g. `[maintain.chat]`; several for grouped siblings.
    headers: Vec<String>,
    /// The dotted path of the (first) table, for the headers of its children.
    path: String,
    /// The table's own schema (a definition).
    schema: &'a Value,
    /// The defaults of its keys, one object per header, from the parent's default.
    defaults: Vec<Option<&'a Value>>,
}

struct Renderer<'a> {
    defs: &'a Map<String, Value>,
    out: String,
    /// The title and note of the root section.
    top: (String, String),
    /// Heading levels added to every section (to nest the reference in a page section).
    nesting: usize,
}

/// The reference for a root schema as made by [`crate::schema::json_schema`].
pub(crate) fn render(schema: &Schema) -> String {
    render_with(
        schema,
        "Generated from the configuration types (`crates/upkeep-config`): every key the \
         loader accepts, with its type, its default and what it does. A key marked \
         **required** must be set when its table is present; *unset* means the key has no \
         value of its own and the meaning says what applies then.\n",
        "Top level",
        "Keys outside any table. Each tool reads its own table.\n",
        0,
    )
}

/// The reference of a repository's `.upkeep.toml` ([`crate::schema::repo_json_schema`]).
pub(crate) fn render_repo(schema: &Schema) -> String {
    render_with(
        schema,
        "Generated from `RepoSettings` (`crates/upkeep-config`): every key a repository's \
         `.upkeep.toml` accepts. Any other key is refused, with the line and the reason.\n",
        "`.upkeep.toml` keys",
        "Keys at the top level of the file; value types are described in the reference \
         below.\n",
        1,
    )
}

/// `nesting` pushes every heading down that many levels; the value types section (whose
/// anchors the tables link to) is written only at the top level, once per page.
fn render_with(
    schema: &Schema,
    intro: &str,
    top_title: &str,
    top_note: &str,
    nesting: usize,
) -> String {
    let root = schema.as_value();
    let empty = Map::new();
    let defs = root
        .get("definitions")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut r = Renderer {
        defs,
        out: String::new(),
        top: (top_title.to_owned(), top_note.to_owned()),
        nesting,
    };
    r.out.push_str(intro);
    r.section(
        &Section {
            headers: Vec::new(),
            path: String::new(),
            schema: root,
            defaults: vec![None],
        },
        0,
    );
    if nesting == 0 {
        r.value_types();
    }
    r.out
}

impl<'a> Renderer<'a> {
    fn def(&self, name: &str) -> Option<&'a Value> {
        self.defs.get(name)
    }

    /// The definition a schema refers to (`$ref`, or `allOf: [$ref]` with siblings).
    fn ref_name(s: &Value) -> Option<&str> {
        let direct = s.get("$ref").and_then(Value::as_str);
        let wrapped = || match s.get("allOf").and_then(Value::as_array) {
            Some(a) if a.len() == 1 => a[0].get("$ref").and_then(Value::as_str),
            _ => None,
        };
        direct.or_else(wrapped).and_then(|r| r.rsplit('/').next())
    }

    fn is_table(def: &Value) -> bool {
        def.get("properties").is_some()
    }

    fn kind(&self, s: &'a Value) -> Kind<'a> {
        if let Some(name) = Self::ref_name(s)
            && let Some(def) = self.def(name)
            && Self::is_table(def)
        {
            return Kind::Table(name, def);
        }
        if s.get("type").and_then(Value::as_str) == Some("array")
            && let Some(items) = s.get("items")
            && let Some(name) = Self::ref_name(items)
            && let Some(def) = self.def(name)
            && Self::is_table(def)
        {
            return Kind::Tables(name, def);
        }
        Kind::Value
    }

    fn rows(&self, table: &'a Value) -> Vec<Row<'a>> {
        let required: Vec<&str> = table
            .get("required")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut rows: Vec<Row<'a>> = table
            .get("properties")
            .and_then(Value::as_object)
            .map(|props| {
                props
                    .iter()
                    .map(|(key, schema)| Row {
                        key,
                        schema,
                        kind: self.kind(schema),
                        required: required.contains(&key.as_str()),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let rank = |r: &Row<'_>| match (r.required, &r.kind) {
            (true, _) => 0,
            (false, Kind::Value) => 1,
            (false, _) => 2,
        };
        let order = |r: &Row<'_>| {
            required
                .iter()
                .position(|k| *k == r.key)
                .unwrap_or(usize::MAX)
        };
        rows.sort_by(|a, b| {
            rank(a)
                .cmp(&rank(b))
                .then(order(a).cmp(&order(b)))
                .then(a.key.cmp(b.key))
        });
        rows
    }

    fn section(&mut self, s: &Section<'a>, depth: usize) {
        let hashes = "#".repeat((depth + 1).clamp(2, 4) + self.nesting);
        if s.headers.is_empty() {
            let _ = writeln!(self.out, "\n{hashes} {}\n", self.top.0);
            self.out.push_str(&self.top.1);
        } else {
            let title: Vec<String> = s.headers.iter().map(|h| format!("`{h}`")).collect();
            let _ = writeln!(self.out, "\n{hashes} {}", title.join(", "));
            if let Some(d) = s.schema.get("description").and_then(Value::as_str) {
                let d = trim_header_intro(&reflow(d));
                if !d.is_empty() {
                    let _ = writeln!(self.out, "\n{d}");
                }
            }
        }
        let rows = self.rows(s.schema);
        if rows.is_empty() {
            return;
        }
        self.out
            .push_str("\n| key | type | default | meaning |\n|---|---|---|---|\n");
        for row in &rows {
            self.row(s, row);
        }
        // Sub-tables, siblings of one type together, in row order.
        let mut done: Vec<&str> = Vec::new();
        for row in &rows {
            if done.contains(&row.key) {
                continue;
            }
            let (name, def, array) = match row.kind {
                Kind::Value => continue,
                Kind::Table(n, d) => (n, d, false),
                Kind::Tables(n, d) => (n, d, true),
            };
            let siblings: Vec<&Row<'a>> = rows
                .iter()
                .filter(|r| match (&r.kind, array) {
                    (Kind::Table(n, _), false) => *n == name,
                    _ => r.key == row.key,
                })
                .collect();
            done.extend(siblings.iter().map(|r| r.key));
            let child = |key: &str| {
                if s.path.is_empty() {
                    key.to_owned()
                } else {
                    format!("{}.{key}", s.path)
                }
            };
            let headers = siblings
                .iter()
                .map(|r| {
                    if array {
                        format!("[[{}]]", child(r.key))
                    } else {
                        format!("[{}]", child(r.key))
                    }
                })
                .collect();
            let defaults = siblings
                .iter()
                .map(|r| {
                    if array {
                        return None;
                    }
                    r.schema.get("default").or_else(|| {
                        s.defaults
                            .first()
                            .copied()
                            .flatten()
                            .and_then(|d| d.get(r.key))
                    })
                })
                .collect();
            self.section(
                &Section {
                    headers,
                    path: child(row.key),
                    schema: def,
                    defaults,
                },
                depth + 1,
            );
        }
    }

    fn row(&mut self, s: &Section<'a>, row: &Row<'a>) {
        let (ty, default) = match row.kind {
            Kind::Value => {
                let defaults: Vec<Option<&Value>> = s
                    .defaults
                    .iter()
                    .map(|d| {
                        row.schema
                            .get("default")
                            .or_else(|| d.and_then(|d| d.get(row.key)))
                    })
                    .collect();
                (self.type_of(row.schema), render_defaults(&defaults))
            }
            Kind::Table(..) => ("table (below)".to_owned(), None),
            Kind::Tables(..) => ("list of tables (below)".to_owned(), None),
        };
        // A table has defaults when its own schema or its parent's default gives any.
        let table_has_defaults = row.schema.get("default").is_some()
            || s.defaults
                .iter()
                .any(|d| d.and_then(|d| d.get(row.key)).is_some());
        let default_cell = if row.required {
            "**required**".to_owned()
        } else if let Some(d) = &default {
            d.clone()
        } else if matches!(row.kind, Kind::Value) || !table_has_defaults {
            "*unset*".to_owned()
        } else {
            String::new()
        };
        let mut meaning = row
            .schema
            .get("description")
            .and_then(Value::as_str)
            .map(reflow)
            .unwrap_or_default();
        if default.is_some() {
            meaning = drop_default_sentences(&meaning);
        }
        let _ = writeln!(
            self.out,
            "| `{}` | {} | {} | {} |",
            row.key,
            cell(&ty),
            cell(&default_cell),
            cell(&meaning)
        );
    }

    /// A type as people read it: `string`, `bool`, `list of strings`, `duration`,
    /// `` `"console"` or `"slack"` ``.
    fn type_of(&self, s: &Value) -> String {
        if let Some(name) = Self::ref_name(s)
            && let Some(def) = self.def(name)
        {
            return if Self::is_table(def) {
                "table".to_owned()
            } else if choices(def).is_some() {
                self.type_of(def)
            } else {
                let label = label(name);
                format!("[{label}](#{})", anchor(&label))
            };
        }
        if let Some(c) = s.get("const") {
            return code(&toml_value(c));
        }
        if let Some(alts) = choices(s) {
            let alts: Vec<String> = alts.iter().map(|a| self.type_of(a)).collect();
            return join_or(&alts);
        }
        if let Some(values) = s.get("enum").and_then(Value::as_array) {
            let alts: Vec<String> = values.iter().map(|v| code(&toml_value(v))).collect();
            return join_or(&alts);
        }
        match s.get("type").and_then(Value::as_str) {
            Some("boolean") => "bool".to_owned(),
            Some("integer") => match s.get("minimum").and_then(Value::as_u64) {
                Some(min) if min > 0 => format!("integer ≥ {min}"),
                _ => "integer".to_owned(),
            },
            Some("array") => {
                let item = s
                    .get("items")
                    .map_or_else(|| "value".to_owned(), |i| self.type_of(i));
                format!("list of {}", plural(&item))
            }
            Some("object") => match s.get("additionalProperties") {
                Some(v) if v.is_object() => format!("table of {}", plural(&self.type_of(v))),
                _ => "table".to_owned(),
            },
            Some(other) => other.to_owned(),
            None => "value".to_owned(),
        }
    }

    /// The value types the tables refer to, one subsection each.
    fn value_types(&mut self) {
        let named: Vec<(&String, &Value)> = self
            .defs
            .iter()
            .filter(|(_, d)| !Self::is_table(d))
            .collect();
        if named.is_empty() {
            return;
        }
        self.out.push_str("\n## Value types\n");
        for (name, def) in named {
            let label = label(name);
            let _ = writeln!(self.out, "\n### {label}\n");
            if let Some(d) = def.get("description").and_then(Value::as_str) {
                let _ = writeln!(self.out, "{}", reflow(d));
            }
            if let Some(alts) = choices(def) {
                self.out.push('\n');
                for a in alts {
                    let what = a
                        .get("description")
                        .and_then(Value::as_str)
                        .map(reflow)
                        .unwrap_or_default();
                    let ty = self.type_of(a);
                    if what.is_empty() {
                        let _ = writeln!(self.out, "- {ty}");
                    } else {
                        let _ = writeln!(self.out, "- {ty}: {what}");
                    }
                }
            }
            if name == "Template" {
                self.out.push_str("\n| placeholder | value |\n|---|---|\n");
                for p in Placeholder::ALL {
                    let _ = writeln!(
                        self.out,
                        "| `{{{}}}` | {} |",
                        p.name(),
                        cell(p.description())
                    );
                }
            }
        }
    }
}

/// The alternatives of a `oneOf`/`anyOf` schema.
fn choices(s: &Value) -> Option<&Vec<Value>> {
    s.get("oneOf")
        .or_else(|| s.get("anyOf"))
        .and_then(Value::as_array)
}

/// `Duration` → `duration`, `BranchPattern` → `branch pattern`.
fn label(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push(' ');
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// The id mdBook and GitHub give a heading: lowercase, blanks to `-`, punctuation gone.
fn anchor(heading: &str) -> String {
    heading
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

fn plural(ty: &str) -> String {
    match ty {
        "string" | "table" | "integer" | "bool" | "value" => format!("{ty}s"),
        other => other.to_owned(),
    }
}

fn join_or(alts: &[String]) -> String {
    match alts {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// The defaults of one key across grouped sibling tables: one value, or `a / b / c`
/// when they differ; `None` when any is missing.
fn render_defaults(defaults: &[Option<&Value>]) -> Option<String> {
    let shown: Vec<String> = defaults
        .iter()
        .map(|d| d.filter(|v| !v.is_null()).map(|v| code(&toml_value(v))))
        .collect::<Option<_>>()?;
    let first = shown.first()?;
    if shown.iter().all(|s| s == first) {
        Some(first.clone())
    } else {
        Some(shown.join(" / "))
    }
}

/// A JSON value written as TOML (inline).
fn toml_value(v: &Value) -> String {
    match v {
        Value::String(s) => {
            let mut out = String::from("\"");
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\t' => out.push_str("\\t"),
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(toml_value).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) if map.is_empty() => "{}".to_owned(),
        Value::Object(map) => {
            let items: Vec<String> = map
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| format!("{k} = {}", toml_value(v)))
                .collect();
            format!("{{ {} }}", items.join(", "))
        }
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A Markdown code span that survives backticks inside.
fn code(s: &str) -> String {
    if s.contains('`') {
        format!("`` {s} ``")
    } else {
        format!("`{s}`")
    }
}

/// Text made safe for a table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
        .replace("\n\n", "<br><br>")
        .replace('\n', " ")
}

/// Drops the sentences that only state the default ("Default `main`."), which the
/// default column shows; a sentence that goes on after a `;` stays.
fn drop_default_sentences(text: &str) -> String {
    text.split("\n\n")
        .map(|para| {
            sentences(para)
                .into_iter()
                .filter(|s| !s.starts_with("Default") || has_unquoted(s, ';'))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// Sentences end at a `.` outside backticks followed by a blank or the end.
fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_code = false;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '`' => in_code = !in_code,
            '.' if !in_code && chars.peek().is_none_or(|(_, n)| n.is_whitespace()) => {
                out.push(text[start..=i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    let rest = text[start..].trim();
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

fn has_unquoted(s: &str, wanted: char) -> bool {
    let mut in_code = false;
    s.chars().any(|c| {
        if c == '`' {
            in_code = !in_code;
        }
        !in_code && c == wanted
    })
}

/// A table's description without the intro that repeats its header: "`[maintain]`:
/// what …" → "What …"; "One `[[maintain.projects]]` entry." → "".
fn trim_header_intro(text: &str) -> String {
    if text.starts_with("`[")
        && let Some(end) = text.find("`: ")
    {
        let rest = &text[end + 3..];
        let mut c = rest.chars();
        return c
            .next()
            .map(|f| f.to_uppercase().chain(c).collect())
            .unwrap_or_default();
    }
    if text.starts_with("One `[[") {
        let first = sentences(text).first().map_or(0, |s| s.len());
        return text[first..].trim().to_owned();
    }
    text.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_sentences_go_unless_they_say_more() {
        assert_eq!(
            drop_default_sentences("The branch. Default `main`. Used by `a.b`."),
            "The branch. Used by `a.b`."
        );
        assert_eq!(
            drop_default_sentences("Wait. Default `false`; a repo's `wait` overrides it."),
            "Wait. Default `false`; a repo's `wait` overrides it."
        );
        assert_eq!(
            drop_default_sentences("How long, e.g. `\"30m\"`. Default `1h`."),
            "How long, e.g. `\"30m\"`."
        );
    }

    #[test]
    fn values_render_as_toml() {
        assert_eq!(toml_value(&serde_json::json!("a\n\"b\"")), r#""a\n\"b\"""#);
        assert_eq!(toml_value(&serde_json::json!(["x", "y"])), r#"["x", "y"]"#);
        assert_eq!(code("`{round}`"), "`` `{round}` ``");
        assert_eq!(cell("a | b"), "a \\| b");
    }

    #[test]
    fn headings_and_labels() {
        assert_eq!(label("BranchPattern"), "branch pattern");
        assert_eq!(anchor("branch pattern"), "branch-pattern");
        assert_eq!(
            trim_header_intro("`[maintain]`: what the round does."),
            "What the round does."
        );
        assert_eq!(
            trim_header_intro("One `[[maintain.projects]]` entry. More."),
            "More."
        );
    }
}

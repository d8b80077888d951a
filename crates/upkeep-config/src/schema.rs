//! The configuration's JSON Schema and its Markdown reference, both generated from the
//! config types (their fields, serde attributes, defaults and doc comments), so neither
//! can drift from the code.
//!
//! Both are committed — `docs/upkeep.schema.json` (editors: `#:schema` in a TOML file)
//! and the reference part of `docs/configuration.md` — and a test regenerates them in
//! memory and fails when the committed copies differ. To regenerate:
//!
//! ```text
//! cargo run -p upkeep-config --example gen-schema
//! ```
//!
//! The schema is JSON Schema draft 7, the dialect TOML editors (taplo / Even Better TOML)
//! understand best, reshaped for TOML: TOML has no `null`, so optional keys are simply
//! not required instead of "T or null"; defaults that are computed at load time (paths
//! under `state_dir`) are left out rather than shown as `""`.

use schemars::Schema;
use schemars::generate::SchemaSettings;
use schemars::transform::{Transform, transform_subschemas};
use serde_json::Value;

use crate::Config;

/// Where the committed schema lives, relative to the workspace root.
pub const SCHEMA_PATH: &str = "docs/upkeep.schema.json";

/// Where the committed reference lives, relative to the workspace root; the generated
/// part sits between [`REFERENCE_BEGIN`] and [`REFERENCE_END`].
pub const REFERENCE_PATH: &str = "docs/configuration.md";

/// The line before the generated reference in [`REFERENCE_PATH`].
pub const REFERENCE_BEGIN: &str =
    "<!-- BEGIN GENERATED REFERENCE: cargo run -p upkeep-config --example gen-schema -->";

/// The line after the generated reference in [`REFERENCE_PATH`].
pub const REFERENCE_END: &str = "<!-- END GENERATED REFERENCE -->";

/// Where the committed schema of a repository's `.upkeep.toml` lives.
pub const REPO_SCHEMA_PATH: &str = "docs/upkeep-repo.schema.json";

/// The line before the generated `.upkeep.toml` reference in [`REFERENCE_PATH`].
pub const REPO_REFERENCE_BEGIN: &str =
    "<!-- BEGIN GENERATED REPO REFERENCE: cargo run -p upkeep-config --example gen-schema -->";

/// The line after the generated `.upkeep.toml` reference in [`REFERENCE_PATH`].
pub const REPO_REFERENCE_END: &str = "<!-- END GENERATED REPO REFERENCE -->";

fn schema_for<T: schemars::JsonSchema>(title: &str, description: &str) -> Schema {
    let mut settings = SchemaSettings::draft07();
    // Ours first: the draft-7 transforms (moving `$ref` siblings into `allOf`) must see
    // the result of unwrapping `anyOf [T, null]`.
    settings.transforms.insert(0, Box::new(ForToml));
    let generator = settings.into_generator();
    let mut schema = generator.into_root_schema_for::<T>();
    schema.insert("title".to_owned(), title.into());
    schema.insert("description".to_owned(), description.into());
    schema
}

/// The JSON Schema of the configuration file.
#[must_use]
pub fn json_schema() -> Schema {
    schema_for::<Config>(
        "upkeep configuration",
        "The upkeep configuration file (upkeep.toml). Reference: docs/configuration.md.",
    )
}

/// The JSON Schema of a repository's own `.upkeep.toml`.
#[must_use]
pub fn repo_json_schema() -> Schema {
    schema_for::<crate::RepoSettings>(
        "upkeep repository settings",
        "A repository's own .upkeep.toml, on its base branch. Reference: docs/configuration.md.",
    )
}

/// [`json_schema`] as the committed file holds it: pretty JSON ending in a newline.
#[must_use]
pub fn json_schema_text() -> String {
    pretty(&json_schema())
}

/// [`repo_json_schema`] as the committed file holds it.
#[must_use]
pub fn repo_json_schema_text() -> String {
    pretty(&repo_json_schema())
}

fn pretty(schema: &Schema) -> String {
    let mut s = serde_json::to_string_pretty(schema).unwrap_or_default();
    s.push('\n');
    s
}

/// The generated Markdown reference: one section per table, one row per key with its
/// type, default and meaning.
#[must_use]
pub fn reference_markdown() -> String {
    crate::reference::render(&json_schema())
}

/// The generated Markdown reference of a repository's `.upkeep.toml`.
#[must_use]
pub fn repo_reference_markdown() -> String {
    crate::reference::render_repo(&repo_json_schema())
}

/// Replaces the generated part of `doc` (the text between [`REFERENCE_BEGIN`] and
/// [`REFERENCE_END`]) with `reference`; `None` when the markers are missing.
#[must_use]
pub fn splice_reference(doc: &str, reference: &str) -> Option<String> {
    splice_between(doc, REFERENCE_BEGIN, REFERENCE_END, reference)
}

/// Replaces the generated `.upkeep.toml` part of `doc` (between
/// [`REPO_REFERENCE_BEGIN`] and [`REPO_REFERENCE_END`]); `None` when the markers are
/// missing.
#[must_use]
pub fn splice_repo_reference(doc: &str, reference: &str) -> Option<String> {
    splice_between(doc, REPO_REFERENCE_BEGIN, REPO_REFERENCE_END, reference)
}

fn splice_between(
    doc: &str,
    begin_marker: &str,
    end_marker: &str,
    reference: &str,
) -> Option<String> {
    let begin = doc.find(begin_marker)? + begin_marker.len();
    let end = begin + doc[begin..].find(end_marker)?;
    Some(format!(
        "{}\n\n{}\n{}",
        &doc[..begin],
        reference.trim_end(),
        &doc[end..]
    ))
}

/// Reshapes generated schemas for TOML and for reading.
#[derive(Debug, Clone, Copy)]
struct ForToml;

impl Transform for ForToml {
    fn transform(&mut self, schema: &mut Schema) {
        transform_subschemas(self, schema);
        let Some(obj) = schema.as_object_mut() else {
            return;
        };
        // `T or null` → `T`.
        if let Some(Value::Array(types)) = obj.get_mut("type") {
            types.retain(|t| t != "null");
            if types.len() == 1 {
                let only = types.remove(0);
                obj.insert("type".to_owned(), only);
            }
        }
        if let Some(Value::Array(any)) = obj.get_mut("anyOf") {
            any.retain(|s| s.get("type").is_none_or(|t| t != "null"));
            if any.len() == 1
                && let Some(Value::Object(inner)) = any.pop()
            {
                obj.remove("anyOf");
                for (k, v) in inner {
                    obj.entry(k).or_insert(v);
                }
            }
        }
        if let Some(Value::Array(values)) = obj.get_mut("enum") {
            values.retain(|v| !v.is_null());
        }
        if let Some(d) = obj.get_mut("default")
            && !clean_default(d)
        {
            obj.remove("default");
        }
        // Doc comments are wrapped at 90 columns; editors show the text as is.
        if let Some(Value::String(d)) = obj.get_mut("description") {
            *d = reflow(d);
        }
    }
}

/// Drops what TOML cannot say or what the loader computes from a default value: `null`
/// (an unset option) and `""` (a path filled in under `state_dir`), also inside tables.
/// Returns whether anything is left to show.
fn clean_default(v: &mut Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Object(map) => {
            let was_empty = map.is_empty();
            map.retain(|_, v| clean_default(v));
            was_empty || !map.is_empty()
        }
        _ => true,
    }
}

/// Joins the lines of each paragraph; paragraphs stay apart.
pub(crate) fn reflow(text: &str) -> String {
    text.split("\n\n")
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every key that holds a value, in every table.
    fn value_keys(schema: &Value) -> Vec<String> {
        let mut out = Vec::new();
        let mut tables: Vec<&Value> = vec![schema];
        if let Some(defs) = schema.get("definitions").and_then(Value::as_object) {
            tables.extend(defs.values());
        }
        for t in tables {
            for (k, s) in t
                .get("properties")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                let refers_to_table = s
                    .pointer("/allOf/0/$ref")
                    .or_else(|| s.get("$ref"))
                    .and_then(Value::as_str)
                    .and_then(|r| r.rsplit('/').next())
                    .and_then(|name| schema.pointer(&format!("/definitions/{name}/properties")))
                    .is_some();
                if !refers_to_table {
                    out.push(k.clone());
                }
            }
        }
        out
    }

    /// The secret check refuses any value under a secret-looking key: no real key may
    /// look like one (tables such as `deploy_token` are not values).
    #[test]
    fn no_real_key_looks_secret() {
        let schema = serde_json::to_value(json_schema()).unwrap();
        let keys = value_keys(&schema);
        assert!(keys.iter().any(|k| k == "slack_channel"), "{keys:?}");
        for k in keys {
            assert!(!crate::secrets::looks_secret(&k), "`{k}` would be refused");
        }
    }

    #[test]
    fn toml_has_no_null() {
        let text = json_schema_text();
        assert!(!text.contains("\"null\""), "{text}");
        assert!(!text.contains(": null"), "{text}");
        assert!(!text.contains(": \"\""), "{text}");
    }

    #[test]
    fn splices_between_markers_only() {
        let doc = format!("intro\n{REFERENCE_BEGIN}\nold\n{REFERENCE_END}\noutro\n");
        let new = splice_reference(&doc, "new\n").unwrap();
        assert_eq!(
            new,
            format!("intro\n{REFERENCE_BEGIN}\n\nnew\n{REFERENCE_END}\noutro\n")
        );
        assert_eq!(splice_reference(&new, "new").unwrap(), new, "idempotent");
        assert!(splice_reference("no markers", "x").is_none());
    }
}

//! The generated JSON Schema and reference: committed copies fresh, the schema accepts
//! what the loader accepts (the shipped example) and refuses what it refuses, and the
//! example points editors at it.

use std::path::{Path, PathBuf};

use upkeep_config::TOP_LEVEL_KEYS;
use upkeep_config::schema::{
    self, REFERENCE_PATH, REPO_SCHEMA_PATH, SCHEMA_PATH, json_schema, json_schema_text,
    reference_markdown, repo_json_schema, repo_json_schema_text, repo_reference_markdown,
    splice_reference, splice_repo_reference,
};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(rel: &str) -> String {
    let p = workspace().join(rel);
    fs_err::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// CI's guard: a config field changed without regenerating the schema or the reference.
#[test]
fn committed_files_are_fresh() {
    let mut stale = Vec::new();
    if read(SCHEMA_PATH) != json_schema_text() {
        stale.push(SCHEMA_PATH);
    }
    let doc = read(REFERENCE_PATH);
    let fresh = splice_reference(&doc, &reference_markdown()).unwrap_or_else(|| {
        panic!(
            "{REFERENCE_PATH} lacks the markers {} / {}",
            schema::REFERENCE_BEGIN,
            schema::REFERENCE_END
        )
    });
    let fresh = splice_repo_reference(&fresh, &repo_reference_markdown()).unwrap_or_else(|| {
        panic!(
            "{REFERENCE_PATH} lacks the markers {} / {}",
            schema::REPO_REFERENCE_BEGIN,
            schema::REPO_REFERENCE_END
        )
    });
    if doc != fresh {
        stale.push(REFERENCE_PATH);
    }
    if read(REPO_SCHEMA_PATH) != repo_json_schema_text() {
        stale.push(REPO_SCHEMA_PATH);
    }
    assert!(
        stale.is_empty(),
        "{} out of date with the configuration types in crates/upkeep-config/src; \
         run `cargo run -p upkeep-config --example gen-schema` and commit the result",
        stale.join(" and ")
    );
}

/// Validates TOML text against the generated schema; `Err` holds the validator's words.
fn check(toml_text: &str) -> Result<(), String> {
    check_against(toml_text, &json_schema())
}

fn check_against(toml_text: &str, schema: &schemars::Schema) -> Result<(), String> {
    let instance: serde_json::Value = toml::from_str(toml_text).map_err(|e| e.to_string())?;
    let schema = serde_json::to_value(schema).unwrap();
    let mut compiler = boon::Compiler::new();
    let mut schemas = boon::Schemas::new();
    compiler
        .add_resource("file:///upkeep.schema.json", schema)
        .unwrap();
    let idx = compiler
        .compile("file:///upkeep.schema.json", &mut schemas)
        .unwrap_or_else(|e| panic!("the schema does not compile: {e:#}"));
    schemas
        .validate(&instance, idx)
        .map_err(|e| format!("{e:#}"))
}

#[test]
fn the_example_satisfies_the_schema_and_asks_editors_to_use_it() {
    let text = read("examples/upkeep.toml");
    check(&text).unwrap_or_else(|e| panic!("examples/upkeep.toml: {e}"));
    let first = text.lines().next().unwrap_or_default();
    let target = first
        .strip_prefix("#:schema ")
        .unwrap_or_else(|| panic!("first line must be a `#:schema` directive: {first}"));
    let resolved = workspace().join("examples").join(target.trim());
    assert_eq!(
        resolved.canonicalize().unwrap(),
        workspace().join(SCHEMA_PATH).canonicalize().unwrap()
    );
}

#[test]
fn configs_the_loader_accepts_satisfy_the_schema() {
    let text = r#"
state_dir = "/var/lib/upkeep"

[maintain]
jobs = 2
steps.test.timeout = "1h 30m"
[[maintain.projects]]
name = "api"
repo = "https://github.com/o/api"
steps.build = { command = "make images" }
draft = true

[branches]
[[branches.repos]]
name = "a"
repo = "https://github.com/o/a"
[branches.sentry]
org = "o"
projects = ["a"]
window = "24h"

[lock]
repo = "/srv/git/state.git"
lease = "2h"
"#;
    crate::load(text).unwrap();
    check(text).unwrap();
}

#[test]
fn the_schema_refuses_what_the_loader_refuses() {
    for (text, why) in [
        ("[maintain]\njbos = 2\n", "unknown key"),
        ("[maintain]\njobs = \"two\"\n", "wrong type"),
        ("[maintain]\njobs = 0\n", "below the minimum"),
        ("[maintain.chat]\nkind = \"slak\"\n", "unknown enum value"),
        (
            "[[maintain.projects]]\nname = \"api\"\n",
            "missing required key",
        ),
        (
            "[maintain]\nsteps.test.timeout = 30\n",
            "duration as a number",
        ),
        (
            "[maintain]\nsteps.test.timeout = \"soon\"\n",
            "not a duration",
        ),
        ("[maintain]\nbranch = \"m-%H\"\n", "unknown date field"),
        (
            "[branches.sentry]\norg = \"o\"\nprojects = [\"a\"]\nwindow = \"later\"\n",
            "bad window",
        ),
    ] {
        assert!(crate::load(text).is_err(), "the loader accepts {why}");
        assert!(check(text).is_err(), "the schema accepts {why}:\n{text}");
    }
}

/// The environment mapping for top-level keys covers exactly the top-level values.
#[test]
fn top_level_keys_are_the_schemas_top_level_values() {
    let schema = serde_json::to_value(json_schema()).unwrap();
    let mut values: Vec<&str> = schema["properties"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, s)| s.get("allOf").is_none() && s.get("$ref").is_none())
        .map(|(k, _)| k.as_str())
        .collect();
    values.sort_unstable();
    assert_eq!(values, TOP_LEVEL_KEYS);
}

/// The `.upkeep.toml` schema accepts what the loader accepts and refuses the keys a
/// repository may not set.
#[test]
fn the_repo_schema_agrees_with_the_loader() {
    let load = |t: &str| upkeep_config::RepoSettings::from_str(t, Path::new("r@main:.upkeep.toml"));
    let schema = repo_json_schema();
    let good = "labels = [\"deps\"]\nreviewers = [\"ann\"]\n[steps.build]\ncommand = \"make image\"\ntimeout = \"2h\"\n[env]\nPY = \"3.12\"\n";
    load(good).unwrap();
    check_against(good, &schema).unwrap();
    for (text, why) in [
        ("state_dir = \"/tmp\"\n", "state elsewhere"),
        ("[[projects]]\nname = \"x\"\n", "adding projects"),
        ("[steps.build]\ntimeout = 5\n", "a number as duration"),
        ("skp = true\n", "unknown key"),
    ] {
        assert!(load(text).is_err(), "the loader accepts {why}");
        assert!(
            check_against(text, &schema).is_err(),
            "the schema accepts {why}"
        );
    }
}

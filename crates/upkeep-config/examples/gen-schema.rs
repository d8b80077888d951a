//! Writes the generated configuration schema and reference into the workspace:
//! `docs/upkeep.schema.json`, `docs/upkeep-repo.schema.json` and the generated parts of
//! `docs/configuration.md`.
//!
//! ```text
//! cargo run -p upkeep-config --example gen-schema
//! ```
//!
//! A test (`schema_files_are_fresh`) fails while the committed files differ from what
//! this writes.

#![allow(clippy::print_stdout, clippy::print_stderr)] // a command: it reports what it wrote

use std::path::Path;
use std::process::ExitCode;

use upkeep_config::schema;

fn main() -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let schema_path = root.join(schema::SCHEMA_PATH);
    let reference_path = root.join(schema::REFERENCE_PATH);
    let result = (|| -> Result<(), String> {
        fs_err::write(&schema_path, schema::json_schema_text())
            .map_err(|e| format!("cannot write {}: {e}", schema_path.display()))?;
        let repo_schema_path = root.join(schema::REPO_SCHEMA_PATH);
        fs_err::write(&repo_schema_path, schema::repo_json_schema_text())
            .map_err(|e| format!("cannot write {}: {e}", repo_schema_path.display()))?;
        let doc = fs_err::read_to_string(&reference_path)
            .map_err(|e| format!("cannot read {}: {e}", reference_path.display()))?;
        let new =
            schema::splice_reference(&doc, &schema::reference_markdown()).ok_or_else(|| {
                format!(
                    "{} lacks the lines `{}` and `{}` around the generated reference",
                    reference_path.display(),
                    schema::REFERENCE_BEGIN,
                    schema::REFERENCE_END
                )
            })?;
        let new = schema::splice_repo_reference(&new, &schema::repo_reference_markdown())
            .ok_or_else(|| {
                format!(
                    "{} lacks the lines `{}` and `{}` around the generated .upkeep.toml reference",
                    reference_path.display(),
                    schema::REPO_REFERENCE_BEGIN,
                    schema::REPO_REFERENCE_END
                )
            })?;
        fs_err::write(&reference_path, new)
            .map_err(|e| format!("cannot write {}: {e}", reference_path.display()))?;
        Ok(())
    })();
    match result {
        Ok(()) => {
            println!(
                "wrote {}, {} and {}",
                schema::SCHEMA_PATH,
                schema::REPO_SCHEMA_PATH,
                schema::REFERENCE_PATH
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

//! Prints the diff of two lockfiles or directories: `cargo run -p upkeep-deps
//! --example deps_diff -- OLD NEW [text|markdown|json]`.

use std::path::Path;

#[allow(clippy::print_stdout, clippy::print_stderr)] // An example prints.
fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [old, new, rest @ ..] = args.as_slice() else {
        eprintln!("usage: deps_diff OLD NEW [text|markdown|json]");
        return std::process::ExitCode::from(2);
    };
    let (old, new) = (Path::new(old), Path::new(new));
    let report = if old.is_dir() {
        upkeep_deps::fs::diff_dirs(old, new)
    } else {
        upkeep_deps::fs::diff_files(old, new)
    };
    match report {
        Ok(report) => {
            let text = match rest.first().map(String::as_str) {
                Some("markdown") => upkeep_deps::render_markdown(&report),
                Some("json") => upkeep_deps::render_json(&report),
                _ => upkeep_deps::render_text(&report),
            };
            println!("{text}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

//! `completions <shell>` and `man`: generated from the clap definition, and needing no
//! configuration (they run before any is read).

use std::path::Path;
use std::process::Output;

fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = std::process::Command::new(env!("CARGO_BIN_EXE_move-branches"))
        .args(args)
        .current_dir(dir)
        .env_remove("UPKEEP_CONFIG")
        .env_remove("UPKEEP_JOB")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

#[test]
fn completions_and_man_page_need_no_configuration() {
    let dir = tempfile::tempdir().unwrap();
    // The premise: a command that needs the configuration fails here.
    let (code, _, stderr) = run(dir.path(), &["status"]);
    assert_eq!(code, 2, "{stderr}");

    let (code, out, err) = run(dir.path(), &["completions", "bash"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.is_empty(), "{err}");
    for word in [
        "move-branches",
        "rollback",
        "--approve",
        "--skip",
        "--no-wait",
    ] {
        assert!(out.contains(word), "bash completions lack {word}: {out}");
    }

    let (code, out, err) = run(dir.path(), &["man"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(".TH move-branches"), "{out}");
    assert!(
        out.contains("rollback") && out.contains("Exit codes"),
        "{out}"
    );
}

#[test]
fn completions_work_with_a_broken_configuration_and_option_values_named_like_commands() {
    let dir = tempfile::tempdir().unwrap();
    fs_err::write(dir.path().join("run"), "[branches\nnot toml").unwrap();
    // `run` is the configuration file here, not the subcommand.
    let (code, out, err) = run(dir.path(), &["--config", "run", "completions", "zsh"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("#compdef move-branches"), "{out}");
    let (code, out, err) = run(dir.path(), &["-c", "run", "completions", "fish"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("complete -c move-branches"), "{out}");
    let (code, _, err) = run(dir.path(), &["completions", "tcsh"]);
    assert_eq!(code, 2, "an unknown shell is a usage error: {err}");
}

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

#[test]
fn every_subcommand_has_a_man_page_and_every_reference_resolves() {
    let dir = tempfile::tempdir().unwrap();
    let pages = dir.path().join("man1");
    let (code, listing, err) = run(dir.path(), &["man", "--dir", pages.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let mut written: Vec<String> = fs_err::read_dir(&pages)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(
        written,
        [
            "move-branches-completions.1",
            "move-branches-man.1",
            "move-branches-plan.1",
            "move-branches-rollback.1",
            "move-branches-run.1",
            "move-branches-status.1",
            "move-branches.1",
        ]
    );
    assert_eq!(listing.lines().count(), written.len(), "{listing}");
    for file in &written {
        let page = fs_err::read_to_string(pages.join(file)).unwrap();
        for reference in page.split_whitespace().filter(|w| w.ends_with("(1)")) {
            let target = format!(
                "{}.1",
                reference.trim_end_matches("(1)").replace("\\-", "-")
            );
            assert!(written.contains(&target), "{file} refers to {reference}");
        }
    }

    // One page on stdout, by subcommand.
    let (code, out, err) = run(dir.path(), &["man", "plan"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(".TH move-branches-plan 1"), "{out}");
    assert!(out.contains("\\-\\-no\\-gates"), "{out}");
    let (code, out, err) = run(dir.path(), &["man", "promote"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        err.starts_with(
            "error: no man page for `promote`; there are pages for: plan, run, status, rollback,"
        ),
        "{err}"
    );
}

/// The `--output` paragraph of `move-branches <sub> --help`.
fn output_help(dir: &Path, sub: &str) -> String {
    let (code, out, err) = run(dir, &[sub, "--help"]);
    assert_eq!(code, 0, "{err}");
    let start = out
        .find("      --output")
        .unwrap_or_else(|| panic!("{out}"));
    let rest = &out[start..];
    let end = rest[1..].find("\n  -").map_or(rest.len(), |i| i + 1);
    rest[..end].to_owned()
}

#[test]
fn each_output_help_names_its_own_command() {
    let dir = tempfile::tempdir().unwrap();
    for (sub, what) in [
        ("plan", "How to print the plan"),
        ("run", "How to print the run"),
        ("status", "How to print each repo's status"),
        ("rollback", "How to print the rollback"),
    ] {
        let help = output_help(dir.path(), sub);
        assert!(help.contains(what), "{sub}: {help}");
        assert!(
            !help.contains("deps diff") && !help.contains("markdown"),
            "{sub}: {help}"
        );
    }
    // A format the command does not have is refused by the parser, before any
    // configuration is read (it used to print JSON).
    let (code, out, err) = run(dir.path(), &["status", "--output", "markdown"]);
    assert_eq!(code, 2, "{out}");
    assert!(err.contains("invalid value 'markdown'"), "{err}");
}

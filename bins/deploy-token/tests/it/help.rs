//! What `--help` and the man pages say (issue 16.6): a real description, `-c` for the
//! configuration, an `--output` per subcommand that says what it prints, no token option
//! the tool does not use, and a man page per subcommand.

use std::path::Path;

use crate::{command, run, text};

#[test]
fn help_describes_the_tool() {
    let dir = tempfile::tempdir().unwrap();
    let (help, _) = text(&run(dir.path(), &["--help"]));
    assert!(
        help.starts_with("One person changes servers at a time: acquire, release and inspect the deploy token.\n\nWhoever holds the deploy token"),
        "{help}"
    );
    assert!(!help.contains("upkeep deploy-token command"), "{help}");
    assert!(help.contains("  -c, --config <CONFIG>"), "{help}");
    // Sentry is not something deploy-token talks to.
    assert!(!help.contains("sentry"), "{help}");
    insta::assert_snapshot!("help", help);
}

#[test]
fn short_c_names_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["-c", "team.toml", "status"]);
    assert_eq!(out.status.code(), Some(2));
    let (_, err) = text(&out);
    assert!(err.contains("team.toml"), "{err}");
}

/// The `--output` paragraph of `deploy-token <sub> --help`.
fn output_help(dir: &Path, sub: &str) -> String {
    let (out, err) = text(&run(dir, &[sub, "--help"]));
    let start = out
        .find("      --output")
        .unwrap_or_else(|| panic!("{sub}: {out}{err}"));
    let rest = &out[start..];
    let end = rest[1..].find("\n  -").map_or(rest.len(), |i| i + 1);
    rest[..end].to_owned()
}

#[test]
fn each_output_help_names_its_own_command() {
    let dir = tempfile::tempdir().unwrap();
    for (sub, what) in [
        ("acquire", "How to print the token you took"),
        (
            "release",
            "How to print the token's state after the release",
        ),
        ("renew", "How to print the renewed lease"),
        ("status", "How to print who holds the token"),
        ("history", "How to print the history"),
        ("steal", "How to print the token you took"),
        ("verify", "How to print the token's current state"),
    ] {
        let help = output_help(dir.path(), sub);
        assert!(help.contains(what), "{sub}: {help}");
        assert!(
            !help.contains("deps diff") && !help.contains("markdown"),
            "{sub}: {help}"
        );
    }
    // A format the command does not have is refused by the parser.
    let out = run(dir.path(), &["status", "--output", "markdown"]);
    assert_eq!(out.status.code(), Some(2));
    let (_, err) = text(&out);
    assert!(err.contains("invalid value 'markdown'"), "{err}");
}

#[test]
fn every_subcommand_has_a_man_page_and_every_reference_resolves() {
    let dir = tempfile::tempdir().unwrap();
    let pages = dir.path().join("man1");
    let out = command(dir.path())
        .args(["man", "--dir"])
        .arg(&pages)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
    let mut written: Vec<String> = fs_err::read_dir(&pages)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    for sub in [
        "acquire", "release", "renew", "status", "history", "steal", "verify",
    ] {
        assert!(
            written.contains(&format!("deploy-token-{sub}.1")),
            "{written:?}"
        );
    }
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
    let (page, _) = text(&run(dir.path(), &["man", "acquire"]));
    assert!(page.contains(".TH deploy-token-acquire 1"), "{page}");
    assert!(page.contains("\\-\\-no\\-preflight"), "{page}");
}

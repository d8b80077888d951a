//! Malformed files that editors, generators and copy-paste produce (issue 9, bad-input
//! suite), on top of the message snapshots in `errors.rs`: a byte-order mark, tabs, CRLF
//! line ends, an empty file, a file that is not UTF-8, NUL bytes, very long lines, deep
//! nesting, a huge file, and project names that would leave their directory. Each one
//! either loads as the text means or fails with a message that names the file and the
//! place — never a panic, a hang or a wall of echoed text.

use std::fmt::Write as _;

use upkeep_config::{Config, Error};

use crate::{error_of, load};

const PROJECT: &str = "[maintain]\n\n[[maintain.projects]]\nname = \"api\"\nrepo = \"https://github.com/example/api\"\n";

/// The message of the first error, with the rest of the chain.
fn message(e: &Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let _ = write!(text, "\ncaused by: {s}");
        source = s.source();
    }
    text
}

#[test]
fn a_byte_order_mark_is_ignored() {
    let config = load(&format!("\u{feff}{PROJECT}")).unwrap();
    assert_eq!(config.maintain().unwrap().projects[0].name, "api");
}

#[test]
fn a_byte_order_mark_does_not_shift_error_columns() {
    insta::assert_snapshot!(error_of("\u{feff}[maintain]\njobs = = 4\n", &[]));
}

#[test]
fn tabs_load_and_errors_under_tabs_point_at_the_value() {
    let text = PROJECT.replace(" = ", "\t=\t");
    let config = load(&text).unwrap();
    assert_eq!(config.maintain().unwrap().projects[0].name, "api");
    insta::assert_snapshot!(error_of("[maintain]\n\tjobs\t=\t\"four\"\n", &[]));
}

#[test]
fn crlf_line_ends_load_and_errors_show_no_carriage_returns() {
    let config = load(&PROJECT.replace('\n', "\r\n")).unwrap();
    assert_eq!(config.maintain().unwrap().projects[0].name, "api");
    let e = error_of("[maintain]\r\njobs = \"four\"\r\n[maintain.chat]\r\n", &[]);
    assert!(!e.contains('\r'), "{e:?}");
    insta::assert_snapshot!(e);
}

#[test]
fn an_empty_file_loads_and_asking_for_a_section_names_the_file() {
    for text in ["", "\n\n", "# only a comment\n", "\u{feff}"] {
        let config = load(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        let e = config.maintain().unwrap_err();
        assert_eq!(
            e.to_string(),
            "/cfg/upkeep.toml has no [maintain] section",
            "{text:?}"
        );
    }
}

#[test]
fn a_file_that_is_not_utf8_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("upkeep.toml");
    fs_err::write(&path, b"[maintain]\nname = \"caf\xe9\"\n").unwrap();
    let e = Config::load(&path, std::iter::empty::<(String, String)>()).unwrap_err();
    let text = message(&e).replace(&dir.path().display().to_string(), "[DIR]");
    insta::assert_snapshot!(text);
}

#[test]
fn a_directory_or_a_missing_file_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    for path in [dir.path().to_owned(), dir.path().join("missing.toml")] {
        let e = Config::load(&path, std::iter::empty::<(String, String)>()).unwrap_err();
        assert!(
            e.to_string().contains(&path.display().to_string()),
            "{}",
            message(&e)
        );
    }
}

#[test]
fn control_characters_are_located_and_not_echoed_raw() {
    // A NUL, and an escape sequence that would clear the screen if printed as is.
    let e = error_of("[maintain]\njobs = 4\x00\n", &[]);
    assert!(!e.contains('\0'), "{e:?}");
    insta::assert_snapshot!(e);
    let e = error_of("[maintain]\njobs = \"\x1b[2J\"\n", &[]);
    assert!(!e.contains('\x1b'), "{e:?}");
    assert!(e.starts_with("/cfg/upkeep.toml:2:"), "{e:?}");
}

#[test]
fn a_very_long_line_is_not_echoed_in_full() {
    let long = "x".repeat(200_000);
    let e = error_of(&format!("[maintain]\nunknown_key = \"{long}\"\n"), &[]);
    assert!(
        e.contains("/cfg/upkeep.toml:2:"),
        "{}",
        &e[..e.len().min(500)]
    );
    assert!(
        e.len() < 2_000,
        "the message echoes {} bytes: {}…",
        e.len(),
        &e[..300]
    );
    insta::assert_snapshot!(e);
    // The span in the middle of a long line: cut on both sides, caret under it.
    let e = error_of(&format!("[maintain]\nlabels = [\"{long}\", 7]\n"), &[]);
    assert!(e.len() < 2_000, "{} bytes", e.len());
    insta::assert_snapshot!(e);
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    for depth in [1_000, 100_000] {
        let text = format!(
            "[maintain]\nlabels = {}{}\n",
            "[".repeat(depth),
            "]".repeat(depth)
        );
        let e = error_of(&text, &[]);
        assert!(e.contains("/cfg/upkeep.toml:2:"), "{depth}: {e}");
        assert!(e.len() < 2_000, "{depth}: {} bytes", e.len());
    }
}

#[test]
fn a_huge_file_loads_and_an_error_at_its_end_is_located() {
    let mut text = String::from("[maintain]\n");
    for i in 0..5_000 {
        let _ = write!(
            text,
            "\n# project {i}\n[[maintain.projects]]\nname = \"svc-{i}\"\nrepo = \"https://github.com/example/svc-{i}\"\n"
        );
    }
    let config = load(&text).unwrap();
    assert_eq!(config.maintain().unwrap().projects.len(), 5_000);

    let lines = text.lines().count();
    text.push_str("jobs = = 4\n");
    let e = error_of(&text, &[]);
    assert!(
        e.starts_with(&format!("/cfg/upkeep.toml:{}:", lines + 1)),
        "{}",
        &e[..e.len().min(300)]
    );
    assert!(e.len() < 2_000, "{} bytes", e.len());
}

#[test]
fn project_names_that_would_leave_their_directory_are_refused() {
    // The name becomes a directory under the cache, log and journal directories.
    for name in [
        "../x", "/etc", "a/b", "..", ".", ".hidden", "a\\b", "", "a\0b",
    ] {
        let text = format!(
            "[maintain]\n[[maintain.projects]]\nname = {}\nrepo = \"https://github.com/example/api\"\n",
            toml_string(name)
        );
        let e = error_of(&text, &[]);
        assert!(
            e.contains("maintain.projects[0].name"),
            "{name:?} must be refused at its key: {e}"
        );
    }
    for name in ["../x", "a/b", ".."] {
        let text = format!(
            "[branches]\n[[branches.repos]]\nname = {}\nrepo = \"https://github.com/example/api\"\n",
            toml_string(name)
        );
        let e = error_of(&text, &[]);
        assert!(
            e.contains("branches.repos[0].name"),
            "{name:?} must be refused: {e}"
        );
    }
}

#[test]
fn shell_and_markup_in_names_are_refused_in_names_and_kept_verbatim_elsewhere() {
    for name in [
        "$(touch pwned)",
        "`id`",
        "a;b",
        "a|b",
        "<!channel>",
        "a&b",
        "a\nb",
    ] {
        let text = format!(
            "[maintain]\n[[maintain.projects]]\nname = {}\nrepo = \"https://github.com/example/api\"\n",
            toml_string(name)
        );
        let e = error_of(&text, &[]);
        assert!(e.contains("maintain.projects[0].name"), "{name:?}: {e}");
    }
    // Templates are free text: they are rendered, never run.
    let text = format!(
        "[maintain]\npr_title = \"chore: $(touch pwned) `id` ; | <!channel> & {{date}}\"\n{}",
        &PROJECT["[maintain]\n".len()..]
    );
    load(&text).unwrap();
}

#[test]
fn branch_patterns_git_would_refuse_are_refused() {
    let mut accepted = Vec::new();
    for pattern in [
        "a..b", "a b", "a~1", "a^", "a:b", "a?", "a*", "a[", "a\\b", "a.lock", "/a", "a/", "@{x}",
    ] {
        let text = format!("[maintain]\nbranch = {}\n", toml_string(pattern));
        match load(&text) {
            Ok(_) => accepted.push(pattern),
            Err(e) => assert!(
                e.to_string().contains("maintain.branch"),
                "{pattern:?}: {e}"
            ),
        }
    }
    assert!(accepted.is_empty(), "accepted: {accepted:?}");
}

/// `s` as a TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

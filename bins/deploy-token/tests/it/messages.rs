//! What people read, pinned: the refusals, their exit codes, and `--help`'s table.

use std::process::Output;

use upkeep_testkit::git::Fixture;

use crate::{command, run};

/// Exit code, stdout and stderr, with times made stable.
fn shown(out: &Output) -> String {
    format!(
        "exit {}\n--- stdout\n{}--- stderr\n{}",
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

macro_rules! snap {
    ($value:expr, @$snapshot:literal) => {
        insta::with_settings!({filters => vec![
            (r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", "[TIME]"),
            (r"\d\d:\d\d UTC", "[HH:MM]"),
        ]}, {
            insta::assert_snapshot!($value, @$snapshot);
        });
    };
}

fn as_(fx: &Fixture, who: &str, args: &[&str]) -> Output {
    let repo = fx.url();
    let mut all = vec!["--repo", repo.as_str(), "--actor", who];
    all.extend_from_slice(args);
    run(fx.root(), &all)
}

#[test]
fn refusals_say_who_holds_the_token_with_their_own_exit_code() {
    let fx = Fixture::new();
    as_(&fx, "alice", &["acquire", "--reason", "deploy kingfisher"]);
    snap!(shown(&as_(&fx, "bob", &["acquire", "--reason", "hotfix"])), @r"
    exit 1
    --- stdout
    --- stderr
    error: the `deploy` token is held by alice since [TIME] (deploy kingfisher); it expires at [TIME]
    hint: wait with `deploy-token acquire --wait 30m`, or ask the holder; `deploy-token steal --reason ...` if it cannot wait
    ");
    snap!(shown(&as_(&fx, "bob", &["verify", "--fencing", "1"])), @r"
    exit 1
    --- stdout
    --- stderr
    error: the `deploy` token is held by alice, not by bob
    ");
    snap!(shown(&as_(&fx, "alice", &["renew", "--lease", "1h"])), @r"
    exit 2
    --- stdout
    --- stderr
    error: renewing would shorten your lease of the `deploy` token: it runs until [TIME], and the lease asked for ends at [TIME]
    hint: pass a longer --lease, or `deploy-token release` when you are done
    ");
    snap!(shown(&as_(&fx, "alice", &["renew", "--lease", "6h"])), @r"
    exit 0
    --- stdout
    renewed the `deploy` token, fencing number 1
      expires at [TIME]
    --- stderr
    ");
}

#[test]
fn releasing_a_free_token_is_nothing_to_do_for_everyone() {
    let fx = Fixture::new();
    as_(&fx, "alice", &["acquire"]);
    as_(&fx, "alice", &["release"]);
    for who in ["alice", "bob"] {
        insta::allow_duplicates! {
            snap!(shown(&as_(&fx, who, &["release"])), @r"
            exit 0
            --- stdout
            nothing to release: the `deploy` token is not held (released by alice at [TIME] · fencing number 1)
            --- stderr
            ");
        }
    }
}

#[test]
fn a_reason_is_capped_and_shown_inert() {
    let fx = Fixture::new();
    let huge = "x".repeat(120_000);
    snap!(shown(&as_(&fx, "mallory", &["acquire", "--reason", &huge])), @r"
    exit 2
    --- stdout
    --- stderr
    error: the reason is 120000 characters long; at most 500 are allowed
    hint: say it in a sentence; link to details elsewhere
    ");
    let forged = "deploy\n2026-01-01 00:00:00 UTC  release  mallory  fencing 1\u{1b}[2J";
    as_(&fx, "mallory", &["acquire", "--reason", forged]);
    snap!(shown(&as_(&fx, "bob", &["history"])), @r"
    exit 0
    --- stdout
    [TIME]  acquire  mallory          fencing 1 — deploy�[TIME]  release  mallory  fencing 1�[2J
    --- stderr
    ");
    snap!(shown(&as_(&fx, "bob", &["acquire"])), @r"
    exit 1
    --- stdout
    --- stderr
    error: the `deploy` token is held by mallory since [TIME] (deploy�[TIME]  release  mallory  fencing 1�[2J); it expires at [TIME]
    hint: wait with `deploy-token acquire --wait 30m`, or ask the holder; `deploy-token steal --reason ...` if it cannot wait
    ");
    snap!(shown(&as_(&fx, "eve\u{1b}[31m", &["acquire"])), @r#"
    exit 2
    --- stdout
    --- stderr
    error: `eve�[31m` cannot be used as your name: it contains control characters (a line break, an escape sequence)
    hint: pass --actor <name>, or set git's user.name (git config --global user.name "Your Name")
    "#);
}

#[test]
fn a_failed_preflight_exits_4() {
    let fx = Fixture::new();
    fs_err::write(
        fx.root().join("upkeep.toml"),
        format!(
            "[lock]\nrepo = \"{}\"\n\n[[lock.preflight]]\nname = \"kingfisher is idle\"\n\
             command = \"echo 'spider still running' >&2; exit 1\"\n",
            fx.url()
        ),
    )
    .unwrap();
    snap!(shown(&run(fx.root(), &["--actor", "alice", "acquire"])), @r"
    exit 4
    --- stdout
    --- stderr
    error: preflight check `kingfisher is idle` failed (exit status: 1); not acquiring
    hint: its output:
    spider still running
    hint: fix what it reports, or pass --no-preflight if you are sure
    ");
}

/// Without `--actor`: git's `user.name`, else `$USER`.
#[test]
fn the_operator_is_gits_user_name_then_the_login_name() {
    let fx = Fixture::new();
    let home = tempfile::tempdir().unwrap();
    fs_err::write(
        home.path().join(".gitconfig"),
        "[user]\n\tname = Ann Example\n",
    )
    .unwrap();
    let repo = fx.url();
    let out = command(fx.root())
        .env("HOME", home.path())
        .env("USER", "ann")
        .args(["--repo", &repo, "acquire", "--output", "json"])
        .output()
        .unwrap();
    let state: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(state["holder"], "Ann Example");
    let out = command(fx.root())
        .env("USER", "ann")
        .args(["--repo", &repo, "status", "--output", "json"])
        .output()
        .unwrap();
    let state: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(state["holder"], "Ann Example");
    let out = command(fx.root())
        .env("USER", "ann")
        .args(["--repo", &repo, "release"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "ann is not Ann Example");
    assert!(String::from_utf8_lossy(&out.stderr).contains("held by Ann Example, not by ann"));
}

#[test]
fn help_documents_every_exit_code() {
    let out = command(std::path::Path::new("."))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    let table = &help[help.find("Exit codes:").expect("a table")..];
    insta::assert_snapshot!(table, @r"
    Exit codes:
      0    success, or nothing to do (releasing a token nobody holds)
      1    not yours: someone else holds the token (acquire, renew, release refused), or
           verify: you do not hold it with that fencing number
      2    user error: bad arguments or configuration; nothing was changed
      3    unexpected failure (git server unreachable, ...); safe to retry
      4    a preflight check failed; the token was not acquired
      130  interrupted
    ");
    let doc = include_str!("../../../../docs/commands/deploy-token.md");
    for code in ["`0`", "`1`", "`2`", "`3`", "`4`", "`130`"] {
        assert!(
            doc.contains(code),
            "docs/commands/deploy-token.md lacks exit code {code}"
        );
    }
}

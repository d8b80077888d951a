//! `deploy-token` as a person uses it: the real binary against a real bare repository.

use std::path::Path;
use std::process::Output;

use upkeep_testkit::git::Fixture;

mod help;
mod messages;
mod tokens;

/// The binary in `dir`, with no tokens, configuration or identity from the machine
/// (`HOME` is `dir`: no global git config).
fn command(dir: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_deploy-token"));
    cmd.current_dir(dir).env("HOME", dir).env("NO_COLOR", "1");
    for var in [
        "UPKEEP_CONFIG",
        "RUST_LOG",
        "UPKEEP_ACTOR",
        "GITHUB_TOKEN",
        "GITLAB_TOKEN",
        "SLACK_API_TOKEN",
        "XDG_CONFIG_HOME",
        "GIT_CONFIG_GLOBAL",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

fn run(dir: &Path, args: &[&str]) -> Output {
    command(dir).args(args).output().expect("run deploy-token")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_session_with_two_people() {
    let fx = Fixture::new();
    let repo = fx.url();
    let dir = fx.root();
    let as_ = |who: &'static str, args: &[&str]| {
        let mut all = vec!["--repo", repo.as_str(), "--as", who];
        all.extend_from_slice(args);
        run(dir, &all)
    };

    let out = as_("alice", &["status"]);
    assert!(out.status.success());
    assert!(text(&out).0.contains("nobody holds the token"));

    let out = as_("alice", &["acquire", "--reason", "deploy kingfisher"]);
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(
        text(&out)
            .0
            .contains("acquired the `deploy` token, fencing number 1")
    );

    let out = as_("bob", &["acquire", "--reason", "hotfix"]);
    assert_eq!(out.status.code(), Some(1), "held → exit 1");
    let (_, err) = text(&out);
    assert!(
        err.contains("held by alice") && err.contains("deploy kingfisher"),
        "{err}"
    );
    assert!(err.contains("hint: wait with"), "{err}");

    let out = as_("bob", &["release"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains("held by alice, not by bob"));

    let out = as_("bob", &["status", "--output", "json"]);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["holder"], "alice");
    assert_eq!(status["held"], true);
    assert_eq!(status["fencing"], 1);

    let out = as_("alice", &["verify", "--fencing", "1"]);
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(as_("alice", &["release"]).status.success());
    assert_eq!(
        as_("alice", &["verify", "--fencing", "1"]).status.code(),
        Some(1)
    );

    let out = as_("bob", &["steal", "--reason", "nobody home"]);
    assert!(
        out.status.success(),
        "stealing a free token just takes it: {:?}",
        text(&out)
    );

    let out = as_("carol", &["history", "--output", "json"]);
    let history: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let actions: Vec<(&str, &str)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["last_event"]["action"].as_str().unwrap(),
                e["last_event"]["by"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("acquire", "alice"),
            ("release", "alice"),
            ("acquire", "bob")
        ]
    );

    let out = as_("carol", &["history"]);
    let (stdout, _) = text(&out);
    assert_eq!(stdout.lines().count(), 3, "{stdout}");
    assert!(
        stdout.lines().next().unwrap().contains("acquire  alice"),
        "{stdout}"
    );
}

#[test]
fn a_relative_repo_path_works_from_where_you_stand() {
    let fx = Fixture::new();
    let out = run(
        fx.root(),
        &["--repo", "remote.git", "--as", "alice", "acquire"],
    );
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(fx.bare_ref("refs/upkeep/locks/deploy").is_some());
}

#[test]
fn preflight_from_the_config_stops_the_acquire() {
    let fx = Fixture::new();
    let config = fx.root().join("upkeep.toml");
    fs_err::write(
        &config,
        format!(
            r#"
[lock]
repo = "{}"

[[lock.preflight]]
name = "kingfisher is idle"
command = "echo 'spider still running: collect_ocds' >&2; exit 1"
"#,
            fx.url()
        ),
    )
    .unwrap();
    let out = run(
        fx.root(),
        &["--as", "alice", "acquire", "--reason", "deploy"],
    );
    let (_, err) = text(&out);
    assert_eq!(
        out.status.code(),
        Some(4),
        "a failed preflight has its own code: {err}"
    );
    assert!(
        err.contains("preflight check `kingfisher is idle` failed"),
        "{err}"
    );
    assert!(
        err.contains("spider still running: collect_ocds"),
        "its output is shown: {err}"
    );
    assert!(
        fx.bare_ref("refs/upkeep/locks/deploy").is_none(),
        "nothing was acquired"
    );

    let out = run(fx.root(), &["--as", "alice", "acquire", "--no-preflight"]);
    assert!(out.status.success(), "{:?}", text(&out));
}

#[test]
fn configuration_errors_are_user_errors_with_hints() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["status"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).1.contains("hint: pass --repo"),
        "{:?}",
        text(&out)
    );

    fs_err::write(
        dir.path().join("upkeep.toml"),
        "[lock]\nrepo = \"x\"\nlease = \"0s\"\n",
    )
    .unwrap();
    let out = run(dir.path(), &["status"]);
    assert_eq!(out.status.code(), Some(2));
    let (_, err) = text(&out);
    assert!(
        err.contains("upkeep.toml") && err.contains("lease"),
        "{err}"
    );
}

#[test]
fn help_lists_commands_and_exit_codes() {
    let out = run(Path::new("."), &["--help"]);
    let (stdout, _) = text(&out);
    for word in [
        "acquire",
        "release",
        "renew",
        "status",
        "history",
        "steal",
        "Exit codes:",
        "130",
    ] {
        assert!(stdout.contains(word), "--help lacks {word}:\n{stdout}");
    }
}

#[test]
fn a_token_in_the_repo_url_is_refused_and_never_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &[
            "--repo",
            "https://ghp_SECRETTOKEN123@127.0.0.1:9/o/r.git",
            "--as",
            "a",
            "status",
        ],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        !stdout.contains("SECRETTOKEN123") && !stderr.contains("SECRETTOKEN123"),
        "{stderr}"
    );
    let leaked = mentions(dir.path(), "SECRETTOKEN123");
    assert!(leaked.is_empty(), "the token reached the disk: {leaked:?}");
}

#[test]
fn huge_durations_are_user_errors_not_panics() {
    let fx = Fixture::new();
    for args in [
        &["acquire", "--lease", "300000years"][..],
        &["history", "--since", "300000years"][..],
    ] {
        let mut all = vec!["--repo", fx.bare().to_str().unwrap(), "--as", "alice"];
        all.extend_from_slice(args);
        let out = run(fx.root(), &all);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {:?}", text(&out));
    }
}

#[test]
fn steal_force_recovers_a_lock_ref_broken_by_hand() {
    let fx = Fixture::new();
    let repo = fx.url();
    let broken = fx.commit_file("lock.json", "{ not json", "by hand");
    fx.push(&[&format!("{broken}:refs/upkeep/locks/deploy")]);
    let out = run(fx.root(), &["--repo", &repo, "--as", "bob", "acquire"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out).1.contains("steal --force"), "{:?}", text(&out));
    let out = run(
        fx.root(),
        &[
            "--repo",
            &repo,
            "--as",
            "bob",
            "steal",
            "--force",
            "--reason",
            "broken ref",
        ],
    );
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(text(&out).0.contains("fencing number 1"));
}

/// Every file or directory under `dir` whose name or contents mention `needle`.
fn mentions(dir: &Path, needle: &str) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in fs_err::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            let named = path.to_string_lossy().contains(needle);
            if path.is_dir() {
                stack.push(path.clone());
            }
            let in_contents =
                fs_err::read(&path).is_ok_and(|b| String::from_utf8_lossy(&b).contains(needle));
            if named || in_contents {
                found.push(path);
            }
        }
    }
    found
}

#[test]
fn completions_and_man_page_need_no_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["completions", "zsh"]);
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(text(&out).0.contains("#compdef deploy-token"));
    let out = run(dir.path(), &["man"]);
    assert!(out.status.success());
    assert!(text(&out).0.contains(".TH deploy-token"));
}

#[test]
fn changes_are_announced_in_the_configured_slack_channel() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let slack = rt.block_on(upkeep_testkit::slack::FakeSlack::start());
    let fx = Fixture::new();
    fs_err::write(
        fx.root().join("upkeep.toml"),
        format!(
            "[lock]\nrepo = \"{}\"\nslack_channel = \"{}\"\n",
            fx.url(),
            upkeep_testkit::slack::FAKE_CHANNEL
        ),
    )
    .unwrap();
    let with_slack = |args: &[&str]| {
        command(fx.root())
            .args(args)
            .env("SLACK_API_TOKEN", upkeep_testkit::slack::FAKE_TOKEN)
            .env("UPKEEP_SLACK_API_URL", slack.api_url())
            .output()
            .unwrap()
    };
    assert!(
        with_slack(&["--as", "alice", "acquire", "--reason", "deploy <api> & db"])
            .status
            .success()
    );
    assert!(
        with_slack(&["--as", "alice", "acquire"]).status.success(),
        "already held: no second post"
    );
    assert!(with_slack(&["--as", "alice", "release"]).status.success());
    let posted: Vec<String> = slack
        .top_level(upkeep_testkit::slack::FAKE_CHANNEL)
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert_eq!(posted.len(), 2, "{posted:?}");
    assert!(
        posted[0].contains("alice took the `deploy` deploy token"),
        "{posted:?}"
    );
    assert!(
        posted[0].contains("&lt;api&gt; &amp; db"),
        "mrkdwn-escaped: {posted:?}"
    );
    assert!(posted[1].contains("alice released"), "{posted:?}");

    // Slack down: the token still changes hands, with a warning.
    drop(rt);
    let out = with_slack(&["--as", "bob", "acquire"]);
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(
        text(&out)
            .1
            .contains("could not announce the change to the team"),
        "{:?}",
        text(&out)
    );
}

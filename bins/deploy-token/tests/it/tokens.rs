//! The token options are declared once (`upkeep_cli::TokenArgs`) and reach git: the
//! lock repository on a forge gets its forge's token, never over plain http on a
//! network.

use upkeep_testkit::git::{HttpAuth, HttpGitServer, basic_auth_header, init_bare};

use crate::{command, text};

const SECRET: &str = "tok_SECRET_never_print_123";

/// A lock repository served over smart http that needs `user` with [`SECRET`] to push,
/// and a configuration naming it as a repository of `forge`.
fn served(forge: &str, user: &str) -> (tempfile::TempDir, HttpGitServer) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("srv");
    init_bare(&root.join("ops/locks.git"));
    let server = HttpGitServer::start(
        &root,
        HttpAuth::BasicForPush {
            user: user.into(),
            password: SECRET.into(),
        },
    );
    fs_err::write(
        dir.path().join("upkeep.toml"),
        format!(
            "[lock]\nrepo = \"{}\"\nforge = \"{forge}\"\n",
            server.url("ops/locks.git")
        ),
    )
    .unwrap();
    (dir, server)
}

#[test]
fn the_github_token_flag_and_variable_reach_git() {
    let (dir, server) = served("github", "x-access-token");
    let out = command(dir.path())
        .args(["--actor", "alice", "acquire"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "no token, no push: {:?}",
        text(&out)
    );

    let out = command(dir.path())
        .args(["--github-token", SECRET, "--actor", "alice", "acquire"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    let out = command(dir.path())
        .env("GITHUB_TOKEN", SECRET)
        .args(["--actor", "alice", "release"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    let (stdout, stderr) = text(&out);
    assert!(stdout.contains("released the `deploy` token"), "{stdout}");
    assert!(!stdout.contains(SECRET) && !stderr.contains(SECRET));
    let sent = basic_auth_header("x-access-token", SECRET);
    let pushes = server
        .authorizations()
        .iter()
        .filter(|a| **a == sent)
        .count();
    assert!(
        pushes >= 2,
        "both pushes authenticated: {:?}",
        server.authorizations()
    );
}

#[test]
fn the_gitlab_token_goes_to_git_as_oauth2() {
    let (dir, server) = served("gitlab", "oauth2");
    let out = command(dir.path())
        .args(["--gitlab-token", SECRET, "--actor", "alice", "acquire"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(
        server
            .authorizations()
            .contains(&basic_auth_header("oauth2", SECRET))
    );
}

#[test]
fn a_token_never_travels_over_plain_http_on_a_network() {
    let dir = tempfile::tempdir().unwrap();
    fs_err::write(
        dir.path().join("upkeep.toml"),
        "[lock]\nrepo = \"http://git.example.invalid/ops/locks.git\"\nforge = \"github\"\n",
    )
    .unwrap();
    let out = command(dir.path())
        .env("GITHUB_TOKEN", SECRET)
        .args(["--actor", "alice", "acquire"])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    insta::assert_snapshot!(stderr, @r"
    error: refusing to send GITHUB_TOKEN over plain http to http://git.example.invalid/ops/locks.git (for the deploy token's repository)
    hint: use an https:// URL (`repo` / `api_url` in the configuration); plain http is only allowed to 127.0.0.1, ::1 or localhost (a test server)
    ");
    assert!(!stdout.contains(SECRET));
}

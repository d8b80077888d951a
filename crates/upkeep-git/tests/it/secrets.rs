//! The token must never leak: not into errors, Debug output, log lines, `.git/config` or
//! URLs. The remotes here are real smart-HTTP servers (`git http-backend` behind
//! upkeep-testkit's loopback server) that demand Basic auth, and record the
//! `Authorization` headers they receive: that proves the token was really offered,
//! through the credential callback (libgit2) or helper (`git push`), never the URL.

use std::sync::{Arc, Mutex};

use secrecy::SecretString;
use upkeep_git::{
    Credentials, Error, Expect, PushRequest, RefStatus, SyncAction, ensure_clone, ls_remote,
};
use upkeep_testkit::git::{HttpAuth, HttpGitServer, basic_auth_header};

use crate::{open_work, pushed_history};

const TOKEN: &str = "ghs_SuperSecretToken1234567890";
const RIGHT: &str = "glpat-TheRightTokenForThisServer";

fn server(fx: &upkeep_testkit::git::Fixture, password: &str, push_only: bool) -> HttpGitServer {
    let (user, password) = ("x-access-token".to_owned(), password.to_owned());
    let auth = if push_only {
        HttpAuth::BasicForPush { user, password }
    } else {
        HttpAuth::Basic { user, password }
    };
    HttpGitServer::start(fx.root(), auth)
}

fn creds() -> Credentials {
    Credentials::https_token(SecretString::from(TOKEN.to_owned()))
}

fn right_creds() -> Credentials {
    Credentials::https_token(SecretString::from(RIGHT.to_owned()))
}

fn assert_no_token(what: &str, text: &str) {
    for token in [TOKEN, RIGHT] {
        assert!(!text.contains(token), "{what} leaks a token: {text}");
        let encoded = basic_auth_header("x-access-token", token);
        assert!(
            !text.contains(&encoded["Basic ".len()..]),
            "{what} leaks an encoded token: {text}"
        );
    }
}

fn assert_token_was_offered(server: &HttpGitServer, user: &str, token: &str) {
    let expected = basic_auth_header(user, token);
    let seen = server.authorizations();
    assert!(
        seen.contains(&expected),
        "server never got the token as {user}: {seen:?}"
    );
}

fn assert_error_clean(what: &str, err: &Error) {
    assert_no_token(what, &format!("{err}"));
    assert_no_token(what, &format!("{err:?}"));
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        assert_no_token(what, &s.to_string());
        source = s.source();
    }
}

/// Runs `f` with every tracing event (TRACE and up) captured; returns the log text.
fn capture_logs<T>(f: impl FnOnce() -> T) -> (T, String) {
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let out = tracing::subscriber::with_default(subscriber, f);
    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    (out, text)
}

fn git_config(dir: &std::path::Path) -> String {
    fs_err::read_to_string(dir.join(".git/config")).unwrap()
}

#[test]
fn token_auth_works_end_to_end_over_smart_http() {
    let (fx, c) = pushed_history(2);
    let srv = server(&fx, RIGHT, false);
    let url = srv.url("remote.git");
    let dir = fx.root().join("cache");

    let ((), logs) = capture_logs(|| {
        let first = ensure_clone(&url, &dir, "main", &right_creds()).unwrap();
        assert_eq!(first.action, SyncAction::Cloned);
        assert_eq!(first.head, c[1]);
        assert!(first.stats.received_objects > 0);

        fs_err::write(dir.join("upgrade.txt"), "bumped").unwrap();
        let ours = first
            .repo
            .commit_all("Upgrade", &crate::author())
            .unwrap()
            .unwrap();
        let out = first
            .repo
            .push(
                &url,
                &right_creds(),
                &PushRequest::single(ours, "refs/heads/main", Expect::Tip(c[1])),
            )
            .unwrap();
        assert_eq!(out.refs[0].status, RefStatus::FastForwarded);
        assert_eq!(fx.bare_ref("refs/heads/main"), Some(ours));

        let again = ensure_clone(&url, &dir, "main", &right_creds()).unwrap();
        assert_eq!(again.action, SyncAction::Refreshed);
        assert_eq!(again.head, ours);
        let refs = ls_remote(&url, &right_creds()).unwrap();
        assert!(refs.contains(&("refs/heads/main".to_owned(), ours)));
    });
    assert_token_was_offered(&srv, "x-access-token", RIGHT);
    assert_no_token("logs", &logs);
    assert!(logs.contains("pushed"), "logs were captured: {logs}");
    let config = git_config(&dir);
    assert_no_token(".git/config", &config);
    assert!(config.contains(&url), "origin is the plain URL: {config}");
}

#[test]
fn fetch_with_a_rejected_token_leaks_nothing() {
    let (fx, _) = pushed_history(1);
    let srv = server(&fx, RIGHT, false);
    let repo = open_work(&fx);
    let (err, logs) = capture_logs(|| {
        repo.fetch(&srv.url("remote.git"), &["refs/heads/main"], &creds())
            .unwrap_err()
    });
    assert!(matches!(err, Error::Fetch { .. }), "{err:?}");
    assert_error_clean("fetch error", &err);
    assert_no_token("logs", &logs);
    assert_token_was_offered(&srv, "x-access-token", TOKEN);
    let config = git_config(fx.work().path());
    assert_no_token(".git/config", &config);
    assert!(
        !config.contains("127.0.0.1"),
        "no remote was persisted: {config}"
    );
}

#[test]
fn clone_and_ls_remote_with_a_rejected_token_leak_nothing() {
    let (fx, _) = pushed_history(1);
    let srv = server(&fx, RIGHT, false);
    let url = srv.url("remote.git");
    let dir = fx.root().join("cache");
    let (err, logs) = capture_logs(|| {
        ensure_clone(&url, &dir, "main", &creds().with_username("oauth2")).unwrap_err()
    });
    assert!(matches!(err, Error::Clone { .. }), "{err:?}");
    assert_error_clean("clone error", &err);
    assert_no_token("logs", &logs);
    assert_token_was_offered(&srv, "oauth2", TOKEN);
    assert!(!dir.exists());

    let err = ls_remote(&url, &creds()).unwrap_err();
    assert!(matches!(err, Error::LsRemote { .. }), "{err:?}");
    assert_error_clean("ls-remote error", &err);
}

#[test]
fn push_with_a_rejected_token_leaks_nothing() {
    let (fx, c) = pushed_history(1);
    // Fetching is anonymous, so the pre-check passes and `git push` itself meets the 401.
    let srv = server(&fx, RIGHT, true);
    let next = fx.commit_file("n", "n", "next");
    let repo = open_work(&fx);
    let (err, logs) = capture_logs(|| {
        repo.push(
            &srv.url("remote.git"),
            &creds(),
            &PushRequest::single(next, "refs/heads/main", Expect::Tip(c[0])),
        )
        .unwrap_err()
    });
    match &err {
        Error::Push { detail, .. } => assert!(detail.contains("Authentication failed"), "{detail}"),
        other => panic!("expected Push error, got {other:?}"),
    }
    assert_error_clean("push error", &err);
    assert_no_token("logs", &logs);
    assert_token_was_offered(&srv, "x-access-token", TOKEN);
    assert_no_token(".git/config", &git_config(fx.work().path()));
    assert_eq!(fx.bare_ref("refs/heads/main"), Some(c[0]));
}

#[test]
fn urls_with_credentials_are_refused_everywhere() {
    let (fx, c) = pushed_history(1);
    let url = format!("https://x-access-token:{TOKEN}@127.0.0.1:9/org/repo.git");
    let repo = open_work(&fx);
    let dir = fx.root().join("cache");
    let errors = [
        ensure_clone(&url, &dir, "main", &Credentials::none()).unwrap_err(),
        repo.fetch(&url, &["refs/heads/main"], &Credentials::none())
            .unwrap_err(),
        ls_remote(&url, &Credentials::none()).unwrap_err(),
        repo.push(
            &url,
            &Credentials::none(),
            &PushRequest::single(c[0], "refs/heads/main", Expect::Any),
        )
        .unwrap_err(),
    ];
    for err in &errors {
        assert!(matches!(err, Error::CredentialsInUrl { .. }), "{err:?}");
        assert_error_clean("credentials-in-url error", err);
    }
    assert!(!dir.exists());
}

#[test]
fn credentials_debug_is_redacted() {
    let text = format!("{:?}", creds().with_username("bot"));
    assert_no_token("Debug", &text);
    assert!(text.contains("bot"));
}

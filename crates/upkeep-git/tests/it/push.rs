use upkeep_git::{Credentials, Error, Expect, PushRequest, RefStatus, ls_remote};

use crate::{open_work, pushed_history};

const MAIN: &str = "refs/heads/main";

#[test]
fn create_with_absent_then_fast_forward_then_up_to_date() {
    let (fx, c) = pushed_history(2);
    let repo = open_work(&fx);
    let none = Credentials::none();

    let out = repo
        .push(
            &fx.url(),
            &none,
            &PushRequest::single(c[0], "refs/heads/stable", Expect::Absent),
        )
        .unwrap();
    assert_eq!(out.refs.len(), 1);
    assert_eq!(out.refs[0].status, RefStatus::Created);
    assert_eq!(out.refs[0].old, None);
    assert_eq!(fx.bare_ref("refs/heads/stable"), Some(c[0]));

    let out = repo
        .push(
            &fx.url(),
            &none,
            &PushRequest::single(c[1], "refs/heads/stable", Expect::Tip(c[0])),
        )
        .unwrap();
    assert_eq!(out.refs[0].status, RefStatus::FastForwarded);
    assert_eq!(out.refs[0].old, Some(c[0]));
    assert_eq!(out.refs[0].new, c[1]);
    assert_eq!(fx.bare_ref("refs/heads/stable"), Some(c[1]));

    let out = repo
        .push(
            &fx.url(),
            &none,
            &PushRequest::single(c[1], "refs/heads/stable", Expect::Any),
        )
        .unwrap();
    assert_eq!(out.refs[0].status, RefStatus::UpToDate);
}

#[test]
fn plain_fast_forward_push_and_file_url() {
    let (fx, c) = pushed_history(1);
    let next = fx.commit_file("a", "a", "next");
    let repo = open_work(&fx);
    let out = repo
        .push(
            &fx.file_url(),
            &Credentials::none(),
            &PushRequest::single(next, MAIN, Expect::Any),
        )
        .unwrap();
    assert_eq!(out.refs[0].status, RefStatus::FastForwarded);
    assert_eq!(out.refs[0].old, Some(c[0]));
    assert_eq!(fx.bare_ref(MAIN), Some(next));
}

#[test]
fn absent_expectation_refuses_an_existing_ref() {
    let (fx, c) = pushed_history(2);
    let repo = open_work(&fx);
    match repo.push(
        &fx.url(),
        &Credentials::none(),
        &PushRequest::single(c[0], MAIN, Expect::Absent),
    ) {
        Err(Error::RemoteMoved {
            remote_ref,
            expected,
            actual,
        }) => {
            assert_eq!(remote_ref, MAIN);
            assert_eq!(expected, None);
            assert_eq!(actual, Some(c[1]));
        }
        other => panic!("expected RemoteMoved, got {other:?}"),
    }
    assert_eq!(fx.bare_ref(MAIN), Some(c[1]));
}

#[test]
fn remote_moved_under_you_is_refused_and_the_remote_is_unchanged() {
    let (fx, c) = pushed_history(2);
    // A colleague pushes to main after we planned from c[1].
    let colleague = fx.clone_work("colleague");
    let theirs = colleague.commit_file("theirs.txt", "theirs", "colleague's change");
    colleague.push_branch("main");

    let ours = fx.commit_file("ours.txt", "ours", "our change");
    let repo = open_work(&fx);
    let req = PushRequest::single(ours, MAIN, Expect::Tip(c[1]));
    match repo.push(&fx.url(), &Credentials::none(), &req) {
        Err(e @ Error::RemoteMoved { .. }) => {
            let Error::RemoteMoved {
                remote_ref,
                expected,
                actual,
            } = &e
            else {
                unreachable!()
            };
            assert_eq!(remote_ref, MAIN);
            assert_eq!(*expected, Some(c[1]));
            assert_eq!(*actual, Some(theirs));
            let text = e.to_string();
            assert!(
                text.contains(&c[1].to_string()) && text.contains(&theirs.to_string()),
                "{text}"
            );
        }
        other => panic!("expected RemoteMoved, got {other:?}"),
    }
    assert_eq!(fx.bare_ref(MAIN), Some(theirs));

    // Even forced, a stale expectation is refused.
    match repo.push(&fx.url(), &Credentials::none(), &req.clone().forced()) {
        Err(Error::RemoteMoved { .. }) => {}
        other => panic!("expected RemoteMoved for a forced push, got {other:?}"),
    }
    assert_eq!(fx.bare_ref(MAIN), Some(theirs));
}

#[test]
fn the_server_refuses_when_the_ref_moves_between_check_and_push() {
    // The pre-receive hook runs after the client read the remote tip and sent its
    // expected old id; it moves `main` itself (as a concurrent push would), so only the
    // server's own compare-and-swap can catch it.
    let (fx, c) = pushed_history(3);
    fx.install_pre_receive_hook(&format!(
        "env -u GIT_QUARANTINE_PATH git update-ref refs/heads/main {}\nexit 0",
        c[0]
    ));
    let ours = fx.commit_file("ours.txt", "ours", "our change");
    let repo = open_work(&fx);
    let result = repo.push(
        &fx.url(),
        &Credentials::none(),
        &PushRequest::single(ours, MAIN, Expect::Tip(c[2])),
    );
    match result {
        Err(Error::RemoteMoved {
            remote_ref,
            expected,
            actual,
        }) => {
            assert_eq!(remote_ref, MAIN);
            assert_eq!(expected, Some(c[2]));
            assert_eq!(actual, Some(c[0]));
        }
        other => panic!("expected RemoteMoved from the server-side check, got {other:?}"),
    }
    assert_eq!(fx.bare_ref(MAIN), Some(c[0]), "our push did not land");
}

#[test]
fn non_fast_forward_is_refused_unless_forced() {
    let (fx, c) = pushed_history(3);
    let repo = open_work(&fx);
    let none = Credentials::none();
    for expect in [Expect::Any, Expect::Tip(c[2])] {
        match repo.push(&fx.url(), &none, &PushRequest::single(c[0], MAIN, expect)) {
            Err(e @ Error::NotFastForward { .. }) => {
                let Error::NotFastForward {
                    remote_ref,
                    from,
                    to,
                } = &e
                else {
                    unreachable!()
                };
                assert_eq!((remote_ref.as_str(), *from, *to), (MAIN, c[2], c[0]));
                assert!(e.to_string().contains("fast-forward"), "{e}");
            }
            other => panic!("{expect:?}: expected NotFastForward, got {other:?}"),
        }
        assert_eq!(fx.bare_ref(MAIN), Some(c[2]));
    }

    // Diverged (not just behind): also refused.
    let colleague = fx.clone_work("colleague");
    let theirs = colleague.commit_file("t", "t", "theirs");
    colleague.push_branch("main");
    let ours = fx.commit_file("o", "o", "ours");
    match repo.push(
        &fx.url(),
        &none,
        &PushRequest::single(ours, MAIN, Expect::Any),
    ) {
        Err(Error::NotFastForward { from, .. }) => assert_eq!(from, theirs),
        other => panic!("expected NotFastForward for diverged history, got {other:?}"),
    }
    assert_eq!(fx.bare_ref(MAIN), Some(theirs));
}

#[test]
fn forced_rollback_with_compare_and_swap() {
    let (fx, c) = pushed_history(3);
    let repo = open_work(&fx);
    let out = repo
        .push(
            &fx.url(),
            &Credentials::none(),
            &PushRequest::single(c[0], MAIN, Expect::Tip(c[2])).forced(),
        )
        .unwrap();
    assert_eq!(out.refs[0].status, RefStatus::Forced);
    assert_eq!(out.refs[0].old, Some(c[2]));
    assert_eq!(fx.bare_ref(MAIN), Some(c[0]));

    // Plain forced push (no expectation) too.
    let out = repo
        .push(
            &fx.url(),
            &Credentials::none(),
            &PushRequest::single(c[2], MAIN, Expect::Any).forced(),
        )
        .unwrap();
    assert_eq!(out.refs[0].status, RefStatus::FastForwarded);
    let out = repo
        .push(
            &fx.url(),
            &Credentials::none(),
            &PushRequest::single(c[1], MAIN, Expect::Any).forced(),
        )
        .unwrap();
    assert_eq!(out.refs[0].status, RefStatus::Forced);
    assert_eq!(fx.bare_ref(MAIN), Some(c[1]));
}

#[test]
fn a_pre_receive_hook_rejection_is_an_error_with_its_message() {
    let (fx, c) = pushed_history(1);
    fx.install_pre_receive_hook(
        "while read old new ref; do\n  echo \"stable is frozen: $ref needs a release ticket\" >&2\ndone\nexit 1",
    );
    let next = fx.commit_file("n", "n", "next");
    let repo = open_work(&fx);
    match repo.push(
        &fx.url(),
        &Credentials::none(),
        &PushRequest::single(next, MAIN, Expect::Tip(c[0])),
    ) {
        Err(e @ Error::PushRejected { .. }) => {
            let Error::PushRejected { remote_ref, reason } = &e else {
                unreachable!()
            };
            assert_eq!(remote_ref, MAIN);
            assert!(reason.contains("pre-receive hook declined"), "{reason}");
            assert!(
                reason.contains("stable is frozen: refs/heads/main needs a release ticket"),
                "{reason}"
            );
            assert!(e.to_string().contains("stable is frozen"), "{e}");
        }
        other => panic!("expected PushRejected, got {other:?}"),
    }
    assert_eq!(fx.bare_ref(MAIN), Some(c[0]));
}

#[test]
fn multi_ref_pushes_are_atomic() {
    let (fx, c) = pushed_history(2);
    // An `update` hook (run once per ref) refuses only the tag; with an atomic push the
    // branch update must not land either.
    let hook = fx.bare().join("hooks/update");
    fs_err::write(
        &hook,
        "#!/bin/sh\ncase \"$1\" in refs/tags/*) echo \"no tags today\" >&2; exit 1;; esac\nexit 0\n",
    )
    .unwrap();
    fs_err::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let next = fx.commit_file("n", "n", "next");
    let repo = open_work(&fx);
    let req = PushRequest::single(next, MAIN, Expect::Tip(c[1])).and(
        next,
        "refs/tags/v1",
        Expect::Absent,
    );
    match repo.push(&fx.url(), &Credentials::none(), &req) {
        Err(Error::PushRejected { remote_ref, reason }) => {
            assert_eq!(remote_ref, "refs/tags/v1");
            assert!(reason.contains("no tags today"), "{reason}");
        }
        other => panic!("expected PushRejected, got {other:?}"),
    }
    assert_eq!(fx.bare_ref(MAIN), Some(c[1]));
    assert_eq!(fx.bare_ref("refs/tags/v1"), None);

    // One stale expectation: refused before anything is sent.
    let req = PushRequest::single(next, MAIN, Expect::Tip(c[1])).and(
        next,
        "refs/heads/stable",
        Expect::Tip(c[0]),
    );
    assert!(matches!(
        repo.push(&fx.url(), &Credentials::none(), &req),
        Err(Error::RemoteMoved { ref remote_ref, .. }) if remote_ref == "refs/heads/stable"
    ));
    assert_eq!(fx.bare_ref(MAIN), Some(c[1]));

    fs_err::remove_file(&hook).unwrap();
    let out = repo
        .push(
            &fx.url(),
            &Credentials::none(),
            &PushRequest::single(next, MAIN, Expect::Tip(c[1])).and(
                next,
                "refs/tags/v1",
                Expect::Absent,
            ),
        )
        .unwrap();
    let statuses: Vec<RefStatus> = out.refs.iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![RefStatus::FastForwarded, RefStatus::Created]);
    assert_eq!(fx.bare_ref("refs/tags/v1"), Some(next));
}

#[test]
fn bad_requests_and_unreachable_remotes_are_errors() {
    let (fx, c) = pushed_history(1);
    let repo = open_work(&fx);
    let none = Credentials::none();
    assert!(matches!(
        repo.push(
            &fx.url(),
            &none,
            &PushRequest::single(c[0], "main", Expect::Any)
        ),
        Err(Error::Push { .. })
    ));
    let missing_object =
        upkeep_git::Oid::from_str("1234567890123456789012345678901234567890").unwrap();
    assert!(matches!(
        repo.push(
            &fx.url(),
            &none,
            &PushRequest::single(missing_object, MAIN, Expect::Any)
        ),
        Err(Error::Push { .. })
    ));
    let nowhere = fx.root().join("no-such-remote.git").display().to_string();
    match repo.push(
        &nowhere,
        &none,
        &PushRequest::single(c[0], MAIN, Expect::Any),
    ) {
        Err(Error::LsRemote { url, .. }) => assert_eq!(url, nowhere),
        other => panic!("expected LsRemote error, got {other:?}"),
    }
    assert!(
        repo.push(&fx.url(), &none, &PushRequest::default())
            .unwrap()
            .refs
            .is_empty()
    );
}

#[test]
fn fetch_and_ls_remote() {
    let (fx, c) = pushed_history(2);
    let colleague = fx.clone_work("colleague");
    let theirs = colleague.commit_file("t", "t", "theirs");
    colleague.branch("release", theirs);
    colleague.push(&[
        "refs/heads/main:refs/heads/main",
        "refs/heads/release:refs/heads/release",
    ]);

    let refs = ls_remote(&fx.url(), &Credentials::none()).unwrap();
    assert!(
        refs.contains(&("refs/heads/main".to_owned(), theirs)),
        "{refs:?}"
    );
    assert!(
        refs.contains(&("refs/heads/release".to_owned(), theirs)),
        "{refs:?}"
    );
    assert!(refs.iter().any(|(name, _)| name == "HEAD"));

    let repo = open_work(&fx);
    assert!(matches!(
        repo.resolve(theirs),
        Err(Error::UnknownRev { .. })
    ));
    let stats = repo
        .fetch(
            &fx.url(),
            &["+refs/heads/release:refs/remotes/upstream/release"],
            &Credentials::none(),
        )
        .unwrap();
    assert!(stats.received_objects > 0, "{stats:?}");
    assert_eq!(repo.resolve("upstream/release").unwrap(), theirs);
    assert_eq!(repo.ahead_behind("upstream/release", c[1]).unwrap(), (1, 0));
    let config = fs_err::read_to_string(fx.work().path().join(".git/config")).unwrap();
    assert!(
        !config.contains("upstream"),
        "an anonymous fetch leaves no remote behind: {config}"
    );

    let missing = fx.root().join("gone.git").display().to_string();
    assert!(matches!(
        repo.fetch(&missing, &["refs/heads/main"], &Credentials::none()),
        Err(Error::Fetch { .. })
    ));
}

#[test]
fn deletes_are_compare_and_swap() {
    let (fx, c) = pushed_history(2);
    let repo = open_work(&fx);
    let none = Credentials::none();
    let state_ref = "refs/upkeep/rounds/r1/summary";
    repo.push(
        &fx.url(),
        &none,
        &PushRequest::single(c[1], state_ref, Expect::Absent),
    )
    .unwrap();

    // Expecting another tip: refused, the ref stays.
    match repo.push(
        &fx.url(),
        &none,
        &PushRequest::delete(state_ref, Expect::Tip(c[0])),
    ) {
        Err(Error::RemoteMoved {
            expected, actual, ..
        }) => assert_eq!((expected, actual), (Some(c[0]), Some(c[1]))),
        other => panic!("{other:?}"),
    }
    assert_eq!(fx.bare_ref(state_ref), Some(c[1]));

    // Expecting the tip it has: deleted, although c[0] is not a descendant of anything.
    let out = repo
        .push(
            &fx.url(),
            &none,
            &PushRequest::delete(state_ref, Expect::Tip(c[1])),
        )
        .unwrap();
    assert_eq!(out.refs[0].status, RefStatus::Deleted);
    assert_eq!(out.refs[0].old, Some(c[1]));
    assert!(out.refs[0].new.is_zero());
    assert_eq!(fx.bare_ref(state_ref), None);

    // Nothing left to delete.
    assert!(matches!(
        repo.push(
            &fx.url(),
            &none,
            &PushRequest::delete(state_ref, Expect::Tip(c[1]))
        ),
        Err(Error::RemoteMoved { actual: None, .. })
    ));
}

#[test]
fn the_server_refuses_a_delete_when_the_ref_moves_between_check_and_push() {
    let (fx, c) = pushed_history(2);
    let repo = open_work(&fx);
    let state_ref = "refs/upkeep/note";
    repo.push(
        &fx.url(),
        &Credentials::none(),
        &PushRequest::single(c[0], state_ref, Expect::Absent),
    )
    .unwrap();
    // Somebody moves the ref while our push is on its way: the pre-receive hook runs
    // after our check, before the server's compare-and-swap.
    fx.install_pre_receive_hook(&format!(
        "git update-ref {state_ref} {} {}\nexit 0",
        c[1], c[0]
    ));
    let result = repo.push(
        &fx.url(),
        &Credentials::none(),
        &PushRequest::delete(state_ref, Expect::Tip(c[0])),
    );
    assert!(
        matches!(
            result,
            Err(Error::RemoteMoved { .. } | Error::PushRejected { .. })
        ),
        "{result:?}"
    );
    assert_eq!(fx.bare_ref(state_ref), Some(c[1]));
}

#[test]
fn server_checked_pushes_skip_the_precheck_and_keep_compare_and_swap() {
    let (fx, c) = pushed_history(3);
    let server =
        upkeep_testkit::git::HttpGitServer::start(fx.root(), upkeep_testkit::git::HttpAuth::None);
    let url = server.url("remote.git");
    let repo = open_work(&fx);
    let none = Credentials::none();
    let state_ref = "refs/upkeep/x";
    let requests = |f: &dyn Fn()| {
        let before = server.authorizations().len();
        f();
        server.authorizations().len() - before
    };

    // Created expecting absence: the receive-pack advertisement and the push, no ls-remote.
    let n = requests(&|| {
        let out = repo
            .push(
                &url,
                &none,
                &PushRequest::single(c[0], state_ref, Expect::Absent).server_checked(),
            )
            .unwrap();
        assert_eq!(out.refs[0].status, RefStatus::Created);
    });
    assert_eq!(n, 2);
    let checked = requests(&|| {
        repo.push(
            &url,
            &none,
            &PushRequest::single(c[1], state_ref, Expect::Tip(c[0])),
        )
        .unwrap();
    });
    assert_eq!(checked, 3, "the ordinary push reads the remote first");

    // The server still refuses a stale expectation, with the same errors.
    match repo.push(
        &url,
        &none,
        &PushRequest::single(c[2], state_ref, Expect::Tip(c[0])).server_checked(),
    ) {
        Err(Error::RemoteMoved {
            expected, actual, ..
        }) => assert_eq!((expected, actual), (Some(c[0]), Some(c[1]))),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        repo.push(
            &url,
            &none,
            &PushRequest::single(c[2], state_ref, Expect::Absent).server_checked()
        ),
        Err(Error::RemoteMoved { .. })
    ));
    assert_eq!(fx.bare_ref(state_ref), Some(c[1]));
    let out = repo
        .push(
            &url,
            &none,
            &PushRequest::single(c[2], state_ref, Expect::Tip(c[1])).server_checked(),
        )
        .unwrap();
    assert_eq!(
        (out.refs[0].status, out.refs[0].old),
        (RefStatus::FastForwarded, Some(c[1]))
    );
    let out = repo
        .push(
            &url,
            &none,
            &PushRequest::delete(state_ref, Expect::Tip(c[2])).server_checked(),
        )
        .unwrap();
    assert_eq!(out.refs[0].status, RefStatus::Deleted);
    assert_eq!(fx.bare_ref(state_ref), None);
}

//! The git store against real repositories: what it writes there, what it costs in round
//! trips, how it keeps secrets, and servers that refuse pushes, drop connections, or die
//! right after updating the ref.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::sync::Arc;

use secrecy::SecretString;
use upkeep_git::{Credentials, Oid, Repo};
use upkeep_state::{
    Cas, Error, Expected, GitStore, GitStoreConfig, Key, Record, StateStore, StateStoreExt as _,
};
use upkeep_testkit::faults::{Endpoint, Fault};
use upkeep_testkit::git::{FaultyGitServer, Fixture, HttpAuth, HttpGitServer};

use crate::fast_retry;

fn key(k: &str) -> Key {
    Key::new(k).unwrap()
}

fn open(url: &str, creds: Credentials, scratch: &Path) -> GitStore {
    let mut config = GitStoreConfig::new(url, creds, scratch.to_owned());
    config.retry = fast_retry();
    GitStore::open(config).unwrap()
}

fn done(cas: Cas<Record>) -> Record {
    match cas {
        Cas::Done(r) => r,
        Cas::Conflict { current } => panic!("conflict with {current:?}"),
    }
}

fn oid(record: &Record) -> Oid {
    Oid::from_str(record.version.as_str()).unwrap()
}

/// Installs `script` as the bare repository's `reference-transaction` hook.
fn install_reference_transaction_hook(bare: &Path, script: &str) {
    let hook = bare.join("hooks/reference-transaction");
    fs_err::create_dir_all(hook.parent().unwrap()).unwrap();
    fs_err::write(&hook, script).unwrap();
    fs_err::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Kills `receive-pack` right after it committed a ref update to a commit id starting
/// with one of `first_chars` (all updates when empty): the change is made, the answer
/// never arrives.
fn kill_after_update(first_chars: &str) -> String {
    let pattern = if first_chars.is_empty() {
        "*".to_owned()
    } else {
        format!("[{first_chars}]*")
    };
    format!(
        "#!/bin/sh\n[ \"$1\" = committed ] || exit 0\nwhile read old new ref; do\n  \
         case \"$new\" in\n    {pattern}) kill -9 \"$PPID\" ;;\n  esac\ndone\nexit 0\n"
    )
}

#[test]
fn records_are_commits_on_one_ref_per_key_and_the_ref_history_is_the_record_history() {
    let fx = Fixture::new();
    let store = open(&fx.url(), Credentials::none(), &fx.root().join("scratch"));
    let k = key("rounds/2026-03-02/summary");
    let v1 = done(store.write(&k, &Expected::Absent, b"one").unwrap());
    let v2 = done(store.write(&k, &v1.expected(), b"two").unwrap());
    let v3 = done(store.write(&k, &v2.expected(), b"two").unwrap());

    assert_eq!(store.ref_name(&k), "refs/upkeep/rounds/2026-03-02/summary");
    assert_eq!(fx.bare_ref(&store.ref_name(&k)), Some(oid(&v3)));
    let bare = Repo::open(fx.bare()).unwrap();
    assert_eq!(
        bare.first_parent_chain(oid(&v3), 10).unwrap(),
        vec![oid(&v3), oid(&v2), oid(&v1)]
    );
    for (record, value) in [(&v1, "one"), (&v2, "two"), (&v3, "two")] {
        assert_eq!(
            bare.list_files_at(oid(record)).unwrap(),
            vec![Path::new("record")]
        );
        assert_eq!(
            bare.read_file_at(oid(record), "record").unwrap(),
            value.as_bytes()
        );
    }
    // Equal values on equal parents still make distinct commits: every write is unique.
    let messages: Vec<String> = [&v1, &v2, &v3]
        .iter()
        .map(|r| {
            bare.git2()
                .find_commit(oid(r))
                .unwrap()
                .message()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(
        messages.iter().all(|m| m.contains("write-id: ")),
        "{messages:?}"
    );
    assert_ne!(messages[1], messages[2]);

    // Only refs under the prefix are records; nothing else in the repository changed.
    let refs = upkeep_git::ls_remote(&fx.url(), &Credentials::none()).unwrap();
    assert_eq!(
        refs,
        vec![("refs/upkeep/rounds/2026-03-02/summary".to_owned(), oid(&v3))]
    );
}

#[test]
fn a_prefix_is_listed_with_one_listing_and_at_most_one_download() {
    let fx = Fixture::new();
    let server = FaultyGitServer::start(fx.root());
    let url = server.url("remote.git");
    let writer = open(&url, Credentials::none(), &fx.root().join("writer"));
    let round = key("rounds/r1/projects");
    for i in 0..20 {
        let k = round.child(&format!("project-{i:02}")).unwrap();
        done(
            writer
                .write(&k, &Expected::Absent, format!("{i}").as_bytes())
                .unwrap(),
        );
    }
    done(
        writer
            .write(&key("rounds/r2/summary"), &Expected::Absent, b"other round")
            .unwrap(),
    );

    let reader = open(&url, Credentials::none(), &fx.root().join("reader"));
    let faults = server.faults();
    // Over smart HTTP a download is one `upload-pack` request, or two once the scratch
    // repository has commits to offer as haves (libgit2 states its wants, then its
    // haves and "done"), whatever the number of refs.
    let list = || {
        faults.reset_log();
        let listed = reader.list(&round).unwrap();
        let log = faults.log();
        let counts = (
            log.count(&Endpoint::get("/remote.git/info/refs")),
            log.count(&Endpoint::post("/remote.git/git-upload-pack")),
            log.total(),
        );
        (listed, counts)
    };
    let (listed, first) = list();
    assert_eq!(listed.len(), 20);
    assert_eq!(first, (1, 1, 2), "one listing, one download (no haves yet)");
    let (again, counts) = list();
    assert_eq!(again, listed);
    assert_eq!(counts, (1, 0, 1), "nothing new: the listing alone");

    // One more write elsewhere: the next list downloads only what is new.
    let k = round.child("project-00").unwrap();
    done(writer.write(&k, &listed[0].expected(), b"changed").unwrap());
    let (listed, after) = list();
    assert_eq!(after, (1, 2, 3));
    assert_eq!(listed[0].value, b"changed");
}

#[test]
fn ref_prefix_and_url_are_checked_and_a_url_with_a_secret_is_refused_unshown() {
    let fx = Fixture::new();
    let mut config =
        GitStoreConfig::new(fx.url(), Credentials::none(), fx.root().join("scratch-a"));
    config.ref_prefix = "refs/heads/upkeep/".into();
    config.retry = fast_retry();
    let store = GitStore::open(config).unwrap();
    let r = done(
        store
            .write(&key("notes/x"), &Expected::Absent, b"x")
            .unwrap(),
    );
    assert_eq!(fx.bare_ref("refs/heads/upkeep/notes/x"), Some(oid(&r)));
    assert_eq!(store.list(&key("notes")).unwrap(), vec![r]);

    for bad in ["upkeep/", "refs/upkeep", "refs/up keep/", "refs/../"] {
        let mut config =
            GitStoreConfig::new(fx.url(), Credentials::none(), fx.root().join("scratch-b"));
        config.ref_prefix = bad.into();
        assert!(
            matches!(GitStore::open(config), Err(Error::InvalidKey { .. })),
            "{bad}"
        );
    }

    let config = GitStoreConfig::new(
        "https://bot:hunter2-secret@git.example.com/team/state.git",
        Credentials::none(),
        fx.root().join("scratch-c"),
    );
    let err = GitStore::open(config).unwrap_err();
    let text = format!("{err} {err:?} {}", std::error::Error::source(&err).unwrap());
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("credentials"), "{text}");
}

/// Recursively collects every file's bytes under `dir`.
fn all_bytes(dir: &Path, out: &mut Vec<(std::path::PathBuf, Vec<u8>)>) {
    for entry in fs_err::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all_bytes(&path, out);
        } else {
            out.push((path.clone(), fs_err::read(&path).unwrap()));
        }
    }
}

#[test]
fn the_token_reaches_the_server_and_nothing_else() {
    const TOKEN: &str = "state-token-5e3f0c1d";
    let fx = Fixture::new();
    let server = HttpGitServer::start(
        fx.root(),
        HttpAuth::Basic {
            user: "upkeep-bot".into(),
            password: TOKEN.into(),
        },
    );
    let url = server.url("remote.git");
    let creds =
        Credentials::https_token(SecretString::from(TOKEN.to_owned())).with_username("upkeep-bot");
    let scratch = fx.root().join("scratch");
    let store = open(&url, creds, &scratch);
    let k = key("rounds/r1/projects/api");
    let r = done(store.write(&k, &Expected::Absent, b"{}").unwrap());
    assert_eq!(store.read(&k).unwrap(), Some(r.clone()));
    assert_eq!(store.list(&key("rounds")).unwrap(), vec![r.clone()]);
    assert!(store.delete(&k, &r.version).unwrap().is_done());
    assert!(format!("{store:?}").contains("[redacted]") || !format!("{store:?}").contains(TOKEN));

    // A wrong token: a clear, permanent error without the token in it.
    let wrong = Credentials::https_token(SecretString::from("wrong-token-77".to_owned()));
    let bad = open(&url, wrong, &fx.root().join("scratch-bad"));
    let err = bad.write(&k, &Expected::Absent, b"{}").unwrap_err();
    let mut text = format!("{err} {err:?}");
    let mut source = std::error::Error::source(&err);
    while let Some(s) = source {
        text.push(' ');
        text.push_str(&s.to_string());
        source = s.source();
    }
    assert!(
        !text.contains("wrong-token-77") && !text.contains(TOKEN),
        "{text}"
    );
    assert!(!err.is_transient(), "{text}");

    let mut files = Vec::new();
    all_bytes(&scratch, &mut files);
    all_bytes(fx.bare(), &mut files);
    for (path, bytes) in files {
        assert!(
            !bytes.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()),
            "the token was written to {}",
            path.display()
        );
    }
    assert!(server.authorizations().iter().any(|a| !a.is_empty()));
}

#[test]
fn rejected_pushes_change_nothing_and_say_so() {
    let fx = Fixture::new();
    let store = open(&fx.url(), Credentials::none(), &fx.root().join("scratch"));
    let k = key("branches/prod/in-progress");
    let before = done(store.write(&k, &Expected::Absent, b"before").unwrap());
    fx.install_pre_receive_hook("echo 'state repo is read-only today' >&2\nexit 1");
    match store.write(&k, &before.expected(), b"after") {
        Err(Error::Git {
            transient, source, ..
        }) => {
            assert!(!transient);
            assert!(source.to_string().contains("rejected"), "{source}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        store.delete(&k, &before.version),
        Err(Error::Git { .. })
    ));
    assert_eq!(store.read(&k).unwrap(), Some(before.clone()));
    assert_eq!(fx.bare_ref(&store.ref_name(&k)), Some(oid(&before)));
}

#[test]
fn a_write_whose_answer_is_lost_is_reported_as_made_once() {
    let fx = Fixture::new();
    install_reference_transaction_hook(fx.bare(), &kill_after_update(""));
    let store = open(&fx.url(), Credentials::none(), &fx.root().join("scratch"));
    let k = key("rounds/r1/counter");
    let mut last = None;
    for n in 1..=5u64 {
        let r = store
            .update(&k, |r| {
                let old: u64 = r.map_or(Ok(0), Record::json)?;
                Ok(Some(serde_json::to_vec(&(old + 1)).unwrap()))
            })
            .unwrap()
            .unwrap();
        assert_eq!(r.json::<u64>().unwrap(), n);
        last = Some(r);
    }
    let last = last.unwrap();
    // Five writes, five commits: nothing was doubled by a retry.
    let bare = Repo::open(fx.bare()).unwrap();
    assert_eq!(bare.first_parent_chain(oid(&last), 100).unwrap().len(), 5);
    // The delete's answer is lost too; it is reported as done.
    assert!(store.delete(&k, &last.version).unwrap().is_done());
    assert_eq!(fx.bare_ref(&store.ref_name(&k)), None);
}

#[test]
fn a_server_that_fails_and_drops_connections_loses_and_doubles_nothing() {
    let fx = Fixture::new();
    let server = FaultyGitServer::start(fx.root());
    let url = server.url("remote.git");
    let store = open(&url, Credentials::none(), &fx.root().join("scratch"));
    let faults = server.faults();
    let info_refs = Endpoint::get("/remote.git/info/refs");
    let upload = Endpoint::post("/remote.git/git-upload-pack");
    let receive = Endpoint::post("/remote.git/git-receive-pack");
    let k = key("rounds/r1/projects/api");
    let history = |r: &Record| {
        Repo::open(fx.bare())
            .unwrap()
            .first_parent_chain(oid(r), 100)
            .unwrap()
            .len()
    };

    // Reads survive 5xx answers and a dropped download.
    faults.script(info_refs.clone(), 2, Fault::status(503));
    assert_eq!(store.read(&k).unwrap(), None);
    let v1 = done(store.write(&k, &Expected::Absent, b"1").unwrap());
    let fresh = open(&url, Credentials::none(), &fx.root().join("fresh"));
    faults.script(upload.clone(), 1, Fault::DropBeforeHandling);
    assert_eq!(fresh.read(&k).unwrap(), Some(v1.clone()));

    // The push's connection drops before the server acts: retried, written once.
    faults.script(receive.clone(), 1, Fault::DropBeforeHandling);
    let v2 = done(store.write(&k, &v1.expected(), b"2").unwrap());
    assert_eq!(history(&v2), 2);

    // The server updates the ref and dies before answering: reported as written, once.
    faults.script(receive.clone(), 1, Fault::DropAfterHandling);
    let v3 = done(store.write(&k, &v2.expected(), b"3").unwrap());
    assert_eq!(history(&v3), 3);
    assert_eq!(fresh.read(&k).unwrap(), Some(v3.clone()));

    // A push answered 5xx every time: a transient error, and nothing changed.
    faults.script(receive.clone(), 100, Fault::status(502));
    let err = store.write(&k, &v3.expected(), b"4").unwrap_err();
    assert!(err.is_transient(), "{err}");
    faults.clear();
    assert_eq!(fresh.read(&k).unwrap(), Some(v3.clone()));

    // The server is back: the caller's retry works from the same version.
    let v4 = done(store.write(&k, &v3.expected(), b"4").unwrap());
    assert_eq!(history(&v4), 4);

    // A delete whose answer is lost.
    faults.script(receive, 1, Fault::DropAfterHandling);
    assert!(store.delete(&k, &v4.version).unwrap().is_done());
    assert_eq!(fresh.read(&k).unwrap(), None);
}

/// Rejects pushes whose new commit id starts with 0 or 1 (1 in 8).
const REJECT_SOME: &str = r#"
while read old new ref; do
  case "$new" in
    [01]*) echo "fault injection: refusing $new" >&2; exit 1 ;;
  esac
done
exit 0
"#;

#[test]
fn runners_racing_a_faulty_server_lose_and_double_nothing() {
    const RUNNERS: usize = 6;
    const EACH: usize = 6;
    let fx = Fixture::new();
    fx.install_pre_receive_hook(REJECT_SOME);
    install_reference_transaction_hook(fx.bare(), &kill_after_update("34"));
    let url = fx.url();
    let counter = key("rounds/r1/counter");
    let successes: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..RUNNERS)
            .map(|i| {
                let (url, counter, root) = (&url, &counter, fx.root());
                scope.spawn(move || {
                    let store: Arc<dyn StateStore> =
                        Arc::new(open(url, Credentials::none(), &root.join(format!("s{i}"))));
                    let own = key(&format!("rounds/r1/projects/p{i}"));
                    let mut ok = 0;
                    for n in 0..EACH {
                        let bump = store.update(counter, |r| {
                            let old: usize = r.map_or(Ok(0), Record::json)?;
                            Ok(Some(serde_json::to_vec(&(old + 1)).unwrap()))
                        });
                        match bump {
                            Ok(_) => ok += 1,
                            // Refused by the hook: nothing of ours landed.
                            Err(Error::Git {
                                transient: false, ..
                            }) => {}
                            Err(e) => panic!("runner {i}: {e}"),
                        }
                        // The runner's own key: written until it sticks, never doubled.
                        loop {
                            let current = store.read(&own).unwrap();
                            let value = format!("{n}");
                            match store.write(
                                &own,
                                &Expected::from_current(current.as_ref()),
                                value.as_bytes(),
                            ) {
                                Ok(Cas::Done(_)) => break,
                                Ok(Cas::Conflict { current }) => {
                                    panic!("runner {i}: nobody else writes {own}: {current:?}")
                                }
                                Err(Error::Git {
                                    transient: false, ..
                                }) => {}
                                Err(e) => panic!("runner {i}: {e}"),
                            }
                        }
                    }
                    ok
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });

    let reader = open(&url, Credentials::none(), &fx.root().join("reader"));
    let total: usize = reader.read(&counter).unwrap().unwrap().json().unwrap();
    assert_eq!(
        total, successes,
        "every reported increment landed exactly once"
    );
    assert!(successes > 0);
    let bare = Repo::open(fx.bare()).unwrap();
    let tip = fx.bare_ref(&reader.ref_name(&counter)).unwrap();
    assert_eq!(bare.first_parent_chain(tip, 1000).unwrap().len(), successes);
    let projects = reader.list(&key("rounds/r1/projects")).unwrap();
    assert_eq!(projects.len(), RUNNERS);
    for p in &projects {
        assert_eq!(p.value, format!("{}", EACH - 1).as_bytes());
        let tip = Oid::from_str(p.version.as_str()).unwrap();
        assert_eq!(
            bare.first_parent_chain(tip, 1000).unwrap().len(),
            EACH,
            "{}",
            p.key
        );
    }
}

#[test]
fn a_ref_locked_on_the_server_is_a_transient_failure_that_passes() {
    let fx = Fixture::new();
    let store = open(&fx.url(), Credentials::none(), &fx.root().join("scratch"));
    let k = key("rounds/r1/projects/api");
    let v1 = done(store.write(&k, &Expected::Absent, b"1").unwrap());
    // Another update of the ref is in progress on the server (or died holding the lock).
    let lock = fx.bare().join("refs/upkeep/rounds/r1/projects/api.lock");
    fs_err::write(&lock, "").unwrap();
    let err = store.write(&k, &v1.expected(), b"2").unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert!(matches!(err, Error::Git { .. }));
    assert_eq!(store.read(&k).unwrap(), Some(v1.clone()));
    // Once the lock is gone, the caller's retry from the same version works.
    fs_err::remove_file(&lock).unwrap();
    let v2 = done(store.write(&k, &v1.expected(), b"2").unwrap());
    assert_eq!(store.read(&k).unwrap(), Some(v2));
}

/// Runners of one machine share the scratch repository, and a round reads records from
/// many tasks at once: two downloads into it at the same moment contend for its lock
/// files (libgit2 rewrites `shallow` after each). That is a wait, not a failure: every
/// read of a record another runner wrote succeeds.
#[test]
fn reads_at_the_same_moment_share_the_scratch_repository() {
    let fx = Fixture::new();
    let writer = open(&fx.url(), Credentials::none(), &fx.root().join("writer"));
    let scratch = fx.root().join("readers");
    let keys: Vec<Key> = (0..8)
        .map(|i| key(&format!("rounds/r1/projects/p{i}")))
        .collect();
    let mut versions: Vec<Record> = keys
        .iter()
        .map(|k| done(writer.write(k, &Expected::Absent, b"0").unwrap()))
        .collect();
    // Eight readers may each lose the lock a few times in a row: enough short retries
    // that only a lock that never frees fails the read.
    let readers: Vec<GitStore> = keys
        .iter()
        .map(|_| {
            let mut config = GitStoreConfig::new(fx.url(), Credentials::none(), scratch.clone());
            config.retry = upkeep_state::RetryPolicy {
                attempts: 30,
                ..fast_retry()
            };
            GitStore::open(config).unwrap()
        })
        .collect();
    for round in 1..=10 {
        // New commits the readers' scratch repository does not have: each read downloads.
        for (k, version) in keys.iter().zip(&mut versions) {
            let value = round.to_string();
            *version = done(
                writer
                    .write(k, &version.expected(), value.as_bytes())
                    .unwrap(),
            );
        }
        let barrier = std::sync::Barrier::new(keys.len());
        std::thread::scope(|scope| {
            for (k, store) in keys.iter().zip(&readers) {
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    let read = store
                        .read(k)
                        .unwrap_or_else(|e| panic!("round {round}: {e}"));
                    assert_eq!(read.unwrap().value, round.to_string().as_bytes());
                });
            }
        });
    }
}

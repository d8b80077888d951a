//! The local adapter: the behaviour suite against bare repositories on disk, and what is
//! particular to it (the record files, merges noticed in git, concurrency).

use std::sync::Arc;

use async_trait::async_trait;
use tempfile::TempDir;
use upkeep_forge::local::{CheckRecord, LOCK_FILE, LocalForge};
use upkeep_forge::{
    BranchMove, ChangeRequestSpec, ChangeRequestState, CheckState, Forge, ForgeError, RepoId,
    UpsertAction,
};
use upkeep_git::Oid;
use upkeep_testkit::bare::BareRepo;
use upkeep_testkit::git::Clock;

use crate::behaviour::{Harness, Review, Signal, behaviour_suite};

struct LocalHarness {
    dir: TempDir,
    bare: BareRepo,
    forge: Arc<LocalForge>,
    repo: RepoId,
}

#[allow(clippy::unused_async)] // `behaviour_suite!` awaits every harness constructor.
async fn harness() -> LocalHarness {
    upkeep_testkit::init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let bare = BareRepo::init(dir.path().join("api.git"), Clock::default());
    bare.commit_on("main", "initial commit");
    let forge = Arc::new(LocalForge::new(dir.path().join("work")));
    let repo = RepoId::new(bare.path().display().to_string());
    LocalHarness {
        dir,
        bare,
        forge,
        repo,
    }
}

fn oid(sha: &str) -> Oid {
    Oid::from_str(sha).unwrap()
}

#[async_trait]
impl Harness for LocalHarness {
    fn forge(&self) -> Arc<dyn Forge> {
        self.forge.clone()
    }

    fn repo(&self) -> RepoId {
        self.repo.clone()
    }

    async fn commit_on(&self, branch: &str, message: &str) -> String {
        self.bare.commit_on(branch, message).to_string()
    }

    async fn set_branch(&self, branch: &str, sha: &str) {
        self.bare.set_branch(branch, oid(sha));
    }

    async fn set_ci(&self, sha: &str, name: &str, signal: Signal) {
        let state = match signal {
            Signal::Success => CheckState::Success,
            Signal::Failure => CheckState::Failure,
            Signal::Pending => CheckState::Pending,
        };
        let check = CheckRecord {
            name: name.to_owned(),
            state,
            url: Some(format!("https://ci.example/{name}")),
        };
        self.forge
            .record_check(&self.repo, sha, check)
            .await
            .unwrap();
    }

    async fn review(&self, number: u64, user: &str, review: Review) {
        match review {
            Review::Approve => self.forge.approve(&self.repo, number, user).await,
            Review::RequestChanges => self.forge.request_changes(&self.repo, number, user).await,
        }
        .unwrap();
    }

    async fn merge(&self, number: u64) {
        let cr = self.forge.change_request(&self.repo, number).await.unwrap();
        let merge = self
            .bare
            .merge(&cr.base, &cr.head, &format!("Merge branch '{}'", cr.head));
        self.forge
            .merge(&self.repo, number, Some(&merge.to_string()))
            .await
            .unwrap();
    }

    async fn close(&self, number: u64) {
        self.forge.close(&self.repo, number).await.unwrap();
    }
}

behaviour_suite!(harness);

fn spec(head: &str) -> ChangeRequestSpec {
    ChangeRequestSpec {
        head: head.into(),
        base: "main".into(),
        title: format!("Update {head}"),
        body: "body".into(),
        labels: vec!["maintenance".into()],
        reviewers: vec!["ann".into()],
        assignees: vec![],
        draft: false,
    }
}

#[tokio::test]
async fn records_are_json_files_next_to_the_remote_and_editable_by_hand() {
    let h = harness().await;
    h.bare.commit_on("feature", "change");
    let created = h
        .forge
        .upsert_change_request(&h.repo, &spec("feature"))
        .await
        .unwrap();
    assert_eq!(created.change_request.number, 1);

    let dir = h.dir.path().join("api.git.upkeep");
    assert_eq!(h.forge.records_dir(&h.repo).unwrap(), dir);
    let file = dir.join("change-requests/1.json");
    assert_eq!(
        created.change_request.url,
        format!("file://{}", file.display())
    );
    let mut json: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(json["head"], "feature");
    assert_eq!(json["reviewers"], serde_json::json!(["ann"]));
    assert_eq!(json["state"], "open");

    // A person approves by editing the file.
    json["approvers"] = serde_json::json!(["ann"]);
    fs_err::write(&file, serde_json::to_string_pretty(&json).unwrap()).unwrap();
    let cr = h.forge.change_request(&h.repo, 1).await.unwrap();
    assert_eq!(cr.state, ChangeRequestState::Approved);
    assert_eq!(cr.approvers, ["ann"]);

    // ... or closes it.
    json["state"] = "closed".into();
    fs_err::write(&file, serde_json::to_string_pretty(&json).unwrap()).unwrap();
    assert_eq!(
        h.forge.change_request(&h.repo, 1).await.unwrap().state,
        ChangeRequestState::Closed
    );

    // No temporary files are left behind.
    let leftovers: Vec<_> = fs_err::read_dir(dir.join("change-requests"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn a_merge_made_with_git_is_noticed() {
    let h = harness().await;
    h.bare.commit_on("feature", "change");
    h.forge
        .upsert_change_request(&h.repo, &spec("feature"))
        .await
        .unwrap();
    h.bare.merge("main", "feature", "merged by hand");
    h.bare.delete_branch("feature");
    let cr = h.forge.change_request(&h.repo, 1).await.unwrap();
    assert_eq!(cr.state, ChangeRequestState::Merged);
    assert_eq!(
        h.forge
            .find_open_change_request(&h.repo, "feature")
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_head_already_in_base_when_opened_is_not_merged() {
    let h = harness().await;
    let main = h.bare.tip("main").unwrap();
    h.bare.set_branch("empty", main);
    h.forge
        .upsert_change_request(&h.repo, &spec("empty"))
        .await
        .unwrap();
    let cr = h.forge.change_request(&h.repo, 1).await.unwrap();
    assert_eq!(cr.state, ChangeRequestState::Open);
    assert_eq!(cr.head_sha, Some(main.to_string()));
}

#[tokio::test]
async fn concurrent_upserts_for_one_head_record_one_change_request() {
    let h = harness().await;
    h.bare.commit_on("feature", "change");
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let forge = h.forge.clone();
            let repo = h.repo.clone();
            tokio::spawn(async move { forge.upsert_change_request(&repo, &spec("feature")).await })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        let upserted = task.await.unwrap().unwrap();
        assert_eq!(upserted.change_request.number, 1);
        created += usize::from(upserted.action == UpsertAction::Created);
    }
    assert_eq!(created, 1);
    assert!(
        !h.dir
            .path()
            .join("api.git.upkeep/change-requests/2.json")
            .exists()
    );
}

#[tokio::test]
async fn concurrent_moves_from_the_same_tip_one_wins() {
    let h = harness().await;
    let old = h.bare.tip("main").unwrap();
    h.bare.set_branch("stable", old);
    let a = h.bare.commit_on("a", "a");
    let b = h.bare.commit_on("b", "b");
    // Two forges with separate scratch clones: no in-process lock serialises them, so the
    // remote's compare-and-swap decides.
    let other = Arc::new(LocalForge::new(h.dir.path().join("work-2")));
    let request = |new: Oid| BranchMove {
        branch: "stable".into(),
        expected_old: old.to_string(),
        new: new.to_string(),
        allow_backwards: false,
    };
    let (move_a, move_b) = (request(a), request(b));
    let (ra, rb) = tokio::join!(
        h.forge.move_branch(&h.repo, &move_a),
        other.move_branch(&h.repo, &move_b),
    );
    let tip = h.bare.tip("stable").unwrap();
    match (ra, rb) {
        (Ok(()), Err(ForgeError::BranchMoved { actual, .. })) => {
            assert_eq!(tip, a);
            assert_eq!(actual, Some(a.to_string()));
        }
        (Err(ForgeError::BranchMoved { actual, .. }), Ok(())) => {
            assert_eq!(tip, b);
            assert_eq!(actual, Some(b.to_string()));
        }
        other => panic!("exactly one move must win: {other:?}"),
    }
}

#[tokio::test]
async fn a_hook_refusing_the_push_is_reported() {
    let h = harness().await;
    let old = h.bare.tip("main").unwrap();
    h.bare.set_branch("stable", old);
    let new = h.bare.commit_on("main", "next");
    upkeep_testkit::git::install_pre_receive_hook(h.bare.path(), "echo 'stable is frozen'; exit 1");
    let err = h
        .forge
        .move_branch(
            &h.repo,
            &BranchMove {
                branch: "stable".into(),
                expected_old: old.to_string(),
                new: new.to_string(),
                allow_backwards: false,
            },
        )
        .await
        .unwrap_err();
    let text = format!("{err}: {}", std::error::Error::source(&err).unwrap());
    assert!(text.contains("stable is frozen"), "{text}");
    assert_eq!(h.bare.tip("stable"), Some(old));
}

#[tokio::test]
async fn upsert_needs_existing_branches() {
    let h = harness().await;
    let err = h
        .forge
        .upsert_change_request(&h.repo, &spec("never-pushed"))
        .await
        .unwrap_err();
    assert!(matches!(err, ForgeError::Validation { .. }), "{err:?}");
    assert!(err.to_string().contains("never-pushed"), "{err}");
}

#[tokio::test]
async fn unknown_repositories_and_remote_urls_are_clear_errors() {
    let h = harness().await;
    let missing = RepoId::new(h.dir.path().join("nope.git").display().to_string());
    let err = h.forge.branch_tip(&missing, "main").await.unwrap_err();
    assert!(matches!(err, ForgeError::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("nope.git"), "{err}");

    let remote = RepoId::new("https://git.example.com/acme/api.git");
    let err = h
        .forge
        .find_open_change_request(&remote, "x")
        .await
        .unwrap_err();
    assert!(matches!(err, ForgeError::Setup { .. }), "{err:?}");
}

#[tokio::test]
async fn a_records_root_holds_records_of_file_urls() {
    let h = harness().await;
    let root = h.dir.path().join("records");
    let forge = LocalForge::new(h.dir.path().join("work")).with_records_dir(&root);
    let repo = RepoId::new(format!("file://{}", h.bare.path().display()));
    h.bare.commit_on("feature", "change");
    forge
        .upsert_change_request(&repo, &spec("feature"))
        .await
        .unwrap();
    let dir = forge.records_dir(&repo).unwrap();
    assert!(dir.starts_with(&root));
    assert!(dir.join("change-requests/1.json").exists());
    assert!(!h.dir.path().join("api.git.upkeep").exists());
}

#[tokio::test]
async fn a_copied_record_never_overwrites_the_original() {
    let h = harness().await;
    h.bare.commit_on("feature", "change");
    h.forge
        .upsert_change_request(&h.repo, &spec("feature"))
        .await
        .unwrap();
    let crs = h.dir.path().join("api.git.upkeep/change-requests");
    let original = fs_err::read_to_string(crs.join("1.json")).unwrap();
    // The docs invite hand edits: a person copies #1 to start #3.
    fs_err::copy(crs.join("1.json"), crs.join("3.json")).unwrap();

    let err = h.forge.approve(&h.repo, 3, "ann").await.unwrap_err();
    let text = format!("{err}: {}", std::error::Error::source(&err).unwrap());
    assert!(text.contains("3.json"), "{text}");
    assert_eq!(
        fs_err::read_to_string(crs.join("1.json")).unwrap(),
        original,
        "#1 must be untouched"
    );

    // Once the copy says which number it is, it is a change request of its own.
    let mut json: serde_json::Value = serde_json::from_str(&original).unwrap();
    json["number"] = 3.into();
    fs_err::write(crs.join("3.json"), json.to_string()).unwrap();
    let cr = h.forge.approve(&h.repo, 3, "ann").await.unwrap();
    assert_eq!((cr.number, cr.state), (3, ChangeRequestState::Approved));
    assert_eq!(
        fs_err::read_to_string(crs.join("1.json")).unwrap(),
        original
    );
}

/// Writes a commit on top of `parent` whose id starts with `prefix` (4 hex digits: about
/// 65 000 hashes, no writes until one fits) and returns it.
fn commit_with_prefix(bare: &std::path::Path, parent: Oid, prefix: &str) -> Oid {
    let repo = git2::Repository::open_bare(bare).unwrap();
    let tree = repo.find_commit(parent).unwrap().tree_id();
    let sig = "Collider <c@example.com> 1700000000 +0000";
    for i in 0u64.. {
        let text =
            format!("tree {tree}\nparent {parent}\nauthor {sig}\ncommitter {sig}\n\ncollide {i}\n");
        let oid = Oid::hash_object(git2::ObjectType::Commit, text.as_bytes()).unwrap();
        if oid.to_string().starts_with(prefix) {
            let written = repo
                .odb()
                .unwrap()
                .write(git2::ObjectType::Commit, text.as_bytes())
                .unwrap();
            assert_eq!(written, oid);
            return oid;
        }
    }
    unreachable!("u64 counter exhausted")
}

#[tokio::test]
async fn a_short_id_ambiguous_on_the_remote_is_refused_even_if_the_scratch_clone_knows_one() {
    let h = harness().await;
    let main = h.bare.tip("main").unwrap();
    let x = h.bare.commit_on("x", "x");
    let prefix = x.to_string()[..4].to_owned();
    // The first resolve fills the scratch clone, where the prefix is unique.
    let cmp = h.forge.compare(&h.repo, "main", &prefix).await.unwrap();
    assert_eq!(cmp.commits[0].sha, x.to_string());

    let y = commit_with_prefix(h.bare.path(), main, &prefix);
    h.bare.set_branch("y", y);
    let err = h.forge.compare(&h.repo, "main", &prefix).await.unwrap_err();
    assert!(matches!(err, ForgeError::Validation { .. }), "{err:?}");
    let text = format!("{err}");
    assert!(
        text.contains(&prefix) && text.contains("2 commits"),
        "{text}"
    );
    assert!(
        text.contains(&x.to_string()) && text.contains(&y.to_string()),
        "{text}"
    );
}

#[tokio::test]
async fn an_upsert_waits_for_another_process_holding_the_records_lock() {
    let h = harness().await;
    h.bare.commit_on("feature", "change");
    let dir = h.forge.records_dir(&h.repo).unwrap();
    let crs = dir.join("change-requests");
    fs_err::create_dir_all(&crs).unwrap();
    // Another process is between looking for an open change request and recording one.
    let lock = fs_err::File::create(dir.join(LOCK_FILE)).unwrap();
    lock.lock().unwrap();
    let upsert = {
        let (forge, repo) = (h.forge.clone(), h.repo.clone());
        tokio::spawn(async move { forge.upsert_change_request(&repo, &spec("feature")).await })
    };
    // Long enough for an unguarded upsert to have recorded its own change request; a
    // guarded one cannot, however long this is.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !crs.join("1.json").exists(),
        "the upsert must wait for the lock"
    );
    let mut theirs: serde_json::Value = serde_json::json!({
        "number": 1, "title": "Opened elsewhere", "head": "feature", "base": "main",
    });
    fs_err::write(crs.join("1.json"), theirs.to_string()).unwrap();
    drop(lock);

    let upserted = upsert.await.unwrap().unwrap();
    assert_eq!(upserted.change_request.number, 1);
    assert_eq!(upserted.action, UpsertAction::Updated);
    assert!(!crs.join("2.json").exists());
    theirs = serde_json::from_str(&fs_err::read_to_string(crs.join("1.json")).unwrap()).unwrap();
    assert_eq!(theirs["title"], "Update feature");
}

#[test]
fn two_forges_racing_upserts_on_threads_record_one_change_request_per_head() {
    let dir = tempfile::tempdir().unwrap();
    let bare = BareRepo::init(dir.path().join("api.git"), Clock::default());
    bare.commit_on("main", "initial commit");
    let heads: Vec<String> = (0..4).map(|i| format!("feature-{i}")).collect();
    for head in &heads {
        bare.commit_on(head, head);
    }
    let repo = RepoId::new(bare.path().display().to_string());
    // Separate work directories: no in-process lock is shared, as with two processes.
    let forges = [
        LocalForge::new(dir.path().join("work-a")),
        LocalForge::new(dir.path().join("work-b")),
    ];
    let barrier = std::sync::Barrier::new(forges.len());
    let created: usize = std::thread::scope(|s| {
        let runs: Vec<_> = forges
            .iter()
            .map(|forge| {
                let (repo, heads, barrier) = (&repo, &heads, &barrier);
                s.spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    heads
                        .iter()
                        .map(|head| {
                            barrier.wait();
                            let upserted = rt
                                .block_on(forge.upsert_change_request(repo, &spec(head)))
                                .unwrap();
                            usize::from(upserted.action == UpsertAction::Created)
                        })
                        .sum::<usize>()
                })
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).sum()
    });
    assert_eq!(created, heads.len());
    let files = fs_err::read_dir(dir.path().join("api.git.upkeep/change-requests"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".json")
        })
        .count();
    assert_eq!(files, heads.len());
}

/// `path` relative to the current directory (all `..` up to `/`, then down).
fn relative_to_cwd(path: &std::path::Path) -> String {
    let cwd = std::env::current_dir().unwrap();
    let ups = cwd.components().count() - 1;
    let down = path.strip_prefix("/").unwrap();
    format!("{}{}", "../".repeat(ups), down.display())
}

#[tokio::test]
async fn a_relative_path_is_the_same_remote_for_records_reads_and_pushes() {
    let h = harness().await;
    let repo = RepoId::new(relative_to_cwd(h.bare.path()));
    assert!(!repo.as_str().starts_with('/'), "{repo}");
    let feature = h.bare.commit_on("feature", "change");
    assert_eq!(
        h.forge.branch_tip(&repo, "feature").await.unwrap(),
        Some(feature.to_string())
    );
    let upserted = h
        .forge
        .upsert_change_request(&repo, &spec("feature"))
        .await
        .unwrap();
    assert_eq!(upserted.change_request.number, 1);
    assert!(
        h.dir
            .path()
            .join("api.git.upkeep/change-requests/1.json")
            .exists()
    );
    // The push runs in the scratch clone's directory: the path must not mean one there.
    let main = h.bare.tip("main").unwrap();
    h.forge
        .move_branch(
            &repo,
            &BranchMove {
                branch: "main".into(),
                expected_old: main.to_string(),
                new: feature.to_string(),
                allow_backwards: false,
            },
        )
        .await
        .unwrap();
    assert_eq!(h.bare.tip("main"), Some(feature));

    let missing = RepoId::new(relative_to_cwd(&h.dir.path().join("nope.git")));
    let err = h.forge.branch_tip(&missing, "main").await.unwrap_err();
    assert!(matches!(err, ForgeError::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn access_follows_the_permissions_of_the_remote_directory() {
    use std::os::unix::fs::PermissionsExt as _;
    let h = harness().await;
    let access = h.forge.access(&h.repo).await.unwrap();
    assert!(access.is_sufficient(), "{access:?}");
    assert_eq!(access.fix, None);

    let path = h.bare.path().to_owned();
    let before = fs_err::metadata(&path).unwrap().permissions();
    fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o555)).unwrap();
    let access = h.forge.access(&h.repo).await;
    fs_err::set_permissions(&path, before).unwrap();
    let access = access.unwrap();
    assert_eq!(access.can_push, Some(false), "{access:?}");
    assert_eq!(access.can_open_change_requests, Some(true), "{access:?}");
    assert!(access.detail.contains("read-only"), "{}", access.detail);
    assert!(access.fix.is_some());

    let err = h
        .forge
        .access(&RepoId::new(
            h.dir.path().join("missing.git").display().to_string(),
        ))
        .await
        .unwrap_err();
    assert!(matches!(err, ForgeError::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn access_to_a_url_is_unknown_for_pushes_and_needs_a_records_dir() {
    let h = harness().await;
    let url = RepoId::new("https://git.example.com/team/api.git");
    let access = h.forge.access(&url).await.unwrap();
    assert_eq!(access.can_push, None, "{access:?}");
    assert_eq!(access.can_open_change_requests, Some(false), "{access:?}");
    assert!(access.fix.as_deref().unwrap().contains("records directory"));

    let forge =
        LocalForge::new(h.dir.path().join("work")).with_records_dir(h.dir.path().join("records"));
    let access = forge.access(&url).await.unwrap();
    assert_eq!(access.can_push, None, "{access:?}");
    assert_eq!(access.can_open_change_requests, Some(true), "{access:?}");
}

//! Discovery on the local forge: a directory of bare repositories resolved into a round's
//! project set (filters, left-out reasons, clashes, the recorded set), and a
//! repository's own `.upkeep.toml` in a real round.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::Arc;

use upkeep_chat::{ChatThreads, ConsoleChat, ConsoleFormat};
use upkeep_config::{Config, MaintainConfig};
use upkeep_forge::local::LocalForge;
use upkeep_forge::{Discover, Forge};
use upkeep_maintain::discover::{
    self, DiscoverError, Origin, ProjectSet, SetSource, load_or_resolve, resolve,
};
use upkeep_maintain::{CancellationToken, FailedStage, NoProgress, Round, Status};
use upkeep_state::{LocalStore, StateStore};
use upkeep_testkit::bare::BareRepo;
use upkeep_testkit::git::Clock;

use crate::support::{BUMP, REQUIREMENTS, World, date};

const MAKEFILE: &str = ".PHONY: upgrade build test\nupgrade:\n\tBUMP\nbuild:\n\techo building\ntest:\n\techo 3 passed\n";

fn makefile() -> String {
    MAKEFILE.replace("BUMP", BUMP)
}

/// A bare repository `name.git` in `dir` with a Makefile, requirements and `extra`
/// files on `main`, and `topics` in its git config.
fn repo(dir: &Path, name: &str, topics: &str, extra: &[(&str, &str)]) -> BareRepo {
    let bare = BareRepo::init(dir.join(format!("{name}.git")), Clock::default());
    let makefile = makefile();
    let mut files = vec![
        ("Makefile", makefile.as_str()),
        ("requirements.txt", REQUIREMENTS),
    ];
    files.extend_from_slice(extra);
    bare.commit_files("main", &files, "initial");
    if !topics.is_empty() {
        set(&bare, "upkeep.topics", topics);
    }
    bare
}

fn set(bare: &BareRepo, key: &str, value: &str) {
    let git_dir = bare.path().display().to_string();
    upkeep_testkit::git::git(bare.path(), &["--git-dir", &git_dir, "config", key, value]);
}

fn config(state: &Path, text: &str) -> MaintainConfig {
    Config::from_str(
        text,
        &state.join("upkeep.toml"),
        std::iter::empty::<(String, String)>(),
    )
    .unwrap_or_else(|e| panic!("{e}\n{text}"))
    .maintain()
    .unwrap()
    .clone()
}

fn listers(
    maintain: &MaintainConfig,
    forge: &Arc<LocalForge>,
) -> BTreeMap<String, Arc<dyn Discover>> {
    maintain
        .discover
        .iter()
        .map(|r| (r.label.clone(), forge.clone() as Arc<dyn Discover>))
        .collect()
}

fn names(set: &ProjectSet) -> Vec<&str> {
    set.projects.iter().map(|p| p.name.as_str()).collect()
}

fn reason<'a>(set: &'a ProjectSet, rule: &str, repo: &str) -> &'a str {
    set.left_out
        .iter()
        .find(|l| l.repo == repo && l.rule == rule)
        .map_or("(kept)", |l| l.reason.key())
}

#[tokio::test]
async fn rules_keep_what_matches_and_say_why_the_rest_is_left_out() {
    let state = tempfile::tempdir().unwrap();
    let repos = state.path().join("repos");
    repo(&repos, "api", "upkeep python", &[]);
    repo(&repos, "web", "upkeep,node", &[]);
    repo(&repos, "web-legacy", "upkeep", &[]);
    repo(&repos, "notes", "docs", &[]);
    let old = repo(&repos, "old", "upkeep", &[]);
    set(&old, "upkeep.archived", "true");
    let fork = repo(&repos, "forked", "upkeep", &[]);
    set(&fork, "upkeep.fork", "true");
    let empty = BareRepo::init(repos.join("fresh.git"), Clock::default());
    set(&empty, "upkeep.topics", "upkeep");
    let listed = repo(state.path(), "billing", "upkeep", &[]);
    // The listed project's repository also sits in the directory under another name:
    // found by the rule, it is left out as listed.
    let listed_again = repos.join("billing.git");
    fs_err::os::unix::fs::symlink(listed.path(), &listed_again).unwrap();

    let text = format!(
        "state_dir = \"state\"\n[maintain]\n\
         [[maintain.projects]]\nname = \"billing\"\nrepo = \"{}\"\n\
         [[maintain.discover]]\nname = \"services\"\ndirectory = \"repos\"\ntopics = [\"UpKeep\"]\nexclude = [\"*-legacy\"]\n\
         [[maintain.discover]]\nname = \"docs\"\ndirectory = \"repos\"\ninclude = [\"nothing-*\"]\n",
        listed.path().display()
    );
    let maintain = config(state.path(), &text);
    let forge = Arc::new(LocalForge::new(state.path().join("forge")));
    let set = resolve(&maintain, &listers(&maintain, &forge))
        .await
        .unwrap();

    assert_eq!(names(&set), ["billing", "api", "web"]);
    assert_eq!(set.projects[0].origin, Origin::Listed);
    assert_eq!(
        set.projects[1].origin,
        Origin::Discovered {
            rule: "services".into()
        }
    );
    assert_eq!(set.projects[1].topics, ["upkeep", "python"]);
    assert_eq!(set.projects[1].default_branch.as_deref(), Some("main"));
    for (repo, why) in [
        ("web-legacy", "excluded"),
        ("notes", "no_topic"),
        ("old", "archived"),
        ("forked", "fork"),
        ("fresh", "empty"),
        ("billing", "listed"),
    ] {
        let first = set
            .left_out
            .iter()
            .find(|l| l.repo == repo && l.rule == "services")
            .unwrap_or_else(|| panic!("{repo} not left out: {:?}", set.left_out));
        assert_eq!(first.reason.key(), why, "{repo}");
    }
    assert_eq!(reason(&set, "services", "api"), "(kept)");
    // Already in the set: said so, whatever the second rule's filters think of it.
    assert_eq!(reason(&set, "docs", "api"), "found_earlier");
    assert_eq!(reason(&set, "docs", "notes"), "not_included");
    // The second rule keeps nothing: a warning naming it.
    assert_eq!(set.warnings.len(), 1, "{:?}", set.warnings);
    assert!(set.warnings[0].contains("`docs`"), "{}", set.warnings[0]);
    assert!(
        set.warnings[0].contains("matches no project"),
        "{}",
        set.warnings[0]
    );

    // Applied, the discovered projects are ordinary projects with their rule's settings.
    let applied = set.apply(&maintain).unwrap();
    let api = applied.project("api").unwrap();
    assert_eq!(api.base_branch.as_deref(), Some("main"));
    assert_eq!(Path::new(&api.remote.url), repos.join("api.git").as_path());
}

#[tokio::test]
async fn switches_keep_archived_forks_and_empty_repositories() {
    let state = tempfile::tempdir().unwrap();
    let repos = state.path().join("repos");
    let old = repo(&repos, "old", "", &[]);
    set(&old, "upkeep.archived", "true");
    let fork = repo(&repos, "forked", "", &[]);
    set(&fork, "upkeep.fork", "true");
    BareRepo::init(repos.join("fresh.git"), Clock::default());
    let text = "state_dir = \"state\"\n[maintain]\n[[maintain.discover]]\ndirectory = \"repos\"\narchived = true\nforks = true\nempty = true\n";
    let maintain = config(state.path(), text);
    let forge = Arc::new(LocalForge::new(state.path().join("forge")));
    let set = resolve(&maintain, &listers(&maintain, &forge))
        .await
        .unwrap();
    assert_eq!(names(&set), ["forked", "fresh", "old"]);
    assert!(set.left_out.is_empty());
}

#[tokio::test]
async fn a_discovered_name_taken_by_a_listed_project_is_an_error_naming_both() {
    let state = tempfile::tempdir().unwrap();
    let repos = state.path().join("repos");
    repo(&repos, "api", "", &[]);
    let other = repo(state.path(), "elsewhere", "", &[]);
    let text = format!(
        "state_dir = \"state\"\n[maintain]\n[[maintain.projects]]\nname = \"api\"\nrepo = \"{}\"\n[[maintain.discover]]\ndirectory = \"repos\"\n",
        other.path().display()
    );
    let maintain = config(state.path(), &text);
    let forge = Arc::new(LocalForge::new(state.path().join("forge")));
    let err = resolve(&maintain, &listers(&maintain, &forge))
        .await
        .unwrap_err();
    assert!(matches!(err, DiscoverError::NameClash { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("listed project `api`"), "{text}");
    assert!(text.contains("elsewhere.git"), "{text}");
    assert!(text.contains("found by rule `directory-repos`"), "{text}");
}

#[tokio::test]
async fn a_missing_directory_is_an_error_naming_the_rule() {
    let state = tempfile::tempdir().unwrap();
    let text = "state_dir = \"state\"\n[maintain]\n[[maintain.discover]]\nname = \"gone\"\ndirectory = \"nope\"\n";
    let maintain = config(state.path(), text);
    let forge = Arc::new(LocalForge::new(state.path().join("forge")));
    let err = resolve(&maintain, &listers(&maintain, &forge))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("rule `gone`"), "{err}");
}

#[tokio::test]
async fn a_round_resolves_its_set_once_and_re_runs_see_the_same_set() {
    let state = tempfile::tempdir().unwrap();
    let repos = state.path().join("repos");
    repo(&repos, "api", "upkeep", &[]);
    let text = "state_dir = \"state\"\n[maintain]\n[[maintain.discover]]\ndirectory = \"repos\"\ntopics = [\"upkeep\"]\n";
    let maintain = config(state.path(), text);
    let forge = Arc::new(LocalForge::new(state.path().join("forge")));
    let store: Arc<dyn StateStore> =
        Arc::new(LocalStore::open(state.path().join("state/state")).unwrap());
    let resolve_round = |round: &'static str| {
        let (maintain, store, listers) = (&maintain, store.clone(), listers(&maintain, &forge));
        async move { load_or_resolve(maintain, &listers, store, round, true).await }
    };
    let (first, source) = resolve_round("2026-11-22").await.unwrap();
    assert_eq!(source, SetSource::Resolved);
    assert_eq!(names(&first), ["api"]);
    assert_eq!(
        discover::load_set(store.as_ref(), "2026-11-22").unwrap(),
        Some(first.clone())
    );
    // A repository wearing the topic appears mid-round: the round keeps its set …
    repo(&repos, "late", "upkeep", &[]);
    let (again, source) = resolve_round("2026-11-22").await.unwrap();
    assert_eq!(source, SetSource::Recorded);
    assert_eq!(again, first);
    // … and the next round (another record) finds it.
    let (next_set, _) = resolve_round("2026-11-29").await.unwrap();
    assert_eq!(names(&next_set), ["api", "late"]);
    // Two shards resolved round 2026-11-29 at once and differ: the first recorded wins,
    // and the other works on the winner's set.
    let winner = discover::record_set(store.as_ref(), "2026-11-29", first.clone()).unwrap();
    assert_eq!(winner, next_set);
}

/// A real round over discovered projects: one carries a `.upkeep.toml` that changes its
/// test step, one an invalid `.upkeep.toml`, one asks to be skipped.
#[tokio::test]
#[allow(clippy::too_many_lines)] // One round, three outcomes, checked in turn.
async fn a_repository_settings_file_changes_a_step_or_fails_only_its_project() {
    let state = tempfile::tempdir().unwrap();
    let repos = state.path().join("repos");
    repo(
        &repos,
        "api",
        "upkeep",
        &[(
            ".upkeep.toml",
            "labels = [\"api-team\"]\n[steps.test]\ncommand = \"echo repo-level test > tested-by-repo-settings.txt && cat tested-by-repo-settings.txt\"\n",
        )],
    );
    repo(
        &repos,
        "broken",
        "upkeep",
        &[(
            ".upkeep.toml",
            "labels = [\"x\"]\n[steps.test]\ntimeout = \"soon\"\n",
        )],
    );
    repo(
        &repos,
        "resting",
        "upkeep",
        &[(
            ".upkeep.toml",
            "skip = true\nreason = \"frozen until the migration\"\n",
        )],
    );
    repo(&repos, "plain", "upkeep", &[]);
    let text = "state_dir = \"state\"\n[maintain]\nlabels = [\"maintenance\"]\n[[maintain.discover]]\ndirectory = \"repos\"\ntopics = [\"upkeep\"]\n";
    let maintain = config(state.path(), text);
    let forge = Arc::new(LocalForge::new(state.path().join("forge")));
    let set = resolve(&maintain, &listers(&maintain, &forge))
        .await
        .unwrap();
    let applied = set.apply(&maintain).unwrap();
    let as_forge: Arc<dyn Forge> = forge.clone();
    let transcript = crate::support::Transcript::default();
    let round = Round {
        id: "2026-11-22".to_owned(),
        date: date(),
        projects: World::setups(&applied, &as_forge),
        config: Arc::new(applied),
        excluded: Vec::new(),
        shard: None,
        help_other_shards: false,
        jobs: NonZeroUsize::new(2).unwrap(),
        dry_run: false,
        retry_failed: false,
        state: crate::support::state_in(state.path()),
        chat: Arc::new(ConsoleChat::new(transcript, ConsoleFormat::Text)) as Arc<dyn ChatThreads>,
        progress: Arc::new(NoProgress),
        cancel: CancellationToken::new(),
        author: upkeep_git::Author::new("upkeep", "upkeep@example.com"),
    };
    let report = upkeep_maintain::run_round(round).await.unwrap();
    let row = |n: &str| report.projects.iter().find(|p| p.name == n).unwrap();

    // The repository's test command ran instead of `make test`.
    assert_eq!(row("api").status, Status::Changed, "{:?}", row("api"));
    let test_log = upkeep_maintain::log_path(&maintain.paths.logs, "2026-11-22", "api", "test");
    let log = fs_err::read_to_string(&test_log).unwrap();
    assert!(log.contains("repo-level test"), "{log}");
    assert!(!log.contains("3 passed"), "{log}");
    // Its labels were added to the central ones on the change request.
    let cr = forge
        .find_open_change_request(
            &upkeep_forge::RepoId::new(repos.join("api.git").display().to_string()),
            crate::support::BRANCH,
        )
        .await
        .unwrap()
        .expect("api has a change request");
    assert!(
        cr.labels.contains(&"api-team".to_owned()),
        "{:?}",
        cr.labels
    );
    assert!(
        cr.labels.contains(&"maintenance".to_owned()),
        "{:?}",
        cr.labels
    );

    // The invalid file fails that project at `config`, with file, line and key.
    let broken = row("broken");
    assert_eq!(broken.status, Status::Failed);
    let failure = broken.failure.as_ref().unwrap();
    assert_eq!(failure.stage, FailedStage::Config);
    assert!(
        failure.message.contains("broken@main:.upkeep.toml:3:"),
        "{}",
        failure.message
    );
    assert!(
        failure.message.contains("steps.test.timeout"),
        "{}",
        failure.message
    );

    // Skipped with its reason; the others ran as usual.
    assert_eq!(row("resting").status, Status::Skipped);
    assert!(
        row("resting")
            .skip_reason
            .as_deref()
            .is_some_and(|r| r.contains("frozen until the migration")),
        "{:?}",
        row("resting").skip_reason
    );
    assert_eq!(row("plain").status, Status::Changed);
    let plain_log = fs_err::read_to_string(upkeep_maintain::log_path(
        &maintain.paths.logs,
        "2026-11-22",
        "plain",
        "test",
    ))
    .unwrap();
    assert!(plain_log.contains("3 passed"), "{plain_log}");
}

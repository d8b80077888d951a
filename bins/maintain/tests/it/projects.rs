//! `maintain projects`, and `run`/`doctor` over discovered projects: a directory of bare
//! repositories found by a `[[maintain.discover]]` rule.

use std::fmt::Write as _;
use std::path::Path;

use upkeep_testkit::bare::BareRepo;
use upkeep_testkit::git::Clock;

use crate::support::{BUMP, REQUIREMENTS, filters, maintain, run, stderr, stdout};

fn makefile(targets: &[&str]) -> String {
    let mut text = format!(".PHONY: {}\n", targets.join(" "));
    for t in targets {
        let recipe = if *t == "upgrade" { BUMP } else { "echo ok" };
        let _ = write!(text, "{t}:\n\t{recipe}\n");
    }
    text
}

fn repo(dir: &Path, name: &str, topics: &str, files: &[(&str, &str)]) {
    let bare = BareRepo::init(dir.join(format!("{name}.git")), Clock::default());
    let mut all = vec![("requirements.txt", REQUIREMENTS)];
    all.extend_from_slice(files);
    bare.commit_files("main", &all, "initial");
    let git_dir = bare.path().display().to_string();
    if !topics.is_empty() {
        upkeep_testkit::git::git(
            bare.path(),
            &["--git-dir", &git_dir, "config", "upkeep.topics", topics],
        );
    }
}

/// `repos/` with four services wearing `upkeep` (one overriding its test step, one
/// without a `test` target), an archived one and one without the topic; a listed
/// project outside it.
fn world() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let repos = dir.path().join("repos");
    let full = makefile(&["upgrade", "build", "test"]);
    repo(&repos, "api", "upkeep python", &[("Makefile", &full)]);
    repo(
        &repos,
        "web",
        "upkeep",
        &[
            ("Makefile", &format!("{full}test-fast:\n\techo fast\n")),
            (
                ".upkeep.toml",
                "[steps.test]\ncommand = \"make test-fast\"\ntimeout = \"10m\"\n",
            ),
        ],
    );
    repo(
        &repos,
        "worker",
        "upkeep",
        &[("Makefile", &makefile(&["upgrade", "build"]))],
    );
    repo(&repos, "old", "upkeep", &[("Makefile", &full)]);
    let old = repos.join("old.git").display().to_string();
    upkeep_testkit::git::git(
        &repos,
        &["--git-dir", &old, "config", "upkeep.archived", "true"],
    );
    repo(&repos, "notes", "docs", &[("Makefile", &full)]);
    repo(dir.path(), "billing", "", &[("Makefile", &full)]);
    fs_err::write(
        dir.path().join("upkeep.toml"),
        "[maintain]\n\n[[maintain.projects]]\nname = \"billing\"\nrepo = \"billing.git\"\n\n\
         [[maintain.discover]]\nname = \"services\"\ndirectory = \"repos\"\ntopics = [\"upkeep\"]\n",
    )
    .unwrap();
    dir
}

fn cmd(dir: &Path, args: &[&str]) -> std::process::Command {
    let mut c = maintain();
    c.current_dir(dir)
        .arg("--config")
        .arg(dir.join("upkeep.toml"))
        .args(args);
    c
}

#[test]
fn projects_shows_where_each_came_from_its_steps_and_what_was_left_out() {
    let dir = world();
    let out = run(cmd(dir.path(), &["projects", "--round", "2026-11-22"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    filters(dir.path()).bind(|| insta::assert_snapshot!("projects_text", text));

    let out = run(cmd(
        dir.path(),
        &["projects", "--round", "2026-11-22", "--output", "json"],
    ));
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["round"], "2026-11-22");
    assert_eq!(doc["source"], "resolved");
    let names = project_names(&doc);
    assert_eq!(names, ["billing", "api", "web", "worker"]);
    assert_eq!(doc["projects"][0]["origin"]["kind"], "listed");
    assert_eq!(doc["projects"][1]["origin"]["kind"], "discovered");
    assert_eq!(doc["projects"][1]["origin"]["rule"], "services");
    assert_eq!(
        doc["projects"][2]["steps"]["test"]["command"],
        "make test-fast"
    );
    assert_eq!(doc["projects"][2]["steps"]["test"]["timeout"], "10m");
    assert_eq!(doc["projects"][2]["repo_settings"]["state"], "applied");
    let left: Vec<(&str, &str)> = doc["left_out"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["repo"].as_str().unwrap(), l["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(left, [("notes", "no_topic"), ("old", "archived")]);
    // Showing the set records nothing: the round lists again when it starts.
    assert!(
        !dir.path()
            .join(".upkeep/state/rounds/2026-11-22/set")
            .exists()
    );
}

#[test]
fn a_round_records_its_set_and_a_re_run_keeps_it() {
    let dir = world();
    let out = run(cmd(
        dir.path(),
        &["run", "--round", "2026-11-22", "--output", "json"],
    ));
    // `worker` has no `test` target: it fails, the others pass.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let status = |n: &str| {
        doc["projects"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == n)
            .map(|p| p["status"].as_str().unwrap().to_owned())
    };
    assert_eq!(status("api").as_deref(), Some("changed"));
    assert_eq!(status("web").as_deref(), Some("changed"));
    assert_eq!(status("worker").as_deref(), Some("failed"));
    let log = fs_err::read_to_string(dir.path().join(".upkeep/logs/2026-11-22/web/test.log"))
        .unwrap_or_default();
    assert!(log.contains("fast"), "web ran its own test step: {log}");
    let record = dir.path().join(".upkeep/state/rounds/2026-11-22/set");
    assert!(record.is_file());

    // A new repository wearing the topic: this round keeps its set, the next finds it.
    repo(
        &dir.path().join("repos"),
        "late",
        "upkeep",
        &[("Makefile", &makefile(&["upgrade", "build", "test"]))],
    );
    let out = run(cmd(
        dir.path(),
        &["projects", "--round", "2026-11-22", "--output", "json"],
    ));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["source"], "recorded");
    assert!(!out.stdout.windows(6).any(|w| w == b"\"late\""));
    let out = run(cmd(
        dir.path(),
        &["projects", "--round", "2026-11-29", "--output", "json"],
    ));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        doc["projects"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "late")
    );
}

#[test]
fn doctor_names_discovered_repos_that_break_the_convention() {
    let dir = world();
    let out = run(cmd(dir.path(), &["doctor"]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    let worker = text.split("\nworker\n").nth(1).expect("a worker block");
    assert!(
        worker.contains("FAIL  convention: the Makefile on main has no target test (wears upkeep)"),
        "{text}"
    );
    assert!(worker.contains("fix: add the target test"), "{text}");
    let web = text.split("\nweb\n").nth(1).unwrap();
    assert!(
        web.contains("ok    convention: Makefile on main has upgrade, build, test-fast"),
        "{text}"
    );
}

#[test]
fn a_github_rule_without_a_token_is_a_user_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    fs_err::write(
        dir.path().join("upkeep.toml"),
        "[maintain]\n[[maintain.discover]]\ngithub_org = \"acme\"\n",
    )
    .unwrap();
    let mut c = cmd(dir.path(), &["projects"]);
    c.env_remove("GITHUB_TOKEN");
    let out = run(c);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("discover rule `github-org-acme`"), "{err}");
    assert!(err.contains("GITHUB_TOKEN"), "{err}");
    assert!(err.contains("hint:"), "{err}");
}

/// `acme` on `FakeGitHub`: 120 repositories (two pages of 100) listed through octocrab;
/// topics, an include and an exclude glob, an archived repository, a fork and an empty
/// one; one repository's `.upkeep.toml` read through the contents API.
async fn github_org_world() -> (upkeep_testkit::github::FakeGitHub, tempfile::TempDir) {
    use upkeep_testkit::github::{FakeGitHub, RepoMeta};
    upkeep_testkit::install_crypto_provider();
    let fake = FakeGitHub::start().await;
    fake.require_token(GITHUB_TOKEN);
    for i in 0..112 {
        fake.create_repo(&format!("acme/svc-{i:03}"));
    }
    let upkeep = |extra: RepoMeta| RepoMeta {
        topics: vec!["upkeep".into()],
        ..extra
    };
    fake.create_listed_repo("acme/svc-api", upkeep(RepoMeta::default()));
    fake.create_listed_repo("acme/svc-web", upkeep(RepoMeta::default()));
    fake.create_listed_repo("acme/svc-legacy", upkeep(RepoMeta::default()));
    fake.create_listed_repo("acme/tools", upkeep(RepoMeta::default()));
    fake.create_listed_repo(
        "acme/svc-old",
        upkeep(RepoMeta {
            archived: true,
            ..RepoMeta::default()
        }),
    );
    fake.create_listed_repo(
        "acme/svc-copy",
        upkeep(RepoMeta {
            fork: true,
            ..RepoMeta::default()
        }),
    );
    fake.create_listed_repo(
        "acme/svc-new",
        upkeep(RepoMeta {
            empty: true,
            ..RepoMeta::default()
        }),
    );
    fake.create_repo("other/svc-outside");
    fake.bare("acme/svc-web").commit_files(
        "main",
        &[(".upkeep.toml", "[steps.build]\ncommand = \"make images\"\n")],
        "settings",
    );
    let dir = tempfile::tempdir().unwrap();
    fs_err::write(
        dir.path().join("upkeep.toml"),
        format!(
            "[maintain]\n[[maintain.discover]]\ngithub_org = \"acme\"\napi_url = \"{}\"\n\
             topics = [\"upkeep\"]\ninclude = [\"acme/svc-*\"]\nexclude = [\"*-legacy\"]\n",
            fake.url()
        ),
    )
    .unwrap();
    (fake, dir)
}

const GITHUB_TOKEN: &str = "ghp_fakeDISCOVERtoken0123456789";

async fn projects_on(dir: &Path, args: &[&str]) -> std::process::Output {
    let dir = dir.to_owned();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut c = cmd(&dir, &args);
        c.env("GITHUB_TOKEN", GITHUB_TOKEN);
        run(c)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projects_lists_a_github_org_across_pages_as_json() {
    use upkeep_testkit::faults::Endpoint;
    let (fake, dir) = github_org_world().await;
    let out = projects_on(dir.path(), &["projects", "--output", "json"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names = project_names(&doc);
    // GitHub's order: newest first (`sort=created`, `direction` desc by default).
    assert_eq!(names, ["svc-web", "svc-api"]);
    let web = &doc["projects"][0];
    assert_eq!(web["forge"], "github");
    assert_eq!(web["origin"]["rule"], "github-org-acme");
    assert_eq!(web["repo"], format!("{}/acme/svc-web.git", fake.url()));
    assert_eq!(web["repo_settings"]["state"], "applied");
    assert_eq!(web["steps"]["build"]["command"], "make images");
    let left: Vec<(&str, &str)> = doc["left_out"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["repo"].as_str().unwrap(), l["reason"].as_str().unwrap()))
        .collect();
    // 112 without the topic, the legacy one by glob, tools by include, and three flags.
    assert_eq!(left.len(), 112 + 5, "{left:?}");
    assert_eq!(left.iter().filter(|(_, r)| *r == "no_topic").count(), 112);
    for (name, reason) in [
        ("acme/svc-old", "archived"),
        ("acme/svc-copy", "fork"),
        ("acme/svc-new", "empty"),
        ("acme/svc-legacy", "excluded"),
        ("acme/tools", "not_included"),
    ] {
        assert!(left.contains(&(name, reason)), "{name}: {left:?}");
    }
    let log = fake.faults().log();
    assert_eq!(log.count(&Endpoint::get("/orgs/{org}/repos")), 1);
    assert_eq!(
        log.count(&Endpoint::get("/organizations/{id}/repos")),
        1,
        "the second page through the Link header"
    );
    // The token never reaches the output.
    assert!(!stdout(&out).contains(GITHUB_TOKEN) && !stderr(&out).contains(GITHUB_TOKEN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projects_lists_a_github_org_as_text() {
    let (fake, dir) = github_org_world().await;
    let out = projects_on(dir.path(), &["projects", "--round", "2026-12-04"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out).replace(&fake.url(), "[GITHUB]");
    // The 112 repositories without the topic, one line each, are counted, not snapshotted.
    assert_eq!(text.matches("no topic upkeep").count(), 112, "{text}");
    let mut kept = String::new();
    for line in text.lines().filter(|l| !l.ends_with("no topic upkeep")) {
        kept.push_str(line);
        kept.push('\n');
    }
    let text = kept;
    filters(dir.path()).bind(|| insta::assert_snapshot!("projects_github_text", text));
}

/// A GitLab group with a subgroup and more than a hundred projects (two pages), listed
/// through the `gitlab` crate against `FakeGitLab`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projects_lists_a_gitlab_group_across_pages() {
    use upkeep_testkit::gitlab::{FakeGitLab, TOKEN};
    upkeep_testkit::install_crypto_provider();
    let fake = FakeGitLab::start().await;
    for i in 0..100 {
        fake.create_project(&format!("team/svc-{i:03}"));
    }
    for name in ["etl", "old", "copy"] {
        fake.create_project(&format!("team/data/{name}"));
        fake.set_topics(&format!("team/data/{name}"), &["upkeep"]);
    }
    fake.set_topics("team/svc-042", &["upkeep", "python"]);
    fake.set_archived("team/data/old", true);
    fake.set_forked_from("team/data/copy", "team/data/etl");
    fake.bare("team/data/etl").commit_files(
        "main",
        &[(".upkeep.toml", "[steps.build]\ncommand = \"make images\"\n")],
        "settings",
    );
    let dir = tempfile::tempdir().unwrap();
    fs_err::write(
        dir.path().join("upkeep.toml"),
        format!(
            "[maintain]\n[[maintain.discover]]\ngitlab_group = \"team\"\napi_url = \"{}\"\n\
             clone_url = \"http://127.0.0.1:9/{{path}}.git\"\ntopics = [\"upkeep\"]\n",
            fake.base_url()
        ),
    )
    .unwrap();
    let out = tokio::task::spawn_blocking({
        let dir = dir.path().to_owned();
        move || {
            let mut c = cmd(&dir, &["projects", "--output", "json"]);
            c.env("GITLAB_TOKEN", TOKEN);
            run(c)
        }
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names = project_names(&doc);
    assert_eq!(names, ["etl", "svc-042"]);
    let etl = &doc["projects"][0];
    assert_eq!(etl["forge"], "gitlab");
    assert_eq!(etl["origin"]["rule"], "gitlab-group-team");
    assert_eq!(etl["repo"], "http://127.0.0.1:9/team/data/etl.git");
    assert_eq!(etl["repo_settings"]["state"], "applied");
    assert_eq!(etl["steps"]["build"]["command"], "make images");
    let reasons: Vec<&str> = doc["left_out"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons.len(), 101);
    assert_eq!(reasons.iter().filter(|r| **r == "no_topic").count(), 99);
    assert!(reasons.contains(&"archived") && reasons.contains(&"fork"));
    // The token never reaches the output.
    assert!(!stdout(&out).contains(TOKEN) && !stderr(&out).contains(TOKEN));
}

/// The names of the projects in `maintain projects --output json`, in its order.
fn project_names(doc: &serde_json::Value) -> Vec<&str> {
    doc["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect()
}

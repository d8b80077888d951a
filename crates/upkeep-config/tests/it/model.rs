//! What a loaded configuration contains: defaults, per-project resolution, remotes,
//! dependency order, paths.

use std::path::Path;
use std::time::Duration;

use upkeep_config::{ChatKind, ForgeKind, Placeholder, SentryWindow};

use crate::{load, load_with};

#[test]
fn defaults_fill_an_almost_empty_file() {
    let c = load("[maintain]\n[branches]\n").unwrap();
    assert_eq!(c.state_dir, Path::new("/cfg/.upkeep"));
    assert_eq!(c.base_dir, Path::new("/cfg"));
    let m = c.maintain().unwrap();
    assert_eq!(m.base_branch, "main");
    assert_eq!(m.steps.upgrade.command, "make upgrade");
    assert_eq!(m.steps.build.command, "make build");
    assert_eq!(m.steps.test.command, "make test");
    assert_eq!(m.steps.upgrade.timeout.get(), Duration::from_mins(30));
    let d = chrono::NaiveDate::from_ymd_opt(2025, 3, 14).unwrap();
    assert_eq!(m.branch.render(d), "feature/maintenance-25-03-14");
    assert_eq!(m.chat.kind, ChatKind::Console);
    assert_eq!(m.chat.reactions.skip, "x");
    assert_eq!(m.paths.cache, Path::new("/cfg/.upkeep/cache/maintain"));
    assert_eq!(m.paths.logs, Path::new("/cfg/.upkeep/logs"));
    assert_eq!(c.state.dir, Path::new("/cfg/.upkeep/state"));
    assert!(c.state.repo.is_none() && c.state.remote.is_none());
    assert_eq!(c.state.lease.get(), Duration::from_mins(10));
    let b = c.branches().unwrap();
    assert_eq!((b.source.as_str(), b.target.as_str()), ("main", "stable"));
    assert_eq!(b.cache, Path::new("/cfg/.upkeep/cache/branches"));
    assert_ne!(
        b.cache, m.paths.cache,
        "maintain and move-branches must not share clones"
    );
    assert!(b.ci.target_commits);
    assert!(b.sentry.is_none());
    assert!(c.lock().is_err());
    assert!(
        c.lock()
            .unwrap_err()
            .to_string()
            .contains("no [lock] section")
    );
}

#[test]
fn projects_resolve_overrides_over_defaults() {
    let c = load(
        r#"
state_dir = "/var/lib/upkeep"

[maintain]
labels = ["maintenance"]
reviewers = ["alice"]
env = { CI = "1", LEVEL = "global" }
paths.logs = "logs"

[maintain.steps.test]
command = "make check"
timeout = "20m"

[[maintain.projects]]
name = "api"
repo = "git@github.com:example/api.git"
base_branch = "develop"
labels = ["backend", "maintenance"]
env = { LEVEL = "project" }
draft = true
steps.build = { timeout = "2h" }
steps.test.command = "make test-all"

[[maintain.projects]]
name = "web"
repo = "https://gitlab.example.org/team/web"
"#,
    )
    .unwrap();
    let m = c.maintain().unwrap();
    let api = m.resolve(m.project("api").unwrap());
    assert_eq!(api.base_branch, "develop");
    assert_eq!(api.build.command, "make build");
    assert_eq!(api.build.timeout.get(), Duration::from_hours(2));
    assert_eq!(api.test.command, "make test-all");
    assert_eq!(api.test.timeout.get(), Duration::from_mins(20));
    assert_eq!(api.labels, ["maintenance", "backend"]);
    assert_eq!(api.reviewers, ["alice"]);
    assert_eq!(api.env["LEVEL"], "project");
    assert_eq!(api.env["CI"], "1");
    assert!(api.draft);
    assert_eq!(api.remote.kind, ForgeKind::Github);
    assert_eq!((api.remote.owner(), api.remote.name()), ("example", "api"));
    let web = m.resolve(m.project("web").unwrap());
    assert_eq!(web.base_branch, "main");
    assert_eq!(web.test.command, "make check");
    assert!(!web.draft);
    assert_eq!(web.remote.kind, ForgeKind::Gitlab);
    assert_eq!(
        web.remote.api_url.as_deref(),
        Some("https://gitlab.example.org")
    );
    assert_eq!(m.paths.logs, Path::new("/cfg/logs"));
    assert_eq!(m.paths.cache, Path::new("/var/lib/upkeep/cache/maintain"));
}

#[test]
fn templates_are_checked_and_rendered() {
    let c = load("[maintain]\npr_title = \"Upkeep {date} for {project}\"\n").unwrap();
    let title = c.maintain().unwrap().pr_title.render(|p| match p {
        Placeholder::Date => "2025-03-14".into(),
        Placeholder::Project => "api".into(),
        _ => String::new(),
    });
    assert_eq!(title, "Upkeep 2025-03-14 for api");
    let e = load("[maintain]\npr_title = \"Upkeep {dat}\"\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("did you mean `{date}`"), "{e}");
    assert!(e.contains("upkeep.toml:2:12"), "{e}");
}

#[test]
fn branches_are_ordered_by_dependencies_then_file_order() {
    let c = load(
        r#"
[branches]
ci.target_commits = false

[[branches.repos]]
name = "packit-service"
repo = "https://github.com/packit/packit-service"
depends_on = ["packit", "ogr"]

[[branches.repos]]
name = "packit"
repo = "https://github.com/packit/packit"
depends_on = ["ogr", "specfile"]
target = "production"

[[branches.repos]]
name = "ogr"
repo = "https://github.com/packit/ogr"

[[branches.repos]]
name = "specfile"
repo = "https://github.com/packit/specfile"

[[branches.repos]]
name = "dashboard"
repo = "../repos/dashboard.git"
"#,
    )
    .unwrap();
    let b = c.branches().unwrap();
    let order: Vec<&str> = b
        .topological_order()
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(
        order,
        ["ogr", "specfile", "packit", "packit-service", "dashboard"]
    );
    let packit = b.repo("packit").unwrap();
    assert_eq!(b.target_of(packit), "production");
    assert_eq!(b.source_of(packit), "main");
    let dash = b.repo("dashboard").unwrap();
    assert_eq!(dash.remote.kind, ForgeKind::Local);
    assert_eq!(dash.remote.url, "/cfg/../repos/dashboard.git");
    assert!(!b.ci.target_commits);
}

#[test]
fn sentry_gate_and_lock_settings() {
    let c = load(
        r#"
[branches.sentry]
org = "packit"
projects = ["packit-service", "dashboard"]
threshold = 2
window = "24h"

[branches.deploy_token]
mode = "verify"

[lock]
repo = "git@gitlab.com:team/deploy-state.git"
lease = "2h"

[[lock.preflight]]
name = "Kingfisher is idle"
command = "./check-kingfisher"
"#,
    )
    .unwrap();
    let s = c.branches().unwrap().sentry.as_ref().unwrap();
    assert_eq!(s.url, "https://sentry.io");
    assert_eq!(s.environment, "stage");
    assert_eq!(s.threshold, 2);
    assert_eq!(s.window, SentryWindow::Last("24h".parse().unwrap()));
    let l = c.lock().unwrap();
    assert_eq!(l.ref_name(), "refs/upkeep/locks/deploy");
    assert_eq!(l.lease.get(), Duration::from_hours(2));
    assert_eq!(l.preflight[0].timeout.get(), Duration::from_mins(2));
    assert_eq!(l.cache, Path::new("/cfg/.upkeep/lock"));
    assert_eq!(l.remote.kind, ForgeKind::Gitlab);
}

#[test]
fn deploy_token_requires_a_lock_section() {
    let e = load("[branches.deploy_token]\nmode = \"acquire\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no [lock] section") && e.contains("upkeep.toml:2:8"),
        "{e}"
    );
}

#[test]
fn load_reads_files_and_names_missing_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("upkeep.toml");
    let e = upkeep_config::Config::load(&path, crate::NO_ENV).unwrap_err();
    assert!(matches!(e, upkeep_config::Error::Read { .. }));
    assert!(e.to_string().contains("upkeep.toml"));
    fs_err::write(&path, "[lock]\nrepo = \"state.git\"\n").unwrap();
    let c = upkeep_config::Config::load(&path, crate::NO_ENV).unwrap();
    assert_eq!(
        c.lock().unwrap().remote.url,
        dir.path().join("state.git").to_string_lossy()
    );
}

#[test]
fn locate_prefers_the_flag_then_upkeep_config_then_the_default() {
    use upkeep_config::Config;
    let env = [("UPKEEP_CONFIG", "/etc/upkeep.toml")];
    assert_eq!(
        Config::locate(Some(Path::new("x.toml")), env),
        Path::new("x.toml")
    );
    assert_eq!(Config::locate(None, env), Path::new("/etc/upkeep.toml"));
    assert_eq!(
        Config::locate(None, crate::NO_ENV),
        Path::new("upkeep.toml")
    );
}

#[test]
fn slack_approval_defaults_and_env_overrides() {
    let c = load_with(
        r##"
[branches.approval.slack]
channel = "#releases"
approvers = ["U0ANN", "W0BOB"]
"##,
        &[("UPKEEP_BRANCHES__APPROVAL__SLACK__POLL_INTERVAL", "50ms")],
    )
    .unwrap();
    let a = c.branches().unwrap().approval.slack.as_ref().unwrap();
    assert_eq!(a.channel, "#releases");
    assert!(a.approver_groups.is_empty());
    assert_eq!(a.wait.get(), Duration::from_hours(4));
    assert_eq!(a.poll_interval.get(), Duration::from_millis(50));
    assert_eq!(a.replan_interval.get(), Duration::from_mins(2));
    assert_eq!(a.approve_reactions, ["white_check_mark"]);
    assert_eq!(a.reject_reactions, ["x"]);
    assert_eq!(
        load("[branches]\n")
            .unwrap()
            .branches()
            .unwrap()
            .approval
            .slack,
        None
    );
}

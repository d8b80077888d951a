//! Reports where people look (issue 16.4–16.7): `run --output markdown` for a CI job
//! summary, `status --output html` checked in headless Chromium, `status` of a round that
//! never ran, a `repo` path without a repository, `doctor` going on past a project it
//! cannot set up, and each command's `--help`.

use std::fmt::Write as _;
use std::time::Duration;

use upkeep_testkit::browser::{self, Dom, Element};

use crate::support::{Project, Setup, maintain, run, stderr, stdout};

/// What the failing project's `make test` prints: markup that must stay text.
const HOSTILE: &str = "</pre><script>alert(1)</script> <img src=x onerror=alert(2)> | **x**";

fn ok_and_broken() -> Setup {
    let mut broken = Project::green("broken");
    broken.test = "printf '%s\\n' 'FAILED test_query' '</pre><script>alert(1)</script> <img src=x onerror=alert(2)> | **x**'; exit 1";
    Setup::new(&[Project::green("ok"), broken])
}

#[test]
fn run_prints_a_markdown_report_for_the_job_summary() {
    let setup = ok_and_broken();
    let out = run(setup.maintain(&["run", "--round", "2026-11-22", "--output", "markdown"]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let md = stdout(&out);
    assert!(md.starts_with("## Maintenance round 2026-11-22\n"), "{md}");
    assert!(md.contains("1 changed, 1 failed"), "{md}");
    assert!(
        md.contains("| ok | changed | done | [\\#1](file://"),
        "{md}"
    );
    assert!(md.contains("| broken | **failed** | test ✗ |"), "{md}");
    assert!(md.contains("- `django` 4.2.16 → 5.1.4: ok"), "{md}");
    assert!(md.contains("**test\\: exit code 2**"), "{md}");
    assert!(
        md.contains("- **broken**: \\`make test\\` exited with 2 — after `django` 4.2.16 → 5.1.4 (major, direct)"),
        "{md}"
    );
    // The log tail, as written, inside a fenced block inside a fold.
    assert!(
        md.contains("<details><summary>broken: the last lines of the log</summary>"),
        "{md}"
    );
    assert!(md.contains(&format!("  {HOSTILE}\n")), "{md}");
    // stdout is the document only: the console chat went to stderr.
    assert!(!md.contains("== #maintenance"), "{md}");
    assert!(stderr(&out).contains("== #maintenance"), "{}", stderr(&out));
}

fn cell<'a>(row: &'a Element, stage: &str) -> &'a Element {
    row.find(|e| e.tag == "td" && e.attr("data-stage") == Some(stage))
        .unwrap_or_else(|| panic!("no {stage} cell"))
}

#[test]
fn status_html_of_a_real_round_in_a_real_browser() {
    let setup = ok_and_broken();
    let out = run(setup.maintain(&["run", "--round", "2026-11-22"]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let out = run(setup.maintain(&["status", "--round", "2026-11-22", "--output", "html"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let page = stdout(&out);
    assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
    // Self-contained: nothing to fetch.
    for reference in ["src=\"", "<link", "<script", "@import", "url("] {
        assert!(!page.contains(reference), "{reference} in the page");
    }
    let Some(chromium) = browser::chromium("status_html_of_a_real_round_in_a_real_browser") else {
        return;
    };
    let file = setup.dir.path().join("board.html");
    fs_err::write(&file, &page).unwrap();
    let dom = Dom::parse(&browser::dump_dom(&chromium, &file, Duration::from_mins(2)));
    let body = dom.body();
    for tag in ["script", "img"] {
        assert!(dom.root.by_tag(tag).is_empty(), "a <{tag}> element got in");
    }
    assert_eq!(body.by_id("counts").unwrap().text(), "1 changed, 1 failed");

    let ok = body.by_id("project-ok").unwrap();
    assert_eq!(ok.attr("data-status"), Some("changed"));
    for stage in ["upgrade", "build", "test"] {
        assert_eq!(cell(ok, stage).text(), "✓", "{stage}");
    }
    let link = &cell(ok, "change request").by_tag("a")[0];
    assert_eq!(link.text(), "#1");
    let expected = format!(
        "file://{}.upkeep/change-requests/1.json",
        setup.fixture("ok").url()
    );
    assert_eq!(link.attr("href"), Some(expected.as_str()));
    assert!(cell(ok, "change request").text().contains("open"));
    let breaking = ok.find(|e| e.has_class("breaking")).unwrap().text();
    assert!(breaking.contains("django 4.2.16 → 5.1.4"), "{breaking}");

    let broken = body.by_id("project-broken").unwrap();
    assert_eq!(cell(broken, "build").text(), "✓");
    assert_eq!(cell(broken, "test").text(), "✗");
    assert!(cell(broken, "test").has_class("failed"));
    let failure = body.by_id("failure-broken").unwrap();
    let log = failure.find(|e| e.tag == "pre").unwrap().text();
    assert!(log.contains("FAILED test_query"), "{log}");
    assert!(log.contains(HOSTILE), "{log}");
    assert!(failure.text().contains("django"), "{}", failure.text());

    // The same board as Markdown.
    let out = run(setup.maintain(&["status", "--round", "2026-11-22", "--output", "markdown"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let md = stdout(&out);
    assert!(
        md.starts_with("## Maintenance round 2026-11-22: board"),
        "{md}"
    );
    assert!(
        md.contains("| broken | **failed** | upgrade ✓ build ✓ test ✗ |"),
        "{md}"
    );
}

#[test]
fn status_of_a_round_that_never_ran_says_so_and_exits_2() {
    let setup = Setup::new(&[Project::green("signals")]);
    for command in ["status", "sync"] {
        let out = run(setup.maintain(&[command, "--round", "2020-01-01"]));
        assert_eq!(out.status.code(), Some(2), "{command}: {}", stdout(&out));
        let err = stderr(&out);
        assert!(
            err.starts_with(
                "error: round `2020-01-01` never ran: no journal of it, no change request on `feature/maintenance-20-01-01` and no project message in the channel\n"
            ),
            "{command}: {err}"
        );
        assert!(err.contains("hint: pass --round"), "{err}");
        assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    }
}

#[test]
fn a_repo_path_without_a_repository_is_a_config_error_and_a_doctor_failure() {
    let setup = Setup::new(&[Project::green("signals"), Project::green("gone")]);
    let gone = setup.fixture("gone").url();
    fs_err::remove_dir_all(&gone).unwrap();

    let out = run(setup.maintain(&["run", "--round", "2026-11-22"]));
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let err = stderr(&out);
    let expected = format!(
        "error: {}: `maintain.projects[1].repo`: project `gone`: no repository at {gone} (the directory does not exist)\n",
        setup.config().display()
    );
    assert!(err.starts_with(&expected), "{err}");
    assert!(err.contains("hint: or leave it out: --skip gone"), "{err}");
    assert!(!err.contains("timed out or killed"), "{err}");
    assert!(setup.journal().is_none(), "nothing ran");
    let out = run(setup.maintain(&["run", "--round", "2026-11-22", "--skip", "gone"]));
    assert!(out.status.success(), "{}", stderr(&out));

    let out = run(setup.maintain(&["doctor", "--output", "json"]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["failed"], 1);
    assert_eq!(json["projects"][0]["name"], "signals");
    assert!(
        json["projects"][0]["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["verdict"] == "ok"),
        "{json:#}"
    );
    let checks = &json["projects"][1]["checks"];
    assert_eq!(json["projects"][1]["name"], "gone");
    assert_eq!(checks.as_array().unwrap().len(), 1, "{json:#}");
    assert_eq!(checks[0]["verdict"], "fail");
    assert_eq!(
        checks[0]["detail"],
        format!("no repository at {gone} (the directory does not exist)")
    );
    assert_eq!(json["setup"][0]["check"], "chat");
}

#[test]
fn doctor_checks_every_project_when_one_forge_cannot_be_set_up() {
    let setup = Setup::new(&[Project::green("signals")]);
    // Two hosted projects doctor cannot set up: GitHub without its token, and a GitLab
    // whose API does not answer (a closed port on loopback).
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut text = fs_err::read_to_string(setup.config()).unwrap();
    let _ = write!(
        text,
        "[[maintain.projects]]\nname = \"api\"\nrepo = \"https://github.com/team/api.git\"\n\
         [[maintain.projects]]\nname = \"billing\"\nrepo = \"https://gitlab.example.com/team/billing.git\"\napi_url = \"http://127.0.0.1:{port}\"\n"
    );
    fs_err::write(setup.config(), text).unwrap();
    let out = run(setup
        .maintain(&["doctor"])
        .env("GITLAB_TOKEN", "glpat-doctor-test-token"));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("ok    make test: target exists"), "{text}");
    assert!(
        text.contains("api\n  FAIL  forge API: project `api` is on github (https://github.com/team/api.git), and GITHUB_TOKEN is not set"),
        "{text}"
    );
    assert!(text.contains("billing\n  FAIL  forge API: "), "{text}");
    assert!(text.contains("2 problem(s) to fix"), "{text}");
    assert!(!text.contains("glpat-doctor-test-token"), "{text}");
}

#[test]
fn each_command_has_its_own_help_and_output_formats() {
    for args in [
        &["status", "--help"][..],
        &["sync", "--help"],
        &["doctor", "--help"],
        &["demo", "--help"],
        &["deps", "diff", "--help"],
    ] {
        let out = run(maintain().args(args));
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        let name = format!("help_{}", args[..args.len() - 1].join("_"));
        insta::assert_snapshot!(name, stdout(&out));
    }
    // The shared token options `maintain` has no use for are not offered.
    for sub in ["run", "status", "sync", "doctor"] {
        let help = stdout(&run(maintain().args([sub, "--help"])));
        assert!(help.contains("--github-token"), "{sub}: {help}");
        assert!(!help.contains("sentry"), "{sub}: {help}");
    }
    let demo = stdout(&run(maintain().args(["demo", "--help"])));
    for token in [
        "--github-token",
        "--gitlab-token",
        "--slack-api-token",
        "Tokens",
    ] {
        assert!(!demo.contains(token), "{demo}");
    }
    // A format a command does not have is refused by the parser, naming the ones it has.
    let out = run(maintain().args(["sync", "--output", "markdown"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("[possible values: text, json]"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn every_subcommand_has_its_man_page_and_every_reference_resolves() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("man1");
    let out = run(maintain().args(["man", "--dir"]).arg(&dir));
    assert!(out.status.success(), "{}", stderr(&out));
    let mut written: Vec<String> = fs_err::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(
        written,
        [
            "maintain-completions.1",
            "maintain-demo.1",
            "maintain-deps-diff.1",
            "maintain-deps.1",
            "maintain-doctor.1",
            "maintain-man.1",
            "maintain-projects.1",
            "maintain-report.1",
            "maintain-run.1",
            "maintain-status.1",
            "maintain-sync.1",
            "maintain.1",
        ]
    );
    assert_eq!(stdout(&out).lines().count(), written.len());
    // `maintain-run(1)` and its siblings, referenced from maintain(1), exist.
    let top = fs_err::read_to_string(dir.join("maintain.1")).unwrap();
    assert!(top.contains("maintain\\-run(1)"), "{top}");
    for file in &written {
        let page = fs_err::read_to_string(dir.join(file)).unwrap();
        for reference in page.split_whitespace().filter(|w| w.ends_with("(1)")) {
            let target = format!(
                "{}.1",
                reference.trim_end_matches("(1)").replace("\\-", "-")
            );
            assert!(written.contains(&target), "{file} refers to {reference}");
        }
    }

    // One page on stdout, named by its subcommand path; it carries that command's own
    // options and `--output` formats.
    let out = run(maintain().args(["man", "status"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let page = stdout(&out);
    assert!(page.contains(".TH maintain-status 1"), "{page}");
    assert!(page.contains("\"maintain 0.1.0\""), "{page}");
    assert!(page.contains("html"), "{page}");
    let out = run(maintain().args(["man", "deps", "diff"]));
    assert!(stdout(&out).contains(".TH maintain-deps-diff 1"));
    let out = run(maintain().args(["man", "round"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with(
            "error: no man page for `round`; there are pages for: run, report, status,"
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_run_on_the_kept_demo_configuration_posts_to_the_demos_channel() {
    let tmp = tempfile::tempdir().unwrap();
    let keep = tmp.path().join("demo");
    let out = run(maintain()
        .args(["demo", "--date", "2026-11-22", "--keep"])
        .arg(&keep));
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = stdout(&out);
    assert!(
        shown.contains("== #team-maintenance · message 1"),
        "{shown}"
    );
    // The next round, run by hand on what the demo kept: the same channel.
    let out = run(maintain().arg("-c").arg(keep.join("upkeep.toml")).args([
        "run",
        "--round",
        "2026-11-23",
        "--only",
        "dashboard",
    ]));
    assert!(out.status.success(), "{}", stderr(&out));
    // With text output the console chat is printed before the report, on stdout.
    let chat = stdout(&out);
    assert!(
        chat.contains("== #team-maintenance · message 1 (summary, round 2026-11-23)"),
        "{chat}"
    );
    assert!(!chat.contains("== #maintenance"), "{chat}");
}

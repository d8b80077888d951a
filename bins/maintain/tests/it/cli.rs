//! Help, the demo, `run` output and exit codes.

use crate::support::{Project, Setup, filters, maintain, run, stderr, stdout};

#[test]
fn help_lists_the_subcommands_and_exit_codes() {
    let out = run(maintain().arg("--help"));
    assert!(out.status.success());
    insta::assert_snapshot!("help", stdout(&out));
    let out = run(maintain().args(["run", "--help"]));
    assert!(out.status.success());
    insta::assert_snapshot!("run_help", stdout(&out));
}

#[test]
fn demo_shows_change_requests_messages_and_report() {
    let tmp = tempfile::tempdir().unwrap();
    let keep = tmp.path().join("demo");
    let out = run(maintain()
        .args(["demo", "--date", "2026-11-22", "--keep"])
        .arg(&keep));
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("| django | 4.2.16 → 5.1.4 | **major (likely breaking)**"),
        "{text}"
    );
    assert!(text.contains("billing failed at `make test`"), "{text}");
    assert!(
        text.contains("billing — `make test` failed (exit code 2) after `sqlalchemy` 1.4.52 → 2.0.36 (major, direct)"),
        "{text}"
    );
    // The summary comes last, once every project ended.
    let channel = text.split("━━ What the team sees").nth(1).unwrap();
    let channel = channel.split("━━ End-of-run report").next().unwrap();
    let last = channel.rfind("== #team-maintenance").unwrap();
    assert!(
        channel[last..].contains("(summary, round 2026-11-22)"),
        "{channel}"
    );
    filters(&keep).bind(|| insta::assert_snapshot!("demo", by_project(&text)));
    // The demo's samples are real repositories: the branch is on the remote.
    let branch = upkeep_testkit::git::read_ref(
        &keep.join("remotes/signals.git"),
        "refs/heads/feature/maintenance-26-11-22",
    );
    assert!(branch.is_some());
}

#[test]
fn run_prints_the_documented_json_and_exits_1_on_failures() {
    let mut broken = Project::green("broken");
    broken.test = "exit 1";
    let setup = Setup::new(&[Project::green("ok"), broken]);
    let out = run(setup.maintain(&["run", "--round", "2026-11-22", "--output", "json"]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["round"], "2026-11-22");
    let ok = &json["projects"][0];
    assert_eq!(ok["name"], "ok");
    assert_eq!(ok["status"], "changed");
    assert_eq!(ok["failed_stage"], serde_json::Value::Null);
    assert_eq!(ok["change_request"]["number"], 1);
    assert!(
        ok["change_request"]["url"]
            .as_str()
            .unwrap()
            .ends_with("1.json")
    );
    assert_eq!(
        ok["upgrades"],
        serde_json::json!({"major": 1, "minor": 1, "patch": 0, "other": 0})
    );
    assert!(ok["duration_ms"].is_u64());
    let keys: Vec<&String> = ok.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "change_request",
            "diff",
            "duration_ms",
            "failed_stage",
            "failure",
            "name",
            "skip_reason",
            "status",
            "upgrades"
        ]
    );
    assert_eq!(ok["diff"]["lockfiles"][0]["path"], "requirements.txt");
    assert_eq!(json["projects"][1]["status"], "failed");
    assert_eq!(json["projects"][1]["failed_stage"], "test");
    // The failed tree's upgrades, although nothing was committed.
    assert_eq!(
        json["projects"][1]["upgrades"],
        serde_json::json!({"major": 1, "minor": 1, "patch": 0, "other": 0})
    );
    assert_eq!(
        json["projects"][1]["diff"]["lockfiles"][0]["changes"][0]["name"],
        "django"
    );
    // stdout is the JSON document only.
    assert!(!stdout(&out).contains("Maintenance round"));
}

#[test]
fn dry_run_shows_the_change_request_and_pushes_nothing() {
    let setup = Setup::new(&[Project::green("signals")]);
    let out = run(setup.maintain(&["run", "--dry-run", "--round", "2026-11-22"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("change request that would be opened for signals"),
        "{text}"
    );
    assert!(text.contains("| django | 4.2.16 → 5.1.4"), "{text}");
    assert!(text.contains("messages that would be posted"), "{text}");
    assert_eq!(setup.change_requests("signals"), 0);
    assert!(
        setup
            .fixture("signals")
            .bare_ref("refs/heads/feature/maintenance-26-11-22")
            .is_none()
    );
    assert!(setup.journal().is_none());
}

#[test]
fn unknown_project_is_a_user_error_naming_the_known_ones() {
    let setup = Setup::new(&[Project::green("signals")]);
    let out = run(setup.maintain(&["run", "--only", "signal"]));
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("did you mean `signals`"), "{err}");
    assert!(err.contains("hint: configured projects: signals"), "{err}");
}

#[test]
fn missing_config_points_at_the_demo() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(maintain().current_dir(tmp.path()).args(["run"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("maintain demo"), "{}", stderr(&out));
}

#[test]
fn tokens_never_reach_output_journal_or_clone_config() {
    let setup = Setup::new(&[Project::green("signals")]);
    let token = "ghp_SECRET_never_print_me_123";
    let out = run(setup
        .maintain(&["-vv", "run", "--round", "2026-11-22"])
        .env("GITHUB_TOKEN", token)
        .env("SLACK_API_TOKEN", token));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains(token));
    assert!(!stderr(&out).contains(token));
    let help = run(setup
        .maintain(&["run", "--help"])
        .env("GITHUB_TOKEN", token));
    assert!(!stdout(&help).contains(token));
    for entry in walk(setup.dir.path()) {
        let bytes = fs_err::read(&entry).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(token),
            "token written to {}",
            entry.display()
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in fs_err::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn status_and_doctor_on_a_finished_round() {
    let setup = Setup::new(&[Project::green("signals")]);
    let out = run(setup.maintain(&["run", "--round", "2026-11-22"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(setup.maintain(&["status", "--round", "2026-11-22", "--output", "json"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let board: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(board["projects"][0]["change_request"]["state"], "open");
    assert_eq!(board["projects"][0]["status"], "changed");

    let out = run(setup.maintain(&["doctor"]));
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("ok    make upgrade: target exists"), "{text}");
    assert!(
        text.contains("Everything a round needs is in place."),
        "{text}"
    );
}

#[test]
fn doctor_names_a_missing_make_target_and_fails() {
    let setup = Setup::new(&[Project::green("signals")]);
    let fx = setup.fixture("signals");
    fx.commit_file(
        "Makefile",
        ".PHONY: build test\nbuild:\n\ttrue\ntest:\n\ttrue\n",
        "no upgrade",
    );
    fx.push_branch("main");
    let out = run(setup.maintain(&["doctor"]));
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("FAIL  make upgrade"), "{text}");
    assert!(
        text.contains("fix: add a `upgrade:` target to the Makefile"),
        "{text}"
    );
}

/// The demo's output with the channel's messages grouped by project in name order and
/// numbered `N`: each project's message is posted when it ends, so their order (and
/// numbers) follow which project ended first, which varies from run to run.
fn by_project(text: &str) -> String {
    let (head, rest) = text.split_once("━━ What the team sees").unwrap();
    let (channel, tail) = rest.split_once("━━ End-of-run report").unwrap();
    let (title, body) = channel.split_once('\n').unwrap();
    // Blocks start at `== ` (a message) or `-- ` (a reaction).
    let mut blocks: Vec<String> = Vec::new();
    for line in body.lines() {
        if line.starts_with("== ") || line.starts_with("-- ") || blocks.is_empty() {
            blocks.push(String::new());
        }
        let block = blocks.last_mut().unwrap();
        block.push_str(line);
        block.push('\n');
    }
    // Which project each message number belongs to.
    let number = |line: &str, after: &str| -> Option<String> {
        let at = line.find(after)? + after.len();
        Some(
            line[at..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect(),
        )
    };
    let mut owner = std::collections::BTreeMap::new();
    for b in &blocks {
        if let (Some(n), Some(p)) = (number(b, "· message "), b.split(" (project ").nth(1)) {
            owner.insert(n, p.split(',').next().unwrap().to_owned());
        }
    }
    let key = |b: &String| -> (String, usize) {
        let project = ["(project ", "(checklist ", "(failure "]
            .iter()
            .find_map(|k| {
                b.split(k)
                    .nth(1)
                    .map(|p| p.split(',').next().unwrap().to_owned())
            })
            .or_else(|| number(b, "to message ").and_then(|n| owner.get(&n).cloned()))
            .unwrap_or_else(|| "~".to_owned());
        let order = ["(project ", "(checklist ", "(failure ", " reacted "]
            .iter()
            .position(|k| b.contains(k))
            .unwrap_or(9);
        (project, order)
    };
    blocks.sort_by_key(key);
    let blocks: Vec<&str> = blocks.iter().map(|b| b.trim_end()).collect();
    let digits = |s: &str| -> String {
        let mut out = String::new();
        let mut rest = s;
        while let Some(i) = rest.find(|c: char| c.is_ascii_digit()) {
            let before = &rest[..i];
            out.push_str(before);
            let n = rest[i..].chars().take_while(char::is_ascii_digit).count();
            if before.ends_with("message ") || before.ends_with("reply ") {
                out.push('N');
            } else {
                out.push_str(&rest[i..i + n]);
            }
            rest = &rest[i + n..];
        }
        out.push_str(rest);
        out
    };
    format!(
        "{head}━━ What the team sees{title}\n{}\n\n━━ End-of-run report{tail}",
        digits(&blocks.join("\n\n"))
    )
}

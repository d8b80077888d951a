//! The scheduling templates and the example configuration are files people copy: check
//! that each parses and has the parts that make it work.

use std::path::{Path, PathBuf};

use serde_yaml_ng::Value;

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_owned()
}

fn yaml(rel: &str) -> Value {
    let path = examples_dir().join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{rel} is not valid YAML: {e}"))
}

fn get<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(v, |v, key| {
        v.get(*key)
            .unwrap_or_else(|| panic!("missing key {key} in {path:?}"))
    })
}

/// Every invocation of our binaries in a template (`maintain --config … <subcommand>`)
/// must name a real subcommand.
fn assert_runs_real_commands(rel: &str, text: &str) {
    let mut found = 0;
    for line in text.lines() {
        for bin in ["maintain", "move-branches"] {
            let needle = format!("{bin} --config ");
            let Some(at) = line.find(&needle) else {
                continue;
            };
            found += 1;
            let mut words = line[at + needle.len()..].split_whitespace();
            let _config_path = words.next();
            let subcommand = words
                .next()
                .unwrap_or_default()
                .trim_matches(|c| c == '\'' || c == '"');
            assert!(
                ["run", "status", "sync", "doctor", "plan"].contains(&subcommand),
                "{rel}: `{}` runs unknown subcommand `{subcommand}`",
                line.trim()
            );
        }
    }
    assert!(
        found > 0,
        "{rel} runs neither maintain nor move-branches with --config"
    );
}

#[test]
fn github_actions_workflow() {
    let rel = "schedules/github-actions.yml";
    let wf = yaml(rel);
    // YAML 1.1 reads a bare `on` as a boolean key; GitHub reads it as the trigger key.
    let on = wf
        .get("on")
        .or_else(|| wf.get(Value::Bool(true)))
        .expect("trigger section");
    let crons = on
        .get("schedule")
        .and_then(Value::as_sequence)
        .expect("on.schedule");
    assert!(!crons.is_empty());
    assert!(get(&wf, &["concurrency", "group"]).as_str().is_some());
    let jobs = get(&wf, &["jobs"]).as_mapping().expect("jobs");
    for (name, job) in jobs {
        let steps = job
            .get("steps")
            .and_then(Value::as_sequence)
            .unwrap_or_else(|| panic!("{name:?} has steps"));
        assert!(
            steps.iter().any(|s| s.get("run").is_some()),
            "{name:?} runs something"
        );
    }
    assert_runs_real_commands(
        rel,
        &std::fs::read_to_string(examples_dir().join(rel)).unwrap(),
    );
}

#[test]
fn gitlab_ci_pipeline() {
    let rel = "schedules/gitlab-ci.yml";
    let ci = yaml(rel);
    for job in ["maintain", "move-branches"] {
        let script = get(&ci, &[job, "script"])
            .as_sequence()
            .expect("script list");
        assert!(!script.is_empty());
        let rules = get(&ci, &[job, "rules"]).as_sequence().expect("rules");
        assert!(rules.iter().any(|r| {
            r.get("if")
                .and_then(Value::as_str)
                .is_some_and(|c| c.contains("schedule"))
        }));
    }
    assert_runs_real_commands(
        rel,
        &std::fs::read_to_string(examples_dir().join(rel)).unwrap(),
    );
}

#[test]
fn kubernetes_cronjob() {
    let rel = "schedules/kubernetes-cronjob.yml";
    let job = yaml(rel);
    assert_eq!(get(&job, &["apiVersion"]).as_str(), Some("batch/v1"));
    assert_eq!(get(&job, &["kind"]).as_str(), Some("CronJob"));
    assert_eq!(
        get(&job, &["spec", "concurrencyPolicy"]).as_str(),
        Some("Forbid")
    );
    let pod = get(&job, &["spec", "jobTemplate", "spec", "template", "spec"]);
    assert_eq!(
        get(pod, &["securityContext", "runAsNonRoot"]).as_bool(),
        Some(true)
    );
    let volumes = get(pod, &["volumes"]).as_sequence().unwrap();
    assert!(
        volumes
            .iter()
            .any(|v| v.get("persistentVolumeClaim").is_some()),
        "state survives runs"
    );
    assert_runs_real_commands(
        rel,
        &std::fs::read_to_string(examples_dir().join(rel)).unwrap(),
    );
}

#[test]
fn systemd_units() {
    let service =
        std::fs::read_to_string(examples_dir().join("schedules/upkeep-maintain.service")).unwrap();
    let timer =
        std::fs::read_to_string(examples_dir().join("schedules/upkeep-maintain.timer")).unwrap();
    let sections = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with('['))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(sections(&service), ["[Unit]", "[Service]"]);
    assert_eq!(sections(&timer), ["[Unit]", "[Timer]", "[Install]"]);
    for line in service.lines().chain(timer.lines()) {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('[') {
            continue;
        }
        assert!(line.contains('='), "not a key=value line: {line}");
    }
    assert!(timer.contains("OnCalendar="));
    assert_runs_real_commands("upkeep-maintain.service", &service);
}

#[test]
fn dockerfile_is_multi_stage_and_non_root() {
    let text = std::fs::read_to_string(examples_dir().join("../Dockerfile")).unwrap();
    assert!(
        text.lines().filter(|l| l.starts_with("FROM ")).count() >= 2,
        "multi-stage"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("USER ") && !l.contains("root")),
        "non-root"
    );
    for bin in ["maintain", "move-branches", "deploy-token"] {
        assert!(
            text.contains(&format!("release/{bin}")),
            "image ships {bin}"
        );
    }
}

mod manifest;
mod promotion;

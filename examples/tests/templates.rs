//! The scheduling templates and the example configuration are files people copy: check
//! that each parses and has the parts that make it work.

use std::path::{Path, PathBuf};

use serde_yaml_ng::Value;

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_owned()
}

fn yaml(rel: &str) -> Value {
    let path = examples_dir().join(rel);
    let text = fs_err::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
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
                ["run", "report", "status", "sync", "doctor", "plan"].contains(&subcommand),
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
    let text = fs_err::read_to_string(examples_dir().join(rel)).unwrap();
    assert_runs_real_commands(rel, &text);
    // `exit 78` is no longer neutral on GitHub Actions: a skipped week must stay green.
    assert!(!text.contains("exit 78"), "{rel}: exit 78 shows red");
    // A matrix of shards, then a report that runs whatever happened to them.
    let maintain = get(&wf, &["jobs", "maintain"]);
    let shards = get(maintain, &["strategy", "matrix", "shard"])
        .as_sequence()
        .expect("a matrix of shards");
    assert!(shards.len() > 1);
    let run = steps_text(maintain);
    assert!(
        run.contains("--shard ${{ matrix.shard }}/") && run.contains("--round"),
        "{run}"
    );
    let report = get(&wf, &["jobs", "report"]);
    let needs = get(report, &["needs"]).as_sequence().expect("needs list");
    assert!(needs.iter().any(|n| n.as_str() == Some("maintain")));
    assert!(
        get(report, &["if"])
            .as_str()
            .is_some_and(|c| c.contains("always()")),
        "the report runs after failed shards too"
    );
    assert!(steps_text(report).contains(" report "));
    // State in the state repository, not in a cache that a failed job does not save.
    assert!(!text.contains("actions/cache"), "{rel}");
    // A job container running as a non-root USER breaks actions/checkout.
    for (name, job) in jobs {
        if let Some(container) = job.get("container").and_then(Value::as_mapping) {
            assert!(
                container
                    .get("options")
                    .and_then(Value::as_str)
                    .is_some_and(|o| o.contains("--user root")),
                "{name:?}: the container must run as root for actions/checkout"
            );
        }
    }
}

/// Every `run:` of a GitHub Actions job, joined.
fn steps_text(job: &Value) -> String {
    get(job, &["steps"])
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|s| s.get("run").and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn image_workflow_builds_and_publishes_the_image_the_templates_use() {
    let rel = "schedules/upkeep-image.yml";
    let wf = yaml(rel);
    let text = fs_err::read_to_string(examples_dir().join(rel)).unwrap();
    assert!(text.contains("docker/build-push-action"), "{rel}");
    assert!(text.contains("push: true"), "{rel}");
    assert_eq!(
        get(&wf, &["permissions", "packages"]).as_str(),
        Some("write")
    );
    let templates =
        fs_err::read_to_string(examples_dir().join("schedules/github-actions.yml")).unwrap();
    assert!(templates.contains("ghcr.io/example/upkeep"));
    assert!(text.contains("ghcr.io/${{ github.repository_owner }}/upkeep"));
    let ignore = fs_err::read_to_string(examples_dir().join("../.dockerignore")).unwrap();
    assert!(
        ignore.lines().any(|l| l.trim() == "target/"),
        ".dockerignore keeps target/ out of the build context"
    );
}

#[test]
fn gitlab_ci_pipeline() {
    let rel = "schedules/gitlab-ci.yml";
    let ci = yaml(rel);
    for job in ["maintain", "report", "move-branches"] {
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
        &fs_err::read_to_string(examples_dir().join(rel)).unwrap(),
    );
    // Shards by `parallel:` (GitLab sets CI_NODE_INDEX/CI_NODE_TOTAL), a report stage
    // after them even when a shard failed, and no cache as the round's state.
    assert!(get(&ci, &["maintain", "parallel"]).as_u64().unwrap_or(0) > 1);
    let stages: Vec<&str> = get(&ci, &["stages"])
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let stage = |job: &str| get(&ci, &[job, "stage"]).as_str().unwrap();
    let position = |job: &str| stages.iter().position(|s| *s == stage(job)).unwrap();
    assert!(position("report") > position("maintain"));
    let report_rules = format!("{:?}", get(&ci, &["report", "rules"]));
    assert!(report_rules.contains("always"), "{report_rules}");
    assert!(ci.get("maintain").unwrap().get("cache").is_none());
}

#[test]
fn kubernetes_cronjob() {
    use serde::Deserialize as _;
    let rel = "schedules/kubernetes-cronjob.yml";
    let text = fs_err::read_to_string(examples_dir().join(rel)).unwrap();
    let docs: Vec<Value> = serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).unwrap_or_else(|e| panic!("{rel}: {e}")))
        .collect();
    assert_eq!(docs.len(), 2, "the shards' CronJob and the report's");
    for job in &docs {
        assert_eq!(get(job, &["apiVersion"]).as_str(), Some("batch/v1"));
        assert_eq!(get(job, &["kind"]).as_str(), Some("CronJob"));
        assert_eq!(
            get(job, &["spec", "concurrencyPolicy"]).as_str(),
            Some("Forbid")
        );
        let pod = get(job, &["spec", "jobTemplate", "spec", "template", "spec"]);
        assert_eq!(
            get(pod, &["securityContext", "runAsNonRoot"]).as_bool(),
            Some(true)
        );
    }
    // The round as an Indexed Job: one shard per completion index.
    let shards = get(&docs[0], &["spec", "jobTemplate", "spec"]);
    assert_eq!(get(shards, &["completionMode"]).as_str(), Some("Indexed"));
    let completions = get(shards, &["completions"]).as_u64().unwrap();
    let env = format!("{:?}", get(shards, &["template", "spec", "containers"]));
    assert!(
        env.contains("UPKEEP_SHARDS") && env.contains(&format!("\"{completions}\"")),
        "UPKEEP_SHARDS matches completions: {env}"
    );
    assert!(text.contains(" report --round"), "the report CronJob");
    assert_runs_real_commands(rel, &text);
}

#[test]
fn systemd_units() {
    let service =
        fs_err::read_to_string(examples_dir().join("schedules/upkeep-maintain.service")).unwrap();
    let timer =
        fs_err::read_to_string(examples_dir().join("schedules/upkeep-maintain.timer")).unwrap();
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
    let text = fs_err::read_to_string(examples_dir().join("../Dockerfile")).unwrap();
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

//! The scheduled promotion templates: the Friday job asks a person (Slack approval),
//! and no scheduled promotion approves blindly with `--yes`.

use serde_yaml_ng::Value;

use super::{assert_runs_real_commands, examples_dir, get, yaml};

#[test]
fn friday_promotion_waits_for_approval_in_slack() {
    let rel = "schedules/github-actions-promotion.yml";
    let wf = yaml(rel);
    let on = wf
        .get("on")
        .or_else(|| wf.get(Value::Bool(true)))
        .expect("trigger section");
    let crons: Vec<&str> = on
        .get("schedule")
        .and_then(Value::as_sequence)
        .expect("on.schedule")
        .iter()
        .filter_map(|c| c.get("cron").and_then(Value::as_str))
        .collect();
    assert_eq!(crons, ["0 9 * * 5"], "Fridays");
    assert_eq!(
        get(&wf, &["concurrency", "cancel-in-progress"]).as_bool(),
        Some(false)
    );
    let job = get(&wf, &["jobs", "move-branches"]);
    // Longer than the 4h approval wait the header configures.
    let timeout = get(job, &["timeout-minutes"]).as_u64().unwrap();
    assert!(
        timeout > 4 * 60,
        "timeout-minutes {timeout} < the approval wait"
    );
    let steps = get(job, &["steps"]).as_sequence().unwrap();
    let step = steps
        .iter()
        .find(|s| s.get("run").is_some())
        .expect("a step runs move-branches");
    let run = get(step, &["run"]).as_str().unwrap();
    assert_eq!(run, "move-branches --config upkeep.toml run --job");
    assert!(get(step, &["env", "SLACK_API_TOKEN"]).is_string());
    let text = fs_err::read_to_string(examples_dir().join(rel)).unwrap();
    assert!(text.contains("[branches.approval.slack]"));
    assert_runs_real_commands(rel, &text);
}

/// `--yes` approves whatever passes the gates; scheduled promotions leave the decision
/// to a person.
#[test]
fn no_scheduled_promotion_approves_blindly() {
    let dir = examples_dir().join("schedules");
    let mut seen = 0;
    for entry in fs_err::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = fs_err::read_to_string(&path).unwrap();
        for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
            if line.contains("move-branches --config") && line.contains(" run") {
                seen += 1;
                assert!(
                    !line.contains("--yes"),
                    "{}: `{}` approves blindly",
                    path.display(),
                    line.trim()
                );
            }
        }
    }
    assert!(seen >= 2, "found {seen} scheduled promotions");
}

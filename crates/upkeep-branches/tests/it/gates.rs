use std::time::Duration;

use upkeep_branches::gates::{
    CiGate, CommandGate, GateContext, GateKind, Gates, Validation, evaluate,
};
use upkeep_branches::{PlanOptions, plan};
use upkeep_forge::CheckState;

use crate::fixture::World;

fn world_with_moves() -> (World, String) {
    let mut w = World::new();
    let a = w.repo("a", &[]);
    w.repo("hello-world", &[]);
    let new = a.commit_on("main", "fix: a").to_string();
    (w, new)
}

fn ci(required: &[&str]) -> Gates {
    Gates {
        ci: CiGate {
            target_commits: true,
            validation: None,
            required_checks: required.iter().map(|s| (*s).to_owned()).collect(),
        },
        sentry: None,
        commands: vec![],
    }
}

async fn run(w: &World, gates: &Gates) -> upkeep_branches::gates::GateReport {
    let specs: Vec<_> = w.specs().into_iter().filter(|s| s.name == "a").collect();
    let p = plan(
        &specs,
        &PlanOptions {
            cache_dir: w.cache(),
            ..PlanOptions::default()
        },
    )
    .await
    .unwrap();
    let ctx = GateContext {
        now: chrono::Utc::now(),
        last_promotion: None,
    };
    evaluate(gates, &p, &specs, &ctx).await
}

#[tokio::test]
async fn ci_green_passes_with_evidence() {
    let (w, sha) = world_with_moves();
    w.check("a", &sha, "build", CheckState::Success).await;
    let r = run(&w, &ci(&[])).await;
    assert!(r.passed(), "{r:?}");
    assert_eq!(r.gates[0].kind, GateKind::Ci);
    assert!(
        r.gates[0].evidence[0].text.contains("build success"),
        "{:?}",
        r.gates[0].evidence
    );
    assert_eq!(
        r.gates[0].evidence[0].url.as_deref(),
        Some("https://ci.example/a/build")
    );
}

#[tokio::test]
async fn ci_failure_fails() {
    let (w, sha) = world_with_moves();
    w.check("a", &sha, "build", CheckState::Success).await;
    w.check("a", &sha, "tests", CheckState::Failure).await;
    let r = run(&w, &ci(&[])).await;
    assert!(!r.passed());
    assert_eq!(r.gates[0].summary, "not green: a failure");
}

#[tokio::test]
async fn ci_missing_and_pending_are_not_success() {
    let (w, sha) = world_with_moves();
    let r = run(&w, &ci(&[])).await;
    assert!(!r.passed());
    assert_eq!(r.gates[0].summary, "not green: a missing");
    assert!(r.gates[0].evidence[0].text.contains("no CI signal at all"));
    w.check("a", &sha, "build", CheckState::Pending).await;
    let r = run(&w, &ci(&[])).await;
    assert_eq!(r.gates[0].summary, "not green: a pending");
}

#[tokio::test]
async fn a_required_check_must_be_present() {
    let (w, sha) = world_with_moves();
    w.check("a", &sha, "build", CheckState::Success).await;
    let r = run(&w, &ci(&["build", "e2e"])).await;
    assert!(!r.passed());
    assert!(
        r.gates[0].evidence[0]
            .text
            .contains("e2e missing (required)")
    );
}

#[tokio::test]
async fn validation_repo_verdict_gates() {
    let (w, sha) = world_with_moves();
    w.check("a", &sha, "build", CheckState::Success).await;
    let hello_tip = w.tip("hello-world", "main").to_string();
    let gates = Gates {
        ci: CiGate {
            target_commits: true,
            validation: Some(Validation {
                forge: w.forge.clone(),
                id: w.id("hello-world"),
                git_ref: "main".into(),
            }),
            required_checks: vec![],
        },
        sentry: None,
        commands: vec![],
    };
    let r = run(&w, &gates).await;
    assert!(!r.passed());
    assert!(r.gates[0].name.starts_with("ci: validation"));
    assert!(!r.gates[0].passed);
    assert!(r.gates[1].passed);
    w.check(
        "hello-world",
        &hello_tip,
        "stage-validation",
        CheckState::Success,
    )
    .await;
    assert!(run(&w, &gates).await.passed());
}

fn command(name: &str, cmd: &str, timeout: Duration) -> Gates {
    Gates {
        ci: CiGate::default(),
        sentry: None,
        commands: vec![CommandGate {
            name: name.into(),
            command: cmd.into(),
            timeout,
            dir: std::env::temp_dir(),
        }],
    }
}

#[tokio::test]
async fn command_gates_pass_on_exit_zero_and_keep_output() {
    let (w, _) = world_with_moves();
    let r = run(
        &w,
        &command("smoke", "echo stage ok", Duration::from_secs(10)),
    )
    .await;
    assert!(r.passed());
    assert_eq!(r.gates[0].evidence[0].text, "stage ok");
    let r = run(
        &w,
        &command(
            "smoke",
            "echo 'login page 502' >&2; exit 3",
            Duration::from_secs(10),
        ),
    )
    .await;
    assert!(!r.passed());
    assert_eq!(r.gates[0].name, "command: smoke");
    assert!(r.gates[0].summary.contains("exited 3"));
    assert_eq!(r.gates[0].evidence[0].text, "login page 502");
}

#[tokio::test]
async fn a_hung_command_gate_is_killed() {
    let (w, _) = world_with_moves();
    let r = run(&w, &command("hang", "sleep 30", Duration::from_millis(200))).await;
    assert!(!r.passed());
    assert!(
        r.gates[0].summary.contains("was killed"),
        "{}",
        r.gates[0].summary
    );
}

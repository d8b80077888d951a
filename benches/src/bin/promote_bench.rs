//! `promote-bench`: a stable-branch promotion through `upkeep-branches` and the real
//! GitHub adapter, against the fake GitHub with a fixed latency per request.
//!
//! Two sets: the packit-shaped set of the seed (8 repos, three dependency levels, one
//! repo even) and a 40-repo set (five such groups side by side). Each runs what
//! `move-branches run --yes` runs after wiring: `plan`, the CI gate on every commit to
//! move to (`gates::evaluate`), `apply` level by level. Requests are counted per phase
//! and endpoint from the fake's log; every moved `stable` is checked to equal `main`.
//!
//! ```text
//! cargo run --release -p upkeep-benches --bin promote-bench -- [--latency-ms 100]
//!     [--json FILE]
//! ```

// A harness reports on stdout (tables) and stderr (progress): printing is its job.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::SecretString;
use serde::Serialize;
use upkeep_benches::requests::{by_endpoint, total};
use upkeep_benches::{arg, machine, write_json};
use upkeep_branches::apply::{ApplyEvent, ApplyOptions, Progress, RunResult};
use upkeep_branches::gates::{CiGate, GateContext, Gates};
use upkeep_branches::{PlanOptions, RepoSpec};
use upkeep_forge::github::GitHub;
use upkeep_forge::retry::RetryPolicy;
use upkeep_forge::{Forge, RepoId};
use upkeep_git::Credentials;
use upkeep_testkit::github::FakeGitHub;

/// The packit repos of the seed and what each depends on; `tokman` has nothing to ship.
const PACKIT: [(&str, &[&str]); 8] = [
    ("ogr", &[]),
    ("specfile", &[]),
    ("packit", &["ogr", "specfile"]),
    ("packit-service-fedmsg", &[]),
    ("sandcastle", &[]),
    ("dashboard", &["ogr"]),
    (
        "packit-service",
        &["packit", "sandcastle", "packit-service-fedmsg"],
    ),
    ("tokman", &[]),
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(bench(&args));
}

#[derive(Debug, Clone, Serialize)]
struct Phase {
    name: &'static str,
    wall_s: f64,
    requests: BTreeMap<String, usize>,
}

#[derive(Debug, Serialize)]
struct SetOutcome {
    label: String,
    repos: usize,
    moved: usize,
    depth: usize,
    max_concurrency: usize,
    wall_s: f64,
    phases: Vec<Phase>,
    requests: usize,
    per_repo: f64,
    per_moved_repo: f64,
    /// Sequential requests on the critical path (plan chain + gate chain + one apply
    /// chain per level), from the adapter's code and the counts.
    chain_requests: usize,
    /// `chain_requests × latency`: the wall time with unlimited concurrency and free CPU.
    latency_bound_s: f64,
    result: String,
    checks: Vec<String>,
}

async fn bench(args: &[String]) {
    let latency_ms: u64 = arg(args, "--latency-ms").unwrap_or(100);
    let json: Option<String> = arg(args, "--json");
    upkeep_testkit::install_crypto_provider();
    eprintln!("promote-bench: {latency_ms} ms per request; {}", machine());
    let defaults = RetryPolicy::default().max_concurrency;
    let mut outcomes = Vec::new();
    for (label, groups, cap) in [
        ("packit (8 repos)", 1, defaults),
        ("40 repos", 5, defaults),
        ("40 repos, per-host cap 64 (diagnostic)", 5, 64),
    ] {
        eprintln!("  running {label} …");
        let o = run_set(label, groups, cap, latency_ms).await;
        eprintln!("    wall {:.2} s, {} requests", o.wall_s, o.requests);
        outcomes.push(o);
    }
    print_tables(&outcomes, latency_ms);
    write_json(
        json.as_deref(),
        &serde_json::json!({
            "machine": machine(),
            "latency_ms": latency_ms,
            "sets": outcomes,
        }),
    );
}

/// `groups` copies of the packit set (names suffixed `-a`, `-b`, … beyond the first).
#[allow(clippy::too_many_lines)] // Set up, three phases, checks: one story.
async fn run_set(label: &str, groups: usize, cap: usize, latency_ms: u64) -> SetOutcome {
    let gh = FakeGitHub::start().await;
    let cache = tempfile::tempdir().expect("temp dir");
    let policy = RetryPolicy {
        max_concurrency: cap,
        ..RetryPolicy::default()
    };
    let forge: Arc<dyn Forge> = Arc::new(
        GitHub::new(
            &gh.url(),
            SecretString::from("ghp_benchmark_token".to_owned()),
            policy,
        )
        .expect("GitHub adapter"),
    );
    let mut specs = Vec::new();
    for g in 0..groups {
        let suffix = if groups == 1 {
            String::new()
        } else {
            format!("-{}", char::from(b'a' + u8::try_from(g).unwrap_or(0)))
        };
        for (i, (name, deps)) in PACKIT.iter().enumerate() {
            let full = format!("packit/{name}{suffix}");
            let bare = gh.create_repo(&full);
            let first = gh.commit(&full, "main", &format!("Initial commit of {name}"));
            gh.set_branch(&full, "stable", &first);
            if *name != "tokman" {
                for c in 0..=(i % 3) {
                    gh.commit(
                        &full,
                        "main",
                        &format!("feat: {name} change {c} (#{})", 100 + c),
                    );
                }
                let tip = gh.branch_tip(&full, "main").expect("main");
                gh.add_status(&full, &tip, "ci/tests", "success");
            }
            specs.push(RepoSpec {
                name: format!("{name}{suffix}"),
                forge: forge.clone(),
                id: RepoId::new(full),
                git_url: bare.display().to_string(),
                credentials: Credentials::none(),
                source: "main".to_owned(),
                target: "stable".to_owned(),
                depends_on: deps.iter().map(|d| format!("{d}{suffix}")).collect(),
                wait_after: false,
            });
        }
    }
    gh.faults().set_latency(Duration::from_millis(latency_ms));
    gh.faults().reset_log();

    let mut phases = Vec::new();
    let started = Instant::now();
    let t = Instant::now();
    let plan = upkeep_branches::plan(
        &specs,
        &PlanOptions {
            overrides: Vec::new(),
            cache_dir: cache.path().to_owned(),
            tag_prefix: None,
        },
    )
    .await
    .expect("plan");
    phases.push(take_phase(&gh, "plan", t));

    let t = Instant::now();
    let gates = Gates {
        ci: CiGate {
            target_commits: true,
            validation: None,
            required_checks: Vec::new(),
        },
        sentry: None,
        commands: Vec::new(),
    };
    let gate_report = upkeep_branches::gates::evaluate(
        &gates,
        &plan,
        &specs,
        &GateContext {
            now: chrono::Utc::now(),
            last_promotion: None,
        },
    )
    .await;
    phases.push(take_phase(&gh, "gates", t));
    plan.check_approval(&plan.digest).expect("approval");

    let t = Instant::now();
    let progress: Progress = Arc::new(|_: &ApplyEvent| {});
    let report = upkeep_branches::apply(&plan, &specs, &ApplyOptions::default(), &progress).await;
    phases.push(take_phase(&gh, "apply", t));
    let wall_s = started.elapsed().as_secs_f64();

    let mut checks = Vec::new();
    if !gate_report.passed() {
        checks.push(format!("gates failed: {:?}", gate_report.summaries()));
    }
    let moved = plan.repos.iter().filter(|r| !r.is_even()).count();
    for s in &specs {
        let full = s.id.to_string();
        let (stable, main) = (gh.branch_tip(&full, "stable"), gh.branch_tip(&full, "main"));
        if stable != main {
            checks.push(format!("{}: stable is not at main", s.name));
        }
    }
    let requests: usize = phases.iter().map(|p| total(&p.requests)).sum();
    let depth = plan.levels.len();
    // Sequential requests per repo in each phase, as the adapter makes them today:
    // plan = tip(source), tip(target), compare; gate = combined status, check runs;
    // apply = read tip, compare (fast-forward check), repository node id, updateRefs.
    let per_phase_chain = |phase: &Phase, repos: usize| -> usize {
        if repos == 0 {
            0
        } else {
            total(&phase.requests).div_ceil(repos)
        }
    };
    let plan_chain = per_phase_chain(&phases[0], specs.len());
    let gate_chain = per_phase_chain(&phases[1], moved);
    let apply_chain = per_phase_chain(&phases[2], moved);
    let chain_requests = plan_chain + gate_chain + depth * apply_chain;
    let repos = specs.len();
    SetOutcome {
        label: label.to_owned(),
        repos,
        moved,
        depth,
        max_concurrency: cap,
        wall_s,
        requests,
        per_repo: requests as f64 / repos as f64,
        per_moved_repo: requests as f64 / moved.max(1) as f64,
        chain_requests,
        latency_bound_s: chain_requests as f64 * latency_ms as f64 / 1e3,
        result: match report.result {
            RunResult::Success => "success",
            RunResult::Partial => "partial",
            RunResult::Failed => "failed",
            RunResult::Refused => "refused",
        }
        .to_owned(),
        phases,
        checks,
    }
}

fn take_phase(gh: &FakeGitHub, name: &'static str, started: Instant) -> Phase {
    let phase = Phase {
        name,
        wall_s: started.elapsed().as_secs_f64(),
        requests: by_endpoint(&gh.faults().log(), false),
    };
    gh.faults().reset_log();
    phase
}

fn print_tables(outcomes: &[SetOutcome], latency_ms: u64) {
    println!(
        "\n## Promotion: {latency_ms} ms per GitHub request ({})\n",
        machine()
    );
    println!(
        "| set | repos (moved) | depth | per-host cap | wall s | plan s | gates s | apply s | requests | per repo | per moved repo | critical path (requests) | latency bound s | (depth+3) × {latency_ms} ms | result |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for o in outcomes {
        let phase = |n: &str| {
            o.phases
                .iter()
                .find(|p| p.name == n)
                .map_or(0.0, |p| p.wall_s)
        };
        println!(
            "| {} | {} ({}) | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {:.2} | {:.2} | {} | {:.2} | {:.2} | {} |",
            o.label,
            o.repos,
            o.moved,
            o.depth,
            o.max_concurrency,
            o.wall_s,
            phase("plan"),
            phase("gates"),
            phase("apply"),
            o.requests,
            o.per_repo,
            o.per_moved_repo,
            o.chain_requests,
            o.latency_bound_s,
            (o.depth + 3) as f64 * latency_ms as f64 / 1e3,
            o.result
        );
    }
    if let Some(o) = outcomes.first() {
        println!("\n### Requests by phase and endpoint ({})\n", o.label);
        println!("| phase | endpoint | requests | per moved repo |");
        println!("|---|---|---|---|");
        for p in &o.phases {
            for (endpoint, count) in &p.requests {
                println!(
                    "| {} | `{endpoint}` | {count} | {:.2} |",
                    p.name,
                    *count as f64 / o.moved.max(1) as f64
                );
            }
        }
    }
    let problems: Vec<String> = outcomes
        .iter()
        .flat_map(|o| o.checks.iter().map(|c| format!("{}: {c}", o.label)))
        .collect();
    if problems.is_empty() {
        println!("\nChecks: gates passed; every repo's stable is at main (even repos untouched).");
    } else {
        println!("\nChecks FAILED:");
        for p in problems {
            println!("- {p}");
        }
    }
}

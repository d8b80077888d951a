//! `promote-bench`: a stable-branch promotion through `upkeep-branches` and the real
//! GitHub and GitLab adapters, against the fake GitHub and GitLab with a fixed latency per
//! request.
//!
//! Sets on each forge: the packit-shaped set of the seed (8 repos, three dependency
//! levels, one repo even) and a 50-repo set (such groups side by side, the last one cut). Each runs what
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

use upkeep_benches::promote::{Service, SetOutcome, run_set};
use upkeep_benches::{arg, machine, write_json};
use upkeep_forge::retry::RetryPolicy;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(bench(&args));
}

async fn bench(args: &[String]) {
    let latency_ms: u64 = arg(args, "--latency-ms").unwrap_or(100);
    let json: Option<String> = arg(args, "--json");
    upkeep_testkit::install_crypto_provider();
    eprintln!("promote-bench: {latency_ms} ms per request; {}", machine());
    let defaults = RetryPolicy::default().max_concurrency;
    let mut outcomes = Vec::new();
    for (label, service, repos, cap) in [
        ("GitHub, packit (8 repos)", Service::GitHub, 8, defaults),
        ("GitHub, 50 repos", Service::GitHub, 50, defaults),
        ("GitLab, packit (8 repos)", Service::GitLab, 8, defaults),
        ("GitLab, 50 repos", Service::GitLab, 50, defaults),
    ] {
        eprintln!("  running {label} …");
        let o = run_set(label, service, repos, cap, latency_ms).await;
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

fn print_tables(outcomes: &[SetOutcome], latency_ms: u64) {
    println!(
        "\n## Promotion: {latency_ms} ms per forge request ({})\n",
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
    for o in outcomes.iter().filter(|o| o.repos == 8) {
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

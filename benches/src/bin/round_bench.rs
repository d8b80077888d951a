//! `round-bench`: a maintenance round of N synthetic projects, at several `--jobs`.
//!
//! Each project is a real bare repository (the fake GitHub's own) with a Makefile whose
//! `upgrade`, `build` and `test` each sleep a fixed time; `upgrade` also bumps three pins
//! in `requirements.txt`. The fake GitHub and fake Slack answer every request after a
//! fixed latency. Each configuration gets fresh fakes and a fresh state directory, and
//! runs in a child process (this binary with `--child`), so its peak memory is its own.
//!
//! ```text
//! cargo run --release -p upkeep-benches --bin round-bench -- [--n 40] [--step 0.2]
//!     [--latency-ms 20] [--jobs 1,2,4,8] [--no-paced] [--no-diagnose]
//!     [--shards 4 [--shard-jobs 2]] [--json FILE]
//! ```
//!
//! With `--shards N`, one more configuration runs the round as N shard processes at once
//! (`maintain run --shard I/N --jobs J`, each with its own clone cache), sharing a bare
//! git repository as the state store, then `maintain report`; its wall time runs from
//! the first shard's start to the report's end, and the commits in the state repository
//! (one per state write) are reported separately from the API requests.

// A harness reports on stdout (tables) and stderr (progress): printing is its job.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Serialize;
use upkeep_benches::profile::{Profile, profile};
use upkeep_benches::requests::{by_endpoint, total};
use upkeep_benches::round::{Hosted, RoundRun, RoundSpec};
use upkeep_benches::{arg, flag, machine, write_json};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Some(spec) = arg::<String>(&args, "--child") {
        // The round's own log (the scheduler's waits and retries), on stderr when
        // `RUST_LOG` asks for it.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .try_init();
        let spec: RoundSpec =
            serde_json::from_slice(&fs_err::read(&spec).expect("spec file")).expect("spec JSON");
        let run = runtime.block_on(upkeep_benches::round::run(&spec));
        println!("{}", serde_json::to_string(&run).expect("JSON"));
        return;
    }
    runtime.block_on(parent(&args));
}

/// One configuration of the sweep.
#[derive(Debug, Clone, Serialize)]
struct Setup {
    label: String,
    jobs: usize,
    post_interval_ms: u64,
    /// Where the state directory (journal, clones, logs) lives.
    state_fs: &'static str,
    /// Shard processes (0: one unsharded round).
    shards: u32,
}

#[derive(Debug, Serialize)]
struct Outcome {
    setup: Setup,
    ideal_s: f64,
    ratio: f64,
    pipelines_ratio: f64,
    changed: usize,
    profile: Profile,
    forge_requests: BTreeMap<String, usize>,
    slack_requests: BTreeMap<String, usize>,
    forge_per_changed: f64,
    slack_per_changed: f64,
    peak_rss_mib: f64,
    /// Writes to the shared state repository (sharded configurations only).
    state_writes: Option<usize>,
    checks: Vec<String>,
}

async fn parent(args: &[String]) {
    let n: usize = arg(args, "--n").unwrap_or(40);
    let step: f64 = arg(args, "--step").unwrap_or(0.2);
    let latency_ms: u64 = arg(args, "--latency-ms").unwrap_or(20);
    let jobs: Vec<usize> = arg::<String>(args, "--jobs")
        .unwrap_or_else(|| "1,2,4,8".to_owned())
        .split(',')
        .filter_map(|j| j.trim().parse().ok())
        .collect();
    let json: Option<String> = arg(args, "--json");
    let max_jobs = jobs.iter().copied().max().unwrap_or(8);

    let mut setups: Vec<Setup> = jobs
        .iter()
        .map(|&j| Setup {
            label: format!("jobs {j}"),
            jobs: j,
            post_interval_ms: 0,
            state_fs: "disk",
            shards: 0,
        })
        .collect();
    if !flag(args, "--no-diagnose") && Path::new("/dev/shm").is_dir() {
        setups.push(Setup {
            label: format!("jobs {max_jobs}, state on tmpfs"),
            jobs: max_jobs,
            post_interval_ms: 0,
            state_fs: "tmpfs",
            shards: 0,
        });
    }
    if !flag(args, "--no-paced") {
        setups.push(Setup {
            label: format!("jobs {max_jobs}, Slack paced 1/s"),
            jobs: max_jobs,
            post_interval_ms: 1000,
            state_fs: "disk",
            shards: 0,
        });
    }
    if let Some(shards) = arg::<u32>(args, "--shards").filter(|n| *n > 0) {
        let jobs: usize = arg(args, "--shard-jobs").unwrap_or(2);
        setups.push(Setup {
            label: format!("{shards} shards × jobs {jobs}, state in a git repo"),
            jobs,
            post_interval_ms: 0,
            state_fs: "disk",
            shards,
        });
    }

    eprintln!(
        "round-bench: {n} projects, steps of {step} s, {latency_ms} ms per request; {}",
        machine()
    );
    let mut outcomes = Vec::new();
    for setup in setups {
        eprintln!("  running {} …", setup.label);
        let outcome = measure(&setup, n, step, latency_ms).await;
        eprintln!(
            "    wall {:.2} s, ideal {:.2} s, ratio {:.2}",
            outcome.profile.wall_s, outcome.ideal_s, outcome.ratio
        );
        outcomes.push(outcome);
    }
    print_tables(&outcomes, n, step, latency_ms);
    write_json(
        json.as_deref(),
        &serde_json::json!({
            "machine": machine(),
            "projects": n,
            "step_s": step,
            "latency_ms": latency_ms,
            "outcomes": outcomes,
        }),
    );
}

/// Sets up fresh fakes and repositories, runs the round in a child process, and reads
/// the fakes' request logs.
#[allow(clippy::too_many_lines)] // Set up, run, count, check: one story.
async fn measure(setup: &Setup, n: usize, step: f64, latency_ms: u64) -> Outcome {
    let hosted = Hosted::start(n, step, std::time::Duration::from_millis(latency_ms)).await;
    if setup.shards > 0 {
        return measure_sharded(setup, &hosted, n, step).await;
    }
    let base: PathBuf = if setup.state_fs == "tmpfs" {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let work = tempfile::Builder::new()
        .prefix("upkeep-round-bench-")
        .tempdir_in(base)
        .expect("temp dir");
    let spec = hosted.spec(
        work.path().join("state"),
        setup.jobs,
        setup.post_interval_ms,
        NaiveDate::from_ymd_opt(2026, 11, 22).expect("date"),
    );
    let spec_file = work.path().join("spec.json");
    fs_err::write(&spec_file, serde_json::to_vec(&spec).expect("JSON")).expect("spec file");
    hosted.reset_logs();

    let output = tokio::process::Command::new(std::env::current_exe().expect("own path"))
        .arg("--child")
        .arg(&spec_file)
        .stderr(std::process::Stdio::inherit())
        .output()
        .await
        .expect("child process");
    assert!(
        output.status.success(),
        "the measured round failed: {}",
        output.status
    );
    let text = String::from_utf8_lossy(&output.stdout);
    let run: RoundRun = serde_json::from_str(text.lines().last().unwrap_or_default())
        .expect("the child's JSON result");
    outcome(setup, &hosted, &run, n, step, None)
}

/// The round as `setup.shards` shard processes sharing a state repository, then the
/// report; timed from the first shard's start to the report's end.
async fn measure_sharded(setup: &Setup, hosted: &Hosted, n: usize, step: f64) -> Outcome {
    let work = tempfile::Builder::new()
        .prefix("upkeep-round-bench-")
        .tempdir()
        .expect("temp dir");
    let state_repo = work.path().join("state.git");
    upkeep_testkit::git::init_bare(&state_repo);
    let date = NaiveDate::from_ymd_opt(2026, 11, 22).expect("date");
    let spec_of = |dir: &str, shard: Option<(u32, u32)>| {
        let mut spec = hosted.spec(
            work.path().join(dir),
            setup.jobs,
            setup.post_interval_ms,
            date,
        );
        spec.state_repo = Some(state_repo.clone());
        spec.shard = shard;
        spec
    };
    hosted.reset_logs();
    let started = std::time::Instant::now();
    let mut children = Vec::new();
    for index in 1..=setup.shards {
        let spec = spec_of(&format!("shard-{index}"), Some((index, setup.shards)));
        let file = work.path().join(format!("spec-{index}.json"));
        fs_err::write(&file, serde_json::to_vec(&spec).expect("JSON")).expect("spec file");
        children.push(
            tokio::process::Command::new(std::env::current_exe().expect("own path"))
                .arg("--child")
                .arg(&file)
                .stderr(std::process::Stdio::inherit())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .expect("shard process"),
        );
    }
    let mut merged = RoundRun {
        wall_ms: 0.0,
        stamps: Vec::new(),
        projects: Vec::new(),
        warnings: Vec::new(),
        peak_rss_kib: 0,
    };
    for child in children {
        let output = child.wait_with_output().await.expect("shard process");
        assert!(output.status.success(), "a shard failed: {}", output.status);
        let text = String::from_utf8_lossy(&output.stdout);
        let run: RoundRun = serde_json::from_str(text.lines().last().unwrap_or_default())
            .expect("the shard's JSON result");
        // Each shard's stamps count from its own start, a few milliseconds apart.
        merged.stamps.extend(run.stamps);
        merged.projects.extend(run.projects);
        merged.warnings.extend(run.warnings);
        merged.peak_rss_kib = merged.peak_rss_kib.max(run.peak_rss_kib);
    }
    // A project helped by another shard is in both shards' reports: keep the row of the
    // shard that ran its steps.
    merged.projects.sort_by(|a, b| {
        a.name
            .cmp(&b.name)
            .then(b.steps_ms.len().cmp(&a.steps_ms.len()))
    });
    merged
        .projects
        .dedup_by(|later, first| later.name == first.name);
    merged
        .warnings
        .extend(upkeep_benches::round::report(&spec_of("report", None)).await);
    merged.wall_ms = started.elapsed().as_secs_f64() * 1e3;
    // One commit per state write (claims, records, the round, the summary).
    let writes = upkeep_testkit::git::git(&state_repo, &["rev-list", "--all", "--count"])
        .trim()
        .parse()
        .unwrap_or(0);
    outcome(setup, hosted, &merged, n, step, Some(writes))
}

/// The figures of one measured configuration.
fn outcome(
    setup: &Setup,
    hosted: &Hosted,
    run: &RoundRun,
    n: usize,
    step: f64,
    state_writes: Option<usize>,
) -> Outcome {
    let prof = profile(run, step * 1e3);
    let changed = prof.statuses.get("changed").copied().unwrap_or(0);
    let forge_requests = by_endpoint(&hosted.github.faults().log(), false);
    let slack_requests = by_endpoint(&hosted.slack.faults().log(), true);
    let mut checks = hosted.check_round();
    for p in run.projects.iter().filter(|p| p.status != "changed") {
        checks.push(format!(
            "{} ended {}: {}",
            p.name,
            p.status,
            p.failure.clone().unwrap_or_default()
        ));
    }
    checks.extend(run.warnings.iter().cloned());
    let runners = setup.jobs * (setup.shards.max(1) as usize);
    let ideal_s = n.div_ceil(runners) as f64 * 3.0 * step;
    let per = |c: usize| {
        if changed == 0 {
            0.0
        } else {
            c as f64 / changed as f64
        }
    };
    Outcome {
        setup: setup.clone(),
        ideal_s,
        ratio: prof.wall_s / ideal_s,
        pipelines_ratio: prof.pipelines_end_s / ideal_s,
        changed,
        forge_per_changed: per(total(&forge_requests)),
        slack_per_changed: per(total(&slack_requests)),
        forge_requests,
        slack_requests,
        peak_rss_mib: run.peak_rss_kib as f64 / 1024.0,
        state_writes,
        profile: prof,
        checks,
    }
}

fn print_tables(outcomes: &[Outcome], n: usize, step: f64, latency_ms: u64) {
    println!(
        "\n## Round: {n} projects, 3 steps × {step} s, {latency_ms} ms per API request ({})\n",
        machine()
    );
    println!(
        "| configuration | wall s | ideal s | ratio | pipelines end s | ratio w/o posting | posting s | outside steps ms/project | forge req/changed | Slack req/changed | peak RSS MiB |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for o in outcomes {
        let p = &o.profile;
        println!(
            "| {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.0} | {:.2} | {:.2} | {:.1} |",
            o.setup.label,
            p.wall_s,
            o.ideal_s,
            o.ratio,
            p.pipelines_end_s,
            o.pipelines_ratio,
            p.posting_s,
            p.mean.outside_steps,
            o.forge_per_changed,
            o.slack_per_changed,
            o.peak_rss_mib
        );
    }
    println!("\n### Per project, mean ms by phase\n");
    println!(
        "| configuration | queued | clone | steps (span) | steps (measured) | between steps | make start-up | commit+diff | push | PR | outside steps | max outside | per thread posted |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for o in outcomes {
        let m = &o.profile.mean;
        println!(
            "| {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} |",
            o.setup.label,
            m.queued,
            m.clone,
            m.steps_span,
            m.steps_measured,
            m.between_steps,
            m.make_startup,
            m.commit_and_diff,
            m.push,
            m.change_request,
            m.outside_steps,
            o.profile.max_outside_steps_ms,
            o.profile.per_thread_post_ms
        );
    }
    if let Some(o) = outcomes.first() {
        println!(
            "\n### Requests per changed project, by endpoint ({})\n",
            o.setup.label
        );
        println!("| service | endpoint | requests | per changed project |");
        println!("|---|---|---|---|");
        for (service, counts) in [("GitHub", &o.forge_requests), ("Slack", &o.slack_requests)] {
            for (endpoint, count) in counts {
                println!(
                    "| {service} | `{endpoint}` | {count} | {:.3} |",
                    *count as f64 / o.changed.max(1) as f64
                );
            }
        }
        let same = outcomes.iter().all(|x| {
            total(&x.forge_requests) == total(&o.forge_requests)
                && total(&x.slack_requests) == total(&o.slack_requests)
        });
        println!(
            "\nRequest totals {} across configurations.",
            if same { "are identical" } else { "differ" }
        );
    }
    for o in outcomes {
        if let Some(writes) = o.state_writes {
            println!(
                "\nState writes ({}): {writes} to the state repository, {:.2} per changed project (claims, records, the round, the summary), besides the API requests above.",
                o.setup.label,
                writes as f64 / o.changed.max(1) as f64
            );
        }
    }
    let problems: Vec<String> = outcomes
        .iter()
        .flat_map(|o| o.checks.iter().map(|c| format!("{}: {c}", o.setup.label)))
        .collect();
    if problems.is_empty() {
        println!(
            "\nChecks: every project changed, one pull request each, one Slack thread each plus the summary."
        );
    } else {
        println!("\nChecks FAILED:");
        for p in problems {
            println!("- {p}");
        }
    }
}

//! `clone-bench`: the clone cache, cold and warm.
//!
//! N projects (default 8) whose repositories carry a long history (default 3,000
//! commits, about 20 MB packed), written once with `git fast-import` and copied. The same
//! round runs twice on one state directory: the first with an empty clone cache, the
//! second the next day, after one small upstream commit per repository. Reported: the
//! git work of each round (clone-cache refresh, commit and diff, push, per project) and
//! the bytes fetched (the packs each fetch wrote), and, as a cross-check through the
//! library's own numbers, `upkeep_git::ensure_clone`'s `SyncReport` stats for one
//! repository cold and warm.
//!
//! ```text
//! cargo run --release -p upkeep-benches --bin clone-bench -- [--n 8] [--commits 3000]
//!     [--bytes 8000] [--jobs 8] [--step 0.2] [--json FILE]
//! ```

// A harness reports on stdout (tables) and stderr (progress): printing is its job.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use chrono::NaiveDate;
use serde::Serialize;
use upkeep_benches::profile::{Profile, profile};
use upkeep_benches::repos::{self, HistoryShape};
use upkeep_benches::round::{BenchProject, RoundSpec};
use upkeep_benches::{arg, machine, write_json};
use upkeep_git::{Credentials, SyncAction};
use upkeep_testkit::github::FakeGitHub;
use upkeep_testkit::slack::FakeSlack;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(bench(&args));
}

#[derive(Debug, Serialize)]
struct RoundNumbers {
    label: String,
    wall_s: f64,
    /// Mean per project, ms: clone-cache refresh, commit+diff, push.
    clone_ms: f64,
    commit_ms: f64,
    push_ms: f64,
    /// Sum over projects of clone + commit + push, s (the round's git work).
    git_work_s: f64,
    /// Bytes of packs the fetches wrote, all projects.
    fetched_bytes: u64,
    profile: Profile,
}

#[derive(Debug, Serialize)]
struct Calibration {
    cold_action: String,
    cold_ms: f64,
    cold_received_bytes: usize,
    cold_received_objects: usize,
    cold_pack_bytes: u64,
    warm_action: String,
    warm_ms: f64,
    warm_received_bytes: usize,
    warm_received_objects: usize,
    warm_pack_bytes: u64,
}

fn copy_dir(from: &Path, to: &Path) {
    fs_err::create_dir_all(to).expect("mkdir");
    for e in fs_err::read_dir(from)
        .expect("read dir")
        .filter_map(Result::ok)
    {
        let target = to.join(e.file_name());
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            copy_dir(&e.path(), &target);
        } else {
            fs_err::copy(e.path(), &target).expect("copy");
        }
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git");
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn total_packs(state: &Path, projects: &[BenchProject]) -> u64 {
    projects
        .iter()
        .map(|p| {
            repos::packs(&cache_root(state).join(&p.name))
                .values()
                .sum::<u64>()
        })
        .sum()
}

/// The clone cache directory of a project: `<state>/cache/maintain/<name>` today; found
/// by looking, so that a change of layout shows as "not found" rather than zeros.
fn cache_root(state: &Path) -> PathBuf {
    for candidate in [state.join("cache/maintain"), state.join("cache")] {
        if candidate.is_dir() {
            return candidate;
        }
    }
    state.join("cache/maintain")
}

fn round_numbers(label: &str, prof: Profile, n: usize, fetched_bytes: u64) -> RoundNumbers {
    let m = &prof.mean;
    RoundNumbers {
        label: label.to_owned(),
        wall_s: prof.wall_s,
        clone_ms: m.clone,
        commit_ms: m.commit_and_diff,
        push_ms: m.push,
        git_work_s: (m.clone + m.commit_and_diff + m.push) * n as f64 / 1e3,
        fetched_bytes,
        profile: prof,
    }
}

#[allow(clippy::too_many_lines)] // One story: generate, cold round, a day passes, warm round, cross-check.
async fn bench(args: &[String]) {
    let n: usize = arg(args, "--n").unwrap_or(8);
    let commits: usize = arg(args, "--commits").unwrap_or(3000);
    let bytes: usize = arg(args, "--bytes").unwrap_or(8000);
    let jobs: usize = arg(args, "--jobs").unwrap_or(8);
    let step: f64 = arg(args, "--step").unwrap_or(0.2);
    let latency_ms: u64 = arg(args, "--latency-ms").unwrap_or(20);
    let json: Option<String> = arg(args, "--json");
    eprintln!(
        "clone-bench: {n} projects × {commits} commits, {jobs} jobs; {}",
        machine()
    );

    let github = FakeGitHub::start().await;
    let slack = FakeSlack::start().await;
    let latency = std::time::Duration::from_millis(latency_ms);
    github.faults().set_latency(latency);
    slack.faults().set_latency(latency);
    let work = tempfile::Builder::new()
        .prefix("upkeep-clone-bench-")
        .tempdir()
        .expect("temp dir");

    // One history, generated once, copied into every repository.
    let generated = Instant::now();
    let mut projects = Vec::new();
    let mut tip = String::new();
    let mut first_repo = PathBuf::new();
    for i in 0..=n {
        // The extra repository is for the SyncReport cross-check.
        let name = if i == n {
            "calibration".to_owned()
        } else {
            format!("p{i:02}")
        };
        let full_name = format!("bench/{name}");
        let repo = github.create_repo(&full_name);
        if i == 0 {
            repos::add_history(
                &repo,
                HistoryShape {
                    commits,
                    bytes_per_commit: bytes,
                    files: 300,
                    seed: 0x5eed,
                },
                step,
            )
            .expect("history");
            git(&repo, &["gc", "--quiet", "--prune=now"]);
            tip = git(&repo, &["rev-parse", "refs/heads/main"]);
            first_repo.clone_from(&repo);
        } else {
            copy_dir(&first_repo.join("objects"), &repo.join("objects"));
            git(&repo, &["update-ref", "refs/heads/main", &tip]);
        }
        if i < n {
            projects.push(BenchProject {
                name,
                full_name,
                repo,
            });
        }
    }
    let repo_bytes = repos::dir_size(&first_repo.join("objects"));
    eprintln!(
        "  generated {} repositories of {:.1} MB ({} commits) in {:.1} s",
        n + 1,
        repo_bytes as f64 / 1e6,
        commits + 1,
        generated.elapsed().as_secs_f64()
    );

    let state = work.path().join("state");
    let spec = |date: NaiveDate| RoundSpec {
        github_url: github.url(),
        slack_api_url: slack.api_url(),
        state_dir: state.clone(),
        projects: projects.clone(),
        jobs,
        post_interval_ms: 0,
        date,
        state_repo: None,
        shard: None,
    };

    eprintln!("  cold round …");
    let cold_run =
        upkeep_benches::round::run(&spec(NaiveDate::from_ymd_opt(2026, 11, 22).expect("date")))
            .await;
    let cold_bytes = total_packs(&state, &projects);
    let cold = round_numbers(
        "cold (empty cache)",
        profile(&cold_run, step * 1e3),
        n,
        cold_bytes,
    );

    // A day of upstream work: one small commit per repository.
    for (i, p) in projects.iter().enumerate() {
        repos::add_small_commit(&p.repo, i).expect("small commit");
    }
    eprintln!("  warm round …");
    let warm_run =
        upkeep_benches::round::run(&spec(NaiveDate::from_ymd_opt(2026, 11, 23).expect("date")))
            .await;
    let warm_bytes = total_packs(&state, &projects).saturating_sub(cold_bytes);
    let warm = round_numbers(
        "warm (next day, 1 new commit)",
        profile(&warm_run, step * 1e3),
        n,
        warm_bytes,
    );
    let bad: Vec<String> = cold_run
        .projects
        .iter()
        .chain(&warm_run.projects)
        .filter(|p| p.status != "changed")
        .map(|p| format!("{} {}: {:?}", p.name, p.status, p.failure))
        .collect();

    // Cross-check with the library's own transfer numbers.
    let cal_repo = github.repo_path("bench/calibration");
    let cal_url = cal_repo.display().to_string();
    let cal_dir = work.path().join("calibration-clone");
    let t = Instant::now();
    let c = upkeep_git::ensure_clone(&cal_url, &cal_dir, "main", &Credentials::none())
        .expect("cold ensure_clone");
    let cold_ms = t.elapsed().as_secs_f64() * 1e3;
    let (cold_action, cold_stats) = (action(&c.action), c.stats);
    drop(c);
    let cold_pack = repos::packs(&cal_dir).values().sum::<u64>();
    repos::add_small_commit(&cal_repo, 999).expect("small commit");
    let t = Instant::now();
    let w = upkeep_git::ensure_clone(&cal_url, &cal_dir, "main", &Credentials::none())
        .expect("warm ensure_clone");
    let warm_ms = t.elapsed().as_secs_f64() * 1e3;
    let (warm_action, warm_stats) = (action(&w.action), w.stats);
    drop(w);
    let calibration = Calibration {
        cold_action,
        cold_ms,
        cold_received_bytes: cold_stats.received_bytes,
        cold_received_objects: cold_stats.received_objects,
        cold_pack_bytes: cold_pack,
        warm_action,
        warm_ms,
        warm_received_bytes: warm_stats.received_bytes,
        warm_received_objects: warm_stats.received_objects,
        warm_pack_bytes: repos::packs(&cal_dir)
            .values()
            .sum::<u64>()
            .saturating_sub(cold_pack),
    };
    let cache = cache_root(&state);

    println!(
        "\n## Clone cache: {n} projects × {} commits ({:.1} MB of objects each), jobs {jobs} ({})\n",
        commits + 1,
        repo_bytes as f64 / 1e6,
        machine()
    );
    println!(
        "| round | wall s | clone/fetch ms/project | commit+diff ms/project | push ms/project | git work s (all projects) | bytes fetched (all projects) |"
    );
    println!("|---|---|---|---|---|---|---|");
    for r in [&cold, &warm] {
        println!(
            "| {} | {:.2} | {:.0} | {:.0} | {:.0} | {:.2} | {} |",
            r.label,
            r.wall_s,
            r.clone_ms,
            r.commit_ms,
            r.push_ms,
            r.git_work_s,
            human_bytes(r.fetched_bytes)
        );
    }
    let time_ratio = warm.git_work_s / cold.git_work_s;
    let fetch_ratio = warm.clone_ms / cold.clone_ms;
    let byte_ratio = warm.fetched_bytes as f64 / cold.fetched_bytes.max(1) as f64;
    println!(
        "\nwarm/cold: git work {:.1}% (clone/fetch stage alone {:.1}%), bytes {:.3}%, round wall {:.0}%",
        time_ratio * 100.0,
        fetch_ratio * 100.0,
        byte_ratio * 100.0,
        warm.wall_s / cold.wall_s * 100.0
    );
    println!(
        "\n`upkeep_git::ensure_clone` on one more repository (SyncReport): cold {} in {:.0} ms, {} objects, {:.1} MB received; \
         warm {} in {:.0} ms, {} objects, {} bytes received (packs written: {:.1} MB cold, {} bytes warm).",
        calibration.cold_action,
        calibration.cold_ms,
        calibration.cold_received_objects,
        calibration.cold_received_bytes as f64 / 1e6,
        calibration.warm_action,
        calibration.warm_ms,
        calibration.warm_received_objects,
        calibration.warm_received_bytes,
        calibration.cold_pack_bytes as f64 / 1e6,
        calibration.warm_pack_bytes
    );
    println!("(clone caches under {})", cache.display());
    if bad.is_empty() {
        println!("\nChecks: every project changed in both rounds.");
    } else {
        println!("\nChecks FAILED:");
        for b in &bad {
            println!("- {b}");
        }
    }
    write_json(
        json.as_deref(),
        &serde_json::json!({
            "machine": machine(),
            "projects": n,
            "commits": commits + 1,
            "repo_bytes": repo_bytes,
            "jobs": jobs,
            "cold": cold,
            "warm": warm,
            "warm_over_cold_git_work": time_ratio,
            "warm_over_cold_fetch_stage": fetch_ratio,
            "warm_over_cold_bytes": byte_ratio,
            "calibration": calibration,
            "peak_rss_kib": upkeep_benches::round::peak_rss_kib(),
        }),
    );
}

fn human_bytes(b: u64) -> String {
    if b >= 1_000_000 {
        format!("{:.1} MB", b as f64 / 1e6)
    } else if b >= 10_000 {
        format!("{:.1} kB", b as f64 / 1e3)
    } else {
        format!("{b} B")
    }
}

fn action(a: &SyncAction) -> String {
    match a {
        SyncAction::Cloned => "cloned".to_owned(),
        SyncAction::Refreshed => "refreshed".to_owned(),
        SyncAction::Recloned { reason } => format!("re-cloned ({reason})"),
    }
}

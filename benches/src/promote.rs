//! One promotion through `upkeep-branches` and the real GitHub or GitLab adapter against
//! the fake GitHub or GitLab: `plan`, the CI gate on every commit to move to, `apply` level
//! by level, as `move-branches run --yes` runs them after wiring. Requests are counted per
//! phase and endpoint from the fake's log.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::SecretString;
use serde::Serialize;
use upkeep_branches::apply::{ApplyEvent, ApplyOptions, Progress};
use upkeep_branches::gates::{CiGate, GateContext, Gates};
use upkeep_branches::{PlanOptions, RepoSpec};
use upkeep_forge::github::GitHub;
use upkeep_forge::gitlab::{GitLab, GitLabOptions};
use upkeep_forge::retry::RetryPolicy;
use upkeep_forge::{Forge, RepoId};
use upkeep_git::Credentials;
use upkeep_testkit::faults::Faults;
use upkeep_testkit::github::FakeGitHub;
use upkeep_testkit::gitlab::FakeGitLab;

use crate::requests::{by_endpoint, total};

/// The packit repos of the seed and what each depends on; `tokman` has nothing to ship.
pub const PACKIT: [(&str, &[&str]); 8] = [
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

/// One phase of a promotion.
#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    /// `plan`, `gates` or `apply`.
    pub name: &'static str,
    /// Its wall time, s.
    pub wall_s: f64,
    /// Its requests by endpoint.
    pub requests: BTreeMap<String, usize>,
}

/// Which forge a set lives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Service {
    /// The GitHub adapter against `FakeGitHub`.
    GitHub,
    /// The GitLab adapter against `FakeGitLab`; its branch moves are git pushes over
    /// smart HTTP to the project's web URL + `.git`, which the fake serves with
    /// `git http-backend` as GitLab's Workhorse does (git's requests, not the API's: not
    /// in the counts).
    GitLab,
}

impl std::fmt::Display for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::GitHub => "GitHub",
            Self::GitLab => "GitLab",
        })
    }
}

/// The fake a set runs against.
enum Fake {
    GitHub(FakeGitHub),
    GitLab(FakeGitLab),
}

impl Fake {
    async fn start(service: Service) -> Self {
        match service {
            Service::GitHub => Self::GitHub(FakeGitHub::start().await),
            Service::GitLab => Self::GitLab(FakeGitLab::start().await),
        }
    }

    async fn forge(&self, policy: RetryPolicy, work: &std::path::Path) -> Arc<dyn Forge> {
        match self {
            Self::GitHub(gh) => Arc::new(
                GitHub::new(
                    &gh.url(),
                    SecretString::from("ghp_benchmark_token".to_owned()),
                    policy,
                )
                .expect("GitHub adapter"),
            ),
            Self::GitLab(gl) => {
                let mut options = GitLabOptions::new(
                    gl.base_url(),
                    SecretString::from(upkeep_testkit::gitlab::TOKEN.to_owned()),
                    work,
                );
                options.retry = policy;
                Arc::new(GitLab::connect(options).await.expect("GitLab adapter"))
            }
        }
    }

    /// Creates `full` with one commit on `main`; its bare repository's path.
    fn create(&self, full: &str) -> String {
        match self {
            Self::GitHub(gh) => {
                let bare = gh.create_repo(full);
                gh.commit(full, "main", "Initial commit");
                bare.display().to_string()
            }
            Self::GitLab(gl) => {
                gl.create_project(full);
                gl.bare(full).path().display().to_string()
            }
        }
    }

    fn commit(&self, full: &str, message: &str) {
        match self {
            Self::GitHub(gh) => drop(gh.commit(full, "main", message)),
            Self::GitLab(gl) => drop(gl.commit(full, "main", message)),
        }
    }

    fn set_branch(&self, full: &str, branch: &str, sha: &str) {
        match self {
            Self::GitHub(gh) => gh.set_branch(full, branch, sha),
            Self::GitLab(gl) => gl.set_branch(full, branch, sha),
        }
    }

    fn tip(&self, full: &str, branch: &str) -> Option<String> {
        match self {
            Self::GitHub(gh) => gh.branch_tip(full, branch),
            Self::GitLab(gl) => gl.branch_tip(full, branch),
        }
    }

    /// A green CI result on `sha`: a commit status on GitHub, a pipeline on GitLab.
    fn green(&self, full: &str, sha: &str) {
        match self {
            Self::GitHub(gh) => gh.add_status(full, sha, "ci/tests", "success"),
            Self::GitLab(gl) => drop(gl.add_pipeline(full, sha, "success")),
        }
    }

    fn faults(&self) -> &Faults {
        match self {
            Self::GitHub(gh) => gh.faults(),
            Self::GitLab(gl) => gl.faults(),
        }
    }
}

/// What one promotion of a set of repos did and cost.
#[derive(Debug, Serialize)]
pub struct SetOutcome {
    /// The set's name.
    pub label: String,
    /// The forge.
    pub service: Service,
    /// Repos in the set.
    pub repos: usize,
    /// Repos that had something to move.
    pub moved: usize,
    /// Dependency levels.
    pub depth: usize,
    /// The adapter's per-host cap of requests in flight.
    pub max_concurrency: usize,
    /// Wall time of plan + gates + apply, s.
    pub wall_s: f64,
    /// The three phases.
    pub phases: Vec<Phase>,
    /// Requests in all.
    pub requests: usize,
    /// Requests per repo.
    pub per_repo: f64,
    /// Requests per repo that moved.
    pub per_moved_repo: f64,
    /// Sequential requests on the critical path (plan chain + gate chain + one apply
    /// chain per level), from the adapter's code and the counts.
    pub chain_requests: usize,
    /// `chain_requests × latency`: the wall time with unlimited concurrency and free CPU.
    pub latency_bound_s: f64,
    /// `success`, `partial`, `failed` or `refused`.
    pub result: String,
    /// Anything wrong: failed gates, a `stable` not at `main`.
    pub checks: Vec<String>,
}

/// Promotes `repos` repos made of copies of the packit set (names suffixed `-a`, `-b`, …
/// when more than one; the last copy cut short) on `service`, with `cap` requests in
/// flight per host and `latency_ms` per request.
#[allow(clippy::too_many_lines)] // Set up, three phases, checks: one story.
pub async fn run_set(
    label: &str,
    service: Service,
    repos: usize,
    cap: usize,
    latency_ms: u64,
) -> SetOutcome {
    let gh = Fake::start(service).await;
    let cache = tempfile::tempdir().expect("temp dir");
    let policy = RetryPolicy {
        max_concurrency: cap,
        ..RetryPolicy::default()
    };
    let work = tempfile::tempdir().expect("temp dir");
    let forge = gh.forge(policy, work.path()).await;
    let groups = repos.div_ceil(PACKIT.len());
    let mut specs = Vec::new();
    for g in 0..groups {
        let suffix = if groups == 1 {
            String::new()
        } else {
            format!("-{}", char::from(b'a' + u8::try_from(g).unwrap_or(0)))
        };
        // PACKIT lists every repo after the ones it depends on: a cut copy is whole.
        for (i, (name, deps)) in PACKIT.iter().enumerate().take(repos - g * PACKIT.len()) {
            let full = format!("packit/{name}{suffix}");
            let bare = gh.create(&full);
            let first = gh.tip(&full, "main").expect("main");
            gh.set_branch(&full, "stable", &first);
            if *name != "tokman" {
                for c in 0..=(i % 3) {
                    gh.commit(&full, &format!("feat: {name} change {c} (#{})", 100 + c));
                }
                let tip = gh.tip(&full, "main").expect("main");
                gh.green(&full, &tip);
            }
            specs.push(RepoSpec {
                name: format!("{name}{suffix}"),
                forge: forge.clone(),
                id: RepoId::new(full),
                git_url: bare,
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
        let (stable, main) = (gh.tip(&full, "stable"), gh.tip(&full, "main"));
        if stable != main {
            checks.push(format!("{}: stable is not at main", s.name));
        }
    }
    let requests: usize = phases.iter().map(|p| total(&p.requests)).sum();
    let depth = plan.levels.len();
    // Sequential requests per repo in each phase: what each phase made, per repo.
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
        service,
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
        result: report.result.to_string(),
        phases,
        checks,
    }
}

fn take_phase(gh: &Fake, name: &'static str, started: Instant) -> Phase {
    let phase = Phase {
        name,
        wall_s: started.elapsed().as_secs_f64(),
        requests: by_endpoint(&gh.faults().log(), false),
    };
    gh.faults().reset_log();
    phase
}

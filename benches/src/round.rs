//! One maintenance round through the real library and adapters, timed stage by stage.
//!
//! The round is exactly what `maintain run` does after wiring: [`upkeep_maintain::run_round`]
//! with the GitHub adapter (octocrab, default retry policy and per-host cap) and the Slack
//! adapter (slack-morphism), pointed at the testkit fakes. A [`Progress`] callback stamps
//! every stage change with the time since the round started, which is where the
//! per-project profile comes from.

use std::fmt::Write as _;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use upkeep_chat::{ChatThreads, SlackChat, SlackConfig};
use upkeep_config::Config;
use upkeep_forge::github::GitHub;
use upkeep_forge::retry::RetryPolicy;
use upkeep_forge::{Forge, RepoId};
use upkeep_git::{Author, Credentials};
use upkeep_maintain::{
    CancellationToken, Event, Progress, ProjectSetup, ReportRequest, Round, Shard, StateSetup,
};
use upkeep_state::{GitStore, GitStoreConfig};
use upkeep_testkit::github::FakeGitHub;
use upkeep_testkit::slack::{FAKE_CHANNEL, FAKE_TOKEN, FakeSlack};

use crate::repos;

/// A project of the benchmark: its name, the fake GitHub repository and the bare
/// repository behind it (the clone URL).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchProject {
    /// Project name (`p07`).
    pub name: String,
    /// `owner/name` on the fake GitHub.
    pub full_name: String,
    /// The bare repository the round clones and pushes.
    pub repo: PathBuf,
}

/// The fakes and the synthetic projects they host.
pub struct Hosted {
    /// The fake GitHub, whose bare repositories are the projects' remotes.
    pub github: FakeGitHub,
    /// The fake Slack.
    pub slack: FakeSlack,
    /// The projects (`bench/p00`, `bench/p01`, …).
    pub projects: Vec<BenchProject>,
}

impl Hosted {
    /// Starts both fakes with `latency` per request and creates `n` projects whose
    /// steps sleep `step_secs` ([`repos::makefile`]).
    pub async fn start(n: usize, step_secs: f64, latency: Duration) -> Self {
        let github = FakeGitHub::start().await;
        let slack = FakeSlack::start().await;
        github.faults().set_latency(latency);
        slack.faults().set_latency(latency);
        let projects = (0..n)
            .map(|i| {
                let name = format!("p{i:02}");
                let full_name = format!("bench/{name}");
                let repo = github.create_repo(&full_name);
                repos::add_project_files(&repo, step_secs).expect("project files");
                BenchProject {
                    name,
                    full_name,
                    repo,
                }
            })
            .collect();
        Self {
            github,
            slack,
            projects,
        }
    }

    /// The round's input, with its state under `state_dir`.
    #[must_use]
    pub fn spec(
        &self,
        state_dir: PathBuf,
        jobs: usize,
        post_interval_ms: u64,
        date: NaiveDate,
    ) -> RoundSpec {
        RoundSpec {
            github_url: self.github.url(),
            slack_api_url: self.slack.api_url(),
            state_dir,
            projects: self.projects.clone(),
            jobs,
            post_interval_ms,
            date,
            state_repo: None,
            shard: None,
        }
    }

    /// Empties both fakes' request logs.
    pub fn reset_logs(&self) {
        self.github.faults().reset_log();
        self.slack.faults().reset_log();
    }

    /// What is wrong with the outcome of one round over every project: anything but one
    /// pull request per project and one thread per project plus the summary.
    #[must_use]
    pub fn check_round(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for p in &self.projects {
            let pulls = self.github.pulls(&p.full_name).len();
            if pulls != 1 {
                problems.push(format!("{}: {pulls} pull requests (expected 1)", p.name));
            }
        }
        let top = self.slack.top_level(FAKE_CHANNEL).len();
        if top != self.projects.len() + 1 {
            problems.push(format!(
                "{top} top-level Slack messages (expected {})",
                self.projects.len() + 1
            ));
        }
        problems
    }
}

/// Everything one measured round needs. Serialisable: `round-bench` hands it to a child
/// process so that each configuration's peak memory is its own.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoundSpec {
    /// Fake GitHub base URL.
    pub github_url: String,
    /// Fake Slack Web API URL.
    pub slack_api_url: String,
    /// The round's state directory (clone cache, journal, logs).
    pub state_dir: PathBuf,
    /// The projects.
    pub projects: Vec<BenchProject>,
    /// `--jobs`.
    pub jobs: usize,
    /// Slack `post_interval`, in milliseconds (the adapter's default is 1000).
    pub post_interval_ms: u64,
    /// The round's date (also its id): a new date is a new round.
    pub date: NaiveDate,
    /// The shared state repository (a bare repository's path) of a sharded round; `None`:
    /// the records are files under `state_dir`.
    #[serde(default)]
    pub state_repo: Option<PathBuf>,
    /// This process's shard `(index, total)`, 1-based.
    #[serde(default)]
    pub shard: Option<(u32, u32)>,
}

/// A stage change, stamped.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stamp {
    /// Milliseconds since the round started.
    pub t_ms: f64,
    /// The project, when the event is about one.
    pub project: Option<String>,
    /// The stage entered (`clone`, `upgrade`, …, `chat`), or `finished` / `posting`.
    pub what: String,
}

/// One project's result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProjectRun {
    /// Project name.
    pub name: String,
    /// `changed`, `unchanged`, `failed`, `skipped`.
    pub status: String,
    /// Duration of each step as the journal recorded it (upgrade, build, test), ms.
    pub steps_ms: Vec<u64>,
    /// The failure message, if any.
    pub failure: Option<String>,
}

/// What a measured round produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoundRun {
    /// Wall time of `run_round`, ms.
    pub wall_ms: f64,
    /// Every stage change.
    pub stamps: Vec<Stamp>,
    /// Per project.
    pub projects: Vec<ProjectRun>,
    /// The report's warnings.
    pub warnings: Vec<String>,
    /// Peak resident set of this process (`VmHWM`), KiB.
    pub peak_rss_kib: u64,
}

/// Records [`Event`]s with their time.
struct Timeline {
    start: Instant,
    stamps: Mutex<Vec<Stamp>>,
}

impl Timeline {
    fn push(&self, project: Option<&str>, what: &str) {
        let t_ms = self.start.elapsed().as_secs_f64() * 1e3;
        self.stamps
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Stamp {
                t_ms,
                project: project.map(str::to_owned),
                what: what.to_owned(),
            });
    }
}

impl Progress for Timeline {
    fn event(&self, event: Event<'_>) {
        match event {
            Event::Stage { project, stage } => self.push(Some(project), stage.as_str()),
            Event::ProjectFinished { project, .. } => self.push(Some(project), "finished"),
            Event::Posting { .. } => self.push(None, "posting"),
            Event::RoundStarted { .. } => self.push(None, "started"),
            _ => {}
        }
    }
}

/// The configuration file a team would write for these projects (labels and a
/// reviewer, as the seed's round uses).
fn config(spec: &RoundSpec) -> upkeep_config::MaintainConfig {
    let mut text = format!(
        "state_dir = {:?}\n[maintain]\nlabels = [\"maintenance\"]\nreviewers = [\"alice\"]\n",
        spec.state_dir.display().to_string()
    );
    for p in &spec.projects {
        let _ = write!(
            text,
            "[[maintain.projects]]\nname = \"{}\"\nrepo = {:?}\n",
            p.name,
            p.repo.display().to_string()
        );
    }
    Config::from_str(
        &text,
        &spec.state_dir.join("upkeep.toml"),
        std::iter::empty::<(String, String)>(),
    )
    .unwrap_or_else(|e| panic!("benchmark configuration: {e}\n{text}"))
    .maintain()
    .expect("[maintain] section")
    .clone()
}

/// The peak resident set size of this process so far, from `/proc/self/status`.
#[must_use]
pub fn peak_rss_kib() -> u64 {
    fs_err::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// The state store of `spec`: its state repository, or files under its state directory.
fn state(spec: &RoundSpec) -> StateSetup {
    match &spec.state_repo {
        Some(repo) => StateSetup::new(Arc::new(
            GitStore::open(GitStoreConfig::new(
                repo.display().to_string(),
                Credentials::none(),
                spec.state_dir.join("state"),
            ))
            .expect("the state repository"),
        )),
        None => StateSetup::local(spec.state_dir.join("state")).expect("the state directory"),
    }
}

/// The Slack adapter pointed at the fake, with `spec`'s pacing.
fn slack(spec: &RoundSpec) -> Arc<dyn ChatThreads> {
    let mut slack = SlackConfig::new(SecretString::from(FAKE_TOKEN.to_owned()), FAKE_CHANNEL);
    slack.api_url.clone_from(&spec.slack_api_url);
    slack.post_interval = Duration::from_millis(spec.post_interval_ms);
    Arc::new(SlackChat::new(slack).expect("Slack adapter"))
}

/// Runs `maintain report` for the round of `spec` (after its shards): reads the shared
/// state and posts the summary. Returns the report's warnings.
pub async fn report(spec: &RoundSpec) -> Vec<String> {
    upkeep_testkit::install_crypto_provider();
    let report = upkeep_maintain::report_round(ReportRequest {
        round: spec.date.format("%Y-%m-%d").to_string(),
        config: Arc::new(config(spec)),
        state: state(spec),
        chat: slack(spec),
        post_summary: true,
        cancel: CancellationToken::new(),
    })
    .await
    .expect("the report runs");
    report.warnings
}

/// Runs one round as `maintain run --jobs N` would, and times it.
pub async fn run(spec: &RoundSpec) -> RoundRun {
    upkeep_testkit::install_crypto_provider();
    let config = config(spec);
    let forge: Arc<dyn Forge> = Arc::new(
        GitHub::new(
            &spec.github_url,
            SecretString::from("ghp_benchmark_token".to_owned()),
            RetryPolicy::default(),
        )
        .expect("GitHub adapter"),
    );
    let chat = slack(spec);
    let projects = config
        .resolved_projects()
        .into_iter()
        .map(|project| {
            let full_name = spec
                .projects
                .iter()
                .find(|p| p.name == project.name)
                .map(|p| p.full_name.clone())
                .expect("a configured benchmark project");
            ProjectSetup {
                repo: RepoId::new(full_name),
                project,
                forge: forge.clone(),
                credentials: Credentials::none(),
            }
        })
        .collect();
    let timeline = Arc::new(Timeline {
        start: Instant::now(),
        stamps: Mutex::new(Vec::new()),
    });
    let id = spec.date.format("%Y-%m-%d").to_string();
    let state = state(spec);
    let store = state.store.clone();
    let round = Round {
        id: id.clone(),
        date: spec.date,
        config: Arc::new(config),
        projects,
        excluded: Vec::new(),
        shard: spec
            .shard
            .map(|(index, total)| Shard::new(index, total).expect("a shard")),
        help_other_shards: spec.shard.is_some(),
        jobs: NonZeroUsize::new(spec.jobs.max(1)).expect("jobs ≥ 1"),
        dry_run: false,
        retry_failed: false,
        state,
        chat,
        progress: timeline.clone(),
        cancel: CancellationToken::new(),
        author: Author::new("upkeep", "upkeep@example.com"),
    };
    let started = Instant::now();
    let report = upkeep_maintain::run_round(round)
        .await
        .expect("the round runs to its end");
    let wall_ms = started.elapsed().as_secs_f64() * 1e3;
    let journal = upkeep_maintain::Journal::load(store.as_ref(), &id)
        .ok()
        .flatten();
    let projects = report
        .projects
        .iter()
        .map(|p| ProjectRun {
            name: p.name.clone(),
            status: p.status.as_str().to_owned(),
            steps_ms: journal
                .as_ref()
                .and_then(|j| j.projects.get(&p.name))
                .map(|r| {
                    ["upgrade", "build", "test"]
                        .iter()
                        .filter_map(|s| r.steps.get(*s).map(|s| s.duration_ms))
                        .collect()
                })
                .unwrap_or_default(),
            failure: p.failure.as_ref().map(|f| f.message.clone()),
        })
        .collect();
    let stamps = timeline
        .stamps
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    RoundRun {
        wall_ms,
        stamps,
        projects,
        warnings: report.warnings,
        peak_rss_kib: peak_rss_kib(),
    }
}

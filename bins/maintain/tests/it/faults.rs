//! `maintain run` killed with SIGKILL at a random point, then run again (issue 9, fault
//! suite): the real binary against the fake GitHub (API, and git over smart HTTP with the
//! token required for pushes) and the fake Slack, with forge and Slack faults in the
//! killed run.
//!
//! Kill points are drawn from a seeded PRNG, either as "after the k-th API request" (which
//! lands between a pull request being opened and the journal recording it, or between
//! Slack posts) or as a time into the round (which lands in steps and pushes). After the
//! kill: at most one pull request per head and one thread per project, and the journal,
//! if any, parses. After the re-run: every project changed, exactly one pull request and
//! one thread (with one checklist reply) per project, one summary, the journal agrees
//! with the report, no step left running.
//!
//! Every run is at `-vv` (debug logs on stderr); at the end stdout, stderr, every file
//! under the state directory (journal, logs, clone caches and their `.git/config`), the
//! Slack messages and the pull requests are scanned for the tokens (also base64-encoded,
//! as they travel in HTTP Basic auth).

use std::fmt::Write as _;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use upkeep_testkit::faults::{Endpoint, Fault};
use upkeep_testkit::git::{HttpAuth, HttpGitServer, basic_auth_header};
use upkeep_testkit::github::FakeGitHub;
use upkeep_testkit::slack::{DEFAULT_SCOPES, FakeMessage, FakeSlack};

use crate::support::{meta_of, push_makefile};

const GITHUB_SECRET: &str = "ghp_FAULTSUITE_SECRET_4f1d2c9b8a7e6d5c";
const SLACK_SECRET: &str = "xoxb-FAULTSUITE-SECRET-9e8d7c6b5a4f";
const CHANNEL: &str = "C0FAULTS";
const NAMES: [&str; 2] = ["svc-a", "svc-b"];
/// Kill-and-re-run iterations after the calibrating run. Each costs a few seconds: the
/// Slack adapter keeps one second between posts, as Slack asks.
const KILLS: usize = 4;

/// xorshift64*: tiny and deterministic.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

struct Lab {
    dir: tempfile::TempDir,
    github: FakeGitHub,
    slack: FakeSlack,
    _git: HttpGitServer,
    /// Captured stdout and stderr of every run.
    outputs: Vec<String>,
}

impl Lab {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let github = FakeGitHub::start().await;
        github.require_token(GITHUB_SECRET);
        let slack = FakeSlack::start().await;
        slack.add_token(SLACK_SECRET, DEFAULT_SCOPES);
        slack.add_channel(CHANNEL, "maintenance", true);
        // git over HTTP serves `team/<name>.git`, which are the fake GitHub's own repos.
        let root = dir.path().join("git-root");
        fs_err::create_dir_all(root.join("team")).unwrap();
        for name in NAMES {
            let bare = github.create_repo(&format!("team/{name}"));
            fs_err::os::unix::fs::symlink(&bare, root.join(format!("team/{name}.git"))).unwrap();
            seed_main(dir.path(), &bare, name);
        }
        let git = HttpGitServer::start(
            &root,
            HttpAuth::BasicForPush {
                user: "x-access-token".to_owned(),
                password: GITHUB_SECRET.to_owned(),
            },
        );
        let mut text = format!(
            "[maintain]\nlabels = [\"maintenance\"]\n[maintain.chat]\nkind = \"slack\"\nchannel = \"{CHANNEL}\"\n"
        );
        for name in NAMES {
            let _ = write!(
                text,
                "[[maintain.projects]]\nname = \"{name}\"\nrepo = \"{}\"\nforge = \"github\"\napi_url = \"{}\"\n",
                git.url(&format!("team/{name}.git")),
                github.url()
            );
        }
        fs_err::write(dir.path().join("upkeep.toml"), text).unwrap();
        Self {
            dir,
            github,
            slack,
            _git: git,
            outputs: Vec::new(),
        }
    }

    fn command(&self, round: &str) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_maintain"));
        cmd.arg("--config")
            .arg(self.dir.path().join("upkeep.toml"))
            .args(["-vv", "run", "--round", round, "--output", "json"])
            .current_dir(self.dir.path())
            .env_remove("RUST_LOG")
            .env_remove("UPKEEP_CONFIG")
            .env_remove("GITLAB_TOKEN")
            .env("NO_COLOR", "1")
            .env("GITHUB_TOKEN", GITHUB_SECRET)
            .env("SLACK_API_TOKEN", SLACK_SECRET)
            .env("UPKEEP_SLACK_API_URL", self.slack.api_url())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    fn requests(&self) -> usize {
        self.github.faults().log().total() + self.slack.faults().log().total()
    }

    fn reset_logs(&self) {
        self.github.faults().reset_log();
        self.slack.faults().reset_log();
    }

    fn journal(&self, round: &str) -> Option<upkeep_maintain::Journal> {
        crate::support::journal_in(&self.dir.path().join(".upkeep/state"), round)
    }

    /// Runs the round to its end; returns the report (stdout JSON).
    async fn run_to_end(&mut self, round: &str, ctx: &str) -> serde_json::Value {
        let out = self.command(round).output().await.unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        self.outputs.push(stdout.clone());
        self.outputs.push(stderr.clone());
        assert!(
            out.status.success(),
            "{ctx}: exit {:?}\n{stdout}\n{}",
            out.status,
            tail(&stderr)
        );
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{ctx}: {e}\n{stdout}"))
    }

    /// Starts the round and SIGKILLs it once `k` API requests arrived or `after` passed,
    /// whichever comes first (or lets it end). Returns whether it was killed.
    async fn run_and_kill(&mut self, round: &str, k: usize, after: Duration) -> bool {
        let mut child = self.command(round).spawn().unwrap();
        let started = Instant::now();
        let killed = loop {
            if child.try_wait().unwrap().is_some() {
                break false;
            }
            if self.requests() >= k || started.elapsed() >= after {
                child.kill().await.unwrap();
                break true;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        let out = child.wait_with_output().await.unwrap();
        self.outputs
            .push(String::from_utf8_lossy(&out.stdout).into_owned());
        self.outputs
            .push(String::from_utf8_lossy(&out.stderr).into_owned());
        killed
    }

    fn top_level(&self, round: &str, kind: &str, project: Option<&str>) -> Vec<FakeMessage> {
        self.slack
            .top_level(CHANNEL)
            .into_iter()
            .filter(|m| {
                meta_of(m)
                    .is_some_and(|(k, r, p)| k == kind && r == round && p.as_deref() == project)
            })
            .collect()
    }

    fn pulls(&self, name: &str, branch: &str) -> Vec<upkeep_testkit::github::FakePull> {
        self.github
            .pulls(&format!("team/{name}"))
            .into_iter()
            .filter(|p| p.head == branch)
            .collect()
    }

    /// What must hold whatever moment the process died at.
    fn check_partial(&self, round: &str, branch: &str, ctx: &str) {
        assert!(
            self.top_level(round, "upkeep_round_summary", None).len() <= 1,
            "{ctx}"
        );
        for name in NAMES {
            let pulls = self.pulls(name, branch);
            assert!(pulls.len() <= 1, "{ctx}: {name}: {pulls:#?}");
            let threads = self.top_level(round, "upkeep_project", Some(name));
            assert!(threads.len() <= 1, "{ctx}: {name}: {threads:#?}");
        }
        // Every record parses after a kill (the load fails on a damaged one).
        let _ = self.journal(round);
    }

    /// What must hold after a run that finished.
    fn check_complete(&self, round: &str, branch: &str, report: &serde_json::Value, ctx: &str) {
        let rows: Vec<&str> = report["projects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(rows, NAMES, "{ctx}: every project is in the report");
        let journal = self
            .journal(round)
            .unwrap_or_else(|| panic!("{ctx}: no journal"));
        assert_eq!(
            self.top_level(round, "upkeep_round_summary", None).len(),
            1,
            "{ctx}: one summary"
        );
        for row in report["projects"].as_array().unwrap() {
            let name = row["name"].as_str().unwrap();
            assert_eq!(row["status"], "changed", "{ctx}: {row}");
            let record = &journal.projects[name];
            assert_eq!(
                record.status,
                Some(upkeep_maintain::Status::Changed),
                "{ctx}: {name}"
            );
            let pulls = self.pulls(name, branch);
            assert_eq!(pulls.len(), 1, "{ctx}: {name}: one pull request");
            assert_eq!(row["change_request"]["number"], pulls[0].number, "{ctx}");
            assert_eq!(
                record.change_request.as_ref().map(|c| c.number),
                Some(pulls[0].number),
                "{ctx}: {name}: journal vs forge"
            );
            let threads = self.top_level(round, "upkeep_project", Some(name));
            assert_eq!(threads.len(), 1, "{ctx}: {name}: one message");
            assert_eq!(
                record.thread.as_ref().map(|t| t.parent.message.ts.as_str()),
                Some(threads[0].ts.as_str()),
                "{ctx}: {name}: journal vs Slack"
            );
            // The checklist is inside the message; a changed project's thread is empty.
            assert!(
                threads[0].text.contains("*Checklist*: "),
                "{ctx}: {name}: checklist in the message"
            );
            let replies = self.slack.replies(CHANNEL, &threads[0].ts);
            assert!(replies.is_empty(), "{ctx}: {name}: no replies {replies:#?}");
        }
        let leftovers = files_named(&self.dir.path().join(".upkeep/logs"), "pid");
        assert!(
            leftovers.is_empty(),
            "{ctx}: steps left running: {leftovers:?}"
        );
    }

    fn assert_no_secrets(&self) {
        let mut places: Vec<(String, Vec<u8>)> = Vec::new();
        for (i, o) in self.outputs.iter().enumerate() {
            places.push((format!("output {i}"), o.clone().into_bytes()));
        }
        places.extend(files_under(&self.dir.path().join(".upkeep")));
        places.push((
            "upkeep.toml".into(),
            fs_err::read(self.dir.path().join("upkeep.toml")).unwrap(),
        ));
        for m in self.slack.messages(CHANNEL) {
            places.push((format!("slack {}", m.ts), format!("{m:?}").into_bytes()));
        }
        for name in NAMES {
            for p in self.github.pulls(&format!("team/{name}")) {
                places.push((
                    format!("pull {name}#{}", p.number),
                    format!("{p:?}").into_bytes(),
                ));
            }
        }
        let basic = basic_auth_header("x-access-token", GITHUB_SECRET);
        let encoded = basic.trim_start_matches("Basic ");
        assert!(
            places.iter().any(|(p, _)| p.ends_with("/config")),
            "the scan must include the clones' .git/config"
        );
        assert!(
            self.outputs.iter().any(|o| o.contains("DEBUG")),
            "debug logs must be captured"
        );
        for (place, bytes) in &places {
            for secret in [GITHUB_SECRET, SLACK_SECRET, "FAULTSUITE", encoded] {
                assert!(
                    !contains(bytes, secret.as_bytes()),
                    "`{secret}` found in {place}:\n{}",
                    String::from_utf8_lossy(bytes)
                        .lines()
                        .filter(|l| l.contains(secret))
                        .collect::<Vec<_>>()
                        .join("\n")
                );
            }
        }
    }
}

/// Pushes a Makefile (with a short build, so that time-based kills can land in it) and
/// the lockfile to the fake repo's `main`.
fn seed_main(dir: &Path, bare: &Path, name: &str) {
    push_makefile(dir, bare, name, "0.2", "echo 3 passed");
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn files_under(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in fs_err::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => out.extend(files_under(&path)),
            Ok(t) if t.is_file() => {
                if let Ok(bytes) = fs_err::read(&path) {
                    out.push((path.display().to_string(), bytes));
                }
            }
            _ => {}
        }
    }
    out
}

fn files_named(dir: &Path, extension: &str) -> Vec<String> {
    files_under(dir)
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| Path::new(p).extension().is_some_and(|e| e == extension))
        .collect()
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_points_then_rerun_doubles_nothing_and_leaks_no_token() {
    let mut lab = Lab::new().await;
    let mut rng = Rng(0x5DEE_CE66_D1CE_4E5B);

    // An uninterrupted round first: the reference for how many requests and how long a
    // round takes, so that kill points spread over all of it.
    lab.reset_logs();
    let started = Instant::now();
    let report = lab.run_to_end("2027-02-01", "calibration").await;
    let (full_requests, full_time) = (lab.requests(), started.elapsed());
    lab.check_complete(
        "2027-02-01",
        "feature/maintenance-27-02-01",
        &report,
        "calibration",
    );

    for i in 0..KILLS {
        let day = 2 + i;
        let round = format!("2027-02-{day:02}");
        let branch = format!("feature/maintenance-27-02-{day:02}");
        lab.reset_logs();
        // The killed run also meets faults: a 502 and a 429 on GitHub, a 429 on Slack.
        lab.github.faults().script(
            Endpoint::post("/repos/{owner}/{repo}/pulls"),
            1,
            Fault::status(502),
        );
        lab.github.faults().script(
            Endpoint::get("/repos/{owner}/{repo}/pulls"),
            1,
            Fault::rate_limited(0),
        );
        lab.slack.rate_limit_next("chat.postMessage", 1, 0);
        let (k, after) = if rng.below(2) == 0 {
            let k = 1 + rng.below(u64::try_from(full_requests).unwrap());
            (usize::try_from(k).unwrap(), Duration::from_mins(1))
        } else {
            let ms = rng.below(u64::try_from(full_time.as_millis()).unwrap());
            (usize::MAX, Duration::from_millis(ms))
        };
        let ctx = format!("kill {i} (round {round}, after request {k} or {after:?})");
        let killed = lab.run_and_kill(&round, k, after).await;
        lab.check_partial(&round, &branch, &format!("{ctx}, killed: {killed}"));

        lab.github.faults().clear();
        lab.slack.faults().clear();
        let report = lab.run_to_end(&round, &format!("{ctx}: re-run")).await;
        lab.check_complete(&round, &branch, &report, &format!("{ctx}: re-run"));
    }
    lab.assert_no_secrets();
}

/// A project's test step that dumps its environment and fails (as many test setups do on
/// failure): the log and its tail in the Slack thread must not carry the tokens `maintain`
/// was given.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_that_prints_its_environment_shows_no_token() {
    let mut lab = Lab::new().await;
    let bare = lab.github.repo_path("team/svc-b");
    push_makefile(lab.dir.path(), &bare, "svc-b", "0.2", "env | sort; exit 1");
    let out = lab.command("2027-03-01").output().await.unwrap();
    lab.outputs
        .push(String::from_utf8_lossy(&out.stdout).into_owned());
    lab.outputs
        .push(String::from_utf8_lossy(&out.stderr).into_owned());
    assert_eq!(out.status.code(), Some(1), "{}", lab.outputs[1]);
    let log = fs_err::read_to_string(
        lab.dir
            .path()
            .join(".upkeep/logs/2027-03-01/svc-b/test.log"),
    )
    .unwrap();
    assert!(
        log.contains("PATH="),
        "the step printed its environment: {log}"
    );
    lab.assert_no_secrets();
}

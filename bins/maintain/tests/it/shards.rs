//! A sharded round on throwaway runners (issue 13): the real binary, a real bare git
//! repository as the shared state store, the fake GitHub (API and git over smart HTTP)
//! and the fake Slack.
//!
//! Each runner has a directory of its own (its clone cache, logs and state scratch), as a
//! CI job has its own disk. Four shards run at once over twenty projects, with a second
//! copy of one shard at the same time (a retried job overlapping the first) and one shard
//! killed with `SIGKILL` at a random moment; `maintain report` then shows what the dead shard left;
//! the dead shard is re-run on an empty disk; two reports run at once. In the end every
//! project has exactly one branch, one pull request and one message, there is one
//! summary, every project is accounted for, and the state agrees with the forge and Slack.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use upkeep_git::Credentials;
use upkeep_maintain::{Journal, Status};
use upkeep_state::{GitStore, GitStoreConfig};
use upkeep_testkit::faults::{Endpoint, Fault};
use upkeep_testkit::git::{FaultyGitServer, HttpAuth, HttpGitServer};
use upkeep_testkit::github::FakeGitHub;
use upkeep_testkit::slack::{DEFAULT_SCOPES, FakeMessage, FakeSlack};

use crate::support::{meta_of, push_makefile};

const GITHUB_SECRET: &str = "ghp_SHARDSUITE_SECRET_7a6b5c4d3e2f1a0b";
const SLACK_SECRET: &str = "xoxb-SHARDSUITE-SECRET-1a2b3c4d5e6f";
const CHANNEL: &str = "C0SHARDS";
const ROUND: &str = "2027-04-05";
const BRANCH: &str = "feature/maintenance-27-04-05";

struct Lab {
    dir: tempfile::TempDir,
    github: FakeGitHub,
    slack: FakeSlack,
    _git: HttpGitServer,
    names: Vec<String>,
    /// The configuration every runner copies.
    config: String,
    /// The state repository's URL (a bare path, or a URL of the faulty server).
    state_url: String,
    outputs: Vec<String>,
}

impl Lab {
    async fn new(projects: usize, state_url: impl FnOnce(&Path) -> String) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let github = FakeGitHub::start().await;
        github.require_token(GITHUB_SECRET);
        let slack = FakeSlack::start().await;
        slack.add_token(SLACK_SECRET, DEFAULT_SCOPES);
        slack.add_channel(CHANNEL, "maintenance", true);
        let root = dir.path().join("git-root");
        fs_err::create_dir_all(root.join("team")).unwrap();
        let names: Vec<String> = (0..projects).map(|i| format!("svc-{i:02}")).collect();
        for name in &names {
            let bare = github.create_repo(&format!("team/{name}"));
            fs_err::os::unix::fs::symlink(&bare, root.join(format!("team/{name}.git"))).unwrap();
            push_makefile(dir.path(), &bare, name, "0.3", "echo 3 passed");
        }
        let git = HttpGitServer::start(
            &root,
            HttpAuth::BasicForPush {
                user: "x-access-token".to_owned(),
                password: GITHUB_SECRET.to_owned(),
            },
        );
        let state_url = state_url(dir.path());
        let mut config = format!(
            "[state]\nrepo = \"{state_url}\"\nlease = \"30s\"\n\n[maintain]\nlabels = [\"maintenance\"]\n[maintain.chat]\nkind = \"slack\"\nchannel = \"{CHANNEL}\"\n"
        );
        for name in &names {
            let _ = write!(
                config,
                "[[maintain.projects]]\nname = \"{name}\"\nrepo = \"{}\"\nforge = \"github\"\napi_url = \"{}\"\n",
                git.url(&format!("team/{name}.git")),
                github.url()
            );
        }
        Self {
            dir,
            github,
            slack,
            _git: git,
            names,
            config,
            state_url,
            outputs: Vec::new(),
        }
    }

    /// A runner's own directory with the configuration in it, created empty when new.
    fn runner(&self, name: &str) -> PathBuf {
        let dir = self.dir.path().join("runners").join(name);
        fs_err::create_dir_all(&dir).unwrap();
        fs_err::write(dir.join("upkeep.toml"), &self.config).unwrap();
        dir
    }

    fn command(&self, runner: &Path, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_maintain"));
        cmd.arg("--config")
            .arg(runner.join("upkeep.toml"))
            .arg("-v")
            .args(args)
            .args(["--round", ROUND, "--output", "json"])
            .current_dir(runner)
            .env_remove("RUST_LOG")
            .env_remove("UPKEEP_CONFIG")
            .env_remove("UPKEEP_SHARD")
            .env_remove("UPKEEP_SHARDS")
            .env_remove("CI_NODE_INDEX")
            .env_remove("CI_NODE_TOTAL")
            .env_remove("JOB_COMPLETION_INDEX")
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

    /// Waits for a process; returns its exit code and report.
    async fn finish(
        &mut self,
        child: tokio::process::Child,
        ctx: &str,
    ) -> (Option<i32>, serde_json::Value) {
        let out = child.wait_with_output().await.unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        self.outputs.push(stdout.clone());
        self.outputs.push(stderr.clone());
        let report = serde_json::from_str(&stdout).unwrap_or_else(|e| {
            panic!(
                "{ctx}: exit {:?}, no report ({e})\n{stdout}\n{}",
                out.status,
                tail(&stderr)
            )
        });
        (out.status.code(), report)
    }

    fn journal(&self) -> Journal {
        let scratch = tempfile::tempdir().unwrap();
        let store = GitStore::open(GitStoreConfig::new(
            self.state_url.clone(),
            Credentials::none(),
            scratch.path().to_owned(),
        ))
        .unwrap();
        Journal::load(&store, ROUND)
            .unwrap()
            .expect("the round is recorded")
    }

    fn top_level(&self, kind: &str, project: Option<&str>) -> Vec<FakeMessage> {
        self.slack
            .top_level(CHANNEL)
            .into_iter()
            .filter(|m| {
                meta_of(m)
                    .is_some_and(|(k, r, p)| k == kind && r == ROUND && p.as_deref() == project)
            })
            .collect()
    }

    /// Exactly one of everything per project, one summary, and the state agreeing with
    /// the forge and Slack.
    fn check_complete(&self, report: &serde_json::Value, ctx: &str) {
        let rows = report["projects"].as_array().unwrap();
        let mut named: Vec<&str> = rows.iter().map(|p| p["name"].as_str().unwrap()).collect();
        named.sort_unstable();
        assert_eq!(named, self.names, "{ctx}: every project is in the report");
        assert_eq!(
            self.top_level("upkeep_round_summary", None).len(),
            1,
            "{ctx}: one summary"
        );
        let journal = self.journal();
        for row in rows {
            let name = row["name"].as_str().unwrap();
            assert_eq!(row["status"], "changed", "{ctx}: {row}");
            let record = &journal.projects[name];
            assert_eq!(record.status, Some(Status::Changed), "{ctx}: {name}");
            let pulls: Vec<_> = self
                .github
                .pulls(&format!("team/{name}"))
                .into_iter()
                .filter(|p| p.head == BRANCH)
                .collect();
            assert_eq!(pulls.len(), 1, "{ctx}: {name}: one pull request");
            assert_eq!(
                record.change_request.as_ref().map(|c| c.number),
                Some(pulls[0].number),
                "{ctx}: {name}: state vs forge"
            );
            let bare = self.github.repo_path(&format!("team/{name}"));
            assert!(
                upkeep_testkit::git::read_ref(&bare, &format!("refs/heads/{BRANCH}")).is_some(),
                "{ctx}: {name}: the branch"
            );
            let messages = self.top_level("upkeep_project", Some(name));
            assert_eq!(messages.len(), 1, "{ctx}: {name}: one message");
            assert_eq!(
                record.thread.as_ref().map(|t| t.parent.message.ts.as_str()),
                Some(messages[0].ts.as_str()),
                "{ctx}: {name}: state vs Slack"
            );
            assert!(!record.chat_pending, "{ctx}: {name}");
        }
    }

    fn assert_no_secrets(&self) {
        let mut places: Vec<(String, String)> = self
            .outputs
            .iter()
            .enumerate()
            .map(|(i, o)| (format!("output {i}"), o.clone()))
            .collect();
        let state = Path::new(&self.state_url);
        if state.is_dir() {
            // Every ref and object of the state repository, as text.
            let all = upkeep_testkit::git::git(state, &["log", "--all", "-p", "--format=%B"]);
            places.push(("state repository".into(), all));
        }
        for (place, text) in &places {
            for secret in [GITHUB_SECRET, SLACK_SECRET, "SHARDSUITE"] {
                assert!(!text.contains(secret), "`{secret}` found in {place}");
            }
        }
    }
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// A pseudo-random moment from the clock's nanoseconds: a different kill point each run,
/// printed so that a failure can be read against it.
fn random_millis(below: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    u64::from(nanos) % below.max(1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_shards_one_killed_one_doubled_then_rerun_and_reported_twice() {
    let mut lab = Lab::new(20, |dir| {
        let bare = dir.join("state.git");
        upkeep_testkit::git::init_bare(&bare);
        bare.display().to_string()
    })
    .await;
    let kill_after = Duration::from_millis(300 + random_millis(4000));

    // Four shards at once, and shard 2 twice (a retried job overlapping the first).
    let mut children = Vec::new();
    for (runner, shard) in [
        ("a", "1/4"),
        ("b", "2/4"),
        ("c", "3/4"),
        ("d", "4/4"),
        ("b-again", "2/4"),
    ] {
        let dir = lab.runner(runner);
        let child = lab
            .command(&dir, &["run", "--shard", shard, "--jobs", "2"])
            .spawn()
            .unwrap();
        children.push((runner, child));
    }
    let started = Instant::now();
    let (_, mut killed) = children.remove(2);
    let was_killed = loop {
        if killed.try_wait().unwrap().is_some() {
            break false;
        }
        if started.elapsed() >= kill_after {
            killed.kill().await.unwrap();
            break true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let out = killed.wait_with_output().await.unwrap();
    lab.outputs
        .push(String::from_utf8_lossy(&out.stdout).into_owned());
    lab.outputs
        .push(String::from_utf8_lossy(&out.stderr).into_owned());
    for (runner, child) in children {
        let (code, report) = lab.finish(child, runner).await;
        assert_eq!(code, Some(0), "{runner}: {report:#}");
    }

    // The report before shard 3 is re-run: what it finished, and what it left.
    let reporter = lab.runner("report-early");
    let early = lab
        .command(&reporter, &["report", "--no-post"])
        .spawn()
        .unwrap();
    let (code, early) = lab.finish(early, "early report").await;
    let rows = early["projects"].as_array().unwrap();
    assert_eq!(rows.len(), 20, "every project accounted for: {early:#}");
    let unfinished: Vec<&serde_json::Value> =
        rows.iter().filter(|r| r["status"] != "changed").collect();
    for row in &unfinished {
        assert!(
            row["unfinished"]["why"].is_string(),
            "an unfinished project says why: {row}"
        );
    }
    assert_eq!(
        code,
        Some(i32::from(!unfinished.is_empty())),
        "killed after {kill_after:?}: {was_killed}; {early:#}"
    );
    assert!(
        lab.top_level("upkeep_round_summary", None).is_empty(),
        "--no-post posts nothing"
    );

    // Shard 3 again on a fresh runner with an empty disk: it finishes what was left,
    // taking over the dead process's claims.
    let fresh = lab.runner("c-fresh");
    let rerun = lab
        .command(&fresh, &["run", "--shard", "3/4", "--jobs", "2"])
        .spawn()
        .unwrap();
    let (code, rerun) = lab.finish(rerun, "shard 3 re-run").await;
    assert_eq!(code, Some(0), "killed after {kill_after:?}: {rerun:#}");

    // Two reports at once: one summary.
    let (r1, r2) = (lab.runner("report-1"), lab.runner("report-2"));
    let first = lab.command(&r1, &["report"]).spawn().unwrap();
    let second = lab.command(&r2, &["report"]).spawn().unwrap();
    let (c1, report1) = lab.finish(first, "report 1").await;
    let (c2, report2) = lab.finish(second, "report 2").await;
    assert_eq!((c1, c2), (Some(0), Some(0)), "{report1:#}\n{report2:#}");
    lab.check_complete(&report1, "report 1");
    lab.check_complete(&report2, "report 2");
    let summary = &lab.top_level("upkeep_round_summary", None)[0];
    assert!(summary.text.contains("20"), "{}", summary.text);
    lab.assert_no_secrets();
}

/// The state repository behind a server that answers 5xx, drops connections before and
/// after acting on a push: the round ends, the state loses nothing, and a re-run doubles
/// nothing.
#[test]
fn a_flaky_state_repository_loses_and_doubles_nothing() {
    let state_root = tempfile::tempdir().unwrap();
    upkeep_testkit::git::init_bare(&state_root.path().join("state.git"));
    // The server runs a runtime of its own: started and stopped outside the test's.
    let server = FaultyGitServer::start(state_root.path());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(flaky_round(&server));
    drop(runtime);
}

async fn flaky_round(server: &FaultyGitServer) {
    let url = server.url("state.git");
    let mut lab = Lab::new(3, |_| url.clone()).await;
    let faults = server.faults();
    faults.script(Endpoint::get("/state.git/info/refs"), 2, Fault::status(503));
    faults.script(
        Endpoint::post("/state.git/git-receive-pack"),
        1,
        Fault::DropBeforeHandling,
    );
    faults.script(
        Endpoint::post("/state.git/git-upload-pack"),
        1,
        Fault::DropBeforeHandling,
    );
    faults.script(
        Endpoint::post("/state.git/git-receive-pack"),
        1,
        Fault::DropAfterHandling,
    );
    let runner = lab.runner("only");
    let run = lab
        .command(&runner, &["run", "--jobs", "2"])
        .spawn()
        .unwrap();
    let (code, report) = lab.finish(run, "flaky run").await;
    assert_eq!(code, Some(0), "{report:#}");
    assert!(
        faults.log().total() > 0,
        "the round went through the faulty server"
    );
    lab.check_complete(&report, "flaky run");
    faults.clear();

    // A re-run on a fresh runner: nothing to do, nothing doubled.
    let again = lab.runner("again");
    let rerun = lab.command(&again, &["run"]).spawn().unwrap();
    let (code, report) = lab.finish(rerun, "re-run").await;
    assert_eq!(code, Some(0), "{report:#}");
    lab.check_complete(&report, "re-run");
    lab.assert_no_secrets();
}

/// A state repository that refuses every push (a hook, as a read-only repository or a
/// protected ref would): the round stops before it touches anything, says why, and a
/// run once the repository takes pushes again does everything exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_repository_that_rejects_pushes_changes_nothing_until_it_takes_them() {
    let mut lab = Lab::new(3, |dir| {
        let bare = dir.join("state.git");
        upkeep_testkit::git::init_bare(&bare);
        bare.display().to_string()
    })
    .await;
    let bare = PathBuf::from(&lab.state_url);
    upkeep_testkit::git::install_pre_receive_hook(
        &bare,
        "echo 'state is read-only today' >&2\nexit 1",
    );
    let runner = lab.runner("refused");
    let out = lab
        .command(&runner, &["run", "--jobs", "2"])
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    lab.outputs.push(stderr.clone());
    assert_eq!(out.status.code(), Some(3), "{}", tail(&stderr));
    assert!(stderr.contains("state"), "{}", tail(&stderr));
    for name in &lab.names {
        assert!(
            lab.github.pulls(&format!("team/{name}")).is_empty(),
            "{name}: nothing opened without state"
        );
    }
    assert!(lab.slack.top_level(CHANNEL).is_empty(), "nothing posted");

    upkeep_testkit::git::install_pre_receive_hook(&bare, "exit 0");
    let again = lab.runner("accepted");
    let run = lab
        .command(&again, &["run", "--jobs", "2"])
        .spawn()
        .unwrap();
    let (code, report) = lab.finish(run, "after the repository takes pushes").await;
    assert_eq!(code, Some(0), "{report:#}");
    lab.check_complete(&report, "after the repository takes pushes");
}

//! The round under injected faults (issue 9, fault suite): many rounds through the real
//! GitHub and Slack adapters against the testkit fakes, each with faults drawn from a
//! seeded PRNG — forge 5xx, 429 and dropped connections (before and after the server did
//! the work), a forge that stays down, Slack 429s, 5xx and dropped connections, a step
//! killed by a signal — then the faults are lifted and the round is run again.
//!
//! After every run, whatever the faults did: every project is in the report, the journal
//! parses and agrees with the report, no head has two pull requests, no project has two
//! threads and the round has one summary. After the repair run: every project changed,
//! with exactly one pull request and one thread (with one checklist reply) per project.
//! At the end, nothing the round wrote or sent carries the test tokens.
//!
//! Seeds are fixed; a failure message names the seed and round so it can be replayed by
//! running that test alone.

use std::fmt::Write as _;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use secrecy::SecretString;
use upkeep_chat::{ChatThreads, SlackChat, SlackConfig};
use upkeep_config::{Config, MaintainConfig};
use upkeep_forge::github::GitHub;
use upkeep_forge::retry::RetryPolicy;
use upkeep_forge::{Forge, RepoId};
use upkeep_git::{Author, Credentials};
use upkeep_maintain::{
    CancellationToken, Journal, NoProgress, ProjectSetup, Round, RoundReport, Status,
};
use upkeep_testkit::faults::{Endpoint, Fault};
use upkeep_testkit::github::FakeGitHub;
use upkeep_testkit::slack::{DEFAULT_SCOPES, FakeMessage, FakeSlack};

use crate::support::{BUMP, REQUIREMENTS};

/// Distinctive fake tokens: finding one of these anywhere is a leak.
pub(crate) const GITHUB_SECRET: &str = "ghp_FAULTSUITE_SECRET_4f1d2c9b8a7e6d5c";
pub(crate) const SLACK_SECRET: &str = "xoxb-FAULTSUITE-SECRET-9e8d7c6b5a4f";

/// Rounds per test: four tests with different seeds make the 100 rounds, about
/// 30 s on two cores. `UPKEEP_FAULT_ROUNDS=N` runs N per test instead (a longer soak).
const ROUNDS: usize = 25;
/// Projects per round.
const PROJECTS: usize = 3;

/// xorshift64*: tiny and deterministic; enough to pick faults reproducibly.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next_u64() % u64::try_from(n).unwrap()).unwrap()
    }

    pub(crate) fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Fake GitHub and Slack, and a few projects whose `main` carries a Makefile and a lockfile.
struct Lab {
    github: FakeGitHub,
    slack: FakeSlack,
    state: tempfile::TempDir,
    names: Vec<String>,
    seed: u64,
    rounds: Vec<String>,
}

/// A Makefile whose test step kills its own process group when a marker file exists.
fn makefile(markers: &Path, name: &str) -> String {
    let marker = markers.join(format!("kill-{name}"));
    format!(
        ".PHONY: upgrade build test\nupgrade:\n\t{BUMP}\nbuild:\n\techo building {name}\ntest:\n\tif [ -e '{}' ]; then echo 'killing myself'; kill -KILL 0; fi; echo 3 passed\n",
        marker.display()
    )
}

impl Lab {
    async fn new(seed: u64) -> Self {
        upkeep_testkit::init_tracing();
        upkeep_testkit::install_crypto_provider();
        let github = FakeGitHub::start().await;
        github.require_token(GITHUB_SECRET);
        let slack = FakeSlack::start().await;
        slack.add_token(SLACK_SECRET, DEFAULT_SCOPES);
        let state = tempfile::tempdir().unwrap();
        fs_err::create_dir_all(state.path().join("markers")).unwrap();
        let names: Vec<String> = (0..PROJECTS).map(|i| format!("svc-{i}")).collect();
        for name in &names {
            let bare = github.create_repo(&format!("team/{name}"));
            let work = state.path().join(format!("seed-{name}"));
            fs_err::create_dir_all(&work).unwrap();
            let git = |args: &[&str]| upkeep_testkit::git::git(&work, args);
            git(&["clone", "--quiet", &bare.to_string_lossy(), "."]);
            fs_err::write(
                work.join("Makefile"),
                makefile(&state.path().join("markers"), name),
            )
            .unwrap();
            fs_err::write(work.join("requirements.txt"), REQUIREMENTS).unwrap();
            git(&["add", "."]);
            git(&["commit", "--quiet", "-m", "project files"]);
            git(&["push", "--quiet", "origin", "HEAD:refs/heads/main"]);
        }
        Self {
            github,
            slack,
            state,
            names,
            seed,
            rounds: Vec::new(),
        }
    }

    fn config(&self) -> MaintainConfig {
        let mut text =
            String::from("state_dir = \"state\"\n[maintain]\nlabels = [\"maintenance\"]\n");
        for name in &self.names {
            let path = self.github.repo_path(&format!("team/{name}"));
            let _ = write!(
                text,
                "[[maintain.projects]]\nname = \"{name}\"\nrepo = \"{}\"\n",
                path.display()
            );
        }
        Config::from_str(
            &text,
            &self.state.path().join("upkeep.toml"),
            std::iter::empty::<(String, String)>(),
        )
        .unwrap()
        .maintain()
        .unwrap()
        .clone()
    }

    fn round(&self, id: &str, date: NaiveDate, retry_failed: bool) -> Round {
        let config = self.config();
        let forge: Arc<dyn Forge> = Arc::new(
            GitHub::new(
                &self.github.url(),
                SecretString::from(GITHUB_SECRET.to_owned()),
                RetryPolicy::fast(),
            )
            .unwrap(),
        );
        let projects = config
            .resolved_projects()
            .into_iter()
            .map(|project| ProjectSetup {
                repo: RepoId::new(format!("team/{}", project.name)),
                project,
                forge: forge.clone(),
                // A local path: the token must not be sent, nor written anywhere.
                credentials: Credentials::https_token(SecretString::from(GITHUB_SECRET.to_owned())),
            })
            .collect();
        let mut slack = SlackConfig::new(SecretString::from(SLACK_SECRET.to_owned()), channel(id));
        slack.api_url = self.slack.api_url();
        slack.post_interval = std::time::Duration::ZERO;
        slack.backoff = std::time::Duration::from_millis(5);
        Round {
            id: id.to_owned(),
            date,
            config: Arc::new(config),
            projects,
            excluded: Vec::new(),
            shard: None,
            help_other_shards: false,
            state: crate::support::state_in(self.state.path()),
            jobs: NonZeroUsize::new(PROJECTS).unwrap(),
            dry_run: false,
            retry_failed,
            chat: Arc::new(SlackChat::new(slack).unwrap()) as Arc<dyn ChatThreads>,
            progress: Arc::new(NoProgress),
            cancel: CancellationToken::new(),
            author: Author::new("upkeep", "upkeep@example.com"),
        }
    }

    fn journal(&self, id: &str) -> Option<Journal> {
        crate::support::journal_in(self.state.path(), id)
    }

    fn marker(&self, name: &str) -> PathBuf {
        self.state
            .path()
            .join("markers")
            .join(format!("kill-{name}"))
    }

    /// Scripts this round's faults; returns a description for failure messages.
    fn inject(&self, rng: &mut Rng) -> Vec<String> {
        let mut injected = Vec::new();
        let github_endpoints = [
            Endpoint::post("/repos/{owner}/{repo}/pulls"),
            Endpoint::get("/repos/{owner}/{repo}/pulls"),
            Endpoint::any("/repos/{owner}/{repo}/issues/{number}"),
            Endpoint::post("/repos/{owner}/{repo}/issues/{number}/labels"),
            Endpoint::get("/repos/{owner}/{repo}/pulls/{number}/reviews"),
        ];
        let github_faults = [
            Fault::status(500),
            Fault::status(502),
            Fault::status(503),
            Fault::rate_limited(0),
            Fault::DropBeforeHandling,
            Fault::DropAfterHandling,
        ];
        for _ in 0..rng.below(4) {
            let endpoint = rng.pick(&github_endpoints).clone();
            let fault = rng.pick(&github_faults).clone();
            let times = 1 + rng.below(3);
            injected.push(format!("github {endpoint:?} x{times}: {fault:?}"));
            self.github.faults().script(endpoint, times, fault);
        }
        if rng.chance(10) {
            // Down for longer than the retry policy waits: the project fails at the forge.
            let endpoint = Endpoint::post("/repos/{owner}/{repo}/pulls");
            injected.push("github down: POST pulls x50 503".to_owned());
            self.github
                .faults()
                .script(endpoint, 50, Fault::status(503));
        }
        let slack_methods = [
            "chat.postMessage",
            "chat.update",
            "conversations.history",
            "conversations.replies",
            "reactions.add",
        ];
        for _ in 0..rng.below(4) {
            let method = *rng.pick(&slack_methods);
            let times = 1 + rng.below(2);
            match rng.below(4) {
                0 => {
                    injected.push(format!("slack {method} x{times}: 429"));
                    self.slack.rate_limit_next(method, times, 0);
                }
                n => {
                    let fault = match n {
                        1 => Fault::status(500),
                        2 => Fault::DropBeforeHandling,
                        _ => Fault::DropAfterHandling,
                    };
                    injected.push(format!("slack {method} x{times}: {fault:?}"));
                    self.slack.faults().script(
                        Endpoint::any(format!("/api/{method}")),
                        times,
                        fault,
                    );
                }
            }
        }
        if rng.chance(25) {
            let name = rng.pick(&self.names).clone();
            injected.push(format!("test step of {name} killed by SIGKILL"));
            fs_err::write(self.marker(&name), "").unwrap();
        }
        injected
    }

    /// Requests that got a fault instead of (or on top of) the real answer so far.
    fn faulted_requests(&self) -> usize {
        [self.github.faults().log(), self.slack.faults().log()]
            .iter()
            .map(|log| log.records.iter().filter(|r| r.fault.is_some()).count())
            .sum()
    }

    fn lift_faults(&self) {
        self.github.faults().reset_log();
        self.slack.faults().reset_log();
        self.github.faults().clear();
        self.slack.faults().clear();
        for name in &self.names {
            let _ = fs_err::remove_file(self.marker(name));
        }
    }

    fn project_messages(&self, round: &str, kind: &str, project: Option<&str>) -> Vec<FakeMessage> {
        self.slack
            .top_level(&channel(round))
            .into_iter()
            .filter(|m| {
                meta_of(m)
                    .is_some_and(|(k, r, p)| k == kind && r == round && p.as_deref() == project)
            })
            .collect()
    }

    /// What must hold after any run, faulty or not. `all_changed`: after the repair run.
    fn check(&self, ctx: &str, id: &str, branch: &str, report: &RoundReport, all_changed: bool) {
        let rendered = report.render_text();
        let ctx = format!("{ctx}\n{rendered}");
        assert!(!report.interrupted, "{ctx}");
        let rows: Vec<&str> = report.projects.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(rows, self.names, "every project is in the report: {ctx}");

        let journal: Journal = self
            .journal(id)
            .unwrap_or_else(|| panic!("no journal\n{ctx}"));
        assert_eq!(journal.round, id, "{ctx}");
        assert_eq!(
            self.project_messages(id, "upkeep_round_summary", None)
                .len(),
            1,
            "one summary per round: {ctx}"
        );
        for row in &report.projects {
            let name = row.name.as_str();
            let record = journal
                .projects
                .get(name)
                .unwrap_or_else(|| panic!("{name} missing from the journal: {ctx}"));
            assert_eq!(
                record.status,
                Some(row.status),
                "{name}: journal vs report: {ctx}"
            );
            assert_eq!(record.change_request, row.change_request, "{name}: {ctx}");
            if row.status == Status::Failed {
                assert!(
                    record.failure.is_some(),
                    "{name}: a failure says why: {ctx}"
                );
            }

            let pulls: Vec<_> = self
                .github
                .pulls(&format!("team/{name}"))
                .into_iter()
                .filter(|p| p.head == branch)
                .collect();
            assert!(
                pulls.len() <= 1,
                "{name}: duplicate pull requests {pulls:#?}: {ctx}"
            );
            if let Some(cr) = &row.change_request {
                assert_eq!(pulls.len(), 1, "{name}: {ctx}");
                assert_eq!(pulls[0].number, cr.number, "{name}: {ctx}");
            }

            let threads = self.project_messages(id, "upkeep_project", Some(name));
            assert!(
                threads.len() <= 1,
                "{name}: duplicate threads {threads:#?}: {ctx}"
            );
            if let Some(thread) = &record.thread {
                assert_eq!(threads.len(), 1, "{name}: {ctx}");
                assert_eq!(thread.parent.message.ts, threads[0].ts, "{name}: {ctx}");
            }

            if all_changed {
                assert_eq!(row.status, Status::Changed, "{name}: {ctx}");
                assert!(
                    record.pushed && !record.chat_pending,
                    "{name}: {record:?}: {ctx}"
                );
                assert_eq!(pulls.len(), 1, "{name}: one pull request: {ctx}");
                assert!(
                    pulls[0]
                        .body
                        .as_deref()
                        .unwrap_or_default()
                        .contains("django"),
                    "{name}: {ctx}"
                );
                assert_eq!(threads.len(), 1, "{name}: one message: {ctx}");
                // The checklist is in the message; a changed project's thread is empty
                // (a failure report of an earlier, failed run may stay).
                assert!(
                    threads[0].text.contains("*Checklist*: "),
                    "{name}: checklist in the message: {ctx}"
                );
                let replies: Vec<_> = self
                    .slack
                    .replies(&channel(id), &threads[0].ts)
                    .into_iter()
                    .filter(|m| meta_of(m).is_none_or(|(k, _, _)| k != "upkeep_failure"))
                    .collect();
                assert!(
                    replies.is_empty(),
                    "{name}: no other replies {replies:#?}: {ctx}"
                );
                let tip = upkeep_testkit::git::read_ref(
                    &self.github.repo_path(&format!("team/{name}")),
                    &format!("refs/heads/{branch}"),
                )
                .map(|o| o.to_string());
                assert_eq!(tip, record.commit, "{name}: pushed commit: {ctx}");
            }
        }
    }

    /// Every place a token could end up: files under the state dir (journal, logs, clone
    /// caches with their `.git/config`), messages in the fake Slack, pull requests.
    fn assert_no_secrets(&self, reports: &[String]) {
        let mut places: Vec<(String, Vec<u8>)> = files_under(self.state.path());
        for id in &self.rounds {
            for m in self.slack.messages(&channel(id)) {
                places.push((
                    format!("slack message {}", m.ts),
                    format!("{m:?}").into_bytes(),
                ));
            }
        }
        for name in &self.names {
            for p in self.github.pulls(&format!("team/{name}")) {
                places.push((
                    format!("pull request {}", p.number),
                    format!("{p:?}").into_bytes(),
                ));
            }
        }
        for (i, r) in reports.iter().enumerate() {
            places.push((format!("report {i}"), r.clone().into_bytes()));
        }
        assert!(places.len() > 10, "the scan must see something");
        for (place, bytes) in &places {
            for secret in [GITHUB_SECRET, SLACK_SECRET, "FAULTSUITE"] {
                assert!(
                    !contains(bytes, secret.as_bytes()),
                    "seed {}: `{secret}` found in {place}",
                    self.seed
                );
            }
        }
    }
}

/// Each round posts into its own channel, so that a channel's history (which the adapter
/// scans for the round's messages) does not grow with the number of rounds in the test.
fn channel(round: &str) -> String {
    format!("C{}", round.replace('-', ""))
}

/// `(event_type, round, project)` of an upkeep message.
fn meta_of(m: &FakeMessage) -> Option<(String, String, Option<String>)> {
    let meta = m.metadata.as_ref()?;
    let kind = meta.get("event_type")?.as_str()?.to_owned();
    let payload = meta.get("event_payload")?;
    let round = payload.get("round")?.as_str()?.to_owned();
    let project = payload
        .get("project")
        .and_then(|p| p.as_str())
        .map(str::to_owned);
    Some((kind, round, project))
}

pub(crate) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every regular file under `dir`, with its contents.
pub(crate) fn files_under(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let Ok(entries) = fs_err::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            out.extend(files_under(&path));
        } else if kind.is_file()
            && let Ok(bytes) = fs_err::read(&path)
        {
            out.push((path.display().to_string(), bytes));
        }
    }
    out
}

#[expect(
    clippy::disallowed_methods,
    reason = "whoever runs the tests may ask for more rounds"
)]
fn rounds() -> usize {
    std::env::var("UPKEEP_FAULT_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(ROUNDS)
}

async fn rounds_under_faults(seed: u64) {
    let mut lab = Lab::new(seed).await;
    let mut rng = Rng::new(seed);
    let start = NaiveDate::from_ymd_opt(2027, 1, 1).unwrap();
    let mut reports = Vec::new();
    let (mut faulted_rounds, mut faulted_requests) = (0, 0);
    let rounds = rounds();
    for i in 0..rounds {
        let date = start + chrono::Days::new(u64::try_from(i).unwrap());
        let id = date.format("%Y-%m-%d").to_string();
        let branch = upkeep_maintain::branch_name(&lab.config(), date);
        lab.slack
            .add_channel(&channel(&id), &format!("maintenance-{id}"), true);
        lab.rounds.push(id.clone());
        let injected = lab.inject(&mut rng);
        let ctx = format!("seed {seed}, round {i} ({id}), faults {injected:#?}");

        let first = upkeep_maintain::run_round(lab.round(&id, date, false))
            .await
            .unwrap_or_else(|e| panic!("{e}\n{ctx}"));
        lab.check(&format!("{ctx}\nfaulty run"), &id, &branch, &first, false);
        reports.push(first.render_text());
        reports.push(first.to_json().to_string());

        faulted_rounds += usize::from(first.has_failures());
        faulted_requests += lab.faulted_requests();
        lab.lift_faults();
        let last = if first.has_failures() {
            let again = upkeep_maintain::run_round(lab.round(&id, date, true))
                .await
                .unwrap_or_else(|e| panic!("{e}\n{ctx}"));
            reports.push(again.render_text());
            again
        } else {
            first
        };
        lab.check(&format!("{ctx}\nrepair run"), &id, &branch, &last, true);

        if rng.chance(15) {
            // Without its journal, a re-run must find everything it did and double nothing.
            crate::support::forget_round(lab.state.path(), &id);
            let fresh = upkeep_maintain::run_round(lab.round(&id, date, false))
                .await
                .unwrap_or_else(|e| panic!("{e}\n{ctx}"));
            lab.check(
                &format!("{ctx}\nrun without journal"),
                &id,
                &branch,
                &fresh,
                true,
            );
        }
    }
    // The faults really hit: requests were refused or dropped, and some projects failed
    // (and were then finished by the repair run).
    assert!(
        faulted_requests >= rounds,
        "only {faulted_requests} faulted requests"
    );
    assert!(
        faulted_rounds >= rounds / 10,
        "only {faulted_rounds} rounds with failures"
    );
    lab.assert_no_secrets(&reports);
}

#[tokio::test]
async fn rounds_under_faults_seed_1() {
    rounds_under_faults(0x9E37_79B9_7F4A_7C15).await;
}

#[tokio::test]
async fn rounds_under_faults_seed_2() {
    rounds_under_faults(0xD1B5_4A32_D192_ED03).await;
}

#[tokio::test]
async fn rounds_under_faults_seed_3() {
    rounds_under_faults(0x8CB9_2BA7_2F3D_8DD7).await;
}

#[tokio::test]
async fn rounds_under_faults_seed_4() {
    rounds_under_faults(0x2545_F491_4F6C_DD1D).await;
}

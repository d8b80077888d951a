//! `move-branches run` killed with SIGKILL at a random moment, then run again (issue 9,
//! fault suite). The packit set of eight local repos, each of whose pushes takes a little
//! while (a `pre-receive` hook sleeps), so that kills land before, between and during
//! the moves of the dependency levels; the bare repos keep a reflog of `stable`.
//!
//! After each kill, once the pushes the dead process had started are over: every repo's
//! `stable` is where the promotion started or exactly at its planned commit. After the
//! re-run: every repo is promoted. And the history never claims a move that did not
//! happen: every `moved` entry is an update of `stable` from → to that the repo's reflog
//! shows, and no update is claimed twice.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::scenario::Scenario;

const REPOS: [(&str, &[&str]); 8] = [
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
/// Kill-and-re-run iterations (a promotion each).
const KILLS: usize = 6;

/// xorshift64*: tiny and deterministic.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

fn command(s: &Scenario) -> tokio::process::Command {
    s.write_config();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_move-branches"));
    cmd.arg("--config")
        .arg(s.config_path())
        .args(["run", "--yes"])
        .current_dir(s.path())
        .env("UPKEEP_ACTOR", "ann")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for v in [
        "GITHUB_TOKEN",
        "GITLAB_TOKEN",
        "SLACK_API_TOKEN",
        "SENTRY_AUTH_TOKEN",
        "SENTRY_DSN",
        "UPKEEP_JOB",
        "UPKEEP_CONFIG",
        "RUST_LOG",
    ] {
        cmd.env_remove(v);
    }
    cmd
}

/// The `stable` tips of every repo.
fn tips(s: &Scenario, branch: &str) -> BTreeMap<String, String> {
    REPOS
        .iter()
        .map(|(n, _)| ((*n).to_owned(), s.tip(n, branch)))
        .collect()
}

/// Updates of `refs/heads/stable` the repo's reflog shows, as `(old, new)`.
fn reflog(s: &Scenario, name: &str) -> Vec<(String, String)> {
    let file = s.bare(name).path().join("logs/refs/heads/stable");
    fs_err::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut f = l.split(' ');
            Some((f.next()?.to_owned(), f.next()?.to_owned()))
        })
        .collect()
}

/// No history entry claims a move the repo's reflog does not show, and none is claimed
/// twice.
fn check_history(s: &Scenario, ctx: &str) {
    let mut claimed: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    for entry in s.history_lines() {
        for r in entry["repos"].as_array().unwrap() {
            if r["outcome"] == "moved" {
                let key = (
                    r["name"].as_str().unwrap().to_owned(),
                    r["from"].as_str().unwrap().to_owned(),
                    r["to"].as_str().unwrap().to_owned(),
                );
                *claimed.entry(key).or_default() += 1;
            }
        }
    }
    for ((name, from, to), times) in &claimed {
        assert_eq!(
            *times, 1,
            "{ctx}: {name} {from}..{to} claimed {times} times"
        );
        assert!(
            reflog(s, name).contains(&(from.clone(), to.clone())),
            "{ctx}: the history claims {name} moved {from}..{to}, its reflog shows {:?}",
            reflog(s, name)
        );
    }
}

/// Waits until no `stable` changed for a while: pushes started by a killed process may
/// still be landing.
async fn settle(s: &Scenario) {
    let mut last = tips(s, "stable");
    let mut quiet_since = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(20);
    while quiet_since.elapsed() < Duration::from_millis(600) {
        assert!(Instant::now() < deadline, "pushes never settled");
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = tips(s, "stable");
        if now != last {
            last = now;
            quiet_since = Instant::now();
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_mid_apply_then_rerun_moves_exactly_to_the_plan_and_history_stays_true() {
    let mut s = Scenario::new();
    for (name, deps) in REPOS {
        let bare = s.repo(name, deps);
        upkeep_testkit::git::git(bare.path(), &["config", "core.logAllRefUpdates", "always"]);
        upkeep_testkit::git::install_pre_receive_hook(bare.path(), "cat >/dev/null; sleep 0.15");
    }
    let mut rng = Rng(0x1234_5678_9ABC_DEF1);
    let mut full_run = None;
    for i in 0..=KILLS {
        for (name, _) in REPOS.iter().filter(|(n, _)| *n != "tokman") {
            s.bare(name)
                .commit_on("main", &format!("fix: change {i} of {name} (#{})", 100 + i));
        }
        s.all_green().await;
        let (from, to) = (tips(&s, "stable"), tips(&s, "main"));
        let ctx = format!("iteration {i}");
        if let Some(full) = full_run {
            // Half the kills at a moment anywhere in the run, half once `n` moves landed.
            let (after, n) = if i % 2 == 0 {
                (Duration::from_millis(rng.below(full)), usize::MAX)
            } else {
                (
                    Duration::from_mins(1),
                    1 + usize::try_from(rng.below(6)).unwrap(),
                )
            };
            let started = Instant::now();
            let mut child = command(&s).spawn().unwrap();
            loop {
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                let now = tips(&s, "stable");
                let moved = REPOS
                    .iter()
                    .filter(|(r, _)| from[*r] != to[*r] && now[*r] == to[*r])
                    .count();
                if started.elapsed() >= after || moved >= n {
                    child.kill().await.unwrap();
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            settle(&s).await;
            let now = tips(&s, "stable");
            for (name, deps) in REPOS {
                let ctx = format!("{ctx}, killed after {after:?} or {n} moves: {name}");
                assert!(
                    now[name] == from[name] || now[name] == to[name],
                    "{ctx}: stable neither untouched nor at the plan"
                );
                if now[name] == to[name] && from[name] != to[name] {
                    for dep in deps {
                        assert_eq!(now[*dep], to[*dep], "{ctx}: moved before {dep}");
                    }
                }
            }
            check_history(&s, &format!("{ctx}, after the kill"));
        }
        // Run to completion (again, when a late push of the killed run raced the plan).
        let started = Instant::now();
        let mut last = None;
        for _ in 0..3 {
            let out = command(&s).output().await.unwrap();
            let code = out.status.code();
            last = Some(out);
            if code == Some(0) {
                break;
            }
        }
        let out = last.unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{ctx}: re-run\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if full_run.is_none() {
            full_run = Some(u64::try_from(started.elapsed().as_millis()).unwrap());
        }
        assert_eq!(tips(&s, "stable"), to, "{ctx}: everything promoted");
        check_history(&s, &format!("{ctx}, after the re-run"));
    }
}

/// The packit set with slow pushes and a reflog of `stable`, one fix on every `main` but
/// tokman's, CI green.
async fn slow_packit() -> Scenario {
    let mut s = Scenario::new();
    for (name, deps) in REPOS {
        let bare = s.repo(name, deps);
        upkeep_testkit::git::git(bare.path(), &["config", "core.logAllRefUpdates", "always"]);
        upkeep_testkit::git::install_pre_receive_hook(bare.path(), "cat >/dev/null; sleep 0.15");
        if name != "tokman" {
            bare.commit_on("main", &format!("fix: {name}"));
        }
    }
    s.all_green().await;
    s
}

/// Starts `cmd` and kills it once the first `stable` moved, then waits for the pushes it
/// started to end.
async fn kill_after_first_move(s: &Scenario, mut cmd: tokio::process::Command) {
    let from = tips(s, "stable");
    let mut child = cmd.spawn().unwrap();
    while REPOS.iter().all(|(r, _)| tips(s, "stable")[*r] == from[*r]) {
        assert!(child.try_wait().unwrap().is_none(), "ended before moving");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().await.unwrap();
    settle(s).await;
}

/// Every update of a `stable` that its reflog shows is a `moved` entry of the history.
fn every_move_is_in_the_history(s: &Scenario) {
    let history = s.history_lines();
    for (name, _) in REPOS {
        for (old, new) in reflog(s, name) {
            assert!(
                history
                    .iter()
                    .any(|e| e["repos"].as_array().unwrap().iter().any(|r| {
                        r["name"] == name
                            && r["from"] == old.as_str()
                            && r["to"] == new.as_str()
                            && r["outcome"] == "moved"
                    })),
                "{name} moved {old}..{new} but no history entry says so"
            );
        }
    }
}

/// Every move that happened is in the history: a run killed after its first level moved
/// left no line, and the re-run finds those repos even, so their promotion is recorded
/// nowhere (`status`, rollback points and the Sentry window miss it).
#[tokio::test(flavor = "multi_thread")]
async fn moves_of_a_killed_run_are_in_the_history() {
    let s = slow_packit().await;
    kill_after_first_move(&s, command(&s)).await;
    let out = command(&s).output().await.unwrap();
    assert_eq!(out.status.code(), Some(0));
    every_move_is_in_the_history(&s);
}

/// With `[state] repo`, the note of a run in progress lives in the state repository, so a
/// run killed together with its CI runner (its disk gone) is recovered by the next run on
/// a fresh runner: every move the dead run made is in the history, and the note is
/// removed from the state repository once recorded.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_killed_with_its_runner_is_recovered_on_a_fresh_runner_from_the_state_repo() {
    let mut s = slow_packit().await;
    let state_repo = s.path().join("state.git");
    upkeep_testkit::git::git(s.path(), &["init", "--bare", "-q", "state.git"]);
    s.extra = format!("[state]\nrepo = {:?}\n", state_repo.to_string_lossy());
    let notes_in_state = || {
        upkeep_testkit::git::git(
            &state_repo,
            &[
                "for-each-ref",
                "--format=%(refname)",
                "refs/upkeep/branches",
            ],
        )
    };
    let runner = |n: u32| {
        let mut cmd = command(&s);
        cmd.env("UPKEEP_STATE_DIR", s.path().join(format!("runner-{n}")));
        cmd
    };

    kill_after_first_move(&s, runner(1)).await;
    let refs = notes_in_state();
    assert!(
        refs.lines().any(|r| r.ends_with("/in-progress")),
        "the killed run's note is not in the state repository: {refs:?}"
    );
    fs_err::remove_dir_all(s.path().join("runner-1")).unwrap();

    let out = runner(2).output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!s.path().join("runner-2/in-progress").exists());
    every_move_is_in_the_history(&s);
    assert_eq!(notes_in_state().trim(), "", "the note outlived its run");
}

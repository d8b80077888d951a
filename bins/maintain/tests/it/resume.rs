//! Killing `maintain run` with SIGKILL in the middle, then running it again, ends in the
//! same state as a run that was never interrupted.

use std::time::{Duration, Instant};

use crate::support::{Project, Setup, run, stderr};

#[test]
fn sigkill_mid_round_then_rerun_finishes_the_round() {
    let mut slow = Project::green("slow");
    slow.build = "sleep 30";
    let setup = Setup::new(&[Project::green("fast"), slow]);
    let mut child = setup
        .maintain(&["run", "--round", "2026-11-22", "--jobs", "2"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the fast project is done and the slow one is building, then kill -9.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(
            Instant::now() < deadline,
            "the round never reached the slow build"
        );
        std::thread::sleep(Duration::from_millis(50));
        let Some(j) = setup.journal() else {
            continue;
        };
        let fast_done = j.projects.get("fast").is_some_and(|p| p.status.is_some());
        let slow_building = j
            .projects
            .get("slow")
            .is_some_and(|p| p.stage == upkeep_maintain::Stage::Build);
        if fast_done && slow_building {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();

    // The orphaned `sleep 30` is stopped by the next run; the build is fixed meanwhile.
    setup.set_makefile(&Project::green("slow"));
    let out = run(setup.maintain(&["run", "--round", "2026-11-22", "--output", "json"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for p in json["projects"].as_array().unwrap() {
        assert_eq!(p["status"], "changed", "{p}");
        assert_eq!(p["change_request"]["number"], 1, "{p}");
    }
    for name in ["fast", "slow"] {
        assert_eq!(setup.change_requests(name), 1, "{name}");
        assert!(
            setup
                .fixture(name)
                .bare_ref("refs/heads/feature/maintenance-26-11-22")
                .is_some()
        );
    }
    let journal = setup.journal().unwrap();
    assert!(journal.projects.values().all(|p| p.thread.is_some()));
    // No step of the killed run is left behind.
    let pid_files: Vec<_> = walk_pids(&setup.dir.path().join(".upkeep/logs"));
    assert!(pid_files.is_empty(), "{pid_files:?}");
}

#[test]
fn ctrl_c_stops_steps_keeps_the_journal_and_exits_130() {
    let mut slow = Project::green("slow");
    slow.test = "sleep 30";
    let setup = Setup::new(&[slow]);
    let child = setup
        .maintain(&["run", "--round", "2026-11-22"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(Instant::now() < deadline, "never reached the test step");
        std::thread::sleep(Duration::from_millis(50));
        if let Some(j) = setup.journal()
            && j.projects
                .get("slow")
                .is_some_and(|p| p.stage == upkeep_maintain::Stage::Test)
        {
            break;
        }
    }
    let pid = i32::try_from(child.id()).unwrap();
    std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("interrupted: run the same command again"),
        "{text}"
    );
    let journal = setup.journal().unwrap();
    let slow = &journal.projects["slow"];
    assert_eq!(slow.stage, upkeep_maintain::Stage::Test);
    assert!(slow.status.is_none());
}

fn walk_pids(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in fs_err::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk_pids(&p));
        } else if p.extension().is_some_and(|x| x == "pid") {
            out.push(p);
        }
    }
    out
}

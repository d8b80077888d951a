//! Running one step (`make upgrade`, `make build`, `make test`) in a project's clone.
//!
//! A step is a shell command run with `sh -c` in its own process group, so that a
//! timeout or Ctrl-C kills `make` *and* everything it started (docker builds, test
//! runners), not just the shell. Output (stdout and stderr interleaved, as a person
//! would see it) goes to a log file per project and step; the last lines of it travel
//! in the result for the chat thread and the report.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
// The group signalling and grace period every command of upkeep's uses. A step is not
// run through `upkeep_process::run_shell` itself: it also stops on the round's
// cancellation and records its group in a pid file for a later run's orphan clean-up.
use upkeep_process::{KILL_GRACE, signal_group};

/// How many lines of a log travel in a [`StepOutcome`].
pub const TAIL_LINES: usize = 20;

/// What to run.
#[derive(Debug, Clone)]
pub struct StepSpec {
    /// The step's name (`upgrade`, `build`, `test`), for messages.
    pub name: String,
    /// The command line, run with `sh -c`.
    pub command: String,
    /// The directory it runs in (the project's clone).
    pub dir: PathBuf,
    /// Extra environment variables on top of the inherited environment.
    pub env: BTreeMap<String, String>,
    /// How long it may run before its process group is killed.
    pub timeout: Duration,
    /// Where its output is written (created with its parent directories, truncated).
    pub log: PathBuf,
    /// Where the step's process group id is kept while it runs, so that a later run can
    /// stop a step orphaned by a killed `maintain` ([`reap_orphan`]).
    pub pid_file: Option<PathBuf>,
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepEnd {
    /// Exited with status 0.
    Passed,
    /// Exited with a non-zero status (or was killed by a signal it did not get from us).
    Failed,
    /// Ran past its timeout and was killed.
    TimedOut,
    /// The round was interrupted and the step was killed.
    Cancelled,
}

/// The result of [`run_step`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepOutcome {
    /// How it ended.
    pub end: StepEnd,
    /// The exit code, when the process exited (not when killed by a signal).
    pub exit_code: Option<i32>,
    /// How long it ran.
    pub duration_ms: u64,
    /// The log file.
    pub log: PathBuf,
    /// The last [`TAIL_LINES`] lines of the log.
    pub tail: String,
}

impl StepOutcome {
    /// Whether the step passed.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.end == StepEnd::Passed
    }
}

/// A step could not be started at all (as opposed to running and failing).
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// The log file or its directory could not be created.
    #[error("cannot create the log file {path}")]
    Log {
        /// The log file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `sh` could not be spawned.
    #[error("cannot start `{command}` in {dir}")]
    Spawn {
        /// The command line.
        command: String,
        /// Where.
        dir: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Waiting for the process failed.
    #[error("lost track of `{command}`")]
    Wait {
        /// The command line.
        command: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Runs a step to its end, its timeout, or `cancel`, whichever comes first.
///
/// The command runs with `sh -c` in `spec.dir`, stdin closed, stdout and stderr both
/// appended to `spec.log`. On timeout or cancellation the whole process group gets
/// SIGTERM, then SIGKILL after a short grace period.
pub async fn run_step(
    spec: &StepSpec,
    cancel: &CancellationToken,
) -> Result<StepOutcome, StepError> {
    let log_err = |source| StepError::Log {
        path: spec.log.clone(),
        source,
    };
    if let Some(parent) = spec.log.parent() {
        fs_err::create_dir_all(parent).map_err(log_err)?;
    }
    let log = fs_err::File::create(&spec.log)
        .map_err(log_err)?
        .into_parts()
        .0;
    let log_err2 = log.try_clone().map_err(log_err)?;
    let started = Instant::now();
    let mut command = tokio::process::Command::new("sh");
    // A project's make targets never need upkeep's tokens, and a step that prints its
    // environment (many test setups do on failure) would carry them into the log, the
    // journal and the Slack thread. The project's own `env` is applied after.
    for (name, _) in upkeep_config::SECRET_VARS {
        command.env_remove(name);
    }
    let mut child = command
        .arg("-c")
        .arg(&spec.command)
        .current_dir(&spec.dir)
        .envs(&spec.env)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log_err2))
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| StepError::Spawn {
            command: spec.command.clone(),
            dir: spec.dir.clone(),
            source,
        })?;
    let pgid = child.id().and_then(|id| i32::try_from(id).ok());
    if let (Some(pid_file), Some(pgid)) = (&spec.pid_file, pgid) {
        // Best effort: without it only the orphan clean-up of a later run is lost.
        let _ = fs_err::write(pid_file, pgid.to_string());
    }
    tracing::debug!(step = %spec.name, command = %spec.command, dir = %spec.dir.display(), ?pgid, "step started");
    let wait_err = |source| StepError::Wait {
        command: spec.command.clone(),
        source,
    };

    let (end, status) = tokio::select! {
        status = child.wait() => {
            let status = status.map_err(wait_err)?;
            (if status.success() { StepEnd::Passed } else { StepEnd::Failed }, Some(status))
        }
        () = tokio::time::sleep(spec.timeout) => (StepEnd::TimedOut, None),
        () = cancel.cancelled() => (StepEnd::Cancelled, None),
    };
    let status = if let Some(status) = status {
        status
    } else {
        if let Some(pgid) = pgid {
            signal_group(pgid, libc::SIGTERM);
        }
        if let Ok(status) = tokio::time::timeout(KILL_GRACE, child.wait()).await {
            status.map_err(wait_err)?
        } else {
            if let Some(pgid) = pgid {
                signal_group(pgid, libc::SIGKILL);
            }
            child.wait().await.map_err(wait_err)?
        }
    };
    // Children that outlived the shell (daemons started by a Makefile) would hold the log
    // open and keep running into the next step: they belong to the step, so they go too.
    if let Some(pgid) = pgid {
        signal_group(pgid, libc::SIGKILL);
    }
    if let Some(pid_file) = &spec.pid_file {
        let _ = fs_err::remove_file(pid_file);
    }
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let mut tail = read_tail(&spec.log, TAIL_LINES);
    match end {
        StepEnd::TimedOut => {
            let _ = write!(
                tail,
                "\n[upkeep: `{}` timed out after {} and was killed]",
                spec.command,
                humanize(spec.timeout)
            );
        }
        StepEnd::Cancelled => tail.push_str("\n[upkeep: interrupted; the step was killed]"),
        StepEnd::Passed | StepEnd::Failed => {}
    }
    tracing::debug!(step = %spec.name, ?end, code = ?status.code(), duration_ms, "step ended");
    Ok(StepOutcome {
        end,
        exit_code: status.code(),
        duration_ms,
        log: spec.log.clone(),
        tail: tail.trim_start_matches('\n').to_owned(),
    })
}

/// Stops the process group recorded in `pid_file` by a run that was killed before its
/// step ended (SIGKILL on `maintain` leaves the step's group running), if that group's
/// leader still runs in `dir`, the project's clone: a recycled process id belonging to
/// something else is never signalled. Returns whether a group was stopped.
pub fn reap_orphan(pid_file: &Path, dir: &Path) -> bool {
    let Ok(text) = fs_err::read_to_string(pid_file) else {
        return false;
    };
    let _ = fs_err::remove_file(pid_file);
    let Ok(pgid) = text.trim().parse::<i32>() else {
        return false;
    };
    let cwd = fs_err::read_link(format!("/proc/{pgid}/cwd")).ok();
    let same = match (
        cwd.and_then(|c| c.canonicalize().ok()),
        dir.canonicalize().ok(),
    ) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    };
    if same {
        tracing::warn!(pgid, dir = %dir.display(), "stopping a step left running by an interrupted run");
        signal_group(pgid, libc::SIGKILL);
    }
    same
}

/// The last `lines` lines of a file (lossily decoded); empty when unreadable.
#[must_use]
pub fn read_tail(path: &Path, lines: usize) -> String {
    let Ok(bytes) = fs_err::read(path) else {
        return String::new();
    };
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.trim_end().lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn humanize(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 3600 && secs.is_multiple_of(3600) {
        format!("{}h", secs / 3600)
    } else if secs >= 60 && secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else if secs > 0 {
        format!("{secs}s")
    } else {
        format!("{}ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(dir: &Path, command: &str, timeout: Duration) -> StepSpec {
        StepSpec {
            name: "test".into(),
            command: command.into(),
            dir: dir.to_owned(),
            env: BTreeMap::from([("GREETING".into(), "hello".into())]),
            timeout,
            log: dir.join("logs/test.log"),
            pid_file: Some(dir.join("logs/test.pid")),
        }
    }

    #[tokio::test]
    async fn passes_with_env_and_captures_output() {
        let tmp = tempfile::tempdir().unwrap();
        let out = run_step(
            &spec(
                tmp.path(),
                "echo $GREETING; echo oops >&2",
                Duration::from_secs(10),
            ),
            &CancellationToken::new(),
        )
        .await
        .unwrap();
        assert_eq!(out.end, StepEnd::Passed);
        assert_eq!(out.exit_code, Some(0));
        assert_eq!(out.tail, "hello\noops");
    }

    #[tokio::test]
    async fn failure_keeps_exit_code_and_tail() {
        let tmp = tempfile::tempdir().unwrap();
        let cmd = "for i in $(seq 1 30); do echo line $i; done; exit 3";
        let out = run_step(
            &spec(tmp.path(), cmd, Duration::from_secs(10)),
            &CancellationToken::new(),
        )
        .await
        .unwrap();
        assert_eq!(out.end, StepEnd::Failed);
        assert_eq!(out.exit_code, Some(3));
        assert!(out.tail.starts_with("line 11\n"), "{}", out.tail);
        assert!(out.tail.ends_with("line 30"));
    }

    #[tokio::test]
    async fn timeout_kills_the_whole_group() {
        let tmp = tempfile::tempdir().unwrap();
        let marker = tmp.path().join("survived");
        // The grandchild would create the marker if it outlived the kill.
        let cmd = format!("(sleep 1; touch {}) & sleep 30", marker.display());
        let out = run_step(
            &spec(tmp.path(), &cmd, Duration::from_millis(200)),
            &CancellationToken::new(),
        )
        .await
        .unwrap();
        assert_eq!(out.end, StepEnd::TimedOut);
        assert!(out.tail.contains("timed out after 200ms"), "{}", out.tail);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(!marker.exists(), "a process of the step survived the kill");
    }

    #[tokio::test]
    async fn cancel_kills_the_step() {
        let tmp = tempfile::tempdir().unwrap();
        let cancel = CancellationToken::new();
        let c = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            c.cancel();
        });
        let out = run_step(
            &spec(tmp.path(), "sleep 30", Duration::from_mins(1)),
            &cancel,
        )
        .await
        .unwrap();
        assert_eq!(out.end, StepEnd::Cancelled);
        assert!(!tmp.path().join("logs/test.pid").exists());
    }

    #[tokio::test]
    async fn an_orphaned_step_is_reaped_only_in_its_own_directory() {
        use std::os::unix::process::CommandExt as _;
        let tmp = tempfile::tempdir().unwrap();
        let work = tmp.path().join("clone");
        fs_err::create_dir_all(&work).unwrap();
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 30"])
            .current_dir(&work)
            .process_group(0)
            .spawn()
            .unwrap();
        let pid_file = tmp.path().join("build.pid");
        fs_err::write(&pid_file, child.id().to_string()).unwrap();
        assert!(
            !reap_orphan(&pid_file, tmp.path()),
            "another directory: left alone"
        );
        fs_err::write(&pid_file, child.id().to_string()).unwrap();
        assert!(reap_orphan(&pid_file, &work));
        let status = child.wait().unwrap();
        assert!(!status.success());
        assert!(!pid_file.exists());
    }

    #[tokio::test]
    async fn missing_directory_is_a_spawn_error() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = spec(tmp.path(), "true", Duration::from_secs(1));
        s.dir = tmp.path().join("nope");
        let err = run_step(&s, &CancellationToken::new()).await.unwrap_err();
        assert!(matches!(err, StepError::Spawn { .. }), "{err}");
    }
}

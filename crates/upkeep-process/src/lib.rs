//! Shell commands the way upkeep runs them: promotion gates, and the place for
//! maintenance steps and lock preflights to converge on.
//!
//! A command that times out must not outlive its timeout, and neither may what it
//! started: `sh -c "make build"` leaves a compiler behind, `./smoke.sh` a `curl` or a
//! server it put in the background. Killing only the shell leaves them running, and a
//! background child holding the output pipe open also hides what the command printed
//! until then. So [`run_shell`]:
//!
//! - starts the command in a **process group of its own**, and on timeout sends the
//!   whole group SIGTERM, then SIGKILL after [`KILL_GRACE`]; what the group left behind
//!   after a normal exit is killed too (it belongs to the command), and so is the group
//!   when the future is dropped;
//! - writes stdout and stderr to **one file** (the caller's log, or a temporary file),
//!   never a pipe, so a chatty or daemonising child never blocks and the output printed
//!   before a timeout is kept;
//! - removes the variables the caller names (upkeep's tokens) from the child's
//!   environment, so a command that prints its environment cannot carry them into logs,
//!   chat messages or Sentry events.

use std::io::{Read as _, Seek as _, SeekFrom};
use std::os::unix::process::ExitStatusExt as _;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

/// How long a timed-out group gets between SIGTERM and SIGKILL to clean up.
pub const KILL_GRACE: Duration = Duration::from_secs(2);

/// A command to run with `sh -c`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shell {
    /// The command line.
    pub command: String,
    /// The working directory.
    pub dir: PathBuf,
    /// The group is killed after this long.
    pub timeout: Duration,
    /// Variables added to the environment.
    pub env: Vec<(String, String)>,
    /// Variables removed from the environment (upkeep's secrets).
    pub env_remove: Vec<String>,
    /// Where the output goes (created or truncated); a temporary file when `None`.
    pub log: Option<PathBuf>,
}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// It exited with this code.
    Exited(i32),
    /// A signal ended it (not ours).
    Signalled(i32),
    /// It ran past its timeout; its process group was killed.
    TimedOut,
}

impl Ended {
    /// Exited 0.
    #[must_use]
    pub fn success(self) -> bool {
        self == Self::Exited(0)
    }
}

/// A finished command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// How it ended.
    pub ended: Ended,
    /// The end of its combined stdout and stderr (at most the `tail` bytes asked for,
    /// decoded lossily), also when it timed out.
    pub output: String,
    /// How many bytes of output came before `output` and are not in it.
    pub cut: u64,
}

/// Why a command could not be run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The output file could not be created or read.
    #[error("cannot {doing} for `{command}`")]
    Output {
        /// The command line.
        command: String,
        /// What was being done, naming the file.
        doing: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `sh` could not be started.
    #[error("cannot run `{command}` in {}", dir.display())]
    Spawn {
        /// The command line.
        command: String,
        /// The working directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Waiting for the command failed.
    #[error("lost track of `{command}`")]
    Wait {
        /// The command line.
        command: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Runs `shell` to its end or its timeout and returns how it ended with the last `tail`
/// bytes of its output (see the crate docs for what happens to its process group).
pub async fn run_shell(shell: &Shell, tail: usize) -> Result<Finished, Error> {
    let output_err = |doing: String, source| Error::Output {
        command: shell.command.clone(),
        doing,
        source,
    };
    let mut file = match &shell.log {
        Some(path) => {
            if let Some(parent) = path.parent() {
                fs_err::create_dir_all(parent)
                    .map_err(|e| output_err(format!("create {}", parent.display()), e))?;
            }
            fs_err::File::options()
                .create(true)
                .truncate(true)
                .read(true)
                .write(true)
                .open(path)
                .map_err(|e| output_err(format!("create {}", path.display()), e))?
                .into_file()
        }
        None => tempfile::tempfile()
            .map_err(|e| output_err("create a temporary output file".to_owned(), e))?,
    };
    let dup = |file: &std::fs::File| {
        file.try_clone()
            .map_err(|e| output_err("share the output file".to_owned(), e))
    };
    let mut command = tokio::process::Command::new("sh");
    for name in &shell.env_remove {
        command.env_remove(name);
    }
    let mut child = command
        .arg("-c")
        .arg(&shell.command)
        .current_dir(&shell.dir)
        .envs(shell.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(dup(&file)?)
        .stderr(dup(&file)?)
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| Error::Spawn {
            command: shell.command.clone(),
            dir: shell.dir.clone(),
            source,
        })?;
    // Whatever happens from here on (an error, the caller dropping this future), the
    // group goes when this does.
    let group = Group(child.id().and_then(|id| i32::try_from(id).ok()));
    let wait_err = |source| Error::Wait {
        command: shell.command.clone(),
        source,
    };
    let ended = tokio::select! {
        status = child.wait() => {
            let status = status.map_err(wait_err)?;
            match status.code() {
                Some(code) => Ended::Exited(code),
                None => Ended::Signalled(status.signal().unwrap_or_default()),
            }
        }
        () = tokio::time::sleep(shell.timeout) => {
            group.signal(libc::SIGTERM);
            if tokio::time::timeout(KILL_GRACE, child.wait()).await.is_err() {
                group.signal(libc::SIGKILL);
                child.wait().await.map_err(wait_err)?;
            }
            Ended::TimedOut
        }
    };
    drop(group);
    let len = file
        .seek(SeekFrom::End(0))
        .map_err(|e| output_err("read the output".to_owned(), e))?;
    let cut = len.saturating_sub(u64::try_from(tail).unwrap_or(u64::MAX));
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(cut))
        .and_then(|_| file.read_to_end(&mut bytes))
        .map_err(|e| output_err("read the output".to_owned(), e))?;
    tracing::debug!(command = %shell.command, ?ended, bytes = len, "command ended");
    Ok(Finished {
        ended,
        output: String::from_utf8_lossy(&bytes).into_owned(),
        cut,
    })
}

/// A process group that is killed when this is dropped.
struct Group(Option<i32>);

impl Group {
    fn signal(&self, signal: i32) {
        if let Some(pgid) = self.0 {
            signal_group(pgid, signal);
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.signal(libc::SIGKILL);
    }
}

/// Sends `signal` to every process of group `pgid`; a group that is already gone is
/// fine. Groups 0 and 1 (ours, init's) are never signalled.
#[allow(unsafe_code)]
pub fn signal_group(pgid: i32, signal: i32) {
    if pgid <= 1 {
        return;
    }
    // SAFETY: killpg takes plain integers and touches no memory of ours; the group id
    // is one a child was put in with `process_group(0)`, never 0 or 1 (checked above).
    let _ = unsafe { libc::killpg(pgid, signal) };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(dir: &std::path::Path, command: &str, timeout: Duration) -> Shell {
        Shell {
            command: command.into(),
            dir: dir.to_owned(),
            timeout,
            ..Shell::default()
        }
    }

    fn alive(pid: &str) -> bool {
        std::path::Path::new(&format!("/proc/{}", pid.trim())).exists()
            && !fs_err::read_to_string(format!("/proc/{}/stat", pid.trim()))
                .unwrap_or_default()
                .contains(") Z ")
    }

    #[tokio::test]
    async fn exit_codes_and_output_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let done = run_shell(
            &shell(
                dir.path(),
                "echo one; echo two >&2; echo three; exit 3",
                Duration::from_mins(1),
            ),
            1 << 16,
        )
        .await
        .unwrap();
        assert_eq!(done.ended, Ended::Exited(3));
        assert_eq!(done.output, "one\ntwo\nthree\n");
        assert_eq!(done.cut, 0);
    }

    #[tokio::test]
    async fn a_timeout_kills_the_whole_group_and_keeps_what_was_printed() {
        let dir = tempfile::tempdir().unwrap();
        // A background child that would outlive the shell, and holds its output open.
        let command = "sleep 600 & echo $! > bg.pid; echo started; sleep 600";
        let done = run_shell(
            &shell(dir.path(), command, Duration::from_millis(300)),
            4096,
        )
        .await
        .unwrap();
        assert_eq!(done.ended, Ended::TimedOut);
        assert_eq!(done.output, "started\n");
        let pid = fs_err::read_to_string(dir.path().join("bg.pid")).unwrap();
        // The kill is sent before run_shell returns; the kernel may take a moment to
        // reap, which is not what is measured here.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while alive(&pid) {
            assert!(
                std::time::Instant::now() < deadline,
                "background child {pid} survived"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[tokio::test]
    async fn leftovers_of_a_finished_command_are_killed() {
        let dir = tempfile::tempdir().unwrap();
        let command = "(sleep 600 >/dev/null 2>&1 &  echo $! > bg.pid); echo done";
        let done = run_shell(&shell(dir.path(), command, Duration::from_mins(1)), 4096)
            .await
            .unwrap();
        assert!(done.ended.success(), "{done:?}");
        let pid = fs_err::read_to_string(dir.path().join("bg.pid")).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while alive(&pid) {
            assert!(
                std::time::Instant::now() < deadline,
                "leftover {pid} survived"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[tokio::test]
    async fn only_the_tail_is_kept_and_removed_variables_are_gone() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = shell(
            dir.path(),
            "head -c 10000 /dev/zero | tr '\\0' x; echo; echo \"home=${HOME:-unset} kept=$UPKEEP_TEST_KEPT\"",
            Duration::from_mins(1),
        );
        s.env = vec![("UPKEEP_TEST_KEPT".into(), "yes".into())];
        s.env_remove = vec!["HOME".into()];
        let done = run_shell(&s, 64).await.unwrap();
        assert!(
            done.output.ends_with("x\nhome=unset kept=yes\n"),
            "{done:?}"
        );
        assert_eq!(done.output.len(), 64);
        assert_eq!(done.cut, 10_001 + 20 - 64);
    }
}

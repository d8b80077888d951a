//! Checks run before acquiring ("is anything long-running on the server?").

use std::io::Read as _;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Error, Result};

/// One check to run before acquiring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreflightSpec {
    /// A short name shown when it fails ("Kingfisher is idle").
    pub name: String,
    /// The command line, run with `sh -c`.
    pub command: String,
    /// How long it may run before it is killed and counted as failed.
    pub timeout: Duration,
}

impl PreflightSpec {
    /// The check a `[[lock.preflight]]` table describes.
    #[must_use]
    pub fn from_config(p: &upkeep_config::Preflight) -> Self {
        Self {
            name: p.name.clone(),
            command: p.command.clone(),
            timeout: p.timeout.get(),
        }
    }
}

/// The output of a preflight command that passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreflightCheck {
    /// The check's name.
    pub name: String,
    /// Its combined stdout and stderr.
    pub output: String,
}

/// The longest output kept in an error: enough to show why, short enough for a terminal.
const OUTPUT_TAIL: usize = 4000;
/// How often a running check is polled for exit; short enough not to add noticeable delay.
const POLL: Duration = Duration::from_millis(20);

/// Runs each check with `sh -c` in `dir`, in order, stopping at the first failure or
/// timeout ([`Error::PreflightFailed`] with its output).
pub fn run_preflight(checks: &[PreflightSpec], dir: &Path) -> Result<Vec<PreflightCheck>> {
    let mut passed = Vec::with_capacity(checks.len());
    for check in checks {
        let spawn_err = |source| Error::PreflightSpawn {
            command: check.command.clone(),
            source,
        };
        // Output goes to a temp file rather than a pipe so a chatty check can't block on
        // a full pipe while we wait for it.
        let mut log = tempfile::tempfile().map_err(spawn_err)?;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(&check.command)
            .current_dir(dir)
            .stdin(Stdio::null())
            // Its own process group, so a timeout kills what the check started too.
            .process_group(0)
            .stdout(log.try_clone().map_err(spawn_err)?)
            .stderr(log.try_clone().map_err(spawn_err)?)
            .spawn()
            .map_err(spawn_err)?;
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().map_err(spawn_err)? {
                break Some(status);
            }
            if started.elapsed() >= check.timeout {
                // The check leads its own group (`process_group(0)` above).
                if let Ok(pgid) = i32::try_from(child.id()) {
                    upkeep_process::signal_group(pgid, libc::SIGKILL);
                }
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(POLL);
        };
        let mut bytes = Vec::new();
        std::io::Seek::rewind(&mut log).map_err(spawn_err)?;
        log.read_to_end(&mut bytes).map_err(spawn_err)?;
        let output = String::from_utf8_lossy(&bytes).into_owned();
        let failed = match status {
            Some(s) if s.success() => None,
            Some(s) => Some(s.to_string()),
            None => Some(format!("timed out after {:?}", check.timeout)),
        };
        if let Some(status) = failed {
            return Err(Error::PreflightFailed {
                name: check.name.clone(),
                command: check.command.clone(),
                status,
                output: tail(&output),
            });
        }
        passed.push(PreflightCheck {
            name: check.name.clone(),
            output,
        });
    }
    Ok(passed)
}

fn tail(output: &str) -> String {
    let start = output.len().saturating_sub(OUTPUT_TAIL);
    let start = (start..output.len())
        .find(|i| output.is_char_boundary(*i))
        .unwrap_or(0);
    output[start..].to_owned()
}

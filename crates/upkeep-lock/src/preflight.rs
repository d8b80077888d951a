//! Checks run before acquiring ("is anything long-running on the server?").

use std::path::Path;
use std::process::Command;

use crate::{Error, Result};

/// The output of a preflight command that passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreflightCheck {
    /// The command, as configured.
    pub command: String,
    /// Its combined stdout and stderr.
    pub output: String,
}

/// The longest output kept in an error: enough to show why, short enough for a terminal.
const OUTPUT_TAIL: usize = 4000;

/// Runs each command with `sh -c` in `dir`, in order, stopping at the first failure
/// ([`Error::PreflightFailed`] with its output).
pub fn run_preflight(commands: &[String], dir: &Path) -> Result<Vec<PreflightCheck>> {
    let mut passed = Vec::with_capacity(commands.len());
    for command in commands {
        let out = Command::new("sh")
            .arg("-c")
            .arg(command)
            .current_dir(dir)
            .output()
            .map_err(|source| Error::PreflightSpawn {
                command: command.clone(),
                source,
            })?;
        let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
        output.push_str(&String::from_utf8_lossy(&out.stderr));
        if !out.status.success() {
            let start = output.len().saturating_sub(OUTPUT_TAIL);
            let start = (start..output.len())
                .find(|i| output.is_char_boundary(*i))
                .unwrap_or(0);
            return Err(Error::PreflightFailed {
                command: command.clone(),
                status: out.status.to_string(),
                output: output[start..].to_owned(),
            });
        }
        passed.push(PreflightCheck {
            command: command.clone(),
            output,
        });
    }
    Ok(passed)
}

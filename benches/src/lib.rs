//! Benchmark harnesses for upkeep (not published): a maintenance round and a
//! stable-branch promotion on synthetic projects, through the real libraries and
//! adapters, against the HTTP fakes of `upkeep-testkit` with injected latency.
//!
//! Why harness binaries and not criterion: what is measured is a pipeline of processes
//! (`make`, git, HTTP with fixed latency) whose interesting numbers are ratios against an
//! ideal schedule and request counts per endpoint, not nanoseconds of one function.
//! Each binary runs its configurations once, prints a table, and writes the raw numbers
//! as JSON (`--json FILE`) for `docs/performance.md`. Nothing here asserts on time.
//!
//! - [`repos`]: synthetic repositories written with `git fast-import`;
//! - [`round`]: one round through `upkeep_maintain::run_round`, timed stage by stage;
//! - [`profile`]: where a round's time went, per project and per phase;
//! - [`promote`]: one promotion through `upkeep-branches`, counted per phase;
//! - [`requests`]: request counts per endpoint from the fakes' logs.

pub mod profile;
pub mod promote;
pub mod repos;
pub mod requests;
pub mod round;

/// The machine the numbers come from: `nproc` and the CPU model.
#[must_use]
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let model = fs_err::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    format!("{cores} cores, {model}, load average {:.1}", load_average())
}

/// The 1-minute load average (`/proc/loadavg`): the machine is shared with builds and
/// tests, and numbers taken under load say so.
#[must_use]
pub fn load_average() -> f64 {
    fs_err::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|l| l.parse().ok()))
        .unwrap_or(0.0)
}

/// `--name value` from the command line, parsed.
#[must_use]
pub fn arg<T: std::str::FromStr>(args: &[String], name: &str) -> Option<T> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
}

/// Whether `--flag` is on the command line.
#[must_use]
pub fn flag(args: &[String], name: &str) -> bool {
    args.iter().any(|a| a == name)
}

/// Writes `value` as pretty JSON to `path` when given.
pub fn write_json(path: Option<&str>, value: &serde_json::Value) {
    if let Some(path) = path {
        let text = serde_json::to_string_pretty(value).expect("JSON");
        fs_err::write(path, text + "\n").unwrap_or_else(|e| panic!("cannot write {path}: {e}"));
    }
}

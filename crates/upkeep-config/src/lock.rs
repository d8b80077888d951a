//! `[lock]`: the deploy token (`deploy-token`).

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::remote::{ForgeKind, Remote};
use crate::types::HumanDuration;

/// `[lock]`: where the deploy token lives and how it is taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LockConfig {
    /// The git repository holding the lock ref (any git URL or path; the team must be
    /// able to push to it).
    pub repo: String,
    /// The forge serving `repo`, when not inferred from the URL.
    pub forge: Option<ForgeKind>,
    /// The forge's API base URL, when not the default.
    pub api_url: Option<String>,
    /// The lock's name (no `/`); the ref is `<ref_prefix><name>`. Default `deploy`.
    #[serde(default = "default_name")]
    pub name: String,
    /// Where lock refs live: starts with `refs/` and ends with `/`. Default
    /// `refs/upkeep/locks/`. Use a branch namespace such as `refs/heads/upkeep-locks/`
    /// on forges that refuse custom refs.
    #[serde(default = "default_ref_prefix")]
    pub ref_prefix: String,
    /// How long an acquired token is valid unless renewed. Default `4h`.
    #[serde(default = "default_lease")]
    pub lease: HumanDuration,
    /// Commands run before acquiring, as `[[lock.preflight]]` tables; any failure stops
    /// the acquire and shows its output.
    #[serde(default)]
    pub preflight: Vec<Preflight>,
    /// Announce acquire/release/steal in this Slack channel (needs `SLACK_API_TOKEN`).
    pub slack_channel: Option<String>,
    /// Where the lock repo's working clone is kept. Default `<state_dir>/lock`.
    #[serde(default)]
    pub cache: PathBuf,
    /// The resolved repository, filled in by the loader.
    #[serde(skip_deserializing)]
    #[schemars(skip)]
    pub remote: Remote,
}

impl LockConfig {
    /// The full ref name, e.g. `refs/upkeep/locks/deploy`.
    #[must_use]
    pub fn ref_name(&self) -> String {
        format!("{}{}", self.ref_prefix, self.name)
    }
}

fn default_name() -> String {
    "deploy".to_owned()
}
fn default_ref_prefix() -> String {
    "refs/upkeep/locks/".to_owned()
}
fn default_lease() -> HumanDuration {
    HumanDuration::from_secs(4 * 3600)
}

/// One `[[lock.preflight]]` check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Preflight {
    /// A short name shown when it fails (e.g. "Kingfisher is idle").
    pub name: String,
    /// The command line, run with `sh -c` in the directory of the configuration file;
    /// a non-zero exit stops the acquire and its output is shown.
    pub command: String,
    /// How long it may run before it is killed and the acquire stops. Default `2m`.
    #[serde(default = "default_preflight_timeout")]
    pub timeout: HumanDuration,
}

fn default_preflight_timeout() -> HumanDuration {
    HumanDuration::from_secs(120)
}

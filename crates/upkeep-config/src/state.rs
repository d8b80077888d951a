//! `[state]`: where state that outlives a run lives (rounds, and move-branches'
//! in-progress note).

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::remote::{ForgeKind, Remote};
use crate::types::HumanDuration;

/// `[state]`: where the tools keep what must outlive one run — each round's record per
/// project, the claims of the runners working them, the round summary, and
/// move-branches' note of a run in progress. Files under `dir`
/// unless `repo` names a git repository; set `repo` when several CI runners share a round
/// (shards) or when the runner's disk is thrown away after each job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StateConfig {
    /// A git repository the runners can push to (any git URL or path, e.g. a repository
    /// made for it next to the one holding `upkeep.toml`): one ref per record under
    /// `refs/upkeep/`, written compare-and-swap, no branch or file touched. Its token
    /// comes from `GITHUB_TOKEN` or `GITLAB_TOKEN` by its forge, never from this file.
    /// Unset: files under `dir`.
    pub repo: Option<String>,
    /// The forge serving `repo` (for its token), when not inferred from the URL.
    pub forge: Option<ForgeKind>,
    /// The forge's API base URL, when not the default.
    pub api_url: Option<String>,
    /// The records as files when `repo` is unset, or the local copy of the state
    /// repository when it is set. Default `<state_dir>/state`.
    #[serde(default)]
    pub dir: PathBuf,
    /// How long a runner's claim on a project lasts unless renewed (it is renewed while
    /// the runner works). A runner that dies leaves its projects to be taken over once
    /// this ran out. Default `10m`.
    #[serde(default = "default_lease")]
    pub lease: HumanDuration,
    /// The resolved repository, filled in by the loader when `repo` is set.
    #[serde(skip_deserializing)]
    #[schemars(skip)]
    pub remote: Option<Remote>,
}

impl Default for StateConfig {
    fn default() -> Self {
        Self {
            repo: None,
            forge: None,
            api_url: None,
            dir: PathBuf::new(),
            lease: default_lease(),
            remote: None,
        }
    }
}

fn default_lease() -> HumanDuration {
    HumanDuration::from_secs(10 * 60)
}

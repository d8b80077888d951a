//! The upkeep configuration: one TOML file (by default `upkeep.toml`) with a section per
//! tool — `[maintain]` for the maintenance round, `[branches]` for stable-branch
//! promotion, `[lock]` for the deploy token, `[state]` for what outlives a run — plus
//! `UPKEEP_…` environment overrides and secrets from the environment.
//!
//! Why it is shaped so:
//! - **Errors point at the cause.** The file is parsed with spans, so every problem —
//!   TOML syntax, an unknown key (with "did you mean"), a wrong type, a duplicate name,
//!   an unknown or cyclic `depends_on` — is reported as `file:line:column`, the key
//!   path, the source line and a hint; an override's problem names its variable. All
//!   validation problems are reported at once.
//! - **The environment is passed in**, never read here: [`Config::load`] and
//!   [`Secrets::from_env`] take any iterator of `(name, value)` pairs (binaries pass
//!   `std::env::vars()`, tests a literal list), so tests never touch the process
//!   environment.
//! - **Secrets never live in the file.** A string under a key like `token`, `password`
//!   or `dsn` is rejected with the variable to use instead; [`Secrets`] holds
//!   `SecretString`s. The source line quoted under any error is redacted (values after
//!   secret-looking keys, `user:pass@` in URLs), since a token can break the syntax or
//!   a URL's validation long before it is recognised as a secret.
//! - **The model is plain data** with documented fields and defaults. Its doc comments
//!   are the user documentation: the JSON Schema for editors and the key reference in
//!   `docs/configuration.md` are generated from these types ([`schema`]), and a test
//!   fails while the committed copies are stale. What the loader works out — absolute
//!   paths, each repo's [`Remote`] (forge kind, API URL, owner/name) — is filled in
//!   after validation, so consumers don't repeat it.
//!
//! ```
//! let text = r#"
//! [maintain]
//! [[maintain.projects]]
//! name = "api"
//! repo = "https://github.com/example/api"
//! "#;
//! let config = upkeep_config::Config::from_str(text, "upkeep.toml".as_ref(), [("UPKEEP_MAINTAIN__JOBS", "4")])?;
//! let maintain = config.maintain()?;
//! assert_eq!(maintain.jobs().get(), 4);
//! assert_eq!(maintain.resolve(&maintain.projects[0]).upgrade.command, "make upgrade");
//! # Ok::<(), upkeep_config::Error>(())
//! ```

mod branches;
mod discover;
mod env;
mod error;
mod load;
mod lock;
mod maintain;
mod redact;
mod reference;
mod remote;
mod repo_settings;
pub mod schema;
mod secrets;
mod state;
mod suggest;
mod types;
mod validate;

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use branches::{
    ApprovalConfig, BranchRepo, BranchesConfig, CiGate, CommandGate, DeployTokenConfig,
    DeployTokenMode, HistoryConfig, NotifyConfig, SentryGate, SentryWindow, SlackApproval,
    TaggingConfig, ValidationTarget, WaitConfig,
};
pub use discover::{
    Candidate, DiscoverRule, DiscoverSource, GITHUB_API, GITLAB_COM, LeftOutReason,
};
pub use env::{ENV_PREFIX, NOT_OVERRIDES, TOP_LEVEL_KEYS};
pub use error::{Diagnostic, Error, Location, Result, Snippet};
pub use lock::{LockConfig, Preflight};
pub use maintain::{
    ChatConfig, ChatKind, MaintainConfig, MaintainPaths, Project, ReactionLegend, ResolvedProject,
    Step, StepOverride, StepOverrides, Steps,
};
pub use remote::{ForgeKind, Remote};
pub use repo_settings::{REPO_SETTINGS_FILE, RepoSettings};
pub use secrets::{SECRET_VARS, Secrets};
pub use state::StateConfig;
pub use suggest::did_you_mean;
pub use types::{BranchPattern, HumanDuration, Placeholder, Template};

/// The file name looked for when none is given.
pub const DEFAULT_FILE: &str = "upkeep.toml";

/// Where the override rules are documented (used in hints).
pub(crate) const ENV_DOCS: &str = "docs/configuration.md#environment-overrides";

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The directory for upkeep's own files (clone cache, logs, and by default the
    /// state), relative to this file's directory. Default `.upkeep`. Absolute after
    /// loading.
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    /// The maintenance round (`maintain`).
    pub maintain: Option<MaintainConfig>,
    /// Stable-branch promotion (`move-branches`).
    pub branches: Option<BranchesConfig>,
    /// The deploy token (`deploy-token`).
    pub lock: Option<LockConfig>,
    /// Where state that outlives a run lives (files by default).
    #[serde(default)]
    pub state: StateConfig,
    /// The file this was loaded from (as given).
    #[serde(skip)]
    pub path: PathBuf,
    /// The absolute directory of that file: relative paths in it, and the commands of
    /// gates and preflight checks, are anchored here.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

fn default_state_dir() -> PathBuf {
    PathBuf::from(".upkeep")
}

impl Config {
    /// Reads and checks the file at `path`, applying the `UPKEEP_…` overrides found in
    /// `env` (binaries pass `std::env::vars()`).
    pub fn load<I, K, V>(path: &Path, env: I) -> Result<Self>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let text = fs_err::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        load::load_str(&text, path, env)
    }

    /// Which file to load: `--config PATH` when given, else `UPKEEP_CONFIG` from `env`,
    /// else [`DEFAULT_FILE`] in the current directory.
    #[must_use]
    pub fn locate<I, K, V>(flag: Option<&Path>, env: I) -> PathBuf
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        if let Some(p) = flag {
            return p.to_owned();
        }
        env.into_iter()
            .find(|(k, v)| k.as_ref() == "UPKEEP_CONFIG" && !v.as_ref().is_empty())
            .map_or_else(
                || PathBuf::from(DEFAULT_FILE),
                |(_, v)| PathBuf::from(v.as_ref()),
            )
    }

    /// Checks configuration text as if it were the file at `path` (which names it in
    /// messages and anchors relative paths); nothing is read from disk.
    #[allow(clippy::should_implement_trait)]
    pub fn from_str<I, K, V>(text: &str, path: &Path, env: I) -> Result<Self>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        load::load_str(text, path, env)
    }

    /// The `[maintain]` section, or an error naming the file.
    pub fn maintain(&self) -> Result<&MaintainConfig> {
        self.maintain
            .as_ref()
            .ok_or_else(|| self.missing("maintain"))
    }

    /// The `[branches]` section, or an error naming the file.
    pub fn branches(&self) -> Result<&BranchesConfig> {
        self.branches
            .as_ref()
            .ok_or_else(|| self.missing("branches"))
    }

    /// The `[lock]` section, or an error naming the file.
    pub fn lock(&self) -> Result<&LockConfig> {
        self.lock.as_ref().ok_or_else(|| self.missing("lock"))
    }

    fn missing(&self, section: &'static str) -> Error {
        Error::MissingSection {
            path: self.path.clone(),
            section,
        }
    }
}

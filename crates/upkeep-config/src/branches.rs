//! `[branches]`: stable-branch promotion (`move-branches`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::remote::{ForgeKind, Remote};
use crate::types::HumanDuration;

/// `[branches]`: which repos `move-branches` promotes, the gates that must pass first,
/// and where the history and notifications go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct BranchesConfig {
    /// The branch promoted from, unless a repo sets its own `source`. Default `main`.
    pub source: String,
    /// The branch moved, unless a repo sets its own `target`. Default `stable`.
    pub target: String,
    /// Where clones of the repos are cached (`<cache>/<repo>`). Default
    /// `<state_dir>/cache/branches`, apart from `[maintain.paths] cache` so that the two
    /// tools never share a work tree.
    pub cache: PathBuf,
    /// The repos, as `[[branches.repos]]` tables. They are moved in dependency order
    /// (`depends_on`), ties in file order.
    pub repos: Vec<BranchRepo>,
    /// The CI gate. On by default (every target commit must be green).
    pub ci: CiGate,
    /// The Sentry gate: off unless this table is present.
    pub sentry: Option<SentryGate>,
    /// Custom command gates, as `[[branches.command_gates]]` tables.
    pub command_gates: Vec<CommandGate>,
    /// Waiting for a dependency's new target tip to be green before moving its
    /// dependents.
    pub wait: WaitConfig,
    /// Where every run's record is kept. Without it, `status` cannot show the last
    /// promotion, `rollback` needs `--to`, and the Sentry window needs `fallback_window`.
    pub history: Option<HistoryConfig>,
    /// Where failures and results go when run as a job.
    pub notify: NotifyConfig,
    /// How a job's plan is approved when no approval is given on the command line.
    pub approval: ApprovalConfig,
    /// Whether a run must hold the deploy token (`[lock]`).
    pub deploy_token: DeployTokenConfig,
    /// Tagging the newly promoted commits.
    pub tagging: TaggingConfig,
}

impl Default for BranchesConfig {
    fn default() -> Self {
        Self {
            source: "main".to_owned(),
            target: "stable".to_owned(),
            cache: PathBuf::new(),
            repos: Vec::new(),
            ci: CiGate::default(),
            sentry: None,
            command_gates: Vec::new(),
            wait: WaitConfig::default(),
            history: None,
            notify: NotifyConfig::default(),
            approval: ApprovalConfig::default(),
            deploy_token: DeployTokenConfig::default(),
            tagging: TaggingConfig::default(),
        }
    }
}

impl BranchesConfig {
    /// The repo named `name`.
    #[must_use]
    pub fn repo(&self, name: &str) -> Option<&BranchRepo> {
        self.repos.iter().find(|r| r.name == name)
    }

    /// The names of all repos, in file order (for "known repos: …" messages).
    #[must_use]
    pub fn repo_names(&self) -> Vec<&str> {
        self.repos.iter().map(|r| r.name.as_str()).collect()
    }

    /// The source branch of a repo (its own or the default).
    #[must_use]
    pub fn source_of<'a>(&'a self, repo: &'a BranchRepo) -> &'a str {
        repo.source.as_deref().unwrap_or(&self.source)
    }

    /// The target branch of a repo (its own or the default).
    #[must_use]
    pub fn target_of<'a>(&'a self, repo: &'a BranchRepo) -> &'a str {
        repo.target.as_deref().unwrap_or(&self.target)
    }

    /// Whether to wait for CI on `repo`'s new tip before moving the repos that depend on it.
    #[must_use]
    pub fn waits_after(&self, repo: &BranchRepo) -> bool {
        repo.wait.unwrap_or(self.wait.ci)
    }

    /// The repos in dependency order: each after everything it `depends_on`, ties in
    /// file order. Loaded configurations are acyclic; were there a cycle, the repos on it
    /// would be left out.
    #[must_use]
    pub fn topological_order(&self) -> Vec<&BranchRepo> {
        topo_order(&self.repos).0
    }
}

/// Kahn's algorithm with file order among the ready repos; returns the order and the
/// repos left out (on or behind a cycle).
pub(crate) fn topo_order(repos: &[BranchRepo]) -> (Vec<&BranchRepo>, Vec<&BranchRepo>) {
    let index: BTreeMap<&str, usize> = repos
        .iter()
        .enumerate()
        .map(|(i, r)| (r.name.as_str(), i))
        .collect();
    let mut remaining: Vec<usize> = repos
        .iter()
        .map(|r| {
            r.depends_on
                .iter()
                .filter(|d| index.contains_key(d.as_str()))
                .collect::<BTreeSet<_>>()
                .len()
        })
        .collect();
    let mut done = vec![false; repos.len()];
    let mut order = Vec::with_capacity(repos.len());
    while let Some(next) = (0..repos.len()).find(|&i| !done[i] && remaining[i] == 0) {
        done[next] = true;
        order.push(&repos[next]);
        for (i, r) in repos.iter().enumerate() {
            if !done[i]
                && r.depends_on
                    .iter()
                    .collect::<BTreeSet<_>>()
                    .contains(&repos[next].name)
            {
                remaining[i] -= 1;
            }
        }
    }
    let left = repos
        .iter()
        .enumerate()
        .filter(|(i, _)| !done[*i])
        .map(|(_, r)| r)
        .collect();
    (order, left)
}

/// One `[[branches.repos]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BranchRepo {
    /// The repo's name: unique; used in `--<name>=<sha>` overrides, output and history.
    /// Letters, digits, `.`, `_` and `-`.
    pub name: String,
    /// The repository URL or path (same forms as a maintain project's `repo`).
    pub repo: String,
    /// The forge serving `repo`; inferred when unset (see `maintain.projects.forge`).
    pub forge: Option<ForgeKind>,
    /// The forge's API base URL when not the default for the host.
    pub api_url: Option<String>,
    /// The branch promoted from, if not `[branches] source`.
    pub source: Option<String>,
    /// The branch moved, if not `[branches] target`. Must differ from the source.
    pub target: Option<String>,
    /// Names of repos that must be moved before this one. An unknown name or a cycle is
    /// an error naming the known repos or the cycle.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// Wait for CI on this repo's new tip before moving its dependents (default:
    /// `[branches.wait] ci`).
    pub wait: Option<bool>,
    /// The resolved repository, filled in by the loader.
    #[serde(skip_deserializing)]
    #[schemars(skip)]
    pub remote: Remote,
}

/// `[branches.ci]`: the CI gate. `missing` and `pending` verdicts are not success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct CiGate {
    /// Check the forge's CI verdict on every commit a branch would move to. Default
    /// `true`. Local-forge repos have no CI: set `false` for them.
    pub target_commits: bool,
    /// A repo whose CI shows stage is healthy (e.g. a `hello-world` deployed on stage);
    /// its verdict on `ref` must be green.
    pub validation: Option<ValidationTarget>,
    /// Check names that must all be present and green (on the validation ref and on
    /// each target commit).
    pub required_checks: Vec<String>,
}

impl Default for CiGate {
    fn default() -> Self {
        Self {
            target_commits: true,
            validation: None,
            required_checks: Vec::new(),
        }
    }
}

/// `[branches.ci.validation]`: the repo and ref whose CI verdict gates the promotion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidationTarget {
    /// The repository URL (same forms as a repo's `repo`).
    pub repo: String,
    /// The forge, when not inferred from the URL.
    pub forge: Option<ForgeKind>,
    /// The forge's API base URL, when not the default.
    pub api_url: Option<String>,
    /// The branch, tag or commit whose verdict counts. Default `main`.
    #[serde(rename = "ref", default = "default_main")]
    pub git_ref: String,
    /// The resolved repository, filled in by the loader.
    #[serde(skip_deserializing)]
    #[schemars(skip)]
    pub remote: Remote,
}

fn default_main() -> String {
    "main".to_owned()
}

/// `[branches.sentry]`: the Sentry gate, on when this table is present (needs
/// `SENTRY_AUTH_TOKEN`). It counts the issues that are unresolved and were first seen in
/// `environment` within the window, and fails, listing them with links, when there are
/// more than `threshold`. The window is absolute: it does not drift while a run waits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SentryGate {
    /// Sentry's base URL. Default `https://sentry.io`.
    #[serde(default = "default_sentry_url")]
    pub url: String,
    /// The organisation slug.
    pub org: String,
    /// The project slugs to check (at least one).
    pub projects: Vec<String>,
    /// The environment whose issues count. Default `stage`.
    #[serde(default = "default_stage")]
    pub environment: String,
    /// How many new unresolved issues are tolerated; the gate fails above it. Default 0.
    #[serde(default)]
    pub threshold: u32,
    /// Which issues are new: `"since-last-promotion"` (default: first seen after the
    /// previous promotion in the history) or a duration such as `"24h"` (first seen in
    /// the last 24 hours before the run).
    #[serde(default)]
    pub window: SentryWindow,
    /// The window when `since-last-promotion` finds no previous promotion. Default `7d`.
    #[serde(default = "default_fallback_window")]
    pub fallback_window: HumanDuration,
}

fn default_sentry_url() -> String {
    "https://sentry.io".to_owned()
}
fn default_stage() -> String {
    "stage".to_owned()
}
fn default_fallback_window() -> HumanDuration {
    HumanDuration::from_secs(7 * 24 * 3600)
}

/// How far back the Sentry gate looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SentryWindow {
    /// Since the previous promotion recorded in the history.
    #[default]
    SinceLastPromotion,
    /// This long before the run.
    Last(HumanDuration),
}

impl<'de> Deserialize<'de> for SentryWindow {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s == "since-last-promotion" {
            return Ok(Self::SinceLastPromotion);
        }
        s.parse::<HumanDuration>().map(Self::Last).map_err(|e| {
            serde::de::Error::custom(format!(
                "expected \"since-last-promotion\" or a duration: {e}"
            ))
        })
    }
}

impl JsonSchema for SentryWindow {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SentryWindow".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "`\"since-last-promotion\"` or a duration such as `\"24h\"`.",
            "anyOf": [
                {
                    "const": "since-last-promotion",
                    "description": "Since the previous promotion recorded in the history.",
                },
                {
                    "description": "This long before the run.",
                    "allOf": [generator.subschema_for::<HumanDuration>()],
                },
            ],
        })
    }
}

impl Serialize for SentryWindow {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::SinceLastPromotion => s.serialize_str("since-last-promotion"),
            Self::Last(d) => s.serialize_str(&d.to_string()),
        }
    }
}

/// One `[[branches.command_gates]]` entry: a command that must exit 0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandGate {
    /// A short name shown in the gate evidence; unique.
    pub name: String,
    /// The command line, run with `sh -c` in the directory of the configuration file;
    /// exit status 0 passes.
    pub command: String,
    /// How long it may run before it is killed and the gate fails. Default `5m`.
    #[serde(default = "default_gate_timeout")]
    pub timeout: HumanDuration,
}

fn default_gate_timeout() -> HumanDuration {
    HumanDuration::from_secs(300)
}

/// `[branches.wait]`: after moving a repo, wait for its CI before moving dependents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct WaitConfig {
    /// Wait for a green CI verdict on each moved repo's new target tip before moving the
    /// repos that depend on it. Default `false`; a repo's `wait` overrides it.
    pub ci: bool,
    /// Give up (and stop the run, reporting it partial) after this long. Default `30m`.
    pub deadline: HumanDuration,
    /// How often to ask the forge; not longer than `deadline`. Default `30s`.
    pub poll_interval: HumanDuration,
}

impl Default for WaitConfig {
    fn default() -> Self {
        Self {
            ci: false,
            deadline: HumanDuration::from_secs(30 * 60),
            poll_interval: HumanDuration::from_secs(30),
        }
    }
}

/// `[branches.history]`: a JSON-lines file in a git repo, one line per run, committed
/// and pushed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HistoryConfig {
    /// The repository holding the history (any git URL or path); pushed with plain git,
    /// so any git server works.
    pub repo: String,
    /// The file inside it, a relative path. Default `move-branches/history.jsonl`.
    #[serde(default = "default_history_path")]
    pub path: String,
    /// The branch it is committed to. Default `main`.
    #[serde(default = "default_main")]
    pub branch: String,
    /// The resolved repository, filled in by the loader (always pushed with plain git).
    #[serde(skip_deserializing)]
    #[schemars(skip)]
    pub remote: Remote,
}

fn default_history_path() -> String {
    "move-branches/history.jsonl".to_owned()
}

/// `[branches.notify]`: where a job's failures and results go. Run by hand, they are
/// printed instead.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {
    /// Post the result and failures to this Slack channel (needs `SLACK_API_TOKEN`).
    pub slack_channel: Option<String>,
    /// Send failures to Sentry as events (needs `SENTRY_DSN`). Default `false`.
    pub sentry: bool,
}

/// `[branches.approval]`: how a job (`move-branches run --job`) is approved when neither
/// `--yes` nor `--approve` is given. Without it such a job moves nothing and says so.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ApprovalConfig {
    /// Approval by reaction in a Slack channel (needs `SLACK_API_TOKEN`).
    pub slack: Option<SlackApproval>,
}

/// `[branches.approval.slack]`: once the gates pass, the job posts its plan (repos,
/// from → to, the commits that would ship, the gate evidence, the digest) as one message
/// in `channel` and waits until one of the approvers reacts with an approving reaction
/// (the plan moves, exactly as shown) or a refusing one (nothing moves), or `wait` is
/// over (nothing moves). A plan that changes while waiting is asked about again in a
/// new message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlackApproval {
    /// The channel: its id (`C0123456789`) or `#name`. The app must be a member.
    pub channel: String,
    /// Slack member ids (`U…` or `W…`, from a profile's "Copy member ID") of the people
    /// who may approve.
    #[serde(default)]
    pub approvers: Vec<String>,
    /// User group ids (`S…`) whose members may approve (needs the `usergroups:read`
    /// scope). At least one approver or group is required.
    #[serde(default)]
    pub approver_groups: Vec<String>,
    /// How long after posting the plan an approval counts; nothing moves after it.
    /// Default `4h`.
    #[serde(default = "default_approval_wait")]
    pub wait: HumanDuration,
    /// How often the reactions are read. Slack allows `reactions.get` about 50 times a
    /// minute per workspace; keep it at a few seconds or more. Default `15s`.
    #[serde(default = "default_approval_poll")]
    pub poll_interval: HumanDuration,
    /// How often the plan is made again while waiting, to notice `main` or a target
    /// moving (a few forge requests per repo each time). Default `2m`.
    #[serde(default = "default_approval_replan")]
    pub replan_interval: HumanDuration,
    /// Reactions that approve, without colons. Default `["white_check_mark"]`.
    #[serde(default = "default_approve_reactions")]
    pub approve_reactions: Vec<String>,
    /// Reactions that refuse (a refusal wins over approvals). Default `["x"]`.
    #[serde(default = "default_reject_reactions")]
    pub reject_reactions: Vec<String>,
}

fn default_approval_wait() -> HumanDuration {
    HumanDuration::from_secs(4 * 3600)
}
fn default_approval_poll() -> HumanDuration {
    HumanDuration::from_secs(15)
}
fn default_approval_replan() -> HumanDuration {
    HumanDuration::from_secs(120)
}
fn default_approve_reactions() -> Vec<String> {
    vec!["white_check_mark".to_owned()]
}
fn default_reject_reactions() -> Vec<String> {
    vec!["x".to_owned()]
}

/// `[branches.deploy_token]`: whether a run needs the deploy token.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct DeployTokenConfig {
    /// `none` (default), `acquire` (take the token for the run, release after) or
    /// `verify` (refuse to run unless the user already holds it). Needs `[lock]`.
    pub mode: DeployTokenMode,
}

/// How `move-branches run` uses the deploy token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeployTokenMode {
    /// The token is not involved.
    #[default]
    None,
    /// Acquire it for the run and release it afterwards; its fencing number is recorded.
    Acquire,
    /// The user must already hold it; its fencing number is recorded and re-checked.
    Verify,
}

/// `[branches.tagging]`: semver tags on newly promoted commits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct TaggingConfig {
    /// Tag by default, as if `--tag` were given. Default `false`.
    pub enabled: bool,
    /// The tag prefix before the version. Default `v` (tags like `v1.4.0`).
    pub prefix: String,
}

impl Default for TaggingConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            prefix: "v".to_owned(),
        }
    }
}

//! `[maintain]`: the maintenance round.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::discover::DiscoverRule;
use crate::remote::{ForgeKind, Remote};
use crate::repo_settings::RepoSettings;
use crate::types::{BranchPattern, HumanDuration, Template};

/// `[maintain]`: what the maintenance round (`maintain run`) does for which projects.
///
/// Settings at this level are defaults for every project; a project's own table can
/// override the base branch, the steps, env, labels, reviewers, assignees and draft.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct MaintainConfig {
    /// How many projects run at once. Default: the number of CPU cores. `--jobs`
    /// overrides it. Must be at least 1.
    #[schemars(range(min = 1))]
    pub jobs: Option<usize>,
    /// The branch a round commits to and pushes, with date fields (`%Y`, `%y`, `%m`,
    /// `%d`, `%%`) filled from the round's date. Default `feature/maintenance-%y-%m-%d`.
    pub branch: BranchPattern,
    /// The branch each project is cloned at and the change request targets, unless the
    /// project sets its own `base_branch`. Default `main`.
    pub base_branch: String,
    /// The commit message. Default:
    /// `"Maintenance {date}: upgrade dependencies\n\n{summary}"`.
    pub commit_message: Template,
    /// The pull/merge request title. Default `"Maintenance {date}"`.
    pub pr_title: Template,
    /// The pull/merge request body. Default: a line about the round, then `{changes}`
    /// (the dependency table).
    pub pr_body: Template,
    /// Open change requests as drafts. Default `false`.
    pub draft: bool,
    /// Labels added to every change request (a project's `labels` are added to these).
    pub labels: Vec<String>,
    /// Users asked to review every change request (a project's `reviewers` are added).
    pub reviewers: Vec<String>,
    /// Users assigned to every change request (a project's `assignees` are added).
    pub assignees: Vec<String>,
    /// The three steps run in each project's clone, in order: `upgrade`, `build`, `test`.
    pub steps: Steps,
    /// Extra environment variables for every step of every project (a project's `env`
    /// entries win over these). Never put secrets here.
    pub env: BTreeMap<String, String>,
    /// Where the team is told about the round.
    pub chat: ChatConfig,
    /// Where the clone cache and logs live (the rounds' records: `[state]`).
    pub paths: MaintainPaths,
    /// The projects of the round, as `[[maintain.projects]]` tables.
    pub projects: Vec<Project>,
    /// Rules that find more projects on a forge or on disk, as `[[maintain.discover]]`
    /// tables (`maintain projects` shows what they find).
    pub discover: Vec<DiscoverRule>,
}

impl Default for MaintainConfig {
    fn default() -> Self {
        Self {
            jobs: None,
            branch: BranchPattern::parse("feature/maintenance-%y-%m-%d").expect("valid default"),
            base_branch: "main".to_owned(),
            commit_message: Template::parse("Maintenance {date}: upgrade dependencies\n\n{summary}")
                .expect("valid default"),
            pr_title: Template::parse("Maintenance {date}").expect("valid default"),
            pr_body: Template::parse(
                "Maintenance round `{round}` of **{project}**: upgrade, build and test passed.\n\n{summary}\n\n{changes}\n",
            )
            .expect("valid default"),
            draft: false,
            labels: Vec::new(),
            reviewers: Vec::new(),
            assignees: Vec::new(),
            steps: Steps::default(),
            env: BTreeMap::new(),
            chat: ChatConfig::default(),
            paths: MaintainPaths::default(),
            projects: Vec::new(),
            discover: Vec::new(),
        }
    }
}

impl MaintainConfig {
    /// `jobs`, or the number of CPU cores when unset.
    #[must_use]
    pub fn jobs(&self) -> NonZeroUsize {
        self.jobs
            .and_then(NonZeroUsize::new)
            .or_else(|| std::thread::available_parallelism().ok())
            .unwrap_or(NonZeroUsize::MIN)
    }

    /// The project named `name`.
    #[must_use]
    pub fn project(&self, name: &str) -> Option<&Project> {
        self.projects.iter().find(|p| p.name == name)
    }

    /// The effective settings of a project: its overrides applied over the defaults.
    #[must_use]
    pub fn resolve(&self, project: &Project) -> ResolvedProject {
        let merge = |global: &[String], own: &[String]| {
            let mut v = global.to_vec();
            for x in own {
                if !v.contains(x) {
                    v.push(x.clone());
                }
            }
            v
        };
        let mut env = self.env.clone();
        env.extend(project.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        ResolvedProject {
            name: project.name.clone(),
            remote: project.remote.clone(),
            base_branch: project
                .base_branch
                .clone()
                .unwrap_or_else(|| self.base_branch.clone()),
            upgrade: self.steps.upgrade.with(project.steps.upgrade.as_ref()),
            build: self.steps.build.with(project.steps.build.as_ref()),
            test: self.steps.test.with(project.steps.test.as_ref()),
            env,
            labels: merge(&self.labels, &project.labels),
            reviewers: merge(&self.reviewers, &project.reviewers),
            assignees: merge(&self.assignees, &project.assignees),
            draft: project.draft.unwrap_or(self.draft),
        }
    }

    /// [`Self::resolve`] for every project, in file order.
    #[must_use]
    pub fn resolved_projects(&self) -> Vec<ResolvedProject> {
        self.projects.iter().map(|p| self.resolve(p)).collect()
    }
}

/// One `[[maintain.projects]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Project {
    /// The project's name: unique, used in logs, journal, threads and `--only`/`--skip`.
    /// Letters, digits, `.`, `_` and `-`.
    pub name: String,
    /// The repository: `https://github.com/OWNER/NAME`, `git@github.com:OWNER/NAME.git`,
    /// a GitLab URL (also self-hosted, also subgroups), any other git URL, or a local
    /// path (relative to this file) for the local forge.
    pub repo: String,
    /// The forge serving `repo`. Inferred when unset: `github.com` → `github`,
    /// `gitlab.com` and hosts named `gitlab.*` → `gitlab`, anything else → `local`.
    /// Set it for GitHub Enterprise or a GitLab host with another name.
    pub forge: Option<ForgeKind>,
    /// The forge's API base URL, for GitHub Enterprise or self-hosted GitLab whose API
    /// is not at the default place. Default: `https://api.github.com` for github.com,
    /// `https://HOST/api/v3` for other GitHub hosts, `https://HOST` for GitLab.
    pub api_url: Option<String>,
    /// The base branch, if not `[maintain] base_branch`.
    pub base_branch: Option<String>,
    /// Overrides of the steps' command and/or timeout for this project.
    #[serde(default)]
    pub steps: StepOverrides,
    /// Extra environment variables for this project's steps; they win over
    /// `[maintain] env` entries of the same name. Never put secrets here.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Labels for this project's change request, added to `[maintain] labels`.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Reviewers for this project's change request, added to `[maintain] reviewers`.
    #[serde(default)]
    pub reviewers: Vec<String>,
    /// Assignees for this project's change request, added to `[maintain] assignees`.
    #[serde(default)]
    pub assignees: Vec<String>,
    /// Open this project's change request as a draft (default: `[maintain] draft`).
    pub draft: Option<bool>,
    /// The resolved repository, filled in by the loader from `repo`, `forge`, `api_url`.
    #[serde(skip_deserializing)]
    #[schemars(skip)]
    pub remote: Remote,
}

/// The three steps of a round. Each may set `command`, `timeout` or both; what is not
/// set keeps its default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(from = "StepOverrides")]
pub struct Steps {
    /// Bump the pinned dependencies. Default `make upgrade`, timeout `30m`.
    pub upgrade: Step,
    /// Build the artefacts (images). Default `make build`, timeout `1h`.
    pub build: Step,
    /// Run the tests. Default `make test`, timeout `1h`.
    pub test: Step,
}

impl From<StepOverrides> for Steps {
    fn from(o: StepOverrides) -> Self {
        let d = Self::default();
        Self {
            upgrade: d.upgrade.with(o.upgrade.as_ref()),
            build: d.build.with(o.build.as_ref()),
            test: d.test.with(o.test.as_ref()),
        }
    }
}

impl Default for Steps {
    fn default() -> Self {
        Self {
            upgrade: Step::new("make upgrade", 30 * 60),
            build: Step::new("make build", 60 * 60),
            test: Step::new("make test", 60 * 60),
        }
    }
}

/// A step: a shell command (run with `sh -c` in the project's clone) and how long it may
/// take before it is killed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// The command line, run with `sh -c`.
    pub command: String,
    /// How long the step may run before it (and its children) are killed, e.g. `"30m"`.
    pub timeout: HumanDuration,
}

impl Step {
    fn new(command: &str, secs: u64) -> Self {
        Self {
            command: command.to_owned(),
            timeout: HumanDuration::from_secs(secs),
        }
    }

    fn with(&self, o: Option<&StepOverride>) -> Self {
        Self {
            command: o
                .and_then(|o| o.command.clone())
                .unwrap_or_else(|| self.command.clone()),
            timeout: o.and_then(|o| o.timeout).unwrap_or(self.timeout),
        }
    }
}

/// The steps' settings, as written: in `[maintain.steps]` (over the built-in defaults)
/// and in a project's `steps` (over `[maintain.steps]`). Each step may set its command,
/// its timeout or both.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct StepOverrides {
    /// The `upgrade` step: bump the pinned dependencies.
    pub upgrade: Option<StepOverride>,
    /// The `build` step: build the artefacts (images).
    pub build: Option<StepOverride>,
    /// The `test` step: run the tests.
    pub test: Option<StepOverride>,
}

/// One step's command and/or timeout; what is not set keeps the default (for a
/// project: its `[maintain.steps]` setting).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct StepOverride {
    /// The command line, run with `sh -c` in the project's clone.
    pub command: Option<String>,
    /// How long the step may run before it and its children are killed.
    pub timeout: Option<HumanDuration>,
}

/// A project with every default applied: what the round actually runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedProject {
    /// The project's name.
    pub name: String,
    /// Its repository.
    pub remote: Remote,
    /// The base branch.
    pub base_branch: String,
    /// The upgrade step.
    pub upgrade: Step,
    /// The build step.
    pub build: Step,
    /// The test step.
    pub test: Step,
    /// Extra environment for the steps (global entries, then the project's).
    pub env: BTreeMap<String, String>,
    /// Labels for the change request.
    pub labels: Vec<String>,
    /// Reviewers for the change request.
    pub reviewers: Vec<String>,
    /// Assignees for the change request.
    pub assignees: Vec<String>,
    /// Open the change request as a draft.
    pub draft: bool,
}

impl ResolvedProject {
    /// These settings with a repository's own `.upkeep.toml` merged over them: a step's
    /// command or timeout replaces this one, `env` entries win, labels, reviewers and
    /// assignees are added, `draft` replaces. (`skip` is the caller's to act on.)
    #[must_use]
    pub fn with_repo_settings(mut self, repo: &RepoSettings) -> Self {
        self.upgrade = self.upgrade.with(repo.steps.upgrade.as_ref());
        self.build = self.build.with(repo.steps.build.as_ref());
        self.test = self.test.with(repo.steps.test.as_ref());
        self.env
            .extend(repo.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        for (mine, theirs) in [
            (&mut self.labels, &repo.labels),
            (&mut self.reviewers, &repo.reviewers),
            (&mut self.assignees, &repo.assignees),
        ] {
            for x in theirs {
                if !mine.contains(x) {
                    mine.push(x.clone());
                }
            }
        }
        if let Some(d) = repo.draft {
            self.draft = d;
        }
        self
    }
}

/// Which chat the round talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChatKind {
    /// Print the summary and project messages on the terminal. Needs no token.
    #[default]
    Console,
    /// Post to a Slack channel (needs `SLACK_API_TOKEN`).
    Slack,
}

/// `[maintain.chat]`: where the round summary and project messages go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ChatConfig {
    /// `console` prints the summary and project messages on the terminal; `slack` posts
    /// them to `channel` (needs `SLACK_API_TOKEN`).
    pub kind: ChatKind,
    /// The Slack channel (`#team-maintenance` or a channel id). Required for `slack`.
    pub channel: Option<String>,
    /// The follow-up actions listed in each changed project's message, in order.
    pub checklist: Vec<String>,
    /// Also post a message for each project with nothing to upgrade (and each skipped
    /// one). By default only changed and failed projects get a message; the others are
    /// one line of the round summary.
    pub post_unchanged: bool,
    /// Which emoji mean what on a project's message (names without colons).
    pub reactions: ReactionLegend,
}

impl Default for ChatConfig {
    fn default() -> Self {
        Self {
            kind: ChatKind::Console,
            channel: None,
            checklist: [
                "Review the pull request",
                "Merge",
                "Deploy to acceptance",
                "Check acceptance",
                "Create a tag",
                "Deploy to production",
                "Check production",
            ]
            .map(str::to_owned)
            .to_vec(),
            post_unchanged: false,
            reactions: ReactionLegend::default(),
        }
    }
}

/// `[maintain.chat.reactions]`: the emoji (name without colons) for each state of a
/// project's message. Defaults follow the team's legend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ReactionLegend {
    /// Someone is working on it. Default `eyes`.
    pub working: String,
    /// The change request is approved. Default `white_check_mark`.
    pub approved: String,
    /// Checked by its author, who cannot approve. Default `thumbsup`.
    pub checked_by_author: String,
    /// Merged (and so being deployed to acceptance). Default `twisted_rightwards_arrows`.
    pub merged: String,
    /// Deployed to acceptance. Default `jenkins-acc`.
    pub deployed_acceptance: String,
    /// Checked on acceptance. Default `release-acc`.
    pub checked_acceptance: String,
    /// Tagged (and so being deployed to production). Default `label`.
    pub tagged: String,
    /// Deployed to production. Default `jenkins_ci`.
    pub deployed_production: String,
    /// Checked on production. Default `rocket`.
    pub checked_production: String,
    /// Tests failing / the round failed for this project. Default `boom`.
    pub failing: String,
    /// Skip this project in the running round. Default `x`.
    pub skip: String,
}

impl Default for ReactionLegend {
    fn default() -> Self {
        let s = str::to_owned;
        Self {
            working: s("eyes"),
            approved: s("white_check_mark"),
            checked_by_author: s("thumbsup"),
            merged: s("twisted_rightwards_arrows"),
            deployed_acceptance: s("jenkins-acc"),
            checked_acceptance: s("release-acc"),
            tagged: s("label"),
            deployed_production: s("jenkins_ci"),
            checked_production: s("rocket"),
            failing: s("boom"),
            skip: s("x"),
        }
    }
}

impl ReactionLegend {
    /// `(field name, emoji)` pairs in legend order, for display and checks.
    #[must_use]
    pub fn entries(&self) -> [(&'static str, &str); 11] {
        [
            ("working", &self.working),
            ("approved", &self.approved),
            ("checked_by_author", &self.checked_by_author),
            ("merged", &self.merged),
            ("deployed_acceptance", &self.deployed_acceptance),
            ("checked_acceptance", &self.checked_acceptance),
            ("tagged", &self.tagged),
            ("deployed_production", &self.deployed_production),
            ("checked_production", &self.checked_production),
            ("failing", &self.failing),
            ("skip", &self.skip),
        ]
    }
}

/// `[maintain.paths]`: where the round keeps its files. Relative paths are resolved
/// against the configuration file's directory; after loading every field is absolute.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct MaintainPaths {
    /// Cached clones, one per project (`<cache>/<project>`). Default
    /// `<state_dir>/cache/maintain`, apart from `[branches] cache` so that the two tools
    /// never share a work tree.
    pub cache: PathBuf,
    /// Step logs, `<logs>/<round>/<project>/<step>.log`. Default `<state_dir>/logs`.
    pub logs: PathBuf,
}

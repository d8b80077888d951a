//! A round's project set: the projects listed in `[[maintain.projects]]` plus those the
//! `[[maintain.discover]]` rules find, resolved once per round and recorded.
//!
//! [`resolve`] lists every rule's source through its forge's [`Discover`] adapter,
//! filters each listed repository with the rule ([`DiscoverRule::filter`]), and keeps
//! every repository it left out with the reason, so `maintain projects` can show why a
//! repository is not in the round. The result is a [`ProjectSet`]: a plain record of
//! which repositories are projects and where each came from. [`ProjectSet::apply`] turns
//! it back into `[[maintain.projects]]` entries with the rule's settings, so the rest of
//! the round (selection, steps, change requests, summary) does not know whether a
//! project was listed or found.
//!
//! Why recorded: a forge's listing changes while a round runs (someone archives a
//! repository, adds a topic). A re-run of the round, or another shard of it, must work
//! on the same set, so the first run records the set in the round's state ([`set_key`]:
//! `rounds/<round>/set`, in the local state directory or the shared state repository,
//! written compare-and-swap so that of two shards resolving at once one set wins) and
//! later runs read it instead of listing again ([`load_or_resolve`]).
//!
//! A repository's own `.upkeep.toml` is not part of the set: it is read from the base
//! branch each time a project runs (the round's `config` stage), so a fix to it takes
//! effect on the next run.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use upkeep_config::{
    Candidate, DiscoverRule, ForgeKind, LeftOutReason, MaintainConfig, Project, REPO_SETTINGS_FILE,
    Remote, RepoSettings, ResolvedProject,
};
use upkeep_forge::{Discover, ForgeError, ListScope, ListedRepo, Listing, RepoId};
use upkeep_state::{Cas, Expected, Key, StateStore, StateStoreExt as _};

/// Where a project of the set came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    /// Listed by hand in `[[maintain.projects]]`.
    Listed,
    /// Found by a `[[maintain.discover]]` rule.
    Discovered {
        /// The rule's name.
        rule: String,
    },
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Listed => f.write_str("listed"),
            Self::Discovered { rule } => write!(f, "rule {rule}"),
        }
    }
}

/// One project of the set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetProject {
    /// The project's name.
    pub name: String,
    /// Where it came from.
    pub origin: Origin,
    /// What git clones.
    pub repo: String,
    /// The forge serving it.
    pub forge: ForgeKind,
    /// The forge's API base URL (discovered projects on GitHub and GitLab).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
    /// The base branch the listing reported (discovered projects), used unless the rule
    /// sets `base_branch`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_branch: Option<String>,
    /// The repository's topics as listed (discovered projects).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topics: Vec<String>,
}

/// A listed repository that is not a project, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeftOut {
    /// The rule that listed it.
    pub rule: String,
    /// The repository's full path (`owner/name`; for a directory, its name).
    pub repo: String,
    /// Why it was left out.
    #[serde(flatten)]
    pub reason: LeftOutReason,
}

/// A round's project set, as resolved once and recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectSet {
    /// Format version of the record.
    pub version: u32,
    /// When the rules were listed.
    pub resolved_at: DateTime<Utc>,
    /// The projects: the listed ones in file order, then each rule's finds in the
    /// forge's order.
    pub projects: Vec<SetProject>,
    /// Every listed repository that is not a project, with the reason.
    pub left_out: Vec<LeftOut>,
    /// Things worth telling: a rule that found nothing, a repository that did not open.
    pub warnings: Vec<String>,
}

/// Resolving the set failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    /// A rule's source could not be listed.
    #[error("discover rule `{rule}` cannot list {scope}")]
    List {
        /// The rule.
        rule: String,
        /// What it lists.
        scope: String,
        /// Why.
        #[source]
        source: Box<ForgeError>,
    },
    /// No adapter was given for a rule (the caller's bug, or a forge this build lacks).
    #[error("discover rule `{rule}`: no {forge} adapter to list {scope} with")]
    NoLister {
        /// The rule.
        rule: String,
        /// The forge it needs.
        forge: ForgeKind,
        /// What it lists.
        scope: String,
    },
    /// A discovered project has the name of another project with another repository.
    #[error("project name `{name}` is taken twice: {first} and {second}")]
    NameClash {
        /// The name.
        name: String,
        /// The first holder, e.g. "listed project `api` (…)".
        first: String,
        /// The second, e.g. "repository acme/api found by rule `github-org-acme`".
        second: String,
    },
    /// A discovered repository's clone URL does not make a valid remote.
    #[error("discover rule `{rule}`: repository {repo}: {message}")]
    BadRepo {
        /// The rule.
        rule: String,
        /// The repository's path.
        repo: String,
        /// Why.
        message: String,
    },
    /// The recorded set could not be read or written.
    #[error("cannot {doing} the round's project set ({place})")]
    Record {
        /// Reading or writing.
        doing: &'static str,
        /// The record and its store.
        place: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// The scope a rule lists, in the forge layer's terms.
#[must_use]
pub fn scope_of(rule: &DiscoverRule) -> Option<ListScope> {
    use upkeep_config::DiscoverSource as S;
    Some(match &rule.source {
        S::GithubOrg { org, .. } => ListScope::GitHubOrg { org: org.clone() },
        S::GithubUser { user, .. } => ListScope::GitHubUser { user: user.clone() },
        S::GitlabGroup {
            group, subgroups, ..
        } => ListScope::GitLabGroup {
            group: group.clone(),
            subgroups: *subgroups,
        },
        S::Directory { path } => ListScope::Directory { path: path.clone() },
        S::Unset => return None,
    })
}

/// A repository's identity, to notice one repository reached twice: forge, host and
/// path.
type Identity = (ForgeKind, Option<String>, String);

/// The repository identity of `remote` (a local path made canonical).
fn identity(remote: &Remote) -> Identity {
    let path = if remote.kind == ForgeKind::Local {
        // One directory reached by two paths (a symlink, `..`) is one repository.
        fs_err::canonicalize(&remote.path).map_or_else(
            |_| remote.path.clone(),
            |p| p.to_string_lossy().into_owned(),
        )
    } else {
        remote.path.clone()
    };
    let path = path.trim_end_matches('/').trim_end_matches(".git");
    (remote.kind, remote.host.clone(), path.to_owned())
}

/// The set being built: which names and repositories are taken, and by whom.
struct Resolver {
    set: ProjectSet,
    /// name → (its repository, who holds it, in words)
    names: BTreeMap<String, (Identity, String)>,
    /// repository → where it came from, with the project's name
    taken: HashMap<Identity, (Origin, String)>,
}

/// Resolves the set: the listed projects, then what each rule finds. `listers` holds
/// the adapter for each rule, by rule name (`DiscoverRule::label`).
///
/// A rule that keeps nothing is a warning naming it; a listing that fails, or a
/// discovered name that is taken by another repository, is an error.
pub async fn resolve(
    maintain: &MaintainConfig,
    listers: &BTreeMap<String, Arc<dyn Discover>>,
) -> Result<ProjectSet, DiscoverError> {
    let mut r = Resolver {
        set: ProjectSet {
            version: 1,
            resolved_at: Utc::now(),
            projects: Vec::new(),
            left_out: Vec::new(),
            warnings: Vec::new(),
        },
        names: BTreeMap::new(),
        taken: HashMap::new(),
    };
    for p in &maintain.projects {
        let id = identity(&p.remote);
        r.names.insert(
            p.name.clone(),
            (
                id.clone(),
                format!("listed project `{}` ({})", p.name, p.repo),
            ),
        );
        r.taken.insert(id, (Origin::Listed, p.name.clone()));
        r.set.projects.push(SetProject {
            name: p.name.clone(),
            origin: Origin::Listed,
            repo: p.remote.url.clone(),
            forge: p.remote.kind,
            api_url: p.remote.api_url.clone(),
            default_branch: None,
            topics: Vec::new(),
        });
    }
    for rule in &maintain.discover {
        let Some(scope) = scope_of(rule) else {
            continue;
        };
        let Some(lister) = listers.get(&rule.label) else {
            return Err(DiscoverError::NoLister {
                rule: rule.label.clone(),
                forge: rule.source.forge(),
                scope: scope.to_string(),
            });
        };
        let listing = lister
            .list_repos(&scope)
            .await
            .map_err(|source| DiscoverError::List {
                rule: rule.label.clone(),
                scope: rule.source.to_string(),
                source: Box::new(source),
            })?;
        r.rule(rule, &listing)?;
    }
    Ok(r.set)
}

impl Resolver {
    /// Filters one rule's listing into the set.
    fn rule(&mut self, rule: &DiscoverRule, listing: &Listing) -> Result<(), DiscoverError> {
        self.set.warnings.extend(
            listing
                .warnings
                .iter()
                .map(|w| format!("discover rule `{}`: {w}", rule.label)),
        );
        let mut kept = 0usize;
        let mut reasons: BTreeMap<&'static str, usize> = BTreeMap::new();
        for repo in &listing.repos {
            // A repository already in the set is said to be so, whatever this rule's
            // filters think of it.
            let entry = discovered_entry(rule, repo);
            let id = identity(&remote_of(rule, &entry)?);
            let reason = match self.taken.get(&id) {
                Some((Origin::Listed, project)) => Some(LeftOutReason::Listed {
                    project: project.clone(),
                }),
                Some((Origin::Discovered { rule }, _)) => {
                    Some(LeftOutReason::FoundEarlier { rule: rule.clone() })
                }
                None => {
                    let reason = rule.filter(&Candidate {
                        name: &repo.name,
                        path: &repo.path,
                        topics: &repo.topics,
                        archived: repo.archived,
                        fork: repo.fork,
                        empty: repo.empty,
                    });
                    if reason.is_none() {
                        self.take(rule, repo, entry, id)?;
                    }
                    reason
                }
            };
            if let Some(reason) = reason {
                *reasons.entry(reason.key()).or_default() += 1;
                self.set.left_out.push(LeftOut {
                    rule: rule.label.clone(),
                    repo: repo.path.clone(),
                    reason,
                });
            } else {
                kept += 1;
            }
        }
        if kept == 0 {
            let why = if listing.repos.is_empty() {
                "it lists no repository".to_owned()
            } else {
                let counts: Vec<String> = reasons.iter().map(|(k, n)| format!("{n} {k}")).collect();
                format!(
                    "all {} listed repositories are left out ({})",
                    listing.repos.len(),
                    counts.join(", ")
                )
            };
            self.set.warnings.push(format!(
                "discover rule `{}` ({}) matches no project: {why}",
                rule.label, rule.source
            ));
        }
        Ok(())
    }

    /// Adds a repository the rule keeps. A name taken by another repository is an
    /// error naming both.
    fn take(
        &mut self,
        rule: &DiscoverRule,
        repo: &ListedRepo,
        entry: SetProject,
        id: Identity,
    ) -> Result<(), DiscoverError> {
        let holder = format!("repository {} found by rule `{}`", repo.path, rule.label);
        if let Some((_, first)) = self.names.get(&entry.name) {
            return Err(DiscoverError::NameClash {
                name: entry.name.clone(),
                first: first.clone(),
                second: holder,
            });
        }
        self.names.insert(entry.name.clone(), (id.clone(), holder));
        self.taken
            .insert(id, (entry.origin.clone(), entry.name.clone()));
        self.set.projects.push(entry);
        Ok(())
    }
}

fn discovered_entry(rule: &DiscoverRule, repo: &ListedRepo) -> SetProject {
    let clone_url = match &rule.clone_url {
        Some(template) => template.replace("{path}", &repo.path),
        None => repo.clone_url.clone(),
    };
    SetProject {
        name: repo.name.clone(),
        origin: Origin::Discovered {
            rule: rule.label.clone(),
        },
        repo: clone_url,
        forge: rule.source.forge(),
        api_url: rule.source.api_url().map(str::to_owned),
        default_branch: repo.default_branch.clone(),
        topics: repo.topics.clone(),
    }
}

fn remote_of(rule: &DiscoverRule, entry: &SetProject) -> Result<Remote, DiscoverError> {
    Remote::resolve(
        &entry.repo,
        Some(entry.forge),
        entry.api_url.as_deref(),
        Path::new("/"),
    )
    .map_err(|message| DiscoverError::BadRepo {
        rule: rule.label.clone(),
        repo: entry.repo.clone(),
        message,
    })
}

impl ProjectSet {
    /// The `[maintain]` configuration with the set's discovered projects added to
    /// `projects`, each with its rule's settings. Listed projects keep their own table.
    /// A rule renamed or removed since the set was recorded leaves its projects with the
    /// `[maintain]` defaults (and a warning).
    pub fn apply(&self, maintain: &MaintainConfig) -> Result<MaintainConfig, DiscoverError> {
        let mut out = maintain.clone();
        for entry in &self.projects {
            let Origin::Discovered { rule } = &entry.origin else {
                continue;
            };
            let found = maintain.discover.iter().find(|r| &r.label == rule);
            let fallback;
            let rule_cfg = if let Some(r) = found {
                r
            } else {
                fallback = DiscoverRule {
                    label: rule.clone(),
                    ..serde_json::from_value::<DiscoverRule>(serde_json::json!({}))
                        .expect("a rule with every default")
                };
                &fallback
            };
            let remote = remote_of(rule_cfg, entry)?;
            out.projects.push(Project {
                name: entry.name.clone(),
                repo: entry.repo.clone(),
                forge: Some(entry.forge),
                api_url: entry.api_url.clone(),
                base_branch: rule_cfg
                    .base_branch
                    .clone()
                    .or_else(|| entry.default_branch.clone()),
                steps: rule_cfg.steps.clone(),
                env: rule_cfg.env.clone(),
                labels: rule_cfg.labels.clone(),
                reviewers: rule_cfg.reviewers.clone(),
                assignees: rule_cfg.assignees.clone(),
                draft: rule_cfg.draft,
                remote,
            });
        }
        Ok(out)
    }

    /// Rules named in the set that the configuration no longer has.
    #[must_use]
    pub fn stale_rules(&self, maintain: &MaintainConfig) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for p in &self.projects {
            if let Origin::Discovered { rule } = &p.origin
                && !maintain.discover.iter().any(|r| &r.label == rule)
                && !out.contains(rule)
            {
                out.push(rule.clone());
            }
        }
        out
    }

    /// The project named `name`.
    #[must_use]
    pub fn project(&self, name: &str) -> Option<&SetProject> {
        self.projects.iter().find(|p| p.name == name)
    }
}

/// The key the set of round `round` is recorded under in the round's state:
/// `rounds/<round>/set`, next to its per-project records.
pub fn set_key(round: &str) -> Result<Key, DiscoverError> {
    Key::from_segments(["rounds", round, "set"]).map_err(|e| DiscoverError::Record {
        doing: "name",
        place: format!("round {round}"),
        source: Box::new(e),
    })
}

/// The set recorded for round `round`, if any.
pub fn load_set(store: &dyn StateStore, round: &str) -> Result<Option<ProjectSet>, DiscoverError> {
    let key = set_key(round)?;
    let err = |source: Box<dyn std::error::Error + Send + Sync>| DiscoverError::Record {
        doing: "read",
        place: format!("{key} in {}", store.location()),
        source,
    };
    let Some(record) = store.read(&key).map_err(|e| err(Box::new(e)))? else {
        return Ok(None);
    };
    record.json().map(Some).map_err(|e| err(Box::new(e)))
}

/// Records `set` for round `round` unless a set is recorded already, and returns the
/// round's set: the first runner to record wins (compare-and-swap on an absent record),
/// and every other runner of the round — a shard that resolved at the same time —
/// works on the winner's set.
pub fn record_set(
    store: &dyn StateStore,
    round: &str,
    set: ProjectSet,
) -> Result<ProjectSet, DiscoverError> {
    let key = set_key(round)?;
    let err = |source: Box<dyn std::error::Error + Send + Sync>| DiscoverError::Record {
        doing: "write",
        place: format!("{key} in {}", store.location()),
        source,
    };
    match store
        .write_json(&key, &Expected::Absent, &set)
        .map_err(|e| err(Box::new(e)))?
    {
        Cas::Done(_) => Ok(set),
        Cas::Conflict {
            current: Some(record),
        } => record.json().map_err(|e| err(Box::new(e))),
        Cas::Conflict { current: None } => Err(err(
            "the record was deleted while it was being written; run again".into(),
        )),
    }
}

/// Whether the set came from the record or was listed now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SetSource {
    /// The configuration has no discover rules: the listed projects are the set.
    Listed,
    /// Listed now (and recorded, unless asked not to).
    Resolved,
    /// Read from the round's record.
    Recorded,
}

/// The round's set: the one recorded for `round` in `store` when there is one, else
/// resolved now and (when `save`) recorded there — by whichever runner of the round
/// records first ([`record_set`]). Without discover rules nothing is listed or recorded.
pub async fn load_or_resolve(
    maintain: &MaintainConfig,
    listers: &BTreeMap<String, Arc<dyn Discover>>,
    store: Arc<dyn StateStore>,
    round: &str,
    save: bool,
) -> Result<(ProjectSet, SetSource), DiscoverError> {
    if maintain.discover.is_empty() {
        return Ok((resolve(maintain, listers).await?, SetSource::Listed));
    }
    let owned = round.to_owned();
    let recorded = in_store(&store, move |store| load_set(store, &owned)).await?;
    if let Some(set) = recorded {
        return Ok((with_stale_rule_warnings(set, maintain), SetSource::Recorded));
    }
    let set = resolve(maintain, listers).await?;
    if !save {
        return Ok((set, SetSource::Resolved));
    }
    let (owned, mine) = (round.to_owned(), set.clone());
    let kept = in_store(&store, move |store| record_set(store, &owned, mine)).await?;
    if kept == set {
        Ok((set, SetSource::Resolved))
    } else {
        // Another runner of the round recorded its set first.
        Ok((
            with_stale_rule_warnings(kept, maintain),
            SetSource::Recorded,
        ))
    }
}

/// Runs `call` on the blocking pool: the git store talks to a remote.
async fn in_store<T: Send + 'static>(
    store: &Arc<dyn StateStore>,
    call: impl FnOnce(&dyn StateStore) -> Result<T, DiscoverError> + Send + 'static,
) -> Result<T, DiscoverError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || call(store.as_ref()))
        .await
        .map_err(|e| DiscoverError::Record {
            doing: "finish reading or writing",
            place: "the state store".to_owned(),
            source: Box::new(e),
        })?
}

fn with_stale_rule_warnings(mut set: ProjectSet, maintain: &MaintainConfig) -> ProjectSet {
    for rule in set.stale_rules(maintain) {
        set.warnings.push(format!(
            "the round's project set names rule `{rule}`, which the configuration no longer has; its projects run with the [maintain] defaults"
        ));
    }
    set
}

/// A repository's `.upkeep.toml` as read for display or a check.
#[derive(Debug, Clone)]
pub enum RepoSettingsRead {
    /// The base branch has no such file.
    Absent,
    /// Read and valid.
    Valid(Box<RepoSettings>),
    /// Read, but invalid: the message names the file, line and key.
    Invalid(String),
    /// Could not be read (the message says why).
    Unreadable(String),
}

/// The name a repository's `.upkeep.toml` goes by in messages: `api@main:.upkeep.toml`.
#[must_use]
pub fn repo_settings_label(project: &str, branch: &str) -> String {
    format!("{project}@{branch}:{REPO_SETTINGS_FILE}")
}

/// Parses a repository's `.upkeep.toml` text into [`RepoSettingsRead`].
#[must_use]
pub fn parse_repo_settings(project: &str, branch: &str, text: &[u8]) -> RepoSettingsRead {
    let label = repo_settings_label(project, branch);
    match std::str::from_utf8(text) {
        Ok(t) => match RepoSettings::from_str(t, Path::new(&label)) {
            Ok(s) => RepoSettingsRead::Valid(Box::new(s)),
            Err(e) => RepoSettingsRead::Invalid(e.to_string()),
        },
        Err(e) => RepoSettingsRead::Invalid(format!("{label}: not UTF-8 text: {e}")),
    }
}

/// Reads a project's `.upkeep.toml` from its base branch through `lister`.
pub async fn read_repo_settings(
    lister: &dyn Discover,
    project: &ResolvedProject,
    repo: &RepoId,
) -> RepoSettingsRead {
    match lister
        .read_file(repo, &project.base_branch, REPO_SETTINGS_FILE)
        .await
    {
        Ok(None) => RepoSettingsRead::Absent,
        Ok(Some(bytes)) => parse_repo_settings(&project.name, &project.base_branch, &bytes),
        Err(e) => RepoSettingsRead::Unreadable(e.to_string()),
    }
}

/// The target names a Makefile defines (rule lines `a b: …`, not variable assignments
/// `a := …`, not special targets like `.PHONY`). Read, never run.
#[must_use]
pub fn makefile_targets(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with('\t') || line.trim_start().starts_with('#') {
            continue;
        }
        let Some((head, rest)) = line.split_once(':') else {
            continue;
        };
        // `a := b`, `a ::= b` are assignments; `a = b: c` is a variable too.
        if rest.starts_with('=') || rest.starts_with(":=") || head.contains('=') {
            continue;
        }
        for t in head.split_whitespace() {
            if !t.starts_with('.') && !t.contains('$') && !t.contains('%') {
                out.push(t.to_owned());
            }
        }
    }
    out
}

/// The `make` target a step command runs, when it is a plain `make TARGET`.
#[must_use]
pub fn make_target(command: &str) -> Option<&str> {
    let mut words = command.split_whitespace();
    if words.next() != Some("make") {
        return None;
    }
    let rest: Vec<&str> = words.collect();
    match rest.as_slice() {
        [target] if !target.starts_with('-') && !target.contains('=') => Some(target),
        _ => None,
    }
}

/// Reads files of repositories without cloning, per forge and API base URL (`None` for
/// the local forge); `maintain projects` and `maintain doctor` use it for `.upkeep.toml`
/// and the `Makefile`. A project whose forge has no entry is not read.
pub type Readers = HashMap<(ForgeKind, Option<String>), Arc<dyn Discover>>;

/// The reader for a project's repository, if any.
#[must_use]
pub fn reader_for<'a>(
    readers: &'a Readers,
    project: &ResolvedProject,
) -> Option<&'a Arc<dyn Discover>> {
    readers.get(&(project.remote.kind, project.remote.api_url.clone()))
}

/// The id a project's repository has on its forge's [`Discover`] adapter.
#[must_use]
pub fn repo_id(project: &ResolvedProject) -> RepoId {
    match project.remote.kind {
        ForgeKind::Local => RepoId::new(project.remote.url.clone()),
        _ => RepoId::new(project.remote.path.clone()),
    }
}

/// One step as it will run.
#[derive(Debug, Clone, Serialize)]
pub struct StepView {
    /// The command line.
    pub command: String,
    /// Its timeout, as written (`30m`).
    pub timeout: String,
}

/// What a project's `.upkeep.toml` did to its settings.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SettingsView {
    /// The base branch has none.
    Absent,
    /// Read and merged over the central settings.
    Applied,
    /// Invalid: the project fails at the `config` stage with this message.
    Invalid {
        /// The error, with file, line and key.
        message: String,
    },
    /// Could not be read.
    Unreadable {
        /// Why.
        message: String,
    },
    /// Not read: no reader for this forge (it is read when the project runs).
    NotRead,
}

/// One project as `maintain projects` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ProjectView {
    /// The project's name.
    pub name: String,
    /// Where it came from.
    pub origin: Origin,
    /// What git clones.
    pub repo: String,
    /// The forge serving it.
    pub forge: ForgeKind,
    /// The base branch.
    pub base_branch: String,
    /// Its topics as listed (discovered projects).
    pub topics: Vec<String>,
    /// The steps as they will run, `.upkeep.toml` included.
    pub steps: BTreeMap<&'static str, StepView>,
    /// What its `.upkeep.toml` did.
    pub repo_settings: SettingsView,
    /// Why its `.upkeep.toml` skips it, when it does.
    pub skip_reason: Option<String>,
}

/// A left-out repository as `maintain projects` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct LeftOutView {
    /// The rule that listed it.
    pub rule: String,
    /// Its full path.
    pub repo: String,
    /// The reason's key (`archived`, `fork`, `empty`, `no_topic`, `not_included`,
    /// `excluded`, `listed`, `found_earlier`).
    pub reason: &'static str,
    /// The reason in words, with what to change to keep it.
    pub detail: String,
}

/// What `maintain projects` shows: the round's set with each project's effective steps
/// and every repository left out.
#[derive(Debug, Clone, Serialize)]
pub struct ProjectsView {
    /// The round.
    pub round: String,
    /// Whether the set was read from the round's record or listed now.
    pub source: SetSource,
    /// The projects.
    pub projects: Vec<ProjectView>,
    /// The repositories left out.
    pub left_out: Vec<LeftOutView>,
    /// Warnings of the resolution.
    pub warnings: Vec<String>,
}

/// Builds the view of a set: each project resolved with the configuration (`applied`:
/// [`ProjectSet::apply`]'s result) and its `.upkeep.toml` read through `readers`.
pub async fn view(
    round: &str,
    set: &ProjectSet,
    source: SetSource,
    applied: &MaintainConfig,
    readers: &Readers,
) -> ProjectsView {
    let mut projects = Vec::new();
    for entry in &set.projects {
        let Some(project) = applied.project(&entry.name) else {
            continue;
        };
        let mut resolved = applied.resolve(project);
        let (repo_settings, skip_reason) = match reader_for(readers, &resolved) {
            None => (SettingsView::NotRead, None),
            Some(reader) => {
                match read_repo_settings(reader.as_ref(), &resolved, &repo_id(&resolved)).await {
                    RepoSettingsRead::Absent => (SettingsView::Absent, None),
                    RepoSettingsRead::Valid(s) => {
                        let skip = s.skip.then(|| s.reason.clone().unwrap_or_default());
                        resolved = resolved.with_repo_settings(&s);
                        (SettingsView::Applied, skip)
                    }
                    RepoSettingsRead::Invalid(message) => (SettingsView::Invalid { message }, None),
                    RepoSettingsRead::Unreadable(message) => {
                        (SettingsView::Unreadable { message }, None)
                    }
                }
            }
        };
        let step = |s: &upkeep_config::Step| StepView {
            command: s.command.clone(),
            timeout: s.timeout.to_string(),
        };
        projects.push(ProjectView {
            name: entry.name.clone(),
            origin: entry.origin.clone(),
            repo: resolved.remote.url.clone(),
            forge: resolved.remote.kind,
            base_branch: resolved.base_branch.clone(),
            topics: entry.topics.clone(),
            steps: BTreeMap::from([
                ("upgrade", step(&resolved.upgrade)),
                ("build", step(&resolved.build)),
                ("test", step(&resolved.test)),
            ]),
            repo_settings,
            skip_reason,
        });
    }
    ProjectsView {
        round: round.to_owned(),
        source,
        projects,
        left_out: set
            .left_out
            .iter()
            .map(|l| LeftOutView {
                rule: l.rule.clone(),
                repo: l.repo.clone(),
                reason: l.reason.key(),
                detail: l.reason.to_string(),
            })
            .collect(),
        warnings: set.warnings.clone(),
    }
}

impl ProjectsView {
    /// The view as text: one block per project, then the left-out repositories grouped
    /// by rule, then warnings.
    #[must_use]
    pub fn render_text(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let source = match self.source {
            SetSource::Listed => "listed in the configuration",
            SetSource::Resolved => "resolved now",
            SetSource::Recorded => "recorded by the round",
        };
        let _ = writeln!(
            out,
            "Round {}: {} projects ({source})",
            self.round,
            self.projects.len()
        );
        for p in &self.projects {
            let _ = writeln!(out, "\n{}  ({}, {})", p.name, p.origin, p.forge);
            let _ = writeln!(out, "  repo      {} @ {}", p.repo, p.base_branch);
            if !p.topics.is_empty() {
                let _ = writeln!(out, "  topics    {}", p.topics.join(", "));
            }
            for name in ["upgrade", "build", "test"] {
                if let Some(s) = p.steps.get(name) {
                    let _ = writeln!(out, "  {name:<9} {}  (timeout {})", s.command, s.timeout);
                }
            }
            let settings = match &p.repo_settings {
                SettingsView::Absent => "none".to_owned(),
                SettingsView::Applied => "applied".to_owned(),
                SettingsView::Invalid { message } => {
                    format!("INVALID, the project will fail at `config`: {message}")
                }
                SettingsView::Unreadable { message } => format!("unreadable: {message}"),
                SettingsView::NotRead => "not read here (read when the project runs)".to_owned(),
            };
            // A diagnostic's snippet lines stay inside the project's block.
            let settings = settings.trim_end().replace('\n', "\n            ");
            let _ = writeln!(out, "  settings  {REPO_SETTINGS_FILE}: {settings}");
            if let Some(reason) = &p.skip_reason {
                let _ = writeln!(out, "  skipped   {reason}");
            }
        }
        if !self.left_out.is_empty() {
            let _ = writeln!(out, "\nLeft out: {}", self.left_out.len());
            let mut rule = "";
            for l in &self.left_out {
                if l.rule != rule {
                    rule = &l.rule;
                    let _ = writeln!(out, "  rule {rule}:");
                }
                let _ = writeln!(out, "    {:<24} {}", l.repo, l.detail);
            }
        }
        for w in &self.warnings {
            let _ = writeln!(out, "\nwarning: {w}");
        }
        out
    }
}

/// The convention checks of `maintain doctor`, read without running anything: the
/// project's `.upkeep.toml` is valid, and its base branch has a `Makefile` with the
/// target of every step that is a plain `make TARGET`. `topics` names what the project
/// wears (discovered projects), for the message.
#[allow(clippy::too_many_lines)] // A flat list of checks reads best in one place.
pub async fn convention_checks(
    project: &ResolvedProject,
    topics: &[String],
    reader: &dyn Discover,
) -> Vec<crate::doctor::Check> {
    use crate::doctor::{Check, Verdict};
    let name = project.name.clone();
    let branch = project.base_branch.clone();
    let check = |what: &str, verdict, detail: String, fix: Option<String>| Check {
        project: Some(name.clone()),
        check: what.to_owned(),
        verdict,
        detail,
        fix,
    };
    let wears = if topics.is_empty() {
        String::new()
    } else {
        format!(" (wears {})", topics.join(", "))
    };
    let repo = repo_id(project);
    let mut out = Vec::new();
    let mut effective = project.clone();
    match read_repo_settings(reader, project, &repo).await {
        RepoSettingsRead::Absent => {}
        RepoSettingsRead::Valid(s) => {
            effective = effective.with_repo_settings(&s);
            out.push(check(
                REPO_SETTINGS_FILE,
                Verdict::Ok,
                format!("{REPO_SETTINGS_FILE} on {branch} is valid"),
                None,
            ));
        }
        RepoSettingsRead::Invalid(message) => out.push(check(
            REPO_SETTINGS_FILE,
            Verdict::Fail,
            message,
            Some(format!(
                "fix {REPO_SETTINGS_FILE} on {branch}: the project fails at the `config` stage until then"
            )),
        )),
        RepoSettingsRead::Unreadable(message) => out.push(check(
            REPO_SETTINGS_FILE,
            Verdict::Warn,
            message,
            None,
        )),
    }
    let make_steps: Vec<(&str, &str)> = [
        ("upgrade", effective.upgrade.command.as_str()),
        ("build", effective.build.command.as_str()),
        ("test", effective.test.command.as_str()),
    ]
    .into_iter()
    .filter_map(|(step, command)| make_target(command).map(|t| (step, t)))
    .collect();
    if make_steps.is_empty() {
        return out;
    }
    let makefile = match reader.read_file(&repo, &branch, "Makefile").await {
        Ok(m) => m,
        Err(e) => {
            out.push(check("convention", Verdict::Warn, e.to_string(), None));
            return out;
        }
    };
    let Some(bytes) = makefile else {
        let targets: Vec<&str> = make_steps.iter().map(|(_, t)| *t).collect();
        out.push(check(
            "convention",
            Verdict::Fail,
            format!("no Makefile on {branch}{wears}"),
            Some(format!(
                "add a Makefile with the targets {} to {branch}, or set the steps' commands in {REPO_SETTINGS_FILE}",
                targets.join(", ")
            )),
        ));
        return out;
    };
    let defined = makefile_targets(&String::from_utf8_lossy(&bytes));
    let missing: Vec<&str> = make_steps
        .iter()
        .filter(|(_, t)| !defined.iter().any(|d| d == t))
        .map(|(_, t)| *t)
        .collect();
    if missing.is_empty() {
        out.push(check(
            "convention",
            Verdict::Ok,
            format!(
                "Makefile on {branch} has {}",
                make_steps
                    .iter()
                    .map(|(_, t)| *t)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None,
        ));
    } else {
        out.push(check(
            "convention",
            Verdict::Fail,
            format!(
                "the Makefile on {branch} has no target {}{wears}",
                missing.join(", ")
            ),
            Some(format!(
                "add the target{} {} to the Makefile, or set the step's command in {REPO_SETTINGS_FILE}",
                if missing.len() == 1 { "" } else { "s" },
                missing.join(", ")
            )),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn makefile_targets_are_read_not_run() {
        let text = "VERSION := 1\nCC = gcc\n.PHONY: upgrade build test\nupgrade build:\n\tpip-compile\ntest: build\n\t# x: y\n%.o: %.c\n# note: here\n";
        assert_eq!(makefile_targets(text), ["upgrade", "build", "test"]);
        assert!(makefile_targets("VAR ::= x\n").is_empty());
    }

    #[test]
    fn make_target_of_a_plain_make_command() {
        assert_eq!(make_target("make upgrade"), Some("upgrade"));
        assert_eq!(make_target("make  test"), Some("test"));
        assert_eq!(make_target("make -C sub test"), None);
        assert_eq!(make_target("./build.sh"), None);
    }
}

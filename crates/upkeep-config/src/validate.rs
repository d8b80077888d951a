//! Checks that need the whole model: names, references between entries, URLs, branch
//! names. Each problem carries the key path it is about, which the loader turns into a
//! file position (or an `UPKEEP_…` variable).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use crate::branches::{BranchesConfig, topo_order};
use crate::discover::{DiscoverRule, DiscoverSource};
use crate::lock::LockConfig;
use crate::maintain::{ChatKind, MaintainConfig};
use crate::remote::Remote;
use crate::suggest::did_you_mean;
use crate::{Config, DeployTokenMode};

/// A segment of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// A dotted key path such as `maintain.projects[2].name`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct KeyPath(pub Vec<Seg>);

impl KeyPath {
    fn key(&self, k: &str) -> Self {
        let mut v = self.0.clone();
        v.push(Seg::Key(k.to_owned()));
        Self(v)
    }
    fn idx(&self, i: usize) -> Self {
        let mut v = self.0.clone();
        v.push(Seg::Index(i));
        Self(v)
    }
    fn root(k: &str) -> Self {
        Self(vec![Seg::Key(k.to_owned())])
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            match s {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// One problem found by validation.
#[derive(Debug, Clone)]
pub(crate) struct Problem {
    pub path: KeyPath,
    pub message: String,
    pub help: Option<String>,
    /// Another place the message refers to ("first defined at line N").
    pub related: Option<KeyPath>,
}

#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn push(&mut self, path: KeyPath, message: impl Into<String>) {
        self.0.push(Problem {
            path,
            message: message.into(),
            help: None,
            related: None,
        });
    }
    fn push_help(&mut self, path: KeyPath, message: impl Into<String>, help: impl Into<String>) {
        self.0.push(Problem {
            path,
            message: message.into(),
            help: Some(help.into()),
            related: None,
        });
    }
}

/// Checks a git branch name by git's `check-ref-format` rules (the common subset).
pub(crate) fn check_branch_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("branch name is empty".to_owned());
    }
    let bad_char = name
        .chars()
        .find(|c| c.is_control() || matches!(c, ' ' | '~' | '^' | ':' | '?' | '*' | '[' | '\\'));
    if let Some(c) = bad_char {
        return Err(format!(
            "`{name}` is not a valid branch name (contains {c:?})"
        ));
    }
    if name.contains("..")
        || name.contains("@{")
        || name.contains("//")
        || name.starts_with('/')
        || name.starts_with('-')
        || name.ends_with('/')
        || name.ends_with('.')
        || name == "@"
        || name.split('/').any(|c| {
            c.starts_with('.')
                || Path::new(c)
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("lock"))
        })
    {
        return Err(format!("`{name}` is not a valid branch name"));
    }
    Ok(())
}

fn check_entry_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("name is empty".to_owned());
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "name `{name}` contains {c:?}; use letters, digits, `.`, `_` and `-`"
        ));
    }
    if name.starts_with('.') {
        return Err(format!("name `{name}` must not start with `.`"));
    }
    Ok(())
}

fn check_names<'a>(
    p: &mut Problems,
    kind: &str,
    base: &KeyPath,
    names: impl Iterator<Item = &'a str>,
) {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, name) in names.enumerate() {
        let path = base.idx(i).key("name");
        if let Err(e) = check_entry_name(name) {
            p.push(path.clone(), e);
        }
        if let Some(first) = seen.get(name) {
            p.0.push(Problem {
                path,
                message: format!("duplicate {kind} name `{name}`"),
                help: Some(format!("{kind} names must be unique; rename one of them")),
                related: Some(base.idx(*first).key("name")),
            });
        } else {
            seen.insert(name, i);
        }
    }
}

fn check_branch(p: &mut Problems, path: KeyPath, name: &str) {
    if let Err(e) = check_branch_name(name) {
        p.push(path, e);
    }
}

fn check_nonempty(p: &mut Problems, path: KeyPath, value: &str, what: &str) {
    if value.trim().is_empty() {
        p.push(path, format!("{what} is empty"));
    }
}

fn check_http_url(p: &mut Problems, path: KeyPath, value: &str) {
    match url::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {}
        Ok(_) => p.push(path, format!("`{value}` is not an http(s) URL")),
        Err(e) => p.push(path, format!("invalid URL `{value}`: {e}")),
    }
}

fn check_env_names(p: &mut Problems, path: &KeyPath, env: &BTreeMap<String, String>) {
    for k in env.keys() {
        if k.is_empty() || k.contains('=') || k.contains('\0') {
            p.push(
                path.key(k),
                format!("`{k}` is not a valid environment variable name"),
            );
        }
    }
}

/// Resolves a `repo` (+ `forge`, `api_url`) into a [`Remote`], or records why not.
fn resolve_remote(
    p: &mut Problems,
    base: &KeyPath,
    repo: &str,
    forge: Option<crate::ForgeKind>,
    api_url: Option<&str>,
    base_dir: &Path,
) -> Remote {
    match Remote::resolve(repo, forge, api_url, base_dir) {
        Ok(r) => r,
        Err(e) => {
            let key = if e.contains("api_url") {
                "api_url"
            } else {
                "repo"
            };
            p.push(base.key(key), e);
            Remote::default()
        }
    }
}

/// Fills in the loader-computed fields (remotes, paths) and returns every problem.
pub(crate) fn validate(config: &mut Config) -> Vec<Problem> {
    let mut p = Problems::default();
    let base_dir = config.base_dir.clone();
    let state_dir = config.state_dir.clone();
    if let Some(m) = config.maintain.as_mut() {
        maintain(&mut p, m, &base_dir, &state_dir);
    }
    let has_lock = config.lock.is_some();
    if let Some(b) = config.branches.as_mut() {
        branches(&mut p, b, &base_dir, &state_dir, has_lock);
    }
    if let Some(l) = config.lock.as_mut() {
        lock(&mut p, l, &base_dir, &state_dir);
    }
    state(&mut p, &mut config.state, &base_dir, &state_dir);
    p.0
}

fn state(p: &mut Problems, s: &mut crate::StateConfig, base_dir: &Path, state_dir: &Path) {
    let root = KeyPath::root("state");
    match &s.repo {
        Some(repo) => {
            s.remote = Some(resolve_remote(
                p,
                &root,
                repo,
                s.forge,
                s.api_url.as_deref(),
                base_dir,
            ));
        }
        None => {
            for (key, set) in [
                ("forge", s.forge.is_some()),
                ("api_url", s.api_url.is_some()),
            ] {
                if set {
                    p.push_help(
                        root.key(key),
                        format!("`{key}` is set but `repo` is not"),
                        "set `repo` to the state repository, or remove the key",
                    );
                }
            }
        }
    }
    absolutise(&mut s.dir, base_dir, state_dir.join("state"));
}

fn absolutise(path: &mut std::path::PathBuf, base_dir: &Path, default: std::path::PathBuf) {
    if path.as_os_str().is_empty() {
        *path = default;
    } else if path.is_relative() {
        *path = base_dir.join(&*path);
    }
}

fn maintain(p: &mut Problems, m: &mut MaintainConfig, base_dir: &Path, state_dir: &Path) {
    let root = KeyPath::root("maintain");
    if m.jobs == Some(0) {
        p.push(root.key("jobs"), "jobs must be at least 1");
    }
    check_branch(p, root.key("base_branch"), &m.base_branch);
    for (step, s) in [
        ("upgrade", &m.steps.upgrade),
        ("build", &m.steps.build),
        ("test", &m.steps.test),
    ] {
        check_nonempty(
            p,
            root.key("steps").key(step).key("command"),
            &s.command,
            "command",
        );
    }
    check_env_names(p, &root.key("env"), &m.env);
    if m.chat.kind == ChatKind::Slack
        && m.chat
            .channel
            .as_deref()
            .is_none_or(|c| c.trim().is_empty())
    {
        p.push_help(
            root.key("chat").key("kind"),
            "chat kind `slack` needs a channel",
            "set `channel = \"#your-channel\"` in [maintain.chat]",
        );
    }
    for (field, emoji) in m.chat.reactions.entries() {
        let path = root.key("chat").key("reactions").key(field);
        if emoji.trim().is_empty() {
            p.push(path, "emoji name is empty");
        } else if emoji.contains(':') {
            p.push_help(
                path,
                format!("emoji `{emoji}` contains `:`"),
                format!(
                    "write the name without colons: `{}`",
                    emoji.trim_matches(':')
                ),
            );
        }
    }
    let projects = root.key("projects");
    check_names(
        p,
        "project",
        &projects,
        m.projects.iter().map(|x| x.name.as_str()),
    );
    for (i, proj) in m.projects.iter_mut().enumerate() {
        let at = projects.idx(i);
        proj.remote = resolve_remote(
            p,
            &at,
            &proj.repo,
            proj.forge,
            proj.api_url.as_deref(),
            base_dir,
        );
        if let Some(b) = &proj.base_branch {
            check_branch(p, at.key("base_branch"), b);
        }
        check_step_commands(p, &at, &proj.steps);
        check_env_names(p, &at.key("env"), &proj.env);
    }
    discover_rules(p, m, base_dir);
    // Separate trees per tool: both join the project/repo name, and a maintain round
    // resetting `cache/<name>` under a running move-branches (or the reverse) would
    // destroy the other's work tree.
    absolutise(
        &mut m.paths.cache,
        base_dir,
        state_dir.join("cache").join("maintain"),
    );
    absolutise(&mut m.paths.logs, base_dir, state_dir.join("logs"));
}

/// Checks the steps' commands of a set of overrides (none may be empty).
fn check_step_commands(p: &mut Problems, at: &KeyPath, steps: &crate::StepOverrides) {
    for (step, o) in [
        ("upgrade", &steps.upgrade),
        ("build", &steps.build),
        ("test", &steps.test),
    ] {
        if let Some(c) = o.as_ref().and_then(|o| o.command.as_ref()) {
            check_nonempty(p, at.key("steps").key(step).key("command"), c, "command");
        }
    }
}

/// `[[maintain.discover]]`: one source per rule, its API URL, clone URL template, globs,
/// topics, and the settings handed to the projects found. Fills in each rule's
/// [`DiscoverSource`].
fn discover_rules(p: &mut Problems, m: &mut MaintainConfig, base_dir: &Path) {
    let rules = KeyPath::root("maintain").key("discover");
    // Explicit names must be unique; made-up ones are numbered.
    let named: Vec<(usize, &str)> = m
        .discover
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.name.as_deref().map(|n| (i, n)))
        .collect();
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, name) in named {
        let path = rules.idx(i).key("name");
        if let Err(e) = check_entry_name(name) {
            p.push(path.clone(), e);
        }
        if let Some(first) = seen.get(name) {
            p.0.push(Problem {
                path,
                message: format!("duplicate discover rule name `{name}`"),
                help: Some("discover rule names must be unique; rename one of them".to_owned()),
                related: Some(rules.idx(*first).key("name")),
            });
        } else {
            seen.insert(name, i);
        }
    }
    let mut labels: BTreeMap<String, usize> = BTreeMap::new();
    for rule in &mut m.discover {
        let base = rule.default_label();
        let n = labels.entry(base.clone()).or_insert(0);
        *n += 1;
        rule.label = if *n == 1 || rule.name.is_some() {
            base
        } else {
            format!("{base}-{n}")
        };
    }
    for (i, rule) in m.discover.iter_mut().enumerate() {
        discover_rule(p, &rules.idx(i), rule, base_dir);
    }
}

/// One rule: its source, clone URL template, filters and settings.
fn discover_rule(p: &mut Problems, at: &KeyPath, rule: &mut DiscoverRule, base_dir: &Path) {
    let Some(source) = discover_source(p, at, rule, base_dir) else {
        rule.source = DiscoverSource::Unset;
        return;
    };
    if let Some(t) = &rule.clone_url {
        if !t.contains("{path}") {
            p.push_help(
                at.key("clone_url"),
                format!("`{t}` does not contain `{{path}}`"),
                "e.g. \"git@github.com:{path}.git\"",
            );
        } else if matches!(source, DiscoverSource::Directory { .. }) {
            p.push(
                at.key("clone_url"),
                "a directory's repositories are cloned from where they are; `clone_url` is for forges",
            );
        } else {
            // Any git URL or path will do (a mirror, SSH); credentials never.
            let sample = t.replace("{path}", "owner/name");
            if let Err(e) = Remote::resolve(&sample, Some(crate::ForgeKind::Local), None, base_dir)
            {
                p.push(at.key("clone_url"), e);
            }
        }
    }
    if !rule.subgroups && !matches!(source, DiscoverSource::GitlabGroup { .. }) {
        p.push(
            at.key("subgroups"),
            "`subgroups` is only for `gitlab_group` rules",
        );
    }
    for (j, t) in rule.topics.iter().enumerate() {
        check_nonempty(p, at.key("topics").idx(j), t, "topic");
    }
    for (key, globs) in [("include", &rule.include), ("exclude", &rule.exclude)] {
        for (j, g) in globs.iter().enumerate() {
            if let Err(e) = crate::discover::compile_glob(g) {
                p.push(at.key(key).idx(j), e);
            }
        }
    }
    if let Some(b) = &rule.base_branch {
        check_branch(p, at.key("base_branch"), b);
    }
    check_step_commands(p, at, &rule.steps);
    check_env_names(p, &at.key("env"), &rule.env);
    rule.source = source;
}

/// Where a rule lists: exactly one source field, its API URL filled in (or refused for
/// a directory), a directory made absolute.
fn discover_source(
    p: &mut Problems,
    at: &KeyPath,
    rule: &DiscoverRule,
    base_dir: &Path,
) -> Option<DiscoverSource> {
    let set: Vec<&str> = [
        ("github_org", rule.github_org.is_some()),
        ("github_user", rule.github_user.is_some()),
        ("gitlab_group", rule.gitlab_group.is_some()),
        ("directory", rule.directory.is_some()),
    ]
    .into_iter()
    .filter_map(|(k, on)| on.then_some(k))
    .collect();
    let (path, message) = match set.as_slice() {
        [_] => (at.clone(), String::new()),
        [] => (
            at.clone(),
            "a discover rule needs one of `github_org`, `github_user`, `gitlab_group`, `directory`"
                .to_owned(),
        ),
        [first, second, ..] => (
            at.key(second),
            format!("a discover rule lists from one place; `{first}` and `{second}` are both set"),
        ),
    };
    if !message.is_empty() {
        p.push_help(
            path,
            message,
            "write one `[[maintain.discover]]` table per place",
        );
        return None;
    }
    let api_url = |default: &str| {
        rule.api_url
            .as_deref()
            .unwrap_or(default)
            .trim_end_matches('/')
            .to_owned()
    };
    let source = if let Some(org) = &rule.github_org {
        check_nonempty(p, at.key("github_org"), org, "organisation");
        DiscoverSource::GithubOrg {
            org: org.trim().to_owned(),
            api_url: api_url(crate::discover::GITHUB_API),
        }
    } else if let Some(user) = &rule.github_user {
        check_nonempty(p, at.key("github_user"), user, "user");
        DiscoverSource::GithubUser {
            user: user.trim().to_owned(),
            api_url: api_url(crate::discover::GITHUB_API),
        }
    } else if let Some(group) = &rule.gitlab_group {
        check_nonempty(p, at.key("gitlab_group"), group, "group");
        DiscoverSource::GitlabGroup {
            group: group.trim().trim_matches('/').to_owned(),
            api_url: api_url(crate::discover::GITLAB_COM),
            subgroups: rule.subgroups,
        }
    } else {
        let mut dir = rule.directory.clone().unwrap_or_default();
        if dir.as_os_str().is_empty() {
            p.push(at.key("directory"), "directory is empty");
        } else if dir.is_relative() {
            dir = base_dir.join(dir);
        }
        DiscoverSource::Directory { path: dir }
    };
    match (&source, &rule.api_url) {
        (DiscoverSource::Directory { .. }, Some(_)) => p.push(
            at.key("api_url"),
            "`api_url` is set but a directory has no API",
        ),
        (_, Some(a)) => check_http_url(p, at.key("api_url"), a),
        _ => {}
    }
    Some(source)
}

/// A repository's `.upkeep.toml`: what the types cannot say.
pub(crate) fn repo_settings(s: &crate::RepoSettings) -> Vec<Problem> {
    let mut p = Problems::default();
    if s.skip && s.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
        p.push_help(
            KeyPath::root("skip"),
            "`skip = true` needs a reason",
            "add `reason = \"…\"`: it is shown in the round report and `maintain projects`",
        );
    }
    check_step_commands(&mut p, &KeyPath::default(), &s.steps);
    check_env_names(&mut p, &KeyPath::root("env"), &s.env);
    p.0
}

#[allow(clippy::too_many_lines)] // one flat list of checks reads better than several pieces
fn branches(
    p: &mut Problems,
    b: &mut BranchesConfig,
    base_dir: &Path,
    state_dir: &Path,
    has_lock: bool,
) {
    let root = KeyPath::root("branches");
    check_branch(p, root.key("source"), &b.source);
    check_branch(p, root.key("target"), &b.target);
    let repos = root.key("repos");
    check_names(p, "repo", &repos, b.repos.iter().map(|r| r.name.as_str()));
    let names: Vec<String> = b.repos.iter().map(|r| r.name.clone()).collect();
    let known: Vec<&str> = names.iter().map(String::as_str).collect();
    for (i, r) in b.repos.iter_mut().enumerate() {
        let at = repos.idx(i);
        r.remote = resolve_remote(p, &at, &r.repo, r.forge, r.api_url.as_deref(), base_dir);
        if let Some(s) = &r.source {
            check_branch(p, at.key("source"), s);
        }
        if let Some(t) = &r.target {
            check_branch(p, at.key("target"), t);
        }
        let source = r.source.as_deref().unwrap_or(&b.source);
        let target = r.target.as_deref().unwrap_or(&b.target);
        if source == target {
            p.push(
                at.key("name"),
                format!(
                    "repo `{}` has the same source and target branch `{source}`",
                    r.name
                ),
            );
        }
        for (j, dep) in r.depends_on.iter().enumerate() {
            let path = at.key("depends_on").idx(j);
            if *dep == r.name {
                p.push(path, format!("repo `{dep}` depends on itself"));
            } else if !known.contains(&dep.as_str()) {
                let hint = did_you_mean(dep, &known)
                    .map(|s| format!("did you mean `{s}`? "))
                    .unwrap_or_default();
                p.push_help(
                    path,
                    format!("`{}` depends on unknown repo `{dep}`", r.name),
                    format!("{hint}known repos: {}", known.join(", ")),
                );
            }
        }
    }
    let (_, left) = topo_order(&b.repos);
    if let Some(cycle) = find_cycle(&left) {
        let first = b.repos.iter().position(|r| r.name == cycle[0]).unwrap_or(0);
        p.push_help(
            repos.idx(first).key("depends_on"),
            format!("dependency cycle: {}", cycle.join(" → ")),
            "remove one of these `depends_on` entries",
        );
    }
    if let Some(v) = b.ci.validation.as_mut() {
        let at = root.key("ci").key("validation");
        v.remote = resolve_remote(p, &at, &v.repo, v.forge, v.api_url.as_deref(), base_dir);
        check_nonempty(p, at.key("ref"), &v.git_ref, "ref");
    }
    for (i, c) in b.ci.required_checks.iter().enumerate() {
        check_nonempty(
            p,
            root.key("ci").key("required_checks").idx(i),
            c,
            "check name",
        );
    }
    if let Some(s) = &b.sentry {
        let at = root.key("sentry");
        check_http_url(p, at.key("url"), &s.url);
        check_nonempty(p, at.key("org"), &s.org, "org");
        check_nonempty(p, at.key("environment"), &s.environment, "environment");
        if s.projects.is_empty() {
            p.push(
                at.key("projects"),
                "the Sentry gate needs at least one project",
            );
        }
        for (i, proj) in s.projects.iter().enumerate() {
            check_nonempty(p, at.key("projects").idx(i), proj, "project slug");
        }
    }
    let gates = root.key("command_gates");
    let mut seen = BTreeMap::new();
    for (i, g) in b.command_gates.iter().enumerate() {
        check_nonempty(p, gates.idx(i).key("name"), &g.name, "gate name");
        check_nonempty(p, gates.idx(i).key("command"), &g.command, "command");
        if let Some(first) = seen.insert(g.name.as_str(), i) {
            p.0.push(Problem {
                path: gates.idx(i).key("name"),
                message: format!("duplicate command gate name `{}`", g.name),
                help: None,
                related: Some(gates.idx(first).key("name")),
            });
        }
    }
    if b.wait.poll_interval > b.wait.deadline {
        p.push(
            root.key("wait").key("poll_interval"),
            format!(
                "poll_interval ({}) is longer than the deadline ({})",
                b.wait.poll_interval, b.wait.deadline
            ),
        );
    }
    if let Some(h) = b.history.as_mut() {
        let at = root.key("history");
        h.remote = resolve_remote(p, &at, &h.repo, None, None, base_dir);
        if h.path.trim().is_empty()
            || Path::new(&h.path).is_absolute()
            || h.path.split('/').any(|c| c == "..")
        {
            p.push(
                at.key("path"),
                format!(
                    "`{}` must be a relative path inside the history repo",
                    h.path
                ),
            );
        }
        check_branch(p, at.key("branch"), &h.branch);
    }
    if let Some(c) = &b.notify.slack_channel {
        check_nonempty(p, root.key("notify").key("slack_channel"), c, "channel");
    }
    if let Some(a) = &b.approval.slack {
        slack_approval(p, &root.key("approval").key("slack"), a);
    }
    if b.deploy_token.mode != DeployTokenMode::None && !has_lock {
        p.push_help(
            root.key("deploy_token").key("mode"),
            "the deploy token is required but there is no [lock] section",
            "add a [lock] section with the lock repo, or set mode = \"none\"",
        );
    }
    if b.tagging
        .prefix
        .chars()
        .any(|c| c.is_whitespace() || matches!(c, '~' | '^' | ':' | '?' | '*' | '[' | '\\'))
    {
        p.push(
            root.key("tagging").key("prefix"),
            format!("`{}` cannot start a tag name", b.tagging.prefix),
        );
    }
    absolutise(
        &mut b.cache,
        base_dir,
        state_dir.join("cache").join("branches"),
    );
}

/// Whether `id` looks like a Slack id starting with one of `first` (`U…`, `S…`).
fn is_slack_id(id: &str, first: &[char]) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| first.contains(&c))
        && id.len() >= 3
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

fn slack_approval(p: &mut Problems, at: &KeyPath, a: &crate::SlackApproval) {
    check_nonempty(p, at.key("channel"), &a.channel, "channel");
    if a.approvers.is_empty() && a.approver_groups.is_empty() {
        p.push_help(
            at.key("approvers"),
            "nobody may approve: `approvers` and `approver_groups` are both empty",
            "list Slack member ids (`approvers = [\"U0123ABCD\"]`) or user group ids \
             (`approver_groups = [\"S0123ABCD\"]`)",
        );
    }
    for (i, id) in a.approvers.iter().enumerate() {
        if is_slack_id(id, &['U', 'W']) {
            continue;
        }
        let help = if is_slack_id(id, &['S']) {
            format!("`{id}` looks like a user group id: list it in `approver_groups`")
        } else {
            "use the person's Slack member id (`U…`): their profile → ⋯ → Copy member ID".to_owned()
        };
        p.push_help(
            at.key("approvers").idx(i),
            format!("`{id}` is not a Slack member id"),
            help,
        );
    }
    for (i, id) in a.approver_groups.iter().enumerate() {
        if !is_slack_id(id, &['S']) {
            p.push_help(
                at.key("approver_groups").idx(i),
                format!("`{id}` is not a Slack user group id"),
                "use the group's id (`S…`), not its @handle",
            );
        }
    }
    for (key, list) in [
        ("approve_reactions", &a.approve_reactions),
        ("reject_reactions", &a.reject_reactions),
    ] {
        if list.is_empty() {
            p.push(at.key(key), "at least one reaction is needed");
        }
        for (i, name) in list.iter().enumerate() {
            let path = at.key(key).idx(i);
            if name.trim().is_empty() {
                p.push(path, "emoji name is empty");
            } else if name.contains(':') {
                p.push_help(
                    path,
                    format!("emoji `{name}` contains `:`"),
                    format!(
                        "write the name without colons: `{}`",
                        name.trim_matches(':')
                    ),
                );
            } else if key == "reject_reactions" && a.approve_reactions.contains(name) {
                p.push(path, format!("`{name}` would both approve and refuse"));
            }
        }
    }
    if a.poll_interval > a.wait {
        p.push(
            at.key("poll_interval"),
            format!(
                "poll_interval ({}) is longer than wait ({})",
                a.poll_interval, a.wait
            ),
        );
    }
}

/// A cycle among repos that topological sorting could not place, as names with the
/// first repeated at the end.
fn find_cycle(left: &[&crate::BranchRepo]) -> Option<Vec<String>> {
    let start = left.first()?;
    let by_name: BTreeMap<&str, &crate::BranchRepo> =
        left.iter().map(|r| (r.name.as_str(), *r)).collect();
    let mut path: Vec<&str> = vec![start.name.as_str()];
    loop {
        let cur = by_name[path.last()?];
        let next = cur
            .depends_on
            .iter()
            .find(|d| by_name.contains_key(d.as_str()))?;
        if let Some(pos) = path.iter().position(|n| n == next) {
            let mut cycle: Vec<String> = path[pos..].iter().map(|s| (*s).to_owned()).collect();
            cycle.push(next.clone());
            return Some(cycle);
        }
        path.push(next);
    }
}

fn lock(p: &mut Problems, l: &mut LockConfig, base_dir: &Path, state_dir: &Path) {
    let root = KeyPath::root("lock");
    l.remote = resolve_remote(p, &root, &l.repo, l.forge, l.api_url.as_deref(), base_dir);
    if let Err(e) = check_branch_name(&l.name) {
        p.push(root.key("name"), format!("lock name: {e}"));
    } else if l.name.contains('/') {
        p.push(
            root.key("name"),
            format!("lock name `{}` must not contain `/`", l.name),
        );
    }
    if !l.ref_prefix.starts_with("refs/") || !l.ref_prefix.ends_with('/') {
        p.push_help(
            root.key("ref_prefix"),
            format!("`{}` is not a ref namespace", l.ref_prefix),
            "it must start with `refs/` and end with `/`, e.g. \"refs/upkeep/locks/\"",
        );
    } else if let Err(e) = check_branch_name(l.ref_prefix.trim_end_matches('/')) {
        p.push(root.key("ref_prefix"), e);
    }
    for (i, pre) in l.preflight.iter().enumerate() {
        check_nonempty(
            p,
            root.key("preflight").idx(i).key("command"),
            &pre.command,
            "command",
        );
        check_nonempty(
            p,
            root.key("preflight").idx(i).key("name"),
            &pre.name,
            "name",
        );
    }
    if let Some(c) = &l.slack_channel {
        check_nonempty(p, root.key("slack_channel"), c, "channel");
    }
    absolutise(&mut l.cache, base_dir, state_dir.join("lock"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_names() {
        for ok in [
            "main",
            "stable",
            "feature/maintenance-25-01-02",
            "release-1.2",
        ] {
            assert!(check_branch_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "a b", "a..b", "/a", "a/", "a.lock", "a/.b", "a~1", "a:b", "-x",
        ] {
            assert!(check_branch_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn key_paths_display() {
        let p = KeyPath::root("maintain").key("projects").idx(2).key("name");
        assert_eq!(p.to_string(), "maintain.projects[2].name");
    }
}

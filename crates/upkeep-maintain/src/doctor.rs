//! `maintain doctor`: does each project follow the convention the round relies on?
//!
//! Checks, per project, what a round would trip over, and says how to fix it: the
//! repository is reachable with the configured credentials, its base branch exists, the
//! forge API answers for it with the token, the token may push and open change requests
//! (as far as the forge says without trying: [`upkeep_forge::Forge::access`]), no branch
//! protection stands in the way of the round's branch
//! ([`upkeep_forge::Forge::branch_access`]), and the `make` targets of the three steps
//! exist (`make -n <target>` in a fresh clone). A project whose `repo` is a local path
//! without a repository, or whose forge client could not be set up, fails its first check
//! and the other projects are still checked. Projects a reader can see without a clone
//! also get the convention checks (the `make` targets and the topic, at the base
//! branch), and [`chat_checks`] checks the chat: the Slack token, its scopes and the
//! channel.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::discover::{ProjectSet, Readers};
use crate::round::ProjectSetup;
use crate::step::{StepEnd, StepSpec, run_step};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Fine.
    Ok,
    /// Works, but worth a look.
    Warn,
    /// A round would fail here.
    Fail,
}

/// One check's result.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// The project, or `None` for checks of the whole setup (chat).
    pub project: Option<String>,
    /// What was checked.
    pub check: String,
    /// The outcome.
    pub verdict: Verdict,
    /// What was found.
    pub detail: String,
    /// How to fix it.
    pub fix: Option<String>,
}

impl Check {
    /// A check of the whole setup.
    #[must_use]
    pub fn global(check: &str, verdict: Verdict, detail: String, fix: Option<String>) -> Self {
        Self {
            project: None,
            check: check.to_owned(),
            verdict,
            detail,
            fix,
        }
    }
}

/// A project to check: set up with its forge client, or not, and why.
pub enum DoctorProject {
    /// Its forge client and credentials are ready.
    Ready(ProjectSetup),
    /// Its forge client could not be set up (no token, the forge did not answer): the
    /// project gets a failed `forge API` check and the others are still checked.
    Unavailable {
        /// The project.
        project: upkeep_config::ResolvedProject,
        /// What went wrong, with its causes.
        problem: String,
        /// How to fix it.
        fix: Option<String>,
    },
}

impl DoctorProject {
    /// The project checked.
    #[must_use]
    pub fn project(&self) -> &upkeep_config::ResolvedProject {
        match self {
            Self::Ready(setup) => &setup.project,
            Self::Unavailable { project, .. } => project,
        }
    }
}

/// Input to [`check_projects`].
pub struct DoctorRequest {
    /// The projects to check, in configuration order.
    pub projects: Vec<DoctorProject>,
    /// Where their clones are cached (`<cache>/<project>`).
    pub cache: PathBuf,
    /// The maintenance branch of today's round (to query change requests by).
    pub branch: String,
    /// The round's project set, when discover rules found projects: the topics the
    /// convention checks name, and the discovery warnings (a rule that matched nothing).
    pub set: Option<ProjectSet>,
    /// Clients that read a project's files at its base branch without a clone; a
    /// project with one gets the convention checks
    /// ([`convention_checks`](crate::discover::convention_checks)).
    pub readers: Readers,
}

fn check(
    project: &str,
    name: &str,
    verdict: Verdict,
    detail: impl Into<String>,
    fix: Option<&str>,
) -> Check {
    Check {
        project: Some(project.to_owned()),
        check: name.to_owned(),
        verdict,
        detail: detail.into(),
        fix: fix.map(str::to_owned),
    }
}

/// Checks every project; one project's problems never hide another's. Each project's
/// checks come together, in project order, then the discovery warnings.
pub async fn check_projects(req: &DoctorRequest) -> Vec<Check> {
    let mut out = project_checks(req).await;
    // The convention, read at the base branch without running anything; not for a
    // project whose repository could not be reached (its failed check already says why).
    for entry in &req.projects {
        let p = entry.project();
        let unreachable = out.iter().any(|c| {
            c.project.as_deref() == Some(p.name.as_str())
                && c.verdict == Verdict::Fail
                && matches!(c.check.as_str(), "repository reachable" | "forge API")
        });
        if unreachable {
            continue;
        }
        if let Some(reader) = crate::discover::reader_for(&req.readers, p) {
            let topics = req
                .set
                .as_ref()
                .and_then(|set| set.project(&p.name))
                .map(|e| e.topics.clone())
                .unwrap_or_default();
            out.extend(crate::discover::convention_checks(p, &topics, reader.as_ref()).await);
        }
    }
    // Each project's checks together, in project order (a stable sort).
    out.sort_by_key(|c| {
        c.project
            .as_ref()
            .and_then(|n| req.projects.iter().position(|p| &p.project().name == n))
            .unwrap_or(usize::MAX)
    });
    if let Some(set) = &req.set {
        out.extend(
            set.warnings
                .iter()
                .map(|w| Check::global("discovery", Verdict::Warn, w.clone(), None)),
        );
    }
    out
}

/// The checks of each project's own setup, in project order.
#[allow(clippy::too_many_lines)] // A flat list of checks reads best in one place.
async fn project_checks(req: &DoctorRequest) -> Vec<Check> {
    let mut out = Vec::new();
    for entry in &req.projects {
        let setup = match entry {
            DoctorProject::Ready(setup) => setup,
            DoctorProject::Unavailable {
                project,
                problem,
                fix,
            } => {
                if let Some(missing) = crate::missing_repository(project) {
                    out.push(no_repository(&missing));
                }
                out.push(check(
                    &project.name,
                    "forge API",
                    Verdict::Fail,
                    problem.clone(),
                    fix.as_deref(),
                ));
                continue;
            }
        };
        let p = &setup.project;
        let name = p.name.as_str();
        // 0. A local path names a repository (git would only say "could not find").
        if let Some(missing) = crate::missing_repository(p) {
            out.push(no_repository(&missing));
            continue;
        }
        // 1. Reachable with the credentials, and the base branch is there.
        let refs = {
            let (url, creds) = (p.remote.url.clone(), setup.credentials.clone());
            tokio::task::spawn_blocking(move || upkeep_git::ls_remote(&url, &creds)).await
        };
        match refs {
            Ok(Ok(refs)) => {
                out.push(check(
                    name,
                    "repository reachable",
                    Verdict::Ok,
                    p.remote.url.clone(),
                    None,
                ));
                let base_ref = format!("refs/heads/{}", p.base_branch);
                if refs.iter().any(|(r, _)| *r == base_ref) {
                    out.push(check(
                        name,
                        "base branch exists",
                        Verdict::Ok,
                        p.base_branch.clone(),
                        None,
                    ));
                } else {
                    out.push(check(
                        name,
                        "base branch exists",
                        Verdict::Fail,
                        format!("no branch `{}` on the remote", p.base_branch),
                        Some("set `base_branch` for the project (or [maintain] base_branch)"),
                    ));
                }
            }
            Ok(Err(e)) => {
                out.push(check(
                    name,
                    "repository reachable",
                    Verdict::Fail,
                    upkeep_text::error_chain(&e),
                    Some("check `repo`, and that the token (GITHUB_TOKEN / GITLAB_TOKEN) can read it"),
                ));
                continue;
            }
            Err(e) => {
                out.push(check(
                    name,
                    "repository reachable",
                    Verdict::Fail,
                    e.to_string(),
                    None,
                ));
                continue;
            }
        }

        // 2. The forge API answers for this repository with the token.
        let api = match setup.forge.branch_tip(&setup.repo, &p.base_branch).await {
            Ok(_) => match setup
                .forge
                .find_open_change_request(&setup.repo, &req.branch)
                .await
            {
                Ok(_) => Ok(check(
                    name,
                    "forge API",
                    Verdict::Ok,
                    format!("{} answers for {}", setup.forge.kind(), setup.repo),
                    None,
                )),
                Err(e) => Err(check(
                    name,
                    "forge API",
                    Verdict::Fail,
                    format!(
                        "cannot list change requests: {}",
                        upkeep_text::error_chain(&e)
                    ),
                    Some("the token needs the `repo` scope (GitHub) or `api` (GitLab)"),
                )),
            },
            Err(e) => Err(check(
                name,
                "forge API",
                Verdict::Fail,
                upkeep_text::error_chain(&e),
                Some("check the token and the project's `forge` / `api_url`"),
            )),
        };
        let api_answers = api.is_ok();
        out.push(api.unwrap_or_else(|failed| failed));

        // 2b. The token may push and open change requests (as far as the forge tells
        // without trying); after a failing API it would only repeat that failure.
        if api_answers {
            out.push(access_check(name, setup).await);
            out.extend(branch_check(name, setup, &req.branch).await);
        }

        // 3. The make targets exist.
        let dir = req.cache.join(name);
        let synced = {
            let (url, dir, base, creds) = (
                p.remote.url.clone(),
                dir.clone(),
                p.base_branch.clone(),
                setup.credentials.clone(),
            );
            tokio::task::spawn_blocking(move || upkeep_git::ensure_clone(&url, &dir, &base, &creds))
                .await
        };
        if !matches!(synced, Ok(Ok(_))) {
            let detail = match synced {
                Ok(Err(e)) => upkeep_text::error_chain(&e),
                Err(e) => e.to_string(),
                Ok(Ok(_)) => String::new(),
            };
            out.push(check(
                name,
                "make targets",
                Verdict::Fail,
                format!("cannot clone: {detail}"),
                None,
            ));
            continue;
        }
        for (step, cmd) in [
            ("upgrade", &p.upgrade),
            ("build", &p.build),
            ("test", &p.test),
        ] {
            let words: Vec<&str> = cmd.command.split_whitespace().collect();
            let ["make", target] = words.as_slice() else {
                out.push(check(
                    name,
                    &format!("`{step}` step"),
                    Verdict::Ok,
                    format!("custom command `{}` (not checked)", cmd.command),
                    None,
                ));
                continue;
            };
            let target = *target;
            let spec = StepSpec {
                name: format!("doctor-{step}"),
                command: format!("make -n {target}"),
                dir: dir.clone(),
                env: p.env.clone(),
                timeout: Duration::from_secs(30),
                log: req.cache.join(format!("{name}.doctor-{step}.log")),
                pid_file: None,
            };
            let outcome = run_step(&spec, &CancellationToken::new()).await;
            let _ = fs_err::remove_file(&spec.log);
            match outcome {
                Ok(o) if o.end == StepEnd::Passed => out.push(check(
                    name,
                    &format!("make {target}"),
                    Verdict::Ok,
                    "target exists",
                    None,
                )),
                Ok(o) => out.push(check(
                    name,
                    &format!("make {target}"),
                    Verdict::Fail,
                    o.tail.lines().last().unwrap_or("make -n failed").to_owned(),
                    Some(&format!(
                        "add a `{target}:` target to the Makefile, or set steps.{step}.command for the project"
                    )),
                )),
                Err(e) => out.push(check(name, &format!("make {target}"), Verdict::Fail, upkeep_text::error_chain(&e), Some("is `make` installed?"))),
            }
        }
    }
    out
}

/// The checks of `[maintain.chat]`: for Slack, that `token` is set and has the scopes a
/// round needs, and that the channel is readable (the bot is a member). `api_url`
/// points the client elsewhere than Slack (tests).
pub async fn chat_checks(
    chat: &upkeep_config::ChatConfig,
    token: Option<secrecy::SecretString>,
    api_url: Option<&str>,
) -> Vec<Check> {
    use upkeep_chat::{SlackChat, SlackConfig};
    if chat.kind == upkeep_config::ChatKind::Console {
        return vec![Check::global(
            "chat",
            Verdict::Ok,
            "console (messages are printed; set [maintain.chat] kind = \"slack\" to post)"
                .to_owned(),
            None,
        )];
    }
    let Some(token) = token else {
        return vec![Check::global(
            "slack token",
            Verdict::Fail,
            "SLACK_API_TOKEN is not set".to_owned(),
            Some("export SLACK_API_TOKEN=xoxb-… (a bot token)".to_owned()),
        )];
    };
    let Some(channel) = chat.channel.clone() else {
        return vec![Check::global(
            "slack channel",
            Verdict::Fail,
            "no channel configured".to_owned(),
            Some("set [maintain.chat] channel".to_owned()),
        )];
    };
    let mut config = SlackConfig::new(token, channel.clone());
    if let Some(url) = api_url {
        url.clone_into(&mut config.api_url);
    }
    let slack = match SlackChat::new(config) {
        Ok(s) => s,
        Err(e) => return vec![Check::global("slack", Verdict::Fail, e.to_string(), None)],
    };
    let mut out = Vec::new();
    match slack.auth_test().await {
        Ok(info) => {
            let missing = info.missing_scopes();
            out.push(if missing.is_empty() {
                Check::global(
                    "slack token",
                    Verdict::Ok,
                    format!("workspace {}", info.team),
                    None,
                )
            } else {
                Check::global(
                    "slack token scopes",
                    Verdict::Fail,
                    format!("missing {}", missing.join(", ")),
                    Some("add the scopes to the Slack app and reinstall it".to_owned()),
                )
            });
        }
        Err(e) => out.push(Check::global(
            "slack token",
            Verdict::Fail,
            e.to_string(),
            Some("check SLACK_API_TOKEN".to_owned()),
        )),
    }
    let probe = upkeep_chat::RoundId::new("doctor-probe");
    match upkeep_chat::ChatThreads::read_round_status(&slack, &probe).await {
        Ok(_) => out.push(Check::global(
            "slack channel",
            Verdict::Ok,
            format!("{channel} is readable"),
            None,
        )),
        Err(e) => out.push(Check::global(
            "slack channel",
            Verdict::Fail,
            e.to_string(),
            Some(format!("invite the bot to {channel} (/invite @yourbot)")),
        )),
    }
    out
}

/// The failed `repository reachable` check of a local path without a repository.
fn no_repository(missing: &crate::MissingRepository) -> Check {
    check(
        &missing.project,
        "repository reachable",
        Verdict::Fail,
        format!(
            "no repository at {} ({})",
            missing.path.display(),
            missing.why
        ),
        Some(
            "set the project's `repo` to the repository's path or URL (a relative path is read from the configuration file's directory)",
        ),
    )
}

/// The document printed by `maintain doctor --output json`: `{"projects": [{"name",
/// "checks": [{"check", "verdict", "detail", "fix"}]}], "setup": [{"check", …}],
/// "failed"}` — projects in the order checked, `setup` the checks of the whole setup
/// (the chat), `failed` the number of failed checks.
#[must_use]
pub fn to_json(checks: &[Check]) -> serde_json::Value {
    #[derive(Serialize)]
    struct Item<'a> {
        check: &'a str,
        verdict: Verdict,
        detail: &'a str,
        fix: Option<&'a str>,
    }
    #[derive(Serialize)]
    struct Project<'a> {
        name: &'a str,
        checks: Vec<Item<'a>>,
    }
    #[derive(Serialize)]
    struct Doc<'a> {
        projects: Vec<Project<'a>>,
        setup: Vec<Item<'a>>,
        failed: usize,
    }
    fn item(c: &Check) -> Item<'_> {
        Item {
            check: &c.check,
            verdict: c.verdict,
            detail: &c.detail,
            fix: c.fix.as_deref(),
        }
    }
    let mut doc = Doc {
        projects: Vec::new(),
        setup: Vec::new(),
        failed: checks.iter().filter(|c| c.verdict == Verdict::Fail).count(),
    };
    for c in checks {
        match c.project.as_deref() {
            None => doc.setup.push(item(c)),
            Some(name) => match doc.projects.iter_mut().find(|p| p.name == name) {
                Some(p) => p.checks.push(item(c)),
                None => doc.projects.push(Project {
                    name,
                    checks: vec![item(c)],
                }),
            },
        }
    }
    serde_json::to_value(doc).unwrap_or_default()
}

const ACCESS: &str = "token can push and open change requests";

/// What the forge says the token may do: a refusal fails, an unknown is a warning (a
/// push without permission would fail the project at `push` with the server's message).
async fn access_check(name: &str, setup: &ProjectSetup) -> Check {
    let access = match setup.forge.access(&setup.repo).await {
        Ok(access) => access,
        Err(e) => {
            return check(
                name,
                ACCESS,
                Verdict::Fail,
                upkeep_text::error_chain(&e),
                Some("check the token and the project's `forge` / `api_url`"),
            );
        }
    };
    let fix = access.fix.as_deref();
    if access.is_sufficient() {
        // Allowed, with a limit worth knowing (GitHub: no `workflow` scope, so a round
        // whose upgrade touches `.github/workflows` cannot push).
        let verdict = if fix.is_some() {
            Verdict::Warn
        } else {
            Verdict::Ok
        };
        return check(name, ACCESS, verdict, access.detail, fix);
    }
    let refused: Vec<&str> = [
        (access.can_push, "cannot push"),
        (
            access.can_open_change_requests,
            "cannot open change requests",
        ),
    ]
    .into_iter()
    .filter_map(|(can, what)| (can == Some(false)).then_some(what))
    .collect();
    if refused.is_empty() {
        check(
            name,
            ACCESS,
            Verdict::Warn,
            format!("not known: {}", access.detail),
            fix,
        )
    } else {
        check(
            name,
            ACCESS,
            Verdict::Fail,
            format!("{}: {}", refused.join(", "), access.detail),
            fix,
        )
    }
}

const BRANCH: &str = "maintenance branch can be pushed";

/// Whether a protection rule stands in the way of pushing the round's branch (it exists
/// when a round already ran today). Said only when the branch is protected: an
/// unprotected or unknown branch is the usual case and adds no line.
async fn branch_check(name: &str, setup: &ProjectSetup, branch: &str) -> Option<Check> {
    let access = setup.forge.branch_access(&setup.repo, branch).await.ok()?;
    if access.protected != Some(true) {
        return None;
    }
    let verdict = match access.can_update {
        Some(true) => Verdict::Ok,
        Some(false) => Verdict::Fail,
        None => Verdict::Warn,
    };
    Some(check(
        name,
        BRANCH,
        verdict,
        access.detail,
        access.fix.as_deref(),
    ))
}

/// The checks as text: one line per check, with the fix under failures.
#[must_use]
pub fn render_text(checks: &[Check]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let mut current: Option<&str> = Some("\u{0}");
    for c in checks {
        if current != Some(c.project.as_deref().unwrap_or("")) {
            current = Some(c.project.as_deref().unwrap_or(""));
            let _ = writeln!(out, "{}", c.project.as_deref().unwrap_or("setup"));
        }
        let mark = match c.verdict {
            Verdict::Ok => "ok  ",
            Verdict::Warn => "warn",
            Verdict::Fail => "FAIL",
        };
        let _ = writeln!(out, "  {mark}  {}: {}", c.check, c.detail);
        if let Some(fix) = &c.fix
            && c.verdict != Verdict::Ok
        {
            let _ = writeln!(out, "        fix: {fix}");
        }
    }
    let failed = checks.iter().filter(|c| c.verdict == Verdict::Fail).count();
    let _ = writeln!(
        out,
        "\n{}",
        if failed == 0 {
            "Everything a round needs is in place.".to_owned()
        } else {
            format!("{failed} problem(s) to fix before the next round.")
        }
    );
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use secrecy::SecretString;
    use upkeep_forge::github::GitHub;
    use upkeep_forge::retry::RetryPolicy;
    use upkeep_forge::{Forge, RepoId};
    use upkeep_git::Credentials;
    use upkeep_testkit::github::FakeGitHub;

    use crate::discover::Readers;

    use super::*;

    /// GitHub's limits reach the report: a token without `workflow` is a warning, a
    /// protected branch the round would push to a failure saying what the user needs.
    #[tokio::test(flavor = "multi_thread")]
    async fn github_scopes_and_protection_are_reported() {
        upkeep_testkit::install_crypto_provider();
        let github = FakeGitHub::start().await;
        let path = github.create_repo("team/api");
        let branch = "feature/maintenance-26-01-02";
        github.commit("team/api", branch, "an earlier round today");
        github.protect_branch(
            "team/api",
            branch,
            &serde_json::json!({
                "required_status_checks": null,
                "enforce_admins": true,
                "required_pull_request_reviews": {"required_approving_review_count": 1},
                "restrictions": null,
            }),
        );
        github.set_scopes("repo");
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "state_dir = \"state\"\n[maintain]\n[[maintain.projects]]\nname = \"api\"\nrepo = \"{}\"\n",
            path.display()
        );
        let config = upkeep_config::Config::from_str(
            &text,
            &dir.path().join("upkeep.toml"),
            std::iter::empty::<(String, String)>(),
        )
        .unwrap()
        .maintain()
        .unwrap()
        .clone();
        let forge: Arc<dyn Forge> = Arc::new(
            GitHub::new(
                &github.url(),
                SecretString::from("ghp_doctor".to_owned()),
                RetryPolicy::fast(),
            )
            .unwrap(),
        );
        let projects = config
            .resolved_projects()
            .into_iter()
            .map(|project| {
                DoctorProject::Ready(ProjectSetup {
                    project,
                    forge: forge.clone(),
                    repo: RepoId::new("team/api"),
                    credentials: Credentials::none(),
                })
            })
            .collect();
        let checks = check_projects(&DoctorRequest {
            projects,
            cache: dir.path().join("cache"),
            branch: branch.to_owned(),
            set: None,
            readers: Readers::default(),
        })
        .await;
        let find = |name: &str| {
            checks
                .iter()
                .find(|c| c.check == name)
                .unwrap_or_else(|| panic!("no {name} check: {checks:#?}"))
        };
        let access = find(ACCESS);
        assert_eq!(access.verdict, Verdict::Warn, "{access:#?}");
        assert!(
            access.fix.as_deref().unwrap().contains("`workflow` scope"),
            "{access:#?}"
        );
        let protected = find(BRANCH);
        assert_eq!(protected.verdict, Verdict::Fail, "{protected:#?}");
        assert_eq!(
            protected.fix.as_deref(),
            Some(&*format!(
                "`{branch}` is protected; the token's user needs to be allowed to bypass required pull requests"
            ))
        );
        let text = render_text(&checks);
        assert!(
            text.contains(&format!("FAIL  {BRANCH}: `{branch}` is protected")),
            "{text}"
        );
    }
}

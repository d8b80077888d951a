//! Gates: evidence that stage is healthy, checked before anything moves.
//!
//! Every gate reports its evidence (which checks, which issues, what a command printed),
//! pass or fail, so that the person approving sees why, and the history keeps a summary.
//! Gates never short-circuit each other: a run that is refused shows every reason at once.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use upkeep_forge::{CiVerdict, Forge, ForgeKind, RepoId, Verdict};
use upkeep_sentry::{IssueQuery, SentryClient, Window};

use crate::model::RepoSpec;
use crate::plan::{Plan, short};

/// Which kind of gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GateKind {
    /// A CI verdict from a forge.
    Ci,
    /// New unresolved Sentry issues.
    Sentry,
    /// A custom command.
    Command,
}

/// One piece of evidence: a line for people, with a link when there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// What was seen.
    pub text: String,
    /// Where to look.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl Evidence {
    fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            url: None,
        }
    }
}

/// A line of evidence from a service or a repository, as one capped inert line.
fn line(text: &str) -> String {
    crate::render::one_line(text, crate::render::MAX_LINE).into_owned()
}

/// One gate's verdict and evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateResult {
    /// The gate's name (`ci: target commits`, `sentry`, `command: smoke`).
    pub name: String,
    /// Its kind.
    pub kind: GateKind,
    /// Whether it passed.
    pub passed: bool,
    /// One line: why it passed or failed.
    pub summary: String,
    /// What it saw.
    pub evidence: Vec<Evidence>,
    /// What to do about a failure, when there is a likely remedy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// What the history keeps of a gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateSummary {
    /// The gate's name.
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// Why.
    pub summary: String,
}

/// All gates' verdicts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateReport {
    /// One per gate, in the order configured (CI, Sentry, commands).
    pub gates: Vec<GateResult>,
}

impl GateReport {
    /// Whether every gate passed (vacuously true without gates).
    #[must_use]
    pub fn passed(&self) -> bool {
        self.gates.iter().all(|g| g.passed)
    }

    /// The gates that failed.
    pub fn failures(&self) -> impl Iterator<Item = &GateResult> {
        self.gates.iter().filter(|g| !g.passed)
    }

    /// The summaries for the history.
    #[must_use]
    pub fn summaries(&self) -> Vec<GateSummary> {
        self.gates
            .iter()
            .map(|g| GateSummary {
                name: g.name.clone(),
                passed: g.passed,
                summary: g.summary.clone(),
            })
            .collect()
    }
}

/// The CI gate.
#[derive(Clone, Default)]
pub struct CiGate {
    /// Every commit a branch would move to must be green.
    pub target_commits: bool,
    /// A repo/ref whose verdict shows stage is healthy.
    pub validation: Option<Validation>,
    /// Check names that must all be present and green.
    pub required_checks: Vec<String>,
}

impl std::fmt::Debug for CiGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CiGate")
            .field("target_commits", &self.target_commits)
            .field(
                "validation",
                &self.validation.as_ref().map(|v| (&v.id, &v.git_ref)),
            )
            .field("required_checks", &self.required_checks)
            .finish()
    }
}

/// The validation repo and ref of the CI gate (e.g. stage's `hello-world` runs).
#[derive(Clone)]
pub struct Validation {
    /// Its forge.
    pub forge: Arc<dyn Forge>,
    /// The repo.
    pub id: RepoId,
    /// A branch, or a full commit SHA.
    pub git_ref: String,
}

/// A command that must exit 0.
#[derive(Debug, Clone)]
pub struct CommandGate {
    /// Shown in the evidence.
    pub name: String,
    /// Run with `sh -c`.
    pub command: String,
    /// Killed (and failed) after this long.
    pub timeout: Duration,
    /// The working directory.
    pub dir: PathBuf,
}

/// Checks the CI gate for `plan`: the validation ref, then each commit to move to.
/// `missing`, `pending` and `skipped` verdicts fail; so does any required check that is
/// absent or not green.
pub async fn check_ci(gate: &CiGate, plan: &Plan, repos: &[RepoSpec]) -> Vec<GateResult> {
    let mut out = Vec::new();
    if let Some(v) = &gate.validation {
        out.push(check_validation(v, &gate.required_checks).await);
    }
    if gate.target_commits {
        let mut evidence = Vec::new();
        let mut bad = Vec::new();
        let mut silent_plain_git = Vec::new();
        let mut tasks = tokio::task::JoinSet::new();
        for rp in plan.repos.iter().filter(|r| !r.is_even()) {
            let Some(spec) = repos.iter().find(|s| s.name == rp.name) else {
                continue;
            };
            let (forge, id, sha, name) = (
                spec.forge.clone(),
                spec.id.clone(),
                rp.to.clone(),
                rp.name.clone(),
            );
            tasks.spawn(async move {
                let v = forge.ci_verdict(&id, &sha).await;
                let local = forge.kind() == ForgeKind::Local;
                (name, sha, v, local)
            });
        }
        let mut answers = Vec::new();
        while let Some(Ok(a)) = tasks.join_next().await {
            answers.push(a);
        }
        // Report in plan order, not completion order.
        answers.sort_by_key(|(n, _, _, _)| plan.repos.iter().position(|r| &r.name == n));
        for (name, sha, verdict, local) in answers {
            match verdict {
                Ok(v) => {
                    let got = v.require(&gate.required_checks);
                    if !got.is_success() {
                        bad.push(format!("{name} {got}"));
                    }
                    if local && v.verdict == Verdict::Missing {
                        silent_plain_git.push(name.clone());
                    }
                    evidence.push(verdict_evidence(
                        &format!("{name} {}", short(&sha)),
                        &v,
                        got,
                        &gate.required_checks,
                    ));
                }
                Err(e) => {
                    bad.push(format!("{name} unknown"));
                    evidence.push(Evidence::text(line(&format!(
                        "{name} {}: cannot read CI: {}",
                        short(&sha),
                        upkeep_text::error_chain(&e)
                    ))));
                }
            }
        }
        let passed = bad.is_empty();
        out.push(GateResult {
            name: "ci: target commits".to_owned(),
            kind: GateKind::Ci,
            passed,
            summary: if evidence.is_empty() {
                "nothing moves".to_owned()
            } else if passed {
                format!("{} commit(s) green", evidence.len())
            } else {
                format!("not green: {}", bad.join(", "))
            },
            evidence,
            // Plain git repos have no CI of their own unless something records it.
            hint: (!passed && !silent_plain_git.is_empty()).then(|| {
                format!(
                    "{} {} plain git with no CI signal at all; to promote without CI, set \
                     `target_commits = false` in `[branches.ci]`",
                    silent_plain_git.join(", "),
                    if silent_plain_git.len() == 1 {
                        "is"
                    } else {
                        "are"
                    }
                )
            }),
        });
    }
    out
}

async fn check_validation(v: &Validation, required: &[String]) -> GateResult {
    let name = format!("ci: validation {}@{}", v.id, v.git_ref);
    let fail = |summary: String| GateResult {
        name: name.clone(),
        kind: GateKind::Ci,
        passed: false,
        summary: line(&summary),
        evidence: Vec::new(),
        hint: None,
    };
    let sha = match v.forge.branch_tip(&v.id, &v.git_ref).await {
        Ok(Some(sha)) => sha,
        Ok(None) if v.git_ref.len() == 40 && v.git_ref.bytes().all(|b| b.is_ascii_hexdigit()) => {
            v.git_ref.clone()
        }
        Ok(None) => return fail(format!("`{}` is not a branch of {}", v.git_ref, v.id)),
        Err(e) => {
            return fail(format!(
                "cannot read `{}`: {}",
                v.git_ref,
                upkeep_text::error_chain(&e)
            ));
        }
    };
    match v.forge.ci_verdict(&v.id, &sha).await {
        Ok(verdict) => {
            let got = verdict.require(required);
            GateResult {
                passed: got.is_success(),
                summary: format!("{} at {} is {got}", v.git_ref, short(&sha)),
                evidence: vec![verdict_evidence(
                    &format!("{}@{}", v.id, short(&sha)),
                    &verdict,
                    got,
                    required,
                )],
                name,
                kind: GateKind::Ci,
                hint: None,
            }
        }
        Err(e) => fail(format!(
            "cannot read CI of {}: {}",
            short(&sha),
            upkeep_text::error_chain(&e)
        )),
    }
}

fn verdict_evidence(what: &str, v: &CiVerdict, got: Verdict, required: &[String]) -> Evidence {
    let mut checks: Vec<String> = v
        .checks
        .iter()
        .map(|c| format!("{} {:?}", c.name, c.state).to_lowercase())
        .collect();
    for r in required {
        if !v.checks.iter().any(|c| &c.name == r) {
            checks.push(format!("{r} missing (required)"));
        }
    }
    let detail = if checks.is_empty() {
        "no CI signal at all".to_owned()
    } else {
        checks.join(", ")
    };
    Evidence {
        text: line(&format!("{what}: {got} ({detail})")),
        url: v.checks.iter().find_map(|c| c.url.clone()),
    }
}

/// How many lines of a command's output are kept as evidence.
const OUTPUT_TAIL: usize = 20;
/// How many bytes of a command's output are read to find those lines.
const OUTPUT_BYTES: usize = 64 * 1024;

/// Runs a command gate: `sh -c <command>` in its directory, passing on exit 0. A command
/// that outlives its timeout is killed with everything it started (its process group)
/// and fails; what it printed until then is kept. The tail of its output, each line
/// capped, is the evidence.
pub async fn check_command(gate: &CommandGate) -> GateResult {
    let name = format!("command: {}", gate.name);
    let result = |passed: bool, summary: String, output: &str| GateResult {
        name: name.clone(),
        kind: GateKind::Command,
        passed,
        summary,
        evidence: tail(output, OUTPUT_TAIL)
            .into_iter()
            .map(Evidence::text)
            .collect(),
        hint: None,
    };
    let shell = upkeep_process::Shell {
        command: gate.command.clone(),
        dir: gate.dir.clone(),
        timeout: gate.timeout,
        // A gate never needs upkeep's tokens, and its output becomes evidence that is
        // printed, posted to Slack and sent to Sentry: a gate that runs `env` or
        // `curl -v` must not carry them there.
        env_remove: upkeep_config::SECRET_VARS
            .iter()
            .map(|(v, _)| (*v).to_owned())
            .collect(),
        ..upkeep_process::Shell::default()
    };
    let done = match upkeep_process::run_shell(&shell, OUTPUT_BYTES).await {
        Ok(done) => done,
        Err(e) => {
            return result(false, upkeep_text::error_chain(&e), "");
        }
    };
    let summary = match done.ended {
        upkeep_process::Ended::Exited(0) => "exited 0".to_owned(),
        upkeep_process::Ended::Exited(c) => format!("`{}` exited {c}", gate.command),
        upkeep_process::Ended::Signalled(sig) => {
            format!("`{}` was killed by signal {sig}", gate.command)
        }
        upkeep_process::Ended::TimedOut => format!(
            "`{}` ran longer than {}s and was killed, with what it started",
            gate.command,
            gate.timeout.as_secs()
        ),
    };
    result(done.ended.success(), summary, &done.output)
}

/// The last `n` non-blank lines of `text`, each one inert line of at most
/// [`crate::render::MAX_LINE`] characters.
fn tail(text: &str, n: usize) -> Vec<String> {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| crate::render::one_line(l, crate::render::MAX_LINE).into_owned())
        .collect()
}

/// The Sentry gate: no more than `threshold` new unresolved issues in `environment`
/// within an absolute window.
#[derive(Clone)]
pub struct SentryGate {
    /// The client (base URL, organisation, auth token).
    pub client: SentryClient,
    /// Project slugs.
    pub projects: Vec<String>,
    /// The environment whose issues count (`stage`).
    pub environment: String,
    /// How many new issues are tolerated.
    pub threshold: u32,
    /// Which issues are new.
    pub window: SentryWindow,
}

impl std::fmt::Debug for SentryGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentryGate")
            .field("org", &self.client.org())
            .field("projects", &self.projects)
            .field("environment", &self.environment)
            .field("threshold", &self.threshold)
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

/// Where the Sentry gate's window starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SentryWindow {
    /// At the previous promotion in the history, or `fallback` before now without one.
    SinceLastPromotion {
        /// The window's length when the history has no promotion.
        fallback: Duration,
    },
    /// This long before now.
    Last(Duration),
}

/// What the gates need to know about the moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GateContext {
    /// Now: the end of the Sentry window.
    pub now: DateTime<Utc>,
    /// When the previous promotion happened, from the history.
    pub last_promotion: Option<DateTime<Utc>>,
}

/// Checks the Sentry gate: the issues first seen in the window, listed with links.
pub async fn check_sentry(gate: &SentryGate, ctx: &GateContext) -> GateResult {
    let window = match gate.window {
        SentryWindow::SinceLastPromotion { fallback } => match ctx.last_promotion {
            Some(from) if from <= ctx.now => Window { from, to: ctx.now },
            _ => Window::ending_at(ctx.now, fallback),
        },
        SentryWindow::Last(d) => Window::ending_at(ctx.now, d),
    };
    let query = IssueQuery {
        projects: gate.projects.clone(),
        environment: gate.environment.clone(),
        window,
    };
    let name = format!("sentry: {}", gate.environment);
    match gate.client.gate(query, gate.threshold).await {
        Ok(v) => GateResult {
            name,
            kind: GateKind::Sentry,
            passed: v.passed,
            summary: v.summary(),
            evidence: v
                .issues
                .iter()
                .map(|i| Evidence {
                    text: line(&format!(
                        "{} {} ({} event(s), first seen {})",
                        i.short_id,
                        i.title,
                        i.count,
                        i.first_seen.format("%Y-%m-%d %H:%M UTC")
                    )),
                    url: Some(i.permalink.clone()),
                })
                .collect(),
            hint: None,
        },
        Err(e) => GateResult {
            name,
            kind: GateKind::Sentry,
            passed: false,
            summary: line(&format!(
                "cannot query Sentry: {}",
                upkeep_text::error_chain(&e)
            )),
            evidence: Vec::new(),
            hint: None,
        },
    }
}

/// Every configured gate.
#[derive(Debug, Clone, Default)]
pub struct Gates {
    /// The CI gate.
    pub ci: CiGate,
    /// The Sentry gate, when configured.
    pub sentry: Option<SentryGate>,
    /// Command gates.
    pub commands: Vec<CommandGate>,
}

/// Evaluates every gate for `plan` concurrently; the report lists them in order (CI,
/// Sentry, commands). Gates are skipped when nothing would move.
pub async fn evaluate(
    gates: &Gates,
    plan: &Plan,
    repos: &[RepoSpec],
    ctx: &GateContext,
) -> GateReport {
    if plan.is_noop() {
        return GateReport::default();
    }
    let ci = check_ci(&gates.ci, plan, repos);
    let sentry = async {
        match &gates.sentry {
            Some(g) => Some(check_sentry(g, ctx).await),
            None => None,
        }
    };
    let commands = async {
        let mut out = Vec::new();
        let mut tasks = tokio::task::JoinSet::new();
        for (i, g) in gates.commands.iter().enumerate() {
            let g = g.clone();
            tasks.spawn(async move { (i, check_command(&g).await) });
        }
        while let Some(Ok(r)) = tasks.join_next().await {
            out.push(r);
        }
        out.sort_by_key(|(i, _)| *i);
        out.into_iter().map(|(_, r)| r).collect::<Vec<_>>()
    };
    let (mut all, sentry, commands) = tokio::join!(ci, sentry, commands);
    all.extend(sentry);
    all.extend(commands);
    GateReport { gates: all }
}

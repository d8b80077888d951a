//! Neutral types shared by every forge adapter.

use serde::{Deserialize, Serialize};

/// Which service a forge adapter talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ForgeKind {
    /// GitHub or GitHub Enterprise.
    GitHub,
    /// GitLab.com or a self-hosted GitLab.
    GitLab,
    /// Plain git remotes; change requests are recorded as files.
    Local,
}

impl ForgeKind {
    /// What this forge calls a change request, abbreviated: `MR` on GitLab, `PR`
    /// elsewhere (the local forge's records mirror GitHub's).
    #[must_use]
    pub fn change_request_noun(self) -> &'static str {
        match self {
            Self::GitLab => "MR",
            Self::GitHub | Self::Local => "PR",
        }
    }
}

impl std::fmt::Display for ForgeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::GitHub => "GitHub",
            Self::GitLab => "GitLab",
            Self::Local => "local git",
        })
    }
}

/// A repository on a forge: `owner/name` on GitHub, the full `group/subgroup/name` path on
/// GitLab, the remote's URL or path for the local forge.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RepoId(pub String);

impl RepoId {
    /// A repository id from its path or URL.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RepoId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a change request should look like; input to
/// [`Forge::upsert_change_request`](crate::Forge::upsert_change_request).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeRequestSpec {
    /// Source branch (in the same repository).
    pub head: String,
    /// Target branch.
    pub base: String,
    /// Title (without any draft prefix: adapters add what their forge needs).
    pub title: String,
    /// Body, Markdown.
    pub body: String,
    /// Labels to set.
    pub labels: Vec<String>,
    /// Users asked to review.
    pub reviewers: Vec<String>,
    /// Users assigned.
    pub assignees: Vec<String>,
    /// Open as a draft.
    pub draft: bool,
}

/// Review and merge state of a change request, normalised across forges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeRequestState {
    /// Open, no decisive review yet.
    Open,
    /// Open and approved.
    Approved,
    /// Open, and a reviewer asked for changes.
    ChangesRequested,
    /// Merged.
    Merged,
    /// Closed without merging.
    Closed,
}

impl std::fmt::Display for ChangeRequestState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Open => "open",
            Self::Approved => "approved",
            Self::ChangesRequested => "changes requested",
            Self::Merged => "merged",
            Self::Closed => "closed",
        })
    }
}

/// A pull request (GitHub) or merge request (GitLab), or a recorded one (local).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeRequest {
    /// The number people use: GitHub `number`, GitLab `iid`.
    pub number: u64,
    /// Web URL for people.
    pub url: String,
    /// Title as shown (without a draft prefix).
    pub title: String,
    /// Body.
    pub body: String,
    /// Source branch.
    pub head: String,
    /// Target branch.
    pub base: String,
    /// Tip of the source branch, when known.
    pub head_sha: Option<String>,
    /// Normalised state.
    pub state: ChangeRequestState,
    /// Whether it is a draft.
    pub draft: bool,
    /// Labels.
    pub labels: Vec<String>,
    /// Users who approved.
    pub approvers: Vec<String>,
    /// The merge commit once merged.
    pub merge_sha: Option<String>,
}

/// What [`Forge::upsert_change_request`](crate::Forge::upsert_change_request) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UpsertAction {
    /// A new change request was opened.
    Created,
    /// An open one with the same head was updated.
    Updated,
    /// An open one with the same head already matched the spec.
    Unchanged,
}

/// The change request after an upsert, and what was done to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upserted {
    /// The change request as it now is.
    pub change_request: ChangeRequest,
    /// Whether it was created, updated or left alone.
    pub action: UpsertAction,
    /// People of the spec the forge did not take, reported by the upsert that tried to set
    /// them (a later upsert that finds the change request as the forge left it reports
    /// nothing again).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_applied: Vec<NotApplied>,
}

/// As what a person was named in a [`ChangeRequestSpec`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PersonRole {
    /// In `reviewers`.
    Reviewer,
    /// In `assignees`.
    Assignee,
}

/// A reviewer or assignee of the spec that the forge did not set, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotApplied {
    /// The username as configured.
    pub user: String,
    /// Reviewer or assignee.
    pub role: PersonRole,
    /// Why, in the forge's terms ("GitLab Free takes one reviewer per merge request").
    pub reason: String,
}

/// One commit in a comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitSummary {
    /// Full SHA.
    pub sha: String,
    /// First line of the message.
    pub subject: String,
    /// Author name.
    pub author: String,
    /// Author time, RFC 3339, when known.
    pub time: Option<String>,
}

/// How `head` relates to `base`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comparison {
    /// Commits in `head` that `base` lacks.
    pub ahead_by: usize,
    /// Commits in `base` that `head` lacks.
    pub behind_by: usize,
    /// The commits in `head` not in `base`, newest first.
    pub commits: Vec<CommitSummary>,
    /// The merge base, when the forge reports it.
    pub merge_base: Option<String>,
}

impl Comparison {
    /// Both sides point at the same history.
    #[must_use]
    pub fn is_even(&self) -> bool {
        self.ahead_by == 0 && self.behind_by == 0
    }
}

/// A compare-and-swap move of a branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BranchMove {
    /// Branch to move (short name).
    pub branch: String,
    /// The tip the caller saw; the move is refused if the branch is anywhere else.
    pub expected_old: String,
    /// The commit to move it to.
    pub new: String,
    /// Allow a move that is not a fast-forward (only for an explicit rollback).
    pub allow_backwards: bool,
}

/// A tag, peeled to its commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    /// Tag name without `refs/tags/`.
    pub name: String,
    /// The commit it names.
    pub sha: String,
}

/// What the token may do on a repository, as far as the forge tells without trying;
/// [`Forge::access`](crate::Forge::access).
///
/// `None` is "the forge does not say" (a GitHub fine-grained token's own permissions, a
/// GitLab administrator without a membership, a local remote given as a URL): callers
/// show it as unknown, never as yes or no.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Access {
    /// The token may push branches to the repository.
    pub can_push: Option<bool>,
    /// The token may open and update change requests on the repository.
    pub can_open_change_requests: Option<bool>,
    /// What the answer rests on, for people ("role: push; token scopes: repo").
    pub detail: String,
    /// How to get the missing permission, in the forge's words ("the token needs the
    /// `repo` scope", "the token's user needs the Developer role"), when something is
    /// missing or unknown.
    pub fix: Option<String>,
}

impl Access {
    /// Both pushing and opening change requests are known to be allowed.
    #[must_use]
    pub fn is_sufficient(&self) -> bool {
        self.can_push == Some(true) && self.can_open_change_requests == Some(true)
    }

    /// Pushing or opening change requests is known to be refused.
    #[must_use]
    pub fn is_insufficient(&self) -> bool {
        self.can_push == Some(false) || self.can_open_change_requests == Some(false)
    }
}

/// Whether a branch is protected, and whether the token's user may still move it;
/// [`Forge::branch_access`](crate::Forge::branch_access).
///
/// Like [`Access`], `None` is "the forge does not say"; callers show it as unknown. A
/// protected branch that the token's user may update anyway (an admin who bypasses the
/// rule, a Maintainer on a GitLab branch that allows Maintainers to push) has
/// `protected: Some(true)` and `can_update: Some(true)`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BranchAccess {
    /// The branch.
    pub branch: String,
    /// The branch is protected by a rule of the forge.
    pub protected: Option<bool>,
    /// The token's user may move the branch (push or update its ref) despite any rule.
    pub can_update: Option<bool>,
    /// What the answer rests on, for people ("protected: pushes by Maintainers").
    pub detail: String,
    /// What the token's user needs, in the forge's words, when an update would be
    /// refused or it is unknown: "`stable` is protected; the token's user needs the
    /// Maintainer role or an entry in the rule's allowed-to-push list".
    pub fix: Option<String>,
}

impl BranchAccess {
    /// Nothing is known (a forge or remote that cannot tell without trying).
    #[must_use]
    pub fn unknown(branch: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            branch: branch.into(),
            detail: detail.into(),
            ..Self::default()
        }
    }

    /// An update is known to be refused.
    #[must_use]
    pub fn is_refused(&self) -> bool {
        self.can_update == Some(false)
    }
}

/// The state of one CI signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckState {
    /// Passed.
    Success,
    /// Failed, errored, was cancelled or timed out.
    Failure,
    /// Queued or running.
    Pending,
    /// Skipped or neutral: ran, decided nothing.
    Skipped,
}

/// Where a CI signal came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckSource {
    /// A GitHub commit status or GitLab commit status.
    CommitStatus,
    /// A GitHub check run.
    CheckRun,
    /// A GitLab pipeline.
    Pipeline,
    /// Recorded by the local forge.
    Recorded,
}

/// One CI signal for a commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// Context (statuses), check name, or pipeline name.
    pub name: String,
    /// Normalised state.
    pub state: CheckState,
    /// Where to look.
    pub url: Option<String>,
    /// What kind of signal it is.
    pub source: CheckSource,
}

/// The merged CI verdict for a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every signal passed (skipped ones aside) and there was at least one that passed.
    Success,
    /// At least one signal failed.
    Failure,
    /// Nothing failed and something is still running.
    Pending,
    /// No signal at all. Never to be read as green.
    Missing,
    /// Every signal was skipped or neutral.
    Skipped,
}

impl Verdict {
    /// Only [`Verdict::Success`] is green.
    #[must_use]
    pub fn is_success(self) -> bool {
        self == Self::Success
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Pending => "pending",
            Self::Missing => "missing",
            Self::Skipped => "skipped",
        })
    }
}

/// A commit's CI verdict with the evidence it was drawn from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CiVerdict {
    /// The commit.
    pub sha: String,
    /// The merged verdict.
    pub verdict: Verdict,
    /// Every signal seen, one per name (the latest wins when a name repeats).
    pub checks: Vec<Check>,
}

impl CiVerdict {
    /// Merges signals into a verdict: any failure fails; else anything pending is pending;
    /// else any success succeeds; else all-skipped is skipped; nothing at all is missing.
    #[must_use]
    pub fn from_checks(sha: impl Into<String>, checks: Vec<Check>) -> Self {
        let has = |state| checks.iter().any(|c| c.state == state);
        let verdict = if checks.is_empty() {
            Verdict::Missing
        } else if has(CheckState::Failure) {
            Verdict::Failure
        } else if has(CheckState::Pending) {
            Verdict::Pending
        } else if has(CheckState::Success) {
            Verdict::Success
        } else {
            Verdict::Skipped
        };
        Self {
            sha: sha.into(),
            verdict,
            checks,
        }
    }

    /// The verdict restricted to `required` check names: a required name that has no
    /// signal makes the result [`Verdict::Missing`] (or keeps a failure a failure).
    #[must_use]
    pub fn require(&self, required: &[String]) -> Verdict {
        if required.is_empty() {
            return self.verdict;
        }
        let mut relevant = Vec::new();
        let mut any_absent = false;
        for name in required {
            match self.checks.iter().find(|c| &c.name == name) {
                Some(check) => relevant.push(check.clone()),
                None => any_absent = true,
            }
        }
        let merged = Self::from_checks(self.sha.clone(), relevant).verdict;
        match merged {
            Verdict::Failure => Verdict::Failure,
            _ if any_absent => Verdict::Missing,
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_change_request_noun_follows_the_forge() {
        assert_eq!(ForgeKind::GitLab.change_request_noun(), "MR");
        assert_eq!(ForgeKind::GitHub.change_request_noun(), "PR");
        assert_eq!(ForgeKind::Local.change_request_noun(), "PR");
    }

    fn check(name: &str, state: CheckState) -> Check {
        Check {
            name: name.into(),
            state,
            url: None,
            source: CheckSource::CheckRun,
        }
    }

    #[test]
    fn no_signal_is_missing_not_green() {
        let v = CiVerdict::from_checks("a", vec![]);
        assert_eq!(v.verdict, Verdict::Missing);
        assert!(!v.verdict.is_success());
    }

    #[test]
    fn failure_beats_pending_beats_success() {
        use CheckState::*;
        let v = |s: &[CheckState]| {
            CiVerdict::from_checks("a", s.iter().map(|s| check("x", *s)).collect()).verdict
        };
        assert_eq!(v(&[Success, Pending, Failure]), Verdict::Failure);
        assert_eq!(v(&[Success, Pending]), Verdict::Pending);
        assert_eq!(v(&[Success, Skipped]), Verdict::Success);
        assert_eq!(v(&[Skipped]), Verdict::Skipped);
    }

    #[test]
    fn required_checks_must_be_present() {
        let v = CiVerdict::from_checks(
            "a",
            vec![
                check("build", CheckState::Success),
                check("lint", CheckState::Failure),
            ],
        );
        assert_eq!(v.require(&["build".into()]), Verdict::Success);
        assert_eq!(v.require(&["build".into(), "e2e".into()]), Verdict::Missing);
        assert_eq!(v.require(&["lint".into(), "e2e".into()]), Verdict::Failure);
    }
}

//! Why a promotion could not be planned, gated, applied or recorded.

use upkeep_forge::ForgeError;

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong. User mistakes (an unknown repo, an ambiguous SHA, a backwards move)
/// are distinct variants from failures of the forge, git or the history repo, so the
/// binary can map them to different exit codes ([`Error::is_user_error`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An override or argument names a repo that is not configured.
    #[error("unknown repo `{name}`; known repos: {}", known.join(", "))]
    UnknownRepo {
        /// The name given.
        name: String,
        /// The configured repo names.
        known: Vec<String>,
    },
    /// An override is not `<repo>=<rev>`.
    #[error("invalid override `{given}`: expected <repo>=<rev>, e.g. packit-service=1787687aba71")]
    BadOverride {
        /// What was given.
        given: String,
    },
    /// The same repo was given two overrides.
    #[error("repo `{repo}` has two overrides: `{first}` and `{second}`")]
    DuplicateOverride {
        /// The repo.
        repo: String,
        /// The first revision.
        first: String,
        /// The second revision.
        second: String,
    },
    /// Two repos share a name.
    #[error("repo `{name}` is configured twice")]
    DuplicateRepo {
        /// The name.
        name: String,
    },
    /// `depends_on` names a repo that is not configured.
    #[error("repo `{repo}` depends on `{dependency}`, which is not configured")]
    UnknownDependency {
        /// The repo.
        repo: String,
        /// The unknown name.
        dependency: String,
    },
    /// `depends_on` has a cycle.
    #[error("`depends_on` has a cycle through: {}", repos.join(" → "))]
    Cycle {
        /// The repos on (or behind) the cycle.
        repos: Vec<String>,
    },
    /// A branch the plan needs does not exist.
    #[error("{repo}: branch `{branch}` does not exist")]
    BranchMissing {
        /// The repo name.
        repo: String,
        /// The branch.
        branch: String,
    },
    /// A short SHA (or other revision) matches several commits.
    #[error("{repo}: `{rev}` is ambiguous; it matches {}", candidates.join(", "))]
    AmbiguousRev {
        /// The repo name.
        repo: String,
        /// The revision given.
        rev: String,
        /// The full SHAs it matches.
        candidates: Vec<String>,
    },
    /// A short SHA shorter than git can look up (4 hex digits).
    #[error("{repo}: `{rev}` is too short to name a commit; give at least 4 hex digits of its SHA")]
    RevTooShort {
        /// The repo name.
        repo: String,
        /// The revision given.
        rev: String,
    },
    /// A revision names no commit.
    #[error("{repo}: `{rev}` names no commit (fetched from {url})")]
    UnknownRev {
        /// The repo name.
        repo: String,
        /// The revision given.
        rev: String,
        /// Where the commits were fetched from.
        url: String,
    },
    /// An override is a commit that the source branch does not contain.
    #[error(
        "{repo}: {sha} (`{rev}`) is not on `{source_branch}`; only commits of the source branch are promoted"
    )]
    NotOnSource {
        /// The repo name.
        repo: String,
        /// The revision given.
        rev: String,
        /// The commit it resolved to.
        sha: String,
        /// The source branch.
        source_branch: String,
    },
    /// The requested commit does not descend from the target's current tip: the move
    /// would go backwards or sideways.
    #[error(
        "{repo}: moving `{target}` from {from} to {to} is not a fast-forward; only `move-branches rollback` moves a branch backwards"
    )]
    Backwards {
        /// The repo name.
        repo: String,
        /// The target branch.
        target: String,
        /// Its current tip.
        from: String,
        /// The requested commit.
        to: String,
    },
    /// The target has commits the source lacks (a hotfix made only on the target), so
    /// the source tip is not a fast-forward of it.
    #[error(
        "{repo}: `{target}` has {drift} commit(s) that `{source_branch}` lacks; merge them into `{source_branch}` first, or leave the repo out with --skip"
    )]
    Diverged {
        /// The repo name.
        repo: String,
        /// The target branch.
        target: String,
        /// The source branch.
        source_branch: String,
        /// How many commits only the target has.
        drift: usize,
    },
    /// A rollback target is not behind the current tip.
    #[error(
        "{repo}: {to} is not an ancestor of `{target}` ({from}); a rollback only moves back along the branch"
    )]
    NotARollback {
        /// The repo name.
        repo: String,
        /// The target branch.
        target: String,
        /// Its current tip.
        from: String,
        /// The requested commit.
        to: String,
    },
    /// No earlier promotion of the repo is recorded to roll back to.
    #[error(
        "{repo}: the history records no promotion older than the current tip {tip} of `{target}`"
    )]
    NoEarlierPromotion {
        /// The repo name.
        repo: String,
        /// The target branch.
        target: String,
        /// Its current tip.
        tip: String,
    },
    /// `--approve <digest>` was given but the plan's digest differs: the plan changed
    /// since it was shown.
    #[error(
        "the plan changed since it was approved: approved digest {approved}, current plan {actual}"
    )]
    DigestMismatch {
        /// The digest given.
        approved: String,
        /// The digest of the plan now.
        actual: String,
    },
    /// Somebody else holds the deploy token, so this run cannot take it.
    #[error(
        "the deploy token `{name}` is held by {holder} since {since} ({reason}), until {until}"
    )]
    TokenHeld {
        /// The lock's name.
        name: String,
        /// Who holds it (shown inert, capped).
        holder: String,
        /// Since when.
        since: String,
        /// Their reason (shown inert, capped).
        reason: String,
        /// When their lease ends.
        until: String,
    },
    /// The run must already hold the deploy token (verify mode), and does not.
    #[error("{you} does not hold the deploy token `{name}`: {held}")]
    TokenNotHeld {
        /// The lock's name.
        name: String,
        /// Who runs this.
        you: String,
        /// Who holds it instead ("it is held by bob since …"), or "nobody holds it".
        held: String,
    },
    /// The deploy token could not be read, taken or checked.
    #[error("cannot {doing} the deploy token")]
    DeployToken {
        /// What was being done.
        doing: String,
        /// The lock's error.
        #[source]
        source: Box<upkeep_lock::Error>,
    },
    /// The note of a run in progress could not be read, written or removed: nothing was
    /// moved without it.
    #[error("in-progress note `{key}`: cannot {doing}")]
    Note {
        /// The note's key.
        key: String,
        /// What was being done, naming the place.
        doing: String,
        /// The store's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The note of a run in progress exists but is not a note (the job warns and
    /// removes it).
    #[error("in-progress note `{key}` at {place} is unreadable: {message}")]
    NoteUnreadable {
        /// The note's key.
        key: String,
        /// Where it is.
        place: String,
        /// What is wrong with it.
        message: String,
    },
    /// Approval in a chat channel cannot work: a check made before anything is planned
    /// or posted failed (a missing scope, a channel the app is not in, an approver the
    /// token cannot see, or the chat could not be reached).
    #[error("approval in chat channel {channel} cannot work")]
    ApprovalSetup {
        /// The channel, as configured.
        channel: String,
        /// What the chat said.
        #[source]
        source: Box<upkeep_chat::ChatError>,
    },
    /// Nobody could approve: no person is named and the user groups have no members.
    #[error(
        "nobody can approve in chat channel {channel}: no person is named and the user groups {} have no members",
        groups.join(", ")
    )]
    NoApprovers {
        /// The channel, as configured.
        channel: String,
        /// The user groups named.
        groups: Vec<String>,
    },
    /// A notification could not be delivered (never changes what happened).
    #[error("cannot tell {to}")]
    Notify {
        /// Where it was going ("Slack channel #x", "Sentry").
        to: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A forge call failed.
    #[error("{repo}: cannot {doing}")]
    Forge {
        /// The repo name.
        repo: String,
        /// What was being done.
        doing: String,
        /// The forge error.
        #[source]
        source: Box<ForgeError>,
    },
    /// A git operation on a cached clone failed.
    #[error("{repo}: cannot {doing}")]
    Git {
        /// The repo name (or `history`).
        repo: String,
        /// What was being done.
        doing: String,
        /// The git error.
        #[source]
        source: Box<upkeep_git::Error>,
    },
    /// The history file holds a line that is not a history entry.
    #[error("{file}:{line}: not a history entry")]
    HistoryParse {
        /// The file inside the history repo.
        file: String,
        /// The 1-based line number.
        line: usize,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// Writing the history kept losing the race against other writers.
    #[error(
        "cannot record the history in {url}: the branch `{branch}` kept moving ({attempts} attempts)"
    )]
    HistoryContended {
        /// The history repo.
        url: String,
        /// Its branch.
        branch: String,
        /// How many times it was tried.
        attempts: u32,
    },
    /// A file of the cache or history clone could not be read or written.
    #[error("cannot {doing}")]
    Io {
        /// What was being done, naming the file.
        doing: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A background task panicked or was cancelled.
    #[error("internal task failed while {doing}: {message}")]
    Task {
        /// What was being done.
        doing: String,
        /// The panic or cancellation message.
        message: String,
    },
}

impl Error {
    /// Whether the input was wrong (nothing was changed and retrying the same input will
    /// fail the same way), as opposed to a failure of a server or of git.
    #[must_use]
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            Self::UnknownRepo { .. }
                | Self::BadOverride { .. }
                | Self::DuplicateOverride { .. }
                | Self::DuplicateRepo { .. }
                | Self::UnknownDependency { .. }
                | Self::Cycle { .. }
                | Self::BranchMissing { .. }
                | Self::AmbiguousRev { .. }
                | Self::UnknownRev { .. }
                | Self::RevTooShort { .. }
                | Self::TokenHeld { .. }
                | Self::TokenNotHeld { .. }
                | Self::NotOnSource { .. }
                | Self::Backwards { .. }
                | Self::Diverged { .. }
                | Self::NotARollback { .. }
                | Self::NoEarlierPromotion { .. }
                | Self::DigestMismatch { .. }
                | Self::NoApprovers { .. }
        ) || matches!(
            self,
            Self::ApprovalSetup { source, .. } if !matches!(
                **source,
                upkeep_chat::ChatError::Transport { .. }
                    | upkeep_chat::ChatError::RateLimited { .. }
                    | upkeep_chat::ChatError::Protocol { .. }
            )
        )
    }

    pub(crate) fn forge(repo: &str, doing: impl Into<String>, source: ForgeError) -> Self {
        Self::Forge {
            repo: repo.to_owned(),
            doing: doing.into(),
            source: Box::new(source),
        }
    }

    pub(crate) fn git(repo: &str, doing: impl Into<String>, source: upkeep_git::Error) -> Self {
        Self::Git {
            repo: repo.to_owned(),
            doing: doing.into(),
            source: Box::new(source),
        }
    }
}

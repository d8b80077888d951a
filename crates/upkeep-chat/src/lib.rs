//! Team threads: the round summary, one thread per project, reactions as status.
//!
//! After a maintenance round the team divides the follow-up work in a chat channel: one
//! summary that leads with the direct major upgrades, then one message per changed or
//! failed project (the PR link, the result and the checklist of follow-up actions), and
//! emoji reactions on that message marking how far the project got (reviewed, merged,
//! deployed, …). A failed project's thread gets one reply: the end of its log. This crate
//! posts those messages and reads the reactions back.
//!
//! One `chat.postMessage` per project is the whole cost of a changed project, so a channel
//! paced at one message per second takes as many seconds as there are projects to tell
//! about — and up-to-date projects are a line of the summary, not a message.
//!
//! It is shaped around three things:
//!
//! - **A neutral model** ([`model`]): plain structs built by the round crate, so this crate
//!   knows nothing of lockfiles or pipelines.
//! - **One trait, [`ChatThreads`], with two adapters**: [`SlackChat`] (Web API through
//!   slack-morphism, feature `slack`) and [`ConsoleChat`] (the embedded default: writes the
//!   same messages as text or Markdown to any `Write`, for teams without Slack, dry-runs and
//!   the demo). The find-then-post-or-update rules are written once for both, so the console
//!   shows exactly what Slack would get.
//! - **Approval by reaction** ([`approval`]): one message asks, [`ApprovalChannel`] checks
//!   who may answer before anything is posted, finds the message again by its metadata
//!   after a crash, and reads every reaction on it; what counts is the caller's decision
//!   (`upkeep-branches` binds it to a plan's digest).
//! - **State kept in the channel itself**: every message carries metadata (kind, round,
//!   project, PR URL, a digest of its content), so a re-run or `maintain status` finds the
//!   round's messages without local state, and re-posting the same round updates messages
//!   instead of duplicating them — and sends nothing at all when the content is the same.
//!
//! Messages are rendered to [`render::Document`]s fitted to Slack's limits (3000
//! characters per section, 50 blocks, 40 000 characters of text) with Slack's mrkdwn
//! escaping as the measure; long logs keep their tail and say what was cut.

pub mod approval;
mod console;
mod error;
mod flow;
pub mod model;
pub mod render;
#[cfg(feature = "slack")]
mod slack;

use async_trait::async_trait;

pub use approval::{
    ApprovalChannel, ApprovalMessage, ApprovalMeta, ApprovalState, Approvers, Person,
};
pub use console::{ConsoleChat, ConsoleFormat};
pub use error::{ChatError, Result};
pub use model::{
    ChangeRequestLink, Checklist, ChecklistItem, Delivery, FailedProject, Legend, LegendEntry,
    MajorUpgrade, Meaning, MessageRef, PackageChange, Playbook, Posted, ProjectMessage,
    ProjectResult, ProjectStatus, Reaction, RoundId, RoundSummary, Stage, StatusCounts, ThreadRef,
    TransitiveChanges, UpgradeCounts, UpgradeKind, group_upgrades, sort_notable_first,
};
#[cfg(feature = "slack")]
pub use slack::{APPROVAL_SCOPES, AuthInfo, GROUP_SCOPE, REQUIRED_SCOPES, SlackChat, SlackConfig};

/// Posting a round to the team channel and reading its status back.
///
/// Every posting method is idempotent per round: calling it again with the same input
/// finds the message posted before (through its metadata) and leaves it alone, or updates
/// it when the content changed. Implementations are `Send + Sync` and usable as
/// `Box<dyn ChatThreads>`.
#[async_trait]
pub trait ChatThreads: Send + Sync {
    /// Posts the round summary, or updates the round's existing summary.
    async fn post_summary(&self, summary: &RoundSummary) -> Result<Delivery>;

    /// Posts the project's message, its checklist inside (one `chat.postMessage`) — or
    /// finds the round's existing message for the project and updates it in place. A
    /// failed project also gets a `:boom:` reaction and one thread reply with the failing
    /// stage, exit code, upgrades and log tail; a project no longer failing loses upkeep's
    /// own `:boom:`. Callable per project at any time, in any order, independently of
    /// [`ChatThreads::post_summary`]. Whether a project gets a message at all is the
    /// caller's choice ([`ProjectMessage::wants_own_message`]).
    async fn open_or_continue_thread(&self, message: &ProjectMessage) -> Result<ThreadRef>;

    /// Replies `text` (plain text, escaped as needed) in the thread of `thread`.
    /// Each call posts a new reply.
    async fn reply(&self, thread: &MessageRef, text: &str) -> Result<MessageRef>;

    /// Posts `text` (plain text, escaped as needed) as a new top-level message: a one-off
    /// note outside any round, such as the result of a stable-branch promotion. Each call
    /// posts a new message.
    async fn post_note(&self, text: &str) -> Result<MessageRef>;

    /// Replaces the content of `message` with `text` (plain text). Meant for notes posted
    /// with [`ChatThreads::reply`]; project and summary messages are updated by posting the
    /// round again.
    async fn update(&self, message: &MessageRef, text: &str) -> Result<()>;

    /// Adds reaction `name` (without colons) as upkeep; already present is not an error.
    async fn add_reaction(&self, message: &MessageRef, name: &str) -> Result<()>;

    /// Reads the reactions on the round's project messages: per project the furthest
    /// stage, who is on it, whether it is skipped or failing. In channel order.
    async fn read_round_status(&self, round: &RoundId) -> Result<Vec<ProjectStatus>>;
}

/// Implements [`ChatThreads`] for an adapter by delegating to the shared flow.
macro_rules! impl_chat_threads {
    ($ty:ty) => {
        #[async_trait::async_trait]
        impl $crate::ChatThreads for $ty {
            async fn post_summary(
                &self,
                summary: &$crate::RoundSummary,
            ) -> $crate::Result<$crate::Delivery> {
                $crate::flow::post_summary(self, summary).await
            }

            async fn open_or_continue_thread(
                &self,
                message: &$crate::ProjectMessage,
            ) -> $crate::Result<$crate::ThreadRef> {
                $crate::flow::open_or_continue_thread(self, message).await
            }

            async fn reply(
                &self,
                thread: &$crate::MessageRef,
                text: &str,
            ) -> $crate::Result<$crate::MessageRef> {
                $crate::flow::reply(self, thread, text).await
            }

            async fn post_note(&self, text: &str) -> $crate::Result<$crate::MessageRef> {
                $crate::flow::post_note(self, text).await
            }

            async fn update(&self, message: &$crate::MessageRef, text: &str) -> $crate::Result<()> {
                $crate::flow::update(self, message, text).await
            }

            async fn add_reaction(
                &self,
                message: &$crate::MessageRef,
                name: &str,
            ) -> $crate::Result<()> {
                $crate::flow::Channel::react(self, message, name).await
            }

            async fn read_round_status(
                &self,
                round: &$crate::RoundId,
            ) -> $crate::Result<Vec<$crate::ProjectStatus>> {
                $crate::flow::read_round_status(self, round).await
            }
        }
    };
}
pub(crate) use impl_chat_threads;

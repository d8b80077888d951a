//! Approval by reaction in Slack, for jobs: `[branches.approval.slack]` turned into the
//! library's `ChatApprover`.

use std::sync::Arc;

use upkeep_branches::{ChatApprovalOptions, ChatApprover};
use upkeep_chat::{ChatError, SlackChat, SlackConfig};
use upkeep_cli::{Report, TokenArgs};
use upkeep_config::SlackApproval;

/// Slack allows `reactions.get` about 50 times a minute (Tier 3).
const SLACK_POLL_FLOOR: std::time::Duration = std::time::Duration::from_millis(1200);

/// The approver `[branches.approval.slack]` describes, for the job named `key`, and a
/// warning when it would poll Slack faster than Slack allows.
pub(crate) fn slack(
    config: &SlackApproval,
    secrets: &TokenArgs,
    key: &str,
) -> Result<(ChatApprover, Option<String>), Report> {
    let token = secrets.slack_api_token.clone().ok_or_else(|| {
        Report::user("[branches.approval.slack] asks for approval in Slack, and SLACK_API_TOKEN is not set")
            .hint("set SLACK_API_TOKEN to the Slack app's bot token (xoxb-…), or approve with --yes or --approve <digest>")
    })?;
    let mut slack = SlackConfig::new(token, config.channel.clone());
    if let Some(url) = &secrets.slack_api_url {
        slack.api_url.clone_from(url);
    }
    let warning = (slack.api_url == SlackConfig::DEFAULT_API_URL
        && config.poll_interval.get() < SLACK_POLL_FLOOR)
        .then(|| {
            format!(
                "[branches.approval.slack] poll_interval is {}: Slack allows reading reactions about 50 times a minute, so expect waits for its rate limit",
                config.poll_interval
            )
        });
    let chat = SlackChat::new(slack).map_err(Report::user)?;
    let mut options = ChatApprovalOptions::new(
        key,
        config.approvers.clone(),
        config.approver_groups.clone(),
    );
    options.wait = config.wait.get();
    options.poll_interval = config.poll_interval.get();
    options.replan_interval = config.replan_interval.get();
    options.approve.clone_from(&config.approve_reactions);
    options.reject.clone_from(&config.reject_reactions);
    let approver = ChatApprover::new(Arc::new(chat), options)
        .with_progress(Arc::new(|line: &str| crate::cmd::say(line)));
    Ok((approver, warning))
}

/// What to do about a check of the Slack approval that failed before anything was posted.
pub(crate) fn hint(e: &ChatError) -> Option<&'static str> {
    Some(match e {
        ChatError::MissingScope { .. } => {
            "add the scopes to the Slack app (examples/slack-app-manifest.yml lists them all) and reinstall it to the workspace"
        }
        ChatError::NotInChannel { .. } => {
            "invite the app to the channel (`/invite @upkeep` in it), or change [branches.approval.slack] channel"
        }
        ChatError::ChannelNotFound { .. } => {
            "check [branches.approval.slack] channel: an id such as C0123456789 (channel details), or #name"
        }
        ChatError::UnknownUser { .. } => {
            "check [branches.approval.slack] approvers: Slack member ids of people in this workspace (profile → ⋯ → Copy member ID)"
        }
        ChatError::UnusableUser { .. } => {
            "remove them from [branches.approval.slack] approvers, or name a person"
        }
        ChatError::UnknownUserGroup { .. } => {
            "check [branches.approval.slack] approver_groups: user group ids (S…), not @handles"
        }
        ChatError::InvalidAuth { .. } => "check SLACK_API_TOKEN (the app's bot token, xoxb-…)",
        _ => return None,
    })
}

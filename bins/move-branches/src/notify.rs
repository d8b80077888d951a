//! Who hears how a job ended: as a job, the result goes to Slack and failures to Sentry
//! (`[branches.notify]`); by hand, everything is already on the terminal.

use std::sync::Arc;

use upkeep_branches::{ChatNotifier, Notifiers, SentryNotifier};
use upkeep_chat::{SlackChat, SlackConfig};
use upkeep_config::NotifyConfig;

use upkeep_cli::TokenArgs;

/// The notifiers `[branches.notify]` asks for, and warnings for the ones that cannot be
/// built (a missing secret) or for nobody being told at all.
pub(crate) fn notifiers(config: &NotifyConfig, secrets: &TokenArgs) -> (Notifiers, Vec<String>) {
    let mut all = Notifiers::default();
    let mut warnings = Vec::new();
    if let Some(channel) = &config.slack_channel {
        match &secrets.slack_api_token {
            Some(token) => {
                let mut slack = SlackConfig::new(token.clone(), channel.clone());
                if let Some(url) = &secrets.slack_api_url {
                    slack.api_url.clone_from(url);
                }
                match SlackChat::new(slack) {
                    Ok(chat) => all.0.push(Arc::new(ChatNotifier {
                        chat: Arc::new(chat),
                        channel: channel.clone(),
                    })),
                    Err(e) => warnings.push(format!(
                        "cannot post to Slack channel {channel}: {e}; not posted"
                    )),
                }
            }
            None => warnings.push(
                "[branches.notify] slack_channel is set but SLACK_API_TOKEN is not; not posted"
                    .to_owned(),
            ),
        }
    }
    if config.sentry {
        match &secrets.sentry_dsn {
            Some(dsn) => match upkeep_sentry::EventSender::new(dsn) {
                Ok(sender) => all.0.push(Arc::new(SentryNotifier {
                    sender,
                    tool: "move-branches".to_owned(),
                })),
                Err(e) => warnings.push(format!("cannot send to Sentry: {e}; no event sent")),
            },
            None => warnings.push(
                "[branches.notify] sentry is on but SENTRY_DSN is not set; no event sent"
                    .to_owned(),
            ),
        }
    }
    if all.is_empty() && warnings.is_empty() {
        warnings.push(
            "--job, but [branches.notify] sets neither slack_channel nor sentry: \
             nobody will be told how this run ends"
                .to_owned(),
        );
    }
    (all, warnings)
}

//! Telling the team: as a job, the result goes to Slack and failures to Sentry; by hand,
//! everything is already on the terminal.

use secrecy::SecretString;
use upkeep_chat::{ChatThreads as _, SlackChat, SlackConfig};
use upkeep_config::NotifyConfig;
use upkeep_sentry::{Event, EventSender};

/// Where notifications go, and with which secrets.
pub struct Notifier {
    /// `[branches.notify]`.
    pub config: NotifyConfig,
    /// `SLACK_API_TOKEN`.
    pub slack_token: Option<SecretString>,
    /// The Slack Web API base URL (tests point it at a fake).
    pub slack_api_url: Option<String>,
    /// `SENTRY_DSN`.
    pub sentry_dsn: Option<SecretString>,
}

#[allow(clippy::print_stderr)]
fn warn(text: &str) {
    eprintln!("warning: {text}");
}

impl Notifier {
    /// Posts `text` to Slack, and when `failure` is set also sends it to Sentry with
    /// `tags`. A notification that cannot be delivered is a warning: it never changes
    /// what happened to the branches or the exit code.
    pub async fn send(&self, text: &str, failure: Option<&str>, tags: &[(&str, String)]) {
        if let Some(channel) = &self.config.slack_channel {
            match &self.slack_token {
                Some(token) => {
                    let mut config = SlackConfig::new(token.clone(), channel.clone());
                    if let Some(url) = &self.slack_api_url {
                        config.api_url.clone_from(url);
                    }
                    let posted = match SlackChat::new(config) {
                        Ok(chat) => chat.post_note(text).await.map(drop),
                        Err(e) => Err(e),
                    };
                    if let Err(e) = posted {
                        warn(&format!(
                            "could not post the result to Slack channel {channel}: {e}"
                        ));
                    }
                }
                None => warn(
                    "[branches.notify] slack_channel is set but SLACK_API_TOKEN is not; not posted",
                ),
            }
        }
        let Some(failure) = failure else { return };
        if !self.config.sentry {
            return;
        }
        let Some(dsn) = &self.sentry_dsn else {
            warn("[branches.notify] sentry is on but SENTRY_DSN is not set; no event sent");
            return;
        };
        let mut event = Event::error(failure, tags.iter().map(|(k, v)| (*k, v.clone())));
        event.tags.insert("tool".into(), "move-branches".into());
        event.extra.insert("report".into(), text.to_owned());
        let sent = match EventSender::new(dsn) {
            Ok(sender) => sender.send(&event).await.map(drop),
            Err(e) => Err(e),
        };
        if let Err(e) = sent {
            warn(&format!("could not send the failure to Sentry: {e}"));
        }
    }
}

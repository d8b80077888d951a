//! Telling the team when the token changes hands.
//!
//! The change has landed before anyone is told, so an announcement that fails is a
//! warning for the caller, never an error that undoes it ([`Outcome::warnings`]).
//!
//! [`Outcome::warnings`]: crate::Outcome::warnings

use crate::LockState;

/// What an announcement hook returns when it could not tell the team.
pub type AnnounceError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A hook the caller plugs into a [`Session`](crate::Session): called after an
/// acquisition, takeover, steal or release has landed (not for renewals, which change
/// nothing others act on, nor when nothing changed).
pub trait Announce: Send + Sync {
    /// Tells the team about `change`; [`announcement`](crate::render::announcement) is
    /// the standard line.
    fn announce(&self, change: &LockState) -> Result<(), AnnounceError>;
}

#[cfg(feature = "chat")]
pub use chat::ChatAnnouncer;

#[cfg(feature = "chat")]
mod chat {
    use std::sync::Arc;
    use std::time::Duration;

    use secrecy::SecretString;
    use upkeep_chat::{ChatThreads, SlackChat, SlackConfig};

    use super::{Announce, AnnounceError};
    use crate::LockState;

    /// Posts [`announcement`](crate::render::announcement) as a top-level note through
    /// [`ChatThreads::post_note`] (Slack, or any other chat).
    ///
    /// The lock is synchronous and its callers may or may not run an async runtime, so
    /// each post runs on a runtime of its own, on a thread of its own.
    pub struct ChatAnnouncer {
        target: Target,
    }

    enum Target {
        Chat(Arc<dyn ChatThreads>),
        /// Built inside the post's runtime: Slack's HTTP client belongs to one.
        Slack(Box<SlackConfig>),
    }

    impl std::fmt::Debug for ChatAnnouncer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            let target = match &self.target {
                Target::Chat(_) => "chat".to_owned(),
                Target::Slack(c) => format!("slack {}", c.channel),
            };
            f.debug_struct("ChatAnnouncer")
                .field("target", &target)
                .finish()
        }
    }

    impl ChatAnnouncer {
        /// Announces through `chat`. It must not depend on another runtime being
        /// driven (the console chat, a fake; for Slack use [`slack`](Self::slack)).
        #[must_use]
        pub fn new(chat: Arc<dyn ChatThreads>) -> Self {
            Self {
                target: Target::Chat(chat),
            }
        }

        /// Announces in a Slack `channel` with a bot `token` (`chat:write`), at
        /// `api_url` when given (a proxy or a test server). The retry policy suits a
        /// person waiting at a terminal: three attempts, short backoff.
        #[must_use]
        pub fn slack(token: SecretString, channel: &str, api_url: Option<&str>) -> Self {
            let mut config = SlackConfig::new(token, channel);
            if let Some(url) = api_url {
                url.clone_into(&mut config.api_url);
            }
            config.max_attempts = 3;
            config.backoff = Duration::from_millis(300);
            Self {
                target: Target::Slack(Box::new(config)),
            }
        }
    }

    impl Announce for ChatAnnouncer {
        fn announce(&self, change: &LockState) -> Result<(), AnnounceError> {
            let text = crate::render::announcement(change);
            std::thread::scope(|scope| {
                scope
                    .spawn(|| {
                        let runtime = tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()?;
                        runtime.block_on(async {
                            let chat: Arc<dyn ChatThreads> = match &self.target {
                                Target::Chat(chat) => chat.clone(),
                                Target::Slack(config) => {
                                    Arc::new(SlackChat::new((**config).clone())?)
                                }
                            };
                            chat.post_note(&text).await?;
                            Ok::<_, AnnounceError>(())
                        })
                    })
                    .join()
                    .unwrap_or_else(|_| Err("the announcement thread panicked".into()))
            })
        }
    }
}

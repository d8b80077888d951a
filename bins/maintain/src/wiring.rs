//! From configuration and environment to the library's handles: one forge per project
//! (by its repository URL), the chat, credentials.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use secrecy::SecretString;
use upkeep_chat::{ChatThreads, ConsoleChat, ConsoleFormat, Playbook, SlackChat, SlackConfig};
use upkeep_cli::{Output, Report};
use upkeep_config::{ChatKind, Config, ForgeKind, MaintainConfig, ResolvedProject};
use upkeep_forge::github::GitHub;
use upkeep_forge::gitlab::{GitLab, GitLabOptions};
use upkeep_forge::local::LocalForge;
use upkeep_forge::retry::RetryPolicy;
use upkeep_forge::{Forge, RepoId};
use upkeep_git::Credentials;
use upkeep_maintain::ProjectSetup;

/// The help heading of the token options.
const TOKENS: &str = "Tokens (set them in the environment)";

/// Tokens, from the environment (or flags, for a one-off).
#[derive(Debug, Clone, clap::Args)]
#[allow(clippy::struct_field_names)] // The names are the flags: --github-token, …
pub struct Tokens {
    /// GitHub token (needs `repo` scope: push branches, open pull requests).
    #[arg(long, global = true, env = "GITHUB_TOKEN", hide_env_values = true, help_heading = TOKENS)]
    pub github_token: Option<String>,
    /// GitLab token (needs `api` and `write_repository` scopes).
    #[arg(long, global = true, env = "GITLAB_TOKEN", hide_env_values = true, help_heading = TOKENS)]
    pub gitlab_token: Option<String>,
    /// Slack bot token (needs `chat:write`, `reactions:read`, `reactions:write`,
    /// `channels:history`).
    #[arg(long, global = true, env = "SLACK_API_TOKEN", hide_env_values = true, help_heading = TOKENS)]
    pub slack_api_token: Option<String>,
    /// Slack Web API base URL (for a proxy or a test server).
    #[arg(long, global = true, env = "UPKEEP_SLACK_API_URL", hide = true)]
    pub slack_api_url: Option<String>,
}

impl Tokens {
    fn secret(value: Option<&String>) -> Option<SecretString> {
        value
            .filter(|v| !v.is_empty())
            .map(|v| SecretString::from(v.clone()))
    }

    /// The GitHub token as a secret.
    pub fn github(&self) -> Option<SecretString> {
        Self::secret(self.github_token.as_ref())
    }

    /// The GitLab token as a secret.
    pub fn gitlab(&self) -> Option<SecretString> {
        Self::secret(self.gitlab_token.as_ref())
    }

    /// The Slack token as a secret.
    pub fn slack(&self) -> Option<SecretString> {
        Self::secret(self.slack_api_token.as_ref())
    }
}

/// Loads the configuration file with `UPKEEP_…` overrides from the environment.
pub fn load_config(path: &Path) -> Result<Config, Report> {
    let config = Config::load(path, std::env::vars()).map_err(|e| {
        let missing = matches!(&e, upkeep_config::Error::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound);
        let report = Report::user(e);
        if missing {
            report
                .hint("pass --config FILE, or create upkeep.toml (see docs/configuration.md)")
                .hint("to see a round without any setup, run `maintain demo`")
        } else {
            report
        }
    })?;
    Ok(config)
}

/// The `[maintain]` section.
pub fn maintain_section(config: &Config) -> Result<MaintainConfig, Report> {
    config.maintain().cloned().map_err(|e| {
        Report::user(e).hint("add a [maintain] section with [[maintain.projects]] entries")
    })
}

/// Builds the forge adapter, repository id and credentials of every project.
pub async fn project_setups(
    config: &Config,
    projects: &[ResolvedProject],
    tokens: &Tokens,
) -> Result<Vec<ProjectSetup>, Report> {
    let local: Arc<dyn Forge> = Arc::new(LocalForge::new(config.state_dir.join("forge")));
    let mut remote_forges: HashMap<(ForgeKind, String), Arc<dyn Forge>> = HashMap::new();
    let mut setups = Vec::new();
    for project in projects {
        let remote = &project.remote;
        let (forge, repo, credentials) = match remote.kind {
            ForgeKind::Local => (
                local.clone(),
                RepoId::new(remote.url.clone()),
                Credentials::none(),
            ),
            ForgeKind::Github | ForgeKind::Gitlab => {
                let api = remote.api_url.clone().unwrap_or_default();
                let token = match remote.kind {
                    ForgeKind::Github => tokens.github(),
                    _ => tokens.gitlab(),
                };
                let Some(token) = token else {
                    let var = if remote.kind == ForgeKind::Github {
                        "GITHUB_TOKEN"
                    } else {
                        "GITLAB_TOKEN"
                    };
                    return Err(Report::user(MissingToken {
                        project: project.name.clone(),
                        var,
                    })
                    .hint(format!(
                        "export {var}=… (or leave the project out with --skip {})",
                        project.name
                    )));
                };
                let forge = if let Some(f) = remote_forges.get(&(remote.kind, api.clone())) {
                    f.clone()
                } else {
                    let f = remote_forge(config, remote.kind, &api, token.clone(), &project.name)
                        .await?;
                    remote_forges.insert((remote.kind, api.clone()), f.clone());
                    f
                };
                let credentials = if remote.kind == ForgeKind::Gitlab {
                    Credentials::https_token(token).with_username("oauth2")
                } else {
                    Credentials::https_token(token)
                };
                (forge, RepoId::new(remote.path.clone()), credentials)
            }
        };
        setups.push(ProjectSetup {
            project: project.clone(),
            forge,
            repo,
            credentials,
        });
    }
    Ok(setups)
}

/// A project needs a token that is not set.
#[derive(Debug, thiserror::Error)]
#[error("project `{project}` needs {var}, which is not set")]
pub struct MissingToken {
    project: String,
    var: &'static str,
}

/// A forge adapter could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the {kind} client for project `{project}`")]
pub struct ForgeSetup {
    project: String,
    kind: ForgeKind,
    #[source]
    source: upkeep_forge::ForgeError,
}

/// The chat could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the Slack client")]
pub struct ChatSetup(#[source] upkeep_chat::ChatError);

/// `[maintain.chat] kind = "slack"` without a channel.
#[derive(Debug, thiserror::Error)]
#[error("[maintain.chat] kind is \"slack\" but no channel is set")]
pub struct NoChannel;

async fn remote_forge(
    config: &Config,
    kind: ForgeKind,
    api: &str,
    token: SecretString,
    project: &str,
) -> Result<Arc<dyn Forge>, Report> {
    let err = |source| {
        Report::failure(ForgeSetup {
            project: project.to_owned(),
            kind,
            source,
        })
    };
    match kind {
        ForgeKind::Github => Ok(Arc::new(
            GitHub::new(api, token, RetryPolicy::default()).map_err(err)?,
        )),
        ForgeKind::Gitlab => {
            let options = GitLabOptions::new(api, token, config.state_dir.join("forge/gitlab"));
            Ok(Arc::new(GitLab::connect(options).await.map_err(|e| {
                err(e).hint("check GITLAB_TOKEN and the project's api_url")
            })?))
        }
        ForgeKind::Local => Ok(Arc::new(LocalForge::new(config.state_dir.join("forge")))),
    }
}

/// The team chat: the console (stdout) unless Slack is configured.
///
/// The console writes to stdout, or to stderr when stdout carries JSON.
pub fn chat(
    maintain: &MaintainConfig,
    tokens: &Tokens,
    output: Output,
) -> Result<Arc<dyn ChatThreads>, Report> {
    let slack_api_url = tokens.slack_api_url.as_deref();
    match maintain.chat.kind {
        ChatKind::Console => Ok(console_chat(maintain, output)),
        ChatKind::Slack => {
            let token = tokens.slack().ok_or_else(|| {
                Report::user(MissingToken {
                    project: "(chat)".to_owned(),
                    var: "SLACK_API_TOKEN",
                })
                .hint("export SLACK_API_TOKEN=xoxb-… or set [maintain.chat] kind = \"console\"")
            })?;
            let channel = maintain.chat.channel.clone().ok_or_else(|| {
                Report::user(NoChannel).hint("set [maintain.chat] channel = \"#team-maintenance\"")
            })?;
            let mut config = SlackConfig::new(token, channel);
            config.playbook = playbook(maintain);
            if let Some(url) = slack_api_url {
                url.clone_into(&mut config.api_url);
            }
            Ok(Arc::new(
                SlackChat::new(config).map_err(|e| Report::failure(ChatSetup(e)))?,
            ))
        }
    }
}

/// The console chat with the configured checklist, on stdout (stderr under `--output json`).
pub fn console_chat(maintain: &MaintainConfig, output: Output) -> Arc<dyn ChatThreads> {
    let out: Box<dyn std::io::Write + Send> = if output == Output::Json {
        Box::new(std::io::stderr())
    } else {
        Box::new(std::io::stdout())
    };
    Arc::new(
        ConsoleChat::new(out, ConsoleFormat::Text)
            .with_channel(
                maintain
                    .chat
                    .channel
                    .clone()
                    .unwrap_or_else(|| "#maintenance".to_owned()),
            )
            .with_playbook(playbook(maintain)),
    )
}

/// The checklist and legend from the configuration.
pub fn playbook(maintain: &MaintainConfig) -> Playbook {
    let mut playbook = Playbook::default();
    let defaults = playbook.checklist.items.clone();
    playbook.checklist.items = maintain
        .chat
        .checklist
        .iter()
        .enumerate()
        .map(|(i, text)| upkeep_chat::ChecklistItem {
            text: text.clone(),
            stage: defaults.get(i).and_then(|d| d.stage),
        })
        .collect();
    let r = &maintain.chat.reactions;
    for entry in &mut playbook.legend.entries {
        use upkeep_chat::{Meaning, Stage};
        let configured = match (entry.meaning, entry.reaction.as_str()) {
            (Meaning::Working, _) => &r.working,
            (Meaning::Stage(Stage::Reviewed), "thumbsup") => &r.checked_by_author,
            (Meaning::Stage(Stage::Reviewed), _) => &r.approved,
            (Meaning::Stage(Stage::Merged), _) => &r.merged,
            (Meaning::Stage(Stage::DeployedAcceptance), _) => &r.deployed_acceptance,
            (Meaning::Stage(Stage::CheckedAcceptance), _) => &r.checked_acceptance,
            (Meaning::Stage(Stage::Tagged), _) => &r.tagged,
            (Meaning::Stage(Stage::DeployedProduction), _) => &r.deployed_production,
            (Meaning::Stage(Stage::CheckedProduction), _) => &r.checked_production,
            (Meaning::Failing, _) => &r.failing,
            (Meaning::Skip, _) => &r.skip,
        };
        entry.reaction.clone_from(configured);
    }
    playbook
}

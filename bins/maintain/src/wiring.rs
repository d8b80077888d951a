//! From configuration and environment to the library's handles: one forge per project
//! (by its repository URL), the chat, credentials.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use upkeep_chat::{ChatThreads, ConsoleChat, ConsoleFormat, Playbook, SlackChat, SlackConfig};
use upkeep_cli::{Output, Report};
use upkeep_config::{ChatKind, Config, ForgeKind, MaintainConfig, ResolvedProject};
use upkeep_forge::Discover;
use upkeep_forge::connect::{ConnectError, Forges};
use upkeep_maintain::ProjectSetup;
use upkeep_maintain::discover::{self, DiscoverError, ProjectSet, Readers, SetSource};

/// Tokens, from the environment (or flags, for a one-off): declared once in upkeep-cli.
pub(crate) type Tokens = upkeep_cli::TokenArgs;

/// Loads the configuration file with `UPKEEP_…` overrides from the environment.
#[expect(
    clippy::disallowed_methods,
    reason = "the binary's edge: UPKEEP_* overrides come from the environment"
)]
pub(crate) fn load_config(path: &Path) -> Result<Config, Report> {
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
pub(crate) fn maintain_section(config: &Config) -> Result<MaintainConfig, Report> {
    config.maintain().cloned().map_err(|e| {
        Report::user(e).hint("add a [maintain] section with [[maintain.projects]] entries")
    })
}

/// Builds the forge adapter, repository id and credentials of every project, through
/// the one factory (`upkeep_forge::connect`).
pub(crate) async fn project_setups(
    config: &Config,
    projects: &[ResolvedProject],
    tokens: &Tokens,
) -> Result<Vec<ProjectSetup>, Report> {
    let forges = Forges::new(tokens.secrets(), &config.state_dir);
    let mut setups = Vec::new();
    for project in projects {
        let what = format!("project `{}`", project.name);
        let connected = forges.connect(&project.remote, &what).await.map_err(|e| {
            let missing = matches!(e, ConnectError::MissingToken { .. });
            let report = upkeep_cli::connect_report(e);
            if missing {
                report.hint(format!(
                    "or leave the project out with --skip {}",
                    project.name
                ))
            } else {
                report
            }
        })?;
        setups.push(ProjectSetup {
            project: project.clone(),
            forge: connected.forge,
            repo: connected.repo,
            credentials: connected.credentials,
        });
    }
    Ok(setups)
}

/// A Slack token the configuration needs is not set.
#[derive(Debug, thiserror::Error)]
#[error("{what} needs {var}, which is not set")]
pub(crate) struct MissingToken {
    what: &'static str,
    var: &'static str,
}

/// The chat could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the Slack client")]
pub(crate) struct ChatSetup(#[source] upkeep_chat::ChatError);

/// `[maintain.chat] kind = "slack"` without a channel.
#[derive(Debug, thiserror::Error)]
#[error("[maintain.chat] kind is \"slack\" but no channel is set")]
pub(crate) struct NoChannel;

/// The team chat: the console (writing to `console`, see [`console_out`]) unless Slack is
/// configured.
pub(crate) fn chat(
    maintain: &MaintainConfig,
    tokens: &Tokens,
    console: Box<dyn std::io::Write + Send>,
) -> Result<Arc<dyn ChatThreads>, Report> {
    let slack_api_url = tokens.slack_api_url.as_deref();
    match maintain.chat.kind {
        ChatKind::Console => Ok(console_chat(maintain, console)),
        ChatKind::Slack => {
            let token = tokens.secrets().slack_api_token.ok_or_else(|| {
                Report::user(MissingToken {
                    what: "[maintain.chat] kind = \"slack\"",
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

/// Where the console chat writes: stdout, or stderr when stdout carries a JSON or
/// Markdown document.
pub(crate) fn console_out(output: Output) -> Box<dyn std::io::Write + Send> {
    if output == Output::Text {
        Box::new(std::io::stdout())
    } else {
        Box::new(std::io::stderr())
    }
}

/// The console chat with the configured checklist, writing to `out`.
pub(crate) fn console_chat(
    maintain: &MaintainConfig,
    out: Box<dyn std::io::Write + Send>,
) -> Arc<dyn ChatThreads> {
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
pub(crate) fn playbook(maintain: &MaintainConfig) -> Playbook {
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

/// A discover rule needs a forge listing this build does not have yet.
#[derive(Debug, thiserror::Error)]
#[error(
    "discover rule `{rule}` lists {source_desc}: listing {forge} repositories is not available yet"
)]
pub(crate) struct ListingUnavailable {
    rule: String,
    source_desc: String,
    forge: ForgeKind,
}

/// A round's project set and what was needed to find it.
pub(crate) struct RoundSet {
    /// The `[maintain]` section with the discovered projects added.
    pub maintain: MaintainConfig,
    /// The set, as recorded or resolved.
    pub set: ProjectSet,
    /// Recorded, resolved now, or only listed projects.
    pub source: SetSource,
    /// Clients that read files of the projects' repositories without a clone.
    pub readers: Readers,
}

/// The round's project set: recorded for round `round` in the round's state `store`, or
/// resolved from the discover rules now and recorded when `save`.
pub(crate) async fn project_set(
    config: &Config,
    maintain: &MaintainConfig,
    tokens: &Tokens,
    store: Arc<dyn upkeep_state::StateStore>,
    round: &str,
    save: bool,
) -> Result<RoundSet, Report> {
    let forges = Forges::new(tokens.secrets(), &config.state_dir);
    let local = forges
        .discoverer(ForgeKind::Local, "", "the local forge")
        .await
        .map_err(upkeep_cli::connect_report)?;
    let mut readers = Readers::from([((ForgeKind::Local, None), local.clone())]);
    let mut listers: BTreeMap<String, Arc<dyn Discover>> = BTreeMap::new();
    for rule in &maintain.discover {
        let forge = rule.source.forge();
        let api = rule.source.api_url().map(str::to_owned);
        let lister = match (forge, &api) {
            (ForgeKind::Local, _) => local.clone(),
            (ForgeKind::Github | ForgeKind::Gitlab, Some(api)) => {
                if let Some(r) = readers.get(&(forge, Some(api.clone()))) {
                    r.clone()
                } else {
                    let what = format!("discover rule `{}`", rule.label);
                    let client = forges
                        .discoverer(forge, api, &what)
                        .await
                        .map_err(upkeep_cli::connect_report)?;
                    readers.insert((forge, Some(api.clone())), client.clone());
                    client
                }
            }
            _ => {
                return Err(Report::user(ListingUnavailable {
                    rule: rule.label.clone(),
                    source_desc: rule.source.to_string(),
                    forge,
                })
                .hint("list the projects in [[maintain.projects]] for now"));
            }
        };
        listers.insert(rule.label.clone(), lister);
    }
    // In the round's state (the local directory or the shared state repository), so that
    // re-runs and every shard work on one set.
    let (set, source) = discover::load_or_resolve(maintain, &listers, store, round, save)
        .await
        .map_err(discover_report)?;
    let applied = set.apply(maintain).map_err(discover_report)?;
    Ok(RoundSet {
        maintain: applied,
        set,
        source,
        readers,
    })
}

fn discover_report(e: DiscoverError) -> Report {
    let hint = match &e {
        DiscoverError::List { source, .. } => match source.as_ref() {
            upkeep_forge::ForgeError::Forbidden {
                missing_scope: Some(scope),
                ..
            } => Some(format!("give the token the `{scope}` scope")),
            upkeep_forge::ForgeError::NotFound { .. } => {
                Some("check the rule's organisation, group or directory".to_owned())
            }
            _ => None,
        },
        DiscoverError::NameClash { .. } => Some(
            "rename the listed project, or leave the repository out with the rule's `exclude`"
                .to_owned(),
        ),
        DiscoverError::Record { .. } => Some(
            "the round's project set is kept in the round's state (`rounds/<round>/set`): check [state]; a new --round lists again"
                .to_owned(),
        ),
        _ => None,
    };
    let report = match &e {
        DiscoverError::Record { .. } => Report::failure(e),
        _ => Report::user(e),
    };
    match hint {
        Some(h) => report.hint(h),
        None => report,
    }
}

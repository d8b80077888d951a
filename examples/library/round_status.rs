//! How far each project of a maintenance round got, read from the reactions on the
//! round's Slack messages (what `maintain status` shows).
//!
//! ```text
//! SLACK_API_TOKEN=xoxb-… cargo run -p upkeep-examples --example round_status -- \
//!     C0123456789 2025-06-02
//! ```
//!
//! The channel is an id or `#name`; the round is its id, by default the round's date.
//! The token needs `channels:history` and `reactions:read` (and `channels:read` for a
//! `#name`): see `examples/slack-app-manifest.yml`.
#![expect(
    clippy::disallowed_methods,
    reason = "an example program: like a binary, it reads its tokens from the environment"
)]
#![allow(clippy::print_stdout, clippy::print_stderr)] // an example's output is the point

use std::process::ExitCode;

use secrecy::SecretString;
use upkeep_chat::{ChatThreads, RoundId, SlackChat, SlackConfig};

#[tokio::main]
async fn main() -> ExitCode {
    // The Slack client needs a process-wide rustls crypto provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [channel, round] = args.as_slice() else {
        eprintln!("usage: round_status <channel> <round>   (SLACK_API_TOKEN in the environment)");
        return ExitCode::from(2);
    };
    let Ok(token) = std::env::var("SLACK_API_TOKEN") else {
        eprintln!("error: set SLACK_API_TOKEN to a bot token (xoxb-…)");
        return ExitCode::from(2);
    };
    match run(SecretString::from(token), channel, round).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(
    token: SecretString,
    channel: &str,
    round: &str,
) -> Result<(), upkeep_chat::ChatError> {
    let slack = SlackChat::new(SlackConfig::new(token, channel))?;
    let projects = slack.read_round_status(&RoundId::new(round)).await?;
    if projects.is_empty() {
        println!("no messages of round {round} in {channel}");
    }
    for p in &projects {
        let furthest = p.furthest_stage.map_or("not started", |s| s.label());
        let state = match (p.skipped, p.failing) {
            (true, _) => "skipped".to_owned(),
            (false, true) => format!("{furthest}, failing"),
            (false, false) => furthest.to_owned(),
        };
        let who = if p.who.is_empty() {
            String::new()
        } else {
            format!(" — {}", p.who.join(", "))
        };
        println!("{:<20} {state}{who}", p.project);
        if let Some(url) = &p.change_request_url {
            println!("{:<20} {url}", "");
        }
    }
    Ok(())
}

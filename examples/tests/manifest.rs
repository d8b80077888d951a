//! The Slack app manifest asks for exactly the scopes upkeep uses: the ones
//! `upkeep_chat` checks a token for (rounds, and promotion approval by reaction), plus
//! `channels:read` for a channel given by name.

use std::collections::BTreeSet;

use serde_yaml_ng::Value;

use super::{examples_dir, get, yaml};

/// What the manifest must ask for, from the code.
fn scopes_upkeep_uses() -> BTreeSet<&'static str> {
    let mut scopes: BTreeSet<&str> = upkeep_chat::REQUIRED_SCOPES
        .iter()
        .chain(upkeep_chat::APPROVAL_SCOPES)
        .copied()
        .collect();
    // `[branches.approval.slack] approver_groups` needs it.
    scopes.insert(upkeep_chat::GROUP_SCOPE);
    // `SlackChat::check_scopes` asks for it when the channel is configured as `#name`.
    scopes.insert("channels:read");
    scopes
}

fn bot_scopes(manifest: &Value) -> Vec<String> {
    get(manifest, &["oauth_config", "scopes", "bot"])
        .as_sequence()
        .expect("oauth_config.scopes.bot is a list")
        .iter()
        .map(|s| s.as_str().expect("a scope is a string").to_owned())
        .collect()
}

#[test]
fn slack_manifest_bot_scopes_are_exactly_the_ones_upkeep_uses() {
    let manifest = yaml("slack-app-manifest.yml");
    let listed = bot_scopes(&manifest);
    let unique: BTreeSet<&str> = listed.iter().map(String::as_str).collect();
    assert_eq!(
        unique.len(),
        listed.len(),
        "a scope is listed twice: {listed:?}"
    );
    assert_eq!(unique, scopes_upkeep_uses());
    assert!(
        get(&manifest, &["oauth_config", "scopes"])
            .get("user")
            .is_none(),
        "upkeep uses a bot token only; no user scopes"
    );
}

#[test]
fn slack_manifest_has_a_bot_user() {
    let manifest = yaml("slack-app-manifest.yml");
    let name = get(&manifest, &["features", "bot_user", "display_name"]);
    assert_eq!(name.as_str(), Some("upkeep"));
    assert!(get(&manifest, &["display_information", "name"]).is_string());
}

#[test]
fn operating_guide_explains_every_scope() {
    let guide = fs_err::read_to_string(examples_dir().join("../docs/operating.md")).unwrap();
    let section = guide
        .split("## The Slack app")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("docs/operating.md has a `## The Slack app` section");
    for scope in scopes_upkeep_uses() {
        assert!(
            section.contains(&format!("| `{scope}` |")),
            "docs/operating.md does not explain the `{scope}` scope"
        );
    }
}

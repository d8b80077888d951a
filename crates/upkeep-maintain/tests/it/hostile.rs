//! Hostile text through a round (issue 9, bad-input suite): shell metacharacters, mrkdwn
//! mentions and links, Markdown table breakers, newlines and non-ASCII travel through a
//! dependency name (lockfile → PR body, Slack summary), the output of a failing step
//! (log → journal, Slack failure reply) and the configured templates (commit message,
//! PR title) — through the real GitHub and Slack adapters against the fakes.
//!
//! Nothing may execute (every command substitution would create one file, which must not
//! exist), nothing may ping or link in Slack (`<!channel>` arrives as `&lt;!channel&gt;`),
//! the PR body's table keeps its shape, and the round still opens exactly one PR.

use std::fmt::Write as _;
use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::Arc;

use chrono::NaiveDate;
use secrecy::SecretString;
use upkeep_chat::{ChatThreads, SlackChat, SlackConfig};
use upkeep_config::Config;
use upkeep_forge::github::GitHub;
use upkeep_forge::retry::RetryPolicy;
use upkeep_forge::{Forge, RepoId};
use upkeep_git::{Author, Credentials};
use upkeep_maintain::{CancellationToken, NoProgress, ProjectSetup, Round, Status};
use upkeep_testkit::github::FakeGitHub;
use upkeep_testkit::slack::{FAKE_CHANNEL, FAKE_TOKEN, FakeSlack};

use crate::support::row;

/// Mentions, a link, emphasis, HTML-ish and table syntax, non-ASCII.
const MARKUP: &str = "<!channel> <!here> <@U0BOSS> <https://evil.example|click me> &amp; *b* _i_ ~s~ `c` | cell | <b>x</b> ünïcødé 🚀";

/// Every way a shell would run `touch <dir>/pwned`.
fn shell(dir: &Path) -> String {
    let p = dir.join("pwned");
    let p = p.display();
    format!("$(touch {p}) `touch {p}` ; touch {p} | touch {p} && touch {p}")
}

fn package_lock(name: &str, version: &str) -> String {
    serde_json::json!({
        "name": "app",
        "lockfileVersion": 3,
        "requires": true,
        "packages": {
            "": {"name": "app", "dependencies": {name: format!("^{version}")}},
            format!("node_modules/{name}"): {"version": version},
        }
    })
    .to_string()
}

fn toml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// `evil-lock` upgrades a dependency with a hostile name (major bump); `evil-fail`'s test
/// prints hostile text and fails.
fn seed(github: &FakeGitHub, state: &Path, package: &str, evil: &str) {
    for (name, test) in [
        ("evil-lock", "echo 3 passed"),
        ("evil-fail", "cat evil.txt; exit 1"),
    ] {
        let bare = github.create_repo(&format!("team/{name}"));
        let work = state.join(format!("seed-{name}"));
        fs_err::create_dir_all(&work).unwrap();
        let git = |args: &[&str]| upkeep_testkit::git::git(&work, args);
        git(&["clone", "--quiet", &bare.to_string_lossy(), "."]);
        let makefile = format!(
            ".PHONY: upgrade build test\nupgrade:\n\tcp package-lock.next package-lock.json\nbuild:\n\techo built\ntest:\n\t{test}\n"
        );
        fs_err::write(work.join("Makefile"), makefile).unwrap();
        fs_err::write(
            work.join("package-lock.json"),
            package_lock(package, "1.0.0"),
        )
        .unwrap();
        fs_err::write(
            work.join("package-lock.next"),
            package_lock(package, "2.0.0"),
        )
        .unwrap();
        fs_err::write(
            work.join("evil.txt"),
            format!("AssertionError: {evil}\nsecond line {evil}\n"),
        )
        .unwrap();
        git(&["add", "."]);
        git(&["commit", "--quiet", "-m", "project files"]);
        git(&["push", "--quiet", "origin", "HEAD:refs/heads/main"]);
    }
}

/// The round of 2027-04-01 over both projects, with hostile templates.
fn round(github: &FakeGitHub, slack: &FakeSlack, state: &Path, title: &str, commit: &str) -> Round {
    let mut text = format!(
        "state_dir = \"state\"\n[maintain]\npr_title = {}\ncommit_message = {}\n",
        toml_string(title),
        toml_string(commit)
    );
    for name in ["evil-lock", "evil-fail"] {
        let _ = write!(
            text,
            "[[maintain.projects]]\nname = \"{name}\"\nrepo = \"{}\"\n",
            github.repo_path(&format!("team/{name}")).display()
        );
    }
    let config = Config::from_str(
        &text,
        &state.join("upkeep.toml"),
        std::iter::empty::<(String, String)>(),
    )
    .unwrap_or_else(|e| panic!("{e}\n{text}"))
    .maintain()
    .unwrap()
    .clone();
    let forge: Arc<dyn Forge> = Arc::new(
        GitHub::new(
            &github.url(),
            SecretString::from("ghp_fake_token".to_owned()),
            RetryPolicy::fast(),
        )
        .unwrap(),
    );
    let mut slack_config =
        SlackConfig::new(SecretString::from(FAKE_TOKEN.to_owned()), FAKE_CHANNEL);
    slack_config.api_url = slack.api_url();
    slack_config.post_interval = std::time::Duration::ZERO;
    let date = NaiveDate::from_ymd_opt(2027, 4, 1).unwrap();
    Round {
        id: "2027-04-01".to_owned(),
        date,
        projects: config
            .resolved_projects()
            .into_iter()
            .map(|project| ProjectSetup {
                repo: RepoId::new(format!("team/{}", project.name)),
                project,
                forge: forge.clone(),
                credentials: Credentials::none(),
            })
            .collect(),
        config: Arc::new(config),
        excluded: Vec::new(),
        shard: None,
        help_other_shards: false,
        state: crate::support::state_in(state),
        jobs: NonZeroUsize::new(2).unwrap(),
        dry_run: false,
        retry_failed: false,
        chat: Arc::new(SlackChat::new(slack_config).unwrap()) as Arc<dyn ChatThreads>,
        progress: Arc::new(NoProgress),
        cancel: CancellationToken::new(),
        author: Author::new("upkeep", "upkeep@example.com"),
    }
}

/// The dependency table keeps its shape: as many unescaped `|` on every row.
fn assert_table_intact(body: &str) {
    let pipes = |line: &str| {
        let b = line.as_bytes();
        (0..b.len())
            .filter(|&i| b[i] == b'|' && (i == 0 || b[i - 1] != b'\\'))
            .count()
    };
    let table: Vec<&str> = body.lines().filter(|l| l.starts_with('|')).collect();
    assert!(table.len() >= 3, "{body}");
    assert!(
        table.iter().all(|l| pipes(l) == pipes(table[0])),
        "the hostile name broke the table:\n{body}"
    );
}

#[tokio::test]
async fn hostile_text_is_carried_escaped_and_never_executed() {
    upkeep_testkit::init_tracing();
    upkeep_testkit::install_crypto_provider();
    let trap = tempfile::tempdir().unwrap();
    let evil = format!("{} {MARKUP}", shell(trap.path()));
    let package = format!("evil-{evil}");
    let github = FakeGitHub::start().await;
    let slack = FakeSlack::start().await;
    let state = tempfile::tempdir().unwrap();

    seed(&github, state.path(), &package, &evil);

    // Templates are free text too.
    let title = format!("chore: {evil} on {{date}}");
    let commit = format!("Maintenance {{date}}: {evil}\n\nsecond line: {evil}\n\n{{changes}}");
    let round = round(&github, &slack, state.path(), &title, &commit);
    let report = upkeep_maintain::run_round(round).await.unwrap();
    let rendered = report.render_text();

    // Nothing ran.
    assert!(
        !trap.path().join("pwned").exists(),
        "a command substitution ran"
    );
    for (path, _) in crate::faults::files_under(state.path()) {
        assert!(!path.ends_with("/pwned"), "{path}");
    }

    // The round did what it does for any project.
    assert_eq!(
        row(&report, "evil-lock").status,
        Status::Changed,
        "{rendered}"
    );
    assert_eq!(
        row(&report, "evil-fail").status,
        Status::Failed,
        "{rendered}"
    );
    let pulls = github.pulls("team/evil-lock");
    assert_eq!(pulls.len(), 1, "{pulls:#?}");
    assert_eq!(pulls[0].title, title.replace("{date}", "2027-04-01"));
    let body = pulls[0].body.clone().unwrap_or_default();
    assert!(body.contains("2.0.0"), "{body}");
    let p = trap.path().join("pwned");
    assert!(
        body.contains(&format!("evil-$(touch {})", p.display())),
        "the name is in the body:\n{body}"
    );
    assert_table_intact(&body);
    let message = upkeep_testkit::git::git(
        &github.repo_path("team/evil-lock"),
        &["log", "-1", "--format=%B", "feature/maintenance-27-04-01"],
    );
    assert!(
        message.contains(&format!("Maintenance 2027-04-01: {evil}")),
        "{message}"
    );
    assert!(
        message.contains(&format!("second line: {evil}")),
        "{message}"
    );

    // Slack got the text, escaped: no mention, no foreign link, no raw HTML-ish markup.
    let messages = slack.messages(FAKE_CHANNEL);
    let mut all = String::new();
    for m in &messages {
        let _ = writeln!(all, "{}\n{}", m.text, m.blocks.clone().unwrap_or_default());
    }
    for raw in [
        "<!channel>",
        "<!here>",
        "<@U0BOSS>",
        "<https://evil.example",
        "<b>",
    ] {
        assert!(
            !all.contains(raw),
            "`{raw}` reached Slack unescaped:\n{all}"
        );
    }
    assert!(
        all.contains("&lt;!channel&gt;"),
        "the text should still be there:\n{all}"
    );
    assert!(
        all.contains("AssertionError"),
        "the failing step's tail reaches its thread"
    );
    assert!(all.contains("ünïcødé 🚀"), "non-ASCII survives");
    assert!(
        all.contains("evil-$(touch"),
        "the major upgrade is in the summary:\n{all}"
    );
    let top: Vec<_> = slack.top_level(FAKE_CHANNEL);
    assert_eq!(
        top.len(),
        3,
        "one summary and one thread per project: {top:#?}"
    );
}

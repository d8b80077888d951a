//! Hostile text through a promotion (issue 9, bad-input suite): commit messages with
//! shell metacharacters, terminal escape sequences, Slack mentions and links, newlines
//! and non-ASCII; a Sentry issue title and a command gate's output of the same kind.
//! They travel through the plan on the terminal, the history and the Slack note of a job.
//! Nothing executes, the terminal gets no raw control characters, Slack gets no live
//! mention or foreign link, and the promotion itself is unaffected.

use std::fmt::Write as _;

use chrono::{Duration, Utc};
use upkeep_testkit::sentry::FakeSentry;
use upkeep_testkit::slack::{FAKE_CHANNEL, FAKE_TOKEN, FakeSlack};

use crate::scenario::Scenario;

const MARKUP: &str = "<!channel> <@U0BOSS> <https://evil.example|click> &amp; *b* ünïcødé 🚀";
/// Clears the screen and sets the window title if printed raw.
const ESCAPES: &str = "\u{1b}[2J\u{1b}]0;owned\u{7}\r";

fn shell(dir: &std::path::Path) -> String {
    let p = dir.join("pwned");
    let p = p.display();
    format!("$(touch {p}) `touch {p}` ; touch {p} | touch {p}")
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_commit_messages_and_gate_output_are_shown_inert() {
    let trap = tempfile::tempdir().unwrap();
    let evil = format!("{} {MARKUP} {ESCAPES}", shell(trap.path()));
    let mut s = Scenario::new();
    s.repo("ogr", &[])
        .commit_on("main", &format!("fix: {evil} (#812)\n\nbody: {evil}"));
    s.repo("packit", &["ogr"])
        .commit_on("main", &format!("feat: {evil}"));
    s.all_green().await;
    let slack = FakeSlack::start().await;
    s.env = vec![
        ("SLACK_API_TOKEN".into(), FAKE_TOKEN.into()),
        ("UPKEEP_SLACK_API_URL".into(), slack.api_url()),
    ];
    s.extra = format!("[branches.notify]\nslack_channel = \"{FAKE_CHANNEL}\"\n");

    let plan = s.run(&["plan"]).await;
    assert_eq!(plan.code, 0, "{plan:?}");
    assert!(
        plan.stdout.contains("$(touch"),
        "the subjects are shown: {plan:?}"
    );
    for out in [&plan.stdout, &plan.stderr] {
        assert!(
            !out.contains('\u{1b}') && !out.contains('\u{7}'),
            "raw control characters reach the terminal: {out:?}"
        );
    }

    let run = s.run(&["run", "--yes", "--job"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    for name in ["ogr", "packit"] {
        assert_eq!(s.tip(name, "stable"), s.tip(name, "main"));
    }
    for out in [&run.stdout, &run.stderr] {
        assert!(!out.contains('\u{1b}'), "{out:?}");
    }
    let history = s.history_lines();
    assert_eq!(history.len(), 1);

    // A red Sentry gate whose issue title is hostile, and a command gate printing it.
    let sentry = FakeSentry::start().await;
    sentry.add_issue(
        "packit",
        "packit-service",
        "stage",
        &format!("KeyError: {evil}"),
        Utc::now() - Duration::hours(1),
    );
    s.bare("ogr").commit_on("main", "fix: another");
    s.all_green().await;
    s.env
        .push(("SENTRY_AUTH_TOKEN".into(), sentry.token().into()));
    s.extra = format!(
        "[branches.notify]\nslack_channel = \"{FAKE_CHANNEL}\"\n\
         [branches.sentry]\nurl = \"{}\"\norg = \"packit\"\nprojects = [\"packit-service\"]\nwindow = \"24h\"\n\
         [[branches.command_gates]]\nname = \"smoke\"\ncommand = \"cat {}; exit 1\"\n",
        sentry.url(),
        trap.path().join("gate.txt").display()
    );
    fs_err::write(
        trap.path().join("gate.txt"),
        format!("stage said: {evil}\n"),
    )
    .unwrap();
    let refused = s.run(&["run", "--yes", "--job"]).await;
    assert_eq!(refused.code, 2, "{refused:?}");
    for out in [&refused.stdout, &refused.stderr] {
        assert!(!out.contains('\u{1b}'), "{out:?}");
    }

    assert!(
        !trap.path().join("pwned").exists(),
        "a command substitution ran"
    );
    let notes = slack.messages(FAKE_CHANNEL);
    assert_eq!(notes.len(), 2, "one note per job run: {notes:#?}");
    let mut all = String::new();
    for m in &notes {
        let _ = writeln!(all, "{}\n{}", m.text, m.blocks.clone().unwrap_or_default());
    }
    for raw in ["<!channel>", "<@U0BOSS>", "<https://evil.example"] {
        assert!(
            !all.contains(raw),
            "`{raw}` reached Slack unescaped:\n{all}"
        );
    }
    assert!(
        all.contains("KeyError") || all.contains("stage said"),
        "the refusal says why:\n{all}"
    );
}

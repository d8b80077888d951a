//! The console adapter: same messages and re-run semantics as Slack, as text or Markdown.

use upkeep_chat::{ChatThreads, ConsoleChat, ConsoleFormat, Posted, ProjectResult, RoundId, Stage};

use crate::fixtures::{self, SharedBuf};

/// The summary, then a message for each project that gets one (changed and failed).
async fn post_round(chat: &dyn ChatThreads) -> Vec<upkeep_chat::ThreadRef> {
    let projects = fixtures::projects();
    chat.post_summary(&fixtures::summary(&projects))
        .await
        .unwrap();
    let mut threads = Vec::new();
    for p in &fixtures::posted(&projects) {
        threads.push(chat.open_or_continue_thread(p).await.unwrap());
    }
    threads
}

#[tokio::test]
async fn console_text_output_of_a_round() {
    let out = SharedBuf::default();
    let chat = ConsoleChat::new(out.clone(), ConsoleFormat::Text);
    post_round(&chat).await;
    insta::assert_snapshot!("round_text", out.take());
}

#[tokio::test]
async fn console_markdown_output_and_channel_snapshot() {
    let out = SharedBuf::default();
    let chat = ConsoleChat::new(out.clone(), ConsoleFormat::Markdown);
    let threads = post_round(&chat).await;
    chat.react_as("alice", &threads[0].parent.message, "eyes")
        .unwrap();
    insta::assert_snapshot!("round_markdown", out.take());
    insta::assert_snapshot!("channel_markdown", chat.to_markdown());
}

#[tokio::test]
async fn one_message_per_project_with_the_checklist_inside() {
    let out = SharedBuf::default();
    let chat = ConsoleChat::new(out.clone(), ConsoleFormat::Text);
    let threads = post_round(&chat).await;
    // 1 summary + 3 project messages (2 changed, 1 failed) + 1 failure report; the
    // unchanged and the skipped project are lines of the summary.
    assert_eq!(chat.message_count(), 5);
    assert!(threads.iter().all(|t| t.parent.posted == Posted::Created));
    let failures: Vec<_> = threads.iter().filter_map(|t| t.failure.as_ref()).collect();
    assert_eq!(failures.len(), 1);
    let channel = chat.to_markdown();
    assert_eq!(channel.matches("**Checklist**").count(), 2, "{channel}");
    assert!(!channel.contains("(project docs"), "{channel}");
    assert!(channel.contains("**Up to date**: docs"), "{channel}");
}

#[tokio::test]
async fn every_project_setting_gives_quiet_projects_a_message_without_checklist() {
    let out = SharedBuf::default();
    let chat = ConsoleChat::new(out.clone(), ConsoleFormat::Text);
    let projects = fixtures::projects();
    for p in projects.iter().filter(|p| p.wants_own_message(true)) {
        chat.open_or_continue_thread(p).await.unwrap();
    }
    assert_eq!(chat.message_count(), 5 + 1);
    let text = out.take();
    let docs = text
        .split("== ")
        .find(|m| m.contains("(project docs"))
        .expect("docs has a message");
    assert!(
        docs.contains("docs — up to date: nothing to upgrade"),
        "{docs}"
    );
    assert!(!docs.contains("Checklist"), "{docs}");
    let archive = text
        .split("== ")
        .find(|m| m.contains("(project archive"))
        .expect("archive has a message");
    assert!(
        archive.contains("skipped: disabled in upkeep.toml"),
        "{archive}"
    );
    assert!(!archive.contains("Checklist"), "{archive}");
}

#[tokio::test]
async fn posting_the_same_round_again_changes_nothing() {
    let out = SharedBuf::default();
    let chat = ConsoleChat::new(out.clone(), ConsoleFormat::Text);
    post_round(&chat).await;
    assert_eq!(chat.message_count(), 5);
    out.take();

    let again = post_round(&chat).await;
    assert_eq!(chat.message_count(), 5);
    assert_eq!(out.take(), "", "an identical re-run writes nothing");
    for t in &again {
        assert_eq!(t.parent.posted, Posted::Unchanged);
    }

    // The failed project is fixed in a later run: its message is updated in place (and
    // now carries the checklist), and upkeep takes back its own :boom:.
    let mut projects = fixtures::projects();
    projects[2].result = ProjectResult::Changed;
    let t = chat.open_or_continue_thread(&projects[2]).await.unwrap();
    assert_eq!(t.parent.posted, Posted::Updated);
    assert_eq!(t.parent.message, again[2].parent.message);
    assert_eq!(chat.message_count(), 5);
    let written = out.take();
    assert!(written.contains("message 4 edited"), "{written}");
    assert!(written.contains("Checklist: "), "{written}");
    assert!(
        written.contains("upkeep removed :boom: from message 4"),
        "{written}"
    );
}

#[tokio::test]
async fn reactions_come_back_as_stages() {
    let chat = ConsoleChat::new(std::io::sink(), ConsoleFormat::Text);
    let threads = post_round(&chat).await;
    chat.react_as("alice", &threads[0].parent.message, "eyes")
        .unwrap();
    chat.react_as("bob", &threads[0].parent.message, "white_check_mark")
        .unwrap();
    chat.react_as(
        "bob",
        &threads[0].parent.message,
        "twisted_rightwards_arrows",
    )
    .unwrap();
    chat.react_as("carol", &threads[1].parent.message, "x")
        .unwrap();

    let status = chat
        .read_round_status(&RoundId::new(fixtures::ROUND))
        .await
        .unwrap();
    let names: Vec<&str> = status.iter().map(|s| s.project.as_str()).collect();
    assert_eq!(names, ["signals", "dashboard", "import <legacy> & co"]);
    assert_eq!(status[0].furthest_stage, Some(Stage::Merged));
    assert_eq!(status[0].who, ["alice"]);
    assert_eq!(
        status[0].change_request_url.as_deref(),
        Some("https://github.com/amsterdam/signals/pull/12")
    );
    assert!(
        status[2].failing,
        "upkeep reacted :boom: on the failed project"
    );
    assert!(status[1].skipped);
    assert_eq!(status[1].furthest_stage, None);
}

/// Forty projects with many direct majors, transitive changes, failures and quiet ones: the
/// summary stays a screen, every list capped with what was left out.
#[tokio::test]
async fn a_forty_project_round_has_a_short_summary() {
    use upkeep_chat::{PackageChange, ProjectMessage, UpgradeCounts, UpgradeKind};
    let change = |package: String, from: &str, to: &str, direct: bool| PackageChange {
        package,
        from: Some(from.into()),
        to: Some(to.into()),
        kind: UpgradeKind::Major,
        likely_breaking: true,
        direct: Some(direct),
    };
    let projects: Vec<ProjectMessage> = (0..40)
        .map(|i| {
            let (result, changes) = match i {
                0..30 => (
                    ProjectResult::Changed,
                    (0..3)
                        .map(|k| change(format!("lib-{}", (i + k) % 14), "1.0", "2.0", true))
                        .chain((0..20).map(|k| {
                            change(format!("dep-{k}"), "1.0", &format!("{}.0", 2 + k), false)
                        }))
                        .collect(),
                ),
                30..35 => (
                    ProjectResult::Failed {
                        stage: "make test".into(),
                        exit_code: Some(2),
                        log_tail: String::new(),
                    },
                    vec![change("django".into(), "3.2.4", "5.2.19", true)],
                ),
                _ => (ProjectResult::Unchanged, Vec::new()),
            };
            ProjectMessage {
                round: RoundId::new(fixtures::ROUND),
                project: format!("service-{i:02}"),
                branch: None,
                change_request: None,
                result,
                upgrades: UpgradeCounts::default(),
                changes,
            }
        })
        .collect();
    let out = SharedBuf::default();
    let chat = ConsoleChat::new(out.clone(), ConsoleFormat::Text);
    chat.post_summary(&fixtures::summary(&projects))
        .await
        .unwrap();
    let text = out.take();
    // Bounded whatever the number of projects: title and counts, 3 headings, 10 majors,
    // 5 transitive lines and 5 failures (each list with its "more" line), up to date,
    // legend.
    let lines = text.lines().filter(|l| l.starts_with("   ")).count();
    assert!(lines <= 2 + 3 + 11 + 6 + 5 + 2, "{lines} lines: {text}");
    assert!(text.contains("and 4 more — see the PRs"), "{text}");
    assert!(
        text.contains("and 25 more projects — see the PRs"),
        "{text}"
    );
    insta::assert_snapshot!("forty_project_summary", text);
}

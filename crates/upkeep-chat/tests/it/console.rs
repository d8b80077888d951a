//! The console adapter: same messages and re-run semantics as Slack, as text or Markdown.

use upkeep_chat::{ChatThreads, ConsoleChat, ConsoleFormat, Posted, ProjectResult, RoundId, Stage};

use crate::fixtures::{self, SharedBuf};

async fn post_round(chat: &dyn ChatThreads) -> Vec<upkeep_chat::ThreadRef> {
    let projects = fixtures::projects();
    chat.post_summary(&fixtures::summary(&projects))
        .await
        .unwrap();
    let mut threads = Vec::new();
    for p in &projects {
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
async fn posting_the_same_round_again_changes_nothing() {
    let out = SharedBuf::default();
    let chat = ConsoleChat::new(out.clone(), ConsoleFormat::Text);
    post_round(&chat).await;
    // 1 summary + 5 project messages + 5 checklists + 1 failure report.
    assert_eq!(chat.message_count(), 12);
    out.take();

    let again = post_round(&chat).await;
    assert_eq!(chat.message_count(), 12);
    assert_eq!(out.take(), "", "an identical re-run writes nothing");
    for t in &again {
        assert_eq!(t.parent.posted, Posted::Unchanged);
        assert_eq!(t.checklist.posted, Posted::Unchanged);
    }

    // The failed project is fixed in a later run: its message is updated in place, and
    // upkeep takes back its own :boom:.
    let mut projects = fixtures::projects();
    projects[2].result = ProjectResult::Changed;
    let t = chat.open_or_continue_thread(&projects[2]).await.unwrap();
    assert_eq!(t.parent.posted, Posted::Updated);
    assert_eq!(t.parent.message, again[2].parent.message);
    assert_eq!(chat.message_count(), 12);
    let written = out.take();
    assert!(written.contains("message 6 edited"), "{written}");
    assert!(
        written.contains("upkeep removed :boom: from message 6"),
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
    chat.react_as("carol", &threads[3].parent.message, "x")
        .unwrap();

    let status = chat
        .read_round_status(&RoundId::new(fixtures::ROUND))
        .await
        .unwrap();
    let names: Vec<&str> = status.iter().map(|s| s.project.as_str()).collect();
    assert_eq!(
        names,
        [
            "signals",
            "dashboard",
            "import <legacy> & co",
            "docs",
            "archive"
        ]
    );
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
    assert!(status[3].skipped);
    assert_eq!(status[1].furthest_stage, None);
}

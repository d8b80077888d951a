//! The Slack adapter against the fake Slack, through slack-morphism.

use std::fmt::Write as _;
use std::time::Duration;

use secrecy::SecretString;
use serde_json::Value;
use upkeep_chat::{
    ChatError, ChatThreads, Posted, ProjectMessage, ProjectResult, RoundId, SlackChat, SlackConfig,
    Stage, ThreadRef,
};
use upkeep_testkit::faults::{Endpoint, Fault};
use upkeep_testkit::slack::{BOT_USER, FAKE_CHANNEL, FAKE_TOKEN, FakeMessage, FakeSlack};

use crate::fixtures;

fn chat_for(fake: &FakeSlack, token: &str, channel: &str) -> SlackChat {
    let _ = rustls::crypto::ring::default_provider().install_default();
    upkeep_testkit::init_tracing();
    let mut config = SlackConfig::new(SecretString::from(token.to_owned()), channel);
    config.api_url = fake.api_url();
    config.post_interval = Duration::ZERO;
    config.backoff = Duration::from_millis(5);
    SlackChat::new(config).expect("client")
}

async fn setup() -> (FakeSlack, SlackChat) {
    let fake = FakeSlack::start().await;
    let chat = chat_for(&fake, FAKE_TOKEN, FAKE_CHANNEL);
    (fake, chat)
}

/// The summary, then a message for each project that gets one (changed and failed).
async fn post_round(chat: &dyn ChatThreads, projects: &[ProjectMessage]) -> Vec<ThreadRef> {
    chat.post_summary(&fixtures::summary(projects))
        .await
        .unwrap();
    let mut threads = Vec::new();
    for p in &fixtures::posted(projects) {
        threads.push(chat.open_or_continue_thread(p).await.unwrap());
    }
    threads
}

fn event_type(m: &FakeMessage) -> Option<&str> {
    m.metadata.as_ref()?.get("event_type")?.as_str()
}

fn payload<'a>(m: &'a FakeMessage, key: &str) -> Option<&'a str> {
    m.metadata
        .as_ref()?
        .get("event_payload")?
        .get(key)?
        .as_str()
}

fn section_texts(m: &FakeMessage) -> Vec<String> {
    m.blocks
        .as_ref()
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|b| b.get("text")?.get("text")?.as_str().map(str::to_owned))
        .collect()
}

/// The channel holds exactly one summary and one message per changed or failed project,
/// each message once; the only reply is the failed project's report.
fn assert_round_shape(fake: &FakeSlack) {
    let top = fake.top_level(FAKE_CHANNEL);
    let kinds: Vec<_> = top.iter().map(event_type).collect();
    assert_eq!(
        kinds,
        [
            Some("upkeep_round_summary"),
            Some("upkeep_project"),
            Some("upkeep_project"),
            Some("upkeep_project"),
        ]
    );
    let projects: Vec<_> = top[1..]
        .iter()
        .map(|m| payload(m, "project").unwrap())
        .collect();
    assert_eq!(projects, ["signals", "dashboard", "import <legacy> & co"]);
    for parent in &top[1..] {
        let replies = fake.replies(FAKE_CHANNEL, &parent.ts);
        let kinds: Vec<_> = replies.iter().map(event_type).collect();
        if payload(parent, "project") == Some("import <legacy> & co") {
            assert_eq!(kinds, [Some("upkeep_failure")]);
        } else {
            assert!(
                kinds.is_empty(),
                "thread of {:?}: {kinds:?}",
                payload(parent, "project")
            );
        }
    }
    assert_eq!(fake.messages(FAKE_CHANNEL).len(), 5);
}

#[tokio::test]
async fn a_five_project_round_posts_one_summary_and_one_message_per_project() {
    let (fake, chat) = setup().await;
    let threads = post_round(&chat, &fixtures::projects()).await;
    assert_round_shape(&fake);
    // The summary, one message per changed or failed project, one failure report: a
    // changed project costs exactly one chat.postMessage.
    assert_eq!(fake.calls("chat.postMessage"), 1 + 3 + 1);
    assert_eq!(fake.calls("chat.update"), 0);
    // One history scan for the whole round, not one per project.
    assert_eq!(fake.calls("conversations.history"), 1);
    assert_eq!(fake.calls("conversations.replies"), 0);

    for t in &threads {
        assert_eq!(t.parent.posted, Posted::Created);
    }
    let signals = &fake.top_level(FAKE_CHANNEL)[1];
    assert_eq!(payload(signals, "round"), Some(fixtures::ROUND));
    assert_eq!(
        payload(signals, "pr_url"),
        Some("https://github.com/amsterdam/signals/pull/12")
    );
    assert_eq!(
        signals.text.lines().next().unwrap(),
        "*signals* — upgraded · <https://github.com/amsterdam/signals/pull/12|PR #12> on `feature/maintenance-25-06-02` · 2 major, 5 minor, 3 patch"
    );
    // The checklist is in the message itself: a context block, and the text fallback.
    let checklist = "*Checklist*: Review :white_check_mark:/:thumbsup: → Merge :twisted_rightwards_arrows: → Deploy to acceptance :jenkins-acc: → Check acceptance :release-acc: → Tag :label: → Deploy to production :jenkins_ci: → Check production :rocket:";
    let blocks = signals.blocks.as_ref().unwrap().as_array().unwrap();
    assert!(
        blocks
            .iter()
            .any(|b| b["type"] == "context" && b["elements"][0]["text"] == checklist),
        "{blocks:?}"
    );
    assert!(signals.text.contains(checklist), "{}", signals.text);
    assert!(
        signals.text.contains(
            "*Likely breaking*: `celery` 4.4 → 5.3 (major, direct), `django` 4.2 → 5.1 (major, direct), `sqlparse` 0.4.4 → 0.5.1 (minor, likely breaking, transitive)\n"
        ),
        "{}",
        signals.text
    );

    // The failed project: :boom: by upkeep; its message names the stage and the upgrades
    // before the failure, its thread the log tail.
    let failed = &fake.top_level(FAKE_CHANNEL)[3];
    assert_eq!(
        failed.reactions,
        [("boom".to_owned(), vec![BOT_USER.to_owned()])]
    );
    assert_eq!(
        failed.text.lines().next().unwrap(),
        ":boom: *import &lt;legacy&gt; &amp; co* — `make test` failed (exit code 2) after `pandas` 1.5.3 → 2.2.3 (major, direct), `pydantic-settings` 0.2 → 0.3 (minor, likely breaking, direct)"
    );
    assert!(!failed.text.contains("Checklist"), "no PR, no checklist");
    let replies = fake.replies(FAKE_CHANNEL, &failed.ts);
    assert_eq!(replies.len(), 1);
    let report = &replies[0];
    let texts = section_texts(report);
    assert_eq!(
        texts[0],
        ":boom: *import &lt;legacy&gt; &amp; co* failed at `make test` with exit code 2"
    );
    assert_eq!(texts[1], "Upgraded before it failed (2):");
    assert!(
        texts[2].starts_with("• `pandas` 1.5.3 → 2.2.3 (major, direct)\n"),
        "{}",
        texts[2]
    );
    assert!(
        texts[3].starts_with("```\ncollecting ...\n"),
        "{}",
        texts[3]
    );
    assert!(
        texts[3].contains("assert 1 &lt; 2 &amp;&amp; x &gt; y"),
        "{}",
        texts[3]
    );
    assert_eq!(threads[2].failure.as_ref().unwrap().message.ts, report.ts);
}

#[tokio::test]
async fn posting_the_same_round_again_changes_nothing_but_updated_text() {
    let (fake, chat) = setup().await;
    let projects = fixtures::projects();
    post_round(&chat, &projects).await;
    let before = fake.messages(FAKE_CHANNEL);

    // A new process: no local state, everything is found from the channel's metadata.
    let rerun = chat_for(&fake, FAKE_TOKEN, FAKE_CHANNEL);
    let threads = post_round(&rerun, &projects).await;
    assert_eq!(
        fake.messages(FAKE_CHANNEL),
        before,
        "an identical re-run changes nothing"
    );
    assert_eq!(fake.calls("chat.postMessage"), 5);
    assert_eq!(fake.calls("chat.update"), 0);
    assert_eq!(fake.calls("reactions.add"), 1, "the :boom: is not re-added");
    for t in &threads {
        assert_eq!(t.parent.posted, Posted::Unchanged);
    }
    assert_eq!(
        threads[2].failure.as_ref().map(|f| f.posted),
        Some(Posted::Unchanged)
    );

    // The failed project is fixed and got a PR; the summary's counts change with it.
    let mut projects = projects;
    projects[2].result = ProjectResult::Changed;
    projects[2].change_request = Some(upkeep_chat::ChangeRequestLink {
        url: "https://github.com/amsterdam/import/pull/3".into(),
        number: Some(3),
        kind: "PR".into(),
    });
    let third = chat_for(&fake, FAKE_TOKEN, FAKE_CHANNEL);
    let summary = third
        .post_summary(&fixtures::summary(&projects))
        .await
        .unwrap();
    assert_eq!(summary.posted, Posted::Updated);
    let t = third.open_or_continue_thread(&projects[2]).await.unwrap();
    assert_eq!(t.parent.posted, Posted::Updated);
    assert_eq!(t.parent.message, threads[2].parent.message);
    assert_eq!(t.failure, None);

    let after = fake.messages(FAKE_CHANNEL);
    assert_eq!(
        after.len(),
        5,
        "still one summary and three project messages"
    );
    assert_eq!(fake.calls("chat.postMessage"), 5);
    assert_eq!(fake.calls("chat.update"), 2);
    let parent = after.iter().find(|m| m.ts == t.parent.message.ts).unwrap();
    assert_eq!(parent.edits, 1);
    assert_eq!(
        payload(parent, "pr_url"),
        Some("https://github.com/amsterdam/import/pull/3")
    );
    assert!(parent.reactions.is_empty(), "upkeep took back its :boom:");
    assert!(parent.text.contains("*Checklist*: "), "{}", parent.text);
    assert!(
        after[0]
            .text
            .contains("3 changed · 1 up to date · 1 skipped"),
        "{}",
        after[0].text
    );
}

#[tokio::test]
async fn reactions_added_in_slack_come_back_as_stages_and_who() {
    let (fake, chat) = setup().await;
    // Noise: people talk in the channel, and an older round is there too.
    let _ = fake.post_as("U7", FAKE_CHANNEL, "morning! <@U1> & co");
    let mut old = fixtures::projects();
    for p in &mut old {
        p.round = RoundId::new("2025-05-19");
    }
    post_round(&chat, &old[..2]).await;
    let threads = post_round(&chat, &fixtures::projects()).await;
    let _ = fake.post_as("U8", FAKE_CHANNEL, "done for today");
    fake.set_page_size(2); // several history pages

    let ts = |i: usize| threads[i].parent.message.ts.clone();
    fake.react_as("U1", FAKE_CHANNEL, &ts(0), "eyes");
    fake.react_as("U2", FAKE_CHANNEL, &ts(0), "eyes");
    fake.react_as("U2", FAKE_CHANNEL, &ts(0), "white_check_mark");
    fake.react_as("U2", FAKE_CHANNEL, &ts(0), "twisted_rightwards_arrows");
    fake.react_as("U3", FAKE_CHANNEL, &ts(0), "jenkins-acc");
    fake.react_as("U1", FAKE_CHANNEL, &ts(1), "thumbsup");
    fake.react_as("U1", FAKE_CHANNEL, &ts(1), "rocket");
    fake.react_as("U4", FAKE_CHANNEL, &ts(1), "x");

    let fresh = chat_for(&fake, FAKE_TOKEN, FAKE_CHANNEL);
    let status = fresh
        .read_round_status(&RoundId::new(fixtures::ROUND))
        .await
        .unwrap();
    let names: Vec<_> = status.iter().map(|s| s.project.as_str()).collect();
    assert_eq!(names, ["signals", "dashboard", "import <legacy> & co"]);
    assert_eq!(status[0].furthest_stage, Some(Stage::DeployedAcceptance));
    assert_eq!(status[0].who, ["U1", "U2"]);
    assert_eq!(status[1].furthest_stage, Some(Stage::CheckedProduction));
    assert!(status[1].who.is_empty());
    assert!(status[2].failing);
    assert_eq!(status[2].furthest_stage, None);
    assert!(status[1].skipped && !status[0].skipped && !status[2].skipped);
    assert_eq!(status[0].message, threads[0].parent.message);
    assert_eq!(
        status[1].change_request_url.as_deref(),
        Some("https://gitlab.example/data/dashboard/-/merge_requests/7")
    );
    assert!(fake.calls("conversations.history") > 2, "paginated");
}

#[tokio::test]
async fn with_injected_429s_every_message_arrives_exactly_once() {
    let (fake, chat) = setup().await;
    fake.rate_limit_next("chat.postMessage", 3, 0);
    fake.rate_limit_next("conversations.history", 1, 0);
    fake.rate_limit_next("reactions.add", 2, 0);
    // One answer with a real Retry-After, honoured (not asserted on time).
    fake.rate_limit_next("chat.postMessage", 1, 1);
    post_round(&chat, &fixtures::projects()).await;
    assert_round_shape(&fake);
    assert_eq!(fake.calls("chat.postMessage"), 5 + 4);
    let log = fake.faults().log();
    assert_eq!(
        log.count_handled(&Endpoint::any("/api/chat.postMessage")),
        5
    );

    // 429s during a re-run do not cause duplicates either.
    fake.rate_limit_next("conversations.history", 2, 0);
    fake.rate_limit_next("conversations.replies", 2, 0);
    let rerun = chat_for(&fake, FAKE_TOKEN, FAKE_CHANNEL);
    post_round(&rerun, &fixtures::projects()).await;
    assert_round_shape(&fake);
}

#[tokio::test]
async fn a_lost_answer_is_checked_before_posting_again() {
    let (fake, chat) = setup().await;
    let post = Endpoint::any("/api/chat.postMessage");
    let projects = fixtures::projects();

    // The summary is posted but its answer is lost: found by metadata, not posted again.
    fake.faults()
        .script(post.clone(), 1, Fault::DropAfterHandling);
    chat.post_summary(&fixtures::summary(&projects))
        .await
        .unwrap();
    // A request lost before Slack handled it: nothing found, so it is sent again.
    fake.faults()
        .script(post.clone(), 1, Fault::DropBeforeHandling);
    chat.open_or_continue_thread(&projects[0]).await.unwrap();
    // A failure report posted whose answer is lost: found among the thread's replies.
    // (Posts: dashboard's message, the failed project's message, its report.)
    fake.faults()
        .script(post.clone(), 2, Fault::Delay(Duration::ZERO));
    fake.faults()
        .script(post.clone(), 1, Fault::DropAfterHandling);
    for p in &fixtures::posted(&projects)[1..] {
        chat.open_or_continue_thread(p).await.unwrap();
    }

    assert_round_shape(&fake);
    let log = fake.faults().log();
    assert_eq!(
        log.count_handled(&post),
        5,
        "each message handled exactly once"
    );
    assert_eq!(
        fake.calls("chat.postMessage"),
        6,
        "only the unhandled request was re-sent"
    );
}

#[tokio::test]
async fn replies_updates_and_reactions_on_any_message() {
    let (fake, chat) = setup().await;
    let threads = post_round(&chat, &fixtures::projects()).await;
    let parent = &threads[0].parent.message;
    let note = chat
        .reply(parent, "CI is slow today: <ci> & friends")
        .await
        .unwrap();
    chat.update(&note, "CI is fine again").await.unwrap();
    chat.add_reaction(parent, "eyes").await.unwrap();
    chat.add_reaction(parent, "eyes").await.unwrap(); // already there: fine

    let replies = fake.replies(FAKE_CHANNEL, &parent.ts);
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].text, "CI is fine again");
    assert_eq!(
        event_type(&replies[0]),
        Some("upkeep_note"),
        "metadata kept on update"
    );
    let top = fake.top_level(FAKE_CHANNEL);
    assert_eq!(
        top[1].reactions,
        [("eyes".to_owned(), vec![BOT_USER.to_owned()])]
    );

    let missing = upkeep_chat::MessageRef {
        channel: FAKE_CHANNEL.into(),
        ts: "1.000001".into(),
    };
    let err = chat.reply(&missing, "hello").await.unwrap_err();
    assert!(
        matches!(err, ChatError::MessageNotFound { ref ts, .. } if ts == "1.000001"),
        "{err:?}"
    );
    let err = chat.add_reaction(&missing, "eyes").await.unwrap_err();
    assert!(
        matches!(err, ChatError::MessageNotFound { ref ts, .. } if ts == "1.000001"),
        "{err:?}"
    );
}

#[tokio::test]
async fn long_logs_are_truncated_to_slack_limits_with_a_note() {
    let (fake, chat) = setup().await;
    let mut project = fixtures::projects().swap_remove(2);
    let mut log = String::new();
    for i in 0..5000 {
        let _ = writeln!(log, "step {i}: a < b && c > d");
    }
    project.result = ProjectResult::Failed {
        stage: "make build".into(),
        exit_code: None,
        log_tail: log,
    };
    let thread = chat.open_or_continue_thread(&project).await.unwrap();
    let report = fake
        .replies(FAKE_CHANNEL, &thread.parent.message.ts)
        .into_iter()
        .find(|m| event_type(m) == Some("upkeep_failure"))
        .unwrap();
    let blocks = report.blocks.as_ref().unwrap().as_array().unwrap().clone();
    for block in &blocks {
        let text = block["text"]["text"]
            .as_str()
            .or(block["elements"][0]["text"].as_str())
            .unwrap();
        assert!(
            text.chars().count() <= 3000,
            "block of {} chars",
            text.chars().count()
        );
    }
    let at = blocks
        .iter()
        .position(|b| {
            b["text"]["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("```"))
        })
        .unwrap();
    let log_block = blocks[at]["text"]["text"].as_str().unwrap();
    assert!(
        log_block.ends_with("step 4999: a &lt; b &amp;&amp; c &gt; d\n```"),
        "{log_block}"
    );
    let note = blocks[at + 1]["elements"][0]["text"].as_str().unwrap();
    assert!(note.contains("earlier lines not shown"), "{note}");
    assert!(report.text.chars().count() <= 40_000);
    assert!(section_texts(&report)[0].contains("without an exit code"));
}

#[tokio::test]
async fn slack_errors_are_normalised_and_never_show_the_token() {
    let fake = FakeSlack::start().await;
    let summary = fixtures::summary(&fixtures::projects());
    let secret = "xoxb-secret-777-do-not-print";
    let leaks = |err: &ChatError| {
        let shown = format!("{err} / {err:?}");
        assert!(
            !shown.contains(secret) && !shown.contains(FAKE_TOKEN),
            "token leaked: {shown}"
        );
        shown
    };

    let err = chat_for(&fake, secret, FAKE_CHANNEL)
        .post_summary(&summary)
        .await
        .unwrap_err();
    leaks(&err);
    assert!(
        matches!(err, ChatError::InvalidAuth { ref code, .. } if code == "invalid_auth"),
        "{err:?}"
    );
    let err = chat_for(&fake, secret, FAKE_CHANNEL)
        .auth_test()
        .await
        .unwrap_err();
    leaks(&err);
    assert!(matches!(err, ChatError::InvalidAuth { .. }), "{err:?}");

    let err = chat_for(&fake, FAKE_TOKEN, "CNOPE")
        .post_summary(&summary)
        .await
        .unwrap_err();
    assert!(matches!(err, ChatError::ChannelNotFound { ref channel, .. } if channel == "CNOPE"));
    leaks(&err);

    fake.add_channel("C0OTHER", "other", false);
    let err = chat_for(&fake, FAKE_TOKEN, "C0OTHER")
        .post_summary(&summary)
        .await
        .unwrap_err();
    assert!(matches!(err, ChatError::NotInChannel { .. }), "{err:?}");
    leaks(&err);

    fake.add_token(secret, &["chat:write"]);
    let err = chat_for(&fake, secret, FAKE_CHANNEL)
        .post_summary(&summary)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ChatError::MissingScope { ref needed, ref method } if needed == "channels:history" && method == "conversations.history"),
        "{err:?}"
    );
    assert_eq!(
        leaks(&err).split(" / ").next().unwrap(),
        "the Slack token lacks the scope channels:history (calling conversations.history)"
    );

    // Rate limited for good: gives up with the method named, after the configured attempts.
    fake.rate_limit_next("conversations.history", 100, 0);
    let err = chat_for(&fake, FAKE_TOKEN, FAKE_CHANNEL)
        .post_summary(&summary)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ChatError::RateLimited { attempts: 6, .. }),
        "{err:?}"
    );
    fake.faults().clear();

    // A server that keeps failing: transport error, token still absent.
    fake.faults().script(
        Endpoint::any("/api/conversations.history"),
        100,
        Fault::status(503),
    );
    let err = chat_for(&fake, secret, FAKE_CHANNEL)
        .post_summary(&summary)
        .await
        .unwrap_err();
    assert!(matches!(err, ChatError::Transport { .. }), "{err:?}");
    leaks(&err);
}

#[tokio::test]
async fn auth_test_reports_granted_and_missing_scopes() {
    let (fake, chat) = setup().await;
    let info = chat.auth_test().await.unwrap();
    assert_eq!(info.user_id, BOT_USER);
    assert_eq!(info.team, "Fake Team");
    assert!(info.scopes.iter().any(|s| s == "chat:write"));
    assert!(chat.check_scopes().await.unwrap().is_empty());

    fake.add_token("xoxb-limited", &["chat:write", "groups:history"]);
    let limited = chat_for(&fake, "xoxb-limited", FAKE_CHANNEL);
    assert_eq!(
        limited.check_scopes().await.unwrap(),
        ["reactions:read", "reactions:write"]
    );
    let by_name = chat_for(&fake, "xoxb-limited", "#maintenance");
    assert_eq!(
        by_name.check_scopes().await.unwrap(),
        ["reactions:read", "reactions:write", "channels:read"]
    );
}

#[tokio::test]
async fn a_channel_given_by_name_is_looked_up_once() {
    let fake = FakeSlack::start().await;
    fake.add_channel("C0AAA", "general", true);
    fake.add_channel("C0ZZZ", "zebra", true);
    fake.set_page_size(1); // the lookup pages through conversations.list
    let chat = chat_for(&fake, FAKE_TOKEN, "#maintenance");
    let threads = post_round(&chat, &fixtures::projects()).await;
    fake.set_page_size(100);
    assert_round_shape(&fake);
    assert_eq!(threads[0].parent.message.channel, FAKE_CHANNEL);
    let lookups = fake.calls("conversations.list");
    assert!((1..=3).contains(&lookups), "{lookups} list calls");
    chat.read_round_status(&RoundId::new(fixtures::ROUND))
        .await
        .unwrap();
    assert_eq!(fake.calls("conversations.list"), lookups, "looked up once");

    let err = chat_for(&fake, FAKE_TOKEN, "#nope")
        .post_summary(&fixtures::summary(&fixtures::projects()))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ChatError::ChannelNotFound { ref channel, .. } if channel == "#nope"),
        "{err:?}"
    );
}

/// The fake's answers parse with slack-morphism's own response types, including the
/// methods the adapter does not call itself.
#[tokio::test]
async fn fake_answers_parse_with_slack_morphism_types() {
    use slack_morphism::prelude::*;
    let (fake, chat) = setup().await;
    let threads = post_round(&chat, &fixtures::projects()).await;
    fake.react_as("U1", FAKE_CHANNEL, &threads[0].parent.message.ts, "eyes");

    let connector = SlackClientHyperConnector::with_connector(
        hyper_util::client::legacy::connect::HttpConnector::new(),
    )
    .with_slack_api_url(&fake.api_url());
    let client = SlackClient::new(connector);
    let token = SlackApiToken::new(SlackApiTokenValue::new(FAKE_TOKEN.to_owned()));
    let session = client.open_session(&token);

    let got = session
        .reactions_get(
            &SlackApiReactionsGetRequest::new()
                .with_channel(FAKE_CHANNEL.into())
                .with_timestamp(threads[0].parent.message.ts.clone().into()),
        )
        .await
        .unwrap();
    let SlackApiReactionsGetResponse::Message(got) = got else {
        panic!("not a message")
    };
    let reactions = got.message.content.reactions.unwrap();
    assert_eq!(reactions[0].name.to_string(), "eyes");
    assert_eq!(reactions[0].users[0].to_string(), "U1");

    let history = session
        .conversations_history(
            &SlackApiConversationsHistoryRequest::new()
                .with_channel(FAKE_CHANNEL.into())
                .with_include_all_metadata(true),
        )
        .await
        .unwrap();
    let newest = &history.messages[0];
    let metadata = newest.content.metadata.as_ref().unwrap();
    assert_eq!(metadata.event_type, "upkeep_project");
    assert_eq!(
        metadata.event_payload.as_ref().unwrap()["project"],
        "import <legacy> & co"
    );
    assert_eq!(newest.parent.reply_count, Some(1));

    let without = session
        .conversations_history(
            &SlackApiConversationsHistoryRequest::new().with_channel(FAKE_CHANNEL.into()),
        )
        .await
        .unwrap();
    assert!(without.messages[0].content.metadata.is_none());

    // slack-morphism's replies request has no `include_all_metadata`: like Slack, the fake
    // then leaves the metadata of every message out (the adapter sends the flag itself).
    let thread = session
        .conversations_replies(&SlackApiConversationsRepliesRequest::new(
            FAKE_CHANNEL.into(),
            newest.origin.ts.clone(),
        ))
        .await
        .unwrap();
    assert_eq!(thread.messages.len(), 2, "the parent and its failure reply");
    assert!(
        thread.messages.iter().all(|m| m.content.metadata.is_none()),
        "{:?}",
        thread.messages
    );

    let err = session
        .chat_post_message(&SlackApiChatPostMessageRequest::new(
            "CNOPE".into(),
            SlackMessageContent::new().with_text("x".into()),
        ))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("channel_not_found"), "{err}");
}

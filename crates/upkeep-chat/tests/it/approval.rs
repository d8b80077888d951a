//! Approval by reaction through the Slack adapter, against the fake Slack: the checks
//! made before anything is posted, finding a job's message again by its metadata,
//! updating it in place, and reading every reaction.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::Utc;
use secrecy::SecretString;
use upkeep_chat::render::text_document;
use upkeep_chat::{
    ApprovalChannel, ApprovalMeta, ApprovalState, ChatError, Reaction, SlackChat, SlackConfig,
};
use upkeep_testkit::faults::{Endpoint, Fault};
use upkeep_testkit::slack::{FAKE_CHANNEL, FAKE_TOKEN, FakeSlack};

fn chat(fake: &FakeSlack, token: &str, channel: &str) -> SlackChat {
    let _ = rustls::crypto::ring::default_provider().install_default();
    upkeep_testkit::init_tracing();
    let mut config = SlackConfig::new(SecretString::from(token.to_owned()), channel);
    config.api_url = fake.api_url();
    config.post_interval = Duration::ZERO;
    config.backoff = Duration::from_millis(5);
    SlackChat::new(config).expect("client")
}

async fn workspace() -> FakeSlack {
    let fake = FakeSlack::start().await;
    fake.add_user("U0ANN", "Ann Example");
    fake.add_user("U0BOB", "Bob Example");
    fake.add_user("U0CAROL", "Carol Example");
    fake.add_usergroup("S0RELEASE", &["U0CAROL"]);
    fake
}

fn meta(key: &str, digest: &str) -> ApprovalMeta {
    ApprovalMeta {
        key: key.into(),
        digest: digest.into(),
        state: ApprovalState::Pending,
        deadline: Utc::now() + chrono::Duration::hours(1),
        noted: BTreeSet::new(),
        nonce: format!("{:016x}", rand::random::<u64>()),
    }
}

#[tokio::test]
async fn approvers_are_checked_with_names_and_group_members() {
    let fake = workspace().await;
    let chat = chat(&fake, FAKE_TOKEN, FAKE_CHANNEL);
    let approvers = chat
        .check_approvers(&["U0ANN".into()], &["S0RELEASE".into()])
        .await
        .unwrap();
    assert_eq!(approvers.people.len(), 1);
    assert_eq!(approvers.people[0].label(), "ann.example (U0ANN)");
    assert!(approvers.allows("U0ANN"));
    assert!(approvers.allows("U0CAROL"), "a member of the group");
    assert!(!approvers.allows("U0BOB"));
    assert_eq!(fake.calls("chat.postMessage"), 0);
}

#[tokio::test]
async fn an_approver_the_token_cannot_see_is_an_error_naming_them() {
    let fake = workspace().await;
    let chat = chat(&fake, FAKE_TOKEN, FAKE_CHANNEL);
    let err = chat
        .check_approvers(&["U0ANN".into(), "U0NOBODY".into()], &[])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ChatError::UnknownUser { user, code } if user == "U0NOBODY" && code == "user_not_found"),
        "{err:?}"
    );
    fake.deactivate_user("U0BOB");
    let err = chat
        .check_approvers(&["U0BOB".into()], &[])
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "Slack user U0BOB is deactivated");
    let err = chat
        .check_approvers(&[], &["S0NOPE".into()])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ChatError::UnknownUserGroup { group } if group == "S0NOPE"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_channel_the_bot_is_not_in_is_an_error() {
    let fake = workspace().await;
    fake.add_channel("C0OTHER", "releases", false);
    let chat = chat(&fake, FAKE_TOKEN, "#releases");
    let err = chat
        .check_approvers(&["U0ANN".into()], &[])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ChatError::NotInChannel { method, channel } if method == "conversations.info" && channel == "#releases"),
        "{err:?}"
    );
    let missing = self::chat(&fake, FAKE_TOKEN, "C0NONE")
        .check_approvers(&["U0ANN".into()], &[])
        .await
        .unwrap_err();
    assert!(
        matches!(missing, ChatError::ChannelNotFound { .. }),
        "{missing:?}"
    );
}

#[tokio::test]
async fn missing_scopes_are_named_before_any_other_call() {
    let fake = workspace().await;
    fake.add_token(
        "xoxb-no-reactions",
        &["chat:write", "channels:history", "channels:read"],
    );
    let chat = chat(&fake, "xoxb-no-reactions", FAKE_CHANNEL);
    let err = chat
        .check_approvers(&["U0ANN".into()], &["S0RELEASE".into()])
        .await
        .unwrap_err();
    match &err {
        ChatError::MissingScope { needed, .. } => {
            assert_eq!(needed, "reactions:read, users:read, usergroups:read");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(fake.calls("users.info"), 0);
    assert_eq!(fake.calls("conversations.info"), 0);
}

#[tokio::test]
async fn a_job_finds_its_own_message_by_metadata_and_updates_it_in_place() {
    let fake = workspace().await;
    let chat = chat(&fake, FAKE_TOKEN, FAKE_CHANNEL);
    let _noise = fake.post_as("U0ANN", FAKE_CHANNEL, "good morning");
    let other = chat
        .post_approval(
            &text_document("another job"),
            &meta("run:other", "aaaaaaaaaaaa"),
        )
        .await
        .unwrap();
    let mine = meta("run:mine", "bbbbbbbbbbbb");
    let posted = chat
        .post_approval(&text_document("plan bbbbbbbbbbbb"), &mine)
        .await
        .unwrap();
    assert_ne!(posted, other);

    let found = chat
        .find_approvals("run:mine", Duration::from_hours(1))
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].message, posted);
    assert_eq!(found[0].meta.digest, "bbbbbbbbbbbb");
    assert_eq!(found[0].meta.state, ApprovalState::Pending);

    let mut done = mine.clone();
    done.state = ApprovalState::Outdated;
    done.noted.insert("U0BOB".into());
    chat.update_approval(&posted, &text_document("outdated"), &done)
        .await
        .unwrap();
    let found = chat
        .find_approvals("run:mine", Duration::from_hours(1))
        .await
        .unwrap();
    assert_eq!(found[0].meta, done);
    let stored = fake
        .top_level(FAKE_CHANNEL)
        .into_iter()
        .find(|m| m.ts == posted.ts)
        .unwrap();
    assert_eq!(stored.edits, 1);
    assert!(stored.text.contains("outdated"), "{}", stored.text);
    assert_eq!(fake.top_level(FAKE_CHANNEL).len(), 3, "nothing new posted");
}

#[tokio::test]
async fn a_post_whose_answer_was_lost_is_not_posted_twice() {
    let fake = workspace().await;
    let chat = chat(&fake, FAKE_TOKEN, FAKE_CHANNEL);
    fake.faults().script(
        Endpoint::any("/api/chat.postMessage"),
        1,
        Fault::DropAfterHandling,
    );
    let posted = chat
        .post_approval(&text_document("plan"), &meta("run:mine", "cccccccccccc"))
        .await
        .unwrap();
    let top = fake.top_level(FAKE_CHANNEL);
    assert_eq!(top.len(), 1, "{top:?}");
    assert_eq!(top[0].ts, posted.ts);
}

#[tokio::test]
async fn every_user_who_reacted_is_read_even_when_slack_would_cut_the_list() {
    let fake = workspace().await;
    let chat = chat(&fake, FAKE_TOKEN, FAKE_CHANNEL);
    let posted = chat
        .post_approval(&text_document("plan"), &meta("run:mine", "dddddddddddd"))
        .await
        .unwrap();
    fake.set_reaction_users_limit(1);
    for user in ["U0BOB", "U0CAROL", "U0ANN"] {
        fake.react_as(user, FAKE_CHANNEL, &posted.ts, "white_check_mark");
    }
    fake.react_as("U0BOB", FAKE_CHANNEL, &posted.ts, "x");
    let reactions = chat.reactions(&posted).await.unwrap();
    assert_eq!(
        reactions,
        [
            Reaction {
                name: "white_check_mark".into(),
                users: vec!["U0BOB".into(), "U0CAROL".into(), "U0ANN".into()],
            },
            Reaction {
                name: "x".into(),
                users: vec!["U0BOB".into()],
            },
        ]
    );
    fake.unreact_as("U0BOB", FAKE_CHANNEL, &posted.ts, "x");
    assert_eq!(chat.reactions(&posted).await.unwrap().len(), 1);
}

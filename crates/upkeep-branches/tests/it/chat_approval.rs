//! `promote` with approval by reaction: the real Slack adapter against the fake Slack,
//! people reacting while the job waits, real bare repos, the history.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use secrecy::SecretString;
use upkeep_branches::history::HistoryEntry;
use upkeep_branches::{
    ChatApprovalOptions, ChatApprover, ChatNotifier, End, Error, Job, LocalNotes, Notifiers,
    Outcome, Promotion, Refusal, RunResult, promote,
};
use upkeep_chat::render::Document;
use upkeep_chat::{
    ApprovalChannel, ApprovalMessage, ApprovalMeta, Approvers, ChatError, MessageRef, Person,
    Reaction, SlackChat, SlackConfig,
};
use upkeep_testkit::bare::BareRepo;
use upkeep_testkit::slack::{FAKE_CHANNEL, FAKE_TOKEN, FakeMessage, FakeSlack};

use crate::fixture::World;
use crate::history::store;

const KEY: &str = "promotion-chat";

struct Setup {
    w: World,
    history: BareRepo,
    fake: Arc<FakeSlack>,
    chat: Arc<SlackChat>,
}

async fn setup() -> Setup {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut w = World::new();
    w.repo("a", &[]).commit_on("main", "fix: a");
    w.repo("b", &["a"]).commit_on("main", "fix: b");
    let history = BareRepo::init(w.tmp.path().join("history.git"), w.clock.clone());
    let fake = FakeSlack::start().await;
    fake.add_user("U0ANN", "Ann Example");
    fake.add_user("U0BOB", "Bob Example");
    fake.add_user("U0CAROL", "Carol Example");
    fake.add_usergroup("S0RELEASE", &["U0CAROL"]);
    let mut config = SlackConfig::new(SecretString::from(FAKE_TOKEN.to_owned()), FAKE_CHANNEL);
    config.api_url = fake.api_url();
    config.post_interval = Duration::ZERO;
    config.backoff = Duration::from_millis(5);
    let chat = Arc::new(SlackChat::new(config).unwrap());
    Setup {
        w,
        history,
        fake: Arc::new(fake),
        chat,
    }
}

fn options() -> ChatApprovalOptions {
    let mut o = ChatApprovalOptions::new(KEY, vec!["U0ANN".into()], vec!["S0RELEASE".into()]);
    o.wait = Duration::from_mins(2);
    o.poll_interval = Duration::from_millis(20);
    o.replan_interval = Duration::from_millis(40);
    o
}

impl Setup {
    fn promotion(
        &self,
        channel: Arc<dyn ApprovalChannel>,
        options: ChatApprovalOptions,
    ) -> Promotion {
        let approver = Arc::new(ChatApprover::new(channel, options));
        let notes = Arc::new(LocalNotes::new(self.w.tmp.path().join("notes")));
        let mut job = Job::new("ann", approver, notes, KEY);
        job.history = Some(store(&self.w, &self.history, "history-clone"));
        job.notifiers = Notifiers(vec![Arc::new(ChatNotifier {
            chat: self.chat.clone(),
            channel: FAKE_CHANNEL.into(),
        })]);
        Promotion::new(self.w.specs(), self.w.cache(), job)
    }

    fn start(&self, options: ChatApprovalOptions) -> tokio::task::JoinHandle<Outcome> {
        let request = self.promotion(self.chat.clone(), options);
        tokio::spawn(async move { promote(&request).await.unwrap() })
    }

    fn history(&self) -> Vec<HistoryEntry> {
        store(&self.w, &self.history, "history-clone")
            .read()
            .unwrap()
            .entries
    }

    /// Top-level messages that ask for approval, oldest first.
    fn asks(&self) -> Vec<FakeMessage> {
        self.fake
            .top_level(FAKE_CHANNEL)
            .into_iter()
            .filter(|m| {
                m.metadata
                    .as_ref()
                    .and_then(|md| md.get("event_type"))
                    .and_then(|t| t.as_str())
                    == Some("upkeep_approval")
            })
            .collect()
    }

    fn replies(&self, ts: &str) -> Vec<String> {
        self.fake
            .replies(FAKE_CHANNEL, ts)
            .into_iter()
            .map(|m| m.text)
            .collect()
    }

    fn stable_moved(&self) -> bool {
        ["a", "b"]
            .iter()
            .any(|r| self.w.tip(r, "stable") == self.w.tip(r, "main"))
    }

    /// The `n`th (from 1) approval message, once posted.
    async fn ask(&self, n: usize) -> FakeMessage {
        wait_for(&format!("approval message {n}"), || {
            self.asks().into_iter().nth(n - 1)
        })
        .await
    }
}

/// Polls `f` until it gives a value (the job runs concurrently); a minute at most.
async fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    for _ in 0..6000 {
        if let Some(v) = f() {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("gave up waiting for {what}");
}

fn payload(m: &FakeMessage, key: &str) -> String {
    m.metadata.as_ref().unwrap()["event_payload"][key]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The story of the issue, in the library: nothing moves while only a stranger reacts;
/// an approver's reaction moves exactly the plan shown, and the channel and the history
/// say who approved which digest.
#[tokio::test(flavor = "multi_thread")]
async fn an_allowed_reaction_moves_exactly_the_plan_and_a_strangers_is_ignored() {
    let s = setup().await;
    let run = s.start(options());
    let ask = s.ask(1).await;
    let digest = payload(&ask, "digest");
    assert!(
        ask.text.contains(&format!(
            "Approval needed: move-branches run (plan {digest})"
        )),
        "{}",
        ask.text
    );
    assert!(ask.text.contains("fix: a"), "the commits that would ship");
    assert!(
        ask.text
            .contains(":white_check_mark: approves exactly this plan, :x: refuses it"),
        "{}",
        ask.text
    );

    s.fake
        .react_as("U0BOB", FAKE_CHANNEL, &ask.ts, "white_check_mark");
    let ignored = wait_for("the stranger told", || {
        s.replies(&ask.ts).into_iter().find(|r| r.contains("U0BOB"))
    })
    .await;
    assert!(
        ignored.contains(
            "bob.example (U0BOB) reacted :white_check_mark: but is not one of the approvers"
        ),
        "{ignored}"
    );
    assert!(!s.stable_moved(), "a stranger's reaction moves nothing");

    s.fake
        .react_as("U0ANN", FAKE_CHANNEL, &ask.ts, "white_check_mark");
    let outcome = run.await.unwrap();
    assert_eq!(
        outcome.end,
        End::Applied {
            result: RunResult::Success
        }
    );
    assert_eq!(outcome.plan.digest, digest);
    for r in ["a", "b"] {
        assert_eq!(s.w.tip(r, "stable"), s.w.tip(r, "main"));
    }
    let h = s.history();
    assert_eq!(h.len(), 1);
    let approval = h[0].approval.as_ref().unwrap();
    assert_eq!(approval.by, "ann.example (U0ANN)");
    assert_eq!(approval.via, "slack");
    assert_eq!(approval.digest, digest);

    // One message in the channel, updated in place; the story in its thread.
    let asks = s.asks();
    assert_eq!(
        s.fake.top_level(FAKE_CHANNEL).len(),
        1,
        "the result is in the thread"
    );
    assert_eq!(payload(&asks[0], "state"), "done");
    assert_eq!(payload(&asks[0], "noted"), "U0BOB");
    assert!(
        asks[0].text.contains(&format!(
            "move-branches run by ann: success (plan {digest})"
        )),
        "{}",
        asks[0].text
    );
    assert!(
        asks[0].text.contains("Approved by ann.example (U0ANN)"),
        "{}",
        asks[0].text
    );
    let replies = s.replies(&ask.ts);
    assert_eq!(replies.len(), 3, "{replies:#?}");
    assert!(
        replies[1].contains("Approved by ann.example (U0ANN) at "),
        "{replies:#?}"
    );
    assert!(replies[1].contains(&format!("for plan {digest}")));
    assert!(replies[2].contains("result: success"), "{replies:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_group_members_refusal_moves_nothing_and_is_recorded() {
    let s = setup().await;
    let run = s.start(options());
    let ask = s.ask(1).await;
    s.fake.react_as("U0CAROL", FAKE_CHANNEL, &ask.ts, "x");
    let outcome = run.await.unwrap();
    assert_eq!(
        outcome.end,
        End::Refused(Refusal::Rejected {
            by: "carol.example (U0CAROL)".into(),
            reason: None
        })
    );
    assert!(!s.stable_moved());
    let h = s.history();
    assert_eq!(h[0].result, RunResult::Refused);
    assert!(
        h[0].message
            .as_deref()
            .unwrap()
            .starts_with("not approved: carol.example (U0CAROL) said no"),
        "{h:#?}"
    );
    let asks = s.asks();
    assert_eq!(payload(&asks[0], "state"), "rejected");
    assert!(asks[0].text.contains("Refused by carol.example (U0CAROL)"));
    let replies = s.replies(&ask.ts);
    assert_eq!(replies.len(), 1);
    assert!(replies[0].contains("refused, nothing moved"), "{replies:?}");
}

/// Nobody approves in time — an approving reaction on another message does not count —
/// and an approval added after the deadline is not taken up by the next run.
#[tokio::test(flavor = "multi_thread")]
async fn without_an_approval_in_time_nothing_moves_not_even_later() {
    let s = setup().await;
    let mut short = options();
    short.wait = Duration::from_millis(400);
    let run = s.start(short.clone());
    let ask = s.ask(1).await;
    let elsewhere = s.fake.post_as("U0BOB", FAKE_CHANNEL, "ship it?");
    s.fake
        .react_as("U0ANN", FAKE_CHANNEL, &elsewhere, "white_check_mark");
    let outcome = run.await.unwrap();
    assert!(
        matches!(outcome.end, End::Refused(Refusal::TimedOut { .. })),
        "{outcome:?}"
    );
    assert!(outcome.message.contains("nobody approved within 400ms"));
    assert!(!s.stable_moved());
    assert_eq!(payload(&s.asks()[0], "state"), "timed_out");
    assert!(s.asks()[0].text.contains("Not approved in time"));

    // Too late: the next run does not count it, and asks anew.
    s.fake
        .react_as("U0ANN", FAKE_CHANNEL, &ask.ts, "white_check_mark");
    let outcome = s.start(short).await.unwrap();
    assert!(matches!(
        outcome.end,
        End::Refused(Refusal::TimedOut { .. })
    ));
    assert!(!s.stable_moved());
    assert_eq!(s.asks().len(), 2);
    assert_eq!(s.history().len(), 2);
}

/// `main` moves while the job waits: the message is marked outdated in place, a new one
/// asks about the new plan, a reaction on the old one does not count, and the approved
/// new plan is what moves.
#[tokio::test(flavor = "multi_thread")]
async fn a_push_while_waiting_outdates_the_message_and_asks_again() {
    let s = setup().await;
    let run = s.start(options());
    let first = s.ask(1).await;
    let old = payload(&first, "digest");
    let pushed =
        s.w.bare("a")
            .commit_on("main", "feat: pushed while waiting");
    let second = s.ask(2).await;
    let new = payload(&second, "digest");
    assert_ne!(old, new);
    let first = wait_for("the old message outdated", || {
        s.asks()
            .into_iter()
            .next()
            .filter(|m| payload(m, "state") == "outdated")
    })
    .await;
    assert!(
        first.text.contains(&format!(
            "Outdated: the plan changed while waiting (plan {old} is now {new})"
        )),
        "{}",
        first.text
    );
    assert!(
        s.replies(&first.ts)
            .iter()
            .any(|r| r.contains("The plan changed while waiting")),
    );
    s.fake
        .react_as("U0ANN", FAKE_CHANNEL, &first.ts, "white_check_mark");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !s.stable_moved(),
        "a reaction on the old message counts for nothing"
    );

    s.fake
        .react_as("U0ANN", FAKE_CHANNEL, &second.ts, "white_check_mark");
    let outcome = run.await.unwrap();
    assert_eq!(
        outcome.end,
        End::Applied {
            result: RunResult::Success
        }
    );
    assert_eq!(s.w.tip("a", "stable"), pushed);
    let h = s.history();
    assert_eq!(h[0].digest, new);
    assert_eq!(h[0].approval.as_ref().unwrap().digest, new);
}

/// A run killed while it waits leaves its message; the next run of the same job takes it
/// up instead of posting a second one, and a reaction on it moves the plan.
#[tokio::test(flavor = "multi_thread")]
async fn a_rerun_after_a_crash_takes_up_its_own_message() {
    let s = setup().await;
    let killed = s.start(options());
    let ask = s.ask(1).await;
    wait_for("a poll", || {
        (s.fake.calls("reactions.get") > 0).then_some(())
    })
    .await;
    killed.abort();
    let _ = killed.await;
    let polls = s.fake.calls("reactions.get");

    let run = s.start(options());
    wait_for("the re-run polling", || {
        (s.fake.calls("reactions.get") > polls).then_some(())
    })
    .await;
    assert_eq!(s.asks().len(), 1, "no second message");
    s.fake
        .react_as("U0CAROL", FAKE_CHANNEL, &ask.ts, "white_check_mark");
    let outcome = run.await.unwrap();
    assert_eq!(
        outcome.end,
        End::Applied {
            result: RunResult::Success
        }
    );
    assert_eq!(s.asks().len(), 1);
    assert_eq!(
        s.history()[0].approval.as_ref().unwrap().by,
        "carol.example (U0CAROL)"
    );
}

/// Bad input fails before anything is planned, posted or moved, and names the cause.
#[tokio::test(flavor = "multi_thread")]
async fn an_approver_the_token_cannot_see_stops_the_job_before_anything_is_posted() {
    let s = setup().await;
    let mut o = options();
    o.people.push("U0GHOST".into());
    let request = s.promotion(s.chat.clone(), o);
    let err = promote(&request).await.unwrap_err();
    match &err {
        Error::ApprovalSetup { source, .. } => assert!(
            matches!(&**source, ChatError::UnknownUser { user, .. } if user == "U0GHOST"),
            "{source:?}"
        ),
        other => panic!("{other:?}"),
    }
    assert!(err.is_user_error());
    assert_eq!(s.fake.calls("chat.postMessage"), 0);
    assert!(s.history().is_empty());
    assert!(!s.stable_moved());
}

/// Takes Ann's reaction back as soon as the approval is announced: the check right
/// before the first move finds no approval left.
struct TakesItBack {
    inner: Arc<SlackChat>,
    fake: Arc<FakeSlack>,
}

#[async_trait]
impl ApprovalChannel for TakesItBack {
    fn channel_name(&self) -> &str {
        self.inner.channel_name()
    }
    async fn check_approvers(
        &self,
        people: &[String],
        groups: &[String],
    ) -> upkeep_chat::Result<Approvers> {
        self.inner.check_approvers(people, groups).await
    }
    async fn group_members(&self, group: &str) -> upkeep_chat::Result<Vec<String>> {
        self.inner.group_members(group).await
    }
    async fn person(&self, id: &str) -> upkeep_chat::Result<Person> {
        self.inner.person(id).await
    }
    async fn find_approvals(
        &self,
        key: &str,
        within: Duration,
    ) -> upkeep_chat::Result<Vec<ApprovalMessage>> {
        self.inner.find_approvals(key, within).await
    }
    async fn post_approval(
        &self,
        doc: &Document,
        meta: &ApprovalMeta,
    ) -> upkeep_chat::Result<MessageRef> {
        self.inner.post_approval(doc, meta).await
    }
    async fn update_approval(
        &self,
        message: &MessageRef,
        doc: &Document,
        meta: &ApprovalMeta,
    ) -> upkeep_chat::Result<()> {
        self.inner.update_approval(message, doc, meta).await
    }
    async fn reactions(&self, message: &MessageRef) -> upkeep_chat::Result<Vec<Reaction>> {
        self.inner.reactions(message).await
    }
    async fn reply_in_thread(
        &self,
        message: &MessageRef,
        text: &str,
    ) -> upkeep_chat::Result<MessageRef> {
        if text.starts_with("Approved by") {
            self.fake
                .unreact_as("U0ANN", FAKE_CHANNEL, &message.ts, "white_check_mark");
        }
        self.inner.reply_in_thread(message, text).await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_approval_taken_back_before_the_first_move_moves_nothing() {
    let s = setup().await;
    let channel = Arc::new(TakesItBack {
        inner: s.chat.clone(),
        fake: s.fake.clone(),
    });
    let request = s.promotion(channel, options());
    let run = tokio::spawn(async move { promote(&request).await.unwrap() });
    let ask = s.ask(1).await;
    s.fake
        .react_as("U0ANN", FAKE_CHANNEL, &ask.ts, "white_check_mark");
    let outcome = run.await.unwrap();
    assert_eq!(
        outcome.end,
        End::Refused(Refusal::Rejected {
            by: "ann.example (U0ANN)".into(),
            reason: Some("took the approval back before the first move".into()),
        })
    );
    assert!(!s.stable_moved());
    assert_eq!(s.history()[0].result, RunResult::Refused);
}

#[tokio::test(flavor = "multi_thread")]
async fn groups_without_members_and_nobody_named_is_refused_before_anything_is_posted() {
    let s = setup().await;
    s.fake.add_usergroup("S0EMPTY", &[]);
    let o = ChatApprovalOptions::new(KEY, vec![], vec!["S0EMPTY".into()]);
    let err = promote(&s.promotion(s.chat.clone(), o)).await.unwrap_err();
    assert!(matches!(err, Error::NoApprovers { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "nobody can approve in chat channel C0MAINT001: no person is named and the user groups S0EMPTY have no members"
    );
    assert_eq!(s.fake.calls("chat.postMessage"), 0);
}

//! A scheduled promotion approved from Slack (issue 20): `move-branches run --job` on the
//! packit-shaped repos posts its plan to the fake Slack and waits; people react while it
//! waits; the real binary is killed and run again. Asserted: what moved, the messages
//! (text, thread replies, updated in place), the history, the exit codes.

use std::process::Stdio;
use std::time::Duration;

use upkeep_forge::CheckState;
use upkeep_testkit::slack::{FAKE_CHANNEL, FAKE_TOKEN, FakeMessage, FakeSlack};

use crate::packit::{MOVED, packit};
use crate::scenario::Scenario;

/// The packit-shaped repos, the fake Slack with three people (Carol through the
/// `S0RELEASE` group), and approval by reaction configured; the job's results are
/// posted to the same channel.
async fn scheduled(wait: &str) -> (Scenario, String, FakeSlack) {
    let (mut s, short) = packit().await;
    let slack = FakeSlack::start().await;
    slack.add_user("U0ANN", "Ann Example");
    slack.add_user("U0BOB", "Bob Example");
    slack.add_user("U0CAROL", "Carol Example");
    slack.add_usergroup("S0RELEASE", &["U0CAROL"]);
    s.env = vec![
        ("SLACK_API_TOKEN".into(), FAKE_TOKEN.into()),
        ("UPKEEP_SLACK_API_URL".into(), slack.api_url()),
    ];
    s.extra
        .push_str(&approval(FAKE_CHANNEL, "[\"U0ANN\"]", wait));
    (s, short, slack)
}

fn approval(channel: &str, approvers: &str, wait: &str) -> String {
    format!(
        "\n[branches.approval.slack]\nchannel = \"{channel}\"\napprovers = {approvers}\n\
         approver_groups = [\"S0RELEASE\"]\nwait = \"{wait}\"\npoll_interval = \"50ms\"\n\
         replan_interval = \"100ms\"\n"
    )
}

fn tips(s: &Scenario, branch: &str) -> Vec<String> {
    MOVED
        .iter()
        .chain(["tokman"].iter())
        .map(|r| s.tip(r, branch))
        .collect()
}

/// Top-level messages asking for approval, oldest first.
fn asks(slack: &FakeSlack) -> Vec<FakeMessage> {
    slack
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

fn payload(m: &FakeMessage, key: &str) -> String {
    m.metadata.as_ref().unwrap()["event_payload"][key]
        .as_str()
        .unwrap()
        .to_owned()
}

fn replies(slack: &FakeSlack, ts: &str) -> Vec<String> {
    slack
        .replies(FAKE_CHANNEL, ts)
        .into_iter()
        .map(|m| m.text)
        .collect()
}

/// Polls `f` while the binary runs; two minutes at most (the binary builds its clones
/// first).
async fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    for _ in 0..12_000 {
        if let Some(v) = f() {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("gave up waiting for {what}");
}

/// The "done when": nothing moves until an allowed person reacts on the plan's
/// message (a stranger's reaction is ignored and said so), then exactly that plan moves,
/// and the channel and the history say who approved which digest.
#[tokio::test(flavor = "multi_thread")]
async fn a_scheduled_promotion_moves_nothing_until_an_approver_reacts_then_exactly_that_plan() {
    let (s, short, slack) = scheduled("2m").await;
    let before = tips(&s, "stable");
    let override_arg = format!("--packit-service={short}");
    let people = async {
        let ask = wait_for("the plan in Slack", || asks(&slack).into_iter().next()).await;
        assert_eq!(tips(&s, "stable"), before, "nothing moves while waiting");
        slack.react_as("U0BOB", FAKE_CHANNEL, &ask.ts, "white_check_mark");
        wait_for("Bob told he does not count", || {
            replies(&slack, &ask.ts)
                .into_iter()
                .find(|r| r.contains("U0BOB"))
        })
        .await;
        assert_eq!(tips(&s, "stable"), before, "a stranger's ✅ moves nothing");
        slack.react_as("U0ANN", FAKE_CHANNEL, &ask.ts, "white_check_mark");
        ask
    };
    let args = ["run", override_arg.as_str(), "--job"];
    let (run, ask) = tokio::join!(s.run(&args), people);
    assert_eq!(run.code, 0, "{run:?}");
    let digest = payload(&ask, "digest");

    // The message showed the plan: repos, from → to, the commits, the gates, the digest.
    for shown in [
        format!("Approval needed: move-branches run (plan {digest})"),
        "level 3: packit-service".to_owned(),
        "feat: new worker queue (#2451)".to_owned(),
        "tokman: `stable` is even".to_owned(),
        "[pass] ci: validation".to_owned(),
        format!("plan digest: {digest}"),
    ] {
        assert!(ask.text.contains(&shown), "{shown:?} not in\n{}", ask.text);
    }
    assert!(!ask.text.contains("WIP: not for prod"));

    // The job's log says what it waited for and who decided.
    for said in [
        format!(
            "waiting for approval of plan {digest} in Slack channel {FAKE_CHANNEL} (message {})",
            ask.ts
        ),
        "bob.example (U0BOB) reacted :white_check_mark: but is not an approver: ignored".to_owned(),
        format!("plan {digest} approved by ann.example (U0ANN)"),
    ] {
        assert!(run.stderr.contains(&said), "{said:?} not in {run:?}");
    }

    // Exactly that plan moved.
    assert!(run.stdout.contains("result: success"), "{run:?}");
    for repo in MOVED {
        let now = s.tip(repo, "stable");
        if repo == "packit-service" {
            assert!(now.starts_with(&short), "packit-service at the override");
        } else {
            assert_eq!(now, s.tip(repo, "main"), "{repo}");
        }
    }
    assert_eq!(s.tip("tokman", "stable"), before[7]);

    // The history records the approver and the digest.
    let h = s.history_lines();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0]["result"], "success");
    assert_eq!(h[0]["digest"], digest.as_str());
    assert_eq!(h[0]["approval"]["by"], "ann.example (U0ANN)");
    assert_eq!(h[0]["approval"]["via"], "slack");
    assert_eq!(h[0]["approval"]["digest"], digest.as_str());

    // One message in the channel, updated in place; the story in its thread.
    let top = slack.top_level(FAKE_CHANNEL);
    assert_eq!(top.len(), 1, "the result went to the thread: {top:#?}");
    assert_eq!(payload(&top[0], "state"), "done");
    assert!(
        top[0].text.contains(&format!(
            "move-branches run by ann: success (plan {digest})"
        )),
        "{}",
        top[0].text
    );
    let thread = replies(&slack, &ask.ts);
    assert_eq!(thread.len(), 3, "{thread:#?}");
    assert!(
        thread[0].starts_with(
            "bob.example (U0BOB) reacted :white_check_mark: but is not one of the approvers"
        ),
        "{thread:#?}"
    );
    assert!(
        thread[1].starts_with("Approved by ann.example (U0ANN) at ")
            && thread[1].contains(&format!("for plan {digest}")),
        "{thread:#?}"
    );
    assert!(
        thread[2].contains("packit-service: moved `stable`"),
        "{thread:#?}"
    );
}

/// The real binary, killed (SIGKILL) while it waits for a reaction; the re-run finds its own
/// message by metadata, waits on it, and a group member's reaction moves the plan.
#[tokio::test(flavor = "multi_thread")]
async fn killed_while_waiting_the_rerun_takes_up_its_own_message() {
    let (s, _, slack) = scheduled("2m").await;
    let before = tips(&s, "stable");
    s.write_config();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_move-branches"));
    cmd.arg("--config")
        .arg(s.config_path())
        .args(["run", "--job"])
        .current_dir(s.path())
        .env("UPKEEP_ACTOR", "ann")
        .env("NO_COLOR", "1")
        .env("SLACK_API_TOKEN", FAKE_TOKEN)
        .env("UPKEEP_SLACK_API_URL", slack.api_url())
        .env_remove("UPKEEP_JOB")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let mut child = cmd.spawn().unwrap();
    let ask = wait_for("the plan in Slack", || asks(&slack).into_iter().next()).await;
    wait_for("a poll", || {
        (slack.calls("reactions.get") > 0).then_some(())
    })
    .await;
    child.kill().await.unwrap();
    assert_eq!(tips(&s, "stable"), before);
    let polls = slack.calls("reactions.get");

    let people = async {
        wait_for("the re-run polling", || {
            (slack.calls("reactions.get") > polls).then_some(())
        })
        .await;
        assert_eq!(asks(&slack).len(), 1, "the re-run posted no second message");
        slack.react_as("U0CAROL", FAKE_CHANNEL, &ask.ts, "white_check_mark");
    };
    let (run, ()) = tokio::join!(s.run(&["run", "--job"]), people);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(asks(&slack).len(), 1);
    for repo in MOVED {
        assert_eq!(s.tip(repo, "stable"), s.tip(repo, "main"), "{repo}");
    }
    let h = s.history_lines();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0]["approval"]["by"], "carol.example (U0CAROL)");
    assert_eq!(h[0]["digest"], payload(&ask, "digest").as_str());
}

/// A push to `main` while the job waits: the message is marked outdated in place, the
/// new plan is gated and posted in a new message, the approval of the old one counts for
/// nothing, and the new plan is what moves.
#[tokio::test(flavor = "multi_thread")]
async fn a_push_to_main_while_waiting_outdates_the_message_and_the_new_plan_moves() {
    let (s, _, slack) = scheduled("2m").await;
    let people = async {
        let first = wait_for("the plan in Slack", || asks(&slack).into_iter().next()).await;
        // A green commit lands on sandcastle's main.
        let bare = s.bare("sandcastle");
        let pushed = bare.commit_on("next", "fix: hotfix while waiting (#141)");
        s.check(
            "sandcastle",
            &pushed.to_string(),
            "tests",
            CheckState::Success,
        )
        .await;
        bare.set_branch("main", pushed);
        let second = wait_for("a new message", || asks(&slack).into_iter().nth(1)).await;
        slack.react_as("U0ANN", FAKE_CHANNEL, &first.ts, "white_check_mark");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_ne!(
            s.tip("sandcastle", "stable"),
            pushed.to_string(),
            "an approval of the outdated message moves nothing"
        );
        slack.react_as("U0ANN", FAKE_CHANNEL, &second.ts, "white_check_mark");
        (first, second, pushed)
    };
    let (run, (first, second, pushed)) = tokio::join!(s.run(&["run", "--job"]), people);
    assert_eq!(run.code, 0, "{run:?}");
    let (old, new) = (payload(&first, "digest"), payload(&second, "digest"));
    assert_ne!(old, new);
    assert_eq!(s.tip("sandcastle", "stable"), pushed.to_string());
    assert!(second.text.contains("fix: hotfix while waiting (#141)"));

    let first = asks(&slack).remove(0);
    assert_eq!(payload(&first, "state"), "outdated");
    assert!(first.edits > 0);
    assert!(
        first.text.contains(&format!(
            "Outdated: the plan changed while waiting (plan {old} is now {new})"
        )),
        "{}",
        first.text
    );
    assert!(
        replies(&slack, &first.ts)
            .iter()
            .any(|r| r.contains(&format!("plan {old} is now {new}")))
    );
    let h = s.history_lines();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0]["digest"], new.as_str());
    assert_eq!(h[0]["approval"]["digest"], new.as_str());
}

/// A "no" from an approver, and no answer in time: nothing moves, the job fails (exit 2),
/// the history and the thread say why.
#[tokio::test(flavor = "multi_thread")]
async fn a_refusal_or_no_answer_in_time_moves_nothing_and_fails_the_job() {
    let (mut s, _, slack) = scheduled("2m").await;
    let before = tips(&s, "stable");
    let people = async {
        let ask = wait_for("the plan in Slack", || asks(&slack).into_iter().next()).await;
        slack.react_as("U0CAROL", FAKE_CHANNEL, &ask.ts, "x");
        ask
    };
    let (run, ask) = tokio::join!(s.run(&["run", "--job"]), people);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .contains("not approved: carol.example (U0CAROL) said no; nothing moved"),
        "{run:?}"
    );
    assert!(
        replies(&slack, &ask.ts)
            .iter()
            .any(|r| r.contains("refused, nothing moved")),
    );
    assert_eq!(payload(&asks(&slack)[0], "state"), "rejected");

    s.extra = s.extra.replace("wait = \"2m\"", "wait = \"300ms\"");
    let run = s.run(&["run", "--job"]).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("nobody approved within 300ms"),
        "{run:?}"
    );
    assert_eq!(payload(&asks(&slack)[1], "state"), "timed_out");

    assert_eq!(tips(&s, "stable"), before);
    let h = s.history_lines();
    assert_eq!(h.len(), 2);
    assert!(
        h.iter()
            .all(|e| e["result"] == "refused" && e.get("approval").is_none())
    );
}

/// Bad input is refused before anything is planned or posted, with the cause and what
/// to do.
#[tokio::test(flavor = "multi_thread")]
async fn bad_slack_setup_is_refused_before_anything_is_posted() {
    let (mut s, _, slack) = scheduled("2m").await;
    slack.add_channel("C0RELEASES", "releases", false);
    slack.add_token(
        "xoxb-no-reactions",
        &[
            "chat:write",
            "channels:history",
            "channels:read",
            "users:read",
            "usergroups:read",
        ],
    );
    let base = s.extra.clone();
    let before = tips(&s, "stable");

    s.extra = base.replace(
        "approvers = [\"U0ANN\"]",
        "approvers = [\"U0ANN\", \"U0GHOST\"]",
    );
    let run = s.run(&["run", "--job"]).await;
    assert_eq!(run.code, 2, "{run:?}");
    s.filters()
        .bind(|| insta::assert_snapshot!("unknown_approver", run.stderr));

    s.extra = base.replace(
        &format!("channel = \"{FAKE_CHANNEL}\"\napprovers"),
        "channel = \"C0RELEASES\"\napprovers",
    );
    let run = s.run(&["run", "--job"]).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains(
            "the Slack app is not a member of channel C0RELEASES (calling conversations.info)"
        ) && run.stderr.contains("hint: invite the app to the channel"),
        "{run:?}"
    );

    s.extra = base.clone();
    s.env[0].1 = "xoxb-no-reactions".into();
    let run = s.run(&["run", "--job"]).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .contains("the Slack token lacks the scope reactions:read")
            && run.stderr.contains("hint: add the scopes to the Slack app"),
        "{run:?}"
    );

    s.env.remove(0);
    let run = s.run(&["run", "--job"]).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("SLACK_API_TOKEN is not set"), "{run:?}");

    assert_eq!(slack.calls("chat.postMessage"), 0, "nothing posted");
    assert_eq!(slack.calls("chat.update"), 0);
    assert_eq!(tips(&s, "stable"), before, "nothing moved");
    assert!(s.history_lines().is_empty(), "nothing was decided");
}

//! Rounds through the real GitHub and Slack adapters, pointed at the testkit fakes:
//! real bare repositories (the fake GitHub's own), real Makefiles, real `make`.

use std::fmt::Write as _;
use std::num::NonZeroUsize;
use std::sync::Arc;

use secrecy::SecretString;
use upkeep_chat::{ChatThreads, SlackChat, SlackConfig};
use upkeep_config::Config;
use upkeep_forge::github::GitHub;
use upkeep_forge::retry::RetryPolicy;
use upkeep_forge::{Forge, RepoId};
use upkeep_git::{Author, Credentials};
use upkeep_maintain::board::{self, BoardRequest};
use upkeep_maintain::{CancellationToken, NoProgress, ProjectSetup, Round, RoundReport, Status};
use upkeep_testkit::faults::{Endpoint, Fault};
use upkeep_testkit::github::FakeGitHub;
use upkeep_testkit::slack::{FAKE_CHANNEL, FAKE_TOKEN, FakeSlack};

use crate::support::{BRANCH, REQUIREMENTS, Sample, date, row};

struct Hosted {
    github: FakeGitHub,
    slack: FakeSlack,
    samples: Vec<Sample>,
    state: tempfile::TempDir,
}

fn makefile(s: &Sample) -> String {
    format!(
        ".PHONY: upgrade build test\nupgrade:\n\t{}\nbuild:\n\t{}\ntest:\n\t{}\n",
        s.upgrade, s.build, s.test
    )
}

impl Hosted {
    async fn new(samples: Vec<Sample>) -> Self {
        upkeep_testkit::init_tracing();
        let _ = rustls::crypto::ring::default_provider().install_default();
        let github = FakeGitHub::start().await;
        let slack = FakeSlack::start().await;
        let state = tempfile::tempdir().unwrap();
        for s in &samples {
            let bare = github.create_repo(&format!("team/{}", s.name));
            Self::push_main(&state, &bare, s);
        }
        Self {
            github,
            slack,
            samples,
            state,
        }
    }

    /// Puts the project's Makefile and lockfile on the fake repository's `main`.
    fn push_main(state: &tempfile::TempDir, bare: &std::path::Path, s: &Sample) {
        use upkeep_testkit::git::git;
        let work = state
            .path()
            .join(format!("seed-{}-{}", s.name, rand_suffix()));
        fs_err::create_dir_all(&work).unwrap();
        git(&work, &["clone", "--quiet", &bare.to_string_lossy(), "."]);
        fs_err::write(work.join("Makefile"), makefile(s)).unwrap();
        fs_err::write(work.join("requirements.txt"), REQUIREMENTS).unwrap();
        git(&work, &["add", "."]);
        git(
            &work,
            &["commit", "--quiet", "--allow-empty", "-m", "project files"],
        );
        git(
            &work,
            &["push", "--quiet", "origin", "HEAD:refs/heads/main"],
        );
    }

    fn set_makefile(&self, s: &Sample) {
        let bare = self.github.repo_path(&format!("team/{}", s.name));
        Self::push_main(&self.state, &bare, s);
    }

    fn forge(&self) -> Arc<dyn Forge> {
        Arc::new(
            GitHub::new(
                &self.github.url(),
                SecretString::from("ghp_fake_token".to_owned()),
                RetryPolicy::fast(),
            )
            .unwrap(),
        )
    }

    fn chat(&self) -> Arc<SlackChat> {
        let mut config = SlackConfig::new(SecretString::from(FAKE_TOKEN.to_owned()), FAKE_CHANNEL);
        config.api_url = self.slack.api_url();
        config.post_interval = std::time::Duration::ZERO;
        config.backoff = std::time::Duration::from_millis(10);
        Arc::new(SlackChat::new(config).unwrap())
    }

    fn config(&self) -> upkeep_config::MaintainConfig {
        let mut text = String::from("state_dir = \"state\"\n[maintain]\n");
        for s in &self.samples {
            let path = self.github.repo_path(&format!("team/{}", s.name));
            let _ = write!(
                text,
                "[[maintain.projects]]\nname = \"{}\"\nrepo = \"{}\"\n",
                s.name,
                path.display()
            );
        }
        Config::from_str(
            &text,
            &self.state.path().join("upkeep.toml"),
            std::iter::empty::<(String, String)>(),
        )
        .unwrap()
        .maintain()
        .unwrap()
        .clone()
    }

    fn setups(&self, config: &upkeep_config::MaintainConfig) -> Vec<ProjectSetup> {
        let forge = self.forge();
        config
            .resolved_projects()
            .into_iter()
            .map(|project| ProjectSetup {
                repo: RepoId::new(format!("team/{}", project.name)),
                project,
                forge: forge.clone(),
                credentials: Credentials::none(),
            })
            .collect()
    }

    fn round(&self) -> Round {
        let config = self.config();
        Round {
            id: "2026-11-22".to_owned(),
            date: date(),
            projects: self.setups(&config),
            config: Arc::new(config),
            excluded: Vec::new(),
            shard: None,
            help_other_shards: false,
            state: crate::support::state_in(self.state.path()),
            jobs: NonZeroUsize::new(2).unwrap(),
            dry_run: false,
            retry_failed: false,
            chat: self.chat() as Arc<dyn ChatThreads>,
            progress: Arc::new(NoProgress),
            cancel: CancellationToken::new(),
            author: Author::new("upkeep", "upkeep@example.com"),
        }
    }

    async fn run(&self) -> RoundReport {
        upkeep_maintain::run_round(self.round()).await.unwrap()
    }

    fn pulls(&self, name: &str) -> usize {
        self.github.pulls(&format!("team/{name}")).len()
    }

    fn top_level(&self) -> Vec<upkeep_testkit::slack::FakeMessage> {
        self.slack.top_level(FAKE_CHANNEL)
    }

    fn journal(&self) -> Option<upkeep_maintain::Journal> {
        crate::support::journal_in(self.state.path(), "2026-11-22")
    }

    /// The project's own message (by its metadata, not its text: the summary names
    /// projects too).
    fn project_message(&self, name: &str) -> Option<upkeep_testkit::slack::FakeMessage> {
        self.top_level().into_iter().find(|m| {
            m.metadata.as_ref().is_some_and(|meta| {
                meta["event_type"] == "upkeep_project" && meta["event_payload"]["project"] == name
            })
        })
    }

    fn board_request(&self) -> BoardRequest {
        let config = self.config();
        BoardRequest {
            round: "2026-11-22".to_owned(),
            branch: BRANCH.to_owned(),
            projects: self.setups(&config),
            journal: self.journal(),
            chat: self.chat() as Arc<dyn ChatThreads>,
            legend: config.chat.reactions.clone(),
        }
    }
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn failing(name: &str) -> Sample {
    let mut s = Sample::green(name);
    s.test = "echo 'AssertionError: boom'; exit 1".into();
    s
}

#[tokio::test]
async fn round_opens_pull_requests_and_posts_threads_on_github_and_slack() {
    let hosted = Hosted::new(vec![
        Sample::green("signals"),
        Sample::up_to_date("dashboard"),
        failing("billing"),
    ])
    .await;
    let report = hosted.run().await;
    assert_eq!(row(&report, "signals").status, Status::Changed);
    assert_eq!(row(&report, "dashboard").status, Status::Unchanged);
    assert_eq!(row(&report, "billing").status, Status::Failed);

    let pulls = hosted.github.pulls("team/signals");
    assert_eq!(pulls.len(), 1);
    let body = pulls[0].body.clone().unwrap_or_default();
    assert!(body.contains("django"), "{body}");
    assert_eq!(hosted.pulls("dashboard") + hosted.pulls("billing"), 0);
    let cr = row(&report, "signals").change_request.clone().unwrap();
    assert_eq!(cr.number, pulls[0].number);

    // One summary and one message per changed or failed project, the checklist inside;
    // the up-to-date project is a line of the summary. The failed one has :boom:, names
    // the upgrades applied before it failed, and its thread holds the log tail.
    let top = hosted.top_level();
    assert_eq!(top.len(), 3, "{top:#?}");
    assert!(hosted.project_message("dashboard").is_none());
    // Each project's message is posted as it ends; the summary once all have.
    let summary = top.last().unwrap();
    assert_eq!(
        summary.metadata.as_ref().unwrap()["event_type"],
        "upkeep_round_summary"
    );
    assert!(
        summary.text.contains("*Up to date*: dashboard"),
        "{}",
        summary.text
    );
    let signals = hosted.project_message("signals").unwrap();
    assert!(signals.text.contains("*Checklist*: "), "{}", signals.text);
    assert!(hosted.slack.replies(FAKE_CHANNEL, &signals.ts).is_empty());
    let billing = hosted.project_message("billing").unwrap();
    assert!(
        billing.reactions.iter().any(|(name, _)| name == "boom"),
        "{billing:?}"
    );
    assert!(
        billing.text.contains(
            "`make test` failed (exit code 2) after `django` 4.2.16 → 5.1.4 (major, direct)"
        ),
        "{}",
        billing.text
    );
    assert!(!billing.text.contains("Checklist"), "{}", billing.text);
    let replies = hosted.slack.replies(FAKE_CHANNEL, &billing.ts);
    assert_eq!(replies.len(), 1, "{replies:#?}");
    assert!(
        replies[0].text.contains("AssertionError: boom"),
        "{replies:#?}"
    );
    // The JSON report carries the failed tree's upgrades.
    let json = report.to_json();
    let failed = &json["projects"][2];
    assert_eq!(failed["name"], "billing");
    assert_eq!(failed["upgrades"]["major"], 1);
    assert_eq!(
        failed["diff"]["lockfiles"][0]["changes"][0]["name"],
        "django"
    );
}

#[tokio::test]
async fn rerun_without_journal_duplicates_no_pull_request_or_thread() {
    let hosted = Hosted::new(vec![Sample::green("signals"), failing("billing")]).await;
    hosted.run().await;
    let messages = hosted.slack.messages(FAKE_CHANNEL).len();
    crate::support::forget_round(hosted.state.path(), "2026-11-22");
    let again = hosted.run().await;
    assert_eq!(row(&again, "signals").status, Status::Changed);
    assert_eq!(hosted.pulls("signals"), 1);
    assert_eq!(hosted.top_level().len(), 3);
    assert_eq!(hosted.slack.messages(FAKE_CHANNEL).len(), messages);
}

#[tokio::test]
async fn forge_5xx_is_retried_and_the_round_recovers() {
    let hosted = Hosted::new(vec![Sample::green("signals")]).await;
    let create = Endpoint::post("/repos/{owner}/{repo}/pulls");
    hosted
        .github
        .faults()
        .script(create.clone(), 2, Fault::status(502));
    let report = hosted.run().await;
    assert_eq!(row(&report, "signals").status, Status::Changed);
    assert_eq!(hosted.pulls("signals"), 1);
    assert_eq!(hosted.github.faults().log().count(&create), 3);
}

#[tokio::test]
async fn forge_down_fails_only_at_forge_and_a_rerun_finishes() {
    let hosted = Hosted::new(vec![Sample::green("signals")]).await;
    let create = Endpoint::post("/repos/{owner}/{repo}/pulls");
    hosted
        .github
        .faults()
        .script(create, 100, Fault::status(503));
    let report = hosted.run().await;
    let r = row(&report, "signals");
    assert_eq!(r.status, Status::Failed);
    assert_eq!(r.failed_stage(), Some(upkeep_maintain::FailedStage::Forge));
    assert_eq!(hosted.pulls("signals"), 0);

    hosted.github.faults().clear();
    let mut round = hosted.round();
    round.retry_failed = true;
    let again = upkeep_maintain::run_round(round).await.unwrap();
    assert_eq!(row(&again, "signals").status, Status::Changed);
    assert_eq!(hosted.pulls("signals"), 1);
    // The thread was updated in place, not posted twice.
    assert_eq!(hosted.top_level().len(), 2);
}

#[tokio::test]
async fn slack_429s_lose_and_double_nothing() {
    let hosted = Hosted::new(vec![Sample::green("signals"), Sample::up_to_date("dash")]).await;
    hosted.slack.rate_limit_next("chat.postMessage", 2, 1);
    let report = hosted.run().await;
    assert!(!report.has_failures(), "{}", report.render_text());
    // The summary and the changed project's message; the up-to-date one is in the summary.
    assert_eq!(hosted.top_level().len(), 2);
    // Every post arrived exactly once, and the two refused attempts were sent again.
    let posted = hosted.slack.messages(FAKE_CHANNEL).len();
    assert_eq!(hosted.slack.calls("chat.postMessage"), posted + 2);
}

#[tokio::test]
async fn the_skip_reaction_skips_a_project_in_the_running_round() {
    let hosted = Hosted::new(vec![failing("billing")]).await;
    hosted.run().await;
    let billing = hosted.project_message("billing").unwrap();
    hosted
        .slack
        .react_as("U_ANN", FAKE_CHANNEL, &billing.ts, "x");
    hosted.set_makefile(&Sample::green("billing"));
    let mut round = hosted.round();
    round.retry_failed = true;
    let report = upkeep_maintain::run_round(round).await.unwrap();
    let r = row(&report, "billing");
    assert_eq!(r.status, Status::Skipped, "{r:?}");
    assert_eq!(hosted.pulls("billing"), 0);
}

#[tokio::test]
async fn sync_adds_what_the_forge_knows_once_and_status_shows_it() {
    let hosted = Hosted::new(vec![Sample::green("signals")]).await;
    let report = hosted.run().await;
    let number = row(&report, "signals")
        .change_request
        .as_ref()
        .unwrap()
        .number;
    hosted
        .github
        .add_review("team/signals", number, "ann", "APPROVED");

    let first = board::sync(&hosted.board_request(), false).await.unwrap();
    assert!(first.problems.is_empty(), "{:?}", first.problems);
    let added: Vec<&str> = first.added.iter().map(|a| a.reaction.as_str()).collect();
    assert_eq!(added, ["white_check_mark"]);
    let again = board::sync(&hosted.board_request(), false).await.unwrap();
    assert!(
        again.added.is_empty(),
        "sync must be idempotent: {:?}",
        again.added
    );

    let _merge = hosted.github.merge_pull("team/signals", number);
    let merged = board::sync(&hosted.board_request(), false).await.unwrap();
    let added: Vec<&str> = merged.added.iter().map(|a| a.reaction.as_str()).collect();
    assert_eq!(added, ["twisted_rightwards_arrows"]);

    let b = board::board(&hosted.board_request()).await.unwrap();
    let p = &b.projects[0];
    assert_eq!(
        p.change_request.as_ref().unwrap().state,
        upkeep_forge::ChangeRequestState::Merged
    );
    assert_eq!(
        p.chat.as_ref().unwrap().furthest_stage,
        Some(upkeep_chat::Stage::Merged)
    );
    assert_eq!(p.status, Some(Status::Changed));
}

#[tokio::test]
async fn a_chat_failure_fails_the_project_at_chat_and_a_plain_rerun_posts_it() {
    let hosted = Hosted::new(vec![Sample::green("signals")]).await;
    // Slack is down for the whole first run (every attempt of every post).
    hosted.slack.faults().script(
        Endpoint::any("/api/chat.postMessage"),
        1000,
        Fault::status(500),
    );
    let report = hosted.run().await;
    let r = row(&report, "signals");
    assert_eq!(r.status, Status::Failed);
    assert_eq!(r.failed_stage(), Some(upkeep_maintain::FailedStage::Chat));
    // The pipeline's work is done and kept: one pull request.
    assert_eq!(hosted.pulls("signals"), 1);
    assert!(
        !report.warnings.is_empty(),
        "the summary failure is reported"
    );

    // Slack is back: a plain re-run (no --retry-failed) only posts, it does not rebuild.
    hosted.slack.faults().clear();
    let again = hosted.run().await;
    let r = row(&again, "signals");
    assert_eq!(r.status, Status::Changed, "{r:?}");
    assert_eq!(hosted.pulls("signals"), 1);
    assert_eq!(hosted.top_level().len(), 2);
    assert_eq!(
        again.to_json()["projects"][0]["failed_stage"],
        serde_json::Value::Null
    );
}

#[tokio::test]
async fn round_opens_a_merge_request_on_gitlab() {
    use upkeep_forge::gitlab::{GitLab, GitLabOptions};
    use upkeep_testkit::gitlab::{FakeGitLab, TOKEN};

    let _ = rustls::crypto::ring::default_provider().install_default();
    let fake = FakeGitLab::start().await;
    fake.create_project("team/services/signals");
    // Two reviewers on GitLab Free (the fake's default tier): one is taken, the other is
    // a warning of the round.
    fake.add_user("alice");
    fake.add_user("bob");
    let state = tempfile::tempdir().unwrap();
    let bare = fake.bare("team/services/signals").path().to_owned();
    let sample = Sample::green("signals");
    Hosted::push_main(&state, &bare, &sample);
    let forge: Arc<dyn Forge> = Arc::new(
        GitLab::connect(
            GitLabOptions::new(
                fake.base_url(),
                SecretString::from(TOKEN.to_owned()),
                state.path().join("gitlab-work"),
            )
            .with_retry(RetryPolicy::fast()),
        )
        .await
        .unwrap(),
    );
    let text = format!(
        "state_dir = \"state\"\n[maintain]\n[[maintain.projects]]\nname = \"signals\"\nrepo = \"{}\"\nreviewers = [\"alice\", \"bob\"]\n",
        bare.display()
    );
    let config = Config::from_str(
        &text,
        &state.path().join("upkeep.toml"),
        std::iter::empty::<(String, String)>(),
    )
    .unwrap()
    .maintain()
    .unwrap()
    .clone();
    let projects = config
        .resolved_projects()
        .into_iter()
        .map(|project| ProjectSetup {
            repo: RepoId::new("team/services/signals"),
            project,
            forge: forge.clone(),
            credentials: Credentials::none(),
        })
        .collect();
    let chat = Arc::new(upkeep_chat::ConsoleChat::new(
        std::io::sink(),
        upkeep_chat::ConsoleFormat::Text,
    ));
    let round = Round {
        id: "2026-11-22".to_owned(),
        date: date(),
        projects,
        config: Arc::new(config),
        excluded: Vec::new(),
        shard: None,
        help_other_shards: false,
        state: crate::support::state_in(state.path()),
        jobs: NonZeroUsize::new(1).unwrap(),
        dry_run: false,
        retry_failed: false,
        chat: chat as Arc<dyn ChatThreads>,
        progress: Arc::new(NoProgress),
        cancel: CancellationToken::new(),
        author: Author::new("upkeep", "upkeep@example.com"),
    };
    let report = upkeep_maintain::run_round(round).await.unwrap();
    let r = row(&report, "signals");
    assert_eq!(r.status, Status::Changed, "{r:?}");
    let mrs = fake.merge_requests("team/services/signals");
    assert_eq!(mrs.len(), 1);
    assert_eq!(mrs[0]["source_branch"], BRANCH);
    assert!(mrs[0]["description"].as_str().unwrap().contains("django"));
    assert_eq!(
        r.change_request.as_ref().unwrap().number,
        mrs[0]["iid"].as_u64().unwrap()
    );
    let link = report.messages[0].change_request.as_ref().unwrap();
    assert_eq!(link.kind, "MR");
    let reviewers: Vec<&str> = mrs[0]["reviewers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(reviewers, ["alice"]);
    let about_bob: Vec<&String> = report
        .warnings
        .iter()
        .filter(|w| w.contains("bob"))
        .collect();
    assert_eq!(about_bob.len(), 1, "{:?}", report.warnings);
    assert!(
        about_bob[0].starts_with("signals: bob was not added as reviewer of ")
            && about_bob[0].contains("one reviewer per merge request"),
        "{about_bob:?}"
    );
}

#[tokio::test]
async fn doctor_reports_a_token_that_cannot_push() {
    use upkeep_maintain::discover::Readers;
    use upkeep_maintain::doctor::{
        DoctorProject, DoctorRequest, Verdict, check_projects, render_text,
    };
    let hosted = Hosted::new(vec![Sample::green("signals"), Sample::green("dashboard")]).await;
    hosted.github.set_permissions("team/signals", false);
    let config = hosted.config();
    let checks = check_projects(&DoctorRequest {
        projects: hosted
            .setups(&config)
            .into_iter()
            .map(DoctorProject::Ready)
            .collect(),
        cache: hosted.state.path().join("doctor"),
        branch: BRANCH.to_owned(),
        set: None,
        readers: Readers::default(),
    })
    .await;
    let access = |project: &str| {
        checks
            .iter()
            .find(|c| {
                c.project.as_deref() == Some(project)
                    && c.check == "token can push and open change requests"
            })
            .unwrap_or_else(|| panic!("no access check for {project}: {checks:#?}"))
    };
    let refused = access("signals");
    assert_eq!(refused.verdict, Verdict::Fail, "{refused:#?}");
    assert!(refused.detail.starts_with("cannot push"), "{refused:#?}");
    assert!(
        refused.fix.as_deref().unwrap().contains("write access"),
        "{refused:#?}"
    );
    assert_eq!(access("dashboard").verdict, Verdict::Ok);

    let text = render_text(&checks);
    assert!(
        text.contains("FAIL  token can push and open change requests: cannot push"),
        "{text}"
    );
    assert!(text.contains("1 problem(s) to fix"), "{text}");
}

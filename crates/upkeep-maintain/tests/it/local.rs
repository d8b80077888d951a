//! Rounds against the local forge and the console chat.

use std::time::Duration;

use upkeep_maintain::{FailedStage, Stage, Status};

use crate::support::{BRANCH, Sample, World, row};

#[tokio::test]
async fn changed_project_gets_branch_change_request_and_thread() {
    let world = World::new(vec![Sample::green("signals")]);
    let report = world.run().await;
    let r = row(&report, "signals");
    assert_eq!(r.status, Status::Changed, "{:?}", r.failure);
    assert_eq!((r.upgrades.major, r.upgrades.minor), (1, 1));

    // The branch is on the remote with the upgraded lockfile, on top of main.
    let on_branch = world
        .file_on_branch("signals", BRANCH, "requirements.txt")
        .unwrap();
    assert!(on_branch.contains("django==5.1.4"), "{on_branch}");
    let main = world
        .fixture("signals")
        .bare_ref("refs/heads/main")
        .unwrap();
    let tip = world.remote_branch("signals").unwrap();
    assert_eq!(r.commit.as_deref(), Some(tip.to_string().as_str()));
    let parent = upkeep_testkit::git::git(
        world.fixture("signals").bare(),
        &["rev-parse", &format!("{tip}^")],
    );
    assert_eq!(parent.trim(), main.to_string());

    // One change request, with the dependency table in its body.
    let crs = world.change_requests("signals");
    assert_eq!(crs.len(), 1);
    let cr = world.open_change_request("signals").await.unwrap();
    assert_eq!(cr.base, "main");
    assert_eq!(cr.labels, ["maintenance"]);
    assert!(cr.body.contains("django"), "{}", cr.body);
    assert!(cr.body.contains("5.1.4"), "{}", cr.body);
    assert_eq!(r.change_request.as_ref().unwrap().number, cr.number);

    // The team was told: summary with the major upgrade, and the project's thread.
    let chat = world.transcript.text();
    assert!(chat.contains("django"), "{chat}");
    assert!(chat.contains("signals"), "{chat}");

    // The journal says so too.
    let journal = world.journal().unwrap();
    let rec = &journal.projects["signals"];
    assert_eq!(rec.status, Some(Status::Changed));
    assert!(rec.pushed);
    assert!(rec.thread.is_some());
    assert!(journal.summary.is_some());
    assert!(report.state.is_some());
    assert!(!report.has_failures());
}

#[tokio::test]
async fn unchanged_project_gets_no_branch_and_no_change_request() {
    let world = World::new(vec![Sample::up_to_date("dashboard")]);
    let report = world.run().await;
    let r = row(&report, "dashboard");
    assert_eq!(r.status, Status::Unchanged);
    assert!(r.change_request.is_none());
    assert!(world.remote_branch("dashboard").is_none());
    assert!(world.change_requests("dashboard").is_empty());
    assert_eq!(report.to_json()["projects"][0]["status"], "unchanged");
}

#[tokio::test]
async fn each_failing_step_is_reported_with_its_stage_and_nothing_is_pushed() {
    let mut upgrade = Sample::green("up");
    upgrade.upgrade = "echo resolver conflict; exit 4".into();
    let mut build = Sample::green("bu");
    build.build = "echo image build broke; exit 5".into();
    let mut test = Sample::green("te");
    test.test = "echo 1 failed; exit 2".into();
    let world = World::new(vec![upgrade, build, test, Sample::green("ok")]);
    let report = world.run().await;

    // make exits 2 whatever the recipe's status; the log says which recipe failed how.
    for (name, stage, code, line) in [
        ("up", FailedStage::Upgrade, 2, "resolver conflict"),
        ("bu", FailedStage::Build, 2, "image build broke"),
        ("te", FailedStage::Test, 2, "1 failed"),
    ] {
        let r = row(&report, name);
        assert_eq!(r.status, Status::Failed, "{name}");
        let f = r.failure.as_ref().unwrap();
        assert_eq!(f.stage, stage, "{name}");
        assert_eq!(f.exit_code, Some(code), "{name}");
        assert!(f.log_tail.contains(line), "{name}: {}", f.log_tail);
        let log = fs_err::read_to_string(f.log.as_ref().unwrap()).unwrap();
        assert!(log.contains(line), "{name}: {log}");
        assert!(
            world.remote_branch(name).is_none(),
            "{name} must not be pushed"
        );
        assert!(world.change_requests(name).is_empty(), "{name}");
    }
    // One project's failure does not stop the others.
    assert_eq!(row(&report, "ok").status, Status::Changed);
    assert!(report.has_failures());
    let rendered = report.render_text();
    assert!(rendered.contains("failures by cause"), "{rendered}");
    assert!(rendered.contains("test: exit code 2"), "{rendered}");
    // The failing thread shows where and the log tail.
    let chat = world.transcript.text();
    assert!(chat.contains("1 failed"), "{chat}");
}

#[tokio::test]
async fn a_step_past_its_timeout_is_killed() {
    let mut slow = Sample::green("slow");
    slow.test = "sleep 30".into();
    slow.test_timeout = Some("1s");
    let world = World::new(vec![slow]);
    let started = std::time::Instant::now();
    let report = world.run().await;
    let r = row(&report, "slow");
    let f = r.failure.as_ref().unwrap();
    assert_eq!(f.stage, FailedStage::Test);
    assert_eq!(f.cause, "timed out");
    // Sanity only (not a timing assertion): far below the 30 s the step asked for.
    assert!(started.elapsed() < Duration::from_secs(25));
}

#[tokio::test]
async fn a_rejected_push_fails_the_project_at_push() {
    let world = World::new(vec![Sample::green("guarded")]);
    world
        .fixture("guarded")
        .install_pre_receive_hook("echo 'maintenance branches are frozen'; exit 1");
    let report = world.run().await;
    let r = row(&report, "guarded");
    assert_eq!(r.status, Status::Failed);
    let f = r.failure.as_ref().unwrap();
    assert_eq!(f.stage, FailedStage::Push);
    assert_eq!(f.cause, "push rejected");
    assert!(f.message.contains("frozen"), "{}", f.message);
    assert!(world.change_requests("guarded").is_empty());
    assert_eq!(report.to_json()["projects"][0]["failed_stage"], "push");
}

#[tokio::test]
async fn rerunning_the_same_day_duplicates_nothing() {
    let world = World::new(vec![Sample::green("signals"), Sample::up_to_date("dash")]);
    let first = world.run().await;
    let tip = world.remote_branch("signals").unwrap();
    let posted = world.chat.message_count();

    // Same round again: everything is finished, nothing runs or is sent.
    let second = world.run().await;
    assert!(row(&second, "signals").from_earlier_run);
    assert_eq!(
        row(&second, "signals").change_request,
        row(&first, "signals").change_request
    );
    assert_eq!(world.chat.message_count(), posted);

    // Journal lost: the pipeline runs again, but the branch is reused as is and the
    // change request is updated, not duplicated.
    world.forget_journal();
    let third = world.run().await;
    assert_eq!(row(&third, "signals").status, Status::Changed);
    assert!(!row(&third, "signals").from_earlier_run);
    assert_eq!(world.remote_branch("signals"), Some(tip));
    assert_eq!(world.change_requests("signals").len(), 1);
    assert_eq!(
        row(&third, "signals").change_request,
        row(&first, "signals").change_request
    );
}

#[tokio::test]
async fn failed_projects_are_retried_only_when_asked() {
    let mut broken = Sample::green("flaky");
    broken.test = "exit 1".into();
    let world = World::new(vec![broken]);
    let first = world.run().await;
    assert_eq!(row(&first, "flaky").status, Status::Failed);

    // Fixed on main, but a plain re-run does not touch a failed project.
    world.set_makefile(&Sample::green("flaky"));
    let second = world.run().await;
    assert_eq!(row(&second, "flaky").status, Status::Failed);
    assert!(row(&second, "flaky").from_earlier_run);

    let mut round = world.round();
    round.retry_failed = true;
    let third = upkeep_maintain::run_round(round).await.unwrap();
    assert_eq!(row(&third, "flaky").status, Status::Changed);
    assert_eq!(world.change_requests("flaky").len(), 1);
}

#[tokio::test]
async fn dry_run_shows_everything_and_changes_nothing() {
    let world = World::new(vec![Sample::green("signals")]);
    let mut round = world.round();
    round.dry_run = true;
    let report = upkeep_maintain::run_round(round).await.unwrap();
    let r = row(&report, "signals");
    assert_eq!(r.status, Status::Changed);
    let planned = r.planned_change_request.as_ref().unwrap();
    assert_eq!(planned.head, BRANCH);
    assert!(planned.body.contains("django"), "{}", planned.body);
    assert!(world.remote_branch("signals").is_none());
    assert!(world.change_requests("signals").is_empty());
    assert_eq!(world.chat.message_count(), 0);
    assert!(world.journal().is_none());
    assert_eq!(report.messages.len(), 1);
    assert!(report.summary.as_ref().unwrap().major_upgrades[0].package == "django");
}

#[tokio::test]
async fn interrupted_round_resumes_to_the_same_final_state() {
    let mut slow = Sample::green("slow");
    slow.build = "sleep 30".into();
    let world = World::new(vec![Sample::green("fast"), slow]);
    let round = world.round();
    let cancel = round.cancel.clone();
    let state = world.state.path().to_owned();
    // Cancel once the slow project is building and the fast one's message is out: the
    // step is killed, the journal kept. (Waiting only for the fast project's status raced
    // its post on a loaded machine: a cancel between the two leaves the post to the
    // resumed run, which is right, but not what this test looks at.)
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if let Some(j) = crate::support::journal_in(&state, "2026-11-22")
                && j.projects
                    .get("slow")
                    .is_some_and(|p| p.stage == Stage::Build)
                && j.projects
                    .get("fast")
                    .is_some_and(|p| p.status.is_some() && p.thread.is_some() && !p.chat_pending)
            {
                cancel.cancel();
                return;
            }
        }
    });
    let interrupted = upkeep_maintain::run_round(round).await.unwrap();
    assert!(interrupted.interrupted);
    assert_eq!(row(&interrupted, "fast").status, Status::Changed);
    // The fast project's message went out when it ended; the summary waits for the end
    // of the round.
    let chat = world.transcript.text();
    assert!(chat.contains("fast"), "{chat}");
    assert!(!chat.contains("slow"), "{chat}");
    assert!(interrupted.summary_delivery.is_none());

    // Resume with the step fixed: the finished project is not run again.
    world.set_makefile(&Sample::green("slow"));
    let resumed = world.run().await;
    assert!(!resumed.interrupted);
    assert!(row(&resumed, "fast").from_earlier_run);
    assert_eq!(row(&resumed, "slow").status, Status::Changed);
    for name in ["fast", "slow"] {
        assert_eq!(world.change_requests(name).len(), 1, "{name}");
        assert!(world.remote_branch(name).is_some(), "{name}");
    }
    let journal = world.journal().unwrap();
    assert!(
        journal
            .projects
            .values()
            .all(|p| p.thread.is_some() && !p.chat_pending)
    );
}

#[tokio::test]
async fn twenty_projects_with_four_jobs() {
    let samples: Vec<Sample> = (0..20)
        .map(|i| {
            if i % 5 == 0 {
                Sample::up_to_date(&format!("p{i:02}"))
            } else {
                Sample::green(&format!("p{i:02}"))
            }
        })
        .collect();
    let world = World::new(samples);
    let report = world.run().await;
    assert_eq!(report.projects.len(), 20);
    let counts = report.counts();
    assert_eq!(counts.get("changed"), Some(&16));
    assert_eq!(counts.get("unchanged"), Some(&4));
    let summary = report.summary.as_ref().unwrap();
    assert_eq!(summary.major_upgrades.len(), 1);
    assert_eq!(summary.major_upgrades[0].projects.len(), 16);
}

#[tokio::test]
async fn skipped_with_flag_is_reported_and_not_run() {
    let world = World::new(vec![Sample::green("a"), Sample::green("b")]);
    let config = world.config();
    let (selected, excluded) = upkeep_maintain::select(&config, &[], &["b".to_owned()]).unwrap();
    assert_eq!(selected.len(), 1);
    let mut round = world.round();
    round.projects.retain(|p| p.project.name == "a");
    round.excluded = excluded;
    let report = upkeep_maintain::run_round(round).await.unwrap();
    assert_eq!(row(&report, "b").status, Status::Skipped);
    assert!(world.remote_branch("b").is_none());
    let err = upkeep_maintain::select(&config, &["c".to_owned()], &[]).unwrap_err();
    assert!(err.to_string().contains("no project named `c`"), "{err}");
}

#[tokio::test]
async fn a_maintenance_branch_with_someone_elses_commit_is_never_overwritten() {
    let world = World::new(vec![Sample::green("signals")]);
    world.run().await;
    // A teammate pushes a fix onto today's branch; then the journal is lost and the
    // round runs again.
    let fx = world.fixture("signals");
    let teammate = fx.clone_work("teammate");
    upkeep_testkit::git::git(teammate.path(), &["fetch", "--quiet", "origin"]);
    upkeep_testkit::git::git(
        teammate.path(),
        &[
            "checkout",
            "--quiet",
            "-b",
            BRANCH,
            &format!("origin/{BRANCH}"),
        ],
    );
    let fix = teammate.commit_file("NOTES.md", "fixed the settings for Django 5\n", "fix");
    upkeep_testkit::git::git(teammate.path(), &["push", "--quiet", "origin", BRANCH]);
    world.forget_journal();
    let report = world.run().await;
    let r = row(&report, "signals");
    assert_eq!(r.status, Status::Failed);
    let f = r.failure.as_ref().unwrap();
    assert_eq!(f.stage, FailedStage::Push);
    assert_eq!(f.cause, "branch has commits by others");
    assert_eq!(world.remote_branch("signals"), Some(fix));
}

#[tokio::test]
async fn an_amended_maintenance_commit_is_never_overwritten() {
    let world = World::new(vec![Sample::green("signals")]);
    world.run().await;
    // A teammate amends upkeep's commit (the author stays upkeep; the committer is them)
    // and force-pushes it; then the journal is lost and the round runs again.
    let fx = world.fixture("signals");
    let teammate = fx.clone_work("teammate");
    let git = |args: &[&str]| upkeep_testkit::git::git(teammate.path(), args);
    git(&["fetch", "--quiet", "origin"]);
    git(&[
        "checkout",
        "--quiet",
        "-b",
        BRANCH,
        &format!("origin/{BRANCH}"),
    ]);
    fs_err::write(teammate.path().join("NOTES.md"), "pinned urllib3 by hand\n").unwrap();
    git(&["add", "NOTES.md"]);
    git(&[
        "-c",
        "user.email=teammate@example.org",
        "commit",
        "--quiet",
        "--amend",
        "--no-edit",
    ]);
    git(&["push", "--quiet", "--force", "origin", BRANCH]);
    let amended = world.remote_branch("signals");
    world.forget_journal();
    let report = world.run().await;
    let r = row(&report, "signals");
    assert_eq!(r.status, Status::Failed);
    assert_eq!(
        r.failure.as_ref().unwrap().cause,
        "branch has commits by others"
    );
    assert_eq!(
        world.remote_branch("signals"),
        amended,
        "the amended commit survives"
    );
}

#[tokio::test]
async fn up_to_date_projects_are_a_line_of_the_summary_unless_configured() {
    let world = World::new(vec![Sample::green("signals"), Sample::up_to_date("docs")]);
    let report = world.run().await;
    assert_eq!(row(&report, "docs").status, Status::Unchanged);
    // The summary and the changed project's message: one post each, nothing else.
    assert_eq!(world.chat.message_count(), 2);
    let chat = world.transcript.text();
    assert!(chat.contains("Up to date: docs"), "{chat}");
    assert!(!chat.contains("(project docs"), "{chat}");
    assert_eq!(report.messages.len(), 1, "only signals gets a message");

    // With `post_unchanged`, a re-run of the round gives it a message (no checklist).
    let mut round = world.round();
    let mut config = (*round.config).clone();
    config.chat.post_unchanged = true;
    round.config = std::sync::Arc::new(config);
    let again = upkeep_maintain::run_round(round).await.unwrap();
    assert_eq!(again.messages.len(), 2);
    assert_eq!(world.chat.message_count(), 3);
    let chat = world.transcript.text();
    let docs = chat
        .split("== ")
        .find(|m| m.contains("(project docs"))
        .expect("a message for docs");
    assert!(
        docs.contains("docs — up to date: nothing to upgrade"),
        "{docs}"
    );
    assert!(!docs.contains("Checklist"), "{docs}");
}

#[tokio::test]
async fn a_failed_project_names_the_upgrades_of_its_failed_tree() {
    let mut broken = Sample::green("billing");
    broken.test = "echo 'E   ImportError: django.utils.six'; exit 1".into();
    let world = World::new(vec![broken]);
    let report = world.run().await;
    let r = row(&report, "billing");
    assert_eq!(r.status, Status::Failed);
    assert_eq!(r.failed_stage(), Some(FailedStage::Test));
    // Nothing was committed, yet the upgrades are known: from the failed work tree.
    assert!(world.remote_branch("billing").is_none());
    assert_eq!((r.upgrades.major, r.upgrades.minor), (1, 1));
    let chat = world.transcript.text();
    assert!(
        chat.contains(
            "billing — `make test` failed (exit code 2) after `django` 4.2.16 → 5.1.4 (major, direct), `requests` 2.31.0 → 2.32.3 (minor, direct)"
        ),
        "{chat}"
    );
    assert!(chat.contains("Upgraded before it failed (2):"), "{chat}");
    assert!(
        chat.contains("• :boom: billing: `make test` failed after `django` 4.2.16 → 5.1.4 (major, direct) and 1 other change"),
        "{chat}"
    );
    let text = report.render_text();
    assert!(
        text.contains("      after django 4.2.16 → 5.1.4 (major, direct), requests 2.31.0 → 2.32.3 (minor, direct)\n"),
        "{text}"
    );
}

#[tokio::test]
async fn a_huge_lockfile_change_still_opens_a_change_request_within_the_limit() {
    let mut huge = Sample::green("monorepo");
    // 4000 packages where there were two: far more table than a PR body may hold.
    huge.upgrade = "seq 1 4000 | sed 's/.*/package-&==2.0.&/' > requirements.txt".into();
    let world = World::new(vec![huge]);
    let report = world.run().await;
    let r = row(&report, "monorepo");
    assert_eq!(r.status, Status::Changed, "{:?}", r.failure);
    let cr = world.open_change_request("monorepo").await.unwrap();
    assert!(cr.body.len() <= 65_536, "{} bytes", cr.body.len());
    assert!(cr.body.len() > 60_000, "{} bytes", cr.body.len());
    assert!(cr.body.contains("more changes not listed"), "{}", cr.body);
    assert!(
        cr.body
            .starts_with("Maintenance round `2026-11-22` of **monorepo**")
    );
}

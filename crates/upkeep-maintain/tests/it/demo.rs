//! `maintain demo`: what the team reads on the demo round — the "done when".

use upkeep_maintain::demo::{DemoOutcome, run_demo};
use upkeep_maintain::{ProjectReport, Status};

use crate::support::date;

fn project<'a>(outcome: &'a DemoOutcome, name: &str) -> &'a ProjectReport {
    outcome
        .report
        .projects
        .iter()
        .find(|p| p.name == name)
        .unwrap()
}

#[tokio::test]
async fn the_demo_summary_is_short_and_every_message_says_what_matters() {
    let tmp = tempfile::tempdir().unwrap();
    let outcome = run_demo(
        tmp.path(),
        date(),
        std::sync::Arc::new(upkeep_maintain::NoProgress),
        upkeep_maintain::CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(project(&outcome, "signals").status, Status::Changed);
    assert_eq!(project(&outcome, "webapp").status, Status::Changed);
    assert_eq!(project(&outcome, "dashboard").status, Status::Unchanged);
    assert_eq!(project(&outcome, "billing").status, Status::Failed);

    summary_is_short_and_names_every_direct_major(&outcome);
    one_message_per_project_and_the_failure_names_its_upgrades(&outcome);
    change_request_opens_with_the_direct_changes(&outcome);

    // The kept configuration posts to the channel the demo showed.
    let config = fs_err::read_to_string(tmp.path().join("upkeep.toml")).unwrap();
    assert!(
        config.contains("channel = \"#team-maintenance\""),
        "{config}"
    );
    // Each project's message is posted as it ends; the summary once all have.
    let last = outcome.chat.rsplit("\n== ").next().unwrap();
    assert!(last.contains("(summary"), "{last}");
}

fn summary_is_short_and_names_every_direct_major(outcome: &DemoOutcome) {
    let summary = outcome
        .chat
        .split("\n== ")
        .find(|m| m.contains("(summary"))
        .unwrap()
        .trim_end();
    let lines = summary.lines().count() - 1; // the console's own header line
    assert!(lines <= 15, "{lines} lines:\n{summary}");
    // Every direct major, and no transitive package among them.
    let diff = project(outcome, "webapp").diff.as_ref().unwrap();
    let direct_majors: Vec<&str> = diff
        .changes()
        .filter(|(_, c)| c.likely_breaking && c.direct != Some(false))
        .map(|(_, c)| c.name.as_str())
        .collect();
    assert_eq!(direct_majors, ["dotenv", "eslint", "express", "uuid"]);
    let transitive = diff
        .changes()
        .filter(|(_, c)| c.direct == Some(false))
        .count();
    assert!(transitive > 100, "{transitive} transitive changes");
    for package in direct_majors.iter().chain(&["django"]) {
        assert!(
            summary.contains(&format!("• `{package}` ")),
            "{package}:\n{summary}"
        );
    }
    assert!(
        summary.contains(&format!("webapp: {transitive} changes")),
        "{summary}"
    );
    assert!(summary.contains("Up to date: dashboard"), "{summary}");
}

fn one_message_per_project_and_the_failure_names_its_upgrades(outcome: &DemoOutcome) {
    let messages: Vec<&str> = outcome.chat.split("\n== ").collect();
    let of = |name: &str| -> Vec<&str> {
        messages
            .iter()
            .copied()
            .filter(|m| m.contains(&format!("(project {name},")))
            .collect()
    };
    for name in ["signals", "webapp", "billing"] {
        assert_eq!(of(name).len(), 1, "{name}");
    }
    assert!(of("dashboard").is_empty());
    // The checklist is in the changed projects' messages; the only reply is the failure's.
    assert!(
        of("webapp")[0].contains("Checklist: "),
        "{}",
        of("webapp")[0]
    );
    assert_eq!(
        outcome.chat.matches("· reply ").count(),
        1,
        "{}",
        outcome.chat
    );
    assert!(
        of("billing")[0].contains(
            "`make test` failed (exit code 2) after `sqlalchemy` 1.4.52 → 2.0.36 (major, direct)"
        ),
        "{}",
        of("billing")[0]
    );
}

fn change_request_opens_with_the_direct_changes(outcome: &DemoOutcome) {
    let (_, cr) = outcome
        .change_requests
        .iter()
        .find(|(name, _)| name == "webapp")
        .unwrap();
    let first_screen: String = cr.body.lines().take(20).collect::<Vec<_>>().join("\n");
    for package in ["dotenv", "eslint", "express", "lodash", "uuid"] {
        assert!(
            first_screen.contains(&format!("| {package} |")),
            "{first_screen}"
        );
    }
    assert!(first_screen.contains("<details>"), "{first_screen}");
    let details = cr.body.find("<details>").unwrap();
    assert!(cr.body.find("| accepts |").unwrap() > details);
}

//! The board and the end-of-run report as JSON, Markdown and HTML, on a board full of
//! hostile text (a package name, a log tail, a forge URL, chat user names and reaction
//! names, a skip reason, a problem): the shapes are pinned with snapshots, and the HTML
//! page is loaded in headless Chromium to check what is on it.

use std::path::PathBuf;
use std::time::Duration;

use upkeep_chat::{Reaction, Stage as TeamStage, UpgradeCounts};
use upkeep_deps::{Change, ChangeKind, DiffReport, Ecosystem, LockfileDiff};
use upkeep_forge::ChangeRequestState;
use upkeep_maintain::board::{Board, BoardChangeRequest, BoardRow, ChatState};
use upkeep_maintain::journal::ChangeRequestRef;
use upkeep_maintain::render::{html, markdown};
use upkeep_maintain::{FailedStage, Failure, ProjectReport, RoundReport, Stage, Status};
use upkeep_testkit::browser::{self, Dom, Element};

const EVIL_PACKAGE: &str = "<img src=x onerror=alert(1)>|**x**";
const EVIL_LOG: &str = "\u{1b}[31mFAILED\u{1b}[0m tests/test_db.py::test_query\n</pre><script>alert(\"pwned\")</script>\n```\n</details> <b>bold</b> & done\n";
const EVIL_URL: &str = "javascript:alert(document.cookie)";
const EVIL_USER: &str = "<svg onload=alert(1)>";
const EVIL_REACTION: &str = "\"><iframe src=//evil.example>";

fn change(name: &str, from: &str, to: &str, kind: ChangeKind, direct: bool) -> Change {
    Change {
        name: name.into(),
        from: Some(from.into()),
        to: Some(to.into()),
        kind,
        direct: Some(direct),
        likely_breaking: kind == ChangeKind::Major,
        ecosystem: Ecosystem::Pypi,
    }
}

fn diff(changes: Vec<Change>) -> DiffReport {
    DiffReport {
        lockfiles: vec![LockfileDiff {
            path: "requirements.txt".into(),
            ecosystem: Ecosystem::Pypi,
            changes,
        }],
        errors: Vec::new(),
    }
}

fn billing_failure() -> Failure {
    Failure {
        stage: FailedStage::Test,
        message: "`make test` exited with 2".into(),
        cause: "exit code 2".into(),
        exit_code: Some(2),
        log: Some(PathBuf::from(
            "/srv/upkeep/logs/2026-11-22/billing/test.log",
        )),
        log_tail: EVIL_LOG.into(),
    }
}

fn counts(major: usize, minor: usize, patch: usize) -> UpgradeCounts {
    UpgradeCounts {
        major,
        minor,
        patch,
        other: 0,
    }
}

fn row(name: &str, status: Option<Status>) -> BoardRow {
    BoardRow {
        name: name.into(),
        status,
        stage: status.map(|_| Stage::Done),
        failure: None,
        skip_reason: None,
        upgrades: UpgradeCounts::default(),
        diff: None,
        change_request: None,
        chat: None,
        problems: Vec::new(),
    }
}

/// Five projects: changed and merged, failed at test, up to date, skipped, and one the
/// journal does not know whose change request has a hostile URL and whose tags could
/// not be read.
fn hostile_board() -> Board {
    let mut signals = row("signals", Some(Status::Changed));
    signals.upgrades = counts(2, 1, 0);
    signals.diff = Some(diff(vec![
        change("django", "4.2.16", "5.1.4", ChangeKind::Major, true),
        change(EVIL_PACKAGE, "1.0.0", "2.0.0", ChangeKind::Major, true),
        change("requests", "2.31.0", "2.32.3", ChangeKind::Minor, true),
    ]));
    signals.change_request = Some(BoardChangeRequest {
        number: 12,
        url: "https://github.com/team/signals/pull/12?a=1&b=\"2\"".into(),
        state: ChangeRequestState::Merged,
        approvers: vec!["ann".into()],
    });
    signals.chat = Some(ChatState {
        furthest_stage: Some(TeamStage::DeployedAcceptance),
        who: vec!["U024BE7LH".into(), EVIL_USER.into()],
        skip: false,
        failing: false,
        reactions: vec![
            Reaction {
                name: "eyes".into(),
                users: vec!["U024BE7LH".into(), EVIL_USER.into()],
            },
            Reaction {
                name: EVIL_REACTION.into(),
                users: vec!["U1".into()],
            },
            Reaction {
                name: "tada".into(),
                users: Vec::new(),
            },
        ],
    });

    let mut billing = row("billing", Some(Status::Failed));
    billing.stage = Some(Stage::Test);
    billing.failure = Some(billing_failure());
    billing.upgrades = counts(1, 0, 0);
    billing.diff = Some(diff(vec![change(
        "sqlalchemy",
        "1.4.52",
        "2.0.36",
        ChangeKind::Major,
        true,
    )]));
    billing.chat = Some(ChatState {
        furthest_stage: None,
        who: Vec::new(),
        skip: false,
        failing: true,
        reactions: vec![Reaction {
            name: "boom".into(),
            users: vec!["upkeep".into()],
        }],
    });

    let dashboard = row("dashboard", Some(Status::Unchanged));

    let mut legacy = row("legacy", Some(Status::Skipped));
    legacy.stage = Some(Stage::Queued);
    legacy.skip_reason = Some("the :x: reaction by <b>ann</b>".into());

    let mut ghost = row("ghost", None);
    ghost.stage = None;
    ghost.change_request = Some(BoardChangeRequest {
        number: 3,
        url: EVIL_URL.into(),
        state: ChangeRequestState::Open,
        approvers: Vec::new(),
    });
    ghost.problems = vec!["cannot read tags: <b>500</b> Internal Server Error".into()];

    Board {
        round: "2026-11-22".into(),
        branch: "feature/maintenance-26-11-22".into(),
        projects: vec![signals, billing, dashboard, legacy, ghost],
    }
}

fn report_row(name: &str, status: Status) -> ProjectReport {
    ProjectReport {
        name: name.into(),
        status,
        stage: Stage::Done,
        failure: None,
        skip_reason: None,
        branch: None,
        commit: None,
        change_request: None,
        planned_change_request: None,
        upgrades: UpgradeCounts::default(),
        diff: None,
        duration_ms: 1500,
        from_earlier_run: false,
        unfinished: None,
    }
}

fn hostile_report() -> RoundReport {
    let mut signals = report_row("signals", Status::Changed);
    signals.change_request = Some(ChangeRequestRef {
        url: "https://github.com/team/signals/pull/12".into(),
        number: 12,
    });
    signals.upgrades = counts(2, 1, 0);
    signals.diff.clone_from(&hostile_board().projects[0].diff);
    let mut webapp = report_row("webapp", Status::Changed);
    webapp.change_request = Some(ChangeRequestRef {
        url: EVIL_URL.into(),
        number: 4,
    });
    webapp.upgrades = counts(1, 0, 0);
    webapp.diff = Some(diff(vec![change(
        "django",
        "4.2.16",
        "5.1.4",
        ChangeKind::Major,
        true,
    )]));
    let mut billing = report_row("billing", Status::Failed);
    billing.stage = Stage::Test;
    billing.failure = Some(billing_failure());
    billing.upgrades = counts(1, 0, 0);
    billing.diff.clone_from(&hostile_board().projects[1].diff);
    let mut legacy = report_row("legacy", Status::Skipped);
    legacy.skip_reason = Some("--skip".into());
    RoundReport {
        round: "2026-11-22".into(),
        dry_run: false,
        interrupted: false,
        projects: vec![
            signals,
            webapp,
            billing,
            report_row("dashboard", Status::Unchanged),
            legacy,
        ],
        state: None,
        state_saved: true,
        summary: None,
        summary_delivery: None,
        messages: Vec::new(),
        warnings: vec!["cannot post the round summary: <!channel> is down".into()],
    }
}

#[test]
fn json_shapes_share_one_vocabulary() {
    let board = hostile_board().to_json();
    let report = hostile_report().to_json();
    insta::assert_json_snapshot!("status_json", board);
    insta::assert_json_snapshot!("run_json", report);
    // The same fact has the same name in both documents.
    let keys = |v: &serde_json::Value| -> Vec<String> {
        v["projects"][0]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    let (b, r) = (keys(&board), keys(&report));
    for shared in [
        "name",
        "status",
        "failed_stage",
        "failure",
        "skip_reason",
        "change_request",
        "upgrades",
        "diff",
    ] {
        assert!(
            b.iter().any(|k| k == shared),
            "status lacks {shared}: {b:?}"
        );
        assert!(r.iter().any(|k| k == shared), "run lacks {shared}: {r:?}");
    }
    assert_eq!(
        board["projects"][1]["failure"],
        report["projects"][2]["failure"]
    );
}

#[test]
fn markdown_report_and_board_escape_what_they_show() {
    let report = markdown::round_report(&hostile_report());
    insta::assert_snapshot!("run_markdown", report);
    let board = markdown::board(&hostile_board());
    insta::assert_snapshot!("status_markdown", board);
    for text in [&report, &board] {
        // Every table row has the header's number of cells: no `|` got through.
        let rows: Vec<&str> = text.lines().filter(|l| l.starts_with('|')).collect();
        let cells = |l: &str| l.replace("\\|", "").matches('|').count();
        assert!(rows.iter().all(|r| cells(r) == cells(rows[0])), "{text}");
        // Outside code (where Markdown shows text as written), no HTML but upkeep's own
        // `<details>` folds.
        let prose = outside_code(text).replace("\\<", "");
        for tag in ["<img", "<script", "<b>", "<svg", "<iframe"] {
            assert!(!prose.contains(tag), "{tag} in {prose}");
        }
        assert!(!text.contains("](javascript"), "{text}");
        assert!(!text.contains('\u{1b}'), "{text}");
    }
}

/// The Markdown without fenced code blocks and code spans.
fn outside_code(text: &str) -> String {
    let mut out = String::new();
    let mut fence: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        let ticks: String = trimmed.chars().take_while(|c| *c == '`').collect();
        match &fence {
            Some(f) if trimmed.starts_with(f.as_str()) && trimmed.trim_end() == f.as_str() => {
                fence = None;
            }
            Some(_) => {}
            None if ticks.len() >= 3 => fence = Some(ticks),
            None => {
                // Code spans: a run of N backticks up to the next run of N.
                let mut rest = line;
                while let Some(i) = rest.find('`') {
                    if rest[..i].ends_with('\\') {
                        out.push_str(&rest[..=i]);
                        rest = &rest[i + 1..];
                        continue;
                    }
                    out.push_str(&rest[..i]);
                    let n = rest[i..].chars().take_while(|c| *c == '`').count();
                    let after = &rest[i + n..];
                    let close = "`".repeat(n);
                    rest = after.find(&close).map_or("", |j| &after[j + n..]);
                }
                out.push_str(rest);
                out.push('\n');
            }
        }
    }
    out
}

#[test]
fn html_board_snapshot() {
    insta::assert_snapshot!("status_html", html::board_page(&hostile_board()));
}

fn cell<'a>(row: &'a Element, stage: &str) -> &'a Element {
    row.find(|e| e.tag == "td" && e.attr("data-stage") == Some(stage))
        .unwrap_or_else(|| panic!("no {stage} cell in {row:?}"))
}

#[test]
#[allow(clippy::too_many_lines)] // One page, checked cell by cell.
fn html_board_in_a_real_browser() {
    let Some(chromium) = browser::chromium("html_board_in_a_real_browser") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("board.html");
    fs_err::write(&page, html::board_page(&hostile_board())).unwrap();
    let dom = Dom::parse(&browser::dump_dom(&chromium, &page, Duration::from_mins(2)));
    let body = dom.body();

    // Nothing hostile became an element: no script, image, frame or SVG anywhere, and
    // the only links are the change requests with http(s) URLs.
    for tag in ["script", "img", "iframe", "svg", "object", "embed", "link"] {
        assert!(dom.root.by_tag(tag).is_empty(), "a <{tag}> element got in");
    }
    let links: Vec<&str> = body
        .by_tag("a")
        .iter()
        .filter_map(|a| a.attr("href"))
        .collect();
    assert_eq!(
        links,
        ["https://github.com/team/signals/pull/12?a=1&b=\"2\""]
    );
    assert!(
        dom.root
            .find(|e| e.tag == "meta" && e.attr("http-equiv") == Some("Content-Security-Policy"))
            .and_then(|m| m.attr("content"))
            .is_some_and(|c| c.starts_with("default-src 'none'"))
    );
    assert_eq!(body.by_id("round").unwrap().text(), "2026-11-22");
    assert_eq!(
        body.by_id("counts").unwrap().text(),
        "1 changed, 1 unchanged, 1 failed, 1 skipped, 1 unknown"
    );

    // signals: the whole pipeline passed, the pull request is merged, the team got to
    // acceptance; the hostile package, user and reaction names are text.
    let signals = body.by_id("project-signals").unwrap();
    for stage in ["upgrade", "build", "test"] {
        assert_eq!(cell(signals, stage).text(), "✓", "{stage}");
    }
    let cr = cell(signals, "change request");
    assert_eq!(cr.by_tag("a")[0].text(), "#12");
    assert!(cr.text().contains("merged"), "{}", cr.text());
    assert!(cr.text().contains("approved by ann"), "{}", cr.text());
    for stage in ["reviewed", "merged", "deployed to acceptance"] {
        assert!(cell(signals, stage).has_class("done"), "{stage}");
    }
    for stage in ["checked on acceptance", "tagged", "checked on production"] {
        assert!(cell(signals, stage).has_class("pending"), "{stage}");
    }
    let breaking = signals.find(|e| e.has_class("breaking")).unwrap();
    let packages: Vec<String> = breaking
        .find_all(|e| e.has_class("package"))
        .iter()
        .map(|e| e.text())
        .collect();
    assert_eq!(packages, [EVIL_PACKAGE, "django"]);
    assert!(
        signals
            .find(|e| e.has_class("who"))
            .unwrap()
            .text()
            .contains(EVIL_USER)
    );
    let reactions = signals.find(|e| e.has_class("reactions")).unwrap();
    assert!(reactions.text().contains(&format!(":{EVIL_REACTION}: 1")));
    assert!(reactions.text().contains(":eyes: 2"));
    assert!(!reactions.text().contains("tada"), "no one reacted :tada:");

    // billing: failed at test; its article has the message, the upgrade and the log
    // tail as text, without the terminal's colour codes.
    let billing = body.by_id("project-billing").unwrap();
    assert_eq!(billing.attr("data-status"), Some("failed"));
    assert_eq!(cell(billing, "build").text(), "✓");
    assert!(cell(billing, "test").has_class("failed"));
    assert_eq!(cell(billing, "test").text(), "✗");
    assert!(cell(billing, "change request").has_class("pending"));
    assert!(cell(billing, "merged").has_class("not-needed"));
    let failure = body.by_id("failure-billing").unwrap();
    assert!(failure.text().contains("`make test` exited with 2"));
    assert!(failure.text().contains("sqlalchemy"));
    let log = failure.find(|e| e.tag == "pre").unwrap().text();
    assert!(log.contains("FAILED tests/test_db.py::test_query"), "{log}");
    assert!(
        log.contains("</pre><script>alert(\"pwned\")</script>"),
        "{log}"
    );
    assert!(log.contains("</details> <b>bold</b> & done"), "{log}");
    assert!(!log.contains('\u{1b}'), "{log}");

    // dashboard: nothing to do; legacy: skipped with its reason as text.
    let dashboard = body.by_id("project-dashboard").unwrap();
    assert_eq!(cell(dashboard, "test").text(), "✓");
    assert!(cell(dashboard, "change request").has_class("not-needed"));
    let legacy = body.by_id("project-legacy").unwrap();
    assert!(
        legacy
            .find(|e| e.has_class("result"))
            .unwrap()
            .text()
            .contains("the :x: reaction by <b>ann</b>")
    );
    assert!(cell(legacy, "upgrade").has_class("skipped"));

    // ghost: the journal does not know it; its hostile URL is shown, not linked; the
    // problem is listed.
    let ghost = body.by_id("project-ghost").unwrap();
    assert!(cell(ghost, "upgrade").has_class("unknown"));
    let cr = cell(ghost, "change request");
    assert!(cr.by_tag("a").is_empty());
    assert!(cr.text().contains(EVIL_URL), "{}", cr.text());
    let problems = body.by_id("problems").unwrap().text();
    assert!(
        problems.contains("cannot read tags: <b>500</b> Internal Server Error"),
        "{problems}"
    );
}

//! A five-project round used by every test, and small helpers.

use std::io::Write;
use std::sync::{Arc, Mutex};

use upkeep_chat::{
    ChangeRequestLink, PackageChange, ProjectMessage, ProjectResult, RoundId, RoundSummary,
    UpgradeCounts, UpgradeKind,
};

pub(crate) const ROUND: &str = "2025-06-02";

fn pr(url: &str, number: u64, kind: &str) -> ChangeRequestLink {
    ChangeRequestLink {
        url: url.into(),
        number: Some(number),
        kind: kind.into(),
    }
}

fn change(package: &str, from: &str, to: &str, kind: UpgradeKind, direct: bool) -> PackageChange {
    PackageChange {
        package: package.into(),
        from: Some(from.into()),
        to: Some(to.into()),
        kind,
        likely_breaking: kind == UpgradeKind::Major || from.starts_with("0."),
        direct: Some(direct),
    }
}

/// Five projects: two changed, one failed (with a name, branch and log that need escaping),
/// one unchanged, one skipped.
pub(crate) fn projects() -> Vec<ProjectMessage> {
    use UpgradeKind::{Major, Minor, Patch};
    let round = RoundId::new(ROUND);
    let branch = Some("feature/maintenance-25-06-02".to_owned());
    let counts = |major, minor, patch| UpgradeCounts {
        major,
        minor,
        patch,
        other: 0,
    };
    vec![
        ProjectMessage {
            round: round.clone(),
            project: "signals".into(),
            branch: branch.clone(),
            change_request: Some(pr("https://github.com/amsterdam/signals/pull/12", 12, "PR")),
            result: ProjectResult::Changed,
            upgrades: counts(2, 5, 3),
            changes: vec![
                change("django", "4.2", "5.1", Major, true),
                change("celery", "4.4", "5.3", Major, true),
                change("requests", "2.31.0", "2.32.3", Minor, true),
                change("asgiref", "3.8.1", "3.9.0", Minor, false),
                change("kombu", "5.3.7", "5.4.2", Minor, false),
                change("vine", "5.1.0", "5.2.0", Minor, false),
                change("sqlparse", "0.4.4", "0.5.1", Minor, false),
                change("urllib3", "2.2.1", "2.2.3", Patch, false),
                change("idna", "3.6", "3.7", Patch, false),
                change("certifi", "2024.2.2", "2024.8.30", Patch, false),
            ],
        },
        ProjectMessage {
            round: round.clone(),
            project: "dashboard".into(),
            branch: branch.clone(),
            change_request: Some(pr("https://gitlab.example/data/dashboard/-/merge_requests/7", 7, "MR")),
            result: ProjectResult::Changed,
            upgrades: counts(1, 0, 4),
            changes: vec![
                change("django", "4.2", "5.1", Major, true),
                change("pytz", "2024.1", "2024.2", Patch, false),
                change("six", "1.16.0", "1.16.1", Patch, false),
                change("tzdata", "2024.1", "2024.2", Patch, false),
                change("whitenoise", "6.7.0", "6.7.1", Patch, true),
            ],
        },
        ProjectMessage {
            round: round.clone(),
            project: "import <legacy> & co".into(),
            branch: Some("feature/a&b<c>".into()),
            change_request: None,
            result: ProjectResult::Failed {
                stage: "make test".into(),
                exit_code: Some(2),
                log_tail: "collecting ...\nFAILED tests/test_x.py::test_a - assert 1 < 2 && x > y\n=== 1 failed in 0.42s ===\n".into(),
            },
            upgrades: counts(1, 1, 0),
            changes: vec![
                change("pydantic-settings", "0.2", "0.3", Minor, true),
                change("pandas", "1.5.3", "2.2.3", Major, true),
            ],
        },
        ProjectMessage {
            round: round.clone(),
            project: "docs".into(),
            branch: None,
            change_request: None,
            result: ProjectResult::Unchanged,
            upgrades: UpgradeCounts::default(),
            changes: Vec::new(),
        },
        ProjectMessage {
            round,
            project: "archive".into(),
            branch: None,
            change_request: None,
            result: ProjectResult::Skipped { reason: "disabled in upkeep.toml".into() },
            upgrades: UpgradeCounts::default(),
            changes: Vec::new(),
        },
    ]
}

pub(crate) fn summary(projects: &[ProjectMessage]) -> RoundSummary {
    RoundSummary::from_messages(RoundId::new(ROUND), projects)
}

/// The projects that get a message of their own by default (changed and failed ones).
pub(crate) fn posted(projects: &[ProjectMessage]) -> Vec<ProjectMessage> {
    projects
        .iter()
        .filter(|p| p.wants_own_message(false))
        .cloned()
        .collect()
}

/// A `Write` whose bytes the test can read while the adapter holds the writer.
#[derive(Clone, Default)]
pub(crate) struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl SharedBuf {
    pub(crate) fn take(&self) -> String {
        String::from_utf8(std::mem::take(&mut *self.0.lock().unwrap())).unwrap()
    }
}

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

//! A five-project round used by every test, and small helpers.

use std::io::Write;
use std::sync::{Arc, Mutex};

use upkeep_chat::{
    ChangeRequestLink, ProjectMessage, ProjectResult, ProjectUpgrade, RoundId, RoundSummary,
    StatusCounts, UpgradeCounts, group_upgrades,
};

pub const ROUND: &str = "2025-06-02";

fn pr(url: &str, number: u64, kind: &str) -> ChangeRequestLink {
    ChangeRequestLink {
        url: url.into(),
        number: Some(number),
        kind: kind.into(),
    }
}

/// Five projects: two changed, one failed (with a name, branch and log that need escaping),
/// one unchanged, one skipped.
pub fn projects() -> Vec<ProjectMessage> {
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
        },
        ProjectMessage {
            round: round.clone(),
            project: "dashboard".into(),
            branch: branch.clone(),
            change_request: Some(pr("https://gitlab.example/data/dashboard/-/merge_requests/7", 7, "MR")),
            result: ProjectResult::Changed,
            upgrades: counts(1, 0, 4),
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
        },
        ProjectMessage {
            round: round.clone(),
            project: "docs".into(),
            branch: None,
            change_request: None,
            result: ProjectResult::Unchanged,
            upgrades: UpgradeCounts::default(),
        },
        ProjectMessage {
            round,
            project: "archive".into(),
            branch: None,
            change_request: None,
            result: ProjectResult::Skipped { reason: "disabled in upkeep.toml".into() },
            upgrades: UpgradeCounts::default(),
        },
    ]
}

pub fn summary(projects: &[ProjectMessage]) -> RoundSummary {
    let up = |project: &str, package: &str, from: &str, to: &str, major| ProjectUpgrade {
        project: project.into(),
        package: package.into(),
        from: from.into(),
        to: to.into(),
        major,
    };
    RoundSummary {
        round: RoundId::new(ROUND),
        major_upgrades: group_upgrades([
            up("signals", "django", "4.2", "5.1", true),
            up("dashboard", "django", "4.2", "5.1", true),
            up("signals", "celery", "4.4", "5.3", true),
            up(
                "import <legacy> & co",
                "pydantic-settings",
                "0.2",
                "0.3",
                false,
            ),
        ]),
        counts: StatusCounts::from_messages(projects),
    }
}

/// A `Write` whose bytes the test can read while the adapter holds the writer.
#[derive(Clone, Default)]
pub struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl SharedBuf {
    pub fn take(&self) -> String {
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

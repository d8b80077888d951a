//! A small world for round tests: sample projects as real bare repositories, a
//! configuration pointing at them, the local forge and a console chat into a buffer.

use std::fmt::Write as _;
use std::io::Write;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use upkeep_chat::{ChatThreads, ConsoleChat, ConsoleFormat};
use upkeep_config::{Config, MaintainConfig};
use upkeep_forge::local::LocalForge;
use upkeep_forge::{ChangeRequest, Forge, RepoId};
use upkeep_git::{Author, Credentials};
use upkeep_maintain::{
    CancellationToken, Journal, NoProgress, ProjectSetup, Round, RoundReport, StateSetup,
};
use upkeep_testkit::git::Fixture;

pub(crate) const DATE: (i32, u32, u32) = (2026, 11, 22);
pub(crate) const BRANCH: &str = "feature/maintenance-26-11-22";

pub(crate) fn date() -> NaiveDate {
    NaiveDate::from_ymd_opt(DATE.0, DATE.1, DATE.2).unwrap()
}

/// The state store of a test whose configuration says `state_dir = "state"` next to
/// `root/upkeep.toml`: files under `root/state/state`.
pub(crate) fn state_in(root: &std::path::Path) -> StateSetup {
    StateSetup::local(root.join("state/state")).unwrap()
}

/// The round's journal in the state store under `root` (see [`state_in`]).
pub(crate) fn journal_in(root: &std::path::Path, round: &str) -> Option<Journal> {
    Journal::load(state_in(root).store.as_ref(), round).unwrap()
}

/// Forgets everything the state store under `root` knows of `round`.
pub(crate) fn forget_round(root: &std::path::Path, round: &str) {
    fs_err::remove_dir_all(root.join("state/state/rounds").join(round)).unwrap();
}

/// A sample project's Makefile recipes (each one shell line) and step timeouts.
#[derive(Clone)]
pub(crate) struct Sample {
    pub name: String,
    pub upgrade: String,
    pub build: String,
    pub test: String,
    pub test_timeout: Option<&'static str>,
}

pub(crate) const REQUIREMENTS: &str = "django==4.2.16\n    # via -r requirements.in\nrequests==2.31.0\n    # via -r requirements.in\n";

/// `make upgrade` that bumps django to 5.1.4 and requests to 2.32.3.
pub(crate) const BUMP: &str = "printf 'django==5.1.4\\n    # via -r requirements.in\\nrequests==2.32.3\\n    # via -r requirements.in\\n' > requirements.txt";

impl Sample {
    /// Upgrades (a major and a minor bump), builds and tests fine.
    pub(crate) fn green(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            upgrade: BUMP.to_owned(),
            build: "echo building".to_owned(),
            test: "echo 3 passed".to_owned(),
            test_timeout: None,
        }
    }

    /// Nothing to upgrade.
    pub(crate) fn up_to_date(name: &str) -> Self {
        Self {
            upgrade: "echo nothing to upgrade".to_owned(),
            ..Self::green(name)
        }
    }

    fn makefile(&self) -> String {
        format!(
            ".PHONY: upgrade build test\nupgrade:\n\t{}\nbuild:\n\t{}\ntest:\n\t{}\n",
            self.upgrade, self.build, self.test
        )
    }
}

/// A shared buffer the console chat writes into.
#[derive(Clone, Default)]
pub(crate) struct Transcript(Arc<Mutex<Vec<u8>>>);

impl Transcript {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Transcript {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub(crate) struct World {
    pub fixtures: Vec<(Sample, Fixture)>,
    pub state: tempfile::TempDir,
    pub forge: Arc<LocalForge>,
    pub chat: Arc<ConsoleChat>,
    pub transcript: Transcript,
}

impl World {
    pub(crate) fn new(samples: Vec<Sample>) -> Self {
        upkeep_testkit::init_tracing();
        let fixtures = samples
            .into_iter()
            .map(|s| {
                let fx = Fixture::new();
                fx.commit_file("requirements.txt", REQUIREMENTS, "requirements");
                fx.commit_file("Makefile", &s.makefile(), "Makefile");
                fx.push_branch("main");
                (s, fx)
            })
            .collect();
        let state = tempfile::tempdir().unwrap();
        let forge = Arc::new(LocalForge::new(state.path().join("forge")));
        let transcript = Transcript::default();
        let chat = Arc::new(ConsoleChat::new(transcript.clone(), ConsoleFormat::Text));
        Self {
            fixtures,
            state,
            forge,
            chat,
            transcript,
        }
    }

    pub(crate) fn fixture(&self, name: &str) -> &Fixture {
        &self
            .fixtures
            .iter()
            .find(|(s, _)| s.name == name)
            .unwrap()
            .1
    }

    /// Replaces a project's Makefile on the remote's main branch.
    pub(crate) fn set_makefile(&self, sample: &Sample) {
        let fx = self.fixture(&sample.name);
        fx.commit_file("Makefile", &sample.makefile(), "new Makefile");
        fx.push_branch("main");
    }

    pub(crate) fn config(&self) -> MaintainConfig {
        let mut text =
            String::from("state_dir = \"state\"\n[maintain]\nlabels = [\"maintenance\"]\n");
        for (s, fx) in &self.fixtures {
            let _ = write!(
                text,
                "[[maintain.projects]]\nname = \"{}\"\nrepo = \"{}\"\n",
                s.name,
                fx.url()
            );
            if let Some(t) = s.test_timeout {
                let _ = write!(text, "[maintain.projects.steps.test]\ntimeout = \"{t}\"\n");
            }
        }
        let config = Config::from_str(
            &text,
            &self.state.path().join("upkeep.toml"),
            std::iter::empty::<(String, String)>(),
        )
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
        config.maintain().unwrap().clone()
    }

    pub(crate) fn setups(config: &MaintainConfig, forge: &Arc<dyn Forge>) -> Vec<ProjectSetup> {
        config
            .resolved_projects()
            .into_iter()
            .map(|project| ProjectSetup {
                repo: RepoId::new(project.remote.url.clone()),
                project,
                forge: forge.clone(),
                credentials: Credentials::none(),
            })
            .collect()
    }

    pub(crate) fn round(&self) -> Round {
        let config = self.config();
        let forge: Arc<dyn Forge> = self.forge.clone();
        let projects = Self::setups(&config, &forge);
        Round {
            id: "2026-11-22".to_owned(),
            date: date(),
            config: Arc::new(config),
            projects,
            excluded: Vec::new(),
            shard: None,
            help_other_shards: false,
            state: state_in(self.state.path()),
            jobs: NonZeroUsize::new(4).unwrap(),
            dry_run: false,
            retry_failed: false,
            chat: self.chat.clone() as Arc<dyn ChatThreads>,
            progress: Arc::new(NoProgress),
            cancel: CancellationToken::new(),
            author: Author::new("upkeep", "upkeep@example.com"),
        }
    }

    pub(crate) async fn run(&self) -> RoundReport {
        upkeep_maintain::run_round(self.round()).await.unwrap()
    }

    /// The round's journal, if anything was recorded.
    pub(crate) fn journal(&self) -> Option<Journal> {
        journal_in(self.state.path(), "2026-11-22")
    }

    /// Forgets the round's state (as a fresh runner would have none).
    pub(crate) fn forget_journal(&self) {
        forget_round(self.state.path(), "2026-11-22");
    }

    /// The change requests the local forge holds for a project.
    pub(crate) fn change_requests(&self, project: &str) -> Vec<serde_json::Value> {
        let dir = self
            .forge
            .records_dir(&RepoId::new(self.fixture(project).url()))
            .unwrap()
            .join("change-requests");
        let mut out: Vec<serde_json::Value> = fs_err::read_dir(&dir)
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| serde_json::from_slice(&fs_err::read(e.path()).unwrap()).unwrap())
                    .collect()
            })
            .unwrap_or_default();
        out.sort_by_key(|v| v["number"].as_u64());
        out
    }

    pub(crate) async fn open_change_request(&self, project: &str) -> Option<ChangeRequest> {
        self.forge
            .find_open_change_request(&RepoId::new(self.fixture(project).url()), BRANCH)
            .await
            .unwrap()
    }

    /// The file's contents on the remote branch.
    pub(crate) fn file_on_branch(&self, project: &str, branch: &str, path: &str) -> Option<String> {
        let bare = self.fixture(project).bare();
        upkeep_testkit::git::try_git(bare, &["show", &format!("{branch}:{path}")]).ok()
    }

    pub(crate) fn remote_branch(&self, project: &str) -> Option<upkeep_git::Oid> {
        self.fixture(project)
            .bare_ref(&format!("refs/heads/{BRANCH}"))
    }
}

pub(crate) fn row<'a>(report: &'a RoundReport, name: &str) -> &'a upkeep_maintain::ProjectReport {
    report
        .projects
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no row for {name}"))
}

//! Sample projects and a configuration file for driving the binary.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use upkeep_testkit::git::Fixture;
use upkeep_testkit::slack::FakeMessage;

pub(crate) const REQUIREMENTS: &str = "django==4.2.16\n    # via -r requirements.in\nrequests==2.31.0\n    # via -r requirements.in\n";
pub(crate) const BUMP: &str = "printf 'django==5.1.4\\n    # via -r requirements.in\\nrequests==2.32.3\\n    # via -r requirements.in\\n' > requirements.txt";

/// A project: name and its three recipes.
pub(crate) struct Project {
    pub name: &'static str,
    pub upgrade: &'static str,
    pub build: &'static str,
    pub test: &'static str,
}

impl Project {
    pub(crate) fn green(name: &'static str) -> Self {
        Self {
            name,
            upgrade: BUMP,
            build: "echo built",
            test: "echo ok",
        }
    }

    pub(crate) fn makefile(&self) -> String {
        format!(
            ".PHONY: upgrade build test\nupgrade:\n\t{}\nbuild:\n\t{}\ntest:\n\t{}\n",
            self.upgrade, self.build, self.test
        )
    }
}

/// Bare repositories for the projects and an `upkeep.toml` naming them.
pub(crate) struct Setup {
    pub dir: tempfile::TempDir,
    pub fixtures: Vec<(&'static str, Fixture)>,
}

impl Setup {
    pub(crate) fn new(projects: &[Project]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::from("[maintain]\n");
        let mut fixtures = Vec::new();
        for p in projects {
            let fx = Fixture::new();
            fx.commit_file("requirements.txt", REQUIREMENTS, "requirements");
            fx.commit_file("Makefile", &p.makefile(), "Makefile");
            fx.push_branch("main");
            let _ = write!(
                text,
                "[[maintain.projects]]\nname = \"{}\"\nrepo = \"{}\"\n",
                p.name,
                fx.url()
            );
            fixtures.push((p.name, fx));
        }
        fs_err::write(dir.path().join("upkeep.toml"), text).unwrap();
        Self { dir, fixtures }
    }

    pub(crate) fn config(&self) -> PathBuf {
        self.dir.path().join("upkeep.toml")
    }

    pub(crate) fn fixture(&self, name: &str) -> &Fixture {
        &self.fixtures.iter().find(|(n, _)| *n == name).unwrap().1
    }

    pub(crate) fn set_makefile(&self, p: &Project) {
        let fx = self.fixture(p.name);
        fx.commit_file("Makefile", &p.makefile(), "new Makefile");
        fx.push_branch("main");
    }

    /// The round's records in the default state store (`.upkeep/state`).
    pub(crate) fn journal(&self) -> Option<upkeep_maintain::Journal> {
        journal_in(&self.dir.path().join(".upkeep/state"), "2026-11-22")
    }

    /// `maintain --config <file> <args>` with a clean environment.
    pub(crate) fn maintain(&self, args: &[&str]) -> Command {
        let mut cmd = maintain();
        cmd.arg("--config").arg(self.config()).args(args);
        cmd
    }

    /// The change request files of a project (local forge).
    pub(crate) fn change_requests(&self, name: &str) -> usize {
        let dir = PathBuf::from(format!(
            "{}.upkeep/change-requests",
            self.fixture(name).url()
        ));
        fs_err::read_dir(dir).map_or(0, Iterator::count)
    }
}

/// The records of `round` in the local state store `dir`, if any.
pub(crate) fn journal_in(dir: &Path, round: &str) -> Option<upkeep_maintain::Journal> {
    let store = upkeep_state::LocalStore::open(dir).unwrap();
    upkeep_maintain::Journal::load(&store, round).unwrap()
}

/// The binary with no tokens, no colour and no user config in its environment.
pub(crate) fn maintain() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_maintain"));
    for var in [
        "GITHUB_TOKEN",
        "GITLAB_TOKEN",
        "SLACK_API_TOKEN",
        "UPKEEP_CONFIG",
        "RUST_LOG",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("NO_COLOR", "1").env("COLUMNS", "100");
    cmd
}

pub(crate) fn run(mut cmd: impl std::borrow::BorrowMut<Command>) -> Output {
    let cmd: &mut Command = cmd.borrow_mut();
    cmd.output().expect("run maintain")
}

pub(crate) fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Insta settings that hide what changes between runs: temp paths, durations, SHAs,
/// column padding that follows from them.
pub(crate) fn filters(root: &Path) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    let root = root.display().to_string();
    settings.add_filter(&regex_escape(&root), "[ROOT]");
    settings.add_filter(r"/tmp/[A-Za-z0-9._-]+", "[TMP]");
    settings.add_filter(r"\b\d+(\.\d+)?m?s\b", "[TIME]");
    settings.add_filter(r"\b\d+m\d\ds\b", "[TIME]");
    settings.add_filter(r"\b[0-9a-f]{40}\b", "[SHA]");
    settings.add_filter(r" {2,}", "  ");
    settings.add_filter(r"━{3,}", "━━━");
    settings
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '/' || c == '_' || c == '-' {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

/// Commits the project files of a round's test project (a Makefile whose build sleeps
/// `build_secs`, whose test runs `test`, and a pinned requirements file) to `bare`'s
/// `main`, through a work tree under `dir`.
pub(crate) fn push_makefile(dir: &Path, bare: &Path, name: &str, build_secs: &str, test: &str) {
    use upkeep_testkit::git::git;
    let work = dir.join(format!("seed-{name}"));
    if !work.exists() {
        fs_err::create_dir_all(&work).unwrap();
        git(&work, &["clone", "--quiet", &bare.to_string_lossy(), "."]);
    }
    let makefile = format!(
        ".PHONY: upgrade build test\nupgrade:\n\t{BUMP}\nbuild:\n\tsleep {build_secs}; echo built {name}\ntest:\n\t{test}\n"
    );
    fs_err::write(work.join("Makefile"), makefile).unwrap();
    fs_err::write(work.join("requirements.txt"), REQUIREMENTS).unwrap();
    git(&work, &["add", "."]);
    git(&work, &["commit", "--quiet", "-m", "project files"]);
    git(
        &work,
        &["push", "--quiet", "origin", "HEAD:refs/heads/main"],
    );
}

/// A chat message's (event type, round, project) from its metadata.
pub(crate) fn meta_of(m: &FakeMessage) -> Option<(String, String, Option<String>)> {
    let meta = m.metadata.as_ref()?;
    let payload = meta.get("event_payload")?;
    Some((
        meta.get("event_type")?.as_str()?.to_owned(),
        payload.get("round")?.as_str()?.to_owned(),
        payload
            .get("project")
            .and_then(|p| p.as_str())
            .map(str::to_owned),
    ))
}

//! A configuration file plus bare repos, and a way to run the binary on them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Output;

use tempfile::TempDir;
use upkeep_forge::local::{CheckRecord, LocalForge};
use upkeep_forge::{CheckState, RepoId};
use upkeep_testkit::bare::BareRepo;
use upkeep_testkit::git::Clock;

pub(crate) struct Scenario {
    pub tmp: TempDir,
    pub clock: Clock,
    pub repos: Vec<(String, BareRepo, Vec<String>)>,
    pub history: BareRepo,
    pub extra: String,
    pub env: Vec<(String, String)>,
}

pub(crate) struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}\n{}", self.stdout, self.stderr))
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl Scenario {
    pub(crate) fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let clock = Clock::default();
        let history = BareRepo::init(tmp.path().join("history.git"), clock.clone());
        Self {
            tmp,
            clock,
            repos: Vec::new(),
            history,
            extra: String::new(),
            env: Vec::new(),
        }
    }

    /// A repo with one commit on `main` and `stable` at it.
    pub(crate) fn repo(&mut self, name: &str, deps: &[&str]) -> BareRepo {
        let bare = BareRepo::init(
            self.tmp.path().join(format!("{name}.git")),
            self.clock.clone(),
        );
        let first = bare.commit_on("main", &format!("Initial commit of {name}"));
        bare.set_branch("stable", first);
        self.repos.push((
            name.into(),
            bare.clone(),
            deps.iter().map(|d| (*d).to_owned()).collect(),
        ));
        bare
    }

    pub(crate) fn bare(&self, name: &str) -> &BareRepo {
        &self.repos.iter().find(|r| r.0 == name).unwrap().1
    }

    pub(crate) fn tip(&self, name: &str, branch: &str) -> String {
        self.bare(name).tip(branch).unwrap().to_string()
    }

    pub(crate) fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// Records a CI signal for a commit of a local repo.
    pub(crate) async fn check(&self, name: &str, sha: &str, check: &str, state: CheckState) {
        let forge = LocalForge::new(self.path().join("test-forge"));
        forge
            .record_check(
                &RepoId::new(self.bare(name).path().to_string_lossy().into_owned()),
                sha,
                CheckRecord {
                    name: check.into(),
                    state,
                    url: Some(format!("https://ci.example/{name}/{}", &sha[..7])),
                },
            )
            .await
            .unwrap();
    }

    /// Green CI on every source tip.
    pub(crate) async fn all_green(&self) {
        for (name, bare, _) in &self.repos {
            self.check(
                name,
                &bare.tip("main").unwrap().to_string(),
                "tests",
                CheckState::Success,
            )
            .await;
        }
    }

    pub(crate) fn config_path(&self) -> PathBuf {
        self.path().join("upkeep.toml")
    }

    pub(crate) fn write_config(&self) {
        let mut t = String::from("[branches]\n");
        let _ = writeln!(
            t,
            "[branches.history]\nrepo = {:?}\n",
            self.history.path().to_string_lossy()
        );
        for (name, bare, deps) in &self.repos {
            let _ = writeln!(
                t,
                "[[branches.repos]]\nname = {name:?}\nrepo = {:?}\ndepends_on = {deps:?}\n",
                bare.path().to_string_lossy()
            );
        }
        t.push_str(&self.extra);
        fs_err::write(self.config_path(), t).unwrap();
    }

    pub(crate) async fn run(&self, args: &[&str]) -> Run {
        self.write_config();
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_move-branches"));
        cmd.arg("--config")
            .arg(self.config_path())
            .args(args)
            .current_dir(self.path())
            .env("UPKEEP_ACTOR", "ann")
            .env("NO_COLOR", "1");
        for v in [
            "GITHUB_TOKEN",
            "GITLAB_TOKEN",
            "SLACK_API_TOKEN",
            "SENTRY_AUTH_TOKEN",
            "SENTRY_DSN",
            "UPKEEP_JOB",
            "UPKEEP_CONFIG",
            "RUST_LOG",
        ] {
            cmd.env_remove(v);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let Output {
            status,
            stdout,
            stderr,
        } = cmd.output().await.unwrap();
        Run {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }

    /// The history lines as JSON.
    pub(crate) fn history_lines(&self) -> Vec<serde_json::Value> {
        let Some(tip) = self.history.tip("main") else {
            return Vec::new();
        };
        let text = upkeep_testkit::git::git(
            self.history.path(),
            &["show", &format!("{tip}:move-branches/history.jsonl")],
        );
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl Scenario {
    /// Insta settings that hide what changes between runs: the temp dir, SHAs, digests,
    /// timestamps.
    pub(crate) fn filters(&self) -> insta::Settings {
        let mut settings = insta::Settings::clone_current();
        let root: String = self
            .path()
            .display()
            .to_string()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '/' {
                    c.to_string()
                } else {
                    format!("\\{c}")
                }
            })
            .collect();
        settings.add_filter(&root, "[ROOT]");
        settings.add_filter(r"\b[0-9a-f]{40}\b", "[SHA]");
        settings.add_filter(r"\b[0-9a-f]{12}\b", "[SHORT]");
        settings.add_filter(
            r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d(\.\d+)?)?( UTC|Z|\+00:00)?",
            "[TIME]",
        );
        settings
    }
}

/// `ogr`, and `packit` depending on it, each with a green commit to promote.
pub(crate) async fn two_repos() -> Scenario {
    let mut s = Scenario::new();
    s.repo("ogr", &[]).commit_on("main", "fix: a");
    s.repo("packit", &["ogr"]).commit_on("main", "fix: b");
    s.all_green().await;
    s
}

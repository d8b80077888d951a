//! The history: one JSON line per run in a file of a shared git repository, committed
//! and pushed compare-and-swap, so it works on any forge and concurrent writers never
//! lose each other's lines.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use upkeep_git::{Author, Credentials, Expect, Oid, PushRequest, Repo};

use crate::apply::{RepoOutcome, RepoResult, RunResult};
use crate::approve::Approval;
use crate::gates::GateSummary;
use crate::{Error, Result};

/// The history schema version written by this crate.
pub const SCHEMA: u32 = 1;

/// Which command a history entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Command {
    /// `move-branches run`: a promotion.
    Run,
    /// `move-branches rollback`.
    Rollback,
}

/// One run, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// Schema version ([`SCHEMA`]).
    pub schema: u32,
    /// What ran.
    pub command: Command,
    /// Who ran it.
    pub who: String,
    /// When it finished.
    pub when: DateTime<Utc>,
    /// The digest of the plan that was approved (or refused).
    pub digest: String,
    /// How it ended.
    pub result: RunResult,
    /// Per repo: from → to and what happened.
    pub repos: Vec<RepoResult>,
    /// The gates and their verdicts.
    #[serde(default)]
    pub gates: Vec<GateSummary>,
    /// The deploy token's fencing number, when the run held it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fencing: Option<u64>,
    /// Why the run was refused or failed, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Who approved which digest, when and how (absent for refusals before approval).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Approval>,
}

/// A past move of one repo's target, found in the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Promotion {
    /// When.
    pub when: DateTime<Utc>,
    /// Who.
    pub who: String,
    /// Promotion or rollback.
    pub command: Command,
    /// The plan digest.
    pub digest: String,
    /// The tip before.
    pub from: String,
    /// The tip after.
    pub to: String,
}

/// Queries over the parsed history.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    /// The entries, oldest first.
    pub entries: Vec<HistoryEntry>,
}

impl History {
    /// Parses JSON lines; blank lines are skipped; a bad line is an error naming it.
    pub fn parse(text: &str, file: &str) -> Result<Self> {
        let mut entries = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            entries.push(
                serde_json::from_str(line).map_err(|source| Error::HistoryParse {
                    file: file.to_owned(),
                    line: i + 1,
                    source,
                })?,
            );
        }
        Ok(Self { entries })
    }

    /// Every recorded move of `repo` (promotions and rollbacks), oldest first.
    #[must_use]
    pub fn moves_of(&self, repo: &str) -> Vec<Promotion> {
        self.entries
            .iter()
            .flat_map(|e| {
                e.repos
                    .iter()
                    .filter(move |r| r.name == repo && r.outcome == RepoOutcome::Moved)
                    .map(move |r| Promotion {
                        when: e.when,
                        who: e.who.clone(),
                        command: e.command,
                        digest: e.digest.clone(),
                        from: r.from.clone(),
                        to: r.to.clone(),
                    })
            })
            .collect()
    }

    /// The most recent recorded move of `repo`: a promotion, or a rollback.
    #[must_use]
    pub fn last_move(&self, repo: &str) -> Option<Promotion> {
        self.moves_of(repo).pop()
    }

    /// The most recent promotion (not rollback) of `repo`.
    #[must_use]
    pub fn last_promotion(&self, repo: &str) -> Option<Promotion> {
        self.moves_of(repo)
            .into_iter()
            .rev()
            .find(|p| p.command == Command::Run)
    }

    /// When anything was last promoted (the start of the Sentry gate's window).
    #[must_use]
    pub fn last_promotion_time(&self) -> Option<DateTime<Utc>> {
        self.entries
            .iter()
            .rev()
            .find(|e| {
                e.command == Command::Run && e.repos.iter().any(|r| r.outcome == RepoOutcome::Moved)
            })
            .map(|e| e.when)
    }

    /// The commits `repo`'s target was promoted to or from, most recent first, without
    /// repeats: the candidates for a rollback.
    #[must_use]
    pub fn rollback_points(&self, repo: &str) -> Vec<String> {
        let mut points: Vec<String> = Vec::new();
        for p in self
            .moves_of(repo)
            .into_iter()
            .filter(|p| p.command == Command::Run)
            .rev()
        {
            for sha in [p.to, p.from] {
                if !points.contains(&sha) {
                    points.push(sha);
                }
            }
        }
        points
    }
}

/// Where the history lives: a file on a branch of a git repository.
#[derive(Debug, Clone)]
pub struct HistoryStore {
    /// The repository URL or path.
    pub url: String,
    /// The branch holding the file.
    pub branch: String,
    /// The file's path inside the repository.
    pub file: String,
    /// Where the working clone is kept.
    pub clone_dir: PathBuf,
    /// Credentials for fetch and push.
    pub credentials: Credentials,
}

impl HistoryStore {
    /// The history in `move-branches/history.jsonl` on `main` of `url`, with its working
    /// clone in `clone_dir` and no credentials (set the fields for anything else).
    pub fn new(url: impl Into<String>, clone_dir: impl Into<PathBuf>) -> Self {
        Self {
            url: url.into(),
            branch: "main".to_owned(),
            file: "move-branches/history.jsonl".to_owned(),
            clone_dir: clone_dir.into(),
            credentials: Credentials::none(),
        }
    }
}

/// What [`HistoryStore::append`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// The commit that added the line.
    pub commit: String,
    /// How many attempts it took (more than one when another writer raced us).
    pub attempts: u32,
}

/// Writers racing for the branch back off and retry this many times.
const MAX_ATTEMPTS: u32 = 10;

impl HistoryStore {
    /// Reads the whole history (empty when the branch or file does not exist yet).
    /// Blocking: run it on a blocking thread in async code.
    pub fn read(&self) -> Result<History> {
        let Some(repo) = self.sync()? else {
            return Ok(History::default());
        };
        let text = read_optional(&repo.path().join(&self.file))?;
        History::parse(&text, &self.file)
    }

    /// Appends `entry` as one line, commits it as `author` and pushes with the old tip
    /// as the expected value; when another writer got there first, refetches and tries
    /// again. Blocking.
    pub fn append(&self, entry: &HistoryEntry, author: &Author) -> Result<Appended> {
        let line = serde_json::to_string(entry).map_err(|source| Error::HistoryParse {
            file: self.file.clone(),
            line: 0,
            source,
        })?;
        // Names are somebody's input: on one line, they cannot forge lines of the commit
        // message, and git refuses angle brackets in an author's name.
        let name = |n: &str| {
            let n =
                crate::render::one_line(n, crate::render::MAX_NAME).replace(['<', '>'], "\u{fffd}");
            if n.trim().is_empty() {
                "unknown".to_owned()
            } else {
                n
            }
        };
        let who = name(&entry.who);
        let message = format!(
            "move-branches {}: {} by {who} (plan {})",
            match entry.command {
                Command::Run => "run",
                Command::Rollback => "rollback",
            },
            entry.result,
            crate::render::one_line(&entry.digest, 40),
        );
        let author = &Author {
            name: name(&author.name),
            ..author.clone()
        };
        for attempt in 1..=MAX_ATTEMPTS {
            let pushed = match self.sync()? {
                Some(repo) => self.append_on(&repo, &line, &message, author),
                None => self.create_branch(&line, &message, author),
            };
            match pushed {
                Ok(commit) => {
                    return Ok(Appended {
                        commit: commit.to_string(),
                        attempts: attempt,
                    });
                }
                Err(Error::Git { source, .. })
                    if matches!(
                        *source,
                        upkeep_git::Error::RemoteMoved { .. }
                            | upkeep_git::Error::NotFastForward { .. }
                    ) =>
                {
                    tracing::info!(attempt, url = %self.url, "history branch moved; refetching");
                    // Jitter so racing writers don't collide again in lockstep.
                    let ms = rand::random_range(20..120) * u64::from(attempt);
                    std::thread::sleep(std::time::Duration::from_millis(ms));
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::HistoryContended {
            url: self.url.clone(),
            branch: self.branch.clone(),
            attempts: MAX_ATTEMPTS,
        })
    }

    /// Fetches the clone; `None` when the branch does not exist yet.
    fn sync(&self) -> Result<Option<Repo>> {
        match upkeep_git::ensure_clone(&self.url, &self.clone_dir, &self.branch, &self.credentials)
        {
            Ok(r) => Ok(Some(r.repo)),
            Err(upkeep_git::Error::BranchMissing { .. }) => Ok(None),
            Err(e) => Err(Error::git("history", format!("fetch {}", self.url), e)),
        }
    }

    fn append_on(&self, repo: &Repo, line: &str, message: &str, author: &Author) -> Result<Oid> {
        let old = repo
            .resolve("HEAD")
            .map_err(|e| Error::git("history", "read the history branch", e))?;
        write_line(&repo.path().join(&self.file), line)?;
        let commit = repo
            .commit_all(message, author)
            .map_err(|e| Error::git("history", "commit the history", e))?
            .unwrap_or(old);
        self.push(repo, commit, Expect::Tip(old))?;
        Ok(commit)
    }

    /// The first entry of a new history: an orphan commit pushed as a new branch.
    fn create_branch(&self, line: &str, message: &str, author: &Author) -> Result<Oid> {
        let dir = self.clone_dir.with_extension("new");
        let _ = fs_err::remove_dir_all(&dir);
        let io = |source, what: &str| Error::Io {
            doing: format!("{what} {}", dir.display()),
            source,
        };
        fs_err::create_dir_all(&dir).map_err(|e| io(e, "create"))?;
        let repo = git2::Repository::init(&dir)
            .map(Repo::from_git2)
            .map_err(|e| Error::Io {
                doing: format!("initialise a history repository in {}: {e}", dir.display()),
                source: std::io::Error::other(e.message().to_owned()),
            })?;
        write_line(&dir.join(&self.file), line)?;
        let result = repo
            .commit_all(message, author)
            .map_err(|e| Error::git("history", "commit the history", e))
            .and_then(|c| {
                let c = c.expect("a new file is a change");
                self.push(&repo, c, Expect::Absent).map(|()| c)
            });
        drop(repo);
        let _ = fs_err::remove_dir_all(&dir);
        result
    }

    fn push(&self, repo: &Repo, commit: Oid, expect: Expect) -> Result<()> {
        repo.push(
            &self.url,
            &self.credentials,
            &PushRequest::single(commit, format!("refs/heads/{}", self.branch), expect),
        )
        .map(|_| ())
        .map_err(|e| Error::git("history", format!("push to {}", self.url), e))
    }
}

fn read_optional(path: &Path) -> Result<String> {
    match fs_err::read_to_string(path) {
        Ok(s) => Ok(s),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(source) => Err(Error::Io {
            doing: format!("read {}", path.display()),
            source,
        }),
    }
}

fn write_line(path: &Path, line: &str) -> Result<()> {
    let mut text = read_optional(path)?;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(line);
    text.push('\n');
    if let Some(parent) = path.parent() {
        fs_err::create_dir_all(parent).map_err(|source| Error::Io {
            doing: format!("create {}", parent.display()),
            source,
        })?;
    }
    fs_err::write(path, text).map_err(|source| Error::Io {
        doing: format!("write {}", path.display()),
        source,
    })
}

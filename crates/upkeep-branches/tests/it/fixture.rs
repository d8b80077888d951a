//! Real bare repos served by the local forge.

use std::path::PathBuf;
use std::sync::Arc;

use tempfile::TempDir;
use upkeep_branches::RepoSpec;
use upkeep_forge::local::{CheckRecord, LocalForge};
use upkeep_forge::{CheckState, RepoId};
use upkeep_git::{Credentials, Oid};
use upkeep_testkit::bare::BareRepo;
use upkeep_testkit::git::Clock;

pub(crate) struct World {
    pub tmp: TempDir,
    pub clock: Clock,
    pub forge: Arc<LocalForge>,
    pub repos: Vec<(String, BareRepo, Vec<String>)>,
}

impl World {
    pub(crate) fn new() -> Self {
        upkeep_testkit::init_tracing();
        let tmp = tempfile::tempdir().unwrap();
        let forge = Arc::new(LocalForge::new(tmp.path().join("forge-work")));
        Self {
            tmp,
            clock: Clock::default(),
            forge,
            repos: Vec::new(),
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
            name.to_owned(),
            bare.clone(),
            deps.iter().map(|d| (*d).to_owned()).collect(),
        ));
        bare
    }

    pub(crate) fn bare(&self, name: &str) -> &BareRepo {
        &self.repos.iter().find(|r| r.0 == name).unwrap().1
    }

    pub(crate) fn id(&self, name: &str) -> RepoId {
        RepoId::new(self.bare(name).path().to_string_lossy().into_owned())
    }

    pub(crate) fn specs(&self) -> Vec<RepoSpec> {
        self.repos
            .iter()
            .map(|(name, bare, deps)| RepoSpec {
                name: name.clone(),
                forge: self.forge.clone(),
                id: RepoId::new(bare.path().to_string_lossy().into_owned()),
                git_url: bare.path().to_string_lossy().into_owned(),
                credentials: Credentials::none(),
                source: "main".into(),
                target: "stable".into(),
                depends_on: deps.clone(),
                wait_after: false,
            })
            .collect()
    }

    pub(crate) fn cache(&self) -> PathBuf {
        self.tmp.path().join("cache")
    }

    pub(crate) fn tip(&self, name: &str, branch: &str) -> Oid {
        self.bare(name).tip(branch).unwrap()
    }

    pub(crate) async fn check(&self, name: &str, sha: &str, check: &str, state: CheckState) {
        self.forge
            .record_check(
                &self.id(name),
                sha,
                CheckRecord {
                    name: check.into(),
                    state,
                    url: Some(format!("https://ci.example/{name}/{check}")),
                },
            )
            .await
            .unwrap();
    }
}

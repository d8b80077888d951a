//! `status`: what each repo's target (production) runs compared with its source branch.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;

use crate::commits::{ShipCommit, next_version};
use crate::history::{History, Promotion};
use crate::model::RepoSpec;
use crate::plan::{last_release, open_clone};
use crate::{Error, Result};

/// A release tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagInfo {
    /// The tag name.
    pub name: String,
    /// The commit it marks.
    pub sha: String,
}

/// One repo's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoStatus {
    /// The repo name.
    pub name: String,
    /// Its id on the forge.
    pub repo: String,
    /// The source branch.
    pub source: String,
    /// The target branch.
    pub target: String,
    /// The source tip.
    pub source_tip: Option<String>,
    /// The target tip.
    pub target_tip: Option<String>,
    /// Commits on the source that the target lacks (waiting to ship), newest first.
    pub waiting: Vec<ShipCommit>,
    /// Commits on the target that the source lacks (drift: e.g. a hotfix made only on
    /// the target), newest first.
    pub drift: Vec<ShipCommit>,
    /// The newest release tag reachable from the target.
    pub last_tag: Option<TagInfo>,
    /// The version the next promotion of the source tip would be tagged with: the
    /// conventional commits since the newest release tag on the source branch (which is
    /// `last_tag`, unless the target was rolled back behind a release); none when the
    /// source tip is released already.
    pub next_version: Option<String>,
    /// The last move of the target recorded in the history: a promotion, or a rollback
    /// that undid one (its `command` says which).
    pub last_promotion: Option<Promotion>,
    /// Why part of this status could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl RepoStatus {
    /// Whether target and source point at the same commit.
    #[must_use]
    pub fn is_even(&self) -> bool {
        self.source_tip.is_some() && self.source_tip == self.target_tip
    }
}

/// Inputs of [`status`].
#[derive(Debug, Clone, Default)]
pub struct StatusOptions {
    /// Where cached clones live (for tags and commit messages).
    pub cache_dir: PathBuf,
    /// The release tag prefix (`v`).
    pub tag_prefix: String,
    /// The history, for the last promotion of each repo.
    pub history: Option<History>,
}

/// The status of every repo, read concurrently. A repo that cannot be read carries an
/// `error` instead of failing the whole report.
pub async fn status(repos: &[RepoSpec], options: &StatusOptions) -> Vec<RepoStatus> {
    let mut tasks = JoinSet::new();
    for (i, spec) in repos.iter().enumerate() {
        let (spec, options) = (spec.clone(), options.clone());
        tasks.spawn(async move {
            let mut st = RepoStatus {
                name: spec.name.clone(),
                repo: spec.id.to_string(),
                source: spec.source.clone(),
                target: spec.target.clone(),
                source_tip: None,
                target_tip: None,
                waiting: Vec::new(),
                drift: Vec::new(),
                last_tag: None,
                next_version: None,
                last_promotion: options
                    .history
                    .as_ref()
                    .and_then(|h| h.last_move(&spec.name)),
                error: None,
            };
            if let Err(e) = fill(&spec, &options, &mut st).await {
                st.error = Some(upkeep_text::error_chain(&e));
            }
            (i, st)
        });
    }
    let mut out: Vec<(usize, RepoStatus)> = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        if let Ok(x) = joined {
            out.push(x);
        }
    }
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, s)| s).collect()
}

async fn fill(spec: &RepoSpec, options: &StatusOptions, st: &mut RepoStatus) -> Result<()> {
    let name = spec.name.as_str();
    let tip = |branch: String| async move {
        spec.forge
            .branch_tip(&spec.id, &branch)
            .await
            .map_err(|e| Error::forge(name, format!("read the tip of `{branch}`"), e))
    };
    st.source_tip = tip(spec.source.clone()).await?;
    st.target_tip = tip(spec.target.clone()).await?;
    let (Some(source_tip), Some(target_tip)) = (st.source_tip.clone(), st.target_tip.clone())
    else {
        return Err(Error::BranchMissing {
            repo: name.to_owned(),
            branch: if st.source_tip.is_none() {
                spec.source.clone()
            } else {
                spec.target.clone()
            },
        });
    };
    if source_tip != target_tip {
        let waiting = spec
            .forge
            .compare(&spec.id, &target_tip, &source_tip)
            .await
            .map_err(|e| Error::forge(name, "compare target and source", e))?;
        st.waiting = waiting.commits.iter().map(ShipCommit::from_forge).collect();
        if waiting.behind_by > 0 {
            let drift = spec
                .forge
                .compare(&spec.id, &source_tip, &target_tip)
                .await
                .map_err(|e| Error::forge(name, "compare source and target", e))?;
            st.drift = drift.commits.iter().map(ShipCommit::from_forge).collect();
        }
    }
    let (spec2, cache, prefix) = (
        spec.clone(),
        options.cache_dir.join(&spec.name),
        options.tag_prefix.clone(),
    );
    let (last_tag, next) = tokio::task::spawn_blocking(move || -> Result<_> {
        let repo = open_clone(&spec2, &cache)?;
        let name = spec2.name.as_str();
        let resolve = |sha: &str| {
            repo.resolve(sha)
                .map_err(|e| Error::git(name, format!("find {sha} in the cached clone"), e))
        };
        let (target, source) = (resolve(&target_tip)?, resolve(&source_tip)?);
        let (last, _) = last_release(&repo, name, target, &prefix)?;
        // The next version follows the newest release on the source branch, not on the
        // target: after a rollback the target is behind a release that exists.
        let (base, released) = last_release(&repo, name, source, &prefix)?;
        let commits = match &base {
            Some((_, oid)) => repo.commits_between(*oid, source),
            None => repo.commits_between(target, source),
        }
        .map_err(|e| Error::git(name, "list the commits since the last release", e))?;
        let next = if released || (base.is_none() && commits.is_empty()) {
            None
        } else {
            next_version(
                base.as_ref().map(|(v, _)| v),
                commits
                    .iter()
                    .map(|c| (c.subject.as_str(), c.body.as_str())),
            )
            .map(|v| format!("{prefix}{v}"))
        };
        Ok((
            last.map(|(v, oid)| TagInfo {
                name: format!("{prefix}{v}"),
                sha: oid.to_string(),
            }),
            next,
        ))
    })
    .await
    .map_err(|e| Error::Task {
        doing: format!("reading tags of {name}"),
        message: e.to_string(),
    })??;
    st.last_tag = last_tag;
    st.next_version = next;
    Ok(())
}

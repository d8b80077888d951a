//! `rollback`: move a target back to an earlier promotion recorded in the history.

use std::path::Path;

use crate::commits::ShipCommit;
use crate::history::History;
use crate::model::RepoSpec;
use crate::plan::{Plan, RepoPlan, digest, open_clone, resolve_override};
use crate::{Error, Result};

/// Plans rolling `spec`'s target back: to `to` when given (any commit behind the current
/// tip), else to the most recent recorded promotion point (a promotion's `to` or `from`)
/// that is strictly behind the current tip. The plan's commits are the ones withdrawn.
pub async fn plan_rollback(
    spec: &RepoSpec,
    history: &History,
    to: Option<&str>,
    cache_dir: &Path,
) -> Result<Plan> {
    let name = spec.name.as_str();
    let from = spec
        .forge
        .branch_tip(&spec.id, &spec.target)
        .await
        .map_err(|e| Error::forge(name, format!("read the tip of `{}`", spec.target), e))?
        .ok_or_else(|| Error::BranchMissing {
            repo: name.to_owned(),
            branch: spec.target.clone(),
        })?;
    let point = if let Some(rev) = to {
        resolve_point(spec, rev, &from, cache_dir).await?
    } else {
        previous_promotion(spec, history, &from).await?
    };
    let withdrawn = spec
        .forge
        .compare(&spec.id, &point, &from)
        .await
        .map_err(|e| Error::forge(name, "list the commits withdrawn", e))?;
    let rp = RepoPlan {
        name: name.to_owned(),
        repo: spec.id.to_string(),
        source: spec.source.clone(),
        target: spec.target.clone(),
        source_tip: String::new(),
        from,
        to: point,
        requested: to.map(str::to_owned),
        commits: withdrawn
            .commits
            .iter()
            .map(ShipCommit::from_forge)
            .collect(),
        tag: None,
        depends_on: Vec::new(),
        blocked: crate::plan::blocked(spec).await,
    };
    let repos = vec![rp];
    Ok(Plan {
        digest: digest(&repos),
        levels: vec![vec![name.to_owned()]],
        repos,
        skipped: Vec::new(),
    })
}

/// `--to <rev>`: any commit strictly behind the target tip.
async fn resolve_point(spec: &RepoSpec, rev: &str, from: &str, cache_dir: &Path) -> Result<String> {
    let (spec2, rev2, from2, cache) = (
        spec.clone(),
        rev.to_owned(),
        from.to_owned(),
        cache_dir.join(&spec.name),
    );
    tokio::task::spawn_blocking(move || -> Result<String> {
        let repo = open_clone(&spec2, &cache)?;
        let oid = resolve_override(&repo, &spec2, &rev2)?;
        let from_oid = repo
            .resolve(from2.as_str())
            .map_err(|e| Error::git(&spec2.name, "find the target tip", e))?;
        let behind = oid != from_oid
            && repo
                .is_ancestor(oid, from_oid)
                .map_err(|e| Error::git(&spec2.name, "compare with the target tip", e))?;
        if !behind {
            return Err(Error::NotARollback {
                repo: spec2.name.clone(),
                target: spec2.target.clone(),
                from: from2,
                to: oid.to_string(),
            });
        }
        Ok(oid.to_string())
    })
    .await
    .map_err(|e| Error::Task {
        doing: format!("resolving {rev} in {}", spec.name),
        message: e.to_string(),
    })?
}

/// The most recent recorded promotion point strictly behind the target tip.
async fn previous_promotion(spec: &RepoSpec, history: &History, from: &str) -> Result<String> {
    let name = spec.name.as_str();
    for p in history.rollback_points(name) {
        if p == from {
            continue;
        }
        let cmp =
            spec.forge.compare(&spec.id, &p, from).await.map_err(|e| {
                Error::forge(name, "compare a recorded promotion with the target", e)
            })?;
        if cmp.ahead_by > 0 && cmp.behind_by == 0 {
            return Ok(p);
        }
    }
    Err(Error::NoEarlierPromotion {
        repo: name.to_owned(),
        target: spec.target.clone(),
        tip: from.to_owned(),
    })
}

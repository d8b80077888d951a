//! The plan: for every repo, where its target branch is and where it will be moved.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use tokio::task::JoinSet;
use upkeep_forge::{BranchAccess, Comparison};
use upkeep_git::{Oid, Repo};

use crate::commits::{ShipCommit, change_request_number, next_version, tag_version};
use crate::model::{RepoSpec, check_overrides, spec_levels};
use crate::{Error, Override, Result};

/// What `plan` computed: one entry per repo in dependency order, the dependency levels,
/// and the digest an approval binds to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// `sha256` of the canonical plan (repo, target ref, from, to of every repo), first
    /// 12 hex digits. `--approve <digest>` refuses a plan with another digest.
    pub digest: String,
    /// Repo names by dependency level: level `n` depends only on levels before it.
    pub levels: Vec<Vec<String>>,
    /// One entry per repo, level by level.
    pub repos: Vec<RepoPlan>,
    /// Repos the caller left out of the run (`--skip`): not planned; recorded in the
    /// history as skipped. Not part of the digest.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
}

/// One repo's part of a [`Plan`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoPlan {
    /// The repo name.
    pub name: String,
    /// The repo's id on its forge.
    pub repo: String,
    /// The branch promoted from.
    pub source: String,
    /// The branch moved.
    pub target: String,
    /// The source branch's tip when planned.
    pub source_tip: String,
    /// The target branch's tip when planned: the move is compare-and-swap on it.
    pub from: String,
    /// The commit the target will point at.
    pub to: String,
    /// The override as given (`--<repo>=<rev>`), when not the source tip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested: Option<String>,
    /// The commits that will ship, newest first (empty when even).
    pub commits: Vec<ShipCommit>,
    /// The semver tag to create on `to`, when tagging.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Repos moved before this one.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// Why the forge will refuse the move, known before trying: the target is protected
    /// and the token's user may not update it ("`stable` is protected; the token's user
    /// needs …", from [`upkeep_forge::Forge::branch_access`]). A plan with a blocked repo
    /// moves nothing. Not part of the digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked: Option<String>,
}

impl RepoPlan {
    /// Nothing to do: the target already points at the planned commit.
    #[must_use]
    pub fn is_even(&self) -> bool {
        self.from == self.to
    }
}

impl Plan {
    /// The entry for `name`.
    #[must_use]
    pub fn repo(&self, name: &str) -> Option<&RepoPlan> {
        self.repos.iter().find(|r| r.name == name)
    }

    /// Whether every repo is even.
    #[must_use]
    pub fn is_noop(&self) -> bool {
        self.repos.iter().all(RepoPlan::is_even)
    }

    /// The repos whose move the forge is known to refuse, with why ([`RepoPlan::blocked`]).
    pub fn blockers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.repos
            .iter()
            .filter_map(|r| Some((r.name.as_str(), r.blocked.as_deref()?)))
    }

    /// Fails with [`Error::DigestMismatch`] unless `approved` is exactly this plan's
    /// digest (case-insensitive).
    pub fn check_approval(&self, approved: &str) -> Result<()> {
        let a = approved.trim().to_ascii_lowercase();
        if a == self.digest {
            Ok(())
        } else {
            Err(Error::DigestMismatch {
                approved: approved.trim().to_owned(),
                actual: self.digest.clone(),
            })
        }
    }
}

/// The digest of a plan: sha256 over one line per repo, sorted by name, of
/// `name NUL repo NUL target NUL from NUL to NUL tag` (the tag a `--tag` run would
/// create, empty without one), so an approval covers the tags too; the first 12 hex
/// digits.
#[must_use]
pub fn digest<'a>(repos: impl IntoIterator<Item = &'a RepoPlan>) -> String {
    let mut lines: Vec<String> = repos
        .into_iter()
        .map(|r| {
            format!(
                "{}\0{}\0{}\0{}\0{}\0{}\n",
                r.name,
                r.repo,
                r.target,
                r.from,
                r.to,
                r.tag.as_deref().unwrap_or_default()
            )
        })
        .collect();
    lines.sort();
    let hash = Sha256::digest(lines.concat().as_bytes());
    hash.iter()
        .take(6)
        .fold(String::with_capacity(12), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Inputs of [`plan`] besides the repos.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Per-repo commits to promote instead of the source tip.
    pub overrides: Vec<Override>,
    /// Where cached clones live (one directory per repo name). Clones are made only when
    /// needed: to resolve an override, or to compute the next tag.
    pub cache_dir: PathBuf,
    /// Compute the next semver tag for each repo that moves, with this prefix (`v`).
    pub tag_prefix: Option<String>,
}

/// Plans the promotion of `repos`: each repo's target goes to its source tip, or to its
/// override, which must name exactly one commit, be on the source branch and descend
/// from the target's current tip. Repos are planned concurrently. Fails without a plan on
/// any refusal (unknown repo, ambiguous or unknown SHA, not on source, backwards,
/// diverged): a plan is all or nothing.
pub async fn plan(repos: &[RepoSpec], options: &PlanOptions) -> Result<Plan> {
    let overrides = check_overrides(repos, &options.overrides)?;
    let levels: Vec<Vec<String>> = spec_levels(repos)?
        .into_iter()
        .map(|l| l.into_iter().map(str::to_owned).collect())
        .collect();
    let mut tasks = JoinSet::new();
    for spec in repos {
        let spec = spec.clone();
        let requested = overrides.get(spec.name.as_str()).map(|s| (*s).to_owned());
        let cache = options.cache_dir.join(&spec.name);
        let tag_prefix = options.tag_prefix.clone();
        tasks
            .spawn(async move { plan_repo(&spec, requested, &cache, tag_prefix.as_deref()).await });
    }
    let mut planned: BTreeMap<String, RepoPlan> = BTreeMap::new();
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(p)) => {
                planned.insert(p.name.clone(), p);
            }
            Ok(Err(e)) => {
                // User errors first: they tell the person what to fix.
                if first_error
                    .as_ref()
                    .is_none_or(|f: &Error| !f.is_user_error())
                {
                    first_error = Some(e);
                }
            }
            Err(e) => {
                first_error.get_or_insert(Error::Task {
                    doing: "planning".to_owned(),
                    message: e.to_string(),
                });
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    let ordered: Vec<RepoPlan> = levels
        .iter()
        .flatten()
        .filter_map(|n| planned.remove(n))
        .collect();
    Ok(Plan {
        digest: digest(&ordered),
        levels,
        repos: ordered,
        skipped: Vec::new(),
    })
}

async fn plan_repo(
    spec: &RepoSpec,
    requested: Option<String>,
    cache: &Path,
    tag_prefix: Option<&str>,
) -> Result<RepoPlan> {
    let name = spec.name.as_str();
    // Each ref is read once, together with how they compare when the forge answers that in
    // the same request (GitHub: one GraphQL query).
    let reads = spec
        .forge
        .promotion_reads(&spec.id, &spec.source, &spec.target)
        .await
        .map_err(|e| {
            Error::forge(
                name,
                format!("read the tips of `{}` and `{}`", spec.source, spec.target),
                e,
            )
        })?;
    let missing = |branch: &str| Error::BranchMissing {
        repo: name.to_owned(),
        branch: branch.to_owned(),
    };
    let source_tip = reads.source_tip.ok_or_else(|| missing(&spec.source))?;
    let from = reads.target_tip.ok_or_else(|| missing(&spec.target))?;

    let needs_clone = requested.is_some() || tag_prefix.is_some();
    let local = if needs_clone {
        let spec2 = spec.clone();
        let cache = cache.to_owned();
        let requested2 = requested.clone();
        let source_tip2 = source_tip.clone();
        let prefix = tag_prefix.map(str::to_owned);
        let from2 = from.clone();
        Some(
            tokio::task::spawn_blocking(move || {
                local_facts(
                    &spec2,
                    &cache,
                    requested2.as_deref(),
                    &source_tip2,
                    &from2,
                    prefix.as_deref(),
                )
            })
            .await
            .map_err(|e| Error::Task {
                doing: format!("planning {name}"),
                message: e.to_string(),
            })??,
        )
    } else {
        None
    };
    let to = local
        .as_ref()
        .and_then(|l| l.to.clone())
        .unwrap_or_else(|| source_tip.clone());

    let (commits, blocked) = if to == from {
        (Vec::new(), None)
    } else {
        (
            shipping_commits(
                spec,
                &from,
                &to,
                requested.is_some(),
                local.as_ref(),
                // The forge's comparison is of the source tip: no use for an override.
                reads.comparison.filter(|_| to == source_tip),
            )
            .await?,
            match reads.target_access {
                Some(access) => refusal(spec, access),
                None => blocked(spec).await,
            },
        )
    };
    Ok(RepoPlan {
        name: name.to_owned(),
        repo: spec.id.to_string(),
        source: spec.source.clone(),
        target: spec.target.clone(),
        source_tip,
        tag: if to == from {
            None
        } else {
            local.and_then(|l| l.tag)
        },
        from,
        to,
        requested,
        commits,
        depends_on: spec.depends_on.clone(),
        blocked,
    })
}

/// Why the forge would refuse to move `spec`'s target, when its protection rules say so
/// (one request). A forge that cannot tell, or cannot be asked, blocks nothing: the move
/// itself is still refused by the server, and reported.
pub(crate) async fn blocked(spec: &RepoSpec) -> Option<String> {
    match spec.forge.branch_access(&spec.id, &spec.target).await {
        Ok(access) => refusal(spec, access),
        Err(e) => {
            tracing::warn!(repo = %spec.name, error = %e, "cannot read the target's protection");
            None
        }
    }
}

/// Why the forge would refuse to move `spec`'s target, from what it said about the branch.
fn refusal(spec: &RepoSpec, access: BranchAccess) -> Option<String> {
    if access.is_refused() {
        return Some(access.fix.unwrap_or_else(|| {
            format!(
                "the forge refuses updates of `{}` by the token's user ({})",
                spec.target, access.detail
            )
        }));
    }
    tracing::debug!(repo = %spec.name, ?access, "branch access");
    None
}

/// The commits `from..to` as the forge lists them, refusing a move that is not a
/// fast-forward; bodies from the clone (when there is one) fill in GitLab's trailer.
async fn shipping_commits(
    spec: &RepoSpec,
    from: &str,
    to: &str,
    overridden: bool,
    local: Option<&LocalFacts>,
    read: Option<Comparison>,
) -> Result<Vec<ShipCommit>> {
    let name = spec.name.as_str();
    let cmp = match read {
        Some(cmp) => cmp,
        None => spec.forge.compare(&spec.id, from, to).await.map_err(|e| {
            Error::forge(
                name,
                format!("compare `{}` with {}", spec.target, short(to)),
                e,
            )
        })?,
    };
    if cmp.behind_by > 0 {
        return Err(if overridden {
            Error::Backwards {
                repo: name.to_owned(),
                target: spec.target.clone(),
                from: from.to_owned(),
                to: to.to_owned(),
            }
        } else {
            Error::Diverged {
                repo: name.to_owned(),
                target: spec.target.clone(),
                source_branch: spec.source.clone(),
                drift: cmp.behind_by,
            }
        });
    }
    let bodies = local.map(|l| &l.bodies);
    Ok(cmp
        .commits
        .iter()
        .map(|c| {
            let mut s = ShipCommit::from_forge(c);
            if s.change_request.is_none()
                && let Some(body) = bodies.and_then(|b| b.get(&c.sha))
            {
                s.change_request = change_request_number(&c.subject, body);
            }
            s
        })
        .collect())
}

/// What only a clone can tell: which commit an override names, commit bodies (for
/// GitLab's "See merge request" trailer and breaking-change footers), and tags.
struct LocalFacts {
    to: Option<String>,
    bodies: BTreeMap<String, String>,
    tag: Option<String>,
}

fn local_facts(
    spec: &RepoSpec,
    cache: &Path,
    requested: Option<&str>,
    source_tip: &str,
    from: &str,
    tag_prefix: Option<&str>,
) -> Result<LocalFacts> {
    let repo = open_clone(spec, cache)?;
    let name = spec.name.as_str();
    let source_oid = resolve_known(&repo, name, source_tip)?;
    let to = match requested {
        Some(rev) => {
            let oid = resolve_override(&repo, spec, rev)?;
            let on_source = repo.is_ancestor(oid, source_oid).map_err(|e| {
                Error::git(
                    name,
                    format!("check whether {oid} is on `{}`", spec.source),
                    e,
                )
            })?;
            if !on_source {
                return Err(Error::NotOnSource {
                    repo: name.to_owned(),
                    rev: rev.to_owned(),
                    sha: oid.to_string(),
                    source_branch: spec.source.clone(),
                });
            }
            oid
        }
        None => source_oid,
    };
    let from_oid = resolve_known(&repo, name, from)?;
    let mut bodies = BTreeMap::new();
    if from_oid != to
        && repo
            .is_ancestor(from_oid, to)
            .map_err(|e| Error::git(name, "compare the target with the new tip", e))?
    {
        for c in repo
            .commits_between(from_oid, to)
            .map_err(|e| Error::git(name, "list the commits to ship", e))?
        {
            bodies.insert(c.id.to_string(), c.body);
        }
    }
    let tag = match tag_prefix {
        Some(prefix) => next_tag(&repo, name, to, prefix)?,
        None => None,
    };
    Ok(LocalFacts {
        to: Some(to.to_string()),
        bodies,
        tag,
    })
}

/// Brings the repo's cached clone up to date (fetching every branch and tag).
pub(crate) fn open_clone(spec: &RepoSpec, cache: &Path) -> Result<Repo> {
    upkeep_git::ensure_clone(&spec.git_url, cache, &spec.source, &spec.credentials)
        .map(|r| r.repo)
        .map_err(|e| Error::git(&spec.name, format!("fetch {}", spec.git_url), e))
}

fn resolve_known(repo: &Repo, name: &str, sha: &str) -> Result<Oid> {
    repo.resolve(sha)
        .map_err(|e| Error::git(name, format!("find {} in the cached clone", short(sha)), e))
}

/// Resolves an override in the clone: a (short) SHA must name exactly one commit, and
/// have at least the 4 hex digits git looks short SHAs up by.
pub(crate) fn resolve_override(repo: &Repo, spec: &RepoSpec, rev: &str) -> Result<Oid> {
    let too_short = || Error::RevTooShort {
        repo: spec.name.clone(),
        rev: rev.to_owned(),
    };
    repo.resolve(rev).map_err(|e| match e {
        upkeep_git::Error::AmbiguousRev { .. } | upkeep_git::Error::UnknownRev { .. }
            if rev.len() < 4 && !rev.is_empty() && rev.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            too_short()
        }
        upkeep_git::Error::AmbiguousRev { candidates, .. } if candidates.is_empty() => too_short(),
        upkeep_git::Error::AmbiguousRev { candidates, .. } => Error::AmbiguousRev {
            repo: spec.name.clone(),
            rev: rev.to_owned(),
            candidates: candidates.iter().map(ToString::to_string).collect(),
        },
        upkeep_git::Error::UnknownRev { .. } => Error::UnknownRev {
            repo: spec.name.clone(),
            rev: rev.to_owned(),
            url: spec.git_url.clone(),
        },
        other => Error::git(&spec.name, format!("resolve `{rev}`"), other),
    })
}

/// The tag for `to`: the next version after the newest release tag reachable from it,
/// by the conventional commits since; `None` when `to` already carries a release tag.
pub(crate) fn next_tag(repo: &Repo, name: &str, to: Oid, prefix: &str) -> Result<Option<String>> {
    let (last, on_to) = last_release(repo, name, to, prefix)?;
    if on_to {
        return Ok(None);
    }
    let Some((version, tag_oid)) = last else {
        return Ok(next_version(None, [("", "")]).map(|v| format!("{prefix}{v}")));
    };
    let commits = repo
        .commits_between(tag_oid, to)
        .map_err(|e| Error::git(name, "list the commits since the last release", e))?;
    Ok(next_version(
        Some(&version),
        commits
            .iter()
            .map(|c| (c.subject.as_str(), c.body.as_str())),
    )
    .map(|v| format!("{prefix}{v}")))
}

/// The newest release tag reachable from `tip` (version and commit), and whether a
/// release tag sits on `tip` itself.
pub(crate) fn last_release(
    repo: &Repo,
    name: &str,
    tip: Oid,
    prefix: &str,
) -> Result<(Option<(semver::Version, Oid)>, bool)> {
    let tags = repo.tags().map_err(|e| Error::git(name, "list tags", e))?;
    let mut releases: Vec<(semver::Version, Oid)> = tags
        .iter()
        .filter_map(|t| tag_version(&t.name, prefix).map(|v| (v, t.target)))
        .collect();
    releases.sort_by(|a, b| b.0.cmp(&a.0));
    let on_tip = releases.iter().any(|(_, oid)| *oid == tip);
    for (v, oid) in releases {
        if repo
            .is_ancestor(oid, tip)
            .map_err(|e| Error::git(name, "check which tags are released", e))?
        {
            return Ok((Some((v, oid)), on_tip));
        }
    }
    Ok((None, on_tip))
}

/// The first 12 hex digits of a SHA, for display.
#[must_use]
pub fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rp(name: &str, from: &str, to: &str) -> RepoPlan {
        RepoPlan {
            name: name.into(),
            repo: format!("/srv/{name}"),
            source: "main".into(),
            target: "stable".into(),
            source_tip: to.into(),
            from: from.into(),
            to: to.into(),
            requested: None,
            commits: vec![],
            tag: None,
            depends_on: vec![],
            blocked: None,
        }
    }

    #[test]
    fn digest_is_stable_and_order_independent() {
        let a = [rp("a", "1", "2"), rp("b", "3", "3")];
        let b = [rp("b", "3", "3"), rp("a", "1", "2")];
        assert_eq!(digest(&a), digest(&b));
        assert_eq!(digest(&a).len(), 12);
        assert_ne!(digest(&a), digest(&[rp("a", "1", "9"), rp("b", "3", "3")]));
        assert_ne!(digest(&a), digest(&[rp("a", "0", "2"), rp("b", "3", "3")]));
    }

    #[test]
    fn approval_must_match_digest() {
        let repos = vec![rp("a", "1", "2")];
        let plan = Plan {
            digest: digest(&repos),
            levels: vec![vec!["a".into()]],
            repos,
            skipped: vec![],
        };
        plan.check_approval(&plan.digest.to_uppercase()).unwrap();
        let err = plan.check_approval("0123456789ab").unwrap_err();
        assert!(matches!(err, Error::DigestMismatch { .. }));
        assert!(plan.check_approval(&plan.digest[..6]).is_err());
        let padded = format!("{}ff", plan.digest);
        assert!(
            plan.check_approval(&padded).is_err(),
            "only the digest itself"
        );
    }

    #[test]
    fn the_digest_covers_the_tags_a_run_would_create() {
        let plain = vec![rp("a", "1", "2")];
        let mut tagged = plain.clone();
        tagged[0].tag = Some("v1.3.0".into());
        assert_ne!(digest(&plain), digest(&tagged));
    }
}

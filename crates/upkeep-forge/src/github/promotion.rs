//! A promotion's reads of one GitHub repository in one GraphQL query: both tips, how they
//! compare, whether the token's user may update the target, and the repository's node id
//! (which `updateRefs` needs when the branch moves).

use std::fmt::Write as _;

use serde::Deserialize;
use serde_json::json;

use super::{GitHub, RolePermissions, hidden_rule_access, split, unprotected_access};
use crate::{BranchAccess, CommitSummary, Comparison, ForgeError, PromotionReads, RepoId, Result};

/// GitHub lists at most 100 nodes per connection page; a longer comparison is read with
/// the REST compare (250 commits) instead.
const COMMITS: usize = 100;

/// `Repository.ref(qualifiedName:)` for both branches, `Ref.compare(headRef:)` from the
/// target to the source, the token's role (`viewerPermission`) and the target's protection
/// as any reader sees it (`refUpdateRule`, `null` when unprotected), and `Repository.id`.
pub(super) const PROMOTION_READS: &str =
    "query($owner: String!, $name: String!, $source: String!, $target: String!) {
  repository(owner: $owner, name: $name) {
    id
    viewerPermission
    head: ref(qualifiedName: $source) { target { oid } }
    base: ref(qualifiedName: $target) {
      target { oid }
      refUpdateRule { viewerCanPush requiredStatusCheckContexts allowsForcePushes }
      compare(headRef: $source) {
        aheadBy
        behindBy
        commits(first: 100) { nodes { oid messageHeadline author { name date } } }
      }
    }
  }
}";

#[derive(Deserialize)]
struct Answer {
    data: Data,
}

#[derive(Deserialize)]
struct Data {
    repository: Repository,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Repository {
    id: String,
    /// `ADMIN`, `MAINTAIN`, `WRITE`, `TRIAGE`, `READ`; `null` for an anonymous reader.
    viewer_permission: Option<String>,
    head: Option<Ref>,
    base: Option<Ref>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Ref {
    target: Option<Target>,
    #[serde(default, rename = "refUpdateRule")]
    protection: Option<RefUpdateRule>,
    #[serde(default)]
    compare: Option<Compare>,
}

/// `Ref.refUpdateRule`: the protection rule as GitHub shows it to readers who are not
/// administrators, with its own verdict on the token's user (`viewerCanPush`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefUpdateRule {
    viewer_can_push: bool,
    #[serde(default)]
    required_status_check_contexts: Option<Vec<Option<String>>>,
    #[serde(default)]
    allows_force_pushes: bool,
}

#[derive(Deserialize)]
struct Target {
    oid: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Compare {
    ahead_by: usize,
    behind_by: usize,
    commits: Nodes,
}

#[derive(Deserialize)]
struct Nodes {
    nodes: Vec<Commit>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Commit {
    oid: String,
    message_headline: String,
    author: Option<Actor>,
}

#[derive(Deserialize)]
struct Actor {
    name: Option<String>,
    date: Option<String>,
}

impl GitHub {
    /// [`crate::Forge::promotion_reads`] in one request; a repository GitHub does not
    /// resolve is read again through REST, whose answers name what is missing.
    pub(super) async fn read_for_promotion(
        &self,
        repo: &RepoId,
        source: &str,
        target: &str,
    ) -> Result<PromotionReads> {
        let (owner, name) = split(repo)?;
        let payload = json!({
            "query": PROMOTION_READS,
            "variables": {
                "owner": owner,
                "name": name,
                "source": format!("refs/heads/{source}"),
                "target": format!("refs/heads/{target}"),
            },
        });
        let doing = format!("reading {source} and {target} of {repo}");
        let answer = self
            .graphql_read(&doing, &format!("repository {repo}"), &payload)
            .await?;
        let errors: Vec<&str> = answer["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| e["message"].as_str().unwrap_or("(no message)"))
            .collect();
        if answer["data"]["repository"].is_null() {
            // GraphQL says "Could not resolve to a Repository" with HTTP 200: the REST
            // reads tell a missing repository from a missing branch, as before.
            if errors.is_empty() || answer["errors"][0]["type"] == "NOT_FOUND" {
                return Ok(PromotionReads {
                    source_tip: self.read_branch(repo, source).await?,
                    target_tip: self.read_branch(repo, target).await?,
                    ..PromotionReads::default()
                });
            }
        }
        if !errors.is_empty() {
            return Err(ForgeError::Protocol {
                forge: crate::ForgeKind::GitHub,
                doing,
                message: errors.join("; "),
            });
        }
        let answer: Answer = serde_json::from_value(answer).map_err(|e| ForgeError::Protocol {
            forge: crate::ForgeKind::GitHub,
            doing: doing.clone(),
            message: e.to_string(),
        })?;
        let repository = answer.data.repository;
        self.lock_ids()
            .insert(format!("{owner}/{name}"), repository.id.clone());
        let tip = |r: &Option<Ref>| {
            r.as_ref()
                .and_then(|r| r.target.as_ref())
                .map(|t| t.oid.clone())
        };
        let source_tip = tip(&repository.head);
        let target_tip = tip(&repository.base);
        let target_access = repository.base.as_ref().and_then(|base| {
            target_access(
                target,
                repository.viewer_permission.as_deref()?,
                base.protection.as_ref(),
            )
        });
        let comparison = repository
            .base
            .and_then(|b| b.compare)
            .filter(|c| {
                source_tip.is_some() && c.ahead_by <= COMMITS && c.commits.nodes.len() == c.ahead_by
            })
            .map(|c| Comparison {
                ahead_by: c.ahead_by,
                behind_by: c.behind_by,
                // GitHub lists them oldest first, as the REST compare does.
                commits: c
                    .commits
                    .nodes
                    .into_iter()
                    .rev()
                    .map(|n| CommitSummary {
                        sha: n.oid,
                        subject: n.message_headline,
                        author: n
                            .author
                            .as_ref()
                            .and_then(|a| a.name.clone())
                            .unwrap_or_default(),
                        time: n.author.and_then(|a| a.date),
                    })
                    .collect(),
                merge_base: None,
            });
        Ok(PromotionReads {
            source_tip,
            target_tip,
            comparison,
            target_access,
        })
    }
}

/// `Forge::branch_access`'s query: the token's role and the branch's rule.
const BRANCH_ACCESS: &str = "query($owner: String!, $name: String!, $branch: String!) {
  repository(owner: $owner, name: $name) {
    viewerPermission
    ref(qualifiedName: $branch) {
      refUpdateRule { viewerCanPush requiredStatusCheckContexts allowsForcePushes }
    }
  }
}";

#[derive(Deserialize)]
struct AccessData {
    repository: Option<AccessRepository>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccessRepository {
    viewer_permission: Option<String>,
    #[serde(rename = "ref")]
    branch: Option<AccessRef>,
}

#[derive(Deserialize)]
struct AccessRef {
    #[serde(default, rename = "refUpdateRule")]
    protection: Option<RefUpdateRule>,
}

impl GitHub {
    /// [`crate::Forge::branch_access`] in one query, or `None` when only the REST reads of
    /// the rule can tell (GitHub refuses an administrator, or does not say the role).
    pub(super) async fn read_branch_access(
        &self,
        repo: &RepoId,
        branch: &str,
    ) -> Result<Option<BranchAccess>> {
        let (owner, name) = split(repo)?;
        let payload = json!({
            "query": BRANCH_ACCESS,
            "variables": {"owner": owner, "name": name, "branch": format!("refs/heads/{branch}")},
        });
        let doing = format!("reading who may update {branch} of {repo}");
        let data: AccessData = self
            .graphql_data(&doing, &format!("repository {repo}"), repo, &payload)
            .await?;
        let Some(repository) = data.repository else {
            return Err(ForgeError::NotFound {
                forge: crate::ForgeKind::GitHub,
                what: format!("repository {repo}"),
            });
        };
        let Some(found) = repository.branch else {
            return Ok(Some(BranchAccess::unknown(
                branch,
                format!(
                    "`{branch}` does not exist on {repo}; GitHub tells protection only for existing branches"
                ),
            )));
        };
        Ok(repository
            .viewer_permission
            .as_deref()
            .and_then(|permission| target_access(branch, permission, found.protection.as_ref())))
    }
}

/// What the plan's query tells about moving `branch`: an unprotected branch needs the
/// Write role; on a protected one GitHub's `viewerCanPush` decides. A rule that refuses an
/// administrator is `None`, so the plan asks [`crate::Forge::branch_access`], whose REST
/// reads of the rule (administrators may read it) say what is missing.
fn target_access(
    branch: &str,
    permission: &str,
    rule: Option<&RefUpdateRule>,
) -> Option<BranchAccess> {
    let account = RolePermissions {
        admin: permission == "ADMIN",
        push: matches!(permission, "ADMIN" | "MAINTAIN" | "WRITE"),
        pull: true,
    };
    let Some(rule) = rule else {
        return Some(unprotected_access(branch, &account));
    };
    if !rule.viewer_can_push {
        if account.admin {
            return None;
        }
        let mut access = hidden_rule_access(branch, &account, &[]);
        access.can_update = Some(false);
        access.detail =
            format!("`{branch}` is protected; GitHub says the token's user may not push to it");
        return Some(access);
    }
    let mut detail =
        format!("`{branch}` is protected; GitHub says the token's user may push to it");
    let contexts: Vec<&str> = rule
        .required_status_check_contexts
        .iter()
        .flatten()
        .flatten()
        .map(String::as_str)
        .collect();
    if !contexts.is_empty() {
        let _ = write!(
            detail,
            "; a new tip needs passing status checks: {}",
            contexts.join(", ")
        );
    }
    if !rule.allows_force_pushes {
        detail.push_str("; force pushes (rollbacks) are blocked for everyone");
    }
    Some(BranchAccess {
        branch: branch.to_owned(),
        protected: Some(true),
        can_update: Some(true),
        detail,
        fix: None,
    })
}

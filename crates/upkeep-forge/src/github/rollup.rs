//! A commit's CI signals in one GraphQL query: `Commit.statusCheckRollup` lists the latest
//! commit status of each context and the latest check run of each name together, which
//! the REST API splits over the combined status and the check runs (two requests).

use serde::Deserialize;
use serde_json::json;

use super::{GitHub, check_run_state, split, status_state};
use crate::{Check, CheckSource, CheckState, CiVerdict, ForgeError, ForgeKind, RepoId, Result};

/// The rollup of one commit, a page of 100 contexts at a time (`$after`: the cursor of the
/// page before). A commit without any status or check run has no rollup (`null`).
pub(super) const CI_ROLLUP: &str =
    "query($owner: String!, $name: String!, $oid: GitObjectID!, $after: String) {
  repository(owner: $owner, name: $name) {
    object(oid: $oid) {
      ... on Commit {
        statusCheckRollup {
          contexts(first: 100, after: $after) {
            pageInfo { hasNextPage endCursor }
            nodes {
              __typename
              ... on StatusContext { context state targetUrl }
              ... on CheckRun { name status conclusion detailsUrl url }
            }
          }
        }
      }
    }
  }
}";

#[derive(Deserialize)]
struct Data {
    repository: Option<Repository>,
}

#[derive(Deserialize)]
struct Repository {
    object: Option<Object>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Object {
    /// Absent when the object is not a commit.
    #[serde(default)]
    status_check_rollup: Option<Rollup>,
}

#[derive(Deserialize)]
struct Rollup {
    contexts: Contexts,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Contexts {
    page_info: PageInfo,
    nodes: Vec<Context>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    has_next_page: bool,
    end_cursor: Option<String>,
}

#[derive(Deserialize)]
#[serde(tag = "__typename")]
enum Context {
    #[serde(rename_all = "camelCase")]
    StatusContext {
        context: String,
        /// `StatusState`: `ERROR`, `EXPECTED`, `FAILURE`, `PENDING`, `SUCCESS`.
        state: String,
        target_url: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    CheckRun {
        name: String,
        /// `CheckConclusionState`, `null` while the run is queued or in progress.
        conclusion: Option<String>,
        details_url: Option<String>,
        url: Option<String>,
    },
}

impl GitHub {
    /// [`crate::Forge::ci_verdict`]: every page of the commit's rollup (one request for up
    /// to 100 signals). Statuses come before check runs and a later signal of the same
    /// name wins, as with the REST reads this replaced.
    pub(super) async fn read_ci(&self, repo: &RepoId, sha: &str) -> Result<CiVerdict> {
        let (owner, name) = split(repo)?;
        let doing = format!("reading the CI of {sha} in {repo}");
        let mut checks: Vec<Check> = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let payload = json!({
                "query": CI_ROLLUP,
                "variables": {"owner": owner, "name": name, "oid": sha, "after": after},
            });
            let data: Data = self
                .graphql_data(&doing, &format!("commit {sha} in {repo}"), repo, &payload)
                .await?;
            let object =
                data.repository
                    .and_then(|r| r.object)
                    .ok_or_else(|| ForgeError::NotFound {
                        forge: ForgeKind::GitHub,
                        what: format!("commit {sha} in {repo}"),
                    })?;
            let Some(rollup) = object.status_check_rollup else {
                break;
            };
            for context in rollup.contexts.nodes {
                let check = match context {
                    Context::StatusContext {
                        context,
                        state,
                        target_url,
                    } => Check {
                        name: context,
                        // EXPECTED: a required context that has not reported yet.
                        state: match state.to_ascii_lowercase().as_str() {
                            "expected" => CheckState::Pending,
                            state => status_state(state),
                        },
                        url: target_url,
                        source: CheckSource::CommitStatus,
                    },
                    Context::CheckRun {
                        name,
                        conclusion,
                        details_url,
                        url,
                    } => Check {
                        name,
                        state: check_run_state(
                            conclusion.map(|c| c.to_ascii_lowercase()).as_deref(),
                        ),
                        url: url.or(details_url),
                        source: CheckSource::CheckRun,
                    },
                };
                match checks.iter_mut().find(|c| c.name == check.name) {
                    Some(slot) => *slot = check,
                    None => checks.push(check),
                }
            }
            match rollup.contexts.page_info {
                PageInfo {
                    has_next_page: true,
                    end_cursor: Some(cursor),
                } => after = Some(cursor),
                _ => break,
            }
        }
        Ok(CiVerdict::from_checks(sha, checks))
    }
}

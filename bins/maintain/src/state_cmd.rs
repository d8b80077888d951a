//! From `[state]` and the environment to the round's state store, and which shard of the
//! round this runner takes (`--shard`, or the CI system's own variables).

use upkeep_cli::Report;
use upkeep_config::Config;
use upkeep_maintain::{Shard, StateSetup};

use crate::wiring::Tokens;

/// The state store `[state]` names: files under `dir`, or the git repository `repo` (with
/// the token of its forge).
pub(crate) fn state_setup(config: &Config, tokens: &Tokens) -> Result<StateSetup, Report> {
    let state = &config.state;
    let mut setup = match upkeep_cli::shared_state_store(state, &tokens.secrets())? {
        Some(store) => StateSetup::new(store),
        None => StateSetup::local(state.dir.clone()).map_err(|e| {
            Report::failure(e).hint(format!(
                "check that {} can be created and written, or set [state] dir",
                state.dir.display()
            ))
        })?,
    };
    setup.lease = state.lease.get();
    Ok(setup)
}

/// The CI variables a shard is read from when `--shard` is not given.
#[derive(Debug, Default, Clone)]
pub(crate) struct CiShardVars {
    /// GitLab `parallel:`: `CI_NODE_INDEX` (1-based).
    pub ci_node_index: Option<String>,
    /// GitLab `parallel:`: `CI_NODE_TOTAL`.
    pub ci_node_total: Option<String>,
    /// A Kubernetes Indexed Job: `JOB_COMPLETION_INDEX` (0-based).
    pub job_completion_index: Option<String>,
}

impl CiShardVars {
    /// The variables of this process's environment.
    #[expect(
        clippy::disallowed_methods,
        reason = "the binary's edge: the CI system says which shard this is through the environment"
    )]
    pub(crate) fn from_env() -> Self {
        let var = |name| {
            std::env::var(name)
                .ok()
                .filter(|v: &String| !v.trim().is_empty())
        };
        Self {
            ci_node_index: var("CI_NODE_INDEX"),
            ci_node_total: var("CI_NODE_TOTAL"),
            job_completion_index: var("JOB_COMPLETION_INDEX"),
        }
    }
}

/// `--shard` was wrong, or the CI variables do not make a shard.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ShardSource {
    /// `--shard` (or `UPKEEP_SHARD`) did not parse.
    #[error("--shard {0}")]
    Flag(#[source] upkeep_maintain::ShardError),
    /// GitLab's variables did not make a shard.
    #[error(
        "CI_NODE_INDEX={index} and CI_NODE_TOTAL={total} (GitLab parallel:) do not name a shard"
    )]
    GitLab {
        /// `CI_NODE_INDEX`.
        index: String,
        /// `CI_NODE_TOTAL`.
        total: String,
        /// Why.
        #[source]
        source: upkeep_maintain::ShardError,
    },
    /// `JOB_COMPLETION_INDEX` without a number of shards.
    #[error(
        "JOB_COMPLETION_INDEX={0} is set (a Kubernetes Indexed Job), but not how many shards there are"
    )]
    NoTotal(String),
    /// `JOB_COMPLETION_INDEX` did not make a shard.
    #[error("JOB_COMPLETION_INDEX={index} with --shards {total} does not name a shard")]
    Indexed {
        /// `JOB_COMPLETION_INDEX`.
        index: String,
        /// `--shards`.
        total: u32,
        /// Why.
        #[source]
        source: upkeep_maintain::ShardError,
    },
    /// `--shards` with nothing to say which one.
    #[error("--shards {0} is given, but not which shard this is")]
    NoIndex(u32),
}

/// This runner's shard: `--shard I/N` (or `UPKEEP_SHARD`); else GitLab's `CI_NODE_INDEX`
/// and `CI_NODE_TOTAL`; else a Kubernetes Indexed Job's `JOB_COMPLETION_INDEX` (0-based)
/// with `--shards N` (or `UPKEEP_SHARDS`); else none: the whole round.
pub(crate) fn shard(
    flag: Option<&str>,
    shards: Option<u32>,
    ci: &CiShardVars,
) -> Result<Option<Shard>, Report> {
    let user = |e: ShardSource| Report::user(e);
    if let Some(given) = flag {
        return given.parse::<Shard>().map(Some).map_err(|e| {
            user(ShardSource::Flag(e)).hint("write --shard 2/4 for the second of four shards")
        });
    }
    if let (Some(index), Some(total)) = (&ci.ci_node_index, &ci.ci_node_total) {
        return format!("{index}/{total}")
            .parse::<Shard>()
            .map(Some)
            .map_err(|source| {
                user(ShardSource::GitLab {
                    index: index.clone(),
                    total: total.clone(),
                    source,
                })
                .hint("pass --shard I/N to override")
            });
    }
    if let Some(index) = &ci.job_completion_index {
        let Some(total) = shards else {
            return Err(user(ShardSource::NoTotal(index.clone()))
                .hint("pass --shards N (or set UPKEEP_SHARDS=N), N being the Job's completions"));
        };
        let shard = index
            .trim()
            .parse::<u32>()
            .map_err(|_| upkeep_maintain::ShardError::Syntax {
                given: index.clone(),
            })
            .and_then(|i| Shard::new(i.saturating_add(1), total));
        return shard.map(Some).map_err(|source| {
            user(ShardSource::Indexed {
                index: index.clone(),
                total,
                source,
            })
            .hint("JOB_COMPLETION_INDEX counts from 0 to completions - 1; --shards is the completions")
        });
    }
    match shards {
        Some(n) => Err(user(ShardSource::NoIndex(n))
            .hint("pass --shard I/N, or run under GitLab parallel: or a Kubernetes Indexed Job")),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ci(index: Option<&str>, total: Option<&str>, job: Option<&str>) -> CiShardVars {
        CiShardVars {
            ci_node_index: index.map(str::to_owned),
            ci_node_total: total.map(str::to_owned),
            job_completion_index: job.map(str::to_owned),
        }
    }

    fn err(r: Result<Option<Shard>, Report>) -> String {
        r.unwrap_err().render()
    }

    #[test]
    fn the_flag_wins_then_gitlab_then_kubernetes() {
        let all = ci(Some("3"), Some("4"), Some("0"));
        assert_eq!(
            shard(Some("2/4"), None, &all).unwrap(),
            Some(Shard::new(2, 4).unwrap())
        );
        assert_eq!(
            shard(None, None, &all).unwrap(),
            Some(Shard::new(3, 4).unwrap())
        );
        let k8s = ci(None, None, Some("0"));
        assert_eq!(
            shard(None, Some(4), &k8s).unwrap(),
            Some(Shard::new(1, 4).unwrap())
        );
        let k8s = ci(None, None, Some("3"));
        assert_eq!(
            shard(None, Some(4), &k8s).unwrap(),
            Some(Shard::new(4, 4).unwrap())
        );
        assert_eq!(shard(None, None, &CiShardVars::default()).unwrap(), None);
    }

    #[test]
    fn bad_shards_say_what_is_wrong_and_where_it_came_from() {
        let none = CiShardVars::default();
        assert!(err(shard(Some("0/4"), None, &none)).contains("numbered from 1"));
        assert!(err(shard(Some("5/4"), None, &none)).contains("no shard 5 of 4"));
        assert!(err(shard(Some("a/b"), None, &none)).contains("write I/N"));
        let e = err(shard(None, None, &ci(Some("5"), Some("4"), None)));
        assert!(
            e.contains("CI_NODE_INDEX=5") && e.contains("no shard 5 of 4"),
            "{e}"
        );
        let e = err(shard(None, None, &ci(None, None, Some("2"))));
        assert!(
            e.contains("JOB_COMPLETION_INDEX=2") && e.contains("--shards N"),
            "{e}"
        );
        let e = err(shard(None, Some(4), &ci(None, None, Some("4"))));
        assert!(e.contains("counts from 0"), "{e}");
        let e = err(shard(None, Some(4), &ci(None, None, Some("x"))));
        assert!(e.contains("JOB_COMPLETION_INDEX=x"), "{e}");
        let e = err(shard(None, Some(4), &none));
        assert!(e.contains("not which shard"), "{e}");
    }
}

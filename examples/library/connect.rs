//! What the forge examples share: a repository URL in, the right forge adapter and
//! repository id out — as the binaries do for every configured repo.

use std::error::Error;
use std::sync::Arc;

use secrecy::SecretString;
use upkeep_config::{ForgeKind, Remote};
use upkeep_forge::github::GitHub;
use upkeep_forge::gitlab::{GitLab, GitLabOptions};
use upkeep_forge::local::LocalForge;
use upkeep_forge::retry::RetryPolicy;
use upkeep_forge::{Forge, RepoId};

/// `https://github.com/OWNER/NAME`, `https://gitlab.com/GROUP/NAME` or the path of a bare
/// repository → its forge adapter (token from `GITHUB_TOKEN` / `GITLAB_TOKEN`) and id.
pub async fn forge_for(repo_url: &str) -> Result<(Arc<dyn Forge>, RepoId), Box<dyn Error>> {
    // The same rules as `repo = "…"` in upkeep.toml: forge kind and API URL inferred.
    let remote = Remote::resolve(repo_url, None, None, &std::env::current_dir()?)?;
    let api = remote.api_url.clone().unwrap_or_default();
    let work_dir = std::env::temp_dir().join("upkeep-examples");
    let token = |var: &str| match std::env::var(var) {
        Ok(t) if !t.is_empty() => Ok(SecretString::from(t)),
        _ => Err(format!("set {var} to reach {repo_url}")),
    };
    Ok(match remote.kind {
        ForgeKind::Github => {
            let github = GitHub::new(&api, token("GITHUB_TOKEN")?, RetryPolicy::default())?;
            (Arc::new(github), RepoId::new(remote.path))
        }
        ForgeKind::Gitlab => {
            let options = GitLabOptions::new(api, token("GITLAB_TOKEN")?, work_dir);
            (
                Arc::new(GitLab::connect(options).await?),
                RepoId::new(remote.path),
            )
        }
        // Plain git: the repository is named by where it is.
        ForgeKind::Local => (Arc::new(LocalForge::new(work_dir)), RepoId::new(remote.url)),
    })
}

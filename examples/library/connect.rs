//! What the forge examples share: a repository URL in, the right forge adapter and
//! repository id out — through the factory the binaries use for every configured repo.
#![expect(
    clippy::disallowed_methods,
    reason = "an example program: like a binary, it reads its tokens from the environment"
)]

use std::error::Error;
use std::sync::Arc;

use upkeep_config::{Remote, Secrets};
use upkeep_forge::connect::Forges;
use upkeep_forge::{Forge, RepoId};

/// `https://github.com/OWNER/NAME`, `https://gitlab.com/GROUP/NAME` or the path of a bare
/// repository → its forge adapter (token from `GITHUB_TOKEN` / `GITLAB_TOKEN`) and id.
pub(crate) async fn forge_for(repo_url: &str) -> Result<(Arc<dyn Forge>, RepoId), Box<dyn Error>> {
    // The same rules as `repo = "…"` in upkeep.toml: forge kind and API URL inferred.
    let remote = Remote::resolve(repo_url, None, None, &std::env::current_dir()?)?;
    let forges = Forges::new(
        Secrets::from_env(std::env::vars()),
        &std::env::temp_dir().join("upkeep-examples"),
    );
    let connected = forges.connect(&remote, repo_url).await?;
    Ok((connected.forge, connected.repo))
}

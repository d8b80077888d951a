//! Which projects a round runs, and the branch it pushes.

use chrono::NaiveDate;
use upkeep_config::MaintainConfig;

use crate::{Error, Result};

/// Picks the projects of a round: all, or those named in `only`, minus those in `skip`.
/// Returns the selected projects and the names left out by `skip`. An unknown name is an
/// error naming the known ones.
pub fn select<'a>(
    config: &'a MaintainConfig,
    only: &[String],
    skip: &[String],
) -> Result<(Vec<&'a upkeep_config::Project>, Vec<String>)> {
    let known: Vec<&str> = config.projects.iter().map(|p| p.name.as_str()).collect();
    for name in only.iter().chain(skip) {
        if !known.contains(&name.as_str()) {
            return Err(Error::UnknownProject {
                name: name.clone(),
                suggestion: upkeep_config::did_you_mean(name, &known).map(str::to_owned),
                known: known.iter().map(|k| (*k).to_owned()).collect(),
            });
        }
    }
    let mut selected = Vec::new();
    let mut excluded = Vec::new();
    for p in &config.projects {
        if !only.is_empty() && !only.contains(&p.name) {
            continue;
        }
        if skip.contains(&p.name) {
            excluded.push(p.name.clone());
        } else {
            selected.push(p);
        }
    }
    Ok((selected, excluded))
}

/// The branch a round of `date` pushes.
#[must_use]
pub fn branch_name(config: &MaintainConfig, date: NaiveDate) -> String {
    config.branch.render(date)
}

/// A project whose `repo` is a local path with no git repository there: a mistake in the
/// configuration, found before anything runs (a round would otherwise fail the project
/// at its first git step, with git's words for it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("project `{project}`: no repository at {} ({why})", path.display())]
pub struct MissingRepository {
    /// The project.
    pub project: String,
    /// The path its `repo` names (absolute).
    pub path: std::path::PathBuf,
    /// `the directory does not exist`, `it is not a directory`, `it is not a git
    /// repository`.
    pub why: &'static str,
}

/// Whether a project's repository is a local path without a git repository (bare, or a
/// work tree with `.git`) at it. Remote URLs are not checked here: reaching them is
/// `maintain doctor`'s job.
#[must_use]
pub fn missing_repository(project: &upkeep_config::ResolvedProject) -> Option<MissingRepository> {
    let remote = &project.remote;
    if remote.kind != upkeep_config::ForgeKind::Local || remote.host.is_some() {
        return None;
    }
    let path = std::path::PathBuf::from(&remote.url);
    let why = match fs_err::metadata(&path) {
        Err(_) => "the directory does not exist",
        Ok(m) if !m.is_dir() => "it is not a directory",
        Ok(_) if path.join("HEAD").is_file() && path.join("objects").is_dir() => return None,
        Ok(_) if path.join(".git").exists() => return None,
        Ok(_) => "it is not a git repository",
    };
    Some(MissingRepository {
        project: project.name.clone(),
        path,
        why,
    })
}

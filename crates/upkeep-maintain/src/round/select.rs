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

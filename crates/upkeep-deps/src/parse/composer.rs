//! `composer.lock`: JSON `packages` and `packages-dev`; `composer.json` says what is
//! direct.

use std::collections::HashSet;

use serde::Deserialize;

use super::{Ctx, Parsed, mark_direct};
use crate::model::{Ecosystem, FileError, Package};

#[derive(Deserialize)]
struct ComposerLock {
    #[serde(default)]
    packages: Vec<ComposerPackage>,
    #[serde(rename = "packages-dev", default)]
    packages_dev: Option<Vec<ComposerPackage>>,
}

#[derive(Deserialize)]
struct ComposerPackage {
    name: String,
    version: Option<String>,
    source: Option<ComposerSource>,
}

#[derive(Deserialize)]
struct ComposerSource {
    url: Option<String>,
    reference: Option<String>,
}

pub(crate) fn parse(
    ctx: &Ctx<'_>,
    text: &str,
    manifest: Option<HashSet<String>>,
) -> Result<Parsed, FileError> {
    let lock: ComposerLock = ctx.json(text)?;
    let mut packages: Vec<Package> = lock
        .packages
        .into_iter()
        .chain(lock.packages_dev.unwrap_or_default())
        .map(|p| {
            // A branch (`dev-main`) is only identified by the commit it resolved to.
            let is_branch = p
                .version
                .as_deref()
                .is_some_and(|v| v.starts_with("dev-") || v.ends_with("-dev"));
            let source = p
                .source
                .filter(|_| is_branch)
                .and_then(|s| match (s.url, s.reference) {
                    (Some(url), Some(r)) => Some(format!("{url}#{r}")),
                    (url, r) => url.or(r),
                });
            Package {
                name: p.name,
                version: p.version,
                source,
                direct: None,
            }
        })
        .collect();
    if let Some(names) = manifest {
        mark_direct(Ecosystem::Packagist, &mut packages, &names);
    }
    Ok(Parsed {
        format_version: None,
        packages,
    })
}

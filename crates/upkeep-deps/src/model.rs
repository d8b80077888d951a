//! The neutral types every parser produces and every renderer reads.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A package ecosystem: decides the version scheme and the registry a name links to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ecosystem {
    /// Python packages (PEP 440 versions, `PyPI`).
    Pypi,
    /// JavaScript packages (semver, the npm registry).
    Npm,
    /// Rust crates (semver, crates.io).
    Cargo,
    /// Go modules (semver with `v` prefix, pseudo-versions, pkg.go.dev).
    Go,
    /// Ruby gems (`RubyGems` versions, `rubygems.org`).
    #[serde(rename = "rubygems")]
    RubyGems,
    /// PHP packages (semver-like, Packagist).
    Packagist,
    /// Container images (tags, Docker Hub).
    Docker,
}

impl Ecosystem {
    /// The lowercase name used in JSON and text output.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pypi => "pypi",
            Self::Npm => "npm",
            Self::Cargo => "cargo",
            Self::Go => "go",
            Self::RubyGems => "rubygems",
            Self::Packagist => "packagist",
            Self::Docker => "docker",
        }
    }

    /// The name of the registry people know, for link text.
    #[must_use]
    pub const fn registry_name(self) -> &'static str {
        match self {
            Self::Pypi => "PyPI",
            Self::Npm => "npm",
            Self::Cargo => "crates.io",
            Self::Go => "pkg.go.dev",
            Self::RubyGems => "RubyGems",
            Self::Packagist => "Packagist",
            Self::Docker => "Docker Hub",
        }
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The file format a lockfile is written in, chosen from its file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LockfileKind {
    /// `requirements*.txt` as written by pip-compile, `uv pip compile` or `pip freeze`.
    Requirements,
    /// Pipenv's `Pipfile.lock`.
    PipfileLock,
    /// Poetry's `poetry.lock`.
    PoetryLock,
    /// uv's `uv.lock`.
    UvLock,
    /// npm's `package-lock.json` (v1, v2, v3) or `npm-shrinkwrap.json`.
    PackageLock,
    /// `yarn.lock`, classic (v1) or Berry (v2+).
    YarnLock,
    /// `pnpm-lock.yaml` (v5, v6, v9).
    PnpmLock,
    /// `Cargo.lock`.
    CargoLock,
    /// `go.mod` (with `go.sum` beside it for pre-1.17 modules).
    GoMod,
    /// Bundler's `Gemfile.lock` (or `gems.locked`).
    GemfileLock,
    /// `composer.lock`.
    ComposerLock,
    /// A `Dockerfile` / `Containerfile`: images in `FROM` lines.
    Dockerfile,
    /// A `docker-compose*.yml` / `compose*.yaml`: `image:` keys.
    Compose,
}

impl LockfileKind {
    /// The ecosystem whose packages this format lists.
    #[must_use]
    pub const fn ecosystem(self) -> Ecosystem {
        match self {
            Self::Requirements | Self::PipfileLock | Self::PoetryLock | Self::UvLock => {
                Ecosystem::Pypi
            }
            Self::PackageLock | Self::YarnLock | Self::PnpmLock => Ecosystem::Npm,
            Self::CargoLock => Ecosystem::Cargo,
            Self::GoMod => Ecosystem::Go,
            Self::GemfileLock => Ecosystem::RubyGems,
            Self::ComposerLock => Ecosystem::Packagist,
            Self::Dockerfile | Self::Compose => Ecosystem::Docker,
        }
    }
}

/// One resolved package in a lockfile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    /// The name as the lockfile writes it.
    pub name: String,
    /// The version as written, or `None` for non-versioned entries (editable installs,
    /// URL or path requirements, untagged images).
    pub version: Option<String>,
    /// Where it comes from when the lockfile says so (registry URL, git URL, path).
    pub source: Option<String>,
    /// `Some(true)` when the project's manifest asks for it, `Some(false)` when it is
    /// only pulled in by other packages, `None` when no manifest says.
    pub direct: Option<bool>,
}

/// A parsed lockfile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lockfile {
    /// The path it was read from, relative to the tree root where there is one.
    pub path: String,
    /// The ecosystem of its packages.
    pub ecosystem: Ecosystem,
    /// Its format.
    pub kind: LockfileKind,
    /// The format version the file declares, when it declares one (`"3"` for a
    /// package-lock v3, `"berry 8"` for a Berry `yarn.lock`, `"9.0"` for pnpm).
    pub format_version: Option<String>,
    /// Every package, in file order. The project's own packages (workspace members,
    /// local path packages) are left out: they are not dependencies.
    pub packages: Vec<Package>,
}

/// How a package changed between two lockfiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// The first release number went up (`1.x` → `2.x`).
    Major,
    /// The second release number went up.
    Minor,
    /// A later release number went up, or a post-release.
    Patch,
    /// Only pre-release parts differ (`2.0.0-rc.1` → `2.0.0`).
    Prerelease,
    /// The new version is lower than the old one.
    Downgrade,
    /// Only in the new lockfile.
    Added,
    /// Only in the old lockfile.
    Removed,
    /// A change the version scheme cannot order: a tag variant, a git ref, a digest, a
    /// URL, an unparsable version.
    Other,
}

impl ChangeKind {
    /// The lowercase name used in JSON and text output.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Major => "major",
            Self::Minor => "minor",
            Self::Patch => "patch",
            Self::Prerelease => "prerelease",
            Self::Downgrade => "downgrade",
            Self::Added => "added",
            Self::Removed => "removed",
            Self::Other => "other",
        }
    }
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One package that changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The package name (as the new lockfile writes it, or the old one for removals).
    pub name: String,
    /// The old version as written; `None` when added or non-versioned.
    pub from: Option<String>,
    /// The new version as written; `None` when removed or non-versioned.
    pub to: Option<String>,
    /// How it changed.
    pub kind: ChangeKind,
    /// Direct or transitive, from the new side (the old side for removals).
    pub direct: Option<bool>,
    /// A major bump, a `0.x` minor bump or a `0.0.x` patch bump.
    pub likely_breaking: bool,
    /// The ecosystem (not in the JSON: the lockfile carries it, and deserialising a
    /// [`LockfileDiff`] copies it into each change).
    #[serde(skip, default = "placeholder_ecosystem")]
    pub ecosystem: Ecosystem,
}

/// Overwritten by `From<LockfileDiffDocument>` right after deserialising.
const fn placeholder_ecosystem() -> Ecosystem {
    Ecosystem::Npm
}

/// [`LockfileDiff`] as the JSON holds it, before the ecosystem reaches the changes.
#[derive(Deserialize)]
struct LockfileDiffDocument {
    path: String,
    ecosystem: Ecosystem,
    changes: Vec<Change>,
}

impl From<LockfileDiffDocument> for LockfileDiff {
    fn from(doc: LockfileDiffDocument) -> Self {
        let ecosystem = doc.ecosystem;
        Self {
            path: doc.path,
            ecosystem,
            changes: doc
                .changes
                .into_iter()
                .map(|c| Change { ecosystem, ..c })
                .collect(),
        }
    }
}

/// The changes in one lockfile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "LockfileDiffDocument")]
pub struct LockfileDiff {
    /// The lockfile's path (relative to the tree root in a tree diff).
    pub path: String,
    /// Its ecosystem.
    pub ecosystem: Ecosystem,
    /// The changes, sorted by name then versions.
    pub changes: Vec<Change>,
}

/// Which side of a diff a problem was found on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The old tree, file or revision.
    Old,
    /// The new one.
    New,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Old => "old",
            Self::New => "new",
        })
    }
}

/// A lockfile (or manifest) that could not be read or parsed, with where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{}", self.describe())]
pub struct FileError {
    /// The file, relative to the tree root in a tree diff.
    pub path: String,
    /// Which side it was on; `None` outside a diff.
    pub side: Option<Side>,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column (in characters), when known.
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl FileError {
    fn describe(&self) -> String {
        use std::fmt::Write as _;
        let mut out = self.path.clone();
        if let Some(line) = self.line {
            let _ = write!(out, ":{line}");
            if let Some(column) = self.column {
                let _ = write!(out, ":{column}");
            }
        }
        if let Some(side) = self.side {
            let _ = write!(out, " ({side})");
        }
        out.push_str(": ");
        out.push_str(&self.message);
        out
    }
}

/// The result of a diff: per-lockfile changes and the files that could not be diffed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffReport {
    /// Lockfiles with at least one change, sorted by path.
    pub lockfiles: Vec<LockfileDiff>,
    /// Files that could not be read or parsed; the others were still diffed.
    pub errors: Vec<FileError>,
}

impl DiffReport {
    /// No changes (there may still be errors).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.lockfiles.iter().all(|l| l.changes.is_empty())
    }

    /// Every change with the lockfile it is in.
    pub fn changes(&self) -> impl Iterator<Item = (&LockfileDiff, &Change)> {
        self.lockfiles
            .iter()
            .flat_map(|l| l.changes.iter().map(move |c| (l, c)))
    }

    /// The changes flagged `likely_breaking` (for the summary of major upgrades).
    pub fn likely_breaking(&self) -> impl Iterator<Item = (&LockfileDiff, &Change)> {
        self.changes().filter(|(_, c)| c.likely_breaking)
    }
}

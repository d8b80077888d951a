//! Our ordering and classification against the package managers' own implementations,
//! over the version strings of their own test suites.
//!
//! `tests/oracle/recipe.sh` writes what `packaging`, npm's `semver`, `Gem::Version` and
//! `golang.org/x/mod/semver` say into `tests/oracle/expected/*.tsv` (CI re-runs it and
//! fails on any difference); the `semver` crate is asked here directly. For every pair
//! of versions of one ecosystem, [`compare`] must agree with the tool's order, and for
//! every upgrade [`classify`] must name the part of the release that the tool's own
//! split says went up:
//!
//! - a different PEP 440 epoch is `major`;
//! - else the first release number that differs (missing numbers are 0): the first is
//!   `major`, the second `minor`, any later one `patch`;
//! - else `prerelease` when either side is a pre-release (the tool's verdict);
//! - else `patch` when the PEP 440 post-release differs;
//! - else (equal versions written differently, local versions, build metadata) `other`.
//!
//! `likely_breaking` must be set exactly for a major change, a minor change from `0.x`
//! and a patch change from `0.0.x` (the old side's release, as the tool splits it).
//!
//! The deliberate differences are listed in `docs/commands/maintain-deps.md` and
//! excluded below, each by name and counted.

use std::cmp::Ordering;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use upkeep_deps::version::{classify, compare};
use upkeep_deps::{ChangeKind, Ecosystem};

fn oracle_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle")
}

fn read(path: &Path) -> String {
    fs_err::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One version as the tool sees it.
#[derive(Debug, Clone)]
struct Labelled {
    version: String,
    rank: usize,
    epoch: u64,
    release: Vec<u128>,
    prerelease: bool,
    post: Option<u64>,
}

/// The rows of an `expected/*.tsv` (comments and the header skipped).
fn expected(name: &str) -> Vec<Labelled> {
    let path = oracle_dir().join("expected").join(format!("{name}.tsv"));
    let text = read(&path);
    let rows: Vec<Labelled> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("version\t"))
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            assert_eq!(f.len(), 6, "{}: {line:?}", path.display());
            Labelled {
                version: f[0].to_owned(),
                rank: f[1].parse().unwrap(),
                epoch: f[2].parse().unwrap(),
                release: f[3].split('.').map(|n| n.parse().unwrap()).collect(),
                prerelease: f[4] == "true",
                post: (f[5] != "-").then(|| f[5].parse().unwrap()),
            }
        })
        .collect();
    assert!(
        rows.len() > 20,
        "{}: only {} versions",
        path.display(),
        rows.len()
    );
    rows
}

/// The lines of an input list (`inputs/NAME.txt` then `extra/NAME.txt`).
fn inputs(name: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for dir in ["inputs", "extra"] {
        let path = oracle_dir().join(dir).join(format!("{name}.txt"));
        for line in read(&path).lines() {
            let line = line.trim();
            if !line.is_empty() && !line.starts_with('#') && !out.iter().any(|o| o == line) {
                out.push(line.to_owned());
            }
        }
    }
    out
}

/// What the oracle's split says an upgrade `a → b` is (see the module docs).
fn expected_kind(a: &Labelled, b: &Labelled) -> ChangeKind {
    if a.rank == b.rank {
        return ChangeKind::Other;
    }
    if a.epoch != b.epoch {
        return ChangeKind::Major;
    }
    let len = a.release.len().max(b.release.len());
    let at = |r: &[u128], i: usize| r.get(i).copied().unwrap_or(0);
    if let Some(i) = (0..len).find(|&i| at(&a.release, i) != at(&b.release, i)) {
        return match i {
            0 => ChangeKind::Major,
            1 => ChangeKind::Minor,
            _ => ChangeKind::Patch,
        };
    }
    if a.prerelease || b.prerelease {
        ChangeKind::Prerelease
    } else if a.post != b.post {
        ChangeKind::Patch
    } else {
        ChangeKind::Other
    }
}

fn expected_breaking(kind: ChangeKind, old: &Labelled) -> bool {
    let at = |i: usize| old.release.get(i).copied().unwrap_or(0);
    match kind {
        ChangeKind::Major => true,
        ChangeKind::Minor => at(0) == 0,
        ChangeKind::Patch => at(0) == 0 && at(1) == 0,
        _ => false,
    }
}

/// How far we agree with one oracle.
#[derive(Debug, Default)]
struct Agreement {
    versions: usize,
    ordered_pairs: usize,
    classified_pairs: usize,
    excluded: usize,
    disagreements: Vec<String>,
}

impl Agreement {
    fn disagree(&mut self, line: String) {
        // Enough to see the pattern without flooding the output.
        if self.disagreements.len() < 60 {
            self.disagreements.push(line);
        } else if self.disagreements.len() == 60 {
            self.disagreements.push("…".to_owned());
        }
    }

    #[allow(clippy::print_stderr)] // The counts are the report of the check (`--nocapture`).
    fn assert_total(self, name: &str) {
        if self.versions > 0 {
            eprintln!(
                "{name}: {} versions; {} ordered pairs and {} classified pairs agree ({} versions excluded)",
                self.versions, self.ordered_pairs, self.classified_pairs, self.excluded
            );
        } else {
            eprintln!(
                "{name}: {} classified pairs agree ({} pairs excluded)",
                self.classified_pairs, self.excluded
            );
        }
        assert!(
            self.disagreements.is_empty(),
            "{name}: we disagree with the oracle on\n{}",
            self.disagreements.join("\n")
        );
    }
}

/// Every pair against the oracle's ranks; every upgrade against its split.
fn check(ecosystem: Ecosystem, rows: &[Labelled]) -> Agreement {
    let mut agreement = Agreement {
        versions: rows.len(),
        ..Agreement::default()
    };
    for a in rows {
        for b in rows {
            let want = a.rank.cmp(&b.rank);
            let got = compare(ecosystem, &a.version, &b.version);
            if got == Some(want) {
                agreement.ordered_pairs += 1;
            } else {
                agreement.disagree(format!(
                    "  compare({:?}, {:?}) = {got:?}, the tool says {want:?}",
                    a.version, b.version
                ));
            }
            if want == Ordering::Greater || a.version == b.version {
                continue;
            }
            let kind = expected_kind(a, b);
            let breaking = expected_breaking(kind, a);
            let c = classify(ecosystem, &a.version, &b.version);
            if (c.kind, c.likely_breaking) == (kind, breaking) {
                agreement.classified_pairs += 1;
            } else {
                agreement.disagree(format!(
                    "  classify({:?}, {:?}) = {} (breaking {}), the tool's split says {kind} (breaking {breaking})",
                    a.version, b.version, c.kind, c.likely_breaking
                ));
            }
        }
    }
    agreement
}

#[test]
fn pep440_agrees_with_packaging() {
    check(Ecosystem::Pypi, &expected("pep440")).assert_total("pep440 (packaging)");
}

#[test]
fn go_agrees_with_x_mod_semver() {
    check(Ecosystem::Go, &expected("go")).assert_total("go (golang.org/x/mod/semver)");
}

#[test]
fn npm_agrees_with_semver_js() {
    check(Ecosystem::Npm, &expected("npm")).assert_total("npm (semver)");
}

/// Refinement: in a `Gemfile.lock`, what follows the first `-` is the platform
/// (Bundler's lockfile grammar: `nokogiri (1.16.0-x86_64-linux)`), so we never
/// compare it, while `Gem::Version` reads `-` as `.pre.`.
#[test]
fn rubygems_agrees_with_gem_version() {
    let rows = expected("rubygems");
    let (platformed, rows): (Vec<_>, Vec<_>) =
        rows.into_iter().partition(|r| r.version.contains('-'));
    let mut agreement = check(Ecosystem::RubyGems, &rows);
    agreement.excluded = platformed.len();
    agreement.assert_total("rubygems (Gem::Version)");
}

/// The semver crate is the oracle itself here: precedence (`cmp_precedence`, which
/// ignores build metadata, as `SemVer` says and Cargo resolves) and its
/// `major.minor.patch` / `pre`.
#[test]
fn cargo_agrees_with_the_semver_crate() {
    let mut parsed: Vec<(semver::Version, String)> = inputs("cargo")
        .into_iter()
        .filter_map(|s| semver::Version::parse(&s).ok().map(|v| (v, s)))
        .collect();
    parsed.sort_by(|(a, sa), (b, sb)| a.cmp_precedence(b).then_with(|| sa.cmp(sb)));
    let mut rows: Vec<Labelled> = Vec::new();
    for (i, (v, s)) in parsed.iter().enumerate() {
        let rank = match rows.last() {
            Some(last) if parsed[i - 1].0.cmp_precedence(v) == Ordering::Equal => last.rank,
            Some(last) => last.rank + 1,
            None => 0,
        };
        rows.push(Labelled {
            version: s.clone(),
            rank,
            epoch: 0,
            release: vec![v.major.into(), v.minor.into(), v.patch.into()],
            prerelease: !v.pre.is_empty(),
            post: None,
        });
    }
    assert!(rows.len() > 20, "only {} versions", rows.len());
    check(Ecosystem::Cargo, &rows).assert_total("cargo (semver crate)");
}

/// npm's own classifier over the pairs of its own tests. Refinement: from a
/// pre-release to a release, `semver.diff` names the release the pre-release led up
/// to (`1.0.0-1 → 1.0.0` and `1.0.0-1 → 1.1.1` are `major` there); we name what moved
/// between the two versions as written (`prerelease`, `minor`). Those pairs, and only
/// those, may disagree; they are counted as excluded.
#[test]
fn npm_classification_agrees_with_semver_diff() {
    let ranks = expected("npm");
    let find = |v: &str| {
        ranks
            .iter()
            .find(|r| r.version == v)
            .unwrap_or_else(|| panic!("{v} is in npm-diff.tsv but not in npm.tsv"))
    };
    let text = read(&oracle_dir().join("expected/npm-diff.tsv"));
    let mut agreement = Agreement::default();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("from\t"))
    {
        let f: Vec<&str> = line.split('\t').collect();
        let (a, b) = (find(f[0]), find(f[1]));
        let (low, high) = if a.rank <= b.rank { (a, b) } else { (b, a) };
        let npm_special_case = low.prerelease
            && !high.prerelease
            && (low.release[1..] == [0, 0] || low.release == high.release);
        let want = match f[2] {
            "major" | "premajor" => ChangeKind::Major,
            "minor" | "preminor" => ChangeKind::Minor,
            "patch" | "prepatch" => ChangeKind::Patch,
            "prerelease" => ChangeKind::Prerelease,
            "-" => ChangeKind::Other,
            other => panic!("unknown semver.diff answer {other:?}"),
        };
        let got = classify(Ecosystem::Npm, &low.version, &high.version).kind;
        if got == want {
            agreement.classified_pairs += 1;
        } else if npm_special_case {
            agreement.excluded += 1;
        } else {
            let mut line = String::new();
            let _ = write!(
                line,
                "  classify({:?}, {:?}) = {got}, semver.diff says {}",
                low.version, high.version, f[2]
            );
            agreement.disagree(line);
        }
    }
    assert!(agreement.classified_pairs > 30, "{agreement:?}");
    agreement.assert_total("npm (semver.diff)");
}

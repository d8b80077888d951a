//! What a commit means for a promotion: the change request it came from, and the
//! semver bump it implies under conventional commits.

use serde::{Deserialize, Serialize};

/// A commit that will ship (or be withdrawn), as shown in a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipCommit {
    /// Full SHA.
    pub sha: String,
    /// First line of the message.
    pub subject: String,
    /// Author name.
    pub author: String,
    /// The pull/merge request number, when the message names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_request: Option<u64>,
}

impl ShipCommit {
    /// From a forge comparison entry.
    #[must_use]
    pub fn from_forge(c: &upkeep_forge::CommitSummary) -> Self {
        Self {
            sha: c.sha.clone(),
            subject: c.subject.clone(),
            author: c.author.clone(),
            change_request: change_request_number(&c.subject, ""),
        }
    }
}

/// The pull/merge request a commit came from, as GitHub and GitLab write it into
/// messages: a squash subject ending `(#123)`, a merge subject `Merge pull request #123
/// from …`, or GitLab's merge-commit trailer `See merge request group/project!12`.
#[must_use]
pub fn change_request_number(subject: &str, body: &str) -> Option<u64> {
    if let Some(rest) = subject.strip_prefix("Merge pull request #") {
        return leading_number(rest);
    }
    let trimmed = subject.trim_end();
    if let Some(inner) = trimmed.strip_suffix(')')
        && let Some(pos) = inner.rfind("(#")
        && let Some(n) = leading_number(&inner[pos + 2..])
        && inner[pos + 2..].bytes().all(|b| b.is_ascii_digit())
    {
        return Some(n);
    }
    for text in [subject, body] {
        for line in text.lines() {
            if let Some(rest) = line.trim().strip_prefix("See merge request ")
                && let Some((_, num)) = rest.rsplit_once('!')
            {
                return leading_number(num);
            }
        }
    }
    None
}

fn leading_number(s: &str) -> Option<u64> {
    let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// How much a set of commits bumps a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Bump {
    /// Fixes and everything else.
    Patch,
    /// A `feat`.
    Minor,
    /// A breaking change: `type!:` or a `BREAKING CHANGE:` footer.
    Major,
}

/// The bump one commit implies under conventional commits: `feat` → minor, `!` after
/// the type or a `BREAKING CHANGE:`/`BREAKING-CHANGE:` footer → major, anything else
/// (fixes, chores, non-conventional messages) → patch.
#[must_use]
pub fn commit_bump(subject: &str, body: &str) -> Bump {
    let breaking_footer = body.lines().any(|l| {
        let l = l.trim_start();
        l.starts_with("BREAKING CHANGE:") || l.starts_with("BREAKING-CHANGE:")
    });
    if breaking_footer {
        return Bump::Major;
    }
    let Some((head, _)) = subject.split_once(':') else {
        return Bump::Patch;
    };
    let head = head.trim();
    let (head, bang) = match head.strip_suffix('!') {
        Some(h) => (h, true),
        None => (head, false),
    };
    let kind = head.split_once('(').map_or(head, |(k, _)| k);
    if !kind
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        || kind.is_empty()
    {
        return Bump::Patch;
    }
    if bang {
        Bump::Major
    } else if kind.eq_ignore_ascii_case("feat") {
        Bump::Minor
    } else {
        Bump::Patch
    }
}

/// The next version after `current` given the commits since it (`(subject, body)`), by
/// release-plz's rules: the largest bump wins; while the major version is 0 every bump
/// shifts down one (breaking → minor, feat → patch). `None` when there are no commits.
/// Without a previous version the first release is `0.1.0`.
#[must_use]
pub fn next_version<'a>(
    current: Option<&semver::Version>,
    commits: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Option<semver::Version> {
    let bump = commits.into_iter().map(|(s, b)| commit_bump(s, b)).max()?;
    let Some(current) = current else {
        return Some(semver::Version::new(0, 1, 0));
    };
    let (major, minor, patch) = (current.major, current.minor, current.patch);
    Some(match bump {
        Bump::Major if major > 0 => semver::Version::new(major + 1, 0, 0),
        Bump::Major => semver::Version::new(0, minor + 1, 0),
        Bump::Minor if major > 0 => semver::Version::new(major, minor + 1, 0),
        // A fix, or a feat while 0.x.
        Bump::Minor | Bump::Patch => semver::Version::new(major, minor, patch + 1),
    })
}

/// Parses a tag as a release version: `<prefix>1.2.3` (pre-releases and other tags are
/// not releases).
#[must_use]
pub fn tag_version(tag: &str, prefix: &str) -> Option<semver::Version> {
    let v = semver::Version::parse(tag.strip_prefix(prefix)?).ok()?;
    v.pre.is_empty().then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_request_numbers() {
        assert_eq!(change_request_number("Fix the thing (#123)", ""), Some(123));
        assert_eq!(
            change_request_number("Merge pull request #2345 from a/b", "x"),
            Some(2345)
        );
        assert_eq!(
            change_request_number(
                "Merge branch 'x' into 'main'",
                "Closes #1\n\nSee merge request packit/ogr!12"
            ),
            Some(12)
        );
        assert_eq!(
            change_request_number("See merge request g/p!7", ""),
            Some(7)
        );
        assert_eq!(change_request_number("Bump to (#abc)", ""), None);
        assert_eq!(change_request_number("plain commit", ""), None);
    }

    #[test]
    fn bumps() {
        assert_eq!(commit_bump("feat: x", ""), Bump::Minor);
        assert_eq!(commit_bump("feat(api): x", ""), Bump::Minor);
        assert_eq!(commit_bump("fix!: x", ""), Bump::Major);
        assert_eq!(commit_bump("feat(api)!: x", ""), Bump::Major);
        assert_eq!(commit_bump("fix: x", "BREAKING CHANGE: y"), Bump::Major);
        assert_eq!(commit_bump("chore: x", ""), Bump::Patch);
        assert_eq!(commit_bump("Update README", ""), Bump::Patch);
        assert_eq!(commit_bump("Merge pull request #1: feat", ""), Bump::Patch);
    }

    fn next(cur: &str, commits: &[&str]) -> String {
        let v = semver::Version::parse(cur).unwrap();
        next_version(Some(&v), commits.iter().map(|s| (*s, "")))
            .unwrap()
            .to_string()
    }

    #[test]
    fn next_versions_follow_release_plz() {
        assert_eq!(next("1.2.3", &["fix: a"]), "1.2.4");
        assert_eq!(next("1.2.3", &["fix: a", "feat: b"]), "1.3.0");
        assert_eq!(next("1.2.3", &["feat!: b", "fix: a"]), "2.0.0");
        assert_eq!(next("0.4.1", &["fix: a"]), "0.4.2");
        assert_eq!(next("0.4.1", &["feat: a"]), "0.4.2");
        assert_eq!(next("0.4.1", &["feat!: a"]), "0.5.0");
        assert!(next_version(Some(&semver::Version::new(1, 0, 0)), []).is_none());
        assert_eq!(
            next_version(None, [("fix: a", "")]).unwrap().to_string(),
            "0.1.0"
        );
    }

    #[test]
    fn tag_versions() {
        assert_eq!(tag_version("v1.2.3", "v").unwrap().to_string(), "1.2.3");
        assert!(tag_version("v1.2.3-rc.1", "v").is_none());
        assert!(tag_version("1.2.3", "v").is_none());
        assert!(tag_version("vnext", "v").is_none());
    }
}

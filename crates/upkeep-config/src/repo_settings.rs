//! `.upkeep.toml`: the settings a repository carries for itself, on its base branch.
//!
//! They are merged over the central configuration for that project only
//! ([`ResolvedProject::with_repo_settings`](crate::ResolvedProject::with_repo_settings)).
//! The file may change how the round treats *this* repository — its steps and their
//! timeouts, env, labels, reviewers, assignees, draft, or `skip = true` with a reason —
//! and nothing else: it can never carry secrets, point state elsewhere, add projects or
//! change where the repository is. Those keys are refused with a message saying why,
//! with the same file/line/key diagnostics as the central file.

use std::collections::BTreeMap;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Result;
use crate::maintain::StepOverrides;

/// The file name looked for on a project's base branch.
pub const REPO_SETTINGS_FILE: &str = ".upkeep.toml";

/// A repository's own `.upkeep.toml`: settings for this project only, merged over the
/// central configuration (a step's command or timeout replaces the central one, `env`
/// entries win, labels, reviewers and assignees are added).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RepoSettings {
    /// Leave this project out of maintenance rounds. Needs `reason`.
    pub skip: bool,
    /// Why the project is skipped (shown in the round report and `maintain projects`).
    pub reason: Option<String>,
    /// Overrides of the steps' command and/or timeout for this project.
    pub steps: StepOverrides,
    /// Extra environment variables for this project's steps; they win over the central
    /// ones. Never put secrets here.
    pub env: BTreeMap<String, String>,
    /// Labels for this project's change request, added to the central ones.
    pub labels: Vec<String>,
    /// Reviewers for this project's change request, added to the central ones.
    pub reviewers: Vec<String>,
    /// Assignees for this project's change request, added to the central ones.
    pub assignees: Vec<String>,
    /// Open this project's change request as a draft.
    pub draft: Option<bool>,
}

/// Keys that a repository may not set, and why: they belong to the central configuration.
pub(crate) const REFUSED_KEYS: [(&str, &str); 13] = [
    (
        "state_dir",
        "where state lives is the round's business, set in the central configuration",
    ),
    (
        "paths",
        "where state lives is the round's business, set in the central configuration",
    ),
    (
        "journal",
        "where state lives is the round's business, set in the central configuration",
    ),
    (
        "maintain",
        "this file holds one repository's settings: write `steps`, `env`, `labels`, … at its top level",
    ),
    (
        "branches",
        "stable-branch promotion is configured centrally only",
    ),
    ("lock", "the deploy token is configured centrally only"),
    (
        "projects",
        "a repository cannot add projects; list them or discover them in the central configuration",
    ),
    (
        "discover",
        "a repository cannot add projects; list them or discover them in the central configuration",
    ),
    (
        "name",
        "the project's name comes from the central configuration",
    ),
    (
        "repo",
        "where the repository is comes from the central configuration",
    ),
    (
        "forge",
        "where the repository is comes from the central configuration",
    ),
    (
        "api_url",
        "where the repository is comes from the central configuration",
    ),
    (
        "base_branch",
        "this file is read from the base branch, so it cannot choose it; set `base_branch` centrally",
    ),
];

impl RepoSettings {
    /// Reads and checks a repository's `.upkeep.toml`. `path` names the file in messages
    /// (e.g. `acme/api@main:.upkeep.toml`); errors carry its line, column and key, like
    /// those of the central file.
    #[allow(clippy::should_implement_trait)]
    pub fn from_str(text: &str, path: &Path) -> Result<Self> {
        crate::load::load_repo_settings(text, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<RepoSettings> {
        RepoSettings::from_str(text, Path::new("acme/api@main:.upkeep.toml"))
    }

    #[test]
    fn steps_env_and_lists_load() {
        let s = load(
            "labels = [\"deps\"]\n[steps.build]\ncommand = \"make image\"\ntimeout = \"2h\"\n[env]\nPY = \"3.12\"\n",
        )
        .unwrap();
        let build = s.steps.build.unwrap();
        assert_eq!(build.command.as_deref(), Some("make image"));
        assert_eq!(build.timeout.unwrap().to_string(), "2h");
        assert_eq!(s.env["PY"], "3.12");
        assert_eq!(s.labels, ["deps"]);
        assert!(!s.skip);
    }

    #[test]
    fn refused_keys_say_why_with_file_and_line() {
        let e = load("labels = []\nstate_dir = \"/tmp/elsewhere\"\n").unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("acme/api@main:.upkeep.toml:2:1"),
            "file, line, column: {text}"
        );
        assert!(text.contains("`state_dir`"), "{text}");
        assert!(text.contains("central configuration"), "{text}");
        let e = load("[[projects]]\nname = \"x\"\nrepo = \"y\"\n").unwrap_err();
        assert!(e.to_string().contains("cannot add projects"), "{e}");
        let e = load("[maintain.steps.build]\ncommand = \"x\"\n").unwrap_err();
        assert!(e.to_string().contains("top level"), "{e}");
    }

    #[test]
    fn secrets_are_refused_without_showing_them() {
        let e = load("[env]\nAPI_TOKEN = \"hunter2-secret\"\n").unwrap_err();
        let text = e.to_string();
        assert!(text.contains("secret"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains(":2:"), "{text}");
    }

    #[test]
    fn syntax_and_type_errors_name_line_and_key() {
        let e = load("[steps.test]\ntimeout = \"soon\"\n").unwrap_err();
        let text = e.to_string();
        assert!(text.contains(".upkeep.toml:2:"), "{text}");
        assert!(text.contains("steps.test.timeout"), "{text}");
        let e = load("skip = tru\n").unwrap_err();
        assert!(e.to_string().contains(".upkeep.toml:1:"), "{e}");
        let e = load("[steps.tset]\ncommand = \"x\"\n").unwrap_err();
        assert!(e.to_string().contains("did you mean `test`"), "{e}");
    }

    #[test]
    fn skip_needs_a_reason_and_commands_must_not_be_empty() {
        let e = load("skip = true\n").unwrap_err();
        assert!(e.to_string().contains("reason"), "{e}");
        assert!(
            load("skip = true\nreason = \"archived soon\"\n")
                .unwrap()
                .skip
        );
        let e = load("[steps.build]\ncommand = \"  \"\n").unwrap_err();
        assert!(e.to_string().contains("steps.build.command"), "{e}");
    }
}

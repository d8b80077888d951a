//! `[[maintain.discover]]` rules and repository settings: what the loader works out, and
//! every bad rule named by its line and key.

use std::path::{Path, PathBuf};

use upkeep_config::{DiscoverSource, ForgeKind, RepoSettings};

use crate::{error_of, load, load_with};

#[test]
fn sources_get_their_api_urls_and_absolute_directories() {
    let c = load(
        r#"
[maintain]
[[maintain.discover]]
github_org = "acme"
topics = ["upkeep"]
[[maintain.discover]]
github_user = "ann"
api_url = "https://github.example.com/api/v3/"
[[maintain.discover]]
gitlab_group = "/team/services/"
subgroups = false
[[maintain.discover]]
directory = "repos"
"#,
    )
    .unwrap();
    let rules = &c.maintain().unwrap().discover;
    assert_eq!(
        rules[0].source,
        DiscoverSource::GithubOrg {
            org: "acme".into(),
            api_url: "https://api.github.com".into()
        }
    );
    assert_eq!(
        rules[1].source,
        DiscoverSource::GithubUser {
            user: "ann".into(),
            api_url: "https://github.example.com/api/v3".into()
        }
    );
    assert_eq!(
        rules[2].source,
        DiscoverSource::GitlabGroup {
            group: "team/services".into(),
            api_url: "https://gitlab.com".into(),
            subgroups: false
        }
    );
    assert_eq!(
        rules[3].source,
        DiscoverSource::Directory {
            path: PathBuf::from("/cfg/repos")
        }
    );
    assert_eq!(rules[2].source.forge(), ForgeKind::Gitlab);
    let labels: Vec<&str> = rules.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "github-org-acme",
            "github-user-ann",
            "gitlab-group-team-services",
            "directory-repos"
        ]
    );
    assert_eq!(rules[2].source.to_string(), "GitLab group team/services");
}

#[test]
fn bad_rules_are_named_by_line_and_key() {
    let text = r#"[maintain]
[[maintain.discover]]
topics = ["upkeep"]
[[maintain.discover]]
github_org = "acme"
gitlab_group = "team"
[[maintain.discover]]
github_org = "acme"
include = ["svc-[a"]
clone_url = "git@github.com:acme/x.git"
subgroups = false
[[maintain.discover]]
directory = "repos"
api_url = "https://gitlab.example.com"
[[maintain.discover]]
name = "twice"
github_user = "ann"
[[maintain.discover]]
name = "twice"
github_user = "bob"
api_url = "ftp://x"
"#;
    let e = error_of(text, &[]);
    assert!(
        !e.contains("duplicate discover rule name `github-org-acme`"),
        "{e}"
    );
    for expected in [
        "/cfg/upkeep.toml:2:",
        "needs one of `github_org`, `github_user`, `gitlab_group`, `directory`",
        "/cfg/upkeep.toml:6:16: `maintain.discover[1].gitlab_group`",
        "`maintain.discover[2].include[0]`: invalid glob `svc-[a`",
        "`maintain.discover[2].clone_url`: `git@github.com:acme/x.git` does not contain `{path}`",
        "`maintain.discover[2].subgroups`: `subgroups` is only for `gitlab_group` rules",
        "`maintain.discover[3].api_url`: `api_url` is set but a directory has no API",
        "`maintain.discover[5].name`: duplicate discover rule name `twice` (first defined at line 16)",
        "`maintain.discover[5].api_url`: `ftp://x` is not an http(s) URL",
    ] {
        assert!(e.contains(expected), "missing {expected:?} in:\n{e}");
    }
}

#[test]
fn clone_url_templates_never_carry_credentials() {
    let e = error_of(
        "[maintain]\n[[maintain.discover]]\ngithub_org = \"acme\"\nclone_url = \"https://me:hunter2@github.com/{path}.git\"\n",
        &[],
    );
    assert!(e.contains("carries credentials"), "{e}");
    assert!(!e.contains("hunter2"), "{e}");
}

#[test]
fn rules_can_be_tuned_from_the_environment() {
    let c = load_with(
        "[maintain]\n[[maintain.discover]]\nname = \"org\"\ngithub_org = \"acme\"\n",
        &[("UPKEEP_MAINTAIN__DISCOVER__ORG__ARCHIVED", "true")],
    )
    .unwrap();
    assert!(c.maintain().unwrap().discover[0].archived);
}

#[test]
fn repo_settings_merge_over_the_central_ones() {
    let c = load(
        r#"
[maintain]
labels = ["maintenance"]
env = { A = "central", B = "central" }
[maintain.steps.build]
timeout = "1h"
[[maintain.projects]]
name = "api"
repo = "/srv/git/api.git"
steps.test = { command = "make check" }
"#,
    )
    .unwrap();
    let m = c.maintain().unwrap();
    let repo = RepoSettings::from_str(
        "labels = [\"deps\", \"maintenance\"]\ndraft = true\n[steps.build]\ncommand = \"make images\"\n[env]\nB = \"repo\"\n",
        Path::new("api@main:.upkeep.toml"),
    )
    .unwrap();
    let p = m.resolve(&m.projects[0]).with_repo_settings(&repo);
    assert_eq!(p.build.command, "make images");
    assert_eq!(
        p.build.timeout.to_string(),
        "1h",
        "the timeout stays central"
    );
    assert_eq!(
        p.test.command, "make check",
        "the project's own setting stays"
    );
    assert_eq!(p.env["A"], "central");
    assert_eq!(p.env["B"], "repo");
    assert_eq!(p.labels, ["maintenance", "deps"]);
    assert!(p.draft);
}

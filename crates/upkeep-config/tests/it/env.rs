//! `UPKEEP_…` overrides, passed in as a list (the process environment is never touched).

use std::path::Path;
use std::time::Duration;

use crate::load_with;

const BASE: &str = r#"
[maintain]
jobs = 2

[[maintain.projects]]
name = "my-api"
repo = "https://github.com/example/api"

[branches.sentry]
org = "example"
projects = ["api"]
threshold = 3
"#;

#[test]
fn overrides_set_nested_keys_with_typed_values() {
    let c = load_with(
        BASE,
        &[
            ("UPKEEP_MAINTAIN__JOBS", "4"),
            ("UPKEEP_BRANCHES__SENTRY__THRESHOLD", "0"),
            ("UPKEEP_MAINTAIN__STEPS__BUILD__TIMEOUT", "45m"),
            ("UPKEEP_MAINTAIN__LABELS", r#"["a", "b"]"#),
            ("UPKEEP_MAINTAIN__CHAT__KIND", "slack"),
            ("UPKEEP_MAINTAIN__CHAT__CHANNEL", "#ops"),
            ("UPKEEP_CONFIG", "ignored.toml"),
            ("UNRELATED", "x"),
        ],
    )
    .unwrap();
    let m = c.maintain().unwrap();
    assert_eq!(m.jobs, Some(4));
    assert_eq!(m.steps.build.timeout.get(), Duration::from_mins(45));
    assert_eq!(m.labels, ["a", "b"]);
    assert_eq!(m.chat.channel.as_deref(), Some("#ops"));
    assert_eq!(c.branches().unwrap().sentry.as_ref().unwrap().threshold, 0);
}

#[test]
fn overrides_pick_array_entries_by_name_or_index() {
    let c = load_with(
        BASE,
        &[
            ("UPKEEP_MAINTAIN__PROJECTS__MY_API__BASE_BRANCH", "develop"),
            ("UPKEEP_MAINTAIN__PROJECTS__0__DRAFT", "true"),
        ],
    )
    .unwrap();
    let p = &c.maintain().unwrap().projects[0];
    assert_eq!(p.base_branch.as_deref(), Some("develop"));
    assert_eq!(p.draft, Some(true));
}

#[test]
fn overrides_can_create_sections() {
    let c = load_with(
        "",
        &[
            ("UPKEEP_LOCK__REPO", "/srv/state.git"),
            ("UPKEEP_LOCK__NAME", "prod"),
        ],
    )
    .unwrap();
    assert_eq!(c.lock().unwrap().ref_name(), "refs/upkeep/locks/prod");
}

#[test]
fn overrides_cannot_smuggle_secrets() {
    let e = crate::error_of(
        BASE,
        &[("UPKEEP_BRANCHES__SENTRY__AUTH_TOKEN", "sntrys_abc")],
    );
    assert!(
        e.contains("SENTRY_AUTH_TOKEN") && e.contains("UPKEEP_BRANCHES__SENTRY__AUTH_TOKEN"),
        "{e}"
    );
    assert!(!e.contains("sntrys_abc"), "{e}");
}

#[test]
fn quoted_values_stay_strings() {
    let c = load_with(BASE, &[("UPKEEP_BRANCHES__SENTRY__ORG", "\"1234\"")]).unwrap();
    assert_eq!(c.branches().unwrap().sentry.as_ref().unwrap().org, "1234");
}

#[test]
fn secret_keys_are_refused_whatever_the_value_type() {
    let e = crate::error_of(BASE, &[("UPKEEP_MAINTAIN__GITHUB_TOKEN", "12345")]);
    assert!(
        e.contains("GITHUB_TOKEN in the environment") && !e.contains("12345"),
        "{e}"
    );
}

#[test]
fn top_level_keys_are_set_by_single_segment_variables() {
    let c = load_with(
        BASE,
        &[
            ("UPKEEP_STATE_DIR", "/var/lib/upkeep"),
            ("UPKEEP_CONFIG", "other.toml"),
            ("UPKEEP_TEST_LOG", "debug"),
            ("UPKEEP_SLACK_API_URL", "http://127.0.0.1:9"),
        ],
    )
    .unwrap();
    assert_eq!(c.state_dir, Path::new("/var/lib/upkeep"));
    let m = c.maintain().unwrap();
    assert_eq!(m.paths.cache, Path::new("/var/lib/upkeep/cache/maintain"));
    assert_eq!(c.state.dir, Path::new("/var/lib/upkeep/state"));
}

#[test]
fn a_relative_state_dir_from_the_environment_is_anchored_at_the_file() {
    let c = load_with(
        "state_dir = \"elsewhere\"\n",
        &[("UPKEEP_STATE_DIR", "state")],
    )
    .unwrap();
    assert_eq!(c.state_dir, Path::new("/cfg/state"));
}

#[test]
fn a_bad_top_level_value_names_the_variable() {
    let e = crate::error_of(BASE, &[("UPKEEP_STATE_DIR", "[1, 2]")]);
    assert!(
        e.starts_with("environment variable UPKEEP_STATE_DIR: "),
        "{e}"
    );
}

#[test]
fn the_state_repository_comes_from_the_file_or_the_environment() {
    // CI templates set the repository per deployment, without touching the file.
    let c = load_with(
        BASE,
        &[
            (
                "UPKEEP_STATE__REPO",
                "https://github.com/example/upkeep-state",
            ),
            ("UPKEEP_STATE__LEASE", "3m"),
        ],
    )
    .unwrap();
    let remote = c.state.remote.as_ref().expect("resolved");
    assert_eq!(remote.kind, upkeep_config::ForgeKind::Github);
    assert_eq!(remote.path, "example/upkeep-state");
    assert_eq!(c.state.lease.get(), std::time::Duration::from_mins(3));
    assert_eq!(c.state.dir, Path::new("/cfg/.upkeep/state"));

    let c = load_with(
        &format!("{BASE}\n[state]\nrepo = \"../state.git\"\ndir = \"st\"\n"),
        &[],
    )
    .unwrap();
    assert_eq!(c.state.remote.as_ref().unwrap().url, "/cfg/../state.git");
    assert_eq!(c.state.dir, Path::new("/cfg/st"));
}

#[test]
fn a_state_repository_with_a_token_in_it_is_refused_without_echoing_it() {
    let e = crate::error_of(
        &format!("{BASE}\n[state]\nrepo = \"https://x:hunter2@github.com/example/state\"\n"),
        &[],
    );
    assert!(e.contains("state.repo") && e.contains("credentials"), "{e}");
    assert!(!e.contains("hunter2"), "{e}");
    let e = crate::error_of(&format!("{BASE}\n[state]\nforge = \"gitlab\"\n"), &[]);
    assert!(e.contains("`forge` is set but `repo` is not"), "{e}");
}

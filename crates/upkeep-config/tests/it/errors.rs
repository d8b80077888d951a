//! The messages people see for broken configurations, snapshotted.

use crate::error_of;

const PROJECT: &str = "[maintain]\n\n[[maintain.projects]]\nname = \"api\"\nrepo = \"https://github.com/example/api\"\n";

#[test]
fn syntax_error_points_at_line_and_column() {
    insta::assert_snapshot!(error_of("[maintain]\njobs = = 4\n", &[]));
}

#[test]
fn unknown_key_suggests_the_right_one() {
    let text = "[maintain]\n\n[[maintain.projects]]\nnmae = \"api\"\nrepo = \"https://github.com/example/api\"\n";
    insta::assert_snapshot!(error_of(text, &[]));
}

#[test]
fn unknown_section_suggests_the_right_one() {
    insta::assert_snapshot!(error_of("[maintian]\njobs = 2\n", &[]));
}

#[test]
fn unknown_enum_value_suggests_the_right_one() {
    insta::assert_snapshot!(error_of("[maintain.chat]\nkind = \"slak\"\n", &[]));
}

#[test]
fn wrong_type_names_the_key() {
    insta::assert_snapshot!(error_of("[maintain]\njobs = \"four\"\n", &[]));
}

#[test]
fn zero_timeout_is_rejected() {
    let text = format!("{PROJECT}steps.build.timeout = \"0s\"\n");
    insta::assert_snapshot!(error_of(&text, &[]));
}

#[test]
fn missing_field_names_the_table() {
    insta::assert_snapshot!(error_of(
        "[maintain]\n\n[[maintain.projects]]\nname = \"api\"\n",
        &[]
    ));
}

#[test]
fn duplicate_project_names_point_at_both() {
    let text = format!(
        "{PROJECT}\n[[maintain.projects]]\nname = \"api\"\nrepo = \"https://gitlab.com/example/api\"\n"
    );
    insta::assert_snapshot!(error_of(&text, &[]));
}

#[test]
fn unknown_dependency_lists_known_repos() {
    let text = r#"
[branches]
[[branches.repos]]
name = "ogr"
repo = "https://github.com/packit/ogr"

[[branches.repos]]
name = "packit"
repo = "https://github.com/packit/packit"
depends_on = ["org"]
"#;
    insta::assert_snapshot!(error_of(text, &[]));
}

#[test]
fn dependency_cycle_is_named() {
    let text = r#"
[branches]
[[branches.repos]]
name = "a"
repo = "https://github.com/o/a"
depends_on = ["c"]

[[branches.repos]]
name = "b"
repo = "https://github.com/o/b"
depends_on = ["a"]

[[branches.repos]]
name = "c"
repo = "https://github.com/o/c"
depends_on = ["b"]
"#;
    insta::assert_snapshot!(error_of(text, &[]));
}

#[test]
fn token_in_file_is_refused_with_the_variable_to_use() {
    let text =
        "[maintain.chat]\nkind = \"slack\"\nchannel = \"#team\"\nslack_token = \"xoxb-123\"\n";
    let e = error_of(text, &[]);
    assert!(
        !e.contains("xoxb-123"),
        "the secret must not be echoed: {e}"
    );
    insta::assert_snapshot!(e);
}

#[test]
fn several_problems_are_reported_together() {
    let text = r#"
[maintain]
jobs = 0

[[maintain.projects]]
name = "a b"
repo = "https://github.com/only-owner"

[maintain.chat]
kind = "slack"
"#;
    insta::assert_snapshot!(error_of(text, &[]));
}

#[test]
fn bad_env_override_names_the_variable() {
    insta::assert_snapshot!(error_of(PROJECT, &[("UPKEEP_MAINTAIN__JOBS", "many")]));
}

#[test]
fn env_override_of_unknown_project_lists_known_ones() {
    insta::assert_snapshot!(error_of(
        PROJECT,
        &[("UPKEEP_MAINTAIN__PROJECTS__WEB__BASE_BRANCH", "dev")]
    ));
}

#[test]
fn unknown_key_from_env_is_reported_against_the_variable() {
    insta::assert_snapshot!(error_of(PROJECT, &[("UPKEEP_MAINTAIN__JBOS", "4")]));
}

/// The repro of a review: a URL with credentials failed validation, and the quoted line
/// showed the password.
#[test]
fn url_with_credentials_is_refused_without_echoing_them() {
    let e = error_of(
        "[lock]\nrepo = \"https://bot:hunter2SECRET@github.com/o/r\"\n",
        &[],
    );
    assert!(!e.contains("hunter2SECRET"), "{e}");
    insta::assert_snapshot!(e);
}

/// An unquoted token is a syntax error, found before any secret check: its line must be
/// shown redacted all the same.
#[test]
fn unquoted_token_syntax_error_does_not_echo_it() {
    let e = error_of("github_token = ghp_UNQUOTEDsecret123\n", &[]);
    assert!(!e.contains("ghp_UNQUOTEDsecret123"), "{e}");
    insta::assert_snapshot!(e);
}

/// Another problem on a line that also holds a secret (an inline table): the problem is
/// shown, the secret is not.
#[test]
fn secret_in_an_inline_table_is_redacted_under_other_errors() {
    let e = error_of(
        "[maintain]\nchat = { kind = \"slak\", webhook_url = \"https://hooks.example/T0/B0/XyZsecret\" }\n",
        &[],
    );
    assert!(!e.contains("XyZsecret"), "{e}");
    assert!(e.contains("webhook_url"), "{e}");
}

/// A URL with credentials inside an array, on a line of its own, with an unrelated
/// syntax error after it.
#[test]
fn credentials_in_a_multi_line_array_are_redacted() {
    let e = error_of(
        "[maintain]\nlabels = [\n  \"https://u:pw0rdSECRET@example.com/x\" \"missing comma\",\n]\n",
        &[],
    );
    assert!(!e.contains("pw0rdSECRET"), "{e}");
    assert!(e.contains("https://<redacted>@example.com/x"), "{e}");
}

/// Messages that echo a value (serde's "invalid type: string …") lose URL user-info too.
#[test]
fn messages_echoing_an_override_value_are_redacted() {
    let e = error_of(
        PROJECT,
        &[("UPKEEP_MAINTAIN__JOBS", "https://u:envSECRET@example.com/")],
    );
    assert!(!e.contains("envSECRET"), "{e}");
    assert!(e.contains("UPKEEP_MAINTAIN__JOBS"), "{e}");
}

/// An absurd duration used to load and later overflow date arithmetic.
#[test]
fn absurd_duration_is_refused_with_the_limit() {
    let text = format!("{PROJECT}steps.test.timeout = \"300000years\"\n");
    insta::assert_snapshot!(error_of(&text, &[]));
}

#[test]
fn slack_approval_names_bad_ids_and_reactions() {
    let text = r#"
[branches.approval.slack]
channel = "C0RELEASES"
approvers = ["@ann", "S0RELEASE"]
approver_groups = ["release-team"]
approve_reactions = [":white_check_mark:"]
reject_reactions = ["x", ":white_check_mark:"]
wait = "10s"
poll_interval = "1m"
"#;
    insta::assert_snapshot!(error_of(text, &[]));
}

#[test]
fn slack_approval_without_approvers_is_refused() {
    insta::assert_snapshot!(error_of(
        "[branches.approval.slack]\nchannel = \"C0RELEASES\"\n",
        &[]
    ));
}

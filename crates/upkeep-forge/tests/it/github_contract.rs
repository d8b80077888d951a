//! Every REST request the GitHub adapter sends in this suite is one GitHub documents: its
//! method and path match an operation of GitHub's `OpenAPI` description (the operations
//! `FakeGitHub` serves, extracted into upkeep-testkit's `contracts/github/operations.json`),
//! with the operation's required query parameters. Each GitHub harness checks its fake's
//! request log when it is dropped. GraphQL (`updateRefs`) has no `OpenAPI` description and
//! is out of scope; the bodies are validated on the fake's side (testkit's contract check).

use std::sync::LazyLock;

use serde_json::Value;
use upkeep_testkit::faults::RequestRecord;

/// The extracted operations, built into the test.
const OPERATIONS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../upkeep-testkit/contracts/github/operations.json"
));

/// Paths GitHub serves without describing them, as testkit's contract check lists them
/// (with reasons): the `git/refs` listing and lookup octocrab uses, and the
/// `/repositories/{id}/…` next pages of `Link` pagination.
const UNDOCUMENTED: &[&str] = &[
    "GET /repos/{}/{}/git/refs",
    "GET /repos/{}/{}/git/refs/",
    "GET /repos/{}/{}/git/refs/{}",
    "GET /repositories/{}/tags",
    "GET /repositories/{}/pulls",
    "GET /repositories/{}/pulls/{}/reviews",
    "GET /repositories/{}/issues",
];

/// `(method, path template, required query parameters)` of each documented operation.
static DOCUMENTED: LazyLock<Vec<(String, String, Vec<String>)>> = LazyLock::new(|| {
    let spec: Value = serde_json::from_str(OPERATIONS).expect("parse operations.json");
    spec["operations"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(key, op)| {
            let (method, path) = key.split_once(' ').unwrap();
            let required = op["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["in"] == "query" && p["required"] == true)
                .map(|p| p["name"].as_str().unwrap().to_owned())
                .collect();
            (method.to_owned(), path.to_owned(), required)
        })
        .collect()
});

/// A path template with each `{param}` (and axum's `{*rest}`) as `{}`.
fn shape(path: &str) -> String {
    path.split('/')
        .map(|s| if s.starts_with('{') { "{}" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether a literal path fits a template (`{ref}` last may span segments: `heads/main`).
fn fits(template: &str, path: &str) -> bool {
    let (t, p): (Vec<_>, Vec<_>) = (template.split('/').collect(), path.split('/').collect());
    let spans = t.last().is_some_and(|l| *l == "{ref}" || *l == "{}");
    (t.len() == p.len() || (spans && p.len() > t.len()))
        && t.iter().zip(&p).all(|(a, b)| {
            if a.starts_with('{') {
                !b.is_empty()
            } else {
                a == b
            }
        })
}

/// What in `records` (a `FakeGitHub`'s request log) GitHub does not document.
pub(crate) fn undocumented(records: &[RequestRecord]) -> Vec<String> {
    let mut problems = Vec::new();
    for r in records {
        let strip = |p: &str| p.strip_prefix("/api/v3").unwrap_or(p).to_owned();
        let (pattern, path) = (strip(&r.pattern), strip(&r.path));
        if path.ends_with("/graphql") {
            continue;
        }
        let method = r.method.as_str();
        // A route of the fake is matched by its template, anything else by its path.
        let routed = pattern != path;
        let op = DOCUMENTED.iter().find(|(m, t, _)| {
            m == method
                && if routed {
                    shape(t) == shape(&pattern)
                } else {
                    fits(t, &path)
                }
        });
        match op {
            Some((_, template, required)) => {
                let query = r.query.as_deref().unwrap_or("");
                for name in required {
                    let present = query
                        .split('&')
                        .any(|kv| kv.split('=').next() == Some(name.as_str()));
                    if !present {
                        problems.push(format!(
                            "{method} {path}: {template} requires the query parameter {name}"
                        ));
                    }
                }
            }
            None if routed
                && UNDOCUMENTED.contains(&format!("{method} {}", shape(&pattern)).as_str()) => {}
            None => problems.push(format!(
                "{method} {path} (route {pattern}) is no operation GitHub documents"
            )),
        }
    }
    problems
}

#[test]
fn a_request_github_does_not_document_is_found() {
    let record = |method: &str, pattern: &str, path: &str, query: Option<&str>| RequestRecord {
        method: method.parse().unwrap(),
        pattern: pattern.to_owned(),
        path: path.to_owned(),
        query: query.map(str::to_owned),
        fault: None,
    };
    let good = [
        record(
            "GET",
            "/repos/{owner}/{repo}/pulls",
            "/repos/a/b/pulls",
            Some("state=open"),
        ),
        record(
            "PATCH",
            "/api/v3/repos/{owner}/{repo}/git/refs/{*ref}",
            "/api/v3/repos/a/b/git/refs/heads/x",
            None,
        ),
        record(
            "GET",
            "/repositories/{id}/pulls",
            "/repositories/7/pulls",
            None,
        ),
        record("POST", "/api/graphql", "/api/graphql", None),
    ];
    assert_eq!(undocumented(&good), Vec::<String>::new());
    let bad = [
        record(
            "PUT",
            "/repos/{owner}/{repo}/pulls",
            "/repos/a/b/pulls",
            None,
        ),
        record("GET", "/repos/a/b/hooks", "/repos/a/b/hooks", None),
    ];
    assert_eq!(undocumented(&bad).len(), 2, "{:?}", undocumented(&bad));
}

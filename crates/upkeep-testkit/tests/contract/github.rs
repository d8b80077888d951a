//! Contract check: every route `FakeGitHub` serves is driven, success and error, and every
//! JSON answer is validated against the schema GitHub's own `OpenAPI` description gives
//! that operation and status (`contracts/github/operations.json`, extracted from
//! `@octokit/openapi` by `contracts/github/recipe.sh`, which `.ci/run` re-runs).
//!
//! The route table is the fake's own ([`FakeGitHub::routes`]) and the requests it saw are
//! its request log, so a route added without a request here fails the check, as does a
//! route that matches no documented operation and is not in [`UNDOCUMENTED`]. Each request
//! sent is also checked against the operation's required parameters (path, query, body).
//! GraphQL (`POST /graphql`) has no `OpenAPI` description: `github_graphql.rs` checks it
//! against GitHub's GraphQL schema.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use serde_json::{Value, json};
use upkeep_testkit::github::{FakeGitHub, Role};

/// The extracted operations, built into the test.
const SPEC: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/contracts/github/operations.json"
));

/// Routes the fake serves that GitHub's description leaves out, each answered like a
/// documented operation (whose schemas its answers are validated against).
const UNDOCUMENTED: &[(&str, &str, &str)] = &[
    (
        "GET /repos/{owner}/{repo}/git/refs",
        "GET /repos/{owner}/{repo}/git/matching-refs/{ref}",
        "the list of all references (the v3 `git/refs` listing octocrab's `list_refs` and \
         older clients call) still answers on api.github.com; the description replaced it \
         with `matching-refs`, whose answer it is",
    ),
    (
        "GET /repos/{owner}/{repo}/git/refs/",
        "GET /repos/{owner}/{repo}/git/matching-refs/{ref}",
        "the same listing with a trailing slash (octocrab builds `git/refs/` for an empty \
         prefix)",
    ),
    (
        "GET /repos/{owner}/{repo}/git/refs/{ref}",
        "GET /repos/{owner}/{repo}/git/ref/{ref}",
        "`git/refs/{prefix}` answers the one reference of that full name (or the list under \
         a prefix), as GitHub's v3 API still does; the description documents `git/ref/{ref}`",
    ),
    (
        "GET /repositories/{id}/tags",
        "GET /repos/{owner}/{repo}/tags",
        "GitHub's `Link` headers point at `/repositories/{id}/…` for the next pages; the \
         description documents only the owner/name form",
    ),
    (
        "GET /repositories/{id}/pulls",
        "GET /repos/{owner}/{repo}/pulls",
        "next pages of `Link` pagination (see above)",
    ),
    (
        "GET /repositories/{id}/pulls/{number}/reviews",
        "GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews",
        "next pages of `Link` pagination (see above)",
    ),
    (
        "GET /repositories/{id}/issues",
        "GET /repos/{owner}/{repo}/issues",
        "next pages of `Link` pagination (see above)",
    ),
    (
        "GET /organizations/{id}/repos",
        "GET /orgs/{org}/repos",
        "GitHub's `Link` headers for an organisation's repositories point at \
         `/organizations/{id}/repos`; the description documents only `/orgs/{org}/repos`",
    ),
    (
        "GET /user/{id}/repos",
        "GET /users/{username}/repos",
        "GitHub's `Link` headers for a user's repositories point at `/user/{id}/repos`; \
         the description documents only `/users/{username}/repos`",
    ),
];

/// Out of the check's scope: not REST.
const NOT_REST: &[&str] = &["POST /graphql"];

/// Answers GitHub gives that an operation's description leaves out: `(operation, status,
/// schema in components, reason)`; `*` for every operation.
const UNDESCRIBED: &[(&str, &str, &str, &str)] = &[
    (
        "*",
        "401",
        "basic-error",
        "every operation answers 401 `Bad credentials` to a wrong token (GitHub's \
         authentication docs); the description lists 401 only on a few",
    ),
    (
        "POST /repos/{owner}/{repo}/statuses/{sha}",
        "422",
        "validation-error",
        "an unknown `state` is refused with 422 `Validation Failed`, as every create \
         operation's invalid field (GitHub's REST docs, \"Client errors\"); the description \
         lists only 201",
    ),
    (
        "POST /repos/{owner}/{repo}/check-runs",
        "422",
        "validation-error",
        "a check run without `head_sha` is refused with 422 (GitHub's REST docs, \"Client \
         errors\"); the description lists only 201",
    ),
    (
        "GET /orgs/{org}/repos",
        "404",
        "basic-error",
        "an organisation that does not exist (or that the token cannot see) answers 404 \
         `Not Found`, as every unknown resource (GitHub's REST docs, \"Client errors\"); \
         the description lists only 200",
    ),
    (
        "GET /users/{username}/repos",
        "404",
        "basic-error",
        "a user that does not exist answers 404 `Not Found` (see above); the description \
         lists only 200",
    ),
];

/// Error statuses the description lists without a body (\"Validation failed\" and no
/// schema): GitHub's errors always carry one, validated as `basic-error`.
const BODILESS_ERRORS: &str = "basic-error";

struct Operation {
    key: String,
    parameters: Vec<(String, String, bool)>,
    request: Option<Value>,
    request_required: bool,
    responses: BTreeMap<String, Option<boon::SchemaIndex>>,
}

static SCHEMAS: LazyLock<(
    boon::Schemas,
    Vec<Operation>,
    BTreeMap<String, boon::SchemaIndex>,
)> = LazyLock::new(|| {
    let spec: Value = serde_json::from_str(SPEC).expect("parse operations.json");
    // Every schema to compile goes into one document beside the components, so that
    // their `#/components/schemas/…` references resolve.
    let mut roots = Vec::new();
    let mut ops = Vec::new();
    for (key, op) in spec["operations"].as_object().unwrap() {
        let mut responses = BTreeMap::new();
        for (status, schema) in op["responses"].as_object().unwrap() {
            let at = if schema.is_null() {
                None
            } else {
                roots.push(schema.clone());
                Some(roots.len() - 1)
            };
            responses.insert(status.clone(), at);
        }
        let parameters = op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["name"].as_str().unwrap().to_owned(),
                    p["in"].as_str().unwrap().to_owned(),
                    p["required"] == json!(true),
                )
            })
            .collect();
        ops.push((
            key.clone(),
            parameters,
            op["request"].clone(),
            op["request_required"] == json!(true),
            responses,
        ));
    }
    let document = json!({"components": spec["components"], "roots": roots});
    let mut compiler = boon::Compiler::new();
    // OpenAPI 3.0's schema object is JSON Schema draft 4 with `nullable`, which the
    // recipe translated.
    compiler.set_default_draft(boon::Draft::V4);
    let url = "file:///github-operations.json";
    compiler.add_resource(url, document).unwrap();
    let mut schemas = boon::Schemas::new();
    let operations = ops
        .into_iter()
        .map(
            |(key, parameters, request, request_required, responses)| Operation {
                key,
                parameters,
                request: (!request.is_null()).then_some(request),
                request_required,
                responses: responses
                    .into_iter()
                    .map(|(status, at)| {
                        let index = at.map(|i| {
                            compiler
                                .compile(&format!("{url}#/roots/{i}"), &mut schemas)
                                .unwrap()
                        });
                        (status, index)
                    })
                    .collect(),
            },
        )
        .collect();
    let components = spec["components"]["schemas"]
        .as_object()
        .unwrap()
        .keys()
        .map(|name| {
            let index = compiler
                .compile(&format!("{url}#/components/schemas/{name}"), &mut schemas)
                .unwrap();
            (name.clone(), index)
        })
        .collect();
    (schemas, operations, components)
});

/// A route or path template with every `{param}` (and axum's `{*rest}`) as `{}`.
fn shape(key: &str) -> String {
    let (method, path) = key.split_once(' ').unwrap();
    let segments: Vec<&str> = path
        .split('/')
        .map(|s| if s.starts_with('{') { "{}" } else { s })
        .collect();
    format!("{method} {}", segments.join("/"))
}

/// The documented operation a fake route answers as, and whether the description has the
/// route itself.
fn operation_of(route: &str) -> Option<(&'static Operation, bool)> {
    let (_, operations, _) = &*SCHEMAS;
    let find = |key: &str| operations.iter().find(|op| shape(&op.key) == shape(key));
    if let Some(op) = find(route) {
        return Some((op, true));
    }
    let (_, like, _) = UNDOCUMENTED
        .iter()
        .find(|(r, ..)| shape(r) == shape(route))?;
    Some((
        find(like).expect("UNDOCUMENTED names a documented operation"),
        false,
    ))
}

/// One request sent and its answer.
struct Exchange {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    body: Option<Value>,
    status: u16,
    answer: Option<Value>,
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
    sent: Vec<Exchange>,
}

impl Client {
    async fn call(&mut self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let (path_only, query) = match path.split_once('?') {
            Some((p, q)) => (
                p.to_owned(),
                q.split('&')
                    .map(|kv| {
                        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                        (k.to_owned(), v.to_owned())
                    })
                    .collect(),
            ),
            None => (path.to_owned(), Vec::new()),
        };
        let url = format!("{}{path}", self.base);
        let mut request = self
            .http
            .request(method.parse().unwrap(), &url)
            .header("accept", "application/vnd.github+json")
            .header("user-agent", "upkeep-contract")
            .bearer_auth(&self.token);
        if let Some(body) = &body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let answer = (!text.is_empty()).then(|| {
            serde_json::from_str::<Value>(&text)
                .unwrap_or_else(|e| panic!("{method} {path}: {status} not JSON ({e}): {text}"))
        });
        self.sent.push(Exchange {
            method: method.to_owned(),
            path: path_only,
            query,
            body,
            status,
            answer: answer.clone(),
        });
        (status, answer.unwrap_or(Value::Null))
    }

    async fn expect(
        &mut self,
        status: u16,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let (got, answer) = self.call(method, path, body).await;
        assert_eq!(got, status, "{method} {path}: {answer}");
        answer
    }
}

fn errors_of(schemas: &boon::Schemas, answer: &Value, schema: boon::SchemaIndex) -> Option<String> {
    schemas
        .validate(answer, schema)
        .err()
        .map(|e| format!("{e:#}"))
}

/// What is wrong with one exchange, against the operation its route answers as.
fn check(route: &str, exchange: &Exchange) -> Vec<String> {
    let (schemas, _, components) = &*SCHEMAS;
    let mut problems = Vec::new();
    let at = format!(
        "{} {} -> {}",
        exchange.method, exchange.path, exchange.status
    );
    let Some((op, _)) = operation_of(route) else {
        return vec![format!(
            "{at}: route {route} is neither documented nor in UNDOCUMENTED"
        )];
    };
    // The request: required query and body parameters present.
    for (name, place, required) in &op.parameters {
        if *required && place == "query" && !exchange.query.iter().any(|(k, _)| k == name) {
            problems.push(format!("{at}: required query parameter {name} missing"));
        }
    }
    if op.request_required && exchange.body.is_none() {
        problems.push(format!("{at}: {} requires a body", op.key));
    }
    if let (Some(schema), Some(body)) = (&op.request, &exchange.body) {
        for name in schema["required"].as_array().into_iter().flatten() {
            let name = name.as_str().unwrap();
            if body.get(name).is_none() && exchange.status < 400 {
                problems.push(format!("{at}: accepted without required body field {name}"));
            }
        }
    }
    // The answer.
    let status = exchange.status.to_string();
    let schema = if let Some(schema) = op.responses.get(&status) {
        *schema
    } else {
        let Some((.., component, _)) = UNDESCRIBED
            .iter()
            .find(|(o, s, ..)| (*o == "*" || *o == op.key) && *s == status)
        else {
            problems.push(format!(
                "{at}: {} documents no {status} (only {:?})",
                op.key,
                op.responses.keys().collect::<Vec<_>>()
            ));
            return problems;
        };
        Some(components[*component])
    };
    match (schema, &exchange.answer) {
        (Some(schema), Some(answer)) => {
            if let Some(e) = errors_of(schemas, answer, schema) {
                problems.push(format!(
                    "{at}: answer does not match {}'s {status}: {e}",
                    op.key
                ));
            }
        }
        (Some(_), None) => problems.push(format!("{at}: {} documents a {status} body", op.key)),
        (None, Some(answer)) if exchange.status >= 400 => {
            if let Some(e) = errors_of(schemas, answer, components[BODILESS_ERRORS]) {
                problems.push(format!("{at}: error body is no {BODILESS_ERRORS}: {e}"));
            }
        }
        (None, Some(answer)) => {
            problems.push(format!(
                "{at}: {} documents no {status} body, got {answer}",
                op.key
            ));
        }
        (None, None) => {}
    }
    problems
}

// One scenario through every route, success and error, so that each answer is checked.
// `o` is the repository, `r` its path, `c` the client: short, as they are on every line.
#[allow(clippy::too_many_lines, clippy::many_single_char_names)]
#[tokio::test]
async fn every_fake_github_answer_matches_githubs_openapi_description() {
    let fake = FakeGitHub::start().await;
    fake.require_token("ghp_contract");
    let o = "octo/app";
    fake.create_repo(o);
    let r = format!("/repos/{o}");
    let mut c = Client {
        http: reqwest::Client::new(),
        base: fake.url(),
        token: "ghp_contract".to_owned(),
        sent: Vec::new(),
    };

    c.expect(200, "GET", "/user", None).await;
    c.token = "ghp_wrong".to_owned();
    c.expect(401, "GET", "/user", None).await;
    c.expect(401, "GET", &r, None).await;
    c.token = "ghp_contract".to_owned();

    // Repository and references.
    let repo = c.expect(200, "GET", &r, None).await;
    let id = repo["id"].as_u64().unwrap();
    c.expect(404, "GET", "/repos/octo/missing", None).await;
    let main = fake.branch_tip(o, "main").unwrap();
    let feature = fake.commit(o, "feature", "a feature");
    c.expect(200, "GET", &format!("{r}/git/refs"), None).await;
    c.expect(200, "GET", &format!("{r}/git/refs/"), None).await;
    c.expect(200, "GET", &format!("{r}/git/refs/heads/main"), None)
        .await;
    c.expect(200, "GET", &format!("{r}/git/ref/heads/main"), None)
        .await;
    c.expect(404, "GET", &format!("{r}/git/ref/heads/nowhere"), None)
        .await;
    c.expect(200, "GET", &format!("{r}/git/matching-refs/heads/"), None)
        .await;
    let create = json!({"ref": "refs/heads/topic", "sha": main});
    c.expect(201, "POST", &format!("{r}/git/refs"), Some(create.clone()))
        .await;
    c.expect(422, "POST", &format!("{r}/git/refs"), Some(create))
        .await;
    c.expect(
        422,
        "POST",
        &format!("{r}/git/refs"),
        Some(json!({"ref": "refs/heads/x"})),
    )
    .await;
    c.expect(
        200,
        "PATCH",
        &format!("{r}/git/refs/heads/topic"),
        Some(json!({"sha": feature})),
    )
    .await;
    c.expect(
        422,
        "PATCH",
        &format!("{r}/git/refs/heads/topic"),
        Some(json!({"sha": main})),
    )
    .await;
    c.expect(204, "DELETE", &format!("{r}/git/refs/heads/topic"), None)
        .await;
    c.expect(422, "DELETE", &format!("{r}/git/refs/heads/topic"), None)
        .await;
    let tag = json!({"tag": "v1.0.0", "message": "v1.0.0", "object": main, "type": "commit"});
    c.expect(201, "POST", &format!("{r}/git/tags"), Some(tag))
        .await;
    c.expect(
        422,
        "POST",
        &format!("{r}/git/tags"),
        Some(json!({"message": "m", "object": main, "type": "commit"})),
    )
    .await;
    c.expect(
        201,
        "POST",
        &format!("{r}/git/refs"),
        Some(json!({"ref": "refs/tags/v1.0.0", "sha": main})),
    )
    .await;
    c.expect(200, "GET", &format!("{r}/tags"), None).await;

    // Discovery: an organisation's and a user's repositories, page by page, and a file.
    fake.create_repo("octo/lib");
    let first = c
        .expect(200, "GET", "/orgs/octo/repos?per_page=1", None)
        .await;
    let org_id = first[0]["owner"]["id"].as_u64().unwrap();
    c.expect(
        200,
        "GET",
        &format!("/organizations/{org_id}/repos?per_page=1&page=2"),
        None,
    )
    .await;
    c.expect(404, "GET", "/orgs/nobody-here/repos", None).await;
    fake.create_listed_repo(
        "someone/tool",
        upkeep_testkit::github::RepoMeta {
            private: false,
            user_owned: true,
            ..upkeep_testkit::github::RepoMeta::default()
        },
    );
    fake.create_listed_repo(
        "someone/other",
        upkeep_testkit::github::RepoMeta {
            private: false,
            user_owned: true,
            ..upkeep_testkit::github::RepoMeta::default()
        },
    );
    let first = c
        .expect(200, "GET", "/users/someone/repos?per_page=1", None)
        .await;
    let user_id = first[0]["owner"]["id"].as_u64().unwrap();
    c.expect(
        200,
        "GET",
        &format!("/user/{user_id}/repos?per_page=1&page=2"),
        None,
    )
    .await;
    c.expect(404, "GET", "/users/nobody-here/repos", None).await;
    c.expect(200, "GET", "/user/repos?affiliation=owner", None)
        .await;
    fake.bare(o)
        .commit_file("main", "README.md", "hello", "a readme");
    c.expect(
        200,
        "GET",
        &format!("{r}/contents/README.md?ref=main"),
        None,
    )
    .await;
    c.expect(
        404,
        "GET",
        &format!("{r}/contents/nothing.md?ref=main"),
        None,
    )
    .await;
    c.expect(200, "GET", &format!("/repositories/{id}/tags"), None)
        .await;
    c.expect(200, "GET", &format!("{r}/compare/main...feature"), None)
        .await;
    c.expect(404, "GET", &format!("{r}/compare/main...nowhere"), None)
        .await;

    // Pull requests, reviews, issues, labels.
    let pull = json!({"title": "A feature", "head": "feature", "base": "main", "body": "b"});
    let created = c
        .expect(201, "POST", &format!("{r}/pulls"), Some(pull.clone()))
        .await;
    let n = created["number"].as_u64().unwrap();
    c.expect(422, "POST", &format!("{r}/pulls"), Some(pull))
        .await;
    c.expect(
        200,
        "GET",
        &format!("{r}/pulls?state=open&head=octo:feature"),
        None,
    )
    .await;
    c.expect(200, "GET", &format!("/repositories/{id}/pulls"), None)
        .await;
    c.expect(200, "GET", &format!("{r}/pulls/{n}"), None).await;
    c.expect(404, "GET", &format!("{r}/pulls/999"), None).await;
    c.expect(
        200,
        "PATCH",
        &format!("{r}/pulls/{n}"),
        Some(json!({"title": "Feature"})),
    )
    .await;
    c.expect(
        422,
        "PATCH",
        &format!("{r}/pulls/{n}"),
        Some(json!({"state": "sideways"})),
    )
    .await;
    fake.add_review(o, n, "reviewer", "APPROVED");
    c.expect(200, "GET", &format!("{r}/pulls/{n}/reviews"), None)
        .await;
    c.expect(
        200,
        "GET",
        &format!("/repositories/{id}/pulls/{n}/reviews"),
        None,
    )
    .await;
    fake.set_collaborators(o, &["alice"]);
    let reviewers = format!("{r}/pulls/{n}/requested_reviewers");
    c.expect(
        201,
        "POST",
        &reviewers,
        Some(json!({"reviewers": ["alice"]})),
    )
    .await;
    c.expect(
        422,
        "POST",
        &reviewers,
        Some(json!({"reviewers": ["mallory"]})),
    )
    .await;
    let issue = c
        .expect(
            201,
            "POST",
            &format!("{r}/issues"),
            Some(json!({"title": "Bug"})),
        )
        .await;
    let i = issue["number"].as_u64().unwrap();
    c.expect(
        422,
        "POST",
        &format!("{r}/issues"),
        Some(json!({"body": "no title"})),
    )
    .await;
    c.expect(200, "GET", &format!("{r}/issues?state=all"), None)
        .await;
    c.expect(200, "GET", &format!("/repositories/{id}/issues"), None)
        .await;
    c.expect(200, "GET", &format!("{r}/issues/{i}"), None).await;
    c.expect(404, "GET", &format!("{r}/issues/999"), None).await;
    c.expect(
        200,
        "PATCH",
        &format!("{r}/issues/{i}"),
        Some(json!({"state": "closed"})),
    )
    .await;
    c.expect(
        422,
        "PATCH",
        &format!("{r}/issues/{i}"),
        Some(json!({"state": "sideways"})),
    )
    .await;
    c.expect(
        200,
        "POST",
        &format!("{r}/issues/{i}/labels"),
        Some(json!({"labels": ["bug"]})),
    )
    .await;
    c.expect(
        404,
        "POST",
        &format!("{r}/issues/999/labels"),
        Some(json!({"labels": ["bug"]})),
    )
    .await;
    let label = json!({"name": "release", "color": "ededed"});
    c.expect(201, "POST", &format!("{r}/labels"), Some(label.clone()))
        .await;
    c.expect(422, "POST", &format!("{r}/labels"), Some(label))
        .await;

    // Statuses and check runs.
    let status = json!({"state": "success", "context": "ci/build"});
    c.expect(
        201,
        "POST",
        &format!("{r}/statuses/{feature}"),
        Some(status),
    )
    .await;
    c.expect(
        422,
        "POST",
        &format!("{r}/statuses/{feature}"),
        Some(json!({"state": "sideways"})),
    )
    .await;
    c.expect(200, "GET", &format!("{r}/commits/feature/statuses"), None)
        .await;
    c.expect(200, "GET", &format!("{r}/commits/feature/status"), None)
        .await;
    c.expect(200, "GET", &format!("{r}/commits/feature/check-runs"), None)
        .await;
    let run = json!({"name": "build", "head_sha": feature, "status": "completed", "conclusion": "success"});
    c.expect(201, "POST", &format!("{r}/check-runs"), Some(run))
        .await;
    c.expect(
        422,
        "POST",
        &format!("{r}/check-runs"),
        Some(json!({"name": "build"})),
    )
    .await;

    // Branches and their protection.
    let protection = format!("{r}/branches/main/protection");
    c.expect(200, "GET", &format!("{r}/branches/main"), None)
        .await;
    c.expect(404, "GET", &format!("{r}/branches/nowhere"), None)
        .await;
    c.expect(404, "GET", &protection, None).await;
    let rule = json!({
        "required_status_checks": {"strict": true, "contexts": ["ci/build"]},
        "enforce_admins": true,
        "required_pull_request_reviews": {"required_approving_review_count": 1},
        "restrictions": null
    });
    c.expect(200, "PUT", &protection, Some(rule)).await;
    c.expect(200, "GET", &protection, None).await;
    c.expect(
        422,
        "PUT",
        &protection,
        Some(json!({"enforce_admins": true})),
    )
    .await;
    c.expect(
        422,
        "PATCH",
        &format!("{r}/git/refs/heads/main"),
        Some(json!({"sha": feature})),
    )
    .await;
    fake.set_role(o, Role::Write);
    c.expect(404, "GET", &protection, None).await;
    fake.set_role(o, Role::Admin);
    c.expect(204, "DELETE", &protection, None).await;

    // Every exchange against its operation.
    let log = fake.faults().log();
    assert_eq!(
        log.records.len(),
        c.sent.len(),
        "one log record per request"
    );
    let mut problems = Vec::new();
    let mut exercised: BTreeMap<String, BTreeSet<u16>> = BTreeMap::new();
    for (record, exchange) in log.records.iter().zip(&c.sent) {
        let route = format!("{} {}", record.method, record.pattern);
        exercised
            .entry(route.clone())
            .or_default()
            .insert(exchange.status);
        problems.extend(check(&route, exchange));
    }
    // Every route the fake serves was driven to a success; the error classes were met.
    for (method, pattern) in fake.routes() {
        let route = format!("{method} {pattern}");
        if NOT_REST.contains(&route.as_str()) {
            continue;
        }
        let ok = exercised
            .get(&route)
            .is_some_and(|s| s.iter().any(|s| (200..300).contains(s)));
        if !ok {
            problems.push(format!(
                "route {route} has no successful answer checked here"
            ));
        }
    }
    let statuses: BTreeSet<u16> = exercised.values().flatten().copied().collect();
    for status in [401, 404, 422] {
        if !statuses.contains(&status) {
            problems.push(format!("no {status} answer was checked"));
        }
    }
    for (route, ..) in UNDOCUMENTED {
        if !fake
            .routes()
            .iter()
            .any(|(m, p)| shape(&format!("{m} {p}")) == shape(route))
        {
            problems.push(format!(
                "UNDOCUMENTED lists {route}, which the fake no longer serves"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

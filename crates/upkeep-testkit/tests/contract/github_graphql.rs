//! Contract check of `FakeGitHub`'s GraphQL against GitHub's own schema
//! (`contracts/github-graphql/schema.json`, extracted from `@octokit/graphql-schema` by
//! `contracts/github-graphql/recipe.sh`, which `.ci/run` re-runs).
//!
//! The fake validates every document against that schema before running it; this check
//! makes sure it cannot drift from it: every field the fake serves is GitHub's, a query
//! selecting every one of them (generated from the fake's own list, so a field added
//! there is in it) is answered with the schema's shapes (non-null fields never null,
//! enum values from the schema, lists as lists, `__typename`s that fit), every served
//! field answers a value, and the documents the GitHub adapter of upkeep-forge sends
//! (the promotion read, `updateRefs`, the CI rollup, the branch access read) are accepted.

use std::collections::BTreeSet;

use secrecy::SecretString;
use serde_json::{Value, json};
use upkeep_forge::github::GitHub;
use upkeep_forge::retry::RetryPolicy;
use upkeep_forge::{BranchMove, Forge, RepoId};
use upkeep_testkit::faults::Endpoint;
use upkeep_testkit::github::graphql_schema::{Kind, is_served, named, schema, served};
use upkeep_testkit::github::{FakeGitHub, Role};

const REPO: &str = "packit/ogr";

/// Values for the arguments of served fields, as `Type.field` and the GraphQL text inside
/// the parentheses. A served field whose schema has a required argument, or a connection
/// GitHub pages (`first:`/`last:` are required at run time), needs one here.
const ARGS: &[(&str, &str)] = &[
    ("Query.repository", r#"owner: "packit", name: "ogr""#),
    ("Repository.ref", r#"qualifiedName: "refs/heads/stable""#),
    ("Repository.object", r#"expression: "main""#),
    ("Ref.compare", r#"headRef: "refs/heads/main""#),
    ("Comparison.commits", "first: 10"),
    ("StatusCheckRollup.contexts", "first: 10"),
    ("Mutation.updateRefs", "input: $input"),
];

/// Served fields that may answer `null` in [`world`] (the schema allows it), with why.
const NULL_IN_THIS_WORLD: &[(&str, &str)] = &[];

async fn post(fake: &FakeGitHub, body: &Value) -> Value {
    reqwest::Client::new()
        .post(format!("{}/graphql", fake.url()))
        .header("user-agent", "upkeep-contract")
        .bearer_auth("ghp_contract")
        .json(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A repository where every served field has something to show: `stable` two commits
/// behind `main`, protected, with statuses and check runs on its tip.
async fn world() -> FakeGitHub {
    let fake = FakeGitHub::start().await;
    fake.create_repo(REPO);
    let old = fake.branch_tip(REPO, "main").unwrap();
    fake.set_branch(REPO, "stable", &old);
    fake.commit(REPO, "main", "fix: one (#1)");
    let tip = fake.commit(REPO, "main", "feat: two (#2)");
    for sha in [&old, &tip] {
        fake.add_status(REPO, sha, "ci/build", "success");
        fake.add_check_run(REPO, sha, "tests", "completed", Some("success"));
    }
    fake.protect_branch(
        REPO,
        "stable",
        &json!({
            "required_status_checks": {"strict": false, "contexts": ["ci/build"]},
            "enforce_admins": false,
            "required_pull_request_reviews": {"required_approving_review_count": 1},
            "restrictions": null,
            "required_linear_history": true,
        }),
    );
    fake
}

fn served_fields(ty: &str) -> &'static [&'static str] {
    served()
        .iter()
        .find(|(t, _)| *t == ty)
        .map_or(&[], |(_, fields)| fields)
}

/// A selection of every served field of `ty` (and `__typename`), with [`ARGS`]; the
/// members of a union each in an inline fragment.
fn selection(ty: &str) -> String {
    let schema = schema();
    let mut items = vec!["__typename".to_owned()];
    for field in served_fields(ty) {
        let def = schema.field(ty, field).unwrap();
        let key = format!("{ty}.{field}");
        let args = ARGS.iter().find(|(k, _)| *k == key).map(|(_, a)| *a);
        for arg in def.args.iter().filter(|a| a.required()) {
            assert!(
                args.is_some_and(|a| a.contains(&format!("{}:", arg.name))),
                "{key} needs argument {}: give it a value in ARGS",
                arg.name
            );
        }
        let args = args.map(|a| format!("({a})")).unwrap_or_default();
        let returns = named(&def.ty);
        if schema.is_leaf(returns) {
            items.push(format!("{field}{args}"));
        } else {
            items.push(format!("{field}{args} {{ {} }}", selection(returns)));
        }
    }
    if let Some(def) = schema.ty(ty)
        && def.kind == Kind::Union
    {
        for member in &def.possible_types {
            if !served_fields(member).is_empty() {
                items.push(format!("... on {member} {{ {} }}", selection(member)));
            }
        }
    }
    items.join(" ")
}

/// Checks `value` against schema type `ty` (schema language), recording problems and the
/// served fields seen with a value.
fn check(
    ty: &str,
    value: &Value,
    path: &str,
    problems: &mut Vec<String>,
    seen: &mut BTreeSet<String>,
) {
    let schema = schema();
    if let Some(inner) = ty.strip_suffix('!') {
        if value.is_null() {
            problems.push(format!("{path}: null, but GitHub's type is {ty}"));
        } else {
            check(inner, value, path, problems, seen);
        }
        return;
    }
    if value.is_null() {
        return;
    }
    if let Some(inner) = ty.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        match value.as_array() {
            Some(items) => {
                for (i, item) in items.iter().enumerate() {
                    check(inner, item, &format!("{path}[{i}]"), problems, seen);
                }
            }
            None => problems.push(format!(
                "{path}: {value}, but GitHub's type is a list, {ty}"
            )),
        }
        return;
    }
    let Some(def) = schema.ty(ty) else {
        problems.push(format!(
            "{path}: type {ty} is not in the extract (add it to recipe.sh)"
        ));
        return;
    };
    match def.kind {
        Kind::Scalar => {
            if let Some(why) = scalar_problem(ty, value) {
                problems.push(format!("{path}: {value} is not a {ty}: {why}"));
            }
        }
        Kind::Enum => {
            if !value
                .as_str()
                .is_some_and(|v| def.enum_values.iter().any(|e| e == v))
            {
                problems.push(format!(
                    "{path}: {value} is not a value of enum {ty} ({})",
                    def.enum_values.join(", ")
                ));
            }
        }
        Kind::Object | Kind::Interface | Kind::Union => {
            let Some(object) = value.as_object() else {
                problems.push(format!("{path}: {value} is not an object ({ty})"));
                return;
            };
            let typename = object
                .get("__typename")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !schema.fits(typename, ty) {
                problems.push(format!("{path}: __typename {typename:?} is not a {ty}"));
                return;
            }
            // The object's own type's fields (a union's member, in its fragment), else
            // the interface's.
            let fields_of = if def.kind == Kind::Union {
                typename
            } else {
                ty
            };
            let mut expected: BTreeSet<&str> = served_fields(fields_of).iter().copied().collect();
            expected.insert("__typename");
            let got: BTreeSet<&str> = object.keys().map(String::as_str).collect();
            if got != expected {
                problems.push(format!("{path}: fields {got:?}, selected {expected:?}"));
            }
            for field in served_fields(fields_of) {
                let Some(v) = object.get(*field) else {
                    continue;
                };
                let field_ty = &schema.field(fields_of, field).unwrap().ty;
                if !v.is_null() {
                    seen.insert(format!("{fields_of}.{field}"));
                }
                check(field_ty, v, &format!("{path}.{field}"), problems, seen);
            }
        }
        Kind::InputObject => problems.push(format!("{path}: {ty} is an input type")),
    }
}

/// What is wrong with `value` as GitHub's scalar `ty`, if anything.
fn scalar_problem(ty: &str, value: &Value) -> Option<String> {
    let text = value.as_str();
    match ty {
        "Int" => (value.as_i64().is_none_or(|n| i32::try_from(n).is_err()))
            .then(|| "not a 32-bit integer".to_owned()),
        "Float" => (!value.is_number()).then(|| "not a number".to_owned()),
        "Boolean" => (!value.is_boolean()).then(|| "not a boolean".to_owned()),
        "GitObjectID" => (!text
            .is_some_and(|t| t.len() == 40 && t.bytes().all(|b| b.is_ascii_hexdigit())))
        .then(|| "not a full hexadecimal object id".to_owned()),
        "DateTime" | "GitTimestamp" => match text.map(chrono::DateTime::parse_from_rfc3339) {
            Some(Ok(_)) => None,
            Some(Err(e)) => Some(format!("not an ISO-8601 time ({e})")),
            None => Some("not a string".to_owned()),
        },
        "URI" => match text.map(url::Url::parse) {
            Some(Ok(_)) => None,
            Some(Err(e)) => Some(format!("not a URI ({e})")),
            None => Some("not a string".to_owned()),
        },
        // String, ID, HTML, GitRefname, … are strings on the wire.
        _ => text.is_none().then(|| "not a string".to_owned()),
    }
}

#[test]
fn every_field_the_fake_serves_is_githubs() {
    let schema = schema();
    assert!(
        schema.source.starts_with("@octokit/graphql-schema "),
        "{}",
        schema.source
    );
    let mut problems = Vec::new();
    for (ty, fields) in served() {
        let Some(def) = schema.ty(ty) else {
            problems.push(format!(
                "{ty} is not in the extract (add it to recipe.sh's TYPES)"
            ));
            continue;
        };
        if !matches!(def.kind, Kind::Object | Kind::Interface) {
            problems.push(format!(
                "{ty} is a {:?}: it has no fields to serve",
                def.kind
            ));
        }
        for field in *fields {
            match schema.field(ty, field) {
                None => problems.push(format!("GitHub's {ty} has no field {field}")),
                Some(f) if schema.ty(named(&f.ty)).is_none() => problems.push(format!(
                    "{ty}.{field} returns {}, which is not in the extract (add it to recipe.sh's TYPES)",
                    f.ty
                )),
                Some(_) => {}
            }
        }
    }
    for (key, args) in ARGS {
        let (ty, field) = key.split_once('.').unwrap();
        match schema.field(ty, field) {
            None => problems.push(format!("ARGS: GitHub's {ty} has no field {field}")),
            Some(def) => {
                for given in args.split(", ") {
                    let name = given.split(':').next().unwrap();
                    if def.arg(name).is_none() {
                        problems.push(format!("ARGS: {key} has no argument {name}"));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test]
async fn the_fakes_answers_have_githubs_shapes() {
    let fake = world().await;
    let query = format!("query {{ {} }}", selection("Query"));
    let answer = post(&fake, &json!({ "query": query })).await;
    assert_eq!(answer.get("errors"), None, "{query}\n{answer}");
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    let data = &answer["data"];
    check("Query!", data, "data", &mut problems, &mut seen);

    // The mutation, on a fresh move of `stable` to `main`.
    let id = data["repository"]["id"].as_str().unwrap().to_owned();
    fake.unprotect_branch(REPO, "stable");
    let mutation = format!(
        "mutation($input: UpdateRefsInput!) {{ {} }}",
        selection("Mutation")
    );
    let answer = post(
        &fake,
        &json!({"query": mutation, "variables": {"input": {
            "clientMutationId": "contract",
            "repositoryId": id,
            "refUpdates": [{
                "name": "refs/heads/stable",
                "beforeOid": fake.branch_tip(REPO, "stable").unwrap(),
                "afterOid": fake.branch_tip(REPO, "main").unwrap(),
            }],
        }}}),
    )
    .await;
    assert_eq!(answer.get("errors"), None, "{mutation}\n{answer}");
    assert_eq!(
        fake.branch_tip(REPO, "stable"),
        fake.branch_tip(REPO, "main")
    );
    check(
        "Mutation!",
        &answer["data"],
        "data",
        &mut problems,
        &mut seen,
    );

    assert!(problems.is_empty(), "{query}\n{}", problems.join("\n"));
    let unseen: Vec<String> = served()
        .iter()
        .flat_map(|(ty, fields)| fields.iter().map(move |f| format!("{ty}.{f}")))
        .filter(|f| !seen.contains(f) && !NULL_IN_THIS_WORLD.iter().any(|(n, _)| n == f))
        .collect();
    assert!(
        unseen.is_empty(),
        "served fields that answered no value: {unseen:?}\n{query}"
    );
}

/// The documents upkeep-forge's GitHub adapter sends — the promotion read
/// (`PROMOTION_READS`), the branch move (`updateRefs`), a commit's CI signals
/// (`CI_ROLLUP`) and who may move a branch (`BRANCH_ACCESS`) — pass the fake's check
/// against
/// GitHub's schema: each is one request to the GraphQL endpoint, answered, with no REST
/// fallback (a refused `updateRefs` would send the adapter to the REST ref update).
#[tokio::test]
async fn the_github_adapters_documents_pass_githubs_schema() {
    upkeep_testkit::install_crypto_provider();
    let fake = FakeGitHub::start().await;
    fake.create_repo(REPO);
    let old = fake.branch_tip(REPO, "main").unwrap();
    fake.set_branch(REPO, "stable", &old);
    let new = fake.commit(REPO, "main", "feat: two (#2)");
    let forge = GitHub::new(
        &fake.url(),
        SecretString::from("ghp_contract".to_owned()),
        RetryPolicy::fast(),
    )
    .unwrap();
    let repo = RepoId::new(REPO);
    let graphql = Endpoint::post("/graphql");
    fake.faults().reset_log();

    let reads = forge
        .promotion_reads(&repo, "main", "stable")
        .await
        .unwrap();
    assert_eq!(reads.source_tip.as_deref(), Some(new.as_str()));
    assert!(reads.comparison.is_some(), "read in the GraphQL query");
    forge
        .move_branch(
            &repo,
            &BranchMove {
                branch: "stable".into(),
                expected_old: old,
                new: new.clone(),
                allow_backwards: false,
            },
        )
        .await
        .unwrap();
    assert_eq!(fake.branch_tip(REPO, "stable"), Some(new.clone()));
    fake.add_status(REPO, &new, "ci/build", "success");
    fake.add_check_run(REPO, &new, "tests", "completed", Some("failure"));
    let verdict = forge.ci_verdict(&repo, &new).await.unwrap();
    assert_eq!(verdict.checks.len(), 2, "{verdict:?}");
    fake.set_role(REPO, Role::Write);
    let access = forge.branch_access(&repo, "stable").await.unwrap();
    assert_eq!(access.can_update, Some(true), "{access:?}");
    let log = fake.faults().log();
    assert_eq!(
        (log.count(&graphql), log.total()),
        (4, 4),
        "three queries and one mutation, nothing else: {log:?}"
    );
}

/// `(extensions.code, message)` of each error of a refusal.
fn errors(answer: &Value) -> Vec<(String, String)> {
    answer["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("refused: {answer}"))
        .iter()
        .map(|e| {
            (
                e["extensions"]["code"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                e["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The fake refuses what GitHub's schema refuses, and says so when GitHub has a field the
/// fake does not serve.
#[tokio::test]
async fn the_fake_refuses_by_githubs_schema() {
    let fake = world().await;
    // A field GitHub has that the fake does not resolve, and one GitHub lacks.
    let answer = post(
        &fake,
        &json!({"query": r#"{ repository(owner: "packit", name: "ogr") { isArchived nope } }"#}),
    )
    .await;
    assert_eq!(answer.get("data"), None, "nothing runs: {answer}");
    assert_eq!(
        errors(&answer),
        [
            (
                "notServedByFakeGitHub".to_owned(),
                "FakeGitHub does not serve Repository.isArchived (GitHub's schema has it)"
                    .to_owned()
            ),
            (
                "undefinedField".to_owned(),
                "Field 'nope' doesn't exist on type 'Repository'".to_owned()
            ),
        ]
    );
    assert!(!is_served("Repository", "isArchived"));
    assert!(schema().field("Repository", "isArchived").is_some());

    // Required arguments in GitHub's order, and an enum takes no selection.
    let answer = post(
        &fake,
        &json!({"query": r#"{ repository { ref(qualifiedName: "main") { compare(headRef: "main") { status { x } } } } }"#}),
    )
    .await;
    assert_eq!(
        errors(&answer),
        [
            (
                "missingRequiredArguments".to_owned(),
                "Field 'repository' is missing required arguments: owner, name".to_owned()
            ),
            (
                "selectionMismatch".to_owned(),
                "Selections can't be made on enums (field 'status' returns ComparisonStatus but has selections [x])".to_owned()
            ),
        ]
    );

    // Inline fragments: on a member GitHub has but the extract leaves out, and on a type
    // that cannot be there.
    let answer = post(
        &fake,
        &json!({"query": r#"{ repository(owner: "packit", name: "ogr") { object(expression: "main") { ... on Blob { byteSize } ... on Repository { id } } } }"#}),
    )
    .await;
    assert_eq!(
        errors(&answer),
        [
            (
                "notServedByFakeGitHub".to_owned(),
                "FakeGitHub does not serve type Blob (not in its extract of GitHub's schema)"
                    .to_owned()
            ),
            (
                "fragmentSpreadImpossible".to_owned(),
                "Fragment on Repository can't be spread inside GitObject".to_owned()
            ),
        ]
    );

    // A variable's value is checked against its declared type.
    let answer = post(
        &fake,
        &json!({"query": "query($owner: String!) { repository(owner: $owner, name: \"ogr\") { id } }",
                "variables": {}}),
    )
    .await;
    assert_eq!(
        answer["errors"][0]["message"],
        "Variable $owner of type String! was provided invalid value"
    );
}

/// Mutations: GitHub's that the fake does not serve, one GitHub lacks, and an input that
/// is not an `UpdateRefsInput`.
#[tokio::test]
async fn the_fake_refuses_mutations_by_githubs_schema() {
    let fake = world().await;
    let answer = post(
        &fake,
        &json!({"query": "mutation { createIssue(input: {}) { clientMutationId } }"}),
    )
    .await;
    assert_eq!(errors(&answer)[0].0, "notServedByFakeGitHub", "{answer}");
    let answer = post(&fake, &json!({"query": "mutation { moveBranch { ok } }"})).await;
    assert_eq!(
        errors(&answer)[0],
        (
            "undefinedField".to_owned(),
            "Field 'moveBranch' doesn't exist on type 'Mutation'".to_owned()
        )
    );
    let answer = post(
        &fake,
        &json!({"query": "mutation($input: UpdateRefsInput!) { updateRefs(input: $input) { clientMutationId } }",
                "variables": {"input": {"repositoryId": "R_1", "refUpdates": [{"name": "refs/heads/stable", "after": "0"}]}}}),
    )
    .await;
    assert_eq!(
        answer["errors"][0]["message"],
        "Variable $input of type UpdateRefsInput! was provided invalid value for \
         refUpdates.0.after (Field is not defined on RefUpdate), \
         refUpdates.0.afterOid (Expected value to not be null)",
        "{answer}"
    );
    assert_eq!(
        answer["errors"][0]["extensions"]["problems"][1]["path"],
        json!(["refUpdates", 0, "afterOid"])
    );
}

/// Arguments as GitHub checks them: literals of the argument's type, variables declared
/// with a type the argument accepts, no variable declared and left unused.
#[tokio::test]
async fn the_fake_checks_arguments_and_variables_as_github_does() {
    let fake = world().await;
    let codes = |answer: &Value| -> Vec<String> {
        answer["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("refused: {answer}"))
            .iter()
            .map(|e| e["message"].as_str().unwrap().to_owned())
            .collect()
    };
    let answer = post(
        &fake,
        &json!({"query": r#"{ repository(owner: "packit", name: 7) { id } }"#}),
    )
    .await;
    assert_eq!(
        codes(&answer),
        [
            "Argument 'name' on Field 'repository' has an invalid value (7). Expected type 'String!'."
        ]
    );
    let answer = post(
        &fake,
        &json!({"query": "query Reads($owner: String, $name: String!, $spare: Int) { repository(owner: $owner, name: $name) { id } }",
                "variables": {"owner": "packit", "name": "ogr"}}),
    )
    .await;
    assert_eq!(
        codes(&answer),
        [
            "Nullability mismatch on variable $owner and argument owner (String / String!)",
            "Variable $spare is declared by Reads but not used",
        ]
    );
    let answer = post(
        &fake,
        &json!({"query": "query($owner: Int!) { repository(owner: $owner, name: $name) { id } }",
                "variables": {"owner": 1}}),
    )
    .await;
    assert_eq!(
        codes(&answer),
        [
            "Type mismatch on variable $owner and argument owner (Int! / String!)",
            "Variable $name is used by anonymous query but not declared",
        ]
    );
    // A variable with a default may stand where a non-null argument is.
    let answer = post(
        &fake,
        &json!({"query": r#"query($owner: String = "packit") { repository(owner: $owner, name: "ogr") { name } }"#}),
    )
    .await;
    assert_eq!(answer["data"]["repository"]["name"], "ogr", "{answer}");
}

//! GraphQL queries (reads) on the fake GitHub: the part of GitHub's schema that upkeep
//! reads — `repository`, `Repository.ref`, `Ref.target`, `Ref.compare`, the comparison's
//! commits — checked against GitHub's schema ([`graphql_schema`](super::graphql_schema))
//! the way GitHub checks a query: an unknown field or argument, a missing required
//! argument, selections on a leaf or none on an object, a variable's value not of its type
//! are refused before anything runs, with GitHub's messages and `extensions.code`; a
//! field GitHub has that the fake does not resolve ([`SERVED`]) is refused as such.

use git2::Oid;
use graphql_parser::query::{
    Definition, Document, Field, OperationDefinition, Selection, SelectionSet, TypeCondition,
    Value as GqlValue, VariableDefinition,
};
use serde_json::{Map, Value, json};

use super::checks;
use super::graphql_schema::{self, Kind};
use super::http::ok;
use super::json::node_id;
use super::json::web_root;
use super::model::{CheckRun, Repo, Role, Status, World};
use super::protection;
use super::repos::only_in;

type Doc<'a> = Document<'a, String>;
type Set<'a> = SelectionSet<'a, String>;

/// The fields the fake resolves, per type; their types and arguments are GitHub's
/// ([`graphql_schema`](super::graphql_schema)). A field GitHub has that is not listed here
/// is refused before the query runs.
pub(super) const SERVED: &[(&str, &[&str])] = &[
    ("Query", &["repository"]),
    (
        "Repository",
        &[
            "id",
            "name",
            "nameWithOwner",
            "ref",
            "object",
            "viewerPermission",
        ],
    ),
    (
        "Ref",
        &["id", "name", "prefix", "target", "compare", "refUpdateRule"],
    ),
    (
        "RefUpdateRule",
        &[
            "pattern",
            "viewerCanPush",
            "requiredStatusCheckContexts",
            "allowsForcePushes",
            "allowsDeletions",
            "requiredApprovingReviewCount",
            "requiresLinearHistory",
        ],
    ),
    ("GitObject", &["oid", "abbreviatedOid"]),
    ("Comparison", &["aheadBy", "behindBy", "status", "commits"]),
    ("ComparisonCommitConnection", &["nodes", "totalCount"]),
    (
        "Commit",
        &[
            "oid",
            "abbreviatedOid",
            "messageHeadline",
            "message",
            "committedDate",
            "author",
            "statusCheckRollup",
        ],
    ),
    ("GitActor", &["name", "email", "date"]),
    // A commit's CI signals (`Commit.statusCheckRollup`).
    ("StatusCheckRollup", &["state", "contexts"]),
    (
        "StatusCheckRollupContextConnection",
        &["nodes", "totalCount", "pageInfo"],
    ),
    ("PageInfo", &["hasNextPage", "endCursor"]),
    (
        "CheckRun",
        &["name", "status", "conclusion", "detailsUrl", "url"],
    ),
    (
        "StatusContext",
        &["context", "state", "targetUrl", "description"],
    ),
    ("Mutation", &["updateRefs"]),
    ("UpdateRefsPayload", &["clientMutationId"]),
];

fn gql_error(message: &str, path: &[String], line: usize, column: usize, code: &Value) -> Value {
    json!({
        "path": path,
        "extensions": code,
        "locations": [{"line": line, "column": column}],
        "message": message,
    })
}

/// Field `field` of `ty` in GitHub's schema, when the fake serves it; else the error,
/// GitHub's when GitHub lacks it, the fake's own when GitHub has it.
fn field_def(
    ty: &str,
    field: &Field<'_, String>,
    path: &[String],
    errors: &mut Vec<Value>,
) -> Option<&'static graphql_schema::FieldDef> {
    let name = field.name.as_str();
    let (line, column) = (field.position.line, field.position.column);
    let schema = graphql_schema::schema();
    if schema.ty(ty).is_none() {
        // A type of GitHub's that recipe.sh does not extract (`... on Blob`).
        errors.push(gql_error(
            &format!("FakeGitHub does not serve type {ty} (not in its extract of GitHub's schema)"),
            path,
            line,
            column,
            &json!({"code": "notServedByFakeGitHub", "typeName": ty, "fieldName": name}),
        ));
        return None;
    }
    let Some(def) = schema.field(ty, name) else {
        errors.push(gql_error(
            &format!("Field '{name}' doesn't exist on type '{ty}'"),
            path,
            line,
            column,
            &json!({"code": "undefinedField", "typeName": ty, "fieldName": name}),
        ));
        return None;
    };
    // GitHub has the field; the fake says so when it does not resolve it, rather than
    // answering a null GitHub would not.
    if !graphql_schema::is_served(ty, name) {
        errors.push(gql_error(
            &format!("FakeGitHub does not serve {ty}.{name} (GitHub's schema has it)"),
            path,
            line,
            column,
            &json!({"code": "notServedByFakeGitHub", "typeName": ty, "fieldName": name}),
        ));
        return None;
    }
    Some(def)
}

/// The arguments of `field` against its definition: each one it has, every required one.
fn check_field_arguments(
    field: &Field<'_, String>,
    def: &graphql_schema::FieldDef,
    path: &[String],
    errors: &mut Vec<Value>,
) {
    let name = field.name.as_str();
    let (line, column) = (field.position.line, field.position.column);
    for (arg, _) in &field.arguments {
        if def.arg(arg).is_none() {
            errors.push(gql_error(
                &format!("Field '{name}' doesn't accept argument '{arg}'"),
                path,
                line,
                column,
                &json!({"code": "argumentNotAccepted", "name": name, "typeName": "Field", "argumentName": arg}),
            ));
        }
    }
    let missing: Vec<&str> = def
        .args
        .iter()
        .filter(|a| a.required() && !field.arguments.iter().any(|(g, _)| *g == a.name))
        .map(|a| a.name.as_str())
        .collect();
    if !missing.is_empty() {
        errors.push(gql_error(
            &format!("Field '{name}' is missing required arguments: {}", missing.join(", ")),
            path,
            line,
            column,
            &json!({"code": "missingRequiredArguments", "className": "Field", "name": name, "arguments": missing.join(", ")}),
        ));
    }
}

/// Checks `set` against the schema, as GitHub does before running a query.
fn validate(set: &Set<'_>, ty: &str, path: &mut Vec<String>, errors: &mut Vec<Value>) {
    for item in &set.items {
        let field = match item {
            Selection::Field(field) => field,
            Selection::InlineFragment(fragment) => {
                // `... on Commit { … }`: the type must be one the parent may resolve to.
                let on = match &fragment.type_condition {
                    Some(TypeCondition::On(on)) => on.as_str(),
                    None => ty,
                };
                let schema = graphql_schema::schema();
                if !schema.fits(on, ty) && !schema.fits(ty, on) {
                    errors.push(gql_error(
                        &format!("Fragment on {on} can't be spread inside {ty}"),
                        path,
                        fragment.position.line,
                        fragment.position.column,
                        &json!({"code": "fragmentSpreadImpossible", "fragmentName": format!("... on {on}"), "typeName": on, "parentName": ty}),
                    ));
                } else {
                    validate(&fragment.selection_set, on, path, errors);
                }
                continue;
            }
            Selection::FragmentSpread(spread) => {
                errors.push(gql_error(
                    "the fake GitHub does not implement named fragments",
                    path,
                    spread.position.line,
                    spread.position.column,
                    &json!({"code": "notImplemented"}),
                ));
                continue;
            }
        };
        let name = field.name.as_str();
        let (line, column) = (field.position.line, field.position.column);
        path.push(name.to_owned());
        if name == "__typename" {
            path.pop();
            continue;
        }
        let schema = graphql_schema::schema();
        let Some(def) = field_def(ty, field, path, errors) else {
            path.pop();
            continue;
        };
        check_field_arguments(field, def, path, errors);
        // GitHub names the type without its list and non-null wrappers here.
        let returns = graphql_schema::named(&def.ty);
        let leaf = schema.is_leaf(returns);
        let has_selections = !field.selection_set.items.is_empty();
        if leaf && has_selections {
            let kind = if schema.ty(returns).is_some_and(|t| t.kind == Kind::Enum) {
                "enums"
            } else {
                "scalars"
            };
            errors.push(gql_error(
                &format!("Selections can't be made on {kind} (field '{name}' returns {returns} but has selections [{}])",
                    field.selection_set.items.iter().filter_map(|s| match s { Selection::Field(f) => Some(f.name.clone()), _ => None }).collect::<Vec<_>>().join(", ")),
                path,
                line,
                column,
                &json!({"code": "selectionMismatch", "nodeName": format!("field '{name}'"), "typeName": returns}),
            ));
        } else if !leaf && !has_selections {
            errors.push(gql_error(
                &format!("Field must have selections (field '{name}' returns {returns} but has no selections. Did you mean '{name} {{ ... }}'?)"),
                path,
                line,
                column,
                &json!({"code": "selectionMismatch", "nodeName": format!("field '{name}'"), "typeName": returns}),
            ));
        } else if has_selections {
            validate(&field.selection_set, returns, path, errors);
        }
        path.pop();
    }
}

/// What a field resolves on.
#[derive(Clone)]
enum On<'w> {
    Root,
    Repo(&'w Repo),
    /// The repo, the branch's short name, its tip.
    Ref(&'w Repo, String, Oid),
    Commit(&'w Repo, Oid),
    /// The repo, base, head.
    Comparison(&'w Repo, Oid, Oid),
    /// The repo, base, head, how many commits, and whether from the newest (`last:`).
    Connection(&'w Repo, Oid, Oid, usize, bool),
    /// `Ref.refUpdateRule`: the rule as GitHub shows it to any reader.
    Rule(Value),
    /// `Commit.statusCheckRollup` of a commit that has statuses or check runs.
    Rollup(&'w Repo, Oid),
    /// The rollup's contexts: the repo, the commit, the first one shown, how many.
    Contexts(&'w Repo, Oid, usize, usize),
    /// One context of a rollup: a commit status or a check run.
    Status(&'w Status),
    CheckRun(&'w Repo, &'w CheckRun),
    /// `PageInfo`: whether more follow, the cursor of the last one shown.
    Page(bool, Option<String>),
}

struct Run<'v> {
    vars: &'v Value,
    errors: Vec<Value>,
}

impl Run<'_> {
    fn arg(&self, field: &Field<'_, String>, name: &str) -> Value {
        match field
            .arguments
            .iter()
            .find(|(a, _)| a == name)
            .map(|(_, v)| v)
        {
            Some(GqlValue::Variable(v)) => self.vars[v.as_str()].clone(),
            Some(GqlValue::String(s)) => Value::String(s.clone()),
            Some(GqlValue::Int(n)) => n.as_i64().map_or(Value::Null, Value::from),
            Some(GqlValue::Boolean(b)) => Value::Bool(*b),
            _ => Value::Null,
        }
    }

    fn object(
        &mut self,
        world: &World,
        set: &Set<'_>,
        on: &On<'_>,
        path: &mut Vec<String>,
    ) -> Value {
        let mut out = Map::new();
        self.fill(world, set, on, path, &mut out);
        Value::Object(out)
    }

    /// The fields of `set` into `out`, inline fragments included when `on` is of their type.
    fn fill(
        &mut self,
        world: &World,
        set: &Set<'_>,
        on: &On<'_>,
        path: &mut Vec<String>,
        out: &mut Map<String, Value>,
    ) {
        for item in &set.items {
            match item {
                Selection::Field(field) => {
                    let key = field.alias.clone().unwrap_or_else(|| field.name.clone());
                    path.push(key.clone());
                    let value = self.field(world, field, on, path);
                    path.pop();
                    out.insert(key, value);
                }
                Selection::InlineFragment(fragment) => {
                    let applies = match &fragment.type_condition {
                        Some(TypeCondition::On(ty)) => ty == typename(on),
                        None => true,
                    };
                    if applies {
                        self.fill(world, &fragment.selection_set, on, path, out);
                    }
                }
                // Refused by `validate`.
                Selection::FragmentSpread(_) => {}
            }
        }
    }

    /// How many nodes a connection field asks for with `first:` or `last:` (and whether with
    /// `last:`): GitHub requires one of them, at most 100, and refuses the field otherwise.
    fn page_size(&mut self, field: &Field<'_, String>, path: &[String]) -> Option<(usize, bool)> {
        let first = self.arg(field, "first");
        let last = self.arg(field, "last");
        let at = json!([{"line": field.position.line, "column": field.position.column}]);
        let Some(count) = first.as_i64().or(last.as_i64()) else {
            self.errors.push(json!({
                "path": path, "locations": at,
                "message": format!("You must provide a `first` or `last` value to properly paginate the `{}` connection.", field.name),
            }));
            return None;
        };
        if !(0..=100).contains(&count) {
            self.errors.push(json!({
                "path": path, "locations": at,
                "message": format!("Requesting {count} records on the `{}` connection exceeds the `{}` limit of 100 records.", field.name, if first.is_null() { "last" } else { "first" }),
            }));
            return None;
        }
        Some((usize::try_from(count).unwrap_or_default(), first.is_null()))
    }

    /// `Comparison.commits(first:|last:)`.
    fn connection(
        &mut self,
        world: &World,
        field: &Field<'_, String>,
        repo: &Repo,
        base: Oid,
        head: Oid,
        path: &mut Vec<String>,
    ) -> Value {
        let Some((count, from_end)) = self.page_size(field, path) else {
            return Value::Null;
        };
        let on = On::Connection(repo, base, head, count, from_end);
        self.object(world, &field.selection_set, &on, path)
    }

    /// `StatusCheckRollup.contexts(first:, after:)`: forward pages only, which is how
    /// upkeep reads them.
    fn contexts(
        &mut self,
        world: &World,
        field: &Field<'_, String>,
        repo: &Repo,
        oid: Oid,
        path: &mut Vec<String>,
    ) -> Value {
        let Some((count, from_end)) = self.page_size(field, path) else {
            return Value::Null;
        };
        if from_end || !self.arg(field, "before").is_null() {
            self.errors.push(json!({
                "path": path,
                "message": "the fake GitHub pages rollup contexts forwards only (`first:`/`after:`)",
            }));
            return Value::Null;
        }
        let after = self.arg(field, "after");
        let start = match after.as_str().map(cursor_position) {
            None => 0,
            Some(Some(at)) => at + 1,
            Some(None) => {
                self.errors.push(json!({
                    "path": path,
                    "locations": [{"line": field.position.line, "column": field.position.column}],
                    "message": format!("`{}` does not appear to be a valid cursor.", after.as_str().unwrap_or_default()),
                }));
                return Value::Null;
            }
        };
        let on = On::Contexts(repo, oid, start, count);
        self.object(world, &field.selection_set, &on, path)
    }

    fn field(
        &mut self,
        world: &World,
        field: &Field<'_, String>,
        on: &On<'_>,
        path: &mut Vec<String>,
    ) -> Value {
        let set = &field.selection_set;
        match (on.clone(), field.name.as_str()) {
            (on, "__typename") => json!(typename(&on)),
            (On::Root, "repository") => {
                let owner = self.arg(field, "owner");
                let name = self.arg(field, "name");
                let full = format!(
                    "{}/{}",
                    owner.as_str().unwrap_or_default(),
                    name.as_str().unwrap_or_default()
                );
                if let Some(repo) = world
                    .repos
                    .values()
                    .find(|r| r.full_name().eq_ignore_ascii_case(&full))
                {
                    self.object(world, set, &On::Repo(repo), path)
                } else {
                    self.errors.push(json!({
                        "type": "NOT_FOUND",
                        "path": path,
                        "locations": [{"line": field.position.line, "column": field.position.column}],
                        "message": format!("Could not resolve to a Repository with the name '{full}'."),
                    }));
                    Value::Null
                }
            }
            (On::Repo(repo), "id") => json!(node_id("R_", repo.id)),
            (On::Repo(repo), "name") => json!(repo.name),
            (On::Repo(repo), "nameWithOwner") => json!(repo.full_name()),
            (On::Repo(repo), "ref") => {
                let wanted = self.arg(field, "qualifiedName");
                let wanted = wanted.as_str().unwrap_or_default();
                let short = wanted.strip_prefix("refs/heads/").unwrap_or(wanted);
                let name: &str =
                    if wanted.starts_with("refs/") && !wanted.starts_with("refs/heads/") {
                        return Value::Null;
                    } else {
                        short
                    };
                match repo.bare.tip(name) {
                    Some(oid) => {
                        self.object(world, set, &On::Ref(repo, name.to_owned(), oid), path)
                    }
                    None => Value::Null,
                }
            }
            (On::Ref(_, name, _), "name") => json!(name),
            (On::Ref(..), "prefix") => json!("refs/heads/"),
            (On::Ref(repo, name, _), "id") => json!(format!("REF_{}_{name}", repo.id)),
            (On::Ref(repo, _, oid), "target") => {
                self.object(world, set, &On::Commit(repo, oid), path)
            }
            (On::Ref(repo, _, base), "compare") => {
                let head = self.arg(field, "headRef");
                let head = head.as_str().unwrap_or_default();
                match repo
                    .bare
                    .tip(head.strip_prefix("refs/heads/").unwrap_or(head))
                {
                    Some(head) => self.object(world, set, &On::Comparison(repo, base, head), path),
                    None => Value::Null,
                }
            }
            (On::Comparison(repo, base, head), "aheadBy")
            | (On::Connection(repo, base, head, ..), "totalCount") => {
                json!(only_in(&repo.git(), head, base).len())
            }
            (On::Comparison(repo, base, head), "behindBy") => {
                json!(only_in(&repo.git(), base, head).len())
            }
            (On::Comparison(repo, base, head), "status") => {
                json!(status(repo, base, head))
            }
            (On::Comparison(repo, base, head), "commits") => {
                self.connection(world, field, repo, base, head, path)
            }
            (On::Connection(repo, base, head, count, from_end), "nodes") => {
                // Oldest first, as GitHub lists a comparison: `first: n` keeps the oldest n,
                // `last: n` the newest n.
                let all = only_in(&repo.git(), head, base);
                let skip = if from_end {
                    all.len().saturating_sub(count)
                } else {
                    0
                };
                Value::Array(
                    all.into_iter()
                        .skip(skip)
                        .take(count)
                        .map(|oid| self.object(world, set, &On::Commit(repo, oid), path))
                        .collect(),
                )
            }
            (On::Commit(..), "statusCheckRollup") => self.promotion_field(world, field, on, path),
            (On::Commit(_, oid), "oid") => json!(oid.to_string()),
            (On::Commit(_, oid), "abbreviatedOid") => json!(oid.to_string()[..7]),
            (On::Commit(repo, oid), name) => commit_field(repo, oid, name, set)
                .unwrap_or_else(|| self.not_resolved(on, field, path)),
            _ => self.promotion_field(world, field, on, path),
        }
    }
}

impl Run<'_> {
    /// What a promotion reads besides tips and comparisons: the token's role, a branch's
    /// rule, a commit and its CI signals.
    fn promotion_field(
        &mut self,
        world: &World,
        field: &Field<'_, String>,
        on: &On<'_>,
        path: &mut Vec<String>,
    ) -> Value {
        let set = &field.selection_set;
        match (on.clone(), field.name.as_str()) {
            (On::Repo(repo), "viewerPermission") => json!(match repo.role {
                Role::Read => "READ",
                Role::Triage => "TRIAGE",
                Role::Write => "WRITE",
                Role::Maintain => "MAINTAIN",
                Role::Admin => "ADMIN",
            }),
            (On::Repo(repo), "object") => {
                let oid = self.arg(field, "oid");
                let expression = self.arg(field, "expression");
                let wanted = oid.as_str().or(expression.as_str()).unwrap_or_default();
                match repo.bare.resolve(wanted) {
                    Some(oid) if repo.git().find_commit(oid).is_ok() => {
                        self.object(world, set, &On::Commit(repo, oid), path)
                    }
                    Some(_) => {
                        self.errors.push(json!({
                            "path": path,
                            "message": "the fake GitHub serves only commits from `Repository.object`",
                        }));
                        Value::Null
                    }
                    None => Value::Null,
                }
            }
            (On::Ref(repo, name, _), "refUpdateRule") => {
                match protection::ref_update_rule(world, repo, &name) {
                    Some(rule) => self.object(world, set, &On::Rule(rule), path),
                    None => Value::Null,
                }
            }
            (On::Rule(rule), name) => match rule.get(name) {
                Some(value) => value.clone(),
                None => self.not_resolved(on, field, path),
            },
            (On::Commit(repo, oid), "statusCheckRollup") => {
                if rollup(repo, oid).is_empty() {
                    Value::Null
                } else {
                    self.object(world, set, &On::Rollup(repo, oid), path)
                }
            }
            (On::Rollup(repo, oid), "state") => json!(rollup_state(&rollup(repo, oid))),
            (On::Rollup(repo, oid), "contexts") => self.contexts(world, field, repo, oid, path),
            (On::Contexts(repo, oid, start, count), "nodes") => Value::Array(
                rollup(repo, oid)
                    .into_iter()
                    .skip(start)
                    .take(count)
                    .map(|context| self.object(world, set, &context, path))
                    .collect(),
            ),
            (On::Contexts(repo, oid, ..), "totalCount") => json!(rollup(repo, oid).len()),
            (On::Contexts(repo, oid, start, count), "pageInfo") => {
                let total = rollup(repo, oid).len();
                let shown = total.saturating_sub(start).min(count);
                let end = (shown > 0).then(|| cursor(start + shown - 1));
                self.object(world, set, &On::Page(start + shown < total, end), path)
            }
            (On::Page(more, _), "hasNextPage") => json!(more),
            (On::Page(_, end), "endCursor") => json!(end),
            (On::Status(status), name) => match name {
                "context" => json!(status.context),
                "state" => json!(status.state.to_ascii_uppercase()),
                "targetUrl" => json!(status.target_url),
                "description" => json!(status.description),
                _ => self.not_resolved(on, field, path),
            },
            (On::CheckRun(repo, run), name) => match name {
                "name" => json!(run.name),
                "status" => json!(run.status.to_ascii_uppercase()),
                "conclusion" => json!(run.conclusion.as_ref().map(|c| c.to_ascii_uppercase())),
                "detailsUrl" => json!(run.details_url),
                "url" => json!(format!(
                    "{}/{}/runs/{}",
                    web_root(&world.base),
                    repo.full_name(),
                    run.id
                )),
                _ => self.not_resolved(on, field, path),
            },
            (on, _) => self.not_resolved(&on, field, path),
        }
    }

    /// A field [`SERVED`] lists without a resolver: an error of the fake, not a `null`.
    fn not_resolved(&mut self, on: &On<'_>, field: &Field<'_, String>, path: &[String]) -> Value {
        self.errors.push(json!({
            "path": path,
            "locations": [{"line": field.position.line, "column": field.position.column}],
            "message": format!("FakeGitHub does not resolve {}.{}", typename(on), field.name),
        }));
        Value::Null
    }
}

/// The `__typename` of what a field resolves on.
fn typename(on: &On<'_>) -> &'static str {
    match on {
        On::Root => "Query",
        On::Repo(_) => "Repository",
        On::Ref(..) => "Ref",
        On::Commit(..) => "Commit",
        On::Comparison(..) => "Comparison",
        On::Connection(..) => "ComparisonCommitConnection",
        On::Rule(_) => "RefUpdateRule",
        On::Rollup(..) => "StatusCheckRollup",
        On::Contexts(..) => "StatusCheckRollupContextConnection",
        On::Status(_) => "StatusContext",
        On::CheckRun(..) => "CheckRun",
        On::Page(..) => "PageInfo",
    }
}

/// The contexts of `oid`'s rollup: the latest status of each context, then the latest
/// check run of each name.
fn rollup(repo: &Repo, oid: Oid) -> Vec<On<'_>> {
    let sha = oid.to_string();
    checks::latest_statuses(repo, &sha)
        .into_iter()
        .map(On::Status)
        .chain(
            checks::latest_check_runs(repo, &sha)
                .into_iter()
                .map(|run| On::CheckRun(repo, run)),
        )
        .collect()
}

/// `StatusCheckRollup.state`: failing if any context fails, pending if any is not done,
/// else success.
fn rollup_state(contexts: &[On<'_>]) -> &'static str {
    let states: Vec<&str> = contexts
        .iter()
        .map(|c| match c {
            On::Status(s) => match s.state.as_str() {
                "success" => "SUCCESS",
                "pending" => "PENDING",
                _ => "FAILURE",
            },
            On::CheckRun(_, r) => match r.conclusion.as_deref() {
                None => "PENDING",
                Some("success" | "neutral" | "skipped") => "SUCCESS",
                Some(_) => "FAILURE",
            },
            _ => "SUCCESS",
        })
        .collect();
    if states.contains(&"FAILURE") {
        "FAILURE"
    } else if states.contains(&"PENDING") {
        "PENDING"
    } else {
        "SUCCESS"
    }
}

/// An opaque connection cursor for position `at`, as GitHub's are opaque to clients.
fn cursor(at: usize) -> String {
    format!("Y3Vyc29yOnYy:{at}")
}

fn cursor_position(cursor: &str) -> Option<usize> {
    cursor.strip_prefix("Y3Vyc29yOnYy:")?.parse().ok()
}

/// `Comparison.status`: `ComparisonStatus` of `head` against `base`.
fn status(repo: &Repo, base: Oid, head: Oid) -> &'static str {
    if base == head {
        "IDENTICAL"
    } else if repo.bare.is_ancestor(base, head) {
        "AHEAD"
    } else if repo.bare.is_ancestor(head, base) {
        "BEHIND"
    } else {
        "DIVERGED"
    }
}

/// A field of a `Commit` other than its oid; `None` for one it does not resolve.
fn commit_field(repo: &Repo, oid: Oid, name: &str, set: &Set<'_>) -> Option<Value> {
    let g = repo.git();
    let Ok(commit) = g.find_commit(oid) else {
        return Some(Value::Null);
    };
    let author = commit.author();
    let date = chrono::DateTime::from_timestamp(author.when().seconds(), 0)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    Some(match name {
        "messageHeadline" => json!(commit.summary().unwrap_or_default()),
        "message" => json!(commit.message().unwrap_or_default()),
        "committedDate" => json!(
            chrono::DateTime::from_timestamp(commit.time().seconds(), 0)
                .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        ),
        "author" => {
            let mut out = Map::new();
            for item in &set.items {
                let Selection::Field(f) = item else { continue };
                let key = f.alias.clone().unwrap_or_else(|| f.name.clone());
                let v = match f.name.as_str() {
                    "name" => json!(String::from_utf8_lossy(author.name_bytes())),
                    "email" => json!(String::from_utf8_lossy(author.email_bytes())),
                    "date" => json!(date),
                    "__typename" => json!("GitActor"),
                    // A `GitActor` field served without a resolver here.
                    _ => return None,
                };
                out.insert(key, v);
            }
            Value::Object(out)
        }
        _ => return None,
    })
}

/// Answers a GraphQL query document, or refuses it as GitHub does.
pub(super) fn answer(world: &World, body: &Value) -> axum::response::Response {
    let query = body["query"].as_str().unwrap_or_default();
    let doc: Doc<'_> = match graphql_parser::parse_query::<String>(query) {
        Ok(doc) => doc,
        Err(e) => {
            return ok(&json!({"errors": [{"message": format!("Parse error on {e}")}]}));
        }
    };
    let mut operations = doc.definitions.iter().filter_map(|d| match d {
        Definition::Operation(op) => Some(op),
        Definition::Fragment(_) => None,
    });
    let (set, variables, label) = match (operations.next(), operations.next()) {
        (Some(OperationDefinition::Query(q)), None) => (
            &q.selection_set,
            q.variable_definitions.as_slice(),
            q.name
                .clone()
                .unwrap_or_else(|| "anonymous query".to_owned()),
        ),
        (Some(OperationDefinition::SelectionSet(s)), None) => {
            (s, &[][..], "anonymous query".to_owned())
        }
        (Some(_), None) => {
            return ok(
                &json!({"errors": [{"message": "the fake GitHub answers queries and the updateRefs mutation only"}]}),
            );
        }
        _ => {
            return ok(&json!({"errors": [{"message": "An operation name is required"}]}));
        }
    };
    let mut errors = Vec::new();
    validate(set, "Query", &mut vec!["query".to_owned()], &mut errors);
    check_arguments(set, "Query", variables, &label, &mut errors);
    check_variables(variables, &body["variables"], &mut errors);
    if !errors.is_empty() {
        return ok(&json!({"errors": errors}));
    }
    // A variable left out takes its declared default.
    let mut vars = body["variables"].clone();
    for definition in variables {
        if let Some(default) = &definition.default_value
            && vars
                .get(definition.name.as_str())
                .is_none_or(Value::is_null)
        {
            if !vars.is_object() {
                vars = json!({});
            }
            vars[definition.name.as_str()] = literal(default, &mut Vec::new());
        }
    }
    let mut run = Run {
        vars: &vars,
        errors: Vec::new(),
    };
    let data = run.object(world, set, &On::Root, &mut Vec::new());
    if run.errors.is_empty() {
        ok(&json!({"data": data}))
    } else {
        ok(&json!({"data": data, "errors": run.errors}))
    }
}

/// Checks a mutation document against the schema (its fields, then its variables' values
/// against their declared types), as GitHub does before running it: `Err` is GitHub's
/// answer refusing it.
pub(super) fn check_mutation(body: &Value) -> Result<(), axum::response::Response> {
    let query = body["query"].as_str().unwrap_or_default();
    let doc: Doc<'_> = graphql_parser::parse_query::<String>(query)
        .map_err(|e| ok(&json!({"errors": [{"message": format!("Parse error on {e}")}]})))?;
    let mut operations = doc.definitions.iter().filter_map(|d| match d {
        Definition::Operation(op) => Some(op),
        Definition::Fragment(_) => None,
    });
    let mutation = match (operations.next(), operations.next()) {
        (Some(OperationDefinition::Mutation(m)), None) => m,
        (Some(_), None) => {
            return Err(ok(
                &json!({"errors": [{"message": "the fake GitHub checks a mutation here, and this is not one"}]}),
            ));
        }
        _ => {
            return Err(ok(
                &json!({"errors": [{"message": "An operation name is required"}]}),
            ));
        }
    };
    let mut errors = Vec::new();
    validate(
        &mutation.selection_set,
        "Mutation",
        &mut vec!["mutation".to_owned()],
        &mut errors,
    );
    let label = mutation
        .name
        .clone()
        .unwrap_or_else(|| "anonymous mutation".to_owned());
    check_arguments(
        &mutation.selection_set,
        "Mutation",
        &mutation.variable_definitions,
        &label,
        &mut errors,
    );
    check_variables(
        &mutation.variable_definitions,
        &body["variables"],
        &mut errors,
    );
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ok(&json!({"errors": errors})))
    }
}

/// The `data` of a mutation that ran: each root field answered with what its selection
/// asks of `payload` (a `payload_type`, its served fields' values by name), as GitHub
/// answers only what was selected. The document passed [`check_mutation`].
pub(super) fn mutation_data(body: &Value, payload_type: &str, payload: &Value) -> Value {
    let query = body["query"].as_str().unwrap_or_default();
    let Ok(doc) = graphql_parser::parse_query::<String>(query) else {
        return Value::Null;
    };
    let mut data = Map::new();
    for definition in &doc.definitions {
        let Definition::Operation(OperationDefinition::Mutation(mutation)) = definition else {
            continue;
        };
        for item in &mutation.selection_set.items {
            let Selection::Field(field) = item else {
                continue;
            };
            let key = field.alias.clone().unwrap_or_else(|| field.name.clone());
            if field.name == "__typename" {
                data.insert(key, json!("Mutation"));
                continue;
            }
            let mut out = Map::new();
            for item in &field.selection_set.items {
                let Selection::Field(f) = item else { continue };
                let key = f.alias.clone().unwrap_or_else(|| f.name.clone());
                let value = if f.name == "__typename" {
                    json!(payload_type)
                } else {
                    payload[f.name.as_str()].clone()
                };
                out.insert(key, value);
            }
            data.insert(key, Value::Object(out));
        }
    }
    Value::Object(data)
}

/// Checks the arguments of the fields of `set` (on `ty`) as GitHub does before running a
/// document: a literal must be of the argument's type, a variable must be declared with
/// a type the argument accepts, and every declared variable must be used. Fields the
/// schema lacks are left to [`validate`].
fn check_arguments(
    set: &Set<'_>,
    ty: &str,
    definitions: &[VariableDefinition<'_, String>],
    label: &str,
    errors: &mut Vec<Value>,
) {
    let mut used = Vec::new();
    walk_arguments(set, ty, definitions, label, &mut used, errors);
    for definition in definitions {
        if !used.contains(&definition.name) {
            errors.push(json!({
                "extensions": {"code": "variableNotUsed", "variableName": definition.name},
                "locations": [{"line": definition.position.line, "column": definition.position.column}],
                "message": format!("Variable ${} is declared by {label} but not used", definition.name),
            }));
        }
    }
}

fn walk_arguments(
    set: &Set<'_>,
    ty: &str,
    definitions: &[VariableDefinition<'_, String>],
    label: &str,
    used: &mut Vec<String>,
    errors: &mut Vec<Value>,
) {
    let schema = graphql_schema::schema();
    for item in &set.items {
        let field = match item {
            Selection::Field(field) => field,
            Selection::InlineFragment(fragment) => {
                let on = match &fragment.type_condition {
                    Some(graphql_parser::query::TypeCondition::On(on)) => on.as_str(),
                    None => ty,
                };
                walk_arguments(
                    &fragment.selection_set,
                    on,
                    definitions,
                    label,
                    used,
                    errors,
                );
                continue;
            }
            Selection::FragmentSpread(_) => continue,
        };
        let Some(def) = schema.field(ty, &field.name) else {
            continue;
        };
        let (line, column) = (field.position.line, field.position.column);
        for (name, value) in &field.arguments {
            let Some(arg) = def.arg(name) else { continue };
            if let GqlValue::Variable(variable) = value {
                used.push(variable.clone());
                let Some(declared) = definitions.iter().find(|d| d.name == *variable) else {
                    errors.push(json!({
                        "extensions": {"code": "variableNotDefined", "variableName": variable},
                        "locations": [{"line": line, "column": column}],
                        "message": format!("Variable ${variable} is used by {label} but not declared"),
                    }));
                    continue;
                };
                let declared_ty = declared.var_type.to_string();
                let accepts = if declared.default_value.is_some() && !declared_ty.ends_with('!') {
                    variable_fits(&format!("{declared_ty}!"), &arg.ty)
                } else {
                    variable_fits(&declared_ty, &arg.ty)
                };
                if let Err(mismatch) = accepts {
                    errors.push(json!({
                        "extensions": {"code": "variableMismatch", "variableName": variable, "typeName": declared_ty, "argumentName": name, "errorMessage": mismatch},
                        "locations": [{"line": line, "column": column}],
                        "message": format!("{mismatch} on variable ${variable} and argument {name} ({declared_ty} / {})", arg.ty),
                    }));
                }
                continue;
            }
            let before = used.len();
            let literal = literal(value, used);
            // With variables inside, the literal's check waits for their values.
            let has_variables = used.len() > before;
            if !has_variables && !schema.input_problems(&literal, &arg.ty).is_empty() {
                errors.push(json!({
                    "extensions": {"code": "argumentLiteralsIncompatible", "typeName": "Field", "argumentName": name},
                    "locations": [{"line": line, "column": column}],
                    "message": format!("Argument '{name}' on Field '{}' has an invalid value ({value}). Expected type '{}'.", field.name, arg.ty),
                }));
            }
        }
        let returns = def.ty.trim_start_matches('[').trim_end_matches(['!', ']']);
        walk_arguments(
            &field.selection_set,
            returns,
            definitions,
            label,
            used,
            errors,
        );
    }
}

/// Whether a variable declared `var` may be passed where `arg` is expected (GraphQL's
/// "All Variable Usages Are Allowed"), or GitHub's name for the mismatch.
fn variable_fits(var: &str, arg: &str) -> Result<(), &'static str> {
    match (var.strip_suffix('!'), arg.strip_suffix('!')) {
        (Some(var), Some(arg)) => variable_fits(var, arg),
        (None, Some(_)) => Err("Nullability mismatch"),
        (Some(var), None) => variable_fits(var, arg),
        (None, None) => {
            let list = |t: &str| {
                t.strip_prefix('[')
                    .and_then(|t| t.strip_suffix(']'))
                    .map(str::to_owned)
            };
            match (list(var), list(arg)) {
                (Some(var), Some(arg)) => variable_fits(&var, &arg),
                (None, None) if var == arg => Ok(()),
                (None, None) => Err("Type mismatch"),
                _ => Err("List dimension mismatch"),
            }
        }
    }
}

/// A literal argument as JSON, for the schema's input check (a variable inside it is
/// `null` there, and counts as used).
fn literal(value: &GqlValue<'_, String>, used: &mut Vec<String>) -> Value {
    match value {
        GqlValue::Variable(v) => {
            used.push(v.clone());
            Value::Null
        }
        GqlValue::Int(n) => n.as_i64().map_or(Value::Null, Value::from),
        GqlValue::Float(f) => json!(f),
        GqlValue::String(s) => json!(s),
        GqlValue::Boolean(b) => json!(b),
        GqlValue::Null => Value::Null,
        GqlValue::Enum(e) => json!(e),
        GqlValue::List(items) => Value::Array(items.iter().map(|i| literal(i, used)).collect()),
        GqlValue::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), literal(v, used)))
                .collect(),
        ),
    }
}

/// Checks the request's `variables` against the operation's declarations, as GitHub
/// does: each declared type must be an input type of the schema, and each value (or its
/// absence) must be one of it.
fn check_variables(
    definitions: &[VariableDefinition<'_, String>],
    values: &Value,
    errors: &mut Vec<Value>,
) {
    let schema = graphql_schema::schema();
    for definition in definitions {
        let ty = definition.var_type.to_string();
        let name = &definition.name;
        let (line, column) = (definition.position.line, definition.position.column);
        let named = graphql_schema::named(&ty);
        match schema.ty(named).map(|t| t.kind) {
            Some(Kind::Scalar | Kind::Enum | Kind::InputObject) => {}
            Some(_) => {
                errors.push(json!({
                    "extensions": {"code": "variableRequiresValidType", "typeName": named, "variableName": name},
                    "locations": [{"line": line, "column": column}],
                    "message": format!("{named} isn't a valid input type (on ${name})"),
                }));
                continue;
            }
            None => {
                errors.push(json!({
                    "locations": [{"line": line, "column": column}],
                    "message": format!("FakeGitHub does not know type {named} (on ${name}): it is not in its extract of GitHub's schema"),
                }));
                continue;
            }
        }
        let value = values.get(name.as_str()).unwrap_or(&Value::Null);
        if value.is_null() && definition.default_value.is_some() {
            continue;
        }
        let problems = schema.input_problems(value, &ty);
        if problems.is_empty() {
            continue;
        }
        let fields: Vec<String> = problems
            .iter()
            .filter(|p| !p.path.is_empty())
            .map(|p| {
                let path: Vec<String> = p
                    .path
                    .iter()
                    .map(|s| s.as_str().map_or_else(|| s.to_string(), str::to_owned))
                    .collect();
                format!("{} ({})", path.join("."), p.explanation)
            })
            .collect();
        let mut message = format!("Variable ${name} of type {ty} was provided invalid value");
        if !fields.is_empty() {
            message = format!("{message} for {}", fields.join(", "));
        }
        errors.push(json!({
            "extensions": {
                "value": value,
                "problems": problems.iter().map(|p| json!({"path": p.path, "explanation": p.explanation})).collect::<Vec<_>>(),
            },
            "locations": [{"line": line, "column": column}],
            "message": message,
        }));
    }
}

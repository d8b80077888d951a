//! `POST /graphql` (GitHub Enterprise: `/api/graphql`): the `updateRefs` mutation, and
//! the queries of [`reads`](super::reads).
//!
//! The request's root field picks the operation. A mutation is checked against GitHub's
//! schema ([`graphql_schema`](super::graphql_schema)) before it runs: a field GitHub
//! lacks is answered as GitHub answers it (`undefinedField`, which is also how an
//! instance without `updateRefs` answers), one it has that the fake does not serve with
//! an error of the fake, and the variables' values are checked against their types.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::Response;
use git2::Oid;
use serde_json::json;

use super::http::{Routes, S, ok, parse_body};
use super::json::node_id;
use super::model::{UpdateRefs, World, lock};
use super::protection;

/// `path`: `/graphql` on github.com, `/api/graphql` on GitHub Enterprise Server.
pub(super) fn routes(r: &mut Routes, path: &str) {
    r.add_at(axum::http::Method::POST, path.to_owned(), graphql);
}

pub(super) fn graphql_error(field: &str, kind: &str, message: &str) -> Response {
    ok(&json!({
        "data": {field: null},
        "errors": [{
            "type": kind,
            "path": [field],
            "locations": [{"line": 2, "column": 3}],
            "message": message,
        }]
    }))
}

/// GraphQL's answer for a field the schema does not have (HTTP 200, no `data`).
fn undefined_field(kind: &str, field: &str) -> Response {
    ok(&json!({
        "errors": [{
            "path": [kind, field],
            "extensions": {"code": "undefinedField", "typeName": if kind == "mutation" { "Mutation" } else { "Query" }, "fieldName": field},
            "locations": [{"line": 2, "column": 3}],
            "message": format!("Field '{field}' doesn't exist on type '{}'", if kind == "mutation" { "Mutation" } else { "Query" }),
        }]
    }))
}

pub(super) async fn graphql(State(world): S, headers: HeaderMap, body: Bytes) -> Response {
    let body = match parse_body(&body) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let query = body["query"].as_str().unwrap_or_default();
    let world = lock(&world);
    if query.contains("updateRefs") {
        let preview = headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.contains("application/vnd.github.update-refs-preview"));
        let available = match world.update_refs {
            UpdateRefs::Available => true,
            UpdateRefs::PreviewOnly => preview,
            UpdateRefs::Absent => false,
        };
        if !available {
            return undefined_field("mutation", "updateRefs");
        }
        // Checked against GitHub's schema first: the selection on the payload, and the
        // input's fields and their types, as GitHub refuses a mutation before running it.
        return match super::reads::check_mutation(&body) {
            Ok(()) => update_refs(&world, &body),
            Err(refused) => refused,
        };
    }
    if query.trim_start().starts_with("mutation") {
        // GitHub's schema decides: a mutation it lacks is `undefinedField`, one it has
        // that the fake does not serve is an error of the fake.
        if let Err(refused) = super::reads::check_mutation(&body) {
            return refused;
        }
        // The first field inside the mutation's selection set.
        let field = query
            .split_once('{')
            .and_then(|(_, rest)| {
                rest.trim_start()
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .next()
            })
            .filter(|f| !f.is_empty())
            .unwrap_or("mutation");
        return undefined_field("mutation", field);
    }
    super::reads::answer(&world, &body)
}

/// `updateRefs`: applies every ref update of one repository atomically, each guarded by
/// its `beforeOid`.
fn update_refs(world: &World, body: &serde_json::Value) -> Response {
    let input = &body["variables"]["input"];
    let Some(repo) = input["repositoryId"]
        .as_str()
        .and_then(|id| world.repos.values().find(|r| node_id("R_", r.id) == id))
    else {
        return graphql_error(
            "updateRefs",
            "NOT_FOUND",
            &format!(
                "Could not resolve to a node with the global id of '{}'",
                input["repositoryId"]
            ),
        );
    };
    let git = repo.git();
    let zero = Oid::ZERO_SHA1;
    let mut planned = Vec::new();
    for update in input["refUpdates"].as_array().into_iter().flatten() {
        let Some(name) = update["name"].as_str().filter(|n| n.starts_with("refs/")) else {
            return graphql_error(
                "updateRefs",
                "UNPROCESSABLE",
                "A ref name must be fully qualified",
            );
        };
        let Some(after) = update["afterOid"]
            .as_str()
            .and_then(|s| Oid::from_str(s).ok())
        else {
            return graphql_error(
                "updateRefs",
                "UNPROCESSABLE",
                "afterOid is not a valid object id",
            );
        };
        let current = git.find_reference(name).ok().and_then(|r| r.target());
        if let Some(before) = update["beforeOid"].as_str() {
            let before = Oid::from_str(before).unwrap_or(zero);
            if current.unwrap_or(zero) != before {
                return graphql_error(
                    "updateRefs",
                    "STALE_DATA",
                    &format!(
                        "Expected {name} to point to \"{before}\" but it did not. Pull and try again."
                    ),
                );
            }
        }
        if after != zero && git.find_commit(after).is_err() {
            return graphql_error(
                "updateRefs",
                "NOT_FOUND",
                &format!("Could not resolve to a Commit with the oid of '{after}'"),
            );
        }
        let force = update["force"].as_bool().unwrap_or(false);
        if let Some(current) = current
            && !force
            && after != zero
            && !repo.bare.is_ancestor(current, after)
        {
            return graphql_error(
                "updateRefs",
                "UNPROCESSABLE",
                &format!("Update of {name} is not a fast forward"),
            );
        }
        let refused =
            protection::refusals(world, repo, name, current, (after != zero).then_some(after));
        if !refused.is_empty() {
            return graphql_error(
                "updateRefs",
                "UNPROCESSABLE",
                &format!(
                    "Protected branch update failed for {name}.\n\n{}",
                    protection::message(&refused)
                ),
            );
        }
        planned.push((name.to_owned(), after));
    }
    for (name, after) in planned {
        if after == zero {
            if let Ok(mut reference) = git.find_reference(&name) {
                reference.delete().expect("delete ref");
            }
        } else {
            git.reference(&name, after, true, "updateRefs")
                .expect("update ref");
        }
    }
    let payload = json!({"clientMutationId": input["clientMutationId"]});
    ok(&json!({"data": super::reads::mutation_data(body, "UpdateRefsPayload", &payload)}))
}

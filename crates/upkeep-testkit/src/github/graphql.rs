//! `POST /graphql` (GitHub Enterprise: `/api/graphql`): the `updateRefs` mutation.

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use git2::Oid;
use serde_json::json;

use super::http::{Routes, S, ok, parse_body};
use super::json::node_id;
use super::model::lock;

/// `path`: `/graphql` on github.com, `/api/graphql` on GitHub Enterprise Server.
pub(super) fn routes(r: &mut Routes, path: &str) {
    r.post(path, graphql);
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

/// `POST /graphql`, for the one mutation upkeep uses: `updateRefs`, which applies every
/// ref update of one repository atomically, each guarded by its `beforeOid`.
pub(super) async fn graphql(State(world): S, body: Bytes) -> Response {
    let body = match parse_body(&body) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let query = body["query"].as_str().unwrap_or_default();
    if !query.contains("updateRefs") {
        return ok(
            &json!({"errors": [{"message": "the fake GitHub only answers the updateRefs mutation"}]}),
        );
    }
    let input = &body["variables"]["input"];
    let world = lock(&world);
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
    ok(&json!({"data": {"updateRefs": {"clientMutationId": input["clientMutationId"]}}}))
}

"""Extracts the operations FakeGitHub serves from GitHub's OpenAPI 3.0 description.

Output (JSON, stable order): {"source", "operations": {"METHOD /path/{template}":
{"parameters": [{"name", "in", "required"}], "request": schema|null, "responses":
{status: schema|null}}}, "components": {"schemas": {...}}}. Response and parameter
`$ref`s are inlined; schema `$ref`s stay (`#/components/schemas/x`) and every schema they
reach is kept. One mechanical translation makes the schemas plain JSON Schema (draft 4,
as OpenAPI 3.0's schema object is): `nullable: true` becomes a `null` in `type` (and in
`enum`), or an `anyOf` with `{"type": "null"}` when there is no `type`.
"""

import json
import sys

# Each operation FakeGitHub serves, as GitHub's description names it. Routes the fake
# serves that GitHub does not describe are listed (with reasons) in tests/github_contract.rs.
OPERATIONS = [
    "GET /user",
    "GET /repos/{owner}/{repo}",
    "POST /repos/{owner}/{repo}/git/refs",
    "PATCH /repos/{owner}/{repo}/git/refs/{ref}",
    "DELETE /repos/{owner}/{repo}/git/refs/{ref}",
    "GET /repos/{owner}/{repo}/git/ref/{ref}",
    "GET /repos/{owner}/{repo}/git/matching-refs/{ref}",
    "POST /repos/{owner}/{repo}/git/tags",
    "GET /repos/{owner}/{repo}/tags",
    "GET /repos/{owner}/{repo}/compare/{basehead}",
    "GET /repos/{owner}/{repo}/pulls",
    "POST /repos/{owner}/{repo}/pulls",
    "GET /repos/{owner}/{repo}/pulls/{pull_number}",
    "PATCH /repos/{owner}/{repo}/pulls/{pull_number}",
    "GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews",
    "POST /repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers",
    "GET /repos/{owner}/{repo}/issues",
    "POST /repos/{owner}/{repo}/issues",
    "GET /repos/{owner}/{repo}/issues/{issue_number}",
    "PATCH /repos/{owner}/{repo}/issues/{issue_number}",
    "POST /repos/{owner}/{repo}/issues/{issue_number}/labels",
    "POST /repos/{owner}/{repo}/labels",
    "POST /repos/{owner}/{repo}/statuses/{sha}",
    "GET /repos/{owner}/{repo}/commits/{ref}/statuses",
    "GET /repos/{owner}/{repo}/commits/{ref}/status",
    "GET /repos/{owner}/{repo}/commits/{ref}/check-runs",
    "POST /repos/{owner}/{repo}/check-runs",
    "GET /repos/{owner}/{repo}/branches/{branch}",
    "GET /repos/{owner}/{repo}/branches/{branch}/protection",
    "PUT /repos/{owner}/{repo}/branches/{branch}/protection",
    "DELETE /repos/{owner}/{repo}/branches/{branch}/protection",
    "GET /orgs/{org}/repos",
    "GET /users/{username}/repos",
    "GET /user/repos",
    "GET /repos/{owner}/{repo}/contents/{path}",
]
# Generic answers GitHub gives on any operation but describes only on some (401 Bad
# credentials on /user): kept so the check can validate them everywhere.
GENERIC = ["basic-error", "validation-error"]


def deref(spec, node):
    while isinstance(node, dict) and "$ref" in node:
        path = node["$ref"].removeprefix("#/").split("/")
        node = spec
        for part in path:
            node = node[part]
    return node


def nullable(node):
    if isinstance(node, list):
        return [nullable(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: nullable(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable") is True:
        if "type" in out:
            out["type"] = [out["type"], "null"]
            if "enum" in out and None not in out["enum"]:
                out["enum"] = out["enum"] + [None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def refs(node, found):
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            found.add(ref)
        for v in node.values():
            refs(v, found)
    elif isinstance(node, list):
        for v in node:
            refs(v, found)


def json_schema(spec, holder):
    """The application/json schema of a response or request body, None when none."""
    holder = deref(spec, holder)
    content = holder.get("content", {})
    for media, body in sorted(content.items()):
        if media == "application/json" or media.endswith("+json"):
            return nullable(body.get("schema"))
    return None


def main():
    spec = json.load(open(sys.argv[1]))
    operations = {}
    for key in OPERATIONS:
        method, path = key.split(" ", 1)
        op = spec["paths"][path][method.lower()]
        params = []
        for p in op.get("parameters", []):
            p = deref(spec, p)
            params.append({"name": p["name"], "in": p["in"], "required": p.get("required", False)})
        request = json_schema(spec, op["requestBody"]) if "requestBody" in op else None
        if request is not None:
            request_required = deref(spec, op["requestBody"]).get("required", False)
        else:
            request_required = False
        operations[key] = {
            "operationId": op["operationId"],
            "parameters": params,
            "request": request,
            "request_required": request_required,
            "responses": {s: json_schema(spec, r) for s, r in sorted(op["responses"].items())},
        }
    schemas = {}
    todo = set()
    refs(operations, todo)
    todo |= {f"#/components/schemas/{g}" for g in GENERIC}
    while todo:
        ref = todo.pop()
        prefix = "#/components/schemas/"
        assert ref.startswith(prefix), ref
        name = ref[len(prefix):]
        if name in schemas:
            continue
        schemas[name] = nullable(spec["components"]["schemas"][name])
        refs(schemas[name], todo)
    out = {
        "source": f"@octokit/openapi {spec['info']['version']} generated/api.github.com.json "
        "(GitHub's rest-api-description, MIT); extracted by recipe.sh",
        "operations": operations,
        "components": {"schemas": dict(sorted(schemas.items()))},
    }
    json.dump(out, sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")


main()

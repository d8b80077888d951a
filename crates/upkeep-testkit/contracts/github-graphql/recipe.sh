#!/usr/bin/env bash
# Regenerates schema.json: the part of GitHub's public GraphQL schema (the introspection
# result shipped by the `@octokit/graphql-schema` npm package, pinned below) that
# FakeGitHub's GraphQL needs — the types listed in TYPES, each with every field GitHub
# has on it (full type with list and non-null wrappers, arguments with types and
# defaults), enum values, union members, interface implementations, input fields. The
# full schema is ~5 MB; extract.py keeps only these types, keys sorted.
#
# The fake validates every query and mutation against schema.json (src/github/schema.rs)
# and tests/contract/github_graphql.rs checks the fake's answers against it; .ci/run
# re-runs this script and fails when the result differs from the committed file.
#
# Usage: recipe.sh [TARBALL_DIR]   (TARBALL_DIR keeps the downloaded tarball between runs)
# Needs: npm, python3.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
OCTOKIT_GRAPHQL_SCHEMA_VERSION=15.26.1

# The types the fake reads and writes. Add a type here before the fake resolves a field
# returning it (a field of a type not listed is refused as one the fake does not serve).
TYPES=(
    # Roots: the queries and mutations GitHub has (the fake serves a few of them).
    Query Mutation
    # Promotion reads: Query.repository → Repository.ref → Ref.target / Ref.compare.
    Repository Ref GitObject Commit GitActor
    Comparison ComparisonStatus ComparisonCommitConnection PageInfo
    # Whether the token may push: Repository.viewerPermission, Ref.refUpdateRule.
    RepositoryPermission RefUpdateRule
    # Commit.statusCheckRollup: statuses and check runs of a commit.
    StatusCheckRollup StatusCheckRollupContextConnection StatusCheckRollupContext
    CheckRun StatusContext StatusState CheckStatusState CheckConclusionState
    # Mutation.updateRefs: the branch move.
    UpdateRefsInput RefUpdate UpdateRefsPayload
)

if [[ $# -ge 1 ]]; then
    work="$1"
    mkdir -p "$work"
else
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
fi
tarball="$work/octokit-graphql-schema-$OCTOKIT_GRAPHQL_SCHEMA_VERSION.tgz"
if [[ ! -f "$tarball" ]]; then
    (cd "$work" && npm pack --silent "@octokit/graphql-schema@$OCTOKIT_GRAPHQL_SCHEMA_VERSION" >/dev/null)
fi
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"; [[ $# -ge 1 ]] || rm -rf "$work"' EXIT
tar -xzf "$tarball" -C "$scratch" package/schema.json package/LICENSE.md
python3 "$here/extract.py" "$OCTOKIT_GRAPHQL_SCHEMA_VERSION" "$scratch/package/schema.json" "${TYPES[@]}" \
    >"$here/schema.json.new"
mv "$here/schema.json.new" "$here/schema.json"
cp "$scratch/package/LICENSE.md" "$here/LICENSE"

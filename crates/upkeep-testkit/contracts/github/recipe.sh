#!/usr/bin/env bash
# Regenerates operations.json: the part of GitHub's official OpenAPI description
# (api.github.com, from the `@octokit/openapi` npm package, pinned below) that describes
# the operations FakeGitHub serves (listed in extract.py). The full description is 10+ MB;
# this keeps each operation's response schemas per status, request body schema and
# parameters, plus the components they reference. tests/github_contract.rs validates the
# fake's answers against it; .ci/run re-runs this script and fails when the result differs
# from the committed file.
#
# Usage: recipe.sh [TARBALL_DIR]   (TARBALL_DIR keeps the downloaded tarball between runs)
# Needs: npm, python3 (3.11+).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
OCTOKIT_OPENAPI_VERSION=23.0.2

if [[ $# -ge 1 ]]; then
    work="$1"
    mkdir -p "$work"
else
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
fi
tarball="$work/octokit-openapi-$OCTOKIT_OPENAPI_VERSION.tgz"
if [[ ! -f "$tarball" ]]; then
    (cd "$work" && npm pack --silent "@octokit/openapi@$OCTOKIT_OPENAPI_VERSION" >/dev/null)
fi
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"; [[ $# -ge 1 ]] || rm -rf "$work"' EXIT
tar -xzf "$tarball" -C "$scratch" package/generated/api.github.com.json package/LICENSE
python3 "$here/extract.py" "$scratch/package/generated/api.github.com.json" >"$here/operations.json.new"
mv "$here/operations.json.new" "$here/operations.json"
cp "$scratch/package/LICENSE" "$here/LICENSE"

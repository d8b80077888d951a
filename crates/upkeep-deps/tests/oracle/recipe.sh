#!/usr/bin/env bash
# Regenerates expected/ from inputs/ (the package managers' own test suites, see
# collect.sh) and extra/ (the examples of issue 19 and of our unit tests), with the
# package managers themselves:
#
#   pep440    packaging (PyPI), pinned below, in a scratch venv
#   npm       semver (npm registry), pinned below, in a scratch node_modules
#   rubygems  Gem::Version of the installed ruby (Debian's `ruby`)
#   go        golang.org/x/mod/semver (Debian's golang-golang-x-mod-dev, GOPATH mode)
#   cargo     nothing to write: the semver crate is a dev-dependency, and
#             tests/it/oracle.rs asks it directly
#
# Columns of expected/<ecosystem>.tsv, one valid version a line (what the tool rejects
# is left out), sorted by the tool's ordering:
#   version     as written in the input
#   rank        equal ranks are equal versions; a higher rank is a higher version
#   epoch       the PEP 440 epoch (0 elsewhere)
#   release     the release numbers as the tool splits them (packaging's `release`,
#               semver's major.minor.patch, Gem::Version#release, Go's Canonical)
#   prerelease  the tool's own verdict (`is_prerelease`, `prerelease?`, …)
#   post        the PEP 440 post-release number, `-` when none
# expected/npm-diff.tsv: `semver.diff(from, to)` for the pairs of semver's own tests.
#
# Usage: recipe.sh [TOOLS_DIR]   (TOOLS_DIR keeps the venv and node_modules between runs)
# Needs: python3, node/npm, ruby, go and golang-golang-x-mod-dev (apt-get install -y
# ruby golang-go golang-golang-x-mod-dev).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
PACKAGING_VERSION=26.4
NPM_SEMVER_VERSION=7.8.5
GOMOD_ROOT=/usr/share/gocode

if [[ $# -ge 1 ]]; then
    tools="$1"
    mkdir -p "$tools"
else
    tools="$(mktemp -d)"
    trap 'rm -rf "$tools"' EXIT
fi
[[ -x "$tools/venv/bin/python" ]] || python3 -m venv "$tools/venv"
"$tools/venv/bin/python" -m pip install --quiet --disable-pip-version-check "packaging==$PACKAGING_VERSION"
npm install --silent --no-audit --no-fund --prefix "$tools/npm" "semver@$NPM_SEMVER_VERSION" >/dev/null

cd "$here"
inputs() { for f in "inputs/$1.txt" "extra/$1.txt"; do [[ -f $f ]] && echo "$f"; done; }

"$tools/venv/bin/python" pep440.py $(inputs pep440) >expected/pep440.tsv
NODE_PATH="$tools/npm/node_modules" node npm.js expected $(inputs npm) $(inputs npm-pairs)
ruby rubygems.rb $(inputs rubygems) >expected/rubygems.tsv
X_MOD_VERSION="$(dpkg-query -W -f='${Version}' golang-golang-x-mod-dev)" \
    GO111MODULE=off GOPATH="$GOMOD_ROOT" GOFLAGS= go run go/main.go $(inputs go) >expected/go.tsv
wc -l expected/*.tsv

#!/usr/bin/env bash
# Refreshes inputs/: the version strings of the package managers' own test suites.
# Run by hand when a test suite should be re-read (CI runs recipe.sh, not this).
#
#   NODE_SEMVER_SRC=/path/to/node-semver/checkout ./collect.sh
#
# Where each suite comes from (all through the package managers' own channels):
#   pep440    the sdist of `packaging` on PyPI (its tests/ ship in the sdist)
#   npm       a git checkout of npm/node-semver: its test fixtures are not in the npm
#             package, and Debian's node-semver source is not served here
#   cargo     the `semver` crate as cargo fetched it (its tests/ ship in the crate)
#   go        Debian's golang-golang-x-mod-dev (/usr/share/gocode, *_test.go included)
#   rubygems  Debian's source of the installed ruby (apt-get source, deb-src added in
#             a scratch apt directory; the system's apt configuration is not touched)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
chmod 755 "$work" # apt-get source downloads as the _apt user
PACKAGING_VERSION="${PACKAGING_VERSION:-26.4}"
: "${NODE_SEMVER_SRC:?set NODE_SEMVER_SRC to a checkout of npm/node-semver}"

extract() { python3 "$here/extract.py" "$@"; }
header() {
    printf '# From %s:\n' "$1"
    printf '# the string literals of these files that could be versions (collect.sh took\n'
    printf '# them; the oracle in recipe.sh decides which are):\n'
    shift
    printf '#   %s\n' "$@"
}

# pep440: packaging's tests, from its sdist.
pip download --quiet --no-binary :all: --no-deps -d "$work" "packaging==$PACKAGING_VERSION"
tar xzf "$work/packaging-$PACKAGING_VERSION.tar.gz" -C "$work"
{
    header "packaging $PACKAGING_VERSION's test suite" "packaging-$PACKAGING_VERSION/tests/test_version.py"
    extract "$work/packaging-$PACKAGING_VERSION/tests/test_version.py"
} >"$here/inputs/pep440.txt"

# npm: node-semver's fixtures, and the pairs of its diff and comparison tests.
commit="$(git -C "$NODE_SEMVER_SRC" rev-parse HEAD)"
version="$(node -p "require('$NODE_SEMVER_SRC/package.json').version")"
npm_files=(test/fixtures/comparisons.js test/fixtures/equality.js test/fixtures/valid-versions.js
    test/fixtures/increments.js test/functions/diff.js test/functions/sort.js)
{
    header "node-semver $version's test suite (commit $commit)" "${npm_files[@]}"
    extract "${npm_files[@]/#/$NODE_SEMVER_SRC/}"
} >"$here/inputs/npm.txt"
{
    printf '# Pairs of node-semver %s'"'"'s diff and comparison tests (commit %s):\n' "$version" "$commit"
    printf '# test/functions/diff.js, test/fixtures/comparisons.js\n'
    python3 - "$NODE_SEMVER_SRC/test/functions/diff.js" "$NODE_SEMVER_SRC/test/fixtures/comparisons.js" <<'PY'
import re, sys
seen = set()
for path in sys.argv[1:]:
    for a, b in re.findall(r"\[\s*'([^'\\]+)',\s*'([^'\\]+)'", open(path, encoding="utf-8").read()):
        if (a, b) not in seen:
            seen.add((a, b))
            print(f"{a}\t{b}")
PY
} >"$here/inputs/npm-pairs.txt"

# cargo: the semver crate's tests, at the version Cargo.lock pins.
crate_dir="$(cargo metadata --format-version 1 --manifest-path "$here/../../Cargo.toml" |
    python3 -c 'import json,sys,os; m=json.load(sys.stdin); print(next(os.path.dirname(p["manifest_path"]) for p in m["packages"] if p["name"]=="semver"))')"
{
    header "the semver crate's test suite" "$(basename "$crate_dir")/tests/test_version.rs"
    extract "$crate_dir/tests/test_version.rs"
} >"$here/inputs/cargo.txt"

# go: golang.org/x/mod's semver and pseudo-version tests, from Debian.
gomod=/usr/share/gocode/src/golang.org/x/mod
{
    header "golang.org/x/mod $(dpkg-query -W -f='${Version}' golang-golang-x-mod-dev)'s test suite (Debian)" \
        semver/semver_test.go module/pseudo_test.go
    extract "$gomod/semver/semver_test.go" "$gomod/module/pseudo_test.go"
} >"$here/inputs/go.txt"

# rubygems: the RubyGems tests in Debian's source of the installed ruby.
src="$(dpkg-query -W -f='${source:Package}' "$(readlink -f "$(command -v ruby)" | xargs basename)")"
mkdir -p "$work/apt/lists/partial"
cat >"$work/apt/src.sources" <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $(. /etc/os-release && echo "$VERSION_CODENAME")
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
apt_opts=(-o "Dir::Etc::sourcelist=$work/apt/src.sources" -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$work/apt/lists")
apt-get "${apt_opts[@]}" -qq update
(cd "$work" && apt-get "${apt_opts[@]}" -qq source --download-only "$src")
orig="$(ls "$work"/"${src}"_*.orig.tar.*)"
top="$(tar tf "$orig" | awk -F/ 'NR == 1 { print $1 }')"
ruby_files=(test/rubygems/test_gem_version.rb test/rubygems/test_gem_requirement.rb)
tar xf "$orig" -C "$work" "${ruby_files[@]/#/$top/}"
{
    header "RubyGems' test suite in Debian's $(basename "$orig")" "${ruby_files[@]}"
    extract "${ruby_files[@]/#/$work/$top/}"
} >"$here/inputs/rubygems.txt"

wc -l "$here"/inputs/*.txt

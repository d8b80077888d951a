#!/usr/bin/env bash
# The `webapp` sample of `maintain demo`: a package-lock.json before and after an upgrade,
# both written by real npm (`npm install --package-lock-only`, lockfile v3). The direct
# dependencies are pinned to exact versions: mid-2021 releases on the old side, mid-2025
# ones on the new side (express 5, uuid 11, dotenv 16, eslint 9: majors), the way
# `npx npm-check-updates -u && npm install` moves them. Express 4 pins its own
# dependencies exactly, so the old tree is an old tree, and many transitive packages
# change with the upgrade: what the demo's summary has to keep short. (Transitive
# versions within caret ranges resolve to the newest release when the script runs.)
#
# Run from anywhere: ./recipe.sh (needs npm and the npm registry).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"

write_manifest() {
    cat > package.json <<JSON
{
  "name": "webapp",
  "version": "1.4.0",
  "private": true,
  "dependencies": {
    "dotenv": "$1",
    "express": "$2",
    "lodash": "$3",
    "uuid": "$4"
  },
  "devDependencies": {
    "eslint": "$5"
  }
}
JSON
}

rm -rf "$here/old" "$here/new"
mkdir -p "$here/old" "$here/new"

write_manifest "8.2.0" "4.17.1" "4.17.20" "8.3.2" "7.27.0"
npm install --package-lock-only --no-audit --no-fund --lockfile-version 3 >/dev/null
cp package.json package-lock.json "$here/old/"

write_manifest "16.5.0" "5.1.0" "4.17.21" "11.1.0" "9.28.0"
npm install --package-lock-only --no-audit --no-fund --lockfile-version 3 >/dev/null
cp package.json package-lock.json "$here/new/"

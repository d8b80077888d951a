#!/usr/bin/env bash
# Seeds each fuzz target's corpus with the committed fixtures of its format (small:
# one or two files per target), then runs every target for the given seconds.
#   ./seed.sh 120     # from crates/upkeep-deps/fuzz
# cargo-fuzz needs nightly; on stable, RUSTC_BOOTSTRAP=1 lets it use the -Z flags.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
fixtures=../tests/fixtures
declare -A files=(
    [requirements]="requirements.txt" [pipfile_lock]="Pipfile.lock" [poetry_lock]="poetry.lock"
    [uv_lock]="uv.lock" [package_lock]="package-lock.json" [yarn_lock]="yarn.lock"
    [pnpm_lock]="pnpm-lock.yaml" [cargo_lock]="Cargo.lock" [go_mod]="go.mod"
    [gemfile_lock]="Gemfile.lock" [composer_lock]="composer.lock" [dockerfile]="Dockerfile"
    [compose]="docker-compose.yml"
)
for target in "${!files[@]}"; do
    mkdir -p "corpus/$target"
    find "$fixtures" -name "${files[$target]}" -path '*/old/*' -size -64k -print0 |
        while IFS= read -r -d '' f; do cp "$f" "corpus/$target/$(echo "$f" | md5sum | cut -c1-12)"; done
done
mkdir -p corpus/versions
printf '1.2.3\n2.0.0-rc.1' > corpus/versions/semver
printf '1!2.0.post1.dev3+local\n2.0rc1' > corpus/versions/pep440
printf 'v0.0.0-20230101000000-abcdefabcdef\nv1.2.4-0.20230101000000-abcdefabcdef' > corpus/versions/go
printf '3.11-slim@sha256:abc\n3.12.0rc1-alpine' > corpus/versions/docker
for target in "${!files[@]}" versions; do
    RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" "corpus/$target" -- -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=1024
done

#!/usr/bin/env bash
# Builds what the container image holds into a staging directory: the compiled agent, its production npm
# dependencies, the BPF objects and the native addon. deploy/Dockerfile runs this in its build stage; the tests
# run it too, since there is no Docker engine here.
#   deploy/build.sh [OUT]     (default OUT: build/image; the tree to copy is OUT/app)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-build/image}

./scripts/bootstrap.sh

rm -rf "$OUT"
mkdir -p "$OUT/app/bpf/build" "$OUT/app/native/build/Release"
cp -r dist package.json package-lock.json "$OUT/app/"
cp bpf/build/*.bpf.o "$OUT/app/bpf/build/"
cp native/build/Release/ebpf_addon.node "$OUT/app/native/build/Release/"
# Production dependencies only: no Node binary (the image has its own), no build or test tools. Install
# scripts stay off: none of the production dependencies needs one.
(cd "$OUT/app" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
rm -rf "$OUT/app/dist"/*.map "$OUT/app/dist"/**/*.map 2>/dev/null || true
chmod -R go-w "$OUT/app"
du -sh "$OUT/app" | sed 's/^/image app tree: /'

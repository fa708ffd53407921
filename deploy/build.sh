#!/usr/bin/env bash
# Builds what the container image holds into a staging directory: the bundled agent, the BPF objects and the
# native addon. deploy/Dockerfile runs this in its build stage (without privilege: bootstrap's build mode mounts
# nothing); the tests run it on the host too.
#   deploy/build.sh [OUT]     (default OUT: build/image-stage; the tree to copy is OUT/app)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-build/image-stage}

./scripts/bootstrap.sh build

rm -rf "$OUT"
mkdir -p "$OUT/app/bpf/build" "$OUT/app/native/build/Release"
# dist/ is the bundled agent (scripts/bundle.ts): every npm dependency is inlined, so no node_modules.
# package.json marks the application root and carries the version.
cp -r dist package.json "$OUT/app/"
cp bpf/build/*.bpf.o "$OUT/app/bpf/build/"
cp native/build/Release/ebpf_addon.node "$OUT/app/native/build/Release/"
find "$OUT/app/dist" -name '*.map' -delete
chmod -R go-w "$OUT/app"
du -sh "$OUT/app" | sed 's/^/image app tree: /'

#!/usr/bin/env bash
# Usage: scratch-image.sh NAME:TAG ARCHIVE ENTRYPOINT FILE...
# Writes a one-layer image FROM scratch as a docker-archive (what `podman save` writes and `ctr images import`
# reads): the FILEs at the root of the image (mode kept, owner root, mtime 0, so the archive is reproducible), and
# ENTRYPOINT (a path in the image) as its entrypoint. For the static binaries the cluster needs (the pause
# container, test workloads): no engine, no base image, no registry.
set -euo pipefail
if (($# < 4)); then
  echo "usage: $0 NAME:TAG ARCHIVE ENTRYPOINT FILE..." >&2
  exit 2
fi
ref=$1 archive=$2 entrypoint=$3
shift 3

work=$(mktemp -d "${TMPDIR:-/tmp}/scratch-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/rootfs" "$work/out"
for file in "$@"; do
  cp -p "$file" "$work/rootfs/"
done
tar -C "$work/rootfs" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$work/layer.tar" .
layer=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
mkdir "$work/out/$layer"
mv "$work/layer.tar" "$work/out/$layer/layer.tar"
printf '{"architecture":"amd64","os":"linux","config":{"Entrypoint":["%s"],"WorkingDir":"/"},' "$entrypoint" >"$work/config.json"
printf '"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created_by":"%s"}]}' \
  "$layer" "scripts/k8s/scratch-image.sh" >>"$work/config.json"
config=$(sha256sum "$work/config.json" | cut -d' ' -f1)
mv "$work/config.json" "$work/out/$config.json"
printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]\n' "$config" "$ref" "$layer" \
  >"$work/out/manifest.json"
mkdir -p "$(dirname "$archive")"
tar -C "$work/out" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$archive.tmp" .
mv -f "$archive.tmp" "$archive"

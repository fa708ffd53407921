#!/usr/bin/env bash
# Builds the agent's image (deploy/Dockerfile) with podman, without any registry, and saves it as a
# docker-archive for other runtimes to import (containerd: ctr -n k8s.io images import):
#   image   localhost/ebpf-otel-agent:<package.json version>
#   archive build/image/ebpf-otel-agent.tar   (podman save --format docker-archive; rewritten only when the image
#           changed)
#   scripts/image/build.sh            (make image)
# Base images: BUILD_IMAGE and RUNTIME_IMAGE from the environment when set (e.g. node:24-bookworm and
# debian:bookworm-slim from a registry, pulled when missing), else made locally by scripts/image/base-images.sh.
# The build runs with the host network (never a bridge) and the host's CA bundle as a build secret for npm.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"
podman=$here/podman.sh
log() { printf 'image: %s\n' "$*" >&2; }

VERSION=$(sed -n 's/^  "version": "\([^"]*\)".*/\1/p' package.json)
IMAGE=localhost/ebpf-otel-agent:$VERSION
ARCHIVE=build/image/ebpf-otel-agent.tar

if [[ -z ${BUILD_IMAGE:-} || -z ${RUNTIME_IMAGE:-} ]]; then
  { read -r debian && read -r node; } < <("$here/base-images.sh")
  BUILD_IMAGE=${BUILD_IMAGE:-$node}
  RUNTIME_IMAGE=${RUNTIME_IMAGE:-$debian}
fi

ca=/etc/ssl/certs/ca-certificates.crt
ca_args=()
if [[ -f $ca ]]; then
  ca_args=(--secret "id=host-ca,src=$ca" --build-arg NODE_EXTRA_CA_CERTS=/run/secrets/host-ca)
fi

log "building $IMAGE on $BUILD_IMAGE and $RUNTIME_IMAGE"
start=$SECONDS
nice -n 10 "$podman" build --pull=missing --network host --layers \
  --file deploy/Dockerfile --tag "$IMAGE" \
  --build-arg BUILD_IMAGE="$BUILD_IMAGE" --build-arg RUNTIME_IMAGE="$RUNTIME_IMAGE" --build-arg VERSION="$VERSION" \
  "${ca_args[@]}" .
# The build stage tagged too (all cached by now): old build caches are then the only dangling images, which
# `scripts/image/podman.sh image prune -f` frees without losing the current one. Not pruned here: other checkouts
# may be building in the same storage.
"$podman" build --quiet --pull=missing --network host --layers --target build \
  --file deploy/Dockerfile --tag "$IMAGE-build" \
  --build-arg BUILD_IMAGE="$BUILD_IMAGE" --build-arg RUNTIME_IMAGE="$RUNTIME_IMAGE" --build-arg VERSION="$VERSION" \
  "${ca_args[@]}" . >/dev/null
log "built in $((SECONDS - start)) s"

id=$("$podman" image inspect --format '{{.Id}}' "$IMAGE")
mkdir -p "$(dirname "$ARCHIVE")"
if [[ -f $ARCHIVE && $(cat "$ARCHIVE.id" 2>/dev/null) == "$id" ]]; then
  log "$ARCHIVE is current"
else
  rm -f "$ARCHIVE" "$ARCHIVE.id"
  "$podman" save --quiet --format docker-archive --output "$ARCHIVE.tmp" "$IMAGE"
  mv "$ARCHIVE.tmp" "$ARCHIVE"
  printf '%s\n' "$id" >"$ARCHIVE.id"
  log "saved $ARCHIVE"
fi
log "$IMAGE: $(numfmt --to=iec --suffix=B "$("$podman" image inspect --format '{{.Size}}' "$IMAGE")"), archive $(du -h "$ARCHIVE" | cut -f1)"

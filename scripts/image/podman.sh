#!/usr/bin/env bash
# podman as this project runs it: rootful, with scripts/image/containers.conf, and its storage, state and temporary
# files under .tools/containers of the checkout (a git worktree whose .tools links to another checkout's shares
# that one's storage and images). Every script that needs podman calls this one.
#   scripts/image/podman.sh ARGS...        e.g. scripts/image/podman.sh images
# Installs podman and runc (Debian packages) when they are missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

if [[ $(id -u) -ne 0 ]]; then
  echo "podman.sh: rootful podman: run as root" >&2
  exit 1
fi
"$here/packages.sh" podman runc

mkdir -p "$repo/.tools"
dir=$(realpath "$repo/.tools")/containers
mkdir -p "$dir/storage" "$dir/run" "$dir/tmp"
export CONTAINERS_CONF=$here/containers.conf
# No registries.conf/storage.conf lookups matter: storage is given here, and image names are always complete.
exec podman --root "$dir/storage" --runroot "$dir/run" --tmpdir "$dir/tmp" --storage-driver overlay "$@"

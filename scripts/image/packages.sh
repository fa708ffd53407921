#!/usr/bin/env bash
# Installs the given Debian packages when any is missing (as root, quietly); a no-op when all are there.
#   scripts/image/packages.sh PACKAGE...
set -euo pipefail
missing=()
for pkg in "$@"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
((${#missing[@]} == 0)) && exit 0
if [[ $(id -u) -ne 0 ]]; then
  echo "packages.sh: missing Debian packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "packages.sh: installing ${missing[*]}" >&2
# One apt at a time: several scripts may get here at once.
exec 9>/var/lib/apt/eoa-packages.lock
flock 9
# Three tries, 15 s apart: a mirror's name that fails to resolve for a moment must not fail the build.
for try in 1 2 3; do
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null && exit 0
  ((try < 3)) || { echo "packages.sh: apt-get could not install ${missing[*]} (3 tries)" >&2; exit 1; }
  echo "packages.sh: apt-get failed (try $try of 3): trying again in 15 s" >&2
  sleep 15
done

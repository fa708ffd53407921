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
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

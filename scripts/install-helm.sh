#!/usr/bin/env bash
# Installs a pinned Helm 3 as .tools/bin/helm, for rendering and linting the chart in deploy/helm/ (the tests run it).
#
# Only the Go module proxy is needed (no GitHub release downloads): `go install helm.sh/helm/v3/cmd/helm@VERSION`.
# Idempotent: skipped when .tools/bin/helm exists and its stamp (.tools/bin/helm.version) names the pinned version.
# Everything Go writes (GOPATH, module cache, build cache) stays under .tools/go, and GOTOOLCHAIN=local forbids
# toolchain downloads, so the installed Go must satisfy the go directive of the pinned Helm (MIN_GO_VERSION).
#
# To bump: the newest v3 release is the last line of `curl -s https://proxy.golang.org/helm.sh/helm/v3/@v/list | sort -V`;
# its go directive is in https://proxy.golang.org/helm.sh/helm/v3/@v/VERSION.mod.
# Environment: HELM_REBUILD=1 rebuilds even if up to date.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

HELM_VERSION=v3.22.0
MIN_GO_VERSION=1.26.0

TOOLS=$ROOT/.tools
BIN_DIR=$TOOLS/bin
BINARY=$BIN_DIR/helm
STAMP=$BINARY.version
STAMP_LINE="helm $HELM_VERSION"

log() { printf 'install-helm: %s\n' "$*" >&2; }

up_to_date() {
  [[ -x $BINARY && -f $STAMP && $(head -n 1 "$STAMP") == "$STAMP_LINE" ]]
}

if ! command -v go >/dev/null; then
  log "go is missing: install Go >= $MIN_GO_VERSION"
  exit 1
fi

if [[ ${HELM_REBUILD:-0} != 1 ]] && up_to_date; then
  log "$BINARY is up to date ($HELM_VERSION, $(sed -n 2p "$STAMP"))"
  exit 0
fi

go_version=$(GOTOOLCHAIN=local go env GOVERSION)
go_version=${go_version#go}
if [[ $(printf '%s\n%s\n' "$MIN_GO_VERSION" "${go_version%%[!0-9.]*}" | sort -V | head -n 1) != "$MIN_GO_VERSION" ]]; then
  log "Go $go_version is too old: helm $HELM_VERSION needs Go >= $MIN_GO_VERSION"
  exit 1
fi

mkdir -p "$BIN_DIR"
# Serialize concurrent runs (parallel test workers): the winner builds, the others then find it up to date.
if command -v flock >/dev/null; then
  exec 9>"$BIN_DIR/.helm.lock"
  flock 9
  if [[ ${HELM_REBUILD:-0} != 1 ]] && up_to_date; then
    log "$BINARY is up to date ($HELM_VERSION, $(sed -n 2p "$STAMP"))"
    exit 0
  fi
fi

# Keep Go's state inside the checkout; -modcacherw keeps the module cache deletable with a plain rm -rf.
export GOPATH=$TOOLS/go
export GOMODCACHE=$GOPATH/pkg/mod
export GOCACHE=$GOPATH/cache
export GOTOOLCHAIN=local
export GOFLAGS="-modcacherw -buildvcs=false"
export GOWORK=off
export GOPROXY=${GOPROXY:-https://proxy.golang.org}
export GOSUMDB=${GOSUMDB:-sum.golang.org}
export CGO_ENABLED=0

# Build into a scratch GOBIN and move the binary into place, so a failed build leaves the old one untouched.
work=$(mktemp -d "${TMPDIR:-/tmp}/helm-build.XXXXXX")
trap 'rm -rf "$work"' EXIT

start=$SECONDS
# Helm's Makefile stamps, with -ldflags, its version and the Kubernetes version that `helm template` and
# `helm lint` assume without a cluster (client-go v0.X → 1.X); `go install` does not run the Makefile, and without
# them Helm would assume Kubernetes 1.20 and reject the chart's kubeVersion. Do what the Makefile does.
gomod=$(go mod download -json "helm.sh/helm/v3@$HELM_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
client_go=$(awk '$1 == "k8s.io/client-go" { print $2 }' "$gomod")
if [[ ! $client_go =~ ^v0\.([0-9]+)\. ]]; then
  log "cannot find the k8s.io/client-go version in $gomod"
  exit 1
fi
k8s_minor=${BASH_REMATCH[1]}
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
  ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$k8s_minor"
done
log "building helm $HELM_VERSION (Kubernetes 1.$k8s_minor by default) with $(GOTOOLCHAIN=local go version | cut -d' ' -f3)"
GOBIN=$work go install -trimpath -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
mv -f "$work/helm" "$BINARY"
printf '%s\nkubernetes: 1.%s (client-go %s)\n' "$STAMP_LINE" "$k8s_minor" "$client_go" >"$STAMP"

elapsed=$((SECONDS - start))
log "built $BINARY ($("$BINARY" version --short), $(du -h "$BINARY" | cut -f1)) in $((elapsed / 60))m$((elapsed % 60))s"

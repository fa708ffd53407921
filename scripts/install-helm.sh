#!/usr/bin/env bash
# Installs a pinned Helm 4 as .tools/bin/helm, for rendering, linting and installing the chart in deploy/helm/ (the
# tests run it). Helm 4 installs with server-side apply, so the API server rejects unknown fields (Helm 3 only warned).
#
# Only the Go module proxy is needed (no GitHub release downloads): `go install helm.sh/helm/v4/cmd/helm@VERSION`.
# Idempotent: skipped when .tools/bin/helm exists and its stamp (.tools/bin/helm.version) names the pinned version.
# Everything Go writes (GOPATH, module cache, build cache) stays under .tools/go, and GOTOOLCHAIN=local forbids
# toolchain downloads, so the installed Go must satisfy the go directive of the pinned Helm (MIN_GO_VERSION).
#
# To bump: the newest v4 release is the last line of `curl -s https://proxy.golang.org/helm.sh/helm/v4/@v/list | sort -V`;
# its go directive is in https://proxy.golang.org/helm.sh/helm/v4/@v/VERSION.mod.
# A build's output (the `go: downloading` lines, the compiler's) goes to .tools/logs/install-helm.log; the console
# gets what is built and why, in one line, the result, and on failure the log's tail (scripts/lib/build-log.sh).
# Environment: HELM_REBUILD=1 rebuilds even if up to date; EOA_TOOLS_DIR installs elsewhere than .tools (tests).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

HELM_VERSION=v4.3.2
MIN_GO_VERSION=1.26.0

TOOLS=${EOA_TOOLS_DIR:-$ROOT/.tools}
BIN_DIR=$TOOLS/bin
BINARY=$BIN_DIR/helm
STAMP=$BINARY.version
STAMP_LINE="helm $HELM_VERSION"

TOOL_NAME=install-helm
# shellcheck source=lib/build-log.sh
source "$ROOT/scripts/lib/build-log.sh"
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

# shellcheck source=lib/go-env.sh
source "$ROOT/scripts/lib/go-env.sh"

# Build into a scratch GOBIN and move the binary into place, so a failed build leaves the old one untouched.
work=$(mktemp -d "${TMPDIR:-/tmp}/helm-build.XXXXXX")
trap 'status=$?; rm -rf "$work"; build_log_end $status' EXIT

start=$SECONDS
# Helm's Makefile stamps its version with -ldflags (internal/version; `go install` does not run the Makefile). Unlike
# Helm 3, Helm 4 takes the Kubernetes version that `helm template` and `helm lint` assume without a cluster from the
# build info of its k8s.io/client-go module (v0.X → 1.X), which `go install` records, so no k8sVersion flags.
ldflags="-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION -X helm.sh/helm/v4/internal/version.gitTreeState=clean"
build_log_begin "helm $HELM_VERSION from the Go module proxy with $(GOTOOLCHAIN=local go version | cut -d' ' -f3)" \
  "the chart tests (they render, lint and install deploy/helm with a real Helm 4)" "~4 min cold on 2 cores, once"
GOBIN=$work nice -n 10 go install -trimpath -ldflags "$ldflags" "helm.sh/helm/v4/cmd/helm@$HELM_VERSION"
mv -f "$work/helm" "$BINARY"
printf '%s\nbuilt with %s\n' "$STAMP_LINE" "$(go version | cut -d' ' -f3)" >"$STAMP"

elapsed=$((SECONDS - start))
say "built $BINARY ($("$BINARY" version --short), $(du -h "$BINARY" | cut -f1)) in $((elapsed / 60))m$((elapsed % 60))s"

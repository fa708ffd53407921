#!/usr/bin/env bash
# Builds a real OpenTelemetry Collector for the integration tests and installs it as .tools/bin/otelcol-test.
#
# Only the Go module proxy is needed (no GitHub release downloads): the OpenTelemetry Collector Builder (ocb),
# installed with `go install` at a pinned version, generates a collector with exactly these components:
#   receivers: otlp (OTLP/gRPC + OTLP/HTTP)   exporters: debug, file (contrib; one OTLP-JSON line per request)
# If the contrib file exporter cannot be resolved or built, it falls back to core components only
# (otlp receiver; debug and otlp_http exporters). `.tools/bin/otelcol-test.version` records what was built:
#   line 1: the pinned versions (the up-to-date check)   line 2: `variant: contrib|core`
#   line 3: `exporters: debug file` (contrib) or `exporters: debug otlp_http` (core)
# A fresh build takes about 3.5 minutes on 2 cores (about 1 GiB of module and build cache under .tools/go).
#
# Idempotent: skipped when the binary exists and its stamp matches the pinned versions.
# Everything Go writes (GOPATH, module cache, build cache, the builder) stays under .tools/go; nothing is
# downloaded except Go modules, and GOTOOLCHAIN=local forbids toolchain downloads, so Go >= 1.26 must be installed.
#
# A build's output (the `go: downloading` lines, the builder's and compiler's) goes to .tools/logs/install-otelcol.log;
# the console gets what is built and why, in one line, the result, and on failure the log's tail.
# Environment: EOA_TOOLS_DIR installs elsewhere than .tools (tests); OTELCOL_REBUILD=1 rebuilds even if up to date (e.g. to retry contrib after a fallback);
# OTELCOL_CORE_ONLY=1 skips the contrib attempt.
#
# Test configs: set service.telemetry.metrics.level: none, or the collector also listens on 127.0.0.1:8888.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

# One collector release = core v0.X.Y modules + core v1.A.B ("stable") modules + contrib v0.X.Y modules.
# To bump: pick a release from https://proxy.golang.org/go.opentelemetry.io/collector/cmd/builder/@v/list and read
# its stable pair in go.opentelemetry.io/collector/cmd/builder's internal/builder/config.go (DefaultStableOtelColVersion).
# Not newer than v0.162.0: from v0.163.0 on, otlpreceiver imports go.opentelemetry.io/collector/internal/statusutil,
# whose module zips the module proxy reachable here refuses (403 "This module version is not available").
OTELCOL_CORE_VERSION=v0.162.0    # go.opentelemetry.io/collector/... v0 modules, including cmd/builder
OTELCOL_STABLE_VERSION=v1.68.0   # go.opentelemetry.io/collector/... v1 modules of the same release
OTELCOL_CONTRIB_VERSION=v0.162.0 # github.com/open-telemetry/opentelemetry-collector-contrib/... of the same release
MIN_GO_VERSION=1.26.0            # the go directive of these modules; GOTOOLCHAIN=local cannot fetch a newer Go

TOOLS=${EOA_TOOLS_DIR:-$ROOT/.tools}
BIN_DIR=$TOOLS/bin
BINARY=$BIN_DIR/otelcol-test
STAMP=$BINARY.version
STAMP_LINE="otelcol-test core=$OTELCOL_CORE_VERSION stable=$OTELCOL_STABLE_VERSION contrib=$OTELCOL_CONTRIB_VERSION"

TOOL_NAME=install-otelcol
# shellcheck source=lib/build-log.sh
source "$ROOT/scripts/lib/build-log.sh"
log() { printf 'install-otelcol: %s\n' "$*" >&2; }

up_to_date() {
  [[ -x $BINARY && -f $STAMP && $(head -n 1 "$STAMP") == "$STAMP_LINE" ]]
}

if [[ ${OTELCOL_REBUILD:-0} != 1 ]] && up_to_date; then
  log "$BINARY is up to date ($(sed -n 2p "$STAMP"))"
  exit 0
fi

if ! command -v go >/dev/null; then
  log "go is missing: install Go >= $MIN_GO_VERSION"
  exit 1
fi
go_version=$(GOTOOLCHAIN=local go env GOVERSION)
go_version=${go_version#go}
if [[ $(printf '%s\n%s\n' "$MIN_GO_VERSION" "${go_version%%[!0-9.]*}" | sort -V | head -n 1) != "$MIN_GO_VERSION" ]]; then
  log "Go $go_version is too old: the pinned collector modules need Go >= $MIN_GO_VERSION"
  exit 1
fi

mkdir -p "$BIN_DIR"
# Serialize concurrent runs (e.g. parallel test workers); the winner builds, the others then find it up to date.
if command -v flock >/dev/null; then
  exec 9>"$BIN_DIR/.otelcol-test.lock"
  flock 9
  if [[ ${OTELCOL_REBUILD:-0} != 1 ]] && up_to_date; then
    log "$BINARY is up to date ($(sed -n 2p "$STAMP"))"
    exit 0
  fi
fi

# shellcheck source=lib/go-env.sh
source "$ROOT/scripts/lib/go-env.sh"
export GOBIN=$GOPATH/bin
export GOFLAGS="-mod=mod $GOFLAGS"

work=$(mktemp -d "${TMPDIR:-/tmp}/otelcol-build.XXXXXX")
trap 'status=$?; rm -rf "$work"; build_log_end $status' EXIT

build_log_begin "an OpenTelemetry Collector $OTELCOL_CORE_VERSION (otlp receiver; debug and file exporters) from the Go module proxy with the collector builder" \
  "the OTLP tests (a real collector receives what the agent exports)" "~3.5 min cold on 2 cores, once"
start=$SECONDS
builder=$GOBIN/builder
if [[ ! -x $builder || $(go version -m "$builder" | awk '$1 == "mod" { print $3 }') != "$OTELCOL_CORE_VERSION" ]]; then
  log "installing the collector builder $OTELCOL_CORE_VERSION"
  go install "go.opentelemetry.io/collector/cmd/builder@$OTELCOL_CORE_VERSION"
fi

core=go.opentelemetry.io/collector
contrib=github.com/open-telemetry/opentelemetry-collector-contrib

# write_manifest VARIANT: VARIANT is contrib (debug + file exporters) or core (debug + otlphttp exporters).
write_manifest() {
  local variant=$1 dir=$work/$1
  mkdir -p "$dir"
  {
    cat <<EOF
dist:
  module: example.invalid/otelcol-test
  name: otelcol-test
  description: OpenTelemetry Collector for the ebpf-otel-agent integration tests
  version: ${OTELCOL_CORE_VERSION#v}-test
  output_path: $dir/out
receivers:
  - gomod: $core/receiver/otlpreceiver $OTELCOL_CORE_VERSION
exporters:
  - gomod: $core/exporter/debugexporter $OTELCOL_CORE_VERSION
EOF
    if [[ $variant == contrib ]]; then
      echo "  - gomod: $contrib/exporter/fileexporter $OTELCOL_CONTRIB_VERSION"
    else
      echo "  - gomod: $core/exporter/otlphttpexporter $OTELCOL_CORE_VERSION"
    fi
    cat <<EOF
providers:
  - gomod: $core/confmap/provider/envprovider $OTELCOL_STABLE_VERSION
  - gomod: $core/confmap/provider/fileprovider $OTELCOL_STABLE_VERSION
  - gomod: $core/confmap/provider/yamlprovider $OTELCOL_STABLE_VERSION
telemetry:
  gomod: $core/service $OTELCOL_CORE_VERSION
  import: $core/service/telemetry/otelconftelemetry
EOF
  } >"$dir/manifest.yaml"
  echo "$dir/manifest.yaml"
}

# Every go.opentelemetry.io/collector module compiled in must be at one of the two pinned core versions (a contrib
# module of another release would pull newer core modules in through minimal version selection).
check_versions() {
  local binary=$1 bad
  bad=$(go version -m "$binary" | awk -v a="$OTELCOL_CORE_VERSION" -v b="$OTELCOL_STABLE_VERSION" -v c="$OTELCOL_CONTRIB_VERSION" \
    '$1 == "dep" && (($2 ~ /^go\.opentelemetry\.io\/collector(\/|$)/ && $3 != a && $3 != b) ||
                     ($2 ~ /^github\.com\/open-telemetry\/opentelemetry-collector-contrib\// && $3 != c)) { print "  " $2 " " $3 }')
  if [[ -n $bad ]]; then
    log "module versions differ from the pinned release:"$'\n'"$bad"
    return 1
  fi
}

# build VARIANT: runs the builder on the manifest and installs the binary; fails without touching $BINARY.
build() {
  local variant=$1 manifest out exporters
  manifest=$(write_manifest "$variant")
  log "building the $variant variant from $manifest:"
  sed 's/^/    /' "$manifest" >&2
  # The builder only generates the sources (--skip-get-modules --skip-compilation): its module step runs
  # `go mod tidy`, which also downloads every module that the *tests* of the dependencies import, and some of those
  # (fileexporter's tests import otlpencodingextension) the module proxy here refuses. So this script writes go.mod
  # (the manifest's modules plus otelcol, as the builder's template does) and `go build` (GOFLAGS=-mod=mod) fills in
  # go.mod/go.sum with only the modules the binary compiles.
  "$builder" --skip-get-modules --skip-compilation --config "$manifest" || return 1
  (
    set -e
    cd "$work/$variant/out"
    go mod init example.invalid/otelcol-test
    requires=("-require=$core/otelcol@$OTELCOL_CORE_VERSION")
    while read -r mod version; do requires+=("-require=$mod@$version"); done \
      < <(sed -n 's/^ *-\{0,1\} *gomod: *//p' "$manifest")
    go mod edit "${requires[@]}"
    log "compiling (go build -trimpath -ldflags='-s -w')"
    go build -trimpath -ldflags='-s -w' -o otelcol-test .
  ) || return 1
  out=$work/$variant/out/otelcol-test
  [[ -x $out ]] || { log "the build produced no $out"; return 1; }
  check_versions "$out" || return 1
  exporters=$("$out" components | awk '/^exporters:/ { e = 1; next } /^[a-z]+:/ { e = 0 } e && $1 == "-" && $2 == "name:" { print $3 }' | sort | paste -sd ' ')
  cp "$out" "$BINARY.tmp" && mv -f "$BINARY.tmp" "$BINARY" || return 1
  printf '%s\nvariant: %s\nexporters: %s\n' "$STAMP_LINE" "$variant" "${exporters:-unknown}" >"$STAMP" || return 1
}

if [[ ${OTELCOL_CORE_ONLY:-0} == 1 ]] || ! build contrib; then
  [[ ${OTELCOL_CORE_ONLY:-0} == 1 ]] || say "the contrib build failed; falling back to core components only (no file exporter)"
  if ! build core; then
    log "the core build failed too"
    exit 1
  fi
fi

elapsed=$((SECONDS - start))
say "built $BINARY ($(du -h "$BINARY" | cut -f1), $(sed -n 3p "$STAMP")) in $((elapsed / 60))m$((elapsed % 60))s"
if ((elapsed > 600)); then
  say "warning: that build took over 10 minutes, a large share of CI's 90-minute budget"
fi

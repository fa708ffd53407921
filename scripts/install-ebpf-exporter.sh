#!/usr/bin/env bash
# Builds cloudflare/ebpf_exporter, the peer of bench/peer, from the Go module proxy and installs it as
# .tools/bin/ebpf_exporter (a wrapper that execs .tools/ebpf-exporter/ebpf_exporter, so the pid is the exporter's).
#
# Which release: v1.2.5, the last v1 release, which compiles its programs at start-up with BCC (cgo, -lbcc).
# The libbpf-based releases (module github.com/cloudflare/ebpf_exporter/v2, with aquasecurity/libbpfgo) cannot be
# had here: the module proxy reachable from these machines answers 403 "This module version is not available" for
# every v2 version and for its version list (checked 2026-11-22 for v2.0.0, v2.3.0, v2.4.0, v2.4.2), and lists
# libbpfgo only up to v0.5.1-libbpf-1.2 (v2.4 needs v0.7.0-libbpf-1.4). There is no GitHub access to build v2 from.
#
# v1.2.5 pins github.com/iovisor/gobpf v0.2.0, which does not compile against Debian bookworm's BCC 0.26
# (bcc_func_load gained an argument in BCC 0.25); the gobpf commit pinned below (2022-10-05, the one later gobpf
# users pin) selects the call by LIBBCC_VERSION_GEQ. That one dependency bump is the only change to the release.
#
# BCC compiles the programs at run time and needs kernel headers. When the running kernel has none
# (/lib/modules/$(uname -r)/build, or CONFIG_IKHEADERS), Debian's headers for its own kernel are installed and merged
# into .tools/ebpf-exporter/kernel-headers (symlinks), and the wrapper points BCC_KERNEL_SOURCE there. Their version
# differs from the running kernel's: that is harmless for tracepoint programs (BCC reads the tracepoint's record
# layout from tracefs), but kprobe programs built against them could read wrong offsets.
#
# Needs: root for apt (libbpfcc-dev, gcc, the headers), Go >= 1.21. Everything Go writes stays under .tools/go.
# Idempotent: skipped when the installed binary's stamp matches the pinned versions. EBPF_EXPORTER_REBUILD=1 rebuilds.
# A fresh build takes about 50 s on 2 cores (module downloads included), plus about 10 s for the apt packages.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

EBPF_EXPORTER_MODULE=github.com/cloudflare/ebpf_exporter
EBPF_EXPORTER_VERSION=v1.2.5
GOBPF_VERSION=v0.2.1-0.20221005153822-16120a1bf4d4 # github.com/iovisor/gobpf with BCC >= 0.25 support
MIN_GO_VERSION=1.21.0

TOOLS=$ROOT/.tools
BIN_DIR=$TOOLS/bin
HOME_DIR=$TOOLS/ebpf-exporter
BINARY=$HOME_DIR/ebpf_exporter
HEADERS=$HOME_DIR/kernel-headers
WRAPPER=$BIN_DIR/ebpf_exporter
STAMP=$HOME_DIR/version
STAMP_LINE="ebpf_exporter $EBPF_EXPORTER_VERSION gobpf=$GOBPF_VERSION"

log() { printf 'install-ebpf-exporter: %s\n' "$*" >&2; }
# fail STEP MESSAGE: the one line a caller shows (bench/peer prints the last line of stderr).
fail() {
  log "FAILED at $1: $2"
  exit 1
}

kernel_has_headers() {
  [[ -f /lib/modules/$(uname -r)/build/include/linux/kconfig.h || -e /sys/kernel/kheaders.tar.xz ]]
}

up_to_date() {
  [[ -x $BINARY && -x $WRAPPER && -f $STAMP && $(head -n 1 "$STAMP") == "$STAMP_LINE" ]] &&
    { kernel_has_headers || [[ -f $HEADERS/include/linux/kconfig.h ]]; }
}

if [[ ${EBPF_EXPORTER_REBUILD:-0} != 1 ]] && up_to_date; then
  log "$WRAPPER is up to date ($STAMP_LINE)"
  exit 0
fi

# ---- Debian packages: BCC's headers and library (cgo), a C compiler, kernel headers for BCC at run time ----
arch=$(dpkg --print-architecture)
packages=(libbpfcc-dev gcc libc6-dev)
if ! kernel_has_headers; then
  if apt-cache show "linux-headers-$(uname -r)" >/dev/null 2>&1; then
    packages+=("linux-headers-$(uname -r)")
  else
    packages+=("linux-headers-$arch") # Debian's own kernel's headers, merged below
  fi
fi
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]} > 0)); then
  [[ $(id -u) -eq 0 ]] || fail apt "missing Debian packages; run as root or: sudo apt-get install ${missing[*]}"
  log "installing ${missing[*]}"
  apt-get update -qq || fail apt "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    fail apt "apt-get install ${missing[*]} failed"
fi

command -v go >/dev/null || fail go "go is missing: install Go >= $MIN_GO_VERSION"
go_version=$(GOTOOLCHAIN=local go env GOVERSION)
go_version=${go_version#go}
if [[ $(printf '%s\n%s\n' "$MIN_GO_VERSION" "${go_version%%[!0-9.]*}" | sort -V | head -n 1) != "$MIN_GO_VERSION" ]]; then
  fail go "Go $go_version is too old: install Go >= $MIN_GO_VERSION"
fi

mkdir -p "$BIN_DIR" "$HOME_DIR"
if command -v flock >/dev/null; then
  exec 9>"$HOME_DIR/.lock"
  flock 9
  if [[ ${EBPF_EXPORTER_REBUILD:-0} != 1 ]] && up_to_date; then
    log "$WRAPPER is up to date ($STAMP_LINE)"
    exit 0
  fi
fi

# shellcheck source=lib/go-env.sh
source "$ROOT/scripts/lib/go-env.sh"
# The BCC build needs cgo (libbcc), and its module graph is resolved as go.mod says.
export GOFLAGS="-mod=mod $GOFLAGS"
export CGO_ENABLED=1

work=$(mktemp -d "${TMPDIR:-/tmp}/ebpf-exporter-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
start=$SECONDS

# `go install module@version` is not usable: it asks the proxy for the module's version list (for deprecation
# notices), which the proxy here refuses. `go mod download` of the exact version works.
log "downloading $EBPF_EXPORTER_MODULE@$EBPF_EXPORTER_VERSION from $GOPROXY"
if ! download=$(go mod download -json "$EBPF_EXPORTER_MODULE@$EBPF_EXPORTER_VERSION" 2>&1); then
  error=$(printf '%s' "$download" | sed -n 's/.*"Error": "\(.*\)",*$/\1/p' | head -n 1 | sed 's/\\n\\t*/ /g')
  fail "go mod download" "${error:-$download}"
fi
src=$(printf '%s' "$download" | sed -n 's/.*"Dir": "\(.*\)",*$/\1/p')
[[ -f $src/go.mod ]] || fail "go mod download" "no module directory in: $download"

cp -r "$src" "$work/src"
chmod -R u+w "$work/src"
rm -rf "$work/src/vendor" # only vendor/modules.txt is in the module zip; build from the module cache instead
(
  cd "$work/src"
  go mod edit "-require=github.com/iovisor/gobpf@$GOBPF_VERSION"
  log "compiling (cgo against $(pkg-config --modversion libbcc 2>/dev/null || echo 'libbcc'))"
  go build -trimpath \
    -ldflags "-s -w -X github.com/prometheus/common/version.Version=${EBPF_EXPORTER_VERSION#v} -X github.com/prometheus/common/version.Revision=module-proxy" \
    -o "$work/ebpf_exporter" ./cmd/ebpf_exporter
) >"$work/build.log" 2>&1 || fail "go build" "$(grep -v '^go: downloading' "$work/build.log" | tail -n 3 | paste -sd ' ')"
"$work/ebpf_exporter" --version >/dev/null 2>&1 || fail "smoke test" "the built binary does not run: $("$work/ebpf_exporter" --version 2>&1 | head -n 1)"

# ---- kernel headers for BCC when the running kernel has none: Debian's common + arch trees merged ----
headers_note="the running kernel's"
if ! kernel_has_headers; then
  arch_dir=$(find /usr/src -maxdepth 1 -name "linux-headers-*-$arch" | sort -V | tail -n 1)
  common_dir=${arch_dir%-"$arch"}-common
  [[ -n $arch_dir && -d $common_dir ]] || fail headers "no Debian kernel headers under /usr/src: apt-get install linux-headers-$arch"
  rm -rf "$HEADERS.tmp"
  mkdir -p "$HEADERS.tmp"
  cp -rs "$common_dir/." "$HEADERS.tmp/"
  cp -rsf "$arch_dir/." "$HEADERS.tmp/"
  [[ -f $HEADERS.tmp/include/linux/kconfig.h ]] || fail headers "$common_dir has no include/linux/kconfig.h"
  rm -rf "$HEADERS"
  mv "$HEADERS.tmp" "$HEADERS"
  headers_note="${arch_dir#/usr/src/linux-headers-} (running kernel $(uname -r) has none)"
fi

cp "$work/ebpf_exporter" "$BINARY.tmp" && mv -f "$BINARY.tmp" "$BINARY"
cat >"$WRAPPER.tmp" <<EOF
#!/bin/sh
# Written by scripts/install-ebpf-exporter.sh: ebpf_exporter $EBPF_EXPORTER_VERSION (BCC). Without kernel headers
# for the running kernel, BCC is pointed at the Debian headers merged in $HEADERS.
if [ -z "\${BCC_KERNEL_SOURCE:-}" ] && [ ! -f "/lib/modules/\$(uname -r)/build/include/linux/kconfig.h" ] &&
  [ ! -e /sys/kernel/kheaders.tar.xz ] && [ -f "$HEADERS/include/linux/kconfig.h" ]; then
  export BCC_KERNEL_SOURCE="$HEADERS"
fi
exec "$BINARY" "\$@"
EOF
chmod +x "$WRAPPER.tmp" && mv -f "$WRAPPER.tmp" "$WRAPPER"
printf '%s\nkernel headers: %s\n' "$STAMP_LINE" "$headers_note" >"$STAMP"

elapsed=$((SECONDS - start))
log "built $WRAPPER ($STAMP_LINE; kernel headers: $headers_note) in $((elapsed / 60))m$((elapsed % 60))s"

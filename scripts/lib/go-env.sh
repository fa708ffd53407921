# shellcheck shell=bash
# Sourced by the scripts that build tools from the Go module proxy (install-helm.sh, install-otelcol.sh,
# install-kubeconform.sh, k8s/install-kubernetes.sh, install-ebpf-exporter.sh): the Go environment they share.
# Needs TOOLS (the checkout's .tools). Everything Go writes (GOPATH, module cache, build cache) stays under $TOOLS/go; -modcacherw keeps the
# module cache deletable with a plain rm -rf; GOTOOLCHAIN=local forbids toolchain downloads, so the installed Go
# must satisfy the pinned modules' go directive. A script that needs more (-mod=mod, a GOBIN) adds it after.
export GOPATH=$TOOLS/go
export GOMODCACHE=$GOPATH/pkg/mod
export GOCACHE=$GOPATH/cache
export GOTOOLCHAIN=local
export GOFLAGS="-modcacherw -buildvcs=false"
export GOWORK=off
export GOPROXY=${GOPROXY:-https://proxy.golang.org}
export GOSUMDB=${GOSUMDB:-sum.golang.org}
export CGO_ENABLED=0

#!/usr/bin/env bash
# Installs an offline Kubernetes schema check for the chart, needing no cluster:
#   .tools/bin/kubeconform        kubeconform, from the Go module proxy (go install)
#   .tools/schemas/kubernetes/    the Kubernetes JSON schemas (strict: unknown fields are errors) of the PyPI package
#                                 kubernetes-validate, their $id dropped and absolute $refs made relative, so
#                                 kubeconform resolves them from disk
#   .tools/schemas/crds/          JSON schemas of the Prometheus Operator CRDs (PodMonitor, ServiceMonitor,
#                                 PrometheusRule, ...) from the prometheus-operator Go module's
#                                 example/prometheus-operator-crd, made by kubeconform's openapi2jsonschema.py,
#                                 strict as well (DENY_ROOT_ADDITIONAL_PROPERTIES; nested objects already list theirs)
# Use: kubeconform -strict -schema-location "$TOOLS/schemas/kubernetes/{{.ResourceKind}}{{.KindSuffix}}.json"
#        -schema-location "$TOOLS/schemas/crds/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json"
# (test/integration/k8s-validate.ts does). Idempotent: skipped when the stamp (.tools/schemas/version) names the pins.
# A build's output goes to .tools/logs/install-kubeconform.log; the console gets what is built and why, in one line,
# the result, and on failure the log's tail. EOA_TOOLS_DIR installs elsewhere than .tools (tests).
# Registries: the Go module proxy and PyPI (pip download), nothing else. Cold: ~1 min.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

KUBECONFORM_VERSION=v0.8.0
KUBERNETES_VALIDATE_VERSION=1.37.0
# The Kubernetes version of the schemas (one of those the package ships): the cluster's (scripts/k8s).
SCHEMA_KUBERNETES_VERSION=v1.37.0
PROMETHEUS_OPERATOR_VERSION=v0.85.0

TOOLS=${EOA_TOOLS_DIR:-$ROOT/.tools}
BIN_DIR=$TOOLS/bin
SCHEMAS=$TOOLS/schemas
STAMP=$SCHEMAS/version
STAMP_LINE="kubeconform $KUBECONFORM_VERSION kubernetes-validate $KUBERNETES_VALIDATE_VERSION ($SCHEMA_KUBERNETES_VERSION) prometheus-operator $PROMETHEUS_OPERATOR_VERSION"

TOOL_NAME=install-kubeconform
# shellcheck source=lib/build-log.sh
source "$ROOT/scripts/lib/build-log.sh"
log() { printf 'install-kubeconform: %s\n' "$*" >&2; }
up_to_date() {
  [[ -x $BIN_DIR/kubeconform && -f $STAMP && $(head -n 1 "$STAMP") == "$STAMP_LINE" ]]
}

if [[ ${KUBECONFORM_REBUILD:-0} != 1 ]] && up_to_date; then
  log "up to date ($STAMP_LINE)"
  exit 0
fi
mkdir -p "$BIN_DIR" "$SCHEMAS"
exec 9>"$BIN_DIR/.kubeconform.lock"
flock 9
if [[ ${KUBECONFORM_REBUILD:-0} != 1 ]] && up_to_date; then
  log "up to date ($STAMP_LINE)"
  exit 0
fi

# Debian's python3 with its PyYAML (openapi2jsonschema.py reads YAML), pip from whichever python has it.
PYTHON=/usr/bin/python3
if ! "$PYTHON" -c 'import yaml' 2>/dev/null; then
  log "installing python3-yaml"
  DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq --no-install-recommends python3-yaml >/dev/null
fi
PIP=(python3 -m pip)
if ! "${PIP[@]}" --version >/dev/null 2>&1; then
  if ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
    log "installing python3-pip"
    DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq --no-install-recommends python3-pip >/dev/null
  fi
  PIP=("$PYTHON" -m pip)
fi

# shellcheck source=lib/go-env.sh
source "$ROOT/scripts/lib/go-env.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/kubeconform.XXXXXX")
trap 'status=$?; rm -rf "$work"; build_log_end $status' EXIT
start=$SECONDS
build_log_begin "kubeconform $KUBECONFORM_VERSION (Go module proxy) and the strict schemas of Kubernetes $SCHEMA_KUBERNETES_VERSION (PyPI) and prometheus-operator $PROMETHEUS_OPERATOR_VERSION" \
  "the chart tests' offline schema check (what a strict API server refuses)" "~1 min cold, once"

GOBIN=$work nice -n 10 go install -trimpath -ldflags "-s -w -X main.version=$KUBECONFORM_VERSION" \
  "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"

# Kubernetes schemas.
"${PIP[@]}" download --quiet --no-deps --only-binary=:all: --dest "$work" \
  "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
wheel=$(ls "$work"/kubernetes_validate-*.whl)
mkdir "$work/wheel"
"$PYTHON" -m zipfile -e "$wheel" "$work/wheel"
src=$work/wheel/kubernetes_validate/kubernetes-json-schema/$SCHEMA_KUBERNETES_VERSION-local-strict
[[ -f $src/daemonset-apps-v1.json ]] || {
  log "no $SCHEMA_KUBERNETES_VERSION-local-strict schemas in $wheel"
  exit 1
}
"$PYTHON" - "$src" "$work/kubernetes" <<'PY'
# Drop $id (it points at kubernetes.io, which kubeconform would then try to fetch) and make the refs relative to the
# schema file: "/api/_definitions.json#/$defs/X" -> "_definitions.json#/$defs/X".
import json, os, sys
src, dest = sys.argv[1:]
os.makedirs(dest)
def fix(node):
    if isinstance(node, dict):
        node.pop("$id", None)
        ref = node.get("$ref")
        if isinstance(ref, str) and not ref.startswith("#"):
            path, hash, fragment = ref.partition("#")
            node["$ref"] = os.path.basename(path) + hash + fragment
        for value in node.values():
            fix(value)
    elif isinstance(node, list):
        for value in node:
            fix(value)
for name in os.listdir(src):
    if name.endswith(".json"):
        with open(os.path.join(src, name)) as f:
            schema = json.load(f)
        fix(schema)
        with open(os.path.join(dest, name), "w") as f:
            json.dump(schema, f)
PY

# CRD schemas.
kubeconform_dir=$(go mod download -json "github.com/yannh/kubeconform@$KUBECONFORM_VERSION" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
operator_dir=$(go mod download -json "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
mkdir "$work/crds"
(
  cd "$work/crds"
  DENY_ROOT_ADDITIONAL_PROPERTIES=1 "$PYTHON" "$kubeconform_dir/scripts/openapi2jsonschema.py" \
    "$operator_dir"/example/prometheus-operator-crd/*.yaml >/dev/null
)
[[ -f $work/crds/podmonitor_v1.json && -f $work/crds/prometheusrule_v1.json ]] || {
  log "openapi2jsonschema.py made no podmonitor_v1.json/prometheusrule_v1.json"
  exit 1
}

rm -rf "$SCHEMAS/kubernetes" "$SCHEMAS/crds"
mv "$work/kubernetes" "$SCHEMAS/kubernetes"
mv "$work/crds" "$SCHEMAS/crds"
mv -f "$work/kubeconform" "$BIN_DIR/kubeconform"
printf '%s\n' "$STAMP_LINE" >"$STAMP"
say "installed $("$BIN_DIR/kubeconform" -v), $(ls "$SCHEMAS/kubernetes" | wc -l) Kubernetes and" \
  "$(ls "$SCHEMAS/crds" | wc -l) CRD schemas in $((SECONDS - start))s"

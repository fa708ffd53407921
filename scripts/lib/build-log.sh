# shellcheck shell=bash
# Sourced by the scripts that build tools from source (install-helm.sh, install-otelcol.sh, install-kubeconform.sh,
# k8s/install-kubernetes.sh): what the console shows of a build. A cold build prints hundreds of `go: downloading`
# lines and compiler output for minutes; those go to $TOOLS/logs/$TOOL_NAME.log. The console gets one line saying
# what is built, why and about how long it takes cold, with the log's path; then the result line; and on failure
# the log's tail. Needs TOOL_NAME (the prefix of the script's lines) and TOOLS.

BUILD_LOG=
BUILD_LOG_TAIL=30

# build_log_begin WHAT WHY DURATION: announces the build in one line; from here on, the script's output goes to
# the log (fd 3 is the console, for say).
build_log_begin() {
  BUILD_LOG=$TOOLS/logs/$TOOL_NAME.log
  mkdir -p "$TOOLS/logs"
  printf '%s: building %s, for %s: %s; its output goes to %s\n' "$TOOL_NAME" "$1" "$2" "$3" "$BUILD_LOG" >&2
  exec 3>&2 >"$BUILD_LOG" 2>&1
}

# say MESSAGE: a line for the console too (and the log, once the build has begun).
say() {
  printf '%s: %s\n' "$TOOL_NAME" "$*" >&2
  if [[ -n $BUILD_LOG ]]; then printf '%s: %s\n' "$TOOL_NAME" "$*" >&3; fi
}

# build_log_end STATUS: for the EXIT trap; when the build failed, the log's tail on the console.
build_log_end() {
  if [[ -n $BUILD_LOG && $1 -ne 0 ]]; then
    {
      printf '%s: FAILED (exit %s); the last lines of %s (without its go: downloading lines):\n' \
        "$TOOL_NAME" "$1" "$BUILD_LOG"
      grep -v '^go: downloading ' "$BUILD_LOG" | tail -n "$BUILD_LOG_TAIL" | sed 's/^/    /'
    } >&3
  fi
}

#!/bin/sh
# Example --exec-handler: a desktop notification for each exec when a display is there, a log line otherwise.
#   ebpf-otel-agent --exec-handler /usr/local/bin/notify-exec.sh --exec-filter-comm '^(ssh|sudo|nc)$'
# The agent runs it directly (no shell) with the PID as $1 and the event in EXEC_PID, EXEC_PPID, EXEC_UID,
# EXEC_COMM, EXEC_PARENT_COMM, EXEC_FILENAME, EXEC_TIME. Treat every field as untrusted text: quote it, never
# eval it. Execs made here (notify-send, logger) do not trigger the handler again.
set -eu
pid=$1
summary="exec: ${EXEC_COMM:-?} (pid $pid)"
body="${EXEC_FILENAME:-?} by uid ${EXEC_UID:-?}, parent ${EXEC_PARENT_COMM:-?} (${EXEC_PPID:-?})"
if { [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; } && command -v notify-send >/dev/null 2>&1; then
  notify-send --app-name=ebpf-otel-agent -- "$summary" "$body"
elif { [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; } && command -v zenity >/dev/null 2>&1; then
  zenity --notification --text="$summary: $body" &
elif command -v logger >/dev/null 2>&1; then
  logger -t ebpf-otel-agent -- "$summary: $body"
else
  printf '%s: %s\n' "$summary" "$body" >&2
fi

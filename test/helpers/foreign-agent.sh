#!/bin/sh
# Usage: foreign-agent.sh WATCH_PID LOG PIDFILE COMMAND [ARG...]
# Starts COMMAND (an agent) outside the caller's process tree, as an agent already running on the node would be:
# a watchdog subshell starts it and this script exits at once, so both are reparented to init (or the nearest
# subreaper), never a descendant of the test run. COMMAND's pid goes to PIDFILE, its output to LOG. The watchdog
# SIGTERMs it once WATCH_PID (the test run) is gone, should the run die before its teardown stops it.
set -eu
watch=$1 log=$2 pidfile=$3
shift 3
(
  "$@" >"$log" 2>&1 </dev/null &
  agent=$!
  echo "$agent" >"$pidfile.tmp" && mv "$pidfile.tmp" "$pidfile"
  while kill -0 "$watch" 2>/dev/null && kill -0 "$agent" 2>/dev/null; do sleep 1; done
  kill "$agent" 2>/dev/null || true
) >/dev/null 2>&1 </dev/null &

#!/bin/sh
# Test exec handler: appends what it was given to calls.log next to itself. Its own execs (date, sleep) must
# never trigger the handler again.
out="$(dirname "$0")/calls.log"
now=$(date +%s%N)
printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$EXEC_PID" "$EXEC_PPID" "$EXEC_COMM" "$EXEC_FILENAME" "$now $EXEC_TIME_NS" >>"$out"
if [ -e "$(dirname "$0")/background" ]; then
  # A background child in the handler's process group, which a timeout must kill too.
  sleep 300 &
fi
if [ -n "$(cat "$(dirname "$0")/sleep" 2>/dev/null)" ]; then
  sleep "$(cat "$(dirname "$0")/sleep")"
fi

#!/usr/bin/env bash
# Every benchmark, one after another (they must not overlap: each one's timing is the others' noise), each
# writing its section of docs/benchmarks.md. About an hour on a 2-CPU machine. Run as root: npm run bench
# A failing benchmark is reported and the rest still run; the exit status says whether all passed.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh bench
failed=()
for name in syscall-cost poll scrape steady peer exec xdp net attribution soak cpu; do
  printf '\n=== bench:%s (%s)\n' "$name" "$(date -u +%H:%M:%S)" >&2
  npm run --silent "bench:$name" || failed+=("$name")
done
if ((${#failed[@]} > 0)); then
  printf 'failed: %s\n' "${failed[*]}" >&2
  exit 1
fi

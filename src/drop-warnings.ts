// Drops in the log: every drop is a counter in /metrics (ebpf_agent_events_lost_total,
// ebpf_agent_map_updates_dropped_total), but whoever reads the agent's log also learns of it, with the flag that
// makes room. A counter that moves is logged at once the first time, then at most once per REPEAT_MS while it
// keeps moving, with what it counted since its last line: a map that stays full does not fill the log.
import type { Drops, MapFill } from './collector/types.ts';
import type { Logger } from './log.ts';

/** At most one line per counter in this time: the alerts' window (EbpfOtelAgentMapFull, …EventsLost). */
export const REPEAT_MS = 10 * 60_000;

/** What makes room, by program and map ('events': the program's lost events). */
const REMEDY: Readonly<Record<string, string>> = {
  'syscalls/syscall_counts': 'raise --syscalls-max-entries',
  'syscalls/syscall_procs': 'raise --syscalls-max-entries',
  'cpu/cpu_samples': 'raise --cpu-max-entries',
  'cpu/cpu_procs': 'raise --cpu-max-entries',
  'exec/events': 'raise --exec-ring-bytes, or see fewer execs with --exec-only-uid',
};

/** What a program's lost events are (each adds to ebpf_agent_events_lost_total{program}). */
const LOST: Readonly<Record<string, string>> = {
  exec: ', the exec ring buffer was full',
  syscalls:
    ': exits or new cgroups the ring buffers had no room for between polls, or first counts of exiting processes',
  cpu: ': exits or new cgroups the ring buffers had no room for between polls, or first samples of exiting processes',
  exits: ': exits or new cgroups the ring buffers had no room for between polls',
};

/** Counters that their collector logs itself, in its own words (tc: the interface left without a slot). */
const LOGGED_ELSEWHERE = new Set(['tc/tc_slots']);

interface Reported {
  /** The counter's value at its last line (0 before any). */
  value: number;
  /** When that line was written; undefined: never. */
  atMs: number | undefined;
}

export class DropWarnings {
  readonly #logger: Logger;
  readonly #repeatMs: number;
  readonly #reported = new Map<string, Reported>();

  constructor(logger: Logger, repeatMs = REPEAT_MS) {
    this.#logger = logger;
    this.#repeatMs = repeatMs;
  }

  /** One poll's drop counters (running totals since the agent started) and map fill. */
  observe(drops: readonly Drops[], fill: readonly MapFill[], nowMs: number): void {
    for (const d of drops) {
      this.#counter(`${d.program}/events`, d.eventsLost, nowMs, (n, total) => [
        `${d.program}: ${count(n)} ${n === 1 ? 'event' : 'events'} lost${LOST[d.program] ?? ''}`,
        { program: d.program, lost: n, total },
      ]);
      for (const [map, value] of Object.entries(d.mapFull)) {
        const key = `${d.program}/${map}`;
        if (LOGGED_ELSEWHERE.has(key)) continue;
        this.#counter(key, value, nowMs, (n, total) => {
          const capacity = fill.find((f) => f.program === d.program && f.map === map)?.capacity;
          const size = capacity === undefined ? '' : ` (${count(capacity)} entries)`;
          return [
            `${d.program}: ${count(n)} ${n === 1 ? 'update' : 'updates'} dropped, map ${map} is full${size}`,
            { program: d.program, map, dropped: n, total },
          ];
        });
      }
    }
  }

  #counter(
    key: string,
    value: number,
    nowMs: number,
    line: (n: number, total: number) => [string, Record<string, unknown>],
  ): void {
    let reported = this.#reported.get(key);
    if (reported === undefined) {
      reported = { value: 0, atMs: undefined };
      this.#reported.set(key, reported);
    }
    // A counter that went back (its program started again) counts from there.
    if (value < reported.value) reported.value = 0;
    if (value === reported.value) return;
    if (reported.atMs !== undefined && nowMs - reported.atMs < this.#repeatMs) return;
    const [message, fields] = line(value - reported.value, value);
    const remedy = REMEDY[key];
    const hint = ` (ebpf_agent_${key.endsWith('/events') ? 'events_lost' : 'map_updates_dropped'}_total)`;
    this.#logger.warn(`${message}${hint}${remedy === undefined ? '' : `: ${remedy}`}`, fields);
    reported.value = value;
    reported.atMs = nowMs;
  }
}

const count = (n: number): string => n.toLocaleString('en-US');

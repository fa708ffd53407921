import { describe, expect, it } from 'vitest';
import type { Drops, MapFill } from '../../src/collector/types.ts';
import { DropWarnings, REPEAT_MS } from '../../src/drop-warnings.ts';
import type { Logger } from '../../src/log.ts';

interface Line {
  message: string;
  fields: Record<string, unknown> | undefined;
}

function recording(): { logger: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const none = (): void => undefined;
  return {
    lines,
    logger: { debug: none, info: none, error: none, warn: (message, fields) => lines.push({ message, fields }) },
  };
}

const cpu = (samples: number, lost = 0): Drops => ({
  program: 'cpu',
  eventsLost: lost,
  mapFull: { cpu_samples: samples, cpu_procs: 0 },
});
const FILL: MapFill[] = [
  { program: 'cpu', map: 'cpu_samples', entries: 32768, capacity: 32768 },
  { program: 'cpu', map: 'cpu_procs', entries: 30000, capacity: 32768 },
];

describe('DropWarnings', () => {
  it('says nothing while no counter moves', () => {
    const { logger, lines } = recording();
    const warnings = new DropWarnings(logger);
    for (let t = 0; t < 10; t++) warnings.observe([cpu(0)], FILL, t * 5000);
    expect(lines).toEqual([]);
  });

  it('logs a full map at once, with its capacity, its metric and the flag that makes room', () => {
    const { logger, lines } = recording();
    new DropWarnings(logger).observe([cpu(9295)], FILL, 0);
    expect(lines).toEqual([
      {
        message:
          'cpu: 9,295 updates dropped, map cpu_samples is full (32,768 entries) ' +
          '(ebpf_agent_map_updates_dropped_total): raise --cpu-max-entries',
        fields: { program: 'cpu', map: 'cpu_samples', dropped: 9295, total: 9295 },
      },
    ]);
  });

  it('names --syscalls-max-entries for the syscall maps and --exec-ring-bytes for lost execs', () => {
    const { logger, lines } = recording();
    new DropWarnings(logger).observe(
      [
        { program: 'syscalls', eventsLost: 0, mapFull: { syscall_counts: 0, syscall_procs: 3 } },
        { program: 'exec', eventsLost: 7, mapFull: { exec_descendants: 0 } },
      ],
      [],
      0,
    );
    expect(lines.map((l) => l.message)).toEqual([
      'syscalls: 3 updates dropped, map syscall_procs is full (ebpf_agent_map_updates_dropped_total): ' +
        'raise --syscalls-max-entries',
      'exec: 7 events lost, the exec ring buffer was full (ebpf_agent_events_lost_total): ' +
        'raise --exec-ring-bytes, or see fewer execs with --exec-only-uid',
    ]);
  });

  it('then at most once per counter in REPEAT_MS, with what it counted since its last line', () => {
    const { logger, lines } = recording();
    const warnings = new DropWarnings(logger);
    warnings.observe([cpu(100)], FILL, 0);
    warnings.observe([cpu(150, 2)], FILL, 5000);
    warnings.observe([cpu(400, 2)], FILL, REPEAT_MS - 1);
    warnings.observe([cpu(500, 2)], FILL, REPEAT_MS);
    // Stands still: nothing, however long.
    warnings.observe([cpu(500, 2)], FILL, 5 * REPEAT_MS);
    warnings.observe([cpu(501, 2)], FILL, 5 * REPEAT_MS + 1);
    expect(lines.map((l) => l.fields)).toEqual([
      { program: 'cpu', map: 'cpu_samples', dropped: 100, total: 100 },
      // The lost events are a counter of their own: their first line comes at once.
      { program: 'cpu', lost: 2, total: 2 },
      { program: 'cpu', map: 'cpu_samples', dropped: 400, total: 500 },
      { program: 'cpu', map: 'cpu_samples', dropped: 1, total: 501 },
    ]);
  });

  it('leaves tc_slots to the tc collector, which logs the interface left out', () => {
    const { logger, lines } = recording();
    new DropWarnings(logger).observe(
      [{ program: 'tc', eventsLost: 0, mapFull: { tc_slots: 2, tc_counts: 5 } }],
      [{ program: 'tc', map: 'tc_counts', entries: 512, capacity: 512 }],
      0,
    );
    expect(lines.map((l) => l.message)).toEqual([
      'tc: 5 updates dropped, map tc_counts is full (512 entries) (ebpf_agent_map_updates_dropped_total)',
    ]);
  });

  it('counts again from a counter that went back', () => {
    const { logger, lines } = recording();
    const warnings = new DropWarnings(logger, 0);
    warnings.observe([cpu(10)], FILL, 0);
    warnings.observe([cpu(4)], FILL, 1);
    expect(lines.map((l) => l.fields?.dropped)).toEqual([10, 4]);
  });

  it('says one event, one update', () => {
    const { logger, lines } = recording();
    new DropWarnings(logger).observe([cpu(1, 1)], FILL, 0);
    expect(lines.map((l) => l.message.split(' (')[0])).toEqual([
      'cpu: 1 event lost: exits or new cgroups the ring buffers had no room for between polls, or first samples of exiting processes',
      'cpu: 1 update dropped, map cpu_samples is full',
    ]);
  });
});

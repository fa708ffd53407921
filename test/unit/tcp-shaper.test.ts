// The tcp program's user side without a kernel: lanes of struct tcp_counts → event series and one latency
// histogram per executable and container (held at 0 when new, as every aggregate), and the socket maps' drops.
import { describe, expect, it } from 'vitest';
import type { ProcessCollector, ProcessCounts } from '../../src/collector/process.ts';
import {
  TCP_EVENT_NAMES,
  TCP_LANES,
  TCP_LATENCY_BOUNDARIES,
  TcpCollector,
  TcpSeriesShaper,
} from '../../src/collector/tcp.ts';

const T0 = 1_700_000_000_000;
const EVENTS = TCP_EVENT_NAMES.length;

/** Lanes: events by name, latency sum (ns), buckets by index. */
function lanes(events: Record<string, number>, sumNs = 0, buckets: Record<number, number> = {}): number[] {
  const out = new Array<number>(TCP_LANES.length).fill(0);
  for (const [name, n] of Object.entries(events)) out[TCP_EVENT_NAMES.indexOf(name as never)] = n;
  out[EVENTS] = sumNs;
  for (const [i, n] of Object.entries(buckets)) out[EVENTS + 1 + Number(i)] = n;
  return out;
}

const proc = (pid: number, comm: string, counts: number[], exited = false): ProcessCounts => ({
  pid,
  comm,
  cgroupId: 7n,
  counts,
  startMs: T0,
  exited,
});

describe('TcpSeriesShaper', () => {
  it('has the kernel bounds: 20 powers of two from 8 µs to 4.194304 s', () => {
    expect(TCP_LATENCY_BOUNDARIES).toHaveLength(20);
    expect(TCP_LATENCY_BOUNDARIES[0]).toBe(0.000008);
    expect(TCP_LATENCY_BOUNDARIES.at(-1)).toBe(4.194304);
    expect(TCP_LANES).toHaveLength(EVENTS + 1 + 21);
  });

  it('publishes events per executable and one histogram, held at 0 for the hold, exited processes kept', () => {
    const shaper = new TcpSeriesShaper({
      maxSeries: 100,
      holdMs: 1_000,
      attribute: () => ({ containerId: 'c1' }),
    });
    const a = proc(
      10,
      'curl',
      lanes({ connect_attempts: 3, connect_failures: 1, resets_received: 1 }, 90_000, { 2: 2 }),
    );
    const b = proc(11, 'curl', lanes({ connect_attempts: 1 }, 4_000_000_000, { 19: 1 }));
    const held = shaper.shape({ processes: [a, b], unowned: 2 }, T0 + 100);
    expect(held.unowned).toBe(2);
    expect(held.series.every((s) => s.value === 0)).toBe(true);
    expect(held.latency).toHaveLength(1);
    expect(held.latency[0]!.counts.every((c) => c === 0)).toBe(true);

    // After the hold; b has exited (its final counts stay in the aggregate).
    const shaped = shaper.shape({ processes: [a, { ...b, exited: true }], unowned: 2 }, T0 + 1_200);
    const value = (event: string): number =>
      shaped.series.filter((s) => s.syscall === event && s.comm === 'curl').reduce((n, s) => n + s.value, 0);
    expect(value('connect_attempts')).toBe(4);
    expect(value('connect_failures')).toBe(1);
    expect(value('resets_received')).toBe(1);
    expect(shaped.series.some((s) => s.syscall.startsWith('latency'))).toBe(false);
    expect(shaped.latency).toHaveLength(1);
    const h = shaped.latency[0]!;
    expect(h.comm).toBe('curl');
    expect(h.attribution).toEqual({ containerId: 'c1' });
    expect(h.counts).toHaveLength(21);
    expect(h.counts[2]).toBe(2);
    expect(h.counts[19]).toBe(1);
    expect(h.counts.reduce((x, y) => x + y, 0)).toBe(3);
    expect(h.sum).toBeCloseTo(4.00009, 9);

    const later = shaper.shape({ processes: [a], unowned: 2 }, T0 + 2_000);
    expect(later.latency[0]!.counts[19]).toBe(1);
  });
});

describe('TcpSeriesShaper budgets', () => {
  it('gives each tcp metric a budget of its own and counts its folds apart', () => {
    const shaper = new TcpSeriesShaper({ maxSeries: 2, holdMs: 0 });
    const procs = [
      // curl: attempts, failures, and a histogram of two buckets (3 lanes: the sum and two buckets).
      proc(10, 'curl', lanes({ connect_attempts: 2, connect_failures: 1 }, 50_000, { 2: 1, 3: 1 })),
      proc(11, 'wget', lanes({ connect_attempts: 1 })),
      proc(12, 'nc', lanes({ connect_attempts: 1 })),
    ];
    const shaped = shaper.shape({ processes: procs, unowned: 0 }, T0 + 1_000);
    // Three executables' attempts in a budget of 2: one folded; failures: one series, none; latency: 3 lanes, one.
    expect(shaped.folded).toEqual({
      retransmits: 0,
      resets_sent: 0,
      resets_received: 0,
      connect_attempts: 1,
      connect_failures: 0,
      latency: 1,
    });
    const attempts = shaped.series.filter((s) => s.syscall === 'connect_attempts');
    expect(attempts.reduce((n, s) => n + s.value, 0)).toBe(4);
    expect(attempts.filter((s) => s.comm === 'other')).toHaveLength(1);
    // The failures' series is not crowded out by the latency lanes or the attempts (a budget per metric).
    expect(shaped.series.filter((s) => s.syscall === 'connect_failures').map((s) => [s.comm, s.value])).toEqual([
      ['curl', 1],
    ]);
    // Every handshake is in a histogram, the folded lane under "other".
    const handshakes = shaped.latency.flatMap((h) => h.counts).reduce((x, y) => x + y, 0);
    expect(handshakes).toBe(2);
  });
});

describe('TcpCollector', () => {
  it('adds the socket maps to the drops and the map fill', () => {
    const processes = {
      attached: () => true,
      collect: () => ({ processes: [] }),
      commit: () => undefined,
      drops: () => ({ program: 'tcp', eventsLost: 1, mapFull: { tcp_counts: 2, tcp_procs: 0 } }),
      mapFill: () => [{ program: 'tcp', map: 'tcp_counts', entries: 1, capacity: 16384 }],
      close: () => undefined,
    } as unknown as ProcessCollector;
    const collector = new TcpCollector(processes, {
      readSocketDrops: () => [3, 4, 5],
      socketFill: () => ({ socks: 9, socksCapacity: 65536, listeners: 1, listenersCapacity: 4096 }),
    });
    expect(collector.collect(T0).unowned).toBe(5);
    expect(collector.drops()).toEqual({
      program: 'tcp',
      eventsLost: 1,
      mapFull: { tcp_counts: 2, tcp_procs: 0, tcp_socks: 3, tcp_listeners: 4 },
    });
    expect(collector.mapFill().map((m) => [m.map, m.entries, m.capacity])).toEqual([
      ['tcp_counts', 1, 16384],
      ['tcp_socks', 9, 65536],
      ['tcp_listeners', 1, 4096],
    ]);
  });
});

// The exits program's user side without a kernel: exits_counts decoding, signal names, and the series it publishes
// (increases per key to labelled aggregates, held when new, retired after the group retention, folded beyond the
// budget), with a fake source.
import { describe, expect, it } from 'vitest';
import type { MapSnapshot } from '../../src/bpf/index.ts';
import { EXIT_KEY, EXITS_MAP_SIZES } from '../../src/bpf/layouts.ts';
import {
  AggregateCounters,
  decodeExitCounts,
  ExitsCollector,
  signalName,
  type ExitCount,
  type ExitKey,
  type ExitSource,
} from '../../src/collector/exits.ts';
import type { Attributor } from '../../src/collector/series.ts';

interface RawKey {
  cgroupId: bigint;
  executable: string;
  reason: number;
  signal: number;
  codeNonzero?: boolean;
  coreDumped?: boolean;
  oomKilled?: boolean;
  generation?: number;
}

function snapshotOf(entries: [RawKey, number][]): MapSnapshot {
  const { keySize, valueSize } = EXITS_MAP_SIZES.exits_counts;
  const keys = new DataView(new ArrayBuffer(keySize * entries.length));
  const values = new DataView(new ArrayBuffer(valueSize * entries.length));
  const f = EXIT_KEY.fields;
  entries.forEach(([k, count], i) => {
    const base = i * keySize;
    keys.setBigUint64(base + f.cgroup_id.offset, k.cgroupId, true);
    new Uint8Array(keys.buffer, base + f.executable.offset, f.executable.size).set(
      new TextEncoder().encode(k.executable),
    );
    keys.setUint8(base + f.reason.offset, k.reason);
    keys.setUint8(base + f.signal.offset, k.signal);
    keys.setUint8(base + f.code_nonzero.offset, k.codeNonzero ? 1 : 0);
    keys.setUint8(base + f.core_dumped.offset, k.coreDumped ? 1 : 0);
    keys.setUint8(base + f.oom_killed.offset, k.oomKilled ? 1 : 0);
    keys.setUint8(base + f.generation.offset, k.generation ?? 0);
    values.setBigUint64(i * valueSize, BigInt(count), true);
  });
  return { count: entries.length, keys, values, keySize, valueSize };
}

describe('exits_counts decoding', () => {
  it('decodes each way of ending', () => {
    const counts = decodeExitCounts(
      snapshotOf([
        [{ cgroupId: 7n, executable: 'nginx', reason: 0, signal: 0 }, 5],
        [{ cgroupId: 7n, executable: 'nginx', reason: 0, signal: 0, codeNonzero: true }, 2],
        [{ cgroupId: 9n, executable: 'java', reason: 1, signal: 9, oomKilled: true }, 1],
        [{ cgroupId: 9n, executable: 'java', reason: 1, signal: 11, coreDumped: true }, 3],
        [{ cgroupId: 9n, executable: 'java', reason: 1, signal: 11, coreDumped: true, generation: 1 }, 4],
      ]),
    );
    expect(counts.map((c) => [c.key, c.count])).toEqual([
      [
        {
          cgroupId: 7n,
          executable: 'nginx',
          reason: 'exited',
          codeNonzero: false,
          coreDumped: false,
          oomKilled: false,
          generation: 0,
        },
        5,
      ],
      [
        {
          cgroupId: 7n,
          executable: 'nginx',
          reason: 'exited',
          codeNonzero: true,
          coreDumped: false,
          oomKilled: false,
          generation: 0,
        },
        2,
      ],
      [
        {
          cgroupId: 9n,
          executable: 'java',
          reason: 'signaled',
          signal: 'SIGKILL',
          codeNonzero: false,
          coreDumped: false,
          oomKilled: true,
          generation: 0,
        },
        1,
      ],
      [
        {
          cgroupId: 9n,
          executable: 'java',
          reason: 'signaled',
          signal: 'SIGSEGV',
          codeNonzero: false,
          coreDumped: true,
          oomKilled: false,
          generation: 0,
        },
        3,
      ],
      [
        {
          cgroupId: 9n,
          executable: 'java',
          reason: 'signaled',
          signal: 'SIGSEGV',
          codeNonzero: false,
          coreDumped: true,
          oomKilled: false,
          generation: 1,
        },
        4,
      ],
    ]);
    // The same key in the other generation is a key of its own.
    expect(new Set(counts.map((c) => c.id)).size).toBe(5);
  });

  it.each([
    [9, 'SIGKILL'],
    [11, 'SIGSEGV'],
    [15, 'SIGTERM'],
    [6, 'SIGABRT'],
    [31, 'SIGSYS'],
    [32, 'SIGRTMIN+0'],
    [34, 'SIGRTMIN+2'],
    [64, 'SIGRTMIN+32'],
    [100, 'SIG100'],
  ])('names signal %i %s', (n, name) => {
    expect(signalName(n)).toBe(name);
  });
});

describe('AggregateCounters', () => {
  const options = { maxSeries: 2, holdMs: 1_000, groupRetentionMs: 10_000, exitedRetentionMs: 5_000 };
  const counters = (): AggregateCounters<{ name: string }> =>
    new AggregateCounters<{ name: string }>(
      options,
      () => '',
      () => ({ name: 'other' }),
    );

  it('holds a new series at 0, then shows its count; it only grows', () => {
    const c = counters();
    c.add('a', { name: 'a' }, 2, 0);
    expect(c.shape(0).series).toEqual([{ labels: { name: 'a' }, value: 0, startMs: 0 }]);
    expect(c.shape(500).series.map((s) => s.value)).toEqual([0]);
    c.add('a', { name: 'a' }, 1, 1_000);
    expect(c.shape(1_000).series).toEqual([{ labels: { name: 'a' }, value: 3, startMs: 0 }]);
  });

  it('retires a series that did not grow for the group retention; it comes back from 0, held', () => {
    const c = counters();
    c.add('a', { name: 'a' }, 4, 0);
    c.shape(0);
    expect(c.shape(10_999).series.map((s) => s.value)).toEqual([4]);
    c.shape(11_000);
    // Retired: shown at its final value for the budget's retention, then gone.
    expect(c.shape(30_000).series).toEqual([]);
    c.add('a', { name: 'a' }, 1, 31_000);
    expect(c.shape(31_000).series).toEqual([{ labels: { name: 'a' }, value: 0, startMs: 31_000 }]);
    expect(c.shape(32_000).series).toEqual([{ labels: { name: 'a' }, value: 1, startMs: 31_000 }]);
  });

  it('folds series beyond the budget into the fold labels', () => {
    const c = counters();
    c.add('a', { name: 'a' }, 5, 0);
    c.add('b', { name: 'b' }, 4, 0);
    c.add('c', { name: 'c' }, 1, 0);
    const shaped = c.shape(2_000);
    expect(shaped.series.map((s) => [s.labels.name, s.value]).sort()).toEqual([
      ['a', 5],
      ['b', 4],
      // The folded series is new at this poll: held at 0 from its own first poll, as every new series.
      ['other', 0],
    ]);
    expect(shaped.foldedTotal).toBe(1);
    expect(c.shape(3_000).series.find((s) => s.labels.name === 'other')?.value).toBe(1);
  });
});

class FakeSource implements ExitSource {
  counts: ExitCount[] = [];
  releases = 0;
  release(): void {
    this.releases++;
  }
  cgroups: { id: bigint; path: string }[] = [];
  drops = [0, 0, 0, 0, 0];
  readCounts(): ExitCount[] {
    return this.counts;
  }
  readDrops(): number[] {
    return this.drops;
  }
  drainCgroups(): { id: bigint; path: string }[] {
    const out = this.cgroups;
    this.cgroups = [];
    return out;
  }
  capacity(): number {
    return 16_384;
  }
  attached(): boolean {
    return true;
  }
  close(): void {}
}

const key = (over: Partial<ExitKey>): ExitKey => ({
  cgroupId: 1n,
  executable: 'job',
  reason: 'exited',
  codeNonzero: false,
  coreDumped: false,
  oomKilled: false,
  generation: 0,
  ...over,
});

describe('ExitsCollector', () => {
  it('adds each key’s increase to its labelled series, OOM kills apart, cgroups learnt first', () => {
    const source = new FakeSource();
    const learnt: string[] = [];
    const containers = new Map<bigint, string>();
    const attribute: Attributor = (id) => {
      const containerId = containers.get(id);
      return containerId === undefined ? {} : { containerId };
    };
    const collector = new ExitsCollector(source, {
      maxSeries: 100,
      holdMs: 0,
      groupRetentionMs: 60_000,
      exitedRetentionMs: 0,
      attribute,
      onCgroup: (id, path) => {
        learnt.push(path);
        containers.set(id, path.split('/').at(-1)!);
      },
    });
    const killed = key({ cgroupId: 5n, reason: 'signaled', signal: 'SIGKILL', oomKilled: true });
    source.cgroups = [{ id: 5n, path: '/kubepods/podx/c0ffee' }];
    source.counts = [
      { id: 'ok', key: key({}), count: 3 },
      { id: 'oom', key: killed, count: 1 },
    ];
    const first = collector.collect(1_000);
    expect(learnt).toEqual(['/kubepods/podx/c0ffee']);
    expect(first.exits.series.map((s) => [s.labels, s.value])).toEqual([
      [{ executable: 'job', reason: 'exited', codeClass: '0', attribution: {} }, 3],
      [
        {
          executable: 'job',
          reason: 'signaled',
          signal: 'SIGKILL',
          coreDumped: false,
          attribution: { containerId: 'c0ffee' },
        },
        1,
      ],
    ]);
    expect(first.oomKills.series.map((s) => [s.labels, s.value])).toEqual([
      [{ executable: 'job', attribution: { containerId: 'c0ffee' } }, 1],
    ]);
    // The kernel's counts are cumulative: only the increase is added.
    source.counts = [
      { id: 'ok', key: key({}), count: 4 },
      { id: 'oom', key: killed, count: 1 },
    ];
    expect(collector.collect(2_000).exits.series.map((s) => s.value)).toEqual([4, 1]);
    source.drops = [2, 0, 0, 1, 0];
    collector.collect(3_000);
    expect(collector.drops()).toEqual({ program: 'exits', eventsLost: 1, mapFull: { exits_counts: 2 } });
    expect(collector.mapFill()).toEqual([{ program: 'exits', map: 'exits_counts', entries: 2, capacity: 16_384 }]);
  });

  it('adds a final key’s last increase, forgets it, and counts its successor of the same identity from 0', () => {
    const source = new FakeSource();
    const collector = new ExitsCollector(source, {
      maxSeries: 100,
      holdMs: 0,
      groupRetentionMs: 60_000,
      exitedRetentionMs: 0,
    });
    const g0 = key({});
    const g1 = key({ generation: 1 });
    const value = (now: number): number[] => collector.collect(now).exits.series.map((s) => s.value);
    source.counts = [{ id: 'g0', key: g0, count: 3 }];
    expect(value(1_000)).toEqual([3]);
    // Flipped: g0's key is read for the last time (2 more since), g1's has 1; then g0's is deleted.
    source.counts = [
      { id: 'g0', key: g0, count: 5, final: true },
      { id: 'g1', key: g1, count: 1 },
    ];
    expect(value(2_000)).toEqual([6]);
    // Flipped back: a new g0 key (the same identity, made again from 0) counts in full; g1's is final.
    source.counts = [
      { id: 'g1', key: g1, count: 2, final: true },
      { id: 'g0', key: g0, count: 1 },
    ];
    expect(value(3_000)).toEqual([8]);
    source.counts = [{ id: 'g0', key: g0, count: 4, final: true }];
    expect(value(4_000)).toEqual([11]);
    expect(source.releases).toBe(4);
  });
});

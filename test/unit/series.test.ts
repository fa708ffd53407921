// SyscallSeriesShaper and ExecSeriesShaper (src/collector/series.ts): from per-process counts to published series.
import { describe, expect, it, vi } from 'vitest';
import type { ExecCount } from '../../src/collector/exec.ts';
import {
  ExecSeriesShaper,
  noAttribution,
  OTHER,
  SyscallSeriesShaper,
  type Attribution,
  type ShapedSyscalls,
  type SyscallSeries,
} from '../../src/collector/series.ts';
import type { ProcessSyscalls } from '../../src/collector/syscalls.ts';

function proc(
  pid: number,
  comm: string,
  counts: number[],
  options: { cgroupId?: bigint; startMs?: number; exited?: boolean } = {},
): ProcessSyscalls {
  return {
    pid,
    comm,
    cgroupId: options.cgroupId ?? 0n,
    counts,
    startMs: options.startMs ?? 1_000,
    exited: options.exited ?? false,
  };
}

const NGINX: Attribution = {
  containerId: 'c1c1c1',
  podUid: '11111111-2222-3333-4444-555555555555',
  podName: 'web-0',
  podNamespace: 'shop',
};

/** Knows cgroup 7 (a pod's container) and 9 (a container outside Kubernetes); nothing else. */
function attributor() {
  return vi.fn((cgroupId: bigint, _pid: number): Attribution => {
    if (cgroupId === 7n) return { ...NGINX };
    if (cgroupId === 9n) return { containerId: 'c9c9c9' };
    return {};
  });
}

const sum = (shaped: ShapedSyscalls): number => shaped.series.reduce((n, s) => n + s.value, 0);
const countsOf = (processes: ProcessSyscalls[]): number =>
  processes.reduce((n, p) => n + p.counts.reduce((a, b) => a + b, 0), 0);

/** Series as `comm/container/syscall` (per-executable) → value. */
function byName(shaped: ShapedSyscalls): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of shaped.series) {
    const name = `${s.comm}/${s.attribution.containerId ?? '-'}/${s.syscall}`;
    expect(out[name], `duplicate series ${name}`).toBeUndefined();
    out[name] = s.value;
  }
  return out;
}

describe('SyscallSeriesShaper: per process', () => {
  it('publishes pid, comm and syscall series with the attribution of the cgroup, without zero counts', () => {
    const attribute = attributor();
    const shaper = new SyscallSeriesShaper({ maxSeries: 100, maxProcessSeries: 100, pidLabels: true, attribute });
    const shaped = shaper.shape(
      [
        proc(100, 'nginx', [3, 0, 5, 0], { cgroupId: 7n }),
        proc(200, 'bash', [0, 0, 0, 0]),
        proc(300, 'curl', [0, 2, 0, 1], { cgroupId: 9n }),
        proc(400, 'sshd', [0, 0, 4, 0], { cgroupId: 123n }),
      ],
      1_000,
    );
    expect({ series: shaped.processes, foldedTotal: shaped.processFoldedTotal }).toEqual({
      series: [
        { pid: 100, comm: 'nginx', syscall: 'openat', value: 3, startMs: 1_000, attribution: NGINX },
        { pid: 100, comm: 'nginx', syscall: 'write', value: 5, startMs: 1_000, attribution: NGINX },
        { pid: 300, comm: 'curl', syscall: 'read', value: 2, startMs: 1_000, attribution: { containerId: 'c9c9c9' } },
        {
          pid: 300,
          comm: 'curl',
          syscall: 'connect',
          value: 1,
          startMs: 1_000,
          attribution: { containerId: 'c9c9c9' },
        },
        { pid: 400, comm: 'sshd', syscall: 'write', value: 4, startMs: 1_000, attribution: {} },
      ],
      foldedTotal: 0,
    });
    expect(attribute).toHaveBeenCalledWith(7n, 100);
    expect(attribute).toHaveBeenCalledWith(9n, 300);
    expect(attribute).toHaveBeenCalledWith(123n, 400);
  });

  it('gives no attribution without an attributor', () => {
    expect(noAttribution(5n, 1)).toEqual({});
    const shaper = new SyscallSeriesShaper({ maxSeries: 10, maxProcessSeries: 10, pidLabels: true });
    expect(shaper.shape([proc(1, 'a', [1, 0, 0, 0], { cgroupId: 7n })], 1_000).processes!).toEqual([
      { pid: 1, comm: 'a', syscall: 'openat', value: 1, startMs: 1_000, attribution: {} },
    ]);
  });

  it("starts a process's series when its counting began, and follows its counts", () => {
    const shaper = new SyscallSeriesShaper({ maxSeries: 10, maxProcessSeries: 10, pidLabels: true });
    shaper.shape([proc(100, 'a', [0, 1, 0, 0])], 1_000);
    const shaped = shaper.shape(
      [proc(100, 'a', [2, 9, 0, 0]), proc(200, 'b', [0, 0, 1, 0], { startMs: 6_000 })],
      6_000,
    );
    // Its first openat at 6,000 was counted since the process's start (1,000): a point from 1,000 to 6,000.
    expect(shaped.processes!.map((s) => [s.pid, s.syscall, s.value, s.startMs])).toEqual([
      [100, 'openat', 2, 1_000],
      [100, 'read', 9, 1_000],
      [200, 'write', 1, 6_000],
    ]);
  });

  it('publishes the final counts of an exited process once', () => {
    const shaper = new SyscallSeriesShaper({ maxSeries: 10, maxProcessSeries: 10, pidLabels: true });
    shaper.shape([proc(100, 'a', [0, 1, 0, 0]), proc(200, 'b', [1, 0, 0, 0])], 1_000);
    const final = shaper.shape([proc(100, 'a', [0, 4, 0, 0], { exited: true }), proc(200, 'b', [1, 0, 0, 0])], 2_000);
    expect(final.processes!.map((s) => [s.pid, s.value])).toEqual([
      [100, 4],
      [200, 1],
    ]);
    expect(shaper.shape([proc(200, 'b', [2, 0, 0, 0])], 3_000).processes!.map((s) => [s.pid, s.value])).toEqual([
      [200, 2],
    ]);
  });

  it('folds the series beyond the budget into one per syscall, with pid and comm "other" and no attribution', () => {
    const shaper = new SyscallSeriesShaper({
      maxSeries: 100,
      maxProcessSeries: 2,
      pidLabels: true,
      attribute: attributor(),
    });
    const processes = [
      proc(100, 'nginx', [0, 500, 400, 0], { cgroupId: 7n }),
      proc(200, 'curl', [3, 10, 0, 1], { cgroupId: 9n }),
      proc(300, 'sh', [2, 20, 0, 0]),
    ];
    const shaped = shaper.shape(processes, 1_000);
    expect(shaped.processes!).toEqual([
      { pid: 100, comm: 'nginx', syscall: 'read', value: 500, startMs: 1_000, attribution: NGINX },
      { pid: 100, comm: 'nginx', syscall: 'write', value: 400, startMs: 1_000, attribution: NGINX },
      { pid: OTHER, comm: OTHER, syscall: 'openat', value: 5, startMs: 1_000, attribution: {} },
      { pid: OTHER, comm: OTHER, syscall: 'read', value: 30, startMs: 1_000, attribution: {} },
      { pid: OTHER, comm: OTHER, syscall: 'connect', value: 1, startMs: 1_000, attribution: {} },
    ]);
    expect(OTHER).toBe('other');
    expect(shaped.processFoldedTotal).toBe(5);
    expect(sum(shaped)).toBe(countsOf(processes));
  });

  it('keeps the folded series and their start when the processes in them exit', () => {
    const shaper = new SyscallSeriesShaper({ maxSeries: 100, maxProcessSeries: 1, pidLabels: true });
    shaper.shape([proc(100, 'big', [0, 100, 0, 0]), proc(200, 'small', [0, 5, 0, 0])], 1_000);
    shaper.shape([proc(100, 'big', [0, 200, 0, 0]), proc(200, 'small', [0, 6, 0, 0], { exited: true })], 2_000);
    const shaped = shaper.shape([proc(100, 'big', [0, 300, 0, 0])], 3_000);
    expect(shaped.processes!).toEqual([
      { pid: 100, comm: 'big', syscall: 'read', value: 300, startMs: 1_000, attribution: {} },
      { pid: OTHER, comm: OTHER, syscall: 'read', value: 6, startMs: 1_000, attribution: {} },
    ]);
  });

  it('makes a reused pid (same pid, new start) a new series', () => {
    const shaper = new SyscallSeriesShaper({ maxSeries: 10, maxProcessSeries: 10, pidLabels: true });
    shaper.shape([proc(100, 'first', [0, 50, 0, 0], { startMs: 1_000 })], 1_000);
    // The first process exits and another gets its pid within the same interval; the new one has more calls.
    const shaped = shaper.shape(
      [
        proc(100, 'first', [0, 60, 0, 0], { startMs: 1_000, exited: true }),
        proc(100, 'second', [0, 80, 0, 0], { startMs: 2_000 }),
      ],
      2_000,
    );
    expect(shaped.processes!.map((s) => [s.pid, s.comm, s.value, s.startMs])).toEqual([
      [100, 'first', 60, 1_000],
      [100, 'second', 80, 2_000],
    ]);
    // The next process with that pid counts from its own start, with fewer calls than the one before.
    shaper.shape([proc(100, 'second', [0, 81, 0, 0], { startMs: 2_000, exited: true })], 3_000);
    const later = shaper.shape([proc(100, 'third', [0, 10, 0, 0], { startMs: 4_000 })], 4_000);
    expect(later.processes!.map((s) => [s.pid, s.comm, s.value, s.startMs])).toEqual([[100, 'third', 10, 4_000]]);
  });
  it('never publishes two series with the same labels, through pid reuse, vanishing and returning processes and a contested budget (random workload)', () => {
    let seed = 11;
    const random = (): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    for (let trial = 0; trial < 40; trial++) {
      const shaper = new SyscallSeriesShaper({
        maxSeries: 4,
        maxProcessSeries: 1 + (trial % 6),
        pidLabels: true,
        exitedRetentionMs: 3_000,
        visibleMs: 1_000,
      });
      let live: ProcessSyscalls[] = [];
      for (let poll = 1; poll <= 40; poll++) {
        const now = poll * 1_000;
        // A new process takes a pid no live process has (an exited one's, at times).
        const pid = 1 + Math.floor(random() * 6);
        if (random() < 0.6 && !live.some((p) => p.pid === pid && !p.exited))
          live.push(proc(pid, 'p0', [0, 0, 0, 0], { startMs: now - 1_000 }));
        for (const p of live) {
          if (p.exited) continue; // reported again as it was
          for (let s = 0; s < 4; s++) if (random() < 0.4) p.counts[s]! += Math.floor(random() * 10);
          if (random() < 0.1) p.comm = `p${Math.floor(random() * 3)}`;
          if (random() < 0.1) p.exited = true;
        }
        // Now and then a process is missing from one collection and back in the next.
        const missing = random() < 0.15 ? Math.floor(random() * live.length) : -1;
        const report = live.filter((_, i) => i !== missing).map((p) => ({ ...p, counts: [...p.counts] }));
        const shaped = shaper.shape(report, now);
        const seen = new Set<string>();
        for (const series of shaped.processes!) {
          const id = `${series.pid}/${series.comm}/${series.syscall}`;
          expect(seen.has(id), `trial ${trial} poll ${poll}: ${id} twice`).toBe(false);
          seen.add(id);
        }
        // An exit is sometimes reported again (its poll was not published).
        if (random() < 0.8) live = live.filter((p) => !p.exited);
      }
    }
  });
  it('continues a retained series from its value when a new process takes its pid, executable and container', () => {
    const shaper = new SyscallSeriesShaper({
      maxSeries: 10,
      maxProcessSeries: 10,
      pidLabels: true,
      exitedRetentionMs: 60_000,
    });
    shaper.shape([proc(100, 'sh', [0, 50, 0, 0], { startMs: 1_000 })], 1_000);
    shaper.shape([proc(100, 'sh', [0, 60, 0, 0], { startMs: 1_000, exited: true })], 2_000);
    // Retained at 60; another sh gets pid 100 while it is: one series of those labels, which does not go down, so
    // increase() counts only the new process's 7 calls (two series of the same labels, or one that restarted at 7
    // under a reader that saw 60, would count 67 or miss 7).
    const shaped = shaper.shape([proc(100, 'sh', [0, 7, 0, 0], { startMs: 2_000 })], 3_000);
    expect(shaped.processes!.map((s) => [s.pid, s.comm, s.syscall, s.value, s.startMs])).toEqual([
      [100, 'sh', 'read', 67, 1_000],
    ]);
    const later = shaper.shape([proc(100, 'sh', [0, 9, 0, 0], { startMs: 2_000 })], 4_000);
    expect(later.processes!.map((s) => s.value)).toEqual([69]);
    // Another executable under that pid is a series of other labels: both are published, each with its own count.
    const other = new SyscallSeriesShaper({
      maxSeries: 10,
      maxProcessSeries: 10,
      pidLabels: true,
      exitedRetentionMs: 60_000,
    });
    other.shape([proc(100, 'sh', [0, 60, 0, 0], { startMs: 1_000, exited: true })], 2_000);
    const both = other.shape([proc(100, 'node', [0, 7, 0, 0], { startMs: 2_000 })], 3_000);
    expect(both.processes!.map((s) => [s.comm, s.value])).toEqual([
      ['node', 7],
      ['sh', 60],
    ]);
  });
});

describe('SyscallSeriesShaper: per executable (pidLabels: false)', () => {
  const perExecutable = (maxSeries = 100) =>
    new SyscallSeriesShaper({ maxSeries, pidLabels: false, attribute: attributor() });

  it('counts an exit once even when the collector reports it again (its poll was not published)', () => {
    const shaper = perExecutable();
    const reads = (shaped: ShapedSyscalls): number[] => shaped.series.map((s) => s.value);
    expect(reads(shaper.shape([proc(1, 'job', [0, 10, 0, 0]), proc(2, 'job', [0, 5, 0, 0])], 1_000))).toEqual([15]);
    // pid 2 exits with 6 reads; that poll fails to publish, so the collector reports the exit again.
    const exit = proc(2, 'job', [0, 6, 0, 0], { exited: true });
    expect(reads(shaper.shape([proc(1, 'job', [0, 11, 0, 0]), exit], 2_000))).toEqual([17]);
    expect(reads(shaper.shape([proc(1, 'job', [0, 12, 0, 0]), exit], 3_000))).toEqual([18]);
    // Committed: no longer reported. The aggregate keeps the exit's 6, once.
    expect(reads(shaper.shape([proc(1, 'job', [0, 13, 0, 0])], 4_000))).toEqual([19]);
    // A new process that reuses pid 2 later (another start time) is its own contribution.
    const reuse = proc(2, 'job', [0, 1, 0, 0], { startMs: 5_000 });
    expect(reads(shaper.shape([proc(1, 'job', [0, 13, 0, 0]), reuse], 5_000))).toEqual([20]);
  });

  it('publishes one series per executable, container and syscall, without a pid', () => {
    const shaper = perExecutable();
    const shaped = shaper.shape(
      [
        proc(1, 'nginx', [0, 10, 1, 0], { cgroupId: 7n }),
        proc(2, 'nginx', [0, 5, 0, 0], { cgroupId: 7n }),
        proc(3, 'nginx', [0, 7, 0, 0], { cgroupId: 9n }),
        proc(4, 'nginx', [0, 1, 0, 0]),
        proc(5, 'bash', [0, 2, 0, 0]),
      ],
      1_000,
    );
    expect(shaped.series).toEqual<SyscallSeries[]>([
      { pid: undefined, comm: 'nginx', syscall: 'read', value: 15, startMs: 1_000, attribution: NGINX },
      { pid: undefined, comm: 'nginx', syscall: 'write', value: 1, startMs: 1_000, attribution: NGINX },
      {
        pid: undefined,
        comm: 'nginx',
        syscall: 'read',
        value: 7,
        startMs: 1_000,
        attribution: { containerId: 'c9c9c9' },
      },
      { pid: undefined, comm: 'nginx', syscall: 'read', value: 1, startMs: 1_000, attribution: {} },
      { pid: undefined, comm: 'bash', syscall: 'read', value: 2, startMs: 1_000, attribution: {} },
    ]);
    expect(shaped.foldedTotal).toBe(0);
  });

  it('keeps the calls of exited and vanished processes: an aggregate never decreases', () => {
    const shaper = perExecutable();
    expect(byName(shaper.shape([proc(1, 'w', [0, 10, 0, 0]), proc(2, 'w', [0, 5, 0, 0])], 1_000))).toEqual({
      'w/-/read': 15,
    });
    // 1 exits with its final count
    expect(
      byName(shaper.shape([proc(1, 'w', [0, 12, 0, 0], { exited: true }), proc(2, 'w', [0, 6, 0, 0])], 2_000)),
    ).toEqual({ 'w/-/read': 18 });
    expect(byName(shaper.shape([proc(2, 'w', [0, 7, 0, 0])], 3_000))).toEqual({ 'w/-/read': 19 });
    // 3 starts; 2's keys vanish without an exit event: its last count stays
    expect(byName(shaper.shape([proc(3, 'w', [0, 1, 0, 0], { startMs: 4_000 })], 4_000))).toEqual({
      'w/-/read': 20,
    });
    // nobody left: the series stays with everything counted
    const empty = shaper.shape([], 5_000);
    expect(byName(empty)).toEqual({ 'w/-/read': 20 });
    expect(empty.series[0]?.startMs).toBe(1_000);
  });

  it('adds the calls of a process that reuses a pid to those of the one before', () => {
    const shaper = perExecutable();
    shaper.shape([proc(100, 'sh', [0, 50, 0, 0], { startMs: 1_000 })], 1_000);
    shaper.shape([proc(100, 'sh', [0, 50, 0, 0], { startMs: 1_000, exited: true })], 2_000);
    expect(byName(shaper.shape([proc(100, 'sh', [0, 80, 0, 0], { startMs: 3_000 })], 3_000))).toEqual({
      'sh/-/read': 130,
    });
    // and also when the old one vanished without an exit and the new one has fewer calls
    expect(byName(shaper.shape([proc(100, 'sh', [0, 3, 0, 0], { startMs: 4_000 })], 4_000))).toEqual({
      'sh/-/read': 133,
    });
  });

  it('keeps the calls a process made before an exec in the old name, and counts only later ones in the new', () => {
    const shaper = perExecutable();
    expect(byName(shaper.shape([proc(1, 'sh', [1, 10, 0, 0])], 1_000))).toEqual({
      'sh/-/openat': 1,
      'sh/-/read': 10,
    });
    expect(byName(shaper.shape([proc(1, 'python3', [2, 25, 4, 0])], 2_000))).toEqual({
      'sh/-/openat': 1,
      'sh/-/read': 10,
      'python3/-/openat': 1,
      'python3/-/read': 15,
      'python3/-/write': 4,
    });
    expect(byName(shaper.shape([proc(1, 'python3', [3, 30, 4, 0], { exited: true })], 3_000))).toEqual({
      'sh/-/openat': 1,
      'sh/-/read': 10,
      'python3/-/openat': 2,
      'python3/-/read': 20,
      'python3/-/write': 4,
    });
    const after = shaper.shape([proc(2, 'sh', [0, 1, 0, 0])], 4_000);
    expect(byName(after)).toEqual({
      'sh/-/openat': 1,
      'sh/-/read': 11,
      'python3/-/openat': 2,
      'python3/-/read': 20,
      'python3/-/write': 4,
    });
    expect(sum(after)).toBe(37 + 1);
  });

  it('keeps working when a process execs and never again makes a call it made before (exit or vanish)', () => {
    for (const end of ['exit', 'vanish'] as const) {
      const shaper = perExecutable();
      shaper.shape([proc(1, 'a', [1, 10, 0, 0])], 1_000);
      // exec'd into b: no openat since, so b has no openat series
      expect(byName(shaper.shape([proc(1, 'b', [1, 10, 0, 0])], 2_000))).toEqual({ 'a/-/openat': 1, 'a/-/read': 10 });
      const last = end === 'exit' ? [proc(1, 'b', [1, 17, 0, 0], { exited: true })] : [];
      shaper.shape(last, 3_000);
      expect(byName(shaper.shape([], 4_000)), end).toEqual({
        'a/-/openat': 1,
        'a/-/read': 10,
        ...(end === 'exit' ? { 'b/-/read': 7 } : {}),
      });
    }
  });

  it('keeps the sum of all calls ever made, through exits, execs and pid reuse (random workload)', () => {
    let seed = 7;
    const random = (): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    const shaper = perExecutable(1_000);
    let live: ProcessSyscalls[] = [];
    let gone = 0;
    const previous = new Map<string, number>();
    for (let poll = 1; poll <= 60; poll++) {
      const now = poll * 1_000;
      if (random() < 0.5) live.push(proc(1 + Math.floor(random() * 5), 'p0', [0, 0, 0, 0], { startMs: now }));
      for (const p of live) {
        for (let s = 0; s < 4; s++) if (random() < 0.5) p.counts[s]! += Math.floor(random() * 10);
        if (random() < 0.1) p.comm = `p${Math.floor(random() * 3)}`;
        if (random() < 0.1) p.exited = true;
      }
      const report = live.map((p) => ({ ...p, counts: [...p.counts] }));
      const shaped = shaper.shape(report, now);
      expect(sum(shaped), `poll ${poll}`).toBe(countsOf(report) + gone);
      for (const [name, value] of Object.entries(byName(shaped))) {
        expect(value, `poll ${poll}: ${name}`).toBeGreaterThanOrEqual(previous.get(name) ?? 0);
        previous.set(name, value);
      }
      gone += countsOf(report.filter((p) => p.exited));
      live = live.filter((p) => !p.exited);
    }
    expect(gone).toBeGreaterThan(0);
  });

  it('folds executables beyond the budget into comm "other" per syscall, still without a pid', () => {
    const shaper = perExecutable(1);
    const processes = [
      proc(1, 'nginx', [0, 100, 0, 0], { cgroupId: 7n }),
      proc(2, 'bash', [0, 2, 0, 0]),
      proc(3, 'ls', [1, 3, 0, 0]),
    ];
    const shaped = shaper.shape(processes, 1_000);
    expect(shaped.series).toEqual([
      { pid: undefined, comm: 'nginx', syscall: 'read', value: 100, startMs: 1_000, attribution: NGINX },
      { pid: undefined, comm: OTHER, syscall: 'read', value: 5, startMs: 1_000, attribution: {} },
      { pid: undefined, comm: OTHER, syscall: 'openat', value: 1, startMs: 1_000, attribution: {} },
    ]);
    expect(shaped.foldedTotal).toBe(3);
    expect(sum(shaped)).toBe(countsOf(processes));
  });
});

describe('ExecSeriesShaper', () => {
  const exec = (executable: string, parentExecutable: string, count: number, startMs = 1_000): ExecCount => ({
    executable,
    parentExecutable,
    count,
    startMs,
  });

  it('publishes every (executable, parent) pair with its count while under budget', () => {
    const shaper = new ExecSeriesShaper(10);
    expect(shaper.shape([exec('ls', 'bash', 4), exec('sh', 'cron', 1)], 1_000)).toEqual({
      series: [
        { comm: 'ls', parentComm: 'bash', value: 4, startMs: 1_000 },
        { comm: 'sh', parentComm: 'cron', value: 1, startMs: 1_000 },
      ],
      foldedTotal: 0,
      endedEarlyTotal: 0,
    });
    expect(shaper.shape([exec('ls', 'bash', 6), exec('sh', 'cron', 1)], 2_000).series.map((e) => e.value)).toEqual([
      6, 1,
    ]);
  });

  it('folds pairs beyond the budget into other/other, keeping the total', () => {
    const shaper = new ExecSeriesShaper(2);
    const execs = [
      exec('ls', 'bash', 40),
      exec('grep', 'bash', 30),
      exec('sh', 'cron', 2),
      exec('date', 'sh', 1),
      exec('cat', 'sh', 5),
    ];
    const shaped = shaper.shape(execs, 1_000);
    expect(shaped).toEqual({
      series: [
        { comm: 'ls', parentComm: 'bash', value: 40, startMs: 1_000 },
        { comm: 'grep', parentComm: 'bash', value: 30, startMs: 1_000 },
        { comm: OTHER, parentComm: OTHER, value: 8, startMs: 1_000 },
      ],
      foldedTotal: 3,
      endedEarlyTotal: 0,
    });
    // a new pair with no slot folds as well; the folded series keeps its start
    const later = shaper.shape([...execs.map((e) => ({ ...e, count: e.count + 1 })), exec('id', 'sh', 1)], 2_000);
    expect(later.series).toEqual([
      { comm: 'ls', parentComm: 'bash', value: 41, startMs: 1_000 },
      { comm: 'grep', parentComm: 'bash', value: 31, startMs: 1_000 },
      { comm: OTHER, parentComm: OTHER, value: 12, startMs: 1_000 },
    ]);
    expect(later.foldedTotal).toBe(4);
  });

  it('publishes no folded series while nothing is folded', () => {
    const shaper = new ExecSeriesShaper(1);
    expect(shaper.shape([], 1_000)).toEqual({ series: [], foldedTotal: 0, endedEarlyTotal: 0 });
    expect(shaper.shape([exec('ls', 'bash', 1, 2_000)], 2_000).series).toEqual([
      { comm: 'ls', parentComm: 'bash', value: 1, startMs: 2_000 },
    ]);
    // the first fold starts the folded series
    expect(shaper.shape([exec('ls', 'bash', 2, 2_000), exec('ps', 'bash', 1, 3_000)], 3_000).series).toEqual([
      { comm: 'ls', parentComm: 'bash', value: 2, startMs: 2_000 },
      { comm: OTHER, parentComm: OTHER, value: 1, startMs: 3_000 },
    ]);
  });
});

describe('SyscallSeriesShaper: per executable, labels that arrive later', () => {
  it('takes pod names once they are known, and keeps host and pod processes of one name apart', () => {
    let named = false;
    const attribute = (cgroupId: bigint): Attribution =>
      cgroupId === 7n ? (named ? { podUid: 'u-1', podName: 'web', podNamespace: 'default' } : { podUid: 'u-1' }) : {};
    const shaper = new SyscallSeriesShaper({ maxSeries: 100, pidLabels: false, attribute });
    const host = proc(10, 'sh', [0, 5, 0, 0]);
    const inPod = proc(11, 'sh', [0, 7, 0, 0], { cgroupId: 7n });
    const first = shaper.shape([host, inPod], 1_000);
    const reads = (shaped: ShapedSyscalls) =>
      shaped.series.filter((s) => s.syscall === 'read').map((s) => [s.value, s.attribution]);
    expect(reads(first)).toEqual([
      [5, {}],
      [7, { podUid: 'u-1' }],
    ]);
    named = true;
    const second = shaper.shape([host, inPod], 2_000);
    expect(reads(second)).toEqual([
      [5, {}],
      [7, { podUid: 'u-1', podName: 'web', podNamespace: 'default' }],
    ]);
  });
});

describe('SyscallSeriesShaper: two views', () => {
  it('publishes the aggregate (no pid) and the per-process view from the same counts', () => {
    const shaper = new SyscallSeriesShaper({ maxSeries: 100, pidLabels: true });
    const shaped = shaper.shape([proc(1, 'job', [0, 10, 0, 0]), proc(2, 'job', [0, 5, 0, 0])], 1_000);
    expect(shaped.series.map((s) => [s.pid, s.comm, s.syscall, s.value])).toEqual([[undefined, 'job', 'read', 15]]);
    expect(shaped.processes!.map((s) => [s.pid, s.value])).toEqual([
      [1, 10],
      [2, 5],
    ]);
    expect(new SyscallSeriesShaper({ maxSeries: 100, pidLabels: false }).shape([], 1_000).processes).toBeUndefined();
  });

  it('keeps an exited process in the per-process view for the retention, at its final counts', () => {
    const shaper = new SyscallSeriesShaper({ maxSeries: 100, pidLabels: true, exitedRetentionMs: 10_000 });
    shaper.shape([proc(1, 'job', [0, 10, 0, 0])], 1_000);
    const pids = (now: number, processes: ProcessSyscalls[] = []): unknown[] =>
      shaper.shape(processes, now).processes!.map((s) => [s.pid, s.value]);
    expect(pids(2_000, [proc(1, 'job', [0, 12, 0, 0], { exited: true })])).toEqual([[1, 12]]);
    // Reported again (the poll was not published): the same retained series, not a second one.
    expect(pids(3_000, [proc(1, 'job', [0, 12, 0, 0], { exited: true })])).toEqual([[1, 12]]);
    expect(pids(11_000)).toEqual([[1, 12]]);
    expect(pids(12_000)).toEqual([[1, 12]]); // the last poll of its retention
    expect(pids(13_000)).toEqual([]);
    // The aggregate kept the exit's counts all along.
    expect(shaper.shape([], 14_000).series.map((s) => s.value)).toEqual([12]);
  });

  it('ends a retained process at its retention even when the budget demoted it meanwhile', () => {
    // Budget 1: the exited job keeps its slot until a busy process takes it; its series is then retired, and must
    // still leave when the job's retention is over, not a whole retention after the demotion.
    const shaper = new SyscallSeriesShaper({
      maxSeries: 10,
      maxProcessSeries: 1,
      pidLabels: true,
      exitedRetentionMs: 10_000,
    });
    shaper.shape([proc(1, 'job', [0, 10, 0, 0])], 1_000);
    const jobSeen = (now: number, processes: ProcessSyscalls[] = []): boolean =>
      shaper.shape(processes, now).processes!.some((s) => s.pid === 1);
    expect(jobSeen(2_000, [proc(1, 'job', [0, 12, 0, 0], { exited: true })])).toBe(true);
    const busy = (reads: number) => [proc(2, 'busy', [0, reads, 0, 0], { startMs: 8_000 })];
    expect(jobSeen(8_000, busy(1_000))).toBe(true); // demoted now: retired at 12
    expect(jobSeen(12_000, busy(2_000))).toBe(true); // the last poll of its retention
    expect(jobSeen(13_000, busy(3_000))).toBe(false);
  });

  it('ends a retained process at once when a live process takes its pid', () => {
    const shaper = new SyscallSeriesShaper({ maxSeries: 100, pidLabels: true, exitedRetentionMs: 60_000 });
    shaper.shape([proc(7, 'old', [0, 1, 0, 0], { exited: true })], 1_000);
    const shaped = shaper.shape([proc(7, 'new', [0, 2, 0, 0], { startMs: 2_000 })], 2_000);
    expect(shaped.processes!.map((s) => [s.pid, s.comm, s.value])).toEqual([
      [7, 'new', 2],
      [7, 'old', 1],
    ]);
    expect(shaper.shape([proc(7, 'new', [0, 3, 0, 0], { startMs: 2_000 })], 3_000).processes!.length).toBe(1);
  });

  it('holds a new aggregate series at 0 for the hold, so a scraper sees its start, then shows its whole count', () => {
    const shaper = new SyscallSeriesShaper({ maxSeries: 100, pidLabels: true, holdMs: 20_000 });
    const aggregate = (now: number, processes: ProcessSyscalls[]): number[] =>
      shaper.shape(processes, now).series.map((s) => s.value);
    expect(aggregate(1_000, [proc(1, 'job', [0, 10, 0, 0])])).toEqual([0]);
    // A short job ends within the hold: its counts are kept, not shown yet, never lost.
    expect(aggregate(5_000, [proc(1, 'job', [0, 30, 0, 0], { exited: true })])).toEqual([0]);
    expect(aggregate(20_000, [])).toEqual([0]);
    expect(aggregate(21_000, [])).toEqual([30]);
    // The per-process view is not held: it is for who is busy now.
    const fresh = shaper.shape([proc(2, 'new', [0, 4, 0, 0])], 22_000);
    expect(fresh.processes!.map((s) => [s.pid, s.value])).toEqual([[2, 4]]);
    expect(fresh.series.map((s) => [s.comm, s.value])).toEqual([
      ['job', 30],
      ['new', 0],
    ]);
  });

  it('counts the retention of a held group from the end of its hold: its final value stands that long', () => {
    // A job in its own container lives one poll: its group is made, held at 0, and never changes again.
    const shaper = new SyscallSeriesShaper({
      maxSeries: 100,
      pidLabels: false,
      groupRetentionMs: 10_000,
      holdMs: 6_000,
    });
    const shown: [number, number][] = [];
    shaper.shape([proc(1, 'job', [0, 7, 0, 0], { exited: true })], 1_000);
    for (let now = 2_000; now <= 30_000; now += 1_000) {
      const series = shaper.shape([], now).series;
      if (series.length > 0) shown.push([now, series[0]!.value]);
    }
    const nonZero = shown.filter(([, value]) => value === 7).map(([now]) => now);
    // Held until 7,000 (start 1,000 + 6,000), then 7 for the retention: 7,000 … 17,000 (its last poll), gone next.
    expect(shown.filter(([, value]) => value === 0).map(([now]) => now)).toEqual([2_000, 3_000, 4_000, 5_000, 6_000]);
    expect([nonZero[0], nonZero.at(-1)]).toEqual([7_000, 17_000]);
    expect(shown.at(-1)![0]).toBe(17_000);
  });

  it('holds each folded series from its own first poll: a syscall folded later starts at 0 too', () => {
    // Budget 1: the busiest series keeps the slot; the first fold is of reads only, connects fold much later.
    const shaper = new SyscallSeriesShaper({ maxSeries: 1, pidLabels: false, holdMs: 10_000 });
    const other = (now: number, processes: ProcessSyscalls[]): Record<string, [number, number]> => {
      const out: Record<string, [number, number]> = {};
      for (const s of shaper.shape(processes, now).series) if (s.comm === OTHER) out[s.syscall] = [s.value, s.startMs];
      return out;
    };
    const busy = (reads: number) => proc(1, 'busy', [0, reads, 0, 0]);
    expect(other(1_000, [busy(100), proc(2, 'quiet', [0, 5, 0, 0])])).toEqual({ read: [0, 1_000] });
    expect(other(12_000, [busy(200), proc(2, 'quiet', [0, 6, 0, 0])])).toEqual({ read: [6, 1_000] });
    // connect is first folded at 30,000: its series is new, so it is held at 0 from there, not shown at once.
    const withConnect = [busy(300), proc(2, 'quiet', [0, 6, 0, 0]), proc(3, 'dialer', [0, 0, 0, 9])];
    expect(other(30_000, withConnect)).toEqual({ read: [6, 1_000], connect: [0, 30_000] });
    expect(other(41_000, withConnect)).toEqual({ read: [6, 1_000], connect: [9, 30_000] });
  });

  it('lets a group no process is in leave once its final value stood for the retention; it comes back from 0', () => {
    const shaper = new SyscallSeriesShaper({ maxSeries: 100, pidLabels: false, groupRetentionMs: 10_000 });
    const aggregate = (now: number, processes: ProcessSyscalls[] = []): unknown[] =>
      shaper.shape(processes, now).series.map((s) => [s.comm, s.value, s.startMs]);
    expect(aggregate(1_000, [proc(1, 'cron-job', [0, 5, 0, 0])])).toEqual([['cron-job', 5, 1_000]]);
    expect(aggregate(2_000, [proc(1, 'cron-job', [0, 8, 0, 0], { exited: true })])).toEqual([['cron-job', 8, 1_000]]);
    expect(aggregate(11_000)).toEqual([['cron-job', 8, 1_000]]);
    expect(aggregate(12_000)).toEqual([['cron-job', 8, 1_000]]); // its last poll
    expect(aggregate(13_000)).toEqual([]);
    // The next run is a new series, from its own start.
    expect(aggregate(20_000, [proc(2, 'cron-job', [0, 3, 0, 0], { startMs: 20_000 })])).toEqual([
      ['cron-job', 3, 20_000],
    ]);
    // A group with a live process stays however long it is quiet.
    expect(aggregate(60_000, [proc(2, 'cron-job', [0, 3, 0, 0], { startMs: 20_000 })])).toEqual([
      ['cron-job', 3, 20_000],
    ]);
  });
});

/**
 * What PromQL's increase() adds up from a scraper that reads every `every`-th poll: per label set, the growth
 * between the samples it saw, a fall read as a counter reset (the new value counts whole). Label sets are kept
 * when a series leaves, as Prometheus keeps a series' samples.
 */
class PromqlLedger {
  counted = 0;
  readonly #last = new Map<string, number>();

  read(series: readonly SyscallSeries[]): void {
    for (const s of series) {
      const labels = `${s.pid}/${s.comm}/${s.attribution.containerId ?? ''}/${s.syscall}`;
      const last = this.#last.get(labels);
      this.counted += last === undefined ? s.value : s.value >= last ? s.value - last : s.value;
      this.#last.set(labels, s.value);
    }
  }
}

describe('SyscallSeriesShaper: short jobs in fresh containers through a small budget, read as PromQL does', () => {
  // One busy job a poll, each in a container of its own and gone by the next poll, as in promql-60s.test.ts's
  // budgeted agent: every job's fresh series is busier than any member, so it takes a slot, is demoted while
  // still held at 0, and waits as a retired series. A reader at the hold's pace must count every call once.
  for (const every of [1, 3]) {
    it(`loses and doubles nothing for a reader of every ${every === 1 ? 'poll' : `${every}rd poll`}`, () => {
      const poll = 1_000;
      const ledger = new PromqlLedger();
      let truth = 0;
      const containers = new Map<bigint, Attribution>();
      const attributed = new SyscallSeriesShaper({
        maxSeries: 3,
        pidLabels: false,
        holdMs: (every + 1) * poll,
        visibleMs: (every + 1) * poll,
        groupRetentionMs: 10 * every * poll,
        exitedRetentionMs: 10 * every * poll,
        attribute: (cgroupId) => containers.get(cgroupId) ?? {},
      });
      const random = (() => {
        let a = 7;
        return () => (a = (a * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
      })();
      for (let i = 1; i <= 200; i++) {
        const now = i * poll;
        const processes: ProcessSyscalls[] = [];
        if (i <= 150) {
          containers.set(BigInt(i), { containerId: `c${i}` });
          const reads = 1_000 + Math.floor(random() * 1_000);
          truth += reads;
          processes.push(proc(i, 'job', [0, reads, 0, 0], { cgroupId: BigInt(i), exited: true, startMs: now - poll }));
        }
        const shaped = attributed.shape(processes, now);
        if (i % every === 0) ledger.read(shaped.series);
      }
      expect(ledger.counted).toBe(truth);
    });
  }
});

describe('SyscallSeriesShaper: jobs in fresh containers among a busy background, a slow reader', () => {
  it('loses and doubles nothing', () => {
    const poll = 5_000;
    const scrape = 60_000;
    const containers = new Map<bigint, Attribution>();
    const shaper = new SyscallSeriesShaper({
      maxSeries: 10,
      pidLabels: false,
      holdMs: scrape + poll,
      visibleMs: scrape + poll,
      groupRetentionMs: 10 * scrape,
      exitedRetentionMs: 120_000,
      attribute: (cgroupId) => containers.get(cgroupId) ?? {},
    });
    const ledger = new PromqlLedger();
    let truth = 0;
    let seed = 11;
    const random = (): number => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    // 30 background processes, each with its own executable, making calls at their own steady rates.
    const background = Array.from({ length: 30 }, (_, i) => ({ pid: 1_000 + i, rate: 1 + Math.floor(random() * 400) }));
    const counts = new Map<number, number[]>();
    let job = 0;
    for (let i = 1; i <= 400; i++) {
      const now = i * poll;
      const processes: ProcessSyscalls[] = [];
      for (const b of background) {
        const c = counts.get(b.pid) ?? [0, 0, 0, 0];
        for (const s of [1, 3]) {
          // Quiet from poll 300 on, so the reader's last reads see every final value.
          const n = i < 300 ? Math.floor(random() * b.rate) : 0;
          c[s]! += n;
          truth += n;
        }
        counts.set(b.pid, c);
        processes.push(proc(b.pid, `bg${b.pid}`, [...c], { startMs: poll }));
      }
      if (i <= 150)
        for (let k = 0; k < 5; k++) {
          job++;
          containers.set(BigInt(job), { containerId: `c${job}` });
          truth += 2 * 5_000;
          processes.push(
            proc(100_000 + job, 'ctrjob', [0, 5_000, 0, 5_000], {
              cgroupId: BigInt(job),
              exited: true,
              startMs: now - poll,
            }),
          );
        }
      const shaped = shaper.shape(processes, now);
      if (i % (scrape / poll) === 0) ledger.read(shaped.series);
    }
    expect(ledger.counted).toBe(truth);
  });
});

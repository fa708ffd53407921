// ProcessCollector's series lifecycle (syscalls and cpu), driven by a fake ProcessSource that packs its state into
// MapSnapshots and exit records with the kernel's layouts (test/helpers/layouts.ts: the offsets of
// src/bpf/layouts.ts, generated from the objects' BTF): u32 tgid → u64 lanes, u32 tgid → struct process_info, and
// exits as struct process_exit_event through decodeProcessExit. poll() does what the agent does: collect, publish,
// commit.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { MapSnapshot } from '../../src/bpf/index.ts';
import { COUNTED_SYSCALL, PROCESS_DROP, PROCESS_INFO } from '../../src/bpf/layouts.ts';
import {
  decodeProcessExit,
  procAlive,
  procExecutable,
  processAt,
  ProcessCollector,
  type ProcessCounts,
  type ProcessExit,
  type ProcessSnapshot,
  type ProcessSource,
} from '../../src/collector/process.ts';
import { SyscallSeriesShaper } from '../../src/collector/series.ts';
import { SYSCALL_NAMES } from '../../src/collector/syscalls.ts';
import { countsSnapshot, processExitEvent, processInfosSnapshot } from '../helpers/layouts.ts';

const {
  SYSCALL_OPENAT: OPENAT,
  SYSCALL_READ: READ,
  SYSCALL_WRITE: WRITE,
  SYSCALL_CONNECT: CONNECT,
} = COUNTED_SYSCALL.values;

/** Drop counters with the given slots (enum process_drop) set. */
function drops(counts: Partial<Record<keyof typeof PROCESS_DROP.values, number>>): number[] {
  const out = new Array<number>(PROCESS_DROP.values.PROCESS_DROP_MAX).fill(0);
  for (const [slot, n] of Object.entries(counts))
    out[PROCESS_DROP.values[slot as keyof typeof PROCESS_DROP.values]] = n;
  return out;
}

const encoder = new TextEncoder();

/** The kernel's executable name: at most PROCESS_EXECUTABLE_LEN - 1 bytes and a NUL. */
const kernelName = (name: string): Uint8Array =>
  encoder.encode(name).subarray(0, PROCESS_INFO.fields.executable.size - 1);

/** A collection's processes as objects, in its rows' order. */
function rowsOf(snapshot: ProcessSnapshot): ProcessCounts[] {
  return Array.from({ length: snapshot.processes.rows.length }, (_, k) => processAt(snapshot.processes, k));
}

/** The agent's order: collect, publish (nothing to do here), commit. */
function poll(collector: ProcessCollector, nowMs: number): { processes: ProcessCounts[] } {
  const snapshot = collector.collect(nowMs);
  const processes = rowsOf(snapshot);
  collector.commit();
  return { processes };
}

/** collect() alone, its processes as objects. */
function collected(collector: ProcessCollector, nowMs: number): ProcessCounts[] {
  return rowsOf(collector.collect(nowMs));
}

interface KernelProc {
  executable: string;
  cgroupId: bigint;
}

class FakeProcessSource implements ProcessSource {
  /** (tgid, syscall) → calls, in insertion order like a map dump. */
  readonly counts = new Map<number, Map<number, number>>();
  /** tgid → struct process_info. */
  readonly procs = new Map<number, KernelProc>();
  /** Exit records as the ring buffer holds them: packed struct process_exit_event. */
  pendingExits: DataView[] = [];
  dropCounters: number[] = drops({});
  readonly deleteCalls: number[][] = [];
  cap = { counts: 65536, procs: 16384 };
  /** The kernel's count of writes to syscall_procs (syscall_info_writes), and how often the agent read the map. */
  infoWrites = 0;
  procsReads = 0;
  isAttached = true;
  closed = 0;

  /**
   * The process makes `n` more calls of `syscall`; on the first one the kernel remembers its executable name and
   * cgroup id (bpf_get_current_cgroup_id) in syscall_procs.
   */
  call(tgid: number, syscall: number, n = 1, executable?: string, cgroupId = 0n): void {
    let calls = this.counts.get(tgid);
    if (calls === undefined) {
      calls = new Map();
      this.counts.set(tgid, calls);
    }
    calls.set(syscall, (calls.get(syscall) ?? 0) + n);
    if (executable !== undefined && !this.procs.has(tgid)) {
      this.procs.set(tgid, { executable, cgroupId });
      this.infoWrites++;
    }
  }

  /** sched_process_exec of a counted process: the kernel rewrites its executable name and cgroup id. */
  exec(tgid: number, executable: string, cgroupId: bigint): void {
    const proc = this.procs.get(tgid);
    if (proc !== undefined) {
      proc.executable = executable;
      proc.cgroupId = cgroupId;
      this.infoWrites++;
    }
  }

  /** The process ends: the kernel writes an exit event with its executable name and current cgroup id. */
  exit(
    tgid: number,
    executable = this.procs.get(tgid)?.executable ?? '',
    cgroupId = this.procs.get(tgid)?.cgroupId ?? 0n,
  ): void {
    this.pendingExits.push(
      processExitEvent({
        boot_ns: 987_654_321n,
        tgid,
        _pad: 0,
        executable: kernelName(executable),
        cgroup_id: cgroupId,
      }),
    );
  }

  drainExits(): ProcessExit[] {
    const records = this.pendingExits;
    this.pendingExits = [];
    return records.map(decodeProcessExit);
  }

  readCounts(): MapSnapshot {
    // As the kernel lays it out: key u32 tgid, value one u64 lane per counted syscall.
    return countsSnapshot(
      SYSCALL_NAMES.length,
      [...this.counts].map(([tgid, calls]) => {
        const lanes = new Array<number>(SYSCALL_NAMES.length).fill(0);
        for (const [syscall, n] of calls) lanes[syscall] = n;
        return [tgid, lanes];
      }),
    );
  }

  readInfoWrites(): number {
    return this.infoWrites;
  }

  readProcs(): MapSnapshot {
    this.procsReads++;
    return processInfosSnapshot(
      [...this.procs].map(([tgid, { executable, cgroupId }]) => [
        tgid,
        { executable: kernelName(executable), cgroupId },
      ]),
    );
  }

  readDrops(): number[] {
    return [...this.dropCounters];
  }

  deleteProcesses(pids: readonly number[]): void {
    this.deleteCalls.push([...pids]);
    for (const pid of pids) {
      this.counts.delete(pid);
      this.procs.delete(pid);
    }
  }

  capacity(): { counts: number; procs: number } {
    return this.cap;
  }

  attached(): boolean {
    return this.isAttached;
  }

  close(): void {
    this.closed++;
  }
}

/** A collector whose /proc lookups are fakes that fail the test if used unexpectedly. */
function setup(options: { alive?: (pid: number) => boolean; executable?: (pid: number) => string | undefined } = {}) {
  const source = new FakeProcessSource();
  const processAlive = vi.fn(
    options.alive ??
      ((pid: number): boolean => {
        throw new Error(`processAlive(${pid}) was not expected`);
      }),
  );
  const processExecutable = vi.fn(options.executable ?? ((): string | undefined => undefined));
  const collector = new ProcessCollector(source, { processAlive, processExecutable });
  return { source, collector, processAlive, processExecutable };
}

const byPid = (processes: ProcessCounts[]): Map<number, ProcessCounts> => new Map(processes.map((p) => [p.pid, p]));

describe('ProcessCollector: live processes', () => {
  it('returns a process with its counts and keeps the start time of its first collection', () => {
    const { source, collector } = setup();
    source.call(100, OPENAT, 3, 'curl');
    source.call(100, READ, 5);
    source.call(100, CONNECT, 1);
    expect(poll(collector, 1_000).processes).toEqual([
      { pid: 100, comm: 'curl', cgroupId: 0n, counts: [3, 5, 0, 1], startMs: 1_000, exited: false },
    ]);

    source.call(100, WRITE, 2);
    source.call(100, READ, 10);
    expect(poll(collector, 6_000).processes).toEqual([
      { pid: 100, comm: 'curl', cgroupId: 0n, counts: [3, 15, 2, 1], startMs: 1_000, exited: false },
    ]);
    expect(poll(collector, 11_000).processes).toEqual([
      { pid: 100, comm: 'curl', cgroupId: 0n, counts: [3, 15, 2, 1], startMs: 1_000, exited: false },
    ]);
    expect(source.deleteCalls).toEqual([]);
  });

  it('starts a process that appears later at the collection before (it had no count then)', () => {
    const { source, collector } = setup();
    source.call(100, READ, 1, 'a');
    poll(collector, 1_000);
    source.call(200, WRITE, 1, 'b');
    const processes = byPid(poll(collector, 2_000).processes);
    // The first collection has nothing before it: its processes start there (or at sinceMs, when given).
    expect(processes.get(100)?.startMs).toBe(1_000);
    expect(processes.get(200)?.startMs).toBe(1_000);
    source.call(300, WRITE, 1, 'c');
    expect(byPid(poll(collector, 7_000).processes).get(300)?.startMs).toBe(2_000);
  });

  it('starts the processes of the first collection when counting began', () => {
    const source = new FakeProcessSource();
    const collector = new ProcessCollector(source, { sinceMs: 400, processExecutable: () => undefined });
    source.call(100, READ, 1, 'a');
    expect(poll(collector, 1_000).processes[0]?.startMs).toBe(400);
  });

  it('returns nothing when the kernel has counted nothing', () => {
    const { collector, source } = setup();
    expect(poll(collector, 1_000)).toEqual({ processes: [] });
    expect(source.deleteCalls).toEqual([]);
  });
});

describe('ProcessCollector: exits', () => {
  it('returns an exited process once with its final counts, deletes its keys, then forgets it', () => {
    const { source, collector } = setup();
    source.call(100, READ, 4, 'worker');
    source.call(200, WRITE, 1, 'daemon');
    poll(collector, 1_000);

    source.call(100, READ, 6);
    source.call(100, OPENAT, 2);
    source.exit(100);
    const second = poll(collector, 2_000).processes;
    expect(byPid(second).get(100)).toEqual({
      pid: 100,
      comm: 'worker',
      cgroupId: 0n,
      counts: [2, 10, 0, 0],
      startMs: 1_000,
      exited: true,
    });
    expect(byPid(second).get(200)).toEqual({
      pid: 200,
      comm: 'daemon',
      cgroupId: 0n,
      counts: [0, 0, 1, 0],
      startMs: 1_000,
      exited: false,
    });
    expect(source.deleteCalls).toEqual([[100]]);
    expect(source.counts.has(100)).toBe(false);

    const third = poll(collector, 3_000).processes;
    expect(third.map((p) => p.pid)).toEqual([200]);
    expect(source.deleteCalls).toEqual([[100]]);
  });

  it('handles a process that appears and exits within one interval', () => {
    const { source, collector } = setup();
    source.call(300, CONNECT, 2, 'probe');
    source.exit(300);
    expect(poll(collector, 5_000).processes).toEqual([
      { pid: 300, comm: 'probe', cgroupId: 0n, counts: [0, 0, 0, 2], startMs: 5_000, exited: true },
    ]);
    expect(source.deleteCalls).toEqual([[300]]);
    expect(poll(collector, 6_000).processes).toEqual([]);
  });

  it('deletes several exited processes in one call', () => {
    const { source, collector } = setup();
    for (const pid of [1, 2, 3]) source.call(pid, READ, pid, `p${pid}`);
    poll(collector, 1_000);
    source.exit(1);
    source.exit(3);
    const processes = poll(collector, 2_000).processes;
    expect(
      processes
        .filter((p) => p.exited)
        .map((p) => p.pid)
        .sort(),
    ).toEqual([1, 3]);
    expect(source.deleteCalls.map((pids) => [...pids].sort())).toEqual([[1, 3]]);
    expect(poll(collector, 3_000).processes.map((p) => p.pid)).toEqual([2]);
  });
});

describe('ProcessCollector: keys of exited processes are deleted by commit(), after publication', () => {
  it('deletes nothing in collect(); commit() deletes the keys of the processes it reported as exited', () => {
    const { source, collector } = setup();
    source.call(100, READ, 4, 'worker');
    source.call(200, WRITE, 1, 'daemon');
    collector.collect(1_000);
    collector.commit();
    expect(source.deleteCalls).toEqual([]);

    source.call(100, READ, 6);
    source.exit(100);
    const reported = collected(collector, 2_000);
    expect(byPid(reported).get(100)).toMatchObject({ counts: [0, 10, 0, 0], exited: true });
    expect(source.deleteCalls).toEqual([]);
    expect(source.counts.has(100)).toBe(true);

    collector.commit();
    expect(source.deleteCalls).toEqual([[100]]);
    expect(source.counts.has(100)).toBe(false);
    collector.commit();
    expect(source.deleteCalls).toEqual([[100]]);
    expect(collected(collector, 3_000).map((p) => p.pid)).toEqual([200]);
  });

  it('reports an exited process again, final counts included, when its collection was not committed', () => {
    const { source, collector } = setup();
    source.call(100, READ, 4, 'worker');
    collector.collect(1_000);
    collector.commit();
    source.call(100, OPENAT, 3);
    source.exit(100);
    const final = { pid: 100, comm: 'worker', cgroupId: 0n, counts: [3, 4, 0, 0], startMs: 1_000, exited: true };

    // Publication failed: no commit. The exit event has been drained, but the next collection still knows.
    expect(collected(collector, 2_000)).toEqual([final]);
    expect(collected(collector, 3_000)).toEqual([final]);
    expect(source.deleteCalls).toEqual([]);

    collector.commit();
    expect(source.deleteCalls).toEqual([[100]]);
    expect(collected(collector, 4_000)).toEqual([]);
  });

  it('deletes nothing when the collection failed after draining the exit events', () => {
    const { source, collector } = setup();
    source.call(100, READ, 4, 'worker');
    collector.collect(1_000);
    collector.commit();
    source.exit(100);
    const readCounts = source.readCounts.bind(source);
    source.readCounts = () => {
      throw new Error('map read failed');
    };
    expect(() => collector.collect(2_000)).toThrow('map read failed');
    collector.commit();
    expect(source.deleteCalls).toEqual([]);

    source.readCounts = readCounts;
    expect(collected(collector, 3_000)).toMatchObject([{ pid: 100, counts: [0, 4, 0, 0], exited: true }]);
    collector.commit();
    expect(source.deleteCalls).toEqual([[100]]);
  });

  it('keeps an uncommitted exit found by the /proc sweep until commit()', () => {
    const alive = new Set([100]);
    const { source, collector, processAlive } = setup({ alive: (pid) => alive.has(pid) });
    source.dropCounters = drops({ PROCESS_DROP_EXIT_LOST: 1 });
    source.call(100, READ, 2, 'lost');
    collector.collect(1_000);
    collector.collect(2_000);
    alive.delete(100);
    expect(collected(collector, 3_000)).toMatchObject([{ pid: 100, counts: [0, 2, 0, 0], exited: true }]);
    expect(collected(collector, 4_000)).toMatchObject([{ pid: 100, counts: [0, 2, 0, 0], exited: true }]);
    const asked = processAlive.mock.calls.length;
    collector.commit();
    expect(source.deleteCalls).toEqual([[100]]);
    expect(collected(collector, 5_000)).toEqual([]);
    expect(processAlive.mock.calls.length).toBe(asked);
  });

  it('deletes the keys of an exited process that had only an info entry', () => {
    const { source, collector } = setup();
    source.procs.set(300, { executable: 'quiet', cgroupId: 0n });
    source.exit(300);
    expect(collected(collector, 1_000)).toEqual([]);
    collector.commit();
    expect(source.deleteCalls).toEqual([[300]]);
    expect(source.procs.has(300)).toBe(false);
  });
});

describe('ProcessCollector: executable name', () => {
  it('takes the executable name of an exited process from its exit event', () => {
    const { source, collector, processExecutable } = setup();
    source.call(100, READ, 1, 'before-exec');
    poll(collector, 1_000);
    source.exit(100, 'after-exec');
    expect(poll(collector, 2_000).processes).toEqual([
      { pid: 100, comm: 'after-exec', cgroupId: 0n, counts: [0, 1, 0, 0], startMs: 1_000, exited: true },
    ]);
    expect(processExecutable).not.toHaveBeenCalled();
  });

  it('takes the executable name of a live process from syscall_procs and follows its execs', () => {
    const { source, collector, processExecutable } = setup();
    source.call(100, READ, 1, 'sh');
    expect(poll(collector, 1_000).processes[0]?.comm).toBe('sh');
    source.exec(100, 'python3', 0n); // sched_process_exec rewrote it
    expect(poll(collector, 2_000).processes[0]?.comm).toBe('python3');
    expect(processExecutable).not.toHaveBeenCalled();
  });

  it('sees every change of an entry it compares rather than decodes: a longer or shorter name, a cut one', () => {
    const { source, collector } = setup();
    const long = 'x'.repeat(PROCESS_INFO.fields.executable.size + 10);
    const cut = 'x'.repeat(PROCESS_INFO.fields.executable.size - 1);
    source.call(100, READ, 1, 'node');
    const names = [];
    for (const [i, name] of ['nodejs', 'node', 'nod', long, `${cut}y`, 'é', 'e', 'node'].entries()) {
      source.exec(100, name, 0n);
      source.call(100, READ, 1);
      names.push(poll(collector, 1_000 * (i + 1)).processes[0]?.comm);
    }
    expect(names).toEqual(['nodejs', 'node', 'nod', cut, cut, 'é', 'e', 'node']);
  });

  it('sees a change of either half of the cgroup id while the name stays', () => {
    const { source, collector } = setup();
    source.call(100, READ, 1, 'app', 5n);
    const ids = [];
    for (const [i, id] of [5n + 2n ** 32n, 2n ** 32n, 2n ** 63n, 5n].entries()) {
      source.exec(100, 'app', id);
      source.call(100, READ, 1);
      ids.push(poll(collector, 1_000 * (i + 1)).processes[0]?.cgroupId);
    }
    expect(ids).toEqual([5n + 2n ** 32n, 2n ** 32n, 2n ** 63n, 5n]);
  });

  it('falls back to processExecutable when syscall_procs has no entry', () => {
    const { source, collector, processExecutable } = setup({
      executable: (pid) => (pid === 300 ? 'from-proc' : undefined),
    });
    source.call(300, OPENAT, 1); // syscall_procs was full: no name
    source.call(400, OPENAT, 1); // and /proc does not know it either
    const processes = byPid(poll(collector, 1_000).processes);
    expect(processes.get(300)?.comm).toBe('from-proc');
    expect(processes.get(400)?.comm).toBe('');
    expect(processExecutable).toHaveBeenCalledWith(300);
    expect(processExecutable).toHaveBeenCalledWith(400);
  });

  it('reads the executable name (/proc/<pid>/exe) and liveness from procRoot when no functions are injected', () => {
    const procRoot = mkdtempSync(path.join(os.tmpdir(), 'eoa-proc-'));
    try {
      mkdirSync(path.join(procRoot, '300'));
      symlinkSync('/opt/app/bin/from-procfs', path.join(procRoot, '300', 'exe'));
      writeFileSync(path.join(procRoot, '300', 'comm'), 'MainThread\n');
      writeFileSync(path.join(procRoot, '300', 'stat'), '300 (MainThread) S 1 300 300 0 -1 4194560 0 0\n');
      mkdirSync(path.join(procRoot, '500'));
      writeFileSync(path.join(procRoot, '500', 'stat'), '500 (zombie) Z 1 500 500 0 -1 4227084 0 0\n');
      const source = new FakeProcessSource();
      const collector = new ProcessCollector(source, { procRoot });
      source.call(300, READ, 1);
      source.call(400, READ, 1, 'gone');
      source.call(500, WRITE, 2, 'zombie');
      expect(byPid(poll(collector, 1_000).processes).get(300)?.comm).toBe('from-procfs');
      // An exit was lost: 400 has no /proc entry and 500 is a zombie; 300 is sleeping, so alive.
      source.dropCounters = drops({ PROCESS_DROP_EXIT_LOST: 1 });
      const processes = byPid(poll(collector, 2_000).processes);
      expect(processes.get(300)).toEqual({
        pid: 300,
        comm: 'from-procfs',
        cgroupId: 0n,
        counts: [0, 1, 0, 0],
        startMs: 1_000,
        exited: false,
      });
      expect(processes.get(400)).toEqual({
        pid: 400,
        comm: 'gone',
        cgroupId: 0n,
        counts: [0, 1, 0, 0],
        startMs: 1_000,
        exited: true,
      });
      expect(processes.get(500)).toEqual({
        pid: 500,
        comm: 'zombie',
        cgroupId: 0n,
        counts: [0, 0, 2, 0],
        startMs: 1_000,
        exited: true,
      });
      expect(source.deleteCalls.map((pids) => [...pids].sort())).toEqual([[400, 500]]);
      expect(poll(collector, 3_000).processes.map((p) => p.pid)).toEqual([300]);
    } finally {
      rmSync(procRoot, { recursive: true, force: true });
    }
  });

  describe('procExecutable: the kernel rule, read from /proc', () => {
    let procRoot: string;
    beforeEach(() => {
      procRoot = mkdtempSync(path.join(os.tmpdir(), 'eoa-proc-'));
    });
    afterEach(() => {
      rmSync(procRoot, { recursive: true, force: true });
    });
    const proc = (pid: number, files: { exe?: string; comm?: string }): void => {
      mkdirSync(path.join(procRoot, String(pid)));
      if (files.exe !== undefined) symlinkSync(files.exe, path.join(procRoot, String(pid), 'exe'));
      if (files.comm !== undefined) writeFileSync(path.join(procRoot, String(pid), 'comm'), `${files.comm}\n`);
    };

    it('is the base name of the target of exe, not the comm', () => {
      proc(10, { exe: '/usr/local/bin/node', comm: 'MainThread' });
      expect(procExecutable(procRoot, 10)).toBe('node');
    });

    it('drops the " (deleted)" that /proc adds for a replaced or removed file', () => {
      proc(11, { exe: '/usr/sbin/nginx (deleted)', comm: 'nginx: worker' });
      expect(procExecutable(procRoot, 11)).toBe('nginx');
    });

    it('cuts a long name where the kernel cuts it', () => {
      const max = PROCESS_INFO.fields.executable.size - 1;
      proc(12, { exe: `/bin/${'x'.repeat(max + 10)}` });
      expect(procExecutable(procRoot, 12)).toBe('x'.repeat(max));
      proc(13, { exe: '/bin/containerd-shim-runc-v2' });
      expect(procExecutable(procRoot, 13)).toBe('containerd-shim-runc-v2');
    });

    it('keeps the comm of a kernel thread (no exe link), and is undefined for a process that is gone', () => {
      proc(2, { comm: 'kthreadd' });
      expect(procExecutable(procRoot, 2)).toBe('kthreadd');
      expect(procExecutable(procRoot, 99)).toBeUndefined();
    });
  });
});

describe('ProcessCollector: cgroup id', () => {
  it('takes the cgroup id of a live process from syscall_procs, as a bigint with all 64 bits', () => {
    const { source, collector } = setup();
    source.call(100, READ, 1, 'web', 0xffff_ffff_ffff_fff0n);
    source.call(200, READ, 1, 'db', 4242n);
    const processes = byPid(poll(collector, 1_000).processes);
    expect(processes.get(100)?.cgroupId).toBe(0xffff_ffff_ffff_fff0n);
    expect(processes.get(200)).toEqual({
      pid: 200,
      comm: 'db',
      cgroupId: 4242n,
      counts: [0, 1, 0, 0],
      startMs: 1_000,
      exited: false,
    });
  });

  it("follows the kernel's last value when the process moves (exec into a container's cgroup)", () => {
    const { source, collector } = setup();
    source.call(100, READ, 1, 'runc', 10n);
    expect(poll(collector, 1_000).processes[0]?.cgroupId).toBe(10n);
    source.exec(100, 'nginx', 20n);
    source.call(100, READ, 1);
    expect(poll(collector, 2_000).processes[0]).toMatchObject({ comm: 'nginx', cgroupId: 20n });
  });

  it('remembers a known id when a later read says 0n or syscall_procs lost the entry', () => {
    const { source, collector } = setup();
    source.call(100, READ, 1, 'app', 30n);
    expect(poll(collector, 1_000).processes[0]?.cgroupId).toBe(30n);
    source.procs.set(100, { executable: 'app', cgroupId: 0n });
    expect(poll(collector, 2_000).processes[0]?.cgroupId).toBe(30n);
    source.procs.delete(100);
    expect(poll(collector, 3_000).processes[0]).toMatchObject({ comm: 'app', cgroupId: 30n });
  });

  it('is 0n while the kernel knows no cgroup for the process', () => {
    const { source, collector } = setup({ executable: () => 'from-proc' });
    source.call(100, READ, 1); // syscall_procs was full
    source.call(200, READ, 1, 'zero', 0n);
    const processes = byPid(poll(collector, 1_000).processes);
    expect(processes.get(100)?.cgroupId).toBe(0n);
    expect(processes.get(200)?.cgroupId).toBe(0n);
  });

  it("takes an exited process's cgroup id from its exit event over syscall_procs", () => {
    const { source, collector } = setup();
    source.call(100, READ, 1, 'worker', 10n);
    poll(collector, 1_000);
    source.exit(100, 'worker', 11n);
    expect(poll(collector, 2_000).processes).toEqual([
      { pid: 100, comm: 'worker', cgroupId: 11n, counts: [0, 1, 0, 0], startMs: 1_000, exited: true },
    ]);
  });

  it('keeps the known id when the exit event says 0n', () => {
    const { source, collector } = setup();
    source.call(100, READ, 1, 'worker', 10n);
    poll(collector, 1_000);
    source.exit(100, 'worker', 0n);
    expect(poll(collector, 2_000).processes[0]).toMatchObject({ cgroupId: 10n, exited: true });
  });

  it('takes the cgroup id of a process that appears and exits within one interval from its exit event', () => {
    const { source, collector } = setup();
    source.call(300, CONNECT, 2, 'probe', 5n);
    source.exit(300, 'probe', 6n);
    expect(poll(collector, 5_000).processes).toEqual([
      { pid: 300, comm: 'probe', cgroupId: 6n, counts: [0, 0, 0, 2], startMs: 5_000, exited: true },
    ]);
  });

  it('keeps the cgroup id of a process the /proc sweep finds exited', () => {
    const { source, collector } = setup({ alive: () => false });
    source.call(100, READ, 1, 'gone', 77n);
    source.dropCounters = drops({ PROCESS_DROP_EXIT_LOST: 1 });
    poll(collector, 1_000);
    expect(poll(collector, 2_000).processes).toEqual([
      { pid: 100, comm: 'gone', cgroupId: 77n, counts: [0, 1, 0, 0], startMs: 1_000, exited: true },
    ]);
  });

  it('does not give a reused pid the cgroup id of the process that had it before', () => {
    const { source, collector } = setup();
    source.call(100, READ, 1, 'first', 40n);
    poll(collector, 1_000);
    source.exit(100);
    expect(poll(collector, 2_000).processes[0]).toMatchObject({ cgroupId: 40n, exited: true });
    source.call(100, READ, 1); // the new process has no syscall_procs entry
    expect(poll(collector, 3_000).processes).toEqual([
      { pid: 100, comm: '', cgroupId: 0n, counts: [0, 1, 0, 0], startMs: 2_000, exited: false },
    ]);
  });
});

describe('procAlive', () => {
  let procRoot = '';
  beforeEach(() => {
    procRoot = mkdtempSync(path.join(os.tmpdir(), 'eoa-proc-'));
  });
  afterEach(() => {
    rmSync(procRoot, { recursive: true, force: true });
  });
  const stat = (pid: number, line: string): void => {
    mkdirSync(path.join(procRoot, String(pid)), { recursive: true });
    writeFileSync(path.join(procRoot, String(pid), 'stat'), line);
  };

  it.each([
    ['R', true],
    ['S', true],
    ['D', true],
    ['T', true],
    ['I', true],
    ['Z', false],
    ['X', false],
    ['x', false],
  ] as [string, boolean][])('state %s → %s', (state, alive) => {
    stat(123, `123 (worker) ${state} 1 123 123 0 -1 4194560 0 0 0 0\n`);
    expect(procAlive(procRoot, 123)).toBe(alive);
  });

  it('is false when /proc has no such process, or no stat for it', () => {
    expect(procAlive(procRoot, 4242)).toBe(false);
    mkdirSync(path.join(procRoot, '4243'));
    expect(procAlive(procRoot, 4243)).toBe(false);
  });

  it('reads the state after the last ")", whatever the comm contains', () => {
    stat(123, '123 (a) Z (b) S 1 123 123 0 -1 4194560 0 0\n');
    expect(procAlive(procRoot, 123)).toBe(true);
    stat(124, '124 (a) S (b) Z 1 124 124 0 -1 4194560 0 0\n');
    expect(procAlive(procRoot, 124)).toBe(false);
    stat(125, '125 ()) R 1 125 125 0 -1 4194560 0 0\n');
    expect(procAlive(procRoot, 125)).toBe(true);
  });
});

describe('ProcessCollector: lost exit events', () => {
  it('treats idle processes that are not alive as exited once an exit was lost', () => {
    const { source, collector, processAlive } = setup({ alive: (pid) => pid !== 100 });
    source.call(100, READ, 7, 'dead');
    source.call(200, READ, 1, 'alive');
    source.call(300, OPENAT, 1, 'busy');
    poll(collector, 1_000);
    expect(processAlive).not.toHaveBeenCalled();

    // 100 and 200 made no calls since the last collection: they are asked about; 300 did, so it is not.
    source.call(300, OPENAT, 1);
    source.dropCounters = drops({ PROCESS_DROP_EXIT_LOST: 1 });
    const second = byPid(poll(collector, 2_000).processes);
    expect(second.get(100)).toEqual({
      pid: 100,
      comm: 'dead',
      cgroupId: 0n,
      counts: [0, 7, 0, 0],
      startMs: 1_000,
      exited: true,
    });
    expect(second.get(200)).toEqual({
      pid: 200,
      comm: 'alive',
      cgroupId: 0n,
      counts: [0, 1, 0, 0],
      startMs: 1_000,
      exited: false,
    });
    expect(second.get(300)).toEqual({
      pid: 300,
      comm: 'busy',
      cgroupId: 0n,
      counts: [2, 0, 0, 0],
      startMs: 1_000,
      exited: false,
    });
    expect(source.deleteCalls).toEqual([[100]]);
    expect(processAlive.mock.calls.map(([pid]) => pid).sort()).toEqual([100, 200]);

    // 100 is gone; the check goes on for the idle ones although the counter stays at 1.
    processAlive.mockClear();
    source.call(300, OPENAT, 1);
    expect(poll(collector, 3_000).processes.map((p) => p.pid)).toEqual([200, 300]);
    expect(processAlive.mock.calls).toEqual([[200]]);
    expect(source.deleteCalls).toEqual([[100]]);
  });

  it('asks about a process that made calls in the last interval only once its counts stop changing', () => {
    const { source, collector, processAlive } = setup({ alive: () => false });
    source.call(100, READ, 7, 'dead');
    poll(collector, 1_000);
    source.call(100, WRITE, 3); // its last calls before it ended, exit event lost
    source.dropCounters = drops({ PROCESS_DROP_EXIT_LOST: 1 });
    expect(poll(collector, 2_000).processes).toEqual([
      { pid: 100, comm: 'dead', cgroupId: 0n, counts: [0, 7, 3, 0], startMs: 1_000, exited: false },
    ]);
    expect(processAlive).not.toHaveBeenCalled();
    expect(poll(collector, 3_000).processes).toEqual([
      { pid: 100, comm: 'dead', cgroupId: 0n, counts: [0, 7, 3, 0], startMs: 1_000, exited: true },
    ]);
    expect(processAlive.mock.calls).toEqual([[100]]);
    expect(source.deleteCalls).toEqual([[100]]);
    expect(poll(collector, 4_000).processes).toEqual([]);
  });

  it('catches a process that dies after the counter rose, though the counter does not rise again', () => {
    const dead = new Set<number>();
    const { source, collector, processAlive } = setup({ alive: (pid) => !dead.has(pid) });
    source.call(100, READ, 1, 'x');
    source.dropCounters = drops({ PROCESS_DROP_EXIT_LOST: 2 });
    // First seen: nothing to compare with yet, so not asked.
    expect(poll(collector, 1_000).processes).toEqual([
      { pid: 100, comm: 'x', cgroupId: 0n, counts: [0, 1, 0, 0], startMs: 1_000, exited: false },
    ]);
    expect(processAlive).not.toHaveBeenCalled();
    expect(poll(collector, 2_000).processes).toEqual([
      { pid: 100, comm: 'x', cgroupId: 0n, counts: [0, 1, 0, 0], startMs: 1_000, exited: false },
    ]);
    expect(poll(collector, 3_000).processes).toEqual([
      { pid: 100, comm: 'x', cgroupId: 0n, counts: [0, 1, 0, 0], startMs: 1_000, exited: false },
    ]);
    expect(processAlive.mock.calls).toEqual([[100], [100]]);

    dead.add(100); // it ends, and its exit event is lost too; the counter stays at 2
    expect(poll(collector, 4_000).processes).toEqual([
      { pid: 100, comm: 'x', cgroupId: 0n, counts: [0, 1, 0, 0], startMs: 1_000, exited: true },
    ]);
    expect(processAlive.mock.calls).toEqual([[100], [100], [100]]);
    expect(source.deleteCalls).toEqual([[100]]);
    expect(poll(collector, 5_000).processes).toEqual([]);
    expect(processAlive).toHaveBeenCalledTimes(3);
    expect(source.deleteCalls).toEqual([[100]]);
  });

  it('also checks when only syscall_procs was full (a process registered for no exit event)', () => {
    const { source, collector, processAlive } = setup({ alive: (pid) => pid !== 100 });
    source.call(100, READ, 4, 'dead');
    source.call(200, READ, 2, 'alive');
    source.dropCounters = drops({ PROCESS_DROP_INFO_FULL: 1 });
    poll(collector, 1_000);
    expect(processAlive).not.toHaveBeenCalled();
    const second = byPid(poll(collector, 2_000).processes);
    expect(second.get(100)).toEqual({
      pid: 100,
      comm: 'dead',
      cgroupId: 0n,
      counts: [0, 4, 0, 0],
      startMs: 1_000,
      exited: true,
    });
    expect(second.get(200)).toEqual({
      pid: 200,
      comm: 'alive',
      cgroupId: 0n,
      counts: [0, 2, 0, 0],
      startMs: 1_000,
      exited: false,
    });
    expect(processAlive.mock.calls.map(([pid]) => pid).sort()).toEqual([100, 200]);
    expect(source.deleteCalls).toEqual([[100]]);
    expect(poll(collector, 3_000).processes.map((p) => p.pid)).toEqual([200]);
  });

  it('never asks about a process whose counts keep changing', () => {
    const { source, collector, processAlive } = setup();
    source.dropCounters = drops({ PROCESS_DROP_INFO_FULL: 3, PROCESS_DROP_EXIT_LOST: 5 });
    for (let i = 1; i <= 10; i++) {
      source.call(100, i % 2 === 0 ? READ : WRITE, 1, 'busy');
      const processes = poll(collector, i * 1_000).processes;
      expect(processes).toEqual([
        {
          pid: 100,
          comm: 'busy',
          cgroupId: 0n,
          counts: [0, Math.floor(i / 2), Math.ceil(i / 2), 0],
          startMs: 1_000,
          exited: false,
        },
      ]);
    }
    expect(processAlive).not.toHaveBeenCalled();
    expect(source.deleteCalls).toEqual([]);
  });

  it('never asks processAlive when no exit was lost and syscall_procs never filled', () => {
    const { source, collector, processAlive } = setup();
    for (let pid = 1; pid <= 50; pid++) source.call(pid, READ, pid, `p${pid}`);
    source.dropCounters = drops({ PROCESS_DROP_COUNTS_FULL: 5 }); // syscall_counts full does not enable the check
    poll(collector, 1_000);
    source.exit(7);
    const second = poll(collector, 2_000).processes;
    expect(second.filter((p) => p.exited).map((p) => p.pid)).toEqual([7]);
    expect(poll(collector, 3_000).processes.length).toBe(49);
    expect(poll(collector, 4_000).processes.length).toBe(49);
    expect(processAlive).not.toHaveBeenCalled();
    expect(source.deleteCalls).toEqual([[7]]);
  });

  it('does not ask about processes whose exit event did arrive', () => {
    const { source, collector, processAlive } = setup({ alive: () => false });
    source.call(100, READ, 1, 'a');
    source.call(200, READ, 1, 'b');
    source.dropCounters = drops({ PROCESS_DROP_EXIT_LOST: 1 });
    poll(collector, 1_000);
    expect(processAlive).not.toHaveBeenCalled();
    source.exit(100, 'a');
    const processes = byPid(poll(collector, 2_000).processes);
    expect(processes.get(100)).toEqual({
      pid: 100,
      comm: 'a',
      cgroupId: 0n,
      counts: [0, 1, 0, 0],
      startMs: 1_000,
      exited: true,
    });
    expect(processes.get(200)).toEqual({
      pid: 200,
      comm: 'b',
      cgroupId: 0n,
      counts: [0, 1, 0, 0],
      startMs: 1_000,
      exited: true,
    });
    expect(processAlive.mock.calls).toEqual([[200]]);
    expect(source.deleteCalls.map((pids) => [...pids].sort())).toEqual([[100, 200]]);
    expect(poll(collector, 3_000).processes).toEqual([]);
  });
});

describe('ProcessCollector: churn and pid reuse', () => {
  it('keeps no state for 5,000 processes that came and went', () => {
    const { source, collector } = setup();
    const seen = new Map<number, { live: number; exited: number }>();
    const record = (processes: ProcessCounts[]): void => {
      for (const p of processes) {
        const s = seen.get(p.pid) ?? { live: 0, exited: 0 };
        if (p.exited) s.exited++;
        else s.live++;
        seen.set(p.pid, s);
      }
    };
    let now = 1_000;
    const perRound = 100;
    const total = 5_000;
    for (let start = 10_000; start < 10_000 + total + perRound; start += perRound) {
      // this round's processes start, the previous round's end
      if (start < 10_000 + total)
        for (let pid = start; pid < start + perRound; pid++) source.call(pid, READ, 1, `w${pid}`);
      for (let pid = start - perRound; pid < start && pid >= 10_000; pid++) source.exit(pid);
      const processes = poll(collector, (now += 1_000)).processes;
      expect(processes.length).toBeLessThanOrEqual(2 * perRound);
      record(processes);
    }
    expect(poll(collector, (now += 1_000)).processes).toEqual([]);
    expect(source.counts.size).toBe(0);
    expect(source.procs.size).toBe(0);
    expect(seen.size).toBe(total);
    for (const s of seen.values()) expect(s).toEqual({ live: 1, exited: 1 });

    // Every pid comes back: none may carry a start time from before (no state was left behind).
    for (let pid = 10_000; pid < 10_000 + total; pid++) source.call(pid, WRITE, 1, 'again');
    const back = poll(collector, (now += 1_000)).processes;
    expect(back.length).toBe(total);
    expect(back.every((p) => p.startMs === now - 1_000 && !p.exited)).toBe(true);
  });

  it('gives a reused pid a new start time', () => {
    const { source, collector } = setup();
    source.call(100, READ, 50, 'first');
    poll(collector, 1_000);
    source.exit(100);
    expect(poll(collector, 2_000).processes[0]).toEqual({
      pid: 100,
      comm: 'first',
      cgroupId: 0n,
      counts: [0, 50, 0, 0],
      startMs: 1_000,
      exited: true,
    });
    expect(poll(collector, 3_000).processes).toEqual([]);

    source.call(100, OPENAT, 1, 'second');
    expect(poll(collector, 9_000).processes).toEqual([
      { pid: 100, comm: 'second', cgroupId: 0n, counts: [1, 0, 0, 0], startMs: 3_000, exited: false },
    ]);
  });

  it('starts a pid afresh when its keys vanished from the map without an exit event', () => {
    const { source, collector } = setup();
    source.call(100, READ, 5, 'x');
    poll(collector, 1_000);
    source.counts.delete(100);
    expect(poll(collector, 2_000).processes).toEqual([]);
    source.call(100, READ, 1);
    expect(poll(collector, 3_000).processes).toEqual([
      { pid: 100, comm: 'x', cgroupId: 0n, counts: [0, 1, 0, 0], startMs: 2_000, exited: false },
    ]);
  });
});

describe('ProcessCollector: the info map is read only when the kernel wrote it', () => {
  it("skips the read while no process is new and nothing exec'd, and keeps every name and cgroup", () => {
    const { source, collector } = setup();
    source.call(100, READ, 1, 'curl', 7n);
    source.call(200, READ, 1, 'nginx', 8n);
    poll(collector, 1_000);
    expect(source.procsReads).toBe(1);
    // Calls only: the counts move, the info map does not.
    source.call(100, READ, 4);
    source.call(200, WRITE, 2);
    const later = byPid(poll(collector, 2_000).processes);
    expect(source.procsReads).toBe(1);
    expect([later.get(100)!.comm, later.get(100)!.cgroupId, later.get(100)!.counts[READ]]).toEqual(['curl', 7n, 5]);
    expect([later.get(200)!.comm, later.get(200)!.cgroupId]).toEqual(['nginx', 8n]);
    poll(collector, 3_000);
    expect(source.procsReads).toBe(1);
    expect(collector.mapFill().map((m) => m.entries)).toEqual([2, 2]);
  });

  it('reads it again after an exec, for a new process, and after the agent deleted entries', () => {
    const { source, collector } = setup();
    source.call(100, READ, 1, 'sh', 7n);
    poll(collector, 1_000);
    source.exec(100, 'python3', 9n);
    const execd = byPid(poll(collector, 2_000).processes);
    expect(source.procsReads).toBe(2);
    expect([execd.get(100)!.comm, execd.get(100)!.cgroupId]).toEqual(['python3', 9n]);
    source.call(300, OPENAT, 1, 'ls', 7n);
    expect(byPid(poll(collector, 3_000).processes).get(300)!.comm).toBe('ls');
    expect(source.procsReads).toBe(3);
    // An exit: its entries are deleted at commit, and the next collection counts what is left.
    source.exit(300);
    poll(collector, 4_000);
    expect(source.procsReads).toBe(3);
    poll(collector, 5_000);
    expect(source.procsReads).toBe(4);
    expect(collector.mapFill().map((m) => m.entries)).toEqual([1, 1]);
    poll(collector, 6_000);
    expect(source.procsReads).toBe(4);
  });

  it('reads it at every collection from a source that does not count the writes', () => {
    const { source, collector } = setup();
    Object.defineProperty(source, 'readInfoWrites', { value: undefined });
    source.call(100, READ, 1, 'curl');
    poll(collector, 1_000);
    poll(collector, 2_000);
    expect(source.procsReads).toBe(2);
  });
});

describe('ProcessCollector: drops, map fill and the source', () => {
  it('reports zeros before the first collection', () => {
    const { collector, source } = setup();
    source.cap = { counts: 1024, procs: 512 };
    expect(collector.drops()).toEqual({
      program: 'syscalls',
      eventsLost: 0,
      mapFull: { syscall_counts: 0, syscall_procs: 0 },
    });
    expect(collector.mapFill()).toEqual([
      { program: 'syscalls', map: 'syscall_counts', entries: 0, capacity: 1024 },
      { program: 'syscalls', map: 'syscall_procs', entries: 0, capacity: 512 },
    ]);
  });

  it("reports the source's drop counters and map fill", () => {
    const { collector, source } = setup({ alive: () => true });
    source.cap = { counts: 1024, procs: 512 };
    source.call(100, OPENAT, 1, 'a');
    source.call(100, READ, 2);
    source.call(200, CONNECT, 3, 'b');
    source.procs.set(300, { executable: 'c', cgroupId: 0n }); // a comm without counts
    source.dropCounters = drops({ PROCESS_DROP_COUNTS_FULL: 7, PROCESS_DROP_INFO_FULL: 3, PROCESS_DROP_EXIT_LOST: 2 });
    poll(collector, 1_000);
    expect(collector.drops()).toEqual({
      program: 'syscalls',
      eventsLost: 2,
      mapFull: { syscall_counts: 7, syscall_procs: 3 },
    });
    expect(collector.mapFill()).toEqual([
      { program: 'syscalls', map: 'syscall_counts', entries: 2, capacity: 1024 },
      { program: 'syscalls', map: 'syscall_procs', entries: 3, capacity: 512 },
    ]);

    source.dropCounters = drops({ PROCESS_DROP_COUNTS_FULL: 9, PROCESS_DROP_INFO_FULL: 3, PROCESS_DROP_EXIT_LOST: 2 });
    source.exit(200);
    poll(collector, 2_000);
    expect(collector.drops()).toEqual({
      program: 'syscalls',
      eventsLost: 2,
      mapFull: { syscall_counts: 9, syscall_procs: 3 },
    });
    // fill is as read, before the exited process's entries were deleted
    expect(collector.mapFill().map((m) => m.entries)).toEqual([2, 3]);
    poll(collector, 3_000);
    expect(collector.mapFill().map((m) => m.entries)).toEqual([1, 2]);
  });

  it('passes attached() and close() through to the source', () => {
    const { collector, source } = setup();
    expect(collector.program).toBe('syscalls');
    expect(collector.attached()).toBe(true);
    source.isAttached = false;
    expect(collector.attached()).toBe(false);
    collector.close();
    expect(source.closed).toBe(1);
  });
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe("the shapers read the collector's table as they read the same processes as objects", () => {
  it('gives the same series, poll after poll, through exits, execs, pid reuse, folding and retention', () => {
    const { source, collector } = setup({ alive: () => true });
    const options = {
      maxSeries: 6,
      pidLabels: true,
      maxProcessSeries: 9,
      exitedRetentionMs: 12_000,
      groupRetentionMs: 30_000,
      holdMs: 6_000,
      visibleMs: 6_000,
      attribute: (cgroupId: bigint) => (cgroupId === 0n ? {} : { containerId: `c${cgroupId}` }),
    };
    const fromTable = new SyscallSeriesShaper(options);
    const fromObjects = new SyscallSeriesShaper(options);
    const fromTableCpu = new SyscallSeriesShaper({ ...options, kinds: ['read'] });
    const fromObjectsCpu = new SyscallSeriesShaper({ ...options, kinds: ['read'] });
    let seed = 7;
    const random = (n: number): number => {
      seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
      return (seed >>> 8) % n;
    };
    const live = new Set<number>();
    let compared = 0;
    for (let step = 1; step <= 60; step++) {
      for (let i = 0; i < 12; i++) {
        const pid = 100 + random(40);
        if (!live.has(pid)) live.add(pid);
        source.call(pid, random(4), 1 + random(5), `exe${random(5)}`, BigInt(random(3)));
      }
      for (const pid of live) {
        const dice = random(20);
        if (dice === 0) source.exec(pid, `exe${random(5)}`, BigInt(random(3)));
        if (dice === 1) {
          source.exit(pid);
          live.delete(pid);
        }
      }
      const snapshot = collector.collect(step * 5_000);
      const objects = rowsOf(snapshot);
      const now = step * 5_000;
      expect(fromTable.shape(snapshot.processes, now)).toEqual(fromObjects.shape(objects, now));
      // A window of one lane (as the tcp program's metrics see their lanes of one table).
      const window = { ...snapshot.processes, first: snapshot.processes.first + 1, lanes: 1 };
      const lane = objects.map((p) => ({ ...p, counts: [p.counts[1]!] }));
      expect(fromTableCpu.shape(window, now)).toEqual(fromObjectsCpu.shape(lane, now));
      collector.commit();
      for (const [pid] of source.counts) if (!live.has(pid)) source.counts.delete(pid);
      compared += objects.length;
    }
    expect(compared).toBeGreaterThan(500);
  });
});

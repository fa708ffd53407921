// SyscallCollector's series lifecycle, driven by a fake SyscallSource that packs its state into MapSnapshots with
// the kernel's layouts (bpf/syscalls.h): struct syscall_key {u32 tgid; u32 syscall} → u64, u32 tgid →
// struct syscall_proc {char comm[16]; u64 cgroup_id} (24 bytes), and exit events as struct proc_exit_event
// {u64 boot_ns; u32 tgid; u32 _pad; char comm[16]; u64 cgroup_id} (40 bytes) through decodeExitEvent.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { MapSnapshot } from '../../src/bpf/index.ts';
import {
  decodeExitEvent,
  PROC_EXIT_EVENT_SIZE,
  procAlive,
  SYSCALL_PROC_SIZE,
  SyscallCollector,
  type ExitEvent,
  type ProcessSyscalls,
  type SyscallSource,
} from '../../src/collector/syscalls.ts';

const OPENAT = 0;
const READ = 1;
const WRITE = 2;
const CONNECT = 3;

const encoder = new TextEncoder();

/** The kernel's comm: at most 15 bytes and a NUL. */
function putComm(view: DataView, offset: number, comm: string): void {
  new Uint8Array(view.buffer, view.byteOffset + offset, 16).set(encoder.encode(comm).subarray(0, 15));
}

interface KernelProc {
  comm: string;
  cgroupId: bigint;
}

class FakeSyscallSource implements SyscallSource {
  /** (tgid, syscall) → calls, in insertion order like a map dump. */
  readonly counts = new Map<number, Map<number, number>>();
  /** tgid → struct syscall_proc. */
  readonly procs = new Map<number, KernelProc>();
  /** Exit records as the ring buffer holds them: packed struct proc_exit_event. */
  pendingExits: DataView[] = [];
  dropCounters: number[] = [0, 0, 0];
  readonly deleteCalls: number[][] = [];
  cap = { counts: 65536, procs: 16384 };
  isAttached = true;
  closed = 0;

  /**
   * The process makes `n` more calls of `syscall`; on the first one the kernel remembers its comm and cgroup id
   * (bpf_get_current_cgroup_id) in syscall_procs.
   */
  call(tgid: number, syscall: number, n = 1, comm?: string, cgroupId = 0n): void {
    let calls = this.counts.get(tgid);
    if (calls === undefined) {
      calls = new Map();
      this.counts.set(tgid, calls);
    }
    calls.set(syscall, (calls.get(syscall) ?? 0) + n);
    if (comm !== undefined && !this.procs.has(tgid)) this.procs.set(tgid, { comm, cgroupId });
  }

  /** sched_process_exec of a counted process: the kernel rewrites its comm and cgroup id. */
  exec(tgid: number, comm: string, cgroupId: bigint): void {
    const proc = this.procs.get(tgid);
    if (proc !== undefined) {
      proc.comm = comm;
      proc.cgroupId = cgroupId;
    }
  }

  /** The process ends: the kernel writes an exit event with its comm and current cgroup id. */
  exit(tgid: number, comm = this.procs.get(tgid)?.comm ?? '', cgroupId = this.procs.get(tgid)?.cgroupId ?? 0n): void {
    const view = new DataView(new ArrayBuffer(PROC_EXIT_EVENT_SIZE));
    view.setBigUint64(0, 987_654_321n, true);
    view.setUint32(8, tgid, true);
    view.setUint32(12, 0, true);
    putComm(view, 16, comm);
    view.setBigUint64(32, cgroupId, true);
    this.pendingExits.push(view);
  }

  drainExits(): ExitEvent[] {
    const records = this.pendingExits;
    this.pendingExits = [];
    return records.map(decodeExitEvent);
  }

  readCounts(): MapSnapshot {
    // As the kernel lays it out: key u32 tgid, value one u64 per counted syscall.
    const entries = [...this.counts];
    const keys = new DataView(new ArrayBuffer(entries.length * 4));
    const values = new DataView(new ArrayBuffer(entries.length * 32));
    entries.forEach(([tgid, calls], i) => {
      keys.setUint32(i * 4, tgid, true);
      for (const [syscall, n] of calls) values.setBigUint64(i * 32 + syscall * 8, BigInt(n), true);
    });
    return { count: entries.length, keys, values, keySize: 4, valueSize: 32 };
  }

  readProcs(): MapSnapshot {
    const entries = [...this.procs];
    const keys = new DataView(new ArrayBuffer(entries.length * 4));
    const values = new DataView(new ArrayBuffer(entries.length * SYSCALL_PROC_SIZE));
    entries.forEach(([tgid, { comm, cgroupId }], i) => {
      keys.setUint32(i * 4, tgid, true);
      putComm(values, i * SYSCALL_PROC_SIZE, comm);
      values.setBigUint64(i * SYSCALL_PROC_SIZE + 16, cgroupId, true);
    });
    return { count: entries.length, keys, values, keySize: 4, valueSize: SYSCALL_PROC_SIZE };
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
function setup(options: { alive?: (pid: number) => boolean; comm?: (pid: number) => string | undefined } = {}) {
  const source = new FakeSyscallSource();
  const processAlive = vi.fn(
    options.alive ??
      ((pid: number): boolean => {
        throw new Error(`processAlive(${pid}) was not expected`);
      }),
  );
  const processComm = vi.fn(options.comm ?? ((): string | undefined => undefined));
  const collector = new SyscallCollector(source, { processAlive, processComm });
  return { source, collector, processAlive, processComm };
}

const byPid = (processes: ProcessSyscalls[]): Map<number, ProcessSyscalls> => new Map(processes.map((p) => [p.pid, p]));

describe('SyscallCollector: live processes', () => {
  it('returns a process with its counts and keeps the start time of its first collection', () => {
    const { source, collector } = setup();
    source.call(100, OPENAT, 3, 'curl');
    source.call(100, READ, 5);
    source.call(100, CONNECT, 1);
    expect(collector.collect(1_000).processes).toEqual([
      { pid: 100, comm: 'curl', cgroupId: 0n, counts: [3, 5, 0, 1], startMs: 1_000, exited: false },
    ]);

    source.call(100, WRITE, 2);
    source.call(100, READ, 10);
    expect(collector.collect(6_000).processes).toEqual([
      { pid: 100, comm: 'curl', cgroupId: 0n, counts: [3, 15, 2, 1], startMs: 1_000, exited: false },
    ]);
    expect(collector.collect(11_000).processes).toEqual([
      { pid: 100, comm: 'curl', cgroupId: 0n, counts: [3, 15, 2, 1], startMs: 1_000, exited: false },
    ]);
    expect(source.deleteCalls).toEqual([]);
  });

  it('gives a process that appears later its own start time', () => {
    const { source, collector } = setup();
    source.call(100, READ, 1, 'a');
    collector.collect(1_000);
    source.call(200, WRITE, 1, 'b');
    const processes = byPid(collector.collect(2_000).processes);
    expect(processes.get(100)?.startMs).toBe(1_000);
    expect(processes.get(200)?.startMs).toBe(2_000);
  });

  it('returns nothing when the kernel has counted nothing', () => {
    const { collector, source } = setup();
    expect(collector.collect(1_000)).toEqual({ processes: [] });
    expect(source.deleteCalls).toEqual([]);
  });
});

describe('SyscallCollector: exits', () => {
  it('returns an exited process once with its final counts, deletes its keys, then forgets it', () => {
    const { source, collector } = setup();
    source.call(100, READ, 4, 'worker');
    source.call(200, WRITE, 1, 'daemon');
    collector.collect(1_000);

    source.call(100, READ, 6);
    source.call(100, OPENAT, 2);
    source.exit(100);
    const second = collector.collect(2_000).processes;
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

    const third = collector.collect(3_000).processes;
    expect(third.map((p) => p.pid)).toEqual([200]);
    expect(source.deleteCalls).toEqual([[100]]);
  });

  it('handles a process that appears and exits within one interval', () => {
    const { source, collector } = setup();
    source.call(300, CONNECT, 2, 'probe');
    source.exit(300);
    expect(collector.collect(5_000).processes).toEqual([
      { pid: 300, comm: 'probe', cgroupId: 0n, counts: [0, 0, 0, 2], startMs: 5_000, exited: true },
    ]);
    expect(source.deleteCalls).toEqual([[300]]);
    expect(collector.collect(6_000).processes).toEqual([]);
  });

  it('deletes several exited processes in one call', () => {
    const { source, collector } = setup();
    for (const pid of [1, 2, 3]) source.call(pid, READ, pid, `p${pid}`);
    collector.collect(1_000);
    source.exit(1);
    source.exit(3);
    const processes = collector.collect(2_000).processes;
    expect(
      processes
        .filter((p) => p.exited)
        .map((p) => p.pid)
        .sort(),
    ).toEqual([1, 3]);
    expect(source.deleteCalls.map((pids) => [...pids].sort())).toEqual([[1, 3]]);
    expect(collector.collect(3_000).processes.map((p) => p.pid)).toEqual([2]);
  });
});

describe('SyscallCollector: comm', () => {
  it('takes the comm of an exited process from its exit event', () => {
    const { source, collector, processComm } = setup();
    source.call(100, READ, 1, 'before-exec');
    collector.collect(1_000);
    source.exit(100, 'after-exec');
    expect(collector.collect(2_000).processes).toEqual([
      { pid: 100, comm: 'after-exec', cgroupId: 0n, counts: [0, 1, 0, 0], startMs: 1_000, exited: true },
    ]);
    expect(processComm).not.toHaveBeenCalled();
  });

  it('takes the comm of a live process from syscall_procs and follows its changes', () => {
    const { source, collector, processComm } = setup();
    source.call(100, READ, 1, 'sh');
    expect(collector.collect(1_000).processes[0]?.comm).toBe('sh');
    source.exec(100, 'python3', 0n); // sched_process_exec rewrote it
    expect(collector.collect(2_000).processes[0]?.comm).toBe('python3');
    expect(processComm).not.toHaveBeenCalled();
  });

  it('falls back to processComm when syscall_procs has no entry', () => {
    const { source, collector, processComm } = setup({ comm: (pid) => (pid === 300 ? 'from-proc' : undefined) });
    source.call(300, OPENAT, 1); // syscall_procs was full: no comm
    source.call(400, OPENAT, 1); // and /proc does not know it either
    const processes = byPid(collector.collect(1_000).processes);
    expect(processes.get(300)?.comm).toBe('from-proc');
    expect(processes.get(400)?.comm).toBe('');
    expect(processComm).toHaveBeenCalledWith(300);
    expect(processComm).toHaveBeenCalledWith(400);
  });

  it('reads comm and liveness from procRoot when no functions are injected', () => {
    const procRoot = mkdtempSync(path.join(os.tmpdir(), 'eoa-proc-'));
    try {
      mkdirSync(path.join(procRoot, '300'));
      writeFileSync(path.join(procRoot, '300', 'comm'), 'from-procfs\n');
      writeFileSync(path.join(procRoot, '300', 'stat'), '300 (from-procfs) S 1 300 300 0 -1 4194560 0 0\n');
      mkdirSync(path.join(procRoot, '500'));
      writeFileSync(path.join(procRoot, '500', 'stat'), '500 (zombie) Z 1 500 500 0 -1 4227084 0 0\n');
      const source = new FakeSyscallSource();
      const collector = new SyscallCollector(source, { procRoot });
      source.call(300, READ, 1);
      source.call(400, READ, 1, 'gone');
      source.call(500, WRITE, 2, 'zombie');
      expect(byPid(collector.collect(1_000).processes).get(300)?.comm).toBe('from-procfs');
      // An exit was lost: 400 has no /proc entry and 500 is a zombie; 300 is sleeping, so alive.
      source.dropCounters = [0, 0, 1];
      const processes = byPid(collector.collect(2_000).processes);
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
      expect(collector.collect(3_000).processes.map((p) => p.pid)).toEqual([300]);
    } finally {
      rmSync(procRoot, { recursive: true, force: true });
    }
  });
});

describe('SyscallCollector: cgroup id', () => {
  it('takes the cgroup id of a live process from syscall_procs, as a bigint with all 64 bits', () => {
    const { source, collector } = setup();
    source.call(100, READ, 1, 'web', 0xffff_ffff_ffff_fff0n);
    source.call(200, READ, 1, 'db', 4242n);
    const processes = byPid(collector.collect(1_000).processes);
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
    expect(collector.collect(1_000).processes[0]?.cgroupId).toBe(10n);
    source.exec(100, 'nginx', 20n);
    source.call(100, READ, 1);
    expect(collector.collect(2_000).processes[0]).toMatchObject({ comm: 'nginx', cgroupId: 20n });
  });

  it('remembers a known id when a later read says 0n or syscall_procs lost the entry', () => {
    const { source, collector } = setup();
    source.call(100, READ, 1, 'app', 30n);
    expect(collector.collect(1_000).processes[0]?.cgroupId).toBe(30n);
    source.procs.set(100, { comm: 'app', cgroupId: 0n });
    expect(collector.collect(2_000).processes[0]?.cgroupId).toBe(30n);
    source.procs.delete(100);
    expect(collector.collect(3_000).processes[0]).toMatchObject({ comm: 'app', cgroupId: 30n });
  });

  it('is 0n while the kernel knows no cgroup for the process', () => {
    const { source, collector } = setup({ comm: () => 'from-proc' });
    source.call(100, READ, 1); // syscall_procs was full
    source.call(200, READ, 1, 'zero', 0n);
    const processes = byPid(collector.collect(1_000).processes);
    expect(processes.get(100)?.cgroupId).toBe(0n);
    expect(processes.get(200)?.cgroupId).toBe(0n);
  });

  it("takes an exited process's cgroup id from its exit event over syscall_procs", () => {
    const { source, collector } = setup();
    source.call(100, READ, 1, 'worker', 10n);
    collector.collect(1_000);
    source.exit(100, 'worker', 11n);
    expect(collector.collect(2_000).processes).toEqual([
      { pid: 100, comm: 'worker', cgroupId: 11n, counts: [0, 1, 0, 0], startMs: 1_000, exited: true },
    ]);
  });

  it('keeps the known id when the exit event says 0n', () => {
    const { source, collector } = setup();
    source.call(100, READ, 1, 'worker', 10n);
    collector.collect(1_000);
    source.exit(100, 'worker', 0n);
    expect(collector.collect(2_000).processes[0]).toMatchObject({ cgroupId: 10n, exited: true });
  });

  it('takes the cgroup id of a process that appears and exits within one interval from its exit event', () => {
    const { source, collector } = setup();
    source.call(300, CONNECT, 2, 'probe', 5n);
    source.exit(300, 'probe', 6n);
    expect(collector.collect(5_000).processes).toEqual([
      { pid: 300, comm: 'probe', cgroupId: 6n, counts: [0, 0, 0, 2], startMs: 5_000, exited: true },
    ]);
  });

  it('keeps the cgroup id of a process the /proc sweep finds exited', () => {
    const { source, collector } = setup({ alive: () => false });
    source.call(100, READ, 1, 'gone', 77n);
    source.dropCounters = [0, 0, 1];
    collector.collect(1_000);
    expect(collector.collect(2_000).processes).toEqual([
      { pid: 100, comm: 'gone', cgroupId: 77n, counts: [0, 1, 0, 0], startMs: 1_000, exited: true },
    ]);
  });

  it('does not give a reused pid the cgroup id of the process that had it before', () => {
    const { source, collector } = setup();
    source.call(100, READ, 1, 'first', 40n);
    collector.collect(1_000);
    source.exit(100);
    expect(collector.collect(2_000).processes[0]).toMatchObject({ cgroupId: 40n, exited: true });
    source.call(100, READ, 1); // the new process has no syscall_procs entry
    expect(collector.collect(3_000).processes).toEqual([
      { pid: 100, comm: '', cgroupId: 0n, counts: [0, 1, 0, 0], startMs: 3_000, exited: false },
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

describe('SyscallCollector: lost exit events', () => {
  it('treats idle processes that are not alive as exited once an exit was lost', () => {
    const { source, collector, processAlive } = setup({ alive: (pid) => pid !== 100 });
    source.call(100, READ, 7, 'dead');
    source.call(200, READ, 1, 'alive');
    source.call(300, OPENAT, 1, 'busy');
    collector.collect(1_000);
    expect(processAlive).not.toHaveBeenCalled();

    // 100 and 200 made no calls since the last collection: they are asked about; 300 did, so it is not.
    source.call(300, OPENAT, 1);
    source.dropCounters = [0, 0, 1];
    const second = byPid(collector.collect(2_000).processes);
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
    expect(collector.collect(3_000).processes.map((p) => p.pid)).toEqual([200, 300]);
    expect(processAlive.mock.calls).toEqual([[200]]);
    expect(source.deleteCalls).toEqual([[100]]);
  });

  it('asks about a process that made calls in the last interval only once its counts stop changing', () => {
    const { source, collector, processAlive } = setup({ alive: () => false });
    source.call(100, READ, 7, 'dead');
    collector.collect(1_000);
    source.call(100, WRITE, 3); // its last calls before it ended, exit event lost
    source.dropCounters = [0, 0, 1];
    expect(collector.collect(2_000).processes).toEqual([
      { pid: 100, comm: 'dead', cgroupId: 0n, counts: [0, 7, 3, 0], startMs: 1_000, exited: false },
    ]);
    expect(processAlive).not.toHaveBeenCalled();
    expect(collector.collect(3_000).processes).toEqual([
      { pid: 100, comm: 'dead', cgroupId: 0n, counts: [0, 7, 3, 0], startMs: 1_000, exited: true },
    ]);
    expect(processAlive.mock.calls).toEqual([[100]]);
    expect(source.deleteCalls).toEqual([[100]]);
    expect(collector.collect(4_000).processes).toEqual([]);
  });

  it('catches a process that dies after the counter rose, though the counter does not rise again', () => {
    const dead = new Set<number>();
    const { source, collector, processAlive } = setup({ alive: (pid) => !dead.has(pid) });
    source.call(100, READ, 1, 'x');
    source.dropCounters = [0, 0, 2];
    // First seen: nothing to compare with yet, so not asked.
    expect(collector.collect(1_000).processes).toEqual([
      { pid: 100, comm: 'x', cgroupId: 0n, counts: [0, 1, 0, 0], startMs: 1_000, exited: false },
    ]);
    expect(processAlive).not.toHaveBeenCalled();
    expect(collector.collect(2_000).processes).toEqual([
      { pid: 100, comm: 'x', cgroupId: 0n, counts: [0, 1, 0, 0], startMs: 1_000, exited: false },
    ]);
    expect(collector.collect(3_000).processes).toEqual([
      { pid: 100, comm: 'x', cgroupId: 0n, counts: [0, 1, 0, 0], startMs: 1_000, exited: false },
    ]);
    expect(processAlive.mock.calls).toEqual([[100], [100]]);

    dead.add(100); // it ends, and its exit event is lost too; the counter stays at 2
    expect(collector.collect(4_000).processes).toEqual([
      { pid: 100, comm: 'x', cgroupId: 0n, counts: [0, 1, 0, 0], startMs: 1_000, exited: true },
    ]);
    expect(processAlive.mock.calls).toEqual([[100], [100], [100]]);
    expect(source.deleteCalls).toEqual([[100]]);
    expect(collector.collect(5_000).processes).toEqual([]);
    expect(processAlive).toHaveBeenCalledTimes(3);
    expect(source.deleteCalls).toEqual([[100]]);
  });

  it('also checks when only syscall_procs was full (a process registered for no exit event)', () => {
    const { source, collector, processAlive } = setup({ alive: (pid) => pid !== 100 });
    source.call(100, READ, 4, 'dead');
    source.call(200, READ, 2, 'alive');
    source.dropCounters = [0, 1, 0];
    collector.collect(1_000);
    expect(processAlive).not.toHaveBeenCalled();
    const second = byPid(collector.collect(2_000).processes);
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
    expect(collector.collect(3_000).processes.map((p) => p.pid)).toEqual([200]);
  });

  it('never asks about a process whose counts keep changing', () => {
    const { source, collector, processAlive } = setup();
    source.dropCounters = [0, 3, 5];
    for (let i = 1; i <= 10; i++) {
      source.call(100, i % 2 === 0 ? READ : WRITE, 1, 'busy');
      const processes = collector.collect(i * 1_000).processes;
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
    source.dropCounters = [5, 0, 0]; // syscall_counts full does not enable the check
    collector.collect(1_000);
    source.exit(7);
    const second = collector.collect(2_000).processes;
    expect(second.filter((p) => p.exited).map((p) => p.pid)).toEqual([7]);
    expect(collector.collect(3_000).processes.length).toBe(49);
    expect(collector.collect(4_000).processes.length).toBe(49);
    expect(processAlive).not.toHaveBeenCalled();
    expect(source.deleteCalls).toEqual([[7]]);
  });

  it('does not ask about processes whose exit event did arrive', () => {
    const { source, collector, processAlive } = setup({ alive: () => false });
    source.call(100, READ, 1, 'a');
    source.call(200, READ, 1, 'b');
    source.dropCounters = [0, 0, 1];
    collector.collect(1_000);
    expect(processAlive).not.toHaveBeenCalled();
    source.exit(100, 'a');
    const processes = byPid(collector.collect(2_000).processes);
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
    expect(collector.collect(3_000).processes).toEqual([]);
  });
});

describe('SyscallCollector: churn and pid reuse', () => {
  it('keeps no state for 5,000 processes that came and went', () => {
    const { source, collector } = setup();
    const seen = new Map<number, { live: number; exited: number }>();
    const record = (processes: ProcessSyscalls[]): void => {
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
      const processes = collector.collect((now += 1_000)).processes;
      expect(processes.length).toBeLessThanOrEqual(2 * perRound);
      record(processes);
    }
    expect(collector.collect((now += 1_000)).processes).toEqual([]);
    expect(source.counts.size).toBe(0);
    expect(source.procs.size).toBe(0);
    expect(seen.size).toBe(total);
    for (const s of seen.values()) expect(s).toEqual({ live: 1, exited: 1 });

    // Every pid comes back: none may carry a start time from before (no state was left behind).
    for (let pid = 10_000; pid < 10_000 + total; pid++) source.call(pid, WRITE, 1, 'again');
    const back = collector.collect((now += 1_000)).processes;
    expect(back.length).toBe(total);
    expect(back.every((p) => p.startMs === now && !p.exited)).toBe(true);
  });

  it('gives a reused pid a new start time', () => {
    const { source, collector } = setup();
    source.call(100, READ, 50, 'first');
    collector.collect(1_000);
    source.exit(100);
    expect(collector.collect(2_000).processes[0]).toEqual({
      pid: 100,
      comm: 'first',
      cgroupId: 0n,
      counts: [0, 50, 0, 0],
      startMs: 1_000,
      exited: true,
    });
    expect(collector.collect(3_000).processes).toEqual([]);

    source.call(100, OPENAT, 1, 'second');
    expect(collector.collect(9_000).processes).toEqual([
      { pid: 100, comm: 'second', cgroupId: 0n, counts: [1, 0, 0, 0], startMs: 9_000, exited: false },
    ]);
  });

  it('starts a pid afresh when its keys vanished from the map without an exit event', () => {
    const { source, collector } = setup();
    source.call(100, READ, 5, 'x');
    collector.collect(1_000);
    source.counts.delete(100);
    expect(collector.collect(2_000).processes).toEqual([]);
    source.call(100, READ, 1);
    expect(collector.collect(3_000).processes).toEqual([
      { pid: 100, comm: 'x', cgroupId: 0n, counts: [0, 1, 0, 0], startMs: 3_000, exited: false },
    ]);
  });
});

describe('SyscallCollector: drops, map fill and the source', () => {
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
    source.procs.set(300, { comm: 'c', cgroupId: 0n }); // a comm without counts
    source.dropCounters = [7, 3, 2];
    collector.collect(1_000);
    expect(collector.drops()).toEqual({
      program: 'syscalls',
      eventsLost: 2,
      mapFull: { syscall_counts: 7, syscall_procs: 3 },
    });
    expect(collector.mapFill()).toEqual([
      { program: 'syscalls', map: 'syscall_counts', entries: 2, capacity: 1024 },
      { program: 'syscalls', map: 'syscall_procs', entries: 3, capacity: 512 },
    ]);

    source.dropCounters = [9, 3, 2];
    source.exit(200);
    collector.collect(2_000);
    expect(collector.drops()).toEqual({
      program: 'syscalls',
      eventsLost: 2,
      mapFull: { syscall_counts: 9, syscall_procs: 3 },
    });
    // fill is as read, before the exited process's entries were deleted
    expect(collector.mapFill().map((m) => m.entries)).toEqual([2, 3]);
    collector.collect(3_000);
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

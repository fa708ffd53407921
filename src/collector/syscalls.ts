// syscalls: per-process counts of openat, read, write and connect (bpf/syscalls.bpf.c).
//
// Series lifecycle: the kernel reports each process's end on the proc_exits ring buffer. The collection after
// the exit still returns the process with its final counts (marked `exited`), then deletes its keys, so the
// next collection no longer has it. Once the kernel has counted a lost exit event (or a process it could not
// register), a /proc check of idle processes catches unannounced ends, so a series never outlives its process.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { BpfObject, RingBuffer, type Link, type MapSnapshot } from '../bpf/index.ts';
import { cString, u64 } from './decode.ts';
import type { Collector, Drops, MapFill } from './types.ts';

/** The counted syscalls, in the order of struct syscall_counts' lanes (enum counted_syscall, bpf/syscalls.h). */
export const SYSCALL_NAMES = ['openat', 'read', 'write', 'connect'] as const;
export type SyscallName = (typeof SYSCALL_NAMES)[number];

// Sizes of the structs in bpf/syscalls.h. syscall_counts (and cpu_samples) are keyed by a u32 tgid.
export const COUNTS_KEY_SIZE = 4;
export const SYSCALL_COUNTS_SIZE = 8 * SYSCALL_NAMES.length;
export const SYSCALL_PROC_SIZE = 24;
export const PROC_EXIT_EVENT_SIZE = 40;
const COMM_LEN = 16;

// Slots of syscall_drops.
const DROP_COUNTS_FULL = 0;
const DROP_PROCS_FULL = 1;
const DROP_EXIT_LOST = 2;

const PROGRAMS = ['eoa_sys_enter', 'eoa_sys_exec', 'eoa_sys_exit'];

export interface ExitEvent {
  tgid: number;
  comm: string;
  cgroupId: bigint;
}

/** What the kernel knows of a counted process: its name and cgroup v2 id (0n when unknown). */
export interface ProcessInfo {
  comm: string;
  cgroupId: bigint;
}

export interface ProcessSyscalls {
  pid: number;
  comm: string;
  /** cgroup v2 id the kernel last saw the process in (0n when unknown). */
  cgroupId: bigint;
  /** Calls by SYSCALL_NAMES index. */
  counts: number[];
  /** When this agent first saw the process (ms): the start of its cumulative counts. */
  startMs: number;
  /** The process has ended: these are its final counts, and it will not be returned again. */
  exited: boolean;
}

export interface SyscallSnapshot {
  processes: ProcessSyscalls[];
}

/** Where the collector's data comes from: the kernel, or a fake in unit tests. */
export interface SyscallSource {
  /** Exit events received since the last call (draining the ring buffer first). */
  drainExits(): ExitEvent[];
  readCounts(): MapSnapshot;
  readProcs(): MapSnapshot;
  /** syscall_drops by slot. */
  readDrops(): number[];
  /** Deletes these processes' entries from syscall_counts and syscall_procs. */
  deleteProcesses(pids: readonly number[]): void;
  capacity(): { counts: number; procs: number };
  attached(): boolean;
  close(): void;
}

export function decodeExitEvent(view: DataView): ExitEvent {
  if (view.byteLength < PROC_EXIT_EVENT_SIZE) throw new Error(`proc_exit_event of ${view.byteLength} bytes`);
  return { tgid: view.getUint32(8, true), comm: cString(view, 16, COMM_LEN), cgroupId: view.getBigUint64(32, true) };
}

/**
 * syscall_counts → calls by process, indexed like SYSCALL_NAMES (one u64 lane per counted syscall, summed over
 * CPUs by the addon). cpu_samples has the same key and one lane.
 */
export function decodeCounts(snapshot: MapSnapshot): Map<number, number[]> {
  const out = new Map<number, number[]>();
  const lanes = snapshot.valueSize >>> 3;
  for (let i = 0; i < snapshot.count; i++) {
    const at = i * snapshot.valueSize;
    const counts = new Array<number>(lanes);
    for (let lane = 0; lane < lanes; lane++) counts[lane] = u64(snapshot.values, at + lane * 8);
    out.set(snapshot.keys.getUint32(i * snapshot.keySize, true), counts);
  }
  return out;
}

/** syscall_procs → comm and cgroup id by process. */
export function decodeProcs(snapshot: MapSnapshot): Map<number, ProcessInfo> {
  const out = new Map<number, ProcessInfo>();
  for (let i = 0; i < snapshot.count; i++) {
    const at = i * snapshot.valueSize;
    out.set(snapshot.keys.getUint32(i * snapshot.keySize, true), {
      comm: cString(snapshot.values, at, COMM_LEN),
      cgroupId: snapshot.values.getBigUint64(at + 16, true),
    });
  }
  return out;
}

export interface SyscallCollectorOptions {
  /** The program whose maps these are ('syscalls', or 'cpu', which has the same layouts). */
  program?: 'syscalls' | 'cpu';
  /** Names of the count and process maps, for the map-fill metrics. */
  maps?: { counts: string; procs: string };
  /** Is a process still alive? Used only by the sweep after lost exit events. */
  processAlive?: (pid: number) => boolean;
  /** Comm of a live process whose comm the kernel map could not hold. */
  processComm?: (pid: number) => string | undefined;
  procRoot?: string;
}

interface ProcessState {
  startMs: number;
  comm: string;
  cgroupId: bigint;
  /** Sum of the counts at the last collection. */
  total: number;
}

function sumOf(calls: readonly number[]): number {
  let total = 0;
  for (const c of calls) total += c;
  return total;
}

/** A process is alive while /proc has it and it is not a zombie (a zombie makes no more syscalls). */
export function procAlive(procRoot: string, pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(path.join(procRoot, String(pid), 'stat'), 'utf8');
  } catch {
    return false;
  }
  const state = stat.charAt(stat.lastIndexOf(')') + 2);
  return state !== 'Z' && state !== 'X' && state !== 'x';
}

export class SyscallCollector implements Collector<SyscallSnapshot> {
  readonly program: 'syscalls' | 'cpu';
  readonly #maps: { counts: string; procs: string };
  readonly #source: SyscallSource;
  readonly #processAlive: (pid: number) => boolean;
  readonly #processComm: (pid: number) => string | undefined;
  readonly #state = new Map<number, ProcessState>();
  #drops: number[] = [0, 0, 0];
  #fill = { counts: 0, procs: 0 };

  constructor(source: SyscallSource, options: SyscallCollectorOptions = {}) {
    const procRoot = options.procRoot ?? '/proc';
    this.program = options.program ?? 'syscalls';
    this.#maps = options.maps ?? { counts: 'syscall_counts', procs: 'syscall_procs' };
    this.#source = source;
    this.#processAlive = options.processAlive ?? ((pid) => procAlive(procRoot, pid));
    this.#processComm =
      options.processComm ??
      ((pid) => {
        try {
          return readFileSync(path.join(procRoot, String(pid), 'comm'), 'utf8').replace(/\n$/, '');
        } catch {
          return undefined;
        }
      });
  }

  attached(): boolean {
    return this.#source.attached();
  }

  collect(nowMs: number): SyscallSnapshot {
    const exited = new Map<number, ProcessInfo>();
    for (const event of this.#source.drainExits())
      exited.set(event.tgid, { comm: event.comm, cgroupId: event.cgroupId });
    const counts = decodeCounts(this.#source.readCounts());
    const procs = decodeProcs(this.#source.readProcs());
    this.#fill = { counts: counts.size, procs: procs.size };
    this.#drops = this.#source.readDrops();

    // Degraded mode: once an exit event was lost, or a process could not be registered for its exit event, a
    // process may end unannounced. From then on every collection checks the processes whose counts did not move
    // since the last one (a dead process's never do) and treats those that are gone, or zombies, as exited.
    if ((this.#drops[DROP_EXIT_LOST] ?? 0) > 0 || (this.#drops[DROP_PROCS_FULL] ?? 0) > 0) {
      for (const [pid, calls] of counts) {
        if (exited.has(pid)) continue;
        const previous = this.#state.get(pid)?.total;
        // pid 0 (the idle task, in CPU samples) never exits.
        if (pid !== 0 && previous === sumOf(calls) && !this.#processAlive(pid)) {
          exited.set(pid, procs.get(pid) ?? { comm: '', cgroupId: 0n });
        }
      }
    }

    const processes: ProcessSyscalls[] = [];
    for (const [pid, calls] of counts) {
      let state = this.#state.get(pid);
      if (state === undefined) {
        state = { startMs: nowMs, comm: '', cgroupId: 0n, total: -1 };
        this.#state.set(pid, state);
      }
      state.total = sumOf(calls);
      const info = exited.get(pid) ?? procs.get(pid);
      const comm = info?.comm || state.comm || this.#processComm(pid) || '';
      state.comm = comm;
      if (info !== undefined && info.cgroupId !== 0n) state.cgroupId = info.cgroupId;
      processes.push({
        pid,
        comm,
        cgroupId: state.cgroupId,
        counts: calls,
        startMs: state.startMs,
        exited: exited.has(pid),
      });
    }

    // The final counts are in this snapshot: forget the ended processes, in the kernel and here.
    if (exited.size > 0) this.#source.deleteProcesses([...exited.keys()]);
    for (const pid of this.#state.keys()) {
      if (exited.has(pid) || !counts.has(pid)) this.#state.delete(pid);
    }
    return { processes };
  }

  drops(): Drops {
    return {
      program: this.program,
      eventsLost: this.#drops[DROP_EXIT_LOST] ?? 0,
      mapFull: {
        [this.#maps.counts]: this.#drops[DROP_COUNTS_FULL] ?? 0,
        [this.#maps.procs]: this.#drops[DROP_PROCS_FULL] ?? 0,
      },
    };
  }

  mapFill(): MapFill[] {
    const capacity = this.#source.capacity();
    return [
      { program: this.program, map: this.#maps.counts, entries: this.#fill.counts, capacity: capacity.counts },
      { program: this.program, map: this.#maps.procs, entries: this.#fill.procs, capacity: capacity.procs },
    ];
  }

  close(): void {
    this.#source.close();
  }
}

export interface KernelSourceOptions {
  objectPath: string;
  btfPath?: string;
  /** Capacity of syscall_counts and syscall_procs, in processes. */
  maxEntries?: number;
  debug?: boolean;
}

/** The real source: loads bpf/syscalls.bpf.o and attaches its tracepoints. Nothing stays attached on failure. */
export class KernelSyscallSource implements SyscallSource {
  readonly #object: BpfObject;
  readonly #links: Link[] = [];
  readonly #ring: RingBuffer;
  #pending: ExitEvent[] = [];

  constructor(options: KernelSourceOptions) {
    const object = new BpfObject(options.objectPath, { btfPath: options.btfPath, debug: options.debug });
    try {
      object.expectMap('syscall_counts', COUNTS_KEY_SIZE, SYSCALL_COUNTS_SIZE);
      object.expectMap('syscall_procs', 4, SYSCALL_PROC_SIZE);
      if (options.maxEntries !== undefined) {
        object.setMaxEntries('syscall_counts', options.maxEntries);
        object.setMaxEntries('syscall_procs', options.maxEntries);
      }
      object.load();
      this.#ring = new RingBuffer(object, 'proc_exits', (records) => {
        for (const record of records) this.#pending.push(decodeExitEvent(record));
      });
      for (const program of PROGRAMS) this.#links.push(object.attach(program));
    } catch (error) {
      for (const link of this.#links) link.destroy();
      object.close();
      throw error;
    }
    this.#object = object;
  }

  drainExits(): ExitEvent[] {
    this.#ring.consume();
    const events = this.#pending;
    this.#pending = [];
    return events;
  }

  readCounts(): MapSnapshot {
    return this.#object.readMap('syscall_counts');
  }

  readProcs(): MapSnapshot {
    return this.#object.readMap('syscall_procs');
  }

  readDrops(): number[] {
    return this.#object.readCounters('syscall_drops').map(Number);
  }

  deleteProcesses(pids: readonly number[]): void {
    const tgids = new Uint8Array(new Uint32Array(pids).buffer);
    this.#object.deleteKeys('syscall_counts', tgids);
    this.#object.deleteKeys('syscall_procs', tgids);
  }

  capacity(): { counts: number; procs: number } {
    return {
      counts: this.#object.map('syscall_counts').maxEntries,
      procs: this.#object.map('syscall_procs').maxEntries,
    };
  }

  attached(): boolean {
    return this.#links.length === PROGRAMS.length && this.#links.every((link) => link.attached);
  }

  programs(): string[] {
    return PROGRAMS;
  }

  get object(): BpfObject {
    return this.#object;
  }

  close(): void {
    this.#ring.close();
    for (const link of this.#links) link.destroy();
    this.#object.close();
  }
}

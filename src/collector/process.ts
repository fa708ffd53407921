// Process tracking, shared by the programs that count per process (syscalls, cpu; bpf/process.bpf.h): the kernel
// keeps counts and info (executable name, cgroup id) by tgid and reports each process's end on an exit ring buffer.
//
// Series lifecycle: the collection after an exit still returns the process with its final counts (marked
// `exited`); commit(), called once that collection has been published, deletes the process's kernel keys, so the
// next collection no longer has it. Without a commit (publication failed) the next collection returns it again,
// final counts included. Once the kernel has counted a lost exit event (or a process it could not register), a
// /proc check of idle processes catches unannounced ends, so a series never outlives its process.
import { readFileSync, readlinkSync, statSync } from 'node:fs';
import path from 'node:path';
import { RingBuffer, buildObject, type BpfObject, type Link, type MapSnapshot } from '../bpf/index.ts';
import { PROCESS_CGROUP_EVENT, PROCESS_DROP, PROCESS_EXIT_EVENT, PROCESS_INFO } from '../bpf/layouts.ts';
import { clear, grown } from './columns.ts';
import { cString, u64 } from './decode.ts';
import type { Collector, Drops, MapFill } from './types.ts';
import { IntMap } from './int-map.ts';

/** The programs whose objects track processes with bpf/process.bpf.h. */
export type ProcessCountingProgram = 'syscalls' | 'cpu' | 'tcp';

const DROP = PROCESS_DROP.values;

export interface ProcessExit {
  tgid: number;
  /** As in ProcessInfo. */
  executable: string;
  cgroupId: bigint;
}

/** A cgroup v2 cgroup the kernel created (cgroup:cgroup_mkdir), with its path from the hierarchy's root. */
export interface CgroupCreated {
  id: bigint;
  path: string;
}

/** What the kernel knows of a tracked process: its executable name and cgroup v2 id (0n when unknown). */
export interface ProcessInfo {
  /**
   * OpenTelemetry's process.executable.name: the base name of its executable file (the target of /proc/<pid>/exe)
   * at its first count or last exec, cut to PROCESS_EXECUTABLE_LEN - 1 bytes; a kernel thread's comm.
   */
  executable: string;
  cgroupId: bigint;
}

export interface ProcessCounts {
  pid: number;
  /** The name the process is counted under: its executable name (ProcessInfo.executable), not its comm. */
  comm: string;
  /** cgroup v2 id the kernel last saw the process in (0n when unknown). */
  cgroupId: bigint;
  /** Counts by lane (for syscalls: by SYSCALL_NAMES index; for cpu: one lane of samples). */
  counts: number[];
  /**
   * The start of its cumulative counts (ms): the collection before the one that first saw it (it had no count
   * then), or when counting began for a process seen at the first collection. Also tells a reused pid apart.
   */
  startMs: number;
  /** The process has ended: these are its final counts, and once committed it is not returned again. */
  exited: boolean;
}

/**
 * The processes of one collection, in columns by slot (a process costs no object): row k is the process in slot
 * `rows[k]`. Its count of lane l is `counts[slot * stride + first + l]`, for l below `lanes` (a table can show a
 * window of another's lanes). The collector writes its columns in place: a table is valid until the next collect().
 */
export interface ProcessTable {
  /** The slots of the processes, in the count map's order. */
  readonly rows: Int32Array;
  readonly lanes: number;
  readonly stride: number;
  readonly first: number;
  readonly counts: Float64Array;
  readonly pid: Int32Array;
  /** As ProcessCounts.startMs. */
  readonly startMs: Float64Array;
  /** 1: the process has ended (as ProcessCounts.exited). */
  readonly exited: Uint8Array;
  /** As ProcessCounts.comm and cgroupId. */
  readonly comm: readonly string[];
  readonly cgroupId: readonly bigint[];
}

/** A table of these processes (rows and slots in their order). */
export function processTable(processes: readonly ProcessCounts[]): ProcessTable {
  const n = processes.length;
  let lanes = 0;
  for (const p of processes) lanes = Math.max(lanes, p.counts.length);
  const table = {
    rows: Int32Array.from({ length: n }, (_, k) => k),
    lanes,
    stride: lanes,
    first: 0,
    counts: new Float64Array(n * lanes),
    pid: new Int32Array(n),
    startMs: new Float64Array(n),
    exited: new Uint8Array(n),
    comm: processes.map((p) => p.comm),
    cgroupId: processes.map((p) => p.cgroupId),
  };
  for (let k = 0; k < n; k++) {
    const p = processes[k]!;
    table.pid[k] = p.pid;
    table.startMs[k] = p.startMs;
    table.exited[k] = p.exited ? 1 : 0;
    for (let lane = 0; lane < p.counts.length; lane++) table.counts[k * lanes + lane] = p.counts[lane]!;
  }
  return table;
}

/** The table as it is, or a table of the processes. */
export function asProcessTable(processes: ProcessTable | readonly ProcessCounts[]): ProcessTable {
  return 'rows' in processes ? processes : processTable(processes);
}

/** Row k of a table as an object (a copy: it does not change with the table). */
export function processAt(table: ProcessTable, k: number): ProcessCounts {
  const slot = table.rows[k]!;
  const counts = new Array<number>(table.lanes);
  for (let lane = 0; lane < table.lanes; lane++) counts[lane] = table.counts[slot * table.stride + table.first + lane]!;
  return {
    pid: table.pid[slot]!,
    comm: table.comm[slot]!,
    cgroupId: table.cgroupId[slot]!,
    counts,
    startMs: table.startMs[slot]!,
    exited: table.exited[slot] === 1,
  };
}

export interface ProcessSnapshot {
  processes: ProcessTable;
}

/** Names of a program's count and info maps (for the map-fill and map-full metrics). */
export interface ProcessMapNames {
  counts: string;
  procs: string;
}

/** Where a ProcessCollector's data comes from: the kernel, or a fake in unit tests. */
export interface ProcessSource {
  /** Exit events received since the last call (draining the ring buffer first). */
  drainExits(): ProcessExit[];
  /** Cgroups created since the last call, for sources that watch cgroup creation. */
  drainCgroups?(): CgroupCreated[];
  readCounts(): MapSnapshot;
  readProcs(): MapSnapshot;
  /**
   * How many times the kernel wrote the info map so far (a new entry, an exec), for sources that count it: while
   * it stands still and no process is new, the info map holds what the last read found, and is not read again.
   */
  readInfoWrites?(): number;
  /** The drops array by slot (enum process_drop). */
  readDrops(): number[];
  /** Deletes these processes' entries from the count and info maps. */
  deleteProcesses(pids: readonly number[]): void;
  capacity(): { counts: number; procs: number };
  attached(): boolean;
  close(): void;
}

/** The inode of the initial PID namespace (the kernel's PROC_PID_INIT_INO), the same on every Linux. */
export const INIT_PID_NAMESPACE_INODE = 0xeffffffc;

/**
 * This process's id as the kernel's BPF helpers give it (bpf_get_current_pid_tgid, the initial PID namespace's
 * numbering): process.pid when the agent runs in that namespace (on a host, or in a pod with hostPID); undefined
 * in a PID namespace of its own, where process.pid is another number (and the host's process of that number must
 * not be left out in its place).
 */
export function kernelTgidOfSelf(
  pidNamespaceInode: () => number = () => statSync('/proc/self/ns/pid').ino,
): number | undefined {
  try {
    return pidNamespaceInode() === INIT_PID_NAMESPACE_INODE ? process.pid : undefined;
  } catch {
    return undefined;
  }
}

export function decodeProcessExit(view: DataView): ProcessExit {
  const { size, fields } = PROCESS_EXIT_EVENT;
  if (view.byteLength < size) throw new Error(`process_exit_event of ${view.byteLength} bytes`);
  return {
    tgid: view.getUint32(fields.tgid.offset, true),
    executable: cString(view, fields.executable.offset, fields.executable.size),
    cgroupId: view.getBigUint64(fields.cgroup_id.offset, true),
  };
}

/** A struct process_cgroup_event; undefined when its path was cut (longer than the event holds) or empty. */
export function decodeCgroupCreated(view: DataView): CgroupCreated | undefined {
  const { size, fields } = PROCESS_CGROUP_EVENT;
  if (view.byteLength < size) throw new Error(`process_cgroup_event of ${view.byteLength} bytes`);
  const bytes = new Uint8Array(view.buffer, view.byteOffset + fields.path.offset, fields.path.size);
  const end = bytes.indexOf(0);
  if (end <= 0) return undefined;
  return { id: view.getBigUint64(fields.id.offset, true), path: cString(view, fields.path.offset, fields.path.size) };
}

/**
 * A count map (u32 tgid → u64 lanes, summed over CPUs by the addon) → counts by process. syscall_counts has one
 * lane per counted syscall, cpu_samples one.
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

/** The struct process_info at byte `at` of an info map's values. */
export function decodeProcessInfoAt(values: DataView, at: number): ProcessInfo {
  const { executable, cgroup_id } = PROCESS_INFO.fields;
  return {
    executable: cString(values, at + executable.offset, executable.size),
    cgroupId: values.getBigUint64(at + cgroup_id.offset, true),
  };
}

/** An info map (u32 tgid → struct process_info) → executable name and cgroup id by process. */
export function decodeProcessInfos(snapshot: MapSnapshot): Map<number, ProcessInfo> {
  const out = new Map<number, ProcessInfo>();
  for (let i = 0; i < snapshot.count; i++) {
    out.set(
      snapshot.keys.getUint32(i * snapshot.keySize, true),
      decodeProcessInfoAt(snapshot.values, i * snapshot.valueSize),
    );
  }
  return out;
}

/** A process is alive while /proc has it and it is not a zombie (a zombie does nothing more). */
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

const utf8 = new TextDecoder('utf-8', { fatal: false });

/**
 * The kernel's rule for a process's executable name (bpf/common.bpf.h), read from /proc: the base name of the
 * target of /proc/<pid>/exe (without the " (deleted)" /proc adds for a replaced or removed file), cut as the kernel
 * cuts it; a kernel thread (no exe link) keeps its comm. Undefined when the process is gone.
 */
export function procExecutable(procRoot: string, pid: number): string | undefined {
  const dir = path.join(procRoot, String(pid));
  let name: string;
  try {
    name = path.basename(readlinkSync(path.join(dir, 'exe')).replace(/ \(deleted\)$/, ''));
  } catch {
    try {
      // No executable file (a kernel thread, a process that has exited): its comm, as in the kernel.
      return readFileSync(path.join(dir, 'comm'), 'utf8').replace(/\n$/, '');
    } catch {
      return undefined;
    }
  }
  const bytes = Buffer.from(name, 'utf8');
  const max = PROCESS_INFO.fields.executable.size - 1;
  return bytes.length <= max ? name : utf8.decode(bytes.subarray(0, max));
}

export interface ProcessCollectorOptions {
  /** The program whose maps these are. Default 'syscalls'. */
  program?: ProcessCountingProgram;
  /** Names of the count and info maps. Default: the syscalls program's. */
  maps?: ProcessMapNames;
  /** Is a process still alive? Used only by the sweep after lost exit events. */
  processAlive?: (pid: number) => boolean;
  /**
   * Executable name of a live process the kernel's info map has no name for (it was full): by default
   * procExecutable(), the kernel's rule read from /proc.
   */
  processExecutable?: (pid: number) => string | undefined;
  procRoot?: string;
  /**
   * Told of every cgroup the kernel created, before the collection's processes are returned (so a process whose
   * cgroup is gone by now can still be attributed): CgroupResolver.learn.
   */
  onCgroup?: (id: bigint, path: string) => void;
  /** When counting began (the programs were attached), ms; default: the first collection. */
  sinceMs?: number;
}

/** Distinct executable names (and cgroup ids) kept for sharing (a bound: past it, the table starts again). */
const MAX_INTERNED_NAMES = 65_536;

/** An executable name as the collector shares it, with its UTF-8 bytes (what an info entry holds for it). */
interface InternedName {
  name: string;
  bytes: Uint8Array;
}

/** The NUL-terminated string in `bytes` at `at` (at most `size` bytes) is `expected`. */
function sameCString(bytes: Uint8Array, at: number, size: number, expected: Uint8Array): boolean {
  const n = expected.length;
  if (n > size || (n < size && bytes[at + n] !== 0)) return false;
  for (let i = 0; i < n; i++) if (bytes[at + i] !== expected[i]) return false;
  return true;
}

export class ProcessCollector implements Collector<ProcessSnapshot> {
  readonly program: ProcessCountingProgram;
  readonly #maps: ProcessMapNames;
  readonly #source: ProcessSource;
  readonly #processAlive: (pid: number) => boolean;
  readonly #processExecutable: (pid: number) => string | undefined;
  readonly #onCgroup: ((id: bigint, path: string) => void) | undefined;
  // What the collector keeps of each process between collections, in columns by slot, so one whose entries did
  // not change costs a compare and makes nothing: the table it returns is these columns, its counts rewritten in
  // place, and its info entry is decoded again only when it changed (an exec, a move to another cgroup).
  readonly #slotOf = new IntMap();
  readonly #freeSlots: number[] = [];
  #capacity = 0;
  #highWater = 0;
  #lanes = 0;
  /** 1: the slot holds a process. */
  #used = new Uint8Array(0);
  #pid = new Int32Array(0);
  #startMs = new Float64Array(0);
  /** 1: its process has ended (these are its final counts, until commit() frees the slot). */
  #ended = new Uint8Array(0);
  /** By slot × lane. */
  #counts = new Float64Array(0);
  /** The name and cgroup it is counted under (kept when the kernel's info entry goes missing). */
  #executable: string[] = [];
  #cgroupId: bigint[] = [];
  /** Sum of the counts at the last collection, and whether they did not move (the degraded mode's test). */
  #total = new Float64Array(0);
  #idle = new Uint8Array(0);
  /** The collection that last saw its counts entry, and its info entry. */
  #seenAt = new Uint32Array(0);
  #infoSeenAt = new Uint32Array(0);
  /**
   * What its info entry last decoded to: the executable name (with its bytes, to compare the entry with) and the
   * cgroup id (with its two 32-bit words, by slot). 12 bytes a process, where a copy of the entry was 72.
   */
  #infoName: (InternedName | undefined)[] = [];
  #infoCgroupWords = new Uint32Array(0);
  #infoCgroupId: bigint[] = [];
  /** Executable names as decoded, shared by the processes that have them. */
  readonly #names = new Map<string, InternedName>();
  /** Cgroup ids as decoded, shared likewise (a host's processes are in a few hundred cgroups). */
  readonly #cgroupIds = new Map<bigint, bigint>();
  /** Processes known to have exited whose keys wait for commit(): reported again until then. */
  readonly #exited = new Map<number, ProcessInfo>();
  /** The exited processes the last collect() returned in full: what commit() may delete. */
  #reported: number[] = [];
  #drops: number[] = [];
  #fill = { counts: 0, procs: 0 };
  /** The last collection's time: a process first seen now had no count then. */
  #previousMs: number | undefined;
  #collections = 0;
  /** The kernel's count of info-map writes when the info map was last read (undefined: read it). */
  #infoWrites: number | undefined;
  /** The collection that last read the info map. */
  #infoReadAt = 0;

  constructor(source: ProcessSource, options: ProcessCollectorOptions = {}) {
    const procRoot = options.procRoot ?? '/proc';
    this.program = options.program ?? 'syscalls';
    this.#maps = options.maps ?? { counts: 'syscall_counts', procs: 'syscall_procs' };
    this.#source = source;
    this.#processAlive = options.processAlive ?? ((pid) => procAlive(procRoot, pid));
    this.#processExecutable = options.processExecutable ?? ((pid) => procExecutable(procRoot, pid));
    this.#onCgroup = options.onCgroup;
    this.#previousMs = options.sinceMs;
  }

  attached(): boolean {
    return this.#source.attached();
  }

  collect(nowMs: number): ProcessSnapshot {
    this.#reported = [];
    const collection = ++this.#collections;
    // Drained even when nobody listens: the ring would fill and count losses.
    const cgroups = this.#source.drainCgroups?.() ?? [];
    if (this.#onCgroup !== undefined) for (const { id, path } of cgroups) this.#onCgroup(id, path);
    const exited = this.#exited;
    for (const event of this.#source.drainExits())
      exited.set(event.tgid, { executable: event.executable, cgroupId: event.cgroupId });
    const since = Math.min(this.#previousMs ?? nowMs, nowMs);

    // Read before the counts: a write after it shows as a new process in them, or in the next collection.
    const infoWrites = this.#source.readInfoWrites?.();
    let fresh = false;
    // The counts: each process's lanes written into its ProcessCounts, in the map's order.
    const counts = this.#source.readCounts();
    const lanes = counts.valueSize >>> 3;
    if (lanes !== this.#lanes) {
      this.#lanes = lanes;
      this.#counts = new Float64Array(this.#capacity * lanes);
    }
    const seen = new Int32Array(counts.count);
    for (let i = 0; i < counts.count; i++) {
      const pid = counts.keys.getUint32(i * counts.keySize, true);
      let slot = this.#slotOf.get(pid);
      // New, or (never from the kernel) a key twice in one read: the later entry is a process of its own.
      if (slot === undefined || this.#seenAt[slot] === collection) {
        slot = this.#newSlot(pid, since);
        fresh = true;
      }
      const lane = this.#counts;
      const base = slot * lanes;
      const at = i * counts.valueSize;
      let total = 0;
      for (let l = 0; l < lanes; l++) {
        const value = u64(counts.values, at + l * 8);
        lane[base + l] = value;
        total += value;
      }
      this.#idle[slot] = total === this.#total[slot] ? 1 : 0;
      this.#total[slot] = total;
      this.#seenAt[slot] = collection;
      seen[i] = slot;
    }

    // The info entries of the processes counted now, decoded when their bytes changed. When the kernel wrote none
    // since the last read and no process is new, they are what that read found, and the map is not read (at
    // 25,000 processes that read was a fifth of the poll): a process has its entry now if it had it then (the
    // agent deletes entries of gone processes only, whose slots go with them).
    let procsCount = this.#fill.procs;
    if (!fresh && infoWrites !== undefined && infoWrites === this.#infoWrites) {
      const previous = this.#infoReadAt;
      for (let i = 0; i < seen.length; i++) {
        const slot = seen[i]!;
        if (this.#infoSeenAt[slot] === previous) this.#infoSeenAt[slot] = collection;
      }
    } else {
      procsCount = this.#readInfo(collection);
      this.#infoWrites = infoWrites;
    }
    this.#infoReadAt = collection;
    this.#fill = { counts: counts.count, procs: procsCount };
    this.#drops = this.#source.readDrops();

    // Degraded mode: once an exit event was lost, or a process could not be registered for its exit event, a
    // process may end unannounced. From then on every collection checks the processes whose counts did not move
    // since the last one (a dead process's never do) and treats those that are gone, or zombies, as exited.
    if ((this.#drops[DROP.PROCESS_DROP_EXIT_LOST] ?? 0) > 0 || (this.#drops[DROP.PROCESS_DROP_INFO_FULL] ?? 0) > 0) {
      for (const slot of seen) {
        const pid = this.#pid[slot]!;
        // pid 0 (the idle task, in CPU samples) never exits.
        if (pid === 0 || this.#idle[slot] === 0 || exited.has(pid) || this.#processAlive(pid)) continue;
        exited.set(
          pid,
          this.#infoSeenAt[slot] === collection
            ? { executable: this.#infoName[slot]!.name, cgroupId: this.#infoCgroupId[slot]! }
            : { executable: '', cgroupId: 0n },
        );
      }
    }

    this.#previousMs = nowMs;
    for (let i = 0; i < seen.length; i++) {
      const slot = seen[i]!;
      const pid = this.#pid[slot]!;
      const ended = exited.get(pid);
      const known = this.#infoSeenAt[slot] === collection;
      const info = ended?.executable ?? (known ? this.#infoName[slot]!.name : undefined);
      const executable = info || this.#executable[slot] || this.#intern(this.#processExecutable(pid) ?? '').name;
      this.#executable[slot] = executable;
      const cgroupId = ended?.cgroupId ?? (known ? this.#infoCgroupId[slot] : undefined);
      if (cgroupId !== undefined && cgroupId !== 0n) this.#cgroupId[slot] = cgroupId;
      // Final counts: the slot stays as it is until commit() frees it.
      this.#ended[slot] = ended !== undefined ? 1 : 0;
    }
    for (let slot = 0; slot < this.#highWater; slot++) {
      if (this.#used[slot] === 1 && this.#seenAt[slot] !== collection) this.#freeSlot(slot);
    }
    this.#reported = [...exited.keys()];
    return {
      processes: {
        rows: seen,
        lanes,
        stride: lanes,
        first: 0,
        counts: this.#counts,
        pid: this.#pid,
        startMs: this.#startMs,
        exited: this.#ended,
        comm: this.#executable,
        cgroupId: this.#cgroupId,
      },
    };
  }

  /**
   * The last collection has been published: the final counts of the processes it reported as exited are out, so
   * their keys go. After a collect() that threw, nothing is deleted.
   */
  commit(): void {
    const pids = this.#reported;
    this.#reported = [];
    if (pids.length === 0) return;
    this.#source.deleteProcesses(pids);
    // The info map lost entries: the next collection reads it (its entry count, for ebpf_agent_map_entries).
    this.#infoWrites = undefined;
    for (const pid of pids) {
      this.#exited.delete(pid);
      const slot = this.#slotOf.get(pid);
      if (slot !== undefined) this.#freeSlot(slot);
    }
  }

  /** Reads the info map; decodes the entries of the processes counted now that changed. Its entry count. */
  #readInfo(collection: number): number {
    const procs = this.#source.readProcs();
    const { executable, cgroup_id } = PROCESS_INFO.fields;
    const values = procs.values;
    const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    const words = this.#infoCgroupWords;
    for (let i = 0; i < procs.count; i++) {
      const slot = this.#slotOf.get(procs.keys.getUint32(i * procs.keySize, true));
      if (slot === undefined || this.#seenAt[slot] !== collection) continue;
      const at = i * procs.valueSize;
      const low = values.getUint32(at + cgroup_id.offset, true);
      const high = values.getUint32(at + cgroup_id.offset + 4, true);
      const name = this.#infoName[slot];
      if (
        name === undefined ||
        words[slot * 2] !== low ||
        words[slot * 2 + 1] !== high ||
        !sameCString(bytes, at + executable.offset, executable.size, name.bytes)
      ) {
        const decoded = decodeProcessInfoAt(values, at);
        const start = at + executable.offset;
        const end = bytes.subarray(start, start + executable.size).indexOf(0);
        this.#infoName[slot] = this.#intern(
          decoded.executable,
          bytes.slice(start, end < 0 ? start + executable.size : start + end),
        );
        this.#infoCgroupId[slot] = this.#internCgroup(decoded.cgroupId);
        words[slot * 2] = low;
        words[slot * 2 + 1] = high;
      }
      this.#infoSeenAt[slot] = collection;
    }
    return procs.count;
  }

  #newSlot(pid: number, startMs: number): number {
    if (this.#freeSlots.length === 0 && this.#highWater === this.#capacity) this.#grow();
    const slot = this.#freeSlots.pop() ?? this.#highWater++;
    // (A key twice in one read: the earlier entry keeps its slot until the next collection, which frees it.)
    this.#slotOf.set(pid, slot);
    this.#used[slot] = 1;
    this.#pid[slot] = pid;
    this.#startMs[slot] = startMs;
    clear(this.#ended, slot, slot + 1);
    clear(this.#counts, slot * this.#lanes, (slot + 1) * this.#lanes);
    this.#executable[slot] = '';
    this.#cgroupId[slot] = 0n;
    this.#total[slot] = -1;
    clear(this.#idle, slot, slot + 1);
    clear(this.#seenAt, slot, slot + 1);
    clear(this.#infoSeenAt, slot, slot + 1);
    this.#infoName[slot] = undefined;
    this.#infoCgroupId[slot] = 0n;
    return slot;
  }

  #freeSlot(slot: number): void {
    if (this.#used[slot] === 0) return;
    const pid = this.#pid[slot]!;
    if (this.#slotOf.get(pid) === slot) this.#slotOf.delete(pid);
    this.#used[slot] = 0;
    this.#executable[slot] = '';
    this.#infoName[slot] = undefined;
    this.#freeSlots.push(slot);
  }

  #grow(): void {
    const capacity = Math.max(1024, this.#capacity * 2);
    // Zero pages stay unwritten (src/collector/columns.ts).
    const grow = grown;
    this.#used = grow(this.#used, new Uint8Array(capacity));
    this.#pid = grow(this.#pid, new Int32Array(capacity));
    this.#startMs = grow(this.#startMs, new Float64Array(capacity));
    this.#ended = grow(this.#ended, new Uint8Array(capacity));
    this.#counts = grow(this.#counts, new Float64Array(capacity * this.#lanes));
    this.#total = grow(this.#total, new Float64Array(capacity));
    this.#idle = grow(this.#idle, new Uint8Array(capacity));
    this.#seenAt = grow(this.#seenAt, new Uint32Array(capacity));
    this.#infoSeenAt = grow(this.#infoSeenAt, new Uint32Array(capacity));
    this.#infoCgroupWords = grow(this.#infoCgroupWords, new Uint32Array(capacity * 2));
    this.#capacity = capacity;
  }

  /**
   * The one string of each executable name (a process's name is decoded once, but many share it), with the bytes it
   * was decoded from (`raw`; by default its UTF-8).
   */
  #intern(name: string, raw?: Uint8Array): InternedName {
    const known = this.#names.get(name);
    if (known !== undefined) return known;
    if (this.#names.size >= MAX_INTERNED_NAMES) this.#names.clear();
    const interned = { name, bytes: raw ?? Buffer.from(name, 'utf8') };
    this.#names.set(name, interned);
    return interned;
  }

  #internCgroup(id: bigint): bigint {
    const known = this.#cgroupIds.get(id);
    if (known !== undefined) return known;
    if (this.#cgroupIds.size >= MAX_INTERNED_NAMES) this.#cgroupIds.clear();
    this.#cgroupIds.set(id, id);
    return id;
  }

  drops(): Drops {
    return {
      program: this.program,
      // Lost events: exits and cgroups the rings had no room for, and the first counts of exiting processes.
      eventsLost:
        (this.#drops[DROP.PROCESS_DROP_EXIT_LOST] ?? 0) +
        (this.#drops[DROP.PROCESS_DROP_CGROUP_LOST] ?? 0) +
        (this.#drops[DROP.PROCESS_DROP_EXITING] ?? 0),
      mapFull: {
        [this.#maps.counts]: this.#drops[DROP.PROCESS_DROP_COUNTS_FULL] ?? 0,
        [this.#maps.procs]: this.#drops[DROP.PROCESS_DROP_INFO_FULL] ?? 0,
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

/** An object that tracks processes with bpf/process.bpf.h: its maps and the programs attached once. */
export interface ProcessObject {
  maps: ProcessMapNames;
  /** The exit ring buffer (struct process_exit_event). */
  exits: string;
  /** The ring buffer of created cgroups (struct process_cgroup_event). */
  cgroups: string;
  /** The per-CPU drop array (enum process_drop). */
  drops: string;
  /** The per-CPU array (one u64) counting the kernel's writes to the info map. */
  infoWrites: string;
  /** Programs attached as they are (tracepoints), in order. */
  programs: readonly string[];
  /** Key and value sizes of the object's maps that the decoders were generated for (src/bpf/layouts.ts). */
  sizes: Readonly<Record<string, { keySize: number; valueSize: number }>>;
}

export interface KernelProcessSourceOptions {
  objectPath: string;
  btfPath?: string;
  /** Capacity of the count and info maps, in processes. Default: the object's. */
  maxEntries?: number;
  /** A process (tgid, as the kernel numbers it) whose counts the kernel leaves out: the agent's own. */
  excludedTgid?: number;
  debug?: boolean;
}

/** Attachments a program makes beyond its tracepoints (the cpu program's per-CPU perf events). */
export interface ExtraAttachments {
  /** Called once the tracepoints are attached; on a throw the source detaches everything and closes. */
  attach(object: BpfObject): void;
  /** Called at every collection, before the exits are drained (to follow CPU hotplug, say). */
  follow(object: BpfObject): void;
  attached(): boolean;
  close(): void;
}

/** The real source: loads the object and attaches its programs. Nothing stays attached or open on failure. */
export class KernelProcessSource implements ProcessSource {
  readonly #spec: ProcessObject;
  readonly #object: BpfObject;
  readonly #links: Link[] = [];
  readonly #ring: RingBuffer;
  readonly #cgroupRing: RingBuffer;
  readonly #extra: ExtraAttachments | undefined;
  #pending: ProcessExit[] = [];
  #pendingCgroups: CgroupCreated[] = [];

  constructor(spec: ProcessObject, options: KernelProcessSourceOptions, extra?: ExtraAttachments) {
    this.#spec = spec;
    this.#extra = extra;
    const { object, built } = buildObject(
      options.objectPath,
      { btfPath: options.btfPath, debug: options.debug },
      (object, own) => {
        for (const map of [spec.maps.counts, spec.maps.procs]) {
          const sizes = spec.sizes[map];
          if (sizes === undefined) throw new Error(`no layout for map ${map}`);
          object.expectMap(map, sizes.keySize, sizes.valueSize);
        }
        if (options.maxEntries !== undefined) {
          object.setMaxEntries(spec.maps.counts, options.maxEntries);
          object.setMaxEntries(spec.maps.procs, options.maxEntries);
        }
        if (options.excludedTgid !== undefined) object.setGlobalU32('excluded_tgid', options.excludedTgid);
        object.load();
        const ring = own(
          new RingBuffer(object, spec.exits, (records) => {
            for (const record of records) this.#pending.push(decodeProcessExit(record));
          }),
        );
        const cgroupRing = own(
          new RingBuffer(object, spec.cgroups, (records) => {
            for (const record of records) {
              const created = decodeCgroupCreated(record);
              if (created !== undefined) this.#pendingCgroups.push(created);
            }
          }),
        );
        const links = spec.programs.map((program) => own(object.attach(program)));
        try {
          extra?.attach(object);
        } catch (error) {
          extra?.close();
          throw error;
        }
        return { ring, cgroupRing, links };
      },
    );
    this.#object = object;
    this.#ring = built.ring;
    this.#cgroupRing = built.cgroupRing;
    this.#links.push(...built.links);
  }

  drainExits(): ProcessExit[] {
    // Called first in every collection: the right moment to follow what the extra attachments follow.
    this.#extra?.follow(this.#object);
    this.#ring.consume();
    const events = this.#pending;
    this.#pending = [];
    return events;
  }

  drainCgroups(): CgroupCreated[] {
    this.#cgroupRing.consume();
    const events = this.#pendingCgroups;
    this.#pendingCgroups = [];
    return events;
  }

  readCounts(): MapSnapshot {
    return this.#object.readMap(this.#spec.maps.counts);
  }

  readProcs(): MapSnapshot {
    return this.#object.readMap(this.#spec.maps.procs);
  }

  readInfoWrites(): number {
    return Number(this.#object.readCounters(this.#spec.infoWrites)[0] ?? 0n);
  }

  readDrops(): number[] {
    return this.#object.readCounters(this.#spec.drops).map(Number);
  }

  deleteProcesses(pids: readonly number[]): void {
    const tgids = new Uint8Array(new Uint32Array(pids).buffer);
    this.#object.deleteKeys(this.#spec.maps.counts, tgids);
    this.#object.deleteKeys(this.#spec.maps.procs, tgids);
  }

  capacity(): { counts: number; procs: number } {
    return {
      counts: this.#object.map(this.#spec.maps.counts).maxEntries,
      procs: this.#object.map(this.#spec.maps.procs).maxEntries,
    };
  }

  attached(): boolean {
    return (
      this.#links.length === this.#spec.programs.length &&
      this.#links.every((link) => link.attached) &&
      (this.#extra?.attached() ?? true)
    );
  }

  get object(): BpfObject {
    return this.#object;
  }

  close(): void {
    this.#extra?.close();
    for (const link of this.#links) link.destroy();
    this.#ring.close();
    this.#cgroupRing.close();
    this.#object.close();
  }
}

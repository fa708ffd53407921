// exec: every successful execve/execveat (bpf/exec.bpf.c), counted by (executable, parent executable).
import { BpfObject, RingBuffer, buildObject, clocks, type Link } from '../bpf/index.ts';
import { EXEC_DROP, EXEC_EVENT, EXEC_EVENT_FLAG } from '../bpf/layouts.ts';
import { cString } from './decode.ts';
import type { Collector, Drops, MapFill } from './types.ts';

/** Size of struct exec_event (bpf/exec.h). */
export const EXEC_EVENT_SIZE = EXEC_EVENT.size;
const DROP = EXEC_DROP.values;

export interface ExecEvent {
  /** Wall-clock time of the exec, ms since the epoch. */
  timeMs: number;
  /** The same, in ns. */
  timeNs: bigint;
  cgroupId: bigint;
  pid: number;
  ppid: number;
  uid: number;
  /** comm after the exec (the kernel's 15-byte name, settable by the process). */
  comm: string;
  /** comm of the real parent. */
  parentComm: string;
  /**
   * process.executable.name of the new program: the base name of its executable file (for a symlink, the
   * target's), cut to EXEC_EXECUTABLE_LEN - 1 bytes. What the exec is counted under.
   */
  executable: string;
  /** The same of the real parent (a kernel thread's comm when the parent is one). */
  parentExecutable: string;
  filename: string;
  /** The filename filled the kernel's buffer and may be cut short. */
  filenameTruncated: boolean;
  /** By the agent or one of its descendants (the exec handler and whatever it runs). */
  fromAgent: boolean;
}

/** `bootToRealNs`: CLOCK_REALTIME - CLOCK_BOOTTIME, to turn the event's boot time into wall time. */
export function decodeExecEvent(view: DataView, bootToRealNs: bigint): ExecEvent {
  const f = EXEC_EVENT.fields;
  // A record ends at its filename's NUL (the kernel sends no more): the fixed fields must all be there.
  if (view.byteLength < f.filename.offset) throw new Error(`exec_event of ${view.byteLength} bytes`);
  const bootNs = view.getBigUint64(f.boot_ns.offset, true);
  const filenameLen = view.getUint16(f.filename_len.offset, true);
  const filenameBytes = Math.min(f.filename.size, view.byteLength - f.filename.offset);
  const flags = view.getUint16(f.flags.offset, true);
  const timeNs = bootNs + bootToRealNs;
  return {
    timeMs: Number(timeNs / 1_000_000n),
    timeNs,
    cgroupId: view.getBigUint64(f.cgroup_id.offset, true),
    pid: view.getUint32(f.pid.offset, true),
    ppid: view.getUint32(f.ppid.offset, true),
    uid: view.getUint32(f.uid.offset, true),
    comm: cString(view, f.comm.offset, f.comm.size),
    parentComm: cString(view, f.parent_comm.offset, f.parent_comm.size),
    executable: cString(view, f.executable.offset, f.executable.size),
    parentExecutable: cString(view, f.parent_executable.offset, f.parent_executable.size),
    filename: cString(view, f.filename.offset, filenameBytes),
    filenameTruncated: filenameLen >= f.filename.size,
    fromAgent: (flags & EXEC_EVENT_FLAG.values.EXEC_EVENT_FROM_AGENT) !== 0,
  };
}

/** Execs by (executable, parent executable): ExecEvent.executable and .parentExecutable. */
export interface ExecCount {
  executable: string;
  parentExecutable: string;
  count: number;
  startMs: number;
}

/** Default bound of the (executable, parent executable) pairs an ExecCollector keeps. */
export const EXEC_MAX_PAIRS = 16384;

export interface ExecCollectorOptions {
  /**
   * At most this many (executable, parent executable) pairs are kept. A new pair takes the place of the one counted least
   * recently, once that one's count has been collected (its series ends as an exited process's does); when every
   * pair has counted since the last collection, the exec is not counted by pair and is reported as a drop
   * (mapFull.exec_pairs). Its listeners (log, handler) get it either way.
   */
  maxPairs?: number;
}

interface PairState extends ExecCount {
  /** Collected since its last exec: it may give its place to a new pair. */
  collected: boolean;
}

export interface ExecSnapshot {
  execs: ExecCount[];
}

export interface ExecSource {
  /** Delivers pending events to the listener now. */
  drain(): void;
  /** exec_drops by slot. */
  readDrops(): number[];
  attached(): boolean;
  close(): void;
}

export class ExecCollector implements Collector<ExecSnapshot> {
  readonly program = 'exec' as const;
  /** By key, least recently counted first (a counted pair moves to the end). */
  readonly #counts = new Map<string, PairState>();
  readonly #listeners: ((event: ExecEvent) => void)[] = [];
  readonly #maxPairs: number;
  #source: ExecSource | undefined;
  #drops: number[] = [0];
  #pairsFull = 0;
  #now: () => number;

  constructor(now: () => number = Date.now, options: ExecCollectorOptions = {}) {
    this.#now = now;
    this.#maxPairs = options.maxPairs ?? EXEC_MAX_PAIRS;
    if (!Number.isInteger(this.#maxPairs) || this.#maxPairs < 1) {
      throw new Error(`maxPairs must be a positive integer, got ${this.#maxPairs}`);
    }
  }

  /** Connects the source; events it delivers go through onEvent(). */
  use(source: ExecSource): void {
    this.#source = source;
  }

  /** Subscribes to every exec event (the exec log and the exec handler use this). */
  subscribe(listener: (event: ExecEvent) => void): void {
    this.#listeners.push(listener);
  }

  onEvent(event: ExecEvent): void {
    this.#count(event);
    for (const listener of this.#listeners) listener(event);
  }

  #count(event: ExecEvent): void {
    const key = `${event.executable}\u0000${event.parentExecutable}`;
    let entry = this.#counts.get(key);
    if (entry !== undefined) {
      this.#counts.delete(key);
    } else {
      if (this.#counts.size >= this.#maxPairs) {
        const [oldestKey, oldest] = this.#counts.entries().next().value!;
        if (!oldest.collected) {
          this.#pairsFull++;
          return;
        }
        this.#counts.delete(oldestKey);
      }
      entry = {
        executable: event.executable,
        parentExecutable: event.parentExecutable,
        count: 0,
        startMs: this.#now(),
        collected: false,
      };
    }
    entry.count++;
    entry.collected = false;
    this.#counts.set(key, entry);
  }

  attached(): boolean {
    return this.#source?.attached() ?? false;
  }

  collect(_nowMs: number): ExecSnapshot {
    this.#source?.drain();
    this.#drops = this.#source?.readDrops() ?? this.#drops;
    const execs: ExecCount[] = [];
    for (const entry of this.#counts.values()) {
      entry.collected = true;
      execs.push({
        executable: entry.executable,
        parentExecutable: entry.parentExecutable,
        count: entry.count,
        startMs: entry.startMs,
      });
    }
    return { execs };
  }

  drops(): Drops {
    return {
      program: this.program,
      eventsLost: this.#drops[DROP.EXEC_DROP_RINGBUF_FULL] ?? 0,
      mapFull: {
        exec_descendants: this.#drops[DROP.EXEC_DROP_DESCENDANTS_FULL] ?? 0,
        exec_pairs: this.#pairsFull,
      },
    };
  }

  mapFill(): MapFill[] {
    return [];
  }

  close(): void {
    this.#source?.close();
    this.#source = undefined;
  }
}

export interface KernelExecSourceOptions {
  objectPath: string;
  btfPath?: string;
  /** Ring buffer size in bytes: a power of two, a multiple of the page size. */
  ringBytes?: number;
  /** In-kernel filter: only execs by this uid reach the ring buffer (and the counters). */
  onlyUid?: number;
  /** This process: its descendants' execs are marked fromAgent. */
  agentPid?: number;
  debug?: boolean;
}

export class KernelExecSource implements ExecSource {
  readonly #object: BpfObject;
  readonly #ring: RingBuffer;
  readonly #links: Link[] = [];

  constructor(options: KernelExecSourceOptions, onEvent: (event: ExecEvent) => void) {
    const { object, built } = buildObject(
      options.objectPath,
      { btfPath: options.btfPath, debug: options.debug },
      (object, own) => {
        if (options.ringBytes !== undefined) object.setMaxEntries('exec_events', options.ringBytes);
        object.setGlobalU32('agent_tgid', options.agentPid ?? process.pid);
        if (options.onlyUid !== undefined) object.setGlobalU32('only_uid', options.onlyUid);
        object.load();
        const { boottimeNs, realtimeNs } = clocks();
        const offset = realtimeNs - boottimeNs;
        const ring = own(
          new RingBuffer(object, 'exec_events', (records) => {
            for (const record of records) onEvent(decodeExecEvent(record, offset));
          }),
        );
        // Descendant tracking first, so the handler's first exec is already marked.
        const links = ['eoa_exec_fork', 'eoa_exec_exit', 'eoa_exec'].map((name) => own(object.attach(name)));
        return { ring, links };
      },
    );
    this.#object = object;
    this.#ring = built.ring;
    this.#links.push(...built.links);
  }

  drain(): void {
    this.#ring.consume();
  }

  readDrops(): number[] {
    return this.#object.readCounters('exec_drops').map(Number);
  }

  attached(): boolean {
    return this.#links.length === 3 && this.#links.every((link) => link.attached);
  }

  get object(): BpfObject {
    return this.#object;
  }

  close(): void {
    for (const link of this.#links) link.destroy();
    this.#ring.close();
    this.#object.close();
  }
}

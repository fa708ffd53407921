// Typed face of the native libbpf addon. No logic: names, types, and errors that carry errno.
import {
  loadAddon,
  type RawBpfObject,
  type RawLink,
  type RawRingBuffer,
  type RawMapInfo,
  type RawNetLink,
} from './addon.ts';

export { addonPath } from './addon.ts';

/** An error from libbpf or the kernel: errno (positive), its name, and what libbpf printed (verifier log). */
export interface BpfError extends Error {
  errno?: number;
  code?: string;
  log?: string;
}

export function isBpfError(error: unknown): error is BpfError {
  return error instanceof Error && typeof (error as BpfError).errno === 'number';
}

export type MapInfo = RawMapInfo;

/** Every entry of a map: keys packed at keySize, values at valueSize (per-CPU values already summed). */
export interface MapSnapshot {
  readonly count: number;
  readonly keys: DataView;
  readonly values: DataView;
  readonly keySize: number;
  readonly valueSize: number;
}

export const XDP_FLAGS_SKB_MODE = 1 << 1;
export const XDP_FLAGS_DRV_MODE = 1 << 2;

export class Link {
  #raw: RawLink | undefined;
  constructor(raw: RawLink) {
    this.#raw = raw;
  }
  get attached(): boolean {
    return this.#raw !== undefined;
  }
  destroy(): void {
    this.#raw?.destroy();
    this.#raw = undefined;
  }
}

export interface OpenOptions {
  /** Kernel BTF to use for CO-RE relocations instead of /sys/kernel/btf/vmlinux. */
  btfPath?: string;
  /** Print libbpf's debug messages. */
  debug?: boolean;
}

export class BpfObject {
  readonly path: string;
  #raw: RawBpfObject | undefined;
  #maps = new Map<string, MapInfo>();

  constructor(path: string, options: OpenOptions = {}) {
    const addon = loadAddon();
    this.path = path;
    this.#raw = new addon.BpfObject(path, options);
    for (const info of this.#raw.maps()) this.#maps.set(info.name, info);
  }

  get raw(): RawBpfObject {
    if (this.#raw === undefined) throw new Error(`BPF object ${this.path} is closed`);
    return this.#raw;
  }

  map(name: string): MapInfo {
    const info = this.#maps.get(name);
    if (info === undefined) throw new Error(`BPF object ${this.path} has no map named ${name}`);
    return info;
  }

  /** Checks the key and value sizes this side was written for against the object's BTF. */
  expectMap(name: string, keySize: number, valueSize: number): void {
    const info = this.map(name);
    if (info.keySize !== keySize || info.valueSize !== valueSize) {
      throw new Error(
        `map ${name} in ${this.path} has key/value sizes ${info.keySize}/${info.valueSize}, ` +
          `this agent expects ${keySize}/${valueSize}: the BPF object and the agent are from different builds`,
      );
    }
  }

  setMaxEntries(map: string, maxEntries: number): void {
    this.raw.setMaxEntries(map, maxEntries);
    this.#maps.set(map, { ...this.map(map), maxEntries });
  }

  /** Sets a u32 `const volatile` global before load. */
  setGlobalU32(name: string, value: number): void {
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setUint32(0, value, true);
    this.raw.setGlobal(name, bytes);
  }

  load(): void {
    this.raw.load();
    for (const info of this.raw.maps()) this.#maps.set(info.name, info);
  }

  attach(program: string): Link {
    return new Link(this.raw.attach(program));
  }

  attachXdp(program: string, ifindex: number, flags: number): { link: Link; mode: string } {
    const { link, mode } = this.raw.attachXdp(program, ifindex, flags);
    return { link: new Link(link), mode };
  }

  /**
   * A tcx link on the interface's ingress or egress (Linux 6.6+): appended after the programs on the hook, or before
   * all of them with `first`; nothing is replaced.
   */
  attachTcx(program: string, ifindex: number, direction: 'ingress' | 'egress', first = false): Link {
    return new Link(this.raw.attachTcx(program, ifindex, direction === 'egress', first));
  }

  /** A CPU-clock perf event sampling at `hz` on `cpu`, with the program attached. */
  attachCpuClock(program: string, cpu: number, hz: number): Link {
    return new Link(this.raw.attachCpuClock(program, cpu, hz));
  }

  /** Every entry, or the first `limit` (an array's indexes 0 to limit - 1); per-CPU values summed. */
  readMap(name: string, limit?: number): MapSnapshot {
    const info = this.map(name);
    const { count, keys, values } = limit === undefined ? this.raw.readMap(name) : this.raw.readMap(name, limit);
    return {
      count,
      keys: new DataView(keys),
      values: new DataView(values),
      keySize: info.keySize,
      valueSize: info.valueSize,
    };
  }

  /** Sum of every slot of a per-CPU u64 array (drop counters), by index. */
  readCounters(name: string): bigint[] {
    const snapshot = this.readMap(name);
    const out: bigint[] = [];
    for (let i = 0; i < snapshot.count; i++) {
      const index = snapshot.keys.getUint32(i * snapshot.keySize, true);
      out[index] = snapshot.values.getBigUint64(i * snapshot.valueSize, true);
    }
    return out;
  }

  /** Sets each key (packed at the key size) to its value (packed at the value size); per-CPU maps on every CPU. */
  updateElems(name: string, keys: Uint8Array, values: Uint8Array): void {
    if (keys.byteLength === 0) return;
    this.raw.updateElems(name, keys, values);
  }

  deleteKeys(name: string, keys: Uint8Array): number {
    if (keys.byteLength === 0) return 0;
    return this.raw.deleteKeys(name, keys);
  }

  programInfo(program: string): { id: number; runTimeNs: number; runCount: number; verifiedInstructions: number } {
    return this.raw.programInfo(program);
  }

  close(): void {
    this.#raw?.close();
    this.#raw = undefined;
  }
}

/** Events of a ring buffer map, delivered on the event loop (and on demand by consume()). */
export class RingBuffer {
  #raw: RawRingBuffer | undefined;
  constructor(object: BpfObject, map: string, onRecords: (records: DataView[]) => void) {
    const addon = loadAddon();
    this.#raw = new addon.RingBuffer(object.raw, map, (batch) => onRecords(splitBatch(batch)));
  }
  /** Delivers everything already in the ring buffer now, synchronously. */
  consume(): void {
    this.#raw?.consume();
  }
  close(): void {
    this.#raw?.close();
    this.#raw = undefined;
  }
}

/** Splits the addon's packed batch: [u32 length, u32 0, payload padded to 8] repeated. */
export function splitBatch(batch: ArrayBuffer): DataView[] {
  const view = new DataView(batch);
  const records: DataView[] = [];
  let offset = 0;
  while (offset + 8 <= batch.byteLength) {
    const length = view.getUint32(offset, true);
    if (offset + 8 + length > batch.byteLength) throw new Error('ring buffer batch is truncated');
    records.push(new DataView(batch, offset + 8, length));
    offset += 8 + Math.ceil(length / 8) * 8;
  }
  return records;
}

/** CLOCK_BOOTTIME and CLOCK_REALTIME read back to back, to turn bpf_ktime_get_boot_ns() into wall time. */
export function clocks(): { boottimeNs: bigint; realtimeNs: bigint } {
  return loadAddon().clocks();
}

export function mountTracefs(path: string): void {
  loadAddon().mountTracefs(path);
}

/** Interface index by name; 0 when there is no such interface. */
export function interfaceIndex(name: string): number {
  return loadAddon().ifindex(name);
}

export function interfaceName(ifindex: number): string | undefined {
  return loadAddon().ifname(ifindex);
}

/**
 * A network interface of the agent's namespace (rtnetlink). For a veth whose other end is in another namespace:
 * that end's ifindex there and the id this namespace gives that namespace (peerNetnsId -1: no such peer).
 */
export type NetLink = RawNetLink;

export function networkLinks(): NetLink[] {
  return loadAddon().links();
}

/** The id this network namespace gives the namespace of `path` (/proc/<pid>/ns/net), matching NetLink.peerNetnsId. */
export function netnsId(path: string): number {
  return loadAddon().netnsId(path);
}

export function xdpQuery(ifindex: number): { progId: number; mode: number } {
  return loadAddon().xdpQuery(ifindex);
}

export function numPossibleCpus(): number {
  return loadAddon().numPossibleCpus();
}

export function libbpfVersion(): string {
  return loadAddon().libbpfVersion();
}

/** Returns the C heap's free pages to the kernel (glibc's malloc_trim); true when some were. */
export function trimMalloc(): boolean {
  return loadAddon().trimMalloc();
}

/** glibc's mallopt() by name ("mmap_threshold", "trim_threshold", "arena_max"); true when it was taken. */
export function setMallocOption(name: string, value: number): boolean {
  return loadAddon().setMallocOption(name, value);
}

/**
 * Unmaps the process's clean read-only file mappings' pages (madvise MADV_DONTNEED on each private, non-writable,
 * file-backed mapping with no private copy of a page): the bytes that were mapped, or -1 when /proc/self/smaps
 * cannot be read. The pages stay in the page cache and come back at their next access.
 */
export function dropFilePages(): number {
  return loadAddon().dropFilePages();
}

/** Turns on per-program run time and run counts (BPF_ENABLE_STATS) until the returned handle is destroyed. */
export function enableRunTimeStats(): Link {
  return new Link(loadAddon().enableRunTimeStats());
}

/**
 * Opens `path` and builds on it (tunables, load, ring buffers, links). What `setup` registers with `own`, and the
 * object itself, are released when setup throws, in reverse order: a failed constructor leaves nothing attached
 * or open (as cilium/ebpf's collections and node-usb's constructors clean up).
 */
export function buildObject<T>(
  path: string,
  options: OpenOptions,
  setup: (object: BpfObject, own: <R extends Link | RingBuffer>(resource: R) => R) => T,
): { object: BpfObject; built: T } {
  const object = new BpfObject(path, options);
  const owned: (Link | RingBuffer)[] = [];
  try {
    const built = setup(object, (resource) => {
      owned.push(resource);
      return resource;
    });
    return { object, built };
  } catch (error) {
    for (const resource of owned.reverse()) {
      if (resource instanceof Link) resource.destroy();
      else resource.close();
    }
    object.close();
    throw error;
  }
}

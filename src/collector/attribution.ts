// Who a process is: container and pod from its cgroup (the id the kernel recorded), pod name and namespace from
// the kubelet's pod list on this node. Unknown stays absent.
import { CgroupResolver, type CgroupIdentity } from './cgroup.ts';
import type { KubeletPods } from './kubelet.ts';
import { IntMap } from './int-map.ts';
import type { Attribution, Attributor } from './series.ts';

export interface AttributorOptions {
  resolver: CgroupResolver;
  /** Pod names and namespaces; undefined: not looked up. */
  pods?: KubeletPods;
  procRoot?: string;
  /**
   * Hard bound of the per-process cache used where the cgroup id says nothing (cgroup v1 or hybrid hosts, and
   * host processes on cgroup v2). Its entries of gone processes are swept (below), so it holds about the live
   * processes; the bound is the kernel's largest possible pid count by default.
   */
  maxProcesses?: number;
}

/** Lookups between two sweeps of the per-process cache: at least this many, and at least the cache's size. */
const SWEEP_MIN_LOOKUPS = 4096;

export function createAttributor(options: AttributorOptions): Attributor {
  const { resolver, pods } = options;
  const maxProcesses = options.maxProcesses ?? 4_194_304;
  // pid → identity read from /proc/<pid>/cgroup, keyed with the cgroup id so a move or a reused pid re-reads.
  // Every live process is looked up on every poll (by each program that counts per process); an entry not looked
  // up through two whole sweep periods (each at least as many lookups as the cache has entries, so at least half a
  // poll) belongs to a process that is gone, and leaves. Evicting by insertion order alone, a node with more live
  // processes than the bound would read /proc/<pid>/cgroup again for every one of them on every poll; past the
  // bound a process is read each time it is looked up, and not cached.
  const cache = new PidCache();
  // One attribution object per identity while its pod stays the same: the shaper and the exporters keep what they
  // made for an attribution object on it, so a poll makes nothing for a process whose answer did not change. The
  // resolver's identities are per cgroup (few, frozen: a weak map); those read from /proc/<pid>/cgroup are per
  // process (kept in the per-process cache's entry).
  const byIdentity = new WeakMap<CgroupIdentity, Attribution>();
  let sweeps = 0;
  let sinceSweep = 0;
  const lookedUp = (): void => {
    if (++sinceSweep < Math.max(cache.size, SWEEP_MIN_LOOKUPS)) return;
    sinceSweep = 0;
    sweeps++;
    cache.sweep(sweeps - 2);
  };
  return (cgroupId, pid) => {
    let identity: CgroupIdentity = cgroupId !== 0n ? resolver.resolve(cgroupId) : NO_IDENTITY;
    // The cache's entry of the process, or −1 (a container known from the cgroup id, or a process not cached).
    let entry = -1;
    if (identity.containerId === undefined && identity.podUid === undefined) {
      // The cgroup v2 id names no container: on cgroup v1 and hybrid hosts the container is in the v1 paths.
      entry = cache.find(pid);
      if (entry >= 0 && cache.cgroupId[entry] === cgroupId) {
        identity = cache.identity[entry]!;
        cache.sweepOf[entry] = sweeps;
      } else {
        identity = resolver.resolvePid(pid, options.procRoot);
        if (entry >= 0 || cache.size < maxProcesses) entry = cache.put(pid, cgroupId, identity, sweeps);
      }
      lookedUp();
    }
    if (identity.containerId === undefined && identity.podUid === undefined) return NO_ATTRIBUTION;
    const pod = identity.podUid === undefined ? undefined : pods?.lookup(identity.podUid);
    const made = entry >= 0 ? cache.attribution[entry] : byIdentity.get(identity);
    if (made !== undefined && made.podName === pod?.name && made.podNamespace === pod?.namespace) return made;
    const out: Attribution = {};
    if (identity.containerId !== undefined) out.containerId = identity.containerId;
    if (identity.podUid !== undefined) {
      out.podUid = identity.podUid;
      if (pod !== undefined) {
        out.podName = pod.name;
        out.podNamespace = pod.namespace;
      }
    }
    if (entry >= 0) cache.attribution[entry] = out;
    else byIdentity.set(identity, out);
    return out;
  };
}

/** The attribution of a process nothing is known of (a host process): one object, never written. */
const NO_ATTRIBUTION: Attribution = Object.freeze({});
const NO_IDENTITY: CgroupIdentity = Object.freeze({});

/**
 * The per-process cache, in columns by entry with a pid → entry index: a process costs no object (at 100,000
 * processes a Map of entry objects was 8 MiB of JS heap; these columns and the index are about 4.5).
 */
class PidCache {
  readonly #index = new IntMap();
  readonly #free: number[] = [];
  #pid = new Int32Array(1024);
  /** The lookup period (sweep) that last used the entry. */
  sweepOf = new Uint32Array(1024);
  readonly cgroupId: bigint[] = [];
  readonly identity: (CgroupIdentity | undefined)[] = [];
  readonly attribution: (Attribution | undefined)[] = [];
  #highWater = 0;

  get size(): number {
    return this.#index.size;
  }

  find(pid: number): number {
    return this.#index.get(pid) ?? -1;
  }

  /** The entry of `pid` (its own if it has one), now of this cgroup id and identity. */
  put(pid: number, cgroupId: bigint, identity: CgroupIdentity, sweep: number): number {
    let entry = this.#index.get(pid);
    if (entry === undefined) {
      entry = this.#free.pop() ?? this.#highWater++;
      if (entry === this.#pid.length) {
        const pids = new Int32Array(entry * 2);
        pids.set(this.#pid);
        this.#pid = pids;
        const sweeps = new Uint32Array(entry * 2);
        sweeps.set(this.sweepOf);
        this.sweepOf = sweeps;
      }
      this.#index.set(pid, entry);
      this.#pid[entry] = pid;
    }
    this.cgroupId[entry] = cgroupId;
    this.identity[entry] = identity;
    this.attribution[entry] = undefined;
    this.sweepOf[entry] = sweep;
    return entry;
  }

  /** The entries last used before sweep `before` leave. */
  sweep(before: number): void {
    for (let entry = 0; entry < this.#highWater; entry++) {
      if (this.identity[entry] === undefined || this.sweepOf[entry]! >= before) continue;
      this.#index.delete(this.#pid[entry]!);
      this.identity[entry] = undefined;
      this.attribution[entry] = undefined;
      this.cgroupId[entry] = 0n;
      this.#free.push(entry);
    }
  }
}

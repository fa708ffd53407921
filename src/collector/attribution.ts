// Who a process is: container and pod from its cgroup (the id the kernel recorded), pod name and namespace from
// the kubelet's pod list on this node. Unknown stays absent.
import { CgroupResolver, type CgroupIdentity } from './cgroup.ts';
import type { KubeletPods } from './kubelet.ts';
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
  // processes than the bound would read /proc/<pid>/cgroup again for every one of them on every poll.
  const byPid = new Map<number, PidEntry>();
  // One attribution object per identity while its pod stays the same: the shaper and the exporters keep what they
  // made for an attribution object on it, so a poll makes nothing for a process whose answer did not change. The
  // resolver's identities are per cgroup (few, frozen: a weak map); those read from /proc/<pid>/cgroup are per
  // process (kept in the per-process cache's entry).
  const byIdentity = new WeakMap<CgroupIdentity, Attribution>();
  let sweeps = 0;
  let sinceSweep = 0;
  const lookedUp = (): void => {
    if (++sinceSweep < Math.max(byPid.size, SWEEP_MIN_LOOKUPS)) return;
    sinceSweep = 0;
    sweeps++;
    // forEach, not for…of: no [key, value] array per process.
    byPid.forEach((entry, pid) => {
      if (entry.sweep < sweeps - 2) byPid.delete(pid);
    });
  };
  return (cgroupId, pid) => {
    let identity: CgroupIdentity = cgroupId !== 0n ? resolver.resolve(cgroupId) : NO_IDENTITY;
    let entry: PidEntry | undefined;
    if (identity.containerId === undefined && identity.podUid === undefined) {
      // The cgroup v2 id names no container: on cgroup v1 and hybrid hosts the container is in the v1 paths.
      const cached = byPid.get(pid);
      if (cached !== undefined && cached.cgroupId === cgroupId) {
        identity = cached.identity;
        cached.sweep = sweeps;
        entry = cached;
      } else {
        identity = resolver.resolvePid(pid, options.procRoot);
        if (cached === undefined && byPid.size >= maxProcesses) byPid.delete(byPid.keys().next().value!);
        entry = { cgroupId, identity, sweep: sweeps };
        byPid.set(pid, entry);
      }
      lookedUp();
    }
    if (identity.containerId === undefined && identity.podUid === undefined) return NO_ATTRIBUTION;
    const pod = identity.podUid === undefined ? undefined : pods?.lookup(identity.podUid);
    const made = entry !== undefined ? entry.attribution : byIdentity.get(identity);
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
    if (entry !== undefined) entry.attribution = out;
    else byIdentity.set(identity, out);
    return out;
  };
}

/** The attribution of a process nothing is known of (a host process): one object, never written. */
const NO_ATTRIBUTION: Attribution = Object.freeze({});
const NO_IDENTITY: CgroupIdentity = Object.freeze({});

interface PidEntry {
  cgroupId: bigint;
  identity: CgroupIdentity;
  sweep: number;
  attribution?: Attribution;
}

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
  const byPid = new Map<number, { cgroupId: bigint; identity: CgroupIdentity; sweep: number }>();
  let sweeps = 0;
  let sinceSweep = 0;
  const lookedUp = (): void => {
    if (++sinceSweep < Math.max(byPid.size, SWEEP_MIN_LOOKUPS)) return;
    sinceSweep = 0;
    sweeps++;
    for (const [pid, entry] of byPid) if (entry.sweep < sweeps - 2) byPid.delete(pid);
  };
  return (cgroupId, pid) => {
    let identity: CgroupIdentity = cgroupId !== 0n ? resolver.resolve(cgroupId) : {};
    if (identity.containerId === undefined && identity.podUid === undefined) {
      // The cgroup v2 id names no container: on cgroup v1 and hybrid hosts the container is in the v1 paths.
      const cached = byPid.get(pid);
      if (cached !== undefined && cached.cgroupId === cgroupId) {
        identity = cached.identity;
        cached.sweep = sweeps;
      } else {
        identity = resolver.resolvePid(pid, options.procRoot);
        if (cached === undefined && byPid.size >= maxProcesses) byPid.delete(byPid.keys().next().value!);
        byPid.set(pid, { cgroupId, identity, sweep: sweeps });
      }
      lookedUp();
    }
    const out: Attribution = {};
    if (identity.containerId !== undefined) out.containerId = identity.containerId;
    if (identity.podUid !== undefined) {
      out.podUid = identity.podUid;
      const pod = pods?.lookup(identity.podUid);
      if (pod !== undefined) {
        out.podName = pod.name;
        out.podNamespace = pod.namespace;
      }
    }
    return out;
  };
}

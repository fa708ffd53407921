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
  /** Bound of the per-process cache used where the cgroup id says nothing (cgroup v1 or hybrid hosts). */
  maxProcesses?: number;
}

export function createAttributor(options: AttributorOptions): Attributor {
  const { resolver, pods } = options;
  const maxProcesses = options.maxProcesses ?? 65_536;
  // pid → identity read from /proc/<pid>/cgroup, keyed with the cgroup id so a move or a reused pid re-reads.
  const byPid = new Map<number, { cgroupId: bigint; identity: CgroupIdentity }>();
  return (cgroupId, pid) => {
    let identity: CgroupIdentity = cgroupId !== 0n ? resolver.resolve(cgroupId) : {};
    if (identity.containerId === undefined && identity.podUid === undefined) {
      // The cgroup v2 id names no container: on cgroup v1 and hybrid hosts the container is in the v1 paths.
      const cached = byPid.get(pid);
      if (cached !== undefined && cached.cgroupId === cgroupId) {
        identity = cached.identity;
      } else {
        identity = resolver.resolvePid(pid, options.procRoot);
        if (byPid.size >= maxProcesses) byPid.delete(byPid.keys().next().value!);
        byPid.set(pid, { cgroupId, identity });
      }
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

// createAttributor's per-process cache (src/collector/attribution.ts), used where a process's cgroup v2 id names no
// container: it reads /proc/<pid>/cgroup once per process, however many processes live, and forgets gone ones.
import { describe, expect, it } from 'vitest';
import { createAttributor } from '../../src/collector/attribution.ts';
import type { CgroupResolver } from '../../src/collector/cgroup.ts';

/** A resolver whose cgroup ids name nothing, so every lookup goes through the per-pid cache; it counts /proc reads. */
function fakeResolver(): { resolver: CgroupResolver; reads: Map<number, number> } {
  const reads = new Map<number, number>();
  const resolver = {
    resolve: () => ({}),
    resolvePid: (pid: number) => {
      reads.set(pid, (reads.get(pid) ?? 0) + 1);
      return pid % 2 === 0 ? { containerId: `c${pid}` } : {};
    },
  } as unknown as CgroupResolver;
  return { resolver, reads };
}

describe('createAttributor', () => {
  it('reads each live process once, with more live processes than 65,536 (and two programs looking each up)', () => {
    const { resolver, reads } = fakeResolver();
    const attribute = createAttributor({ resolver });
    const pids = Array.from({ length: 100_000 }, (_, i) => 1000 + i);
    for (let poll = 0; poll < 5; poll++) {
      for (let program = 0; program < 2; program++) {
        for (const pid of pids) attribute(5n, pid);
      }
    }
    expect(reads.size).toBe(100_000);
    expect(Math.max(...reads.values())).toBe(1);
    expect(attribute(5n, 1000)).toEqual({ containerId: 'c1000' });
  });

  it('forgets processes that are gone, so it holds about the live ones under churn', () => {
    const { resolver, reads } = fakeResolver();
    const attribute = createAttributor({ resolver });
    // 5,000 live processes; each poll 500 of them end and 500 new ones start, for 100 polls: 55,000 pids in all,
    // fewer than a size bound of 65,536 would ever evict.
    let first = 0;
    const live = (): number[] => Array.from({ length: 5_000 }, (_, i) => first + i);
    for (let poll = 0; poll < 100; poll++) {
      for (const pid of live()) attribute(7n, pid);
      first += 500;
    }
    // A long-lived process keeps its entry: the oldest live ones were read once.
    for (const pid of live()) attribute(7n, pid);
    for (const pid of live().slice(0, 500)) expect(reads.get(pid)).toBe(1);
    // A pid gone long ago, seen again (reused), is read again: its entry was swept.
    attribute(7n, 5);
    expect(reads.get(5)).toBe(2);
  });

  it('reads again when a pid comes back in another cgroup', () => {
    const { resolver, reads } = fakeResolver();
    const attribute = createAttributor({ resolver });
    attribute(1n, 42);
    attribute(1n, 42);
    attribute(2n, 42);
    expect(reads.get(42)).toBe(2);
  });
});

describe('createAttributor: one attribution object per answer', () => {
  it('gives the same object while the answer stays the same, and a new one when the pod becomes known', () => {
    const identity = Object.freeze({ containerId: 'c1', podUid: 'u1' });
    const resolver = { resolve: () => identity, resolvePid: () => ({}) } as unknown as CgroupResolver;
    const kubelet: { pod?: { name: string; namespace: string } } = {};
    const pods = { lookup: () => kubelet.pod } as unknown as Parameters<typeof createAttributor>[0]['pods'];
    const attribute = createAttributor({ resolver, pods });
    const first = attribute(5n, 1);
    expect(first).toEqual({ containerId: 'c1', podUid: 'u1' });
    expect(attribute(5n, 2)).toBe(first);
    kubelet.pod = { name: 'web-0', namespace: 'shop' };
    const named = attribute(5n, 1);
    expect(named).toEqual({ containerId: 'c1', podUid: 'u1', podName: 'web-0', podNamespace: 'shop' });
    expect(attribute(5n, 3)).toBe(named);
    // A host process (nothing known) and a process read from /proc/<pid>/cgroup keep theirs too.
    expect(attribute(0n, 7)).toBe(attribute(0n, 8));
    const { resolver: perPid } = fakeResolver();
    const byPid = createAttributor({ resolver: perPid });
    expect(byPid(5n, 10)).toBe(byPid(5n, 10));
  });
});

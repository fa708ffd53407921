// The exits tests' workload (test/helpers/exiter.c): built for a test under a name of its own, run to a known end,
// and a memory-limited cgroup to OOM-kill it in. Used by exits.test.ts and dashboards.test.ts.
//
// Which hierarchy enforces the limit: on a cgroup v1 hybrid host (this project's machines) the memory controller is
// on the v1 hierarchy (/sys/fs/cgroup/memory, memory.limit_in_bytes) and the v2 tree (/sys/fs/cgroup/unified) has
// none; the kernel's cgroup id of a task (the container labels) is still its v2 cgroup's. On a pure v2 host memory.max
// of the v2 cgroup does both.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildStaticC } from '../helpers/static-c.ts';

const V1_MEMORY = '/sys/fs/cgroup/memory';

/** Builds the helper as `dir/name` (static: it runs in any cgroup without a loader) and returns its path. */
export function buildExiter(dir: string, name: string): string {
  return buildStaticC('test/helpers/exiter.c', path.join(dir, name));
}

/**
 * Runs the helper to its end: its exit code or signal, as its parent sees it. `then` gets its pid once it runs its
 * own executable (mode `wait`: signalled before its exec, it would end under its parent's name).
 */
export async function runExiter(
  exePath: string,
  args: string[],
  then?: (pid: number) => void,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const child = spawn(exePath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  if (then !== undefined) {
    let out = '';
    for await (const chunk of child.stdout!) {
      out += String(chunk);
      if (out.includes('ready')) break;
    }
    then(child.pid!);
  }
  child.stdout!.resume();
  const [code, signal] = await exited;
  return { code, signal };
}

export interface MemoryLimit {
  /** The helper's --cgroup arguments: into `container` and, on a hybrid host, the v1 memory cgroup. */
  args: string[];
  /** Removes the cgroups made (children first); what is gone already is skipped. */
  remove(): void;
}

/**
 * A memory limit of `limitBytes` for a process in the v2 cgroup `container` (made by the caller), without swap: a
 * v1 memory cgroup `name` beside it on a hybrid host, memory.max of `container` itself on a pure v2 one.
 */
export function memoryLimit(cgroup2: string, container: string, name: string, limitBytes: number): MemoryLimit {
  const args = ['--cgroup', path.join(container, 'cgroup.procs')];
  const v2HasMemory = readFileSync(path.join(cgroup2, 'cgroup.controllers'), 'utf8').split(/\s+/).includes('memory');
  if (v2HasMemory) {
    writeFileSync(path.join(container, 'memory.max'), String(limitBytes));
    if (existsSync(path.join(container, 'memory.swap.max')))
      writeFileSync(path.join(container, 'memory.swap.max'), '0');
    return { args, remove: () => undefined };
  }
  if (!existsSync(path.join(V1_MEMORY, 'memory.limit_in_bytes'))) {
    throw new Error('no memory controller: neither the cgroup v2 tree nor a v1 memory hierarchy has one');
  }
  const memory = path.join(V1_MEMORY, name);
  mkdirSync(memory);
  writeFileSync(path.join(memory, 'memory.limit_in_bytes'), String(limitBytes));
  const memsw = path.join(memory, 'memory.memsw.limit_in_bytes');
  if (existsSync(memsw)) writeFileSync(memsw, String(limitBytes));
  args.push('--cgroup', path.join(memory, 'cgroup.procs'));
  return {
    args,
    remove: () => {
      try {
        rmdirSync(memory);
      } catch {
        // already gone
      }
    },
  };
}

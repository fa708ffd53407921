// Attribution cost and cache memory: per new process, the cgroup-id path (cgroup v2) and the /proc/<pid>/cgroup
// fallback (v1 and hybrid hosts); memory of the caches at 10k processes and 10k cgroups.
// Run: node --expose-gc bench/attribution.ts   (as root for the /proc part to see every process)
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createAttributor } from '../src/collector/attribution.ts';
import { CgroupResolver } from '../src/collector/cgroup.ts';
import { table, writeSection } from './lib/report.ts';

const N = 10_000;
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');
const heap = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

const rows: string[][] = [];
const mib = (bytes: number): string => `${(bytes / 1048576).toFixed(1)} MiB`;

// A kubelet-style tree of N containers (cgroupfs layout) in a temp dir: directory inodes stand in for cgroup ids.
const tree = mkdtempSync(path.join(os.tmpdir(), 'eoa-cgroups-'));
const ids: bigint[] = [];
try {
  for (let pod = 0; pod < N / 2; pod++) {
    const uid = `0000${pod.toString(16).padStart(4, '0')}-1111-4222-8333-444455556666`;
    for (let c = 0; c < 2; c++) {
      const dir = path.join(
        tree,
        'kubepods',
        'burstable',
        `pod${uid}`,
        `${pod.toString(16).padStart(8, '0')}${c}`.padEnd(64, 'a'),
      );
      mkdirSync(dir, { recursive: true });
      ids.push(statSync(dir, { bigint: true }).ino);
    }
  }
  const before = heap();
  const resolver = new CgroupResolver({ cgroup2Root: tree, maxEntries: 4 * N, minRescanIntervalMs: 0 });
  let start = performance.now();
  resolver.resolve(ids[0]!); // first miss: one walk of the whole tree
  const walkMs = performance.now() - start;
  const attribute = createAttributor({ resolver });
  start = performance.now();
  for (let i = 0; i < ids.length; i++) {
    const a = attribute(ids[i]!, 1_000_000 + i);
    if (a.containerId === undefined) throw new Error('not resolved');
  }
  const perHitUs = ((performance.now() - start) / ids.length) * 1000;
  const resolverBytes = heap() - before;
  rows.push(
    [`cgroup v2 path: first lookup, one walk of ${N} container cgroups`, `${walkMs.toFixed(1)} ms`],
    ['cgroup v2 path: attribution of a new process, after the walk', `${perHitUs.toFixed(2)} µs`],
    [`cgroup v2 path: resolver cache for ${resolver.stats().entries} cgroups`, mib(resolverBytes)],
  );
} finally {
  rmSync(tree, { recursive: true, force: true });
}

// /proc fallback: real processes, each looked up once.
const sleepers: ChildProcess[] = [];
try {
  const count = 2000;
  for (let i = 0; i < count; i++) sleepers.push(spawn('sleep', ['600'], { stdio: 'ignore' }));
  await new Promise((r) => setTimeout(r, 500));
  const before = heap();
  const attribute = createAttributor({ resolver: new CgroupResolver({ cgroup2Root: '/nonexistent' }) });
  const start = performance.now();
  for (const s of sleepers) attribute(1n, s.pid!);
  const perUs = ((performance.now() - start) / count) * 1000;
  const bytes = heap() - before;
  rows.push(
    ['`/proc/<pid>/cgroup` fallback: attribution of a new process', `${perUs.toFixed(1)} µs`],
    [`\`/proc/<pid>/cgroup\` fallback: cache at ${N} processes (measured at ${count})`, mib((bytes / count) * N)],
  );
} finally {
  for (const s of sleepers) s.kill('SIGKILL');
}

await writeSection(
  'attribution',
  [
    `${os.cpus().length} CPUs, kernel ${os.release()}; cache memory is V8 heap growth after GC.`,
    '',
    table(['measure', 'result'], rows),
  ].join('\n'),
);

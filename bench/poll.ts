// Poll cost: read + per-CPU sum + decode of N entries of the syscall counts map, pre-filled from user space
// (the program is loaded, not attached), against a plain per-key lookup loop over the same keys.
// Run as root: npm run bench:poll [-- 1000 10000 100000]
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { BpfObject, numPossibleCpus } from '../src/bpf/index.ts';
import { decodeCounts, SYSCALL_KEY_SIZE } from '../src/collector/syscalls.ts';
import { median, table, writeSection } from './lib/report.ts';

const root = path.resolve(import.meta.dirname, '..');
const sizes = process.argv
  .slice(2)
  .map(Number)
  .filter((n) => n > 0);
const N_LIST = sizes.length > 0 ? sizes : [1_000, 10_000, 100_000];
const REPEAT = 15;

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

const cpus = numPossibleCpus();
const rows: (string | number)[][] = [];
for (const n of N_LIST) {
  const object = new BpfObject(path.join(root, 'bpf', 'build', 'syscalls.bpf.o'));
  object.setMaxEntries('syscall_counts', Math.max(1024, 2 ** Math.ceil(Math.log2(n * 1.1))));
  object.load();
  const keys = new DataView(new ArrayBuffer(n * SYSCALL_KEY_SIZE));
  const values = new DataView(new ArrayBuffer(n * 8 * cpus));
  for (let i = 0; i < n; i++) {
    keys.setUint32(i * 8, 1_000_000 + Math.floor(i / 4), true);
    keys.setUint32(i * 8 + 4, i % 4, true);
    for (let cpu = 0; cpu < cpus; cpu++) values.setBigUint64((i * cpus + cpu) * 8, BigInt(i + cpu), true);
  }
  object.updateKeys('syscall_counts', new Uint8Array(keys.buffer), new Uint8Array(values.buffer));
  let decoded = 0;
  const batch = measure(() => {
    decoded = decodeCounts(object.readMap('syscall_counts')).size;
  });
  if (decoded !== Math.ceil(n / 4)) throw new Error(`decoded ${decoded} processes, expected ${Math.ceil(n / 4)}`);
  const perKey = measure(() => {
    const { found, values: v } = object.lookupMap('syscall_counts', new Uint8Array(keys.buffer));
    let sum = 0;
    for (let i = 0; i < found.length; i++) sum += Number(v.getBigUint64(i * 8, true));
    if (sum === 0) throw new Error('lookup found nothing');
  });
  rows.push([n.toLocaleString('en-US'), batch.toFixed(2), perKey.toFixed(2), `${(perKey / batch).toFixed(1)}×`]);
  object.close();
}

await writeSection(
  'poll',
  [
    `Poll cost on ${os.cpus().length} CPUs (${cpus} possible), kernel ${os.release()}, median of ${REPEAT} runs.`,
    '',
    table(['entries', 'batch read + sum + decode (ms)', 'per-key lookup loop (ms)', 'speed-up'], rows, [
      'r',
      'r',
      'r',
      'r',
    ]),
  ].join('\n'),
);

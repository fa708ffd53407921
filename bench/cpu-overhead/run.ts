// Overhead of the cpu program: a fixed amount of CPU work (work.c, one thread per CPU) timed without the agent
// and with --programs cpu at 99 Hz and 999 Hz, interleaved rounds, medians; plus the program's own time per
// sample from the kernel (--bpf-stats). Run as root from a built checkout: npm run bench:cpu
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { median, table, writeSection } from '../lib/report.ts';

const here = import.meta.dirname;
const root = path.resolve(here, '..', '..');
mkdirSync(path.join(here, 'build'), { recursive: true });
const work = path.join(here, 'build', 'work');
execFileSync('gcc', ['-O2', '-o', work, path.join(here, 'work.c')]);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CPUS = os.cpus().length;

async function timeWork(): Promise<number> {
  const started = performance.now();
  await Promise.all(
    Array.from(
      { length: CPUS },
      () => new Promise((resolve) => spawn(work, ['1500000000'], { stdio: 'ignore' }).once('exit', resolve)),
    ),
  );
  return performance.now() - started;
}

async function withAgent<T>(hz: number, run: (metrics: () => Promise<string>) => Promise<T>): Promise<T> {
  const agent = spawn(
    process.execPath,
    [
      path.join(root, 'dist', 'cli.js'),
      '--programs',
      'cpu',
      '--cpu-sample-hz',
      String(hz),
      '--bpf-stats',
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--interval',
      '5s',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  agent.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  try {
    while (!/listen=[^ ]*:(\d+)/.test(log)) {
      if (agent.exitCode !== null) throw new Error(log);
      await new Promise((r) => setTimeout(r, 50));
    }
    const url = `http://127.0.0.1:${/listen=[^ ]*:(\d+)/.exec(log)![1]}/metrics`;
    await new Promise((r) => setTimeout(r, 500));
    return await run(async () => (await fetch(url)).text());
  } finally {
    agent.kill('SIGTERM');
    await new Promise((r) => agent.once('exit', r));
  }
}

const times: Record<string, number[]> = { none: [], '99': [], '999': [] };
const perSample: Record<string, number> = {};
for (let round = 0; round < ROUNDS; round++) {
  times.none!.push(await timeWork());
  for (const hz of [99, 999]) {
    await withAgent(hz, async (metrics) => {
      times[String(hz)]!.push(await timeWork());
      await new Promise((r) => setTimeout(r, 5500)); // one poll after the work
      const text = await metrics();
      const t = Number(
        /ebpf_agent_bpf_program_run_time_seconds_total\{program="cpu",bpf_program="eoa_cpu_sample"\} (\S+)/.exec(
          text,
        )?.[1],
      );
      const n = Number(
        /ebpf_agent_bpf_program_runs_total\{program="cpu",bpf_program="eoa_cpu_sample"\} (\S+)/.exec(text)?.[1],
      );
      if (n > 0) perSample[String(hz)] = (t * 1e9) / n;
    });
  }
}
const base = median(times.none!);
await writeSection(
  'cpu',
  [
    `CPU sampling overhead: fixed work on ${CPUS} CPUs, median of ${ROUNDS} interleaved rounds, load ${os.loadavg()[0]!.toFixed(2)}, kernel ${os.release()}.`,
    '',
    table(
      ['setup', 'work time (ms)', 'overhead', 'program time per sample (ns)'],
      [
        ['no agent', base.toFixed(0), '—', '—'],
        ...['99', '999'].map((hz) => {
          const m = median(times[hz]!);
          return [
            `cpu program at ${hz} Hz`,
            m.toFixed(0),
            `${(((m - base) / base) * 100).toFixed(2)} %`,
            perSample[hz]?.toFixed(0) ?? '?',
          ];
        }),
      ],
    ),
  ].join('\n'),
);

// /metrics latency and agent memory at 1k, 10k and 100k real series, against prom-client serving the same label
// sets and values in the same run, with 1, 10 and 50 concurrent scrapers.
// The agent (dist/cli.js, syscalls program only, 5 s interval, a budget and map large enough that no series
// folds) watches a fleet of stopped helper processes that each made one openat, read, write and connect call:
// 4 series per process. Its ebpf_process_syscalls_total series are copied into a prom-client Counter in another process
// (bench/lib/promclient-server.ts). Scrapers run in a process of their own (bench/lib/scrape-load.ts); the two
// servers take turns, in an order that alternates between rows.
// Run as root from a built checkout: npm run bench:scrape [-- SIZES] (default 1000,10000,100000);
// BENCH_SECONDS (per measurement, default 5).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  buildHelper,
  root,
  startAgent,
  startFleet,
  syscallSeries,
  until,
  type Agent,
  type Fleet,
} from './lib/fleet.ts';
import { percentile, rssMiB, table, writeSection } from './lib/report.ts';

const SIZES = (process.argv[2] ?? '1000,10000,100000').split(',').map(Number);
const SCRAPERS = [1, 10, 50];
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const GOAL_RATIO = 0.33;

interface Load {
  times: number[];
  failures: number;
  bytes: number;
}

async function load(url: string, concurrency: number, gzip = false): Promise<Load> {
  const script = path.join(root, 'bench', 'lib', 'scrape-load.ts');
  const args = [script, url, String(concurrency), String(SECONDS), ...(gzip ? ['gzip'] : [])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  if (code !== 0) throw new Error(`scrape load against ${url} exited with ${code}`);
  return JSON.parse(out) as Load;
}

function vmHwmMiB(pid: number): number {
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? 0) / 1024;
}

/** ebpf_process_syscalls_total from the agent's exposition, as prom-client input. */
function extract(text: string): { name: string; help: string; labelNames: string[]; series: (string | number)[][] } {
  const help = /^# HELP ebpf_process_syscalls_total (.*)$/m.exec(text)?.[1] ?? '';
  const rows: Record<string, string>[] = [];
  const values: number[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('ebpf_process_syscalls_total{')) continue;
    const close = line.lastIndexOf('}');
    const labels: Record<string, string> = {};
    for (const m of line.slice(0, close).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[m[1]!] = m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    rows.push(labels);
    values.push(Number(line.slice(close + 1).trim()));
  }
  const labelNames = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  return {
    name: 'ebpf_process_syscalls_total',
    help,
    labelNames,
    series: rows.map((r, i) => [...labelNames.map((n) => r[n] ?? ''), values[i]!]),
  };
}

async function startPromClient(seriesFile: string): Promise<{ child: ChildProcess; url: string }> {
  const script = path.join(root, 'bench', 'lib', 'promclient-server.ts');
  const child = spawn(process.execPath, [script, seriesFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  await until('prom-client to listen', () => {
    if (child.exitCode !== null) throw new Error('the prom-client server exited');
    return /port=\d+/.test(out);
  });
  return { child, url: `http://127.0.0.1:${/port=(\d+)/.exec(out)![1]}/metrics` };
}

const ms = (v: number): string => v.toFixed(v < 10 ? 2 : 1);
const latencyRows: (string | number)[][] = [];
const memoryRows: (string | number)[][] = [];
const verdicts: string[] = [];
const tmp = mkdtempSync(path.join(os.tmpdir(), 'eoa-bench-scrape-'));

buildHelper();
let agent: Agent | undefined;
let fleet: Fleet | undefined;
let prom: ChildProcess | undefined;
try {
  for (const size of SIZES) {
    const capacity = 2 ** Math.ceil(Math.log2(size * 2));
    agent = await startAgent([
      '--programs',
      'syscalls',
      '--interval',
      '5s',
      '--max-series',
      String(size * 2),
      '--syscalls-max-entries',
      String(capacity),
    ]);
    await new Promise((r) => setTimeout(r, 6000));
    const rssIdle = rssMiB(agent.pid);
    console.error(`${size}: starting ${size / 4} helper processes`);
    fleet = await startFleet(size / 4);
    let series = 0;
    const url = `${agent.url}/metrics`;
    await until(`${size} series`, async () => (series = await syscallSeries(agent!.url)) >= size, 180_000);
    // A full poll with every series in place, then the same label sets into prom-client.
    await new Promise((r) => setTimeout(r, 5500));
    const text = await (await fetch(url)).text();
    const input = extract(text);
    const seriesFile = path.join(tmp, `series-${size}.json`);
    writeFileSync(seriesFile, JSON.stringify(input));
    const started = await startPromClient(seriesFile);
    prom = started.child;
    const rssAtSeries = rssMiB(agent.pid);

    for (const [i, scrapers] of SCRAPERS.entries()) {
      const order = i % 2 === 0 ? (['agent', 'prom'] as const) : (['prom', 'agent'] as const);
      const result: Record<string, Load> = {};
      for (const which of order) result[which] = await load(which === 'agent' ? url : started.url, scrapers);
      const a = result.agent!;
      const p = result.prom!;
      const ratio = percentile(a.times, 50) / percentile(p.times, 50);
      latencyRows.push([
        input.series.length.toLocaleString('en'),
        scrapers,
        `${ms(percentile(a.times, 50))} / ${ms(percentile(a.times, 99))}`,
        `${ms(percentile(p.times, 50))} / ${ms(percentile(p.times, 99))}`,
        `${ratio.toFixed(3)}×`,
        `${(a.times.length / SECONDS).toFixed(0)} / ${(p.times.length / SECONDS).toFixed(0)}`,
        a.failures + p.failures,
      ]);
      if (size === Math.max(...SIZES)) {
        verdicts.push(
          `- ${input.series.length.toLocaleString('en')} series, ${scrapers} scraper(s): agent ÷ prom-client p50 = ${ratio.toFixed(3)} (goal ≤ ${GOAL_RATIO}: ${ratio <= GOAL_RATIO ? 'met' : `missed by ${(ratio / GOAL_RATIO).toFixed(2)}×`})`,
        );
      }
    }
    const gz = await load(url, 1, true);
    const polls = /ebpf_agent_poll_duration_seconds_sum (\S+)\nebpf_agent_poll_duration_seconds_count (\S+)/.exec(
      await (await fetch(url)).text(),
    );
    memoryRows.push([
      input.series.length.toLocaleString('en'),
      rssIdle.toFixed(1),
      rssAtSeries.toFixed(1),
      vmHwmMiB(agent.pid).toFixed(1),
      rssMiB(prom.pid!).toFixed(1),
      (Buffer.byteLength(text) / 1e6).toFixed(2),
      `${ms(percentile(gz.times, 50))} / ${ms(percentile(gz.times, 99))}`,
      polls ? ((Number(polls[1]) / Number(polls[2])) * 1000).toFixed(1) : '–',
    ]);
    prom.kill('SIGTERM');
    await fleet.kill();
    fleet = undefined;
    await agent.stop();
    agent = undefined;
    console.error(`${size}: done (${series} series)`);
  }
} finally {
  prom?.kill('SIGKILL');
  await fleet?.kill();
  await agent?.stop();
  rmSync(tmp, { recursive: true, force: true });
}

await writeSection(
  'scrape',
  [
    `${os.cpus().length} CPUs, kernel ${os.release()}; ${SECONDS} s per measurement; scrapers and both servers share the machine.`,
    '',
    table(
      [
        'series',
        'scrapers',
        'agent p50 / p99 (ms)',
        'prom-client p50 / p99 (ms)',
        'agent ÷ prom-client (p50)',
        'scrapes/s agent / prom-client',
        'failed',
      ],
      latencyRows,
    ),
    '',
    'Goal: `/metrics` at the largest size ≤ 0.33× prom-client:',
    ...verdicts,
    '',
    table(
      [
        'series',
        'agent RSS idle (MiB)',
        'agent RSS with the series (MiB)',
        'agent peak RSS (VmHWM, MiB)',
        'prom-client RSS (MiB)',
        'body (MB)',
        'agent gzip p50 / p99 (ms)',
        'agent poll (ms, mean)',
      ],
      memoryRows,
    ),
  ].join('\n'),
);

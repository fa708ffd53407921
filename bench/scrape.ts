// /metrics scrape latency and agent RSS at about 10k real series: the agent (syscalls only) watches 2,500 live
// helper processes that each made one openat, read, write and connect call (4 series each).
// Run as root after npm run build: npm run bench:scrape [-- PROCESSES]
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { execFileSync } from 'node:child_process';

const root = path.resolve(import.meta.dirname, '..');
const helper = path.join(root, 'test', 'helpers', 'build', 'syscaller');
const processes = Number(process.argv[2] ?? 2500);
const SCRAPES = 50;

execFileSync('mkdir', ['-p', path.dirname(helper)]);
execFileSync('gcc', ['-O2', '-static', '-o', helper, path.join(root, 'test', 'helpers', 'syscaller.c')]);

function state(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function rssMiB(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? 0) / 1024;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const agent = spawn(
  process.execPath,
  [
    path.join(root, 'dist', 'cli.js'),
    '--programs',
    'syscalls',
    '--interval',
    '5s',
    '--host',
    '127.0.0.1',
    '--port',
    '0',
  ],
  {
    stdio: ['ignore', 'ignore', 'pipe'],
  },
);
let log = '';
agent.stderr!.on('data', (c: Buffer) => (log += c.toString()));
const helpers: ChildProcess[] = [];
try {
  await until('the agent', () => /listen=[^ ]*:(\d+)/.test(log), 30_000);
  const port = Number(/listen=[^ ]*:(\d+)/.exec(log)![1]);
  const url = `http://127.0.0.1:${port}/metrics`;
  const rssIdle = rssMiB(agent.pid!);
  for (let i = 0; i < processes; i++) helpers.push(spawn(helper, ['1'], { stdio: 'ignore' }));
  await until('helpers to stop', () => helpers.every((h) => state(h.pid!) === 'T'));
  for (const h of helpers) h.kill('SIGCONT');
  await until('helpers to make their calls', () => helpers.every((h) => state(h.pid!) === 'T'));
  let series = 0;
  await until(`${processes * 4} series`, async () => {
    const text = await (await fetch(url)).text();
    series = text.split('\n').filter((l) => l.startsWith('ebpf_syscalls_total{')).length;
    return series >= processes * 4;
  });
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < SCRAPES; i++) {
    const start = performance.now();
    const body = await (await fetch(url)).arrayBuffer();
    times.push(performance.now() - start);
    bytes = body.byteLength;
  }
  const gz: number[] = [];
  for (let i = 0; i < SCRAPES; i++) {
    const start = performance.now();
    await (await fetch(url, { headers: { 'Accept-Encoding': 'gzip' } })).arrayBuffer();
    gz.push(performance.now() - start);
  }
  const polls = /ebpf_agent_poll_duration_seconds_sum (\S+)\nebpf_agent_poll_duration_seconds_count (\S+)/.exec(
    await (await fetch(url)).text(),
  );
  console.log(
    `Scrape at ${series} ebpf_syscalls_total series (${processes} processes), ${os.cpus().length} CPUs, kernel ${os.release()}\n`,
  );
  console.log('| measure | value |');
  console.log('|---|---:|');
  console.log(
    `| /metrics p50 / p99 (ms, ${SCRAPES} sequential scrapes) | ${percentile(times, 50).toFixed(2)} / ${percentile(times, 99).toFixed(2)} |`,
  );
  console.log(`| /metrics gzip p50 / p99 (ms) | ${percentile(gz, 50).toFixed(2)} / ${percentile(gz, 99).toFixed(2)} |`);
  console.log(`| body size (bytes) | ${bytes} |`);
  if (polls !== null)
    console.log(`| mean poll duration (ms) | ${((Number(polls[1]) / Number(polls[2])) * 1000).toFixed(2)} |`);
  console.log(
    `| agent RSS idle / at ${series} series (MiB) | ${rssIdle.toFixed(1)} / ${rssMiB(agent.pid!).toFixed(1)} |`,
  );
} finally {
  for (const h of helpers) h.kill('SIGKILL');
  agent.kill('SIGTERM');
}

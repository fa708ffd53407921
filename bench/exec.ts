// Exec storm rate and the agent's CPU during it; exec handler latency (exec → handler start) p50/p99.
// Run as root after npm run build: npm run bench:exec
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { cpuSeconds, percentile, table, writeSection } from './lib/report.ts';

const root = path.resolve(import.meta.dirname, '..');
const helper = path.join(root, 'test', 'helpers', 'build', 'syscaller');
execFileSync('mkdir', ['-p', path.dirname(helper)]);
execFileSync('gcc', ['-O2', '-static', '-o', helper, path.join(root, 'test', 'helpers', 'syscaller.c')]);

async function withAgent<T>(args: string[], run: (pid: number, url: string) => Promise<T>): Promise<T> {
  const agent = spawn(
    process.execPath,
    [path.join(root, 'dist', 'cli.js'), '--host', '127.0.0.1', '--port', '0', ...args],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let log = '';
  agent.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  try {
    while (!/listen=[^ ]*:(\d+)/.test(log)) await new Promise((r) => setTimeout(r, 50));
    const url = `http://127.0.0.1:${/listen=[^ ]*:(\d+)/.exec(log)![1]}/metrics`;
    await new Promise((r) => setTimeout(r, 1000));
    return await run(agent.pid!, url);
  } finally {
    agent.kill('SIGTERM');
  }
}

const STORM = 20_000;
const storm = await withAgent(['--programs', 'exec', '--interval', '1s'], async (pid) => {
  const cpu0 = cpuSeconds(pid);
  const t0 = performance.now();
  execFileSync(helper, ['--exec', String(STORM), '/bin/true']);
  const seconds = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 1500));
  const cpu = cpuSeconds(pid) - cpu0;
  return { rate: STORM / seconds, cpuPercent: (cpu / seconds) * 100, seconds };
});
const baseline = (() => {
  const t0 = performance.now();
  execFileSync(helper, ['--exec', String(STORM), '/bin/true']);
  return STORM / ((performance.now() - t0) / 1000);
})();

const dir = mkdtempSync(path.join(os.tmpdir(), 'eoa-bench-handler-'));
const latencies: number[] = [];
try {
  const handler = path.join(dir, 'handler.sh');
  copyFileSync(path.join(root, 'test', 'helpers', 'handler-record.sh'), handler);
  chmodSync(handler, 0o755);
  chmodSync(dir, 0o755);
  await withAgent(
    [
      '--programs',
      'exec',
      '--interval',
      '1s',
      '--exec-handler',
      handler,
      '--exec-filter-comm',
      '^true$',
      '--exec-handler-rate',
      '1000',
      '--exec-handler-concurrency',
      '8',
    ],
    async () => {
      for (let i = 0; i < 200; i++) {
        execFileSync('/bin/true');
        await new Promise((r) => setTimeout(r, 10));
      }
      await new Promise((r) => setTimeout(r, 2000));
    },
  );
  for (const line of readFileSync(path.join(dir, 'calls.log'), 'utf8').split('\n').filter(Boolean)) {
    const [start, exec] = line.split('\t')[5]!.split(' ').map(BigInt);
    latencies.push(Number(start! - exec!) / 1e6);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const pct = (p: number): number => percentile(latencies, p);

await writeSection(
  'exec',
  [
    `Exec storm and handler latency, ${os.cpus().length} CPUs, kernel ${os.release()}.`,
    '',
    table(
      ['measure', 'value'],
      [
        [`storm: ${STORM} execs of /bin/true by 2 workers, agent running (execs/s)`, storm.rate.toFixed(0)],
        ['same storm without the agent (execs/s)', baseline.toFixed(0)],
        ['agent CPU during the storm (% of one core)', storm.cpuPercent.toFixed(1)],
        [
          `handler latency exec → handler start, p50 / p99 (ms, ${latencies.length} runs)`,
          `${pct(50).toFixed(2)} / ${pct(99).toFixed(2)}`,
        ],
      ],
    ),
  ].join('\n'),
);

// Soak: 50 concurrent scrapers against /metrics for 60 s; every response must be a 200 with the full body.
// Run as root after npm run build: npm run bench:soak [-- SCRAPERS SECONDS]
import { spawn } from 'node:child_process';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { percentile, table, writeSection } from './lib/report.ts';

const root = path.resolve(import.meta.dirname, '..');
const SCRAPERS = Number(process.argv[2] ?? 50);
const SECONDS = Number(process.argv[3] ?? 60);

const agent = spawn(
  process.execPath,
  [path.join(root, 'dist', 'cli.js'), '--host', '127.0.0.1', '--port', '0', '--interval', '1s'],
  {
    stdio: ['ignore', 'ignore', 'pipe'],
  },
);
let log = '';
agent.stderr!.on('data', (c: Buffer) => (log += c.toString()));
let failures = 0;
try {
  while (!/listen=[^ ]*:(\d+)/.test(log)) {
    if (agent.exitCode !== null) throw new Error(log);
    await new Promise((r) => setTimeout(r, 50));
  }
  const port = Number(/listen=[^ ]*:(\d+)/.exec(log)![1]);
  await new Promise((r) => setTimeout(r, 1500));
  const keepAlive = new http.Agent({ keepAlive: true, maxSockets: SCRAPERS });
  const scrape = (gzip: boolean): Promise<{ ok: boolean; ms: number }> =>
    new Promise((resolve) => {
      const started = performance.now();
      const req = http.get(
        {
          host: '127.0.0.1',
          port,
          path: '/metrics',
          agent: keepAlive,
          headers: gzip ? { 'Accept-Encoding': 'gzip' } : {},
        },
        (res) => {
          let bytes = 0;
          res.on('data', (c: Buffer) => (bytes += c.length));
          res.on('end', () =>
            resolve({
              ok: res.statusCode === 200 && bytes === Number(res.headers['content-length']) && bytes > 0,
              ms: performance.now() - started,
            }),
          );
          res.on('error', () => resolve({ ok: false, ms: performance.now() - started }));
        },
      );
      req.on('error', () => resolve({ ok: false, ms: performance.now() - started }));
      req.setTimeout(10_000, () => req.destroy());
    });
  const deadline = Date.now() + SECONDS * 1000;
  const times: number[] = [];
  await Promise.all(
    Array.from({ length: SCRAPERS }, async (_, i) => {
      while (Date.now() < deadline) {
        const { ok, ms } = await scrape(i % 2 === 0);
        times.push(ms);
        if (!ok) failures++;
      }
    }),
  );
  keepAlive.destroy();
  const pct = (p: number): number => percentile(times, p);
  await writeSection(
    'soak',
    [
      `Soak: ${SCRAPERS} concurrent scrapers (half asking for gzip) for ${SECONDS} s, ${os.cpus().length} CPUs, kernel ${os.release()}.`,
      '',
      table(
        ['scrapes', 'errors', 'p50 (ms)', 'p99 (ms)'],
        [[times.length, failures, pct(50).toFixed(1), pct(99).toFixed(1)]],
        ['r', 'r', 'r', 'r'],
      ),
    ].join('\n'),
  );
} finally {
  agent.kill('SIGTERM');
}
process.exitCode = failures === 0 ? 0 : 1;

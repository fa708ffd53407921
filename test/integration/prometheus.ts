// A real Prometheus for integration tests: the Debian binary, its own temp dir (config + TSDB), a free port, one
// scrape job pointing at the given targets. stop() kills it and removes the dir; so does stopAllPrometheus() (for
// afterAll) and, as a last resort, the test process's exit.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { sleep, waitFor } from './harness.ts';

export const PROMETHEUS = '/usr/bin/prometheus';
export const havePrometheus = existsSync(PROMETHEUS);

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface RunningPrometheus {
  process: ChildProcess;
  base: string;
  dir: string;
  log(): string;
  /** An instant query (/api/v1/query) at `time` (Unix seconds; default now); throws unless status is success. */
  query(expr: string, time?: number): Promise<PromSample[]>;
  /** The single number an instant query returns (undefined when its result is empty). */
  scalar(expr: string, time?: number): Promise<number | undefined>;
  /** The timestamps (Unix seconds) of the samples of `selector` in the `range` before `time`, per series. */
  sampleTimes(selector: string, range: string, time: number): Promise<number[][]>;
  /** Label sets of the series matching `selector` (/api/v1/series). */
  series(selector: string): Promise<Record<string, string>[]>;
  stop(): Promise<void>;
}

export interface PrometheusOptions {
  /** host:port of each target of the one scrape job. */
  targets: string[];
  /** Prometheus duration, e.g. '15s'. */
  scrapeInterval: string;
  /** Extra command-line flags. */
  flags?: string[];
}

const running = new Set<{ child: ChildProcess; dir: string }>();

process.once('exit', () => {
  // Synchronous last resort (a test runner that exits without running afterAll).
  for (const { child, dir } of running) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

/** Starts Prometheus and waits until it is ready (not until it has scraped: see waitScraped). */
export async function startPrometheus(options: PrometheusOptions): Promise<RunningPrometheus> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'eoa-prometheus-'));
  const config = path.join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    [
      'global:',
      `  scrape_interval: ${options.scrapeInterval}`,
      `  evaluation_interval: ${options.scrapeInterval}`,
      'scrape_configs:',
      '  - job_name: ebpf-otel-agent',
      '    static_configs:',
      `      - targets: [${options.targets.map((t) => `'${t}'`).join(', ')}]`,
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(
    PROMETHEUS,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
      ...(options.flags ?? []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const entry = { child, dir };
  running.add(entry);
  let log = '';
  child.stdout!.resume();
  child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const exited = once(child, 'exit');

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
    running.delete(entry);
  };

  const api = async <T>(endpoint: string, params: Record<string, string>): Promise<T> => {
    const res = await fetch(`${base}/api/v1/${endpoint}?${new URLSearchParams(params)}`);
    const body = (await res.json()) as { status: string; error?: string; data?: T };
    if (body.status !== 'success') throw new Error(`prometheus ${endpoint} ${JSON.stringify(params)}: ${body.error}`);
    return body.data!;
  };

  const query = async (expr: string, time?: number): Promise<PromSample[]> => {
    const params: Record<string, string> = { query: expr };
    if (time !== undefined) params.time = String(time);
    const data = await api<{ resultType: string; result: PromSample[] }>('query', params);
    if (data.resultType !== 'vector') throw new Error(`${expr}: a ${data.resultType}, not a vector`);
    return data.result;
  };

  try {
    await waitFor(
      'Prometheus to be ready',
      async () => {
        if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}: ${log}`);
        try {
          return (await fetch(`${base}/-/ready`)).status === 200 ? true : undefined;
        } catch {
          return undefined;
        }
      },
      30_000,
    );
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    process: child,
    base,
    dir,
    log: () => log,
    query,
    async scalar(expr, time) {
      const result = await query(expr, time);
      if (result.length > 1) throw new Error(`${expr}: ${result.length} series, expected one`);
      return result.length === 0 ? undefined : Number(result[0]!.value[1]);
    },
    async sampleTimes(selector, range, time) {
      const data = await api<{ resultType: string; result: { values: [number, string][] }[] }>('query', {
        query: `${selector}[${range}]`,
        time: String(time),
      });
      if (data.resultType !== 'matrix') throw new Error(`${selector}[${range}]: a ${data.resultType}, not a matrix`);
      return data.result.map((r) => r.values.map(([t]) => t));
    },
    series: (selector) => api<Record<string, string>[]>('series', { 'match[]': selector }),
    stop,
  };
}

/** Polls `check` until it holds (true) or `timeoutMs` passes (false); a throwing check counts as not yet. */
export async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, stepMs = 1_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return true;
    if (Date.now() > deadline) return false;
    await sleep(stepMs);
  }
}

/** Stops every Prometheus this module started and removes their dirs (for afterAll). */
export async function stopAllPrometheus(): Promise<void> {
  for (const { child, dir } of [...running]) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }
  running.clear();
}

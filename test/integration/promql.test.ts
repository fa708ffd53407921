// Issue 14, "Done when", first bullet at a 15 s scrape interval: counts of short-lived processes reach the user's
// PromQL. The agent runs at its default --interval (5s) with --scrape-interval 15s; a real Prometheus scrapes it
// every 15 s; 120 processes named `shortjob` (each exactly K reads, living milliseconds) run spread over 90 s.
// Then `sum(increase(ebpf_syscalls_total{...}[w]))` over a window covering the workload must be within 10 % of
// the truth (Prometheus extrapolates), and the raw samples must grow by the truth exactly, from the held 0.
//
// Why it holds (the contract under test): the aggregate has no process_pid label, so exited jobs stay in it; a
// new aggregate series is published at 0 for --scrape-interval plus one --interval before it carries counts, so
// the scraper's first sample of it is 0 and increase() loses nothing before it.
//
// Extrapolation: increase() extends the sampled growth to the window's ends. At the start it is limited to where
// the counter reaches zero, which for a series whose first sample is 0 is nothing. At the end it extends by up to
// 1.1 scrape intervals (the time since the last scrape). The test evaluates just after a scrape and in the middle
// between two scrapes (both asserted), and logs the value just before the next scrape (the worst case, ~14.5 s of
// extrapolation over a ~2 min sampled span: over 10 % by arithmetic, not by any loss).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectNoAgentPrograms,
  killAllAgents,
  seriesOf,
  sleep,
  startAgent,
  syscallerPath,
  total,
  type RunningAgent,
} from './harness.ts';
import { havePrometheus, startPrometheus, stopAllPrometheus, waitUntil, type RunningPrometheus } from './prometheus.ts';

const NAME = 'shortjob';
/** Jobs, reads per job, and the gap between job starts (120 jobs over 90 s: 1.3 per second). */
const N = 120;
const K = 1_000;
const SPACING_MS = 750;
const SCRAPE_S = 15;
/** The agent's default --interval. */
const INTERVAL_S = 5;
/** How long a new aggregate series holds 0 (the contract: --scrape-interval plus one --interval). */
const HOLD_S = SCRAPE_S + INTERVAL_S;
const TRUTH = N * K;

const SELECTOR = `ebpf_syscalls_total{syscall="read",process_executable_name="${NAME}"}`;
const LABELS = { syscall: 'read', process_executable_name: NAME };

interface Job {
  code: number | null;
  signal: NodeJS.Signals | null;
  ms: number;
}

describe.skipIf(!havePrometheus)('PromQL over short-lived processes at a 15 s scrape interval', () => {
  let agent: RunningAgent | undefined;
  let prom: RunningPrometheus | undefined;
  let dir: string | undefined;
  let instance = '';
  let selector = '';
  const jobs: Job[] = [];
  /** Values of the agent's own aggregate as this test saw them (every second), the first and the last. */
  let agentFirst: number | undefined;
  let agentLast: number | undefined;
  let agentSeries: Record<string, string>[] = [];
  /** Unix seconds: the workload's first start and last exit. */
  let workloadStart = 0;
  let workloadEnd = 0;
  /** Unix seconds: a scrape of the final total, at least two scrapes after the hold that follows the last job. */
  let finalScrape = 0;

  /** The shortjob aggregate in the agent's /metrics now (undefined when it has no such series yet). */
  async function agentValue(): Promise<number | undefined> {
    const samples = await agent!.scrape();
    if (seriesOf(samples, 'ebpf_syscalls_total', LABELS).length === 0) return undefined;
    agentSeries = seriesOf(samples, 'ebpf_syscalls_total', LABELS).map((s) => s.labels);
    return total(samples, 'ebpf_syscalls_total', LABELS);
  }

  /** Prometheus's most recent sample time of the series at or before `time` (Unix seconds). */
  async function lastSampleAt(time: number): Promise<number | undefined> {
    return prom!.scalar(`max(timestamp(${selector}))`, time);
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'eoa-promql-'));
    const shortjob = path.join(dir, NAME);
    copyFileSync(syscallerPath, shortjob);
    chmodSync(shortjob, 0o755);

    agent = await startAgent(['--programs', 'syscalls', '--scrape-interval', `${SCRAPE_S}s`]);
    instance = `127.0.0.1:${agent.port}`;
    selector = SELECTOR.replace('{', `{instance="${instance}",`);
    prom = await startPrometheus({ targets: [instance], scrapeInterval: `${SCRAPE_S}s` });
    const scraped = await waitUntil(
      async () => (await prom!.scalar(`up{instance="${instance}"}`)) === 1,
      2 * SCRAPE_S * 1000 + 10_000,
    );
    if (!scraped) throw new Error(`Prometheus did not scrape the agent: ${prom.log()}`);
    // Nothing of this name before the workload: the test counts only what it runs.
    expect(await agentValue()).toBeUndefined();

    // Watch the agent's aggregate once a second from before the first job to the end.
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const value = await agentValue().catch(() => undefined);
        if (value !== undefined) {
          agentFirst ??= value;
          agentLast = value;
        }
        await sleep(1_000);
      }
    })();

    workloadStart = Date.now() / 1000;
    const runs: Promise<void>[] = [];
    for (let i = 0; i < N; i++) {
      const due = workloadStart * 1000 + i * SPACING_MS;
      if (due > Date.now()) await sleep(due - Date.now());
      const started = Date.now();
      const child = spawn(shortjob, ['--exit-after', String(K)], { stdio: 'ignore' });
      runs.push(
        once(child, 'exit').then(([code, signal]) => {
          jobs.push({ code: code as number | null, signal: signal as NodeJS.Signals | null, ms: Date.now() - started });
        }),
      );
    }
    await Promise.all(runs);
    workloadEnd = Date.now() / 1000;

    // The hold (for the first job's series) and two more scrapes after the last job, plus a poll of slack; then a
    // scrape that holds the final total, and one more scrape interval so that the evaluation points below (that
    // scrape + up to one interval) lie in the past.
    const earliest = (workloadEnd + HOLD_S + 2 * SCRAPE_S + INTERVAL_S) * 1000;
    await sleep(Math.max(0, earliest - Date.now()));
    await waitUntil(async () => (await agentValue()) === TRUTH, 3 * INTERVAL_S * 1000);
    await waitUntil(async () => (await prom!.scalar(`sum(${selector})`)) === TRUTH, 3 * SCRAPE_S * 1000);
    await sleep((SCRAPE_S + 1) * 1000);
    finalScrape = (await lastSampleAt(Date.now() / 1000 - SCRAPE_S - 0.5)) ?? 0;
    watching = false;
    await watcher;
  }, 420_000);

  afterAll(async () => {
    await prom?.stop();
    await stopAllPrometheus();
    await agent?.stop();
    await killAllAgents();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    await expectNoAgentPrograms();
  });

  it('ran every job: each did exactly K successful reads and exited 0, well inside one interval', () => {
    const lifetimes = jobs.map((j) => j.ms).sort((a, b) => a - b);
    console.log(
      `promql: ${jobs.length} jobs of ${K} reads over ${(workloadEnd - workloadStart).toFixed(1)} s; ` +
        `lifetime median ${lifetimes[lifetimes.length >> 1]} ms, max ${lifetimes.at(-1)} ms`,
    );
    expect(jobs).toHaveLength(N);
    expect(jobs.filter((j) => j.code !== 0 || j.signal !== null)).toEqual([]);
    expect(lifetimes.at(-1)!).toBeLessThan(INTERVAL_S * 1000);
  });

  it('counts every job in one aggregate series without process_pid, first published at 0', () => {
    console.log(
      `promql: agent aggregate first seen ${agentFirst}, last ${agentLast} (truth ${TRUTH}); ` +
        `series: ${JSON.stringify(agentSeries)}`,
    );
    expect(agentLast).toBe(TRUTH);
    expect(agentSeries.filter((labels) => 'process_pid' in labels)).toEqual([]);
    expect(agentFirst).toBe(0);
  });

  it('has the raw samples in Prometheus grow from the held 0 by exactly the truth', async () => {
    expect(finalScrape).toBeGreaterThan(workloadEnd);
    const at = finalScrape;
    const w = `${Math.ceil(at - workloadStart) + SCRAPE_S}s`;
    const max = await prom!.scalar(`max(max_over_time(${selector}[${w}]))`, at);
    const min = await prom!.scalar(`min(min_over_time(${selector}[${w}]))`, at);
    const series = await prom!.series(selector);
    const samples = await prom!.scalar(`sum(count_over_time(${selector}[${w}]))`, at);
    console.log(
      `promql: at ${new Date(at * 1000).toISOString()}, [${w}]: max ${max} - min ${min} = ${max! - min!} ` +
        `(truth ${TRUTH}); ${series.length} series, ${samples} samples`,
    );
    expect(series.filter((labels) => 'process_pid' in labels)).toEqual([]);
    expect(max! - min!).toBe(TRUTH);
    expect(min).toBe(0);
  });

  it('gives sum(increase()) over the workload within 10 % of the truth', async () => {
    const points = [
      { what: 'just after a scrape', at: finalScrape, asserted: true },
      { what: 'mid-interval', at: finalScrape + SCRAPE_S / 2, asserted: true },
      { what: 'just before the next scrape (logged only)', at: finalScrape + SCRAPE_S - 0.5, asserted: false },
    ];
    const failures: string[] = [];
    for (const { what, at, asserted } of points) {
      const w = `${Math.ceil(at - workloadStart) + SCRAPE_S}s`;
      const expr = `sum(increase(${selector}[${w}]))`;
      const value = (await prom!.scalar(expr, at)) ?? 0;
      const error = (value - TRUTH) / TRUTH;
      console.log(`promql: ${what}: ${expr} = ${value.toFixed(0)} (truth ${TRUTH}, ${(error * 100).toFixed(2)} %)`);
      if (asserted && Math.abs(error) > 0.1) failures.push(`${what}: ${value} is ${(error * 100).toFixed(1)} % off`);
    }
    expect(failures).toEqual([]);
  });
});

// Issue 14, "Done when", first bullet at a 15 s scrape interval, and issue 19's counts where users read them:
// counts of short-lived processes reach the user's PromQL. The agent runs the syscalls, exits and tcp programs at
// its default --interval (5s) with --scrape-interval 15s; a real Prometheus scrapes it every 15 s; 120 processes
// named `shortjob` (each exactly K reads, living milliseconds) run spread over 90 s, and beside each one a
// connecting job, also living milliseconds: alternately `shortconn` (C connects to a loopback port the test
// listens on) and `shortrefused` (D connects to a loopback port nobody listens on: each is refused by a reset).
// Then for each count (reads, exits, connect attempts, handshakes, failures, resets received)
// `sum(increase(metric{...}[w]))` over a window covering the workload must be within 10 % of the truth
// (Prometheus extrapolates), and the raw samples must grow by the truth exactly, from the held 0.
//
// Why it holds (the contract under test): the aggregates have no process_pid label, so exited jobs stay in them;
// a new aggregate series is published at 0 for --scrape-interval plus one --interval before it carries counts
// (syscalls and tcp through the syscalls aggregate view, exits through its own with the same rules), so the
// scraper's first sample of it is 0 and increase() loses nothing before it.
//
// Loopback TCP is deterministic here: a connect to a listening port completes (one attempt, one handshake in the
// latency histogram), a connect to a closed one is answered by a reset (one attempt, one failure, one reset
// received); nothing is lost on lo, so nothing is retransmitted.
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
import { buildStaticC } from '../helpers/static-c.ts';
import {
  expectNoAgentPrograms,
  killAllAgents,
  seriesOf,
  sleep,
  startAgent,
  syscallerPath,
  total,
  waitFor,
  type RunningAgent,
  type Sample,
} from './harness.ts';
import {
  freePort,
  havePrometheus,
  startPrometheus,
  stopAllPrometheus,
  waitUntil,
  type RunningPrometheus,
} from './prometheus.ts';

const NAME = 'shortjob';
/** The connecting jobs' executables (copies of test/helpers/tcpconnect.c) and the listener's. */
const CONN = 'shortconn';
const REFUSED = 'shortrefused';
const LISTENER = 'shortlisten';
/** Jobs, reads per job, and the gap between job starts (120 jobs over 90 s: 1.3 per second). */
const N = 120;
const K = 1_000;
/** Connects per connecting job: to the open port (shortconn, even jobs), to the closed one (shortrefused, odd). */
const C = 3;
const D = 2;
const SPACING_MS = 750;
const SCRAPE_S = 15;
/** The agent's default --interval. */
const INTERVAL_S = 5;
/** How long a new aggregate series holds 0 (the contract: --scrape-interval plus one --interval). */
const HOLD_S = SCRAPE_S + INTERVAL_S;
const EXE = 'process_executable_name';
const EXITED_0 = { process_exit_reason: 'exited', process_exit_code_class: '0' };

/** One count the test knows the truth of: a metric's series of one label set (one series, without process_pid). */
interface Check {
  what: string;
  metric: string;
  labels: Record<string, string>;
  truth: number;
}

const CHECKS: Check[] = [
  { what: 'reads', metric: 'ebpf_syscalls_total', labels: { syscall: 'read', [EXE]: NAME }, truth: N * K },
  { what: 'exits', metric: 'ebpf_process_exits_total', labels: { [EXE]: NAME, ...EXITED_0 }, truth: N },
  {
    what: 'connecting exits',
    metric: 'ebpf_process_exits_total',
    labels: { [EXE]: CONN, ...EXITED_0 },
    truth: N / 2,
  },
  { what: 'connect attempts', metric: 'ebpf_tcp_connect_attempts_total', labels: { [EXE]: CONN }, truth: (N / 2) * C },
  {
    what: 'handshakes',
    metric: 'ebpf_tcp_connect_duration_seconds_count',
    labels: { [EXE]: CONN },
    truth: (N / 2) * C,
  },
  {
    what: 'refused attempts',
    metric: 'ebpf_tcp_connect_attempts_total',
    labels: { [EXE]: REFUSED },
    truth: (N / 2) * D,
  },
  {
    what: 'connect failures',
    metric: 'ebpf_tcp_connect_failures_total',
    labels: { [EXE]: REFUSED },
    truth: (N / 2) * D,
  },
  {
    what: 'resets received',
    metric: 'ebpf_tcp_resets_received_total',
    labels: { [EXE]: REFUSED },
    truth: (N / 2) * D,
  },
];

interface Job {
  name: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  ms: number;
  out: string;
}

/** What the agent's /metrics showed of a check while the test watched it (every second). */
interface Seen {
  first?: number;
  last?: number;
  series: Record<string, string>[];
}

describe.skipIf(!havePrometheus)('PromQL over short-lived processes at a 15 s scrape interval', () => {
  let agent: RunningAgent | undefined;
  let prom: RunningPrometheus | undefined;
  let listener: ReturnType<typeof spawn> | undefined;
  let dir: string | undefined;
  let instance = '';
  const jobs: Job[] = [];
  const seen = new Map<Check, Seen>(CHECKS.map((c) => [c, { series: [] }]));
  /** Unix seconds: the workload's first start and last exit. */
  let workloadStart = 0;
  let workloadEnd = 0;
  /** Unix seconds: a scrape of the final totals, at least two scrapes after the hold that follows the last job. */
  let finalScrape = 0;

  const selector = (c: Check): string =>
    `${c.metric}{${Object.entries({ instance, ...c.labels })
      .map(([k, v]) => `${k}="${v}"`)
      .join(',')}}`;

  /** The check's value in the agent's /metrics samples (undefined when it has no such series yet). */
  function agentValue(samples: Sample[], c: Check): number | undefined {
    const series = seriesOf(samples, c.metric, c.labels);
    if (series.length === 0) return undefined;
    seen.get(c)!.series = series.map((s) => s.labels);
    return total(samples, c.metric, c.labels);
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'eoa-promql-'));
    const shortjob = path.join(dir, NAME);
    copyFileSync(syscallerPath, shortjob);
    chmodSync(shortjob, 0o755);
    const tcpconnect = buildStaticC('test/helpers/tcpconnect.c', path.join(dir, 'tcpconnect'));
    const bin = (name: string): string => path.join(dir!, name);
    for (const name of [CONN, REFUSED, LISTENER]) copyFileSync(tcpconnect, bin(name));
    // Two ports free now: one the test listens on, one nobody does (refused).
    const openPort = await freePort();
    let closedPort = await freePort();
    while (closedPort === openPort) closedPort = await freePort();

    agent = await startAgent(['--programs', 'syscalls,exits,tcp', '--scrape-interval', `${SCRAPE_S}s`]);
    instance = `127.0.0.1:${agent.port}`;
    prom = await startPrometheus({ targets: [instance], scrapeInterval: `${SCRAPE_S}s` });
    const scraped = await waitUntil(
      async () => (await prom!.scalar(`up{instance="${instance}"}`)) === 1,
      2 * SCRAPE_S * 1000 + 10_000,
    );
    if (!scraped) throw new Error(`Prometheus did not scrape the agent: ${prom.log()}`);
    listener = spawn(bin(LISTENER), ['--listen', '127.0.0.1', String(openPort)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let said = '';
    listener.stdout!.on('data', (chunk: Buffer) => (said += chunk.toString()));
    await waitFor('the listener to listen', () => (said.includes('listening') ? true : undefined));
    // Nothing of these names before the workload: the test counts only what it runs.
    const before = await agent.scrape();
    for (const c of CHECKS) expect(agentValue(before, c), c.what).toBeUndefined();

    // Watch the agent's counts once a second from before the first job to the end.
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const samples = await agent!.scrape().catch(() => undefined);
        for (const c of samples === undefined ? [] : CHECKS) {
          const value = agentValue(samples!, c);
          if (value === undefined) continue;
          const s = seen.get(c)!;
          s.first ??= value;
          s.last = value;
        }
        await sleep(1_000);
      }
    })();

    const run = (name: string, args: string[]): Promise<void> => {
      const started = Date.now();
      const child = spawn(bin(name), args, { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
      return once(child, 'close').then(([code, signal]) => {
        jobs.push({
          name,
          code: code as number | null,
          signal: signal as NodeJS.Signals | null,
          ms: Date.now() - started,
          out,
        });
      });
    };
    workloadStart = Date.now() / 1000;
    const runs: Promise<void>[] = [];
    for (let i = 0; i < N; i++) {
      const due = workloadStart * 1000 + i * SPACING_MS;
      if (due > Date.now()) await sleep(due - Date.now());
      runs.push(run(NAME, ['--exit-after', String(K)]));
      runs.push(
        i % 2 === 0
          ? run(CONN, ['127.0.0.1', String(openPort), String(C)])
          : run(REFUSED, ['127.0.0.1', String(closedPort), String(D)]),
      );
    }
    await Promise.all(runs);
    workloadEnd = Date.now() / 1000;

    // The hold (for the first job's series) and two more scrapes after the last job, plus a poll of slack; then a
    // scrape that holds the final totals, and one more scrape interval so that the evaluation points below (that
    // scrape + up to one interval) lie in the past.
    const earliest = (workloadEnd + HOLD_S + 2 * SCRAPE_S + INTERVAL_S) * 1000;
    await sleep(Math.max(0, earliest - Date.now()));
    const all = async (read: (c: Check) => Promise<number | undefined>): Promise<boolean> => {
      for (const c of CHECKS) if ((await read(c)) !== c.truth) return false;
      return true;
    };
    await waitUntil(
      async () => {
        const samples = await agent!.scrape();
        return all(async (c) => agentValue(samples, c));
      },
      3 * INTERVAL_S * 1000,
    );
    await waitUntil(() => all((c) => prom!.scalar(`sum(${selector(c)})`)), 3 * SCRAPE_S * 1000);
    await sleep((SCRAPE_S + 1) * 1000);
    finalScrape =
      (await prom.scalar(`max(timestamp(${selector(CHECKS[0]!)}))`, Date.now() / 1000 - SCRAPE_S - 0.5)) ?? 0;
    watching = false;
    await watcher;
  }, 420_000);

  afterAll(async () => {
    listener?.kill('SIGKILL');
    await prom?.stop();
    await stopAllPrometheus();
    await agent?.stop();
    await killAllAgents();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    await expectNoAgentPrograms();
  });

  it('ran every job: each did exactly its work and exited 0, well inside one interval', () => {
    const lifetimes = jobs.map((j) => j.ms).sort((a, b) => a - b);
    console.log(
      `promql: ${jobs.length} jobs (${N} of ${K} reads, ${N / 2} of ${C} connects, ${N / 2} of ${D} refused) over ` +
        `${(workloadEnd - workloadStart).toFixed(1)} s; lifetime median ${lifetimes[lifetimes.length >> 1]} ms, ` +
        `max ${lifetimes.at(-1)} ms`,
    );
    expect(jobs).toHaveLength(2 * N);
    expect(jobs.filter((j) => j.code !== 0 || j.signal !== null)).toEqual([]);
    expect(jobs.filter((j) => j.name === CONN && !j.out.includes(`ok=${C} failed=0`))).toEqual([]);
    expect(jobs.filter((j) => j.name === REFUSED && !j.out.includes(`ok=0 failed=${D}`))).toEqual([]);
    expect(lifetimes.at(-1)!).toBeLessThan(INTERVAL_S * 1000);
  });

  it('counts every job in one aggregate series without process_pid, first published at 0', () => {
    for (const c of CHECKS) {
      const s = seen.get(c)!;
      console.log(
        `promql: ${c.what}: agent first seen ${s.first}, last ${s.last} (truth ${c.truth}); series: ${JSON.stringify(s.series)}`,
      );
    }
    expect(CHECKS.map((c) => ({ what: c.what, last: seen.get(c)!.last, first: seen.get(c)!.first }))).toEqual(
      CHECKS.map((c) => ({ what: c.what, last: c.truth, first: 0 })),
    );
    expect(CHECKS.map((c) => seen.get(c)!.series.length)).toEqual(CHECKS.map(() => 1));
    expect(CHECKS.flatMap((c) => seen.get(c)!.series.filter((labels) => 'process_pid' in labels))).toEqual([]);
  });

  it('has the raw samples in Prometheus grow from the held 0 by exactly the truth', async () => {
    expect(finalScrape).toBeGreaterThan(workloadEnd);
    const at = finalScrape;
    const w = `${Math.ceil(at - workloadStart) + SCRAPE_S}s`;
    const got: { what: string; min?: number; growth?: number; series: number }[] = [];
    for (const c of CHECKS) {
      const sel = selector(c);
      const max = await prom!.scalar(`max(max_over_time(${sel}[${w}]))`, at);
      const min = await prom!.scalar(`min(min_over_time(${sel}[${w}]))`, at);
      const series = await prom!.series(sel);
      const samples = await prom!.scalar(`sum(count_over_time(${sel}[${w}]))`, at);
      console.log(
        `promql: ${c.what} at ${new Date(at * 1000).toISOString()}, [${w}]: max ${max} - min ${min} = ` +
          `${max! - min!} (truth ${c.truth}); ${series.length} series, ${samples} samples`,
      );
      got.push({ what: c.what, min, growth: max! - min!, series: series.length });
    }
    expect(got).toEqual(CHECKS.map((c) => ({ what: c.what, min: 0, growth: c.truth, series: 1 })));
  });

  it('gives sum(increase()) over the workload within 10 % of the truth', async () => {
    const points = [
      { what: 'just after a scrape', at: finalScrape, asserted: true },
      { what: 'mid-interval', at: finalScrape + SCRAPE_S / 2, asserted: true },
      { what: 'just before the next scrape (logged only)', at: finalScrape + SCRAPE_S - 0.5, asserted: false },
    ];
    const failures: string[] = [];
    for (const c of CHECKS) {
      for (const { what, at, asserted } of points) {
        const w = `${Math.ceil(at - workloadStart) + SCRAPE_S}s`;
        const expr = `sum(increase(${selector(c)}[${w}]))`;
        const value = (await prom!.scalar(expr, at)) ?? 0;
        const error = (value - c.truth) / c.truth;
        console.log(
          `promql: ${c.what}, ${what}: ${expr} = ${value.toFixed(1)} (truth ${c.truth}, ${(error * 100).toFixed(2)} %)`,
        );
        if (asserted && Math.abs(error) > 0.1)
          failures.push(`${c.what}, ${what}: ${value} is ${(error * 100).toFixed(1)} % off`);
      }
    }
    expect(failures).toEqual([]);
  });
});

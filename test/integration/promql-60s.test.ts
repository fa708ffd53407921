// Issue 14, "Done when", at a 60 s scrape interval, with every short-lived process in its own fresh
// container-style cgroup, with a budget small enough that series fold during the run, the per-process view's final
// counts, and CPU samples. Two agents at their default --interval (5s) with --scrape-interval 60s watch one
// workload, and one real Prometheus scrapes both every 60 s:
//   - agent A (syscalls and cpu, default budgets) is the one the exactness claims are made against;
//   - agent B (syscalls, --max-series 10) folds most series into `other` while the workload runs.
// Workload: 120 jobs (`ctrjob`), one a second, each moving itself into a new cgroup
// <test>/kubepods/besteffort/pod<uid>/<new container id> (as a runtime's init does), doing exactly K reads and K
// UDP connects (no packet) and exiting; the container's cgroup is removed at once, as a runtime does.
// Alongside, 30 `spinjob`s spin 200 ms on a CPU each (about 20 samples at 99 Hz) and exit, and one connecting job
// per slot (copies of test/helpers/tcpconnect.c, living milliseconds): alternately `ctrconn` (C connects to a
// loopback port the test listens on) and `ctrrefused` (D connects to a loopback port nobody listens on). Agent A
// also runs the exits and tcp programs (issue 19): their counts are read the same way.
//
// What must hold (each checked in PromQL against Prometheus's samples):
//   - sum(increase()) of ctrjob's reads over the workload within 10 % of the truth, and the raw samples' growth
//     exactly the truth, across 120 aggregate series (one per container) that each start at a held 0;
//   - every job's per-process series (ebpf_process_syscalls_total) seen by the 60 s scraper at exactly K;
//   - the same increase() check for CPU samples, the truth being the spinners' own final per-process counts;
//   - the same checks for exits (one ctrjob exit per container series, N in all) and for the connecting jobs'
//     exits, connect attempts, handshakes, failures and resets received (loopback: exact);
//   - agent B's sum(increase()) over every connect series equal to agent A's, up to the difference in poll phase
//     (connect, because the rest of the machine makes few: the two agents poll at different moments, and a
//     background of reads, a Go build say, makes their windows differ by many thousands), each over a window
//     aligned to that agent's scrapes: folding neither loses a count nor counts one twice. (Over an unaligned
//     window increase() extrapolates B's long-lived `other` series to the window's edges: +24.7 % of the workload
//     in one run, while A's series, all new and starting at a held 0, are not extrapolated at their start.)
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectCgroup2Root } from '../../src/collector/cgroup.ts';
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
  waitStopped,
  type RunningAgent,
} from './harness.ts';
import {
  freePort,
  havePrometheus,
  startPrometheus,
  stopAllPrometheus,
  waitUntil,
  type RunningPrometheus,
} from './prometheus.ts';

const JOB = 'ctrjob';
const SPIN = 'spinjob';
/** The connecting jobs (even slots to the open port, odd ones to the closed one) and the listener. */
const CONN = 'ctrconn';
const REFUSED = 'ctrrefused';
const LISTENER = 'ctrlisten';
const C = 2;
const D = 1;
const EXITED_0 = 'process_exit_reason="exited",process_exit_code_class="0"';
const N = 120;
const K = 5_000;
const SPACING_MS = 1_000;
/** Every SPIN_EVERY-th job slot also starts a spinner. */
const SPIN_EVERY = 4;
const SPIN_MS = 200;
const SCRAPE_S = 60;
const INTERVAL_S = 5;
const HOLD_S = SCRAPE_S + INTERVAL_S;
const TRUTH = N * K;
const SAMPLE_HZ = 99;
const PODS = [
  '0e1d2c3b-4a59-4687-a5b4-c3d2e1f00001',
  '0e1d2c3b-4a59-4687-a5b4-c3d2e1f00002',
  '0e1d2c3b-4a59-4687-a5b4-c3d2e1f00003',
];

const cgroup2 = detectCgroup2Root();

describe.skipIf(!havePrometheus || cgroup2 === undefined)(
  'PromQL at a 60 s scrape interval: short jobs in fresh containers, folding, per-process finals, CPU samples',
  () => {
    let a: RunningAgent | undefined;
    let b: RunningAgent | undefined;
    let prom: RunningPrometheus | undefined;
    let dir: string | undefined;
    let listener: ChildProcess | undefined;
    const connectors: { name: string; code: number | null; out: string; ms: number }[] = [];
    const cgroupBase = path.join(cgroup2 ?? '/nonexistent', `eoa-promql60-${process.pid}`);
    const cgroups: string[] = [];
    let instanceA = '';
    let instanceB = '';
    const jobs: { pid: number; container: string; code: number | null; ms: number }[] = [];
    const spinners: { pid: number; code: number | null; cpuSeconds: number }[] = [];
    let workloadStart = 0;
    let workloadEnd = 0;
    let finalScrape = 0;

    const sel = (metric: string, instance: string, labels: string): string =>
      `${metric}{instance="${instance}",${labels}}`;
    const jobSelector = (): string =>
      sel('ebpf_syscalls_total', instanceA, `syscall="read",process_executable_name="${JOB}"`);
    const window = (at: number): string => `${Math.ceil(at - workloadStart) + SCRAPE_S}s`;

    async function runJob(binary: string, pod: string): Promise<void> {
      const container = randomBytes(32).toString('hex');
      const cgroup = path.join(cgroupBase, 'kubepods', 'besteffort', `pod${pod}`, container);
      mkdirSync(cgroup);
      cgroups.push(cgroup);
      const started = Date.now();
      const child = spawn(binary, ['--cgroup-connect-exit-after', cgroup, String(K)], { stdio: 'ignore' });
      const [code] = (await once(child, 'exit')) as [number | null];
      jobs.push({ pid: child.pid!, container, code, ms: Date.now() - started });
      // As a runtime does once the container's init is gone.
      rmdirSync(cgroup);
      cgroups.splice(cgroups.indexOf(cgroup), 1);
    }

    async function runConnector(binary: string, port: number, count: number): Promise<void> {
      const started = Date.now();
      const child = spawn(binary, ['127.0.0.1', String(port), String(count)], { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
      const [code] = (await once(child, 'close')) as [number | null];
      connectors.push({ name: path.basename(binary), code, out, ms: Date.now() - started });
    }

    async function runSpinner(binary: string, cpu: number): Promise<void> {
      const child = spawn(binary, ['--spin', String(SPIN_MS), String(cpu)], { stdio: 'ignore' });
      const exited = once(child, 'exit');
      await waitStopped(child.pid!);
      // The machine is shared: what the loop got is the CPU time the kernel accounted to it (1/100 s ticks).
      const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / 100;
      child.kill('SIGCONT');
      const [code] = (await exited) as [number | null];
      spinners.push({ pid: child.pid!, code, cpuSeconds });
    }

    beforeAll(async () => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'eoa-promql60-'));
      const job = path.join(dir, JOB);
      const spin = path.join(dir, SPIN);
      for (const file of [job, spin]) {
        copyFileSync(syscallerPath, file);
        chmodSync(file, 0o755);
      }
      const tcpconnect = buildStaticC('test/helpers/tcpconnect.c', path.join(dir, 'tcpconnect'));
      for (const name of [CONN, REFUSED, LISTENER]) copyFileSync(tcpconnect, path.join(dir, name));
      const openPort = await freePort();
      let closedPort = await freePort();
      while (closedPort === openPort) closedPort = await freePort();
      for (const pod of PODS) {
        const podDir = path.join(cgroupBase, 'kubepods', 'besteffort', `pod${pod}`);
        mkdirSync(podDir, { recursive: true });
      }

      const common = ['--scrape-interval', `${SCRAPE_S}s`];
      a = await startAgent(['--programs', 'syscalls,cpu,exits,tcp', ...common]);
      b = await startAgent(['--programs', 'syscalls', '--max-series', '10', '--no-pid-labels', ...common]);
      instanceA = `127.0.0.1:${a.port}`;
      instanceB = `127.0.0.1:${b.port}`;
      prom = await startPrometheus({ targets: [instanceA, instanceB], scrapeInterval: `${SCRAPE_S}s` });
      const scraped = await waitUntil(
        async () => (await prom!.scalar(`sum(up{instance=~"${instanceA}|${instanceB}"})`)) === 2,
        2 * SCRAPE_S * 1000 + 10_000,
      );
      if (!scraped) throw new Error(`Prometheus did not scrape both agents: ${prom.log()}`);
      listener = spawn(path.join(dir, LISTENER), ['--listen', '127.0.0.1', String(openPort)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let said = '';
      listener.stdout!.on('data', (chunk: Buffer) => (said += chunk.toString()));
      await waitFor('the listener to listen', () => (said.includes('listening') ? true : undefined));
      // Nothing of these names before the workload: the test counts only what it runs.
      const before = await a.scrape();
      expect(seriesOf(before, 'ebpf_syscalls_total', { process_executable_name: JOB })).toEqual([]);
      expect(seriesOf(before, 'ebpf_cpu_samples_total', { process_executable_name: SPIN })).toEqual([]);
      for (const name of [JOB, SPIN, CONN, REFUSED]) {
        expect(seriesOf(before, 'ebpf_process_exits_total', { process_executable_name: name })).toEqual([]);
        expect(seriesOf(before, 'ebpf_tcp_connect_attempts_total', { process_executable_name: name })).toEqual([]);
      }

      workloadStart = Date.now() / 1000;
      const runs: Promise<void>[] = [];
      for (let i = 0; i < N; i++) {
        const due = workloadStart * 1000 + i * SPACING_MS;
        if (due > Date.now()) await sleep(due - Date.now());
        runs.push(runJob(job, PODS[i % PODS.length]!));
        if (i % SPIN_EVERY === 0) runs.push(runSpinner(spin, (i / SPIN_EVERY) % 2));
        runs.push(
          i % 2 === 0
            ? runConnector(path.join(dir, CONN), openPort, C)
            : runConnector(path.join(dir, REFUSED), closedPort, D),
        );
      }
      await Promise.all(runs);
      workloadEnd = Date.now() / 1000;

      // The hold of the last job's series, two scrapes, a poll of slack; then a scrape that holds the final totals
      // and one interval more, so that the evaluation points lie in the past.
      const earliest = (workloadEnd + HOLD_S + 2 * SCRAPE_S + INTERVAL_S) * 1000;
      await sleep(Math.max(0, earliest - Date.now()));
      // Every container's series at its final value in Prometheus (max over the window: gone series count too).
      const final = async (): Promise<number | undefined> =>
        prom!.scalar(`sum(max_over_time(${jobSelector()}[${window(Date.now() / 1000)}]))`);
      if (!(await waitUntil(async () => (await final()) === TRUTH, 3 * SCRAPE_S * 1000)))
        console.log(`promql60: Prometheus never had the final ${TRUTH}: ${await final()}`);
      await sleep((SCRAPE_S + 1) * 1000);
      const up = `up{instance="${instanceA}"}`;
      finalScrape = (await prom.scalar(`max(timestamp(${up}))`, Date.now() / 1000 - SCRAPE_S - 0.5)) ?? 0;
    }, 900_000);

    afterAll(async () => {
      listener?.kill('SIGKILL');
      await prom?.stop();
      await stopAllPrometheus();
      await a?.stop();
      await b?.stop();
      await killAllAgents();
      for (const cgroup of cgroups.reverse()) rmdirQuiet(cgroup);
      for (const pod of PODS) rmdirQuiet(path.join(cgroupBase, 'kubepods', 'besteffort', `pod${pod}`));
      for (const part of ['kubepods/besteffort', 'kubepods', '']) rmdirQuiet(path.join(cgroupBase, part));
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
      await expectNoAgentPrograms();
    });

    it('ran every job and spinner, each exiting 0 well inside one interval', () => {
      const lifetimes = jobs.map((j) => j.ms).sort((x, y) => x - y);
      console.log(
        `promql60: ${jobs.length} jobs of ${K} reads in fresh containers over ` +
          `${(workloadEnd - workloadStart).toFixed(1)} s, lifetime median ${lifetimes[lifetimes.length >> 1]} ms, ` +
          `max ${lifetimes.at(-1)} ms; ${spinners.length} spinners`,
      );
      expect(jobs).toHaveLength(N);
      expect(jobs.filter((j) => j.code !== 0)).toEqual([]);
      expect(lifetimes.at(-1)!).toBeLessThan(INTERVAL_S * 1000);
      expect(spinners).toHaveLength(Math.ceil(N / SPIN_EVERY));
      expect(spinners.filter((s) => s.code !== 0)).toEqual([]);
      expect(connectors).toHaveLength(N);
      expect(connectors.filter((c) => c.code !== 0)).toEqual([]);
      expect(connectors.filter((c) => c.name === CONN && !c.out.includes(`ok=${C} failed=0`))).toEqual([]);
      expect(connectors.filter((c) => c.name === REFUSED && !c.out.includes(`ok=0 failed=${D}`))).toEqual([]);
      expect(Math.max(...connectors.map((c) => c.ms))).toBeLessThan(INTERVAL_S * 1000);
    });

    // Issue 19's counts where users read them: exits (one series per container for ctrjob, each one exit) and the
    // connecting jobs' tcp counts, each series starting at a held 0, read as the syscalls above are.
    it('counts exits per container and loopback connects: raw growth exact, sum(increase()) within 10 %', async () => {
      const at = finalScrape;
      const w = window(at);
      const checks = [
        {
          what: 'ctrjob exits',
          metric: 'ebpf_process_exits_total',
          labels: `process_executable_name="${JOB}",${EXITED_0}`,
          truth: N,
        },
        {
          what: 'spinjob exits',
          metric: 'ebpf_process_exits_total',
          labels: `process_executable_name="${SPIN}",${EXITED_0}`,
          truth: spinners.length,
        },
        {
          what: 'ctrconn exits',
          metric: 'ebpf_process_exits_total',
          labels: `process_executable_name="${CONN}",${EXITED_0}`,
          truth: N / 2,
        },
        {
          what: 'connect attempts',
          metric: 'ebpf_tcp_connect_attempts_total',
          labels: `process_executable_name="${CONN}"`,
          truth: (N / 2) * C,
        },
        {
          what: 'handshakes',
          metric: 'ebpf_tcp_connect_duration_seconds_count',
          labels: `process_executable_name="${CONN}"`,
          truth: (N / 2) * C,
        },
        {
          what: 'refused attempts',
          metric: 'ebpf_tcp_connect_attempts_total',
          labels: `process_executable_name="${REFUSED}"`,
          truth: (N / 2) * D,
        },
        {
          what: 'connect failures',
          metric: 'ebpf_tcp_connect_failures_total',
          labels: `process_executable_name="${REFUSED}"`,
          truth: (N / 2) * D,
        },
        {
          what: 'resets received',
          metric: 'ebpf_tcp_resets_received_total',
          labels: `process_executable_name="${REFUSED}"`,
          truth: (N / 2) * D,
        },
      ];
      const got: { what: string; growth?: number; firsts?: number; withinTenPercent: boolean }[] = [];
      for (const c of checks) {
        const selector = sel(c.metric, instanceA, c.labels);
        const growth = await prom!.scalar(
          `sum(max_over_time(${selector}[${w}]) - min_over_time(${selector}[${w}]))`,
          at,
        );
        const firsts = await prom!.scalar(`max(min_over_time(${selector}[${w}]))`, at);
        const increase = (await prom!.scalar(`sum(increase(${selector}[${w}]))`, at)) ?? 0;
        const error = (increase - c.truth) / c.truth;
        console.log(
          `promql60: ${c.what}: raw growth ${growth} (truth ${c.truth}), largest first sample ${firsts}; ` +
            `sum(increase([${w}])) = ${increase.toFixed(1)} (${(error * 100).toFixed(2)} %)`,
        );
        got.push({ what: c.what, growth, firsts, withinTenPercent: Math.abs(error) <= 0.1 });
      }
      expect(got).toEqual(checks.map((c) => ({ what: c.what, growth: c.truth, firsts: 0, withinTenPercent: true })));
      // One exit series per container, each with its pod: the cgroup was gone by the poll that read the exit.
      const series = await prom!.series(sel('ebpf_process_exits_total', instanceA, `process_executable_name="${JOB}"`));
      expect(series.map((labels) => labels.container_id).sort()).toEqual(jobs.map((j) => j.container).sort());
      for (const labels of series) expect(PODS).toContain(labels.k8s_pod_uid);
    });

    it('has one aggregate series per container, each with its pod, and no process_pid', async () => {
      const series = await prom!.series(jobSelector());
      expect(series.filter((labels) => 'process_pid' in labels)).toEqual([]);
      expect(series.map((labels) => labels.container_id).sort()).toEqual(jobs.map((j) => j.container).sort());
      for (const labels of series) expect(PODS).toContain(labels.k8s_pod_uid);
    });

    it('has the raw samples grow from the held 0 by exactly the truth, and sum(increase()) within 10 %', async () => {
      expect(finalScrape).toBeGreaterThan(workloadEnd);
      const at = finalScrape;
      const w = window(at);
      // Per series: every container's series starts at a scraped 0 and ends at its job's K.
      const growth = await prom!.scalar(
        `sum(max_over_time(${jobSelector()}[${w}]) - min_over_time(${jobSelector()}[${w}]))`,
        at,
      );
      const firsts = await prom!.scalar(`max(min_over_time(${jobSelector()}[${w}]))`, at);
      const increase = (await prom!.scalar(`sum(increase(${jobSelector()}[${w}]))`, at)) ?? 0;
      const error = (increase - TRUTH) / TRUTH;
      console.log(
        `promql60: raw growth ${growth} (truth ${TRUTH}), largest first sample ${firsts}; ` +
          `sum(increase([${w}])) = ${increase.toFixed(0)} (${(error * 100).toFixed(2)} %)`,
      );
      expect(growth).toBe(TRUTH);
      expect(firsts).toBe(0);
      expect(Math.abs(error)).toBeLessThanOrEqual(0.1);
    });

    it("shows every job's exact final count in the per-process view to the 60 s scraper", async () => {
      const at = finalScrape;
      const result = await prom!.query(
        `max by (process_pid) (max_over_time(${sel('ebpf_process_syscalls_total', instanceA, `syscall="read",process_executable_name="${JOB}"`)}[${window(at)}]))`,
        at,
      );
      const seen = new Map(result.map((r) => [Number(r.metric.process_pid), Number(r.value[1])]));
      const wrong = jobs.filter((j) => seen.get(j.pid) !== K).map((j) => `${j.pid}: ${seen.get(j.pid)}`);
      console.log(`promql60: per-process finals seen for ${seen.size} of ${jobs.length} jobs`);
      expect(wrong).toEqual([]);
    });

    it('counts CPU samples of short busy processes: raw growth exact, sum(increase()) within 10 %', async () => {
      const at = finalScrape;
      const w = window(at);
      // The truth: each spinner's final per-process count, as the scraper saw it.
      const perProcess = await prom!.query(
        `max by (process_pid) (max_over_time(${sel('ebpf_process_cpu_samples_total', instanceA, `process_executable_name="${SPIN}"`)}[${w}]))`,
        at,
      );
      const truth = perProcess.reduce((sum, r) => sum + Number(r.value[1]), 0);
      const aggregate = sel('ebpf_cpu_samples_total', instanceA, `process_executable_name="${SPIN}"`);
      const growth = await prom!.scalar(
        `sum(max_over_time(${aggregate}[${w}]) - min_over_time(${aggregate}[${w}]))`,
        at,
      );
      const increase = (await prom!.scalar(`sum(increase(${aggregate}[${w}]))`, at)) ?? 0;
      // About what the kernel accounted (SPIN_MS each on a quiet machine): a check of the workload, not the claim.
      const expected = spinners.reduce((sum, s) => sum + s.cpuSeconds, 0) * SAMPLE_HZ;
      console.log(
        `promql60: cpu: ${perProcess.length} spinners, per-process finals sum ${truth} (about ${expected.toFixed(0)} expected from the CPU time accounted), ` +
          `aggregate growth ${growth}, sum(increase()) ${increase.toFixed(1)}`,
      );
      expect(perProcess).toHaveLength(spinners.length);
      expect(Math.abs(truth - expected) / expected).toBeLessThan(0.25);
      expect(growth).toBe(truth);
      expect(Math.abs(increase - truth) / truth).toBeLessThanOrEqual(0.1);
    });

    // Both agents count every connect on the machine; folding must neither lose nor double one. The comparison is
    // made over windows that begin just before a scrape and end at one, per agent: a long-lived series (B's
    // `other` holds everything) is otherwise extrapolated by increase() to the window's edges, up to a whole scrape
    // interval at each end (+18 % of the workload over this window), which says nothing about the agent.
    it('folds most series of the budgeted agent and loses or doubles nothing in sum(increase())', async () => {
      const folded = await prom!.scalar(
        `max(${sel('ebpf_agent_series_folded_total', instanceB, 'metric="ebpf_syscalls_total"')})`,
        finalScrape,
      );
      const connects = (instance: string): string => sel('ebpf_syscalls_total', instance, 'syscall="connect"');
      const aligned = async (instance: string): Promise<{ increase: number; window: string; scrapes: number }> => {
        const span = Math.ceil(finalScrape + SCRAPE_S - workloadStart) + 2 * SCRAPE_S;
        const [times] = await prom!.sampleTimes(`up{instance="${instance}"}`, `${span}s`, finalScrape + SCRAPE_S);
        const first = times!.filter((t) => t <= workloadStart).at(-1)!;
        const last = times!.filter((t) => t <= finalScrape + SCRAPE_S).at(-1)!;
        const window = `${Math.round((last - first) * 1000) + 1000}ms`;
        const increase = (await prom!.scalar(`sum(increase(${connects(instance)}[${window}]))`, last)) ?? 0;
        return { increase, window, scrapes: times!.filter((t) => t >= first && t <= last).length };
      };
      const [ofA, ofB] = [await aligned(instanceA), await aligned(instanceB)];
      const loose = async (instance: string): Promise<number> =>
        (await prom!.scalar(`sum(increase(${connects(instance)}[${window(finalScrape)}]))`, finalScrape)) ?? 0;
      const samples = await b!.scrape();
      const pct = (x: number): string => `${((x / TRUTH) * 100).toFixed(2)} %`;
      console.log(
        `promql60: budgeted agent folded ${folded} series; sum(increase()) of every connect series over aligned ` +
          `windows: A ${ofA.increase.toFixed(0)} (${ofA.window}, ${ofA.scrapes} scrapes), B ${ofB.increase.toFixed(0)} ` +
          `(${ofB.window}), B − A ${pct(ofB.increase - ofA.increase)} of the workload; over the unaligned ` +
          `[${window(finalScrape)}]: A ${(await loose(instanceA)).toFixed(0)}, B ${(await loose(instanceB)).toFixed(0)}; ` +
          `B's own series now ${total(samples, 'ebpf_agent_series', { metric: 'ebpf_syscalls_total' })}`,
      );
      expect(folded).toBeGreaterThan(N / 2);
      // Every job's connect is inside both windows, and extrapolation over 1 s of a window only adds: nothing lost.
      expect(ofB.increase).toBeGreaterThanOrEqual(TRUTH);
      expect(ofA.increase).toBeGreaterThanOrEqual(TRUTH);
      // The windows differ by the two agents' scrape phase (under a minute at each end) of the machine's other
      // connects: nothing counted twice.
      expect(Math.abs(ofB.increase - ofA.increase)).toBeLessThanOrEqual(0.05 * TRUTH);
    });
  },
);

function rmdirQuiet(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // already gone, or not made
  }
}

if (cgroup2 === undefined) console.warn('promql-60s tests skipped: no cgroup2 hierarchy is mounted on this machine');

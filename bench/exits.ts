// Kernel cost per process exit of the exits program (bpf/exits.bpf.c on sched:sched_process_exit).
// 1. Direct: the kernel's own run-time statistics of the program (kernel.bpf_stats_enabled, read through the
//    agent's --bpf-stats metrics: run_time_ns / run_cnt of eoa_exits_exit only, not the other programs on the
//    tracepoint) over a churn of N fork + _exit(0) children, and the exits it counted for them (must be N).
// 2. Indirect: the same churn timed with the agent running (--programs exits) and without, in alternating rounds
//    (each "on" round between two "off" rounds), the difference of the medians per fork + exit. This machine is
//    shared (2 cores, other engineers' runs): the indirect figure is noisy, the direct one is the measure.
// Results go to the exits section of docs/benchmarks.md (bench/lib/report.ts; BENCH_NO_WRITE=1 prints only).
// Run as root from a built checkout under the integration lock: npm run bench:exits
// Environment: BENCH_N (children per churn, 20000), BENCH_ROUNDS (5).
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildHelper, root, startAgent } from './lib/fleet.ts';
import { median, table, writeSection } from './lib/report.ts';

const helper = path.join(root, 'test', 'helpers', 'build', 'syscaller');
const N = Number(process.env.BENCH_N ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
buildHelper();

/** Sum of the samples of a metric in Prometheus text whose line contains every filter. */
function sum(text: string, metric: string, ...filters: string[]): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`) && !line.startsWith(`${metric} `)) continue;
    if (filters.every((f) => line.includes(f))) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/** ns per fork + exit of one churn of N children (two at a time, as fork_many runs them). */
function churn(): number {
  const t0 = performance.now();
  execFileSync(helper, ['--churn', String(N), '0']);
  return ((performance.now() - t0) * 1e6) / N;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// 1. Direct.
const direct = await (async () => {
  const agent = await startAgent(['--programs', 'exits', '--bpf-stats', '--interval', '1s', '--scrape-interval', '1s']);
  try {
    const scrape = async (): Promise<string> => (await fetch(`${agent.url}/metrics`)).text();
    const exits = (text: string): number =>
      sum(text, 'ebpf_process_exits_total', 'process_executable_name="syscaller"', 'process_exit_code_class="0"');
    const runTime = (text: string): number =>
      sum(text, 'ebpf_agent_bpf_program_run_time_seconds_total', 'bpf_program="eoa_exits_exit"');
    const runs = (text: string): number =>
      sum(text, 'ebpf_agent_bpf_program_runs_total', 'bpf_program="eoa_exits_exit"');
    // The syscaller series exists and is past its hold before the measured churn.
    execFileSync(helper, ['--churn', '10', '0']);
    await sleep(3_500);
    const before = await scrape();
    churn();
    await sleep(2_500);
    const after = await scrape();
    const runCount = runs(after) - runs(before);
    return {
      nsPerRun: ((runTime(after) - runTime(before)) * 1e9) / runCount,
      runCount,
      // The churn's children and the churn process itself (exit 0 too).
      counted: exits(after) - exits(before),
    };
  } finally {
    await agent.stop();
  }
})();

// 2. Indirect: off, on, off, on, …, off.
const off: number[] = [churn()];
const on: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  const agent = await startAgent(['--programs', 'exits', '--interval', '1s']);
  try {
    on.push(churn());
  } finally {
    await agent.stop();
  }
  off.push(churn());
}

const fmt = (v: number, digits = 0): string => v.toFixed(digits);
await writeSection(
  'exits',
  [
    `Kernel cost per process exit of the exits program, ${os.cpus().length} CPUs, kernel ${os.release()}; churn of ${N} fork + \`_exit(0)\` children (\`syscaller --churn ${N} 0\`).`,
    '',
    table(
      ['measure', 'value'],
      [
        ['eoa_exits_exit run time per run, kernel statistics (ns)', fmt(direct.nsPerRun)],
        [`runs during the churn (its ${N} children, the churn process, and whatever else exited)`, direct.runCount],
        [`exits counted for syscaller, status 0 (expected ${N + 1})`, direct.counted],
        [`fork + exit without the agent, median of ${off.length} churns (ns)`, fmt(median(off))],
        [`fork + exit with the agent (exits program), median of ${on.length} churns (ns)`, fmt(median(on))],
        ['difference of the medians (ns; noisy: a shared machine)', fmt(median(on) - median(off))],
      ],
    ),
  ].join('\n'),
);

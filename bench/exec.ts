// Exec storm rate, the agent's CPU during it and the execs it counted and lost; the same storm without the agent;
// exec handler latency (exec → handler start) p50/p99.
// Run as root from a built checkout: npm run bench:exec
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildHelper, root, startAgent } from './lib/fleet.ts';
import { cpuSeconds, percentile, table, writeSection } from './lib/report.ts';

const helper = path.join(root, 'test', 'helpers', 'build', 'syscaller');
buildHelper();

async function withAgent<T>(args: string[], run: (pid: number, url: string) => Promise<T>): Promise<T> {
  const agent = await startAgent(args);
  try {
    await new Promise((r) => setTimeout(r, 1000));
    return await run(agent.pid, `${agent.url}/metrics`);
  } finally {
    await agent.stop();
  }
}

/** Sum of every sample of a metric in Prometheus text. */
function sum(text: string, metric: string, filter = ''): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if ((line.startsWith(`${metric}{`) || line.startsWith(`${metric} `)) && line.includes(filter)) {
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return total;
}

const STORM = 20_000;
const storm = await withAgent(['--programs', 'exec', '--interval', '1s'], async (pid, url) => {
  const before = sum(await (await fetch(url)).text(), 'ebpf_process_execs_total', 'process_executable_name="true"');
  const cpu0 = cpuSeconds(pid);
  const t0 = performance.now();
  execFileSync(helper, ['--exec', String(STORM), '/bin/true']);
  const seconds = (performance.now() - t0) / 1000;
  const cpuStorm = cpuSeconds(pid) - cpu0;
  // The agent drains what is left after the storm: its CPU to the end of that is the storm's cost.
  await new Promise((r) => setTimeout(r, 2500));
  const cpu = cpuSeconds(pid) - cpu0;
  const text = await (await fetch(url)).text();
  const counted = sum(text, 'ebpf_process_execs_total', 'process_executable_name="true"') - before;
  const lost = sum(text, 'ebpf_agent_events_lost_total', 'program="exec"');
  return { rate: STORM / seconds, cpuStormPercent: (cpuStorm / seconds) * 100, cpu, seconds, counted, lost };
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
        ['agent CPU during the storm (% of one core)', storm.cpuStormPercent.toFixed(1)],
        ['agent CPU for the whole storm, drain included (ms per 1,000 execs)', ((storm.cpu / STORM) * 1e6).toFixed(1)],
        ['execs counted / lost (ring buffer full)', `${storm.counted} / ${storm.lost}`],
        [
          `handler latency exec → handler start, p50 / p99 (ms, ${latencies.length} runs)`,
          `${pct(50).toFixed(2)} / ${pct(99).toFixed(2)}`,
        ],
      ],
    ),
  ].join('\n'),
);

// Steady-state cost: the agent's CPU (user + system time from /proc/<pid>/stat, the kernel's own accounting of
// the process) and memory with N live processes (stopped helpers, 4 counted calls each), the default programs,
// budgets and a 5 s interval, scraped every 15 s as a Prometheus would, over a long window.
// Run as root from a built checkout: npm run bench:steady [-- PROCESSES SECONDS] (default 2500 300)
import os from 'node:os';
import { buildHelper, startAgent, startFleet, until, type Agent, type Fleet } from './lib/fleet.ts';
import { cpuSeconds, rssMiB, table, writeSection } from './lib/report.ts';

const PROCESSES = Number(process.argv[2] ?? 2_500);
const SECONDS = Number(process.argv[3] ?? 300);
const SCRAPE_EVERY_MS = 15_000;
// Issue 18: ≤ 0.5 % of one core at 2,500 live processes, ≤ 3 % at 25,000; RSS ≤ 80 MB at 2,500.
const GOAL = PROCESSES <= 2_500 ? 0.5 : 3;

/** Lines of a metric family in an exposition ({ only). */
const seriesOf = (text: string, family: string): number =>
  text.split('\n').filter((line) => line.startsWith(`${family}{`)).length;
const gauge = (text: string, line: RegExp): number => Number(line.exec(text)?.[1] ?? Number.NaN);

buildHelper();
let agent: Agent | undefined;
let fleet: Fleet | undefined;
try {
  // The syscall maps hold 16,384 processes by default: a larger fleet gets room for all of it (and its exits).
  const capacity = 2 ** Math.ceil(Math.log2(PROCESSES * 2));
  agent = await startAgent([
    '--interval',
    '5s',
    ...(PROCESSES > 8_000 ? ['--syscalls-max-entries', String(capacity)] : []),
  ]);
  fleet = await startFleet(PROCESSES);
  const entries = /^ebpf_agent_map_entries\{[^}]*map="syscall_counts"[^}]*\} (\d+)$/m;
  await until(
    `${PROCESSES} processes in the syscall map`,
    async () => gauge(await (await fetch(`${agent!.url}/metrics`)).text(), entries) >= PROCESSES,
    600_000,
  );
  // Settle: a few polls and scrapes with every series in place before the window opens.
  await new Promise((r) => setTimeout(r, 11_000));
  const url = `${agent.url}/metrics`;
  const cpu0 = cpuSeconds(agent.pid);
  const wall0 = performance.now();
  let scrapes = 0;
  let bytes = 0;
  const rss: number[] = [];
  while (performance.now() - wall0 < SECONDS * 1000) {
    bytes = (await (await fetch(url, { headers: { 'Accept-Encoding': 'gzip' } })).arrayBuffer()).byteLength;
    scrapes++;
    rss.push(rssMiB(agent.pid));
    const left = SECONDS * 1000 - (performance.now() - wall0);
    await new Promise((r) => setTimeout(r, Math.max(0, Math.min(SCRAPE_EVERY_MS, left))));
  }
  const wall = (performance.now() - wall0) / 1000;
  const cpu = cpuSeconds(agent.pid) - cpu0;
  const percent = (cpu / wall) * 100;
  const text = await (await fetch(url)).text();
  const aggregate = seriesOf(text, 'ebpf_syscalls_total');
  const perProcess = seriesOf(text, 'ebpf_process_syscalls_total');
  const polls = /ebpf_agent_poll_duration_seconds_sum (\S+)\nebpf_agent_poll_duration_seconds_count (\S+)/.exec(text);
  const pollMs = polls ? (Number(polls[1]) / Number(polls[2])) * 1000 : Number.NaN;
  await writeSection(
    PROCESSES === 2_500 ? 'steady' : `steady-${PROCESSES}`,
    [
      `The agent with its default programs (exec, syscalls), \`--interval 5s\`, ${fleet.size.toLocaleString('en')} live processes; one gzip scrape every ${SCRAPE_EVERY_MS / 1000} s. ${os.cpus().length} CPUs, kernel ${os.release()}.`,
      '',
      table(
        ['measure', 'value'],
        [
          [
            'series ebpf_syscalls_total / ebpf_process_syscalls_total',
            `${aggregate.toLocaleString('en')} / ${perProcess.toLocaleString('en')}`,
          ],
          ['window (s)', wall.toFixed(0)],
          ['agent CPU (user + system, s)', cpu.toFixed(2)],
          [
            'agent CPU (% of one core)',
            `${percent.toFixed(2)} (goal ≤ ${GOAL}: ${percent <= GOAL ? 'met' : 'missed'})`,
          ],
          ['mean poll duration (ms)', pollMs.toFixed(1)],
          ['scrapes / gzip body (bytes)', `${scrapes} / ${bytes.toLocaleString('en')}`],
          [
            'agent RSS min / max in the window (MiB; goal at 2,500: ≤ 76.3 MiB = 80 MB)',
            `${Math.min(...rss).toFixed(1)} / ${Math.max(...rss).toFixed(1)}`,
          ],
        ],
      ),
    ].join('\n'),
  );
} finally {
  await fleet?.kill();
  await agent?.stop();
}

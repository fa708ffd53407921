// Steady-state cost: the agent's CPU (user + system time from /proc/<pid>/stat, the kernel's own accounting of
// the process) and memory at about 10k live series with the default programs and a 5 s interval, scraped every
// 15 s as a Prometheus would, over a long window.
// Run as root from a built checkout: npm run bench:steady [-- SERIES SECONDS] (default 10000 120)
import os from 'node:os';
import { buildHelper, startAgent, startFleet, syscallSeries, until, type Agent, type Fleet } from './lib/fleet.ts';
import { cpuSeconds, rssMiB, table, writeSection } from './lib/report.ts';

const SERIES = Number(process.argv[2] ?? 10_000);
const SECONDS = Number(process.argv[3] ?? 120);
const SCRAPE_EVERY_MS = 15_000;
const GOAL = 1; // % of one core

buildHelper();
let agent: Agent | undefined;
let fleet: Fleet | undefined;
try {
  agent = await startAgent(['--interval', '5s', '--max-series', String(SERIES * 2)]);
  fleet = await startFleet(SERIES / 4);
  let series = 0;
  await until(`${SERIES} series`, async () => (series = await syscallSeries(agent!.url)) >= SERIES, 180_000);
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
  const polls = /ebpf_agent_poll_duration_seconds_sum (\S+)\nebpf_agent_poll_duration_seconds_count (\S+)/.exec(text);
  const pollMs = polls ? (Number(polls[1]) / Number(polls[2])) * 1000 : Number.NaN;
  await writeSection(
    'steady',
    [
      `The agent with its default programs (exec, syscalls), \`--interval 5s\`, ${fleet.size.toLocaleString('en')} live processes; one gzip scrape every ${SCRAPE_EVERY_MS / 1000} s. ${os.cpus().length} CPUs, kernel ${os.release()}.`,
      '',
      table(
        ['measure', 'value'],
        [
          ['ebpf_process_syscalls_total series', series.toLocaleString('en')],
          ['window (s)', wall.toFixed(0)],
          ['agent CPU (user + system, s)', cpu.toFixed(2)],
          [
            'agent CPU (% of one core)',
            `${percent.toFixed(2)} (goal ≤ ${GOAL}: ${percent <= GOAL ? 'met' : 'missed'})`,
          ],
          ['mean poll duration (ms)', pollMs.toFixed(1)],
          ['scrapes / gzip body (bytes)', `${scrapes} / ${bytes.toLocaleString('en')}`],
          [
            'agent RSS min / max in the window (MiB)',
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

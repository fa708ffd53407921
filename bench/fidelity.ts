// Series and memory under process and container churn (issue 14): the series of the two views (aggregate
// ebpf_syscalls_total / ebpf_cpu_samples_total, per-process ebpf_process_*), the agent's RSS (VmRSS and its peak
// VmHWM) and its poll time, with the agent at its defaults plus the cpu program (--programs exec,syscalls,cpu),
// real kernel programs, and these workloads:
//   live:N       N live processes (stopped syscallers that each made one call of each counted syscall)
//   churn        100,000 short-lived processes (syscaller --churn), during, after, after --exited-retention
//   containers   5,000 short-lived containers: a fresh kubelet-style cgroup each, one job in it, then removed
// Run as root from a built checkout: npm run bench:fidelity [-- --cases live:2500,churn] (default: every case).
// Each case runs in a process of its own under the integration tests' lock (flock /tmp/eoa-integration.lock),
// released between cases. `--case NAME` runs one case in this process (take the lock yourself); `--report`
// writes docs/benchmarks.md from the results of earlier cases (kept in $TMPDIR/eoa-bench-fidelity).
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildHelper, root, startAgent, until, type Agent } from './lib/fleet.ts';
import {
  buildFidelityHelper,
  cgroup2Root,
  CgroupTree,
  HELPER,
  meanPollMs,
  memAvailableMiB,
  pidMax,
  run,
  sample,
  setPidMax,
  sleep,
  startStoppedFleet,
  stopHelpersNow,
  SYSCALLER,
  VIEW_METRICS,
  type Sample,
  type StoppedFleet,
} from './lib/fidelity.ts';
import { table, writeSection } from './lib/report.ts';

const LOCK = '/tmp/eoa-integration.lock';
const RESULTS = path.join(os.tmpdir(), 'eoa-bench-fidelity');
const PROGRAMS = ['--programs', 'exec,syscalls,cpu'];
const INTERVAL_MS = 5000; // the agent's default --interval
const SCRAPE_INTERVAL_MS = 60_000; // the agent's default --scrape-interval (the hold of a new aggregate series)
const SHORT_RETENTION = '20s';
const DEFAULT_CASES = ['live:2500', 'live:25000', 'churn', 'churn-map128k', 'containers', 'live:100000'];
/** A stopped static syscaller costs the kernel about this much (task, stack, page tables, its few pages). */
const BUDGET_PER_PROCESS_KIB = 160;

interface Row {
  phase: string;
  sample: Sample;
  /** Mean poll over the phase's window, ms. */
  pollMs: number;
  /** Peak VmRSS seen over the phase (sampled), MiB. */
  rssPeakMiB?: number;
}

interface CaseResult {
  name: string;
  title: string;
  command: string;
  agentArgs: string[];
  rows: Row[];
  notes: string[];
  seconds: number;
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

// ---- cleanup -------------------------------------------------------------------------------------------------

let tree: CgroupTree | undefined;
let pidMaxBefore: number | undefined;
let agent: Agent | undefined;
let fleet: StoppedFleet | undefined;

function cleanupNow(): void {
  stopHelpersNow();
  tree?.removeAll();
  tree = undefined;
  if (pidMaxBefore !== undefined && pidMax() !== pidMaxBefore) {
    setPidMax(pidMaxBefore);
    console.error(`restored kernel.pid_max to ${pidMaxBefore}`);
  }
}
// bench/lib/fleet.ts turns SIGINT and SIGTERM into process.exit(130) (after killing the agent): this runs then.
process.on('exit', cleanupNow);

// ---- measuring -------------------------------------------------------------------------------------------------

async function waitPolls(a: Agent, polls: number): Promise<Sample> {
  const first = await sample(a.url, a.pid);
  let last = first;
  await until(
    `${polls} polls`,
    async () => (last = await sample(a.url, a.pid)).pollCount >= first.pollCount + polls,
    polls * INTERVAL_MS * 6 + 60_000,
  );
  return last;
}

/** Samples every `everyMs` for `ms`; the row has the last sample, the mean poll and the peak RSS of the window. */
async function window(a: Agent, phase: string, ms: number, everyMs = INTERVAL_MS): Promise<Row> {
  const first = await sample(a.url, a.pid);
  let last = first;
  let peak = first.rssMiB;
  const end = Date.now() + ms;
  while (Date.now() < end) {
    await sleep(Math.min(everyMs, Math.max(0, end - Date.now())));
    last = await sample(a.url, a.pid);
    peak = Math.max(peak, last.rssMiB);
  }
  return { phase, sample: last, pollMs: meanPollMs(first, last), rssPeakMiB: peak };
}

/** Samples every 2 s while `work` runs: one row of the peaks of every figure. */
async function during(a: Agent, phase: string, work: Promise<unknown>): Promise<Row> {
  let done = false;
  const finished = work.finally(() => (done = true));
  const first = await sample(a.url, a.pid);
  let peak: Sample = structuredClone(first);
  let last = first;
  while (!done) {
    await Promise.race([sleep(2000), finished.catch(() => undefined)]);
    last = await sample(a.url, a.pid);
    for (const m of VIEW_METRICS) {
      for (const k of ['own', 'other', 'gauge', 'workload'] as const)
        peak.series[m][k] = Math.max(peak.series[m][k], last.series[m][k]);
    }
    peak.rssMiB = Math.max(peak.rssMiB, last.rssMiB);
    peak.hwmMiB = Math.max(peak.hwmMiB, last.hwmMiB);
    peak.syscallMapEntries = Math.max(peak.syscallMapEntries, last.syscallMapEntries);
    peak.folded = last.folded;
    peak.lost = last.lost;
    peak.exitedPids = last.exitedPids;
    peak.bytes = Math.max(peak.bytes, last.bytes);
  }
  await finished;
  peak = { ...peak, pollSum: last.pollSum, pollCount: last.pollCount, atMs: last.atMs };
  return { phase, sample: peak, pollMs: meanPollMs(first, last), rssPeakMiB: peak.rssMiB };
}

/** The agent's warnings (the drops it logged, with the flag that makes room), each once with how often. */
function warnings(log: string): string[] {
  const counts = new Map<string, number>();
  for (const line of log.split('\n')) {
    // "<time> WARN  <message> key=value …" (src/log.ts, text format).
    const message = /^\S+ WARN {2}(.*?)(?: [a-z]\w*=.*)?$/.exec(line)?.[1];
    if (message !== undefined) counts.set(message, (counts.get(message) ?? 0) + 1);
  }
  return [...counts].map(([m, n]) => `The agent warned${n > 1 ? ` (${n}×)` : ''}: ${m}.`);
}

function total(s: Sample, which: 'aggregate' | 'process'): number {
  const names =
    which === 'aggregate'
      ? (['ebpf_syscalls_total', 'ebpf_cpu_samples_total'] as const)
      : (['ebpf_process_syscalls_total', 'ebpf_process_cpu_samples_total'] as const);
  return names.reduce((n, m) => n + s.series[m].own + s.series[m].other, 0);
}

/**
 * After a workload: a row one poll after its end, one after --exited-retention (+ 3 polls), and, if the series
 * are not back near `baseline` by then, rows until they are (up to the aggregate hold + retention + 6 polls).
 */
async function after(
  a: Agent,
  baseline: Sample,
  retentionMs: number,
  endedMs: number,
  untilBack = true,
): Promise<Row[]> {
  const rows: Row[] = [];
  const at = async (ms: number, phase: string): Promise<Row> => {
    const wait = endedMs + ms - Date.now();
    const from = await sample(a.url, a.pid);
    if (wait > 0) await sleep(wait);
    const s = await sample(a.url, a.pid);
    return { phase, sample: s, pollMs: meanPollMs(from, s) };
  };
  rows.push(await at(INTERVAL_MS + 1500, 'end + 1 poll'));
  const settled = retentionMs + 3 * INTERVAL_MS;
  const back = (s: Sample): boolean =>
    total(s, 'aggregate') <= total(baseline, 'aggregate') + 16 &&
    total(s, 'process') <= total(baseline, 'process') + 64;
  let row = await at(settled, `end + retention + 3 polls (${((settled + 0) / 1000).toFixed(0)} s)`);
  rows.push(row);
  const limit = untilBack ? settled + SCRAPE_INTERVAL_MS + 3 * INTERVAL_MS : 0;
  for (let t = settled + 2 * INTERVAL_MS; !back(row.sample) && t <= limit; t += 2 * INTERVAL_MS) {
    row = await at(t, `end + ${(t / 1000).toFixed(0)} s`);
    if (back(row.sample) || t + 2 * INTERVAL_MS > limit) rows.push(row);
  }
  return rows;
}

// ---- cases -----------------------------------------------------------------------------------------------------

async function caseLive(size: number): Promise<CaseResult> {
  const started = Date.now();
  const notes: string[] = [];
  const entries = size <= 10_000 ? undefined : 2 ** Math.ceil(Math.log2(size + 16_384));
  // Room in both programs' maps for the whole fleet (the cpu maps hold the processes a sample found on a CPU).
  const agentArgs = [
    ...PROGRAMS,
    ...(entries === undefined ? [] : ['--syscalls-max-entries', String(entries), '--cpu-max-entries', String(entries)]),
  ];
  if (size > pidMax() - 2000) {
    const needMiB = (size * BUDGET_PER_PROCESS_KIB) / 1024 + 2048;
    const available = memAvailableMiB();
    if (available < needMiB)
      throw new Error(
        `${size} processes need about ${needMiB.toFixed(0)} MiB of ${available.toFixed(0)} MiB available`,
      );
    pidMaxBefore = pidMax();
    const raised = 2 ** Math.ceil(Math.log2(size * 2));
    setPidMax(raised);
    notes.push(`kernel.pid_max raised from ${pidMaxBefore} to ${raised} for the run, restored after.`);
  }
  const rows: Row[] = [];
  try {
    agent = await startAgent(agentArgs);
    await waitPolls(agent, 2);
    rows.push(await window(agent, 'idle, before the fleet', 2 * INTERVAL_MS));
    const memBefore = memAvailableMiB();
    fleet = await startStoppedFleet(size);
    const kernelKiB = ((memBefore - memAvailableMiB()) * 1024) / fleet.started;
    if (fleet.started < size) notes.push(`only ${fleet.started} of ${size} processes started: ${fleet.log().trim()}`);
    notes.push(
      `${fleet.started.toLocaleString('en')} processes started in ${(fleet.startMs / 1000).toFixed(1)} s; MemAvailable fell by about ${kernelKiB.toFixed(0)} KiB per process.`,
    );
    const want = fleet.started;
    await until(
      'the fleet in the syscall map',
      async () => (await sample(agent!.url, agent!.pid)).syscallMapEntries >= want,
      180_000,
    );
    await waitPolls(agent, 2);
    rows.push(await window(agent, `${fleet.started.toLocaleString('en')} live processes`, 4 * INTERVAL_MS));
    await fleet.stop();
    fleet = undefined;
    const ended = Date.now();
    rows.push(...(await after(agent, rows[0]!.sample, 120_000, ended, false)));
  } finally {
    await fleet?.stop();
    if (agent !== undefined) notes.push(...warnings(agent.log()));
    await agent?.stop();
    cleanupNow();
  }
  return {
    name: `live:${size}`,
    title: `${size.toLocaleString('en')} live processes`,
    command: `flock ${LOCK} node bench/fidelity.ts --case live:${size}`,
    agentArgs,
    rows,
    notes,
    seconds: (Date.now() - started) / 1000,
  };
}

async function caseChurn(name: string, retention: string, extraArgs: string[] = []): Promise<CaseResult> {
  const started = Date.now();
  const COUNT = 100_000;
  const READS = 10;
  const agentArgs = [...PROGRAMS, '--exited-retention', retention, ...extraArgs];
  const retentionMs = retention === '2m' ? 120_000 : Number.parseInt(retention, 10) * 1000;
  const rows: Row[] = [];
  const notes: string[] = [];
  try {
    agent = await startAgent(agentArgs);
    await waitPolls(agent, 2);
    rows.push(await window(agent, 'idle, before the churn', 2 * INTERVAL_MS));
    const t0 = performance.now();
    rows.push(
      await during(
        agent,
        `during ${COUNT.toLocaleString('en')} processes (peak)`,
        run(SYSCALLER, ['--churn', String(COUNT), String(READS)]),
      ),
    );
    const seconds = (performance.now() - t0) / 1000;
    notes.push(
      `\`syscaller --churn ${COUNT} ${READS}\`: ${COUNT.toLocaleString('en')} processes of ${READS} reads each (2 alive at a time) in ${seconds.toFixed(0)} s, ${(COUNT / seconds).toFixed(0)} per second.`,
    );
    rows.push(...(await after(agent, rows[0]!.sample, retentionMs, Date.now())));
  } finally {
    if (agent !== undefined) notes.push(...warnings(agent.log()));
    await agent?.stop();
    cleanupNow();
  }
  return {
    name,
    title: `100,000 short-lived processes, --exited-retention ${retention}${retention === '2m' ? ' (the default)' : ''}${extraArgs.length > 0 ? `, ${extraArgs.join(' ')}` : ''}`,
    command: `flock ${LOCK} node bench/fidelity.ts --case ${name}`,
    agentArgs,
    rows,
    notes,
    seconds: (Date.now() - started) / 1000,
  };
}

async function caseContainers(retention: string, rmdirDelayMs: number): Promise<CaseResult> {
  const started = Date.now();
  const COUNT = 5000;
  const READS = 10;
  const WORKERS = 4;
  const agentArgs = [...PROGRAMS, '--exited-retention', retention];
  const retentionMs = retention === '2m' ? 120_000 : Number.parseInt(retention, 10) * 1000;
  const rows: Row[] = [];
  const notes: string[] = [];
  const cgroupRoot = cgroup2Root();
  try {
    agent = await startAgent(agentArgs);
    await waitPolls(agent, 2);
    rows.push(await window(agent, 'idle, before the containers', 2 * INTERVAL_MS));
    tree = new CgroupTree(path.join(cgroupRoot, `eoa-bench-fidelity-${process.pid}`));
    const t = tree;
    // Containers whose job has exited, oldest first, each with the time it is due to go; the workers remove the
    // due ones before each new container.
    const due: { dir: string; atMs: number }[] = [];
    const removeDue = (nowMs: number): void => {
      while (due.length > 0 && due[0]!.atMs <= nowMs) t.remove(due.shift()!.dir);
    };
    let next = 0;
    let maxLive = 0;
    const work = async (): Promise<void> => {
      while (next < COUNT) {
        next++;
        removeDue(Date.now());
        const dir = t.createContainer();
        maxLive = Math.max(maxLive, t.live);
        await run(HELPER, ['cgroup-exec', dir, SYSCALLER, '--exit-after', String(READS)]);
        due.push({ dir, atMs: Date.now() + rmdirDelayMs });
        // Lets timers (the sampling) run: back-to-back spawns on child exits starve them (measured: 4 of 48
        // 100 ms ticks in 4.8 s without this, 29 of 30 with it).
        await sleep(0);
      }
    };
    const drain = async (): Promise<void> => {
      while (due.length > 0) {
        await sleep(Math.max(0, due[0]!.atMs - Date.now()));
        removeDue(Date.now());
      }
    };
    const t0 = performance.now();
    const all = Promise.all(Array.from({ length: WORKERS }, work)).then(drain);
    rows.push(await during(agent, `during ${COUNT.toLocaleString('en')} containers (peak)`, all));
    const seconds = (performance.now() - t0) / 1000;
    notes.push(
      `${COUNT.toLocaleString('en')} containers in ${seconds.toFixed(0)} s (${(COUNT / seconds).toFixed(0)} per second, ${WORKERS} at a time), each a new \`${path.relative(cgroupRoot, t.base)}/kubepods/besteffort/pod<uuid>/<64 hex>\` under ${cgroupRoot} running \`fidelity-helper cgroup-exec DIR syscaller --exit-after ${READS}\` (joins the cgroup, then execs), removed with its pod ${(rmdirDelayMs / 1000).toFixed(0)} s after the job exited; at most ${maxLive} existed at once.`,
    );
    rows.push(...(await after(agent, rows[0]!.sample, retentionMs, Date.now())));
  } finally {
    if (agent !== undefined) notes.push(...warnings(agent.log()));
    await agent?.stop();
    cleanupNow();
  }
  const name = `containers${retention === '2m' ? '-default' : ''}${rmdirDelayMs === 0 ? '-rmdir0' : ''}`;
  return {
    name,
    title: `5,000 short-lived containers, --exited-retention ${retention}${retention === '2m' ? ' (the default)' : ''}${rmdirDelayMs === 0 ? ', cgroup removed at once' : ''}`,
    command: `flock ${LOCK} node bench/fidelity.ts --case ${name}`,
    agentArgs,
    rows,
    notes,
    seconds: (Date.now() - started) / 1000,
  };
}

async function runCase(name: string): Promise<CaseResult> {
  buildHelper();
  buildFidelityHelper();
  const [kind, arg] = name.split(':');
  switch (kind) {
    case 'live':
      return caseLive(Number(arg));
    case 'churn':
      return caseChurn(kind, SHORT_RETENTION);
    case 'churn-default':
      return caseChurn(kind, '2m');
    case 'churn-map128k':
      // Room in the syscall maps for every process of the churn until its final count is published.
      return caseChurn(kind, SHORT_RETENTION, ['--syscalls-max-entries', '131072']);
    case 'containers':
      return caseContainers(SHORT_RETENTION, 2 * INTERVAL_MS + 1000);
    case 'containers-default':
      return caseContainers('2m', 2 * INTERVAL_MS + 1000);
    case 'containers-rmdir0':
      return caseContainers(SHORT_RETENTION, 0);
    default:
      throw new Error(`unknown case ${name}`);
  }
}

// ---- report ----------------------------------------------------------------------------------------------------

// Results of an earlier version of a case may lack a figure: '—'.
const n = (x: number | undefined): string => (x === undefined ? '—' : x.toLocaleString('en'));
const mib = (x: number | undefined): string => (x === undefined ? '' : x.toFixed(1));

function seriesCell(s: Sample, metric: (typeof VIEW_METRICS)[number]): string {
  const c = s.series[metric];
  const lines = c.own + c.other;
  const gauge = lines === c.gauge ? '' : `, gauge ${n(c.gauge)}`;
  return `${n(c.own)} + ${n(c.other)} (${n(c.workload)}${gauge})`;
}

function machine(): string {
  const model = /^Model name:\s+(.*)$/m.exec(execFileSync('lscpu', { encoding: 'utf8' }))?.[1] ?? 'unknown';
  const memGiB = os.totalmem() / 2 ** 30;
  return `${model}, ${os.cpus().length} cores (shared with other work: builds and tests ran meanwhile, so poll times are noisy), kernel ${os.release()}, ${memGiB.toFixed(1)} GiB memory, kernel.pid_max ${pidMax()}, Node ${process.versions.node}`;
}

function render(results: CaseResult[]): string {
  const out: string[] = [
    `Agent: \`node dist/cli.js ${PROGRAMS.join(' ')}\` — the default programs (exec, syscalls) plus cpu, so that all four metrics exist — at its defaults otherwise (\`--interval 5s\`, \`--max-series 5000\`, \`--max-process-series 5000\`, \`--exited-retention 2m\`, \`--scrape-interval 60s\`; it re-executes itself with its V8 flags, \`src/runtime.ts\`), with the changes each case names. Machine: ${machine()}.`,
    '',
    'Series are lines of each metric in `/metrics`, written `own + other (workload)`: `other` is the budget’s overflow series, `workload` the lines of the benchmark’s own processes (`process_executable_name="syscaller"`, the rest are the host’s); where `ebpf_agent_series{metric}` disagrees with the line count it is given too. The baseline (“idle”) row is the rest of the host: other work ran on it. RSS and VmHWM are the agent’s (`/proc/<pid>/status`); VmHWM is the peak since the agent started. Poll: mean of `ebpf_agent_poll_duration_seconds` over the row’s window. Lost: `ebpf_agent_events_lost_total` + `ebpf_agent_map_updates_dropped_total` (exit events the ring had no room for, processes the maps had no room for), since the agent started. Exited pids: per-process series of the workload whose process no longer exists (published for `--exited-retention`; none should be left after it).',
  ];
  for (const r of results) {
    out.push(
      '',
      `**${r.title}** — \`${r.command}\`; agent flags \`${r.agentArgs.join(' ')}\`; ${r.seconds.toFixed(0)} s.`,
      '',
      table(
        [
          'phase',
          'ebpf_syscalls_total',
          'ebpf_process_syscalls_total',
          'ebpf_cpu_samples_total',
          'ebpf_process_cpu_samples_total',
          'syscall map entries',
          'lost',
          'exited pids (syscalls / cpu)',
          'VmRSS (MiB)',
          'VmHWM (MiB)',
          'poll (ms)',
        ],
        r.rows.map((row) => [
          row.phase,
          ...VIEW_METRICS.map((m) => seriesCell(row.sample, m)),
          n(row.sample.syscallMapEntries),
          // Results of a version before `lost` was read have none.
          (row.sample.lost as number | undefined) === undefined ? '—' : n(row.sample.lost),
          (row.sample.exitedPids as Sample['exitedPids'] | undefined) === undefined
            ? '—'
            : `${n(row.sample.exitedPids.syscalls)} / ${n(row.sample.exitedPids.cpu)}`,
          row.rssPeakMiB !== undefined && row.rssPeakMiB > row.sample.rssMiB + 0.05
            ? `${mib(row.sample.rssMiB)} (peak ${mib(row.rssPeakMiB)})`
            : mib(row.sample.rssMiB),
          mib(row.sample.hwmMiB),
          Number.isNaN(row.pollMs) ? '' : row.pollMs.toFixed(0),
        ]),
      ),
    );
    if (r.notes.length > 0) out.push('', ...r.notes.map((note) => `- ${note}`));
  }
  return out.join('\n');
}

async function report(): Promise<void> {
  const order = [
    'live:2500',
    'live:25000',
    'live:100000',
    'churn',
    'churn-map128k',
    'churn-default',
    'containers',
    'containers-held',
    'containers-default',
    'containers-rmdir0',
  ];
  const results = readdirSync(RESULTS)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(path.join(RESULTS, f), 'utf8')) as CaseResult)
    .sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
  await writeSection('fidelity', render(results));
}

// ---- main ------------------------------------------------------------------------------------------------------

const one = argValue('--case');
if (one !== undefined) {
  const result = await runCase(one);
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(path.join(RESULTS, `${one.replace(':', '-')}.json`), JSON.stringify(result, null, 2));
  console.log(render([result]));
} else if (process.argv.includes('--report')) {
  await report();
} else {
  const cases = (argValue('--cases') ?? DEFAULT_CASES.join(',')).split(',');
  const before = pidMax();
  let failed = 0;
  for (const name of cases) {
    console.error(`\n=== fidelity case ${name} (${new Date().toISOString().slice(11, 19)} UTC): waiting for ${LOCK}`);
    // One case per lock: other people's integration tests can run between cases.
    const code = await new Promise<number>((resolve) => {
      const child = spawn('flock', [LOCK, process.execPath, path.join(root, 'bench', 'fidelity.ts'), '--case', name], {
        stdio: 'inherit',
      });
      child.once('exit', (c) => resolve(c ?? 1));
    });
    if (pidMax() !== before) {
      setPidMax(before);
      console.error(`restored kernel.pid_max to ${before}`);
    }
    if (code !== 0) {
      console.error(`case ${name} failed (exit ${code})`);
      failed++;
    }
  }
  await report();
  if (failed > 0) process.exit(1);
}

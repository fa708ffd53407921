// Kernel cost per traced syscall of the syscalls program (one raw tracepoint on sys_enter), against the
// empty-program floor and bpftrace; also the cost added to syscalls the program does not count. A C loop (loop.c) makes
// N raw system calls: read of 1 byte from /dev/zero (traced), getppid (not traced), or a mix (1 read + 3 getppid).
// 1. Fast alternation (the figures the goals are judged on): one loader switches the empty program, the agent's
//    programs and bpftrace's program rebuilt on and off every 25 ms while the loop runs, timed
//    in chunks; a program's added cost is its segment minus the "off" segments around it (25–200 ms away). This
//    cancels the speed swings of this shared machine (±25 % over 0.1 s to minutes), larger than the differences.
// 2. Rounds with the real processes: baseline, the empty program, the agent itself (`--programs syscalls`), the
//    agent's programs alone, bpftrace itself; hyperfine times the loop, each condition block
//    between two baseline blocks, the order rotated every round.
// 3. Where the time goes: the kernel's BPF run-time stats per program (a separate pass: stats cost time too), the
//    programs' sizes (bpftool), and a perf profile of the loop under the empty program and under the agent's.
// Results go to the syscall-cost section of docs/benchmarks.md (bench/lib/report.ts; BENCH_NO_WRITE=1 prints only).
// Run as root from a built checkout: node bench/syscall-cost/run.ts (it builds its loop and BPF objects itself).
// Environment: BENCH_N (calls per loop run, 2000000), BENCH_CYCLE_RUNS (undisturbed loop runs per workload in the
// fast alternation, 30), BENCH_CYCLE_N (calls per such run, 10000000), BENCH_CYCLE_MAX_SECONDS (its cap, 360),
// BENCH_ROUNDS (6), BENCH_RUNS (hyperfine runs per workload per block, 3), BENCH_BUDGET_MINUTES (no new round
// starts after this, 20), BENCH_QUIET_WAIT (seconds to wait for a quiet machine before a block, 60).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cpuSeconds, table, writeSection } from '../lib/report.ts';
import { children, stop, stopAll, track } from '../lib/children.ts';

const here = import.meta.dirname;
const root = path.resolve(here, '..', '..');
const build = path.join(here, 'build');
const LOOP = path.join(build, 'loop');
const N = Number(process.env.BENCH_N ?? 2_000_000);
const CYCLE_RUNS = Number(process.env.BENCH_CYCLE_RUNS ?? 30);
const CYCLE_MAX_SECONDS = Number(process.env.BENCH_CYCLE_MAX_SECONDS ?? 360);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const BUDGET_MINUTES = Number(process.env.BENCH_BUDGET_MINUTES ?? 20);
const QUIET_WAIT = Number(process.env.BENCH_QUIET_WAIT ?? 60);
const WORKLOADS = ['read', 'getppid', 'mixed'] as const;
type Workload = (typeof WORKLOADS)[number];
const AGENT_PROGRAMS = ['eoa_sys_enter'];
const BPFTRACE = 'tracepoint:syscalls:sys_enter_read { @[pid] = count(); }';
/** Other processes' CPU use (cores) above which the machine is not quiet. */
const BUSY_CORES = 0.35;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const log = (line: string): void => void process.stderr.write(`${line}\n`);

// ---- child processes: every one is tracked and stopped in the finally below, or on SIGINT/SIGTERM/SIGHUP ----

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    log(`${signal}: stopping the loaders, the agent and bpftrace`);
    void stopAll().finally(() => process.exit(130));
  });
}

function output(child: ChildProcess): () => string {
  let text = '';
  child.stdout?.on('data', (c: Buffer) => (text += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (text += c.toString()));
  return () => text;
}

async function waitFor(child: ChildProcess, text: () => string, pattern: RegExp, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!pattern.test(text())) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited:\n${text()}`);
    if (Date.now() > deadline) throw new Error(`${what} did not start in 30 s:\n${text()}`);
    await sleep(50);
  }
}

// ---- statistics ----
const median = (v: number[]): number => quantile(v, 0.5);
function quantile(v: number[], q: number): number {
  const s = [...v].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const i = (s.length - 1) * q;
  return s[Math.floor(i)]! + (s[Math.ceil(i)]! - s[Math.floor(i)]!) * (i - Math.floor(i));
}

/** 90 % bootstrap interval (samples resampled, fixed seed) of f(median(a), median(b)). */
function interval(a: number[], b: number[], f: (x: number, y: number) => number): [number, number] {
  let seed = 12345;
  const rand = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const pick = (v: number[]): number[] => v.map(() => v[Math.floor(rand() * v.length)]!);
  const out: number[] = [];
  for (let i = 0; i < 2000; i++) out.push(f(median(pick(a)), median(pick(b))));
  return [quantile(out, 0.05), quantile(out, 0.95)];
}

const f1 = (x: number): string => x.toFixed(1).replace('-', '−');
const f2 = (x: number): string => x.toFixed(2).replace('-', '−');
const sign = (x: number): string => (x >= 0 ? '+' : '−') + Math.abs(x).toFixed(1);

// ---- disturbance: other jobs on this machine run the agent's tests (which attach the same tracepoints), builds,
// and other benchmarks ----
const TRACING_TYPES = new Set(['tracepoint', 'raw_tracepoint', 'raw_tracepoint_writable', 'perf_event', 'kprobe']);

function ourProgramIds(): Set<number> {
  const ids = new Set<number>();
  for (const child of children) {
    if (child.pid === undefined) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${child.pid}/fdinfo`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^prog_id:\s+(\d+)/m.exec(readFileSync(`/proc/${child.pid}/fdinfo/${fd}`, 'utf8'));
        if (m) ids.add(Number(m[1]));
      } catch {
        // closed meanwhile
      }
    }
  }
  return ids;
}

/** A process holding a BPF_ENABLE_STATS fd: run-time stats are on for every program (the sysctl does not show it). */
function statsHolder(): string | undefined {
  if (readFileSync('/proc/sys/kernel/bpf_stats_enabled', 'utf8').trim() !== '0') return 'bpf_stats_enabled=1';
  const ours = new Set([...children].map((c) => String(c.pid)));
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d) && !ours.has(d) && d !== String(process.pid))) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === 'anon_inode:bpf-stats') return `BPF stats on (pid ${pid})`;
      } catch {
        // closed meanwhile
      }
    }
  }
  return undefined;
}

/** Tracing programs loaded by other processes (bpftool), or BPF run-time stats on (with `full`: scans every fd). */
function foreignBpf(full = false): string | undefined {
  const stats = full ? statsHolder() : undefined;
  if (stats !== undefined) return stats;
  const ours = ourProgramIds();
  const progs = JSON.parse(execFileSync('bpftool', ['prog', 'show', '-j'], { encoding: 'utf8' })) as {
    id: number;
    type: string;
    name?: string;
  }[];
  const foreign = progs.filter((p) => TRACING_TYPES.has(p.type) && !ours.has(p.id));
  return foreign.length
    ? `foreign BPF programs ${[...new Set(foreign.map((p) => p.name ?? p.id))].join(',')}`
    : undefined;
}

/** Busy and steal CPU seconds of the whole machine, from /proc/stat. */
function machineCpu(): { busy: number; steal: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  return { busy: (f[0]! + f[1]! + f[2]! + f[5]! + f[6]!) / 100, steal: f[7]! / 100 };
}

/** CPU used by processes other than `own` (seconds of CPU of ours, e.g. the loop) over a span. */
class CpuSpan {
  #start = machineCpu();
  #t = performance.now();
  /** Cores used by others, and cores stolen by the hypervisor, since construction. */
  end(own: number): { others: number; steal: number } {
    const now = machineCpu();
    const seconds = (performance.now() - this.#t) / 1000;
    return {
      others: Math.max(0, now.busy - this.#start.busy - own) / seconds,
      steal: (now.steal - this.#start.steal) / seconds,
    };
  }
}

async function quietNow(): Promise<string | undefined> {
  const bpf = foreignBpf(true);
  if (bpf !== undefined) return bpf;
  const ours = (): number =>
    [...children].reduce((sum, c) => {
      try {
        return sum + cpuSeconds(c.pid!);
      } catch {
        return sum; // exited meanwhile
      }
    }, 0);
  const own = ours();
  const span = new CpuSpan();
  await sleep(1000);
  const { others } = span.end(ours() - own);
  return others > BUSY_CORES ? `other processes busy (${others.toFixed(2)} cores)` : undefined;
}

/** Waits up to `seconds` for a quiet machine; returns what still disturbs it then. */
async function waitQuiet(seconds: number): Promise<string | undefined> {
  const deadline = Date.now() + seconds * 1000;
  let reason = await quietNow();
  let said = false;
  while (reason !== undefined && Date.now() < deadline) {
    if (!said) log(`waiting up to ${seconds} s for a quiet machine: ${reason}`);
    said = true;
    reason = await quietNow();
  }
  return reason;
}

/** No new block or wait for quiet after this (set when the run starts). */
let budgetEnd = Number.POSITIVE_INFINITY;
/** Seconds a wait for a quiet machine may take now: QUIET_WAIT, less when the time budget is nearly used. */
const quietWait = (): number => Math.max(0, Math.min(QUIET_WAIT, (budgetEnd - Date.now()) / 1000));

const disturbances: string[] = [];
const othersCores: number[] = [];
const stealCores: number[] = [];

// ---- loaders: the project's BpfObject loads and attaches programs in a child (loader.ts), held until SIGTERM ----
interface Held {
  child: ChildProcess;
  text: () => string;
  ids: Map<string, number>;
}

async function hold(
  object: string,
  programs: string[],
  options: { report?: string; stats?: boolean } = {},
): Promise<Held> {
  const args = [path.join(here, 'loader.ts'), object];
  if (options.report) args.push('--report', options.report);
  if (options.stats) args.push('--stats');
  const child = track(spawn(process.execPath, [...args, ...programs], { stdio: ['pipe', 'pipe', 'pipe'] }));
  const text = output(child);
  await waitFor(child, text, /^attached$/m, `loader ${path.basename(object)}`);
  const ids = new Map([...text().matchAll(/^prog (\S+) id=(\d+)$/gm)].map((m) => [m[1]!, Number(m[2])]));
  return { child, text, ids };
}

const OBJECTS = {
  empty: { object: path.join(build, 'empty.bpf.o'), programs: ['bench_empty'], report: undefined },
  programs: {
    object: path.join(root, 'bpf', 'build', 'syscalls.bpf.o'),
    programs: AGENT_PROGRAMS,
    report: 'syscall_counts',
  },
  bpftrace: { object: path.join(build, 'bpftrace.bpf.o'), programs: ['bench_bpftrace'], report: 'bpftrace_counts' },
} as const;
type Program = keyof typeof OBJECTS;
const PROGRAMS = Object.keys(OBJECTS) as Program[];
const PROGRAM_LABELS: Record<Program, string> = {
  empty: 'empty program on sys_enter_read (the floor)',
  programs: "the agent's syscall program (raw tracepoint on sys_enter, syscalls.bpf.o)",
  bpftrace: "bpftrace's program, rebuilt (bpftrace.bpf.c)",
};

// ---- 1. fast alternation ----
// Detaching the agent's four tracepoints takes ~150 ms (each perf event waits for an RCU grace period), so one
// off → programs → off stretch is ~250 ms: a loop run of the fast alternation is long (CYCLE_N calls) to hold many.
const CYCLE_MS = 25;
const CYCLE_N = Number(process.env.BENCH_CYCLE_N ?? 10_000_000);
const CYCLE_CHUNK_CALLS = 500;

interface FastResult {
  added: Record<Program, Record<Workload, number[]>>;
  runs: number;
  kept: number;
}

async function fastAlternation(): Promise<FastResult> {
  const before = await waitQuiet(quietWait());
  if (before !== undefined) disturbances.push(`fast alternation started while ${before}`);
  const specs = PROGRAMS.map((p) => `${p}=${OBJECTS[p].object}:${OBJECTS[p].programs.join(',')}`);
  const child = track(
    spawn(process.execPath, [path.join(here, 'loader.ts'), '--cycle', String(CYCLE_MS), ...specs], {
      stdio: ['pipe', 'pipe', 'pipe'],
    }),
  );
  const text = output(child);
  // The segments line is read from stdout alone: stderr is another pipe, and its chunks can land in the middle of
  // a long stdout line in the combined text. 'exit' can also come before the last of stdout: wait for 'close'.
  let stdout = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  const closed = new Promise((r) => child.once('close', r));
  const chunks: Record<Workload, [number, number, number][]> = { read: [], getppid: [], mixed: [] };
  const chunkLog = path.join(build, 'chunks.txt');
  let runs = 0;
  const kept: Record<Workload, number> = { read: 0, getppid: 0, mixed: 0 };
  try {
    await waitFor(child, text, /^attached$/m, 'cycling loader');
    const end = Date.now() + CYCLE_MAX_SECONDS * 1000;
    while (Math.min(...Object.values(kept)) < CYCLE_RUNS && Date.now() < end) {
      for (const w of WORKLOADS) {
        if (kept[w] >= CYCLE_RUNS) continue;
        const loaderCpu = cpuSeconds(child.pid!);
        const span = new CpuSpan();
        execFileSync(LOOP, [w, String(CYCLE_N)], {
          env: { ...process.env, LOOP_CHUNKS: String(CYCLE_N / CYCLE_CHUNK_CALLS), LOOP_CHUNK_LOG: chunkLog },
        });
        const lines = readFileSync(chunkLog, 'utf8').trim().split('\n');
        const loopCpu = lines.reduce((s, l) => s + (Number(l.split(' ')[1]) - Number(l.split(' ')[0])), 0) / 1e9;
        const cpu = span.end(loopCpu + cpuSeconds(child.pid!) - loaderCpu);
        const bpf = foreignBpf();
        runs++;
        // a run other jobs disturbed is left out (its segments would only add noise), and the next waits
        if (bpf !== undefined || cpu.others > BUSY_CORES) {
          disturbances.push(
            `fast alternation run left out: ${bpf ?? `other processes used ${cpu.others.toFixed(2)} cores`}`,
          );
          await waitQuiet(Math.max(0, Math.min(QUIET_WAIT, (end - Date.now()) / 1000)));
          continue;
        }
        kept[w]++;
        othersCores.push(cpu.others);
        stealCores.push(cpu.steal);
        for (const l of lines) chunks[w].push(l.split(' ').map(Number) as [number, number, number]);
      }
    }
  } finally {
    await stop(child);
    await closed;
  }
  const segments = JSON.parse(/^segments=(.*)$/m.exec(stdout)?.[1] ?? 'null') as [string, number, number][] | null;
  if (!segments) throw new Error(`the cycling loader gave no segments:\n${text()}`);

  const added = {} as FastResult['added'];
  for (const p of PROGRAMS) added[p] = { read: [], getppid: [], mixed: [] };
  for (const w of WORKLOADS) {
    const sorted = chunks[w].sort((x, y) => x[0] - y[0]);
    // ns per call of the chunks wholly inside each segment (NaN when fewer than 5: no loop was running)
    let first = 0;
    const level = segments.map(([, from, to]) => {
      while (first < sorted.length && sorted[first]![0] < from) first++;
      const inside: number[] = [];
      for (let j = first; j < sorted.length && sorted[j]![1] <= to; j++) {
        inside.push((sorted[j]![1] - sorted[j]![0]) / sorted[j]![2]);
      }
      // bursts of other work only add time: the 20th-percentile chunk is the segment's level without them
      return inside.length >= 5 ? quantile(inside, 0.2) : Number.NaN;
    });
    for (let k = 1; k + 1 < segments.length; k++) {
      const state = segments[k]![0] as Program | 'off';
      if (state === 'off' || segments[k - 1]![0] !== 'off' || segments[k + 1]![0] !== 'off') continue;
      const value = level[k]! - (level[k - 1]! + level[k + 1]!) / 2;
      if (Number.isFinite(value)) added[state][w].push(value);
    }
  }
  return { added, runs, kept: Object.values(kept).reduce((a, b) => a + b, 0) };
}

// ---- 2. rounds with the real processes ----
interface Running {
  children: ChildProcess[];
  /** After the children stopped: throws when the program did not see the calls. */
  verify?: () => void;
}
interface Condition {
  key: string;
  label: string;
  start: () => Promise<Running>;
}

function heldCondition(p: Program): () => Promise<Running> {
  return async () => {
    const held = await hold(OBJECTS[p].object, [...OBJECTS[p].programs], { report: OBJECTS[p].report });
    return {
      children: [held.child],
      verify: OBJECTS[p].report
        ? () => {
            const expected = RUNS * (N + N / 4); // reads of the read and mixed runs
            const counted = Number(/counted=(\d+)/.exec(held.text())?.[1] ?? 0);
            if (counted < expected) throw new Error(`${p}: counted ${counted} < ${expected} reads`);
          }
        : undefined,
    };
  };
}

const conditions: Condition[] = [
  { key: 'baseline', label: 'baseline (nothing attached)', start: async () => ({ children: [] }) },
  { key: 'empty', label: PROGRAM_LABELS.empty, start: heldCondition('empty') },
  {
    key: 'agent',
    label: 'the agent, `--programs syscalls` (its raw tracepoint + exec/exit)',
    start: async () => {
      const args = ['dist/cli.js', '--programs', 'syscalls', '--interval', '5s', '--host', '127.0.0.1', '--port', '0'];
      const child = track(spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] }));
      const text = output(child);
      await waitFor(child, text, /listen=[^ ]*:\d+/, 'agent');
      const url = `http://127.0.0.1:${/listen=[^ ]*:(\d+)/.exec(text())![1]}/readyz`;
      for (let i = 0; ; i++) {
        const ok = await fetch(url).then(
          (r) => r.ok,
          () => false,
        );
        if (ok) break;
        if (i > 200) throw new Error(`agent never became ready:\n${text()}`);
        await sleep(50);
      }
      await sleep(1000); // let its start-up work (first poll, /proc scan) finish
      return { children: [child] };
    },
  },
  { key: 'programs', label: PROGRAM_LABELS.programs + ', loader', start: heldCondition('programs') },
  {
    key: 'bpftrace',
    label: `bpftrace \`${BPFTRACE}\``,
    start: async () => {
      // BEGIN runs once every probe is attached: "ready" means attached.
      const program = `BEGIN { printf("ready\\n"); } ${BPFTRACE}`;
      const child = track(spawn('bpftrace', ['-B', 'line', '-e', program], { stdio: ['ignore', 'pipe', 'pipe'] }));
      const text = output(child);
      await waitFor(child, text, /^ready$/m, 'bpftrace');
      return {
        children: [child],
        verify: () => {
          const max = Math.max(0, ...[...text().matchAll(/^@\[\d+\]: (\d+)$/gm)].map((m) => Number(m[1])));
          if (max < N) throw new Error(`bpftrace counted at most ${max} reads for a process, expected ${N}`);
        },
      };
    },
  },
];

/** Per workload: ns per call of each run, the loop's steady figure and hyperfine's wall time / N. */
type Measure = 'steady' | 'wall';
type Block = Record<Workload, Record<Measure, number[]>> & { disturbed?: string };

async function measure(): Promise<Block> {
  const json = path.join(build, 'hyperfine.json');
  const report = (w: Workload): string => path.join(build, `report-${w}.txt`);
  const args = ['-N', '--style', 'none', '--runs', String(RUNS), '--export-json', json];
  for (const w of WORKLOADS) {
    rmSync(report(w), { force: true });
    args.push('-n', w, `'${LOOP}' ${w} ${N} '${report(w)}'`);
  }
  let disturbed: string | undefined;
  const monitor = setInterval(() => (disturbed ??= foreignBpf()), 1000);
  const span = new CpuSpan();
  try {
    const hf = track(spawn('hyperfine', args, { stdio: ['ignore', 'ignore', 'pipe'] }));
    const text = output(hf);
    const code = await new Promise<number | null>((r) => hf.once('exit', r));
    if (code !== 0) throw new Error(`hyperfine failed (${code}):\n${text()}`);
  } finally {
    clearInterval(monitor);
  }
  const results = (JSON.parse(readFileSync(json, 'utf8')) as { results: { command: string; times: number[] }[] })
    .results;
  const block = {} as Block;
  let loopCpu = 0;
  for (const w of WORKLOADS) {
    const lines = readFileSync(report(w), 'utf8').trim().split('\n');
    for (const line of lines) loopCpu += Number(line.split(' ')[1]) / 1e9;
    block[w] = {
      wall: results.find((r) => r.command === w)!.times.map((t) => (t * 1e9) / N),
      steady: lines.map((l) => Number(l.split(' ')[2])),
    };
  }
  const cpu = span.end(loopCpu);
  othersCores.push(cpu.others);
  stealCores.push(cpu.steal);
  block.disturbed = disturbed ?? foreignBpf(true);
  return block;
}

/** Attaches the condition (none for the baseline), measures, detaches; once more if another job disturbed it. */
async function block(c: Condition, tag: string): Promise<Block> {
  let result: Block | undefined;
  for (let attempt = 0; attempt < 2; attempt++) {
    const before = await waitQuiet(quietWait());
    const running = await c.start();
    try {
      result = await measure();
      result.disturbed ??= before;
    } finally {
      for (const child of running.children) await stop(child);
    }
    running.verify?.();
    if (result.disturbed === undefined) break;
    const again = attempt === 0 && Date.now() < budgetEnd;
    log(`${tag}: ${result.disturbed}${again ? '; measuring again' : '; kept'}`);
    if (!again) break;
  }
  if (result!.disturbed !== undefined) disturbances.push(`${tag} kept while ${result!.disturbed}`);
  const cells = WORKLOADS.map(
    (w) => `${w} ${median(result![w].steady).toFixed(1)}/${median(result![w].wall).toFixed(1)}`,
  );
  log(`${tag.padEnd(22)} ${cells.join('  ')} ns/call steady/wall`);
  return result!;
}

interface RoundsResult {
  rounds: number;
  /** ns per call of every run, and per round the added cost (condition − mean of the baselines around it). */
  runs: Map<string, Record<Workload, Record<Measure, number[]>>>;
  added: Map<string, Record<Workload, Record<Measure, number[]>>>;
}

async function rounds(deadline: number): Promise<RoundsResult> {
  const empty = (): Record<Workload, Record<Measure, number[]>> => ({
    read: { steady: [], wall: [] },
    getppid: { steady: [], wall: [] },
    mixed: { steady: [], wall: [] },
  });
  const runs = new Map(conditions.map((c) => [c.key, empty()]));
  const added = new Map(conditions.filter((c) => c.key !== 'baseline').map((c) => [c.key, empty()]));
  const baseline = conditions[0]!;
  const others = conditions.slice(1);
  const record = (key: string, b: Block): void => {
    for (const w of WORKLOADS) for (const m of ['steady', 'wall'] as const) runs.get(key)![w][m].push(...b[w][m]);
  };
  const roundStart = Date.now();
  let round = 0;
  for (; round < ROUNDS; round++) {
    const started = Date.now();
    if (round > 0 && Date.now() + (Date.now() - roundStart) / round > deadline) {
      log(`time budget: stopping after ${round} rounds`);
      break;
    }
    const order = others.map((_, i) => others[(i + round) % others.length]!);
    let before = await block(baseline, `round ${round + 1} baseline`);
    record('baseline', before);
    for (const c of order) {
      if (Date.now() > deadline) break; // a partial round still gives a figure for every condition it reached
      const measured = await block(c, `round ${round + 1} ${c.key}`);
      const after = await block(baseline, `round ${round + 1} baseline`);
      record(c.key, measured);
      record('baseline', after);
      for (const w of WORKLOADS) {
        for (const m of ['steady', 'wall'] as const) {
          const base = (median(before[w][m]) + median(after[w][m])) / 2;
          added.get(c.key)![w][m].push(median(measured[w][m]) - base);
        }
      }
      before = after;
    }
    log(`round ${round + 1} took ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
  return { rounds: round, runs, added };
}

// ---- 3. where the time goes ----
interface ProgramTime {
  nsPerRun: number;
  runsPerCall: number;
  insns: number;
  jited: number;
}

/** BPF run-time stats (run_time_ns / run_cnt) of a program set over N calls of a workload, and its size. */
async function programTime(p: Program, w: Workload): Promise<ProgramTime> {
  const held = await hold(OBJECTS[p].object, [...OBJECTS[p].programs], { stats: true });
  let insns: number;
  let jited: number;
  try {
    // the program that runs on this workload's traced call: the read program, or the only one
    const id = held.ids.get(OBJECTS[p].programs.find((x) => x.endsWith('read')) ?? OBJECTS[p].programs[0]!)!;
    const info = JSON.parse(
      execFileSync('bpftool', ['prog', 'show', 'id', String(id), '-j'], { encoding: 'utf8' }),
    ) as {
      bytes_xlated: number;
      bytes_jited: number;
    };
    insns = info.bytes_xlated / 8;
    jited = info.bytes_jited;
    execFileSync(LOOP, [w, String(N)]);
  } finally {
    await stop(held.child);
  }
  let runs = 0;
  let ns = 0;
  for (const m of held.text().matchAll(/^stats \S+ runs=(\d+) ns=(\d+)$/gm)) {
    runs += Number(m[1]);
    ns += Number(m[2]);
  }
  if (runs === 0) throw new Error(`no BPF stats from ${p}:\n${held.text()}`);
  return { nsPerRun: ns / runs, runsPerCall: runs / N, insns, jited };
}

/** perf profile of the read loop under a program set: ns per call spent in each symbol of the loop's samples. */
async function profile(p: Program | undefined): Promise<Map<string, number>> {
  const held = p ? await hold(OBJECTS[p].object, [...OBJECTS[p].programs]) : undefined;
  const data = path.join(build, `perf-${p ?? 'baseline'}.data`);
  const report = path.join(build, 'report-profile.txt');
  rmSync(report, { force: true });
  try {
    execFileSync(
      'perf',
      ['record', '-q', '-e', 'cpu-clock', '-F', '9999', '-o', data, '--', LOOP, 'read', String(2 * N), report],
      {
        stdio: 'ignore',
      },
    );
  } finally {
    if (held) await stop(held.child);
  }
  const nsPerCall = Number(readFileSync(report, 'utf8').split(' ')[0]) / (2 * N);
  const text = execFileSync(
    'perf',
    ['report', '-i', data, '--stdio', '-q', '--sort', 'sym', '--percentage', 'relative', '--comm', 'loop'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^\s*([\d.]+)%\s+\[(.)\]\s+(\S+)/gm)) {
    // bpf_prog_<tag>_<name>: the tag differs between loads
    const sym = m[3]!.replace(/^bpf_prog_[0-9a-f]{16}_/, 'bpf_prog_');
    out.set(sym, (out.get(sym) ?? 0) + (Number(m[1]) / 100) * nsPerCall);
  }
  return out;
}

// ---- the report ----
function verdict(what: string, a: number[], b: number[], goal: number): string {
  const value = median(a) / median(b);
  const [lo, hi] = interval(a, b, (x, y) => x / y);
  const allowed = goal * median(b);
  const state =
    value <= goal
      ? `met (${f2(goal - value)}× to spare)`
      : `**missed by ${f2(value - goal)}×**: ${f1(median(a) - allowed)} ns per call over the ${f1(allowed)} ns allowed`;
  const sure =
    lo > goal || hi <= goal ? '' : `; the interval straddles ${goal}×, so this measure alone does not decide it`;
  return `${what}: ${f1(median(a))} ÷ ${f1(median(b))} ns = **${f2(value)}×** (90 % interval ${f2(lo)}–${f2(hi)}), ${state}${sure}`;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root: it loads BPF programs');
  for (const need of ['dist/cli.js', 'bpf/build/syscalls.bpf.o', 'native/build/Release/ebpf_addon.node']) {
    if (!existsSync(path.join(root, need))) throw new Error(`${need} is missing: build the checkout first`);
  }
  for (const tool of ['hyperfine', 'bpftrace', 'bpftool', 'perf', 'gcc', 'clang', 'make']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      throw new Error(`${tool} is missing: apt-get install -y ${tool === 'perf' ? 'linux-perf' : tool}`);
    }
  }
  execFileSync('make', ['-s', '-C', here], { stdio: 'inherit' });
  const started = Date.now();
  const deadline = started + BUDGET_MINUTES * 60_000;
  budgetEnd = deadline;

  log(`1. fast alternation, ${CYCLE_RUNS} undisturbed runs per workload (at most ${CYCLE_MAX_SECONDS} s)`);
  const fast = await fastAlternation();
  log(`2. rounds (at most ${ROUNDS}, none started after ${BUDGET_MINUTES} min)`);
  const r = await rounds(deadline);
  log('3. BPF run-time stats, program sizes, perf profiles');
  await waitQuiet(quietWait());
  const times = new Map<Program, ProgramTime>();
  for (const p of PROGRAMS) times.set(p, await programTime(p, 'read'));
  const untraced = await programTime('programs', 'getppid');
  const profiles = { empty: await profile('empty'), programs: await profile('programs') };
  const minutes = (Date.now() - started) / 60000;

  // ---- the results ----
  const fa = fast.added;
  const cell = (v: number[]): string =>
    v.length ? `${sign(median(v))} (${f1(quantile(v, 0.25))} to ${f1(quantile(v, 0.75))})` : '—';
  const out: string[] = [];
  out.push(
    `${N.toLocaleString('en-US')} raw system calls per loop run: \`read\` of 1 byte from /dev/zero (traced), \`getppid\` ` +
      `(no program counts it: the untraced cost), and a mix of 1 read + 3 getppid. ${os.cpus().length} CPUs ` +
      `(${os.cpus()[0]?.model.trim() ?? '?'}), kernel ${os.release()}; the whole run took ${minutes.toFixed(1)} min.`,
  );
  out.push(
    `**Fast alternation** (the goals are judged on it): one loader switches each program on for ${CYCLE_MS} ms between ` +
      `"off" segments while the loop runs (${fast.kept} of ${fast.runs} loop runs kept, timed in chunks of ` +
      `${CYCLE_CHUNK_CALLS} calls, ${CYCLE_N.toLocaleString('en-US')} calls per run); added ns per call = median over segments of (the segment's 20th-percentile chunk − the mean ` +
      `of the two "off" segments around it), interquartile range in brackets, number of segments after the comma. ` +
      `Only kernel cost is in it: the programs are loaded once and only attached and detached.`,
  );
  const ratio = (p: Program, base: Program): string => `${f2(median(fa[p].read) / median(fa[base].read))}×`;
  out.push(
    table(
      ['program', 'read (traced)', 'getppid (untraced)', 'mixed', 'read ÷ empty', 'read ÷ bpftrace'],
      PROGRAMS.map((p) => [
        PROGRAM_LABELS[p],
        ...WORKLOADS.map((w) => `${cell(fa[p][w])}, ${fa[p][w].length}`),
        ratio(p, 'empty'),
        ratio(p, 'bpftrace'),
      ]),
    ),
  );
  const ns = (key: string, w: Workload): number => median(r.runs.get(key)![w].steady);
  const add = (key: string, w: Workload, m: Measure = 'steady'): number[] => r.added.get(key)![w][m];
  out.push(
    `**Rounds with the real processes** (${r.rounds} rounds; per round every condition block sits between two ` +
      `baseline blocks; hyperfine, ${RUNS} runs per workload per block): ns per call = median over runs of the loop's ` +
      `steady figure (the 10th-percentile of 50 chunks per run, which leaves out bursts of other guests' work); ` +
      `added = median over rounds of (block − mean of the baselines around it), interquartile range in brackets.`,
  );
  out.push(
    table(
      ['condition', 'read ns/call', 'added', 'getppid ns/call', 'added', 'mixed ns/call', 'added'],
      conditions.map((c) => [
        c.label,
        ...WORKLOADS.flatMap((w) => [f1(ns(c.key, w)), c.key === 'baseline' ? '—' : cell(add(c.key, w))]),
      ]),
    ),
  );

  // goals
  const agentFast = fa.programs.read;
  const goal1 = verdict("the agent's programs ÷ the empty program (fast alternation)", agentFast, fa.empty.read, 1.15);
  const goal2 = verdict(
    "the agent's programs ÷ bpftrace's program (fast alternation)",
    agentFast,
    fa.bpftrace.read,
    0.5,
  );
  out.push(
    [
      '**Goals** (added kernel cost per traced read):',
      `- ≤ 1.15× the empty program: ${goal1}.`,
      `  - cross-check, rounds: ${verdict('the agent ÷ the empty program', add('agent', 'read'), add('empty', 'read'), 1.15)}; ` +
        `${verdict("the agent's programs ÷ the empty program", add('programs', 'read'), add('empty', 'read'), 1.15)}.`,
      `- ≤ 0.5× bpftrace, against bpftrace itself (rounds): ` +
        `${verdict('the agent ÷ bpftrace', add('agent', 'read'), add('bpftrace', 'read'), 0.5)}; ` +
        `${verdict("the agent's programs ÷ bpftrace", add('programs', 'read'), add('bpftrace', 'read'), 0.5)}.`,
      `  - stricter check against bpftrace's program alone, rebuilt (it leaves out what bpftrace adds around it: ` +
        `bpftrace itself adds ${f1(median(add('bpftrace', 'read')))} ns, its rebuilt program ` +
        `${f1(median(fa.bpftrace.read))} ns): ${goal2}.`,
    ].join('\n'),
  );

  // untraced syscalls
  const [uLo, uHi] = interval(fa.programs.getppid, [0], (x) => x);
  out.push(
    `**Untraced syscalls**: with the agent's programs attached, a getppid (which no program counts) costs ` +
      `${sign(median(fa.programs.getppid))} ns more (90 % interval ${f1(uLo)} to ${f1(uHi)}; rounds with the agent itself: ` +
      `${sign(median(add('agent', 'getppid')))}): attaching any syscall tracepoint sends every syscall of every task ` +
      `through the tracing entry path, and the agent's raw tracepoint runs on every syscall ` +
      `(${f1(untraced.nsPerRun)} ns per run by the BPF stats).`,
  );

  // where the time goes
  const rows = PROGRAMS.map((p) => {
    const t = times.get(p)!;
    return [PROGRAM_LABELS[p], f1(t.nsPerRun), t.runsPerCall.toFixed(2), String(t.insns), String(t.jited)];
  });
  rows.push([
    "the agent's syscall program, on getppid (untraced)",
    f1(untraced.nsPerRun),
    untraced.runsPerCall.toFixed(2),
    '',
    '',
  ]);
  const body = times.get('programs')!.nsPerRun - times.get('empty')!.nsPerRun;
  const symbols = [...new Set([...profiles.empty.keys(), ...profiles.programs.keys()])]
    .map((s) => ({ s, e: profiles.empty.get(s) ?? 0, a: profiles.programs.get(s) ?? 0 }))
    .filter((x) => Math.max(x.e, x.a) >= 3 || Math.abs(x.a - x.e) >= 1.5)
    .sort((x, y) => y.a - y.e - (x.a - x.e));
  out.push(
    `**Where the time goes.** The kernel's BPF run-time stats (a separate pass with stats on, ${N.toLocaleString('en-US')} ` +
      `reads; the stats' own clock reads are inside the figure, so compare the programs with each other) and the ` +
      `programs' sizes (bpftool: translated instructions, JIT bytes of the program that runs on read):`,
  );
  out.push(table(['program', 'ns per run', 'runs per call', 'instructions', 'JIT bytes'], rows));
  out.push(
    `The agent's read program runs ${f1(body)} ns longer than the empty one: on the same tracepoint path that predicts ` +
      `(${f1(median(fa.empty.read))} + ${f1(body)}) ÷ ${f1(median(fa.empty.read))} = ` +
      `${f2((median(fa.empty.read) + body) / median(fa.empty.read))}× the floor. A perf profile (cpu-clock, 9999 Hz, ` +
      `only the loop's samples) of ${(2 * N).toLocaleString('en-US')} reads under each, as ns per call in each ` +
      `kernel/user symbol (share of samples × the run's ns per call; symbols with ≥ 3 ns or a change ≥ 1.5 ns):`,
  );
  out.push(
    table(
      ['symbol', 'empty program', "agent's programs", 'change'],
      symbols.map((x) => [`\`${x.s}\``, f1(x.e), f1(x.a), sign(x.a - x.e)]),
    ),
  );
  out.push(
    `**Disturbance.** Other processes' CPU use during the measured runs: median ${f2(median(othersCores))} cores, max ` +
      `${f2(Math.max(...othersCores))} (the agent's and bpftrace's own user-space work counts here in their blocks); ` +
      `hypervisor steal: median ${f2(median(stealCores))}, max ${f2(Math.max(...stealCores))} cores. ` +
      (disturbances.length
        ? `The harness saw: ${summarize(disturbances)}.`
        : 'No foreign tracing programs, BPF stats or busy processes were seen.'),
  );
  writeSection('syscall-cost', out.join('\n\n'));
}

/** Repeated disturbance messages counted, not listed. */
function summarize(lines: string[]): string {
  const counts = new Map<string, number>();
  for (const l of lines) {
    const key = l.replace(/\d+\.\d+ cores/, 'N cores').replace(/round \d+/, 'round N');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => (n > 1 ? `${k} (${n}×)` : k)).join('; ');
}

try {
  await main();
} finally {
  await stopAll();
}

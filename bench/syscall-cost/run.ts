// Kernel cost per traced syscall of the syscalls program, against the empty-program floor, bpftrace, and the
// raw-tracepoint alternative. A C loop makes N raw system calls (read of 1 byte from /dev/zero, getppid, or a mix);
// hyperfine times it (ns per call = wall time / N) under each condition, each condition between two baselines,
// conditions interleaved in rounds; the loop also reports a steady per-call time that leaves out bursts of
// interference (see loop.c).
// Run as root from a built checkout: node bench/syscall-cost/run.ts
// Environment: BENCH_N (calls per run, 5000000), BENCH_ROUNDS (12), BENCH_RUNS (hyperfine runs per workload per block, 3).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const here = import.meta.dirname;
const root = path.resolve(here, '..', '..');
const build = path.join(here, 'build');
const N = Number(process.env.BENCH_N ?? 5_000_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 12);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const WARMUP = 0; // every run is a fresh process on warm caches; a warm-up would only lengthen the blocks
const WORKLOADS = ['read', 'getppid', 'mixed'] as const;
type Workload = (typeof WORKLOADS)[number];
const AGENT_PROGRAMS = ['eoa_sys_openat', 'eoa_sys_read', 'eoa_sys_write', 'eoa_sys_connect'];
const BPFTRACE = 'tracepoint:syscalls:sys_enter_read { @[pid] = count(); }';

// ---- child processes: every one is tracked and stopped in the finally below, or on SIGINT/SIGTERM ----
const children = new Set<ChildProcess>();

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

async function stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

async function stopAll(): Promise<void> {
  await Promise.all([...children].map((c) => stop(c)));
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
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
    await new Promise((r) => setTimeout(r, 50));
  }
}

// ---- conditions: start() attaches and returns what to check at teardown ----
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

/** The project's BpfObject loads and attaches the programs in a child (loader.ts), held until SIGTERM. */
async function loader(
  object: string,
  programs: string[],
  options: { report?: string; stats?: boolean } = {},
): Promise<Running & { text: () => string }> {
  const { report, stats } = options;
  const flags = [...(report ? ['--report', report] : []), ...(stats ? ['--stats'] : [])];
  const args = [path.join(here, 'loader.ts'), object, ...flags, ...programs];
  const child = track(spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] }));
  const text = output(child);
  await waitFor(child, text, /^attached$/m, `loader ${path.basename(object)}`);
  return {
    children: [child],
    text,
    verify: report
      ? () => {
          // read (and mixed: N/4 reads) by every loop run, warm-ups included
          const expected = (WARMUP + RUNS) * (N + N / 4);
          const counted = Number(/counted=(\d+)/.exec(text())?.[1] ?? 0);
          if (counted < expected) throw new Error(`${path.basename(object)} counted ${counted} < ${expected} reads`);
        }
      : undefined,
  };
}

const conditions: Condition[] = [
  { key: 'baseline', label: 'baseline (nothing attached)', start: async () => ({ children: [] }) },
  {
    key: 'empty',
    label: 'empty program on sys_enter_read (the floor)',
    start: () => loader(path.join(build, 'empty.bpf.o'), ['bench_empty']),
  },
  {
    key: 'agent',
    label: 'agent `--programs syscalls` (4 syscall tracepoints)',
    start: async () => {
      const args = ['dist/cli.js', '--programs', 'syscalls', '--host', '127.0.0.1', '--port', '0'];
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
        await new Promise((r) => setTimeout(r, 50));
      }
      return { children: [child] };
    },
  },
  {
    key: 'programs',
    label: "the agent's 4 tracepoint programs alone (syscalls.bpf.o, loader)",
    start: () =>
      loader(path.join(root, 'bpf', 'build', 'syscalls.bpf.o'), AGENT_PROGRAMS, { report: 'syscall_counts' }),
  },
  {
    key: 'bpftrace',
    label: 'bpftrace `@[pid] = count()` on sys_enter_read',
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
  {
    key: 'raw',
    label: 'raw tracepoint on sys_enter, id filter + per-CPU hash count',
    start: () => loader(path.join(build, 'rawtp.bpf.o'), ['bench_raw_sys_enter'], { report: 'raw_counts' }),
  },
];

// ---- a quiet kernel: other jobs on this machine run the agent's tests, which attach the same tracepoints ----
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
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d) && !ours.has(d))) {
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

/** What disturbs the measurement now: tracing programs of other processes (checked every second during a block);
 * with `full`, also BPF run-time stats turned on (checked before and after a block: it scans every process's fds). */
function disturbance(full = false): string | undefined {
  const stats = full ? statsHolder() : undefined;
  if (stats !== undefined) return stats;
  const ours = ourProgramIds();
  const progs = JSON.parse(execFileSync('bpftool', ['prog', 'show', '-j'], { encoding: 'utf8' })) as {
    id: number;
    type: string;
    name?: string;
  }[];
  const foreign = progs.filter((p) => TRACING_TYPES.has(p.type) && !ours.has(p.id));
  return foreign.length ? `foreign programs: ${foreign.map((p) => p.name ?? p.id).join(',')}` : undefined;
}

async function waitQuiet(maxSeconds: number): Promise<string | undefined> {
  const deadline = Date.now() + maxSeconds * 1000;
  let reason = disturbance(true);
  while (reason !== undefined && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1000));
    reason = disturbance(true);
  }
  return reason;
}

// ---- one block: hyperfine runs the three workloads under whatever is attached now ----
type Measure = 'steady' | 'wall';
const MEASURES: Measure[] = ['steady', 'wall'];
/** Per workload, per measure: ns per call of each run (warm-ups left out). */
type Block = Record<Workload, Record<Measure, number[]>> & { disturbed?: string };

function reportFile(w: Workload): string {
  return path.join(build, `report-${w}.txt`);
}

const cpuShare: number[] = []; // loop CPU time / loop wall time, every run

async function measure(): Promise<Block> {
  const json = path.join(build, 'hyperfine.json');
  const quote = (s: string): string => `'${s}'`;
  const args = ['-N', '--style', 'none', '--warmup', String(WARMUP), '--runs', String(RUNS), '--export-json', json];
  for (const w of WORKLOADS) {
    rmSync(reportFile(w), { force: true });
    args.push('-n', w, `${quote(path.join(build, 'loop'))} ${w} ${N} ${quote(reportFile(w))}`);
  }
  let disturbed: string | undefined;
  const monitor = setInterval(() => (disturbed ??= disturbance()), 1000);
  try {
    const hf = track(spawn('hyperfine', args, { stdio: ['ignore', 'ignore', 'pipe'] }));
    const text = output(hf);
    const code = await new Promise<number | null>((r) => hf.once('exit', r));
    if (code !== 0) throw new Error(`hyperfine failed (${code}):\n${text()}`);
  } finally {
    clearInterval(monitor);
  }
  disturbed ??= disturbance(true);
  const results = (JSON.parse(readFileSync(json, 'utf8')) as { results: { command: string; times: number[] }[] })
    .results;
  const block = { disturbed } as Block;
  for (const w of WORKLOADS) {
    const lines = readFileSync(reportFile(w), 'utf8').trim().split('\n').slice(WARMUP);
    for (const line of lines) {
      const [wall, cpu] = line.split(' ').map(Number);
      cpuShare.push(cpu! / wall!);
    }
    block[w] = {
      wall: results.find((r) => r.command === w)!.times.map((t) => (t * 1e9) / N),
      steady: lines.map((l) => Number(l.split(' ')[2])),
    };
  }
  return block;
}

/** Attaches the condition (none for the baseline), measures, detaches; again while another job disturbed it. */
async function block(c: Condition | undefined, tag: string): Promise<{ block: Block; retried: number }> {
  let result: Block | undefined;
  let retried = 0;
  for (let attempt = 0; attempt < 4; attempt++) {
    const before = await waitQuiet(attempt === 0 ? 120 : 300);
    const running = c ? await c.start() : { children: [] };
    try {
      loads.push(os.loadavg()[0]!);
      result = await measure();
      if (before !== undefined) result.disturbed ??= before;
    } finally {
      for (const child of running.children) await stop(child);
    }
    running.verify?.();
    if (result.disturbed === undefined) break;
    retried++;
    process.stderr.write(`${tag}: ${result.disturbed}; measuring again\n`);
  }
  if (result!.disturbed !== undefined) disturbedKept.push(`${tag}: ${result!.disturbed}`);
  return { block: result!, retried };
}

// ---- the programs' own time per run from the kernel's BPF stats: a separate pass, since stats cost time too ----
interface ProgramTime {
  label: string;
  workload: Workload;
  nsPerRun: number;
  runsPerCall: number;
}

async function programTime(
  label: string,
  object: string,
  programs: string[],
  workload: Workload,
): Promise<ProgramTime> {
  await waitQuiet(120);
  const running = await loader(object, programs, { stats: true });
  try {
    for (let i = 0; i < RUNS; i++) execFileSync(path.join(build, 'loop'), [workload, String(N)]);
  } finally {
    await stop(running.children[0]!);
  }
  let runs = 0;
  let ns = 0;
  for (const m of running.text().matchAll(/^stats \S+ runs=(\d+) ns=(\d+)$/gm)) {
    runs += Number(m[1]);
    ns += Number(m[2]);
  }
  if (runs === 0) throw new Error(`no BPF stats from ${path.basename(object)}:\n${running.text()}`);
  return { label, workload, nsPerRun: ns / runs, runsPerCall: runs / (RUNS * N) };
}

// ---- statistics ----
const median = (v: number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const quantile = (v: number[], q: number): number => {
  const s = [...v].sort((a, b) => a - b);
  const i = (s.length - 1) * q;
  return s[Math.floor(i)]! + (s[Math.ceil(i)]! - s[Math.floor(i)]!) * (i - Math.floor(i));
};

/** 90 % bootstrap interval (rounds resampled, fixed seed) of median(a) / median(b). */
function ratioInterval(a: number[], b: number[]): [number, number] {
  let seed = 12345;
  const rand = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const pick = (v: number[]): number[] => v.map(() => v[Math.floor(rand() * v.length)]!);
  const ratios: number[] = [];
  for (let i = 0; i < 4000; i++) ratios.push(median(pick(a)) / median(pick(b)));
  return [quantile(ratios, 0.05), quantile(ratios, 0.95)];
}

const loads: number[] = [];
const disturbedKept: string[] = [];

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root: it loads BPF programs');
  for (const need of ['dist/cli.js', 'bpf/build/syscalls.bpf.o', 'native/build/Release/ebpf_addon.node']) {
    if (!existsSync(path.join(root, need))) throw new Error(`${need} is missing: build the checkout first`);
  }
  for (const tool of ['hyperfine', 'bpftrace', 'bpftool', 'gcc', 'clang']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      throw new Error(`${tool} is missing${tool === 'hyperfine' ? ': apt-get install -y hyperfine' : ''}`);
    }
  }
  execFileSync('make', ['-s', '-C', here], { stdio: 'inherit' });

  // Each condition block sits between two baseline blocks: B C1 B C2 B ... B. Its added cost in that round is its
  // value minus the mean of the two baselines around it, which cancels the slow drift of this machine's speed.
  // runs[condition][workload][measure]: per round, the block's runs; added[...]: per round, the added cost.
  const empty = (): Record<Workload, Record<Measure, number[][]>> => ({
    read: { steady: [], wall: [] },
    getppid: { steady: [], wall: [] },
    mixed: { steady: [], wall: [] },
  });
  const runs = new Map(conditions.map((c) => [c.key, empty()]));
  const added = new Map(conditions.filter((c) => c.key !== 'baseline').map((c) => [c.key, empty()]));
  const others = conditions.filter((c) => c.key !== 'baseline');
  let retried = 0;
  const started = Date.now();
  const record = (key: string, b: Block): void => {
    for (const w of WORKLOADS) for (const m of MEASURES) runs.get(key)![w][m].push(b[w][m]);
  };
  const line = (tag: string, b: Block): void => {
    const cells = WORKLOADS.map((w) => `${w} ${median(b[w].steady).toFixed(1)}/${median(b[w].wall).toFixed(1)}`);
    process.stderr.write(
      `${tag.padEnd(20)} ${cells.join('  ')} ns/call steady/wall (load ${loads.at(-1)!.toFixed(2)})\n`,
    );
  };

  for (let round = 0; round < ROUNDS; round++) {
    const order = others.map((_, i) => others[(i + round) % others.length]!);
    let before = await block(undefined, `round ${round + 1} baseline`);
    retried += before.retried;
    record('baseline', before.block);
    line(`round ${round + 1} baseline`, before.block);
    for (const c of order) {
      const measured = await block(c, `round ${round + 1} ${c.key}`);
      line(`round ${round + 1} ${c.key}`, measured.block);
      const after = await block(undefined, `round ${round + 1} baseline`);
      line(`round ${round + 1} baseline`, after.block);
      retried += measured.retried + after.retried;
      record(c.key, measured.block);
      record('baseline', after.block);
      for (const w of WORKLOADS) {
        for (const m of MEASURES) {
          const base = (median(before.block[w][m]) + median(after.block[w][m])) / 2;
          added.get(c.key)![w][m].push([median(measured.block[w][m]) - base]);
        }
      }
      before = after;
    }
  }

  const syscallsObject = path.join(root, 'bpf', 'build', 'syscalls.bpf.o');
  const times = [
    await programTime('empty program', path.join(build, 'empty.bpf.o'), ['bench_empty'], 'read'),
    await programTime("the agent's read program (eoa_sys_read)", syscallsObject, AGENT_PROGRAMS, 'read'),
    await programTime('raw tracepoint program', path.join(build, 'rawtp.bpf.o'), ['bench_raw_sys_enter'], 'read'),
    await programTime('raw tracepoint program', path.join(build, 'rawtp.bpf.o'), ['bench_raw_sys_enter'], 'getppid'),
  ];

  const ns = (key: string, w: Workload, m: Measure): number => median(runs.get(key)![w][m].flat());
  const add = (key: string, w: Workload, m: Measure): number[] => added.get(key)![w][m].flat();
  const f1 = (x: number): string => x.toFixed(1).replace('-', '−');
  const sign = (x: number): string => (x >= 0 ? '+' : '−') + Math.abs(x).toFixed(1);
  const addedCell = (v: number[]): string =>
    `${sign(median(v))} (${f1(quantile(v, 0.25))} to ${f1(quantile(v, 0.75))})`;

  const cpuModel = os.cpus()[0]?.model.trim() ?? '?';
  console.log(
    `${N.toLocaleString('en-US')} raw syscalls per run (mixed: ${(N / 4).toLocaleString('en-US')} × [1 read + 3 ` +
      `getppid]); hyperfine, ${RUNS} runs per workload per block${WARMUP ? ` after ${WARMUP} warm-up` : ''}; ${ROUNDS} rounds, each ` +
      `B C1 B C2 … B (B = baseline block, condition order rotated each round); ${os.cpus().length} CPUs ` +
      `(${cpuModel}), kernel ${os.release()}, ${new Date(started).toISOString().slice(0, 10)}, ` +
      `${((Date.now() - started) / 60000).toFixed(1)} min.`,
  );
  console.log(
    `1-min load average at the blocks: min ${Math.min(...loads).toFixed(2)}, median ${median(loads).toFixed(2)}, ` +
      `max ${Math.max(...loads).toFixed(2)}. Loop CPU time / wall time, median ${median(cpuShare).toFixed(3)}. ` +
      `Blocks measured again because another job had tracing programs loaded or BPF stats on: ${retried}; kept ` +
      `while disturbed: ${disturbedKept.length ? disturbedKept.join('; ') : 'none'}.\n`,
  );

  for (const [m, title] of [
    ['steady', 'Steady ns per call (10th-percentile chunk of 50 per run)'],
    ['wall', 'Wall time per call (hyperfine: wall time / N)'],
  ] as const) {
    console.log(
      `${title}: ns/call = median of every run; added = median over rounds of (condition − mean of the baselines ` +
        `around it), interquartile range in brackets\n`,
    );
    console.log(
      '| condition | read | added | getppid (untraced) | added | mixed 1 read + 3 getppid | added | read: added ÷ empty added | read: added ÷ bpftrace added |',
    );
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    const emptyAdded = median(add('empty', 'read', m));
    const btAdded = median(add('bpftrace', 'read', m));
    for (const c of conditions) {
      const cells = [c.label];
      for (const w of WORKLOADS) {
        cells.push(f1(ns(c.key, w, m)));
        cells.push(c.key === 'baseline' ? '—' : addedCell(add(c.key, w, m)));
      }
      if (c.key === 'baseline') cells.push('—', '—');
      else {
        const a = median(add(c.key, 'read', m));
        cells.push(`${(a / emptyAdded).toFixed(2)}×`, `${(a / btAdded).toFixed(2)}×`);
      }
      console.log(`| ${cells.join(' | ')} |`);
    }
    console.log('');
  }

  console.log(
    `Program time per run from the kernel's BPF stats (run_time_ns / run_cnt; a separate pass after the rounds, ` +
      `${RUNS} runs of the workload, stats on only then)\n`,
  );
  console.log('| program | workload | program time per run (ns) | program runs per loop call |');
  console.log('|---|---|---:|---:|');
  for (const t of times) {
    console.log(`| ${t.label} | ${t.workload} | ${f1(t.nsPerRun)} | ${t.runsPerCall.toFixed(3)} |`);
  }
  console.log('');
  const bodyDelta = times[1]!.nsPerRun - times[0]!.nsPerRun;

  // goals of the benchmark issue, and the raw-tracepoint decision, on both measures
  for (const m of MEASURES) {
    const agent = add('agent', 'read', m);
    const verdict = (name: string, other: number[], goal: number): string => {
      const value = median(agent) / median(other);
      const [lo, hi] = ratioInterval(agent, other);
      const allowed = goal * median(other);
      const state =
        value <= goal
          ? `met, ${(goal - value).toFixed(2)}× to spare`
          : `missed by ${(value - goal).toFixed(2)}× (${f1(median(agent) - allowed)} ns per call over the ` +
            `${f1(allowed)} ns allowed)`;
      const sure = lo > goal || hi <= goal ? '' : `; the interval straddles ${goal}×: not decided at this noise`;
      return `≤ ${goal}× ${name} (${f1(median(other))} ns): ${value.toFixed(2)}× (90 % interval ${lo.toFixed(2)}–${hi.toFixed(2)}), ${state}${sure}`;
    };
    const emptyAdded = median(add('empty', 'read', m));
    console.log(
      `Goals (${m}): the agent adds ${f1(median(agent))} ns per traced read. ` +
        `${verdict("the empty program's", add('empty', 'read', m), 1.15)}. ` +
        `${verdict("bpftrace's", add('bpftrace', 'read', m), 0.5)}. ` +
        `BPF stats: the agent's read program runs ${f1(bodyDelta)} ns longer than the empty one; on the same ` +
        `tracepoint path that predicts (${f1(emptyAdded)} + ${f1(bodyDelta)}) ÷ ${f1(emptyAdded)} = ` +
        `${((emptyAdded + bodyDelta) / emptyAdded).toFixed(2)}× the floor.`,
    );
    for (const tp of ['agent', 'programs']) {
      const [tT, tU, tM] = WORKLOADS.map((w) => median(add(tp, w, m)));
      const [rT, rU, rM] = WORKLOADS.map((w) => median(add('raw', w, m)));
      // traced fraction f where both cost the same: f·rT + (1−f)·rU = f·tT + (1−f)·tU
      const breakEven =
        rT! >= tT! && rU! >= tU!
          ? 'never'
          : rT! <= tT! && rU! <= tU!
            ? 'always'
            : `only when more than ${((100 * (rU! - tU!)) / (rU! - tU! + (tT! - rT!))).toFixed(0)} % of all ` +
              'syscalls are counted ones';
      console.log(
        `Raw tracepoint vs ${tp === 'agent' ? 'the agent' : "the agent's programs alone"} (${m}), added ns per ` +
          `call: read ${f1(rT!)} vs ${f1(tT!)}, getppid ${f1(rU!)} vs ${f1(tU!)}, mixed ${f1(rM!)} vs ` +
          `${f1(tM!)} (raw = ${(rM! / tM!).toFixed(2)}× on the mix); the raw tracepoint is cheaper ${breakEven}.`,
      );
    }
  }
}

try {
  await main();
} finally {
  await stopAll();
}

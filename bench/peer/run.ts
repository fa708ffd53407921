// Side by side with a real peer on one workload (issue #8): cloudflare/ebpf_exporter against the agent's syscalls
// program. The peer is ebpf_exporter v1.2.5, built from the Go module proxy by scripts/install-ebpf-exporter.sh (the
// proxy reachable here serves none of the libbpf-based v2 releases; v1 compiles its programs with BCC at start-up),
// running syscalls.yaml: a hash map of counts per syscall id on raw_syscalls:sys_enter, as in its examples/syscalls.
// Ours: `dist/cli.js --programs syscalls` (per process and syscall, on 4 syscall tracepoints).
// 1. Kernel cost: bench/syscall-cost's loop.c makes N read(/dev/zero, 1) calls, and separately N getppid calls
//    (which only the peer's program sees), with nothing, the agent or the peer attached: ROUNDS rounds in rotating
//    order, RUNS runs of each workload per round; a run's figure is the loop's steady ns per call (its 10th-percentile
//    chunk), a round's the fastest of its runs, the added cost the median over rounds of the difference to nothing.
// 2. Scrapes and memory: each in turn runs while the read loop runs back to back for about 12 s; SCRAPES /metrics
//    scrapes 50 ms apart, RSS sampled every 100 ms, the process's CPU time over the phase, and the BPF program's own
//    time per run from the kernel's run-time stats (turned on for this phase only).
// Before measuring, it waits up to BENCH_QUIET_WAIT s for other processes' syscall tracepoints to go (other jobs on
// this machine attach the same tracepoints); a loop run disturbed by a new one is run again.
// Run as root from a built checkout: npm run bench:peer
// Environment: BENCH_N (calls per loop run, 3000000), BENCH_ROUNDS (7), BENCH_RUNS (3), BENCH_SCRAPES (200),
// BENCH_QUIET_WAIT (120), BENCH_NO_WRITE=1 (print only).
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { cpuSeconds, median, percentile, rssMiB, table, writeSection } from '../lib/report.ts';
import { children, stop, stopAll, track } from '../lib/children.ts';

const here = import.meta.dirname;
const root = path.resolve(here, '..', '..');
const build = path.join(here, 'build');
const loop = path.join(build, 'loop');
const exporterBin = path.join(root, '.tools', 'bin', 'ebpf_exporter');
const EXPORTER_VERSION = 'v1.2.5';
const N = Number(process.env.BENCH_N ?? 3_000_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SCRAPES = Number(process.env.BENCH_SCRAPES ?? 200);
const QUIET_WAIT = Number(process.env.BENCH_QUIET_WAIT ?? 120);
const SCRAPE_GAP_MS = 50;
const MIN_PHASE_MS = 12_000; // more than two of the agent's 5 s polls, so a finished loop run is published
const WORKLOADS = ['read', 'getppid'] as const;
type Workload = (typeof WORKLOADS)[number];
const CONDITIONS = ['none', 'agent', 'exporter'] as const;
type Condition = (typeof CONDITIONS)[number];
type Peer = Exclude<Condition, 'none'>;
/** Syscall numbers, the peer's label values. */
const SYSCALL_IDS: Record<string, Record<Workload, number>> = {
  x64: { read: 0, getppid: 110 },
  arm64: { read: 63, getppid: 173 },
};

// ---- child processes: every one is tracked and stopped on failure and on SIGINT/SIGTERM ----

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

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(
  child: ChildProcess,
  text: () => string,
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what}: it exited:\n${text()}`);
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s:\n${text()}`);
    await sleep(100);
  }
}

async function get(url: string): Promise<string> {
  try {
    const res = await fetch(url);
    return res.ok ? await res.text() : '';
  } catch {
    return '';
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

// ---- the two peers: started, checked to be attached, stopped, checked to be detached ----
interface Running {
  peer: Peer;
  child: ChildProcess;
  url: string;
  text: () => string;
  /** BPF programs whose fds the process holds once attached. */
  programs: Set<number>;
  startSeconds: number;
}

function programIds(pid: number): Set<number> {
  const ids = new Set<number>();
  for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
    try {
      const m = /^prog_id:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
      if (m) ids.add(Number(m[1]));
    } catch {
      // closed meanwhile
    }
  }
  return ids;
}

function loadedPrograms(): Set<number> {
  const progs = JSON.parse(execFileSync('bpftool', ['prog', 'show', '-j'], { encoding: 'utf8' })) as { id: number }[];
  return new Set(progs.map((p) => p.id));
}

async function startPeer(peer: Peer): Promise<Running> {
  const started = performance.now();
  let child: ChildProcess;
  let url: string;
  let text: () => string;
  if (peer === 'agent') {
    const args = [path.join(root, 'dist', 'cli.js'), '--programs', 'syscalls', '--host', '127.0.0.1', '--port', '0'];
    child = track(spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] }));
    text = output(child);
    await until(child, text, 'the agent to listen', () => /listen=[^ ]*:\d+/.test(text()));
    const base = `http://127.0.0.1:${/listen=[^ ]*:(\d+)/.exec(text())![1]}`;
    url = `${base}/metrics`;
    await until(child, text, 'the agent to be ready', async () =>
      /^ebpf_agent_program_attached\{program="syscalls"\} 1$/m.test(await get(url)),
    );
  } else {
    const port = await freePort();
    const args = ['--config.file', path.join(here, 'syscalls.yaml'), '--web.listen-address', `127.0.0.1:${port}`];
    child = track(spawn(exporterBin, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    text = output(child);
    url = `http://127.0.0.1:${port}/metrics`;
    await until(child, text, 'ebpf_exporter to compile and attach its program', async () =>
      /^ebpf_exporter_enabled_programs\{name="syscalls"\} 1$/m.test(await get(url)),
    );
  }
  const startSeconds = (performance.now() - started) / 1000;
  const programs = programIds(child.pid!);
  if (programs.size === 0) throw new Error(`${peer} reports itself attached but holds no BPF program:\n${text()}`);
  return { peer, child, url, text, programs, startSeconds };
}

async function stopPeer(running: Running): Promise<void> {
  await stop(running.child);
  // Programs are freed once the last reference goes (after an RCU grace period): allow a few seconds.
  const deadline = Date.now() + 10_000;
  for (;;) {
    const loaded = loadedPrograms();
    const left = [...running.programs].filter((id) => loaded.has(id));
    if (left.length === 0) return;
    if (Date.now() > deadline)
      throw new Error(`${running.peer} exited but its BPF programs ${left.join(', ')} are still loaded`);
    await sleep(200);
  }
}

// ---- a quiet kernel: other jobs here run the agent and its tests, which attach the same tracepoints ----
/** Other processes holding syscall tracepoint attachments, and whether BPF run-time stats are on. */
function disturbances(): Map<string, string> {
  const found = new Map<string, string>();
  const ours = new Set([...children].map((c) => c.pid));
  try {
    const attached = JSON.parse(execFileSync('bpftool', ['perf', 'show', '-j'], { encoding: 'utf8' })) as {
      pid: number;
      tracepoint?: string;
    }[];
    for (const a of attached) {
      if (ours.has(a.pid) || !/^sys_(enter|exit)/.test(a.tracepoint ?? '')) continue;
      let comm = '?';
      try {
        comm = readFileSync(`/proc/${a.pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim().slice(0, 80);
      } catch {
        // gone meanwhile
      }
      found.set(`pid ${a.pid}`, `pid ${a.pid} (${comm})`);
    }
  } catch {
    // bpftool raced with an exiting process: look again next time
  }
  if (readFileSync('/proc/sys/kernel/bpf_stats_enabled', 'utf8').trim() !== '0') found.set('stats', 'BPF stats on');
  return found;
}

/** Disturbances present at the start that did not go within QUIET_WAIT: measured with them, and said so. */
const standing = new Map<string, string>();
/** Loop runs that a new disturbance overlapped: run again (after waiting for quiet), or kept after 3 tries. */
const tally = { redone: 0, kept: 0, seen: new Set<string>() };

function newDisturbance(): string | undefined {
  const now = disturbances();
  const fresh = [...now.keys()].filter((k) => !standing.has(k)).map((k) => now.get(k)!);
  for (const d of fresh) tally.seen.add(d);
  return fresh.length ? fresh.join(', ') : undefined;
}

/** Waits up to QUIET_WAIT s until nothing but the standing disturbances is there; returns what is left. */
async function quiet(): Promise<string | undefined> {
  const deadline = Date.now() + QUIET_WAIT * 1000;
  let now = newDisturbance();
  while (now !== undefined && Date.now() < deadline) {
    await sleep(1000);
    now = newDisturbance();
  }
  return now;
}

async function waitQuiet(): Promise<void> {
  const now = newDisturbance();
  if (now === undefined) return;
  console.error(`waiting up to ${QUIET_WAIT} s for: ${now}`);
  if ((await quiet()) === undefined) return;
  for (const [k, v] of disturbances()) standing.set(k, v);
  console.error(`measuring anyway, with: ${[...standing.values()].join(', ')}`);
}

// ---- 1. kernel cost per call ----
async function loopRun(workload: Workload): Promise<number> {
  const report = path.join(build, `report-${process.pid}.txt`);
  for (let attempt = 1; ; attempt++) {
    if (attempt > 1) await quiet();
    rmSync(report, { force: true });
    let disturbed = newDisturbance();
    const monitor = setInterval(() => (disturbed ??= newDisturbance()), 1000);
    try {
      const child = track(spawn(loop, [workload, String(N), report], { stdio: 'ignore' }));
      const code = await new Promise<number | null>((r) => child.once('exit', r));
      if (code !== 0) throw new Error(`${loop} ${workload} ${N} exited with ${code}`);
    } finally {
      clearInterval(monitor);
    }
    disturbed ??= newDisturbance();
    const steady = Number(readFileSync(report, 'utf8').trim().split(' ')[2]);
    rmSync(report);
    if (disturbed === undefined) return steady;
    if (attempt === 3) {
      tally.kept++;
      return steady;
    }
    tally.redone++;
  }
}

function peerCounts(body: string): Record<Workload, number> {
  const ids = SYSCALL_IDS[process.arch] ?? SYSCALL_IDS.x64!;
  const count = (id: number): number =>
    Number(new RegExp(`^ebpf_exporter_syscalls_total\\{syscall="${id}"\\} (\\S+)$`, 'm').exec(body)?.[1] ?? 0);
  return { read: count(ids.read), getppid: count(ids.getppid) };
}

/** Per condition and workload: each round's median ns per call. */
const cost = Object.fromEntries(
  CONDITIONS.map((c) => [c, Object.fromEntries(WORKLOADS.map((w) => [w, [] as number[]]))]),
) as Record<Condition, Record<Workload, number[]>>;
const startTimes: Record<Peer, number[]> = { agent: [], exporter: [] };

async function costRound(round: number): Promise<void> {
  for (let i = 0; i < CONDITIONS.length; i++) {
    const condition = CONDITIONS[(i + round) % CONDITIONS.length]!;
    const running = condition === 'none' ? undefined : await startPeer(condition);
    try {
      if (running) startTimes[running.peer].push(running.startSeconds);
      const before = running?.peer === 'exporter' ? peerCounts(await get(running.url)) : undefined;
      for (const w of WORKLOADS) {
        const runs: number[] = [];
        for (let r = 0; r < RUNS; r++) runs.push(await loopRun(w));
        cost[condition][w].push(Math.min(...runs)); // interference only ever adds time
      }
      if (running && before) {
        // the peer must have counted every call of every run (and anything else that made these calls meanwhile)
        const after = peerCounts(await get(running.url));
        for (const w of WORKLOADS)
          if (after[w] - before[w] < RUNS * N)
            throw new Error(
              `ebpf_exporter counted ${after[w] - before[w]} ${w} calls, fewer than the ${RUNS * N} made`,
            );
      }
    } finally {
      if (running) await stopPeer(running);
    }
    console.error(
      `round ${round + 1}/${ROUNDS} ${condition}: ${WORKLOADS.map((w) => cost[condition][w].at(-1)!.toFixed(1)).join(' / ')} ns`,
    );
  }
}

// ---- 2. scrapes, memory and CPU under the read loop ----
/** bpf(2) numbers, for the BPF_ENABLE_STATS holder. */
const BPF_SYSCALL: Record<string, number> = { x64: 321, arm64: 280 };

/** Turns on the kernel's BPF run-time stats for as long as a child holds the fd BPF_ENABLE_STATS returns (so they go
 * off even if this script is killed): python3 with ctypes, as Node has no bpf(2). Only during the scrape phases. */
async function statsOn(): Promise<ChildProcess> {
  const script = [
    'import ctypes, signal, sys',
    'libc = ctypes.CDLL(None, use_errno=True)',
    'attr = ctypes.create_string_buffer(16)  # enable_stats.type = BPF_STATS_RUN_TIME (0)',
    `fd = libc.syscall(${BPF_SYSCALL[process.arch] ?? 321}, 32, attr, 16)  # BPF_ENABLE_STATS`,
    'if fd < 0: sys.exit("BPF_ENABLE_STATS failed: errno %d" % ctypes.get_errno())',
    'print("on", flush=True)',
    'signal.pause()',
  ].join('\n');
  const child = track(spawn('python3', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'] }));
  const text = output(child);
  await until(child, text, 'BPF run-time stats to be on', () => /^on$/m.test(text()), 10_000);
  return child;
}

/** Run time and runs of one program, from the kernel. */
function programStats(id: number): { ns: number; runs: number } {
  const prog = JSON.parse(execFileSync('bpftool', ['prog', 'show', 'id', String(id), '-j'], { encoding: 'utf8' })) as {
    run_time_ns?: number;
    run_cnt?: number;
  };
  return { ns: prog.run_time_ns ?? 0, runs: prog.run_cnt ?? 0 };
}

/** The program the read loop runs: the agent's raw tracepoint on sys_enter, the peer's only one. */
function readProgram(running: Running): number {
  const progs = JSON.parse(execFileSync('bpftool', ['prog', 'show', '-j'], { encoding: 'utf8' })) as {
    id: number;
    name?: string;
  }[];
  const held = progs.filter((p) => running.programs.has(p.id));
  const pick = running.peer === 'agent' ? held.filter((p) => p.name === 'eoa_sys_enter') : held;
  if (pick.length !== 1)
    throw new Error(`${running.peer}: expected one program for read, found ${held.map((p) => p.name).join(', ')}`);
  return pick[0]!.id;
}

interface Served {
  p50: number;
  p99: number;
  series: number;
  bytes: number;
  rssIdle: number;
  rssLoad: number;
  cpuPercent: number;
  /** Mean run time of the program the read loop runs, from the kernel's BPF stats. */
  programNs: number;
  pollMs?: number;
}

async function scrapePhase(peer: Peer): Promise<Served> {
  const running = await startPeer(peer);
  try {
    const pid = running.child.pid!;
    await sleep(6000); // the agent's first poll; the peer settled
    const rssIdle = rssMiB(pid);
    const program = readProgram(running);
    const stats = await statsOn();
    const stats0 = programStats(program);
    let working = true;
    let completed = 0;
    const workload = (async () => {
      while (working) {
        const child = track(spawn(loop, ['read', String(N)], { stdio: 'ignore' }));
        const code = await new Promise<number | null>((r) => child.once('exit', r));
        if (code !== 0) throw new Error(`${loop} read ${N} exited with ${code}`);
        completed++;
      }
    })();
    workload.catch(() => {}); // awaited below; this only keeps a failure from being unhandled meanwhile
    let rssLoad = 0;
    const sampler = setInterval(() => (rssLoad = Math.max(rssLoad, rssMiB(pid))), 100);
    const cpuStart = cpuSeconds(pid);
    const phaseStart = performance.now();
    const times: number[] = [];
    let body = '';
    let sawLoop = false;
    const before = peer === 'exporter' ? peerCounts(await get(running.url)) : undefined;
    try {
      for (let i = 0; i < SCRAPES || performance.now() - phaseStart < MIN_PHASE_MS; i++) {
        const t0 = performance.now();
        const res = await fetch(running.url);
        const text = await res.text();
        if (i < SCRAPES) times.push(performance.now() - t0);
        if (!res.ok) throw new Error(`${peer} /metrics answered ${res.status}`);
        body = text;
        // a finished loop run, published by the agent: its process's read count is at least N
        for (const m of text.matchAll(/^ebpf_process_syscalls_total\{([^}]*)\} (\S+)$/gm))
          if (m[1]!.includes('process_executable_name="loop"') && m[1]!.includes('syscall="read"') && Number(m[2]) >= N)
            sawLoop = true;
        await sleep(SCRAPE_GAP_MS);
      }
    } finally {
      working = false;
      clearInterval(sampler);
    }
    await workload;
    const stats1 = programStats(program);
    await stop(stats);
    const cpuPercent = ((cpuSeconds(pid) - cpuStart) / ((performance.now() - phaseStart) / 1000)) * 100;
    if (peer === 'agent' && !sawLoop)
      throw new Error(`no scrape showed a finished loop run (${completed} runs) counted by the agent`);
    if (peer === 'exporter') {
      const counted = peerCounts(await get(running.url)).read - before!.read;
      // Not an error of this benchmark: the peer's own accuracy, reported with its figures.
      if (counted < completed * N)
        peerShortfall = `ebpf_exporter counted ${counted.toLocaleString('en')} of the ${(completed * N).toLocaleString('en')} reads of the scrape phase's ${completed} loop runs (${(completed * N - counted).toLocaleString('en')} missing); the agent's counts are exact (integration tests)`;
    }
    const polls = /^ebpf_agent_poll_duration_seconds_sum (\S+)\nebpf_agent_poll_duration_seconds_count (\S+)$/m.exec(
      body,
    );
    const metric = peer === 'agent' ? 'ebpf_process_syscalls_total{' : 'ebpf_exporter_syscalls_total{';
    return {
      p50: percentile(times, 50),
      p99: percentile(times, 99),
      series: body.split('\n').filter((l) => l.startsWith(metric)).length,
      bytes: Buffer.byteLength(body),
      rssIdle,
      rssLoad,
      cpuPercent,
      programNs: (stats1.ns - stats0.ns) / Math.max(1, stats1.runs - stats0.runs),
      pollMs: polls ? (Number(polls[1]) / Number(polls[2])) * 1000 : undefined,
    };
  } finally {
    await stopPeer(running);
  }
}

// ---- the report ----
const f1 = (x: number): string => x.toFixed(1);
const added = (c: Peer, w: Workload): number => median(cost[c][w].map((v, i) => v - cost.none[w][i]!));
const signed = (x: number): string => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(1)}`;

let peerShortfall: string | undefined;

function results(served: Record<Peer, Served>): string {
  const base = (w: Workload): string => f1(median(cost.none[w]));
  const rows: string[][] = [
    [
      `ns added per read(2) (nothing attached: ${base('read')} ns)`,
      signed(added('agent', 'read')),
      signed(added('exporter', 'read')),
      'yes: one program run per call in both',
    ],
    [
      `ns added per getppid(2) (nothing attached: ${base('getppid')} ns)`,
      signed(added('agent', 'getppid')),
      signed(added('exporter', 'getppid')),
      'yes: both run a program on every syscall (a raw tracepoint on sys_enter), and both filter or key by syscall id',
    ],
    [
      `/metrics p50 / p99 (ms, ${SCRAPES} scrapes ${SCRAPE_GAP_MS} ms apart, read loop running)`,
      `${served.agent.p50.toFixed(2)} / ${served.agent.p99.toFixed(2)}`,
      `${served.exporter.p50.toFixed(2)} / ${served.exporter.p99.toFixed(2)}`,
      'partly: different series; the peer reads its map in the scrape, the agent at each poll',
    ],
    [
      'syscall series / body bytes',
      `${served.agent.series} / ${served.agent.bytes}`,
      `${served.exporter.series} / ${served.exporter.bytes}`,
      'no: per process × 4 syscalls vs per syscall id',
    ],
    [
      'RSS idle / under the read loop, max (MiB)',
      `${f1(served.agent.rssIdle)} / ${f1(served.agent.rssLoad)}`,
      `${f1(served.exporter.rssIdle)} / ${f1(served.exporter.rssLoad)}`,
      'yes, whole process (Node 24 + OpenTelemetry vs Go + BCC with LLVM)',
    ],
    [
      "the BPF program's own time per run, kernel stats (ns)",
      f1(served.agent.programNs),
      f1(served.exporter.programNs),
      'yes: the program read(2) runs, tracepoint dispatch left out',
    ],
    ['CPU during the scrape phase (% of one core)', f1(served.agent.cpuPercent), f1(served.exporter.cpuPercent), 'yes'],
    [
      'start to attached, median (s)',
      median(startTimes.agent).toFixed(2),
      median(startTimes.exporter).toFixed(2),
      'yes; the peer compiles its program with clang at start',
    ],
  ];
  const poll =
    served.agent.pollMs === undefined
      ? ''
      : ` The agent's mean poll (map read and body build) took ${served.agent.pollMs.toFixed(2)} ms.`;
  const notes: string[] = [];
  if (standing.size)
    notes.push(`present throughout (did not go within ${QUIET_WAIT} s): ${[...standing.values()].join(', ')}`);
  if (tally.redone + tally.kept)
    notes.push(
      `${tally.redone + tally.kept} loop runs overlapped other jobs' syscall tracepoints: ${tally.redone} were run again once it was quiet, ${tally.kept} kept after 3 tries (${[...tally.seen].slice(0, 3).join('; ')})`,
    );
  return [
    `ebpf_exporter ${EXPORTER_VERSION} (BCC; built by \`scripts/install-ebpf-exporter.sh\` from the Go module proxy, which serves none of the libbpf-based v2 releases here) counting syscalls per syscall id on \`raw_syscalls:sys_enter\` (\`bench/peer/syscalls.yaml\`, its examples/syscalls program) against the agent's \`--programs syscalls\`, per (process, syscall) from one raw tracepoint on \`sys_enter\` filtered to openat, read, write and connect. ${os.cpus().length} CPUs, kernel ${os.release()}.`,
    '',
    table(['measure', 'ebpf-otel-agent', `ebpf_exporter ${EXPORTER_VERSION}`, 'comparable?'], rows, [
      'l',
      'r',
      'r',
      'l',
    ]),
    '',
    `Kernel cost: bench/syscall-cost's loop makes ${N.toLocaleString('en-US')} calls per run with nothing, the agent, or ebpf_exporter attached, ${ROUNDS} rounds in rotating order and ${RUNS} runs per round; a run's figure is its steady time per call (10th-percentile chunk), a round's the fastest of its runs, and the added cost is the median over rounds of each round's difference to nothing attached. Scrapes, RSS, CPU and the programs' own time (the kernel's BPF run-time stats, on only during this phase) come from one phase per agent in which the read loop runs back to back for at least ${MIN_PHASE_MS / 1000} s; every run checks that the agent or ebpf_exporter counted the loop's calls, and that no program of theirs stays loaded after they exit.${poll}` +
      (notes.length ? `\n\nDisturbances: ${notes.join('. ')}.` : ''),
    peerShortfall ? `\n\nAccuracy: ${peerShortfall}.` : '',
  ].join('\n');
}

function failure(step: string, error: unknown): string {
  const message = (error instanceof Error ? error.message : String(error)).trim().split('\n').slice(-20).join('\n');
  return [`**Not measured.** The peer comparison failed at step \`${step}\`:`, '', '```', message, '```'].join('\n');
}

// ---- main ----
let step = 'build the loop';
try {
  mkdirSync(build, { recursive: true });
  execFileSync('gcc', ['-O2', '-o', loop, path.join(root, 'bench', 'syscall-cost', 'loop.c')]);
  if (!existsSync(path.join(root, 'dist', 'cli.js'))) throw new Error('dist/cli.js is missing: run npm run build');

  step = 'scripts/install-ebpf-exporter.sh';
  const install = spawnSync(path.join(root, 'scripts', 'install-ebpf-exporter.sh'), {
    stdio: ['ignore', 'inherit', 'pipe'],
    encoding: 'utf8',
  });
  process.stderr.write(install.stderr ?? '');
  if (install.status !== 0)
    throw new Error(install.stderr?.trim().split('\n').at(-1) ?? `exited with ${install.status ?? install.signal}`);

  step = 'mount tracefs';
  if (!existsSync('/sys/kernel/tracing/events'))
    execFileSync('mount', ['-t', 'tracefs', 'nodev', '/sys/kernel/tracing']);

  step = 'wait for a quiet kernel';
  await waitQuiet();
  for (let round = 0; round < ROUNDS; round++) {
    step = `kernel cost, round ${round + 1}`;
    await costRound(round);
  }
  step = 'scrapes and memory, agent';
  const agent = await scrapePhase('agent');
  step = 'scrapes and memory, ebpf_exporter';
  const exporter = await scrapePhase('exporter');
  await writeSection('peer', results({ agent, exporter }));
} catch (error) {
  await stopAll();
  console.error(`bench/peer: ${step} failed`);
  await writeSection('peer', failure(step, error));
  process.exitCode = 1;
}

// Kernel cost per TCP connect of the tcp program (issue 19): a connect loop (test/helpers/tcpconnect.c: connect,
// close, repeat; a server in the same namespace accepts and closes) timed with and without the agent running
// `--programs tcp`, in alternating blocks (off, on, off, on, …) so the machine's speed swings fall on both sides;
// then a separate pass with the kernel's BPF run-time statistics on (they cost time themselves) for run_time_ns
// and run_cnt of each of the agent's tcp programs (bpftool prog show), divided by the connects made.
// Both ends run in a network namespace the bench makes (loopback, tcp_tw_reuse on and a wide port range there, so
// TIME_WAIT sockets do not run the loop out of ports); every connect runs the client's and the server's state
// changes through the program (about ten inet_sock_set_state events per connect and close).
// Results go to the tcp-cost section of docs/benchmarks.md (BENCH_NO_WRITE=1 prints only).
// Run as root from a built checkout: node bench/tcp-cost.ts. Environment: BENCH_CONNECTS (per loop run, 20000),
// BENCH_ROUNDS (off/on pairs, 6).
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { median, table, writeSection } from './lib/report.ts';
import { stop, stopAll, track } from './lib/children.ts';
import { buildStaticC } from '../test/helpers/static-c.ts';

const root = path.resolve(import.meta.dirname, '..');
const CONNECTS = Number(process.env.BENCH_CONNECTS ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);
const NS = `eoa-bench-tcp-${process.pid}`;
const PORT = 8080;
const log = (line: string): void => void process.stderr.write(`${line}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    void stopAll().finally(() => {
      cleanup();
      process.exit(130);
    });
  });
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'eoa-bench-tcp-'));
const loop = path.join(dir, 'eoa-bench-tcpconnect');
function deleteNamespace(): void {
  try {
    execFileSync('ip', ['netns', 'del', NS], { stdio: 'ignore' });
  } catch {
    // not there
  }
}
function cleanup(): void {
  deleteNamespace();
  rmSync(dir, { recursive: true, force: true });
}

function inNs(args: string[]): string {
  return execFileSync('ip', ['netns', 'exec', NS, ...args], { encoding: 'utf8' });
}

/** User + system CPU of a process so far, ns (/proc/<pid>/stat; USER_HZ 100). */
function cpuNs(stat: string, fields: [number, number]): number {
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[fields[0]]) + Number(f[fields[1]])) * 1e7;
}

let serverPid = 0;

/**
 * One loop run: wall ns per connect (the whole run over its connects), and CPU ns per connect (the loop's own user
 * and system time, softirq work done in its context included, plus the server's over the run).
 */
function run(): { wall: number; cpu: number } {
  const serverBefore = cpuNs(readFileSync(`/proc/${serverPid}/stat`, 'utf8'), [11, 12]);
  const start = process.hrtime.bigint();
  // The shell waits for the loop, then reports its children's CPU time (cutime, cstime).
  const r = spawnSync(
    'ip',
    [
      'netns',
      'exec',
      NS,
      'sh',
      '-c',
      '"$0" "$@" >&2; cat /proc/$$/stat',
      loop,
      '127.0.0.1',
      String(PORT),
      String(CONNECTS),
    ],
    { encoding: 'utf8' },
  );
  const wall = Number(process.hrtime.bigint() - start);
  if (!r.stderr.includes(`ok=${CONNECTS} `)) throw new Error(`connect loop: ${r.stderr}`);
  const server = cpuNs(readFileSync(`/proc/${serverPid}/stat`, 'utf8'), [11, 12]) - serverBefore;
  return { wall: wall / CONNECTS, cpu: (cpuNs(r.stdout, [13, 14]) + server) / CONNECTS };
}

async function startAgent(extra: string[] = []): Promise<ChildProcess> {
  const child = track(
    spawn(
      process.execPath,
      [path.join(root, 'dist', 'cli.js'), '--programs', 'tcp', '--host', '127.0.0.1', '--port', '0', ...extra],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    ),
  );
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const deadline = Date.now() + 30_000;
  while (!/listen=/.test(err)) {
    if (child.exitCode !== null) throw new Error(`agent exited: ${err}`);
    if (Date.now() > deadline) throw new Error(`agent did not start: ${err}`);
    await sleep(50);
  }
  return child;
}

interface ProgStat {
  name: string;
  runTimeNs: number;
  runCnt: number;
}

/** Ids of the BPF programs a process holds (its fds: bpftool here lists no pids). */
function programsOf(pid: number): Set<number> {
  const ids = new Set<number>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (target !== 'anon_inode:bpf-prog' && target !== 'anon_inode:bpf_link') continue;
      const id = /^prog_id:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))?.[1];
      if (id !== undefined) ids.add(Number(id));
    } catch {
      // closed meanwhile
    }
  }
  return ids;
}

/** The tcp programs a process holds, with their run-time statistics. */
function progStats(pid: number): ProgStat[] {
  const held = programsOf(pid);
  const progs = JSON.parse(execFileSync('bpftool', ['prog', 'show', '-j'], { encoding: 'utf8' })) as {
    id: number;
    name?: string;
    run_time_ns?: number;
    run_cnt?: number;
  }[];
  return progs
    .filter((p) => p.name?.startsWith('eoa_tcp_') && held.has(p.id))
    .map((p) => ({ name: p.name!, runTimeNs: p.run_time_ns ?? 0, runCnt: p.run_cnt ?? 0 }));
}

async function main(): Promise<void> {
  buildStaticC('test/helpers/tcpconnect.c', loop);
  deleteNamespace();
  execFileSync('ip', ['netns', 'add', NS]);
  execFileSync('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
  inNs(['sysctl', '-qw', 'net.ipv4.tcp_tw_reuse=1', 'net.ipv4.ip_local_port_range=1024 65000']);
  const server = track(
    spawn('ip', ['netns', 'exec', NS, loop, '--listen', '127.0.0.1', String(PORT)], { stdio: 'ignore' }),
  );
  await sleep(300);
  serverPid = server.pid!;
  run(); // warm-up
  const off: { wall: number; cpu: number }[] = [];
  const on: { wall: number; cpu: number }[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    off.push(run());
    const agent = await startAgent();
    await sleep(500);
    on.push(run());
    await stop(agent);
    log(
      `round ${r + 1}/${ROUNDS}: off ${off.at(-1)!.wall.toFixed(0)} ns wall, ${off.at(-1)!.cpu.toFixed(0)} ns CPU per connect; ` +
        `on ${on.at(-1)!.wall.toFixed(0)} ns wall, ${on.at(-1)!.cpu.toFixed(0)} ns CPU`,
    );
  }
  off.push(run());

  // Run-time statistics: the agent turns them on (--bpf-stats) for as long as it runs.
  const agent = await startAgent(['--bpf-stats']);
  await sleep(500);
  const before = progStats(agent.pid!);
  run();
  const after = progStats(agent.pid!);
  await stop(agent);
  await stop(server);
  const rows = after.map((a) => {
    const b = before.find((x) => x.name === a.name) ?? { runTimeNs: 0, runCnt: 0 };
    const runs = a.runCnt - b.runCnt;
    const time = a.runTimeNs - b.runTimeNs;
    return { name: a.name, runs, time };
  });
  const runsPerConnect = rows.reduce((s, r) => s + r.runs, 0) / CONNECTS;
  const kernelPerConnect = rows.reduce((s, r) => s + r.time, 0) / CONNECTS;

  const added = (key: 'wall' | 'cpu'): number =>
    median(on.map((v, i) => v[key] - (off[i]![key] + off[i + 1]![key]) / 2));
  const body = [
    `Connect loop: ${CONNECTS} connects per run (connect, close; the server accepts and closes), both ends on a`,
    `namespace's loopback; ${ROUNDS} rounds of off/on. Per connect: wall time (the whole run over its connects) and`,
    "CPU time (the loop's user and system time, the softirq work done in its context included, plus the server's):",
    '',
    table(
      ['', 'wall ns per connect (median)', 'CPU ns per connect (median)', 'runs'],
      [
        [
          'without the tcp program',
          median(off.map((v) => v.wall)).toFixed(0),
          median(off.map((v) => v.cpu)).toFixed(0),
          off.length,
        ],
        [
          'agent with `--programs tcp`',
          median(on.map((v) => v.wall)).toFixed(0),
          median(on.map((v) => v.cpu)).toFixed(0),
          on.length,
        ],
        [
          'added (median over the on runs of on minus the mean of the off runs around it)',
          added('wall').toFixed(0),
          added('cpu').toFixed(0),
          on.length,
        ],
      ],
    ),
    '',
    `Kernel run time of the tcp programs (\`--bpf-stats\`, bpftool run_time_ns/run_cnt over one loop run):`,
    `${kernelPerConnect.toFixed(0)} ns and ${runsPerConnect.toFixed(1)} program runs per connect.`,
    '',
    table(
      ['program', 'runs per connect', 'ns per run', 'ns per connect'],
      rows
        .filter((r) => r.runs > 0)
        .map((r) => [
          `\`${r.name}\``,
          (r.runs / CONNECTS).toFixed(2),
          (r.time / Math.max(1, r.runs)).toFixed(0),
          (r.time / CONNECTS).toFixed(0),
        ]),
    ),
  ].join('\n');
  await writeSection('tcp-cost', body);
}

try {
  await main();
} finally {
  await stopAll();
  cleanup();
}

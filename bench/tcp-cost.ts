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
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { median, table, writeSection } from './lib/report.ts';
import { stop, stopAll, track } from './lib/children.ts';

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

/** One loop run: ns per connect (wall time of the whole run over its connects). */
function run(): number {
  const start = process.hrtime.bigint();
  const out = inNs([loop, '127.0.0.1', String(PORT), String(CONNECTS)]);
  const ns = Number(process.hrtime.bigint() - start);
  if (!out.includes(`ok=${CONNECTS} `)) throw new Error(`connect loop: ${out}`);
  return ns / CONNECTS;
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

/** The tcp programs a process holds, with their run-time statistics. */
function progStats(pid: number): ProgStat[] {
  const progs = JSON.parse(execFileSync('bpftool', ['prog', 'show', '-j'], { encoding: 'utf8' })) as {
    name?: string;
    run_time_ns?: number;
    run_cnt?: number;
    pids?: { pid: number }[];
  }[];
  return progs
    .filter((p) => p.name?.startsWith('eoa_tcp_') && p.pids?.some((x) => x.pid === pid))
    .map((p) => ({ name: p.name!, runTimeNs: p.run_time_ns ?? 0, runCnt: p.run_cnt ?? 0 }));
}

async function main(): Promise<void> {
  execFileSync('gcc', [
    '-O2',
    '-static',
    '-Wall',
    '-Werror',
    '-o',
    loop,
    path.join(root, 'test', 'helpers', 'tcpconnect.c'),
  ]);
  deleteNamespace();
  execFileSync('ip', ['netns', 'add', NS]);
  execFileSync('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
  inNs(['sysctl', '-qw', 'net.ipv4.tcp_tw_reuse=1', 'net.ipv4.ip_local_port_range=1024 65000']);
  const server = track(
    spawn('ip', ['netns', 'exec', NS, loop, '--listen', '127.0.0.1', String(PORT)], { stdio: 'ignore' }),
  );
  await sleep(300);
  run(); // warm-up
  const off: number[] = [];
  const on: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    off.push(run());
    const agent = await startAgent();
    await sleep(500);
    on.push(run());
    await stop(agent);
    log(`round ${r + 1}/${ROUNDS}: off ${off.at(-1)!.toFixed(0)} ns/connect, on ${on.at(-1)!.toFixed(0)} ns/connect`);
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

  const offM = median(off);
  const onM = median(on);
  const pairs = on.map((v, i) => v - (off[i]! + off[i + 1]!) / 2);
  const body = [
    `Connect loop: ${CONNECTS} connects per run (connect, close; the server accepts and closes), both ends on a`,
    `namespace's loopback; ${ROUNDS} rounds of off/on. Wall time per connect (the whole loop run over its connects):`,
    '',
    table(
      ['', 'ns per connect (median)', 'runs'],
      [
        ['without the tcp program', offM.toFixed(0), off.length],
        ['agent with `--programs tcp`', onM.toFixed(0), on.length],
        [
          'added (median of each on run minus the mean of the off runs around it)',
          median(pairs).toFixed(0),
          pairs.length,
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

// XDP cost: iperf3 TCP throughput over a veth pair (namespace → host, through the host end where the program
// sits) without the agent and with it in native and generic mode, alternating runs; and the kernel's own
// measure of the program's time per packet (--bpf-stats). Run as root: npm run bench:xdp
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { median, table, writeSection } from './lib/report.ts';

const root = path.resolve(import.meta.dirname, '..');
const NS = 'eoa-bench-xdp';
const HOST = 'eoabenchh';
const PEER = 'eoabenchn';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

function sh(args: string[]): string {
  return execFileSync(args[0]!, args.slice(1), { encoding: 'utf8' });
}

function cleanup(): void {
  for (const args of [
    ['ip', 'link', 'del', HOST],
    ['ip', 'netns', 'del', NS],
  ]) {
    try {
      execFileSync(args[0]!, args.slice(1), { stdio: 'ignore' });
    } catch {
      // not there
    }
  }
}

try {
  execFileSync('iperf3', ['--version'], { stdio: 'ignore' });
} catch {
  console.error('iperf3 is missing: apt-get install iperf3');
  process.exit(1);
}

cleanup();
sh(['ip', 'netns', 'add', NS]);
const server: ChildProcess[] = [];
try {
  sh(['ip', 'link', 'add', HOST, 'type', 'veth', 'peer', 'name', PEER, 'netns', NS]);
  sh(['ip', 'addr', 'add', '10.215.0.1/24', 'dev', HOST]);
  sh(['ip', 'link', 'set', HOST, 'up']);
  sh(['ip', '-n', NS, 'addr', 'add', '10.215.0.2/24', 'dev', PEER]);
  sh(['ip', '-n', NS, 'link', 'set', PEER, 'up']);
  sh(['ip', '-n', NS, 'link', 'set', 'lo', 'up']);
  server.push(spawn('iperf3', ['-s', '-B', '10.215.0.1'], { stdio: 'ignore' }));
  await new Promise((r) => setTimeout(r, 500));

  const iperf = (): number => {
    const out = execFileSync('ip', ['netns', 'exec', NS, 'iperf3', '-c', '10.215.0.1', '-t', String(SECONDS), '-J'], {
      encoding: 'utf8',
    });
    return (JSON.parse(out) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second;
  };

  async function withAgent<T>(mode: string, run: (metrics: () => Promise<string>) => Promise<T>): Promise<T> {
    const agent = spawn(
      process.execPath,
      [
        path.join(root, 'dist', 'cli.js'),
        '--programs',
        'xdp',
        '--xdp-interface',
        HOST,
        '--xdp-mode',
        mode,
        '--bpf-stats',
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--interval',
        '1s',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let log = '';
    agent.stderr!.on('data', (c: Buffer) => (log += c.toString()));
    try {
      while (!/listen=[^ ]*:(\d+)/.test(log)) {
        if (agent.exitCode !== null) throw new Error(log);
        await new Promise((r) => setTimeout(r, 50));
      }
      const url = `http://127.0.0.1:${/listen=[^ ]*:(\d+)/.exec(log)![1]}/metrics`;
      await new Promise((r) => setTimeout(r, 500));
      return await run(async () => (await fetch(url)).text());
    } finally {
      agent.kill('SIGTERM');
      await new Promise((r) => agent.once('exit', r));
    }
  }

  // veth runs native XDP in its NAPI path; with GRO on there, TCP keeps its large segments.
  if (process.env.BENCH_GRO === '1') sh(['ethtool', '-K', HOST, 'gro', 'on']);
  const results: Record<string, number[]> = { none: [], native: [], generic: [] };
  const nsPerPacket: Record<string, number> = {};
  for (let round = 0; round < ROUNDS; round++) {
    results.none!.push(iperf());
    for (const mode of ['native', 'generic']) {
      await withAgent(mode, async (metrics) => {
        results[mode]!.push(iperf());
        await new Promise((r) => setTimeout(r, 1500));
        const text = await metrics();
        const time = Number(
          /ebpf_agent_bpf_program_run_time_seconds_total\{program="xdp",bpf_program="eoa_xdp"\} (\S+)/.exec(text)?.[1],
        );
        const runs = Number(
          /ebpf_agent_bpf_program_runs_total\{program="xdp",bpf_program="eoa_xdp"\} (\S+)/.exec(text)?.[1],
        );
        if (runs > 0) nsPerPacket[mode] = (time * 1e9) / runs;
      });
    }
  }
  const base = median(results.none!);
  await writeSection(
    'xdp',
    [
      `XDP over a veth pair: iperf3 TCP, ${SECONDS} s runs, median of ${ROUNDS}, ${os.cpus().length} CPUs, kernel ${os.release()}.`,
      '',
      table(
        ['setup', 'throughput (Gbit/s)', 'ratio to no program', 'program time per packet (ns)'],
        [
          ['no program', (base / 1e9).toFixed(2), '1.000', '—'],
          ...['native', 'generic'].map((mode) => {
            const m = median(results[mode]!);
            return [
              `agent, ${mode} XDP`,
              (m / 1e9).toFixed(2),
              (m / base).toFixed(3),
              nsPerPacket[mode]?.toFixed(0) ?? '?',
            ];
          }),
        ],
      ),
    ].join('\n'),
  );
} finally {
  for (const s of server) s.kill('SIGKILL');
  cleanup();
}

// Network counting cost on a veth pair: iperf3 TCP and UDP from a network namespace to the host, through the host
// end where the programs sit, in one run: no program, the agent's tc program (tcx ingress + egress), and the XDP
// program in native and in generic mode, alternating setups within each round so drift hits all alike. Reported:
// throughput and its ratio to no program, the kernel's own time per packet of each program (--bpf-stats: run time
// / runs), and softirq CPU time per GB moved (/proc/stat). Throughput and softirq CPU are measured with the
// kernel's run-time statistics off (they cost every program run two clock reads: the agent's default); the time
// per packet in a second, shorter run of the same setup with --bpf-stats. Run as root: npm run bench:net
//   BENCH_SECONDS (5) per run, BENCH_STATS_SECONDS (2), BENCH_ROUNDS (3); BENCH_NO_WRITE=1 prints without touching
//   docs/benchmarks.md; BENCH_SETUPS (none,tc,xdp native,xdp generic) and BENCH_AGENT (dist/cli.js of another
//   checkout, to measure its programs) for comparisons, with BENCH_NO_WRITE.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { median, table, writeSection } from './lib/report.ts';

const root = path.resolve(import.meta.dirname, '..');
const NS = 'eoa-bench-net';
const HOST = 'eoabnetH';
const PEER = 'eoabnetN';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const STATS_SECONDS = Number(process.env.BENCH_STATS_SECONDS ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const AGENT = path.resolve(process.env.BENCH_AGENT ?? path.join(root, 'dist', 'cli.js'));

type Setup = 'none' | 'tc' | 'xdp native' | 'xdp generic';
const ALL_SETUPS: Setup[] = ['none', 'tc', 'xdp native', 'xdp generic'];
const SETUPS: Setup[] =
  process.env.BENCH_SETUPS === undefined
    ? ALL_SETUPS
    : ALL_SETUPS.filter((s) => process.env.BENCH_SETUPS!.split(',').includes(s));
if (!SETUPS.includes('none')) SETUPS.unshift('none');
type Proto = 'tcp' | 'udp';
const PROTOS = (process.env.BENCH_PROTOS ?? 'tcp,udp').split(',').filter((p): p is Proto => p === 'tcp' || p === 'udp');

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

/** Softirq time of all CPUs so far, in seconds (/proc/stat, USER_HZ ticks). */
function softirqSeconds(): number {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  return Number(cpu[7]) / 100;
}

/** Bits per second received by the server: TCP's receiver sum, UDP's sent rate less its loss. */
function iperf(proto: Proto, seconds = SECONDS): { bps: number; bytes: number } {
  const args = ['netns', 'exec', NS, 'iperf3', '-c', '10.216.0.1', '-t', String(seconds), '-J'];
  if (proto === 'udp') args.push('-u', '-b', '0', '-l', '1400');
  const out = JSON.parse(execFileSync('ip', args, { encoding: 'utf8', maxBuffer: 1 << 26 })) as {
    end: {
      sum_received?: { bits_per_second: number; bytes: number };
      sum?: { bits_per_second: number; bytes: number; lost_percent: number };
    };
  };
  if (proto === 'tcp') return { bps: out.end.sum_received!.bits_per_second, bytes: out.end.sum_received!.bytes };
  const sum = out.end.sum!;
  const kept = 1 - sum.lost_percent / 100;
  return { bps: sum.bits_per_second * kept, bytes: sum.bytes * kept };
}

async function withAgent<T>(
  setup: Setup,
  stats: boolean,
  run: (metrics: () => Promise<string>) => Promise<T>,
): Promise<T> {
  const programArgs =
    setup === 'tc'
      ? ['--programs', 'tc', '--net-interface', HOST]
      : ['--programs', 'xdp', '--xdp-interface', HOST, '--xdp-mode', setup === 'xdp native' ? 'native' : 'generic'];
  const agent = spawn(
    process.execPath,
    [
      AGENT,
      ...programArgs,
      ...(stats ? ['--bpf-stats'] : []),
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

/** Run time and runs of the agent's BPF programs, summed (tc: ingress and egress). */
function programStats(text: string): { ns: number; runs: number } {
  let ns = 0;
  let runs = 0;
  for (const m of text.matchAll(/^ebpf_agent_bpf_program_run_time_seconds_total\{[^}]*\} (\S+)$/gm))
    ns += Number(m[1]) * 1e9;
  for (const m of text.matchAll(/^ebpf_agent_bpf_program_runs_total\{[^}]*\} (\S+)$/gm)) runs += Number(m[1]);
  return { ns, runs };
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
  sh(['ip', 'addr', 'add', '10.216.0.1/24', 'dev', HOST]);
  sh(['ip', 'link', 'set', HOST, 'up']);
  sh(['ip', '-n', NS, 'addr', 'add', '10.216.0.2/24', 'dev', PEER]);
  sh(['ip', '-n', NS, 'link', 'set', PEER, 'up']);
  sh(['ip', '-n', NS, 'link', 'set', 'lo', 'up']);
  server.push(spawn('iperf3', ['-s', '-B', '10.216.0.1'], { stdio: 'ignore' }));
  await new Promise((r) => setTimeout(r, 500));

  const results = new Map<string, { bps: number[]; softirqPerGB: number[]; nsPerPacket: number[] }>();
  const record = (setup: Setup, proto: Proto) => {
    const key = `${setup}/${proto}`;
    if (!results.has(key)) results.set(key, { bps: [], softirqPerGB: [], nsPerPacket: [] });
    return results.get(key)!;
  };
  const measure = (proto: Proto, into: ReturnType<typeof record>): void => {
    const s0 = softirqSeconds();
    const { bps, bytes } = iperf(proto);
    const s1 = softirqSeconds();
    into.bps.push(bps);
    into.softirqPerGB.push((s1 - s0) / (bytes / 1e9));
  };
  for (let round = 0; round < ROUNDS; round++) {
    for (const setup of SETUPS) {
      for (const proto of PROTOS) {
        const into = record(setup, proto);
        if (setup === 'none') {
          measure(proto, into);
          continue;
        }
        await withAgent(setup, false, async () => measure(proto, into));
        await withAgent(setup, true, async (metrics) => {
          const before = programStats(await metrics());
          iperf(proto, STATS_SECONDS);
          await new Promise((r) => setTimeout(r, 1500));
          const after = programStats(await metrics());
          if (after.runs > before.runs) into.nsPerPacket.push((after.ns - before.ns) / (after.runs - before.runs));
        });
      }
    }
    console.error(`round ${round + 1}/${ROUNDS} done`);
  }

  const rows: string[][] = [];
  for (const proto of PROTOS) {
    const base = median(record('none', proto).bps);
    for (const setup of SETUPS) {
      const r = record(setup, proto);
      const m = median(r.bps);
      rows.push([
        proto.toUpperCase(),
        setup === 'none' ? 'no program' : setup === 'tc' ? 'agent, tc (tcx ingress + egress)' : `agent, ${setup}`,
        (m / 1e9).toFixed(2),
        (m / base).toFixed(3),
        `${Math.min(...r.bps.map((b) => b / base)).toFixed(3)}–${Math.max(...r.bps.map((b) => b / base)).toFixed(3)}`,
        r.nsPerPacket.length > 0 ? median(r.nsPerPacket).toFixed(0) : '—',
        median(r.softirqPerGB).toFixed(3),
      ]);
    }
  }
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  await writeSection(
    'net',
    [
      `iperf3 over a veth pair (namespace → host), ${SECONDS} s runs, median of ${ROUNDS} (range of the ratio across rounds), ` +
        `${os.cpus().length} × ${cpu}, kernel ${os.release()}. UDP: \`-u -b 0 -l 1400\`, throughput received (sent less loss). ` +
        `Throughput and softirq CPU with the kernel's run-time statistics off; time per packet from a ${STATS_SECONDS} s run with \`--bpf-stats\`.`,
      '',
      table(
        [
          'traffic',
          'setup',
          'throughput (Gbit/s)',
          'ratio to no program',
          'ratio range',
          'program time per packet (ns)',
          'softirq CPU s per GB',
        ],
        rows,
        ['l', 'l', 'r', 'r', 'r', 'r', 'r'],
      ),
    ].join('\n'),
  );
} finally {
  for (const s of server) s.kill('SIGKILL');
  cleanup();
}

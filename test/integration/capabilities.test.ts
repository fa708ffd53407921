// Least privilege, proven: with exactly the capabilities the Helm chart grants (CAP_BPF, CAP_PERFMON, and
// CAP_NET_ADMIN for XDP and tc; the bounding set limited with setpriv) the agent attaches every program and counts
// right; exits and tcp need only CAP_BPF and CAP_PERFMON and count right with just those; without any one of them
// the agent refuses with a line naming it. See docs/capabilities.md.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildStaticC } from '../helpers/static-c.ts';
import {
  agentPrograms,
  cliPath,
  expectNoAgentPrograms,
  parseMetrics,
  root,
  runAgent,
  syscallerPath,
  total,
  waitFor,
  waitStopped,
} from './harness.ts';
import { createVethPair, inject, type VethPair } from './netns.ts';
import { freePort } from './prometheus.ts';

const GRANTED = ['bpf', 'perfmon', 'net_admin'];
const netnsHelper = path.join(root, 'test', 'helpers', 'netns-id.ts');
const setpriv = (caps: string[]): string[] => {
  const set = ['-all', ...caps.map((c) => `+${c}`)].join(',');
  return ['setpriv', `--inh-caps=${set}`, `--bounding-set=${set}`, '--'];
};

/** The effective capability set, hex as /proc/<pid>/status shows it, of exactly `bits`. */
const capEff = (bits: number[]): string =>
  bits
    .reduce((m, b) => m | (1n << BigInt(b)), 0n)
    .toString(16)
    .padStart(16, '0');

/**
 * The agent under setpriv with exactly `caps`, listening on a port of its choosing (the caller passes --host
 * 127.0.0.1 --port 0): its /metrics, a wait for n more polls, and stop().
 */
async function startUnder(caps: string[], args: string[]) {
  const [command, ...rest] = [...setpriv(caps), process.execPath, cliPath, ...args];
  const agent: ChildProcess = spawn(command!, rest, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  agent.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  const stop = async (): Promise<void> => {
    if (agent.exitCode !== null || agent.signalCode !== null) return;
    agent.kill('SIGTERM');
    await once(agent, 'exit');
  };
  try {
    const port = await waitFor('the agent', () => {
      if (agent.exitCode !== null) throw new Error(log);
      return /listen=[^ ]*:(\d+)/.exec(log)?.[1];
    });
    const scrape = async () => parseMetrics(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
    await waitFor('readiness', async () =>
      (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200 ? true : undefined,
    );
    const polls = async (n: number) => {
      const start = total(await scrape(), 'ebpf_agent_polls_total');
      return waitFor(`${n} polls`, async () => {
        const s = await scrape();
        return total(s, 'ebpf_agent_polls_total') >= start + n ? s : undefined;
      });
    };
    return { pid: agent.pid!, scrape, polls, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

describe('least privilege', () => {
  let veth: VethPair;
  beforeAll(() => {
    veth = createVethPair(`c${process.pid % 10000}`);
  });
  afterAll(async () => {
    veth?.destroy();
    await expectNoAgentPrograms();
  });

  it('runs every program with exactly CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN, and counts right', async () => {
    const args = [
      '--programs',
      'exec,syscalls,xdp,tc,cpu,tcp,exits',
      '--xdp-interface',
      veth.host,
      '--net-interface',
      veth.host,
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--interval',
      '500ms',
      // tc's new series are held at 0 for --scrape-interval + --interval: 600 ms here.
      '--scrape-interval',
      '100ms',
    ];
    const agent = await startUnder(GRANTED, args);
    try {
      const { scrape, polls } = agent;
      const status = readFileSync(`/proc/${agent.pid}/status`, 'utf8');
      // Effective set: exactly bits 12 (NET_ADMIN), 38 (PERFMON), 39 (BPF).
      expect(/^CapEff:\s*(\w+)$/m.exec(status)?.[1]).toBe(capEff([12, 38, 39]));
      for (const program of ['exec', 'syscalls', 'xdp', 'tc', 'cpu', 'tcp', 'exits']) {
        expect(total(await scrape(), 'ebpf_agent_program_attached', { program }), program).toBe(1);
      }
      const helper = spawn(syscallerPath, ['200'], { stdio: 'ignore' });
      try {
        await waitStopped(helper.pid!);
        const before = await polls(2);
        helper.kill('SIGCONT');
        await waitStopped(helper.pid!);
        const sent = inject(veth, 'udp:9');
        const after = await polls(3);
        const labels = { process_pid: String(helper.pid), syscall: 'read' };
        expect(
          total(after, 'ebpf_process_syscalls_total', labels) - total(before, 'ebpf_process_syscalls_total', labels),
        ).toBe(200);
        const udp = { network_interface_name: veth.host, network_transport: 'udp' };
        expect(total(after, 'ebpf_xdp_packets_total', udp) - total(before, 'ebpf_xdp_packets_total', udp)).toBe(9);
        expect(total(after, 'ebpf_xdp_bytes_total', udp) - total(before, 'ebpf_xdp_bytes_total', udp)).toBe(
          sent.udp!.bytes,
        );
        const rx = { ...udp, network_io_direction: 'receive' };
        expect(total(after, 'ebpf_network_packets_total', rx) - total(before, 'ebpf_network_packets_total', rx)).toBe(
          9,
        );
        expect(total(after, 'ebpf_network_bytes_total', rx) - total(before, 'ebpf_network_bytes_total', rx)).toBe(
          sent.udp!.bytes,
        );
      } finally {
        helper.kill('SIGKILL');
      }
    } finally {
      await agent.stop();
    }
  });

  it('runs exits and tcp with exactly CAP_BPF and CAP_PERFMON, and counts right', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'eoa-caps-'));
    const names = { exiter: `eoa-caps-exit-${process.pid}`, refused: `eoa-caps-tcp-${process.pid}` };
    let agent: Awaited<ReturnType<typeof startUnder>> | undefined;
    try {
      copyFileSync(syscallerPath, path.join(dir, names.exiter));
      buildStaticC('test/helpers/tcpconnect.c', path.join(dir, names.refused));
      const closedPort = await freePort();
      agent = await startUnder(
        ['bpf', 'perfmon'],
        // New series are held at 0 for --scrape-interval + --interval: 600 ms here.
        [
          '--programs',
          'exits,tcp',
          '--host',
          '127.0.0.1',
          '--port',
          '0',
          '--interval',
          '500ms',
          '--scrape-interval',
          '100ms',
        ],
      );
      const status = readFileSync(`/proc/${agent.pid}/status`, 'utf8');
      // Effective set: exactly bits 38 (PERFMON) and 39 (BPF).
      expect(/^CapEff:\s*(\w+)$/m.exec(status)?.[1]).toBe(capEff([38, 39]));
      for (const program of ['exits', 'tcp']) {
        expect(total(await agent.scrape(), 'ebpf_agent_program_attached', { program }), program).toBe(1);
      }
      // One process that exits 0, one that makes 2 connects to a loopback port nobody listens on (each refused by a
      // reset); both live milliseconds, under names of this test's own.
      execFileSync(path.join(dir, names.exiter), ['--exit-after', '5']);
      const out = execFileSync(path.join(dir, names.refused), ['127.0.0.1', String(closedPort), '2'], {
        encoding: 'utf8',
      });
      expect(out).toContain('ok=0 failed=2');
      const exe = (name: string) => ({ process_executable_name: name });
      const samples = await waitFor('the counts', async () => {
        const s = await agent!.scrape();
        return total(s, 'ebpf_process_exits_total', exe(names.exiter)) === 1 &&
          total(s, 'ebpf_tcp_connect_failures_total', exe(names.refused)) === 2
          ? s
          : undefined;
      });
      const after = await agent.polls(2);
      const row = (s: typeof samples) => ({
        exited0: total(s, 'ebpf_process_exits_total', {
          ...exe(names.exiter),
          process_exit_reason: 'exited',
          process_exit_code_class: '0',
        }),
        exits: total(s, 'ebpf_process_exits_total', exe(names.exiter)),
        attempts: total(s, 'ebpf_tcp_connect_attempts_total', exe(names.refused)),
        failures: total(s, 'ebpf_tcp_connect_failures_total', exe(names.refused)),
        resetsReceived: total(s, 'ebpf_tcp_resets_received_total', exe(names.refused)),
        tcpExits: total(s, 'ebpf_process_exits_total', exe(names.refused)),
      });
      const expected = { exited0: 1, exits: 1, attempts: 2, failures: 2, resetsReceived: 2, tcpExits: 1 };
      expect(row(samples)).toEqual(expected);
      // Final: two polls later nothing more arrived.
      expect(row(after)).toEqual(expected);
    } finally {
      await agent?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses exits and tcp without CAP_PERFMON, naming it', async () => {
    await expectNoAgentPrograms();
    const { code, stderr } = await runAgent(['--programs', 'exits,tcp', '--port', '0'], { wrap: setpriv(['bpf']) });
    expect(code).toBe(1);
    const lines = stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^ebpf-otel-agent: missing capabilities CAP_PERFMON \(/);
    expect(agentPrograms()).toEqual([]);
  });

  for (const missing of GRANTED) {
    it(`refuses without CAP_${missing.toUpperCase()}, naming it`, async () => {
      await expectNoAgentPrograms(); // the previous agent's programs are freed shortly after it exits
      const { code, stderr } = await runAgent(['--xdp-interface', veth.host, '--port', '0'], {
        wrap: setpriv(GRANTED.filter((c) => c !== missing)),
      });
      expect(code).toBe(1);
      const lines = stderr.trimEnd().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^ebpf-otel-agent: missing capabilities CAP_${missing.toUpperCase()} \\(`));
      expect(agentPrograms()).toEqual([]);
    });
  }

  it("--net-interface pods: a pod process's network namespace can be read with CAP_SYS_PTRACE, not without", async () => {
    // A process with every capability in the veth's far namespace, as a pod's are beyond the agent's.
    const sleeper = spawn('ip', ['netns', 'exec', veth.namespace, 'sleep', '60'], { stdio: 'ignore' });
    try {
      await waitFor('the sleeper to enter the namespace', () => {
        try {
          return readFileSync(`/proc/${sleeper.pid}/comm`, 'utf8').trim() === 'sleep' ? true : undefined;
        } catch {
          return undefined;
        }
      });
      const read = (caps: string[]) =>
        JSON.parse(
          execFileSync(
            setpriv(caps)[0]!,
            [...setpriv(caps).slice(1), process.execPath, netnsHelper, String(sleeper.pid), veth.host],
            { encoding: 'utf8' },
          ),
        ) as { id?: number; error?: string; peerNetnsId?: number };
      expect(read(GRANTED).error).toBe('EACCES');
      const granted = read([...GRANTED, 'sys_ptrace']);
      expect(granted.error).toBeUndefined();
      // The id the host gives that namespace is the one the host end of the veth names its peer's by.
      expect(granted.id).toBe(granted.peerNetnsId);
      expect(granted.id).toBeGreaterThanOrEqual(0);
    } finally {
      sleeper.kill('SIGKILL');
    }
  });

  it('refuses tc without CAP_NET_ADMIN, naming it and what it is for', async () => {
    await expectNoAgentPrograms();
    const { code, stderr } = await runAgent(['--programs', 'tc', '--net-interface', veth.host, '--port', '0'], {
      wrap: setpriv(['bpf', 'perfmon']),
    });
    expect(code).toBe(1);
    const lines = stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^ebpf-otel-agent: missing capabilities CAP_NET_ADMIN \(.*attach tc/);
    expect(agentPrograms()).toEqual([]);
  });
});

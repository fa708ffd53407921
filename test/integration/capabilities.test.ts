// Least privilege, proven: with exactly the capabilities the Helm chart grants (CAP_BPF, CAP_PERFMON, and
// CAP_NET_ADMIN for XDP and tc; the bounding set limited with setpriv) the agent attaches every program and counts
// right; without any one of them it refuses with a line naming it. See docs/capabilities.md.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

const GRANTED = ['bpf', 'perfmon', 'net_admin'];
const netnsHelper = path.join(root, 'test', 'helpers', 'netns-id.ts');
const setpriv = (caps: string[]): string[] => {
  const set = ['-all', ...caps.map((c) => `+${c}`)].join(',');
  return ['setpriv', `--inh-caps=${set}`, `--bounding-set=${set}`, '--'];
};

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
      'exec,syscalls,xdp,tc,cpu,tcp',
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
    const [command, ...rest] = [...setpriv(GRANTED), process.execPath, cliPath, ...args];
    const agent = spawn(command!, rest, { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    agent.stderr!.on('data', (c: Buffer) => (log += c.toString()));
    try {
      const port = await waitFor('the agent', () => {
        if (agent.exitCode !== null) throw new Error(log);
        return /listen=[^ ]*:(\d+)/.exec(log)?.[1];
      });
      const status = readFileSync(`/proc/${agent.pid}/status`, 'utf8');
      // Effective set: exactly bits 12 (NET_ADMIN), 38 (PERFMON), 39 (BPF).
      expect(/^CapEff:\s*(\w+)$/m.exec(status)?.[1]).toBe('000000c000001000');
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
      for (const program of ['exec', 'syscalls', 'xdp', 'tc', 'cpu', 'tcp']) {
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
      agent.kill('SIGTERM');
      await once(agent, 'exit');
    }
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

// XDP on the host end of a veth pair: exactly P UDP, Q TCP and R ICMP IPv4 frames sent from the namespace raise
// the matching packet counters by P, Q, R and the byte counters by their exact frame lengths. kill -9 of the
// agent leaves no XDP program on the interface.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoAgentPrograms, killAllAgents, startAgent, total, type RunningAgent } from './harness.ts';
import { createVethPair, inject, rxStats, xdpProgramOn, type VethPair } from './netns.ts';

const P = 37;
const Q = 23;
const R = 11;

describe('xdp program', () => {
  let veth: VethPair;
  let agent: RunningAgent;

  beforeAll(async () => {
    veth = createVethPair(`x${process.pid % 10000}`);
    agent = await startAgent(['--programs', 'xdp', '--xdp-interface', veth.host, '--interval', '500ms']);
  });
  afterAll(async () => {
    await killAllAgents();
    veth?.destroy();
    await expectNoAgentPrograms();
  });

  it('counts UDP, TCP and ICMP IPv4 frames and their exact bytes', async () => {
    expect(xdpProgramOn(veth.host)).toBeDefined();
    const before = await agent.waitPolls(1);
    const rxBefore = rxStats(veth.host);
    const sent = inject(veth, `udp:${P},tcp:${Q}:0,icmp:${R}:56`);
    const after = await agent.waitPolls(2);
    const rxAfter = rxStats(veth.host);
    const delta = (name: string, transport: string): number => {
      const labels = { network_interface_name: veth.host, network_type: 'ipv4', network_transport: transport };
      return total(after, name, labels) - total(before, name, labels);
    };
    expect(sent.udp!.packets).toBe(P);
    expect(delta('ebpf_xdp_packets_total', 'udp')).toBe(P);
    expect(delta('ebpf_xdp_packets_total', 'tcp')).toBe(Q);
    expect(delta('ebpf_xdp_packets_total', 'icmp')).toBe(R);
    expect(delta('ebpf_xdp_bytes_total', 'udp')).toBe(sent.udp!.bytes);
    expect(delta('ebpf_xdp_bytes_total', 'tcp')).toBe(sent.tcp!.bytes);
    expect(delta('ebpf_xdp_bytes_total', 'icmp')).toBe(sent.icmp!.bytes);
    // Nothing else arrived, and the interface's own counters agree.
    const all = (name: string, samples: typeof after): number =>
      total(samples, name, { network_interface_name: veth.host });
    expect(all('ebpf_xdp_packets_total', after) - all('ebpf_xdp_packets_total', before)).toBe(P + Q + R);
    expect(rxAfter.packets - rxBefore.packets).toBe(P + Q + R);
    // veth counts rx bytes from the frame start in generic mode but after the Ethernet header (14 bytes) when a
    // native XDP program runs on it; the frames and their lengths are the same either way.
    const sentBytes = sent.udp!.bytes + sent.tcp!.bytes + sent.icmp!.bytes;
    expect([sentBytes, sentBytes - 14 * (P + Q + R)]).toContain(rxAfter.bytes - rxBefore.bytes);
    const attached = after.filter(
      (s) => s.name === 'ebpf_agent_xdp_attached' && s.labels.network_interface_name === veth.host,
    );
    expect(attached).toHaveLength(1);
    expect(['native', 'generic']).toContain(attached[0]!.labels.mode);
  });

  it('leaves no XDP program behind when killed with SIGKILL, and can attach again', async () => {
    const { signal } = await agent.stop('SIGKILL');
    expect(signal).toBe('SIGKILL');
    await expectNoAgentPrograms();
    expect(xdpProgramOn(veth.host)).toBeUndefined();
    agent = await startAgent(['--programs', 'xdp', '--xdp-interface', veth.host, '--interval', '500ms']);
    expect(xdpProgramOn(veth.host)).toBeDefined();
    const before = await agent.waitPolls(1);
    const sent = inject(veth, 'udp:5');
    const after = await agent.waitPolls(2);
    const labels = { network_interface_name: veth.host, network_type: 'ipv4', network_transport: 'udp' };
    expect(total(after, 'ebpf_xdp_packets_total', labels) - total(before, 'ebpf_xdp_packets_total', labels)).toBe(5);
    expect(total(after, 'ebpf_xdp_bytes_total', labels) - total(before, 'ebpf_xdp_bytes_total', labels)).toBe(
      sent.udp!.bytes,
    );
    const { code } = await agent.stop('SIGTERM');
    expect(code).toBe(0);
    expect(xdpProgramOn(veth.host)).toBeUndefined();
  });
});

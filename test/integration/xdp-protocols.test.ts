// XDP parsing, frame by frame: crafted frames of every kind injected from a test-made network namespace, each
// counter's packet and byte delta exact, totals equal to the interface's own receive counters; native and
// generic mode; two interfaces at once; an interface that disappears while the agent runs.
import { execFileSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectNoAgentPrograms, killAllAgents, startAgent, total, waitFor, type Sample } from './harness.ts';
import { KINDS, PACKETS, SPEC } from './frames.ts';
import { createVethPair, inject, rxStats, xdpProgramOn, type Sent, type VethPair } from './netns.ts';

function delta(before: Sample[], after: Sample[], name: string, labels: Record<string, string>): number {
  return total(after, name, labels) - total(before, name, labels);
}

/** Sends every kind and checks every counter against what was sent and against the interface's rx counters. */
async function expectExact(veth: VethPair, agent: Awaited<ReturnType<typeof startAgent>>): Promise<void> {
  const before = await agent.waitPolls(1);
  const rxBefore = rxStats(veth.host);
  const sent: Record<string, Sent> = inject(veth, SPEC);
  const after = await agent.waitPolls(2);
  const rxAfter = rxStats(veth.host);
  const iface = { network_interface_name: veth.host };

  const expected = new Map<string, { packets: number; bytes: number }>();
  for (const k of KINDS) {
    expect(sent[k.kind]?.packets, k.kind).toBe(k.count);
    const id = `${k.type}/${k.transport}`;
    const e = expected.get(id) ?? { packets: 0, bytes: 0 };
    e.packets += k.count;
    e.bytes += sent[k.kind]!.bytes;
    expected.set(id, e);
  }
  for (const [id, e] of expected) {
    const [type, transport] = id.split('/') as [string, string];
    const labels = { ...iface, network_type: type, network_transport: transport };
    expect(delta(before, after, 'ebpf_xdp_packets_total', labels), `${id} packets`).toBe(e.packets);
    expect(delta(before, after, 'ebpf_xdp_bytes_total', labels), `${id} bytes`).toBe(e.bytes);
  }
  for (const type of ['ipv4', 'ipv6']) {
    const truncated = KINDS.filter((k) => k.truncated && k.type === type).reduce((n, k) => n + k.count, 0);
    expect(delta(before, after, 'ebpf_xdp_truncated_packets_total', { ...iface, network_type: type }), type).toBe(
      truncated,
    );
  }
  // Totals: the interface's own receive counters saw the same frames.
  const bytes = [...expected.values()].reduce((n, e) => n + e.bytes, 0);
  expect(delta(before, after, 'ebpf_xdp_packets_total', iface)).toBe(PACKETS);
  expect(delta(before, after, 'ebpf_xdp_bytes_total', iface)).toBe(bytes);
  expect(rxAfter.packets - rxBefore.packets).toBe(PACKETS);
  // veth counts rx bytes from the frame start without XDP or in generic mode, but after the Ethernet header
  // (14 bytes per frame) when a native XDP program runs on it.
  expect([bytes, bytes - 14 * PACKETS]).toContain(rxAfter.bytes - rxBefore.bytes);
}

describe('xdp parsing', () => {
  const veths: VethPair[] = [];
  beforeAll(() => {
    veths.push(createVethPair(`a${process.pid % 10000}`), createVethPair(`b${process.pid % 10000}`));
  });
  afterEach(async () => {
    await killAllAgents();
  });
  afterAll(async () => {
    for (const veth of veths) veth.destroy();
    await expectNoAgentPrograms();
  });

  for (const mode of ['native', 'generic'] as const) {
    it(`counts every kind of frame exactly, ${mode} mode`, async () => {
      const veth = veths[0]!;
      const agent = await startAgent([
        '--programs',
        'xdp',
        '--xdp-interface',
        veth.host,
        '--xdp-mode',
        mode,
        '--interval',
        '500ms',
      ]);
      const samples = await agent.scrape();
      expect(total(samples, 'ebpf_agent_xdp_attached', { network_interface_name: veth.host, mode })).toBe(1);
      await expectExact(veth, agent);
    });
  }

  it('counts two interfaces separately', async () => {
    const [a, b] = veths as [VethPair, VethPair];
    const agent = await startAgent([
      '--xdp-interface',
      a.host,
      '--xdp-interface',
      b.host,
      '--programs',
      'xdp',
      '--interval',
      '500ms',
    ]);
    const before = await agent.waitPolls(1);
    const sentA = inject(a, 'udp:11');
    const sentB = inject(b, 'udp:4,tcp:9');
    const after = await agent.waitPolls(2);
    const udp = { network_type: 'ipv4', network_transport: 'udp' };
    expect(delta(before, after, 'ebpf_xdp_packets_total', { ...udp, network_interface_name: a.host })).toBe(11);
    expect(delta(before, after, 'ebpf_xdp_bytes_total', { ...udp, network_interface_name: a.host })).toBe(
      sentA.udp!.bytes,
    );
    expect(delta(before, after, 'ebpf_xdp_packets_total', { network_interface_name: a.host })).toBe(11);
    expect(delta(before, after, 'ebpf_xdp_packets_total', { ...udp, network_interface_name: b.host })).toBe(4);
    expect(delta(before, after, 'ebpf_xdp_packets_total', { network_interface_name: b.host })).toBe(13);
    expect(delta(before, after, 'ebpf_xdp_bytes_total', { network_interface_name: b.host })).toBe(
      sentB.udp!.bytes + sentB.tcp!.bytes,
    );
  });

  it('goes on counting when one interface disappears, and attaches again when it comes back', async () => {
    const [a, b] = veths as [VethPair, VethPair];
    const agent = await startAgent([
      '--xdp-interface',
      a.host,
      '--xdp-interface',
      b.host,
      '--programs',
      'xdp',
      '--interval',
      '500ms',
    ]);
    execFileSync('ip', ['link', 'del', b.host]); // takes the namespace end with it
    const gone = await waitFor('the loss to be noticed', async () => {
      const s = await agent.waitPolls(1);
      return total(s, 'ebpf_agent_xdp_interface_losses_total', { network_interface_name: b.host }) === 1
        ? s
        : undefined;
    });
    expect(total(gone, 'ebpf_agent_xdp_attached', { network_interface_name: b.host })).toBe(0);
    // Not every attachment is in place: the program says so, and so does readiness.
    expect(total(gone, 'ebpf_agent_program_attached', { program: 'xdp' })).toBe(0);
    const unready = await fetch(`http://127.0.0.1:${agent.port}/readyz`);
    expect([unready.status, await unready.text()]).toEqual([503, expect.stringMatching(/not attached: xdp/)]);
    expect(agent.stderr()).toMatch(new RegExp(`network interface disappeared.*interface=${b.host}`));
    // The other interface still counts.
    const before = await agent.waitPolls(1);
    inject(a, 'icmp:6');
    const after = await agent.waitPolls(2);
    expect(
      delta(before, after, 'ebpf_xdp_packets_total', { network_interface_name: a.host, network_transport: 'icmp' }),
    ).toBe(6);
    // Back under the same name: attached again, and counting.
    b.destroy();
    const back = createVethPair(b.namespace.replace('eoa-', ''));
    veths[1] = back;
    await waitFor('the interface to be attached again', async () => {
      const s = await agent.waitPolls(1);
      return total(s, 'ebpf_agent_xdp_attached', { network_interface_name: back.host }) === 1 ? true : undefined;
    });
    expect(xdpProgramOn(back.host)).toBeDefined();
    await agent.waitPolls(1);
    expect((await fetch(`http://127.0.0.1:${agent.port}/readyz`)).status).toBe(200);
    const before2 = await agent.waitPolls(1);
    inject(back, 'udp:3');
    const after2 = await agent.waitPolls(2);
    expect(
      delta(before2, after2, 'ebpf_xdp_packets_total', { network_interface_name: back.host, network_transport: 'udp' }),
    ).toBe(3);
  });
});

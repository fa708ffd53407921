// tc on tcx, both directions: every frame kind the XDP tests send, received by and transmitted from the host end of
// a veth pair in a test-made namespace, each counter's packet and byte delta exact and the totals equal to the
// interface's own counters; a second agent's tcx program after it on the same hooks still sees every packet (the
// program returns "next"); `pods` picks up a pod-like namespace with its pod's labels and drops it when it goes;
// kill -9 leaves nothing attached.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BpfObject, type Link } from '../../src/bpf/index.ts';
import { detectCgroup2Root } from '../../src/collector/cgroup.ts';
import {
  agentPrograms,
  expectNoAgentPrograms,
  expectProgramsGone,
  killAllAgents,
  programsHeldBy,
  root,
  seriesOf,
  startAgent,
  total,
  waitFor,
  type RunningAgent,
  type Sample,
} from './harness.ts';
import { KINDS, PACKETS, SPEC } from './frames.ts';
import { createVethPair, inject, rxStats, txStats, type Sent, type VethPair } from './netns.ts';

const DIRECTIONS = [
  { direction: 'receive', from: 'namespace' },
  { direction: 'transmit', from: 'host' },
] as const;

function delta(before: Sample[], after: Sample[], name: string, labels: Record<string, string>): number {
  return total(after, name, labels) - total(before, name, labels);
}

describe('tc program', () => {
  let veth: VethPair;

  beforeAll(() => {
    veth = createVethPair(`t${process.pid % 10000}`);
  });
  afterEach(async () => {
    await killAllAgents();
  });
  afterAll(async () => {
    await killAllAgents();
    veth?.destroy();
    await expectNoAgentPrograms();
  });

  it.each(['last', 'first'])(
    'counts every kind of frame exactly in both directions, beside a second tcx program (--net-order %s)',
    async (order) => {
      // Two agents: with --net-order last the second one's tcx programs run after the first one's on each hook (both
      // appended), so the second counts every packet only if the first one's program hands every packet on
      // (TCX_NEXT); with first, the second one's run before the first one's, and the first counts every packet only
      // if the second hands them on. (This kernel has no classic tc classifiers or gact built, so a clsact filter
      // cannot be the other program here.)
      const first = await startAgent([
        '--programs',
        'tc',
        '--net-interface',
        veth.host,
        '--interval',
        '500ms',
        '--scrape-interval',
        '100ms',
      ]);
      const second = await startAgent([
        '--programs',
        'tc',
        '--net-interface',
        `${veth.host.slice(0, -1)}[h]`, // a glob matching only the host end
        '--net-order',
        order,
        '--interval',
        '500ms',
        // New series are held at 0 for --scrape-interval + --interval (600 ms here) before they show their counts.
        '--scrape-interval',
        '100ms',
      ]);
      for (const agent of [first, second]) {
        expect(total(await agent.scrape(), 'ebpf_agent_tc_attached', { network_interface_name: veth.host })).toBe(1);
      }
      const agents = [first, second];
      const before = await Promise.all(agents.map((a) => a.waitPolls(1)));
      const stats = { rx: rxStats(veth.host), tx: txStats(veth.host) };
      const sent: Record<string, Record<string, Sent>> = {};
      for (const { direction, from } of DIRECTIONS) sent[direction] = inject(veth, SPEC, from);
      const after = await Promise.all(agents.map((a) => a.waitPolls(3)));

      for (const [i] of agents.entries()) {
        for (const { direction } of DIRECTIONS) {
          const iface = { network_interface_name: veth.host, network_io_direction: direction };
          const expected = new Map<string, { packets: number; bytes: number }>();
          for (const k of KINDS) {
            expect(sent[direction]![k.kind]?.packets, `${direction} ${k.kind}`).toBe(k.count);
            const id = `${k.type}/${k.transport}`;
            const e = expected.get(id) ?? { packets: 0, bytes: 0 };
            e.packets += k.count;
            e.bytes += sent[direction]![k.kind]!.bytes;
            expected.set(id, e);
          }
          for (const [id, e] of expected) {
            const [type, transport] = id.split('/') as [string, string];
            const labels = { ...iface, network_type: type, network_transport: transport };
            const what = `agent ${i + 1} ${direction} ${id}`;
            expect(delta(before[i]!, after[i]!, 'ebpf_network_packets_total', labels), `${what} packets`).toBe(
              e.packets,
            );
            expect(delta(before[i]!, after[i]!, 'ebpf_network_bytes_total', labels), `${what} bytes`).toBe(e.bytes);
          }
          for (const type of ['ipv4', 'ipv6']) {
            const truncated = KINDS.filter((k) => k.truncated && k.type === type).reduce((n, k) => n + k.count, 0);
            expect(
              delta(before[i]!, after[i]!, 'ebpf_network_truncated_packets_total', { ...iface, network_type: type }),
              `${direction} ${type} truncated`,
            ).toBe(truncated);
          }
          const bytes = [...expected.values()].reduce((n, e) => n + e.bytes, 0);
          expect(delta(before[i]!, after[i]!, 'ebpf_network_packets_total', iface)).toBe(PACKETS);
          expect(delta(before[i]!, after[i]!, 'ebpf_network_bytes_total', iface)).toBe(bytes);
        }
      }
      // The interface's own counters saw the same frames.
      const rx = rxStats(veth.host);
      const tx = txStats(veth.host);
      expect(rx.packets - stats.rx.packets).toBe(PACKETS);
      expect(tx.packets - stats.tx.packets).toBe(PACKETS);
      const sum = (s: Record<string, Sent>): number => Object.values(s).reduce((n, k) => n + k.bytes, 0);
      expect(rx.bytes - stats.rx.bytes).toBe(sum(sent.receive!));
      expect(tx.bytes - stats.tx.bytes).toBe(sum(sent.transmit!));

      // SIGKILL of the first agent takes its links with it; the second one goes on counting every packet.
      const ids = programsHeldBy(first.process.pid!);
      expect(ids.length).toBe(2);
      expect((await first.stop('SIGKILL')).signal).toBe('SIGKILL');
      await expectProgramsGone(ids);
      const b = await second.waitPolls(1);
      const again = inject(veth, 'udp:9');
      const a = await second.waitPolls(3);
      const udp = { network_interface_name: veth.host, network_type: 'ipv4', network_transport: 'udp' };
      expect(delta(b, a, 'ebpf_network_packets_total', { ...udp, network_io_direction: 'receive' })).toBe(9);
      expect(delta(b, a, 'ebpf_network_bytes_total', { ...udp, network_io_direction: 'receive' })).toBe(
        again.udp!.bytes,
      );
      expect((await second.stop('SIGTERM')).code).toBe(0);
    },
  );

  it('stops being ready while a named interface is gone, and counts it again when it is back', async () => {
    const named = createVethPair(`u${process.pid % 10000}`);
    try {
      const agent = await startAgent([
        '--programs',
        'tc',
        '--net-interface',
        named.host,
        '--interval',
        '500ms',
        '--scrape-interval',
        '100ms',
      ]);
      named.destroy();
      await waitFor('the loss to be noticed', async () => {
        const s = await agent.waitPolls(1);
        return total(s, 'ebpf_agent_tc_attached', { network_interface_name: named.host }) === 0 ? s : undefined;
      });
      expect((await fetch(`http://127.0.0.1:${agent.port}/readyz`)).status).toBe(503);
      // Back with an ifindex past TC_IFINDEX_NEAR (16384): its slot is found through tc_slot_far, the hash.
      const back = createVethPair(`u${process.pid % 10000}`, 40000 + (process.pid % 10000));
      expect(Number(readFileSync(`/sys/class/net/${back.host}/ifindex`, 'utf8'))).toBeGreaterThanOrEqual(16384);
      await waitFor('the interface to be attached again', async () => {
        const s = await agent.waitPolls(1);
        return seriesOf(s, 'ebpf_agent_tc_attached', { network_interface_name: back.host }).some((x) => x.value === 1)
          ? true
          : undefined;
      });
      await agent.waitPolls(1);
      expect((await fetch(`http://127.0.0.1:${agent.port}/readyz`)).status).toBe(200);
      const b = await agent.waitPolls(1);
      inject(back, 'icmp:4');
      const a = await agent.waitPolls(3);
      expect(
        delta(b, a, 'ebpf_network_packets_total', {
          network_interface_name: back.host,
          network_io_direction: 'receive',
          network_transport: 'icmp',
        }),
      ).toBe(4);
    } finally {
      named.destroy();
    }
  });

  it('counts and logs once an interface it matches but cannot attach to (its ingress hook full), and stays up', async () => {
    // A tcx hook takes a bounded number of programs (BPF_MPROG_MAX, 64, less one here): the test's own fill the host
    // end's ingress until the kernel says ERANGE.
    const ifindex = Number(readFileSync(`/sys/class/net/${veth.host}/ifindex`, 'utf8'));
    const fillers: BpfObject[] = [];
    // Kept: a link the garbage collector takes is detached.
    const links: Link[] = [];
    try {
      for (let full = false; !full && fillers.length <= 64;) {
        const object = new BpfObject(path.join(root, 'bpf', 'build', 'tc.bpf.o'));
        fillers.push(object);
        object.load();
        try {
          links.push(object.attachTcx('eoa_tc_ingress', ifindex, 'ingress'));
        } catch (error) {
          expect((error as Error).message).toContain('ERANGE');
          full = true;
        }
      }
      expect(fillers.length).toBeGreaterThan(32);
      expect(fillers.length).toBeLessThanOrEqual(65);
      const agent = await startAgent([
        '--programs',
        'tc',
        '--net-interface',
        `${veth.host.slice(0, -1)}[h]`, // a glob: a match that cannot be attached does not stop the agent
        '--interval',
        '300ms',
      ]);
      const before = total(await agent.waitPolls(1), 'ebpf_agent_tc_attach_failures_total');
      const after = await agent.waitPolls(3);
      // Tried again at every poll (at least once at start and once per poll since), counted each time.
      expect(before).toBeGreaterThanOrEqual(1);
      expect(total(after, 'ebpf_agent_tc_attach_failures_total') - before).toBeGreaterThanOrEqual(3);
      expect(seriesOf(after, 'ebpf_agent_tc_attached', { network_interface_name: veth.host })).toEqual([]);
      expect(seriesOf(after, 'ebpf_network_packets_total', { network_interface_name: veth.host })).toEqual([]);
      // Logged once, not at every poll.
      const warnings = agent
        .stderr()
        .split('\n')
        .filter((l) => l.includes('cannot attach tc to a network interface'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain(veth.host);
      expect((await fetch(`http://127.0.0.1:${agent.port}/readyz`)).status).toBe(200);
      expect((await agent.stop('SIGTERM')).code).toBe(0);
    } finally {
      for (const link of links) link.destroy();
      for (const object of fillers) object.close();
    }
  });
});

const cgroup2 = detectCgroup2Root();
const podList = readFileSync(path.join(root, 'test', 'unit', 'fixtures', 'kubelet-pods.json'), 'utf8');
const WEB = { uid: '5b8d1f3a-7c9e-4b2d-a4f6-8e0c2a4b6d8f', name: 'web-6d4cf56db6-lx2vr', namespace: 'default' };

describe.skipIf(cgroup2 === undefined)('tc --net-interface pods', () => {
  let kubelet: http.Server;
  let agent: RunningAgent;
  const created: string[] = [];
  const sleepers: ChildProcess[] = [];
  const veths: VethPair[] = [];

  beforeAll(async () => {
    kubelet = http.createServer((req, res) => {
      if (req.url === '/pods') res.writeHead(200, { 'Content-Type': 'application/json' }).end(podList);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => kubelet.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    for (const s of sleepers) s.kill('SIGKILL');
    await killAllAgents();
    for (const v of veths) v.destroy();
    for (const dir of created.reverse()) {
      try {
        rmdirSync(dir);
      } catch {
        // already gone
      }
    }
    kubelet?.close();
    await expectNoAgentPrograms();
  });

  it('attaches to a pod-like namespace with its pod labels, and drops it after the retention when it goes', async () => {
    // A namespace with no process in a pod cgroup: a veth, but not a pod's.
    const plain = createVethPair(`q${process.pid % 10000}`);
    veths.push(plain);
    agent = await startAgent([
      '--programs',
      'tc',
      '--net-interface',
      'pods',
      '--interval',
      '500ms',
      // New series are held at 0 for --scrape-interval + --interval (600 ms here) before they show their counts.
      '--scrape-interval',
      '100ms',
      '--exited-retention',
      '3s',
      '--kubelet-url',
      `http://127.0.0.1:${(kubelet.address() as AddressInfo).port}`,
    ]);
    const ids = programsHeldBy(agent.process.pid!);
    // The pod: its sandbox process in a kubelet-style pod cgroup, in the namespace at the far end of the veth.
    const pod = createVethPair(`p${process.pid % 10000}`);
    veths.push(pod);
    let dir = path.join(cgroup2!, `eoa-test-${process.pid}`);
    // The base too: afterAll removes what was made, deepest first.
    mkdirSync(dir, { recursive: true });
    created.push(dir);
    for (const part of ['kubepods', 'besteffort', `pod${WEB.uid}`, 'f1'.repeat(32)]) {
      dir = path.join(dir, part);
      mkdirSync(dir, { recursive: true });
      created.push(dir);
    }
    const sleeper = spawn(
      'sh',
      ['-c', `echo $$ > ${path.join(dir, 'cgroup.procs')} && exec ip netns exec ${pod.namespace} sleep 600`],
      { stdio: 'ignore' },
    );
    sleepers.push(sleeper);
    await waitFor(
      'the pod veth to be attached',
      async () => {
        const s = await agent.waitPolls(1);
        return total(s, 'ebpf_agent_tc_attached', { network_interface_name: pod.host }) === 1 ? true : undefined;
      },
      30_000,
    );
    expect(agent.stderr()).toMatch(new RegExp(`tc attached.*interface=${pod.host}`));
    const b = await agent.waitPolls(1);
    const sent = inject(pod, 'udp:5,tcp:3');
    const sentBack = inject(pod, 'udp:2', 'host');
    const a = await agent.waitPolls(3);
    const labels = { network_interface_name: pod.host, k8s_pod_name: WEB.name, k8s_namespace_name: WEB.namespace };
    expect(delta(b, a, 'ebpf_network_packets_total', { ...labels, network_io_direction: 'receive' })).toBe(8);
    expect(delta(b, a, 'ebpf_network_bytes_total', { ...labels, network_io_direction: 'receive' })).toBe(
      sent.udp!.bytes + sent.tcp!.bytes,
    );
    expect(delta(b, a, 'ebpf_network_packets_total', { ...labels, network_io_direction: 'transmit' })).toBe(2);
    expect(delta(b, a, 'ebpf_network_bytes_total', { ...labels, network_io_direction: 'transmit' })).toBe(
      sentBack.udp!.bytes,
    );
    for (const s of seriesOf(a, 'ebpf_network_packets_total', { network_interface_name: pod.host })) {
      expect(s.labels.k8s_pod_uid).toBe(WEB.uid);
      expect(s.labels.container_id).toBeUndefined();
    }
    // The veth whose namespace holds no pod process is not counted.
    expect(seriesOf(a, 'ebpf_agent_tc_attached', { network_interface_name: plain.host })).toEqual([]);

    // The pod goes: its veth is detached at once, its series stay for --exited-retention (3 s), then leave.
    sleeper.kill('SIGKILL');
    pod.destroy();
    const gone = await waitFor('the pod veth to be detached', async () => {
      const s = await agent.waitPolls(1);
      return total(s, 'ebpf_agent_tc_attached', { network_interface_name: pod.host }) === 0 ? s : undefined;
    });
    expect(total(gone, 'ebpf_network_packets_total', labels)).toBeGreaterThanOrEqual(10);
    await waitFor(
      'the pod series to leave',
      async () => {
        const s = await agent.waitPolls(1);
        return seriesOf(s, 'ebpf_network_packets_total', { network_interface_name: pod.host }).length === 0 &&
          seriesOf(s, 'ebpf_agent_tc_attached', { network_interface_name: pod.host }).length === 0
          ? true
          : undefined;
      },
      15_000,
    );
    // Still ready (pods come and go), and still holding its own programs only.
    expect((await fetch(`http://127.0.0.1:${agent.port}/readyz`)).status).toBe(200);
    expect(programsHeldBy(agent.process.pid!).sort()).toEqual(ids.sort());
    expect(agentPrograms().sort()).toEqual(ids.sort());
    expect((await agent.stop('SIGTERM')).code).toBe(0);
    await expectProgramsGone(ids);
  });
});

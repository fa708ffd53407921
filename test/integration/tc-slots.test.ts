// tc past its slot limit: TC_SLOTS (256) interfaces are counted at once. In a test-made network namespace with
// TC_SLOTS + 2 veth pairs (and the agent run inside it), every interface is attached, exactly TC_SLOTS are counted,
// and the two left over are counted where users see them: each once in
// ebpf_agent_map_updates_dropped_total{program="tc",map="tc_slots"}, and each of their packets in
// {map="tc_counts"}. When a counted interface goes and its series leave, its slot goes to one of the two.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TC_GEOMETRY } from '../../src/bpf/layouts.ts';
import {
  expectNoAgentPrograms,
  expectProgramsGone,
  injectPath,
  killAllAgents,
  programsHeldBy,
  seriesOf,
  startAgent,
  total,
  waitFor,
  type Sample,
} from './harness.ts';

const SLOTS = TC_GEOMETRY.values.TC_SLOTS;
const PAIRS = SLOTS + 2;
const tag = `s${process.pid % 10000}`;
const NS = `eoa-${tag}`;
// The test's way in: a veth pair from this namespace into NS, the agent listening on its far end.
const HOST_END = `eoa${tag}h`;
const NS_END = `eoa${tag}n`;
const AGENT_ADDRESS = '10.219.0.2';
const counted = (i: number): string => `slot${i}`;
const DROPS = 'ebpf_agent_map_updates_dropped_total';

function ip(args: string[], input?: string): string {
  return execFileSync('ip', args, {
    encoding: 'utf8',
    input,
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
}

function teardown(): void {
  for (const args of [
    ['link', 'del', HOST_END],
    ['netns', 'del', NS],
  ]) {
    try {
      ip(args);
    } catch {
      // not there
    }
  }
}

/** Sends one IPv4/UDP frame (inject.py's) out of each interface in NS; returns the frame's length. */
function sendOneEach(names: readonly string[]): number {
  const script = [
    'import json, socket, sys, types',
    `sys.path.insert(0, ${JSON.stringify(injectPath.replace(/\/[^/]+$/, ''))})`,
    'from inject import build_frame',
    "args = types.SimpleNamespace(src_mac='02:00:00:00:00:01', dst_mac='02:00:00:00:00:02', src_ip='10.220.0.1',",
    "    dst_ip='10.220.0.2', src_ip6=None, dst_ip6=None, payload_len=64)",
    "frame = build_frame('udp', args)",
    'for name in sys.argv[1:]:',
    '    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)',
    '    s.bind((name, 0))',
    '    assert s.send(frame) == len(frame)',
    '    s.close()',
    'print(json.dumps(len(frame)))',
  ].join('\n');
  return JSON.parse(ip(['netns', 'exec', NS, 'python3', '-c', script, ...names])) as number;
}

function delta(before: Sample[], after: Sample[], name: string, labels: Record<string, string>): number {
  return total(after, name, labels) - total(before, name, labels);
}

/** Interfaces with a tc packet count in `after` above `before` (transmit), and by how much. */
function countedPackets(before: Sample[], after: Sample[]): Map<string, number> {
  const out = new Map<string, number>();
  for (let i = 0; i < PAIRS; i++) {
    const labels = { network_interface_name: counted(i), network_io_direction: 'transmit' };
    const n = delta(before, after, 'ebpf_network_packets_total', labels);
    if (n !== 0) out.set(counted(i), n);
  }
  return out;
}

describe('tc past its slot limit', () => {
  beforeAll(() => {
    teardown();
    ip(['netns', 'add', NS]);
    // Silent interfaces: no IPv6 (router solicitations, MLD) on any of them; none has an address, so no ARP.
    for (const key of ['all', 'default']) {
      ip(['netns', 'exec', NS, 'sysctl', '-qw', `net.ipv6.conf.${key}.disable_ipv6=1`]);
    }
    const batch: string[] = [];
    for (let i = 0; i < PAIRS; i++) {
      batch.push(`link add ${counted(i)} type veth peer name peer${i}`);
      batch.push(`link set ${counted(i)} up`, `link set peer${i} up`);
    }
    ip(['-n', NS, '-batch', '-'], `${batch.join('\n')}\n`);
    ip(['link', 'add', HOST_END, 'type', 'veth', 'peer', 'name', NS_END, 'netns', NS]);
    execFileSync('sysctl', ['-qw', `net.ipv6.conf.${HOST_END}.disable_ipv6=1`]);
    ip(['addr', 'add', '10.219.0.1/30', 'dev', HOST_END]);
    ip(['link', 'set', HOST_END, 'up']);
    ip(['-n', NS, 'addr', 'add', `${AGENT_ADDRESS}/30`, 'dev', NS_END]);
    ip(['-n', NS, 'link', 'set', NS_END, 'up']);
    ip(['-n', NS, 'link', 'set', 'lo', 'up']);
  }, 120_000);
  afterAll(async () => {
    await killAllAgents();
    teardown();
    await expectNoAgentPrograms();
  });

  it(`attaches to all ${PAIRS} interfaces, counts ${SLOTS}, and counts what it cannot count`, async () => {
    const agent = await startAgent(
      [
        '--programs',
        'tc',
        '--net-interface',
        'slot*',
        '--interval',
        '500ms',
        // New series are held at 0 for --scrape-interval + --interval (600 ms here) before they show their counts.
        '--scrape-interval',
        '100ms',
        '--exited-retention',
        '1s',
      ],
      { netns: NS, host: AGENT_ADDRESS },
    );
    const ids = programsHeldBy(agent.process.pid!);
    expect(ids.length).toBe(2);
    const start = await agent.waitPolls(1);
    // Every interface is attached (ready means all attachments are in place), its two links held by the agent.
    for (let i = 0; i < PAIRS; i++) {
      expect(total(start, 'ebpf_agent_tc_attached', { network_interface_name: counted(i) }), counted(i)).toBe(1);
    }
    expect(seriesOf(start, 'ebpf_agent_tc_attached')).toHaveLength(PAIRS);
    // The two beyond the limit: each once in tc_slots, and the counters map full.
    const tc = { program: 'tc' };
    expect(total(start, DROPS, { ...tc, map: 'tc_slots' })).toBe(2);
    expect(total(start, DROPS, { ...tc, map: 'tc_counts' })).toBe(0);
    expect(total(start, 'ebpf_agent_map_entries', { ...tc, map: 'tc_counts' })).toBe(
      total(start, 'ebpf_agent_map_capacity', { ...tc, map: 'tc_counts' }),
    );
    expect(agent.stderr()).toMatch(/more than 256 interfaces to count/);

    // One frame out of each interface: SLOTS of them counted exactly, the other 2 frames counted as dropped.
    const names = Array.from({ length: PAIRS }, (_, i) => counted(i));
    const bytes = sendOneEach(names);
    const after = await agent.waitPolls(3);
    const seen = countedPackets(start, after);
    expect(seen.size).toBe(SLOTS);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    for (const name of seen.keys()) {
      const labels = { network_interface_name: name, network_io_direction: 'transmit' };
      expect(delta(start, after, 'ebpf_network_bytes_total', labels), name).toBe(bytes);
    }
    expect(delta(start, after, DROPS, { ...tc, map: 'tc_counts' })).toBe(2);
    const left = names.filter((n) => !seen.has(n));
    expect(left).toHaveLength(2);
    for (const name of left)
      expect(seriesOf(after, 'ebpf_network_packets_total', { network_interface_name: name })).toEqual([]);

    // A counted interface goes: detached at once, its series leave after --exited-retention (1 s), and its slot
    // is given to one of the two (at the poll after the one its series left with).
    const goner = [...seen.keys()][0]!;
    ip(['-n', NS, 'link', 'del', goner]);
    await waitFor(
      'the gone interface to leave',
      async () => {
        const s = await agent.waitPolls(1);
        return seriesOf(s, 'ebpf_agent_tc_attached', { network_interface_name: goner }).length === 0 ? true : undefined;
      },
      15_000,
    );
    const before = await agent.waitPolls(2);
    sendOneEach(left);
    const later = await agent.waitPolls(3);
    const now = countedPackets(before, later);
    expect(now.size).toBe(1);
    expect(left).toContain([...now.keys()][0]);
    expect([...now.values()][0]).toBe(1);
    expect(delta(before, later, DROPS, { ...tc, map: 'tc_counts' })).toBe(1);
    // Counted once each: no new refusals.
    expect(total(later, DROPS, { ...tc, map: 'tc_slots' })).toBe(2);

    expect((await agent.stop('SIGTERM')).code).toBe(0);
    await expectProgramsGone(ids);
  }, 180_000);

  it("gives back a far interface's entry in tc_slot_far when its series leave (the hash never fills with gone ones)", async () => {
    // Ifindexes past TC_IFINDEX_NEAR find their slot in tc_slot_far, a hash of TC_SLOTS entries. On a node they only
    // grow as pods come and go: an entry left behind by each gone interface would fill it.
    const far = 'far0';
    const index = TC_GEOMETRY.values.TC_IFINDEX_NEAR + 1000 + (process.pid % 1000);
    ip(['-n', NS, 'link', 'add', far, 'index', String(index), 'type', 'veth', 'peer', 'name', 'pfar0']);
    ip(['-n', NS, 'link', 'set', far, 'up']);
    ip(['-n', NS, 'link', 'set', 'pfar0', 'up']);
    const agent = await startAgent(
      [
        '--programs',
        'tc',
        '--net-interface',
        far,
        '--interval',
        '500ms',
        '--scrape-interval',
        '100ms',
        '--exited-retention',
        '1s',
      ],
      { netns: NS, host: AGENT_ADDRESS },
    );
    const ids = programsHeldBy(agent.process.pid!);
    const farEntries = (): { key: unknown; value: unknown }[] => {
      const prog = JSON.parse(
        execFileSync('bpftool', ['prog', 'show', 'id', String(ids[0]), '--json'], { encoding: 'utf8' }),
      ) as { map_ids: number[] };
      for (const id of prog.map_ids) {
        const map = JSON.parse(
          execFileSync('bpftool', ['map', 'show', 'id', String(id), '--json'], { encoding: 'utf8' }),
        ) as { name: string };
        if (map.name === 'tc_slot_far') {
          return JSON.parse(
            execFileSync('bpftool', ['map', 'dump', 'id', String(id), '--json'], { encoding: 'utf8' }),
          ) as { key: unknown; value: unknown }[];
        }
      }
      throw new Error("no tc_slot_far among the program's maps");
    };
    expect(farEntries()).toHaveLength(1);
    // Counted through it.
    const before = await agent.waitPolls(1);
    const bytes = sendOneEach([far]);
    const after = await agent.waitPolls(3);
    const labels = { network_interface_name: far, network_io_direction: 'transmit' };
    expect(delta(before, after, 'ebpf_network_packets_total', labels)).toBe(1);
    expect(delta(before, after, 'ebpf_network_bytes_total', labels)).toBe(bytes);
    // Gone: detached, its series leave after --exited-retention, then its slot and its entry go.
    ip(['-n', NS, 'link', 'del', far]);
    await waitFor(
      'the far interface to leave',
      async () => {
        const s = await agent.waitPolls(1);
        return seriesOf(s, 'ebpf_agent_tc_attached', { network_interface_name: far }).length === 0 ? true : undefined;
      },
      15_000,
    );
    await agent.waitPolls(1);
    expect(farEntries()).toEqual([]);
    expect((await agent.stop('SIGTERM')).code).toBe(0);
    await expectProgramsGone(ids);
  }, 120_000);
});

// One AgentSnapshot with every program, every optional part and awkward label values: the input of the golden
// /metrics text (fixtures/metrics-golden.prom), which pins the exposition byte for byte.
import type { AgentSnapshot } from '../../src/export/metrics.ts';

const T0 = 1_700_000_000_000;
const CONTAINER = '3f2a'.repeat(16);

export function richSnapshot(): AgentSnapshot {
  return {
    timeMs: T0 + 12_345,
    agentStartMs: T0,
    syscalls: {
      series: [
        {
          pid: undefined,
          comm: 'nginx',
          syscall: 'read',
          value: 40,
          startMs: T0 + 1_000,
          attribution: { containerId: 'c0ffee', podUid: '8d3f-uid', podName: 'web-0', podNamespace: 'shop' },
        },
        {
          pid: undefined,
          comm: 'a\\b"c\nd',
          syscall: 'write',
          value: 5,
          startMs: T0 + 1_500,
          attribution: { podName: 'x' },
        },
        { pid: undefined, comm: 'other', syscall: 'openat', value: 17, startMs: T0 + 6_000, attribution: {} },
      ],
      foldedTotal: 12,
      processes: [
        {
          pid: 100,
          comm: 'nginx',
          syscall: 'read',
          value: 40,
          startMs: T0 + 1_000,
          attribution: { containerId: 'c0ffee', podUid: '8d3f-uid', podName: 'web-0', podNamespace: 'shop' },
        },
        { pid: 101, comm: 'a\\b"c\nd', syscall: 'write', value: 5, startMs: T0 + 1_500, attribution: { podName: 'x' } },
        { pid: 'other', comm: 'other', syscall: 'openat', value: 17, startMs: T0 + 6_000, attribution: {} },
      ],
      processFoldedTotal: 4,
      processEndedEarlyTotal: 1,
    },
    exec: {
      series: [
        { comm: 'ls', parentComm: 'bash', value: 4, startMs: T0 + 3_000 },
        { comm: 'other', parentComm: 'other', value: 9, startMs: T0 + 7_000 },
      ],
      foldedTotal: 3,
      endedEarlyTotal: 1,
    },
    cpu: {
      series: [
        {
          pid: undefined,
          comm: 'stress',
          syscall: 'cpu',
          value: 250,
          startMs: T0 + 500,
          attribution: { containerId: 'beef' },
        },
      ],
      foldedTotal: 1,
      processes: [
        {
          pid: 7,
          comm: 'stress',
          syscall: 'cpu',
          value: 250,
          startMs: T0 + 500,
          attribution: { containerId: 'beef' },
        },
      ],
      processFoldedTotal: 0,
      idle: 1234,
      hz: 99,
    },
    execLog: { writeErrors: 2 },
    execHandler: {
      runs: 6,
      failures: 1,
      timeouts: 2,
      dropped: { rate_limit: 3, concurrency: 4 },
      filtered: 5,
      own: 7,
      running: 1,
    },
    programStats: [
      { program: 'syscalls', bpfProgram: 'sys_enter', runTimeNs: 1_234_567_891, runCount: 99 },
      { program: 'exec', bpfProgram: 'handle_exec', runTimeNs: 5_000, runCount: 2 },
    ],
    xdp: {
      counts: [
        { interfaceName: 'eth0', networkType: 'ipv4', transport: 'tcp', packets: 10, bytes: 1500, truncatedPackets: 0 },
        { interfaceName: 'eth0', networkType: 'ipv6', transport: 'udp', packets: 2, bytes: 300, truncatedPackets: 1 },
        { interfaceName: 'veth1', networkType: 'arp', transport: 'other', packets: 1, bytes: 42, truncatedPackets: 1 },
      ],
      interfaces: [
        { name: 'eth0', ifindex: 2, mode: 'native', attached: true, losses: 0 },
        { name: 'veth1', ifindex: 9, mode: 'generic', attached: false, losses: 2 },
      ],
    },
    tc: {
      counts: [
        {
          interfaceName: 'eth0',
          direction: 'receive',
          networkType: 'ipv4',
          transport: 'tcp',
          packets: 12,
          bytes: 1800,
          truncatedPackets: 0,
          pod: {},
        },
        {
          interfaceName: 'eth0',
          direction: 'transmit',
          networkType: 'ipv6',
          transport: 'icmpv6',
          packets: 3,
          bytes: 258,
          truncatedPackets: 1,
          pod: {},
        },
        {
          interfaceName: 'lxc12ab',
          direction: 'transmit',
          networkType: 'ipv4',
          transport: 'udp',
          packets: 4,
          bytes: 400,
          truncatedPackets: 0,
          pod: {
            podUid: '5b8d1f3a-7c9e-4b2d-a4f6-8e0c2a4b6d8f',
            podName: 'web-6d4cf56db6-lx2vr',
            podNamespace: 'default',
          },
        },
      ],
      interfaces: [
        { name: 'eth0', ifindex: 2, attached: true, pod: {} },
        { name: 'lxc12ab', ifindex: 14, attached: false, pod: { podUid: '5b8d1f3a-7c9e-4b2d-a4f6-8e0c2a4b6d8f' } },
      ],
      attachFailures: 3,
    },
    tcp: {
      series: [
        {
          pid: undefined,
          comm: 'curl',
          syscall: 'connect_attempts',
          value: 7,
          startMs: T0 + 2_000,
          attribution: { containerId: 'c0ffee', podUid: '8d3f-uid', podName: 'web-0', podNamespace: 'shop' },
        },
        {
          pid: undefined,
          comm: 'curl',
          syscall: 'connect_failures',
          value: 2,
          startMs: T0 + 2_000,
          attribution: { containerId: 'c0ffee', podUid: '8d3f-uid', podName: 'web-0', podNamespace: 'shop' },
        },
        {
          pid: undefined,
          comm: 'curl',
          syscall: 'resets_received',
          value: 2,
          startMs: T0 + 2_000,
          attribution: { containerId: 'c0ffee', podUid: '8d3f-uid', podName: 'web-0', podNamespace: 'shop' },
        },
        { pid: undefined, comm: 'nginx', syscall: 'retransmits', value: 11, startMs: T0 + 1_000, attribution: {} },
        { pid: undefined, comm: 'nginx', syscall: 'resets_sent', value: 1, startMs: T0 + 1_000, attribution: {} },
      ],
      latency: [
        {
          comm: 'curl',
          attribution: { containerId: 'c0ffee', podUid: '8d3f-uid', podName: 'web-0', podNamespace: 'shop' },
          // 3 handshakes ≤ 32 µs, 1 ≤ 128 µs, 1 over 4.19 s.
          counts: [0, 0, 3, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
          sum: 5.000125,
          startMs: T0 + 2_000,
        },
      ],
      folded: {
        retransmits: 0,
        resets_sent: 0,
        resets_received: 1,
        connect_attempts: 0,
        connect_failures: 0,
        latency: 2,
      },
      unowned: 6,
    },
    exits: {
      exits: {
        series: [
          {
            labels: { executable: 'nginx', reason: 'exited', codeClass: '0', attribution: {} },
            value: 5,
            startMs: T0 + 1_000,
          },
          {
            labels: {
              executable: 'java',
              reason: 'signaled',
              signal: 'SIGKILL',
              coreDumped: false,
              attribution: {
                containerId: CONTAINER,
                podUid: '5b8d1f3a-7c9e-4b2d-a4f6-8e0c2a4b6d8f',
                podName: 'web-6d4cf56db6-lx2vr',
                podNamespace: 'default',
              },
            },
            value: 2,
            startMs: T0 + 2_000,
          },
          {
            labels: { executable: 'other', reason: 'exited', codeClass: 'nonzero', attribution: {} },
            value: 1,
            startMs: T0 + 4_000,
          },
        ],
        foldedTotal: 1,
      },
      oomKills: {
        series: [
          {
            labels: {
              executable: 'java',
              attribution: {
                containerId: CONTAINER,
                podUid: '5b8d1f3a-7c9e-4b2d-a4f6-8e0c2a4b6d8f',
                podName: 'web-6d4cf56db6-lx2vr',
                podNamespace: 'default',
              },
            },
            value: 2,
            startMs: T0 + 2_000,
          },
        ],
        foldedTotal: 0,
      },
    },
    otlpLogs: { exported: 40, dropped: { queue_full: 2, export_failed: 3 } },
    drops: [
      { program: 'syscalls', eventsLost: 5, mapFull: { syscall_counts: 1, syscall_procs: 0 } },
      { program: 'exec', eventsLost: 0, mapFull: {} },
    ],
    mapFill: [{ program: 'syscalls', map: 'syscall_counts', entries: 3, capacity: 65536 }],
    attached: [
      { program: 'syscalls', attached: true },
      { program: 'exec', attached: false },
    ],
    polls: 3,
    pollErrors: { agent: 1, syscalls: 2, exec: 0 },
    pollDuration: {
      boundaries: [0.001, 0.01, 0.1],
      counts: [1, 2, 0, 1],
      sum: 0.75,
      count: 4,
      min: 0.0005,
      max: 0.5,
    },
    scrapeDuration: { boundaries: [0.001, 0.01], counts: [0, 0, 0], sum: 0, count: 0, min: Infinity, max: -Infinity },
    usage: { userSeconds: 12.25, systemSeconds: 3.5, rssBytes: 70_123_520, peakRssBytes: 98_566_144 },
    build: { version: '1.2.3', libbpf: '1.1.2', kernel: '6.18.0' },
  };
}

// AgentSnapshot → OpenTelemetry metric data → Prometheus text, checked line by line, and by promtool when present.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ValueType } from '@opentelemetry/api';
import { AggregationTemporality, DataPointType, type MetricData } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import type { Attribution, ExecSeries, SyscallSeries } from '../../src/collector/series.ts';
import type { SyscallName } from '../../src/collector/syscalls.ts';
import {
  buildMetrics,
  buildResourceMetrics,
  hrTime,
  newHistogram,
  recordHistogram,
  type AgentSnapshot,
  type HistogramState,
} from '../../src/export/metrics.ts';
import { escapeLabelValue, prometheusName, serialize } from '../../src/export/prometheus.ts';
import { agentResource } from '../../src/export/resource.ts';

const T0 = 1_700_000_000_000; // agent start
const NOW = T0 + 10_000;

function histogram(): HistogramState {
  const h = newHistogram([0.001, 0.01, 0.1]);
  h.counts = [1, 2, 0, 1];
  h.sum = 0.75;
  h.count = 4;
  h.min = 0.0005;
  h.max = 0.5;
  return h;
}

function sys(
  pid: SyscallSeries['pid'],
  comm: string,
  syscall: SyscallName,
  value: number,
  startMs: number,
  attribution: Attribution = {},
): SyscallSeries {
  return { pid, comm, syscall, value, startMs, attribution };
}

/** The shaped series of process 100 (curl), as the shaper publishes them: zero counts are not there. */
const curl: SyscallSeries[] = [
  sys(100, 'curl', 'openat', 3, T0 + 1_500),
  sys(100, 'curl', 'write', 7, T0 + 1_500),
  sys(100, 'curl', 'connect', 1, T0 + 1_500),
];
const exitedWeird: SyscallSeries[] = [sys(200, 'a\\b"c\nd', 'connect', 2, T0 + 2_000)];

const execs: ExecSeries[] = [
  { comm: 'ls', parentComm: 'bash', value: 4, startMs: T0 + 3_000 },
  { comm: 'sh', parentComm: 'cron', value: 1, startMs: T0 + 4_000 },
];

const SYSCALLS_HELP =
  '# HELP ebpf_syscalls_total System calls made by every process that ran the executable, exited ones included (for rate() and sum()); executable "other" holds the series beyond the budget.';

function agentSnapshot(overrides: Partial<AgentSnapshot> = {}): AgentSnapshot {
  return {
    timeMs: NOW,
    agentStartMs: T0,
    syscalls: { series: [...curl, ...exitedWeird], foldedTotal: 0 },
    exec: { series: execs, foldedTotal: 0, endedEarlyTotal: 0 },
    xdp: {
      counts: [
        { interfaceName: 'eth0', networkType: 'ipv4', transport: 'tcp', packets: 10, bytes: 1500, truncatedPackets: 0 },
        { interfaceName: 'eth0', networkType: 'ipv6', transport: 'udp', packets: 2, bytes: 300, truncatedPackets: 1 },
      ],
      interfaces: [{ name: 'eth0', ifindex: 2, mode: 'native', attached: true, losses: 0 }],
    },
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
    pollErrors: { agent: 1 },
    pollDuration: histogram(),
    build: { version: '1.2.3', libbpf: '1.1.2', kernel: '6.18.0' },
    ...overrides,
  };
}

function prometheusText(snapshot: AgentSnapshot, hostName = 'node-a'): string {
  return serialize(buildResourceMetrics(agentResource('1.2.3', hostName), '1.2.3', snapshot));
}

/** The HELP, TYPE and sample lines of one family (histograms: with their _bucket, _sum, _count samples). */
function family(text: string, name: string, suffixes: string[] = ['']): string[] {
  return text
    .split('\n')
    .filter(
      (line) =>
        line.startsWith(`# HELP ${name} `) ||
        line.startsWith(`# TYPE ${name} `) ||
        suffixes.some((s) => line.startsWith(`${name}${s}{`) || line.startsWith(`${name}${s} `)),
    );
}

describe('Prometheus text of an AgentSnapshot', () => {
  const text = prometheusText(agentSnapshot());

  it('ends every line with a newline and has no blank lines', () => {
    expect(text.endsWith('\n')).toBe(true);
    expect(
      text
        .split('\n')
        .slice(0, -1)
        .filter((l) => l === ''),
    ).toEqual([]);
  });

  it('has target_info with the service and host', () => {
    expect(family(text, 'target_info')).toEqual([
      '# HELP target_info Target metadata',
      '# TYPE target_info gauge',
      'target_info{service_name="ebpf-otel-agent",service_version="1.2.3",host_name="node-a"} 1',
    ]);
  });

  it('has ebpf_syscalls_total by pid, executable and syscall, in the order of the shaped series', () => {
    expect(family(text, 'ebpf_syscalls_total')).toEqual([
      SYSCALLS_HELP,
      '# TYPE ebpf_syscalls_total counter',
      'ebpf_syscalls_total{process_pid="100",process_executable_name="curl",syscall="openat"} 3',
      'ebpf_syscalls_total{process_pid="100",process_executable_name="curl",syscall="write"} 7',
      'ebpf_syscalls_total{process_pid="100",process_executable_name="curl",syscall="connect"} 1',
      'ebpf_syscalls_total{process_pid="200",process_executable_name="a\\\\b\\"c\\nd",syscall="connect"} 2',
    ]);
  });

  it('has ebpf_process_execs_total by executable and parent executable', () => {
    expect(family(text, 'ebpf_process_execs_total')).toEqual([
      '# HELP ebpf_process_execs_total Successful execve/execveat calls, by executable name after the exec and parent executable name.',
      '# TYPE ebpf_process_execs_total counter',
      'ebpf_process_execs_total{process_executable_name="ls",process_parent_executable_name="bash"} 4',
      'ebpf_process_execs_total{process_executable_name="sh",process_parent_executable_name="cron"} 1',
    ]);
  });

  it('has ebpf_xdp_packets_total and ebpf_xdp_bytes_total by interface, type and transport', () => {
    expect(family(text, 'ebpf_xdp_packets_total')).toEqual([
      '# HELP ebpf_xdp_packets_total Packets received, by interface, network layer and transport.',
      '# TYPE ebpf_xdp_packets_total counter',
      'ebpf_xdp_packets_total{network_interface_name="eth0",network_type="ipv4",network_transport="tcp"} 10',
      'ebpf_xdp_packets_total{network_interface_name="eth0",network_type="ipv6",network_transport="udp"} 2',
    ]);
    expect(family(text, 'ebpf_xdp_bytes_total')).toEqual([
      '# HELP ebpf_xdp_bytes_total Bytes received (frame length), by interface, network layer and transport.',
      '# TYPE ebpf_xdp_bytes_total counter',
      'ebpf_xdp_bytes_total{network_interface_name="eth0",network_type="ipv4",network_transport="tcp"} 1500',
      'ebpf_xdp_bytes_total{network_interface_name="eth0",network_type="ipv6",network_transport="udp"} 300',
    ]);
  });

  it('has ebpf_agent_events_lost_total by program', () => {
    expect(family(text, 'ebpf_agent_events_lost_total')).toEqual([
      '# HELP ebpf_agent_events_lost_total Kernel events lost because a ring buffer was full, by program.',
      '# TYPE ebpf_agent_events_lost_total counter',
      'ebpf_agent_events_lost_total{program="syscalls"} 5',
      'ebpf_agent_events_lost_total{program="exec"} 0',
    ]);
  });

  it('has the map drop counters and the attachment gauge', () => {
    expect(family(text, 'ebpf_agent_map_updates_dropped_total').slice(2)).toEqual([
      'ebpf_agent_map_updates_dropped_total{program="syscalls",map="syscall_counts"} 1',
      'ebpf_agent_map_updates_dropped_total{program="syscalls",map="syscall_procs"} 0',
    ]);
    expect(family(text, 'ebpf_agent_program_attached').slice(1)).toEqual([
      '# TYPE ebpf_agent_program_attached gauge',
      'ebpf_agent_program_attached{program="syscalls"} 1',
      'ebpf_agent_program_attached{program="exec"} 0',
    ]);
    expect(family(text, 'ebpf_agent_polls_total').slice(2)).toEqual(['ebpf_agent_polls_total 3']);
    expect(family(text, 'ebpf_agent_poll_errors_total').slice(2)).toEqual([
      'ebpf_agent_poll_errors_total{program="agent"} 1',
    ]);
  });

  it('has the poll duration histogram with cumulative buckets, +Inf, _sum and _count', () => {
    expect(family(text, 'ebpf_agent_poll_duration_seconds', ['_bucket', '_sum', '_count'])).toEqual([
      '# HELP ebpf_agent_poll_duration_seconds Time to read, decode and publish one poll.',
      '# TYPE ebpf_agent_poll_duration_seconds histogram',
      'ebpf_agent_poll_duration_seconds_bucket{le="0.001"} 1',
      'ebpf_agent_poll_duration_seconds_bucket{le="0.01"} 3',
      'ebpf_agent_poll_duration_seconds_bucket{le="0.1"} 3',
      'ebpf_agent_poll_duration_seconds_bucket{le="+Inf"} 4',
      'ebpf_agent_poll_duration_seconds_sum 0.75',
      'ebpf_agent_poll_duration_seconds_count 4',
    ]);
  });

  it('counts the series of each program metric', () => {
    expect(family(text, 'ebpf_agent_series').slice(2)).toEqual([
      'ebpf_agent_series{metric="ebpf_syscalls_total"} 4',
      'ebpf_agent_series{metric="ebpf_process_execs_total"} 2',
      'ebpf_agent_series{metric="ebpf_xdp_packets_total"} 2',
      'ebpf_agent_series{metric="ebpf_xdp_bytes_total"} 2',
      'ebpf_agent_series{metric="ebpf_xdp_truncated_packets_total"} 2',
    ]);
  });

  it('has ebpf_agent_series_folded_total, a counter by metric', () => {
    expect(family(text, 'ebpf_agent_series_folded_total')).toEqual([
      '# HELP ebpf_agent_series_folded_total Series folded into the "other" series of their metric because it was over its budget (--max-series for the aggregates, --max-process-series per process).',
      '# TYPE ebpf_agent_series_folded_total counter',
      'ebpf_agent_series_folded_total{metric="ebpf_syscalls_total"} 0',
      'ebpf_agent_series_folded_total{metric="ebpf_process_execs_total"} 0',
    ]);
  });

  it('has no family for a program that is not enabled', () => {
    const only = prometheusText(agentSnapshot({ exec: undefined, xdp: undefined }));
    expect(only).toContain('\nebpf_syscalls_total{');
    expect(only).not.toContain('ebpf_process_execs_total');
    expect(only).not.toContain('ebpf_xdp_');
    expect(family(only, 'ebpf_agent_series_folded_total').slice(2)).toEqual([
      'ebpf_agent_series_folded_total{metric="ebpf_syscalls_total"} 0',
    ]);
    const none = prometheusText(agentSnapshot({ syscalls: undefined, exec: undefined }));
    expect(family(none, 'ebpf_agent_series_folded_total')).toEqual([
      '# HELP ebpf_agent_series_folded_total Series folded into the "other" series of their metric because it was over its budget (--max-series for the aggregates, --max-process-series per process).',
      '# TYPE ebpf_agent_series_folded_total counter',
    ]);
  });

  it('drops the series of an exited process once a snapshot no longer has it', () => {
    const first = prometheusText(agentSnapshot());
    expect(first).toContain('ebpf_syscalls_total{process_pid="200",');
    const later = prometheusText(agentSnapshot({ timeMs: NOW + 5_000, syscalls: { series: curl, foldedTotal: 0 } }));
    expect(later).not.toContain('process_pid="200"');
    expect(family(later, 'ebpf_syscalls_total').slice(2)).toEqual([
      'ebpf_syscalls_total{process_pid="100",process_executable_name="curl",syscall="openat"} 3',
      'ebpf_syscalls_total{process_pid="100",process_executable_name="curl",syscall="write"} 7',
      'ebpf_syscalls_total{process_pid="100",process_executable_name="curl",syscall="connect"} 1',
    ]);
    expect(later).toContain('\nebpf_agent_series{metric="ebpf_syscalls_total"} 3\n');
  });

  it('escapes backslash, quote and newline in resource label values', () => {
    const weird = prometheusText(agentSnapshot(), 'host"with\\odd\nname');
    expect(family(weird, 'target_info')[2]).toBe(
      'target_info{service_name="ebpf-otel-agent",service_version="1.2.3",host_name="host\\"with\\\\odd\\nname"} 1',
    );
  });
});

/** A snapshot over its budget: attributed series, folded series of both metrics. */
const attributed: SyscallSeries[] = [
  sys(100, 'nginx', 'read', 40, T0 + 1_000, {
    containerId: 'c0ffee',
    podUid: '8d3f-uid',
    podName: 'web-0',
    podNamespace: 'shop',
  }),
  sys(101, 'sidecar', 'write', 5, T0 + 1_000, { containerId: 'beef' }),
  sys(102, 'ssh', 'connect', 1, T0 + 1_000, {}),
];
const foldedSyscalls: SyscallSeries[] = [
  sys('other', 'other', 'read', 17, T0 + 6_000),
  sys('other', 'other', 'openat', 2, T0 + 6_000),
];
const overBudget = (): AgentSnapshot =>
  agentSnapshot({
    syscalls: { series: [...attributed, ...foldedSyscalls], foldedTotal: 12 },
    exec: {
      series: [...execs, { comm: 'other', parentComm: 'other', value: 9, startMs: T0 + 7_000 }],
      foldedTotal: 3,
      endedEarlyTotal: 0,
    },
  });

/** Per-executable series (--no-pid-labels): no pid on own series, nor on the folded ones. */
const perExecutable = (): AgentSnapshot =>
  agentSnapshot({
    syscalls: {
      series: [
        sys(undefined, 'nginx', 'read', 100, T0 + 1_000, { containerId: 'c0ffee', podName: 'web-0' }),
        sys(undefined, 'nginx', 'read', 30, T0 + 1_000, { containerId: 'd00d', podName: 'web-1' }),
        sys(undefined, 'bash', 'write', 2, T0 + 2_000),
        sys(undefined, 'other', 'openat', 8, T0 + 3_000),
      ],
      foldedTotal: 1,
    },
  });

describe('Prometheus text: attribution, folded series and per-executable series', () => {
  const text = prometheusText(overBudget());

  it('adds container and pod labels only as far as they are known, after the process labels', () => {
    expect(family(text, 'ebpf_syscalls_total').slice(2, 5)).toEqual([
      'ebpf_syscalls_total{process_pid="100",process_executable_name="nginx",syscall="read",container_id="c0ffee",k8s_pod_uid="8d3f-uid",k8s_pod_name="web-0",k8s_namespace_name="shop"} 40',
      'ebpf_syscalls_total{process_pid="101",process_executable_name="sidecar",syscall="write",container_id="beef"} 5',
      'ebpf_syscalls_total{process_pid="102",process_executable_name="ssh",syscall="connect"} 1',
    ]);
  });

  it('labels a pod without a container id, and escapes attribution values', () => {
    const odd = prometheusText(
      agentSnapshot({
        syscalls: {
          series: [sys(7, 'x', 'read', 1, T0, { podName: 'a"b', podNamespace: 'n\\s\nx' })],
          foldedTotal: 0,
        },
      }),
    );
    expect(family(odd, 'ebpf_syscalls_total').slice(2)).toEqual([
      'ebpf_syscalls_total{process_pid="7",process_executable_name="x",syscall="read",k8s_pod_name="a\\"b",k8s_namespace_name="n\\\\s\\nx"} 1',
    ]);
  });

  it('publishes the folded series with process_pid and executable "other", one per syscall', () => {
    expect(family(text, 'ebpf_syscalls_total').slice(5)).toEqual([
      'ebpf_syscalls_total{process_pid="other",process_executable_name="other",syscall="read"} 17',
      'ebpf_syscalls_total{process_pid="other",process_executable_name="other",syscall="openat"} 2',
    ]);
  });

  it('publishes the folded exec series as other/other', () => {
    expect(family(text, 'ebpf_process_execs_total').slice(2)).toEqual([
      'ebpf_process_execs_total{process_executable_name="ls",process_parent_executable_name="bash"} 4',
      'ebpf_process_execs_total{process_executable_name="sh",process_parent_executable_name="cron"} 1',
      'ebpf_process_execs_total{process_executable_name="other",process_parent_executable_name="other"} 9',
    ]);
  });

  it('counts folds by metric in ebpf_agent_series_folded_total, and folded series in ebpf_agent_series', () => {
    expect(family(text, 'ebpf_agent_series_folded_total').slice(1)).toEqual([
      '# TYPE ebpf_agent_series_folded_total counter',
      'ebpf_agent_series_folded_total{metric="ebpf_syscalls_total"} 12',
      'ebpf_agent_series_folded_total{metric="ebpf_process_execs_total"} 3',
    ]);
    expect(family(text, 'ebpf_agent_series').slice(2, 4)).toEqual([
      'ebpf_agent_series{metric="ebpf_syscalls_total"} 5',
      'ebpf_agent_series{metric="ebpf_process_execs_total"} 3',
    ]);
  });

  it('leaves process_pid out of per-executable series, keeping executables in different containers apart', () => {
    expect(family(prometheusText(perExecutable()), 'ebpf_syscalls_total').slice(2)).toEqual([
      'ebpf_syscalls_total{process_executable_name="nginx",syscall="read",container_id="c0ffee",k8s_pod_name="web-0"} 100',
      'ebpf_syscalls_total{process_executable_name="nginx",syscall="read",container_id="d00d",k8s_pod_name="web-1"} 30',
      'ebpf_syscalls_total{process_executable_name="bash",syscall="write"} 2',
      'ebpf_syscalls_total{process_executable_name="other",syscall="openat"} 8',
    ]);
  });

  it('has an empty ebpf_syscalls_total family when the shaper has no series', () => {
    const empty = prometheusText(agentSnapshot({ syscalls: { series: [], foldedTotal: 4 } }));
    expect(family(empty, 'ebpf_syscalls_total')).toEqual([SYSCALLS_HELP, '# TYPE ebpf_syscalls_total counter']);
    expect(empty).toContain('\nebpf_agent_series{metric="ebpf_syscalls_total"} 0\n');
    expect(empty).toContain('\nebpf_agent_series_folded_total{metric="ebpf_syscalls_total"} 4\n');
  });
});

describe('OpenTelemetry data points', () => {
  const metrics = buildMetrics(agentSnapshot());
  const byName = (name: string): MetricData => {
    const metric = metrics.find((m) => m.descriptor.name === name);
    if (metric === undefined) throw new Error(`no metric ${name}`);
    return metric;
  };

  it('starts each process series at the process startMs and ends it at the snapshot time', () => {
    const syscalls = byName('ebpf.syscalls');
    expect(syscalls.dataPointType).toBe(DataPointType.SUM);
    expect(syscalls.aggregationTemporality).toBe(AggregationTemporality.CUMULATIVE);
    const points = syscalls.dataPoints.map((p) => [
      p.attributes['process.pid'],
      p.attributes['syscall'],
      p.startTime,
      p.endTime,
      p.value,
    ]);
    expect(points).toEqual([
      [100, 'openat', [1_700_000_001, 500_000_000], [1_700_000_010, 0], 3],
      [100, 'write', [1_700_000_001, 500_000_000], [1_700_000_010, 0], 7],
      [100, 'connect', [1_700_000_001, 500_000_000], [1_700_000_010, 0], 1],
      [200, 'connect', [1_700_000_002, 0], [1_700_000_010, 0], 2],
    ]);
  });

  it('starts exec series at their startMs and agent series at the agent start', () => {
    expect(byName('ebpf.process.execs').dataPoints.map((p) => p.startTime)).toEqual([
      [1_700_000_003, 0],
      [1_700_000_004, 0],
    ]);
    expect(byName('ebpf.xdp.packets').dataPoints.map((p) => p.startTime)).toEqual([
      [1_700_000_000, 0],
      [1_700_000_000, 0],
    ]);
    expect(byName('ebpf.agent.events_lost').dataPoints.map((p) => p.startTime)).toEqual([
      [1_700_000_000, 0],
      [1_700_000_000, 0],
    ]);
  });

  it('adds truncated packets up by interface and network type', () => {
    const truncated = byName('ebpf.xdp.truncated_packets').dataPoints.map((p) => [p.attributes, p.value]);
    expect(truncated).toEqual([
      [{ 'network.interface.name': 'eth0', 'network.type': 'ipv4' }, 0],
      [{ 'network.interface.name': 'eth0', 'network.type': 'ipv6' }, 1],
    ]);
  });

  it('gives attribution as OpenTelemetry attributes, folded series a string pid and per-executable series none', () => {
    const points = (snapshot: AgentSnapshot) => {
      const metric = buildMetrics(snapshot).find((m) => m.descriptor.name === 'ebpf.syscalls');
      return (metric?.dataPoints ?? []).map((p) => p.attributes);
    };
    const over = points(overBudget());
    expect(over[0]).toStrictEqual({
      'process.pid': 100,
      'process.executable.name': 'nginx',
      syscall: 'read',
      'container.id': 'c0ffee',
      'k8s.pod.uid': '8d3f-uid',
      'k8s.pod.name': 'web-0',
      'k8s.namespace.name': 'shop',
    });
    expect(over[2]).toStrictEqual({ 'process.pid': 102, 'process.executable.name': 'ssh', syscall: 'connect' });
    expect(over[3]).toStrictEqual({ 'process.pid': 'other', 'process.executable.name': 'other', syscall: 'read' });
    const perExe = points(perExecutable());
    for (const attributes of perExe) expect(Object.keys(attributes)).not.toContain('process.pid');
    expect(perExe[2]).toStrictEqual({ 'process.executable.name': 'bash', syscall: 'write' });
  });

  it('starts folded series at their startMs and the folded counter at the agent start', () => {
    const metrics = buildMetrics(overBudget());
    const find = (name: string): MetricData => {
      const metric = metrics.find((m) => m.descriptor.name === name);
      if (metric === undefined) throw new Error(`no metric ${name}`);
      return metric;
    };
    expect(find('ebpf.syscalls').dataPoints.map((p) => [p.value, p.startTime])).toEqual([
      [40, [1_700_000_001, 0]],
      [5, [1_700_000_001, 0]],
      [1, [1_700_000_001, 0]],
      [17, [1_700_000_006, 0]],
      [2, [1_700_000_006, 0]],
    ]);
    expect(find('ebpf.process.execs').dataPoints.map((p) => p.startTime)).toEqual([
      [1_700_000_003, 0],
      [1_700_000_004, 0],
      [1_700_000_007, 0],
    ]);
    const folded = find('ebpf.agent.series_folded');
    expect(folded.dataPointType).toBe(DataPointType.SUM);
    expect(folded.dataPointType === DataPointType.SUM && folded.isMonotonic).toBe(true);
    expect(folded.dataPoints.map((p) => [p.attributes, p.value, p.startTime, p.endTime])).toEqual([
      [{ metric: 'ebpf.syscalls' }, 12, [1_700_000_000, 0], [1_700_000_010, 0]],
      [{ metric: 'ebpf.process.execs' }, 3, [1_700_000_000, 0], [1_700_000_010, 0]],
    ]);
  });

  it('puts the metrics under the agent scope and resource', () => {
    const resource = agentResource('1.2.3', 'node-a');
    const rm = buildResourceMetrics(resource, '9.9.9', agentSnapshot());
    expect(rm.resource).toBe(resource);
    expect(rm.scopeMetrics.map((s) => s.scope)).toEqual([{ name: 'ebpf-otel-agent', version: '9.9.9' }]);
    expect(resource.attributes).toEqual({
      'service.name': 'ebpf-otel-agent',
      'service.version': '1.2.3',
      'host.name': 'node-a',
    });
  });

  it('leaves min and max out of an empty histogram', () => {
    const empty = buildMetrics(agentSnapshot({ pollDuration: newHistogram([1]) })).find(
      (m) => m.descriptor.name === 'ebpf.agent.poll.duration',
    );
    expect(empty?.dataPointType).toBe(DataPointType.HISTOGRAM);
    expect(empty?.dataPoints[0]?.value).toEqual({
      buckets: { boundaries: [1], counts: [0, 0] },
      sum: 0,
      count: 0,
      min: undefined,
      max: undefined,
    });
  });
});

describe('hrTime and recordHistogram', () => {
  it('splits milliseconds into seconds and nanoseconds', () => {
    expect(hrTime(1_700_000_001_500)).toEqual([1_700_000_001, 500_000_000]);
    expect(hrTime(1500.25)).toEqual([1, 500_250_000]);
    expect(hrTime(0)).toEqual([0, 0]);
  });

  it('puts a value equal to a boundary in that boundary’s bucket (le is inclusive)', () => {
    const h = newHistogram([1, 2]);
    for (const v of [0.5, 1, 1.5, 2, 3]) recordHistogram(h, v);
    expect(h).toEqual({ boundaries: [1, 2], counts: [2, 2, 1], sum: 8, count: 5, min: 0.5, max: 3 });
  });
});

describe('prometheusName and escapeLabelValue', () => {
  function metric(name: string, unit: string, kind: 'counter' | 'updown' | 'gauge'): MetricData {
    const descriptor = { name, description: '', unit, valueType: ValueType.INT };
    if (kind === 'gauge') {
      return {
        descriptor,
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.GAUGE,
        dataPoints: [],
      };
    }
    return {
      descriptor,
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.SUM,
      isMonotonic: kind === 'counter',
      dataPoints: [],
    };
  }

  it('turns dots into underscores and adds _total to monotonic sums only', () => {
    expect(prometheusName(metric('ebpf.syscalls', '{call}', 'counter'))).toBe('ebpf_syscalls_total');
    expect(prometheusName(metric('ebpf.syscalls', '{call}', 'updown'))).toBe('ebpf_syscalls');
    expect(prometheusName(metric('ebpf.agent.map_entries', '{entry}', 'gauge'))).toBe('ebpf_agent_map_entries');
    expect(prometheusName(metric('already_total', '', 'counter'))).toBe('already_total');
  });

  it('adds unit suffixes once', () => {
    expect(prometheusName(metric('ebpf.agent.poll.duration', 's', 'gauge'))).toBe('ebpf_agent_poll_duration_seconds');
    expect(prometheusName(metric('rtt', 'ms', 'gauge'))).toBe('rtt_milliseconds');
    expect(prometheusName(metric('ebpf.xdp.bytes', 'By', 'counter'))).toBe('ebpf_xdp_bytes_total');
    expect(prometheusName(metric('payload', 'By', 'counter'))).toBe('payload_bytes_total');
    expect(prometheusName(metric('wait_seconds', 's', 'gauge'))).toBe('wait_seconds');
  });

  it('replaces characters Prometheus does not allow and a leading digit', () => {
    expect(prometheusName(metric('1st.metric-name/x', '', 'gauge'))).toBe('_1st_metric_name_x');
  });

  it('escapes backslash, double quote and newline', () => {
    expect(escapeLabelValue('plain')).toBe('plain');
    expect(escapeLabelValue('a\\b')).toBe('a\\\\b');
    expect(escapeLabelValue('say "hi"')).toBe('say \\"hi\\"');
    expect(escapeLabelValue('two\nlines')).toBe('two\\nlines');
    expect(escapeLabelValue('\\n')).toBe('\\\\n'); // a literal backslash-n stays distinguishable from a newline
    expect(escapeLabelValue('tab\there ü')).toBe('tab\there ü');
  });
});

function findOnPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir !== '' && existsSync(path.join(dir, command))) return path.join(dir, command);
  }
  return existsSync(`/usr/bin/${command}`) ? `/usr/bin/${command}` : undefined;
}

const promtool = findOnPath('promtool');
if (promtool === undefined)
  console.warn('promtool is not installed: skipping the promtool check of the Prometheus text');

describe('promtool', () => {
  it.skipIf(promtool === undefined)(
    'accepts the serialized text with no lint findings',
    () => {
      for (const text of [
        prometheusText(agentSnapshot()),
        prometheusText(agentSnapshot(), 'odd"host\\\nname'),
        prometheusText(overBudget()),
        prometheusText(perExecutable()),
        prometheusText(agentSnapshot({ syscalls: { series: [], foldedTotal: 0 }, exec: undefined })),
      ]) {
        const result = spawnSync(promtool!, ['check', 'metrics'], { input: text, encoding: 'utf8' });
        expect(result.error).toBeUndefined();
        expect({ status: result.status, stdout: result.stdout, stderr: result.stderr }).toEqual({
          status: 0,
          stdout: '',
          stderr: '',
        });
      }
      // Five promtool runs: seconds on a loaded machine, more than the default 5 s test timeout.
    },
    60_000,
  );
});

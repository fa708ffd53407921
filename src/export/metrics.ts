// Turns the collectors' snapshots into OpenTelemetry metric data.
//
// The SDK's asynchronous instruments remember every attribute set they ever saw (opentelemetry-js #4096, #2997),
// so exited processes would be exported forever. Instead the agent builds ResourceMetrics itself from what the
// collectors hold right now: a series exists exactly as long as its source does, with the start time of its
// cumulative count. The same data feeds /metrics and OTLP.
import { ValueType, type Attributes, type HrTime } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  DataPointType,
  type DataPoint,
  type GaugeMetricData,
  type HistogramMetricData,
  type MetricData,
  type ResourceMetrics,
  type SumMetricData,
} from '@opentelemetry/sdk-metrics';
import type { Attribution, ShapedExecs, ShapedSyscalls } from '../collector/series.ts';
import type { ExecHandlerStats } from '../exec-handler.ts';
import type { ExecLogStats } from '../exec-log.ts';
import type { Drops, MapFill, ProgramName } from '../collector/types.ts';
import type { XdpSnapshot } from '../collector/xdp.ts';
import * as N from './names.ts';
import { prometheusName } from './prometheus.ts';

export interface HistogramState {
  boundaries: number[];
  /** boundaries.length + 1 buckets, not cumulative. */
  counts: number[];
  sum: number;
  count: number;
  min: number;
  max: number;
}

export function newHistogram(boundaries: number[]): HistogramState {
  return {
    boundaries,
    counts: new Array(boundaries.length + 1).fill(0),
    sum: 0,
    count: 0,
    min: Infinity,
    max: -Infinity,
  };
}

export function recordHistogram(h: HistogramState, value: number): void {
  let i = 0;
  while (i < h.boundaries.length && value > h.boundaries[i]!) i++;
  h.counts[i]!++;
  h.sum += value;
  h.count++;
  h.min = Math.min(h.min, value);
  h.max = Math.max(h.max, value);
}

/** Run time and runs of one BPF program, counted by the kernel while run-time statistics are on. */
export interface ProgramStats {
  program: ProgramName;
  bpfProgram: string;
  runTimeNs: number;
  runCount: number;
}

export interface AgentSnapshot {
  /** When the collection ran (ms). */
  timeMs: number;
  /** When the agent started (ms): the start of its own cumulative counters. */
  agentStartMs: number;
  syscalls?: ShapedSyscalls;
  exec?: ShapedExecs;
  execHandler?: ExecHandlerStats;
  /** Present when --exec-log is set. */
  execLog?: ExecLogStats;
  /** CPU samples per process (series shaped like the syscall ones, kind 'cpu'), and the idle task's. */
  cpu?: ShapedSyscalls & { idle: number; hz: number };
  /** Present when --bpf-stats is on. */
  programStats?: ProgramStats[];
  xdp?: XdpSnapshot;
  drops: Drops[];
  mapFill: MapFill[];
  attached: { program: ProgramName; attached: boolean }[];
  polls: number;
  /** Collections that failed, by program (`agent`: building or publishing the whole poll failed). */
  pollErrors: Record<string, number>;
  pollDuration: HistogramState;
  /** Serving /metrics; absent: not served. */
  scrapeDuration?: HistogramState;
  build: { version: string; libbpf: string; kernel: string };
}

function addAttribution(attributes: Attributes, a: Attribution): void {
  if (a.containerId !== undefined) attributes[N.ATTR_CONTAINER_ID] = a.containerId;
  if (a.podUid !== undefined) attributes[N.ATTR_K8S_POD_UID] = a.podUid;
  if (a.podName !== undefined) attributes[N.ATTR_K8S_POD_NAME] = a.podName;
  if (a.podNamespace !== undefined) attributes[N.ATTR_K8S_NAMESPACE_NAME] = a.podNamespace;
}

export function hrTime(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.round((ms - seconds * 1000) * 1e6)];
}

function sum(
  name: string,
  description: string,
  unit: string,
  points: DataPoint<number>[],
  monotonic = true,
): SumMetricData {
  return {
    descriptor: { name, description, unit, valueType: ValueType.INT },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.SUM,
    isMonotonic: monotonic,
    dataPoints: points,
  };
}

function gauge(name: string, description: string, unit: string, points: DataPoint<number>[]): GaugeMetricData {
  return {
    descriptor: { name, description, unit, valueType: ValueType.INT },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.GAUGE,
    dataPoints: points,
  };
}

export function buildMetrics(snapshot: AgentSnapshot): MetricData[] {
  const end = hrTime(snapshot.timeMs);
  const agentStart = hrTime(snapshot.agentStartMs);
  const point = (attributes: Attributes, value: number, startMs?: number): DataPoint<number> => ({
    startTime: startMs === undefined ? agentStart : hrTime(startMs),
    endTime: end,
    attributes,
    value,
  });
  const metrics: MetricData[] = [];

  if (snapshot.syscalls !== undefined) {
    metrics.push(
      sum(
        N.METRIC_SYSCALLS,
        'System calls made, by process (or executable) and syscall; process "other" holds the series beyond the budget.',
        '{call}',
        snapshot.syscalls.series.map((s) => {
          const attributes: Attributes = {};
          if (s.pid !== undefined) attributes[N.ATTR_PROCESS_PID] = s.pid;
          attributes[N.ATTR_PROCESS_EXECUTABLE_NAME] = s.comm;
          attributes[N.ATTR_SYSCALL] = s.syscall;
          addAttribution(attributes, s.attribution);
          return point(attributes, s.value, s.startMs);
        }),
      ),
    );
  }

  if (snapshot.cpu !== undefined) {
    metrics.push(
      sum(
        N.METRIC_CPU_SAMPLES,
        `On-CPU samples (${snapshot.cpu.hz} per second per CPU), by process; process "other" holds the series beyond the budget.`,
        '{sample}',
        snapshot.cpu.series.map((s) => {
          const attributes: Attributes = {};
          if (s.pid !== undefined) attributes[N.ATTR_PROCESS_PID] = s.pid;
          attributes[N.ATTR_PROCESS_EXECUTABLE_NAME] = s.comm;
          addAttribution(attributes, s.attribution);
          return point(attributes, s.value, s.startMs);
        }),
      ),
    );
    metrics.push(
      sum(N.METRIC_CPU_IDLE_SAMPLES, 'Samples that found a CPU idle.', '{sample}', [point({}, snapshot.cpu.idle)]),
    );
  }

  if (snapshot.exec !== undefined) {
    metrics.push(
      sum(
        N.METRIC_PROCESS_EXECS,
        'Successful execve/execveat calls, by executable name after the exec and parent executable name.',
        '{exec}',
        snapshot.exec.series.map((e) =>
          point(
            { [N.ATTR_PROCESS_EXECUTABLE_NAME]: e.comm, [N.ATTR_PROCESS_PARENT_EXECUTABLE_NAME]: e.parentComm },
            e.value,
            e.startMs,
          ),
        ),
      ),
    );
  }

  if (snapshot.xdp !== undefined) {
    const packets: DataPoint<number>[] = [];
    const bytes: DataPoint<number>[] = [];
    const truncated = new Map<string, { iface: string; type: string; packets: number }>();
    for (const c of snapshot.xdp.counts) {
      const attributes = {
        [N.ATTR_NETWORK_INTERFACE_NAME]: c.interfaceName,
        [N.ATTR_NETWORK_TYPE]: c.networkType,
        [N.ATTR_NETWORK_TRANSPORT]: c.transport,
      };
      packets.push(point(attributes, c.packets));
      bytes.push(point(attributes, c.bytes));
      const id = `${c.interfaceName}\u0000${c.networkType}`;
      const t = truncated.get(id) ?? { iface: c.interfaceName, type: c.networkType, packets: 0 };
      t.packets += c.truncatedPackets;
      truncated.set(id, t);
    }
    metrics.push(
      sum(N.METRIC_XDP_PACKETS, 'Packets received, by interface, network layer and transport.', '{packet}', packets),
    );
    metrics.push(
      sum(N.METRIC_XDP_BYTES, 'Bytes received (frame length), by interface, network layer and transport.', 'By', bytes),
    );
    metrics.push(
      sum(
        N.METRIC_XDP_TRUNCATED,
        'Packets cut short inside a header (counted in ebpf_xdp_packets_total with transport "other" or as far as parsed).',
        '{packet}',
        [...truncated.values()].map((t) =>
          point({ [N.ATTR_NETWORK_INTERFACE_NAME]: t.iface, [N.ATTR_NETWORK_TYPE]: t.type }, t.packets),
        ),
      ),
    );
    metrics.push(
      gauge(
        N.METRIC_AGENT_XDP_ATTACHED,
        'XDP attachments of the agent, with the mode the kernel reports in effect (0 while the interface is gone).',
        '1',
        snapshot.xdp.interfaces.map((i) =>
          point({ [N.ATTR_NETWORK_INTERFACE_NAME]: i.name, [N.ATTR_MODE]: i.mode }, i.attached ? 1 : 0),
        ),
      ),
    );
    metrics.push(
      sum(
        N.METRIC_AGENT_XDP_INTERFACE_LOSSES,
        'Times an XDP interface disappeared while the agent ran (it is attached again when it comes back).',
        '{event}',
        snapshot.xdp.interfaces.map((i) => point({ [N.ATTR_NETWORK_INTERFACE_NAME]: i.name }, i.losses)),
      ),
    );
  }

  if (snapshot.execHandler !== undefined) {
    const h = snapshot.execHandler;
    metrics.push(sum(N.METRIC_AGENT_EXEC_HANDLER_RUNS, 'Exec handler runs started.', '{run}', [point({}, h.runs)]));
    metrics.push(
      sum(N.METRIC_AGENT_EXEC_HANDLER_FAILURES, 'Exec handler runs that failed to start or exited non-zero.', '{run}', [
        point({}, h.failures),
      ]),
    );
    metrics.push(
      sum(
        N.METRIC_AGENT_EXEC_HANDLER_TIMEOUTS,
        'Exec handler runs killed for running past --exec-handler-timeout.',
        '{run}',
        [point({}, h.timeouts)],
      ),
    );
    metrics.push(
      sum(
        N.METRIC_AGENT_EXEC_HANDLER_DROPPED,
        'Execs not handled because of the rate limit or the concurrency cap.',
        '{event}',
        Object.entries(h.dropped).map(([reason, n]) => point({ [N.ATTR_REASON]: reason }, n)),
      ),
    );
    metrics.push(
      sum(
        N.METRIC_AGENT_EXEC_HANDLER_SKIPPED,
        "Execs not handled by choice: not selected by the filters, or by the agent's own descendants.",
        '{event}',
        [point({ [N.ATTR_REASON]: 'filtered' }, h.filtered), point({ [N.ATTR_REASON]: 'own' }, h.own)],
      ),
    );
    metrics.push(
      gauge(N.METRIC_AGENT_EXEC_HANDLER_RUNNING, 'Exec handlers running now.', '{run}', [point({}, h.running)]),
    );
  }

  if (snapshot.execLog !== undefined) {
    metrics.push(
      sum(
        N.METRIC_AGENT_EXEC_LOG_WRITE_ERRORS,
        'Exec log lines lost because writing them failed (disk full, closed pipe).',
        '{line}',
        [point({}, snapshot.execLog.writeErrors)],
      ),
    );
  }

  // The agent's own health.
  // Series of the program metrics (the agent's own are few and fixed).
  const series = metrics
    .filter((m) => !m.descriptor.name.startsWith('ebpf.agent.'))
    .map((m) => point({ [N.ATTR_METRIC]: prometheusName(m) }, m.dataPoints.length));
  metrics.push(
    sum(
      N.METRIC_AGENT_EVENTS_LOST,
      'Kernel events lost because a ring buffer was full, by program.',
      '{event}',
      snapshot.drops.map((d) => point({ [N.ATTR_PROGRAM]: d.program }, d.eventsLost)),
    ),
  );
  metrics.push(
    sum(
      N.METRIC_AGENT_MAP_UPDATES_DROPPED,
      'Kernel updates not recorded because a BPF map was full, by program and map.',
      '{update}',
      snapshot.drops.flatMap((d) =>
        Object.entries(d.mapFull).map(([map, n]) => point({ [N.ATTR_PROGRAM]: d.program, [N.ATTR_MAP]: map }, n)),
      ),
    ),
  );
  metrics.push(
    gauge(
      N.METRIC_AGENT_MAP_ENTRIES,
      'Entries in a BPF map at the last poll.',
      '{entry}',
      snapshot.mapFill.map((m) => point({ [N.ATTR_PROGRAM]: m.program, [N.ATTR_MAP]: m.map }, m.entries)),
    ),
  );
  metrics.push(
    gauge(
      N.METRIC_AGENT_MAP_CAPACITY,
      'Capacity (max_entries) of a BPF map.',
      '{entry}',
      snapshot.mapFill.map((m) => point({ [N.ATTR_PROGRAM]: m.program, [N.ATTR_MAP]: m.map }, m.capacity)),
    ),
  );
  metrics.push(
    gauge(
      N.METRIC_AGENT_PROGRAM_ATTACHED,
      '1 when every kernel attachment of the program is in place.',
      '1',
      snapshot.attached.map((a) => point({ [N.ATTR_PROGRAM]: a.program }, a.attached ? 1 : 0)),
    ),
  );
  if (snapshot.programStats !== undefined) {
    const stats = snapshot.programStats;
    const labels = (p: ProgramStats): Attributes => ({
      [N.ATTR_PROGRAM]: p.program,
      [N.ATTR_BPF_PROGRAM]: p.bpfProgram,
    });
    metrics.push({
      ...sum(
        N.METRIC_AGENT_BPF_RUN_TIME,
        'Time the kernel spent running each BPF program (--bpf-stats).',
        's',
        stats.map((p) => point(labels(p), p.runTimeNs / 1e9)),
      ),
      descriptor: {
        name: N.METRIC_AGENT_BPF_RUN_TIME,
        description: 'Time the kernel spent running each BPF program (--bpf-stats).',
        unit: 's',
        valueType: ValueType.DOUBLE,
      },
    });
    metrics.push(
      sum(
        N.METRIC_AGENT_BPF_RUNS,
        'Runs of each BPF program (--bpf-stats).',
        '{run}',
        stats.map((p) => point(labels(p), p.runCount)),
      ),
    );
  }
  metrics.push(sum(N.METRIC_AGENT_POLLS, 'Polls of the BPF maps.', '{poll}', [point({}, snapshot.polls)]));
  metrics.push(
    sum(
      N.METRIC_AGENT_POLL_ERRORS,
      'Collections that failed, by program (agent: the whole poll); a failing program leaves only its own part out.',
      '{poll}',
      Object.entries(snapshot.pollErrors).map(([program, n]) => point({ [N.ATTR_PROGRAM]: program }, n)),
    ),
  );
  const histogram = (name: string, description: string, h: HistogramState): HistogramMetricData => ({
    descriptor: { name, description, unit: 's', valueType: ValueType.DOUBLE },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.HISTOGRAM,
    dataPoints: [
      {
        startTime: agentStart,
        endTime: end,
        attributes: {},
        value: {
          buckets: { boundaries: h.boundaries, counts: [...h.counts] },
          sum: h.sum,
          count: h.count,
          min: h.count > 0 ? h.min : undefined,
          max: h.count > 0 ? h.max : undefined,
        },
      },
    ],
  });
  metrics.push(
    histogram(N.METRIC_AGENT_POLL_DURATION, 'Time to read, decode and publish one poll.', snapshot.pollDuration),
  );
  if (snapshot.scrapeDuration !== undefined) {
    metrics.push(
      histogram(N.METRIC_AGENT_SCRAPE_DURATION, 'Time to serve one /metrics response.', snapshot.scrapeDuration),
    );
  }
  metrics.push(gauge(N.METRIC_AGENT_SERIES, 'Series exported per metric at the last poll.', '{series}', series));
  const folded: DataPoint<number>[] = [];
  if (snapshot.syscalls !== undefined) {
    folded.push(point({ [N.ATTR_METRIC]: 'ebpf_syscalls_total' }, snapshot.syscalls.foldedTotal));
  }
  if (snapshot.cpu !== undefined) {
    folded.push(point({ [N.ATTR_METRIC]: 'ebpf_cpu_samples_total' }, snapshot.cpu.foldedTotal));
  }
  if (snapshot.exec !== undefined) {
    folded.push(point({ [N.ATTR_METRIC]: 'ebpf_process_execs_total' }, snapshot.exec.foldedTotal));
  }
  metrics.push(
    sum(
      N.METRIC_AGENT_SERIES_FOLDED,
      'Series folded into the "other" series of their metric because the metric was over its --max-series budget.',
      '{series}',
      folded,
    ),
  );
  metrics.push(
    gauge(N.METRIC_AGENT_BUILD_INFO, 'Build and platform of the agent (value 1).', '1', [
      point({ version: snapshot.build.version, libbpf: snapshot.build.libbpf, kernel: snapshot.build.kernel }, 1),
    ]),
  );
  return metrics;
}

export function buildResourceMetrics(resource: Resource, version: string, snapshot: AgentSnapshot): ResourceMetrics {
  return {
    resource,
    scopeMetrics: [{ scope: { name: N.SERVICE_NAME, version }, metrics: buildMetrics(snapshot) }],
  };
}

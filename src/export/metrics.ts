// Turns the collectors' snapshots into OpenTelemetry metric data.
//
// The SDK's asynchronous instruments remember every attribute set they ever saw (opentelemetry-js #4096, #2997),
// so exited processes would be exported forever. Instead the agent builds ResourceMetrics itself from what the
// collectors hold right now: a series exists exactly as long as its source does, with the start time of its
// cumulative count. The same data feeds every exporter (/metrics, OTLP). Names, units and descriptions come from
// the metric table (descriptors.ts); this file only fills the data points.
import { ValueType, type Attributes, type HrTime } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  DataPointType,
  type DataPoint,
  type GaugeMetricData,
  type HistogramMetricData,
  type MetricData,
  type MetricDescriptor as OtelDescriptor,
  type ResourceMetrics,
  type SumMetricData,
} from '@opentelemetry/sdk-metrics';
import type { Attribution, ShapedExecs, ShapedSyscalls, SyscallSeries } from '../collector/series.ts';
import type { ExecHandlerStats } from '../exec-handler.ts';
import type { ExecLogStats } from '../exec-log.ts';
import type { Drops, MapFill, ProgramName } from '../collector/types.ts';
import type { ExitsSnapshot } from '../collector/exits.ts';
import type { TcSnapshot } from '../collector/tc.ts';
import { TCP_LATENCY_BOUNDARIES, type ShapedTcp } from '../collector/tcp.ts';
import type { XdpSnapshot } from '../collector/xdp.ts';
import { descriptionOf, isAgentHealth, METRICS as M, type MetricDescriptor } from './descriptors.ts';
import type { ExportStats } from './exporter.ts';
import type { LogExportStats } from './otlp-logs.ts';
import * as N from './names.ts';

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

/** What the agent's own process used, read at the poll. */
export interface ProcessUsage {
  userSeconds: number;
  systemSeconds: number;
  rssBytes: number;
  peakRssBytes: number;
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
  tc?: TcSnapshot;
  /** tcp: event counts and connect-latency histograms per executable, container and pod. */
  tcp?: ShapedTcp;
  /** Process exits by reason and OOM kills (the exits program). */
  exits?: ExitsSnapshot;
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
  /** --otlp-logs: the log records exported and lost so far. */
  otlpLogs?: LogExportStats;
  /** The agent's own process: CPU time (s) and resident memory (bytes); absent: not published. */
  usage?: ProcessUsage;
  /** What each exporter made of the collections so far (Exporters.stats()); absent: not published. */
  exports?: ExportStats[];
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

function otelDescriptor(d: MetricDescriptor, description = d.description): OtelDescriptor {
  return {
    name: d.name,
    description,
    unit: d.unit,
    valueType: d.valueType === 'double' ? ValueType.DOUBLE : ValueType.INT,
  };
}

/** Sum or gauge data of a table entry (a histogram entry goes through histogramData). */
function data(d: MetricDescriptor, points: DataPoint<number>[], description?: string): SumMetricData | GaugeMetricData {
  const descriptor = otelDescriptor(d, description);
  if (d.kind === 'gauge') {
    return {
      descriptor,
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.GAUGE,
      dataPoints: points,
    };
  }
  if (d.kind === 'histogram') throw new Error(`${d.name} is a histogram`);
  return {
    descriptor,
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.SUM,
    isMonotonic: d.kind === 'counter',
    dataPoints: points,
  };
}

/**
 * The attributes and start time of a per-process or per-executable series, kept for as long as its series object
 * lives: the shaper hands the same object poll after poll while the series' labels and start stay the same, so an
 * unchanged series costs one data point per poll and no new attribute object (whose Prometheus label text the
 * serializer keeps in turn). Checked against the object's fields, so a series changed in place is never misnamed.
 */
interface SeriesPoint {
  pid: SyscallSeries['pid'];
  comm: string;
  syscall: string;
  attribution: Attribution;
  startMs: number;
  kind: boolean;
  attributes: Attributes;
  startTime: HrTime;
  /**
   * Its data point, rewritten in place (end time, value) on every poll: a poll of 400,000 unchanged series makes
   * no data point. The exporters read a collection's points while it is exported and keep none of them
   * (DeltaConverter keeps copies).
   */
  point?: { -readonly [K in keyof DataPoint<number>]: DataPoint<number>[K] };
}
// Kept on the series object itself under a symbol, not enumerable (invisible to comparisons and iteration): a
// WeakMap of every series would cost the garbage collector an ephemeron per series on every major collection.
const SERIES_POINT = Symbol('seriesPoint');
type WithPoint = SyscallSeries & { [SERIES_POINT]?: SeriesPoint };

function seriesPoint(s: SyscallSeries, kind: boolean): SeriesPoint {
  const cached = (s as WithPoint)[SERIES_POINT];
  if (
    cached !== undefined &&
    cached.pid === s.pid &&
    cached.comm === s.comm &&
    cached.syscall === s.syscall &&
    cached.attribution === s.attribution &&
    cached.startMs === s.startMs &&
    cached.kind === kind
  ) {
    return cached;
  }
  const attributes: Attributes = {};
  if (s.pid !== undefined) attributes[N.ATTR_PROCESS_PID] = s.pid;
  attributes[N.ATTR_PROCESS_EXECUTABLE_NAME] = s.comm;
  if (kind) attributes[N.ATTR_SYSCALL] = s.syscall;
  addAttribution(attributes, s.attribution);
  const entry: SeriesPoint = {
    pid: s.pid,
    comm: s.comm,
    syscall: s.syscall,
    attribution: s.attribution,
    startMs: s.startMs,
    kind,
    attributes,
    startTime: hrTime(s.startMs),
  };
  if (cached === undefined) Object.defineProperty(s, SERIES_POINT, { value: entry, writable: true });
  else (s as WithPoint)[SERIES_POINT] = entry;
  return entry;
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

  const seriesPoints = (series: readonly SyscallSeries[], kind: boolean): DataPoint<number>[] => {
    const points = new Array<DataPoint<number>>(series.length);
    for (let i = 0; i < series.length; i++) {
      const s = series[i]!;
      const entry = seriesPoint(s, kind);
      let p = entry.point;
      if (p === undefined)
        entry.point = p = { startTime: entry.startTime, endTime: end, attributes: entry.attributes, value: s.value };
      else {
        p.endTime = end;
        p.value = s.value;
      }
      points[i] = p;
    }
    return points;
  };
  if (snapshot.syscalls !== undefined) {
    const { series: aggregate, processes } = snapshot.syscalls;
    metrics.push(data(M.syscalls, seriesPoints(aggregate, true)));
    if (processes !== undefined) metrics.push(data(M.processSyscalls, seriesPoints(processes, true)));
  }

  if (snapshot.cpu !== undefined) {
    const { series: aggregate, processes, hz } = snapshot.cpu;
    metrics.push(
      data(M.cpuSamples, seriesPoints(aggregate, false), descriptionOf(M.cpuSamples, { 'cpu-sample-hz': hz })),
    );
    if (processes !== undefined) {
      metrics.push(
        data(
          M.processCpuSamples,
          seriesPoints(processes, false),
          descriptionOf(M.processCpuSamples, { 'cpu-sample-hz': hz }),
        ),
      );
    }
    metrics.push(data(M.cpuIdleSamples, [point({}, snapshot.cpu.idle)]));
  }

  if (snapshot.exec !== undefined) {
    metrics.push(
      data(
        M.processExecs,
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
    metrics.push(data(M.xdpPackets, packets));
    metrics.push(data(M.xdpBytes, bytes));
    metrics.push(
      data(
        M.xdpTruncated,
        [...truncated.values()].map((t) =>
          point({ [N.ATTR_NETWORK_INTERFACE_NAME]: t.iface, [N.ATTR_NETWORK_TYPE]: t.type }, t.packets),
        ),
      ),
    );
    metrics.push(
      data(
        M.xdpAttached,
        snapshot.xdp.interfaces.map((i) =>
          point({ [N.ATTR_NETWORK_INTERFACE_NAME]: i.name, [N.ATTR_MODE]: i.mode }, i.attached ? 1 : 0),
        ),
      ),
    );
    metrics.push(
      data(
        M.xdpInterfaceLosses,
        snapshot.xdp.interfaces.map((i) => point({ [N.ATTR_NETWORK_INTERFACE_NAME]: i.name }, i.losses)),
      ),
    );
  }

  if (snapshot.tc !== undefined) {
    const packets: DataPoint<number>[] = [];
    const bytes: DataPoint<number>[] = [];
    const truncated = new Map<string, { attributes: Attributes; packets: number }>();
    for (const c of snapshot.tc.counts) {
      const attributes: Attributes = {
        [N.ATTR_NETWORK_INTERFACE_NAME]: c.interfaceName,
        [N.ATTR_NETWORK_IO_DIRECTION]: c.direction,
        [N.ATTR_NETWORK_TYPE]: c.networkType,
        [N.ATTR_NETWORK_TRANSPORT]: c.transport,
      };
      addAttribution(attributes, c.pod);
      packets.push(point(attributes, c.packets));
      bytes.push(point(attributes, c.bytes));
      const id = [c.interfaceName, c.pod.podUid ?? '', c.direction, c.networkType].join('\u0000');
      let t = truncated.get(id);
      if (t === undefined) {
        t = {
          attributes: {
            [N.ATTR_NETWORK_INTERFACE_NAME]: c.interfaceName,
            [N.ATTR_NETWORK_IO_DIRECTION]: c.direction,
            [N.ATTR_NETWORK_TYPE]: c.networkType,
          },
          packets: 0,
        };
        addAttribution(t.attributes, c.pod);
        truncated.set(id, t);
      }
      t.packets += c.truncatedPackets;
    }
    metrics.push(data(M.networkPackets, packets));
    metrics.push(data(M.networkBytes, bytes));
    metrics.push(
      data(
        M.networkTruncated,
        [...truncated.values()].map((t) => point(t.attributes, t.packets)),
      ),
    );
    metrics.push(
      data(
        M.tcAttached,
        snapshot.tc.interfaces.map((i) => point({ [N.ATTR_NETWORK_INTERFACE_NAME]: i.name }, i.attached ? 1 : 0)),
      ),
    );
    metrics.push(data(M.tcAttachFailures, [point({}, snapshot.tc.attachFailures)]));
  }

  if (snapshot.tcp !== undefined) {
    const byEvent = new Map<string, SyscallSeries[]>();
    for (const s of snapshot.tcp.series) {
      let list = byEvent.get(s.syscall);
      if (list === undefined) byEvent.set(s.syscall, (list = []));
      list.push(s);
    }
    const events = [
      [M.tcpRetransmits, 'retransmits'],
      [M.tcpResetsSent, 'resets_sent'],
      [M.tcpResetsReceived, 'resets_received'],
      [M.tcpConnectAttempts, 'connect_attempts'],
      [M.tcpConnectFailures, 'connect_failures'],
    ] as const;
    for (const [d, event] of events) metrics.push(data(d, seriesPoints(byEvent.get(event) ?? [], false)));
    metrics.push({
      descriptor: otelDescriptor(M.tcpConnectDuration),
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.HISTOGRAM,
      dataPoints: snapshot.tcp.latency.map((h) => {
        const attributes: Attributes = { [N.ATTR_PROCESS_EXECUTABLE_NAME]: h.comm };
        addAttribution(attributes, h.attribution);
        let count = 0;
        for (const c of h.counts) count += c;
        return {
          startTime: hrTime(h.startMs),
          endTime: end,
          attributes,
          // Classic buckets only: the kernel's bounds are fixed, so no min or max is known.
          value: { buckets: { boundaries: [...TCP_LATENCY_BOUNDARIES], counts: h.counts }, sum: h.sum, count },
        };
      }),
    } satisfies HistogramMetricData);
    metrics.push(data(M.tcpUnownedEvents, [point({}, snapshot.tcp.unowned)]));
  }

  if (snapshot.exits !== undefined) {
    metrics.push(
      data(
        M.processExits,
        snapshot.exits.exits.series.map(({ labels: l, value, startMs }) => {
          const attributes: Attributes = {
            [N.ATTR_PROCESS_EXECUTABLE_NAME]: l.executable,
            [N.ATTR_PROCESS_EXIT_REASON]: l.reason,
          };
          if (l.codeClass !== undefined) attributes[N.ATTR_PROCESS_EXIT_CODE_CLASS] = l.codeClass;
          if (l.signal !== undefined) attributes[N.ATTR_PROCESS_EXIT_SIGNAL] = l.signal;
          if (l.coreDumped !== undefined) attributes[N.ATTR_PROCESS_EXIT_CORE_DUMPED] = String(l.coreDumped);
          addAttribution(attributes, l.attribution);
          return point(attributes, value, startMs);
        }),
      ),
    );
    metrics.push(
      data(
        M.oomKills,
        snapshot.exits.oomKills.series.map(({ labels: l, value, startMs }) => {
          const attributes: Attributes = { [N.ATTR_PROCESS_EXECUTABLE_NAME]: l.executable };
          addAttribution(attributes, l.attribution);
          return point(attributes, value, startMs);
        }),
      ),
    );
  }

  if (snapshot.execHandler !== undefined) {
    const h = snapshot.execHandler;
    metrics.push(data(M.execHandlerRuns, [point({}, h.runs)]));
    metrics.push(data(M.execHandlerFailures, [point({}, h.failures)]));
    metrics.push(data(M.execHandlerTimeouts, [point({}, h.timeouts)]));
    metrics.push(
      data(
        M.execHandlerDropped,
        Object.entries(h.dropped).map(([reason, n]) => point({ [N.ATTR_REASON]: reason }, n)),
      ),
    );
    metrics.push(
      data(M.execHandlerSkipped, [
        point({ [N.ATTR_REASON]: 'filtered' }, h.filtered),
        point({ [N.ATTR_REASON]: 'own' }, h.own),
      ]),
    );
    metrics.push(data(M.execHandlerRunning, [point({}, h.running)]));
  }

  if (snapshot.execLog !== undefined) {
    metrics.push(data(M.execLogWriteErrors, [point({}, snapshot.execLog.writeErrors)]));
  }

  // The agent's own health.
  // Series of the program metrics (the agent's own are few and fixed).
  const series = metrics
    .filter((m) => !isAgentHealth(m.descriptor))
    .map((m) => point({ [N.ATTR_METRIC]: m.descriptor.name }, m.dataPoints.length));
  metrics.push(
    data(
      M.eventsLost,
      snapshot.drops.map((d) => point({ [N.ATTR_PROGRAM]: d.program }, d.eventsLost)),
    ),
  );
  metrics.push(
    data(
      M.mapUpdatesDropped,
      snapshot.drops.flatMap((d) =>
        Object.entries(d.mapFull).map(([map, n]) => point({ [N.ATTR_PROGRAM]: d.program, [N.ATTR_MAP]: map }, n)),
      ),
    ),
  );
  metrics.push(
    data(
      M.mapEntries,
      snapshot.mapFill.map((m) => point({ [N.ATTR_PROGRAM]: m.program, [N.ATTR_MAP]: m.map }, m.entries)),
    ),
  );
  metrics.push(
    data(
      M.mapCapacity,
      snapshot.mapFill.map((m) => point({ [N.ATTR_PROGRAM]: m.program, [N.ATTR_MAP]: m.map }, m.capacity)),
    ),
  );
  metrics.push(
    data(
      M.programAttached,
      snapshot.attached.map((a) => point({ [N.ATTR_PROGRAM]: a.program }, a.attached ? 1 : 0)),
    ),
  );
  if (snapshot.programStats !== undefined) {
    const stats = snapshot.programStats;
    const labels = (p: ProgramStats): Attributes => ({
      [N.ATTR_PROGRAM]: p.program,
      [N.ATTR_BPF_PROGRAM]: p.bpfProgram,
    });
    metrics.push(
      data(
        M.bpfRunTime,
        stats.map((p) => point(labels(p), p.runTimeNs / 1e9)),
      ),
    );
    metrics.push(
      data(
        M.bpfRuns,
        stats.map((p) => point(labels(p), p.runCount)),
      ),
    );
  }
  metrics.push(data(M.polls, [point({}, snapshot.polls)]));
  metrics.push(
    data(
      M.pollErrors,
      Object.entries(snapshot.pollErrors).map(([program, n]) => point({ [N.ATTR_PROGRAM]: program }, n)),
    ),
  );
  const histogram = (d: MetricDescriptor, h: HistogramState): HistogramMetricData => ({
    descriptor: otelDescriptor(d),
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
  metrics.push(histogram(M.pollDuration, snapshot.pollDuration));
  if (snapshot.scrapeDuration !== undefined) metrics.push(histogram(M.scrapeDuration, snapshot.scrapeDuration));
  if (snapshot.usage !== undefined) {
    const u = snapshot.usage;
    metrics.push(
      data(M.cpuTime, [
        point({ [N.ATTR_CPU_MODE]: 'user' }, u.userSeconds),
        point({ [N.ATTR_CPU_MODE]: 'system' }, u.systemSeconds),
      ]),
    );
    metrics.push(data(M.memoryUsage, [point({}, u.rssBytes)]));
    metrics.push(data(M.memoryPeak, [point({}, u.peakRssBytes)]));
  }
  if (snapshot.exports !== undefined) {
    const by = (e: ExportStats): Attributes => ({ [N.ATTR_EXPORTER]: e.exporter });
    metrics.push(
      data(
        M.exports,
        snapshot.exports.map((e) => point(by(e), e.exported)),
      ),
    );
    metrics.push(
      data(
        M.exportsFailed,
        snapshot.exports.map((e) => point(by(e), e.failed)),
      ),
    );
    metrics.push(
      data(
        M.exportsSkipped,
        snapshot.exports.map((e) => point(by(e), e.skipped)),
      ),
    );
  }
  if (snapshot.otlpLogs !== undefined) {
    metrics.push(data(M.otlpLogsExported, [point({}, snapshot.otlpLogs.exported)]));
    metrics.push(
      data(
        M.otlpLogsDropped,
        Object.entries(snapshot.otlpLogs.dropped).map(([reason, n]) => point({ [N.ATTR_REASON]: reason }, n)),
      ),
    );
  }
  metrics.push(data(M.series, series));
  const folded: DataPoint<number>[] = [];
  if (snapshot.syscalls !== undefined) {
    folded.push(point({ [N.ATTR_METRIC]: M.syscalls.name }, snapshot.syscalls.foldedTotal));
    if (snapshot.syscalls.processFoldedTotal !== undefined)
      folded.push(point({ [N.ATTR_METRIC]: M.processSyscalls.name }, snapshot.syscalls.processFoldedTotal));
  }
  if (snapshot.cpu !== undefined) {
    folded.push(point({ [N.ATTR_METRIC]: M.cpuSamples.name }, snapshot.cpu.foldedTotal));
    if (snapshot.cpu.processFoldedTotal !== undefined)
      folded.push(point({ [N.ATTR_METRIC]: M.processCpuSamples.name }, snapshot.cpu.processFoldedTotal));
  }
  if (snapshot.exec !== undefined) {
    folded.push(point({ [N.ATTR_METRIC]: M.processExecs.name }, snapshot.exec.foldedTotal));
  }
  if (snapshot.tcp !== undefined) {
    const f = snapshot.tcp.folded;
    folded.push(point({ [N.ATTR_METRIC]: M.tcpRetransmits.name }, f.retransmits));
    folded.push(point({ [N.ATTR_METRIC]: M.tcpResetsSent.name }, f.resets_sent));
    folded.push(point({ [N.ATTR_METRIC]: M.tcpResetsReceived.name }, f.resets_received));
    folded.push(point({ [N.ATTR_METRIC]: M.tcpConnectAttempts.name }, f.connect_attempts));
    folded.push(point({ [N.ATTR_METRIC]: M.tcpConnectFailures.name }, f.connect_failures));
    folded.push(point({ [N.ATTR_METRIC]: M.tcpConnectDuration.name }, f.latency));
  }
  if (snapshot.exits !== undefined) {
    folded.push(point({ [N.ATTR_METRIC]: M.processExits.name }, snapshot.exits.exits.foldedTotal));
    folded.push(point({ [N.ATTR_METRIC]: M.oomKills.name }, snapshot.exits.oomKills.foldedTotal));
  }
  metrics.push(data(M.seriesFolded, folded));
  const endedEarly: DataPoint<number>[] = [];
  // Only the per-process and exec budgets let demoted series leave early (the aggregates are for increase()).
  if (snapshot.syscalls?.processEndedEarlyTotal !== undefined)
    endedEarly.push(point({ [N.ATTR_METRIC]: M.processSyscalls.name }, snapshot.syscalls.processEndedEarlyTotal));
  if (snapshot.cpu?.processEndedEarlyTotal !== undefined)
    endedEarly.push(point({ [N.ATTR_METRIC]: M.processCpuSamples.name }, snapshot.cpu.processEndedEarlyTotal));
  if (snapshot.exec !== undefined) {
    endedEarly.push(point({ [N.ATTR_METRIC]: M.processExecs.name }, snapshot.exec.endedEarlyTotal));
  }
  metrics.push(data(M.seriesEndedEarly, endedEarly));
  const { version, libbpf, kernel } = snapshot.build;
  metrics.push(
    data(M.buildInfo, [point({ [N.ATTR_VERSION]: version, [N.ATTR_LIBBPF]: libbpf, [N.ATTR_KERNEL]: kernel }, 1)]),
  );
  return metrics;
}

export function buildResourceMetrics(resource: Resource, version: string, snapshot: AgentSnapshot): ResourceMetrics {
  return {
    resource,
    scopeMetrics: [{ scope: { name: N.SERVICE_NAME, version }, metrics: buildMetrics(snapshot) }],
  };
}

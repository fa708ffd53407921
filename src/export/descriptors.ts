// Every metric the agent publishes, declared once: OpenTelemetry name (dotted), kind, unit (UCUM), description,
// attribute keys (OpenTelemetry keys) and the program that contributes it. buildMetrics (metrics.ts) takes name,
// unit and description from here; prometheus.ts derives the Prometheus family and label names from the same entry
// (ebpf.syscalls, counter, {call} → ebpf_syscalls_total); the README's metrics table and the dashboards test are
// checked against it. A new metric is one entry here and the code in buildMetrics that fills its points.
import type { ProgramName } from '../collector/types.ts';
import * as A from './names.ts';

/** counter: monotonic sum (Prometheus counter) · updowncounter: non-monotonic sum · gauge · histogram. */
export type MetricKind = 'counter' | 'updowncounter' | 'gauge' | 'histogram';

export interface MetricDescriptor {
  /** The OpenTelemetry name, dotted; the Prometheus name is derived from it. */
  readonly name: string;
  readonly kind: MetricKind;
  readonly valueType: 'int' | 'double';
  /** UCUM: `{call}` (an annotation, a plain count of calls), `By`, `s`, `1`. */
  readonly unit: string;
  /** The Prometheus HELP text as well. A `{flag-name}` placeholder is filled with that flag's value (descriptionOf()). */
  readonly description: string;
  /** OpenTelemetry attribute keys of its data points, in the order they are set. */
  readonly attributes: readonly string[];
  /** Keys set only where the agent can establish them (container and pod), after the others. */
  readonly whereKnown?: readonly string[];
  /** The program whose collection contributes it, or `agent` for the agent's own. */
  readonly program: ProgramName | 'agent';
}

const ATTRIBUTION = [A.ATTR_CONTAINER_ID, A.ATTR_K8S_POD_UID, A.ATTR_K8S_POD_NAME, A.ATTR_K8S_NAMESPACE_NAME];
const XDP_KEYS = [A.ATTR_NETWORK_INTERFACE_NAME, A.ATTR_NETWORK_TYPE, A.ATTR_NETWORK_TRANSPORT];
const NET_KEYS = [
  A.ATTR_NETWORK_INTERFACE_NAME,
  A.ATTR_NETWORK_IO_DIRECTION,
  A.ATTR_NETWORK_TYPE,
  A.ATTR_NETWORK_TRANSPORT,
];
const POD = [A.ATTR_K8S_POD_UID, A.ATTR_K8S_POD_NAME, A.ATTR_K8S_NAMESPACE_NAME];

function counter(
  program: MetricDescriptor['program'],
  name: string,
  unit: string,
  attributes: readonly string[],
  description: string,
  more: Partial<MetricDescriptor> = {},
): MetricDescriptor {
  return { name, kind: 'counter', valueType: 'int', unit, description, attributes, program, ...more };
}

function gauge(
  program: MetricDescriptor['program'],
  name: string,
  unit: string,
  attributes: readonly string[],
  description: string,
): MetricDescriptor {
  return { name, kind: 'gauge', valueType: 'int', unit, description, attributes, program };
}

function histogram(name: string, description: string): MetricDescriptor {
  return { name, kind: 'histogram', valueType: 'double', unit: 's', description, attributes: [], program: 'agent' };
}

/** In the order buildMetrics publishes them (the /metrics order). */
export const METRICS = {
  syscalls: counter(
    'syscalls',
    'ebpf.syscalls',
    '{call}',
    [A.ATTR_PROCESS_EXECUTABLE_NAME, A.ATTR_SYSCALL],
    'System calls made by every process that ran the executable, exited ones included (for rate() and sum()); executable "other" holds the series beyond the budget.',
    { whereKnown: ATTRIBUTION },
  ),
  processSyscalls: counter(
    'syscalls',
    'ebpf.process.syscalls',
    '{call}',
    [A.ATTR_PROCESS_PID, A.ATTR_PROCESS_EXECUTABLE_NAME, A.ATTR_SYSCALL],
    'System calls made, per process: live ones within --max-process-series, exited ones for --exited-retention (for topk()); process "other" holds the series beyond the budget.',
    { whereKnown: ATTRIBUTION },
  ),
  cpuSamples: counter(
    'cpu',
    'ebpf.cpu.samples',
    '{sample}',
    [A.ATTR_PROCESS_EXECUTABLE_NAME],
    'On-CPU samples ({cpu-sample-hz} per second per CPU) of every process that ran the executable, exited ones included; executable "other" holds the series beyond the budget.',
    { whereKnown: ATTRIBUTION },
  ),
  processCpuSamples: counter(
    'cpu',
    'ebpf.process.cpu.samples',
    '{sample}',
    [A.ATTR_PROCESS_PID, A.ATTR_PROCESS_EXECUTABLE_NAME],
    'On-CPU samples ({cpu-sample-hz} per second per CPU), per process; process "other" holds the series beyond the budget.',
    { whereKnown: ATTRIBUTION },
  ),
  cpuIdleSamples: counter('cpu', 'ebpf.cpu.idle_samples', '{sample}', [], 'Samples that found a CPU idle.'),
  processExecs: counter(
    'exec',
    'ebpf.process.execs',
    '{exec}',
    [A.ATTR_PROCESS_EXECUTABLE_NAME, A.ATTR_PROCESS_PARENT_EXECUTABLE_NAME],
    'Successful execve/execveat calls, by executable name after the exec and parent executable name.',
  ),
  xdpPackets: counter(
    'xdp',
    'ebpf.xdp.packets',
    '{packet}',
    XDP_KEYS,
    'Packets received, by interface, network layer and transport.',
  ),
  xdpBytes: counter(
    'xdp',
    'ebpf.xdp.bytes',
    'By',
    XDP_KEYS,
    'Bytes received (frame length), by interface, network layer and transport.',
  ),
  xdpTruncated: counter(
    'xdp',
    'ebpf.xdp.truncated_packets',
    '{packet}',
    [A.ATTR_NETWORK_INTERFACE_NAME, A.ATTR_NETWORK_TYPE],
    'Packets cut short inside a header (counted in ebpf_xdp_packets_total with transport "other" or as far as parsed).',
  ),
  xdpAttached: gauge(
    'xdp',
    'ebpf.agent.xdp.attached',
    '1',
    [A.ATTR_NETWORK_INTERFACE_NAME, A.ATTR_MODE],
    'XDP attachments of the agent, with the mode the kernel reports in effect (0 while the interface is gone).',
  ),
  xdpInterfaceLosses: counter(
    'xdp',
    'ebpf.agent.xdp.interface_losses',
    '{event}',
    [A.ATTR_NETWORK_INTERFACE_NAME],
    'Times an XDP interface disappeared while the agent ran (it is attached again when it comes back).',
  ),
  networkPackets: counter(
    'tc',
    'ebpf.network.packets',
    '{packet}',
    NET_KEYS,
    'Packets received and transmitted (socket buffers: a GSO/GRO packet is one), by interface, direction, network layer and transport (tc).',
    { whereKnown: POD },
  ),
  networkBytes: counter(
    'tc',
    'ebpf.network.bytes',
    'By',
    NET_KEYS,
    'Bytes received and transmitted (frame length), by interface, direction, network layer and transport (tc).',
    { whereKnown: POD },
  ),
  networkTruncated: counter(
    'tc',
    'ebpf.network.truncated_packets',
    '{packet}',
    [A.ATTR_NETWORK_INTERFACE_NAME, A.ATTR_NETWORK_IO_DIRECTION, A.ATTR_NETWORK_TYPE],
    'Packets cut short inside a header (counted in ebpf_network_packets_total with transport "other" or as far as parsed).',
    { whereKnown: POD },
  ),
  tcAttached: gauge(
    'tc',
    'ebpf.agent.tc.attached',
    '1',
    [A.ATTR_NETWORK_INTERFACE_NAME],
    'Interfaces tc counts on (both directions); 0 for one that is gone, whose series stay for --exited-retention.',
  ),
  tcAttachFailures: counter(
    'tc',
    'ebpf.agent.tc.attach_failures',
    '{attempt}',
    [],
    'Attempts to attach tc to an interface --net-interface matches that failed (its packets are not counted; every poll tries again, the first failure per interface is logged).',
  ),
  tcpRetransmits: counter(
    'tcp',
    'ebpf.tcp.retransmits',
    '{segment}',
    [A.ATTR_PROCESS_EXECUTABLE_NAME],
    'TCP segments retransmitted (SYNs included) on sockets of every process that ran the executable, exited ones included; executable "other" holds the series beyond the budget.',
    { whereKnown: ATTRIBUTION },
  ),
  tcpResetsSent: counter(
    'tcp',
    'ebpf.tcp.resets_sent',
    '{reset}',
    [A.ATTR_PROCESS_EXECUTABLE_NAME],
    "TCP resets sent on the executable's sockets (not the kernel's answers to segments for no socket, such as a SYN to a closed port).",
    { whereKnown: ATTRIBUTION },
  ),
  tcpResetsReceived: counter(
    'tcp',
    'ebpf.tcp.resets_received',
    '{reset}',
    [A.ATTR_PROCESS_EXECUTABLE_NAME],
    "TCP resets received on the executable's sockets (a refused connect is one).",
    { whereKnown: ATTRIBUTION },
  ),
  tcpConnectAttempts: counter(
    'tcp',
    'ebpf.tcp.connect.attempts',
    '{connection}',
    [A.ATTR_PROCESS_EXECUTABLE_NAME],
    'TCP connects started (CLOSE to SYN_SENT) by every process that ran the executable, exited ones included.',
    { whereKnown: ATTRIBUTION },
  ),
  tcpConnectFailures: counter(
    'tcp',
    'ebpf.tcp.connect.failures',
    '{connection}',
    [A.ATTR_PROCESS_EXECUTABLE_NAME],
    'TCP connects that ended without a connection (SYN_SENT to CLOSE: refused, timed out, or given up).',
    { whereKnown: ATTRIBUTION },
  ),
  tcpConnectDuration: {
    name: 'ebpf.tcp.connect.duration',
    kind: 'histogram',
    valueType: 'double',
    unit: 's',
    description:
      'TCP handshake time of the connects that succeeded (SYN_SENT to ESTABLISHED), in log2 buckets from 8 µs to 4.19 s fixed in the kernel.',
    attributes: [A.ATTR_PROCESS_EXECUTABLE_NAME],
    whereKnown: ATTRIBUTION,
    program: 'tcp',
  },
  tcpUnownedEvents: counter(
    'tcp',
    'ebpf.agent.tcp.unowned_events',
    '{event}',
    [],
    'TCP events (retransmits, resets, handshake ends) on sockets whose process is not known (opened before the agent started, or tcp_socks was full): counted under no executable.',
  ),
  processExits: counter(
    'exits',
    'ebpf.process.exits',
    '{exit}',
    [A.ATTR_PROCESS_EXECUTABLE_NAME, A.ATTR_PROCESS_EXIT_REASON],
    'Processes that ended, by executable and reason: "exited" with process_exit_code_class "0" or "nonzero", "signaled" with process_exit_signal and process_exit_core_dumped; executable "other" holds the series beyond the budget.',
    {
      whereKnown: [
        A.ATTR_PROCESS_EXIT_CODE_CLASS,
        A.ATTR_PROCESS_EXIT_SIGNAL,
        A.ATTR_PROCESS_EXIT_CORE_DUMPED,
        ...ATTRIBUTION,
      ],
    },
  ),
  oomKills: counter(
    'exits',
    'ebpf.oom.kills',
    '{kill}',
    [A.ATTR_PROCESS_EXECUTABLE_NAME],
    'Processes the OOM killer chose (a memory cgroup over its limit, or the whole machine out of memory), counted at their exit, by executable; executable "other" holds the series beyond the budget.',
    { whereKnown: ATTRIBUTION },
  ),
  execHandlerRuns: counter('exec', 'ebpf.agent.exec_handler.runs', '{run}', [], 'Exec handler runs started.'),
  execHandlerFailures: counter(
    'exec',
    'ebpf.agent.exec_handler.failures',
    '{run}',
    [],
    'Exec handler runs that failed to start or exited non-zero.',
  ),
  execHandlerTimeouts: counter(
    'exec',
    'ebpf.agent.exec_handler.timeouts',
    '{run}',
    [],
    'Exec handler runs killed for running past --exec-handler-timeout.',
  ),
  execHandlerDropped: counter(
    'exec',
    'ebpf.agent.exec_handler.dropped',
    '{event}',
    [A.ATTR_REASON],
    'Execs not handled because of the rate limit or the concurrency cap.',
  ),
  execHandlerSkipped: counter(
    'exec',
    'ebpf.agent.exec_handler.skipped',
    '{event}',
    [A.ATTR_REASON],
    "Execs not handled by choice: not selected by the filters, or by the agent's own descendants.",
  ),
  execHandlerRunning: gauge('exec', 'ebpf.agent.exec_handler.running', '{run}', [], 'Exec handlers running now.'),
  execLogWriteErrors: counter(
    'exec',
    'ebpf.agent.exec_log.write_errors',
    '{line}',
    [],
    'Exec log lines lost because writing them failed (disk full, closed pipe).',
  ),
  eventsLost: counter(
    'agent',
    'ebpf.agent.events_lost',
    '{event}',
    [A.ATTR_PROGRAM],
    'Kernel events lost because a ring buffer was full, by program.',
  ),
  mapUpdatesDropped: counter(
    'agent',
    'ebpf.agent.map_updates_dropped',
    '{update}',
    [A.ATTR_PROGRAM, A.ATTR_MAP],
    'Updates not recorded because a map was full (a BPF map, or a bounded table of the agent such as exec_pairs), by program and map.',
  ),
  mapEntries: gauge(
    'agent',
    'ebpf.agent.map_entries',
    '{entry}',
    [A.ATTR_PROGRAM, A.ATTR_MAP],
    'Entries in a BPF map at the last poll.',
  ),
  mapCapacity: gauge(
    'agent',
    'ebpf.agent.map_capacity',
    '{entry}',
    [A.ATTR_PROGRAM, A.ATTR_MAP],
    'Capacity (max_entries) of a BPF map.',
  ),
  programAttached: gauge(
    'agent',
    'ebpf.agent.program.attached',
    '1',
    [A.ATTR_PROGRAM],
    '1 when every kernel attachment of the program is in place.',
  ),
  bpfRunTime: counter(
    'agent',
    'ebpf.agent.bpf_program.run_time',
    's',
    [A.ATTR_PROGRAM, A.ATTR_BPF_PROGRAM],
    'Time the kernel spent running each BPF program (--bpf-stats).',
    { valueType: 'double' },
  ),
  bpfRuns: counter(
    'agent',
    'ebpf.agent.bpf_program.runs',
    '{run}',
    [A.ATTR_PROGRAM, A.ATTR_BPF_PROGRAM],
    'Runs of each BPF program (--bpf-stats).',
  ),
  polls: counter('agent', 'ebpf.agent.polls', '{poll}', [], 'Polls of the BPF maps.'),
  pollErrors: counter(
    'agent',
    'ebpf.agent.poll_errors',
    '{poll}',
    [A.ATTR_PROGRAM],
    'Collections that failed, by program (agent: the whole poll); a failing program leaves only its own part out.',
  ),
  pollDuration: histogram('ebpf.agent.poll.duration', 'Time to read, decode and publish one poll.'),
  scrapeDuration: histogram('ebpf.agent.scrape.duration', 'Time to serve one /metrics response.'),
  cpuTime: counter(
    'agent',
    'ebpf.agent.cpu.time',
    's',
    [A.ATTR_CPU_MODE],
    "CPU time of the agent's own process (all its threads) since it started, by mode: user or system.",
    { valueType: 'double' },
  ),
  memoryUsage: gauge(
    'agent',
    'ebpf.agent.memory.usage',
    'By',
    [],
    "Resident memory (RSS) of the agent's own process at the poll.",
  ),
  memoryPeak: gauge(
    'agent',
    'ebpf.agent.memory.peak',
    'By',
    [],
    "Peak resident memory of the agent's own process since it started (getrusage's maxrss).",
  ),
  exports: counter(
    'agent',
    'ebpf.agent.exports',
    '{export}',
    [A.ATTR_EXPORTER],
    'Collections an exporter delivered (built the /metrics text, or had the OTLP receiver accept them), by exporter.',
  ),
  exportsFailed: counter(
    'agent',
    'ebpf.agent.exports_failed',
    '{export}',
    [A.ATTR_EXPORTER],
    'Collections an exporter failed to deliver (refused, timed out, or the exporter threw), by exporter.',
  ),
  exportsSkipped: counter(
    'agent',
    'ebpf.agent.exports_skipped',
    '{export}',
    [A.ATTR_EXPORTER],
    "Collections not exported because the exporter's previous export was still in flight, by exporter.",
  ),
  otlpLogsExported: counter(
    'agent',
    'ebpf.agent.otlp_logs.exported',
    '{record}',
    [],
    'Exec and exit log records the OTLP receiver accepted (--otlp-logs).',
  ),
  otlpLogsDropped: counter(
    'agent',
    'ebpf.agent.otlp_logs.dropped',
    '{record}',
    [A.ATTR_REASON],
    'Exec and exit log records lost (--otlp-logs): queue_full (more waited than the agent holds), export_failed (the receiver refused the request, or it failed).',
  ),
  series: gauge(
    'agent',
    'ebpf.agent.series',
    '{series}',
    [A.ATTR_METRIC],
    'Series exported per metric at the last poll.',
  ),
  seriesFolded: counter(
    'agent',
    'ebpf.agent.series_folded',
    '{series}',
    [A.ATTR_METRIC],
    'Series folded into the "other" series of their metric because it was over its budget (--max-series for the aggregates, --max-process-series per process).',
  ),
  seriesEndedEarly: counter(
    'agent',
    'ebpf.agent.series_ended_early',
    '{series}',
    [A.ATTR_METRIC],
    'Per-process (and exec) series that lost their own labels to the budget and left before their retention was over (more of them waited than the budget allows), each after its final value had been shown for --scrape-interval plus one --interval.',
  ),
  buildInfo: gauge(
    'agent',
    'ebpf.agent.build.info',
    '1',
    [A.ATTR_VERSION, A.ATTR_LIBBPF, A.ATTR_KERNEL],
    'Build and platform of the agent (value 1).',
  ),
} as const satisfies Record<string, MetricDescriptor>;

export type MetricId = keyof typeof METRICS;

export const ALL_METRICS: readonly MetricDescriptor[] = Object.values(METRICS);

/**
 * Attribute keys whose values name a metric (ebpf.agent.series{metric}). The data carries the OpenTelemetry name,
 * as OTLP receivers expect; the Prometheus exposition writes the Prometheus family name, as PromQL users expect.
 */
export const METRIC_NAME_ATTRIBUTES: ReadonlySet<string> = new Set([A.ATTR_METRIC]);

/** The agent's own health (ebpf.agent.*): not counted in ebpf.agent.series, whatever program contributes it. */
export function isAgentHealth(d: Pick<MetricDescriptor, 'name'>): boolean {
  return d.name.startsWith('ebpf.agent.');
}

/** The metrics a program contributes (program descriptors, --help and docs can list them). */
export function metricsOf(program: MetricDescriptor['program']): MetricDescriptor[] {
  return ALL_METRICS.filter((d) => d.program === program);
}

/** The description with its `{flag-name}` placeholders filled (the CPU sampling rate). */
export function descriptionOf(d: MetricDescriptor, values: Record<string, string | number> = {}): string {
  return d.description.replace(/\{([\w-]+)\}/g, (whole, key: string) => (key in values ? String(values[key]) : whole));
}

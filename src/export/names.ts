// Metric and attribute names: the contract with dashboards, the chart and users' PromQL (../shared/DESIGN.md).
// OpenTelemetry names are dotted; prometheus.ts derives the Prometheus form (ebpf.syscalls → ebpf_syscalls_total).
import {
  ATTR_NETWORK_TRANSPORT,
  ATTR_NETWORK_TYPE,
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_VERSION,
} from '@opentelemetry/semantic-conventions';

export const METRIC_SYSCALLS = 'ebpf.syscalls'; // {call}
export const METRIC_PROCESS_EXECS = 'ebpf.process.execs'; // {exec}
export const METRIC_CPU_SAMPLES = 'ebpf.cpu.samples'; // {sample}
export const METRIC_CPU_IDLE_SAMPLES = 'ebpf.cpu.idle_samples'; // {sample}
export const METRIC_XDP_PACKETS = 'ebpf.xdp.packets'; // {packet}
export const METRIC_XDP_BYTES = 'ebpf.xdp.bytes'; // By
export const METRIC_XDP_TRUNCATED = 'ebpf.xdp.truncated_packets'; // {packet}

export const METRIC_AGENT_EVENTS_LOST = 'ebpf.agent.events_lost'; // {event}
export const METRIC_AGENT_MAP_UPDATES_DROPPED = 'ebpf.agent.map_updates_dropped'; // {update}
export const METRIC_AGENT_MAP_ENTRIES = 'ebpf.agent.map_entries'; // {entry}
export const METRIC_AGENT_MAP_CAPACITY = 'ebpf.agent.map_capacity'; // {entry}
export const METRIC_AGENT_POLLS = 'ebpf.agent.polls'; // {poll}
export const METRIC_AGENT_POLL_ERRORS = 'ebpf.agent.poll_errors'; // {poll}
export const METRIC_AGENT_POLL_DURATION = 'ebpf.agent.poll.duration'; // s
export const METRIC_AGENT_SCRAPE_DURATION = 'ebpf.agent.scrape.duration'; // s
export const METRIC_AGENT_SERIES = 'ebpf.agent.series'; // {series}
export const METRIC_AGENT_SERIES_FOLDED = 'ebpf.agent.series_folded'; // {series}
export const METRIC_AGENT_PROGRAM_ATTACHED = 'ebpf.agent.program.attached'; // 1 or 0
export const METRIC_AGENT_XDP_ATTACHED = 'ebpf.agent.xdp.attached'; // 1
export const METRIC_AGENT_XDP_INTERFACE_LOSSES = 'ebpf.agent.xdp.interface_losses'; // {event}
export const METRIC_AGENT_EXEC_HANDLER_RUNS = 'ebpf.agent.exec_handler.runs'; // {run}
export const METRIC_AGENT_EXEC_HANDLER_FAILURES = 'ebpf.agent.exec_handler.failures'; // {run}
export const METRIC_AGENT_EXEC_HANDLER_TIMEOUTS = 'ebpf.agent.exec_handler.timeouts'; // {run}
export const METRIC_AGENT_EXEC_HANDLER_DROPPED = 'ebpf.agent.exec_handler.dropped'; // {event}
export const METRIC_AGENT_EXEC_HANDLER_SKIPPED = 'ebpf.agent.exec_handler.skipped'; // {event}
export const METRIC_AGENT_EXEC_HANDLER_RUNNING = 'ebpf.agent.exec_handler.running'; // {run}
export const METRIC_AGENT_EXEC_LOG_WRITE_ERRORS = 'ebpf.agent.exec_log.write_errors'; // {line}
export const METRIC_AGENT_BPF_RUN_TIME = 'ebpf.agent.bpf_program.run_time'; // s
export const METRIC_AGENT_BPF_RUNS = 'ebpf.agent.bpf_program.runs'; // {run}
export const METRIC_AGENT_BUILD_INFO = 'ebpf.agent.build.info'; // 1

export const ATTR_PROCESS_PID = 'process.pid';
export const ATTR_PROCESS_EXECUTABLE_NAME = 'process.executable.name';
export const ATTR_PROCESS_PARENT_EXECUTABLE_NAME = 'process.parent.executable.name';
export const ATTR_SYSCALL = 'syscall';
export const ATTR_NETWORK_INTERFACE_NAME = 'network.interface.name';
export { ATTR_NETWORK_TRANSPORT, ATTR_NETWORK_TYPE, ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION };
export const ATTR_HOST_NAME = 'host.name';
export const ATTR_CONTAINER_ID = 'container.id';
export const ATTR_K8S_POD_UID = 'k8s.pod.uid';
export const ATTR_K8S_POD_NAME = 'k8s.pod.name';
export const ATTR_K8S_NAMESPACE_NAME = 'k8s.namespace.name';
export const ATTR_PROGRAM = 'program';
export const ATTR_MAP = 'map';
export const ATTR_METRIC = 'metric';
export const ATTR_MODE = 'mode';
export const ATTR_REASON = 'reason';
export const ATTR_BPF_PROGRAM = 'bpf_program';

export const SERVICE_NAME = 'ebpf-otel-agent';

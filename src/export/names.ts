// Attribute keys (OpenTelemetry form: dotted, semantic conventions where they exist): with the metric table
// (descriptors.ts), the contract with dashboards, the chart and users' PromQL. prometheus.ts derives the label
// names (process.executable.name → process_executable_name).
import {
  ATTR_NETWORK_TRANSPORT,
  ATTR_NETWORK_TYPE,
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_VERSION,
} from '@opentelemetry/semantic-conventions';

export const ATTR_PROCESS_PID = 'process.pid';
export const ATTR_PROCESS_EXECUTABLE_NAME = 'process.executable.name';
export const ATTR_PROCESS_PARENT_EXECUTABLE_NAME = 'process.parent.executable.name';
export const ATTR_SYSCALL = 'syscall';
export const ATTR_PROCESS_EXIT_REASON = 'process.exit.reason';
export const ATTR_PROCESS_EXIT_CODE_CLASS = 'process.exit.code_class';
export const ATTR_PROCESS_EXIT_SIGNAL = 'process.exit.signal';
export const ATTR_PROCESS_EXIT_CORE_DUMPED = 'process.exit.core_dumped';
export const ATTR_NETWORK_INTERFACE_NAME = 'network.interface.name';
export const ATTR_NETWORK_IO_DIRECTION = 'network.io.direction';
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
export const ATTR_EXPORTER = 'exporter';
/** OpenTelemetry semantic conventions: the CPU mode of a process's CPU time (user, system). */
export const ATTR_CPU_MODE = 'cpu.mode';
export const ATTR_VERSION = 'version';
export const ATTR_LIBBPF = 'libbpf';
export const ATTR_KERNEL = 'kernel';

export const SERVICE_NAME = 'ebpf-otel-agent';

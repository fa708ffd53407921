// One event model for process lifecycle events: the exec events of the exec program and the exit events of the exits
// program, each a list of fields named once with their JSON exec-log key (--exec-log) and their OpenTelemetry
// semantic-convention attribute key (--otlp-logs), so the two outputs cannot drift apart.
import type { ExecEvent } from './collector/exec.ts';
import type { ExitEvent } from './collector/exits.ts';
import type { Attribution } from './collector/series.ts';

export type FieldValue = string | number | boolean;

/** A field of an event: its key in the JSON exec log (absent: not in it), its OpenTelemetry key, its value. */
export interface EventField<E> {
  json?: string;
  otel: string;
  value: (event: E) => FieldValue | undefined;
}

export const EXEC_FIELDS: readonly EventField<ExecEvent>[] = [
  { json: 'pid', otel: 'process.pid', value: (e) => e.pid },
  { json: 'ppid', otel: 'process.parent_pid', value: (e) => e.ppid },
  { json: 'uid', otel: 'process.real_user.id', value: (e) => e.uid },
  { json: 'comm', otel: 'process.command', value: (e) => e.comm },
  { json: 'parent_comm', otel: 'process.parent.command', value: (e) => e.parentComm },
  { json: 'executable', otel: 'process.executable.name', value: (e) => e.executable },
  { json: 'parent_executable', otel: 'process.parent.executable.name', value: (e) => e.parentExecutable },
  { json: 'filename', otel: 'process.executable.path', value: (e) => e.filename },
  { json: 'cgroup_id', otel: 'linux.cgroup.id', value: (e) => e.cgroupId.toString() },
];

export const EXIT_FIELDS: readonly EventField<ExitEvent>[] = [
  { otel: 'process.pid', value: (e) => e.pid },
  { otel: 'process.parent_pid', value: (e) => e.ppid },
  { otel: 'process.real_user.id', value: (e) => e.uid },
  { otel: 'process.executable.name', value: (e) => e.executable },
  { otel: 'process.exit.reason', value: (e) => e.reason },
  { otel: 'process.exit.code', value: (e) => e.code },
  { otel: 'process.exit.signal', value: (e) => e.signal },
  { otel: 'process.exit.core_dumped', value: (e) => (e.reason === 'signaled' ? e.coreDumped : undefined) },
  { otel: 'process.exit.oom_killed', value: (e) => e.oomKilled },
  { otel: 'process.creation.time', value: (e) => new Date(Number(e.startTimeNs / 1_000_000n)).toISOString() },
  { otel: 'process.exit.time', value: (e) => new Date(e.timeMs).toISOString() },
  { otel: 'process.lifetime_seconds', value: (e) => Number(e.timeNs - e.startTimeNs) / 1e9 },
  { otel: 'linux.cgroup.id', value: (e) => e.cgroupId.toString() },
];

/** Container and pod, with both keys. */
export const ATTRIBUTION_FIELDS: readonly EventField<Attribution>[] = [
  { json: 'container_id', otel: 'container.id', value: (a) => a.containerId },
  { json: 'k8s_pod_uid', otel: 'k8s.pod.uid', value: (a) => a.podUid },
  { json: 'k8s_pod_name', otel: 'k8s.pod.name', value: (a) => a.podName },
  { json: 'k8s_namespace_name', otel: 'k8s.namespace.name', value: (a) => a.podNamespace },
];

/** A lifecycle event as the exporters take it. */
export type ProcessEvent =
  | { name: 'process.exec'; timeNs: bigint; event: ExecEvent; attribution: Attribution }
  | { name: 'process.exit'; timeNs: bigint; event: ExitEvent; attribution: Attribution };

function collect<E>(
  fields: readonly EventField<E>[],
  event: E,
  key: 'json' | 'otel',
  out: Record<string, FieldValue>,
): void {
  for (const f of fields) {
    const k = f[key];
    if (k === undefined) continue;
    const v = f.value(event);
    if (v !== undefined) out[k] = v;
  }
}

/** The event's OpenTelemetry attributes (container and pod where known). */
export function eventAttributes(e: ProcessEvent): Record<string, FieldValue> {
  const out: Record<string, FieldValue> = {};
  if (e.name === 'process.exec') collect(EXEC_FIELDS, e.event, 'otel', out);
  else collect(EXIT_FIELDS, e.event, 'otel', out);
  collect(ATTRIBUTION_FIELDS, e.attribution, 'otel', out);
  return out;
}

/** The JSON exec log's object for an exec (time first, container and pod where known). */
export function execJson(event: ExecEvent, attribution: Attribution): Record<string, FieldValue> {
  const out: Record<string, FieldValue> = { time: new Date(event.timeMs).toISOString() };
  collect(EXEC_FIELDS, event, 'json', out);
  collect(ATTRIBUTION_FIELDS, attribution, 'json', out);
  return out;
}

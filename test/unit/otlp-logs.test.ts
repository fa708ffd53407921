// --otlp-logs without a receiver: the records of src/events.ts's model (the JSON exec log's fields under their
// OpenTelemetry keys), batching, the bound on waiting records and the losses, counted.
import { describe, expect, it } from 'vitest';
import type { ExecEvent } from '../../src/collector/exec.ts';
import type { ExitEvent } from '../../src/collector/exits.ts';
import { eventAttributes, execJson, type ProcessEvent } from '../../src/events.ts';
import { checkOtlpLogs } from '../../src/config.ts';
import { silentLogger } from '../../src/log.ts';
import { logRecord, otlpLogsUrl, OtlpLogExporter } from '../../src/export/otlp-logs.ts';
import { agentResource } from '../../src/export/resource.ts';

const exec: ExecEvent = {
  timeMs: 1_700_000_000_123,
  timeNs: 1_700_000_000_123_000_000n,
  cgroupId: 42n,
  pid: 100,
  ppid: 1,
  uid: 1000,
  comm: 'curl',
  parentComm: 'bash',
  executable: 'curl',
  parentExecutable: 'bash',
  filename: '/usr/bin/curl',
  filenameTruncated: false,
  fromAgent: false,
};

const exit: ExitEvent = {
  timeMs: 1_700_000_002_123,
  timeNs: 1_700_000_002_123_000_000n,
  startTimeNs: 1_700_000_000_123_000_000n,
  cgroupId: 42n,
  pid: 100,
  ppid: 1,
  uid: 1000,
  executable: 'curl',
  reason: 'signaled',
  signal: 'SIGKILL',
  coreDumped: false,
  oomKilled: true,
};

const where = { containerId: 'c0ffee', podName: 'web-0' };
const execEvent: ProcessEvent = { name: 'process.exec', timeNs: exec.timeNs, event: exec, attribution: where };
const exitEvent: ProcessEvent = { name: 'process.exit', timeNs: exit.timeNs, event: exit, attribution: where };

describe('the event model', () => {
  it('names the exec log’s fields and the OTLP attributes from one table', () => {
    expect(execJson(exec, where)).toEqual({
      time: '2023-11-14T22:13:20.123Z',
      pid: 100,
      ppid: 1,
      uid: 1000,
      comm: 'curl',
      parent_comm: 'bash',
      executable: 'curl',
      parent_executable: 'bash',
      filename: '/usr/bin/curl',
      cgroup_id: '42',
      container_id: 'c0ffee',
      k8s_pod_name: 'web-0',
    });
    expect(eventAttributes(execEvent)).toEqual({
      'process.pid': 100,
      'process.parent_pid': 1,
      'process.real_user.id': 1000,
      'process.command': 'curl',
      'process.parent.command': 'bash',
      'process.executable.name': 'curl',
      'process.parent.executable.name': 'bash',
      'process.executable.path': '/usr/bin/curl',
      'linux.cgroup.id': '42',
      'container.id': 'c0ffee',
      'k8s.pod.name': 'web-0',
    });
  });

  it('gives an exit its reason, signal, OOM mark and lifetime', () => {
    expect(eventAttributes(exitEvent)).toMatchObject({
      'process.exit.reason': 'signaled',
      'process.exit.signal': 'SIGKILL',
      'process.exit.core_dumped': false,
      'process.exit.oom_killed': true,
      'process.lifetime_seconds': 2,
      'process.creation.time': '2023-11-14T22:13:20.123Z',
    });
    expect(eventAttributes(exitEvent)['process.exit.code']).toBeUndefined();
    const record = logRecord(exitEvent, 5n);
    expect(record).toMatchObject({
      timeUnixNano: '1700000002123000000',
      observedTimeUnixNano: '5',
      eventName: 'process.exit',
      body: { stringValue: 'exit curl (pid 100): SIGKILL, OOM-killed' },
    });
  });

  it('sends to /v1/logs', () => {
    expect(otlpLogsUrl('http://collector:4318')).toBe('http://collector:4318/v1/logs');
    expect(otlpLogsUrl('http://collector:4318/other')).toBe('http://collector:4318/v1/logs');
  });
});

describe('OtlpLogExporter', () => {
  const make = (status: number, maxQueue = 4) => {
    const bodies: unknown[] = [];
    const exporter = new OtlpLogExporter({
      endpoint: 'http://collector:4318',
      resource: agentResource('1.2.3', 'node-a'),
      version: '1.2.3',
      logger: silentLogger,
      maxQueue,
      maxBatch: 2,
      fetch: (async (_url: string, init: { body: string }) => {
        bodies.push(JSON.parse(init.body));
        return new Response('{}', { status });
      }) as unknown as typeof fetch,
    });
    return { exporter, bodies };
  };

  it('batches what waits and counts what the bound and the receiver lose', async () => {
    const { exporter, bodies } = make(200);
    for (let i = 0; i < 5; i++) exporter.emit(execEvent);
    await exporter.flush();
    expect(bodies).toHaveLength(2);
    expect(exporter.stats()).toEqual({ exported: 4, dropped: { queue_full: 1, export_failed: 0 } });
    const failing = make(503);
    failing.exporter.emit(exitEvent);
    await failing.exporter.close();
    expect(failing.exporter.stats()).toEqual({ exported: 0, dropped: { queue_full: 0, export_failed: 1 } });
  });
});

describe('--otlp-logs against the rest of the configuration', () => {
  const base = {
    otlpLogs: true,
    otlpEndpoint: 'http://c:4318',
    otlpProtocol: 'http/protobuf' as const,
    programs: ['exits' as const],
  };
  it('needs an endpoint over HTTP and a program with events, in one line each', () => {
    expect(() => checkOtlpLogs(base)).not.toThrow();
    expect(() => checkOtlpLogs({ ...base, otlpEndpoint: undefined })).toThrow(/^--otlp-logs needs --otlp-endpoint/);
    expect(() => checkOtlpLogs({ ...base, otlpProtocol: 'grpc' })).toThrow(/^--otlp-logs sends OTLP\/HTTP/);
    expect(() => checkOtlpLogs({ ...base, programs: ['syscalls'] })).toThrow(/add exec or exits to --programs$/);
    expect(() => checkOtlpLogs({ ...base, otlpLogs: false, otlpEndpoint: undefined })).not.toThrow();
  });
});

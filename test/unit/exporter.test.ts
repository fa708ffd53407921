// The exporter interface (src/export/exporter.ts), its registry (exporters.ts) and both implementations: the
// Prometheus one behind a real MetricsServer, the OTLP one with an injected exporter and with the real OTLP/HTTP
// exporter against an in-process receiver.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ExportResult as OtelExportResult } from '@opentelemetry/core';
import type { PushMetricExporter, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it } from 'vitest';
import { Exporters, type ExportResult, type MetricsExporter } from '../../src/export/exporter.ts';
import { createExporters, EXPORTERS, type ExporterEntry } from '../../src/export/exporters.ts';
import { buildResourceMetrics } from '../../src/export/metrics.ts';
import { OtlpExporter } from '../../src/export/otlp.ts';
import { PrometheusExporter, serialize } from '../../src/export/prometheus.ts';
import { agentResource } from '../../src/export/resource.ts';
import { MetricsServer } from '../../src/export/server.ts';
import type { Logger } from '../../src/log.ts';
import { richSnapshot } from './rich-snapshot.ts';

const metrics = (): ResourceMetrics => buildResourceMetrics(agentResource('1.2.3', 'node-a'), '1.2.3', richSnapshot());

function recordingLogger(): Logger & { warnings: { message: string; fields?: Record<string, unknown> }[] } {
  const warnings: { message: string; fields?: Record<string, unknown> }[] = [];
  return { debug() {}, info() {}, warn: (message, fields) => warnings.push({ message, fields }), error() {}, warnings };
}

/** An exporter that does what the test says, and remembers what it was given. */
class Scripted implements MetricsExporter {
  readonly received: ResourceMetrics[] = [];
  readonly pending: ((result: ExportResult) => void)[] = [];
  started = 0;
  stopped = 0;
  readonly name: string;
  readonly behave: 'export' | 'fail' | 'throw' | 'later' | 'twice';
  readonly startFails: boolean;
  constructor(name: string, behave: Scripted['behave'] = 'export', startFails = false) {
    this.name = name;
    this.behave = behave;
    this.startFails = startFails;
  }
  async start(): Promise<void> {
    if (this.startFails) throw new Error(`${this.name} cannot start`);
    this.started++;
  }
  export(m: ResourceMetrics, done: (result: ExportResult) => void): void {
    this.received.push(m);
    if (this.behave === 'throw') throw new Error('boom');
    if (this.behave === 'fail') done({ outcome: 'failed', error: new Error('refused') });
    if (this.behave === 'export') done({ outcome: 'exported' });
    if (this.behave === 'later') this.pending.push(done);
    if (this.behave === 'twice') {
      done({ outcome: 'exported' });
      done({ outcome: 'failed', error: new Error('again') });
    }
  }
  async shutdown(): Promise<void> {
    this.stopped++;
  }
}

describe('Exporters', () => {
  it('hands the same collection to every exporter and counts how each export ended', () => {
    const a = new Scripted('a');
    const b = new Scripted('b', 'fail');
    const exporters = new Exporters([a, b], recordingLogger());
    const m = metrics();
    exporters.export(m);
    exporters.export(m);
    expect(a.received).toEqual([m, m]);
    expect(b.received[0]).toBe(m);
    expect(exporters.stats()).toEqual([
      { exporter: 'a', exported: 2, failed: 0, skipped: 0 },
      { exporter: 'b', exported: 0, failed: 2, skipped: 0 },
    ]);
  });

  it('counts an exporter that throws as failed, never throws, and still feeds the others', () => {
    const thrower = new Scripted('thrower', 'throw');
    const after = new Scripted('after');
    const logger = recordingLogger();
    const exporters = new Exporters([thrower, after], logger);
    expect(() => exporters.export(metrics())).not.toThrow();
    expect(after.received).toHaveLength(1);
    expect(exporters.stats()[0]).toEqual({ exporter: 'thrower', exported: 0, failed: 1, skipped: 0 });
    expect(logger.warnings).toEqual([
      { message: 'thrower export failed', fields: { exporter: 'thrower', failures: 1, error: 'boom' } },
    ]);
  });

  it('counts an export that ends later when it ends, and a second report not at all', () => {
    const later = new Scripted('later', 'later');
    const twice = new Scripted('twice', 'twice');
    const exporters = new Exporters([later, twice], recordingLogger());
    exporters.export(metrics());
    expect(exporters.stats()[0]).toEqual({ exporter: 'later', exported: 0, failed: 0, skipped: 0 });
    later.pending[0]!({ outcome: 'skipped' });
    later.pending[0]!({ outcome: 'exported' });
    expect(exporters.stats()).toEqual([
      { exporter: 'later', exported: 0, failed: 0, skipped: 1 },
      { exporter: 'twice', exported: 1, failed: 0, skipped: 0 },
    ]);
  });

  it('logs the first failure and then one in a hundred', () => {
    const logger = recordingLogger();
    const exporters = new Exporters([new Scripted('down', 'fail')], logger);
    for (let i = 0; i < 250; i++) exporters.export(metrics());
    expect(logger.warnings.map((w) => w.fields?.failures)).toEqual([1, 100, 200]);
  });

  it('starts all, and when one cannot start shuts down the ones started and rejects', async () => {
    const a = new Scripted('a');
    const b = new Scripted('b', 'export', true);
    const c = new Scripted('c');
    await expect(new Exporters([a, b, c], recordingLogger()).start()).rejects.toThrow('b cannot start');
    expect([a.started, a.stopped, c.started]).toEqual([1, 1, 0]);
  });

  it('shuts every exporter down and logs, not throws, a failed shutdown', async () => {
    const a = new Scripted('a');
    const bad: MetricsExporter = {
      name: 'bad',
      start: async () => {},
      export() {},
      shutdown: () => Promise.reject(new Error('stuck')),
    };
    const logger = recordingLogger();
    await new Exporters([bad, a], logger).shutdown();
    expect(a.stopped).toBe(1);
    expect(logger.warnings).toEqual([
      { message: 'exporter shutdown failed', fields: { exporter: 'bad', error: 'stuck' } },
    ]);
  });

  it('gives up on a shutdown that does not finish in time, logs it and counts the lost export', async () => {
    const hung: MetricsExporter = {
      name: 'otlp',
      title: 'OTLP',
      start: async () => {},
      export() {},
      shutdown: () => new Promise(() => {}),
    };
    const logger = recordingLogger();
    const exporters = new Exporters([hung, new Scripted('a')], logger);
    const started = performance.now();
    await exporters.shutdown(50);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(logger.warnings).toEqual([
      { message: 'OTLP shutdown did not finish in 50 ms: its last export is dropped', fields: { exporter: 'otlp' } },
    ]);
    expect(exporters.stats()[0]).toMatchObject({ exporter: 'otlp', failed: 1 });
  });

  it('logs a recovery once exports succeed again, with the failures it ended', () => {
    const infos: { message: string; fields?: Record<string, unknown> }[] = [];
    const logger = {
      ...recordingLogger(),
      info: (message: string, fields?: Record<string, unknown>) => infos.push({ message, fields }),
    };
    let fail = true;
    const flaky: MetricsExporter = {
      name: 'otlp',
      title: 'OTLP',
      start: async () => {},
      export: (_m, done) => done(fail ? { outcome: 'failed', error: new Error('down') } : { outcome: 'exported' }),
      shutdown: async () => {},
    };
    const exporters = new Exporters([flaky], logger);
    exporters.export(metrics());
    expect(infos).toEqual([]);
    for (let i = 0; i < 3; i++) exporters.export(metrics());
    fail = false;
    exporters.export(metrics());
    exporters.export(metrics());
    expect(infos).toEqual([{ message: 'OTLP export recovered', fields: { exporter: 'otlp', failed: 4 } }]);
  });

  it('refuses two exporters of one name (their counters would merge)', () => {
    expect(() => new Exporters([new Scripted('x'), new Scripted('x')], recordingLogger())).toThrow(
      'two exporters are named x',
    );
  });
});

describe('the registry', () => {
  const server = { update() {} };

  it('always has the Prometheus exporter, and OTLP with an endpoint', () => {
    expect(createExporters({ metricsServer: server, otlpProtocol: 'grpc' }, recordingLogger()).names).toEqual([
      'prometheus',
    ]);
    const both = createExporters(
      { metricsServer: server, otlpEndpoint: 'http://127.0.0.1:4318', otlpProtocol: 'http/protobuf' },
      recordingLogger(),
    );
    expect(both.names).toEqual(['prometheus', 'otlp']);
  });

  it('takes a third exporter from one more entry, counted like the others', async () => {
    const lines: string[] = [];
    const third: ExporterEntry = {
      create: () => ({
        name: 'lines',
        start: async () => {},
        export: (m, done) => {
          lines.push(`${m.scopeMetrics[0]!.metrics.length} metrics`);
          done({ outcome: 'exported' });
        },
        shutdown: async () => {},
      }),
    };
    const exporters = createExporters({ metricsServer: server, otlpProtocol: 'grpc' }, recordingLogger(), [
      ...EXPORTERS,
      third,
    ]);
    await exporters.start();
    exporters.export(metrics());
    expect(exporters.names).toEqual(['prometheus', 'lines']);
    expect(lines).toEqual([`${metrics().scopeMetrics[0]!.metrics.length} metrics`]);
    expect(exporters.stats()[1]).toEqual({ exporter: 'lines', exported: 1, failed: 0, skipped: 0 });
    await exporters.shutdown();
  });
});

describe('PrometheusExporter', () => {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });

  it('builds the text once per export and /metrics serves it, however often it is scraped', async () => {
    const server = new MetricsServer({ host: '127.0.0.1', port: 0, readiness: () => ({ ready: true, reason: '' }) });
    closers.push(() => server.close());
    const { port } = await server.listen();
    let updates = 0;
    const counting = { update: (t: string) => (updates++, server.update(t)) };
    const exporters = new Exporters([new PrometheusExporter(counting)], recordingLogger());
    await exporters.start();
    const m = metrics();
    exporters.export(m);
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(await res.text()).toBe(serialize(m));
    }
    expect(updates).toBe(1);
    expect(exporters.stats()).toEqual([{ exporter: 'prometheus', exported: 1, failed: 0, skipped: 0 }]);
    await exporters.shutdown();
  });

  it('counts a collection it cannot serialize as failed and leaves the last body in place', () => {
    let body: string | Buffer = 'before';
    const exporters = new Exporters([new PrometheusExporter({ update: (t) => (body = t) })], recordingLogger());
    exporters.export({ resource: null, scopeMetrics: [] } as unknown as ResourceMetrics);
    expect(body).toBe('before');
    expect(exporters.stats()[0]).toMatchObject({ exported: 0, failed: 1 });
  });
});

/** A PushMetricExporter whose results the test hands out. */
class FakeOtlp implements PushMetricExporter {
  readonly sent: ResourceMetrics[] = [];
  readonly callbacks: ((result: OtelExportResult) => void)[] = [];
  shutdowns = 0;
  throws = false;
  export(m: ResourceMetrics, callback: (result: OtelExportResult) => void): void {
    if (this.throws) throw new Error('serializer bug');
    this.sent.push(m);
    this.callbacks.push(callback);
  }
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {
    this.shutdowns++;
  }
}

describe('OtlpExporter with an injected exporter', () => {
  it('passes the collection on, and skips (counts) collections while one is in flight', async () => {
    const fake = new FakeOtlp();
    const exporters = new Exporters([new OtlpExporter({ exporter: fake })], recordingLogger());
    await exporters.start();
    const m = metrics();
    exporters.export(m);
    exporters.export(metrics());
    expect(fake.sent).toEqual([m]);
    expect(fake.sent[0]).toBe(m);
    fake.callbacks[0]!({ code: 0 });
    exporters.export(m);
    fake.callbacks[1]!({ code: 1, error: new Error('503 Service Unavailable') });
    expect(exporters.stats()).toEqual([{ exporter: 'otlp', exported: 1, failed: 1, skipped: 1 }]);
    await exporters.shutdown();
    expect(fake.shutdowns).toBe(1);
  });

  it('logs failures as "OTLP export failed" with the error (the image test reads that line)', async () => {
    const fake = new FakeOtlp();
    const logger = recordingLogger();
    const exporters = new Exporters([new OtlpExporter({ exporter: fake })], logger);
    await exporters.start();
    exporters.export(metrics());
    fake.callbacks[0]!({ code: 1 });
    expect(logger.warnings).toEqual([
      {
        message: 'OTLP export failed',
        fields: { exporter: 'otlp', failures: 1, error: 'the OTLP exporter reported a failure' },
      },
    ]);
  });

  it('fails an export before start, and after a throwing export is not stuck in flight', async () => {
    const fake = new FakeOtlp();
    const exporters = new Exporters([new OtlpExporter({ exporter: fake })], recordingLogger());
    exporters.export(metrics());
    await exporters.start();
    fake.throws = true;
    exporters.export(metrics());
    fake.throws = false;
    exporters.export(metrics());
    expect(fake.sent).toHaveLength(1);
    expect(exporters.stats()).toEqual([{ exporter: 'otlp', exported: 0, failed: 2, skipped: 0 }]);
  });
});

// A protobuf reader without a schema library: enough of the wire format (varint, fixed64, length-delimited) and of
// opentelemetry-proto's metrics messages to read what the receiver got. Field numbers from
// opentelemetry/proto/{collector/metrics/v1/metrics_service,metrics/v1/metrics,common/v1/common}.proto.
type WireValue = { varint: bigint } | { bytes: Buffer };

function fields(buf: Buffer): Map<number, WireValue[]> {
  const out = new Map<number, WireValue[]>();
  let at = 0;
  const varint = (): bigint => {
    let v = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const b = buf[at++]!;
      v |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return v;
    }
  };
  while (at < buf.length) {
    const tag = Number(varint());
    const [field, wire] = [tag >>> 3, tag & 7];
    let value: WireValue;
    if (wire === 0) value = { varint: varint() };
    else if (wire === 1) value = { bytes: buf.subarray(at, (at += 8)) };
    else if (wire === 2) {
      const n = Number(varint());
      value = { bytes: buf.subarray(at, (at += n)) };
    } else if (wire === 5) value = { bytes: buf.subarray(at, (at += 4)) };
    else throw new Error(`wire type ${wire} at ${at}: not protobuf`);
    out.set(field, [...(out.get(field) ?? []), value]);
  }
  return out;
}

const all = (f: Map<number, WireValue[]>, n: number): Buffer[] =>
  (f.get(n) ?? []).map((v) => ('bytes' in v ? v.bytes : Buffer.alloc(0)));
const one = (f: Map<number, WireValue[]>, n: number): Buffer | undefined => all(f, n)[0];
const str = (f: Map<number, WireValue[]>, n: number): string | undefined => one(f, n)?.toString('utf8');
const varintOf = (f: Map<number, WireValue[]>, n: number): bigint | undefined => {
  const v = f.get(n)?.[0];
  return v !== undefined && 'varint' in v ? v.varint : undefined;
};

interface OtlpAttribute {
  key: string;
  value: { stringValue?: string; intValue?: string };
}
interface OtlpPoint {
  attributes?: OtlpAttribute[];
  startTimeUnixNano: bigint;
  timeUnixNano: bigint;
  asInt?: bigint;
}
interface OtlpRequest {
  resourceMetrics: {
    resource: { attributes: OtlpAttribute[] };
    scopeMetrics: {
      scope: { name: string };
      metrics: {
        name: string;
        unit?: string;
        sum?: { aggregationTemporality: number; isMonotonic: boolean; dataPoints: OtlpPoint[] };
        gauge?: { dataPoints: OtlpPoint[] };
        histogram?: { aggregationTemporality: number };
      }[];
    }[];
  }[];
}

function attributesOf(buf: Buffer[]): OtlpAttribute[] {
  return buf.map((kv) => {
    const f = fields(kv);
    const v = fields(one(f, 2) ?? Buffer.alloc(0));
    const int = varintOf(v, 3);
    return {
      key: str(f, 1)!,
      value: { stringValue: str(v, 1), intValue: int === undefined ? undefined : String(int) },
    };
  });
}

function pointOf(buf: Buffer): OtlpPoint {
  const f = fields(buf);
  return {
    attributes: attributesOf(all(f, 7)),
    startTimeUnixNano: one(f, 2)?.readBigUInt64LE() ?? 0n,
    timeUnixNano: one(f, 3)?.readBigUInt64LE() ?? 0n,
    asInt: one(f, 6)?.readBigInt64LE(),
  };
}

/** ExportMetricsServiceRequest, decoded; throws on anything that is not protobuf (JSON, say). */
function decodeRequest(body: Buffer): OtlpRequest {
  return {
    resourceMetrics: all(fields(body), 1).map((rmBuf) => {
      const rm = fields(rmBuf);
      return {
        resource: { attributes: attributesOf(all(fields(one(rm, 1) ?? Buffer.alloc(0)), 1)) },
        scopeMetrics: all(rm, 2).map((smBuf) => {
          const sm = fields(smBuf);
          return {
            scope: { name: str(fields(one(sm, 1) ?? Buffer.alloc(0)), 1)! },
            metrics: all(sm, 2).map((mBuf) => {
              const m = fields(mBuf);
              const sum = one(m, 7);
              const gauge = one(m, 5);
              const histogram = one(m, 9);
              const sumFields = sum === undefined ? undefined : fields(sum);
              return {
                name: str(m, 1)!,
                unit: str(m, 3),
                sum:
                  sumFields === undefined
                    ? undefined
                    : {
                        aggregationTemporality: Number(varintOf(sumFields, 2) ?? 0n),
                        isMonotonic: varintOf(sumFields, 3) === 1n,
                        dataPoints: all(sumFields, 1).map(pointOf),
                      },
                gauge: gauge === undefined ? undefined : { dataPoints: all(fields(gauge), 1).map(pointOf) },
                histogram:
                  histogram === undefined
                    ? undefined
                    : { aggregationTemporality: Number(varintOf(fields(histogram), 2) ?? 0n) },
              };
            }),
          };
        }),
      };
    }),
  };
}

const nanos = (ms: number): bigint => BigInt(ms) * 1_000_000n;

describe('OtlpExporter over OTLP/HTTP to an in-process receiver', () => {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });

  interface Received {
    path: string;
    contentType: string | undefined;
    body: Buffer;
  }

  async function receiver(status: number): Promise<{ url: string; bodies: Received[] }> {
    const bodies: Received[] = [];
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        bodies.push({ path: req.url ?? '', contentType: req.headers['content-type'], body: Buffer.concat(chunks) });
        // An empty ExportMetricsServiceResponse.
        res.writeHead(status, { 'Content-Type': 'application/x-protobuf' }).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => server.close(() => resolve())));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, bodies };
  }

  async function exportOnce(rx: { url: string }, temporality?: 'cumulative' | 'delta'): Promise<Exporters> {
    const exporters = new Exporters(
      [new OtlpExporter({ endpoint: rx.url, protocol: 'http/protobuf', temporality })],
      recordingLogger(),
    );
    await exporters.start();
    exporters.export(metrics());
    await expect.poll(() => exporters.stats()[0]!.exported, { timeout: 10_000 }).toBe(1);
    return exporters;
  }

  // http/protobuf is OTLP/HTTP with protobuf bodies (@opentelemetry/exporter-metrics-otlp-http's exporter base with the agent's encoder); the
  // exporter-metrics-otlp-http package it replaced sent OTLP/JSON under that name.
  it('sends protobuf (Content-Type application/x-protobuf), not JSON', async () => {
    const rx = await receiver(200);
    await (await exportOnce(rx)).shutdown();
    expect(rx.bodies.map((b) => [b.path, b.contentType])).toEqual([['/v1/metrics', 'application/x-protobuf']]);
    const body = rx.bodies[0]!.body;
    expect(body[0]).toBe(0x0a); // field 1 (resource_metrics), length-delimited: where JSON would have '{'
    expect(() => JSON.parse(body.toString('utf8'))).toThrow();
    expect(decodeRequest(body).resourceMetrics).toHaveLength(1);
  });

  it("carries each series' own start time, and cumulative temporality, by default", async () => {
    const rx = await receiver(200);
    await (await exportOnce(rx)).shutdown();
    const snapshot = richSnapshot();
    const ms = decodeRequest(rx.bodies[0]!.body).resourceMetrics[0]!.scopeMetrics[0]!.metrics;
    const syscalls = ms.find((m) => m.name === 'ebpf.syscalls')!.sum!;
    expect(syscalls.aggregationTemporality).toBe(2); // AGGREGATION_TEMPORALITY_CUMULATIVE
    expect(syscalls.isMonotonic).toBe(true);
    expect(syscalls.dataPoints.map((p) => [p.asInt, p.startTimeUnixNano, p.timeUnixNano])).toEqual(
      snapshot.syscalls!.series.map((s) => [BigInt(s.value), nanos(s.startMs), nanos(snapshot.timeMs)]),
    );
    // The agent's own counters start with the agent.
    const polls = ms.find((m) => m.name === 'ebpf.agent.polls')!.sum!.dataPoints[0]!;
    expect(polls.startTimeUnixNano).toBe(nanos(snapshot.agentStartMs));
    expect(ms.find((m) => m.name === 'ebpf.agent.poll.duration')!.histogram!.aggregationTemporality).toBe(2);
  });

  it('marks counters and histograms delta with --otlp-temporality delta, and leaves gauges be', async () => {
    const rx = await receiver(200);
    await (await exportOnce(rx, 'delta')).shutdown();
    const ms = decodeRequest(rx.bodies[0]!.body).resourceMetrics[0]!.scopeMetrics[0]!.metrics;
    expect(ms.find((m) => m.name === 'ebpf.syscalls')!.sum!.aggregationTemporality).toBe(1); // DELTA
    expect(ms.find((m) => m.name === 'ebpf.agent.poll.duration')!.histogram!.aggregationTemporality).toBe(1);
    // A first export: the whole counts, from each series' own start.
    const snapshot = richSnapshot();
    expect(
      ms.find((m) => m.name === 'ebpf.syscalls')!.sum!.dataPoints.map((p) => [p.asInt, p.startTimeUnixNano]),
    ).toEqual(snapshot.syscalls!.series.map((s) => [BigInt(s.value), nanos(s.startMs)]));
    expect(ms.some((m) => m.gauge !== undefined)).toBe(true);
  });

  it('sends OpenTelemetry names and attribute keys, never the Prometheus forms', async () => {
    const rx = await receiver(200);
    await (await exportOnce(rx)).shutdown();
    expect(rx.bodies.map((b) => b.path)).toEqual(['/v1/metrics']);
    const sent = decodeRequest(rx.bodies[0]!.body);
    const rm = sent.resourceMetrics[0]!;
    expect(rm.resource.attributes.map((a) => a.key)).toEqual(['service.name', 'service.version', 'host.name']);
    const all = rm.scopeMetrics[0]!.metrics;
    const names = all.map((m) => m.name);
    expect(names).toContain('ebpf.syscalls');
    expect(names).toContain('ebpf.agent.poll.duration');
    for (const name of names) expect(name).toMatch(/^ebpf(\.[a-z][a-z0-9_]*)+$/);
    for (const name of names) expect(name).not.toMatch(/_total$|_seconds$/);
    const points = (name: string) => {
      const m = all.find((m) => m.name === name)!;
      return (m.sum ?? m.gauge)!.dataPoints;
    };
    expect(points('ebpf.syscalls')[0]!.attributes!.map((a) => a.key)).toEqual([
      'process.executable.name',
      'syscall',
      'container.id',
      'k8s.pod.uid',
      'k8s.pod.name',
      'k8s.namespace.name',
    ]);
    expect(points('ebpf.process.syscalls')[0]!.attributes!.map((a) => a.key)).toEqual([
      'process.pid',
      'process.executable.name',
      'syscall',
      'container.id',
      'k8s.pod.uid',
      'k8s.pod.name',
      'k8s.namespace.name',
    ]);
    expect(points('ebpf.xdp.packets')[0]!.attributes!.map((a) => a.key)).toEqual([
      'network.interface.name',
      'network.type',
      'network.transport',
    ]);
    expect(points('ebpf.agent.series').map((p) => p.attributes![0]!.value.stringValue)).toContain('ebpf.syscalls');
    expect(all.find((m) => m.name === 'ebpf.xdp.bytes')?.unit).toBe('By');
    // (A description may name a Prometheus family; no name or key is one.)
    expect(rx.bodies[0]!.body.toString('latin1')).not.toMatch(/process_executable_name|ebpf_syscalls/);
  });

  it('counts a refused export as failed', async () => {
    const rx = await receiver(400);
    const exporters = new Exporters(
      [new OtlpExporter({ endpoint: `${rx.url}/custom/path`, protocol: 'http/protobuf' })],
      recordingLogger(),
    );
    await exporters.start();
    exporters.export(metrics());
    await expect.poll(() => exporters.stats()[0]!.failed, { timeout: 10_000 }).toBe(1);
    expect(rx.bodies.map((b) => b.path)).toEqual(['/custom/path']);
    await exporters.shutdown();
  });
});

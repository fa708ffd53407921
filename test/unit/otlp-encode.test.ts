// The agent's OTLP metrics encoder (src/export/otlp-encode.ts) against the library it replaces: for every shape
// of data the agent makes (and some it does not), the request is byte-identical to what
// @opentelemetry/otlp-transformer's ProtobufMetricsSerializer writes, also when the encoded attributes come from
// the cache of an earlier request.
import { ValueType, type Attributes } from '@opentelemetry/api';
import { ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  DataPointType,
  type MetricData,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { buildResourceMetrics } from '../../src/export/metrics.ts';
import { DeltaConverter } from '../../src/export/otlp.ts';
import { encodeMetricsRequest } from '../../src/export/otlp-encode.ts';
import { agentResource } from '../../src/export/resource.ts';
import { richSnapshot } from './rich-snapshot.ts';

const library = (rm: ResourceMetrics): Buffer => Buffer.from(ProtobufMetricsSerializer.serializeRequest(rm)!);
const ours = (rm: ResourceMetrics): Buffer => Buffer.from(encodeMetricsRequest(rm));

function request(metrics: MetricData[], resource = resourceFromAttributes({ 'service.name': 'x' })): ResourceMetrics {
  return { resource, scopeMetrics: [{ scope: { name: 'scope', version: '1' }, metrics }] };
}

const sum = (points: { attributes: Attributes; value: number }[], valueType = ValueType.INT): MetricData => ({
  descriptor: { name: 'a.b', description: 'd', unit: '{call}', valueType },
  aggregationTemporality: AggregationTemporality.CUMULATIVE,
  dataPointType: DataPointType.SUM,
  isMonotonic: true,
  dataPoints: points.map((p) => ({
    startTime: [1_764_633_600, 123_456_789],
    endTime: [1_764_633_605, 999_999_999],
    ...p,
  })),
});

describe('encodeMetricsRequest', () => {
  it('writes the agent’s whole snapshot as the library does', () => {
    const rm = buildResourceMetrics(agentResource('1.2.3', 'node-a'), '1.2.3', richSnapshot());
    expect(ours(rm).equals(library(rm))).toBe(true);
    // Again, with every attribute object's encoding from the cache.
    expect(ours(rm).equals(library(rm))).toBe(true);
  });

  it('writes the delta form as the library does', () => {
    const delta = new DeltaConverter();
    const first = delta.convert(buildResourceMetrics(agentResource('1.2.3', 'node-a'), '1.2.3', richSnapshot()));
    delta.acknowledge(first.attempt);
    const second = delta.convert(buildResourceMetrics(agentResource('1.2.3', 'node-a'), '1.2.3', richSnapshot()));
    for (const rm of [first.metrics, second.metrics]) expect(ours(rm).equals(library(rm))).toBe(true);
  });

  it('writes every attribute and value kind as the library does', () => {
    const points = [
      { attributes: {}, value: 0 },
      { attributes: { s: 'plain', n: 42, neg: -7, big: 2 ** 40, f: 1.5, t: true, no: false }, value: 2 ** 53 - 1 },
      { attributes: { 'non.ascii': 'größe ✓ 日本', emoji: '🐝' }, value: -3 },
      { attributes: { arr: ['a', 'b'], nums: [1, 2.5], mixed: [null, 'x'] } as Attributes, value: 7 },
      { attributes: { long: 'x'.repeat(300) }, value: 1 },
    ];
    for (const rm of [request([sum(points)]), request([sum(points, ValueType.DOUBLE)])]) {
      expect(ours(rm).equals(library(rm))).toBe(true);
    }
    const gauge: MetricData = {
      ...sum([{ attributes: { k: 'v' }, value: 0.25 }], ValueType.DOUBLE),
      dataPointType: DataPointType.GAUGE,
    } as MetricData;
    const upDown: MetricData = { ...sum([{ attributes: {}, value: -5 }]), isMonotonic: false } as MetricData;
    const rm = request([gauge, upDown]);
    expect(ours(rm).equals(library(rm))).toBe(true);
  });

  it('writes histograms, with and without sum, min and max, as the library does', () => {
    const histogram = (value: object, attributes: Attributes = { a: 'b' }): MetricData => ({
      descriptor: { name: 'h', description: '', unit: 's', valueType: ValueType.DOUBLE },
      aggregationTemporality: AggregationTemporality.DELTA,
      dataPointType: DataPointType.HISTOGRAM,
      dataPoints: [{ startTime: [1, 2], endTime: [3, 4], attributes, value: value as never }],
    });
    const rm = request([
      histogram({
        buckets: { boundaries: [0.001, 0.01, 1], counts: [1, 0, 2, 3] },
        count: 6,
        sum: 2.5,
        min: 0,
        max: 9,
      }),
      histogram({ buckets: { boundaries: [], counts: [] }, count: 0, sum: undefined, min: undefined, max: undefined }),
      histogram({ buckets: { boundaries: [5], counts: [2 ** 33, 1] }, count: 2 ** 33 + 1 }, {}),
    ]);
    expect(ours(rm).equals(library(rm))).toBe(true);
  });

  it('writes large requests (multi-byte lengths at every level) and schema URLs as the library does', () => {
    const points = Array.from({ length: 5000 }, (_, i) => ({
      attributes: { 'process.pid': i, 'process.executable.name': `exe-${i % 17}`, syscall: 'read' },
      value: i * 1000,
    }));
    // Only the fields the serializers read.
    const resource = {
      attributes: { 'host.name': 'n' },
      schemaUrl: 'https://opentelemetry.io/schemas/1.30.0',
    } as unknown as ResourceMetrics['resource'];
    const rm: ResourceMetrics = {
      resource,
      scopeMetrics: [
        { scope: { name: 's1', version: '2', schemaUrl: 'https://example.com/s' }, metrics: [sum(points)] },
        { scope: { name: 's2' }, metrics: [] },
      ],
    };
    expect(ours(rm).equals(library(rm))).toBe(true);
  });

  it('re-encodes attributes used under another field number (number and histogram points)', () => {
    const shared: Attributes = { k: 'v' };
    const rm = request([
      sum([{ attributes: shared, value: 1 }]),
      {
        descriptor: { name: 'h', description: '', unit: 's', valueType: ValueType.DOUBLE },
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.HISTOGRAM,
        dataPoints: [
          {
            startTime: [1, 2],
            endTime: [3, 4],
            attributes: shared,
            value: { buckets: { boundaries: [1], counts: [0, 1] }, count: 1, sum: 2 },
          },
        ],
      },
    ]);
    expect(ours(rm).equals(library(rm))).toBe(true);
    expect(Object.keys(shared)).toEqual(['k']);
    expect(JSON.stringify(shared)).toBe('{"k":"v"}');
  });
});

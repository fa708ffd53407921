// --otlp-temporality delta: DeltaConverter (src/export/otlp.ts) turns the agent's cumulative collections into
// increments. The rule every case checks: the sum of what the receiver accepted equals the cumulative truth, each
// increment once, whatever series come and go and whichever exports fail.
import type { HrTime } from '@opentelemetry/api';
import type { ExportResult as OtelExportResult } from '@opentelemetry/core';
import {
  AggregationTemporality,
  DataPointType,
  type DataPoint,
  type Histogram,
  type MetricData,
  type PushMetricExporter,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { Exporters } from '../../src/export/exporter.ts';
import { buildResourceMetrics, hrTime } from '../../src/export/metrics.ts';
import { DeltaConverter, OtlpExporter } from '../../src/export/otlp.ts';
import { agentResource } from '../../src/export/resource.ts';
import type { Logger } from '../../src/log.ts';
import { richSnapshot } from './rich-snapshot.ts';

const resource = agentResource('1.2.3', 'node-a');
const AGENT_START = 1_000_000;

/** A counter series in one collection: its pid, cumulative value and start (ms). */
interface S {
  pid: number;
  value: number;
  startMs?: number;
}

/** One cumulative collection at `atMs`: ebpf.syscalls (a counter), a gauge and an up-down counter. */
function collection(atMs: number, series: S[], extra: MetricData[] = []): ResourceMetrics {
  const end = hrTime(atMs);
  const point = (s: S): DataPoint<number> => ({
    startTime: hrTime(s.startMs ?? AGENT_START),
    endTime: end,
    attributes: { 'process.pid': s.pid, syscall: 'read' },
    value: s.value,
  });
  const descriptor = (name: string) => ({ name, description: '', unit: '1', valueType: 1 });
  return {
    resource,
    scopeMetrics: [
      {
        scope: { name: 'ebpf-otel-agent' },
        metrics: [
          {
            descriptor: descriptor('ebpf.syscalls'),
            aggregationTemporality: AggregationTemporality.CUMULATIVE,
            dataPointType: DataPointType.SUM,
            isMonotonic: true,
            dataPoints: series.map(point),
          },
          {
            descriptor: descriptor('ebpf.agent.map.entries'),
            aggregationTemporality: AggregationTemporality.CUMULATIVE,
            dataPointType: DataPointType.GAUGE,
            dataPoints: [{ startTime: end, endTime: end, attributes: {}, value: 42 }],
          },
          {
            descriptor: descriptor('ebpf.agent.updown'),
            aggregationTemporality: AggregationTemporality.CUMULATIVE,
            dataPointType: DataPointType.SUM,
            isMonotonic: false,
            dataPoints: [{ startTime: hrTime(AGENT_START), endTime: end, attributes: {}, value: 7 }],
          },
          ...extra,
        ],
      },
    ],
  };
}

interface Sent {
  pid: number;
  value: number;
  start: HrTime;
  end: HrTime;
}

/** The ebpf.syscalls points of a converted collection. */
function sent(m: ResourceMetrics): Sent[] {
  const metric = m.scopeMetrics[0]!.metrics.find((x) => x.descriptor.name === 'ebpf.syscalls');
  if (metric === undefined) return [];
  expect(metric.aggregationTemporality).toBe(AggregationTemporality.DELTA);
  return (metric.dataPoints as DataPoint<number>[]).map((p) => ({
    pid: p.attributes['process.pid'] as number,
    value: p.value,
    start: p.startTime,
    end: p.endTime,
  }));
}

/** Converts and acknowledges (a successful export); returns what went out. */
function accepted(c: DeltaConverter, m: ResourceMetrics): Sent[] {
  const { metrics, attempt } = c.convert(m);
  c.acknowledge(attempt);
  return sent(metrics);
}

describe('DeltaConverter', () => {
  it("exports a new series' whole count from its own start, then the increments from the last export's end", () => {
    const c = new DeltaConverter();
    expect(accepted(c, collection(2000, [{ pid: 1, value: 10, startMs: 1500 }]))).toEqual([
      { pid: 1, value: 10, start: hrTime(1500), end: hrTime(2000) },
    ]);
    expect(accepted(c, collection(3000, [{ pid: 1, value: 25, startMs: 1500 }]))).toEqual([
      { pid: 1, value: 15, start: hrTime(2000), end: hrTime(3000) },
    ]);
    // No new calls: a zero increment, and the series goes on.
    expect(accepted(c, collection(4000, [{ pid: 1, value: 25, startMs: 1500 }]))).toEqual([
      { pid: 1, value: 0, start: hrTime(3000), end: hrTime(4000) },
    ]);
  });

  it('leaves gauges and up-down counters as they are', () => {
    const c = new DeltaConverter();
    const m = collection(2000, [{ pid: 1, value: 10 }]);
    const out = c.convert(m).metrics.scopeMetrics[0]!.metrics;
    expect(out[1]).toBe(m.scopeMetrics[0]!.metrics[1]);
    expect(out[2]).toBe(m.scopeMetrics[0]!.metrics[2]);
    expect(out[2]!.aggregationTemporality).toBe(AggregationTemporality.CUMULATIVE);
  });

  it('never changes the collection it is given (the other exporters share it)', () => {
    const c = new DeltaConverter();
    accepted(c, collection(2000, [{ pid: 1, value: 10 }]));
    const m = collection(3000, [{ pid: 1, value: 25 }]);
    const before = structuredClone(m);
    c.convert(m);
    expect(m).toEqual(before);
  });

  it('forgets a series once it is gone from the data and its last increments were accepted', () => {
    const c = new DeltaConverter();
    accepted(
      c,
      collection(2000, [
        { pid: 1, value: 10 },
        { pid: 2, value: 5 },
      ]),
    );
    expect(c.size).toBe(2);
    // pid 2 exits: its final count is published once more by the agent, then it leaves.
    expect(
      accepted(
        c,
        collection(3000, [
          { pid: 1, value: 12 },
          { pid: 2, value: 9 },
        ]),
      ),
    ).toEqual([
      { pid: 1, value: 2, start: hrTime(2000), end: hrTime(3000) },
      { pid: 2, value: 4, start: hrTime(2000), end: hrTime(3000) },
    ]);
    expect(accepted(c, collection(4000, [{ pid: 1, value: 12 }]))).toEqual([
      { pid: 1, value: 0, start: hrTime(3000), end: hrTime(4000) },
    ]);
    expect(c.size).toBe(1);
    // 10 000 processes come and go: the state follows the data, not the history.
    for (let i = 0; i < 100; i++) {
      const batch = Array.from({ length: 100 }, (_, j) => ({ pid: 1000 + i * 100 + j, value: j }));
      accepted(c, collection(5000 + i * 1000, [{ pid: 1, value: 12 }, ...batch]));
    }
    accepted(c, collection(200_000, [{ pid: 1, value: 12 }]));
    expect(c.size).toBe(1);
  });

  it('treats a series that comes back with a new start time as new: its whole count, from its start', () => {
    const c = new DeltaConverter();
    accepted(c, collection(2000, [{ pid: 7, value: 100, startMs: 1000 }]));
    expect(accepted(c, collection(3000, []))).toEqual([]);
    expect(c.size).toBe(0);
    // pid 7 reused by a new process (or the series restarted after a budget change): a new start time.
    expect(accepted(c, collection(4000, [{ pid: 7, value: 3, startMs: 3500 }]))).toEqual([
      { pid: 7, value: 3, start: hrTime(3500), end: hrTime(4000) },
    ]);
    // Both at once: the old one's final increments and the new one, each its own series.
    const both = accepted(
      c,
      collection(5000, [
        { pid: 7, value: 5, startMs: 3500 },
        { pid: 7, value: 1, startMs: 4500 },
      ]),
    );
    expect(both).toEqual([
      { pid: 7, value: 2, start: hrTime(4000), end: hrTime(5000) },
      { pid: 7, value: 1, start: hrTime(4500), end: hrTime(5000) },
    ]);
  });

  it('carries the increments of failed exports into the next accepted one', () => {
    const c = new DeltaConverter();
    accepted(c, collection(2000, [{ pid: 1, value: 10 }]));
    // Two failed exports: converted, never acknowledged.
    expect(sent(c.convert(collection(3000, [{ pid: 1, value: 14 }])).metrics)).toEqual([
      { pid: 1, value: 4, start: hrTime(2000), end: hrTime(3000) },
    ]);
    c.convert(collection(4000, [{ pid: 1, value: 20 }]));
    // The next accepted one carries all 15, from the last accepted end.
    expect(accepted(c, collection(5000, [{ pid: 1, value: 25 }]))).toEqual([
      { pid: 1, value: 15, start: hrTime(2000), end: hrTime(5000) },
    ]);
  });

  it('exports a series that left during failed exports once more, with its unaccepted increments', () => {
    const c = new DeltaConverter();
    accepted(c, collection(2000, [{ pid: 1, value: 10 }]));
    // pid 1 exits: its final count (30) and pid 2's first are in a failed export, then pid 1 leaves the data.
    c.convert(
      collection(3000, [
        { pid: 1, value: 30 },
        { pid: 2, value: 4, startMs: 2500 },
      ]),
    );
    const next = c.convert(collection(4000, [{ pid: 2, value: 6, startMs: 2500 }]));
    expect(sent(next.metrics)).toEqual([
      { pid: 2, value: 6, start: hrTime(2500), end: hrTime(4000) },
      { pid: 1, value: 20, start: hrTime(2000), end: hrTime(3000) },
    ]);
    // That one fails too; the next accepted one still has pid 1's 20, and then pid 1 is forgotten.
    expect(accepted(c, collection(5000, [{ pid: 2, value: 6, startMs: 2500 }]))).toEqual([
      { pid: 2, value: 6, start: hrTime(2500), end: hrTime(5000) },
      { pid: 1, value: 20, start: hrTime(2000), end: hrTime(3000) },
    ]);
    expect(c.size).toBe(1);
    expect(accepted(c, collection(6000, [{ pid: 2, value: 6, startMs: 2500 }]))).toEqual([
      { pid: 2, value: 0, start: hrTime(5000), end: hrTime(6000) },
    ]);
  });

  it('re-creates the metric of a series that left when no series of it is in the collection', () => {
    const c = new DeltaConverter();
    accepted(c, collection(2000, [{ pid: 1, value: 10 }]));
    c.convert(collection(3000, [{ pid: 1, value: 11 }]));
    const m = collection(4000, []);
    m.scopeMetrics[0]!.metrics.shift(); // no ebpf.syscalls at all (the program was switched off)
    expect(accepted(c, m)).toEqual([{ pid: 1, value: 1, start: hrTime(2000), end: hrTime(3000) }]);
    expect(c.size).toBe(0);
  });

  it('turns a histogram into per-bucket increments', () => {
    const histogram = (atMs: number, counts: number[], sum: number): MetricData => ({
      descriptor: { name: 'ebpf.agent.poll.duration', description: '', unit: 's', valueType: 1 },
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.HISTOGRAM,
      dataPoints: [
        {
          startTime: hrTime(AGENT_START),
          endTime: hrTime(atMs),
          attributes: {},
          value: {
            buckets: { boundaries: [0.1, 1], counts },
            count: counts.reduce((a, b) => a + b, 0),
            sum,
            min: 0.01,
            max: 2,
          },
        },
      ],
    });
    const c = new DeltaConverter();
    const point = (m: ResourceMetrics): DataPoint<Histogram> =>
      m.scopeMetrics[0]!.metrics.find((x) => x.descriptor.name === 'ebpf.agent.poll.duration')!
        .dataPoints[0] as DataPoint<Histogram>;
    const first = c.convert(collection(2000, [], [histogram(2000, [1, 2, 0], 1.5)]));
    c.acknowledge(first.attempt);
    expect(point(first.metrics).value).toMatchObject({ buckets: { counts: [1, 2, 0] }, count: 3, sum: 1.5 });
    const second = c.convert(collection(3000, [], [histogram(3000, [4, 2, 1], 4)])).metrics;
    expect(second.scopeMetrics[0]!.metrics[3]!.aggregationTemporality).toBe(AggregationTemporality.DELTA);
    expect(point(second)).toEqual({
      startTime: hrTime(2000),
      endTime: hrTime(3000),
      attributes: {},
      value: {
        buckets: { boundaries: [0.1, 1], counts: [3, 0, 1] },
        count: 4,
        sum: 2.5,
        min: undefined,
        max: undefined,
      },
    });
  });
});

/** A PushMetricExporter that accepts or refuses as told, and keeps what it accepted. */
class Receiver implements PushMetricExporter {
  readonly accepted: ResourceMetrics[] = [];
  refuse = false;
  export(m: ResourceMetrics, callback: (result: OtelExportResult) => void): void {
    if (this.refuse) {
      callback({ code: 1, error: new Error('503') });
      return;
    }
    this.accepted.push(m);
    callback({ code: 0 });
  }
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

describe('OtlpExporter with --otlp-temporality delta', () => {
  it('delivers every increment exactly once across refused exports, series churn included', async () => {
    const rx = new Receiver();
    const exporters = new Exporters([new OtlpExporter({ exporter: rx, temporality: 'delta' })], quiet);
    await exporters.start();
    // pid 1 runs throughout and ends at 100; pid 2 lives for two polls (final 40) while the receiver is down.
    const polls: [number, S[], boolean][] = [
      [2000, [{ pid: 1, value: 10 }], false],
      [
        3000,
        [
          { pid: 1, value: 30 },
          { pid: 2, value: 15, startMs: 2500 },
        ],
        true,
      ],
      [
        4000,
        [
          { pid: 1, value: 50 },
          { pid: 2, value: 40, startMs: 2500 },
        ],
        true,
      ],
      [5000, [{ pid: 1, value: 70 }], true],
      [6000, [{ pid: 1, value: 90 }], false],
      [7000, [{ pid: 1, value: 100 }], false],
    ];
    for (const [at, series, refuse] of polls) {
      rx.refuse = refuse;
      exporters.export(collection(at, series));
    }
    expect(exporters.stats()[0]).toMatchObject({ exported: 3, failed: 3 });
    const total = (pid: number): number =>
      rx.accepted
        .flatMap(sent)
        .filter((p) => p.pid === pid)
        .reduce((a, p) => a + p.value, 0);
    expect(total(1)).toBe(100);
    expect(total(2)).toBe(40);
  });

  it('keeps cumulative data as it is by default, every series with its own start time', async () => {
    const rx = new Receiver();
    const exporters = new Exporters([new OtlpExporter({ exporter: rx })], quiet);
    await exporters.start();
    const m = buildResourceMetrics(resource, '1.2.3', richSnapshot());
    exporters.export(m);
    expect(rx.accepted[0]).toBe(m);
  });
});

describe('DeltaConverter with the data points the agent rewrites in place', () => {
  it('counts from the accepted values, not from the points as the next poll rewrote them', () => {
    // The shaper hands the same series object poll after poll; buildMetrics then rewrites that series' one data
    // point (value, end time) in place. What the converter keeps must not move with it.
    const snapshot = richSnapshot();
    const series = snapshot.syscalls!.series[0]!;
    const delta = new DeltaConverter();
    const valueOf = (rm: ResourceMetrics): number => {
      const metric = rm.scopeMetrics[0]!.metrics.find((m) => m.descriptor.name === 'ebpf.syscalls')!;
      const point = (metric.dataPoints as DataPoint<number>[]).find(
        (p) => p.attributes['process.executable.name'] === series.comm && p.attributes.syscall === series.syscall,
      )!;
      return point.value;
    };
    const sent: number[] = [];
    let value = series.value;
    for (let poll = 0; poll < 4; poll++) {
      series.value = value;
      const cumulative = buildResourceMetrics(resource, '1.2.3', {
        ...snapshot,
        timeMs: snapshot.timeMs + poll * 5000,
      });
      const { metrics, attempt } = delta.convert(cumulative);
      sent.push(valueOf(metrics));
      // The second export is refused: its increments go out with the third.
      if (poll !== 1) delta.acknowledge(attempt);
      value += 10 * (poll + 1);
    }
    const first = sent[0]!;
    // Whole at first; then the increments since the last accepted export (the refused one's go with the next).
    expect(sent).toEqual([first, 10, 30, 30]);
    // What the receiver accepted adds up to the cumulative truth.
    expect(first + sent[2]! + sent[3]!).toBe(value - 40);
  });
});

// The OTLP exporter: the same ResourceMetrics /metrics serves, pushed to a receiver, so both share one series
// lifecycle. The data is OpenTelemetry's own: dotted metric names and attribute keys from the metric table, never
// the Prometheus forms.
//
// Temporality: the data is cumulative, each point with its own series' start time, and goes out as it is by
// default. With --otlp-temporality delta, DeltaConverter below turns each counter series into the increments since
// the last export the receiver accepted (histograms bucket by bucket; gauges and up-down counters stay as they
// are, as the OpenTelemetry SDK's delta preference does), so every increment is exported exactly once. (Once as
// far as the agent can know: an export that times out after the receiver took it is sent again with the next.)
import {
  AggregationTemporality,
  DataPointType,
  type DataPoint,
  type Histogram,
  type HistogramMetricData,
  type MetricData,
  type PushMetricExporter,
  type ResourceMetrics,
  type ScopeMetrics,
  type SumMetricData,
} from '@opentelemetry/sdk-metrics';
import type { OtlpProtocol, OtlpTemporality } from '../config.ts';
import type { ExportResult, MetricsExporter } from './exporter.ts';
import type { ExporterEntry } from './exporters.ts';

/** http://host:4318 → http://host:4318/v1/metrics; a URL that already names a path is used as given. */
export function otlpHttpUrl(endpoint: string): string {
  const url = new URL(endpoint);
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/v1/metrics';
  return url.toString();
}

/**
 * The exporters (gRPC above all) are loaded only when OTLP is asked for: they cost tens of MiB of RSS. They are
 * the OpenTelemetry exporters' own transport (retries, timeouts, compression, TLS, headers from the environment),
 * built with the agent's request encoder (otlp-encode.ts) in place of the library's, as the packages' own
 * OTLPMetricExporter classes are built with theirs.
 */
async function loadExporter(endpoint: string, protocol: OtlpProtocol): Promise<PushMetricExporter> {
  const { OTLPMetricExporterBase } = await import('@opentelemetry/exporter-metrics-otlp-http');
  const { MetricsExporterMetricsHelper } = await import('@opentelemetry/otlp-transformer');
  const { metricsSerializer } = await import('./otlp-encode.ts');
  if (protocol === 'grpc') {
    const { convertLegacyOtlpGrpcOptions, createOtlpGrpcExportDelegate } =
      await import('@opentelemetry/otlp-grpc-exporter-base');
    const config = { url: endpoint };
    return new OTLPMetricExporterBase(
      createOtlpGrpcExportDelegate(
        convertLegacyOtlpGrpcOptions(config, 'METRICS'),
        metricsSerializer,
        'otlp_grpc_metric_exporter',
        MetricsExporterMetricsHelper,
        undefined,
        'MetricsExportService',
        '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
      ),
      config,
    );
  }
  // OTLP/HTTP with protobuf bodies (Content-Type application/x-protobuf), what http/protobuf means (OTLP/JSON
  // would be the exporter-metrics-otlp-http package's own default).
  const { convertLegacyHttpOptions, createOtlpHttpExportDelegate } =
    await import('@opentelemetry/otlp-exporter-base/node-http');
  const config = { url: otlpHttpUrl(endpoint) };
  return new OTLPMetricExporterBase(
    createOtlpHttpExportDelegate(
      convertLegacyHttpOptions(config, 'METRICS', 'v1/metrics', { 'Content-Type': 'application/x-protobuf' }),
      metricsSerializer,
      'otlp_http_metric_exporter',
      MetricsExporterMetricsHelper,
      undefined,
    ),
    config,
  );
}

/** A counter series' values as cumulative data carries them: a number, or a histogram's buckets. */
type Value = number | Histogram;

interface SeriesState {
  scope: ScopeMetrics['scope'];
  /** The metric it was last seen in (its descriptor and type, for exporting it after it is gone). */
  metric: SumMetricData | HistogramMetricData;
  /** The last cumulative point seen. */
  latest: DataPoint<Value>;
  /** In the latest collection. */
  present: boolean;
  /** The cumulative point of the last export the receiver accepted (its value and end time); absent: none yet. */
  acked?: DataPoint<Value>;
}

/** What one export sent, per series: acknowledged with DeltaConverter.acknowledge once the receiver accepts it. */
export type DeltaAttempt = readonly (readonly [key: string, point: DataPoint<Value>])[];

// A series' attribute set as key text, kept on the attribute object (the agent hands the same object poll after
// poll while a series' labels stay the same, and never changes one: metrics.ts), so a delta export of 400,000
// unchanged series sorts and stringifies none of them. Not enumerable: invisible to iteration and encoding.
const ATTRIBUTES_KEY = Symbol('deltaAttributesKey');

function attributesKey(attributes: DataPoint<unknown>['attributes']): string {
  const cached = (attributes as { [ATTRIBUTES_KEY]?: string })[ATTRIBUTES_KEY];
  if (cached !== undefined) return cached;
  const key = JSON.stringify(Object.entries(attributes).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  if (Object.isExtensible(attributes)) Object.defineProperty(attributes, ATTRIBUTES_KEY, { value: key });
  return key;
}

const seriesKey = (scope: string, metric: string, p: DataPoint<unknown>): string =>
  `${JSON.stringify(scope)}\u0000${JSON.stringify(metric)}\u0000${attributesKey(p.attributes)}\u0000${p.startTime[0]}.${p.startTime[1]}`;

function sameBoundaries(a: Histogram, b: Histogram): boolean {
  const x = a.buckets.boundaries;
  const y = b.buckets.boundaries;
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/**
 * Cumulative collections → delta ones. A series is its metric, attribute set and start time (a process that
 * comes back with a new start time is a new series). Its first export carries its whole cumulative value, from
 * its own start time; every later one the value minus the last *accepted* one, from that export's end time. A
 * failed or skipped export changes nothing, so the next accepted one carries its increments, and a series that
 * left the data before its last increments were accepted is exported once more with them (its last value, its
 * last end time). The state of a series is dropped once it is gone from the data and nothing of it is pending:
 * memory follows the series the data holds.
 */
export class DeltaConverter {
  readonly #series = new Map<string, SeriesState>();

  /** Series whose state is kept (tests: memory stays bounded). */
  get size(): number {
    return this.#series.size;
  }

  /** The delta form of one collection, and what to acknowledge if the receiver accepts it. */
  convert(metrics: ResourceMetrics): { metrics: ResourceMetrics; attempt: DeltaAttempt } {
    for (const state of this.#series.values()) state.present = false;
    const attempt: [string, DataPoint<Value>][] = [];
    const scopes: ScopeMetrics[] = [];
    for (const sm of metrics.scopeMetrics) {
      const out: MetricData[] = [];
      for (const metric of sm.metrics) {
        if (!isConverted(metric)) {
          out.push(metric);
          continue;
        }
        const points: DataPoint<Value>[] = [];
        for (const point of metric.dataPoints as DataPoint<Value>[]) {
          const key = seriesKey(sm.scope.name, metric.descriptor.name, point);
          let state = this.#series.get(key);
          if (state === undefined) {
            state = { scope: sm.scope, metric, latest: point, present: true };
            this.#series.set(key, state);
          }
          // A copy: the agent rewrites a series' data point in place on the next poll (metrics.ts).
          const kept = keep(point);
          state.metric = metric;
          state.latest = kept;
          state.present = true;
          points.push(deltaPoint(point, state.acked));
          attempt.push([key, kept]);
        }
        out.push(withPoints(metric, points));
      }
      scopes.push({ scope: sm.scope, metrics: out });
    }
    // Gone from the data: exported once more if increments of it were never accepted, else forgotten.
    for (const [key, state] of this.#series) {
      if (state.present) continue;
      if (state.acked === state.latest) {
        this.#series.delete(key);
        continue;
      }
      let scope = scopes.find((s) => s.scope.name === state.scope.name);
      if (scope === undefined) scopes.push((scope = { scope: state.scope, metrics: [] }));
      const name = state.metric.descriptor.name;
      let index = scope.metrics.findIndex((m) => m.descriptor.name === name);
      if (index < 0) index = scope.metrics.push(withPoints(state.metric, [])) - 1;
      const metric = scope.metrics[index] as SumMetricData | HistogramMetricData;
      scope.metrics[index] = withPoints(metric, [
        ...(metric.dataPoints as DataPoint<Value>[]),
        deltaPoint(state.latest, state.acked),
      ]);
      attempt.push([key, state.latest]);
    }
    return { metrics: { resource: metrics.resource, scopeMetrics: scopes }, attempt };
  }

  /** The receiver accepted the export `attempt` came from: the next export counts from there. */
  acknowledge(attempt: DeltaAttempt): void {
    for (const [key, point] of attempt) {
      const state = this.#series.get(key);
      if (state === undefined) continue;
      state.acked = point;
      if (!state.present && state.latest === point) this.#series.delete(key);
    }
  }
}

/** A point as it is now, for keeping past this collection: its value copied, times and attributes shared. */
function keep(point: DataPoint<Value>): DataPoint<Value> {
  const value = point.value;
  if (typeof value === 'number') return { ...point };
  return {
    ...point,
    value: { ...value, buckets: { boundaries: value.buckets.boundaries, counts: [...value.buckets.counts] } },
  };
}

/** Counters (monotonic sums) and histograms; gauges and up-down counters are exported as they are. */
function isConverted(metric: MetricData): metric is SumMetricData | HistogramMetricData {
  if (metric.aggregationTemporality !== AggregationTemporality.CUMULATIVE) return false;
  if (metric.dataPointType === DataPointType.SUM) return metric.isMonotonic;
  return metric.dataPointType === DataPointType.HISTOGRAM;
}

function withPoints<M extends SumMetricData | HistogramMetricData>(metric: M, points: DataPoint<Value>[]): M {
  return { ...metric, aggregationTemporality: AggregationTemporality.DELTA, dataPoints: points } as M;
}

/** The increments of `point` since `acked`: all of it from its own start when nothing was accepted yet. */
function deltaPoint(point: DataPoint<Value>, acked: SeriesState['acked']): DataPoint<Value> {
  if (acked === undefined) return point;
  const start = acked.endTime;
  const value = point.value;
  const before = acked.value;
  if (typeof value === 'number') {
    const prev = before as number;
    // A cumulative count never falls within one series; if it did, its whole value is new.
    return { ...point, startTime: start, value: value >= prev ? value - prev : value };
  }
  const prev = before as Histogram;
  if (!sameBoundaries(value, prev) || value.count < prev.count) return { ...point, startTime: start };
  return {
    ...point,
    startTime: start,
    value: {
      buckets: {
        boundaries: value.buckets.boundaries,
        counts: value.buckets.counts.map((c, i) => c - (prev.buckets.counts[i] ?? 0)),
      },
      count: value.count - prev.count,
      sum: value.sum === undefined || prev.sum === undefined ? undefined : value.sum - prev.sum,
      // The interval's extremes are not known from two cumulative states.
      min: undefined,
      max: undefined,
    },
  };
}

export type OtlpExporterOptions = (
  | { endpoint: string; protocol: OtlpProtocol }
  /** An exporter made elsewhere (tests: an in-memory one). */
  | { exporter: PushMetricExporter }
) & {
  /** Default cumulative. */
  temporality?: OtlpTemporality;
};

export class OtlpExporter implements MetricsExporter {
  readonly name = 'otlp';
  readonly title = 'OTLP';
  readonly #options: OtlpExporterOptions;
  #exporter: PushMetricExporter | undefined;
  #inFlight = false;
  /** Present with delta temporality. */
  readonly #delta: DeltaConverter | undefined;

  constructor(options: OtlpExporterOptions) {
    this.#options = options;
    this.#delta = options.temporality === 'delta' ? new DeltaConverter() : undefined;
  }

  async start(): Promise<void> {
    if (this.#exporter !== undefined) return;
    const o = this.#options;
    this.#exporter = 'exporter' in o ? o.exporter : await loadExporter(o.endpoint, o.protocol);
  }

  /** One collection; skipped while the previous export is still in flight (a slow receiver never queues up). */
  export(metrics: ResourceMetrics, done: (result: ExportResult) => void): void {
    const exporter = this.#exporter;
    if (exporter === undefined) {
      done({ outcome: 'failed', error: new Error('the OTLP exporter is not started') });
      return;
    }
    if (this.#inFlight) {
      done({ outcome: 'skipped' });
      return;
    }
    this.#inFlight = true;
    try {
      // With one export in flight at a time, every conversion starts from the acknowledgements of all before it.
      const converted = this.#delta?.convert(metrics);
      exporter.export(converted?.metrics ?? metrics, (result) => {
        this.#inFlight = false;
        // ExportResultCode.SUCCESS (@opentelemetry/core) is 0.
        if (result.code === 0) {
          if (converted !== undefined) this.#delta!.acknowledge(converted.attempt);
          done({ outcome: 'exported' });
        } else done({ outcome: 'failed', error: result.error ?? new Error('the OTLP exporter reported a failure') });
      });
    } catch (error) {
      this.#inFlight = false;
      throw error;
    }
  }

  async shutdown(): Promise<void> {
    await this.#exporter?.shutdown();
  }
}

/** On with --otlp-endpoint. */
export const otlpExporter: ExporterEntry = {
  create: (c) =>
    c.otlpEndpoint === undefined
      ? undefined
      : new OtlpExporter({ endpoint: c.otlpEndpoint, protocol: c.otlpProtocol, temporality: c.otlpTemporality }),
};

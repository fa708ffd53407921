// Prometheus text exposition (format 0.0.4) of OpenTelemetry metric data, following the OpenTelemetry →
// Prometheus compatibility rules: dots become underscores, unit suffixes (s → _seconds, By → _bytes), _total on
// monotonic sums, resource attributes on target_info. Written here rather than through exporter-prometheus's
// serializer so a scrape of 100k series costs one pass of string building, done once per collection.
// PrometheusExporter is the MetricsExporter that builds the /metrics body (server.ts serves it).
import type { Attributes } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import { DataPointType, type MetricData, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { ALL_METRICS, METRIC_NAME_ATTRIBUTES, type MetricDescriptor } from './descriptors.ts';
import type { ExportResult, MetricsExporter } from './exporter.ts';
import type { ExporterEntry } from './exporters.ts';

const UNIT_SUFFIXES: Record<string, string> = { s: 'seconds', ms: 'milliseconds', By: 'bytes' };

export function sanitizeName(name: string): string {
  const out = name.replace(/[^a-zA-Z0-9_:]/g, '_');
  return /^[0-9]/.test(out) ? `_${out}` : out;
}

export function sanitizeLabel(name: string): string {
  const out = name.replace(/[^a-zA-Z0-9_]/g, '_');
  return /^[0-9]/.test(out) ? `_${out}` : out;
}

function familyName(otelName: string, unit: string, counter: boolean): string {
  let name = sanitizeName(otelName);
  const suffix = UNIT_SUFFIXES[unit];
  if (suffix !== undefined && !name.endsWith(`_${suffix}`) && !name.endsWith(suffix)) name += `_${suffix}`;
  if (counter && !name.endsWith('_total')) name += '_total';
  return name;
}

/** The Prometheus family name of an OpenTelemetry metric (with _total for monotonic sums). */
export function prometheusName(metric: MetricData): string {
  const counter = metric.dataPointType === DataPointType.SUM && metric.isMonotonic;
  return familyName(metric.descriptor.name, metric.descriptor.unit, counter);
}

/** The Prometheus family name of a metric table entry (ebpf.syscalls → ebpf_syscalls_total). */
export function prometheusNameOf(d: MetricDescriptor): string {
  return familyName(d.name, d.unit, d.kind === 'counter');
}

/** The Prometheus TYPE of a metric table entry. */
export function prometheusTypeOf(d: MetricDescriptor): 'counter' | 'gauge' | 'histogram' {
  return d.kind === 'counter' || d.kind === 'histogram' ? d.kind : 'gauge';
}

/** The Prometheus label name of an attribute key (process.executable.name → process_executable_name). */
export function prometheusLabel(key: string): string {
  return labelName(key);
}

// Values of the attributes that name a metric (ebpf.agent.series{metric}): OpenTelemetry name → family name.
const familyNames = new Map(ALL_METRICS.map((d) => [d.name, prometheusNameOf(d)]));
const metricNaming = new Set(
  ALL_METRICS.filter((d) => d.attributes.some((a) => METRIC_NAME_ATTRIBUTES.has(a))).map((d) => d.name),
);

export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

// Label names are cached: the same few attribute keys recur on every data point.
const labelNames = new Map<string, string>();
function labelName(key: string): string {
  let name = labelNames.get(key);
  if (name === undefined) {
    name = sanitizeLabel(key);
    labelNames.set(key, name);
  }
  return name;
}

function labels(attributes: Attributes, extra?: string, namesMetrics = false): string {
  let out = '';
  for (const key in attributes) {
    const value = attributes[key];
    if (value === undefined || value === null) continue;
    if (out.length > 0) out += ',';
    let text = Array.isArray(value) ? JSON.stringify(value) : String(value);
    if (namesMetrics && METRIC_NAME_ATTRIBUTES.has(key)) text = familyNames.get(text) ?? text;
    out += `${labelName(key)}="${escapeLabelValue(text)}"`;
  }
  if (extra !== undefined) out += out.length > 0 ? `,${extra}` : extra;
  return out.length > 0 ? `{${out}}` : '';
}

/**
 * A data point's whole line (`name{labels} value\n`), kept per attribute object: the metric data hands the same
 * attribute object poll after poll for a series whose labels did not change (metrics.ts), so its labels are
 * escaped once, and the line is made again from its own prefix only when the value changes.
 */
interface Line {
  name: string;
  namesMetrics: boolean;
  /** Where the value starts in `text`: the prefix is kept inside the line only (one string per series, not two). */
  prefixLength: number;
  /** The prefix is ASCII (so is every line of it: values are numbers). */
  ascii: boolean;
  value: number;
  text: string;
}

// eslint-disable-next-line no-control-regex
const ASCII = /^[\x00-\x7f]*$/;
// Kept on the attribute object under a symbol, not enumerable (label iteration, OTLP encoding and comparisons do not
// see it): a WeakMap of every series would cost the garbage collector an ephemeron per series.
const LINE = Symbol('prometheusLine');
type WithLine = Attributes & { [LINE]?: Line };

/**
 * The exposition's bytes, written as they are made into one buffer (grown by doubling): no string of the whole
 * body is ever made, and no copy of it into a Buffer afterwards.
 */
class BodyWriter {
  #buffer: Buffer;
  #length = 0;

  constructor(sizeHint: number) {
    this.#buffer = Buffer.allocUnsafe(Math.max(65_536, sizeHint));
  }

  /** `ascii`: the text is known to be ASCII, so its bytes are its code units (a much cheaper copy than UTF-8). */
  push(text: string, ascii = false): void {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    const room = this.#length + text.length * (ascii ? 1 : 3);
    if (room > this.#buffer.length) {
      const next = Buffer.allocUnsafe(Math.max(room, this.#buffer.length * 2));
      this.#buffer.copy(next, 0, 0, this.#length);
      this.#buffer = next;
    }
    this.#length += this.#buffer.write(text, this.#length, ascii ? 'latin1' : 'utf8');
  }

  get body(): Buffer {
    return this.#buffer.subarray(0, this.#length);
  }
}

function serializeMetric(metric: MetricData, out: BodyWriter): void {
  const name = prometheusName(metric);
  const counter = metric.dataPointType === DataPointType.SUM && metric.isMonotonic;
  const type = counter ? 'counter' : metric.dataPointType === DataPointType.HISTOGRAM ? 'histogram' : 'gauge';
  out.push(`# HELP ${name} ${escapeHelp(metric.descriptor.description)}\n# TYPE ${name} ${type}\n`);
  if (metric.dataPointType === DataPointType.HISTOGRAM) {
    for (const point of metric.dataPoints) {
      const { buckets, sum, count } = point.value;
      let cumulative = 0;
      for (let i = 0; i < buckets.counts.length; i++) {
        cumulative += buckets.counts[i]!;
        const le = i < buckets.boundaries.length ? formatValue(buckets.boundaries[i]!) : '+Inf';
        out.push(`${name}_bucket${labels(point.attributes, `le="${le}"`)} ${cumulative}\n`);
      }
      out.push(`${name}_sum${labels(point.attributes)} ${formatValue(sum ?? 0)}\n`);
      out.push(`${name}_count${labels(point.attributes)} ${count}\n`);
    }
    return;
  }
  if (metric.dataPointType === DataPointType.EXPONENTIAL_HISTOGRAM) return;
  const namesMetrics = metricNaming.has(metric.descriptor.name);
  const points = metric.dataPoints;
  // Indexed, not for-of: this loop runs once per series per poll, and an iterator's result objects were a fifth of
  // a poll's allocations at 25,000 processes.
  for (let i = 0; i < points.length; i++) {
    const point = points[i]!;
    let line = (point.attributes as WithLine)[LINE];
    if (line === undefined || line.name !== name || line.namesMetrics !== namesMetrics) {
      const prefix = `${name}${labels(point.attributes, undefined, namesMetrics)} `;
      const text = `${prefix}${formatValue(point.value)}\n`;
      line = { name, namesMetrics, prefixLength: prefix.length, ascii: ASCII.test(prefix), value: point.value, text };
      if (Object.prototype.hasOwnProperty.call(point.attributes, LINE)) (point.attributes as WithLine)[LINE] = line;
      else if (Object.isExtensible(point.attributes)) {
        Object.defineProperty(point.attributes, LINE, { value: line, writable: true });
      }
    } else if (!Object.is(line.value, point.value)) {
      line.value = point.value;
      // A slice of the old line and the new value: writing it below flattens it, and the old line is let go.
      line.text = `${line.text.slice(0, line.prefixLength)}${formatValue(point.value)}\n`;
    }
    // Line by line into the buffer: no concatenated string of the lines is ever made.
    out.push(line.text, line.ascii);
  }
}

function targetInfo(resource: Resource): string {
  return `# HELP target_info Target metadata\n# TYPE target_info gauge\ntarget_info${labels(resource.attributes)} 1\n`;
}

/** The exposition as UTF-8 bytes. `sizeHint`: the expected length (the last body's), to allocate once. */
export function serializeBody(resourceMetrics: ResourceMetrics, sizeHint = 0): Buffer {
  const out = new BodyWriter(sizeHint + (sizeHint >>> 4));
  out.push(targetInfo(resourceMetrics.resource));
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) serializeMetric(metric, out);
  }
  return out.body;
}

export function serialize(resourceMetrics: ResourceMetrics): string {
  return serializeBody(resourceMetrics).toString('utf8');
}

/** The Prometheus text of each collection, built once when it arrives and handed to the /metrics server. */
export class PrometheusExporter implements MetricsExporter {
  readonly name = 'prometheus';
  readonly title = 'Prometheus';
  readonly #target: { update(body: string | Buffer): void };
  #lastLength = 0;

  /** target: what serves the text (MetricsServer). */
  constructor(target: { update(body: string | Buffer): void }) {
    this.#target = target;
  }

  async start(): Promise<void> {}

  export(metrics: ResourceMetrics, done: (result: ExportResult) => void): void {
    const body = serializeBody(metrics, this.#lastLength);
    this.#lastLength = body.length;
    this.#target.update(body);
    done({ outcome: 'exported' });
  }

  async shutdown(): Promise<void> {}
}

/** Always on: /metrics is always served. */
export const prometheusExporter: ExporterEntry = { create: (c) => new PrometheusExporter(c.metricsServer) };

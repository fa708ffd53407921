// The OTLP metrics request (opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest) as protobuf,
// written from ResourceMetrics byte for byte as @opentelemetry/otlp-transformer's ProtobufMetricsSerializer writes
// it (a unit test compares the two), but at a cost that follows what changed rather than what exists.
//
// The library encodes every attribute of every data point on every export, twice (a size pass, then the write):
// at 100,000 live processes (400,000 per-process series) that was a third of a poll (docs/benchmarks.md, issue 18).
// The agent hands the same attribute object poll after poll while a series' labels stay the same (metrics.ts), so
// the encoded attributes are kept on that object, and a data point costs its times, its value and one copy. Sizes
// are computed from those cached lengths before anything is written: one buffer, allocated once, no moves.
//
// Exponential histograms (the agent makes none) go to the library's serializer, as does anything else this file
// does not write.
import { ValueType, type Attributes, type HrTime } from '@opentelemetry/api';
import {
  AggregationTemporality,
  DataPointType,
  type DataPoint,
  type Histogram,
  type MetricData,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';

/** Wire types. */
const VARINT = 0;
const I64 = 1;
const LEN = 2;

const tag = (field: number, wire: number): number => (field << 3) | wire;

function varintSize(v: number): number {
  if (v < 0) return 10;
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  if (v <= 0xffffffff) return 5;
  let size = 5;
  let high = Math.floor(v / 4294967296) >>> 0;
  // Bits above 35 take one more byte per 7.
  high >>>= 3;
  while (high > 0) {
    size++;
    high >>>= 7;
  }
  return size;
}

/** A field of `length` bytes with its tag (one byte: every field number here is below 16) and length prefix. */
const lengthField = (length: number): number => 1 + varintSize(length) + length;

const textEncoder = new TextEncoder();

/** UTF-8 length of a string (ASCII fast path). */
function utf8Length(s: string): number {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 127) return Buffer.byteLength(s, 'utf8');
  return s.length;
}

class Writer {
  readonly bytes: Uint8Array;
  readonly #view: DataView;
  pos = 0;

  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.#view = new DataView(this.bytes.buffer);
  }

  byte(b: number): void {
    this.bytes[this.pos++] = b;
  }

  varint(value: number): void {
    if (value >= 0 && value <= 0xffffffff) {
      let v = value >>> 0;
      while (v > 127) {
        this.bytes[this.pos++] = (v & 127) | 128;
        v >>>= 7;
      }
      this.bytes[this.pos++] = v;
      return;
    }
    let low: number;
    let high: number;
    if (value >= 0) {
      low = value >>> 0;
      high = (value / 4294967296) >>> 0;
    } else {
      const abs = Math.abs(value);
      low = ~(abs >>> 0) >>> 0;
      high = ~((abs / 4294967296) >>> 0) >>> 0;
      low = (low + 1) >>> 0;
      if (low === 0) high = (high + 1) >>> 0;
    }
    while (high > 0 || low > 127) {
      this.bytes[this.pos++] = (low & 127) | 128;
      low = ((low >>> 7) | (high << 25)) >>> 0;
      high >>>= 7;
    }
    this.bytes[this.pos++] = low & 127;
  }

  fixed64(low: number, high: number): void {
    this.#view.setUint32(this.pos, low >>> 0, true);
    this.#view.setUint32(this.pos + 4, high >>> 0, true);
    this.pos += 8;
  }

  /** An HrTime as fixed64 nanoseconds since the epoch, exact (no float beyond 2^53 on the way). */
  hrTime(t: HrTime): void {
    const seconds = t[0];
    const lowSeconds = (seconds & 0xffff) * 1e9;
    const highSeconds = ((seconds / 0x10000) >>> 0) * 1e9;
    const low = (lowSeconds >>> 0) + (((highSeconds & 0xffff) * 0x10000) >>> 0) + t[1];
    const high = Math.floor(lowSeconds / 4294967296) + ((highSeconds / 0x10000) >>> 0) + Math.floor(low / 4294967296);
    this.fixed64(low >>> 0, high >>> 0);
  }

  /** Two's complement, as protobuf's sfixed64 and int64 carry a negative number. */
  sfixed64(value: number): void {
    if (value >= 0) {
      this.fixed64(value >>> 0, (value / 4294967296) >>> 0);
      return;
    }
    const abs = Math.abs(value);
    let low = ~(abs >>> 0) >>> 0;
    let high = ~((abs / 4294967296) >>> 0) >>> 0;
    low = (low + 1) >>> 0;
    if (low === 0) high = (high + 1) >>> 0;
    this.fixed64(low, high);
  }

  double(value: number): void {
    this.#view.setFloat64(this.pos, value, true);
    this.pos += 8;
  }

  string(s: string, length: number): void {
    this.varint(length);
    if (length === s.length) {
      for (let i = 0; i < length; i++) this.bytes[this.pos++] = s.charCodeAt(i);
    } else {
      textEncoder.encodeInto(s, this.bytes.subarray(this.pos, this.pos + length));
      this.pos += length;
    }
  }

  raw(bytes: Uint8Array): void {
    const n = bytes.length;
    // A data point's attributes are ~100 bytes: a loop is cheaper than set()'s call for those.
    if (n > 256) this.bytes.set(bytes, this.pos);
    else for (let i = 0; i < n; i++) this.bytes[this.pos + i] = bytes[i]!;
    this.pos += n;
  }
}

// ---- attributes (repeated KeyValue), kept encoded on their object ----

type AttributeValue = Attributes[string];

const MAX_INT64 = 2 ** 63;

function anyValueSize(value: AttributeValue): number {
  if (typeof value === 'string') return lengthField(utf8Length(value));
  if (typeof value === 'boolean') return 2;
  if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= -MAX_INT64 && value < MAX_INT64) return 1 + varintSize(value);
    return 9;
  }
  if (Array.isArray(value)) {
    let inner = 0;
    for (const item of value) inner += lengthField(item == null ? 0 : anyValueSize(item));
    return lengthField(inner);
  }
  // null and undefined entries of an array: an empty AnyValue, as the library writes them.
  return 0;
}

function writeAnyValue(w: Writer, value: AttributeValue): void {
  if (typeof value === 'string') {
    w.byte(tag(1, LEN));
    w.string(value, utf8Length(value));
  } else if (typeof value === 'boolean') {
    w.byte(tag(2, VARINT));
    w.byte(value ? 1 : 0);
  } else if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= -MAX_INT64 && value < MAX_INT64) {
      w.byte(tag(3, VARINT));
      w.varint(value);
    } else {
      w.byte(tag(4, I64));
      w.double(value);
    }
  } else if (Array.isArray(value)) {
    let inner = 0;
    for (const item of value) inner += lengthField(item == null ? 0 : anyValueSize(item));
    w.byte(tag(5, LEN));
    w.varint(inner);
    for (const item of value) {
      w.byte(tag(1, LEN));
      w.varint(item == null ? 0 : anyValueSize(item));
      if (item != null) writeAnyValue(w, item);
    }
  }
}

/** The repeated KeyValue field `field` of these attributes, tags included. */
function encodeAttributes(attributes: Attributes, field: number): Uint8Array {
  const entries: [string, number, AttributeValue, number][] = [];
  let size = 0;
  for (const key in attributes) {
    if (!Object.prototype.hasOwnProperty.call(attributes, key)) continue;
    const value = attributes[key];
    const keyLength = utf8Length(key);
    const valueSize = anyValueSize(value);
    entries.push([key, keyLength, value, valueSize]);
    size += lengthField(lengthField(keyLength) + lengthField(valueSize));
  }
  const w = new Writer(size);
  for (const [key, keyLength, value, valueSize] of entries) {
    w.byte(tag(field, LEN));
    w.varint(lengthField(keyLength) + lengthField(valueSize));
    w.byte(tag(1, LEN));
    w.string(key, keyLength);
    w.byte(tag(2, LEN));
    w.varint(valueSize);
    writeAnyValue(w, value);
  }
  return w.bytes;
}

// Kept on the attribute object under a symbol (not enumerable, so invisible to iteration, comparisons and the
// encoding itself; a WeakMap would cost the garbage collector an ephemeron per series). The agent never changes
// an attribute object once a data point has it: a series whose labels change gets a new one (metrics.ts).
const ENCODED = Symbol('otlpAttributes');
type Encoded = { field: number; bytes: Uint8Array };
type WithEncoded = Attributes & { [ENCODED]?: Encoded };

function attributesOf(attributes: Attributes, field: number): Uint8Array {
  const cached = (attributes as WithEncoded)[ENCODED];
  if (cached !== undefined && cached.field === field) return cached.bytes;
  const entry = { field, bytes: encodeAttributes(attributes, field) };
  if (Object.isExtensible(attributes)) {
    if (cached === undefined) Object.defineProperty(attributes, ENCODED, { value: entry, writable: true });
    else (attributes as WithEncoded)[ENCODED] = entry;
  }
  return entry.bytes;
}

// ---- data points ----

/** NumberDataPoint: start (2), time (3), as_int (6) or as_double (4), attributes (7). */
function numberPointSize(p: DataPoint<number>): number {
  return 27 + (p.attributes ? attributesOf(p.attributes, 7).length : 0);
}

function writeNumberPoint(w: Writer, p: DataPoint<number>, int: boolean): void {
  const attributes = p.attributes ? attributesOf(p.attributes, 7) : undefined;
  w.byte(tag(1, LEN));
  w.varint(27 + (attributes?.length ?? 0));
  w.byte(tag(2, I64));
  w.hrTime(p.startTime);
  w.byte(tag(3, I64));
  w.hrTime(p.endTime);
  if (int) {
    w.byte(tag(6, I64));
    w.sfixed64(p.value);
  } else {
    w.byte(tag(4, I64));
    w.double(p.value);
  }
  if (attributes !== undefined) w.raw(attributes);
}

/** HistogramDataPoint: start (2), time (3), count (4), sum (5), bucket_counts (6), bounds (7), attributes (9), min (11), max (12). */
function histogramPointSize(p: DataPoint<Histogram>): number {
  const h = p.value;
  let size = 27;
  if (h.sum !== undefined) size += 9;
  if (h.buckets.counts.length > 0) size += lengthField(8 * h.buckets.counts.length);
  if (h.buckets.boundaries.length > 0) size += lengthField(8 * h.buckets.boundaries.length);
  if (p.attributes) size += attributesOf(p.attributes, 9).length;
  if (h.min !== undefined) size += 9;
  if (h.max !== undefined) size += 9;
  return size;
}

function writeHistogramPoint(w: Writer, p: DataPoint<Histogram>): void {
  const h = p.value;
  w.byte(tag(1, LEN));
  w.varint(histogramPointSize(p));
  w.byte(tag(2, I64));
  w.hrTime(p.startTime);
  w.byte(tag(3, I64));
  w.hrTime(p.endTime);
  w.byte(tag(4, I64));
  w.fixed64(h.count >>> 0, (h.count / 4294967296) >>> 0);
  if (h.sum !== undefined) {
    w.byte(tag(5, I64));
    w.double(h.sum);
  }
  if (h.buckets.counts.length > 0) {
    w.byte(tag(6, LEN));
    w.varint(8 * h.buckets.counts.length);
    for (const c of h.buckets.counts) w.fixed64(c >>> 0, (c / 4294967296) >>> 0);
  }
  if (h.buckets.boundaries.length > 0) {
    w.byte(tag(7, LEN));
    w.varint(8 * h.buckets.boundaries.length);
    for (const b of h.buckets.boundaries) w.double(b);
  }
  if (p.attributes) w.raw(attributesOf(p.attributes, 9));
  if (h.min !== undefined) {
    w.byte(tag(11, I64));
    w.double(h.min);
  }
  if (h.max !== undefined) {
    w.byte(tag(12, I64));
    w.double(h.max);
  }
}

// ---- metrics, scopes, resource ----

function temporalityOf(t: AggregationTemporality): number {
  if (t === AggregationTemporality.DELTA) return 1;
  if (t === AggregationTemporality.CUMULATIVE) return 2;
  return 0;
}

/** Size of the Gauge, Sum or Histogram message of a metric (its data field's content). */
function dataSize(m: MetricData): number {
  let size = 0;
  if (m.dataPointType === DataPointType.HISTOGRAM) {
    for (let i = 0; i < m.dataPoints.length; i++) size += lengthField(histogramPointSize(m.dataPoints[i]!));
  } else {
    const points = m.dataPoints as DataPoint<number>[];
    for (let i = 0; i < points.length; i++) size += lengthField(numberPointSize(points[i]!));
  }
  if (m.dataPointType !== DataPointType.GAUGE && temporalityOf(m.aggregationTemporality) !== 0) size += 2;
  if (m.dataPointType === DataPointType.SUM && m.isMonotonic) size += 2;
  return size;
}

interface Sized {
  /** Metric message sizes and their data message sizes, in order, from the size pass. */
  metrics: number[];
  data: number[];
  scopes: number[];
}

function metricSize(m: MetricData, sized: Sized): number {
  const d = m.descriptor;
  const data = dataSize(m);
  let size = lengthField(utf8Length(d.name));
  if (d.description) size += lengthField(utf8Length(d.description));
  if (d.unit) size += lengthField(utf8Length(d.unit));
  size += lengthField(data);
  sized.data.push(data);
  sized.metrics.push(size);
  return size;
}

function writeMetric(w: Writer, m: MetricData, size: number, data: number): void {
  const d = m.descriptor;
  w.byte(tag(2, LEN));
  w.varint(size);
  w.byte(tag(1, LEN));
  w.string(d.name, utf8Length(d.name));
  if (d.description) {
    w.byte(tag(2, LEN));
    w.string(d.description, utf8Length(d.description));
  }
  if (d.unit) {
    w.byte(tag(3, LEN));
    w.string(d.unit, utf8Length(d.unit));
  }
  const field = m.dataPointType === DataPointType.GAUGE ? 5 : m.dataPointType === DataPointType.SUM ? 7 : 9;
  w.byte(tag(field, LEN));
  w.varint(data);
  if (m.dataPointType === DataPointType.HISTOGRAM) {
    for (let i = 0; i < m.dataPoints.length; i++) writeHistogramPoint(w, m.dataPoints[i]!);
  } else {
    const int = d.valueType === ValueType.INT;
    const points = m.dataPoints as DataPoint<number>[];
    for (let i = 0; i < points.length; i++) writeNumberPoint(w, points[i]!, int);
  }
  const temporality = temporalityOf(m.aggregationTemporality);
  if (m.dataPointType !== DataPointType.GAUGE && temporality !== 0) {
    w.byte(tag(2, VARINT));
    w.byte(temporality);
  }
  if (m.dataPointType === DataPointType.SUM && m.isMonotonic) {
    w.byte(tag(3, VARINT));
    w.byte(1);
  }
}

type Scope = ResourceMetrics['scopeMetrics'][number]['scope'] & {
  attributes?: Attributes;
  droppedAttributesCount?: number;
};

/** InstrumentationScope: name (1), version (2), attributes (3), dropped_attributes_count (4). */
function scopeSize(scope: Scope): number {
  let size = lengthField(utf8Length(scope.name));
  if (scope.version) size += lengthField(utf8Length(scope.version));
  if (scope.attributes) size += encodeAttributes(scope.attributes, 3).length;
  if (scope.droppedAttributesCount) size += 1 + varintSize(scope.droppedAttributesCount);
  return size;
}

function writeScope(w: Writer, scope: Scope): void {
  w.byte(tag(1, LEN));
  w.varint(scopeSize(scope));
  w.byte(tag(1, LEN));
  w.string(scope.name, utf8Length(scope.name));
  if (scope.version) {
    w.byte(tag(2, LEN));
    w.string(scope.version, utf8Length(scope.version));
  }
  if (scope.attributes) w.raw(encodeAttributes(scope.attributes, 3));
  if (scope.droppedAttributesCount) {
    w.byte(tag(4, VARINT));
    w.varint(scope.droppedAttributesCount);
  }
}

/** Can this file write it all? Anything else goes to the library. */
function supported(rm: ResourceMetrics): boolean {
  for (const sm of rm.scopeMetrics) {
    for (const m of sm.metrics) {
      if (
        m.dataPointType !== DataPointType.GAUGE &&
        m.dataPointType !== DataPointType.SUM &&
        m.dataPointType !== DataPointType.HISTOGRAM
      )
        return false;
    }
  }
  return true;
}

/** ExportMetricsServiceRequest { resource_metrics (1) } of one ResourceMetrics. */
export function encodeMetricsRequest(rm: ResourceMetrics): Uint8Array {
  if (!supported(rm)) {
    const bytes = ProtobufMetricsSerializer.serializeRequest(rm);
    if (bytes === undefined) throw new Error('the OTLP serializer returned nothing');
    return bytes;
  }
  // Size pass.
  const sized: Sized = { metrics: [], data: [], scopes: [] };
  const resourceAttributes = rm.resource.attributes ? encodeAttributes(rm.resource.attributes, 1) : undefined;
  const resourceSize = (resourceAttributes?.length ?? 0) + 2;
  let resourceMetricsSize = lengthField(resourceSize);
  for (const sm of rm.scopeMetrics) {
    const scope = sm.scope as Scope;
    let size = lengthField(scopeSize(scope));
    for (const m of sm.metrics) size += lengthField(metricSize(m, sized));
    if (scope.schemaUrl) size += lengthField(utf8Length(scope.schemaUrl));
    sized.scopes.push(size);
    resourceMetricsSize += lengthField(size);
  }
  const schemaUrl = rm.resource.schemaUrl;
  if (schemaUrl) resourceMetricsSize += lengthField(utf8Length(schemaUrl));

  // Write pass.
  const w = new Writer(lengthField(resourceMetricsSize));
  w.byte(tag(1, LEN));
  w.varint(resourceMetricsSize);
  w.byte(tag(1, LEN));
  w.varint(resourceSize);
  if (resourceAttributes !== undefined) w.raw(resourceAttributes);
  w.byte(tag(2, VARINT));
  w.byte(0);
  let metric = 0;
  rm.scopeMetrics.forEach((sm, s) => {
    const scope = sm.scope as Scope;
    w.byte(tag(2, LEN));
    w.varint(sized.scopes[s]!);
    writeScope(w, scope);
    for (const m of sm.metrics) {
      writeMetric(w, m, sized.metrics[metric]!, sized.data[metric]!);
      metric++;
    }
    if (scope.schemaUrl) {
      w.byte(tag(3, LEN));
      w.string(scope.schemaUrl, utf8Length(scope.schemaUrl));
    }
  });
  if (schemaUrl) {
    w.byte(tag(3, LEN));
    w.string(schemaUrl, utf8Length(schemaUrl));
  }
  if (w.pos !== w.bytes.length) throw new Error(`OTLP request: wrote ${w.pos} of ${w.bytes.length} bytes`);
  return w.bytes;
}

/** The serializer the OTLP exporters are built with: this encoder for requests, the library's for responses. */
export const metricsSerializer = {
  serializeRequest: (request: ResourceMetrics): Uint8Array => encodeMetricsRequest(request),
  deserializeResponse: ProtobufMetricsSerializer.deserializeResponse,
};

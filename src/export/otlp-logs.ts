// --otlp-logs: every exec and exit event (src/events.ts) as an OpenTelemetry log record, pushed as OTLP/HTTP JSON to
// <--otlp-endpoint>/v1/logs. Batched (up to MAX_BATCH records a request, one request in flight, sent at every
// flush: once per poll) and bounded (at most MAX_QUEUE records wait): a record that finds the queue full, or whose
// request the receiver refuses or that fails, is lost and counted (ebpf_agent_otlp_logs_dropped_total{reason}).
import type { Resource } from '@opentelemetry/resources';
import { eventAttributes, type FieldValue, type ProcessEvent } from '../events.ts';
import type { Logger } from '../log.ts';
import { SERVICE_NAME } from './names.ts';

export const MAX_QUEUE = 16_384;
export const MAX_BATCH = 1_024;
const SEVERITY_INFO = 9;

export type LogDropReason = 'queue_full' | 'export_failed';

export interface LogExportStats {
  /** Records the receiver accepted. */
  exported: number;
  dropped: Record<LogDropReason, number>;
}

/** http://host:4318 → http://host:4318/v1/logs; a URL that already names a path gets /v1/logs in its place. */
export function otlpLogsUrl(endpoint: string): string {
  const url = new URL(endpoint);
  url.pathname = '/v1/logs';
  return url.toString();
}

type AnyValue = { stringValue: string } | { intValue: string } | { doubleValue: number } | { boolValue: boolean };

function anyValue(v: FieldValue): AnyValue {
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  return Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v };
}

function keyValues(attributes: Record<string, FieldValue>): { key: string; value: AnyValue }[] {
  return Object.entries(attributes).map(([key, value]) => ({ key, value: anyValue(value) }));
}

/** The OTLP/JSON log record of an event: event.name, its semantic-convention attributes, a one-line body. */
export function logRecord(e: ProcessEvent, observedNs: bigint): Record<string, unknown> {
  const attributes = eventAttributes(e);
  const body =
    e.name === 'process.exec'
      ? `exec ${e.event.executable} (pid ${e.event.pid}) by ${e.event.parentExecutable}`
      : `exit ${e.event.executable} (pid ${e.event.pid}): ${e.event.reason === 'exited' ? `status ${e.event.code}` : e.event.signal}${e.event.oomKilled ? ', OOM-killed' : ''}`;
  return {
    timeUnixNano: e.timeNs.toString(),
    observedTimeUnixNano: observedNs.toString(),
    severityNumber: SEVERITY_INFO,
    severityText: 'INFO',
    eventName: e.name,
    body: { stringValue: body },
    attributes: keyValues({ 'event.name': e.name, ...attributes }),
  };
}

export interface OtlpLogExporterOptions {
  endpoint: string;
  resource: Resource;
  version: string;
  logger: Logger;
  maxQueue?: number;
  maxBatch?: number;
  fetch?: typeof fetch;
  now?: () => bigint;
}

export class OtlpLogExporter {
  readonly #url: string;
  readonly #options: OtlpLogExporterOptions;
  readonly #resource: { attributes: { key: string; value: AnyValue }[] };
  readonly #fetch: typeof fetch;
  #queue: Record<string, unknown>[] = [];
  #inFlight: Promise<void> | undefined;
  #exported = 0;
  readonly #dropped: Record<LogDropReason, number> = { queue_full: 0, export_failed: 0 };
  #failing = false;

  constructor(options: OtlpLogExporterOptions) {
    this.#options = options;
    this.#url = otlpLogsUrl(options.endpoint);
    this.#fetch = options.fetch ?? fetch;
    const attrs: Record<string, FieldValue> = {};
    for (const [k, v] of Object.entries(options.resource.attributes)) {
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') attrs[k] = v;
    }
    this.#resource = { attributes: keyValues(attrs) };
  }

  /** Queues one event (dropped and counted when MAX_QUEUE records already wait). */
  emit(event: ProcessEvent): void {
    if (this.#queue.length >= (this.#options.maxQueue ?? MAX_QUEUE)) {
      this.#dropped.queue_full++;
      return;
    }
    const now = this.#options.now?.() ?? BigInt(Date.now()) * 1_000_000n;
    this.#queue.push(logRecord(event, now));
  }

  /** Sends what waits, a batch at a time; returns at once while a flush is in flight (the next one sends the rest). */
  flush(): Promise<void> {
    if (this.#inFlight !== undefined || this.#queue.length === 0) return this.#inFlight ?? Promise.resolve();
    this.#inFlight = this.#send().finally(() => (this.#inFlight = undefined));
    return this.#inFlight;
  }

  async #send(): Promise<void> {
    const maxBatch = this.#options.maxBatch ?? MAX_BATCH;
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, maxBatch);
      const body = JSON.stringify({
        resourceLogs: [
          {
            resource: this.#resource,
            scopeLogs: [{ scope: { name: SERVICE_NAME, version: this.#options.version }, logRecords: batch }],
          },
        ],
      });
      try {
        const res = await this.#fetch(this.#url, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body,
          signal: AbortSignal.timeout(10_000),
        });
        await res.arrayBuffer();
        if (!res.ok) throw new Error(`${this.#url} answered ${res.status}`);
        this.#exported += batch.length;
        if (this.#failing) this.#options.logger.info('OTLP logs export succeeds again', { url: this.#url });
        this.#failing = false;
      } catch (error) {
        this.#dropped.export_failed += batch.length;
        if (!this.#failing) {
          this.#options.logger.warn('OTLP logs export failed: those records are lost (counted)', {
            url: this.#url,
            records: batch.length,
            error: (error as Error).message,
          });
        }
        this.#failing = true;
      }
    }
  }

  stats(): LogExportStats {
    return { exported: this.#exported, dropped: { ...this.#dropped } };
  }

  /** Sends what is queued (in flight included), then stops. */
  async close(): Promise<void> {
    await this.#inFlight;
    await this.flush();
  }
}

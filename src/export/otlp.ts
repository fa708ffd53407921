// The OTLP exporter: the same ResourceMetrics /metrics serves, pushed to a receiver, so both share one series
// lifecycle. The data is OpenTelemetry's own: dotted metric names and attribute keys from the metric table, never
// the Prometheus forms.
import type { PushMetricExporter, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { OtlpProtocol } from '../config.ts';
import type { ExportResult, MetricsExporter } from './exporter.ts';
import type { ExporterEntry } from './exporters.ts';

/** http://host:4318 → http://host:4318/v1/metrics; a URL that already names a path is used as given. */
export function otlpHttpUrl(endpoint: string): string {
  const url = new URL(endpoint);
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/v1/metrics';
  return url.toString();
}

/** The exporters (gRPC above all) are loaded only when OTLP is asked for: they cost tens of MiB of RSS. */
async function loadExporter(endpoint: string, protocol: OtlpProtocol): Promise<PushMetricExporter> {
  if (protocol === 'grpc') {
    const { OTLPMetricExporter } = await import('@opentelemetry/exporter-metrics-otlp-grpc');
    return new OTLPMetricExporter({ url: endpoint });
  }
  // OTLP/HTTP with protobuf bodies (Content-Type application/x-protobuf), what http/protobuf means; the
  // exporter-metrics-otlp-http package would send OTLP/JSON.
  const { OTLPMetricExporter } = await import('@opentelemetry/exporter-metrics-otlp-proto');
  return new OTLPMetricExporter({ url: otlpHttpUrl(endpoint) });
}

export type OtlpExporterOptions =
  | { endpoint: string; protocol: OtlpProtocol }
  /** An exporter made elsewhere (tests: an in-memory one). */
  | { exporter: PushMetricExporter };

export class OtlpExporter implements MetricsExporter {
  readonly name = 'otlp';
  readonly title = 'OTLP';
  readonly #options: OtlpExporterOptions;
  #exporter: PushMetricExporter | undefined;
  #inFlight = false;

  constructor(options: OtlpExporterOptions) {
    this.#options = options;
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
      exporter.export(metrics, (result) => {
        this.#inFlight = false;
        // ExportResultCode.SUCCESS (@opentelemetry/core) is 0.
        if (result.code === 0) done({ outcome: 'exported' });
        else done({ outcome: 'failed', error: result.error ?? new Error('the OTLP exporter reported a failure') });
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
    c.otlpEndpoint === undefined ? undefined : new OtlpExporter({ endpoint: c.otlpEndpoint, protocol: c.otlpProtocol }),
};

// OTLP push of the same ResourceMetrics /metrics serves, so both paths share one series lifecycle.
import type { ResourceMetrics, PushMetricExporter } from '@opentelemetry/sdk-metrics';
import type { OtlpProtocol } from '../config.ts';
import type { Logger } from '../log.ts';

/** http://host:4318 → http://host:4318/v1/metrics; a URL that already names a path is used as given. */
export function otlpHttpUrl(endpoint: string): string {
  const url = new URL(endpoint);
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/v1/metrics';
  return url.toString();
}

export class OtlpPusher {
  readonly #exporter: PushMetricExporter;
  readonly #logger: Logger;
  #inFlight = false;
  #failures = 0;
  #skipped = 0;
  #exports = 0;

  private constructor(exporter: PushMetricExporter, logger: Logger) {
    this.#exporter = exporter;
    this.#logger = logger;
  }

  /** The exporters (gRPC above all) are loaded only when OTLP is asked for: they cost tens of MiB of RSS. */
  static async create(endpoint: string, protocol: OtlpProtocol, logger: Logger): Promise<OtlpPusher> {
    if (protocol === 'grpc') {
      const { OTLPMetricExporter } = await import('@opentelemetry/exporter-metrics-otlp-grpc');
      return new OtlpPusher(new OTLPMetricExporter({ url: endpoint }), logger);
    }
    const { OTLPMetricExporter } = await import('@opentelemetry/exporter-metrics-otlp-http');
    return new OtlpPusher(new OTLPMetricExporter({ url: otlpHttpUrl(endpoint) }), logger);
  }

  get stats(): { exports: number; failures: number; skipped: number } {
    return { exports: this.#exports, failures: this.#failures, skipped: this.#skipped };
  }

  /** Exports one collection; skipped (and counted) while the previous export is still in flight. */
  push(metrics: ResourceMetrics): void {
    if (this.#inFlight) {
      this.#skipped++;
      return;
    }
    this.#inFlight = true;
    this.#exporter.export(metrics, (result) => {
      this.#inFlight = false;
      if (result.code === 0) {
        this.#exports++;
        return;
      }
      this.#failures++;
      if (this.#failures === 1 || this.#failures % 100 === 0) {
        this.#logger.warn('OTLP export failed', { failures: this.#failures, error: result.error?.message });
      }
    });
  }

  async shutdown(): Promise<void> {
    await this.#exporter.shutdown();
  }
}

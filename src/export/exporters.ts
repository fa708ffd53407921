// The registry of exporters: which exist, and when the agent's configuration turns each on.
//
// Adding one — say OpenMetrics text at /metrics/openmetrics — is one new file and its line here:
//   src/export/openmetrics.ts: `class OpenMetricsExporter implements MetricsExporter { … }` (name 'openmetrics';
//     export() builds the text from the ResourceMetrics and calls done() once) and its entry,
//     `export const openMetricsExporter: ExporterEntry = { create: (c) => new OpenMetricsExporter(…) }`;
//   here: its import, and `openMetricsExporter` in EXPORTERS.
// Counting (ebpf_agent_exports*_total{exporter="openmetrics"}), failure logging and isolation from the poll and
// from the other exporters come from Exporters (exporter.ts); the table entries of those counters already exist.
// (A new flag that switches it on is a row of the flag table, and a field of ExporterContext.)
import type { OtlpProtocol, OtlpTemporality } from '../config.ts';
import type { Logger } from '../log.ts';
import { Exporters, type MetricsExporter } from './exporter.ts';
import { otlpExporter } from './otlp.ts';
import { prometheusExporter } from './prometheus.ts';

/** What exporters are made from: the parts of the agent's configuration and the agent's objects they need. */
export interface ExporterContext {
  /** Serves the Prometheus text (MetricsServer: always there, it also serves /healthz and /readyz). */
  metricsServer: { update(text: string): void };
  otlpEndpoint?: string;
  otlpProtocol: OtlpProtocol;
  /** Absent: cumulative. */
  otlpTemporality?: OtlpTemporality;
}

export interface ExporterEntry {
  /** The exporter this configuration asks for, or undefined when it is off. */
  create(context: ExporterContext): MetricsExporter | undefined;
}

/** Every exporter, in the order each collection is handed to them. */
export const EXPORTERS: readonly ExporterEntry[] = [prometheusExporter, otlpExporter];

/** The exporters the configuration turns on, not started yet (call start()). */
export function createExporters(
  context: ExporterContext,
  logger: Logger,
  registry: readonly ExporterEntry[] = EXPORTERS,
): Exporters {
  const exporters = registry.map((e) => e.create(context)).filter((e) => e !== undefined);
  return new Exporters(exporters, logger);
}

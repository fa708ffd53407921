// The exporter interface: every exporter is handed the same ResourceMetrics once per poll (/metrics text, OTLP,
// any other), and Exporters runs them side by side: one that throws or fails is counted
// (ebpf_agent_exports_failed_total{exporter}) and logged, never thrown into the poll, and never stops the others.
// The exporters that exist and when each is used are listed in exporters.ts.
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { Logger } from '../log.ts';

/** How one export ended: delivered, not attempted because the previous one is still in flight, or failed. */
export type ExportResult = { outcome: 'exported' } | { outcome: 'skipped' } | { outcome: 'failed'; error: Error };

export interface MetricsExporter {
  /** The value of the `exporter` attribute on its ebpf.agent.exports* counters (`prometheus`, `otlp`). */
  readonly name: string;
  /** How log lines name it ("OTLP export failed"); default: name. */
  readonly title?: string;
  /** Acquires what it needs (loads a client library, connects); rejects with a sentence a user can act on. */
  start(): Promise<void>;
  /**
   * Hands over one collection without blocking the poll, and reports once, now or later, how it ended. The
   * metrics are shared with the other exporters: read them, never change them. A throw counts as a failure.
   */
  export(metrics: ResourceMetrics, done: (result: ExportResult) => void): void;
  /** Flushes what is pending and releases what start acquired. */
  shutdown(): Promise<void>;
}

/** How long shutdown waits for an exporter's last export (the CLI forces an exit 1 at 5 s). */
export const SHUTDOWN_TIMEOUT_MS = 1_500;

/** Per exporter, since the agent started: the ebpf.agent.exports, exports_failed and exports_skipped counters. */
export interface ExportStats {
  exporter: string;
  exported: number;
  failed: number;
  skipped: number;
}

interface Entry {
  exporter: MetricsExporter;
  stats: ExportStats;
  /** `stats.failed` before the current run of failures began; undefined while exports succeed. */
  failingSince?: number | undefined;
}

/** The exporters of one agent: started, fed and shut down together, each one's failures kept to itself. */
export class Exporters {
  readonly #entries: Entry[];
  readonly #logger: Logger;

  constructor(exporters: readonly MetricsExporter[], logger: Logger) {
    const names = exporters.map((e) => e.name);
    const twice = names.find((n, i) => names.indexOf(n) !== i);
    if (twice !== undefined) throw new Error(`two exporters are named ${twice}`);
    this.#entries = exporters.map((exporter) => ({
      exporter,
      stats: { exporter: exporter.name, exported: 0, failed: 0, skipped: 0 },
    }));
    this.#logger = logger;
  }

  get names(): string[] {
    return this.#entries.map((e) => e.exporter.name);
  }

  /** Starts every exporter; if one fails, shuts down the ones already started and rejects with its error. */
  async start(): Promise<void> {
    const started: MetricsExporter[] = [];
    for (const { exporter } of this.#entries) {
      try {
        await exporter.start();
        started.push(exporter);
      } catch (error) {
        await Promise.allSettled(started.map((e) => e.shutdown()));
        throw error;
      }
    }
  }

  /** Hands the collection to every exporter. Never throws. */
  export(metrics: ResourceMetrics): void {
    for (const entry of this.#entries) {
      let reported = false;
      const done = (result: ExportResult): void => {
        if (reported) return;
        reported = true;
        this.#count(entry, result);
      };
      try {
        entry.exporter.export(metrics, done);
      } catch (error) {
        done({ outcome: 'failed', error: error instanceof Error ? error : new Error(String(error)) });
      }
    }
  }

  /** A copy of the counts, for AgentSnapshot.exports. */
  stats(): ExportStats[] {
    return this.#entries.map((e) => ({ ...e.stats }));
  }

  /**
   * Shuts every exporter down within `timeoutMs` (a receiver that is down must not hold the agent's exit: the
   * pod's termination grace is short, and an exit forced later is an exit 1). An exporter that fails or does not
   * finish in time is logged (its pending export is then lost and counted as failed), never thrown.
   */
  async shutdown(timeoutMs = SHUTDOWN_TIMEOUT_MS): Promise<void> {
    await Promise.all(
      this.#entries.map(async (entry) => {
        const { exporter } = entry;
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), timeoutMs);
        });
        try {
          const outcome = await Promise.race([exporter.shutdown().then(() => 'done' as const), timedOut]);
          if (outcome === 'timeout') {
            entry.stats.failed++;
            this.#logger.warn(
              `${exporter.title ?? exporter.name} shutdown did not finish in ${timeoutMs} ms: its last export is dropped`,
              { exporter: exporter.name },
            );
          }
        } catch (error) {
          this.#logger.warn('exporter shutdown failed', {
            exporter: exporter.name,
            error: (error as Error)?.message ?? String(error),
          });
        } finally {
          clearTimeout(timer);
        }
      }),
    );
  }

  #count(entry: Entry, result: ExportResult): void {
    const { exporter, stats } = entry;
    if (result.outcome === 'exported') {
      stats.exported++;
      if (entry.failingSince !== undefined) {
        this.#logger.info(`${exporter.title ?? exporter.name} export recovered`, {
          exporter: exporter.name,
          failed: stats.failed - entry.failingSince,
        });
        entry.failingSince = undefined;
      }
    } else if (result.outcome === 'skipped') {
      stats.skipped++;
    } else {
      stats.failed++;
      entry.failingSince ??= stats.failed - 1;
      // The first failure, then one line per 100: a receiver that is down must not flood the log.
      if (stats.failed === 1 || stats.failed % 100 === 0) {
        this.#logger.warn(`${exporter.title ?? exporter.name} export failed`, {
          exporter: exporter.name,
          failures: stats.failed,
          error: result.error.message,
        });
      }
    }
  }
}

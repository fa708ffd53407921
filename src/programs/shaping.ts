// How the programs that count per process (syscalls, cpu) shape their series from the configuration: one place
// for the budgets, the retention and the hold, so the two views behave the same for both.
import type { ShaperOptions } from '../collector/series.ts';
import type { AgentConfig } from '../config.ts';

export function shaperOptions(config: AgentConfig): Omit<ShaperOptions, 'attribute' | 'kinds'> {
  return {
    maxSeries: config.maxSeries,
    pidLabels: config.pidLabels,
    maxProcessSeries: config.maxProcessSeries,
    exitedRetentionMs: config.exitedRetentionMs,
    groupRetentionMs: config.exitedRetentionMs,
    // A scraper at --scrape-interval sees a new aggregate series at 0 before it carries a count.
    holdMs: config.scrapeIntervalMs + config.intervalMs,
  };
}

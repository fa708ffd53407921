// How the programs that count per process (syscalls, cpu) shape their series from the configuration: one place
// for the budgets, the retention and the hold, so the two views behave the same for both.
import { kernelTgidOfSelf } from '../collector/process.ts';
import type { ShaperOptions } from '../collector/series.ts';
import type { AgentConfig } from '../config.ts';
import type { Logger } from '../log.ts';

/**
 * --exclude-self: the tgid the program's object leaves out (the agent's), or undefined. In a PID namespace of its
 * own (a pod without hostPID) the agent cannot name itself to the kernel: it says so and counts itself.
 */
export function excludedTgid(
  config: Pick<AgentConfig, 'excludeSelf'>,
  program: string,
  logger: Pick<Logger, 'warn'>,
  ownTgid: () => number | undefined = kernelTgidOfSelf,
): number | undefined {
  if (!config.excludeSelf) return undefined;
  const tgid = ownTgid();
  if (tgid === undefined) {
    logger.warn(
      `${program}: --exclude-self has no effect: the agent runs in a PID namespace of its own (a pod without hostPID), so its kernel pid is unknown and its own activity is counted`,
    );
  }
  return tgid;
}

export function shaperOptions(config: AgentConfig): Omit<ShaperOptions, 'attribute' | 'kinds'> {
  return {
    maxSeries: config.maxSeries,
    pidLabels: config.pidLabels,
    maxProcessSeries: config.maxProcessSeries,
    exitedRetentionMs: config.exitedRetentionMs,
    groupRetentionMs: groupRetentionMs(config),
    // A scraper at --scrape-interval sees a new aggregate series at 0 before it carries a count.
    holdMs: config.scrapeIntervalMs + config.intervalMs,
    // A series the budget demoted shows its final value at least this long, so every scraper sees where it ended.
    visibleMs: config.scrapeIntervalMs + config.intervalMs,
  };
}

/**
 * How long an aggregate group no process is in keeps its final value: --exited-retention, and at least
 * GROUP_RETENTION_SCRAPES scrape intervals. Prometheus's increase() extrapolates a series that ends inside its
 * window by half a scrape interval at the average rate over the samples it has, so a group that lived for a
 * short job (a fresh container) is over-counted by about (scrape / 2) / (hold + retention): 10 scrapes keep that
 * under 5 %; at a 60 s scrape interval with 2m it would be 17 %.
 */
export const GROUP_RETENTION_SCRAPES = 10;

export function groupRetentionMs(config: Pick<AgentConfig, 'exitedRetentionMs' | 'scrapeIntervalMs'>): number {
  return Math.max(config.exitedRetentionMs, GROUP_RETENTION_SCRAPES * config.scrapeIntervalMs);
}

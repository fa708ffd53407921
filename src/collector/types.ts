// What every collector shares with the poller and the exporter. No OpenTelemetry here.

// Program names come from the registry (src/programs/registry.ts): a type-only import, so no module cycle.
import type { ProgramName } from '../programs/registry.ts';

export type { ProgramName };

/** Entries and capacity of a BPF map at the last collection. */
export interface MapFill {
  program: ProgramName;
  map: string;
  entries: number;
  capacity: number;
}

/** Cumulative drop counters of one program. */
export interface Drops {
  program: ProgramName;
  /** Events lost because a ring buffer was full. */
  eventsLost: number;
  /** Updates not recorded because a map was full, by map. */
  mapFull: Record<string, number>;
}

export interface Collector<S> {
  readonly program: ProgramName;
  /** True while every kernel attachment of the collector is in place. */
  attached(): boolean;
  /** Reads the kernel state now; `nowMs` is wall-clock time in milliseconds. */
  collect(nowMs: number): S;
  drops(): Drops;
  mapFill(): MapFill[];
  /**
   * Called after the last collection's data has been published (every exporter has it): only now may the
   * collector forget what it reported as final (delete exited processes' kernel keys). Optional: collectors
   * with nothing to forget leave it out.
   */
  commit?(): void;
  close(): void;
}

export interface Clock {
  /** Wall-clock milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

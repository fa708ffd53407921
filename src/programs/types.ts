// What a program is, to the agent: one descriptor per program (this directory), listed once in registry.ts.
// The agent, preflight, config and readiness know programs only through these descriptors.
import type { BpfObject } from '../bpf/index.ts';
import type { Attributor } from '../collector/series.ts';
import type { Clock, Collector, ProgramName } from '../collector/types.ts';
import type { AgentConfig } from '../config.ts';
import type { ProcessEvent } from '../events.ts';
import type { AgentSnapshot } from '../export/metrics.ts';
import type { Logger } from '../log.ts';
import type { CapabilityName } from '../preflight.ts';

/** What a starting program gets from the agent. */
export interface ProgramContext {
  readonly config: AgentConfig;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Container and pod of a process from its cgroup id; undefined with --no-container-labels. */
  readonly attribute: Attributor | undefined;
  /** Tells attribution of a cgroup the kernel created (id, path): undefined when attribution is off. */
  readonly learnCgroup: ((id: bigint, path: string) => void) | undefined;
  /** Takes process lifecycle events for the OTLP logs (--otlp-logs); undefined when they are off. */
  readonly events?: ((event: ProcessEvent) => void) | undefined;
  /** How to open one of its object files: the path under --bpf-dir, the kernel BTF, libbpf's debug output. */
  readonly open: (file: string) => { objectPath: string; btfPath: string; debug: boolean };
}

/** A started program: its kernel attachments are in place until close(). */
export interface ProgramInstance {
  readonly collector: Collector<unknown>;
  /** Loaded objects, for per-program run-time statistics (--bpf-stats). */
  readonly objects: readonly BpfObject[];
  /**
   * Reads the kernel and adds this program's part to the poll's snapshot. A throw leaves only this program's
   * part out of the poll (counted in ebpf_agent_poll_errors_total{program}); the others are published.
   */
  collect(nowMs: number, snapshot: AgentSnapshot): void;
  /** SIGHUP: reopen the program's log files. */
  reopenLogs?(): void;
  /** Detaches and releases everything; also stops helpers (exec handler children, log files). */
  close(): Promise<void>;
}

/**
 * The flags that configure only this program are rows of the flag table (src/flags.ts) tagged with its name, so a
 * flag is declared once; `programOptions(name)` lists them. Likewise the metrics it contributes are rows of the
 * metric table (src/export/descriptors.ts) with `program` set to its name: `metricsOf(name)`.
 */
export interface ProgramDescriptor<P extends string = ProgramName> {
  readonly name: P;
  /** One line for --help and the README. */
  readonly summary: string;
  /** BPF object files under --bpf-dir. */
  readonly objects: readonly string[];
  /** Oldest kernel (major, minor) the program works on, and why. */
  readonly minKernel: readonly [number, number];
  readonly minKernelReason: string;
  /** Capabilities beyond none that loading and attaching need (CAP_SYS_ADMIN stands in for BPF and PERFMON). */
  readonly capabilities: readonly CapabilityName[];
  /** What its capabilities beyond CAP_BPF and CAP_PERFMON are for, in messages ("attach XDP"). */
  readonly capabilityUse?: string;
  /** Attaches tracepoints, so libbpf needs tracefs. */
  readonly tracefs: boolean;
  /** Checks of its options against the machine (files, directories) before anything is loaded. */
  preflight?(config: AgentConfig): void;
  /** Loads, attaches and returns the running program; on a throw nothing of it stays attached. */
  start(context: ProgramContext): ProgramInstance;
}

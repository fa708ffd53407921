// The agent's configuration: the AgentConfig the agent and its collectors read, resolved from raw values (flags,
// environment, file) through the flag table in src/flags.ts: each flag's default and check, then the checks that
// involve two flags. Everything here is checked before anything touches the kernel.
import type { ProgramName } from './collector/types.ts';
import type { XdpMode } from './collector/xdp.ts';
import type { NetOrder } from './flags.ts';
import { UserError } from './errors.ts';
import {
  FLAGS,
  SETTINGS,
  camel,
  parseByKind,
  parsePrograms,
  type FlagName,
  type FlagSpec,
  type RawSettings,
} from './flags.ts';
import type { LogFormat, LogLevel } from './log.ts';

export { OTLP_PROTOCOLS, XDP_MODES, formatDuration, parseDuration, parsePort, parsePrograms } from './flags.ts';

export interface AgentConfig {
  host: string;
  port: number;
  intervalMs: number;
  programs: ProgramName[];
  xdpInterfaces: string[];
  xdpMode: XdpMode;
  /** --net-interface items: names, globs, `pods` (checked by parseInterfaceRules). */
  netInterfaces: string[];
  netOrder: NetOrder;
  execLog?: string;
  otlpEndpoint?: string;
  otlpProtocol: OtlpProtocol;
  /** cumulative: each series' running total from its start; delta: the increments since the last accepted export. */
  otlpTemporality: OtlpTemporality;
  /** --otlp-logs: exec and exit events as OTLP log records. */
  otlpLogs: boolean;
  logLevel: LogLevel;
  logFormat: LogFormat;
  btfPath: string;
  bpfDir: string;
  mountTracefs: boolean;
  tracefsPath: string;
  syscallsMaxEntries: number;
  execRingBytes: number;
  /** Series per metric that keep their own labels; the rest fold into one "other" series per syscall. */
  maxSeries: number;
  /** The kernel leaves the agent's own process out of the syscalls and cpu counts. */
  excludeSelf: boolean;
  /** false: syscall series per executable (and container) instead of per process. */
  pidLabels: boolean;
  /** Per-process series of each per-process metric that keep their own labels. */
  maxProcessSeries: number;
  /** How long an exited process's final counts stay in the per-process view, ms. */
  exitedRetentionMs: number;
  /** The slowest scrape interval: a new aggregate series is held at 0 for it plus one interval, ms. */
  scrapeIntervalMs: number;
  /** container_id and k8s_pod_uid from each process's cgroup. */
  containerLabels: boolean;
  /** cgroup2 mount to resolve cgroup ids in; undefined: found in /proc/self/mountinfo. */
  cgroupRoot?: string;
  /** Kubelet to read this node's pods from, for k8s_pod_name and k8s_namespace_name; undefined: not used. */
  kubeletUrl?: string;
  kubeletTokenFile?: string;
  kubeletCaFile?: string;
  kubeletInsecureSkipVerify: boolean;
  /** Program run once per exec with the PID as its argument; undefined: none. */
  execHandler?: string;
  execHandlerConcurrency: number;
  execHandlerRate: number;
  execHandlerBurst: number;
  execHandlerTimeoutMs: number;
  /** Handler filters. */
  execFilterComm?: RegExp;
  execFilterUids?: number[];
  /** In-kernel filter: only execs by this uid are seen at all. */
  execOnlyUid?: number;
  /** Per-program run time and runs from the kernel (BPF_ENABLE_STATS; costs a little on every run). */
  bpfStats: boolean;
  /** CPU-clock samples per second per CPU for the cpu program. */
  cpuSampleHz: number;
  /** Capacity of the cpu program's sample and info maps, in processes. */
  cpuMaxEntries: number;
}

export type OtlpProtocol = 'http/protobuf' | 'grpc';
export type OtlpTemporality = 'cumulative' | 'delta';

/** Raw values as they come from flags, environment and file, keyed by the camelCase flag name. */
export type RawOptions = RawSettings;

type DefaultOf<N extends FlagName> =
  Extract<(typeof FLAGS)[number], { name: N }> extends { default: infer D } ? D : never;

function defaultOf<N extends FlagName>(name: N): DefaultOf<N> {
  return (FLAGS as readonly FlagSpec[]).find((f) => f.name === name)!.default as DefaultOf<N>;
}

/** The table's defaults under their former names (the flag's camelCase), for readers that want one. */
export const DEFAULTS = {
  host: defaultOf('host'),
  port: defaultOf('port'),
  interval: defaultOf('interval'),
  xdpMode: defaultOf('xdp-mode') as XdpMode,
  netOrder: defaultOf('net-order') as NetOrder,
  otlpProtocol: defaultOf('otlp-protocol') as OtlpProtocol,
  logLevel: defaultOf('log-level') as LogLevel,
  logFormat: defaultOf('log-format') as LogFormat,
  btfPath: defaultOf('btf-path'),
  tracefsPath: '/sys/kernel/tracing',
  syscallsMaxEntries: defaultOf('syscalls-max-entries'),
  execRingBytes: defaultOf('exec-ring-bytes'),
  maxSeries: defaultOf('max-series'),
  execHandlerConcurrency: defaultOf('exec-handler-concurrency'),
  execHandlerRate: defaultOf('exec-handler-rate'),
  execHandlerTimeout: defaultOf('exec-handler-timeout'),
  cpuSampleHz: defaultOf('cpu-sample-hz'),
  cpuMaxEntries: defaultOf('cpu-max-entries'),
};

/** --otlp-logs against the rest of the configuration (checked at start, before anything is loaded). */
export function checkOtlpLogs(
  config: Pick<AgentConfig, 'otlpLogs' | 'otlpEndpoint' | 'otlpProtocol' | 'programs'>,
): void {
  const { programs } = config;
  if (config.otlpLogs && config.otlpEndpoint === undefined) {
    throw new UserError(
      '--otlp-logs needs --otlp-endpoint: name the collector, e.g. --otlp-endpoint http://collector:4318',
    );
  }
  if (config.otlpLogs && config.otlpProtocol === 'grpc') {
    throw new UserError(
      "--otlp-logs sends OTLP/HTTP: use --otlp-protocol http/protobuf with the collector's HTTP port (4318)",
    );
  }
  if (config.otlpLogs && !programs.includes('exec') && !programs.includes('exits')) {
    throw new UserError('--otlp-logs exports exec and exit events: add exec or exits to --programs');
  }
}

export function resolveConfig(raw: RawOptions, defaultBpfDir: string): AgentConfig {
  const given = raw as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const spec of SETTINGS as readonly FlagSpec[]) {
    const value = given[camel(spec.name)] ?? spec.default;
    const context = { flag: `--${spec.name}`, defaultBpfDir };
    if (spec.parse !== undefined) out[spec.field!] = spec.parse(value, context);
    else out[spec.field!] = value === undefined ? undefined : parseByKind(spec, value, context.flag);
  }
  // Two defaults depend on other flags (programs on --xdp-interface, the burst on the rate): filled in below.
  const config = out as unknown as Omit<AgentConfig, 'programs' | 'execHandlerBurst'> & {
    programs?: ProgramName[];
    execHandlerBurst?: number;
  };

  // What involves two flags.
  const programs = config.programs ?? parsePrograms(undefined, config.xdpInterfaces, config.netInterfaces);
  if (programs.includes('xdp') && config.xdpInterfaces.length === 0) {
    throw new UserError('program xdp needs an interface: add --xdp-interface NAME (repeatable)');
  }
  if (!programs.includes('xdp') && config.xdpInterfaces.length > 0) {
    throw new UserError('--xdp-interface is set but xdp is not in --programs: add xdp to --programs');
  }
  if (programs.includes('tc') && config.netInterfaces.length === 0) {
    throw new UserError('program tc needs interfaces: add --net-interface NAME, a glob, or pods (repeatable)');
  }
  if (config.netInterfaces.includes('pods') && !config.containerLabels) {
    throw new UserError(
      '--net-interface pods needs container labels (pods are found by their cgroup): leave out --no-container-labels',
    );
  }
  if (!programs.includes('tc') && config.netInterfaces.length > 0) {
    throw new UserError('--net-interface is set but tc is not in --programs: add tc to --programs');
  }
  if (typeof given.execLog === 'string' && given.execLog.trim() === '') {
    throw new UserError('--exec-log is empty: give a file path, or leave the flag out');
  }
  // A value of its own (not the default, which --print-config writes out) for a program that does not run.
  if (config.cpuSampleHz !== DEFAULTS.cpuSampleHz && !programs.includes('cpu')) {
    throw new UserError('--cpu-sample-hz is set but cpu is not in --programs: add cpu to --programs');
  }
  if (config.cpuMaxEntries !== DEFAULTS.cpuMaxEntries && !programs.includes('cpu')) {
    throw new UserError('--cpu-max-entries is set but cpu is not in --programs: add cpu to --programs');
  }
  if (config.execHandler !== undefined && !programs.includes('exec')) {
    throw new UserError('--exec-handler needs the exec program: add exec to --programs');
  }
  return {
    ...config,
    programs,
    execHandlerBurst: config.execHandlerBurst ?? Math.max(1, Math.ceil(config.execHandlerRate)),
    tracefsPath: DEFAULTS.tracefsPath,
  };
}

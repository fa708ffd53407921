// The agent's configuration: defaults, validation and parsing of values. The CLI maps flags, environment and
// the YAML file onto this; everything here is checked before anything touches the kernel.
import type { ProgramName } from './collector/types.ts';
import { PROGRAM_NAMES } from './programs/registry.ts';
import type { XdpMode } from './collector/xdp.ts';
import { defaultKubeletUrl } from './collector/kubelet.ts';
import { UserError } from './errors.ts';
import { LOG_LEVELS, type LogFormat, type LogLevel } from './log.ts';

export interface AgentConfig {
  host: string;
  port: number;
  intervalMs: number;
  programs: ProgramName[];
  xdpInterfaces: string[];
  xdpMode: XdpMode;
  execLog?: string;
  otlpEndpoint?: string;
  otlpProtocol: OtlpProtocol;
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
  /** false: syscall series per executable (and container) instead of per process. */
  pidLabels: boolean;
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
}

export type OtlpProtocol = 'http/protobuf' | 'grpc';
export const OTLP_PROTOCOLS: readonly OtlpProtocol[] = ['http/protobuf', 'grpc'];
export const XDP_MODES: readonly XdpMode[] = ['auto', 'native', 'generic'];

export const DEFAULTS = {
  host: '0.0.0.0',
  port: 9464,
  interval: '5s',
  xdpMode: 'auto' as XdpMode,
  otlpProtocol: 'http/protobuf' as OtlpProtocol,
  logLevel: 'info' as LogLevel,
  logFormat: 'text' as LogFormat,
  btfPath: '/sys/kernel/btf/vmlinux',
  tracefsPath: '/sys/kernel/tracing',
  syscallsMaxEntries: 16384,
  execRingBytes: 4 * 1024 * 1024,
  maxSeries: 5000,
  execHandlerConcurrency: 4,
  execHandlerRate: 10,
  execHandlerTimeout: '10s',
  cpuSampleHz: 99,
};

const MIN_INTERVAL_MS = 100;
const MAX_INTERVAL_MS = 3_600_000;

/** "500ms", "1s", "1.5s", "2m", "1h" → milliseconds. */
export function parseDuration(text: string, flag = '--interval'): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$/.exec(text);
  if (match === null) {
    throw new UserError(
      `${flag} ${JSON.stringify(text)} is not a duration: use a number with ms, s, m or h, e.g. 500ms, 5s, 1m`,
    );
  }
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] as 'ms' | 's' | 'm' | 'h'];
  const ms = Number(match[1]) * factor;
  if (ms < MIN_INTERVAL_MS || ms > MAX_INTERVAL_MS) {
    throw new UserError(`${flag} ${text} is out of range: use from ${MIN_INTERVAL_MS}ms to 1h`);
  }
  return Math.round(ms);
}

export function parsePort(value: unknown): number {
  const port = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UserError(`--port ${String(value)} is not a port: use an integer from 1 to 65535 (0 picks a free one)`);
  }
  return port;
}

export function parsePrograms(
  value: string | readonly string[] | undefined,
  xdpInterfaces: readonly string[],
): ProgramName[] {
  if (value === undefined) return xdpInterfaces.length > 0 ? ['exec', 'syscalls', 'xdp'] : ['exec', 'syscalls'];
  const items = (typeof value === 'string' ? [value] : value)
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean);
  if (items.length === 0) throw new UserError(`--programs is empty: name at least one of ${PROGRAM_NAMES.join(', ')}`);
  const out: ProgramName[] = [];
  for (const item of items) {
    if (!(PROGRAM_NAMES as readonly string[]).includes(item)) {
      throw new UserError(
        `--programs: unknown program ${JSON.stringify(item)}: choose from ${PROGRAM_NAMES.join(', ')}`,
      );
    }
    if (!out.includes(item as ProgramName)) out.push(item as ProgramName);
  }
  return out;
}

function oneOf<T extends string>(flag: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new UserError(`${flag} ${JSON.stringify(value)} is not valid: choose from ${allowed.join(', ')}`);
  }
  return value as T;
}

function positiveInteger(flag: string, value: unknown, min: number, max: number): number {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new UserError(`${flag} ${String(value)} is not valid: use an integer from ${min} to ${max}`);
  }
  return n;
}

/** Raw values as they come from flags/environment/file, before validation. */
export interface RawOptions {
  host?: unknown;
  port?: unknown;
  interval?: unknown;
  programs?: unknown;
  xdpInterface?: unknown;
  xdpMode?: unknown;
  execLog?: unknown;
  otlpEndpoint?: unknown;
  otlpProtocol?: unknown;
  logLevel?: unknown;
  logFormat?: unknown;
  btfPath?: unknown;
  bpfDir?: unknown;
  mountTracefs?: unknown;
  syscallsMaxEntries?: unknown;
  execRingBytes?: unknown;
  maxSeries?: unknown;
  pidLabels?: unknown;
  containerLabels?: unknown;
  cgroupRoot?: unknown;
  kubeletUrl?: unknown;
  kubeletTokenFile?: unknown;
  kubeletCaFile?: unknown;
  kubeletInsecureSkipVerify?: unknown;
  execHandler?: unknown;
  execHandlerConcurrency?: unknown;
  execHandlerRate?: unknown;
  execHandlerBurst?: unknown;
  execHandlerTimeout?: unknown;
  execFilterComm?: unknown;
  execFilterUid?: unknown;
  execOnlyUid?: unknown;
  bpfStats?: unknown;
  cpuSampleHz?: unknown;
}

function uid(flag: string, value: unknown): number {
  return positiveInteger(flag, value, 0, 0xfffffffe);
}

function execHandlerConfig(raw: RawOptions, programs: readonly ProgramName[]) {
  const execHandler = optionalString(raw.execHandler);
  if (execHandler !== undefined && !programs.includes('exec')) {
    throw new UserError('--exec-handler needs the exec program: add exec to --programs');
  }
  let execFilterComm: RegExp | undefined;
  const pattern = optionalString(raw.execFilterComm);
  if (pattern !== undefined) {
    try {
      execFilterComm = new RegExp(pattern);
    } catch (error) {
      throw new UserError(
        `--exec-filter-comm ${JSON.stringify(pattern)} is not a regular expression: ${(error as Error).message}`,
      );
    }
  }
  const uids = stringList(raw.execFilterUid).map((u) => uid('--exec-filter-uid', u));
  const rate = Number(raw.execHandlerRate ?? DEFAULTS.execHandlerRate);
  if (!Number.isFinite(rate) || rate <= 0 || rate > 100_000) {
    throw new UserError(
      `--exec-handler-rate ${String(raw.execHandlerRate)} is not valid: handler starts per second, e.g. 10 or 0.5`,
    );
  }
  return {
    execHandler,
    execHandlerConcurrency: positiveInteger(
      '--exec-handler-concurrency',
      raw.execHandlerConcurrency ?? DEFAULTS.execHandlerConcurrency,
      1,
      1024,
    ),
    execHandlerRate: rate,
    execHandlerBurst: positiveInteger(
      '--exec-handler-burst',
      raw.execHandlerBurst ?? Math.max(1, Math.ceil(rate)),
      1,
      100_000,
    ),
    execHandlerTimeoutMs: parseDuration(
      String(raw.execHandlerTimeout ?? DEFAULTS.execHandlerTimeout),
      '--exec-handler-timeout',
    ),
    execFilterComm,
    execFilterUids: uids.length > 0 ? uids : undefined,
    execOnlyUid:
      raw.execOnlyUid === undefined || raw.execOnlyUid === '' ? undefined : uid('--exec-only-uid', raw.execOnlyUid),
  };
}

function optionalString(value: unknown): string | undefined {
  return value === undefined || value === null || value === '' ? undefined : String(value);
}

/** --kubelet-url: a URL, or "none" to switch pod names off; unset falls back to KUBELET_HOST / NODE_NAME. */
function kubeletUrl(value: unknown): string | undefined {
  if (value === 'none' || value === false || value === 'false') return undefined;
  const text = optionalString(value) ?? defaultKubeletUrl();
  if (text === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UserError(
      `--kubelet-url ${JSON.stringify(text)} is not a URL: use e.g. https://$(NODE_IP):10250, or none`,
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new UserError(`--kubelet-url ${text}: use an https:// (or http://) URL`);
  }
  return text.replace(/\/+$/, '');
}

function boolean(flag: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new UserError(`${flag} ${JSON.stringify(value)} is not valid: use true or false`);
}

function stringList(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  const list = Array.isArray(value) ? value : [value];
  return list
    .flatMap((v) => String(v).split(','))
    .map((v) => v.trim())
    .filter(Boolean);
}

export function resolveConfig(raw: RawOptions, defaultBpfDir: string): AgentConfig {
  const xdpInterfaces = [...new Set(stringList(raw.xdpInterface))];
  for (const name of xdpInterfaces) {
    if (name.length > 15 || /[\s/]/.test(name))
      throw new UserError(`--xdp-interface ${JSON.stringify(name)} is not an interface name`);
  }
  const programs = parsePrograms(raw.programs === undefined ? undefined : stringList(raw.programs), xdpInterfaces);
  if (programs.includes('xdp') && xdpInterfaces.length === 0) {
    throw new UserError('program xdp needs an interface: add --xdp-interface NAME (repeatable)');
  }
  if (!programs.includes('xdp') && xdpInterfaces.length > 0) {
    throw new UserError('--xdp-interface is set but xdp is not in --programs: add xdp to --programs');
  }
  const host = String(raw.host ?? DEFAULTS.host);
  if (host.length === 0) throw new UserError('--host is empty: give an address such as 0.0.0.0 or 127.0.0.1');
  const ringBytes = positiveInteger('--exec-ring-bytes', raw.execRingBytes ?? DEFAULTS.execRingBytes, 4096, 1 << 30);
  if ((ringBytes & (ringBytes - 1)) !== 0 || ringBytes % 4096 !== 0) {
    throw new UserError(`--exec-ring-bytes ${ringBytes} must be a power of two and a multiple of 4096 (e.g. 4194304)`);
  }
  let otlpEndpoint: string | undefined;
  if (raw.otlpEndpoint !== undefined && raw.otlpEndpoint !== '') {
    otlpEndpoint = String(raw.otlpEndpoint);
    let url: URL;
    try {
      url = new URL(otlpEndpoint);
    } catch {
      throw new UserError(
        `--otlp-endpoint ${JSON.stringify(otlpEndpoint)} is not a URL: use e.g. http://collector:4318`,
      );
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new UserError(`--otlp-endpoint ${otlpEndpoint}: use an http:// or https:// URL`);
    }
  }
  return {
    host,
    port: parsePort(raw.port ?? DEFAULTS.port),
    intervalMs: parseDuration(String(raw.interval ?? DEFAULTS.interval)),
    programs,
    xdpInterfaces,
    xdpMode: oneOf('--xdp-mode', raw.xdpMode ?? DEFAULTS.xdpMode, XDP_MODES),
    execLog: raw.execLog === undefined || raw.execLog === '' ? undefined : String(raw.execLog),
    otlpEndpoint,
    otlpProtocol: oneOf('--otlp-protocol', raw.otlpProtocol ?? DEFAULTS.otlpProtocol, OTLP_PROTOCOLS),
    logLevel: oneOf('--log-level', raw.logLevel ?? DEFAULTS.logLevel, LOG_LEVELS),
    logFormat: oneOf('--log-format', raw.logFormat ?? DEFAULTS.logFormat, ['text', 'json'] as const),
    btfPath: String(raw.btfPath ?? DEFAULTS.btfPath),
    bpfDir: String(raw.bpfDir ?? defaultBpfDir),
    mountTracefs: boolean('--mount-tracefs', raw.mountTracefs, true),
    tracefsPath: DEFAULTS.tracefsPath,
    syscallsMaxEntries: positiveInteger(
      '--syscalls-max-entries',
      raw.syscallsMaxEntries ?? DEFAULTS.syscallsMaxEntries,
      1024,
      1 << 24,
    ),
    execRingBytes: ringBytes,
    maxSeries: positiveInteger('--max-series', raw.maxSeries ?? DEFAULTS.maxSeries, 1, 10_000_000),
    pidLabels: boolean('--pid-labels', raw.pidLabels, true),
    containerLabels: boolean('--container-labels', raw.containerLabels, true),
    cgroupRoot: optionalString(raw.cgroupRoot),
    kubeletUrl: kubeletUrl(raw.kubeletUrl),
    kubeletTokenFile: optionalString(raw.kubeletTokenFile),
    kubeletCaFile: optionalString(raw.kubeletCaFile),
    kubeletInsecureSkipVerify: boolean('--kubelet-insecure-skip-verify', raw.kubeletInsecureSkipVerify, false),
    ...execHandlerConfig(raw, programs),
    bpfStats: boolean('--bpf-stats', raw.bpfStats, false),
    cpuSampleHz: positiveInteger('--cpu-sample-hz', raw.cpuSampleHz ?? DEFAULTS.cpuSampleHz, 1, 10_000),
  };
}

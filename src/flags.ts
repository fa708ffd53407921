// The agent's flags, in one table. From each row come: the yargs option (--help text, group, choices, ranges),
// the YAML key in a --config file, the EBPF_OTEL_AGENT_* environment variable, the default, the validation, the
// AgentConfig field it sets, and how --print-config writes it back. README.md's flags table is checked against it.
//
// One naming rule for every flag --some-flag: YAML key `some-flag` (the camelCase `someFlag` is accepted too) and
// variable EBPF_OTEL_AGENT_SOME_FLAG. A boolean flag --x is also --no-x, key `no-x` and EBPF_OTEL_AGENT_NO_X
// (value true or false), which set x to the opposite. --config and --print-config are command-line actions: they
// have variables but no YAML keys.
import { defaultKubeletUrl } from './collector/kubelet.ts';
import type { ProgramName } from './collector/types.ts';
import { PROGRAM_NAMES } from './programs/registry.ts';
import type { XdpMode } from './collector/xdp.ts';
import { parseInterfaceRules } from './collector/tc.ts';
import type { AgentConfig, OtlpProtocol, OtlpTemporality } from './config.ts';
import { UserError } from './errors.ts';
import { LOG_LEVELS } from './log.ts';

export const ENV_PREFIX = 'EBPF_OTEL_AGENT_';
/** Variables under the prefix that are not flags: the addon's path (src/bpf/addon.ts). */
export const NON_FLAG_VARIABLES: readonly string[] = ['EBPF_OTEL_AGENT_ADDON'];

export const OTLP_PROTOCOLS: readonly OtlpProtocol[] = ['http/protobuf', 'grpc'];
export const OTLP_TEMPORALITIES: readonly OtlpTemporality[] = ['cumulative', 'delta'];
export const XDP_MODES: readonly XdpMode[] = ['auto', 'native', 'generic'];
export type NetOrder = 'last' | 'first';
export const NET_ORDERS: readonly NetOrder[] = ['last', 'first'];
export const LOG_FORMATS = ['text', 'json'] as const;

/**
 * How a value is read. string: any text ("" is unset); integer/number: within min..max; duration: "500ms", "5s",
 * "1m", "1h" within min..max milliseconds; boolean: true/false; choice: one of `choices`; list: comma-separated
 * items (and, for a repeatable flag, every occurrence).
 */
export type FlagKind = 'string' | 'integer' | 'number' | 'duration' | 'boolean' | 'choice' | 'list';

/** What a flag's parser may look at besides its own value. */
export interface ParseContext {
  /** The flag as the user writes it, for messages: "--port". */
  readonly flag: string;
  /** The default of --bpf-dir (the checkout's or the image's bpf/build). */
  readonly defaultBpfDir: string;
}

export interface FlagSpec {
  /** The flag without dashes; also its YAML key. */
  readonly name: string;
  readonly kind: FlagKind;
  readonly describe: string;
  /** The --help section. */
  readonly group: string;
  /** As it would be written on the command line. Absent: unset, or computed (see defaultText). */
  readonly default?: string | number | boolean;
  /** What an absent or computed default means, in Markdown (README); --help shows it without backticks. */
  readonly defaultText?: string;
  /** Inclusive bounds of integer, number (above min when `minExclusive`) and duration (ms) flags. */
  readonly min?: number;
  readonly max?: number;
  readonly minExclusive?: boolean;
  /** What --help says about the range when bounds alone do not say it. */
  readonly rangeText?: string;
  readonly choices?: readonly string[];
  /** Given more than once (or as a YAML list), the values add up; otherwise the last one wins. */
  readonly repeatable?: boolean;
  /** The program the flag configures, if it configures only one. */
  readonly program?: ProgramName;
  /** The AgentConfig field the flag sets; absent for the command-line actions --config and --print-config. */
  readonly field?: keyof AgentConfig;
  /** Replaces the kind's check; gets the value as given (undefined when unset) and returns the config value. */
  parse?(value: unknown, context: ParseContext): unknown;
  /** The config value back as a flag value, for --print-config; undefined leaves the key out. */
  format?(value: unknown): unknown;
}

// ---- values ---------------------------------------------------------------------------------------------------

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

/** Milliseconds → the shortest duration text parseDuration reads back exactly: 5000 → "5s". */
export function formatDuration(ms: number): string {
  for (const [unit, factor] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms % factor === 0) return `${ms / factor}${unit}`;
  }
  return `${ms}ms`;
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
  netInterfaces: readonly string[] = [],
): ProgramName[] {
  if (value === undefined) {
    return [
      'exec',
      'syscalls',
      ...(xdpInterfaces.length > 0 ? (['xdp'] as const) : []),
      ...(netInterfaces.length > 0 ? (['tc'] as const) : []),
    ];
  }
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

function integer(flag: string, value: unknown, min: number, max: number): number {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new UserError(`${flag} ${String(value)} is not valid: use an integer from ${min} to ${max}`);
  }
  return n;
}

function boolean(flag: string, value: unknown): boolean {
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new UserError(`${flag} ${JSON.stringify(value)} is not valid: use true or false`);
}

export function optionalString(value: unknown): string | undefined {
  return value === undefined || value === null || value === '' ? undefined : String(value);
}

/** Every occurrence, each split at commas, trimmed, empty items dropped. */
export function stringList(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  const list = Array.isArray(value) ? value : [value];
  return list
    .flatMap((v) => String(v).split(','))
    .map((v) => v.trim())
    .filter(Boolean);
}

function url(flag: string, text: string, example: string): URL {
  try {
    return new URL(text);
  } catch {
    throw new UserError(`${flag} ${JSON.stringify(text)} is not a URL: use e.g. ${example}`);
  }
}

/** --kubelet-url: a URL, or "none" to switch pod names off; unset falls back to KUBELET_HOST / NODE_NAME. */
function kubeletUrl(value: unknown): string | undefined {
  if (value === 'none' || value === false || value === 'false') return undefined;
  const text = optionalString(value) ?? defaultKubeletUrl();
  if (text === undefined) return undefined;
  const parsed = url('--kubelet-url', text, 'https://$(NODE_IP):10250, or none');
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new UserError(`--kubelet-url ${text}: use an https:// (or http://) URL`);
  }
  return text.replace(/\/+$/, '');
}

const UID_MAX = 0xfffffffe;
const uids = (value: unknown, { flag }: ParseContext): number[] | undefined => {
  const list = stringList(value).map((u) => integer(flag, u, 0, UID_MAX));
  return list.length > 0 ? list : undefined;
};

/** The check a kind implies, for flags without their own parse. */
export function parseByKind(spec: FlagSpec, value: unknown, flag: string): unknown {
  switch (spec.kind) {
    case 'string':
      return optionalString(value);
    case 'integer':
      return integer(flag, value, spec.min ?? 0, spec.max ?? Number.MAX_SAFE_INTEGER);
    case 'number': {
      const n = Number(value);
      const min = spec.min ?? -Infinity;
      if (!Number.isFinite(n) || (spec.minExclusive === true ? n <= min : n < min) || n > (spec.max ?? Infinity))
        throw new UserError(`${flag} ${String(value)} is not valid: ${spec.rangeText ?? 'out of range'}`);
      return n;
    }
    case 'duration':
      return parseDuration(String(value), flag);
    case 'boolean':
      return boolean(flag, value);
    case 'choice':
      return oneOf(flag, value, spec.choices ?? []);
    case 'list':
      return stringList(value);
  }
}

// ---- the table ------------------------------------------------------------------------------------------------

export const FLAGS = [
  {
    name: 'host',
    kind: 'string',
    default: '0.0.0.0',
    describe: 'Address to serve /metrics, /healthz and /readyz on',
    group: 'Serving:',
    field: 'host',
    parse(value) {
      const host = String(value);
      if (host.length === 0) throw new UserError('--host is empty: give an address such as 0.0.0.0 or 127.0.0.1');
      return host;
    },
  },
  {
    name: 'port',
    kind: 'integer',
    default: 9464,
    min: 0,
    max: 65535,
    describe: 'Port to serve on (0 picks a free one)',
    group: 'Serving:',
    field: 'port',
    parse: (value) => parsePort(value),
  },
  {
    name: 'interval',
    kind: 'duration',
    default: '5s',
    min: MIN_INTERVAL_MS,
    max: MAX_INTERVAL_MS,
    describe: 'How often the BPF maps are read: 500ms, 1s, 5s, 1m',
    group: 'Collection:',
    field: 'intervalMs',
    format: (ms) => formatDuration(ms as number),
  },
  {
    name: 'programs',
    kind: 'list',
    choices: PROGRAM_NAMES,
    defaultText: '`exec,syscalls` (+`xdp`, `tc` when their interfaces are given)',
    describe: 'Programs to run, comma-separated',
    group: 'Collection:',
    field: 'programs',
    // The default depends on --xdp-interface and --net-interface: resolveConfig fills it in.
    parse: (value) => (value === undefined ? undefined : parsePrograms(stringList(value), [])),
    format: (programs) => (programs as string[]).join(','),
  },
  {
    name: 'cpu-sample-hz',
    kind: 'integer',
    default: 99,
    min: 1,
    max: 10_000,
    describe: 'CPU-clock samples per second on every CPU (99 avoids lockstep with 100 Hz timers)',
    group: 'Collection:',
    program: 'cpu',
    field: 'cpuSampleHz',
  },
  {
    name: 'cpu-max-entries',
    kind: 'integer',
    default: 32768,
    min: 1024,
    max: 1 << 24,
    describe:
      'Capacity of the cpu maps, in processes seen on a CPU (exited ones stay until their final count is published)',
    group: 'Collection:',
    program: 'cpu',
    field: 'cpuMaxEntries',
  },
  {
    name: 'xdp-interface',
    kind: 'list',
    repeatable: true,
    describe: 'Interface to count packets on (repeatable)',
    group: 'XDP:',
    program: 'xdp',
    field: 'xdpInterfaces',
    parse(value) {
      const given =
        value === undefined ? [] : (Array.isArray(value) ? value : [value]).flatMap((v) => String(v).split(','));
      if (given.some((name) => name.trim() === ''))
        throw new UserError('--xdp-interface is empty: give an interface name (ip link lists them)');
      const names = [...new Set(stringList(value))];
      for (const name of names) {
        if (name.length > 15 || /[\s/]/.test(name))
          throw new UserError(`--xdp-interface ${JSON.stringify(name)} is not an interface name`);
      }
      return names;
    },
    format: (names) => ((names as string[]).length > 0 ? names : undefined),
  },
  {
    name: 'xdp-mode',
    kind: 'choice',
    default: 'auto',
    choices: XDP_MODES,
    describe: 'XDP attach mode; auto tries native, then generic',
    group: 'XDP:',
    program: 'xdp',
    field: 'xdpMode',
  },
  {
    name: 'net-interface',
    kind: 'list',
    repeatable: true,
    describe:
      'Interfaces to count both directions on with tc: names, globs (eth*, veth[0-9]*), or pods (the host-side veths of the pods on this node); repeatable',
    group: 'tc:',
    program: 'tc',
    field: 'netInterfaces',
    parse(value) {
      const given =
        value === undefined ? [] : (Array.isArray(value) ? value : [value]).flatMap((v) => String(v).split(','));
      if (given.some((item) => item.trim() === ''))
        throw new UserError('--net-interface has an empty item: give a name, a glob or pods (ip link lists names)');
      const items = [...new Set(stringList(value))];
      parseInterfaceRules(items); // a bad name or glob is refused here, before anything is loaded
      return items;
    },
    format: (items) => ((items as string[]).length > 0 ? items : undefined),
  },
  {
    name: 'net-order',
    kind: 'choice',
    default: 'last',
    choices: NET_ORDERS,
    describe:
      "Where tc goes on each interface's tcx hooks: last (after the programs there) or first (before them); it replaces none and hands every packet on",
    group: 'tc:',
    program: 'tc',
    field: 'netOrder',
  },
  {
    name: 'exec-log',
    kind: 'string',
    describe: 'Write one JSON line per exec to stdout or to this file (reopened on SIGHUP)',
    group: 'Exec:',
    program: 'exec',
    field: 'execLog',
  },
  {
    name: 'exec-handler',
    kind: 'string',
    describe: 'Run this program (absolute path) once per exec, with the PID as its argument and EXEC_* variables',
    group: 'Exec:',
    program: 'exec',
    field: 'execHandler',
  },
  {
    name: 'exec-handler-concurrency',
    kind: 'integer',
    default: 4,
    min: 1,
    max: 1024,
    describe: 'Handlers running at once at most',
    group: 'Exec:',
    program: 'exec',
    field: 'execHandlerConcurrency',
  },
  {
    name: 'exec-handler-rate',
    kind: 'number',
    default: 10,
    min: 0,
    minExclusive: true,
    max: 100_000,
    rangeText: 'handler starts per second, e.g. 10 or 0.5',
    describe: 'Handler starts per second (token bucket)',
    group: 'Exec:',
    program: 'exec',
    field: 'execHandlerRate',
  },
  {
    name: 'exec-handler-burst',
    kind: 'integer',
    min: 1,
    max: 100_000,
    defaultText: 'the rate',
    describe: 'Handler starts allowed at once after a quiet period',
    group: 'Exec:',
    program: 'exec',
    field: 'execHandlerBurst',
    // The default is the rate (rounded up): resolveConfig fills it in.
    parse: (value, { flag }) => (value === undefined ? undefined : integer(flag, value, 1, 100_000)),
  },
  {
    name: 'exec-handler-timeout',
    kind: 'duration',
    default: '10s',
    min: MIN_INTERVAL_MS,
    max: MAX_INTERVAL_MS,
    describe: 'Kill a handler (and its process group) running longer',
    group: 'Exec:',
    program: 'exec',
    field: 'execHandlerTimeoutMs',
    format: (ms) => formatDuration(ms as number),
  },
  {
    name: 'exec-filter-comm',
    kind: 'string',
    describe: "Handle only execs whose comm (the new program's kernel name, 15 bytes) matches this regular expression",
    group: 'Exec:',
    program: 'exec',
    field: 'execFilterComm',
    parse(value) {
      const pattern = optionalString(value);
      if (pattern === undefined) return undefined;
      try {
        return new RegExp(pattern);
      } catch (error) {
        throw new UserError(
          `--exec-filter-comm ${JSON.stringify(pattern)} is not a regular expression: ${(error as Error).message}`,
        );
      }
    },
    format: (re) => (re as RegExp | undefined)?.source,
  },
  {
    name: 'exec-filter-uid',
    kind: 'list',
    repeatable: true,
    min: 0,
    max: UID_MAX,
    describe: 'Handle only execs by this uid (repeatable)',
    group: 'Exec:',
    program: 'exec',
    field: 'execFilterUids',
    parse: uids,
  },
  {
    name: 'exec-only-uid',
    kind: 'integer',
    min: 0,
    max: UID_MAX,
    describe: 'In-kernel filter: see only execs by this uid at all (counters included)',
    group: 'Exec:',
    program: 'exec',
    field: 'execOnlyUid',
    parse: (value, { flag }) => (value === undefined || value === '' ? undefined : integer(flag, value, 0, UID_MAX)),
  },
  {
    name: 'exec-ring-bytes',
    kind: 'integer',
    default: 2 * 1024 * 1024,
    min: 4096,
    max: 1 << 30,
    rangeText: 'a power of two',
    describe: 'Size of the exec event ring buffer',
    group: 'Exec:',
    program: 'exec',
    field: 'execRingBytes',
    parse(value, { flag }) {
      const bytes = integer(flag, value, 4096, 1 << 30);
      if ((bytes & (bytes - 1)) !== 0 || bytes % 4096 !== 0) {
        throw new UserError(`${flag} ${bytes} must be a power of two and a multiple of 4096 (e.g. 4194304)`);
      }
      return bytes;
    },
  },
  {
    name: 'syscalls-max-entries',
    kind: 'integer',
    default: 16384,
    min: 1024,
    max: 1 << 24,
    describe: 'Capacity of the syscall maps, in processes (exited ones stay until their final count is published)',
    group: 'Collection:',
    program: 'syscalls',
    field: 'syscallsMaxEntries',
  },
  {
    name: 'exclude-self',
    kind: 'boolean',
    default: true,
    describe:
      "Leave the agent's own process out of the syscalls and cpu counts (in the kernel); --no-exclude-self: count it like any other",
    group: 'Collection:',
    field: 'excludeSelf',
  },
  {
    name: 'max-series',
    kind: 'integer',
    default: 5000,
    min: 1,
    max: 10_000_000,
    describe:
      'Series per metric that keep their own labels; the least busy beyond it fold into one "other" series per syscall',
    group: 'Cardinality:',
    field: 'maxSeries',
  },
  {
    name: 'pid-labels',
    kind: 'boolean',
    default: true,
    describe:
      'Publish the per-process view (ebpf_process_syscalls_total, ebpf_process_cpu_samples_total); --no-pid-labels: only the per-executable aggregate',
    group: 'Cardinality:',
    field: 'pidLabels',
  },
  {
    name: 'max-process-series',
    kind: 'integer',
    default: 5000,
    min: 1,
    max: 10_000_000,
    describe:
      'Series of each per-process metric that keep their own labels; the least busy beyond it fold into one "other" series per syscall',
    group: 'Cardinality:',
    field: 'maxProcessSeries',
  },
  {
    name: 'exited-retention',
    kind: 'duration',
    default: '2m',
    min: MIN_INTERVAL_MS,
    max: MAX_INTERVAL_MS,
    describe:
      "How long an exited process's final counts stay in the per-process view, and a group no process is in stays in the aggregate (there at least 10 × --scrape-interval)",
    group: 'Cardinality:',
    field: 'exitedRetentionMs',
    format: (ms) => formatDuration(ms as number),
  },
  {
    name: 'scrape-interval',
    kind: 'duration',
    default: '60s',
    min: MIN_INTERVAL_MS,
    max: MAX_INTERVAL_MS,
    describe:
      'The slowest scrape interval reading the agent: a new aggregate series stays at 0 for this plus one --interval, so increase() sees its start',
    group: 'Cardinality:',
    field: 'scrapeIntervalMs',
    format: (ms) => formatDuration(ms as number),
  },
  {
    name: 'container-labels',
    kind: 'boolean',
    default: true,
    describe: "Add container_id and k8s_pod_uid from each process's cgroup",
    group: 'Attribution:',
    field: 'containerLabels',
  },
  {
    name: 'cgroup-root',
    kind: 'string',
    defaultText: 'from `/proc/self/mountinfo`',
    describe: 'cgroup2 mount to resolve cgroup ids in',
    group: 'Attribution:',
    field: 'cgroupRoot',
  },
  {
    name: 'kubelet-url',
    kind: 'string',
    defaultText: '`https://$KUBELET_HOST:10250` or `https://$NODE_NAME:10250` when set',
    describe: 'Kubelet whose pod list names pods (k8s_pod_name, k8s_namespace_name); none: off',
    group: 'Attribution:',
    field: 'kubeletUrl',
    parse: (value) => kubeletUrl(value),
    // Unset here means off: printed as none, so that NODE_NAME cannot switch it on when the file is read back.
    format: (text) => text ?? 'none',
  },
  {
    name: 'kubelet-token-file',
    kind: 'string',
    defaultText: 'the service account token',
    describe: 'Bearer token for the kubelet',
    group: 'Attribution:',
    field: 'kubeletTokenFile',
  },
  {
    name: 'kubelet-ca-file',
    kind: 'string',
    defaultText: 'the service account CA',
    describe: "CA that signed the kubelet's serving certificate",
    group: 'Attribution:',
    field: 'kubeletCaFile',
  },
  {
    name: 'kubelet-insecure-skip-verify',
    kind: 'boolean',
    default: false,
    describe: "Do not verify the kubelet's certificate (kubelets often serve a self-signed one)",
    group: 'Attribution:',
    field: 'kubeletInsecureSkipVerify',
  },
  {
    name: 'otlp-endpoint',
    kind: 'string',
    describe: 'Also push metrics over OTLP to this collector URL, e.g. http://localhost:4318',
    group: 'OTLP:',
    field: 'otlpEndpoint',
    parse(value) {
      const text = optionalString(value);
      if (text === undefined) return undefined;
      const parsed = url('--otlp-endpoint', text, 'http://collector:4318');
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
        throw new UserError(`--otlp-endpoint ${text}: use an http:// or https:// URL`);
      }
      return text;
    },
  },
  {
    name: 'otlp-protocol',
    kind: 'choice',
    default: 'http/protobuf',
    choices: OTLP_PROTOCOLS,
    describe: 'OTLP transport',
    group: 'OTLP:',
    field: 'otlpProtocol',
  },
  {
    name: 'otlp-temporality',
    kind: 'choice',
    default: 'cumulative',
    choices: OTLP_TEMPORALITIES,
    describe: 'OTLP counters and histograms as running totals, or as the increments since the last accepted export',
    group: 'OTLP:',
    field: 'otlpTemporality',
  },
  {
    name: 'otlp-logs',
    kind: 'boolean',
    default: false,
    describe:
      'Also push every exec (exec program) and process exit (exits program) as an OpenTelemetry log record to --otlp-endpoint (OTLP/HTTP)',
    group: 'OTLP:',
    field: 'otlpLogs',
  },
  {
    name: 'bpf-stats',
    kind: 'boolean',
    default: false,
    describe:
      'Export the run time and runs of each BPF program (BPF_ENABLE_STATS, scoped to the agent; each run costs a little more while on)',
    group: 'Kernel:',
    field: 'bpfStats',
  },
  {
    name: 'btf-path',
    kind: 'string',
    default: '/sys/kernel/btf/vmlinux',
    describe: 'Kernel BTF for CO-RE relocations',
    group: 'Kernel:',
    field: 'btfPath',
    parse: (value) => String(value),
  },
  {
    name: 'bpf-dir',
    kind: 'string',
    defaultText: '`bpf/build` of the checkout',
    describe: 'Directory of the compiled BPF objects',
    group: 'Kernel:',
    field: 'bpfDir',
    parse: (value, { defaultBpfDir }) => (value === undefined ? defaultBpfDir : String(value)),
  },
  {
    name: 'mount-tracefs',
    kind: 'boolean',
    default: true,
    describe: 'Mount tracefs at /sys/kernel/tracing when it is missing',
    group: 'Kernel:',
    field: 'mountTracefs',
  },
  {
    name: 'log-level',
    kind: 'choice',
    default: 'info',
    choices: LOG_LEVELS,
    describe: 'Log level',
    group: 'Logging:',
    field: 'logLevel',
  },
  {
    name: 'log-format',
    kind: 'choice',
    default: 'text',
    choices: LOG_FORMATS,
    describe: 'Log format',
    group: 'Logging:',
    field: 'logFormat',
  },
  {
    name: 'config',
    kind: 'string',
    describe: 'YAML file with any of the options above (flags win)',
    group: 'Options:',
  },
  {
    name: 'print-config',
    kind: 'boolean',
    default: false,
    describe: 'Print the effective configuration as YAML (a --config file) and exit',
    group: 'Options:',
  },
] as const satisfies readonly FlagSpec[];

export type Flag = (typeof FLAGS)[number];
export type FlagName = Flag['name'];
/** The flags that are settings (an AgentConfig field, a YAML key), not command-line actions. */
export type SettingFlag = Extract<Flag, { field: keyof AgentConfig }>;

type Camel<S extends string> = S extends `${infer Head}-${infer Tail}` ? `${Head}${Capitalize<Camel<Tail>>}` : S;
/** Raw values as they come from flags, environment and file, keyed by the camelCase flag name. */
export type RawSettings = { [F in SettingFlag as Camel<F['name']>]?: unknown };

// Every AgentConfig field is some flag's, except the tracefs path (fixed).
type Unset = Exclude<keyof AgentConfig, SettingFlag['field'] | 'tracefsPath'>;
const everyFieldHasAFlag: [Unset] extends [never] ? true : Unset = true;
void everyFieldHasAFlag;

export const SETTINGS: readonly SettingFlag[] = FLAGS.filter((f): f is SettingFlag => 'field' in f);

export function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

export function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** The flag's environment variable: --xdp-interface → EBPF_OTEL_AGENT_XDP_INTERFACE. */
export function envName(name: string): string {
  return ENV_PREFIX + name.toUpperCase().replace(/-/g, '_');
}

export function findFlag(name: string): FlagSpec | undefined {
  return (FLAGS as readonly FlagSpec[]).find((f) => f.name === name);
}

/** A name as written in a YAML file or an environment variable → its flag, and whether it is the no- form. */
export function lookUp(name: string, settingsOnly: boolean): { spec: FlagSpec; negated: boolean } | undefined {
  const pool: readonly FlagSpec[] = settingsOnly ? SETTINGS : FLAGS;
  const spec = pool.find((f) => f.name === name);
  if (spec !== undefined) return { spec, negated: false };
  const positive = name.startsWith('no-') ? pool.find((f) => f.name === name.slice(3)) : undefined;
  return positive?.kind === 'boolean' ? { spec: positive, negated: true } : undefined;
}

/** The README's default cell: the default as code, the computed one's text, or a dash. */
export function docDefault(spec: FlagSpec): string {
  if (spec.defaultText !== undefined) return spec.defaultText;
  return spec.default === undefined ? '—' : `\`${String(spec.default)}\``;
}

/** What --help adds after the description: the range or choices, and the program. */
export function helpSuffix(spec: FlagSpec): string {
  const parts: string[] = [];
  if (spec.kind === 'list' && spec.choices !== undefined) parts.push(`[choices: ${spec.choices.join(', ')}]`);
  if ((spec.kind === 'integer' || spec.kind === 'list') && spec.min !== undefined && spec.max !== undefined)
    parts.push(`[range: ${spec.min} to ${spec.max}${spec.rangeText === undefined ? '' : `, ${spec.rangeText}`}]`);
  if (spec.kind === 'number' && spec.max !== undefined)
    parts.push(`[range: ${spec.minExclusive === true ? 'above ' : ''}${spec.min} to ${spec.max}]`);
  if (spec.kind === 'duration' && spec.min !== undefined && spec.max !== undefined)
    parts.push(`[range: ${formatDuration(spec.min)} to ${formatDuration(spec.max)}]`);
  if (spec.program !== undefined) parts.push(`[program: ${spec.program}]`);
  return parts.join(' ');
}

/** The flags that configure only this program (tagged with it in the table). */
export function programOptions(program: ProgramName): string[] {
  return FLAGS.filter((f) => 'program' in f && f.program === program).map((f) => f.name);
}

#!/usr/bin/env node
// ebpf-otel-agent: flags (and EBPF_OTEL_AGENT_* environment variables, and a YAML --config file) → a validated
// configuration → the agent. Precedence: flags > environment > file > defaults.
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { Agent, DEFAULT_BPF_DIR, agentVersion } from './agent.ts';
import { systemClock } from './collector/types.ts';
import { DEFAULTS, resolveConfig, type RawOptions } from './config.ts';
import { UserError } from './errors.ts';
import { createLogger } from './log.ts';
import { reexecArgs } from './runtime.ts';

const PROGRAM = 'ebpf-otel-agent';

const OPTIONS = {
  host: {
    type: 'string',
    default: DEFAULTS.host,
    describe: 'Address to serve /metrics, /healthz and /readyz on',
    group: 'Serving:',
  },
  port: {
    type: 'string',
    default: String(DEFAULTS.port),
    describe: 'Port to serve on (0 picks a free one)',
    group: 'Serving:',
  },
  interval: {
    type: 'string',
    default: DEFAULTS.interval,
    describe: 'How often the BPF maps are read: 500ms, 1s, 5s, 1m',
    group: 'Collection:',
  },
  programs: {
    type: 'string',
    describe:
      'Programs to run, comma-separated: exec, syscalls, xdp [default: exec,syscalls, plus xdp when --xdp-interface is given]',
    group: 'Collection:',
  },
  'cpu-sample-hz': {
    type: 'string',
    default: String(DEFAULTS.cpuSampleHz),
    describe: 'CPU-clock samples per second on every CPU, for the cpu program (99 avoids lockstep with 100 Hz timers)',
    group: 'Collection:',
  },
  'xdp-interface': {
    type: 'string',
    array: true,
    describe: 'Interface to count packets on (repeatable)',
    group: 'XDP:',
  },
  'xdp-mode': {
    type: 'string',
    default: DEFAULTS.xdpMode,
    choices: ['auto', 'native', 'generic'],
    describe: 'XDP attach mode; auto tries native, then generic',
    group: 'XDP:',
  },
  'exec-log': {
    type: 'string',
    describe: 'Write one JSON line per exec to stdout or to this file (reopened on SIGHUP)',
    group: 'Exec:',
  },
  'exec-handler': {
    type: 'string',
    describe: 'Run this program (absolute path) once per exec, with the PID as its argument and EXEC_* variables',
    group: 'Exec:',
  },
  'exec-handler-concurrency': {
    type: 'string',
    default: String(DEFAULTS.execHandlerConcurrency),
    describe: 'Handlers running at once at most',
    group: 'Exec:',
  },
  'exec-handler-rate': {
    type: 'string',
    default: String(DEFAULTS.execHandlerRate),
    describe: 'Handler starts per second (token bucket)',
    group: 'Exec:',
  },
  'exec-handler-burst': {
    type: 'string',
    describe: 'Handler starts allowed at once after a quiet period [default: the rate]',
    group: 'Exec:',
  },
  'exec-handler-timeout': {
    type: 'string',
    default: DEFAULTS.execHandlerTimeout,
    describe: 'Kill a handler (and its process group) running longer',
    group: 'Exec:',
  },
  'exec-filter-comm': {
    type: 'string',
    describe: 'Handle only execs whose executable name matches this regular expression',
    group: 'Exec:',
  },
  'exec-filter-uid': {
    type: 'string',
    array: true,
    describe: 'Handle only execs by this uid (repeatable)',
    group: 'Exec:',
  },
  'exec-only-uid': {
    type: 'string',
    describe: 'In-kernel filter: see only execs by this uid at all (counters included)',
    group: 'Exec:',
  },
  'exec-ring-bytes': {
    type: 'string',
    default: String(DEFAULTS.execRingBytes),
    describe: 'Size of the exec event ring buffer (power of two)',
    group: 'Exec:',
  },
  'syscalls-max-entries': {
    type: 'string',
    default: String(DEFAULTS.syscallsMaxEntries),
    describe: 'Capacity of the syscall maps, in processes (exited ones stay until their final count is published)',
    group: 'Collection:',
  },
  'max-series': {
    type: 'string',
    default: String(DEFAULTS.maxSeries),
    describe:
      'Series per metric that keep their own labels; the least busy beyond it fold into one "other" series per syscall',
    group: 'Cardinality:',
  },
  'pid-labels': {
    type: 'boolean',
    default: true,
    describe: 'Label syscall series by process; --no-pid-labels aggregates them per executable (and container)',
    group: 'Cardinality:',
  },
  'container-labels': {
    type: 'boolean',
    default: true,
    describe: "Add container_id and k8s_pod_uid from each process's cgroup",
    group: 'Attribution:',
  },
  'cgroup-root': {
    type: 'string',
    describe: 'cgroup2 mount to resolve cgroup ids in [default: from /proc/self/mountinfo]',
    group: 'Attribution:',
  },
  'kubelet-url': {
    type: 'string',
    describe:
      'Kubelet whose pod list names pods (k8s_pod_name, k8s_namespace_name); none: off [default: https://$KUBELET_HOST:10250 or https://$NODE_NAME:10250 when set]',
    group: 'Attribution:',
  },
  'kubelet-token-file': {
    type: 'string',
    describe: 'Bearer token for the kubelet [default: the service account token]',
    group: 'Attribution:',
  },
  'kubelet-ca-file': {
    type: 'string',
    describe: "CA that signed the kubelet's serving certificate",
    group: 'Attribution:',
  },
  'kubelet-insecure-skip-verify': {
    type: 'boolean',
    default: false,
    describe: "Do not verify the kubelet's certificate (kubelets often serve a self-signed one)",
    group: 'Attribution:',
  },
  'otlp-endpoint': {
    type: 'string',
    describe: 'Also push metrics over OTLP to this collector URL, e.g. http://localhost:4318',
    group: 'OTLP:',
  },
  'otlp-protocol': {
    type: 'string',
    default: DEFAULTS.otlpProtocol,
    choices: ['http/protobuf', 'grpc'],
    describe: 'OTLP transport',
    group: 'OTLP:',
  },
  'bpf-stats': {
    type: 'boolean',
    default: false,
    describe:
      'Export the run time and runs of each BPF program (BPF_ENABLE_STATS, scoped to the agent; each run costs a little more while on)',
    group: 'Kernel:',
  },
  'btf-path': {
    type: 'string',
    default: DEFAULTS.btfPath,
    describe: 'Kernel BTF for CO-RE relocations',
    group: 'Kernel:',
  },
  'bpf-dir': {
    type: 'string',
    default: DEFAULT_BPF_DIR,
    describe: 'Directory of the compiled BPF objects',
    group: 'Kernel:',
  },
  'mount-tracefs': {
    type: 'boolean',
    default: true,
    describe: 'Mount tracefs at /sys/kernel/tracing when it is missing',
    group: 'Kernel:',
  },
  'log-level': {
    type: 'string',
    default: DEFAULTS.logLevel,
    choices: ['debug', 'info', 'warn', 'error'],
    describe: 'Log level',
    group: 'Logging:',
  },
  'log-format': {
    type: 'string',
    default: DEFAULTS.logFormat,
    choices: ['text', 'json'],
    describe: 'Log format',
    group: 'Logging:',
  },
  'print-config': { type: 'boolean', default: false, describe: 'Print the effective configuration as YAML and exit' },
} as const;

const CONFIG_KEYS = new Set(Object.keys(OPTIONS).filter((k) => k !== 'print-config'));

function camel(key: string): string {
  return key.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** A config file value must have the type of its flag: a mistyped one is an error naming the key. */
function checkType(file: string, key: string, name: string, value: unknown): unknown {
  const option = (OPTIONS as Record<string, { type: string; array?: boolean }>)[name]!;
  const scalar = (v: unknown): boolean => typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));
  if (option.type === 'boolean') {
    if (typeof value !== 'boolean')
      throw new UserError(`config file ${file}: key "${key}" must be true or false, not ${JSON.stringify(value)}`);
    return value;
  }
  if (option.array === true) {
    if (scalar(value) || (Array.isArray(value) && value.every(scalar))) return value;
    throw new UserError(
      `config file ${file}: key "${key}" must be a string or a list of strings, not ${JSON.stringify(value)}`,
    );
  }
  if (!scalar(value))
    throw new UserError(`config file ${file}: key "${key}" must be a single value, not ${JSON.stringify(value)}`);
  return value;
}

/** Reads the YAML --config file; an unknown key is an error naming it. */
export function loadConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UserError(
      `config file ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}): check the --config path`,
    );
  }
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (error) {
    throw new UserError(`config file ${file} is not valid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data))
    throw new UserError(`config file ${file} must be a YAML mapping of option: value`);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(data as Record<string, unknown>)) {
    const name = kebab(key);
    if (!CONFIG_KEYS.has(name))
      throw new UserError(
        `config file ${file}: unknown key ${JSON.stringify(key)} (known: ${[...CONFIG_KEYS].join(', ')})`,
      );
    out[name] = checkType(file, key, name, value);
  }
  return out;
}

export function buildParser(argv: string[]) {
  return yargs(argv)
    .scriptName(PROGRAM)
    .usage(
      '$0 [options]\n\nLoads eBPF programs and serves what they count as OpenTelemetry metrics on /metrics (and OTLP).',
    )
    .options(OPTIONS)
    .option('config', {
      type: 'string',
      describe: 'YAML file with any of the options above (flags win)',
      config: true,
      configParser: loadConfigFile,
    })
    .env('EBPF_OTEL_AGENT')
    .example('$0', 'exec and syscall counters on http://0.0.0.0:9464/metrics')
    .example('$0 --xdp-interface eth0 --interval 1s', 'also count packets received on eth0, read every second')
    .example('$0 --programs syscalls --port 9500 --host 127.0.0.1', 'only syscall counters, on localhost:9500')
    .example('$0 --otlp-endpoint http://localhost:4318', 'also push to an OpenTelemetry Collector over OTLP/HTTP')
    .example('$0 --exec-log /var/log/execs.jsonl', 'log every exec as a JSON line')
    .strict()
    .version(agentVersion())
    .help()
    .wrap(Math.min(120, process.stdout.columns ?? 100))
    .fail((message, error) => {
      throw new UserError(error?.message ?? `${message} (see --help)`, { exitCode: 2 });
    });
}

export function toRawOptions(args: Record<string, unknown>): RawOptions {
  const raw: Record<string, unknown> = {};
  for (const key of CONFIG_KEYS) {
    const value = args[key];
    // A repeated single-valued flag: the last one wins, as in most CLIs. --xdp-interface accumulates.
    const repeatable = (OPTIONS as Record<string, { array?: boolean }>)[key]?.array === true;
    raw[camel(key)] = Array.isArray(value) && !repeatable ? value[value.length - 1] : value;
  }
  return raw as RawOptions;
}

async function main(): Promise<void> {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 24) {
    throw new UserError(
      `Node.js ${process.versions.node} is too old: run with Node 24 (npm start uses the one in node_modules/.bin)`,
    );
  }
  const again = reexecArgs(process.execPath, process.execArgv, process.argv, process.env.NODE_OPTIONS);
  if (again !== undefined && process.execve !== undefined) process.execve(process.execPath, again, process.env);
  const args = (await buildParser(hideBin(process.argv)).parseAsync()) as Record<string, unknown>;
  const config = resolveConfig(toRawOptions(args), DEFAULT_BPF_DIR);
  if (args['print-config'] === true) {
    process.stdout.write(stringifyYaml(Object.fromEntries(Object.entries(config).map(([k, v]) => [kebab(k), v]))));
    return;
  }
  const logger = createLogger(config.logLevel, config.logFormat);
  const agent = new Agent(config, { logger, clock: systemClock });
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info('stopping', { signal });
    const force = setTimeout(() => process.exit(1), 5000);
    force.unref();
    agent.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => agent.reopenLogs());
  await agent.start();
}

/** True when this file is the program being run (also through the npm bin symlink), not an import. */
function isEntryPoint(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

// Run only as the entry point, so tests can import the parser and the config loader.
if (isEntryPoint()) {
  main().catch((error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${PROGRAM}: ${message}\n`);
    // An unexpected error is a bug: keep its stack.
    if (!(error instanceof UserError) && error instanceof Error) process.stderr.write(`${error.stack}\n`);
    process.exit(error instanceof UserError ? error.exitCode : 1);
  });
}

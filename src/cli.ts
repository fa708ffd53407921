#!/usr/bin/env node
// ebpf-otel-agent: flags (and EBPF_OTEL_AGENT_* environment variables, and a YAML --config file) → a validated
// configuration → the agent. Precedence: flags > environment > file > defaults. The flags, their keys, variables,
// defaults and checks are the table in flags.ts; this file reads the sources and runs the agent.
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import yargs, { type Options } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { Agent, DEFAULT_BPF_DIR, agentVersion } from './agent.ts';
import { systemClock } from './collector/types.ts';
import { resolveConfig, type AgentConfig, type RawOptions } from './config.ts';
import { UserError } from './errors.ts';
import {
  ENV_PREFIX,
  FLAGS,
  NON_FLAG_VARIABLES,
  SETTINGS,
  camel,
  envName,
  helpSuffix,
  kebab,
  lookUp,
  type FlagSpec,
} from './flags.ts';
import { createLogger, type LogFormat } from './log.ts';
import { reexecArgs, reexecEnv } from './runtime.ts';

const PROGRAM = 'ebpf-otel-agent';

/** --help's default: the table's value, its computed default's text, or (--bpf-dir) this checkout's directory. */
function helpDefault(spec: FlagSpec): string | undefined {
  if (spec.name === 'bpf-dir') return DEFAULT_BPF_DIR;
  if (spec.defaultText !== undefined) return spec.defaultText.replace(/`/g, '');
  if (spec.default === undefined) return undefined;
  return typeof spec.default === 'string' ? JSON.stringify(spec.default) : String(spec.default);
}

/**
 * The yargs options, from the table. No defaults are given to yargs (--help shows them as text): an option that
 * is undefined after parsing was not on the command line, so the environment and the file can fill it in.
 */
function yargsOptions(): Record<string, Options> {
  const options: Record<string, Options> = {};
  for (const spec of FLAGS as readonly FlagSpec[]) {
    const suffix = helpSuffix(spec);
    options[spec.name] = {
      type: spec.kind === 'boolean' ? 'boolean' : 'string',
      ...(spec.repeatable === true ? { array: true } : {}),
      ...(spec.kind === 'choice' ? { choices: spec.choices } : {}),
      describe: suffix === '' ? spec.describe : `${spec.describe} ${suffix}`,
      group: spec.group,
      defaultDescription: helpDefault(spec),
    };
  }
  return options;
}

/** A list of known names for messages. */
const KNOWN_KEYS = SETTINGS.map((f) => f.name).join(', ');

/** A config file value must have the type of its flag: a mistyped one is an error naming the key. */
function checkType(file: string, key: string, spec: FlagSpec, value: unknown): unknown {
  const scalar = (v: unknown): boolean => typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));
  if (spec.kind === 'boolean') {
    if (typeof value !== 'boolean')
      throw argumentError(`config file ${file}: key "${key}" must be true or false, not ${JSON.stringify(value)}`);
    return value;
  }
  if (spec.kind === 'list') {
    if (scalar(value) || (Array.isArray(value) && value.every(scalar)))
      // A list for a flag given once (programs: [exec, cpu]) is the comma-separated value of that one flag.
      return Array.isArray(value) && spec.repeatable !== true ? value.join(',') : value;
    throw argumentError(
      `config file ${file}: key "${key}" must be a string or a list of strings, not ${JSON.stringify(value)}`,
    );
  }
  if (!scalar(value))
    throw argumentError(`config file ${file}: key "${key}" must be a single value, not ${JSON.stringify(value)}`);
  return value;
}

/** Bad flags, variables or files: exit code 2. */
function argumentError(message: string): UserError {
  return new UserError(message, { exitCode: 2 });
}

/**
 * Puts one source's value of a flag in `out`, inverting the no- form; a flag set twice in one source (e.g.
 * `pid-labels` and `no-pid-labels`) is an error naming both spellings.
 */
function put(
  out: Record<string, unknown>,
  seen: Map<string, string>,
  spelled: string,
  where: string,
  spec: FlagSpec,
  negated: boolean,
  value: unknown,
): void {
  const earlier = seen.get(spec.name);
  if (earlier !== undefined) throw argumentError(`${where}: ${earlier} and ${spelled} both set --${spec.name}`);
  seen.set(spec.name, spelled);
  out[spec.name] = negated ? !(value as boolean) : value;
}

/** Reads the YAML --config file, keyed by flag name; an unknown key is an error naming it. */
export function loadConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw argumentError(
      `config file ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}): check the --config path`,
    );
  }
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (error) {
    throw argumentError(`config file ${file} is not valid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data))
    throw argumentError(`config file ${file} must be a YAML mapping of option: value`);
  const out: Record<string, unknown> = {};
  const seen = new Map<string, string>();
  for (const [key, value] of Object.entries(data as Record<string, unknown>)) {
    const found = lookUp(kebab(key), true);
    if (found === undefined)
      throw argumentError(`config file ${file}: unknown key ${JSON.stringify(key)} (known: ${KNOWN_KEYS})`);
    put(
      out,
      seen,
      `key "${key}"`,
      `config file ${file}`,
      found.spec,
      found.negated,
      checkType(file, key, found.spec, value),
    );
  }
  return out;
}

/** A Kubernetes service link's value (`<SERVICE>_PORT=tcp://10.96.0.10:9464`, `<SERVICE>_PORT_9464_TCP=…`). */
const SERVICE_LINK_VALUE = /^(tcp|udp|sctp):\/\/[^/\s]+:\d+$/;

/**
 * What an EBPF_OTEL_AGENT_* variable is: a flag's (with the flag), or one to ignore with the reason why. The
 * environment is not the user's alone: Kubernetes injects service links for every Service in the namespace (a
 * Service named ebpf-otel-agent gives EBPF_OTEL_AGENT_SERVICE_HOST, EBPF_OTEL_AGENT_PORT=tcp://…), so a
 * variable no flag has is ignored with a warning, not fatal; a flag's variable with a bad value stays an error.
 */
function classifyVariable(
  variable: string,
  value: string,
): { found: NonNullable<ReturnType<typeof lookUp>> } | { ignored: string } {
  const name = variable.slice(ENV_PREFIX.length).toLowerCase().replace(/_/g, '-');
  const found = lookUp(name, false);
  if (found !== undefined && envName(name) === variable) {
    if (SERVICE_LINK_VALUE.test(value) && found.spec.kind !== 'string')
      return { ignored: `${variable}=${value} looks like a Kubernetes service link (set enableServiceLinks: false)` };
    return { found };
  }
  return {
    ignored:
      `${variable}: no flag --${name}` +
      (/_(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT_\d+_(TCP|UDP|SCTP)(_PROTO|_PORT|_ADDR)?)$/.test(variable)
        ? ' (a Kubernetes service link: set enableServiceLinks: false)'
        : ` (the variable of --some-flag is ${envName('some-flag')})`),
  };
}

function agentVariables(env: NodeJS.ProcessEnv): [string, string][] {
  return Object.entries(env).filter(
    (entry): entry is [string, string] =>
      entry[0].startsWith(ENV_PREFIX) && !NON_FLAG_VARIABLES.includes(entry[0]) && entry[1] !== undefined,
  );
}

/** The EBPF_OTEL_AGENT_* variables readEnvironment ignores, each with why: for one warning each at start-up. */
export function ignoredEnvironment(env: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  for (const [variable, value] of agentVariables(env)) {
    const kind = classifyVariable(variable, value);
    if ('ignored' in kind) out.push(kind.ignored);
  }
  return out;
}

/** Reads the EBPF_OTEL_AGENT_* variables of flags, keyed by flag name; others are left to ignoredEnvironment. */
export function readEnvironment(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const seen = new Map<string, string>();
  for (const [variable, value] of agentVariables(env)) {
    const kind = classifyVariable(variable, value);
    if ('ignored' in kind) continue;
    const { found } = kind;
    let parsed: unknown = value;
    if (found.spec.kind === 'boolean') {
      if (value !== 'true' && value !== 'false')
        throw argumentError(
          `environment variable ${variable}=${JSON.stringify(value)} is not valid: use true or false`,
        );
      parsed = value === 'true';
    }
    put(out, seen, variable, 'the environment', found.spec, found.negated, parsed);
  }
  return out;
}

/** yargs's message as one line, unknown flags named as they were typed (once, not also in camelCase). */
function oneLine(message: string, argv: readonly string[]): string {
  const unknown = /^Unknown arguments?: (.*)$/s.exec(message);
  if (unknown === null) return message.replace(/\s*\n\s*/g, ' ');
  const names = unknown[1]!.split(', ');
  const typed = names
    .filter((name) => name === kebab(name) || !names.includes(kebab(name)))
    .map((name) => (argv.some((a) => a === `--no-${name}` || a.startsWith(`--no-${name}=`)) ? `no-${name}` : name));
  return `Unknown argument${typed.length === 1 ? '' : 's'}: ${typed.join(', ')}`;
}

/**
 * The parser: flags from the table, then (for flags not on the command line) the EBPF_OTEL_AGENT_* variables of
 * `env`, then the --config file. Precedence: flags > environment > file > defaults (applied by resolveConfig).
 */
export function buildParser(argv: string[], env: NodeJS.ProcessEnv = process.env) {
  return yargs(argv)
    .scriptName(PROGRAM)
    .usage(
      '$0 [options]\n\nLoads eBPF programs and serves what they count as OpenTelemetry metrics on /metrics (and OTLP).',
    )
    .options(yargsOptions())
    .middleware((args) => {
      const fromEnv = readEnvironment(env);
      const last = (v: unknown): unknown => (Array.isArray(v) ? v[v.length - 1] : v);
      const configFile = last(args.config) ?? fromEnv.config;
      const fromFile = configFile === undefined ? {} : loadConfigFile(String(configFile));
      for (const spec of FLAGS as readonly FlagSpec[]) {
        if (args[spec.name] !== undefined) continue;
        const value = fromEnv[spec.name] ?? fromFile[spec.name];
        if (value === undefined) continue;
        // As yargs gives a repeatable flag: a list, even of one.
        const shaped = spec.repeatable === true && !Array.isArray(value) ? [value] : value;
        args[spec.name] = shaped;
        args[camel(spec.name)] = shaped;
      }
    }, true)
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
      throw argumentError(error?.message ?? `${oneLine(message, argv)} (see --help)`);
    });
}

/** The parsed settings, keyed by camelCase flag name; a repeated single-valued flag: the last one wins. */
export function toRawOptions(args: Record<string, unknown>): RawOptions {
  const raw: Record<string, unknown> = {};
  for (const spec of SETTINGS as readonly FlagSpec[]) {
    const value = args[spec.name];
    raw[camel(spec.name)] = Array.isArray(value) && spec.repeatable !== true ? value[value.length - 1] : value;
  }
  return raw as RawOptions;
}

/** The configuration as a --config file: flag names as keys, values as the flags take them. */
export function printConfig(config: AgentConfig): string {
  const out: Record<string, unknown> = {};
  for (const spec of SETTINGS as readonly FlagSpec[]) {
    const value = config[spec.field!];
    const shaped = spec.format === undefined ? value : spec.format(value);
    if (shaped !== undefined) out[spec.name] = shaped;
  }
  return stringifyYaml(out);
}

/** What the entry point needs to report a fatal error the way the user asked for logs. */
interface Fatal {
  format: LogFormat;
}

/**
 * The log format a command line or environment asks for, read before (and whether or not) they parse, so that a
 * fatal start-up error is a JSON line too with --log-format json. A config file's choice applies once it is read.
 */
export function requestedLogFormat(argv: readonly string[], env: NodeJS.ProcessEnv): LogFormat {
  let format: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--log-format') format = argv[i + 1];
    else if (arg.startsWith('--log-format=')) format = arg.slice('--log-format='.length);
  }
  format ??= env[envName('log-format')];
  return format === 'json' ? 'json' : 'text';
}

/** The one line a fatal error gets on stderr: `ebpf-otel-agent: message`, or a JSON record like the logger's. */
export function fatalLine(message: string, exitCode: number, format: LogFormat, now: Date = new Date()): string {
  if (format === 'json')
    return `${JSON.stringify({ time: now.toISOString(), level: 'error', msg: message, exit_code: exitCode })}\n`;
  return `${PROGRAM}: ${message}\n`;
}

async function main(fatal: Fatal): Promise<void> {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 24) {
    throw new UserError(
      `Node.js ${process.versions.node} is too old: run with Node 24 (npm start uses the one in node_modules/.bin)`,
    );
  }
  const again = reexecArgs(process.execPath, process.execArgv, process.argv, process.env.NODE_OPTIONS);
  if (again !== undefined && process.execve !== undefined)
    process.execve(process.execPath, again, reexecEnv(process.env));
  const args = (await buildParser(hideBin(process.argv)).parseAsync()) as Record<string, unknown>;
  const config = resolveConfig(toRawOptions(args), DEFAULT_BPF_DIR);
  fatal.format = config.logFormat;
  if (args['print-config'] === true) {
    process.stdout.write(printConfig(config));
    return;
  }
  const logger = createLogger(config.logLevel, config.logFormat);
  for (const reason of ignoredEnvironment(process.env)) logger.warn(`ignoring environment variable ${reason}`);
  const agent = new Agent(config, { logger, clock: systemClock });
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info('stopping', { signal });
    const force = setTimeout(() => {
      logger.error('stopping took over 5 s: exiting before everything was closed');
      process.exit(1);
    }, 5000);
    force.unref();
    agent.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    logger.info('SIGHUP: reopening log files');
    agent.reopenLogs();
  });
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
  const fatal: Fatal = { format: requestedLogFormat(hideBin(process.argv), process.env) };
  main(fatal).catch((error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    const exitCode = error instanceof UserError ? error.exitCode : 1;
    // An unexpected error is a bug: keep its stack (in the record, with JSON logs).
    const stack = !(error instanceof UserError) && error instanceof Error ? error.stack : undefined;
    if (fatal.format === 'json' && stack !== undefined) {
      const line = JSON.parse(fatalLine(message, exitCode, 'json')) as Record<string, unknown>;
      process.stderr.write(`${JSON.stringify({ ...line, stack })}\n`);
    } else {
      process.stderr.write(fatalLine(message, exitCode, fatal.format));
      if (stack !== undefined) process.stderr.write(`${stack}\n`);
    }
    process.exit(exitCode);
  });
}

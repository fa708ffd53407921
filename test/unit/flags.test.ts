// The flag table (src/flags.ts) and the one naming rule it gives every flag: YAML key = flag name, variable =
// EBPF_OTEL_AGENT_<NAME>, and for a boolean also the no- form; unknown names reported as they were spelled.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildParser, fatalLine, ignoredEnvironment, requestedLogFormat, toRawOptions } from '../../src/cli.ts';
import { resolveConfig } from '../../src/config.ts';
import { PROGRAM_NAMES } from '../../src/programs/registry.ts';
import { UserError } from '../../src/errors.ts';
import { FLAGS, SETTINGS, camel, envName, type FlagSpec } from '../../src/flags.ts';

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'eoa-flags-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function file(text: string): string {
  const at = path.join(dir, `agent-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(at, text);
  return at;
}

/** Parses with exactly this environment (none of the test runner's EBPF_OTEL_AGENT_* variables). */
async function parse(argv: string[], env: NodeJS.ProcessEnv = {}) {
  return toRawOptions((await buildParser(argv, env).parseAsync()) as Record<string, unknown>);
}

async function parseError(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<UserError> {
  let error: unknown;
  try {
    await buildParser(argv, env).parseAsync();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(UserError);
  expect((error as UserError).message).not.toContain('\n');
  return error as UserError;
}

/** A valid value for each setting, as a flag takes it. */
const SAMPLE: Record<string, string> = {
  host: '127.0.0.1',
  port: '9500',
  interval: '2s',
  programs: 'exec,syscalls,xdp,tc,cpu',
  'cpu-sample-hz': '49',
  'cpu-max-entries': '65536',
  'xdp-interface': 'lo',
  'xdp-mode': 'generic',
  'net-interface': 'lo',
  'net-order': 'first',
  'exec-log': '/tmp/execs.jsonl',
  'exec-handler': '/usr/local/bin/handler',
  'exec-handler-concurrency': '2',
  'exec-handler-rate': '0.5',
  'exec-handler-burst': '3',
  'exec-handler-timeout': '30s',
  'exec-filter-comm': '^curl$',
  'exec-filter-uid': '1000',
  'exec-only-uid': '0',
  'exec-ring-bytes': '8192',
  'syscalls-max-entries': '2048',
  'exclude-self': 'false',
  'max-series': '10',
  'pid-labels': 'false',
  'max-process-series': '200',
  'exited-retention': '30s',
  'scrape-interval': '15s',
  'container-labels': 'false',
  'cgroup-root': '/host/sys/fs/cgroup',
  'kubelet-url': 'https://10.0.0.5:10250',
  'kubelet-token-file': '/tmp/token',
  'kubelet-ca-file': '/tmp/ca.crt',
  'kubelet-insecure-skip-verify': 'true',
  'otlp-endpoint': 'http://localhost:4318',
  'otlp-protocol': 'grpc',
  'otlp-temporality': 'delta',
  'otlp-logs': 'true',
  'bpf-stats': 'true',
  'btf-path': '/tmp/vmlinux',
  'bpf-dir': '/tmp/bpf',
  'mount-tracefs': 'false',
  'log-level': 'debug',
  'log-format': 'json',
};

const resolve = async (argv: string[], env: NodeJS.ProcessEnv = {}) =>
  resolveConfig(await parse(argv, env), '/opt/bpf');

describe('the flag table', () => {
  it('names each flag once, in kebab-case, with a description and a group', () => {
    const names = FLAGS.map((f) => f.name);
    expect(new Set(names).size).toBe(names.length);
    for (const spec of FLAGS as readonly FlagSpec[]) {
      expect(spec.name).toMatch(/^[a-z]+(-[a-z]+)*$/);
      expect(spec.describe.length).toBeGreaterThan(0);
      expect(spec.group).toMatch(/:$/);
      if (spec.kind === 'choice') expect(spec.choices?.length).toBeGreaterThan(0);
    }
  });

  it('has a sample for every setting (so that the tests below cover every flag)', () => {
    expect(Object.keys(SAMPLE).sort()).toEqual(SETTINGS.map((f) => f.name).sort());
  });

  it('takes --programs choices from PROGRAM_NAMES', () => {
    expect(FLAGS.find((f) => f.name === 'programs')?.choices).toBe(PROGRAM_NAMES);
  });
});

describe('one naming rule: flag, YAML key and variable give the same configuration', () => {
  it.each(SETTINGS.map((f) => f.name))('--%s', async (name) => {
    const value = SAMPLE[name]!;
    const needs =
      name === 'programs'
        ? ['--xdp-interface', 'lo', '--net-interface', 'lo']
        : name === 'net-order'
          ? ['--net-interface', 'lo']
          : name.startsWith('xdp-')
            ? ['--xdp-interface', 'lo']
            : name === 'cpu-sample-hz' || name === 'cpu-max-entries'
              ? ['--programs', 'cpu']
              : [];
    const spec = SETTINGS.find((f) => f.name === name)!;
    const fromFlag =
      spec.kind === 'boolean'
        ? await resolve([value === 'true' ? `--${name}` : `--no-${name}`, ...needs])
        : await resolve([`--${name}`, value, ...needs]);
    const yamlValue = spec.kind === 'boolean' ? value : JSON.stringify(value);
    expect(await resolve(['--config', file(`${name}: ${yamlValue}\n`), ...needs])).toEqual(fromFlag);
    expect(await resolve(['--config', file(`${camel(name)}: ${yamlValue}\n`), ...needs])).toEqual(fromFlag);
    expect(await resolve(needs, { [envName(name)]: value })).toEqual(fromFlag);
  });

  it.each(SETTINGS.filter((f) => f.kind === 'boolean').map((f) => f.name))(
    'the boolean --%s also as no- key and variable',
    async (name) => {
      const field = camel(name) as 'pidLabels';
      for (const value of [true, false]) {
        const expected = (await resolve([value ? `--${name}` : `--no-${name}`]))[field];
        expect(expected).toBe(value);
        expect((await resolve(['--config', file(`no-${name}: ${!value}\n`)]))[field]).toBe(value);
        expect((await resolve(['--config', file(`${camel(`no-${name}`)}: ${!value}\n`)]))[field]).toBe(value);
        expect((await resolve(['--config', file(`${name}: ${value}\n`)]))[field]).toBe(value);
        expect((await resolve([], { [envName(`no-${name}`)]: String(!value) }))[field]).toBe(value);
        expect((await resolve([], { [envName(name)]: String(value) }))[field]).toBe(value);
      }
    },
  );

  it('EBPF_OTEL_AGENT_NO_PID_LABELS=true and no-pid-labels: true switch pid labels off', async () => {
    expect((await resolve([], { EBPF_OTEL_AGENT_NO_PID_LABELS: 'true' })).pidLabels).toBe(false);
    expect((await resolve(['--config', file('no-pid-labels: true\n')])).pidLabels).toBe(false);
    expect((await resolve(['--config', file('pid-labels: false\n')])).pidLabels).toBe(false);
  });

  it('keeps the precedence flags > environment > file for the no- forms', async () => {
    const at = file('no-pid-labels: true\n');
    expect((await resolve(['--config', at], { EBPF_OTEL_AGENT_PID_LABELS: 'true' })).pidLabels).toBe(true);
    expect((await resolve(['--config', at, '--pid-labels'], { EBPF_OTEL_AGENT_NO_PID_LABELS: 'true' })).pidLabels).toBe(
      true,
    );
  });

  it('refuses a flag set twice in one source, naming both spellings', async () => {
    const at = file('pid-labels: true\nno-pid-labels: true\n');
    expect((await parseError(['--config', at])).message).toBe(
      `config file ${at}: key "pid-labels" and key "no-pid-labels" both set --pid-labels`,
    );
    const error = await parseError([], { EBPF_OTEL_AGENT_PID_LABELS: 'true', EBPF_OTEL_AGENT_NO_PID_LABELS: 'true' });
    expect(error.message).toBe(
      'the environment: EBPF_OTEL_AGENT_PID_LABELS and EBPF_OTEL_AGENT_NO_PID_LABELS both set --pid-labels',
    );
  });

  it('takes the --config path from EBPF_OTEL_AGENT_CONFIG, and --print-config from its variable', async () => {
    const at = file('max-series: 7\n');
    expect((await parse([], { EBPF_OTEL_AGENT_CONFIG: at })).maxSeries).toBe(7);
    const args = await buildParser([], { EBPF_OTEL_AGENT_PRINT_CONFIG: 'true' }).parseAsync();
    expect(args['print-config']).toBe(true);
  });
});

describe('unknown names are reported as they were spelled, on one line', () => {
  it('ignores an unknown environment variable, with a warning naming it', async () => {
    const env = { EBPF_OTEL_AGENT_BOGUS: '1', EBPF_OTEL_AGENT_Interval: '1s', EBPF_OTEL_AGENT_INTERVAL: '2s' };
    const args = (await buildParser([], env).parseAsync()) as Record<string, unknown>;
    expect(args.interval).toBe('2s');
    expect(ignoredEnvironment(env)).toEqual([
      'EBPF_OTEL_AGENT_BOGUS: no flag --bogus (the variable of --some-flag is EBPF_OTEL_AGENT_SOME_FLAG)',
      'EBPF_OTEL_AGENT_Interval: no flag --interval (the variable of --some-flag is EBPF_OTEL_AGENT_SOME_FLAG)',
    ]);
  });

  // What Kubernetes injects into every pod of a namespace with a Service named ebpf-otel-agent (service links).
  it('ignores Kubernetes service links, also the one named like --port', async () => {
    const env = {
      EBPF_OTEL_AGENT_SERVICE_HOST: '10.96.0.10',
      EBPF_OTEL_AGENT_SERVICE_PORT: '9464',
      EBPF_OTEL_AGENT_SERVICE_PORT_METRICS: '9464',
      EBPF_OTEL_AGENT_PORT: 'tcp://10.96.0.10:9464',
      EBPF_OTEL_AGENT_PORT_9464_TCP: 'tcp://10.96.0.10:9464',
      EBPF_OTEL_AGENT_PORT_9464_TCP_PROTO: 'tcp',
      EBPF_OTEL_AGENT_PORT_9464_TCP_PORT: '9464',
      EBPF_OTEL_AGENT_PORT_9464_TCP_ADDR: '10.96.0.10',
    };
    const args = (await buildParser([], env).parseAsync()) as Record<string, unknown>;
    expect(resolveConfig(toRawOptions(args), '/bpf').port).toBe(9464);
    const ignored = ignoredEnvironment(env);
    expect(ignored).toHaveLength(8);
    for (const reason of ignored) expect(reason).toMatch(/Kubernetes service link/);
    // A flag's variable with a value of its own is still read, and still checked.
    expect(
      ((await buildParser([], { EBPF_OTEL_AGENT_PORT: '9500' }).parseAsync()) as Record<string, unknown>).port,
    ).toBe('9500');
    const bad = (await buildParser([], { EBPF_OTEL_AGENT_PORT: 'http' }).parseAsync()) as Record<string, unknown>;
    expect(() => resolveConfig(toRawOptions(bad), '/bpf')).toThrow(UserError);
  });

  it('names a variable whose boolean value is not true or false', async () => {
    const error = await parseError([], { EBPF_OTEL_AGENT_NO_PID_LABELS: 'yes' });
    expect(error.message).toBe(
      'environment variable EBPF_OTEL_AGENT_NO_PID_LABELS="yes" is not valid: use true or false',
    );
  });

  it('leaves EBPF_OTEL_AGENT_ADDON (the addon path, not a flag) alone', async () => {
    expect(await parse([], { EBPF_OTEL_AGENT_ADDON: '/tmp/addon.node' })).toEqual(await parse([]));
  });

  it('names an unknown no- flag once, as typed', async () => {
    expect((await parseError(['--no-such-flag'])).message).toBe('Unknown argument: no-such-flag (see --help)');
    expect((await parseError(['--bogus', '--other-thing'])).message).toBe(
      'Unknown arguments: bogus, other-thing (see --help)',
    );
  });

  it('puts a value outside the choices on one line', async () => {
    const error = await parseError(['--log-level', 'loud']);
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain('log-level');
    expect(error.message).toContain('"loud"');
  });

  it('checks choices of values from the file and the environment too', async () => {
    expect((await parseError(['--config', file('log-level: loud\n')])).message).toContain('"loud"');
    expect((await parseError([], { EBPF_OTEL_AGENT_XDP_MODE: 'turbo' })).message).toContain('"turbo"');
  });
});

describe('--help', () => {
  const help = async () => buildParser([], {}).getHelp();

  it('lists every flag', async () => {
    const text = await help();
    for (const spec of FLAGS) expect(text).toContain(`--${spec.name} `);
  });

  it('lists every program as a choice of --programs', async () => {
    const text = (await help()).replace(/\s+/g, ' ');
    expect(text).toContain(`[choices: ${PROGRAM_NAMES.join(', ')}]`);
    expect(PROGRAM_NAMES).toContain('cpu');
  });

  it('shows ranges', async () => {
    const text = (await help()).replace(/\s+/g, ' ');
    expect(text).toContain('[range: 100ms to 1h]');
    expect(text).toContain('[range: 1 to 10000]');
    expect(text).toContain('[range: 0 to 65535]');
    expect(text).toContain('[range: above 0 to 100000]');
  });
});

describe('fatal errors in the log format asked for', () => {
  it('reads --log-format from the command line or the environment, before anything parses', () => {
    expect(requestedLogFormat(['--log-format', 'json', '--bogus'], {})).toBe('json');
    expect(requestedLogFormat(['--log-format=json'], {})).toBe('json');
    expect(requestedLogFormat([], { EBPF_OTEL_AGENT_LOG_FORMAT: 'json' })).toBe('json');
    expect(requestedLogFormat(['--log-format', 'text'], { EBPF_OTEL_AGENT_LOG_FORMAT: 'json' })).toBe('text');
    expect(requestedLogFormat([], {})).toBe('text');
  });

  it('writes one line: the program name and the message, or a JSON record', () => {
    const at = new Date('2026-12-01T00:00:00.000Z');
    expect(fatalLine('bad', 2, 'text', at)).toBe('ebpf-otel-agent: bad\n');
    expect(JSON.parse(fatalLine('bad', 2, 'json', at))).toEqual({
      time: '2026-12-01T00:00:00.000Z',
      level: 'error',
      msg: 'bad',
      exit_code: 2,
    });
  });
});

// The CLI's config file loader and flag parser (src/cli.ts), imported without running the agent.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildParser, loadConfigFile, toRawOptions } from '../../src/cli.ts';
import { type RawOptions } from '../../src/config.ts';
import { UserError } from '../../src/errors.ts';
import { SETTINGS, camel } from '../../src/flags.ts';

const KNOWN =
  'host, port, interval, programs, cpu-sample-hz, cpu-max-entries, xdp-interface, xdp-mode, net-interface, net-order, exec-log, exec-handler, exec-handler-concurrency, exec-handler-rate, ' +
  'exec-handler-burst, exec-handler-timeout, exec-filter-comm, exec-filter-uid, exec-only-uid, exec-ring-bytes, ' +
  'syscalls-max-entries, exclude-self, max-series, pid-labels, max-process-series, exited-retention, scrape-interval, ' +
  'container-labels, cgroup-root, kubelet-url, kubelet-token-file, kubelet-ca-file, kubelet-insecure-skip-verify, ' +
  'otlp-endpoint, otlp-protocol, otlp-temporality, otlp-logs, bpf-stats, btf-path, bpf-dir, mount-tracefs, log-level, log-format';

let dir = '';
const savedEnv = new Map<string, string | undefined>();

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'eoa-cli-'));
  // The parser reads EBPF_OTEL_AGENT_* variables: start every test without any.
  for (const key of Object.keys(process.env)) {
    if (key.startsWith('EBPF_OTEL_AGENT')) {
      savedEnv.set(key, process.env[key]);
      delete process.env[key];
    }
  }
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
  for (const key of Object.keys(process.env)) if (key.startsWith('EBPF_OTEL_AGENT')) delete process.env[key];
  for (const [key, value] of savedEnv) if (value !== undefined) process.env[key] = value;
  savedEnv.clear();
});

function file(name: string, text: string): string {
  const at = path.join(dir, name);
  writeFileSync(at, text);
  return at;
}

async function parse(argv: string[]): Promise<RawOptions> {
  return toRawOptions((await buildParser(argv).parseAsync()) as Record<string, unknown>);
}

/** The parser's failure. yargs's .fail() handler throws out of parseAsync() itself, so await it inside try. */
async function parseError(argv: string[]): Promise<UserError> {
  let error: unknown;
  try {
    await buildParser(argv).parseAsync();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(UserError);
  return error as UserError;
}

function loadError(at: string): UserError {
  let error: unknown;
  try {
    loadConfigFile(at);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(UserError);
  return error as UserError;
}

/** What toRawOptions gives with no flags, environment or file: nothing set (resolveConfig applies the defaults). */
const DEFAULT_RAW: RawOptions = Object.fromEntries(SETTINGS.map((f) => [camel(f.name), undefined]));
describe('loadConfigFile', () => {
  it('accepts known keys in kebab-case and camelCase and returns them in kebab-case', () => {
    const at = file(
      'agent.yaml',
      [
        'port: 9500',
        'log-level: debug',
        'logFormat: json',
        'xdpInterface: [eth0, eth1]',
        'mount-tracefs: false',
        'btfPath: /tmp/vmlinux',
        'interval: 1s',
        'otlp-endpoint: http://localhost:4318',
        '',
      ].join('\n'),
    );
    expect(loadConfigFile(at)).toStrictEqual({
      port: 9500,
      'log-level': 'debug',
      'log-format': 'json',
      'xdp-interface': ['eth0', 'eth1'],
      'mount-tracefs': false,
      'btf-path': '/tmp/vmlinux',
      interval: '1s',
      'otlp-endpoint': 'http://localhost:4318',
    });
  });

  it('rejects an unknown key, naming it and the known ones', () => {
    const at = file('agent.yaml', 'port: 1\nbogus: 2\n');
    const error = loadError(at);
    expect(error.message).toBe(`config file ${at}: unknown key "bogus" (known: ${KNOWN})`);
  });

  it.each(['print-config', 'printConfig', 'config', 'xdp_interface', 'Port'])('rejects the key %s', (key) => {
    const at = file('agent.yaml', `${key}: x\n`);
    expect(loadError(at).message).toBe(`config file ${at}: unknown key ${JSON.stringify(key)} (known: ${KNOWN})`);
  });

  it('says a missing file cannot be read', () => {
    const at = path.join(dir, 'missing.yaml');
    expect(loadError(at).message).toBe(`config file ${at} cannot be read (ENOENT): check the --config path`);
  });

  it('says a directory cannot be read', () => {
    expect(loadError(dir).message).toBe(`config file ${dir} cannot be read (EISDIR): check the --config path`);
  });

  it('says invalid YAML is not valid YAML, on one line', () => {
    const at = file('agent.yaml', 'port: [1\n');
    const error = loadError(at);
    expect(error.message).toMatch(
      new RegExp(`^config file ${at.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is not valid YAML: `),
    );
    expect(error.message).not.toContain('\n');
    expect(loadError(file('dup.yaml', 'port: 1\nport: 2\n')).message).toContain(
      'is not valid YAML: Map keys must be unique',
    );
  });

  it('reads an empty file, or one of comments only, as no options', () => {
    expect(loadConfigFile(file('empty.yaml', ''))).toStrictEqual({});
    expect(loadConfigFile(file('comments.yaml', '# nothing here\n\n'))).toStrictEqual({});
  });

  it.each([
    ['a list', '- port\n- 1\n'],
    ['a scalar', 'port\n'],
    ['a number', '9464\n'],
  ])('rejects %s', (_what, text) => {
    const at = file('agent.yaml', text);
    expect(loadError(at).message).toBe(`config file ${at} must be a YAML mapping of option: value`);
  });
});

describe('buildParser and toRawOptions', () => {
  it('gives the defaults without flags', async () => {
    expect(await parse([])).toStrictEqual(DEFAULT_RAW);
  });

  it('keeps the last of a repeated single-valued flag and accumulates --xdp-interface', async () => {
    const raw = await parse(['--port', '1', '--port', '2', '--xdp-interface', 'a', '--xdp-interface', 'b,c']);
    expect(raw.port).toBe('2');
    expect(raw.xdpInterface).toStrictEqual(['a', 'b,c']);
    expect(raw).toStrictEqual({ ...DEFAULT_RAW, port: '2', xdpInterface: ['a', 'b,c'] });
  });

  it('reads kebab-case flags into camelCase options', async () => {
    const raw = await parse([
      '--host',
      '127.0.0.1',
      '--interval',
      '1s',
      '--programs',
      'syscalls,xdp',
      '--xdp-mode',
      'generic',
      '--exec-log',
      '/tmp/execs.jsonl',
      '--otlp-endpoint',
      'http://localhost:4317',
      '--otlp-protocol',
      'grpc',
      '--no-mount-tracefs',
      '--log-level',
      'warn',
      '--log-format',
      'json',
    ]);
    expect(raw).toStrictEqual({
      ...DEFAULT_RAW,
      host: '127.0.0.1',
      interval: '1s',
      programs: 'syscalls,xdp',
      xdpMode: 'generic',
      execLog: '/tmp/execs.jsonl',
      otlpEndpoint: 'http://localhost:4317',
      otlpProtocol: 'grpc',
      mountTracefs: false,
      logLevel: 'warn',
      logFormat: 'json',
    });
  });

  it('reads the cardinality and attribution flags', async () => {
    const raw = await parse([
      '--max-series',
      '100',
      '--no-pid-labels',
      '--no-container-labels',
      '--cgroup-root',
      '/host/sys/fs/cgroup',
      '--kubelet-url',
      'https://10.0.0.5:10250',
      '--kubelet-token-file',
      '/tmp/token',
      '--kubelet-ca-file',
      '/tmp/ca.crt',
      '--kubelet-insecure-skip-verify',
    ]);
    expect(raw).toStrictEqual({
      ...DEFAULT_RAW,
      maxSeries: '100',
      pidLabels: false,
      containerLabels: false,
      cgroupRoot: '/host/sys/fs/cgroup',
      kubeletUrl: 'https://10.0.0.5:10250',
      kubeletTokenFile: '/tmp/token',
      kubeletCaFile: '/tmp/ca.crt',
      kubeletInsecureSkipVerify: true,
    });
  });

  it('takes max-series and pid-labels from --config', async () => {
    const at = file('agent.yaml', 'max-series: 50\npidLabels: false\n');
    expect(await parse(['--config', at])).toMatchObject({ maxSeries: 50, pidLabels: false });
  });

  it('rejects an unknown flag with a UserError of exit code 2', async () => {
    const error = await parseError(['--bogus', '1']);
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain('Unknown argument');
    expect(error.message).toContain('bogus');
  });

  it('rejects a value outside the choices with exit code 2', async () => {
    const error = await parseError(['--log-level', 'loud']);
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain('loud');
  });

  it('uses --config values for absent flags, and flags over them', async () => {
    const at = file('agent.yaml', 'port: 9500\nlogLevel: debug\nxdp-interface: [eth0]\ninterval: 2s\n');
    expect(await parse(['--config', at])).toStrictEqual({
      ...DEFAULT_RAW,
      port: 9500,
      logLevel: 'debug',
      xdpInterface: ['eth0'],
      interval: '2s',
    });
    expect(
      await parse(['--config', at, '--port', '7', '--xdp-interface', 'veth1', '--log-level', 'error']),
    ).toStrictEqual({
      ...DEFAULT_RAW,
      port: '7',
      logLevel: 'error',
      xdpInterface: ['veth1'],
      interval: '2s',
    });
  });

  it('fails with exit code 2 and the loader message for an unknown key in --config', async () => {
    const at = file('agent.yaml', 'bogus: 1\n');
    const error = await parseError(['--config', at]);
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe(`config file ${at}: unknown key "bogus" (known: ${KNOWN})`);
  });

  it('fails with exit code 2 for a missing --config file', async () => {
    const at = path.join(dir, 'missing.yaml');
    const error = await parseError(['--config', at]);
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe(`config file ${at} cannot be read (ENOENT): check the --config path`);
  });

  it('uses EBPF_OTEL_AGENT_INTERVAL, overridden by --interval', async () => {
    process.env.EBPF_OTEL_AGENT_INTERVAL = '9s';
    expect(await parse([])).toStrictEqual({ ...DEFAULT_RAW, interval: '9s' });
    expect((await parse(['--interval', '2s'])).interval).toBe('2s');
  });

  it('puts the environment over the --config file', async () => {
    const at = file('agent.yaml', 'interval: 2s\nport: 9500\n');
    process.env.EBPF_OTEL_AGENT_INTERVAL = '9s';
    process.env.EBPF_OTEL_AGENT_XDP_INTERFACE = 'eth9';
    expect(await parse(['--config', at])).toStrictEqual({
      ...DEFAULT_RAW,
      interval: '9s',
      port: 9500,
      xdpInterface: ['eth9'],
    });
    expect(await parse(['--config', at, '--interval', '3s'])).toStrictEqual({
      ...DEFAULT_RAW,
      interval: '3s',
      port: 9500,
      xdpInterface: ['eth9'],
    });
  });
});

describe('toRawOptions', () => {
  it('maps the known keys to camelCase, takes the last of an array for single-valued keys and ignores the rest', () => {
    expect(
      toRawOptions({
        port: ['1', '2', '3'],
        'xdp-interface': ['a'],
        'log-level': 'debug',
        'print-config': true,
        config: 'x.yaml',
        $0: 'agent',
        _: [],
      }),
    ).toStrictEqual({
      host: undefined,
      port: '3',
      execHandler: undefined,
      execHandlerConcurrency: undefined,
      execHandlerRate: undefined,
      execHandlerBurst: undefined,
      execHandlerTimeout: undefined,
      execFilterComm: undefined,
      execFilterUid: undefined,
      execOnlyUid: undefined,
      bpfStats: undefined,
      cpuSampleHz: undefined,
      cpuMaxEntries: undefined,
      interval: undefined,
      programs: undefined,
      xdpInterface: ['a'],
      xdpMode: undefined,
      netInterface: undefined,
      netOrder: undefined,
      execLog: undefined,
      execRingBytes: undefined,
      syscallsMaxEntries: undefined,
      excludeSelf: undefined,
      maxSeries: undefined,
      pidLabels: undefined,
      maxProcessSeries: undefined,
      exitedRetention: undefined,
      scrapeInterval: undefined,
      containerLabels: undefined,
      cgroupRoot: undefined,
      kubeletUrl: undefined,
      kubeletTokenFile: undefined,
      kubeletCaFile: undefined,
      kubeletInsecureSkipVerify: undefined,
      otlpEndpoint: undefined,
      otlpProtocol: undefined,
      otlpTemporality: undefined,
      otlpLogs: undefined,
      btfPath: undefined,
      bpfDir: undefined,
      mountTracefs: undefined,
      logLevel: 'debug',
      logFormat: undefined,
    });
  });
});

describe('loadConfigFile: value types', () => {
  it.each([
    ['port: [1, 2]\n', 'key "port" must be a single value'],
    ['mount-tracefs: "yes"\n', 'key "mount-tracefs" must be true or false'],
    ['xdp-interface: { name: eth0 }\n', 'key "xdp-interface" must be a string or a list of strings'],
    ['programs: null\n', 'key "programs" must be a string or a list of strings'],
    ['max-series: null\n', 'key "max-series" must be a single value'],
  ])('refuses %j naming the key', (text, message) => {
    const at = file(`typed-${Math.random().toString(36).slice(2)}.yaml`, text);
    expect(() => loadConfigFile(at)).toThrow(message);
  });

  it('reads a list for --programs as its comma-separated value', async () => {
    expect(loadConfigFile(file('programs.yaml', 'programs: [exec, cpu]\n'))).toEqual({ programs: 'exec,cpu' });
    expect((await parse(['--config', file('programs2.yaml', 'programs: [exec, cpu]\n')])).programs).toBe('exec,cpu');
  });

  it('accepts a list or a single string for a repeatable key', () => {
    expect(loadConfigFile(file('list.yaml', 'xdp-interface: [eth0, eth1]\n'))).toEqual({
      'xdp-interface': ['eth0', 'eth1'],
    });
    expect(loadConfigFile(file('one.yaml', 'xdp-interface: eth0\n'))).toEqual({ 'xdp-interface': 'eth0' });
  });
});

// Validation of values and of the whole configuration (src/config.ts): bad input is one UserError line naming it.
// loadConfigFile (src/cli.ts) is not tested here: importing cli.ts runs main(), which calls process.exit.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULTS, parseDuration, parsePort, parsePrograms, resolveConfig, type RawOptions } from '../../src/config.ts';
import { UserError } from '../../src/errors.ts';

/** Runs fn, expects a single-line UserError, and returns its message. */
function userError(fn: () => unknown): string {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(UserError);
  const error = thrown as UserError;
  expect(error.name).toBe('UserError');
  expect(error.exitCode).toBe(1);
  expect(error.message).not.toContain('\n');
  expect(error.message.length).toBeGreaterThan(0);
  return error.message;
}

const BPF_DIR = '/opt/agent/bpf';

afterEach(() => {
  vi.unstubAllEnvs();
});
const resolve = (raw: RawOptions) => resolveConfig(raw, BPF_DIR);

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['100ms', 100],
    ['1s', 1_000],
    ['1.5s', 1_500],
    ['5s', 5_000],
    ['2m', 120_000],
    ['1h', 3_600_000],
    [' 2s ', 2_000],
  ])('%j is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '5', '5x', '-1s', 's', '1.s', '1 s s'])('rejects %j as not a duration', (text) => {
    const message = userError(() => parseDuration(text));
    expect(message).toContain(`--interval ${JSON.stringify(text)} is not a duration`);
  });

  it.each(['50ms', '99ms', '0s', '2h', '61m'])('rejects %j as out of range', (text) => {
    const message = userError(() => parseDuration(text));
    expect(message).toContain(`--interval ${text} is out of range`);
  });

  it('names the flag it was given', () => {
    expect(userError(() => parseDuration('soon', '--timeout'))).toContain('--timeout "soon"');
  });
});

describe('parsePort', () => {
  it.each([
    [0, 0],
    [1, 1],
    [9464, 9464],
    [65535, 65535],
    ['9464', 9464],
    ['0', 0],
  ])('accepts %j', (value, port) => {
    expect(parsePort(value)).toBe(port);
  });

  it.each([
    [-1, '-1'],
    [65536, '65536'],
    ['abc', 'abc'],
    [1.5, '1.5'],
    ['1.5', '1.5'],
    ['', ''],
    ['-1', '-1'],
    [Number.NaN, 'NaN'],
    [undefined, 'undefined'],
  ])('rejects %j', (value, shown) => {
    expect(userError(() => parsePort(value))).toContain(`--port ${shown} is not a port`);
  });
});

describe('parsePrograms', () => {
  it('defaults to exec and syscalls, plus xdp when an interface is given', () => {
    expect(parsePrograms(undefined, [])).toEqual(['exec', 'syscalls']);
    expect(parsePrograms(undefined, ['eth0'])).toEqual(['exec', 'syscalls', 'xdp']);
    expect(parsePrograms(undefined, [], ['pods'])).toEqual(['exec', 'syscalls', 'tc']);
    expect(parsePrograms(undefined, ['eth0'], ['veth*'])).toEqual(['exec', 'syscalls', 'xdp', 'tc']);
  });

  it('takes comma lists and arrays, trims, and removes duplicates keeping first order', () => {
    expect(parsePrograms('syscalls', [])).toEqual(['syscalls']);
    expect(parsePrograms(' xdp , exec,xdp,,', [])).toEqual(['xdp', 'exec']);
    expect(parsePrograms(['syscalls,exec', 'exec', 'syscalls'], [])).toEqual(['syscalls', 'exec']);
  });

  it('names an unknown program', () => {
    const message = userError(() => parsePrograms('exec,cpu,bogus', []));
    expect(message).toContain('unknown program "bogus"');
    expect(message).toContain('exec, syscalls, xdp, tc, cpu');
  });

  it('rejects an empty list', () => {
    expect(userError(() => parsePrograms(' , ', []))).toContain('--programs is empty');
  });
});

describe('resolveConfig', () => {
  it('adds tc when --net-interface is given, and refuses pods without container labels', () => {
    expect(resolve({ netInterface: ['pods', 'eth*'] }).programs).toEqual(['exec', 'syscalls', 'tc']);
    expect(resolve({ netInterface: 'eth0,lxc*' }).netInterfaces).toEqual(['eth0', 'lxc*']);
    expect(userError(() => resolve({ netInterface: 'pods', containerLabels: false }))).toContain(
      '--net-interface pods needs container labels',
    );
    expect(userError(() => resolve({ netInterface: 'eth[0' }))).toContain('is not a valid glob');
  });

  it('fills in the defaults', () => {
    // The kubelet URL defaults from the environment (tested below): without it, pod names are off.
    vi.stubEnv('KUBELET_HOST', '');
    vi.stubEnv('NODE_NAME', '');
    expect(resolve({})).toEqual({
      host: '0.0.0.0',
      port: 9464,
      intervalMs: 5_000,
      programs: ['exec', 'syscalls'],
      xdpInterfaces: [],
      xdpMode: 'auto',
      netInterfaces: [],
      netOrder: 'last',
      execLog: undefined,
      execHandler: undefined,
      execHandlerConcurrency: 4,
      execHandlerRate: 10,
      execHandlerBurst: 10,
      execHandlerTimeoutMs: 10_000,
      execFilterComm: undefined,
      execFilterUids: undefined,
      execOnlyUid: undefined,
      bpfStats: false,
      cpuSampleHz: 99,
      cpuMaxEntries: 32768,
      otlpEndpoint: undefined,
      otlpProtocol: 'http/protobuf',
      otlpTemporality: 'cumulative',
      otlpLogs: false,
      logLevel: 'info',
      logFormat: 'text',
      btfPath: '/sys/kernel/btf/vmlinux',
      bpfDir: BPF_DIR,
      mountTracefs: true,
      tracefsPath: '/sys/kernel/tracing',
      syscallsMaxEntries: 16384,
      excludeSelf: true,
      execRingBytes: 2 * 1024 * 1024,
      maxSeries: 5000,
      pidLabels: true,
      maxProcessSeries: 5000,
      exitedRetentionMs: 120_000,
      scrapeIntervalMs: 60_000,
      containerLabels: true,
      cgroupRoot: undefined,
      kubeletUrl: undefined,
      kubeletTokenFile: undefined,
      kubeletCaFile: undefined,
      kubeletInsecureSkipVerify: false,
    });
    expect(DEFAULTS.port).toBe(9464);
  });

  it('adds xdp when an interface is given, from a repeated flag or a comma list', () => {
    expect(resolve({ xdpInterface: ['eth0', 'veth1'] })).toMatchObject({
      programs: ['exec', 'syscalls', 'xdp'],
      xdpInterfaces: ['eth0', 'veth1'],
    });
    expect(resolve({ xdpInterface: 'eth0,veth1,eth0' }).xdpInterfaces).toEqual(['eth0', 'veth1']);
  });

  it('takes programs as a comma list or an array and removes duplicates', () => {
    expect(resolve({ programs: 'syscalls,syscalls' }).programs).toEqual(['syscalls']);
    expect(resolve({ programs: ['exec', 'syscalls,exec'] }).programs).toEqual(['exec', 'syscalls']);
    expect(resolve({ programs: 'xdp', xdpInterface: 'lo' }).programs).toEqual(['xdp']);
  });

  it('names an unknown program', () => {
    expect(userError(() => resolve({ programs: 'exec,kprobes' }))).toContain('"kprobes"');
  });

  it('refuses xdp without an interface', () => {
    const message = userError(() => resolve({ programs: 'exec,xdp' }));
    expect(message).toContain('xdp');
    expect(message).toContain('--xdp-interface');
  });

  it('refuses an interface without xdp', () => {
    const message = userError(() => resolve({ programs: 'exec', xdpInterface: 'eth0' }));
    expect(message).toContain('--xdp-interface');
    expect(message).toContain('--programs');
  });

  it.each(['a-very-long-interface-name', 'eth 0', 'eth/0'])('refuses the interface name %j', (name) => {
    expect(userError(() => resolve({ xdpInterface: name }))).toContain(JSON.stringify(name));
  });

  it('accepts an exec ring size that is a power of two and a multiple of 4096', () => {
    expect(resolve({ execRingBytes: 4096 }).execRingBytes).toBe(4096);
    expect(resolve({ execRingBytes: '1048576' }).execRingBytes).toBe(1_048_576);
  });

  it.each([6144, 12288, 4097, 5_000_000])('refuses the exec ring size %d (not a power of two)', (bytes) => {
    const message = userError(() => resolve({ execRingBytes: bytes }));
    expect(message).toContain(`--exec-ring-bytes ${bytes}`);
    expect(message).toContain('power of two');
  });

  it.each([2048, 0, -4096, 'big', 1.5, 2 ** 31])(
    'refuses the exec ring size %j (out of range or not an integer)',
    (bytes) => {
      expect(userError(() => resolve({ execRingBytes: bytes }))).toContain(`--exec-ring-bytes ${String(bytes)}`);
    },
  );

  it('accepts http and https OTLP endpoints', () => {
    expect(resolve({ otlpEndpoint: 'http://collector:4318' }).otlpEndpoint).toBe('http://collector:4318');
    expect(resolve({ otlpEndpoint: 'https://collector.example/v1/metrics' }).otlpEndpoint).toBe(
      'https://collector.example/v1/metrics',
    );
    expect(resolve({ otlpEndpoint: '' }).otlpEndpoint).toBeUndefined();
  });

  it.each(['collector:4318x', 'not a url', 'ftp://collector:21', 'file:///tmp/x'])(
    'refuses the OTLP endpoint %j',
    (endpoint) => {
      const message = userError(() => resolve({ otlpEndpoint: endpoint }));
      expect(message).toContain('--otlp-endpoint');
      expect(message).toContain(endpoint);
    },
  );

  it('checks port, interval, modes and levels', () => {
    expect(userError(() => resolve({ port: '70000' }))).toContain('--port 70000');
    expect(userError(() => resolve({ interval: '10ms' }))).toContain('--interval 10ms');
    expect(userError(() => resolve({ xdpMode: 'turbo', xdpInterface: 'eth0' }))).toContain('--xdp-mode "turbo"');
    expect(userError(() => resolve({ otlpProtocol: 'udp' }))).toContain('--otlp-protocol "udp"');
    expect(userError(() => resolve({ logLevel: 'verbose' }))).toContain('--log-level "verbose"');
    expect(userError(() => resolve({ logFormat: 'xml' }))).toContain('--log-format "xml"');
    expect(userError(() => resolve({ host: '' }))).toContain('--host is empty');
    expect(userError(() => resolve({ syscallsMaxEntries: 10 }))).toContain('--syscalls-max-entries 10');
    expect(userError(() => resolve({ programs: 'cpu', cpuMaxEntries: 10 }))).toContain('--cpu-max-entries 10');
    expect(userError(() => resolve({ programs: 'syscalls', cpuMaxEntries: 65536 }))).toContain(
      '--cpu-max-entries is set but cpu is not in --programs',
    );
  });

  it('takes string values as they come from flags and the environment', () => {
    const config = resolve({
      host: '127.0.0.1',
      port: '0',
      interval: '500ms',
      xdpMode: 'generic',
      xdpInterface: 'lo',
      execLog: '/var/log/execs.jsonl',
      logLevel: 'debug',
      logFormat: 'json',
      mountTracefs: 'false',
      syscallsMaxEntries: '1024',
      btfPath: '/tmp/vmlinux',
      bpfDir: '/tmp/bpf',
    });
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 0,
      intervalMs: 500,
      xdpMode: 'generic',
      programs: ['exec', 'syscalls', 'xdp'],
      execLog: '/var/log/execs.jsonl',
      logLevel: 'debug',
      logFormat: 'json',
      mountTracefs: false,
      syscallsMaxEntries: 1024,
      btfPath: '/tmp/vmlinux',
      bpfDir: '/tmp/bpf',
    });
    expect(resolve({ mountTracefs: false }).mountTracefs).toBe(false);
    expect(resolve({ mountTracefs: true }).mountTracefs).toBe(true);
  });
});

describe('resolveConfig: cardinality and attribution', () => {
  it('takes --max-series as an integer from 1 to 10,000,000', () => {
    expect(resolve({ maxSeries: '1' }).maxSeries).toBe(1);
    expect(resolve({ maxSeries: 10_000_000 }).maxSeries).toBe(10_000_000);
  });

  it.each([0, '0', -1, 1.5, '1e3', 'many', 10_000_001])('refuses --max-series %j', (value) => {
    expect(userError(() => resolve({ maxSeries: value }))).toContain(`--max-series ${String(value)}`);
  });

  it('takes booleans as true/false or their strings, and refuses anything else', () => {
    expect(resolve({ pidLabels: false }).pidLabels).toBe(false);
    expect(resolve({ pidLabels: 'false' }).pidLabels).toBe(false);
    expect(resolve({ pidLabels: 'true' }).pidLabels).toBe(true);
    expect(resolve({ containerLabels: 'false' }).containerLabels).toBe(false);
    expect(resolve({ kubeletInsecureSkipVerify: true }).kubeletInsecureSkipVerify).toBe(true);
    expect(userError(() => resolve({ pidLabels: 'yes' }))).toBe('--pid-labels "yes" is not valid: use true or false');
    expect(userError(() => resolve({ mountTracefs: 1 }))).toContain('--mount-tracefs 1');
    expect(userError(() => resolve({ containerLabels: 'no' }))).toContain('--container-labels "no"');
  });

  it('takes the kubelet URL from the flag, KUBELET_HOST or NODE_NAME, and "none" switches it off', () => {
    vi.stubEnv('KUBELET_HOST', '');
    vi.stubEnv('NODE_NAME', '');
    expect(resolve({}).kubeletUrl).toBeUndefined();
    vi.stubEnv('NODE_NAME', 'node-a');
    expect(resolve({}).kubeletUrl).toBe('https://node-a:10250');
    vi.stubEnv('KUBELET_HOST', 'fd00::5');
    expect(resolve({}).kubeletUrl).toBe('https://[fd00::5]:10250');
    expect(resolve({ kubeletUrl: 'https://10.0.0.5:10250/' }).kubeletUrl).toBe('https://10.0.0.5:10250');
    expect(resolve({ kubeletUrl: 'none' }).kubeletUrl).toBeUndefined();
  });

  it.each(['not a url', 'ftp://node:10250'])('refuses the kubelet URL %j', (url) => {
    expect(userError(() => resolve({ kubeletUrl: url }))).toContain('--kubelet-url');
  });

  it('leaves empty paths unset', () => {
    const config = resolve({ cgroupRoot: '', kubeletTokenFile: '/t', kubeletCaFile: undefined });
    expect(config.cgroupRoot).toBeUndefined();
    expect(config.kubeletTokenFile).toBe('/t');
    expect(config.kubeletCaFile).toBeUndefined();
  });
});

// --print-config writes a --config file: flag names as keys, values as the flags take them, so that feeding it back
// to --config gives the same configuration.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { buildParser, printConfig, toRawOptions } from '../../src/cli.ts';
import { resolveConfig } from '../../src/config.ts';
import { SETTINGS } from '../../src/flags.ts';

const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'eoa-print-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** No EBPF_OTEL_AGENT_* variables, and no kubelet fallback, unless given. */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('EBPF_OTEL_AGENT')));
  return { ...env, KUBELET_HOST: '', NODE_NAME: '', ...extra };
}

const resolve = async (argv: string[], env: NodeJS.ProcessEnv) =>
  resolveConfig(toRawOptions((await buildParser(argv, env).parseAsync()) as Record<string, unknown>), '/opt/bpf');

const CASES: Record<string, string[]> = {
  defaults: [],
  everything: [
    '--host=127.0.0.1',
    '--port=0',
    '--interval=1500ms',
    '--programs=cpu,exec,xdp,syscalls',
    '--cpu-sample-hz=49',
    '--cpu-max-entries=65536',
    '--xdp-interface=lo',
    '--xdp-interface=eth0,eth1',
    '--xdp-mode=native',
    '--exec-log=stdout',
    '--exec-handler=/usr/local/bin/on-exec',
    '--exec-handler-concurrency=8',
    '--exec-handler-rate=0.5',
    '--exec-handler-timeout=2m',
    '--exec-filter-comm=^(curl|wget)$',
    '--exec-filter-uid=0',
    '--exec-filter-uid=1000,1001',
    '--exec-only-uid=1000',
    '--exec-ring-bytes=65536',
    '--syscalls-max-entries=4096',
    '--max-series=100',
    '--no-pid-labels',
    '--max-process-series=200',
    '--exited-retention=30s',
    '--scrape-interval=15s',
    '--no-container-labels',
    '--cgroup-root=/host/sys/fs/cgroup',
    '--kubelet-url=https://10.0.0.5:10250/',
    '--kubelet-token-file=/tmp/token',
    '--kubelet-ca-file=/tmp/ca.crt',
    '--kubelet-insecure-skip-verify',
    '--otlp-endpoint=http://localhost:4317',
    '--otlp-protocol=grpc',
    '--otlp-temporality=delta',
    '--bpf-stats',
    '--btf-path=/tmp/vmlinux',
    '--bpf-dir=/tmp/bpf',
    '--no-mount-tracefs',
    '--log-level=warn',
    '--log-format=json',
  ],
  'kubelet off while NODE_NAME is set': ['--kubelet-url=none'],
  'a string that looks like a number': ['--exec-log=10', '--host=1'],
};

describe('--print-config', () => {
  it.each(Object.keys(CASES))('round-trips through --config: %s', async (name) => {
    const env = cleanEnv(name.startsWith('kubelet') ? { NODE_NAME: 'node-a' } : {});
    const config = await resolve(CASES[name]!, env);
    const at = path.join(dir, 'printed.yaml');
    writeFileSync(at, printConfig(config));
    expect(await resolve(['--config', at], env)).toEqual(config);
  });

  it('prints flag names as keys, values as the flags take them', async () => {
    const printed = parseYaml(printConfig(await resolve(CASES.everything!, cleanEnv()))) as Record<string, unknown>;
    const names = SETTINGS.map((f) => f.name);
    expect(Object.keys(printed).every((key) => names.includes(key as (typeof names)[number]))).toBe(true);
    expect(printed).toMatchObject({
      interval: '1500ms',
      programs: 'cpu,exec,xdp,syscalls',
      'xdp-interface': ['lo', 'eth0', 'eth1'],
      'exec-handler-timeout': '2m',
      'exec-filter-comm': '^(curl|wget)$',
      'exec-filter-uid': [0, 1000, 1001],
      'pid-labels': false,
      'kubelet-url': 'https://10.0.0.5:10250',
    });
  });

  it('is accepted by --config unchanged, end to end', () => {
    const run = (args: string[]) =>
      execFileSync(process.execPath, [CLI, ...args], { env: cleanEnv(), encoding: 'utf8', stdio: 'pipe' });
    const printed = run(['--print-config', '--interval', '2s', '--programs', 'exec,cpu', '--exec-filter-uid', '0']);
    const at = path.join(dir, 'printed.yaml');
    writeFileSync(at, printed);
    expect(run(['--config', at, '--print-config'])).toBe(printed);
  });
});

// Bad input: one actionable line on stderr, a non-zero exit, and nothing attached to the kernel.
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentPrograms, expectNoAgentPrograms, root, runAgent } from './harness.ts';

const bpfDir = path.join(root, 'bpf', 'build');

async function expectRefused(
  args: string[],
  pattern: RegExp,
  options: Parameters<typeof runAgent>[1] & { code?: number } = {},
): Promise<string> {
  await expectNoAgentPrograms(); // so that an empty list afterwards means this run attached nothing
  const { code, stderr } = await runAgent(['--port', '0', '--host', '127.0.0.1', ...args], options);
  const lines = stderr.trimEnd().split('\n');
  expect(code, stderr).toBe(options.code ?? 1);
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^ebpf-otel-agent: /);
  expect(lines[0]).toMatch(pattern);
  // Whatever the refused run loaded is gone (the kernel frees a closed program a moment later; one left attached
  // would stay).
  await expectNoAgentPrograms();
  return lines[0]!;
}

describe('bad input', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'eoa-bad-'));
  });
  afterAll(async () => {
    rmSync(tmp, { recursive: true, force: true });
    await expectNoAgentPrograms();
  });

  it('not root: names the missing capabilities', async () => {
    // Run as nobody with no capabilities at all.
    await expectRefused([], /missing capabilities CAP_BPF, CAP_PERFMON.*root/, {
      wrap: [
        'setpriv',
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        '--inh-caps=-all',
        '--bounding-set=-all',
        '--',
      ],
    });
  });

  it('root without CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN: names them', async () => {
    await expectRefused([], /^ebpf-otel-agent: missing capabilities CAP_BPF, CAP_PERFMON /, {
      wrap: ['setpriv', '--inh-caps=-bpf,-perfmon,-sys_admin', '--bounding-set=-bpf,-perfmon,-sys_admin', '--'],
    });
  });

  it('root without CAP_NET_ADMIN, with an XDP interface: names it', async () => {
    await expectRefused(['--xdp-interface', 'lo'], /^ebpf-otel-agent: missing capabilities CAP_NET_ADMIN \(/, {
      wrap: ['setpriv', '--inh-caps=-net_admin', '--bounding-set=-net_admin', '--'],
    });
  });

  it('kernel too old for a program: names the program and the version it needs', async () => {
    await expectRefused(
      ['--xdp-interface', 'lo'],
      /^ebpf-otel-agent: kernel 5\.15\.0-test is too old for program xdp \(needs 5\.18 or later\)/,
      // The preload makes os.release() answer 5.15.0-test inside the agent: no test switch in production code.
      { nodeArgs: ['--import', path.join(root, 'test', 'helpers', 'kernel-release-5.15.mjs')] },
    );
  });

  it('no BTF: suggests --btf-path', async () => {
    await expectRefused(['--btf-path', '/nonexistent/vmlinux'], /no kernel BTF at \/nonexistent\/vmlinux.*--btf-path/);
  });

  it('tracefs unmounted and mounting not allowed: prints the mount command', async () => {
    // A private mount namespace: the host keeps its tracefs.
    const script =
      'umount -l /sys/kernel/tracing 2>/dev/null; umount -l /sys/kernel/debug/tracing 2>/dev/null; exec "$@"';
    await expectRefused(
      ['--no-mount-tracefs'],
      /tracefs is not mounted.*mount -t tracefs nodev \/sys\/kernel\/tracing/,
      {
        wrap: ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', script, 'sh'],
      },
    );
  });

  it('tracefs unmounted: the agent mounts it and runs', async () => {
    // A private mount namespace: the host keeps its tracefs. The agent gets through preflight, mounts tracefs,
    // attaches and serves; it is stopped once it says it started.
    const script =
      'umount -l /sys/kernel/tracing 2>/dev/null; umount -l /sys/kernel/debug/tracing 2>/dev/null; exec "$@"';
    const { code, stderr } = await runAgent(['--port', '0', '--host', '127.0.0.1', '--programs', 'syscalls'], {
      wrap: ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', script, 'sh'],
      stopWhen: /agent started/,
    });
    expect(code, stderr).toBe(0);
    expect(stderr).toMatch(/mounted tracefs/);
    expect(stderr).toMatch(/agent started/);
    await expectNoAgentPrograms();
  });

  it('tracefs unmounted, cpu only, mounting not allowed: the same preflight line as the other programs', async () => {
    const script =
      'umount -l /sys/kernel/tracing 2>/dev/null; umount -l /sys/kernel/debug/tracing 2>/dev/null; exec "$@"';
    await expectRefused(
      ['--programs', 'cpu', '--no-mount-tracefs'],
      /tracefs is not mounted.*mount -t tracefs nodev \/sys\/kernel\/tracing/,
      { wrap: ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', script, 'sh'] },
    );
  });

  // Each of these was accepted without a word.
  it.each([
    [['--cgroup-root', '/nonexistent'], /--cgroup-root \/nonexistent: no such directory .*\/sys\/fs\/cgroup/],
    [['--cgroup-root', '/tmp'], /--cgroup-root \/tmp is not a cgroup2 mount/],
    [['--xdp-interface', ''], /--xdp-interface is empty/],
    [['--programs', 'xdp', '--xdp-interface', 'lo,'], /--xdp-interface is empty/],
    [['--exec-log', ''], /--exec-log is empty/],
    [['--programs', 'syscalls', '--cpu-sample-hz', '49'], /--cpu-sample-hz is set but cpu is not in --programs/],
    [['--programs', 'syscalls', '--cpu-max-entries', '65536'], /--cpu-max-entries is set but cpu is not in --programs/],
    [['--programs', 'cpu', '--cpu-max-entries', '100'], /--cpu-max-entries 100 .*1024/],
    [
      ['--kubelet-url', 'https://127.0.0.1:10250', '--kubelet-token-file', '/nonexistent/token'],
      /--kubelet-token-file \/nonexistent\/token: cannot read it \(ENOENT\)/,
    ],
    [['--btf-path', '/etc/passwd'], /\/etc\/passwd is not a BTF file/],
    [
      ['--programs', 'xdp', '--xdp-interface', 'lo', '--xdp-mode', 'native'],
      /--xdp-mode native: the driver of lo has no native XDP; use --xdp-mode generic/,
    ],
  ] as const)('%j: refused, naming the flag', async (args, pattern) => {
    await expectRefused([...args], pattern);
  });

  it('unknown flag', async () => {
    await expectRefused(['--bogus'], /Unknown argument: bogus/, { code: 2 });
  });

  it('bad duration', async () => {
    await expectRefused(['--interval', '5x'], /--interval "5x" is not a duration/);
  });

  it('port out of range', async () => {
    await expectRefused(['--port', '70000'], /--port 70000 is not a port/);
  });

  it('port in use', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      await expectRefused(['--port', String(port)], new RegExp(`port ${port} on 127.0.0.1 is already in use.*--port`));
    } finally {
      server.close();
    }
  });

  it('unknown program', async () => {
    await expectRefused(['--programs', 'exec,bogus'], /unknown program "bogus"/);
  });

  it('unknown interface', async () => {
    await expectRefused(['--xdp-interface', 'nosuch0'], /network interface nosuch0 does not exist/);
  });

  it('unknown tc interface, also beside one that exists: nothing attached to either', async () => {
    await expectRefused(['--net-interface', 'lo,nosuch0'], /network interface nosuch0 does not exist \(see ip link\)/);
  });

  it.each([
    [['--net-interface', 'eth[0'], /--net-interface "eth\[0" is not a valid glob: "\[" without "\]"/],
    [['--net-interface', 'eth]'], /--net-interface "eth\]" is not a valid glob/],
    [['--net-interface', 'lo,'], /--net-interface has an empty item/],
    [['--net-interface', 'a-very-long-interface'], /is longer than an interface name/],
    [['--programs', 'tc'], /program tc needs interfaces: add --net-interface/],
    [['--programs', 'exec', '--net-interface', 'lo'], /--net-interface is set but tc is not in --programs/],
  ] as const)('%j: refused, naming the flag', async (args, pattern) => {
    await expectRefused([...args], pattern);
  });

  it('BPF object missing', async () => {
    const empty = path.join(tmp, 'empty');
    mkdirSync(empty);
    await expectRefused(['--bpf-dir', empty], /BPF object .*\.bpf\.o is missing/);
  });

  it('BPF object world-writable: refused', async () => {
    const dir = path.join(tmp, 'writable');
    mkdirSync(dir);
    for (const name of ['exec', 'syscalls'])
      copyFileSync(path.join(bpfDir, `${name}.bpf.o`), path.join(dir, `${name}.bpf.o`));
    chmodSync(path.join(dir, 'exec.bpf.o'), 0o666);
    await expectRefused(['--bpf-dir', dir], /exec\.bpf\.o is group- or world-writable.*chmod go-w/);
  });

  it('exec handler in a directory others could write to or own: refused, naming the directory', async () => {
    // The handler itself is root-owned 0755; its directory (under the sticky /tmp, which is accepted) is not safe.
    const handlerIn = (name: string, mode: number): { dir: string; handler: string } => {
      const dir = path.join(tmp, name);
      mkdirSync(dir);
      chmodSync(dir, mode);
      const handler = path.join(dir, 'on-exec.sh');
      writeFileSync(handler, '#!/bin/sh\n');
      chmodSync(handler, 0o755);
      return { dir, handler };
    };
    const open = handlerIn('handler-open', 0o777);
    await expectRefused(
      ['--exec-handler', open.handler],
      new RegExp(
        `--exec-handler ${open.handler}: directory ${open.dir} on its path is group- or world-writable \\(mode 777\\).*chmod go-w ${open.dir}`,
      ),
    );
    const nested = handlerIn('handler-open/nested', 0o755);
    await expectRefused(['--exec-handler', nested.handler], new RegExp(`directory ${open.dir} on its path`));
    const foreign = handlerIn('handler-foreign', 0o755);
    chownSync(foreign.dir, 12345, 12345);
    await expectRefused(
      ['--exec-handler', foreign.handler],
      new RegExp(`--exec-handler ${foreign.handler}: directory ${foreign.dir} on its path is owned by uid 12345`),
    );
  });

  it('config file missing, not YAML, or with an unknown key', async () => {
    await expectRefused(['--config', path.join(tmp, 'none.yaml')], /config file .*none\.yaml cannot be read/, {
      code: 2,
    });
    const bad = path.join(tmp, 'bad.yaml');
    writeFileSync(bad, 'port: [1, 2\n');
    await expectRefused(['--config', bad], /config file .*bad\.yaml is not valid YAML/, { code: 2 });
    const unknown = path.join(tmp, 'unknown.yaml');
    writeFileSync(unknown, 'interval: 1s\nportt: 9000\n');
    await expectRefused(['--config', unknown], /config file .*unknown\.yaml: unknown key "portt"/, { code: 2 });
  });

  it('verifier rejection: shows the tail of the verifier log', async () => {
    // An xdp object with the right maps whose program reads the packet without a bounds check.
    const dir = path.join(tmp, 'verifier');
    mkdirSync(dir);
    const source = path.join(dir, 'xdp.bpf.c');
    writeFileSync(
      source,
      `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "xdp.h"
char LICENSE[] SEC("license") = "GPL";
struct { __uint(type, BPF_MAP_TYPE_PERCPU_HASH); __uint(max_entries, 16); __type(key, struct xdp_key); __type(value, struct xdp_value); } xdp_counts SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); } xdp_drops SEC(".maps");
SEC("xdp") int eoa_xdp(struct xdp_md *ctx) { unsigned char *data = (void *)(long)ctx->data; return data[100] == 7 ? XDP_DROP : XDP_PASS; }
`,
    );
    execFileSync('clang', [
      '-g',
      '-O2',
      '-target',
      'bpf',
      `-I${path.join(root, 'bpf')}`,
      '-I/usr/include/x86_64-linux-gnu',
      '-c',
      source,
      '-o',
      path.join(dir, 'xdp.bpf.o'),
    ]);
    chmodSync(path.join(dir, 'xdp.bpf.o'), 0o644);
    const { code, stderr } = await runAgent([
      '--port',
      '0',
      '--programs',
      'xdp',
      '--xdp-interface',
      'lo',
      '--bpf-dir',
      dir,
    ]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/^ebpf-otel-agent: the kernel verifier rejected a BPF program: cannot load BPF object/);
    expect(stderr).toMatch(/invalid access to packet/);
    expect(agentPrograms()).toEqual([]);
  });

  // Not bad input: the environment a Kubernetes pod gets from a Service named like the agent. It must not kill it.
  it('Kubernetes service links and unknown variables: a warning naming each, and the agent runs', async () => {
    const { code, stderr } = await runAgent(['--port', '0', '--host', '127.0.0.1', '--programs', 'syscalls'], {
      env: {
        ...process.env,
        EBPF_OTEL_AGENT_SERVICE_HOST: '10.96.0.10',
        EBPF_OTEL_AGENT_PORT: 'tcp://10.96.0.10:9464',
        EBPF_OTEL_AGENT_BOGUS: '1',
      },
      stopWhen: /listen=/,
    });
    expect(code, stderr).toBe(0);
    const warnings = stderr.split('\n').filter((line) => line.includes('ignoring environment variable'));
    expect(
      warnings.map((line) => /ignoring environment variable (EBPF_OTEL_AGENT_\w+)/.exec(line)?.[1]).sort(),
    ).toEqual(['EBPF_OTEL_AGENT_BOGUS', 'EBPF_OTEL_AGENT_PORT', 'EBPF_OTEL_AGENT_SERVICE_HOST']);
    await expectNoAgentPrograms();
  });

  it('with --log-format json (flag or variable), a fatal error is one JSON record too', async () => {
    for (const [args, env] of [
      [['--log-format', 'json', '--interval', '0'], process.env],
      [['--interval', '0'], { ...process.env, EBPF_OTEL_AGENT_LOG_FORMAT: 'json' }],
    ] as const) {
      await expectNoAgentPrograms();
      const { code, stderr } = await runAgent(['--port', '0', ...args], { env });
      const lines = stderr.trimEnd().split('\n');
      expect(code, stderr).toBe(1);
      expect(lines, stderr).toHaveLength(1);
      const record = JSON.parse(lines[0]!) as Record<string, unknown>;
      expect(record).toMatchObject({ level: 'error', exit_code: 1, msg: expect.stringMatching(/--interval/) });
      expect(agentPrograms()).toEqual([]);
    }
  });
});

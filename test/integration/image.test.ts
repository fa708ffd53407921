// The container image's contents, built by deploy/build.sh (what deploy/Dockerfile runs; there is no Docker engine
// here): the bundled agent and no node_modules, objects not writable by others, the addon linking only libbpf, libelf and
// zlib beyond libc, and the staged agent serving real data.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoAgentPrograms, parseMetrics, root, total, waitFor } from './harness.ts';

describe('image contents (deploy/build.sh)', () => {
  let out: string;
  beforeAll(() => {
    out = mkdtempSync(path.join(os.tmpdir(), 'eoa-image-'));
    execFileSync(path.join(root, 'deploy', 'build.sh'), [out], { stdio: ['ignore', 'ignore', 'inherit'] });
  }, 300_000);
  afterAll(async () => {
    rmSync(out, { recursive: true, force: true });
    await expectNoAgentPrograms();
  });

  it('holds the bundled agent and its objects, and no node_modules', () => {
    const app = path.join(out, 'app');
    for (const file of [
      'dist/cli.js',
      'bpf/build/syscalls.bpf.o',
      'bpf/build/exec.bpf.o',
      'bpf/build/xdp.bpf.o',
      'native/build/Release/ebpf_addon.node',
    ]) {
      expect(existsSync(path.join(app, file)), file).toBe(true);
    }
    // The bundle inlines every npm dependency: nothing from node_modules, so no build or test tool either.
    expect(existsSync(path.join(app, 'node_modules'))).toBe(false);
    expect(readdirSync(path.join(app, 'dist')).filter((f) => f.endsWith('.map'))).toEqual([]);
    for (const file of ['bpf/build/syscalls.bpf.o', 'dist/cli.js']) {
      expect(statSync(path.join(app, file)).mode & 0o022).toBe(0);
    }
  });

  it('links the addon against libbpf, libelf and zlib only (beyond libc and the C++ runtime)', () => {
    const libs = execFileSync('ldd', [path.join(out, 'app', 'native', 'build', 'Release', 'ebpf_addon.node')], {
      encoding: 'utf8',
    })
      .split('\n')
      .map((line) => /^\s*(\S+\.so[.\d]*)/.exec(line)?.[1])
      .filter((lib): lib is string => lib !== undefined && !lib.startsWith('linux-vdso'))
      .map((lib) => path.basename(lib));
    const allowed = /^(libbpf|libelf|libz|libc|libm|libstdc\+\+|libgcc_s|ld-linux-x86-64)\.so/;
    expect(libs.filter((lib) => !allowed.test(lib))).toEqual([]);
    expect(libs.some((lib) => lib.startsWith('libbpf.so'))).toBe(true);
  });

  it('runs from the staged tree and serves real data', async () => {
    const agent = spawn(
      process.execPath,
      [
        path.join(out, 'app', 'dist', 'cli.js'),
        '--programs',
        'syscalls',
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--interval',
        '500ms',
      ],
      {
        cwd: os.tmpdir(),
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let log = '';
    agent.stderr!.on('data', (c: Buffer) => (log += c.toString()));
    try {
      const port = await waitFor('the staged agent to listen', () => {
        if (agent.exitCode !== null) throw new Error(log);
        return /listen=[^ ]*:(\d+)/.exec(log)?.[1];
      });
      const samples = await waitFor('syscall series', async () => {
        const s = parseMetrics(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
        return total(s, 'ebpf_process_syscalls_total') > 0 ? s : undefined;
      });
      expect(total(samples, 'ebpf_agent_program_attached', { program: 'syscalls' })).toBe(1);
    } finally {
      agent.kill('SIGTERM');
      await once(agent, 'exit');
    }
  });

  // The exporters are lazily loaded chunks of the bundle: each must load and try to connect without node_modules
  // (a dependency the bundler missed fails here with a module or constructor error instead).
  it.each(['http/protobuf', 'grpc'])('loads the OTLP %s exporter from the staged tree', async (protocol) => {
    const agent = spawn(
      process.execPath,
      [
        path.join(out, 'app', 'dist', 'cli.js'),
        ...['--programs', 'exec', '--host', '127.0.0.1', '--port', '0', '--interval', '500ms'],
        ...['--otlp-endpoint', 'http://127.0.0.1:1', '--otlp-protocol', protocol],
      ],
      { cwd: os.tmpdir(), stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let log = '';
    agent.stderr!.on('data', (c: Buffer) => (log += c.toString()));
    try {
      const failure = await waitFor('an OTLP export attempt', () => {
        if (agent.exitCode !== null) throw new Error(log);
        return /OTLP export failed.*error="([^"]*)/.exec(log)?.[1];
      });
      expect(failure).toMatch(/ECONNREFUSED/);
    } finally {
      agent.kill('SIGTERM');
      await once(agent, 'exit');
    }
  });
});

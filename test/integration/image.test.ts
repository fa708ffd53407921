// The container image. Its contents, built by deploy/build.sh (what deploy/Dockerfile's build stage runs): the bundled
// agent and no node_modules, objects not writable by others, the addon linking only libbpf, libelf and zlib beyond
// libc, and the staged agent serving real data. Then the image itself, built by make image (podman, no registry, no
// privilege: bootstrap mounts no tracefs there) and run restricted like the chart's pod: it counts a known workload
// exactly, holds no npm, and leaves no program behind when the container stops.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectCgroup2Root } from '../../src/collector/cgroup.ts';
import {
  expectProgramsGone,
  programsHeldBy,
  expectNoAgentPrograms,
  parseMetrics,
  root,
  syscallerPath,
  total,
  waitFor,
  waitStopped,
  type Sample,
} from './harness.ts';

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

describe('scripts/bootstrap.sh', () => {
  // In its own mount namespace without tracefs: what an image build sees (where mounting fails without CAP_SYS_ADMIN,
  // `mount: /sys/kernel/tracing: permission denied`, and failed every build before build mode existed).
  const tracefsAfter = (mode: string[]): string =>
    execFileSync(
      'unshare',
      [
        '--mount',
        '--propagation',
        'private',
        'sh',
        '-c',
        'umount /sys/kernel/tracing 2>/dev/null; "$@" >/dev/null 2>&1 || exit 1; test -d /sys/kernel/tracing/events && echo mounted || echo unmounted',
        'sh',
        path.join(root, 'scripts', 'bootstrap.sh'),
        ...mode,
      ],
      { encoding: 'utf8' },
    ).trim();

  it('mounts nothing in build mode (what deploy/build.sh runs)', () => {
    expect(tracefsAfter(['build'])).toBe('unmounted');
  });

  it('mounts tracefs on a host that lacks it (no mode: the tests and the benchmarks need it)', () => {
    expect(tracefsAfter([])).toBe('mounted');
  });
});

interface SeccompRule {
  names: string[];
  action: string;
  includes?: { caps?: string[] };
  excludes?: { caps?: string[] };
}

/** podman's default seccomp profile, with bpf allowed by CAP_BPF and perf_event_open by CAP_PERFMON (as containerd's). */
function runtimeDefaultSeccomp(): unknown {
  const profile = JSON.parse(readFileSync('/usr/share/containers/seccomp.json', 'utf8')) as { syscalls: SeccompRule[] };
  const added = { bpf: 'CAP_BPF', perf_event_open: 'CAP_PERFMON' };
  for (const rule of profile.syscalls) {
    // The rule that makes them fail without CAP_SYS_ADMIN would contradict the allowing rules below.
    if (rule.action !== 'SCMP_ACT_ALLOW') rule.names = rule.names.filter((n) => !(n in added));
  }
  for (const [name, cap] of Object.entries(added)) {
    profile.syscalls.push({ names: [name], action: 'SCMP_ACT_ALLOW', includes: { caps: [cap] } });
  }
  return profile;
}

describe('container image (make image)', () => {
  const version = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
  const image = `localhost/ebpf-otel-agent:${version}`;
  const archive = path.join(root, 'build', 'image', 'ebpf-otel-agent.tar');
  const name = `eoa-image-test-${process.pid}`;
  const podmanPath = path.join(root, 'scripts', 'image', 'podman.sh');
  const podman = (...args: string[]): string =>
    execFileSync(podmanPath, args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    }).trim();
  const removeContainer = (): void => {
    try {
      podman('rm', '--force', '--time', '0', name);
    } catch {
      // not there
    }
  };
  let config: string;

  beforeAll(() => {
    // make image, as users and CI run it. Cold (base images, packages, npm ci in the build stage) it takes minutes.
    execFileSync('make', ['-s', 'image'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
    config = mkdtempSync(path.join(os.tmpdir(), 'eoa-image-config-'));
  }, 1_500_000);
  afterAll(async () => {
    removeContainer();
    rmSync(config, { recursive: true, force: true });
    await expectNoAgentPrograms();
  });

  it('runs node on the agent as uid 0, serves on 9464, and carries its version', () => {
    const [inspected] = JSON.parse(podman('image', 'inspect', image)) as {
      Config: {
        Entrypoint: string[];
        User: string;
        ExposedPorts: Record<string, unknown>;
        Labels: Record<string, string>;
      };
    }[];
    expect(inspected!.Config.Entrypoint).toEqual(['/usr/local/bin/node', '/app/dist/cli.js']);
    expect(inspected!.Config.User).toBe('0');
    expect(Object.keys(inspected!.Config.ExposedPorts)).toEqual(['9464/tcp']);
    expect(inspected!.Config.Labels['org.opencontainers.image.version']).toBe(version);
    expect(podman('run', '--rm', '--network', 'none', image, '--version')).toBe(version);
  });

  it('holds node and the agent but no npm, compiler, apt lists or docs', () => {
    const out = podman(
      'run',
      '--rm',
      '--network',
      'none',
      '--entrypoint',
      '/bin/sh',
      image,
      '-c',
      [
        'ls /usr/local/bin',
        'for c in npm npx corepack yarn gcc cc clang; do command -v $c; done',
        'find /usr/local/lib /var/lib/apt/lists /var/cache/apt /usr/share/man /usr/share/locale -mindepth 1',
        'find /usr/share/doc -type f ! -name copyright',
        '/usr/local/bin/node -v',
      ].join('; '),
    );
    const node = (
      JSON.parse(readFileSync(path.join(root, 'node_modules', 'node', 'package.json'), 'utf8')) as {
        version: string;
      }
    ).version;
    expect(out.split('\n')).toEqual(['node', `v${node}`]);
  });

  it('is saved as a docker-archive for other runtimes to import', () => {
    const manifest = JSON.parse(execFileSync('tar', ['-xOf', archive, 'manifest.json'], { encoding: 'utf8' })) as {
      RepoTags: string[];
    }[];
    expect(manifest.map((m) => m.RepoTags).flat()).toEqual([image]);
  });

  it('runs restricted like the pod of the chart, counts a workload exactly, and leaves nothing attached', async () => {
    // The chart's pod: its config file, hostPID, read-only root and host paths, exactly CAP_BPF and CAP_PERFMON, no
    // new privileges, a writable /tmp. The host network here only so that the test reaches it on loopback.
    const cgroup2 = detectCgroup2Root();
    expect(cgroup2, 'a cgroup2 mount').toBeDefined();
    writeFileSync(
      path.join(config, 'config.yaml'),
      [
        'programs: [exec, syscalls]',
        'host: 127.0.0.1',
        'port: 0',
        'interval: 500ms',
        `cgroup-root: /host${cgroup2}`,
        'kubelet-url: none',
      ].join('\n') + '\n',
    );
    // podman's default seccomp profile (containers-common 0.50, Debian bookworm) predates CAP_BPF and CAP_PERFMON: it
    // allows bpf and perf_event_open with CAP_SYS_ADMIN only, so the agent gets EPERM. containerd's and Docker's
    // RuntimeDefault allow them with CAP_BPF and CAP_PERFMON: run with that profile, derived from podman's.
    writeFileSync(path.join(config, 'seccomp.json'), JSON.stringify(runtimeDefaultSeccomp()));
    removeContainer();
    podman(
      'run',
      '--detach',
      '--name',
      name,
      '--read-only',
      '--cap-drop',
      'ALL',
      '--cap-add',
      'BPF',
      '--cap-add',
      'PERFMON',
      '--security-opt',
      'no-new-privileges',
      '--security-opt',
      `seccomp=${path.join(config, 'seccomp.json')}`,
      '--tmpfs',
      '/tmp',
      '--network',
      'host',
      '--pid',
      'host',
      '--volume',
      `${config}:/etc/ebpf-otel-agent:ro`,
      '--volume',
      '/sys/kernel/btf:/sys/kernel/btf:ro',
      '--volume',
      '/sys/kernel/tracing:/sys/kernel/tracing:ro',
      '--volume',
      '/sys/fs/cgroup:/host/sys/fs/cgroup:ro',
      image,
      '--config=/etc/ebpf-otel-agent/config.yaml',
    );
    // podman logs replays the container's stderr (where the agent logs) on its own stderr.
    const logs = (): string => {
      const { stdout, stderr } = spawnSync(podmanPath, ['logs', name], { encoding: 'utf8' });
      return stdout + stderr;
    };
    const port = await waitFor('the agent in the container to listen', () => {
      if (podman('inspect', '--format', '{{.State.Running}}', name) !== 'true') throw new Error(logs());
      return /listen=[^ ]*:(\d+)/.exec(logs())?.[1];
    });
    const base = `http://127.0.0.1:${port}`;
    await waitFor('the agent to be ready', async () =>
      (await fetch(`${base}/readyz`)).status === 200 ? true : undefined,
    );

    // Exactly the capabilities asked for, and no new privileges, for the agent process itself.
    const pid = podman('inspect', '--format', '{{.State.Pid}}', name);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const caps = BigInt(`0x${/^CapEff:\s+(\S+)$/m.exec(status)![1]}`);
    expect(caps).toBe((1n << 38n) | (1n << 39n)); // CAP_PERFMON, CAP_BPF
    expect(/^NoNewPrivs:\s+(\d)$/m.exec(status)![1]).toBe('1');
    // The container's agent is not this test's child (podman's conmon is its parent): its programs are the ones
    // its process holds.
    const held = programsHeldBy(Number(pid));
    expect(held.length).toBeGreaterThan(0);

    // A helper on the host makes exactly N of each counted syscall; the agent sees the host's pids (hostPID).
    const scrape = async (): Promise<Sample[]> => parseMetrics(await (await fetch(`${base}/metrics`)).text());
    const afterPolls = async (n: number): Promise<Sample[]> => {
      const start = total(await scrape(), 'ebpf_agent_polls_total');
      return waitFor(`${n} polls`, async () => {
        const samples = await scrape();
        return total(samples, 'ebpf_agent_polls_total') >= start + n ? samples : undefined;
      });
    };
    const N = 500;
    const helper = spawn(syscallerPath, [String(N)], { stdio: 'ignore' });
    const exited = once(helper, 'exit');
    try {
      await waitStopped(helper.pid!);
      const before = await afterPolls(2);
      helper.kill('SIGCONT');
      await waitStopped(helper.pid!);
      const after = await afterPolls(2);
      for (const syscall of ['openat', 'read', 'write', 'connect']) {
        const labels = { process_pid: String(helper.pid), syscall };
        const delta =
          total(after, 'ebpf_process_syscalls_total', labels) - total(before, 'ebpf_process_syscalls_total', labels);
        expect(delta, syscall).toBe(N);
      }
      expect(total(after, 'ebpf_agent_program_attached', { program: 'syscalls' })).toBe(1);
      expect(total(after, 'ebpf_agent_program_attached', { program: 'exec' })).toBe(1);
      helper.kill('SIGCONT');
      expect((await exited)[0]).toBe(0);
    } finally {
      helper.kill('SIGKILL');
    }

    // podman stop sends SIGTERM, as the kubelet does: the agent detaches and exits 0.
    podman('stop', '--time', '10', name);
    await expectProgramsGone(held);
    expect(podman('inspect', '--format', '{{.State.ExitCode}}', name)).toBe('0');
    removeContainer();
    await expectNoAgentPrograms();
  });
});

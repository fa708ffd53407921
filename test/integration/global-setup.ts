// Integration tests need root, the built BPF objects and addon, and the workload helper compiled. And they must
// hold on a node where another agent already runs: one is started here on purpose, outside the test run's process
// tree, for the whole run (see startForeignAgent).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { expectProgramsGone, programsHeldBy, waitFor } from './harness.ts';
import { buildStaticC } from '../helpers/static-c.ts';

const root = path.resolve(import.meta.dirname, '..', '..');

/** The agent the run starts on purpose as "another agent on this node" (test/integration/foreign-agent.test.ts). */
export interface ForeignAgent {
  pid: number;
  port: number;
  /** The eoa_* programs it holds, found once it was ready. */
  programs: number[];
}

declare module 'vitest' {
  export interface ProvidedContext {
    foreignAgent: ForeignAgent;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (process.getuid?.() !== 0) {
    throw new Error('integration tests load BPF programs into the kernel: run them as root (sudo npm test)');
  }
  for (const file of [
    'bpf/build/syscalls.bpf.o',
    'bpf/build/exec.bpf.o',
    'bpf/build/xdp.bpf.o',
    'native/build/Release/ebpf_addon.node',
  ]) {
    if (!existsSync(path.join(root, file))) throw new Error(`${file} is missing: run npm run build first`);
  }
  // libbpf needs tracefs to attach tracepoints, and a fresh machine has it unmounted. The agent mounts it itself, but
  // several tests load programs without it (or run it with --no-mount-tracefs), and scripts/bootstrap.sh may not have
  // run (or ran in its build mode, which mounts nothing).
  if (!existsSync('/sys/kernel/tracing/events')) {
    execFileSync('mount', ['-t', 'tracefs', 'nodev', '/sys/kernel/tracing'], { stdio: 'inherit' });
  }
  // The tests run the bundled agent, as npm start does: bundle the current sources.
  execFileSync(process.execPath, [path.join(root, 'scripts', 'bundle.ts')], { stdio: 'inherit' });
  const out = path.join(root, 'test', 'helpers', 'build');
  mkdirSync(out, { recursive: true });
  buildStaticC('test/helpers/syscaller.c', path.join(out, 'syscaller'));
  // The k8s test's network workload (a pod that echoes UDP datagrams), static for a FROM-scratch image.
  buildStaticC('test/helpers/udp-echo.c', path.join(out, 'udp-echo'));
  const foreign = await startForeignAgent();
  project.provide('foreignAgent', foreign.agent);
  return foreign.stop;
}

/**
 * Starts an agent the tests did not start, as one already running on the node would be: not a descendant of the
 * test run (test/helpers/foreign-agent.sh detaches it), with the programs the tests load themselves. Every test
 * file's checks that nothing of its own is left in the kernel (harness.ts agentPrograms, which names such other
 * agents once per file) then run beside it. Stopped by the returned teardown, which vitest runs also when tests
 * fail, and which checks that it left nothing loaded; should the run die first, its watchdog stops it.
 */
async function startForeignAgent(): Promise<{ agent: ForeignAgent; stop: () => Promise<void> }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'eoa-foreign-agent-'));
  const log = path.join(dir, 'agent.log');
  const pidFile = path.join(dir, 'pid');
  const args = ['--host', '127.0.0.1', '--port', '0', '--programs', 'exec,syscalls,cpu', '--cpu-sample-hz', '19'];
  execFileSync(path.join(root, 'test', 'helpers', 'foreign-agent.sh'), [
    String(process.pid),
    log,
    pidFile,
    process.execPath,
    path.join(root, 'dist', 'cli.js'),
    ...args,
  ]);
  const tail = (): string =>
    existsSync(log) ? readFileSync(log, 'utf8').trimEnd().split('\n').slice(-5).join('\n') : '';
  const alive = (pid: number): boolean => existsSync(`/proc/${pid}`);
  let pid: number | undefined;
  const stop = async (): Promise<void> => {
    try {
      if (pid === undefined) return;
      const held = programsHeldBy(pid);
      if (alive(pid)) process.kill(pid, 'SIGTERM');
      await waitFor('the foreign agent to exit', () => (alive(pid!) ? undefined : true), 10_000).catch(() => {
        if (alive(pid!)) process.kill(pid!, 'SIGKILL');
      });
      await waitFor('the foreign agent to exit after SIGKILL', () => (alive(pid!) ? undefined : true), 5_000);
      await expectProgramsGone(held);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  try {
    pid = await waitFor('the foreign agent to start', () =>
      existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : undefined,
    );
    const port = await waitFor(
      'the foreign agent to listen',
      () => {
        if (!alive(pid!)) throw new Error(`the foreign agent exited: ${tail()}`);
        const match = /listen=[^ ]*:(\d+)/.exec(readFileSync(log, 'utf8'));
        return match === null ? undefined : Number(match[1]);
      },
      30_000,
    );
    await waitFor(
      'the foreign agent to be ready',
      async () =>
        (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200 ? true : undefined,
      30_000,
    );
    const programs = programsHeldBy(pid);
    if (programs.length === 0) throw new Error(`the foreign agent ${pid} holds no eoa_* program: ${tail()}`);
    console.log(
      `global setup: a foreign agent runs for the whole run (pid ${pid}, ${programs.length} programs, port ${port}), as another agent on this node would; the tests must leave it alone`,
    );
    return { agent: { pid, port, programs }, stop };
  } catch (error) {
    const output = tail();
    await stop();
    throw new Error(`could not start the foreign agent (${(error as Error).message}): ${output}`, { cause: error });
  }
}

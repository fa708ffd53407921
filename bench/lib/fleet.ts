// What the scrape and steady-state benchmarks run against: the bundled agent (dist/cli.js) and a fleet of live
// helper processes (test/helpers/syscaller.c) that each made exactly one openat, read, write and connect call and
// then stay stopped: 4 `ebpf_process_syscalls_total` series per process, unchanging, for as long as the fleet lives.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const root = path.resolve(import.meta.dirname, '..', '..');
const helper = path.join(root, 'test', 'helpers', 'build', 'syscaller');

const children = new Set<ChildProcess>();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    for (const child of children) child.kill('SIGKILL');
    process.exit(130);
  });
}
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface Agent {
  pid: number;
  port: number;
  url: string;
  log: () => string;
  stop: () => Promise<void>;
}

/** Starts the bundled agent with these flags (plus a free port on loopback) and waits until it is ready. */
export async function startAgent(args: string[], nodeFlags: string[] = []): Promise<Agent> {
  const child = track(
    spawn(
      process.execPath,
      [...nodeFlags, path.join(root, 'dist', 'cli.js'), '--host', '127.0.0.1', '--port', '0', ...args],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    ),
  );
  let log = '';
  child.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  await until('the agent to listen', () => {
    if (child.exitCode !== null) throw new Error(`the agent exited:\n${log}`);
    return /listen=[^ ]*:(\d+)/.test(log);
  });
  const port = Number(/listen=[^ ]*:(\d+)/.exec(log)![1]);
  const url = `http://127.0.0.1:${port}`;
  await until('the agent to be ready', async () => (await fetch(`${url}/readyz`)).ok);
  return {
    pid: child.pid!,
    port,
    url,
    log: () => log,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export function buildHelper(): void {
  execFileSync('mkdir', ['-p', path.dirname(helper)]);
  execFileSync('gcc', ['-O2', '-static', '-o', helper, path.join(root, 'test', 'helpers', 'syscaller.c')]);
}

function state(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return 'gone';
  }
}

export interface Fleet {
  size: number;
  kill: () => Promise<void>;
}

/** Starts `size` helper processes, lets each make its four calls, and leaves them stopped. */
export async function startFleet(size: number): Promise<Fleet> {
  const fleet: ChildProcess[] = [];
  for (let i = 0; i < size; i++) {
    fleet.push(track(spawn(helper, ['1'], { stdio: 'ignore' })));
    // Let the batch reach its first stop before starting more: bounds runnable processes on 2 CPUs.
    if (i % 500 === 499) await until('helpers to start', () => fleet.every((h) => h.pid !== undefined));
  }
  await until('helpers to stop', () => fleet.every((h) => state(h.pid!) === 'T'), 600_000);
  for (const h of fleet) h.kill('SIGCONT');
  // Each helper stops again after its calls.
  await new Promise((r) => setTimeout(r, 200));
  await until('helpers to make their calls', () => fleet.every((h) => state(h.pid!) === 'T'), 600_000);
  return {
    size,
    kill: async () => {
      const exits = fleet
        .filter((h) => h.exitCode === null && h.signalCode === null)
        .map((h) => new Promise((r) => h.once('exit', r)));
      for (const h of fleet) h.kill('SIGKILL');
      await Promise.all(exits);
    },
  };
}

/** The number of ebpf_process_syscalls_total series the agent serves now. */
export async function syscallSeries(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let n = 0;
  for (const line of text.split('\n')) if (line.startsWith('ebpf_process_syscalls_total{')) n++;
  return n;
}

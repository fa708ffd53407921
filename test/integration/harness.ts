// Helpers for integration tests: start the real agent (the CLI, as users run it), scrape it, and find what it
// left in the kernel.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';

export const root = path.resolve(import.meta.dirname, '..', '..');
export const syscallerPath = path.join(root, 'test', 'helpers', 'build', 'syscaller');
export const udpEchoPath = path.join(root, 'test', 'helpers', 'build', 'udp-echo');
export const injectPath = path.join(root, 'test', 'helpers', 'inject.py');
/** The agent as `npm start` runs it: the compiled CLI (global-setup compiles it first). */
export const cliPath = path.join(root, 'dist', 'cli.js');

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text format lines into samples (comments skipped). */
export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)$/.exec(line);
    if (match === null) throw new Error(`unparsable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    const body = match[3] ?? '';
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
    for (let m = re.exec(body); m !== null; m = re.exec(body)) {
      labels[m[1]!] = m[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    samples.push({ name: match[1]!, labels, value: Number(match[4]) });
  }
  return samples;
}

/** Sum of the samples of `name` whose labels include all of `labels`. */
export function total(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

export function seriesOf(samples: Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns a value other than undefined, or throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

export interface RunningAgent {
  process: ChildProcess;
  port: number;
  stderr(): string;
  scrape(): Promise<Sample[]>;
  scrapeText(): Promise<string>;
  /** Waits until the agent has completed `n` more polls than now. */
  waitPolls(n: number): Promise<Sample[]>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Set<ChildProcess>();

/** Where startAgent runs the agent: a network namespace (`ip netns exec`), listening on an address of it. */
export interface AgentPlace {
  netns: string;
  /** An address of the namespace the test's own namespace reaches (e.g. the far end of a veth pair). */
  host: string;
}

/** Starts the agent CLI on a free port and waits until /readyz says ready. */
export async function startAgent(args: string[], place?: AgentPlace): Promise<RunningAgent> {
  const agentArgs = [cliPath, '--host', place?.host ?? '127.0.0.1', '--port', '0', ...args];
  // `ip netns exec` execs the command in place: the child's pid is the agent's.
  const [command, commandArgs] =
    place === undefined
      ? [process.execPath, agentArgs]
      : ['ip', ['netns', 'exec', place.netns, process.execPath, ...agentArgs]];
  const child = spawn(command, commandArgs, {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout!.resume();
  const exited = once(child, 'exit');
  const port = await waitFor('the agent to listen', () => {
    if (child.exitCode !== null) throw new Error(`agent exited with ${child.exitCode}: ${stderr}`);
    const match = /listen=[^ ]*:(\d+)/.exec(stderr);
    return match === null ? undefined : Number(match[1]);
  });
  const base = `http://${place?.host ?? '127.0.0.1'}:${port}`;
  const scrapeText = async (): Promise<string> => {
    const res = await fetch(`${base}/metrics`);
    if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
    return res.text();
  };
  const scrape = async (): Promise<Sample[]> => parseMetrics(await scrapeText());
  await waitFor('the agent to be ready', async () =>
    (await fetch(`${base}/readyz`)).status === 200 ? true : undefined,
  );
  const agent: RunningAgent = {
    process: child,
    port,
    stderr: () => stderr,
    scrape,
    scrapeText,
    async waitPolls(n) {
      const start = total(await scrape(), 'ebpf_agent_polls_total');
      let samples: Sample[] = [];
      await waitFor(`${n} polls`, async () => {
        samples = await scrape();
        return total(samples, 'ebpf_agent_polls_total') >= start + n ? true : undefined;
      });
      return samples;
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const [code, sig] = (await exited) as [number | null, NodeJS.Signals | null];
      running.delete(child);
      return { code, signal: sig };
    },
  };
  return agent;
}

/** Kills agents a failed test left running. */
export async function killAllAgents(): Promise<void> {
  for (const child of running) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit').catch(() => undefined);
    }
  }
  running.clear();
}

/** Runs the agent CLI to completion (for bad-input cases). */
export function runAgent(
  args: string[],
  options: {
    wrap?: string[];
    env?: NodeJS.ProcessEnv;
    timeoutMs?: number;
    /** Node options before the CLI, e.g. a test preload: ['--import', file]. */
    nodeArgs?: string[];
    /** SIGTERM the agent once its stderr matches (for runs that would serve forever). */
    stopWhen?: RegExp;
  } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const command = [...(options.wrap ?? []), process.execPath, ...(options.nodeArgs ?? []), cliPath, ...args];
  const child = spawn(command[0]!, command.slice(1), {
    cwd: root,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
    if (options.stopWhen?.test(stderr) === true) child.kill('SIGTERM');
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
  return once(child, 'exit').then(([code]) => {
    clearTimeout(timer);
    return { code: code as number | null, stdout, stderr };
  });
}

interface BpftoolProg {
  id: number;
  name?: string;
  type: string;
}

/** The parent pid of `pid` (undefined once it is gone). */
function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/** Is `pid` this test process or one of its descendants (an agent it started, directly or through a wrapper)? */
function isOurs(pid: number): boolean {
  for (let p: number | undefined = pid, hops = 0; p !== undefined && p > 1 && hops < 64; hops++) {
    if (p === process.pid) return true;
    p = parentOf(p);
  }
  return false;
}

/** Program id → pids holding it open (a program or link fd), from every process's fdinfo. */
function programHolders(): Map<number, Set<number>> {
  const holders = new Map<number, Set<number>>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
        if (target !== 'anon_inode:bpf-prog' && target !== 'anon_inode:bpf_link') continue;
        const id = /^prog_id:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))?.[1];
        if (id === undefined) continue;
        const set = holders.get(Number(id)) ?? new Set<number>();
        set.add(pid);
        holders.set(Number(id), set);
      } catch {
        // closed meanwhile
      }
    }
  }
  return holders;
}

let othersNoted = false;

/**
 * IDs of loaded agent programs (names starting with eoa_) that are this test's: held by processes it started, or
 * by no process at all (left behind). Programs held only by other processes — an agent already running on this
 * node, another test run — are not this test's business; they are named once on stderr.
 */
export function agentPrograms(): number[] {
  const progs = JSON.parse(execFileSync('bpftool', ['prog', 'show', '--json'], { encoding: 'utf8' })) as BpftoolProg[];
  const agents = progs.filter((p) => p.name?.startsWith('eoa_') === true);
  if (agents.length === 0) return [];
  const holders = programHolders();
  const ours: number[] = [];
  const others = new Set<number>();
  for (const prog of agents) {
    const pids = [...(holders.get(prog.id) ?? [])];
    if (pids.length > 0 && !pids.some(isOurs)) for (const pid of pids) others.add(pid);
    else ours.push(prog.id);
  }
  if (others.size > 0 && !othersNoted) {
    othersNoted = true;
    const who = [...others].map((pid) => `${pid} (${commandOf(pid)})`).join(', ');
    console.warn(`note: eoa_* programs of other processes are loaded (pids ${who}); the tests leave them alone`);
  }
  return ours;
}

/** IDs of the agent programs (eoa_*) that process `pid` holds open: an agent this test did not start, say in a pod. */
export function programsHeldBy(pid: number): number[] {
  const progs = JSON.parse(execFileSync('bpftool', ['prog', 'show', '--json'], { encoding: 'utf8' })) as BpftoolProg[];
  const holders = programHolders();
  return progs
    .filter((p) => p.name?.startsWith('eoa_') === true && holders.get(p.id)?.has(pid) === true)
    .map((p) => p.id);
}

/** Waits until none of these programs is loaded any more. */
export async function expectProgramsGone(ids: readonly number[]): Promise<void> {
  const loaded = (): number[] => {
    const progs = JSON.parse(
      execFileSync('bpftool', ['prog', 'show', '--json'], { encoding: 'utf8' }),
    ) as BpftoolProg[];
    return progs.map((p) => p.id).filter((id) => ids.includes(id));
  };
  await waitFor(`programs ${ids.join(', ')} to be unloaded`, () => (loaded().length === 0 ? true : undefined), 30_000);
}

/** What process `pid` runs, to name it: its executable's base name and arguments (cut), or its comm. */
function commandOf(pid: number): string {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    let exe = argv[0] ?? '';
    try {
      exe = readlinkSync(`/proc/${pid}/exe`);
    } catch {
      // a kernel thread, or gone
    }
    const text = [path.basename(exe), ...argv.slice(1)].join(' ');
    if (argv.length > 0) return text.length > 120 ? `${text.slice(0, 119)}…` : text;
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
}

/** Waits until no agent program is loaded (the kernel frees programs shortly after their last fd closes). */
export async function expectNoAgentPrograms(): Promise<void> {
  await waitFor('the agent programs to be unloaded', () => (agentPrograms().length === 0 ? true : undefined), 10_000);
}

/** Process RSS in KiB. */
export function rssKiB(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match === null ? 0 : Number(match[1]);
}

/** Waits until the process is stopped (SIGSTOP): state T in /proc/<pid>/stat. */
export async function waitStopped(pid: number): Promise<void> {
  await waitFor(`process ${pid} to stop`, () => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'T' ? true : undefined;
  });
}

export function sh(command: string, args: string[]): string {
  return execFileSync(command, args, { encoding: 'utf8' });
}

// What bench/fidelity.ts measures with: a fleet of stopped helper processes started by a small C program
// (bench/lib/fidelity-helper.c: fork + exec in batches is about 20× faster than spawn() from Node, and it reaps
// what it starts), kubelet-style container cgroups, and readers of the agent's series, memory and poll time.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { root } from './fleet.ts';
import { buildStaticC } from '../../test/helpers/static-c.ts';

export const HELPER = path.join(root, 'test', 'helpers', 'build', 'fidelity-helper');
export const SYSCALLER = path.join(root, 'test', 'helpers', 'build', 'syscaller');

export function buildFidelityHelper(): void {
  buildStaticC('bench/lib/fidelity-helper.c', HELPER);
}

const WORKLOAD_LABEL = 'process_executable_name="syscaller"';

/** The four metrics of the two views, by their Prometheus names. */
export const VIEW_METRICS = [
  'ebpf_syscalls_total',
  'ebpf_process_syscalls_total',
  'ebpf_cpu_samples_total',
  'ebpf_process_cpu_samples_total',
] as const;
export type ViewMetric = (typeof VIEW_METRICS)[number];

export interface SeriesCount {
  /** Lines of the metric in /metrics whose labels are not `other`. */
  own: number;
  /** Lines with an `other` label (the budget's overflow series). */
  other: number;
  /** ebpf_agent_series{metric} at the same scrape. */
  gauge: number;
  /** Lines of the benchmark's own workload (process_executable_name="syscaller"), the rest being the host's. */
  workload: number;
}

export interface Sample {
  atMs: number;
  series: Record<ViewMetric, SeriesCount>;
  /** ebpf_agent_poll_duration_seconds sum and count (cumulative). */
  pollSum: number;
  pollCount: number;
  /** ebpf_agent_map_entries of the syscall counts map. */
  syscallMapEntries: number;
  /** ebpf_agent_series_folded_total, all metrics. */
  folded: number;
  /**
   * Per-process series of the workload whose process_pid no longer exists (exited processes, published for
   * --exited-retention; after it, none should be left).
   */
  exitedPids: { syscalls: number; cpu: number };
  /** ebpf_agent_events_lost_total + ebpf_agent_map_updates_dropped_total, all programs. */
  lost: number;
  rssMiB: number;
  hwmMiB: number;
  /** Bytes of the /metrics body. */
  bytes: number;
}

/** VmRSS and VmHWM (the peak of VmRSS) of a process, in MiB. */
export function memory(pid: number): { rssMiB: number; hwmMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1] ?? 0);
  return { rssMiB: kb('VmRSS') / 1024, hwmMiB: kb('VmHWM') / 1024 };
}

function labelsOf(line: string): string {
  const open = line.indexOf('{');
  return open < 0 ? '' : line.slice(open + 1, line.lastIndexOf('}'));
}

function valueOf(line: string): number {
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** One scrape of /metrics (and the agent's memory right after it), reduced to what the benchmark reports. */
export async function sample(url: string, pid: number): Promise<Sample> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const series = Object.fromEntries(
    VIEW_METRICS.map((m) => [m, { own: 0, other: 0, gauge: 0, workload: 0 }]),
  ) as Record<ViewMetric, SeriesCount>;
  let pollSum = 0;
  let pollCount = 0;
  let syscallMapEntries = 0;
  let folded = 0;
  let lost = 0;
  const pids = { syscalls: new Set<string>(), cpu: new Set<string>() };
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const name = line.slice(0, Math.min(...[line.indexOf('{'), line.indexOf(' ')].filter((i) => i >= 0)));
    if ((VIEW_METRICS as readonly string[]).includes(name)) {
      const count = series[name as ViewMetric];
      const labels = labelsOf(line);
      if (/="other"/.test(labels)) count.other++;
      else count.own++;
      if (labels.includes(WORKLOAD_LABEL)) {
        count.workload++;
        const pid = /process_pid="(\d+)"/.exec(labels)?.[1];
        if (pid !== undefined) pids[name === 'ebpf_process_cpu_samples_total' ? 'cpu' : 'syscalls'].add(pid);
      }
    } else if (name === 'ebpf_agent_series') {
      const metric = /metric="([^"]+)"/.exec(line)?.[1];
      if (metric !== undefined && metric in series) series[metric as ViewMetric].gauge = valueOf(line);
    } else if (name === 'ebpf_agent_poll_duration_seconds_sum') pollSum = valueOf(line);
    else if (name === 'ebpf_agent_poll_duration_seconds_count') pollCount = valueOf(line);
    else if (name === 'ebpf_agent_map_entries' && /map="syscall_counts"/.test(line)) syscallMapEntries = valueOf(line);
    else if (name === 'ebpf_agent_series_folded_total') folded += valueOf(line);
    else if (name === 'ebpf_agent_events_lost_total' || name === 'ebpf_agent_map_updates_dropped_total')
      lost += valueOf(line);
  }
  return {
    atMs: Date.now(),
    series,
    pollSum,
    pollCount,
    syscallMapEntries,
    folded,
    lost,
    exitedPids: {
      syscalls: [...pids.syscalls].filter((pid) => !existsSync(`/proc/${pid}`)).length,
      cpu: [...pids.cpu].filter((pid) => !existsSync(`/proc/${pid}`)).length,
    },
    ...memory(pid),
    bytes: Buffer.byteLength(text),
  };
}

/** Mean poll duration in ms between two samples (NaN without a poll in between). */
export function meanPollMs(from: Sample, to: Sample): number {
  const polls = to.pollCount - from.pollCount;
  return polls > 0 ? ((to.pollSum - from.pollSum) / polls) * 1000 : Number.NaN;
}

export interface StoppedFleet {
  /** Processes started (fewer than asked when fork failed: the reason is in `log()`). */
  started: number;
  /** ms from the start to every process stopped after its calls. */
  startMs: number;
  log: () => string;
  /** Kills every process of the fleet and waits until all are reaped. */
  stop: () => Promise<void>;
}

const helpers = new Set<ChildProcess>();

/**
 * Stops every helper this module started. Sync, for an 'exit' handler: SIGTERM makes a fleet kill and reap its
 * processes itself (SIGKILL would leave them to init, which on some machines does not reap).
 */
export function stopHelpersNow(): void {
  for (const child of helpers) child.kill('SIGTERM');
}

function trackHelper(child: ChildProcess): ChildProcess {
  helpers.add(child);
  child.once('exit', () => helpers.delete(child));
  return child;
}

/** Starts `size` syscallers that each make one call of each counted syscall and stay stopped. */
export async function startStoppedFleet(size: number): Promise<StoppedFleet> {
  const started0 = performance.now();
  const child = trackHelper(spawn(HELPER, ['fleet', SYSCALLER, String(size)], { stdio: ['pipe', 'pipe', 'pipe'] }));
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const check = setInterval(() => {
      if (/ready \d+/.test(out)) {
        clearInterval(check);
        resolve();
      } else if (child.exitCode !== null || child.signalCode !== null) {
        clearInterval(check);
        reject(new Error(`the fleet helper exited before it was ready: ${err || out}`));
      }
    }, 50);
  });
  return {
    started: Number(/ready (\d+)/.exec(out)![1]),
    startMs: performance.now() - started0,
    log: () => err,
    stop: async () => {
      child.stdin!.end();
      await exited;
    },
  };
}

/** Runs a program to its end; rejects on a non-zero exit. */
export function run(file: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = trackHelper(spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe'] }));
    let err = '';
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`${path.basename(file)} ${args.join(' ')}: ${code ?? signal} ${err}`)),
    );
  });
}

/** The cgroup2 mount (as the agent's detectCgroup2Root finds it): the unified one on a hybrid host. */
export function cgroup2Root(): string {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [before, after] = line.split(' - ');
    if (after?.startsWith('cgroup2 ')) return before!.split(' ')[4]!;
  }
  throw new Error('no cgroup2 filesystem is mounted: the container case needs one');
}

/**
 * Kubelet-style (cgroupfs driver) container cgroups under one base directory of the cgroup2 tree:
 * `<base>/kubepods/besteffort/pod<uuid>/<64 hex>`, one pod per container. `removeAll` takes away whatever is
 * left (sync, so an 'exit' handler can use it), waiting a little for processes still leaving.
 */
export class CgroupTree {
  readonly base: string;
  readonly #live = new Set<string>();

  constructor(base: string) {
    this.base = base;
    mkdirSync(path.join(base, 'kubepods', 'besteffort'), { recursive: true });
  }

  /** A new pod with one container: returns the container's directory. */
  createContainer(): string {
    const pod = path.join(this.base, 'kubepods', 'besteffort', `pod${randomUUID()}`);
    const container = path.join(pod, randomBytes(32).toString('hex'));
    mkdirSync(container, { recursive: true });
    this.#live.add(container);
    return container;
  }

  /** Removes a container's cgroup and its pod's. */
  remove(container: string): void {
    rmdirSync(container);
    rmdirSync(path.dirname(container));
    this.#live.delete(container);
  }

  get live(): number {
    return this.#live.size;
  }

  removeAll(): void {
    const deadline = Date.now() + 10_000;
    for (const container of [...this.#live]) {
      for (;;) {
        try {
          this.remove(container);
          break;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
            this.#live.delete(container);
            break;
          }
          if (Date.now() > deadline) {
            console.error(`could not remove ${container}: ${String(error)}`);
            break;
          }
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
        }
      }
    }
    for (const dir of [path.join(this.base, 'kubepods', 'besteffort'), path.join(this.base, 'kubepods'), this.base]) {
      try {
        rmdirSync(dir);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') console.error(`could not remove ${dir}: ${error}`);
      }
    }
  }
}

const PID_MAX = '/proc/sys/kernel/pid_max';

export function pidMax(): number {
  return Number(readFileSync(PID_MAX, 'utf8').trim());
}

export function setPidMax(value: number): void {
  writeFileSync(PID_MAX, `${value}\n`);
}

/** MemAvailable from /proc/meminfo, in MiB. */
export function memAvailableMiB(): number {
  return Number(/^MemAvailable:\s+(\d+) kB$/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0) / 1024;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

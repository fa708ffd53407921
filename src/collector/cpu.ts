// cpu: on-CPU samples per process (bpf/cpu.bpf.c), from a CPU-clock perf event at --cpu-sample-hz on every online
// CPU. The maps have the layouts of the syscalls program (one counter per process), so SyscallCollector reads them and
// the same series lifecycle and budget apply. CPUs that go offline lose their event; CPUs that come online get one.
import { readFileSync } from 'node:fs';
import { BpfObject, RingBuffer, type Link, type MapSnapshot } from '../bpf/index.ts';
import { silentLogger, type Logger } from '../log.ts';
import { decodeExitEvent, COUNTS_KEY_SIZE, SYSCALL_PROC_SIZE, type ExitEvent, type SyscallSource } from './syscalls.ts';

export const CPU_MAPS = { counts: 'cpu_samples', procs: 'cpu_procs' };
const TRACEPOINTS = ['eoa_cpu_exec', 'eoa_cpu_exit'];

/** "0-3,6,8-9" (as in /sys/devices/system/cpu/online) → [0, 1, 2, 3, 6, 8, 9]. */
export function parseCpuList(text: string): number[] {
  const cpus: number[] = [];
  for (const part of text.trim().split(',')) {
    if (part === '') continue;
    const match = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (match === null) throw new Error(`not a CPU list: ${JSON.stringify(text)}`);
    const from = Number(match[1]);
    const to = match[2] === undefined ? from : Number(match[2]);
    for (let cpu = from; cpu <= to; cpu++) cpus.push(cpu);
  }
  return cpus;
}

export function onlineCpus(): number[] {
  return parseCpuList(readFileSync('/sys/devices/system/cpu/online', 'utf8'));
}

export interface KernelCpuSourceOptions {
  objectPath: string;
  btfPath?: string;
  /** Samples per second per CPU. */
  hz: number;
  debug?: boolean;
  logger?: Logger;
  /** Online CPUs now (injected in tests). */
  online?: () => number[];
}

export class KernelCpuSource implements SyscallSource {
  readonly #object: BpfObject;
  readonly #tracepoints: Link[] = [];
  readonly #perCpu = new Map<number, Link>();
  readonly #ring: RingBuffer;
  readonly #hz: number;
  readonly #online: () => number[];
  readonly #logger: Logger;
  #pending: ExitEvent[] = [];

  constructor(options: KernelCpuSourceOptions) {
    this.#hz = options.hz;
    this.#online = options.online ?? onlineCpus;
    this.#logger = options.logger ?? silentLogger;
    const object = new BpfObject(options.objectPath, { btfPath: options.btfPath, debug: options.debug });
    let ring: RingBuffer | undefined;
    try {
      object.expectMap(CPU_MAPS.counts, COUNTS_KEY_SIZE, 8);
      object.expectMap(CPU_MAPS.procs, 4, SYSCALL_PROC_SIZE);
      object.load();
      ring = new RingBuffer(object, 'cpu_exits', (records) => {
        for (const record of records) this.#pending.push(decodeExitEvent(record));
      });
      for (const program of TRACEPOINTS) this.#tracepoints.push(object.attach(program));
      for (const cpu of this.#online()) this.#perCpu.set(cpu, object.attachCpuClock('eoa_cpu_sample', cpu, this.#hz));
    } catch (error) {
      for (const link of [...this.#tracepoints, ...this.#perCpu.values()]) link.destroy();
      ring?.close();
      object.close();
      throw error;
    }
    this.#ring = ring;
    this.#object = object;
  }

  /** Follows CPU hotplug: a perf event for every online CPU, none for offline ones. */
  #followCpus(): void {
    let online: Set<number>;
    try {
      online = new Set(this.#online());
    } catch {
      return;
    }
    for (const [cpu, link] of this.#perCpu) {
      if (!online.has(cpu)) {
        link.destroy();
        this.#perCpu.delete(cpu);
        this.#logger.info('CPU went offline: its sampling stopped', { cpu });
      }
    }
    for (const cpu of online) {
      if (this.#perCpu.has(cpu)) continue;
      try {
        this.#perCpu.set(cpu, this.#object.attachCpuClock('eoa_cpu_sample', cpu, this.#hz));
        this.#logger.info('CPU came online: sampling it', { cpu });
      } catch (error) {
        this.#logger.warn('cannot sample a CPU that came online', {
          cpu,
          error: (error as Error).message.split('\n')[0],
        });
      }
    }
  }

  drainExits(): ExitEvent[] {
    // Called first in every collection: the right moment to follow CPU hotplug too.
    this.#followCpus();
    this.#ring.consume();
    const events = this.#pending;
    this.#pending = [];
    return events;
  }

  readCounts(): MapSnapshot {
    return this.#object.readMap(CPU_MAPS.counts);
  }

  readProcs(): MapSnapshot {
    return this.#object.readMap(CPU_MAPS.procs);
  }

  readDrops(): number[] {
    return this.#object.readCounters('cpu_drops').map(Number);
  }

  deleteProcesses(pids: readonly number[]): void {
    const tgids = new Uint8Array(new Uint32Array(pids).buffer);
    this.#object.deleteKeys(CPU_MAPS.counts, tgids);
    this.#object.deleteKeys(CPU_MAPS.procs, tgids);
  }

  capacity(): { counts: number; procs: number } {
    return { counts: this.#object.map(CPU_MAPS.counts).maxEntries, procs: this.#object.map(CPU_MAPS.procs).maxEntries };
  }

  attached(): boolean {
    return (
      this.#tracepoints.every((link) => link.attached) &&
      this.#perCpu.size > 0 &&
      [...this.#perCpu.values()].every((link) => link.attached)
    );
  }

  get object(): BpfObject {
    return this.#object;
  }

  close(): void {
    for (const link of [...this.#tracepoints, ...this.#perCpu.values()]) link.destroy();
    this.#perCpu.clear();
    this.#ring.close();
    this.#object.close();
  }
}

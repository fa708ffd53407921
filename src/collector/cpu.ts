// cpu: on-CPU samples per process (bpf/cpu.bpf.c), from a CPU-clock perf event at --cpu-sample-hz on every online
// CPU. Processes are tracked as the syscalls program tracks them (bpf/process.bpf.h): ProcessCollector reads the
// samples (one lane per process) with the same series lifecycle and budget. CPUs that go offline lose their event;
// CPUs that come online get one.
import { readFileSync } from 'node:fs';
import type { BpfObject, Link } from '../bpf/index.ts';
import { CPU_MAP_SIZES } from '../bpf/layouts.ts';
import { silentLogger, type Logger } from '../log.ts';
import { KernelProcessSource, type ExtraAttachments, type ProcessObject } from './process.ts';

/** bpf/cpu.bpf.o: its maps and the programs attached once (the sampling program is attached per CPU). */
export const CPU_OBJECT: ProcessObject = {
  maps: { counts: 'cpu_samples', procs: 'cpu_procs' },
  exits: 'cpu_exits',
  cgroups: 'cpu_cgroups',
  drops: 'cpu_drops',
  infoWrites: 'cpu_info_writes',
  programs: ['eoa_cpu_exec', 'eoa_cpu_exit', 'eoa_cpu_cgroup_mkdir'],
  sizes: CPU_MAP_SIZES,
};
/** The count and info maps' names (for ProcessCollector's metrics). */
export const CPU_MAPS = CPU_OBJECT.maps;
const SAMPLE_PROGRAM = 'eoa_cpu_sample';

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
  /** Capacity of cpu_samples and cpu_procs, in processes. Default: the object's (32768). */
  maxEntries?: number;
  /** A process (its kernel tgid) left out of the samples: the agent's own. */
  excludedTgid?: number;
  debug?: boolean;
  logger?: Logger;
  /** Online CPUs now (injected in tests). */
  online?: () => number[];
}

/** One CPU-clock perf event per online CPU with the sampling program attached, following CPU hotplug. */
export class PerCpuSampling implements ExtraAttachments {
  readonly #perCpu = new Map<number, Link>();
  readonly #hz: number;
  readonly #online: () => number[];
  readonly #logger: Logger;

  constructor(hz: number, online: () => number[], logger: Logger) {
    this.#hz = hz;
    this.#online = online;
    this.#logger = logger;
  }

  attach(object: BpfObject): void {
    for (const cpu of this.#online()) this.#perCpu.set(cpu, object.attachCpuClock(SAMPLE_PROGRAM, cpu, this.#hz));
  }

  /** Follows CPU hotplug: a perf event for every online CPU, none for offline ones. */
  follow(object: BpfObject): void {
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
        this.#perCpu.set(cpu, object.attachCpuClock(SAMPLE_PROGRAM, cpu, this.#hz));
        this.#logger.info('CPU came online: sampling it', { cpu });
      } catch (error) {
        this.#logger.warn('cannot sample a CPU that came online', {
          cpu,
          error: (error as Error).message.split('\n')[0],
        });
      }
    }
  }

  attached(): boolean {
    return this.#perCpu.size > 0 && [...this.#perCpu.values()].every((link) => link.attached);
  }

  close(): void {
    for (const link of this.#perCpu.values()) link.destroy();
    this.#perCpu.clear();
  }
}

/** The real source: loads bpf/cpu.bpf.o, attaches its tracepoints and a sampling event on every online CPU. */
export class KernelCpuSource extends KernelProcessSource {
  constructor(options: KernelCpuSourceOptions) {
    const sampling = new PerCpuSampling(options.hz, options.online ?? onlineCpus, options.logger ?? silentLogger);
    super(CPU_OBJECT, options, sampling);
  }
}

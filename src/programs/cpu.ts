// cpu: on-CPU samples per process from a CPU-clock perf event on every online CPU (bpf/cpu.bpf.c), shaped like
// the syscall series. tgid 0 is the idle task: counted apart, not a process.
import { CPU_MAPS, KernelCpuSource } from '../collector/cpu.ts';
import { SyscallSeriesShaper } from '../collector/series.ts';
import { SyscallCollector } from '../collector/syscalls.ts';
import { excludedTgid, shaperOptions } from './shaping.ts';
import type { ProgramDescriptor } from './types.ts';

export const cpu: ProgramDescriptor<'cpu'> = {
  name: 'cpu',
  summary: 'on-CPU samples per process at --cpu-sample-hz on every CPU',
  objects: ['cpu.bpf.o'],
  minKernel: [5, 8],
  minKernelReason: 'BPF ring buffer',
  capabilities: ['CAP_BPF', 'CAP_PERFMON'],
  // sched_process_exec/exit tracepoints follow processes.
  tracefs: true,
  start({ config, open, attribute, learnCgroup, logger, clock }) {
    const source = new KernelCpuSource({
      ...open('cpu.bpf.o'),
      hz: config.cpuSampleHz,
      maxEntries: config.cpuMaxEntries,
      excludedTgid: excludedTgid(config, 'cpu', logger),
      logger,
    });
    const collector = new SyscallCollector(source, {
      program: 'cpu',
      maps: CPU_MAPS,
      sinceMs: clock.now(),
      ...(learnCgroup === undefined ? {} : { onCgroup: learnCgroup }),
    });
    const shaper = new SyscallSeriesShaper({ ...shaperOptions(config), attribute, kinds: ['cpu'] });
    return {
      collector,
      objects: [source.object],
      collect(now, snapshot) {
        const processes = collector.collect(now).processes;
        // The idle task (pid 0) is the idle samples, not a process.
        let idle = 0;
        const rows = processes.rows.filter((slot) => {
          if (processes.pid[slot] !== 0) return true;
          idle = processes.counts[slot * processes.stride + processes.first]!;
          return false;
        });
        snapshot.cpu = {
          ...shaper.shape({ ...processes, rows }, now),
          idle,
          hz: config.cpuSampleHz,
        };
      },
      close: async () => collector.close(),
    };
  },
};

// syscalls: openat, read, write and connect calls per process (bpf/syscalls.bpf.c, one raw tracepoint on
// sys_enter), shaped into series by executable, container and pod, and per process within the budget.
import { KernelSyscallSource, SyscallCollector } from '../collector/syscalls.ts';
import { SyscallSeriesShaper } from '../collector/series.ts';
import { excludedTgid, shaperOptions } from './shaping.ts';
import type { ProgramDescriptor } from './types.ts';

export const syscalls: ProgramDescriptor<'syscalls'> = {
  name: 'syscalls',
  summary: 'openat, read, write and connect calls per process',
  objects: ['syscalls.bpf.o'],
  minKernel: [5, 8],
  minKernelReason: 'BPF ring buffer',
  capabilities: ['CAP_BPF', 'CAP_PERFMON'],
  tracefs: true,
  start({ config, open, attribute, learnCgroup, logger, clock }) {
    const source = new KernelSyscallSource({
      ...open('syscalls.bpf.o'),
      maxEntries: config.syscallsMaxEntries,
      excludedTgid: excludedTgid(config, 'syscalls', logger),
    });
    const collector = new SyscallCollector(source, {
      sinceMs: clock.now(),
      ...(learnCgroup === undefined ? {} : { onCgroup: learnCgroup }),
    });
    const shaper = new SyscallSeriesShaper({ ...shaperOptions(config), attribute });
    return {
      collector,
      objects: [source.object],
      collect(now, snapshot) {
        snapshot.syscalls = shaper.shape(collector.collect(now).processes, now);
      },
      close: async () => collector.close(),
    };
  },
};

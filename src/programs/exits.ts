// exits: how processes end (bpf/exits.bpf.c): exits by executable, container/pod and way of ending, and OOM kills,
// counted in the kernel at each process's last thread's exit. A program of its own, so it can run alone; it names
// processes as the syscalls and cpu programs do (bpf/process.bpf.h) and shares their attribution.
import { ExitsCollector, KernelExitSource } from '../collector/exits.ts';
import { shaperOptions } from './shaping.ts';
import type { ProgramDescriptor } from './types.ts';

export const exits: ProgramDescriptor<'exits'> = {
  name: 'exits',
  summary: 'process exits by executable and reason (status, signal, core dump) and OOM kills',
  objects: ['exits.bpf.o'],
  minKernel: [5, 8],
  minKernelReason: 'BPF ring buffer',
  capabilities: ['CAP_BPF', 'CAP_PERFMON'],
  // sched_process_exit is a tracepoint.
  tracefs: true,
  start({ config, open, attribute, learnCgroup, events }) {
    const source = new KernelExitSource({ ...open('exits.bpf.o'), events: events !== undefined });
    const { maxSeries, holdMs, groupRetentionMs, exitedRetentionMs } = shaperOptions(config);
    const collector = new ExitsCollector(source, {
      maxSeries,
      holdMs: holdMs ?? 0,
      groupRetentionMs: groupRetentionMs ?? 0,
      exitedRetentionMs: exitedRetentionMs ?? 0,
      attribute,
      ...(learnCgroup === undefined ? {} : { onCgroup: learnCgroup }),
      ...(events === undefined
        ? {}
        : {
            onExit: (event, attribution) => events({ name: 'process.exit', timeNs: event.timeNs, event, attribution }),
          }),
    });
    return {
      collector,
      objects: [source.object],
      collect(now, snapshot) {
        snapshot.exits = collector.collect(now);
      },
      close: async () => collector.close(),
    };
  },
};

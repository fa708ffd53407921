// tcp: retransmits, resets, connect attempts and failures and connect latency per executable, container and pod
// (bpf/tcp.bpf.c, tracepoints only), shaped into aggregate series as the syscall counts are.
import { ProcessCollector } from '../collector/process.ts';
import { KernelTcpSource, TCP_MAPS, TcpCollector, TcpSeriesShaper } from '../collector/tcp.ts';
import { excludedTgid, shaperOptions } from './shaping.ts';
import type { ProgramDescriptor } from './types.ts';

export const tcp: ProgramDescriptor<'tcp'> = {
  name: 'tcp',
  summary: 'TCP retransmits, resets, connect attempts, failures and latency per executable',
  objects: ['tcp.bpf.o'],
  minKernel: [5, 8],
  minKernelReason: 'BPF ring buffer',
  capabilities: ['CAP_BPF', 'CAP_PERFMON'],
  tracefs: true,
  start({ config, open, attribute, learnCgroup, logger, clock }) {
    const source = new KernelTcpSource({
      ...open('tcp.bpf.o'),
      excludedTgid: excludedTgid(config, 'tcp', logger),
    });
    const processes = new ProcessCollector(source, {
      program: 'tcp',
      maps: TCP_MAPS,
      sinceMs: clock.now(),
      ...(learnCgroup === undefined ? {} : { onCgroup: learnCgroup }),
    });
    const collector = new TcpCollector(processes, source);
    const { pidLabels: _pidLabels, ...options } = shaperOptions(config);
    const shaper = new TcpSeriesShaper({ ...options, attribute });
    return {
      collector,
      objects: [source.object],
      collect(now, snapshot) {
        snapshot.tcp = shaper.shape(collector.collect(now), now);
      },
      close: async () => collector.close(),
    };
  },
};

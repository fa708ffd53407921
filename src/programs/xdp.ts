// xdp: packets and bytes received per interface by network layer and transport (bpf/xdp.bpf.c). Never drops
// or changes a packet. Interfaces that disappear and come back are followed by the collector.
import { XdpCollector } from '../collector/xdp.ts';
import type { ProgramDescriptor } from './types.ts';

export const xdp: ProgramDescriptor<'xdp'> = {
  name: 'xdp',
  summary: 'packets and bytes received per interface (needs --xdp-interface)',
  objects: ['xdp.bpf.o'],
  minKernel: [5, 18],
  minKernelReason: 'bpf_xdp_get_buff_len',
  capabilities: ['CAP_BPF', 'CAP_PERFMON', 'CAP_NET_ADMIN'],
  capabilityUse: 'attach XDP',
  tracefs: false,
  start({ config, open, logger, clock }) {
    const collector = new XdpCollector({
      ...open('xdp.bpf.o'),
      interfaces: config.xdpInterfaces,
      mode: config.xdpMode,
      logger,
    });
    for (const attachment of collector.collect(clock.now()).interfaces) {
      logger.info('XDP attached', { interface: attachment.name, mode: attachment.mode });
    }
    return {
      collector,
      objects: [collector.object],
      collect(now, snapshot) {
        snapshot.xdp = collector.collect(now);
      },
      close: async () => collector.close(),
    };
  },
};

// tc: packets and bytes per interface in both directions (bpf/tc.bpf.c on tcx ingress and egress), by network layer
// and transport, pod veths labelled with their pod. Never drops, changes or redirects a packet; other programs on
// the same hooks run as before. Interfaces come and go with their rules (--net-interface), followed by the collector.
import { parseInterfaceRules, TcCollector } from '../collector/tc.ts';
import type { ProgramDescriptor } from './types.ts';

export const tc: ProgramDescriptor<'tc'> = {
  name: 'tc',
  summary: 'packets and bytes per interface in both directions, pods included (needs --net-interface)',
  objects: ['tc.bpf.o'],
  // tcx links (BPF_TCX_INGRESS/EGRESS) came in 6.6. Older kernels are refused at start with that line: a clsact
  // qdisc fallback would leave a qdisc behind when the agent is killed, which tcx links never do.
  minKernel: [6, 6],
  minKernelReason: 'tcx links',
  capabilities: ['CAP_BPF', 'CAP_PERFMON', 'CAP_NET_ADMIN'],
  capabilityUse: 'attach tc',
  tracefs: false,
  start({ config, open, logger, clock, attribute }) {
    const collector = new TcCollector({
      ...open('tc.bpf.o'),
      rules: parseInterfaceRules(config.netInterfaces),
      order: config.netOrder,
      retentionMs: config.exitedRetentionMs,
      // As the aggregate views do: a scraper at --scrape-interval sees a new series at 0 before it counts.
      holdMs: config.scrapeIntervalMs + config.intervalMs,
      attribute,
      logger,
      nowMs: clock.now(),
    });
    return {
      collector,
      objects: [collector.object],
      collect(now, snapshot) {
        snapshot.tc = collector.collect(now);
      },
      close: async () => collector.close(),
    };
  },
};

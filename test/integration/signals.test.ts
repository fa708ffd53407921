// SIGTERM: exit 0 within 2 s with nothing left attached (tracepoints and XDP).
import { afterAll, describe, expect, it } from 'vitest';
import { expectNoAgentPrograms, killAllAgents, startAgent } from './harness.ts';
import { createVethPair, xdpProgramOn } from './netns.ts';

describe('signals', () => {
  const veth = createVethPair(`s${process.pid % 10000}`);
  afterAll(async () => {
    await killAllAgents();
    veth.destroy();
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal}: exits 0 within 2 s and leaves nothing attached`, async () => {
      const agent = await startAgent(['--xdp-interface', veth.host, '--interval', '500ms']);
      await agent.waitPolls(1);
      expect(xdpProgramOn(veth.host)).toBeDefined();
      const started = Date.now();
      const { code } = await agent.stop(signal);
      const elapsed = Date.now() - started;
      expect(code).toBe(0);
      expect(elapsed).toBeLessThan(2000);
      expect(xdpProgramOn(veth.host)).toBeUndefined();
      await expectNoAgentPrograms();
    });
  }
});

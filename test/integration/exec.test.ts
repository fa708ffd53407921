// 100 execs of /bin/true raise ebpf_process_execs_total{process_executable_name="true"} by exactly 100.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectNoAgentPrograms,
  killAllAgents,
  startAgent,
  syscallerPath,
  total,
  type RunningAgent,
} from './harness.ts';

const K = 100;

describe('exec program', () => {
  let agent: RunningAgent;
  beforeAll(async () => {
    agent = await startAgent(['--programs', 'exec', '--interval', '500ms']);
  });
  afterAll(async () => {
    await killAllAgents();
    await expectNoAgentPrograms();
  });

  it(`counts exactly ${K} execs of /bin/true, with the parent's name`, async () => {
    const before = await agent.waitPolls(1);
    execFileSync(syscallerPath, ['--exec', String(K), '/bin/true']);
    const after = await agent.waitPolls(2);
    const labels = { process_executable_name: 'true' };
    expect(total(after, 'ebpf_process_execs_total', labels) - total(before, 'ebpf_process_execs_total', labels)).toBe(
      K,
    );
    const fromHelper = { process_executable_name: 'true', process_parent_executable_name: 'syscaller' };
    expect(
      total(after, 'ebpf_process_execs_total', fromHelper) - total(before, 'ebpf_process_execs_total', fromHelper),
    ).toBe(K);
    expect(total(after, 'ebpf_agent_events_lost_total', { program: 'exec' })).toBe(0);
  });
});

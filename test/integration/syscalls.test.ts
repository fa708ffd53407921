// A helper makes exactly N openat, read, write and connect calls between two collections; the agent's counters
// for its pid must rise by exactly N each.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectNoAgentPrograms,
  killAllAgents,
  startAgent,
  syscallerPath,
  total,
  waitStopped,
  type RunningAgent,
} from './harness.ts';

const N = 1000;

describe('syscalls program', () => {
  let agent: RunningAgent;
  beforeAll(async () => {
    agent = await startAgent(['--programs', 'syscalls', '--interval', '500ms']);
  });
  afterAll(async () => {
    await killAllAgents();
    await expectNoAgentPrograms();
  });

  it(`counts exactly ${N} calls of each syscall for the helper's pid, under its comm`, async () => {
    const helper = spawn(syscallerPath, [String(N)], { stdio: 'ignore' });
    const pid = helper.pid!;
    const exited = once(helper, 'exit');
    try {
      await waitStopped(pid);
      const before = await agent.waitPolls(2);
      helper.kill('SIGCONT');
      // The helper stops again after its N calls of each kind.
      await waitStopped(pid);
      const after = await agent.waitPolls(2);
      for (const syscall of ['openat', 'read', 'write', 'connect']) {
        const labels = { process_pid: String(pid), syscall };
        const delta =
          total(after, 'ebpf_process_syscalls_total', labels) - total(before, 'ebpf_process_syscalls_total', labels);
        expect(delta, syscall).toBe(N);
      }
      const series = after.filter(
        (s) => s.name === 'ebpf_process_syscalls_total' && s.labels.process_pid === String(pid),
      );
      expect(series.length).toBeGreaterThanOrEqual(4);
      for (const s of series) expect(s.labels.process_executable_name).toBe('syscaller');
      helper.kill('SIGCONT');
      const [code] = await exited;
      expect(code).toBe(0);
    } finally {
      helper.kill('SIGKILL');
    }
  });
});

// A full map loses nothing silently: the syscall maps sized to 1,024 processes, 4,000 short-lived processes
// within one poll interval fill them. The kernel's refusals are counted in ebpf_agent_map_updates_dropped_total,
// the log says so once with the flag that makes room, and once the exited processes are published and their
// entries go, a new process is counted exactly again.
import { spawn, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectNoAgentPrograms,
  killAllAgents,
  startAgent,
  syscallerPath,
  total,
  waitFor,
  waitStopped,
  type RunningAgent,
} from './harness.ts';

const CAPACITY = 1024;
const CHURN = 4000;
const N = 500;
const DROPS = 'ebpf_agent_map_updates_dropped_total';

describe('a full syscall map', () => {
  let agent: RunningAgent;
  beforeAll(async () => {
    // 10 s between polls: the churn's exited processes hold their entries until the poll that publishes them.
    agent = await startAgent([
      '--programs',
      'syscalls',
      '--syscalls-max-entries',
      String(CAPACITY),
      '--interval',
      '10s',
    ]);
  });
  afterAll(async () => {
    await killAllAgents();
    await expectNoAgentPrograms();
  });

  it(`counts every refused update, logs it once with --syscalls-max-entries, and counts exactly after`, async () => {
    const before = await agent.scrape();
    expect(total(before, 'ebpf_agent_map_capacity', { program: 'syscalls', map: 'syscall_counts' })).toBe(CAPACITY);
    execFileSync(syscallerPath, ['--churn', String(CHURN), '1']);
    const full = await waitFor(
      'refused updates in /metrics',
      async () => {
        const s = await agent.scrape();
        return total(s, DROPS, { program: 'syscalls', map: 'syscall_counts' }) > 0 ? s : undefined;
      },
      60_000,
    );
    const dropped = total(full, DROPS, { program: 'syscalls', map: 'syscall_counts' });
    expect(total(full, 'ebpf_agent_map_entries', { program: 'syscalls', map: 'syscall_counts' })).toBeLessThanOrEqual(
      CAPACITY,
    );
    const line = new RegExp(
      `syscalls: ([\\d,]+) updates dropped, map syscall_counts is full \\(1,024 entries\\) ` +
        `\\(${DROPS}\\): raise --syscalls-max-entries`,
      'g',
    );
    const lines = [...agent.stderr().matchAll(line)];
    // One line (the next may come 10 minutes later), counting what the poll that saw the map full had seen.
    expect(lines.length, agent.stderr()).toBe(1);
    const logged = Number(lines[0]![1]!.replaceAll(',', ''));
    expect(logged).toBeGreaterThan(0);
    expect(logged).toBeLessThanOrEqual(dropped);

    // The next poll publishes the churn's exits and deletes their entries: room again, and exact counts.
    await agent.waitPolls(1);
    const helper = spawn(syscallerPath, [String(N)], { stdio: 'ignore' });
    const pid = helper.pid!;
    const exited = once(helper, 'exit');
    try {
      await waitStopped(pid);
      const start = await agent.waitPolls(1);
      helper.kill('SIGCONT');
      await waitStopped(pid);
      const end = await agent.waitPolls(1);
      for (const syscall of ['openat', 'read', 'write', 'connect']) {
        const labels = { process_pid: String(pid), syscall };
        const delta =
          total(end, 'ebpf_process_syscalls_total', labels) - total(start, 'ebpf_process_syscalls_total', labels);
        expect(delta, syscall).toBe(N);
      }
      // The line is not repeated while the counter stands still or within its 10 minutes.
      expect([...agent.stderr().matchAll(line)].length).toBe(1);
      helper.kill('SIGCONT');
      expect((await exited)[0]).toBe(0);
    } finally {
      helper.kill('SIGKILL');
    }
  });
});

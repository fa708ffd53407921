// A process that does N reads and exits at once: its final count N appears in /metrics, then its series leaves
// within 2 polls. After 5,000 such processes the series are back to their baseline and memory has not grown.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectNoAgentPrograms,
  killAllAgents,
  rssKiB,
  seriesOf,
  startAgent,
  syscallerPath,
  total,
  waitFor,
  type RunningAgent,
} from './harness.ts';

const N = 777;

describe('series lifecycle', () => {
  let agent: RunningAgent;
  beforeAll(async () => {
    agent = await startAgent(['--programs', 'syscalls', '--interval', '1s', '--exited-retention', '100ms']);
  });
  afterAll(async () => {
    await killAllAgents();
    await expectNoAgentPrograms();
  });

  it('publishes the final count of an exited process once, then drops its series within 2 polls', async () => {
    const helper = spawn(syscallerPath, ['--exit-after', String(N)], { stdio: 'ignore' });
    const pid = String(helper.pid);
    const [code] = await once(helper, 'exit');
    expect(code).toBe(0);
    const seen = await waitFor('the final count', async () => {
      const samples = await agent.scrape();
      const read = seriesOf(samples, 'ebpf_process_syscalls_total', { process_pid: pid, syscall: 'read' });
      return read.length === 1 && read[0]!.value === N ? samples : undefined;
    });
    const polls = total(seen, 'ebpf_agent_polls_total');
    expect(
      seriesOf(seen, 'ebpf_process_syscalls_total', { process_pid: pid, syscall: 'read' })[0]!.labels
        .process_executable_name,
    ).toBe('syscaller');
    const gone = await waitFor('the series to leave', async () => {
      const samples = await agent.scrape();
      return seriesOf(samples, 'ebpf_process_syscalls_total', { process_pid: pid }).length === 0 ? samples : undefined;
    });
    expect(total(gone, 'ebpf_agent_polls_total') - polls).toBeLessThanOrEqual(2);
  });

  it('returns to its baseline of series and memory after 5,000 short-lived processes', async () => {
    const pid = agent.process.pid!;
    // Warm up (JIT, buffers, and the heap's high-water mark under this churn: one smaller churn left RSS below it,
    // and the measured one then grew by the heap's own headroom), then measure around the real churn.
    for (let round = 0; round < 2; round++) {
      execFileSync(syscallerPath, ['--churn', '5000', '10']);
      await agent.waitPolls(3);
    }
    const baseline = await agent.waitPolls(1);
    const seriesBefore = seriesOf(baseline, 'ebpf_process_syscalls_total').length;
    const rssBefore = rssKiB(pid);
    execFileSync(syscallerPath, ['--churn', '5000', '10']);
    const after = await agent.waitPolls(3);
    const left = seriesOf(after, 'ebpf_process_syscalls_total', { process_executable_name: 'syscaller' });
    expect(left, JSON.stringify(left.slice(0, 5))).toHaveLength(0);
    // The aggregate keeps them all, in one series per syscall of the executable.
    expect(seriesOf(after, 'ebpf_syscalls_total', { process_executable_name: 'syscaller' }).length).toBeLessThanOrEqual(
      4,
    );
    // Other processes on the machine come and go; the 5,000 must not have left any trace.
    const seriesAfter = seriesOf(after, 'ebpf_process_syscalls_total');
    expect(
      seriesAfter.length,
      `series before ${seriesBefore}: ${JSON.stringify(seriesAfter.map((s) => s.labels.process_executable_name))}`,
    ).toBeLessThanOrEqual(seriesBefore + 20);
    expect(total(after, 'ebpf_agent_map_entries', { map: 'syscall_procs' })).toBeLessThanOrEqual(
      total(baseline, 'ebpf_agent_map_entries', { map: 'syscall_procs' }) + 5,
    );
    expect(total(after, 'ebpf_agent_events_lost_total', { program: 'syscalls' })).toBe(0);
    const rssAfter = rssKiB(pid);
    // Memory noise of a V8 process between collections is a few MiB; 5,000 retained processes would be far more
    // visible in the series count above, this bounds the heap as well.
    expect(rssAfter, `RSS before ${rssBefore} KiB, after ${rssAfter} KiB`).toBeLessThan(rssBefore * 1.25 + 8 * 1024);
  });
});

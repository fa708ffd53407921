// --exclude-self (the default): the kernel leaves the agent's own process out of the syscalls and cpu counts, so it
// has no per-process series and no entry in the count maps; --no-exclude-self counts it like any other process.
import { execFileSync } from 'node:child_process';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  expectNoAgentPrograms,
  killAllAgents,
  programsHeldBy,
  seriesOf,
  startAgent,
  total,
  waitFor,
  type RunningAgent,
  type Sample,
} from './harness.ts';

const ARGS = ['--programs', 'syscalls,cpu', '--cpu-sample-hz', '997', '--interval', '500ms'];

/** The tgids that have an entry in the map `name` of the objects agent `pid` holds (read with bpftool). */
function mapKeys(pid: number, name: string): number[] {
  const mapIds = new Set<number>();
  for (const id of programsHeldBy(pid)) {
    const prog = JSON.parse(
      execFileSync('bpftool', ['prog', 'show', 'id', String(id), '--json'], { encoding: 'utf8' }),
    ) as {
      map_ids?: number[];
    };
    for (const map of prog.map_ids ?? []) mapIds.add(map);
  }
  const maps = [...mapIds].filter(
    (id) =>
      (
        JSON.parse(execFileSync('bpftool', ['map', 'show', 'id', String(id), '--json'], { encoding: 'utf8' })) as {
          name: string;
        }
      ).name === name,
  );
  expect(maps, `agent ${pid} holds one map ${name}`).toHaveLength(1);
  const entries = JSON.parse(
    execFileSync('bpftool', ['map', 'dump', 'id', String(maps[0]), '--json'], { encoding: 'utf8', maxBuffer: 1 << 28 }),
  ) as { key?: string[]; formatted?: { key: number } }[];
  return entries.map((entry) =>
    entry.formatted !== undefined ? entry.formatted.key : Buffer.from(entry.key!.map((b) => Number(b))).readUInt32LE(0),
  );
}

/** Makes the agent work (each scrape is a read of the request and a write of the body) and waits for two polls. */
async function busy(agent: RunningAgent): Promise<Sample[]> {
  for (let i = 0; i < 20; i++) await agent.scrapeText();
  return agent.waitPolls(2);
}

describe('--exclude-self', () => {
  afterEach(async () => {
    await killAllAgents();
  });
  afterAll(async () => {
    await expectNoAgentPrograms();
  });

  it('by default, the agent has no series of its own and no entry in the kernel count maps', async () => {
    const agent = await startAgent(ARGS);
    const pid = agent.process.pid!;
    const samples = await busy(agent);
    expect(seriesOf(samples, 'ebpf_process_syscalls_total', { process_pid: String(pid) })).toEqual([]);
    expect(seriesOf(samples, 'ebpf_process_cpu_samples_total', { process_pid: String(pid) })).toEqual([]);
    expect(mapKeys(pid, 'syscall_counts')).not.toContain(pid);
    expect(mapKeys(pid, 'syscall_procs')).not.toContain(pid);
    expect(mapKeys(pid, 'cpu_samples')).not.toContain(pid);
    // The check can see a process: this test's own, which scraped (read, wrote), is counted.
    expect(
      total(samples, 'ebpf_process_syscalls_total', { process_pid: String(process.pid), syscall: 'write' }),
    ).toBeGreaterThan(0);
    expect(mapKeys(pid, 'syscall_counts')).toContain(process.pid);
    expect(agent.stderr()).not.toMatch(/exclude-self/);
  });

  it('--no-exclude-self: the agent is counted like any other process', async () => {
    const agent = await startAgent([...ARGS, '--no-exclude-self']);
    const pid = agent.process.pid!;
    await busy(agent);
    const samples = await waitFor('the agent to have its own syscall and CPU series', async () => {
      const s = await busy(agent);
      const own = (name: string, labels: Record<string, string> = {}): number =>
        total(s, name, { process_pid: String(pid), ...labels });
      return own('ebpf_process_syscalls_total', { syscall: 'write' }) > 0 &&
        own('ebpf_process_syscalls_total', { syscall: 'read' }) > 0 &&
        own('ebpf_process_cpu_samples_total') > 0
        ? s
        : undefined;
    });
    for (const s of seriesOf(samples, 'ebpf_process_syscalls_total', { process_pid: String(pid) })) {
      expect(s.labels.process_executable_name).toBe('node');
    }
    expect(mapKeys(pid, 'syscall_counts')).toContain(pid);
    expect(mapKeys(pid, 'cpu_samples')).toContain(pid);
  });
});

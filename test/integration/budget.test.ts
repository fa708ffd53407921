// 2,500 live processes (about 10k syscall series) under --max-process-series 1000: at most 1,000 own series per metric
// plus the folded ones, the busiest processes keep theirs, and the totals equal those of an agent without a
// budget watching the same processes.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectNoAgentPrograms,
  killAllAgents,
  seriesOf,
  startAgent,
  syscallerPath,
  total,
  waitFor,
  waitStopped,
  type RunningAgent,
  type Sample,
} from './harness.ts';

const PROCESSES = 2500;
const BUSY = 200; // 800 series: the budget of 1,000 leaves room for the machine's own busy processes
const BUDGET = 1000;

describe('cardinality budget', () => {
  let budgeted: RunningAgent;
  let unbounded: RunningAgent;
  const helpers: ChildProcess[] = [];

  beforeAll(async () => {
    budgeted = await startAgent(['--programs', 'syscalls', '--interval', '1s', '--max-process-series', String(BUDGET)]);
    unbounded = await startAgent(['--programs', 'syscalls', '--interval', '1s', '--max-process-series', '1000000']);
  });
  afterAll(async () => {
    for (const h of helpers) h.kill('SIGKILL');
    await killAllAgents();
    await expectNoAgentPrograms();
  });

  it('keeps the busiest series, folds the rest, and loses no call', async () => {
    // Busy helper i makes 300+i calls of each kind; the others make 1.
    const calls = (i: number): number => (i < BUSY ? 300 + i : 1);
    // The agents started at different times, so their totals differ by what happened in between: compare
    // increases, from a moment when both see no connect calls going on.
    const baseline = await Promise.all([quiet(budgeted), quiet(unbounded)]);
    for (let i = 0; i < PROCESSES; i++) helpers.push(spawn(syscallerPath, [String(calls(i))], { stdio: 'ignore' }));
    for (const h of helpers) await waitStopped(h.pid!);
    await Promise.all([budgeted.waitPolls(2), unbounded.waitPolls(2)]);
    for (const h of helpers) h.kill('SIGCONT');
    for (const h of helpers) await waitStopped(h.pid!);
    const [after] = await Promise.all([budgeted.waitPolls(2), unbounded.waitPolls(2)]);

    const own = after.filter((s) => s.name === 'ebpf_process_syscalls_total' && s.labels.process_pid !== 'other');
    const folded = seriesOf(after, 'ebpf_process_syscalls_total', { process_pid: 'other' });
    expect(own.length).toBeLessThanOrEqual(BUDGET);
    expect(folded.length).toBeGreaterThanOrEqual(1);
    expect(folded.length).toBeLessThanOrEqual(4); // one per syscall
    for (const f of folded) expect(f.labels.process_executable_name).toBe('other');
    expect(total(after, 'ebpf_agent_series', { metric: 'ebpf_process_syscalls_total' })).toBe(
      own.length + folded.length,
    );
    expect(total(after, 'ebpf_agent_series_folded_total', { metric: 'ebpf_process_syscalls_total' })).toBeGreaterThan(
      0,
    );

    // Every series of every busy helper has its own labels. (A series promoted from the folded ones counts from
    // its promotion; what it counted before stays in the folded series, which the totals below check.)
    const ownKeys = new Set(own.map((s) => `${s.labels.process_pid}/${s.labels.syscall}`));
    const missing: string[] = [];
    for (let i = 0; i < BUSY; i++) {
      for (const syscall of ['read', 'write', 'connect']) {
        if (!ownKeys.has(`${helpers[i]!.pid}/${syscall}`)) missing.push(`helper ${i} ${syscall}`);
      }
    }
    expect(missing).toEqual([]);

    // The increases equal an unbudgeted agent's. Only connect is compared: the helpers made 2,500+ of them and
    // nothing else on the machine makes any now, while both agents and the test keep reading, writing and opening
    // files. (The unit tests check the exact-sum invariant for every kind under random workloads.)
    const [a, b] = await Promise.all([quiet(budgeted), quiet(unbounded)]);
    const increase = (totals: Record<string, number>, base: Record<string, number>, syscall: string): number =>
      totals[syscall]! - base[syscall]!;
    expect(increase(a, baseline[0], 'connect')).toBe(increase(b, baseline[1], 'connect'));
    expect(increase(a, baseline[0], 'connect')).toBeGreaterThanOrEqual(PROCESSES);
    const unboundedSeries = seriesOf(await unbounded.scrape(), 'ebpf_process_syscalls_total').length;
    expect(unboundedSeries).toBeGreaterThan(BUDGET * 4);
    expectNoneLost(after);
  });
});

const QUIET = ['connect'];

/** Totals of the quiet syscall once two polls in a row agree (nothing is making those calls). */
async function quiet(agent: RunningAgent): Promise<Record<string, number>> {
  let previous = '';
  let totals: Record<string, number> = {};
  await waitFor(
    'connect totals to settle',
    async () => {
      const samples = await agent.waitPolls(1);
      totals = Object.fromEntries(QUIET.map((s) => [s, total(samples, 'ebpf_process_syscalls_total', { syscall: s })]));
      const now = JSON.stringify(totals);
      const settled = now === previous;
      previous = now;
      return settled ? true : undefined;
    },
    60_000,
  );
  return totals;
}

function expectNoneLost(samples: Sample[]): void {
  expect(total(samples, 'ebpf_agent_map_updates_dropped_total', { program: 'syscalls' })).toBe(0);
  expect(total(samples, 'ebpf_agent_events_lost_total', { program: 'syscalls' })).toBe(0);
}

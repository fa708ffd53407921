// 2,500 live processes (about 10k syscall series) under --max-process-series 1000: at most 1,000 own series per metric
// plus the folded ones, the busiest processes keep theirs, and the totals equal those of an agent without a
// budget watching the same processes.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectNoAgentPrograms,
  killAllAgents,
  seriesOf,
  sleep,
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
const RETENTION_S = 10;

describe('cardinality budget', () => {
  let budgeted: RunningAgent;
  let unbounded: RunningAgent;
  const helpers: ChildProcess[] = [];

  beforeAll(async () => {
    // Demoted series stay at their final value for the retention, so a reader slower than a poll still sees it.
    const common = ['--programs', 'syscalls', '--interval', '1s', '--exited-retention', `${RETENTION_S}s`];
    budgeted = await startAgent([...common, '--max-process-series', String(BUDGET)]);
    unbounded = await startAgent([...common, '--max-process-series', '1000000']);
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
    await Promise.all([quiet(budgeted), quiet(unbounded)]);
    // From here every poll of both agents is read (a scrape every 200 ms against a 1 s interval), as a scraper
    // would read them, and each connect series' growth goes into a ledger.
    const ledgers = [new ConnectLedger(budgeted), new ConnectLedger(unbounded)];
    for (let i = 0; i < PROCESSES; i++) helpers.push(spawn(syscallerPath, [String(calls(i))], { stdio: 'ignore' }));
    for (const h of helpers) await waitStopped(h.pid!);
    await Promise.all([budgeted.waitPolls(2), unbounded.waitPolls(2)]);
    for (const h of helpers) h.kill('SIGCONT');
    for (const h of helpers) await waitStopped(h.pid!);
    // Past the retention of whatever was demoted during the run: the own series are the budget's members, plus the
    // series demoted within the last retention (still published at their final values). The machine's own
    // processes come and go meanwhile, so there may be a few of those: at most one per fold counted since then.
    const foldsBefore = total(await budgeted.scrape(), 'ebpf_agent_series_folded_total', {
      metric: 'ebpf_process_syscalls_total',
    });
    await sleep((RETENTION_S + 1) * 1000);
    const foldsSince = async (): Promise<number> =>
      total(await budgeted.scrape(), 'ebpf_agent_series_folded_total', { metric: 'ebpf_process_syscalls_total' }) -
      foldsBefore;
    const [after] = await Promise.all([budgeted.waitPolls(2), unbounded.waitPolls(2)]);
    const recentlyFolded = await foldsSince();

    const own = after.filter((s) => s.name === 'ebpf_process_syscalls_total' && s.labels.process_pid !== 'other');
    const folded = seriesOf(after, 'ebpf_process_syscalls_total', { process_pid: 'other' });
    console.log(`budget: ${own.length} own series, ${recentlyFolded} folds in the last ${RETENTION_S + 3} s`);
    expect(own.length).toBeLessThanOrEqual(BUDGET + recentlyFolded);
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

    // The increases equal an unbudgeted agent's, counted as increase() counts them: per series, its growth from
    // reading to reading (a series that restarted lower, as a re-promoted one does, counts from 0; one that
    // appeared counts whole; one that ended adds nothing more). A demoted series' own count is not moved into
    // other, so other's growth is only what happened after. Only connect is compared: the helpers made 2,500+ of
    // them and nothing else on the machine makes any now, while both agents and the test keep reading, writing and
    // opening files. (The unit tests check the same ledger for every kind under random workloads.)
    await Promise.all([quiet(budgeted), quiet(unbounded)]);
    const [a, b] = (await Promise.all(ledgers.map((l) => l.stop()))) as [Ledgered, Ledgered];
    console.log(
      `budget: connects ${a.connects} (budgeted) vs ${b.connects}; polls not read: ${a.missedPolls}, ${b.missedPolls}`,
    );
    expect(a.connects).toBe(b.connects);
    expect(a.connects).toBeGreaterThanOrEqual(PROCESSES);
    const unboundedSeries = seriesOf(await unbounded.scrape(), 'ebpf_process_syscalls_total').length;
    expect(unboundedSeries).toBeGreaterThan(BUDGET * 4);
    expectNoneLost(after);
  });
});

const QUIET = ['connect'];

/** Waits until two polls in a row agree on the quiet syscall's series (nothing is making those calls). */
async function quiet(agent: RunningAgent): Promise<void> {
  let previous = '';
  await waitFor(
    'connect totals to settle',
    async () => {
      const now = JSON.stringify([...connectSeries(await agent.waitPolls(1))].sort());
      const settled = now === previous;
      previous = now;
      return settled ? true : undefined;
    },
    60_000,
  );
}

type Ledgered = { connects: number; missedPolls: number };

/** Reads every poll it can of an agent and adds up each connect series' growth, as increase() does. */
class ConnectLedger {
  connects = 0;
  missedPolls = 0;
  #series: Map<string, number> | undefined;
  #lastPoll: number | undefined;
  #stopped = false;
  readonly #done: Promise<void>;

  constructor(agent: RunningAgent) {
    this.#done = this.#run(agent);
  }

  async #run(agent: RunningAgent): Promise<void> {
    while (!this.#stopped) {
      const samples = await agent.scrape();
      const poll = total(samples, 'ebpf_agent_polls_total');
      if (poll !== this.#lastPoll) {
        if (this.#lastPoll !== undefined) this.missedPolls += poll - this.#lastPoll - 1;
        this.#lastPoll = poll;
        const now = connectSeries(samples);
        if (this.#series !== undefined) {
          for (const [labels, value] of now) {
            const was = this.#series.get(labels);
            this.connects += was === undefined || value < was ? value : value - was;
          }
        }
        this.#series = now;
      }
      await sleep(200);
    }
  }

  async stop(): Promise<{ connects: number; missedPolls: number }> {
    this.#stopped = true;
    await this.#done;
    return { connects: this.connects, missedPolls: this.missedPolls };
  }
}

function connectSeries(samples: Sample[]): Map<string, number> {
  return new Map(
    seriesOf(samples, 'ebpf_process_syscalls_total')
      .filter((s) => QUIET.includes(s.labels.syscall!))
      .map((s) => [JSON.stringify(Object.entries(s.labels).sort()), s.value]),
  );
}

function expectNoneLost(samples: Sample[]): void {
  expect(total(samples, 'ebpf_agent_map_updates_dropped_total', { program: 'syscalls' })).toBe(0);
  expect(total(samples, 'ebpf_agent_events_lost_total', { program: 'syscalls' })).toBe(0);
}

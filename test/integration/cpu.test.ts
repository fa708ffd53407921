// CPU sampling at 99 Hz: a busy loop pinned to one CPU for 3 s gets 297 samples within 15%, a sleeping process
// at most 3; the idle task is counted apart.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectNoAgentPrograms,
  killAllAgents,
  seriesOf,
  startAgent,
  syscallerPath,
  total,
  waitStopped,
  type RunningAgent,
} from './harness.ts';

const HZ = 99;
const SECONDS = 3;
/** Not the object's 32768: the agent sizes both maps before the load. */
const CAPACITY = 4096;

describe('cpu program', () => {
  let agent: RunningAgent;
  beforeAll(async () => {
    agent = await startAgent([
      '--programs',
      'cpu',
      '--cpu-sample-hz',
      String(HZ),
      '--cpu-max-entries',
      String(CAPACITY),
      '--interval',
      '500ms',
    ]);
  });
  afterAll(async () => {
    await killAllAgents();
    await expectNoAgentPrograms();
  });

  it(`samples a busy loop ${HZ * SECONDS} times in ${SECONDS} s (±15%), a sleeper at most 3 times`, async () => {
    const cpu = os.cpus().length - 1;
    const spinner = spawn(syscallerPath, ['--spin', String(SECONDS * 1000), String(cpu)], { stdio: 'ignore' });
    const sleeper = spawn('sleep', [String(SECONDS)], { stdio: 'ignore' });
    const sleeperPid = String(sleeper.pid);
    // Keep the sleeper's final count: it is published in the poll after it exits (and kept for the retention), so
    // watching until three intervals after its exit sees it.
    let sleeperSamples = 0;
    let exitedAt: number | undefined;
    sleeper.once('exit', () => (exitedAt = Date.now()));
    const watch = (async () => {
      while (exitedAt === undefined || Date.now() - exitedAt < 1_500) {
        const s = await agent.scrape();
        sleeperSamples = Math.max(
          sleeperSamples,
          total(s, 'ebpf_process_cpu_samples_total', { process_pid: sleeperPid }),
        );
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    try {
      await waitStopped(spinner.pid!);
      const samples = await agent.waitPolls(2);
      const busy = total(samples, 'ebpf_process_cpu_samples_total', { process_pid: String(spinner.pid) });
      // On a quiet machine the loop is on its CPU for all 3 s: 297 samples. This machine is shared, so the
      // ground truth is the CPU time the kernel accounted to the loop (utime + stime, in 1/100 s).
      const stat = readFileSync(`/proc/${spinner.pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / 100;
      const expected = cpuSeconds * HZ;
      console.log(
        `busy loop: ${busy} samples for ${cpuSeconds} s on CPU (${expected.toFixed(0)} expected; ${HZ * SECONDS} when alone)`,
      );
      expect(cpuSeconds).toBeGreaterThan(0.5);
      expect(busy).toBeGreaterThanOrEqual(Math.floor(expected * 0.85));
      expect(busy).toBeLessThanOrEqual(Math.ceil(expected * 1.15));
      expect(
        seriesOf(samples, 'ebpf_process_cpu_samples_total', { process_pid: String(spinner.pid) })[0]!.labels
          .process_executable_name,
      ).toBe('syscaller');
      expect(total(samples, 'ebpf_cpu_idle_samples_total')).toBeGreaterThan(0);
      if (sleeper.exitCode === null) await once(sleeper, 'exit');
      await watch;
      expect(sleeperSamples).toBeLessThanOrEqual(3);
    } finally {
      spinner.kill('SIGKILL');
      sleeper.kill('SIGKILL');
    }
  });

  it(`sizes both maps to --cpu-max-entries ${CAPACITY} and publishes their capacity and fill`, async () => {
    const samples = await agent.waitPolls(1);
    for (const map of ['cpu_samples', 'cpu_procs']) {
      const labels = { program: 'cpu', map };
      expect(total(samples, 'ebpf_agent_map_capacity', labels), map).toBe(CAPACITY);
      // The host's processes that ran while sampled: some, never more than the capacity.
      const entries = total(samples, 'ebpf_agent_map_entries', labels);
      expect(entries, map).toBeGreaterThan(0);
      expect(entries, map).toBeLessThanOrEqual(CAPACITY);
    }
    expect(total(samples, 'ebpf_agent_map_updates_dropped_total', { program: 'cpu', map: 'cpu_samples' })).toBe(0);
  });
});

// exits: a helper of this test's own (its executable name is this run's, so no other process on the machine lands in
// its series: the foreign agent and other tests run beside it) ends in each known way — exit 0, exit 3, a real
// SIGSEGV, SIGTERM and SIGKILL from outside — and each way is counted exactly once under its name. Then the helper
// runs in a memory-limited cgroup with a container-style cgroup v2 path, goes over its limit and is OOM-killed; the
// container's cgroup is removed at once (as a runtime removes a short job's), before the agent's next poll: one OOM
// kill and one SIGKILL are counted under its container labels all the same.
//
// This machine is cgroup v1 hybrid: the memory controller (memory.limit_in_bytes) is on the v1 hierarchy
// (/sys/fs/cgroup/memory), the v2 tree (/sys/fs/cgroup/unified) has no memory controller and gives the cgroup id
// the kernel records (bpf_get_current_cgroup_id) and so the container labels. On a pure v2 host memory.max of the
// same v2 cgroup does both: the test uses it when the v2 tree has the memory controller.
import { mkdirSync, mkdtempSync, rmdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectCgroup2Root } from '../../src/collector/cgroup.ts';
import { decodeExitCounts, EXITS_COUNTS_MAP, ExitsCollector, KernelExitSource } from '../../src/collector/exits.ts';
import { buildExiter, memoryLimit, runExiter, type MemoryLimit } from './exiter.ts';
import {
  expectNoAgentPrograms,
  killAllAgents,
  root,
  seriesOf,
  sleep,
  startAgent,
  type RunningAgent,
  type Sample,
} from './harness.ts';

const cgroup2 = detectCgroup2Root();
const dir = mkdtempSync(path.join(os.tmpdir(), 'eoa-exits-'));
// The executable name every series of this test is selected by: this run's own.
const exe = `eoa-exiter-${process.pid}`;
let exePath = '';
const run = (args: string[], then?: (pid: number) => void): ReturnType<typeof runExiter> =>
  runExiter(exePath, args, then);
const CONTAINER = '0e'.repeat(32);
const POD = '3c1f9a2e-5b7d-4e8f-9a0b-1c2d3e4f5a6b';

function exitsOf(samples: Sample[]): [string, string, number][] {
  return seriesOf(samples, 'ebpf_process_exits_total', { process_executable_name: exe })
    .map((s): [string, string, number] => {
      const how =
        s.labels.process_exit_reason === 'exited'
          ? `code_class=${s.labels.process_exit_code_class}`
          : `${s.labels.process_exit_signal} core_dumped=${s.labels.process_exit_core_dumped}`;
      return [s.labels.process_exit_reason!, how, s.value];
    })
    .sort((a, b) => `${a[0]}${a[1]}`.localeCompare(`${b[0]}${b[1]}`));
}

describe('exits program', () => {
  let agent: RunningAgent;
  const cgroups: string[] = [];
  let limit: MemoryLimit | undefined;

  beforeAll(async () => {
    exePath = buildExiter(dir, exe);
    agent = await startAgent(['--programs', 'exits', '--interval', '500ms', '--scrape-interval', '500ms']);
  });

  afterAll(async () => {
    await killAllAgents();
    for (const cgroup of cgroups.reverse()) {
      try {
        rmdirSync(cgroup);
      } catch {
        // already gone
      }
    }
    limit?.remove();
    rmSync(dir, { recursive: true, force: true });
    await expectNoAgentPrograms();
  });

  it('counts each way of ending exactly once under its executable', async () => {
    expect(await run(['exit', '0'])).toEqual({ code: 0, signal: null });
    expect(await run(['exit', '3'])).toEqual({ code: 3, signal: null });
    expect(await run(['segv'])).toEqual({ code: null, signal: 'SIGSEGV' });
    expect(await run(['wait'], (pid) => process.kill(pid, 'SIGTERM'))).toEqual({ code: null, signal: 'SIGTERM' });
    expect(await run(['wait'], (pid) => process.kill(pid, 'SIGKILL'))).toEqual({ code: null, signal: 'SIGKILL' });
    // Past the hold of a new series (--scrape-interval + --interval: 1 s), then two polls.
    await sleep(1_500);
    const samples = await agent.waitPolls(2);
    expect(exitsOf(samples)).toEqual([
      ['exited', 'code_class=0', 1],
      ['exited', 'code_class=nonzero', 1],
      ['signaled', 'SIGKILL core_dumped=false', 1],
      ['signaled', 'SIGSEGV core_dumped=false', 1],
      ['signaled', 'SIGTERM core_dumped=false', 1],
    ]);
    // None of them was an OOM kill; outside any container, no container labels.
    expect(seriesOf(samples, 'ebpf_oom_kills_total', { process_executable_name: exe })).toEqual([]);
    for (const s of seriesOf(samples, 'ebpf_process_exits_total', { process_executable_name: exe })) {
      expect(s.labels.container_id).toBeUndefined();
    }
    // Nothing was dropped.
    expect(seriesOf(samples, 'ebpf_agent_map_updates_dropped_total', { program: 'exits' })).toEqual([
      expect.objectContaining({ value: 0 }),
    ]);
  });

  it.skipIf(cgroup2 === undefined)(
    'counts an OOM kill under its container, whose cgroup is gone before the next poll',
    async () => {
      // The container's cgroup v2 path, as the cgroupfs driver makes it.
      let container = path.join(cgroup2!, `eoa-exits-${process.pid}`);
      const made = [container];
      for (const part of ['kubepods', `pod${POD}`, CONTAINER]) made.push((container = path.join(container, part)));
      for (const d of made) mkdirSync(d);
      cgroups.push(...made);
      limit = memoryLimit(cgroup2!, container, `eoa-exits-${process.pid}`, 16 << 20);
      expect(await run([...limit.args, 'hog'])).toEqual({ code: null, signal: 'SIGKILL' });
      // Gone at once, as a runtime removes a short job's container cgroup: only the cgroup_mkdir report knows it.
      rmdirSync(container);
      await sleep(1_500);
      const samples = await agent.waitPolls(2);
      const oom = seriesOf(samples, 'ebpf_oom_kills_total', { process_executable_name: exe });
      expect(oom.map((s) => [s.labels.container_id, s.labels.k8s_pod_uid, s.value])).toEqual([[CONTAINER, POD, 1]]);
      const killed = seriesOf(samples, 'ebpf_process_exits_total', {
        process_executable_name: exe,
        container_id: CONTAINER,
      });
      expect(killed.map((s) => [s.labels.process_exit_signal, s.value])).toEqual([['SIGKILL', 1]]);
    },
  );

  // exits_counts stays bounded without losing an exit: the collector's source flips the key generation at each poll
  // and deletes the keys of the generation before, which no exit counts into any more (src/collector/exits.ts). The
  // test drives a KernelExitSource and an ExitsCollector itself, polling every 50 ms while exits of two ways keep
  // coming (so exits land on both sides of every flip), then reads the map directly.
  it('deletes each generation’s keys once final, and counts every exit exactly', async () => {
    const source = new KernelExitSource({ objectPath: path.join(root, 'bpf', 'build', 'exits.bpf.o') });
    try {
      const collector = new ExitsCollector(source, {
        maxSeries: 10_000,
        holdMs: 0,
        groupRetentionMs: 600_000,
        exitedRetentionMs: 0,
      });
      const mine = (): { generation: number; count: number }[] =>
        decodeExitCounts(source.object.readMap(EXITS_COUNTS_MAP))
          .filter((c) => c.key.executable === exe)
          .map((c) => ({ generation: c.key.generation, count: c.count }));
      const counted = (): Record<string, number> => {
        const out: Record<string, number> = {};
        for (const s of collector.collect(Date.now()).exits.series) {
          if (s.labels.executable === exe) out[s.labels.codeClass!] = s.value;
        }
        return out;
      };
      let running = true;
      const ran = { '0': 0, nonzero: 0 };
      const workload = (async () => {
        for (let i = 0; running; i++) {
          const code = i % 3 === 0 ? 3 : 0;
          expect(await run(['exit', String(code)])).toEqual({ code, signal: null });
          ran[code === 0 ? '0' : 'nonzero']++;
        }
      })();
      const generationsSeen = new Set<number>();
      let polls = 0;
      const deadline = Date.now() + 3_000;
      while (Date.now() < deadline || polls < 20) {
        for (const k of mine()) generationsSeen.add(k.generation);
        counted();
        polls++;
        await sleep(50);
      }
      running = false;
      await workload;
      // Two polls: the last exits' generation becomes final at the first, is read and deleted at the second.
      counted();
      const after = counted();
      console.log(
        `exits generations: ${ran['0'] + ran.nonzero} exits over ${polls} polls; counted ${JSON.stringify(after)}; ` +
          `generations seen ${[...generationsSeen].join(',')}`,
      );
      expect(after).toEqual(ran);
      expect([...generationsSeen].sort()).toEqual([0, 1]);
      expect(ran.nonzero).toBeGreaterThan(2);
      // Nothing of this workload is left in the map, and the map is not full.
      expect(mine()).toEqual([]);
      expect(collector.drops().mapFull).toEqual({ [EXITS_COUNTS_MAP]: 0 });
    } finally {
      source.close();
    }
  });
});

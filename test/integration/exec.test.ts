// 100 execs of /bin/true raise ebpf_process_execs_total{process_executable_name="true"} by exactly 100.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
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

  it('keeps up with a storm: 20,000 execs as fast as two workers can, counted plus lost = 20,000, none lost', async () => {
    const STORM = 20_000;
    const labels = { process_executable_name: 'true', process_parent_executable_name: 'syscaller' };
    const before = await agent.waitPolls(1);
    execFileSync(syscallerPath, ['--exec', String(STORM), '/bin/true']);
    const after = await agent.waitPolls(2);
    const counted =
      total(after, 'ebpf_process_execs_total', labels) - total(before, 'ebpf_process_execs_total', labels);
    const lost =
      total(after, 'ebpf_agent_events_lost_total', { program: 'exec' }) -
      total(before, 'ebpf_agent_events_lost_total', { program: 'exec' });
    expect(counted + lost).toBe(STORM);
    expect(lost).toBe(0);
  });
});

describe('exec log', () => {
  let agent: RunningAgent;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'eoa-execlog-'));
    agent = await startAgent([
      '--programs',
      'exec',
      '--interval',
      '500ms',
      '--exec-log',
      path.join(dir, 'execs.jsonl'),
    ]);
  });
  afterAll(async () => {
    await killAllAgents();
    rmSync(dir, { recursive: true, force: true });
    await expectNoAgentPrograms();
  });

  function linesFrom(file: string, ppid: number): Record<string, unknown>[] {
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((event) => event.ppid === ppid);
  }

  it('writes one JSON line per exec, and reopens the file on SIGHUP', async () => {
    const file = path.join(dir, 'execs.jsonl');
    const first = spawnSync(syscallerPath, ['--exec', '3', '/bin/true']);
    expect(first.status).toBe(0);
    await agent.waitPolls(2);
    const events = linesFrom(file, first.pid!);
    expect(events).toHaveLength(3);
    for (const event of events) {
      expect(event).toMatchObject({ comm: 'true', parent_comm: 'syscaller', filename: '/bin/true', uid: 0 });
      expect(Number.isInteger(event.pid)).toBe(true);
      expect(Date.parse(String(event.time))).toBeGreaterThan(Date.now() - 60_000);
    }
    // Log rotation: move the file away, SIGHUP, and the next events go to a new file of the old name.
    renameSync(file, `${file}.1`);
    agent.process.kill('SIGHUP');
    await agent.waitPolls(1);
    const second = spawnSync(syscallerPath, ['--exec', '2', '/bin/true']);
    await agent.waitPolls(2);
    expect(linesFrom(file, second.pid!)).toHaveLength(2);
    expect(linesFrom(`${file}.1`, second.pid!)).toHaveLength(0);
  });
});

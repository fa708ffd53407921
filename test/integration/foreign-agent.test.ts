// The tests hold on a node where another agent already runs: global-setup.ts starts one on purpose, outside the
// test run's process tree, for the whole run. Here: it is there and not ours, the harness's "nothing of ours is
// loaded" check ignores its programs (every other file's cleanliness checks run beside it) and says so, and an
// agent of ours, stopped, is found gone while the foreign one keeps its programs.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, inject, it, vi } from 'vitest';
import { agentPrograms, expectNoAgentPrograms, killAllAgents, programsHeldBy, startAgent, total } from './harness.ts';

function ancestors(pid: number): number[] {
  const out: number[] = [];
  for (let p = pid; p > 1 && out.length < 64;) {
    const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
    p = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    out.push(p);
  }
  return out;
}

describe('another agent on the node', () => {
  const foreign = inject('foreignAgent');
  afterAll(async () => {
    await killAllAgents();
  });

  it('runs, serves and holds its programs, and is not a descendant of the test run', async () => {
    const samples = await fetch(`http://127.0.0.1:${foreign.port}/metrics`).then((r) => r.text());
    expect(samples).toMatch(/\nebpf_agent_polls_total /);
    expect(programsHeldBy(foreign.pid).sort()).toEqual([...foreign.programs].sort());
    expect(ancestors(foreign.pid)).not.toContain(process.pid);
  });

  it("is not counted as the tests' own, and is named once", async () => {
    const warn = vi.spyOn(console, 'warn');
    try {
      const ours = agentPrograms();
      for (const id of foreign.programs) expect(ours).not.toContain(id);
      agentPrograms();
      const notes = warn.mock.calls.map((args) => String(args[0])).filter((m) => m.includes('other processes'));
      expect(notes).toHaveLength(1);
      expect(notes[0]).toMatch(
        new RegExp(
          `eoa_\\* programs of other processes are loaded \\(pids .*\\b${foreign.pid} \\(node .*dist/cli\\.js --host`,
        ),
      );
      expect(notes[0]).toMatch(/the tests leave them alone/);
    } finally {
      warn.mockRestore();
    }
  });

  it('an agent of ours is found gone once stopped, while the foreign one keeps its programs', async () => {
    const agent = await startAgent(['--programs', 'syscalls', '--interval', '500ms']);
    const ours = programsHeldBy(agent.process.pid!);
    expect(ours.length).toBeGreaterThan(0);
    expect(agentPrograms()).toEqual(expect.arrayContaining(ours));
    expect(total(await agent.waitPolls(1), 'ebpf_agent_polls_total')).toBeGreaterThan(0);
    await agent.stop();
    await expectNoAgentPrograms();
    expect(programsHeldBy(foreign.pid).sort()).toEqual([...foreign.programs].sort());
  });
});

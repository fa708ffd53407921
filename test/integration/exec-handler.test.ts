// The exec handler: right PID and fields for a known exec, shell metacharacters never interpreted, rate limit and
// concurrency cap with every drop counted, no zombies, hung handlers killed with their process group, and no
// feedback loop (the handler's own execs never trigger it).
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  expectNoAgentPrograms,
  killAllAgents,
  root,
  runAgent,
  startAgent,
  syscallerPath,
  total,
  waitFor,
} from './harness.ts';

interface Call {
  arg: string;
  pid: string;
  ppid: string;
  comm: string;
  filename: string;
}

let dir: string;
let handler: string;

function calls(): Call[] {
  const file = path.join(dir, 'calls.log');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [arg, pid, ppid, comm, filename] = line.split('\t');
      return { arg: arg!, pid: pid!, ppid: ppid!, comm: comm!, filename: filename! };
    });
}

/** Children of a process that are zombies (exited, not reaped). */
function zombieChildren(ppid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z' && Number(fields[1]) === ppid) out.push(Number(entry));
    } catch {
      // gone
    }
  }
  return out;
}

describe('exec handler', () => {
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'eoa-handler-'));
    chmodSync(dir, 0o755);
    handler = path.join(dir, 'handler.sh');
    copyFileSync(path.join(root, 'test', 'helpers', 'handler-record.sh'), handler);
    chmodSync(handler, 0o755);
  });
  afterEach(async () => {
    await killAllAgents();
    rmSync(path.join(dir, 'calls.log'), { force: true });
    rmSync(path.join(dir, 'sleep'), { force: true });
    rmSync(path.join(dir, 'background'), { force: true });
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await expectNoAgentPrograms();
  });

  it('gets the PID of a known exec, and shell metacharacters in its file name stay text', async () => {
    const name = 'evil;touch pwned`id`$(id)&|>x';
    const binary = path.join(dir, name);
    copyFileSync('/bin/true', binary);
    chmodSync(binary, 0o755);
    const agent = await startAgent([
      '--programs',
      'exec',
      '--interval',
      '500ms',
      '--exec-handler',
      handler,
      '--exec-filter-comm',
      '^evil',
    ]);
    const child = spawn(binary, [], { stdio: 'ignore' });
    const pid = String(child.pid);
    await once(child, 'exit');
    const call = await waitFor('the handler call', () => calls().find((c) => c.pid === pid));
    expect(call.arg).toBe(pid);
    expect(call.ppid).toBe(String(process.pid));
    expect(call.filename).toBe(binary);
    expect(call.comm).toBe(name.slice(0, 15));
    const samples = await agent.waitPolls(2);
    expect(calls()).toHaveLength(1); // only the filtered exec; the handler's own date and sh never trigger it
    expect(existsSync(path.join(dir, 'pwned'))).toBe(false);
    expect(existsSync(path.join(root, 'pwned'))).toBe(false);
    expect(total(samples, 'ebpf_process_execs_total', { process_executable_name: 'id' })).toBe(0);
    expect(total(samples, 'ebpf_agent_exec_handler_runs_total')).toBe(1);
    expect(total(samples, 'ebpf_agent_exec_handler_skipped_total', { reason: 'own' })).toBeGreaterThanOrEqual(2);
    expect(total(samples, 'ebpf_agent_exec_handler_failures_total')).toBe(0);
  });

  it('1,000 execs at 100/s and concurrency 4: runs bounded by the rate, every drop counted, no zombies', async () => {
    writeFileSync(path.join(dir, 'sleep'), '0.05');
    const agent = await startAgent([
      '--programs',
      'exec',
      '--interval',
      '500ms',
      '--exec-handler',
      handler,
      '--exec-filter-comm',
      '^true$',
      '--exec-handler-rate',
      '100',
      '--exec-handler-concurrency',
      '4',
    ]);
    const started = Date.now();
    execFileSync(syscallerPath, ['--exec', '1000', '/bin/true']);
    const samples = await waitFor('every handler to finish', async () => {
      const s = await agent.waitPolls(1);
      return total(s, 'ebpf_agent_exec_handler_running') === 0 ? s : undefined;
    });
    const seconds = (Date.now() - started) / 1000;
    const runs = total(samples, 'ebpf_agent_exec_handler_runs_total');
    const rate = total(samples, 'ebpf_agent_exec_handler_dropped_total', { reason: 'rate_limit' });
    const concurrency = total(samples, 'ebpf_agent_exec_handler_dropped_total', { reason: 'concurrency' });
    expect(runs + rate + concurrency).toBe(1000);
    expect(runs).toBeGreaterThan(0);
    expect(runs).toBeLessThanOrEqual(100 + 100 * seconds); // burst + rate × time
    expect(rate + concurrency).toBeGreaterThan(0);
    expect(calls()).toHaveLength(runs);
    expect(total(samples, 'ebpf_agent_exec_handler_failures_total')).toBe(0);
    expect(zombieChildren(agent.process.pid!)).toEqual([]);
  });

  it('kills a handler that runs past its timeout, with everything it started', async () => {
    writeFileSync(path.join(dir, 'sleep'), '300');
    writeFileSync(path.join(dir, 'background'), '');
    const agent = await startAgent([
      '--programs',
      'exec',
      '--interval',
      '500ms',
      '--exec-handler',
      handler,
      '--exec-filter-comm',
      '^true$',
      '--exec-handler-timeout',
      '1s',
    ]);
    execFileSync(syscallerPath, ['--exec', '1', '/bin/true']);
    const call = await waitFor('the handler call', () => calls()[0]);
    const samples = await waitFor('the timeout', async () => {
      const s = await agent.waitPolls(1);
      return total(s, 'ebpf_agent_exec_handler_timeouts_total') === 1 ? s : undefined;
    });
    expect(total(samples, 'ebpf_agent_exec_handler_running')).toBe(0);
    // Nothing of the handler's process group is left: not the handler, not its background sleep. The group is
    // killed when the timeout is counted; a killed process shows in ps until it is reaped, so give that a moment.
    const sleeping = (): string[] =>
      execFileSync('ps', ['-e', '-o', 'pid=,args='], { encoding: 'utf8' })
        .split('\n')
        .filter((line) => line.includes('sleep 300'));
    const left = await waitFor(
      'the handler group to be gone',
      () => (sleeping().length === 0 ? [] : undefined),
      5_000,
    ).catch(() => sleeping());
    expect(left).toEqual([]);
    expect(zombieChildren(agent.process.pid!)).toEqual([]);
    expect(call.comm).toBe('true');
  });

  it('refuses to start with a handler that is missing, relative, not executable or world-writable', async () => {
    const cases: [string, RegExp][] = [
      [path.join(dir, 'missing.sh'), /--exec-handler .*missing\.sh does not exist/],
      ['handler.sh', /--exec-handler handler\.sh is a relative path/],
    ];
    const plain = path.join(dir, 'plain.sh');
    writeFileSync(plain, '#!/bin/sh\n');
    chmodSync(plain, 0o644);
    cases.push([plain, /--exec-handler .*plain\.sh is not executable: chmod \+x/]);
    const open = path.join(dir, 'open.sh');
    writeFileSync(open, '#!/bin/sh\n');
    chmodSync(open, 0o777);
    cases.push([open, /--exec-handler .*open\.sh is group- or world-writable .*chmod go-w/]);
    for (const [file, pattern] of cases) {
      const { code, stderr } = await runAgent(['--port', '0', '--exec-handler', file]);
      expect(code, stderr).toBe(1);
      const lines = stderr.trimEnd().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(pattern);
    }
  });
});

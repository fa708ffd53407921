// The /metrics output of an agent running every program passes promtool check metrics, also served gzipped,
// and the endpoints behave as the contract says.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectNoAgentPrograms,
  killAllAgents,
  startAgent,
  syscallerPath,
  total,
  type RunningAgent,
} from './harness.ts';
import { createVethPair, type VethPair } from './netns.ts';

describe('exposition', () => {
  let veth: VethPair;
  let agent: RunningAgent;
  beforeAll(async () => {
    veth = createVethPair(`p${process.pid % 10000}`);
    agent = await startAgent([
      '--programs',
      'exec,syscalls,xdp,cpu',
      '--xdp-interface',
      veth.host,
      '--interval',
      '500ms',
      '--bpf-stats',
    ]);
    execFileSync(syscallerPath, ['--exec', '3', '/bin/true']);
    await agent.waitPolls(2);
  });
  afterAll(async () => {
    await killAllAgents();
    veth?.destroy();
    await expectNoAgentPrograms();
  });

  it('passes promtool check metrics with every program running', async () => {
    const text = await agent.scrapeText();
    for (const family of [
      'ebpf_syscalls_total',
      'ebpf_process_execs_total',
      'ebpf_xdp_packets_total',
      'ebpf_xdp_bytes_total',
      'ebpf_agent_events_lost_total',
    ]) {
      expect(text).toContain(`# TYPE ${family} counter`);
    }
    // --bpf-stats: the kernel's run time and runs of each program.
    expect(text).toMatch(/\nebpf_agent_bpf_program_runs_total\{program="syscalls",bpf_program="eoa_sys_enter"\} [1-9]/);
    expect(text).toMatch(
      /\nebpf_agent_bpf_program_run_time_seconds_total\{program="syscalls",bpf_program="eoa_sys_enter"\} 0\.\d*[1-9]/,
    );
    const result = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('serves gzip when asked, /healthz and /readyz', async () => {
    const base = `http://127.0.0.1:${agent.port}`;
    const res = await fetch(`${base}/metrics`, {
      headers: { 'Accept-Encoding': 'gzip' },
      decompress: false,
    } as RequestInit);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    // fetch decompresses transparently; check the wire form with a raw request instead.
    const raw = execFileSync('curl', ['-s', '-H', 'Accept-Encoding: gzip', `${base}/metrics`]);
    expect(gunzipSync(raw).toString('utf8')).toContain('# TYPE ebpf_syscalls_total counter');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });

  it("publishes its own process's CPU time and resident memory, as /proc accounts them", async () => {
    const pid = agent.process.pid!;
    // utime and stime in clock ticks (1/100 s), VmRSS in KiB.
    const procCpu = (): number => {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(fields[11]) + Number(fields[12])) / 100;
    };
    const status = (key: string): number =>
      Number(new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
    const before = procCpu();
    const rssBefore = status('VmRSS');
    const samples = await agent.waitPolls(1);
    const after = procCpu();
    const rssAfter = status('VmRSS');
    const user = total(samples, 'ebpf_agent_cpu_time_seconds_total', { cpu_mode: 'user' });
    const system = total(samples, 'ebpf_agent_cpu_time_seconds_total', { cpu_mode: 'system' });
    expect(user).toBeGreaterThan(0);
    expect(system).toBeGreaterThan(0);
    // Read at the poll, between the two reads of /proc (which truncates to whole ticks).
    expect(user + system).toBeGreaterThanOrEqual(before);
    expect(user + system).toBeLessThanOrEqual(after + 0.02);
    const rss = total(samples, 'ebpf_agent_memory_usage_bytes');
    expect(rss).toBeGreaterThan(0.8 * Math.min(rssBefore, rssAfter));
    expect(rss).toBeLessThan(1.2 * Math.max(rssBefore, rssAfter));
    const peak = total(samples, 'ebpf_agent_memory_peak_bytes');
    expect(peak).toBeGreaterThanOrEqual(rss);
    expect(peak).toBeGreaterThanOrEqual(status('VmHWM') * 0.8);
  });
});

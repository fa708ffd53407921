// --otlp-logs against a real OpenTelemetry Collector (scripts/install-otelcol.sh, OTLP/HTTP receiver, file
// exporter): a known workload of this test's own executable — K execs of it, each exiting in a known way — arrives
// as exactly K exec records and K exit records (event.name process.exec / process.exit), with the semantic-convention
// attributes of src/events.ts (pid, executable, exit code or signal, lifetime), each record exactly once.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildExiter, runExiter } from './exiter.ts';
import { expectNoAgentPrograms, killAllAgents, startAgent, waitFor, type RunningAgent } from './harness.ts';
import { startCollector, type RunningCollector } from './otel-collector.ts';

interface LogRecord {
  eventName?: string;
  timeUnixNano?: string;
  attributes?: {
    key: string;
    value: { stringValue?: string; intValue?: string; boolValue?: boolean; doubleValue?: number };
  }[];
}

function recordsOf(line: string): Record<string, string | number | boolean>[] {
  const request = JSON.parse(line) as { resourceLogs?: { scopeLogs: { logRecords: LogRecord[] }[] }[] };
  const out: Record<string, string | number | boolean>[] = [];
  for (const rl of request.resourceLogs ?? []) {
    for (const sl of rl.scopeLogs) {
      for (const r of sl.logRecords) {
        const attrs: Record<string, string | number | boolean> = {};
        for (const a of r.attributes ?? []) {
          const v = a.value;
          attrs[a.key] =
            v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : (v.boolValue ?? v.doubleValue ?? ''));
        }
        out.push(attrs);
      }
    }
  }
  return out;
}

describe('OTLP logs of exec and exit events to a real OpenTelemetry Collector', () => {
  let dir: string;
  let collector: RunningCollector;
  let agent: RunningAgent;
  let exePath: string;
  const exe = `eoa-logger-${process.pid}`;

  const records = (): Record<string, string | number | boolean>[] => collector.lines().flatMap((l) => recordsOf(l));

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'eoa-otlp-logs-'));
    exePath = buildExiter(dir, exe);
    collector = await startCollector({ signal: 'logs', dir });
    const httpPort = collector.httpPort;
    agent = await startAgent([
      '--programs',
      'exec,exits',
      '--otlp-endpoint',
      `http://127.0.0.1:${httpPort}`,
      '--otlp-logs',
      '--interval',
      '500ms',
    ]);
  }, 900_000);

  afterAll(async () => {
    await killAllAgents();
    await collector?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    await expectNoAgentPrograms();
  });

  it('exports every exec and every exit of a known workload exactly once', async () => {
    // K = 4 runs, each an exec of the helper (spawn) and its exit.
    const runs = [
      await runExiter(exePath, ['exit', '0']),
      await runExiter(exePath, ['exit', '3']),
      await runExiter(exePath, ['segv']),
      await runExiter(exePath, ['wait'], (pid) => process.kill(pid, 'SIGKILL')),
    ];
    expect(runs.map((r) => r.code ?? r.signal)).toEqual([0, 3, 'SIGSEGV', 'SIGKILL']);
    const ours = (name: string): Record<string, string | number | boolean>[] =>
      records().filter((r) => r['event.name'] === name && r['process.executable.name'] === exe);
    await waitFor('the records to arrive', () => (ours('process.exit').length >= 4 ? true : undefined));
    // Two more polls: nothing arrives twice.
    await agent.waitPolls(2);
    await waitFor('the collector to flush', async () => {
      await new Promise((r) => setTimeout(r, 300));
      return true;
    });
    const execs = ours('process.exec');
    const exits = ours('process.exit');
    expect(execs).toHaveLength(4);
    expect(exits).toHaveLength(4);
    expect(new Set(execs.map((r) => r['process.pid'])).size).toBe(4);
    expect(exits.map((r) => r['process.pid']).sort()).toEqual(execs.map((r) => r['process.pid']).sort());
    for (const r of execs) {
      expect(r['process.executable.path']).toBe(exePath);
      expect(r['process.parent_pid']).toBe(process.pid);
    }
    const byPid = new Map(exits.map((r) => [r['process.pid'], r]));
    const how = execs.map((e) => {
      const x = byPid.get(e['process.pid'])!;
      return [x['process.exit.reason'], x['process.exit.code'] ?? x['process.exit.signal']];
    });
    expect(how).toEqual([
      ['exited', 0],
      ['exited', 3],
      ['signaled', 'SIGSEGV'],
      ['signaled', 'SIGKILL'],
    ]);
    for (const x of exits) {
      expect(x['process.exit.oom_killed']).toBe(false);
      expect(Number(x['process.lifetime_seconds'])).toBeGreaterThanOrEqual(0);
      expect(Number(x['process.lifetime_seconds'])).toBeLessThan(60);
    }
    const text = await agent.scrapeText();
    expect(text).toMatch(/^ebpf_agent_otlp_logs_dropped_total\{reason="queue_full"\} 0$/m);
    expect(text).toMatch(/^ebpf_agent_otlp_logs_dropped_total\{reason="export_failed"\} 0$/m);
  });
});

// The exec log: one JSON line per exec; a failed write (disk full) is counted and logged, never fatal, and
// writing resumes when it succeeds again.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ExecEvent } from '../../src/collector/exec.ts';
import { ExecLog, execLogLine } from '../../src/exec-log.ts';
import type { Logger } from '../../src/log.ts';

function event(pid: number): ExecEvent {
  return {
    timeMs: Date.UTC(2026, 11, 1),
    timeNs: 0n,
    cgroupId: 7n,
    pid,
    ppid: 1,
    uid: 0,
    comm: 'job',
    parentComm: 'sh',
    executable: 'job.sh',
    parentExecutable: 'bash',
    filename: '/usr/bin/job',
    filenameTruncated: false,
    fromAgent: false,
  };
}

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const log = (level: string) => (message: string, fields?: object) =>
    lines.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`);
  return { lines, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 50));

let tmp: string | undefined;
afterEach(() => {
  if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
  tmp = undefined;
});

describe('ExecLog', () => {
  it('writes one JSON line per exec, with container and pod fields when known', async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'eoa-execlog-'));
    const file = path.join(tmp, 'execs.jsonl');
    const log = new ExecLog(file, { attribute: () => ({ containerId: 'abc', podName: 'web' }) });
    log.write(event(10));
    log.write(event(11));
    await log.close();
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      pid: 10,
      comm: 'job',
      parent_comm: 'sh',
      executable: 'job.sh',
      parent_executable: 'bash',
      container_id: 'abc',
      k8s_pod_name: 'web',
    });
    expect(execLogLine(event(12))).not.toContain('container_id');
  });

  it('a full disk loses the lines, counts them and logs once, and never throws', async () => {
    // /dev/full: every write fails with ENOSPC, as on a full disk.
    const logger = recordingLogger();
    const log = new ExecLog('/dev/full', { logger });
    for (let pid = 1; pid <= 5; pid++) expect(() => log.write(event(pid))).not.toThrow();
    await settle();
    expect(log.stats().writeErrors).toBeGreaterThanOrEqual(1);
    const warnings = logger.lines.filter((l) => l.startsWith('warn exec log write failed'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('ENOSPC');
    // The stream is reopened for the next write after a failure: still counted, still not fatal.
    const before = log.stats().writeErrors;
    log.write(event(6));
    await settle();
    expect(log.stats().writeErrors).toBe(before + 1);
    await log.close();
  });

  it('logs the reopen on SIGHUP', async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'eoa-execlog-'));
    const logger = recordingLogger();
    const log = new ExecLog(path.join(tmp, 'execs.jsonl'), { logger });
    log.reopen();
    expect(logger.lines.some((l) => l.startsWith('info exec log reopened'))).toBe(true);
    await log.close();
  });
});

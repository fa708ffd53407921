// The exec handler (src/exec-handler.ts) without a kernel: filtering, the token bucket, the concurrency cap, what a
// handler is started with, exit/timeout/stop handling and log throttling, all with an injected clock and a fake
// spawn whose children are EventEmitters, so nothing real runs (process.kill is spied on and never really kills).
// Then checkExecHandler on real temp files, one real end-to-end run of a shell script, and the handler's options
// in resolveConfig (src/config.ts).
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { EventEmitter } from 'node:events';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import type { ExecEvent } from '../../src/collector/exec.ts';
import { resolveConfig, type RawOptions } from '../../src/config.ts';
import { UserError } from '../../src/errors.ts';
import { checkExecHandler, ExecHandler, type ExecHandlerOptions } from '../../src/exec-handler.ts';
import type { Logger } from '../../src/log.ts';

const HANDLER_PATH = '/usr/local/bin/on-exec';
const FIXED_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const PASSED_THROUGH = ['DISPLAY', 'WAYLAND_DISPLAY', 'XDG_RUNTIME_DIR', 'DBUS_SESSION_BUS_ADDRESS', 'HOME', 'LANG'];
const TIME_MS = Date.UTC(2024, 0, 2, 3, 4, 5, 678);

function execEvent(overrides: Partial<ExecEvent> = {}): ExecEvent {
  return {
    timeMs: TIME_MS,
    timeNs: BigInt(TIME_MS) * 1_000_000n + 123_456n,
    cgroupId: 77n,
    pid: 4242,
    ppid: 4200,
    uid: 1000,
    comm: 'curl',
    parentComm: 'bash',
    executable: 'curl',
    parentExecutable: 'bash',
    filename: '/usr/bin/curl',
    filenameTruncated: false,
    fromAgent: false,
    ...overrides,
  };
}

/** Stands in for a ChildProcess: only what the handler uses. */
class FakeChild extends EventEmitter {
  readonly pid: number | undefined;
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  readonly kills: (NodeJS.Signals | number | undefined)[] = [];

  constructor(pid: number | undefined) {
    super();
    this.pid = pid;
  }

  kill(signal?: NodeJS.Signals | number): boolean {
    this.kills.push(signal);
    return true;
  }

  /** Exits as a real child does: the codes are set before 'exit' is emitted. */
  exit(code: number | null, signal: NodeJS.Signals | null = null): void {
    this.exitCode = code;
    this.signalCode = signal;
    this.emit('exit', code, signal);
  }
}

interface SpawnCall {
  file: string;
  args: string[];
  options: SpawnOptions;
}

interface Warning {
  message: string;
  fields: Record<string, unknown> | undefined;
}

function recordingLogger(warnings: Warning[]): Logger {
  return {
    debug() {},
    info() {},
    warn(message, fields) {
      warnings.push({ message, fields });
    },
    error() {},
  };
}

/** A handler with a settable clock and a fake spawn; pids of fake children start at 900001. */
function harness(overrides: Partial<ExecHandlerOptions> = {}) {
  let nowMs = 1_700_000_000_000;
  let nextPid = 900_001;
  const children: FakeChild[] = [];
  const calls: SpawnCall[] = [];
  const warnings: Warning[] = [];
  const spawn = vi.fn((file: string, args: string[], options: SpawnOptions): ChildProcess => {
    calls.push({ file, args, options });
    const child = new FakeChild(nextPid++);
    children.push(child);
    return child as unknown as ChildProcess;
  });
  const handler = new ExecHandler({
    path: HANDLER_PATH,
    concurrency: 100,
    ratePerSecond: 1000,
    burst: 1000,
    timeoutMs: 5000,
    logger: recordingLogger(warnings),
    now: () => nowMs,
    spawn,
    ...overrides,
  });
  return {
    handler,
    spawn,
    children,
    calls,
    warnings,
    advance(ms: number) {
      nowMs += ms;
    },
  };
}

/** Lets pending promise callbacks run. */
async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

describe('ExecHandler with a fake spawn', () => {
  let processKill: MockInstance<typeof process.kill>;

  beforeEach(() => {
    // Fake timers so no handler timeout fires on its own, and process.kill never reaches a real process (group).
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    processKill = vi.spyOn(process, 'kill').mockImplementation(() => true);
  });

  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  describe('events that are not handled', () => {
    it('counts an exec by the agent or its descendants as own and never spawns', () => {
      const h = harness();
      h.handler.handle(execEvent({ fromAgent: true }));
      h.handler.handle(execEvent({ fromAgent: true, comm: 'on-exec' }));
      expect(h.spawn).not.toHaveBeenCalled();
      expect(h.handler.stats()).toEqual({
        runs: 0,
        failures: 0,
        timeouts: 0,
        dropped: { rate_limit: 0, concurrency: 0 },
        filtered: 0,
        own: 2,
        running: 0,
      });
    });

    it('checks fromAgent before the filters and the token bucket', () => {
      const h = harness({ burst: 1, ratePerSecond: 1, filterComm: /^curl$/, filterUids: [1000] });
      // Own execs are counted as own even when the filters would not select them.
      for (let i = 0; i < 5; i++) h.handler.handle(execEvent({ fromAgent: true, comm: 'on-exec', uid: 0 }));
      expect(h.handler.stats()).toMatchObject({ own: 5, filtered: 0, dropped: { rate_limit: 0, concurrency: 0 } });
      // The one token is still there.
      h.handler.handle(execEvent());
      expect(h.spawn).toHaveBeenCalledTimes(1);
    });

    it('counts execs whose comm does not match filterComm as filtered', () => {
      const h = harness({ filterComm: /^(ssh|sudo)$/ });
      h.handler.handle(execEvent({ comm: 'curl' }));
      h.handler.handle(execEvent({ comm: 'sshd' }));
      expect(h.spawn).not.toHaveBeenCalled();
      h.handler.handle(execEvent({ comm: 'sudo' }));
      expect(h.spawn).toHaveBeenCalledTimes(1);
      expect(h.handler.stats()).toMatchObject({ filtered: 2, runs: 1, own: 0 });
    });

    it('counts execs by other uids than filterUids as filtered', () => {
      const h = harness({ filterUids: [0, 1001] });
      h.handler.handle(execEvent({ uid: 1000 }));
      h.handler.handle(execEvent({ uid: 65534 }));
      expect(h.spawn).not.toHaveBeenCalled();
      h.handler.handle(execEvent({ uid: 0 }));
      h.handler.handle(execEvent({ uid: 1001 }));
      expect(h.spawn).toHaveBeenCalledTimes(2);
      expect(h.handler.stats()).toMatchObject({ filtered: 2, runs: 2 });
    });

    it('needs both filters to select an event', () => {
      const h = harness({ filterComm: /^sudo$/, filterUids: [1000] });
      h.handler.handle(execEvent({ comm: 'sudo', uid: 0 }));
      h.handler.handle(execEvent({ comm: 'curl', uid: 1000 }));
      expect(h.spawn).not.toHaveBeenCalled();
      h.handler.handle(execEvent({ comm: 'sudo', uid: 1000 }));
      expect(h.spawn).toHaveBeenCalledTimes(1);
      expect(h.handler.stats().filtered).toBe(2);
    });

    it('does not spend tokens on filtered events', () => {
      const h = harness({ burst: 1, ratePerSecond: 1, filterUids: [0] });
      for (let i = 0; i < 10; i++) h.handler.handle(execEvent({ uid: 1000 }));
      h.handler.handle(execEvent({ uid: 0 }));
      expect(h.spawn).toHaveBeenCalledTimes(1);
      expect(h.handler.stats()).toMatchObject({ filtered: 10, dropped: { rate_limit: 0, concurrency: 0 } });
    });
  });

  describe('token bucket', () => {
    it('lets burst events start in the same instant, then drops for rate_limit', () => {
      const h = harness({ burst: 3, ratePerSecond: 2, concurrency: 100 });
      for (let i = 0; i < 3; i++) h.handler.handle(execEvent({ pid: 100 + i }));
      expect(h.spawn).toHaveBeenCalledTimes(3);
      h.handler.handle(execEvent({ pid: 103 }));
      expect(h.spawn).toHaveBeenCalledTimes(3);
      expect(h.handler.stats()).toMatchObject({ runs: 3, dropped: { rate_limit: 1, concurrency: 0 } });
    });

    it('allows exactly one more after 1/rate seconds', () => {
      const h = harness({ burst: 3, ratePerSecond: 2, concurrency: 100 });
      for (let i = 0; i < 4; i++) h.handler.handle(execEvent());
      expect(h.spawn).toHaveBeenCalledTimes(3);
      h.advance(500);
      h.handler.handle(execEvent());
      h.handler.handle(execEvent());
      expect(h.spawn).toHaveBeenCalledTimes(4);
      expect(h.handler.stats().dropped.rate_limit).toBe(2);
      h.advance(500);
      h.handler.handle(execEvent());
      expect(h.spawn).toHaveBeenCalledTimes(5);
    });

    it('does not allow another one before 1/rate seconds have passed', () => {
      const h = harness({ burst: 2, ratePerSecond: 4, concurrency: 100 });
      h.handler.handle(execEvent());
      h.handler.handle(execEvent());
      h.advance(249);
      h.handler.handle(execEvent());
      expect(h.spawn).toHaveBeenCalledTimes(2);
      expect(h.handler.stats().dropped.rate_limit).toBe(1);
    });

    it('refills fractional rates', () => {
      const h = harness({ burst: 1, ratePerSecond: 0.5, concurrency: 100 });
      h.handler.handle(execEvent());
      h.advance(1000);
      h.handler.handle(execEvent());
      expect(h.spawn).toHaveBeenCalledTimes(1);
      h.advance(1000);
      h.handler.handle(execEvent());
      expect(h.spawn).toHaveBeenCalledTimes(2);
    });

    it('never holds more than burst tokens after a long idle time', () => {
      const h = harness({ burst: 3, ratePerSecond: 2, concurrency: 100 });
      h.handler.handle(execEvent());
      h.advance(24 * 3600 * 1000);
      for (let i = 0; i < 10; i++) h.handler.handle(execEvent());
      expect(h.spawn).toHaveBeenCalledTimes(1 + 3);
      expect(h.handler.stats().dropped.rate_limit).toBe(7);
    });

    it('starts with burst tokens, however long before the first event it was created', () => {
      const h = harness({ burst: 2, ratePerSecond: 10, concurrency: 100 });
      h.advance(3600 * 1000);
      for (let i = 0; i < 5; i++) h.handler.handle(execEvent());
      expect(h.spawn).toHaveBeenCalledTimes(2);
      expect(h.handler.stats().dropped.rate_limit).toBe(3);
    });

    it('does not mint tokens when the clock goes backwards', () => {
      const h = harness({ burst: 1, ratePerSecond: 1, concurrency: 100 });
      h.handler.handle(execEvent());
      h.advance(-10_000);
      h.handler.handle(execEvent());
      expect(h.spawn).toHaveBeenCalledTimes(1);
      h.advance(1000);
      h.handler.handle(execEvent());
      expect(h.spawn).toHaveBeenCalledTimes(2);
    });
  });

  describe('concurrency cap', () => {
    it('drops the event beyond concurrency running children without spending a token', () => {
      const h = harness({ concurrency: 2, burst: 3, ratePerSecond: 1 });
      h.handler.handle(execEvent({ pid: 1 }));
      h.handler.handle(execEvent({ pid: 2 }));
      expect(h.handler.stats().running).toBe(2);
      h.handler.handle(execEvent({ pid: 3 }));
      expect(h.spawn).toHaveBeenCalledTimes(2);
      expect(h.handler.stats()).toMatchObject({ running: 2, dropped: { concurrency: 1, rate_limit: 0 } });

      // Same instant: the third token is still there, so once a child has exited the next event starts…
      h.children[0]!.exit(0);
      expect(h.handler.stats().running).toBe(1);
      h.handler.handle(execEvent({ pid: 4 }));
      expect(h.spawn).toHaveBeenCalledTimes(3);
      expect(h.calls[2]!.args).toEqual(['4']);
      expect(h.handler.stats().running).toBe(2);
      // …and only then is the bucket empty.
      h.children[1]!.exit(0);
      h.handler.handle(execEvent({ pid: 5 }));
      expect(h.spawn).toHaveBeenCalledTimes(3);
      expect(h.handler.stats()).toMatchObject({ running: 1, dropped: { concurrency: 1, rate_limit: 1 } });
    });

    it('reports running children in stats().running', () => {
      const h = harness({ concurrency: 3 });
      expect(h.handler.stats().running).toBe(0);
      h.handler.handle(execEvent());
      h.handler.handle(execEvent());
      h.handler.handle(execEvent());
      expect(h.handler.stats().running).toBe(3);
      h.children[1]!.exit(1);
      expect(h.handler.stats().running).toBe(2);
      h.children[0]!.emit('error', new Error('EACCES'));
      expect(h.handler.stats().running).toBe(1);
      h.children[2]!.exit(null, 'SIGTERM');
      expect(h.handler.stats().running).toBe(0);
      expect(h.handler.stats().runs).toBe(3);
    });

    it('returns a copy from stats()', () => {
      const h = harness();
      const stats = h.handler.stats();
      stats.dropped.rate_limit = 99;
      stats.runs = 99;
      expect(h.handler.stats()).toMatchObject({ runs: 0, dropped: { rate_limit: 0 } });
    });
  });

  describe('spawn arguments', () => {
    const MARKER = 'EOA_EXEC_HANDLER_TEST_MARKER';

    afterEach(() => {
      delete process.env[MARKER];
    });

    it('runs the configured file with the pid as the only argument, detached, in a minimal environment', () => {
      process.env[MARKER] = 'must-not-leak';
      const h = harness();
      h.handler.handle(execEvent());
      expect(h.spawn).toHaveBeenCalledTimes(1);
      const { file, args, options } = h.calls[0]!;
      expect(file).toBe(HANDLER_PATH);
      expect(args).toEqual(['4242']);
      expect(options.detached).toBe(true);
      expect(options.shell).toBeFalsy();
      expect(Array.isArray(options.stdio)).toBe(true);
      expect((options.stdio as unknown[])[0]).toBe('ignore');

      const env = options.env!;
      expect(env).toMatchObject({
        EXEC_PID: '4242',
        EXEC_PPID: '4200',
        EXEC_UID: '1000',
        EXEC_COMM: 'curl',
        EXEC_PARENT_COMM: 'bash',
        EXEC_EXECUTABLE: 'curl',
        EXEC_PARENT_EXECUTABLE: 'bash',
        EXEC_FILENAME: '/usr/bin/curl',
        EXEC_TIME: '2024-01-02T03:04:05.678Z',
        EXEC_TIME_NS: '1704164645678123456',
        PATH: FIXED_PATH,
      });
      expect(env).not.toHaveProperty(MARKER);
      for (const name of Object.keys(env)) {
        expect(name.startsWith('EXEC_') || name === 'PATH' || PASSED_THROUGH.includes(name), name).toBe(true);
      }
      for (const name of PASSED_THROUGH) expect(env[name]).toBe(process.env[name]);
    });

    it('does not take PATH from the agent', () => {
      const saved = process.env.PATH;
      process.env.PATH = '/home/attacker/bin';
      try {
        const h = harness();
        h.handler.handle(execEvent());
        expect(h.calls[0]!.options.env!.PATH).toBe(FIXED_PATH);
      } finally {
        process.env.PATH = saved;
      }
    });

    it('passes a filename with shell metacharacters verbatim, only in EXEC_FILENAME', () => {
      const filename = '/tmp/a;b$(c) `d` | e && "f" \'g\' > h * ~ \\ \n';
      const h = harness();
      h.handler.handle(execEvent({ pid: 7, filename, comm: '$(id)', parentComm: ';ls' }));
      const { file, args, options } = h.calls[0]!;
      expect(file).toBe(HANDLER_PATH);
      expect(args).toEqual(['7']);
      expect(options.env!.EXEC_FILENAME).toBe(filename);
      expect(options.env!.EXEC_COMM).toBe('$(id)');
      expect(options.env!.EXEC_PARENT_COMM).toBe(';ls');
    });

    it('builds a fresh environment for each child', () => {
      const h = harness();
      h.handler.handle(execEvent({ pid: 1, uid: 0 }));
      h.handler.handle(execEvent({ pid: 2, uid: 5 }));
      expect(h.calls[0]!.options.env).not.toBe(h.calls[1]!.options.env);
      expect(h.calls[0]!.options.env).toMatchObject({ EXEC_PID: '1', EXEC_UID: '0' });
      expect(h.calls[1]!.options.env).toMatchObject({ EXEC_PID: '2', EXEC_UID: '5' });
    });
  });

  describe('exit handling', () => {
    it('counts nothing for exit code 0', () => {
      const h = harness();
      h.handler.handle(execEvent());
      h.children[0]!.exit(0);
      expect(h.handler.stats()).toMatchObject({ runs: 1, failures: 0, timeouts: 0, running: 0 });
      expect(h.warnings).toEqual([]);
    });

    it('counts a failure for a non-zero exit code', () => {
      const h = harness();
      h.handler.handle(execEvent());
      h.children[0]!.exit(3);
      expect(h.handler.stats()).toMatchObject({ runs: 1, failures: 1, timeouts: 0, running: 0 });
      expect(h.warnings).toHaveLength(1);
      expect(h.warnings[0]!.fields).toMatchObject({ exec_pid: 4242, code: 3 });
    });

    it('counts a failure for a signal the agent did not send', () => {
      const h = harness();
      h.handler.handle(execEvent());
      h.children[0]!.exit(null, 'SIGSEGV');
      expect(h.handler.stats()).toMatchObject({ failures: 1, timeouts: 0, running: 0 });
      expect(h.warnings[0]!.fields).toMatchObject({ signal: 'SIGSEGV' });
    });

    it("counts a failure for an 'error' (could not start) and frees the slot", () => {
      const h = harness({ concurrency: 1 });
      h.handler.handle(execEvent());
      expect(h.handler.stats().running).toBe(1);
      h.children[0]!.emit('error', new Error('spawn /usr/local/bin/on-exec EACCES'));
      expect(h.handler.stats()).toMatchObject({ runs: 1, failures: 1, running: 0 });
      expect(h.warnings[0]!.message).toContain('EACCES');
      // Counted once even if 'exit' follows.
      h.children[0]!.exit(-13);
      expect(h.handler.stats().failures).toBe(1);
      // The slot is free again.
      h.handler.handle(execEvent());
      expect(h.spawn).toHaveBeenCalledTimes(2);
    });

    it('counts a failure when spawn throws', () => {
      const h = harness();
      h.spawn.mockImplementationOnce(() => {
        throw new Error('spawn EINVAL');
      });
      expect(() => h.handler.handle(execEvent())).not.toThrow();
      expect(h.handler.stats()).toMatchObject({ failures: 1, running: 0 });
      expect(h.warnings[0]!.message).toContain('spawn EINVAL');
      expect(vi.getTimerCount()).toBe(0);
      h.handler.handle(execEvent());
      expect(h.handler.stats()).toMatchObject({ failures: 1, running: 1 });
    });

    it('clears the timeout when a child exits in time', () => {
      const h = harness({ timeoutMs: 1000 });
      h.handler.handle(execEvent());
      expect(vi.getTimerCount()).toBe(1);
      h.children[0]!.exit(0);
      expect(vi.getTimerCount()).toBe(0);
      vi.advanceTimersByTime(10_000);
      expect(processKill).not.toHaveBeenCalled();
      expect(h.handler.stats()).toMatchObject({ timeouts: 0, failures: 0 });
    });
  });

  describe('timeout', () => {
    it("kills the child's process group after timeoutMs and counts a timeout, not a failure", () => {
      const h = harness({ timeoutMs: 2000 });
      h.handler.handle(execEvent());
      const child = h.children[0]!;
      vi.advanceTimersByTime(1999);
      expect(processKill).not.toHaveBeenCalled();
      vi.advanceTimersByTime(1);
      expect(processKill).toHaveBeenCalledTimes(1);
      expect(processKill).toHaveBeenCalledWith(-child.pid!, 'SIGKILL');
      expect(child.kills).toEqual([]);
      // Still running until it has been reaped.
      expect(h.handler.stats()).toMatchObject({ running: 1, timeouts: 0 });

      child.exit(null, 'SIGKILL');
      expect(h.handler.stats()).toMatchObject({ running: 0, timeouts: 1, failures: 0 });
      expect(h.warnings).toHaveLength(1);
      expect(h.warnings[0]!.message).toContain('timed out');
      expect(h.warnings[0]!.fields).toMatchObject({
        exec_pid: 4242,
        handler_pid: expect.any(Number),
        timeout_ms: 2000,
      });
    });

    it('kills only the children that hang', () => {
      const h = harness({ timeoutMs: 1000 });
      h.handler.handle(execEvent({ pid: 1 }));
      h.handler.handle(execEvent({ pid: 2 }));
      h.children[0]!.exit(0);
      vi.advanceTimersByTime(1000);
      expect(processKill).toHaveBeenCalledTimes(1);
      expect(processKill).toHaveBeenCalledWith(-h.children[1]!.pid!, 'SIGKILL');
    });

    it('falls back to killing the child itself when the group cannot be signalled', () => {
      processKill.mockImplementation(() => {
        throw Object.assign(new Error('kill ESRCH'), { code: 'ESRCH' });
      });
      const h = harness({ timeoutMs: 1000 });
      h.handler.handle(execEvent());
      vi.advanceTimersByTime(1000);
      expect(h.children[0]!.kills).toEqual(['SIGKILL']);
      h.children[0]!.exit(null, 'SIGKILL');
      expect(h.handler.stats()).toMatchObject({ timeouts: 1, failures: 0 });
    });
  });

  describe('stop()', () => {
    it('kills the running groups and resolves once every child has exited', async () => {
      const h = harness();
      h.handler.handle(execEvent({ pid: 1 }));
      h.handler.handle(execEvent({ pid: 2 }));
      h.handler.handle(execEvent({ pid: 3 }));
      h.children[2]!.exit(0);
      const [a, b] = h.children as [FakeChild, FakeChild];

      let stopped = false;
      const stopping = h.handler.stop().then(() => {
        stopped = true;
      });
      expect(processKill).toHaveBeenCalledTimes(2);
      expect(processKill).toHaveBeenCalledWith(-a.pid!, 'SIGKILL');
      expect(processKill).toHaveBeenCalledWith(-b.pid!, 'SIGKILL');

      await flush();
      expect(stopped).toBe(false);
      a.exit(null, 'SIGKILL');
      await flush();
      expect(stopped).toBe(false);
      b.exit(null, 'SIGKILL');
      await stopping;
      expect(stopped).toBe(true);
      expect(h.handler.stats().running).toBe(0);
    });

    it('resolves at once with nothing running', async () => {
      const h = harness();
      await expect(h.handler.stop()).resolves.toBeUndefined();
      expect(processKill).not.toHaveBeenCalled();
    });

    it('makes handle() do nothing afterwards', async () => {
      const h = harness();
      await h.handler.stop();
      const before = h.handler.stats();
      h.handler.handle(execEvent());
      h.handler.handle(execEvent({ fromAgent: true }));
      h.handler.handle(execEvent({ comm: 'x' }));
      expect(h.spawn).not.toHaveBeenCalled();
      expect(h.handler.stats()).toEqual(before);
    });

    it('does not start new children while waiting for the old ones', async () => {
      const h = harness();
      h.handler.handle(execEvent());
      const stopping = h.handler.stop();
      h.handler.handle(execEvent());
      expect(h.spawn).toHaveBeenCalledTimes(1);
      h.children[0]!.exit(null, 'SIGKILL');
      await stopping;
    });
  });

  describe('logging', () => {
    it('logs the first 10 failures, then one in a hundred', () => {
      const h = harness({ burst: 1000, ratePerSecond: 1, concurrency: 1000 });
      for (let i = 0; i < 1000; i++) {
        h.handler.handle(execEvent({ pid: i + 1 }));
        h.children[i]!.exit(1);
      }
      expect(h.handler.stats()).toMatchObject({ runs: 1000, failures: 1000, running: 0 });
      expect(h.warnings.length).toBeLessThanOrEqual(20);
      expect(h.warnings.length).toBeGreaterThanOrEqual(11);
      expect(h.warnings.slice(0, 10).map((w) => w.fields?.exec_pid)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(h.warnings.slice(10).map((w) => w.fields?.exec_pid)).toEqual([
        100, 200, 300, 400, 500, 600, 700, 800, 900, 1000,
      ]);
    });

    it('throttles failures to start as well', () => {
      const h = harness({ burst: 1000, ratePerSecond: 1, concurrency: 1000 });
      h.spawn.mockImplementation(() => {
        throw new Error('spawn EAGAIN');
      });
      for (let i = 0; i < 1000; i++) h.handler.handle(execEvent());
      expect(h.handler.stats().failures).toBe(1000);
      expect(h.warnings.length).toBeLessThanOrEqual(20);
    });
  });
});

describe('checkExecHandler', () => {
  const isRoot = process.getuid?.() === 0;
  let dir: string;
  let file: string;

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'eoa-exec-handler-check-'));
    chmodSync(dir, 0o755);
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  let counter = 0;
  beforeEach(() => {
    file = path.join(dir, `handler-${counter++}.sh`);
    writeFileSync(file, '#!/bin/sh\nexit 0\n');
  });

  /** Expects a one-sentence UserError naming the file, and returns its message. */
  function refusal(fn: () => void, name: string): string {
    let thrown: unknown;
    try {
      fn();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(UserError);
    const message = (thrown as UserError).message;
    expect(message).toContain(name);
    expect(message).toContain('--exec-handler');
    expect(message).not.toContain('\n');
    return message;
  }

  it.runIf(isRoot)('accepts a root-owned 0755 file', () => {
    chmodSync(file, 0o755);
    expect(() => checkExecHandler(file)).not.toThrow();
    expect(() => checkExecHandler(file, 1000)).not.toThrow();
  });
  if (!isRoot) console.log('checkExecHandler: skipping the root-owned and chown cases: the tests do not run as root');

  it('accepts a 0755 file owned by the given uid', () => {
    chmodSync(file, 0o755);
    expect(() => checkExecHandler(file, process.getuid!())).not.toThrow();
  });

  it('refuses a relative path', () => {
    const message = refusal(() => checkExecHandler('bin/on-exec.sh'), 'bin/on-exec.sh');
    expect(message).toContain('relative');
    expect(message).toContain(path.resolve('bin/on-exec.sh'));
  });

  it('refuses a file that does not exist', () => {
    const missing = path.join(dir, 'missing.sh');
    expect(refusal(() => checkExecHandler(missing), missing)).toContain('does not exist');
  });

  it('refuses a directory', () => {
    const sub = path.join(dir, `subdir-${counter++}`);
    mkdirSync(sub, { mode: 0o755 });
    chmodSync(sub, 0o755);
    expect(refusal(() => checkExecHandler(sub), sub)).toContain('not a regular file');
  });

  it('refuses a file that is not executable (0644)', () => {
    chmodSync(file, 0o644);
    expect(refusal(() => checkExecHandler(file), file)).toContain('not executable');
  });

  it('refuses a group-writable file (0775)', () => {
    chmodSync(file, 0o775);
    const message = refusal(() => checkExecHandler(file), file);
    expect(message).toContain('writable');
    expect(message).toContain('775');
  });

  it('refuses a world-writable file (0757)', () => {
    chmodSync(file, 0o757);
    const message = refusal(() => checkExecHandler(file), file);
    expect(message).toContain('writable');
    expect(message).toContain('757');
  });

  it.runIf(isRoot)('refuses a file owned by someone else', () => {
    chmodSync(file, 0o755);
    chownSync(file, 12345, 0);
    const message = refusal(() => checkExecHandler(file), file);
    expect(message).toContain('12345');
    // Owned by the agent's own user is fine.
    expect(() => checkExecHandler(file, 12345)).not.toThrow();
  });

  describe('its directory chain', () => {
    /** A new directory under the test's (0755, in the sticky /tmp) with `mode`, holding a 0755 handler. */
    function handlerIn(mode: number, parent = dir): { sub: string; handler: string } {
      const sub = path.join(parent, `chain-${counter++}`);
      mkdirSync(sub);
      chmodSync(sub, mode);
      const handler = path.join(sub, 'on-exec.sh');
      writeFileSync(handler, '#!/bin/sh\n');
      chmodSync(handler, 0o755);
      return { sub, handler };
    }

    it('accepts a handler in a 0755 directory under the sticky, world-writable /tmp', () => {
      expect(statSync(os.tmpdir()).mode & 0o1777).toBe(0o1777);
      expect(() => checkExecHandler(handlerIn(0o755).handler, process.getuid!())).not.toThrow();
    });

    it('refuses a handler in a world-writable directory, naming it', () => {
      const { sub, handler } = handlerIn(0o777);
      const message = refusal(() => checkExecHandler(handler), handler);
      expect(message).toContain(`directory ${sub} `);
      expect(message).toContain('mode 777');
      expect(message).toContain(`chmod go-w ${sub}`);
    });

    it('refuses a handler in a group-writable directory', () => {
      const { sub, handler } = handlerIn(0o775);
      expect(refusal(() => checkExecHandler(handler), handler)).toContain(`directory ${sub} `);
    });

    it('accepts a world-writable directory with the sticky bit (as /tmp)', () => {
      const { handler } = handlerIn(0o1777);
      expect(() => checkExecHandler(handler, process.getuid!())).not.toThrow();
    });

    it('refuses a world-writable directory further up the chain', () => {
      const open = handlerIn(0o777).sub;
      const { handler } = handlerIn(0o755, open);
      const message = refusal(() => checkExecHandler(handler), handler);
      expect(message).toContain(`directory ${open} `);
    });

    it('follows symbolic links: a link in a safe directory to a handler in an unsafe one', () => {
      const unsafe = handlerIn(0o777);
      const safe = handlerIn(0o755);
      const link = path.join(safe.sub, 'link.sh');
      symlinkSync(unsafe.handler, link);
      expect(refusal(() => checkExecHandler(link), link)).toContain(`directory ${unsafe.sub} `);
      // A relative link to a safe handler is fine.
      const good = path.join(safe.sub, 'good.sh');
      symlinkSync('on-exec.sh', good);
      expect(() => checkExecHandler(good, process.getuid!())).not.toThrow();
    });

    it('follows symbolic links: a linked directory that is unsafe', () => {
      const unsafe = handlerIn(0o777);
      const safe = handlerIn(0o755);
      const linked = path.join(safe.sub, 'linked');
      symlinkSync(unsafe.sub, linked);
      const handler = path.join(linked, 'on-exec.sh');
      expect(refusal(() => checkExecHandler(handler), handler)).toContain(`directory ${unsafe.sub} `);
    });

    it.runIf(isRoot)('refuses a directory owned by another user, naming it and the uid', () => {
      const { sub, handler } = handlerIn(0o755);
      chownSync(sub, 12345, 0);
      const message = refusal(() => checkExecHandler(handler), handler);
      expect(message).toContain(`directory ${sub} `);
      expect(message).toContain('uid 12345');
      // The agent's own user's directory is fine.
      expect(() => checkExecHandler(handler, 12345)).not.toThrow();
    });
  });
});

describe('ExecHandler end to end (real spawn)', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'eoa-exec-handler-e2e-'));
    chmodSync(dir, 0o755);
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs a shell script with the pid and the EXEC_* environment, nothing interpreted', async () => {
    const script = path.join(dir, 'handler.sh');
    const out = path.join(dir, 'out');
    writeFileSync(
      script,
      '#!/bin/sh\nd=$(dirname "$0")\nprintf \'%s %s %s\\n\' "$1" "$EXEC_PID" "$EXEC_FILENAME" > "$d/out.tmp"\nmv "$d/out.tmp" "$d/out"\n',
    );
    chmodSync(script, 0o755);
    expect(() => checkExecHandler(script)).not.toThrow();

    const warnings: Warning[] = [];
    const handler = new ExecHandler({
      path: script,
      concurrency: 1,
      ratePerSecond: 1,
      burst: 1,
      timeoutMs: 10_000,
      logger: recordingLogger(warnings),
    });
    try {
      handler.handle(execEvent({ pid: 4242, filename: '/tmp/a;b$(c)' }));
      expect(handler.stats().runs).toBe(1);
      const deadline = Date.now() + 10_000;
      while (!existsSync(out) || handler.stats().running > 0) {
        if (Date.now() > deadline) throw new Error(`the handler did not finish: ${JSON.stringify(handler.stats())}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(readFileSync(out, 'utf8')).toBe('4242 4242 /tmp/a;b$(c)\n');
      expect(handler.stats()).toMatchObject({ runs: 1, failures: 0, timeouts: 0, running: 0 });
      expect(warnings).toEqual([]);
    } finally {
      await handler.stop();
    }
  });
});

describe('resolveConfig: exec handler options', () => {
  const BPF_DIR = '/opt/agent/bpf';
  const resolve = (raw: RawOptions) => resolveConfig(raw, BPF_DIR);

  beforeEach(() => {
    vi.stubEnv('KUBELET_HOST', '');
    vi.stubEnv('NODE_NAME', '');
  });

  afterEach(() => {
    vi.unstubAllEnvs();
  });

  function userError(fn: () => unknown): string {
    let thrown: unknown;
    try {
      fn();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(UserError);
    expect((thrown as UserError).message).not.toContain('\n');
    return (thrown as UserError).message;
  }

  it('has no handler and sane defaults when unset', () => {
    const config = resolve({});
    expect(config.execHandler).toBeUndefined();
    expect(config).toMatchObject({
      execHandlerConcurrency: 4,
      execHandlerRate: 10,
      execHandlerBurst: 10,
      execHandlerTimeoutMs: 10_000,
    });
    expect(config.execFilterComm).toBeUndefined();
    expect(config.execFilterUids).toBeUndefined();
  });

  it('refuses a handler without the exec program', () => {
    const message = userError(() => resolve({ execHandler: HANDLER_PATH, programs: 'syscalls' }));
    expect(message).toContain('--exec-handler');
    expect(message).toContain('exec');
    expect(resolve({ execHandler: HANDLER_PATH, programs: 'exec,syscalls' }).execHandler).toBe(HANDLER_PATH);
  });

  it('refuses a bad --exec-filter-comm regular expression, naming it', () => {
    const message = userError(() => resolve({ execFilterComm: '(ssh' }));
    expect(message).toContain('--exec-filter-comm');
    expect(message).toContain('"(ssh"');
  });

  it('compiles --exec-filter-comm and parses --exec-filter-uid', () => {
    const config = resolve({ execFilterComm: '^(ssh|sudo)$', execFilterUid: ['0', '1000,1001'] });
    expect(config.execFilterComm).toBeInstanceOf(RegExp);
    expect(config.execFilterComm!.test('sudo')).toBe(true);
    expect(config.execFilterComm!.test('sshd')).toBe(false);
    expect(config.execFilterUids).toEqual([0, 1000, 1001]);
    expect(userError(() => resolve({ execFilterUid: 'root' }))).toContain('--exec-filter-uid');
  });

  it('refuses --exec-handler-rate 0 and other non-rates', () => {
    for (const rate of ['0', 0, '-1', 'fast', '1e9']) {
      expect(userError(() => resolve({ execHandlerRate: rate }))).toContain('--exec-handler-rate');
    }
  });

  it('defaults the burst to ceil(rate), at least 1', () => {
    expect(resolve({ execHandlerRate: '2.5' })).toMatchObject({ execHandlerRate: 2.5, execHandlerBurst: 3 });
    expect(resolve({ execHandlerRate: '7' })).toMatchObject({ execHandlerRate: 7, execHandlerBurst: 7 });
    expect(resolve({ execHandlerRate: '0.5' })).toMatchObject({ execHandlerRate: 0.5, execHandlerBurst: 1 });
    expect(resolve({ execHandlerRate: '7', execHandlerBurst: '20' }).execHandlerBurst).toBe(20);
    expect(userError(() => resolve({ execHandlerBurst: '0' }))).toContain('--exec-handler-burst');
  });

  it('parses --exec-handler-timeout as a duration', () => {
    expect(resolve({ execHandlerTimeout: '2s' }).execHandlerTimeoutMs).toBe(2000);
    expect(resolve({ execHandlerTimeout: '1500ms' }).execHandlerTimeoutMs).toBe(1500);
    expect(userError(() => resolve({ execHandlerTimeout: 'soon' }))).toContain('--exec-handler-timeout');
  });

  it('checks --exec-handler-concurrency', () => {
    expect(resolve({ execHandlerConcurrency: '8' }).execHandlerConcurrency).toBe(8);
    expect(userError(() => resolve({ execHandlerConcurrency: '0' }))).toContain('--exec-handler-concurrency');
  });
});

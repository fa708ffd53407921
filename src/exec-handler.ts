// --exec-handler: runs a program once per exec, with the PID as its only argument and the event in EXEC_*
// environment variables. Safe to leave running: spawned directly (never through a shell), filtered, rate limited
// by a token bucket, capped in concurrency, killed (with its whole process group) when it hangs, and every child
// reaped. Execs by the handler and its descendants are marked by the kernel and never handled, so a handler that
// execs cannot trigger itself. Every event not handled is counted by reason.
import { spawn as nodeSpawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { accessSync, constants as fsConstants, lstatSync, readlinkSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import type { ExecEvent } from './collector/exec.ts';
import { UserError } from './errors.ts';
import type { Logger } from './log.ts';

export interface ExecHandlerOptions {
  path: string;
  /** Handlers running at once at most; events beyond are dropped (and counted). */
  concurrency: number;
  /** Token bucket: sustained handler starts per second… */
  ratePerSecond: number;
  /** …and how many may start at once after a quiet period. */
  burst: number;
  /** A handler running longer is killed with its process group. */
  timeoutMs: number;
  /** Only execs whose comm (not the executable name) matches. */
  filterComm?: RegExp;
  /** Only execs by these uids. */
  filterUids?: readonly number[];
  logger: Logger;
  now?: () => number;
  spawn?: (file: string, args: string[], options: SpawnOptions) => ChildProcess;
}

export interface ExecHandlerStats {
  /** Handlers started. */
  runs: number;
  /** Handlers that could not start, or exited non-zero or by a signal other than our timeout kill. */
  failures: number;
  /** Handlers killed for running longer than the timeout. */
  timeouts: number;
  /** Events not handled, by reason: rate_limit, concurrency. */
  dropped: { rate_limit: number; concurrency: number };
  /** Events the filters did not select (not drops). */
  filtered: number;
  /** Execs by the agent's own descendants, never handled. */
  own: number;
  running: number;
}

/** Environment a handler may inherit from the agent: what a notifier needs to reach a desktop session. */
const PASSED_THROUGH = ['DISPLAY', 'WAYLAND_DISPLAY', 'XDG_RUNTIME_DIR', 'DBUS_SESSION_BUS_ADDRESS', 'HOME', 'LANG'];

/** Refuses, with one sentence, a handler that is not safe to run as the agent's user. */
export function checkExecHandler(file: string, uid = process.getuid?.() ?? 0): void {
  if (!path.isAbsolute(file)) {
    throw new UserError(`--exec-handler ${file} is a relative path: give an absolute path, e.g. ${path.resolve(file)}`);
  }
  let stat;
  try {
    stat = statSync(file);
  } catch {
    throw new UserError(`--exec-handler ${file} does not exist`);
  }
  if (!stat.isFile()) throw new UserError(`--exec-handler ${file} is not a regular file`);
  try {
    accessSync(file, fsConstants.X_OK);
    if ((stat.mode & 0o111) === 0) throw new Error('not executable');
  } catch {
    throw new UserError(`--exec-handler ${file} is not executable: chmod +x ${file}`);
  }
  if ((stat.mode & 0o022) !== 0) {
    throw new UserError(
      `--exec-handler ${file} is group- or world-writable (mode ${(stat.mode & 0o777).toString(8)}), so anyone could change what the agent runs: chmod go-w ${file}`,
    );
  }
  if (stat.uid !== 0 && stat.uid !== uid) {
    throw new UserError(
      `--exec-handler ${file} is owned by uid ${stat.uid}, neither root nor the agent's user: chown root ${file}`,
    );
  }
  checkDirectoryChain(file, uid);
}

/** Symbolic links followed at most while resolving the handler's path (the kernel's own limit, MAXSYMLINKS). */
const MAX_SYMLINKS = 40;

/**
 * Refuses a handler that someone other than root or the agent's user could replace through a directory: every
 * directory the kernel looks a name up in to reach the file (the whole chain from /, through the targets of
 * symbolic links too) must be owned by root or the agent's user, and not be group- or world-writable unless its
 * sticky bit is set (as on /tmp: there only an entry's owner may rename or remove it, and the next entry is checked
 * in turn). The rule of OpenSSH's StrictModes (safe_path) and sudo's secure-path checks, symlink-aware.
 */
function checkDirectoryChain(file: string, uid: number): void {
  const check = (dir: string, stat: Stats): void => {
    if (stat.uid !== 0 && stat.uid !== uid) {
      throw new UserError(
        `--exec-handler ${file}: directory ${dir} on its path is owned by uid ${stat.uid}, neither root nor the agent's user, who could replace the handler: chown root ${dir}, or move the handler to a root-owned directory such as /usr/local/libexec`,
      );
    }
    if ((stat.mode & 0o022) !== 0 && (stat.mode & 0o1000) === 0) {
      throw new UserError(
        `--exec-handler ${file}: directory ${dir} on its path is group- or world-writable (mode ${(stat.mode & 0o7777).toString(8)}), so anyone could replace the handler: chmod go-w ${dir}, or move the handler to a root-owned directory such as /usr/local/libexec`,
      );
    }
  };
  // Resolve as the kernel does: one name at a time from a real (link-free) directory, links spliced in.
  let dir = '/';
  check(dir, statSync(dir));
  const pending = file.split('/').filter((name) => name !== '' && name !== '.');
  let links = 0;
  while (pending.length > 0) {
    const name = pending.shift()!;
    if (name === '..') {
      dir = path.dirname(dir);
      continue;
    }
    const entry = path.join(dir, name);
    let stat: Stats;
    try {
      stat = lstatSync(entry);
    } catch {
      throw new UserError(`--exec-handler ${file} does not exist (${entry} is missing)`);
    }
    if (stat.isSymbolicLink()) {
      if (++links > MAX_SYMLINKS) throw new UserError(`--exec-handler ${file}: too many symbolic links on its path`);
      const target = readlinkSync(entry);
      if (path.isAbsolute(target)) {
        dir = '/';
      }
      pending.unshift(...target.split('/').filter((part) => part !== '' && part !== '.'));
      continue;
    }
    if (pending.length === 0) return; // the file itself, checked by the caller
    check(entry, stat);
    dir = entry;
  }
}

export class ExecHandler {
  readonly #options: ExecHandlerOptions;
  readonly #now: () => number;
  readonly #spawn: (file: string, args: string[], options: SpawnOptions) => ChildProcess;
  readonly #children = new Set<ChildProcess>();
  #tokens: number;
  #refilledAt: number;
  #stopped = false;
  readonly #stats: ExecHandlerStats = {
    runs: 0,
    failures: 0,
    timeouts: 0,
    dropped: { rate_limit: 0, concurrency: 0 },
    filtered: 0,
    own: 0,
    running: 0,
  };

  constructor(options: ExecHandlerOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#spawn = options.spawn ?? nodeSpawn;
    this.#tokens = options.burst;
    this.#refilledAt = this.#now();
  }

  stats(): ExecHandlerStats {
    return { ...this.#stats, dropped: { ...this.#stats.dropped }, running: this.#children.size };
  }

  handle(event: ExecEvent): void {
    if (this.#stopped) return;
    if (event.fromAgent) {
      this.#stats.own++;
      return;
    }
    const { filterComm, filterUids } = this.#options;
    if (
      (filterComm !== undefined && !filterComm.test(event.comm)) ||
      (filterUids !== undefined && !filterUids.includes(event.uid))
    ) {
      this.#stats.filtered++;
      return;
    }
    this.#refill();
    if (this.#tokens < 1) {
      this.#stats.dropped.rate_limit++;
      return;
    }
    if (this.#children.size >= this.#options.concurrency) {
      this.#stats.dropped.concurrency++;
      return;
    }
    this.#tokens -= 1;
    this.#run(event);
  }

  #refill(): void {
    const now = this.#now();
    const elapsed = Math.max(0, now - this.#refilledAt) / 1000;
    this.#tokens = Math.min(this.#options.burst, this.#tokens + elapsed * this.#options.ratePerSecond);
    this.#refilledAt = now;
  }

  #run(event: ExecEvent): void {
    const env: NodeJS.ProcessEnv = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' };
    for (const name of PASSED_THROUGH) if (process.env[name] !== undefined) env[name] = process.env[name];
    Object.assign(env, {
      EXEC_PID: String(event.pid),
      EXEC_PPID: String(event.ppid),
      EXEC_UID: String(event.uid),
      EXEC_COMM: event.comm,
      EXEC_PARENT_COMM: event.parentComm,
      EXEC_EXECUTABLE: event.executable,
      EXEC_PARENT_EXECUTABLE: event.parentExecutable,
      EXEC_FILENAME: event.filename,
      EXEC_TIME: new Date(event.timeMs).toISOString(),
      EXEC_TIME_NS: event.timeNs.toString(),
    });
    let child: ChildProcess;
    try {
      // No shell: the PID is the only argument, and nothing in the event is ever interpreted. detached puts the
      // handler in its own process group, so a timeout kills everything it started.
      child = this.#spawn(this.#options.path, [String(event.pid)], {
        env,
        stdio: ['ignore', 'ignore', 'inherit'],
        detached: true,
      });
    } catch (error) {
      this.#fail(`cannot start the exec handler: ${(error as Error).message}`);
      return;
    }
    this.#stats.runs++;
    this.#children.add(child);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      this.#killGroup(child);
    }, this.#options.timeoutMs);
    child.once('error', (error) => {
      // Failed to start (the file vanished, EACCES, …): 'exit' may not follow.
      clearTimeout(timer);
      if (this.#children.delete(child)) this.#fail(`exec handler failed to start: ${error.message}`);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (!this.#children.delete(child)) return;
      if (this.#stopped) return; // killed by stop(): not the handler's failure
      if (timedOut) {
        this.#stats.timeouts++;
        // The pid is the exec'd process the handler was run for, not the handler's own.
        this.#warn('exec handler timed out and was killed', {
          handler_pid: child.pid,
          exec_pid: event.pid,
          exec_filename: event.filename,
          timeout_ms: this.#options.timeoutMs,
        });
      } else if (code !== 0) {
        this.#fail('exec handler failed', {
          handler_pid: child.pid,
          exec_pid: event.pid,
          exec_filename: event.filename,
          ...(signal !== null ? { signal } : { code }),
        });
      }
    });
  }

  #killGroup(child: ChildProcess): void {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
  }

  #fail(message: string, fields: Record<string, unknown> = {}): void {
    this.#stats.failures++;
    this.#warn(message, fields);
  }

  #warnings = 0;
  #warn(message: string, fields: Record<string, unknown>): void {
    // First few, then one in a hundred: a broken handler must not flood the log.
    this.#warnings++;
    if (this.#warnings <= 10 || this.#warnings % 100 === 0) this.#options.logger.warn(message, fields);
  }

  /** Kills running handlers (and their process groups) and waits until each is reaped. */
  async stop(): Promise<void> {
    this.#stopped = true;
    // 'exit', or 'close', which also follows a failed start ('error' without 'exit').
    const waits = [...this.#children].map(
      (child) =>
        new Promise<void>((resolve) =>
          child.pid === undefined || child.exitCode !== null || child.signalCode !== null
            ? resolve()
            : (child.once('exit', () => resolve()), child.once('close', () => resolve())),
        ),
    );
    for (const child of this.#children) this.#killGroup(child);
    await Promise.all(waits);
  }
}

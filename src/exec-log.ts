// --exec-log: one JSON line per exec, to stdout or a file (reopened on SIGHUP for log rotation). A failed write
// (disk full, a closed pipe) loses that line, is counted (ebpf_agent_exec_log_write_errors_total) and logged,
// and never stops the agent; the next write after a failure reopens a file.
import { createWriteStream, type WriteStream } from 'node:fs';
import type { ExecEvent } from './collector/exec.ts';
import type { Attribution } from './collector/series.ts';
import { execJson } from './events.ts';
import { silentLogger, type Logger } from './log.ts';

/** One JSON line; container and pod fields only when known (the fields of src/events.ts). */
export function execLogLine(event: ExecEvent, attribution: Attribution = {}): string {
  return `${JSON.stringify(execJson(event, attribution))}\n`;
}

/** `stdout` and `-` mean the agent's standard output. */
export function isStdout(target: string): boolean {
  return target === 'stdout' || target === '-';
}

export interface ExecLogStats {
  /** Lines that could not be written. */
  writeErrors: number;
}

export interface ExecLogOptions {
  attribute?: (event: ExecEvent) => Attribution;
  logger?: Logger;
}

export class ExecLog {
  readonly #target: string;
  readonly #attribute: (event: ExecEvent) => Attribution;
  readonly #logger: Logger;
  #stream: WriteStream | NodeJS.WriteStream;
  #writeErrors = 0;
  #failing = false;

  constructor(target: string, options: ExecLogOptions = {}) {
    this.#target = target;
    this.#attribute = options.attribute ?? (() => ({}));
    this.#logger = options.logger ?? silentLogger;
    this.#stream = this.#open();
  }

  #open(): WriteStream | NodeJS.WriteStream {
    const stream = isStdout(this.#target)
      ? process.stdout
      : createWriteStream(this.#target, { flags: 'a', mode: 0o640 });
    // Errors are reported through the write callbacks; without a listener an 'error' event would be fatal.
    if (stream !== process.stdout || stream.listenerCount('error') === 0) stream.on('error', () => undefined);
    return stream;
  }

  #failed(error: Error): void {
    this.#writeErrors++;
    if (!this.#failing || this.#writeErrors % 1000 === 0) {
      this.#logger.warn('exec log write failed: lines are lost until writes succeed again', {
        target: this.#target,
        lost: this.#writeErrors,
        error: error.message,
      });
    }
    this.#failing = true;
  }

  write(event: ExecEvent): void {
    if (this.#stream.destroyed && !isStdout(this.#target)) this.#stream = this.#open();
    this.#stream.write(execLogLine(event, this.#attribute(event)), (error) => {
      if (error !== null && error !== undefined) {
        this.#failed(error);
      } else if (this.#failing) {
        this.#failing = false;
        this.#logger.info('exec log writes succeed again', { target: this.#target, lost: this.#writeErrors });
      }
    });
  }

  stats(): ExecLogStats {
    return { writeErrors: this.#writeErrors };
  }

  reopen(): void {
    if (isStdout(this.#target)) return;
    (this.#stream as WriteStream).end();
    this.#stream = this.#open();
    this.#logger.info('exec log reopened', { target: this.#target });
  }

  close(): Promise<void> {
    if (isStdout(this.#target) || this.#stream.destroyed) return Promise.resolve();
    return new Promise((resolve) => (this.#stream as WriteStream).end(() => resolve()));
  }
}

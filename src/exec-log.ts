// --exec-log: one JSON line per exec, to stdout or a file (reopened on SIGHUP for log rotation).
import { createWriteStream, type WriteStream } from 'node:fs';
import type { ExecEvent } from './collector/exec.ts';
import type { Attribution } from './collector/series.ts';

/** One JSON line; container and pod fields only when known. */
export function execLogLine(event: ExecEvent, attribution: Attribution = {}): string {
  return `${JSON.stringify({
    time: new Date(event.timeMs).toISOString(),
    pid: event.pid,
    ppid: event.ppid,
    uid: event.uid,
    comm: event.comm,
    parent_comm: event.parentComm,
    filename: event.filename,
    cgroup_id: event.cgroupId.toString(),
    ...(attribution.containerId !== undefined ? { container_id: attribution.containerId } : {}),
    ...(attribution.podUid !== undefined ? { k8s_pod_uid: attribution.podUid } : {}),
    ...(attribution.podName !== undefined ? { k8s_pod_name: attribution.podName } : {}),
    ...(attribution.podNamespace !== undefined ? { k8s_namespace_name: attribution.podNamespace } : {}),
  })}\n`;
}

export class ExecLog {
  readonly #target: string;
  #stream: WriteStream | NodeJS.WriteStream;

  readonly #attribute: (event: ExecEvent) => Attribution;

  constructor(target: string, attribute: (event: ExecEvent) => Attribution = () => ({})) {
    this.#target = target;
    this.#attribute = attribute;
    this.#stream = this.#open();
  }

  #open(): WriteStream | NodeJS.WriteStream {
    return this.#target === 'stdout' || this.#target === '-'
      ? process.stdout
      : createWriteStream(this.#target, { flags: 'a', mode: 0o640 });
  }

  write(event: ExecEvent): void {
    this.#stream.write(execLogLine(event, this.#attribute(event)));
  }

  reopen(): void {
    if (this.#stream === process.stdout) return;
    (this.#stream as WriteStream).end();
    this.#stream = this.#open();
  }

  close(): Promise<void> {
    if (this.#stream === process.stdout) return Promise.resolve();
    return new Promise((resolve) => (this.#stream as WriteStream).end(() => resolve()));
  }
}

// A real OpenTelemetry Collector for integration tests (built from the Go module proxy by
// scripts/install-otelcol.sh on first use): the OTLP receiver over HTTP (and gRPC when asked) on free ports, and the
// file exporter writing every request it receives as one JSON line. Used by otlp.test.ts (metrics) and
// otlp-logs.test.ts (logs).
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { root, waitFor } from './harness.ts';
import { freePort } from './prometheus.ts';

export interface RunningCollector {
  httpPort: number;
  /** Only when started with grpc. */
  grpcPort?: number;
  /** The file exporter's output: one JSON request a line. */
  output: string;
  /** The lines written so far. */
  lines(): string[];
  /** SIGTERM, and waits for its exit. */
  stop(): Promise<void>;
}

export interface CollectorOptions {
  /** What it receives and writes out. */
  signal: 'metrics' | 'logs';
  /** A directory of the caller's for its config and output (the caller removes it). */
  dir: string;
  /** Also an OTLP/gRPC receiver. */
  grpc?: boolean;
}

/** Builds the collector if needed, starts it, and waits until it says it is ready. */
export async function startCollector(options: CollectorOptions): Promise<RunningCollector> {
  execFileSync(path.join(root, 'scripts', 'install-otelcol.sh'), { stdio: ['ignore', 'ignore', 'inherit'] });
  const output = path.join(options.dir, `${options.signal}.jsonl`);
  const httpPort = await freePort();
  let grpcPort: number | undefined;
  if (options.grpc === true) {
    do grpcPort = await freePort();
    while (grpcPort === httpPort);
  }
  const config = path.join(options.dir, 'config.yaml');
  writeFileSync(
    config,
    `receivers:
  otlp:
    protocols:
${grpcPort === undefined ? '' : `      grpc: { endpoint: 127.0.0.1:${grpcPort} }\n`}      http: { endpoint: 127.0.0.1:${httpPort} }
exporters:
  file:
    path: ${output}
    flush_interval: 100ms
service:
  telemetry:
    metrics: { level: none }
  pipelines:
    ${options.signal}: { receivers: [otlp], exporters: [file] }
`,
  );
  const child = spawn(path.join(root, '.tools', 'bin', 'otelcol-test'), ['--config', config], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  };
  try {
    await waitFor('the collector', () => {
      if (child.exitCode !== null) throw new Error(`collector exited: ${log}`);
      return log.includes('Everything is ready') ? true : undefined;
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    httpPort,
    ...(grpcPort === undefined ? {} : { grpcPort }),
    output,
    lines: () => (existsSync(output) ? readFileSync(output, 'utf8').split('\n').filter(Boolean) : []),
    stop,
  };
}

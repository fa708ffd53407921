// OTLP interop with the real thing: an OpenTelemetry Collector (built from the Go module proxy by
// scripts/install-otelcol.sh) with the OTLP receiver over HTTP and gRPC and the file exporter. The values that
// arrive are exact, and an exited process's series arrives once with its final count and then stops arriving;
// each series carries its own start time; with --otlp-temporality delta the increments add up to the truth exactly.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectNoAgentPrograms,
  killAllAgents,
  startAgent,
  syscallerPath,
  waitFor,
  waitStopped,
  type RunningAgent,
} from './harness.ts';
import { startCollector, type RunningCollector } from './otel-collector.ts';

interface OtlpPoint {
  attributes?: { key: string; value: { stringValue?: string; intValue?: string } }[];
  startTimeUnixNano?: string;
  timeUnixNano?: string;
  asInt?: string;
  asDouble?: number;
}

interface Point {
  attrs: Record<string, string>;
  value: number;
  start: bigint;
  time: bigint;
  /** OTLP's AggregationTemporality: 1 delta, 2 cumulative. */
  temporality: number;
}

/** Every data point of `metric` in one exported line. */
function pointsOf(line: string, metric: string): Point[] {
  const request = JSON.parse(line) as {
    resourceMetrics: {
      scopeMetrics: {
        metrics: { name: string; sum?: { aggregationTemporality?: number; dataPoints: OtlpPoint[] } }[];
      }[];
    }[];
  };
  const out: Point[] = [];
  for (const rm of request.resourceMetrics) {
    for (const sm of rm.scopeMetrics) {
      for (const m of sm.metrics) {
        if (m.name !== metric) continue;
        for (const p of m.sum?.dataPoints ?? []) {
          const attrs: Record<string, string> = {};
          for (const a of p.attributes ?? []) attrs[a.key] = a.value.stringValue ?? a.value.intValue ?? '';
          out.push({
            attrs,
            value: Number(p.asInt ?? p.asDouble),
            start: BigInt(p.startTimeUnixNano ?? 0),
            time: BigInt(p.timeUnixNano ?? 0),
            temporality: m.sum!.aggregationTemporality ?? 0,
          });
        }
      }
    }
  }
  return out;
}

describe('OTLP push to a real OpenTelemetry Collector', () => {
  let dir: string;
  let collector: RunningCollector;
  let httpPort: number;
  let grpcPort: number;

  const lines = (): string[] => collector.lines();

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'eoa-otlp-'));
    collector = await startCollector({ signal: 'metrics', dir, grpc: true });
    httpPort = collector.httpPort;
    grpcPort = collector.grpcPort!;
  }, 900_000);

  afterAll(async () => {
    await killAllAgents();
    await collector?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    await expectNoAgentPrograms();
  });

  async function exactCounts(agent: RunningAgent): Promise<void> {
    const from = lines().length;
    // A live helper: 500 of each call, then it stays stopped.
    const live = spawn(syscallerPath, ['500'], { stdio: 'ignore' });
    // A short-lived one: 777 reads, then it exits at once.
    let short: ChildProcess | undefined;
    try {
      await waitStopped(live.pid!);
      const livePid = String(live.pid);
      const latestOf = (syscall: string, since: number): number | undefined =>
        lines()
          .slice(since)
          .flatMap((l) => pointsOf(l, 'ebpf.process.syscalls'))
          .filter((p) => p.attrs['process.pid'] === livePid && p.attrs.syscall === syscall)
          .at(-1)?.value;
      // Baseline: an export made after the helper stopped (its setup made some calls of its own).
      const stoppedAt = lines().length;
      await waitFor('an export after the first stop', () =>
        latestOf('openat', stoppedAt + 1) !== undefined ? true : undefined,
      );
      const base = Object.fromEntries(['read', 'write', 'connect'].map((s) => [s, latestOf(s, stoppedAt + 1) ?? 0]));
      live.kill('SIGCONT');
      await waitStopped(live.pid!);
      const spawnedAt = BigInt(Date.now()) * 1_000_000n;
      short = spawn(syscallerPath, ['--exit-after', '777'], { stdio: 'ignore' });
      await once(short, 'exit');
      const shortPid = String(short.pid);
      // The live helper's counts arrive exactly; the short one's final count arrives once.
      const arrived = await waitFor('the counts to arrive', () => {
        const fresh = lines().slice(from);
        const shortRead = fresh
          .flatMap((l) => pointsOf(l, 'ebpf.process.syscalls'))
          .filter((p) => p.attrs['process.pid'] === shortPid);
        // Every call, not only the reads: a poll can fall between the last read and the last write.
        const all = ['read', 'write', 'connect'].every((s) => latestOf(s, from) === base[s]! + 500);
        return all && shortRead.length > 0 ? fresh.length : undefined;
      });
      for (const syscall of ['read', 'write', 'connect']) {
        expect((latestOf(syscall, from) ?? 0) - base[syscall]!, syscall).toBe(500);
      }
      expect(
        lines()
          .flatMap((l) => pointsOf(l, 'ebpf.process.syscalls'))
          .find((p) => p.attrs['process.pid'] === livePid)?.attrs['process.executable.name'],
      ).toBe('syscaller');
      const shortReads = lines()
        .flatMap((l) => pointsOf(l, 'ebpf.process.syscalls'))
        .filter((p) => p.attrs['process.pid'] === shortPid && p.attrs.syscall === 'read');
      expect(shortReads.map((p) => p.value)).toContain(777);
      // Cumulative, from the series' own start, not the agent's: the poll before the one that first saw the
      // process (it had no count then), so at most one --interval before it was spawned, and before the point.
      for (const p of shortReads) {
        expect(p.temporality).toBe(2);
        expect(p.start).toBeGreaterThanOrEqual(spawnedAt - (INTERVAL_MS + 1n) * 1_000_000n);
        expect(p.start).toBeLessThan(p.time);
      }
      // Then it stops arriving: three more exports without it.
      const after = from + arrived;
      await waitFor('three more exports', () => (lines().length >= after + 3 ? true : undefined));
      const later = lines()
        .slice(after + 1)
        .flatMap((l) => pointsOf(l, 'ebpf.process.syscalls'))
        .filter((p) => p.attrs['process.pid'] === shortPid);
      expect(later).toEqual([]);
      expect(
        lines()
          .slice(from)
          .some((l) => l.includes('"ebpf-otel-agent"')),
      ).toBe(true); // service.name
    } finally {
      // Stopped also when a check failed: left running, it would export into the next case's collector lines.
      await agent.stop('SIGTERM');
      live.kill('SIGKILL');
      short?.kill('SIGKILL');
    }
  }

  const INTERVAL_MS = 500n;
  /** The agent of every case: syscalls only, a fast poll, and exited processes exported once, then gone. */
  const AGENT_ARGS = ['--programs', 'syscalls', '--interval', `${INTERVAL_MS}ms`, '--exited-retention', '100ms'];

  it('over OTLP/HTTP (protobuf)', async () => {
    const agent = await startAgent([...AGENT_ARGS, '--otlp-endpoint', `http://127.0.0.1:${httpPort}`]);
    await exactCounts(agent);
  });

  /** With --otlp-temporality delta: the exported increments of each series add up to the calls made, exactly. */
  async function exactDeltas(agent: RunningAgent): Promise<void> {
    const live = spawn(syscallerPath, ['500'], { stdio: 'ignore' });
    let short: ChildProcess | undefined;
    try {
      await waitStopped(live.pid!);
      const livePid = String(live.pid);
      // Delta points only: cumulative ones of the same pid could only come from another agent.
      const points = (pid: string, syscall: string): Point[] =>
        lines()
          .flatMap((l) => pointsOf(l, 'ebpf.process.syscalls'))
          .filter((p) => p.attrs['process.pid'] === pid && p.attrs.syscall === syscall && p.temporality === 1);
      const sumOf = (pid: string, syscall: string): number => points(pid, syscall).reduce((a, p) => a + p.value, 0);
      // Baseline: the sum of everything exported once an export made after the stop has arrived (its setup made
      // some calls of its own); while it is stopped, its later exports carry 0.
      const stoppedAt = lines().length;
      await waitFor('an export after the first stop', () =>
        lines()
          .slice(stoppedAt + 1)
          .some((l) => pointsOf(l, 'ebpf.process.syscalls').some((p) => p.attrs['process.pid'] === livePid))
          ? true
          : undefined,
      );
      const base = Object.fromEntries(['read', 'write', 'connect'].map((s) => [s, sumOf(livePid, s)]));
      live.kill('SIGCONT');
      await waitStopped(live.pid!);
      short = spawn(syscallerPath, ['--exit-after', '777'], { stdio: 'ignore' });
      await once(short, 'exit');
      const shortPid = String(short.pid);
      await waitFor('the increments to arrive', () =>
        sumOf(livePid, 'read') >= base.read! + 500 && sumOf(shortPid, 'read') >= 777 ? true : undefined,
      );
      // Three more exports: nothing is sent twice, and the exited process's series stops arriving.
      const arrived = lines().length;
      await waitFor('three more exports', () => (lines().length >= arrived + 3 ? true : undefined));
      for (const syscall of ['read', 'write', 'connect']) {
        expect(sumOf(livePid, syscall) - base[syscall]!, syscall).toBe(500);
      }
      expect(sumOf(shortPid, 'read')).toBe(777);
      expect(
        lines()
          .slice(arrived + 1)
          .flatMap((l) => pointsOf(l, 'ebpf.process.syscalls'))
          .filter((p) => p.attrs['process.pid'] === shortPid),
      ).toEqual([]);
      // Delta points, each from the end of the series' previous one: the intervals tile time, no gaps, no overlaps.
      const reads = points(livePid, 'read');
      expect(reads.length).toBeGreaterThan(3);
      expect(new Set(reads.map((p) => p.temporality))).toEqual(new Set([1]));
      for (let i = 1; i < reads.length; i++) expect(reads[i]!.start).toBe(reads[i - 1]!.time);
      // (The first one starts where the agent began counting the process: the poll before the one that saw it.)
      expect(reads[0]!.start).toBeLessThan(reads[0]!.time);
    } finally {
      await agent.stop('SIGTERM');
      live.kill('SIGKILL');
      short?.kill('SIGKILL');
    }
  }

  it('over OTLP/HTTP (protobuf) with delta temporality', async () => {
    const agent = await startAgent([
      ...AGENT_ARGS,
      '--otlp-endpoint',
      `http://127.0.0.1:${httpPort}`,
      '--otlp-temporality',
      'delta',
    ]);
    await exactDeltas(agent);
  });

  it('over OTLP/gRPC', async () => {
    const agent = await startAgent([
      ...AGENT_ARGS,
      '--otlp-endpoint',
      `http://127.0.0.1:${grpcPort}`,
      '--otlp-protocol',
      'grpc',
    ]);
    await exactCounts(agent);
  });

  // A collector that is down must not hold the agent's exit: the final export is given up, logged, and the exit
  // is 0 (it used to be the 5 s force timer's exit 1, with nothing logged).
  it('stops with exit 0 and says so when the collector is unreachable', async () => {
    for (const protocol of ['http/protobuf', 'grpc']) {
      const port = await freeTcpPort();
      const agent = await startAgent([
        ...AGENT_ARGS,
        '--otlp-endpoint',
        `http://127.0.0.1:${port}`,
        '--otlp-protocol',
        protocol,
      ]);
      await waitFor('a failed export', () => (/OTLP export failed/.test(agent.stderr()) ? true : undefined), 30_000);
      const started = performance.now();
      const { code, signal } = await agent.stop('SIGTERM');
      const ms = performance.now() - started;
      console.log(`otlp: ${protocol} to a dead collector: SIGTERM → exit ${code} in ${ms.toFixed(0)} ms`);
      expect({ protocol, code, signal }).toEqual({ protocol, code: 0, signal: null });
      expect(agent.stderr()).not.toMatch(/stopping took over 5 s/);
    }
  });
});

/** A loopback port nothing listens on (bound, then released). */
function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

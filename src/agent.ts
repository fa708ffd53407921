// The agent: preflight checks, the HTTP server, one collector per program, and the poll loop that turns
// collections into /metrics and OTLP. Nothing is attached to the kernel until every check has passed, and
// whatever was attached is released on any failure and on stop().
import { accessSync, constants as fsConstants, existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Resource } from '@opentelemetry/resources';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import {
  addonPath,
  enableRunTimeStats,
  isBpfError,
  libbpfVersion,
  mountTracefs,
  type BpfObject,
  type Link,
} from './bpf/index.ts';
import { ExecCollector, KernelExecSource } from './collector/exec.ts';
import { KernelSyscallSource, SyscallCollector } from './collector/syscalls.ts';
import type { Collector, ProgramName } from './collector/types.ts';
import { XdpCollector } from './collector/xdp.ts';
import { CPU_MAPS, KernelCpuSource } from './collector/cpu.ts';
import { ExecSeriesShaper, SyscallSeriesShaper, type Attributor } from './collector/series.ts';
import { createAttributor } from './collector/attribution.ts';
import { CgroupResolver } from './collector/cgroup.ts';
import { KubeletPods } from './collector/kubelet.ts';
import type { AgentConfig } from './config.ts';
import { UserError } from './errors.ts';
import { ExecLog } from './exec-log.ts';
import { checkExecHandler, ExecHandler } from './exec-handler.ts';
import {
  buildResourceMetrics,
  newHistogram,
  recordHistogram,
  type AgentSnapshot,
  type HistogramState,
  type ProgramStats,
} from './export/metrics.ts';
import { OtlpPusher } from './export/otlp.ts';
import { serialize } from './export/prometheus.ts';
import { agentResource } from './export/resource.ts';
import { MetricsServer } from './export/server.ts';
import { packageRoot } from './paths.ts';
import type { Logger } from './log.ts';
import { checkBtf, checkKernel, checkObjectFile, checkPrivileges, ensureTracefs } from './preflight.ts';
import type { Clock } from './collector/types.ts';

const root = packageRoot;
export const DEFAULT_BPF_DIR = path.join(root, 'bpf', 'build');

export function agentVersion(): string {
  try {
    return (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

/** Poll durations: 100 µs to 10 s. */
const POLL_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface AgentDeps {
  logger: Logger;
  clock: Clock;
  /** Container and pod of a process, from its cgroup id. */
  attribute?: Attributor;
  /** Set by tests to run the checks against a fake /proc/self/status. */
  procStatus?: string;
}

export class Agent {
  readonly config: AgentConfig;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #deps: AgentDeps;
  readonly #version = agentVersion();
  readonly #collectors: Collector<unknown>[] = [];
  #syscalls: SyscallCollector | undefined;
  #cpu: SyscallCollector | undefined;
  #exec: ExecCollector | undefined;
  #xdp: XdpCollector | undefined;
  #server: MetricsServer | undefined;
  #otlp: OtlpPusher | undefined;
  #execLog: ExecLog | undefined;
  #execHandler: ExecHandler | undefined;
  readonly #objects: { program: ProgramName; object: BpfObject }[] = [];
  #stats: Link | undefined;
  #resource: Resource | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #syscallShaper: SyscallSeriesShaper;
  readonly #pods: KubeletPods | undefined;
  readonly #attribute: Attributor | undefined;
  readonly #execShaper: ExecSeriesShaper;
  readonly #cpuShaper: SyscallSeriesShaper;
  #startMs = 0;
  #lastPollMs = 0;
  #polls = 0;
  #pollErrors = 0;
  #pollDuration: HistogramState = newHistogram(POLL_BUCKETS);
  #scrapeDuration: HistogramState = newHistogram(POLL_BUCKETS);
  #last: ResourceMetrics | undefined;
  #stopped = false;
  #build = { version: '', libbpf: '', kernel: os.release() };

  constructor(config: AgentConfig, deps: AgentDeps) {
    this.config = config;
    this.#deps = deps;
    this.#logger = deps.logger;
    this.#clock = deps.clock;
    if (config.kubeletUrl !== undefined && config.containerLabels) {
      this.#pods = new KubeletPods({
        url: config.kubeletUrl,
        tokenFile: config.kubeletTokenFile,
        caFile: config.kubeletCaFile,
        insecureSkipVerify: config.kubeletInsecureSkipVerify,
        logger: deps.logger,
      });
    }
    const attribute =
      deps.attribute ??
      (config.containerLabels
        ? createAttributor({ resolver: new CgroupResolver({ cgroup2Root: config.cgroupRoot }), pods: this.#pods })
        : undefined);
    this.#attribute = attribute;
    this.#syscallShaper = new SyscallSeriesShaper({
      maxSeries: config.maxSeries,
      pidLabels: config.pidLabels,
      attribute,
    });
    this.#execShaper = new ExecSeriesShaper(config.maxSeries);
    this.#cpuShaper = new SyscallSeriesShaper({
      maxSeries: config.maxSeries,
      pidLabels: config.pidLabels,
      attribute,
      kinds: ['cpu'],
    });
  }

  /** The address /metrics is served on (after start). */
  address: { host: string; port: number } | undefined;

  async start(): Promise<void> {
    const { config } = this;
    this.#startMs = this.#clock.now();
    if (os.platform() !== 'linux') throw new UserError('ebpf-otel-agent runs on Linux only');
    // EOA_KERNEL_RELEASE stands in for uname -r in tests of the too-old-kernel refusal.
    checkKernel(config.programs, process.env.EOA_KERNEL_RELEASE ?? os.release());
    // EOA_SKIP_CAPABILITY_CHECK=1 lets the kernel itself refuse (used to show which capabilities it requires).
    if (process.env.EOA_SKIP_CAPABILITY_CHECK !== '1') checkPrivileges(config.programs, this.#deps.procStatus);
    checkBtf(config.btfPath);
    if (!existsSync(addonPath()))
      throw new UserError(`the native addon is not built (${addonPath()} is missing): run npm run build`);
    for (const program of config.programs) checkObjectFile(this.#objectPath(program));
    if (config.execHandler !== undefined) checkExecHandler(config.execHandler);
    if (config.execLog !== undefined && config.execLog !== 'stdout' && config.execLog !== '-') {
      try {
        accessSync(path.dirname(path.resolve(config.execLog)), fsConstants.W_OK);
      } catch {
        throw new UserError(`--exec-log ${config.execLog}: its directory does not exist or is not writable`);
      }
    }
    if (config.programs.includes('exec') || config.programs.includes('syscalls')) {
      ensureTracefs(config.tracefsPath, config.mountTracefs, mountTracefs, this.#logger);
    }
    this.#build = { version: this.#version, libbpf: libbpfVersion(), kernel: os.release() };
    this.#resource = agentResource(this.#version);

    // Listen before loading anything: a port in use must not leave programs attached.
    this.#server = new MetricsServer({
      host: config.host,
      port: config.port,
      readiness: () => this.readiness(),
      onScrape: (seconds) => recordHistogram(this.#scrapeDuration, seconds),
    });
    try {
      this.address = await this.#server.listen();
    } catch (error) {
      this.#server = undefined;
      throw new UserError((error as Error).message, { cause: error });
    }

    try {
      if (config.bpfStats) {
        try {
          this.#stats = enableRunTimeStats();
        } catch (error) {
          if (isBpfError(error) && error.code === 'EPERM') {
            throw new UserError(
              '--bpf-stats needs CAP_SYS_ADMIN (the kernel allows BPF_ENABLE_STATS only with it): leave --bpf-stats off, or grant CAP_SYS_ADMIN',
              { cause: error },
            );
          }
          throw error;
        }
      }
      for (const program of config.programs) this.#startProgram(program);
    } catch (error) {
      await this.stop();
      throw this.#explain(error);
    }
    if (config.otlpEndpoint !== undefined) {
      this.#otlp = await OtlpPusher.create(config.otlpEndpoint, config.otlpProtocol, this.#logger);
    }
    if (this.#pods !== undefined) {
      // Not awaited: pod names appear once the kubelet answers; until then they are absent, never wrong.
      void this.#pods.start();
    }
    this.#logger.info('agent started', {
      programs: config.programs.join(','),
      listen: `${this.address.host}:${this.address.port}`,
      interval_ms: config.intervalMs,
      ...(config.xdpInterfaces.length > 0 ? { xdp_interfaces: config.xdpInterfaces.join(',') } : {}),
    });
    this.poll();
    this.#schedule();
  }

  #objectPath(program: ProgramName): string {
    return path.join(this.config.bpfDir, `${program}.bpf.o`);
  }

  #startProgram(program: ProgramName): void {
    const { config } = this;
    const debug = config.logLevel === 'debug';
    const common = { objectPath: this.#objectPath(program), btfPath: config.btfPath, debug };
    switch (program) {
      case 'syscalls': {
        const source = new KernelSyscallSource({ ...common, maxEntries: config.syscallsMaxEntries });
        this.#objects.push({ program, object: source.object });
        this.#syscalls = new SyscallCollector(source);
        this.#collectors.push(this.#syscalls);
        return;
      }
      case 'exec': {
        const collector = new ExecCollector(() => this.#clock.now());
        if (config.execLog !== undefined) {
          const attribute = this.#attribute;
          const log = new ExecLog(config.execLog, (event) => attribute?.(event.cgroupId, event.pid) ?? {});
          this.#execLog = log;
          collector.subscribe((event) => log.write(event));
        }
        if (config.execHandler !== undefined) {
          const handler = new ExecHandler({
            path: config.execHandler,
            concurrency: config.execHandlerConcurrency,
            ratePerSecond: config.execHandlerRate,
            burst: config.execHandlerBurst,
            timeoutMs: config.execHandlerTimeoutMs,
            filterComm: config.execFilterComm,
            filterUids: config.execFilterUids,
            logger: this.#logger,
          });
          this.#execHandler = handler;
          collector.subscribe((event) => handler.handle(event));
        }
        const source = new KernelExecSource(
          { ...common, ringBytes: config.execRingBytes, onlyUid: config.execOnlyUid },
          (event) => collector.onEvent(event),
        );
        this.#objects.push({ program, object: source.object });
        collector.use(source);
        this.#exec = collector;
        this.#collectors.push(collector);
        return;
      }
      case 'cpu': {
        const source = new KernelCpuSource({ ...common, hz: config.cpuSampleHz, logger: this.#logger });
        this.#objects.push({ program, object: source.object });
        this.#cpu = new SyscallCollector(source, { program: 'cpu', maps: CPU_MAPS });
        this.#collectors.push(this.#cpu);
        return;
      }
      case 'xdp': {
        this.#xdp = new XdpCollector({
          ...common,
          interfaces: config.xdpInterfaces,
          mode: config.xdpMode,
          logger: this.#logger,
        });
        this.#collectors.push(this.#xdp);
        this.#objects.push({ program, object: this.#xdp.object });
        for (const attachment of this.#xdp.collect(this.#clock.now()).interfaces) {
          this.#logger.info('XDP attached', { interface: attachment.name, mode: attachment.mode });
        }
        return;
      }
    }
  }

  /** Turns kernel errors into sentences: verifier rejections keep the tail of the verifier log. */
  #explain(error: unknown): Error {
    if (error instanceof UserError || !(error instanceof Error)) return error as Error;
    if (isBpfError(error)) {
      const first = error.message.split('\n')[0];
      if (error.log?.includes('BEGIN PROG LOAD LOG') === true) {
        return new UserError(`the kernel verifier rejected a BPF program: ${error.message}`, { cause: error });
      }
      if (error.code === 'EPERM' || error.code === 'EACCES') {
        return new UserError(`${first}: the agent needs root or CAP_BPF, CAP_PERFMON (and CAP_NET_ADMIN for xdp)`, {
          cause: error,
        });
      }
      return new UserError(first ?? error.message, { cause: error });
    }
    return new UserError(error.message, { cause: error });
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.poll();
      this.#schedule();
    }, this.config.intervalMs);
  }

  /** One collection: every collector, then one serialization for /metrics and one OTLP export. */
  poll(): ResourceMetrics | undefined {
    if (this.#resource === undefined) return undefined;
    const started = performance.now();
    const now = this.#clock.now();
    const snapshot: AgentSnapshot = {
      timeMs: now,
      agentStartMs: this.#startMs,
      drops: [],
      mapFill: [],
      attached: [],
      polls: this.#polls,
      pollErrors: this.#pollErrors,
      pollDuration: this.#pollDuration,
      scrapeDuration: this.#scrapeDuration,
      build: this.#build,
    };
    try {
      if (this.#syscalls !== undefined) {
        snapshot.syscalls = this.#syscallShaper.shape(this.#syscalls.collect(now).processes, now);
      }
      if (this.#exec !== undefined) snapshot.exec = this.#execShaper.shape(this.#exec.collect(now).execs, now);
      if (this.#cpu !== undefined) {
        // tgid 0 is the idle task: counted apart, not a process.
        const processes = this.#cpu.collect(now).processes;
        const idle = processes.find((p) => p.pid === 0)?.counts[0] ?? 0;
        snapshot.cpu = {
          ...this.#cpuShaper.shape(
            processes.filter((p) => p.pid !== 0),
            now,
          ),
          idle,
          hz: this.config.cpuSampleHz,
        };
      }
      if (this.#execHandler !== undefined) snapshot.execHandler = this.#execHandler.stats();
      if (this.#stats !== undefined) snapshot.programStats = this.#programStats();
      if (this.#xdp !== undefined) snapshot.xdp = this.#xdp.collect(now);
      for (const collector of this.#collectors) {
        snapshot.drops.push(collector.drops());
        snapshot.mapFill.push(...collector.mapFill());
        snapshot.attached.push({ program: collector.program, attached: collector.attached() });
      }
      this.#polls++;
      snapshot.polls = this.#polls;
      recordHistogram(this.#pollDuration, (performance.now() - started) / 1000);
      const metrics = buildResourceMetrics(this.#resource, this.#version, snapshot);
      this.#server?.update(serialize(metrics));
      this.#otlp?.push(metrics);
      for (const collector of this.#collectors) collector.commit?.();
      this.#last = metrics;
      this.#lastPollMs = this.#clock.now();
      return metrics;
    } catch (error) {
      this.#pollErrors++;
      if (this.#pollErrors === 1 || this.#pollErrors % 100 === 0) {
        this.#logger.error('poll failed', { errors: this.#pollErrors, error: (error as Error).message });
      }
      return undefined;
    }
  }

  #programStats(): ProgramStats[] {
    const out: ProgramStats[] = [];
    for (const { program, object } of this.#objects) {
      for (const { name } of object.raw.programs()) {
        const info = object.programInfo(name);
        out.push({ program, bpfProgram: name, runTimeNs: info.runTimeNs, runCount: info.runCount });
      }
    }
    return out;
  }

  get lastMetrics(): ResourceMetrics | undefined {
    return this.#last;
  }

  readiness(): { ready: boolean; reason: string } {
    const detached = this.#collectors.filter((c) => !c.attached()).map((c) => c.program);
    if (this.#collectors.length < this.config.programs.length)
      return { ready: false, reason: 'programs are still loading' };
    if (detached.length > 0) return { ready: false, reason: `not attached: ${detached.join(', ')}` };
    if (this.#polls === 0) return { ready: false, reason: 'no poll yet' };
    const age = this.#clock.now() - this.#lastPollMs;
    if (age > 3 * this.config.intervalMs) return { ready: false, reason: `last poll was ${Math.round(age)} ms ago` };
    return { ready: true, reason: '' };
  }

  /** SIGHUP: reopen log files. */
  reopenLogs(): void {
    this.#execLog?.reopen();
  }

  /** Detaches everything and stops serving. Safe to call more than once. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#pods?.stop();
    this.#stats?.destroy();
    for (const collector of this.#collectors.splice(0)) {
      try {
        collector.close();
      } catch (error) {
        this.#logger.warn('closing a collector failed', {
          program: collector.program,
          error: (error as Error).message,
        });
      }
    }
    this.#syscalls = this.#exec = this.#xdp = this.#cpu = undefined;
    this.#objects.length = 0;
    await Promise.all([
      this.#execHandler?.stop(),
      this.#server?.close(),
      this.#otlp?.shutdown().catch(() => undefined),
      this.#execLog?.close(),
    ]);
    this.#server = undefined;
    this.#otlp = undefined;
  }
}

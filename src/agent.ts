// The agent: preflight checks, the HTTP server, one running instance per program (src/programs/), and the poll
// loop that turns collections into /metrics and OTLP. Nothing is attached to the kernel until every check has
// passed, and whatever was attached is released on any failure and on stop(). A program that fails to collect
// leaves only its own part out of a poll; what the kernel reported as final is forgotten (commit) only after the
// poll's data has been handed to every exporter.
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Resource } from '@opentelemetry/resources';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import {
  addonPath,
  dropFilePages,
  enableRunTimeStats,
  isBpfError,
  libbpfVersion,
  mountTracefs,
  setMallocOption,
  trimMalloc,
  type Link,
} from './bpf/index.ts';
import type { Attributor } from './collector/series.ts';
import { createAttributor } from './collector/attribution.ts';
import { CgroupResolver } from './collector/cgroup.ts';
import { KubeletPods } from './collector/kubelet.ts';
import type { Clock, ProgramName } from './collector/types.ts';
import { checkOtlpLogs, type AgentConfig } from './config.ts';
import { DropWarnings } from './drop-warnings.ts';
import { UserError } from './errors.ts';
import {
  buildResourceMetrics,
  newHistogram,
  recordHistogram,
  type AgentSnapshot,
  type HistogramState,
  type ProcessUsage,
  type ProgramStats,
} from './export/metrics.ts';
import type { Exporters } from './export/exporter.ts';
import { createExporters } from './export/exporters.ts';
import { agentResource } from './export/resource.ts';
import { OtlpLogExporter } from './export/otlp-logs.ts';
import { MetricsServer } from './export/server.ts';
import { packageRoot } from './paths.ts';
import type { Logger } from './log.ts';
import {
  checkBtf,
  checkCgroupRoot,
  checkKernel,
  checkObjectFile,
  checkPrivileges,
  checkReadableFile,
  describeCapabilities,
  ensureTracefs,
  needsTracefs,
} from './preflight.ts';
import { PROGRAMS } from './programs/registry.ts';
import { mallocOptions } from './runtime.ts';
import type { ProgramDescriptor, ProgramInstance } from './programs/types.ts';

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

/** The kernel-facing calls the agent makes itself (not through a program), injectable for tests. */
export interface AgentKernel {
  release(): string;
  /** /proc/self/status, for the effective capabilities. */
  procStatus(): string;
  libbpfVersion(): string;
  addonBuilt(): boolean;
  mountTracefs(path: string): void;
  enableRunTimeStats(): Link;
  /** Gives the C heap's free pages back to the kernel after a poll (glibc malloc_trim). */
  trimMalloc(): boolean;
  /** glibc's mallopt() by name; true when it was taken. */
  setMallocOption(name: string, value: number): boolean;
  /** Unmaps the clean read-only file pages (code, read-only data) the process has mapped; the bytes, or -1. */
  dropFilePages(): number;
  /** The process's own CPU time and resident memory now. */
  usage(): ProcessUsage;
}

/** getrusage() and /proc/self/stat's RSS, through Node (no file of its own to read). */
function processUsage(): ProcessUsage {
  const cpu = process.cpuUsage();
  return {
    userSeconds: cpu.user / 1e6,
    systemSeconds: cpu.system / 1e6,
    rssBytes: process.memoryUsage.rss(),
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
  };
}

const realKernel: AgentKernel = {
  release: () => os.release(),
  procStatus: () => readFileSync('/proc/self/status', 'utf8'),
  libbpfVersion,
  addonBuilt: () => existsSync(addonPath()),
  mountTracefs,
  enableRunTimeStats,
  trimMalloc,
  setMallocOption,
  dropFilePages,
  usage: processUsage,
};

export interface AgentDeps {
  logger: Logger;
  clock: Clock;
  /** Container and pod of a process, from its cgroup id (default: from the cgroup and the kubelet). */
  attribute?: Attributor;
  /** The kernel-facing calls (tests replace some). */
  kernel?: Partial<AgentKernel>;
  /** The programs by name (tests give fakes; default: the registry). */
  programs?: { readonly [P in ProgramName]: ProgramDescriptor<P> };
}

interface Running {
  readonly descriptor: ProgramDescriptor;
  readonly instance: ProgramInstance;
}

export class Agent {
  readonly config: AgentConfig;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #kernel: AgentKernel;
  readonly #descriptors: readonly ProgramDescriptor[];
  readonly #version = agentVersion();
  readonly #running = new Map<ProgramName, Running>();
  #server: MetricsServer | undefined;
  #exporters: Exporters | undefined;
  #stats: Link | undefined;
  #resource: Resource | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #pods: KubeletPods | undefined;
  readonly #attribute: Attributor | undefined;
  readonly #learnCgroup: ((id: bigint, path: string) => void) | undefined;
  #logs: OtlpLogExporter | undefined;
  #startMs = 0;
  #lastPollMs = 0;
  #polls = 0;
  #filePagesDropped = false;
  readonly #dropWarnings: DropWarnings;
  /** Failed collections by program; `agent`: building or publishing a poll failed. */
  readonly #pollErrors: Record<string, number> = { agent: 0 };
  #pollDuration: HistogramState = newHistogram(POLL_BUCKETS);
  #scrapeDuration: HistogramState = newHistogram(POLL_BUCKETS);
  #stopped = false;
  #build = { version: '', libbpf: '', kernel: '' };

  constructor(config: AgentConfig, deps: AgentDeps) {
    this.config = config;
    this.#logger = deps.logger;
    this.#dropWarnings = new DropWarnings(deps.logger);
    this.#clock = deps.clock;
    this.#kernel = { ...realKernel, ...deps.kernel };
    const registry = deps.programs ?? PROGRAMS;
    this.#descriptors = config.programs.map((name) => registry[name] as ProgramDescriptor);
    for (const { name } of this.#descriptors) this.#pollErrors[name] = 0;
    if (config.kubeletUrl !== undefined && config.containerLabels) {
      this.#pods = new KubeletPods({
        url: config.kubeletUrl,
        tokenFile: config.kubeletTokenFile,
        caFile: config.kubeletCaFile,
        insecureSkipVerify: config.kubeletInsecureSkipVerify,
        logger: deps.logger,
      });
    }
    if (deps.attribute !== undefined) {
      this.#attribute = deps.attribute;
    } else if (config.containerLabels) {
      const resolver = new CgroupResolver({ cgroup2Root: config.cgroupRoot });
      this.#attribute = createAttributor({ resolver, pods: this.#pods });
      this.#learnCgroup = (id, path) => resolver.learn(id, path);
    }
  }

  /** The address /metrics is served on (after start). */
  address: { host: string; port: number } | undefined;

  /** Every check that can be made before anything is loaded, each failing with one actionable sentence. */
  #preflight(): void {
    const { config } = this;
    const programs = this.#descriptors;
    if (os.platform() !== 'linux') throw new UserError('ebpf-otel-agent runs on Linux only');
    checkKernel(programs, this.#kernel.release());
    checkPrivileges(programs, this.#kernel.procStatus());
    checkBtf(config.btfPath);
    checkCgroupRoot(config.cgroupRoot);
    checkOtlpLogs(config);
    if (config.kubeletUrl !== undefined) checkReadableFile('--kubelet-token-file', config.kubeletTokenFile);
    if (!this.#kernel.addonBuilt())
      throw new UserError(`the native addon is not built (${addonPath()} is missing): run npm run build`);
    for (const program of programs) {
      for (const file of program.objects) checkObjectFile(this.#objectPath(file));
      program.preflight?.(config);
    }
    if (needsTracefs(programs)) {
      ensureTracefs(config.tracefsPath, config.mountTracefs, (dir) => this.#kernel.mountTracefs(dir), this.#logger);
    }
  }

  async start(): Promise<void> {
    const { config } = this;
    this.#startMs = this.#clock.now();
    this.#preflight();
    for (const [name, value] of mallocOptions(process.env)) this.#kernel.setMallocOption(name, value);
    this.#build = { version: this.#version, libbpf: this.#kernel.libbpfVersion(), kernel: this.#kernel.release() };
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

    this.#exporters = createExporters(
      {
        metricsServer: this.#server,
        otlpEndpoint: config.otlpEndpoint,
        otlpProtocol: config.otlpProtocol,
        otlpTemporality: config.otlpTemporality,
      },
      this.#logger,
    );
    try {
      // Before anything is loaded: an exporter that cannot start leaves nothing attached.
      await this.#exporters.start();
      if (config.bpfStats) this.#stats = this.#enableStats();
      if (config.otlpLogs && config.otlpEndpoint !== undefined) {
        this.#logs = new OtlpLogExporter({
          endpoint: config.otlpEndpoint,
          resource: this.#resource,
          version: this.#version,
          logger: this.#logger,
        });
      }
      const logs = this.#logs;
      for (const descriptor of this.#descriptors) {
        const instance = descriptor.start({
          config,
          logger: this.#logger,
          clock: this.#clock,
          attribute: this.#attribute,
          learnCgroup: this.#learnCgroup,
          events: logs === undefined ? undefined : (event) => logs.emit(event),
          open: (file) => ({
            objectPath: this.#objectPath(file),
            btfPath: config.btfPath,
            debug: config.logLevel === 'debug',
          }),
        });
        this.#running.set(descriptor.name, { descriptor, instance });
      }
    } catch (error) {
      await this.stop();
      throw this.#explain(error);
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

  #enableStats(): Link {
    try {
      return this.#kernel.enableRunTimeStats();
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

  #objectPath(file: string): string {
    return path.join(this.config.bpfDir, file);
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
        return new UserError(`${first}: the agent needs root or ${describeCapabilities(this.#descriptors)}`, {
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

  #pollFailed(program: string, error: unknown): void {
    const errors = ++this.#pollErrors[program]!;
    if (errors === 1 || errors % 100 === 0) {
      this.#logger.error('poll failed', { program, errors, error: (error as Error).message });
    }
  }

  /**
   * One collection: every program adds its part (a failing one only its own), then one serialization for
   * /metrics and one OTLP export, and only then the programs forget what they reported as final.
   */
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
      // As of the previous poll's exports.
      exports: this.#exporters?.stats(),
    };
    const collected: Running[] = [];
    for (const running of this.#running.values()) {
      const { descriptor, instance } = running;
      const { collector } = instance;
      try {
        instance.collect(now, snapshot);
        snapshot.drops.push(collector.drops());
        snapshot.mapFill.push(...collector.mapFill());
        collected.push(running);
      } catch (error) {
        this.#pollFailed(descriptor.name, error);
      }
      // After the collection, which follows attachments (an interface that is gone or back): this poll's state.
      try {
        snapshot.attached.push({ program: descriptor.name, attached: collector.attached() });
      } catch (error) {
        this.#pollFailed(descriptor.name, error);
      }
    }
    // A drop counter that moved is in the log too, with what makes room.
    this.#dropWarnings.observe(snapshot.drops, snapshot.mapFill, now);
    try {
      if (this.#stats !== undefined) snapshot.programStats = this.#programStats();
      if (this.#logs !== undefined) {
        // This poll's events (the exits program releases its own in its collection) go out now, in the background.
        void this.#logs.flush();
        snapshot.otlpLogs = this.#logs.stats();
      }
      this.#polls++;
      snapshot.polls = this.#polls;
      // After this poll's collection: its own cost is in it.
      snapshot.usage = this.#kernel.usage();
      recordHistogram(this.#pollDuration, (performance.now() - started) / 1000);
      const metrics = buildResourceMetrics(this.#resource, this.#version, snapshot);
      // Every exporter gets the same collection; a failed export is counted, never thrown.
      this.#exporters?.export(metrics);
      this.#lastPollMs = this.#clock.now();
      // Published: only now may final counts be forgotten. A throw above keeps them for the next poll.
      for (const { descriptor, instance } of collected) {
        try {
          instance.collector.commit?.();
        } catch (error) {
          this.#pollFailed(descriptor.name, error);
        }
      }
      // What the poll freed in small blocks stays resident in glibc's heap until its top is free: give it back now,
      // not at the next poll's peak (at 100,000 processes about 5 MiB of the heap's 19; it costs well under 1 ms).
      this.#kernel.trimMalloc();
      // Once, after the first published poll: start-up (loading the modules, compiling the bundle, every init path
      // of the Node binary) touched about 25 MiB of the binary's code and read-only data that no poll runs again,
      // and mapped they would count in RSS for the agent's whole life. Those a poll uses come back at their next
      // access, from the page cache (docs/benchmarks.md, "Start-up file pages").
      if (!this.#filePagesDropped) {
        this.#filePagesDropped = true;
        const bytes = this.#kernel.dropFilePages();
        this.#logger.debug('start-up file pages unmapped', { mib: Number((bytes / 2 ** 20).toFixed(1)) });
      }
      return metrics;
    } catch (error) {
      this.#pollFailed('agent', error);
      return undefined;
    }
  }

  #programStats(): ProgramStats[] {
    const out: ProgramStats[] = [];
    for (const { descriptor, instance } of this.#running.values()) {
      for (const object of instance.objects) {
        for (const { name } of object.raw.programs()) {
          const info = object.programInfo(name);
          out.push({ program: descriptor.name, bpfProgram: name, runTimeNs: info.runTimeNs, runCount: info.runCount });
        }
      }
    }
    return out;
  }

  /** Ready: every enabled program runs with every attachment in place, and the last poll is fresh. */
  readiness(): { ready: boolean; reason: string } {
    const loading = this.#descriptors.filter((d) => !this.#running.has(d.name)).map((d) => d.name);
    if (loading.length > 0) return { ready: false, reason: `programs are still loading: ${loading.join(', ')}` };
    const detached = [...this.#running.values()]
      .filter(({ instance }) => !instance.collector.attached())
      .map(({ descriptor }) => descriptor.name);
    if (detached.length > 0) return { ready: false, reason: `not attached: ${detached.join(', ')}` };
    if (this.#polls === 0) return { ready: false, reason: 'no poll yet' };
    const age = this.#clock.now() - this.#lastPollMs;
    if (age > 3 * this.config.intervalMs) return { ready: false, reason: `last poll was ${Math.round(age)} ms ago` };
    return { ready: true, reason: '' };
  }

  /** SIGHUP: reopen log files. */
  reopenLogs(): void {
    for (const { instance } of this.#running.values()) instance.reopenLogs?.();
  }

  /** Detaches everything and stops serving. Safe to call more than once. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#pods?.stop();
    this.#stats?.destroy();
    this.#stats = undefined;
    const running = [...this.#running.values()];
    this.#running.clear();
    await Promise.all([
      ...running.map(({ descriptor, instance }) =>
        instance.close().catch((error: unknown) => {
          this.#logger.warn('closing a program failed', {
            program: descriptor.name,
            error: (error as Error).message,
          });
        }),
      ),
      this.#server?.close(),
      this.#exporters?.shutdown(),
    ]);
    await this.#logs?.close();
    this.#logs = undefined;
    this.#server = undefined;
    this.#exporters = undefined;
  }
}

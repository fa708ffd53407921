// Agent with fake programs from the registry's shape: lifecycle, preflight before anything starts, readiness,
// a failing program isolated from the others, and the commit order (forget final counts only once published).
import { mkdtempSync, rmSync, writeFileSync, type PathLike } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mallocOptions } from '../../src/runtime.ts';
import { Agent, type AgentKernel } from '../../src/agent.ts';
import { ExecSeriesShaper, noAttribution } from '../../src/collector/series.ts';
import type { Collector, Drops, MapFill, ProgramName } from '../../src/collector/types.ts';
import { PROGRAM_NAMES } from '../../src/programs/registry.ts';
import { resolveConfig, type AgentConfig, type RawOptions } from '../../src/config.ts';
import type { AgentSnapshot } from '../../src/export/metrics.ts';
import { MetricsServer } from '../../src/export/server.ts';
import { UserError } from '../../src/errors.ts';
import { silentLogger, type Logger } from '../../src/log.ts';
import { PROGRAMS } from '../../src/programs/registry.ts';
import type { ProgramDescriptor, ProgramInstance } from '../../src/programs/types.ts';

// The legacy /sys/kernel/debug/tracing must not decide the tracefs case: it is made to look absent.
vi.mock('node:fs', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs')>();
  const existsSync = (p: PathLike): boolean =>
    String(p).startsWith('/sys/kernel/debug/tracing') ? false : actual.existsSync(p);
  return { ...actual, existsSync, default: { ...actual, existsSync } };
});

/** What happened, in order, across every fake and the server. */
let events: string[];

class FakeCollector implements Collector<unknown> {
  attachedNow = true;
  closed = false;
  readonly program: ProgramName;
  constructor(program: ProgramName) {
    this.program = program;
  }
  attached(): boolean {
    return this.attachedNow;
  }
  collect(): unknown {
    return {};
  }
  /** Replaced by tests: the drop counters the collector reports. */
  dropsNow: Omit<Drops, 'program'> = { eventsLost: 0, mapFull: {} };
  drops(): Drops {
    return { program: this.program, ...this.dropsNow };
  }
  mapFill(): MapFill[] {
    return [];
  }
  commit(): void {
    events.push(`commit ${this.program}`);
  }
  close(): void {
    this.closed = true;
    events.push(`close ${this.program}`);
  }
}

interface Fake {
  descriptor: ProgramDescriptor;
  collector: FakeCollector;
  started: number;
  /** Replaced by tests to make collection fail or contribute data. */
  collect: (now: number, snapshot: AgentSnapshot) => void;
  startError?: Error;
}

function fake(name: ProgramName, overrides: Partial<ProgramDescriptor> = {}): Fake {
  const collector = new FakeCollector(name);
  const f: Fake = {
    collector,
    started: 0,
    collect: () => undefined,
    descriptor: {
      ...PROGRAMS[name],
      objects: [],
      tracefs: false,
      preflight: undefined,
      ...overrides,
      start: (): ProgramInstance => {
        if (f.startError !== undefined) throw f.startError;
        f.started++;
        events.push(`start ${name}`);
        return {
          collector,
          objects: [],
          collect: (now, snapshot) => {
            events.push(`collect ${name}`);
            f.collect(now, snapshot);
          },
          close: async () => collector.close(),
        };
      },
    } as ProgramDescriptor,
  };
  return f;
}

const kernel: Partial<AgentKernel> = {
  release: () => '6.18.0-test',
  procStatus: () => 'Name:\tnode\nCapEff:\t000001ffffffffff\n',
  libbpfVersion: () => '1.7.0',
  addonBuilt: () => true,
  trimMalloc: () => {
    events.push('trim malloc');
    return false;
  },
  setMallocOption: (name, value) => {
    mallocSet.push([name, value]);
    return true;
  },
  dropFilePages: () => {
    events.push('drop file pages');
    return 25 * 2 ** 20;
  },
  usage: () => ({ userSeconds: 1.5, systemSeconds: 0.25, rssBytes: 64 * 2 ** 20, peakRssBytes: 80 * 2 ** 20 }),
  mountTracefs: () => {
    throw new Error('not in unit tests');
  },
};

/** The agent's mallopt() calls. */
const mallocSet: [string, number][] = [];
let tmp: string;
let clockMs: number;
let fakes: Record<ProgramName, Fake>;
const agents: Agent[] = [];

beforeEach(() => {
  events = [];
  tmp = mkdtempSync(path.join(os.tmpdir(), 'eoa-agent-'));
  writeFileSync(path.join(tmp, 'vmlinux'), Buffer.from([0x9f, 0xeb, 1, 0])); // the raw BTF magic
  clockMs = 1_700_000_000_000;
  fakes = Object.fromEntries(PROGRAM_NAMES.map((name) => [name, fake(name)])) as Record<ProgramName, Fake>;
  const update = MetricsServer.prototype.update;
  vi.spyOn(MetricsServer.prototype, 'update').mockImplementation(function (this: MetricsServer, text: string | Buffer) {
    events.push('publish');
    update.call(this, text);
  });
});

afterEach(async () => {
  for (const agent of agents.splice(0)) await agent.stop();
  vi.restoreAllMocks();
  rmSync(tmp, { recursive: true, force: true });
});

function agent(raw: RawOptions = {}, overrides: Partial<AgentConfig> = {}, logger: Logger = silentLogger): Agent {
  const config = {
    ...resolveConfig(
      { host: '127.0.0.1', port: '0', btfPath: path.join(tmp, 'vmlinux'), kubeletUrl: 'none', ...raw },
      tmp,
    ),
    ...overrides,
  };
  const programs = Object.fromEntries(PROGRAM_NAMES.map((n) => [n, fakes[n].descriptor])) as typeof PROGRAMS;
  const a = new Agent(config, {
    logger,
    clock: { now: () => clockMs },
    attribute: noAttribution,
    kernel,
    programs,
  });
  agents.push(a);
  return a;
}

function sample(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `) || l === `${name} ${labels}`);
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

async function metricsText(a: Agent): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${a.address!.port}/metrics`);
  return res.text();
}

describe('Agent', () => {
  it('starts every enabled program once, is ready after the first poll, and closes them all on stop', async () => {
    const a = agent({ programs: 'exec,syscalls' });
    expect(a.readiness()).toEqual({ ready: false, reason: 'programs are still loading: exec, syscalls' });
    mallocSet.length = 0;
    await a.start();
    // The malloc settings its environment lacks (all three when it was not re-executed), once, at start.
    expect(mallocSet).toEqual(mallocOptions(process.env));
    expect(fakes.exec.started).toBe(1);
    expect(fakes.syscalls.started).toBe(1);
    expect(fakes.xdp.started + fakes.cpu.started).toBe(0);
    expect(a.readiness()).toEqual({ ready: true, reason: '' });
    const text = await metricsText(a);
    expect(sample(text, 'ebpf_agent_program_attached', 'program="exec"')).toBe(1);
    expect(sample(text, 'ebpf_agent_program_attached', 'program="syscalls"')).toBe(1);
    await a.stop();
    await a.stop();
    expect(fakes.exec.collector.closed && fakes.syscalls.collector.closed).toBe(true);
    expect(events.filter((e) => e.startsWith('close'))).toEqual(['close exec', 'close syscalls']);
  });

  it('is not ready while a program has lost an attachment, or when the last poll is stale', async () => {
    const a = agent({ programs: 'exec,syscalls', interval: '1s' });
    await a.start();
    fakes.syscalls.collector.attachedNow = false;
    expect(a.readiness()).toEqual({ ready: false, reason: 'not attached: syscalls' });
    fakes.syscalls.collector.attachedNow = true;
    clockMs += 3001;
    expect(a.readiness()).toEqual({ ready: false, reason: 'last poll was 3001 ms ago' });
    a.poll();
    expect(a.readiness().ready).toBe(true);
  });

  it('a program that fails to collect leaves only its own part out, counted by program', async () => {
    const a = agent({ programs: 'exec,syscalls' });
    fakes.exec.collect = (now, snapshot) => {
      snapshot.exec = new ExecSeriesShaper(10).shape(
        [{ executable: 'job', parentExecutable: 'sh', count: 3, startMs: 0 }],
        now,
      );
    };
    fakes.syscalls.collect = () => {
      throw new Error('map read failed');
    };
    await a.start();
    a.poll();
    const text = await metricsText(a);
    expect(
      sample(text, 'ebpf_process_execs_total', 'process_executable_name="job",process_parent_executable_name="sh"'),
    ).toBe(3);
    expect(sample(text, 'ebpf_agent_poll_errors_total', 'program="syscalls"')).toBe(2);
    expect(sample(text, 'ebpf_agent_poll_errors_total', 'program="exec"')).toBe(0);
    expect(sample(text, 'ebpf_agent_poll_errors_total', 'program="agent"')).toBe(0);
    // The failing program is not committed: what it would have forgotten stays for the next poll.
    expect(events).not.toContain('commit syscalls');
    expect(events).toContain('commit exec');
  });

  it('commits only after the poll is published, and not at all when publishing fails', async () => {
    const a = agent({ programs: 'exec,syscalls' });
    await a.start();
    const firstPoll = events.slice(events.indexOf('collect exec'));
    // The C heap is trimmed last, once what the poll freed is free; after the first published poll only, the
    // start-up's file pages are unmapped.
    expect(firstPoll).toEqual([
      'collect exec',
      'collect syscalls',
      'publish',
      'commit exec',
      'commit syscalls',
      'trim malloc',
      'drop file pages',
    ]);

    events = [];
    // Malformed data makes building the poll's metrics throw: nothing is published, so nothing is forgotten.
    fakes.syscalls.collect = (_now, snapshot) => {
      snapshot.xdp = {} as AgentSnapshot['xdp'];
    };
    expect(a.poll()).toBeUndefined();
    expect(events).toEqual(['collect exec', 'collect syscalls']);

    events = [];
    fakes.syscalls.collect = () => undefined;
    a.poll();
    expect(events).toEqual([
      'collect exec',
      'collect syscalls',
      'publish',
      'commit exec',
      'commit syscalls',
      'trim malloc',
    ]);
    expect(sample(await metricsText(a), 'ebpf_agent_poll_errors_total', 'program="agent"')).toBe(1);
  });

  it('unmaps the start-up file pages once, after the first poll that is published', async () => {
    const a = agent({ programs: 'exec,syscalls' });
    fakes.syscalls.collect = (_now, snapshot) => {
      snapshot.xdp = {} as AgentSnapshot['xdp'];
    };
    await a.start();
    expect(events).not.toContain('drop file pages');
    fakes.syscalls.collect = () => undefined;
    events = [];
    a.poll();
    expect(events.slice(-2)).toEqual(['trim malloc', 'drop file pages']);
    events = [];
    a.poll();
    expect(events).not.toContain('drop file pages');
  });

  it("publishes its own process's CPU time and memory, and logs a drop counter that moved", async () => {
    const warnings: string[] = [];
    const logger: Logger = { ...silentLogger, warn: (message) => warnings.push(message) };
    const a = agent({ programs: 'exec,syscalls' }, {}, logger);
    await a.start();
    const text = await metricsText(a);
    expect(sample(text, 'ebpf_agent_cpu_time_seconds_total', 'cpu_mode="user"')).toBe(1.5);
    expect(sample(text, 'ebpf_agent_cpu_time_seconds_total', 'cpu_mode="system"')).toBe(0.25);
    expect(text).toContain(`\nebpf_agent_memory_usage_bytes ${64 * 2 ** 20}\n`);
    expect(text).toContain(`\nebpf_agent_memory_peak_bytes ${80 * 2 ** 20}\n`);
    expect(warnings).toEqual([]);
    fakes.syscalls.collector.dropsNow = { eventsLost: 0, mapFull: { syscall_counts: 12 } };
    a.poll();
    a.poll();
    expect(warnings).toEqual([
      'syscalls: 12 updates dropped, map syscall_counts is full (ebpf_agent_map_updates_dropped_total): ' +
        'raise --syscalls-max-entries',
    ]);
  });

  it('a program that fails to start: the ones started before are closed, and the error is one sentence', async () => {
    const a = agent({ programs: 'exec,syscalls' });
    fakes.syscalls.startError = Object.assign(
      new Error('cannot load BPF object syscalls.bpf.o: Operation not permitted'),
      {
        errno: 1,
        code: 'EPERM',
      },
    );
    const error = await a.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toBe(
      'cannot load BPF object syscalls.bpf.o: Operation not permitted: the agent needs root or CAP_BPF, CAP_PERFMON',
    );
    expect(events).toEqual(['start exec', 'close exec']);
    expect(fakes.exec.collector.closed).toBe(true);
  });

  it('names the extra capabilities of the programs it runs in a kernel refusal', async () => {
    const a = agent({ programs: 'exec,xdp', xdpInterface: 'lo' });
    fakes.xdp.startError = Object.assign(new Error('cannot attach XDP: Operation not permitted'), {
      errno: 1,
      code: 'EPERM',
    });
    await expect(a.start()).rejects.toThrow(/needs root or CAP_BPF, CAP_PERFMON \(and CAP_NET_ADMIN for xdp\)$/);
  });

  it('preflight refuses before any program starts: kernel too old, capabilities, tracefs, program checks', async () => {
    fakes.xdp = fake('xdp', { minKernel: [9, 0] });
    await expect(agent({ programs: 'exec,xdp', xdpInterface: 'lo' }).start()).rejects.toThrow(
      'kernel 6.18.0-test is too old for program xdp (needs 9.0 or later)',
    );

    fakes.cpu = fake('cpu', { capabilities: ['CAP_BPF', 'CAP_PERFMON', 'CAP_SYS_ADMIN'], capabilityUse: 'sample' });
    const noSysAdmin: Partial<AgentKernel> = { procStatus: () => `CapEff:\t${(3n << 38n).toString(16)}\n` };
    const limited = new Agent(
      resolveConfig({ programs: 'cpu', btfPath: path.join(tmp, 'vmlinux'), kubeletUrl: 'none', port: '0' }, tmp),
      {
        logger: silentLogger,
        clock: { now: () => clockMs },
        attribute: noAttribution,
        kernel: { ...kernel, ...noSysAdmin },
        programs: { ...PROGRAMS, cpu: fakes.cpu.descriptor as ProgramDescriptor<'cpu'> },
      },
    );
    agents.push(limited);
    await expect(limited.start()).rejects.toThrow(
      /^missing capabilities CAP_SYS_ADMIN \(needed to load BPF programs and sample\)/,
    );

    // cpu attaches tracepoints too: without tracefs, the same lines as the other programs.
    fakes.cpu = fake('cpu', { tracefs: true });
    const noTracefs = path.join(tmp, 'no-tracefs');
    await expect(agent({ programs: 'cpu', mountTracefs: false }, { tracefsPath: noTracefs }).start()).rejects.toThrow(
      `tracefs is not mounted at ${noTracefs} (tracepoints need it)`,
    );
    await expect(agent({ programs: 'cpu' }, { tracefsPath: noTracefs }).start()).rejects.toThrow(
      /the agent could not mount it \(not in unit tests\)/,
    );

    fakes.exec = fake('exec', {
      preflight: () => {
        throw new UserError('--exec-log /nonexistent/x: its directory does not exist or is not writable');
      },
    });
    await expect(agent({ programs: 'exec' }).start()).rejects.toThrow(/--exec-log/);
    expect(events.filter((e) => e.startsWith('start'))).toEqual([]);
  });
});

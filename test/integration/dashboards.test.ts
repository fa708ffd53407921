// The Grafana dashboards (deploy/grafana/*.json) against a real Prometheus scraping the real agent: every panel
// query of every dashboard must succeed and return data, so no panel names a metric or label the agent does not
// export, and a rate panel of the aggregate view must agree with a known workload of short-lived processes. The
// agent runs every program (cpu, tcp and exits included), --bpf-stats and an exec handler; the test makes execs,
// short-lived readers, XDP and tc traffic in both directions, TCP connects (refused, reset, unanswered), abnormal
// exits and an OOM kill.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectCgroup2Root } from '../../src/collector/cgroup.ts';
import { ALL_METRICS, METRICS } from '../../src/export/descriptors.ts';
import { prometheusLabel, prometheusNameOf } from '../../src/export/prometheus.ts';
import {
  expectNoAgentPrograms,
  killAllAgents,
  root,
  sleep,
  startAgent,
  syscallerPath,
  waitFor,
  type RunningAgent,
} from './harness.ts';
import { buildExiter, memoryLimit, runExiter, type MemoryLimit } from './exiter.ts';
import { createVethPair, inject, type VethPair } from './netns.ts';

const PROMETHEUS = '/usr/bin/prometheus';
const dashboardDir = path.join(root, 'deploy', 'grafana');

interface Target {
  expr?: string;
  legendFormat?: string;
  refId?: string;
  datasource?: { type?: string; uid?: string };
}

interface Panel {
  id?: number;
  type?: string;
  title?: string;
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
}

interface Variable {
  name: string;
  type: string;
  query?: string | { query?: string };
  datasource?: { type?: string; uid?: string };
  multi?: boolean;
  includeAll?: boolean;
}

interface Dashboard {
  uid?: string;
  title?: string;
  schemaVersion?: number;
  refresh?: string;
  time?: { from: string; to: string };
  panels?: Panel[];
  templating?: { list?: Variable[] };
}

interface Query {
  dashboard: string;
  panel: string;
  expr: string;
  legend?: string;
}

const dashboards: { file: string; json: Dashboard }[] = readdirSync(dashboardDir)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((file) => ({ file, json: JSON.parse(readFileSync(path.join(dashboardDir, file), 'utf8')) as Dashboard }));

/** Every panel, rows' nested panels included. */
function allPanels(panels: Panel[] = []): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels)]);
}

function queries(): Query[] {
  return dashboards.flatMap(({ json }) =>
    allPanels(json.panels).flatMap((p) =>
      (p.targets ?? []).map((t) => ({
        dashboard: json.title!,
        panel: p.title!,
        expr: t.expr!,
        legend: t.legendFormat,
      })),
    ),
  );
}

/** What Grafana would send: its variables replaced by values that work with a 1 s scrape interval. */
function substitute(expr: string, instance: string): string {
  return expr
    .replaceAll('$__rate_interval', '10s')
    .replaceAll('$__interval', '2s')
    .replaceAll('$__range', '1m')
    .replaceAll('$instance', instance)
    .replaceAll('$syscall', '.*')
    .replaceAll('$interface', '.*');
}

/** The metric table's families as PromQL names them (a histogram also by its _bucket, _sum and _count series). */
const TABLE = new Map(
  ALL_METRICS.flatMap((d) => {
    const family = prometheusNameOf(d);
    const names = d.kind === 'histogram' ? ['', '_bucket', '_sum', '_count'].map((s) => family + s) : [family];
    return names.map((name) => [name, d] as const);
  }),
);

/** Labels of per-process metrics the agent adds only where it can establish them (README, Metrics). */
const WHERE_KNOWN = (METRICS.syscalls.whereKnown ?? []).map(prometheusLabel);

/** Labels a series of this metric may lack because the agent could not establish them. */
const whereKnownOf = (metric: string): string[] => (TABLE.get(metric)?.whereKnown ?? []).map(prometheusLabel);

/** The metric names and the label names a query (and its legend) relies on. */
function namesIn(q: Query): { metrics: string[]; labels: string[]; created: string[] } {
  const metrics = new Set([...q.expr.matchAll(/\b(ebpf_[a-z0-9_]+|target_info)\b/g)].map((m) => m[1]!));
  const labels = new Set<string>();
  for (const m of q.expr.matchAll(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g)) {
    for (const l of m[1]!.split(',')) if (l.trim() !== '') labels.add(l.trim());
  }
  for (const m of q.expr.matchAll(/\{([^}]*)\}/g)) {
    for (const l of m[1]!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"/g)) labels.add(l[1]!);
  }
  const created: string[] = [];
  for (const m of q.expr.matchAll(/label_replace\(.*?,\s*"(\w+)",\s*"[^"]*",\s*"(\w+)",\s*"[^"]*"\)/g)) {
    created.push(m[1]!);
    labels.add(m[2]!);
  }
  for (const m of (q.legend ?? '').matchAll(/\{\{\s*(\w+)\s*\}\}/g)) labels.add(m[1]!);
  return { metrics: [...metrics], labels: [...labels], created };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

describe('grafana dashboards: the JSON model', () => {
  it('finds the dashboards', () => {
    expect(dashboards.map((d) => d.file)).toEqual(expect.arrayContaining(['agent-health.json', 'node.json']));
  });

  it('names only metrics of the metric table (src/export/descriptors.ts)', () => {
    const unknown = queries().flatMap((q) =>
      namesIn(q)
        .metrics.filter((m) => m !== 'target_info' && !TABLE.has(m))
        .map((m) => `[${q.dashboard}] "${q.panel}": ${m}`),
    );
    expect(unknown, unknown.join('\n')).toEqual([]);
  });

  for (const { file, json } of dashboards) {
    it(`${file} is a valid dashboard with a datasource variable used by every panel`, () => {
      expect(json.uid, file).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
      expect(json.title, file).toMatch(/^ebpf-otel-agent \/ /);
      expect(json.schemaVersion).toBe(39);
      expect(json.refresh).toBe('30s');
      expect(json.time).toEqual({ from: 'now-1h', to: 'now' });
      const variables = json.templating?.list ?? [];
      const datasource = variables.find((v) => v.name === 'datasource');
      expect(datasource, `${file}: datasource variable`).toMatchObject({ type: 'datasource', query: 'prometheus' });
      expect(
        variables.find((v) => v.name === 'instance'),
        `${file}: instance variable`,
      ).toBeDefined();
      for (const v of variables.filter((v) => v.type === 'query')) {
        expect(v.datasource?.uid, `${file}: variable ${v.name}`).toBe('${datasource}');
      }
      const panels = allPanels(json.panels);
      expect(panels.length).toBeGreaterThan(0);
      const ids = panels.map((p) => p.id);
      expect(
        ids.every((id) => Number.isInteger(id)),
        `${file}: panel ids`,
      ).toBe(true);
      expect(new Set(ids).size, `${file}: unique panel ids`).toBe(ids.length);
      for (const p of panels.filter((p) => p.type !== 'row')) {
        const where = `${file}: panel "${p.title}"`;
        expect(p.title, where).toBeTruthy();
        expect(p.datasource, where).toEqual({ type: 'prometheus', uid: '${datasource}' });
        expect(p.targets?.length, where).toBeGreaterThan(0);
        for (const t of p.targets!) {
          expect(t.expr, where).toBeTruthy();
          expect(t.datasource, where).toEqual({ type: 'prometheus', uid: '${datasource}' });
          // Counters are only ever read through rate()/increase() over Grafana's rate interval.
          for (const m of t.expr!.matchAll(/\b(rate|increase)\([^[]*\[([^\]]*)\]/g)) {
            expect(['$__rate_interval', '$__range'], `${where}: ${t.expr}`).toContain(m[2]);
          }
        }
      }
    });
  }
});

describe.skipIf(!existsSync(PROMETHEUS))('grafana dashboards: every panel query against a real Prometheus', () => {
  let veth: VethPair | undefined;
  let agent: RunningAgent | undefined;
  let prometheus: ChildProcess | undefined;
  let prometheusLog = '';
  let promBase = '';
  let instance = '';
  const dirs: string[] = [];
  /** The exits row's workload (test/helpers/exiter.c), and the cgroups of its OOM kill. */
  let exiter = '';
  let oomCgroup: string | undefined;
  let limit: MemoryLimit | undefined;

  async function promQuery(expr: string): Promise<{ status: string; error?: string; data?: { result: unknown[] } }> {
    const res = await fetch(`${promBase}/api/v1/query?${new URLSearchParams({ query: expr })}`);
    return (await res.json()) as { status: string; error?: string; data?: { result: unknown[] } };
  }

  /** Short-lived readers per traffic() call and reads each: their processes live far less than one poll. */
  const CHURN = { children: 20, reads: 5_000 };
  let trafficRuns = 0;

  // The tcp program's traffic: connects to Prometheus (handshakes; some closed with a reset), refused ones, and,
  // once, connects from the veth's namespace to an address nobody answers there (SYNs retransmitted, then given up).
  let tcpconnect = '';
  let closedPort = 0;
  let silent: ChildProcess | undefined;
  function tcpTraffic(): void {
    const port = new URL(promBase).port;
    execFileSync(tcpconnect, ['127.0.0.1', port, '3']);
    execFileSync(tcpconnect, ['--reset', '127.0.0.1', port, '1']);
    execFileSync(tcpconnect, ['127.0.0.1', String(closedPort), '2']);
    silent ??= spawn(
      'ip',
      ['netns', 'exec', veth!.namespace, tcpconnect, '--syncnt', '1', '--parallel', '10.232.0.9', '80', '2'],
      { stdio: 'ignore' },
    );
  }

  function traffic(): void {
    execFileSync(syscallerPath, ['--exec', '5', '/bin/true']);
    execFileSync(syscallerPath, ['--churn', String(CHURN.children), String(CHURN.reads)]);
    trafficRuns++;
    inject(veth!, 'udp:5,tcp:3,trunc-ipv4:2');
    inject(veth!, 'udp:4,tcp:2', 'host');
    tcpTraffic();
    // An abnormal exit for the "why processes die" row.
    spawnSync(exiter, ['exit', '3']);
  }

  beforeAll(async () => {
    veth = createVethPair(`g${process.pid % 10000}`);
    // tcpTraffic's unanswered connects: to an address whose neighbour entry is a MAC nobody has (frames dropped by
    // the host end's stack; nothing waits for ARP, which would make the kernel skip the retransmits).
    execFileSync('ip', ['-n', veth.namespace, 'addr', 'add', '10.232.0.2/24', 'dev', veth.peer]);
    execFileSync('ip', [
      '-n',
      veth.namespace,
      'neigh',
      'replace',
      '10.232.0.9',
      'lladdr',
      '02:00:00:00:02:32',
      'dev',
      veth.peer,
      'nud',
      'permanent',
    ]);

    // The exec handler: root-owned, 0755, in a 0755 directory.
    const handlerDir = mkdtempSync(path.join(os.tmpdir(), 'eoa-dash-handler-'));
    dirs.push(handlerDir);
    tcpconnect = path.join(handlerDir, 'tcpconnect');
    execFileSync('gcc', ['-O2', '-static', '-o', tcpconnect, path.join(root, 'test', 'helpers', 'tcpconnect.c')]);
    closedPort = await freePort();
    chmodSync(handlerDir, 0o755);
    const handler = path.join(handlerDir, 'handler.sh');
    writeFileSync(handler, '#!/bin/sh\nexit 0\n');
    chmodSync(handler, 0o755);

    agent = await startAgent([
      '--programs',
      'exec,syscalls,xdp,tc,cpu,tcp,exits',
      '--bpf-stats',
      '--xdp-interface',
      veth.host,
      '--net-interface',
      veth.host,
      '--exec-handler',
      handler,
      '--exec-filter-comm',
      '^true$',
      '--interval',
      '1s',
      // Prometheus below scrapes every 1 s: hold new aggregate series at 0 for that, not the default 60 s.
      '--scrape-interval',
      '1s',
    ]);
    instance = `127.0.0.1:${agent.port}`;

    const promDir = mkdtempSync(path.join(os.tmpdir(), 'eoa-dash-prometheus-'));
    dirs.push(promDir);
    const config = path.join(promDir, 'prometheus.yml');
    writeFileSync(
      config,
      [
        'global:',
        '  scrape_interval: 1s',
        '  evaluation_interval: 1s',
        'scrape_configs:',
        '  - job_name: ebpf-otel-agent',
        '    static_configs:',
        `      - targets: ['${instance}']`,
        '',
      ].join('\n'),
    );
    const promPort = await freePort();
    promBase = `http://127.0.0.1:${promPort}`;
    prometheus = spawn(
      PROMETHEUS,
      [
        `--config.file=${config}`,
        `--storage.tsdb.path=${path.join(promDir, 'data')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prometheus.stdout!.resume();
    prometheus.stderr!.on('data', (chunk: Buffer) => (prometheusLog += chunk.toString()));
    await waitFor(
      'Prometheus to be ready',
      async () => {
        if (prometheus!.exitCode !== null)
          throw new Error(`prometheus exited with ${prometheus!.exitCode}: ${prometheusLog}`);
        try {
          return (await fetch(`${promBase}/-/ready`)).status === 200 ? true : undefined;
        } catch {
          return undefined;
        }
      },
      30_000,
    );
    await waitFor('Prometheus to scrape the agent', async () => {
      const r = await promQuery(`ebpf_agent_build_info{instance="${instance}"}`);
      return (r.data?.result.length ?? 0) > 0 ? true : undefined;
    });

    // One OOM kill, for the exits row's OOM panel: the helper over a 16 MiB limit (test/integration/exiter.ts).
    const exiterDir = mkdtempSync(path.join(os.tmpdir(), 'eoa-dash-exiter-'));
    dirs.push(exiterDir);
    exiter = buildExiter(exiterDir, 'eoa-dash-exiter');
    const cgroup2 = detectCgroup2Root();
    if (cgroup2 !== undefined) {
      oomCgroup = path.join(cgroup2, `eoa-dash-oom-${process.pid}`);
      mkdirSync(oomCgroup);
      limit = memoryLimit(cgroup2, oomCgroup, `eoa-dash-oom-${process.pid}`, 16 << 20);
      expect(await runExiter(exiter, [...limit.args, 'hog'])).toEqual({ code: null, signal: 'SIGKILL' });
    }

    // Traffic spread over ~16 s, so every 10 s rate window holds some, then a few more scrapes.
    for (let i = 0; i < 8; i++) {
      traffic();
      await sleep(2_000);
    }
    await agent.waitPolls(2);
    await sleep(2_000);
  });

  afterAll(async () => {
    if (prometheus !== undefined && prometheus.exitCode === null && prometheus.signalCode === null) {
      const exited = once(prometheus, 'exit');
      prometheus.kill('SIGTERM');
      const timer = setTimeout(() => prometheus!.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    silent?.kill('SIGKILL');
    await agent?.stop();
    await killAllAgents();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    if (oomCgroup !== undefined && existsSync(oomCgroup)) rmdirSync(oomCgroup);
    limit?.remove();
    veth?.destroy();
    await expectNoAgentPrograms();
  });

  it('answers every panel query of every dashboard with data', async () => {
    const all = queries();
    expect(all.length).toBeGreaterThan(20);
    const failures: string[] = [];
    for (const q of all) {
      const expr = substitute(q.expr, instance);
      const where = `[${q.dashboard}] "${q.panel}": ${q.expr}\n  sent: ${expr}`;
      expect(expr, where).not.toMatch(/\$/);
      const r = await promQuery(expr);
      if (r.status !== 'success') failures.push(`${where}\n  ${r.status}: ${r.error}`);
      else if ((r.data?.result.length ?? 0) === 0) failures.push(`${where}\n  empty result`);
    }
    expect(failures, failures.join('\n')).toEqual([]);
  });

  it('a rate panel of the aggregate agrees with the short-lived readers it was fed', async () => {
    // "Syscall rate by executable (top 10)", its rate turned into the increase over a window covering the run.
    const panel = queries().find((q) => q.panel === 'Syscall rate by executable (top 10)');
    expect(panel?.expr).toContain('rate(ebpf_syscalls_total{');
    const expr = substitute(
      panel!.expr.replaceAll('$__rate_interval', '5m').replaceAll('rate(', 'increase('),
      instance,
    ).replace('syscall=~".*"', 'syscall=~"read"');
    const truth = trafficRuns * CHURN.children * CHURN.reads;
    const r = (await promQuery(expr)) as {
      status: string;
      data?: { result: { metric: Record<string, string>; value: [number, string] }[] };
    };
    expect(r.status).toBe('success');
    const found = r.data!.result.find((s) => s.metric.process_executable_name === 'syscaller');
    expect(found, `${expr}: no syscaller series in ${JSON.stringify(r.data!.result)}`).toBeDefined();
    // Prometheus extrapolates increase(); the raw aggregate must hold every read (plus the loader's few).
    expect(Number(found!.value[1]), expr).toBeGreaterThan(truth * 0.9);
    expect(Number(found!.value[1]), expr).toBeLessThan(truth * 1.1);
    const raw = (await promQuery(
      `sum(ebpf_syscalls_total{instance="${instance}", process_executable_name="syscaller", syscall="read"})`,
    )) as { data?: { result: { value: [number, string] }[] } };
    const rawValue = Number(raw.data?.result[0]?.value[1]);
    expect(rawValue).toBeGreaterThanOrEqual(truth);
    expect(rawValue).toBeLessThan(truth + 100);
  });

  it('uses only metrics the agent exports and labels their series carry', async () => {
    const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
    const syscallsRow = readme.split('\n').find((l) => l.startsWith('| `ebpf_syscalls_total`')) ?? '';
    for (const l of WHERE_KNOWN) expect(syscallsRow, `README documents ${l}`).toContain(`\`${l}\``);
    const labelsOf = new Map<string, Set<string>>();
    const failures: string[] = [];
    for (const q of queries()) {
      const { metrics, labels, created } = namesIn(q);
      const where = `[${q.dashboard}] "${q.panel}": ${q.expr}`;
      if (metrics.length === 0) failures.push(`${where}\n  names no agent metric`);
      const known = new Set<string>(created);
      for (const metric of metrics) {
        if (!labelsOf.has(metric)) {
          const res = await fetch(
            `${promBase}/api/v1/series?${new URLSearchParams({ 'match[]': `${metric}{instance="${instance}"}` })}`,
          );
          const body = (await res.json()) as { data?: Record<string, string>[] };
          labelsOf.set(metric, new Set((body.data ?? []).flatMap((series) => Object.keys(series))));
        }
        const found = labelsOf.get(metric)!;
        if (found.size === 0) failures.push(`${where}\n  ${metric} is not exported`);
        for (const l of found) known.add(l);
        for (const l of whereKnownOf(metric)) known.add(l);
      }
      for (const l of labels) if (!known.has(l)) failures.push(`${where}\n  no series of it has the label ${l}`);
    }
    expect(failures, failures.join('\n')).toEqual([]);
  });

  it('fills every template variable from the label values Prometheus holds', async () => {
    const failures: string[] = [];
    for (const { json } of dashboards) {
      for (const v of json.templating?.list ?? []) {
        if (v.type !== 'query') continue;
        const query = typeof v.query === 'string' ? v.query : (v.query?.query ?? '');
        const match = /^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$/.exec(query);
        if (match === null) {
          failures.push(`[${json.title}] $${v.name}: not a label_values() query: ${query}`);
          continue;
        }
        const selector = substitute(match[1]!, instance);
        const res = await fetch(
          `${promBase}/api/v1/label/${match[2]}/values?${new URLSearchParams({ 'match[]': selector })}`,
        );
        const body = (await res.json()) as { status: string; error?: string; data?: string[] };
        if (body.status !== 'success') failures.push(`[${json.title}] $${v.name}: ${query}: ${body.error}`);
        else if ((body.data ?? []).length === 0) failures.push(`[${json.title}] $${v.name}: ${query}: no values`);
        else if (v.name === 'instance' && !body.data!.includes(instance)) {
          failures.push(`[${json.title}] $${v.name}: ${query}: ${instance} missing from ${body.data!.join(', ')}`);
        }
      }
    }
    expect(failures, failures.join('\n')).toEqual([]);
  });
});

if (!existsSync(PROMETHEUS)) {
  console.warn(`dashboards.test.ts: ${PROMETHEUS} is missing (apt-get install prometheus): queries not checked`);
}

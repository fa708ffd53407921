// Container and pod attribution on the real cgroup v2 hierarchy: cgroups with kubelet-style paths (systemd
// driver with containerd, and the cgroupfs driver), a helper exec'd inside each (as a runtime does), and pod
// names from a kubelet-like HTTP endpoint serving a recorded pod list.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectCgroup2Root } from '../../src/collector/cgroup.ts';
import {
  expectNoAgentPrograms,
  killAllAgents,
  root,
  seriesOf,
  sleep,
  startAgent,
  syscallerPath,
  waitStopped,
  type RunningAgent,
} from './harness.ts';

const podList = readFileSync(path.join(root, 'test', 'unit', 'fixtures', 'kubelet-pods.json'), 'utf8');
// Pods of the recorded list: web (default) and coredns (kube-system).
const WEB = { uid: '5b8d1f3a-7c9e-4b2d-a4f6-8e0c2a4b6d8f', name: 'web-6d4cf56db6-lx2vr', namespace: 'default' };
const DNS = { uid: 'a7e3c9d1-2b4f-4a68-9c0e-5d1f2a3b4c5d', name: 'coredns-674b8bbfcf-4qz8n', namespace: 'kube-system' };
const UNKNOWN_POD = '11111111-2222-4333-8444-555555555555';
const CONTAINER_A = 'a'.repeat(8) + '0123456789abcdef'.repeat(3) + 'b'.repeat(8);
const CONTAINER_B = 'c'.repeat(8) + 'fedcba9876543210'.repeat(3) + 'd'.repeat(8);
const CONTAINER_C = 'e'.repeat(64);

const cgroup2 = detectCgroup2Root();
const execLog = path.join(os.tmpdir(), `eoa-attribution-${process.pid}.jsonl`);
const base = `eoa-test-${process.pid}`;

interface Case {
  name: string;
  dirs: string[];
  pod: { uid: string; name?: string; namespace?: string };
  container: string;
}

const cases: Case[] = [
  {
    name: 'systemd driver, containerd, burstable',
    dirs: [
      'kubepods.slice',
      'kubepods-burstable.slice',
      `kubepods-burstable-pod${WEB.uid.replace(/-/g, '_')}.slice`,
      `cri-containerd-${CONTAINER_A}.scope`,
    ],
    pod: WEB,
    container: CONTAINER_A,
  },
  {
    name: 'cgroupfs driver, guaranteed',
    dirs: ['kubepods', `pod${DNS.uid}`, CONTAINER_B],
    pod: DNS,
    container: CONTAINER_B,
  },
  {
    name: 'cgroupfs driver, besteffort, a pod the kubelet does not list',
    dirs: ['kubepods', 'besteffort', `pod${UNKNOWN_POD}`, CONTAINER_C],
    pod: { uid: UNKNOWN_POD },
    container: CONTAINER_C,
  },
];

describe.skipIf(cgroup2 === undefined)('container and pod attribution', () => {
  let agent: RunningAgent;
  let kubelet: http.Server;
  const helpers: ChildProcess[] = [];
  const created: string[] = [];

  beforeAll(async () => {
    kubelet = http.createServer((req, res) => {
      if (req.url === '/pods') res.writeHead(200, { 'Content-Type': 'application/json' }).end(podList);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => kubelet.listen(0, '127.0.0.1', resolve));
    const port = (kubelet.address() as AddressInfo).port;
    agent = await startAgent([
      '--programs',
      'syscalls,exec',
      '--exec-log',
      execLog,
      '--interval',
      '500ms',
      // The aggregate's zero hold: 1.5 s here.
      '--scrape-interval',
      '1s',
      '--kubelet-url',
      `http://127.0.0.1:${port}`,
    ]);
  });

  afterAll(async () => {
    for (const h of helpers) h.kill('SIGKILL');
    await Promise.all(
      helpers.map((h) => (h.exitCode === null && h.signalCode === null ? new Promise((r) => h.once('exit', r)) : null)),
    );
    await killAllAgents();
    for (const dir of created.reverse()) {
      try {
        rmdirSync(dir);
      } catch {
        // already gone
      }
    }
    kubelet?.close();
    rmSync(execLog, { force: true });
    await expectNoAgentPrograms();
  });

  it.each(cases)('$name', async ({ dirs, pod, container }) => {
    let dir = path.join(cgroup2!, base);
    for (const part of [undefined, ...dirs]) {
      if (part !== undefined) dir = path.join(dir, part);
      mkdirSync(dir, { recursive: true });
      if (!created.includes(dir)) created.push(dir);
    }
    // As a runtime does: move into the cgroup, then exec the workload.
    const helper = spawn('sh', ['-c', `echo $$ > ${path.join(dir, 'cgroup.procs')} && exec ${syscallerPath} 5`], {
      stdio: 'ignore',
    });
    helpers.push(helper);
    await waitStopped(helper.pid!);
    helper.kill('SIGCONT');
    await waitStopped(helper.pid!);
    const samples = await agent.waitPolls(2);
    const series = seriesOf(samples, 'ebpf_process_syscalls_total', { process_pid: String(helper.pid) });
    expect(series.length).toBeGreaterThanOrEqual(4);
    for (const s of series) {
      expect(s.labels.container_id).toBe(container);
      expect(s.labels.k8s_pod_uid).toBe(pod.uid);
      expect(s.labels.k8s_pod_name).toBe(pod.name);
      expect(s.labels.k8s_namespace_name).toBe(pod.namespace);
      expect(s.labels.process_executable_name).toBe('syscaller');
    }
    // The exec log names the container and pod too.
    const line = readFileSync(execLog, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((event) => event.pid === helper.pid && event.comm === 'syscaller');
    expect(line).toMatchObject({ container_id: container, k8s_pod_uid: pod.uid });
    expect(line?.k8s_pod_name).toBe(pod.name);
  });

  // A short job in its own container: the process exits and the runtime removes its cgroup before the agent's
  // next poll, so neither the tree walk nor /proc can say where it ran. The kernel's cgroup_mkdir report can.
  it('attributes a process whose container cgroup is gone by the next poll', async () => {
    const container = 'f0'.repeat(32);
    const dirs = ['kubepods', `pod${DNS.uid}`, container];
    let dir = path.join(cgroup2!, base);
    // The base too, when this test runs alone: afterAll removes what was made, deepest first.
    const made: string[] = created.includes(dir) ? [] : [dir];
    for (const part of dirs) {
      dir = path.join(dir, part);
      mkdirSync(dir, { recursive: true });
      made.push(dir);
    }
    created.push(...made);
    const reads = 321;
    // It moves itself into the cgroup, as a runtime's init does, then reads and exits.
    const job = spawn(syscallerPath, ['--cgroup-exit-after', dir, String(reads)], { stdio: 'ignore' });
    const [code] = (await once(job, 'exit')) as [number | null];
    expect(code).toBe(0);
    // The pod cgroup stays (the pod lives on); the container's goes at once, as a runtime's does.
    rmdirSync(dir);
    // Past the aggregate's zero hold (--scrape-interval + --interval) and a poll more.
    await sleep(1_500);
    const samples = await agent.waitPolls(2);
    const perProcess = seriesOf(samples, 'ebpf_process_syscalls_total', {
      process_pid: String(job.pid),
      syscall: 'read',
    });
    expect(perProcess.map((s) => [s.labels.container_id, s.labels.k8s_pod_name, s.value])).toEqual([
      [container, DNS.name, reads],
    ]);
    const aggregate = seriesOf(samples, 'ebpf_syscalls_total', {
      container_id: container,
      syscall: 'read',
      process_executable_name: 'syscaller',
    });
    expect(aggregate.map((s) => [s.labels.k8s_pod_name, s.labels.k8s_namespace_name, s.value])).toEqual([
      [DNS.name, DNS.namespace, reads],
    ]);
  });

  it('labels nothing for a process outside any container', async () => {
    const samples = await agent.scrape();
    // This test's own process (it scrapes: reads, writes), outside any container as the agent is; the agent itself
    // is left out of the counts (--exclude-self).
    const own = seriesOf(samples, 'ebpf_process_syscalls_total', { process_pid: String(process.pid) });
    expect(own.length).toBeGreaterThan(0);
    for (const s of own) {
      expect(s.labels.container_id).toBeUndefined();
      expect(s.labels.k8s_pod_uid).toBeUndefined();
    }
  });
});

if (cgroup2 === undefined) console.warn('attribution tests skipped: no cgroup2 hierarchy is mounted on this machine');

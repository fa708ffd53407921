// End to end on a real single-node Kubernetes (scripts/k8s/up.sh: etcd, kube-apiserver, controller-manager,
// scheduler, containerd and kubelet in a network namespace of their own): the image `make image` builds, imported
// into containerd; Helm 4 installs the chart with it; the agent pod runs with exactly the chart's privileges, counts
// a workload pod's syscalls exactly under the names the kubelet gives it, is scraped by a real Prometheus at its pod
// IP, comes back when deleted, and leaves nothing in the kernel when uninstalled. Also every values file against the
// API server's strict field validation, and the Pod Security level the namespace needs. scripts/k8s/down.sh runs in
// afterAll whatever happened. Cold, the first run builds Kubernetes from the Go module proxy (~20 min on 2 cores).
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectProgramsGone,
  programsHeldBy,
  expectNoAgentPrograms,
  parseMetrics,
  root,
  seriesOf,
  sleep,
  syscallerPath,
  total,
  udpEchoPath,
  waitFor,
  waitStopped,
  type Sample,
} from './harness.ts';
import {
  CHART_DIR,
  cluster,
  clusterDown,
  clusterUp,
  containerIdOf,
  podReady,
  runScript,
  taskPid,
  type Cluster,
  type Pod,
} from './k8s.ts';
import { misspell, parseManifests, toYaml } from './k8s-manifests.ts';
import { havePrometheus, startPrometheus, stopAllPrometheus } from './prometheus.ts';

const RELEASE = 'eoa';
const NAMESPACE = 'eoa-system';
const WORKLOAD_NAMESPACE = 'eoa-workload';
const WORKLOAD_IMAGE = 'localhost/eoa-syscaller:test';
const ECHO_IMAGE = 'localhost/eoa-udp-echo:test';
const ECHO_PORT = 9999;
/** Datagrams the test sends to the echo pod (each comes back), and their UDP payload in bytes. */
const DATAGRAMS = 100;
const PAYLOAD = 200;
/** A datagram's frame on the pod's veth: Ethernet 14 + IPv4 20 (no options) + UDP 8 + payload. */
const FRAME = 14 + 20 + 8 + PAYLOAD;
/** Syscalls of each kind the workload pod makes (test/helpers/syscaller.c). */
const N = 1000;
const SYSCALLS = ['openat', 'read', 'write', 'connect'];
const VERSION = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
const IMAGE_ARCHIVE = path.join(root, 'build', 'image', 'ebpf-otel-agent.tar');
const scripts = path.join(root, 'scripts');

/** Capability numbers (linux/capability.h) of those the chart may add. */
const CAPABILITY_BITS: Record<string, bigint> = { NET_ADMIN: 12n, SYS_PTRACE: 19n, PERFMON: 38n, BPF: 39n };

/** The node's cgroup2 tree: /sys/fs/cgroup/unified on hybrid (cgroup v1) hosts like this one. */
function cgroup2Path(): string {
  const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n');
  const cgroup2 = mounts.map((line) => line.split(' ')).find((f) => f[2] === 'cgroup2');
  return cgroup2?.[1] ?? '/sys/fs/cgroup';
}

const installArgs = [
  '--set',
  'image.repository=localhost/ebpf-otel-agent',
  '--set-string',
  `image.tag=${VERSION}`,
  '--set',
  'image.pullPolicy=Never',
  '--set',
  `attribution.cgroupHostPath=${cgroup2Path()}`,
  '--set',
  'interval=1s',
];
/**
 * XDP on the node's interface (so the pod is in the node's network namespace: hostNetwork), and tc on every pod's
 * veth (`pods`: the chart adds CAP_SYS_PTRACE).
 */
const xdpArgs = ['--set', 'xdp.interfaces={eth0}', '--set', 'tc.interfaces={pods}'];

/** The agent's /metrics, from the host, at the pod's IP. */
async function scrape(target: string): Promise<Sample[]> {
  const res = await fetch(`http://${target}/metrics`);
  expect(res.status).toBe(200);
  return parseMetrics(await res.text());
}

/** XDP program attached to the node's eth0, if any (ip -d -j link). */
function nodeXdp(c: Cluster): number | undefined {
  const links = JSON.parse(
    execFileSync('ip', ['-n', c.netns, '-d', '-j', 'link', 'show', 'dev', 'eth0'], {
      encoding: 'utf8',
    }),
  ) as { xdp?: { prog?: { id: number } } }[];
  return links[0]?.xdp?.prog?.id;
}

/** Mount point → per-mount options, from a process's mountinfo. */
function mountOptions(pid: number): Map<string, string[]> {
  const mounts = new Map<string, string[]>();
  for (const line of readFileSync(`/proc/${pid}/mountinfo`, 'utf8').trim().split('\n')) {
    const fields = line.split(' ');
    mounts.set(fields[4]!, fields[5]!.split(','));
  }
  return mounts;
}

function statusField(pid: number, field: string): string {
  const match = new RegExp(`^${field}:\\s+(\\S+)$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (match === null) throw new Error(`no ${field} in /proc/${pid}/status`);
  return match[1]!;
}

describe.skipIf(!havePrometheus)('the chart on a real Kubernetes node', () => {
  let state: string | undefined;
  let c: Cluster;
  const timings: Record<string, number> = {};
  const started = Date.now();

  const agentPods = (): Pod[] =>
    c
      .getJson<{ items: Pod[] }>(['-n', NAMESPACE, 'get', 'pods', '-l', 'app.kubernetes.io/name=ebpf-otel-agent'])
      .items.filter((p) => p.metadata.labels?.['app.kubernetes.io/instance'] === RELEASE);
  const readyAgent = (): Promise<Pod> =>
    waitFor(
      'a Ready agent pod',
      () => {
        const pods = agentPods();
        return pods.length === 1 && podReady(pods[0]!) ? pods[0] : undefined;
      },
      120_000,
    );
  const targetOf = (pod: Pod): string => {
    const port = pod.spec.containers[0]!.ports!.find((p) => p.name === 'metrics')!.containerPort;
    return `${pod.status.podIP}:${port}`;
  };

  beforeAll(async () => {
    timings.buildKubernetes = runScript(path.join(scripts, 'k8s', 'install-kubernetes.sh'));
    timings.buildHelm = runScript(path.join(scripts, 'install-helm.sh'));
    timings.buildSchemas = runScript(path.join(scripts, 'install-kubeconform.sh'));
    state = mkdtempSync(path.join(os.tmpdir(), 'eoa-k8s-'));
    timings.up = clusterUp(state);
    c = cluster(state);

    timings.image = runScript('make', ['--no-print-directory', 'image']);
    let start = Date.now();
    c.importImage(IMAGE_ARCHIVE);
    // The workload: the static syscaller (global-setup builds it) as a one-file image FROM scratch.
    const workloadArchive = path.join(state, 'syscaller.tar');
    runScript(path.join(scripts, 'k8s', 'scratch-image.sh'), [
      WORKLOAD_IMAGE,
      workloadArchive,
      '/syscaller',
      syscallerPath,
    ]);
    c.importImage(workloadArchive);
    const echoArchive = path.join(state, 'udp-echo.tar');
    runScript(path.join(scripts, 'k8s', 'scratch-image.sh'), [ECHO_IMAGE, echoArchive, '/udp-echo', udpEchoPath]);
    c.importImage(echoArchive);
    timings.imageImport = (Date.now() - start) / 1000;

    // The Prometheus Operator CRDs (the monitoring values render PodMonitor, ServiceMonitor, PrometheusRule).
    c.kubectl(['apply', '--server-side', '-f', prometheusOperatorCrds()]);
    c.kubectl(['wait', '--for=condition=Established', 'crd', '--all', '--timeout=60s']);

    c.kubectl(['create', 'namespace', NAMESPACE]);
    c.kubectl(['label', 'namespace', NAMESPACE, 'pod-security.kubernetes.io/enforce=privileged']);
    start = Date.now();
    c.helm(['install', RELEASE, CHART_DIR, '-n', NAMESPACE, ...installArgs, ...xdpArgs, '--wait', '--timeout', '5m']);
    timings.installToReady = (Date.now() - start) / 1000;
  }, 80 * 60_000);

  afterAll(async () => {
    await stopAllPrometheus();
    if (state !== undefined) {
      if (c !== undefined) console.error(c.logTail(8));
      timings.down = clusterDown(state);
    }
    timings.total = (Date.now() - started) / 1000;
    console.error(
      `k8s e2e timings (s): ${Object.entries(timings)
        .map(([k, v]) => `${k} ${v.toFixed(1)}`)
        .join(', ')}`,
    );
  }, 5 * 60_000);

  it('the DaemonSet is Ready: one agent pod on the node, from the local image', () => {
    const ds = c.getJson<{ status: { desiredNumberScheduled: number; numberReady: number } }>([
      '-n',
      NAMESPACE,
      'get',
      'daemonset',
      `${RELEASE}-ebpf-otel-agent`,
    ]);
    expect(ds.status).toMatchObject({ desiredNumberScheduled: 1, numberReady: 1 });
    const [pod] = agentPods();
    expect(pod!.status.containerStatuses![0]!.restartCount).toBe(0);
  });

  it('runs the agent with exactly the chart’s capabilities, no new privileges, seccomp, and read-only mounts', async () => {
    const pod = await readyAgent();
    const pid = taskPid(c, containerIdOf(pod, 'agent'));
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toContain('/app/dist/cli.js');
    expect(path.basename(readlinkSync(`/proc/${pid}/exe`))).toBe('node');

    const ds = c.getJson<{
      spec: { template: { spec: { containers: { securityContext: { capabilities: { add: string[] } } }[] } } };
    }>(['-n', NAMESPACE, 'get', 'daemonset', `${RELEASE}-ebpf-otel-agent`]);
    const added = ds.spec.template.spec.containers[0]!.securityContext.capabilities.add;
    expect(added).toEqual(['BPF', 'PERFMON', 'NET_ADMIN', 'SYS_PTRACE']);
    const expected = added.reduce((mask, cap) => mask | (1n << CAPABILITY_BITS[cap]!), 0n);
    for (const field of ['CapEff', 'CapPrm', 'CapBnd']) {
      expect(BigInt(`0x${statusField(pid, field)}`), field).toBe(expected);
    }
    expect(BigInt(`0x${statusField(pid, 'CapInh')}`)).toBe(0n);
    expect(BigInt(`0x${statusField(pid, 'CapAmb')}`)).toBe(0n);
    expect(statusField(pid, 'NoNewPrivs')).toBe('1');
    expect(statusField(pid, 'Seccomp')).toBe('2');

    // Read-only: the root filesystem, every host path (and every mount below them), the config; /tmp writable.
    const mounts = mountOptions(pid);
    const readOnly = ['/', '/sys/kernel/btf', '/sys/kernel/tracing', '/host/sys/fs/cgroup', '/etc/ebpf-otel-agent'];
    for (const point of readOnly) expect(mounts.get(point), point).toContain('ro');
    for (const [point, options] of mounts) {
      const below = ['/sys/kernel/', '/host/sys/fs/cgroup/'].some((p) => point.startsWith(p));
      if (below) expect(options, point).toContain('ro');
    }
    expect(mounts.get('/tmp')).toContain('rw');
  });

  describe('a workload pod', () => {
    let pid: number;
    let pod: Pod;
    let before: Map<string, number>;
    let after: Map<string, number>;
    let agent: Pod;

    const counts = (samples: Sample[]): { values: Map<string, number>; labels: Record<string, string>[] } => {
      const series = seriesOf(samples, 'ebpf_process_syscalls_total', { process_pid: String(pid) });
      return {
        values: new Map(SYSCALLS.map((s) => [s, series.find((x) => x.labels.syscall === s)?.value ?? 0])),
        labels: series.map((x) => x.labels),
      };
    };

    it(`is counted exactly (${N} of each syscall) under its pod name, namespace, uid and container id`, async () => {
      agent = await readyAgent();
      c.kubectl(['create', 'namespace', WORKLOAD_NAMESPACE]);
      const manifest = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'syscaller', namespace: WORKLOAD_NAMESPACE },
        spec: {
          restartPolicy: 'Never',
          // The pause process is PID 1: the syscaller's raise(SIGSTOP) would be ignored in a PID 1 (init).
          shareProcessNamespace: true,
          automountServiceAccountToken: false,
          containers: [
            {
              name: 'work',
              image: WORKLOAD_IMAGE,
              imagePullPolicy: 'Never',
              command: ['/syscaller', String(N)],
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true },
            },
          ],
        },
      };
      c.kubectl(['apply', '-f', '-'], JSON.stringify(manifest));
      c.kubectl(['-n', WORKLOAD_NAMESPACE, 'wait', '--for=condition=Ready', 'pod/syscaller', '--timeout=60s']);
      pod = c.getJson<Pod>(['-n', WORKLOAD_NAMESPACE, 'get', 'pod', 'syscaller']);
      const containerId = containerIdOf(pod, 'work');
      pid = taskPid(c, containerId);
      await waitStopped(pid);

      // Its setup (opening /dev/zero and /dev/null) is counted under the names the kubelet gives the pod.
      const target = targetOf(agent);
      const named = {
        k8s_pod_name: 'syscaller',
        k8s_namespace_name: WORKLOAD_NAMESPACE,
        k8s_pod_uid: pod.metadata.uid,
        container_id: containerId,
        process_executable_name: 'syscaller',
      };
      const first = await waitFor(
        'the workload’s setup counted under its pod name',
        async () => {
          const now = counts(await scrape(target));
          return now.labels.length > 0 && now.labels.every((l) => l.k8s_pod_name === 'syscaller') ? now : undefined;
        },
        30_000,
      );
      before = first.values;
      process.kill(pid, 'SIGCONT');
      await waitStopped(pid);
      await sleep(3_000); // three polls
      const last = counts(await scrape(target));
      after = last.values;
      for (const syscall of SYSCALLS) {
        expect(after.get(syscall)! - before.get(syscall)!, syscall).toBe(N);
      }
      expect(last.labels.length).toBe(SYSCALLS.length);
      for (const labels of last.labels) expect(labels).toMatchObject(named);
    });

    it('a Prometheus scraping the agent pod as the PodMonitor would (pod IP, port "metrics") sees the same', async () => {
      expect(after, 'the counting test ran').toBeDefined();
      const prom = await startPrometheus({ targets: [targetOf(agent)], scrapeInterval: '1s' });
      const selector = `k8s_pod_name="syscaller",k8s_namespace_name="${WORKLOAD_NAMESPACE}",process_pid="${pid}"`;
      await waitFor(
        'Prometheus to scrape the agent',
        async () => ((await prom.scalar('up')) === 1 ? true : undefined),
        30_000,
      );
      for (const syscall of SYSCALLS) {
        const value = await waitFor(
          `${syscall} in Prometheus`,
          async () => prom.scalar(`ebpf_process_syscalls_total{${selector},syscall="${syscall}"}`),
          30_000,
        );
        expect(value, syscall).toBe(after.get(syscall));
      }
      const byPod = await prom.query(
        `sum by (k8s_pod_name, k8s_namespace_name) (ebpf_process_syscalls_total{${selector},syscall="read"})`,
      );
      expect(byPod.map((s) => s.metric)).toEqual([
        { k8s_pod_name: 'syscaller', k8s_namespace_name: WORKLOAD_NAMESPACE },
      ]);
      await prom.stop();
      process.kill(pid, 'SIGCONT'); // let it exit
    });
  });

  it(`counts a pod's UDP exactly in both directions on its veth (tc pods), under its pod name`, async () => {
    // The pod echoes each datagram back: the test sends DATAGRAMS to it from the host (through the node to cni0 and
    // the pod's veth) and gets DATAGRAMS back, so its host-side veth transmits exactly DATAGRAMS IPv4/UDP frames of
    // FRAME bytes and receives as many. ARP between cni0 and the pod is counted under network_type="arp" and does
    // not touch these numbers.
    const agent = await readyAgent();
    const target = targetOf(agent);
    const ns = 'eoa-net';
    c.kubectl(['create', 'namespace', ns]);
    const socket = dgram.createSocket('udp4');
    try {
      const manifest = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'udp-echo', namespace: ns },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          containers: [
            {
              name: 'echo',
              image: ECHO_IMAGE,
              imagePullPolicy: 'Never',
              command: ['/udp-echo', String(ECHO_PORT)],
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true },
            },
          ],
        },
      };
      c.kubectl(['apply', '-f', '-'], JSON.stringify(manifest));
      c.kubectl(['-n', ns, 'wait', '--for=condition=Ready', 'pod/udp-echo', '--timeout=60s']);
      const pod = c.getJson<Pod>(['-n', ns, 'get', 'pod', 'udp-echo']);
      const podIp = pod.status.podIP!;
      await new Promise<void>((resolve) => socket.bind(0, resolve));
      let received = 0;
      socket.on('message', (msg) => {
        if (msg.length === PAYLOAD) received++;
      });
      const payload = Buffer.alloc(PAYLOAD, 0x61);
      const echo = async (n: number): Promise<void> => {
        const want = received + n;
        for (let i = 0; i < n; i++) {
          await new Promise<void>((resolve, reject) =>
            socket.send(payload, ECHO_PORT, podIp, (error) => (error ? reject(error) : resolve())),
          );
        }
        await waitFor(`${n} echoes from the pod`, () => (received >= want ? true : undefined), 10_000);
      };
      const polls = async (n: number): Promise<Sample[]> => {
        const start = total(await scrape(target), 'ebpf_agent_polls_total');
        return waitFor(`${n} polls`, async () => {
          const s = await scrape(target);
          return total(s, 'ebpf_agent_polls_total') >= start + n ? s : undefined;
        });
      };
      const udp = { k8s_pod_name: 'udp-echo', k8s_namespace_name: ns, network_type: 'ipv4', network_transport: 'udp' };
      const directions = ['receive', 'transmit'];
      // The agent attaches to the pod's veth at a poll once it finds the pod's process in the veth's peer network
      // namespace; each new series then shows its count after --scrape-interval + --interval (61 s with the
      // chart's defaults): a datagram a second until both directions show.
      const warm = await waitFor(
        'the pod veth counted in both directions',
        async () => {
          // Not yet listening, or the first datagram waiting for ARP: try again.
          await echo(1).catch(() => undefined);
          const s = await scrape(target);
          if (
            directions.every((d) => total(s, 'ebpf_network_packets_total', { ...udp, network_io_direction: d }) > 0)
          ) {
            return s;
          }
          await sleep(1_000);
          return undefined;
        },
        180_000,
      );
      const series = seriesOf(warm, 'ebpf_network_packets_total', { k8s_pod_name: 'udp-echo' });
      const veths = new Set(series.map((x) => x.labels.network_interface_name));
      expect(veths.size).toBe(1);
      const veth = [...veths][0]!;
      for (const x of series) {
        expect(x.labels).toMatchObject({ k8s_namespace_name: ns, k8s_pod_uid: pod.metadata.uid });
        expect(x.labels.container_id).toBeUndefined();
      }
      expect(total(warm, 'ebpf_agent_tc_attached', { network_interface_name: veth })).toBe(1);

      const before = await polls(2);
      await echo(DATAGRAMS);
      const after = await polls(3);
      for (const direction of directions) {
        const labels = { ...udp, network_interface_name: veth, network_io_direction: direction };
        const d = (name: string): number => total(after, name, labels) - total(before, name, labels);
        expect(d('ebpf_network_packets_total'), `${direction} packets`).toBe(DATAGRAMS);
        expect(d('ebpf_network_bytes_total'), `${direction} bytes`).toBe(DATAGRAMS * FRAME);
      }
    } finally {
      socket.close();
      c.kubectl(['delete', 'namespace', ns, '--wait=false']);
    }
  });

  it('the API server accepts every values file with strict field validation, and refuses misspelled fields', () => {
    c.kubectl(['create', 'namespace', 'monitoring']);
    const valuesFiles = [
      undefined,
      ...readdirSync(path.join(CHART_DIR, 'ci'))
        .filter((f) => f.endsWith('-values.yaml'))
        .sort(),
    ];
    expect(valuesFiles.length).toBeGreaterThan(5);
    const dryRun = ['apply', '--server-side', '--dry-run=server', '--validate=strict', '-f', '-'];
    let monitoring: string | undefined;
    for (const file of valuesFiles) {
      const rendered = c.helm([
        'template',
        // Not the installed release's name: its cluster-scoped objects (ClusterRole, binding) are Helm's to manage.
        'eoa-check',
        CHART_DIR,
        '-n',
        'monitoring',
        ...(file === undefined ? [] : ['-f', path.join(CHART_DIR, 'ci', file)]),
      ]);
      if (file === 'monitoring-values.yaml') monitoring = rendered;
      const out = c.kubectl(dryRun, rendered);
      expect(out, file ?? 'default values').toMatch(
        /daemonset\.apps\/eoa-check-ebpf-otel-agent serverside-applied \(server dry run\)/,
      );
    }
    let refusal = '';
    try {
      c.kubectl(dryRun, toYaml(misspell(parseManifests(monitoring!))));
    } catch (error) {
      refusal = (error as Error).message;
    }
    expect(refusal).toMatch(/DaemonSet\).*\.securityContext\.privilegd: field not declared in schema/);
    expect(refusal).toMatch(/PrometheusRule\).*\.spec\.groupz: field not declared in schema/);
  });

  it('Pod Security: a baseline namespace refuses the agent pod (helm still says deployed); privileged runs it', async () => {
    expect(
      c.getJson<{ metadata: { labels: Record<string, string> } }>(['get', 'namespace', NAMESPACE]).metadata.labels,
    ).toMatchObject({ 'pod-security.kubernetes.io/enforce': 'privileged' });
    expect(agentPods().filter(podReady)).toHaveLength(1);

    const ns = 'eoa-baseline';
    c.kubectl(['create', 'namespace', ns]);
    c.kubectl(['label', 'namespace', ns, 'pod-security.kubernetes.io/enforce=baseline']);
    try {
      // The default values (no XDP, so no host network): still beyond baseline.
      c.helm(['install', 'eoa-baseline', CHART_DIR, '-n', ns, ...installArgs]);
      expect(c.helm(['status', 'eoa-baseline', '-n', ns])).toMatch(/STATUS: deployed/);
      const refusal = await waitFor(
        'the DaemonSet controller to be refused',
        () => {
          const events = c.getJson<{ items: { reason: string; message: string }[] }>([
            '-n',
            ns,
            'get',
            'events',
            '--field-selector',
            'involvedObject.kind=DaemonSet',
          ]).items;
          return events.find((e) => e.reason === 'FailedCreate')?.message;
        },
        30_000,
      );
      expect(refusal).toMatch(/violates PodSecurity "baseline:latest"/);
      expect(refusal).toMatch(/host namespaces \(hostPID=true\)/);
      expect(refusal).toMatch(/hostPath volumes/);
      expect(refusal).toMatch(/non-default capabilities .*"BPF", "PERFMON"/);
      expect(c.getJson<{ items: Pod[] }>(['-n', ns, 'get', 'pods']).items).toEqual([]);
    } finally {
      c.helm(['uninstall', 'eoa-baseline', '-n', ns, '--wait']);
    }
  });

  it('deleting the agent pod brings a new one that loads and attaches its programs again', async () => {
    const old = await readyAgent();
    // The pod's agent is not this test's child: its programs are the ones its process holds.
    const oldPrograms = programsHeldBy(taskPid(c, containerIdOf(old, 'agent')));
    const oldXdp = nodeXdp(c);
    expect(oldPrograms.length).toBeGreaterThan(0);
    expect(oldXdp).toBeDefined();
    expect(oldPrograms).toContain(oldXdp);

    c.kubectl(['-n', NAMESPACE, 'delete', 'pod', old.metadata.name, '--wait', '--timeout=60s']);
    const fresh = await waitFor(
      'a new Ready agent pod',
      () => {
        const pods = agentPods();
        const pod = pods.find((p) => p.metadata.uid !== old.metadata.uid);
        return pods.length === 1 && pod !== undefined && podReady(pod) ? pod : undefined;
      },
      120_000,
    );
    expect(fresh.metadata.name).not.toBe(old.metadata.name);
    await expectProgramsGone(oldPrograms);
    const programs = programsHeldBy(taskPid(c, containerIdOf(fresh, 'agent')));
    expect(programs.length).toBe(oldPrograms.length);
    expect(programs.filter((id) => oldPrograms.includes(id))).toEqual([]);
    const xdp = nodeXdp(c);
    expect(xdp).toBeDefined();
    expect(programs).toContain(xdp);
    // It serves again at the same address (hostNetwork: the node's IP).
    expect(seriesOf(await scrape(targetOf(fresh)), 'ebpf_agent_program_attached').length).toBeGreaterThan(0);
  });

  it('helm uninstall leaves no eoa_* program and no XDP attachment', async () => {
    const held = programsHeldBy(taskPid(c, containerIdOf(await readyAgent(), 'agent')));
    expect(held.length).toBeGreaterThan(0);
    c.helm(['uninstall', RELEASE, '-n', NAMESPACE, '--wait', '--timeout', '2m']);
    await waitFor('the agent pod to go', () => (agentPods().length === 0 ? true : undefined), 60_000);
    await expectProgramsGone(held);
    await expectNoAgentPrograms();
    expect(nodeXdp(c)).toBeUndefined();
  });
});

/** example/prometheus-operator-crd of the prometheus-operator module install-kubeconform.sh pins (and downloads). */
function prometheusOperatorCrds(): string {
  const script = readFileSync(path.join(scripts, 'install-kubeconform.sh'), 'utf8');
  const version = /^PROMETHEUS_OPERATOR_VERSION=(\S+)$/m.exec(script)![1]!;
  return path.join(
    root,
    '.tools',
    'go',
    'pkg',
    'mod',
    'github.com',
    'prometheus-operator',
    `prometheus-operator@${version}`,
    'example',
    'prometheus-operator-crd',
  );
}

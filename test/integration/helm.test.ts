// The Helm chart (deploy/helm/ebpf-otel-agent) with the real helm: lint it and render it for the default values and
// every ci/*-values.yaml, validate every object against the Kubernetes and Prometheus Operator schemas, and check
// what a node agent must get right: least privilege, host access only where a feature needs it, a config file the
// agent itself accepts, and the Grafana dashboards of deploy/grafana.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { DaemonSet, type IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { ClusterRole, type IClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { ConfigMap, type IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service, type IService } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import {
  PodMonitor,
  type IPodMonitor,
} from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import {
  PrometheusRule,
  type IPrometheusRule,
} from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import {
  ServiceMonitor,
  type IServiceMonitor,
} from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { buildParser, ignoredEnvironment, readEnvironment, toRawOptions } from '../../src/cli.ts';
import { resolveConfig } from '../../src/config.ts';
import { root } from './harness.ts';
import { kubeconform, misspell, toYaml, type Manifest } from './k8s-manifests.ts';

const chartDir = path.join(root, 'deploy', 'helm', 'ebpf-otel-agent');
const chartVersion = (parseYaml(readFileSync(path.join(chartDir, 'Chart.yaml'), 'utf8')) as { version: string })
  .version;
const dashboardDir = path.join(root, 'deploy', 'grafana');
const helm = path.join(root, '.tools', 'bin', 'helm');
const PROMTOOL = '/usr/bin/promtool';
const RELEASE = 'eoa';
const NAMESPACE = 'monitoring';

/** Every kind the chart may render, with its schema; anything else fails the test. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1/DaemonSet': DaemonSet,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding,
  'monitoring.coreos.com/v1/PodMonitor': PodMonitor,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule,
};

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
}

/** One way of installing the chart: the default values, or one ci/*-values.yaml. */
interface Case {
  name: string;
  valuesFile?: string;
}

const cases: Case[] = [
  { name: 'default' },
  ...readdirSync(path.join(chartDir, 'ci'))
    .filter((file) => file.endsWith('-values.yaml'))
    .sort()
    .map((file) => ({ name: file.replace(/-values\.yaml$/, ''), valuesFile: path.join(chartDir, 'ci', file) })),
];

function runHelm(args: string[]): string {
  try {
    return execFileSync(helm, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`helm ${args.join(' ')} failed:\n${stdout ?? ''}${stderr ?? ''}`, { cause: error });
  }
}

function valuesArgs(c: Case, extra: string[] = []): string[] {
  return [...(c.valuesFile === undefined ? [] : ['--values', c.valuesFile]), ...extra];
}

/** helm template, parsed into objects (empty documents dropped). */
function render(c: Case, extra: string[] = []): K8sObject[] {
  const out = runHelm(['template', RELEASE, chartDir, '--namespace', NAMESPACE, ...valuesArgs(c, extra)]);
  const objects: K8sObject[] = [];
  for (const doc of parseAllDocuments(out)) {
    expect(doc.errors, String(doc.errors[0])).toEqual([]);
    const value = doc.toJS() as K8sObject | null;
    if (value !== null) objects.push(value);
  }
  return objects;
}

function ofKind<T>(objects: K8sObject[], kind: string): T[] {
  return objects.filter((o) => o.kind === kind) as unknown as T[];
}

function daemonSetOf(objects: K8sObject[]) {
  const daemonSets = ofKind<IDaemonSet>(objects, 'DaemonSet');
  expect(daemonSets).toHaveLength(1);
  const pod = daemonSets[0]!.spec!.template.spec!;
  const agent = pod.containers.find((c) => c.name === 'agent');
  expect(agent).toBeDefined();
  return { daemonSet: daemonSets[0]!, pod, agent: agent! };
}

/** The agent's config file from the ConfigMap the container's --config points into. */
function agentConfigOf(objects: K8sObject[]): { text: string; configMap: IConfigMap } {
  const { pod, agent } = daemonSetOf(objects);
  const configArg = agent.args?.find((a) => a.startsWith('--config='));
  expect(configArg).toBeDefined();
  const configPath = configArg!.slice('--config='.length);
  const mount = agent.volumeMounts?.find((m) => m.mountPath === path.dirname(configPath));
  expect(mount, `nothing mounted at ${path.dirname(configPath)}`).toBeDefined();
  const volume = pod.volumes?.find((v) => v.name === mount!.name);
  const configMap = ofKind<IConfigMap>(objects, 'ConfigMap').find(
    (cm) => cm.metadata?.name === volume?.configMap?.name,
  );
  expect(configMap, `no ConfigMap behind the ${mount!.name} volume`).toBeDefined();
  const text = configMap!.data?.[path.basename(configPath)];
  expect(text, `the ConfigMap has no ${path.basename(configPath)}`).toBeDefined();
  return { text: text!, configMap: configMap! };
}

/** The container's other arguments as the kubelet passes them, $(VAR) references expanded with sample values. */
function expandedArgs(args: string[]): string[] {
  const env: Record<string, string> = { HOST_IP: '10.0.0.7', NODE_NAME: 'node-1' };
  return args.map((arg) =>
    arg.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (_, name: string) => {
      expect(env[name], `$(${name}) is not a variable the test knows`).toBeDefined();
      return env[name]!;
    }),
  );
}

function dashboardFiles(): string[] {
  return existsSync(dashboardDir)
    ? readdirSync(dashboardDir)
        .filter((file) => file.endsWith('.json'))
        .sort()
    : [];
}

interface SchemaNode {
  additionalProperties?: unknown;
  properties?: Record<string, SchemaNode>;
}

/**
 * Dotted paths of the settings in values.yaml: maps whose schema lists their keys (additionalProperties false) are
 * walked into; free-form maps (labels, resources.requests), lists and scalars are settings themselves.
 */
function settingPaths(value: unknown, schema: SchemaNode | undefined, prefix = ''): string[] {
  if (
    value === null ||
    typeof value !== 'object' ||
    Array.isArray(value) ||
    Object.keys(value).length === 0 ||
    schema?.additionalProperties !== false
  ) {
    return [prefix];
  }
  return Object.entries(value).flatMap(([key, child]) =>
    settingPaths(child, schema.properties?.[key], prefix === '' ? key : `${prefix}.${key}`),
  );
}

describe('helm chart', () => {
  let tmp: string;
  const rendered = new Map<string, K8sObject[]>();

  beforeAll(() => {
    // A pinned helm, built with Go the first time (minutes), then reused.
    execFileSync(path.join(root, 'scripts', 'install-helm.sh'), { stdio: 'inherit' });
    tmp = mkdtempSync(path.join(os.tmpdir(), 'eoa-helm-'));
    for (const c of cases) rendered.set(c.name, render(c));
  }, 20 * 60_000);

  afterAll(() => {
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
  });

  it('has a ci values file for every feature', () => {
    expect(cases.map((c) => c.name)).toEqual(
      expect.arrayContaining([
        'default',
        'xdp',
        'tc',
        'exec-handler',
        'monitoring',
        'otlp',
        'minimal',
        'per-executable',
      ]),
    );
  });

  describe.each(cases)('$name values', (c) => {
    const objects = (): K8sObject[] => rendered.get(c.name)!;

    it('passes helm lint --strict', () => {
      const out = runHelm(['lint', '--strict', chartDir, ...valuesArgs(c)]);
      expect(out).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
      expect(out).not.toMatch(/\[(WARNING|ERROR)\]/);
    });

    it('renders only known kinds, each valid against its schema', () => {
      expect(objects().length).toBeGreaterThan(0);
      for (const object of objects()) {
        const Model = MODELS[`${object.apiVersion}/${object.kind}`];
        expect(Model, `unknown kind ${object.apiVersion} ${object.kind}`).toBeDefined();
        expect(() => new Model!(object as never).validate(), `${object.kind} ${object.metadata.name}`).not.toThrow();
        if (!object.kind.startsWith('Cluster')) expect(object.metadata.namespace).toBe(NAMESPACE);
      }
    });

    it('runs the agent unprivileged with only the capabilities it needs', () => {
      const { pod, agent } = daemonSetOf(objects());
      const xdp = c.name === 'xdp';
      // A network program (xdp, tc) adds NET_ADMIN and the host network; tc's pods also SYS_PTRACE.
      const network = xdp || c.name === 'tc';
      for (const container of [...pod.containers, ...(pod.initContainers ?? [])]) {
        const sc = container.securityContext;
        expect(sc?.privileged).toBe(false);
        expect(sc?.allowPrivilegeEscalation).toBe(false);
        expect(sc?.readOnlyRootFilesystem).toBe(true);
        expect(sc?.capabilities?.drop).toEqual(['ALL']);
        const added = sc?.capabilities?.add ?? [];
        expect(added.map((cap) => cap.replace(/^CAP_/, ''))).not.toContain('SYS_ADMIN');
      }
      expect(agent.securityContext?.capabilities?.add).toEqual(
        c.name === 'tc'
          ? ['BPF', 'PERFMON', 'NET_ADMIN', 'SYS_PTRACE']
          : xdp
            ? ['BPF', 'PERFMON', 'NET_ADMIN']
            : ['BPF', 'PERFMON'],
      );
      expect(agent.securityContext?.runAsUser).toBe(0);
      expect(agent.securityContext?.seccompProfile?.type).toBe('RuntimeDefault');
      // The host network only where XDP or tc needs the host's interfaces.
      expect(pod.hostNetwork ?? false).toBe(network);
      expect(pod.dnsPolicy).toBe(network ? 'ClusterFirstWithHostNet' : 'ClusterFirst');
      expect(pod.hostPID).toBe(c.name !== 'minimal');
    });

    it('mounts every host path read-only, and BTF and tracefs from the host', () => {
      const { pod } = daemonSetOf(objects());
      const hostVolumes = new Map(
        (pod.volumes ?? []).filter((v) => v.hostPath !== undefined).map((v) => [v.name, v.hostPath!.path]),
      );
      expect([...hostVolumes.values()]).toEqual(expect.arrayContaining(['/sys/kernel/btf', '/sys/kernel/tracing']));
      for (const container of [...pod.containers, ...(pod.initContainers ?? [])]) {
        for (const mount of container.volumeMounts ?? []) {
          if (hostVolumes.has(mount.name)) expect(mount.readOnly, `${mount.name} at ${mount.mountPath}`).toBe(true);
        }
      }
      // The only writable place: an emptyDir at /tmp, and the ephemeral storage it and the log take is requested.
      const { agent } = daemonSetOf(objects());
      const tmpMount = agent.volumeMounts?.find((m) => m.mountPath === '/tmp');
      expect(pod.volumes?.find((v) => v.name === tmpMount?.name)?.emptyDir).toBeDefined();
      expect(agent.resources?.requests?.['ephemeral-storage']).toBe('64Mi');
      // The cgroup tree read-only all the way down (helm template assumes the Kubernetes of its client-go, >= 1.30).
      const cgroupMount = agent.volumeMounts?.find((m) => m.name === 'cgroup');
      if (c.name === 'minimal') expect(cgroupMount).toBeUndefined();
      else expect(cgroupMount).toMatchObject({ readOnly: true, recursiveReadOnly: 'IfPossible' });
    });

    it('runs on every node, probed on the metrics port', () => {
      const { daemonSet, pod, agent } = daemonSetOf(objects());
      expect(pod.tolerations).toContainEqual({ operator: 'Exists' });
      expect(pod.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux' });
      expect(daemonSet.spec?.updateStrategy).toEqual({
        type: 'RollingUpdate',
        rollingUpdate: { maxUnavailable: '10%' },
      });
      expect(agent.ports).toContainEqual({ name: 'metrics', containerPort: 9464, protocol: 'TCP' });
      expect(agent.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
      expect(agent.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
      expect(agent.startupProbe?.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
      expect(agent.resources?.limits?.memory).toBeDefined();
    });

    it('gives the agent a config file it accepts, with its flag names as keys', async () => {
      const objs = objects();
      const { agent } = daemonSetOf(objs);
      const { text } = agentConfigOf(objs);
      const config = parseYaml(text) as Record<string, unknown>;
      expect(typeof config).toBe('object');
      expect(Object.keys(config).every((key) => /^[a-z]+(-[a-z]+)*$/.test(key))).toBe(true);
      const file = path.join(tmp, `${c.name}-config.yaml`);
      writeFileSync(file, text);
      const otherArgs = expandedArgs(agent.args!.filter((a) => !a.startsWith('--config=')));
      // Unknown keys or flags are a UserError; resolveConfig checks every value as the agent does at start.
      const args = (await buildParser(['--config', file, ...otherArgs]).parseAsync()) as Record<string, unknown>;
      const resolved = resolveConfig(toRawOptions(args), '/app/bpf/build');
      expect(resolved.mountTracefs).toBe(false);
      expect(resolved.port).toBe(9464);
      if (c.name === 'xdp') {
        expect(resolved.programs).toEqual(['exec', 'syscalls', 'xdp']);
        expect(resolved.xdpInterfaces).toEqual(['eth0', 'eth1']);
      }
      if (c.name === 'tc') {
        expect(resolved.programs).toEqual(['exec', 'syscalls', 'tc']);
        expect(resolved.netInterfaces).toEqual(['pods', 'eth0']);
        expect(resolved.netOrder).toBe('first');
      }
      // The two views' settings: the chart's values, and the scrape interval of the monitor when it sets one.
      expect(resolved.maxProcessSeries).toBe(5000);
      expect(resolved.exitedRetentionMs).toBe(120_000);
      expect(resolved.scrapeIntervalMs).toBe(c.name === 'monitoring' ? 5_000 : 60_000);
      if (c.name === 'default') {
        expect(resolved.programs).toEqual(['exec', 'syscalls']);
        expect(resolved.intervalMs).toBe(5000);
        expect(resolved.maxSeries).toBe(5000);
        expect(resolved.pidLabels).toBe(true);
        expect(resolved.logFormat).toBe('json');
        expect(resolved.kubeletUrl).toBe('https://10.0.0.7:10250');
        expect(resolved.kubeletInsecureSkipVerify).toBe(true);
        expect(resolved.otlpEndpoint).toBeUndefined();
      }
      if (c.name === 'per-executable') {
        expect(resolved.programs).toEqual(['exec', 'syscalls', 'cpu']);
        expect(resolved.pidLabels).toBe(false);
        expect(resolved.kubeletInsecureSkipVerify).toBe(false);
        expect(resolved.kubeletCaFile).toBeDefined();
      }
      if (c.name === 'otlp') expect(resolved.otlpProtocol).toBe('grpc');
      if (c.name === 'minimal') {
        expect(resolved.programs).toEqual(['syscalls']);
        expect(resolved.kubeletUrl).toBeUndefined();
        expect(resolved.containerLabels).toBe(false);
      }
      if (c.name === 'exec-handler') {
        expect(resolved.execFilterUids).toEqual([1000]);
        expect(resolved.execHandlerRate).toBe(5);
      }
    });

    it('resolves cgroup ids in the host cgroup tree it mounts', () => {
      const objs = objects();
      const { pod, agent } = daemonSetOf(objs);
      const config = parseYaml(agentConfigOf(objs).text) as Record<string, unknown>;
      if (config['container-labels'] === false) {
        expect(config['cgroup-root']).toBeUndefined();
        expect(pod.volumes?.some((v) => v.hostPath?.path === '/sys/fs/cgroup')).toBe(false);
        return;
      }
      const mount = agent.volumeMounts?.find((m) => m.mountPath === config['cgroup-root']);
      expect(mount, `nothing mounted at cgroup-root ${String(config['cgroup-root'])}`).toBeDefined();
      expect(pod.volumes?.find((v) => v.name === mount!.name)?.hostPath?.path).toBe('/sys/fs/cgroup');
    });

    it('reads the kubelet only when pod names are on: token, node IP and RBAC', () => {
      const objs = objects();
      const { pod, agent } = daemonSetOf(objs);
      const kubelet = c.name !== 'minimal';
      expect(pod.automountServiceAccountToken).toBe(kubelet);
      const hostIp = agent.env?.find((e) => e.name === 'HOST_IP');
      const roles = ofKind<IClusterRole>(objs, 'ClusterRole');
      if (!kubelet) {
        expect(hostIp).toBeUndefined();
        expect(roles).toEqual([]);
        expect(ofKind(objs, 'ClusterRoleBinding')).toEqual([]);
        return;
      }
      expect(hostIp?.valueFrom?.fieldRef?.fieldPath).toBe('status.hostIP');
      expect(roles).toHaveLength(1);
      const resources = roles[0]!.rules!.flatMap((rule) => {
        expect(rule.verbs).toEqual(['get']);
        return rule.resources ?? [];
      });
      expect(resources.sort()).toEqual(c.name === 'per-executable' ? ['nodes/pods'] : ['nodes/pods', 'nodes/proxy']);
      const binding = ofKind<{ subjects: { name: string; namespace: string }[] }>(objs, 'ClusterRoleBinding');
      expect(binding).toHaveLength(1);
      expect(binding[0]!.subjects).toEqual([
        expect.objectContaining({ name: pod.serviceAccountName, namespace: NAMESPACE }),
      ]);
    });

    it('injects no Service link variables, which would collide with the agent’s own EBPF_OTEL_AGENT_* prefix', () => {
      const { pod } = daemonSetOf(objects());
      expect(pod.enableServiceLinks).toBe(false);
      // What Kubernetes injects for a Service named ebpf-otel-agent: the agent ignores each with a warning (it
      // used to refuse them and crash-loop); the chart keeps them out in the first place.
      const injected = {
        EBPF_OTEL_AGENT_SERVICE_HOST: '10.96.0.10',
        EBPF_OTEL_AGENT_SERVICE_PORT: '9464',
        EBPF_OTEL_AGENT_PORT: 'tcp://10.96.0.10:9464',
      };
      expect(readEnvironment(injected)).toEqual({});
      expect(ignoredEnvironment(injected)).toHaveLength(3);
    });

    it('keeps the pod template labels free of the chart version (a chart upgrade restarts no agent)', () => {
      const { daemonSet } = daemonSetOf(objects());
      const labels = daemonSet.spec!.template.metadata!.labels!;
      expect(Object.keys(labels)).not.toContain('helm.sh/chart');
      expect(daemonSet.metadata!.labels!['helm.sh/chart']).toBe(`ebpf-otel-agent-${chartVersion}`);
      for (const [key, value] of Object.entries(daemonSet.spec!.selector.matchLabels!)) expect(labels[key]).toBe(value);
    });

    it('serves metrics through a Service when enabled', () => {
      const services = ofKind<IService>(objects(), 'Service');
      if (c.name === 'otlp' || c.name === 'minimal') {
        expect(services).toEqual([]);
        return;
      }
      expect(services).toHaveLength(1);
      expect(services[0]!.spec?.type).toBe('ClusterIP');
      expect(services[0]!.spec?.ports).toEqual([
        { name: 'metrics', port: 9464, targetPort: 'metrics', protocol: 'TCP' },
      ]);
    });

    it('creates Prometheus Operator objects only when asked', () => {
      const objs = objects();
      const monitoring = c.name === 'monitoring';
      expect(ofKind(objs, 'PodMonitor')).toHaveLength(monitoring ? 1 : 0);
      expect(ofKind(objs, 'ServiceMonitor')).toHaveLength(monitoring ? 1 : 0);
      expect(ofKind(objs, 'PrometheusRule')).toHaveLength(monitoring ? 1 : 0);
    });

    it('ships the Grafana dashboards of deploy/grafana', () => {
      const dashboards = ofKind<IConfigMap>(objects(), 'ConfigMap').filter(
        (cm) => cm.metadata?.labels?.grafana_dashboard === '1',
      );
      const files = dashboardFiles();
      if (c.name === 'minimal' || files.length === 0) {
        expect(dashboards).toEqual([]);
        return;
      }
      expect(dashboards).toHaveLength(1);
      expect(Object.keys(dashboards[0]!.data ?? {}).sort()).toEqual(files);
      for (const file of files) {
        expect(dashboards[0]!.data![file], file).toBe(readFileSync(path.join(dashboardDir, file), 'utf8'));
      }
    });
  });

  // Offline, without a cluster: what a strict API server refuses, kubeconform refuses too (the kubernetes-models
  // validation above lets unknown fields through).
  describe('strict schemas (kubeconform)', () => {
    beforeAll(() => {
      execFileSync(path.join(root, 'scripts', 'install-kubeconform.sh'), { stdio: 'inherit' });
    }, 10 * 60_000);

    it.each(cases)('$name values: every object valid, no kind without a schema', (c) => {
      const result = kubeconform(toYaml(rendered.get(c.name)! as Manifest[]));
      expect(result.output).toMatch(/Invalid: 0, Errors: 0, Skipped: 0/);
      expect(result.ok, result.output).toBe(true);
    });

    it('rejects a misspelled securityContext.privilegd (DaemonSet) and spec.groupz (PrometheusRule)', () => {
      const result = kubeconform(toYaml(misspell(rendered.get('monitoring')! as Manifest[])));
      expect(result.ok).toBe(false);
      expect(result.output).toMatch(/DaemonSet eoa-ebpf-otel-agent is invalid: .*additional properties 'privilegd'/);
      expect(result.output).toMatch(/PrometheusRule eoa-ebpf-otel-agent is invalid: .*additional properties 'groupz'/);
      expect(result.output).toMatch(/Invalid: 2,/);
    });
  });

  it('monitoring: jobs named as the alerts expect, and rules promtool accepts', () => {
    const objs = rendered.get('monitoring')!;
    const podMonitor = ofKind<IPodMonitor>(objs, 'PodMonitor')[0]!;
    const serviceMonitor = ofKind<IServiceMonitor>(objs, 'ServiceMonitor')[0]!;
    expect(podMonitor.metadata?.labels?.release).toBe('kube-prometheus-stack');
    expect(podMonitor.spec.jobLabel).toBe('app.kubernetes.io/name');
    expect(serviceMonitor.spec.jobLabel).toBe('app.kubernetes.io/name');
    expect(podMonitor.spec.podMetricsEndpoints?.[0]?.port).toBe('metrics');
    expect(serviceMonitor.spec.endpoints?.[0]?.port).toBe('metrics');
    const { daemonSet } = daemonSetOf(objs);
    expect(daemonSet.spec?.template.metadata?.labels?.['app.kubernetes.io/name']).toBe('ebpf-otel-agent');

    const rule = ofKind<IPrometheusRule>(objs, 'PrometheusRule')[0]!;
    const rules = rule.spec.groups!.flatMap((g) => g.rules ?? []);
    // ci/monitoring-values.yaml disables EbpfOtelAgentSeriesBudgetExceeded.
    expect(rules.map((r) => r.alert).sort()).toEqual([
      'EbpfOomKills',
      'EbpfOtelAgentDown',
      'EbpfOtelAgentEventsLost',
      'EbpfOtelAgentMapFull',
      'EbpfOtelAgentNotReady',
      'EbpfOtelAgentTcpConnectFailures',
    ]);
    for (const r of rules) {
      expect(String(r.expr)).toContain(`job="ebpf-otel-agent",namespace="${NAMESPACE}"`);
      expect(r.labels?.team).toBe('platform');
      expect(r.annotations?.summary).toBeDefined();
    }
    const expr = Object.fromEntries(rules.map((r) => [r.alert, String(r.expr)]));
    expect(expr.EbpfOtelAgentDown).toMatch(/^up\{.*\} == 0$/);
    expect(expr.EbpfOtelAgentEventsLost).toMatch(/^increase\(ebpf_agent_events_lost_total\{.*\}\[10m\]\) > 0$/);
    expect(expr.EbpfOtelAgentMapFull).toMatch(/^increase\(ebpf_agent_map_updates_dropped_total\{.*\}\[10m\]\) > 0$/);
    expect(expr.EbpfOtelAgentNotReady).toMatch(/^ebpf_agent_program_attached\{.*\} == 0$/);
    expect(expr.EbpfOomKills).toMatch(/^sum by \(.*\) \(increase\(ebpf_oom_kills_total\{.*\}\[10m\]\)\) > 0$/);

    const file = path.join(tmp, 'rules.yaml');
    writeFileSync(file, JSON.stringify({ groups: rule.spec.groups }));
    expect(execFileSync(PROMTOOL, ['check', 'rules', file], { encoding: 'utf8' })).toMatch(/SUCCESS: 6 rules found/);
  });

  it('the default PrometheusRule has all seven alerts, and promtool accepts them', () => {
    const objs = render(cases[0]!, ['--set', 'prometheusRule.enabled=true']);
    const rule = ofKind<IPrometheusRule>(objs, 'PrometheusRule')[0]!;
    const alerts = rule.spec.groups!.flatMap((g) => g.rules ?? []).map((r) => r.alert);
    expect(alerts).toContain('EbpfOtelAgentSeriesBudgetExceeded');
    expect(alerts).toContain('EbpfOtelAgentTcpConnectFailures');
    expect(alerts).toContain('EbpfOomKills');
    expect(alerts).toHaveLength(7);
    const file = path.join(tmp, 'default-rules.yaml');
    writeFileSync(file, JSON.stringify({ groups: rule.spec.groups }));
    expect(execFileSync(PROMTOOL, ['check', 'rules', file], { encoding: 'utf8' })).toMatch(/SUCCESS: 7 rules found/);
  });

  it('hostNetwork can be overridden, and xdp without an interface is refused', () => {
    const { pod } = daemonSetOf(render(cases[0]!, ['--set', 'xdp.interfaces={eth0}', '--set', 'hostNetwork=false']));
    expect(pod.hostNetwork).toBe(false);
    expect(() => render(cases[0]!, ['--set', 'programs={exec,xdp}'])).toThrow(/xdp needs an interface/);
    expect(() => render(cases[0]!, ['--set', 'capabilities={SYS_ADMIN}'])).toThrow(/additional properties/);
  });

  it('recursiveReadOnly only where the API server knows it (Kubernetes >= 1.30)', () => {
    const mountOf = (kubeVersion: string) =>
      daemonSetOf(render(cases[0]!, ['--kube-version', kubeVersion])).agent.volumeMounts?.find(
        (m) => m.name === 'cgroup',
      );
    expect(mountOf('1.30.0')?.recursiveReadOnly).toBe('IfPossible');
    expect(mountOf('1.29.4')).toEqual({ name: 'cgroup', mountPath: '/host/sys/fs/cgroup', readOnly: true });
  });

  it('ships copies of deploy/grafana/*.json, not a symlink (helm warned about it on every command)', () => {
    const chartDashboards = path.join(chartDir, 'dashboards');
    expect(lstatSync(chartDashboards).isDirectory()).toBe(true);
    const copies = readdirSync(chartDashboards).sort();
    expect(copies, 'deploy/helm/ebpf-otel-agent/dashboards/ must hold exactly deploy/grafana/*.json').toEqual(
      dashboardFiles(),
    );
    for (const file of copies) {
      expect(
        readFileSync(path.join(chartDashboards, file), 'utf8') === readFileSync(path.join(dashboardDir, file), 'utf8'),
        `${file} differs from deploy/grafana: cp deploy/grafana/*.json deploy/helm/ebpf-otel-agent/dashboards/`,
      ).toBe(true);
    }
    for (const args of [
      ['lint', chartDir],
      ['template', RELEASE, chartDir],
    ]) {
      const run = spawnSync(helm, args, { encoding: 'utf8' });
      expect(run.status, run.stderr).toBe(0);
      expect(run.stderr, `helm ${args[0]}`).not.toMatch(/symbolic link/);
    }
  });

  it('the dashboards label is configurable', () => {
    if (dashboardFiles().length === 0) return;
    const objs = render(cases[0]!, [
      '--set',
      'dashboards.label=grafana_dashboard_ebpf',
      '--set',
      'dashboards.labelValue=yes',
    ]);
    const dashboards = ofKind<IConfigMap>(objs, 'ConfigMap').filter(
      (cm) => cm.metadata?.labels?.grafana_dashboard_ebpf === 'yes',
    );
    expect(dashboards).toHaveLength(1);
  });

  it('documents every value in the chart README', () => {
    const values = parseYaml(readFileSync(path.join(chartDir, 'values.yaml'), 'utf8')) as unknown;
    const schema = JSON.parse(readFileSync(path.join(chartDir, 'values.schema.json'), 'utf8')) as SchemaNode;
    const readme = readFileSync(path.join(chartDir, 'README.md'), 'utf8');
    const missing = settingPaths(values, schema).filter((key) => !readme.includes(`| \`${key}\``));
    expect(missing).toEqual([]);
  });
});

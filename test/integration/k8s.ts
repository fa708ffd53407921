// A real single-node Kubernetes for end-to-end tests: scripts/k8s/up.sh and down.sh around a state directory, and
// the clients the tests drive it with (kubectl, Helm 4, containerd's ctr), all pinned binaries from .tools/bin.
import { execFileSync, type ExecFileSyncOptions } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { root } from './harness.ts';

export const TOOLS_BIN = path.join(root, '.tools', 'bin');
export const KUBECTL = path.join(TOOLS_BIN, 'kubectl');
export const HELM = path.join(TOOLS_BIN, 'helm');
export const CHART_DIR = path.join(root, 'deploy', 'helm', 'ebpf-otel-agent');

/** The addresses scripts/k8s/common.sh gives the node. */
export const NODE_IP = '10.213.0.2';
export const NODE_NAME = 'eoa-node';

function run(command: string, args: string[], options: ExecFileSyncOptions & { input?: string } = {}): string {
  try {
    return execFileSync(command, args, {
      encoding: 'utf8',
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      maxBuffer: 64 * 1024 * 1024,
      ...options,
    }) as string;
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${path.basename(command)} ${args.join(' ')} failed:\n${stdout ?? ''}${stderr ?? ''}`, {
      cause: error,
    });
  }
}

/** Runs a build or setup script with its output on the test's stderr; returns the seconds it took. */
export function runScript(script: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): number {
  const start = Date.now();
  execFileSync(script, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...env } });
  return (Date.now() - start) / 1000;
}

export interface Cluster {
  state: string;
  kubeconfig: string;
  netns: string;
  kubectl(args: string[], input?: string): string;
  /** kubectl … -o json, parsed. */
  getJson<T>(args: string[]): T;
  helm(args: string[]): string;
  /** containerd's ctr in the k8s.io namespace (the one the kubelet uses). */
  ctr(args: string[]): string;
  /** Imports a docker-archive into containerd for the kubelet. */
  importImage(archive: string): void;
  /** The last lines of each daemon's log (for failure messages). */
  logTail(lines?: number): string;
}

export function cluster(state: string): Cluster {
  const kubeconfig = path.join(state, 'kubeconfig');
  const env = { ...process.env, KUBECONFIG: kubeconfig, HELM_CACHE_HOME: path.join(state, 'helm', 'cache') };
  const helmEnv = {
    ...env,
    HELM_CONFIG_HOME: path.join(state, 'helm', 'config'),
    HELM_DATA_HOME: path.join(state, 'helm', 'data'),
  };
  const socket = path.join(state, 'containerd', 'containerd.sock');
  const ctr = (args: string[]) => run('ctr', ['--address', socket, '-n', 'k8s.io', ...args]);
  const kubectl = (args: string[], input?: string) =>
    run(KUBECTL, args, { env, ...(input === undefined ? {} : { input }) });
  return {
    state,
    kubeconfig,
    netns: readFileSync(path.join(state, 'name'), 'utf8').trim(),
    kubectl,
    getJson: <T>(args: string[]) => JSON.parse(kubectl([...args, '-o', 'json'])) as T,
    helm: (args) => run(HELM, args, { env: helmEnv }),
    ctr,
    importImage: (archive) => {
      ctr(['images', 'import', archive]);
    },
    logTail: (lines = 15) => {
      const dir = path.join(state, 'logs');
      return ['kube-apiserver', 'kubelet', 'containerd', 'kube-controller-manager', 'kube-scheduler']
        .filter((name) => existsSync(path.join(dir, `${name}.log`)))
        .map((name) => {
          const text = readFileSync(path.join(dir, `${name}.log`), 'utf8')
            .trimEnd()
            .split('\n');
          return `--- ${name}.log\n${text.slice(-lines).join('\n')}`;
        })
        .join('\n');
    },
  };
}

/** scripts/k8s/up.sh STATE; returns the seconds it took. */
export function clusterUp(state: string): number {
  return runScript(path.join(root, 'scripts', 'k8s', 'up.sh'), [state]);
}

/** scripts/k8s/down.sh STATE; throws when it reports leftovers. */
export function clusterDown(state: string): number {
  return runScript(path.join(root, 'scripts', 'k8s', 'down.sh'), [state]);
}

/** A pod as far as the tests read it. */
export interface Pod {
  metadata: { name: string; namespace: string; uid: string; labels?: Record<string, string> };
  spec: { containers: { name: string; ports?: { name?: string; containerPort: number }[] }[] };
  status: {
    phase?: string;
    podIP?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { name: string; containerID?: string; ready: boolean; restartCount: number }[];
  };
}

export function podReady(pod: Pod): boolean {
  return pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
}

/** The containerd id of a pod's container (status.containerStatuses[].containerID is containerd://<id>). */
export function containerIdOf(pod: Pod, container: string): string {
  const id = pod.status.containerStatuses?.find((s) => s.name === container)?.containerID;
  if (id === undefined || !id.startsWith('containerd://')) throw new Error(`${pod.metadata.name}: no ${container}`);
  return id.slice('containerd://'.length);
}

/** The host PID of a container's first process (its containerd task). */
export function taskPid(c: Cluster, containerId: string): number {
  for (const line of c.ctr(['tasks', 'ls']).split('\n').slice(1)) {
    const [task, pid] = line.trim().split(/\s+/);
    if (task === containerId) return Number(pid);
  }
  throw new Error(`no containerd task ${containerId}`);
}

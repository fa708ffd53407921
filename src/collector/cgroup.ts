// Container and pod of a process, from its cgroup: the kernel gives each event the cgroup id
// (bpf_get_current_cgroup_id()), CgroupResolver turns it into a path in the cgroup2 tree, and parseCgroupPath reads
// the container runtime's and the kubelet's naming in that path.
//
// Absent, never wrong: a field is returned only when a path segment matches a strict pattern (a 64-hex container
// id in a runtime's naming, a pod UID in the kubelet's naming). Paths of other shapes, including a bare 64-hex
// directory whose runtime cannot be told (containerd's `/default/<id>`), give nothing.
//
// Layouts read (`<uid_>` is the pod UID with `_` for `-`, as systemd slice names must spell it):
//   systemd driver   /kubepods.slice/kubepods[-burstable|-besteffort].slice/kubepods[-<qos>]-pod<uid_>.slice/
//                      cri-containerd-<id>.scope | crio-<id>.scope | docker-<id>.scope
//                    (crio-conmon-<id>.scope is CRI-O's monitor process, not a container: pod only)
//   cgroupfs driver  /kubepods[/burstable|/besteffort]/pod<uid>/<id>   (or crio-<id>)
//   containerd's systemd form outside systemd: <slice>:cri-containerd:<id>   (also crio, docker)
//   plain runtimes   /docker/<id>, docker-<id>.scope, libpod-<id>.scope (Podman), nerdctl-<id>.scope (containerd)
// Any prefix is allowed (kind, a node in a container, a cgroup namespace's `/..`). The process's container is the
// innermost one; when a pod is found, only a container below the pod counts, so the pod-level cgroup of a kind node
// does not get the node container's id.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

export type ContainerRuntime = 'containerd' | 'cri-o' | 'docker' | 'podman';
export type QosClass = 'guaranteed' | 'burstable' | 'besteffort';

/** Where a process runs, as far as its cgroup path tells. Absent fields are unknown. */
export interface CgroupIdentity {
  /** The full 64-hex container id, lower case. */
  containerId?: string;
  /**
   * The pod UID, lower case: the dashed UUID form (`8f0e2c1a-1b2c-4d5e-8f90-0123456789ab`), or for a static pod
   * the 32-hex hash of its manifest, which is the UID the kubelet gives it (the API server's mirror pod has another).
   */
  podUid?: string;
  /** The runtime whose naming the container's cgroup has; set only with containerId, and only when known. */
  runtime?: ContainerRuntime;
  /** The pod's Kubernetes QoS class; set only with podUid, and only when the path shows it. */
  qos?: QosClass;
}

/** An identity and the cgroup's path relative to the cgroup2 root (starting with `/`), when the id is known. */
export type ResolvedCgroup = CgroupIdentity & { path?: string };

const HEX64 = '[0-9a-fA-F]{64}';
const HEX32 = '[0-9a-fA-F]{32}';
const UUID_PARTS = ['[0-9a-fA-F]{8}', '[0-9a-fA-F]{4}', '[0-9a-fA-F]{4}', '[0-9a-fA-F]{4}', '[0-9a-fA-F]{12}'];
const UID_DASHED = `${UUID_PARTS.join('-')}|${HEX32}`;
const UID_UNDERSCORED = `${UUID_PARTS.join('_')}|${HEX32}`;

/** systemd driver: `kubepods-burstable-pod<uid_>.slice`, with any slice prefix (kind's `kubelet-kubepods-…`). */
const POD_SLICE = new RegExp(`^(?:.*-)?kubepods(?:-(burstable|besteffort))?-pod(${UID_UNDERSCORED})\\.slice$`);
/** cgroupfs driver: `pod<uid>` below `kubepods` or its QoS directory. */
const POD_DIR = new RegExp(`^pod(${UID_DASHED})$`);
/** A runtime's container cgroup: `cri-containerd-<id>.scope`, `docker-<id>.scope`, `crio-<id>` (cgroupfs), … */
const CONTAINER_SCOPE = new RegExp(`^(cri-containerd|crio|docker|libpod|nerdctl)-(${HEX64})(?:\\.scope)?$`);
/** containerd's systemd cgroup form where no systemd made the scope: `<slice>:<prefix>:<id>`. */
const CONTAINER_COLON = new RegExp(`^([^:]+):(cri-containerd|crio|docker):(${HEX64})$`);
const BARE_ID = new RegExp(`^${HEX64}$`);

function runtimeOf(prefix: string | undefined): ContainerRuntime | undefined {
  switch (prefix) {
    case 'cri-containerd':
    case 'nerdctl':
      return 'containerd';
    case 'crio':
      return 'cri-o';
    case 'docker':
      return 'docker';
    case 'libpod':
      return 'podman';
    default:
      return undefined;
  }
}

interface Pod {
  uid: string;
  qos?: QosClass;
}

interface Container {
  id: string;
  runtime?: ContainerRuntime;
}

function podUid(raw: string): string {
  return raw.toLowerCase().replaceAll('_', '-');
}

/** The pod whose cgroup segments[i] is, if it is one. */
function podAt(segments: readonly string[], i: number): Pod | undefined {
  const segment = segments[i] ?? '';
  const colon = CONTAINER_COLON.exec(segment);
  const slice = POD_SLICE.exec(colon?.[1] ?? segment);
  if (slice?.[2] !== undefined) {
    return {
      uid: podUid(slice[2]),
      qos: slice[1] === 'burstable' || slice[1] === 'besteffort' ? slice[1] : 'guaranteed',
    };
  }
  const dir = POD_DIR.exec(segment);
  if (dir?.[1] === undefined) return undefined;
  // cgroupfs names say nothing of the hierarchy: require the kubelet's parents. `..` is an ancestor that a cgroup
  // namespace hides (the path was read from inside one); the pod is the kubelet's, its QoS class may be unknown.
  const parent = segments[i - 1];
  const grandparent = segments[i - 2];
  if (parent === 'kubepods') return { uid: podUid(dir[1]), qos: 'guaranteed' };
  if ((parent === 'burstable' || parent === 'besteffort') && (grandparent === 'kubepods' || grandparent === '..')) {
    return { uid: podUid(dir[1]), qos: parent };
  }
  if (parent === '..') return { uid: podUid(dir[1]) };
  return undefined;
}

/** The container whose cgroup segments[i] is, if it is one. `podIndex`: the segment of the enclosing pod. */
function containerAt(segments: readonly string[], i: number, podIndex: number | undefined): Container | undefined {
  const segment = segments[i] ?? '';
  const colon = CONTAINER_COLON.exec(segment);
  if (colon?.[3] !== undefined) return { id: colon[3].toLowerCase(), runtime: runtimeOf(colon[2]) };
  const scope = CONTAINER_SCOPE.exec(segment);
  if (scope?.[2] !== undefined) return { id: scope[2].toLowerCase(), runtime: runtimeOf(scope[1]) };
  if (BARE_ID.test(segment)) {
    // A bare id is a container only where its parent says whose: the kubelet's pod (containerd, Docker and CRI-O
    // on cgroupfs alike, so no runtime), or Docker's cgroupfs parent. Elsewhere (`/default/<id>`) it is a guess.
    if (podIndex !== undefined && podIndex === i - 1) return { id: segment.toLowerCase() };
    if (segments[i - 1] === 'docker') return { id: segment.toLowerCase(), runtime: 'docker' };
  }
  return undefined;
}

/** Container and pod from a cgroup path (v2, or one v1 hierarchy's). Unknown shapes give `{}`. */
export function parseCgroupPath(cgroupPath: string): CgroupIdentity {
  const segments = cgroupPath.split('/').filter((s) => s !== '' && s !== '.');
  let pod: Pod | undefined;
  let podIndex: number | undefined;
  for (let i = segments.length - 1; i >= 0; i--) {
    pod = podAt(segments, i);
    if (pod !== undefined) {
      podIndex = i;
      break;
    }
  }
  let container: Container | undefined;
  // The containerd colon form names the pod and the container in one segment, hence `>=`.
  for (let i = segments.length - 1; i >= (podIndex ?? 0) && container === undefined; i--) {
    container = containerAt(segments, i, podIndex);
  }
  const identity: CgroupIdentity = {};
  if (container !== undefined) {
    identity.containerId = container.id;
    if (container.runtime !== undefined) identity.runtime = container.runtime;
  }
  if (pod !== undefined) {
    identity.podUid = pod.uid;
    if (pod.qos !== undefined) identity.qos = pod.qos;
  }
  return identity;
}

function isEmpty(identity: CgroupIdentity): boolean {
  return identity.containerId === undefined && identity.podUid === undefined;
}

/** The contents of /proc/<pid>/cgroup. */
export interface ProcCgroup {
  /** The `0::<path>` line: the cgroup v2 (unified) path. */
  v2Path?: string;
  /** cgroup v1 paths by the hierarchy's controller field as written: `memory`, `cpu,cpuacct`, `name=systemd`. */
  v1Paths: Record<string, string>;
}

const PROC_CGROUP_LINE = /^(\d+):([^:]*):(\/.*)$/;

/** Parses /proc/<pid>/cgroup (`hierarchy-id:controllers:path` lines). Malformed lines are skipped. */
export function parseProcCgroup(text: string): ProcCgroup {
  let v2Path: string | undefined;
  const v1 = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = PROC_CGROUP_LINE.exec(line.trim());
    if (m === null) continue;
    const [, hierarchy = '', controllers = '', cgroupPath = ''] = m;
    if (hierarchy === '0' && controllers === '') v2Path ??= cgroupPath;
    else if (hierarchy !== '0' && controllers !== '' && !v1.has(controllers)) v1.set(controllers, cgroupPath);
  }
  // fromEntries defines own properties: a controller field cannot reach the prototype.
  const result: ProcCgroup = { v1Paths: Object.fromEntries(v1) };
  if (v2Path !== undefined) result.v2Path = v2Path;
  return result;
}

/** v1 hierarchies to read first: those container runtimes always place a container in. */
const V1_PREFERENCE = ['name=systemd', 'memory', 'cpu', 'cpuacct', 'pids'];

function v1Rank(controllers: string): number {
  let rank = V1_PREFERENCE.length;
  for (const controller of controllers.split(',')) {
    const i = V1_PREFERENCE.indexOf(controller);
    if (i >= 0 && i < rank) rank = i;
  }
  return rank;
}

/** The identity of a process in no container: one object for every such process, never written. */
const NO_CONTAINER: CgroupIdentity = Object.freeze({});

/**
 * Identity from /proc/<pid>/cgroup: from the v2 path when it gives one, else from the first v1 path that does,
 * in the order name=systemd, memory, cpu(acct), pids, then the rest as listed.
 */
export function identityFromProcCgroup(text: string): CgroupIdentity {
  const parsed = parseProcCgroup(text);
  if (parsed.v2Path !== undefined) {
    const identity = parseCgroupPath(parsed.v2Path);
    if (!isEmpty(identity)) return identity;
  }
  // A stable sort keeps the file's order within a rank.
  const v1 = Object.entries(parsed.v1Paths).sort(([a], [b]) => v1Rank(a) - v1Rank(b));
  for (const [, cgroupPath] of v1) {
    const identity = parseCgroupPath(cgroupPath);
    if (!isEmpty(identity)) return identity;
  }
  return NO_CONTAINER;
}

/**
 * The mount point of the cgroup2 filesystem in a /proc/<pid>/mountinfo text: `/sys/fs/cgroup` on a pure v2 host,
 * `/sys/fs/cgroup/unified` on a hybrid one; undefined on a v1-only host.
 */
export function findCgroup2Mount(mountinfo: string): string | undefined {
  const mounts: string[] = [];
  for (const line of mountinfo.split('\n')) {
    // id parent major:minor root mount-point options [optional fields…] - fstype source super-options
    const fields = line.split(' ');
    const separator = fields.indexOf('-', 6);
    const mountPoint = fields[4];
    if (separator < 0 || fields[separator + 1] !== 'cgroup2' || mountPoint === undefined) continue;
    mounts.push(mountPoint.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))));
  }
  for (const preferred of ['/sys/fs/cgroup', '/sys/fs/cgroup/unified'])
    if (mounts.includes(preferred)) return preferred;
  return mounts[0];
}

/** findCgroup2Mount over this process's mountinfo; undefined when there is no cgroup2 mount or no /proc. */
export function detectCgroup2Root(mountinfoPath = '/proc/self/mountinfo'): string | undefined {
  try {
    return findCgroup2Mount(readFileSync(mountinfoPath, 'utf8'));
  } catch {
    return undefined;
  }
}

export interface CgroupResolverOptions {
  /** Mount point of the cgroup2 filesystem; detected from /proc/self/mountinfo by default. */
  cgroup2Root?: string;
  /** Bound of the id → cgroup cache; 16384 by default. Best above the number of cgroups on the host. */
  maxEntries?: number;
  /** An unknown id walks the cgroup2 tree at most this often; 1000 ms by default. */
  minRescanIntervalMs?: number;
  /** Monotonic milliseconds; performance.now() by default. */
  now?: () => number;
}

export interface CgroupResolverStats {
  /** Cgroups in the cache. */
  entries: number;
  /** Walks of the cgroup2 tree. */
  rescans: number;
  /** resolve() calls whose id was not in the cache (each answered by a walk, or `{}` while walks wait). */
  misses: number;
}

export const DEFAULT_MAX_ENTRIES = 16_384;
export const DEFAULT_MIN_RESCAN_INTERVAL_MS = 1_000;

const UNKNOWN: ResolvedCgroup = Object.freeze({});

interface CacheSlot {
  entry: ResolvedCgroup;
  /** The resolver's use counter when it was last used. */
  used: number;
}

/**
 * Cgroup id → path and identity. On cgroup v2 (kernel ≥ 5.5, 64-bit) the id bpf_get_current_cgroup_id() gives is
 * the inode number of the cgroup's directory under the cgroup2 mount, and ids are never reused, so an entry never
 * goes stale: it can only be evicted.
 *
 * The cache is an LRU map over every directory of the tree, bounded by maxEntries. A miss walks the whole tree (at
 * most once per minRescanIntervalMs; in between, unknown ids resolve to `{}` for the price of a map lookup), and
 * the walk re-inserts every live cgroup at the recent end, so the cgroups removed since are the first evicted; the
 * id looked up goes in last, so it is cached even when the tree is larger than the cache. Unknown ids are not
 * cached: the rate limit alone keeps a hot unknown id cheap, and it cannot push out known ones.
 *
 * Returned objects are shared and frozen.
 */
export class CgroupResolver {
  /** The cgroup2 mount walked; undefined on a host without one (then only resolvePid answers). */
  readonly cgroup2Root: string | undefined;
  readonly #maxEntries: number;
  readonly #minRescanIntervalMs: number;
  readonly #now: () => number;
  /**
   * Entries with the time they were last used (a counter of uses): a hit stamps its entry, one lookup and no
   * reordering (a poll asks for every live process, and moving entries in a Map made it reallocate its table).
   * Eviction takes the least recently used, in batches.
   */
  readonly #cache = new Map<bigint, CacheSlot>();
  #uses = 0;
  #lastRescanMs = -Infinity;
  #rescans = 0;
  #misses = 0;

  constructor(options: CgroupResolverOptions = {}) {
    const maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
    const minRescanIntervalMs = options.minRescanIntervalMs ?? DEFAULT_MIN_RESCAN_INTERVAL_MS;
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new RangeError(`maxEntries must be a positive integer, got ${maxEntries}`);
    }
    if (!(minRescanIntervalMs >= 0)) {
      throw new RangeError(`minRescanIntervalMs must be 0 or more, got ${minRescanIntervalMs}`);
    }
    const root = options.cgroup2Root ?? detectCgroup2Root();
    this.cgroup2Root = root === undefined ? undefined : path.resolve(root);
    this.#maxEntries = maxEntries;
    this.#minRescanIntervalMs = minRescanIntervalMs;
    this.#now = options.now ?? (() => performance.now());
  }

  resolve(id: bigint): ResolvedCgroup {
    const hit = this.#cache.get(id);
    if (hit !== undefined) {
      hit.used = ++this.#uses;
      return hit.entry;
    }
    this.#misses++;
    const now = this.#now();
    if (this.cgroup2Root === undefined || now - this.#lastRescanMs < this.#minRescanIntervalMs) return UNKNOWN;
    this.#lastRescanMs = now;
    return this.#rescan(this.cgroup2Root, id) ?? UNKNOWN;
  }

  /**
   * A cgroup the kernel reported created (cgroup:cgroup_mkdir, its path from the hierarchy's root): cached as a
   * walk would cache it, so a process that ends together with its cgroup before the next walk (a short job in its
   * own container) still resolves. Ids are never reused, so the entry cannot go stale; like any, it can be evicted.
   */
  learn(id: bigint, cgroupPath: string): void {
    this.#put(id, this.#entry(id, cgroupPath));
    this.#evict();
  }

  /** Identity of a process from /proc/<pid>/cgroup: for hosts without cgroup v2, where ids say nothing. */
  resolvePid(pid: number, procRoot = '/proc'): CgroupIdentity {
    let text: string;
    try {
      text = readFileSync(path.join(procRoot, String(pid), 'cgroup'), 'utf8');
    } catch {
      return NO_CONTAINER;
    }
    return identityFromProcCgroup(text);
  }

  stats(): CgroupResolverStats {
    return { entries: this.#cache.size, rescans: this.#rescans, misses: this.#misses };
  }

  #entry(id: bigint, relative: string): ResolvedCgroup {
    const cached = this.#cache.get(id)?.entry;
    if (cached?.path === relative) return cached;
    return Object.freeze({ ...parseCgroupPath(relative), path: relative });
  }

  /** Stores the entry as the most recently used. */
  #put(id: bigint, entry: ResolvedCgroup): void {
    const slot = this.#cache.get(id);
    if (slot === undefined) this.#cache.set(id, { entry, used: ++this.#uses });
    else {
      slot.entry = entry;
      slot.used = ++this.#uses;
    }
  }

  /**
   * Over the bound, the least recently used go, down to 1/16 below it (at least one under the bound for bounds of
   * 16 and more), so a stream of new cgroups sorts the cache once per so many of them, not once each.
   */
  #evict(): void {
    const max = this.#maxEntries;
    if (this.#cache.size <= max) return;
    const keep = max - (max >>> 4);
    const slots = [...this.#cache].sort((a, b) => a[1].used - b[1].used);
    for (let i = 0; i < slots.length - keep; i++) this.#cache.delete(slots[i]![0]);
  }

  /** Walks the tree into the cache; returns the entry of `wanted` if the tree has it. */
  #rescan(root: string, wanted: bigint): ResolvedCgroup | undefined {
    this.#rescans++;
    const live: [bigint, string][] = [];
    // Depth first with an explicit stack: no recursion limit. Directories that vanish or cannot be read while the
    // walk runs are skipped. Dirents are not followed through symlinks (cgroupfs has none).
    const base = root === '/' ? '' : root;
    const stack = [''];
    for (let relative = stack.pop(); relative !== undefined; relative = stack.pop()) {
      const dir = relative === '' ? root : base + relative;
      let entries;
      try {
        live.push([statSync(dir, { bigint: true }).ino, relative === '' ? '/' : relative]);
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        continue;
      }
      for (const dirent of entries) if (dirent.isDirectory()) stack.push(`${relative}/${dirent.name}`);
    }
    // Every live cgroup moves to the recent end, the one looked up last; then the oldest go, which are the cgroups
    // removed since (when the tree fits), else the first walked.
    let found: ResolvedCgroup | undefined;
    for (const [id, relative] of live) {
      const entry = this.#entry(id, relative);
      this.#put(id, entry);
      if (id === wanted) found = entry;
    }
    if (found !== undefined) this.#put(wanted, found);
    this.#evict();
    return found;
  }
}

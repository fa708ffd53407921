// Container and pod attribution from cgroups. The paths and /proc/<pid>/cgroup files follow the layouts the
// kubelet (both cgroup drivers), containerd, CRI-O, Docker and Podman write; fixtures/cgroup/recorded-this-host.txt
// is this development machine's own file (hybrid v1 + v2, no container), the others are written from those layouts
// with made-up ids, since no cluster is reachable from here.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CgroupResolver,
  findCgroup2Mount,
  identityFromProcCgroup,
  parseCgroupPath,
  parseProcCgroup,
  type CgroupIdentity,
} from '../../src/collector/cgroup.ts';

const ID_A = 'b54f5108f3f5dc0ff2634c96fe81abe1641368643d180c5e27617252f5f8e7b5';
const ID_B = 'db990e2e7cb465546b39f30c916f9231bf96285e6b0e7343965c3c47541cc379';
const ID_C = '0734dc1606c6c2703336977952e04fb40d1b3315a387ed5ebdbb2c4f5a858e94';
const ID_D = '462686bb0a229046f9d00c146696dd40a09791d2c692e126e09afa9b85950040';
const ID_E = '89c4caec27887a97682e3946b3001a7f10f5385981070e809b1775ead88fbbb5';
const ID_NODE = '8ad7f8126701a9dc104d99f34bd05fdecca24a071f52e1b089718ac8388c5f47';
const UID_A = '0c5699f2-09d7-452d-bca0-9af60c89f3f5';
const UID_B = 'a41c9cf9-aed5-4e1b-aea3-11d6a675ecf2';
const UID_C = '8dddd8fe-a18a-453c-97de-a2b2e61d0e34';
const UID_D = 'd39d876f-6733-4635-8c4f-f10f850fc909';
const UID_E = '0bb66a2b-01a8-4903-8112-4761a6012a12';
/** A static pod's UID: the kubelet's hash of the manifest. */
const STATIC_UID = '5ef592c92705a4713e93d4c1b251904c';

/** The systemd driver's spelling of a pod UID. */
const u = (uid: string): string => uid.replaceAll('-', '_');

const SLICE = '/kubepods.slice';
const BURSTABLE = `${SLICE}/kubepods-burstable.slice/kubepods-burstable-pod${u(UID_A)}.slice`;
const BESTEFFORT = `${SLICE}/kubepods-besteffort.slice/kubepods-besteffort-pod${u(UID_C)}.slice`;
const GUARANTEED = `${SLICE}/kubepods-pod${u(UID_E)}.slice`;

const cases: [name: string, path: string, expected: CgroupIdentity][] = [
  // systemd cgroup driver
  [
    'containerd, systemd, burstable',
    `${BURSTABLE}/cri-containerd-${ID_A}.scope`,
    { containerId: ID_A, podUid: UID_A, runtime: 'containerd', qos: 'burstable' },
  ],
  [
    'containerd, systemd, besteffort',
    `${BESTEFFORT}/cri-containerd-${ID_C}.scope`,
    { containerId: ID_C, podUid: UID_C, runtime: 'containerd', qos: 'besteffort' },
  ],
  [
    'containerd, systemd, guaranteed',
    `${GUARANTEED}/cri-containerd-${ID_E}.scope`,
    { containerId: ID_E, podUid: UID_E, runtime: 'containerd', qos: 'guaranteed' },
  ],
  [
    'CRI-O, systemd, burstable',
    `${BURSTABLE}/crio-${ID_B}.scope`,
    { containerId: ID_B, podUid: UID_A, runtime: 'cri-o', qos: 'burstable' },
  ],
  [
    'CRI-O, systemd, guaranteed',
    `${GUARANTEED}/crio-${ID_E}.scope`,
    { containerId: ID_E, podUid: UID_E, runtime: 'cri-o', qos: 'guaranteed' },
  ],
  [
    'CRI-O container cgroup with a child (systemd in the container)',
    `${BESTEFFORT}/crio-${ID_C}.scope/container`,
    { containerId: ID_C, podUid: UID_C, runtime: 'cri-o', qos: 'besteffort' },
  ],
  ['CRI-O conmon is not a container', `${BURSTABLE}/crio-conmon-${ID_B}.scope`, { podUid: UID_A, qos: 'burstable' }],
  [
    'Docker (dockershim / cri-dockerd), systemd',
    `${BURSTABLE}/docker-${ID_D}.scope`,
    { containerId: ID_D, podUid: UID_A, runtime: 'docker', qos: 'burstable' },
  ],
  ['pod slice alone, burstable', BURSTABLE, { podUid: UID_A, qos: 'burstable' }],
  ['pod slice alone, guaranteed', GUARANTEED, { podUid: UID_E, qos: 'guaranteed' }],
  ['pod slice alone, trailing slash', `${BESTEFFORT}/`, { podUid: UID_C, qos: 'besteffort' }],
  [
    'static pod (UID is a 32-hex hash), systemd',
    `${SLICE}/kubepods-burstable.slice/kubepods-burstable-pod${STATIC_UID}.slice/cri-containerd-${ID_A}.scope`,
    { containerId: ID_A, podUid: STATIC_UID, runtime: 'containerd', qos: 'burstable' },
  ],

  // cgroupfs driver: bare ids, the same for containerd and Docker, so no runtime
  [
    'cgroupfs, burstable, containerd id',
    `/kubepods/burstable/pod${UID_A}/${ID_A}`,
    { containerId: ID_A, podUid: UID_A, qos: 'burstable' },
  ],
  [
    'cgroupfs, burstable, Docker id',
    `/kubepods/burstable/pod${UID_A}/${ID_D}`,
    { containerId: ID_D, podUid: UID_A, qos: 'burstable' },
  ],
  [
    'cgroupfs, guaranteed, containerd id',
    `/kubepods/pod${UID_B}/${ID_B}`,
    { containerId: ID_B, podUid: UID_B, qos: 'guaranteed' },
  ],
  [
    'cgroupfs, guaranteed, Docker id',
    `/kubepods/pod${UID_B}/${ID_D}`,
    { containerId: ID_D, podUid: UID_B, qos: 'guaranteed' },
  ],
  [
    'cgroupfs, besteffort, containerd id',
    `/kubepods/besteffort/pod${UID_D}/${ID_C}`,
    { containerId: ID_C, podUid: UID_D, qos: 'besteffort' },
  ],
  [
    'cgroupfs, besteffort, Docker id',
    `/kubepods/besteffort/pod${UID_D}/${ID_D}`,
    { containerId: ID_D, podUid: UID_D, qos: 'besteffort' },
  ],
  [
    'cgroupfs, CRI-O',
    `/kubepods/burstable/pod${UID_A}/crio-${ID_E}`,
    { containerId: ID_E, podUid: UID_A, runtime: 'cri-o', qos: 'burstable' },
  ],
  [
    'cgroupfs, CRI-O conmon',
    `/kubepods/burstable/pod${UID_A}/crio-conmon-${ID_E}`,
    { podUid: UID_A, qos: 'burstable' },
  ],
  ['cgroupfs pod alone', `/kubepods/besteffort/pod${UID_D}`, { podUid: UID_D, qos: 'besteffort' }],
  [
    'cgroupfs, static pod',
    `/kubepods/burstable/pod${STATIC_UID}/${ID_A}`,
    { containerId: ID_A, podUid: STATIC_UID, qos: 'burstable' },
  ],
  [
    'cgroupfs under a custom --cgroup-root',
    `/kubelet/kubepods/pod${UID_B}/${ID_B}`,
    { containerId: ID_B, podUid: UID_B, qos: 'guaranteed' },
  ],

  // nested and prefixed
  [
    'containerd systemd form outside systemd (slice:prefix:id)',
    `/system.slice/containerd.service/kubepods-burstable-pod${u(UID_A)}.slice:cri-containerd:${ID_A}`,
    { containerId: ID_A, podUid: UID_A, runtime: 'containerd', qos: 'burstable' },
  ],
  [
    'containerd systemd form, guaranteed',
    `/system.slice/containerd.service/kubepods-pod${u(UID_E)}.slice:cri-containerd:${ID_E}`,
    { containerId: ID_E, podUid: UID_E, runtime: 'containerd', qos: 'guaranteed' },
  ],
  [
    'kind, systemd driver (kubelet-kubepods slices)',
    `/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod${u(UID_C)}.slice/cri-containerd-${ID_C}.scope`,
    { containerId: ID_C, podUid: UID_C, runtime: 'containerd', qos: 'besteffort' },
  ],
  [
    'kind node in Docker, cgroupfs: the innermost container',
    `/docker/${ID_NODE}/kubepods/burstable/pod${UID_A}/${ID_A}`,
    { containerId: ID_A, podUid: UID_A, qos: 'burstable' },
  ],
  [
    'kind node in Docker, systemd driver',
    `/system.slice/docker-${ID_NODE}.scope/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-pod${u(UID_E)}.slice/cri-containerd-${ID_E}.scope`,
    { containerId: ID_E, podUid: UID_E, runtime: 'containerd', qos: 'guaranteed' },
  ],
  [
    'pod-level cgroup in a kind node: not the node container',
    `/docker/${ID_NODE}/kubepods/burstable/pod${UID_A}`,
    { podUid: UID_A, qos: 'burstable' },
  ],
  [
    'Docker in a pod container: the innermost container, in its pod',
    `/kubepods/burstable/pod${UID_A}/${ID_A}/docker/${ID_B}`,
    { containerId: ID_B, podUid: UID_A, runtime: 'docker', qos: 'burstable' },
  ],
  [
    'read inside a cgroup namespace, cgroupfs',
    `/../../besteffort/pod${UID_D}/${ID_D}`,
    { containerId: ID_D, podUid: UID_D, qos: 'besteffort' },
  ],
  ['read inside a cgroup namespace, QoS hidden', `/../pod${UID_B}/${ID_B}`, { containerId: ID_B, podUid: UID_B }],
  [
    'read inside a cgroup namespace, systemd',
    `/../../kubepods-besteffort-pod${u(UID_C)}.slice/cri-containerd-${ID_C}.scope`,
    { containerId: ID_C, podUid: UID_C, runtime: 'containerd', qos: 'besteffort' },
  ],

  // plain runtimes
  ['Docker, cgroupfs', `/docker/${ID_D}`, { containerId: ID_D, runtime: 'docker' }],
  ['Docker, systemd', `/system.slice/docker-${ID_D}.scope`, { containerId: ID_D, runtime: 'docker' }],
  ['Docker in Docker', `/docker/${ID_NODE}/docker/${ID_D}`, { containerId: ID_D, runtime: 'docker' }],
  [
    'Docker, systemd inside the container',
    `/docker/${ID_D}/system.slice/cron.service`,
    { containerId: ID_D, runtime: 'docker' },
  ],
  ['Podman', `/machine.slice/libpod-${ID_E}.scope`, { containerId: ID_E, runtime: 'podman' }],
  [
    'Podman, nested container cgroup',
    `/machine.slice/libpod-${ID_E}.scope/container`,
    { containerId: ID_E, runtime: 'podman' },
  ],
  [
    'Podman, rootless',
    `/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${ID_E}.scope`,
    { containerId: ID_E, runtime: 'podman' },
  ],
  [
    'Podman pod (a Podman pod id is not a Kubernetes pod UID)',
    `/machine.slice/machine-libpod_pod_${ID_NODE}.slice/libpod-${ID_E}.scope`,
    { containerId: ID_E, runtime: 'podman' },
  ],
  ['Podman, cgroupfs', `/libpod_parent/libpod-${ID_E}`, { containerId: ID_E, runtime: 'podman' }],
  ['Podman conmon is not a container', `/machine.slice/libpod-conmon-${ID_E}.scope`, {}],
  [
    'nerdctl (containerd), systemd',
    `/system.slice/nerdctl-${ID_A}.scope`,
    { containerId: ID_A, runtime: 'containerd' },
  ],
  ['containerd without Kubernetes: ambiguous', `/default/${ID_A}`, {}],
  ['containerd k8s.io namespace outside the kubelet: ambiguous', `/k8s.io/${ID_A}`, {}],
  ['a CI job cgroup with a bare id: ambiguous', `/actions_job/${ID_A}`, {}],
  ['a bare id at the root: ambiguous', `/${ID_A}`, {}],

  // not containers
  ['user session', '/user.slice/user-0.slice/session-1.scope', {}],
  ['root', '/', {}],
  ['empty', '', {}],
  ['init', '/init.scope', {}],
  ['containerd itself', '/system.slice/containerd.service', {}],
  ['kubepods slice', SLICE, {}],
  ['QoS slice', `${SLICE}/kubepods-burstable.slice`, {}],
  ['cgroupfs QoS directory', '/kubepods/burstable', {}],
  ['this host (32-hex directory)', '/process_api/63452808849d749887042956d1228fdf', {}],

  // malformed: fields only from strict matches
  ['container id of 63 hex', `/docker/${ID_D.slice(1)}`, {}],
  ['container id of 65 hex', `/docker/${ID_D}0`, {}],
  ['container id with a non-hex character', `/docker/${ID_D.slice(1)}g`, {}],
  ['scope with a 63-hex id', `${BURSTABLE}/cri-containerd-${ID_A.slice(1)}.scope`, { podUid: UID_A, qos: 'burstable' }],
  ['scope with a 65-hex id', `${BURSTABLE}/cri-containerd-${ID_A}a.scope`, { podUid: UID_A, qos: 'burstable' }],
  ['cgroupfs, bare id of 63 hex', `/kubepods/pod${UID_B}/${ID_B.slice(1)}`, { podUid: UID_B, qos: 'guaranteed' }],
  ['pod UID one digit short', `/kubepods/pod${UID_B.slice(0, -1)}/${ID_B}`, {}],
  ['pod UID in wrong groups', `/kubepods/pod${UID_B.replace('-', '')}-/${ID_B}`, {}],
  ['pod UID with underscores under cgroupfs', `/kubepods/pod${u(UID_B)}/${ID_B}`, {}],
  [
    'pod UID with dashes in a slice name (impossible in systemd)',
    `${SLICE}/kubepods-burstable.slice/kubepods-burstable-pod${UID_A}.slice/cri-containerd-${ID_A}.scope`,
    { containerId: ID_A, runtime: 'containerd' },
  ],
  ['pod directory outside kubepods', `/foo/pod${UID_B}/${ID_B}`, {}],
  ['QoS directory outside kubepods', `/foo/burstable/pod${UID_B}/${ID_B}`, {}],
  [
    'unknown QoS slice name',
    `${SLICE}/kubepods-gold-pod${u(UID_A)}.slice/cri-containerd-${ID_A}.scope`,
    { containerId: ID_A, runtime: 'containerd' },
  ],
  ['unknown runtime prefix', `/system.slice/rkt-${ID_A}.scope`, {}],

  // upper case is normalised
  ['upper-case Docker id', `/docker/${ID_D.toUpperCase()}`, { containerId: ID_D, runtime: 'docker' }],
  [
    'upper-case pod UID and container id',
    `${SLICE}/kubepods-burstable.slice/kubepods-burstable-pod${u(UID_A).toUpperCase()}.slice/cri-containerd-${ID_A.toUpperCase()}.scope`,
    { containerId: ID_A, podUid: UID_A, runtime: 'containerd', qos: 'burstable' },
  ],
  [
    'upper-case cgroupfs pod UID',
    `/kubepods/besteffort/pod${UID_D.toUpperCase()}/${ID_C}`,
    { containerId: ID_C, podUid: UID_D, qos: 'besteffort' },
  ],
];

describe('parseCgroupPath', () => {
  it.each(cases)('%s', (_name, cgroupPath, expected) => {
    // toStrictEqual: no field present with an undefined value.
    expect(parseCgroupPath(cgroupPath)).toStrictEqual(expected);
  });
});

const fixture = (name: string): string => readFileSync(new URL(`./fixtures/cgroup/${name}`, import.meta.url), 'utf8');

describe('parseProcCgroup', () => {
  it('reads a cgroup v2 file', () => {
    expect(parseProcCgroup(fixture('v2-user-session.txt'))).toStrictEqual({
      v2Path: '/user.slice/user-0.slice/session-1.scope',
      v1Paths: {},
    });
  });

  it('reads a 12-line cgroup v1 file of a kubelet node with the cgroupfs driver', () => {
    const p = `/kubepods/burstable/pod${UID_A}/${ID_A}`;
    expect(parseProcCgroup(fixture('v1-cgroupfs-burstable.txt'))).toStrictEqual({
      v1Paths: {
        rdma: '/',
        pids: p,
        cpuset: p,
        hugetlb: p,
        'net_cls,net_prio': p,
        blkio: p,
        perf_event: p,
        memory: p,
        devices: p,
        freezer: p,
        'cpu,cpuacct': p,
        'name=systemd': p,
      },
    });
  });

  it('reads a hybrid file: v1 hierarchies and the unified one', () => {
    const parsed = parseProcCgroup(fixture('recorded-this-host.txt'));
    expect(parsed.v2Path).toBe('/');
    expect(Object.keys(parsed.v1Paths)).toHaveLength(9);
    expect(parsed.v1Paths.memory).toBe('/process_api/63452808849d749887042956d1228fdf');
    expect(parsed.v1Paths['name=systemd']).toBe('/');
  });

  it('keeps colons in paths, takes CRLF, and skips malformed lines', () => {
    const text = [
      `0::/system.slice/containerd.service/kubepods-pod${u(UID_E)}.slice:cri-containerd:${ID_E}\r`,
      '',
      'garbage',
      '3:memory',
      '4:cpu:relative/path',
      'x:pids:/a',
      '5::/v1-without-controllers',
      '0:memory:/v2-with-controllers',
      '2:memory:/first',
      '6:memory:/second',
    ].join('\n');
    expect(parseProcCgroup(text)).toStrictEqual({
      v2Path: `/system.slice/containerd.service/kubepods-pod${u(UID_E)}.slice:cri-containerd:${ID_E}`,
      v1Paths: { memory: '/first' },
    });
  });

  it('an empty file has no paths', () => {
    expect(parseProcCgroup('')).toStrictEqual({ v1Paths: {} });
  });
});

describe('identityFromProcCgroup', () => {
  const files: [file: string, expected: CgroupIdentity][] = [
    ['v1-cgroupfs-burstable.txt', { containerId: ID_A, podUid: UID_A, qos: 'burstable' }],
    ['v1-cgroupfs-guaranteed-el7.txt', { containerId: ID_B, podUid: UID_B, qos: 'guaranteed' }],
    ['hybrid-systemd-containerd.txt', { containerId: ID_C, podUid: UID_C, runtime: 'containerd', qos: 'besteffort' }],
    // The unified hierarchy has the process in containerd.service: the v1 hierarchies tell.
    ['hybrid-cgroupfs-unified-elsewhere.txt', { containerId: ID_D, podUid: UID_D, qos: 'besteffort' }],
    ['v2-systemd-crio-guaranteed.txt', { containerId: ID_E, podUid: UID_E, runtime: 'cri-o', qos: 'guaranteed' }],
    ['v2-systemd-crio-conmon.txt', { podUid: UID_E, qos: 'guaranteed' }],
    ['v2-user-session.txt', {}],
    ['recorded-this-host.txt', {}],
  ];

  it.each(files)('%s', (file, expected) => {
    expect(identityFromProcCgroup(fixture(file))).toStrictEqual(expected);
  });

  it('prefers the v2 path when it gives an identity', () => {
    const text = `1:name=systemd:/docker/${ID_A}\n0::/system.slice/docker-${ID_B}.scope\n`;
    expect(identityFromProcCgroup(text)).toStrictEqual({ containerId: ID_B, runtime: 'docker' });
  });

  it('prefers name=systemd, then memory, cpu, pids among v1 hierarchies', () => {
    const lines = (entries: [string, string][]): string =>
      entries.map(([controllers, id], i) => `${i + 1}:${controllers}:/docker/${id}`).join('\n');
    const all: [string, string][] = [
      ['blkio', ID_NODE],
      ['pids', ID_E],
      ['cpuacct,cpu', ID_D],
      ['memory', ID_C],
      ['name=systemd', ID_B],
    ];
    for (let n = all.length; n > 0; n--) {
      const preferred = all[n - 1]?.[1];
      expect(identityFromProcCgroup(lines(all.slice(0, n))).containerId).toBe(preferred);
    }
    // A preferred hierarchy that says nothing is passed over.
    const text = `1:name=systemd:/\n2:memory:/docker/${ID_C}\n3:pids:/docker/${ID_E}\n0::/`;
    expect(identityFromProcCgroup(text)).toStrictEqual({ containerId: ID_C, runtime: 'docker' });
  });
});

describe('findCgroup2Mount', () => {
  const v1 = [
    '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
    '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
    '40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd',
  ];

  it('finds /sys/fs/cgroup on a pure v2 host', () => {
    const text = [
      '22 28 0:20 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw',
      '26 21 0:24 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot',
      '27 21 0:25 / /sys/fs/bpf rw,nosuid,nodev,noexec,relatime shared:5 - bpf bpf rw,mode=700',
    ].join('\n');
    expect(findCgroup2Mount(text)).toBe('/sys/fs/cgroup');
  });

  it('finds /sys/fs/cgroup/unified on a hybrid host', () => {
    const hybrid = [...v1, '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw'];
    expect(findCgroup2Mount(hybrid.join('\n'))).toBe('/sys/fs/cgroup/unified');
  });

  it('prefers the standard mount point, else takes the first, unescaping', () => {
    const text = [
      '50 21 0:24 / /host/sys\\040fs/cgroup rw,relatime - cgroup2 cgroup2 rw',
      '51 21 0:24 / /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw',
    ];
    expect(findCgroup2Mount(text.join('\n'))).toBe('/sys/fs/cgroup');
    expect(findCgroup2Mount(text[0] ?? '')).toBe('/host/sys fs/cgroup');
  });

  it('finds nothing on a v1-only host', () => {
    expect(findCgroup2Mount(v1.join('\n'))).toBeUndefined();
    expect(findCgroup2Mount('')).toBeUndefined();
  });
});

describe('CgroupResolver', () => {
  let root: string;
  let time: number;
  const now = (): number => time;
  const ino = (relative: string): bigint => statSync(path.join(root, relative), { bigint: true }).ino;
  const mk = (relative: string): bigint => {
    mkdirSync(path.join(root, relative), { recursive: true });
    return ino(relative);
  };

  const podDir = `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${u(UID_A)}.slice`;
  const containerDir = `${podDir}/cri-containerd-${ID_A}.scope`;
  const cgroupfsDir = `/kubepods/besteffort/pod${UID_D}/${ID_D}`;

  beforeEach(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'cgroup-test-'));
    time = 1_000_000;
    mk(containerDir);
    mk(cgroupfsDir);
    mk('/user.slice/user-0.slice/session-1.scope');
    // Files in cgroup directories are not cgroups.
    writeFileSync(path.join(root, 'cgroup.procs'), '');
    writeFileSync(path.join(root, containerDir, 'cgroup.procs'), '');
  });

  afterEach(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it('resolves a cgroup id to its path and identity', () => {
    const resolver = new CgroupResolver({ cgroup2Root: root, now });
    expect(resolver.resolve(ino(containerDir))).toStrictEqual({
      path: containerDir,
      containerId: ID_A,
      podUid: UID_A,
      runtime: 'containerd',
      qos: 'burstable',
    });
    expect(resolver.resolve(ino(cgroupfsDir))).toStrictEqual({
      path: cgroupfsDir,
      containerId: ID_D,
      podUid: UID_D,
      qos: 'besteffort',
    });
    expect(resolver.resolve(ino(podDir))).toStrictEqual({ path: podDir, podUid: UID_A, qos: 'burstable' });
    expect(resolver.resolve(ino('/user.slice'))).toStrictEqual({ path: '/user.slice' });
    expect(resolver.resolve(ino(''))).toStrictEqual({ path: '/' });
    // One walk filled the cache with every directory: 4 + 3 + 4 + the root.
    expect(resolver.stats()).toStrictEqual({ entries: 12, rescans: 1, misses: 1 });
  });

  it('rescans once for an unknown id, and not again within the interval', () => {
    const resolver = new CgroupResolver({ cgroup2Root: root, now, minRescanIntervalMs: 1000 });
    const unknown = 1n << 62n;
    expect(resolver.resolve(unknown)).toStrictEqual({});
    expect(resolver.stats()).toMatchObject({ rescans: 1, misses: 1 });
    for (let i = 0; i < 100; i++) {
      time += 9;
      expect(resolver.resolve(unknown)).toStrictEqual({});
    }
    expect(resolver.stats()).toMatchObject({ rescans: 1, misses: 101 });
    // Known ids are answered from the cache meanwhile.
    expect(resolver.resolve(ino(containerDir)).containerId).toBe(ID_A);
    expect(resolver.stats()).toMatchObject({ rescans: 1, misses: 101 });
  });

  it('finds a directory created later once the interval has passed', () => {
    const resolver = new CgroupResolver({ cgroup2Root: root, now, minRescanIntervalMs: 1000 });
    expect(resolver.resolve(ino(containerDir)).path).toBe(containerDir);
    const laterDir = `/kubepods/pod${UID_B}/${ID_B}`;
    const later = mk(laterDir);
    time += 999;
    expect(resolver.resolve(later)).toStrictEqual({});
    expect(resolver.stats().rescans).toBe(1);
    time += 1;
    expect(resolver.resolve(later)).toStrictEqual({
      path: laterDir,
      containerId: ID_B,
      podUid: UID_B,
      qos: 'guaranteed',
    });
    expect(resolver.stats().rescans).toBe(2);
  });

  it('resolves a learned cgroup without a walk, also after its directory is gone', () => {
    const resolver = new CgroupResolver({ cgroup2Root: root, now, maxEntries: 3, minRescanIntervalMs: 1000 });
    const gone = 1n << 40n;
    const goneDir = `/kubepods/pod${UID_B}/${ID_B}`;
    resolver.learn(gone, goneDir);
    expect(resolver.resolve(gone)).toStrictEqual({
      path: goneDir,
      containerId: ID_B,
      podUid: UID_B,
      qos: 'guaranteed',
    });
    expect(resolver.stats()).toStrictEqual({ entries: 1, rescans: 0, misses: 0 });
    // Learned entries are bounded like walked ones: the least recently used go first.
    for (let i = 1n; i <= 3n; i++) resolver.learn(gone + i, `/user.slice/u${i}`);
    expect(resolver.stats().entries).toBe(3);
    expect(resolver.resolve(gone + 3n).path).toBe('/user.slice/u3');
    time += 1000;
    expect(resolver.resolve(gone)).toStrictEqual({});
  });

  it('never holds more than maxEntries, and still resolves every id', () => {
    const dirs: string[] = [];
    for (let i = 0; i < 30; i++) {
      const uid = `${String(i).padStart(8, '0')}-0000-4000-8000-000000000000`;
      const dir = `/kubepods/burstable/pod${uid}/${String(i).padStart(2, '0').repeat(32)}`;
      mk(dir);
      dirs.push(dir);
    }
    const maxEntries = 5;
    const resolver = new CgroupResolver({ cgroup2Root: root, now, maxEntries, minRescanIntervalMs: 1000 });
    for (const dir of dirs) {
      time += 1000;
      expect(resolver.resolve(ino(dir)).path).toBe(dir);
      expect(resolver.stats().entries).toBeLessThanOrEqual(maxEntries);
    }
    // Without time passing, a hot id stays cached while others come and go.
    const hot = ino(dirs[0] ?? '');
    time += 1000;
    expect(resolver.resolve(hot).path).toBe(dirs[0]);
    for (const dir of dirs.slice(1, 4)) {
      resolver.resolve(ino(dir));
      expect(resolver.resolve(hot).path).toBe(dirs[0]);
    }
    expect(resolver.stats().entries).toBeLessThanOrEqual(maxEntries);
  });

  it('evicts cgroups that are gone before live ones', () => {
    // 12 directories, and one more that will go.
    const gone = mk('/gone.service');
    const resolver = new CgroupResolver({ cgroup2Root: root, now, maxEntries: 13, minRescanIntervalMs: 0 });
    expect(resolver.resolve(gone).path).toBe('/gone.service');
    expect(resolver.stats().entries).toBe(13);
    // Created before the removal: a temp file system may reuse the inode number, which cgroup2 never does.
    const added = mk(`/kubepods/pod${UID_B}`);
    rmSync(path.join(root, 'gone.service'), { recursive: true });
    expect(resolver.resolve(added)).toStrictEqual({ path: `/kubepods/pod${UID_B}`, podUid: UID_B, qos: 'guaranteed' });
    expect(resolver.stats()).toStrictEqual({ entries: 13, rescans: 2, misses: 2 });
    // Every live cgroup is still cached: no more walks.
    for (const dir of [containerDir, podDir, cgroupfsDir, '/user.slice', ''])
      expect(resolver.resolve(ino(dir)).path).toBeDefined();
    expect(resolver.stats()).toStrictEqual({ entries: 13, rescans: 2, misses: 2 });
    expect(resolver.resolve(gone)).toStrictEqual({});
    expect(resolver.stats().rescans).toBe(3);
  });

  it('resolves nothing, without throwing, when the root does not exist', () => {
    const resolver = new CgroupResolver({ cgroup2Root: path.join(root, 'missing'), now });
    expect(resolver.resolve(1n)).toStrictEqual({});
    expect(resolver.stats()).toStrictEqual({ entries: 0, rescans: 1, misses: 1 });
  });

  it('resolvePid reads /proc/<pid>/cgroup', () => {
    const proc = path.join(root, 'proc');
    mkdirSync(path.join(proc, '4242'), { recursive: true });
    writeFileSync(path.join(proc, '4242', 'cgroup'), fixture('v1-cgroupfs-burstable.txt'));
    const resolver = new CgroupResolver({ cgroup2Root: root, now });
    expect(resolver.resolvePid(4242, proc)).toStrictEqual({ containerId: ID_A, podUid: UID_A, qos: 'burstable' });
    expect(resolver.resolvePid(4243, proc)).toStrictEqual({});
  });

  it('rejects bad options', () => {
    expect(() => new CgroupResolver({ cgroup2Root: root, maxEntries: 0 })).toThrow(RangeError);
    expect(() => new CgroupResolver({ cgroup2Root: root, maxEntries: 1.5 })).toThrow(RangeError);
    expect(() => new CgroupResolver({ cgroup2Root: root, minRescanIntervalMs: -1 })).toThrow(RangeError);
    expect(() => new CgroupResolver({ cgroup2Root: root, minRescanIntervalMs: Number.NaN })).toThrow(RangeError);
  });

  it('on this machine, detects the cgroup2 mount and resolves its root', () => {
    const resolver = new CgroupResolver();
    const detected = resolver.cgroup2Root;
    expect(detected).toBeDefined();
    const rootId = statSync(detected ?? '', { bigint: true }).ino;
    // 1 on the host (the root cgroup's id); another id where the mount is a cgroup namespace's root.
    expect(resolver.resolve(rootId)).toStrictEqual({ path: '/' });
  });
});

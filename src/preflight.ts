// Checks made before anything is loaded into the kernel, each failing with one sentence that says what to do.
import { accessSync, closeSync, constants, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ProgramName } from './collector/types.ts';
import { PROGRAMS } from './programs/registry.ts';
import type { ProgramDescriptor } from './programs/types.ts';
import { UserError } from './errors.ts';
import type { Logger } from './log.ts';

export const CAPABILITIES = {
  CAP_DAC_OVERRIDE: 1,
  CAP_NET_ADMIN: 12,
  CAP_SYS_ADMIN: 21,
  CAP_SYS_RESOURCE: 24,
  CAP_PERFMON: 38,
  CAP_BPF: 39,
} as const;
export type CapabilityName = keyof typeof CAPABILITIES;

/** The effective capability set from /proc/self/status. */
export function effectiveCapabilities(status: string): bigint {
  const match = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  return match === null ? 0n : BigInt(`0x${match[1]}`);
}

/** What preflight needs to know of a program: a name from the registry, or its descriptor's facts. */
export type ProgramFacts = Pick<ProgramDescriptor, 'name' | 'minKernel' | 'capabilities' | 'tracefs'> &
  Partial<Pick<ProgramDescriptor, 'capabilityUse'>>;
export type ProgramRef = ProgramName | ProgramFacts;

function facts(programs: readonly ProgramRef[]): ProgramFacts[] {
  return programs.map((p) => (typeof p === 'string' ? PROGRAMS[p] : p));
}

/** The capabilities the programs need together, in a stable order (CAP_BPF, CAP_PERFMON first). */
export function requiredCapabilities(programs: readonly ProgramRef[]): CapabilityName[] {
  const need = new Set<CapabilityName>(['CAP_BPF', 'CAP_PERFMON']);
  for (const program of facts(programs)) for (const cap of program.capabilities) need.add(cap);
  return [...need];
}

/** Returns the missing capabilities' names (CAP_SYS_ADMIN stands in for CAP_BPF and CAP_PERFMON). */
export function missingCapabilities(effective: bigint, programs: readonly ProgramRef[]): CapabilityName[] {
  const has = (name: CapabilityName): boolean => (effective & (1n << BigInt(CAPABILITIES[name]))) !== 0n;
  return requiredCapabilities(programs).filter((name) => {
    if (has(name)) return false;
    return !((name === 'CAP_BPF' || name === 'CAP_PERFMON') && has('CAP_SYS_ADMIN'));
  });
}

/** "CAP_BPF, CAP_PERFMON (and CAP_NET_ADMIN for xdp)": what these programs need, for messages. */
export function describeCapabilities(programs: readonly ProgramRef[]): string {
  const base = requiredCapabilities([]);
  const extra = facts(programs).flatMap((p) =>
    p.capabilities.filter((c) => !base.includes(c)).map((c) => `${c} for ${p.name}`),
  );
  return `${base.join(', ')}${extra.length > 0 ? ` (and ${extra.join(', ')})` : ''}`;
}

export function checkPrivileges(
  programs: readonly ProgramRef[],
  status = readFileSync('/proc/self/status', 'utf8'),
): void {
  const missing = missingCapabilities(effectiveCapabilities(status), programs);
  if (missing.length > 0) {
    const extra: CapabilityName[] = missing.filter((c) => c !== 'CAP_BPF' && c !== 'CAP_PERFMON');
    const uses = facts(programs)
      .filter((p) => p.capabilities.some((c) => extra.includes(c)))
      .map((p) => ` and ${p.capabilityUse ?? `run ${p.name}`}`);
    throw new UserError(
      `missing capabilities ${missing.join(', ')} (needed to load BPF programs${uses.join('')}): ` +
        'run the agent as root (sudo) or grant them, e.g. setcap or the container securityContext',
    );
  }
}

export function parseKernelRelease(release: string): [number, number] {
  const match = /^(\d+)\.(\d+)/.exec(release);
  return match === null ? [0, 0] : [Number(match[1]), Number(match[2])];
}

export function checkKernel(programs: readonly ProgramRef[], release = os.release()): void {
  const [major, minor] = parseKernelRelease(release);
  for (const { name: program, minKernel } of facts(programs)) {
    const [needMajor, needMinor] = minKernel;
    if (major < needMajor || (major === needMajor && minor < needMinor)) {
      throw new UserError(
        `kernel ${release} is too old for program ${program} (needs ${needMajor}.${needMinor} or later): ` +
          `upgrade the kernel or leave ${program} out of --programs`,
      );
    }
  }
}

export function checkBtf(btfPath: string): void {
  if (!existsSync(btfPath)) {
    throw new UserError(
      `no kernel BTF at ${btfPath}: use a kernel built with CONFIG_DEBUG_INFO_BTF=y, or give a BTF file for this kernel with --btf-path FILE`,
    );
  }
  // Raw BTF starts with its magic 0xeb9f (little-endian here); libbpf also takes an ELF file with a .BTF section.
  let head: Buffer;
  try {
    const fd = openSync(btfPath, 'r');
    try {
      head = Buffer.alloc(4);
      readSync(fd, head, 0, 4, 0);
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    throw new UserError(`cannot read the BTF file ${btfPath}: ${(error as Error).message}`, { cause: error });
  }
  const rawBtf = head[0] === 0x9f && head[1] === 0xeb;
  const elf = head.toString('latin1') === '\x7fELF';
  if (!rawBtf && !elf) {
    throw new UserError(
      `${btfPath} is not a BTF file (neither raw BTF nor ELF): give --btf-path the kernel's BTF, /sys/kernel/btf/vmlinux, or a BTF file made for this kernel`,
    );
  }
}

/**
 * --cgroup-root, when given, must be a cgroup2 mount: a directory with cgroup.controllers (every cgroup2 directory
 * has one; a v1 hierarchy or any other directory has not).
 */
export function checkCgroupRoot(cgroupRoot: string | undefined): void {
  if (cgroupRoot === undefined) return;
  let isDir = false;
  try {
    isDir = statSync(cgroupRoot).isDirectory();
  } catch {
    // reported below
  }
  if (!isDir)
    throw new UserError(
      `--cgroup-root ${cgroupRoot}: no such directory (give the cgroup2 mount: /sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host)`,
    );
  if (!existsSync(path.join(cgroupRoot, 'cgroup.controllers')))
    throw new UserError(
      `--cgroup-root ${cgroupRoot} is not a cgroup2 mount (no cgroup.controllers): give /sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host`,
    );
}

/** A --kubelet-token-file that was given must be readable now (the default, the service account's, may come later). */
export function checkReadableFile(flag: string, file: string | undefined): void {
  if (file === undefined) return;
  try {
    accessSync(file, constants.R_OK);
  } catch (error) {
    throw new UserError(`${flag} ${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? 'error'})`, {
      cause: error,
    });
  }
}

/** True when any of the programs attaches tracepoints (libbpf then needs tracefs). */
export function needsTracefs(programs: readonly ProgramRef[]): boolean {
  return facts(programs).some((p) => p.tracefs);
}

/** tracefs is where libbpf finds tracepoint ids. Mounts it when allowed, else says how. */
export function ensureTracefs(
  tracefsPath: string,
  mountAllowed: boolean,
  mount: (path: string) => void,
  logger: Logger,
): void {
  const candidates = [tracefsPath, '/sys/kernel/debug/tracing'];
  if (candidates.some((dir) => existsSync(path.join(dir, 'events')))) return;
  const command = `mount -t tracefs nodev ${tracefsPath}`;
  if (!mountAllowed) {
    throw new UserError(
      `tracefs is not mounted at ${tracefsPath} (tracepoints need it): run ${command}, or drop --no-mount-tracefs`,
    );
  }
  try {
    mount(tracefsPath);
  } catch (error) {
    throw new UserError(
      `tracefs is not mounted at ${tracefsPath} and the agent could not mount it (${(error as Error).message.split('\n')[0]}): run ${command}`,
      {
        cause: error,
      },
    );
  }
  if (!existsSync(path.join(tracefsPath, 'events'))) {
    throw new UserError(
      `mounted tracefs at ${tracefsPath} but it has no events/ directory: run ${command} and check the kernel has CONFIG_FTRACE`,
    );
  }
  logger.info('mounted tracefs', { path: tracefsPath });
}

/** A BPF object must exist and must not be writable by anyone but its owner, who must be root or us. */
export function checkObjectFile(file: string, uid = process.getuid?.() ?? 0): void {
  let stat;
  try {
    stat = statSync(file);
  } catch {
    throw new UserError(`BPF object ${file} is missing: build it with npm run build (or set --bpf-dir)`);
  }
  if (!stat.isFile()) throw new UserError(`BPF object ${file} is not a regular file`);
  if ((stat.mode & 0o022) !== 0) {
    throw new UserError(
      `BPF object ${file} is group- or world-writable (mode ${(stat.mode & 0o777).toString(8)}), so anyone could change what runs in the kernel: run chmod go-w ${file}`,
    );
  }
  if (stat.uid !== 0 && stat.uid !== uid) {
    throw new UserError(
      `BPF object ${file} is owned by uid ${stat.uid}, neither root nor the agent's user: chown root ${file}`,
    );
  }
}

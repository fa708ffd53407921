// Preflight checks (src/preflight.ts) with fake /proc/self/status text, kernel releases, temp dirs and files.
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, type PathLike } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { UserError } from '../../src/errors.ts';
import type { Logger } from '../../src/log.ts';
import {
  checkBtf,
  checkKernel,
  checkObjectFile,
  checkPrivileges,
  effectiveCapabilities,
  ensureTracefs,
  missingCapabilities,
  parseKernelRelease,
  requiredCapabilities,
} from '../../src/preflight.ts';

// ensureTracefs also accepts the legacy /sys/kernel/debug/tracing; whether this machine has it mounted must not
// decide the tests, so that one path is made to look absent. Everything else is the real file system.
vi.mock('node:fs', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs')>();
  const existsSync = (p: PathLike): boolean =>
    String(p).startsWith('/sys/kernel/debug/tracing') ? false : actual.existsSync(p);
  return { ...actual, existsSync, default: { ...actual, existsSync } };
});

/** Runs fn, expects a single-line UserError, and returns its message. */
function userError(fn: () => unknown): string {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(UserError);
  const { message } = thrown as UserError;
  expect(message).not.toContain('\n');
  return message;
}

const CAP = { NET_ADMIN: 12n, SYS_ADMIN: 21n, PERFMON: 38n, BPF: 39n };
const caps = (...bits: bigint[]): bigint => bits.reduce((set, bit) => set | (1n << bit), 0n);

function status(capEff: bigint): string {
  const hex = capEff.toString(16).padStart(16, '0');
  return [
    'Name:\tnode',
    'Umask:\t0022',
    'State:\tR (running)',
    'Tgid:\t4242',
    'Uid:\t1000\t1000\t1000\t1000',
    'CapInh:\t0000000000000000',
    'CapPrm:\t000001ffffffffff', // permitted but not effective: must not count
    `CapEff:\t${hex}`,
    'CapBnd:\t000001ffffffffff',
    'CapAmb:\t0000000000000000',
    'NoNewPrivs:\t0',
    '',
  ].join('\n');
}

describe('effectiveCapabilities', () => {
  it('reads CapEff, not CapPrm or CapBnd', () => {
    expect(effectiveCapabilities(status(0n))).toBe(0n);
    expect(effectiveCapabilities(status(caps(CAP.BPF, CAP.PERFMON)))).toBe(0xc000000000n);
    expect(effectiveCapabilities(status(0x1ffffffffffn))).toBe(0x1ffffffffffn);
  });

  it('is empty when there is no CapEff line', () => {
    expect(effectiveCapabilities('Name:\tnode\nCapPrm:\t000001ffffffffff\n')).toBe(0n);
  });
});

describe('missingCapabilities', () => {
  it('needs CAP_BPF and CAP_PERFMON, and CAP_NET_ADMIN for xdp', () => {
    expect(requiredCapabilities(['exec', 'syscalls'])).toEqual(['CAP_BPF', 'CAP_PERFMON']);
    expect(requiredCapabilities(['xdp'])).toEqual(['CAP_BPF', 'CAP_PERFMON', 'CAP_NET_ADMIN']);
    expect(missingCapabilities(0n, ['exec'])).toEqual(['CAP_BPF', 'CAP_PERFMON']);
    expect(missingCapabilities(0n, ['xdp'])).toEqual(['CAP_BPF', 'CAP_PERFMON', 'CAP_NET_ADMIN']);
    expect(missingCapabilities(caps(CAP.BPF), ['syscalls'])).toEqual(['CAP_PERFMON']);
    expect(missingCapabilities(caps(CAP.BPF, CAP.PERFMON), ['exec', 'syscalls'])).toEqual([]);
    expect(missingCapabilities(caps(CAP.BPF, CAP.PERFMON, CAP.NET_ADMIN), ['xdp'])).toEqual([]);
  });

  it('lets CAP_SYS_ADMIN stand in for CAP_BPF and CAP_PERFMON but not for CAP_NET_ADMIN', () => {
    expect(missingCapabilities(caps(CAP.SYS_ADMIN), ['exec', 'syscalls'])).toEqual([]);
    expect(missingCapabilities(caps(CAP.SYS_ADMIN), ['exec', 'syscalls', 'xdp'])).toEqual(['CAP_NET_ADMIN']);
    expect(missingCapabilities(caps(CAP.SYS_ADMIN, CAP.NET_ADMIN), ['xdp'])).toEqual([]);
  });
});

describe('checkPrivileges', () => {
  it('passes with every capability', () => {
    expect(() => checkPrivileges(['exec', 'syscalls', 'xdp'], status(0x1ffffffffffn))).not.toThrow();
  });

  it('names the missing capabilities', () => {
    const message = userError(() => checkPrivileges(['exec', 'syscalls'], status(caps(CAP.BPF))));
    expect(message).toContain('missing capabilities CAP_PERFMON ');
    expect(message).not.toContain('CAP_BPF');
    expect(message).not.toContain('XDP');
  });

  it('names CAP_NET_ADMIN and XDP for xdp under CAP_SYS_ADMIN alone', () => {
    const message = userError(() => checkPrivileges(['exec', 'xdp'], status(caps(CAP.SYS_ADMIN))));
    expect(message).toContain('missing capabilities CAP_NET_ADMIN ');
    expect(message).toContain('attach XDP');
    expect(message).not.toContain('CAP_BPF');
  });

  it('names all of them when there are none', () => {
    expect(userError(() => checkPrivileges(['xdp'], status(0n)))).toContain(
      'missing capabilities CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN',
    );
  });
});

describe('checkKernel', () => {
  it('parses kernel releases', () => {
    expect(parseKernelRelease('6.18.0-rc1+')).toEqual([6, 18]);
    expect(parseKernelRelease('5.4.0-generic')).toEqual([5, 4]);
    expect(parseKernelRelease('weird')).toEqual([0, 0]);
  });

  it('passes on new enough kernels', () => {
    expect(() => checkKernel(['exec', 'syscalls', 'xdp'], '6.18.0')).not.toThrow();
    expect(() => checkKernel(['exec', 'syscalls', 'xdp'], '5.18.0')).not.toThrow();
    expect(() => checkKernel(['exec', 'syscalls'], '5.8.0')).not.toThrow();
    expect(() => checkKernel(['exec', 'syscalls'], '5.10.0-generic')).not.toThrow();
  });

  it('refuses xdp on 5.4 naming the program and the version it needs', () => {
    const message = userError(() => checkKernel(['xdp'], '5.4.0-generic'));
    expect(message).toContain('kernel 5.4.0-generic is too old for program xdp (needs 5.18 or later)');
    expect(message).toContain('--programs');
  });

  it('refuses xdp on 5.17 while exec and syscalls would run there', () => {
    expect(userError(() => checkKernel(['exec', 'syscalls', 'xdp'], '5.17.15'))).toContain(
      'too old for program xdp (needs 5.18 or later)',
    );
  });

  it('refuses exec before 5.8, comparing minor numbers numerically', () => {
    expect(userError(() => checkKernel(['exec'], '5.7.19'))).toContain('too old for program exec (needs 5.8 or later)');
    expect(userError(() => checkKernel(['syscalls'], '4.19.0'))).toContain(
      'too old for program syscalls (needs 5.8 or later)',
    );
    expect(() => checkKernel(['exec'], '5.10.0')).not.toThrow();
  });
});

describe('checkBtf', () => {
  it('passes a raw BTF file or an ELF file, and names a file that is neither', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'eoa-btf-'));
    try {
      writeFileSync(path.join(dir, 'vmlinux'), Buffer.from([0x9f, 0xeb, 1, 0]));
      expect(() => checkBtf(path.join(dir, 'vmlinux'))).not.toThrow();
      writeFileSync(path.join(dir, 'elf'), Buffer.from('\x7fELF\x02', 'latin1'));
      expect(() => checkBtf(path.join(dir, 'elf'))).not.toThrow();
      writeFileSync(path.join(dir, 'passwd'), 'root:x:0:0:root:/root:/bin/bash\n');
      expect(userError(() => checkBtf(path.join(dir, 'passwd')))).toMatch(/passwd is not a BTF file .*--btf-path/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says how to give a BTF file when it is missing', () => {
    const message = userError(() => checkBtf('/nonexistent/eoa/vmlinux'));
    expect(message).toContain('/nonexistent/eoa/vmlinux');
    expect(message).toContain('--btf-path');
  });
});

describe('ensureTracefs', () => {
  let dir: string;
  let infos: [string, Record<string, unknown> | undefined][];
  let logger: Logger;

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'eoa-tracefs-'));
    infos = [];
    logger = {
      debug() {},
      info: (message, fields) => void infos.push([message, fields]),
      warn() {},
      error() {},
    };
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('does nothing when events/ is there', () => {
    mkdirSync(path.join(dir, 'events'));
    const mount = vi.fn();
    ensureTracefs(dir, true, mount, logger);
    ensureTracefs(dir, false, mount, logger);
    expect(mount).not.toHaveBeenCalled();
    expect(infos).toEqual([]);
  });

  it('mounts when events/ is missing and mounting is allowed', () => {
    const mount = vi.fn((target: string) => mkdirSync(path.join(target, 'events')));
    ensureTracefs(dir, true, mount, logger);
    expect(mount.mock.calls).toEqual([[dir]]);
    expect(infos).toEqual([['mounted tracefs', { path: dir }]]);
  });

  it('says the mount command when mounting is not allowed', () => {
    const mount = vi.fn();
    const message = userError(() => ensureTracefs(dir, false, mount, logger));
    expect(message).toContain(`mount -t tracefs nodev ${dir}`);
    expect(message).toContain(`not mounted at ${dir}`);
    expect(mount).not.toHaveBeenCalled();
  });

  it('says the mount command and the first line of the error when the mount fails', () => {
    const mount = vi.fn(() => {
      throw new Error('EPERM: operation not permitted\nsecond line of detail');
    });
    const message = userError(() => ensureTracefs(dir, true, mount, logger));
    expect(message).toContain(`mount -t tracefs nodev ${dir}`);
    expect(message).toContain('EPERM: operation not permitted');
    expect(message).not.toContain('second line');
    expect(infos).toEqual([]);
  });

  it('refuses a mount that produced no events/ directory', () => {
    const message = userError(() => ensureTracefs(dir, true, () => {}, logger));
    expect(message).toContain('no events/ directory');
    expect(message).toContain(`mount -t tracefs nodev ${dir}`);
    expect(infos).toEqual([]);
  });
});

describe('checkObjectFile', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'eoa-obj-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function object(mode: number): string {
    const file = path.join(dir, 'prog.bpf.o');
    writeFileSync(file, '\x7fELF');
    chmodSync(file, mode); // explicit: the umask must not decide
    return file;
  }

  const me = process.getuid?.() ?? 0;

  it.each([0o644, 0o600, 0o400, 0o755])('accepts mode %s', (mode) => {
    expect(() => checkObjectFile(object(mode), me)).not.toThrow();
  });

  it.each([
    [0o664, '664'],
    [0o646, '646'],
    [0o666, '666'],
    [0o775, '775'],
  ])('refuses group- or world-writable mode %s', (mode, shown) => {
    const file = object(mode);
    const message = userError(() => checkObjectFile(file, me));
    expect(message).toContain(`(mode ${shown})`);
    expect(message).toContain(`chmod go-w ${file}`);
  });

  it('says how to build a missing object', () => {
    const file = path.join(dir, 'missing.bpf.o');
    const message = userError(() => checkObjectFile(file, me));
    expect(message).toContain(`${file} is missing`);
    expect(message).toContain('npm run build');
  });

  it('refuses a directory', () => {
    mkdirSync(path.join(dir, 'dir.bpf.o'));
    expect(userError(() => checkObjectFile(path.join(dir, 'dir.bpf.o'), me))).toContain('is not a regular file');
  });

  it.skipIf(me !== 0)('refuses an object owned by another user (needs root to chown)', () => {
    const file = object(0o644);
    chownSync(file, 12345, 12345);
    const message = userError(() => checkObjectFile(file, 0));
    expect(message).toContain('owned by uid 12345');
    expect(message).toContain(`chown root ${file}`);
    expect(() => checkObjectFile(file, 12345)).not.toThrow();
  });
});

// --exclude-self without a kernel: which tgid the syscalls and cpu objects are told to leave out, and when none.
import { describe, expect, it } from 'vitest';
import { INIT_PID_NAMESPACE_INODE, kernelTgidOfSelf } from '../../src/collector/process.ts';
import { excludedTgid } from '../../src/programs/shaping.ts';

describe('kernelTgidOfSelf', () => {
  it('is process.pid in the initial PID namespace', () => {
    expect(kernelTgidOfSelf(() => INIT_PID_NAMESPACE_INODE)).toBe(process.pid);
  });

  it('is unknown in a PID namespace of its own, or when /proc/self/ns/pid cannot be read', () => {
    expect(kernelTgidOfSelf(() => 4026532001)).toBeUndefined();
    expect(
      kernelTgidOfSelf(() => {
        throw new Error('ENOENT');
      }),
    ).toBeUndefined();
  });
});

describe('excludedTgid', () => {
  const logger = (): { warn(message: string): void; warnings: string[] } => {
    const warnings: string[] = [];
    return { warn: (message: string) => warnings.push(message), warnings };
  };

  it('is the agent’s tgid with --exclude-self', () => {
    const log = logger();
    expect(excludedTgid({ excludeSelf: true }, 'syscalls', log, () => 4242)).toBe(4242);
    expect(log.warnings).toEqual([]);
  });

  it('is nothing with --no-exclude-self', () => {
    const log = logger();
    expect(excludedTgid({ excludeSelf: false }, 'syscalls', log, () => 4242)).toBeUndefined();
    expect(log.warnings).toEqual([]);
  });

  it('is nothing, with one warning naming the program, when the agent cannot name itself to the kernel', () => {
    const log = logger();
    expect(excludedTgid({ excludeSelf: true }, 'cpu', log, () => undefined)).toBeUndefined();
    expect(log.warnings).toHaveLength(1);
    expect(log.warnings[0]).toMatch(/^cpu: --exclude-self has no effect: .*PID namespace of its own.*hostPID/);
  });
});

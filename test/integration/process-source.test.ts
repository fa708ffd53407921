// KernelProcessSource on the real kernel: a constructor that fails leaves nothing attached and nothing open.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { KernelProcessSource } from '../../src/collector/process.ts';
import { SYSCALLS_OBJECT } from '../../src/collector/syscalls.ts';

const root = path.resolve(import.meta.dirname, '..', '..');
const objectPath = path.join(root, 'bpf', 'build', 'syscalls.bpf.o');
const openFds = (): number => readdirSync('/proc/self/fd').length;

describe('KernelProcessSource', () => {
  it('closes its ring buffer, links and object when an attachment fails in the constructor', () => {
    // One construction that works first, so lazily opened descriptors (the addon, libbpf's) are not counted.
    new KernelProcessSource(SYSCALLS_OBJECT, { objectPath }).close();
    const before = openFds();
    const broken = { ...SYSCALLS_OBJECT, programs: [...SYSCALLS_OBJECT.programs, 'eoa_no_such_program'] };
    expect(() => new KernelProcessSource(broken, { objectPath })).toThrow(/eoa_no_such_program/);
    expect(openFds()).toBe(before);
  });
});

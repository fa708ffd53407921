// CPU lists as /sys/devices/system/cpu/online writes them.
import { describe, expect, it } from 'vitest';
import { parseCpuList } from '../../src/collector/cpu.ts';

describe('parseCpuList', () => {
  it.each([
    ['0', [0]],
    ['0-1\n', [0, 1]],
    ['0-3,6,8-9', [0, 1, 2, 3, 6, 8, 9]],
    ['', []],
  ])('%j', (text, cpus) => {
    expect(parseCpuList(text)).toEqual(cpus);
  });

  it('refuses what is not a CPU list', () => {
    expect(() => parseCpuList('0-a')).toThrow(/not a CPU list/);
  });
});

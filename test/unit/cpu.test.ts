// CPU lists as /sys/devices/system/cpu/online writes them, and the per-CPU sampling events that follow them.
import { describe, expect, it } from 'vitest';
import { Link, type BpfObject } from '../../src/bpf/index.ts';
import { parseCpuList, PerCpuSampling } from '../../src/collector/cpu.ts';
import { silentLogger } from '../../src/log.ts';

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

describe('PerCpuSampling', () => {
  /** A BPF object whose CPU-clock attachments are recorded; attaching to a CPU in `failing` throws. */
  function fakeObject(failing = new Set<number>()) {
    const attached: number[] = [];
    const destroyed: number[] = [];
    const object = {
      attachCpuClock(program: string, cpu: number, hz: number): Link {
        expect([program, hz]).toEqual(['eoa_cpu_sample', 99]);
        if (failing.has(cpu)) throw new Error(`cpu ${cpu} is gone`);
        attached.push(cpu);
        return new Link({ fd: 100 + cpu, destroy: () => destroyed.push(cpu) });
      },
    } as unknown as BpfObject;
    return { object, attached, destroyed };
  }

  it('samples every online CPU and follows hotplug', () => {
    let online = [0, 1, 2];
    const sampling = new PerCpuSampling(99, () => online, silentLogger);
    const { object, attached, destroyed } = fakeObject();
    sampling.attach(object);
    expect(attached).toEqual([0, 1, 2]);
    expect(sampling.attached()).toBe(true);

    online = [0, 2, 3];
    sampling.follow(object);
    expect(destroyed).toEqual([1]);
    expect(attached).toEqual([0, 1, 2, 3]);

    sampling.close();
    expect(destroyed.sort()).toEqual([0, 1, 2, 3]);
    expect(sampling.attached()).toBe(false);
  });

  it('keeps sampling the other CPUs when one that came online cannot be attached', () => {
    let online = [0];
    const sampling = new PerCpuSampling(99, () => online, silentLogger);
    const { object, attached } = fakeObject(new Set([1]));
    sampling.attach(object);
    online = [0, 1];
    sampling.follow(object);
    expect(attached).toEqual([0]);
    expect(sampling.attached()).toBe(true);
  });
});

// The registry: every program name has exactly one descriptor, and each descriptor's facts are consistent with
// the files and tables around it (its BPF source, the metric names, the capability list).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROGRAM_NAMES } from '../../src/programs/registry.ts';
import { metricsOf } from '../../src/export/descriptors.ts';
import { programOptions } from '../../src/flags.ts';
import { CAPABILITIES } from '../../src/preflight.ts';
import { PROGRAMS } from '../../src/programs/registry.ts';

const root = path.resolve(import.meta.dirname, '..', '..');

describe('program registry', () => {
  it('has one descriptor per program name, under its own name', () => {
    expect(Object.keys(PROGRAMS).sort()).toEqual([...PROGRAM_NAMES].sort());
    for (const name of PROGRAM_NAMES) expect(PROGRAMS[name].name).toBe(name);
  });

  it.each(PROGRAM_NAMES)('%s: its objects have BPF sources, its metrics and capabilities are known', (name) => {
    const d = PROGRAMS[name];
    expect(d.objects.length).toBeGreaterThan(0);
    for (const object of d.objects) {
      expect(object).toMatch(/^[a-z0-9_]+\.bpf\.o$/);
      expect(existsSync(path.join(root, 'bpf', object.replace(/\.o$/, '.c'))), object).toBe(true);
    }
    expect(metricsOf(name).length, 'its metrics in the metric table').toBeGreaterThan(0);
    for (const cap of d.capabilities) expect(Object.keys(CAPABILITIES)).toContain(cap);
    expect(d.capabilities).toEqual(expect.arrayContaining(['CAP_BPF', 'CAP_PERFMON']));
    expect(d.minKernel[0]).toBeGreaterThanOrEqual(4);
    expect(d.summary).not.toBe('');
  });

  it('each program with options has them tagged in the flag table', () => {
    expect(programOptions('exec')).toContain('exec-handler');
    expect(programOptions('xdp')).toEqual(['xdp-interface', 'xdp-mode']);
    expect(programOptions('cpu')).toEqual(['cpu-sample-hz', 'cpu-max-entries']);
    expect(programOptions('syscalls')).toEqual(['syscalls-max-entries']);
  });
});

import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { clear, grown } from '../../src/collector/columns.ts';

describe('columns', () => {
  it('grows a column with every value in place, zero pages included', () => {
    for (const make of [
      (n: number) => new Float64Array(n),
      (n: number) => new Uint32Array(n),
      (n: number) => new Uint8Array(n),
      (n: number) => new Float32Array(n),
    ]) {
      const old = make(10_000);
      for (const i of [0, 511, 512, 4095, 4096, 9_999]) old[i] = (i % 200) + 1;
      const next = grown(old, make(20_000));
      expect(Array.from(next.subarray(0, 10_000))).toEqual(Array.from(old));
      expect(next.subarray(10_000).every((v) => v === 0)).toBe(true);
    }
  });

  it('clears a range, leaving zeros unwritten', () => {
    const column = new Float64Array([1, 0, 2, 3, 0]);
    clear(column, 1, 4);
    expect(Array.from(column)).toEqual([1, 0, 0, 0, 0]);
  });

  it('leaves the pages that hold only zeros unwritten: RSS grows by what the column holds, not its size', () => {
    // In a process of its own (RSS is the process's): 64 MiB columns, one value in the old one.
    const script = `
      import { grown } from ${JSON.stringify(path.resolve(import.meta.dirname, '../../src/collector/columns.ts'))};
      const rss = () => Number(/RssAnon:\\s+(\\d+)/.exec(require('node:fs').readFileSync('/proc/self/status', 'utf8'))[1]);
      const old = new Float64Array(8 << 20);
      old[12345] = 7;
      const a = rss();
      const sparse = grown(old, new Float64Array(8 << 20));
      const b = rss();
      const dense = new Float64Array(8 << 20);
      dense.set(old);
      const c = rss();
      console.log(JSON.stringify({ sparse: b - a, dense: c - b, value: sparse[12345] }));
    `.replace("require('node:fs')", "process.getBuiltinModule('node:fs')");
    const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }));
    expect(out.value).toBe(7);
    // KiB: the dense copy writes all 64 MiB; the sparse one a page (and what else the process allocated meanwhile).
    expect(out.dense).toBeGreaterThan(60 * 1024);
    expect(out.sparse).toBeLessThan(out.dense / 16);
  });
});

// The TypeScript side's layouts (src/bpf/layouts.ts) are what bpf/*.h gives: the objects are built afresh from
// bpf/ into a temporary directory and the file is generated again from their BTF. A header change that is not
// regenerated (`make -C bpf && node scripts/layouts.ts`) fails here.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateLayouts, LAYOUTS_FILE } from '../../scripts/layouts.ts';

const root = path.resolve(import.meta.dirname, '..', '..');
const out = mkdtempSync(path.join(os.tmpdir(), 'eoa-layouts-'));

afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('src/bpf/layouts.ts', () => {
  it('is generated from the BTF of the objects bpf/ builds now', async () => {
    execFileSync('make', ['-s', '-C', path.join(root, 'bpf'), `OUT=${out}`], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const expected = await generateLayouts(out);
    expect(
      readFileSync(LAYOUTS_FILE, 'utf8'),
      'src/bpf/layouts.ts is stale: run `make -C bpf && node scripts/layouts.ts` and commit it',
    ).toBe(expected);
  });
});

// The one way the tests and benchmarks build their C helpers (test/helpers/*.c, bench/lib/*.c): gcc, static (no
// dynamic loader, so a run makes only the syscalls the helper itself makes), optimised, warnings as errors.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout's root. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Builds `source` (relative to the checkout's root, or absolute) into the executable `output`; returns `output`. */
export function buildStaticC(source: string, output: string): string {
  mkdirSync(path.dirname(output), { recursive: true });
  execFileSync('gcc', ['-O2', '-static', '-Wall', '-Werror', '-o', output, path.resolve(repoRoot, source)], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return output;
}

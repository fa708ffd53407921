// Builds dist/: the agent bundled by esbuild into one ESM file, dist/cli.js, with every npm dependency inlined,
// plus a chunk per OTLP exporter (loaded only when --otlp-endpoint asks for it). One file instead of a few
// hundred modules saves about 15 MiB of resident memory (docs/benchmarks.md), and the image needs no
// node_modules. The native addon and the BPF objects stay files, found from the package root at run time.
// Run by npm run build:ts (Node 24). Type checking is tsc's job (npm run lint), not this script's.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const outdir = path.join(root, 'dist');

rmSync(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: { cli: 'src/cli.ts' },
  outdir,
  entryNames: '[name]',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  // CommonJS dependencies call require() for Node's built-in modules; an ES module has no require of its own.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module';\nconst require = __createRequire(import.meta.url);",
  },
  sourcemap: 'linked',
  legalComments: 'linked',
  logLevel: 'warning',
});

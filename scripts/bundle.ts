// Builds dist/: the agent bundled by esbuild into one ESM file, dist/cli.js, with every npm dependency inlined,
// plus a chunk per OTLP exporter (loaded only when --otlp-endpoint asks for it). One file instead of a few
// hundred modules saves about 15 MiB of resident memory (docs/benchmarks.md), and the image needs no
// node_modules. The native addon and the BPF objects stay files, found from the package root at run time.
// Run by npm run build:ts (Node 24). Type checking is tsc's job (npm run lint), not this script's.
import { build, type Plugin } from 'esbuild';
import { builtinModules } from 'node:module';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');

// Node's built-in modules are loaded with require(), not `import`: an ES import of a built-in builds a facade that
// reads every export, and node:http's lazy WebSocket getters then load undici, http2, crypto, worker_threads and
// more, about 12 MiB of RSS for nothing (measured on Node 24.21).
const builtins = new Set(builtinModules);
const requireBuiltins: Plugin = {
  name: 'require-builtins',
  setup(b) {
    b.onResolve({ filter: /^[a-z_:/]+$/ }, (args) => {
      // The require() inside the stand-in below is the real one.
      if (args.namespace === 'builtin') return { path: args.path, external: true };

      const name = args.path.replace(/^node:/, '');
      if (!builtins.has(name)) return undefined;
      // A dynamic import() stays one: esbuild's split chunks would hand it the CommonJS stand-in's default export
      // only, without named exports (`const { Agent } = await import('http')` in the OTLP exporter).
      if (args.kind === 'dynamic-import') return { path: `node:${name}`, external: true };
      return { path: name, namespace: 'builtin' };
    });
    b.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(`node:${args.path}`)});`,
      loader: 'js',
    }));
  },
};
// OpenTelemetry's packages are built by rolldown, whose runtime loads some dependencies with a require() made by
// createRequire at run time (`__require("@grpc/grpc-js")`): invisible to esbuild, so it would load a second copy
// of grpc-js from node_modules (whose credentials the bundled copy then rejects: "Channel credentials must be a
// ChannelCredentials object"), or nothing at all in the image. Made plain require() calls, esbuild bundles them.
const bundleRuntimeRequires: Plugin = {
  name: 'bundle-runtime-requires',
  setup(b) {
    b.onLoad({ filter: /[\\/]node_modules[\\/]@opentelemetry[\\/].*\.mjs$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      if (!text.includes('__require("')) return undefined;
      return {
        contents: text.replace(/\b__require\(("[^"]+")\)/g, (call, id: string) =>
          builtins.has(JSON.parse(id).replace(/^node:/, '')) ? call : `require(${id})`,
        ),
        loader: 'js',
        resolveDir: path.dirname(args.path),
      };
    });
  },
};

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
  // Whitespace and comments out, names kept (stack traces stay readable; the linked source map maps them back).
  // V8 keeps a script's whole source in the heap, as two bytes per character once one character is not ASCII:
  // the commented bundle was 1.6 MiB of heap, this one is an ASCII string of about half its length.
  minifyWhitespace: true,
  minifySyntax: true,
  charset: 'ascii',
  sourcemap: 'linked',
  legalComments: 'linked',
  logLevel: 'warning',
  plugins: [requireBuiltins, bundleRuntimeRequires],
});

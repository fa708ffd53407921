// The scripts that build tools from the Go module proxy (helm, the collector, kubeconform, Kubernetes) say once,
// in one line, what they build, why and how long it takes cold; the build's output (hundreds of `go: downloading`
// lines) goes to a log whose path that line gives, and a failure shows the log's tail. Run here with a fake `go`
// on PATH and a scratch tools directory (EOA_TOOLS_DIR), so nothing is downloaded or built.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..', '..');
const SCRIPTS = [
  'scripts/install-helm.sh',
  'scripts/install-otelcol.sh',
  'scripts/install-kubeconform.sh',
  'scripts/k8s/install-kubernetes.sh',
];

const FAKE_GO = `#!/bin/sh
case "$1" in
  env) echo go1.26.8 ;;
  version) echo "go version go1.26.8 linux/amd64" ;;
  install)
    i=0
    while [ $i -lt 200 ]; do echo "go: downloading example.com/mod$i v1.0.$i" >&2; i=$((i + 1)); done
    if [ -n "\${FAKE_GO_FAIL:-}" ]; then echo "helm.go:12:2: undefined: broken" >&2; exit 1; fi
    printf '#!/bin/sh\\necho v4.3.2+gfake\\n' >"$GOBIN/helm"
    chmod +x "$GOBIN/helm"
    ;;
  *) echo "fake go: unexpected $*" >&2; exit 2 ;;
esac
`;

describe('install-helm.sh with a fake go', () => {
  let tmp: string;
  let tools: string;
  let env: NodeJS.ProcessEnv;
  beforeAll(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'eoa-install-'));
    tools = path.join(tmp, 'tools');
    mkdirSync(path.join(tmp, 'bin'));
    writeFileSync(path.join(tmp, 'bin', 'go'), FAKE_GO);
    chmodSync(path.join(tmp, 'bin', 'go'), 0o755);
    env = { ...process.env, PATH: `${path.join(tmp, 'bin')}:${process.env.PATH}`, EOA_TOOLS_DIR: tools };
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  const run = (extra: NodeJS.ProcessEnv = {}) => {
    const result = spawnSync(path.join(root, 'scripts', 'install-helm.sh'), {
      env: { ...env, ...extra },
      encoding: 'utf8',
    });
    return { status: result.status, stdout: result.stdout, lines: result.stderr.trimEnd().split('\n') };
  };
  const logFile = (): string => path.join(tools, 'logs', 'install-helm.log');

  it('a build: one line saying what, why and how long, the result; the go output only in the log', () => {
    const { status, stdout, lines } = run();
    expect(status, lines.join('\n')).toBe(0);
    expect(stdout).toBe('');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      /^install-helm: building helm v4\.3\.2 from the Go module proxy with go1\.26\.8, for the chart tests \(.*\): ~4 min cold on 2 cores, once; its output goes to (\S+)$/,
    );
    expect(lines[0]!.endsWith(logFile())).toBe(true);
    expect(lines[1]).toMatch(/^install-helm: built \S+\/helm \(v4\.3\.2\+gfake, .*\) in 0m\d+s$/);
    const log = readFileSync(logFile(), 'utf8');
    expect(log.split('\n').filter((line) => line.startsWith('go: downloading '))).toHaveLength(200);
    expect(existsSync(path.join(tools, 'bin', 'helm'))).toBe(true);
  });

  it('up to date: one line, no build', () => {
    const { status, lines } = run();
    expect(status).toBe(0);
    expect(lines).toEqual([
      expect.stringMatching(/^install-helm: \S+\/helm is up to date \(v4\.3\.2, built with go1\.26\.8\)$/),
    ]);
  });

  it('a failed build: the announcement, then the log tail without the go: downloading lines', () => {
    const { status, lines } = run({ HELM_REBUILD: '1', FAKE_GO_FAIL: '1' });
    expect(status).not.toBe(0);
    expect(lines[0]).toMatch(/^install-helm: building helm /);
    expect(lines[1]).toBe(
      `install-helm: FAILED (exit 1); the last lines of ${logFile()} (without its go: downloading lines):`,
    );
    expect(lines.slice(2).join('\n')).toContain('    helm.go:12:2: undefined: broken');
    expect(lines.slice(2).some((line) => line.includes('go: downloading'))).toBe(false);
    expect(lines.length).toBeLessThanOrEqual(2 + 30);
    // The old binary is untouched.
    expect(existsSync(path.join(tools, 'bin', 'helm'))).toBe(true);
  });
});

describe('the Go tool scripts', () => {
  it.each(SCRIPTS)('%s takes the Go environment from scripts/lib/go-env.sh and announces its build once', (script) => {
    const text = readFileSync(path.join(root, script), 'utf8');
    expect(text).toMatch(/^source "\$ROOT\/scripts\/lib\/go-env\.sh"$/m);
    expect(text).toMatch(/^source "\$ROOT\/scripts\/lib\/build-log\.sh"$/m);
    expect(text).not.toMatch(/^export (GOPATH|GOMODCACHE|GOCACHE|GOTOOLCHAIN|GOWORK|GOPROXY|GOSUMDB|CGO_ENABLED)=/m);
    expect(text.match(/^\s*build_log_begin /gm)).toHaveLength(1);
    expect(text).toMatch(/^trap '.*build_log_end \$status' EXIT$/m);
  });
});

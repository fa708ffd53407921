// Integration tests need root, the built BPF objects and addon, and the workload helper compiled.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..', '..');

export default function setup(): void {
  if (process.getuid?.() !== 0) {
    throw new Error('integration tests load BPF programs into the kernel: run them as root (sudo npm test)');
  }
  for (const file of [
    'bpf/build/syscalls.bpf.o',
    'bpf/build/exec.bpf.o',
    'bpf/build/xdp.bpf.o',
    'native/build/Release/ebpf_addon.node',
  ]) {
    if (!existsSync(path.join(root, file))) throw new Error(`${file} is missing: run npm run build first`);
  }
  // libbpf needs tracefs to attach tracepoints, and a fresh machine has it unmounted. The agent mounts it itself, but
  // several tests load programs without it (or run it with --no-mount-tracefs), and scripts/bootstrap.sh may not have
  // run (or ran in its build mode, which mounts nothing).
  if (!existsSync('/sys/kernel/tracing/events')) {
    execFileSync('mount', ['-t', 'tracefs', 'nodev', '/sys/kernel/tracing'], { stdio: 'inherit' });
  }
  // The tests run the bundled agent, as npm start does: bundle the current sources.
  execFileSync(process.execPath, [path.join(root, 'scripts', 'bundle.ts')], { stdio: 'inherit' });
  const out = path.join(root, 'test', 'helpers', 'build');
  mkdirSync(out, { recursive: true });
  // Static: no dynamic loader, so a run makes only the syscalls the helper itself makes.
  execFileSync(
    'gcc',
    [
      '-O2',
      '-static',
      '-Wall',
      '-Werror',
      '-o',
      path.join(out, 'syscaller'),
      path.join(root, 'test', 'helpers', 'syscaller.c'),
    ],
    {
      stdio: 'inherit',
    },
  );
}

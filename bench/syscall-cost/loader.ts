// Loads a BPF object with the project's BpfObject class, attaches the named programs, prints "attached" on
// stdout, and holds them until SIGTERM/SIGINT or until stdin closes (the driver is gone); then detaches and exits.
//   node bench/syscall-cost/loader.ts OBJECT [--report MAP] [--stats] PROGRAM...
// --report MAP: at exit, print counted=<sum of every u64 value of MAP> (a count map, per-CPU values summed).
// --stats: turn on the kernel's BPF run-time stats while attached; at exit print, per program,
// "stats <program> runs=<run_cnt> ns=<run_time_ns>" (stats slow every BPF program down: never while timing).
import { existsSync } from 'node:fs';
import { BpfObject, enableRunTimeStats, mountTracefs, type Link } from '../../src/bpf/index.ts';

const args = process.argv.slice(2);
const objectPath = args.shift();
let reportMap: string | undefined;
let stats = false;
for (;;) {
  if (args[0] === '--report') {
    args.shift();
    reportMap = args.shift();
  } else if (args[0] === '--stats') {
    args.shift();
    stats = true;
  } else break;
}
if (objectPath === undefined || args.length === 0) {
  console.error('usage: loader.ts OBJECT [--report MAP] [--stats] PROGRAM...');
  process.exit(2);
}
if (!existsSync('/sys/kernel/tracing/events')) mountTracefs('/sys/kernel/tracing');

const object = new BpfObject(objectPath);
const links: Link[] = [];
let statsLink: Link | undefined;
let done = false;
function finish(code: number): void {
  if (done) return;
  done = true;
  for (const link of links) link.destroy();
  if (code === 0) {
    if (statsLink !== undefined) {
      for (const program of args) {
        const info = object.programInfo(program);
        console.log(`stats ${program} runs=${info.runCount} ns=${info.runTimeNs}`);
      }
    }
    if (reportMap !== undefined) {
      const snapshot = object.readMap(reportMap);
      let total = 0n;
      for (let i = 0; i < snapshot.count; i++) total += snapshot.values.getBigUint64(i * snapshot.valueSize, true);
      console.log(`counted=${total}`);
    }
  }
  statsLink?.destroy();
  object.close();
  process.exit(code);
}
try {
  object.load();
  if (stats) statsLink = enableRunTimeStats();
  for (const program of args) links.push(object.attach(program));
} catch (error) {
  console.error(error);
  finish(1);
}
process.on('SIGTERM', () => finish(0));
process.on('SIGINT', () => finish(0));
process.stdin.on('end', () => finish(0));
process.stdin.on('error', () => finish(0));
process.stdin.resume();
console.log('attached');

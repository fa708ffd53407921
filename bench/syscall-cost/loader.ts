// Loads BPF objects with the project's BpfObject class and attaches their programs, for bench/syscall-cost.
//
//   node bench/syscall-cost/loader.ts OBJECT [--report MAP] [--stats] PROGRAM...
// Attaches the programs, prints "prog <name> id=<kernel id>" for each and then "attached", holds them until
// SIGTERM/SIGINT or until stdin closes (the driver is gone), then detaches and exits.
// --report MAP: at exit, print counted=<sum of every u64 in the values of MAP> (a count map, per-CPU values summed).
// --stats: turn on the kernel's BPF run-time stats while attached; at exit print, per program,
// "stats <program> runs=<run_cnt> ns=<run_time_ns>" (stats slow every BPF program down: never while timing).
//
//   node bench/syscall-cost/loader.ts --cycle MS NAME=OBJECT:PROGRAM[,PROGRAM...]...
// Loads every object, prints "attached", then cycles nothing → first set → nothing → second set → … with each
// state held MS milliseconds, until stopped; at exit prints segments=<JSON [[state, from ns, to ns], ...]>, the
// CLOCK_MONOTONIC times between which each state was fully in place (the loop's chunk log uses the same clock).
import { existsSync } from 'node:fs';
import { BpfObject, enableRunTimeStats, mountTracefs, type Link } from '../../src/bpf/index.ts';

const args = process.argv.slice(2);
if (!existsSync('/sys/kernel/tracing/events')) mountTracefs('/sys/kernel/tracing');
let finish: (code: number) => void = (code) => process.exit(code);
process.on('SIGTERM', () => finish(0));
process.on('SIGINT', () => finish(0));
process.stdin.on('end', () => finish(0));
process.stdin.on('error', () => finish(0));
process.stdin.resume();

if (args[0] === '--cycle') await cycle(Number(args[1]), args.slice(2));
else hold();

function hold(): void {
  const objectPath = args.shift();
  let reportMap: string | undefined;
  let stats: Link | undefined;
  let wantStats = false;
  for (;;) {
    if (args[0] === '--report') {
      args.shift();
      reportMap = args.shift();
    } else if (args[0] === '--stats') {
      args.shift();
      wantStats = true;
    } else break;
  }
  if (objectPath === undefined || args.length === 0) {
    console.error('usage: loader.ts OBJECT [--report MAP] [--stats] PROGRAM...');
    process.exit(2);
  }
  const object = new BpfObject(objectPath);
  const links: Link[] = [];
  let done = false;
  finish = (code) => {
    if (done) return;
    done = true;
    for (const link of links) link.destroy();
    if (code === 0 && stats !== undefined) {
      for (const program of args) {
        const info = object.programInfo(program);
        console.log(`stats ${program} runs=${info.runCount} ns=${info.runTimeNs}`);
      }
    }
    stats?.destroy();
    if (code === 0 && reportMap !== undefined) {
      const snapshot = object.readMap(reportMap);
      let total = 0n;
      // every u64 of every value: a value may hold several counters (syscall_counts: one per syscall)
      for (let i = 0; i < (snapshot.count * snapshot.valueSize) / 8; i++) {
        total += snapshot.values.getBigUint64(i * 8, true);
      }
      console.log(`counted=${total}`);
    }
    object.close();
    process.exit(code);
  };
  try {
    object.load();
    if (wantStats) stats = enableRunTimeStats();
    for (const program of args) links.push(object.attach(program));
  } catch (error) {
    console.error(error);
    finish(1);
  }
  for (const program of args) console.log(`prog ${program} id=${object.programInfo(program).id}`);
  console.log('attached');
}

async function cycle(ms: number, specs: string[]): Promise<void> {
  const sets = specs.map((spec) => {
    const m = /^([^=]+)=(.+):([^:]+)$/.exec(spec);
    if (!m || !(ms > 0)) {
      console.error('usage: loader.ts --cycle MS NAME=OBJECT:PROGRAM[,PROGRAM...]...');
      process.exit(2);
    }
    return { name: m[1]!, object: new BpfObject(m[2]!), programs: m[3]!.split(',') };
  });
  const segments: [string, number, number][] = [];
  let links: Link[] = [];
  let stopped = false;
  const detach = (): void => {
    for (const link of links) link.destroy();
    links = [];
  };
  finish = (code) => {
    if (stopped) return;
    stopped = true;
    detach();
    for (const set of sets) set.object.close();
    if (code === 0) console.log(`segments=${JSON.stringify(segments)}`);
    process.exit(code);
  };
  try {
    for (const set of sets) set.object.load();
  } catch (error) {
    console.error(error);
    finish(1);
  }
  const now = (): number => Number(process.hrtime.bigint()); // CLOCK_MONOTONIC
  console.log('attached');
  for (let i = 0; !stopped; i++) {
    const set = i % 2 === 0 ? undefined : sets[((i - 1) / 2) % sets.length]!;
    try {
      for (const program of set?.programs ?? []) links.push(set!.object.attach(program));
    } catch (error) {
      console.error(error);
      finish(1);
    }
    const from = now();
    await new Promise((r) => setTimeout(r, ms));
    if (stopped) break;
    segments.push([set?.name ?? 'off', from, now()]);
    detach();
  }
}

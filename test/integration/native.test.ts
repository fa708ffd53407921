// The native addon on the real kernel, below the agent: links cannot be made from JS, map reads return every
// entry exactly whatever the map's size, and the read's scratch is sized by what the map holds, not by its
// max_entries × possible CPUs. Maps are filled by bpftool (`bpftool batch`), which writes the same value for every
// CPU of a per-CPU map: a read must sum it once per possible CPU.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BpfObject, numPossibleCpus } from '../../src/bpf/index.ts';
import { addonPath, loadAddon } from '../../src/bpf/addon.ts';

const root = path.resolve(import.meta.dirname, '..', '..');
const SYSCALLS_OBJECT = path.join(root, 'bpf', 'build', 'syscalls.bpf.o');
const COUNTS = 'syscall_counts'; // per-CPU hash: u32 tgid → u64[4]
const LANES = 4;

const hex = (bytes: Uint8Array): string => [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(' ');

/** Writes `entries` keys (1e6 + i) with lane l = i * 10 + l into a loaded map, through bpftool by the map's id. */
function fill(object: BpfObject, map: string, entries: number): void {
  const { fd } = object.map(map);
  const id = /^map_id:\s*(\d+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1];
  if (id === undefined) throw new Error(`no map_id in /proc/self/fdinfo/${fd}`);
  const lines: string[] = [];
  const key = new DataView(new ArrayBuffer(4));
  const value = new DataView(new ArrayBuffer(8 * LANES));
  for (let i = 0; i < entries; i++) {
    key.setUint32(0, 1_000_000 + i, true);
    for (let lane = 0; lane < LANES; lane++) value.setBigUint64(lane * 8, BigInt(i * 10 + lane), true);
    lines.push(
      `map update id ${id} key hex ${hex(new Uint8Array(key.buffer))} value hex ${hex(new Uint8Array(value.buffer))}`,
    );
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'eoa-native-'));
  try {
    writeFileSync(path.join(dir, 'batch'), lines.join('\n') + '\n');
    execFileSync('bpftool', ['batch', 'file', path.join(dir, 'batch')], { stdio: ['ignore', 'ignore', 'pipe'] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('native addon', () => {
  const open: BpfObject[] = [];
  const loaded = (maxEntries: number): BpfObject => {
    const object = new BpfObject(SYSCALLS_OBJECT);
    open.push(object);
    object.setMaxEntries(COUNTS, maxEntries);
    object.setMaxEntries('syscall_procs', 1024);
    object.load();
    return object;
  };
  afterEach(() => {
    for (const object of open.splice(0)) object.close();
  });

  it('refuses to construct a Link from JavaScript (TypeError), with or without arguments', () => {
    const raw = loadAddon().enableRunTimeStats();
    try {
      const Link = (raw as object).constructor as new (...args: unknown[]) => unknown;
      expect(Link.name).toBe('Link');
      expect(() => new Link()).toThrow(TypeError);
      expect(() => new Link({ link: 0, fd: 3 })).toThrow(/cannot be constructed from JavaScript/);
      expect(() => new Link(3)).toThrow(TypeError);
      expect(raw.fd).toBeGreaterThanOrEqual(0);
    } finally {
      raw.destroy();
    }
    expect(raw.fd).toBe(-1);
    raw.destroy(); // a second destroy is a no-op
  });

  it('reads every entry of a large per-CPU map exactly, in more than one chunk, and an emptied one as empty', () => {
    const cpus = numPossibleCpus();
    // The addon reads at most 1 MiB of raw per-CPU values per batch call: make the map need several.
    const entries = Math.max(40_000, Math.ceil((3 * (1 << 20)) / (8 * LANES * cpus)));
    const object = loaded(2 ** Math.ceil(Math.log2(entries * 1.25)));
    expect(object.readMap(COUNTS).count).toBe(0);
    fill(object, COUNTS, entries);
    const snapshot = object.readMap(COUNTS);
    expect(snapshot.count).toBe(entries);
    expect(snapshot.keys.byteLength).toBe(entries * 4);
    expect(snapshot.values.byteLength).toBe(entries * 8 * LANES);
    const seen = new Set<number>();
    let wrong = 0;
    for (let i = 0; i < snapshot.count; i++) {
      const n = snapshot.keys.getUint32(i * 4, true) - 1_000_000;
      seen.add(n);
      for (let lane = 0; lane < LANES; lane++) {
        if (snapshot.values.getBigUint64(i * 32 + lane * 8, true) !== BigInt(cpus * (n * 10 + lane))) wrong++;
      }
    }
    expect(wrong).toBe(0);
    expect(seen.size).toBe(entries);
    expect(Math.min(...seen)).toBe(0);
    expect(Math.max(...seen)).toBe(entries - 1);

    // A second read of the same map (its scratch made again: the first one freed it) returns exactly what is there.
    const half = new Uint8Array(snapshot.keys.buffer.slice(0, (entries / 2) * 4));
    expect(object.deleteKeys(COUNTS, half)).toBe(entries / 2);
    expect(object.readMap(COUNTS).count).toBe(entries - entries / 2);
    object.deleteKeys(COUNTS, new Uint8Array(snapshot.keys.buffer));
    expect(object.readMap(COUNTS).count).toBe(0);
  });

  it('sizes a read by what the map holds, not by max_entries × possible CPUs', () => {
    const maxEntries = 1 << 19;
    const object = loaded(maxEntries);
    fill(object, COUNTS, 100);
    object.readMap('syscall_drops'); // warm up the read path itself
    const before = process.memoryUsage.rss();
    const snapshot = object.readMap(COUNTS);
    const grown = process.memoryUsage.rss() - before;
    expect(snapshot.count).toBe(100);
    // Scratch for every possible entry was maxEntries × (4 + 32 × CPUs) bytes: 34 MiB on 2 CPUs, 2 GiB on 128.
    expect(grown).toBeLessThan(8 * 1024 * 1024);
  });

  it('rejects what is not a Uint8Array of keys, and a ring buffer on a map that is not one (TypeErrors)', () => {
    const object = loaded(1024);
    expect(() => object.raw.deleteKeys(COUNTS, [1, 2, 3, 4] as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => object.raw.deleteKeys(COUNTS, new Uint8Array(3))).toThrow(/multiple of the key size/);
    const addon = loadAddon();
    expect(() => new addon.RingBuffer(object.raw, COUNTS, () => {})).toThrow(TypeError);
    const ring = new addon.RingBuffer(object.raw, 'proc_exits', () => {});
    ring.consume();
    ring.close();
    ring.close();
    ring.consume(); // closed: nothing to deliver, no error
  });

  it('unmaps the clean file pages a process has mapped, and the process runs on: they come back from the file', () => {
    // In a Node of its own: its RSS is what is measured, and the work after the drop runs the binary's code and
    // libraries' (GOT and all) again. A private page written since its mapping (RELRO's) must have been left alone,
    // or the calls through it would crash.
    const script = String.raw`
      const addon = require(${JSON.stringify(addonPath())});
      const fs = require('node:fs');
      const zlib = require('node:zlib');
      const status = () => fs.readFileSync('/proc/self/status', 'utf8');
      const rssFile = () => Number(/RssFile:\s+(\d+) kB/.exec(status())[1]);
      const before = rssFile();
      const dropped = addon.dropFilePages();
      const after = rssFile();
      const work = [
        require('node:crypto').createHash('sha256').update('abc').digest('hex'),
        zlib.gunzipSync(zlib.gzipSync('x'.repeat(100000))).length,
        new Intl.NumberFormat('en').format(1234567.5),
        /(\d+)-(\d+)/.exec('12-34')[2],
        addon.numPossibleCpus() > 0,
      ];
      console.log(JSON.stringify({ before, dropped, after, work }));
    `;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' })) as {
      before: number;
      dropped: number;
      after: number;
      work: unknown[];
    };
    // A Node 24 process has about 40 MiB of its binary mapped after start-up.
    expect(out.dropped).toBeGreaterThan(8 * 2 ** 20);
    // Unmapped (a few pages come back in the read of /proc/self/status itself).
    expect(out.after).toBeLessThan(out.before - out.dropped / 1024 / 2);
    expect(out.work).toEqual([
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
      100000,
      '1,234,567.5',
      '34',
      true,
    ]);
  });
});

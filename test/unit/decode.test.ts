// Decoders of the C layouts in bpf/*.h, fed with buffers laid out as the kernel writes them: at the offsets of
// src/bpf/layouts.ts (generated from the objects' BTF; test/integration/layouts.test.ts checks it against bpf/*.h),
// through the encoders of test/helpers/layouts.ts.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { splitBatch } from '../../src/bpf/index.ts';
import { EXEC_EVENT, PROCESS_EXIT_EVENT, PROCESS_INFO } from '../../src/bpf/layouts.ts';
import { cString, u64 } from '../../src/collector/decode.ts';
import { decodeExecEvent, EXEC_EVENT_SIZE } from '../../src/collector/exec.ts';
import { decodeCounts, decodeProcessExit, decodeProcessInfos } from '../../src/collector/process.ts';
import { SYSCALL_NAMES } from '../../src/collector/syscalls.ts';
import { decodeXdpCounts, NETWORK_TRANSPORTS, NETWORK_TYPES } from '../../src/collector/xdp.ts';
import {
  countsSnapshot,
  execEvent as putExecEvent,
  processExitEvent,
  processInfosSnapshot,
  xdpCountsSnapshot,
} from '../helpers/layouts.ts';

const encoder = new TextEncoder();

/** Writes `bytes` at `offset` (no terminator added). */
function putBytes(view: DataView, offset: number, bytes: ArrayLike<number>): void {
  new Uint8Array(view.buffer, view.byteOffset + offset, bytes.length).set(Array.from(bytes));
}

function putString(view: DataView, offset: number, text: string): void {
  putBytes(view, offset, encoder.encode(text));
}

describe('label values from the enums of bpf/*.h (a public contract: renaming an enumerator renames a label)', () => {
  it('names the counted syscalls, network types and transports by enum value', () => {
    expect(SYSCALL_NAMES).toEqual(['openat', 'read', 'write', 'connect']);
    expect(NETWORK_TYPES).toEqual(['ipv4', 'ipv6', 'arp', 'other']);
    expect(NETWORK_TRANSPORTS).toEqual(['tcp', 'udp', 'icmp', 'icmpv6', 'other']);
  });
});

describe('cString', () => {
  it('stops at the first NUL', () => {
    const view = new DataView(new ArrayBuffer(16));
    putString(view, 0, 'bash\0xyz');
    expect(cString(view, 0, 16)).toBe('bash');
  });

  it('takes the whole field when there is no NUL, and reads nothing past it', () => {
    const view = new DataView(new ArrayBuffer(12));
    putString(view, 2, 'abcdefghij');
    expect(cString(view, 2, 4)).toBe('abcd');
    expect(cString(view, 2, 10)).toBe('abcdefghij');
  });

  it('is empty when the field starts with NUL', () => {
    const view = new DataView(new ArrayBuffer(8));
    putString(view, 1, 'x');
    expect(cString(view, 0, 8)).toBe('');
  });

  it('honours the byte offset of a view into a larger buffer', () => {
    const buffer = new ArrayBuffer(32);
    new Uint8Array(buffer).set(encoder.encode('WRONGWRONG'), 0);
    new Uint8Array(buffer).set(encoder.encode('right\0'), 10);
    const view = new DataView(buffer, 8, 24);
    expect(cString(view, 2, 16)).toBe('right');
  });

  it('turns invalid UTF-8 into U+FFFD and keeps valid multibyte characters', () => {
    const view = new DataView(new ArrayBuffer(16));
    putBytes(view, 0, [0x66, 0xff, 0x6f, 0xc3, 0xa9, 0x00]);
    expect(cString(view, 0, 16)).toBe('f\uFFFDo\u00e9');
  });
});

describe('u64', () => {
  it('reads little-endian and returns a number', () => {
    const view = new DataView(new ArrayBuffer(16));
    view.setBigUint64(8, 0x0000_0001_0000_0002n, true);
    expect(u64(view, 8)).toBe(4_294_967_298);
    expect(u64(view, 0)).toBe(0);
  });

  it('is exact up to 2^53 - 1', () => {
    const view = new DataView(new ArrayBuffer(8));
    view.setBigUint64(0, 9_007_199_254_740_991n, true);
    expect(u64(view, 0)).toBe(Number.MAX_SAFE_INTEGER);
  });
});

describe('decodeProcessExit (struct process_exit_event)', () => {
  function exitEvent(
    tgid: number,
    executable: ArrayLike<number> | string,
    cgroupId = 0n,
    pad = 0,
    view?: DataView,
  ): DataView {
    return processExitEvent({ boot_ns: 123_456_789n, tgid, _pad: pad, executable, cgroup_id: cgroupId }, view);
  }

  it('reads tgid, executable and cgroup_id', () => {
    expect(decodeProcessExit(exitEvent(4_000_000, 'nginx', 4242n))).toEqual({
      tgid: 4_000_000,
      executable: 'nginx',
      cgroupId: 4242n,
    });
  });

  it('reads the whole u64 cgroup id little-endian, as a bigint', () => {
    const event = decodeProcessExit(exitEvent(9, 'x', 0xffff_ffff_ffff_fffen));
    expect(event.cgroupId).toBe(0xffff_ffff_ffff_fffen);
    expect(decodeProcessExit(exitEvent(9, 'x', 0x0000_0001_0000_0002n)).cgroupId).toBe(4_294_967_298n);
  });

  it('gives 0n for an unknown cgroup', () => {
    expect(decodeProcessExit(exitEvent(7, 'x')).cgroupId).toBe(0n);
  });

  it('ignores the padding word', () => {
    expect(decodeProcessExit(exitEvent(7, 'x', 5n, 0xffff_ffff))).toEqual({ tgid: 7, executable: 'x', cgroupId: 5n });
  });

  it('takes an executable name that fills its whole field without running into cgroup_id', () => {
    const executable = 'abcdefghijklmnopqrstuvwxyz'.slice(0, PROCESS_EXIT_EVENT.fields.executable.size);
    expect(decodeProcessExit(exitEvent(1, executable, 0x4141_4141_4141_4141n))).toEqual({
      tgid: 1,
      executable,
      cgroupId: 0x4141_4141_4141_4141n,
    });
  });

  it('honours the byte offset of a record inside a larger buffer', () => {
    const size = PROCESS_EXIT_EVENT.size;
    const buffer = new ArrayBuffer(8 + size + 8);
    new Uint8Array(buffer).fill(0xee);
    const { offset, size: executableSize } = PROCESS_EXIT_EVENT.fields.executable;
    new Uint8Array(buffer, 8 + offset, executableSize).fill(0); // executable: NULs after the name, as the kernel writes them
    const view = exitEvent(31, 'sh', 77n, 0, new DataView(buffer, 8, size));
    expect(decodeProcessExit(view)).toEqual({ tgid: 31, executable: 'sh', cgroupId: 77n });
  });

  it('rejects a record shorter than the struct', () => {
    const short = PROCESS_EXIT_EVENT.size - 1;
    expect(() => decodeProcessExit(new DataView(new ArrayBuffer(short)))).toThrow(
      `process_exit_event of ${short} bytes`,
    );
  });
});

describe('decodeCounts (syscall_counts, cpu_samples)', () => {
  // Key: u32 tgid. Value: one u64 lane per counted syscall (openat, read, write, connect), summed over CPUs.
  const entries: [tgid: number, calls: bigint[]][] = [
    [100, [3n, 5_000_000_000n, 0n, 9n]],
    [200, [0n, 0n, 1n, 0n]],
    [300, [0n, 0n, 0n, 0n]],
  ];
  const snap = countsSnapshot(SYSCALL_NAMES.length, entries);

  it('reads every process with its counts, indexed openat, read, write, connect', () => {
    expect([...decodeCounts(snap).entries()]).toEqual([
      [100, [3, 5_000_000_000, 0, 9]],
      [200, [0, 0, 1, 0]],
      [300, [0, 0, 0, 0]],
    ]);
  });

  it('reads only `count` entries', () => {
    expect([...decodeCounts({ ...snap, count: 1 }).entries()]).toEqual([[100, [3, 5_000_000_000, 0, 9]]]);
  });

  it('reads one lane per u64 of the value (cpu_samples: one)', () => {
    const cpu = countsSnapshot(1, [
      [7, [42n]],
      [0, [5n]],
    ]);
    expect([...decodeCounts(cpu).entries()]).toEqual([
      [7, [42]],
      [0, [5]],
    ]);
  });

  it('is empty for an empty map', () => {
    expect(decodeCounts(countsSnapshot(SYSCALL_NAMES.length, [])).size).toBe(0);
  });
});

describe('decodeProcessInfos (syscall_procs, cpu_procs)', () => {
  const procsSnapshot = (procs: [tgid: number, executable: string, cgroupId: bigint][]) =>
    processInfosSnapshot(procs.map(([tgid, executable, cgroupId]) => [tgid, { executable, cgroupId }]));

  it('maps tgid to executable and cgroup id', () => {
    const snap = procsSnapshot([
      [100, 'curl', 12_345n],
      [4_194_304, 'abcdefghijklmnop', 0xffff_ffff_ffff_ffffn],
      [5, '', 0n],
    ]);
    expect([...decodeProcessInfos(snap).entries()]).toEqual([
      [100, { executable: 'curl', cgroupId: 12_345n }],
      [4_194_304, { executable: 'abcdefghijklmnop', cgroupId: 0xffff_ffff_ffff_ffffn }],
      [5, { executable: '', cgroupId: 0n }],
    ]);
  });

  it(`reads each value at its ${PROCESS_INFO.size}-byte stride`, () => {
    const snap = procsSnapshot([
      [1, 'a', 1n],
      [2, 'b', 2n],
      [3, 'c', 0x0000_0001_0000_0000n],
    ]);
    expect([...decodeProcessInfos(snap).values()].map((p) => p.cgroupId)).toEqual([1n, 2n, 4_294_967_296n]);
  });

  it('reads only `count` entries and is empty for an empty map', () => {
    const snap = procsSnapshot([
      [1, 'a', 1n],
      [2, 'b', 2n],
    ]);
    expect([...decodeProcessInfos({ ...snap, count: 1 }).keys()]).toEqual([1]);
    expect(decodeProcessInfos(procsSnapshot([])).size).toBe(0);
  });
});

describe('decodeExecEvent (struct exec_event)', () => {
  interface ExecFields {
    bootNs?: bigint;
    cgroupId?: bigint;
    pid?: number;
    ppid?: number;
    uid?: number;
    filenameLen?: number;
    comm?: ArrayLike<number> | string;
    parentComm?: ArrayLike<number> | string;
    executable?: ArrayLike<number> | string;
    parentExecutable?: ArrayLike<number> | string;
    filename?: ArrayLike<number> | string;
  }

  function execEvent(fields: ExecFields, view?: DataView): DataView {
    const filename = fields.filename ?? '';
    return putExecEvent(
      {
        boot_ns: fields.bootNs ?? 0n,
        cgroup_id: fields.cgroupId ?? 0n,
        pid: fields.pid ?? 0,
        ppid: fields.ppid ?? 0,
        uid: fields.uid ?? 0,
        filename_len:
          fields.filenameLen ?? (typeof filename === 'string' ? encoder.encode(filename).length + 1 : filename.length),
        comm: fields.comm ?? '',
        parent_comm: fields.parentComm ?? '',
        executable: fields.executable ?? '',
        parent_executable: fields.parentExecutable ?? '',
        filename,
      },
      view,
    );
  }

  it('decodes every field', () => {
    const event = decodeExecEvent(
      execEvent({
        bootNs: 5_000_123_456_789n,
        cgroupId: 0xffff_ffff_ffff_fffen,
        pid: 4242,
        ppid: 1,
        uid: 65534,
        comm: 'MainThread',
        parentComm: 'bash',
        executable: 'node',
        parentExecutable: 'bash',
        filename: '/usr/bin/ls',
      }),
      1_700_000_000_000_000_000n,
    );
    expect(event).toEqual({
      // (5_000_123_456_789 + 1_700_000_000_000_000_000) ns = 1_700_005_000_123.456789 ms, truncated
      timeMs: 1_700_005_000_123,
      timeNs: 1_700_005_000_123_456_789n,
      cgroupId: 0xffff_ffff_ffff_fffen,
      pid: 4242,
      ppid: 1,
      uid: 65534,
      comm: 'MainThread',
      parentComm: 'bash',
      executable: 'node',
      parentExecutable: 'bash',
      filename: '/usr/bin/ls',
      filenameTruncated: false,
      fromAgent: false,
    });
  });

  it('turns boot time into wall time with the boot→real offset in ns', () => {
    const view = execEvent({ bootNs: 2_000_000n });
    expect(decodeExecEvent(view, 0n).timeMs).toBe(2);
    expect(decodeExecEvent(view, 998_000_000n).timeMs).toBe(1000);
    expect(decodeExecEvent(view, 999_999n).timeMs).toBe(2);
  });

  it('flags the filename as truncated when filename_len reaches the size of its field', () => {
    const size = EXEC_EVENT.fields.filename.size;
    const full = 'a'.repeat(size); // no NUL inside the field
    const atSize = decodeExecEvent(execEvent({ filename: full, filenameLen: size }), 0n);
    expect(atSize.filenameTruncated).toBe(true);
    expect(atSize.filename).toBe(full);
    const below = decodeExecEvent(execEvent({ filename: 'b'.repeat(size - 2), filenameLen: size - 1 }), 0n);
    expect(below.filenameTruncated).toBe(false);
    expect(below.filename).toBe('b'.repeat(size - 2));
    expect(decodeExecEvent(execEvent({ filename: 'c', filenameLen: size + 44 }), 0n).filenameTruncated).toBe(true);
  });

  it('takes a comm that fills all 16 bytes without running into parent_comm', () => {
    const event = decodeExecEvent(
      execEvent({ comm: 'abcdefghijklmnop', parentComm: 'PARENTPARENTPARE', filename: '/x' }),
      0n,
    );
    expect(event.comm).toBe('abcdefghijklmnop');
    expect(event.parentComm).toBe('PARENTPARENTPARE');
    expect(event.filename).toBe('/x');
  });

  it('takes executable names that fill their whole fields without running into the next one', () => {
    const size = EXEC_EVENT.fields.executable.size;
    expect(EXEC_EVENT.fields.parent_executable.size).toBe(size);
    const long = 'containerd-shim-runc-v2-'.repeat(3).slice(0, size); // no NUL inside the field
    const parent = 'P'.repeat(size);
    const event = decodeExecEvent(execEvent({ executable: long, parentExecutable: parent, filename: '/f' }), 0n);
    expect(event.executable).toBe(long);
    expect(event.parentExecutable).toBe(parent);
    expect(event.filename).toBe('/f');
  });

  it('keeps comm and executable apart (a process may name itself anything)', () => {
    const event = decodeExecEvent(
      execEvent({ comm: 'renamed', parentComm: 'MainThread', executable: 'nginx', parentExecutable: 'node' }),
      0n,
    );
    expect([event.comm, event.parentComm, event.executable, event.parentExecutable]).toEqual([
      'renamed',
      'MainThread',
      'nginx',
      'node',
    ]);
  });

  it('turns invalid UTF-8 into U+FFFD', () => {
    const event = decodeExecEvent(
      execEvent({
        comm: [0x61, 0xff, 0x62, 0x00],
        parentComm: [...encoder.encode('abcdefghijklmno'), 0xc3], // a sequence cut off by the field end
        filename: [0x2f, 0xc3, 0xa9, 0x80, 0x00],
      }),
      0n,
    );
    expect(event.comm).toBe('a\uFFFDb');
    expect(event.parentComm).toBe('abcdefghijklmno\uFFFD');
    expect(event.filename).toBe('/\u00e9\uFFFD');
  });

  it('rejects a record that ends before its filename', () => {
    const short = EXEC_EVENT.fields.filename.offset - 1;
    expect(() => decodeExecEvent(new DataView(new ArrayBuffer(short)), 0n)).toThrow(`exec_event of ${short} bytes`);
  });

  it('decodes a record cut at its filename NUL, as the kernel sends it', () => {
    const whole = execEvent({ pid: 9, executable: 'ls', filename: '/usr/bin/ls' });
    const length = EXEC_EVENT.fields.filename.offset + '/usr/bin/ls'.length + 1;
    const event = decodeExecEvent(new DataView(whole.buffer, whole.byteOffset, length), 0n);
    expect([event.pid, event.executable, event.filename, event.filenameTruncated]).toEqual([
      9,
      'ls',
      '/usr/bin/ls',
      false,
    ]);
    // Without a NUL (an empty filename sent as no bytes at all), the filename is empty.
    const bare = decodeExecEvent(new DataView(whole.buffer, whole.byteOffset, EXEC_EVENT.fields.filename.offset), 0n);
    expect(bare.filename).toBe('');
  });

  it('decodes a record that splitBatch cut out of a ring buffer batch', () => {
    const batch = new ArrayBuffer(8 + 8 + 8 + EXEC_EVENT_SIZE);
    const whole = new DataView(batch);
    whole.setUint32(0, 3, true); // a 3-byte record first, padded to 8
    putString(whole, 8, 'zzz');
    whole.setUint32(16, EXEC_EVENT_SIZE, true);
    execEvent(
      { pid: 77, comm: 'sh', parentComm: 'init', filename: '/bin/sh' },
      new DataView(batch, 24, EXEC_EVENT_SIZE),
    );
    const records = splitBatch(batch);
    expect(records.map((r) => r.byteLength)).toEqual([3, EXEC_EVENT_SIZE]);
    const event = decodeExecEvent(records[1]!, 0n);
    expect([event.pid, event.comm, event.parentComm, event.filename]).toEqual([77, 'sh', 'init', '/bin/sh']);
  });
});

describe('decodeXdpCounts (xdp_counts)', () => {
  type Key = [ifindex: number, layer: number, transport: number, flags: number, packets: bigint, bytes: bigint];

  const xdpSnapshot = (entries: Key[]) =>
    xdpCountsSnapshot(
      entries.map(([ifindex, layer, transport, flags, packets, bytes]) => [
        { ifindex, layer, transport, flags, _pad: 0 },
        { packets, bytes },
      ]),
    );

  const names = new Map([
    [2, 'eth0'],
    [3, 'veth1'],
  ]);

  it('names layers and transports as in enum xdp_layer / xdp_transport', () => {
    const counts = decodeXdpCounts(
      xdpSnapshot([
        [2, 0, 0, 0, 1n, 60n],
        [2, 1, 1, 0, 2n, 200n],
        [2, 2, 4, 0, 3n, 126n],
        [2, 0, 2, 0, 4n, 392n],
        [2, 1, 3, 0, 5n, 590n],
        [2, 3, 4, 0, 6n, 600n],
      ]),
      names,
    );
    expect(counts).toEqual([
      { interfaceName: 'eth0', networkType: 'ipv4', transport: 'tcp', packets: 1, bytes: 60, truncatedPackets: 0 },
      { interfaceName: 'eth0', networkType: 'ipv6', transport: 'udp', packets: 2, bytes: 200, truncatedPackets: 0 },
      { interfaceName: 'eth0', networkType: 'arp', transport: 'other', packets: 3, bytes: 126, truncatedPackets: 0 },
      { interfaceName: 'eth0', networkType: 'ipv4', transport: 'icmp', packets: 4, bytes: 392, truncatedPackets: 0 },
      { interfaceName: 'eth0', networkType: 'ipv6', transport: 'icmpv6', packets: 5, bytes: 590, truncatedPackets: 0 },
      { interfaceName: 'eth0', networkType: 'other', transport: 'other', packets: 6, bytes: 600, truncatedPackets: 0 },
    ]);
  });

  it('adds up keys that differ only by flags, counting truncated packets separately', () => {
    const counts = decodeXdpCounts(
      xdpSnapshot([
        [3, 0, 0, 0, 10n, 15_000n],
        [3, 0, 0, 1, 2n, 40n],
        [3, 0, 0, 0x80, 5n, 500n], // an unknown flag bit: aggregated, not truncated
      ]),
      names,
    );
    expect(counts).toEqual([
      {
        interfaceName: 'veth1',
        networkType: 'ipv4',
        transport: 'tcp',
        packets: 17,
        bytes: 15_540,
        truncatedPackets: 2,
      },
    ]);
  });

  it('names an interface it does not know ifindex<N>', () => {
    const counts = decodeXdpCounts(xdpSnapshot([[42, 0, 1, 0, 1n, 100n]]), names);
    expect(counts).toEqual([
      {
        interfaceName: 'ifindex42',
        networkType: 'ipv4',
        transport: 'udp',
        packets: 1,
        bytes: 100,
        truncatedPackets: 0,
      },
    ]);
  });

  it("maps out-of-range layer and transport values to 'other' and merges them with real 'other'", () => {
    const counts = decodeXdpCounts(
      xdpSnapshot([
        [2, 4, 0, 0, 1n, 10n],
        [2, 3, 0, 0, 1n, 20n],
        [2, 0, 5, 0, 1n, 30n],
        [2, 0, 255, 0, 1n, 40n],
        [2, 0, 4, 0, 1n, 50n],
      ]),
      names,
    );
    expect(counts).toEqual([
      { interfaceName: 'eth0', networkType: 'other', transport: 'tcp', packets: 2, bytes: 30, truncatedPackets: 0 },
      { interfaceName: 'eth0', networkType: 'ipv4', transport: 'other', packets: 3, bytes: 120, truncatedPackets: 0 },
    ]);
  });

  it('keeps interfaces apart', () => {
    const counts = decodeXdpCounts(
      xdpSnapshot([
        [2, 0, 0, 0, 1n, 10n],
        [3, 0, 0, 0, 2n, 20n],
      ]),
      names,
    );
    expect(counts.map((c) => [c.interfaceName, c.packets, c.bytes])).toEqual([
      ['eth0', 1, 10],
      ['veth1', 2, 20],
    ]);
  });
});

describe('splitBatch', () => {
  /** Packs records as the addon does: [u32 length][u32 0][payload padded to 8]. */
  function pack(records: number[][]): ArrayBuffer {
    const size = records.reduce((n, r) => n + 8 + Math.ceil(r.length / 8) * 8, 0);
    const buffer = new ArrayBuffer(size);
    const view = new DataView(buffer);
    let at = 0;
    for (const record of records) {
      view.setUint32(at, record.length, true);
      view.setUint32(at + 4, 0, true);
      new Uint8Array(buffer, at + 8, record.length).set(record);
      // padding: filled with garbage that must not leak into the records
      for (let p = at + 8 + record.length; p < at + 8 + Math.ceil(record.length / 8) * 8; p++) view.setUint8(p, 0xee);
      at += 8 + Math.ceil(record.length / 8) * 8;
    }
    return buffer;
  }

  const bytesOf = (view: DataView): number[] =>
    Array.from(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));

  it('cuts records padded to 8 bytes', () => {
    const records = [
      [1, 2, 3, 4, 5],
      [10, 11, 12, 13, 14, 15, 16, 17],
      Array.from({ length: 13 }, (_, i) => 100 + i),
      [],
    ];
    const batch = pack(records);
    expect(batch.byteLength).toBe(16 + 16 + 24 + 8);
    const out = splitBatch(batch);
    expect(out.map(bytesOf)).toEqual(records);
    expect(out.map((v) => v.byteOffset)).toEqual([8, 24, 40, 64]);
    for (const view of out) expect(view.buffer).toBe(batch);
  });

  it('returns nothing for an empty batch', () => {
    expect(splitBatch(new ArrayBuffer(0))).toEqual([]);
  });

  it('accepts a last record whose padding is absent', () => {
    const buffer = new ArrayBuffer(8 + 3);
    new DataView(buffer).setUint32(0, 3, true);
    new Uint8Array(buffer).set([7, 8, 9], 8);
    expect(splitBatch(buffer).map(bytesOf)).toEqual([[7, 8, 9]]);
  });

  it('throws on a batch whose last record is cut short', () => {
    const whole = pack([[1, 2, 3], Array.from({ length: 20 }, () => 1)]);
    expect(() => splitBatch(whole.slice(0, whole.byteLength - 8))).toThrow('ring buffer batch is truncated');
    const lying = new ArrayBuffer(16);
    new DataView(lying).setUint32(0, 9, true); // says 9 bytes, holds 8
    expect(() => splitBatch(lying)).toThrow('ring buffer batch is truncated');
  });
});

describe('src/bpf/index.ts loads the native addon lazily', () => {
  const saved = process.env.EBPF_OTEL_AGENT_ADDON;
  afterEach(() => {
    if (saved === undefined) delete process.env.EBPF_OTEL_AGENT_ADDON;
    else process.env.EBPF_OTEL_AGENT_ADDON = saved;
    vi.resetModules();
  });

  it('imports without the addon and only fails when a native call is made', async () => {
    process.env.EBPF_OTEL_AGENT_ADDON = '/nonexistent/ebpf-otel-agent-unit-test/ebpf_addon.node';
    vi.resetModules();
    // The collectors import src/bpf/index.ts too: none of them may touch the addon at import time.
    const bpf = await import('../../src/bpf/index.ts');
    await import('../../src/collector/syscalls.ts');
    await import('../../src/collector/process.ts');
    await import('../../src/collector/cpu.ts');
    await import('../../src/collector/exec.ts');
    await import('../../src/collector/xdp.ts');
    expect(bpf.addonPath()).toBe('/nonexistent/ebpf-otel-agent-unit-test/ebpf_addon.node');
    expect(bpf.splitBatch(new ArrayBuffer(0))).toEqual([]);
    expect(() => bpf.numPossibleCpus()).toThrow(
      'the native addon is not built (/nonexistent/ebpf-otel-agent-unit-test/ebpf_addon.node is missing): run npm run build',
    );
  });
});

// Encoders for test fakes: kernel records and map dumps laid out with the offsets of src/bpf/layouts.ts (generated
// from the BPF objects' BTF), so no test restates a layout.
import type { MapSnapshot } from '../../src/bpf/index.ts';
import {
  EXEC_EVENT,
  PROCESS_EXIT_EVENT,
  PROCESS_INFO,
  SYSCALLS_MAP_SIZES,
  XDP_KEY,
  XDP_MAP_SIZES,
  XDP_VALUE,
} from '../../src/bpf/layouts.ts';

interface Layout {
  readonly size: number;
  readonly fields: Readonly<Record<string, { readonly offset: number; readonly size: number }>>;
}

/** A scalar field takes a number or bigint; a char array a string (UTF-8, cut at the field) or raw bytes. */
export type FieldValue = number | bigint | string | ArrayLike<number>;
export type Fields<L extends Layout> = Partial<Record<keyof L['fields'], FieldValue>>;

const encoder = new TextEncoder();

/** Writes `fields` of a struct at `at` in `view` (a new zeroed struct by default); absent fields stay as they are. */
export function putStruct<L extends Layout>(
  layout: L,
  fields: Fields<L>,
  view: DataView = new DataView(new ArrayBuffer(layout.size)),
  at = 0,
): DataView {
  for (const [name, value] of Object.entries(fields) as [string, FieldValue | undefined][]) {
    const field = layout.fields[name];
    if (field === undefined) throw new Error(`no field ${name} in this layout`);
    if (value === undefined) continue;
    const offset = at + field.offset;
    if (typeof value === 'number' || typeof value === 'bigint') {
      if (field.size === 8) view.setBigUint64(offset, BigInt(value), true);
      else if (field.size === 4) view.setUint32(offset, Number(value), true);
      else if (field.size === 2) view.setUint16(offset, Number(value), true);
      else if (field.size === 1) view.setUint8(offset, Number(value));
      else throw new Error(`field ${name} of ${field.size} bytes is not a scalar`);
    } else {
      const bytes = typeof value === 'string' ? encoder.encode(value) : Uint8Array.from(value);
      new Uint8Array(view.buffer, view.byteOffset + offset, field.size).set(bytes.subarray(0, field.size));
    }
  }
  return view;
}

/** A map dump as BpfObject.readMap returns it: entries packed at the key and value sizes. */
export function mapSnapshot(
  sizes: { keySize: number; valueSize: number },
  count: number,
  fill: (keys: DataView, values: DataView) => void,
): MapSnapshot {
  const keys = new DataView(new ArrayBuffer(count * sizes.keySize));
  const values = new DataView(new ArrayBuffer(count * sizes.valueSize));
  fill(keys, values);
  return { count, keys, values, keySize: sizes.keySize, valueSize: sizes.valueSize };
}

/** struct process_exit_event as the exit ring buffer holds it. */
export function processExitEvent(fields: Fields<typeof PROCESS_EXIT_EVENT>, view?: DataView): DataView {
  return putStruct(PROCESS_EXIT_EVENT, fields, view);
}

/** A count map keyed by u32 tgid with u64 lanes (syscall_counts: one per counted syscall; cpu_samples: one). */
export function countsSnapshot(
  lanes: number,
  entries: readonly [tgid: number, counts: readonly (number | bigint)[]][],
) {
  const sizes = { keySize: SYSCALLS_MAP_SIZES.syscall_counts.keySize, valueSize: lanes * 8 };
  return mapSnapshot(sizes, entries.length, (keys, values) => {
    entries.forEach(([tgid, counts], i) => {
      keys.setUint32(i * sizes.keySize, tgid, true);
      counts.forEach((n, lane) => values.setBigUint64(i * sizes.valueSize + lane * 8, BigInt(n), true));
    });
  });
}

/** An info map (syscall_procs, cpu_procs): u32 tgid → struct process_info. */
export function processInfosSnapshot(
  entries: readonly [tgid: number, info: { executable: FieldValue; cgroupId: bigint }][],
): MapSnapshot {
  const sizes = SYSCALLS_MAP_SIZES.syscall_procs;
  return mapSnapshot(sizes, entries.length, (keys, values) => {
    entries.forEach(([tgid, { executable, cgroupId }], i) => {
      keys.setUint32(i * sizes.keySize, tgid, true);
      putStruct(PROCESS_INFO, { executable, cgroup_id: cgroupId }, values, i * sizes.valueSize);
    });
  });
}

/** struct exec_event as the exec ring buffer holds it. */
export function execEvent(fields: Fields<typeof EXEC_EVENT>, view?: DataView): DataView {
  return putStruct(EXEC_EVENT, fields, view);
}

/** xdp_counts: struct xdp_key → struct xdp_value. */
export function xdpCountsSnapshot(
  entries: readonly [key: Fields<typeof XDP_KEY>, value: Fields<typeof XDP_VALUE>][],
): MapSnapshot {
  const sizes = XDP_MAP_SIZES.xdp_counts;
  return mapSnapshot(sizes, entries.length, (keys, values) => {
    entries.forEach(([key, value], i) => {
      putStruct(XDP_KEY, key, keys, i * sizes.keySize);
      putStruct(XDP_VALUE, value, values, i * sizes.valueSize);
    });
  });
}

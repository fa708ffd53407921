// Decoding helpers for the fixed layouts in bpf/*.h.

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** A NUL-terminated C string of at most `length` bytes at `offset`. Invalid UTF-8 becomes U+FFFD. */
export function cString(view: DataView, offset: number, length: number): string {
  const bytes = new Uint8Array(view.buffer, view.byteOffset + offset, length);
  let end = bytes.indexOf(0);
  if (end < 0) end = length;
  return utf8.decode(bytes.subarray(0, end));
}

/** A u64 as a JS number. Counters stay far below 2^53 in any real lifetime of a process. */
export function u64(view: DataView, offset: number): number {
  // Two 32-bit reads: several times faster than getBigUint64 + Number on the poll's hot path.
  return view.getUint32(offset, true) + view.getUint32(offset + 4, true) * 4294967296;
}

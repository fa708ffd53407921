// Per-process columns that stay zero cost no memory: a large typed array is fresh zeroed pages from the kernel
// (glibc serves it with mmap), and a page counts in RSS only once it is written. Many columns are zero for almost
// every process (the count a process started contributing from, the stamp of an exit carried, a flag of an ended
// series), so a column grows by copying only the pages that hold something, and zero is written only over what
// is not zero already. At 100,000 processes that leaves about 13 MiB of the columns unwritten (docs/benchmarks.md).
type Column = Uint8Array | Int32Array | Uint32Array | Float32Array | Float64Array;

/** Elements per 4 KiB page, by element size. */
const PAGE_BYTES = 4096;

/** `next` (zeroed, at least as long as `old`) with `old`'s values, written only where a page of `old` is not all zero. */
export function grown<T extends Column>(old: T, next: T): T {
  const step = PAGE_BYTES / old.BYTES_PER_ELEMENT;
  for (let from = 0; from < old.length; from += step) {
    const to = Math.min(from + step, old.length);
    let i = from;
    while (i < to && old[i] === 0) i++;
    if (i < to) next.set(old.subarray(from, to), from);
  }
  return next;
}

/** column[from..to) = 0, leaving alone what is zero already (an unwritten page stays unwritten). */
export function clear(column: Column, from: number, to: number): void {
  for (let i = from; i < to; i++) if (column[i] !== 0) column[i] = 0;
}

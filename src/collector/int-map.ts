// A map from non-negative int32 keys (pids, series ids) to int32 values (slots) or, made with 'float64', to any
// number (counts, times in ms: exact as doubles), held in two typed arrays: open addressing with linear probing,
// removal by backward shift (no tombstones), at most half full. A slot costs 8 or 12 bytes and no object, where a
// Map<number, number> costs 40–90 bytes an entry on the JS heap (and a boxed number for each value that is not a
// small integer): at 100,000 processes 2 MiB instead of 3.9 for each pid → slot index, and the garbage collector
// has nothing in it to trace.

const EMPTY = -1;
const MIN_CAPACITY = 16;

export class IntMap {
  readonly #float: boolean;
  #keys: Int32Array;
  #values: Int32Array | Float64Array;
  /** 32 − log2(capacity): the hash is the top bits of a multiplicative hash. */
  #shift: number;
  #mask: number;
  #size = 0;

  /** `values`: 'int32' (an int32 value is kept as is; others are truncated) or 'float64' (any number). */
  constructor(values: 'int32' | 'float64' = 'int32', capacity = MIN_CAPACITY) {
    this.#float = values === 'float64';
    let n = MIN_CAPACITY;
    while (n < capacity) n *= 2;
    this.#keys = new Int32Array(n).fill(EMPTY);
    this.#values = this.#makeValues(n);
    this.#shift = 32 - Math.log2(n);
    this.#mask = n - 1;
  }

  get size(): number {
    return this.#size;
  }

  /** Slots held (for tests and memory accounting). */
  get capacity(): number {
    return this.#keys.length;
  }

  #home(key: number): number {
    return Math.imul(key, 0x9e3779b1) >>> this.#shift;
  }

  /** The slot holding `key`, or −1. */
  #find(key: number): number {
    const keys = this.#keys;
    const mask = this.#mask;
    for (let i = this.#home(key); ; i = (i + 1) & mask) {
      const k = keys[i]!;
      if (k === key) return i;
      if (k === EMPTY) return -1;
    }
  }

  get(key: number): number | undefined {
    const i = this.#find(key);
    return i < 0 ? undefined : this.#values[i];
  }

  has(key: number): boolean {
    return this.#find(key) >= 0;
  }

  set(key: number, value: number): void {
    if (!(key >= 0 && key <= 0x7fffffff && Number.isInteger(key))) {
      throw new RangeError(`IntMap keys are int32 values of 0 or more, got ${key}`);
    }
    if (2 * (this.#size + 1) > this.#keys.length) this.#resize(this.#keys.length * 2);
    const keys = this.#keys;
    const mask = this.#mask;
    let i = this.#home(key);
    for (; keys[i] !== EMPTY; i = (i + 1) & mask) {
      if (keys[i] === key) {
        this.#values[i] = value;
        return;
      }
    }
    keys[i] = key;
    this.#values[i] = value;
    this.#size++;
  }

  delete(key: number): boolean {
    let hole = this.#find(key);
    if (hole < 0) return false;
    const keys = this.#keys;
    const values = this.#values;
    const mask = this.#mask;
    // Backward shift: each entry after the hole in its run moves into it when the hole lies between the entry's
    // home and where it is (so every entry stays reachable from its home without crossing an empty slot).
    for (let j = (hole + 1) & mask; keys[j] !== EMPTY; j = (j + 1) & mask) {
      const home = this.#home(keys[j]!);
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        keys[hole] = keys[j]!;
        values[hole] = values[j]!;
        hole = j;
      }
    }
    keys[hole] = EMPTY;
    this.#size--;
    // Given back when mostly empty (after a mass exit), with room to grow again before the next resize.
    if (this.#keys.length > MIN_CAPACITY && 8 * this.#size < this.#keys.length) this.#resize(this.#keys.length / 2);
    return true;
  }

  #makeValues(n: number): Int32Array | Float64Array {
    return this.#float ? new Float64Array(n) : new Int32Array(n);
  }

  clear(): void {
    this.#keys = new Int32Array(MIN_CAPACITY).fill(EMPTY);
    this.#values = this.#makeValues(MIN_CAPACITY);
    this.#shift = 32 - Math.log2(MIN_CAPACITY);
    this.#mask = MIN_CAPACITY - 1;
    this.#size = 0;
  }

  /** Each key with its value, in no particular order; the callback must not change the map. */
  forEach(callback: (value: number, key: number) => void): void {
    const keys = this.#keys;
    const values = this.#values;
    for (let i = 0; i < keys.length; i++) if (keys[i] !== EMPTY) callback(values[i]!, keys[i]!);
  }

  #resize(capacity: number): void {
    const oldKeys = this.#keys;
    const oldValues = this.#values;
    this.#keys = new Int32Array(capacity).fill(EMPTY);
    this.#values = this.#makeValues(capacity);
    this.#shift = 32 - Math.log2(capacity);
    this.#mask = capacity - 1;
    const keys = this.#keys;
    const mask = this.#mask;
    for (let j = 0; j < oldKeys.length; j++) {
      const key = oldKeys[j]!;
      if (key === EMPTY) continue;
      let i = this.#home(key);
      while (keys[i] !== EMPTY) i = (i + 1) & mask;
      keys[i] = key;
      this.#values[i] = oldValues[j]!;
    }
  }
}

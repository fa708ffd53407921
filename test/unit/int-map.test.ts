// IntMap against a Map<number, number> under the same random operations: growth, removal in runs of colliding
// keys (backward shift), shrinking after a mass removal.
import { describe, expect, it } from 'vitest';
import { IntMap } from '../../src/collector/int-map.ts';

/** A small deterministic generator (the test repeats exactly). */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function same(map: IntMap, reference: Map<number, number>): void {
  expect(map.size).toBe(reference.size);
  for (const [key, value] of reference) expect(map.get(key)).toBe(value);
  const seen = new Map<number, number>();
  map.forEach((value, key) => seen.set(key, value));
  expect(seen).toEqual(reference);
}

describe('IntMap', () => {
  it('answers as a Map does under random sets, overwrites and deletes', () => {
    const next = random(7);
    const map = new IntMap();
    const reference = new Map<number, number>();
    for (let step = 0; step < 200_000; step++) {
      // Keys from a small range, so runs of colliding keys form and are cut by deletions.
      const key = Math.floor(next() * 5_000);
      if (next() < 0.55) {
        const value = Math.floor(next() * 1_000_000);
        map.set(key, value);
        reference.set(key, value);
      } else {
        expect(map.delete(key)).toBe(reference.delete(key));
      }
      expect(map.get(key)).toBe(reference.get(key));
      expect(map.has(key)).toBe(reference.has(key));
    }
    same(map, reference);
  });

  it('grows to hold 100,000 pids at most half full and gives the room back when they leave', () => {
    const map = new IntMap();
    for (let pid = 0; pid < 100_000; pid++) map.set(pid * 7, pid);
    expect(map.size).toBe(100_000);
    expect(map.capacity).toBe(262_144);
    for (let pid = 0; pid < 100_000; pid++) expect(map.get(pid * 7)).toBe(pid);
    expect(map.get(3)).toBeUndefined();
    for (let pid = 0; pid < 99_990; pid++) expect(map.delete(pid * 7)).toBe(true);
    expect(map.size).toBe(10);
    expect(map.capacity).toBeLessThanOrEqual(128);
    for (let pid = 99_990; pid < 100_000; pid++) expect(map.get(pid * 7)).toBe(pid);
    expect(map.delete(0)).toBe(false);
  });

  it('takes pid 0 and the largest pids, and refuses keys it cannot hold', () => {
    const map = new IntMap();
    map.set(0, 1);
    map.set(4_194_304, 2);
    map.set(0x7fffffff, 3);
    expect([map.get(0), map.get(4_194_304), map.get(0x7fffffff)]).toEqual([1, 2, 3]);
    expect(() => map.set(-1, 0)).toThrow(RangeError);
    expect(() => map.set(1.5, 0)).toThrow(RangeError);
    expect(() => map.set(2 ** 31, 0)).toThrow(RangeError);
    map.clear();
    expect(map.size).toBe(0);
    expect(map.get(0)).toBeUndefined();
  });
});

describe("IntMap('float64')", () => {
  it('keeps any number exactly (times in ms, counts up to 2^53), through growth and removal', () => {
    const map = new IntMap('float64');
    const reference = new Map<number, number>();
    for (let id = 0; id < 20_000; id++) {
      const value = id % 3 === 0 ? 1_764_000_000_000 + id + 0.25 : id % 3 === 1 ? 2 ** 53 - id : -id / 7;
      map.set(id * 4 + (id % 4), value);
      reference.set(id * 4 + (id % 4), value);
    }
    for (let id = 0; id < 20_000; id += 2) {
      map.delete(id * 4 + (id % 4));
      reference.delete(id * 4 + (id % 4));
    }
    same(map, reference);
    // The int32 map truncates what is not an int32: the float64 one is for what is not.
    const slots = new IntMap();
    slots.set(1, 2.5);
    expect(slots.get(1)).toBe(2);
  });
});

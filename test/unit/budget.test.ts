// SeriesBudget (src/collector/budget.ts): who keeps its own series, and the invariants of the folded ones.
import { describe, expect, it } from 'vitest';
import { SeriesBudget, type BudgetInput, type BudgetResult } from '../../src/collector/budget.ts';

/** An input whose payload is its key, so results can be matched to inputs. */
function input(key: string, value: number, group = 'g', ended = false): BudgetInput<string> {
  return { key, group, value, ended, payload: key };
}

/** Own series by key: [value, startMs]. */
function own(result: BudgetResult<string>): Record<string, [value: number, startMs: number]> {
  return Object.fromEntries(result.own.map((o) => [o.payload, [o.value, o.startMs]]));
}

/** Folded series by group: value. */
function folded(result: BudgetResult<string>): Record<string, number> {
  return Object.fromEntries(result.folded.map((f) => [f.group, f.value]));
}

function total(result: BudgetResult<string>): number {
  let sum = 0;
  for (const o of result.own) sum += o.value;
  for (const f of result.folded) sum += f.value;
  return sum;
}

/** The inputs' values together: the instant sum() of the series, as long as no series was demoted. */
const sumOf = (inputs: readonly BudgetInput<string>[]): number => inputs.reduce((n, i) => n + i.value, 0);

/**
 * What PromQL's increase() adds up, poll by poll: each published series (own: key and start time; folded: group)
 * contributes its growth since it was last published, a series that appears contributes its value, and one that
 * leaves contributes nothing more. `truth` is the calls the inputs made. The budget is rate-correct when the two
 * stay equal: no call is counted twice (in an own series and again in the folded one) or not at all.
 */
class IncreaseLedger {
  counted = 0;
  truth = 0;
  #series = new Map<string, number>();
  #inputs = new Map<string, number>();

  record(inputs: readonly BudgetInput<string>[], result: BudgetResult<string>): void {
    for (const i of inputs) {
      const before = this.#inputs.get(i.key);
      this.truth += before === undefined || i.value < before ? i.value : i.value - before;
      this.#inputs.set(i.key, i.value);
      if (i.ended) this.#inputs.delete(i.key);
    }
    const now = new Map<string, number>();
    for (const o of [...result.own, ...result.retired]) now.set(`own ${o.payload} ${o.startMs}`, o.value);
    for (const f of result.folded) now.set(`folded ${f.group}`, f.value);
    for (const [id, value] of now) this.counted += value - (this.#series.get(id) ?? 0);
    this.#series = now;
  }
}

/** Mulberry32: a small seeded PRNG, so a failing workload can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('SeriesBudget: construction', () => {
  it.each([0, -1, 1.5, Number.NaN, Infinity])('refuses maxSeries %d', (max) => {
    expect(() => new SeriesBudget(max)).toThrow(`maxSeries must be a positive integer, got ${max}`);
  });

  it('starts with nothing folded and nothing tracked', () => {
    const budget = new SeriesBudget(1);
    expect(budget.maxSeries).toBe(1);
    expect(budget.foldedTotal).toBe(0);
    expect(budget.tracked).toBe(0);
    expect(budget.apply([], 1_000)).toEqual({ own: [], folded: [], retired: [] });
  });
});

describe('SeriesBudget: under budget', () => {
  it('gives every series its own labels with its exact values, from its first poll', () => {
    const budget = new SeriesBudget<string>(3);
    let result = budget.apply([input('a', 5), input('b', 1)], 1_000);
    expect(result.own).toEqual([
      { payload: 'a', value: 5, startMs: 1_000 },
      { payload: 'b', value: 1, startMs: 1_000 },
    ]);
    expect(result.folded).toEqual([]);
    result = budget.apply([input('a', 9), input('b', 1), input('c', 700)], 2_000);
    expect(own(result)).toEqual({ a: [9, 1_000], b: [1, 1_000], c: [700, 2_000] });
    expect(result.folded).toEqual([]);
    result = budget.apply([input('a', 1_000_009), input('b', 2), input('c', 700)], 3_000);
    expect(own(result)).toEqual({ a: [1_000_009, 1_000], b: [2, 1_000], c: [700, 2_000] });
    expect(budget.foldedTotal).toBe(0);
    expect(budget.tracked).toBe(3);
  });

  it('hands the payload of the current poll through', () => {
    const budget = new SeriesBudget<{ label: string }>(1);
    budget.apply([{ key: 'k', group: 'g', value: 1, ended: false, payload: { label: 'old' } }], 1_000);
    const result = budget.apply([{ key: 'k', group: 'g', value: 2, ended: false, payload: { label: 'new' } }], 2_000);
    expect(result.own).toEqual([{ payload: { label: 'new' }, value: 2, startMs: 1_000 }]);
  });
});

describe('SeriesBudget: over budget', () => {
  it('keeps the busiest at the first poll (the increase is the value) and folds the rest by group', () => {
    const budget = new SeriesBudget<string>(2);
    const inputs = [
      input('a', 10, 'read'),
      input('b', 30, 'read'),
      input('c', 20, 'write'),
      input('d', 5, 'read'),
      input('e', 1, 'write'),
    ];
    const result = budget.apply(inputs, 1_000);
    expect(own(result)).toEqual({ b: [30, 1_000], c: [20, 1_000] });
    expect(result.folded).toEqual([
      { group: 'read', value: 15, members: 2 },
      { group: 'write', value: 1, members: 1 },
    ]);
    expect(total(result)).toBe(sumOf(inputs));
    expect(budget.foldedTotal).toBe(3);
  });

  it('ranks by per-poll increase, not by cumulative count', () => {
    const budget = new SeriesBudget<string>(1);
    expect(own(budget.apply([input('old', 1_000), input('new', 10)], 1_000))).toEqual({ old: [1_000, 1_000] });
    // old makes no more calls; new makes 400, then 800 per poll.
    let result = budget.apply([input('old', 1_000), input('new', 410)], 2_000);
    expect(own(result)).toEqual({ old: [1_000, 1_000] });
    expect(folded(result)).toEqual({ g: 410 });
    result = budget.apply([input('old', 1_000), input('new', 1_210)], 3_000);
    expect(own(result)).toEqual({ new: [0, 3_000] });
    // old's own series ends at its 1,000 (Prometheus keeps them); only its later calls would go to other.
    expect(folded(result)).toEqual({ g: 1_210 });
  });

  it('counts every call once in increase(), folded and own series monotonic, at most maxSeries own (random workloads)', () => {
    let allPromotions = 0;
    let allDemotions = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const random = prng(seed);
      const maxSeries = 1 + (seed % 5);
      // Odd seeds keep demoted series for 3 polls: the ledger must come out the same.
      const budget = new SeriesBudget<string>(maxSeries, seed % 2 === 1 ? 15_000 : 0);
      const series: { key: string; group: string; value: number; rate: number }[] = [];
      let previousOwn = new Map<string, [value: number, startMs: number]>();
      let previousRetired = new Map<string, [value: number, startMs: number]>();
      let promotions = 0;
      let demotions = 0;
      const previousFolded = new Map<string, number>();
      let previousFoldedTotal = 0;
      const seen = new Set<string>();
      let freshFolds = 0;
      const ledger = new IncreaseLedger();
      for (let poll = 1; poll <= 50; poll++) {
        const nowMs = poll * 5_000;
        // New series arrive now and then; rates change at random, some by orders of magnitude.
        const arrivals = poll === 1 ? 3 + Math.floor(random() * 6) : random() < 0.3 ? 1 : 0;
        for (let i = 0; i < arrivals; i++) {
          series.push({
            key: `s${series.length}`,
            group: ['openat', 'read', 'write', 'connect'][Math.floor(random() * 4)]!,
            value: 0,
            rate: Math.floor(random() * 100),
          });
        }
        for (const s of series) {
          if (random() < 0.15) s.rate = random() < 0.2 ? 0 : Math.floor(random() ** 3 * 1_000);
          s.value += s.rate;
        }
        const inputs = series.filter((s) => s.value > 0).map((s) => input(s.key, s.value, s.group));
        const context = `seed ${seed}, maxSeries ${maxSeries}, poll ${poll}`;
        const result = budget.apply(inputs, nowMs);

        ledger.record(inputs, result);
        expect(ledger.counted, context).toBe(ledger.truth);
        expect(result.own.length, context).toBeLessThanOrEqual(maxSeries);
        expect(result.own.length, context).toBe(Math.min(maxSeries, inputs.length));
        for (const f of result.folded) {
          expect(f.value, `${context}, folded ${f.group}`).toBeGreaterThanOrEqual(previousFolded.get(f.group) ?? 0);
          previousFolded.set(f.group, f.value);
        }
        for (const group of previousFolded.keys()) {
          expect(
            result.folded.some((f) => f.group === group),
            `${context}: folded ${group} vanished`,
          ).toBe(true);
        }
        const nowOwn = new Map(result.own.map((o) => [o.payload, [o.value, o.startMs] as [number, number]]));
        for (const [key, [value, startMs]] of nowOwn) {
          const before = previousOwn.get(key);
          const resumed = previousRetired.get(key);
          if (before === undefined && resumed !== undefined) {
            // Promoted while its retired series is published: that series goes on, from its value.
            expect([value, startMs], `${context}: ${key}`).toEqual(resumed);
            promotions++;
          } else if (before === undefined) {
            // A new member: a new series with all its calls, or a promoted one that starts from 0, now.
            expect(startMs, `${context}: ${key}`).toBe(nowMs);
            expect(value, `${context}: ${key}`).toBe(seen.has(key) ? 0 : inputs.find((i) => i.key === key)!.value);
            if (seen.has(key)) promotions++;
          } else {
            // Kept its slot: the same series, growing.
            expect(startMs, `${context}: ${key}`).toBe(before[1]);
            expect(value, `${context}: ${key}`).toBeGreaterThanOrEqual(before[0]);
          }
        }
        for (const key of previousOwn.keys()) if (!nowOwn.has(key)) demotions++;
        for (const i of inputs) {
          if (!seen.has(i.key) && !nowOwn.has(i.key)) freshFolds++;
          seen.add(i.key);
        }
        expect(budget.foldedTotal, context).toBeGreaterThanOrEqual(previousFoldedTotal);
        expect(budget.foldedTotal, context).toBe(freshFolds + demotions);
        previousFoldedTotal = budget.foldedTotal;
        previousOwn = nowOwn;
        previousRetired = new Map(result.retired.map((r) => [r.payload, [r.value, r.startMs] as [number, number]]));
      }
      allPromotions += promotions;
      allDemotions += demotions;
    }
    // The workloads did move series in and out of the budget.
    expect(allPromotions).toBeGreaterThan(200);
    expect(allDemotions).toBeGreaterThan(200);
  });
});

describe('SeriesBudget: random workloads where series end', () => {
  it('counts every call once in increase(), ended series included', () => {
    let ends = 0;
    for (let seed = 100; seed < 130; seed++) {
      const random = prng(seed);
      const maxSeries = 1 + (seed % 4);
      const budget = new SeriesBudget<string>(maxSeries);
      let live: { key: string; group: string; value: number; rate: number }[] = [];
      let next = 0;
      const ledger = new IncreaseLedger();
      const previousFolded = new Map<string, number>();
      for (let poll = 1; poll <= 50; poll++) {
        const arrivals = poll === 1 ? 4 : Math.floor(random() * 3);
        for (let i = 0; i < arrivals; i++) {
          live.push({ key: `s${next++}`, group: random() < 0.5 ? 'read' : 'write', value: 0, rate: 1 });
        }
        for (const s of live) {
          if (random() < 0.2) s.rate = Math.floor(random() ** 2 * 500);
          s.value += s.rate;
        }
        const inputs = live.filter((s) => s.value > 0).map((s) => input(s.key, s.value, s.group, random() < 0.1));
        const context = `seed ${seed}, poll ${poll}`;
        const result = budget.apply(inputs, poll * 1_000);
        ledger.record(inputs, result);
        expect(ledger.counted, context).toBe(ledger.truth);
        expect(result.own.length, context).toBeLessThanOrEqual(maxSeries);
        for (const f of result.folded) {
          expect(f.value, `${context}, folded ${f.group}`).toBeGreaterThanOrEqual(previousFolded.get(f.group) ?? 0);
          previousFolded.set(f.group, f.value);
        }
        ends += inputs.filter((i) => i.ended).length;
        const ended = new Set(inputs.filter((i) => i.ended).map((i) => i.key));
        live = live.filter((s) => !ended.has(s.key));
      }
    }
    expect(ends).toBeGreaterThan(500);
  });
});

describe('SeriesBudget: series that end', () => {
  it('keeps the final count of a folded series that ended in its folded series', () => {
    const budget = new SeriesBudget<string>(1);
    budget.apply([input('big', 100), input('small', 5)], 1_000);
    let inputs = [input('big', 200), input('small', 8, 'g', true)];
    let result = budget.apply(inputs, 2_000);
    expect(own(result)).toEqual({ big: [200, 1_000] });
    expect(result.folded).toEqual([{ group: 'g', value: 8, members: 1 }]);
    expect(total(result)).toBe(sumOf(inputs));
    expect(budget.tracked).toBe(1);

    inputs = [input('big', 300)];
    result = budget.apply(inputs, 3_000);
    expect(result.folded).toEqual([{ group: 'g', value: 8, members: 0 }]);
    expect(total(result)).toBe(sumOf(inputs) + 8);

    // A folded series that begins and ends within one poll stays in the folded series too.
    inputs = [input('big', 400), input('blip', 3, 'g', true)];
    result = budget.apply(inputs, 4_000);
    expect(folded(result)).toEqual({ g: 11 });
    expect(total(result)).toBe(sumOf(inputs) + 8);
    result = budget.apply([input('big', 500)], 5_000);
    expect(folded(result)).toEqual({ g: 11 });
    expect(total(result)).toBe(500 + 11);
  });

  it('publishes the final value of an own series that ends, then drops it without folding it', () => {
    const budget = new SeriesBudget<string>(2);
    budget.apply([input('a', 10), input('b', 20), input('c', 1)], 1_000);
    let result = budget.apply([input('a', 15, 'g', true), input('b', 40), input('c', 2)], 2_000);
    expect(own(result)).toEqual({ a: [15, 1_000], b: [40, 1_000] });
    expect(folded(result)).toEqual({ g: 2 });
    // a's slot is free: the folded series c takes it, and restarts from 0; its 3 calls stay folded.
    result = budget.apply([input('b', 60), input('c', 3)], 3_000);
    expect(own(result)).toEqual({ b: [60, 1_000], c: [0, 3_000] });
    expect(folded(result)).toEqual({ g: 3 });
    expect(total(result)).toBe(60 + 3);
    expect(budget.tracked).toBe(2);
  });

  it('never makes an ending member a victim', () => {
    const budget = new SeriesBudget<string>(1);
    budget.apply([input('member', 1)], 1_000);
    const result = budget.apply([input('member', 2, 'g', true), input('challenger', 1_000)], 2_000);
    expect(own(result)).toEqual({ member: [2, 1_000] });
    expect(folded(result)).toEqual({ g: 1_000 });
  });

  it('drops an own series that is no longer in the inputs, and frees its slot', () => {
    const budget = new SeriesBudget<string>(1);
    budget.apply([input('a', 100), input('b', 7)], 1_000);
    const result = budget.apply([input('b', 9)], 2_000);
    expect(own(result)).toEqual({ b: [0, 2_000] });
    expect(result.folded).toEqual([{ group: 'g', value: 9, members: 0 }]);
    expect(budget.tracked).toBe(1);
  });
});

describe('SeriesBudget: hysteresis', () => {
  it('does not let a challenger only 10% busier take a slot', () => {
    const budget = new SeriesBudget<string>(1);
    budget.apply([input('member', 100)], 1_000);
    for (let poll = 2; poll <= 20; poll++) {
      const result = budget.apply([input('member', 100 * poll), input('challenger', 110 * (poll - 1))], poll * 1_000);
      expect(own(result), `poll ${poll}`).toEqual({ member: [100 * poll, 1_000] });
      expect(folded(result), `poll ${poll}`).toEqual({ g: 110 * (poll - 1) });
    }
    expect(budget.foldedTotal).toBe(1);
  });

  it('lets a challenger twice as busy take the slot; only the member’s calls after its last own value fold', () => {
    const budget = new SeriesBudget<string>(1);
    budget.apply([input('member', 100)], 1_000);
    budget.apply([input('member', 200)], 2_000);
    const inputs = [input('member', 300), input('challenger', 200)];
    let result = budget.apply(inputs, 3_000);
    expect(own(result)).toEqual({ challenger: [200, 3_000] });
    // member's own series ended at 200 (its last published value): the 100 since then go to other, once.
    expect(result.folded).toEqual([{ group: 'g', value: 100, members: 1 }]);
    expect(budget.foldedTotal).toBe(1); // the demotion
    result = budget.apply([input('member', 400), input('challenger', 400)], 4_000);
    expect(own(result)).toEqual({ challenger: [400, 3_000] });
    expect(folded(result)).toEqual({ g: 200 });
  });

  it('lets a folded series that becomes twice as busy take the slot', () => {
    const budget = new SeriesBudget<string>(1);
    budget.apply([input('member', 100), input('folded', 90)], 1_000);
    let result = budget.apply([input('member', 200), input('folded', 180)], 2_000);
    expect(own(result)).toEqual({ member: [200, 1_000] });
    result = budget.apply([input('member', 300), input('folded', 380)], 3_000);
    expect(own(result)).toEqual({ folded: [0, 3_000] });
    // folded's 380 stay in other; member's own series ended at 200, its 100 since then join other.
    expect(folded(result)).toEqual({ g: 380 + 100 });
  });

  it('never lets a challenger without calls since the last poll displace a member', () => {
    const budget = new SeriesBudget<string>(1);
    budget.apply([input('member', 5), input('idle', 1)], 1_000);
    for (let poll = 2; poll <= 6; poll++) {
      expect(own(budget.apply([input('member', 5), input('idle', 1)], poll * 1_000))).toEqual({ member: [5, 1_000] });
    }
  });
});

describe('SeriesBudget: promotion', () => {
  it('starts a promoted series from 0 at the promotion; its earlier calls stay in the folded series', () => {
    const budget = new SeriesBudget<string>(1);
    budget.apply([input('a', 50, 'read'), input('b', 20, 'write')], 1_000);
    budget.apply([input('a', 60, 'read', true), input('b', 30, 'write')], 2_000);
    // a ended: its slot goes to b at 3_000
    let result = budget.apply([input('b', 45, 'write')], 3_000);
    expect(result.own).toEqual([{ payload: 'b', value: 0, startMs: 3_000 }]);
    expect(result.folded).toEqual([{ group: 'write', value: 45, members: 0 }]);
    result = budget.apply([input('b', 52, 'write')], 4_000);
    expect(result.own).toEqual([{ payload: 'b', value: 7, startMs: 3_000 }]);
    expect(result.folded).toEqual([{ group: 'write', value: 45, members: 0 }]);
    expect(total(result)).toBe(52);
    // promotion into a free slot is not a fold
    expect(budget.foldedTotal).toBe(1);
  });

  it('keeps the folded count when a demoted series is promoted again', () => {
    const budget = new SeriesBudget<string>(1);
    budget.apply([input('a', 100)], 1_000);
    // b takes a's slot; a's own series ends at 100 and it has no calls since: other starts at 0.
    budget.apply([input('a', 100), input('b', 1_000)], 2_000);
    let result = budget.apply([input('a', 150), input('b', 1_000)], 3_000);
    expect(own(result)).toEqual({ b: [1_000, 2_000] });
    expect(folded(result)).toEqual({ g: 50 });
    // a is busy again and takes the slot back: b's own series ends at 1,000, a's 5,000 calls so far stay folded.
    result = budget.apply([input('a', 5_150), input('b', 1_000)], 4_000);
    expect(own(result)).toEqual({ a: [0, 4_000] });
    expect(folded(result)).toEqual({ g: 5_050 });
    result = budget.apply([input('a', 5_200), input('b', 1_010)], 5_000);
    expect(own(result)).toEqual({ a: [50, 4_000] });
    expect(folded(result)).toEqual({ g: 5_060 });
    expect(budget.foldedTotal).toBe(2); // two demotions
  });
});

describe('SeriesBudget: a key whose value goes down', () => {
  it('starts an own series over (a reused key is a new series)', () => {
    const budget = new SeriesBudget<string>(1);
    budget.apply([input('k', 100)], 1_000);
    let result = budget.apply([input('k', 5)], 2_000);
    expect(result.own).toEqual([{ payload: 'k', value: 5, startMs: 2_000 }]);
    expect(result.folded).toEqual([]);
    result = budget.apply([input('k', 8)], 3_000);
    expect(result.own).toEqual([{ payload: 'k', value: 8, startMs: 2_000 }]);
    expect(budget.foldedTotal).toBe(0);
  });

  it('keeps what the old folded series counted, and counts the new one from 0', () => {
    const budget = new SeriesBudget<string>(1);
    budget.apply([input('big', 1_000), input('k', 50)], 1_000);
    const result = budget.apply([input('big', 2_000), input('k', 3)], 2_000);
    expect(own(result)).toEqual({ big: [2_000, 1_000] });
    expect(result.folded).toEqual([{ group: 'g', value: 53, members: 1 }]);
    expect(budget.foldedTotal).toBe(2); // k folded fresh twice
    expect(folded(budget.apply([input('big', 3_000), input('k', 4)], 3_000))).toEqual({ g: 54 });
  });
});

describe('SeriesBudget: foldedTotal', () => {
  it('counts fresh folds and demotions, not promotions or ends', () => {
    const budget = new SeriesBudget<string>(2);
    budget.apply([input('a', 10), input('b', 9), input('c', 3), input('d', 2), input('e', 1)], 1_000);
    expect(budget.foldedTotal).toBe(3);
    budget.apply([input('a', 20), input('b', 18), input('c', 4), input('d', 3), input('e', 2)], 2_000);
    expect(budget.foldedTotal).toBe(3);
    // c bursts: it takes b's slot (b's rate 9 vs c's 0.5 * 100 + 0.5 * 2 = 51)
    budget.apply([input('a', 30), input('b', 27), input('c', 104), input('d', 4), input('e', 3)], 3_000);
    expect(budget.foldedTotal).toBe(4);
    // a ends (it keeps its slot for its final count): no fold
    budget.apply([input('a', 31, 'g', true), input('b', 36), input('c', 204), input('d', 5), input('e', 4)], 4_000);
    expect(budget.foldedTotal).toBe(4);
    // b takes a's free slot (no fold); the new f gets none (a fresh fold)
    const result = budget.apply([input('b', 45), input('c', 304), input('d', 6), input('e', 5), input('f', 1)], 5_000);
    expect(own(result)).toEqual({ b: [0, 5_000], c: [200, 3_000] });
    expect(budget.foldedTotal).toBe(5);
  });
});

describe('SeriesBudget: series that vanish without an end', () => {
  it('keeps their folded calls in the same poll: a folded series never goes down', () => {
    const budget = new SeriesBudget<string>(1);
    const first = budget.apply([input('own', 1000, 'read'), input('x', 100, 'read'), input('y', 5, 'read')], 0);
    expect(folded(first)).toEqual({ read: 105 });
    const second = budget.apply([input('own', 2000, 'read'), input('y', 6, 'read')], 1);
    expect(folded(second)).toEqual({ read: 106 });
    const third = budget.apply([input('own', 2000, 'read'), input('y', 7, 'read')], 2);
    expect(folded(third)).toEqual({ read: 107 });
  });
});

describe('SeriesBudget: retired series', () => {
  it('publishes a demoted series at its final own value for the retention, then lets it go', () => {
    const budget = new SeriesBudget<string>(1, 2_000);
    budget.apply([input('member', 100)], 1_000);
    budget.apply([input('member', 200)], 2_000);
    // The challenger takes the slot at 3_000: member's own series ended at 200.
    let result = budget.apply([input('member', 300), input('challenger', 500)], 3_000);
    expect(own(result)).toEqual({ challenger: [500, 3_000] });
    expect(result.retired).toEqual([{ payload: 'member', value: 200, startMs: 1_000 }]);
    expect(folded(result)).toEqual({ g: 100 });
    result = budget.apply([input('member', 310), input('challenger', 900)], 5_000);
    expect(result.retired).toEqual([{ payload: 'member', value: 200, startMs: 1_000 }]);
    result = budget.apply([input('member', 320), input('challenger', 1_300)], 6_000);
    expect(result.retired).toEqual([]);
    expect(folded(result)).toEqual({ g: 120 });
  });

  it('keeps at most maxRetired retired series: the longest retired leave early, counted', () => {
    // Budget 2; every poll two new, busier series take both slots, so two members are demoted each poll.
    const budget = new SeriesBudget<string>(2, 600_000, { maxRetired: 2 });
    let result = budget.apply([input('p0', 10), input('q0', 10)], 1_000);
    const ledger = new IncreaseLedger();
    ledger.record([input('p0', 10), input('q0', 10)], result);
    for (let poll = 1; poll <= 5; poll++) {
      const inputs: BudgetInput<string>[] = [];
      // Earlier series are quiet now (their values stay); the new ones are busier than any member.
      for (let k = 0; k <= poll; k++) inputs.push(input(`p${k}`, 10 + 1_000 * k), input(`q${k}`, 10 + 1_000 * k));
      result = budget.apply(inputs, 1_000 + poll * 1_000);
      ledger.record(inputs, result);
      expect(result.own.length + result.retired.length).toBeLessThanOrEqual(4);
    }
    // Five polls demoted ten series; two are still retired (the newest), eight left early.
    expect(result.retired.map((r) => r.payload).sort()).toEqual(['p4', 'q4']);
    expect(budget.endedEarlyTotal).toBe(8);
    // Leaving early moves nothing: every call is still counted once (by a reader that saw every poll).
    expect(ledger.counted).toBe(ledger.truth);
  });

  it('goes on with the retired series when it gets its slot back: from its value, not from 0', () => {
    const budget = new SeriesBudget<string>(1, 60_000);
    budget.apply([input('a', 100)], 1_000);
    budget.apply([input('a', 100), input('b', 1_000)], 2_000); // a demoted, retired at 100
    let result = budget.apply([input('a', 9_000), input('b', 1_000)], 3_000); // a is back
    // Its 8,900 calls while folded are in the folded series; its own series is where it was, and grows from here.
    expect(own(result)).toEqual({ a: [100, 1_000] });
    expect(folded(result)).toEqual({ g: 8_900 });
    expect(result.retired.map((r) => r.payload)).toEqual(['b']);
    result = budget.apply([input('a', 9_050), input('b', 1_000)], 4_000);
    expect(own(result)).toEqual({ a: [150, 1_000] });
  });

  it('restarts a promoted series at 0 once its retired series has left', () => {
    const budget = new SeriesBudget<string>(1, 1_000);
    budget.apply([input('a', 100)], 1_000);
    budget.apply([input('a', 100), input('b', 1_000)], 2_000); // a demoted, retired at 100 until 3_000
    budget.apply([input('a', 100), input('b', 1_000)], 4_000); // gone
    const result = budget.apply([input('a', 9_000), input('b', 1_000)], 5_000);
    expect(own(result)).toEqual({ a: [0, 5_000] });
  });
});

describe('SeriesBudget slots contested by many candidates', () => {
  it('gives free slots to the busiest folded series when they are not clearly busier than the members', () => {
    const budget = new SeriesBudget<string>(10, 0);
    // Ten members, equally busy (their rate is 100 per poll), and 1,000 folded series less busy than 1.25× that.
    const members = Array.from({ length: 10 }, (_, i) => `m${i}`);
    const others = Array.from({ length: 1000 }, (_, i) => `o${i}`);
    const step = (poll: number, ended: Set<string> = new Set()): BudgetResult<string> =>
      budget.apply(
        [
          ...members.map((k) => input(k, 100 * poll, 'g', ended.has(k))),
          // o${i} grows by i / 10 per poll: o999 is the busiest (99.9 per poll, never 1.25× a member's 100).
          ...others.map((k, i) => input(k, Math.round((i / 10) * poll * 10) / 10)),
        ],
        poll * 1000,
      );
    step(1);
    for (let poll = 2; poll < 5; poll++) {
      const result = step(poll);
      expect(Object.keys(own(result)).sort()).toEqual([...members].sort());
    }
    // Three members end: their three slots go to the three busiest folded series, whatever the order they came in.
    step(5, new Set(['m0', 'm1', 'm2']));
    members.splice(0, 3);
    const result = step(6);
    expect(Object.keys(own(result)).sort()).toEqual([...members, 'o997', 'o998', 'o999'].sort());
  });

  it('lets the clearly busier take the least busy slots, busiest first, and no one else', () => {
    const budget = new SeriesBudget<string>(3, 0);
    const rates: Record<string, number> = { a: 10, b: 20, c: 30 };
    for (let i = 0; i < 500; i++) rates[`x${i}`] = i % 7; // never busier than 1.25 × 10
    const at = (poll: number): BudgetInput<string>[] => Object.entries(rates).map(([k, r]) => input(k, r * poll));
    budget.apply(at(1), 1000);
    expect(Object.keys(own(budget.apply(at(2), 2000))).sort()).toEqual(['a', 'b', 'c']);
    // Two new series, much busier than a and b: they take a's and b's slots (the least busy first); c stays.
    rates.y = 1000;
    rates.z = 500;
    budget.apply(at(3), 3000);
    expect(Object.keys(own(budget.apply(at(4), 4000))).sort()).toEqual(['c', 'y', 'z']);
  });
});

describe('SeriesBudget over many polls', () => {
  it('keeps a series through more applies than its 8-bit stamp counts, and releases one the moment it vanishes', () => {
    const budget = new SeriesBudget<string>(1);
    const ledger = new IncreaseLedger();
    for (let poll = 1; poll <= 600; poll++) {
      // "a" is input every poll; "b" only until poll 300 (its key vanishes without an end), then again from 520.
      const inputs = [input('a', poll * 3)];
      if (poll <= 300 || poll >= 520) inputs.push(input('b', poll <= 300 ? poll : poll - 519));
      const result = budget.apply(inputs, poll * 1000);
      ledger.record(inputs, result);
      // "a" is busier: it keeps the one slot from its first poll on, never restarted.
      expect(own(result)).toEqual({ a: [poll * 3, 1000] });
      expect(budget.tracked).toBe(inputs.length);
    }
    expect(ledger.counted).toBe(ledger.truth);
  });
});

// The cardinality budget: at most `maxSeries` series of a metric keep their own labels; the rest are folded into
// one series per group (for syscalls: per syscall) whose process labels say "other".
//
// Invariants, rate-correct as PromQL reads counters (sum(increase()) over own and folded series together):
// - Every call is counted in exactly one series at the moment it happens: an increase goes to the series that
//   holds the slot (own) or to the folded series (other), never to both, and none is dropped.
// - Folded series are counters: they never decrease. A series that is promoted to its own labels starts from 0
//   at the promotion (its earlier calls stay in the folded series); a series that is demoted ends its own series
//   (as if its process had exited: Prometheus keeps what it counted) and only its increases after the demotion
//   go to the folded series. So the instant sum() of the values is not the all-time total after a demotion —
//   increase() and rate() are what add up. The ended own series is still published at its final value for the
//   retention (`retired`), so a scraper slower than the poll sees where it ended; promoted again while that is
//   published, its own series goes on from that value (only the calls from the new promotion on are added: those
//   in between are in the folded series), and after that as a new series from 0. Retired series can be bounded too (maxRetired):
//   past the bound, the longest-retired leave early (counted: endedEarlyTotal) once their final value has been
//   shown for `visibleMs`, so a metric publishes at most maxSeries + maxRetired series of its own plus its folded
//   ones, and more only while more were demoted within visibleMs.
// - Who keeps a series is decided by recent rate (an exponentially weighted mean of the per-poll increase), with
//   hysteresis: a challenger replaces a member only when it is clearly busier, so membership does not flap.

export interface BudgetInput<P> {
  /** Identity of the series (e.g. "pid/syscall"). */
  key: string;
  /** The folded series this one joins when it has no slot (e.g. the syscall name). */
  group: string;
  /** Cumulative count since the series began. */
  value: number;
  /** The series ends after this poll (its process exited). */
  ended: boolean;
  /** When its count began (ms), for a series new at this poll; default: now. */
  startMs?: number;
  payload: P;
}

export interface OwnSeries<P> {
  payload: P;
  /** Count since the series got its slot. */
  value: number;
  /** When the series got its slot (ms). */
  startMs: number;
}

export interface FoldedSeries {
  group: string;
  value: number;
  /** Series currently folded in it. */
  members: number;
}

export interface BudgetResult<P> {
  own: OwnSeries<P>[];
  folded: FoldedSeries[];
  /** Demoted series, at the value their own series ended with, until their retention is over. */
  retired: OwnSeries<P>[];
}

interface SeriesState<P = unknown> {
  own: boolean;
  /** Count when the series entered its current membership (own: its own series counts from here). */
  base: number;
  /** Own: the value its own series had before this membership (it continues a retired series), else 0. */
  offset: number;
  startMs: number;
  last: number;
  rate: number;
  group: string;
  /** The apply() that last had it as an input. */
  seen: number;
  /** This poll's entry and its own series, kept with the state so a poll allocates nothing per known series. */
  entry?: Entry<P>;
  series?: OwnSeries<P>;
}

/** Weight of the newest poll in the rate average. */
const RATE_WEIGHT = 0.5;
/** A challenger must be this much busier than the least busy member to take its slot. */
const HYSTERESIS = 1.25;

export class SeriesBudget<P> {
  readonly maxSeries: number;
  readonly #state = new Map<string, SeriesState<P>>();
  readonly #carried = new Map<string, number>();
  #foldedTotal = 0;
  #applies = 0;
  #endedEarlyTotal = 0;

  readonly #retentionMs: number;
  /** Demoted series at their final value; `shownMs`: since when a scraper can see that value. */
  readonly #retired = new Map<string, OwnSeries<P> & { untilMs: number; shownMs: number }>();
  readonly #visibleMs: number;
  readonly #maxRetired: number;

  /**
   * `retentionMs`: how long a demoted series is still published at its final value (0: not at all).
   * `maxRetired`: how many retired series may wait at once (default: no bound); past it, the longest retired
   * leave early once their final value has been shown for `visibleMs` (a scrape interval and a poll: every
   * scraper sees it). No bound for series read with increase() (the default): it extrapolates a series that ends
   * inside its window by half a scrape interval, so one that leaves a minute after it showed its count is
   * over-counted by up to half (the aggregate's retention is 10 scrape intervals for that reason).
   */
  constructor(maxSeries: number, retentionMs = 0, options: { maxRetired?: number; visibleMs?: number } = {}) {
    if (!Number.isInteger(maxSeries) || maxSeries < 1)
      throw new Error(`maxSeries must be a positive integer, got ${maxSeries}`);
    this.maxSeries = maxSeries;
    this.#retentionMs = retentionMs;
    this.#visibleMs = options.visibleMs ?? 0;
    this.#maxRetired = options.maxRetired ?? Infinity;
  }

  /** Series folded so far (each time a series joins a folded series, including at its first poll). */
  get foldedTotal(): number {
    return this.#foldedTotal;
  }

  /** Retired series that left before their retention was over, because more than maxRetired of them waited. */
  get endedEarlyTotal(): number {
    return this.#endedEarlyTotal;
  }

  /** Series tracked now (own and folded). */
  get tracked(): number {
    return this.#state.size;
  }

  apply(inputs: readonly BudgetInput<P>[], nowMs: number): BudgetResult<P> {
    const current: Entry<P>[] = [];
    const stamp = ++this.#applies;
    for (const input of inputs) {
      let state = this.#state.get(input.key);
      let fresh = false;
      if (state === undefined || input.value < state.last) {
        // New, or the key was reused by a new series whose count restarted: start over.
        if (state !== undefined) this.#retire(state);
        state = {
          own: false,
          base: 0,
          offset: 0,
          startMs: input.startMs ?? nowMs,
          last: 0,
          rate: 0,
          group: input.group,
          seen: stamp,
        };
        this.#state.set(input.key, state);
        fresh = true;
      }
      state.seen = stamp;
      const previous = state.last;
      const increase = input.value - previous;
      state.rate = fresh ? increase : RATE_WEIGHT * increase + (1 - RATE_WEIGHT) * state.rate;
      state.last = input.value;
      let entry = state.entry;
      if (entry === undefined) {
        entry = { input, state, fresh, previous };
        state.entry = entry;
      } else {
        entry.input = input;
        entry.fresh = fresh;
        entry.previous = previous;
      }
      current.push(entry);
    }

    // Series whose source vanished without an end (a deleted key) leave first, so their folded calls are in
    // this poll's folded series (a folded series never goes down, not even for one poll).
    for (const [key, state] of this.#state) {
      if (state.seen !== stamp) {
        this.#retire(state);
        this.#state.delete(key);
      }
    }

    this.#assign(current, nowMs);
    for (const [key, r] of this.#retired) if (nowMs > r.untilMs) this.#retired.delete(key);
    // The map is in the order of retirement (a promotion deletes an entry, a demotion appends one), so the first
    // are the longest retired. One leaves early only once its final value has been shown for visibleMs: leaving
    // sooner, a scraper could miss the calls it counted last.
    let excess = this.#retired.size - this.#maxRetired;
    for (const [key, r] of this.#retired) {
      if (excess <= 0) break;
      if (nowMs - r.shownMs < this.#visibleMs) continue;
      this.#retired.delete(key);
      this.#endedEarlyTotal++;
      excess--;
    }
    const retired: OwnSeries<P>[] = [];
    for (const r of this.#retired.values()) retired.push({ payload: r.payload, value: r.value, startMs: r.startMs });

    const own: OwnSeries<P>[] = [];
    const folded = new Map<string, FoldedSeries>();
    for (const [group, value] of this.#carried) folded.set(group, { group, value, members: 0 });
    for (const { input, state } of current) {
      if (state.own) {
        let series = state.series;
        if (series === undefined) {
          series = { payload: input.payload, value: state.offset + input.value - state.base, startMs: state.startMs };
          state.series = series;
        } else {
          series.payload = input.payload;
          series.value = state.offset + input.value - state.base;
          series.startMs = state.startMs;
        }
        own.push(series);
      } else {
        const entry = folded.get(state.group) ?? { group: state.group, value: 0, members: 0 };
        entry.value += input.value - state.base;
        entry.members++;
        folded.set(state.group, entry);
      }
    }
    // Ended series leave; what a folded one counted stays in its folded series. A series demoted earlier leaves
    // its retired one too: its last value has stood since then (an exited process's final count for its whole
    // retention), and a retirement clock started by the demotion would keep it a retention longer.
    for (const { input, state } of current) {
      if (input.ended) {
        this.#retire(state);
        this.#state.delete(input.key);
        this.#retired.delete(input.key);
      }
    }
    return { own, folded: [...folded.values()], retired };
  }

  /** A series leaves: what it counted while folded stays in its folded series for good. */
  #retire(state: SeriesState): void {
    if (!state.own) this.#carry(state.group, state.last - state.base);
  }

  #carry(group: string, amount: number): void {
    if (amount !== 0) this.#carried.set(group, (this.#carried.get(group) ?? 0) + amount);
  }

  /** Gives free slots to the busiest folded series, then lets clearly busier ones take the least busy slots. */
  #assign(current: Entry<P>[], nowMs: number): void {
    let free = this.maxSeries;
    const victims: Entry<P>[] = [];
    const candidates: Entry<P>[] = [];
    for (const entry of current) {
      if (entry.state.own) {
        free--;
        // An ending member publishes its final count in its own series: never a victim.
        if (!entry.input.ended) victims.push(entry);
      } else if (entry.fresh || !entry.input.ended) {
        // A folded series that ends keeps its final count in the folded series.
        candidates.push(entry);
      }
    }
    // When every candidate gets a free slot, the order decides nothing (promotions are independent of each
    // other): ordering is only needed when slots are contested, and then only for the candidates that can win.
    let contenders = candidates;
    if (candidates.length > free) {
      victims.sort((a, b) => a.state.rate - b.state.rate || a.input.value - b.input.value);
      contenders = this.#contenders(candidates, victims, free);
    }
    let next = 0;
    for (const candidate of contenders) {
      if (free > 0) {
        free--;
        this.#promote(candidate, nowMs);
        continue;
      }
      const victim = victims[next];
      if (
        victim === undefined ||
        candidate.state.rate === 0 ||
        candidate.state.rate <= victim.state.rate * HYSTERESIS
      ) {
        break; // candidates are sorted busiest first: none after this one can win either
      }
      next++;
      this.#demote(victim, nowMs);
      this.#promote(candidate, nowMs);
    }
    for (const entry of current) if (entry.fresh && !entry.state.own) this.#foldedTotal++;
  }

  /**
   * The candidates that can take a slot, busiest first — what sorting them all would put before the first that
   * cannot, without sorting them all (at 100,000 processes the per-process budget has 400,000 candidates for a
   * few changed slots every poll). One that is not clearly busier than the least busy member (`bar`) can only take
   * a free slot: those go to the busiest of them, chosen with a heap of the free slots' size.
   */
  #contenders(candidates: Entry<P>[], victims: Entry<P>[], free: number): Entry<P>[] {
    const busier = (a: Entry<P>, b: Entry<P>): number => b.state.rate - a.state.rate || b.input.value - a.input.value;
    const bar = victims.length > 0 ? victims[0]!.state.rate * HYSTERESIS : Infinity;
    const contenders: Entry<P>[] = [];
    const rest: Entry<P>[] = [];
    for (const c of candidates) (c.state.rate > bar && c.state.rate !== 0 ? contenders : rest).push(c);
    contenders.sort(busier);
    const room = free - contenders.length;
    if (room <= 0) return contenders;
    // The `room` busiest of the rest: a heap whose root is the least busy kept.
    const heap: Entry<P>[] = [];
    const less = (i: number, j: number): boolean => busier(heap[i]!, heap[j]!) > 0;
    const swap = (i: number, j: number): void => {
      const t = heap[i]!;
      heap[i] = heap[j]!;
      heap[j] = t;
    };
    const down = (i: number): void => {
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let least = i;
        if (l < heap.length && less(l, least)) least = l;
        if (r < heap.length && less(r, least)) least = r;
        if (least === i) return;
        swap(i, least);
        i = least;
      }
    };
    for (const c of rest) {
      if (heap.length < room) {
        heap.push(c);
        for (let i = heap.length - 1; i > 0;) {
          const parent = (i - 1) >> 1;
          if (!less(i, parent)) break;
          swap(i, parent);
          i = parent;
        }
      } else if (busier(c, heap[0]!) < 0) {
        heap[0] = c;
        down(0);
      }
    }
    heap.sort(busier);
    return contenders.concat(heap);
  }

  #promote({ input, state, fresh }: Entry<P>, nowMs: number): void {
    const retired = this.#retired.get(input.key);
    this.#retired.delete(input.key);
    if (!fresh) {
      // What it counted while folded stays there; its own series counts from now: on from where its retired
      // series stands, if it is still published (restarting it at 0 would lose, to a scraper that missed the
      // retired value, the calls counted last before the demotion, or all of them while they were held at 0),
      // else from 0 as a new series.
      this.#carry(state.group, input.value - state.base);
      state.base = input.value;
      state.offset = retired?.value ?? 0;
      state.startMs = retired?.startMs ?? nowMs;
    }
    // (A fresh series with a retired one under its key is a new series that reuses the key: it starts at 0.)
    state.own = true;
  }

  #demote({ input, state, previous }: Entry<P>, nowMs: number): void {
    // Its own series ends with what it published last poll; the increase since then and every later one go to
    // the folded series (moving its whole count there would count it twice in increase()).
    if (this.#retentionMs > 0) {
      this.#retired.set(input.key, {
        payload: input.payload,
        value: state.offset + previous - state.base,
        startMs: state.startMs,
        untilMs: nowMs + this.#retentionMs,
        // Its final value is what it showed at the last poll.
        shownMs: nowMs,
      });
    }
    state.own = false;
    state.base = previous;
    state.offset = 0;
    this.#foldedTotal++;
  }
}

interface Entry<P> {
  input: BudgetInput<P>;
  state: SeriesState<P>;
  fresh: boolean;
  /** The series' value at the last poll (0 when fresh). */
  previous: number;
}

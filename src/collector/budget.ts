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

import { clear, grown } from './columns.ts';
import { IntMap } from './int-map.ts';

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

/** Weight of the newest poll in the rate average. */
const RATE_WEIGHT = 0.5;
/** A challenger must be this much busier than the least busy member to take its slot. */
const HYSTERESIS = 1.25;

/** The budget over series named by strings (aggregates, exec pairs, exits): IndexedBudget with its keys numbered. */
export class SeriesBudget<P> {
  readonly maxSeries: number;
  readonly #core: IndexedBudget<P>;
  readonly #ids = new Map<string, number>();
  readonly #payloads: P[] = [];
  /** Each id's own series, kept so a poll makes nothing for a known series. */
  readonly #series: (OwnSeries<P> | undefined)[] = [];
  readonly #free: number[] = [];
  #next = 0;
  readonly #groups = new Map<string, number>();
  readonly #groupNames: string[] = [];
  /** Each id's start at its last input (when its count began). */
  readonly #starts: number[] = [];

  /**
   * `retentionMs`: how long a demoted series is still published at its final value (0: not at all).
   * `maxRetired`: how many retired series may wait at once (default: no bound); past it, the longest retired
   * leave early once their final value has been shown for `visibleMs` (a scrape interval and a poll: every
   * scraper sees it). No bound for series read with increase() (the default): it extrapolates a series that ends
   * inside its window by half a scrape interval, so one that leaves a minute after it showed its count is
   * over-counted by up to half (the aggregate's retention is 10 scrape intervals for that reason).
   */
  constructor(maxSeries: number, retentionMs = 0, options: { maxRetired?: number; visibleMs?: number } = {}) {
    this.#core = new IndexedBudget<P>(
      maxSeries,
      retentionMs,
      options,
      (id) => this.#payloads[id]!,
      (id) => this.#starts[id]!,
    );
    this.maxSeries = maxSeries;
  }

  /** Series folded so far (each time a series joins a folded series, including at its first poll). */
  get foldedTotal(): number {
    return this.#core.foldedTotal;
  }

  /** Retired series that left before their retention was over, because more than maxRetired of them waited. */
  get endedEarlyTotal(): number {
    return this.#core.endedEarlyTotal;
  }

  /** Series tracked now (own and folded). */
  get tracked(): number {
    return this.#core.tracked;
  }

  apply(inputs: readonly BudgetInput<P>[], nowMs: number): BudgetResult<P> {
    const core = this.#core;
    core.begin();
    for (const input of inputs) {
      let id = this.#ids.get(input.key);
      if (id === undefined) {
        id = this.#free.pop() ?? this.#next++;
        this.#ids.set(input.key, id);
        this.#series[id] = undefined;
      }
      this.#payloads[id] = input.payload;
      let group = this.#groups.get(input.group);
      if (group === undefined) {
        group = this.#groupNames.length;
        this.#groups.set(input.group, group);
        this.#groupNames.push(input.group);
      }
      this.#starts[id] = input.startMs ?? nowMs;
      core.input(id, group, input.value, input.ended);
    }
    const own: OwnSeries<P>[] = [];
    const folded: FoldedSeries[] = [];
    const retired: OwnSeries<P>[] = [];
    core.finish(
      nowMs,
      (id) => {
        let series = this.#series[id];
        const value = core.ownValue(id);
        const startMs = core.ownStartMs(id);
        if (series === undefined || core.fresh(id)) {
          series = { payload: this.#payloads[id]!, value, startMs };
          this.#series[id] = series;
        } else {
          series.payload = this.#payloads[id]!;
          series.value = value;
          series.startMs = startMs;
        }
        own.push(series);
      },
      (group, value, members) => folded.push({ group: this.#groupNames[group]!, value, members }),
      (payload, value, startMs) => retired.push({ payload, value, startMs }),
    );
    // Keys whose series left (and whose retired series, if any, is over) give their number back.
    if (this.#ids.size > core.tracked) {
      for (const [key, id] of this.#ids) {
        if (!core.unused(id)) continue;
        this.#ids.delete(key);
        this.#series[id] = undefined;
        this.#payloads[id] = undefined as P;
        this.#free.push(id);
      }
    }
    return { own, folded, retired };
  }
}

/** A series the budget demoted, published at the value its own series ended with until its retention is over. */
interface Retired<P> {
  payload: P;
  value: number;
  startMs: number;
  untilMs: number;
  /** Since when a scraper can see its final value. */
  shownMs: number;
  /** The id it was demoted from while that id still names the same series, else -1. */
  id: number;
}

/**
 * The budget's state, by series id: columns of typed arrays, so a tracked series costs about 40 bytes and no object,
 * and a poll allocates nothing per series. Ids are small integers the caller chooses and reuses (the string-keyed
 * SeriesBudget numbers its keys; the per-process view of SyscallSeriesShaper uses process slot × lane); groups are
 * small integers too. Every rule of the budget is here, once; see the head of this file.
 */
export class IndexedBudget<P> {
  readonly maxSeries: number;
  readonly #retentionMs: number;
  readonly #visibleMs: number;
  readonly #maxRetired: number;
  /** The payload a demoted series' retired one keeps (its labels at the demotion). */
  readonly #payloadOf: (id: number) => P;
  /** When the count of the id's series began, at its latest input (a series promoted at its first poll starts then). */
  readonly #startOf: (id: number) => number;

  #capacity = 0;
  /** 1 while the id has a state. */
  #alive = new Uint8Array(0);
  #own = new Uint8Array(0);
  /** This apply: the id is new (or restarted), its series ends after this poll. */
  #fresh = new Uint8Array(0);
  #ended = new Uint8Array(0);
  #group = new Int32Array(0);
  /**
   * The apply() that last had it as an input, modulo 256: an id with a state was an input of the apply before
   * (finish() releases every other), so the low byte tells this apply from that one.
   */
  #seen = new Uint8Array(0);
  /** Count when the series entered its current membership (own: its own series counts from here). */
  #base = new Float64Array(0);
  #last = new Float64Array(0);
  /** The rate average (single precision: it only ranks series, and 4 bytes an id are 1.6 MiB at 400,000 ids). */
  #rate = new Float32Array(0);
  // What only some ids have, in maps (a column would cost every id 8 bytes): an own series' offset (the value it had
  // before this membership: it continues a retired or inherited series; absent: 0), an own series' value at the last
  // poll (for its demotion), and the key in #retired of an id's retired series.
  readonly #offsets = new IntMap('float64');
  readonly #previous = new IntMap('float64');
  readonly #retiredKeys = new IntMap('float64');
  /** When an own series began (a column would cost every id 8 bytes; only members have one). */
  readonly #ownStart = new IntMap('float64');
  /**
   * What an id's own series continues from when it is promoted: the value and start of a series with the same labels
   * that it took over (inherit(); rare, so not a column).
   */
  readonly #inherited = new Map<number, { value: number; startMs: number }>();
  /** Ids with a state, below this. */
  #highWater = 0;

  /** This apply's inputs, in order. */
  #current = new Int32Array(1024);
  #count = 0;
  /** Scratch of #assign, kept from poll to poll: at 100,000 processes it holds 400,000 ids. */
  readonly #victims = new IdList();
  readonly #candidates = new IdList();
  #stamp = 0;

  /** Calls of series that left while folded, by group: they stay in the folded series for good. */
  readonly #carried = new Map<number, number>();
  /** Retired series in the order of retirement (a promotion deletes one, a demotion appends one). */
  readonly #retired = new Map<number, Retired<P>>();
  #retirements = 0;
  #foldedTotal = 0;
  #endedEarlyTotal = 0;
  #tracked = 0;

  constructor(
    maxSeries: number,
    retentionMs: number,
    options: { maxRetired?: number; visibleMs?: number },
    payloadOf: (id: number) => P,
    startOf: (id: number) => number,
  ) {
    if (!Number.isInteger(maxSeries) || maxSeries < 1)
      throw new Error(`maxSeries must be a positive integer, got ${maxSeries}`);
    this.maxSeries = maxSeries;
    this.#retentionMs = retentionMs;
    this.#visibleMs = options.visibleMs ?? 0;
    this.#maxRetired = options.maxRetired ?? Infinity;
    this.#payloadOf = payloadOf;
    this.#startOf = startOf;
  }

  get foldedTotal(): number {
    return this.#foldedTotal;
  }

  get endedEarlyTotal(): number {
    return this.#endedEarlyTotal;
  }

  get tracked(): number {
    return this.#tracked;
  }

  #grow(id: number): void {
    let capacity = Math.max(1024, this.#capacity);
    while (capacity <= id) capacity *= 2;
    const grow = <T extends Uint8Array | Int32Array | Uint32Array | Float32Array | Float64Array>(
      old: T,
      make: (n: number) => T,
    ): T => {
      // Zero pages stay unwritten (src/collector/columns.ts): most ids have no base and are not own or ended.
      return grown(old, make(capacity));
    };
    this.#alive = grow(this.#alive, (n) => new Uint8Array(n));
    this.#own = grow(this.#own, (n) => new Uint8Array(n));
    this.#fresh = grow(this.#fresh, (n) => new Uint8Array(n));
    this.#ended = grow(this.#ended, (n) => new Uint8Array(n));
    this.#group = grow(this.#group, (n) => new Int32Array(n));
    this.#seen = grow(this.#seen, (n) => new Uint8Array(n));
    this.#base = grow(this.#base, (n) => new Float64Array(n));
    this.#last = grow(this.#last, (n) => new Float64Array(n));
    this.#rate = grow(this.#rate, (n) => new Float32Array(n));
    this.#capacity = capacity;
  }

  /** Starts an apply(): inputs follow with input(), then finish(). */
  begin(): void {
    this.#stamp = (this.#stamp + 1) & 0xff;
    this.#count = 0;
  }

  /** One input of this apply: the series `id`, in folded group `group`, at cumulative `value`. */
  input(id: number, group: number, value: number, ended: boolean): void {
    if (id >= this.#capacity) this.#grow(id);
    let fresh = false;
    if (this.#alive[id] === 0 || value < this.#last[id]!) {
      // New, or the id was reused by a new series whose count restarted: start over.
      if (this.#alive[id] === 1) {
        this.#retire(id);
        this.#disown(id);
      } else this.#tracked++;
      this.#alive[id] = 1;
      clear(this.#own, id, id + 1);
      clear(this.#base, id, id + 1);
      clear(this.#last, id, id + 1);
      clear(this.#rate, id, id + 1);
      if (this.#group[id] !== group) this.#group[id] = group;
      fresh = true;
      if (id >= this.#highWater) this.#highWater = id + 1;
    }
    this.#seen[id] = this.#stamp;
    const previous = this.#last[id]!;
    const increase = value - previous;
    this.#rate[id] = fresh ? increase : RATE_WEIGHT * increase + (1 - RATE_WEIGHT) * this.#rate[id]!;
    this.#last[id] = value;
    if (this.#own[id] === 1) this.#previous.set(id, previous);
    // Written only when it changes: an id that is never fresh again or never ended leaves its page unwritten.
    if (this.#fresh[id] !== (fresh ? 1 : 0)) this.#fresh[id] = fresh ? 1 : 0;
    if (this.#ended[id] !== (ended ? 1 : 0)) this.#ended[id] = ended ? 1 : 0;
    if (this.#count === this.#current.length) {
      const next = new Int32Array(this.#current.length * 2);
      next.set(this.#current);
      this.#current = next;
    }
    this.#current[this.#count++] = id;
  }

  /** Is the id a member with its own series (after finish(): this poll's membership)? */
  own(id: number): boolean {
    return id < this.#capacity && this.#own[id] === 1;
  }

  /** The value of its own series and when that began (valid for an own id after finish()). */
  ownValue(id: number): number {
    return (this.#offsets.get(id) ?? 0) + this.#last[id]! - this.#base[id]!;
  }

  ownStartMs(id: number): number {
    return this.#ownStart.get(id)!;
  }

  /**
   * Ends the apply: who keeps a slot, and the series to publish. `own` gets each member's id in input order;
   * `folded` each group's value and members (the groups that carried calls first, in the order they first did, then
   * the rest in the order of their first folded input); `retired` each retired series.
   */
  finish(
    nowMs: number,
    own: (id: number) => void,
    folded: (group: number, value: number, members: number) => void,
    retired: (payload: P, value: number, startMs: number) => void,
  ): void {
    const stamp = this.#stamp;
    // Series whose source vanished without an end (a deleted key) leave first, so their folded calls are in
    // this poll's folded series (a folded series never goes down, not even for one poll).
    for (let id = 0; id < this.#highWater; id++) {
      if (this.#alive[id] === 1 && this.#seen[id] !== stamp) this.#release(id);
    }

    this.#assign(nowMs);
    // forEach, not for…of: no [key, value] array per entry (there can be tens of thousands).
    this.#retired.forEach((r, key) => {
      if (nowMs > r.untilMs) this.#dropRetired(key, r);
    });
    // The first retired are the longest retired. One leaves early only once its final value has been shown for
    // visibleMs: leaving sooner, a scraper could miss the calls it counted last.
    let excess = this.#retired.size - this.#maxRetired;
    for (const [key, r] of this.#retired) {
      if (excess <= 0) break;
      if (nowMs - r.shownMs < this.#visibleMs) continue;
      this.#dropRetired(key, r);
      this.#endedEarlyTotal++;
      excess--;
    }
    this.#retired.forEach((r) => retired(r.payload, r.value, r.startMs));

    const current = this.#current;
    const values = new Map<number, [value: number, members: number]>();
    for (const [group, value] of this.#carried) values.set(group, [value, 0]);
    for (let i = 0; i < this.#count; i++) {
      const id = current[i]!;
      if (this.#own[id] === 1) {
        own(id);
        continue;
      }
      let entry = values.get(this.#group[id]!);
      if (entry === undefined) values.set(this.#group[id]!, (entry = [0, 0]));
      entry[0] += this.#last[id]! - this.#base[id]!;
      entry[1]++;
    }
    for (const [group, [value, members]] of values) folded(group, value, members);
    // Ended series leave; what a folded one counted stays in its folded series. A series demoted earlier leaves
    // its retired one too: its last value has stood since then (an exited process's final count for its whole
    // retention), and a retirement clock started by the demotion would keep it a retention longer.
    for (let i = 0; i < this.#count; i++) {
      const id = current[i]!;
      if (this.#ended[id] === 0 || this.#alive[id] === 0) continue;
      const key = this.#retiredKeys.get(id);
      if (key !== undefined) this.#dropRetired(key, this.#retired.get(key)!);
      this.#release(id);
    }
  }

  /**
   * The id's series is gone (its source vanished, or it ended): it leaves, and what it counted while folded stays.
   * A retired series of it stays tied to the id (a new series under it that is promoted replaces it).
   */
  #release(id: number): void {
    this.#retire(id);
    this.#disown(id);
    this.#alive[id] = 0;
    this.#own[id] = 0;
    if (this.#inherited.size > 0) this.#inherited.delete(id);
    this.#tracked--;
  }

  /**
   * The id now names another series (the caller reuses it): a retired series of the one before stays published
   * until its retention is over, but is no longer that id's (a promotion of the new one does not continue it).
   */
  forget(id: number): void {
    if (id >= this.#capacity) return;
    if (this.#inherited.size > 0) this.#inherited.delete(id);
    const key = this.#retiredKeys.get(id);
    if (key !== undefined) {
      this.#retired.get(key)!.id = -1;
      this.#retiredKeys.delete(id);
    }
  }

  /**
   * The id's series leaves now, unpublished, with its retired series (another series takes its labels: a process
   * that reuses a retained one's pid). What it counted while folded stays in its folded series. Call it between
   * begin() and finish(), for an id not input in this apply.
   */
  drop(id: number): void {
    if (id >= this.#capacity) return;
    if (this.#alive[id] === 1) this.#release(id);
    const key = this.#retiredKeys.get(id);
    if (key !== undefined) this.#dropRetired(key, this.#retired.get(key)!);
  }

  /**
   * Series `to` takes over the labels of series `from` (a new process with a retained one's pid, executable and
   * container): `from` leaves now, unpublished (drop()), and `to`'s own series, when it gets one, goes on from the
   * value `from` showed last (as its own or its retired series), so the series those labels name never goes down:
   * increase() sees only `to`'s calls. Call it between begin() and finish(), for a `from` not input in this apply.
   */
  inherit(to: number, from: number): void {
    const top = Math.max(to, from);
    if (top >= this.#capacity) this.#grow(top);
    let value = Number.NaN;
    let startMs = 0;
    const key = this.#retiredKeys.get(from);
    if (this.#alive[from] === 1 && this.#own[from] === 1) {
      value = this.ownValue(from);
      startMs = this.#ownStart.get(from)!;
    } else if (key !== undefined) {
      const r = this.#retired.get(key)!;
      value = r.value;
      startMs = r.startMs;
    }
    this.drop(from);
    if (Number.isNaN(value) || this.#own[to] === 1) return;
    this.#inherited.set(to, { value, startMs });
  }

  /** The id has no state and no retired series tied to it: the caller may reuse it. */
  unused(id: number): boolean {
    return id >= this.#capacity || (this.#alive[id] === 0 && !this.#retiredKeys.has(id));
  }

  /** The id's series is new (or restarted) at this apply. */
  fresh(id: number): boolean {
    return this.#fresh[id] === 1;
  }

  #dropRetired(key: number, r: Retired<P>): void {
    this.#retired.delete(key);
    if (r.id >= 0) this.#retiredKeys.delete(r.id);
  }

  /** The id's own series is over: what only an own series has goes. */
  #disown(id: number): void {
    if (this.#own[id] === 0) return;
    this.#offsets.delete(id);
    this.#previous.delete(id);
    this.#ownStart.delete(id);
  }

  /** A series leaves its membership for good: what it counted while folded stays in its folded series. */
  #retire(id: number): void {
    if (this.#own[id] === 0) this.#carry(this.#group[id]!, this.#last[id]! - this.#base[id]!);
  }

  #carry(group: number, amount: number): void {
    if (amount !== 0) this.#carried.set(group, (this.#carried.get(group) ?? 0) + amount);
  }

  /** Busiest first: by rate, then by count. */
  readonly #busier = (a: number, b: number): number =>
    this.#rate[b]! - this.#rate[a]! || this.#last[b]! - this.#last[a]!;

  /** Gives free slots to the busiest folded series, then lets clearly busier ones take the least busy slots. */
  #assign(nowMs: number): void {
    let free = this.maxSeries;
    const victims = this.#victims;
    const candidates = this.#candidates;
    victims.clear();
    candidates.clear();
    const current = this.#current;
    for (let i = 0; i < this.#count; i++) {
      const id = current[i]!;
      if (this.#own[id] === 1) {
        free--;
        // An ending member publishes its final count in its own series: never a victim.
        if (this.#ended[id] === 0) victims.push(id);
      } else if (this.#fresh[id] === 1 || this.#ended[id] === 0) {
        // A folded series that ends keeps its final count in the folded series.
        candidates.push(id);
      }
    }
    // When every candidate gets a free slot, the order decides nothing (promotions are independent of each
    // other): ordering is only needed when slots are contested, and then only for the candidates that can win.
    let contenders: ArrayLike<number> = candidates.view();
    const ranked = victims.view();
    if (candidates.length > free) {
      ranked.sort((a, b) => -this.#busier(a, b));
      contenders = this.#contenders(candidates.view(), ranked, free);
    }
    let next = 0;
    for (let k = 0; k < contenders.length; k++) {
      const candidate = contenders[k]!;
      if (free > 0) {
        free--;
        this.#promote(candidate, nowMs);
        continue;
      }
      const victim = next < ranked.length ? ranked[next] : undefined;
      const rate = this.#rate[candidate]!;
      if (victim === undefined || rate === 0 || rate <= this.#rate[victim]! * HYSTERESIS) {
        break; // candidates are sorted busiest first: none after this one can win either
      }
      next++;
      this.#demote(victim, nowMs);
      this.#promote(candidate, nowMs);
    }
    for (let i = 0; i < this.#count; i++) {
      const id = current[i]!;
      if (this.#fresh[id] === 1 && this.#own[id] === 0) this.#foldedTotal++;
    }
  }

  /**
   * The candidates that can take a slot, busiest first — what sorting them all would put before the first that
   * cannot, without sorting them all (at 100,000 processes the per-process budget has 400,000 candidates for a
   * few changed slots every poll). One that is not clearly busier than the least busy member (`bar`) can only take
   * a free slot: those go to the busiest of them, chosen with a heap of the free slots' size.
   */
  #contenders(candidates: Int32Array, victims: Int32Array, free: number): number[] {
    const busier = this.#busier;
    const bar = victims.length > 0 ? this.#rate[victims[0]!]! * HYSTERESIS : Infinity;
    const beats = (c: number): boolean => this.#rate[c]! > bar && this.#rate[c]! !== 0;
    const contenders: number[] = [];
    for (let k = 0; k < candidates.length; k++) if (beats(candidates[k]!)) contenders.push(candidates[k]!);
    contenders.sort(busier);
    const room = free - contenders.length;
    if (room <= 0) return contenders;
    // The `room` busiest of the rest: a heap whose root is the least busy kept.
    const heap: number[] = [];
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
    // The rest: the candidates that do not beat the bar (a second pass, not a second array of them all).
    for (let k = 0; k < candidates.length; k++) {
      const c = candidates[k]!;
      if (beats(c)) continue;
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

  #promote(id: number, nowMs: number): void {
    const key = this.#retiredKeys.get(id);
    const retired = key === undefined ? undefined : this.#retired.get(key);
    if (retired !== undefined) this.#dropRetired(key!, retired);
    const inherited = this.#inherited.size > 0 ? this.#inherited.get(id) : undefined;
    if (this.#fresh[id] === 0) {
      // What it counted while folded stays there; its own series counts from now: on from where its retired
      // series stands, if it is still published (restarting it at 0 would lose, to a scraper that missed the
      // retired value, the calls counted last before the demotion, or all of them while they were held at 0),
      // else from what the series of its labels showed last (inherit()), else from 0 as a new series.
      const value = this.#last[id]!;
      this.#carry(this.#group[id]!, value - this.#base[id]!);
      this.#base[id] = value;
      const offset = retired?.value ?? inherited?.value ?? 0;
      if (offset !== 0) this.#offsets.set(id, offset);
      this.#ownStart.set(id, retired?.startMs ?? inherited?.startMs ?? nowMs);
    } else if (inherited !== undefined) {
      // New, in a series whose labels it took over: it goes on from that series' last value.
      if (inherited.value !== 0) this.#offsets.set(id, inherited.value);
      this.#ownStart.set(id, inherited.startMs);
    } else {
      // New, promoted at its first poll: its own series starts when its count began.
      this.#ownStart.set(id, this.#startOf(id));
    }
    // (A fresh series with a retired one under its id is a new series that reuses the id: it starts at 0.)
    if (inherited !== undefined) this.#inherited.delete(id);
    this.#own[id] = 1;
  }

  #demote(id: number, nowMs: number): void {
    // Its own series ends with what it published last poll; the increase since then and every later one go to
    // the folded series (moving its whole count there would count it twice in increase()).
    const previous = this.#previous.get(id)!;
    if (this.#retentionMs > 0) {
      const key = ++this.#retirements;
      this.#retired.set(key, {
        payload: this.#payloadOf(id),
        value: (this.#offsets.get(id) ?? 0) + previous - this.#base[id]!,
        startMs: this.#ownStart.get(id)!,
        untilMs: nowMs + this.#retentionMs,
        // Its final value is what it showed at the last poll.
        shownMs: nowMs,
        id,
      });
      this.#retiredKeys.set(id, key);
    }
    this.#disown(id);
    this.#own[id] = 0;
    this.#base[id] = previous;
    this.#foldedTotal++;
  }
}

/** A list of ids in a typed array grown by doubling and never shrunk: cleared and refilled without allocating. */
class IdList {
  #ids = new Int32Array(1024);
  length = 0;

  clear(): void {
    this.length = 0;
  }

  push(id: number): void {
    if (this.length === this.#ids.length) {
      const next = new Int32Array(this.#ids.length * 2);
      next.set(this.#ids);
      this.#ids = next;
    }
    this.#ids[this.length++] = id;
  }

  /** The ids pushed since the last clear, as a view (valid until the next push). */
  view(): Int32Array {
    return this.#ids.subarray(0, this.length);
  }
}

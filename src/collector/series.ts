// From per-process counts to the series the agent publishes, in two views of one truth:
// - the aggregate (ebpf_syscalls_total, ebpf_cpu_samples_total): one series per executable, container and kind,
//   holding every process that ever ran in it, exited ones included, so it only grows — the view for rate(),
//   increase() and sum(). A new aggregate series is published at 0 for a hold (--scrape-interval plus one poll)
//   before it shows its count, so every scraper at that interval sees the 0 first and increase() loses nothing.
// - the per-process view (ebpf_process_*), for "who is it now": live processes within its own budget, and each
//   exited process's final counts for --exited-retention, then the series leaves.
// Who each process is (container, pod) comes from the attributor. The exporter only names what this produces.
import { IndexedBudget, SeriesBudget, type BudgetInput } from './budget.ts';
import { clear, grown } from './columns.ts';
import type { ExecCount } from './exec.ts';
import { asProcessTable, processAt, processTable, type ProcessTable } from './process.ts';
import { SYSCALL_NAMES, type ProcessSyscalls } from './syscalls.ts';
import { IntMap } from './int-map.ts';

/** Where a process runs, as far as it is known. Absent fields are unknown, never guessed. */
export interface Attribution {
  containerId?: string;
  podUid?: string;
  podName?: string;
  podNamespace?: string;
}

/** Resolves a process's attribution from its cgroup id (and pid, for cgroup v1 hosts). */
export type Attributor = (cgroupId: bigint, pid: number) => Attribution;

export const noAttribution: Attributor = () => ({});

/** The label value of folded series. */
export const OTHER = 'other';

export interface SyscallSeries {
  /** The process, 'other' for the folded series, undefined in per-executable mode. */
  pid: number | typeof OTHER | undefined;
  /** Executable name; 'other' for the folded series. */
  comm: string;
  /** The kind of count: the syscall name, or 'cpu' for CPU samples. */
  syscall: string;
  value: number;
  startMs: number;
  attribution: Attribution;
}

export interface ShapedSyscalls {
  /** The aggregate view: per executable (and container) and kind; pid undefined. */
  series: SyscallSeries[];
  /** Aggregate series folded into 'other' so far. */
  foldedTotal: number;
  /** The per-process view; undefined when it is off (--no-pid-labels). */
  processes?: SyscallSeries[];
  /** Per-process series folded into 'other' so far. */
  processFoldedTotal?: number;
  /** Demoted per-process series that left before their retention (SeriesBudget.endedEarlyTotal). */
  processEndedEarlyTotal?: number;
}

export interface ShaperOptions {
  /** Aggregate series that keep their own labels; the rest are folded. */
  maxSeries: number;
  /** The per-process view on (it is off with --no-pid-labels). */
  pidLabels: boolean;
  /** Per-process series that keep their own labels (default: maxSeries). */
  maxProcessSeries?: number;
  /** How long an exited process's final counts stay in the per-process view, ms (default 0: one poll). */
  exitedRetentionMs?: number;
  /** How long an aggregate no process is in keeps its final value before it leaves, ms (default: for ever). */
  groupRetentionMs?: number;
  /** How long a new aggregate series stays at 0 before it shows its count, ms (default 0: no hold). */
  holdMs?: number;
  /**
   * The least time a demoted series' final value is shown before the budget may drop it early (there are more
   * retired series than the budget), ms: a scrape interval and a poll (default 0).
   */
  visibleMs?: number;
  attribute?: Attributor;
  /** Names of the counts by index (the syscall names; ['cpu'] for CPU samples). */
  kinds?: readonly string[];
}

interface Payload {
  pid: number | undefined;
  comm: string;
  /** The kind of count: the syscall name, or 'cpu' for CPU samples. */
  syscall: string;
  attribution: Attribution;
  /** The series last published for it, kept so an unchanged series is the same object poll after poll. */
  series?: SyscallSeries;
  /** The shape() that last published `series` (one object is never two series of one poll). */
  publishedAt?: number;
}

/** Same labels: attribution objects are made afresh on every lookup, so they are compared by their fields. */
function sameAttribution(a: Attribution, b: Attribution): boolean {
  return (
    a.containerId === b.containerId &&
    a.podUid === b.podUid &&
    a.podName === b.podName &&
    a.podNamespace === b.podNamespace
  );
}

/**
 * An (executable, container, pod) group: its aggregates' names by lane, made once for all its processes (they
 * share the object), with the aggregates found for them.
 */
interface Group {
  prefix: string;
  /** The executable name its processes have (the first part of the prefix). */
  comm: string;
  /** Aggregate names by lane: executable, container, pod and kind. */
  names: string[];
  /** The aggregates of those names, as last looked up (a deleted one is marked `gone`). */
  aggregates: (Aggregate | undefined)[];
  /** Process slots in the group. */
  refs: number;
}

interface Aggregate {
  payload: Payload;
  /** Calls of processes that have left this aggregate (ended, or renamed by an exec). */
  carried: number;
  live: number;
  startMs: number;
  /** Its value at the last poll, and when that value last changed. */
  last: number;
  changedMs: number;
  /** The shape() that last saw a live process contribute to it. */
  occupiedAt: number;
  /** Deleted (its group retention is over): a cached reference to it is stale. */
  gone: boolean;
}

const NO_PID = -1;

/**
 * The per-process view's processes: `order` names each, a slot of `table` (≥ 0) or, as ~i, slot i of `extra` (the
 * exited processes kept for their retention, as objects of their own).
 */
interface PerProcessInput {
  table: ProcessTable;
  order: ArrayLike<number>;
  extra: ProcessTable | undefined;
}

export class SyscallSeriesShaper {
  readonly #options: ShaperOptions;
  readonly #attribute: Attributor;
  readonly #kinds: readonly string[];
  readonly #lanes: number;
  readonly #budget: SeriesBudget<Payload>;
  readonly #aggregates = new Map<string, Aggregate>();
  readonly #groups = new Map<string, Group>();
  /**
   * By slot × lane: the shape() that last carried the lane of an exited process into its aggregate (or found it had
   * nothing to carry). The collector reports an exit again when the poll that carried it was not published (its
   * commit never ran): reported in the very next shape(), it must not be counted twice. A stamp, not a key per
   * lane: 100,000 processes ending at once made 400,000 strings.
   */
  #finishedAt = new Uint32Array(0);

  /** The per-process view's budget: series id = process slot × lanes + lane, its folded group the lane. */
  readonly #processBudget: IndexedBudget<Payload>;
  /** Exited processes kept in the per-process view: their final counts, until when. */
  readonly #retained = new Map<string, { proc: ProcessSyscalls; untilMs: number }>();
  /** Retained processes whose pid a live process has now: their series leave at this poll, unpublished. */
  #superseded: ProcessSyscalls[] = [];
  /** When each folded series (per syscall) first appeared: it is a series of its own, held from then. */
  readonly #foldedStart = new Map<string, number>();
  readonly #processFoldedStart = new Map<string, number>();
  #shapes = 0;

  // What the shaper keeps of each process between polls, in columns by slot (a process costs no object of its
  // own): who it is, its group, and per lane what it contributes to its aggregate.
  readonly #slotOfPid = new IntMap();
  /** Slots of processes whose pid a newer process has now (an exited one kept for its retention): `pid/start`. */
  readonly #displaced = new Map<string, number>();
  readonly #freeSlots: number[] = [];
  #slotCapacity = 0;
  #slotHighWater = 0;
  #pid = new Int32Array(0);
  #startMs = new Float64Array(0);
  /** The shape() that last saw the process, looked up its attribution, and read its counts for the aggregate. */
  #seenAt = new Uint32Array(0);
  #attributedAt = new Uint32Array(0);
  #contributedAt = new Uint32Array(0);
  #attribution: Attribution[] = [];
  #group: (Group | undefined)[] = [];
  /** By slot × lane: the process contributes to its group's aggregate, from which count, and its count then. */
  #contributing = new Uint8Array(0);
  #base = new Float64Array(0);
  #last = new Float64Array(0);
  /** By slot × lane: the per-process view's own series, kept while its labels and start stay the same. */
  readonly #ownSeries = new Map<number, SyscallSeries>();

  constructor(options: ShaperOptions) {
    this.#options = options;
    this.#attribute = options.attribute ?? noAttribution;
    this.#kinds = options.kinds ?? SYSCALL_NAMES;
    this.#lanes = this.#kinds.length;
    // Demoted series stay at their final value as long as exited processes do, so every scraper sees them; an
    // aggregate one as long as an empty group does (the aggregate is for increase(), which over-counts a series
    // that ends inside its window: see groupRetentionMs).
    const retention = options.exitedRetentionMs ?? 0;
    // The aggregate's demoted series wait out their whole retention (they are read with increase(): see
    // SeriesBudget); the per-process view's are bounded by its budget.
    this.#budget = new SeriesBudget<Payload>(options.maxSeries, Math.max(retention, options.groupRetentionMs ?? 0));
    const maxProcessSeries = options.maxProcessSeries ?? options.maxSeries;
    this.#processBudget = new IndexedBudget<Payload>(
      maxProcessSeries,
      retention,
      { maxRetired: maxProcessSeries, visibleMs: options.visibleMs ?? 0 },
      (id) => this.#payloadOf(id),
      (id) => this.#startMs[Math.floor(id / this.#lanes)]!,
    );
  }

  /** The labels a per-process series has now (kept by its retired series when the budget demotes it). */
  #payloadOf(id: number): Payload {
    const slot = Math.floor(id / this.#lanes);
    return {
      pid: this.#pid[slot]!,
      comm: this.#commOf(slot),
      syscall: this.#kinds[id % this.#lanes]!,
      attribution: this.#attribution[slot]!,
    };
  }

  #growSlots(): void {
    const capacity = Math.max(1024, this.#slotCapacity * 2);
    const lanes = this.#lanes;
    // The pid column is all NO_PID; the others grow without writing their zero pages (src/collector/columns.ts).
    const grow = grown;
    const pid = new Int32Array(capacity).fill(NO_PID);
    pid.set(this.#pid);
    this.#pid = pid;
    this.#startMs = grow(this.#startMs, new Float64Array(capacity));
    this.#seenAt = grow(this.#seenAt, new Uint32Array(capacity));
    this.#attributedAt = grow(this.#attributedAt, new Uint32Array(capacity));
    this.#contributedAt = grow(this.#contributedAt, new Uint32Array(capacity));
    this.#contributing = grow(this.#contributing, new Uint8Array(capacity * lanes));
    this.#base = grow(this.#base, new Float64Array(capacity * lanes));
    this.#last = grow(this.#last, new Float64Array(capacity * lanes));
    this.#finishedAt = grow(this.#finishedAt, new Uint32Array(capacity * lanes));
    this.#slotCapacity = capacity;
  }

  /** The slot of the process in slot `r` of table `t` (by pid and start): the one it had, or a new one. */
  #slotOf(t: ProcessTable, r: number): number {
    const pid = t.pid[r]!;
    const startMs = t.startMs[r]!;
    const slot = this.#slotOfPid.get(pid);
    if (slot !== undefined && this.#startMs[slot] === startMs) return slot;
    if (this.#displaced.size > 0) {
      const key = `${pid}/${startMs}`;
      const displaced = this.#displaced.get(key);
      if (displaced !== undefined) {
        // The process that took its pid is gone: the pid is its own again.
        if (slot === undefined) {
          this.#displaced.delete(key);
          this.#slotOfPid.set(pid, displaced);
        }
        return displaced;
      }
    }
    // The pid is another process's now: the one that had it keeps its slot (while it is still reported).
    if (slot !== undefined) this.#displaced.set(`${pid}/${this.#startMs[slot]}`, slot);
    if (this.#freeSlots.length === 0 && this.#slotHighWater === this.#slotCapacity) this.#growSlots();
    const fresh = this.#freeSlots.pop() ?? this.#slotHighWater++;
    this.#slotOfPid.set(pid, fresh);
    this.#pid[fresh] = pid;
    this.#startMs[fresh] = startMs;
    clear(this.#seenAt, fresh, fresh + 1);
    clear(this.#attributedAt, fresh, fresh + 1);
    clear(this.#contributedAt, fresh, fresh + 1);
    this.#attribution[fresh] = {};
    this.#group[fresh] = undefined;
    clear(this.#finishedAt, fresh * this.#lanes, (fresh + 1) * this.#lanes);
    return fresh;
  }

  /** The process's slot, its attribution looked up once per poll and its group made again when either changed. */
  #knownOf(t: ProcessTable, r: number): number {
    const poll = this.#shapes;
    const slot = this.#slotOf(t, r);
    this.#seenAt[slot] = poll;
    const comm = t.comm[r]!;
    // Looked up once per poll for both views (the lookup is synchronous: both would get the same answer), and
    // again for a record of the process under another name.
    if (this.#attributedAt[slot] !== poll || this.#commOf(slot) !== comm) {
      const attribution = this.#attribute(t.cgroupId[r]!, t.pid[r]!);
      this.#attributedAt[slot] = poll;
      const group = this.#group[slot];
      if (group === undefined || group.comm !== comm || !sameAttribution(this.#attribution[slot]!, attribution)) {
        this.#attribution[slot] = attribution;
        const prefix = `${comm}\u0000${attribution.containerId ?? ''}\u0000${attribution.podUid ?? ''}\u0000`;
        if (group?.prefix !== prefix) this.#join(slot, prefix, comm);
      }
    }
    return slot;
  }

  /**
   * The process is in another group now (it exec'd, or its attribution changed): what it counted so far stays with
   * the aggregates of the old one, and it contributes to the new one from its current counts on.
   */
  #join(slot: number, prefix: string, comm: string): void {
    const old = this.#group[slot];
    if (old !== undefined) {
      const lanes = this.#lanes;
      for (let lane = 0; lane < lanes; lane++) {
        const i = slot * lanes + lane;
        if (this.#contributing[i] === 0) continue;
        this.#carry(old.names[lane]!, this.#last[i]! - this.#base[i]!);
        this.#base[i] = this.#last[i]!;
      }
      this.#leave(old);
    }
    let group = this.#groups.get(prefix);
    if (group === undefined) {
      group = { prefix, comm, names: this.#kinds.map((kind) => prefix + kind), aggregates: [], refs: 0 };
      this.#groups.set(prefix, group);
    }
    group.refs++;
    this.#group[slot] = group;
  }

  /** The executable name of the process in the slot: its group's ('' before it has one). */
  #commOf(slot: number): string {
    return this.#group[slot]?.comm ?? '';
  }

  #leave(group: Group): void {
    if (--group.refs === 0) this.#groups.delete(group.prefix);
  }

  /** The slots of processes no view has any more are free again. */
  #sweep(poll: number): void {
    const lanes = this.#lanes;
    for (let slot = 0; slot < this.#slotHighWater; slot++) {
      const pid = this.#pid[slot]!;
      if (pid === NO_PID || this.#seenAt[slot] === poll) continue;
      // A retired series of it still published: the slot stays, so if the process is reported again (its series
      // are new then) its promotion replaces the retired one rather than publishing the same labels twice.
      let retired = false;
      for (let lane = 0; lane < lanes && !retired; lane++) retired = !this.#processBudget.unused(slot * lanes + lane);
      if (retired) continue;
      if (this.#slotOfPid.get(pid) === slot) this.#slotOfPid.delete(pid);
      else this.#displaced.delete(`${pid}/${this.#startMs[slot]}`);
      const group = this.#group[slot];
      if (group !== undefined) this.#leave(group);
      this.#group[slot] = undefined;
      this.#attribution[slot] = {};
      for (let lane = 0; lane < lanes; lane++) {
        const id = slot * lanes + lane;
        this.#processBudget.forget(id);
        this.#ownSeries.delete(id);
        this.#contributing[id] = 0;
      }
      this.#pid[slot] = NO_PID;
      this.#freeSlots.push(slot);
    }
    // A pid's map entry may point at a slot of a process that is gone while its displaced one lives on.
    for (const [key, slot] of this.#displaced) if (this.#pid[slot] === NO_PID) this.#displaced.delete(key);
  }

  /** `processes`: a collection's table (or, in tests, its processes as objects). */
  shape(input: ProcessTable | readonly ProcessSyscalls[], nowMs: number): ShapedSyscalls {
    const processes = asProcessTable(input);
    const poll = ++this.#shapes;
    const hold = this.#options.holdMs ?? 0;
    const aggregate = this.#budget.apply(this.#perExecutable(processes, nowMs), nowMs);
    // Held: a series younger than the hold shows 0 (its count is kept and shown once the hold is over).
    const held = (value: number, startMs: number): number => (nowMs - startMs < hold ? 0 : value);
    const series: SyscallSeries[] = [];
    for (const o of aggregate.own) this.#add(series, o, held);
    for (const r of aggregate.retired) this.#add(series, r, held);
    this.#addFolded(series, aggregate.folded, undefined, this.#foldedStart, nowMs, held);
    const shaped: ShapedSyscalls = { series, foldedTotal: this.#budget.foldedTotal };
    if (this.#options.pidLabels) {
      shaped.processes = this.#perProcess(this.#withRetained(processes, nowMs), nowMs);
      shaped.processFoldedTotal = this.#processBudget.foldedTotal;
      shaped.processEndedEarlyTotal = this.#processBudget.endedEarlyTotal;
    }
    this.#sweep(poll);
    return shaped;
  }

  /** A published series of a payload: the one of the last poll when its labels and start are the same. */
  #add(
    series: SyscallSeries[],
    { payload, value, startMs }: { payload: Payload; value: number; startMs: number },
    shown: (value: number, startMs: number) => number,
  ): void {
    const poll = this.#shapes;
    let s = payload.series;
    if (
      s === undefined ||
      payload.publishedAt === poll ||
      s.startMs !== startMs ||
      s.attribution !== payload.attribution ||
      s.comm !== payload.comm
    ) {
      s = {
        pid: payload.pid,
        comm: payload.comm,
        syscall: payload.syscall,
        value: 0,
        startMs,
        attribution: payload.attribution,
      };
      payload.series = s;
    }
    s.value = shown(value, startMs);
    payload.publishedAt = poll;
    series.push(s);
  }

  #addFolded(
    series: SyscallSeries[],
    folded: readonly { group: string; value: number }[],
    otherPid: typeof OTHER | undefined,
    foldedStart: Map<string, number>,
    nowMs: number,
    shown: (value: number, startMs: number) => number,
  ): void {
    // A folded series that is not published any more (nothing in it) is new when it comes back.
    if (foldedStart.size > 0) {
      const present = new Set(folded.map((f) => f.group));
      for (const group of foldedStart.keys()) if (!present.has(group)) foldedStart.delete(group);
    }
    for (const f of folded) {
      let startMs = foldedStart.get(f.group);
      if (startMs === undefined) foldedStart.set(f.group, (startMs = nowMs));
      series.push({
        pid: otherPid,
        comm: OTHER,
        syscall: f.group,
        value: shown(f.value, startMs),
        startMs,
        attribution: {},
      });
    }
  }

  /**
   * The per-process view's inputs: live processes, and exited ones at their final counts until their retention
   * is over (then once more as ended, so the budget lets them go). A process the collector reports as exited
   * again (its poll was not published) is the same retained one.
   */
  #withRetained(t: ProcessTable, nowMs: number): PerProcessInput {
    const retention = this.#options.exitedRetentionMs ?? 0;
    const rows = t.rows;
    let anyExited = false;
    for (let k = 0; k < rows.length && !anyExited; k++) anyExited = t.exited[rows[k]!] === 1;
    if (this.#retained.size === 0 && !anyExited) return { table: t, order: rows, extra: undefined };
    // The live processes' rows of the table, and the exited ones' as objects of their own (`extras`, at order
    // ~index): a few, kept across polls while their retention lasts.
    const order: number[] = [];
    const extras: ProcessSyscalls[] = [];
    const push = (proc: ProcessSyscalls): void => {
      order.push(~extras.length);
      extras.push(proc);
    };
    // A live process that reuses a retained one's pid ends the retention now, and a newer process (live, or ended
    // already) with the same labels ends it unpublished: two series must not share labels. Made only when a
    // retained process is looked at (none is, in a poll without exits).
    // Indexed by pid for the pids that can be asked about only (the retained processes', this poll's exited
    // ones'): a few, where an index of every process would be 25,000 entries a poll at 25,000 processes.
    let newest: Map<number, number> | undefined;
    let live: Set<number> | undefined;
    const index = (): void => {
      const asked = new Set<number>();
      for (const entry of this.#retained.values()) asked.add(entry.proc.pid);
      for (let k = 0; k < rows.length; k++) if (t.exited[rows[k]!] === 1) asked.add(t.pid[rows[k]!]!);
      newest = new Map();
      live = new Set();
      for (let k = 0; k < rows.length; k++) {
        const r = rows[k]!;
        const pid = t.pid[r]!;
        if (!asked.has(pid)) continue;
        newest.set(pid, Math.max(newest.get(pid) ?? -Infinity, t.startMs[r]!));
        if (t.exited[r] === 0) live.add(pid);
      }
    };
    const reused = (proc: ProcessSyscalls): boolean => {
      if (newest === undefined) index();
      return (newest!.get(proc.pid) ?? -Infinity) > proc.startMs;
    };
    const isLive = (pid: number): boolean => {
      if (live === undefined) index();
      return live!.has(pid);
    };
    const emit = (key: string, entry: { proc: ProcessSyscalls; untilMs: number }): void => {
      if (reused(entry.proc) && this.#sameLabels(entry.proc)) {
        // The newer process has its labels (pid, executable, container): it leaves unpublished, and the newer
        // one's series go on from its values (#perProcess), so to Prometheus the series of those labels never
        // goes down and counts only the newer one's calls.
        this.#superseded.push(entry.proc);
        this.#retained.delete(key);
      } else if (nowMs >= entry.untilMs || isLive(entry.proc.pid)) {
        push({ ...entry.proc, exited: true });
        this.#retained.delete(key);
      } else {
        push(entry.proc);
      }
    };
    const reported = new Set<string>();
    for (let k = 0; k < rows.length; k++) {
      const r = rows[k]!;
      if (t.exited[r] === 0) {
        order.push(r);
        continue;
      }
      const key = `${t.pid[r]}/${t.startMs[r]}`;
      reported.add(key);
      let entry = this.#retained.get(key);
      if (entry === undefined) {
        entry = { proc: { ...processAt(t, k), exited: false }, untilMs: nowMs + retention };
        this.#retained.set(key, entry);
      }
      emit(key, entry);
    }
    for (const [key, entry] of this.#retained) if (!reported.has(key)) emit(key, entry);
    return { table: t, order, extra: processTable(extras) };
  }

  /** A retained process has the labels of the newer process that has its pid now (both looked up this poll). */
  #sameLabels(retained: ProcessSyscalls): boolean {
    const live = this.#slotOfPid.get(retained.pid);
    const old = this.#displaced.get(`${retained.pid}/${retained.startMs}`);
    if (live === undefined || old === undefined || live === old) return false;
    return this.#commOf(live) === retained.comm && sameAttribution(this.#attribution[live]!, this.#attribution[old]!);
  }

  /** The per-process view: each process's lanes with a count through the budget, in columns by slot. */
  #perProcess({ table, order, extra }: PerProcessInput, nowMs: number): SyscallSeries[] {
    const budget = this.#processBudget;
    const lanes = this.#lanes;
    budget.begin();
    // A retained process whose labels a newer process has now: the newer one's series go on from its values.
    if (this.#superseded.length > 0) {
      const superseded = processTable(this.#superseded);
      for (let r = 0; r < superseded.rows.length; r++) {
        const slot = this.#slotOf(superseded, r);
        const heir = this.#slotOfPid.get(superseded.pid[r]!)!;
        for (let lane = 0; lane < lanes; lane++) budget.inherit(heir * lanes + lane, slot * lanes + lane);
      }
      this.#superseded = [];
    }
    for (let k = 0; k < order.length; k++) {
      const ref = order[k]!;
      const t = ref >= 0 ? table : extra!;
      const r = ref >= 0 ? ref : ~ref;
      const slot = this.#knownOf(t, r);
      const exited = t.exited[r] === 1;
      const at = r * t.stride + t.first;
      const n = Math.min(lanes, t.lanes);
      for (let lane = 0; lane < n; lane++) {
        const value = t.counts[at + lane]!;
        if (value !== 0) budget.input(slot * lanes + lane, lane, value, exited);
      }
    }
    // A process that vanished unannounced, whose pid a newer one has: its retired series, if the two share labels,
    // leave now, and the newer one's go on from their values.
    if (this.#displaced.size > 0) {
      const poll = this.#shapes;
      for (const slot of this.#displaced.values()) {
        const live = this.#slotOfPid.get(this.#pid[slot]!);
        if (this.#seenAt[slot] === poll || live === undefined || this.#seenAt[live] !== poll) continue;
        if (
          this.#commOf(live) !== this.#commOf(slot) ||
          !sameAttribution(this.#attribution[live]!, this.#attribution[slot]!)
        )
          continue;
        for (let lane = 0; lane < lanes; lane++) budget.inherit(live * lanes + lane, slot * lanes + lane);
      }
    }
    const series: SyscallSeries[] = [];
    const retired: SyscallSeries[] = [];
    const folded: { group: string; value: number }[] = [];
    budget.finish(
      nowMs,
      (id) => {
        const slot = Math.floor(id / lanes);
        const startMs = budget.ownStartMs(id);
        let s = this.#ownSeries.get(id);
        if (
          s === undefined ||
          s.startMs !== startMs ||
          s.attribution !== this.#attribution[slot] ||
          s.comm !== this.#commOf(slot)
        ) {
          s = {
            pid: this.#pid[slot]!,
            comm: this.#commOf(slot),
            syscall: this.#kinds[id % lanes]!,
            value: 0,
            startMs,
            attribution: this.#attribution[slot]!,
          };
          this.#ownSeries.set(id, s);
        }
        s.value = budget.ownValue(id);
        series.push(s);
      },
      (lane, value) => folded.push({ group: this.#kinds[lane]!, value }),
      (payload, value, startMs) => this.#add(retired, { payload, value, startMs }, (v) => v),
    );
    // A demoted series' object goes with its membership (its retired series is the budget's): otherwise the objects,
    // with their label text and encoded attributes, of every series that was ever a member would stay.
    if (this.#ownSeries.size > series.length) {
      this.#ownSeries.forEach((_, id) => {
        if (!budget.own(id)) this.#ownSeries.delete(id);
      });
    }
    for (const r of retired) series.push(r);
    this.#addFolded(series, folded, OTHER, this.#processFoldedStart, nowMs, (v) => v);
    return series;
  }

  /**
   * One series per (executable, container, syscall): the calls of live processes plus those of processes that
   * have ended or exec'd into another name, so each aggregate only grows.
   */
  #perExecutable(t: ProcessTable, nowMs: number): BudgetInput<Payload>[] {
    const hold = this.#options.holdMs ?? 0;
    for (const aggregate of this.#aggregates.values()) aggregate.live = 0;
    const poll = this.#shapes;
    const lanes = this.#lanes;
    /** Names a live process is in without calls under them yet: their aggregates, if another makes one, are occupied. */
    const waiting: string[] = [];
    const rows = t.rows;
    const n = Math.min(lanes, t.lanes);
    for (let k = 0; k < rows.length; k++) {
      const r = rows[k]!;
      const slot = this.#knownOf(t, r);
      this.#contributedAt[slot] = poll;
      const group = this.#group[slot]!;
      const attribution = this.#attribution[slot]!;
      const startMs = t.startMs[r]!;
      const exited = t.exited[r] === 1;
      const at = r * t.stride + t.first;
      for (let lane = 0; lane < n; lane++) {
        const value = t.counts[at + lane]!;
        if (value === 0) continue;
        const i = slot * lanes + lane;
        // (Stamps start at 1: 0 is never carried.)
        if (exited && this.#finishedAt[i]! !== 0 && this.#finishedAt[i]! >= poll - 1) {
          this.#finishedAt[i] = poll;
          continue;
        }
        if (this.#contributing[i] === 0) {
          this.#contributing[i] = 1;
          if (this.#base[i] !== 0) this.#base[i] = 0;
        }
        this.#last[i] = value;
        const base = this.#base[i]!;
        let aggregate = group.aggregates[lane];
        if (aggregate === undefined || aggregate.gone) {
          aggregate = this.#aggregates.get(group.names[lane]!);
          group.aggregates[lane] = aggregate;
        }
        // No series for a name that has no calls yet (a process that exec'd and has not made this call since).
        if (aggregate === undefined && value === base) {
          if (exited) {
            this.#contributing[i] = 0;
            this.#finishedAt[i] = poll;
          } else {
            waiting.push(group.names[lane]!);
          }
          continue;
        }
        if (aggregate === undefined) {
          aggregate = {
            payload: { pid: undefined, comm: t.comm[r]!, syscall: this.#kinds[lane]!, attribution },
            carried: 0,
            live: 0,
            // Held, it starts at the 0 it shows now; not held, its count began with this process's.
            startMs: hold > 0 ? nowMs : Math.min(startMs, nowMs),
            last: 0,
            changedMs: nowMs,
            occupiedAt: 0,
            gone: false,
          };
          this.#aggregates.set(group.names[lane]!, aggregate);
          group.aggregates[lane] = aggregate;
        }
        // Pod names arrive when the kubelet answers: the newest attribution of a live process wins (the object
        // is kept while its fields stay the same, so the series keeps its labels' objects).
        if (!sameAttribution(aggregate.payload.attribution, attribution)) aggregate.payload.attribution = attribution;
        if (exited) {
          aggregate.carried += value - base;
          this.#contributing[i] = 0;
          this.#finishedAt[i] = poll;
        } else {
          aggregate.live += value - base;
          aggregate.occupiedAt = poll;
        }
      }
    }
    for (const name of waiting) {
      const aggregate = this.#aggregates.get(name);
      if (aggregate !== undefined) aggregate.occupiedAt = poll;
    }
    // Processes that vanished without an exit record keep their last count in their aggregate.
    for (let slot = 0; slot < this.#slotHighWater; slot++) {
      if (this.#pid[slot] === NO_PID || this.#contributedAt[slot] === poll) continue;
      const group = this.#group[slot];
      for (let lane = 0; lane < lanes; lane++) {
        const i = slot * lanes + lane;
        if (this.#contributing[i] === 0) continue;
        this.#contributing[i] = 0;
        if (group !== undefined) this.#carry(group.names[lane]!, this.#last[i]! - this.#base[i]!);
      }
    }
    // A group no process is in any more (its container, or every process of the executable, is gone) leaves once
    // its final value has stood for the retention, so memory follows container and executable churn. If the
    // group comes back, it is a new series from 0 (held again): increase() counts it from there.
    const retention = this.#options.groupRetentionMs ?? Infinity;
    const out: BudgetInput<Payload>[] = [];
    for (const [key, aggregate] of this.#aggregates) {
      const value = aggregate.carried + aggregate.live;
      if (value !== aggregate.last) {
        aggregate.last = value;
        aggregate.changedMs = nowMs;
      }
      // Its final value is in /metrics from the later of its last change and the end of its hold: from then on
      // it stands for the retention, so a scraper at --scrape-interval sees it even for a job that lived one poll.
      const shownMs = Math.max(aggregate.changedMs, aggregate.startMs + hold);
      const ended = aggregate.occupiedAt !== poll && nowMs - shownMs >= retention;
      if (ended) {
        this.#aggregates.delete(key);
        aggregate.gone = true;
      }
      out.push({
        key,
        group: aggregate.payload.syscall,
        value,
        ended,
        startMs: aggregate.startMs,
        payload: aggregate.payload,
      });
    }
    return out;
  }

  /** What a process counted under a name it leaves stays there (its aggregate has it: nothing, when it has none). */
  #carry(name: string, calls: number): void {
    // No calls under that name: its aggregate may never have been made (an exec'd process that has not made the
    // call since).
    if (calls === 0) return;
    const aggregate = this.#aggregates.get(name);
    if (aggregate === undefined) throw new Error(`no aggregate ${name}`);
    aggregate.carried += calls;
  }
}

export interface ExecSeries {
  comm: string;
  parentComm: string;
  value: number;
  startMs: number;
}

export interface ShapedExecs {
  series: ExecSeries[];
  foldedTotal: number;
  endedEarlyTotal: number;
}

/** The budget for ebpf_process_execs_total: (executable, parent) pairs beyond it fold into other/other. */
export class ExecSeriesShaper {
  readonly #budget: SeriesBudget<{ comm: string; parentComm: string }>;
  #foldedStart: number | undefined;

  /**
   * `retentionMs`: how long a demoted pair's series stays at its final value; `visibleMs`: the least time it does
   * when more demoted pairs wait than the budget (SeriesBudget).
   */
  constructor(maxSeries: number, retentionMs = 0, visibleMs = 0) {
    this.#budget = new SeriesBudget(maxSeries, retentionMs, { maxRetired: maxSeries, visibleMs });
  }

  shape(execs: readonly ExecCount[], nowMs: number): ShapedExecs {
    const { own, folded, retired } = this.#budget.apply(
      execs.map((e) => ({
        key: `${e.executable}\u0000${e.parentExecutable}`,
        group: '',
        value: e.count,
        ended: false,
        payload: { comm: e.executable, parentComm: e.parentExecutable },
      })),
      nowMs,
    );
    const series: ExecSeries[] = [...own, ...retired].map(({ payload, value, startMs }) => ({
      ...payload,
      value,
      startMs,
    }));
    if (folded.length > 0) this.#foldedStart ??= nowMs;
    for (const f of folded) {
      series.push({ comm: OTHER, parentComm: OTHER, value: f.value, startMs: this.#foldedStart ?? nowMs });
    }
    return { series, foldedTotal: this.#budget.foldedTotal, endedEarlyTotal: this.#budget.endedEarlyTotal };
  }
}

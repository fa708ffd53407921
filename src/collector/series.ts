// From per-process counts to the series the agent publishes, in two views of one truth:
// - the aggregate (ebpf_syscalls_total, ebpf_cpu_samples_total): one series per executable, container and kind,
//   holding every process that ever ran in it, exited ones included, so it only grows — the view for rate(),
//   increase() and sum(). A new aggregate series is published at 0 for a hold (--scrape-interval plus one poll)
//   before it shows its count, so every scraper at that interval sees the 0 first and increase() loses nothing.
// - the per-process view (ebpf_process_*), for "who is it now": live processes within its own budget, and each
//   exited process's final counts for --exited-retention, then the series leaves.
// Who each process is (container, pod) comes from the attributor. The exporter only names what this produces.
import { SeriesBudget, type BudgetInput, type BudgetResult } from './budget.ts';
import type { ExecCount } from './exec.ts';
import { SYSCALL_NAMES, type ProcessSyscalls } from './syscalls.ts';

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
 * What the shaper keeps of a process between polls, so a process whose name and attribution did not change costs
 * no new strings or objects: its series keys, aggregate names, per-process budget inputs and their payloads.
 */
interface Known {
  startMs: number;
  comm: string;
  /** The attribution these were made for (the same object while its fields stay the same). */
  attribution: Attribution;
  /** The shape() that last looked it up, and the attribution it found then. */
  attributedAt: number;
  seenAt: number;
  /** `pid/startMs/kind` by lane. */
  ids: string[];
  /** Aggregate names by lane (executable, container, pod, kind). */
  names: string[];
  /** Per-process budget inputs by lane (their values and `ended` set on every poll). */
  inputs: BudgetInput<Payload>[];
}

interface Contribution {
  aggregate: string;
  /** Count of the process when it started to contribute to `aggregate`. */
  base: number;
  last: number;
  /** The shape() that last saw it. */
  seenAt: number;
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
}

export class SyscallSeriesShaper {
  readonly #options: ShaperOptions;
  readonly #attribute: Attributor;
  readonly #kinds: readonly string[];
  readonly #budget: SeriesBudget<Payload>;
  readonly #contributions = new Map<string, Contribution>();
  readonly #aggregates = new Map<string, Aggregate>();
  /**
   * Exits already carried into their aggregate. The collector reports an exit again when the poll that carried
   * it was not published (its commit never ran): it must not be counted twice. Forgotten once not reported.
   */
  #finished = new Set<string>();

  constructor(options: ShaperOptions) {
    this.#options = options;
    this.#attribute = options.attribute ?? noAttribution;
    this.#kinds = options.kinds ?? SYSCALL_NAMES;
    // Demoted series stay at their final value as long as exited processes do, so every scraper sees them; an
    // aggregate one as long as an empty group does (the aggregate is for increase(), which over-counts a series
    // that ends inside its window: see groupRetentionMs).
    const retention = options.exitedRetentionMs ?? 0;
    // The aggregate's demoted series wait out their whole retention (they are read with increase(): see
    // SeriesBudget); the per-process view's are bounded by its budget.
    this.#budget = new SeriesBudget<Payload>(options.maxSeries, Math.max(retention, options.groupRetentionMs ?? 0));
    const maxProcessSeries = options.maxProcessSeries ?? options.maxSeries;
    this.#processBudget = new SeriesBudget<Payload>(maxProcessSeries, retention, {
      maxRetired: maxProcessSeries,
      visibleMs: options.visibleMs ?? 0,
    });
  }

  readonly #processBudget: SeriesBudget<Payload>;
  /** Exited processes kept in the per-process view: their final counts, until when. */
  readonly #retained = new Map<string, { proc: ProcessSyscalls; untilMs: number }>();
  /** When each folded series (per syscall) first appeared: it is a series of its own, held from then. */
  readonly #foldedStart = new Map<string, number>();
  readonly #processFoldedStart = new Map<string, number>();
  readonly #known = new Map<number, Known>();
  #shapes = 0;

  /** The process's cached strings and inputs, made again when its name or attribution changed. */
  #knownOf(proc: ProcessSyscalls): Known {
    const poll = this.#shapes;
    let known = this.#known.get(proc.pid);
    if (known === undefined || known.startMs !== proc.startMs) {
      const ids = this.#kinds.map((kind) => `${proc.pid}/${proc.startMs}/${kind}`);
      known = {
        startMs: proc.startMs,
        comm: '',
        attribution: {},
        attributedAt: 0,
        seenAt: poll,
        ids,
        names: [],
        inputs: [],
      };
      this.#known.set(proc.pid, known);
    }
    known.seenAt = poll;
    // Looked up once per poll for both views (the lookup is synchronous: both would get the same answer), and
    // again for a record of the process under another name.
    if (known.attributedAt !== poll || known.comm !== proc.comm) {
      const attribution = this.#attribute(proc.cgroupId, proc.pid);
      known.attributedAt = poll;
      if (known.names.length === 0 || known.comm !== proc.comm || !sameAttribution(known.attribution, attribution)) {
        known.comm = proc.comm;
        known.attribution = attribution;
        const prefix = `${proc.comm}\u0000${attribution.containerId ?? ''}\u0000${attribution.podUid ?? ''}\u0000`;
        known.names = this.#kinds.map((kind) => prefix + kind);
        const ids = known.ids;
        known.inputs = this.#kinds.map((syscall, s) => ({
          // The start time tells a reused pid from the process that had it before.
          key: ids[s]!,
          group: syscall,
          value: 0,
          ended: false,
          startMs: proc.startMs,
          payload: { pid: proc.pid, comm: proc.comm, syscall, attribution },
        }));
      }
    }
    return known;
  }

  shape(processes: readonly ProcessSyscalls[], nowMs: number): ShapedSyscalls {
    const poll = ++this.#shapes;
    const hold = this.#options.holdMs ?? 0;
    const aggregate = this.#budget.apply(this.#perExecutable(processes, nowMs), nowMs);
    // Held: a series younger than the hold shows 0 (its count is kept and shown once the hold is over).
    const held = (value: number, startMs: number): number => (nowMs - startMs < hold ? 0 : value);
    const series = this.#series(aggregate, undefined, this.#foldedStart, nowMs, held);
    const shaped: ShapedSyscalls = { series, foldedTotal: this.#budget.foldedTotal };
    if (this.#options.pidLabels) {
      const perProcess = this.#processBudget.apply(this.#perProcess(this.#withRetained(processes, nowMs)), nowMs);
      shaped.processes = this.#series(perProcess, OTHER, this.#processFoldedStart, nowMs, (v) => v);
      shaped.processFoldedTotal = this.#processBudget.foldedTotal;
      shaped.processEndedEarlyTotal = this.#processBudget.endedEarlyTotal;
    }
    for (const [pid, known] of this.#known) if (known.seenAt !== poll) this.#known.delete(pid);
    return shaped;
  }

  #series(
    { own, folded, retired }: BudgetResult<Payload>,
    otherPid: typeof OTHER | undefined,
    foldedStart: Map<string, number>,
    nowMs: number,
    value: (value: number, startMs: number) => number,
  ): SyscallSeries[] {
    const series: SyscallSeries[] = [];
    const poll = this.#shapes;
    const add = ({ payload, value: v, startMs }: { payload: Payload; value: number; startMs: number }): void => {
      // The series of the last poll when its labels and start are the same: only its value is written.
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
      s.value = value(v, startMs);
      payload.publishedAt = poll;
      series.push(s);
    };
    for (const o of own) add(o);
    for (const r of retired) add(r);
    // A folded series that is not published any more (nothing in it) is new when it comes back.
    const present = new Set(folded.map((f) => f.group));
    for (const group of foldedStart.keys()) if (!present.has(group)) foldedStart.delete(group);
    for (const f of folded) {
      let startMs = foldedStart.get(f.group);
      if (startMs === undefined) foldedStart.set(f.group, (startMs = nowMs));
      series.push({
        pid: otherPid,
        comm: OTHER,
        syscall: f.group,
        value: value(f.value, startMs),
        startMs,
        attribution: {},
      });
    }
    return series;
  }

  /**
   * The per-process view's inputs: live processes, and exited ones at their final counts until their retention
   * is over (then once more as ended, so the budget lets them go). A process the collector reports as exited
   * again (its poll was not published) is the same retained one.
   */
  #withRetained(processes: readonly ProcessSyscalls[], nowMs: number): ProcessSyscalls[] {
    const retention = this.#options.exitedRetentionMs ?? 0;
    const out: ProcessSyscalls[] = [];
    // A live process that reuses a retained one's pid ends the retention now: two series must not share labels.
    // Made only when a retained process is looked at (none is, in a poll without exits).
    let live: Set<number> | undefined;
    const isLive = (pid: number): boolean =>
      (live ??= new Set(processes.filter((p) => !p.exited).map((p) => p.pid))).has(pid);
    const emit = (key: string, entry: { proc: ProcessSyscalls; untilMs: number }): void => {
      if (nowMs >= entry.untilMs || isLive(entry.proc.pid)) {
        out.push({ ...entry.proc, exited: true });
        this.#retained.delete(key);
      } else {
        out.push(entry.proc);
      }
    };
    const reported = new Set<string>();
    for (const proc of processes) {
      if (!proc.exited) {
        out.push(proc);
        continue;
      }
      const key = `${proc.pid}/${proc.startMs}`;
      reported.add(key);
      let entry = this.#retained.get(key);
      if (entry === undefined) {
        entry = { proc: { ...proc, exited: false }, untilMs: nowMs + retention };
        this.#retained.set(key, entry);
      }
      emit(key, entry);
    }
    for (const [key, entry] of this.#retained) if (!reported.has(key)) emit(key, entry);
    return out;
  }

  #perProcess(processes: readonly ProcessSyscalls[]): BudgetInput<Payload>[] {
    const inputs: BudgetInput<Payload>[] = [];
    for (const proc of processes) {
      const known = this.#knownOf(proc);
      for (let s = 0; s < this.#kinds.length; s++) {
        const value = proc.counts[s]!;
        if (value === 0) continue;
        const input = known.inputs[s]!;
        input.value = value;
        input.ended = proc.exited;
        inputs.push(input);
      }
    }
    return inputs;
  }

  /**
   * One series per (executable, container, syscall): the calls of live processes plus those of processes that
   * have ended or exec'd into another name, so each aggregate only grows.
   */
  #perExecutable(processes: readonly ProcessSyscalls[], nowMs: number) {
    const hold = this.#options.holdMs ?? 0;
    for (const aggregate of this.#aggregates.values()) aggregate.live = 0;
    const poll = this.#shapes;
    const finished = new Set<string>();
    for (const proc of processes) {
      const known = this.#knownOf(proc);
      const attribution = known.attribution;
      for (let s = 0; s < this.#kinds.length; s++) {
        const value = proc.counts[s]!;
        if (value === 0) continue;
        const syscall = this.#kinds[s]!;
        const id = known.ids[s]!;
        if (proc.exited && this.#finished.has(id)) {
          finished.add(id);
          continue;
        }
        const name = known.names[s]!;
        let contribution = this.#contributions.get(id);
        if (contribution !== undefined && contribution.aggregate !== name) {
          // The process exec'd: what it counted so far stays with its old name.
          this.#carry(contribution);
          contribution = { aggregate: name, base: contribution.last, last: contribution.last, seenAt: poll };
          this.#contributions.set(id, contribution);
        }
        if (contribution === undefined) {
          contribution = { aggregate: name, base: 0, last: 0, seenAt: poll };
          this.#contributions.set(id, contribution);
        }
        contribution.seenAt = poll;
        contribution.last = value;
        let aggregate = this.#aggregates.get(name);
        // No series for a name that has no calls yet (a process that exec'd and has not made this call since).
        if (aggregate === undefined && value === contribution.base) {
          if (proc.exited) {
            this.#contributions.delete(id);
            finished.add(id);
          }
          continue;
        }
        if (aggregate === undefined) {
          aggregate = {
            payload: { pid: undefined, comm: proc.comm, syscall, attribution },
            carried: 0,
            live: 0,
            // Held, it starts at the 0 it shows now; not held, its count began with this process's.
            startMs: hold > 0 ? nowMs : Math.min(proc.startMs, nowMs),
            last: 0,
            changedMs: nowMs,
          };
          this.#aggregates.set(name, aggregate);
        }
        // Pod names arrive when the kubelet answers: the newest attribution of a live process wins (the object
        // is kept while its fields stay the same, so the series keeps its labels' objects).
        if (!sameAttribution(aggregate.payload.attribution, attribution)) aggregate.payload.attribution = attribution;
        aggregate.live += value - contribution.base;
        if (proc.exited) {
          aggregate.carried += value - contribution.base;
          aggregate.live -= value - contribution.base;
          this.#contributions.delete(id);
          finished.add(id);
        }
      }
    }
    this.#finished = finished;
    // Processes that vanished without an exit record keep their last count in their aggregate.
    const occupied = new Set<string>();
    for (const [id, contribution] of this.#contributions) {
      if (contribution.seenAt === poll) {
        occupied.add(contribution.aggregate);
        continue;
      }
      this.#carry(contribution);
      this.#contributions.delete(id);
    }
    // A group no process is in any more (its container, or every process of the executable, is gone) leaves once
    // its final value has stood for the retention, so memory follows container and executable churn. If the
    // group comes back, it is a new series from 0 (held again): increase() counts it from there.
    const retention = this.#options.groupRetentionMs ?? Infinity;
    const out = [];
    for (const [key, aggregate] of this.#aggregates) {
      const value = aggregate.carried + aggregate.live;
      if (value !== aggregate.last) {
        aggregate.last = value;
        aggregate.changedMs = nowMs;
      }
      // Its final value is in /metrics from the later of its last change and the end of its hold: from then on
      // it stands for the retention, so a scraper at --scrape-interval sees it even for a job that lived one poll.
      const shownMs = Math.max(aggregate.changedMs, aggregate.startMs + hold);
      const ended = !occupied.has(key) && nowMs - shownMs >= retention;
      if (ended) this.#aggregates.delete(key);
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
  #carry(contribution: Contribution): void {
    const calls = contribution.last - contribution.base;
    // No calls under that name: its aggregate may never have been made (an exec'd process that has not made the
    // call since).
    if (calls !== 0) this.#aggregate(contribution.aggregate).carried += calls;
  }

  #aggregate(name: string): Aggregate {
    const aggregate = this.#aggregates.get(name);
    if (aggregate === undefined) throw new Error(`no aggregate ${name}`);
    return aggregate;
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

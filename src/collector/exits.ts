// exits: how processes end (bpf/exits.bpf.c). The kernel counts every process end in a hash keyed by cgroup id,
// executable and way of ending (exit status 0 or not, the killing signal, a core dump, an OOM kill), so the counts
// are exact however many exits come between two polls; nothing goes through a ring buffer that could overflow.
//
// Each poll reads the whole map and adds each key's increase since the last poll to the series of its labels:
// executable, way of ending, and the container/pod of its cgroup as attribution knows it now. The map stays bounded
// without losing an exit: keys carry a generation (0 or 1) the user side flips at each poll, and a key of the
// generation before the current one is final (no exit has counted into it since the flip, a poll interval ago):
// its last increase is added, then it is deleted (release()). A delete of a key still counted into could lose the
// exits counted between the read and the delete; no key is deleted before it is final. The cgroup of an exit may be removed right
// after it (a short job in its own container): its path came on the cgroup ring when it was made (learnCgroup).
//
// Series follow the aggregate views' contract (src/collector/series.ts): a new series is published at 0 for the hold
// (--scrape-interval plus one poll) before it shows its count, so increase() counts a new executable's or
// container's first exits; a series that has not grown for the group retention leaves (it comes back from 0, held
// again); beyond --max-series, series fold into executable "other" with the same way-of-ending labels.
import { RingBuffer, buildObject, clocks, type BpfObject, type Link, type MapSnapshot } from '../bpf/index.ts';
import { EXIT_EVENT, EXIT_KEY, EXIT_REASON, EXITS_MAP_SIZES, PROCESS_DROP } from '../bpf/layouts.ts';

import { SeriesBudget, type BudgetInput } from './budget.ts';
import { cString, u64 } from './decode.ts';
import { decodeCgroupCreated, type CgroupCreated } from './process.ts';
import { noAttribution, OTHER, type Attribution, type Attributor } from './series.ts';
import type { Collector, Drops, MapFill } from './types.ts';

export const EXITS_COUNTS_MAP = 'exits_counts';
const EXITS_CGROUPS_RING = 'exits_cgroups';
const EXITS_EVENTS_RING = 'exits_events';
const EXITS_DROPS_MAP = 'exits_drops';
const EXITS_GENERATION_MAP = 'exits_generation';
export const EXITS_PROGRAMS = ['eoa_exits_exit', 'eoa_exits_cgroup_mkdir'] as const;

export type ExitReason = (typeof EXIT_REASON.names)[number];

/** One key of exits_counts. */
export interface ExitKey {
  cgroupId: bigint;
  /** As process tracking names a process (OpenTelemetry's process.executable.name). */
  executable: string;
  reason: ExitReason;
  /** Exited: its status was not 0. */
  codeNonzero: boolean;
  /** Signaled: the signal's name (SIGKILL; SIGRTMIN+n for real-time signals). */
  signal?: string;
  /** Signaled: a core dump was written. */
  coreDumped: boolean;
  /** The OOM killer chose it. */
  oomKilled: boolean;
  /** 0 or 1: the generation it was counted under (struct exit_key). */
  generation: number;
}

export interface ExitCount {
  /** Identity of the kernel key. */
  id: string;
  key: ExitKey;
  /** Exits counted under it since the key was made. */
  count: number;
  /** No exit counts into it any more: this is its last read, release() deletes it. */
  final?: boolean;
}

const SIGNAL_NAMES = [
  '',
  'SIGHUP',
  'SIGINT',
  'SIGQUIT',
  'SIGILL',
  'SIGTRAP',
  'SIGABRT',
  'SIGBUS',
  'SIGFPE',
  'SIGKILL',
  'SIGUSR1',
  'SIGSEGV',
  'SIGUSR2',
  'SIGPIPE',
  'SIGALRM',
  'SIGTERM',
  'SIGSTKFLT',
  'SIGCHLD',
  'SIGCONT',
  'SIGSTOP',
  'SIGTSTP',
  'SIGTTIN',
  'SIGTTOU',
  'SIGURG',
  'SIGXCPU',
  'SIGXFSZ',
  'SIGVTALRM',
  'SIGPROF',
  'SIGWINCH',
  'SIGIO',
  'SIGPWR',
  'SIGSYS',
] as const;
/** The kernel's first real-time signal (glibc's SIGRTMIN is 34: it keeps two for itself). */
const KERNEL_SIGRTMIN = 32;

/** The name of a Linux (x86-64, arm64) signal number: SIGKILL, SIGRTMIN+2, or SIG<n> for one out of range. */
export function signalName(signal: number): string {
  if (signal > 0 && signal < SIGNAL_NAMES.length) return SIGNAL_NAMES[signal]!;
  if (signal >= KERNEL_SIGRTMIN && signal <= 64) return `SIGRTMIN+${signal - KERNEL_SIGRTMIN}`;
  return `SIG${signal}`;
}

/** exits_counts (struct exit_key → u64) → counts by key. */
export function decodeExitCounts(snapshot: MapSnapshot): ExitCount[] {
  const { fields } = EXIT_KEY;
  const out: ExitCount[] = [];
  for (let i = 0; i < snapshot.count; i++) {
    const base = i * snapshot.keySize;
    const view = new DataView(snapshot.keys.buffer, snapshot.keys.byteOffset + base, snapshot.keySize);
    const cgroupId = view.getBigUint64(fields.cgroup_id.offset, true);
    const executable = cString(view, fields.executable.offset, fields.executable.size);
    const reason = EXIT_REASON.names[view.getUint8(fields.reason.offset)] ?? 'exited';
    const signalNumber = view.getUint8(fields.signal.offset);
    const codeNonzero = view.getUint8(fields.code_nonzero.offset) !== 0;
    const coreDumped = view.getUint8(fields.core_dumped.offset) !== 0;
    const oomKilled = view.getUint8(fields.oom_killed.offset) !== 0;
    const generation = view.getUint8(fields.generation.offset);
    const key: ExitKey = { cgroupId, executable, reason, codeNonzero, coreDumped, oomKilled, generation };
    if (reason === 'signaled') key.signal = signalName(signalNumber);
    out.push({
      id: [cgroupId, executable, reason, signalNumber, +codeNonzero, +coreDumped, +oomKilled, generation].join(
        '\u0000',
      ),
      key,
      count: u64(snapshot.values, i * snapshot.valueSize),
    });
  }
  return out;
}

/** One process end (struct exit_event), for the OTLP logs. */
export interface ExitEvent {
  /** Wall-clock time of the exit, ms and ns since the epoch. */
  timeMs: number;
  timeNs: bigint;
  /** Wall-clock time the process started (its thread group leader), ns since the epoch. */
  startTimeNs: bigint;
  cgroupId: bigint;
  pid: number;
  ppid: number;
  uid: number;
  executable: string;
  reason: ExitReason;
  /** Exited: its status. */
  code?: number;
  /** Signaled: the signal's name. */
  signal?: string;
  coreDumped: boolean;
  oomKilled: boolean;
}

/** `bootToRealNs`: CLOCK_REALTIME - CLOCK_BOOTTIME, to turn boot times into wall time. */
export function decodeExitEvent(view: DataView, bootToRealNs: bigint): ExitEvent {
  const f = EXIT_EVENT.fields;
  if (view.byteLength < EXIT_EVENT.size) throw new Error(`exit_event of ${view.byteLength} bytes`);
  const timeNs = view.getBigUint64(f.boot_ns.offset, true) + bootToRealNs;
  const status = view.getInt32(f.wait_status.offset, true);
  const event: ExitEvent = {
    timeMs: Number(timeNs / 1_000_000n),
    timeNs,
    startTimeNs: view.getBigUint64(f.start_boot_ns.offset, true) + bootToRealNs,
    cgroupId: view.getBigUint64(f.cgroup_id.offset, true),
    pid: view.getUint32(f.tgid.offset, true),
    ppid: view.getUint32(f.ppid.offset, true),
    uid: view.getUint32(f.uid.offset, true),
    executable: cString(view, f.executable.offset, f.executable.size),
    reason: (status & 0x7f) === 0 ? 'exited' : 'signaled',
    coreDumped: (status & 0x7f) !== 0 && (status & 0x80) !== 0,
    oomKilled: view.getUint8(f.oom_killed.offset) !== 0,
  };
  if (event.reason === 'exited') event.code = (status >> 8) & 0xff;
  else event.signal = signalName(status & 0x7f);
  return event;
}

/** Labels of an ebpf.process.exits series. */
export interface ExitLabels {
  executable: string;
  reason: ExitReason;
  /** Exited: '0' or 'nonzero'. */
  codeClass?: '0' | 'nonzero';
  /** Signaled: the signal's name and whether a core dump was written. */
  signal?: string;
  coreDumped?: boolean;
  attribution: Attribution;
}

/** Labels of an ebpf.oom.kills series. */
export interface OomLabels {
  executable: string;
  attribution: Attribution;
}

export interface CounterSeries<L> {
  labels: L;
  value: number;
  startMs: number;
}

export interface ShapedCounters<L> {
  series: CounterSeries<L>[];
  /** Series folded into executable "other" so far. */
  foldedTotal: number;
}

export interface ExitsSnapshot {
  exits: ShapedCounters<ExitLabels>;
  oomKills: ShapedCounters<OomLabels>;
}

export interface AggregateCounterOptions {
  maxSeries: number;
  /** A new series shows 0 this long before its count (ms). */
  holdMs: number;
  /** A series that has not grown for this long after its count was shown leaves (ms). */
  groupRetentionMs: number;
  /** How long a series the budget demoted is still shown at its final value (ms). */
  exitedRetentionMs: number;
}

interface Aggregate<L> {
  labels: L;
  value: number;
  startMs: number;
  changedMs: number;
  /** Its budget input, reused poll after poll. */
  input: BudgetInput<L>;
}

/**
 * Cumulative counters by label set, published as the aggregate views publish theirs (held when new, retired after
 * the group retention, folded beyond the budget into the series `fold(labels)` names, by `group(labels)`).
 */
export class AggregateCounters<L> {
  readonly #options: AggregateCounterOptions;
  readonly #group: (labels: L) => string;
  readonly #fold: (labels: L) => L;
  readonly #budget: SeriesBudget<L>;
  readonly #aggregates = new Map<string, Aggregate<L>>();
  /** When each folded series first appeared, and its labels. */
  readonly #folded = new Map<string, { startMs: number; labels: L }>();
  readonly #foldLabels = new Map<string, L>();

  constructor(options: AggregateCounterOptions, group: (labels: L) => string, fold: (labels: L) => L) {
    this.#options = options;
    this.#group = group;
    this.#fold = fold;
    this.#budget = new SeriesBudget<L>(
      options.maxSeries,
      Math.max(options.exitedRetentionMs, options.groupRetentionMs),
    );
  }

  /** Adds `increase` to the series `id` (its labels `labels`) at `nowMs`. */
  add(id: string, labels: L, increase: number, nowMs: number): void {
    if (increase <= 0) return;
    let aggregate = this.#aggregates.get(id);
    if (aggregate === undefined) {
      const group = this.#group(labels);
      if (!this.#foldLabels.has(group)) this.#foldLabels.set(group, this.#fold(labels));
      aggregate = {
        labels,
        value: 0,
        // Held: it starts at the 0 it shows now.
        startMs: nowMs,
        changedMs: nowMs,
        input: { key: id, group, value: 0, ended: false, startMs: nowMs, payload: labels },
      };
      this.#aggregates.set(id, aggregate);
    }
    aggregate.labels = labels;
    aggregate.input.payload = labels;
    aggregate.value += increase;
    aggregate.changedMs = nowMs;
  }

  shape(nowMs: number): ShapedCounters<L> {
    const { holdMs, groupRetentionMs } = this.#options;
    const inputs: BudgetInput<L>[] = [];
    for (const [id, aggregate] of this.#aggregates) {
      // Its final value is in /metrics from the later of its last change and the end of its hold; it stands for the
      // retention from then on, so a scraper at --scrape-interval sees it even for a one-off exit.
      const shownMs = Math.max(aggregate.changedMs, aggregate.startMs + holdMs);
      const ended = nowMs - shownMs >= groupRetentionMs;
      if (ended) this.#aggregates.delete(id);
      aggregate.input.value = aggregate.value;
      aggregate.input.ended = ended;
      inputs.push(aggregate.input);
    }
    const { own, folded, retired } = this.#budget.apply(inputs, nowMs);
    const held = (value: number, startMs: number): number => (nowMs - startMs < holdMs ? 0 : value);
    const series: CounterSeries<L>[] = [];
    for (const s of [...own, ...retired]) {
      series.push({ labels: s.payload, value: held(s.value, s.startMs), startMs: s.startMs });
    }
    const present = new Set(folded.map((f) => f.group));
    for (const group of this.#folded.keys()) if (!present.has(group)) this.#folded.delete(group);
    for (const f of folded) {
      let entry = this.#folded.get(f.group);
      if (entry === undefined) {
        entry = { startMs: nowMs, labels: this.#foldLabels.get(f.group)! };
        this.#folded.set(f.group, entry);
      }
      series.push({ labels: entry.labels, value: held(f.value, entry.startMs), startMs: entry.startMs });
    }
    return { series, foldedTotal: this.#budget.foldedTotal };
  }
}

function attributionId(a: Attribution): string {
  return `${a.containerId ?? ''}\u0000${a.podUid ?? ''}\u0000${a.podName ?? ''}\u0000${a.podNamespace ?? ''}`;
}

/** Where an ExitsCollector's data comes from: the kernel, or a fake in unit tests. */
export interface ExitSource {
  /** Every key's count; the keys of the generation before the current one marked final. */
  readCounts(): ExitCount[];
  /** Deletes the final keys of the last readCounts() and flips the generation (sources that bound their map). */
  release?(): void;
  /** The drops array by slot (enum process_drop). */
  readDrops(): number[];
  drainCgroups(): CgroupCreated[];
  /** Exit events since the last call (sources that keep them). */
  drainEvents?(): ExitEvent[];
  /** Capacity and entries of exits_counts at the last read. */
  capacity(): number;
  attached(): boolean;
  close(): void;
}

export interface ExitsCollectorOptions extends AggregateCounterOptions {
  attribute?: Attributor;
  /** Every exit event, with its container and pod, released at each collection once its cgroup is known. */
  onExit?: (event: ExitEvent, attribution: Attribution) => void;
  onCgroup?: (id: bigint, path: string) => void;
}

export class ExitsCollector implements Collector<ExitsSnapshot> {
  readonly program = 'exits' as const;
  readonly #source: ExitSource;
  readonly #attribute: Attributor;
  readonly #onCgroup: ((id: bigint, path: string) => void) | undefined;
  readonly #onExit: ((event: ExitEvent, attribution: Attribution) => void) | undefined;
  /** Each kernel key's count at the last poll. */
  readonly #last = new Map<string, number>();
  readonly #exits: AggregateCounters<ExitLabels>;
  readonly #oom: AggregateCounters<OomLabels>;
  #drops: number[] = [];
  #entries = 0;

  constructor(source: ExitSource, options: ExitsCollectorOptions) {
    this.#source = source;
    this.#attribute = options.attribute ?? noAttribution;
    this.#onCgroup = options.onCgroup;
    this.#onExit = options.onExit;
    this.#exits = new AggregateCounters<ExitLabels>(
      options,
      (l) => [l.reason, l.codeClass ?? '', l.signal ?? '', l.coreDumped ?? ''].join('\u0000'),
      (l) => ({ ...l, executable: OTHER, attribution: {} }),
    );
    this.#oom = new AggregateCounters<OomLabels>(
      options,
      () => '',
      () => ({ executable: OTHER, attribution: {} }),
    );
  }

  attached(): boolean {
    return this.#source.attached();
  }

  collect(nowMs: number): ExitsSnapshot {
    // Cgroups first: an exit in a cgroup made and removed since the last poll resolves through them.
    const cgroups = this.#source.drainCgroups();
    if (this.#onCgroup !== undefined) for (const { id, path } of cgroups) this.#onCgroup(id, path);
    if (this.#onExit !== undefined) {
      for (const event of this.#source.drainEvents?.() ?? []) {
        this.#onExit(event, this.#attribute(event.cgroupId, event.pid));
      }
    }
    const counts = this.#source.readCounts();
    this.#drops = this.#source.readDrops();
    this.#entries = counts.length;
    for (const { id, key, count, final } of counts) {
      const increase = count - (this.#last.get(id) ?? 0);
      // A final key is deleted below: forget it (its next key of the same identity starts from 0).
      if (final === true) this.#last.delete(id);
      if (increase <= 0) continue;
      if (final !== true) this.#last.set(id, count);
      // pid 0: the process is gone, only its cgroup id tells where it ran.
      const attribution = this.#attribute(key.cgroupId, 0);
      const where = attributionId(attribution);
      const labels: ExitLabels = { executable: key.executable, reason: key.reason, attribution };
      if (key.reason === 'exited') labels.codeClass = key.codeNonzero ? 'nonzero' : '0';
      else {
        labels.signal = key.signal!;
        labels.coreDumped = key.coreDumped;
      }
      const exitId = [key.executable, key.reason, labels.codeClass, labels.signal, labels.coreDumped, where].join(
        '\u0000',
      );
      this.#exits.add(exitId, labels, increase, nowMs);
      if (key.oomKilled) {
        this.#oom.add(`${key.executable}\u0000${where}`, { executable: key.executable, attribution }, increase, nowMs);
      }
    }
    // Every final key's count is in the aggregates now.
    this.#source.release?.();
    return { exits: this.#exits.shape(nowMs), oomKills: this.#oom.shape(nowMs) };
  }

  drops(): Drops {
    return {
      program: this.program,
      eventsLost:
        (this.#drops[PROCESS_DROP.values.PROCESS_DROP_CGROUP_LOST] ?? 0) +
        (this.#drops[PROCESS_DROP.values.PROCESS_DROP_EXIT_LOST] ?? 0),
      mapFull: { [EXITS_COUNTS_MAP]: this.#drops[PROCESS_DROP.values.PROCESS_DROP_COUNTS_FULL] ?? 0 },
    };
  }

  mapFill(): MapFill[] {
    return [
      { program: this.program, map: EXITS_COUNTS_MAP, entries: this.#entries, capacity: this.#source.capacity() },
    ];
  }

  close(): void {
    this.#source.close();
  }
}

export interface KernelExitSourceOptions {
  objectPath: string;
  /** Keep every exit as an event too (exit_events on), for drainEvents(). */
  events?: boolean;
  btfPath?: string;
  debug?: boolean;
}

/** The real source: loads bpf/exits.bpf.o and attaches its programs. Nothing stays attached or open on failure. */
export class KernelExitSource implements ExitSource {
  readonly #object: BpfObject;
  readonly #links: Link[];
  readonly #ring: RingBuffer;
  readonly #events: RingBuffer | undefined;
  #pending: CgroupCreated[] = [];
  #pendingEvents: ExitEvent[] = [];
  /** The generation exits are counted under now (exits_generation; 0 at load). */
  #generation = 0;
  /** The final keys of the last readCounts(), packed, for release(). */
  #finalKeys: Uint8Array = new Uint8Array(0);

  constructor(options: KernelExitSourceOptions) {
    const { object, built } = buildObject(
      options.objectPath,
      { btfPath: options.btfPath, debug: options.debug },
      (object, own) => {
        for (const map of [EXITS_COUNTS_MAP, EXITS_GENERATION_MAP] as const) {
          const sizes = EXITS_MAP_SIZES[map];
          object.expectMap(map, sizes.keySize, sizes.valueSize);
        }
        if (options.events === true) object.setGlobalU32('exit_events', 1);
        object.load();
        const { boottimeNs, realtimeNs } = clocks();
        const offset = realtimeNs - boottimeNs;
        const events =
          options.events !== true
            ? undefined
            : own(
                new RingBuffer(object, EXITS_EVENTS_RING, (records) => {
                  for (const record of records) this.#pendingEvents.push(decodeExitEvent(record, offset));
                }),
              );
        const ring = own(
          new RingBuffer(object, EXITS_CGROUPS_RING, (records) => {
            for (const record of records) {
              const created = decodeCgroupCreated(record);
              if (created !== undefined) this.#pending.push(created);
            }
          }),
        );
        const links = EXITS_PROGRAMS.map((program) => own(object.attach(program)));
        return { ring, events, links };
      },
    );
    this.#object = object;
    this.#ring = built.ring;
    this.#events = built.events;
    this.#links = built.links;
  }

  get object(): BpfObject {
    return this.#object;
  }

  readCounts(): ExitCount[] {
    const snapshot = this.#object.readMap(EXITS_COUNTS_MAP);
    const counts = decodeExitCounts(snapshot);
    const final: number[] = [];
    counts.forEach((c, i) => {
      if (c.key.generation !== this.#generation) {
        c.final = true;
        final.push(i);
      }
    });
    const { keySize } = snapshot;
    const keys = new Uint8Array(snapshot.keys.buffer, snapshot.keys.byteOffset, snapshot.count * keySize);
    this.#finalKeys = new Uint8Array(final.length * keySize);
    final.forEach((i, j) => this.#finalKeys.set(keys.subarray(i * keySize, (i + 1) * keySize), j * keySize));
    return counts;
  }

  /**
   * Deletes the final keys read last (the old generation's, whose counts the collector has now) and flips the
   * generation: from here new exits make keys of the one just emptied, and the current one's keys are final at the
   * next read, a poll interval from now.
   */
  release(): void {
    this.#object.deleteKeys(EXITS_COUNTS_MAP, this.#finalKeys);
    this.#finalKeys = new Uint8Array(0);
    this.#generation ^= 1;
    const value = new Uint8Array(4);
    new DataView(value.buffer).setUint32(0, this.#generation, true);
    this.#object.updateElems(EXITS_GENERATION_MAP, new Uint8Array(4), value);
  }

  readDrops(): number[] {
    return this.#object.readCounters(EXITS_DROPS_MAP).map(Number);
  }

  drainEvents(): ExitEvent[] {
    this.#events?.consume();
    const events = this.#pendingEvents;
    this.#pendingEvents = [];
    return events;
  }

  drainCgroups(): CgroupCreated[] {
    this.#ring.consume();
    const events = this.#pending;
    this.#pending = [];
    return events;
  }

  capacity(): number {
    return this.#object.map(EXITS_COUNTS_MAP).maxEntries;
  }

  attached(): boolean {
    return this.#links.length === EXITS_PROGRAMS.length && this.#links.every((link) => link.attached);
  }

  close(): void {
    for (const link of this.#links) link.destroy();
    this.#ring.close();
    this.#events?.close();
    this.#object.close();
  }
}

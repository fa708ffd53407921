// tcp: retransmitted segments, resets sent and received, connect attempts and failures and the connect latency
// (SYN_SENT → ESTABLISHED) per process (bpf/tcp.bpf.c). The kernel keeps them by tgid with the process tracking
// the syscalls program uses (bpf/process.bpf.h), so ProcessCollector reads them and the series come out of the
// same aggregate view (executable × container/pod, every process that ever ran in it, held at 0 for a hold when
// new). The latency buckets are lanes of the same counts; they are put together into one histogram per
// executable, container and pod here.
import { TCP_COUNTS, TCP_DROP, TCP_EVENT, TCP_MAP_SIZES } from '../bpf/layouts.ts';
import { SyscallSeriesShaper, type Attribution, type ShaperOptions, type SyscallSeries } from './series.ts';
import {
  asProcessTable,
  KernelProcessSource,
  ProcessCollector,
  type KernelProcessSourceOptions,
  type ProcessCounts,
  type ProcessObject,
  type ProcessSnapshot,
  type ProcessTable,
} from './process.ts';
import type { Collector, Drops, MapFill } from './types.ts';

/** The events counted, in the order of struct tcp_counts' first lanes (enum tcp_event, bpf/tcp.h). */
export const TCP_EVENT_NAMES = TCP_EVENT.names;
export type TcpEventName = (typeof TCP_EVENT_NAMES)[number];

const LATENCY_BUCKETS = TCP_COUNTS.fields.latency_buckets.size / 8;
/** Bucket i holds handshakes of at most 2^(i + 3) µs (TCP_LATENCY_MIN_LOG2_US in bpf/tcp.h); the last one the rest. */
const LATENCY_MIN_LOG2_US = 3;
/** The histogram's finite bounds in seconds: 8 µs, 16 µs, … 4.194304 s (exact in binary64). */
export const TCP_LATENCY_BOUNDARIES: readonly number[] = Array.from(
  { length: LATENCY_BUCKETS - 1 },
  (_, i) => 2 ** (i + LATENCY_MIN_LOG2_US) / 1e6,
);

const SUM_KIND = 'latency_sum_ns';
const bucketKind = (i: number): string => `latency_bucket_${i}`;
/** Names of every lane of struct tcp_counts, in order: the events, the latency sum (ns), the buckets. */
export const TCP_LANES: readonly string[] = [
  ...TCP_EVENT_NAMES,
  SUM_KIND,
  ...Array.from({ length: LATENCY_BUCKETS }, (_, i) => bucketKind(i)),
];
if (TCP_LANES.length * 8 !== TCP_COUNTS.size) throw new Error('struct tcp_counts is not lanes of u64');

/** bpf/tcp.bpf.o: its maps and the programs attached. */
export const TCP_OBJECT: ProcessObject = {
  maps: { counts: 'tcp_counts', procs: 'tcp_procs' },
  exits: 'tcp_exits',
  cgroups: 'tcp_cgroups',
  drops: 'tcp_drops',
  infoWrites: 'tcp_info_writes',
  programs: [
    'eoa_tcp_state',
    'eoa_tcp_retransmit',
    'eoa_tcp_send_reset',
    'eoa_tcp_receive_reset',
    'eoa_tcp_exec',
    'eoa_tcp_exit',
    'eoa_tcp_cgroup_mkdir',
  ],
  sizes: TCP_MAP_SIZES,
};
export const TCP_MAPS = TCP_OBJECT.maps;
const SOCKS_MAP = 'tcp_socks' as const;
const LISTENERS_MAP = 'tcp_listeners' as const;
const SOCK_DROPS_MAP = 'tcp_sock_drops';
const SOCK_DROP = TCP_DROP.values;

/** What the socket-owner side of the program reports besides the counts. */
export interface TcpSocketSource {
  /** The tcp_sock_drops array by slot (enum tcp_drop). */
  readSocketDrops(): number[];
  /** Entries and capacity of tcp_socks and tcp_listeners. */
  socketFill(): { socks: number; socksCapacity: number; listeners: number; listenersCapacity: number };
}

/** The real source: loads bpf/tcp.bpf.o and attaches its tracepoints. Nothing stays attached on failure. */
export class KernelTcpSource extends KernelProcessSource implements TcpSocketSource {
  constructor(options: KernelProcessSourceOptions) {
    super(TCP_OBJECT, options);
    for (const map of [SOCKS_MAP, LISTENERS_MAP]) {
      const sizes = TCP_MAP_SIZES[map];
      try {
        this.object.expectMap(map, sizes.keySize, sizes.valueSize);
      } catch (error) {
        this.close();
        throw error;
      }
    }
  }

  readSocketDrops(): number[] {
    return this.object.readCounters(SOCK_DROPS_MAP).map(Number);
  }

  socketFill(): { socks: number; socksCapacity: number; listeners: number; listenersCapacity: number } {
    return {
      socks: this.object.readMap(SOCKS_MAP).count,
      socksCapacity: this.object.map(SOCKS_MAP).maxEntries,
      listeners: this.object.readMap(LISTENERS_MAP).count,
      listenersCapacity: this.object.map(LISTENERS_MAP).maxEntries,
    };
  }
}

/** ProcessCollector over the tcp object, with the socket maps' drops and fill added. */
export class TcpCollector implements Collector<ProcessSnapshot & { unowned: number }> {
  readonly program = 'tcp' as const;
  readonly #processes: ProcessCollector;
  readonly #sockets: TcpSocketSource;
  #drops: number[] = [];
  #fill = { socks: 0, socksCapacity: 0, listeners: 0, listenersCapacity: 0 };

  constructor(processes: ProcessCollector, sockets: TcpSocketSource) {
    this.#processes = processes;
    this.#sockets = sockets;
  }

  attached(): boolean {
    return this.#processes.attached();
  }

  collect(nowMs: number): ProcessSnapshot & { unowned: number } {
    const snapshot = this.#processes.collect(nowMs);
    this.#drops = this.#sockets.readSocketDrops();
    this.#fill = this.#sockets.socketFill();
    return { ...snapshot, unowned: this.#drops[SOCK_DROP.TCP_DROP_UNOWNED] ?? 0 };
  }

  commit(): void {
    this.#processes.commit();
  }

  drops(): Drops {
    const drops = this.#processes.drops();
    return {
      ...drops,
      mapFull: {
        ...drops.mapFull,
        [SOCKS_MAP]: this.#drops[SOCK_DROP.TCP_DROP_SOCKS_FULL] ?? 0,
        [LISTENERS_MAP]: this.#drops[SOCK_DROP.TCP_DROP_LISTENERS_FULL] ?? 0,
      },
    };
  }

  mapFill(): MapFill[] {
    const f = this.#fill;
    return [
      ...this.#processes.mapFill(),
      { program: 'tcp', map: SOCKS_MAP, entries: f.socks, capacity: f.socksCapacity },
      { program: 'tcp', map: LISTENERS_MAP, entries: f.listeners, capacity: f.listenersCapacity },
    ];
  }

  close(): void {
    this.#processes.close();
  }
}

/** One connect-latency histogram: an executable in a container/pod (or the folded "other"). */
export interface TcpLatencySeries {
  comm: string;
  attribution: Attribution;
  /** Not cumulative, TCP_LATENCY_BOUNDARIES.length + 1 buckets (the last: above the last bound). */
  counts: number[];
  /** Seconds. */
  sum: number;
  /** The earliest start of its lanes' series. */
  startMs: number;
}

/** The tcp metrics, each a budget of its own: the five event counters and the connect-latency histogram. */
export type TcpMetric = TcpEventName | 'latency';

export interface ShapedTcp {
  /** The event counts: one series per executable, container/pod and event (SyscallSeries.syscall is the event). */
  series: SyscallSeries[];
  latency: TcpLatencySeries[];
  /** Aggregate series folded into 'other' so far, per metric (for latency: its lanes, the sum and each bucket). */
  folded: Record<TcpMetric, number>;
  /** Events on sockets with no known owner (tcp_sock_drops' unowned slot). */
  unowned: number;
}

/**
 * The tcp lanes shaped as the syscall counts are (SyscallSeriesShaper's aggregate view; no per-process view), one
 * shaper per metric, so each tcp metric has a budget of --max-series series as every other metric has, and its own
 * folded count; then the latency lanes of each (executable, container, pod) put together into a histogram. Each
 * lane's series is held at 0 for the hold when it is new, as every aggregate is: a bucket a group had no handshake
 * in before shows its count one hold later than the group's older buckets, and _sum can lead _count by as much.
 */
export class TcpSeriesShaper {
  readonly #shapers: { metric: TcpMetric; first: number; length: number; shaper: SyscallSeriesShaper }[];

  constructor(options: Omit<ShaperOptions, 'kinds' | 'pidLabels'>) {
    const lanes = (metric: TcpMetric, first: number, length: number) => ({
      metric,
      first,
      length,
      shaper: new SyscallSeriesShaper({
        ...options,
        pidLabels: false,
        kinds: TCP_LANES.slice(first, first + length),
      }),
    });
    this.#shapers = [
      ...TCP_EVENT_NAMES.map((event, i) => lanes(event, i, 1)),
      lanes('latency', TCP_EVENT_NAMES.length, TCP_LANES.length - TCP_EVENT_NAMES.length),
    ];
  }

  /** The processes with only the lanes first … first + length - 1: a window of the table's columns. */
  #viewOf(index: number, processes: ProcessTable): ProcessTable {
    const { first, length } = this.#shapers[index]!;
    return { ...processes, first: processes.first + first, lanes: length };
  }

  /** `processes`: a collection's table (or, in tests, its processes as objects). */
  shape(snapshot: { processes: ProcessTable | readonly ProcessCounts[]; unowned: number }, nowMs: number): ShapedTcp {
    const processes = asProcessTable(snapshot.processes);
    const series: SyscallSeries[] = [];
    const latency = new Map<string, TcpLatencySeries>();
    const folded = {} as Record<TcpMetric, number>;
    this.#shapers.forEach(({ metric, shaper }, index) => {
      const shaped = shaper.shape(this.#viewOf(index, processes), nowMs);
      folded[metric] = shaped.foldedTotal;
      if (metric !== 'latency') {
        series.push(...shaped.series);
        return;
      }
      for (const s of shaped.series) {
        const bucket = s.syscall.startsWith('latency_bucket_') ? Number(s.syscall.slice(15)) : undefined;
        const a = s.attribution;
        const key = [s.comm, a.containerId ?? '', a.podUid ?? ''].join('\u0000');
        let h = latency.get(key);
        if (h === undefined) {
          h = {
            comm: s.comm,
            attribution: a,
            counts: new Array<number>(LATENCY_BUCKETS).fill(0),
            sum: 0,
            startMs: s.startMs,
          };
          latency.set(key, h);
        }
        h.startMs = Math.min(h.startMs, s.startMs);
        if (bucket === undefined) h.sum += s.value / 1e9;
        else h.counts[bucket]! += s.value;
      }
    });
    return { series, latency: [...latency.values()], folded, unowned: snapshot.unowned };
  }
}

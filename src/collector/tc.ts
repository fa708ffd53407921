// tc: packets and bytes per interface and direction, network layer and transport (bpf/tc.bpf.c on tcx ingress and
// egress). Interfaces come from rules (--net-interface: names, globs, `pods`) and are followed at every collection:
// new matches are attached, interfaces that went away are detached and their series kept for the retention.
import { readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.ts';
import { BpfObject, netnsId, networkLinks, type Link, type MapSnapshot, type NetLink } from '../bpf/index.ts';
import {
  NET_LAYER,
  NET_TRANSPORT,
  TC_DIRECTION,
  TC_DROP,
  TC_GEOMETRY,
  TC_MAP_SIZES,
  TC_SLOT,
  TC_VALUE,
} from '../bpf/layouts.ts';
import { u64 } from './decode.ts';
import type { Attribution, Attributor } from './series.ts';
import type { Collector, Drops, MapFill } from './types.ts';
import { NETWORK_TRANSPORTS, NETWORK_TYPES, type NetworkTransport, type NetworkType } from './xdp.ts';
import { silentLogger, type Logger } from '../log.ts';

/** enum tc_direction (bpf/tc.h), as OpenTelemetry's network.io.direction values. */
export const NETWORK_IO_DIRECTIONS = TC_DIRECTION.names;
export type NetworkIoDirection = (typeof NETWORK_IO_DIRECTIONS)[number];

/** One --net-interface item: an exact name, a glob over names, or every host-side veth of a pod. */
export type InterfaceRule =
  { kind: 'name'; name: string } | { kind: 'glob'; pattern: string; regex: RegExp } | { kind: 'pods' };

/** The keyword of --net-interface for pod veths. */
export const PODS = 'pods';

const IFNAMSIZ = 16;

/**
 * Parses --net-interface items: `pods`, a glob (`*`, `?`, `[abc]`, `[a-z]`, `[!a]`) or a name; throws a UserError
 * naming the item otherwise.
 */
export function parseInterfaceRules(items: readonly string[]): InterfaceRule[] {
  return items.map((item) => {
    if (item === PODS) return { kind: 'pods' };
    if (item.length === 0) throw new UserError('--net-interface has an empty item: give a name, a glob or pods');
    if (/[\s/:]/.test(item)) {
      throw new UserError(
        `--net-interface ${JSON.stringify(item)} is not an interface name or glob (no spaces, / or :)`,
      );
    }
    if (!/[*?[\]]/.test(item)) {
      if (item.length >= IFNAMSIZ) {
        throw new UserError(`--net-interface ${JSON.stringify(item)} is longer than an interface name (15 bytes)`);
      }
      return { kind: 'name', name: item };
    }
    return { kind: 'glob', pattern: item, regex: globToRegExp(item) };
  });
}

/** A shell-style glob over a whole interface name; throws a UserError for an unbalanced or empty bracket. */
export function globToRegExp(glob: string): RegExp {
  let out = '^';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') out += '.*';
    else if (c === '?') out += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) {
        throw new UserError(`--net-interface ${JSON.stringify(glob)} is not a valid glob: "[" without "]"`);
      }
      let body = glob.slice(i + 1, end);
      const negate = body.startsWith('!') || body.startsWith('^');
      if (negate) body = body.slice(1);
      if (body.length === 0) throw new UserError(`--net-interface ${JSON.stringify(glob)} is not a valid glob: "[]"`);
      out += `[${negate ? '^' : ''}${body.replace(/[\\\]^]/g, '\\$&')}]`;
      i = end;
    } else if (c === ']') {
      throw new UserError(`--net-interface ${JSON.stringify(glob)} is not a valid glob: "]" without "["`);
    } else out += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`${out}$`);
}

export interface TcCount {
  interfaceName: string;
  direction: NetworkIoDirection;
  networkType: NetworkType;
  transport: NetworkTransport;
  packets: number;
  bytes: number;
  truncatedPackets: number;
  /** The pod of a pod interface (`pods`); empty otherwise. */
  pod: Attribution;
}

export interface TcInterfaceState {
  name: string;
  ifindex: number;
  /** false once the interface is gone (its series stay for the retention). */
  attached: boolean;
  pod: Attribution;
}

export interface TcSnapshot {
  counts: TcCount[];
  interfaces: TcInterfaceState[];
  /** Attempts to attach to a matched interface that failed, since the start (each poll retries). */
  attachFailures: number;
}

interface Attachment {
  ifindex: number;
  name: string;
  links: Link[];
  /** Its counters in tc_counts (bpf/tc.h); undefined while all TC_SLOTS are taken (its packets count as drops). */
  slot: number | undefined;
  /** It was refused a slot once (counted in ebpf_agent_map_updates_dropped_total{map="tc_slots"}). */
  refused: boolean;
  pod: Attribution;
  /** The pod's process whose network namespace the veth's peer is in, re-attributed each poll. */
  podPid: number | undefined;
  /** When it was seen gone (ms); undefined while it is there. */
  goneAtMs: number | undefined;
}

/** Where the pods' network namespaces are found; a seam for tests. */
export interface NetnsSource {
  /** Network namespace ids (as this namespace numbers them, NetLink.peerNetnsId) → a pid in each. */
  pidsByNetnsId(): Map<number, number>;
}

/**
 * Scans /proc for the network namespaces of processes (each namespace once, by its inode) and asks rtnetlink for
 * the id this namespace gives each one. Opening /proc/<pid>/ns/net needs ptrace read access to the process (root
 * with CAP_SYS_PTRACE for processes with capabilities the agent lacks); processes it may not open are skipped.
 */
export class ProcNetnsSource implements NetnsSource {
  readonly #procRoot: string;
  readonly #ids = new Map<string, number>();
  readonly #logger: Logger;
  #warned = false;
  constructor(procRoot = '/proc', logger: Logger = silentLogger) {
    this.#procRoot = procRoot;
    this.#logger = logger;
  }
  pidsByNetnsId(): Map<number, number> {
    const own = readlinkSafe(path.join(this.#procRoot, 'self', 'ns', 'net'));
    const out = new Map<number, number>();
    const seen = new Set<string>();
    for (const entry of readdirSync(this.#procRoot)) {
      if (!/^\d+$/.test(entry)) continue;
      const file = path.join(this.#procRoot, entry, 'ns', 'net');
      const inode = readlinkSafe(file);
      if (inode === undefined || inode === own || seen.has(inode)) continue;
      seen.add(inode);
      let id = this.#ids.get(inode);
      if (id === undefined) {
        try {
          id = netnsId(file);
        } catch (error) {
          if (!this.#warned) {
            this.#warned = true;
            this.#logger.warn('cannot read a network namespace: its pod interfaces are not counted', {
              error: (error as Error).message.split('\n')[0],
            });
          }
          continue;
        }
        this.#ids.set(inode, id);
      }
      if (id >= 0) out.set(id, Number(entry));
    }
    // Namespaces that are gone leave the cache (a new namespace may get an old inode number).
    for (const inode of this.#ids.keys()) if (!seen.has(inode)) this.#ids.delete(inode);
    return out;
  }
}

function readlinkSafe(file: string): string | undefined {
  try {
    return readlinkSync(file);
  } catch {
    return undefined;
  }
}

export interface TcCollectorOptions {
  objectPath: string;
  btfPath?: string;
  debug?: boolean;
  rules: readonly InterfaceRule[];
  /** How long a gone interface's series stay (--exited-retention). */
  retentionMs: number;
  /** Pod of a process (for `pods`): undefined, no pod labels and no pod interfaces (--no-container-labels). */
  attribute?: Attributor;
  netns?: NetnsSource;
  /** Seam for tests: the interfaces of this namespace. */
  links?: () => NetLink[];
  /**
   * A new series (a new interface, or a new direction, type or transport on one) is published at 0 for this long
   * before it shows its count (--scrape-interval + --interval), so a scraper sees it start and increase() counts
   * its first packets; nothing is lost, the count held back appears at the end of the hold.
   */
  holdMs?: number;
  /** How often at most pod veths that are not yet known to be a pod's are looked up again. */
  podRescanMs?: number;
  /** Where on each tcx hook the program goes (--net-order): after the programs there (default), or before them. */
  order?: 'first' | 'last';
  logger?: Logger;
  nowMs: number;
}

export class TcCollector implements Collector<TcSnapshot> {
  readonly program = 'tc' as const;
  readonly #object: BpfObject;
  readonly #rules: readonly InterfaceRule[];
  readonly #retentionMs: number;
  readonly #attribute: Attributor | undefined;
  readonly #netns: NetnsSource;
  readonly #links: () => NetLink[];
  readonly #podRescanMs: number;
  readonly #holdMs: number;
  /** When each series was first seen, by its labels. */
  #firstSeen = new Map<string, number>();
  readonly #logger: Logger;
  /** By ifindex: attached interfaces, and gone ones within the retention. */
  readonly #attachments = new Map<number, Attachment>();
  /** Matched interfaces the last attempt could not attach to (by ifindex), logged once each; and all such attempts. */
  readonly #failing = new Set<number>();
  #attachFailures = 0;
  /** Named interfaces (exact names) that are not there now. */
  #missingNames = new Set<string>();
  /** Candidate pod veths found not to be a pod's, by ifindex, and when they were last looked up. */
  readonly #notPods = new Map<number, number>();
  /** Attachments whose series leave with this poll: their slots are given back in commit(). */
  #expired: Attachment[] = [];
  /** Owner of each slot of tc_counts. */
  readonly #slots: (Attachment | undefined)[] = new Array<Attachment | undefined>(TC_GEOMETRY.values.TC_SLOTS);
  /** What tc_slot_near/tc_slot_far say now: ifindex → slot (entries absent here are 0 or absent there). */
  readonly #slotOf = new Map<number, number>();
  readonly #first: boolean;
  #slotsFullWarned = false;
  /** Interfaces that found every slot taken when they were to be counted (each once). */
  #slotsRefused = 0;
  #drops: number[] = [0];

  /** Loads the program and attaches it to every interface the rules match now, or throws with nothing attached. */
  constructor(options: TcCollectorOptions) {
    this.#rules = options.rules;
    this.#retentionMs = options.retentionMs;
    this.#attribute = options.attribute;
    this.#logger = options.logger ?? silentLogger;
    this.#netns = options.netns ?? new ProcNetnsSource('/proc', this.#logger);
    this.#links = options.links ?? networkLinks;
    this.#podRescanMs = options.podRescanMs ?? 10_000;
    this.#holdMs = options.holdMs ?? 0;
    this.#first = options.order === 'first';
    const object = new BpfObject(options.objectPath, { btfPath: options.btfPath, debug: options.debug });
    this.#object = object;
    try {
      for (const map of ['tc_counts', 'tc_slot_near', 'tc_slot_far'] as const) {
        object.expectMap(map, TC_MAP_SIZES[map].keySize, TC_MAP_SIZES[map].valueSize);
      }
      object.load();
      const links = this.#links();
      for (const rule of this.#rules) {
        if (rule.kind === 'name' && !links.some((l) => l.name === rule.name)) {
          throw new UserError(`network interface ${rule.name} does not exist (see ip link)`);
        }
      }
      this.#follow(options.nowMs, links, true);
    } catch (error) {
      for (const a of this.#attachments.values()) for (const link of a.links) link.destroy();
      object.close();
      throw error;
    }
  }

  /** Every named interface is there and attached (globs and pods match what there is: none is fine). */
  attached(): boolean {
    if (this.#missingNames.size > 0) return false;
    for (const a of this.#attachments.values()) {
      if (a.goneAtMs === undefined && !a.links.every((l) => l.attached)) return false;
    }
    return true;
  }

  #matchesByName(name: string): boolean {
    return this.#rules.some((r) => (r.kind === 'name' && r.name === name) || (r.kind === 'glob' && r.regex.test(name)));
  }

  /** The interfaces to count now, with the pod of each pod veth. */
  #wanted(links: NetLink[], nowMs: number): Map<number, { link: NetLink; podPid: number | undefined }> {
    const wanted = new Map<number, { link: NetLink; podPid: number | undefined }>();
    for (const link of links) if (this.#matchesByName(link.name)) wanted.set(link.ifindex, { link, podPid: undefined });
    if (this.#attribute === undefined || !this.#rules.some((r) => r.kind === 'pods')) return wanted;
    const candidates = links.filter((l) => l.kind === 'veth' && l.peerNetnsId >= 0);
    for (const ifindex of this.#notPods.keys()) {
      if (!candidates.some((l) => l.ifindex === ifindex)) this.#notPods.delete(ifindex);
    }
    const unknown = candidates.filter((l) => {
      const known = this.#attachments.get(l.ifindex);
      if (known !== undefined && known.goneAtMs === undefined && known.podPid !== undefined) return false;
      const checked = this.#notPods.get(l.ifindex);
      return checked === undefined || nowMs - checked >= this.#podRescanMs;
    });
    if (unknown.length === 0) {
      for (const l of candidates) {
        const known = this.#attachments.get(l.ifindex);
        if (known?.podPid !== undefined && known.goneAtMs === undefined) {
          wanted.set(l.ifindex, { link: l, podPid: known.podPid });
        }
      }
      return wanted;
    }
    const pids = this.#netns.pidsByNetnsId();
    for (const l of candidates) {
      const known = this.#attachments.get(l.ifindex);
      if (known?.podPid !== undefined && known.goneAtMs === undefined && pids.get(l.peerNetnsId) === known.podPid) {
        wanted.set(l.ifindex, { link: l, podPid: known.podPid });
        continue;
      }
      const pid = pids.get(l.peerNetnsId);
      const pod = pid === undefined ? undefined : this.#attribute(0n, pid);
      if (pid !== undefined && pod?.podUid !== undefined) {
        wanted.set(l.ifindex, { link: l, podPid: pid });
        this.#notPods.delete(l.ifindex);
      } else if (!wanted.has(l.ifindex)) {
        this.#notPods.set(l.ifindex, nowMs);
      }
    }
    return wanted;
  }

  /** Attaches to new matches, detaches from interfaces that went away, forgets gone ones after the retention. */
  #follow(nowMs: number, links: NetLink[], starting: boolean): void {
    const wanted = this.#wanted(links, nowMs);
    for (const ifindex of this.#failing) if (!wanted.has(ifindex)) this.#failing.delete(ifindex);
    const present = new Map(links.map((l) => [l.ifindex, l]));
    for (const a of this.#attachments.values()) {
      if (a.goneAtMs !== undefined) continue;
      const now = present.get(a.ifindex);
      if (now === undefined || now.name !== a.name || !wanted.has(a.ifindex)) {
        // Gone (or renamed, or no longer matching): detach; its counts stay in the map for the retention.
        for (const link of a.links) link.destroy();
        a.links = [];
        a.goneAtMs = nowMs;
        this.#logger.info('network interface gone: tc detached from it', { interface: a.name });
      }
    }
    for (const [ifindex, { link, podPid }] of wanted) {
      const known = this.#attachments.get(ifindex);
      if (known !== undefined && known.goneAtMs === undefined) {
        if (podPid !== undefined && this.#attribute !== undefined) known.pod = podOf(this.#attribute(0n, podPid));
        continue;
      }
      // An ifindex used again before the old interface's series left: the old counts go now, or they would add
      // to the new interface's.
      if (known !== undefined) this.#expired.push(known);
      // The slot first (its counters zeroed, then the interface pointed at it), then the links: no packet of the
      // interface is counted in another's slot or lost for want of one.
      const attachment: Attachment = {
        ifindex,
        name: link.name,
        links: [],
        slot: undefined,
        refused: false,
        pod: {},
        podPid,
        goneAtMs: undefined,
      };
      this.#giveSlot(attachment);
      try {
        attachment.links.push(this.#object.attachTcx('eoa_tc_ingress', ifindex, 'ingress', this.#first));
        attachment.links.push(this.#object.attachTcx('eoa_tc_egress', ifindex, 'egress', this.#first));
      } catch (error) {
        for (const l of attachment.links) l.destroy();
        this.#takeSlot(attachment);
        // At start a named interface that cannot be counted is the user's to fix; a glob's or a pod's match (which
        // may be going away right now) is not worth refusing the whole agent.
        if (starting && this.#rules.some((r) => r.kind === 'name' && r.name === link.name)) throw error;
        // Counted at every attempt (ebpf_agent_tc_attach_failures_total), logged once per interface until it works.
        this.#attachFailures++;
        if (!this.#failing.has(ifindex)) {
          this.#failing.add(ifindex);
          this.#logger.warn('cannot attach tc to a network interface: not counted; tried again at every poll', {
            interface: link.name,
            error: (error as Error).message.split('\n')[0],
          });
        }
        continue;
      }
      this.#failing.delete(ifindex);
      attachment.pod = podPid !== undefined && this.#attribute !== undefined ? podOf(this.#attribute(0n, podPid)) : {};
      const pod = attachment.pod;
      this.#attachments.set(ifindex, attachment);
      this.#logger.info('tc attached', {
        interface: link.name,
        ...(pod.podName !== undefined ? { pod: `${pod.podNamespace}/${pod.podName}` } : {}),
        ...(pod.podUid !== undefined && pod.podName === undefined ? { pod_uid: pod.podUid } : {}),
      });
    }
    const missing = new Set<string>();
    for (const rule of this.#rules) {
      if (rule.kind !== 'name') continue;
      const live = [...this.#attachments.values()].some((a) => a.name === rule.name && a.goneAtMs === undefined);
      if (!live) missing.add(rule.name);
    }
    for (const name of missing) {
      if (!this.#missingNames.has(name))
        this.#logger.warn('network interface gone: not ready until it is back', { interface: name });
    }
    this.#missingNames = missing;
    // A gone interface's series leave after the retention, unless one of the same name is counting again (its
    // series has the same labels: dropping the old part would look like a counter reset).
    for (const a of this.#attachments.values()) {
      if (a.goneAtMs === undefined || nowMs - a.goneAtMs < this.#retentionMs) continue;
      const sameLabels = [...this.#attachments.values()].some(
        (b) => b !== a && b.goneAtMs === undefined && b.name === a.name && samePod(a.pod, b.pod),
      );
      if (!sameLabels && !this.#expired.includes(a)) this.#expired.push(a);
    }
    // Interfaces attached while every slot was taken get one as slots come free.
    for (const a of this.#attachments.values()) {
      if (a.goneAtMs === undefined && a.slot === undefined) this.#giveSlot(a);
    }
  }

  /** Gives `a` the lowest free slot, its counters zeroed, and points its ifindex at it; warns once if none is free. */
  #giveSlot(a: Attachment): void {
    let slot = 0;
    while (slot < this.#slots.length && this.#slots[slot] !== undefined) slot++;
    if (slot === this.#slots.length) {
      if (!a.refused) {
        a.refused = true;
        this.#slotsRefused++;
      }
      if (!this.#slotsFullWarned) {
        this.#slotsFullWarned = true;
        this.#logger.warn(
          `more than ${this.#slots.length} interfaces to count: those beyond are attached but not counted until ` +
            'others go; each is counted in ebpf_agent_map_updates_dropped_total{program="tc",map="tc_slots"}, ' +
            'its packets in {program="tc",map="tc_counts"}',
          { interface: a.name },
        );
      }
      // Not another's slot either (one whose interface had this ifindex and is leaving).
      this.#pointAt(a.ifindex, undefined);
      return;
    }
    this.#slots[slot] = a;
    a.slot = slot;
    const entries = TC_GEOMETRY.values.TC_SLOT_ENTRIES;
    const keys = new Uint8Array(entries * 4);
    const view = new DataView(keys.buffer);
    for (let i = 0; i < entries; i++) view.setUint32(i * 4, slot * entries + i, true);
    this.#object.updateElems('tc_counts', keys, new Uint8Array(entries * TC_VALUE.size));
    this.#pointAt(a.ifindex, slot);
  }

  /**
   * Points the program at `slot` for packets of `ifindex`, or at none. tc_slot_far (a hash of TC_SLOTS entries) loses
   * the entry instead of keeping a 0: ifindexes only grow as pods come and go, and zeros left behind by gone
   * interfaces would fill it.
   */
  #pointAt(ifindex: number, slot: number | undefined): void {
    if (this.#slotOf.get(ifindex) === slot) return;
    const map = slotMap(ifindex);
    if (slot === undefined && map === 'tc_slot_far') this.#object.deleteKeys(map, u32Bytes(ifindex));
    else this.#object.updateElems(map, u32Bytes(ifindex), slotBytes(slot === undefined ? 0 : slot + 1));
    if (slot === undefined) this.#slotOf.delete(ifindex);
    else this.#slotOf.set(ifindex, slot);
  }

  /** Gives `a`'s slot back; its ifindex stops pointing at it (unless it points at another's slot now). */
  #takeSlot(a: Attachment): void {
    if (a.slot === undefined) return;
    if (this.#slotOf.get(a.ifindex) === a.slot) this.#pointAt(a.ifindex, undefined);
    if (this.#slots[a.slot] === a) this.#slots[a.slot] = undefined;
    a.slot = undefined;
  }

  /** Slots up to the highest one in use. */
  #slotsInUse(): number {
    let n = this.#slots.length;
    while (n > 0 && this.#slots[n - 1] === undefined) n--;
    return n;
  }

  collect(nowMs: number): TcSnapshot {
    this.#follow(nowMs, this.#links(), false);
    const used = this.#slotsInUse();
    this.#drops = this.#object.readCounters('tc_drops').map(Number);
    const expired = new Set(this.#expired);
    const counts =
      used === 0
        ? []
        : decodeTcCounts(this.#object.readMap('tc_counts', used * TC_GEOMETRY.values.TC_SLOT_ENTRIES), (slot) => {
            const owner = this.#slots[slot];
            return owner === undefined || expired.has(owner) ? undefined : owner;
          });
    const firstSeen = new Map<string, number>();
    for (const c of counts) {
      const id = [c.interfaceName, c.pod.podUid ?? '', c.direction, c.networkType, c.transport].join('\u0000');
      const first = this.#firstSeen.get(id) ?? nowMs;
      firstSeen.set(id, first);
      if (nowMs - first < this.#holdMs) Object.assign(c, { packets: 0, bytes: 0, truncatedPackets: 0 });
    }
    // A series that left (its interface's retention ended) starts a new hold if its labels come back.
    this.#firstSeen = firstSeen;
    return {
      counts,
      interfaces: [...this.#attachments.values()]
        .filter((a) => !expired.has(a))
        .map((a) => ({ name: a.name, ifindex: a.ifindex, attached: a.goneAtMs === undefined, pod: a.pod })),
      attachFailures: this.#attachFailures,
    };
  }

  /** After the poll is published: the slots of interfaces whose series left are given back. */
  commit(): void {
    if (this.#expired.length === 0) return;
    const expired = this.#expired;
    this.#expired = [];
    for (const a of expired) {
      this.#takeSlot(a);
      if (this.#attachments.get(a.ifindex) === a && a.goneAtMs !== undefined) this.#attachments.delete(a.ifindex);
    }
  }

  drops(): Drops {
    return {
      program: this.program,
      eventsLost: 0,
      // tc_counts: packets of interfaces without a slot; tc_slots: interfaces that found every slot taken.
      mapFull: { tc_counts: this.#drops[TC_DROP.values.TC_DROP_COUNTS_FULL] ?? 0, tc_slots: this.#slotsRefused },
    };
  }

  mapFill(): MapFill[] {
    return [
      {
        program: this.program,
        map: 'tc_counts',
        entries: this.#slots.filter((a) => a !== undefined).length * TC_GEOMETRY.values.TC_SLOT_ENTRIES,
        capacity: this.#object.map('tc_counts').maxEntries,
      },
    ];
  }

  get object(): BpfObject {
    return this.#object;
  }

  close(): void {
    for (const a of this.#attachments.values()) for (const link of a.links) link.destroy();
    this.#object.close();
  }
}

function podOf(a: Attribution): Attribution {
  // A pod's interface is the pod's, not one container's: no container_id.
  const out: Attribution = {};
  if (a.podUid !== undefined) out.podUid = a.podUid;
  if (a.podName !== undefined) out.podName = a.podName;
  if (a.podNamespace !== undefined) out.podNamespace = a.podNamespace;
  return out;
}

function samePod(a: Attribution, b: Attribution): boolean {
  return a.podUid === b.podUid && a.podName === b.podName && a.podNamespace === b.podNamespace;
}

function slotMap(ifindex: number): 'tc_slot_near' | 'tc_slot_far' {
  return ifindex < TC_GEOMETRY.values.TC_IFINDEX_NEAR ? 'tc_slot_near' : 'tc_slot_far';
}

function u32Bytes(n: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, n, true);
  return bytes;
}

function slotBytes(slotPlusOne: number): Uint8Array {
  const bytes = new Uint8Array(TC_SLOT.size);
  new DataView(bytes.buffer).setUint32(TC_SLOT.fields.slot_plus_one.offset, slotPlusOne, true);
  return bytes;
}

/**
 * The counters of tc_counts (a per-CPU array, summed, indexes 0 on) by interface, direction, network type and
 * transport; entry index = slot * TC_SLOT_ENTRIES + class (bpf/tc.h). Classes never seen (0 packets) are left out.
 */
export function decodeTcCounts(
  snapshot: MapSnapshot,
  interfaceOf: (slot: number) => { name: string; pod: Attribution } | undefined,
): TcCount[] {
  const entries = TC_GEOMETRY.values.TC_SLOT_ENTRIES;
  const layers = NET_LAYER.values.NET_LAYER_MAX;
  const transports = NET_TRANSPORT.values.NET_TRANSPORT_MAX;
  const byKey = new Map<string, TcCount>();
  for (let i = 0; i < snapshot.count; i++) {
    const v = i * snapshot.valueSize;
    const packets = u64(snapshot.values, v + TC_VALUE.fields.packets.offset);
    if (packets === 0) continue;
    const index = snapshot.keys.getUint32(i * snapshot.keySize, true);
    const iface = interfaceOf(Math.floor(index / entries));
    // A slot no interface the agent publishes owns (a gone interface's, given back after this poll).
    if (iface === undefined) continue;
    let rest = index % entries;
    const truncated = rest % 2 === 1;
    rest = Math.floor(rest / 2);
    const transport = NETWORK_TRANSPORTS[rest % transports] ?? 'other';
    rest = Math.floor(rest / transports);
    const networkType = NETWORK_TYPES[rest % layers] ?? 'other';
    const direction = NETWORK_IO_DIRECTIONS[Math.floor(rest / layers)] ?? 'receive';
    const id = [iface.name, iface.pod.podUid ?? '', direction, networkType, transport].join('\u0000');
    let entry = byKey.get(id);
    if (entry === undefined) {
      entry = {
        interfaceName: iface.name,
        direction,
        networkType,
        transport,
        packets: 0,
        bytes: 0,
        truncatedPackets: 0,
        pod: iface.pod,
      };
      byKey.set(id, entry);
    }
    entry.packets += packets;
    entry.bytes += u64(snapshot.values, v + TC_VALUE.fields.bytes.offset);
    if (truncated) entry.truncatedPackets += packets;
  }
  return [...byKey.values()];
}

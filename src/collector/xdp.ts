// xdp: packets and bytes per interface, network layer and transport (bpf/xdp.bpf.c).
import { UserError } from '../errors.ts';
import {
  BpfObject,
  interfaceIndex,
  XDP_FLAGS_DRV_MODE,
  XDP_FLAGS_SKB_MODE,
  type Link,
  type MapSnapshot,
} from '../bpf/index.ts';
import { NET_KEY_FLAG, NET_LAYER, NET_TRANSPORT, XDP_DROP, XDP_KEY, XDP_MAP_SIZES, XDP_VALUE } from '../bpf/layouts.ts';
import { u64 } from './decode.ts';
import type { Collector, Drops, MapFill } from './types.ts';
import { silentLogger, type Logger } from '../log.ts';

/** enum net_layer and enum net_transport (bpf/net.h, shared with tc), as exported label values. */
export const NETWORK_TYPES = NET_LAYER.names;
export const NETWORK_TRANSPORTS = NET_TRANSPORT.names;
export type NetworkType = (typeof NETWORK_TYPES)[number];
export type NetworkTransport = (typeof NETWORK_TRANSPORTS)[number];

export const XDP_KEY_SIZE = XDP_KEY.size;
export const XDP_VALUE_SIZE = XDP_VALUE.size;

export type XdpMode = 'auto' | 'native' | 'generic';

export interface XdpCount {
  interfaceName: string;
  networkType: NetworkType;
  transport: NetworkTransport;
  packets: number;
  bytes: number;
  /** Of these packets, those cut short inside a header. */
  truncatedPackets: number;
}

export interface XdpInterfaceState {
  name: string;
  ifindex: number;
  /** Mode the kernel reports in effect: native, generic, … */
  mode: string;
  /** false while the interface is gone. */
  attached: boolean;
  /** Times the interface disappeared while the agent ran. */
  losses: number;
}

export interface XdpSnapshot {
  counts: XdpCount[];
  interfaces: XdpInterfaceState[];
}

export function decodeXdpCounts(snapshot: MapSnapshot, names: ReadonlyMap<number, string>): XdpCount[] {
  const byKey = new Map<string, XdpCount>();
  for (let i = 0; i < snapshot.count; i++) {
    const k = i * snapshot.keySize;
    const ifindex = snapshot.keys.getUint32(k + XDP_KEY.fields.ifindex.offset, true);
    const layer = snapshot.keys.getUint8(k + XDP_KEY.fields.layer.offset);
    const transport = snapshot.keys.getUint8(k + XDP_KEY.fields.transport.offset);
    const flags = snapshot.keys.getUint8(k + XDP_KEY.fields.flags.offset);
    const interfaceName = names.get(ifindex) ?? `ifindex${ifindex}`;
    const networkType = NETWORK_TYPES[layer] ?? 'other';
    const transportName = NETWORK_TRANSPORTS[transport] ?? 'other';
    const id = `${interfaceName}\u0000${networkType}\u0000${transportName}`;
    let entry = byKey.get(id);
    if (entry === undefined) {
      entry = { interfaceName, networkType, transport: transportName, packets: 0, bytes: 0, truncatedPackets: 0 };
      byKey.set(id, entry);
    }
    const v = i * snapshot.valueSize;
    const packets = u64(snapshot.values, v + XDP_VALUE.fields.packets.offset);
    entry.packets += packets;
    entry.bytes += u64(snapshot.values, v + XDP_VALUE.fields.bytes.offset);
    if (flags & NET_KEY_FLAG.values.NET_KEY_TRUNCATED) entry.truncatedPackets += packets;
  }
  return [...byKey.values()];
}

export interface XdpSourceOptions {
  objectPath: string;
  btfPath?: string;
  interfaces: readonly string[];
  mode: XdpMode;
  debug?: boolean;
  logger?: Logger;
}

export class XdpCollector implements Collector<XdpSnapshot> {
  readonly program = 'xdp' as const;
  readonly #object: BpfObject;
  readonly #attachments: { link: Link | undefined; state: XdpInterfaceState }[] = [];
  readonly #mode: XdpMode;
  readonly #logger: Logger;
  readonly #names = new Map<number, string>();
  #drops: number[] = [0];
  #entries = 0;

  /** Loads the program and attaches it to every interface, or throws with nothing left attached. */
  constructor(options: XdpSourceOptions) {
    this.#mode = options.mode;
    this.#logger = options.logger ?? silentLogger;
    const object = new BpfObject(options.objectPath, { btfPath: options.btfPath, debug: options.debug });
    try {
      object.expectMap('xdp_counts', XDP_MAP_SIZES.xdp_counts.keySize, XDP_MAP_SIZES.xdp_counts.valueSize);
      object.load();
      for (const name of options.interfaces) {
        const ifindex = interfaceIndex(name);
        if (ifindex === 0) throw new Error(`network interface ${name} does not exist (see ip link)`);
        const { link, mode } = attachWithMode(object, ifindex, options.mode, name);
        this.#names.set(ifindex, name);
        this.#attachments.push({ link, state: { name, ifindex, mode, attached: true, losses: 0 } });
      }
    } catch (error) {
      for (const { link } of this.#attachments) link?.destroy();
      object.close();
      throw error;
    }
    this.#object = object;
  }

  /**
   * Attached on every interface it was given. One that is gone makes the program unready until an interface of
   * that name is back and attached again: the user named it, so its loss is theirs to see (ebpf_agent_xdp_attached
   * says which; the chart's NotReady alert fires).
   */
  attached(): boolean {
    return (
      this.#attachments.length > 0 &&
      this.#attachments.every(({ link, state }) => state.attached && link?.attached === true)
    );
  }

  /**
   * An interface that disappears takes its XDP attachment with it: log it, count it, keep counting on the others,
   * and attach again when an interface of that name comes back.
   */
  #followInterfaces(): void {
    for (const attachment of this.#attachments) {
      const { state } = attachment;
      const ifindex = interfaceIndex(state.name);
      if (state.attached && ifindex !== state.ifindex) {
        attachment.link?.destroy();
        attachment.link = undefined;
        state.attached = false;
        state.losses++;
        this.#logger.warn('network interface disappeared: XDP detached from it, counting goes on elsewhere', {
          interface: state.name,
        });
      }
      if (!state.attached && ifindex !== 0) {
        try {
          const { link, mode } = attachWithMode(this.#object, ifindex, this.#mode, state.name);
          attachment.link = link;
          Object.assign(state, { ifindex, mode, attached: true });
          this.#names.set(ifindex, state.name);
          this.#logger.info('network interface is back: XDP attached again', { interface: state.name, mode });
        } catch (error) {
          this.#logger.warn('cannot attach XDP to the returning interface', {
            interface: state.name,
            error: (error as Error).message.split('\n')[0],
          });
        }
      }
    }
  }

  collect(_nowMs: number): XdpSnapshot {
    this.#followInterfaces();
    const snapshot = this.#object.readMap('xdp_counts');
    this.#entries = snapshot.count;
    this.#drops = this.#object.readCounters('xdp_drops').map(Number);
    return {
      counts: decodeXdpCounts(snapshot, this.#names),
      interfaces: this.#attachments.map(({ state }) => ({ ...state })),
    };
  }

  drops(): Drops {
    return {
      program: this.program,
      eventsLost: 0,
      mapFull: { xdp_counts: this.#drops[XDP_DROP.values.XDP_DROP_COUNTS_FULL] ?? 0 },
    };
  }

  mapFill(): MapFill[] {
    return [
      {
        program: this.program,
        map: 'xdp_counts',
        entries: this.#entries,
        capacity: this.#object.map('xdp_counts').maxEntries,
      },
    ];
  }

  get object(): BpfObject {
    return this.#object;
  }

  close(): void {
    for (const { link } of this.#attachments) link?.destroy();
    this.#object.close();
  }
}

function attachWithMode(object: BpfObject, ifindex: number, mode: XdpMode, name: string): { link: Link; mode: string } {
  if (mode === 'native') {
    try {
      return object.attachXdp('eoa_xdp', ifindex, XDP_FLAGS_DRV_MODE);
    } catch (error) {
      // EOPNOTSUPP: the driver has no XDP of its own (lo, many virtual interfaces).
      if ((error as { errno?: number }).errno === 95)
        throw new UserError(
          `--xdp-mode native: the driver of ${name} has no native XDP; use --xdp-mode generic (or auto, which falls back to it)`,
          { cause: error },
        );
      throw error;
    }
  }
  if (mode === 'generic') return object.attachXdp('eoa_xdp', ifindex, XDP_FLAGS_SKB_MODE);
  try {
    return object.attachXdp('eoa_xdp', ifindex, XDP_FLAGS_DRV_MODE);
  } catch (native) {
    // No driver support: generic XDP works on every interface.
    try {
      return object.attachXdp('eoa_xdp', ifindex, XDP_FLAGS_SKB_MODE);
    } catch (generic) {
      throw new Error(`cannot attach XDP to ${name} in native mode (${(native as Error).message}) or in generic mode`, {
        cause: generic,
      });
    }
  }
}

// The raw native module and its shape. Private to src/bpf/: everything else uses the typed classes in index.ts.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../paths.ts';

export interface RawMapInfo {
  name: string;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  perCpu: boolean;
  fd: number;
}

export interface RawProgramInfo {
  name: string;
  section: string;
  fd: number;
}

export interface RawLink {
  destroy(): void;
  readonly fd: number;
}

export interface RawNetLink {
  ifindex: number;
  name: string;
  kind: string;
  up: boolean;
  peerIfindex: number;
  peerNetnsId: number;
}

export interface RawMapRead {
  count: number;
  keys: ArrayBuffer;
  values: ArrayBuffer;
}

export interface RawBpfObject {
  maps(): RawMapInfo[];
  programs(): RawProgramInfo[];
  setMaxEntries(map: string, maxEntries: number): void;
  setGlobal(name: string, value: Uint8Array): void;
  load(): void;
  attach(program: string): RawLink;
  attachXdp(program: string, ifindex: number, flags: number): { link: RawLink; mode: string };
  attachTcx(program: string, ifindex: number, egress: boolean, first: boolean): RawLink;
  attachCpuClock(program: string, cpu: number, hz: number): RawLink;
  readMap(map: string, limit?: number): RawMapRead;
  updateElems(map: string, keys: Uint8Array, values: Uint8Array): void;
  deleteKeys(map: string, keys: Uint8Array): number;
  programInfo(program: string): { id: number; runTimeNs: number; runCount: number; verifiedInstructions: number };
  close(): void;
}

export interface RawRingBuffer {
  consume(): void;
  close(): void;
}

export interface RawAddon {
  BpfObject: new (path: string, options?: { btfPath?: string; debug?: boolean }) => RawBpfObject;
  RingBuffer: new (
    object: RawBpfObject,
    map: string,
    callback: (batch: ArrayBuffer, count: number) => void,
  ) => RawRingBuffer;
  clocks(): { boottimeNs: bigint; realtimeNs: bigint };
  mountTracefs(path: string): void;
  ifindex(name: string): number;
  ifname(ifindex: number): string | undefined;
  links(): RawNetLink[];
  netnsId(path: string): number;
  xdpQuery(ifindex: number): { progId: number; mode: number };
  numPossibleCpus(): number;
  enableRunTimeStats(): RawLink;
  libbpfVersion(): string;
  trimMalloc(): boolean;
  setMallocOption(name: string, value: number): boolean;
  dropFilePages(): number;
}

const root = packageRoot;

/** Where the addon is looked for: EBPF_OTEL_AGENT_ADDON, then the node-gyp build of this checkout. */
export function addonPath(): string {
  return process.env.EBPF_OTEL_AGENT_ADDON ?? path.join(root, 'native', 'build', 'Release', 'ebpf_addon.node');
}

let cached: RawAddon | undefined;

export function loadAddon(): RawAddon {
  if (cached !== undefined) return cached;
  const file = addonPath();
  if (!existsSync(file)) {
    throw new Error(`the native addon is not built (${file} is missing): run npm run build`);
  }
  const require = createRequire(import.meta.url);
  cached = require(file) as RawAddon;
  return cached;
}

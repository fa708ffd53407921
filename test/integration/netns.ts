// A veth pair whose far end lives in a network namespace the test creates, torn down in afterAll (and when a
// previous run left it behind). IPv6 is off on both ends so the link is silent unless the test sends.
import { execFileSync } from 'node:child_process';
import { injectPath } from './harness.ts';

export interface VethPair {
  namespace: string;
  host: string;
  peer: string;
  hostMac: string;
  peerMac: string;
  destroy(): void;
}

function run(args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function mac(args: string[]): string {
  const info = JSON.parse(run(['-j', ...args])) as { address: string }[];
  return info[0]!.address;
}

/** `hostIndex`: the host end's ifindex (a free one), for ifindexes past what an array of them would hold. */
export function createVethPair(tag: string, hostIndex?: number): VethPair {
  const namespace = `eoa-${tag}`;
  const host = `eoa${tag}h`;
  const peer = `eoa${tag}n`;
  destroy(namespace, host);
  run(['netns', 'add', namespace]);
  try {
    const index = hostIndex === undefined ? [] : ['index', String(hostIndex)];
    run(['link', 'add', host, ...index, 'type', 'veth', 'peer', 'name', peer, 'netns', namespace]);
    execFileSync('sysctl', ['-qw', `net.ipv6.conf.${host}.disable_ipv6=1`]);
    execFileSync('ip', ['netns', 'exec', namespace, 'sysctl', '-qw', `net.ipv6.conf.${peer}.disable_ipv6=1`]);
    run(['link', 'set', host, 'up']);
    run(['-n', namespace, 'link', 'set', peer, 'up']);
    run(['-n', namespace, 'link', 'set', 'lo', 'up']);
  } catch (error) {
    destroy(namespace, host);
    throw error;
  }
  return {
    namespace,
    host,
    peer,
    hostMac: mac(['link', 'show', host]),
    peerMac: mac(['-n', namespace, 'link', 'show', peer]),
    destroy: () => destroy(namespace, host),
  };
}

function destroy(namespace: string, host: string): void {
  try {
    run(['link', 'del', host]);
  } catch {
    // not there
  }
  try {
    run(['netns', 'del', namespace]);
  } catch {
    // not there
  }
}

/** Id of the XDP program attached to an interface, or undefined. */
export function xdpProgramOn(iface: string, namespace?: string): number | undefined {
  const args =
    namespace === undefined
      ? ['-d', '-j', 'link', 'show', iface]
      : ['-n', namespace, '-d', '-j', 'link', 'show', iface];
  const info = JSON.parse(run(args)) as { xdp?: { prog?: { id: number }; attached?: { prog: { id: number } }[] } }[];
  const xdp = info[0]?.xdp;
  return xdp?.prog?.id ?? xdp?.attached?.[0]?.prog.id;
}

/** rx packets and bytes of an interface. */
export function rxStats(iface: string): { packets: number; bytes: number } {
  const info = JSON.parse(run(['-s', '-j', 'link', 'show', iface])) as {
    stats64: { rx: { packets: number; bytes: number } };
  }[];
  return { packets: info[0]!.stats64.rx.packets, bytes: info[0]!.stats64.rx.bytes };
}

/** tx packets and bytes of an interface. */
export function txStats(iface: string): { packets: number; bytes: number } {
  const info = JSON.parse(run(['-s', '-j', 'link', 'show', iface])) as {
    stats64: { tx: { packets: number; bytes: number } };
  }[];
  return { packets: info[0]!.stats64.tx.packets, bytes: info[0]!.stats64.tx.bytes };
}

export interface Sent {
  packets: number;
  bytes: number;
}

/**
 * Sends crafted frames (test/helpers/inject.py) from the namespace end, so the host end receives them; or, `from`
 * 'host', from the host end into the namespace, so the host end transmits them. Returns what was sent, by kind.
 */
export function inject(veth: VethPair, spec: string, from: 'namespace' | 'host' = 'namespace'): Record<string, Sent> {
  const [iface, src, dst, srcIp, dstIp, srcIp6, dstIp6] =
    from === 'namespace'
      ? [veth.peer, veth.peerMac, veth.hostMac, '10.213.0.2', '10.213.0.1', 'fd00:213::2', 'fd00:213::1']
      : [veth.host, veth.hostMac, veth.peerMac, '10.213.0.1', '10.213.0.2', 'fd00:213::1', 'fd00:213::2'];
  const command = [
    'python3',
    injectPath,
    '--iface',
    iface,
    '--src-mac',
    src,
    '--dst-mac',
    dst,
    '--src-ip',
    srcIp,
    '--dst-ip',
    dstIp,
    '--src-ip6',
    srcIp6,
    '--dst-ip6',
    dstIp6,
    '--spec',
    spec,
  ];
  const out =
    from === 'namespace'
      ? execFileSync('ip', ['netns', 'exec', veth.namespace, ...command], { encoding: 'utf8' })
      : execFileSync(command[0]!, command.slice(1), { encoding: 'utf8' });
  return JSON.parse(out) as Record<string, Sent>;
}

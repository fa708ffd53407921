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

export function createVethPair(tag: string): VethPair {
  const namespace = `eoa-${tag}`;
  const host = `eoa${tag}h`;
  const peer = `eoa${tag}n`;
  destroy(namespace, host);
  run(['netns', 'add', namespace]);
  try {
    run(['link', 'add', host, 'type', 'veth', 'peer', 'name', peer, 'netns', namespace]);
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

export interface Sent {
  packets: number;
  bytes: number;
}

/** Sends crafted frames (test/helpers/inject.py) from the namespace end; returns what was sent, by kind. */
export function inject(veth: VethPair, spec: string): Record<string, Sent> {
  const out = execFileSync(
    'ip',
    [
      'netns',
      'exec',
      veth.namespace,
      'python3',
      injectPath,
      '--iface',
      veth.peer,
      '--src-mac',
      veth.peerMac,
      '--dst-mac',
      veth.hostMac,
      '--src-ip',
      '10.213.0.2',
      '--dst-ip',
      '10.213.0.1',
      '--src-ip6',
      'fd00:213::2',
      '--dst-ip6',
      'fd00:213::1',
      '--spec',
      spec,
    ],
    { encoding: 'utf8' },
  );
  return JSON.parse(out) as Record<string, Sent>;
}

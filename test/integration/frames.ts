// The frame kinds the network tests send (test/helpers/inject.py crafts them), with the counter each must land
// in: shared by the XDP and tc tests, so both programs are held to the same classification.

/** Every kind inject.py can craft, the counter it must land in, and how many of it to send. */
export const KINDS: { kind: string; count: number; type: string; transport: string; truncated?: boolean }[] = [
  { kind: 'udp', count: 7, type: 'ipv4', transport: 'udp' },
  { kind: 'tcp', count: 6, type: 'ipv4', transport: 'tcp' },
  { kind: 'icmp', count: 5, type: 'ipv4', transport: 'icmp' },
  { kind: 'udp6', count: 4, type: 'ipv6', transport: 'udp' },
  { kind: 'tcp6', count: 3, type: 'ipv6', transport: 'tcp' },
  { kind: 'icmp6', count: 2, type: 'ipv6', transport: 'icmpv6' },
  { kind: 'ipv6-hbh-udp', count: 3, type: 'ipv6', transport: 'udp' },
  { kind: 'ipv6-frag-udp', count: 2, type: 'ipv6', transport: 'udp' },
  { kind: 'vlan-udp', count: 4, type: 'ipv4', transport: 'udp' },
  { kind: 'qinq-udp', count: 3, type: 'ipv4', transport: 'udp' },
  { kind: 'arp', count: 2, type: 'arp', transport: 'other' },
  { kind: 'unknown', count: 3, type: 'other', transport: 'other' },
  { kind: 'trunc-ipv4', count: 2, type: 'ipv4', transport: 'other', truncated: true },
  { kind: 'trunc-ipv6', count: 2, type: 'ipv6', transport: 'other', truncated: true },
];
export const SPEC = KINDS.map((k) => `${k.kind}:${k.count}`).join(',');
export const PACKETS = KINDS.reduce((n, k) => n + k.count, 0);

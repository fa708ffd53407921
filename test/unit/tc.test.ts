// --net-interface items (names, globs, pods) and the decoding of tc_counts, without a kernel.
import { describe, expect, it } from 'vitest';
import { TC_GEOMETRY, TC_VALUE } from '../../src/bpf/layouts.ts';
import { decodeTcCounts, globToRegExp, NETWORK_IO_DIRECTIONS, parseInterfaceRules } from '../../src/collector/tc.ts';
import { UserError } from '../../src/errors.ts';

function userError(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(UserError);
    return (error as Error).message;
  }
  throw new Error('expected a UserError');
}

describe('--net-interface items', () => {
  it('takes names, globs and pods', () => {
    const rules = parseInterfaceRules(['eth0', 'pods', 'veth[0-9]*', 'lxc?', 'br[!x]']);
    expect(rules.map((r) => r.kind)).toEqual(['name', 'pods', 'glob', 'glob', 'glob']);
  });

  it.each([
    ['veth*', 'veth1a2b', true],
    ['veth*', 'eth0', false],
    ['veth[0-9]*', 'veth0', true],
    ['veth[0-9]*', 'vethx', false],
    ['lxc?', 'lxc1', true],
    ['lxc?', 'lxc12', false],
    ['br[!x]', 'bra', true],
    ['br[!x]', 'brx', false],
    ['a.b*', 'a.bc', true],
    ['a.b*', 'axbc', false],
  ])('%s matches %s: %s', (glob, name, matches) => {
    expect(globToRegExp(glob).test(name)).toBe(matches);
  });

  it.each([
    ['eth[0', /is not a valid glob: "\[" without "\]"/],
    ['eth]', /is not a valid glob: "\]" without "\["/],
    ['eth[]', /is not a valid glob/],
    ['', /empty item/],
    ['eth 0', /not an interface name or glob/],
    ['eth/0', /not an interface name or glob/],
    ['a-very-long-interface', /longer than an interface name/],
  ])('refuses %j', (item, pattern) => {
    expect(userError(() => parseInterfaceRules([item]))).toMatch(pattern);
  });
});

describe('decodeTcCounts', () => {
  it('sums entries by interface, pod, direction, type and transport; leaves out unknown slots and empty classes', () => {
    expect(NETWORK_IO_DIRECTIONS).toEqual(['receive', 'transmit']);
    expect(TC_GEOMETRY.values.TC_SLOT_ENTRIES).toBe(2 * 4 * 5 * 2);
    const index = (slot: number, direction: number, layer: number, transport: number, truncated: number) =>
      slot * TC_GEOMETRY.values.TC_SLOT_ENTRIES + ((direction * 4 + layer) * 5 + transport) * 2 + truncated;
    const entries = [
      // index, packets
      [index(0, 0, 0, 1, 0), 1],
      [index(0, 0, 0, 1, 1), 2],
      [index(0, 1, 1, 4, 1), 3],
      [index(0, 1, 0, 0, 0), 0],
      [index(1, 0, 0, 0, 0), 4],
    ];
    const keyView = new DataView(new ArrayBuffer(entries.length * 4));
    const valueView = new DataView(new ArrayBuffer(entries.length * TC_VALUE.size));
    entries.forEach(([key, packets], i) => {
      keyView.setUint32(i * 4, key!, true);
      valueView.setBigUint64(i * TC_VALUE.size + TC_VALUE.fields.packets.offset, BigInt(packets!), true);
      valueView.setBigUint64(i * TC_VALUE.size + TC_VALUE.fields.bytes.offset, BigInt(100 * packets!), true);
    });
    const pod = { podUid: 'u', podName: 'web', podNamespace: 'default' };
    const counts = decodeTcCounts(
      { count: entries.length, keys: keyView, values: valueView, keySize: 4, valueSize: TC_VALUE.size },
      (slot) => (slot === 0 ? { name: 'veth7', pod } : undefined),
    );
    expect(counts).toEqual([
      {
        interfaceName: 'veth7',
        direction: 'receive',
        networkType: 'ipv4',
        transport: 'udp',
        packets: 3,
        bytes: 300,
        truncatedPackets: 2,
        pod,
      },
      {
        interfaceName: 'veth7',
        direction: 'transmit',
        networkType: 'ipv6',
        transport: 'other',
        packets: 3,
        bytes: 300,
        truncatedPackets: 3,
        pod,
      },
    ]);
  });
});

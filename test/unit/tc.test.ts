// --net-interface items (names, globs, pods) and the decoding of tc_counts, without a kernel.
import { describe, expect, it } from 'vitest';
import { TC_KEY, TC_VALUE } from '../../src/bpf/layouts.ts';
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
  it('sums keys by interface, pod, direction, type and transport, and leaves out unknown interfaces', () => {
    expect(NETWORK_IO_DIRECTIONS).toEqual(['receive', 'transmit']);
    const keys = [
      // ifindex, direction, layer, transport, flags
      [7, 0, 0, 1, 0],
      [7, 0, 0, 1, 0],
      [7, 1, 1, 4, 1],
      [9, 0, 0, 0, 0],
    ];
    const keyView = new DataView(new ArrayBuffer(keys.length * TC_KEY.size));
    const valueView = new DataView(new ArrayBuffer(keys.length * TC_VALUE.size));
    keys.forEach(([ifindex, direction, layer, transport, flags], i) => {
      const k = i * TC_KEY.size;
      keyView.setUint32(k + TC_KEY.fields.ifindex.offset, ifindex!, true);
      keyView.setUint8(k + TC_KEY.fields.direction.offset, direction!);
      keyView.setUint8(k + TC_KEY.fields.layer.offset, layer!);
      keyView.setUint8(k + TC_KEY.fields.transport.offset, transport!);
      keyView.setUint8(k + TC_KEY.fields.flags.offset, flags!);
      valueView.setBigUint64(i * TC_VALUE.size + TC_VALUE.fields.packets.offset, BigInt(i + 1), true);
      valueView.setBigUint64(i * TC_VALUE.size + TC_VALUE.fields.bytes.offset, BigInt(100 * (i + 1)), true);
    });
    const pod = { podUid: 'u', podName: 'web', podNamespace: 'default' };
    const counts = decodeTcCounts(
      { count: keys.length, keys: keyView, values: valueView, keySize: TC_KEY.size, valueSize: TC_VALUE.size },
      (ifindex) => (ifindex === 7 ? { name: 'veth7', pod } : undefined),
    );
    expect(counts).toEqual([
      {
        interfaceName: 'veth7',
        direction: 'receive',
        networkType: 'ipv4',
        transport: 'udp',
        packets: 3,
        bytes: 300,
        truncatedPackets: 0,
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
